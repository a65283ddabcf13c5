"""The one date parser (:mod:`transportmon.dates`) accepts every date the designations' former parser accepted,
as the same day; and its forms for calendar days and for one value."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transportmon.dates import parse_date, parse_dates, parse_days

# The grammar of designations._parse_day before the parsers were merged, kept as the reference.
_OLD_ISO_LIKE = re.compile(
    r"(?P<y>\d{4})(?P<sep>[-/.])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})"
    r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
)
_OLD_CHINESE_DATE = re.compile(r"(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*[日号]?")


def _old_day(text: str) -> np.datetime64 | None:
    """The former designations parser on one text cell: the day, NaT when illegible, None when blank."""
    text = text.strip()
    if not text:
        return None
    m = _OLD_ISO_LIKE.fullmatch(text) or _OLD_CHINESE_DATE.fullmatch(text)
    if m is None:
        return np.datetime64("NaT", "D")
    try:
        return np.datetime64(dt.date(int(m["y"]), int(m["m"]), int(m["d"])), "D")
    except ValueError:
        return np.datetime64("NaT", "D")


def _num(lo: int, hi: int, width: int) -> st.SearchStrategy[str]:
    return st.integers(lo, hi).flatmap(lambda v: st.sampled_from(sorted({str(v), str(v).zfill(width)})))


_TIME = st.one_of(st.just(""), st.tuples(st.sampled_from([" ", "T"]), _num(0, 23, 2), st.integers(0, 59),
                                           st.one_of(st.just(""), st.integers(0, 59).map(lambda s: f":{s:02d}"),
                                                     st.integers(0, 59).map(lambda s: f":{s:02d}.5")))
                  .map(lambda t: f"{t[0]}{t[1]}:{t[2]:02d}{t[3]}"))
_ISO = st.tuples(st.integers(1, 9999), st.sampled_from("-/."), _num(1, 13, 2), _num(1, 32, 2), _TIME).map(
    lambda t: f"{t[0]:04d}{t[1]}{t[2]}{t[1]}{t[3]}{t[4]}")
_SPACE = st.sampled_from(["", " ", "  "])
_CHINESE = st.tuples(st.integers(1, 9999), _SPACE, _num(1, 13, 2), _SPACE, _num(1, 32, 2), _SPACE,
                     st.sampled_from(["", "日", "号"])).map(
    lambda t: f"{t[0]:04d}{t[1]}年{t[1]}{t[2]}{t[3]}月{t[3]}{t[4]}{t[5]}{t[6]}")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_ISO, _CHINESE, st.sampled_from(["", "  ", "16/03/2020", "2020-3"])), min_size=1,
                max_size=8))
def test_old_designation_grammar_reads_the_same(cells: list[str]) -> None:
    days, blank = parse_days(pd.Series(cells, dtype=object))
    for cell, day, is_blank in zip(cells, days, blank):
        old = _old_day(cell)
        if old is None:
            assert is_blank and np.isnat(day)
        elif np.isnat(old):  # illegible before: still not a day (never accepted silently)
            assert np.isnat(day) and not is_blank
        else:
            assert day == old and not is_blank


def test_parse_days_keeps_datetime_cells_and_wider_forms() -> None:
    cells = pd.Series([dt.date(2020, 2, 21), pd.Timestamp("2020-03-16 23:30", tz="Asia/Shanghai"), "20200316",
                       "2020年3月16日 8时", None, "2020-02-30"], dtype=object)
    days, blank = parse_days(cells)
    assert days[:4].astype(str).tolist() == ["2020-02-21", "2020-03-16", "2020-03-16", "2020-03-16"]
    assert np.isnat(days[4]) and blank[4]
    assert np.isnat(days[5]) and not blank[5]


@pytest.mark.parametrize(("value", "want"), [
    ("2020-03-16", "2020-03-16"), ("2020/3/16", "2020-03-16"), ("2020年3月16日", "2020-03-16"),
    (dt.date(2020, 3, 16), "2020-03-16"), (pd.Timestamp("2020-03-16 08:00"), "2020-03-16"),
])
def test_parse_date_one_value(value: object, want: str) -> None:
    day = parse_date(value)  # type: ignore[arg-type]
    assert day is not None and day.strftime("%Y-%m-%d") == want


@pytest.mark.parametrize("value", ["", None, "  ", "2020-02-30", "16/03/2020", "2020-03-16 24:00"])
def test_parse_date_none_when_blank_or_malformed(value: str | None) -> None:
    assert parse_date(value) is None


def test_parse_dates_mask_names_only_malformed_cells() -> None:
    dates, bad = parse_dates(pd.Series(["2020-03-16", "", "x", None]))
    assert bad.tolist() == [False, False, True, False]
    assert dates.isna().tolist() == [False, True, True, True]
