"""The report frame without copies of the big part (:func:`transportmon.report.assemble`): against a plain
reference built row by row — every column's dtype and values, the order — on hypothesis-generated parts shaped like
the pipeline's (a trip part of categoricals, ``Int64`` and lists; checkpoints of plain columns; rejected rows of
objects), empty parts included; and the pieces: repeated values, one finding each, the counts.
"""

from __future__ import annotations

from unittest import mock

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from transportmon import report as report_module
from transportmon._arrow import FINDINGS_TYPE, STOPS_TYPE
from transportmon.report import (
    COLUMNS,
    FLOAT_COLUMNS,
    INT_COLUMNS,
    RATIO_COLUMNS,
    REPEAT_ROWS,
    TEXT_COLUMNS,
    assemble,
    finding_counts,
    one_finding_each,
    repeated,
    verdict_counts,
)

POLICY = "九府发〔2020〕3号 (六)"
IDS = ["a", "b", "b2", "T1", "中", ""]


def missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


@st.composite
def trip_part(draw: st.DrawFn) -> gpd.GeoDataFrame:
    n = draw(st.integers(0, 12))
    ids = draw(st.lists(st.sampled_from(IDS), min_size=n, max_size=n))
    if draw(st.booleans()):
        ids = sorted(ids)  # in report order already, or not
    verdict = draw(st.lists(st.sampled_from([0, 1, -1]), min_size=n, max_size=n))
    return gpd.GeoDataFrame({
        "subject": pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=["trip"]),
        "subject_id": pd.array(ids, dtype="str"),
        "verdict": pd.Categorical.from_codes(np.asarray(verdict, dtype=np.int8), categories=["over-cap", "compliant"]),
        "passengers": pd.array(draw(st.lists(st.one_of(st.none(), st.integers(0, 60)), min_size=n, max_size=n)),
                               dtype="Int64"),
        "occupancy": draw(st.lists(st.floats(0, 2), min_size=n, max_size=n)) or np.zeros(0),
        "cap": np.full(n, 0.5), "max_passengers": np.arange(n, dtype=np.int64),
        "risk_stops": pd.arrays.ArrowExtensionArray(pa.array(
            draw(st.lists(st.one_of(st.none(), st.lists(st.sampled_from(IDS), max_size=2)), min_size=n, max_size=n)),
            STOPS_TYPE)),
        "service_date": pd.array(["2020-03-01"] * n, dtype="string"),
        "source_row": np.asarray(draw(st.lists(st.integers(0, 5), min_size=n, max_size=n)), dtype=np.int64),
    }, geometry=[shapely.Point(116 + i / 100, 30) for i in range(n)], crs="EPSG:4326")


@st.composite
def checkpoint_part(draw: st.DrawFn) -> gpd.GeoDataFrame:
    n = draw(st.integers(0, 6))
    distances = st.one_of(st.floats(0, 1e5), st.just(float("inf")), st.just(float("nan")))
    return gpd.GeoDataFrame({
        "subject": "checkpoint", "subject_id": draw(st.lists(st.sampled_from(IDS), min_size=n, max_size=n)),
        "verdict": "keep", "road_ref": draw(st.lists(st.sampled_from(["G105", None]), min_size=n, max_size=n)),
        "distance_to_crossing_m": draw(st.lists(distances, min_size=n, max_size=n)) or np.zeros(0),
        "overdue_days": pd.array(draw(st.lists(st.one_of(st.none(), st.integers(0, 9)), min_size=n, max_size=n)),
                                 dtype="Int64"),
        "source_row": list(range(n)),
    }, geometry=[shapely.Point(117, 30 + i / 100) for i in range(n)], crs="EPSG:4326")


