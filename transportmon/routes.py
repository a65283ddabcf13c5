"""Coach routes (DESIGN §9): trips counted per route and day, each route's stops and line, its verdict on a day.

Three steps, so that what depends on the as-of date is cheap to redo day after day (``transportmon timeline``):

1. :func:`count_routes` — from the validated trips (rejected ones too: a trip rejected for its occupancy or its
   stops still ran) and stop times: trip rows per route and service date, the stop patterns of the route's audited
   trips (:mod:`transportmon.route_patterns`), and the stops where its passengers board or alight. Column
   operations; the counts of partitions of trips add up (:func:`merge_counts`), which is how the Dask engine counts.
2. :func:`route_facts` — per route: the line through the stops of its most frequent pattern, its stops in order,
   and the admin units those stops lie in (what a designation is looked up by).
3. :func:`route_verdicts` (evidence and verdict, no messages) and :func:`route_subjects` (the report's route
   features with their findings) for a day; the rules are :mod:`transportmon.rules.routes`.

Nothing here reads files, prints or reads the clock.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from . import layers as L
from . import route_patterns as P
from ._arrow import STOPS_TYPE, index_in, list_column, offsets_of, text
from .config import RuleConfig
from .designations import LEVEL_DTYPE
from .geo.admin import area_units, point_units
from .levels import resolve_levels
from .report import one_finding_each
from .rules import routes as route_rules
from .trip_audit import StopRows

__all__ = ["RULE_IDS", "FactsLater", "RouteCounts", "RouteFacts", "count_routes", "layer_facts", "merge_counts",
           "route_facts", "route_subjects", "route_verdicts", "route_warnings", "skip_reason", "stop_levels"]

RULE_IDS = tuple(r.id for r in sorted(route_rules.RULES, key=lambda r: r.id))


@dataclass
class RouteCounts:
    """What the route audit counts of trips; the counts of several partitions of trips add up."""

    days: pd.DataFrame
    """``route_id``, ``service_date`` (NaT for a row whose date cannot be read), ``trips``: trip rows per route and
    day."""
    patterns: pd.DataFrame
    """``route_id``, ``pattern`` (the stop ids of a trip in order, joined by
    :data:`~transportmon.route_patterns.SEP`), ``trips``: audited trips."""
    stops: pd.DataFrame
    """``route_id``, ``stop_id``: the stops where passengers of the route's audited trips board or alight."""
    rows: int = 0
    """Trip rows looked at (audited, and rejected but for a repeated id)."""
    without_route: int = 0
    """Those of them without a ``route_id``."""
    later: Callable[[], P.PatternCounts] | None = field(default=None, repr=False, compare=False)
    """With ``count_routes(..., patterns=False)``: the count of the patterns and stops still to make (numpy and
    Arrow: any thread may call it), for :meth:`count_patterns`."""

    def count_patterns(self, counted: P.PatternCounts | None = None) -> RouteCounts:
        """Fill ``patterns`` and ``stops`` left by ``count_routes(..., patterns=False)`` (pandas: on the main
        thread), from ``later()``'s result when another thread has it (``counted``), else counting now; the counts."""
        if self.later is not None:
            self.patterns, self.stops = P.pattern_frames(self.later() if counted is None else counted)
            self.later = None
        return self


@dataclass
class RouteFacts:
    """Per route, what does not depend on the as-of date (:func:`route_facts`)."""

    routes: pd.Index
    """Route ids, sorted; a route's position is its code in the frames below."""
    days: pd.DataFrame
    """``route`` (code), ``day`` (datetime64[D]), ``trips``; dated rows only."""
    stops: pd.DataFrame
    """``route`` (code), ``stop_id``: the route's boarding/alighting stops, grouped by route, in the order of its
    most frequent pattern (stops only other patterns serve follow, by id)."""
    geometry: np.ndarray
    """The line through the stops of the route's most frequent pattern (a point for one stop, None for none)."""
    stop_at: np.ndarray | None = None
    """Per row of ``stops``: the position of its stop in ``stop_keys`` (a day's designations are looked up once per
    distinct stop)."""
    stop_keys: pd.Index | None = None
    """The distinct stops of the routes."""
    units: pd.DataFrame | None = None
    """``key`` (stop id), ``unit``: the admin units (and risk polygons) of the routes' stops."""
    intervals: pd.DataFrame | None = None
    """The risk designations (:func:`transportmon.designations.normalize_designations`), or None."""
    counts: RouteCounts | None = field(default=None, repr=False)


