"""A saved report's text forms read column-wise, and every form brought to the report frame's types.

:func:`transportmon.io.report.read_report` reads the three forms through here:

- GeoJSON as ``transportmon audit`` writes it (one feature per line, geometry last, the metadata member after the
  features): the lines are cut apart on their newlines (no JSON value holds a raw newline), the properties are read
  by Arrow's JSON reader and the geometries by GEOS's GeoJSON reader — no Python object per feature, so a report of a
  million trips reads in seconds where ``json.load`` and a feature-by-feature frame took minutes and gigabytes. Any
  other GeoJSON layout (a report edited and saved by another tool) is read with ``json.load``.
- CSV: text columns stay text (an id ``0012`` stays ``0012``); ``findings`` and ``risk_stops`` are JSON text, parsed
  by Arrow's JSON reader.

:func:`conform_report` then gives every form the report frame's types: Arrow list columns for ``findings`` (each
finding with its ``finding_id``, derived for a report written before ids existed) and ``risk_stops``, text and
integer columns as text and ``Int64``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from pyarrow import json as pajson

from .._arrow import FINDINGS_TYPE, STOPS_TYPE, arrow
from .._errors import InputError

__all__ = ["arrow_lists", "conform_report", "read_csv_report", "read_geojson_lines", "read_geojson_report",
           "read_gpkg_report"]

_FIX = "give a report written by transportmon audit"
#: How :func:`transportmon.io.write.geojson_chunks` begins and ends the features.
_HEAD = b'{"type": "FeatureCollection",\n"features": [\n'
_TAIL = b'],\n"metadata": '
#: Rows of NDJSON the Arrow reader parses per block.
_BLOCK = 1 << 26


def _column_types() -> dict[str, pa.DataType]:
    from ..report import COLUMNS, FLOAT_COLUMNS, INT_COLUMNS, RATIO_COLUMNS

    types: dict[str, pa.DataType] = {}
    for col in COLUMNS:
        types[col] = (FINDINGS_TYPE if col == "findings" else STOPS_TYPE if col == "risk_stops" else
                      pa.int64() if col in INT_COLUMNS else
                      pa.float64() if col in (*FLOAT_COLUMNS, *RATIO_COLUMNS, "cap") else pa.string())
    return types


def read_geojson_report(path: Path) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """A GeoJSON report's features (as written; see :func:`conform_report`) and its metadata member."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read the report ({exc})", _FIX) from exc
    if data.startswith(_HEAD) and (end := data.rfind(_TAIL)) > 0:
        try:
            return read_geojson_lines(data, end)
        except (ValueError, KeyError, TypeError, shapely.errors.GEOSException):  # another layout: read as JSON
            pass
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise InputError(path, f"cannot read the report ({exc})", _FIX) from exc
    del data
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise InputError(path, "is not a GeoJSON FeatureCollection", _FIX)
    feats = doc.get("features") or []
    try:
        frame = gpd.GeoDataFrame.from_features(feats, crs="EPSG:4326") if feats else gpd.GeoDataFrame(
            {"subject": [], "subject_id": [], "verdict": []}, geometry=gpd.GeoSeries([], crs="EPSG:4326"))
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise InputError(path, f"has features that are not GeoJSON features ({exc})", _FIX) from exc
    return frame, doc.get("metadata") or {}


