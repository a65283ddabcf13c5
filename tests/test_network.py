"""The road network (geo/network.py), the exempt border and its crossings (geo/border.py), in metres.

Roads here are hand-built in UTM 50N metres near the origin of ``tests/world.py``; every expected distance is
computed by hand from the coordinates.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import world

import transportmon
from transportmon.config import make_config
from transportmon.geo.border import crossings, exempt_border, unit_polygon
from transportmon.geo.network import RoadNetwork, snap

CRS = world.CRS_M
X0, Y0 = world.X0, world.Y0


def L(*pts: tuple[float, float]) -> shapely.LineString:
    """A LineString from metre offsets to the world's origin."""
    return shapely.LineString([(X0 + x, Y0 + y) for x, y in pts])


def P(x: float, y: float) -> shapely.Point:
    return shapely.Point(X0 + x, Y0 + y)


def roads(geoms: list, **cols: list) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"road_id": [f"r{i}" for i in range(len(geoms))], **cols}, geometry=gpd.GeoSeries(geoms, crs=CRS)
    )


def part_of(net: RoadNetwork, road_row: int, k: int = 0) -> int:
    """Index of the k-th part of a road row."""
    return int(np.flatnonzero(net.parts["road_row"].to_numpy() == road_row)[k])


def dist(net: RoadNetwork, src: tuple[int, float], dst: tuple[int, float], cutoff: float = 1e9) -> float:
    out = net.distances(
        np.array([src[0]]), np.array([float(src[1])]), np.array([dst[0]]), np.array([float(dst[1])]), cutoff
    )
    return float(out[0])


# ------------------------------------------------------------------------------------------------------------
# graph


def test_end_points_connect() -> None:
    net = RoadNetwork.from_roads(roads([L((0, 0), (1000, 0)), L((1000, 0), (1000, 500))]))
    assert net.n_nodes == 3
    # from 200 m along the first road to 100 m along the second: 800 + 100
    assert dist(net, (0, 200), (1, 100)) == pytest.approx(900)


def test_end_points_match_on_a_centimetre_grid() -> None:
    # 4 mm apart: the same node; 5 cm apart: not connected
    net = RoadNetwork.from_roads(roads([L((0, 0), (1000, 0)), L((1000.004, 0), (2000, 0))]))
    assert net.n_nodes == 3
    assert dist(net, (0, 0), (1, 500)) == pytest.approx(1500, abs=0.01)
    apart = RoadNetwork.from_roads(roads([L((0, 0), (1000, 0)), L((1000.05, 0), (2000, 0))]))
    assert apart.n_nodes == 4
    assert np.isinf(dist(apart, (0, 0), (1, 500)))


def test_crossing_at_an_interior_vertex_does_not_connect() -> None:
    # Two roads crossing in an X without a shared end point: a bridge over a road, not a junction.
    net = RoadNetwork.from_roads(roads([L((0, 0), (1000, 0)), L((500, -500), (500, 500))]))
    assert np.isinf(dist(net, (0, 500), (1, 500)))


def test_parallel_edges_keep_the_shortest() -> None:
    straight = L((0, 0), (1000, 0))
    detour = L((0, 0), (0, 1000), (1000, 1000), (1000, 0))  # 3000 m between the same two nodes
    spur = L((1000, 0), (1500, 0))
    net = RoadNetwork.from_roads(roads([detour, straight, spur]))
    assert net.n_nodes == 3
    # source at the start of the straight road, node (0, 0)
    assert dist(net, (1, 0), (2, 100)) == pytest.approx(1100)
    node_d = net.node_distances(np.array([1]), np.array([0.0]), 1e9)
    assert sorted(node_d.tolist()) == pytest.approx([0.0, 1000.0, 1500.0], abs=1e-6)


def test_parallel_edges_order_does_not_matter() -> None:
    straight = L((0, 0), (1000, 0))
    detour = L((1000, 0), (1000, 1000), (0, 1000), (0, 0))  # reversed direction, 3000 m
    spur = L((1000, 0), (1500, 0))
    for geoms in ([straight, detour, spur], [detour, straight, spur]):
        net = RoadNetwork.from_roads(roads(geoms))
        src = part_of(net, geoms.index(spur))
        # from the far end of the spur to the node (0, 0): 500 + 1000, never the 3000 m detour or the sum 4000
        d = net.node_distances(np.array([src]), np.array([500.0]), 1e9)
        assert d.max() == pytest.approx(1500)


