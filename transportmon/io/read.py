"""Files → frames. The only module that opens input files (besides the OSM and cnmaps readers).

Formats follow the file's extension: anything pyogrio reads (GeoJSON, GeoPackage, Shapefile, FlatGeobuf, …),
GeoParquet / Parquet, Excel workbooks (``.xlsx``), and CSV / tab-separated text. A table with ``lon``/``lat`` (or
经度/纬度, see :data:`transportmon.layers.LON_NAMES`) columns becomes points; cells that are not coordinates give an
empty geometry, which validation turns into a rejected row — never a crash, never a lost row. Values are read as
text so that ids such as ``"007"`` survive; validation parses numbers, dates and booleans.

Files the way Chinese offices keep them:

- **encodings** of text tables: a byte-order mark decides (UTF-8, UTF-16 as Excel's "Unicode text" writes it,
  UTF-32); else UTF-8 is tried, then GB18030, which also reads GBK and GB2312. ``encoding=`` (``--encoding``)
  overrides. A Shapefile's ``.dbf`` without a ``.cpg`` is read with ``encoding=``, else as GBK when it is not
  UTF-8; a GeoJSON is UTF-8 unless it does not decode, then ``encoding=`` or GB18030;
- **title rows**: a sheet or CSV whose first rows are a title (``九江市防疫检测点统计表``) rather than the header
  is read from the first row, among the first 20, that holds a known column name;
- **blank rows** (every cell empty: Excel's formatted but empty rows, ``,,,,`` lines) are not rows; how many were
  skipped is recorded;
- **workbooks**: the first sheet with a known header (else the first non-empty sheet) is the layer.

**Dates as text** from every vector format: GDAL types ISO-looking text as a date, and one impossible date
(``2020-02-30``) in such a field would fail the whole file, a garbled one be read as empty, or (through Arrow) roll
over to another day. Date, date-time and time fields are read as the text stored (GeoJSON: as written; GeoPackage:
as stored in SQLite; other formats: as GDAL prints it, ``2020/02/01 08:00:00+08``), so that validation rejects just
the row with the bad date (``malformed-date``) and a time of day never moves a date to UTC.

What was decided is in ``frame.attrs["source"]`` (``format``, ``encoding``, ``sheet``, ``header_row``,
``blank_rows``, ``notes``) for the report's metadata and ``transportmon validate``.

A file that cannot be read raises :class:`InputError` naming the file and the problem, in bounded time and memory:
an empty file, binary junk, a truncated or too deeply nested GeoJSON, a Shapefile without its ``.dbf`` or ``.shx``,
a workbook that is not a zip or expands to more than :data:`MAX_WORKBOOK_BYTES`.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import os
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from .. import layers as _layers
from .._errors import ConfigError, InputError
from ..source_rows import SOURCE_ROW, record_lines
from . import datum as _datum
from . import declared as _declared
from .parquet import parquet_frame
from .plain_csv import plain_csv

VECTOR_EXTENSIONS = {".geojson", ".json", ".gpkg", ".shp", ".fgb", ".gml", ".kml", ".zip", ".geojsonl", ".geojsons"}
PARQUET_EXTENSIONS = {".parquet", ".geoparquet", ".pq"}
CSV_EXTENSIONS = {".csv", ".txt", ".tsv"}
EXCEL_EXTENSIONS = {".xlsx", ".xlsm"}
OSM_EXTENSIONS = {".osm", ".xml"}
LON_NAMES = _layers.LON_NAMES
LAT_NAMES = _layers.LAT_NAMES
#: Text encodings tried in order when no byte-order mark decides and none is given (GB18030 covers GBK, GB2312).
ENCODINGS = ("utf-8", "gb18030")
#: Byte-order marks, longest first (UTF-32 LE starts with the UTF-16 LE mark).
BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
#: Rows searched for a header below a title.
HEADER_SEARCH_ROWS = 20
#: A workbook that expands beyond this is refused (a zip bomb, or a sheet that should be a CSV or Parquet file).
MAX_WORKBOOK_BYTES = 1 << 30
SNIFF_BYTES = 1 << 16


def sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, for the report's metadata (which inputs gave this report)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_encoding(encoding: str | None) -> str | None:
    """The codec name of ``--encoding`` (``gbk``, ``GB18030``, ``utf-8-sig`` …), or :class:`ConfigError`."""
    if encoding is None:
        return None
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise ConfigError(f"--encoding {encoding!r} is not a known text encoding; use e.g. utf-8, gbk, gb18030, "
                          "utf-16") from None


def check_file(path: Path) -> None:
    """An :class:`InputError` unless ``path`` is a file with something in it."""
    if not path.exists():
        raise InputError(path, "file not found", "check the path, or give the folder with --data")
    if path.is_dir():
        raise InputError(path, "is a folder, not a layer file", "give a file, or use --data DIR for a folder of layers")
    if path.stat().st_size == 0:
        raise InputError(path, "the file is empty", "export the layer again")


# ------------------------------------------------------------------------------------------------------------
# tables: CSV and workbooks


#: C0 control bytes other than tab, line feed, carriage return (and ESC, form feed) never appear in a text table.
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 27))


def _looks_binary(head: bytes) -> bool:
    """Many NUL or control bytes: a binary file (or UTF-16 without a byte-order mark), not a text table. A stray
    control character in a cell is text."""
    control = len(head) - len(head.translate(None, _CONTROL))
    return control >= 16 and control * 10 > len(head)


def _text_encodings(path: Path, encoding: str | None) -> list[str]:
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    for bom, name in BOMS:
        # A byte-order mark decides, unless --encoding names another encoding than the mark's.
        if head.startswith(bom) and (encoding is None or codecs.lookup(encoding).name in ("utf-8", name)):
            return [name]
    if encoding is not None:
        return [encoding]
    if _looks_binary(head):
        raise InputError(path, "holds binary data (NUL or control bytes), not a text table",
                         "export the table as CSV; for UTF-16 text without a byte-order mark pass --encoding utf-16")
    return list(ENCODINGS)


def _separator(path: Path, encoding: str) -> str:
    if path.suffix.lower() == ".tsv":
        return "\t"
    try:
        with open(path, encoding=encoding, errors="replace", newline="") as fh:
            first = fh.readline(SNIFF_BYTES)
    except (OSError, LookupError):  # pragma: no cover - the encoding was looked up before
        return ","
    return "\t" if first.count("\t") > first.count(",") else ","


def _read_csv(path: Path, encoding: str | None) -> tuple[pd.DataFrame, dict[str, Any]]:
    tried = _text_encodings(path, encoding)
    last: Exception | None = None
    for enc in tried:
        sep = _separator(path, enc)
        try:
            # Blank lines are kept as empty rows (dropped and counted later), so that every record's line is known.
            # A plain machine-written file is read by Arrow's parser to the same frame (io/plain_csv.py).
            frame = plain_csv(path, sep, enc)
            if frame is None:
                frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], sep=sep, encoding=enc,
                                    skip_blank_lines=False)
        except UnicodeError as exc:
            last = exc
            continue
        except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, csv.Error, OverflowError) as exc:
            problem = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(path, f"not a readable CSV ({problem})", "save it as comma-separated text") from exc
        shown = {"utf-8-sig": "utf-8 (with BOM)", "gb18030": "gb18030 (GBK)"}.get(enc, enc)
        return frame, {"format": "csv" if sep == "," else "tsv", "encoding": shown, "_codec": enc}
    tried_text = ", ".join(tried)
    raise InputError(path, f"cannot decode the text as {tried_text} ({last})",
                     "save it as UTF-8, or pass --encoding (gbk, gb18030, utf-16 …)")


def _dedupe(names: list[str]) -> list[str]:
    """Column names made unique the way pandas does (``name``, ``name.1`` …)."""
    used: set[str] = set()
    out = []
    for n in names:
        cand, k = n, 0
        while cand in used:
            k += 1
            cand = f"{n}.{k}"
        used.add(cand)
        out.append(cand)
    return out


def _known(value: object, declared: frozenset[str] = frozenset()) -> bool:
    """A header cell naming a contract column, an alias, lon/lat, or a header the manifest declares."""
    return isinstance(value, str) and (_layers.is_known_column(value) or _layers.column_key(value) in declared)


def _header_row(rows: pd.DataFrame, declared: frozenset[str] = frozenset()) -> int | None:
    """Index (position) of the first of the first rows that holds a known column name, else None."""
    head = rows.head(HEADER_SEARCH_ROWS)
    for i, values in enumerate(head.itertuples(index=False, name=None)):  # ≤ 20 short rows, not a per-row loop
        if any(_known(v, declared) for v in values):
            return i
    return None


def _promote_header(frame: pd.DataFrame, info: dict[str, Any], lines: np.ndarray,
                    declared: frozenset[str] = frozenset()) -> tuple[pd.DataFrame, np.ndarray]:
    """A CSV read with its first line as header: when no column is known, take the header from a title's next rows.
    ``lines`` are the records' lines in the file; those of the rows kept are returned with them."""
    if any(_known(c, declared) for c in frame.columns):
        return frame, lines
    i = _header_row(frame, declared)
    if i is None:
        return frame, lines
    names = [str(v).strip() if isinstance(v, str) and v.strip() else f"Unnamed: {j}"
             for j, v in enumerate(frame.iloc[i].tolist())]
    out = frame.iloc[i + 1:].reset_index(drop=True)
    out.columns = _dedupe(names)
    info["header_row"] = int(lines[i])
    return out, lines[i + 1:]