def read_geojson_lines(data: bytes, end: int) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """The features of ``data`` (written one per line by :func:`transportmon.io.write.geojson_chunks`), which end at
    ``end``; raises ``ValueError`` where the text is not laid out so."""
    metadata = json.loads(b"{" + data[end + 3:])["metadata"]  # the member after "],\n"
    if end == len(_HEAD):  # no feature
        return gpd.GeoDataFrame({"subject": [], "subject_id": [], "verdict": []},
                                geometry=gpd.GeoSeries([], crs="EPSG:4326")), metadata
    # A mutable copy of the features, one per line (no JSON value holds a raw newline). Edited in place, where the
    # text keeps its length: the comma ending a line becomes a space (the lines are then NDJSON), and the key
    # "coordinates" of each geometry becomes "c<depth>" and spaces (the depth of its nesting of brackets), so that
    # Arrow reads points, lines and polygons in one column of fixed types.
    block = np.frombuffer(data, dtype=np.uint8, count=end - len(_HEAD), offset=len(_HEAD)).copy()
    newline = np.flatnonzero(block == 10)
    block[newline[block[newline - 1] == ord(",")] - 1] = ord(" ")
    offsets = np.r_[0, newline + 1].astype(np.int64)
    lines = pa.LargeStringArray.from_buffers(len(newline), pa.py_buffer(offsets), pa.py_buffer(block))
    found = pc.find_substring(lines, '"coordinates":').to_numpy(zero_copy_only=False)  # -1: a null geometry
    del lines
    key = offsets[:-1][found >= 0] + found[found >= 0]  # where each geometry's "coordinates" begins
    value = key + len('"coordinates":')
    if len(value) and value.max() + 4 > len(block):
        raise ValueError("a geometry cut short")
    opening = np.stack([block[value + k] == ord("[") for k in range(5)], axis=1)
    depth = np.argmin(np.c_[opening, np.zeros(len(value), bool)], axis=1)  # brackets before the first number
    if len(depth) and (depth.min() < 1 or depth.max() > 4):
        raise ValueError("a geometry of unknown nesting")
    name = np.full((len(key), len('"coordinates"')), ord(" "), dtype=np.uint8)
    name[:, 0], name[:, 1], name[:, 2], name[:, 3] = ord('"'), ord("c"), ord("0") + depth, ord('"')
    block[key[:, None] + np.arange(name.shape[1])] = name
    first = json.loads(data[len(_HEAD): data.index(b"\n", len(_HEAD))].rstrip(b","))["properties"]
    types = _column_types()
    schema = pa.schema([("properties", pa.struct([(k, types[k]) for k in first if k in types])),
                        ("geometry", _GEOMETRY_TYPE)])
    table = pajson.read_json(pa.BufferReader(pa.py_buffer(block)), read_options=pajson.ReadOptions(
        block_size=_BLOCK), parse_options=pajson.ParseOptions(explicit_schema=schema,
                                                              unexpected_field_behavior="infer"))
    del block
    props = table.column("properties").combine_chunks()
    order = list(first) + [f.name for f in props.type if f.name not in first]  # the file's property order
    frame = pa.table({k: _dates_as_text(props.field(k)) for k in order}).to_pandas(types_mapper=_mapper)
    geometry = _geometries(table.column("geometry").combine_chunks())
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry, crs="EPSG:4326")), metadata


#: Nesting depth of the coordinates of each GeoJSON geometry type (a GeometryCollection is read as plain JSON). The
#: depth of a geometry's coordinates is read from the text, its type from its "type".
_DEPTH = {"Point": 1, "LineString": 2, "MultiPoint": 2, "Polygon": 3, "MultiLineString": 3, "MultiPolygon": 4}
_GEOMETRY_TYPE = pa.struct([("type", pa.string())] + [
    (f"c{d}", _nested) for d, _nested in ((1, pa.list_(pa.float64())), (2, pa.list_(pa.list_(pa.float64()))),
                                          (3, pa.list_(pa.list_(pa.list_(pa.float64())))),
                                          (4, pa.list_(pa.list_(pa.list_(pa.list_(pa.float64()))))))])


