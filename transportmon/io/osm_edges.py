"""osmnx edge attributes → the columns of the OpenStreetMap roads layer (:mod:`transportmon.io.osm`).

An osmnx edge attribute is a scalar, a list (edges that simplification merged; osmnx builds the list from a set, so
its order means nothing) or missing. The helpers here turn such columns into one text or flag per edge without a
Python loop over the edges, recognise the two directions of a two-way road, and give coincident end nodes one id.
"""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from ..geo.network import grid_codes

__all__ = [
    "column",
    "contains",
    "count_ways",
    "deduplicated_order",
    "edge_geometry",
    "empty_layer",
    "first_by_rank",
    "join_values",
    "merge_coincident_nodes",
]


def empty_layer() -> gpd.GeoDataFrame:
    """The roads layer with no rows: its columns with their dtypes, EPSG:4326."""
    frame = pd.DataFrame(
        {
            "road_id": pd.Series(dtype="str"),
            "ref": pd.Series(dtype="str"),
            "highway": pd.Series(dtype="str"),
            "name": pd.Series(dtype="str"),
            "road_class": pd.Series(dtype="str"),
            "route": pd.Series(dtype="str"),
            "u": pd.Series(dtype="int64"),
            "v": pd.Series(dtype="int64"),
            "length_m": pd.Series(dtype="float64"),
        }
    )
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs="EPSG:4326"))


def column(edges: pd.DataFrame, name: str, n: int) -> pd.Series:
    """An edge attribute column (scalars, lists or missing), all NA when no edge has the attribute."""
    if name in edges.columns:
        return edges[name].reset_index(drop=True)
    return pd.Series([None] * n, dtype="object")