def _drop_blank_rows(frame: pd.DataFrame, info: dict[str, Any], lines: np.ndarray | None = None,
                     ) -> tuple[pd.DataFrame, np.ndarray | None]:
    """Rows whose every cell is empty are not rows: dropped and counted (``lines``, the rows' numbers in the file,
    follow)."""
    if not len(frame) or not len(frame.columns):
        return frame, lines
    blank = blank_cells(frame.iloc[:, 0])
    for col in range(1, frame.shape[1]):
        rows = np.flatnonzero(blank)  # a row with a value is not blank, whatever its other cells: not looked at
        if not len(rows):
            break
        blank[rows] = blank_cells(frame.iloc[rows, col])
    if blank.any():
        info["blank_rows"] = info.get("blank_rows", 0) + int(blank.sum())
        frame = frame[~blank].reset_index(drop=True)
        lines = lines[~blank] if lines is not None else None
    return frame, lines


def blank_cells(values: pd.Series) -> np.ndarray:
    """Cells that are empty: missing, or white space only (``str.strip() == ""``)."""
    arr = _layers.arrow_text(values)
    if arr is None:
        text = values.astype("string")
        return (text.isna() | (text.str.strip() == "")).fillna(True).to_numpy(dtype=bool)
    # White space only: no character left by str.strip (Arrow's utf8_trim_whitespace), which is Arrow's
    # utf8_is_space but for the empty text (tests/test_read_columns.py checks the two on every character); no
    # stripped copy of the column is made.
    empty = pc.or_kleene(pc.is_null(arr), pc.equal(arr, ""))
    return pc.or_kleene(empty, pc.utf8_is_space(arr)).to_numpy(zero_copy_only=False)


