"""Dates as Chinese offices write them (docs/chinese-files.md, "Chinese files"): the one date grammar of the package.

Every layer's date columns, the risk designations (:mod:`transportmon.designations`), the map's ``--date`` and the
CLI's ``--as-of`` are read by :func:`parse_dates`; :func:`parse_days` and :func:`parse_date` are its forms for
calendar-day arrays and for one value.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd

from .distinct import on_distinct

_DATE = re.compile(
    r"(?P<y>\d{4})(?:\s*(?P<sep>[-/.年])\s*(?P<m>\d{1,2})\s*(?:(?P=sep)|月)\s*(?P<d>\d{1,2})\s*[日号]?"
    r"|(?P<cm>\d{2})(?P<cd>\d{2}))"
    # an optional time of day, dropped: 08:00, 08:00:00.5, T08:00Z, 8时30分, +08:00, +08 (GDAL prints offsets so)
    r"(?:(?:\s+|\s*T\s*|(?<=[日号])\s*)(?P<h>\d{1,2})(?:[:时点](?P<mi>\d{1,2})?(?:[:分](?P<s>\d{1,2}(?:\.\d+)?)?秒?)?)?"
    r"\s*(?:Z|[+-]\d{2}(?::?\d{2})?)?)?"
)


@on_distinct
def parse_dates(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse dates in the forms Chinese offices write them; returns (dates, malformed-mask).

    Accepted: ``2020-03-16``, ``2020/3/16``, ``2020.03.16``, ``2020年3月16日`` (or ``号``), ``20200316``, full-width
    digits, any of them with a time of day (``2020-03-16 08:00``, ``2020/3/16 8:00:00``, ``2020-03-16T08:00+08:00``,
    ``2020/03/16 08:00:00+08`` as GDAL prints a zoned time, ``2020年3月16日8时``) which is dropped (the day as written
    counts, never its UTC day), and datetime values. Years 1–9999 (``9999-12-31`` is a common "never"
    in Chinese databases). Day-first and two-digit years (``16/03/2020``, ``20/3/16``) are ambiguous and malformed.
    Empty is NaT and not malformed (the caller decides whether the column may be empty).
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        dates = values.dt.tz_localize(None) if getattr(values.dt, "tz", None) else values
        return dates.dt.normalize().astype("datetime64[s]"), pd.Series(False, index=values.index)
    text = values.astype("string").str.normalize("NFKC").str.strip()
    empty = text.isna() | (text == "")
    parts = text.str.extract(f"^(?:{_DATE.pattern})$")
    month = parts["m"].fillna(parts["cm"])
    day = parts["d"].fillna(parts["cd"])
    hour = pd.to_numeric(parts["h"], errors="coerce")
    minute = pd.to_numeric(parts["mi"], errors="coerce")
    second = pd.to_numeric(parts["s"], errors="coerce")
    bad_time = (hour > 23).fillna(False) | (minute > 59).fillna(False) | (second >= 61).fillna(False)
    bad_time = bad_time | parts["y"].eq("0000").fillna(False)  # there is no year 0
    iso = (parts["y"] + "-" + month.str.zfill(2) + "-" + day.str.zfill(2)).where(~bad_time.astype(bool))
    dates = pd.to_datetime(iso.where(~empty), format="%Y-%m-%d", errors="coerce")
    bad = (~empty & dates.isna()).astype(bool)
    return dates.astype("datetime64[s]"), bad


def parse_days(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """:func:`parse_dates` as calendar days: (``datetime64[D]``, NaT where blank or malformed; the blank mask)."""
    dates, bad = parse_dates(values)
    days = dates.to_numpy().astype("datetime64[D]")
    return days, np.isnat(days) & ~bad.to_numpy(dtype=bool)


def parse_date(value: str | dt.date | None) -> pd.Timestamp | None:
    """One date (a ``date``/``Timestamp`` as its own day, text by :func:`parse_dates`); None when blank or malformed."""
    if value is None or value == "":
        return None
    text = pd.Timestamp(value).strftime("%Y-%m-%d") if isinstance(value, dt.date) else str(value)
    dates, bad = parse_dates(pd.Series([text]))
    return None if bool(bad.iloc[0]) or pd.isna(dates.iloc[0]) else pd.Timestamp(dates.iloc[0])
