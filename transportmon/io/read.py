"""Files → frames. The only module that opens input files (besides the OSM and cnmaps readers).

Formats follow the file's extension: anything pyogrio reads (GeoJSON, GeoPackage, Shapefile, FlatGeobuf, …),
GeoParquet / Parquet, and CSV. A CSV with ``lon``/``lat`` (or 经度/纬度) columns becomes points; cells that are not
coordinates give an empty geometry, which validation turns into a rejected row — never a crash, never a lost row.
Values are read as text so that ids such as ``"007"`` survive; validation parses numbers, dates and booleans.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .._errors import InputError
from . import datum as _datum

VECTOR_EXTENSIONS = {".geojson", ".json", ".gpkg", ".shp", ".fgb", ".gml", ".kml", ".zip", ".geojsonl", ".geojsons"}
PARQUET_EXTENSIONS = {".parquet", ".geoparquet", ".pq"}
CSV_EXTENSIONS = {".csv", ".txt", ".tsv"}
OSM_EXTENSIONS = {".osm", ".xml"}
LON_NAMES = ("lon", "lng", "longitude", "x", "经度")
LAT_NAMES = ("lat", "latitude", "y", "纬度")
ENCODINGS = ("utf-8-sig", "gb18030")


def sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, for the report's metadata (which inputs gave this report)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputError(path, "file not found", "check the path, or give the folder with --data")
    if path.is_dir():
        raise InputError(path, "is a folder, not a layer file", "give a file, or use --data DIR for a folder of layers")
    if path.stat().st_size == 0:
        raise InputError(path, "the file is empty", "export the layer again")


def _read_csv(path: Path, encoding: str | None) -> pd.DataFrame:
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    tried = [encoding] if encoding else list(ENCODINGS)
    last: Exception | None = None
    for enc in tried:
        try:
            return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], sep=sep, encoding=enc)
        except UnicodeDecodeError as exc:
            last = exc
        except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
            raise InputError(path, f"not a readable CSV ({exc})", "save it as comma-separated UTF-8 text") from exc
    raise InputError(path, f"cannot decode the text ({last})", "save it as UTF-8, or pass --encoding")


def _points_from_columns(df: pd.DataFrame, path: Path) -> gpd.GeoDataFrame:
    cols = {c.strip().lower(): c for c in df.columns}
    lon_col = next((cols[n] for n in LON_NAMES if n in cols), None)
    lat_col = next((cols[n] for n in LAT_NAMES if n in cols), None)
    if lon_col is None or lat_col is None:
        return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries([None] * len(df), crs="EPSG:4326", index=df.index))
    lon = pd.to_numeric(df[lon_col], errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(df[lat_col], errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(lon) & np.isfinite(lat)
    geoms = np.full(len(df), None, dtype=object)
    geoms[ok] = shapely.points(lon[ok], lat[ok])
    out = df.drop(columns=[lon_col, lat_col])
    # Keep the raw text so a rejected row can say what was wrong with it.
    out["_lon_raw"] = df[lon_col]
    out["_lat_raw"] = df[lat_col]
    return gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geoms, crs="EPSG:4326", index=df.index))


def _read_vector(path: Path) -> gpd.GeoDataFrame | pd.DataFrame:
    try:
        with warnings.catch_warnings():
            # GDAL's notes about field types or non-standard members are not the analyst's problem.
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.simplefilter("ignore", UserWarning)
            frame = gpd.read_file(path, engine="pyogrio")
    except Exception as exc:  # pyogrio raises DataSourceError, DataLayerError, … all mean "cannot be read"
        raise InputError(path, f"cannot be read as a vector layer ({str(exc).splitlines()[0]})",
                         "check the file is complete and in a format GDAL reads (GeoJSON, GeoPackage, Shapefile "
                         "with its .dbf/.shx, FlatGeobuf)") from exc
    return frame


def _read_parquet(path: Path) -> gpd.GeoDataFrame | pd.DataFrame:
    try:
        import pyarrow.parquet as pq

        meta = pq.read_schema(path).metadata or {}
    except Exception as exc:
        raise InputError(path, f"not a readable Parquet file ({exc})", "write it again with pandas/GeoPandas") from exc
    if b"geo" in meta:
        try:
            return gpd.read_parquet(path)
        except Exception as exc:
            raise InputError(path, f"not a readable GeoParquet file ({exc})", "write it with GeoDataFrame.to_parquet") from exc
    return pd.read_parquet(path)


def read_table(
    path: str | os.PathLike[str],
    *,
    encoding: str | None = None,
    datum: str = "wgs84",
) -> gpd.GeoDataFrame | pd.DataFrame:
    """Read one layer file into a frame in WGS-84 (EPSG:4326) lon/lat.

    Parameters
    ----------
    path
        The layer file; the format follows the extension.
    encoding
        Text encoding of a CSV; default tries UTF-8 (with or without BOM), then GB18030 (which covers GBK).
    datum
        The datum of the coordinates: ``wgs84``, ``gcj02`` (Amap, Tencent, WeChat) or ``bd09`` (Baidu). Converted to
        WGS-84 on read, because a ~500 m datum offset decides border verdicts.

    Returns
    -------
    A GeoDataFrame in EPSG:4326 when the file has geometry or lon/lat columns, else a DataFrame.
    """
    p = Path(path)
    _check_file(p)
    ext = p.suffix.lower()
    if ext in CSV_EXTENSIONS:
        frame: gpd.GeoDataFrame | pd.DataFrame = _read_csv(p, encoding)
        cols = {c.strip().lower() for c in frame.columns}
        if cols & set(LON_NAMES) and cols & set(LAT_NAMES):
            frame = _points_from_columns(frame, p)
    elif ext in PARQUET_EXTENSIONS:
        frame = _read_parquet(p)
    elif ext in VECTOR_EXTENSIONS:
        frame = _read_vector(p)
    else:
        raise InputError(p, f"unknown file type {ext!r}",
                         "use .geojson, .gpkg, .shp, .fgb, .parquet, .csv (with lon/lat) or .osm")
    frame.columns = [str(c).strip() for c in frame.columns]
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame.columns:
        if frame.crs is None:
            frame = frame.set_crs("EPSG:4326")
        elif not frame.crs.equals("EPSG:4326"):
            frame = frame.to_crs("EPSG:4326")
        if datum != "wgs84":
            frame = frame.set_geometry(_datum.geometry_to_wgs84(frame.geometry, datum))  # type: ignore[arg-type]
    elif datum != "wgs84":
        raise InputError(p, f"--datum {datum} given but the layer has no coordinates", "drop the datum option")
    return frame
