"""Geometry checks of a layer: present, of the layer's type, in WGS-84 lon/lat, valid; and the one repair of
invalid polygons."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .._errors import InputError
from .schema import GEOMETRY_TYPES

#: The reasons a row is rejected for its geometry.
GeometryReason = Literal["missing-geometry", "wrong-geometry-type", "coordinates-out-of-range", "invalid-geometry"]
#: A geometry problem: the rows it concerns, the rejection reason, the detail (text, a Series aligned with the frame,
#: or a callable giving the details of the rows of a boolean mask).
Problem = tuple[np.ndarray | pd.Series, GeometryReason, pd.Series | str | Callable[[np.ndarray], pd.Series]]


def in_lonlat(bounds: pd.DataFrame) -> pd.Series:
    """Rows of ``GeoSeries.bounds`` inside WGS-84 lon/lat (missing or non-finite bounds are not)."""
    return (bounds.minx >= -180) & (bounds.maxx <= 180) & (bounds.miny >= -90) & (bounds.maxy <= 90)


def present(geoms: gpd.GeoSeries) -> pd.Series:
    """Rows with a geometry that is not empty (without GeoSeries.notna's warning about empty geometries)."""
    arr = geoms.to_numpy()
    return pd.Series(~shapely.is_missing(arr) & ~shapely.is_empty(arr), index=geoms.index)


def repair(geoms: np.ndarray, which: np.ndarray) -> np.ndarray:
    """``make_valid`` (keeping polygons polygonal) where ``which``; a geometry GEOS cannot repair (non-finite
    coordinates, a shell with too few points) is left as it is, and validation rejects it."""
    out = geoms.copy()
    # Only polygons whose every coordinate is finite and plausibly lon/lat: GEOS overflows on 1e300 and the row is
    # rejected as coordinates-out-of-range anyway.
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    bad_coord = ~np.isfinite(coords).all(axis=1) | (np.abs(coords) > 1e4).any(axis=1)
    sane = np.bincount(owner[bad_coord], minlength=len(geoms)) == 0
    polygonal = np.isin(shapely.get_type_id(geoms), [3, 6])
    idx = np.flatnonzero(which & sane & polygonal)
    if not len(idx):
        return out
    try:
        out[idx] = shapely.make_valid(geoms[idx], method="structure", keep_collapsed=False)
    except shapely.errors.GEOSException:  # one unrepairable geometry fails the whole array: go one by one
        for i in idx:
            try:
                out[i] = shapely.make_valid(geoms[i], method="structure", keep_collapsed=False)
            except shapely.errors.GEOSException:
                pass
    return out


def geometry_problems(frame: gpd.GeoDataFrame, layer: str, *, required: bool = True,
                      valid: pd.Series | None = None) -> list[Problem]:
    """The geometry problems of a layer's rows, in the order they are decided (a row is rejected for the first).

    Missing (when ``required``), of a type the layer does not take, outside WGS-84 lon/lat (with a hint when the
    bounds look swapped or projected), non-finite coordinates, invalid (GEOS's reason). ``valid``: the geometries'
    ``is_valid`` when known already (a GEOS pass over every polygon)."""
    problems: list[Problem] = []
    geoms = frame.geometry
    missing = ~present(geoms)
    if required:
        detail: pd.Series | str = "no geometry"
        if "_lon_raw" in frame.columns:
            detail = ("lon=" + frame["_lon_raw"].astype("string").fillna("") + " lat="
                      + frame["_lat_raw"].astype("string").fillna(""))
        problems.append((missing, "missing-geometry", detail))
    has = ~missing
    types = geoms.geom_type.where(has)
    wrong = has & ~types.isin(GEOMETRY_TYPES[layer])
    problems.append((wrong, "wrong-geometry-type", "got " + types.astype("string").fillna("")
                     + ", allowed " + "/".join(GEOMETRY_TYPES[layer])))
    b = geoms.bounds
    out = has & ~in_lonlat(b)

    def out_detail(mask: np.ndarray) -> pd.Series:  # printed only when a row is rejected for it
        bt = b.round(3).astype("string").fillna("")  # column-wise: rows without geometry have NaN bounds
        swapped = (b.minx >= -90) & (b.maxx <= 90) & (b.miny >= -180) & (b.maxy <= 180)
        metres = b.abs().max(axis=1) > 1000
        hint = pd.Series("", index=frame.index, dtype="string").mask(swapped, " (lat/lon swapped?)").mask(
            metres, " (projected metres? declare the CRS: [crs] in manifest.toml or --<layer>-crs; or reproject to "
            "EPSG:4326)")
        text = "bounds " + bt.minx + "," + bt.miny + "," + bt.maxx + "," + bt.maxy + " are not WGS-84 lon/lat" + hint
        return text[mask]

    problems.append((out, "coordinates-out-of-range", out_detail))
    coords_nan = has & ~np.isfinite(b.to_numpy()).all(axis=1)
    problems.append((coords_nan, "invalid-geometry", "non-finite coordinates"))
    invalid = has & ~(geoms.is_valid if valid is None else valid)
    problems.append((invalid, "invalid-geometry", geoms.where(invalid).pipe(
        lambda s: pd.Series(shapely.is_valid_reason(s.to_numpy()), index=s.index))))
    return problems


def geo(frame: pd.DataFrame, layer: str, path: str | None) -> gpd.GeoDataFrame:
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame.columns:
        raise InputError(path or f"<{layer}>", f"the {layer} layer has no geometry",
                         "give a spatial file (GeoJSON, GeoPackage, …) or a CSV with lon and lat columns")
    return frame
