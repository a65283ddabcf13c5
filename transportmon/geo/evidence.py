"""The measured facts the checkpoint rules decide on: snap to a road, road class, straight-line and along-network
distances to the exempt border. All distances in a metric CRS.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from ..config import ROAD_CLASSES, RuleConfig
from .border import crossings, exempt_border, unit_polygon
from .network import RoadNetwork, snap
from .roads import classify


def utm_crs(lon: float, lat: float) -> pyproj.CRS:
    """The WGS-84 UTM zone containing a point (EPSG:326xx north, 327xx south)."""
    zone = int(np.floor((lon + 180.0) / 6.0)) % 60 + 1
    return pyproj.CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def metric_crs(config: RuleConfig, boundaries: gpd.GeoDataFrame | None, *others: gpd.GeoSeries | None) -> pyproj.CRS:
    """``config.metric_crs`` if set, else the UTM zone of the jurisdiction (or of the data when it is unknown)."""
    if config.metric_crs:
        return pyproj.CRS.from_user_input(config.metric_crs)
    anchor = None
    if boundaries is not None and len(boundaries):
        anchor = unit_polygon(boundaries, config.jurisdiction)
    if anchor is None:
        geoms = [g.to_numpy() for g in others if g is not None and len(g)]
        if geoms:
            anchor = shapely.envelope(shapely.union_all(shapely.envelope(np.concatenate(geoms))))
    if anchor is None or anchor.is_empty:
        return pyproj.CRS.from_epsg(32650)
    c = anchor.centroid
    return utm_crs(c.x, c.y)


@dataclass
class RoadContext:
    """Roads in the metric CRS with their class, the network, the exempt border and its crossings."""

    crs: pyproj.CRS
    roads: gpd.GeoDataFrame
    network: RoadNetwork
    border: BaseGeometry
    crossings: pd.DataFrame

    def border_wgs84(self) -> gpd.GeoSeries:
        return gpd.GeoSeries([self.border], crs=self.crs).to_crs("EPSG:4326")

    def crossings_wgs84(self) -> gpd.GeoDataFrame:
        pts = gpd.GeoSeries(shapely.points(self.crossings["x"], self.crossings["y"]), crs=self.crs)
        parts = self.network.parts
        road_row = parts["road_row"].to_numpy()[self.crossings["part"].to_numpy()]
        return gpd.GeoDataFrame({"road_id": self.roads["road_id"].to_numpy()[road_row]},
                                geometry=pts.to_crs("EPSG:4326").to_numpy(), crs="EPSG:4326")


def road_context(roads: gpd.GeoDataFrame, boundaries: gpd.GeoDataFrame | None, config: RuleConfig,
                 crs: pyproj.CRS) -> RoadContext:
    """Project roads, classify them, build the network, the exempt border line and its crossings."""
    roads_m = roads.to_crs(crs).reset_index(drop=True)
    roads_m["road_class"] = _classify_distinct(roads_m)
    network = RoadNetwork.from_roads(roads_m)
    if boundaries is not None and len(boundaries):
        border = exempt_border(boundaries.to_crs(crs), config.jurisdiction, config.exempt_neighbours,
                               config.border_epsilon_m)
    else:
        border = shapely.MultiLineString()
    cross = crossings(network.parts, border)
    return RoadContext(crs=crs, roads=roads_m, network=network, border=border, crossings=cross)


def _classify_distinct(roads: pd.DataFrame) -> pd.Series:
    """:func:`classify` on the distinct (road_class, ref, highway, route) combinations, spread over the rows.

    A province's million road segments carry a few thousand distinct references; the text rules run on those.
    """
    cols = [c for c in ("road_class", "ref", "highway", "route") if c in roads.columns]
    keys = roads[cols].astype("string").fillna("\x00")  # NA is a value of its own
    codes = keys.groupby(cols, sort=False, dropna=False).ngroup().to_numpy()
    first = np.unique(codes, return_index=True)[1]
    distinct = roads.iloc[first]
    classes = classify(distinct["road_class"], distinct["ref"], distinct["highway"], distinct.get("route"))
    return pd.Series(classes.to_numpy()[codes], index=roads.index, dtype="string")


def checkpoint_evidence(checkpoints: gpd.GeoDataFrame, ctx: RoadContext | None, config: RuleConfig) -> pd.DataFrame:
    """One row per valid checkpoint with the evidence columns of DESIGN §4."""
    ev = pd.DataFrame({c: checkpoints[c].to_numpy() for c in
                       ("checkpoint_id", "name", "opened", "closed", "turn_back", "blocks_freight", "row")},
                      index=checkpoints.index)
    n = len(ev)
    ev["road_id"] = pd.Series([pd.NA] * n, index=ev.index, dtype="string")
    ev["road_ref"] = pd.Series([pd.NA] * n, index=ev.index, dtype="string")
    ev["road_class"] = pd.Series([pd.NA] * n, index=ev.index, dtype="string")
    ev["distance_to_road_m"] = np.nan
    ev["distance_to_exempt_border_m"] = np.nan
    ev["distance_to_crossing_m"] = np.inf
    if ctx is None or not n or not len(ctx.network.parts):  # no roads (or an empty roads layer): nothing to snap to
        return ev
    pts = checkpoints.geometry.to_crs(ctx.crs).to_numpy()
    parts = ctx.network.parts
    road_row = parts["road_row"].to_numpy()
    covered = ctx.roads["road_class"].isin(config.covered_classes).to_numpy()[road_row]
    # Ties on a shared vertex go to the higher class (national before provincial …), then the smaller road_id.
    class_rank = ctx.roads["road_class"].map({c: i for i, c in enumerate(ROAD_CLASSES)}).fillna(len(ROAD_CLASSES))
    id_rank = pd.factorize(ctx.roads["road_id"].astype(str), sort=True)[0]
    rank = (class_rank.to_numpy(dtype="int64") * (len(ctx.roads) + 1) + id_rank)[road_row]
    s = snap(parts, pts, prefer=covered, rank=rank)
    found = s["part"].to_numpy() >= 0
    row = np.where(found, road_row[np.maximum(s["part"].to_numpy(), 0)], -1)
    for col, src in (("road_id", "road_id"), ("road_ref", "ref"), ("road_class", "road_class")):
        values = ctx.roads[src].astype("string").to_numpy()[np.maximum(row, 0)]
        ev[col] = pd.array(np.where(found, values, None), dtype="string")
    ev["distance_to_road_m"] = s["distance_m"].to_numpy()
    if not ctx.border.is_empty:
        ev["distance_to_exempt_border_m"] = _distance_to(pts, ctx.border)
    on_road = found & (s["distance_m"].to_numpy() <= config.snap_tolerance_m)
    # The network search needs only to reach a little past the tolerance; farther distances are still reported when
    # the search happens to reach them, up to the cutoff.
    cutoff = max(config.border_tolerance_m * 10.0, 50_000.0)
    dist = np.full(n, np.inf)
    if on_road.any() and len(ctx.crossings):
        dist[on_road] = ctx.network.distances(
            ctx.crossings["part"].to_numpy(), ctx.crossings["pos_m"].to_numpy(),
            s["part"].to_numpy()[on_road], s["pos_m"].to_numpy()[on_road], cutoff)
    ev["distance_to_crossing_m"] = dist
    return ev


def _distance_to(points: np.ndarray, line: BaseGeometry) -> np.ndarray:
    """Distance of each point to a long (multi)line: the nearest of its two-vertex segments through an STRtree,
    instead of the whole line per point. The same numbers: the line is the union of its segments."""
    if len(points) < 1000:
        return shapely.distance(points, line)
    coords, index = shapely.get_coordinates(shapely.get_parts(line), return_index=True)
    pair = np.flatnonzero(index[1:] == index[:-1])
    if not len(pair):
        return shapely.distance(points, line)
    segments = shapely.linestrings(np.stack([coords[pair], coords[pair + 1]], axis=1))
    out = np.full(len(points), np.nan)
    valid = ~(pd.isna(points) | shapely.is_empty(points))
    (qi, _), dist = shapely.STRtree(segments).query_nearest(points[valid], return_distance=True)
    out[np.flatnonzero(valid)[qi]] = dist
    return out
