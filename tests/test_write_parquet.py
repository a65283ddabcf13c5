"""The GeoParquet report (io/write.py): native nested ``findings`` and ``risk_stops``, the other columns as they are,
valid GeoParquet ``geo`` metadata, WKB built column-wise, deterministic bytes, atomic, readable by other tools."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyproj
import pytest
import shapely
import world
from typer.testing import CliRunner

import transportmon
from transportmon._arrow import FINDINGS_TYPE, STOPS_TYPE, arrow
from transportmon.cli import app
from transportmon.io import encode, geoparquet
from transportmon.io import wkb as wkb_module
from transportmon.io.wkb import wkb_array
from transportmon.io.write import write_report
from transportmon.pipeline import AuditResult
from transportmon.report import COLUMNS, assemble, attach_findings
from transportmon.rules.registry import FINDING_COLUMNS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import compare

AS_OF = "2020-03-16"
KEYS = ["finding_id", "rule_id", "severity", "message_zh", "message_en"]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = world.write_world(tmp_path_factory.mktemp("pqworld"), [
        {"checkpoint_id": "keep", "x": 30, "y": 98, "name": "九江长江大桥 bridge"},
        {"checkpoint_id": "remove", "x": 30, "y": 60, "name": 'G105 "south"\n'},
        {"checkpoint_id": "nowhere", "x": 10, "y": 10},
    ])
    lines = (d / "checkpoints.csv").read_text(encoding="utf-8").splitlines()
    lines.append("nolon,,30.1,")  # a rejected row without geometry
    (d / "checkpoints.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    world.write_coach_layers(d)
    return d


@pytest.fixture(scope="module")
def audited(data: Path) -> AuditResult:
    return transportmon.audit(data, as_of=AS_OF)


@pytest.fixture(scope="module")
def written(audited: AuditResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pq") / "report.parquet"
    assert write_report(audited.report, audited.metadata, str(out)) == "parquet"
    return out


def pylist(column: pd.Series) -> list:
    """An Arrow-backed column's values as Python values (null → None)."""
    return arrow(column).to_pylist()


def as_lists(value: object) -> object:
    """A cell read back by pandas (numpy arrays of dicts) as plain lists."""
    if isinstance(value, np.ndarray):
        return [as_lists(v) for v in value.tolist()]
    if isinstance(value, list):
        return [as_lists(v) for v in value]
    return value


def test_the_fixture_has_every_kind_of_row(audited: AuditResult) -> None:
    rep = audited.report
    assert {"checkpoint", "trip"} <= set(rep["subject"])
    assert "rejected" in set(rep["verdict"])
    assert rep.geometry.isna().any()  # the rejected checkpoint without coordinates
    assert set(shapely.get_type_id(rep.geometry.dropna().to_numpy())) == {0, 1}  # points and line strings


def test_findings_and_risk_stops_are_native_parquet_lists(written: Path, audited: AuditResult) -> None:
    schema = pq.read_schema(written)
    assert schema.field("findings").type == FINDINGS_TYPE
    assert [f.name for f in schema.field("findings").type.value_type] == KEYS
    assert schema.field("risk_stops").type == STOPS_TYPE
    table = pq.read_table(written)
    assert table["findings"].to_pylist() == audited.report["findings"].tolist()
    assert table["risk_stops"].to_pylist() == pylist(audited.report["risk_stops"])
    # the Parquet schema itself nests (no JSON text anywhere)
    parquet_schema = str(pq.ParquetFile(written).schema)
    assert "findings (List)" in parquet_schema or "group findings (LIST)" in parquet_schema


