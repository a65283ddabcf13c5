"""The trip audit both engines run: trip verdicts, findings and lines from validated, cross-checked layers.

The memory engine (:func:`transportmon.pipeline.measure`) calls :func:`audit_trips` on the whole input; the Dask engine
(:mod:`transportmon.scale`) calls it on each partition of trips with their stop times. Every step is a column
operation on integer codes; see :mod:`transportmon.rules.trips`.
"""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import layers as L
from ._arrow import index_in
from .config import RuleConfig
from .designations import LevelLookup
from .report import one_finding_each
from .rules import trips as trip_rules
from .rules.registry import factorize_ints

__all__ = ["StopRows", "TripContext", "audit_trips", "default_parts", "stop_rows", "trip_lines", "trip_verdicts"]


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
    from ._arrow import index_in
    from .rules import trips as trip_rules

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
    """How many parts :func:`audit_trips` splits the trips into by default: one per core, at most two (numpy, Arrow
    and GEOS release the GIL, so two parts on two threads take about half the time of one), and one when called off
    the main thread — a Dask worker's task, whose cluster already has a worker per core."""
    if threading.current_thread() is not threading.main_thread():
        return 1
    return max(1, min(2, os.cpu_count() or 1))


@dataclass(frozen=True)
class TripContext:
    """What every part of the trip audit reads, computed once on the calling thread and only read by the parts."""

    config: RuleConfig
    trips: pd.DataFrame
    """The trips layer's frame, by position."""
    pickup: np.ndarray
    """Of each stop_times row: whether passengers board (bool)."""
    dropoff: np.ndarray
    """Of each stop_times row: whether passengers alight (bool)."""
    trip_pos: np.ndarray
    stop_pos: np.ndarray
    order: np.ndarray
    """As :class:`StopRows`: the audited trips' rows by trip position and ``stop_sequence``."""
    stops: trip_rules.StopFacts
    """Province, city and id of each located stop."""
    stop_xy: np.ndarray
    """Coordinates of each located stop."""
    levels: LevelLookup | None
    """The designations against the located stops (None without any designation: every level is NA)."""
    risk_data: bool
    """Whether a risk_areas layer was given (:func:`transportmon.rules.trips.decide`)."""


