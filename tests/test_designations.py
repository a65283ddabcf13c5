"""Tests for transportmon.designations: dated risk designations, snapshots and the most specific level."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from unittest import mock

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transportmon import levels
from transportmon.designations import (
    LEVEL_DTYPE,
    LEVELS,
    DesignationFormError,
    normalize_designations,
    unit_rank,
)
from transportmon.levels import resolve_levels

#: The real 2020 bulletins, in the project's shared data beside the checkout (``../shared``, as in CI).
SHARED = Path(__file__).absolute().parents[2] / "shared"
REAL_CSV = SHARED / "data" / "risk_2020" / "county_risk_designations_2020.csv"


def day(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


def intervals_of(*rows: tuple) -> pd.DataFrame:
    """Intervals frame from (unit, level, valid_from, valid_to) tuples; row = position."""
    frame = pd.DataFrame(rows, columns=["unit", "level", "valid_from", "valid_to"])
    frame.insert(0, "row", np.arange(len(frame)))
    return frame.assign(
        valid_from=pd.to_datetime(frame["valid_from"]).astype("datetime64[s]"),
        valid_to=pd.to_datetime(frame["valid_to"]).astype("datetime64[s]"),
    )


def point(key: str, *units: str) -> pd.DataFrame:
    return pd.DataFrame({"key": key, "unit": list(units)})


def ask(intervals: pd.DataFrame, point_units: pd.DataFrame, key: str, *dates: str) -> list[object]:
    """Level (str, or None when none is in effect) for ``key`` on each date."""
    queries = pd.DataFrame({"key": key, "date": pd.to_datetime(list(dates))})
    levels = resolve_levels(intervals, point_units, queries)["level"]
    return [None if pd.isna(v) else v for v in levels]


# XUNYANG county 360403 in Jiujiang city 360400 in Jiangxi province 360000.
XUNYANG = point("stop", "360403", "360400", "360000")


# --------------------------------------------------------------------------------------- resolve: boundaries


def test_valid_to_is_inclusive() -> None:
    intervals = intervals_of(("360403", "high", "2020-03-01", "2020-03-10"))
    assert ask(intervals, XUNYANG, "stop", "2020-03-10", "2020-03-11") == ["high", None]


def test_valid_from_boundary_both_sides() -> None:
    intervals = intervals_of(("360403", "medium", "2020-03-01", "2020-03-10"))
    assert ask(intervals, XUNYANG, "stop", "2020-02-29", "2020-03-01") == [None, "medium"]


def test_open_ended_designation_holds_indefinitely() -> None:
    intervals = intervals_of(("360403", "medium", "2020-03-01", None))
    got = ask(intervals, XUNYANG, "stop", "2020-02-29", "2020-03-01", "2035-12-31")
    assert got == [None, "medium", "medium"]


def test_time_of_day_in_query_is_ignored() -> None:
    intervals = intervals_of(("360403", "high", "2020-03-01", "2020-03-10"))
    dates = pd.to_datetime(["2020-03-10 23:59:00", "2020-03-01 00:00:01"])
    queries = pd.DataFrame({"key": "stop", "date": dates})
    assert resolve_levels(intervals, XUNYANG, queries)["level"].tolist() == ["high", "high"]


# --------------------------------------------------------------------------------------- resolve: precedence


def test_county_low_inside_medium_province_then_province_again() -> None:
    intervals = intervals_of(
        ("360000", "medium", "2020-02-01", None),
        ("360403", "low", "2020-03-01", "2020-03-10"),
    )
    got = ask(intervals, XUNYANG, "stop", "2020-02-29", "2020-03-01", "2020-03-10", "2020-03-11")
    assert got == ["medium", "low", "low", "medium"]


def test_county_wins_even_when_the_province_is_newer() -> None:
    intervals = intervals_of(
        ("360403", "low", "2020-02-01", None),
        ("360000", "high", "2020-03-01", None),
    )
    assert ask(intervals, XUNYANG, "stop", "2020-03-05") == ["low"]


def test_city_beats_province() -> None:
    intervals = intervals_of(
        ("360400", "high", "2020-03-01", None),
        ("360000", "low", "2020-03-05", None),
    )
    assert ask(intervals, XUNYANG, "stop", "2020-03-02", "2020-03-06") == ["high", "high"]


def test_polygon_area_beats_county() -> None:
    intervals = intervals_of(
        ("360403", "low", "2020-03-01", None),
        ("area:7", "high", "2020-02-01", None),
    )
    inside = point("stop", "360403", "360400", "360000", "area:7")
    assert ask(intervals, inside, "stop", "2020-03-05") == ["high"]
    assert ask(intervals, XUNYANG, "stop", "2020-03-05") == ["low"]


def test_equal_rank_latest_valid_from_wins_regardless_of_row_order() -> None:
    intervals = intervals_of(
        ("360403", "high", "2020-03-05", None),  # earlier row, later valid_from
        ("360403", "medium", "2020-03-01", None),
    )
    assert ask(intervals, XUNYANG, "stop", "2020-03-04", "2020-03-05") == ["medium", "high"]


def test_equal_rank_and_valid_from_later_row_wins() -> None:
    intervals = intervals_of(
        ("360403", "high", "2020-03-01", None),
        ("360403", "low", "2020-03-01", None),
    )
    result = resolve_levels(intervals, XUNYANG, pd.DataFrame({"key": ["stop"], "date": [day("2020-03-02")]}))
    assert result["level"].tolist() == ["low"]


def test_result_reports_deciding_unit_and_valid_from() -> None:
    intervals = intervals_of(
        ("360000", "medium", "2020-02-01", None),
        ("360403", "low", "2020-03-01", "2020-03-10"),
    )
    queries = pd.DataFrame({"key": "stop", "date": pd.to_datetime(["2020-03-05", "2020-03-20"])})
    result = resolve_levels(intervals, XUNYANG, queries)
    assert result["unit"].tolist() == ["360403", "360000"]
    assert result["valid_from"].tolist() == [day("2020-03-01"), day("2020-02-01")]


def test_result_is_aligned_with_query_index_and_handles_unknowns() -> None:
    intervals = intervals_of(("360403", "high", "2020-03-01", None))
    queries = pd.DataFrame(
        {
            "key": ["stop", "nowhere", "stop", "stop"],
            "date": pd.to_datetime(["2020-03-02", "2020-03-02", None, "2020-01-01"]),
        },
        index=[30, 10, 20, 0],
    )
    result = resolve_levels(intervals, XUNYANG, queries)
    assert list(result.index) == [30, 10, 20, 0]
    assert list(result.columns) == ["level", "unit", "valid_from"]
    assert result["level"].isna().tolist() == [False, True, True, True]
    assert result.loc[30, "level"] == "high"
    assert result["level"].dtype == LEVEL_DTYPE
    assert pd.isna(result.loc[10, "valid_from"])


def test_level_column_is_ordered_so_max_works() -> None:
    intervals = intervals_of(("360403", "medium", "2020-03-01", None), ("421127", "high", "2020-03-01", None))
    point_units = pd.concat([XUNYANG, point("hm", "421127", "421100", "420000")])
    queries = pd.DataFrame({"key": ["stop", "hm"], "date": [day("2020-03-02")] * 2})
    levels = resolve_levels(intervals, point_units, queries)["level"]
    assert levels.max() == "high"
    assert (levels >= "medium").all()


def test_resolve_empty_inputs() -> None:
    empty_intervals, _ = normalize_designations(pd.DataFrame(columns=["adcode", "level", "valid_from"]))
    queries = pd.DataFrame({"key": pd.Series([], dtype="str"), "date": pd.Series([], dtype="datetime64[s]")})
    result = resolve_levels(empty_intervals, XUNYANG, queries)
    assert list(result.columns) == ["level", "unit", "valid_from"] and len(result) == 0
    queries = pd.DataFrame({"key": ["stop"], "date": [day("2020-03-01")]})
    assert resolve_levels(empty_intervals, XUNYANG, queries)["level"].isna().all()


def test_resolve_rejects_levels_that_were_not_normalised() -> None:
    intervals = intervals_of(("360403", "severe", "2020-03-01", None))
    with pytest.raises(ValueError, match="severe"):
        resolve_levels(intervals, XUNYANG, pd.DataFrame({"key": ["stop"], "date": [day("2020-03-01")]}))


def test_unit_rank() -> None:
    units = pd.Series(["360000", "360400", "360403", "area:3", "429021", "441900"])
    assert unit_rank(units).tolist() == [0, 1, 2, 3, 2, 1]
    with pytest.raises(ValueError):
        unit_rank(pd.Series(["36040"]))


# --------------------------------------------------------------------------------------------- interval form


def test_interval_form_output_columns_and_types() -> None:
    df = pd.DataFrame(
        {
            "adcode": ["360403", 360402],
            "level": ["High", "中风险"],
            "valid_from": ["2020-02-20", dt.date(2020, 2, 21)],
            "valid_to": ["2020/3/12", None],
            "source": ["bulletin 1", ""],
        }
    )
    intervals, rejected = normalize_designations(df)
    assert list(intervals.columns) == ["row", "unit", "level", "valid_from", "valid_to", "source"]
    assert intervals["row"].tolist() == [0, 1]
    assert intervals["unit"].tolist() == ["360403", "360402"]
    assert intervals["level"].tolist() == ["high", "medium"]
    assert intervals["valid_from"].tolist() == [day("2020-02-20"), day("2020-02-21")]
    assert intervals["valid_to"].iloc[0] == day("2020-03-12") and pd.isna(intervals["valid_to"].iloc[1])
    assert np.issubdtype(intervals["valid_from"].dtype, np.datetime64)
    assert intervals["source"].iloc[0] == "bulletin 1" and pd.isna(intervals["source"].iloc[1])
    assert rejected.empty and list(rejected.columns) == ["row", "reason", "subject_id", "detail"]


@pytest.mark.parametrize(
    "value",
    ["2020-03-16", "2020/3/16", "2020.03.16", "2020年3月16日", " 2020-03-16 ", "2020-03-16 08:30",
     dt.date(2020, 3, 16), dt.datetime(2020, 3, 16, 23, 0), pd.Timestamp("2020-03-16 12:00"),
     np.datetime64("2020-03-16")],
)
def test_date_spellings(value: object) -> None:
    intervals, rejected = normalize_designations(
        pd.DataFrame({"adcode": ["360403"], "level": ["low"], "valid_from": pd.Series([value], dtype=object)})
    )
    assert rejected.empty
    assert intervals["valid_from"].iloc[0] == day("2020-03-16")


def test_datetime_columns_are_accepted() -> None:
    df = pd.DataFrame(
        {
            "adcode": ["360403"],
            "level": ["low"],
            "valid_from": pd.to_datetime(["2020-03-16 10:00"]),
            "valid_to": pd.to_datetime(["2020-03-20"]).tz_localize("Asia/Shanghai"),
        }
    )
    intervals, _ = normalize_designations(df)
    assert intervals[["valid_from", "valid_to"]].iloc[0].tolist() == [day("2020-03-16"), day("2020-03-20")]


@pytest.mark.parametrize(
    ("value", "level"),
    [
        ("高", "high"), ("中", "medium"), ("低", "low"), ("高风险", "high"), ("低风险地区", "low"),
        ("中风险区", "medium"), ("High", "high"), ("MEDIUM", "medium"), (" low ", "low"),
        ("high risk", "high"), ("Medium-risk", "medium"),
    ],
)
def test_level_spellings(value: str, level: str) -> None:
    intervals, rejected = normalize_designations(
        pd.DataFrame({"adcode": ["360403"], "level": [value], "valid_from": ["2020-03-01"]})
    )
    assert rejected.empty and intervals["level"].tolist() == [level]
    assert level in LEVELS


def test_malformed_dates_are_rejected_with_reason() -> None:
    df = pd.DataFrame(
        {
            "adcode": ["360401", "360402", "360403", "360404", "360405", "360406", "360407", "360408"],
            "level": "low",
            "valid_from": [
                "2020-13-01", "yesterday", "", None, "2020-02-30", "2020-03-01", "2020-03-10", "2020-03-10",
            ],
            "valid_to": [None, None, None, None, None, "soon", "2020-03-09", "2020-03-10"],
        }
    )
    intervals, rejected = normalize_designations(df)
    assert rejected["row"].tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert set(rejected["reason"]) == {"malformed-date"}
    assert rejected["subject_id"].tolist() == [f"36040{i}" for i in range(1, 8)]
    assert intervals["row"].tolist() == [7]  # a one-day designation (valid_to == valid_from) is fine


def test_unknown_level_and_missing_or_malformed_adcode_are_rejected() -> None:
    df = pd.DataFrame(
        {
            "adcode": ["360403", None, "36040", "360403;abc", 360403.0, "3604031"],
            "level": ["severe", "low", "low", "low", "low", "low"],
            "valid_from": "2020-03-01",
        }
    )
    intervals, rejected = normalize_designations(df)
    assert rejected.to_dict("list") == {
        "row": [0, 1, 2, 3, 5],
        "reason": ["unknown-level", "missing-adcode", "malformed-adcode", "malformed-adcode", "malformed-adcode"],
        "subject_id": ["360403", "row 1", "36040", "360403;abc", "3604031"],
        "detail": ["", "", "adcode 36040 is not 6 digits", "adcode abc is not 6 digits",
                   "adcode 3604031 is not 6 digits"],
    }
    assert intervals["unit"].tolist() == ["360403"]  # the float 360403.0 of a CSV column with blanks


def test_missing_adcode_wins_over_other_reasons() -> None:
    df = pd.DataFrame({"adcode": [None], "level": ["bad"], "valid_from": ["bad"]})
    _, rejected = normalize_designations(df)
    assert rejected["reason"].tolist() == ["missing-adcode"]


def test_semicolon_adcodes_expand_in_interval_form_too() -> None:
    df = pd.DataFrame({"adcode": ["420102; 420103;"], "level": ["high"], "valid_from": ["2020-03-01"]})
    intervals, _ = normalize_designations(df)
    assert intervals["unit"].tolist() == ["420102", "420103"] and intervals["row"].tolist() == [0, 0]


def test_geometry_rows_become_their_own_area_and_geometry_passes_through() -> None:
    square = shapely.box(115.9, 29.6, 116.0, 29.7)
    gdf = gpd.GeoDataFrame(
        {
            "adcode": [None, "360403", None, None],
            "level": ["high", "low", "low", "medium"],
            "valid_from": ["2020-03-01"] * 4,
        },
        geometry=[square, square, None, square],
        crs="EPSG:4326",
    )
    intervals, rejected = normalize_designations(gdf)
    assert isinstance(intervals, gpd.GeoDataFrame) and intervals.crs == gdf.crs
    assert intervals["unit"].tolist() == ["area:0", "360403", "area:3"]
    assert intervals.geometry.iloc[0].equals(square) and intervals.geometry.iloc[2].equals(square)
    assert rejected[["row", "reason"]].values.tolist() == [[2, "missing-adcode"]]


def test_plain_geometry_column_passes_through() -> None:
    square = shapely.box(0, 0, 1, 1)
    df = pd.DataFrame({"level": ["high"], "valid_from": ["2020-03-01"], "geometry": [square]})
    intervals, _ = normalize_designations(df)
    assert intervals["unit"].tolist() == ["area:0"] and intervals["geometry"].iloc[0] is square


@pytest.mark.parametrize(
    "columns",
    [
        ["adcode", "level"],
        ["adcode", "level", "as_of", "valid_from"],
        ["adcode", "valid_from"],
        ["level", "valid_from"],
    ],
)
def test_form_errors(columns: list[str]) -> None:
    with pytest.raises(DesignationFormError, match="valid_from") as info:
        normalize_designations(pd.DataFrame(columns=columns))
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "columns", [["adcode", "level", "valid_from"], ["as_of", "adcodes", "level", "source_url"]]
)
def test_empty_input_gives_empty_outputs(columns: list[str]) -> None:
    intervals, rejected = normalize_designations(pd.DataFrame(columns=columns))
    assert list(intervals.columns) == ["row", "unit", "level", "valid_from", "valid_to", "source"]
    assert list(rejected.columns) == ["row", "reason", "subject_id", "detail"]
    assert len(intervals) == 0 and len(rejected) == 0
    assert np.issubdtype(intervals["valid_from"].dtype, np.datetime64)
    assert np.issubdtype(intervals["row"].dtype, np.integer)


# --------------------------------------------------------------------------------------------- snapshot form


def snapshots(*rows: tuple) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["as_of", "adcodes", "level", "derivation"])


def by_unit(intervals: pd.DataFrame) -> dict[str, list[tuple[str, str, str]]]:
    out: dict[str, list[tuple[str, str, str]]] = {}
    columns = ["unit", "level", "valid_from", "valid_to"]
    for unit, level, start, end in intervals[columns].itertuples(index=False):
        until = "open" if pd.isna(end) else str(end.date())
        out.setdefault(unit, []).append((level, str(start.date()), until))
    return out


def test_later_snapshot_naming_the_area_ends_it_the_day_before() -> None:
    intervals, rejected = normalize_designations(
        snapshots(
            ("2020-02-20", "360403", "medium", "listed"),
            ("2020-03-13", "360403", "low", "listed"),
        )
    )
    assert rejected.empty
    assert by_unit(intervals) == {
        "360403": [("medium", "2020-02-20", "2020-03-12"), ("low", "2020-03-13", "open")]
    }
    assert ask(intervals, XUNYANG, "stop", "2020-03-12", "2020-03-13") == ["medium", "low"]


def test_partial_snapshot_leaves_unnamed_areas_as_they_were() -> None:
    intervals, _ = normalize_designations(
        snapshots(
            ("2020-02-28", "421127", "high", "listed"),
            ("2020-02-28", "421182", "high", "listed"),
            ("2020-03-06", "421127", "low", "partial_change_only"),
            ("2020-03-12", "421127;421182", "low", "listed"),
        )
    )
    assert by_unit(intervals) == {
        "421127": [
            ("high", "2020-02-28", "2020-03-05"),
            ("low", "2020-03-06", "2020-03-11"),
            ("low", "2020-03-12", "open"),
        ],
        "421182": [("high", "2020-02-28", "2020-03-11"), ("low", "2020-03-12", "open")],
    }


def test_semicolon_adcodes_expand_into_one_interval_each() -> None:
    intervals, _ = normalize_designations(
        snapshots(
            ("2020-03-12", "420102;420103;420104", "high", "listed"),
            ("2020-04-20", "420103", "low", "listed"),
        )
    )
    assert intervals["row"].tolist() == [0, 0, 0, 1]
    assert by_unit(intervals) == {
        "420102": [("high", "2020-03-12", "open")],
        "420103": [("high", "2020-03-12", "2020-04-19"), ("low", "2020-04-20", "open")],
        "420104": [("high", "2020-03-12", "open")],
    }


def test_illegible_as_of_is_rejected_and_does_not_end_earlier_designations() -> None:
    intervals, rejected = normalize_designations(
        snapshots(
            ("2020-02-20", "360403", "medium", "listed"),
            ("2020-03 (early March; exact date not legible)", "360403", "low", "listed"),
            ("2020-03-13", "360403", "low", "listed"),
        )
    )
    assert rejected.to_dict("list") == {"row": [1], "reason": ["malformed-date"], "subject_id": ["360403"],
                                        "detail": [""]}
    assert intervals["row"].tolist() == [0, 2]
    assert by_unit(intervals)["360403"][0] == ("medium", "2020-02-20", "2020-03-12")


def test_same_snapshot_date_does_not_end_a_row_of_the_same_snapshot() -> None:
    intervals, _ = normalize_designations(
        snapshots(("2020-03-01", "360403", "low", "listed"), ("2020-03-01", "360403", "high", "listed"))
    )
    assert intervals["valid_to"].isna().all()
    assert ask(intervals, XUNYANG, "stop", "2020-03-01") == ["high"]  # equal valid_from: the later row


def test_snapshot_source_comes_from_source_url() -> None:
    df = snapshots(("2020-03-01", "360403", "低", "listed")).assign(source_url="http://example.org/b")
    intervals, _ = normalize_designations(df)
    assert intervals["source"].tolist() == ["http://example.org/b"] and intervals["level"].tolist() == ["low"]


def test_snapshot_with_single_adcode_column_and_integer_codes() -> None:
    df = pd.DataFrame(
        {"as_of": ["2020-03-01", "2020-03-05"], "adcode": [360403, 360403], "level": ["中", "低"]}
    )
    intervals, _ = normalize_designations(df)
    assert by_unit(intervals) == {
        "360403": [("medium", "2020-03-01", "2020-03-04"), ("low", "2020-03-05", "open")]
    }


# ---------------------------------------------------------------------------------------- the real bulletins


@pytest.fixture(scope="module")
def real() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    if not REAL_CSV.exists():
        pytest.fail(f"{REAL_CSV} is missing: the real bulletins are read from ../shared beside the checkout (as CI "
                    "lays it out); put the project's shared/ folder there")
    df = pd.read_csv(REAL_CSV)
    intervals, rejected = normalize_designations(df)
    return df, intervals, rejected


def county_point(key: str, adcode: str) -> pd.DataFrame:
    return point(key, adcode, adcode[:4] + "00", adcode[:2] + "0000")


def real_level(real: tuple, adcode: str, date: str) -> object:
    _, intervals, _ = real
    return ask(intervals, county_point("p", adcode), "p", date)[0]


def test_real_csv_rejects_exactly_the_illegible_early_march_jiangxi_snapshot(real: tuple) -> None:
    df, intervals, rejected = real
    assert len(rejected) == 100
    assert set(rejected["reason"]) == {"malformed-date"}
    bad = df.iloc[rejected["row"]]
    assert set(bad["province"]) == {"江西省"} and set(bad["quality"]) == {"C"}
    assert bad["as_of"].str.startswith("2020-03 (").all()
    assert len(df) == 734 and set(intervals["row"]) | set(rejected["row"]) == set(range(len(df)))


@pytest.mark.parametrize(
    ("adcode", "date", "level"),
    [
        ("360403", "2020-02-19", None),  # 浔阳区: before the first bulletin
        ("360403", "2020-02-29", "medium"),  # 02-20 holds: the illegible early-March snapshot does not end it
        ("360403", "2020-03-12", "medium"),
        ("360403", "2020-03-16", "low"),  # 03-13: all of Jiujiang low
        ("421127", "2020-03-01", "high"),  # 黄梅县: 02-28 high
        ("421127", "2020-03-05", "high"),
        ("421127", "2020-03-06", "low"),  # named in the 03-06 partial snapshot: newly low
        ("421127", "2020-03-12", "low"),  # 03-12: low
        ("421127", "2020-03-16", "low"),
        ("420222", "2020-03-11", "high"),  # 阳新县: not named in the 03-06 partial snapshot, 02-28 high holds
        ("420222", "2020-03-12", "low"),
        ("420106", "2020-03-19", "high"),  # 武汉市城区 (武昌区) high past 03-18
        ("420106", "2020-04-20", "low"),
    ],
)
def test_real_csv_levels(real: tuple, adcode: str, date: str, level: str | None) -> None:
    assert real_level(real, adcode, date) == level


def test_real_csv_all_jiujiang_low_by_03_13(real: tuple) -> None:
    _, intervals, _ = real
    jiujiang = intervals.loc[intervals["unit"].str.startswith("3604"), "unit"].unique()
    point_units = pd.concat([county_point(code, code) for code in jiujiang])
    queries = pd.DataFrame({"key": jiujiang, "date": day("2020-03-13")})
    assert set(resolve_levels(intervals, point_units, queries)["level"]) == {"low"}


# ------------------------------------------------------------------------------------------------ properties

UNITS = ["360000", "360400", "360403", "360402", "420000", "421100", "421127", "area:0", "area:1"]
KEYS = ["a", "b", "c", "d"]
BASE = np.datetime64("2020-03-01", "D")


def reference_resolve(
    intervals: pd.DataFrame, point_units: pd.DataFrame, queries: pd.DataFrame
) -> list[tuple]:
    """One query at a time, straight from DESIGN §3."""
    rank = dict(zip(intervals["unit"], unit_rank(intervals["unit"]))) if len(intervals) else {}
    units_of: dict[str, set[str]] = {}
    for key, unit in point_units[["key", "unit"]].itertuples(index=False):
        units_of.setdefault(key, set()).add(unit)
    designations_ = list(intervals.itertuples(index=False))
    answers = []
    for key, date in queries[["key", "date"]].itertuples(index=False):
        units = units_of.get(key, set())
        best, best_order = None, None
        if not pd.isna(date):
            d = pd.Timestamp(date).normalize()
            for position, r in enumerate(designations_):
                in_effect = r.valid_from <= d and (pd.isna(r.valid_to) or d <= r.valid_to)
                if r.unit in units and in_effect:
                    order = (rank[r.unit], r.valid_from, r.row, position)
                    if best_order is None or order > best_order:
                        best, best_order = r, order
        answers.append((None, None, None) if best is None else (best.level, best.unit, best.valid_from))
    return answers


@st.composite
def resolve_inputs(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    n = draw(st.integers(0, 8))
    pool = UNITS[:5] if draw(st.booleans()) else UNITS  # few units: many ties on rank and valid_from
    starts = [BASE + np.timedelta64(draw(st.integers(0, 6)), "D") for _ in range(n)]
    ends = [
        np.datetime64("NaT") if draw(st.booleans()) else s + np.timedelta64(draw(st.integers(0, 5)), "D")
        for s in starts
    ]
    intervals = pd.DataFrame(
        {
            "row": [draw(st.integers(0, 4)) for _ in range(n)],
            "unit": pd.array([draw(st.sampled_from(pool)) for _ in range(n)], dtype="str"),
            "level": pd.array([draw(st.sampled_from(LEVELS)) for _ in range(n)], dtype="str"),
            "valid_from": np.array(starts, dtype="datetime64[D]").astype("datetime64[s]"),
            "valid_to": np.array(ends, dtype="datetime64[D]").astype("datetime64[s]"),
        }
    )
    pairs = draw(st.lists(st.tuples(st.sampled_from(KEYS), st.sampled_from(UNITS)), max_size=14))
    point_units = pd.DataFrame(pairs or {"key": [], "unit": []}, columns=["key", "unit"])
    m = draw(st.integers(0, 25))
    hours = [None if draw(st.integers(0, 9)) == 0 else draw(st.integers(-1, 12)) * 24 + 7 for _ in range(m)]
    dates = [None if h is None else BASE + np.timedelta64(h, "h") for h in hours]
    queries = pd.DataFrame(
        {
            "key": pd.array([draw(st.sampled_from([*KEYS, "zz"])) for _ in range(m)], dtype="str"),
            "date": pd.Series(np.array([d if d is not None else "NaT" for d in dates], dtype="datetime64[h]"))
            .astype("datetime64[ns]"),
        },
        index=draw(st.permutations(range(m))) if m else [],
    )
    return intervals, point_units, queries


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inputs=resolve_inputs(), small_tables=st.booleans())
def test_resolve_levels_matches_brute_force(inputs: tuple, small_tables: bool) -> None:
    intervals, point_units, queries = inputs
    # small_tables forces one block per day: the memory-bounded path taken for huge key × date tables.
    with mock.patch.object(levels, "_TABLE_CELLS", 1 if small_tables else levels._TABLE_CELLS):
        result = resolve_levels(intervals, point_units, queries)
    assert list(result.index) == list(queries.index)
    got = [
        (None if pd.isna(level) else level, None if pd.isna(unit) else unit, None if pd.isna(vf) else vf)
        for level, unit, vf in result[["level", "unit", "valid_from"]].itertuples(index=False)
    ]
    assert got == reference_resolve(intervals, point_units, queries)


JUNK = st.one_of(
    st.none(),
    st.just(""),
    st.text(max_size=12),
    st.integers(-10, 10**7),
    st.floats(allow_nan=True),
    st.sampled_from(
        ["360403", "420102;420103", "high", "低", "2020-03-01", "2020/3/1", "2020年3月1日", "2020-02-30"]
    ),
    st.dates(min_value=dt.date(2019, 1, 1), max_value=dt.date(2021, 12, 31)),
)


@settings(max_examples=100, deadline=None)
@given(rows=st.lists(st.tuples(JUNK, JUNK, JUNK, JUNK), max_size=12), snapshot=st.booleans())
def test_every_input_row_is_accounted_for(rows: list[tuple], snapshot: bool) -> None:
    if snapshot:
        columns = ["adcodes", "level", "as_of", "source_url"]
    else:
        columns = ["adcode", "level", "valid_from", "valid_to"]
    df = pd.DataFrame(rows, columns=columns, dtype=object)
    intervals, rejected = normalize_designations(df)
    accepted = set(intervals["row"])
    assert accepted.isdisjoint(rejected["row"])
    assert accepted | set(rejected["row"]) == set(range(len(df)))
    assert rejected["row"].is_unique
    assert set(rejected["reason"]) <= {"malformed-date", "unknown-level", "missing-adcode", "malformed-adcode"}
    assert set(intervals["level"]) <= set(LEVELS)
    assert intervals["unit"].str.fullmatch(r"\d{6}").all()
    ends = intervals["valid_to"].dropna()
    assert (ends >= intervals.loc[ends.index, "valid_from"]).all()
