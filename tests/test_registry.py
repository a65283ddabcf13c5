"""The rule registry: every registered rule's message templates format, with its documented parameters and a
representative evidence row, into whole sentences (no field left unfilled, no empty slot, no double space).

Two ways: each template filled directly (:meth:`Rule.messages`) from one row holding a value for every field a
template names; and each rule made to fire through its module's ``decide`` (or the rejected rows' findings), so the
evidence columns the module really builds are the ones the templates read.
"""

from __future__ import annotations

import dataclasses
import re
import string

import numpy as np
import pandas as pd
import pytest
from test_checkpoints import evidence as checkpoint_evidence

from transportmon.config import RuleConfig
from transportmon.rules import checkpoints, inputs, trips, waivers  # every rule module: the registry is complete
from transportmon.rules.registry import RULES, Rule, rule_docs

CONFIG_FIELDS = {f.name for f in dataclasses.fields(RuleConfig)}

#: A representative value for every field a message template may name (evidence columns and derived words).
EXAMPLE_ROW: dict[str, object] = {
    # checkpoints
    "road_class": "national", "road_class_zh": "国道", "road_ref": "G105", "road_en": "national road G105",
    "crossing_zh": "4,139米", "crossing_en": "4,139 m", "distance_to_crossing_m": "2,317",
    "distance_to_road_m": "292", "neighbour_zh": "湖北", "neighbour_en": "Hubei",
    "opened": "2020-01-31", "closed": "2020-02-25",
    # trips
    "service_date": "2020-03-05", "scope": "inter-provincial", "scope_zh": "跨省", "service_type": "scheduled",
    "service_type_zh": "班车", "risk_level": "high", "risk_level_zh": "高", "risk_stops_text": "YXN, JJ-CT",
    "passengers": "23", "seats": "45", "cap_pct": "50", "max_passengers": "22", "excess_passengers": "1",
    "reason_zh": trips.REASON_TEXT["no-risk-stop"][0], "reason_en": trips.REASON_TEXT["no-risk-stop"][1],
    # rejected rows
    "layer": "trips", "row_1": "36", "reason": "malformed-date", "detail": "service_date=2020-02-30",
    # waivers
    "document": "九防指〔2020〕12号", "valid_from": "2020-03-17", "valid_until": "2020-03-10", "rules_zh": "TM101、TM110",
    "violations_en": "the TM101 and TM110 violations stand",
}


def fields(rule: Rule) -> set[str]:
    return {name for template in (rule.message_zh, rule.message_en)
            for _, name, _, _ in string.Formatter().parse(template) if name}


def assert_sentence(text: str) -> None:
    assert text.strip() == text and text, repr(text)
    assert "{" not in text and "}" not in text, text
    assert "  " not in text, text
    for junk in ("<NA>", "nan", "None", "NaT", "()", "（）"):
        assert junk not in text, text


def test_the_registry_holds_the_rules_the_modules_declare() -> None:
    by_subject = {"checkpoint": "TM1", "trip": "TM2", "input": "TM9", "any": "TM12"}  # TM12x: waivers of any subject
    assert all(re.fullmatch(r"TM\d{3}", rid) and rid.startswith(by_subject[r.subject]) for rid, r in RULES.items())
    assert {"TM101", "TM102", "TM103", "TM104", "TM105", "TM110", "TM111", "TM120", "TM121", "TM201", "TM202",
            "TM203"} <= set(RULES)
    assert {r.id for r in waivers.WAIVER_RULES} == {"TM120", "TM121"}
    assert [d["id"] for d in rule_docs()] == sorted(RULES)


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_parameters_are_documented(rule_id: str) -> None:
    """A template field that is a rule parameter is listed in the rule's ``parameters``; every listed parameter
    exists."""
    rule = RULES[rule_id]
    assert set(rule.parameters) <= CONFIG_FIELDS
    assert fields(rule) & CONFIG_FIELDS <= set(rule.parameters)


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_template_formats_with_its_parameters_and_a_representative_row(rule_id: str) -> None:
    rule = RULES[rule_id]
    evidence_fields = fields(rule) - CONFIG_FIELDS
    assert evidence_fields <= set(EXAMPLE_ROW), f"give EXAMPLE_ROW a value for {evidence_fields - set(EXAMPLE_ROW)}"
    row = pd.DataFrame({name: [EXAMPLE_ROW[name]] for name in sorted(evidence_fields)}, index=[7])
    zh, en = rule.messages(row, RuleConfig().to_dict())
    assert list(zh.index) == list(en.index) == [7]
    for template, text in ((rule.message_zh, zh.iloc[0]), (rule.message_en, en.iloc[0])):
        assert_sentence(text)
        for _, name, _, _ in string.Formatter().parse(template):
            if name in CONFIG_FIELDS:
                assert f"{getattr(RuleConfig(), name):,.0f}" in text
            elif name:
                assert str(EXAMPLE_ROW[name]) in text  # every field landed in the sentence


def test_templates_format_an_empty_frame() -> None:
    for rule in RULES.values():
        row = pd.DataFrame({name: pd.Series([], dtype="string") for name in fields(rule) - CONFIG_FIELDS})
        zh, en = rule.messages(row, RuleConfig().to_dict())
        assert len(zh) == len(en) == 0


