"""What a user declares about a layer file that the file cannot say itself: its datum, its CRS, its column names.

Declared in a data folder's ``manifest.toml`` (or per run, on the command line and in the API)::

    [datum]                       # coordinates from a Chinese web map (GCJ-02: Amap, Tencent; BD-09: Baidu)
    checkpoints = "GCJ-02"
    [crs]                         # projected x/y of a CSV or workbook (or a Shapefile without .prj)
    stops = "EPSG:4547"           # CGCS2000 / 3-degree Gauss-Kruger CM 114E
    [columns.checkpoints]         # the file's header → the column transportmon reads
    "X坐标" = "lon"
    "Y坐标" = "lat"
    "卡口代码" = "checkpoint_id"

- **Datum names** are forgiving: case, spaces, ``-``, ``_`` and ``.`` do not matter (``GCJ-02``, ``gcj02``, ``GCJ02``,
  ``WGS84``, ``wgs-84``, ``BD-09``); ``WGS-1984``, ``EPSG:4326`` and Baidu's ``BD09LL`` are accepted too.
- **A CRS** is anything PROJ reads (``EPSG:4547``, ``4547``, a WKT or PROJ string). For a table it is the CRS of its
  ``lon``/``lat`` (or ``x``/``y``, 经度/纬度) columns, reprojected to WGS-84 on reading; for a vector file that names
  no CRS (a Shapefile without .prj) it is the file's CRS; a vector file that names another CRS is refused (a GeoJSON's
  CRS is WGS-84 by definition, so a declared one replaces it: older GeoJSON holds projected coordinates).
- **Column names**: each entry renames one of the file's headers (matched as headers are: NFKC, case and spaces
  ignored) to a contract column or ``lon``/``lat``; the header rows of a sheet are found by these names too. A declared
  header the file lacks is a note of the layer (``metadata.inputs.<layer>.notes``); a target the file already has
  under its own name is refused.

Values that cannot be used are a :class:`~transportmon._errors.ConfigError` naming the layer, the value and what is
allowed, before any file is read.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from .._errors import ConfigError, InputError
from ..vocab import DATUMS

__all__ = ["DATUM_ALIASES", "apply_columns", "check_columns", "check_crs", "datum_name", "declare_columns",
           "declare_crs", "declared", "header_keys"]

#: Further spellings of each datum (after :func:`_key`): names the tools of Chinese offices write.
DATUM_ALIASES: dict[str, str] = {"wgs1984": "wgs84", "epsg4326": "wgs84", "bd09ll": "bd09", "gcj": "gcj02"}

_SEPARATORS = re.compile(r"[\s\-_.:]+")


def _key(value: object) -> str:
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", str(value)).casefold())


def datum_name(value: object, what: str = "datum") -> str:
    """The datum (one of :data:`transportmon.vocab.DATUMS`) a user's spelling names, or :class:`ConfigError`."""
    key = _key(value)
    name = key if key in DATUMS else DATUM_ALIASES.get(key)
    if name is None:
        raise ConfigError(f"{what}: {value!r} is not a datum; use {', '.join(DATUMS)} (GCJ-02, WGS-84 … also read)")
    return name


