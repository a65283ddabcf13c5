"""OSM roads and DESIGN §3: tracks are village roads unless closed to motor vehicles, and ways whose ends share
coordinates but not a node id connect, as a roads file's segments do. Small OSM XML files made here; no network."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import osmnx as ox
import pandas as pd
import pytest

from transportmon.geo.network import RoadNetwork
from transportmon.io.osm import roads_from_graph, roads_from_osm_file

sys.path.insert(0, str(Path(__file__).parent))
from osm_fixtures import write_osm_xml


def _rows(frame: pd.DataFrame) -> list[list[Any]]:
    """Rows as lists, NA as None."""
    return [[None if pd.isna(x) else x for x in row] for row in frame.itertuples(index=False)]


def _tracks_osm(path: Path, **closed: str) -> Path:
    """A primary road with three tracks off it: 601 open, 602 tagged with ``closed``, 603 open and merged from two
    ways (603, 604) with the same tags."""
    nodes = {1: (116.0, 29.7), 2: (116.01, 29.7), 3: (116.01, 29.71), 4: (116.02, 29.7), 5: (116.03, 29.7),
             6: (116.03, 29.71), 7: (116.03, 29.72), 8: (116.02, 29.71)}
    ways = [
        (600, [1, 2, 4, 5], {"highway": "primary", "ref": "S303"}),
        (601, [2, 3], {"highway": "track", "motor_vehicle": "yes"}),
        (602, [4, 8], {"highway": "track", **closed}),
        (603, [5, 6], {"highway": "track", "access": "private"}),
        (604, [6, 7], {"highway": "track", "access": "private"}),
    ]
    return write_osm_xml(path, nodes, ways)


def test_tracks_are_roads(tmp_path: Path) -> None:
    roads = roads_from_osm_file(_tracks_osm(tmp_path / "tracks.osm"))
    tracks = roads[roads["highway"] == "track"]
    assert _rows(tracks[["road_id", "u", "v"]]) == [["601", 2, 3], ["602", 4, 8], ["603;604", 5, 7]]
    assert roads.attrs["source"] == {"tracks_kept": 4, "tracks_excluded": 0, "merged_nodes": 0}


@pytest.mark.parametrize("closed", [{"motor_vehicle": "no"}, {"access": "no"}, {"access": "NO"}])
def test_track_closed_to_motor_vehicles_is_not_a_road(tmp_path: Path, closed: dict[str, str]) -> None:
    roads = roads_from_osm_file(_tracks_osm(tmp_path / "tracks.osm", **closed))
    assert sorted(roads.loc[roads["highway"] == "track", "road_id"]) == ["601", "603;604"]
    # without the track, node 4 is a bend of the primary road, simplified away like any other
    assert _rows(roads.loc[roads["road_id"] == "600", ["u", "v"]]) == [[1, 2], [2, 5]]
    source = roads.attrs["source"]
    assert (source["tracks_kept"], source["tracks_excluded"]) == (3, 1)
    assert source["notes"] == ["left out 1 OSM track way(s) tagged motor_vehicle=no or access=no (not roads for "
                               "this audit)"]


def test_closed_tag_on_another_road_keeps_it() -> None:
    """Only tracks close: a private or motor_vehicle=no residential street may still carry a checkpoint."""
    G = nx.MultiDiGraph(crs="EPSG:4326")
    for node, (x, y) in {1: (116.0, 29.7), 2: (116.01, 29.7), 3: (116.02, 29.7)}.items():
        G.add_node(node, x=x, y=y)
    G.add_edge(1, 2, osmid=1, highway="residential", motor_vehicle="no", length=1.0)
    G.add_edge(2, 3, osmid=[2, 3], highway="track", motor_vehicle=["yes", "no"], length=1.0)
    roads = roads_from_graph(G)
    assert _rows(roads[["road_id", "highway"]]) == [["1", "residential"]]
    assert roads.attrs["source"]["tracks_excluded"] == 2  # a merged edge is as many ways as it lists


def test_ends_that_share_coordinates_share_a_node_id(tmp_path: Path) -> None:
    """Duplicate nodes: way 702 starts where 701 ends, at node 3 instead of 2. Way 703 starts 20 m further on.
    Way 704 is a bridge whose middle vertex (node 9) lies on the end of 701 (node 2): a vertex, not an end."""
    east = 20 / (111_320 * np.cos(np.radians(29.7)))
    nodes = {1: (116.0, 29.7), 2: (116.01, 29.7), 3: (116.01, 29.7), 4: (116.02, 29.7), 5: (116.02 + east, 29.7),
             6: (116.03, 29.7), 8: (116.01, 29.69), 9: (116.01, 29.7), 10: (116.01, 29.71)}
    ways = [
        (701, [1, 2], {"highway": "primary"}),
        (702, [3, 4], {"highway": "secondary"}),
        (703, [5, 6], {"highway": "secondary"}),
        (704, [8, 9, 10], {"highway": "tertiary", "bridge": "yes"}),
    ]
    roads = roads_from_osm_file(write_osm_xml(tmp_path / "dup.osm", nodes, ways))
    assert _rows(roads[["road_id", "u", "v"]]) == [["701", 1, 2], ["702", 2, 4], ["703", 5, 6], ["704", 8, 10]]
    assert roads.attrs["source"]["merged_nodes"] == 1
    assert roads.attrs["source"]["notes"] == [
        "merged 1 OSM node(s) into another at the same place (ways whose ends share coordinates but not a node id "
        "connect)"]
    graph = nx.Graph(zip(roads["u"], roads["v"], strict=True))
    assert nx.has_path(graph, 1, 4) and not nx.has_path(graph, 1, 6) and not nx.has_path(graph, 1, 8)


def test_coincident_ends_merge_in_any_crs_and_the_file_path_agrees(tmp_path: Path) -> None:
    """A projected graph merges the same nodes; the lines as a roads file without node ids connect alike."""
    nodes = {1: (116.0, 29.7), 2: (116.01, 29.7), 3: (116.01, 29.7), 4: (116.02, 29.71)}
    ways = [(1, [1, 2], {"highway": "primary"}), (2, [3, 4], {"highway": "primary"})]
    G = ox.graph_from_xml(write_osm_xml(tmp_path / "dup.osm", nodes, ways), simplify=False, retain_all=True)
    projected = roads_from_graph(ox.projection.project_graph(G))
    assert _rows(projected[["u", "v"]]) == [[1, 2], [2, 4]] and projected.attrs["source"]["merged_nodes"] == 1
    as_file = projected.drop(columns=["u", "v"]).to_crs(32650)
    parts = RoadNetwork.from_roads(as_file).parts
    assert parts["v"].iloc[0] == parts["u"].iloc[1]
