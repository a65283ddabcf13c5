"""OSM roads through osmnx: files offline, downloads with a faked network, graphs, and hostile files.

No test makes a real request: an autouse fixture makes every HTTP request and DNS lookup fail, and the
download tests answer at the HTTP adapter with canned Nominatim / Overpass JSON.
"""

from __future__ import annotations

import gzip
import json
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import geopandas as gpd
import networkx as nx
import numpy as np
import osmnx as ox
import pandas as pd
import pytest
import requests
import shapely
from geopandas.testing import assert_geodataframe_equal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transportmon.io import osm
from transportmon.io.osm import (
    DRIVABLE_HIGHWAYS,
    ROAD_COLUMNS,
    OSMError,
    roads_from_bbox,
    roads_from_graph,
    roads_from_osm_file,
    roads_from_place,
)

sys.path.insert(0, str(Path(__file__).parent))
from osm_fixtures import (
    BORDER_LON,
    BORDER_TOWN_NODES,
    BORDER_TOWN_WAYS,
    border_town_osm,
    write_osm_xml,
)

REPO = Path(__file__).resolve().parents[1]
PLACE = "九江市, 江西省, 中国"

# (road_id, ref, highway, name, route, u, v, node path of the geometry)
EXPECTED = [
    ("101", "G105", "trunk", "105国道", None, 1, 2, [1, 2]),
    ("101", "G105", "trunk", "105国道", None, 2, 4, [2, 3, 4]),
    ("101", "G105", "trunk", "105国道", None, 4, 5, [4, 5]),
    ("102", "G105;S303", "primary", "105国道", None, 5, 6, [5, 6]),
    ("103", None, "tertiary", "滨江路", None, 6, 5, [6, 7, 5]),
    ("104", None, None, "九江轮渡", "ferry", 9, 10, [9, 10]),
    ("105", None, "residential", "码头路", None, 2, 9, [2, 9]),
    ("106;107", None, "residential", "江边路", None, 4, 10, [4, 11, 10]),
]


def _expected_layer() -> gpd.GeoDataFrame:
    lines = [shapely.LineString([BORDER_TOWN_NODES[n] for n in path]) for *_, path in EXPECTED]
    lengths = [
        sum(
            float(ox.distance.great_circle(a[1], a[0], b[1], b[0]))
            for a, b in zip(line.coords[:-1], line.coords[1:], strict=True)
        )
        for line in lines
    ]
    frame = pd.DataFrame(
        {
            "road_id": pd.Series([r[0] for r in EXPECTED], dtype="str"),
            "ref": pd.Series([r[1] for r in EXPECTED], dtype="str"),
            "highway": pd.Series([r[2] for r in EXPECTED], dtype="str"),
            "name": pd.Series([r[3] for r in EXPECTED], dtype="str"),
            "road_class": pd.Series([None] * len(EXPECTED), dtype="str"),
            "route": pd.Series([r[4] for r in EXPECTED], dtype="str"),
            "u": np.array([r[5] for r in EXPECTED], dtype="int64"),
            "v": np.array([r[6] for r in EXPECTED], dtype="int64"),
            "length_m": np.array(lengths, dtype="float64"),
        }
    )
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(lines, crs="EPSG:4326"))


def _rows(frame: pd.DataFrame) -> list[list[Any]]:
    """Rows as lists, NA as None."""
    return [[None if pd.isna(x) else x for x in row] for row in frame.itertuples(index=False)]


