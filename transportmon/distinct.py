"""Run an elementwise column parser on the column's distinct values only (a leaf module: dates and layers use it)."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd


def on_distinct(parse):  # type: ignore[no-untyped-def]
    """Run an elementwise parser on a column's distinct values only and spread the results over the rows.

    A column of ten million ``stop_sequence`` or ``pickup`` cells holds a handful of distinct values; text
    normalisation and regular expressions then run on those, not on every row. Small or mostly-unique columns are
    parsed directly. Results are the same either way.
    """

    @functools.wraps(parse)
    def wrapper(values: pd.Series):  # type: ignore[no-untyped-def]
        if len(values) < 4096 or values.dtype == object:  # objects: 1, 1.0 and True hash alike but read apart
            return parse(values)
        if isinstance(values.dtype, np.dtype) and values.dtype.kind == "M":  # datetimes: arithmetic, no text
            return parse(values)
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        if len(uniques) > len(values) // 4:
            return parse(values)
        rows = first_rows(codes, len(uniques))  # a row of each distinct value, as it is in the column
        missing = codes < 0
        if missing.any():  # missing values are one more distinct value, the last
            rows = np.append(rows, np.argmax(missing))
            codes = codes if codes.flags.writeable else codes.copy()
            codes[missing] = len(uniques)
        distinct = values.iloc[rows]
        out = parse(distinct)
        spread = [part.take(codes).set_axis(values.index) for part in (out if isinstance(out, tuple) else (out,))]
        return tuple(spread) if isinstance(out, tuple) else spread[0]

    return wrapper


def first_rows(codes: np.ndarray, n: int) -> np.ndarray:
    """The first row of each of the codes ``0 … n-1`` (-1: missing) that ``pd.factorize`` gave a column.

    factorize numbers values in the order they first appear, so code k first appears where the running maximum of
    the codes first reaches k: one pass, no table to fill per row. (A numbering in another order is read the slow way,
    a ``minimum.at`` per row.)"""
    if not len(codes):
        return np.zeros(0, dtype=np.int64)
    top = np.maximum.accumulate(codes)
    rows = np.flatnonzero(np.diff(top, prepend=-1) > 0)
    if len(rows) == n and (not n or codes[rows[-1]] == n - 1):
        return rows
    first = np.full(n, len(codes))
    seen = codes >= 0
    np.minimum.at(first, codes[seen], np.flatnonzero(seen))
    return first
