"""OpenStreetMap roads through osmnx: the road network's front door.

Three ways in, one roads layer out:

- :func:`roads_from_osm_file` reads a local ``.osm`` / ``.osm.xml`` file (optionally ``.gz`` / ``.bz2``)
  offline with ``osmnx.graph_from_xml``;
- :func:`roads_from_place` and :func:`roads_from_bbox` download from Overpass through osmnx, respecting
  ``osmnx.settings`` (``use_cache``, ``cache_folder``, ``overpass_url``, ``requests_timeout``,
  ``cache_only_mode``…);
- :func:`roads_from_graph` turns any osmnx graph into the layer.

The layer (EPSG:4326) has one row per undirected edge of the graph — the two directions of a two-way road are
one row, a one-way edge is kept once in its direction of travel — with the columns of the DESIGN's roads
layer:

``road_id``
    the OSM way id as text. osmnx splits ways at intersections, so several rows may share one id; when
    simplification merged consecutive ways into one edge, their ids are joined with ``";"`` in numeric order.
``ref``
    OSM ``ref`` as tagged (``"G105;S303"`` stays as is); refs of merged ways are split on ``";"``,
    de-duplicated, sorted and joined with ``";"``.
``highway``
    OSM ``highway``; of merged values, the most important in :data:`DRIVABLE_HIGHWAYS` order. NA for a ferry.
``name``
    OSM ``name`` (merged values sorted and joined with ``";"``).
``road_class``
    all NA: the road classifier fills it from ``ref`` and ``highway``.
``route``
    ``"ferry"`` for ferry lines, else NA.
``u``, ``v``
    OSM node ids (int64) of the edge's end points: the graph's own topology. Rows that share a node id
    connect, so the along-network distance runs on exactly the network osmnx built.
``length_m``
    osmnx ``length`` (great-circle metres along the edge).
``geometry``
    the edge's LineString (a straight line between its nodes when osmnx stores none).

Rows are sorted by ``(road_id, u, v)``. ``attrs["source"]`` says what was decided on the way (the audit copies it
into the report's ``metadata["inputs"]["roads"]``): ``tracks_kept`` and ``tracks_excluded`` (OSM ways) and
``merged_nodes``, with a ``notes`` line for each that is not zero.

What is kept
------------
Roads: ways whose ``highway`` is one of :data:`DRIVABLE_HIGHWAYS` —
motorway, trunk, primary, secondary, tertiary, their ``*_link`` ramps, unclassified, residential,
living_street, service, road and track — unless tagged ``area=yes`` (the outline of a square, not a road).
Tracks are village roads (DESIGN §3: in Chinese OSM many village roads 村道 are tracks), except a track tagged
``motor_vehicle=no`` or ``access=no``, which is not a road for this audit
(:func:`transportmon.geo.roads.closed_tracks`, the rule a roads file follows too). Every other way is dropped by
design: footway, path, cycleway, pedestrian, steps, bridleway, construction / proposed / abandoned roads, and
non-road ways (buildings, rivers, railways). Other access restrictions are not applied: a checkpoint may stand
on a private road too. Ferry lines (``route=ferry``, which OSM ways carry *without* a ``highway`` tag) are kept
whatever else they carry, because a ferry that crosses the exempt border is a border crossing.

Ways whose ends share coordinates but not a node id (duplicate nodes, a common mapping error JOSM flags)
connect, as segments of a roads file that share end points do: edge end nodes equal on the road network's
1 cm grid (:data:`transportmon.geo.network.NODE_GRID_M`, in the local UTM zone) take the smallest of their ids
in ``u``/``v``. Only end points merge: a bridge whose middle vertex lies on a road below stays apart.

How Chinese roads look in OSM, which is what the classifier reads afterwards:

- national roads 国道 ``G###`` (``G105``, ``G316``) are usually ``highway=trunk`` or ``primary``;
- provincial roads 省道 ``S###`` (``S303``) are usually ``primary`` or ``secondary``;
- county roads 县道 ``X###`` are usually ``secondary`` or ``tertiary``; township 乡道 ``Y###`` and
  village 村道 ``C###`` roads are ``tertiary``, ``unclassified`` or ``residential``;
- expressways 高速公路 are ``highway=motorway`` with refs such as ``G70``, ``G4211`` (national) or ``S26``
  (provincial); their ramps are ``motorway_link``;
- a road signed as two routes carries both refs in one tag, ``ref=G105;S303``.

How the graph is built
----------------------
Files and downloads are loaded unsimplified with every connected component kept (``retain_all=True``: an
island reached by ferry, or a road stub cut at the area's edge, is part of the network); downloads keep the
edges that cross the area's boundary (``truncate_by_edge=True``), so a road leaving the area still reaches its
border crossing. Then the non-drivable edges are removed and the graph is simplified with
``osmnx.simplify_graph(edge_attrs_differ=("highway", "ref", "name", "route"), remove_rings=False)``: a node
stays an end point where the road's class, ref, name or ferry status changes, so merged edges never mix a
G-road with an S-road, and no isolated ring is dropped. While loading, ``settings.useful_tags_way`` is
temporarily extended with the tags this layer needs (``route`` above all: osmnx's default list lacks it, and a
ferry edge would lose the only tag that says it is a ferry); the user's list is restored afterwards.

Safety
------
Python's XML parsers expand DTD entities. A file whose prolog declares entities (``<!ENTITY``) is refused
before parsing: OSM XML never declares any, and a "billion laughs" file would expand to gigabytes. The expat
bundled with recent Pythons (≥ 2.4.1) also stops such a file itself ("limit on input amplification factor");
the pre-scan does not depend on that. Files are otherwise read by osmnx, which parses the whole document twice
(ElementTree, then SAX).
"""