def test_nested_values_round_trip_through_geopandas(written: Path, audited: AuditResult) -> None:
    back = gpd.read_parquet(written)
    assert back.crs.to_epsg() == 4326
    findings = [as_lists(v) for v in back["findings"]]
    assert findings == audited.report["findings"].tolist()
    assert all(list(f) == KEYS for fl in findings for f in fl)  # each finding: a dict, keys in contract order
    assert any(fl for fl in findings)
    rep = audited.report
    stops = [as_lists(v) for v in back["risk_stops"]]
    is_trip = (rep["subject"] == "trip").to_numpy()
    assert all(s is None for s, t in zip(stops, is_trip) if not t)  # checkpoints have no risk_stops: null
    over = rep.index[rep["subject_id"] == "over"][0]
    assert stops[over] == ["HB1"]
    # the same frame comes back with Arrow-backed lists when asked
    lists = gpd.read_parquet(written, to_pandas_kwargs={
        "types_mapper": lambda t: pd.ArrowDtype(t) if pa.types.is_list(t) else None})
    assert lists["findings"].dtype == rep["findings"].dtype and lists["risk_stops"].dtype == rep["risk_stops"].dtype
    assert lists["findings"].tolist() == rep["findings"].tolist()


def test_other_columns_keep_their_types_and_order(written: Path, audited: AuditResult) -> None:
    rep = audited.report
    back = gpd.read_parquet(written)
    assert list(back.columns) == [*COLUMNS, "geometry"]
    for col in COLUMNS:
        if col in ("findings", "risk_stops"):
            continue
        assert back[col].dtype == rep[col].dtype, col
        pd.testing.assert_series_equal(back[col], rep[col], check_names=True, obj=col)
    schema = pq.read_schema(written)
    assert schema.field("subject").type == pa.large_string()
    assert schema.field("passengers").type == pa.int64()
    assert schema.field("distance_to_road_m").type == pa.float64()
    assert schema.field("geometry").type == pa.binary()
    assert schema.field("geometry").metadata[b"ARROW:extension:name"] == b"geoarrow.wkb"
    assert json.loads(pq.read_schema(written).metadata[b"transportmon"])["as_of"] == AS_OF


def test_geometry_and_geo_metadata(written: Path, audited: AuditResult) -> None:
    rep = audited.report
    geo = json.loads(pq.read_schema(written).metadata[b"geo"])
    assert geo["primary_column"] == "geometry" and geo["version"] == "1.1.0"
    col = geo["columns"]["geometry"]
    assert col["encoding"] == "WKB"
    assert col["geometry_types"] == ["LineString", "Point"]
    assert pyproj.CRS.from_json_dict(col["crs"]).equals(pyproj.CRS("EPSG:4326"))
    assert col["bbox"] == pytest.approx(rep.total_bounds.tolist(), abs=0)
    back = gpd.read_parquet(written)
    assert back.geometry.isna().tolist() == rep.geometry.isna().tolist()
    assert list(shapely.to_wkb(back.geometry.to_numpy())) == list(shapely.to_wkb(rep.geometry.to_numpy()))
    meta = pq.ParquetFile(written).metadata
    assert meta.num_rows == len(rep) and meta.num_row_groups == 1
    stats = {meta.row_group(0).column(i).path_in_schema: meta.row_group(0).column(i).is_stats_set
             for i in range(meta.num_columns)}
    # min/max where a reader can skip row groups by them (the sort keys), not on other text or the WKB
    assert stats["subject"] and stats["subject_id"] and not stats["verdict"] and not stats["geometry"]


def test_duckdb_reads_the_nested_columns(written: Path, audited: AuditResult) -> None:
    import duckdb

    rows = duckdb.sql(f"SELECT subject_id, findings[1].rule_id AS rule, len(findings) AS n, risk_stops "
                      f"FROM read_parquet('{written}')").fetchall()
    rep = audited.report
    assert [r[0] for r in rows] == rep["subject_id"].tolist()
    assert [r[2] for r in rows] == [len(f) for f in rep["findings"]]
    assert [r[1] for r in rows] == [f[0]["rule_id"] if f else None for f in rep["findings"]]
    assert [r[3] for r in rows] == pylist(rep["risk_stops"])


def test_same_report_same_bytes(tmp_path: Path, audited: AuditResult) -> None:
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    write_report(audited.report, audited.metadata, str(a))
    write_report(audited.report.copy(), audited.metadata, str(b))
    assert a.read_bytes() == b.read_bytes()


