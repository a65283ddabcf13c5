"""Maps of an audit: a self-contained HTML map (folium / Leaflet) and a static PNG (GeoPandas + matplotlib).

Both draw the same things with the same symbols (:mod:`~transportmon.maps.style`):

- roads by class, the hierarchy in shades of blue (expressways and urban streets are not named by clause (六));
- the exempt border line (the jurisdiction's boundary shared with Hubei) and the points where roads cross it;
- checkpoints coloured by verdict: keep green, remove red, review orange, inactive grey, rejected purple;
- risk areas in effect on a date (default: the as-of date): the finest boundary polygons coloured by the designation
  that applies to them on that date (the most specific unit wins, as for stops), plus designations given as polygons;
- over-cap coach trips as lines through their stops, with their occupancy (all service dates).

The package only draws. Modules, in the order a map is made:

- :mod:`~transportmon.maps.layers` — what a map draws (:func:`map_layers` → :class:`MapLayers`);
- :mod:`~transportmon.maps.html` — the HTML map, with :mod:`~transportmon.maps.popups` (every data text escaped);
- :mod:`~transportmon.maps.png` — the static map and its label placement;
- :mod:`~transportmon.maps.charts` — the coach notebook's charts;
- :mod:`~transportmon.maps.timeline` — the timeline chart (``transportmon timeline --chart``).

A saved report is read back by :func:`transportmon.io.report.load_report`, which finds the inputs it records and
re-derives the roads, the exempt border and the risk areas; :func:`report_map` draws it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from .._errors import InputError
from ..designations_on import risk_areas_on
from ..io.report import load_report
from .charts import plot_over_cap_trips, plot_risk_timeline, risk_timeline
from .html import html_map, html_text, show_html
from .layers import MapLayers, map_layers
from .png import png_map
from .style import RISK_STYLE, ROAD_STYLE, VERDICT_STYLE, cjk_font
from .timeline import plot_timeline, timeline_chart

if TYPE_CHECKING:
    from ..pipeline import AuditResult

__all__ = [
    "RISK_STYLE",
    "ROAD_STYLE",
    "VERDICT_STYLE",
    "MapLayers",
    "check_map_target",
    "cjk_font",
    "html_map",
    "html_text",
    "load_report",
    "map_file",
    "map_layers",
    "plot_over_cap_trips",
    "plot_risk_timeline",
    "plot_timeline",
    "png_map",
    "report_map",
    "risk_areas_on",
    "risk_timeline",
    "show_html",
    "timeline_chart",
]

HTML_SUFFIXES = (".html", ".htm")
IMAGE_SUFFIXES = (".png", ".svg", ".pdf")


def check_map_target(out: str | os.PathLike[str]) -> Path:
    """``out`` as a path, or :class:`InputError` when its extension is not a map format (before any work)."""
    target = Path(out)
    if target.suffix.lower() not in HTML_SUFFIXES + IMAGE_SUFFIXES:
        raise InputError(target, f"unknown map format {target.suffix.lower()!r}", "use .html, .png, .svg or .pdf")
    return target


def map_file(result: AuditResult, out: str | os.PathLike[str], *, date: str | None = None) -> Path:
    """A map of ``result``: HTML for ``.html``/``.htm``, an image for ``.png``/``.svg``/``.pdf``."""
    target = check_map_target(out)
    if target.suffix.lower() in HTML_SUFFIXES:
        return html_map(result, target, date=date)
    return png_map(result, target, date=date)


def report_map(report_path: str | os.PathLike[str], out: str | os.PathLike[str], *, date: str | None = None,
               data: str | os.PathLike[str] | None = None) -> Path:
    """A map of a saved report: HTML for ``.html``/``.htm``, an image for ``.png``/``.svg``/``.pdf``.

    See :func:`transportmon.io.report.load_report` for what is drawn from the report, what is re-derived from its
    inputs, where they are looked for (``data`` first), and the notes the map shows about inputs not found.
    """
    target = check_map_target(out)
    return map_file(load_report(report_path, data=data), target, date=date)
