"""Route counting (:func:`transportmon.routes.count_routes`) against a plain pandas version of what it counts.

The fast version hashes each trip's itinerary as integer codes and sorts integer pair keys; the reference below
joins each trip's stop ids as text and groups by it, trip by trip, as the definition reads (DESIGN §9): trip rows per
route and service date (audited and rejected trips, but not a repeated trip id), trips per route and stop pattern
(audited trips only), and the stops where a route's passengers board or alight. Random small layers (hypothesis):
routes with several patterns and ties, trips without a route, rejected trips, one-stop and stopless trips, a stop
twice in a trip, stop rows out of order, stop ids holding the pattern separator; each counted three ways (the
reference checks' codes, joins by id, the trip audit's shared :class:`~transportmon.trip_audit.StopRows`).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transportmon import layers as L
from transportmon import route_patterns as P
from transportmon import routes as R
from transportmon._arrow import index_in
from transportmon.rules.trips import stop_order
from transportmon.trip_audit import stop_rows

STOPS = ["S1", "S2", "S3", "S4", "甲站", "S1\x1fS2", ""]  # one id holds the separator: its text is that of two
ROUTES = ["R1", "R2", "R10", "线路", ""]
DAYS = [pd.Timestamp("2020-03-01"), pd.Timestamp("2020-03-02"), pd.Timestamp("2020-03-09"), pd.NaT]


def reference(tf: pd.DataFrame, rejected: pd.DataFrame, sf: pd.DataFrame) -> R.RouteCounts:
    """What count_routes counts, the plain way: a Python loop over trips, text patterns, pandas group-bys."""
    ran = rejected[rejected["reason"] != "duplicate-id"] if len(rejected) else rejected
    rows = pd.concat([tf[["route_id", "service_date"]], ran[["route_id", "service_date"]]], ignore_index=True)
    rows = rows[rows["route_id"].notna().to_numpy()]
    days = (rows.assign(service_date=pd.to_datetime(rows["service_date"]).dt.floor("D"))
            .groupby(["route_id", "service_date"], dropna=False, sort=True).size().reset_index(name="trips"))
    patterns, stops = [], set()
    seen: set[str] = set()
    for trip_id, route in zip(tf["trip_id"], tf["route_id"]):
        first = trip_id not in seen  # stop rows belong to the first audited trip of their id
        seen.add(trip_id)
        mine = sf[sf["trip_id"] == trip_id] if first else sf.iloc[:0]
        mine = mine.sort_values("stop_sequence", kind="stable")
        if pd.isna(route):
            continue
        patterns.append((route, P.SEP.join(mine["stop_id"])))
        stops |= {(route, s) for s, p, d in zip(mine["stop_id"], mine["pickup"], mine["dropoff"]) if p or d}
    pat = pd.DataFrame(patterns, columns=["route_id", "pattern"])
    pat = pat.groupby(["route_id", "pattern"], sort=True).size().reset_index(name="trips")
    out = R.RouteCounts(
        days=pd.DataFrame({"route_id": days["route_id"].astype("str"),
                           "service_date": days["service_date"].to_numpy().astype("datetime64[s]"),
                           "trips": days["trips"].to_numpy(dtype=np.int64)}),
        patterns=pd.DataFrame({"route_id": pat["route_id"].astype("str"), "pattern": pat["pattern"].astype("str"),
                               "trips": pat["trips"].to_numpy(dtype=np.int64)}),
        stops=pd.DataFrame(sorted(stops), columns=["route_id", "stop_id"]).astype("str"),
        rows=len(tf) + len(ran), without_route=len(tf) + len(ran) - len(rows))
    return out


def build(tf: pd.DataFrame, rejected: pd.DataFrame, sf: pd.DataFrame, *, codes: bool, located: bool,
          ) -> tuple[L.Layer, L.Layer]:
    """The trips and stop_times layers count_routes reads: with the positions the reference checks leave, or
    without (then trips and stops are joined by id)."""
    trips = L.Layer(name="trips", frame=tf, rejected=rejected, rows=len(tf) + len(rejected))
    if located:
        trips.located = pd.DataFrame({"county": "c", "city": "c", "province": "p"}, index=pd.Index(STOPS))
    st_layer = L.Layer(name="stop_times", frame=sf, rejected=L.empty_rejected(), rows=len(sf))
    if codes:
        st_layer.codes = L.StopTimesCodes(trip_pos=index_in(sf["trip_id"], tf["trip_id"]),
                                          stop_pos=index_in(sf["stop_id"], pd.Series(STOPS, dtype="string")))
    return trips, st_layer


def assert_counts_equal(got: R.RouteCounts, want: R.RouteCounts) -> None:
    for attr in ("days", "patterns", "stops"):
        pd.testing.assert_frame_equal(getattr(got, attr), getattr(want, attr), obj=attr)
    assert (got.rows, got.without_route) == (want.rows, want.without_route)


trip_st = st.tuples(st.sampled_from(ROUTES + [None]), st.sampled_from(DAYS),
                    st.lists(st.tuples(st.sampled_from(STOPS), st.integers(0, 5), st.booleans(), st.booleans()),
                             max_size=5))


@settings(max_examples=150, deadline=None, derandomize=True)
@given(audited=st.lists(trip_st, max_size=14), rejected=st.lists(st.tuples(trip_st, st.sampled_from(
    ["duplicate-id", "bad-stop-times", "unknown-stop"])), max_size=4), seed=st.integers(0, 2**16))
def test_counts_equal_the_plain_group_by(audited: list, rejected: list, seed: int) -> None:
    rng = np.random.default_rng(seed)
    trips, rows = [], []
    for k, (route, day, legs) in enumerate(audited):
        trips.append((f"T{k}", route, day))
        rows += [(f"T{k}", stop, seq, p, d) for stop, seq, p, d in legs]
    rej = []
    for k, ((route, day, legs), reason) in enumerate(rejected):
        # a repeated id is an audited trip's (its rows are that trip's); another rejected trip keeps its own id
        tid = trips[k % len(trips)][0] if reason == "duplicate-id" and trips else f"X{k}"
        rej.append({"subject": "trip", "subject_id": tid, "reason": reason, "route_id": route, "service_date": day})
        rows += [(tid, stop, seq, p, d) for stop, seq, p, d in legs]
    rows += [("ghost", "S1", 1, True, True)]  # a row of no trip
    tf = pd.DataFrame(trips, columns=["trip_id", "route_id", "service_date"]).astype(
        {"trip_id": "string", "route_id": "string"})
    tf["service_date"] = tf["service_date"].astype("datetime64[s]")
    rejected_frame = pd.DataFrame(rej, columns=["subject", "subject_id", "reason", "route_id", "service_date"])
    sf = pd.DataFrame(rows, columns=["trip_id", "stop_id", "stop_sequence", "pickup", "dropoff"])
    sf = sf.iloc[rng.permutation(len(sf))].reset_index(drop=True)  # stop rows in any order
    sf = sf.astype({"trip_id": "string", "stop_id": "string", "stop_sequence": "Int64"})
    want = reference(tf, rejected_frame, sf)
    for codes, located in ((True, True), (False, True), (False, False)):
        trips_layer, st_layer = build(tf, rejected_frame, sf, codes=codes, located=located)
        assert_counts_equal(R.count_routes(trips_layer, st_layer), want)
        if located:  # the trip audit's rows, shared
            assert_counts_equal(R.count_routes(trips_layer, st_layer, rows=stop_rows(trips_layer, st_layer)), want)


def small_world() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Route A: two trips S1→S2→S3, two S3→S1 (a tie: S1… sorts first), one S2 alone; B: a stopless trip; one
    trip without route; a rejected trip of A on another day."""
    tf = pd.DataFrame({"trip_id": ["a1", "a2", "a3", "a4", "a5", "b1", "n1"],
                       "route_id": ["A", "A", "A", "A", "A", "B", None],
                       "service_date": pd.to_datetime(["2020-03-01"] * 5 + ["2020-03-02", "2020-03-01"])}).astype(
        {"trip_id": "string", "route_id": "string"})
    tf["service_date"] = tf["service_date"].astype("datetime64[s]")
    legs = [("a1", "S1", 1), ("a1", "S2", 2), ("a1", "S3", 3), ("a2", "S3", 3), ("a2", "S1", 1), ("a2", "S2", 2),
            ("a3", "S3", 1), ("a3", "S1", 2), ("a4", "S3", 1), ("a4", "S1", 2), ("a5", "S2", 1), ("n1", "S4", 1),
            ("x1", "S4", 1), ("x1", "S4", 2)]
    sf = pd.DataFrame(legs, columns=["trip_id", "stop_id", "stop_sequence"]).astype(
        {"trip_id": "string", "stop_id": "string", "stop_sequence": "Int64"})
    sf["pickup"] = sf["stop_id"] != "S3"
    sf["dropoff"] = sf["stop_id"] != "S2"
    rejected = pd.DataFrame({"subject": ["trip"], "subject_id": ["x1"], "reason": ["bad-stop-times"],
                             "route_id": ["A"], "service_date": pd.to_datetime(["2020-03-05"])})
    return tf, rejected, sf


