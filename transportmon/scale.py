"""The trip audit on Dask: ``trips`` and ``stop_times`` in partitions aligned by ``trip_id``, the rest broadcast.

``transportmon audit --engine dask`` (or ``audit(..., engine="dask")``) reads the two large layers in chunks of about
:data:`PARTITION_ROWS` rows (Parquet row groups, read by the workers; other formats are read once here and split),
numbers their rows, and regroups both by a hash of the trip id so that partition *i* of ``trips`` and partition *i*
of ``stop_times`` hold the same trips. Each pair of partitions is validated and audited by the in-memory functions
(:func:`transportmon.layers.validate_trips`, the reference checks of :func:`transportmon.layers.check_trip_references`,
:func:`transportmon.trip_audit.audit_trips`) against the stops, their admin units and the designations, which are
resolved once on the client and broadcast to the workers.

Two ways, the same report:

- **gathered** (the Python API's default): Dask's shuffle regroups the chunks, and the client gathers the trip
  subjects and their findings and assembles the report as the memory engine does;
- **out of core**, given a ``spill`` folder (``transportmon audit --engine dask`` makes one beside ``--out``): each
  chunk is split by partition into files of the folder (:func:`_bucket`), each partition is read back from them by
  the worker that audits it, and the worker writes its report rows to a sorted part there
  (:mod:`transportmon.spill`); the client gathers only counts and the few rows the summary lists, and
  :mod:`transportmon.io.stream` merges the parts into the report file. No process ever holds more than a chunk or a
  partition of the input, or a piece of the report.

A GTFS feed is read and joined in memory first (its audited trips only exist once the occupancy table meets
``trips.txt`` and ``stop_times.txt``), then partitioned and audited the same way.

The scheduler is a ``LocalCluster`` (one single-threaded worker process per core) unless ``scheduler`` names a
running one (``tcp://host:8786``; ``inproc://`` addresses of an in-process cluster work too). Workers of a running
scheduler are other processes, maybe on other machines: before any work, every worker is asked
(:func:`check_workers`) for its transportmon version, whether it can read the Parquet inputs it will read (at the same
absolute paths) and whether it can write into the spill folder where this process will find what it wrote; a worker
that cannot is an error naming it, the path and the fix.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from . import layers as L
from ._errors import ConfigError, InputError
from .config import RuleConfig
from .io import read as R
from .io.declared import apply_columns
from .routes import RouteCounts, merge_counts
from .source_rows import SOURCE_ROW
from .spill import SpilledTrips

if TYPE_CHECKING:
    from distributed import Client

    from .inputs import Inputs

#: stop_times rows per partition (≈ 200 MB of frames each); at least one partition per worker.
PARTITION_ROWS = 2_000_000


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, **cluster: Any) -> Iterator[Client]:
    """A ``distributed.Client``: to ``scheduler`` when given, else to a new ``LocalCluster`` closed on exit.

    ``cluster`` overrides the LocalCluster's arguments (default: a worker process per core, one thread each, the
    dashboard on a free port).
    """
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler, set_as_default=False) as client:
            yield client
        return
    options: dict[str, Any] = {"n_workers": os.cpu_count() or 1, "threads_per_worker": 1, "processes": True,
                               "dashboard_address": ":0", **cluster}
    with LocalCluster(**options) as local, Client(local, set_as_default=False) as client:
        yield client


@dataclass(frozen=True)
class _Broadcast:
    """What every partition needs besides its own trips: resolved once on the client."""

    stops: L.Layer
    located: pd.DataFrame
    boundaries: L.Layer
    risk_areas: L.Layer | None
    config: RuleConfig
    paths: tuple[str, str]
    spill: str | None = None
    """The folder the partitions' report rows go to (:mod:`transportmon.spill`), or None to send them back."""
    waivers: L.Layer | None = None
    as_of: pd.Timestamp | None = None


