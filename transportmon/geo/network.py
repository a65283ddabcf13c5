"""The road network as a graph, and along-network distances from many sources in one search.

Nodes are the end points of road parts: parts that share an end point connect (coordinates are matched on a 1 cm
grid, in the metric CRS). When the roads carry ``u``/``v`` node ids — an osmnx graph, or a layer exported from one —
that topology is used as it comes (the OpenStreetMap reader has already given end nodes on the same grid point one
id, :func:`grid_codes`). Edges are undirected: a checkpoint's distance to a crossing does not depend on
one-way rules.

The search is one multi-source Dijkstra (``scipy.sparse.csgraph``) from a virtual source joined to every crossing,
bounded by a cutoff, so its cost does not grow with the number of checkpoints.

Snapping looks in growing boxes around each point (:func:`near_parts`) before an STRtree nearest-neighbour search:
a million road parts and a hundred thousand checkpoints, most of them metres from their road, are matched in a
fraction of a second, with the same candidates as the nearest-neighbour search would give.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

#: Grid on which end points are matched, metres.
NODE_GRID_M = 0.01
#: Stand-in for a zero-length edge: csgraph treats an explicit 0 as "no edge".
_TINY = 1e-9


if TYPE_CHECKING:
    from scipy import sparse


@dataclass
class RoadNetwork:
    """Road parts (single LineStrings, metric CRS) with their end nodes.

    ``parts`` has ``road_row`` (position of the road in the validated roads frame), ``u``, ``v`` (node numbers
    0…n_nodes-1) and ``length_m``. :attr:`tree` is an STRtree of the parts' geometries, built once on first use
    and shared by the snapping and the border crossings.
    """

    parts: gpd.GeoDataFrame
    n_nodes: int
    _tree: shapely.STRtree | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def tree(self) -> shapely.STRtree:
        """The STRtree of ``parts.geometry`` (positions are part numbers)."""
        if self._tree is None:
            self._tree = shapely.STRtree(self.parts.geometry.to_numpy())
        return self._tree

    @classmethod
    def from_roads(cls, roads_m: gpd.GeoDataFrame, coords: np.ndarray | None = None) -> RoadNetwork:
        """Explode roads into parts and number their end points (or use ``u``/``v`` when every row has them).

        ``coords``, when the caller already has them, are ``shapely.get_coordinates`` of the roads' geometries (2D,
        all LineStrings): end points are then read from them instead of from the geometries.
        """
        values = roads_m.geometry.to_numpy()
        if len(values) and bool((shapely.get_type_id(values) == 1).all()):
            # Single LineStrings already (the usual case): the parts are the roads, no copy of a million geometries.
            geoms, road_row = values, np.arange(len(values), dtype="int64")
        else:
            geoms, road_row = shapely.get_parts(values, return_index=True)
            geoms = np.asarray(geoms)
            coords = None
        lengths = shapely.length(geoms)
        use_uv = ({"u", "v"} <= set(roads_m.columns) and len(geoms) == len(roads_m)
                  and roads_m["u"].notna().all() and roads_m["v"].notna().all())
        if use_uv:
            ids = pd.concat([roads_m["u"].astype(str), roads_m["v"].astype(str)], ignore_index=True)
            codes, uniques = pd.factorize(ids, sort=True)
            n = len(roads_m)
            u, v = codes[:n], codes[n:]
            n_nodes = len(uniques)
        else:
            u, v, n_nodes = _end_nodes(geoms, coords)
        parts = gpd.GeoDataFrame(
            {"road_row": road_row.astype("int64"), "u": u.astype("int64"), "v": v.astype("int64"),
             "length_m": lengths},
            geometry=gpd.GeoSeries(geoms, crs=roads_m.crs),
        )
        return cls(parts=parts, n_nodes=n_nodes)

    def _matrix(self, extra_u: np.ndarray, extra_v: np.ndarray, extra_w: np.ndarray, size: int) -> sparse.csr_array:
        u = np.concatenate([self.parts["u"].to_numpy(), extra_u])
        v = np.concatenate([self.parts["v"].to_numpy(), extra_v])
        w = np.concatenate([self.parts["length_m"].to_numpy(), extra_w])
        return undirected_csr(u, v, w, size)

    def node_distances(self, src_part: np.ndarray, src_pos: np.ndarray, cutoff_m: float) -> np.ndarray:
        """Shortest along-network distance from the nearest source to every node (``inf`` beyond ``cutoff_m``).

        Sources are points on parts: ``src_pos`` metres from the start of part ``src_part``.
        """
        if not len(src_part) or self.n_nodes == 0:
            return np.full(self.n_nodes, np.inf)
        s = self.n_nodes  # the virtual source
        lu = self.parts["u"].to_numpy()[src_part]
        lv = self.parts["v"].to_numpy()[src_part]
        length = self.parts["length_m"].to_numpy()[src_part]
        extra_u = np.concatenate([np.full(len(src_part), s), np.full(len(src_part), s)])
        extra_v = np.concatenate([lu, lv])
        extra_w = np.concatenate([src_pos, length - src_pos])
        graph = self._matrix(extra_u, extra_v, extra_w, self.n_nodes + 1)
        from scipy.sparse import csgraph  # scipy is loaded when a network is searched, not on import

        dist = csgraph.dijkstra(graph, directed=False, indices=s, limit=cutoff_m)
        return np.asarray(dist)[: self.n_nodes]

    def distances(
        self,
        src_part: np.ndarray,
        src_pos: np.ndarray,
        dst_part: np.ndarray,
        dst_pos: np.ndarray,
        cutoff_m: float,
    ) -> np.ndarray:
        """Along-network distance from each destination point to the nearest source point (``inf`` if none).

        A destination on the same part as a source is also reached directly along that part.
        """
        node_d = self.node_distances(src_part, src_pos, cutoff_m)
        if not len(dst_part):
            return np.zeros(0)
        u = self.parts["u"].to_numpy()[dst_part]
        v = self.parts["v"].to_numpy()[dst_part]
        length = self.parts["length_m"].to_numpy()[dst_part]
        best = np.minimum(node_d[u] + dst_pos, node_d[v] + (length - dst_pos))
        if len(src_part):
            same = pd.DataFrame({"part": dst_part, "pos": dst_pos, "i": np.arange(len(dst_part))}).merge(
                pd.DataFrame({"part": src_part, "spos": src_pos}), on="part")
            if len(same):
                direct = (same["pos"] - same["spos"]).abs().groupby(same["i"]).min()
                idx = direct.index.to_numpy()
                best[idx] = np.minimum(best[idx], direct.to_numpy())
        best[best > cutoff_m] = np.inf
        return best


def _end_nodes(geoms: np.ndarray, coords: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Node numbers of the first and last point of each LineString: end points equal on the :data:`NODE_GRID_M`
    grid get one number (:func:`grid_codes`). ``coords`` are the geometries' ``shapely.get_coordinates`` when the
    caller has them. An empty part gets a node of its own (an isolated self-loop, dropped from the graph).
    """
    counts = shapely.get_num_coordinates(geoms)
    if coords is None:
        coords = shapely.get_coordinates(geoms)
    last = np.cumsum(counts) - 1
    first = last - counts + 1
    empty = counts == 0
    if empty.any():
        first, last = first[~empty], last[~empty]
    codes = grid_codes(coords[np.concatenate([first, last])], copy=False)  # the start points, then the end points
    m = len(first)
    n_nodes = int(codes.max()) + 1 if len(codes) else 0
    if not empty.any():
        return codes[:m], codes[m:], n_nodes
    u = np.empty(len(geoms), dtype=np.int64)
    u[~empty], u[empty] = codes[:m], n_nodes + np.arange(int(empty.sum()))
    v = u.copy()
    v[~empty] = codes[m:]
    return u, v, n_nodes + int(empty.sum())