def test_empty_findings_and_null_risk_stops(tmp_path: Path) -> None:
    cps = gpd.GeoDataFrame({"subject": "checkpoint", "subject_id": ["a", "b"], "verdict": ["keep", "remove"],
                            "source_row": [0, 1]}, geometry=[shapely.Point(116, 30), None], crs="EPSG:4326")
    trips = gpd.GeoDataFrame({"subject": "trip", "subject_id": ["t1", "t2"], "verdict": ["over-cap", "compliant"],
                              "source_row": [0, 1], "risk_stops": [["S1", "S2"], []]},
                             geometry=[shapely.LineString([(116, 30), (117, 31)]), shapely.LineString()],
                             crs="EPSG:4326")
    findings = pd.DataFrame([{"subject": "checkpoint", "subject_id": "b", "source_row": 1, "rule_id": "TM101",
                              "severity": "violation", "message_zh": "中文 \"引号\"", "message_en": "line\nbreak"}],
                            columns=FINDING_COLUMNS)
    rep = attach_findings(assemble([cps, trips], "policy"), findings)
    out = tmp_path / "r.geoparquet"
    assert write_report(rep, {}, str(out)) == "parquet"
    table = pq.read_table(out)
    assert table["subject_id"].to_pylist() == ["a", "b", "t1", "t2"]
    assert table["findings"].to_pylist() == [[], [dict(zip(KEYS, ["TM101:checkpoint:b", "TM101", "violation",
                                                                  "中文 \"引号\"", "line\nbreak"]))], [], []]
    assert table["risk_stops"].to_pylist() == [None, None, ["S1", "S2"], []]
    assert table["geometry"].to_pylist() == list(shapely.to_wkb(rep.geometry.to_numpy(), flavor="iso"))
    back = gpd.read_parquet(out)
    assert back.geometry.isna().tolist() == [False, True, False, False]
    assert back.geometry.iloc[3].is_empty


def test_an_empty_report(tmp_path: Path) -> None:
    rep = attach_findings(assemble([], "policy"), pd.DataFrame(columns=FINDING_COLUMNS))
    out = tmp_path / "empty.parquet"
    write_report(rep, {"counts": {}}, str(out))
    back = gpd.read_parquet(out)
    assert len(back) == 0 and list(back.columns) == [*COLUMNS, "geometry"] and back.crs.to_epsg() == 4326
    assert pq.read_schema(out).field("findings").type == FINDINGS_TYPE
    geo = json.loads(pq.read_schema(out).metadata[b"geo"])["columns"]["geometry"]
    assert geo["geometry_types"] == [] and "bbox" not in geo


