"""The road network as a graph, and along-network distances from many sources in one search.

Nodes are the end points of road parts: parts that share an end point connect (coordinates are matched on a 1 cm
grid, in the metric CRS). When the roads carry ``u``/``v`` node ids — an osmnx graph, or a layer exported from one —
that topology is used as it comes. Edges are undirected: a checkpoint's distance to a crossing does not depend on
one-way rules.

The search is one multi-source Dijkstra (``scipy.sparse.csgraph``) from a virtual source joined to every crossing,
bounded by a cutoff, so its cost does not grow with the number of checkpoints.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse import csgraph

#: Grid on which end points are matched, metres.
NODE_GRID_M = 0.01
#: Stand-in for a zero-length edge: csgraph treats an explicit 0 as "no edge".
_TINY = 1e-9


@dataclass
class RoadNetwork:
    """Road parts (single LineStrings, metric CRS) with their end nodes.

    ``parts`` has ``road_row`` (position of the road in the validated roads frame), ``u``, ``v`` (node numbers
    0…n_nodes-1) and ``length_m``.
    """

    parts: gpd.GeoDataFrame
    n_nodes: int

    @classmethod
    def from_roads(cls, roads_m: gpd.GeoDataFrame) -> RoadNetwork:
        """Explode roads into parts and number their end points (or use ``u``/``v`` when every row has them)."""
        exploded = roads_m.geometry.reset_index(drop=True)
        geoms, road_row = shapely.get_parts(exploded.to_numpy(), return_index=True)
        # MultiLineStrings whose pieces touch are merged first so a road digitised in pieces stays connected.
        geoms = np.asarray(geoms)
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
            start = shapely.get_coordinates(shapely.get_point(geoms, 0))
            end = shapely.get_coordinates(shapely.get_point(geoms, -1))
            grid = np.round(np.vstack([start, end]) / NODE_GRID_M).astype(np.int64)
            if len(grid):
                grid -= grid.min(axis=0)
            span = int(grid[:, 1].max()) + 1 if len(grid) else 1
            if len(grid) and int(grid[:, 0].max()) < (1 << 62) // span:  # one int64 key per point, same order
                codes = pd.factorize(grid[:, 0] * span + grid[:, 1], sort=True)[0]
            else:
                _, codes = np.unique(grid, axis=0, return_inverse=True)
                codes = codes.ravel()
            u, v = codes[: len(geoms)], codes[len(geoms):]
            n_nodes = int(codes.max()) + 1 if len(codes) else 0
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
        w = np.maximum(w, _TINY)
        # Keep the shortest of parallel edges: a sparse matrix would add them up.
        a, b = np.minimum(u, v), np.maximum(u, v)
        order = np.lexsort((w, b, a))
        a, b, w = a[order], b[order], w[order]
        first = np.ones(len(a), dtype=bool)
        first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
        a, b, w = a[first], b[first], w[first]
        keep = a != b
        a, b, w = a[keep], b[keep], w[keep]
        return sparse.csr_array((w, (a, b)), shape=(size, size))

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


def snap(parts: gpd.GeoDataFrame, points: np.ndarray, prefer: np.ndarray | None = None,
         rank: np.ndarray | None = None) -> pd.DataFrame:
    """The nearest road part of each point: ``part``, ``distance_m``, ``pos_m`` along the part, snapped ``x``, ``y``.

    ``prefer`` (bool per part) breaks near-ties (within 1 m): at a junction of an expressway and a national road the
    covered road is the one a checkpoint is "on". ``rank`` (int per part, lower first) breaks ties left within a
    millimetre — a checkpoint on the shared vertex of two roads — so the choice does not depend on the roads' row
    order. Points without any part get ``part`` = -1.
    """
    n = len(points)
    out = pd.DataFrame({"part": np.full(n, -1, dtype="int64"), "distance_m": np.full(n, np.nan),
                        "pos_m": np.full(n, np.nan), "x": np.full(n, np.nan), "y": np.full(n, np.nan)})
    if not len(parts) or not n:
        return out
    geoms = parts.geometry.to_numpy()
    tree = shapely.STRtree(geoms)
    (pi, _), dist = tree.query_nearest(points, return_distance=True, all_matches=True)
    # Candidates within 1 m of the nearest (query_nearest alone returns exact ties only), to apply the preference
    # deterministically.
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
    d = shapely.distance(points[p], geoms[g])
    pos = shapely.line_locate_point(geoms[g], points[p])
    snapped = shapely.line_interpolate_point(geoms[g], pos)
    out.loc[p, "part"] = g
    out.loc[p, "distance_m"] = d
    out.loc[p, "pos_m"] = pos
    out.loc[p, "x"] = shapely.get_x(snapped)
    out.loc[p, "y"] = shapely.get_y(snapped)
    return out
