"""Messages and report numbers that agree with the verdict and with the configuration.

- The keep message names the configured exempt neighbours (安徽/Anhui with ``exempt_neighbours = ["340000"]``), not
  a hard-coded Hubei.
- A distance is never shown rounded onto the limit it was judged against: 3,000.04 m is not "3,000 m" beside a
  remove verdict, neither in the message nor in the report's ``distance_to_crossing_m``; the same at the 150 m snap.
- A road without a ref leaves no double space; an expressway is "an expressway".
- Without a risk-areas layer a trip's ``no-risk-data`` has its own message (the cap could not be checked), not the
  ``no-risk-stop`` one (which claims a check nobody made); ``transportmon rules`` lists it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import world
from test_checkpoints import evidence
from test_trips import legs, trip, trip_rows, write_trip_world
from typer.testing import CliRunner

import transportmon
from transportmon.cli import app
from transportmon.config import RuleConfig, make_config
from transportmon.geo.names import PROVINCES, neighbour_names, unit_name
from transportmon.report import assemble
from transportmon.rules import trips as trip_rules
from transportmon.rules.checkpoints import decide, distance_limits
from transportmon.rules.registry import decimals_off_limit, metres_text, number_text

AS_OF = pd.Timestamp("2020-03-16")


def messages(**overrides: object) -> tuple[str, str, str, str]:
    """(verdict, rule id, message_zh, message_en) of one checkpoint's verdict finding under the default config."""
    config = overrides.pop("config", RuleConfig())
    neighbours = overrides.pop("neighbours", None)
    verdicts, findings = decide(evidence(**overrides), config, AS_OF, neighbours=neighbours)
    f = findings[findings["rule_id"].isin(["TM101", "TM102", "TM103", "TM104"])]
    assert len(f) == 1, findings
    return verdicts["verdict"].iloc[0], f["rule_id"].iloc[0], f["message_zh"].iloc[0], f["message_en"].iloc[0]


# ------------------------------------------------------------------------------------------------------------
# the exempt neighbour is named from the configuration


def test_keep_message_names_hubei_by_default() -> None:
    verdict, rule, zh, en = messages(distance_to_crossing_m=700.0)
    assert (verdict, rule) == ("keep", "TM102")
    assert "距湖北交界路口沿路700米" in zh
    assert "exempt border with Hubei" in en


def test_keep_message_names_the_configured_neighbour_not_hubei() -> None:
    verdict, rule, zh, en = messages(distance_to_crossing_m=700.0, config=make_config(exempt_neighbours=["340000"]))
    assert (verdict, rule) == ("keep", "TM102")
    assert "安徽" in zh and "湖北" not in zh
    assert "Anhui" in en and "Hubei" not in en


def test_keep_message_names_two_neighbours() -> None:
    _, _, zh, en = messages(config=make_config(exempt_neighbours=["420000", "340000"]))
    assert "距湖北、安徽交界路口" in zh
    assert "with Hubei or Anhui" in en


def test_world_keep_message_names_anhui(tmp_path: Path) -> None:
    cps = [{"checkpoint_id": "anhui", "x": 80, "y": 99}]
    d = world.write_world(tmp_path, cps)
    result = transportmon.audit(d, as_of="2020-03-16", boundaries=d / "boundaries.geojson",
                                config=make_config(exempt_neighbours=["340000"]))
    (finding,) = result.report.set_index("subject_id").loc["anhui", "findings"]
    assert finding["rule_id"] == "TM102"
    assert "安徽" in finding["message_zh"] and "湖北" not in finding["message_zh"]
    assert "Anhui" in finding["message_en"] and "Hubei" not in finding["message_en"]


def test_world_city_neighbour_is_named_from_the_boundaries(tmp_path: Path) -> None:
    """A neighbour below province level has no entry in the table: its name comes from the boundaries in use."""
    d = world.write_world(tmp_path, [{"checkpoint_id": "hubei", "x": 30, "y": 98}])
    bounds = gpd.read_file(d / "boundaries.geojson")
    bounds.loc[bounds["adcode"] == "420000", ["adcode", "name", "level"]] = ["421100", "黄冈市", "city"]
    bounds.to_file(d / "boundaries.geojson", driver="GeoJSON")
    result = transportmon.audit(d, as_of="2020-03-16", boundaries=d / "boundaries.geojson",
                                config=make_config(exempt_neighbours=["421100"]))
    (finding,) = result.report.set_index("subject_id").loc["hubei", "findings"]
    assert finding["rule_id"] == "TM102"
    assert "距黄冈市交界路口" in finding["message_zh"]
    assert "exempt border with 黄冈市 (421100)" in finding["message_en"]