def dask_trips(inputs: Inputs, *, scheduler: str | None = None, partitions: int | None = None,
               spill: Path | None = None, **cluster: Any,
               ) -> tuple[gpd.GeoDataFrame | SpilledTrips, pd.DataFrame, dict[str, str], dict[str, L.Layer],
                          dict[str, dict[str, Any]], RouteCounts]:
    """Audit the deferred ``trips`` and ``stop_times`` of ``inputs`` on Dask.

    Parameters
    ----------
    inputs
        Loaded with ``defer=("trips", "stop_times")``.
    scheduler
        The address of a running scheduler; default a new ``LocalCluster`` (``cluster``: its arguments).
    partitions
        Number of partitions (default: one per :data:`PARTITION_ROWS` stop_times rows, at least one per worker).
    spill
        A folder every worker and this process see: the workers write the trips' report rows there.

    Returns
    -------
    part, findings, skipped
        As :func:`transportmon.trip_audit.audit_trips` returns them for the whole input; with ``spill``, ``part``
        is the :class:`~transportmon.spill.SpilledTrips` written there.
    layers
        ``trips`` and ``stop_times`` as :class:`~transportmon.layers.Layer` s with their rejected rows (the audited
        rows themselves stay on the workers: ``frame`` only has their number of rows).
    meta
        The two layers' entries of the report's ``inputs`` metadata.
    route_counts
        The partitions' route counts, merged (:func:`transportmon.routes.merge_counts`; issue 15 hook).
    """
    import dask
    from dask import delayed

    from .geo.admin import locate

    trips_path, st_path = inputs.deferred["trips"], inputs.deferred["stop_times"]
    stops = inputs.layers["stops"]
    located = locate(stops.frame.geometry, inputs.layers["boundaries"].frame)
    located.index = stops.frame["stop_id"].to_numpy()
    # Partitions never meet the polygons: the stops' admin units are resolved here, once.
    no_polygons = L.Layer(name="boundaries", frame=inputs.layers["boundaries"].frame.iloc[:0],
                          rejected=L.empty_rejected(), rows=0)
    shared = _Broadcast(stops=stops, located=located, boundaries=no_polygons,
                        risk_areas=inputs.layers.get("risk_areas"), config=inputs.config,
                        paths=(str(trips_path), str(st_path)), spill=None if spill is None else str(spill),
                        waivers=inputs.layers.get("waivers"), as_of=inputs.as_of)
    with dask_client(scheduler, **cluster) as client:
        read_there = [Path(os.path.abspath(p)) for name, p in (("trips", trips_path), ("stop_times", st_path))
                      if name not in inputs.frames and p.suffix.lower() in R.PARQUET_EXTENSIONS]
        check_workers(client, read_there, spill)
        workers = max(1, len(client.scheduler_info(n_workers=-1).get("workers", {})))
        st_chunks, st_empty, st_info, st_rows = _read(st_path, inputs, "stop_times", client)
        count = partitions or max(workers, math.ceil(st_rows / PARTITION_ROWS))
        trip_chunks, trips_empty, trips_info, trips_rows = _read(trips_path, inputs, "trips", client)
        shared_f = client.scatter(shared, broadcast=True, hash=False)  # sent to each worker once
        if spill is None:  # Dask's shuffle, in the workers' memory and scratch space
            import dask.dataframe as dd

            trip_parts, st_parts = (
                dd.from_delayed([delayed(_chunk_frame, pure=True)(c) for c in chunks], meta=empty,
                                verify_meta=False).shuffle(on="_key", npartitions=count).to_delayed()
                for chunks, empty in ((trip_chunks, trips_empty), (st_chunks, st_empty)))
            tasks = [delayed(_audit_partition, pure=True)(t, s, shared_f, i)
                     for i, (t, s) in enumerate(zip(trip_parts, st_parts))]
        else:  # through files in the spill folder: each chunk's rows of a partition, written once and read once
            trip_buckets = [delayed(_bucket, pure=True)(c, "trips", count, str(spill), i)
                            for i, c in enumerate(trip_chunks)]
            st_buckets = [delayed(_bucket, pure=True)(c, "stop_times", count, str(spill), i)
                          for i, c in enumerate(st_chunks)]
            tasks = [delayed(_audit_bucket, pure=True)(trip_buckets, st_buckets, trips_empty, st_empty, shared_f, i)
                     for i in range(count)]
        results = dask.compute(*tasks, scheduler=client)

    part: gpd.GeoDataFrame | SpilledTrips
    if spill is not None:
        part = SpilledTrips(folder=spill, parts=[r[0] for r in results])
    else:
        parts = [r[0] for r in results if len(r[0])]
        part = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True) if parts else results[0][0],
                                geometry="geometry", crs="EPSG:4326")
    findings = pd.concat([r[1] for r in results], ignore_index=True)
    skipped = results[0][2] if results else {}
    out_layers: dict[str, L.Layer] = {}
    meta: dict[str, dict[str, Any]] = {}
    for k, (name, path, rows, info) in enumerate((("trips", trips_path, trips_rows, trips_info),
                                                    ("stop_times", st_path, st_rows, st_info))):
        rejected = [r[3 + k] for r in results if len(r[3 + k])]
        audited = sum(r[5 + k] for r in results)
        read_before = name in inputs.frames  # a GTFS feed's layer: its metadata was made when it was read
        layer = L.Layer(name=name, frame=pd.DataFrame(index=pd.RangeIndex(audited)),
                        rejected=pd.concat(rejected, ignore_index=True) if rejected else L.empty_rejected(),
                        rows=rows, path=str(path),
                        sha256=inputs.meta[name]["sha256"] if read_before else R.sha256(path))
        out_layers[name] = layer
        if name == "stop_times":  # the memory engine's validation says so from the whole frame
            columns = L.rename_aliases(pd.DataFrame(columns=list(st_empty.columns))).columns
            layer.defaulted_columns = tuple(c for c in ("pickup", "dropoff") if c not in columns)
        meta[name] = dict(inputs.meta[name]) if read_before else {
            "path": R.display_path(Path(path)) if inputs.use_sample else Path(path).as_posix(),  # i16: as given
            "rows": rows, "sha256": layer.sha256,
            "datum": inputs.datums.get(name, "wgs84"), **info}
    route_counts = merge_counts([r[7] for r in results])
    return part, findings, skipped, out_layers, meta, route_counts