@st.composite
def rejected_part(draw: st.DrawFn) -> gpd.GeoDataFrame:
    n = draw(st.integers(0, 4))
    return gpd.GeoDataFrame({
        "subject": draw(st.lists(st.sampled_from(["trip", "stop"]), min_size=n, max_size=n)),
        "subject_id": pd.Series(draw(st.lists(st.one_of(st.sampled_from(IDS), st.none(), st.integers(0, 3)),
                                              min_size=n, max_size=n)), dtype=object),
        "verdict": "rejected", "reason": "malformed-value", "detail": "x=?",
        "source_row": pd.Series(draw(st.lists(st.one_of(st.none(), st.integers(0, 9)), min_size=n, max_size=n)),
                                dtype=object),
    }, geometry=[None] * n, crs="EPSG:4326")


def reference(parts: list[gpd.GeoDataFrame]) -> pd.DataFrame:
    """The report, row by row: each cell as a Python value in the report's sense, then sorted by (subject,
    subject_id, source_row), missing last, ties in the parts' order."""
    rows = []
    for part in parts:
        for i in range(len(part)):
            row = {}
            for col in COLUMNS:
                value = part[col].iloc[i] if col in part.columns else None
                if col == "policy":
                    value = POLICY
                elif col == "findings":
                    value = []
                elif col == "risk_stops":
                    value = None if value is None or value is pd.NA else list(value)
                elif col in TEXT_COLUMNS:
                    value = None if missing(value) else str(value)
                elif col in INT_COLUMNS:
                    value = None if missing(value) else int(value)
                else:
                    value = np.nan if value is None or not np.isfinite(value) else float(value)
                    # numpy's rounding, as the report's (0.05 m is 0.0: 0.05 × 10 is 0.5, to even)
                    value = float(np.round(value, 1 if col in FLOAT_COLUMNS else 4)) if (
                        col in FLOAT_COLUMNS or col in RATIO_COLUMNS) else value
                row[col] = value
            row["geometry"] = part.geometry.iloc[i]
            rows.append(row)

    def key(r: dict) -> tuple:
        return tuple((v is None, v if v is not None else 0) for v in (r["subject"], r["subject_id"], r["source_row"]))

    rows.sort(key=key)
    frame = {}
    for col in COLUMNS:
        values = [r[col] for r in rows]
        if col == "findings":
            frame[col] = pd.arrays.ArrowExtensionArray(pa.array(values, FINDINGS_TYPE))
        elif col == "risk_stops":
            frame[col] = pd.arrays.ArrowExtensionArray(pa.array(values, STOPS_TYPE))
        elif col in TEXT_COLUMNS:
            frame[col] = pd.array(values, dtype="str")
        elif col in INT_COLUMNS:
            frame[col] = pd.array(values, dtype="Int64")
        else:
            frame[col] = np.asarray(values, dtype=np.float64)
    return gpd.GeoDataFrame(frame, geometry=[r["geometry"] for r in rows], crs="EPSG:4326")


@settings(max_examples=80, deadline=None)
@given(trips=trip_part(), cps=checkpoint_part(), rejected=rejected_part(), order=st.permutations([0, 1, 2]))
def test_assemble_is_the_reference_row_by_row(trips: gpd.GeoDataFrame, cps: gpd.GeoDataFrame,
                                              rejected: gpd.GeoDataFrame, order: list[int]) -> None:
    parts = [[trips, cps, rejected][k] for k in order]
    got = assemble(parts, POLICY)
    expected = reference(parts)
    assert list(got.columns) == [*COLUMNS, "geometry"]
    pd.testing.assert_frame_equal(pd.DataFrame(got.drop(columns="geometry")),
                                  pd.DataFrame(expected.drop(columns="geometry")), check_exact=True)
    assert list(got.geometry) == list(expected.geometry)


@settings(max_examples=30, deadline=None)
@given(trips=trip_part())
def test_one_big_part_alone_is_the_reference_too(trips: gpd.GeoDataFrame) -> None:
    got = assemble([trips], POLICY)
    pd.testing.assert_frame_equal(pd.DataFrame(got.drop(columns="geometry")),
                                  pd.DataFrame(reference([trips]).drop(columns="geometry")), check_exact=True)


