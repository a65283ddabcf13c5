"""Report → file: GeoJSON (RFC 7946), GeoParquet, CSV, xlsx or GeoPackage, chosen by the extension; always atomic.

The report goes to a temporary file in the target folder and is renamed over the target only when complete, so a run
killed mid-write leaves the old report or the new one, never half of one. A target that is one of the inputs is
refused. GeoJSON is streamed in batches of features, each encoded column-wise (no giant in-memory document, no Python
object per feature) and is deterministic: properties in contract order, coordinates rounded to 1e-7° (~1 cm), no
timestamps.

GeoParquet keeps the report's columns as they are: ``findings`` is a native Parquet
``list<struct<rule_id, severity, message_zh, message_en>>`` and ``risk_stops`` a ``list<string>`` (null where a subject
has none), which GeoPandas and DuckDB read as nested values. The Arrow table is taken from the frame's
Arrow-backed columns without copying them, the geometry is WKB built column-wise from the coordinates (GeoParquet
``geo`` metadata, WGS-84), and the report metadata goes in the file's key-value metadata under ``transportmon``. Row
groups are encoded on a second thread while the next one's WKB is built. CSV
has no nesting: there ``findings`` and ``risk_stops`` are JSON text, followed by ``lon``/``lat`` of point subjects; it
is UTF-8 with a byte-order mark, which Excel on Chinese Windows needs to read it as UTF-8 (without it Excel takes
the system's GBK and garbles every Chinese character).

The desk formats have modules of their own: :mod:`.xlsx` (a workbook with a summary sheet and a sheet per subject
kind) and :mod:`.gpkg` (a GeoPackage with a layer per subject kind and geometry type, styled for QGIS).
"""

from __future__ import annotations

import glob
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from .._errors import InputError
from .encode import BATCH_ROWS, COORD_DECIMALS, clean_json, flat_columns, json_values, text_of
from .geoparquet import ReportSink, write_parquet

FORMATS = {".geojson": "geojson", ".json": "geojson", ".parquet": "parquet", ".geoparquet": "parquet", ".csv": "csv",
           ".xlsx": "xlsx", ".gpkg": "gpkg"}
#: The report formats, as ``--out`` errors name them.
WORKING_FORMATS = ".geojson, .parquet, .csv, .xlsx or .gpkg"
#: Formats a report cannot take, and why (one geometry type per file, one file per layer, or an old format).
REFUSED = {
    ".fgb": "FlatGeobuf holds one layer of one geometry type per file, and a report has points, lines and rows "
            "without geometry",
    ".shp": "a Shapefile holds one geometry type per file, cuts field names to 10 characters and text to 254 bytes",
    ".xls": "the old Excel format is not written",
}


def output_format(out: str) -> str:
    """The report format of ``--out`` (``-`` is GeoJSON on stdout); :class:`InputError` for any other extension."""
    if out == "-":
        return "geojson"
    ext = Path(out).suffix.lower()
    if ext in REFUSED:
        raise InputError(out, f"a report cannot be written as {ext}: {REFUSED[ext]}",
                         f"use {WORKING_FORMATS} (.gpkg has a layer per subject kind and geometry type, for QGIS)")
    if ext not in FORMATS:
        raise InputError(out, f"unknown report format {ext!r}", f"use {WORKING_FORMATS}")
    return FORMATS[ext]


def check_target(out: str, inputs: Iterable[str | os.PathLike[str]]) -> Path:
    """Refuse to write over an input, or into a folder that does not exist."""
    target = Path(out).resolve()
    for p in inputs:
        if p is not None and Path(p).resolve() == target:
            raise InputError(out, "is one of the inputs; the report never overwrites an input",
                             "choose another --out")
    if not target.parent.is_dir():
        raise InputError(out, f"folder {target.parent} does not exist", "create it or choose another --out")
    return target


def _round_coords(geoms: np.ndarray) -> np.ndarray:
    return shapely.transform(geoms, lambda xy: np.round(xy, COORD_DECIMALS))


