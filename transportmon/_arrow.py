"""Column helpers on Apache Arrow arrays: joins by value, list columns, JSON text — for millions of rows.

Nothing here builds a Python object per row: lookups are ``pyarrow.compute`` kernels, list columns are Arrow
``ListArray`` s wrapped in pandas (``pd.ArrowDtype``; a cell still reads as a Python list), and JSON text is
assembled column-wise.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: Keys of one finding, in contract order (DESIGN §4).
FINDING_KEYS = ("finding_id", "rule_id", "severity", "message_zh", "message_en")
#: Type of the report's ``findings`` column.
FINDING_TYPE = pa.struct([(k, pa.string()) for k in FINDING_KEYS])
FINDINGS_TYPE = pa.list_(FINDING_TYPE)
STOPS_TYPE = pa.list_(pa.string())


def arrow(values: Any, type_: pa.DataType | None = None) -> pa.Array:
    """One contiguous Arrow array of a Series, an extension array, a numpy array or a list (zero-copy when it can)."""
    if isinstance(values, (pd.Series, pd.Index)):
        values = values.array
    if isinstance(values, pa.ChunkedArray):
        arr = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    elif isinstance(values, pa.Array):
        arr = values
    elif isinstance(values, pd.arrays.ArrowExtensionArray):  # pandas' Arrow-backed arrays: their data, no copy
        chunked = values.__arrow_array__()
        arr = chunked.combine_chunks() if chunked.num_chunks != 1 else chunked.chunk(0)
    elif isinstance(values, pd.Categorical):  # through a dictionary: the categories are converted once
        codes = values.codes
        arr = pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0),
                                             arrow(np.asarray(values.categories, dtype=object))).dictionary_decode()
    else:
        arr = pa.array(np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values,
                       from_pandas=True)
    if type_ is not None and arr.type != type_:
        arr = arr.cast(type_)
    return arr


def text(values: Any) -> pa.Array:
    """Values as an Arrow ``string`` array (``large_string`` and dictionaries decoded; nulls kept)."""
    arr = arrow(values)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if not pa.types.is_string(arr.type):
        arr = arr.cast(pa.string())
    return arr


def index_in(values: Any, keys: Any) -> np.ndarray:
    """Position of each value in ``keys`` (first occurrence), ``-1`` where absent or null; a hash join, not ``isin``."""
    if not len(values):
        return np.zeros(0, dtype=np.int64)
    pos = pc.index_in(text(values), value_set=text(keys))
    return pos.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)


def distinct_runs(values: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct sequences among the runs of an integer array (run ``i``: ``values[bounds[i]:bounds[i + 1]]``),
    found by one Arrow hash over each run's bytes: each run's sequence number (in order of first appearance), and
    the distinct sequences as bounds (from 0) into their concatenated values. Used for trips' stop patterns and
    itineraries: millions of runs, a few thousand distinct."""
    values = np.ascontiguousarray(values)
    size = values.dtype.itemsize
    n = len(bounds) - 1
    keys = pa.LargeBinaryArray.from_buffers(pa.large_binary(), n, [
        None, pa.py_buffer(np.asarray(bounds, dtype=np.int64) * size), pa.py_buffer(values)])
    encoded = pc.dictionary_encode(keys)
    del keys
    runs = encoded.dictionary
    at = np.frombuffer(runs.buffers()[1], dtype=np.int64)[runs.offset:runs.offset + len(runs) + 1] // size
    data = runs.buffers()[2]
    flat = (np.frombuffer(data, dtype=values.dtype, count=int(at[-1]))[at[0]:] if data is not None and at[-1]
            else np.zeros(0, dtype=values.dtype))
    return encoded.indices.to_numpy(), at - at[0], flat


def list_column(offsets: np.ndarray, values: pa.Array, type_: pa.DataType | None = None) -> pd.arrays.ArrowExtensionArray:
    """A pandas list column from offsets (``len = rows + 1``) into ``values``."""
    arr = pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32, copy=False)), values)
    if type_ is not None and arr.type != type_:
        arr = arr.cast(type_)
    return pd.arrays.ArrowExtensionArray(arr)


