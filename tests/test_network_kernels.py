"""The vectorised kernels behind the road network and the checkpoint evidence, against plain references.

Each fast kernel (geo/network.py, geo/border.py, geo/evidence.py) is compared with the straightforward code it
replaced — the same numbers, not merely close ones: verdicts hang on them. Coordinates are UTM-sized (hundreds of
kilometres) so rounding behaves as with real data.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import sparse

from transportmon.geo import evidence
from transportmon.geo.border import (
    crossings,
    distance_to_line,
    exempt_border,
    point_segment_distance,
    unit_polygon,
    units_rows,
)
from transportmon.geo.network import NODE_GRID_M, RoadNetwork, _end_nodes, near_parts, snap, undirected_csr

X0, Y0 = 400_000.0, 3_250_000.0
CRS = "EPSG:32650"
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ------------------------------------------------------------------------------------------------------------
# plain references (the code the kernels replaced)


def ref_matrix(u: np.ndarray, v: np.ndarray, w: np.ndarray, size: int) -> np.ndarray:
    w = np.maximum(w, 1e-9)
    a, b = np.minimum(u, v), np.maximum(u, v)
    order = np.lexsort((w, b, a))
    a, b, w = a[order], b[order], w[order]
    first = np.ones(len(a), dtype=bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    a, b, w = a[first], b[first], w[first]
    keep = a != b
    return sparse.csr_array((w[keep], (a[keep], b[keep])), shape=(size, size)).toarray()


def ref_end_nodes(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    start = shapely.get_coordinates(shapely.get_point(geoms, 0))
    end = shapely.get_coordinates(shapely.get_point(geoms, -1))
    grid = np.round(np.vstack([start, end]) / NODE_GRID_M).astype(np.int64)
    grid -= grid.min(axis=0)
    span = int(grid[:, 1].max()) + 1
    codes = pd.factorize(grid[:, 0] * span + grid[:, 1], sort=True)[0]
    return codes[: len(geoms)], codes[len(geoms):], int(codes.max()) + 1


def ref_near(geoms: np.ndarray, points: np.ndarray) -> set[tuple[int, int, float]]:
    tree = shapely.STRtree(geoms)
    (pi, _), dist = tree.query_nearest(points, return_distance=True, all_matches=True)
    nearest = np.full(len(points), np.nan)
    nearest[pi] = dist
    has = np.flatnonzero(~np.isnan(nearest))
    qi, gi = tree.query(points[has], predicate="dwithin", distance=nearest[has] + 1.0)
    p = has[qi]
    return set(zip(p.tolist(), gi.tolist(), shapely.distance(points[p], geoms[gi]).tolist(), strict=True))


def ref_snap(geoms: np.ndarray, points: np.ndarray, prefer: np.ndarray | None,
             rank: np.ndarray | None) -> pd.DataFrame:
    n = len(points)
    out = pd.DataFrame({"part": np.full(n, -1, dtype="int64"), "distance_m": np.full(n, np.nan),
                        "pos_m": np.full(n, np.nan), "x": np.full(n, np.nan), "y": np.full(n, np.nan)})
    tree = shapely.STRtree(geoms)
    (pi, _), dist = tree.query_nearest(points, return_distance=True, all_matches=True)
    nearest = np.full(n, np.nan)
    nearest[pi] = dist
    has = np.flatnonzero(~np.isnan(nearest))
    qi, gi = tree.query(points[has], predicate="dwithin", distance=nearest[has] + 1.0)
    pi = has[qi]
    cand = pd.DataFrame({"p": pi, "g": gi, "d": shapely.distance(points[pi], geoms[gi])})
    cand = cand.assign(pref=0 if prefer is None else ~np.asarray(prefer)[cand["g"].to_numpy()],
                       dq=np.round(cand["d"].to_numpy() / 1e-3),
                       rank=0 if rank is None else np.asarray(rank)[cand["g"].to_numpy()])
    cand = cand.sort_values(["p", "pref", "dq", "rank", "d", "g"]).drop_duplicates("p")
    p, g = cand["p"].to_numpy(), cand["g"].to_numpy()
    pos = shapely.line_locate_point(geoms[g], points[p])
    snapped = shapely.line_interpolate_point(geoms[g], pos)
    out.loc[p, "part"] = g
    out.loc[p, "distance_m"] = shapely.distance(points[p], geoms[g])
    out.loc[p, "pos_m"] = pos
    out.loc[p, "x"] = shapely.get_x(snapped)
    out.loc[p, "y"] = shapely.get_y(snapped)
    return out


def ref_distance_to(points: np.ndarray, line: shapely.Geometry) -> np.ndarray:
    coords, index = shapely.get_coordinates(shapely.get_parts(line), return_index=True)
    pair = np.flatnonzero(index[1:] == index[:-1])
    segments = shapely.linestrings(np.stack([coords[pair], coords[pair + 1]], axis=1))
    out = np.full(len(points), np.nan)
    valid = ~(pd.isna(points) | shapely.is_empty(points))
    (qi, _), dist = shapely.STRtree(segments).query_nearest(points[valid], return_distance=True)
    out[np.flatnonzero(valid)[qi]] = dist
    return out


def ref_crossings(parts: gpd.GeoDataFrame, border: shapely.Geometry) -> pd.DataFrame:
    geoms = parts.geometry.to_numpy()
    hit = shapely.STRtree(geoms).query(border, predicate="intersects")
    inter = shapely.intersection(geoms[hit], border)
    pieces, owner = shapely.get_parts(inter, return_index=True)
    is_line = np.isin(shapely.get_type_id(pieces), [1, 2])
    pieces = np.where(is_line, shapely.get_point(pieces, 0), pieces)
    keep = ~shapely.is_empty(pieces)
    pieces, owner = pieces[keep], owner[keep]
    part_idx = hit[owner]
    pos = shapely.line_locate_point(geoms[part_idx], pieces)
    out = pd.DataFrame({"part": part_idx.astype("int64"), "pos_m": pos,
                        "x": shapely.get_x(pieces), "y": shapely.get_y(pieces)})
    return out.drop_duplicates(["part", "x", "y"]).sort_values(["part", "pos_m"], ignore_index=True)


def ref_classify_distinct(roads: pd.DataFrame) -> pd.Series:
    cols = [c for c in ("road_class", "ref", "highway", "route") if c in roads.columns]
    keys = roads[cols].astype("string").fillna("\x00")
    codes = keys.groupby(cols, sort=False, dropna=False).ngroup().to_numpy()
    first = np.unique(codes, return_index=True)[1]
    distinct = roads.iloc[first]
    classes = evidence.classify(distinct["road_class"], distinct["ref"], distinct["highway"], distinct.get("route"))
    return pd.Series(classes.to_numpy()[codes], index=roads.index, dtype="string")


# ------------------------------------------------------------------------------------------------------------
# strategies

# a coarse lattice (so that end points, ties and shared vertices happen) plus sub-grid jitter
coord = st.builds(lambda k, j: k * 50.0 + j, st.integers(0, 40), st.sampled_from([0.0, 0.0, 0.003, 0.004, 0.7]))
point_xy = st.tuples(coord, coord)
line_xy = st.lists(point_xy, min_size=2, max_size=5)


def lines_of(raw: list[list[tuple[float, float]]]) -> np.ndarray:
    return np.array([shapely.LineString([(X0 + x, Y0 + y) for x, y in pts]) for pts in raw], dtype=object)


def points_of(raw: list[tuple[float, float]]) -> np.ndarray:
    return np.array([shapely.Point(X0 + x, Y0 + y) for x, y in raw], dtype=object)


# ------------------------------------------------------------------------------------------------------------
# graph


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, 7), st.integers(0, 7), st.sampled_from([0.0, 1.0, 2.5, 2.5, 7.0, 1e-12])),
                min_size=0, max_size=40))
def test_undirected_csr_is_the_shortest_of_parallel_edges(edges: list[tuple[int, int, float]]) -> None:
    u = np.array([e[0] for e in edges], dtype=np.int64)
    v = np.array([e[1] for e in edges], dtype=np.int64)
    w = np.array([e[2] for e in edges], dtype=float)
    got = undirected_csr(u, v, w, 8)
    assert np.array_equal(got.toarray(), ref_matrix(u, v, w, 8))
    assert got.has_sorted_indices
    assert np.all(got.data > 0)


@SETTINGS
@given(st.lists(line_xy, min_size=1, max_size=30))
def test_end_nodes_match_the_point_by_point_reference(raw: list) -> None:
    geoms = lines_of(raw)
    u, v, n = _end_nodes(geoms)
    ru, rv, rn = ref_end_nodes(geoms)
    assert n == rn
    assert np.array_equal(u, ru) and np.array_equal(v, rv)
    u2, v2, _ = _end_nodes(geoms, shapely.get_coordinates(geoms))  # from coordinates the caller has
    assert np.array_equal(u2, ru) and np.array_equal(v2, rv)


def test_end_nodes_of_an_empty_part_are_its_own() -> None:
    geoms = np.array([shapely.LineString([(0, 0), (1, 0)]), shapely.LineString(), shapely.LineString([(1, 0), (2, 0)])])
    u, v, n = _end_nodes(geoms)
    assert n == 4  # three end points and the empty part's own
    assert v[0] == u[2]
    assert u[1] == v[1] and u[1] not in (u[0], v[0], u[2], v[2])


# ------------------------------------------------------------------------------------------------------------
# snapping


@SETTINGS
@given(st.lists(line_xy, min_size=1, max_size=25),
       st.lists(st.tuples(st.integers(-20, 60).map(lambda k: k * 37.0 + 0.25), coord), min_size=1, max_size=25),
       st.sampled_from([(16.0, 64.0, 256.0), (1.0,), (), (2000.0,)]))
def test_near_parts_is_nearest_then_dwithin(raw_lines: list, raw_points: list, search: tuple) -> None:
    geoms, points = lines_of(raw_lines), points_of(raw_points)
    p, g, d = near_parts(geoms, points, search_m=search)
    got = set(zip(p.tolist(), g.tolist(), d.tolist(), strict=True))
    assert len(got) == len(p)
    assert got == ref_near(geoms, points)


@SETTINGS
@given(st.lists(line_xy, min_size=1, max_size=25), st.lists(point_xy, min_size=1, max_size=25), st.data())
def test_snap_matches_the_reference(raw_lines: list, raw_points: list, data: st.DataObject) -> None:
    geoms, points = lines_of(raw_lines), points_of(raw_points)
    prefer = np.array(data.draw(st.lists(st.booleans(), min_size=len(geoms), max_size=len(geoms))))
    rank = np.array(data.draw(st.permutations(range(len(geoms)))))
    parts = gpd.GeoDataFrame(geometry=gpd.GeoSeries(geoms, crs=CRS))
    want = ref_snap(geoms, points, prefer, rank)
    pd.testing.assert_frame_equal(snap(parts, points, prefer=prefer, rank=rank), want)
    # the rank as a function of the candidates' part numbers: any keys in the same order
    pd.testing.assert_frame_equal(snap(parts, points, prefer=prefer, rank=lambda g: rank[g] * 3 + 1), want)
    tree = shapely.STRtree(geoms)
    pd.testing.assert_frame_equal(snap(parts, points, prefer=prefer, rank=rank, tree=tree), want)


def test_snap_skips_missing_and_empty_points() -> None:
    parts = gpd.GeoDataFrame(geometry=gpd.GeoSeries(lines_of([[(0, 0), (100, 0)]]), crs=CRS))
    s = snap(parts, np.array([None, shapely.Point(), shapely.Point(X0 + 10, Y0 + 3)], dtype=object))
    assert s["part"].tolist() == [-1, -1, 0]
    assert s["distance_m"].iloc[2] == pytest.approx(3)


# ------------------------------------------------------------------------------------------------------------
# distance to the exempt border


@SETTINGS
@given(st.floats(-5e4, 5e4), st.floats(-5e4, 5e4), st.floats(-5e4, 5e4), st.floats(-5e4, 5e4),
       st.floats(-5e4, 5e4), st.floats(-5e4, 5e4))
def test_point_segment_distance_is_geos_formula(px: float, py: float, ax: float, ay: float, bx: float,
                                                by: float) -> None:
    p = np.array([X0 + px, Y0 + py])
    a, b = np.array([X0 + ax, Y0 + ay]), np.array([X0 + bx, Y0 + by])
    got = point_segment_distance(p[0], p[1], a[0], a[1], b[0], b[1])
    want = shapely.distance(shapely.Point(p), shapely.LineString([a, b]))
    assert got == pytest.approx(want, rel=1e-12, abs=1e-9)
    assert point_segment_distance(p[0], p[1], a[0], a[1], a[0], a[1]) == pytest.approx(np.hypot(*(p - a)))


border_xy = st.lists(st.tuples(st.floats(0, 20_000), st.floats(0, 20_000)), min_size=2, max_size=40)


@SETTINGS
@given(st.lists(border_xy, min_size=1, max_size=3),
       st.lists(st.tuples(st.floats(-80_000, 80_000), st.floats(-80_000, 80_000)), min_size=1, max_size=60),
       st.integers(1, 8), st.sampled_from([0.5, 2.0, 8.0]))
def test_distance_to_line_is_the_nearest_segment(raw_lines: list, raw_points: list, k: int, spacing: float) -> None:
    line = shapely.MultiLineString([[(X0 + x, Y0 + y) for x, y in pts] for pts in raw_lines])
    points = points_of(raw_points)
    # also points exactly on vertices and on the line
    on = shapely.line_interpolate_point(shapely.get_geometry(line, 0), [0.0, 0.3, 1.0], normalized=True)
    points = np.concatenate([points, np.asarray(on, dtype=object),
                             points_of([(raw_lines[0][0][0], raw_lines[0][0][1])])])
    got = distance_to_line(points, line, k=k, spacing_factor=spacing)
    assert np.array_equal(got, ref_distance_to(points, line))


def test_distance_to_line_missing_points_and_many_points() -> None:
    line = shapely.LineString([(X0, Y0), (X0 + 5000, Y0 + 10), (X0 + 5000, Y0 + 9000), (X0 + 20, Y0 + 9000)])
    rng = np.random.default_rng(7)
    xy = rng.uniform(-60_000, 60_000, size=(5000, 2))
    points = np.asarray(shapely.points(xy[:, 0] + X0, xy[:, 1] + Y0), dtype=object)
    points[3], points[10] = None, shapely.Point()
    got = distance_to_line(points, line)
    want = ref_distance_to(points, line)
    assert np.isnan(got[3]) and np.isnan(got[10])
    assert np.array_equal(got, want, equal_nan=True)
    assert np.array_equal(evidence._distance_to(points, line), want, equal_nan=True)


# ------------------------------------------------------------------------------------------------------------
# projection, classes, border pieces


def test_lines_to_crs_is_to_crs() -> None:
    rng = np.random.default_rng(3)
    lines = [shapely.LineString(np.column_stack([115.5 + rng.uniform(0, 1, n), 29.3 + rng.uniform(0, 1, n)]))
             for n in rng.integers(2, 7, size=300)]
    frame = gpd.GeoDataFrame({"road_id": [f"r{i}" for i in range(300)], "x": 1},
                             geometry=gpd.GeoSeries(lines, index=np.arange(300) * 3, crs="EPSG:4326"),
                             index=np.arange(300) * 3)
    out, coords = evidence._lines_to_crs(frame, "EPSG:32650")
    want = frame.to_crs("EPSG:32650").reset_index(drop=True)
    assert list(out.columns) == list(want.columns) and out.index.equals(want.index)
    assert out.crs == want.crs
    assert np.array_equal(shapely.to_wkb(out.geometry.to_numpy()), shapely.to_wkb(want.geometry.to_numpy()))
    assert np.array_equal(coords, shapely.get_coordinates(want.geometry.to_numpy()))
    assert frame.crs == "EPSG:4326"  # the input is not changed
    # not all plain LineStrings: to_crs itself, no coordinates
    multi = frame.copy()
    multi.loc[3, "geometry"] = shapely.MultiLineString([lines[0], lines[1]])
    out, coords = evidence._lines_to_crs(multi, "EPSG:32650")
    assert coords is None
    assert out.geometry.geom_equals_exact(multi.to_crs("EPSG:32650").reset_index(drop=True).geometry, 0).all()


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from([None, "national", "国道", "county", " Village "]),
                          st.sampled_from([None, "G105", "S303;X021", "g70", "X1", "", "\x00"]),
                          st.sampled_from([None, "primary", "motorway", "residential", "ferry"]),
                          st.sampled_from([None, "ferry"])), min_size=1, max_size=40))
def test_classify_distinct_is_classify_per_row(rows: list) -> None:
    roads = pd.DataFrame(rows, columns=["road_class", "ref", "highway", "route"]).astype("string")
    got = evidence._classify_distinct(roads)
    want = evidence.classify(roads["road_class"], roads["ref"], roads["highway"], roads["route"])
    assert got.dtype == "string"
    assert got.tolist() == want.tolist()
    if not (roads == "\x00").any().any():  # the old grouping took "\x00" for NA
        pd.testing.assert_series_equal(got, ref_classify_distinct(roads))


def test_units_rows_are_what_unit_polygon_reads() -> None:
    b = gpd.GeoDataFrame(
        {"adcode": ["360402", "360403", "420100", "420000", "430100", 360000]},
        geometry=gpd.GeoSeries([shapely.box(i, 0, i + 1, 1) for i in range(6)], crs=CRS),
    )
    mask = units_rows(b, ["360400", "420000"])
    assert mask.tolist() == [True, True, False, True, False, False]
    for code in ("360400", "420000"):
        assert unit_polygon(b[mask], code).equals(unit_polygon(b, code))


@SETTINGS
@given(st.lists(line_xy, min_size=1, max_size=30), st.lists(point_xy, min_size=2, max_size=12))
def test_crossings_with_the_network_tree_are_the_same(raw_lines: list, raw_border: list) -> None:
    roads = gpd.GeoDataFrame({"road_id": [f"r{i}" for i in range(len(raw_lines))]},
                             geometry=gpd.GeoSeries(lines_of(raw_lines), crs=CRS))
    net = RoadNetwork.from_roads(roads)
    border = shapely.LineString([(X0 + x, Y0 + y) for x, y in raw_border])
    got = crossings(net.parts, border, tree=net.tree)
    pd.testing.assert_frame_equal(got, ref_crossings(net.parts, border))
    pd.testing.assert_frame_equal(crossings(net.parts, border), got)


def test_exempt_border_from_the_units_rows_only() -> None:
    home = shapely.box(X0, Y0, X0 + 10_000, Y0 + 10_000)
    hubei = shapely.box(X0 + 10_000, Y0 - 5000, X0 + 20_000, Y0 + 5000)
    other = shapely.box(X0 - 10_000, Y0, X0, Y0 + 10_000)
    b = gpd.GeoDataFrame({"adcode": ["360400", "420000", "340000"]},
                         geometry=gpd.GeoSeries([home, hubei, other], crs=CRS))
    line = exempt_border(b[units_rows(b, ["360400", "420000"])], "360400", ["420000"], 250)
    assert line.equals(exempt_border(b, "360400", ["420000"], 250))
    assert 5000 < line.length < 5600