def audit_trips(layers: dict[str, L.Layer], cfg: RuleConfig, *, release: bool = False,
                rows: StopRows | None = None, parts: int | None = None,
                ) -> tuple[gpd.GeoDataFrame, pd.DataFrame, dict[str, str]]:
    """Trip verdicts: stop → admin units once (done in the reference checks), designations by column joins.

    Every step is a column operation on integer codes (the position of each stop row's trip and stop), so the cost
    grows with stop_times rows and nothing is built per row in Python; see :mod:`transportmon.rules.trips`. With
    ``release``, the stop_times rows are dropped from their layer as soon as their codes are taken (``frame`` keeps
    only their number), so that the memory goes to the report. ``rows``: :func:`stop_rows` of the layers, when the
    caller computed them already.

    The trips are audited in ``parts`` (default :func:`default_parts`) contiguous runs of trip positions, each on
    its own thread: a trip's verdict, finding and line depend on its own stop rows only, and a run of trips has a
    run of ``rows.order``. The parts' columns are joined in trip order (Arrow columns as chunks, no copies), so the
    result is the same whatever the number of parts.
    """
    trips, st, stops = layers["trips"], layers["stop_times"], layers["stops"]
    skipped: dict[str, str] = {}
    located = trips.located
    if rows is None:
        rows = stop_rows(trips, st)
    intervals = layers["risk_areas"].intervals if "risk_areas" in layers else None
    if intervals is not None and len(intervals):
        lookup: LevelLookup | None = LevelLookup(intervals, _point_units(located, stops, intervals),
                                                 pd.Index(located.index.astype(str), dtype="str"))
    else:
        lookup = None
        skipped.update({r: "no risk_areas layer" for r in ("TM201", "TM202")})
    stop_index = pd.Series(located.index, dtype="string")
    ctx = TripContext(
        config=cfg, trips=trips.frame.reset_index(drop=True),
        pickup=np.asarray(st.frame["pickup"], dtype=bool), dropoff=np.asarray(st.frame["dropoff"], dtype=bool),
        trip_pos=rows.trip_pos, stop_pos=rows.stop_pos, order=rows.order, stops=trip_rules.stop_facts(located),
        stop_xy=shapely.get_coordinates(stops.frame.geometry.to_numpy())[index_in(stop_index, stops.frame["stop_id"])],
        levels=lookup, risk_data="risk_areas" in layers)
    del rows
    if release:
        st.frame = pd.DataFrame(index=pd.RangeIndex(len(st.frame)))
        st.codes = L.StopTimesCodes()
    n = len(ctx.trips)
    k = max(1, min(default_parts() if parts is None else int(parts), n))
    cuts = [n * i // k for i in range(k + 1)]
    row_cuts = [_first_row(ctx, t) for t in cuts]
    geoms = np.full(n, None, dtype=object)
    pieces = [(ctx.trips.iloc[t0:t1], t0, slice(r0, r1))
              for t0, t1, r0, r1 in zip(cuts[:-1], cuts[1:], row_cuts[:-1], row_cuts[1:])]
    # A part's lines are a task of their own, taken beside its rules (the lines hold the GIL more, the rules less);
    # with one part, the lines are drawn on a second thread while the rules run on this one.
    tasks: list[Callable[[], object]] = []
    for p, t0, r in pieces:
        tasks += [partial(_audit_part, ctx, p, t0, r), partial(_part_lines, ctx, len(p), t0, r, geoms[t0:t0 + len(p)])]
    del pieces
    with _no_gc():
        results = run_tasks(tasks, max(2, k))
    del tasks
    findings = results[0][1]
    frames = [frame for frame, _ in results[::2]]
    del results
    columns = {name: _joined([f.pop(name) for f in frames]) for name in list(frames[0].columns)}
    del frames
    found = {name: columns.pop(name) for name in ("findings", "max_severity")}
    part = gpd.GeoDataFrame(columns, geometry=geoms, crs="EPSG:4326")
    del columns, geoms
    for name, values in found.items():  # after the geometry, as :func:`one_finding_each` adds them
        part[name] = values
    return part, findings, skipped


def run_tasks(tasks: list[Callable[[], object]], threads: int) -> list[object]:
    """The results of ``tasks``, in order, run on this thread and ``threads - 1`` more: each thread takes the next
    task not yet taken, so that a thread done early takes more. The first task's exception, if one raised, is raised
    here once every thread has stopped (none takes a task after it)."""
    results: list[object] = [None] * len(tasks)
    taken = iter(range(len(tasks)))
    lock = threading.Lock()
    failed: list[BaseException] = []

    def work() -> None:
        while not failed:
            with lock:
                i = next(taken, None)
            if i is None:
                return
            try:
                results[i] = tasks[i]()
            except BaseException as exc:  # noqa: BLE001 - raised again on the calling thread
                failed.append(exc)

    helpers = min(threads, len(tasks)) - 1
    if helpers <= 0:
        work()
    else:
        with ThreadPoolExecutor(max_workers=helpers, thread_name_prefix="trip-audit") as pool:
            running = [pool.submit(work) for _ in range(helpers)]
            work()
            for r in running:
                r.result()
    if failed:
        raise failed[0]
    return results


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


def _part_lines(ctx: TripContext, n: int, first: int, rows: slice, out: np.ndarray) -> None:
    """The lines of the ``n`` trips from position ``first`` (their stop rows: ``ctx.order[rows]``), into ``out``."""
    order = ctx.order[rows]
    out[:] = trip_lines(n, ctx.trip_pos[order] - first, ctx.stop_xy[ctx.stop_pos[order]])


def _audit_part(ctx: TripContext, trips: pd.DataFrame, first: int, rows: slice) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The report columns of ``trips`` (from position ``first``; their stop rows: ``ctx.order[rows]``) with their
    one finding each, and the findings' frame emptied (its columns only)."""
    decided, findings = trip_verdicts(ctx, trips, first, rows)
    part = pd.DataFrame({
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
    })
    del decided  # the evidence the report does not show (provinces, cities …) goes before the findings come
    # One finding per trip, in the trips' order: the list column is built directly.
    return one_finding_each(part, findings), findings.iloc[:0]


def trip_verdicts(ctx: TripContext, trips: pd.DataFrame, first: int = 0, rows: slice = slice(None),
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Evidence, verdict and finding of each of ``trips`` (the trips from position ``first``, whose stop rows are
    ``ctx.order[rows]``), as :func:`transportmon.rules.trips.decide` returns them.

    Only the part's own rows are read (gathered in order): numpy and Arrow work, which releases the GIL."""
    order = ctx.order[rows]
    tpos = ctx.trip_pos[order] - first
    spos = ctx.stop_pos[order]
    boards = ctx.pickup[order] | ctx.dropoff[order]
    del order
    if ctx.levels is None:
        level = np.full(len(tpos), -1, dtype=np.int8)
    else:  # each trip's day spread over its stop rows: the lookup is by stop and day codes, no text
        days = trips["service_date"].to_numpy().astype("datetime64[s]").astype("datetime64[D]")
        day_code, distinct = factorize_ints(days.view(np.int64), np.isnat(days))
        level = ctx.levels.level_codes(ctx.levels.winners(spos, day_code[tpos], distinct))
    ev = trip_rules.ordered_evidence(trips, tpos, spos, boards, level, ctx.stops, ctx.config)
    del tpos, spos, boards, level
    return trip_rules.decide(ev, ctx.config, risk_data=ctx.risk_data)


def _joined(columns: list[pd.Series]) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """One column of the parts' frames, in order: Arrow-backed ones as the parts' chunks (no copy), categoricals of
    one dtype as their codes, numpy ones concatenated (one value a trip)."""
    if not isinstance(columns[0].dtype, pd.api.extensions.ExtensionDtype):
        return columns[0].to_numpy() if len(columns) == 1 else np.concatenate([c.to_numpy() for c in columns])
    return columns[0].array if len(columns) == 1 else pd.concat(columns, ignore_index=True).array


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
