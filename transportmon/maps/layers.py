"""What a map draws, assembled once from an audit (or a saved report) for both renderers.

:func:`map_layers` picks the report's checkpoints and trips that have a location, the roads (clipped to the area the
map is about), the exempt border and its crossings from the audit's road context, the outlines of the jurisdiction
and its exempt neighbours, and the risk areas in effect on the map's date (:mod:`transportmon.designations_on`).
:mod:`transportmon.maps.html` and :mod:`transportmon.maps.png` only render a :class:`MapLayers`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .._errors import ConfigError
from ..dates import parse_date
from ..designations_on import risk_areas_on
from ..geo.names import neighbour_names
from ..io.report import NOTES_KEY

if TYPE_CHECKING:
    from ..pipeline import AuditResult

__all__ = ["MapLayers", "map_date", "map_layers"]


@dataclass
class MapLayers:
    """Everything a map draws, in WGS-84, shared by the HTML and the PNG renderer."""

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
    neighbours: tuple[str, str] = ("", "")
    """The configured exempt neighbours as legend text (Chinese, English), e.g. ``("湖北", "Hubei")``."""
    unlocated: int = 0
    """Checkpoints the map cannot place (a rejected row without a usable location)."""
    notes: list[str] = field(default_factory=list)
    """Lines for the legend: inputs of a saved report that were not found, or were found changed."""
    attribution: list[str] = field(default_factory=list)
    waived: gpd.GeoDataFrame | None = None
    """Report rows (checkpoints, trips) with a waived violation and a location, with ``waivers``: the documents and
    their last days, as text (issue 14 waivers)."""

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


def map_date(value: str | dt.date | None, fallback: str) -> str:
    """The map's date as ``YYYY-MM-DD``: ``value``, or ``fallback`` (the as-of date) when it is empty.

    Read with the grammar of every other date (:mod:`transportmon.dates`), so ``2020/3/5`` and
    ``2020年3月5日`` work here as in the layers.

    Raises
    ------
    ConfigError
        When it is not a date (``2020-02-30`` included).
    """
    if value is None or value == "":
        value = fallback
    day = parse_date(value)
    if day is None:
        raise ConfigError(f"--date: {value!r} is not a date (use YYYY-MM-DD)")
    return day.strftime("%Y-%m-%d")


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


def _waived(rep: gpd.GeoDataFrame, located: np.ndarray) -> gpd.GeoDataFrame | None:
    """Located checkpoints and trips with a waived violation, and which waivers (``文号 → 2020-03-31``)."""
    from ..waivers import waiver_findings

    found = waiver_findings(rep)
    found = found[(found["status"] == "waived").to_numpy()]
    if not len(found):
        return None
    cited = (found.assign(text=found["document"].astype(str) + " → " + found["valid_until"].astype(str))
             .groupby("row", sort=True)["text"].agg(lambda s: "; ".join(dict.fromkeys(s))))
    rows = cited.index.to_numpy()
    keep = located[rows] & np.isin(rep["subject"].to_numpy()[rows].astype(str), ["checkpoint", "trip"])
    out = rep.iloc[rows[keep]][["subject", "subject_id", "verdict", "geometry"]].reset_index(drop=True)
    out["waivers"] = cited.to_numpy()[keep]
    return out


def map_layers(result: AuditResult, *, date: str | None = None) -> MapLayers:
    """The layers a map of ``result`` draws, risk areas as in effect on ``date`` (default: the as-of date)."""
    md = result.metadata
    as_of = str(md.get("as_of") or "")
    day = map_date(date, as_of)
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
                       notes=[str(n) for n in md.get(NOTES_KEY, []) or []])
    layers.waived = _waived(rep, located)
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
    layers.neighbours = neighbour_names(neighbours, boundaries)
    w, s, e, n = layers.bounds()
    pad = max(e - w, n - s) * 0.5
    if layers.roads is not None and len(layers.roads):  # a province's road network need not ride along
        layers.roads = layers.roads.cx[w - pad:e + pad, s - pad:n + pad]
    risk = result.layers.get("risk_areas")
    intervals = risk.intervals if risk is not None else None
    if intervals is not None and len(intervals):
        layers.risk_areas = risk_areas_on(boundaries, intervals, day, extent=(w - pad, s - pad, e + pad, n + pad))
    return layers
