"""The report frame (report.py) and its writers (io/write.py): contract columns, findings, order, RFC 7946."""

from __future__ import annotations

import json
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import world

import transportmon
from transportmon._errors import InputError
from transportmon.io.write import check_target, geojson_chunks, output_format, write_report
from transportmon.pipeline import AuditResult
from transportmon.report import (
    COLUMNS,
    assemble,
    attach_findings,
    filter_only,
    finding_counts,
    highest_severity,
    verdict_counts,
)
from transportmon.rules.registry import FINDING_COLUMNS

POLICY = "九府发〔2020〕3号 (六)"


def subjects(ids: list[str], subject: str = "checkpoint", **cols: list) -> gpd.GeoDataFrame:
    n = len(ids)
    return gpd.GeoDataFrame(
        {
            "subject": subject,
            "subject_id": ids,
            "verdict": cols.pop("verdict", ["keep"] * n),
            "source_row": cols.pop("source_row", list(range(n))),
            **cols,
        },
        geometry=[shapely.Point(116 + i / 100, 30) for i in range(n)],
        crs="EPSG:4326",
    )


def finding(subject: str, sid: str, row: int, rule_id: str, severity: str) -> dict:
    return {
        "subject": subject,
        "subject_id": sid,
        "source_row": row,
        "rule_id": rule_id,
        "severity": severity,
        "message_zh": f"{rule_id} 中文",
        "message_en": f"{rule_id} english",
    }


# ------------------------------------------------------------------------------------------------------------
# assemble


def test_assemble_has_the_contract_columns_in_order() -> None:
    rep = assemble([subjects(["b", "a"])], POLICY)
    assert list(rep.columns) == [*COLUMNS, "geometry"]
    assert rep.crs.to_epsg() == 4326
    assert rep["policy"].tolist() == [POLICY, POLICY]
    assert rep["findings"].tolist() == [[], []]


def test_assemble_sorts_by_subject_then_id_then_row() -> None:
    cps = subjects(["b", "a", "a"], source_row=[0, 5, 1])
    trips = subjects(["t2", "t1"], subject="trip", verdict=["compliant", "over-cap"])
    roads = subjects(["r1"], subject="roads", verdict=["rejected"], source_row=[3])
    rep = assemble([trips, roads, cps], POLICY)
    assert list(zip(rep["subject"], rep["subject_id"], rep["source_row"])) == [
        ("checkpoint", "a", 1),
        ("checkpoint", "a", 5),
        ("checkpoint", "b", 0),
        ("roads", "r1", 3),
        ("trip", "t1", 1),
        ("trip", "t2", 0),
    ]
    assert rep.index.tolist() == list(range(6))


def test_assemble_does_not_depend_on_the_order_of_parts() -> None:
    a = subjects(["x", "y"])
    b = subjects(["t"], subject="trip", verdict=["compliant"])
    one, two = assemble([a, b], POLICY), assemble([b, a], POLICY)
    pd.testing.assert_frame_equal(one.drop(columns="findings"), two.drop(columns="findings"))


def test_assemble_rounds_distances_and_drops_infinity() -> None:
    rep = assemble(
        [subjects(["a", "b"], distance_to_crossing_m=[1234.5678, np.inf], distance_to_road_m=[0.04, np.nan])],
        POLICY,
    )
    assert rep["distance_to_crossing_m"].iloc[0] == 1234.6
    assert pd.isna(rep["distance_to_crossing_m"].iloc[1])
    assert rep["distance_to_road_m"].iloc[0] == 0.0
    assert str(rep["source_row"].dtype) == "Int64"


def test_assemble_nothing() -> None:
    rep = assemble([], POLICY)
    assert len(rep) == 0
    assert list(rep.columns) == [*COLUMNS, "geometry"]
    assert verdict_counts(rep) == {}
    assert finding_counts(attach_findings(rep, pd.DataFrame(columns=FINDING_COLUMNS))) == {
        "violation": 0,
        "warning": 0,
        "waived": 0,
        "info": 0,
    }


# ------------------------------------------------------------------------------------------------------------
# attach_findings


def test_attach_findings_by_subject_and_row() -> None:
    rep = assemble([subjects(["a", "b", "c"])], POLICY)
    f = pd.DataFrame(
        [
            finding("checkpoint", "b", 1, "TM111", "violation"),
            finding("checkpoint", "b", 1, "TM102", "info"),
            finding("checkpoint", "a", 0, "TM110", "warning"),
            finding("trip", "a", 0, "TM201", "violation"),
        ]
    )  # another subject with the same row number
    out = attach_findings(rep, f).set_index("subject_id")
    assert [x["rule_id"] for x in out.loc["b", "findings"]] == ["TM102", "TM111"]  # ordered by rule id
    assert out.loc["b", "max_severity"] == "violation"
    assert [x["rule_id"] for x in out.loc["a", "findings"]] == ["TM110"]
    assert out.loc["a", "max_severity"] == "warning"
    assert out.loc["c", "findings"] == [] and pd.isna(out.loc["c", "max_severity"])
    assert list(out.loc["b", "findings"][0]) == ["finding_id", "rule_id", "severity", "message_zh", "message_en"]
    assert [x["finding_id"] for x in out.loc["b", "findings"]] == ["TM102:checkpoint:b", "TM111:checkpoint:b"]


