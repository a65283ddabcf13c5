"""A report that is never in memory whole → the report file, a piece at a time, in report order.

With a spill folder, the Dask engine's workers write the audited trips' report rows to sorted Parquet parts
(:mod:`transportmon.spill`) and the report frame in memory holds the other subjects (checkpoints, routes, rejected
rows). :func:`merged_tables` merges them: each part is read :data:`MERGE_ROWS` rows at a time (shared between the
parts); the rows of every source up to the smallest of their last keys — (``subject``, ``subject_id``, input row),
the report's order — are taken, sorted together and handed on, so at most that many rows are held at once whatever
the size of the report. The pieces are Arrow tables in the GeoParquet layout of
:func:`transportmon.io.write.report_table` (geometry as WKB).

:func:`write_spilled` writes them as :func:`transportmon.io.write.write_report` writes a report frame, to the same
bytes for GeoJSON and CSV and to the same rows, columns and metadata for GeoParquet (whose row groups are
:data:`STREAM_GROUP_ROWS` rows; the geometry types and bounding box of its ``geo`` metadata are added up from the
pieces' before the first row is written). The desk formats, xlsx and GeoPackage, are built in memory: up to
:data:`DESK_ROWS` subjects the pieces are gathered and written as usual; a larger report is refused with the forms
that are streamed named instead.
"""

from __future__ import annotations

import glob
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from .._errors import InputError
from ..report import SEVERITY_RANK, filter_only
from ..spill import ROW, SpilledTrips
from .geoparquet import report_table, writer_options
from .wkb import add_stats, geometry_stats
from .write import (
    STALE_TMP_SECONDS,
    atomic_file,
    check_target,
    csv_frame,
    geojson_stream,
    output_format,
    write_report,
)
from .xlsx import MAX_ROWS

__all__ = ["DESK_ROWS", "MERGE_ROWS", "STREAM_GROUP_ROWS", "frame_of", "kept_rows", "merged_tables", "spill_folder",
           "write_spilled"]

#: Rows of the parts the merge holds at once (each part's share of it is kept buffered). A report row is ~650 bytes
#: in Arrow (most of it the findings' two messages), so this is ~85 MB, and the merged piece as much again.
MERGE_ROWS = 1 << 17
#: Rows per row group of a streamed GeoParquet report.
STREAM_GROUP_ROWS = 1 << 17
#: The largest report gathered into this process for the desk formats (one xlsx sheet of trips).
DESK_ROWS = MAX_ROWS

Key = tuple[bool, str, bool, str, bool, int]


def _key(table: pa.Table, i: int) -> Key:
    """Row ``i``'s place in the report order (nulls last): (subject, subject_id, input row)."""
    s, sid, row = (table.column(c)[i].as_py() for c in ("subject", "subject_id", ROW))
    return s is None, s or "", sid is None, sid or "", row is None, row or 0


class _Source:
    """A sorted source of report rows, a buffer of them at a time."""

    def __init__(self, tables: Iterator[pa.Table | pa.RecordBatch], rows: int = 1) -> None:
        self._tables: Iterator[pa.Table | pa.RecordBatch] | None = tables
        self._rows = rows
        self.buf: pa.Table | None = None

    def fill(self) -> bool:
        """Top the buffer up to its size from the source (a source whose buffer ran low would hold every merge round
        back to its few rows); False when the source is done."""
        while self._tables is not None and (self.buf is None or self.buf.num_rows < self._rows):
            piece = next(self._tables, None)
            if piece is None:
                self._tables = None
                break
            piece = piece if isinstance(piece, pa.Table) else pa.Table.from_batches([piece])
            self.buf = piece if self.buf is None or not self.buf.num_rows else pa.concat_tables([self.buf, piece])
        if self.buf is not None and self.buf.num_rows:
            self.buf = self.buf.combine_chunks()  # one chunk: a row's key is read directly, not searched for
            return True
        self.buf = None
        return False

    def last(self) -> Key:
        assert self.buf is not None
        return _key(self.buf, self.buf.num_rows - 1)

    def take(self, bound: Key) -> pa.Table:
        """The buffered rows up to ``bound`` (a binary search: the buffer is sorted), removed from the buffer."""
        assert self.buf is not None
        lo, hi = 0, self.buf.num_rows
        while lo < hi:
            mid = (lo + hi) // 2
            if _key(self.buf, mid) <= bound:
                lo = mid + 1
            else:
                hi = mid
        out, self.buf = self.buf.slice(0, lo), self.buf.slice(lo)
        return out


