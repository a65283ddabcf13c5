"""The trip audit both engines run: trip verdicts, findings and lines from validated, cross-checked layers.

The memory engine (:func:`transportmon.pipeline.measure`) calls :func:`audit_trips` on the whole input; the Dask engine
(:mod:`transportmon.scale`) calls it on each partition of trips with their stop times. Every step is a column
operation on integer codes; see :mod:`transportmon.rules.trips`.

The stop rows are read in contiguous parts of the trips, each on a thread of its own (``parts``): a part's rows are a
run of the rows in trip order, and what they say of its trips (:func:`part_facts`) depends on them alone; the trips'
lines are drawn once per distinct stop pattern (:func:`pattern_lines`) on a pool thread. That work is numpy, Arrow and
GEOS, which release the GIL, and never pandas, which enters ``warnings.catch_warnings`` deep inside (not thread-safe
before Python 3.14): the verdicts, messages and report columns are made once for all the trips, on the calling
thread, from the parts' facts joined in trip order, while the lines are still being drawn. So the result is the same
whatever the number of parts.
"""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.compute as pc
import shapely

from . import layers as L
from ._arrow import distinct_runs, index_in, text
from .config import RuleConfig
from .layers.cells import increasing
from .levels import LevelLookup
from .report import one_finding_each
from .rules import trips as trip_rules
from .rules.registry import FINDING_COLUMNS, factorize_ints

__all__ = ["CHUNK_ROWS", "StopRows", "TripAudit", "TripContext", "audit_trips", "chunks", "default_parts", "part_facts",
           "pattern_lines", "prepare_trips", "release_stop_rows", "stop_rows", "trip_lines"]


@dataclass
class StopRows:
    """Where each stop_times row belongs and the order of the audited trips' rows: what the trip audit and the
    route counts (:func:`transportmon.routes.count_routes`) both read, computed once (:func:`stop_rows`)."""

    trip_pos: np.ndarray
    """Position of each row's trip in the trips layer's ``frame`` (-1: a rejected trip)."""
    stop_pos: np.ndarray
    """Position of each row's stop in the trips layer's ``located``."""
    order: np.ndarray
    """The rows of the audited trips, by trip position and ``stop_sequence``."""


def stop_rows(trips: L.Layer, stop_times: L.Layer) -> StopRows:
    """The codes the reference checks left on the stop_times (hash joins by id where they no longer fit) and the
    audited trips' rows in order; ``trips.located`` must be set (the reference checks set it)."""
    sf = stop_times.frame
    trip_pos = stop_times.codes.trip_pos
    if trip_pos is None or len(trip_pos) != len(sf):
        trip_pos = index_in(sf["trip_id"], trips.frame["trip_id"])
    stop_pos = stop_times.codes.stop_pos
    if stop_pos is None or len(stop_pos) != len(sf):
        stop_pos = index_in(sf["stop_id"], pd.Series(trips.located.index, dtype="string"))
    order = trip_rules.stop_order(trip_pos, sf["stop_sequence"])
    # Rows of rejected trips (position -1) sort first and play no part: a slice, not a copy.
    return StopRows(trip_pos=trip_pos, stop_pos=stop_pos, order=order[int(np.count_nonzero(trip_pos < 0)):])


def default_parts() -> int:
    """How many parts :func:`audit_trips` reads the stop rows in by default: one per core, at most two (two parts on
    two threads take about half the time of one), and one when called off the main thread — a Dask worker's task,
    whose cluster already has a worker per core."""
    if threading.current_thread() is not threading.main_thread():
        return 1
    return max(1, min(2, os.cpu_count() or 1))