@pytest.mark.parametrize("codes", [True, False])
def test_patterns_ties_and_route_facts(codes: bool) -> None:
    tf, rejected, sf = small_world()
    trips, st_layer = build(tf, rejected, sf, codes=codes, located=True)
    counts = R.count_routes(trips, st_layer)
    assert counts.patterns.to_numpy().tolist() == [
        ["A", "S1\x1fS2\x1fS3", 2], ["A", "S2", 1], ["A", "S3\x1fS1", 2], ["B", "", 1]]
    assert counts.stops.to_numpy().tolist() == [["A", "S1"], ["A", "S2"], ["A", "S3"]]
    assert counts.days.to_numpy().tolist() == [["A", pd.Timestamp("2020-03-01"), 5],
                                               ["A", pd.Timestamp("2020-03-05"), 1],
                                               ["B", pd.Timestamp("2020-03-02"), 1]]
    assert (counts.rows, counts.without_route) == (8, 1)
    # Of two patterns with two trips each, the first by its stop ids draws the route: S1 → S2 → S3.
    stops = gpd.GeoDataFrame({"stop_id": ["S1", "S2", "S3"]}, crs="EPSG:4326",
                             geometry=gpd.points_from_xy([115.0, 115.1, 115.2], [29.0, 29.1, 29.2]))
    facts = R.route_facts(counts, stops)
    assert facts.geometry[0].coords[:] == [(115.0, 29.0), (115.1, 29.1), (115.2, 29.2)]
    assert facts.stops[facts.stops["route"] == 0]["stop_id"].tolist() == ["S1", "S2", "S3"]
    assert facts.geometry[1] is None  # B's one trip has no stop


