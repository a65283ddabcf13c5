"""The trip audit split into contiguous parts of trips on threads (:func:`transportmon.trip_audit.audit_trips`
``parts=``) gives the very frame of the unsplit audit, whatever the number of parts.

The reference is the audit in one part: the tests compare every column's dtype and values (the findings list column,
the messages and the lines included), the emptied findings frame and the skipped rules, on hand-made edge cases
(trips of one stop, round trips, pass-through stops, stops outside every polygon, rejected trips and stop rows, a
part whose trips have no stop rows) and on small generated worlds. The kernels the split path brought (the lines
without a selection, the designation lookup built once and asked per part) are checked against plain definitions,
and the parts' threads are checked never to enter ``warnings.catch_warnings`` (pandas does, on the calling thread).
"""

from __future__ import annotations

import threading
import warnings
from unittest import mock

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_trips import AS_OF, STOPS, interval, legs, trip, write_trip_world

from transportmon import levels, trip_audit
from transportmon.inputs import Inputs, load_inputs
from transportmon.levels import LevelLookup, resolve_levels
from transportmon.rules import registry
from transportmon.trip_audit import (
    CHUNK_ROWS,
    StopRows,
    audit_trips,
    chunks,
    default_parts,
    pattern_lines,
    stop_rows,
    trip_lines,
)

RISK = [interval("421127", "high", "2020-02-01"), interval("360400", "medium", "2020-02-04", "2020-02-05"),
        interval("360402", "low", "2020-02-05")]


def audited(inputs: Inputs, parts: int, rows: StopRows | None = None) -> tuple[gpd.GeoDataFrame, pd.DataFrame,
                                                                                dict[str, str]]:
    return audit_trips(inputs.layers, inputs.config, parts=parts, rows=rows)


def assert_same_audit(got: tuple, want: tuple) -> None:
    """Column names, dtypes and values (through Arrow, so list and struct columns compare too), the lines as WKB
    (None as None), the emptied findings frame and the skipped rules: all equal."""
    (part, findings, skipped), (ref, ref_findings, ref_skipped) = got, want
    assert list(part.columns) == list(ref.columns)
    assert part.dtypes.to_dict() == ref.dtypes.to_dict()
    assert part.index.equals(ref.index) and isinstance(part.index, pd.RangeIndex)
    assert part.crs == ref.crs and part.geometry.name == ref.geometry.name
    table = pa.Table.from_pandas(pd.DataFrame(part.drop(columns="geometry")), preserve_index=False)
    ref_table = pa.Table.from_pandas(pd.DataFrame(ref.drop(columns="geometry")), preserve_index=False)
    assert table.schema == ref_table.schema
    for name in table.column_names:
        assert table[name].equals(ref_table[name]), name
    assert shapely.to_wkb(part.geometry.to_numpy()).tolist() == shapely.to_wkb(ref.geometry.to_numpy()).tolist()
    assert list(findings.columns) == list(ref_findings.columns) and len(findings) == len(ref_findings) == 0
    assert findings.dtypes.to_dict() == ref_findings.dtypes.to_dict()
    assert skipped == ref_skipped


def assert_parts_agree(inputs: Inputs, rows: StopRows | None = None) -> gpd.GeoDataFrame:
    """The audit in 2, 3 and 7 parts, and in parts read a few rows at a time, equals the audit in one; the one-part
    frame."""
    with mock.patch.object(registry, "PARALLEL_ROWS", 1 << 30):  # the messages of both languages on this thread
        want = audited(inputs, 1, rows)
    for parts, chunk_rows in ((1, CHUNK_ROWS), (2, CHUNK_ROWS), (3, CHUNK_ROWS), (7, CHUNK_ROWS), (1, 1), (2, 2),
                              (3, 5)):
        with mock.patch.object(trip_audit, "CHUNK_ROWS", chunk_rows), mock.patch.object(registry, "PARALLEL_ROWS", 1):
            assert_same_audit(audited(inputs, parts, rows), want)
    return want[0]


# --------------------------------------------------------------------------------------------------------------------
# Hand-made edge cases