def _empty_counts(rows: int = 0, without_route: int = 0) -> RouteCounts:
    return RouteCounts(
        days=pd.DataFrame({"route_id": pd.Series(dtype="str"), "service_date": pd.Series(dtype="datetime64[s]"),
                           "trips": pd.Series(dtype="int64")}),
        patterns=pd.DataFrame({"route_id": pd.Series(dtype="str"), "pattern": pd.Series(dtype="str"),
                               "trips": pd.Series(dtype="int64")}),
        stops=pd.DataFrame({"route_id": pd.Series(dtype="str"), "stop_id": pd.Series(dtype="str")}),
        rows=rows, without_route=without_route)


def count_routes(trips: L.Layer, stop_times: L.Layer | None = None, *, rows: StopRows | None = None,
                 patterns: bool = True) -> RouteCounts:
    """Count the trips of every route: per service date (every trip row that ran), per stop pattern (audited
    trips), and the stops where its passengers board or alight.

    Parameters
    ----------
    trips
        The validated trips: ``frame`` (audited) and ``rejected`` (rows rejected by validation or by the reference
        checks keep their ``route_id`` and ``service_date``: :data:`transportmon.layers.KEPT_WHEN_REJECTED`). A
        row rejected for repeating an earlier trip id is the same trip: it does not count again.
    stop_times
        The validated stop times, with the positions the reference checks left (``codes.trip_pos``,
        ``codes.stop_pos``) when they still fit; else trips and stops are joined by id.
    rows
        The stop rows' trip and stop positions and order (:func:`transportmon.trip_audit.stop_rows`), when the
        caller has them for the trip audit too: they are not computed twice.
    patterns
        Count the stop patterns and stops now (most of the work); else they are left to
        :meth:`RouteCounts.count_patterns`, with the layers as they are now (the caller may release them meanwhile).

    Returns
    -------
    RouteCounts
    """
    tf = trips.frame
    if "route_id" not in tf.columns:
        return _empty_counts()
    routes = [tf["route_id"]]
    dates = [tf["service_date"]]
    rj = trips.rejected
    if len(rj) and {"route_id", "service_date"} <= set(rj.columns):
        ran = (rj["reason"].astype(str) != "duplicate-id").to_numpy()
        routes.append(rj["route_id"][ran])
        dates.append(rj["service_date"][ran])
    route_all = pd.concat([pd.Series(r.array, dtype="string") for r in routes], ignore_index=True)
    code, names = pd.factorize(route_all, sort=True)  # frames sorted by route, as merge_counts sorts them
    names = pd.Index(np.asarray(names, dtype=object).astype(str))
    day = [np.asarray(pd.to_datetime(d), dtype="datetime64[s]") for d in dates]
    day = day[0] if len(day) == 1 else np.concatenate(day)
    has = code >= 0
    counts = _empty_counts(rows=len(code), without_route=len(code) - int(np.count_nonzero(has)))
    if counts.without_route == len(code):
        return counts
    routed, day = (code[has], day[has]) if counts.without_route else (code, day)
    d = day.astype("datetime64[D]")
    undated = np.isnat(d)
    dated = d[~undated] if undated.any() else d
    first = dated.min() if len(dated) else np.datetime64("1970-01-01", "D")
    span = int((dated.max() - first).astype(np.int64)) + 1 if len(dated) else 0
    offset = d.view(np.int64) - first.astype(np.int64)
    if len(dated) < len(d):
        offset[undated] = span  # an unreadable date sorts last
    r, k, n = P.code_pairs(routed, offset, span + 1)
    counts.days = pd.DataFrame({
        "route_id": names[r].astype("str"),
        "service_date": np.where(k == span, np.datetime64("NaT"), first + k).astype("datetime64[s]"),
        "trips": n})
    if stop_times is not None and len(tf) and len(stop_times.frame):
        # The stop rows as numpy and Arrow now, whatever the caller releases before they are counted.
        counts.later = functools.partial(P.count_patterns, P.pattern_rows(trips, stop_times, code[:len(tf)], names,
                                                                          rows))
        if patterns:
            counts.count_patterns()
    return counts


