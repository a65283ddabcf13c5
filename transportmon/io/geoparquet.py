"""The report as a GeoParquet file: its Arrow table (:func:`report_table`), schema and writer options, and
:class:`ReportSink`, which writes the file a row group at a time as the report's pieces come.

The report's columns are kept as they are: ``findings`` is a native Parquet ``list<struct<…>>`` and ``risk_stops`` a
``list<string>`` (null where a subject has none), which GeoPandas and DuckDB read as nested values. The Arrow table is
taken from the frame's Arrow-backed columns without copying them, the geometry is ISO WKB (:mod:`.wkb`; GeoParquet
``geo`` metadata, WGS-84), and the report metadata goes in the file's key-value metadata under ``transportmon``.

Parquet stores the key-value metadata in the footer, written when the file closes; only pyarrow's own copy of the
schema (``ARROW:schema``, which readers take the schema metadata from) is fixed when the file is opened. The sink opens
the file without it and adds it, with the final ``geo`` and ``transportmon`` metadata, at the close: so the rows can
be written before the report's counts and bounding box are known (while later trips are still being judged), and
the file is the one a single write of the whole table makes.
"""

from __future__ import annotations

import base64
import json
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

import geopandas as gpd
import pandas as pd
import pyarrow as pa

from .encode import clean_json
from .wkb import GeometryStats, WkbColumn, add_stats, geo_types_bbox, wkb_array

__all__ = ["DICTIONARY_PAGE_BYTES", "GEOPARQUET_VERSION", "PARQUET_COMPRESSION", "PLAIN_LEAVES", "ROW_GROUP_ROWS",
           "ReportSink", "STATS_TEXT", "attribute_table", "parquet_leaves", "report_schema", "report_table",
           "stats_columns", "write_parquet", "writer_options"]

#: Rows per GeoParquet row group. Measured on the 1e7 benchmark report (3.3 million trips written while they are
#: judged, :mod:`transportmon.streamed`): 2^19 rows make the file 2 % larger than 2^20 (each row group has its own
#: dictionaries) but ~0.3 s faster and 0.4 GB smaller at peak (the second thread starts encoding sooner, and less
#: waits at the end); 2^18 costs more CPU than it saves.
ROW_GROUP_ROWS = 1 << 19

#: Parquet compression. Measured on the 1e7 benchmark report (2.5 million trips, 2 shared cores, so noisy; CPU seconds
#: of ``pq.write_table`` and file size): snappy ~2.7 s / 282 MB, lz4 ~3.3 s / 277 MB, zstd (level 1) ~4.1 s / 212 MB,
#: none ~3.7 s / 745 MB (writing the larger file costs more than compressing). zstd would make the file 25 % smaller
#: for ~1.4 s more; snappy, Parquet's usual default, is the faster choice.
PARQUET_COMPRESSION = "snappy"

#: Largest dictionary of a column in a row group before Parquet falls back to plain values (pyarrow's default is 1 MiB).
#: Trips between the same stops share their line geometry: at 1e7 stop_times a row group's distinct WKB lines need
#: ~2 MiB, and with a dictionary the geometry is 9 MB instead of 150 MB and half the time to encode. A column of unique
#: values costs more hashing before it falls back (+0.12 s for 3.3 million unique points at 8 MiB).
DICTIONARY_PAGE_BYTES = 8 << 20

#: Leaf columns whose values all differ (ids, messages naming the trip): no dictionary, which would only be hashed and
#: dropped; Parquet paths, as ``use_dictionary`` names them.
PLAIN_LEAVES = frozenset({"subject_id", "findings.list.element.finding_id", "findings.list.element.message_zh",
                          "findings.list.element.message_en"})

#: GeoParquet version of the ``geo`` metadata written (the one GeoPandas 1.x writes).
GEOPARQUET_VERSION = "1.1.0"