def _client_table(report: gpd.GeoDataFrame, spilled: SpilledTrips) -> pa.Table:
    rows = spilled.client_rows if spilled.client_rows is not None else np.full(len(report), np.nan)
    return report_table(report, {}).append_column(ROW, pa.array(rows, from_pandas=True).cast(pa.int64()))


def merged_tables(report: gpd.GeoDataFrame, spilled: SpilledTrips, only: str | None = None) -> Iterator[pa.Table]:
    """The report's rows in report order, as pieces (see the module docstring); with ``only``, the subjects with a
    finding at least that severe (as :func:`transportmon.report.filter_only` keeps them)."""
    import pyarrow.parquet as pq

    parts = [p for p in spilled.parts if p.rows]
    per = max(1024, MERGE_ROWS // max(len(parts), 1))
    sources = [_Source(iter([_client_table(report, spilled)]))]
    sources += [_Source(pq.ParquetFile(p.path).iter_batches(batch_size=per), per) for p in parts]
    keep = None if not only else pa.array([s for s, r in SEVERITY_RANK.items() if r >= SEVERITY_RANK[only]])
    while True:
        live = [s for s in sources if s.fill()]
        if not live:
            return
        bound = min(s.last() for s in live)
        taken = [t for t in (s.take(bound) for s in live) if t.num_rows]
        table = pa.concat_tables(taken) if len(taken) > 1 else taken[0]
        if len(taken) > 1:  # a stable sort: rows with equal keys keep their source's order
            table = table.take(pc.sort_indices(table, sort_keys=[(c, "ascending", "at_end")
                                                                 for c in ("subject", "subject_id", ROW)]))
        table = table.drop_columns([ROW])
        if keep is not None:
            table = table.filter(pc.is_in(table["max_severity"], value_set=keep))
        if table.num_rows:
            yield table


def frame_of(table: pa.Table) -> gpd.GeoDataFrame:
    """A piece of :func:`merged_tables` as the report frame holds it (the report's column types, shapely geometry)."""
    from .report_forms import arrow_lists

    geoms = shapely.from_wkb(table.column("geometry").to_numpy(zero_copy_only=False))
    frame = table.drop_columns(["geometry"]).to_pandas(types_mapper=arrow_lists)
    return gpd.GeoDataFrame(frame, geometry=geoms, crs="EPSG:4326")


def kept_rows(report: gpd.GeoDataFrame, spilled: SpilledTrips, only: str | None) -> int:
    """Rows of the report written with ``--only only``."""
    theirs = spilled.findings()
    parts = spilled.rows if not only else sum(n for s, n in theirs.items()
                                               if SEVERITY_RANK.get(s, 0) >= SEVERITY_RANK[only])
    return len(filter_only(report, only)) + parts


def write_spilled(report: gpd.GeoDataFrame, metadata: dict[str, Any], spilled: SpilledTrips, out: str,
                  inputs: Iterable[str | os.PathLike[str]] = (), *, lang: str = "zh", only: str | None = None) -> str:
    """Write the report whose audited trips are in ``spilled`` to ``out`` (``-``: GeoJSON on stdout), atomically, as
    :func:`~transportmon.io.write.write_report` writes a whole report frame; returns the format written.

    ``only`` keeps the subjects with a finding at least that severe (``metadata`` should say so).
    """
    fmt = output_format(out)
    if out == "-":
        for text in geojson_stream((frame_of(t) for t in merged_tables(report, spilled, only)), metadata):
            sys.stdout.write(text)
        sys.stdout.flush()
        return fmt
    target = check_target(out, inputs)
    if fmt in ("xlsx", "gpkg"):
        n = kept_rows(report, spilled, only)
        if n > DESK_ROWS:
            raise InputError(out, f"a report of {n:,} subjects is too large to write as {target.suffix} from the Dask "
                             f"engine (at most {DESK_ROWS:,} are gathered into one process)",
                             "write .parquet (GeoParquet, the form for millions of trips), .geojson or .csv: they "
                             "are written a piece at a time")
        tables = list(merged_tables(report, spilled, only))
        whole = frame_of(pa.concat_tables(tables)) if tables else filter_only(report, only)
        return write_report(whole, metadata, out, inputs, lang=lang)
    with atomic_file(target) as (fd, tmp):
        if fmt == "geojson":
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
                for text in geojson_stream((frame_of(t) for t in merged_tables(report, spilled, only)), metadata):
                    fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
        elif fmt == "parquet":
            os.close(fd)
            _write_parquet(report, metadata, spilled, only, tmp)
        else:
            with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as fh:
                header = True
                for table in merged_tables(report, spilled, only):
                    csv_frame(frame_of(table)).to_csv(fh, index=False, header=header)
                    header = False
                if header:  # no subject at all: the header alone, as a whole empty report writes it
                    csv_frame(filter_only(report, only)).to_csv(fh, index=False)
    return fmt


def _write_parquet(report: gpd.GeoDataFrame, metadata: dict[str, Any], spilled: SpilledTrips, only: str | None,
                   path: str) -> None:
    """GeoParquet as :func:`transportmon.io.write.report_table` lays it out, row group by row group."""
    import pyarrow.parquet as pq

    mine = filter_only(report, only)
    stats = add_stats([geometry_stats(mine.geometry.to_numpy()), spilled.geometry(only)])
    schema = report_table(mine, metadata, stats=stats).schema
    with pq.ParquetWriter(path, schema, **writer_options(schema, mine.geometry.name)) as writer:
        pending: list[pa.Table] = []
        held = 0
        for table in merged_tables(report, spilled, only):
            pending.append(table)
            held += table.num_rows
            while held >= STREAM_GROUP_ROWS:
                whole = pa.concat_tables(pending)
                writer.write_table(whole.slice(0, STREAM_GROUP_ROWS).replace_schema_metadata(schema.metadata),
                                   row_group_size=STREAM_GROUP_ROWS)
                pending, held = [whole.slice(STREAM_GROUP_ROWS)], held - STREAM_GROUP_ROWS
                del whole
                pool = pa.default_memory_pool()
                if pool.backend_name != "system":  # jemalloc and mimalloc keep freed pieces in caches of their own
                    pool.release_unused()  # (the C library's, as the command line tunes it, reuses them as it is)
        if held:
            writer.write_table(pa.concat_tables(pending).replace_schema_metadata(schema.metadata),
                               row_group_size=STREAM_GROUP_ROWS)


@contextmanager
def spill_folder(out: str) -> Iterator[Path]:
    """A new folder for the Dask workers' parts beside the report ``out`` (in the working folder for ``-``), removed
    with everything in it on exit. Folders left by runs killed more than an hour ago are removed first."""
    target = Path(out if out != "-" else "report-stdout").resolve()
    prefix = f".{target.name}."
    now = time.time()
    for old in target.parent.glob(f"{glob.escape(prefix)}*.parts"):
        try:
            if old.is_dir() and now - old.stat().st_mtime > STALE_TMP_SECONDS:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:  # another run removed it
            pass
    folder = Path(tempfile.mkdtemp(prefix=prefix, suffix=".parts", dir=target.parent))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
