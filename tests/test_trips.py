"""Coach-trip rules (TM2xx) end to end through ``transportmon.audit``, plus the pure ``decide()`` arithmetic.

The trip world (UTM 50N km, see ``tests/world.py`` for the projection) has counties, so scope and designations can be
tested at every admin level::

    y 100.05–200   421127 黄梅 (x 0–50)   | 421102 黄州 (x 50–100)      both in city 421100, province 420000 (Hubei)
    y 0–100        360403 (x 0–50)        | 360402 (x 50–100)           both in city 360400 Jiujiang, province 360000
    y -100–0       360102 (x 0–100)                                     in city 360100 Nanchang, province 360000

Stops: ``JA`` (25, 50) and ``JA2`` (30, 60) in 360403, ``JB`` (75, 50) in 360402, ``NC`` (50, -50) in 360102,
``HM`` (25, 150) in 421127, ``HZ`` (75, 150) in 421102, ``FAR`` (500, 500) outside every polygon.

Stop-time shorthand (:func:`legs`): the first stop boards only, the last alights only, middle stops both; a ``~``
prefix marks a stop passed through (pickup 0, dropoff 0); ``>`` boards only, ``<`` alights only.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import world
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import transportmon
from transportmon import layers as L
from transportmon.config import RuleConfig, make_config
from transportmon.rules.trips import decide

DAY = "2020-02-05"
AS_OF = "2020-03-16"
STOPS = {"JA": (25, 50), "JA2": (30, 60), "JB": (75, 50), "NC": (50, -50), "HM": (25, 150), "HZ": (75, 150),
         "FAR": (500, 500)}


# --------------------------------------------------------------------------------------------------------------------
# The trip world


def trip_boundaries() -> gpd.GeoDataFrame:
    units = [
        ((0, 0, 100, 100), "360400", "九江市", "city"),
        ((0, 0, 50, 100), "360403", "浔阳区", "county"),
        ((50, 0, 100, 100), "360402", "濂溪区", "county"),
        ((0, -100, 100, 0), "360100", "南昌市", "city"),
        ((0, -100, 100, 0), "360102", "东湖区", "county"),
        ((-50, 100.05, 150, 300), "420000", "湖北省", "province"),
        ((0, 100.05, 100, 200), "421100", "黄冈市", "city"),
        ((0, 100.05, 50, 200), "421127", "黄梅县", "county"),
        ((50, 100.05, 100, 200), "421102", "黄州区", "county"),
    ]
    return world.to_wgs([world.box(*b) for b, *_ in units], adcode=[u[1] for u in units],
                        name=[u[2] for u in units], level=[u[3] for u in units])


def stop_points(ids: list[str] | None = None) -> gpd.GeoDataFrame:
    ids = list(STOPS) if ids is None else ids
    return world.checkpoints([dict(stop_id=s, name=f"站{s}", x=STOPS[s][0], y=STOPS[s][1]) for s in ids])


def stops_frame() -> pd.DataFrame:
    """The stops as a CSV layer (``lon``/``lat``)."""
    pts = stop_points()
    return pd.DataFrame(pts.assign(lon=pts.geometry.x, lat=pts.geometry.y).drop(columns="geometry"))


def trip(trip_id: str, passengers: int | str, seats: int | str = 45, date: str = DAY,
         service_type: str = "scheduled") -> dict:
    return dict(trip_id=trip_id, service_date=date, service_type=service_type, seats=seats, passengers=passengers)


def legs(trip_id: str, *stops: str) -> list[dict]:
    """stop_times rows of one trip from the shorthand of the module docstring (sequence 1, 2, 3 …)."""
    rows = []
    for i, s in enumerate(stops, start=1):
        if s.startswith("~"):
            pickup, dropoff, s = 0, 0, s[1:]
        elif s.startswith(">"):
            pickup, dropoff, s = 1, 0, s[1:]
        elif s.startswith("<"):
            pickup, dropoff, s = 0, 1, s[1:]
        else:
            pickup, dropoff = int(i < len(stops)), int(i > 1)
        rows.append(dict(trip_id=trip_id, stop_sequence=i, stop_id=s, pickup=pickup, dropoff=dropoff))
    return rows


def interval(adcode: str, level: str, valid_from: str, valid_to: str = "") -> dict:
    return dict(adcode=adcode, level=level, valid_from=valid_from, valid_to=valid_to)


HM_HIGH = [interval("421127", "high", "2020-02-01")]


def write_trip_world(folder: Path, trips: list[dict], stop_times: list[dict],
                     risk: list[dict] | pd.DataFrame | gpd.GeoDataFrame | None = HM_HIGH, *,
                     boundaries: gpd.GeoDataFrame | None = None, stops: pd.DataFrame | None = None) -> Path:
    """A ``--data`` folder: boundaries.geojson (always: it overrides cnmaps), stops/trips/stop_times CSV, risk areas."""
    folder.mkdir(parents=True, exist_ok=True)
    (trip_boundaries() if boundaries is None else boundaries).to_file(folder / "boundaries.geojson", driver="GeoJSON")
    (stops_frame() if stops is None else stops).to_csv(folder / "stops.csv", index=False)
    trip_cols = ["trip_id", "service_date", "service_type", "seats", "passengers"]
    pd.DataFrame(trips, columns=trip_cols).to_csv(folder / "trips.csv", index=False)
    pd.DataFrame(stop_times, columns=["trip_id", "stop_sequence", "stop_id", "pickup", "dropoff"]).to_csv(
        folder / "stop_times.csv", index=False)
    if isinstance(risk, gpd.GeoDataFrame):
        risk.to_file(folder / "risk_areas.geojson", driver="GeoJSON")
    elif risk is not None:
        pd.DataFrame(risk).to_csv(folder / "risk_areas.csv", index=False)
    return folder


def trip_rows(result: transportmon.AuditResult) -> pd.DataFrame:
    """The report's trip subjects, indexed by trip id."""
    rep = result.report
    rows = rep[rep["subject"] == "trip"]
    assert rows["subject_id"].is_unique
    return pd.DataFrame(rows).set_index("subject_id")


