"""(Geo)Parquet files as :func:`transportmon.io.read.read_table` reads them, in two steps that can run apart.

:func:`parquet_ids` reads the id columns of a plain table (not GeoParquet) in narrow types
(:mod:`transportmon.io.narrow`) with Arrow alone, so :mod:`transportmon.io.ahead` can run it on a second thread;
:func:`parquet_frame` reads the rest and makes the frame, or reads any other Parquet file with pandas and GeoPandas.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .. import layers as _layers
from .._errors import InputError
from .narrow import decode_columns, decode_narrow, narrow_frame

__all__ = ["parquet_frame", "parquet_ids", "parquet_plan", "parquet_wide"]


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


def parquet_ids(path: Path, dictionary: tuple[str, ...], ids: tuple[str, ...]) -> pa.Table | None:
    """The text columns named ``ids`` (contract names) of a plain Parquet table (no GeoParquet, unique column
    names, something to read narrower), read alone as :func:`parquet_frame` would read them, else None. Arrow only:
    read on a second thread by :mod:`transportmon.io.ahead` (ids live as long as the layer: only memory that lives
    on is taken there), and handed to :func:`parquet_frame`, which reads the other columns."""
    schema, contract, wanted = parquet_plan(path, dictionary)
    if b"geo" in (schema.metadata or {}) or len(set(schema.names)) != len(schema.names):
        return None
    names = [name for name, key in zip(schema.names, contract) if key in ids and name not in wanted
             and pa.types.is_large_string(schema.field(name).type)]
    return decode_columns(path, schema, contract, wanted, names)


def parquet_whole(path: Path, dictionary: tuple[str, ...], ids: pa.Table) -> pa.Table | None:
    """The whole table as :func:`parquet_frame` reads it before pandas converts it: ``ids`` (:func:`parquet_ids`)
    with the other columns decoded; None when :func:`parquet_frame` would not read it so. Arrow only, for the second
    thread (:mod:`transportmon.io.ahead`): the main thread then only converts it."""
    schema, contract, wanted = parquet_plan(path, dictionary)
    return decode_narrow(path, schema, contract, wanted, ids)


def parquet_wide(path: Path, names: tuple[str, ...], batch_rows: int = 1 << 16) -> dict[str, np.ndarray]:
    """The whole-number columns named ``names`` (contract names) of a Parquet file as int64 arrays, read batch by
    batch (no temporary of a whole column); a column with a missing value is left out. Arrow and numpy only: made
    on a second thread by :mod:`transportmon.io.ahead` for validation, which takes an array only when it equals
    the column it validates (:func:`~transportmon.layers.cells.ints_fast`)."""
    schema, contract, _ = parquet_plan(path)
    if len(set(schema.names)) != len(schema.names):
        return {}
    columns = {key: name for name, key in zip(schema.names, contract) if key in names and (
        pa.types.is_signed_integer(schema.field(name).type)
        or (pa.types.is_unsigned_integer(schema.field(name).type) and schema.field(name).type.bit_width <= 32))}
    if not columns:
        return {}
    parquet = pq.ParquetFile(path)
    out = {key: np.empty(parquet.metadata.num_rows, dtype=np.int64) for key in columns}
    offset = 0
    for batch in parquet.iter_batches(batch_size=batch_rows, columns=list(columns.values())):
        for key, name in columns.items():
            values = batch.column(name)
            if key in out and values.null_count:
                del out[key]
            elif key in out:
                out[key][offset:offset + len(values)] = values.to_numpy()
        offset += batch.num_rows
    return out if offset == parquet.metadata.num_rows else {}


def parquet_frame(path: Path, dictionary: tuple[str, ...] = (),
                  ids: pa.Table | None = None) -> gpd.GeoDataFrame | pd.DataFrame:
    """The frame of a (Geo)Parquet file as :func:`transportmon.io.read.read_table` takes it; an :class:`InputError`
    when it cannot be read. ``ids``: some of its columns read already (:func:`parquet_ids`), taken as they are."""
    try:
        schema, contract, wanted = parquet_plan(path, dictionary)
        meta = schema.metadata or {}
    except Exception as exc:
        raise InputError(path, f"not a readable Parquet file ({exc})", "write it again with pandas/GeoPandas") from exc
    try:
        if b"geo" in meta:
            return gpd.read_parquet(path)
        # int64 counts read narrower (io/narrow.py); None when that cannot apply.
        if len(set(schema.names)) == len(schema.names):
            table = decode_narrow(path, schema, contract, wanted, ids)
            if table is not None:
                return narrow_frame(table)
        return pd.read_parquet(path, read_dictionary=wanted) if wanted else pd.read_parquet(path)
    except Exception as exc:
        raise InputError(path, f"not a readable (Geo)Parquet file ({exc})",
                         "write it with GeoDataFrame.to_parquet") from exc