EDGE_TRIPS = [
    trip("a-one-stop", 10), trip("b-round", 30), trip("c-pass", 30), trip("d-far", 20, date="2020-02-04"),
    trip("e-bad-seats", 10, seats="x"), trip("f-intra", 40, date="2020-02-04", service_type="charter"),
    trip("g-dup", 5), trip("g-dup", 6), trip("h-unknown-stop", 9), trip("i-no-stops", 9), trip("j-other", 40,
                                                                                              service_type="other"),
    trip("k-many", 44, date="2020-02-06"), trip("l-unsold", ""), trip("m-bad-row", 3),
]
EDGE_STOP_TIMES = (
    legs("a-one-stop", "HM") + legs("b-round", "JA", "HM", "JA") + legs("c-pass", "JA", "~HM", "JB")
    + legs("d-far", "FAR", "JA") + legs("e-bad-seats", "JA", "HM") + legs("f-intra", "JA", "JA2", "JB")
    + legs("g-dup", "NC", "HM") + legs("h-unknown-stop", "JA", "NOPE") + legs("j-other", "HM", "HZ")
    + legs("k-many", "NC", ">JA", "HM", "<HZ", "~JB", "HM", "JA2") + legs("l-unsold", "JA", "HM")
    + legs("m-bad-row", "JA", "HM")
    + [dict(trip_id="ghost", stop_sequence=1, stop_id="JA", pickup=1, dropoff=0),
       dict(trip_id="m-bad-row", stop_sequence="x", stop_id="JA", pickup=1, dropoff=1)]
)


@pytest.fixture(scope="module", params=["risk", "no-risk"])
def edge_inputs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Inputs:
    folder = write_trip_world(tmp_path_factory.mktemp("edges"), EDGE_TRIPS, EDGE_STOP_TIMES,
                              RISK if request.param == "risk" else None)
    return load_inputs(folder, as_of=AS_OF, passengers_optional=True)


def test_edge_cases_agree_in_any_number_of_parts(edge_inputs: Inputs) -> None:
    ref = assert_parts_agree(edge_inputs)
    # The cases are there: rejected trips (a bad value, a repeated id, an unknown stop, a stop outside every polygon,
    # no stop rows, a bad stop row) and rows played no part; a one-stop trip is a point, every other a line.
    ids = ref["subject_id"].tolist()
    assert ids == ["a-one-stop", "b-round", "c-pass", "f-intra", "g-dup", "j-other", "k-many", "l-unsold"]
    assert len(edge_inputs.layers["trips"].rejected) == 6 and len(edge_inputs.layers["stop_times"].rejected) == 3
    kinds = dict(zip(ids, shapely.get_type_id(ref.geometry.to_numpy())))
    assert kinds.pop("a-one-stop") == shapely.GeometryType.POINT
    assert set(kinds.values()) == {shapely.GeometryType.LINESTRING}
    assert len(ref) == len(edge_inputs.layers["trips"].frame)
    assert set(ref["verdict"]) == ({"over-cap", "compliant", "not-applicable"} if edge_inputs.layers.get("risk_areas")
                                   else {"not-applicable"})


def test_every_trip_in_one_part_and_more_parts_than_trips(edge_inputs: Inputs) -> None:
    """Parts beyond the number of trips are none at all (no empty part): one trip each at most."""
    n = len(edge_inputs.layers["trips"].frame)
    want = audited(edge_inputs, 1)
    for parts in (n - 1, n, n + 5):
        assert_same_audit(audited(edge_inputs, parts), want)


