"""Flat columns derived from the report for the desk formats (xlsx, GeoPackage, CSV): what a clerk filters on.

- ``lon``/``lat`` of point subjects (empty for lines and for rows without geometry), rounded as in the GeoJSON;
- ``rule_ids``: the rule ids of a subject's findings joined (``TM101, TM110``);
- the *main* finding's message in one language: the first of the most severe findings (findings are ordered by
  rule id), the one that says what to do;
- the findings in full as readable text, one line per finding (``TM101 违规：…``).

Each is computed column-wise on the Arrow ``findings`` list column (no Python object per finding); a ``findings``
column of Python lists (a report read back from GeoJSON) is converted once.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from .._arrow import arrow, offsets_of
from .encode import COORD_DECIMALS

#: Severities from the most to the least pressing; the main finding is the first of the most pressing.
SEVERITY_ORDER = ("violation", "warning", "info", "waived")

#: Severity words in each language.
SEVERITY_WORDS = {
    "zh": {"violation": "违规", "warning": "警告", "info": "提示", "waived": "已豁免"},
    "en": {"violation": "violation", "warning": "warning", "info": "info", "waived": "waived"},
}

#: Fields of a finding shown as its line of text; any other field (``finding_id``, ``waiver`` …) is appended.
_LINE_FIELDS = ("rule_id", "severity", "message_zh", "message_en")


def lon_lat(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(lon, lat)`` of each point geometry (NaN for other geometries, empty or missing ones)."""
    geoms = np.asarray(geoms, dtype=object)
    lon = np.full(len(geoms), np.nan)
    lat = np.full(len(geoms), np.nan)
    point = (shapely.get_type_id(geoms) == 0) & ~shapely.is_empty(geoms)
    if point.any():
        lon[point] = np.round(shapely.get_x(geoms[point]), COORD_DECIMALS)
        lat[point] = np.round(shapely.get_y(geoms[point]), COORD_DECIMALS)
    return lon, lat


def findings_array(column: pd.Series) -> pa.ListArray:
    """The ``findings`` column as one Arrow list<struct> array (null where a row has none)."""
    dtype = column.dtype
    if isinstance(dtype, pd.ArrowDtype) and pa.types.is_list(dtype.pyarrow_dtype):
        arr = arrow(column)
    else:  # Python lists of dicts (a report read from GeoJSON), numpy arrays of dicts (from Parquet without Arrow)
        values = [list(v) if isinstance(v, (list, tuple, np.ndarray)) else None for v in column.to_numpy(dtype=object)]
        arr = pa.array(values) if any(v for v in values) else pa.array(
            values, pa.list_(pa.struct([(f, pa.string()) for f in _LINE_FIELDS])))
    if pa.types.is_large_list(arr.type):
        arr = arr.cast(pa.list_(arr.type.value_type))
    return arr


