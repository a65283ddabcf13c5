"""Geometries as ISO WKB, and what GeoParquet's ``geo`` metadata says of them (types, bounding box), column-wise.

Every report writer that stores WKB takes it from here: the GeoParquet writer a row group at a time
(:class:`WkbColumn`), the Dask engine's parts (:func:`wkb_array`, :func:`geometry_stats`).

A report's trips share their line objects: the lines are drawn once per stop pattern
(:func:`transportmon.trip_audit.pattern_lines`), so 3.3 million trips hold 20,000 objects. :func:`shared_geometries`
finds the distinct objects by identity: an object array holds the objects' addresses, which one hash over integers
numbers, with no Python call per row. Their WKB, types and bounds are then made once per object, and the WKB of the
rows is taken from it (one Arrow ``take``): the same bytes as encoding every row.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from ..distinct import first_rows

__all__ = ["GeometryStats", "WKB_PIECE_ROWS", "WkbColumn", "add_stats", "geo_types_bbox", "geometry_stats",
           "geometry_summary", "shared_geometries", "wkb_array", "wkb_pieces"]

#: Geometries encoded (as WKB, or summarised) at a time: a piece's coordinates and other temporaries take ~35 MB.
WKB_PIECE_ROWS = 1 << 18

#: Names of shapely's geometry type ids (``shapely.get_type_id``) in GeoParquet's ``geometry_types``; +8 with Z.
_GEOMETRY_TYPE_NAMES = ("Point", "LineString", "LineString", "Polygon", "MultiPoint", "MultiLineString",
                        "MultiPolygon", "GeometryCollection")

#: Largest value buffer of one Arrow ``binary`` array (32-bit offsets).
MAX_BINARY_BYTES = (1 << 31) - 1

#: What GeoParquet's ``geo`` metadata says of a column of geometries: the number of geometries of each shapely type
#: id (+8 with Z), and the lower and upper corners of their bounding box (inf and -inf when there are no coordinates).
#: A report written in pieces (the Dask engine's) adds its pieces' stats (:func:`add_stats`).
GeometryStats = tuple[np.ndarray, np.ndarray, np.ndarray]


def shared_geometries(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(codes, distinct)``, where ``distinct[codes]`` is ``geoms`` object for object (``None`` is one object too),
    when at most half of the geometries are distinct objects; else None (encode them one by one)."""
    n = len(geoms)
    if n < 2 or geoms.dtype != object:
        return None
    try:  # the buffer of an object array is the objects' addresses: identity without a Python call per row
        address = np.frombuffer(np.ascontiguousarray(geoms), dtype=np.intp)
    except (TypeError, ValueError, BufferError):
        return None
    # Arrow's hash (no pandas: the report's writing thread calls this), numbering as the addresses first appear
    encoded = pa.array(address).dictionary_encode()
    if 2 * len(encoded.dictionary) > n:
        return None
    codes = encoded.indices.to_numpy()
    return codes, geoms[first_rows(codes, len(encoded.dictionary))]


def geometry_stats(geoms: np.ndarray, type_id: np.ndarray | None = None,
                   has_z: np.ndarray | None = None) -> GeometryStats:
    """:data:`GeometryStats` of ``geoms`` (None for a missing geometry), from their ``shapely.get_type_id`` and
    ``shapely.has_z`` when the caller has them, without encoding them; once per object when objects are shared."""
    if type_id is None and has_z is None:
        shared = shared_geometries(geoms)
        if shared is not None:
            codes, distinct = shared
            return _stats(distinct, shapely.get_type_id(distinct), shapely.has_z(distinct),
                          np.bincount(codes, minlength=len(distinct)))
    type_id = shapely.get_type_id(geoms) if type_id is None else type_id
    has_z = shapely.has_z(geoms) if has_z is None else has_z
    return _stats(geoms, type_id, has_z)


def _stats(geoms: np.ndarray, type_id: np.ndarray, has_z: np.ndarray, times: np.ndarray | None = None,
           ) -> GeometryStats:
    """:func:`geometry_stats` of geometries each standing ``times`` times for as many rows (default once)."""
    present = type_id >= 0
    weights = None if times is None else times[present]
    type_count = np.rint(np.bincount(type_id[present] + 8 * has_z[present], weights=weights,
                                     minlength=16)).astype(np.int64)
    lo, hi = np.full(2, np.inf), np.full(2, -np.inf)
    for start in range(0, len(geoms), WKB_PIECE_ROWS):  # in pieces: bounds take 32 bytes a geometry
        bounds = shapely.bounds(geoms[start:start + WKB_PIECE_ROWS])
        # GEOS bounds an axis without a number (all NaN) as -inf..inf: no coordinate there, as NaN says
        nowhere = np.tile(np.isneginf(bounds[:, :2]) & np.isposinf(bounds[:, 2:]), 2)
        bounds[nowhere] = np.nan
        # fmin/fmax skip NaN (empty and missing geometries, NaN coordinates); a column at a time: a reduction across
        # the rows of an (n, 4) array is ~10× slower
        lo = np.fmin(lo, [np.fmin.reduce(bounds[:, k], initial=np.inf) for k in (0, 1)])
        hi = np.fmax(hi, [np.fmax.reduce(bounds[:, k], initial=-np.inf) for k in (2, 3)])
    return type_count, lo, hi


