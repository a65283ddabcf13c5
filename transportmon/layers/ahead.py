"""Column checks done ahead: results of pure Arrow functions of a layer's id columns, computed on a second thread
while the main thread reads other layers (:mod:`transportmon.io.ahead`), and taken by validation when it meets the
very same Arrow data.

The functions here use Arrow and numpy only (no pandas, which enters ``warnings.catch_warnings``, and that is not
thread-safe before Python 3.14). A result is used only for the array it was computed on: the same buffers at the
same offsets, which Arrow never changes (:func:`transportmon.layers.memo.same_data`); any other array is computed
on the spot, so a result is what the function gives either way.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa

from .cells import increasing, rises_in_runs, run_starts, same_text
from .memo import Ahead
from .schema import alias_mapping

__all__ = ["IdRuns", "id_runs", "layer_facts"]

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