def report_table(report: gpd.GeoDataFrame, metadata: dict[str, Any], *, stats: GeometryStats | None = None,
                 ) -> pa.Table:
    """The report as the Arrow table its GeoParquet file holds.

    Columns keep their order and types: Arrow-backed text and list columns are passed on without a copy
    (``findings`` list<struct>, ``risk_stops`` list<string>), ``Int64`` and float columns become Arrow integers and
    floats (missing values null), and the geometry is ISO WKB (:func:`wkb_array`) tagged ``geoarrow.wkb`` with its CRS.
    The schema metadata holds ``pandas`` (so the columns read back with their pandas types), the GeoParquet ``geo``
    metadata and the report metadata (``transportmon``). ``stats`` names the geometry types and bounding box of the
    whole report when ``report`` is one piece of it (default: those of ``report``).

    :func:`write_report` writes the file a row group at a time, never holding this whole table (nor the whole WKB
    column); the table is the plain form of what the file holds.
    """
    table = attribute_table(report)
    geometry, types, bbox = wkb_array(report.geometry.to_numpy())
    if stats is not None:
        types, bbox = geo_types_bbox(*stats)
    schema = report_schema(report, table.schema, metadata, types, bbox)
    table = table.set_column(table.schema.get_field_index(report.geometry.name), schema.field(report.geometry.name),
                             geometry)
    return table.replace_schema_metadata(schema.metadata)


def attribute_table(report: gpd.GeoDataFrame) -> pa.Table:
    """The report's columns as Arrow, taken from the frame without copying them; the geometry is a null column
    (keeping its place and its pandas metadata) for the WKB to replace."""
    attrs = pd.DataFrame(report.copy(deep=False))
    attrs[report.geometry.name] = None
    return pa.Table.from_pandas(attrs, preserve_index=False)


def report_schema(report: gpd.GeoDataFrame, schema: pa.Schema, metadata: dict[str, Any], types: list[str],
                  bbox: list[float] | None) -> pa.Schema:
    """The GeoParquet schema: ``schema`` of :func:`attribute_table` with the geometry as tagged WKB and the ``pandas``,
    ``geo`` and ``transportmon`` metadata (``types`` and ``bbox`` as :func:`~.wkb.geo_types_bbox` gives them)."""
    geom_name = report.geometry.name
    crs = report.crs
    ext_meta = json.dumps({"crs": crs.to_json_dict()}) if crs is not None else "{}"
    field = pa.field(geom_name, pa.binary(), nullable=True,
                     metadata={"ARROW:extension:name": "geoarrow.wkb", "ARROW:extension:metadata": ext_meta})
    schema = schema.set(schema.get_field_index(geom_name), field)
    crs_json = None
    if crs is not None:
        crs_json = crs.to_json_dict()
        _drop_ensemble_member_ids(crs_json)
    column: dict[str, Any] = {"encoding": "WKB", "crs": crs_json, "geometry_types": types}
    if bbox is not None:
        column["bbox"] = bbox
    from .._version import __version__

    geo = {"primary_column": geom_name, "columns": {geom_name: column}, "version": GEOPARQUET_VERSION,
           "creator": {"library": "transportmon", "version": __version__}}
    meta = dict(schema.metadata or {})
    if b"pandas" in meta:  # pandas cannot parse the name of a nested ArrowDtype back: record lists as objects
        pandas_meta = json.loads(meta[b"pandas"])
        for entry in pandas_meta.get("columns", []):
            dtype = report.dtypes.get(entry.get("name"))
            if isinstance(dtype, pd.ArrowDtype) and pa.types.is_nested(dtype.pyarrow_dtype):
                entry["numpy_type"] = "object"
        meta[b"pandas"] = json.dumps(pandas_meta).encode("utf-8")
    meta[b"geo"] = json.dumps(geo).encode("utf-8")
    meta[b"transportmon"] = json.dumps(clean_json(metadata), ensure_ascii=False).encode("utf-8")
    return schema.with_metadata(meta)


def _drop_ensemble_member_ids(crs_json: dict[str, Any]) -> None:
    """Remove the ids of datum ensemble members from PROJJSON, as GDAL and GeoPandas do: older PROJ versions do not
    know them (https://github.com/opengeospatial/geoparquet/discussions/110)."""
    for key, value in crs_json.items():
        if isinstance(value, dict):
            _drop_ensemble_member_ids(value)
        elif key == "members" and isinstance(value, list):
            for member in value:
                if isinstance(member, dict):
                    member.pop("id", None)