from __future__ import annotations

import bz2
import gzip
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from xml.sax import SAXException

import geopandas as gpd
import networkx as nx
import numpy as np
import osmnx as ox
import pandas as pd
import requests
import shapely
from osmnx._errors import CacheOnlyInterruptError, InsufficientResponseError, ResponseStatusCodeError

from .._errors import InputError
from ..geo.roads import TRACK_CLOSED_BY, closed_tracks
from .osm_edges import (
    column,
    contains,
    count_ways,
    deduplicated_order,
    edge_geometry,
    empty_layer,
    first_by_rank,
    join_values,
    merge_coincident_nodes,
)

__all__ = [
    "DRIVABLE_HIGHWAYS",
    "ROAD_COLUMNS",
    "OSMError",
    "roads_from_bbox",
    "roads_from_graph",
    "roads_from_osm_file",
    "roads_from_place",
]

log = logging.getLogger(__name__)

#: ``highway`` values kept as roads, most important first (the order picks one value when edges were merged).
#: Tracks are last: village roads, kept unless closed to motor vehicles (see the module docstring).
DRIVABLE_HIGHWAYS: tuple[str, ...] = (
    "motorway",
    "motorway_link",
    "trunk",
    "trunk_link",
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
    "tertiary",
    "tertiary_link",
    "unclassified",
    "residential",
    "living_street",
    "service",
    "road",
    "track",
)

#: Columns of the layer, in order.
ROAD_COLUMNS: tuple[str, ...] = (
    "road_id", "ref", "highway", "name", "road_class", "route", "u", "v", "length_m", "geometry",
)

# Way tags the layer needs while osmnx loads a graph (oneway/junction decide which directions exist).
_WAY_TAGS = ("highway", "ref", "name", "route", "oneway", "junction", "area", *TRACK_CLOSED_BY)
# A node stays an end point of a simplified edge where any of these change.
_SIMPLIFY_DIFFER = ("highway", "ref", "name", "route")
# Overpass filters (a list is a union of queries): road highways (tracks too: closed ones are counted, then
# dropped), and ferry lines.
_OVERPASS_FILTERS = [
    '["highway"~"^(' + "|".join(DRIVABLE_HIGHWAYS) + ')$"]["area"!~"yes"]',
    '["route"="ferry"]',
]
_HIGHWAY_RANK = {h: i for i, h in enumerate(DRIVABLE_HIGHWAYS)}
_PRESCAN_BYTES = 1 << 20
_ROOT_RE = re.compile(r"<([A-Za-z_:][-\w.:]*)")
_COMMENT_RE = re.compile(r"<!--.*?-->|<\?.*?\?>", re.DOTALL)
_OSM_FILE_FIX = (
    "give an OSM XML file (.osm / .osm.xml, optionally .gz or .bz2), e.g. `osmium cat in.osm.pbf -o out.osm`"
)