def verdicts(result: transportmon.AuditResult) -> dict[str, tuple[str, object]]:
    t = trip_rows(result)
    return {i: (v, None if pd.isna(r) else r) for i, v, r in zip(t.index, t["verdict"], t["reason"])}


def rule_ids(findings: list[dict]) -> list[str]:
    return [f["rule_id"] for f in findings]


def assert_counts_add_up(result: transportmon.AuditResult, trips_input: int) -> None:
    for name, row in result.metadata["rows"].items():
        assert row["audited"] + row["rejected"] == row["input"], name
    assert result.metadata["rows"]["trips"]["input"] == trips_input
    rep = result.report
    assert (rep["subject"] == "trip").sum() == trips_input
    assert sum(result.metadata["counts"].get("trip", {}).values()) == trips_input
    for subject, by_verdict in result.metadata["counts"].items():
        for verdict, n in by_verdict.items():
            assert ((rep["subject"] == subject) & (rep["verdict"] == verdict)).sum() == n


# --------------------------------------------------------------------------------------------------------------------
# The occupancy cap: exact arithmetic


CAP_CASES = [  # (trip id, passengers, seats, verdict, excess)
    ("p23of45", 23, 45, "over-cap", 1),
    ("p22of45", 22, 45, "compliant", 0),
    ("p20of40", 20, 40, "compliant", 0),
    ("p21of40", 21, 40, "over-cap", 1),
    ("p45of45", 45, 45, "over-cap", 23),
    ("p30of41", 30, 41, "over-cap", 10),
    ("p0of45", 0, 45, "compliant", 0),
]


@pytest.fixture(scope="module")
def cap_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    trips = [trip(i, p, s) for i, p, s, *_ in CAP_CASES] + [trip("p30of45", 30, 45), trip("p31of45", 31, 45)]
    st_rows = [r for t in trips for r in legs(t["trip_id"], "JA", "HM")]
    return write_trip_world(tmp_path_factory.mktemp("cap"), trips, st_rows)


@pytest.fixture(scope="module")
def cap_result(cap_world: Path) -> transportmon.AuditResult:
    return transportmon.audit(cap_world, as_of=AS_OF)


