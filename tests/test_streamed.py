"""The report written while the trips are judged (:mod:`transportmon.streamed`) is the report of the whole-report path.

``audit(..., out=X.parquet)`` with the memory engine judges the trips a chunk at a time and hands each piece to a
GeoParquet sink that encodes row groups on its own thread; the metadata goes in when the file closes. The reference is
the plain path: ``audit()`` (every trip judged at once, one report frame) then ``AuditResult.write``. Compared: the
returned report (every column's dtype and value), the metadata, and the file (table, schema metadata and bytes), on
the embedded sample (checkpoints, routes, waivers) and on hand-made trips whose rejected rows fall between the
audited ones, with chunks of one trip, a few, and all; with ``--only``; trips out of id order (the plain path, same
result); a failure mid-way (the old report stays, no temporary file).
"""

from __future__ import annotations

import io
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyarrow.parquet as pq
import pytest
from rich.console import Console
from test_trip_audit_parts import EDGE_STOP_TIMES, EDGE_TRIPS, RISK
from test_trips import AS_OF, write_trip_world
from typer.testing import CliRunner

import transportmon
from transportmon import cli, spill, streamed
from transportmon._errors import ConfigError, InputError
from transportmon.cli import app
from transportmon.cli_common import print_summary
from transportmon.cli_progress import stage_text
from transportmon.inputs import load_inputs
from transportmon.io import geoparquet
from transportmon.progress import STAGES, Stage
from transportmon.report import assemble
from transportmon.rules.trips import stop_order
from transportmon.trip_audit import TripAudit, audit_trips, prepare_trips

WAIVERS = pd.DataFrame([
    # an over-cap trip waived on its day, another whose waiver lapsed, one naming a trip without a violation
    dict(subject="trip", subject_id="k-many", rule_id="TM201", document="W1", valid_from="2020-01-01",
         valid_until="2020-12-31"),
    dict(subject="trip", subject_id="b-round", rule_id="TM201", document="W2", valid_from="2020-01-01",
         valid_until="2020-01-31"),
    dict(subject="trip", subject_id="c-pass", rule_id="TM201", document="W3", valid_from="2020-01-01",
         valid_until="2020-12-31"),
    # a rejected waiver row: a subject after the trips in the report ("waivers" > "trip")
    dict(subject="trip", subject_id="k-many", rule_id="TM201", document="W9", valid_from="not a date",
         valid_until="2020-12-31"),
])


@pytest.fixture(scope="module", params=["plain", "waivers"])
def edge_world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = write_trip_world(tmp_path_factory.mktemp("stream"), EDGE_TRIPS, EDGE_STOP_TIMES, RISK)
    if request.param == "waivers":
        WAIVERS.to_csv(folder / "waivers.csv", index=False)
    return folder


def assert_same_result(got: transportmon.AuditResult, want: transportmon.AuditResult, got_file: Path,
                       want_file: Path) -> None:
    pd.testing.assert_frame_equal(got.report, want.report)
    assert got.report.crs == want.report.crs
    assert got.metadata == want.metadata
    a, b = pq.read_table(got_file), pq.read_table(want_file)
    assert a.equals(b) and a.schema.metadata == b.schema.metadata
    assert pq.ParquetFile(got_file).metadata.num_row_groups == pq.ParquetFile(want_file).metadata.num_row_groups
    assert got_file.read_bytes() == want_file.read_bytes()


def reference(tmp_path: Path, only: str | None = None, **kwargs: object) -> tuple[transportmon.AuditResult, Path]:
    want = transportmon.audit(**kwargs)  # type: ignore[arg-type]
    out = tmp_path / "want.parquet"
    want.write(out, only=only)
    return want, out


@pytest.mark.parametrize("chunk", [1, 2, 3, 1 << 19])
def test_edge_trips_streamed_in_chunks_are_the_plain_report(edge_world: Path, tmp_path: Path, chunk: int,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streamed, "TRIP_CHUNK", chunk)
    monkeypatch.setattr(geoparquet, "ROW_GROUP_ROWS", 4)  # row groups that end inside a piece and across pieces
    want, want_file = reference(tmp_path, data=edge_world, as_of=AS_OF)
    rejected = want.report[want.report["verdict"] == "rejected"]
    assert (rejected["subject"] == "trip").sum() >= 6  # rejected trips fall between the audited ones
    calls = []
    monkeypatch.setattr(streamed, "write_while_judging", spy(streamed.write_while_judging, calls))
    got_file = tmp_path / "got.parquet"
    got = transportmon.audit(edge_world, as_of=AS_OF, out=got_file)
    assert got.written == "parquet" and len(calls) == 1
    assert_same_result(got, want, got_file, want_file)
    if (edge_world / "waivers.csv").exists():
        # counted over the pieces: one waived, one lapsed, one naming a trip without a violation
        assert got.metadata["waivers"] == {"rows": 4, "rejected": 1, "waived": 1, "expired": 1,
                                           "not_yet_in_effect": 0, "unmatched": 1}
        assert got.report["subject"].iloc[-1] == "waivers"  # written after the trips


