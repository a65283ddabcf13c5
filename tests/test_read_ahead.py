"""Reading trips and stop_times ahead on a second thread (``transportmon/io/ahead.py``) changes nothing but the time.

Folders of hand-made layers (trips and stop_times as Parquet, CSV, one of each; good, each bad, both bad; with rows
to reject) are loaded with ``load_inputs`` as it is and with nothing read ahead (everything on one thread): the
layers (usable and rejected rows, codes, admin units of the stops), their metadata (row counts, SHA-256, key order),
the warnings and the errors (the same InputError naming the same file first, or the same problems collected) must be
the same. The second thread must run no code that enters ``warnings.catch_warnings`` (not thread-safe before Python
3.14) and never warn, and it must be gone when ``load_inputs`` returns.
"""

from __future__ import annotations

import json
import threading
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import world
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transportmon import inputs as inputs_module
from transportmon import layers as L
from transportmon._errors import InputError
from transportmon.inputs import load_inputs
from transportmon.io import ahead as ahead_module
from transportmon.io.parquet import parquet_ids, parquet_wide
from transportmon.io.read import read_table
from transportmon.layers.ahead import id_runs, layer_facts
from transportmon.layers.memo import Ahead, same_data

N_TRIPS = 1500  # 3 stops a trip: stop_times has more rows than on_distinct parses directly (4096)


