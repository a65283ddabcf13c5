"""The measured facts the checkpoint rules decide on: snap to a road, road class, straight-line and along-network
distances to the exempt border. All distances in a metric CRS.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from geopandas.array import TransformerFromCRS
from shapely.geometry.base import BaseGeometry

from ..config import RuleConfig
from ..vocab import ROAD_CLASSES
from .border import crossings, distance_to_line, exempt_border, unit_polygon, units_rows
from .network import RoadNetwork, snap
from .roads import TRACK_CLOSED_BY, classify, closed_tracks


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
    """Roads in the metric CRS with their class, the network, the exempt border and its crossings.

    ``tracks``: ``{"tracks_kept": n, "tracks_excluded": m}`` rows of the roads given, when any is a track (tracks
    tagged ``motor_vehicle=no`` or ``access=no`` are not in :attr:`roads`); empty when none is.
    """

    crs: pyproj.CRS
    roads: gpd.GeoDataFrame
    network: RoadNetwork
    border: BaseGeometry
    crossings: pd.DataFrame
    tracks: dict[str, int] = field(default_factory=dict)

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
    """Leave out closed tracks, project the roads, classify them, build the network, the exempt border line and its
    crossings."""
    roads, tracks = _without_closed_tracks(roads)
    roads_m, coords = _lines_to_crs(roads, crs)
    roads_m["road_class"] = _classify_distinct(roads_m)
    network = RoadNetwork.from_roads(roads_m, coords=coords)
    del coords
    if boundaries is not None and len(boundaries):
        # Only the rows the jurisdiction's and neighbours' polygons are made of are projected.
        units = boundaries[units_rows(boundaries, [config.jurisdiction, *config.exempt_neighbours])]
        border = exempt_border(units.to_crs(crs), config.jurisdiction, config.exempt_neighbours,
                               config.border_epsilon_m)
    else:
        border = shapely.MultiLineString()
    cross = crossings(network.parts, border, tree=None if border.is_empty else network.tree)
    return RoadContext(crs=crs, roads=roads_m, network=network, border=border, crossings=cross, tracks=tracks)


def road_warnings(roads_meta: Mapping[str, object]) -> list[str]:
    """Warning lines for the roads left out or joined for the user: closed tracks, merged OSM nodes (their counts in
    the roads' input metadata)."""
    out = []
    excluded, merged = roads_meta.get("tracks_excluded"), roads_meta.get("merged_nodes")
    if excluded:
        out.append(f"roads: {excluded} track(s) tagged motor_vehicle=no or access=no left out: not roads for this "
                   "audit")
    if merged:
        out.append(f"roads: {merged} OpenStreetMap node(s) merged with another at the same place, so ways whose ends "
                   "share coordinates but not a node id connect")
    return out


def _without_closed_tracks(roads: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, dict[str, int]]:
    """The roads that are roads for this audit (DESIGN §3: a track tagged ``motor_vehicle=no`` or ``access=no`` is
    not), and how many tracks were kept and left out; no counts when no row is a track."""
    if "highway" not in roads.columns:
        return roads, {}
    track, closed = closed_tracks(roads["highway"], {t: roads[t] for t in TRACK_CLOSED_BY if t in roads.columns})
    if not track.any():
        return roads, {}
    counts = {"tracks_kept": int((track & ~closed).sum()), "tracks_excluded": int(closed.sum())}
    return (roads.loc[~closed] if closed.any() else roads), counts


def _lines_to_crs(frame: gpd.GeoDataFrame, crs: pyproj.CRS) -> tuple[gpd.GeoDataFrame, np.ndarray | None]:
    """``frame.to_crs(crs).reset_index(drop=True)``, and for a layer of 2D LineStrings also their projected
    coordinates (``shapely.get_coordinates`` order), which the network reads its end points from.

    The same numbers as ``to_crs`` (the same pyproj transformer on the same coordinate arrays), without its
    temporaries: coordinates are transformed in place and the lines built from them in one call.
    """
    crs = pyproj.CRS.from_user_input(crs)
    values = frame.geometry.to_numpy()
    src = frame.crs
    if (src is None or not len(values) or src.is_exact_same(crs)
            or not bool((shapely.get_type_id(values) == 1).all()) or bool(shapely.has_z(values).any())
            or bool((shapely.get_num_coordinates(values) < 2).any())):
        return frame.to_crs(crs).reset_index(drop=True), None
    coords, index = shapely.get_coordinates(values, return_index=True)
    x, y = np.ascontiguousarray(coords[:, 0]), np.ascontiguousarray(coords[:, 1])
    TransformerFromCRS(src, crs, always_xy=True).transform(x, y, inplace=True)
    coords[:, 0], coords[:, 1] = x, y
    del x, y
    lines = shapely.linestrings(coords, indices=index)
    del index
    out = frame.reset_index(drop=True)
    out[frame.geometry.name] = gpd.GeoSeries(lines, index=out.index, crs=crs)
    return out, coords


def _classify_distinct(roads: pd.DataFrame) -> pd.Series:
    """:func:`classify` on the distinct (road_class, ref, highway, route) combinations, spread over the rows.

    A province's million road segments carry a few thousand distinct references; the text rules run on those.
    """
    cols = [c for c in ("road_class", "ref", "highway", "route") if c in roads.columns]
    codes = np.zeros(len(roads), dtype=np.int64)
    n_codes = 1
    for col in cols:  # one number per distinct combination (NA a value of its own), in order of first appearance
        col_codes, uniques = pd.factorize(roads[col].astype("string"), use_na_sentinel=False)
        if n_codes * (len(uniques) + 1) >= 1 << 62:
            codes, n_codes = pd.factorize(codes)[0], int(codes.max()) + 1
        codes = codes * (len(uniques) + 1) + col_codes
        n_codes *= len(uniques) + 1
    codes = pd.factorize(codes)[0]
    if not len(codes):
        return pd.Series(pd.array([], dtype="string"), index=roads.index)
    seen = np.maximum.accumulate(codes)
    first = np.flatnonzero(np.concatenate([[True], codes[1:] > seen[:-1]]))  # the first row of each combination
    distinct = roads.iloc[first]
    classes = classify(distinct["road_class"], distinct["ref"], distinct["highway"], distinct.get("route"))
    return pd.Series(classes.array.take(codes), index=roads.index, dtype="string")


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
    s = snap(parts, pts, prefer=covered, rank=_tie_rank(ctx.roads, road_row), tree=ctx.network.tree, xy=False)
    found = s["part"].to_numpy() >= 0
    row = np.where(found, road_row[np.maximum(s["part"].to_numpy(), 0)], -1)
    for col, src in (("road_id", "road_id"), ("road_ref", "ref"), ("road_class", "road_class")):
        values = ctx.roads[src].take(np.maximum(row, 0)).astype("string").to_numpy()
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


def _tie_rank(roads: pd.DataFrame, road_row: np.ndarray):  # type: ignore[no-untyped-def]
    """The tie-break key of road parts for :func:`~transportmon.geo.network.snap`: on a shared vertex the higher
    class (national before provincial …) wins, then the smaller ``road_id``.

    Computed only for the parts asked about (the candidates of a snap), not for every road: the keys order those
    parts as a rank over all roads would.
    """

    def rank(part: np.ndarray) -> np.ndarray:
        rows, inverse = np.unique(road_row[part], return_inverse=True)
        taken = roads.iloc[rows]
        class_rank = taken["road_class"].map({c: i for i, c in enumerate(ROAD_CLASSES)}).fillna(len(ROAD_CLASSES))
        id_rank = pd.factorize(taken["road_id"].astype(str), sort=True)[0]
        return (class_rank.to_numpy(dtype="int64") * (len(rows) + 1) + id_rank)[inverse.ravel()]

    return rank


def _distance_to(points: np.ndarray, line: BaseGeometry) -> np.ndarray:
    """Distance of each point to a long (multi)line: the nearest of its two-vertex segments
    (:func:`~transportmon.geo.border.distance_to_line`) instead of the whole line per point. The same numbers: the
    line is the union of its segments."""
    if len(points) < 1000:
        return shapely.distance(points, line)
    return distance_to_line(points, line)