def check_crs(value: object, what: str = "crs") -> str:
    """A declared CRS as PROJ names it (``EPSG:4547``), or :class:`ConfigError`."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    text = str(value).strip()
    try:
        crs = CRS.from_user_input(int(text) if text.isdigit() else text)
    except CRSError as exc:
        raise ConfigError(f"{what}: {value!r} is not a coordinate reference system PROJ knows; give e.g. "
                          "EPSG:4547 (CGCS2000 Gauss-Kruger) or EPSG:4326") from exc
    auth = crs.to_authority()
    return f"{auth[0]}:{auth[1]}" if auth else crs.to_string()


def check_columns(mapping: object, layer: str) -> dict[str, str]:
    """A ``[columns.<layer>]`` table as ``{header: column}``, or :class:`ConfigError`."""
    if not isinstance(mapping, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in mapping.items()):
        raise ConfigError(f"columns of {layer}: {mapping!r} is not a table of header = \"column\" "
                          '(write e.g. [columns.checkpoints] "X坐标" = "lon")')
    return {k: v.strip() for k, v in mapping.items()}


def declared(manifest: Mapping[str, Any], layers: Iterable[str], *, crs: Mapping[str, str] | None = None,
             columns: Mapping[str, Mapping[str, str]] | None = None,
             ) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """The CRS and the column names declared for each layer: the manifest's ``[crs]`` and ``[columns.<layer>]``,
    overridden by ``crs``/``columns`` (the command line, the API). Layers not in ``layers`` are a ConfigError."""
    known = list(layers)
    crs_of: dict[str, str] = {}
    columns_of: dict[str, dict[str, str]] = {}
    for source in (manifest.get("crs", {}), crs or {}):
        if not isinstance(source, Mapping):
            raise ConfigError(f"[crs] {source!r} is not a table of layer = \"EPSG:…\"")
        for layer, value in source.items():
            _known_layer(layer, known, "crs")
            crs_of[layer] = check_crs(value, f"crs of {layer}")
    for source in (manifest.get("columns", {}), columns or {}):
        if not isinstance(source, Mapping):
            raise ConfigError(f"[columns] {source!r} is not a table of [columns.<layer>] tables")
        for layer, mapping in source.items():
            _known_layer(layer, known, "columns")
            columns_of[layer] = {**columns_of.get(layer, {}), **check_columns(mapping, layer)}
    return crs_of, columns_of


def _known_layer(layer: str, known: list[str], what: str) -> None:
    if layer not in known:
        raise ConfigError(f"{what} of {layer!r}: not a layer; use one of {', '.join(known)}")


def header_keys(mapping: Mapping[str, str] | None) -> set[str]:
    """The declared headers as header rows are searched for (see :func:`transportmon.layers.column_key`)."""
    from ..layers import column_key

    return {column_key(k) for k in (mapping or {})}


def apply_columns(frame: pd.DataFrame, mapping: Mapping[str, str] | None, path: object) -> tuple[pd.DataFrame,
                                                                                                list[str]]:
    """Rename the declared headers of ``frame``; returns the frame and notes (declared headers the file lacks).

    Raises
    ------
    InputError
        When a target is already a column of the file under its own name (two columns would be one).
    """
    if not mapping:
        return frame, []
    from ..layers import column_key

    by_key = {column_key(k): v for k, v in mapping.items()}
    rename: dict[object, str] = {}
    for col in frame.columns:
        target = by_key.get(column_key(col))
        if target is not None and target != col:
            rename[col] = target
    clash = [t for c, t in rename.items() if t in frame.columns and t not in rename]
    if clash:
        raise InputError(path, f"the declared column names ({', '.join(f'{c} → {t}' for c, t in rename.items())}) "
                               f"give {', '.join(clash)}, which the file already has",
                         "declare only the headers the file names differently, or rename the file's own column")
    found = {column_key(c) for c in frame.columns}
    notes = [f"declared header {k!r} (→ {v}) is not in the file" for k, v in mapping.items()
             if column_key(k) not in found]
    return frame.rename(columns=rename), notes


def declare_columns(frame: pd.DataFrame, columns: Mapping[str, str] | None, path: object,
                    info: dict[str, Any]) -> pd.DataFrame:
    """:func:`apply_columns` for a reader: the notes go to the reader's ``info`` (``attrs["source"]``)."""
    frame, notes = apply_columns(frame, columns, path)
    if notes:
        info.setdefault("notes", []).extend(notes)
    return frame


def declare_crs(frame: pd.DataFrame, crs: str, path: object, info: dict[str, Any], *, tabular: bool,
                geojson: bool) -> pd.DataFrame:
    """A declared CRS for a frame as read: a table's points were built in it already (``tabular``); a vector file
    naming none, or a GeoJSON (WGS-84 by definition), takes it; one naming another is refused. ``info`` records it."""
    import geopandas as gpd

    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame.columns:
        raise InputError(path, f"a CRS ({crs}) is declared but the layer has no coordinates",
                         "drop the [crs] entry or the --crs option for this layer")
    info["crs"] = crs
    if tabular:
        return frame
    if frame.crs is None or geojson:
        notes = [n for n in info.pop("notes", []) if not n.startswith("no .prj")]
        if notes:
            info["notes"] = notes
        return frame.set_crs(crs, allow_override=True)
    if not frame.crs.equals(crs):
        raise InputError(path, f"the file's CRS is {frame.crs.to_string()}, but {crs} is declared",
                         "drop the declared CRS: the file says its own")
    return frame