# ------------------------------------------------------------------------------------------------ no network


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every HTTP request and DNS lookup fails; osmnx caches into tmp_path; nothing sleeps."""

    def refuse_http(self: Any, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        raise requests.ConnectionError(f"test: no network ({request.url})")

    def refuse_dns(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "test: no network")

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", refuse_http)
    monkeypatch.setattr(socket, "gethostbyname", refuse_dns)
    monkeypatch.setattr(socket, "getaddrinfo", refuse_dns)  # osmnx replaces it in _config_dns: restored after
    monkeypatch.setattr(socket, "create_connection", refuse_dns)
    monkeypatch.setattr(time, "sleep", lambda seconds: None)  # Nominatim's 1 s courtesy pause
    monkeypatch.setattr(ox.settings, "cache_folder", tmp_path / "osmnx-cache")
    monkeypatch.setattr(ox.settings, "use_cache", True)
    monkeypatch.setattr(ox.settings, "cache_only_mode", False)
    monkeypatch.setattr(ox.settings, "overpass_rate_limit", False)
    monkeypatch.setattr(ox.settings, "useful_tags_way", list(ox.settings.useful_tags_way))


def _overpass_json(query: str) -> dict[str, Any]:
    """What Overpass returns for our two filters on the border town: the matching ways and their nodes."""
    if '"route"="ferry"' in query:
        ways = [w for w in BORDER_TOWN_WAYS if w[2].get("route") == "ferry"]
    else:
        ways = [w for w in BORDER_TOWN_WAYS if w[2].get("highway") in DRIVABLE_HIGHWAYS]
    node_ids = sorted({n for _, refs, _ in ways for n in refs})
    elements: list[dict[str, Any]] = [
        {"type": "node", "id": n, "lat": BORDER_TOWN_NODES[n][1], "lon": BORDER_TOWN_NODES[n][0]}
        for n in node_ids
    ]
    elements += [{"type": "way", "id": i, "nodes": refs, "tags": dict(tags)} for i, refs, tags in ways]
    return {"version": 0.6, "generator": "test", "elements": elements}


def _nominatim_json(query: str) -> list[dict[str, Any]]:
    if query != PLACE:
        return []
    ring = [[115.85, 29.65], [116.10, 29.65], [116.10, 29.75], [115.85, 29.75], [115.85, 29.65]]
    return [
        {
            "place_id": 1, "osm_type": "relation", "osm_id": 2_000_000, "lat": "29.70", "lon": "115.97",
            "boundingbox": ["29.65", "29.75", "115.85", "116.10"],
            "class": "boundary", "type": "administrative",
            "display_name": PLACE, "importance": 0.8, "geojson": {"type": "Polygon", "coordinates": [ring]},
        }
    ]


@pytest.fixture
def fake_osm_servers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Answer Nominatim and Overpass at the HTTP adapter (no socket is opened); returns the hosts asked."""
    asked: list[str] = []

    def answer(self: Any, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        url = str(request.url)
        asked.append(url.split("/")[2])
        if "nominatim" in url:
            payload: Any = _nominatim_json(parse_qs(url.split("?", 1)[1])["q"][0])
        elif "overpass" in url:
            body = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
            payload = _overpass_json(parse_qs(body)["data"][0])
        else:
            raise requests.ConnectionError(f"test: unexpected request {url}")
        response = requests.Response()
        response.status_code = 200
        response._content = json.dumps(payload).encode()
        response.url = url
        response.request = request
        response.encoding = "utf-8"
        response.headers["Content-Type"] = "application/json"
        return response

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", answer)
    monkeypatch.setattr(socket, "gethostbyname", lambda host: "192.0.2.1")  # TEST-NET: never connected to
    return asked


# -------------------------------------------------------------------------------------------- file → layer


def test_file_gives_the_expected_layer(tmp_path: Path) -> None:
    roads = roads_from_osm_file(border_town_osm(tmp_path / "town.osm"))
    assert list(roads.columns) == list(ROAD_COLUMNS)
    assert roads.crs == "EPSG:4326"
    assert_geodataframe_equal(roads, _expected_layer(), check_less_precise=True)
    assert roads["length_m"].to_numpy() == pytest.approx(_expected_layer()["length_m"].to_numpy(), rel=1e-9)


def test_ferry_is_kept_and_crosses_the_border(tmp_path: Path) -> None:
    roads = roads_from_osm_file(border_town_osm(tmp_path / "town.osm"))
    border = shapely.LineString([(BORDER_LON, 29.0), (BORDER_LON, 30.0)])
    crossing = roads[roads.geometry.crosses(border)]
    expected = [["101", None, "trunk"], ["104", "ferry", None]]
    assert _rows(crossing[["road_id", "route", "highway"]]) == expected


def test_footway_and_building_are_dropped(tmp_path: Path) -> None:
    roads = roads_from_osm_file(border_town_osm(tmp_path / "town.osm"))
    ids = set(";".join(roads["road_id"]).split(";"))
    assert "108" not in ids and "109" not in ids
    assert not {3, 12, 13, 14, 15} & (set(roads["u"]) | set(roads["v"]))


def test_two_way_roads_are_one_row_one_way_keeps_its_direction(tmp_path: Path) -> None:
    roads = roads_from_osm_file(border_town_osm(tmp_path / "town.osm"))
    roads_and_ends = [
        (r, frozenset((a, b))) for r, a, b in zip(roads["road_id"], roads["u"], roads["v"], strict=True)
    ]
    assert len(roads_and_ends) == len(set(roads_and_ends))
    one_way = roads[roads["road_id"] == "103"]
    assert (one_way["u"].tolist(), one_way["v"].tolist()) == ([6], [5])
    assert shapely.get_coordinates(one_way.geometry.iloc[0])[0].tolist() == [116.05, 29.70]


def test_layer_connects_through_shared_node_ids(tmp_path: Path) -> None:
    roads = roads_from_osm_file(border_town_osm(tmp_path / "town.osm"))
    graph = nx.Graph(zip(roads["u"], roads["v"], strict=True))
    assert nx.is_connected(graph)
    assert nx.shortest_path(graph, 1, 10) in ([1, 2, 9, 10], [1, 2, 4, 10])


def test_compressed_file_gives_the_same_layer(tmp_path: Path) -> None:
    plain = border_town_osm(tmp_path / "town.osm")
    packed = tmp_path / "town.osm.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert_geodataframe_equal(roads_from_osm_file(packed), roads_from_osm_file(plain))


def test_loading_restores_the_users_useful_tags(tmp_path: Path) -> None:
    mine = ["highway", "maxspeed"]
    ox.settings.useful_tags_way = mine
    roads_from_osm_file(border_town_osm(tmp_path / "town.osm"))
    assert ox.settings.useful_tags_way is mine and mine == ["highway", "maxspeed"]


@pytest.mark.parametrize("oneway", [False, True])
def test_ring_ways_keep_each_physical_road(tmp_path: Path, oneway: bool) -> None:
    """Rings: neither collapsed into fewer rows, nor kept twice when two-way.

    A closed way between two junctions is two roads with one id and the same end nodes; a ring hanging off one
    junction is a self-loop.
    """
    nodes = {1: (116.0, 29.7), 2: (116.01, 29.71), 3: (116.02, 29.7), 4: (116.01, 29.69), 5: (116.03, 29.7),
             6: (115.99, 29.7), 7: (116.0, 29.8), 8: (116.01, 29.81), 9: (116.0, 29.82), 10: (115.99, 29.8)}
    ring = {"oneway": "yes"} if oneway else {}
    ways = [
        (201, [1, 2, 3, 4, 1], {"highway": "residential", **ring}),
        (202, [3, 5], {"highway": "residential"}),
        (203, [1, 6], {"highway": "residential"}),
        (401, [7, 8, 9, 7], {"highway": "service", **ring}),
        (402, [7, 10], {"highway": "service"}),
    ]
    roads = roads_from_osm_file(write_osm_xml(tmp_path / "rings.osm", nodes, ways))
    ends = [(r, a, b) for r, a, b in zip(roads["road_id"], roads["u"], roads["v"], strict=True)]
    assert ends == ([("201", 1, 3), ("201", 3, 1)] if oneway else [("201", 1, 3), ("201", 1, 3)]) + [
        ("202", 3, 5), ("203", 1, 6), ("401", 7, 7), ("402", 7, 10)]
    via = sorted(shapely.get_coordinates(g)[1].tolist() for g in roads.geometry[roads["road_id"] == "201"])
    assert via == [[116.01, 29.69], [116.01, 29.71]]
    again = roads_from_osm_file(write_osm_xml(tmp_path / "again.osm", nodes, ways))
    assert_geodataframe_equal(roads, again)


def test_file_without_roads_gives_an_empty_layer(tmp_path: Path) -> None:
    path = write_osm_xml(tmp_path / "park.osm", {1: (116.0, 29.7), 2: (116.01, 29.7)},
                         [(1, [1, 2], {"highway": "footway"})])
    roads = roads_from_osm_file(path)
    assert roads.empty and list(roads.columns) == list(ROAD_COLUMNS) and roads.crs == "EPSG:4326"
    assert roads["u"].dtype == "int64" and roads["road_id"].dtype == "str"


def test_osmnx_default_loading_hides_the_ferry(tmp_path: Path) -> None:
    """Why the loader configures osmnx: by default the ferry loses its route tag and merges into streets."""
    G = ox.graph_from_xml(border_town_osm(tmp_path / "town.osm"))
    default = roads_from_graph(G)
    assert default["route"].isna().all()
    assert "104;105;106;107" in set(default["road_id"])


# ------------------------------------------------------------------------------------------------ bad files


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "the file is empty"),
        (b"  \n", "the file is empty"),
        (b'<?xml version="1.0"?>\n<gpx version="1.1"><trk/></gpx>', "root element is <gpx>"),
        (b"<html><body>Not found</body></html>", "root element is <html>"),
        (b"just some text", "no XML element"),
        (b'<osm version="0.6"><node id="1" lat="0" lon="0"></osm>', "invalid XML"),
        (b'<osm version="0.6"></osm>', "holds no OSM nodes or ways"),
        (b'<osm version="0.6"><node id="1" lat="0"/></osm>', "not valid OSM XML"),
        (
            (
                b'<osm version="0.6"><node id="1" lat="0" lon="0"/><way id="5"><nd ref="1"/><nd ref="2"/>'
                b'<tag k="highway" v="primary"/></way></osm>'
            ),
            "nodes the file does not hold",
        ),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "binary file"),
        (b'\xff\xfe<\x00o\x00s\x00m\x00', "binary file"),
    ],
)
def test_bad_file_is_an_osm_error_naming_the_file(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "roads.osm"
    path.write_bytes(content)
    with pytest.raises(OSMError, match=problem) as info:
        roads_from_osm_file(path)
    assert str(path) in str(info.value) and " — " in str(info.value)


def test_missing_file_folder_and_bad_gzip_are_osm_errors(tmp_path: Path) -> None:
    (tmp_path / "folder.osm").mkdir()
    (tmp_path / "bad.osm.gz").write_bytes(b"not gzip at all")
    (tmp_path / "roads.osm.pbf").write_bytes(b"\x00\x00\x00\x0d\x0a\x09OSMHeader")
    for name, problem in [("missing.osm", "file not found"), ("folder.osm", "folder"),
                          ("bad.osm.gz", "cannot read"), ("roads.osm.pbf", "PBF")]:
        with pytest.raises(OSMError, match=problem) as info:
            roads_from_osm_file(tmp_path / name)
        assert name in str(info.value)


def test_unreadable_file_is_an_osm_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # chmod 0 does not stop root (CI runs as root), so the permission error is raised where the module opens files.
    import transportmon.io.osm as osm_module

    path = border_town_osm(tmp_path / "town.osm")

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(osm_module, "open", denied, raising=False)
    with pytest.raises(OSMError, match="cannot read") as info:
        roads_from_osm_file(path)
    assert "town.osm" in str(info.value)
    assert "permissions" in str(info.value)


def test_cache_only_mode_with_a_file_is_explained(tmp_path: Path) -> None:
    ox.settings.cache_only_mode = True
    with pytest.raises(OSMError, match="cache_only_mode"):
        roads_from_osm_file(border_town_osm(tmp_path / "town.osm"))


# -------------------------------------------------------------------------------------------- entity bombs


def _bomb(levels: int = 10) -> str:
    entities = ['<!ENTITY lol0 "lololololololololol">']
    entities += [f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, levels)]
    return (
        '<?xml version="1.0"?>\n<!-- a comment first -->\n<!DOCTYPE osm [\n' + "\n".join(entities) + "\n]>\n"
        f'<osm version="0.6"><node id="1" lat="0" lon="0">'
        f'<tag k="name" v="&lol{levels - 1};"/></node></osm>\n'
    )