@pytest.mark.parametrize("n", [0, 1, REPEAT_ROWS - 1, REPEAT_ROWS, 2 * REPEAT_ROWS + 3])
@pytest.mark.parametrize("value", [pa.scalar("九府发", pa.large_string()), pa.scalar(None, pa.large_string()),
                                   pa.scalar(None, STOPS_TYPE)])
def test_repeated_is_n_copies_of_one_short_chunk(n: int, value: pa.Scalar) -> None:
    column = repeated(value, n)
    assert len(column) == n and column.type == value.type
    assert column.to_pylist() == [value.as_py()] * n
    assert all(len(chunk) <= REPEAT_ROWS for chunk in column.chunks)
    if n > REPEAT_ROWS and value.is_valid:  # every chunk reads the same bytes
        assert len({chunk.buffers()[2].address for chunk in column.chunks}) == 1


def test_one_finding_each_wraps_the_messages_as_they_are() -> None:
    part = gpd.GeoDataFrame({"subject": pd.Categorical(["trip"] * 3), "subject_id": pd.array(["t1", "t2", "t3"],
                                                                                            dtype="str")},
                            geometry=[None] * 3)
    zh = pa.array(["超载", "未超", "不适用"])
    findings = pd.DataFrame({
        "rule_id": pd.Categorical(["TM201", "TM202", "TM203"]), "severity": pd.Categorical(["violation", "info",
                                                                                            "info"]),
        "message_zh": pd.arrays.ArrowExtensionArray(zh), "message_en": pd.array(["over", "within", "n/a"],
                                                                                 dtype="str")})
    out = one_finding_each(part, findings)
    assert out["findings"].tolist() == [
        [{"finding_id": f"{r}:trip:{t}", "rule_id": r, "severity": s, "message_zh": z, "message_en": e}]
        for r, t, s, z, e in zip(["TM201", "TM202", "TM203"], ["t1", "t2", "t3"], ["violation", "info", "info"],
                                 ["超载", "未超", "不适用"], ["over", "within", "n/a"])]
    flat = pa.array(out["findings"].array).flatten()
    assert flat.field("message_zh").buffers()[2].address == zh.buffers()[2].address  # no copy of the text
    assert out["max_severity"].dtype == "str" and out["max_severity"].tolist() == ["violation", "info", "info"]


@pytest.mark.parametrize("dtype", ["str", object])
def test_counts_of_text_and_object_columns_agree(dtype: object) -> None:
    report = pd.DataFrame({"subject": ["trip", "trip", None, "route", "trip"],
                           "verdict": ["over-cap", "compliant", "new", None, "over-cap"],
                           "max_severity": ["violation", "info", None, "info", "violation"]}, dtype=dtype)
    assert verdict_counts(report) == {"trip": {"compliant": 1, "over-cap": 2}}
    assert finding_counts(report) == {"violation": 2, "warning": 0, "waived": 0, "info": 2}
    assert verdict_counts(report.iloc[:0]) == {}


@settings(max_examples=60, deadline=None)
@given(trips=trip_part(), cps=checkpoint_part(), rejected=rejected_part(), order=st.permutations([0, 1, 2]))
def test_categorical_text_decoded_on_the_second_thread_is_the_reference_too(
        trips: gpd.GeoDataFrame, cps: gpd.GeoDataFrame, rejected: gpd.GeoDataFrame, order: list[int]) -> None:
    """Every part decoded ahead (from 0 rows on, not the millions of the real threshold): the same report."""
    parts = [[trips, cps, rejected][k] for k in order]
    with mock.patch.object(report_module, "DECODE_AHEAD_ROWS", 0):
        got = assemble(parts, POLICY)
    expected = reference(parts)
    pd.testing.assert_frame_equal(pd.DataFrame(got.drop(columns="geometry")),
                                  pd.DataFrame(expected.drop(columns="geometry")), check_exact=True)