class OSMError(InputError):
    """OSM roads cannot be had from this file, place or area; the message names it, the problem, the fix."""

    @property
    def source(self) -> str:
        """The file, place or area that failed."""
        return self.path


# ------------------------------------------------------------------------------------------------ public API


def roads_from_graph(G: nx.MultiGraph | nx.MultiDiGraph) -> gpd.GeoDataFrame:
    """Roads layer from an osmnx graph, as it comes (simplified or not, any CRS).

    Edges that are neither roads nor ferries are dropped, closed tracks too, and end nodes at the same place get
    one id (see the module docstring); the two directions of a road are collapsed into one row. Vectorised: one
    ``graph_to_gdfs`` call, then column operations.

    Parameters
    ----------
    G
        An osmnx graph: nodes with ``x``/``y``, edges with ``osmid`` and OSM tags, ``G.graph["crs"]``.

    Returns
    -------
    gpd.GeoDataFrame
        The roads layer in EPSG:4326, columns :data:`ROAD_COLUMNS`, sorted by ``(road_id, u, v)``, with
        ``attrs["source"]`` (tracks kept and excluded, OSM nodes merged).
    """
    if nx.is_empty(G):
        return _with_source(empty_layer(), 0, 0, 0)
    nodes, edges = ox.convert.graph_to_gdfs(G, node_geometry=False, fill_edge_geometry=False)
    edges = edges.reset_index()
    n = len(edges)

    highway = first_by_rank(column(edges, "highway", n), _HIGHWAY_RANK)
    keep, ferry, track, closed = _roads(edges, highway)
    tracks_kept = count_ways(column(edges, "osmid", n), track & keep)
    tracks_excluded = count_ways(column(edges, "osmid", n), closed & ~keep)
    dropped = n - int(keep.sum())
    if dropped:
        log.info("roads_from_graph: dropped %d of %d edges that are neither roads nor ferries", dropped, n)
    if not keep.any():
        return _with_source(empty_layer(), tracks_kept, tracks_excluded, 0)

    edges = edges.loc[keep].reset_index(drop=True)
    m = len(edges)
    u = edges["u"].to_numpy(dtype="int64")
    v = edges["v"].to_numpy(dtype="int64")
    road_id = join_values(column(edges, "osmid", m), numeric=True)
    geometry = edge_geometry(edges, nodes, u, v)
    crs = G.graph.get("crs") or "EPSG:4326"
    u, v, merged = merge_coincident_nodes(u, v, nodes, crs)

    order = deduplicated_order(road_id, u, v, geometry)
    if "length" in edges.columns:
        length = pd.to_numeric(edges["length"], errors="coerce").to_numpy(dtype="float64")
    else:
        length = np.full(m, np.nan)
    frame = pd.DataFrame(
        {
            "road_id": pd.Series(road_id[order], dtype="str"),
            "ref": pd.Series(join_values(column(edges, "ref", m), split=True)[order], dtype="str"),
            "highway": pd.Series(highway[keep][order], dtype="str"),
            "name": pd.Series(join_values(column(edges, "name", m))[order], dtype="str"),
            "road_class": pd.Series([None] * len(order), dtype="str"),
            "route": pd.Series(np.where(ferry[keep][order], "ferry", None), dtype="str"),
            "u": u[order],
            "v": v[order],
            "length_m": length[order],
        }
    )
    layer = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry[order], crs=crs))
    return _with_source(layer.to_crs("EPSG:4326")[list(ROAD_COLUMNS)], tracks_kept, tracks_excluded, merged)


