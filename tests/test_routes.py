"""Routes (TM301–TM304, DESIGN §9): restoration of each route's service against a baseline window.

Pure ``decide()`` arithmetic (both sides of ``restore_ratio`` and exactly at it), then end to end through
``transportmon.audit`` over the trip world of ``tests/test_trips.py``: the 7-day window's edges, the baseline
window's edges, suspended vs a high-risk stop, rejected trips counting, the route's line, no ``route_id`` column,
empty trips, a reversed baseline.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from test_trips import HM_HIGH, legs, stops_frame, trip, write_trip_world
from typer.testing import CliRunner

import transportmon
from transportmon import routes as R
from transportmon._errors import ConfigError
from transportmon.cli import app
from transportmon.config import RuleConfig, load_config, make_config
from transportmon.rules import routes as route_rules

AS_OF = "2020-03-16"
# A one-week baseline: a route with one trip in it is expected to run once in the 7 days before the as-of date.
WEEK = {"baseline_from": "2020-01-01", "baseline_to": "2020-01-07"}


# --------------------------------------------------------------------------------------------------------------------
# decide(): the arithmetic


def evidence(rows: list[tuple[str, int, int, int, list[str]]]) -> pd.DataFrame:
    """(route, baseline trips, baseline days, recent trips, high-risk stops) → the evidence ``decide`` reads."""
    ev = pd.DataFrame(rows, columns=["route_id", "baseline_trips", "baseline_days", "recent_trips", "high_stops"])
    ev["risk_stops"] = ev["high_stops"]
    ev["row"] = np.arange(len(ev))
    ev["recent_from"] = pd.Timestamp("2020-03-10")
    ev["as_of"] = pd.Timestamp(AS_OF)
    return ev


def test_restore_ratio_both_sides_and_exactly_at_it() -> None:
    # 25 trips in 20 days: 8.75 expected in 7 days; 4/5 of that is exactly 7.
    out, findings = route_rules.decide(evidence([("below", 25, 20, 6, []), ("at", 25, 20, 7, []),
                                                 ("above", 25, 20, 8, [])]), RuleConfig())
    assert out["verdict"].astype(str).tolist() == ["partial", "restored", "restored"]
    assert out["restored_ratio"].tolist() == pytest.approx([6 / 8.75, 0.8, 8 / 8.75])
    assert findings["rule_id"].tolist() == ["TM302", "TM303", "TM303"]
    assert findings["severity"].tolist() == ["warning", "info", "info"]
    assert "69%" in findings["message_en"].iloc[0] and "below 80%" in findings["message_en"].iloc[0]
    assert "80% of the baseline" in findings["message_en"].iloc[1]


def test_restored_percentage_is_never_rounded_onto_the_limit() -> None:
    # 7,999 of 10,000 expected: 79.99% reads "79.99", not "80" (it is below the limit).
    out, findings = route_rules.decide(evidence([("close", 10000, 7, 7999, [])]), RuleConfig())
    assert out["verdict"].astype(str).tolist() == ["partial"]
    assert "79.99% of the baseline" in findings["message_en"].iloc[0]


@pytest.mark.parametrize("arrow_lists", [False, True])
def test_the_high_risk_stops_of_a_suspended_route_are_named_in_its_message(arrow_lists: bool) -> None:
    """The stops are joined by 、 (zh) and ", " (en), whether the list column is Python lists or Arrow lists (as
    :func:`transportmon.routes.route_evidence` makes it); none for a route without one."""
    import pyarrow as pa

    ev = evidence([("two", 5, 20, 0, ["HM1", "HM2"]), ("none", 5, 20, 0, [])])
    if arrow_lists:
        ev["high_stops"] = pd.arrays.ArrowExtensionArray(pa.array([["HM1", "HM2"], None], pa.list_(pa.string())))
    _, findings = route_rules.decide(ev, RuleConfig())
    assert "HM1、HM2" in findings["message_zh"].iloc[0] and "HM1, HM2" in findings["message_en"].iloc[0]
    assert "HM" not in findings["message_zh"].iloc[1] and findings["severity"].tolist() == ["warning", "violation"]


def test_restore_ratio_is_configurable() -> None:
    cfg = make_config(restore_ratio="1/2")
    out, _ = route_rules.decide(evidence([("half", 20, 20, 4, []), ("under", 20, 20, 3, [])]), cfg)
    assert out["verdict"].astype(str).tolist() == ["restored", "partial"]  # 4 of 7 ≥ 1/2; 3 of 7 < 1/2


def test_suspended_is_a_violation_unless_a_stop_is_high_risk() -> None:
    out, findings = route_rules.decide(evidence([("plain", 5, 20, 0, []), ("high", 5, 20, 0, ["HM"])]), RuleConfig())
    assert out["verdict"].astype(str).tolist() == ["suspended", "suspended"]
    assert out["reason"].astype(object).where(out["reason"].notna(), None).tolist() == [None, "high-risk-stop"]
    assert findings["rule_id"].tolist() == ["TM301", "TM301"]
    assert findings["severity"].tolist() == ["violation", "warning"]
    assert "HM" in findings["message_en"].iloc[1] and "justified" in findings["message_en"].iloc[1]
    assert "HM" not in findings["message_en"].iloc[0]


def test_new_route_has_no_ratio() -> None:
    out, findings = route_rules.decide(evidence([("fresh", 0, 20, 3, ["HM"]), ("idle", 0, 20, 0, [])]),
                                       RuleConfig())
    assert out["verdict"].astype(str).tolist() == ["new", "new"]
    assert out["restored_ratio"].isna().all()
    assert findings["rule_id"].tolist() == ["TM304", "TM304"] and set(findings["severity"]) == {"info"}


def test_decide_empty() -> None:
    out, findings = route_rules.decide(evidence([]), RuleConfig())
    assert len(out) == 0 and len(findings) == 0


# --------------------------------------------------------------------------------------------------------------------
# Configuration


@pytest.mark.parametrize("values", [{"baseline_from": "2020-01-21"},
                                    {"baseline_from": "2020-02-01", "baseline_to": "2020-01-31"}])
def test_reversed_baseline_window_is_a_config_error_naming_the_keys(values: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="baseline_from .* is after baseline_to"):
        make_config(**values)


def test_one_day_baseline_is_allowed_and_bad_dates_are_named(tmp_path: Path) -> None:
    assert make_config(baseline_from="2020-01-05", baseline_to="2020-01-05").baseline_to == date(2020, 1, 5)
    with pytest.raises(ConfigError, match="baseline_to: '2020-01-32' is not a date"):
        make_config(baseline_to="2020-01-32")
    with pytest.raises(ConfigError, match="restore_ratio: .* must be in"):
        make_config(restore_ratio="1.5")
    toml = tmp_path / "rules.toml"
    toml.write_text('baseline_from = 2020-01-02\nbaseline_to = "2020-01-09"\nrestore_ratio = 0.75\n')
    cfg = load_config(toml)
    assert [cfg.to_dict()[k] for k in ("baseline_from", "baseline_to", "restore_ratio")] == [
        "2020-01-02", "2020-01-09", "3/4"]


def test_cli_reversed_baseline_exits_2(tmp_path: Path) -> None:
    toml = tmp_path / "rules.toml"
    toml.write_text('baseline_from = "2020-01-20"\nbaseline_to = "2020-01-01"\n')
    got = CliRunner().invoke(app, ["audit", "--config", str(toml), "--out", str(tmp_path / "r.geojson")])
    assert got.exit_code == 2
    assert "baseline_from 2020-01-20 is after baseline_to 2020-01-01" in got.output


# --------------------------------------------------------------------------------------------------------------------
# End to end


def routed(route_id: str, trip_id: str, date: str, passengers: int = 10, seats: int = 45) -> dict:
    return {**trip(trip_id, passengers, seats, date=date), "route_id": route_id}


def write_routes(folder: Path, trips: list[dict], stop_times: list[dict], risk: list[dict] | None = HM_HIGH,
                 *, rules: dict[str, str] | None = None) -> Path:
    """The trip world with a ``route_id`` column (and a manifest with the rules of ``rules``)."""
    write_trip_world(folder, [], [], risk)
    cols = ["trip_id", "route_id", "service_date", "service_type", "seats", "passengers"]
    pd.DataFrame(trips, columns=cols).to_csv(folder / "trips.csv", index=False)
    pd.DataFrame(stop_times, columns=["trip_id", "stop_sequence", "stop_id", "pickup", "dropoff"]).to_csv(
        folder / "stop_times.csv", index=False)
    if rules:
        lines = "\n".join(f'{k} = "{v}"' for k, v in rules.items())
        (folder / "manifest.toml").write_text(f'as_of = "{AS_OF}"\n[rules]\n{lines}\n', encoding="utf-8")
    return folder


def route_rows(result: transportmon.AuditResult) -> pd.DataFrame:
    rep = result.report
    return pd.DataFrame(rep[rep["subject"] == "route"]).set_index("subject_id")


@pytest.fixture(scope="module")
def window_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One baseline trip per route in a one-week baseline; recent trips around the 7-day window's edges."""
    days = {  # route → dates of its trips (after the baseline trip of 2020-01-04)
        "on-as-of": ["2020-03-16"], "as-of-6": ["2020-03-10"], "as-of-7": ["2020-03-09"], "after": ["2020-03-17"],
        "none": [],
    }
    trips, st_rows = [], []
    for route, dates in days.items():
        for k, d in enumerate(["2020-01-04", *dates]):
            tid = f"{route}-{k}"
            trips.append(routed(route, tid, d))
            st_rows += legs(tid, "JA", "JB")
    # Baseline edges: a route whose only trip is on each side of each end of the baseline window.
    for route, d in (("b-first", "2020-01-01"), ("b-last", "2020-01-07"), ("b-before", "2019-12-31"),
                     ("b-after", "2020-01-08")):
        trips.append(routed(route, f"{route}-0", d))
        st_rows += legs(f"{route}-0", "JA", "JB")
    return write_routes(tmp_path_factory.mktemp("routes_window"), trips, st_rows, rules=WEEK)


