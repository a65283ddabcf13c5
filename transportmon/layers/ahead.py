"""Column checks done ahead: results of pure Arrow functions of a layer's id columns, computed on a second thread
while the main thread reads other layers (:mod:`transportmon.io.ahead`), and taken by validation when it meets the
very same Arrow data.

The functions here use Arrow and numpy only (no pandas, which enters ``warnings.catch_warnings``, and that is not
thread-safe before Python 3.14). A result is used only for the array it was computed on: the same buffers at the
same offsets, which Arrow never changes (:func:`same_data`); any other array is computed on the spot, so a result is
what the function gives either way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa

from .cells import increasing, rises_in_runs, run_starts, same_text
from .schema import alias_mapping

__all__ = ["Ahead", "IdRuns", "id_runs", "layer_facts", "same_data"]

T = TypeVar("T")


@dataclass(frozen=True)
class IdRuns:
    """Runs of equal consecutive ids (rows of one trip are usually consecutive)."""

    starts: np.ndarray
    """Per row: whether it starts a run."""
    clean: bool
    """Whether :func:`~transportmon.layers.cells.as_text` leaves the id of every run as it is."""
    run: np.ndarray | None = None
    """Per row: the number of its run (0, 1, …), when computed ahead (:func:`layer_facts`): the trip of each row
    when stop_times follow the trips' order."""
    rising: np.ndarray | None = None
    """When computed ahead: the ``stop_sequence`` it was computed on (int64, :attr:`Ahead.wide`), for
    :attr:`rises`."""
    rises: bool | None = None
    """Whether that ``stop_sequence`` rises within each run."""


def id_runs(arr: pa.ChunkedArray) -> IdRuns:
    """The runs of an id column and whether their ids need no cleaning: the ids are taken and checked chunk by
    chunk, so that no copy of them is held (on the second thread, memory held and freed there stays with that
    thread's allocator arenas)."""
    starts = run_starts(arr)
    clean, offset = True, 0
    for chunk in arr.chunks:
        heads = np.flatnonzero(starts[offset:offset + len(chunk)])
        offset += len(chunk)
        if clean and len(heads):
            clean = same_text(chunk.take(pa.array(heads)))
    return IdRuns(starts, clean)


def same_data(a: pa.ChunkedArray, b: pa.ChunkedArray) -> bool:
    """Whether two arrays are the same data: same type, chunks of the same lengths and offsets over the same buffers."""
    if a is b:
        return True
    if a.type != b.type or len(a) != len(b) or a.num_chunks != b.num_chunks:
        return False
    for x, y in zip(a.chunks, b.chunks):
        if x.offset != y.offset or len(x) != len(y):
            return False
        if [(buf.address, buf.size) if buf is not None else None for buf in x.buffers()] != \
                [(buf.address, buf.size) if buf is not None else None for buf in y.buffers()]:
            return False
    return True


@dataclass
class Ahead:
    """Results of functions of Arrow arrays, each with the array it was computed on (which it keeps alive, so that
    its buffers are not reused by other data); and the layer's row numbers, 0 … n - 1."""

    results: list[tuple[Callable[..., Any], pa.ChunkedArray, Any]] = field(default_factory=list)
    rows: np.ndarray | None = None
    wide: dict[str, np.ndarray] = field(default_factory=dict)
    """Whole-number columns (contract names) as int64, for :func:`~transportmon.layers.cells.ints_fast`, which takes
    one only when it equals the column it parses."""

    def take_wide(self, name: str) -> np.ndarray | None:
        """The int64 values of column ``name`` made ahead (once: the parsed column then owns them), else None."""
        return self.wide.pop(name, None)

    def row_numbers(self, n: int) -> np.ndarray | None:
        """The row numbers of a layer of ``n`` rows, made ahead (once: the frame then owns them), else None."""
        rows, self.rows = self.rows, None
        return rows if rows is not None and len(rows) == n else None

    def compute(self, fn: Callable[[pa.ChunkedArray], T], arr: pa.ChunkedArray) -> T:
        """``fn(arr)``, kept for :meth:`call`."""
        result = fn(arr)
        self.results.append((fn, arr, result))
        return result

    def find(self, fn: Callable[[pa.ChunkedArray], T], arr: pa.ChunkedArray) -> T | None:
        """``fn(arr)`` when computed ahead for this very array, else None."""
        for done, source, result in self.results:
            if done is fn and same_data(source, arr):
                return result
        return None

    def call(self, fn: Callable[[pa.ChunkedArray], T], arr: pa.ChunkedArray) -> T:
        """``fn(arr)``: computed ahead when it was for this very array, else now."""
        result = self.find(fn, arr)
        return fn(arr) if result is None else result


def layer_facts(name: str, table: pa.Table, wide: dict[str, np.ndarray] | None = None) -> Ahead:
    """What validation of layer ``name`` (trips or stop_times) computes from its id columns, computed from those
    columns as they are read (``table``: :func:`transportmon.io.parquet.parquet_ids`), and (stop_times) its row
    numbers; ``wide``: its whole-number columns as int64 (:func:`transportmon.io.parquet.parquet_wide`)."""
    ahead = Ahead(rows=np.arange(table.num_rows, dtype=np.int64) if name == "stop_times" else None,
                  wide=dict(wide or {}))
    renamed = alias_mapping(list(table.column_names))
    columns = {renamed.get(c, c): table.column(i) for i, c in enumerate(table.column_names)}
    text = {c: arr for c, arr in columns.items()
            if pa.types.is_large_string(arr.type)}  # as pandas keeps its text (large_string): the same buffers
    if name == "stop_times" and "trip_id" in text:
        runs = id_runs(text["trip_id"])
        seq = ahead.wide.get("stop_sequence")
        rises = rises_in_runs(seq, runs.starts) if seq is not None and len(seq) == len(runs.starts) else None
        ahead.results.append((id_runs, text["trip_id"], replace(runs, run=np.cumsum(runs.starts) - 1,
                                                               rising=seq if rises is not None else None,
                                                               rises=rises)))
    if name == "trips":
        if "trip_id" in text:
            ahead.compute(same_text, text["trip_id"])
            ahead.compute(increasing, text["trip_id"])
        for col in ("route_id", "scope"):
            if col in text:
                ahead.compute(same_text, text[col])
    return ahead