@dataclass(frozen=True)
class TripContext:
    """What the parts read (:func:`part_facts`, their lines), computed once on the calling thread: numpy and Arrow
    only, never changed after."""

    trip_pos: np.ndarray
    stop_pos: np.ndarray
    order: np.ndarray
    """As :class:`StopRows`."""
    pickup: np.ndarray
    """Of each stop_times row: whether passengers board (bool)."""
    dropoff: np.ndarray
    """Of each stop_times row: whether passengers alight (bool)."""
    stop_xy: np.ndarray
    """Coordinates of each located stop."""
    stops: trip_rules.StopFacts
    """Province, city and id of each located stop."""
    is_risky: np.ndarray
    """:func:`transportmon.rules.trips.risky_levels` of the rule parameters."""
    levels: LevelLookup | None
    """The designations against the located stops (None without any designation: every level is NA)."""
    day_code: np.ndarray
    """Each trip's service day as a code into ``days`` (-1: none)."""
    days: np.ndarray
    """The distinct service days (int64 days since the epoch)."""
    table: np.ndarray | None
    """:meth:`~transportmon.levels.LevelLookup.table` of ``days``, made once for the parts (None: too large)."""


def audit_trips(layers: dict[str, L.Layer], cfg: RuleConfig, *, release: bool = False,
                rows: StopRows | None = None, parts: int | None = None,
                ) -> tuple[gpd.GeoDataFrame, pd.DataFrame, dict[str, str]]:
    """Trip verdicts: stop → admin units once (done in the reference checks), designations by column joins.

    Every step is a column operation on integer codes (the position of each stop row's trip and stop), so the cost
    grows with stop_times rows and nothing is built per row in Python; see :mod:`transportmon.rules.trips`. With
    ``release``, the stop_times rows are dropped from their layer as soon as their codes are taken (``frame`` keeps
    only their number), so that the memory goes to the report. ``rows``: :func:`stop_rows` of the layers, when the
    caller computed them already. ``parts``: how many contiguous parts of the trips the stop rows are read in, each
    on a thread (default :func:`default_parts`; see the module's docstring); the result does not depend on it.

    :func:`prepare_trips` (the trips in ``trip_id`` order) then :meth:`TripAudit.part` of all the trips: a caller that
    writes the report as the trips are judged takes them a range at a time instead (:mod:`transportmon.streamed`).
    """
    audit = prepare_trips(layers, cfg, release=release, rows=rows, by_id=True)  # the report's order: no sort after
    # The findings are in the part's rows already (one per trip): none is left to attach.
    return audit.part(0, audit.n, parts), pd.DataFrame(columns=FINDING_COLUMNS), dict(audit.skipped)


