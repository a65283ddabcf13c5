"""The GeoParquet report written row group by row group (io/geoparquet.py ``ReportSink``) holds the same table as the
plain form, ``pq.write_table(report_table(...))`` with pyarrow's defaults: same values, schema and metadata, whatever
the number of row groups; the geometry summary of the metadata is that of the coordinates; a failure keeps the old
report."""

from __future__ import annotations

import math
import threading
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

import transportmon
from transportmon.io import geoparquet
from transportmon.io import wkb as wkb_module
from transportmon.io.geoparquet import parquet_leaves, report_table
from transportmon.io.wkb import WkbColumn, geometry_summary, wkb_array
from transportmon.io.write import write_report
from transportmon.report import assemble, attach_findings
from transportmon.rules.registry import FINDING_COLUMNS


def odd_report() -> gpd.GeoDataFrame:
    """Subjects of every kind with what the sample lacks: no findings, null and empty risk_stops, a rejected row
    with a polygon, 3-D, empty and missing geometries."""
    cps = gpd.GeoDataFrame({"subject": "checkpoint", "subject_id": ["a", "b", "c"],
                            "verdict": ["keep", "remove", "keep"], "source_row": [0, 1, 2],
                            "name": ["桥", None, "G105"]},
                           geometry=[shapely.Point(116, 30), None, shapely.Point(116.5, 29.5, 12)], crs="EPSG:4326")
    trips = gpd.GeoDataFrame({"subject": "trip", "subject_id": ["t1", "t2", "t3"],
                              "verdict": ["over-cap", "compliant", "compliant"], "source_row": [0, 1, 2],
                              "passengers": [30, 10, None], "risk_stops": [["S1", "S2"], [], None]},
                             geometry=[shapely.LineString([(116, 30), (117, 31)]), shapely.LineString(),
                                       shapely.LineString([(115, 29), (116, 30), (117, 32)])], crs="EPSG:4326")
    rejected = gpd.GeoDataFrame({"subject": "risk_areas", "subject_id": ["z1", "z2"], "verdict": "rejected",
                                 "reason": ["invalid-geometry", "missing-date"], "source_row": [4, 5]},
                                geometry=[shapely.Polygon([(114, 28), (115, 28), (115, 29)]), shapely.Point()],
                                crs="EPSG:4326")
    findings = pd.DataFrame([
        {"subject": "checkpoint", "subject_id": "b", "source_row": 1, "rule_id": "TM101", "severity": "violation",
         "message_zh": "中文 \"引号\"", "message_en": "line\nbreak"},
        {"subject": "trip", "subject_id": "t1", "source_row": 0, "rule_id": "TM201", "severity": "violation",
         "message_zh": "超载", "message_en": "over"},
        {"subject": "trip", "subject_id": "t1", "source_row": 0, "rule_id": "TM202", "severity": "info",
         "message_zh": "风险", "message_en": "risk"},
    ], columns=FINDING_COLUMNS)
    return attach_findings(assemble([cps, trips, rejected], "policy"), findings)


@pytest.fixture(scope="module")
def reports() -> dict[str, tuple[gpd.GeoDataFrame, dict]]:
    sample = transportmon.audit(as_of="2020-03-16")
    empty = attach_findings(assemble([], "policy"), pd.DataFrame(columns=FINDING_COLUMNS))
    return {"sample": (sample.report, sample.metadata), "odd": (odd_report(), {"as_of": "2020-03-16"}),
            "empty": (empty, {"counts": {}})}


def test_the_reports_have_every_kind_of_row(reports: dict[str, tuple[gpd.GeoDataFrame, dict]]) -> None:
    sample, odd = reports["sample"][0], reports["odd"][0]
    assert {"checkpoint", "trip", "route", "risk_areas", "stop_times"} <= set(sample["subject"])
    assert sample.geometry.isna().any() and sample["reason"].isna().any() and sample["passengers"].isna().any()
    assert [len(f) for f in odd["findings"]].count(0) == 6  # subjects without findings
    assert odd["risk_stops"].isna().any() and odd["findings"].map(len).max() == 2
    types = set(shapely.get_type_id(odd.geometry.dropna().to_numpy()))
    assert types == {0, 1, 3} and shapely.has_z(odd.geometry.dropna().to_numpy()).any()
    assert shapely.is_empty(odd.geometry.dropna().to_numpy()).sum() == 2