def _read_excel(path: Path, declared: frozenset[str] = frozenset()) -> tuple[pd.DataFrame, dict[str, Any]]:
    if not zipfile.is_zipfile(path):
        raise InputError(path, "is not an .xlsx workbook (not a zip archive)",
                         "save it from Excel/WPS as .xlsx, or export the sheet as CSV")
    try:
        with zipfile.ZipFile(path) as zf:
            expanded = sum(i.file_size for i in zf.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(path, f"is not a readable .xlsx workbook ({exc})", "save it again as .xlsx") from exc
    if expanded > MAX_WORKBOOK_BYTES:
        raise InputError(path, f"the workbook expands to {expanded / 2**30:.1f} GiB",
                         "export the sheet as CSV or Parquet for tables this large")
    try:
        import openpyxl  # noqa: F401
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise InputError(path, "reading .xlsx needs openpyxl", "pip install openpyxl") from exc
    chosen: tuple[str, pd.DataFrame, int] | None = None
    first: tuple[str, pd.DataFrame] | None = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl's notes on styles, data validation, …
            with pd.ExcelFile(path, engine="openpyxl") as book:
                for sheet in book.sheet_names:
                    raw = book.parse(sheet, header=None, dtype=str)
                    raw = raw.dropna(axis=1, how="all").reset_index(drop=True) if len(raw) else raw
                    if not len(raw) or raw.isna().all(axis=None):
                        continue
                    if first is None:
                        first = (str(sheet), raw)
                    i = _header_row(raw, declared)
                    if i is not None:
                        chosen = (str(sheet), raw, i)
                        break
    except InputError:
        raise
    except Exception as exc:  # openpyxl raises KeyError, ValueError, InvalidFileException, … for broken workbooks
        problem = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(path, f"is not a readable .xlsx workbook ({problem})",
                         "open and save it again in Excel/WPS, or export the sheet as CSV") from exc
    if chosen is None:
        if first is None:
            raise InputError(path, "every sheet of the workbook is empty", "put the layer's table in the first sheet")
        sheet, raw = first
        # No known header: the first row with a value is the header (validation then names what is missing).
        i = int(np.flatnonzero(raw.notna().any(axis=1).to_numpy())[0])
    else:
        sheet, raw, i = chosen
    names = [str(v).strip() if isinstance(v, str) and v.strip() else f"Unnamed: {j}"
             for j, v in enumerate(raw.iloc[i].tolist())]
    frame = raw.iloc[i + 1:].reset_index(drop=True)
    frame.columns = _dedupe(names)
    # Blank rows below the header are counted where they are dropped; the sheet's empty rows after the last
    # value are not rows at all (the reader never sees them).
    return frame, {"format": "xlsx", "sheet": sheet, "header_row": i + 1}


def _points_from_columns(df: pd.DataFrame, lon_col: str, lat_col: str, crs: str = "EPSG:4326") -> gpd.GeoDataFrame:
    def number(col: str) -> np.ndarray:
        text = df[col].astype("string").str.normalize("NFKC").str.strip().str.rstrip("°")
        return pd.to_numeric(text, errors="coerce").astype("Float64").to_numpy(dtype=float, na_value=np.nan)

    lon, lat = number(lon_col), number(lat_col)
    ok = np.isfinite(lon) & np.isfinite(lat)
    geoms = np.full(len(df), None, dtype=object)
    geoms[ok] = shapely.points(lon[ok], lat[ok])
    out = df.drop(columns=[lon_col, lat_col])
    # Keep the raw text so a rejected row can say what was wrong with it.
    out["_lon_raw"] = df[lon_col]
    out["_lat_raw"] = df[lat_col]
    return gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geoms, crs=crs, index=df.index))


