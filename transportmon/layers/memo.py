"""Results of pure functions of Arrow arrays, kept with the very arrays they were computed on: what
:mod:`transportmon.layers.ahead` computes on a second thread and validation (:mod:`transportmon.layers.cells`)
takes when it meets the same data. Arrow never changes an array's buffers, so "the same buffers at the same
offsets" (:func:`same_data`) means the same values, and a result found here is what the function gives.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa

__all__ = ["Ahead", "same_data"]

T = TypeVar("T")


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
