"""Read a plain Parquet table in narrower Arrow types: the fast path of :func:`transportmon.io.read.read_table`.

A table written the ordinary way (``df.to_parquet()`` from pandas) has int64 numbers and ``large_string`` text. Ten
million stop_times rows then take ~1 GB once decoded, and on a virtual machine the first touch of that much fresh
memory costs more than the decoding. Here the whole-number contract columns are cast to the narrow type their
values need (``pickup``/``dropoff`` int8, ``stop_sequence``/``seats``/``passengers`` int32), row group by row group
while Parquet decodes them (``pyarrow.parquet.read_table(schema=...)``), so the wide columns are never held whole.
Text stays ``large_string``: pandas keeps its ``str`` columns so, and converts ``string`` (32-bit offsets) by copying
every offset, which at ten million ids costs more than the narrower read saves. The casts are checked: a value that
does not fit (a seat count of 3e9) makes :func:`read_narrow` return None and the caller reads the file's own types,
which validation then judges as before. The frame is otherwise what ``pandas.read_parquet`` gives (text as pandas' ``str`` dtype,
dictionaries as categoricals, the index of the pandas metadata); ``tests/test_read_narrow.py`` compares the two.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

#: The narrow type of each whole-number contract column (Parquet stores what pandas had: usually int64).
NARROW_INTS: dict[str, pa.DataType] = {
    "stop_sequence": pa.int32(), "pickup": pa.int8(), "dropoff": pa.int8(),
    "seats": pa.int32(), "passengers": pa.int32(),
}

#: Arrow types whose conversion to pandas is the same here as in ``pandas.read_parquet``; a table with any other
#: column type (dates, timestamps, floats, nested values) is left to pandas.
_PLAIN = (pa.types.is_integer, pa.types.is_boolean, pa.types.is_string, pa.types.is_large_string)


def _is_plain(type_: pa.DataType) -> bool:
    return any(check(type_) for check in _PLAIN)


def narrow_schema(schema: pa.Schema, keys: list[str], dictionary: list[str]) -> pa.Schema | None:
    """The schema to read ``schema`` in: ``keys`` are the contract names of its columns (aliases resolved),
    ``dictionary`` the file's column names to read as dictionaries. None when nothing would be narrower, or when a
    column is of a type this path does not convert (the caller reads with pandas then)."""
    fields, changed = [], False
    for field, key in zip(schema, keys):
        type_ = field.type
        if not _is_plain(type_):
            return None
        if field.name in dictionary and (pa.types.is_string(type_) or pa.types.is_large_string(type_)):
            new = pa.dictionary(pa.int32(), pa.string())
        elif key in NARROW_INTS and pa.types.is_integer(type_) and type_.bit_width > NARROW_INTS[key].bit_width:
            new = NARROW_INTS[key]
        else:
            new = type_
        changed |= new != type_
        fields.append(field.with_type(new))
    return pa.schema(fields, metadata=schema.metadata) if changed else None


def _pandas_type(type_: pa.DataType) -> object:
    """Text as pandas' default ``str`` dtype, as ``pandas.read_parquet`` gives it; other types Arrow's default."""
    if pa.types.is_string(type_) or pa.types.is_large_string(type_):
        return pd.api.types.pandas_dtype("str")
    return None


def decode_narrow(path: Path, schema: pa.Schema, keys: list[str], dictionary: list[str],
                  have: pa.Table | None = None) -> pa.Table | None:
    """The Parquet file at ``path`` (whose schema is ``schema``) as an Arrow table in the narrow types of
    :func:`narrow_schema`; None when there is nothing to narrow or a value does not fit its narrow type. ``have``:
    some of its columns read so already (by :func:`decode_narrow` too, with ``columns``), taken as they are. Arrow
    only (no pandas): :mod:`transportmon.io.ahead` runs it on a second thread."""
    target = narrow_schema(schema, keys, dictionary)
    if target is None:
        return None
    names = [name for name in target.names if have is None or name not in have.column_names]
    if have is not None and not names and have.schema.names == target.names:  # read whole already
        return have
    try:
        table = pq.read_table(path, schema=target, columns=names if have is not None else None,
                              read_dictionary=[n for n in dictionary if n in names] or None)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # a value too large for its narrow type: read it wide
        return None
    if have is None:
        return table
    columns = [have.column(n) if n in have.column_names else table.column(n) for n in target.names]
    fields = [have.field(n) if n in have.column_names else table.field(n) for n in target.names]
    return pa.Table.from_arrays(columns, schema=pa.schema(fields, metadata=table.schema.metadata))


def decode_columns(path: Path, schema: pa.Schema, keys: list[str], dictionary: list[str],
                   columns: list[str]) -> pa.Table | None:
    """The file's ``columns`` alone, as :func:`decode_narrow` reads them; None when it would read none narrow."""
    target = narrow_schema(schema, keys, dictionary)
    if target is None or not columns:
        return None
    return pq.read_table(path, schema=target, columns=columns)


def narrow_frame(table: pa.Table) -> pd.DataFrame:
    """A table from :func:`decode_narrow` as the DataFrame ``pandas.read_parquet`` would give (the table is used up)."""
    return table.to_pandas(types_mapper=_pandas_type, split_blocks=True, self_destruct=True)


def read_narrow(path: Path, schema: pa.Schema, keys: list[str], dictionary: list[str]) -> pd.DataFrame | None:
    """The Parquet file at ``path`` (whose schema is ``schema``) as a DataFrame in the narrow types of
    :func:`narrow_schema`; None when there is nothing to narrow or a value does not fit its narrow type."""
    table = decode_narrow(path, schema, keys, dictionary)
    return None if table is None else narrow_frame(table)