def test_every_rule_fires_through_its_module_with_whole_sentences() -> None:
    """The modules' own evidence: each rule fires on a representative row, and every message is a whole sentence."""
    as_of = pd.Timestamp("2020-03-16")
    cps = pd.concat([
        checkpoint_evidence(checkpoint_id="keep", distance_to_crossing_m=700.0),
        checkpoint_evidence(checkpoint_id="remove", distance_to_crossing_m=4139.0, turn_back=True),
        checkpoint_evidence(checkpoint_id="unreachable", road_ref=pd.NA, distance_to_crossing_m=np.inf),
        checkpoint_evidence(checkpoint_id="off-road", distance_to_road_m=292.0, blocks_freight=True),
        checkpoint_evidence(checkpoint_id="expressway", road_class="expressway", road_ref="G56"),
        checkpoint_evidence(checkpoint_id="closed", opened="2020-01-31", closed="2020-02-25"),
    ], ignore_index=True)
    _, cp_findings = checkpoints.decide(cps, RuleConfig(), as_of)

    def trip_row(trip_id: str, **over: object) -> dict[str, object]:
        row: dict[str, object] = {
            "trip_id": trip_id, "service_date": pd.Timestamp("2020-03-05"), "service_type": "scheduled",
            "seats": 45, "passengers": 23, "route_id": pd.NA, "row": 0, "touching": True, "passes": False,
            "risk_stops": ["YXN"], "scope": "inter-provincial", "risk_level": "high"}
        return {**row, **over}

    ev = pd.DataFrame([
        trip_row("over"), trip_row("within", passengers=22),
        trip_row("type", service_type="other"), trip_row("intra", scope="intra-city"),
        trip_row("pass", touching=False, passes=True, risk_stops=[]),
        trip_row("none", touching=False, risk_stops=[], risk_level=pd.NA),
    ])
    ev["row"] = range(len(ev))
    ev["risk_level"] = ev["risk_level"].astype(trips.LEVEL_ORDER)
    ev["scope"] = ev["scope"].astype(pd.CategoricalDtype(trips.SCOPES))
    _, trip_findings = trips.decide(ev, RuleConfig())
    _, no_data = trips.decide(ev.iloc[[5]].reset_index(drop=True), RuleConfig(), risk_data=False)

    reasons = sorted(inputs.REASON_RULE)
    rejected = pd.DataFrame({"subject": "trips", "subject_id": [f"x{i}" for i in range(len(reasons))],
                             "row": range(len(reasons)), "reason": reasons,
                             "detail": [f"{r} detail" for r in reasons]})
    input_findings = inputs.rejected_findings(rejected, pd.Series("trips", index=rejected.index))

    waiver_findings = waived_report_findings()

    findings = pd.concat([cp_findings, trip_findings, no_data, input_findings, waiver_findings], ignore_index=True)
    assert set(findings["rule_id"].astype(str)) == set(RULES)
    for text in (*findings["message_zh"], *findings["message_en"]):
        assert_sentence(text)
    assert len(set(trip_findings["message_en"])) == len(ev)  # one distinct sentence per reason
    assert no_data["message_en"].iloc[0] == trips.REASON_TEXT["no-risk-data"][1]


def waived_report_findings() -> pd.DataFrame:
    """TM120 and TM121 as :mod:`transportmon.waivers` adds them to a report: one checkpoint whose waiver expired,
    one whose waiver begins after the as-of date."""
    import geopandas as gpd

    from transportmon.layers import Layer, empty_rejected
    from transportmon.report import assemble, attach_findings
    from transportmon.waivers import apply_waivers

    as_of = pd.Timestamp("2020-03-16")
    cps = pd.concat([checkpoint_evidence(checkpoint_id=c, distance_to_crossing_m=4139.0, turn_back=True)
                     for c in ("late", "early")], ignore_index=True)
    cps["row"] = range(len(cps))
    verdicts, found = checkpoints.decide(cps, RuleConfig(), as_of)
    part = gpd.GeoDataFrame({"subject": "checkpoint", "subject_id": cps["checkpoint_id"], "verdict":
                             verdicts["verdict"], "source_row": cps["row"]}, geometry=[None] * len(cps))
    report = assemble([attach_findings(part, found)], "policy")
    w = pd.DataFrame({"subject": "checkpoint", "subject_id": ["late", "late", "early"],
                      "rule_id": ["TM101", "TM110", "TM101"], "document": "九防指〔2020〕12号",
                      "valid_from": ["2020-03-01", "2020-03-01", "2020-03-17"],
                      "valid_until": ["2020-03-10", "2020-03-10", "2020-03-31"], "row": [0, 1, 2]})
    out, _ = apply_waivers(report, Layer("waivers", w, empty_rejected(), len(w)), as_of)
    flat = [f for fl in out["findings"] for f in fl if f["rule_id"] in ("TM120", "TM121")]
    assert sorted(f["rule_id"] for f in flat) == ["TM120", "TM121"]
    return pd.DataFrame(flat)