def test_edges_are_undirected() -> None:
    net = RoadNetwork.from_roads(
        roads([L((0, 0), (1000, 0)), L((2000, 0), (1000, 0))])
    )  # second drawn backwards
    assert dist(net, (0, 0), (1, 0)) == pytest.approx(2000)  # pos 0 of the second road is at x=2000
    assert dist(net, (1, 0), (0, 0)) == pytest.approx(2000)


def test_multilinestring_road_pieces_connect() -> None:
    multi = shapely.MultiLineString([[(X0, Y0), (X0 + 1000, Y0)], [(X0 + 1000, Y0), (X0 + 1000, Y0 + 1000)]])
    net = RoadNetwork.from_roads(roads([multi, L((1000, 1000), (2000, 1000))]))
    assert len(net.parts) == 3
    assert net.parts["road_row"].tolist() == [0, 0, 1]
    assert net.parts["length_m"].tolist() == pytest.approx([1000, 1000, 1000])
    assert dist(net, (0, 0), (2, 250)) == pytest.approx(2250)


def test_multilinestring_with_a_gap_is_not_bridged() -> None:
    multi = shapely.MultiLineString([[(X0, Y0), (X0 + 1000, Y0)], [(X0 + 1100, Y0), (X0 + 2000, Y0)]])
    net = RoadNetwork.from_roads(roads([multi]))
    assert len(net.parts) == 2
    assert np.isinf(dist(net, (0, 0), (1, 0)))


def test_uv_topology_is_used_when_present() -> None:
    # End points coincide, but u/v say the roads do not meet (a flyover): no connection.
    a, b = L((0, 0), (1000, 0)), L((1000, 0), (2000, 0))
    apart = RoadNetwork.from_roads(roads([a, b], u=["1", "3"], v=["2", "4"]))
    assert apart.n_nodes == 4
    assert np.isinf(dist(apart, (0, 0), (1, 500)))
    # The same geometry with a shared node id connects.
    joined = RoadNetwork.from_roads(roads([a, b], u=["1", "2"], v=["2", "3"]))
    assert dist(joined, (0, 0), (1, 500)) == pytest.approx(1500)


def test_uv_topology_connects_across_a_geometric_gap() -> None:
    net = RoadNetwork.from_roads(
        roads([L((0, 0), (1000, 0)), L((1010, 0), (2000, 0))], u=[10, 20], v=[20, 30])
    )
    assert dist(net, (0, 0), (1, 0)) == pytest.approx(1000)


def test_uv_with_missing_ids_falls_back_to_geometry() -> None:
    net = RoadNetwork.from_roads(
        roads([L((0, 0), (1000, 0)), L((1000, 0), (2000, 0))], u=["1", None], v=["2", None])
    )
    assert dist(net, (0, 0), (1, 500)) == pytest.approx(1500)


def test_same_part_is_measured_directly() -> None:
    # A crossing and a checkpoint on one 10 km part, 1 km apart: 1000 m, not via the ends (2000 + 3000).
    net = RoadNetwork.from_roads(roads([L((0, 0), (10_000, 0))]))
    assert dist(net, (0, 2000), (0, 3000)) == pytest.approx(1000)
    assert dist(net, (0, 3000), (0, 2000)) == pytest.approx(1000)


def test_same_part_of_a_loop_takes_the_shorter_way() -> None:
    # A closed loop of 4000 m: positions 100 and 3900 are 200 m apart through the shared node, 3800 m along.
    net = RoadNetwork.from_roads(roads([L((0, 0), (1000, 0), (1000, 1000), (0, 1000), (0, 0))]))
    assert dist(net, (0, 100), (0, 3900)) == pytest.approx(200)


def test_nearest_of_many_sources_and_cutoff() -> None:
    net = RoadNetwork.from_roads(roads([L((0, 0), (10_000, 0)), L((10_000, 0), (20_000, 0))]))
    out = net.distances(
        np.array([0, 1]),
        np.array([0.0, 9_000.0]),
        np.array([0, 1, 1]),
        np.array([5_000.0, 1_000.0, 8_000.0]),
        1e9,
    )
    # x=5 km: 5 km from the source at x=0; x=11 km: 8 km back to the source at x=19 km (the node at x=10 km is
    # 9 km from it); x=18 km: 1 km
    assert out.tolist() == pytest.approx([5000, 8000, 1000])
    cut = net.distances(
        np.array([0]), np.array([0.0]), np.array([0, 1]), np.array([2_000.0, 5_000.0]), 10_000
    )
    assert cut[0] == pytest.approx(2000)
    assert np.isinf(cut[1])  # 15 km > cutoff