@dataclass
class TripAudit:
    """The trip audit with what every range of trips shares computed (:func:`prepare_trips`); :meth:`part` judges a
    range. The report part of trips ``a…c`` is that of ``a…b`` followed by that of ``b…c``: every step reads a
    trip's own rows."""

    ctx: TripContext
    trips: pd.DataFrame
    """The audited trips (the positions of ``ctx``): the layer's order, or ``trip_id`` order (``by_id``)."""
    config: RuleConfig
    risk_data: bool
    skipped: dict[str, str]
    """Rules that cannot run (no risk_areas layer), with why."""
    ahead: tuple[int, Future[tuple[trip_rules.RowFacts, np.ndarray]]] | None = None
    """``(n, facts)``: :meth:`facts` of the first ``n`` trips, being read on a thread (:meth:`read_ahead`)."""

    @property
    def n(self) -> int:
        return len(self.trips)

    def part(self, first: int, n: int, parts: int | None = None) -> gpd.GeoDataFrame:
        """The report part (with findings) of the ``n`` trips from position ``first``.

        The stop rows are read in ``parts`` contiguous pieces (default :func:`default_parts`), each on a thread; the
        pool then draws the lines (GEOS) while the verdicts and messages are made on this thread, once."""
        ctx = self.ctx
        k = max(1, min(default_parts() if parts is None else int(parts), n))
        cuts = [first + n * i // k for i in range(k + 1)]
        pieces = [(t0, t1 - t0, slice(r0, r1)) for t0, t1, r0, r1 in zip(
            cuts[:-1], cuts[1:], [_first_row(ctx, t) for t in cuts[:-1]], [_first_row(ctx, t) for t in cuts[1:]])]
        with _no_gc(), ThreadPoolExecutor(max_workers=max(1, k - 1), thread_name_prefix="trip-audit") as pool:
            later = [pool.submit(part_facts, ctx, *piece) for piece in pieces[1:]]
            lines = pool.submit(_lines, ctx, first, n, slice(pieces[0][2].start, pieces[-1][2].stop))
            facts = [*part_facts(ctx, *pieces[0]), *(run for f in later for run in f.result())]
            joined = _joined(facts, first)
            del facts, later
            return self.judge(first, n, joined, lines)

    @cached_property
    def in_id_order(self) -> bool:
        """Whether the trips are in report order: ``trip_id`` strictly increasing, as Arrow compares text."""
        return increasing(text(self.trips["trip_id"]))

    def read_ahead(self, n: int) -> None:
        """Start reading the :meth:`facts` of the first ``n`` trips on a thread of its own, for whoever judges them
        (``ahead``) while the caller goes on."""
        n = min(int(n), self.n)
        if not n:
            return
        facts: Future[tuple[trip_rules.RowFacts, np.ndarray]] = Future()

        def read() -> None:  # numpy, Arrow and GEOS only, as on the audit's other threads
            try:
                facts.set_result(self.facts(0, n))
            except BaseException as exc:  # handed to whoever asks for the facts
                facts.set_exception(exc)

        threading.Thread(target=read, name="trip-facts-ahead", daemon=True).start()
        self.ahead = (n, facts)

    def facts(self, first: int, n: int) -> tuple[trip_rules.RowFacts, np.ndarray]:
        """What the stop rows say of the ``n`` trips from position ``first`` (trip positions counted from there),
        and their lines: numpy, Arrow and GEOS only, so a thread can make them while another judges other trips."""
        rows = slice(_first_row(self.ctx, first), _first_row(self.ctx, first + n))
        return _joined(part_facts(self.ctx, first, n, rows), first), _lines(self.ctx, first, n, rows)

    def judge(self, first: int, n: int, facts: trip_rules.RowFacts,
              lines: np.ndarray | Future[np.ndarray]) -> gpd.GeoDataFrame:
        """The report part of the ``n`` trips from position ``first`` from their :meth:`facts` (on this thread:
        pandas); ``lines`` may still be being drawn."""
        with _no_gc():
            ev = trip_rules.facts_evidence(self.trips.iloc[first:first + n], facts, self.ctx.stops)
            del facts
            decided, findings = trip_rules.decide(ev, self.config, risk_data=self.risk_data)
            del ev
            geoms = lines.result() if isinstance(lines, Future) else lines
        part = gpd.GeoDataFrame({
            "subject": pd.Categorical.from_codes(np.zeros(len(decided), dtype=np.int8), categories=["trip"]),
            "subject_id": findings["subject_id"].array,
            "verdict": decided["verdict"].array, "reason": decided["reason"].array,
            "passengers": decided["passengers"].array, "seats": decided["seats"].array,
            "occupancy": decided["occupancy"].to_numpy(), "cap": decided["cap"].to_numpy(),
            "max_passengers": decided["max_passengers"].to_numpy(),
            "excess_passengers": decided["excess_passengers"].array,
            "risk_stops": decided["risk_stops"].array, "risk_level": decided["risk_level"].array,
            "service_date": trip_rules.date_text(decided["service_date"]).array,
            "route_id": decided["route_id"].array, "scope": decided["scope"].array,
            "source_row": decided["row"].to_numpy(),
        }, geometry=geoms, crs="EPSG:4326")
        del decided, geoms  # the evidence the report does not show (provinces, cities …) goes before the findings come
        # One finding per trip, in the trips' order: the list column is built directly.
        return one_finding_each(part, findings)


def prepare_trips(layers: dict[str, L.Layer], cfg: RuleConfig, *, release: bool = False,
                  rows: StopRows | None = None, by_id: bool = False) -> TripAudit:
    """What every range of trips shares: the stop rows' codes and order, the stops' admin units and coordinates,
    the designations of the trips' days (``release``, ``rows``: as :func:`audit_trips`).

    ``by_id``: the trips in ``trip_id`` order (the report's), whatever the order of the file, so that a range of
    trips is a range of the report (:mod:`transportmon.streamed`): one sort of the ids and of the stop rows, only
    when they are not in that order already. A trip's verdict does not depend on where it stands."""
    trips, st, stops = layers["trips"], layers["stop_times"], layers["stops"]
    skipped: dict[str, str] = {}
    located = trips.located
    tf = trips.frame.reset_index(drop=True)
    if rows is None:
        rows = stop_rows(trips, st)
    if by_id:
        tf, rows = _by_id(tf, rows)
    intervals = layers["risk_areas"].intervals if "risk_areas" in layers else None
    lookup: LevelLookup | None = None
    if intervals is not None and len(intervals):
        lookup = LevelLookup(intervals, _point_units(located, stops, intervals),
                             pd.Index(located.index.astype(str), dtype="str"))
        days = tf["service_date"].to_numpy().astype("datetime64[s]").astype("datetime64[D]")
        day_code, distinct = factorize_ints(days.view(np.int64), np.isnat(days))
        table = lookup.table(distinct)
        del days
    else:
        day_code, distinct, table = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), None
        skipped.update({r: "no risk_areas layer" for r in ("TM201", "TM202")})
    stop_index = pd.Series(located.index, dtype="string")
    ctx = TripContext(
        trip_pos=rows.trip_pos, stop_pos=rows.stop_pos, order=rows.order,
        pickup=np.asarray(st.frame["pickup"], dtype=bool), dropoff=np.asarray(st.frame["dropoff"], dtype=bool),
        stop_xy=shapely.get_coordinates(stops.frame.geometry.to_numpy())[index_in(stop_index, stops.frame["stop_id"])],
        stops=trip_rules.stop_facts(located), is_risky=trip_rules.risky_levels(cfg), levels=lookup,
        day_code=day_code, days=distinct, table=table)
    if release:
        release_stop_rows(st)
    return TripAudit(ctx=ctx, trips=tf, config=cfg, risk_data="risk_areas" in layers, skipped=skipped)