def test_attach_findings_keeps_duplicate_ids_apart() -> None:
    rep = assemble([subjects(["dup", "dup"], verdict=["keep", "rejected"], source_row=[0, 4])], POLICY)
    f = pd.DataFrame(
        [
            finding("checkpoint", "dup", 4, "TM902", "warning"),
            finding("checkpoint", "dup", 0, "TM102", "info"),
        ]
    )
    out = attach_findings(rep, f)
    assert [[x["rule_id"] for x in fl] for fl in out["findings"]] == [["TM102"], ["TM902"]]
    assert out["max_severity"].tolist() == ["info", "warning"]


def test_attach_no_findings() -> None:
    rep = assemble([subjects(["a"])], POLICY)
    out = attach_findings(rep, pd.DataFrame(columns=FINDING_COLUMNS))
    assert out["findings"].tolist() == [[]]
    assert highest_severity(out) is None


def test_counts() -> None:
    rep = assemble(
        [
            subjects(["a", "b", "c"], verdict=["keep", "remove", "remove"]),
            subjects(["t"], subject="trip", verdict=["over-cap"]),
        ],
        POLICY,
    )
    rep = attach_findings(
        rep,
        pd.DataFrame(
            [
                finding("checkpoint", "b", 1, "TM101", "violation"),
                finding("checkpoint", "a", 0, "TM110", "warning"),
                finding("checkpoint", "a", 0, "TM102", "info"),
            ]
        ),
    )
    assert verdict_counts(rep) == {"checkpoint": {"keep": 1, "remove": 2}, "trip": {"over-cap": 1}}
    assert finding_counts(rep) == {"violation": 1, "warning": 1, "waived": 0, "info": 0}
    assert highest_severity(rep) == "violation"


# ------------------------------------------------------------------------------------------------------------
# filter_only


@pytest.fixture()
def graded() -> gpd.GeoDataFrame:
    rep = assemble([subjects(["v", "w", "i", "n"])], POLICY)
    return attach_findings(
        rep,
        pd.DataFrame(
            [
                finding("checkpoint", "v", 0, "TM101", "violation"),
                finding("checkpoint", "w", 1, "TM104", "warning"),
                finding("checkpoint", "i", 2, "TM102", "info"),
            ]
        ),
    )


def test_filter_only_violation(graded: gpd.GeoDataFrame) -> None:
    assert filter_only(graded, "violation")["subject_id"].tolist() == ["v"]


def test_filter_only_warning_includes_violations(graded: gpd.GeoDataFrame) -> None:
    assert filter_only(graded, "warning")["subject_id"].tolist() == ["v", "w"]


def test_filter_only_none_keeps_all(graded: gpd.GeoDataFrame) -> None:
    assert filter_only(graded, None)["subject_id"].tolist() == ["i", "n", "v", "w"]


def test_filter_only_nothing_matches() -> None:
    rep = attach_findings(assemble([subjects(["a"])], POLICY), pd.DataFrame(columns=FINDING_COLUMNS))
    out = filter_only(rep, "violation")
    assert len(out) == 0 and list(out.columns) == list(rep.columns)