def _geometries(geometry: pa.StructArray) -> np.ndarray:
    """Shapely geometries of a ``{type, c1 … c4}`` column (coordinates by depth), built from the coordinate arrays
    by shapely's array constructors; null where the feature's geometry is null."""
    if {f.name for f in geometry.type} != {f.name for f in _GEOMETRY_TYPE}:
        raise ValueError("a geometry that is not Point, LineString, Polygon or one of their Multi types")
    out = np.full(len(geometry), None, dtype=object)
    kind = geometry.field("type")
    for name, depth in _DEPTH.items():
        mask = pc.fill_null(pc.equal(kind, name), False)
        if not pc.any(mask).as_py():
            continue
        nested = geometry.field(f"c{depth}").filter(mask)
        counts = []  # elements per level: parts per geometry, rings per part, points per ring …
        for _ in range(depth - 1):
            counts.append(pc.list_value_length(nested).fill_null(0).to_numpy(zero_copy_only=False))
            nested = pc.list_flatten(nested)
        dims = pc.list_value_length(nested).to_numpy(zero_copy_only=False)
        if len(dims) and (dims.min() != dims.max() or dims[0] not in (2, 3)):
            raise ValueError("coordinates of mixed dimensions")
        xy = pc.list_flatten(nested).to_numpy(zero_copy_only=False).reshape(-1, int(dims[0]) if len(dims) else 2)
        out[mask.to_numpy(zero_copy_only=False)] = _assemble(name, xy, counts)
    return out


def _assemble(kind: str, xy: np.ndarray, counts: list[np.ndarray]) -> np.ndarray:
    """Geometries of one type from their points and the element counts per nesting level (outermost first)."""

    def owner(level: list[np.ndarray] | np.ndarray) -> np.ndarray:
        return np.repeat(np.arange(len(level)), level)

    if kind == "Point":
        return shapely.points(xy)
    if kind in ("LineString", "MultiPoint"):
        if (counts[0] == 0).any():
            raise ValueError("an empty geometry")  # the writer writes null for those
        if kind == "MultiPoint":
            return shapely.multipoints(shapely.points(xy), indices=owner(counts[0]))
        return shapely.linestrings(xy, indices=owner(counts[0]))
    parts, points = counts[-2], counts[-1]  # rings (or lines) and their points
    if (points == 0).any() or (counts[0] == 0).any():
        raise ValueError("an empty geometry")
    if kind == "MultiLineString":
        return shapely.multilinestrings(shapely.linestrings(xy, indices=owner(points)), indices=owner(parts))
    polygons = shapely.polygons(shapely.linearrings(xy, indices=owner(points)), indices=owner(parts))
    if kind == "Polygon":
        return polygons
    return shapely.multipolygons(polygons, indices=owner(counts[0]))


def _mapper(type_: pa.DataType) -> pd.ArrowDtype | None:
    return pd.ArrowDtype(type_) if pa.types.is_list(type_) or pa.types.is_large_list(type_) else None


def _buffer_of(strings: pa.Array) -> pa.Buffer:
    """The bytes of a string array's values, end to end (no copy)."""
    wide = strings.type == pa.large_string()
    offsets = np.frombuffer(strings.buffers()[1], dtype=np.int64 if wide else np.int32)[
        strings.offset: strings.offset + len(strings) + 1]
    return strings.buffers()[2][int(offsets[0]): int(offsets[-1])]


def read_csv_report(path: Path) -> gpd.GeoDataFrame:
    """A CSV report: text columns as text (an id ``0012`` stays ``0012``), numbers as numbers, no geometry."""
    from pyarrow import csv

    from ..report import FLOAT_COLUMNS, INT_COLUMNS, RATIO_COLUMNS

    try:
        head = csv.open_csv(path).schema.names
        table = csv.read_csv(path, convert_options=csv.ConvertOptions(
            column_types={c: pa.string() for c in head if c not in (*FLOAT_COLUMNS, *INT_COLUMNS, *RATIO_COLUMNS,
                                                                     "cap")},
            strings_can_be_null=True, null_values=[""]))
    except (OSError, ValueError) as exc:  # Arrow's parse errors are ValueErrors
        raise InputError(path, f"cannot read the report ({exc})", _FIX) from exc
    frame = table.to_pandas()
    for col in ("findings", "risk_stops"):
        if col in frame.columns:
            frame[col] = frame[col].astype("str")
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([None] * len(frame), crs="EPSG:4326"))