def _by_id(tf: pd.DataFrame, rows: StopRows) -> tuple[pd.DataFrame, StopRows]:
    """The trips and their stop rows' codes renumbered in ``trip_id`` order (as Arrow sorts text)."""
    ids = text(tf["trip_id"])
    if increasing(ids):
        return tf, rows
    by_id = pc.sort_indices(ids).to_numpy()
    rank = np.empty(len(by_id), dtype=np.int64)
    rank[by_id] = np.arange(len(by_id))
    trip_pos = np.where(rows.trip_pos >= 0, rank[np.maximum(rows.trip_pos, 0)], -1)
    # Each trip's rows keep their order (by stop_sequence): the runs of the old order, taken in the trips' new order
    # (gathers, not a sort of ten million rows).
    length = np.bincount(rows.trip_pos[rows.order], minlength=len(by_id))
    start = np.cumsum(length) - length
    taken = length[by_id]
    at = np.repeat(start[by_id] - (np.cumsum(taken) - taken), taken)
    at += np.arange(len(at))
    return tf.take(by_id).reset_index(drop=True), StopRows(trip_pos=trip_pos, stop_pos=rows.stop_pos,
                                                           order=rows.order[at])


def _joined(facts: list[tuple[int, trip_rules.RowFacts]], first: int) -> trip_rules.RowFacts:
    """The :class:`~transportmon.rules.trips.RowFacts` of runs of trips (:func:`part_facts`) as one, trip positions
    counted from ``first``."""
    return trip_rules.joined_facts([f for _, f in facts], [at - first for at, _ in facts])