def writer_options(schema: pa.Schema, geometry: str) -> dict[str, Any]:
    """``pyarrow.parquet.ParquetWriter`` options of a report file (both engines write with them): compression
    :data:`PARQUET_COMPRESSION`; min/max statistics where a reader can skip row groups by them (:func:`stats_columns`);
    no dictionary where values all differ (:data:`PLAIN_LEAVES`), dictionaries up to :data:`DICTIONARY_PAGE_BYTES`
    elsewhere."""
    return {"compression": PARQUET_COMPRESSION,
            "write_statistics": stats_columns(schema, geometry),
            "use_dictionary": [leaf for f in schema for leaf in parquet_leaves(f) if leaf not in PLAIN_LEAVES],
            "dictionary_pagesize_limit": DICTIONARY_PAGE_BYTES}


#: Text columns whose min/max statistics a reader can skip row groups by: the report is sorted by them.
STATS_TEXT = ("subject", "subject_id")


def stats_columns(schema: pa.Schema, geometry: str) -> list[str]:
    """The columns given min/max statistics: the sort keys (:data:`STATS_TEXT`: ``WHERE subject_id = …`` reads one
    row group) and the numbers (cheap). Other text (verdicts, dates, routes) varies within every row group of rows
    sorted by id, so its statistics would prune nothing, and comparing each value costs the writer ~10% of its time;
    nested lists and the WKB serve no filter either."""
    return [f.name for f in schema if f.name != geometry and not pa.types.is_nested(f.type) and (
        f.name in STATS_TEXT or not (pa.types.is_string(f.type) or pa.types.is_large_string(f.type)))]


def parquet_leaves(field: pa.Field) -> list[str]:
    """The Parquet paths of a field's leaf columns, as pyarrow names them (``findings.list.element.rule_id``)."""
    if pa.types.is_list(field.type) or pa.types.is_large_list(field.type):
        return [f"{field.name}.list.{leaf}" for leaf in parquet_leaves(field.type.value_field.with_name("element"))]
    if pa.types.is_struct(field.type):
        return [f"{field.name}.{leaf}" for child in field.type for leaf in parquet_leaves(child)]
    return [field.name]




def write_parquet(report: gpd.GeoDataFrame, metadata: dict[str, Any], path: str) -> None:
    """GeoParquet: the table of :func:`report_table`, written by a :class:`ReportSink` given the whole report."""
    with ReportSink(path, report) as sink:
        sink.add(report)
        sink.close(metadata)