def _run_guarded(code: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run code in a child Python limited to 4 GiB of address space: a runaway parse cannot sink the suite."""
    guard = "import resource\nresource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))\n"
    return subprocess.run(
        [sys.executable, "-c", guard + textwrap.dedent(code)],
        capture_output=True, text=True, timeout=timeout, cwd=REPO, check=False,
    )


@pytest.mark.skipif(sys.platform == "win32", reason="resource limits are POSIX")
def test_entity_bomb_fails_fast_with_osm_error(tmp_path: Path) -> None:
    path = tmp_path / "bomb.osm"
    path.write_text(_bomb(), encoding="utf-8")
    started = time.perf_counter()
    proc = _run_guarded(f"""
        from transportmon.io.osm import OSMError, roads_from_osm_file
        try:
            roads_from_osm_file({str(path)!r})
        except OSMError as e:
            print("OSMError:", e)
    """)
    assert proc.returncode == 0, proc.stderr
    assert f"OSMError: {path}: refused: the XML declares DTD entities" in proc.stdout
    assert time.perf_counter() - started < 60


def test_entity_declaration_hidden_behind_a_long_prolog_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "padded.osm"
    path.write_text("<!--" + "x" * (1 << 20) + "-->" + _bomb(3), encoding="utf-8")
    with pytest.raises(OSMError, match="no XML element in the first 1 MiB"):
        roads_from_osm_file(path)


def test_doctype_without_entities_is_accepted(tmp_path: Path) -> None:
    plain = border_town_osm(tmp_path / "town.osm").read_text(encoding="utf-8")
    path = tmp_path / "doctype.osm"
    path.write_text(plain.replace("<osm ", "<!DOCTYPE osm>\n<osm ", 1), encoding="utf-8")
    assert len(roads_from_osm_file(path)) == len(EXPECTED)


@pytest.mark.skipif(sys.platform == "win32", reason="resource limits are POSIX")
def test_this_pythons_expat_limits_entity_amplification_too(tmp_path: Path) -> None:
    """The stdlib's own guard (expat ≥ 2.4.1), independent of the pre-scan: a bomb stops within seconds."""
    import pyexpat

    if pyexpat.version_info < (2, 4, 1):
        pytest.skip(f"expat {pyexpat.EXPAT_VERSION} has no amplification limit; the pre-scan is the only one")
    path = tmp_path / "bomb.osm"
    path.write_text(_bomb(), encoding="utf-8")
    proc = _run_guarded(f"""
        import xml.sax
        try:
            xml.sax.parse({str(path)!r}, xml.sax.handler.ContentHandler())
        except xml.sax.SAXParseException as e:
            print("stopped:", e.getMessage())
    """, timeout=60)
    assert "stopped: limit on input amplification factor" in proc.stdout, proc.stdout + proc.stderr


# ------------------------------------------------------------------------------------------- graph → layer


def test_graph_with_merged_attributes_and_no_geometry() -> None:
    G = nx.MultiDiGraph(crs="EPSG:4326")
    G.add_node(1, x=116.0, y=29.7)
    G.add_node(2, x=116.1, y=29.7)
    G.add_node(3, x=116.1, y=29.8)
    line = shapely.LineString([(116.0, 29.7), (116.05, 29.75), (116.1, 29.7)])
    merged = {"length": 12.5, "oneway": False}
    G.add_edge(1, 2, osmid=[100, 99], highway=["residential", "primary"], ref=["G105;S303", "G105"],
               name=["b", "a"], geometry=line, reversed=False, **merged)
    G.add_edge(2, 1, osmid=[99, 100], highway=["primary", "residential"], ref=["G105", "G105;S303"],
               name=["a", "b"], geometry=line.reverse(), reversed=[True, False], **merged)
    G.add_edge(2, 3, osmid=7, highway="footway", length=3.0, oneway=False)
    G.add_edge(3, 1, osmid=8, highway="service", ref="S303;G105", length=4.0, oneway=True)
    roads = roads_from_graph(G)
    assert _rows(roads.drop(columns="geometry")) == [
        ["8", "S303;G105", "service", None, None, None, 3, 1, 4.0],
        ["99;100", "G105;S303", "primary", "a;b", None, None, 1, 2, 12.5],
    ]
    assert roads.geometry.iloc[0].equals(shapely.LineString([(116.1, 29.8), (116.0, 29.7)]))
    assert roads.geometry.iloc[1].equals(line)


def test_projected_graph_gives_the_layer_in_wgs84(tmp_path: Path) -> None:
    G = ox.graph_from_xml(border_town_osm(tmp_path / "town.osm"), simplify=False, retain_all=True)
    plain = roads_from_graph(G)
    projected = roads_from_graph(ox.projection.project_graph(G))
    assert projected.crs == "EPSG:4326"
    assert_geodataframe_equal(projected, plain, check_less_precise=True)


def test_empty_graph_gives_an_empty_layer() -> None:
    roads = roads_from_graph(nx.MultiDiGraph(crs="EPSG:4326"))
    assert roads.empty and list(roads.columns) == list(ROAD_COLUMNS)


_HIGHWAYS = st.sampled_from(
    ["primary", "residential", "motorway_link", "service", "footway", "path", "track"]
)


@st.composite
def _networks(draw: st.DrawFn) -> tuple[dict[int, tuple[float, float]], list[Any]]:
    n = draw(st.integers(3, 9))
    nodes = {i: (116.0 + 0.01 * (i % 3), 29.7 + 0.01 * (i // 3)) for i in range(1, n + 1)}
    ways = []
    for way_id in range(1, draw(st.integers(1, 6)) + 1):
        refs = draw(st.lists(st.integers(1, n), min_size=2, max_size=5, unique=True))
        tags = {"highway": draw(_HIGHWAYS)}
        if draw(st.booleans()):
            tags["oneway"] = draw(st.sampled_from(["yes", "-1", "no"]))
        if draw(st.booleans()):
            tags["ref"] = draw(st.sampled_from(["G105", "S303", "G105;S303", "X021"]))
        if draw(st.booleans()):
            tags[draw(st.sampled_from(["motor_vehicle", "access"]))] = draw(st.sampled_from(["no", "yes"]))
        if way_id == 1 and draw(st.booleans()):
            tags = {"route": "ferry"}
        ways.append((way_id, refs, tags))
    return nodes, ways


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(network=_networks())
def test_any_small_network_gives_a_consistent_layer(tmp_path: Path, network: Any) -> None:
    nodes, ways = network
    roads = roads_from_osm_file(write_osm_xml(tmp_path / "net.osm", nodes, ways))
    closed = {str(i) for i, _, tags in ways if tags.get("highway") == "track" and "no" in
              (tags.get("motor_vehicle"), tags.get("access"))}
    kept_ids = {str(i) for i, _, tags in ways if tags.get("highway") in DRIVABLE_HIGHWAYS or "route" in tags} - closed
    assert list(roads.columns) == list(ROAD_COLUMNS)
    assert set(";".join(roads["road_id"]).split(";")) <= kept_ids | {""}
    assert (roads["highway"].isin(DRIVABLE_HIGHWAYS) | (roads["route"] == "ferry")).all()
    keys = list(zip(roads["road_id"], roads["u"], roads["v"], strict=True))
    assert keys == sorted(keys)
    normalized = shapely.to_wkb(shapely.normalize(roads.geometry.values))
    twins = pd.DataFrame({"id": roads["road_id"], "g": normalized})
    assert not twins.duplicated().any()
    assert roads.geometry.is_valid.all() and (roads["length_m"] > 0).all()
    # Reference: each directed edge of the loader's graph is one row, up to direction (GEOS normalize).
    with osm._useful_way_tags():
        G = ox.graph_from_xml(tmp_path / "net.osm", simplify=False, retain_all=True)
    simplified, _ = osm._drivable_simplified(G)
    if simplified.number_of_edges() == 0:
        assert roads.empty
        return
    directed = ox.convert.graph_to_gdfs(simplified, nodes=False)
    ids = [";".join(map(str, sorted(i))) if isinstance(i, list) else str(i) for i in directed["osmid"]]
    reference = set(zip(ids, shapely.to_wkb(shapely.normalize(directed.geometry.values)), strict=True))
    assert set(zip(roads["road_id"], normalized, strict=True)) == reference


# ------------------------------------------------------------------------------------------------ downloads


def test_place_downloads_through_osmnx(fake_osm_servers: list[str], tmp_path: Path) -> None:
    roads = roads_from_place(PLACE)
    assert_geodataframe_equal(roads, roads_from_osm_file(border_town_osm(tmp_path / "town.osm")))
    assert "nominatim.openstreetmap.org" in fake_osm_servers
    assert any("overpass" in host for host in fake_osm_servers)


def test_place_asks_osmnx_for_drivable_roads_and_ferries(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[dict[str, Any]] = []
    polygon = shapely.box(115.85, 29.65, 116.10, 29.75)

    def fake_geocode(query: str) -> gpd.GeoDataFrame:
        assert query == PLACE
        return gpd.GeoDataFrame(geometry=[polygon], crs="EPSG:4326")

    def fake_graph_from_polygon(poly: Any, **kwargs: Any) -> nx.MultiDiGraph:
        calls.append({"polygon": poly, **kwargs, "tags": list(ox.settings.useful_tags_way)})
        return ox.graph_from_xml(border_town_osm(tmp_path / "town.osm"), simplify=False, retain_all=True)

    monkeypatch.setattr(ox, "geocode_to_gdf", fake_geocode)
    monkeypatch.setattr(ox, "graph_from_polygon", fake_graph_from_polygon)
    roads = roads_from_place(PLACE)
    assert len(roads) == len(EXPECTED) and "ferry" in set(roads["route"].dropna())
    (call,) = calls
    assert call["polygon"].equals(polygon)
    assert call["simplify"] is False and call["retain_all"] is True and call["truncate_by_edge"] is True
    assert '["route"="ferry"]' in call["custom_filter"]
    assert any("motorway|motorway_link|trunk" in f for f in call["custom_filter"])
    assert any("|track)$" in f for f in call["custom_filter"])  # tracks are village roads
    assert {"motor_vehicle", "access"} <= set(call["tags"])
    assert "route" in call["tags"] and "route" not in ox.settings.useful_tags_way


def test_place_without_network_is_a_clear_osm_error() -> None:
    with pytest.raises(OSMError) as info:
        roads_from_place(PLACE)
    message = str(info.value)
    assert message.startswith(f"place {PLACE!r}: no network")
    assert "--osm-file" in message and "cache" in message


def test_place_is_read_from_the_osmnx_cache_without_network(
    fake_osm_servers: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = roads_from_place(PLACE)
    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", _refuse)
    assert_geodataframe_equal(roads_from_place(PLACE), first)


def _refuse(self: Any, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
    raise requests.ConnectionError("test: network gone")


def test_cache_only_mode_caches_then_stops_with_an_explanation(
    fake_osm_servers: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ox.settings.cache_only_mode = True
    with pytest.raises(OSMError, match="cache_only_mode is on: osmnx saved the Overpass responses"):
        roads_from_place(PLACE)
    ox.settings.cache_only_mode = False
    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", _refuse)
    assert len(roads_from_place(PLACE)) == len(EXPECTED)


def test_unknown_place_is_an_osm_error(fake_osm_servers: list[str]) -> None:
    with pytest.raises(OSMError, match="Nominatim does not know this place") as info:
        roads_from_place("Atlantis")
    assert "'Atlantis'" in str(info.value) and "--bbox" in str(info.value)


def test_server_error_is_an_osm_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: Any, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        response = requests.Response()
        response.status_code = 500
        response._content = b"<html>Internal Server Error</html>"
        response.url = str(request.url)
        response.reason = "Internal Server Error"
        return response

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", broken)
    with pytest.raises(OSMError, match="server refused"):
        roads_from_place(PLACE)


def test_bbox_keeps_the_edges_that_cross_its_edge(fake_osm_servers: list[str]) -> None:
    # The box ends just east of the border: the G105 and the ferry still reach their first node across it.
    roads = roads_from_bbox(115.85, 29.65, 115.955, 29.75)
    border = shapely.LineString([(BORDER_LON, 29.0), (BORDER_LON, 30.0)])
    crossing = roads[roads.geometry.crosses(border)]
    assert sorted(crossing["road_id"]) == ["101", "104"]
    assert 4 in set(roads["u"]) | set(roads["v"]) and 10 in set(roads["u"]) | set(roads["v"])
    assert 6 not in set(roads["u"]) | set(roads["v"])


def test_bbox_without_network_is_a_clear_osm_error() -> None:
    with pytest.raises(OSMError, match=r"^bbox 115\.85,29\.65,116\.1,29\.75: no network"):
        roads_from_bbox(115.85, 29.65, 116.1, 29.75)


@pytest.mark.parametrize("bbox", [(116.1, 29.65, 115.85, 29.75), (115.85, 29.75, 116.1, 29.65),
                                  (-200.0, 0.0, 10.0, 1.0), (float("nan"), 0.0, 1.0, 1.0)])
def test_bad_bbox_is_an_osm_error_before_any_request(bbox: tuple[float, float, float, float]) -> None:
    with pytest.raises(OSMError, match="not a bounding box"):
        roads_from_bbox(*bbox)


def test_module_documents_the_drivable_list() -> None:
    doc = osm.__doc__ or ""
    for word in ("motorway", "trunk", "living_street", "track", "motor_vehicle=no", "access=no", "route=ferry",
                 "G105;S303", "G4211", "S26", "X###"):
        assert word in doc