def release_stop_rows(stop_times: L.Layer) -> None:
    """Drop the stop_times rows from their layer once the trip audit holds their codes (``frame`` keeps only their
    number), so that the memory goes to the report."""
    stop_times.frame = pd.DataFrame(index=pd.RangeIndex(len(stop_times.frame)))
    stop_times.codes = L.StopTimesCodes()


#: Stop rows a thread reads at a time: a part's trips are taken in runs of about as many rows, whose arrays (a few MB)
#: the allocator reuses, where the arrays of a whole part of ten million rows would each be memory fresh from the system.
CHUNK_ROWS = 1 << 19


def part_facts(ctx: TripContext, first: int, n: int, rows: slice) -> list[tuple[int, trip_rules.RowFacts]]:
    """What the stop rows say of the ``n`` trips from position ``first`` (their rows: ``ctx.order[rows]``): the
    :class:`~transportmon.rules.trips.RowFacts` of each run of them (:func:`chunks`) with the position of its first
    trip, trip positions counted from there.

    Only the part's own rows are read, gathered in order, and only numpy does it: several parts run at once."""
    return [(at, _chunk_facts(ctx, at, m, r)) for at, m, r in chunks(ctx, first, n, rows)]


def chunks(ctx: TripContext, first: int, n: int, rows: slice) -> list[tuple[int, int, slice]]:
    """The ``n`` trips from position ``first`` (their rows: ``ctx.order[rows]``) in runs of about
    :data:`CHUNK_ROWS` rows (a trip's rows are never split): each run's first trip, number of trips and rows."""
    out = []
    trip, row, end = first, rows.start, rows.stop
    while trip < first + n:
        if end - row > CHUNK_ROWS:  # the run ends before the trip of the row CHUNK_ROWS on (or after a longer trip)
            after = max(int(ctx.trip_pos[ctx.order[row + CHUNK_ROWS]]), trip + 1)
            after_row = _first_row(ctx, after)
        else:
            after, after_row = first + n, end
        out.append((trip, after - trip, slice(row, after_row)))
        trip, row = after, after_row
    return out or [(first, n, rows)]


def _chunk_facts(ctx: TripContext, first: int, n: int, rows: slice) -> trip_rules.RowFacts:
    """:func:`part_facts` of one run of trips."""
    order = ctx.order[rows]
    tpos = ctx.trip_pos[order]
    tpos -= first
    spos = ctx.stop_pos[order]
    boards = ctx.pickup[order]
    boards |= ctx.dropoff[order]
    del order
    if ctx.levels is None:
        level = np.full(len(tpos), -1, dtype=np.int8)
    elif ctx.table is not None:  # each trip's day spread over its stop rows: a cell of the one table
        level = ctx.levels.level_codes(ctx.levels.winners(spos, ctx.day_code[first:first + n][tpos], ctx.days,
                                                          ctx.table))
    else:  # too many days for one table: the run's own days, renumbered, taken in blocks
        code = ctx.day_code[first:first + n]
        seen = np.zeros(len(ctx.days) + 1, dtype=bool)
        seen[code] = True  # code -1, a trip without a day, marks the last entry, which is no day
        local = np.cumsum(seen[:-1]) - 1
        level = ctx.levels.level_codes(ctx.levels.winners(spos, np.r_[local, -1][code][tpos],
                                                          ctx.days[seen[:-1]]))
    return trip_rules.row_facts(n, tpos, spos, boards, level, ctx.stops, ctx.is_risky)


