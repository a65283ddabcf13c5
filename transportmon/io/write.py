"""Report → file: GeoJSON (RFC 7946), GeoParquet or CSV, chosen by the extension; always atomic.

The report goes to a temporary file in the target folder and is renamed over the target only when complete, so a run
killed mid-write leaves the old report or the new one, never half of one. A target that is one of the inputs is
refused. GeoJSON is streamed in batches of features, each encoded column-wise (no giant in-memory document, no Python
object per feature) and is deterministic: properties in contract order, coordinates rounded to 1e-7° (~1 cm), no
timestamps. In GeoParquet and CSV, ``findings`` (a list of ``{rule_id, severity, message_zh, message_en}``) and
``risk_stops`` (a list of stop ids) are JSON text columns.
"""

from __future__ import annotations

import glob
import json
import math
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

from .. import _arrow
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


#: Features encoded per batch: bounds the memory of the text while amortising the Arrow calls.
BATCH_ROWS = 65_536


def json_values(column: pd.Series) -> pa.Array:
    """Each value of a report column as JSON text, exactly as ``json.dumps(_clean(v), ensure_ascii=False)``.

    Column-wise for the report's dtypes (Arrow text and lists, integers, floats, booleans); a column of arbitrary
    Python objects falls back to ``json.dumps`` per value (and raises ``TypeError`` on what JSON cannot hold).
    """
    dtype = column.dtype
    n = len(column)
    if isinstance(dtype, pd.ArrowDtype) and pa.types.is_list(dtype.pyarrow_dtype):
        if pa.types.is_struct(dtype.pyarrow_dtype.value_type):
            return _arrow.json_findings(column)
        return _arrow.json_list_of_strings(column)
    if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        return _arrow.json_strings(column)
    if pd.api.types.is_bool_dtype(dtype) and not isinstance(dtype, pd.api.extensions.ExtensionDtype):
        return pa.array(np.where(column.to_numpy(), "true", "false"), pa.string())
    if pd.api.types.is_integer_dtype(dtype):
        return pc.fill_null(pa.array(column.array, from_pandas=True).cast(pa.string()), "null") if isinstance(
            dtype, pd.api.extensions.ExtensionDtype) else pa.array(column.to_numpy()).cast(pa.string())
    if pd.api.types.is_float_dtype(dtype):
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        codes, uniques = pd.factorize(values)  # NaN gets -1
        words = [repr(float(x)) if math.isfinite(x) else "null" for x in uniques]
        return pa.array(words + ["null"], pa.string()).take(pa.array(np.where(codes < 0, len(words), codes)))
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return _arrow.json_strings(pd.Series(column.dt.strftime("%Y-%m-%d")))
    return pa.array([json.dumps(_clean(v), ensure_ascii=False) for v in column.to_numpy(dtype=object)]
                    if n else [], pa.string())


def _text_of(arr: pa.Array) -> str:
    """The concatenated text of a string array (one buffer copy, no Python string per element)."""
    if not len(arr):
        return ""
    arr = arr.cast(pa.large_string()) if arr.type != pa.large_string() else arr
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset: arr.offset + len(arr) + 1]
    data = arr.buffers()[2]
    return bytes(memoryview(data)[int(offsets[0]): int(offsets[-1])]).decode("utf-8")


def geojson_chunks(report: gpd.GeoDataFrame, metadata: dict[str, Any]) -> Iterator[str]:
    """The FeatureCollection as text pieces: header, features one per line (a batch per piece), footer with the
    metadata member. Features are encoded column-wise in batches of :data:`BATCH_ROWS`; the text is the same as
    ``json.dumps`` of each feature's properties would give."""
    yield '{"type": "FeatureCollection",\n"features": [\n'
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
        if stop == n:
            seps[-1] = "\n"
        pieces += ['}, "geometry": ', pa.array(gjson, pa.string()), "}", pa.array(seps, pa.string())]
        yield _text_of(pc.binary_join_element_wise(*pieces, ""))
    yield '],\n"metadata": ' + json.dumps(_clean(metadata), ensure_ascii=False, indent=1) + "\n}\n"


def _write_text(chunks: Iterable[str], fh: IO[str]) -> None:
    for chunk in chunks:
        fh.write(chunk)


def _flat(report: gpd.GeoDataFrame) -> pd.DataFrame:
    """Columns a table can hold: ``findings`` and ``risk_stops`` as JSON text (null where a subject has no
    ``risk_stops``), encoded column-wise."""
    out = report.copy()
    for col in ("findings", "risk_stops"):
        values = json_values(out[col])
        if col == "risk_stops":
            values = pc.if_else(pc.equal(values, "null"), pa.scalar(None, pa.string()), values)
        out[col] = pd.Series(pd.array(values.cast(pa.large_string()), dtype="str"), index=out.index)
    return out


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
    """Remove temporary files of earlier runs killed while writing ``target`` (older than an hour)."""
    now = time.time()
    for old in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
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


def write_report(report: gpd.GeoDataFrame, metadata: dict[str, Any], out: str,
                 inputs: Iterable[str | os.PathLike[str]] = ()) -> str:
    """Write the report to ``out`` (``-`` = stdout, GeoJSON) atomically; returns the format written."""
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
            _write_parquet(_flat(report), metadata, tmp)
        else:
            os.close(fd)
            _flat(report).drop(columns=report.geometry.name).to_csv(tmp, index=False, encoding="utf-8")
    return fmt


def _write_parquet(table: gpd.GeoDataFrame, metadata: dict[str, Any], path: str) -> None:
    """GeoParquet (WKB geometry, the ``geo`` metadata) with the report metadata in the file's key-value metadata
    (``transportmon``), written in one pass."""
    import pyarrow.parquet as pq
    from geopandas.io.arrow import _geopandas_to_arrow

    table.attrs = {}
    arrow_table = _geopandas_to_arrow(table, index=False)
    meta = dict(arrow_table.schema.metadata or {})
    meta[b"transportmon"] = json.dumps(_clean(metadata), ensure_ascii=False).encode()
    pq.write_table(arrow_table.replace_schema_metadata(meta), path, row_group_size=1 << 20)


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