def grid_codes(xy: np.ndarray, *, copy: bool = True) -> np.ndarray:
    """One number per point (rows of ``xy``, metres): points equal on the :data:`NODE_GRID_M` grid share it.

    Numbers run 0…k-1 in the points' (x, y) grid order. This is the rule by which road segments that share end
    points connect; the OpenStreetMap reader applies it to node ids too. ``copy=False`` lets the function scale
    ``xy`` (a float array) in place.
    """
    grid = np.array(xy, dtype=np.float64, copy=True) if copy else xy
    grid /= NODE_GRID_M
    np.round(grid, out=grid)
    grid = grid.astype(np.int64)
    if len(grid):
        grid -= grid.min(axis=0)
    span = int(grid[:, 1].max()) + 1 if len(grid) else 1
    if len(grid) and int(grid[:, 0].max()) < (1 << 62) // span:  # one int64 key per point, same order
        key = grid[:, 0] * span
        key += grid[:, 1]
        return np.asarray(pd.factorize(key, sort=True)[0], dtype=np.int64)
    _, codes = np.unique(grid, axis=0, return_inverse=True)
    return np.asarray(codes, dtype=np.int64).ravel()


def undirected_csr(u: np.ndarray, v: np.ndarray, w: np.ndarray, size: int) -> sparse.csr_array:
    """The upper-triangular CSR matrix of undirected edges ``u``–``v`` of weight ``w``.

    Parallel edges keep the shortest (a sparse matrix would add them up), self-loops are dropped, and a zero weight
    becomes :data:`_TINY` (csgraph reads an explicit 0 as "no edge"). Built directly from one sort of an int64 key
    per edge: rows ``min(u, v)``, columns ``max(u, v)``, columns sorted within a row.
    """
    u = np.asarray(u, dtype=np.int64)
    v = np.asarray(v, dtype=np.int64)
    w = np.maximum(np.asarray(w, dtype=float), _TINY)
    a, b = np.minimum(u, v), np.maximum(u, v)
    keep = a != b
    if not keep.all():
        a, b, w = a[keep], b[keep], w[keep]
    key = a * size
    key += b
    order = np.argsort(key)
    key, w = key[order], w[order]
    first = np.ones(len(key), dtype=bool)
    first[1:] = key[1:] != key[:-1]
    if not first.all():
        starts = np.flatnonzero(first)
        w = np.minimum.reduceat(w, starts)
        key = key[starts]
    rows = key // size
    cols = key - rows * size
    indptr = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=size), out=indptr[1:])
    from scipy import sparse

    return sparse.csr_array((w, cols, indptr), shape=(size, size))