def geojson_chunks(report: gpd.GeoDataFrame, metadata: dict[str, Any]) -> Iterator[str]:
    """The FeatureCollection as text pieces: header, features one per line (a batch per piece), footer with the
    metadata member. Features are encoded column-wise in batches of :data:`BATCH_ROWS`; the text is the same as
    ``json.dumps`` of each feature's properties would give."""
    return geojson_stream([report], metadata)


def geojson_stream(frames: Iterable[gpd.GeoDataFrame], metadata: dict[str, Any]) -> Iterator[str]:
    """:func:`geojson_chunks` of the report whose rows are ``frames`` one after the other (a report that never is in
    memory whole): the same text, piece by piece."""
    yield '{"type": "FeatureCollection",\n"features": [\n'
    held = None  # a frame is written once the next one shows it was not the last
    for frame in frames:
        if not len(frame):
            continue
        if held is not None:
            yield from _features(held, last=False)
        held = frame
    if held is not None:
        yield from _features(held, last=True)
    yield '],\n"metadata": ' + json.dumps(clean_json(metadata), ensure_ascii=False, indent=1) + "\n}\n"


def _features(report: gpd.GeoDataFrame, *, last: bool) -> Iterator[str]:
    """The features of ``report``, a line each, each line but the collection's last ending in a comma."""
    props = report.drop(columns=report.geometry.name)
    columns = list(props.columns)
    geometry = report.geometry.to_numpy()
    n = len(report)
    for start in range(0, n, BATCH_ROWS):
        stop = min(start + BATCH_ROWS, n)
        geoms = _round_coords(geometry[start:stop])
        present = ~(pd.isna(geoms) | shapely.is_empty(geoms))
        gjson = np.full(len(geoms), "null", dtype=object)
        if present.any():
            gjson[present] = shapely.to_geojson(geoms[present])
        pieces: list[Any] = []
        for i, col in enumerate(columns):
            key = json.dumps(col, ensure_ascii=False)
            lead = '{"type": "Feature", "properties": {' if i == 0 else ", "
            pieces += [lead + key + ": ", json_values(props[col].iloc[start:stop])]
        if not columns:
            pieces.append('{"type": "Feature", "properties": {')
        seps = np.full(stop - start, ",\n", dtype=object)
        if stop == n and last:
            seps[-1] = "\n"
        pieces += ['}, "geometry": ', pa.array(gjson, pa.string()), "}", pa.array(seps, pa.string())]
        yield text_of(pc.binary_join_element_wise(*pieces, ""))


def _write_text(chunks: Iterable[str], fh: IO[str]) -> None:
    for chunk in chunks:
        fh.write(chunk)


