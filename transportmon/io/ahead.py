"""Reading ahead on a second thread, so that an audit of millions of stop rows uses both cores while it loads.

:func:`transportmon.inputs.load_inputs` reads and validates the layers one after the other on the main thread. When
``trips`` and ``stop_times`` are both Parquet or CSV files, a :class:`ReadAhead` starts one more thread that, in this
order, reads the id columns of each of them that is Parquet (:func:`transportmon.io.parquet.parquet_ids`) and
its whole numbers as int64 (:func:`~transportmon.io.parquet.parquet_wide`), computes the checks of the ids
(:func:`transportmon.layers.ahead.layer_facts`) — and for stop_times decodes its other columns too
(:func:`~transportmon.io.parquet.parquet_whole`), which the main thread would otherwise wait for and then decode
itself, this thread idle — then takes the SHA-256 of both files (the report's metadata names each input's). What is
taken there lives about as long as the layer: memory freed early by the main thread would go back to the second
thread's allocator arenas, which the main thread does not use again. stop_times' other columns are narrow (int8
flags, int32 sequence, dictionary stop codes: ~100 MB at ten million rows) and last until the stop rows are
released; the peak did not change with them. The main thread meanwhile reads the smaller layers, and takes each
result when it comes to that layer; it can also hand the thread other array work (:meth:`ReadAhead.submit`: the
stops' point-in-polygon tests).

Only Arrow, numpy, shapely's array functions and hashlib run on the second thread. pandas enters
``warnings.catch_warnings`` in many places (a dtype lookup, ``astype``, a masked array's ``to_numpy``), and that is
not thread-safe before Python 3.14: two threads in it at once can leave one's warning filters in place for good.
Nothing on the second thread prints, warns or reports progress. A task that fails there is done again on the main
thread, which then raises, warns and reports exactly what it would have without the second thread (the same
:class:`~transportmon._errors.InputError`, naming the same file first); ``tests/test_read_ahead.py`` checks that the
layers, their metadata and the errors are the same either way.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import pyarrow as pa

from ..layers.ahead import layer_facts
from ..layers.memo import Ahead
from .parquet import parquet_ids, parquet_whole, parquet_wide
from .read import CSV_EXTENSIONS, PARQUET_EXTENSIONS, layer_dictionary, sha256

__all__ = ["AHEAD_LAYERS", "ReadAhead", "read_ahead_paths"]

T = TypeVar("T")

#: The layers read ahead: the big ones, millions of rows.
AHEAD_LAYERS = ("trips", "stop_times")


def read_ahead_paths(paths: dict[str, Path], to_read: list[str]) -> dict[str, Path]:
    """The layers of ``to_read`` to read ahead: ``trips`` and ``stop_times`` when both are read and both are
    Parquet or CSV files (other formats go through code that enters ``warnings.catch_warnings``), else none."""
    if not all(name in to_read for name in AHEAD_LAYERS):
        return {}
    if not all(paths[name].suffix.lower() in PARQUET_EXTENSIONS | CSV_EXTENSIONS for name in AHEAD_LAYERS):
        return {}
    return {name: paths[name] for name in to_read if name in AHEAD_LAYERS}


#: The id columns read ahead: they live as long as the layer, so the memory taken for them on the second thread is
#: never freed to that thread's allocator arenas (where the main thread could not use it again) before the end.
ID_COLUMNS = ("trip_id", "route_id", "scope")


#: Whole-number columns made int64 ahead, per layer: validation keeps them so (Int64), for as long as the layer.
#: Only stop_times': ten million rows, so the arrays (like the row and run numbers) are mapped and unmapped whole,
#: never left in the second thread's heap (the trips' third as many would be, for little gain).
WIDE_COLUMNS = {"stop_times": ("stop_sequence",)}


#: Layers whose other columns are decoded ahead too, after the checks of their ids: stop_times', which the main
#: thread would otherwise wait for and then decode itself while this thread has nothing left to do.
WHOLE_LAYERS = ("stop_times",)


def _ids_and_facts(name: str, path: Path) -> tuple[pa.Table, Ahead] | None:
    ids = parquet_ids(path, layer_dictionary(name), ID_COLUMNS)
    if ids is None:
        return None
    facts = layer_facts(name, ids, parquet_wide(path, WIDE_COLUMNS[name]) if name in WIDE_COLUMNS else None)
    whole = parquet_whole(path, layer_dictionary(name), ids) if name in WHOLE_LAYERS else None
    return (ids if whole is None else whole), facts


class ReadAhead:
    """One more thread that reads the given layers ahead (see the module's docstring); a context manager that waits
    for the thread to end (a task already running finishes; the others are dropped).

    Parameters
    ----------
    paths
        The layers to read ahead and their files (:func:`read_ahead_paths`), in the order the main thread takes
        them. Empty: no thread, and every method does its work on the calling thread.
    """

    def __init__(self, paths: dict[str, Path]) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="transportmon-ahead") if paths else None
        self._tables: dict[str, Future[tuple[pa.Table, Ahead] | None]] = {}
        self._hashes: dict[str, Future[str]] = {}
        if self._pool is None:
            return
        for name, path in paths.items():
            if path.suffix.lower() in PARQUET_EXTENSIONS:
                self._tables[name] = self._pool.submit(_ids_and_facts, name, path)
        for name, path in paths.items():
            self._hashes[name] = self._pool.submit(sha256, path)

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Drop the tasks not started and wait for the running one; the results not taken are freed."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._tables.clear()

    def table(self, name: str) -> tuple[pa.Table | None, Ahead | None]:
        """The layer's id columns (a Parquet file's) and their checks, read ahead; (None, None) when the layer was
        not read ahead or that failed: the main thread then reads the file and says what is wrong with it. Once."""
        future = self._tables.pop(name, None)
        got = _result(future)
        return got if got is not None else (None, None)

    def sha256(self, name: str, path: Path) -> str:
        """The file's SHA-256: taken ahead, or now (on this thread) when it was not, or that failed."""
        got = _result(self._hashes.pop(name, None))
        return got if got is not None else sha256(path)

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T] | None:
        """``fn(*args)`` on the second thread (after what it reads ahead), or None when there is none: ``fn`` must
        use no pandas and never warn (see the module's docstring). Its result: :meth:`result`."""
        return self._pool.submit(fn, *args) if self._pool is not None else None

    @staticmethod
    def result(future: Future[T] | None) -> T | None:
        """The task's result (waiting for it), or None when there is no task or it failed: the caller does the work
        again, and raises what it raises."""
        return _result(future)


def _result(future: Future[T] | None) -> T | None:
    if future is None:
        return None
    try:
        return future.result()
    except Exception:  # done again on the main thread, which raises or warns as it always did
        return None