#: What to do when a worker cannot read an input.
_SHARE_INPUT = ("start every worker where this path reaches the same file (a shared folder mounted at the same path "
                "on every machine), or give the input by a path every worker can read")
#: What to do when the workers and this process do not share the folder of the report.
_SHARE_OUT = ("give --out a folder that this process and every Dask worker reach at the same path: the workers "
              "write the trips' report rows beside the report")


def check_workers(client: Client, paths: list[Path], spill: Path | None) -> None:
    """Before any work: every worker runs this version of transportmon, reads ``paths`` and writes into ``spill``
    where this process sees what it wrote. :class:`ConfigError` or :class:`InputError` naming the worker if not."""
    from ._version import __version__

    try:
        answers = client.run(worker_view, [str(p) for p in paths], None if spill is None else str(spill))
    except Exception as exc:  # a worker without transportmon cannot even unpickle the question
        raise ConfigError(f"a Dask worker cannot run transportmon ({type(exc).__name__}: {exc}); install transportmon "
                          f"{__version__} on every worker") from exc
    try:
        for address, (version, unreadable, marker, unwritable) in sorted(answers.items()):
            if version != __version__:
                raise ConfigError(f"Dask worker {address} runs transportmon {version}, this process {__version__}; "
                                  f"install transportmon {__version__} on every worker")
            for path, why in unreadable:
                raise InputError(path, f"Dask worker {address} cannot read it ({why})", _SHARE_INPUT)
            if spill is not None and unwritable:
                raise InputError(spill, f"Dask worker {address} cannot write into this folder ({unwritable})",
                                 _SHARE_OUT)
            if spill is not None and not (spill / marker).is_file():
                raise InputError(spill, f"Dask worker {address} writes into another folder of this name, not the one "
                                 "this process reads", _SHARE_OUT)
    finally:
        if spill is not None:
            for _version, _unreadable, marker, _unwritable in answers.values():
                if marker:
                    (spill / marker).unlink(missing_ok=True)


