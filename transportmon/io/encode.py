"""Report columns encoded column-wise, shared by every writer: JSON text of each value (GeoJSON properties, CSV and
GeoPackage text columns, xlsx cells), flat columns for the formats that cannot nest, and the coordinate precision.

No Python object per value on the common dtypes: Arrow kernels over whole columns.
"""

from __future__ import annotations

import json
import math
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import _arrow

#: Decimals of degrees kept in coordinates (1e-7° ≈ 1 cm).
COORD_DECIMALS = 7

def clean_json(value: Any) -> Any:
    """JSON-ready value: NA → None, numpy scalars → Python, NaN/inf → None, timestamps → ISO date."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (list, tuple)):
        return [clean_json(v) for v in value]
    if isinstance(value, dict):
        return {k: clean_json(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [clean_json(v) for v in value.tolist()]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return None if not math.isfinite(f) else f
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    return value


#: Features encoded per batch: bounds the memory of the text while amortising the Arrow calls.
BATCH_ROWS = 65_536


def json_values(column: pd.Series) -> pa.Array:
    """Each value of a report column as JSON text, exactly as ``json.dumps(clean_json(v), ensure_ascii=False)``.

    Column-wise for the report's dtypes (Arrow text and lists, integers, floats, booleans); a column of arbitrary
    Python objects falls back to ``json.dumps`` per value (and raises ``TypeError`` on what JSON cannot hold).
    """
    dtype = column.dtype
    n = len(column)
    if isinstance(dtype, pd.ArrowDtype) and pa.types.is_list(dtype.pyarrow_dtype):
        if pa.types.is_struct(dtype.pyarrow_dtype.value_type):
            return _arrow.json_findings(column)
        return _arrow.json_list_of_strings(column)
    if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        return _arrow.json_strings(column)
    if pd.api.types.is_bool_dtype(dtype) and not isinstance(dtype, pd.api.extensions.ExtensionDtype):
        return pa.array(np.where(column.to_numpy(), "true", "false"), pa.string())
    if pd.api.types.is_integer_dtype(dtype):
        return pc.fill_null(pa.array(column.array, from_pandas=True).cast(pa.string()), "null") if isinstance(
            dtype, pd.api.extensions.ExtensionDtype) else pa.array(column.to_numpy()).cast(pa.string())
    if pd.api.types.is_float_dtype(dtype):
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        codes, uniques = pd.factorize(values)  # NaN gets -1
        words = [repr(float(x)) if math.isfinite(x) else "null" for x in uniques]
        return pa.array(words + ["null"], pa.string()).take(pa.array(np.where(codes < 0, len(words), codes)))
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return _arrow.json_strings(pd.Series(column.dt.strftime("%Y-%m-%d")))
    return pa.array([json.dumps(clean_json(v), ensure_ascii=False) for v in column.to_numpy(dtype=object)]
                    if n else [], pa.string())


def text_of(arr: pa.Array) -> str:
    """The concatenated text of a string array (one buffer copy, no Python string per element)."""
    if not len(arr):
        return ""
    arr = arr.cast(pa.large_string()) if arr.type != pa.large_string() else arr
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset: arr.offset + len(arr) + 1]
    data = arr.buffers()[2]
    return bytes(memoryview(data)[int(offsets[0]): int(offsets[-1])]).decode("utf-8")


def flat_columns(report: gpd.GeoDataFrame) -> pd.DataFrame:
    """Columns a CSV file can hold: ``findings`` and ``risk_stops`` as JSON text (null where a subject has no
    ``risk_stops``), encoded column-wise."""
    out = report.copy()
    for col in ("findings", "risk_stops"):
        values = json_values(out[col])
        if col == "risk_stops":
            values = pc.if_else(pc.equal(values, "null"), pa.scalar(None, pa.string()), values)
        out[col] = pd.Series(pd.array(values.cast(pa.large_string()), dtype="str"), index=out.index)
    return out