def test_parts_whose_trips_have_no_stop_rows(edge_inputs: Inputs) -> None:
    """Trips without a stop row (the Dask engine's partitions can be so cut; here their rows are left out of the
    order): a part may have no rows at all, its trips have no line, no risk stop, no province."""
    layers = edge_inputs.layers
    full = stop_rows(layers["trips"], layers["stop_times"])
    n = len(layers["trips"].frame)
    tpos = full.trip_pos[full.order]
    middle = (tpos >= n // 3) & (tpos < 2 * n // 3 + 1)
    for keep in (~middle, middle, np.zeros(len(tpos), dtype=bool)):
        rows = StopRows(trip_pos=full.trip_pos, stop_pos=full.stop_pos, order=full.order[keep])
        ref = assert_parts_agree(edge_inputs, rows)
        without = ~np.isin(np.arange(n), tpos[keep])
        assert ref.geometry.isna().to_numpy()[without].all()
        assert (ref["scope"].to_numpy()[without] == "intra-city").all()
        assert ref.geometry.notna().to_numpy()[~without].all()


def test_too_many_days_for_one_table(edge_inputs: Inputs, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables of a day each (as when the days are too many): each part takes its own days in blocks, and every part
    count gives the audit with the one table."""
    want = audited(edge_inputs, 1)
    monkeypatch.setattr(levels, "_TABLE_CELLS", 1)
    for parts in (1, 2, 3):
        assert_same_audit(audited(edge_inputs, parts), want)


@pytest.mark.parametrize("chunk_rows", [1, 2, 3, 4, 100])
def test_chunks_cover_the_trips_in_runs_of_whole_trips(edge_inputs: Inputs, monkeypatch: pytest.MonkeyPatch,
                                                      chunk_rows: int) -> None:
    """Runs of a part's trips: back to back, every trip once, a trip's rows never split, no run longer than
    CHUNK_ROWS rows unless it is one trip; the rows of a part without trips, or whose trips have no rows, too."""
    monkeypatch.setattr(trip_audit, "CHUNK_ROWS", chunk_rows)
    layers = edge_inputs.layers
    rows = stop_rows(layers["trips"], layers["stop_times"])
    ctx = trip_audit.TripContext(trip_pos=rows.trip_pos, stop_pos=rows.stop_pos, order=rows.order, pickup=None,
                                 dropoff=None, stop_xy=None, stops=None, is_risky=None, levels=None, day_code=None,
                                 days=None, table=None)
    n = len(layers["trips"].frame)
    tpos = rows.trip_pos[rows.order]
    for first, last in ((0, n), (2, 5), (3, 3)):
        span = slice(int(np.searchsorted(tpos, first)), int(np.searchsorted(tpos, last)))
        runs = chunks(ctx, first, last - first, span)
        assert [at for at, _, _ in runs][0] == first
        assert sum(m for _, m, _ in runs) == last - first
        assert all(a + m == b for (a, m, _), (b, _, _) in zip(runs, runs[1:]))
        assert runs[0][2].start == span.start and runs[-1][2].stop == span.stop
        assert all(r.stop == s.start for (_, _, r), (_, _, s) in zip(runs, runs[1:]))
        for at, m, r in runs:
            assert (tpos[r] >= at).all() and (tpos[r] < at + m).all()
            assert r.stop - r.start <= chunk_rows or m == 1


def test_default_parts_are_two_on_the_main_thread_and_one_off_it() -> None:
    assert 1 <= default_parts() <= 2
    seen: list[int] = []
    worker = threading.Thread(target=lambda: seen.append(default_parts()))
    worker.start()
    worker.join()
    assert seen == [1]


def test_no_thread_but_the_main_one_touches_the_warning_filters(edge_inputs: Inputs,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """``warnings.catch_warnings`` is not thread-safe before Python 3.14: the parts' threads never enter it."""
    entered: list[str] = []

    class Spy(warnings.catch_warnings):
        def __enter__(self):  # type: ignore[no-untyped-def]
            entered.append(threading.current_thread().name)
            return super().__enter__()

    monkeypatch.setattr(registry, "PARALLEL_ROWS", 1)  # the messages' two languages on two threads
    monkeypatch.setattr(warnings, "catch_warnings", Spy)
    want = audited(edge_inputs, 1)
    got = audited(edge_inputs, 3)
    monkeypatch.undo()
    assert_same_audit(got, want)
    assert set(entered) <= {threading.main_thread().name}


# --------------------------------------------------------------------------------------------------------------------
# Generated worlds


GOOD_STOPS = [s for s in STOPS if s != "FAR"]


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[dict], list[dict], list[dict] | None]:
    """Up to a dozen trips of 0–6 stops (repeated, passed through, boarding or alighting only), on a few dates, most
    of them valid; now and then a repeated id, a bad value, a date that is none, a stop outside every polygon (FAR)
    or none at all (NOPE): rejected trips and rows among the audited ones."""
    n = draw(st.integers(0, 12))
    trips, stop_times = [], []
    for i in range(n):
        rare = draw(st.integers(0, 9)) == 7  # one trip in ten has something wrong (hypothesis favours 0)
        trips.append(trip(
            f"t{draw(st.integers(0, i))}" if rare else f"t{i}",
            draw(st.sampled_from([99, "", "x"])) if rare else draw(st.integers(0, 40)),
            draw(st.sampled_from([40, 45, 53])),
            draw(st.sampled_from(["2020-02-04", "2020-02-05", "2020-02-06", "bad" if rare else "2020-02-05"])),
            draw(st.sampled_from(["scheduled", "charter", "scheduled", "other"]))))
        stops = draw(st.lists(st.sampled_from(GOOD_STOPS + (["FAR", "NOPE"] if rare else [])), min_size=0 if rare else 1,
                              max_size=6))
        flags = draw(st.lists(st.sampled_from(["", "~", ">", "<", ""]), min_size=len(stops), max_size=len(stops)))
        stop_times += legs(trips[-1]["trip_id"], *(f + s for f, s in zip(flags, stops)))
    risk = draw(st.sampled_from([RISK, RISK[:1], None]))
    return draw(st.permutations(trips)), draw(st.permutations(stop_times)), risk


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                                    HealthCheck.too_slow])
@given(world=worlds())
def test_generated_worlds_agree_in_any_number_of_parts(world: tuple, tmp_path_factory: pytest.TempPathFactory,
                                                       ) -> None:
    trips, stop_times, risk = world
    folder = write_trip_world(tmp_path_factory.mktemp("world"), trips, stop_times, risk)
    inputs = load_inputs(folder, as_of=AS_OF, passengers_optional=True)
    if "trips" in inputs.layers and "stop_times" in inputs.layers:
        assert len(assert_parts_agree(inputs)) == len(inputs.layers["trips"].frame)