def _coordinate_columns(columns: pd.Index) -> tuple[str | None, str | None]:
    keys = {_layers.column_key(c): c for c in reversed(list(columns))}  # the leftmost of equal keys wins
    lon = next((keys[n] for n in LON_NAMES if n in keys), None)
    lat = next((keys[n] for n in LAT_NAMES if n in keys), None)
    return lon, lat


# ------------------------------------------------------------------------------------------------------------
# vector formats


def _sidecar(path: Path, ext: str) -> Path | None:
    for cand in (path.with_suffix(ext), path.with_suffix(ext.upper())):
        if cand.is_file():
            return cand
    return None


def _dbf_encoding(dbf: Path) -> str | None:
    """``gb18030`` when a .dbf without .cpg holds text that is not UTF-8 (GBK, as Chinese GIS software writes it)."""
    with open(dbf, "rb") as fh:
        header = fh.read(32)
        if len(header) < 32:
            return None
        fh.seek(int.from_bytes(header[8:10], "little"))
        body = fh.read(8 << 20)
    if max(body, default=0) < 0x80:
        return None
    try:
        codecs.getincrementaldecoder("utf-8")().decode(body, final=False)
    except UnicodeDecodeError:
        return "gb18030"
    return None


#: GDAL field types read as text (see the module docstring, "Dates as text").
DATE_FIELD_TYPES = ("OFTDate", "OFTDateTime", "OFTTime")
GEOJSON_EXTENSIONS = {".geojson", ".json"}