class ReportSink:
    """A GeoParquet report written as its pieces come (:meth:`add`, in report order), in row groups of
    :data:`ROW_GROUP_ROWS`, compressed with :data:`PARQUET_COMPRESSION`; :meth:`close` adds the metadata. Min/max
    statistics are kept where a reader can skip row groups by them (:func:`stats_columns`). Dictionaries are left out where values all differ (:data:`PLAIN_LEAVES`) and may grow to
    :data:`DICTIONARY_PAGE_BYTES` elsewhere.

    The WKB exists a row group or two at a time, never the whole column (:class:`~.wkb.WkbColumn`: made once per
    line object that trips share). A second thread makes it, encodes each row group (pyarrow releases the GIL) and
    sums the geometry types and bounds — numpy, Arrow and GEOS only, no pandas — while this one goes on (judging the
    next trips); at most :data:`QUEUED_GROUPS` row groups wait for it. A block left by an exception (or without
    :meth:`close`) waits for the work queued and leaves an unfinished file for the caller's atomic write to remove.

    ``template``: a frame with the report's columns and types (the pieces must all have them; its rows are not
    written).
    """

    def __init__(self, path: str, template: gpd.GeoDataFrame) -> None:
        import pyarrow.parquet as pq

        self._template = template.iloc[:0]
        attrs = attribute_table(self._template)
        self._columns = attrs.schema.remove_metadata()  # what every piece's columns must be
        self._geom_at = attrs.schema.get_field_index(template.geometry.name)
        self._schema = report_schema(self._template, attrs.schema, {}, [], None)
        self._field = self._schema.field(self._geom_at)
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="transportmon-parquet")
        self._writer = pq.ParquetWriter(path, self._schema, store_schema=False,
                                        **writer_options(self._schema, self._field.name))
        self._pending: list[tuple[pa.Table, Future[WkbColumn], int]] = []  # pieces of the next row group: table,
        self._rows = 0  # rows pending                                           # WKB (being made), first row pending
        self._writing: list[Future[None]] = []  # row groups queued or being encoded
        self._failed = False  # a row group failed: those queued after it are not written
        self._stats: list[Future[GeometryStats]] = []
        self._groups = 0
        self.closed = False
        """Whether :meth:`close` wrote the metadata."""

    def __enter__(self) -> ReportSink:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            wait(self._writing)  # never close the file under a row group being written
            self._writer.close()
        finally:
            self._worker.shutdown(wait=True)

    def add(self, piece: gpd.GeoDataFrame) -> None:
        """Append the rows of ``piece`` (the report's columns and types); full row groups go to be encoded."""
        if not len(piece):
            return
        attrs = attribute_table(piece).replace_schema_metadata(None)
        if not attrs.schema.equals(self._columns):
            raise ValueError(f"a report piece has other columns or types than the report: {attrs.schema}")
        column = self._worker.submit(WkbColumn.of, piece.geometry.to_numpy())
        self._stats.append(self._worker.submit(lambda: column.result().stats()))  # after it, on the same thread
        self._pending.append((attrs, column, 0))
        self._rows += len(attrs)
        while self._rows >= ROW_GROUP_ROWS:
            self._flush(ROW_GROUP_ROWS)

    def flush(self) -> None:
        """Send the rows pending to be encoded as a row group of their own (no more rows are to come)."""
        if self._rows or not self._groups:  # an empty report is one empty row group, as pyarrow writes it
            self._flush(self._rows)

    def close(self, metadata: dict[str, Any]) -> None:
        """Write the last rows and the file's metadata: ``pandas``, GeoParquet ``geo`` (types and bbox of every row
        written) and ``transportmon`` (``metadata``), and pyarrow's copy of the schema with them."""
        self.flush()
        for writing in self._writing:
            writing.result()
        stats = add_stats(f.result() for f in self._stats)
        attrs = attribute_table(self._template)
        final = report_schema(self._template, attrs.schema, metadata, *geo_types_bbox(*stats))
        meta = dict(final.metadata)
        meta[b"ARROW:schema"] = base64.b64encode(final.serialize().to_pybytes())
        self._writer.add_key_value_metadata(meta)
        self.closed = True

    def _flush(self, rows: int) -> None:
        """Queue the first ``rows`` pending rows as one row group, made and encoded on the second thread."""
        spec, taken = [], 0
        while taken < rows:
            attrs, column, at = self._pending[0]
            k = min(rows - taken, len(attrs) - at)
            spec.append((attrs.slice(at, k), column, at))
            taken += k
            if at + k == len(attrs):
                self._pending.pop(0)
            else:
                self._pending[0] = (attrs, column, at + k)
        self._rows -= taken
        while len(self._writing) >= QUEUED_GROUPS:  # their tables hold the memory of their rows
            self._writing.pop(0).result()
        self._writing.append(self._worker.submit(self._encode, spec))
        self._groups += 1

    def _encode(self, spec: list[tuple[pa.Table, Future[WkbColumn], int]]) -> None:
        """Write one row group: the rows of each ``(attributes, WKB column, first row)`` with their WKB."""
        if self._failed:
            return
        try:
            self._write_group(spec)
        except BaseException:
            self._failed = True
            raise

    def _write_group(self, spec: list[tuple[pa.Table, Future[WkbColumn], int]]) -> None:
        parts = [attrs.set_column(self._geom_at, self._field, column.result().rows(slice(at, at + len(attrs))))
                 for attrs, column, at in spec]
        if not parts:  # an empty report
            empty = self._columns.empty_table()
            parts = [empty.set_column(self._geom_at, self._field, pa.chunked_array([], pa.binary()))]
        group = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
        self._writer.write_table(group, row_group_size=ROW_GROUP_ROWS)


#: Row groups waiting for the second thread at most (memory: each holds its rows' columns).
QUEUED_GROUPS = 2