# --------------------------------------------------------------------------------------------------------------------
# The kernels


def plain_lines(n: int, trip: np.ndarray, xy: np.ndarray) -> list[object]:
    """One trip at a time: its rows' points as a line (a point for one row, None for none)."""
    out: list[object] = []
    for t in range(n):
        pts = xy[trip == t]
        out.append(None if not len(pts) else shapely.Point(pts[0]) if len(pts) == 1 else shapely.LineString(pts))
    return out


@settings(max_examples=100, deadline=None, derandomize=True)
@given(counts=st.lists(st.integers(0, 4), max_size=12), seed=st.integers(0, 2**16))
def test_trip_lines_are_the_plain_lines(counts: list[int], seed: int) -> None:
    """Every trip of two stops or more (no selection), and mixes with trips of no or one stop."""
    trip_of = np.repeat(np.arange(len(counts)), counts)
    xy = np.random.default_rng(seed).random((len(trip_of), 2))
    got = trip_lines(len(counts), trip_of, xy)
    assert got.dtype == object and len(got) == len(counts)
    for g, w in zip(got, plain_lines(len(counts), trip_of, xy)):
        assert (g is None and w is None) or (g is not None and w is not None and g.equals_exact(w, 0))


@settings(max_examples=100, deadline=None, derandomize=True)
@given(patterns=st.lists(st.lists(st.integers(0, 5), max_size=4), min_size=1, max_size=4),
       picks=st.lists(st.integers(0, 3), max_size=20), wide=st.booleans())
def test_pattern_lines_are_each_trips_plain_line(patterns: list[list[int]], picks: list[int], wide: bool) -> None:
    """Trips drawn from a few stop patterns (empty, one stop, a stop twice, the same stops in another order): each
    trip's line is the plain line of its own rows, and trips of one pattern hold one line object."""
    chosen = [patterns[p % len(patterns)] for p in picks]
    count = np.array([len(c) for c in chosen], dtype=np.int64)
    stops = np.array([s for c in chosen for s in c], dtype=np.int64 if wide else np.int32)
    stop_xy = np.random.default_rng(len(picks)).random((6, 2))
    got = pattern_lines(count, stops, stop_xy)
    assert got.dtype == object and len(got) == len(chosen)
    want = plain_lines(len(chosen), np.repeat(np.arange(len(chosen)), count), stop_xy[stops])
    for g, w in zip(got, want):
        assert (g is None and w is None) or (g is not None and w is not None and g.equals_exact(w, 0))
    for i, a in enumerate(chosen):
        for j, b in enumerate(chosen):
            if a == b and len(a):
                assert got[i] is got[j]


@settings(max_examples=60, deadline=None, derandomize=True)
@given(keys=st.lists(st.sampled_from(["A", "B", "C", "Z"]), max_size=30),
       days=st.lists(st.sampled_from(["2020-02-03", "2020-02-04", "2020-02-05", "2020-02-06"]), min_size=30,
                     max_size=30), cut=st.integers(0, 30))
def test_level_lookup_answers_parts_as_resolve_levels_answers_all(keys: list[str], days: list[str], cut: int) -> None:
    """The lookup built once, asked for two parts of the queries (codes into the keys, each part's own days),
    gives resolve_levels' levels for all of them."""
    intervals = pd.DataFrame([dict(row=0, unit="360000", level="medium", valid_from="2020-02-04", valid_to=""),
                              dict(row=1, unit="360400", level="high", valid_from="2020-02-05",
                                   valid_to="2020-02-05"),
                              dict(row=2, unit="360402", level="low", valid_from="2020-02-03", valid_to="")])
    intervals["valid_from"] = pd.to_datetime(intervals["valid_from"])
    intervals["valid_to"] = pd.to_datetime(intervals["valid_to"].replace("", None))
    pu = pd.DataFrame({"key": ["A", "A", "B", "B", "B", "C"], "unit": ["360000", "360400", "360000", "360400",
                                                                        "360402", "999999"]})
    names = pd.Index(["A", "B", "C", "Z"], dtype="str")
    queries = pd.DataFrame({"key": keys, "date": pd.to_datetime(days[:len(keys)])})
    want = resolve_levels(intervals, pu, queries, columns=("level",))["level"].cat.codes.to_numpy()
    lookup = LevelLookup(intervals, pu, names)
    got = []
    for lo, hi in ((0, min(cut, len(keys))), (min(cut, len(keys)), len(keys))):
        day = queries["date"].to_numpy()[lo:hi].astype("datetime64[D]").view(np.int64)
        distinct, code = np.unique(day, return_inverse=True)
        got.append(lookup.level_codes(lookup.winners(names.get_indexer(keys[lo:hi]), code, distinct)))
    np.testing.assert_array_equal(np.concatenate(got), want)
