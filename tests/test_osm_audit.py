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
    res = CliRunner().invoke(app, ["audit", "--roads", str(bad), "--checkpoints", str(bad.with_suffix(".csv")),
                                   "--out", str(tmp_path / "r.geojson")])
    assert res.exit_code == 2
    assert "roads.osm" in res.output or "roads.osm" in (res.stderr if res.stderr_bytes is not None else "")


# ------------------------------------------------------------------------------- tracks are village roads (§3)
#
#   T ~~~~~~~~~~ track 302 (2.2 km to the border) ~~~~~~~~~~|~~~ H          lat 29.70 + 1.3 km
#   |                                                        |
#   X001 (tertiary, 1.3 km)                                  |
#   |                                                        |
#   N ------------------- G105 (2.2 km to the border) -------|--- E          lat 29.70
#   F ~~ track 304 going north, 8 km west of the border                      (lon BORDER - 8 km)
#
# A checkpoint at T is 2.2 km from a crossing over the track and 3.5 km by the drivable route (X001 then G105).

TRACK_LAT = 29.70 + 1.3 * KM_LAT
TRACK_NODES = {
    10: (BORDER - 8.0 * KM_LON, 29.70), 11: (BORDER - 2.2 * KM_LON, 29.70), 12: (BORDER + 1.0 * KM_LON, 29.70),
    13: (BORDER - 2.2 * KM_LON, TRACK_LAT), 14: (BORDER + 0.5 * KM_LON, TRACK_LAT),
    15: (BORDER - 8.0 * KM_LON, 29.70 + 2.0 * KM_LAT),
}


def _track_ways(shortcut: dict[str, str]) -> list[tuple[int, list[int], dict[str, str]]]:
    return [
        (301, [10, 11, 12], {"highway": "trunk", "ref": "G105", "name": "105国道"}),
        (302, [13, 14], {"highway": "track", **shortcut}),
        (303, [11, 13], {"highway": "tertiary", "ref": "X001", "name": "岭下路"}),
        (304, [10, 15], {"highway": "track", "name": "田间路"}),
    ]


def _track_world(folder: Path, shortcut: dict[str, str]) -> dict[str, Path]:
    """The world above as an OSM file and as a roads file with the same lines and tags, with boundaries and
    checkpoints. The file's lines are split where roads meet (the G105 at N), as a roads file must be: its segments
    connect at their end points."""
    folder.mkdir()
    ways = _track_ways(shortcut)
    osm = write_osm_xml(folder / "roads.osm", TRACK_NODES, ways)
    tags = sorted({k for _, _, t in ways for k in t})
    rows = [(i, refs, t) for i, refs, t in ways if i != 301] + [(301, [10, 11], ways[0][2]), (301, [11, 12], ways[0][2])]
    gpd.GeoDataFrame(
        {"road_id": [str(i) for i, _, _ in rows], **{k: [t.get(k) for _, _, t in rows] for k in tags}},
        geometry=[shapely.LineString([TRACK_NODES[n] for n in refs]) for _, refs, _ in rows], crs="EPSG:4326",
    ).to_file(folder / "roads.geojson", driver="GeoJSON")
    gpd.GeoDataFrame(
        {"adcode": ["360400", "420000"], "name": ["九江市", "湖北省"], "level": ["city", "province"]},
        geometry=[shapely.box(115.70, 29.60, BORDER, 29.90), shapely.box(BORDER + 0.0003, 29.60, 116.10, 29.90)],
        crs="EPSG:4326",
    ).to_file(folder / "boundaries.geojson", driver="GeoJSON")
    pd.DataFrame({
        "checkpoint_id": ["x001-top", "far-track"],
        "lon": [TRACK_NODES[13][0], TRACK_NODES[10][0]],
        "lat": [TRACK_LAT, 29.70 + 1.0 * KM_LAT],
    }).to_csv(folder / "checkpoints.csv", index=False)
    return {"osm": osm, "file": folder / "roads.geojson", "checkpoints": folder / "checkpoints.csv",
            "boundaries": folder / "boundaries.geojson"}


def _audit_roads(world: dict[str, Path], source: str) -> transportmon.AuditResult:
    return transportmon.audit(roads=world[source], checkpoints=world["checkpoints"], boundaries=world["boundaries"],
                              as_of="2020-03-16")


@pytest.mark.parametrize("source", ["osm", "file"])
def test_checkpoint_on_a_far_track_is_remove_from_osm_and_from_a_file(tmp_path: Path, source: str) -> None:
    result = _audit_roads(_track_world(tmp_path / "w", {}), source)
    verdict, dist = _verdicts(result.report)["far-track"]
    assert verdict == "remove"
    assert 8_900 < dist < 9_100  # 1 km down the track, 8 km along the G105
    row = result.report.set_index("subject_id").loc["far-track"]
    assert row["road_class"] == "village" and row["road_id"] == "304"


@pytest.mark.parametrize("source", ["osm", "file"])
@pytest.mark.parametrize("shortcut", [{}, {"motor_vehicle": "yes"}, {"access": "private"}, {"motor_vehicle": "agricultural"}])
def test_checkpoint_2_2_km_over_a_track_is_keep(tmp_path: Path, source: str, shortcut: dict[str, str]) -> None:
    result = _audit_roads(_track_world(tmp_path / "w", shortcut), source)
    verdict, dist = _verdicts(result.report)["x001-top"]
    assert verdict == "keep" and 2_150 < dist < 2_250  # not the 3.5 km of the drivable route
    assert result.metadata["crossings"] == 2  # the G105 and the track
    assert result.metadata["inputs"]["roads"]["tracks_kept"] == 2
    assert result.metadata["inputs"]["roads"]["tracks_excluded"] == 0
    assert not any("track" in w for w in result.metadata["warnings"])


