"""The rule registry: every registered rule's message templates format, with its documented parameters and a
representative evidence row, into whole sentences (no field left unfilled, no empty slot, no double space).

Two ways: each template filled directly (:meth:`Rule.messages`) from one row holding a value for every field a
template names; and each rule made to fire through its module's ``decide`` (or the rejected rows' findings), so the
evidence columns the module really builds are the ones the templates read.
"""

from __future__ import annotations

import ast
import dataclasses
import re
import string
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_checkpoints import evidence as checkpoint_evidence
from typer.testing import CliRunner

import transportmon
from transportmon.cli import app
from transportmon.config import RuleConfig
from transportmon.rules import checkpoints, inputs, trips, waivers  # every rule module: the registry is complete
from transportmon.rules.all_rules import markdown_table, plan
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


# ---------------------------------------------------------------------------------------------------------------
# What each rule needs, its severity, the rejection reasons, the README table
# ---------------------------------------------------------------------------------------------------------------

ALL_LAYERS = {"checkpoints", "roads", "boundaries", "trips", "stop_times", "stops", "risk_areas", "waivers"}


def test_plan_runs_every_rule_when_every_layer_is_there() -> None:
    run, skipped = plan(ALL_LAYERS)
    assert skipped == {}
    assert run == sorted(r for r in RULES if not r.startswith("TM9")) + ["TM9xx"]


@pytest.mark.parametrize(("absent", "expected"), [
    ({"checkpoints"}, {r: "no checkpoints layer" for r in ("TM101", "TM102", "TM103", "TM104", "TM105", "TM110",
                                                           "TM111")}),
    ({"roads"}, {r: "no usable roads" for r in ("TM101", "TM102", "TM104")}),
    ({"checkpoints", "roads"}, {r: "no checkpoints layer" for r in ("TM101", "TM102", "TM103", "TM104", "TM105",
                                                                    "TM110", "TM111")}),
    ({"risk_areas"}, {"TM201": "no risk_areas layer", "TM202": "no risk_areas layer"}),
    ({"stop_times"}, {r: "no stop_times layer" for r in ("TM201", "TM202", "TM203")}),
    ({"trips", "stops", "risk_areas"}, {r: "no trips, stops layer" for r in ("TM201", "TM202", "TM203")}),
    ({"waivers"}, {"TM120": "no waivers layer", "TM121": "no waivers layer"}),
])
def test_plan_skips_the_rules_whose_layers_are_absent_and_says_why(absent: set[str], expected: dict[str, str]) -> None:
    run, skipped = plan(ALL_LAYERS - absent)
    assert skipped == expected
    assert list(skipped) == sorted(skipped)  # id order: the report's metadata does not depend on the layers' order
    assert set(run) == (set(RULES) - set(expected) - {r for r in RULES if r.startswith("TM9")}) | {"TM9xx"}


def test_plan_on_no_layer_runs_only_the_input_rules() -> None:
    run, skipped = plan(set())
    assert run == ["TM9xx"]
    assert set(skipped) == {r for r in RULES if not r.startswith("TM9")}


def test_every_checkpoint_and_trip_rule_says_what_it_needs() -> None:
    for r in RULES.values():
        assert bool(r.needs) == (r.subject != "input"), r.id
        assert {name for n in r.needs for name in n.layers} <= ALL_LAYERS, r.id


def test_turn_back_severity_is_declared_with_the_rule() -> None:
    tm110 = RULES["TM110"]
    verdicts = pd.Series(["remove", "keep", "review", "inactive"])
    assert list(tm110.severities(verdicts)) == ["violation", "warning", "warning", "warning"]
    assert tm110.severity_text() == "violation where the verdict is remove, else warning"
    with pytest.raises(ValueError, match="TM110"):
        tm110.severities()
    assert RULES["TM111"].severities(verdicts) == "violation"  # not verdict-dependent: one value


def test_reason_table_holds_every_reason_once() -> None:
    assert sorted(inputs.REASON_RULE) == sorted(inputs.REASONS)
    assert sum(len(r.reasons) for r in inputs.INPUT_RULES) == len(inputs.REASONS)
    assert {r.id for r in inputs.INPUT_RULES} == {r for r in RULES if r.startswith("TM9")}
    assert inputs.REASON_RULE["not-in-calendar"].id == "TM904"
    assert inputs.REASON_RULE["unknown-adcode"].id == "TM907"


