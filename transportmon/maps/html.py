"""The HTML map: a self-contained page (folium / Leaflet) of what :func:`~transportmon.maps.layers.map_layers` assembled.

The file needs no network: Leaflet's JavaScript, CSS and images (from the ``xstatic-leaflet`` package) are inlined,
no other script or stylesheet is linked, and every text taken from the data is escaped
(:mod:`transportmon.maps.popups`). Only the OpenStreetMap tile basemap is fetched, by the browser, when it can be
reached; without a network the vector layers draw on a plain background. OSM tiles are WGS-84 like the report;
GCJ-02 tiles (Amap, Tencent) would sit ~500 m off and are not offered. Element ids follow their position in the page,
so the same audit gives the same bytes.
"""

from __future__ import annotations

import base64
import functools
import html
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from ..io.write import write_bytes
from ..vocab import CHECKPOINT_VERDICTS, RISK_LEVELS
from .layers import MapLayers, map_layers
from .popups import cell_text, checkpoint_popup, escaped, risk_popup, road_tip, trip_popup
from .style import (
    BORDER_COLOUR,
    OTHER_TRIP_COLOUR,
    OUTLINE_COLOUR,
    RISK_STYLE,
    ROAD_STYLE,
    TRIP_COLOUR,
    VERDICT_STYLE,
    WAIVED_COLOUR,
)

if TYPE_CHECKING:
    from ..pipeline import AuditResult

__all__ = ["html_map", "html_text", "show_html"]

OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
#: Over-cap trips drawn at most (the largest excess first); the legend says how many were left out.
MAX_TRIP_LINES = 5000
#: Simplification of boundary polygons on the HTML map, in degrees (~200 m); display only, never used to measure.
SIMPLIFY_DEG = 0.002


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
.tm-popup li.tm-waived b, .tm-popup .tm-waiver { color: #2166ac; }
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
           f"<div>核查日期 as of <b>{escaped(layers.as_of)}</b> · {escaped(layers.policy)}</div>"]
    counts = layers.checkpoints["verdict"].value_counts() if len(layers.checkpoints) else pd.Series(dtype=int)
    out.append('<div class="tm-sec">检测点 checkpoints</div>')
    for v in CHECKPOINT_VERDICTS:
        colour, zh, en = VERDICT_STYLE[v]
        out.append(row(f'<span class="tm-sw" style="background:{colour}"></span>',
                       f"{zh} {en} ({int(counts.get(v, 0))})"))
    if layers.waived is not None and len(layers.waived):
        out.append(row(f'<span class="tm-sw" style="background:none;border:2px dashed {WAIVED_COLOUR}"></span>',
                       f"已豁免的违规 waived violation ({len(layers.waived)})"))
    if layers.unlocated:
        out.append(f'<div class="tm-note">{layers.unlocated} 个检测点无有效位置，未绘制 '
                   f'checkpoint(s) without a usable location are not drawn</div>')
    out.append('<div class="tm-sec">豁免边界 exempt border</div>')
    out.append(row(f'<span class="tm-ln" style="border-top:4px dashed {BORDER_COLOUR}"></span>',
                   f"与{escaped(layers.neighbours[0])}交界线 border with {escaped(layers.neighbours[1])}"
                   if layers.neighbours[0] else "豁免边界线 exempt border"))
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
        out.append(f'<div class="tm-sec">风险地区 risk areas on {escaped(layers.date)}</div>')
        lv = layers.risk_areas["level"].value_counts()
        for level in reversed(RISK_LEVELS):
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
        out.append(f'<div class="tm-note">{escaped(note)}</div>')
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
    return write_bytes(Path(out), text.encode("utf-8"))


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
        props = [{"k": str(r["level"]), "p": risk_popup(r, layers.date),
                  "t": f'{escaped(r["name"])} {escaped(RISK_STYLE.get(str(r["level"]), ("", 0, ""))[2])}'}
                 for r in ra.drop(columns="geometry").to_dict("records")]
        styles = {lv: _path_style("#7f0000" if lv == "high" else "#8c6d31", 0.6, f"tm-risk tm-risk-{lv}",
                                  fillColor=c, fillOpacity=o) for lv, (c, o, _) in RISK_STYLE.items()}
        cls["VectorLayer"](_features(geoms, props, 4), styles, f"风险地区 risk areas {layers.date}").add_to(m)
    if layers.outlines is not None and len(layers.outlines):
        ol = layers.outlines
        geoms = shapely.simplify(ol.geometry.to_numpy(), SIMPLIFY_DEG, preserve_topology=True)
        props = [{"k": r["role"], "t": f'{escaped(r["name"])} {escaped(r["adcode"])}'} for r in ol.drop(
            columns="geometry").to_dict("records")]
        styles = {"jurisdiction": _path_style(OUTLINE_COLOUR, 2.0, "tm-outline", fill=False, interactive=False),
                  "neighbour": _path_style(OUTLINE_COLOUR, 1.0, "tm-outline", fill=False, dashArray="2 4",
                                           interactive=False)}
        cls["VectorLayer"](_features(geoms, props, 5), styles, "行政区 boundaries").add_to(m)
    if layers.roads is not None and len(layers.roads):
        rd = layers.roads
        props = [{"k": str(r["road_class"]), "t": road_tip(r)} for r in rd.drop(columns="geometry").to_dict("records")]
        styles = {c: _path_style(col, wd, f"tm-road tm-road-{c}") for c, (col, wd, _) in ROAD_STYLE.items()}
        cls["VectorLayer"](_features(rd.geometry.to_numpy(), props, 5), styles, "道路 roads").add_to(m)
    if layers.border is not None and len(layers.border):
        props = [{"k": "border", "t": "豁免边界 exempt border"} for _ in range(len(layers.border))]
        styles = {"border": _path_style(BORDER_COLOUR, 5, "tm-border", dashArray="10 6")}
        cls["VectorLayer"](_features(layers.border.to_numpy(), props, 6), styles, "豁免边界 exempt border").add_to(m)
    if layers.crossings is not None and len(layers.crossings):
        props = [{"k": "crossing", "t": f'跨界点 crossing · {escaped(r["road_id"])}'}
                 for r in layers.crossings.drop(columns="geometry").to_dict("records")]
        styles = {"crossing": _path_style("#000000", 1.5, "tm-crossing", radius=4, fillColor="#ffffff",
                                          fillOpacity=1.0)}
        cls["VectorLayer"](_features(layers.crossings.geometry.to_numpy(), props, 6), styles,
                           "跨界点 crossings").add_to(m)

    if layers.waived is not None and len(layers.waived):  # under the subjects: the ring around, not over them
        wv = layers.waived
        props = [{"k": "waived", "t": (f'{escaped(r["subject_id"])} · 豁免 waived: {escaped(r["waivers"])}')}
                 for r in wv.drop(columns="geometry").to_dict("records")]
        styles = {"waived": _path_style(WAIVED_COLOUR, 2.5, "tm-waived", dashArray="4 3", radius=13, fill=False)}
        cls["VectorLayer"](_features(wv.geometry.to_numpy(), props, 7), styles, "已豁免 waived").add_to(m)
    trips = layers.trips
    over = trips[(trips["verdict"] == "over-cap").to_numpy()]
    over_cap = len(over)
    if over_cap > MAX_TRIP_LINES:
        over = over.sort_values("excess_passengers", ascending=False, kind="stable").head(MAX_TRIP_LINES)
    others = trips[(trips["verdict"] != "over-cap").to_numpy()].head(MAX_TRIP_LINES)
    if len(others):
        props = [{"k": str(r["verdict"]), "p": trip_popup(r),
                  "t": f'{escaped(r["subject_id"])} {escaped(r["service_date"])} {escaped(r["verdict"])}'}
                 for r in others.drop(columns="geometry").to_dict("records")]
        styles = {v: _path_style(OTHER_TRIP_COLOUR, 2, f"tm-trip tm-{v}", dashArray="4 4", radius=5)
                  for v in ("compliant", "not-applicable", "rejected")}
        cls["VectorLayer"](_features(others.geometry.to_numpy(), props, 6), styles, "其他班次 other trips",
                           show=False).add_to(m)
    if len(over):
        props = [{"k": "over-cap", "p": trip_popup(r),
                  "t": (f'{escaped(r["subject_id"])} {escaped(r["service_date"])} · {escaped(r["passengers"])}/{escaped(r["seats"])} '
                        f'= {float(r["occupancy"]):.0%}' if cell_text(r["occupancy"]) else escaped(r["subject_id"]))}
                 for r in over.drop(columns="geometry").to_dict("records")]
        styles = {"over-cap": _path_style(TRIP_COLOUR, 3.5, "tm-trip tm-over-cap", dashArray="8 5", radius=6)}
        cls["VectorLayer"](_features(over.geometry.to_numpy(), props, 6), styles,
                           "超客座率班次 over-cap trips").add_to(m)

    cps = layers.checkpoints
    if len(cps):
        props = [{"k": str(r["verdict"]), "p": checkpoint_popup(r),
                  "t": (f'{escaped(r["subject_id"])} {escaped(r["name"])} · '
                        f'{escaped(VERDICT_STYLE.get(str(r["verdict"]), ("", "", ""))[1])}')}
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


def show_html(path: str | os.PathLike[str], *, height: int = 620) -> Any:
    """Display a written HTML map inside a notebook (an iframe holding the file's text; no server needed)."""
    from IPython.display import HTML

    text = Path(path).read_text(encoding="utf-8")
    return HTML(f'<div><iframe srcdoc="{html.escape(text, quote=True)}" style="width:100%;height:{int(height)}px;'
                'border:1px solid #ccc"></iframe></div>')