# ------------------------------------------------------------------------------------------------------------
# GeoJSON (RFC 7946)


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> AuditResult:
    d = world.write_world(
        tmp_path_factory.mktemp("report"),
        [
            {"checkpoint_id": "keep", "x": 30, "y": 98, "turn_back": "true"},
            {"checkpoint_id": "remove", "x": 30, "y": 60, "turn_back": ""},
            {"checkpoint_id": "nowhere", "x": 10, "y": 10, "turn_back": ""},
            {"checkpoint_id": "bad", "x": 30, "y": 60, "turn_back": "maybe"},
        ],
    )
    lines = (d / "checkpoints.csv").read_text(encoding="utf-8").splitlines()
    lines.append("nolon,,30.1,")  # a rejected row without geometry
    (d / "checkpoints.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return transportmon.audit(d, as_of="2020-03-16", boundaries=d / "boundaries.geojson")


@pytest.fixture(scope="module")
def geojson_text(audited: AuditResult, tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("out") / "report.geojson"
    assert write_report(audited.report, audited.metadata, str(out)) == "geojson"
    return out.read_text(encoding="utf-8")


def _walk_positions(coords: object) -> list[list[float]]:
    if isinstance(coords, list) and coords and isinstance(coords[0], (int, float)):
        return [coords]  # type: ignore[list-item]
    return [p for c in coords for p in _walk_positions(c)]  # type: ignore[union-attr]


def test_geojson_is_an_rfc7946_feature_collection(geojson_text: str) -> None:
    doc = json.loads(geojson_text)
    assert doc["type"] == "FeatureCollection"
    assert "crs" not in doc  # RFC 7946 §4: no crs member
    assert len(doc["features"]) == 5
    for feat in doc["features"]:
        assert feat["type"] == "Feature"
        assert set(feat) == {"type", "properties", "geometry"}
        assert "crs" not in feat
        geom = feat["geometry"]
        if geom is None:
            continue
        assert geom["type"] in (
            "Point",
            "LineString",
            "Polygon",
            "MultiPoint",
            "MultiLineString",
            "MultiPolygon",
        )
        for lon, lat, *rest in _walk_positions(geom["coordinates"]):
            assert -180 <= lon <= 180 and -90 <= lat <= 90
            assert not rest  # 2D


def test_geojson_coordinates_are_lon_lat(geojson_text: str, audited: AuditResult) -> None:
    doc = json.loads(geojson_text)
    keep = next(f for f in doc["features"] if f["properties"]["subject_id"] == "keep")
    lon, lat = keep["geometry"]["coordinates"]
    expected = world.checkpoints([{"checkpoint_id": "k", "x": 30, "y": 98}]).geometry.iloc[0]
    assert lon == pytest.approx(expected.x, abs=1e-7) and lat == pytest.approx(expected.y, abs=1e-7)
    assert 115 < lon < 118 and 29 < lat < 31  # near Jiujiang: longitude first


def test_geojson_properties_follow_the_contract(geojson_text: str) -> None:
    doc = json.loads(geojson_text)
    for feat in doc["features"]:
        props = feat["properties"]
        assert list(props)[: len(COLUMNS)] == COLUMNS
        assert isinstance(props["findings"], list)
        for f in props["findings"]:
            assert list(f) == ["finding_id", "rule_id", "severity", "message_zh", "message_en"]
            assert f["finding_id"] == f"{f['rule_id']}:{props['subject']}:{props['subject_id']}"
            assert f["severity"] in ("violation", "warning", "info")
        assert props["policy"] == POLICY
    by_id = {f["properties"]["subject_id"]: f["properties"] for f in doc["features"]}
    assert by_id["keep"]["distance_to_crossing_m"] == 2000.0
    assert by_id["nowhere"]["distance_to_crossing_m"] is None  # unreachable: empty, not Infinity
    assert by_id["bad"]["verdict"] == "rejected" and by_id["bad"]["reason"] == "malformed-value"
    assert "Infinity" not in json.dumps(doc) and "NaN" not in json.dumps(doc)


def test_geojson_features_are_sorted(geojson_text: str) -> None:
    props = [f["properties"] for f in json.loads(geojson_text)["features"]]
    keys = [(p["subject"], p["subject_id"], p["source_row"]) for p in props]
    assert keys == sorted(keys)


def test_geojson_metadata_member(geojson_text: str, audited: AuditResult) -> None:
    md = json.loads(geojson_text)["metadata"]
    assert md["as_of"] == "2020-03-16"
    assert md["counts"] == {"checkpoint": {"keep": 1, "rejected": 2, "remove": 1, "review": 1}}
    assert md["version"] == transportmon.__version__
    assert md["rules"]["border_tolerance_m"] == 3000.0
    assert set(md["inputs"]) == {"roads", "checkpoints", "boundaries"}


def test_geojson_reads_back_with_geopandas(tmp_path: Path, audited: AuditResult) -> None:
    out = tmp_path / "report.geojson"
    write_report(audited.report, audited.metadata, str(out))
    back = gpd.read_file(out)
    assert len(back) == len(audited.report)
    assert back.crs.to_epsg() == 4326
    assert back["subject_id"].tolist() == audited.report["subject_id"].tolist()
    assert back["verdict"].tolist() == audited.report["verdict"].tolist()
    assert int(back.geometry.isna().sum()) == int(audited.report.geometry.isna().sum()) == 1
    b = back.geometry.dropna()
    assert shapely.equals_exact(
        b.to_numpy(), audited.report.geometry.dropna().to_numpy(), tolerance=1e-7
    ).all()


def test_geojson_streamed_chunks_equal_the_file(geojson_text: str, audited: AuditResult) -> None:
    assert "".join(geojson_chunks(audited.report, audited.metadata)) == geojson_text


def test_geojson_of_an_empty_report(tmp_path: Path) -> None:
    rep = attach_findings(assemble([], POLICY), pd.DataFrame(columns=FINDING_COLUMNS))
    out = tmp_path / "empty.geojson"
    write_report(rep, {"counts": {}}, str(out))
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["features"] == [] and doc["metadata"] == {"counts": {}}


def test_geojson_values_are_json_ready(tmp_path: Path) -> None:
    rep = assemble([subjects(["a"], distance_to_road_m=[np.float64(1.26)], passengers=[np.int64(3)])], POLICY)
    rep = attach_findings(rep, pd.DataFrame(columns=FINDING_COLUMNS))
    out = tmp_path / "r.geojson"
    write_report(rep, {"when": pd.Timestamp("2020-03-16"), "n": np.int64(2), "x": math.inf}, str(out))
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["features"][0]["properties"]["passengers"] == 3
    assert doc["features"][0]["properties"]["distance_to_road_m"] == 1.3
    assert doc["metadata"] == {"when": "2020-03-16", "n": 2, "x": None}


# ------------------------------------------------------------------------------------------------------------
# other formats and the target


def test_parquet_and_csv_hold_the_same_subjects(tmp_path: Path, audited: AuditResult) -> None:
    pq, csv = tmp_path / "r.parquet", tmp_path / "r.csv"
    assert write_report(audited.report, audited.metadata, str(pq)) == "parquet"
    assert write_report(audited.report, audited.metadata, str(csv)) == "csv"
    back = gpd.read_parquet(pq)
    assert back["subject_id"].tolist() == audited.report["subject_id"].tolist()
    assert back["verdict"].tolist() == audited.report["verdict"].tolist()
    assert back.crs.to_epsg() == 4326
    findings = back["findings"]  # native Parquet lists of {finding_id, rule_id, severity, message_zh, message_en}
    assert [[f["rule_id"] for f in fl] for fl in findings] == [
        [f["rule_id"] for f in fl] for fl in audited.report["findings"]
    ]
    assert all(list(f) == ["finding_id", "rule_id", "severity", "message_zh", "message_en"] for fl in findings
               for f in fl)
    assert back["risk_stops"].isna().all()  # checkpoints only: no risk stops
    import pyarrow.parquet as pqm

    md = json.loads(pqm.read_schema(pq).metadata[b"transportmon"])
    assert md["as_of"] == "2020-03-16"
    assert csv.read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM, for Excel
    table = pd.read_csv(csv, dtype={"subject_id": str}, encoding="utf-8-sig")
    assert "geometry" not in table.columns
    assert table["subject_id"].tolist() == audited.report["subject_id"].tolist()
    assert list(table.columns)[: len(COLUMNS)] == COLUMNS
    # CSV has no nesting: there findings and risk_stops are JSON text
    assert [json.loads(x) for x in table["findings"]] == audited.report["findings"].tolist()
    assert table["risk_stops"].isna().all()


def test_output_format_follows_the_extension() -> None:
    assert output_format("a.geojson") == "geojson"
    assert output_format("a.json") == "geojson"
    assert output_format("A.PARQUET") == "parquet"
    assert output_format("a.csv") == "csv"
    assert output_format("-") == "geojson"
    assert output_format("a.xlsx") == "xlsx"
    assert output_format("a.GPKG") == "gpkg"
    with pytest.raises(InputError, match="xlsx"):
        output_format("a.docx")


def test_never_over_an_input(tmp_path: Path) -> None:
    src = tmp_path / "checkpoints.geojson"
    src.write_text("{}")
    with pytest.raises(InputError, match="input"):
        check_target(str(src), [src])
    with pytest.raises(InputError, match="input"):
        check_target(str(tmp_path / "." / "checkpoints.geojson"), [str(src)])
    with pytest.raises(InputError, match="does not exist"):
        check_target(str(tmp_path / "missing" / "r.geojson"), [])
    assert check_target(str(tmp_path / "r.geojson"), [src]) == (tmp_path / "r.geojson").resolve()


def test_write_is_atomic_and_leaves_no_temporary(tmp_path: Path, audited: AuditResult) -> None:
    out = tmp_path / "r.geojson"
    out.write_text("old", encoding="utf-8")
    write_report(audited.report, audited.metadata, str(out))
    assert out.read_text(encoding="utf-8").startswith('{"type": "FeatureCollection"')
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.geojson"]


def test_failed_write_keeps_the_old_report(tmp_path: Path, audited: AuditResult) -> None:
    out = tmp_path / "r.geojson"
    out.write_text("old", encoding="utf-8")
    broken = audited.report.copy()
    broken["findings"] = [object()] * len(broken)  # not JSON-serialisable: the writer fails midway
    with pytest.raises(TypeError):
        write_report(broken, audited.metadata, str(out))
    assert out.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.geojson"]
