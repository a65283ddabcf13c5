"""Row numbers as the user's own program shows them, so that a rejected row can be found in the file.

One meaning everywhere (``source_row`` of a rejected subject, the row in ``transportmon validate``, the TM9xx
messages, ``duplicate-id`` details such as "same id as row 7"):

- **CSV / text tables**: the line of the file where the record starts, 1-based, as a text editor numbers lines —
  the header line, title lines above it and blank lines all count (the first record under a header on line 1 is
  row 2); a quoted cell spanning lines moves the following records down accordingly;
- **Excel workbooks**: the sheet's row number as Excel and WPS show it (title rows and blank rows counted);
- **vector formats and Parquet**: the feature's (row's) 1-based position in the file.

The readers (:mod:`transportmon.io.read`) put the numbers of tables in a column :data:`SOURCE_ROW` of the frame,
which rides along through validation; a frame without it (vector formats, Parquet, frames made in code) is numbered
by position, ``row + 1``. ``row`` itself stays the 0-based position in the parsed frame: the key that keeps rejected
rows and their findings together.
"""

from __future__ import annotations

import codecs
import os

import numpy as np
import pandas as pd

__all__ = ["SOURCE_ROW", "first_occurrence", "record_lines", "rejected_rows", "source_rows"]

#: The column holding each row's number as the user sees it (tables only).
SOURCE_ROW = "_source_row"

_BLOCK = 1 << 20


def _newlines(path: str | os.PathLike[str]) -> tuple[int, bool]:
    """Number of line feeds in a file, and whether it ends with one (bytes: exact for UTF-8 and GB18030, where a
    line feed byte is never part of another character)."""
    count, last = 0, b""
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_BLOCK), b""):
            count += block.count(b"\n")
            last = block[-1:]
    return count, last == b"\n"


def record_lines(path: str | os.PathLike[str], encoding: str, frame: pd.DataFrame, first_line: int = 2) -> np.ndarray:
    """The line on which each record of a CSV read with ``skip_blank_lines=False`` starts.

    Parameters
    ----------
    path, encoding
        The file and the encoding it was read with.
    frame
        The records as read (blank lines are rows of empty cells).
    first_line
        The line of the first record (2 under a one-line header).

    Returns
    -------
    Line numbers (int64), one per row of ``frame``. A record whose quoted cells span lines pushes the next ones down;
    those are found by counting line feeds in the cells, which is done only when the file has more lines than
    records (one pass over its bytes decides).
    """
    n = len(frame)
    lines = np.arange(first_line, first_line + n, dtype=np.int64)
    if not n:
        return lines
    wide = codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))
    if not wide:
        count, ends = _newlines(path)
        if count + (0 if ends else 1) <= first_line - 1 + n:
            return lines
    extra = np.zeros(n, dtype=np.int64)
    for col in frame.columns:
        values = frame[col]
        if pd.api.types.is_string_dtype(values.dtype) or pd.api.types.is_object_dtype(values.dtype):
            extra += values.astype("string").str.count("\n").fillna(0).to_numpy(dtype=np.int64)
    if extra.any():
        lines[1:] += np.cumsum(extra)[:-1]
    return lines


def source_rows(frame: pd.DataFrame, mask: np.ndarray | pd.Series | None = None) -> np.ndarray:
    """The row numbers the user sees (:data:`SOURCE_ROW`, else ``row + 1``) of the rows of ``mask`` (all rows when
    None), as int64."""
    pick = slice(None) if mask is None else np.asarray(mask, dtype=bool)
    if SOURCE_ROW in frame.columns:
        return frame[SOURCE_ROW].to_numpy(dtype=np.int64)[pick]
    if "row" in frame.columns:
        return frame["row"].to_numpy(dtype=np.int64)[pick] + 1
    return np.arange(1, len(frame) + 1, dtype=np.int64)[pick]


def first_occurrence(*keys: pd.Series) -> np.ndarray:
    """For each row, the position of the first row with the same key (one column or several together); a row whose
    key is missing is its own first."""
    n = len(keys[0])
    table = pd.DataFrame({i: k.to_numpy() for i, k in enumerate(keys)})
    codes = table.groupby(list(table.columns), sort=False, dropna=True).ngroup()
    codes = codes.fillna(-1).to_numpy(dtype=np.int64)
    first = np.arange(n, dtype=np.int64)
    ok = codes >= 0
    if ok.any():
        lowest = np.full(int(codes.max()) + 1, n, dtype=np.int64)
        np.minimum.at(lowest, codes[ok], first[ok])
        first[ok] = lowest[codes[ok]]
    return first


def rejected_rows(rejected: pd.DataFrame) -> np.ndarray:
    """The rows as the user sees them of a layer's rejected rows: ``source_row``, else (a frame made without it)
    ``row + 1``, as int64."""
    position = rejected["row"].to_numpy(dtype=np.int64) + 1 if "row" in rejected.columns else np.arange(
        1, len(rejected) + 1, dtype=np.int64)
    if "source_row" not in rejected.columns:
        return position
    shown = pd.to_numeric(rejected["source_row"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return np.where(np.isnan(shown), position, shown).astype(np.int64)