def _quote(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _dates_as_text(path: Path, ext: str, options: dict[str, Any]) -> dict[str, Any]:
    """Read options that bring every date, date-time and time field of the file's (first) layer as text.

    GeoJSON has an open option for it, which keeps the text as written. Other formats are read through SQL with
    those fields cast to text: GeoPackage in its own SQLite dialect, which returns the stored text (GDAL's own
    reading turns ``2020-13-45`` or ``soon`` into an empty date), the rest in OGR SQL, which prints GDAL's reading
    of the field (a Shapefile's ``20200230`` as ``2020/02/30``, garbage as ``0000/00/00``: malformed either way).
    A layer without such fields is read as it is.
    """
    if ext in GEOJSON_EXTENSIONS:
        return {"DATE_AS_STRING": "YES"}
    import pyogrio

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        meta = pyogrio.read_info(path, **({"encoding": options["encoding"]} if "encoding" in options else {}))
    fields = [str(f) for f in meta["fields"]]
    dated = {f for f, t in zip(fields, meta["ogr_types"]) if t in DATE_FIELD_TYPES}
    if not dated:
        return {}
    if ext == ".gpkg":
        cast, dialect = "TEXT", "SQLITE"
        # SQLite returns only the columns named
        geometry = [_quote(meta["geometry_name"])] if meta["geometry_name"] else []
        order = f" ORDER BY {_quote(meta['fid_column'])}" if meta["fid_column"] else ""
    else:
        cast, dialect, geometry, order = "character(64)", "OGRSQL", [], ""  # OGR SQL keeps the geometry itself
    columns = [f"CAST({_quote(f)} AS {cast}) AS {_quote(f)}" if f in dated else _quote(f) for f in fields]
    sql = f"SELECT {', '.join(geometry + columns)} FROM {_quote(meta['layer_name'])}{order}"
    return {"sql": sql, "sql_dialect": dialect}


def _read_vector(path: Path, encoding: str | None) -> tuple[gpd.GeoDataFrame | pd.DataFrame, dict[str, Any]]:
    ext = path.suffix.lower()
    info: dict[str, Any] = {"format": ext.lstrip(".")}
    options: dict[str, Any] = {"datetime_as_string": True}
    if ext == ".shp":
        for side, what in ((".shx", "index"), (".dbf", "attribute table")):
            if _sidecar(path, side) is None:
                raise InputError(path, f"the shapefile's {side} ({what}) is missing beside it",
                                 f"copy {path.stem}{side} next to {path.name}: a shapefile is several files "
                                 "(.shp, .shx, .dbf, .prj, .cpg) — or send it as GeoPackage")
        if _sidecar(path, ".prj") is None:
            info["notes"] = ["no .prj: coordinates taken as WGS-84 lon/lat"]
        dbf = _sidecar(path, ".dbf")
        if _sidecar(path, ".cpg") is None and dbf is not None:  # a .cpg names the .dbf's encoding: GDAL reads it
            guess = encoding or _dbf_encoding(dbf)
            if guess:
                options["encoding"] = info["encoding"] = guess

    def read(**opts: Any) -> gpd.GeoDataFrame | pd.DataFrame:
        with warnings.catch_warnings():
            # GDAL's notes about field types or non-standard members are not the analyst's problem.
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.simplefilter("ignore", UserWarning)
            return gpd.read_file(path, engine="pyogrio", **opts)

    try:
        options.update(_dates_as_text(path, ext, options))
        try:
            frame = read(**options)
        except UnicodeDecodeError:
            if "encoding" in options:
                raise
            # GeoJSON is UTF-8 (RFC 7946), but older Chinese software writes GBK: --encoding, else GB18030.
            frame = read(**options, encoding=encoding or "gb18030")
            info["encoding"] = encoding or "gb18030 (GBK)"
    except Exception as exc:  # pyogrio raises DataSourceError, DataLayerError, … all mean "cannot be read"
        problem = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(path, f"cannot be read as a vector layer ({problem})",
                         "check the file is complete and in a format GDAL reads (GeoJSON, GeoPackage, Shapefile "
                         "with its .dbf/.shx, FlatGeobuf)") from exc
    return frame, info


# ------------------------------------------------------------------------------------------------------------


def read_table(
    path: str | os.PathLike[str],
    *,
    encoding: str | None = None,
    datum: str = "wgs84",
    dictionary: tuple[str, ...] = (),
    crs: str | None = None,
    columns: Mapping[str, str] | None = None,
    ids: pa.Table | None = None,
) -> gpd.GeoDataFrame | pd.DataFrame:
    """Read one layer file into a frame in WGS-84 (EPSG:4326) lon/lat.

    Parameters
    ----------
    path
        The layer file; the format follows the extension.
    encoding
        Text encoding of a CSV / text table; default: a byte-order mark decides, else UTF-8, then GB18030 (which
        covers GBK). Also used for a Shapefile's .dbf without a .cpg, and for a GeoJSON that is not UTF-8.
    datum
        The datum of the coordinates: ``wgs84``, ``gcj02`` (Amap, Tencent, WeChat) or ``bd09`` (Baidu). Converted to
        WGS-84 on read, because a ~500 m datum offset decides border verdicts.
    dictionary
        Contract columns of few distinct values in many rows (``stop_id`` of stop_times) to read from Parquet as
        dictionaries (categoricals) when they are text; validation reads them the same either way.
    crs
        The CRS of a table's coordinate columns (projected x/y, e.g. ``EPSG:4547``), or of a vector file that names
        none; reprojected to WGS-84 (see :mod:`transportmon.io.declared`).
    columns
        ``{header: column}``: the file's headers to read as contract columns (``{"X坐标": "lon"}``).
    ids
        Columns of a Parquet file read already, on another thread (:func:`transportmon.io.parquet.parquet_ids`):
        taken as they are, the other columns read.

    Returns
    -------
    A GeoDataFrame in EPSG:4326 when the file has geometry or lon/lat columns, else a DataFrame; what was decided
    while reading (format, encoding, sheet, header row, blank rows) is in ``attrs["source"]``.
    """
    p = Path(path)
    encoding = check_encoding(encoding)
    datum = _declared.datum_name(datum)
    check_file(p)
    ext = p.suffix.lower()
    heads = frozenset(_declared.header_keys(columns))
    frame: gpd.GeoDataFrame | pd.DataFrame
    if ext in CSV_EXTENSIONS or ext in EXCEL_EXTENSIONS:
        if ext in CSV_EXTENSIONS:
            frame, info = _read_csv(p, encoding)
            lines = record_lines(p, info.pop("_codec"), frame)
            frame, lines = _promote_header(frame, info, lines, heads)
        else:
            frame, info = _read_excel(p, heads)
            first = int(info["header_row"]) + 1  # the sheet row under the header
            lines = np.arange(first, first + len(frame), dtype=np.int64)
        frame.columns = _dedupe([str(c).replace("\ufeff", "").strip() for c in frame.columns])
        frame, lines = _drop_blank_rows(frame, info, lines)
        frame[SOURCE_ROW] = lines  # the row as the user's program numbers it (see transportmon.source_rows)
        frame = _declared.declare_columns(frame, columns, p, info)
        lon_col, lat_col = _coordinate_columns(frame.columns)
        if lon_col is not None and lat_col is not None:
            frame = _points_from_columns(frame, lon_col, lat_col, crs or "EPSG:4326")
    elif ext == ".xls":
        raise InputError(p, "is an old binary Excel workbook (.xls)", "save it as .xlsx or export the sheet as CSV")
    elif ext in PARQUET_EXTENSIONS:
        frame, info = parquet_frame(p, dictionary, ids), {"format": "parquet"}
    elif ext in VECTOR_EXTENSIONS:
        frame, info = _read_vector(p, encoding)
    else:
        raise InputError(p, f"unknown file type {ext!r}",
                         "use .geojson, .gpkg, .shp, .fgb, .parquet, .xlsx, .csv (with lon/lat) or .osm")
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame.columns:
        geometry_name = frame.geometry.name
        frame.columns = _dedupe([c if c == geometry_name else str(c).replace("\ufeff", "").strip()
                                 for c in frame.columns])
    else:
        frame.columns = _dedupe([str(c).replace("\ufeff", "").strip() for c in frame.columns])
    tabular = ext in CSV_EXTENSIONS or ext in EXCEL_EXTENSIONS
    if not tabular:
        frame = _declared.declare_columns(frame, columns, p, info)
    if crs is not None:
        frame = _declared.declare_crs(frame, crs, p, info, tabular=tabular, geojson=ext in GEOJSON_EXTENSIONS)
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame.columns:
        if frame.crs is None:
            frame = frame.set_crs("EPSG:4326")
        elif not frame.crs.equals("EPSG:4326"):
            frame = _to_wgs84(frame, p)
        if datum != "wgs84":
            frame = frame.set_geometry(_datum.geometry_to_wgs84(frame.geometry, datum))  # type: ignore[arg-type]
    elif datum != "wgs84":
        raise InputError(p, f"--datum {datum} given but the layer has no coordinates", "drop the datum option")
    frame.attrs["source"] = info
    return frame


def _to_wgs84(frame: gpd.GeoDataFrame, path: Path) -> gpd.GeoDataFrame:
    """Reproject; coordinates the CRS cannot map (outside its area, non-finite) become non-finite, then rejected."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return frame.to_crs("EPSG:4326")
    except Exception as exc:  # pyproj CRSError: a CRS that has no transformation to WGS-84
        raise InputError(path, f"cannot reproject from {frame.crs} to WGS-84 ({exc})",
                         "give the layer in EPSG:4326 or a common projected CRS") from exc


def read_layer(name: str, path: Path, datum: str, encoding: str | None, *, crs: str | None = None,
               columns: Mapping[str, str] | None = None, ids: pa.Table | None = None) -> tuple[pd.DataFrame, int]:
    """Read the file of layer ``name`` as validation takes it (an OpenStreetMap extract for ``roads``), and its rows;
    ``crs`` and ``columns`` as declared for it (:mod:`transportmon.io.declared`); ``ids``: columns of a Parquet file
    read already (:func:`read_table`)."""
    from .discover import is_osm

    if name == "roads" and is_osm(path):
        from .osm import roads_from_osm_file

        frame = roads_from_osm_file(path)  # OSMError names the file and the fix; the CLI exits 2
        if datum != "wgs84" or crs is not None:
            raise InputError(path, f"--roads-{'datum' if crs is None else 'crs'} {crs or datum} given for "
                             "OpenStreetMap data", "OSM is WGS-84: drop it")
        return frame, len(frame)
    frame = read_table(path, encoding=encoding, datum=datum, dictionary=layer_dictionary(name), crs=crs,
                       columns=columns, ids=ids)
    return frame, len(frame)


def layer_dictionary(name: str) -> tuple[str, ...]:
    """Contract columns of layer ``name`` read from Parquet as dictionaries (categoricals), validated per distinct
    value: stop_times name some thousands of stops in millions of rows; trips have a few hundred service dates and
    three service types in millions of rows (a Parquet file usually stores such text as a dictionary already, so the
    reader does not even make each row's text)."""
    return {"stop_times": ("stop_id",), "trips": ("service_date", "service_type")}.get(name, ())


def display_path(p: Path) -> str:
    """The path relative to the working folder when it lies below it (stable across machines), else absolute."""
    full = p.resolve()
    try:
        return full.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return full.as_posix()