def test_no_sources_and_no_destinations() -> None:
    net = RoadNetwork.from_roads(roads([L((0, 0), (1000, 0))]))
    none = net.distances(np.array([], dtype=int), np.array([]), np.array([0]), np.array([10.0]), 1e9)
    assert np.isinf(none).all()
    assert len(net.distances(np.array([0]), np.array([0.0]), np.array([], dtype=int), np.array([]), 1e9)) == 0


def test_zero_length_part_does_not_break_the_graph() -> None:
    degenerate = shapely.LineString([(X0 + 1000, Y0), (X0 + 1000, Y0)])
    net = RoadNetwork.from_roads(roads([L((0, 0), (1000, 0)), degenerate, L((1000, 0), (2000, 0))]))
    assert dist(net, (0, 0), (2, 500)) == pytest.approx(1500)


# ------------------------------------------------------------------------------------------------------------
# snap


def test_snap_nearest_part_distance_and_position() -> None:
    net = RoadNetwork.from_roads(roads([L((0, 0), (1000, 0)), L((0, 500), (1000, 500))]))
    s = snap(net.parts, np.array([P(300, 100), P(700, 450), P(0, 250)]))
    assert s["part"].tolist()[:2] == [0, 1]
    assert s["distance_m"].tolist() == pytest.approx([100, 50, 250])
    assert s["pos_m"].tolist()[:2] == pytest.approx([300, 700])
    assert s["x"].iloc[0] - X0 == pytest.approx(300)
    assert s["y"].iloc[1] - Y0 == pytest.approx(500)
    assert s["part"].iloc[2] in (0, 1)  # an exact tie is resolved deterministically
    again = snap(net.parts, np.array([P(0, 250)]))
    assert again["part"].iloc[0] == s["part"].iloc[2]


def test_snap_prefers_a_covered_road_within_a_metre() -> None:
    net = RoadNetwork.from_roads(roads([L((0, 0), (1000, 0)), L((0, 1.5), (1000, 1.5))]))
    pt = np.array([P(500, 0.6)])  # 0.6 m from part 0, 0.9 m from part 1
    assert snap(net.parts, pt)["part"].iloc[0] == 0
    assert snap(net.parts, pt, prefer=np.array([False, True]))["part"].iloc[0] == 1
    far = np.array([P(500, -1.0)])  # 1.0 m vs 2.5 m: beyond the 1 m tie band, the nearest wins
    assert snap(net.parts, far, prefer=np.array([False, True]))["part"].iloc[0] == 0


def test_snap_tie_on_a_shared_vertex_follows_rank_not_row_order() -> None:
    a, b = L((0, 0), (1000, 0)), L((1000, 0), (1000, 1000))
    pt = np.array([P(1000, 0)])  # exactly on the shared vertex
    for geoms, rank in (([a, b], [1, 0]), ([b, a], [0, 1])):
        net = RoadNetwork.from_roads(roads(geoms))
        s = snap(net.parts, pt, rank=np.array(rank))
        assert geoms[s["part"].iloc[0]] is b


def test_snap_without_roads() -> None:
    empty = RoadNetwork.from_roads(roads([]))
    s = snap(empty.parts, np.array([P(0, 0)]))
    assert s["part"].tolist() == [-1]
    assert s["distance_m"].isna().all()


# ------------------------------------------------------------------------------------------------------------
# exempt border and crossings


@pytest.fixture(scope="module")
def bounds_m() -> gpd.GeoDataFrame:
    return world.boundaries().to_crs(CRS)


def test_unit_polygon_from_sub_units() -> None:
    b = gpd.GeoDataFrame(
        {"adcode": ["360402", "360403"]},
        geometry=gpd.GeoSeries([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)], crs=CRS),
    )
    assert unit_polygon(b, "360400").area == pytest.approx(2)
    assert unit_polygon(b, "420000") is None


def test_exempt_border_is_the_shared_stretch(bounds_m: gpd.GeoDataFrame) -> None:
    line = exempt_border(bounds_m, "360400", ["420000"], 250)
    # the top edge x 0…60 km plus ε at the corner, plus ~200 m down the west edge near Hubei's corner
    assert line.length == pytest.approx(60_445, abs=5)
    ys = shapely.get_coordinates(line)[:, 1] - Y0
    assert ys.max() == pytest.approx(100_000, abs=0.01)


def test_exempt_border_epsilon_both_sides(bounds_m: gpd.GeoDataFrame) -> None:
    # Hubei's polygon is 50 m from Jiujiang's: within ε=51 m the edge is shared, within ε=49 m nothing is.
    assert exempt_border(bounds_m, "360400", ["420000"], 49).is_empty
    assert exempt_border(bounds_m, "360400", ["420000"], 51).length > 59_000