def test_row_groups_and_wkb_pieces(tmp_path: Path, audited: AuditResult, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(geoparquet, "ROW_GROUP_ROWS", 3)
    out = tmp_path / "r.parquet"
    write_report(audited.report, audited.metadata, str(out))
    n = len(audited.report)
    assert pq.ParquetFile(out).metadata.num_row_groups == -(-n // 3)
    back = pq.read_table(out)
    assert back["findings"].to_pylist() == audited.report["findings"].tolist()
    assert back["geometry"].to_pylist() == list(shapely.to_wkb(audited.report.geometry.to_numpy(), flavor="iso"))


def test_wkb_array_is_shapely_wkb() -> None:
    geoms = np.array([
        shapely.Point(1.5, -2), None, shapely.LineString([(0, 0), (1, 1), (2, 5)]),
        shapely.Polygon([(0, 0), (1, 0), (1, 1)]), shapely.Point(), shapely.LineString(), shapely.Point(1, 2, 3),
        shapely.MultiPoint([(9, 9), (-1, -2)]), shapely.LineString([(3, -4), (5, 6)]), shapely.LinearRing(
            [(0, 0), (1, 0), (1, 1)]),
    ], dtype=object)
    wkb, types, bbox = wkb_array(geoms)
    assert wkb.type == pa.binary()
    assert wkb.to_pylist() == list(shapely.to_wkb(geoms, flavor="iso", byte_order=1))
    assert types == ["LineString", "MultiPoint", "Point", "Point Z", "Polygon"]
    assert bbox == [-1.0, -4.0, 9.0, 9.0]
    assert wkb_array(np.array([None, None], dtype=object))[1:] == ([], None)
    assert len(wkb_array(np.array([], dtype=object))[0]) == 0


def test_wkb_array_halves_pieces_too_big_for_32_bit_offsets(monkeypatch: pytest.MonkeyPatch) -> None:
    geoms = np.array([shapely.LineString([(i, 0), (i, 1), (i, 2)]) for i in range(10)] + [None], dtype=object)
    monkeypatch.setattr(wkb_module, "MAX_BINARY_BYTES", 300)
    wkb, types, bbox = wkb_array(geoms)
    assert wkb.num_chunks > 1
    assert wkb.to_pylist() == list(shapely.to_wkb(geoms, flavor="iso"))
    assert types == ["LineString"] and bbox == [0.0, 0.0, 9.0, 2.0]


def test_a_failed_parquet_write_keeps_the_old_report(tmp_path: Path, audited: AuditResult) -> None:
    out = tmp_path / "r.parquet"
    out.write_bytes(b"old")
    broken = audited.report.copy()
    broken["findings"] = [object()] * len(broken)  # not a list of findings: the writer fails
    with pytest.raises((pa.ArrowException, TypeError, ValueError)):
        write_report(broken, audited.metadata, str(out))
    assert out.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.parquet"]


def test_cli_only_violation_to_parquet(data: Path, tmp_path: Path, audited: AuditResult) -> None:
    out = tmp_path / "v.parquet"
    result = CliRunner().invoke(app, ["audit", "--data", str(data), "--as-of", AS_OF, "--out", str(out),
                                      "--only", "violation", "--fail-on", "never"])
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    assert table.schema.field("findings").type == FINDINGS_TYPE
    findings = table["findings"].to_pylist()
    assert findings and all(any(f["severity"] == "violation" for f in fl) for fl in findings)
    rep = audited.report
    expected = rep.loc[rep["max_severity"] == "violation", "subject_id"].tolist()
    assert table["subject_id"].to_pylist() == expected
    assert "over" in expected
    md = json.loads(table.schema.metadata[b"transportmon"])
    assert sum(md["counts"]["trip"].values()) == int((rep["subject"] == "trip").sum())  # counts cover every subject


def _peer_of(rep: pd.DataFrame, path: Path, json_text: bool) -> None:
    """A file shaped like the DuckDB peer's output, from our own report."""
    trips = rep[rep["subject"] == "trip"]
    first = [fl[0] if len(fl) else {} for fl in trips["findings"]]
    stops = pylist(trips["risk_stops"])
    table = pa.table({
        "trip_id": trips["subject_id"].tolist(),
        **{c: pa.array(trips[c].array) for c in ("verdict", "reason", "scope", "risk_level")},
        "risk_stops": [json.dumps(s) if s is not None else None for s in stops] if json_text else pa.array(
            stops, STOPS_TYPE),
        "excess_passengers": pa.array(trips["excess_passengers"].array),
        "message_zh": [f.get("message_zh") for f in first], "message_en": [f.get("message_en") for f in first],
    })
    pq.write_table(table, path)


@pytest.mark.parametrize("json_text", [False, True])
def test_benchmark_compare_reads_native_and_json_lists(tmp_path: Path, audited: AuditResult, written: Path,
                                                        json_text: bool) -> None:
    peer = tmp_path / "peer.parquet"
    _peer_of(audited.report, peer, json_text)
    n_trips = int((audited.report["subject"] == "trip").sum())
    ours = written
    if json_text:  # an older transportmon report: findings and risk_stops as JSON text
        ours = tmp_path / "old.parquet"
        encode.flat_columns(audited.report).to_parquet(ours, index=False)
        assert pq.read_schema(ours).field("findings").type in (pa.string(), pa.large_string())
    result = compare.compare(str(ours), str(peer))
    assert result == {"trips": n_trips, "missing": 0, **{c: 0 for c in compare.COLUMNS}}
