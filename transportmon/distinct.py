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
        codes = np.where(codes < 0, len(uniques), codes)  # missing values are one more distinct value
        first = np.full(len(uniques) + 1, len(values))
        np.minimum.at(first, codes, np.arange(len(values)))
        present = first < len(values)
        distinct = values.iloc[first[present]]  # a row of each distinct value, as it is in the column
        codes = np.cumsum(present)[codes] - 1
        out = parse(distinct)
        spread = [part.take(codes).set_axis(values.index) for part in (out if isinstance(out, tuple) else (out,))]
        return tuple(spread) if isinstance(out, tuple) else spread[0]

    return wrapper