def merge_counts(parts: list[RouteCounts]) -> RouteCounts:
    """The counts of several partitions of trips as one (a trip is in one partition only)."""
    parts = [p for p in parts if p is not None]
    if not parts:
        return _empty_counts()
    out = _empty_counts(rows=sum(p.rows for p in parts), without_route=sum(p.without_route for p in parts))
    days = pd.concat([p.days for p in parts], ignore_index=True)
    if len(days):
        out.days = days.groupby(["route_id", "service_date"], dropna=False, sort=True)["trips"].sum().reset_index()
    patterns = pd.concat([p.patterns for p in parts], ignore_index=True)
    if len(patterns):
        out.patterns = patterns.groupby(["route_id", "pattern"], sort=True)["trips"].sum().reset_index()
    stops = pd.concat([p.stops for p in parts], ignore_index=True)
    if len(stops):
        out.stops = stops.drop_duplicates().sort_values(["route_id", "stop_id"], ignore_index=True)
    return out


def route_facts(counts: RouteCounts, stops: gpd.GeoDataFrame | None, located: pd.DataFrame | None = None,
                intervals: pd.DataFrame | None = None) -> RouteFacts:
    """Per route: its dated trip counts, its line, its stops in order and their admin units.

    Parameters
    ----------
    counts
        From :func:`count_routes` (or :func:`merge_counts`).
    stops
        The stops layer (``stop_id``, point geometry, WGS-84).
    located
        Admin units of the stops (``county``, ``city``, ``province``), indexed by ``stop_id``.
    intervals
        Risk designations (:func:`transportmon.designations.normalize_designations`); None without a risk layer.

    Returns
    -------
    RouteFacts
    """
    routes = pd.Index(sorted(counts.days["route_id"].astype(str).unique()), dtype="str")
    d = counts.days[counts.days["service_date"].notna().to_numpy()]
    days = pd.DataFrame({"route": index_in(d["route_id"], pd.Series(routes)),
                         "day": d["service_date"].to_numpy().astype("datetime64[D]"),
                         "trips": d["trips"].to_numpy(dtype=np.int64)})
    # The most frequent pattern of each route; of equals, the first by its stop ids (deterministic).
    top = counts.patterns.sort_values(["route_id", "trips", "pattern"], ascending=[True, False, True],
                                      kind="stable").drop_duplicates("route_id")
    top_route = index_in(top["route_id"], pd.Series(routes))
    lists = pc.split_pattern(text(top["pattern"]), P.SEP)
    flat = np.asarray(lists.flatten().to_numpy(zero_copy_only=False), dtype=object).astype(str)
    owner = np.repeat(top_route, pc.list_value_length(lists).to_numpy(zero_copy_only=False).astype(np.int64))
    geometry = np.full(len(routes), None, dtype=object)
    if stops is not None and len(flat):
        at = index_in(pd.Series(flat, dtype="string"), stops["stop_id"])
        xy = shapely.get_coordinates(stops.geometry.to_numpy())[np.maximum(at, 0)][at >= 0]
        geometry = _lines(len(routes), owner[at >= 0], xy)
    # The route's stops: in the order of its main pattern (first visit), the others after, by id.
    first = pd.DataFrame({"route": owner, "stop_id": flat, "pos": np.arange(len(flat))}).drop_duplicates(
        ["route", "stop_id"])
    rs = pd.DataFrame({"route": index_in(counts.stops["route_id"], pd.Series(routes)),
                       "stop_id": counts.stops["stop_id"].astype(str).to_numpy()})
    rs = rs.merge(first, on=["route", "stop_id"], how="left").sort_values(
        ["route", "pos", "stop_id"], na_position="last", kind="stable", ignore_index=True)[["route", "stop_id"]]
    stop_at, stop_keys = pd.factorize(rs["stop_id"])
    stop_keys = pd.Index(np.asarray(stop_keys, dtype=object).astype(str), dtype="str")
    units = None
    if intervals is not None and len(intervals) and located is not None and len(rs):
        keys = pd.Series(stop_keys, dtype="str")
        units = point_units(keys, located.reindex(keys.to_numpy()).reset_index(drop=True))
        if "geometry" in intervals.columns and stops is not None:
            areas = intervals[intervals["unit"].astype(str).str.startswith("area:")].drop_duplicates("unit")
            if len(areas):
                areas = gpd.GeoDataFrame(areas, geometry="geometry", crs="EPSG:4326")
                mine = stops[stops["stop_id"].astype(str).isin(keys).to_numpy()]
                units = pd.concat([units, area_units(mine["stop_id"], mine.geometry, areas)], ignore_index=True)
    return RouteFacts(routes=routes, days=days, stops=rs, geometry=geometry, stop_at=np.asarray(stop_at),
                      stop_keys=stop_keys, units=units, intervals=intervals, counts=counts)