def spy(fn, calls: list):  # type: ignore[no-untyped-def]
    def wrapped(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return fn(*args, **kwargs)
    return wrapped


@pytest.mark.parametrize("chunk", [1, 7, 1 << 19])
@pytest.mark.parametrize("only", [None, "violation"])
def test_the_sample_streamed_is_the_plain_report(tmp_path: Path, chunk: int, only: str | None,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Checkpoints and routes before the trips, waivers on them all, ``--only``."""
    monkeypatch.setattr(streamed, "TRIP_CHUNK", chunk)
    want, want_file = reference(tmp_path, only=only)
    got_file = tmp_path / "got.parquet"
    got = transportmon.audit(out=got_file, only=only)
    assert_same_result(got, want, got_file, want_file)
    if only:
        assert set(pq.read_table(got_file)["max_severity"].to_pylist()) == {"violation"}
        assert b'"only": "violation"' in pq.read_schema(got_file).metadata[b"transportmon"]


@pytest.mark.parametrize("chunk", [1, 3, 1 << 19])
@pytest.mark.parametrize("only", [None, "warning"])
def test_trips_not_kept_give_the_same_file_metadata_and_summary(edge_world: Path, tmp_path: Path, chunk: int,
                                                                 only: str | None,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """``keep_trips=False`` (the command line without a map): the trips only in the file, their counts and the rows
    the summary lists in summaries; the terminal summary is the one of the whole report."""
    monkeypatch.setattr(streamed, "TRIP_CHUNK", chunk)
    kept, kept_file = tmp_path / "kept.parquet", tmp_path / "light.parquet"
    want = transportmon.audit(edge_world, as_of=AS_OF, out=kept, only=only)
    got = transportmon.audit(edge_world, as_of=AS_OF, out=kept_file, only=only, keep_trips=False)
    assert got.metadata == want.metadata and kept_file.read_bytes() == kept.read_bytes()
    assert got.spilled is not None and got.spilled.folder is None
    assert sum(p.rows for p in got.spilled.parts) == int((want.report["subject"] == "trip").sum())
    assert set(got.report["subject"]) == set(want.report["subject"]) - {"trip"}
    assert summary_text(got, only, None) == summary_text(want, only, None)
    # heads (the rows a piece keeps of each group) as short as the rows shown: the totals still add up
    monkeypatch.setattr(spill, "HEAD_ROWS", 2)
    got = transportmon.audit(edge_world, as_of=AS_OF, out=kept_file, only=only, keep_trips=False)
    for shown in (1, 2):
        assert summary_text(got, only, shown) == summary_text(want, only, shown)
    with pytest.raises(ConfigError, match="keep_trips=False"):
        got.write(tmp_path / "again.parquet")


def summary_text(result: transportmon.AuditResult, only: str | None, shown: int | None) -> str:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    print_summary(result, "r.parquet", "en", console, only=only, shown=shown)
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_progress_counts_the_trips_judged_then_the_report(edge_world: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streamed, "TRIP_CHUNK", 3)
    stages: list[Stage] = []
    transportmon.audit(edge_world, as_of=AS_OF, out=tmp_path / "r.parquet", progress=stages.append)
    keys = [s.key for s in stages]
    assert keys == sorted(keys, key=STAGES.index)  # in the order of a run
    counted = [(s.done, s.total) for s in stages if s.key == "trips" and s.done is not None]
    assert counted == [(0, 7), (3, 7), (6, 7)] and keys[-1] == "report"  # 7 audited trips, 3 at a time
    assert stage_text(Stage("trips", done=3, total=3_327_705), "en") == "judging coach trips 3/3,327,705"


def test_the_command_draws_the_trips_judged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    drawn = io.StringIO()
    monkeypatch.setattr(cli, "err", Console(file=drawn, force_terminal=True, width=120))
    res = CliRunner().invoke(app, ["audit", "--out", str(tmp_path / "r.parquet"), "--lang", "en", "--fail-on", "never"])
    assert res.exit_code == 0, res.output
    assert "judging coach trips 0/62" in drawn.getvalue()  # the sample's 62 audited trips, in one range


def test_judging_ranges_of_trips_is_judging_them_all(tmp_path: Path) -> None:
    folder = write_trip_world(tmp_path / "w", EDGE_TRIPS, EDGE_STOP_TIMES, RISK)
    inputs = load_inputs(folder, as_of=AS_OF)
    whole, _, _ = audit_trips(inputs.layers, inputs.config)
    trips = prepare_trips(load_inputs(folder, as_of=AS_OF).layers, inputs.config)
    for cuts in ([0, trips.n], [0, 1, trips.n], [0, 3, 4, trips.n], list(range(trips.n + 1))):
        pieces = [trips.judge(a, b - a, *trips.facts(a, b - a)) for a, b in zip(cuts[:-1], cuts[1:])]
        pd.testing.assert_frame_equal(assemble(pieces, "p"), assemble([whole], "p"))
        assert pd.concat(pieces, ignore_index=True)["subject_id"].tolist() == whole["subject_id"].tolist()


@pytest.mark.parametrize("chunk", [2, 1 << 19])
def test_trips_out_of_id_order_are_judged_in_it(tmp_path: Path, chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file whose trips are not in id order (as GTFS feeds list them, by route): the audit renumbers them in the
    report's order and streams them; same report, metadata and file."""
    order = [9, 3, 12, 0, 6, 1, 13, 5, 2, 11, 4, 7, 10, 8]  # the two g-dup rows keep their order: the first is kept
    folder = write_trip_world(tmp_path / "w", [EDGE_TRIPS[i] for i in order], EDGE_STOP_TIMES[::-1], RISK)
    inputs = load_inputs(folder, as_of=AS_OF)
    trips = prepare_trips(inputs.layers, inputs.config, by_id=True)
    assert trips.in_id_order and not prepare_trips(load_inputs(folder, as_of=AS_OF).layers, inputs.config).in_id_order
    monkeypatch.setattr(streamed, "TRIP_CHUNK", chunk)
    calls: list = []
    monkeypatch.setattr(streamed, "write_while_judging", spy(streamed.write_while_judging, calls))
    want, want_file = reference(tmp_path, data=folder, as_of=AS_OF)
    got_file = tmp_path / "got.parquet"
    got = transportmon.audit(folder, as_of=AS_OF, out=got_file)
    assert len(calls) == 1 and got.written == "parquet"
    assert_same_result(got, want, got_file, want_file)
    # and the same verdicts as the file in id order
    in_order = write_trip_world(tmp_path / "o", EDGE_TRIPS, EDGE_STOP_TIMES, RISK)
    same = transportmon.audit(in_order, as_of=AS_OF)
    cols = ["subject", "subject_id", "verdict", "reason", "occupancy", "risk_level", "max_severity"]
    audited = got.report["verdict"] != "rejected"
    pd.testing.assert_frame_equal(got.report.loc[audited, cols].reset_index(drop=True),
                                  same.report.loc[same.report["verdict"] != "rejected", cols].reset_index(drop=True))


def test_trips_renumbered_in_id_order_keep_their_stop_rows(tmp_path: Path) -> None:
    """``prepare_trips(by_id=True)``: the trips sorted by id, each stop row's trip renumbered, and the rows grouped
    by the new numbers in stop order, as sorting them again would (the reference)."""
    order = [13, 2, 7, 0, 11, 5, 9, 1, 12, 3, 6, 10, 4, 8]
    folder = write_trip_world(tmp_path / "w", [EDGE_TRIPS[i] for i in order], EDGE_STOP_TIMES[::-1], RISK)
    inputs = load_inputs(folder, as_of=AS_OF)
    layers = inputs.layers
    plain = prepare_trips(layers, inputs.config)
    trips = prepare_trips(layers, inputs.config, by_id=True)
    ids = trips.trips["trip_id"].tolist()
    assert ids == sorted(ids) and sorted(ids) == sorted(plain.trips["trip_id"].tolist())
    old_of_new = [plain.trips["trip_id"].tolist().index(i) for i in ids]
    tp, old_tp = trips.ctx.trip_pos, plain.ctx.trip_pos
    assert [old_of_new[t] if t >= 0 else -1 for t in tp] == old_tp.tolist()
    sequence = layers["stop_times"].frame["stop_sequence"]
    want = stop_order(tp, sequence)[int((tp < 0).sum()):]
    assert trips.ctx.order.tolist() == want.tolist()


def test_trips_not_in_report_order_take_the_plain_path(edge_world: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard: trips a range of which would not be a range of the report are judged all at once."""
    monkeypatch.setattr(TripAudit, "in_id_order", property(lambda self: False))
    calls: list = []
    monkeypatch.setattr(streamed, "write_while_judging", spy(streamed.write_while_judging, calls))
    want, want_file = reference(tmp_path, data=edge_world, as_of=AS_OF)
    got_file = tmp_path / "got.parquet"
    got = transportmon.audit(edge_world, as_of=AS_OF, out=got_file)
    assert not calls and got.written == "parquet"
    assert_same_result(got, want, got_file, want_file)


def test_in_id_order_compares_as_arrow_does() -> None:
    def audit_of(ids: list[str]) -> TripAudit:
        return TripAudit(ctx=None, trips=pd.DataFrame({"trip_id": pd.array(ids, dtype="str")}),  # type: ignore[arg-type]
                         config=None, risk_data=False, skipped={})  # type: ignore[arg-type]

    assert audit_of([]).in_id_order and audit_of(["a"]).in_id_order
    assert audit_of(["T1", "T10", "T2", "a", "é", "九江"]).in_id_order  # bytes, not numbers
    assert not audit_of(["T2", "T10"]).in_id_order
    assert not audit_of(["a", "a"]).in_id_order  # strictly


def test_a_failure_while_judging_leaves_the_old_report(edge_world: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streamed, "TRIP_CHUNK", 2)
    monkeypatch.setattr(geoparquet, "ROW_GROUP_ROWS", 2)  # row groups are in the file when it fails
    judge, calls = TripAudit.judge, []

    def failing(self, *args):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full")
        return judge(self, *args)

    monkeypatch.setattr(TripAudit, "judge", failing)
    out = tmp_path / "r.parquet"
    out.write_bytes(b"old")
    with pytest.raises(OSError, match="disk full"):
        transportmon.audit(edge_world, as_of=AS_OF, out=out)
    assert len(calls) == 3
    assert out.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["r.parquet"]


def test_never_written_over_an_input(edge_world: Path, tmp_path: Path) -> None:
    trips = tmp_path / "trips.parquet"
    pd.read_csv(edge_world / "trips.csv", dtype=str).to_parquet(trips)
    before = trips.read_bytes()
    with pytest.raises(InputError, match="trips.parquet"):
        transportmon.audit(edge_world, trips=trips, as_of=AS_OF, out=trips)
    assert trips.read_bytes() == before


def test_the_command_writes_the_streamed_file(tmp_path: Path) -> None:
    want, want_file = reference(tmp_path)
    out = tmp_path / "cli.parquet"
    res = CliRunner().invoke(app, ["audit", "--out", str(out), "--format", "json", "--fail-on", "never"])
    assert res.exit_code == 0, res.output
    assert out.read_bytes() == want_file.read_bytes()
    back = gpd.read_parquet(out)
    assert len(back) == len(want.report) and back.crs.to_epsg() == 4326


class HeldFuture:
    """The routes' facts, computed, but said not ready until ``ready_after`` checks (never, with None): how long the
    streamed report holds the trips judged before the routes' rows."""

    def __init__(self, real, ready_after: int | None, judged: list) -> None:  # type: ignore[no-untyped-def]
        self.value, self.ready_after, self.checks, self.judged = real.result(), ready_after, 0, judged
        self.judged_when_taken: int | None = None

    def done(self) -> bool:
        self.checks += 1
        return self.ready_after is not None and self.checks > self.ready_after

    def result(self):  # type: ignore[no-untyped-def]
        if self.judged_when_taken is None:
            self.judged_when_taken = len(self.judged)
        return self.value


@pytest.mark.parametrize("ready_after", [0, 1, None])
def test_trips_judged_while_the_routes_are_counted_wait_for_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 ready_after: int | None) -> None:
    """The routes come before the trips in the report: judged before the routes' facts are ready, the first trips
    wait (at most HELD_CHUNKS ranges), and the file is the plain path's all the same."""
    from transportmon import routes

    monkeypatch.setattr(streamed, "TRIP_CHUNK", 1)
    monkeypatch.setattr(geoparquet, "ROW_GROUP_ROWS", 3)
    want, want_file = reference(tmp_path)
    judged: list = []
    monkeypatch.setattr(TripAudit, "judge", spy(TripAudit.judge, judged))
    held: list[HeldFuture] = []
    later = routes.FactsLater

    def facts_later(*args):  # type: ignore[no-untyped-def]  (the class, spied on)
        held.append(HeldFuture(later(*args), ready_after, judged))
        return held[-1]

    monkeypatch.setattr(routes, "FactsLater", facts_later)
    got_file = tmp_path / "got.parquet"
    got = transportmon.audit(out=got_file)
    assert_same_result(got, want, got_file, want_file)
    assert len(held) == 1 and len(judged) > streamed.HELD_CHUNKS  # the sample has routes, and trips enough
    # ready at the first check: taken after one range; at the second: after two; never: after HELD_CHUNKS
    assert held[0].judged_when_taken == {0: 1, 1: 2, None: streamed.HELD_CHUNKS}[ready_after]


def test_route_patterns_counted_later_are_those_counted_at_once() -> None:
    """``count_routes(patterns=False)`` leaves the patterns to a later count that reads the layers as they were,
    whatever was released meanwhile (the trip audit frees the stop rows while the routes are counted)."""
    from transportmon import routes
    from transportmon.trip_audit import release_stop_rows, stop_rows

    layers = load_inputs().layers
    rows = stop_rows(layers["trips"], layers["stop_times"])
    at_once = routes.count_routes(layers["trips"], layers["stop_times"], rows=rows)
    later = routes.count_routes(layers["trips"], layers["stop_times"], rows=rows, patterns=False)
    assert later.later is not None and not len(later.patterns) and not len(later.stops)
    pd.testing.assert_frame_equal(later.days, at_once.days)
    release_stop_rows(layers["stop_times"])
    layers["trips"].frame = layers["trips"].frame.iloc[:0]
    assert later.count_patterns() is later and later.later is None
    assert len(at_once.patterns) and len(at_once.stops)
    pd.testing.assert_frame_equal(later.patterns, at_once.patterns)
    pd.testing.assert_frame_equal(later.stops, at_once.stops)


def test_a_failure_counting_the_routes_leaves_the_old_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An error on the routes' thread is the audit's error, raised where the report needs the routes."""
    from transportmon import routes

    def failing(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise ValueError("route facts failed")

    monkeypatch.setattr(routes, "route_facts", failing)
    calls: list = []
    monkeypatch.setattr(streamed, "write_while_judging", spy(streamed.write_while_judging, calls))
    out = tmp_path / "r.parquet"
    out.write_bytes(b"old")
    with pytest.raises(ValueError, match="route facts failed"):
        transportmon.audit(out=out)
    assert len(calls) == 1  # raised while the trips were being judged and written
    assert out.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["r.parquet"]


def test_no_pandas_off_the_main_thread_while_judging_and_writing(edge_world: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The routes' patterns, the trips' stop-row facts and the row groups are made on other threads: numpy, Arrow and
    GEOS only. pandas enters ``warnings.catch_warnings``, which is not thread-safe before Python 3.14."""
    import threading
    import warnings

    from transportmon import route_patterns

    main, seen, counted = threading.main_thread(), [], []
    enter = warnings.catch_warnings.__enter__

    def spied(self):  # type: ignore[no-untyped-def]
        if threading.current_thread() is not main:
            seen.append(threading.current_thread().name)
        return enter(self)

    count = route_patterns.count_patterns

    def counting(*args):  # type: ignore[no-untyped-def]
        counted.append(threading.current_thread().name)
        return count(*args)

    monkeypatch.setattr(warnings.catch_warnings, "__enter__", spied)
    monkeypatch.setattr(route_patterns, "count_patterns", counting)
    monkeypatch.setattr(streamed, "TRIP_CHUNK", 2)
    for data in (None, edge_world):  # the sample has routes
        transportmon.audit(data, out=tmp_path / "r.parquet", **({"as_of": AS_OF} if data else {}))
    assert counted and all(name.startswith("routes") for name in counted)  # counted on the routes' thread…
    assert seen == []  # …and nothing off the main thread entered pandas' warnings machinery