def worker_view(paths: list[str], spill: str | None) -> tuple[str, list[tuple[str, str]], str, str]:
    """Run on a worker by :func:`check_workers`: its transportmon version, the ``paths`` it cannot read (with why),
    and the name of a file it wrote into ``spill`` (or why it could not)."""
    import uuid

    from ._version import __version__

    unreadable = []
    for path in paths:
        try:
            with open(path, "rb") as fh:
                fh.read(4)
        except OSError as exc:
            unreadable.append((path, exc.strerror or str(exc)))
    marker, unwritable = "", ""
    if spill is not None:
        name = f".worker-{uuid.uuid4().hex}"
        try:
            Path(spill, name).write_bytes(b"")
            marker = name
        except OSError as exc:
            unwritable = exc.strerror or str(exc)
    return __version__, unreadable, marker, unwritable


@dataclass(frozen=True)
class _RowGroups:
    """A chunk of a Parquet file a worker reads: its row groups and the input row number of the first."""

    path: str
    groups: list[int]
    start: int
    columns: dict[str, str] | None


def _read(path: Path, inputs: Inputs, name: str, client: Client) -> tuple[list[Any], pd.DataFrame, dict[str, Any],
                                                                          int]:
    """A layer in chunks of ~:data:`PARTITION_ROWS` rows, each numbered (:func:`_number`: ``_row``, the input row
    number, and ``_key``, the trip id as text) when a worker takes it (:func:`_chunk_frame`); with an empty frame of
    its columns, what the reader says of the file, and its number of rows.

    Parquet is read by row groups on the workers (:class:`_RowGroups`): the file's footer gives each chunk's first
    row number, so nothing is read twice and the file is never whole in this process. Other formats are read once
    here, as the memory engine reads them, then split and sent to the workers; so is a layer already read
    (``inputs.frames``: a GTFS feed's, which only exists once the feed's files are joined).
    """
    if name in inputs.frames:
        table = _number(pd.DataFrame(inputs.frames[name]), 0)
        return _scattered(table, client), table.iloc[:0], {}, len(table)
    if path.suffix.lower() in R.PARQUET_EXTENSIONS:
        import pyarrow.parquet as pq

        R.check_file(path)
        meta_file = pq.ParquetFile(path)
        sizes = [meta_file.metadata.row_group(i).num_rows for i in range(meta_file.metadata.num_row_groups)]
        groups: list[list[int]] = [[]]
        rows_in = 0
        for i, size in enumerate(sizes):
            if groups[-1] and rows_in + size > PARTITION_ROWS:
                groups.append([])
                rows_in = 0
            groups[-1].append(i)
            rows_in += size
        starts = np.r_[0, np.cumsum(sizes)].astype(np.int64)
        columns = inputs.columns.get(name)  # i16: header names declared in the manifest
        empty = _number(apply_columns(meta_file.schema_arrow.empty_table().to_pandas(), columns, path)[0], 0)
        where = os.path.abspath(path)  # a worker started in another folder reads the same file
        chunks = [_RowGroups(where, g, int(starts[g[0]]) if g else 0, columns) for g in groups]
        return chunks, empty, {"format": "parquet"}, int(starts[-1])
    table = R.read_table(path, encoding=inputs.encoding, columns=inputs.columns.get(name))
    info = dict(table.attrs.pop("source", {}))
    table = _number(pd.DataFrame(table), 0)
    return _scattered(table, client), table.iloc[:0], info, len(table)


