"""The stop patterns of coach routes (DESIGN §9), counted from the stop rows of the audited trips: three steps so that
the count itself, numpy and Arrow only, can run on a thread of its own (:class:`transportmon.routes.FactsLater`)
while pandas, which is not thread-safe, stays on the main thread — :func:`pattern_rows` takes the layers' columns
as arrays, :func:`count_patterns` counts, :func:`pattern_frames` makes the frames
(:attr:`transportmon.routes.RouteCounts.patterns` and ``stops``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import layers as L
from ._arrow import distinct_runs, index_in, text
from .rules.trips import stop_order
from .trip_audit import StopRows

__all__ = ["NARROW", "SEP", "PatternCounts", "PatternRows", "code_pairs", "count_patterns", "pattern_frames",
           "pattern_rows"]

#: Separator of the stop ids of a pattern (a control character no id holds).
SEP = "\x1f"
#: A trip's itinerary is hashed as 32-bit integers while (routes + 1) × 2 × (stops + 1) stays below this, else 64.
NARROW = 2**31


@dataclass(frozen=True)
class PatternRows:
    """What :func:`count_patterns` reads of the audited trips' stop rows, numpy and Arrow only."""

    trip_pos: np.ndarray
    order: np.ndarray
    stop_code: np.ndarray
    pickup: np.ndarray
    dropoff: np.ndarray
    trip_route: np.ndarray
    n_trips: int
    n_routes: int
    stop_text: pa.Array
    """The stop ids by code (``string``)."""
    names: pd.Index
    """The route ids by code: the count reads only how many; for :func:`pattern_frames`."""
    stop_names: pd.Index
    """The stop ids by code, for :func:`pattern_frames`."""


@dataclass(frozen=True)
class PatternCounts:
    """What :func:`count_patterns` found: route code, pattern text and trips of each (route, pattern) pair, in
    order; route code and stop code of each (route, boarding stop) pair, in order."""

    rows: PatternRows
    route: np.ndarray
    pattern: pa.Array
    trips: np.ndarray
    stop_route: np.ndarray
    stop: np.ndarray


def pattern_rows(trips: L.Layer, stop_times: L.Layer, trip_route: np.ndarray, names: pd.Index,
                  rows: StopRows | None = None) -> PatternRows:
    """The stop rows of the audited trips as :func:`count_patterns` reads them (pandas: the main thread's)."""
    tf, sf = trips.frame, stop_times.frame
    located = trips.located
    if rows is not None and located is not None:
        trip_pos, order, stop_code = rows.trip_pos, rows.order, rows.stop_pos
        stop_names = pd.Index(located.index.astype(str))
    else:
        trip_pos = stop_times.codes.trip_pos
        if trip_pos is None or len(trip_pos) != len(sf):
            trip_pos = index_in(sf["trip_id"], tf["trip_id"])
        order = stop_order(trip_pos, sf["stop_sequence"])
        order = order[int(np.count_nonzero(trip_pos < 0)):]  # rows of rejected trips (-1) sort first
        stop_code = stop_times.codes.stop_pos
        if located is not None and stop_code is not None and len(stop_code) == len(sf):
            stop_names = pd.Index(located.index.astype(str))
        else:
            stop_code, stop_names = pd.factorize(pd.Series(text(sf["stop_id"]), dtype="string"))
            stop_names = pd.Index(np.asarray(stop_names, dtype=object).astype(str))
    return PatternRows(trip_pos=trip_pos, order=order, stop_code=stop_code,
                        pickup=np.asarray(sf["pickup"], dtype=bool), dropoff=np.asarray(sf["dropoff"], dtype=bool),
                        trip_route=trip_route, n_trips=len(tf), n_routes=len(names), stop_text=text(stop_names), names=names,
                        stop_names=stop_names)