def reference(report: gpd.GeoDataFrame, metadata: dict, path: Path) -> pa.Table:
    """The plain form: the whole table, written by pyarrow with its defaults, read back."""
    pq.write_table(report_table(report, metadata), path)
    return pq.read_table(path)


@pytest.mark.parametrize("name", ["sample", "odd", "empty"])
@pytest.mark.parametrize("rows", [1 << 20, 3, 4])
def test_row_groups_hold_the_plain_table(reports: dict[str, tuple[gpd.GeoDataFrame, dict]], name: str, rows: int,
                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    report, metadata = reports[name]
    monkeypatch.setattr(geoparquet, "ROW_GROUP_ROWS", rows)
    out = tmp_path / "r.parquet"
    assert write_report(report, metadata, str(out)) == "parquet"
    expected = reference(report, metadata, tmp_path / "ref.parquet")
    got = pq.read_table(out)
    assert got.equals(expected)
    assert got.schema.equals(expected.schema, check_metadata=True)
    assert pq.read_metadata(out).metadata == pq.read_metadata(tmp_path / "ref.parquet").metadata
    sizes = [pq.read_metadata(out).row_group(i).num_rows for i in range(pq.read_metadata(out).num_row_groups)]
    n = len(report)
    assert sizes == ([rows] * (n // rows) + ([n % rows] if n % rows else []) if n else [0])
    back, plain = gpd.read_parquet(out), gpd.read_parquet(tmp_path / "ref.parquet")
    assert back.crs == plain.crs == report.crs
    pd.testing.assert_frame_equal(back.drop(columns=["findings", "risk_stops"]),
                                  plain.drop(columns=["findings", "risk_stops"]))


def test_a_row_group_of_exactly_all_rows(reports: dict[str, tuple[gpd.GeoDataFrame, dict]], tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    report, metadata = reports["odd"]
    for rows, groups in ((len(report), 1), (len(report) - 1, 2), (len(report) + 1, 1)):
        monkeypatch.setattr(geoparquet, "ROW_GROUP_ROWS", rows)
        out = tmp_path / f"r{rows}.parquet"
        write_report(report, metadata, str(out))
        assert pq.read_metadata(out).num_row_groups == groups
        assert pq.read_table(out).equals(reference(report, metadata, tmp_path / "ref.parquet"))


def test_dictionaries_where_values_repeat_not_where_they_differ(tmp_path: Path) -> None:
    # 40,000 distinct lines (2.3 MB of WKB, more than pyarrow's default 1 MiB dictionary), each in two rows
    xy = np.random.default_rng(7).random((40_000, 3, 2))
    lines = np.tile(shapely.linestrings(xy), 2)
    frame = gpd.GeoDataFrame({"subject": "trip", "subject_id": [f"T{i:06d}" for i in range(len(lines))]},
                             geometry=lines, crs="EPSG:4326")
    out = tmp_path / "lines.parquet"
    write_report(frame, {}, str(out))
    chunks = {c.path_in_schema: c for c in (pq.read_metadata(out).row_group(0).column(i) for i in range(3))}
    assert chunks["geometry"].has_dictionary_page and "PLAIN" not in chunks["geometry"].encodings[1:]
    assert chunks["geometry"].total_compressed_size < 2 * 40_000 * 57 * 0.6  # the dictionary holds each line once
    assert not chunks["subject_id"].has_dictionary_page  # unique ids: plain
    assert chunks["subject"].has_dictionary_page
    assert pq.read_table(out)["geometry"].to_pylist() == list(shapely.to_wkb(lines, flavor="iso"))


def test_statistics_where_a_reader_can_skip_row_groups(reports: dict[str, tuple[gpd.GeoDataFrame, dict]],
                                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """min/max of the sort keys and the numbers: a filter on subject_id reads only the row groups that may hold
    it; none on other text (verdicts vary within every row group), the lists or the WKB."""
    monkeypatch.setattr(geoparquet, "ROW_GROUP_ROWS", 3)
    report, metadata = reports["sample"]
    out = tmp_path / "r.parquet"
    write_report(report, metadata, str(out))
    meta = pq.read_metadata(out)
    assert meta.num_row_groups > 3
    stats = {meta.row_group(0).column(i).path_in_schema: meta.row_group(0).column(i).is_stats_set
             for i in range(meta.num_columns)}
    assert stats["subject"] and stats["subject_id"] and stats["passengers"] and stats["source_row"]
    assert not stats["verdict"] and not stats["service_date"] and not stats["geometry"]
    assert not any(v for k, v in stats.items() if k.startswith("findings."))
    wanted = str(report["subject_id"].iloc[len(report) // 2])
    keep = [g for g in range(meta.num_row_groups)
            if meta.row_group(g).column(1).statistics.min <= wanted <= meta.row_group(g).column(1).statistics.max]
    assert len(keep) < meta.num_row_groups  # the others are skipped…
    got = pq.ParquetFile(out).read_row_groups(keep).to_pandas()
    assert wanted in set(got["subject_id"])  # …and the row is in the ones read


def test_parquet_leaves_name_the_file_columns(reports: dict[str, tuple[gpd.GeoDataFrame, dict]],
                                              tmp_path: Path) -> None:
    report, metadata = reports["sample"]  # findings with a nested waiver struct
    out = tmp_path / "r.parquet"
    write_report(report, metadata, str(out))
    schema = pq.read_schema(out)
    assert pa.types.is_struct(schema.field("findings").type.value_type.field("waiver").type)
    paths = [leaf for f in schema for leaf in parquet_leaves(f)]
    assert paths == [pq.ParquetFile(out).schema.column(i).path for i in range(len(pq.ParquetFile(out).schema))]
    assert "findings.list.element.waiver.document" in paths and "risk_stops.list.element" in paths
    assert geoparquet.PLAIN_LEAVES <= set(paths)
    meta = pq.read_metadata(out).row_group(0)
    stats = set(geoparquet.stats_columns(schema, "geometry"))
    assert {"subject", "subject_id", "passengers", "source_row"} <= stats and not stats & {"verdict", "geometry"}
    for i in range(meta.num_columns):
        column = meta.column(i)
        assert column.has_dictionary_page != (column.path_in_schema in geoparquet.PLAIN_LEAVES), column.path_in_schema
        # min/max where a reader can skip row groups by them: flat columns, the sort keys and the numbers
        assert column.is_stats_set == (column.path_in_schema in stats), column.path_in_schema


def coordinates_summary(geoms: np.ndarray) -> tuple[list[str], list[float] | None]:
    """The obvious geometry summary: type names one geometry at a time, the bbox over every coordinate (NaN
    skipped)."""
    names = sorted({g.geom_type + (" Z" if g.has_z else "") for g in geoms if g is not None})
    xy = shapely.get_coordinates(geoms)
    xs = [x for x in xy[:, 0].tolist() if not math.isnan(x)]
    ys = [y for y in xy[:, 1].tolist() if not math.isnan(y)]
    return names, [min(xs), min(ys), max(xs), max(ys)] if xs and ys else None


def quietly(make):  # type: ignore[no-untyped-def]
    """``make`` without numpy's warning about NaN coordinates."""
    def made(args):  # type: ignore[no-untyped-def]
        with np.errstate(invalid="ignore"):
            return make(args)
    return made


finite = st.floats(-180, 180, allow_nan=False, width=64)
coordinate = st.one_of(finite, st.just(math.nan))
geometry = st.one_of(
    st.none(), st.just(shapely.Point()), st.just(shapely.LineString()),
    st.tuples(coordinate, coordinate).map(quietly(lambda xy: shapely.Point(*xy))),
    st.tuples(coordinate, coordinate, coordinate).map(quietly(lambda xyz: shapely.Point(*xyz))),
    st.lists(st.tuples(coordinate, coordinate), min_size=2, max_size=4).map(quietly(shapely.LineString)),
    st.lists(st.tuples(coordinate, coordinate, coordinate), min_size=2, max_size=3).map(quietly(shapely.LineString)),
    st.tuples(finite, finite).map(lambda xy: shapely.Polygon([xy, (xy[0] + 1, xy[1]), (xy[0], xy[1] + 1)])),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(geometry, max_size=12))
def test_geometry_summary_is_that_of_the_coordinates_and_wkb_that_of_shapely(geoms: list) -> None:
    arr = np.array(geoms + [None], dtype=object)[:-1]
    expected = coordinates_summary(arr)
    type_id, has_z = shapely.get_type_id(arr), shapely.has_z(arr)
    assert geometry_summary(arr, type_id, has_z) == expected
    wkb, *summary = wkb_array(arr)
    assert summary == list(expected)
    assert wkb.to_pylist() == list(shapely.to_wkb(arr, flavor="iso", byte_order=1))


@settings(max_examples=200, deadline=None)
@given(st.lists(geometry, min_size=1, max_size=5), st.lists(st.integers(0, 4), max_size=40), st.integers(40, 2000))
def test_shared_objects_are_encoded_once_with_the_bytes_of_each_row(objects: list, picks: list[int],
                                                                     limit: int) -> None:
    """Trips share their line objects: the WKB and the summary made once per object equal those of every row, also
    when the bytes of a piece must be halved to fit 32-bit offsets (``limit``)."""
    arr = np.array(objects + [None], dtype=object)[:-1][[i % len(objects) for i in picks]]
    rows = np.array(list(arr) + [None], dtype=object)[:-1]  # the same objects, row by row
    column = WkbColumn.of(arr)
    assert (column.codes is not None) == (2 * len({id(g) for g in arr}) <= len(arr) and len(arr) >= 2)
    if column.codes is not None:
        assert len(column.geoms) == len({id(g) for g in arr}) and all(column.geoms[column.codes] == arr)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(wkb_module, "MAX_BINARY_BYTES", limit)
        patch.setattr(wkb_module, "WKB_PIECE_ROWS", 16)
        wkb, *summary = wkb_array(arr)
        assert all(len(c) <= 16 and (len(c) == 1 or c.nbytes <= limit + 8 * len(c) + 16) for c in wkb.chunks)
    assert wkb.to_pylist() == list(shapely.to_wkb(rows, flavor="iso", byte_order=1))
    assert summary == list(coordinates_summary(rows))
    assert wkb_module.geometry_stats(arr)[0].tolist() == wkb_module.geometry_stats(
        arr, shapely.get_type_id(arr), shapely.has_z(arr))[0].tolist()  # counted per row, not per object


def test_shared_geometries_by_identity_not_equality() -> None:
    a, b = shapely.Point(1, 2), shapely.Point(1, 2)  # equal, not the same object
    codes, distinct = wkb_module.shared_geometries(np.array([a, b, a, a, None, None], dtype=object))
    assert codes.tolist() == [0, 1, 0, 0, 2, 2] and distinct[0] is a and distinct[1] is b and distinct[2] is None
    assert wkb_module.shared_geometries(np.array([a, b, None], dtype=object)) is None  # most rows distinct
    assert wkb_module.shared_geometries(np.array([a], dtype=object)) is None
    assert wkb_module.shared_geometries(np.array([a, b, a, b], dtype=object)[::2]) is not None  # a strided view


@pytest.mark.parametrize("where", ["wkb", "encode"])
def test_a_failing_row_group_keeps_the_old_report(reports: dict[str, tuple[gpd.GeoDataFrame, dict]], where: str,
                                                  tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    report, metadata = reports["sample"]
    monkeypatch.setattr(geoparquet, "ROW_GROUP_ROWS", 50)
    calls = []

    def fail_third(original):  # type: ignore[no-untyped-def]
        def wrapped(*args, **kwargs):  # type: ignore[no-untyped-def]
            calls.append(1)
            if len(calls) == 3:
                raise OSError("disk full")
            return original(*args, **kwargs)
        return wrapped

    if where == "wkb":
        monkeypatch.setattr(WkbColumn, "rows", fail_third(WkbColumn.rows))
    else:
        monkeypatch.setattr(pq.ParquetWriter, "write_table", fail_third(pq.ParquetWriter.write_table))
    out = tmp_path / "r.parquet"
    out.write_bytes(b"old")
    threads = threading.active_count()
    with pytest.raises(OSError, match="disk full"):
        write_report(report, metadata, str(out))
    assert len(calls) == 3
    assert out.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.parquet"]
    assert threading.active_count() == threads  # the writing thread is gone