@pytest.fixture(scope="module")
def window_result(window_world: Path) -> transportmon.AuditResult:
    return transportmon.audit(window_world)


@pytest.mark.parametrize(("route", "verdict", "recent"), [
    ("on-as-of", "restored", 1),   # the as-of date is in the window
    ("as-of-6", "restored", 1),    # as-of − 6 is the window's first day
    ("as-of-7", "suspended", 0),   # as-of − 7 is not
    ("after", "suspended", 0),     # nor a day after the as-of date
    ("none", "suspended", 0),
])
def test_seven_day_window_edges(window_result: transportmon.AuditResult, route: str, verdict: str,
                                recent: int) -> None:
    row = route_rows(window_result).loc[route]
    assert (row["verdict"], row["recent_trips"]) == (verdict, recent)
    assert row["baseline_trips_per_day"] == pytest.approx(1 / 7, abs=1e-4)


@pytest.mark.parametrize(("route", "verdict"), [("b-first", "suspended"), ("b-last", "suspended"),
                                                ("b-before", "new"), ("b-after", "new")])
def test_baseline_window_edges_are_inclusive(window_result: transportmon.AuditResult, route: str,
                                             verdict: str) -> None:
    assert route_rows(window_result).loc[route, "verdict"] == verdict


def test_route_subjects_findings_and_counts(window_result: transportmon.AuditResult) -> None:
    rows = route_rows(window_result)
    assert len(rows) == 9 and rows.index.is_unique
    md = window_result.metadata
    assert md["counts"]["route"] == {"new": 2, "restored": 2, "suspended": 5}
    assert {"TM301", "TM302", "TM303", "TM304"} <= set(md["rules_run"])
    assert md["rules"]["baseline_to"] == "2020-01-07" and md["rules"]["restore_ratio"] == "4/5"
    for rid, fl in rows["findings"].items():
        assert len(fl) == 1, rid
    assert rows.loc["none", "findings"][0]["rule_id"] == "TM301"
    assert rows.loc["none", "findings"][0]["severity"] == "violation"
    assert rows.loc["b-after", "findings"][0]["rule_id"] == "TM304"
    # subjects stay sorted (subject, subject_id): routes between risk_areas/rejected layers and trips
    rep = window_result.report
    keys = list(zip(rep["subject"].astype(str), rep["subject_id"].astype(str)))
    assert keys == sorted(keys)