@pytest.mark.parametrize(("trip_id", "passengers", "seats", "verdict", "excess"), CAP_CASES)
def test_half_cap_integer_arithmetic(cap_result: transportmon.AuditResult, trip_id: str, passengers: int, seats: int,
                                     verdict: str, excess: int) -> None:
    row = trip_rows(cap_result).loc[trip_id]
    assert row["verdict"] == verdict
    assert row["passengers"] == passengers and row["seats"] == seats
    assert row["max_passengers"] == seats // 2
    assert row["excess_passengers"] == excess
    assert row["cap"] == 0.5
    assert row["occupancy"] == pytest.approx(round(passengers / seats, 4))
    assert row["scope"] == "inter-provincial"
    assert row["risk_stops"] == ["HM"]
    assert row["risk_level"] == "high"
    assert row["service_date"] == DAY
    assert pd.isna(row["reason"])
    expected_rule = {"over-cap": "TM201", "compliant": "TM202"}[verdict]
    assert rule_ids(row["findings"]) == [expected_rule]
    assert row["findings"][0]["severity"] == ("violation" if verdict == "over-cap" else "info")


def test_over_cap_message_names_the_numbers(cap_result: transportmon.AuditResult) -> None:
    finding = trip_rows(cap_result).loc["p23of45", "findings"][0]
    assert "23/45" in finding["message_zh"] and "超载1人" in finding["message_zh"]
    assert "23 of 45" in finding["message_en"] and "HM" in finding["message_en"]


def test_cap_counts_and_exit_code(cap_result: transportmon.AuditResult) -> None:
    counts = cap_result.metadata["counts"]["trip"]
    assert counts == {"compliant": 3, "over-cap": 6}  # p30of45 and p31of45 are both over a 50% cap
    assert cap_result.exit_code() == 1
    assert set(cap_result.metadata["rules_run"]) >= {"TM201", "TM202", "TM203"}
    assert_counts_add_up(cap_result, 9)


def test_configurable_cap_two_thirds(cap_world: Path) -> None:
    result = transportmon.audit(cap_world, as_of=AS_OF, config=make_config(occupancy_cap="2/3"))
    t = trip_rows(result)
    assert t.loc["p30of45", "verdict"] == "compliant"  # 30 × 3 = 90 = 45 × 2: exactly at the cap
    assert t.loc["p31of45", "verdict"] == "over-cap"
    assert t.loc["p31of45", "max_passengers"] == 30
    assert t.loc["p31of45", "excess_passengers"] == 1
    assert t.loc["p30of45", "excess_passengers"] == 0
    assert t.loc["p23of45", "verdict"] == "compliant"
    assert t.loc["p30of41", "verdict"] == "over-cap"  # 41 × 2 // 3 = 27
    assert t.loc["p30of41", "excess_passengers"] == 3
    assert t.loc["p31of45", "cap"] == pytest.approx(2 / 3)
    assert result.metadata["rules"]["occupancy_cap"] == "2/3"


# --------------------------------------------------------------------------------------------------------------------
# decide(): pure arithmetic, any cap


def evidence(passengers: list[int], seats: list[int]) -> pd.DataFrame:
    n = len(passengers)
    return pd.DataFrame({
        "trip_id": [f"t{i}" for i in range(n)], "service_date": pd.to_datetime([DAY] * n),
        "service_type": "scheduled", "seats": seats, "passengers": passengers, "route_id": pd.NA, "row": range(n),
        "touching": True, "passes": False, "risk_stops": [["HM"]] * n, "scope": "inter-provincial",
        "risk_level": "high",
    })


