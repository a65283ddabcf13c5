"""OpenStreetMap roads end to end, offline: an OSM XML file made here → roads layer → audit.

The case straight-line distance gets wrong: a checkpoint 1 km from the Hubei border but 6 km by road from the nearest
crossing is ``remove``; one 2.5 km by road from a crossing is ``keep``. A ferry across the border is a crossing.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from osm_fixtures import write_osm_xml
from typer.testing import CliRunner

import transportmon
from transportmon.cli import app

BORDER = 115.95
KM_LON = 1 / (111.320 * 0.86892)  # degrees of longitude per km at 29.7° N (cos 29.7° ≈ 0.8689)
KM_LAT = 1 / 110.85


@pytest.fixture()
def osm_world(tmp_path: Path) -> Path:
    west = BORDER - 1.0 * KM_LON  # a road 1 km west of the border, parallel to it
    nodes = {
        1: (115.85, 29.70), 2: (west, 29.70), 3: (BORDER + 0.03, 29.70),  # G105 crossing the border
        4: (west, 29.70 + 6.0 * KM_LAT),                                   # riverside road north from node 2
        5: (115.92, 29.80), 6: (115.94, 29.80), 7: (115.96, 29.80), 8: (115.98, 29.80),  # road, ferry, road
    }
    ways = [
        (201, [1, 2, 3], {"highway": "trunk", "ref": "G105", "name": "105国道"}),
        (202, [2, 4], {"highway": "tertiary", "ref": "X001", "name": "滨江路"}),
        (203, [5, 6], {"highway": "tertiary", "ref": "Y002", "name": "码头路"}),
        (204, [6, 7], {"route": "ferry", "name": "小池轮渡"}),
        (205, [7, 8], {"highway": "tertiary", "name": "小池路"}),
    ]
    folder = tmp_path / "osm"
    folder.mkdir()
    write_osm_xml(folder / "roads.osm", nodes, ways)
    gpd.GeoDataFrame(
        {"adcode": ["360400", "420000"], "name": ["九江市", "湖北省"], "level": ["city", "province"]},
        geometry=[shapely.box(115.70, 29.60, BORDER, 29.90), shapely.box(BORDER + 0.0003, 29.60, 116.10, 29.90)],
        crs="EPSG:4326",
    ).to_file(folder / "boundaries.geojson", driver="GeoJSON")
    pd.DataFrame({
        "checkpoint_id": ["river-6km", "g105-2.5km", "ferry-1.5km", "g105-3.5km"],
        "lon": [west, BORDER - 2.5 * KM_LON, 115.94 - 0.5 * KM_LON, BORDER - 3.5 * KM_LON],
        "lat": [29.70 + 5.0 * KM_LAT, 29.70, 29.80, 29.70],
    }).to_csv(folder / "checkpoints.csv", index=False)
    return folder


def _verdicts(report: pd.DataFrame) -> dict[str, tuple[str, float]]:
    cp = report[report["subject"] == "checkpoint"]
    return {i: (v, d) for i, v, d in zip(cp["subject_id"], cp["verdict"], cp["distance_to_crossing_m"])}


def test_osm_file_audit_network_distance_decides(osm_world: Path) -> None:
    result = transportmon.audit(osm_world, as_of="2020-03-16")
    got = _verdicts(result.report)
    verdict, dist = got["river-6km"]
    assert verdict == "remove" and 5_900 < dist < 6_100
    straight = result.report.set_index("subject_id").loc["river-6km", "distance_to_exempt_border_m"]
    assert 950 < straight < 1_050  # 1 km in a straight line: straight-line nearness would have kept it
    assert got["g105-2.5km"][0] == "keep" and 2_450 < got["g105-2.5km"][1] < 2_550
    assert got["g105-3.5km"][0] == "remove"
    # The ferry line crosses the border: a checkpoint on the township road 0.5 km from the pier (~1 km of ferry to
    # the border) stays.
    assert got["ferry-1.5km"][0] == "keep" and 1_400 < got["ferry-1.5km"][1] < 1_550
    assert result.metadata["crossings"] == 2  # G105 and the ferry
    # The osmnx topology (u/v node ids) was used: the roads layer carried them.
    assert {"u", "v"} <= set(result.layers["roads"].frame.columns)


def test_roads_command_converts_osm_and_audit_agrees(osm_world: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    gpkg = tmp_path / "roads.gpkg"
    res = runner.invoke(app, ["roads", "--osm-file", str(osm_world / "roads.osm"), "--out", str(gpkg)])
    assert res.exit_code == 0, res.output
    roads = gpd.read_file(gpkg)
    assert {"road_id", "ref", "highway", "name", "road_class", "u", "v"} <= set(roads.columns)
    assert set(roads.loc[roads["route"] == "ferry", "road_id"]) == {"204"}
    assert set(roads.loc[roads["road_id"] == "201", "road_class"]) == {"national"}
    out_osm, out_gpkg = tmp_path / "a.geojson", tmp_path / "b.geojson"
    common = ["audit", "--checkpoints", str(osm_world / "checkpoints.csv"), "--boundaries",
              str(osm_world / "boundaries.geojson"), "--as-of", "2020-03-16", "--fail-on", "never"]
    assert runner.invoke(app, [*common, "--roads", str(osm_world / "roads.osm"), "--out", str(out_osm)]).exit_code == 0
    assert runner.invoke(app, [*common, "--roads", str(gpkg), "--out", str(out_gpkg)]).exit_code == 0
    a = {f["properties"]["subject_id"]: f["properties"]["verdict"] for f in json.loads(out_osm.read_text())["features"]}
    b = {f["properties"]["subject_id"]: f["properties"]["verdict"] for f in json.loads(out_gpkg.read_text())["features"]}
    assert a == b == {"river-6km": "remove", "g105-2.5km": "keep", "ferry-1.5km": "keep", "g105-3.5km": "remove"}


def test_roads_command_needs_exactly_one_source(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["roads", "--out", str(tmp_path / "r.gpkg")])
    assert res.exit_code == 2


def test_broken_osm_file_is_exit_2_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "roads.osm"
    bad.write_text("<osm><way id='1'><nd ref='9'/>", encoding="utf-8")
    cps = tmp_path / "checkpoints.csv"  # readable: the small layers are read before the OSM file
    cps.write_text("checkpoint_id,lon,lat\nc1,116.0,29.7\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["audit", "--roads", str(bad), "--checkpoints", str(cps),
                                   "--out", str(tmp_path / "r.geojson")])
    assert res.exit_code == 2
    assert "roads.osm" in res.output or "roads.osm" in (res.stderr if res.stderr_bytes is not None else "")
