"""Checkpoint rules (TM1xx): exact thresholds through the pure ``decide()``, geometry through the world.

The world (``tests/world.py``) is in UTM metres: a checkpoint at ``(30, 98)`` km sits on G105 two kilometres
south of the crossing into Hubei at ``(30, 100)``. Round trips through WGS-84 cost ~1e-6 m, so geometric cases
sit ≥ 1 m either side of a tolerance; the exact-at-threshold cases go through ``decide()`` with hand-built
evidence.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import world

import transportmon
from transportmon.config import RuleConfig, make_config
from transportmon.geo.roads import classify
from transportmon.rules.checkpoints import decide
from transportmon.rules.registry import FINDING_COLUMNS

AS_OF = pd.Timestamp("2020-03-16")


# ------------------------------------------------------------------------------------------------------------
# decide(): pure, exact thresholds


def evidence(**overrides: object) -> pd.DataFrame:
    """An active checkpoint 10 m from a national road, 2 km by road from a crossing; columns overridable."""
    row: dict[str, object] = {
        "checkpoint_id": "cp",
        "name": "检测点",
        "opened": pd.NaT,
        "closed": pd.NaT,
        "turn_back": False,
        "blocks_freight": False,
        "row": 0,
        "road_id": "r-g105",
        "road_ref": "G105",
        "road_class": "national",
        "distance_to_road_m": 10.0,
        "distance_to_exempt_border_m": 1500.0,
        "distance_to_crossing_m": 2000.0,
    }
    row.update(overrides)
    frame = pd.DataFrame([row])
    for col in ("opened", "closed"):
        frame[col] = pd.to_datetime(frame[col]).astype("datetime64[s]")
    for col in ("road_id", "road_ref", "road_class"):
        frame[col] = frame[col].astype("string")
    return frame


def one(**overrides: object) -> tuple[str, object, pd.DataFrame]:
    """(verdict, reason, findings) of one checkpoint under the default configuration."""
    verdicts, findings = decide(evidence(**overrides), RuleConfig(), AS_OF)
    assert len(verdicts) == 1
    return verdicts["verdict"].iloc[0], verdicts["reason"].iloc[0], findings


def rule_ids(findings: pd.DataFrame) -> list[str]:
    return sorted(findings["rule_id"].tolist())


def test_decide_keep_within_border_tolerance() -> None:
    verdict, reason, findings = one(distance_to_crossing_m=2000.0)
    assert verdict == "keep"
    assert pd.isna(reason)
    assert rule_ids(findings) == ["TM102"]
    assert findings["severity"].tolist() == ["info"]


def test_decide_border_tolerance_is_inclusive() -> None:
    assert one(distance_to_crossing_m=3000.0)[0] == "keep"
    verdict, _, findings = one(distance_to_crossing_m=3000.001)
    assert verdict == "remove"
    assert rule_ids(findings) == ["TM101"]
    assert findings["severity"].iloc[0] == "violation"


def test_decide_unreachable_crossing_is_remove() -> None:
    verdict, _, findings = one(distance_to_crossing_m=np.inf)
    assert verdict == "remove"
    en, zh = findings["message_en"].iloc[0], findings["message_zh"].iloc[0]
    assert en == ("Checkpoint on national road G105 has no exempt-border crossing within the search range by road "
                  "(limit 3,000 m): remove it.")
    assert zh == "检测点位于国道G105，沿路在搜索范围内无可达的豁免边界路口（限3,000米），应撤除。"
    # No distance to a "nearest" crossing when none was reached.
    assert "nearest" not in en and "最近" not in zh


def test_decide_reachable_crossing_message_gives_the_distance_to_the_nearest() -> None:
    _, _, findings = one(distance_to_crossing_m=4139.0)
    assert findings["message_en"].iloc[0] == ("Checkpoint on national road G105 is 4,139 m by road from the nearest "
                                              "exempt-border crossing (limit 3,000 m): remove it.")
    assert findings["message_zh"].iloc[0] == "检测点位于国道G105，距最近的豁免边界路口沿路4,139米（限3,000米），应撤除。"


def test_decide_snap_tolerance_is_inclusive() -> None:
    assert one(distance_to_road_m=150.0)[0] == "keep"
    verdict, reason, findings = one(distance_to_road_m=150.001)
    assert (verdict, reason) == ("review", "no-road")
    assert rule_ids(findings) == ["TM103"]
    assert findings["severity"].iloc[0] == "warning"


def test_decide_no_road_at_all_is_review() -> None:
    verdict, reason, findings = one(
        distance_to_road_m=np.nan,
        road_class=pd.NA,
        road_ref=pd.NA,
        road_id=pd.NA,
        distance_to_crossing_m=np.inf,
    )
    assert (verdict, reason) == ("review", "no-road")
    assert rule_ids(findings) == ["TM103"]


@pytest.mark.parametrize("road_class", ["expressway", "urban", "other"])
def test_decide_uncovered_road_class_is_review(road_class: str) -> None:
    verdict, reason, findings = one(road_class=road_class, distance_to_crossing_m=100.0)
    assert (verdict, reason) == ("review", "uncovered-road-class")
    assert rule_ids(findings) == ["TM104"]


@pytest.mark.parametrize("road_class", ["national", "provincial", "county", "township", "village"])
def test_decide_covered_classes_far_from_border_are_remove(road_class: str) -> None:
    assert one(road_class=road_class, distance_to_crossing_m=50_000.0)[0] == "remove"


def test_decide_opened_on_as_of_is_active() -> None:
    assert one(opened=AS_OF)[0] == "keep"


def test_decide_closed_on_as_of_is_inactive() -> None:
    verdict, reason, findings = one(opened=AS_OF - pd.Timedelta(days=10), closed=AS_OF)
    assert (verdict, reason) == ("inactive", "closed")
    assert rule_ids(findings) == ["TM105"]
    assert "2020-03-16" in findings["message_en"].iloc[0]


def test_decide_closed_day_after_as_of_is_active() -> None:
    assert one(closed=AS_OF + pd.Timedelta(days=1))[0] == "keep"


def test_decide_opened_after_as_of_is_not_yet_open() -> None:
    verdict, reason, _ = one(opened=AS_OF + pd.Timedelta(days=1))
    assert (verdict, reason) == ("inactive", "not-yet-open")


def test_decide_as_of_with_time_of_day_is_the_day() -> None:
    verdicts, _ = decide(evidence(opened=AS_OF), RuleConfig(), pd.Timestamp("2020-03-16 18:30"))
    assert verdicts["verdict"].iloc[0] == "keep"


def test_decide_turn_back_violation_on_remove_warning_on_keep() -> None:
    _, _, removed = one(turn_back=True, distance_to_crossing_m=10_000.0)
    assert removed.set_index("rule_id").loc["TM110", "severity"] == "violation"
    _, _, kept = one(turn_back=True, distance_to_crossing_m=1_000.0)
    assert kept.set_index("rule_id").loc["TM110", "severity"] == "warning"
    _, _, review = one(turn_back=True, road_class="expressway")
    assert review.set_index("rule_id").loc["TM110", "severity"] == "warning"


def test_decide_blocks_freight_is_violation_even_on_keep() -> None:
    verdict, _, findings = one(blocks_freight=True, distance_to_crossing_m=1_000.0)
    assert verdict == "keep"
    assert findings.set_index("rule_id").loc["TM111", "severity"] == "violation"


def test_decide_inactive_checkpoint_gets_no_measure_findings() -> None:
    verdict, _, findings = one(turn_back=True, blocks_freight=True, closed=AS_OF)
    assert verdict == "inactive"
    assert rule_ids(findings) == ["TM105"]


def test_decide_compliant_checkpoint_has_no_measure_findings() -> None:
    _, _, findings = one(turn_back=False, blocks_freight=False)
    assert not findings["rule_id"].isin(["TM110", "TM111"]).any()


def test_decide_empty_evidence() -> None:
    verdicts, findings = decide(evidence().iloc[:0], RuleConfig(), AS_OF)
    assert len(verdicts) == 0
    assert list(verdicts.columns) == ["checkpoint_id", "verdict", "reason", "overdue_days"]
    assert len(findings) == 0
    assert list(findings.columns) == FINDING_COLUMNS


def test_decide_is_aligned_with_evidence_rows() -> None:
    ev = pd.concat(
        [
            evidence(checkpoint_id="a", distance_to_crossing_m=1.0),
            evidence(checkpoint_id="b", distance_to_crossing_m=9e9, row=1),
            evidence(checkpoint_id="c", distance_to_road_m=400.0, row=2),
        ],
        ignore_index=True,
    )
    verdicts, findings = decide(ev, RuleConfig(), AS_OF)
    assert verdicts["checkpoint_id"].tolist() == ["a", "b", "c"]
    assert verdicts["verdict"].tolist() == ["keep", "remove", "review"]
    assert dict(zip(findings["subject_id"], findings["rule_id"])) == {
        "a": "TM102",
        "b": "TM101",
        "c": "TM103",
    }
    assert set(findings["source_row"]) == {0, 1, 2}


def test_decide_follows_configuration() -> None:
    cfg = make_config(border_tolerance_m=1000, snap_tolerance_m=5, covered_classes=["national", "expressway"])
    ev = pd.concat(
        [
            evidence(checkpoint_id="a", distance_to_road_m=1.0, distance_to_crossing_m=2000.0),
            evidence(checkpoint_id="b", distance_to_road_m=10.0),
            evidence(
                checkpoint_id="c",
                road_class="expressway",
                distance_to_road_m=1.0,
                distance_to_crossing_m=500.0,
            ),
            evidence(checkpoint_id="d", road_class="provincial", distance_to_road_m=1.0),
        ],
        ignore_index=True,
    )
    verdicts, findings = decide(ev, cfg, AS_OF)
    assert verdicts["verdict"].tolist() == ["remove", "review", "keep", "review"]
    assert verdicts["reason"].fillna("").tolist() == ["", "no-road", "", "uncovered-road-class"]
    msg = findings.set_index("subject_id").loc["a", "message_en"]
    assert "1,000 m" in msg and "2,000 m" in msg


def test_decide_does_not_modify_its_input() -> None:
    ev = evidence(opened=AS_OF, turn_back=True)
    before = ev.copy()
    decide(ev, RuleConfig(), AS_OF)
    pd.testing.assert_frame_equal(ev, before)


# ------------------------------------------------------------------------------------------------------------
# road classes (DESIGN §3)


@pytest.mark.parametrize(
    ("road_class", "ref", "highway", "expected"),
    [
        (None, "G70", "motorway", "expressway"),
        (None, "G4", None, "expressway"),
        (None, "G4211", "motorway", "expressway"),
        (None, "G4211", None, "expressway"),
        (None, "G105", "trunk", "national"),
        (None, "G105", "motorway", "national"),  # a 3-digit G number is a national road (even mis-tagged)
        (None, "S26", "motorway", "expressway"),
        (None, "S303", "secondary", "provincial"),
        (None, "S303", None, "provincial"),
        (None, "X021", None, "county"),
        (None, "Y004", "track", "township"),
        (None, "C112", None, "village"),
        (None, "G105;S303", "trunk", "national"),
        (None, " g105 / s303 ", None, "national"),
        (None, "S303;G105", None, "provincial"),
        ("国道", None, None, "national"),
        ("省道", "X001", None, "provincial"),  # an explicit road_class wins over the ref
        ("县道", None, None, "county"),
        ("乡道", None, None, "township"),
        ("村道", None, None, "village"),
        ("高速公路", None, None, "expressway"),
        ("Provincial", None, None, "provincial"),
        (None, None, "motorway", "expressway"),
        (None, None, "trunk", "national"),
        (None, None, "primary", "provincial"),
        (None, None, "secondary", "county"),
        (None, None, "tertiary", "township"),
        (None, None, "unclassified", "village"),
        (None, None, "residential", "urban"),
        (None, None, None, "other"),
        (None, "", "footway", "other"),
    ],
)
def test_classify(road_class: str | None, ref: str | None, highway: str | None, expected: str) -> None:
    got = classify(
        pd.Series([road_class], dtype="string"),
        pd.Series([ref], dtype="string"),
        pd.Series([highway], dtype="string"),
    )
    assert got.tolist() == [expected]


def test_classify_ferry_route_is_other() -> None:
    got = classify(
        pd.Series([None, None], dtype="string"),
        pd.Series([None, None], dtype="string"),
        pd.Series(["primary", "primary"], dtype="string"),
        pd.Series(["ferry", None], dtype="string"),
    )
    assert got.tolist() == ["other", "provincial"]


def test_classify_is_vectorised_and_keeps_the_index() -> None:
    idx = pd.Index([7, 3, 5])
    got = classify(
        pd.Series([None] * 3, index=idx, dtype="string"),
        pd.Series(["G70", "X9", None], index=idx, dtype="string"),
        pd.Series(["motorway", None, "trunk"], index=idx, dtype="string"),
    )
    assert got.index.tolist() == [7, 3, 5]
    assert got.tolist() == ["expressway", "county", "national"]


# ------------------------------------------------------------------------------------------------------------
# geometry through the world


def run(folder: Path, cps: list[dict], as_of: str = "2020-03-16", **kwargs: object) -> pd.DataFrame:
    """Audit the world with these checkpoints; the report indexed by subject_id."""
    d = world.write_world(folder, cps)
    result = transportmon.audit(d, as_of=as_of, boundaries=d / "boundaries.geojson", **kwargs)
    return result.report.set_index("subject_id")


def findings_of(report: pd.DataFrame, cid: str) -> dict[str, str]:
    return {f["rule_id"]: f["severity"] for f in report.loc[cid, "findings"]}


@pytest.fixture(scope="module")
def main_world(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    cps = [
        {"checkpoint_id": "keep", "x": 30, "y": 98},
        {"checkpoint_id": "in3000", "x": 30, "y": 97.001},
        {"checkpoint_id": "out3000", "x": 30, "y": 96.999},
        {"checkpoint_id": "express", "x": 20, "y": 99},
        {"checkpoint_id": "river", "x": 45, "y": 99.2},
        {"checkpoint_id": "anhui", "x": 80, "y": 99},
        {"checkpoint_id": "hunan", "x": 1, "y": 30},
        {"checkpoint_id": "snap149", "x": 30.149, "y": 70},
        {"checkpoint_id": "snap151", "x": 30.151, "y": 70},
        {"checkpoint_id": "nowhere", "x": 10, "y": 10},
        {"checkpoint_id": "tb-remove", "x": 30, "y": 60, "turn_back": "true"},
        {"checkpoint_id": "tb-keep", "x": 30, "y": 99, "turn_back": "是"},
        {"checkpoint_id": "freight-keep", "x": 30, "y": 99.5, "blocks_freight": "yes"},
        {"checkpoint_id": "freight-remove", "x": 30, "y": 61, "blocks_freight": "1"},
        {
            "checkpoint_id": "closed",
            "x": 30,
            "y": 62,
            "turn_back": "true",
            "blocks_freight": "true",
            "opened": "2020-02-01",
            "closed": "2020-03-16",
        },
        {"checkpoint_id": "opened-today", "x": 30, "y": 63, "opened": "2020-03-16", "closed": "2020-04-01"},
        {"checkpoint_id": "opens-tomorrow", "x": 30, "y": 64, "turn_back": "true", "opened": "2020-03-17"},
    ]
    for cp in cps:
        cp.setdefault("turn_back", "")
        cp.setdefault("blocks_freight", "")
        cp.setdefault("opened", "")
        cp.setdefault("closed", "")
    return run(tmp_path_factory.mktemp("world"), cps)


def test_world_one_row_per_checkpoint(main_world: pd.DataFrame) -> None:
    assert len(main_world) == 17
    assert (main_world["subject"] == "checkpoint").all()
    assert main_world.index.is_unique


def test_world_keep_near_hubei_crossing(main_world: pd.DataFrame) -> None:
    row = main_world.loc["keep"]
    assert row["verdict"] == "keep"
    assert row["road_id"] == "r-g105" and row["road_ref"] == "G105" and row["road_class"] == "national"
    assert row["distance_to_crossing_m"] == pytest.approx(2000, abs=0.5)
    assert row["distance_to_exempt_border_m"] == pytest.approx(2000, abs=0.5)
    assert row["distance_to_road_m"] == pytest.approx(0, abs=0.1)
    assert findings_of(main_world, "keep") == {"TM102": "info"}


def test_world_both_sides_of_the_border_tolerance(main_world: pd.DataFrame) -> None:
    assert main_world.loc["in3000", "verdict"] == "keep"
    assert main_world.loc["in3000", "distance_to_crossing_m"] == pytest.approx(2999, abs=0.5)
    assert main_world.loc["out3000", "verdict"] == "remove"
    assert main_world.loc["out3000", "distance_to_crossing_m"] == pytest.approx(3001, abs=0.5)
    assert findings_of(main_world, "out3000") == {"TM101": "violation"}


def test_world_both_sides_of_the_snap_tolerance(main_world: pd.DataFrame) -> None:
    near, far = main_world.loc["snap149"], main_world.loc["snap151"]
    assert near["distance_to_road_m"] == pytest.approx(149, abs=0.5)
    assert near["verdict"] == "remove"  # snapped to G105, 30 km from the crossing
    assert near["distance_to_crossing_m"] == pytest.approx(30_000, abs=1)
    assert far["distance_to_road_m"] == pytest.approx(151, abs=0.5)
    assert (far["verdict"], far["reason"]) == ("review", "no-road")
    assert findings_of(main_world, "snap151") == {"TM103": "warning"}


def test_world_riverside_street_800m_from_hubei_is_remove(main_world: pd.DataFrame) -> None:
    row = main_world.loc["river"]
    assert row["verdict"] == "remove"
    assert row["road_ref"] == "S303"
    assert row["distance_to_exempt_border_m"] == pytest.approx(800, abs=0.5)
    # ~124 km by road to the G105 crossing: beyond the search (empty) or at least far beyond the tolerance.
    assert pd.isna(row["distance_to_crossing_m"]) or row["distance_to_crossing_m"] > 3000
    assert findings_of(main_world, "river") == {"TM101": "violation"}


def test_world_anhui_border_is_remove(main_world: pd.DataFrame) -> None:
    row = main_world.loc["anhui"]
    assert row["verdict"] == "remove"
    assert row["road_ref"] == "S201" and row["road_class"] == "provincial"
    assert row["distance_to_exempt_border_m"] > 3000


def test_world_hunan_border_is_remove(main_world: pd.DataFrame) -> None:
    row = main_world.loc["hunan"]
    assert row["verdict"] == "remove"
    assert row["road_ref"] == "S105"


def test_world_expressway_is_review(main_world: pd.DataFrame) -> None:
    row = main_world.loc["express"]
    assert (row["verdict"], row["reason"]) == ("review", "uncovered-road-class")
    assert row["road_ref"] == "G70" and row["road_class"] == "expressway"
    assert findings_of(main_world, "express") == {"TM104": "warning"}


def test_world_no_road_is_review(main_world: pd.DataFrame) -> None:
    row = main_world.loc["nowhere"]
    assert (row["verdict"], row["reason"]) == ("review", "no-road")
    assert row["distance_to_road_m"] > 150
    assert pd.isna(row["distance_to_crossing_m"])


def test_world_turn_back(main_world: pd.DataFrame) -> None:
    assert main_world.loc["tb-remove", "verdict"] == "remove"
    assert findings_of(main_world, "tb-remove")["TM110"] == "violation"
    assert main_world.loc["tb-keep", "verdict"] == "keep"
    assert findings_of(main_world, "tb-keep")["TM110"] == "warning"
    assert main_world.loc["tb-keep", "max_severity"] == "warning"


def test_world_blocks_freight(main_world: pd.DataFrame) -> None:
    assert main_world.loc["freight-keep", "verdict"] == "keep"
    assert findings_of(main_world, "freight-keep") == {"TM102": "info", "TM111": "violation"}
    assert main_world.loc["freight-keep", "max_severity"] == "violation"
    assert findings_of(main_world, "freight-remove") == {"TM101": "violation", "TM111": "violation"}


def test_world_dates(main_world: pd.DataFrame) -> None:
    assert (main_world.loc["closed", "verdict"], main_world.loc["closed", "reason"]) == ("inactive", "closed")
    assert findings_of(main_world, "closed") == {"TM105": "info"}
    assert main_world.loc["opened-today", "verdict"] == "remove"
    assert main_world.loc["opens-tomorrow", "verdict"] == "inactive"
    assert main_world.loc["opens-tomorrow", "reason"] == "not-yet-open"
    assert findings_of(main_world, "opens-tomorrow") == {"TM105": "info"}


@pytest.mark.parametrize(
    ("as_of", "verdict"),
    [
        ("2020-01-31", "inactive"),
        ("2020-02-01", "remove"),
        ("2020-03-15", "remove"),
        ("2020-03-16", "inactive"),
    ],
)
def test_world_as_of_moves_activity(
    tmp_path_factory: pytest.TempPathFactory, as_of: str, verdict: str
) -> None:
    d = tmp_path_factory.getbasetemp() / "as_of_world"
    if not d.is_dir():
        world.write_world(
            d, [{"checkpoint_id": "c", "x": 30, "y": 60, "opened": "2020-02-01", "closed": "2020-03-16"}]
        )
    rep = transportmon.audit(d, as_of=as_of, boundaries=d / "boundaries.geojson").report
    assert rep["verdict"].tolist() == [verdict]


def test_world_empty_checkpoints_layer(tmp_path: Path) -> None:
    d = world.write_world(tmp_path, [{"checkpoint_id": "x", "x": 30, "y": 98}])
    (d / "checkpoints.csv").write_text("checkpoint_id,lon,lat\n", encoding="utf-8")
    result = transportmon.audit(d, as_of="2020-03-16", boundaries=d / "boundaries.geojson")
    assert not (result.report["subject"] == "checkpoint").any()
    assert result.metadata["rows"]["checkpoints"] == {"input": 0, "audited": 0, "rejected": 0}
    assert result.metadata["counts"].get("checkpoint", {}) == {}
    assert result.exit_code() == 0


def test_world_no_checkpoints_layer(tmp_path: Path) -> None:
    d = world.write_world(tmp_path, [{"checkpoint_id": "x", "x": 30, "y": 98}])
    (d / "checkpoints.csv").unlink()
    result = transportmon.audit(d, as_of="2020-03-16", boundaries=d / "boundaries.geojson")
    assert len(result.report) == 0
    assert "TM101" in result.metadata["rules_skipped"]


def test_world_border_tolerance_from_config(tmp_path: Path) -> None:
    cps = [{"checkpoint_id": "keep", "x": 30, "y": 98}, {"checkpoint_id": "near", "x": 30, "y": 99.5}]
    cfg = make_config(border_tolerance_m=1000)
    rep = run(tmp_path, cps, config=cfg)
    assert rep.loc["keep", "verdict"] == "remove"
    assert rep.loc["near", "verdict"] == "keep"


def test_world_rules_toml(tmp_path: Path) -> None:
    toml = tmp_path / "rules.toml"
    toml.write_text("border_tolerance_m = 1000\nsnap_tolerance_m = 200\n", encoding="utf-8")
    cps = [{"checkpoint_id": "keep", "x": 30, "y": 98}, {"checkpoint_id": "snap151", "x": 30.151, "y": 70}]
    rep = run(tmp_path / "w", cps, config=toml)
    assert rep.loc["keep", "verdict"] == "remove"
    assert rep.loc["snap151", "verdict"] == "remove"


def test_world_exempt_neighbour_anhui(tmp_path: Path) -> None:
    cps = [{"checkpoint_id": "anhui", "x": 80, "y": 99}, {"checkpoint_id": "hubei", "x": 30, "y": 98}]
    rep = run(tmp_path, cps, config=make_config(exempt_neighbours=["340000"]))
    assert rep.loc["anhui", "verdict"] == "keep"
    assert rep.loc["anhui", "distance_to_crossing_m"] == pytest.approx(1000, abs=0.5)
    assert rep.loc["hubei", "verdict"] == "remove"


def test_world_two_exempt_neighbours(tmp_path: Path) -> None:
    cps = [{"checkpoint_id": "anhui", "x": 80, "y": 99}, {"checkpoint_id": "hubei", "x": 30, "y": 98}]
    rep = run(tmp_path, cps, config=make_config(exempt_neighbours=["420000", "340000"]))
    assert rep.loc["anhui", "verdict"] == "keep"
    assert rep.loc["hubei", "verdict"] == "keep"


def test_world_metadata_describes_the_border(tmp_path: Path) -> None:
    d = world.write_world(tmp_path, [{"checkpoint_id": "keep", "x": 30, "y": 98}])
    result = transportmon.audit(d, as_of="2020-03-16", boundaries=d / "boundaries.geojson")
    assert result.metadata["crossings"] == 2  # G105 and G70 into Hubei; S201 into Anhui is not exempt
    assert 60 <= result.metadata["exempt_border_km"] <= 61
    assert result.metadata["as_of"] == "2020-03-16"
    assert result.metadata["rules"]["border_tolerance_m"] == 3000.0
