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


def crossings(parts: gpd.GeoDataFrame, border: BaseGeometry) -> pd.DataFrame:
    """Where road parts cross the border line: ``part``, ``pos_m`` (along the part from its start), ``x``, ``y``.

    ``parts`` are single LineStrings in a metric CRS (see :mod:`transportmon.geo.network`). A road that runs along
    the border for a while counts as crossing at the start of the shared stretch.
    """
    empty = pd.DataFrame({"part": pd.Series(dtype="int64"), "pos_m": pd.Series(dtype=float),
                          "x": pd.Series(dtype=float), "y": pd.Series(dtype=float)})
    if border is None or border.is_empty or not len(parts):
        return empty
    geoms = parts.geometry.to_numpy()
    tree = shapely.STRtree(geoms)
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