@pytest.mark.parametrize("source", ["osm", "file"])
@pytest.mark.parametrize("shortcut", [{"motor_vehicle": "no"}, {"access": "no"}, {"access": "No ", "motor_vehicle": "yes"}])
def test_closed_track_is_not_a_road(tmp_path: Path, source: str, shortcut: dict[str, str]) -> None:
    result = _audit_roads(_track_world(tmp_path / "w", shortcut), source)
    verdict, dist = _verdicts(result.report)["x001-top"]
    assert verdict == "remove" and 3_450 < dist < 3_550  # only the drivable route is left
    assert result.metadata["crossings"] == 1
    assert "302" not in set(result.roads.roads["road_id"])
    roads_meta = result.metadata["inputs"]["roads"]
    assert (roads_meta["tracks_kept"], roads_meta["tracks_excluded"]) == (1, 1)
    assert "roads: 1 track(s) tagged motor_vehicle=no or access=no left out: not roads for this audit" in (
        result.metadata["warnings"])


def test_roads_file_without_tracks_says_nothing_about_tracks(tmp_path: Path) -> None:
    world = _track_world(tmp_path / "w", {})
    roads = gpd.read_file(world["file"])
    roads[roads["highway"] != "track"].to_file(world["file"], driver="GeoJSON")
    meta = _audit_roads(world, "file").metadata["inputs"]["roads"]
    assert "tracks_kept" not in meta and "tracks_excluded" not in meta


# ------------------------------------------------------------------------ coincident end points connect (§3)


@pytest.mark.parametrize("gap_m", [0.0, 20.0])
def test_ways_whose_ends_share_coordinates_connect(tmp_path: Path, gap_m: float) -> None:
    """The G105 mapped as two ways that end at two nodes of the same place (a duplicate node, JOSM's warning): the
    network runs through as it would from a roads file. Nodes 20 m apart stay apart."""
    split = BORDER - 1.0 * KM_LON
    nodes = {1: (BORDER - 4.0 * KM_LON, 29.70), 2: (split, 29.70), 3: (split + gap_m / 1000 * KM_LON, 29.70),
             4: (BORDER + 1.0 * KM_LON, 29.70)}
    ways = [(401, [1, 2], {"highway": "trunk", "ref": "G105"}), (402, [3, 4], {"highway": "trunk", "ref": "G105"})]
    folder = tmp_path / "dup"
    world = _track_world(folder, {})
    write_osm_xml(world["osm"], nodes, ways)
    pd.DataFrame({"checkpoint_id": ["g105-2.5km"], "lon": [BORDER - 2.5 * KM_LON], "lat": [29.70]}).to_csv(
        world["checkpoints"], index=False)
    result = _audit_roads(world, "osm")
    verdict, dist = _verdicts(result.report)["g105-2.5km"]
    roads_meta = result.metadata["inputs"]["roads"]
    if gap_m == 0.0:
        assert verdict == "keep" and 2_450 < dist < 2_550
        assert roads_meta["merged_nodes"] == 1
        assert any("merged 1 OSM node" in note for note in roads_meta["notes"])
        assert any(w.startswith("roads: 1 OpenStreetMap node(s) merged") for w in result.metadata["warnings"])
    else:
        assert verdict == "remove" and pd.isna(dist)  # no crossing reachable: the report leaves it empty
        assert roads_meta["merged_nodes"] == 0 and "notes" not in roads_meta
        assert not any("merged" in w for w in result.metadata["warnings"])


def test_terminal_says_what_was_left_out_and_merged(tmp_path: Path) -> None:
    world = _track_world(tmp_path / "w", {"access": "no"})
    nodes = {**TRACK_NODES, 16: TRACK_NODES[15], 17: (TRACK_NODES[15][0], TRACK_NODES[15][1] + 0.01)}
    write_osm_xml(world["osm"], nodes, [*_track_ways({"access": "no"}), (305, [16, 17], {"highway": "track"})])
    runner = CliRunner()
    res = runner.invoke(app, ["audit", "--roads", str(world["osm"]), "--checkpoints", str(world["checkpoints"]),
                              "--boundaries", str(world["boundaries"]), "--as-of", "2020-03-16", "--fail-on", "never",
                              "--out", str(tmp_path / "r.geojson")])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())  # the console may wrap long lines
    assert "warning: roads: 1 track(s) tagged motor_vehicle=no or access=no left out" in text
    assert "warning: roads: 1 OpenStreetMap node(s) merged with another at the same place" in text
    res = runner.invoke(app, ["roads", "--osm-file", str(world["osm"]), "--out", str(tmp_path / "roads.gpkg")])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "warning: left out 1 OSM track way(s) tagged motor_vehicle=no or access=no" in text
    assert "warning: merged 1 OSM node(s) into another at the same place" in text
    assert set(gpd.read_file(tmp_path / "roads.gpkg")["highway"]) == {"trunk", "tertiary", "track"}