def test_exempt_border_missing_units(bounds_m: gpd.GeoDataFrame) -> None:
    assert exempt_border(bounds_m, "360400", ["999900"], 250).is_empty
    assert exempt_border(bounds_m, "999900", ["420000"], 250).is_empty


def test_crossings_of_the_world(bounds_m: gpd.GeoDataFrame) -> None:
    net = RoadNetwork.from_roads(world.roads().to_crs(CRS))
    cross = crossings(net.parts, exempt_border(bounds_m, "360400", ["420000"], 250))
    road_ids = world.roads()["road_id"].to_numpy()[net.parts["road_row"].to_numpy()[cross["part"].to_numpy()]]
    assert sorted(road_ids) == ["r-g105", "r-g70"]
    assert cross["pos_m"].tolist() == pytest.approx([50_000, 50_000], abs=0.01)
    assert sorted((cross["x"] - X0).round(3).tolist()) == [20_000, 30_000]


def test_crossing_of_a_road_along_the_border_counts_once() -> None:
    border = L((0, 0), (10_000, 0))
    net = RoadNetwork.from_roads(roads([L((2000, -1000), (2000, 0), (5000, 0), (5000, 1000))]))
    cross = crossings(net.parts, border)
    assert len(cross) == 1
    assert cross["pos_m"].iloc[0] == pytest.approx(1000)


def test_no_border_no_crossings() -> None:
    net = RoadNetwork.from_roads(roads([L((0, 0), (1000, 0))]))
    assert len(crossings(net.parts, shapely.MultiLineString())) == 0


# ------------------------------------------------------------------------------------------------------------
# through the audit


def test_border_epsilon_decides_the_exempt_border(tmp_path: Path) -> None:
    d = world.write_world(tmp_path, [{"checkpoint_id": "keep", "x": 30, "y": 98}])
    wide = transportmon.audit(
        d, as_of="2020-03-16", boundaries=d / "boundaries.geojson", config=make_config(border_epsilon_m=51)
    )
    narrow = transportmon.audit(
        d, as_of="2020-03-16", boundaries=d / "boundaries.geojson", config=make_config(border_epsilon_m=49)
    )
    assert wide.report["verdict"].tolist() == ["keep"]
    assert narrow.report["verdict"].tolist() == ["remove"]
    assert narrow.metadata["crossings"] == 0
    assert pd.isna(narrow.report["distance_to_crossing_m"].iloc[0])


def test_road_split_at_the_border(tmp_path: Path) -> None:
    # OSM splits ways at admin boundaries: G105 as two rows meeting on the border line.
    d = world.write_world(
        tmp_path,
        [{"checkpoint_id": "south", "x": 30, "y": 98}, {"checkpoint_id": "north", "x": 30, "y": 101}],
    )
    world.to_wgs(
        [world.line((30, 50), (30, 100)), world.line((30, 100), (30, 110))],
        road_id=["s1", "s2"],
        ref=["G105", "G105"],
        highway=["trunk", "trunk"],
    ).to_file(d / "roads.geojson", driver="GeoJSON")
    result = transportmon.audit(d, as_of="2020-03-16", boundaries=d / "boundaries.geojson")
    rep = result.report.set_index("subject_id")
    assert result.metadata["crossings"] >= 1
    assert rep.loc["south", "distance_to_crossing_m"] == pytest.approx(2000, abs=0.5)
    assert rep.loc["north", "distance_to_crossing_m"] == pytest.approx(1000, abs=0.5)
    assert rep["verdict"].tolist() == ["keep", "keep"]


def test_network_distance_through_a_junction(tmp_path: Path) -> None:
    # On X001 (y=50 km, x 30→50) 5 km east of G105: 5 km to the junction + 50 km up G105 = 55 km, past the
    # default 50 km search. With a longer tolerance (the search goes to 10×) it is measured.
    d = world.write_world(tmp_path, [{"checkpoint_id": "x001", "x": 35, "y": 50}])
    cfg = make_config(border_tolerance_m=60_000)
    rep = transportmon.audit(d, as_of="2020-03-16", boundaries=d / "boundaries.geojson", config=cfg).report
    assert rep["road_ref"].iloc[0] == "X001"
    assert rep["distance_to_crossing_m"].iloc[0] == pytest.approx(55_000, abs=0.5)
    assert rep["verdict"].iloc[0] == "keep"
