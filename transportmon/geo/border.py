"""The exempt border line and the points where roads cross it.

Polygons from different sources never share vertices, so the exempt border is not ``jurisdiction ∩ neighbour``
(which would be empty or slivers) but the part of the jurisdiction's boundary lying within ``epsilon`` metres of the
neighbour's polygon. Everything here is in a metric CRS.
"""

from __future__ import annotations

from collections.abc import Iterable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry


def unit_polygon(boundaries: gpd.GeoDataFrame, adcode: str) -> BaseGeometry | None:
    """The polygon of an admin unit: its own row, or else the union of its sub-units (by adcode prefix).

    ``360400`` is Jiujiang's row when the layer has cities, else the union of its counties (``3604xx``); ``420000``
    likewise from Hubei's cities or counties.
    """
    codes = boundaries["adcode"].astype(str)
    own = boundaries.geometry[codes == adcode]
    if len(own):
        return shapely.union_all(own.to_numpy())
    prefix = adcode.rstrip("0")
    prefix = prefix + "0" * (len(prefix) % 2)  # 360400 → "3604", 420000 → "42"
    subs = boundaries.geometry[codes.str.startswith(prefix)]
    if not len(subs):
        return None
    return shapely.union_all(subs.to_numpy())


def units_rows(boundaries: gpd.GeoDataFrame, adcodes: Iterable[str]) -> np.ndarray:
    """Which rows :func:`unit_polygon` reads for these admin units (a bool mask): project only those."""
    codes = boundaries["adcode"].astype(str)
    mask = np.zeros(len(boundaries), dtype=bool)
    for adcode in adcodes:
        own = (codes == adcode).to_numpy()
        if own.any():
            mask |= own
        else:
            prefix = adcode.rstrip("0")
            prefix = prefix + "0" * (len(prefix) % 2)
            mask |= codes.str.startswith(prefix).to_numpy(dtype=bool, na_value=False)
    return mask


def exempt_border(
    boundaries_m: gpd.GeoDataFrame, jurisdiction: str, neighbours: Iterable[str], epsilon_m: float
) -> BaseGeometry:
    """The stretch of the jurisdiction's boundary within ``epsilon_m`` of any exempt neighbour (a (Multi)LineString).

    Empty when the jurisdiction or neighbours are missing or do not touch.
    """
    home = unit_polygon(boundaries_m, jurisdiction)
    others = [g for g in (unit_polygon(boundaries_m, n) for n in neighbours) if g is not None]
    if home is None or not others:
        return shapely.MultiLineString()
    near = shapely.buffer(shapely.union_all(others), epsilon_m)
    line = shapely.intersection(shapely.boundary(home), near)
    line = shapely.line_merge(shapely.union_all(shapely.get_parts(line)[
        np.isin(shapely.get_type_id(shapely.get_parts(line)), [1, 2, 5])]))
    return line