def offsets_of(group: np.ndarray, n: int) -> np.ndarray:
    """Offsets of ``n`` consecutive groups, given the (sorted) group number of each element."""
    return np.r_[0, np.cumsum(np.bincount(group, minlength=n))].astype(np.int64)


_ESCAPES = (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"), ("\b", "\\b"), ("\f", "\\f"))
_CONTROL = "[\\x00-\\x1f]"
_NEEDS_ESCAPE = '["\\\\\\x00-\\x1f]'


def json_strings(values: Any) -> pa.Array:
    """Each value as a JSON string literal exactly as ``json.dumps(v, ensure_ascii=False)`` writes it; null → ``null``."""
    arr = text(values)
    out = arr
    if pc.any(pc.match_substring_regex(out, _NEEDS_ESCAPE)).as_py():  # rare: one scan decides
        for raw, escaped in _ESCAPES:
            out = pc.replace_substring(out, raw, escaped)
        if pc.any(pc.match_substring_regex(out, _CONTROL)).as_py():  # other control characters: \u00XX
            fixed = [None if v is None else json.dumps(v, ensure_ascii=False)[1:-1] for v in arr.to_pylist()]
            out = pa.array(fixed, pa.string())
    return pc.fill_null(pc.binary_join_element_wise('"', out, '"', ""), "null")


def json_list_of_strings(column: Any) -> pa.Array:
    """A list<string> column as JSON text (``["a", "b"]``), null → ``null``."""
    arr = arrow(column)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    values = json_strings(arr.values if arr.offset == 0 else arr.flatten())
    return _join_lists(arr, values)


def json_findings(column: Any) -> pa.Array:
    """The ``findings`` list<struct> column as JSON text, keys in :data:`FINDING_KEYS` order, then ``waiver``
    (``{"document": …, "valid_until": …}``) on the findings that have one (none: no key)."""
    arr = arrow(column)
    flat = arr.flatten()  # honours the list offsets, also of a list array built on a slice of its values
    parts: list[Any] = []
    for i, name in enumerate(FINDING_KEYS):
        parts += [("{" if i == 0 else ", ") + f'"{name}": ', json_strings(flat.field(name))]
    element = pc.binary_join_element_wise(*parts, json_waiver(flat), "}", "")
    return _join_lists(arr, element)


def json_waiver(findings: pa.StructArray) -> pa.Array | str:
    """The ``, "waiver": {…}`` tail of each finding's JSON (issue 14 waivers): empty text where a finding has no
    waiver, and for every finding of a struct without the field."""
    if not pa.types.is_struct(findings.type) or findings.type.get_field_index("waiver") < 0:
        return ""
    waiver = findings.field("waiver")
    tail = pc.binary_join_element_wise(', "waiver": {"document": ', json_strings(waiver.field("document")),
                                       ', "valid_until": ', json_strings(waiver.field("valid_until")), "}", "")
    return pc.if_else(waiver.is_valid(), tail, pa.scalar("", pa.string()))


def _join_lists(lists: pa.ListArray, elements: pa.Array) -> pa.Array:
    offsets = lists.offsets.to_numpy().astype(np.int64)
    offsets = offsets - offsets[0]
    lengths = np.diff(offsets)
    if lengths.max(initial=0) <= 1:  # one element or none per list (a trip's one finding): no list kernel needed
        pick = np.where(lengths == 1, offsets[:-1], len(elements))
        one = pa.concat_arrays([elements.cast(pa.string()), pa.array([None], pa.string())]).take(pa.array(pick))
        out = pc.fill_null(pc.binary_join_element_wise("[", one, "]", ""), "[]")
    else:
        rebuilt = pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), elements)
        out = pc.binary_join_element_wise("[", pc.binary_join(rebuilt, ", "), "]", "")
    return pc.if_else(lists.is_null(), pa.scalar("null"), out)