def count_patterns(p: PatternRows) -> PatternCounts:
    """The count of the routes' stop patterns, numpy and Arrow only.

    A trip's itinerary is read as integers, one per stop row in order: its stop's code, times two, plus one where
    passengers board or alight there; the first also holds the trip's route. The itineraries are hashed as the
    bytes of those integers (one hash join over trips, no text per trip), so only the distinct ones (a few per
    route) are decoded: their stop ids joined are the patterns, their boarding stops the route's stops.
    """
    trip_pos, order, stop_code, trip_route = p.trip_pos, p.order, p.stop_code, p.trip_route
    n = p.n_trips
    length = np.bincount(trip_pos if len(order) == len(trip_pos) else trip_pos[trip_pos >= 0], minlength=n)
    radix = 2 * (len(p.stop_text) + 1)  # a row's value: 2 × (stop code + 1) + boards, below radix
    vtype = np.int32 if (p.n_routes + 1) * radix < NARROW else np.int64
    vals = _row_values(order, stop_code, p.pickup, p.dropoff, vtype)
    bounds = np.zeros(n + 1, dtype=np.int64)  # each trip's rows: bounds[t] to bounds[t + 1]
    np.cumsum(length, out=bounds[1:])
    fold = (trip_route + 1).astype(vtype)
    fold *= radix
    if length.all():
        vals[bounds[:-1]] += fold
    else:
        nonempty = np.flatnonzero(length)
        vals[bounds[nonempty]] += fold[nonempty]
    # The distinct itineraries: their rows' values, and per itinerary its route and count.
    code, bounds, flat = distinct_runs(vals, bounds)
    del vals
    flat = flat.astype(np.int64)
    n_itineraries = len(bounds) - 1
    trips_of = np.bincount(code, minlength=n_itineraries)
    del code
    glen = np.diff(bounds)
    gfirst = bounds[:-1]
    groute = np.full(n_itineraries, -1, dtype=np.int64)
    full = glen > 0
    groute[full] = flat[gfirst[full]] // radix - 1
    flat %= radix
    # A routed trip without stop rows: its pattern is empty (its bytes are, whatever its route: counted apart).
    routed_empty = (length == 0) & (trip_route >= 0)
    empty_route, empty_trips = np.unique(trip_route[routed_empty], return_counts=True)
    keep = (groute >= 0) & full
    g_route = np.r_[groute[keep], empty_route]
    g_trips = np.r_[trips_of[keep], empty_trips]
    g_len = np.r_[glen[keep], np.zeros(len(empty_route), dtype=np.int64)]
    take = np.repeat(keep, glen)
    g_stop = flat[take] // 2 - 1
    id_text = p.stop_text
    stop_text = id_text.take(pa.array(g_stop, mask=g_stop < 0))
    lists = pa.ListArray.from_arrays(pa.array(np.r_[0, np.cumsum(g_len)].astype(np.int32)), stop_text)
    # The patterns' text, ranked: itineraries differing only where passengers board are one pattern.
    patterns_of = pc.dictionary_encode(pc.binary_join(lists, SEP))  # null where a stop is unknown (no pattern)
    by_text = pc.array_sort_indices(patterns_of.dictionary).to_numpy()
    text_rank = np.empty(len(by_text), dtype=np.int64)
    text_rank[by_text] = np.arange(len(by_text))
    known = patterns_of.indices.is_valid().to_numpy(zero_copy_only=False)
    text_code = text_rank[patterns_of.indices.fill_null(0).to_numpy()[known]] if len(by_text) else np.zeros(0, int)
    r_idx, p_idx, per = code_pairs(g_route[known], text_code, max(len(by_text), 1), weights=g_trips[known])
    boards = (flat[take] & 1).astype(bool) & (g_stop >= 0)
    # Pairs of route and stop, by the stop's rank among the ids: sorted by route, then stop id.
    by_id = pc.array_sort_indices(id_text).to_numpy()
    rank = np.empty(len(by_id), dtype=np.int64)
    rank[by_id] = np.arange(len(by_id))
    s_route, s_idx, _ = code_pairs(np.repeat(g_route, g_len)[boards], rank[g_stop[boards]], max(len(id_text), 1))
    return PatternCounts(rows=p, route=r_idx, pattern=patterns_of.dictionary.take(pa.array(by_text[p_idx])),
                          trips=per, stop_route=s_route, stop=by_id[s_idx])


def pattern_frames(counts: PatternCounts) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The patterns and stops frames of :func:`count_patterns`' pairs (pandas: the main thread's)."""
    names, stop_names = counts.rows.names, counts.rows.stop_names
    patterns = pd.DataFrame({"route_id": names[counts.route].astype("str"),
                             "pattern": pd.array(counts.pattern, dtype="str"), "trips": counts.trips})
    stops = pd.DataFrame({"route_id": names[counts.stop_route].astype("str"),
                          "stop_id": stop_names[counts.stop].astype("str")})
    return patterns, stops


def _row_values(order: np.ndarray, stop_code: np.ndarray, pickup: np.ndarray, dropoff: np.ndarray,
                dtype: type[np.integer]) -> np.ndarray:
    """Per stop row of the audited trips, in ``order``: 2 × (its stop code + 1), plus 1 where passengers board or
    alight. Stop rows usually come in order already: then no row is gathered, and the sums are made in place."""
    pick, drop = np.asarray(pickup, dtype=bool), np.asarray(dropoff, dtype=bool)
    if len(order) == len(stop_code) and (len(order) < 2 or bool((order[1:] > order[:-1]).all())):
        vals = np.add(stop_code, 1, dtype=dtype, casting="unsafe")
    else:
        vals = np.add(stop_code[order], 1, dtype=dtype, casting="unsafe")
        pick, drop = pick[order], drop[order]
    np.left_shift(vals, 1, out=vals)
    np.bitwise_or(vals, pick, out=vals)
    np.bitwise_or(vals, drop, out=vals)
    return vals


def code_pairs(a: np.ndarray, b: np.ndarray, nb: int, weights: np.ndarray | None = None,
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct (a, b) pairs of two code arrays (``a ≥ 0``, ``0 ≤ b < nb``), in order, and how often each
    occurs (or the sum of their ``weights``): one sort of integer keys (of 32 bits when they fit: faster)."""
    na = int(a.max()) + 1 if len(a) else 0
    key = a.astype(np.uint32 if max(na, 1) * nb < 2**32 else np.int64)
    key *= nb
    key += b.astype(key.dtype, copy=False)
    if weights is None:
        key.sort()
    else:
        at = np.argsort(key)
        key, weights = key[at], np.asarray(weights, dtype=np.int64)[at]
    head = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.zeros(0, dtype=np.int64)
    n = np.diff(np.r_[head, len(key)]) if weights is None else np.add.reduceat(weights, head)
    a, b = np.divmod(key[head].astype(np.int64), nb)
    return a, b, n.astype(np.int64)