def crossings(parts: gpd.GeoDataFrame, border: BaseGeometry, tree: shapely.STRtree | None = None) -> pd.DataFrame:
    """Where road parts cross the border line: ``part``, ``pos_m`` (along the part from its start), ``x``, ``y``.

    ``parts`` are single LineStrings in a metric CRS (see :mod:`transportmon.geo.network`). A road that runs along
    the border for a while counts as crossing at the start of the shared stretch. ``tree``: an STRtree of
    ``parts.geometry`` when the caller has one (:attr:`~transportmon.geo.network.RoadNetwork.tree`).
    """
    empty = pd.DataFrame({"part": pd.Series(dtype="int64"), "pos_m": pd.Series(dtype=float),
                          "x": pd.Series(dtype=float), "y": pd.Series(dtype=float)})
    if border is None or border.is_empty or not len(parts):
        return empty
    geoms = parts.geometry.to_numpy()
    if tree is None:
        tree = shapely.STRtree(geoms)
    coords, index = shapely.get_coordinates(shapely.get_parts(border), return_index=True)
    pair = np.flatnonzero(index[1:] == index[:-1])
    if border.geom_type in ("LineString", "MultiLineString") and len(pair):
        # Only parts near one of the border's segments are tested, not all within its bounding box.
        near = np.unique(tree.query(shapely.linestrings(np.stack([coords[pair], coords[pair + 1]], axis=1)))[1])
        prepared = shapely.from_wkb(shapely.to_wkb(border))  # a copy, prepared here
        shapely.prepare(prepared)
        hit = near[shapely.intersects(prepared, geoms[near])]
    else:
        hit = tree.query(border, predicate="intersects")
    if not len(hit):
        return empty
    inter = shapely.intersection(geoms[hit], border)
    pieces, owner = shapely.get_parts(inter, return_index=True)
    # A collinear stretch (LineString) stands for one crossing at its first point.
    is_line = np.isin(shapely.get_type_id(pieces), [1, 2])
    pieces = np.where(is_line, shapely.get_point(pieces, 0), pieces)
    keep = ~shapely.is_empty(pieces)
    pieces, owner = pieces[keep], owner[keep]
    part_idx = hit[owner]
    pos = shapely.line_locate_point(geoms[part_idx], pieces)
    out = pd.DataFrame({"part": part_idx.astype("int64"), "pos_m": pos,
                        "x": shapely.get_x(pieces), "y": shapely.get_y(pieces)})
    return out.drop_duplicates(["part", "x", "y"]).sort_values(["part", "pos_m"], ignore_index=True)


def point_segment_distance(px: np.ndarray, py: np.ndarray, ax: np.ndarray, ay: np.ndarray, bx: np.ndarray,
                           by: np.ndarray) -> np.ndarray:
    """Distance from points ``p`` to segments ``ab`` (arrays broadcast), by the formula GEOS uses
    (``Distance::pointToSegment``): the nearest end when the foot of the perpendicular falls outside the segment.
    """
    dx, dy = bx - ax, by - ay
    len2 = dx * dx + dy * dy
    with np.errstate(invalid="ignore", divide="ignore"):
        r = ((px - ax) * dx + (py - ay) * dy) / len2
        s = ((ay - py) * dx - (ax - px) * dy) / len2
        perp = np.abs(s) * np.sqrt(len2)
    to_a = np.sqrt((px - ax) ** 2 + (py - ay) ** 2)
    to_b = np.sqrt((px - bx) ** 2 + (py - by) ** 2)
    out = np.where(r >= 1.0, to_b, perp)
    return np.where((len2 == 0) | (r <= 0.0), to_a, out)