def _scattered(table: pd.DataFrame, client: Client) -> list[Any]:
    """A frame read on the client in ~:data:`PARTITION_ROWS`-row pieces already on the workers (scattered once,
    rather than carried inside the task graph)."""
    bounds = np.linspace(0, len(table), max(1, math.ceil(len(table) / PARTITION_ROWS)) + 1).astype(np.int64)
    return list(client.scatter([table.iloc[a:b] for a, b in zip(bounds[:-1], bounds[1:])]))


def _chunk_frame(chunk: _RowGroups | pd.DataFrame) -> pd.DataFrame:
    """A chunk of :func:`_read` as a numbered frame (run on a worker)."""
    if isinstance(chunk, _RowGroups):
        return _read_row_groups(chunk.path, chunk.groups, chunk.start, chunk.columns)
    return chunk


def _bucket_path(folder: str, layer: str, chunk: int, partition: int) -> Path:
    return Path(folder) / f"{layer}-{chunk:05d}-{partition:05d}.pkl"


def _bucket(chunk: _RowGroups | pd.DataFrame, layer: str, count: int, folder: str, index: int) -> np.ndarray:
    """Split a chunk by partition (a hash of the trip id, the same in both layers) and write each partition's rows
    to a file of ``folder`` (pickled: the frames come back exactly as they were); returns the rows per partition.

    Each worker holds one chunk at a time, where Dask's shuffle would hold and send pieces of every partition."""
    import pickle

    frame = _chunk_frame(chunk)
    part = (pd.util.hash_pandas_object(frame["_key"], index=False).to_numpy() % np.uint64(count)).astype(np.int64)
    order = np.argsort(part, kind="stable")
    sizes = np.bincount(part, minlength=count)
    ends = np.cumsum(sizes)
    for p in np.flatnonzero(sizes):
        with open(_bucket_path(folder, layer, index, int(p)), "wb") as fh:
            pickle.dump(frame.iloc[order[ends[p] - sizes[p]:ends[p]]], fh, protocol=pickle.HIGHEST_PROTOCOL)
    del frame
    release_memory()
    return sizes


def _gather_bucket(folder: str, layer: str, sizes: list[np.ndarray], partition: int, empty: pd.DataFrame,
                   ) -> tuple[pd.DataFrame, list[Path]]:
    """The rows of one partition from every chunk's file (:func:`_bucket`), and those files."""
    import pickle

    pieces, paths = [], []
    for chunk, counts in enumerate(sizes):
        if counts[partition]:
            paths.append(_bucket_path(folder, layer, chunk, partition))
            with open(paths[-1], "rb") as fh:
                pieces.append(pickle.load(fh))
    if not pieces:
        return empty, paths
    return (pd.concat(pieces) if len(pieces) > 1 else pieces[0]), paths


def _audit_bucket(trip_sizes: list[np.ndarray], st_sizes: list[np.ndarray], trips_empty: pd.DataFrame,
                  st_empty: pd.DataFrame, shared: _Broadcast, partition: int) -> tuple[Any, ...]:
    """:func:`_audit_partition` of a partition written by :func:`_bucket`."""
    assert shared.spill is not None
    trips, trip_files = _gather_bucket(shared.spill, "trips", trip_sizes, partition, trips_empty)
    stop_times, st_files = _gather_bucket(shared.spill, "stop_times", st_sizes, partition, st_empty)
    result = _audit_partition(trips, stop_times, shared, partition)
    for path in trip_files + st_files:  # only now: a partition whose worker died is audited again from them
        path.unlink(missing_ok=True)
    del trips, stop_times
    release_memory()
    return result