def test_unit_names() -> None:
    assert len(PROVINCES) == 34
    assert all(re.fullmatch(r"[1-8]\d0000", code) for code in PROVINCES)
    assert unit_name("420000") == ("湖北", "Hubei")
    bounds = pd.DataFrame({"adcode": ["421100", "421127"], "name": ["黄冈市", None]})
    assert unit_name("421100", bounds) == ("黄冈市", "黄冈市 (421100)")
    assert unit_name("421127", bounds) == ("行政区划421127", "adcode 421127")  # a row without a name
    assert unit_name("999999") == ("行政区划999999", "adcode 999999")
    assert neighbour_names([]) == ("", "")
    assert neighbour_names(["340000", "420000", "430000"]) == ("安徽、湖北、湖南", "Anhui, Hubei or Hunan")


# ------------------------------------------------------------------------------------------------------------
# distances are never rounded onto their limit


@pytest.mark.parametrize(("distance", "verdict", "rule", "zh", "en"), [
    (2999.4, "keep", "TM102", "2,999米", "2,999 m"),
    (2999.96, "keep", "TM102", "2,999.96米", "2,999.96 m"),
    (3000.0, "keep", "TM102", "3,000米", "3,000 m"),
    (3000.04, "remove", "TM101", "3,000.04米", "3,000.04 m"),
    (3000.3, "remove", "TM101", "3,000.3米", "3,000.3 m"),
    (3000.6, "remove", "TM101", "3,001米", "3,001 m"),
])
def test_crossing_distance_is_never_rounded_onto_the_limit(distance: float, verdict: str, rule: str, zh: str,
                                                           en: str) -> None:
    got = messages(distance_to_crossing_m=distance)
    assert got[:2] == (verdict, rule)
    assert f"沿路{zh}（" in got[2] and f" is {en} by road" in got[3]


@pytest.mark.parametrize(("distance", "verdict", "shown"), [
    (149.4, "remove", None), (149.96, "remove", None), (150.0, "remove", None),
    (150.04, "review", "150.04"), (150.3, "review", "150.3"), (150.6, "review", "151"),
])
def test_road_distance_is_never_rounded_onto_the_snap_tolerance(distance: float, verdict: str,
                                                                shown: str | None) -> None:
    got = messages(distance_to_road_m=distance, distance_to_crossing_m=50_000.0)
    assert got[0] == verdict
    if shown is not None:
        assert got[1] == "TM103"
        assert f"（最近道路{shown}米）" in got[2] and f"(nearest {shown} m)" in got[3]


def test_a_configured_fractional_limit_is_shown_as_it_is() -> None:
    config = make_config(snap_tolerance_m=150.5)
    verdict, rule, zh, en = messages(distance_to_road_m=150.7, distance_to_crossing_m=50_000.0, config=config)
    assert (verdict, rule) == ("review", "TM103")
    assert "No road within 150.5 m of the checkpoint (nearest 151 m)" in en
    assert number_text(3000.0) == "3,000" and number_text(150.25) == "150.25"


def test_decimals_off_limit() -> None:
    values = np.array([2999.4, 2999.96, 3000.0, 3000.04, 3000.3, 3000.6, np.inf, np.nan, 3000 + 1e-9])
    np.testing.assert_array_equal(decimals_off_limit(values, 3000.0), [0, 2, 0, 2, 1, 0, 0, 0, 9])
    np.testing.assert_array_equal(decimals_off_limit(values, 3000.0, least=1), [1, 2, 1, 2, 1, 1, 1, 1, 9])
    np.testing.assert_array_equal(decimals_off_limit(values, None, least=1), [1] * len(values))
    text = metres_text(pd.Series(values), 3000.0).tolist()
    assert text == ["2,999", "2,999.96", "3,000", "3,000.04", "3,000.3", "3,001", "—", "—", "3,000.000000001"]