def add_stats(stats: Iterable[GeometryStats]) -> GeometryStats:
    """The :data:`GeometryStats` of pieces taken together."""
    types, lo, hi = np.zeros(16, dtype=np.int64), np.full(2, np.inf), np.full(2, -np.inf)
    for t, a, b in stats:
        types, lo, hi = types + t, np.fmin(lo, a), np.fmax(hi, b)
    return types, lo, hi


def geo_types_bbox(type_count: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[list[str], list[float] | None]:
    """GeoParquet ``geometry_types`` and ``bbox`` (None without coordinates) from :data:`GeometryStats`."""
    names = sorted({_GEOMETRY_TYPE_NAMES[t % 8] + (" Z" if t >= 8 else "") for t in np.flatnonzero(type_count)})
    bbox = [float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])] if np.isfinite([*lo, *hi]).all() else None
    return names, bbox


def geometry_summary(geoms: np.ndarray, type_id: np.ndarray,
                     has_z: np.ndarray) -> tuple[list[str], list[float] | None]:
    """GeoParquet ``geometry_types`` and ``bbox`` (``None`` without coordinates) of geometries whose
    ``shapely.get_type_id`` and ``shapely.has_z`` are given, without encoding them."""
    return geo_types_bbox(*geometry_stats(geoms, type_id, has_z))


@dataclass(frozen=True)
class WkbColumn:
    """A column of geometries to be written as WKB a range of rows at a time (:meth:`rows`), with its
    :data:`GeometryStats` (:meth:`stats`): made once per object when the objects are shared
    (:func:`shared_geometries`), else row by row. :meth:`of` makes it."""

    geoms: np.ndarray
    """The rows' geometries, or the distinct objects when ``codes`` is set."""
    type_id: np.ndarray
    has_z: np.ndarray
    """``shapely.get_type_id`` and ``shapely.has_z`` of ``geoms``."""
    codes: np.ndarray | None = None
    """Of each row, its object in ``geoms`` (None: ``geoms`` are the rows)."""
    wkb: pa.Array | None = None
    """The WKB of each object in ``geoms`` when ``codes`` is set."""

    @classmethod
    def of(cls, geoms: np.ndarray) -> WkbColumn:
        shared = shared_geometries(geoms)
        if shared is not None:
            codes, distinct = shared
            type_id, has_z = shapely.get_type_id(distinct), shapely.has_z(distinct)
            wkb = wkb_pieces(distinct, type_id, has_z)
            if wkb.num_chunks <= 1:  # a take from one array (its bytes fit 32-bit offsets)
                return cls(distinct, type_id, has_z, codes,
                           wkb.chunk(0) if wkb.num_chunks else pa.array([], pa.binary()))
        return cls(geoms, shapely.get_type_id(geoms), shapely.has_z(geoms))

    def __len__(self) -> int:
        return len(self.geoms) if self.codes is None else len(self.codes)

    def stats(self) -> GeometryStats:
        """The :data:`GeometryStats` of all the rows."""
        if self.codes is None:
            return _stats(self.geoms, self.type_id, self.has_z)
        return _stats(self.geoms, self.type_id, self.has_z, np.bincount(self.codes, minlength=len(self.geoms)))

    def rows(self, rows: slice) -> pa.ChunkedArray:
        """The WKB of ``rows``, in chunks of at most :data:`WKB_PIECE_ROWS` rows and of less than 2 GiB."""
        if self.codes is None:
            return wkb_pieces(self.geoms[rows], self.type_id[rows], self.has_z[rows])
        assert self.wkb is not None
        codes = self.codes[rows]
        sizes = pc.fill_null(pc.binary_length(self.wkb), 0).to_numpy().astype(np.int64)[codes]
        return pa.chunked_array([self.wkb.take(pa.array(codes[start:stop])) for start, stop in _pieces(
            np.cumsum(sizes, dtype=np.int64))], pa.binary())


def wkb_array(geoms: np.ndarray) -> tuple[pa.ChunkedArray, list[str], list[float] | None]:
    """Geometries as ISO WKB (little-endian; null for a missing geometry), with their GeoParquet ``geometry_types``
    and bounding box (``None`` when there are no coordinates): :class:`WkbColumn`."""
    column = WkbColumn.of(geoms)
    return column.rows(slice(0, len(column))), *geo_types_bbox(*column.stats())


