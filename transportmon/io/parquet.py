"""(Geo)Parquet files as :func:`transportmon.io.read.read_table` reads them, in two steps that can run apart.

:func:`parquet_table` reads a plain table (not GeoParquet) in narrow types (:mod:`transportmon.io.narrow`) with
Arrow alone, so :mod:`transportmon.io.ahead` can run it on a second thread; :func:`parquet_frame` converts it to
the frame, or reads any other Parquet file with pandas and GeoPandas.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .. import layers as _layers
from .._errors import InputError
from .narrow import decode_narrow, narrow_frame, read_narrow

__all__ = ["parquet_frame", "parquet_plan", "parquet_table"]


def parquet_plan(path: Path, dictionary: tuple[str, ...] = ()) -> tuple[pa.Schema, list[str], list[str]]:
    """The file's schema, the contract name of each column (aliases resolved) and the text columns to read as
    dictionaries (categorical): Parquet stores text of few distinct values so, and validation then works on the
    distinct values. Plain Python and Arrow (no pandas): :mod:`transportmon.io.ahead` runs it on a second thread."""
    schema = pq.read_schema(path)
    names = list(schema.names)
    renamed = _layers.alias_mapping(names)
    contract = [renamed.get(name, name) for name in names]
    wanted = [name for name, key in zip(names, contract)
              if key in dictionary and (pa.types.is_string(schema.field(name).type)
                                        or pa.types.is_large_string(schema.field(name).type))]
    return schema, contract, wanted


def parquet_table(path: Path, dictionary: tuple[str, ...] = ()) -> pa.Table | None:
    """The table :func:`parquet_frame` makes its frame of when it reads a plain table in narrow types (no
    GeoParquet, unique column names, something to narrow, every value fitting), else None. Arrow only: read on a
    second thread by :mod:`transportmon.io.ahead`, converted by :func:`parquet_frame`."""
    schema, contract, wanted = parquet_plan(path, dictionary)
    if b"geo" in (schema.metadata or {}) or len(set(schema.names)) != len(schema.names):
        return None
    return decode_narrow(path, schema, contract, wanted)


def parquet_frame(path: Path, dictionary: tuple[str, ...] = (),
                  table: pa.Table | None = None) -> gpd.GeoDataFrame | pd.DataFrame:
    """The frame of a (Geo)Parquet file as :func:`transportmon.io.read.read_table` takes it, or of its ``table`` read
    ahead by :func:`parquet_table`; an :class:`InputError` when it cannot be read."""
    if table is not None:  # read ahead (parquet_table): only its conversion is left
        try:
            return narrow_frame(table)
        except Exception as exc:
            raise InputError(path, f"not a readable (Geo)Parquet file ({exc})",
                             "write it with GeoDataFrame.to_parquet") from exc
    try:
        schema, contract, wanted = parquet_plan(path, dictionary)
        meta = schema.metadata or {}
    except Exception as exc:
        raise InputError(path, f"not a readable Parquet file ({exc})", "write it again with pandas/GeoPandas") from exc
    try:
        if b"geo" in meta:
            return gpd.read_parquet(path)
        # int64 counts read narrower (io/narrow.py); None when that cannot apply.
        narrow = read_narrow(path, schema, contract, wanted) if len(set(schema.names)) == len(schema.names) else None
        if narrow is not None:
            return narrow
        return pd.read_parquet(path, read_dictionary=wanted) if wanted else pd.read_parquet(path)
    except Exception as exc:
        raise InputError(path, f"not a readable (Geo)Parquet file ({exc})",
                         "write it with GeoDataFrame.to_parquet") from exc