def test_report_distances_are_never_rounded_onto_their_limit() -> None:
    crossing = [2999.96, 3000.0, 3000.04, 3000.3, 2317.24, 2999.94]
    road = [149.96, 150.0, 150.04, 150.3, 0.0, 12.345]
    part = gpd.GeoDataFrame({"subject": "checkpoint", "subject_id": [f"cp{i}" for i in range(6)],
                             "distance_to_crossing_m": crossing, "distance_to_road_m": road,
                             "distance_to_exempt_border_m": crossing},
                            geometry=gpd.points_from_xy([116.0] * 6, [29.7] * 6), crs="EPSG:4326")
    report = assemble([part], "policy", limits=distance_limits(RuleConfig()))
    assert report["distance_to_crossing_m"].tolist() == [2999.96, 3000.0, 3000.04, 3000.3, 2317.2, 2999.9]
    assert report["distance_to_road_m"].tolist() == [149.96, 150.0, 150.04, 150.3, 0.0, 12.3]
    # The straight-line distance is judged against nothing: 0.1 m as before.
    assert report["distance_to_exempt_border_m"].tolist() == [3000.0, 3000.0, 3000.0, 3000.3, 2317.2, 2999.9]


@pytest.fixture(scope="module")
def limit_world(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """Checkpoints 4 cm either side of the border tolerance (G105 crosses into Hubei at y = 100 km) and of the snap
    tolerance (G105 runs along x = 30 km); WGS-84 round trips cost ~1e-6 m."""
    cps = [{"checkpoint_id": "cross-2999.96", "x": 30, "y": 97.00004},
           {"checkpoint_id": "cross-3000.04", "x": 30, "y": 96.99996},
           {"checkpoint_id": "road-149.96", "x": 30.14996, "y": 70},
           {"checkpoint_id": "road-150.04", "x": 30.15004, "y": 70}]
    d = world.write_world(tmp_path_factory.mktemp("limits"), cps)
    result = transportmon.audit(d, as_of="2020-03-16", boundaries=d / "boundaries.geojson")
    return result.report.set_index("subject_id")


@pytest.mark.parametrize(("cid", "verdict", "column", "value", "text"), [
    ("cross-2999.96", "keep", "distance_to_crossing_m", 2999.96, "2,999.96 m by road"),
    ("cross-3000.04", "remove", "distance_to_crossing_m", 3000.04, "3,000.04 m by road"),
    ("road-149.96", "remove", "distance_to_road_m", 149.96, None),
    ("road-150.04", "review", "distance_to_road_m", 150.04, "(nearest 150.04 m)"),
])
def test_world_distances_next_to_a_limit(limit_world: pd.DataFrame, cid: str, verdict: str, column: str,
                                         value: float, text: str | None) -> None:
    row = limit_world.loc[cid]
    assert row["verdict"] == verdict
    assert row[column] == value
    if text is not None:
        assert any(text in f["message_en"] for f in row["findings"]), row["findings"]


# ------------------------------------------------------------------------------------------------------------
# road words


@pytest.mark.parametrize(("road_class", "ref", "rule", "en"), [
    ("national", "G105", "TM102", "Checkpoint on national road G105 is 2,000 m by road"),
    ("national", pd.NA, "TM102", "Checkpoint on a national road is 2,000 m by road"),
    ("village", "", "TM102", "Checkpoint on a village road is 2,000 m by road"),
    ("expressway", "G70", "TM104", "Checkpoint on expressway G70, a road class (expressway) the clause does not name"),
    ("expressway", pd.NA, "TM104", "Checkpoint on an expressway, a road class (expressway) the clause does not name"),
    ("urban", "", "TM104", "Checkpoint on an urban street, a road class (urban) the clause does not name"),
    ("other", "X12", "TM104", "Checkpoint on road X12, a road class (other) the clause does not name"),
])
def test_road_words_without_double_space_or_wrong_article(road_class: str, ref: object, rule: str, en: str) -> None:
    _, got_rule, zh, got_en = messages(road_class=road_class, road_ref=ref)
    assert got_rule == rule
    assert got_en.startswith(en), got_en
    for text in (zh, got_en):
        assert "  " not in text and " a expressway" not in text and " a urban" not in text
        assert "<NA>" not in text and "nan" not in text


def test_remove_message_without_ref() -> None:
    verdict, rule, zh, en = messages(road_ref=pd.NA, distance_to_crossing_m=4500.0)
    assert (verdict, rule) == ("remove", "TM101")
    assert en.startswith("Checkpoint on a national road is 4,500 m by road from the nearest exempt-border crossing")
    assert zh.startswith("检测点位于国道，距最近的豁免边界路口沿路4,500米")


# ------------------------------------------------------------------------------------------------------------
# no risk data is not "no risk stop"

NO_RISK_DATA_ZH = "未提供中高风险地区数据，无法核查是否适用客座率上限。"
NO_RISK_DATA_EN = "No risk areas were given, so whether the occupancy cap applies could not be checked."


def test_world_without_risk_areas_says_the_cap_could_not_be_checked(tmp_path: Path) -> None:
    trips = [trip("inter", 40), trip("intra", 40)]
    d = write_trip_world(tmp_path, trips, legs("inter", "JA", "HM") + legs("intra", "JA", "JB"), risk=None)
    rows = trip_rows(transportmon.audit(d, as_of="2020-03-16"))
    assert (rows.loc["inter", "verdict"], rows.loc["inter", "reason"]) == ("not-applicable", "no-risk-data")
    (finding,) = rows.loc["inter", "findings"]
    assert finding["rule_id"] == "TM203"
    assert (finding["message_zh"], finding["message_en"]) == (NO_RISK_DATA_ZH, NO_RISK_DATA_EN)
    # A reason that holds whatever the risk areas keeps its message.
    (finding,) = rows.loc["intra", "findings"]
    assert finding["message_en"] == "The cap does not apply: all boarding/alighting stops are in one city."


def test_world_with_risk_areas_keeps_no_risk_stop(tmp_path: Path) -> None:
    d = write_trip_world(tmp_path, [trip("inter", 40)], legs("inter", "JA", "HZ"))  # HZ is not designated
    rows = trip_rows(transportmon.audit(d, as_of="2020-03-16"))
    assert rows.loc["inter", "reason"] == "no-risk-stop"
    (finding,) = rows.loc["inter", "findings"]
    assert finding["message_en"] == "The cap does not apply: no boarding/alighting stop is in a high/medium-risk area."
    assert finding["message_zh"] == "限载不适用：上下客站点均不在中高风险地区。"


@pytest.mark.parametrize(("risk_data", "reason", "en"), [
    (True, "no-risk-stop", "The cap does not apply: no boarding/alighting stop is in a high/medium-risk area."),
    (False, "no-risk-data", NO_RISK_DATA_EN),
])
def test_decide_no_risk_data(risk_data: bool, reason: str, en: str) -> None:
    ev = pd.DataFrame({"trip_id": ["t"], "service_date": pd.to_datetime(["2020-03-01"]), "service_type": "scheduled",
                       "seats": [45], "passengers": [40], "route_id": pd.NA, "row": [0], "touching": False,
                       "passes": False, "risk_stops": [[]], "scope": "inter-provincial", "risk_level": pd.NA})
    out, findings = trip_rules.decide(ev, RuleConfig(), risk_data=risk_data)
    assert (out["verdict"].iloc[0], out["reason"].iloc[0]) == ("not-applicable", reason)
    assert findings["message_en"].iloc[0] == en


def test_rules_lists_no_risk_data() -> None:
    table = CliRunner().invoke(app, ["rules", "--lang", "en"], env={"COLUMNS": "400"})  # wide: no word folded
    assert table.exit_code == 0
    assert "no-risk-data (no risk areas were given)" in table.stdout
    docs = {d["id"]: d for d in json.loads(CliRunner().invoke(app, ["rules", "--format", "json"]).stdout)}
    assert "no-risk-data" in docs["TM203"]["summary"] and "no-risk-data" in docs["TM203"]["doc"]
    # The border rules speak of the configured exempt neighbours, Hubei only as the default.
    for rid in ("TM101", "TM102"):
        assert "exempt_neighbours" in docs[rid]["summary"]
        assert "Hubei border" not in docs[rid]["summary"] and "into Hubei" not in docs[rid]["summary"]