def distance_to_line(points: np.ndarray, line: BaseGeometry, k: int = 6, spacing_factor: float = 2.0) -> np.ndarray:
    """Distance of each point to a long (multi)line: the same numbers as ``shapely.distance`` to the nearest of its
    two-vertex segments (NaN for a missing or empty point).

    Samples of the line — its vertices, and points at most ``spacing`` apart along longer segments — go into a k-d
    tree, and the ``k`` samples nearest to each point are found; the segments they lie on are measured. A segment
    with none of its samples among them has them all at least ``r`` away (the k-th sample's distance) and pieces
    at most ``spacing`` long between them, so it is no nearer than ``sqrt(r² - (spacing/2)²)``: when that is not
    below the best measured (with a margin of a millionth, at least a micrometre), the best is the answer. GEOS gives
    the final value, on the candidates that the same formula in numpy puts within that margin of the best; points
    the bound does not settle — none, or very few — take an STRtree nearest-neighbour search over the segments.
    ``k`` and ``spacing_factor`` (the spacing in median segment lengths) change the speed, never the numbers.
    """
    n = len(points)
    out = np.full(n, np.nan)
    valid = ~(pd.isna(points) | shapely.is_empty(points))
    coords, index = shapely.get_coordinates(shapely.get_parts(line), return_index=True)
    pair = np.flatnonzero(index[1:] == index[:-1])
    if not valid.any():
        return out
    if not len(pair):
        out[valid] = shapely.distance(points[valid], line)
        return out
    n_seg = len(pair)
    a, b = coords[pair], coords[pair + 1]
    segments = shapely.linestrings(np.stack([a, b], axis=1))
    seg_len = np.hypot(b[:, 0] - a[:, 0], b[:, 1] - a[:, 1])
    spacing = max(float(np.median(seg_len)) * spacing_factor, 1.0)
    # vertices: on the segment they start and the one they end (the same one twice at the ends of a line)
    starts = np.full(len(coords), -1)
    starts[pair] = np.arange(n_seg)
    ends = np.full(len(coords), -1)
    ends[pair + 1] = np.arange(n_seg)
    on_vertex = np.flatnonzero((starts >= 0) | (ends >= 0))
    owner = np.stack([starts[on_vertex], ends[on_vertex]], axis=1)
    owner = np.where(owner < 0, owner[:, ::-1], owner)
    samples = [coords[on_vertex]]
    # long segments: pieces of at most `spacing`, their inner ends as samples on that segment only
    pieces = np.maximum(np.ceil(seg_len / spacing), 1).astype(np.int64)
    long = np.flatnonzero(pieces > 1)
    if len(long):
        inner = np.repeat(long, pieces[long] - 1)
        step = np.arange(len(inner)) - np.repeat(np.cumsum(pieces[long] - 1) - (pieces[long] - 1), pieces[long] - 1) + 1
        t = (step / pieces[inner])[:, None]
        samples.append(a[inner] * (1.0 - t) + b[inner] * t)
        owner = np.concatenate([owner, np.stack([inner, inner], axis=1)])
    samples = np.concatenate(samples)
    where = np.flatnonzero(valid)
    pv = shapely.get_coordinates(points[where])
    # queries in a spatial order (1 km cells) walk the tree alike one after the other: faster
    cell = np.floor((pv - pv.min(axis=0)) / 1000.0)
    order = np.lexsort((cell[:, 1], cell[:, 0]))
    where, pv = where[order], pv[order]
    kk = min(k, len(samples))
    from scipy.spatial import cKDTree  # loaded when a border is measured, not on import

    r, nearest = cKDTree(samples).query(pv, k=kk)
    r, nearest = r.reshape(len(pv), kk), nearest.reshape(len(pv), kk)
    seg = owner[nearest].reshape(len(pv), 2 * kk)
    d = point_segment_distance(pv[:, :1], pv[:, 1:], a[seg, 0], a[seg, 1], b[seg, 0], b[seg, 1])
    arg = d.argmin(axis=1)
    best = d[np.arange(len(pv)), arg]
    tol = 1e-6 * np.maximum(1.0, best)  # far beyond the formula's rounding (≈1e-16 of the coordinates)
    if kk == len(samples):
        settled = np.ones(len(pv), dtype=bool)
    else:
        # computed samples are not exactly on their segment: the tolerance is the slack
        bound = np.sqrt(np.maximum(r[:, -1] ** 2 - (spacing / 2.0) ** 2, 0.0))
        settled = bound - tol >= best + tol
    # GEOS measures the best segment, and any other within tol of it (a shared vertex: both its segments)
    first = seg[np.arange(len(pv)), arg]
    near = points[where]
    exact = np.full(len(pv), np.inf)
    exact[settled] = shapely.distance(near[settled], segments[first[settled]])
    row, col = np.nonzero((d <= (best + tol)[:, None]) & (seg != first[:, None]) & settled[:, None])
    if len(row):
        np.minimum.at(exact, row, shapely.distance(near[row], segments[seg[row, col]]))
    out[where[settled]] = exact[settled]
    if not settled.all():
        left = where[~settled]
        (qi, _), dist = shapely.STRtree(segments).query_nearest(points[left], return_distance=True)
        out[left[qi]] = dist
    return out