def test_route_verdicts_per_day_agree_with_the_audit(window_world: Path,
                                                     window_result: transportmon.AuditResult) -> None:
    """The timeline's hook: facts measured once, verdicts counted per day, equal to each day's audit."""
    layers = window_result.layers
    facts = R.layer_facts(R.count_routes(layers["trips"], layers["stop_times"]), layers)
    days = ("2020-03-09", "2020-03-16", "2020-03-17")
    levels = R.stop_levels(facts, days)  # one lookup of the stops' designations for all the days
    for k, day in enumerate(days):
        per_day = R.route_verdicts(facts, window_result.config, day)
        audited = route_rows(transportmon.audit(window_world, as_of=day))
        assert dict(zip(per_day["route_id"], per_day["verdict"].astype(str))) == audited["verdict"].to_dict()
        pd.testing.assert_frame_equal(R.route_verdicts(facts, window_result.config, day, levels=levels[k]), per_day)


def test_partial_route_end_to_end(tmp_path: Path) -> None:
    # 10 baseline trips in a week (10/7 a day: 10 expected in 7 days); 7 recent is 70% < 80%, 8 is 80%.
    trips, st_rows = [], []
    for route, recent in (("seven", 7), ("eight", 8)):
        for k in range(10):
            trips.append(routed(route, f"{route}-b{k}", f"2020-01-0{1 + k % 7}"))
        for k in range(recent):
            trips.append(routed(route, f"{route}-r{k}", f"2020-03-1{k % 7}"))
    for t in trips:
        st_rows += legs(t["trip_id"], "JA", "JB")
    rows = route_rows(transportmon.audit(write_routes(tmp_path, trips, st_rows, rules=WEEK)))
    assert rows.loc["seven", ["verdict", "restored_ratio"]].tolist() == ["partial", 0.7]
    assert rows.loc["eight", ["verdict", "restored_ratio"]].tolist() == ["restored", 0.8]
    assert rows.loc["seven", "findings"][0]["rule_id"] == "TM302"