def _pieces(ends: np.ndarray) -> list[tuple[int, int]]:
    """Ranges of rows of at most :data:`WKB_PIECE_ROWS` whose bytes (``ends``: running total of the rows' bytes) fit
    one ``binary`` array, halving a range that would not."""
    n = len(ends)
    out: list[tuple[int, int]] = []
    pending = [(start, min(start + WKB_PIECE_ROWS, n)) for start in range(0, n, WKB_PIECE_ROWS)]
    while pending:
        start, stop = pending.pop(0)
        size = int(ends[stop - 1]) - (int(ends[start - 1]) if start else 0)
        if stop - start > 1 and size > MAX_BINARY_BYTES:
            mid = (start + stop) // 2
            pending[:0] = [(start, mid), (mid, stop)]
            continue
        out.append((start, stop))
    return out


def wkb_pieces(geoms: np.ndarray, type_id: np.ndarray, has_z: np.ndarray) -> pa.ChunkedArray:
    """Geometries (with their ``shapely.get_type_id`` and ``shapely.has_z``) as ISO WKB, in chunks of at most
    :data:`WKB_PIECE_ROWS` and of less than 2 GiB.

    2-D points and line strings, the report's geometries, are assembled column-wise from their coordinates: the WKB
    of one is its header followed by its coordinates, so the column is the element-wise join of a header column and a
    coordinate column whose buffers are numpy arrays, the same bytes as ``shapely.to_wkb``. Any other geometry (polygons
    of rejected rows, empty or 3-D geometries) is encoded by ``shapely.to_wkb``.
    """
    chunks: list[pa.Array] = []
    pending = [(start, min(start + WKB_PIECE_ROWS, len(geoms))) for start in range(0, len(geoms), WKB_PIECE_ROWS)]
    while pending:
        start, stop = pending.pop(0)
        part = geoms[start:stop]
        counts = shapely.get_num_coordinates(part)
        if stop - start > 1 and 32 * int(counts.sum()) + 64 * (stop - start) > MAX_BINARY_BYTES:  # 24 B a 3-D xyz
            mid = (start + stop) // 2  # too many bytes for 32-bit offsets: halve the piece
            pending[:0] = [(start, mid), (mid, stop)]
            continue
        chunks.append(_wkb_chunk(part, counts, type_id[start:stop], has_z[start:stop]))
    return pa.chunked_array(chunks, pa.binary())


def _binary(n: int, lengths: np.ndarray, data: Any, validity: pa.Buffer | None = None, nulls: int = 0) -> pa.Array:
    """A ``binary`` array of ``n`` values from their lengths and the concatenated bytes (zero-copy of ``data``)."""
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.Array.from_buffers(pa.binary(), n, [validity, pa.py_buffer(offsets), pa.py_buffer(data)],
                                 null_count=nulls)


def _wkb_chunk(geoms: np.ndarray, counts: np.ndarray, type_id: np.ndarray, has_z: np.ndarray) -> pa.Array:
    """WKB of one piece, given its number of coordinates, types and Z of each geometry."""
    n = len(geoms)
    present = type_id >= 0
    simple = present & (type_id <= 1) & ~has_z & (counts > 0)  # 2-D points and line strings, not empty
    if sys.byteorder != "little":  # the column-wise form writes native floats: elsewhere, let GEOS do it all
        simple[:] = False
    other = present & ~simple
    line = simple & (type_id == 1)
    counts = np.where(simple, counts, 0)
    coords = shapely.get_coordinates(geoms if not other.any() else np.where(simple, geoms, None))
    # header: byte order 1 (little-endian), then the type as uint32 (1 point, 2 line string)
    head = np.zeros((int(simple.sum()), 5), dtype=np.uint8)
    head[:, 0] = 1
    head[:, 1] = type_id[simple] + 1
    nulls = int(n - present.sum())
    validity = pa.py_buffer(np.packbits(present, bitorder="little")) if nulls else None
    parts = [_binary(n, simple * 5, head, validity, nulls),
             _binary(n, line * 4, counts[line].astype("<u4")),  # number of points of a line string
             _binary(n, counts * 16, np.ascontiguousarray(coords, dtype="<f8"))]
    if other.any():
        wkbs = shapely.to_wkb(geoms[other], flavor="iso", byte_order=1)
        lengths = np.zeros(n, dtype=np.int64)
        lengths[other] = [len(w) for w in wkbs]
        parts.append(_binary(n, lengths, np.frombuffer(b"".join(wkbs), dtype=np.uint8)))
    return pc.binary_join_element_wise(*parts, pa.scalar(b"", pa.binary()))