@contextmanager
def _no_gc() -> Iterator[None]:
    """No cyclic garbage collection inside: a trip's line is a Python object the collector tracks, and millions of
    them made at once set off full collections over every object (half the time of drawing them, and with the GIL
    held). They hold no cycles; the collector runs again, as it was, after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _point_units(located: pd.DataFrame, stops: L.Layer, intervals: pd.DataFrame) -> pd.DataFrame:
    """(stop, unit) pairs for the designations: each located stop's admin units, and the risk areas drawn as their
    own polygons that it lies in."""
    from .geo.admin import area_units, point_units

    pu = point_units(pd.Series(located.index), located.reset_index(drop=True))
    if "geometry" in intervals.columns:
        areas = intervals[intervals["unit"].str.startswith("area:")].drop_duplicates("unit")
        if len(areas):
            areas = gpd.GeoDataFrame(areas, geometry="geometry", crs="EPSG:4326")
            pu = pd.concat([pu, area_units(stops.frame["stop_id"], stops.frame.geometry, areas)], ignore_index=True)
    return pu


def _first_row(ctx: TripContext, trip: int) -> int:
    """Position in ``ctx.order`` of the first row of a trip at position ``trip`` or later (a binary search: the rows
    are ordered by trip position)."""
    lo, hi = 0, len(ctx.order)
    while lo < hi:
        mid = (lo + hi) // 2
        if ctx.trip_pos[ctx.order[mid]] < trip:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _lines(ctx: TripContext, first: int, n: int, rows: slice) -> np.ndarray:
    """The lines of the ``n`` audited trips from position ``first`` (:func:`pattern_lines`), whose rows are
    ``ctx.order[rows]``: their rows counted and their stops gathered a run of :data:`CHUNK_ROWS` rows at a time (the
    rows are in trip order), into one array of 32-bit codes."""
    count = np.zeros(n, dtype=np.int64)
    stops = np.empty(rows.stop - rows.start, dtype=np.int32 if len(ctx.stop_xy) < 1 << 31 else np.int64)
    for start in range(rows.start, rows.stop, CHUNK_ROWS):
        order = ctx.order[start:min(start + CHUNK_ROWS, rows.stop)]
        trip = ctx.trip_pos[order] - first
        count[trip[0]:trip[-1] + 1] += np.bincount(trip - trip[0])
        np.take(ctx.stop_pos, order, out=stops[start - rows.start:start - rows.start + len(order)], mode="clip")
    return pattern_lines(count, stops, ctx.stop_xy)


def pattern_lines(count: np.ndarray, stops: np.ndarray, stop_xy: np.ndarray) -> np.ndarray:
    """:func:`trip_lines` of trips given by their number of stop rows (``count``) and each row's stop (codes into
    ``stop_xy``), the rows grouped by trip in stop order — drawn once per distinct sequence of stops.

    The trips of a route run the same few stop patterns day after day (3.3 million trips of ten million stop rows run
    20,000), and a line is an immutable object: every trip of a pattern holds the one line of it. Drawing a line per
    trip took 1.5 s with the GIL held and 0.9 GB at that size; finding the patterns is one Arrow hash over the bytes of
    each trip's stop codes (0.3 s, without the GIL).
    """
    n = len(count)
    if not n:
        return np.full(0, None, dtype=object)
    bounds = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(count, out=bounds[1:])
    code, at, pattern_stops = distinct_runs(stops, bounds)
    del bounds
    lines = trip_lines(len(at) - 1, np.repeat(np.arange(len(at) - 1), np.diff(at)), stop_xy[pattern_stops])
    return lines[code]


def trip_lines(n: int, trip: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """A line through each trip's stops in order (a point for a one-stop trip, None for none), from the stop rows'
    trips (grouped, in stop order) and coordinates."""
    count = np.bincount(trip, minlength=n)
    geoms = np.full(n, None, dtype=object)
    has_line = count >= 2
    if n and has_line.all():  # the common case: every row makes a line, nothing to pick out
        geoms[:] = shapely.linestrings(xy, indices=trip)
        return geoms
    multi = has_line[trip]
    if multi.any():
        line_of = np.cumsum(has_line) - 1  # each trip's number among the trips with a line
        geoms[has_line] = shapely.linestrings(xy[multi], indices=line_of[trip[multi]])
    single = np.flatnonzero(count == 1)
    if len(single):
        geoms[single] = shapely.points(xy[np.searchsorted(trip, single)])
    return geoms