def test_suspended_route_serving_a_high_risk_area_is_a_warning(tmp_path: Path) -> None:
    # HM (黄梅) is high from 2020-02-01 on: the route into it may stay suspended; the one inside Jiujiang may not.
    trips = [routed("to-hm", "h0", "2020-01-03"), routed("local", "l0", "2020-01-03"),
             routed("passing", "p0", "2020-01-03")]
    st_rows = legs("h0", "JA", "HM") + legs("l0", "JA", "JB") + legs("p0", "JA", "~HM", "JB")
    result = transportmon.audit(write_routes(tmp_path, trips, st_rows, rules=WEEK))
    rows = route_rows(result)
    assert rows.loc["to-hm", ["verdict", "reason", "max_severity", "risk_level"]].tolist() == [
        "suspended", "high-risk-stop", "warning", "high"]
    assert list(rows.loc["to-hm", "risk_stops"]) == ["HM"]
    assert rows.loc["local", ["verdict", "max_severity"]].tolist() == ["suspended", "violation"]
    assert pd.isna(rows.loc["local", "reason"])
    # a stop only passed through is not one of the route's stops: no justification
    assert rows.loc["passing", ["verdict", "max_severity"]].tolist() == ["suspended", "violation"]
    assert result.exit_code() == 1


def test_rejected_trips_ran_and_count(tmp_path: Path) -> None:
    # The recent trip carries more passengers than seats (rejected) and the other has an unknown stop: both ran.
    trips = [routed("r", "base", "2020-01-02"), routed("r", "over", "2020-03-12", passengers=50),
             routed("s", "sbase", "2020-01-02"), routed("s", "lost", "2020-03-13"),
             routed("t", "tbase", "2020-01-02"), routed("t", "dup", "2020-01-03"), routed("t", "dup", "2020-03-14")]
    st_rows = (legs("base", "JA", "JB") + legs("over", "JA", "JB") + legs("sbase", "JA", "JB")
               + legs("lost", "JA", "NOWHERE") + legs("tbase", "JA", "JB") + legs("dup", "JA", "JB"))
    result = transportmon.audit(write_routes(tmp_path, trips, st_rows, rules=WEEK))
    rows = route_rows(result)
    assert rows.loc["r", ["verdict", "recent_trips"]].tolist() == ["restored", 1]
    assert rows.loc["s", ["verdict", "recent_trips"]].tolist() == ["restored", 1]
    # a row repeating an earlier trip id is that trip again, not another one that ran
    assert rows.loc["t", ["verdict", "recent_trips"]].tolist() == ["suspended", 0]
    trip_verdicts = result.report.set_index(["subject", "subject_id"])["verdict"]
    assert trip_verdicts[("trip", "over")] == "rejected" and trip_verdicts[("trip", "lost")] == "rejected"