#: Half-widths (metres) of the boxes searched around each point, in turn, before the nearest-neighbour search.
SNAP_SEARCH_M: tuple[float, ...] = (16.0, 64.0, 256.0)

#: Candidates within this many metres of the nearest part compete by preference, then rank (see :func:`snap`).
_TIE_BAND_M = 1.0


def near_parts(geoms: np.ndarray, points: np.ndarray, tree: shapely.STRtree | None = None,
               search_m: tuple[float, ...] = SNAP_SEARCH_M) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every part within 1 m of each point's nearest part: (point, part, distance) triples.

    The same set as the nearest distance ``d`` of ``tree.query_nearest`` followed by a ``dwithin`` query at
    ``d + 1``, found cheaply: the parts whose bounding box meets a box of half-width ``r`` around the point are
    measured; when the nearest of them is at ``d`` with ``d + 1 ≤ r``, every part within ``d + 1`` has a point in
    the box, so the set is complete. Points left over (no part that near) take the nearest-neighbour search.
    Missing or empty points have no candidates.
    """
    if tree is None:
        tree = shapely.STRtree(geoms)
    todo = np.flatnonzero(~(shapely.is_missing(points) | shapely.is_empty(points)))
    x, y = np.full(len(points), np.nan), np.full(len(points), np.nan)
    x[todo], y[todo] = shapely.get_x(points[todo]), shapely.get_y(points[todo])
    if len(todo):  # queries in a spatial order (1 km cells) walk the tree alike one after the other: faster
        cx, cy = np.floor((x[todo] - x[todo].min()) / 1000.0), np.floor((y[todo] - y[todo].min()) / 1000.0)
        todo = todo[np.lexsort((cy, cx))]
    found_p, found_g, found_d = [], [], []
    for r in search_m:
        if not len(todo):
            break
        tx, ty = x[todo], y[todo]
        qi, gi = tree.query(shapely.box(tx - r, ty - r, tx + r, ty + r))
        d = shapely.distance(points[todo[qi]], geoms[gi])
        near = np.full(len(todo), np.inf)
        np.minimum.at(near, qi, d)
        done = near + _TIE_BAND_M <= r
        sel = done[qi] & (d <= (near + _TIE_BAND_M)[qi])
        found_p.append(todo[qi[sel]])
        found_g.append(gi[sel])
        found_d.append(d[sel])
        todo = todo[~done]
    if len(todo):
        (pi, _), dist = tree.query_nearest(points[todo], return_distance=True)
        nearest = np.full(len(todo), np.nan)
        nearest[pi] = dist
        has = np.flatnonzero(~np.isnan(nearest))
        qi, gi = tree.query(points[todo[has]], predicate="dwithin", distance=nearest[has] + _TIE_BAND_M)
        p = todo[has[qi]]
        found_p.append(p)
        found_g.append(gi)
        found_d.append(shapely.distance(points[p], geoms[gi]))
    if not found_p:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    return (np.concatenate(found_p).astype(np.int64), np.concatenate(found_g).astype(np.int64),
            np.concatenate(found_d))


def snap(parts: gpd.GeoDataFrame, points: np.ndarray, prefer: np.ndarray | None = None,
         rank: np.ndarray | Callable[[np.ndarray], np.ndarray] | None = None,
         tree: shapely.STRtree | None = None, xy: bool = True) -> pd.DataFrame:
    """The nearest road part of each point: ``part``, ``distance_m``, ``pos_m`` along the part, snapped ``x``, ``y``.

    ``prefer`` (bool per part) breaks near-ties (within 1 m): at a junction of an expressway and a national road the
    covered road is the one a checkpoint is "on". ``rank`` (int per part, lower first; or a function giving such
    keys for an array of part numbers, consistently across calls' subsets) breaks ties left within a millimetre — a
    checkpoint on the shared vertex of two roads — so the choice does not depend on the roads' row order. Points
    without any part get ``part`` = -1. ``tree``: an STRtree of ``parts.geometry`` (e.g. :attr:`RoadNetwork.tree`).
    ``xy=False`` leaves ``x`` and ``y`` empty, for callers that need only the part and the position.
    """
    n = len(points)
    part = np.full(n, -1, dtype="int64")
    cols = {c: np.full(n, np.nan) for c in ("distance_m", "pos_m", "x", "y")}
    if len(parts) and n:
        geoms = parts.geometry.to_numpy()
        p, g, d = near_parts(geoms, points, tree)
        pref = np.zeros(len(g), dtype=bool) if prefer is None else ~np.asarray(prefer)[g]
        if rank is None:
            key = np.zeros(len(g), dtype=np.int64)
        else:
            key = np.asarray(rank(g) if callable(rank) else np.asarray(rank)[g])
        # per point: preferred first, then by millimetre, rank, exact distance, part number
        order = np.lexsort((g, d, key, np.round(d / 1e-3), pref, p))
        p, g, d = p[order], g[order], d[order]
        first = np.ones(len(p), dtype=bool)
        first[1:] = p[1:] != p[:-1]
        p, g, d = p[first], g[first], d[first]
        pos = shapely.line_locate_point(geoms[g], points[p])
        part[p] = g
        cols["distance_m"][p] = d
        cols["pos_m"][p] = pos
        if xy:
            snapped = shapely.line_interpolate_point(geoms[g], pos)
            cols["x"][p] = shapely.get_x(snapped)
            cols["y"][p] = shapely.get_y(snapped)
    return pd.DataFrame({"part": part, **cols})
