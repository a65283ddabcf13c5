"""The trip audit both engines run: trip verdicts, findings and lines from validated, cross-checked layers.

The memory engine (:func:`transportmon.pipeline.measure`) calls :func:`audit_trips` on the whole input; the Dask engine
(:mod:`transportmon.scale`) calls it on each partition of trips with their stop times. Every step is a column
operation on integer codes; see :mod:`transportmon.rules.trips`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import layers as L
from .config import RuleConfig
from .report import one_finding_each

__all__ = ["StopRows", "audit_trips", "stop_rows", "trip_lines", "trip_verdicts"]


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


def audit_trips(layers: dict[str, L.Layer], cfg: RuleConfig, *, release: bool = False,
                rows: StopRows | None = None) -> tuple[gpd.GeoDataFrame, pd.DataFrame, dict[str, str]]:
    """Trip verdicts: stop → admin units once (done in the reference checks), designations by column joins.

    Every step is a column operation on integer codes (the position of each stop row's trip and stop), so the cost
    grows with stop_times rows and nothing is built per row in Python; see :mod:`transportmon.rules.trips`. With
    ``release``, the stop_times rows are dropped from their layer as soon as their codes are taken (``frame`` keeps
    only their number), so that the memory goes to the report. ``rows``: :func:`stop_rows` of the layers, when the
    caller computed them already.
    """
    from ._arrow import index_in
    from .rules import trips as trip_rules

    trips, st, stops = layers["trips"], layers["stop_times"], layers["stops"]
    skipped: dict[str, str] = {}
    located = trips.located
    tf = trips.frame.reset_index(drop=True)
    sf = st.frame
    stop_index = pd.Series(located.index, dtype="string")
    if rows is None:
        rows = stop_rows(trips, st)
    trip_pos, stop_pos, order = rows.trip_pos, rows.stop_pos, rows.order
    del rows
    sf = sf[["pickup", "dropoff"]]  # all the rules still read of the rows
    if release:
        st.frame = pd.DataFrame(index=pd.RangeIndex(len(st.frame)))
        st.codes = L.StopTimesCodes()
    # The trips' lines are built on a second thread (GEOS releases the GIL) while the rules run on this one.
    stop_xy = shapely.get_coordinates(stops.frame.geometry.to_numpy())[index_in(stop_index, stops.frame["stop_id"])]
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="trip-lines") as pool:
        lines = pool.submit(trip_lines, len(tf), trip_pos[order], stop_xy[stop_pos[order]])
        decided, findings = trip_verdicts(layers, cfg, tf, sf, trip_pos, stop_pos, order, skipped)
        geoms = lines.result()
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
    part = one_finding_each(part, findings)
    return part, findings.iloc[:0], skipped


def trip_verdicts(layers: dict[str, L.Layer], cfg: RuleConfig, tf: pd.DataFrame, sf: pd.DataFrame,
                  trip_pos: np.ndarray, stop_pos: np.ndarray, order: np.ndarray, skipped: dict[str, str],
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Evidence, verdict and finding of every trip (``tf``), from its stop rows' ``pickup``/``dropoff`` (``sf``) and
    their trip and stop positions."""
    from .designations import LEVEL_DTYPE, resolve_levels
    from .geo.admin import area_units, point_units
    from .rules import trips as trip_rules

    stops = layers["stops"]
    located = layers["trips"].located
    # Designation level of every stop row on its trip's date: distinct stops meet polygons once.
    intervals = layers["risk_areas"].intervals if "risk_areas" in layers else None
    if intervals is not None and len(intervals):
        pu = point_units(pd.Series(located.index), located.reset_index(drop=True))
        if "geometry" in intervals.columns:
            areas = intervals[intervals["unit"].str.startswith("area:")].drop_duplicates("unit")
            if len(areas):
                areas = gpd.GeoDataFrame(areas, geometry="geometry", crs="EPSG:4326")
                pu = pd.concat([pu, area_units(stops.frame["stop_id"], stops.frame.geometry, areas)],
                               ignore_index=True)
        # Stops and dates as categoricals (the trip's date code spread over its stop rows): the lookup factorizes
        # 30,000 stops and some days, not ten million strings and dates.
        day_code, days = pd.factorize(tf["service_date"].to_numpy().astype("datetime64[s]"), use_na_sentinel=True)
        row_date = pd.Categorical.from_codes(np.r_[day_code, -1][trip_pos], categories=pd.DatetimeIndex(days))
        key = pd.Categorical.from_codes(stop_pos, categories=pd.Index(located.index.astype(str), dtype="str"))
        queries = pd.DataFrame({"key": key, "date": row_date})
        levels = resolve_levels(intervals, pu, queries, columns=("level",))["level"]
        del row_date, key, queries
    else:
        levels = pd.Series(pd.Categorical.from_codes(np.full(len(sf), -1), dtype=LEVEL_DTYPE))
        skipped.update({r: "no risk_areas layer" for r in ("TM201", "TM202")})
    ev = trip_rules.trip_evidence(tf, sf, located, levels, cfg, trip_pos=trip_pos, order=order, stop_pos=stop_pos)
    del levels
    decided, findings = trip_rules.decide(ev, cfg, risk_data="risk_areas" in layers)
    del ev
    return decided, findings


def trip_lines(n: int, trip: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """A line through each trip's stops in order (a point for a one-stop trip, None for none), from the stop rows'
    trips (grouped, in stop order) and coordinates."""
    count = np.bincount(trip, minlength=n)
    geoms = np.full(n, None, dtype=object)
    multi = count[trip] >= 2
    if multi.any():
        line_of = np.cumsum(count >= 2) - 1  # each trip's number among the trips with a line
        geoms[count >= 2] = shapely.linestrings(xy[multi], indices=line_of[trip[multi]])
    single = np.flatnonzero(count == 1)
    if len(single):
        geoms[single] = shapely.points(xy[np.searchsorted(trip, single)])
    return geoms