def test_route_line_follows_its_most_frequent_pattern(tmp_path: Path) -> None:
    trips = [routed("r", f"t{k}", "2020-03-1" + str(k)) for k in range(4)] + [routed("one", "o1", "2020-03-12")]
    st_rows = (legs("t0", "JA", "JA2", "JB") + legs("t1", "JA", "JA2", "JB") + legs("t2", "JA", "JB")
               + legs("t3", "HM", "JB") + legs("o1", "NC", "HM"))
    result = transportmon.audit(write_routes(tmp_path, trips, st_rows))
    rows = route_rows(result)
    stops = stops_frame().set_index("stop_id")
    line = rows.loc["r", "geometry"]
    assert line.geom_type == "LineString"
    assert np.allclose(shapely.get_coordinates(line), stops.loc[["JA", "JA2", "JB"], ["lon", "lat"]].to_numpy())
    # its stops: the main pattern's in order, then those only other patterns serve; HM is high on the as-of date
    assert list(rows.loc["r", "risk_stops"]) == ["HM"] and rows.loc["r", "risk_level"] == "high"
    assert rows.loc["one", "geometry"].geom_type == "LineString"


def test_no_route_id_column_warns_once_and_changes_nothing_else(tmp_path: Path) -> None:
    trips = [trip("a", 23, date="2020-03-10"), trip("b", 10, date="2020-03-12")]
    st_rows = legs("a", "JA", "HM") + legs("b", "JA", "JB")
    without = transportmon.audit(write_trip_world(tmp_path / "without", trips, st_rows), as_of=AS_OF)
    with_routes = transportmon.audit(write_routes(tmp_path / "with", [{**t, "route_id": "R"} for t in trips],
                                                  st_rows), as_of=AS_OF)
    assert not (without.report["subject"] == "route").any()
    warned = [w for w in without.metadata["warnings"] if "route_id" in w]
    assert len(warned) == 1 and "routes are not audited" in warned[0]
    skipped = without.metadata["rules_skipped"]
    assert {r: skipped[r] for r in skipped if r.startswith("TM3")} == dict.fromkeys(
        ("TM301", "TM302", "TM303", "TM304"), "no route_id in the trips layer")
    # the trips themselves are judged alike
    cols = ["subject", "subject_id", "verdict", "reason", "max_severity"]
    a = without.report[without.report["subject"] == "trip"][cols].reset_index(drop=True)
    b = with_routes.report[with_routes.report["subject"] == "trip"][cols].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    assert not [w for w in with_routes.metadata["warnings"] if "route_id" in w]


def test_rows_without_a_route_are_said(tmp_path: Path) -> None:
    trips = [routed("r", "a", "2020-03-10"), {**trip("b", 10, date="2020-03-12"), "route_id": ""}]
    result = transportmon.audit(write_routes(tmp_path, trips, legs("a", "JA", "JB") + legs("b", "JA", "JB")),
                                as_of=AS_OF)
    assert list(route_rows(result).index) == ["r"]
    assert "1 of 2 trip rows have no route_id: they count for no route" in result.metadata["warnings"]


def test_empty_trips_layer_has_no_routes(tmp_path: Path) -> None:
    result = transportmon.audit(write_routes(tmp_path, [], []), as_of=AS_OF)
    assert not (result.report["subject"] == "route").any()
    assert "TM301" in result.metadata["rules_skipped"]


def test_route_facts_of_nothing() -> None:
    facts = R.route_facts(R.merge_counts([]), None)
    assert len(facts.routes) == 0
    assert len(R.route_verdicts(facts, RuleConfig(), AS_OF)) == 0
    assert len(R.route_subjects(facts, RuleConfig(), AS_OF)) == 0