def roads_from_osm_file(path: str | os.PathLike[str]) -> gpd.GeoDataFrame:
    """Roads layer from a local OSM XML file, offline (``osmnx.graph_from_xml``).

    Parameters
    ----------
    path
        An ``.osm`` / ``.osm.xml`` file, optionally compressed as ``.gz`` or ``.bz2``.

    Returns
    -------
    gpd.GeoDataFrame
        The roads layer (see :func:`roads_from_graph`); empty when the file has no drivable road nor ferry.

    Raises
    ------
    OSMError
        The file is missing, unreadable, empty, not OSM XML, declares DTD entities, or its ways refer to nodes
        it does not hold. The message names the file.
    """
    p = Path(path)
    _prescan(p)
    try:
        with _useful_way_tags():
            G = ox.graph_from_xml(p, simplify=False, retain_all=True)
    except CacheOnlyInterruptError as e:
        raise OSMError(p, "osmnx.settings.cache_only_mode is on, so osmnx stops before building any graph, "
                       "even from a local file", "set osmnx.settings.cache_only_mode = False") from e
    except InsufficientResponseError as e:
        raise OSMError(p, "the file holds no OSM nodes or ways", _OSM_FILE_FIX) from e
    except UnicodeDecodeError as e:
        raise OSMError(p, f"not UTF-8 text ({e.reason} at byte {e.start})", _OSM_FILE_FIX) from e
    except (SyntaxError, SAXException) as e:  # xml.etree.ElementTree.ParseError is a SyntaxError
        raise OSMError(p, f"invalid XML ({_xml_detail(e)})", _OSM_FILE_FIX) from e
    except (OSError, EOFError) as e:
        raise OSMError(p, f"cannot read the file ({e})", "check the path and the file's permissions") from e
    except ValueError as e:
        if "missing nodes" in str(e):
            raise OSMError(p, "ways refer to nodes the file does not hold (an extract cut through ways)",
                           "extract with complete ways: `osmium extract --strategy complete_ways`") from e
        raise OSMError(p, f"not valid OSM XML ({e})", _OSM_FILE_FIX) from e
    except (KeyError, TypeError) as e:  # e.g. a <node> without lat/lon, an <nd> without ref
        raise OSMError(p, f"not valid OSM XML (missing or malformed attribute {e})", _OSM_FILE_FIX) from e
    return _layer(G)


def roads_from_place(place: str) -> gpd.GeoDataFrame:
    """Roads layer downloaded through osmnx for a place name (Nominatim boundary, then Overpass).

    Respects ``osmnx.settings``: with ``use_cache`` on, a place fetched once is read from ``cache_folder``
    later without a network.

    Parameters
    ----------
    place
        A name Nominatim resolves to a boundary polygon, e.g. ``"九江市, 江西省, 中国"``.

    Returns
    -------
    gpd.GeoDataFrame
        The roads layer (see :func:`roads_from_graph`), with the roads that cross the place's boundary.

    Raises
    ------
    OSMError
        No network, a server error, a place Nominatim does not know or that is not a polygon, no roads there,
        or ``cache_only_mode``. The message names the place and the fix.
    """
    source = f"place {place!r}"
    try:
        with _network_errors(source):
            polygon = ox.geocode_to_gdf(place).union_all()
    except InsufficientResponseError as e:
        raise OSMError(source, f"Nominatim does not know this place ({e})",
                       "check the name (e.g. '九江市, 江西省, 中国'), "
                       "or give --bbox WEST SOUTH EAST NORTH") from e
    except TypeError as e:
        raise OSMError(source, "Nominatim resolves it to a point or a line, not a boundary polygon",
                       "use a more precise name, or --bbox WEST SOUTH EAST NORTH") from e
    return _download(polygon, source)