def coach_frames(dirty: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Trips and stop times over world's stops (JJ, HB1, JJ2); ``dirty``: rows every check rejects."""
    ids = [f"T{k:05d}" for k in range(N_TRIPS)]
    trips = pd.DataFrame({"trip_id": ids, "service_date": ["2020-03-01", "2020-03-02", "2020-3-3"] * (N_TRIPS // 3),
                          "service_type": ["scheduled", "charter", " 班车 "] * (N_TRIPS // 3),
                          "seats": [45] * N_TRIPS, "passengers": [23, 22, 40] * (N_TRIPS // 3),
                          "route_id": ["R1", "R2", "R3"] * (N_TRIPS // 3)})
    stops = pd.DataFrame({"trip_id": np.repeat(ids, 3), "stop_sequence": np.tile([1, 2, 3], N_TRIPS),
                          "stop_id": np.tile(["JJ", "HB1", "JJ2"], N_TRIPS), "pickup": np.tile([1, 0, 1], N_TRIPS),
                          "dropoff": np.tile([0, 1, 1], N_TRIPS)})
    if dirty:
        trips.loc[3, "trip_id"] = " T00003"  # cleaned: the same trip
        trips.loc[5, "trip_id"] = None
        trips.loc[7, "trip_id"] = "T00006"  # a duplicate
        trips.loc[9, "service_date"] = "2020-02-30"
        trips.loc[11, "service_type"] = "bus?"
        trips.loc[13, "seats"] = 0
        trips.loc[15, "passengers"] = 99
        trips.loc[17, "route_id"] = "12.0"
        stops.loc[30, "trip_id"] = "NOPE"
        stops.loc[33, "stop_id"] = "S404"
        stops.loc[36, "stop_sequence"] = 1  # the trip's sequence repeats
        stops.loc[39, "pickup"] = 2
        stops.loc[42, "trip_id"] = None
        stops = pd.concat([stops.iloc[100:], stops.iloc[:100]], ignore_index=True)  # trips in several runs
    return trips, stops


def write(frame: pd.DataFrame, path: Path, how: str) -> Path:
    """``frame`` as ``path``'s format, good or ``how`` bad: ``junk`` (not a file of its format) or ``column``
    (a required column missing)."""
    if how == "column":
        frame = frame.drop(columns=["trip_id"])
    if how == "junk":
        path.write_bytes(b"\x00\x01 not a table \x02" * 64)
    elif path.suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False)
    return path


def folder(tmp_path: Path, trips_ext: str, st_ext: str, trips_how: str = "good", st_how: str = "good",
           dirty: bool = False) -> Path:
    d = tmp_path / f"{trips_ext}-{st_ext}-{trips_how}-{st_how}-{dirty}"
    d.mkdir()
    world.write_coach_layers(d)  # stops, risk_areas (CSV); its trips and stop_times are replaced below
    (d / "trips.csv").unlink()
    (d / "stop_times.csv").unlink()
    world.boundaries().to_file(d / "boundaries.geojson", driver="GeoJSON")  # read with GDAL while the thread reads
    trips, stops = coach_frames(dirty)
    write(trips, d / f"trips.{trips_ext}", trips_how)
    write(stops, d / f"stop_times.{st_ext}", st_how)
    (d / "manifest.toml").write_text('as_of = "2020-03-01"\n')
    return d


def assert_same_layer(got: L.Layer, want: L.Layer) -> None:
    pd.testing.assert_frame_equal(got.frame, want.frame, check_exact=True)
    pd.testing.assert_frame_equal(got.rejected, want.rejected, check_exact=True)
    assert (got.rows, got.path, got.sha256, got.defaulted_columns) == (want.rows, want.path, want.sha256,
                                                                       want.defaulted_columns)
    for name in ("stop_code", "trip_pos", "stop_pos"):
        a, b = getattr(got.codes, name), getattr(want.codes, name)
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_array_equal(a, b)
    assert (got.codes.stop_dict is None) == (want.codes.stop_dict is None)
    if got.codes.stop_dict is not None:
        assert got.codes.stop_dict.equals(want.codes.stop_dict)
    if want.located is not None:
        pd.testing.assert_frame_equal(got.located, want.located, check_exact=True)


def load(path: Path, *, read_ahead: bool, errors: str = "raise") -> tuple[str, object]:
    """("ok", inputs) or ("error", (type, message)) of ``load_inputs``, with or without the second thread."""
    with pytest.MonkeyPatch.context() as patch:
        if not read_ahead:
            patch.setattr(inputs_module, "read_ahead_paths", lambda paths, to_read: {})
        try:
            return "ok", load_inputs(path, errors=errors)
        except InputError as exc:
            return "error", (type(exc), str(exc))


def assert_same_load(path: Path, errors: str = "raise") -> str:
    threaded, plain = load(path, read_ahead=True, errors=errors), load(path, read_ahead=False, errors=errors)
    assert threaded[0] == plain[0]
    if threaded[0] == "error":
        assert threaded[1] == plain[1]
        return threaded[1][1]
    got, want = threaded[1], plain[1]
    assert list(got.layers) == list(want.layers)
    for name in want.layers:
        assert_same_layer(got.layers[name], want.layers[name])
    assert json.dumps(got.meta, default=str) == json.dumps(want.meta, default=str)  # values and key order
    assert got.warnings == want.warnings
    assert [(type(p), str(p)) for p in got.problems] == [(type(p), str(p)) for p in want.problems]
    return "ok"


@pytest.fixture
def second_thread(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """What ran on a thread other than the main one: the read-ahead tasks, and any entry into
    ``warnings.catch_warnings`` or call of ``warnings.warn`` (there must be none)."""
    seen: dict[str, list[str]] = {"tasks": [], "catch_warnings": [], "warn": []}
    main = threading.main_thread()

    def spy(fn, key):  # type: ignore[no-untyped-def]
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            if threading.current_thread() is not main:
                seen[key].append(getattr(fn, "__name__", str(fn)))
            return fn(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(warnings.catch_warnings, "__enter__", spy(warnings.catch_warnings.__enter__,
                                                                  "catch_warnings"))
    monkeypatch.setattr(warnings, "warn", spy(warnings.warn, "warn"))
    monkeypatch.setattr(ahead_module, "parquet_ids", spy(ahead_module.parquet_ids, "tasks"))
    monkeypatch.setattr(ahead_module, "parquet_whole", spy(ahead_module.parquet_whole, "tasks"))
    monkeypatch.setattr(ahead_module, "sha256", spy(ahead_module.sha256, "tasks"))
    return seen


def no_thread_left() -> bool:
    return not [t for t in threading.enumerate() if t.name.startswith("transportmon-ahead")]


FORMATS = [("parquet", "parquet"), ("csv", "csv"), ("csv", "parquet"), ("parquet", "csv")]


@pytest.mark.parametrize(("trips_ext", "st_ext"), FORMATS)
@pytest.mark.parametrize("dirty", [False, True])
def test_good_files_load_alike(tmp_path, second_thread, trips_ext: str, st_ext: str, dirty: bool) -> None:
    path = folder(tmp_path, trips_ext, st_ext, dirty=dirty)
    assert assert_same_load(path) == "ok"
    inputs = load_inputs(path)
    for name, rows in (("trips", N_TRIPS), ("stop_times", 3 * N_TRIPS)):  # the dirty rows are rejected, not lost
        layer = inputs.layers[name]
        assert layer.rows == rows == len(layer.frame) + len(layer.rejected)
        assert bool(len(layer.rejected)) == dirty
    # The second thread did its work, and nothing that could warn; it is gone.
    parquet = [ext for ext in (trips_ext, st_ext) if ext == "parquet"]
    assert second_thread["tasks"].count("parquet_ids") == 2 * len(parquet)  # per load with read_ahead
    assert second_thread["tasks"].count("parquet_whole") == 2 * (st_ext == "parquet")  # stop_times decoded whole
    assert second_thread["tasks"].count("sha256") == 4
    assert second_thread["catch_warnings"] == [] and second_thread["warn"] == []
    assert no_thread_left()


@pytest.mark.parametrize(("trips_ext", "st_ext"), FORMATS)
@pytest.mark.parametrize(("trips_how", "st_how"), [("junk", "good"), ("good", "junk"), ("junk", "junk"),
                                                   ("column", "good"), ("good", "column"), ("column", "junk")])
def test_bad_files_fail_alike(tmp_path, second_thread, trips_ext: str, st_ext: str, trips_how: str,
                              st_how: str) -> None:
    path = folder(tmp_path, trips_ext, st_ext, trips_how, st_how, dirty=True)
    message = assert_same_load(path)
    # The first bad file in reading order is named: trips before stop_times.
    first = f"trips.{trips_ext}" if trips_how != "good" else f"stop_times.{st_ext}"
    assert first in message
    assert assert_same_load(path, errors="collect") == "ok"  # transportmon validate: every problem, in order
    problems = load_inputs(path, errors="collect").problems
    assert [Path(str(p.path)).name for p in problems] == [
        f"{name}.{ext}" for name, ext, how in (("trips", trips_ext, trips_how), ("stop_times", st_ext, st_how))
        if how != "good"]
    assert second_thread["catch_warnings"] == [] and second_thread["warn"] == []
    assert no_thread_left()


def test_other_formats_are_not_read_ahead(tmp_path, second_thread) -> None:
    """A GeoJSON trips layer (read through GDAL, which warns) keeps the whole read on one thread."""
    path = folder(tmp_path, "parquet", "parquet")
    trips = pd.read_parquet(path / "trips.parquet")
    (path / "trips.parquet").unlink()
    pd.DataFrame(trips).to_json(path / "trips.json", orient="records")
    ahead_paths = ahead_module.read_ahead_paths({"trips": path / "trips.json", "stop_times": path / "x.parquet"},
                                                ["trips", "stop_times"])
    assert ahead_paths == {}
    assert ahead_module.read_ahead_paths({"trips": path / "a.csv", "stop_times": path / "b.parquet"},
                                         ["stops", "trips", "stop_times"]) == {"trips": path / "a.csv",
                                                                               "stop_times": path / "b.parquet"}
    assert ahead_module.read_ahead_paths({"trips": path / "a.csv"}, ["trips"]) == {}  # one big layer: nothing
    assert second_thread["tasks"] == []


def test_a_failed_task_is_done_again_on_the_main_thread(tmp_path, monkeypatch) -> None:
    """Whatever goes wrong on the second thread, the main thread reads and hashes the file itself."""
    path = folder(tmp_path, "parquet", "parquet", dirty=True)

    def fails_there(fn):  # type: ignore[no-untyped-def]
        def wrapper(*args: object) -> object:
            if threading.current_thread() is not threading.main_thread():
                raise MemoryError("no room on the second thread")
            return fn(*args)
        return wrapper

    want = load(path, read_ahead=False)[1]
    monkeypatch.setattr(ahead_module, "parquet_ids", fails_there(ahead_module.parquet_ids))
    monkeypatch.setattr(ahead_module, "sha256", fails_there(ahead_module.sha256))
    got = load_inputs(path)
    for name in want.layers:
        assert_same_layer(got.layers[name], want.layers[name])
    assert json.dumps(got.meta, default=str) == json.dumps(want.meta, default=str)
    assert no_thread_left()


# --------------------------------------------------------------------------------------------------------------------
# The checks computed ahead are used only for the very data they were computed on


def test_same_data_is_the_same_buffers() -> None:
    arr = pa.chunked_array([pa.array(["T1", "T2"], pa.large_string()), pa.array(["T3"], pa.large_string())])
    assert same_data(arr, arr)
    assert same_data(arr, pa.chunked_array(arr.chunks))  # another wrapper of the same buffers
    assert not same_data(arr, pa.chunked_array([pa.array(["T1", "T2", "T3"], pa.large_string())]))  # equal values
    assert not same_data(arr, arr.slice(1))
    assert not same_data(arr, pa.chunked_array([c.cast(pa.string()) for c in arr.chunks]))


def test_a_result_for_other_data_is_not_taken() -> None:
    calls: list[int] = []

    def count(arr: pa.ChunkedArray) -> int:
        calls.append(len(arr))
        return len(arr)

    ahead = Ahead()
    a = pa.chunked_array([pa.array(["x", "y"], pa.large_string())])
    assert ahead.compute(count, a) == 2
    assert ahead.call(count, a) == 2 and calls == [2]  # taken
    b = pa.chunked_array([pa.array(["x", "y", "z"], pa.large_string())])
    assert ahead.call(count, b) == 3 and calls == [2, 3]  # computed
    assert ahead.call(id_runs, a).clean  # another function: computed


IDS = st.sampled_from(["T1", "T2", "T3", " T2", "T2 ", "4.0", "", "\u3000T5", "站1", None])


@st.composite
def trip_tables(draw: st.DrawFn) -> tuple[pa.Table, pa.Table]:
    n = draw(st.integers(0, 30))
    if draw(st.booleans()):
        ids = sorted(draw(st.sets(st.sampled_from([f"T{k:02d}" for k in range(60)]), min_size=n, max_size=n)))
    else:
        ids = draw(st.lists(IDS, min_size=n, max_size=n))
    # As pandas writes them: large_string text, int64 numbers (which are read narrower, so read ahead).
    trips = pa.table({"trip_id": pa.array(ids, pa.large_string()),
                      "service_date": pa.array(["2020-03-01"] * len(ids), pa.large_string()),
                      "service_type": pa.array(["scheduled"] * len(ids), pa.large_string()),
                      "seats": pa.array([45] * len(ids), pa.int64()), "passengers": pa.array([3] * len(ids), pa.int64()),
                      "route_id": pa.array(draw(st.lists(IDS, min_size=len(ids), max_size=len(ids))),
                                           pa.large_string())})
    runs = draw(st.lists(st.tuples(IDS, st.integers(1, 4)), max_size=10))
    rows = [t for t, k in runs for _ in range(k)]
    seq: list[int | None] = [i + 1 for _, k in runs for i in range(k)]
    if seq and draw(st.booleans()):  # a repeated or missing sequence number
        seq[draw(st.integers(0, len(seq) - 1))] = draw(st.sampled_from([1, None]))
    stop_times = pa.table({"trip_id": pa.array(rows, pa.large_string()),
                           "stop_sequence": pa.array(seq, pa.int64()),
                           "stop_id": pa.array(["S1"] * len(rows), pa.large_string())})
    return trips, stop_times


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(trip_tables())
def test_validation_with_checks_computed_ahead(tmp_path_factory, tables: tuple[pa.Table, pa.Table]) -> None:
    """The layers validated with the id checks computed ahead (from the table the frame is made of) are the layers
    validated without."""
    d = tmp_path_factory.mktemp("ahead")
    for name, table in zip(("trips", "stop_times"), tables):
        path = d / f"{name}.parquet"
        pq.write_table(table, path, row_group_size=7)  # several chunks
        dictionary = ("stop_id",) if name == "stop_times" else ()
        ids = parquet_ids(path, dictionary, ahead_module.ID_COLUMNS)
        assert ids is not None
        facts = layer_facts(name, ids, parquet_wide(path, ("stop_sequence", "seats", "passengers")))
        validate = L.validate_trips if name == "trips" else L.validate_stop_times
        frame = read_table(path, dictionary=dictionary, ids=ids)
        # The checks are of the very Arrow data the frame's trip ids are: validation takes them.
        assert [f for f, source, _ in facts.results if same_data(source, L.arrow_text(frame["trip_id"]))]
        got = validate(frame, str(path), ahead=facts)
        want = validate(read_table(path, dictionary=dictionary), str(path))
        assert_same_layer(got, want)
        if name == "stop_times" and want.codes.trip_runs is not None:
            np.testing.assert_array_equal(got.codes.trip_runs.starts, want.codes.trip_runs.starts)
            assert got.codes.trip_runs.ids.equals(want.codes.trip_runs.ids)
