"""Risk levels in effect on a date, per admin polygon: what the maps colour and the coach notebook charts.

:func:`transportmon.levels.resolve_levels` answers for points (a stop's county, city and province); here the
same rule — the most specific designation in effect wins — is answered for the finest boundary polygons
(:func:`transportmon.geo.admin.leaf_units`): a county is coloured by its own designation, else its city's, else its
province's. Designations given as their own polygons are resolved on their own.

Everything here is pure: no files, no clock, no printing.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .geo.admin import leaf_units, locate
from .levels import resolve_levels

__all__ = ["levels_by_day", "risk_areas_on"]

#: The leaf's own adcode, then its city's, then its province's: the units whose designations may reach it.
_UNIT_COLUMNS = ("adcode", "city_unit", "province_unit")


def _leaf_unit_pairs(leaves: gpd.GeoDataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Leaf adcodes, and (key, unit) pairs for :func:`resolve_levels`: each leaf with itself, its city, its province."""
    key = leaves["adcode"].astype(str).to_numpy()
    pairs = pd.concat([pd.DataFrame({"key": key, "unit": leaves[c].astype(str).to_numpy()}) for c in _UNIT_COLUMNS],
                      ignore_index=True).drop_duplicates()
    return key, pairs


def _by_adcode(intervals: pd.DataFrame) -> pd.DataFrame:
    """Designations of admin units (not those drawn as their own polygons, whose unit is ``area:<row>``)."""
    return intervals[~intervals["unit"].astype(str).str.startswith("area:")]


def risk_areas_on(boundaries: gpd.GeoDataFrame | None, intervals: pd.DataFrame | None, date: str | pd.Timestamp,
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
    empty = gpd.GeoDataFrame({"adcode": [], "name": [], "level": [], "unit": [], "valid_from": []},
                             geometry=gpd.GeoSeries([], crs="EPSG:4326"))
    if intervals is None or not len(intervals):
        return empty
    day = np.datetime64(pd.Timestamp(date).strftime("%Y-%m-%d"), "s")
    parts = []
    if boundaries is not None and len(boundaries):
        leaves = leaf_units(boundaries)
        if extent is not None:
            leaves = leaves.loc[leaves.intersects(shapely.box(*extent)).to_numpy()]
        key, pairs = _leaf_unit_pairs(leaves)
        got = resolve_levels(_by_adcode(intervals), pairs, pd.DataFrame({"key": key, "date": np.full(len(key), day)}))
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


def levels_by_day(boundaries: gpd.GeoDataFrame, intervals: pd.DataFrame, start: str, end: str, *,
                  units: list[str] | None = None, jurisdiction: str = "",
                  stops: gpd.GeoSeries | None = None) -> pd.DataFrame:
    """Risk level in effect per finest boundary unit and day, as the audit resolves it (most specific wins).

    Parameters
    ----------
    boundaries
        Admin polygons, WGS-84.
    intervals
        Designations as normalised by :func:`transportmon.designations.normalize_designations`.
    start, end
        First and last day (inclusive).
    units
        adcodes of the finest units to follow; default the ``jurisdiction``'s units and the county (else the city)
        of every point of ``stops``.
    jurisdiction, stops
        What the default ``units`` are chosen from.

    Returns
    -------
    pandas.DataFrame
        ``adcode``, ``name``, ``date``, ``level`` (NA where nothing is in effect), one row per unit and day.
    """
    leaves = leaf_units(boundaries)
    if units is None:
        juris = str(jurisdiction)
        in_j = (leaves["city_unit"].astype(str) == juris) | (leaves["province_unit"].astype(str) == juris) | (
            leaves["adcode"].astype(str) == juris)
        chosen = set(leaves.loc[in_j.to_numpy(), "adcode"].astype(str))
        if stops is not None and len(stops):
            loc = locate(stops, boundaries)
            chosen |= set(loc["county"].dropna().astype(str)) | set(
                loc.loc[loc["county"].isna(), "city"].dropna().astype(str))
        units = sorted(chosen)
    leaves = leaves[leaves["adcode"].astype(str).isin(units).to_numpy()]
    days = pd.date_range(start, end, freq="D")
    key, pairs = _leaf_unit_pairs(leaves)
    q = pd.DataFrame({"key": np.repeat(key, len(days)), "date": np.tile(days.to_numpy(), len(key))})
    got = resolve_levels(_by_adcode(intervals), pairs, q)
    names = dict(zip(key, leaves["name"].astype(str)))
    return pd.DataFrame({"adcode": q["key"].to_numpy(), "name": q["key"].map(names).to_numpy(),
                         "date": q["date"].to_numpy(), "level": got["level"].astype("string").to_numpy()})