def test_a_stop_twice_in_a_trip_and_one_stop_trips() -> None:
    tf = pd.DataFrame({"trip_id": ["t1", "t2", "t3"], "route_id": ["R", "R", "R"],
                       "service_date": pd.to_datetime(["2020-03-01"] * 3)}).astype(
        {"trip_id": "string", "route_id": "string"})
    sf = pd.DataFrame([("t1", "S1", 1, True, False), ("t1", "S2", 2, False, False), ("t1", "S1", 3, False, True),
                       ("t2", "S1", 1, True, True), ("t3", "S1", 1, False, False)],
                      columns=["trip_id", "stop_id", "stop_sequence", "pickup", "dropoff"]).astype(
        {"trip_id": "string", "stop_id": "string", "stop_sequence": "Int64"})
    counts = R.count_routes(*build(tf, L.empty_rejected(), sf, codes=True, located=True))
    # t2 and t3 share a pattern though passengers board only on t2; S2 is passed, not served
    assert counts.patterns.to_numpy().tolist() == [["R", "S1", 2], ["R", "S1\x1fS2\x1fS1", 1]]
    assert counts.stops.to_numpy().tolist() == [["R", "S1"]]


def test_wide_itinerary_values_give_the_same_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many routes × many stops: the itineraries are hashed as 64-bit integers, with the same result."""
    tf, rejected, sf = small_world()
    narrow = R.count_routes(*build(tf, rejected, sf, codes=True, located=True))
    monkeypatch.setattr(P, "NARROW", 0)
    assert_counts_equal(R.count_routes(*build(tf, rejected, sf, codes=True, located=True)), narrow)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(n=st.integers(0, 60), na=st.integers(1, 9), nb=st.sampled_from([1, 3, 2**20, 2**33]),
       weighted=st.booleans(), seed=st.integers(0, 2**16))
def test_pairs_are_the_distinct_pairs_with_their_counts(n: int, na: int, nb: int, weighted: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, na, n)
    b = rng.integers(0, min(nb, 5), n) * (nb // min(nb, 5))  # spread over the range, 32 or 64 bits
    w = rng.integers(1, 4, n)
    frame = pd.DataFrame({"a": a, "b": b, "w": w if weighted else 1})
    want = frame.groupby(["a", "b"], sort=True)["w"].sum()
    ra, rb, count = P.code_pairs(a, b, nb, weights=w if weighted else None)
    assert list(zip(ra.tolist(), rb.tolist())) == want.index.tolist()
    assert count.tolist() == want.tolist()
    assert count.dtype == np.int64


def test_stop_rows_order_keeps_the_rows_of_audited_trips() -> None:
    tf, rejected, sf = small_world()
    trips, st_layer = build(tf, rejected, sf, codes=True, located=True)
    rows = stop_rows(trips, st_layer)
    order = stop_order(rows.trip_pos, sf["stop_sequence"])
    np.testing.assert_array_equal(rows.order, order[rows.trip_pos[order] >= 0])
    assert (rows.trip_pos == -1).sum() == 2  # x1, rejected