def publish(tmp: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Give a finished temporary file the usual mode and rename it over ``target`` in one step.

    mkstemp makes files private (0600); a report or a map is for sharing, so it gets what the umask allows.
    """
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, target)


#: A temporary file older than this was left by a killed run (a live run finishes its write long before).
STALE_TMP_SECONDS = 3600


def _sweep_stale(target: Path) -> None:
    """Remove temporary files of earlier runs killed while writing ``target`` (older than an hour); a GeoPackage's
    temporary file has ``.gpkg`` after ``.tmp``."""
    now = time.time()
    for old in target.parent.glob(f".{glob.escape(target.name)}.*.tmp*"):
        try:
            if now - old.stat().st_mtime > STALE_TMP_SECONDS:
                old.unlink()
        except OSError:  # another run removed it, or it is not ours to remove
            pass


@contextmanager
def atomic_file(target: Path) -> Iterator[tuple[int, str]]:
    """A temporary file beside ``target`` (``(fd, path)``) that replaces it only if the block completes.

    A run killed or failing mid-write leaves the old file (or none) and no half-written target.
    """
    _sweep_stale(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        yield fd, tmp
        publish(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_bytes(target: Path, data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically (a map, an image); its folder must exist."""
    if not target.parent.is_dir():
        raise InputError(target, f"folder {target.parent} does not exist", "create it or choose another --out")
    with atomic_file(target) as (fd, _tmp), os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return target


def write_report(report: gpd.GeoDataFrame, metadata: dict[str, Any], out: str,
                 inputs: Iterable[str | os.PathLike[str]] = (), *, lang: str = "zh") -> str:
    """Write the report to ``out`` (``-`` = stdout, GeoJSON) atomically; returns the format written.

    ``lang`` (``zh`` or ``en``) is the language of what people read in the desk formats: the xlsx sheet names,
    headers and messages, the GeoPackage's style labels. The machine formats do not depend on it.
    """
    fmt = output_format(out)
    if out == "-":
        _write_text(geojson_chunks(report, metadata), sys.stdout)
        sys.stdout.flush()
        return fmt
    target = check_target(out, inputs)
    with atomic_file(target) as (fd, tmp):
        if fmt == "geojson":
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
                _write_text(geojson_chunks(report, metadata), fh)
                fh.flush()
                os.fsync(fh.fileno())
        elif fmt == "parquet":
            os.close(fd)
            write_parquet(report, metadata, tmp)
        elif fmt == "xlsx":
            os.close(fd)
            from .xlsx import write_xlsx

            write_xlsx(report, metadata, tmp, lang=lang)
        elif fmt == "gpkg":
            os.close(fd)
            from .gpkg import write_gpkg

            write_gpkg(report, metadata, tmp, lang=lang)
        else:
            os.close(fd)
            csv_frame(report).to_csv(tmp, index=False, encoding="utf-8-sig")
    return fmt


@contextmanager
def report_sink(out: str, template: gpd.GeoDataFrame,
                inputs: Iterable[str | os.PathLike[str]] = ()) -> Iterator[ReportSink]:
    """A GeoParquet report written to ``out`` a piece at a time (:class:`~.geoparquet.ReportSink`; ``template``: a
    frame with the report's columns and types), atomically like :func:`write_report`: ``out`` is replaced only when
    the block completes, which must close the sink with the report's metadata."""
    target = check_target(out, inputs)
    if output_format(out) != "parquet":
        raise InputError(out, "a report written as it is made must be GeoParquet", "use .parquet")
    with atomic_file(target) as (fd, tmp):
        os.close(fd)
        with ReportSink(tmp, template) as sink:
            yield sink
        if not sink.closed:
            raise RuntimeError("the report sink was left without its metadata")


def csv_frame(report: gpd.GeoDataFrame) -> pd.DataFrame:
    """The report as the CSV holds it: every column but the geometry (``findings`` and ``risk_stops`` as JSON text),
    then ``lon`` and ``lat`` of point subjects (empty for lines and rows without geometry)."""
    from .columns import lon_lat

    out = flat_columns(report).drop(columns=report.geometry.name)
    out["lon"], out["lat"] = lon_lat(report.geometry.to_numpy())
    return out


LAYER_DRIVERS = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".fgb": "FlatGeobuf", ".shp": "ESRI Shapefile"}


def write_layer(frame: gpd.GeoDataFrame, out: str, inputs: Iterable[str | os.PathLike[str]] = ()) -> None:
    """Write a layer (e.g. roads from OpenStreetMap) atomically; the format follows the extension."""
    target = check_target(out, inputs)
    ext = target.suffix.lower()
    if ext not in LAYER_DRIVERS and ext not in (".parquet", ".geoparquet"):
        raise InputError(out, f"unknown layer format {ext!r}", "use .gpkg, .geojson, .fgb, .shp or .parquet")
    tmpdir = tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent)
    tmp = Path(tmpdir) / target.name
    try:
        if ext in (".parquet", ".geoparquet"):
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_file(tmp, driver=LAYER_DRIVERS[ext], engine="pyogrio")
        if ext == ".shp":  # a shapefile is several files: move each sidecar beside the target
            for part in Path(tmpdir).iterdir():
                os.replace(part, target.with_suffix(part.suffix))
        else:
            os.replace(tmp, target)
    finally:
        for part in Path(tmpdir).glob("*"):
            part.unlink()
        os.rmdir(tmpdir)