class Findings:
    """The derived columns of one ``findings`` column (see the module docstring)."""

    def __init__(self, column: pd.Series) -> None:
        self.lists = findings_array(column)
        self.n = len(self.lists)
        self.flat = self.lists.flatten()
        self.parents = pc.list_parent_indices(self.lists).to_numpy(zero_copy_only=False).astype(np.int64)
        self.offsets = offsets_of(self.parents, self.n)

    def _field(self, name: str) -> pa.Array:
        if not len(self.flat) or name not in [f.name for f in self.flat.type]:
            return pa.nulls(len(self.flat), pa.string())
        values = self.flat.field(name)
        return values if pa.types.is_string(values.type) else values.cast(pa.string())

    def _per_row(self, elements: pa.Array, sep: str) -> pa.Array:
        """Each row's elements joined by ``sep`` (``""`` for a row without findings)."""
        rebuilt = pa.ListArray.from_arrays(pa.array(self.offsets.astype(np.int32)), elements)
        return pc.binary_join(rebuilt, sep)

    def rule_ids(self) -> pa.Array:
        """``TM101, TM110`` per row."""
        return self._per_row(pc.fill_null(self._field("rule_id"), ""), ", ")

    def main_index(self) -> np.ndarray:
        """Position in :attr:`flat` of each row's main finding (-1 for a row without findings)."""
        rank = pc.index_in(self._field("severity"), value_set=pa.array(SEVERITY_ORDER))
        rank = rank.fill_null(len(SEVERITY_ORDER)).to_numpy(zero_copy_only=False).astype(np.int64)
        position = np.arange(len(self.parents))
        order = np.lexsort((position, rank, self.parents))
        first = np.ones(len(order), dtype=bool)
        first[1:] = self.parents[order][1:] != self.parents[order][:-1]
        out = np.full(self.n, -1, dtype=np.int64)
        out[self.parents[order][first]] = order[first]
        return out

    def main_message(self, lang: str) -> pa.Array:
        """The main finding's message in ``lang`` (null for a row without findings)."""
        return self._take(self._field(f"message_{lang}"), self.main_index())

    def main_severity(self) -> pa.Array:
        """The main finding's severity (null for a row without findings)."""
        return self._take(self._field("severity"), self.main_index())

    @staticmethod
    def _take(values: pa.Array, index: np.ndarray) -> pa.Array:
        return values.take(pa.array(index, mask=index < 0))

    def text(self, lang: str) -> pa.Array:
        """Every finding as a line ``TM101 违规：message`` (``TM101 violation: message`` in English), joined by
        newlines; fields beyond rule id, severity and messages follow as JSON."""
        words = SEVERITY_WORDS[lang]
        severity = self._field("severity")
        known = pa.array(list(words))
        pos = pc.index_in(severity, value_set=known)
        worded = pc.if_else(pc.is_null(pos), severity, pa.array(list(words.values())).take(pos))
        colon = "：" if lang == "zh" else ": "
        line = pc.binary_join_element_wise(pc.fill_null(self._field("rule_id"), ""), " ",
                                           pc.fill_null(worded, ""), colon,
                                           pc.fill_null(self._field(f"message_{lang}"), ""), "")
        extra = [f.name for f in self.flat.type if f.name not in _LINE_FIELDS and f.name != "finding_id"] if len(
            self.flat) else []
        if extra:  # rare (a waiver): per finding, in Python
            rows = self.flat.to_pylist()
            tails = [" " + json.dumps({k: r[k] for k in extra if r.get(k) is not None}, ensure_ascii=False,
                                      default=str) if any(r.get(k) is not None for k in extra) else "" for r in rows]
            line = pc.binary_join_element_wise(line, pa.array(tails, pa.string()), "")
        return self._per_row(line, "\n")


def list_text(column: pd.Series, sep: str = ", ") -> pa.Array:
    """A list<string> column (``risk_stops``) as text joined by ``sep``; null where a row has no list."""
    dtype = column.dtype
    if isinstance(dtype, pd.ArrowDtype) and pa.types.is_list(dtype.pyarrow_dtype):
        arr = arrow(column)
    else:
        arr = pa.array([[str(x) for x in v] if isinstance(v, (list, tuple, np.ndarray)) else None
                        for v in column.to_numpy(dtype=object)], pa.list_(pa.string()))
    return pc.binary_join(arr, sep)


def to_python(values: Any) -> list[Any]:
    """A column as Python values for a spreadsheet cell: NaN and NA → None, numpy scalars → Python."""
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values.to_pylist()
    series = pd.Series(values) if not isinstance(values, pd.Series) else values
    dtype = series.dtype
    if pd.api.types.is_float_dtype(dtype) and not isinstance(dtype, pd.ArrowDtype):
        arr = series.to_numpy(dtype=np.float64, na_value=np.nan)
        out: list[Any] = arr.tolist()
        if np.isnan(arr).any() or np.isinf(arr).any():
            bad = ~np.isfinite(arr)
            for i in np.flatnonzero(bad):
                out[i] = None
        return out
    if isinstance(dtype, pd.api.extensions.ExtensionDtype):  # Arrow text, Int64: through Arrow, nulls → None
        return pa.array(series.array, from_pandas=True).to_pylist()
    return [None if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and not np.isfinite(v))
            else v.item() if isinstance(v, np.generic) else v for v in series.to_numpy(dtype=object)]
