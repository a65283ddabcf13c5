"""Report → file: GeoJSON (RFC 7946), GeoParquet or CSV, chosen by the extension; always atomic.

The report goes to a temporary file in the target folder and is renamed over the target only when complete, so a run
killed mid-write leaves the old report or the new one, never half of one. A target that is one of the inputs is
refused. GeoJSON is streamed feature by feature (no giant in-memory document) and is deterministic: properties in
contract order, coordinates rounded to 1e-7° (~1 cm), no timestamps.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .._errors import InputError

FORMATS = {".geojson": "geojson", ".json": "geojson", ".parquet": "parquet", ".geoparquet": "parquet", ".csv": "csv"}
COORD_DECIMALS = 7


def output_format(out: str) -> str:
    if out == "-":
        return "geojson"
    ext = Path(out).suffix.lower()
    if ext not in FORMATS:
        raise InputError(out, f"unknown report format {ext!r}", "use .geojson, .parquet or .csv")
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


def _clean(value: Any) -> Any:
    """JSON-ready value: NA → None, numpy scalars → Python, NaN/inf → None, timestamps → ISO date."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [_clean(v) for v in value.tolist()]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return None if not math.isfinite(f) else f
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    return value


def _round_coords(geoms: np.ndarray) -> np.ndarray:
    return shapely.transform(geoms, lambda xy: np.round(xy, COORD_DECIMALS))


def geojson_chunks(report: gpd.GeoDataFrame, metadata: dict[str, Any]) -> Iterator[str]:
    """The FeatureCollection as text pieces: header, one line per feature, footer with the metadata member."""
    yield '{"type": "FeatureCollection",\n"features": [\n'
    geoms = _round_coords(report.geometry.to_numpy())
    present = ~(pd.isna(geoms) | shapely.is_empty(geoms))
    gjson = np.full(len(geoms), "null", dtype=object)
    if present.any():
        gjson[present] = shapely.to_geojson(geoms[present])
    props = report.drop(columns=report.geometry.name)
    columns = list(props.columns)
    values = props.to_numpy(dtype=object)
    for i in range(len(report)):
        record = {c: _clean(v) for c, v in zip(columns, values[i])}
        sep = ",\n" if i < len(report) - 1 else "\n"
        yield ('{"type": "Feature", "properties": ' + json.dumps(record, ensure_ascii=False)
               + ', "geometry": ' + gjson[i] + "}" + sep)
    yield '],\n"metadata": ' + json.dumps(_clean(metadata), ensure_ascii=False, indent=1) + "\n}\n"


def _write_text(chunks: Iterable[str], fh: IO[str]) -> None:
    for chunk in chunks:
        fh.write(chunk)


def _flat(report: gpd.GeoDataFrame) -> pd.DataFrame:
    """Columns a table can hold: lists as JSON text."""
    out = report.copy()
    for col in ("findings", "risk_stops"):
        out[col] = out[col].map(lambda v: json.dumps(_clean(v), ensure_ascii=False) if v is not None else None)
    return out


def write_report(report: gpd.GeoDataFrame, metadata: dict[str, Any], out: str,
                 inputs: Iterable[str | os.PathLike[str]] = ()) -> str:
    """Write the report to ``out`` (``-`` = stdout, GeoJSON) atomically; returns the format written."""
    fmt = output_format(out)
    if out == "-":
        _write_text(geojson_chunks(report, metadata), sys.stdout)
        sys.stdout.flush()
        return fmt
    target = check_target(out, inputs)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        if fmt == "geojson":
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
                _write_text(geojson_chunks(report, metadata), fh)
                fh.flush()
                os.fsync(fh.fileno())
        elif fmt == "parquet":
            os.close(fd)
            table = _flat(report)
            table.attrs = {}
            table.to_parquet(tmp, index=False)
            _add_parquet_metadata(tmp, metadata)
        else:
            os.close(fd)
            _flat(report).drop(columns=report.geometry.name).to_csv(tmp, index=False, encoding="utf-8")
        # mkstemp makes the file private (0600); a report is an ordinary file, so give it the usual umask mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return fmt


def _add_parquet_metadata(path: str, metadata: dict[str, Any]) -> None:
    """Keep the report metadata in the Parquet file's key-value metadata (``transportmon``)."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    meta = dict(table.schema.metadata or {})
    meta[b"transportmon"] = json.dumps(_clean(metadata), ensure_ascii=False).encode()
    pq.write_table(table.replace_schema_metadata(meta), path)


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