@pytest.mark.parametrize("cap", ["1/2", "2/3", "3/5", "1/3", "1"])
def test_decide_exhaustive_integer_cap(cap: str) -> None:
    """Every (passengers, seats) with 1 ≤ seats ≤ 60: over iff passengers × den > seats × num; no float rounding."""
    seats = np.repeat(np.arange(1, 61), np.arange(2, 62))
    pax = np.concatenate([np.arange(s + 1) for s in range(1, 61)])
    cfg = make_config(occupancy_cap=cap)
    num, den = cfg.occupancy_cap.numerator, cfg.occupancy_cap.denominator
    out, findings = decide(evidence(pax.tolist(), seats.tolist()), cfg)
    over = pax * den > seats * num
    np.testing.assert_array_equal(out["verdict"].to_numpy(), np.where(over, "over-cap", "compliant"))
    np.testing.assert_array_equal(out["max_passengers"].to_numpy(), seats * num // den)
    np.testing.assert_array_equal(out["excess_passengers"].to_numpy(dtype="int64"),
                                  np.where(over, pax - seats * num // den, 0))
    assert len(findings) == len(seats)
    assert (findings["rule_id"] == np.where(over, "TM201", "TM202")[findings["subject_id"].str[1:].astype(int)]).all()


@settings(max_examples=8, deadline=None)
@given(data=st.data(), num=st.integers(1, 12), den=st.integers(1, 12))
def test_decide_matches_integer_cap(data: st.DataObject, num: int, den: int) -> None:
    if num > den:
        num, den = den, num
    seats = data.draw(st.lists(st.integers(1, 400), min_size=1, max_size=30))
    pax = [data.draw(st.integers(0, s)) for s in seats]
    cfg = make_config(occupancy_cap=f"{num}/{den}")
    out, _ = decide(evidence(pax, seats), cfg)
    for p, s, v, m, e in zip(pax, seats, out["verdict"], out["max_passengers"], out["excess_passengers"]):
        over = p * den > s * num
        assert v == ("over-cap" if over else "compliant")
        assert m == (s * num) // den
        assert e == (p - (s * num) // den if over else 0)


def test_decide_empty() -> None:
    out, findings = decide(evidence([], []), RuleConfig())
    assert len(out) == 0 and len(findings) == 0


# --------------------------------------------------------------------------------------------------------------------
# Designations on the trip's own date


def test_valid_to_is_inclusive_and_the_day_after_is_not(tmp_path: Path) -> None:
    dates = {"before": "2020-01-31", "first": "2020-02-01", "last": "2020-02-10", "after": "2020-02-11"}
    trips = [trip(k, 30, date=d) for k, d in dates.items()]
    folder = write_trip_world(tmp_path, trips, [r for k in dates for r in legs(k, "JA", "HM")],
                              [interval("421127", "high", "2020-02-01", "2020-02-10")])
    v = verdicts(transportmon.audit(folder, as_of=AS_OF))
    assert v == {"before": ("not-applicable", "no-risk-stop"), "first": ("over-cap", None),
                 "last": ("over-cap", None), "after": ("not-applicable", "no-risk-stop")}


def test_county_lifted_to_low_inside_medium_province(tmp_path: Path) -> None:
    risk = [interval("420000", "medium", "2020-02-01"),
            interval("421127", "low", "2020-02-10", "2020-02-20"),
            interval("421100", "high", "2020-02-14", "2020-02-16")]
    cases = {  # trip id: (alighting stop, date, verdict, reason, level)
        "hm-0205": ("HM", "2020-02-05", "over-cap", None, "medium"),
        "hm-0210": ("HM", "2020-02-10", "not-applicable", "no-risk-stop", None),
        "hm-0215": ("HM", "2020-02-15", "not-applicable", "no-risk-stop", None),  # county beats city's high
        "hm-0220": ("HM", "2020-02-20", "not-applicable", "no-risk-stop", None),
        "hm-0221": ("HM", "2020-02-21", "over-cap", None, "medium"),  # the province applies again
        "hz-0215": ("HZ", "2020-02-15", "over-cap", None, "high"),  # city beats province
        "hz-0217": ("HZ", "2020-02-17", "over-cap", None, "medium"),
    }
    trips = [trip(k, 30, date=c[1]) for k, c in cases.items()]
    st_rows = [r for k, c in cases.items() for r in legs(k, "JA", c[0])]
    t = trip_rows(transportmon.audit(write_trip_world(tmp_path, trips, st_rows, risk), as_of=AS_OF))
    for k, (_, _, verdict, reason, level) in cases.items():
        assert t.loc[k, "verdict"] == verdict, k
        assert (None if pd.isna(t.loc[k, "reason"]) else t.loc[k, "reason"]) == reason, k
        if level is not None:
            assert t.loc[k, "risk_level"] == level, k
            assert t.loc[k, "risk_stops"] == [cases[k][0]], k
        else:
            assert t.loc[k, "risk_stops"] == [], k


def test_snapshot_form(tmp_path: Path) -> None:
    risk = pd.DataFrame({
        "as_of": ["2020-02-01", "2020-02-10", "2020-02-20"],
        "adcodes": ["421127;421102", "421127", "421102"],
        "level": ["高", "低", "中"],
        "derivation": ["full", "partial_change_only", "partial_change_only"],
    })
    cases = {
        "hm-0209": ("HM", "2020-02-09", "over-cap", "high"),
        "hm-0210": ("HM", "2020-02-10", "not-applicable", None),  # the later snapshot names 421127: low
        "hm-0225": ("HM", "2020-02-25", "not-applicable", None),  # 421127 not named again: still low
        "hz-0210": ("HZ", "2020-02-10", "over-cap", "high"),  # unnamed by the partial snapshot: still high
        "hz-0219": ("HZ", "2020-02-19", "over-cap", "high"),
        "hz-0220": ("HZ", "2020-02-20", "over-cap", "medium"),  # named again: replaced
    }
    trips = [trip(k, 30, date=c[1]) for k, c in cases.items()]
    st_rows = [r for k, c in cases.items() for r in legs(k, "JA", c[0])]
    result = transportmon.audit(write_trip_world(tmp_path, trips, st_rows, risk), as_of=AS_OF)
    t = trip_rows(result)
    for k, (_, _, verdict, level) in cases.items():
        assert t.loc[k, "verdict"] == verdict, k
        if level:
            assert t.loc[k, "risk_level"] == level, k
        else:
            assert t.loc[k, "reason"] == "no-risk-stop", k
    assert result.metadata["rows"]["risk_areas"] == {"input": 3, "audited": 3, "rejected": 0}


def test_risk_areas_as_own_polygons(tmp_path: Path) -> None:
    # A polygon around HM only, no adcode column: HZ (same city, other county) is not in it.
    area = world.to_wgs([world.box(20, 145, 30, 155)], level=["high"], valid_from=["2020-02-01"],
                        valid_to=["2020-02-10"], source=["手绘"])
    trips = [trip("to-hm", 30), trip("to-hz", 30), trip("to-hm-late", 30, date="2020-02-11")]
    st_rows = legs("to-hm", "JA", "HM") + legs("to-hz", "JA", "HZ") + legs("to-hm-late", "JA", "HM")
    result = transportmon.audit(write_trip_world(tmp_path, trips, st_rows, area), as_of=AS_OF)
    v = verdicts(result)
    assert v == {"to-hm": ("over-cap", None), "to-hz": ("not-applicable", "no-risk-stop"),
                 "to-hm-late": ("not-applicable", "no-risk-stop")}
    assert trip_rows(result).loc["to-hm", "risk_stops"] == ["HM"]


def test_polygon_area_beats_county_designation(tmp_path: Path) -> None:
    area = world.to_wgs([world.box(20, 145, 30, 155), world.box(-1000, -1000, -999, -999)],
                        adcode=[None, "421127"], level=["high", "low"], valid_from=["2020-02-01", "2020-02-01"])
    # The second row's geometry is far away but it names 421127 by adcode: the county is low, the polygon high.
    trips = [trip("to-hm", 30), trip("to-ja2", 30)]
    st_rows = legs("to-hm", "NC", "HM") + legs("to-ja2", "NC", "JA2")
    t = trip_rows(transportmon.audit(write_trip_world(tmp_path, trips, st_rows, area), as_of=AS_OF))
    assert t.loc["to-hm", "verdict"] == "over-cap"
    assert t.loc["to-ja2", "reason"] == "no-risk-stop"


# --------------------------------------------------------------------------------------------------------------------
# Touching, passing through, scope, service type


@pytest.fixture(scope="module")
def touch_result(tmp_path_factory: pytest.TempPathFactory) -> transportmon.AuditResult:
    # 360403 (JA, JA2) and 421127 (HM) high; 360402 (JB), 360102 (NC), 421102 (HZ) not designated.
    plan = {
        "pass-city": ("scheduled", ["JB", "~HM", "NC"]),  # boarding in Jiujiang and Nanchang: inter-city
        "pass-prov": ("scheduled", ["JB", "~HM", "HZ"]),  # boarding in Jiangxi and Hubei: inter-provincial
        "alight-hm": ("scheduled", ["JB", "<HM", "HZ"]),  # alights at HM: touching
        "board-hm": ("scheduled", [">HM", "HZ", "NC"]),  # boards at HM
        "two-risk": ("scheduled", ["JA", "~JA2", "HM", "NC"]),  # JA2 passed: not a risk stop
        "one-risk": ("scheduled", ["JA", "~HM", "NC"]),
        "intra-county": ("scheduled", ["JA", "JA2"]),
        "intra-city": ("charter", ["JA", "JB"]),
        "intra-city-pass": ("scheduled", ["JB", "~HM", "JB"]),
        "charter": ("charter", ["JA", "NC"]),
        "scheduled": ("scheduled", ["JA", "NC"]),
        "other": ("other", ["JA", "NC"]),
        "other-intra": ("other", ["JA", "JA2"]),
        "baoche": ("包车", ["JB", "HM"]),
        "no-risk": ("charter", ["JB", "HZ"]),
        "round-trip": ("scheduled", ["JA", "NC", "JA"]),
    }
    trips = [trip(k, 40, service_type=s) for k, (s, _) in plan.items()]
    st_rows = [r for k, (_, stops) in plan.items() for r in legs(k, *stops)]
    risk = [interval("360403", "high", "2020-02-01"), interval("421127", "high", "2020-02-01")]
    folder = write_trip_world(tmp_path_factory.mktemp("touch"), trips, st_rows, risk)
    return transportmon.audit(folder, as_of=AS_OF)


@pytest.mark.parametrize(("trip_id", "verdict", "reason", "scope", "risk_stops"), [
    ("pass-city", "not-applicable", "pass-through-only", "inter-city", []),
    ("pass-prov", "not-applicable", "pass-through-only", "inter-provincial", []),
    ("alight-hm", "over-cap", None, "inter-provincial", ["HM"]),
    ("board-hm", "over-cap", None, "inter-provincial", ["HM"]),
    ("two-risk", "over-cap", None, "inter-provincial", ["JA", "HM"]),
    ("one-risk", "over-cap", None, "inter-city", ["JA"]),
    ("intra-county", "not-applicable", "intra-city", "intra-city", ["JA", "JA2"]),
    ("intra-city", "not-applicable", "intra-city", "intra-city", ["JA"]),
    ("intra-city-pass", "not-applicable", "intra-city", "intra-city", []),
    ("charter", "over-cap", None, "inter-city", ["JA"]),
    ("scheduled", "over-cap", None, "inter-city", ["JA"]),
    ("other", "not-applicable", "service-type", "inter-city", ["JA"]),
    ("other-intra", "not-applicable", "service-type", "intra-city", ["JA", "JA2"]),
    ("baoche", "over-cap", None, "inter-provincial", ["HM"]),
    ("no-risk", "not-applicable", "no-risk-stop", "inter-provincial", []),
    ("round-trip", "over-cap", None, "inter-city", ["JA"]),  # each risk stop listed once
])
def test_touching_scope_and_service_type(touch_result: transportmon.AuditResult, trip_id: str, verdict: str,
                                         reason: str | None, scope: str, risk_stops: list[str]) -> None:
    row = trip_rows(touch_result).loc[trip_id]
    assert row["verdict"] == verdict
    assert (None if pd.isna(row["reason"]) else row["reason"]) == reason
    assert row["scope"] == scope
    assert row["risk_stops"] == risk_stops
    if verdict == "not-applicable":
        assert rule_ids(row["findings"]) == ["TM203"]
        assert pd.isna(row["excess_passengers"])
    else:
        assert row["excess_passengers"] == 40 - 22


def test_pass_through_reason_in_message(touch_result: transportmon.AuditResult) -> None:
    f = trip_rows(touch_result).loc["pass-city", "findings"][0]
    assert "途经" in f["message_zh"] and "passes through" in f["message_en"]


# --------------------------------------------------------------------------------------------------------------------
# Missing and empty layers


def test_no_risk_areas_layer(tmp_path: Path) -> None:
    trips = [trip("inter", 40), trip("intra", 40), trip("other", 40, service_type="other")]
    st_rows = legs("inter", "JA", "HM") + legs("intra", "JA", "JB") + legs("other", "JA", "HM")
    result = transportmon.audit(write_trip_world(tmp_path, trips, st_rows, risk=None), as_of=AS_OF)
    assert verdicts(result) == {"inter": ("not-applicable", "no-risk-data"), "intra": ("not-applicable", "intra-city"),
                                "other": ("not-applicable", "service-type")}
    skipped = result.metadata["rules_skipped"]
    assert {"TM201", "TM202"} <= set(skipped)
    assert "risk" in skipped["TM201"]
    assert "TM201" not in result.metadata["rules_run"]
    assert "risk_areas" not in result.metadata["rows"]
    assert result.exit_code() == 0


def test_header_only_trips(tmp_path: Path) -> None:
    result = transportmon.audit(write_trip_world(tmp_path, [], []), as_of=AS_OF)
    assert not (result.report["subject"] == "trip").any()
    assert not (result.report["subject"] == "stop_times").any()
    assert result.metadata["rows"]["trips"] == {"input": 0, "audited": 0, "rejected": 0}
    assert result.metadata["rows"]["stop_times"] == {"input": 0, "audited": 0, "rejected": 0}
    assert "trip" not in result.metadata["counts"]
    assert result.exit_code() == 0


# --------------------------------------------------------------------------------------------------------------------
# Geometry


def test_trip_line_follows_stop_sequence(tmp_path: Path) -> None:
    # Rows out of order in the file and sequences with gaps: 30, 10, 20.
    st_rows = [dict(trip_id="t", stop_sequence=30, stop_id="NC", pickup=0, dropoff=1),
               dict(trip_id="t", stop_sequence=10, stop_id="HM", pickup=1, dropoff=0),
               dict(trip_id="t", stop_sequence=20, stop_id="JB", pickup=1, dropoff=1),
               dict(trip_id="u", stop_sequence=2, stop_id="JA", pickup=1, dropoff=1),
               dict(trip_id="u", stop_sequence=1, stop_id="HZ", pickup=1, dropoff=1),
               dict(trip_id="loop", stop_sequence=1, stop_id="HM", pickup=1, dropoff=1)]
    result = transportmon.audit(write_trip_world(tmp_path, [trip("t", 10), trip("u", 10), trip("loop", 10)], st_rows),
                                as_of=AS_OF)
    rep = result.report.set_index("subject_id")
    pts = stop_points().set_index("stop_id").geometry
    for trip_id, order in (("t", ["HM", "JB", "NC"]), ("u", ["HZ", "JA"])):
        geom = rep.loc[trip_id, "geometry"]
        assert geom.geom_type == "LineString"
        expected = shapely.get_coordinates(pts.loc[order].to_numpy())
        np.testing.assert_allclose(shapely.get_coordinates(geom), expected, atol=1e-9)
    assert result.report.crs.to_epsg() == 4326
    # A one-stop trip is a point (and intra-city).
    loop = rep.loc["loop"]
    assert (loop["verdict"], loop["reason"]) == ("not-applicable", "intra-city")
    assert loop["geometry"].equals_exact(pts.loc["HM"], 1e-9)


# --------------------------------------------------------------------------------------------------------------------
# Bad input: every rejected trip is in the report with its reason; counts add up


REJECTED_CASES = {  # trip id: reason
    "too-many": "passengers-exceed-seats",
    "no-seats": "non-positive-seats",
    "neg-seats": "non-positive-seats",
    "neg-pax": "negative-passengers",
    "unknown-stop": "unknown-stop",
    "bad-date": "malformed-date",
    "no-date": "malformed-date",
    "no-stops": "trip-without-stops",
    "outside": "stop-outside-boundaries",
    "bad-type": "malformed-value",
    "half-seat": "malformed-value",
}


@pytest.fixture(scope="module")
def bad_result(tmp_path_factory: pytest.TempPathFactory) -> transportmon.AuditResult:
    trips = [
        trip("ok", 23), trip("too-many", 46), trip("no-seats", 0, seats=0), trip("neg-seats", 0, seats=-4),
        trip("neg-pax", -1), trip("unknown-stop", 10), trip("bad-date", 10, date="2020-13-01"),
        trip("no-date", 10, date=""), trip("no-stops", 10), trip("outside", 10),
        trip("bad-type", 10, service_type="ferry"), trip("half-seat", 10, seats="44.5"),
    ]
    st_rows = (legs("ok", "JA", "HM") + legs("too-many", "JA", "HM") + legs("no-seats", "JA", "HM")
               + legs("neg-seats", "JA", "HM") + legs("neg-pax", "JA", "HM") + legs("unknown-stop", "JA", "XX", "HM")
               + legs("bad-date", "JA", "HM") + legs("no-date", "JA", "HM") + legs("outside", "JA", "FAR")
               + legs("bad-type", "JA", "HM") + legs("half-seat", "JA", "HM") + legs("ghost", "JA", "HM"))
    folder = write_trip_world(tmp_path_factory.mktemp("bad"), trips, st_rows)
    return transportmon.audit(folder, as_of=AS_OF)


@pytest.mark.parametrize(("trip_id", "reason"), sorted(REJECTED_CASES.items()))
def test_rejected_trip_in_report(bad_result: transportmon.AuditResult, trip_id: str, reason: str) -> None:
    row = trip_rows(bad_result).loc[trip_id]
    assert row["verdict"] == "rejected"
    assert row["reason"] == reason
    ids = rule_ids(row["findings"])
    assert ids and all(i.startswith("TM9") for i in ids)


def test_bad_input_counts_add_up(bad_result: transportmon.AuditResult) -> None:
    t = trip_rows(bad_result)
    assert t.loc["ok", "verdict"] == "over-cap"
    assert bad_result.metadata["counts"]["trip"] == {"over-cap": 1, "rejected": len(REJECTED_CASES)}
    assert_counts_add_up(bad_result, 1 + len(REJECTED_CASES))
    rep = bad_result.report
    st_rej = rep[rep["subject"] == "stop_times"]
    assert sorted(zip(st_rej["subject_id"], st_rej["reason"])) == [
        ("ghost", "unknown-trip"), ("ghost", "unknown-trip"), ("unknown-stop", "unknown-stop")]
    assert bad_result.metadata["rows"]["stop_times"]["rejected"] == 3
    assert t.loc["unknown-stop", "detail"] == "stop_id=XX"
    assert "FAR" in t.loc["outside", "detail"]


def test_duplicate_trip_id_is_rejected_not_lost(tmp_path: Path) -> None:
    trips = [trip("dup", 10), trip("dup", 30), trip("other", 30)]
    result = transportmon.audit(
        write_trip_world(tmp_path, trips, legs("dup", "JA", "HM") + legs("other", "JA", "HM")), as_of=AS_OF)
    rep = result.report[result.report["subject"] == "trip"]
    assert len(rep) == 3
    dup = rep[rep["subject_id"] == "dup"]
    assert "rejected" in set(dup["verdict"])
    assert (dup["reason"] == "duplicate-id").any()
    assert_counts_add_up(result, 3)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.one_of(st.integers(-5, 60).map(str), st.sampled_from(["", "abc", "4.5", "1e3", "４５"])),
                          st.one_of(st.integers(-5, 60).map(str), st.sampled_from(["", "x", "2.0"])),
                          st.sampled_from(["2020-02-05", "2020/2/5", "2020年2月5日", "2020-02-30", "", "yesterday"]),
                          st.sampled_from(["scheduled", "charter", "other", "班车", "ferry", ""])),
                max_size=30))
def test_validate_trips_never_loses_a_row(rows: list[tuple[str, str, str, str]]) -> None:
    frame = pd.DataFrame([dict(trip_id=f"t{i}", seats=s, passengers=p, service_date=d, service_type=k)
                          for i, (s, p, d, k) in enumerate(rows)],
                         columns=["trip_id", "service_date", "service_type", "seats", "passengers"]).astype("string")
    layer = L.validate_trips(frame, "<trips>")
    assert len(layer.frame) + len(layer.rejected) == len(rows)
    good = layer.frame
    assert (good["seats"] > 0).all() and (good["passengers"] >= 0).all()
    assert (good["passengers"] <= good["seats"]).all()
    assert good["service_type"].isin(["scheduled", "charter", "other"]).all()
    assert set(layer.rejected["reason"]) <= {"malformed-value", "malformed-date", "non-positive-seats",
                                             "negative-passengers", "passengers-exceed-seats", "missing-id",
                                             "duplicate-id"}


def test_every_trip_rejected_does_not_crash(tmp_path: Path) -> None:
    """No trip survives validation (one row over its seats is enough): the rejected rows are the report."""
    trips = [trip("a", 50), trip("b", 1, seats=0)]
    folder = write_trip_world(tmp_path, trips, legs("a", "JA", "HM") + legs("b", "JA", "HM"))
    result = transportmon.audit(folder, as_of=AS_OF)
    assert verdicts(result) == {"a": ("rejected", "passengers-exceed-seats"), "b": ("rejected", "non-positive-seats")}
    assert_counts_add_up(result, 2)


def test_releasing_the_trip_layers_changes_nothing_in_the_report() -> None:
    """``keep_layers=False`` (what the command does without --map) drops the stop rows as soon as their codes are
    taken: the report and its metadata are the same, and the layers keep only their row counts."""
    kept = transportmon.audit()
    freed = transportmon.audit(keep_layers=False)
    pd.testing.assert_frame_equal(pd.DataFrame(freed.report), pd.DataFrame(kept.report))
    assert freed.metadata == kept.metadata
    for name in ("trips", "stop_times"):
        assert len(freed.layers[name].frame) == len(kept.layers[name].frame) > 0
        assert list(freed.layers[name].frame.columns) == []