def test_partition_counts_add_up_to_the_whole(window_result: transportmon.AuditResult) -> None:
    """The Dask engine counts partitions of trips and merges them: the same counts as the whole layer."""
    from transportmon import layers as L

    trips, st = window_result.layers["trips"], window_result.layers["stop_times"]
    whole = R.count_routes(trips, st)
    halves = []
    for part in (trips.frame.iloc[::2], trips.frame.iloc[1::2]):
        layer = L.Layer(name="trips", frame=part, rejected=L.empty_rejected(), rows=len(part))
        halves.append(R.count_routes(layer, L.Layer(name="stop_times", frame=st.frame, rejected=st.rejected,
                                                     rows=st.rows)))
    merged = R.merge_counts(halves)
    for attr in ("days", "patterns", "stops"):
        pd.testing.assert_frame_equal(getattr(merged, attr).reset_index(drop=True),
                                      getattr(whole, attr).reset_index(drop=True), check_dtype=False)


def test_html_map_draws_routes_by_verdict(window_result: transportmon.AuditResult) -> None:
    from transportmon.maps import html_text

    text = html_text(window_result, tiles=False)
    assert "线路 routes" in text and "tm-route tm-suspended" in text and "tm-route tm-restored" in text



def test_a_waiver_of_a_suspended_route(tmp_path: Path) -> None:
    """A route is a subject a waiver may name (DESIGN §8): TM301 on it is waived on the as-of date; a waiver naming a
    route the trips do not have is an unknown subject."""
    trips = [routed("local", "l0", "2020-01-03"), routed("other", "o0", "2020-01-03")]
    folder = write_routes(tmp_path, trips, legs("l0", "JA", "JB") + legs("o0", "JA", "JB"), rules=WEEK)
    pd.DataFrame({"subject": ["线路", "route"], "subject_id": ["local", "ghost"], "rule_id": ["TM301", "TM301"],
                  "document": ["文1", "文2"], "valid_from": ["2020-03-01"] * 2,
                  "valid_until": ["2020-03-31"] * 2}).to_csv(folder / "waivers.csv", index=False)
    result = transportmon.audit(folder)
    rows = route_rows(result)
    local, other = rows.loc["local", "findings"][0], rows.loc["other", "findings"][0]
    assert (local["rule_id"], local["severity"]) == ("TM301", "waived")
    assert local["waiver"]["document"] == "文1"
    assert (other["rule_id"], other["severity"]) == ("TM301", "violation")
    assert rows.loc["local", "verdict"] == "suspended"  # the verdict stands
    rep = result.report
    rejected = rep[(rep["subject"] == "waivers").to_numpy()]
    assert list(rejected["reason"]) == ["unknown-subject"] and "ghost" in rejected["detail"].iloc[0]


def _pixels_near(image: np.ndarray, colour: str, tol: int = 3) -> int:
    rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(image[..., :3].astype(int) - rgb) <= tol).all(axis=-1).sum())


def test_png_map_draws_routes_by_verdict(window_result: transportmon.AuditResult, tmp_path: Path) -> None:
    """DESIGN §9, routes on the maps: the static map draws each route in its verdict's colour (the routes' lines
    moved apart here, as they all run JA→JB), and nothing of those colours without the routes."""
    from dataclasses import replace

    import shapely
    from PIL import Image

    from transportmon.maps import png_map
    from transportmon.palette import ROUTE_VERDICT_STYLE

    report = window_result.report.copy()
    is_route = (report["subject"] == "route").to_numpy()
    shift = np.cumsum(is_route) * 0.01
    report.geometry.values[is_route] = [shapely.affinity.translate(g, yoff=float(d))
                                        for g, d in zip(report.geometry[is_route], shift[is_route])]
    moved = replace(window_result, report=report)
    without = replace(window_result, report=report[~is_route].reset_index(drop=True))
    drawn = np.asarray(Image.open(png_map(moved, tmp_path / "routes.png", size=(800, 600), dpi=75, inset=False)))
    bare = np.asarray(Image.open(png_map(without, tmp_path / "bare.png", size=(800, 600), dpi=75, inset=False)))
    verdicts = set(report.loc[is_route, "verdict"].astype(str))
    assert {"restored", "suspended", "new"} <= verdicts
    for v in verdicts:
        colour = ROUTE_VERDICT_STYLE[v][0]
        assert _pixels_near(drawn, colour) > 20, v
        assert _pixels_near(bare, colour) == 0, v