def roads_from_bbox(west: float, south: float, east: float, north: float) -> gpd.GeoDataFrame:
    """Roads layer downloaded through osmnx for a WGS-84 bounding box.

    Parameters
    ----------
    west, south, east, north
        Longitude and latitude bounds in degrees; ``west < east``, ``south < north``.

    Returns
    -------
    gpd.GeoDataFrame
        The roads layer (see :func:`roads_from_graph`), with the roads that cross the box's edge.

    Raises
    ------
    OSMError
        Bounds out of range or empty, no network, a server error, no roads, or ``cache_only_mode``.
    """
    source = f"bbox {west},{south},{east},{north}"
    bounds = np.array([west, south, east, north], dtype="float64")
    if not (np.isfinite(bounds).all() and -180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise OSMError(source, "not a bounding box", "give WEST SOUTH EAST NORTH in degrees, "
                       "-180 ≤ west < east ≤ 180, -90 ≤ south < north ≤ 90")
    return _download(shapely.box(west, south, east, north), source)


# --------------------------------------------------------------------------------------------------- loading


def _download(polygon: shapely.Polygon | shapely.MultiPolygon, source: str) -> gpd.GeoDataFrame:
    """Download the roads (tracks too) and ferries in ``polygon`` and make the layer."""
    try:
        with _network_errors(source), _useful_way_tags():
            G = ox.graph_from_polygon(
                polygon,
                custom_filter=_OVERPASS_FILTERS,
                simplify=False,
                retain_all=True,
                truncate_by_edge=True,
            )
    except CacheOnlyInterruptError as e:
        raise OSMError(source, "osmnx.settings.cache_only_mode is on: osmnx saved the Overpass responses in "
                       f"{ox.settings.cache_folder} and stopped before building a graph",
                       "set osmnx.settings.cache_only_mode = False; the cached responses are then read "
                       "without a network") from e
    except InsufficientResponseError as e:
        raise OSMError(source, f"OpenStreetMap has no drivable road nor ferry there ({e})",
                       "check the area, or give the roads with --osm-file / --roads") from e
    return _layer(G)


def _layer(G: nx.MultiDiGraph) -> gpd.GeoDataFrame:
    """The layer of an unsimplified graph just loaded, counting the closed tracks dropped before simplification."""
    G, excluded = _drivable_simplified(G)
    layer = roads_from_graph(G)
    source = layer.attrs["source"]
    return _with_source(layer, source["tracks_kept"], source["tracks_excluded"] + excluded, source["merged_nodes"])


@contextmanager
def _network_errors(source: str) -> Iterator[None]:
    """Turn the network failures osmnx lets through into an OSMError that says how to work offline."""
    try:
        yield
    except requests.RequestException as e:
        cache = (f"osmnx caches responses in {ox.settings.cache_folder} (settings.use_cache, now "
                 f"{ox.settings.use_cache}); a run with a network fills it, later runs read it offline")
        raise OSMError(source, f"no network: cannot download from OpenStreetMap ({type(e).__name__}: {e})",
                       f"work offline with --osm-file FILE.osm (osmnx.graph_from_xml), or: {cache}") from e
    except ResponseStatusCodeError as e:
        raise OSMError(source, f"the OpenStreetMap server refused the request ({e})",
                       "retry later, set osmnx.settings.overpass_url to another server, "
                       "or use --osm-file") from e


@contextmanager
def _useful_way_tags() -> Iterator[None]:
    """Add the tags the layer needs to ``osmnx.settings.useful_tags_way`` for a while; keep the user's own."""
    saved = ox.settings.useful_tags_way
    ox.settings.useful_tags_way = [*saved, *(t for t in _WAY_TAGS if t not in saved)]
    try:
        yield
    finally:
        ox.settings.useful_tags_way = saved


def _roads(edges: pd.DataFrame, highway: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(keep, ferry, track, closed)`` per edge: roads (not ``area=yes``, not closed tracks) and ferries are kept."""
    n = len(edges)
    ferry = contains(column(edges, "route", n), "ferry")
    area = contains(column(edges, "area", n), "yes")
    hw = pd.Series(highway, dtype=object)
    track, closed = closed_tracks(hw, {tag: column(edges, tag, n) for tag in TRACK_CLOSED_BY})
    keep = (hw.isin(DRIVABLE_HIGHWAYS).to_numpy() & ~area & ~closed) | ferry
    return keep, ferry, track, closed


def _drivable_simplified(G: nx.MultiDiGraph) -> tuple[nx.MultiDiGraph, int]:
    """Drop the edges of an unsimplified graph that are not roads (in place), then simplify where the road is the
    same; also how many OSM ways were closed tracks (dropped before simplification could merge them away)."""
    keys = list(G.edges(keys=True))
    tags = ("osmid", "highway", "route", "area", *TRACK_CLOSED_BY)
    edges = pd.DataFrame([{t: d.get(t) for t in tags} for *_, d in G.edges(keys=True, data=True)],
                         columns=list(tags))
    keep, _, _, closed = _roads(edges, edges["highway"].to_numpy(dtype=object))
    excluded = count_ways(edges["osmid"], closed & ~keep)
    G.remove_edges_from([keys[i] for i in np.flatnonzero(~keep)])
    G.remove_nodes_from(list(nx.isolates(G)))
    if not keep.all():
        log.info("dropped %d edges that are neither roads nor ferries", int((~keep).sum()))
    if nx.is_empty(G):
        return G, excluded
    return ox.simplify_graph(G, edge_attrs_differ=_SIMPLIFY_DIFFER, remove_rings=False), excluded


def _with_source(layer: gpd.GeoDataFrame, kept: int, excluded: int, merged: int) -> gpd.GeoDataFrame:
    """The layer with ``attrs["source"]``: tracks kept and excluded (OSM ways), nodes merged, a note for each."""
    notes = []
    if excluded:
        notes.append(f"left out {excluded} OSM track way(s) tagged motor_vehicle=no or access=no (not roads for "
                     "this audit)")
    if merged:
        notes.append(f"merged {merged} OSM node(s) into another at the same place (ways whose ends share coordinates "
                     "but not a node id connect)")
    layer.attrs["source"] = {"tracks_kept": kept, "tracks_excluded": excluded, "merged_nodes": merged,
                             **({"notes": notes} if notes else {})}
    return layer


def _prescan(p: Path) -> None:
    """Refuse what osmnx should not parse: missing, empty, binary, non-OSM, or entity-declaring files."""
    if not p.exists():
        raise OSMError(p, "file not found", "check the path, or download with --place / --bbox")
    if p.is_dir():
        raise OSMError(p, "is a folder, not a file", _OSM_FILE_FIX)
    if p.suffix.lower() == ".pbf":
        raise OSMError(p, "OSM PBF is not read here", "convert it: `osmium cat FILE.osm.pbf -o FILE.osm`")
    try:
        opener = {".gz": gzip.open, ".bz2": bz2.open}.get(p.suffix.lower(), open)
        with opener(p, "rb") as fh:
            head = fh.read(_PRESCAN_BYTES)
            longer = bool(fh.read(1))
    except (OSError, EOFError) as e:
        raise OSMError(p, f"cannot read the file ({e})", "check its permissions and compression") from e
    if not head.strip():
        raise OSMError(p, "the file is empty", _OSM_FILE_FIX)
    if b"\x00" in head:
        raise OSMError(p, "a binary file, not OSM XML", _OSM_FILE_FIX)
    text = _COMMENT_RE.sub("", head.decode("utf-8", errors="replace"))
    root = _ROOT_RE.search(text)
    prolog = text if root is None else text[: root.start()]
    if "<!ENTITY" in prolog:
        raise OSMError(p, "refused: the XML declares DTD entities (<!ENTITY …>); OSM XML never does, and "
                       "entity expansion ('billion laughs') can exhaust memory", _OSM_FILE_FIX)
    if root is None:
        if longer:
            raise OSMError(p, f"no XML element in the first {_PRESCAN_BYTES >> 20} MiB", _OSM_FILE_FIX)
        raise OSMError(p, "no XML element: the file is empty or not XML", _OSM_FILE_FIX)
    if root.group(1) != "osm":
        raise OSMError(p, f"not OSM XML: the root element is <{root.group(1)}>, not <osm>", _OSM_FILE_FIX)


def _xml_detail(e: BaseException) -> str:
    """The parser's message without the file name it sometimes prepends."""
    if isinstance(e, SAXException):
        return e.getMessage()
    return str(e)