def _explode(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(edge position, value) pairs: a scalar cell gives one pair, a list one per item, NA none."""
    ex = col.reset_index(drop=True).astype(object).explode()
    keep = ex.notna().to_numpy()
    return ex.index.to_numpy(dtype="int64")[keep], ex.to_numpy(dtype=object)[keep]


def _text(values: np.ndarray, *, strip: bool = False) -> np.ndarray:
    """Values as Python strings in an object array (optionally stripped of surrounding blanks)."""
    if pd.api.types.infer_dtype(values, skipna=False) != "string":
        values = values.astype(str).astype(object)
    if strip and len(values):
        values = np.char.strip(values.astype(str)).astype(object)
    return values


def contains(col: pd.Series, value: str) -> np.ndarray:
    """Boolean per edge: the cell is ``value`` or a list holding it."""
    pos, values = _explode(col)
    out = np.zeros(len(col), dtype=bool)
    out[pos[values == value]] = True
    return out


def first_by_rank(col: pd.Series, rank: Mapping[str, int]) -> np.ndarray:
    """Text per edge (None if NA): the cell, or of a list the first in ``rank`` order (lower first).

    Ties among values outside that list go alphabetically: osmnx builds merged lists from a set, so their
    order means nothing.
    """
    pos, values = _explode(col)
    text = _text(values)
    out = np.full(len(col), None, dtype=object)
    multi = pd.Series(pos).duplicated(keep=False).to_numpy()
    out[pos[~multi]] = text[~multi]
    if multi.any():
        many = pd.DataFrame({"pos": pos[multi], "value": text[multi]})
        many["rank"] = many["value"].map(rank).fillna(len(rank)).to_numpy()
        many = many.sort_values(["pos", "rank", "value"], kind="stable").drop_duplicates("pos")
        out[many["pos"].to_numpy()] = many["value"].to_numpy()
    return out


def join_values(col: pd.Series, *, numeric: bool = False, split: bool = False) -> np.ndarray:
    """Text per edge (None if NA): a scalar cell as is; a list de-duplicated, sorted and joined with ``";"``.

    ``numeric`` sorts by number (OSM ids); ``split`` first splits list items on ``";"`` (refs like
    ``G105;S303``). Single-valued cells are copied as one array; multi-valued ones are joined one list
    position at a time, so the Python-level loop runs over the longest list's length, not over the edges.
    """
    pos, values = _explode(col)
    key: np.ndarray
    if numeric and len(values):
        num = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
        if num.notna().all():
            key = num.to_numpy(dtype="int64")
            text = key.astype(str).astype(object)
        else:
            text = key = _text(values, strip=True)
    else:
        text = key = _text(values, strip=True)
    out = np.full(len(col), None, dtype=object)
    multi = pd.Series(pos).duplicated(keep=False).to_numpy()
    single = ~multi & (text != "")
    out[pos[single]] = text[single]
    if not multi.any():
        return out
    many = pd.DataFrame({"pos": pos[multi], "value": text[multi], "key": key[multi]})
    if split:
        many = many.assign(value=many["value"].str.split(";")).explode("value", ignore_index=True)
        many["value"] = _text(many["value"].to_numpy(dtype=object), strip=True)
        many["key"] = many["value"]
    many = many[many["value"] != ""].drop_duplicates(["pos", "value"])
    many = many.sort_values(["pos", "key"], kind="stable")
    mpos = many["pos"].to_numpy()
    mval = many["value"].to_numpy(dtype=object)
    nth = many.groupby("pos", sort=False).cumcount().to_numpy()
    first = nth == 0
    out[mpos[first]] = mval[first]
    for i in range(1, int(nth.max()) + 1 if len(nth) else 0):
        at = nth == i
        out[mpos[at]] = out[mpos[at]] + ";" + mval[at]
    return out


def edge_geometry(edges: pd.DataFrame, nodes: pd.DataFrame, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The edges' LineStrings, straight from u to v where osmnx stores no geometry (vectorised)."""
    if "geometry" in edges.columns:
        geoms = np.asarray(edges["geometry"].to_numpy(), dtype=object)
        geoms = np.where(pd.isna(geoms), None, geoms)
    else:
        geoms = np.full(len(edges), None, dtype=object)
    missing = shapely.is_missing(geoms)
    if missing.any():
        xy = nodes[["x", "y"]].astype("float64")
        pu = xy.reindex(u[missing]).to_numpy()
        pv = xy.reindex(v[missing]).to_numpy()
        geoms[missing] = shapely.linestrings(np.stack([pu, pv], axis=1))
    return geoms


def deduplicated_order(
    road_id: np.ndarray, u: np.ndarray, v: np.ndarray, geometry: np.ndarray
) -> np.ndarray:
    """Row order sorted by (road_id, u, v), keeping one row of each two-way road.

    The two directions of a two-way road are the same way(s) between the same nodes over the same line,
    reversed. They are recognised without a per-edge geometry operation: same road_id, same end nodes, same
    vertex count, and the same second and middle vertices counted from the lower node id's end. Of each pair
    the row with the smaller ``u`` is kept; a one-way edge has no twin and keeps its direction of travel.
    Self-loops (a ring from a node back to itself) are normalised first, because both directions start at the
    same node.
    """
    m = len(road_id)
    text = np.where(pd.isna(road_id), "", road_id).astype(str)
    rid = np.unique(text, return_inverse=True)[1].reshape(-1)
    order = np.lexsort((v, u, rid))
    ties = (np.diff(rid[order]) == 0) & (np.diff(u[order]) == 0) & (np.diff(v[order]) == 0)
    if ties.any():  # parallel edges: break the tie on the geometry itself, not on the graph's insertion order
        wkb = pd.factorize(shapely.to_wkb(geometry), sort=True)[0]
        order = np.lexsort((wkb, v, u, rid))

    loop = u == v
    keyed = geometry.copy()
    if loop.any():
        keyed[loop] = shapely.normalize(geometry[loop])
    coords, index = shapely.get_coordinates(keyed, return_index=True)
    count = np.bincount(index, minlength=m)
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    from_lo = u <= v
    second = np.where(from_lo, start + 1, start + count - 2)
    middle = np.where(from_lo, start + (count - 1) // 2, start + count - 1 - (count - 1) // 2)
    valid = count >= 2
    second = np.where(valid, second, 0)
    middle = np.where(valid, middle, 0)
    if not len(coords):
        coords = np.zeros((1, 2))
    key = pd.DataFrame(
        {
            "rid": rid,
            "lo": np.minimum(u, v),
            "hi": np.maximum(u, v),
            "count": np.where(valid, count, -np.arange(m) - 1),  # an empty line is never a twin
            "x1": coords[second, 0],
            "y1": coords[second, 1],
            "xm": coords[middle, 0],
            "ym": coords[middle, 1],
        }
    ).iloc[order]
    return order[~key.duplicated().to_numpy()]


def count_ways(osmid: pd.Series, mask: np.ndarray) -> int:
    """How many distinct OSM ways the edges where ``mask`` holds are made of (merged edges list several)."""
    _, ids = _explode(osmid[mask].reset_index(drop=True))
    return int(len(pd.unique(ids.astype(str)))) if len(ids) else 0


def merge_coincident_nodes(
    u: np.ndarray, v: np.ndarray, nodes: pd.DataFrame, crs: pyproj.CRS | str
) -> tuple[np.ndarray, np.ndarray, int]:
    """End nodes at the same place get one id: the smallest of them.

    OSM ways whose ends share coordinates but not a node id (duplicate nodes, which JOSM flags) would otherwise be
    disconnected, while the same lines from a roads file connect: segments that share end points connect, matched
    on the :data:`~transportmon.geo.network.NODE_GRID_M` grid in metres (here the local UTM zone's).

    Parameters
    ----------
    u, v
        Node ids of the edges' ends.
    nodes
        osmnx nodes (index: node id) with ``x``, ``y`` in ``crs``.
    crs
        The graph's CRS.

    Returns
    -------
    tuple[np.ndarray, np.ndarray, int]
        ``u`` and ``v`` with merged ids, and how many node ids were merged into another.
    """
    ids = np.unique(np.concatenate([u, v]))
    if len(ids) < 2:
        return u, v, 0
    xy = nodes[["x", "y"]].astype("float64").reindex(ids).to_numpy()
    points = gpd.GeoSeries(shapely.points(xy), crs=crs)
    metric = shapely.get_coordinates(points.to_crs(points.estimate_utm_crs()).to_numpy())
    codes = grid_codes(metric, copy=False)
    merged = len(ids) - (int(codes.max()) + 1)
    if not merged:
        return u, v, 0
    keep = pd.Series(ids).groupby(codes).transform("min").to_numpy(dtype="int64")
    return keep[np.searchsorted(ids, u)], keep[np.searchsorted(ids, v)], merged