#: Fields of a GeoPackage report that are not report columns: derived from ``findings`` for QGIS users
#: (:func:`transportmon.io.gpkg.layer_frame`), dropped when the report is read back.
GPKG_DERIVED = ("rule_ids", "message_zh", "message_en")


def read_gpkg_report(path: Path) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """A GeoPackage report (:mod:`transportmon.io.gpkg`) and its metadata: its layers of subjects (every layer but
    the ``layer_styles`` table) as one frame in report order, ``findings`` and ``risk_stops`` still JSON text
    (:func:`conform_report` parses them); the metadata from the first layer's (``{}`` for a GeoPackage written
    before it was kept there). A line string the writer made a one-part multi line string for QGIS stays so."""
    import pyogrio

    from .gpkg import METADATA_KEY

    try:
        names = [str(n) for n, _ in pyogrio.list_layers(path) if str(n) != "layer_styles"]
        frames = [pyogrio.read_dataframe(path, layer=name, fid_as_index=True) for name in names]
        raw = pyogrio.read_info(path, layer=names[0]).get("layer_metadata") or {} if names else {}
        metadata = json.loads(raw[METADATA_KEY]) if METADATA_KEY in raw else {}
    except (OSError, ValueError, pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise InputError(path, f"cannot read the report ({exc})", _FIX) from exc
    frames = [f if isinstance(f, gpd.GeoDataFrame) else gpd.GeoDataFrame(f, geometry=gpd.GeoSeries(
        [None] * len(f), crs="EPSG:4326")) for f in frames if len(f)]
    if not frames:
        return gpd.GeoDataFrame({"subject": pd.Series([], dtype="str"), "subject_id": pd.Series([], dtype="str"),
                                 "verdict": pd.Series([], dtype="str")},
                                geometry=gpd.GeoSeries([], crs="EPSG:4326")), metadata
    frame = pd.concat([f.to_crs("EPSG:4326") if f.crs is not None else f.set_crs("EPSG:4326") for f in frames])
    frame = frame.drop(columns=[c for c in GPKG_DERIVED if c in frame.columns])
    # The layers split the report by kind; each feature's id is its row in the report. (In a file whose ids count
    # each layer from 1, the rows are sorted as the report sorts them, rejected rows of a repeated id last.)
    if frame.index.is_unique:
        frame = frame.sort_index().reset_index(drop=True)
    elif {"subject", "subject_id"} <= set(frame.columns):
        keys = ["subject", "subject_id", *(["source_row"] if "source_row" in frame.columns else [])]
        frame = frame.sort_values(keys, kind="stable", na_position="first", ignore_index=True)
    else:
        frame = frame.reset_index(drop=True)
    from ..report import COLUMNS  # a layer holds only the columns with values in it: all of them, in report order

    geometry = frame.geometry.name
    frame = pd.DataFrame({**{c: frame[c] if c in frame.columns else None for c in COLUMNS},
                          **{c: frame[c] for c in frame.columns if c not in COLUMNS}})
    return gpd.GeoDataFrame(frame, geometry=geometry, crs="EPSG:4326"), metadata


def conform_report(frame: gpd.GeoDataFrame, path: Path) -> gpd.GeoDataFrame:
    """Every report column present, in the report frame's types (see the module docstring)."""
    from ..report import COLUMNS, FLOAT_COLUMNS, INT_COLUMNS, RATIO_COLUMNS, TEXT_COLUMNS, with_finding_ids

    for col in COLUMNS:
        if col not in frame.columns:
            frame[col] = None
    for col in TEXT_COLUMNS:  # GeoJSON has no column types: ids stay text, counts integers, in every form
        if frame[col].dtype != "str":
            frame[col] = frame[col].astype("str")
    for col in INT_COLUMNS:
        if not isinstance(frame[col].dtype, pd.Int64Dtype):
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("Int64")
    for col in (*FLOAT_COLUMNS, *RATIO_COLUMNS, "cap"):
        if frame[col].dtype != np.float64:
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(np.float64)
    col = "findings"
    try:
        for col in ("findings", "risk_stops"):  # JSON text in CSV and older GeoParquet, Python lists in GeoJSON
            frame[col] = _list_column(frame[col], col)
        col = "findings"
        frame[col] = pd.Series(with_finding_ids(frame[col], frame["subject"], frame["subject_id"]),
                               index=frame.index)
    except (ValueError, TypeError, KeyError) as exc:  # Arrow's errors are ValueErrors and TypeErrors
        raise InputError(path, f"has a malformed {col!r} column ({exc})", _FIX) from exc
    geometry = frame.geometry.name
    return frame[[c for c in frame.columns if c != geometry] + [geometry]]  # the geometry last, in every form


def _list_column(values: pd.Series, name: str) -> pd.Series:
    """``findings`` or ``risk_stops`` as an Arrow list column, from Arrow lists, Python lists or JSON text."""
    empty = FINDINGS_TYPE if name == "findings" else STOPS_TYPE
    if isinstance(values.dtype, pd.ArrowDtype) and pa.types.is_list(values.dtype.pyarrow_dtype):
        return values
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty") and values.notna().any():
        arr = _parse_json_lists(values)
    else:
        arr = pa.array([list(v) if isinstance(v, (list, tuple)) else None for v in values])
    if pa.types.is_null(arr.type) or (pa.types.is_list(arr.type) and pa.types.is_null(arr.type.value_type)):
        arr = arr.cast(empty)  # nothing but nulls and empty lists: the type cannot be inferred
    return pd.Series(pd.arrays.ArrowExtensionArray(arr), index=values.index)


def _parse_json_lists(values: pd.Series) -> pa.Array:
    """JSON text (``[...]`` or null per row) parsed column-wise: one NDJSON line ``{"v": <text>}`` per row, read by
    Arrow's JSON reader (no Python object per row)."""
    big = pa.large_string()
    text = pc.fill_null(arrow(values.astype("str")).cast(big), "null")
    lines = pc.binary_join_element_wise(pa.scalar('{"v": ', big), text, pa.scalar("}\n", big), pa.scalar("", big))
    table = pajson.read_json(pa.BufferReader(_buffer_of(lines)), read_options=pajson.ReadOptions(block_size=_BLOCK))
    if table.num_rows != len(values):
        raise ValueError(f"{table.num_rows} JSON values for {len(values)} rows")
    return _dates_as_text(table.column("v").combine_chunks())


def _dates_as_text(arr: pa.Array) -> pa.Array:
    """``arr`` with the timestamps Arrow's JSON reader made of date text back as text, at any depth: the report
    writes dates as text (``2020-03-31``; with the time where one is not midnight)."""
    type_ = arr.type
    if pa.types.is_timestamp(type_):
        ticks = pc.fill_null(pc.cast(arr, pa.int64()), 0).to_numpy(zero_copy_only=False)
        day = 86_400 * 10 ** {"s": 0, "ms": 3, "us": 6, "ns": 9}[type_.unit]
        return pc.strftime(arr, "%Y-%m-%d" if not (ticks % day).any() else "%Y-%m-%dT%H:%M:%S")
    if pa.types.is_struct(type_):
        fields = [_dates_as_text(arr.field(i)) for i in range(type_.num_fields)]
        if all(f.type == type_.field(i).type for i, f in enumerate(fields)):
            return arr
        return pa.StructArray.from_arrays(fields, names=[f.name for f in type_], mask=arr.is_null())
    if pa.types.is_list(type_) or pa.types.is_large_list(type_):
        values = _dates_as_text(arr.values)
        if values.type == type_.value_type:
            return arr
        return type(arr).from_arrays(arr.offsets, values, mask=arr.is_null())
    return arr


def arrow_lists(type_: Any) -> pd.ArrowDtype | None:
    """``types_mapper`` for reading a GeoParquet report: Arrow list columns as ``pd.ArrowDtype``, others as usual."""
    import pyarrow as pa

    return pd.ArrowDtype(type_) if pa.types.is_list(type_) or pa.types.is_large_list(type_) else None