def layer_facts(counts: RouteCounts, layers: dict[str, L.Layer]) -> RouteFacts:
    """:func:`route_facts` from the audit's validated layers: stops, their admin units (left on the trips layer by
    the reference checks, else located here) and the risk designations."""
    return route_facts(counts, *_facts_layers(layers))


class FactsLater:
    """:func:`layer_facts` of counts whose patterns ``count_routes(..., patterns=False)`` left to count: counted
    here on a thread of its own (numpy and Arrow, which release the GIL: it runs beside the judging of the first
    trips, and no pandas, which is not thread-safe), the rest (pandas) on the caller's thread by :meth:`result`.
    What it reads of ``layers`` is taken now."""

    def __init__(self, counts: RouteCounts, layers: dict[str, L.Layer]) -> None:
        self._counts, self._facts_of = counts, _facts_layers(layers)
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="routes")
        self._counted: Future[P.PatternCounts] | None = pool.submit(counts.later) if counts.later is not None else None
        pool.shutdown(wait=False)  # the count runs on; the thread ends with it

    def done(self) -> bool:
        """Whether :meth:`result` would not wait for the count."""
        return self._counted is None or self._counted.done()

    def result(self) -> RouteFacts:
        """The facts (waits for the count; raises what it raised)."""
        counted = self._counted.result() if self._counted is not None else None
        return route_facts(self._counts.count_patterns(counted), *self._facts_of)


def _facts_layers(layers: dict[str, L.Layer]) -> tuple[gpd.GeoDataFrame | None, pd.DataFrame | None,
                                                         pd.DataFrame | None]:
    """What :func:`route_facts` reads of the validated layers: stops, their admin units, risk designations."""
    stops = layers["stops"].frame if "stops" in layers else None
    located = layers["trips"].located if "trips" in layers else None
    if located is None and stops is not None and "boundaries" in layers:  # the Dask engine located them apart
        from .geo.admin import locate

        located = locate(stops.geometry, layers["boundaries"].frame)
        located.index = stops["stop_id"].to_numpy()
    risk = layers.get("risk_areas")
    return stops, located, risk.intervals if risk is not None else None