def release_memory() -> None:
    """Give the memory a finished partition freed back to the system. Arrow's allocator and glibc's keep freed memory
    for reuse, and a worker that audits partition after partition would otherwise only grow (measured: ~450 MiB
    kept after a partition of two million stop rows)."""
    import ctypes

    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass


def _read_row_groups(path: str, groups: list[int], start: int, columns: dict[str, str] | None = None) -> pd.DataFrame:
    import pyarrow.parquet as pq

    frame = apply_columns(pq.ParquetFile(path).read_row_groups(groups).to_pandas(), columns, path)[0]
    return _number(frame, start)


def _number(df: pd.DataFrame, start: int) -> pd.DataFrame:
    """Add ``_row`` (input row numbers from ``start``) and ``_key`` (the trip id, as validation will read it)."""
    renamed = L.rename_aliases(df)
    key = L.as_text(renamed["trip_id"]) if "trip_id" in renamed.columns else pd.Series(pd.NA, index=df.index,
                                                                                      dtype="string")
    rows = np.arange(start, start + len(df), dtype=np.int64)
    out = df.assign(_row=rows, _key=key.fillna("").astype(str))
    if SOURCE_ROW not in out.columns:  # i16: numbered by position in the whole file, not in the partition
        out[SOURCE_ROW] = rows + 1
    return out


def _audit_partition(trips: pd.DataFrame, stop_times: pd.DataFrame, shared: _Broadcast, index: int = 0,
                     ) -> tuple[Any, ...]:
    """Validate and audit one partition of trips with its stop times (the same functions as the memory engine); with
    a spill folder, write its report rows there (:func:`transportmon.spill.write_part`)."""
    from .io.gtfs import reject_outside_feed
    from .routes import count_routes
    from .trip_audit import audit_trips

    layers: dict[str, L.Layer] = {"stops": shared.stops, "boundaries": shared.boundaries}
    if shared.risk_areas is not None:
        layers["risk_areas"] = shared.risk_areas
    for name, frame, validate, path in (("trips", trips, L.validate_trips, shared.paths[0]),
                                        ("stop_times", stop_times, L.validate_stop_times, shared.paths[1])):
        frame = frame.sort_values("_row", kind="stable")
        rows = frame["_row"].to_numpy()
        layer = validate(frame.drop(columns=["_row", "_key"]).reset_index(drop=True), path)
        _renumber(layer, rows)
        if name == "trips":
            reject_outside_feed(layer)  # a GTFS feed's marks, as the memory engine applies them
        layers[name] = layer
    L.check_trip_references(layers, located=shared.located)
    counts = count_routes(layers["trips"], layers["stop_times"])  # issue 15 hook: the partition's routes
    part, findings, skipped = audit_trips(layers, shared.config, release=shared.spill is not None)
    n_trips, n_rows = len(layers["trips"].frame), len(layers["stop_times"].frame)
    if shared.spill is not None:
        from .report import attach_findings
        from .spill import write_part

        layers["trips"].frame = layers["trips"].frame.iloc[:0]  # judged: the memory goes to the report rows
        if len(findings):
            part = attach_findings(part, findings)
        part = write_part(part, shared.spill, index, shared.config, shared.waivers, shared.as_of)
        findings = findings.iloc[:0]
    return (part, findings, skipped, layers["trips"].rejected, layers["stop_times"].rejected, n_trips, n_rows,
            counts)


def _renumber(layer: L.Layer, rows: np.ndarray) -> None:
    """Partition row numbers → input row numbers. The numbers the user sees (``source_row``, and the ``row <n>`` id
    of a row without an id) come from the partition's ``_source_row``, already those of the whole file."""
    layer.frame["row"] = rows[layer.frame["row"].to_numpy(dtype=np.int64)]
    if len(layer.rejected):
        rej = layer.rejected.copy()
        rej["row"] = rows[rej["row"].to_numpy(dtype=np.int64)]
        layer.rejected = rej