def test_an_unregistered_reason_is_an_error_not_a_guess() -> None:
    rejected = pd.DataFrame({"subject": "trips", "subject_id": ["a", "b"], "row": [0, 1],
                             "reason": ["missing-id", "made-up-reason"], "detail": ["", ""]})
    with pytest.raises(ValueError, match="made-up-reason"):
        inputs.rejected_findings(rejected, pd.Series("trips", index=rejected.index))
    ok = inputs.rejected_findings(rejected.iloc[:1], pd.Series("trips", index=[0]))
    assert list(ok["rule_id"]) == ["TM901"]


def _reasons_written_in_the_code() -> dict[str, set[str]]:
    """Every kebab-case string the package's validators can write into a ``reason`` column, by module.

    Found in the source: the reason argument of ``reject``/``reject_rows`` (a literal, or a name bound to a literal
    or to a tuple of them, directly or as a loop variable), a literal after ``"reason":`` in a dict, a literal
    assigned into ``reason[...]``, and the members of a ``...Reason = Literal[...]`` alias.
    """
    root = Path(transportmon.__file__).parent
    word = re.compile(r"[a-z]+(?:-[a-z]+)+")
    found: dict[str, set[str]] = {}

    def strings(node: ast.AST | None) -> set[str]:
        if node is None:
            return set()
        return {n.value for n in ast.walk(node)
                if isinstance(n, ast.Constant) and isinstance(n.value, str) and word.fullmatch(n.value)}

    for path in sorted(root.rglob("*.py")):
        if path.parts[-2] == "rules":
            continue  # the declarations themselves
        tree = ast.parse(path.read_text(encoding="utf-8"))
        bound: dict[str, set[str]] = {}  # names bound to literals (assignments and for-loop targets)
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                bound.setdefault(node.targets[0].id, set()).update(strings(node.value))
            elif isinstance(node, ast.For) and isinstance(node.target, ast.Name):
                it = node.iter
                values = strings(it) | (bound.get(it.id, set()) if isinstance(it, ast.Name) else set())
                bound.setdefault(node.target.id, set()).update(values)
            elif isinstance(node, ast.For) and isinstance(node.target, ast.Tuple):  # for code, reason in enumerate(x)
                it = node.iter
                if isinstance(it, ast.Call) and it.args and isinstance(it.args[0], ast.Name):
                    for t in node.target.elts:
                        if isinstance(t, ast.Name):
                            bound.setdefault(t.id, set()).update(bound.get(it.args[0].id, set()))
        here: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", getattr(node.func, "id", ""))
                pos = {"reject": 1, "reject_rows": 2}.get(name)
                if pos is not None and len(node.args) > pos:
                    arg = node.args[pos]
                    here |= strings(arg) if not isinstance(arg, ast.Name) else bound.get(arg.id, set())
            elif isinstance(node, ast.Dict):
                for k, v in zip(node.keys, node.values):
                    if isinstance(k, ast.Constant) and k.value == "reason":
                        here |= strings(v)
            elif isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Subscript) and getattr(t.value, "id", "") == "reason" for t in node.targets):
                here |= strings(node.value)
            elif (isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
                  and node.targets[0].id.endswith("Reason")):
                here |= strings(node.value)
        if here:
            found[path.relative_to(root).as_posix()] = here
    return found


def test_every_reason_a_validator_can_write_is_registered() -> None:
    found = _reasons_written_in_the_code()
    written = set().union(*found.values())
    assert written - set(inputs.REASONS) == set(), {m: w - set(inputs.REASONS) for m, w in found.items()}
    # The scan is not vacuous: it sees every module that rejects rows, and no registered reason is dead.
    assert {"layers/validators.py", "layers/geometry.py", "layers/references.py", "inputs.py", "designations.py",
            "io/gtfs.py", "geo/adcodes.py"} <= set(found)
    assert written == set(inputs.REASONS)


def test_readme_rules_table_is_the_generated_one() -> None:
    """README.md's table is ``transportmon rules --format markdown``: one row per registered rule."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Rules\n\n") + len("## Rules\n\n")
    in_readme = readme[start:readme.index("\n\n", start) + 1]
    generated = CliRunner().invoke(app, ["rules", "--format", "markdown"])
    assert generated.exit_code == 0
    assert in_readme == generated.stdout == markdown_table(RuleConfig().to_dict()), (
        "regenerate README.md's table: transportmon rules --format markdown")
    rows = [line.split(" | ")[0].lstrip("| ") for line in in_readme.splitlines()[2:]]
    assert rows == sorted(RULES)
    assert "no-risk-data" in in_readme.splitlines()[2 + rows.index("TM203")]
    assert "| violation where the verdict is remove, else warning |" in in_readme