def _lines(n: int, owner: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """A line through each route's points in order (``owner``: the route of each point, grouped), a point where a
    route has one, None where it has none."""
    count = np.bincount(owner, minlength=n)
    geoms = np.full(n, None, dtype=object)
    multi = count[owner] >= 2
    if multi.any():
        line_of = np.cumsum(count >= 2) - 1
        geoms[count >= 2] = shapely.linestrings(xy[multi], indices=line_of[owner[multi]])
    single = np.flatnonzero(count == 1)
    if len(single):
        geoms[single] = shapely.points(xy[np.searchsorted(owner, single)])
    return geoms


def stop_levels(facts: RouteFacts, days: Sequence[str | pd.Timestamp]) -> np.ndarray:
    """Designation level codes (:data:`~transportmon.designations.LEVEL_DTYPE`, -1 for none) of the routes' stops
    (``facts.stop_keys``) on each of ``days``: one lookup for many days (a timeline), shape (days, stops)."""
    keys = facts.stop_keys if facts.stop_keys is not None else pd.Index([], dtype="str")
    out = np.full((len(days), len(keys)), -1, dtype=np.int8)
    if facts.units is None or facts.intervals is None or not len(keys) or not len(days):
        return out
    dates = np.array([np.datetime64(pd.Timestamp(d).strftime("%Y-%m-%d"), "D") for d in days])
    queries = pd.DataFrame({
        "key": pd.Categorical.from_codes(np.tile(np.arange(len(keys)), len(dates)), categories=keys),
        "date": np.repeat(dates, len(keys))})
    got = resolve_levels(facts.intervals, facts.units, queries, columns=("level",))["level"]
    return pd.Categorical(got, dtype=LEVEL_DTYPE).codes.astype(np.int8).reshape(len(dates), len(keys))


def route_evidence(facts: RouteFacts, config: RuleConfig, day: str | pd.Timestamp, *,
                   levels: np.ndarray | None = None) -> pd.DataFrame:
    """Evidence of every route on ``day``: trips in the baseline window and in the 7 days ending on ``day``, and
    the designation level of its stops on ``day`` (the most specific designation in effect wins, as for trips).

    ``levels``: the stops' level codes on ``day`` (a row of :func:`stop_levels`), when the caller looked up many
    days at once; else they are looked up here.

    Returns
    -------
    pandas.DataFrame
        ``route_id``, ``row`` (the route's position), ``baseline_trips``, ``baseline_days``, ``recent_trips``,
        ``recent_from``, ``as_of``, ``risk_level`` (the highest level among its stops), ``risk_stops`` (its stops
        at a level of ``risk_levels``), ``high_stops`` (its stops in a high-risk area).
    """
    n = len(facts.routes)
    today = np.datetime64(pd.Timestamp(day).strftime("%Y-%m-%d"), "D")
    start = today - (route_rules.RECENT_DAYS - 1)
    first, last = np.datetime64(config.baseline_from, "D"), np.datetime64(config.baseline_to, "D")
    d = facts.days

    def trips_between(lo: np.datetime64, hi: np.datetime64) -> np.ndarray:
        inside = ((d["day"] >= lo) & (d["day"] <= hi)).to_numpy()
        return np.bincount(d["route"].to_numpy()[inside], weights=d["trips"].to_numpy()[inside],
                           minlength=n).astype(np.int64)

    rs = facts.stops
    if levels is None:
        levels = stop_levels(facts, [day])[0]
    level = levels[facts.stop_at] if facts.stop_at is not None and len(rs) else np.full(len(rs), -1, dtype=np.int8)
    route = rs["route"].to_numpy()
    top = np.full(n, -1, dtype=np.int8)
    np.maximum.at(top, route, level)
    risky = np.isin(level, [LEVEL_DTYPE.categories.get_loc(lv) for lv in config.risk_levels
                            if lv in LEVEL_DTYPE.categories])
    high = level == LEVEL_DTYPE.categories.get_loc(route_rules.JUSTIFYING_LEVEL)
    stop_text = text(rs["stop_id"])
    return pd.DataFrame({
        "route_id": facts.routes.to_numpy(dtype=object).astype(str), "row": np.arange(n, dtype=np.int64),
        "baseline_trips": trips_between(first, last),
        "baseline_days": int((last - first).astype(np.int64)) + 1,
        "recent_trips": trips_between(start, today),
        "recent_from": pd.Timestamp(start), "as_of": pd.Timestamp(today),
        "risk_level": pd.Categorical.from_codes(top, dtype=LEVEL_DTYPE),
        "risk_stops": _stop_lists(route[risky], stop_text.filter(pa.array(risky)), n),
        "high_stops": _stop_lists(route[high], stop_text.filter(pa.array(high)), n),
    })


def _stop_lists(route: np.ndarray, stops: pa.Array, n: int) -> pd.arrays.ArrowExtensionArray:
    return list_column(offsets_of(route, n), stops, STOPS_TYPE)


def route_verdicts(facts: RouteFacts, config: RuleConfig, day: str | pd.Timestamp, *,
                   levels: np.ndarray | None = None) -> pd.DataFrame:
    """Evidence and verdict of every route on ``day``, without messages: what a timeline counts per day.

    ``route_verdicts(facts, cfg, d)["verdict"].value_counts()`` are the route counts of ``audit(as_of=d)``. A
    timeline looks the stops' levels up once for all its days (:func:`stop_levels`) and passes each day's row as
    ``levels``.
    """
    return route_rules.decide(route_evidence(facts, config, day, levels=levels), config, findings=False)[0]


def route_subjects(facts: RouteFacts, config: RuleConfig, day: str | pd.Timestamp) -> gpd.GeoDataFrame:
    """The report's route features on ``day`` (DESIGN §4, §9), each with its one TM3xx finding."""
    decided, findings = route_rules.decide(route_evidence(facts, config, day), config)
    part = gpd.GeoDataFrame({
        "subject": "route", "subject_id": decided["route_id"].to_numpy(),
        "verdict": decided["verdict"].astype(str).to_numpy(),
        "reason": decided["reason"].astype(object).where(decided["reason"].notna(), None).to_numpy(),
        "route_id": decided["route_id"].to_numpy(),
        "baseline_trips_per_day": decided["baseline_trips_per_day"].to_numpy(dtype=float),
        "recent_trips": decided["recent_trips"].to_numpy(dtype=np.int64),
        "restored_ratio": decided["restored_ratio"].to_numpy(dtype=float),
        "risk_stops": decided["risk_stops"].array, "risk_level": decided["risk_level"].array,
        "source_row": decided["row"].to_numpy(dtype=np.int64),
    }, geometry=facts.geometry, crs="EPSG:4326")
    return one_finding_each(part, findings) if len(part) else part


def skip_reason(counts: RouteCounts | None) -> str:
    """Why the route rules do not run on a trips layer that gave no route."""
    if counts is None or not counts.rows:
        return "no trip rows"
    if counts.without_route == counts.rows:
        return "no route_id in the trips layer"
    return "no trip with a route_id and a service date"


def route_warnings(counts: RouteCounts | None, trips_rows: int) -> list[str]:
    """What the user must know about the route audit: no ``route_id`` at all, or rows that belong to no route."""
    if counts is None or not trips_rows:
        return []
    if counts.rows and counts.without_route == counts.rows:
        return ["the trips layer has no route_id values (no such column, or it is empty): routes are not audited "
                f"({', '.join(RULE_IDS)} skipped); add a route_id (线路编号) column to audit the restoration of "
                "routes"]
    if counts.without_route:
        return [f"{counts.without_route} of {counts.rows} trip rows have no route_id: they count for no route"]
    return []
