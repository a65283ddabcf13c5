"""Waivers (DESIGN §8, issue 14 item 5): approved exceptions waive a violation on the subject's date, expire (TM120),
begin later (TM121), and bad waiver rows are rejected subjects. Dates are pinned on both sides of each boundary."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import distributed
import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest
import world
from test_checkpoints import evidence as checkpoint_evidence
from typer.testing import CliRunner, Result

import transportmon
from transportmon._errors import InputError
from transportmon.cli import app
from transportmon.config import RuleConfig
from transportmon.io.read import read_table
from transportmon.io.report import read_report
from transportmon.io.write import geojson_chunks, write_report
from transportmon.layers import Layer
from transportmon.maps.layers import map_layers
from transportmon.report import assemble, attach_findings, filter_only
from transportmon.rules import checkpoints
from transportmon.rules.inputs import REASON_RULE
from transportmon.validate import validate_inputs
from transportmon.waivers import apply_waivers, validate_waivers, waiver_findings

AS_OF = "2020-03-16"
DOC = "九防指〔2020〕12号"


def waivers(*rows: dict[str, object]) -> Layer:
    """A validated waivers layer; every row a checkpoint TM101 waiver of ``DOC`` unless it says otherwise."""
    base = {"subject": "checkpoint", "subject_id": "cp", "rule_id": "TM101", "document": DOC,
            "valid_from": "2020-03-01", "valid_until": "2020-03-16"}
    return validate_waivers(pd.DataFrame([{**base, **r} for r in rows]), "waivers.csv")


def cp_report(*specs: dict[str, object], as_of: str = AS_OF) -> gpd.GeoDataFrame:
    """A report of checkpoints decided by the checkpoint rules (default: ``cp``, 4.1 km by road from a crossing,
    so ``remove`` with TM101)."""
    ev = pd.concat([checkpoint_evidence(**{"distance_to_crossing_m": 4139.0, **s}) for s in specs or ({},)],
                   ignore_index=True)
    ev["row"] = range(len(ev))
    verdicts, found = checkpoints.decide(ev, RuleConfig(), pd.Timestamp(as_of))
    part = gpd.GeoDataFrame({"subject": "checkpoint", "subject_id": ev["checkpoint_id"], "verdict":
                             verdicts["verdict"], "source_row": ev["row"]}, geometry=[None] * len(ev))
    return assemble([attach_findings(part, found)], "policy")


def trip_report(service_dates: dict[str, str]) -> gpd.GeoDataFrame:
    """Over-cap trips (TM201 violation each) on the given service dates."""
    ids = list(service_dates)
    part = gpd.GeoDataFrame({"subject": "trip", "subject_id": ids, "verdict": "over-cap",
                             "service_date": list(service_dates.values()), "source_row": range(len(ids))},
                            geometry=[None] * len(ids))
    found = pd.DataFrame({"subject": "trip", "subject_id": ids, "source_row": range(len(ids)), "rule_id": "TM201",
                          "severity": "violation", "message_zh": "超载", "message_en": "over the cap"})
    return assemble([attach_findings(part, found)], "policy")


def findings(report: gpd.GeoDataFrame, subject_id: str) -> dict[str, dict]:
    (row,) = np.flatnonzero((report["subject_id"] == subject_id).to_numpy())
    return {f["rule_id"]: f for f in report["findings"].iloc[row]}


def applied(report: gpd.GeoDataFrame, layer: Layer, as_of: str = AS_OF) -> tuple[gpd.GeoDataFrame, dict[str, int]]:
    return apply_waivers(report, layer, pd.Timestamp(as_of))


# ------------------------------------------------------------------------------------------------------------
# in effect, expired, not yet in effect: the dates on both sides of each boundary


@pytest.mark.parametrize("as_of", ["2020-03-01", "2020-03-08", "2020-03-16"])  # valid_from, between, valid_until
def test_a_violation_within_the_waiver_is_waived_and_cites_it(as_of: str) -> None:
    out, counts = applied(cp_report(as_of=as_of), waivers({}), as_of)
    f = findings(out, "cp")
    assert set(f) == {"TM101"}  # no TM120 / TM121
    assert f["TM101"]["severity"] == "waived"
    assert f["TM101"]["waiver"] == {"document": DOC, "valid_until": "2020-03-16"}
    assert out["verdict"].tolist() == ["remove"]  # the verdict stays
    assert out["max_severity"].tolist() == ["waived"]
    assert counts == {"rows": 1, "rejected": 0, "waived": 1, "expired": 0, "not_yet_in_effect": 0, "unmatched": 0}


def test_the_day_after_valid_until_the_violation_stands_and_tm120_says_the_waiver_expired() -> None:
    out, counts = applied(cp_report(as_of="2020-03-17"), waivers({}), "2020-03-17")
    f = findings(out, "cp")
    assert f["TM101"]["severity"] == "violation" and f["TM101"]["waiver"] is None
    assert f["TM120"]["severity"] == "warning"
    assert f"waiver {DOC} expired on 2020-03-16" in f["TM120"]["message_en"]
    assert DOC in f["TM120"]["message_zh"] and "2020-03-16" in f["TM120"]["message_zh"]
    assert "TM101" in f["TM120"]["message_en"]
    assert out["max_severity"].tolist() == ["violation"]
    assert counts["expired"] == 1 and counts["waived"] == 0


def test_the_day_before_valid_from_the_violation_stands_and_tm121_says_when_the_waiver_begins() -> None:
    out, counts = applied(cp_report(as_of="2020-02-29"), waivers({}), "2020-02-29")
    f = findings(out, "cp")
    assert f["TM101"]["severity"] == "violation" and f["TM101"]["waiver"] is None
    assert f["TM121"]["severity"] == "info"
    assert f"The waiver {DOC} takes effect on 2020-03-01" in f["TM121"]["message_en"]
    assert "TM120" not in f
    assert out["max_severity"].tolist() == ["violation"]
    assert counts["not_yet_in_effect"] == 1


def test_no_waivers_change_nothing_but_the_findings_type() -> None:
    report = cp_report({}, {"checkpoint_id": "keep", "distance_to_crossing_m": 700.0})
    none = waivers({})
    out, counts = applied(report, Layer("waivers", none.frame.iloc[:0], none.rejected, 0))
    assert [[{k: v for k, v in f.items() if k != "waiver"} for f in fl] for fl in out["findings"]] == \
        report["findings"].tolist()
    assert all(f["waiver"] is None for fl in out["findings"] for f in fl)
    assert out["max_severity"].tolist() == report["max_severity"].tolist()
    assert counts == {"rows": 0, "rejected": 0, "waived": 0, "expired": 0, "not_yet_in_effect": 0, "unmatched": 0}
    empty, _ = applied(report.iloc[:0], waivers({}))
    assert len(empty) == 0


def test_trips_are_judged_on_their_service_date_not_the_as_of_date() -> None:
    report = trip_report({"T1": "2020-03-01", "T2": "2020-03-02", "T3": "2020-02-29"})
    layer = waivers(*({"subject": "班次", "subject_id": t, "rule_id": "TM201", "valid_from": "2020-03-01",
                       "valid_until": "2020-03-01"} for t in ("T1", "T2", "T3")))
    out, counts = applied(report, layer, "2020-04-01")  # long after the waiver: the as-of date plays no part
    assert findings(out, "T1")["TM201"]["severity"] == "waived"
    assert set(findings(out, "T2")) == {"TM120", "TM201"}
    assert set(findings(out, "T3")) == {"TM121", "TM201"}
    assert counts["waived"] == counts["expired"] == counts["not_yet_in_effect"] == 1


def test_a_renewal_covers_the_lapsed_waiver_and_the_longest_waiver_in_effect_is_cited() -> None:
    layer = waivers({"document": "旧", "valid_until": "2020-03-10"}, {"document": "新", "valid_from": "2020-03-11",
                                                                      "valid_until": "2020-03-31"},
                    {"document": "短", "valid_from": "2020-03-15", "valid_until": "2020-03-20"})
    out, _ = applied(cp_report(), layer)
    f = findings(out, "cp")
    assert set(f) == {"TM101"}
    assert f["TM101"]["waiver"] == {"document": "新", "valid_until": "2020-03-31"}


def test_expired_waivers_of_two_violations_are_one_tm120_naming_both() -> None:
    report = cp_report({"turn_back": True})  # remove: TM101 and TM110 are violations
    layer = waivers({"valid_until": "2020-03-10"}, {"rule_id": "TM110", "valid_until": "2020-03-10"})
    out, counts = applied(report, layer)
    f = findings(out, "cp")
    assert [x["rule_id"] for x in out["findings"].iloc[0]] == ["TM101", "TM110", "TM120"]  # ordered by rule id
    assert "the TM101 and TM110 violations stand" in f["TM120"]["message_en"]
    assert "TM101、TM110" in f["TM120"]["message_zh"]
    assert counts["expired"] == 2


def test_tm110_waiver_applies_where_it_is_a_violation_and_leaves_the_warning_where_the_checkpoint_may_stay() -> None:
    report = cp_report({"checkpoint_id": "remove", "turn_back": True},
                       {"checkpoint_id": "keep", "turn_back": True, "distance_to_crossing_m": 700.0})
    layer = waivers({"subject_id": "remove", "rule_id": "TM110"}, {"subject_id": "keep", "rule_id": "TM110"})
    assert len(layer.rejected) == 0  # TM110 can be a violation: the waiver is accepted either way
    out, counts = applied(report, layer)
    assert findings(out, "remove")["TM110"]["severity"] == "waived"
    assert findings(out, "remove")["TM101"]["severity"] == "violation"  # not waived: only TM110 was
    assert findings(out, "keep")["TM110"]["severity"] == "warning"
    assert set(findings(out, "keep")) == {"TM102", "TM110"}  # no TM120/TM121 for a warning
    assert counts["waived"] == 1 and counts["unmatched"] == 1


@pytest.mark.parametrize("named", [5, 80])  # few rows: slices of the old column; many: one array again
def test_only_the_named_subjects_change(named: int) -> None:
    specs = [{"checkpoint_id": f"c{i:03d}"} for i in range(120)]
    report = cp_report(*specs)
    layer = waivers(*({"subject_id": f"c{i:03d}"} for i in range(0, 120, 120 // named)))
    out, counts = applied(report, layer)
    waived = {f"c{i:03d}" for i in range(0, 120, 120 // named)}
    assert counts["waived"] == len(waived)
    for sid, before, after, top in zip(report["subject_id"], report["findings"], out["findings"], out["max_severity"]):
        assert [f["message_en"] for f in after] == [f["message_en"] for f in before]
        assert [f["severity"] for f in after] == ["waived" if sid in waived else "violation"]
        assert top == ("waived" if sid in waived else "violation")
    text = "".join(geojson_chunks(out, {}))
    assert text.count('"waiver": {"document": ') == len(waived)


# ------------------------------------------------------------------------------------------------------------
# bad rows: rejected with a reason, never dropped


@pytest.mark.parametrize(("row", "reason"), [
    ({"subject": "gate"}, "unknown-subject"),
    ({"subject": ""}, "unknown-subject"),
    ({"rule_id": "TM999"}, "unknown-rule"),
    ({"rule_id": ""}, "unknown-rule"),
    ({"rule_id": "TM201"}, "unknown-rule"),  # a trip rule on a checkpoint can never apply
    ({"rule_id": "TM102"}, "not-a-violation"),  # info
    ({"rule_id": "TM103"}, "not-a-violation"),  # warning
    ({"rule_id": "TM120"}, "not-a-violation"),
    ({"rule_id": "TM905"}, "not-a-violation"),
    ({"valid_until": "2020-02-29"}, "closed-before-opened"),
    ({"valid_from": "2020-02-30"}, "malformed-date"),
    ({"valid_until": ""}, "malformed-date"),
    ({"valid_from": "16/03/2020"}, "malformed-date"),
    ({"document": " "}, "missing-id"),
    ({"subject_id": ""}, "missing-id"),
])
def test_a_bad_waiver_is_a_rejected_row_with_its_reason(row: dict[str, object], reason: str) -> None:
    layer = waivers({"subject_id": "fine"}, row)
    assert layer.rows == 2 and len(layer.frame) == 1 and len(layer.rejected) == 1
    rej = layer.rejected.iloc[0]
    assert (rej["subject"], rej["reason"], rej["row"]) == ("waivers", reason, 1)
    assert rej["detail"]
    assert reason in REASON_RULE  # each reason is a registered TM9xx finding


def test_a_one_day_waiver_is_valid() -> None:
    layer = waivers({"valid_from": "2020-03-16", "valid_until": "2020-03-16"})
    assert len(layer.frame) == 1 and len(layer.rejected) == 0


def test_chinese_headers_subjects_and_dates_are_read() -> None:
    frame = pd.DataFrame({"对象类型": ["检测点", "班次", "Checkpoints"], "对象编号": ["cp", "T1", "cp2"],
                          "规则编号": ["tm101", " TM201", "ＴＭ１１１"], "批准文号": [DOC, "文2", "文3"],
                          "生效日期": ["2020年3月1日", "2020/3/1", "20200301"], "有效期至": ["2020-03-16", "2020.3.16",
                                                                                          "2020-03-16 18:00"],
                          "批准单位": ["九江市防指", None, ""], "备注": ["说明", None, None]})
    layer = validate_waivers(frame, "豁免.csv")
    assert len(layer.rejected) == 0
    w = layer.frame
    assert w["subject"].tolist() == ["checkpoint", "trip", "checkpoint"]
    assert w["rule_id"].tolist() == ["TM101", "TM201", "TM111"]
    assert set(w["valid_from"]) == {"2020-03-01"} and set(w["valid_until"]) == {"2020-03-16"}
    assert w["approved_by"].iloc[0] == "九江市防指" and w["note"].iloc[0] == "说明"


def test_a_missing_column_is_an_input_error_naming_the_file() -> None:
    with pytest.raises(InputError, match=r"waivers\.csv.*valid_until"):
        validate_waivers(pd.DataFrame({"subject": ["checkpoint"], "subject_id": ["cp"], "rule_id": ["TM101"],
                                       "document": [DOC], "valid_from": ["2020-03-01"]}), "waivers.csv")


# ------------------------------------------------------------------------------------------------------------
# through the audit: the tiny world, its coach trips, the CLI


CPS = [{"checkpoint_id": "remove", "x": 30, "y": 60, "turn_back": ""},
       {"checkpoint_id": "keep", "x": 30, "y": 98, "turn_back": "true"}]
WAIVERS = pd.DataFrame({
    "subject": ["checkpoint", "trip", "checkpoint", "checkpoint", "trip"],
    "subject_id": ["remove", "over", "keep", "ghost", "nope"],
    "rule_id": ["TM101", "TM201", "TM110", "TM101", "TM201"],
    "document": [DOC, "文2", "文3", "文4", "文5"],
    "valid_from": ["2020-03-01"] * 5, "valid_until": ["2020-03-16", "2020-03-01", "2020-03-16", "2020-03-16",
                                                      "2020-03-16"],
})


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def flat(result: Result) -> str:
    """The output with rich's table rules and line wrapping undone."""
    return re.sub(r"\s+", " ", re.sub(r"[│┃]", " ", result.stdout + result.stderr))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = world.write_world(tmp_path_factory.mktemp("waivers") / "d", CPS)
    world.write_coach_layers(d)
    WAIVERS.to_csv(d / "waivers.csv", index=False)
    return d


@pytest.fixture(scope="module")
def result(folder: Path) -> transportmon.AuditResult:
    return transportmon.audit(folder, as_of=AS_OF)


def test_the_audit_waives_checkpoints_and_trips_and_rejects_unknown_subjects(result: transportmon.AuditResult) -> None:
    rep = result.report
    assert findings(rep, "remove")["TM101"]["severity"] == "waived"
    assert findings(rep, "over")["TM201"]["severity"] == "waived"  # service date 2020-03-01, the waiver's one day
    assert findings(rep, "keep")["TM110"]["severity"] == "warning"
    rejected = rep[(rep["subject"] == "waivers").to_numpy()]
    assert sorted(rejected["reason"]) == ["unknown-subject", "unknown-subject"]
    assert sorted(rejected["subject_id"]) == ["文4/checkpoint/ghost/TM101", "文5/trip/nope/TM201"]
    assert {f["rule_id"] for fl in rejected["findings"] for f in fl} == {"TM907"}
    md = result.metadata
    assert md["rows"]["waivers"] == {"input": 5, "audited": 3, "rejected": 2}
    assert md["waivers"] == {"rows": 5, "rejected": 2, "waived": 2, "expired": 0, "not_yet_in_effect": 0,
                             "unmatched": 1}
    assert md["findings"]["waived"] == 2 and md["findings"]["violation"] == 0
    assert {"TM120", "TM121"} <= set(md["rules_run"])
    assert md["inputs"]["waivers"]["path"].endswith("waivers.csv")


def test_validate_rejects_the_same_waiver_rows(folder: Path) -> None:
    found = validate_inputs(folder)
    (check,) = [c for c in found.layers if c.layer == "waivers"]
    assert (check.rows, check.usable, check.rejected) == (5, 3, 2)
    assert check.reasons == {"unknown-subject": 2}


def test_only_waived_violations_exit_0_and_the_summary_cites_the_waivers(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.geojson"
    got = invoke("audit", "--data", str(folder), "--as-of", AS_OF, "--out", str(out), "--lang", "en")
    assert got.exit_code == 0, got.output
    text = flat(got)
    assert f"remove waived TM101 {DOC} → 2020-03-16" in text
    assert "waived violations: 2" in text
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["metadata"]["findings"]["violation"] == 0
    late = invoke("audit", "--data", str(folder), "--as-of", "2020-03-17", "--out", str(tmp_path / "late.geojson"),
                  "--lang", "en")
    assert late.exit_code == 1  # the checkpoint's waiver has lapsed
    assert f"remove waiver expired TM120 The waiver {DOC} expired on 2020-03-16" in flat(late)


def test_a_waivers_file_given_on_the_command_line_overrides_the_folder_s(folder: Path, tmp_path: Path) -> None:
    other = tmp_path / "例外.csv"
    WAIVERS.iloc[:1].assign(document="文9").to_csv(other, index=False)
    out = tmp_path / "r.geojson"
    got = invoke("audit", "--data", str(folder), "--waivers", str(other), "--as-of", AS_OF, "--out", str(out))
    assert got.exit_code == 1  # the trip is no longer waived
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["metadata"]["waivers"]["rows"] == 1
    assert "waivers.csv of the --data folder not used" in " ".join(doc["metadata"]["warnings"])


def test_only_and_fail_on_pass_over_waived_subjects(result: transportmon.AuditResult) -> None:
    assert result.exit_code("violation") == 0
    rep = result.report
    kept = filter_only(rep, "warning")
    assert "remove" not in set(kept["subject_id"]) and "over" not in set(kept["subject_id"])
    assert "keep" in set(kept["subject_id"])  # its TM110 warning stands


def test_every_report_form_carries_waived(result: transportmon.AuditResult, tmp_path: Path) -> None:
    for ext in ("geojson", "parquet", "csv", "xlsx", "gpkg"):
        write_report(result.report, result.metadata, str(tmp_path / f"r.{ext}"))
    for ext in ("geojson", "parquet"):
        back, md = read_report(tmp_path / f"r.{ext}")
        assert findings(back, "remove")["TM101"]["waiver"] == {"document": DOC, "valid_until": "2020-03-16"}
        assert md["findings"]["waived"] == 2
        got = waiver_findings(back)
        assert sorted(got.loc[got["status"] == "waived", "subject_id"]) == ["over", "remove"]
    csv = pd.read_csv(tmp_path / "r.csv", dtype=str, encoding="utf-8-sig").set_index("subject_id")
    remove = json.loads(csv.loc["remove", "findings"])
    assert remove == [{**remove[0], "severity": "waived", "waiver": {"document": DOC, "valid_until": "2020-03-16"}}]
    assert csv.loc["remove", "max_severity"] == "waived"
    ws = openpyxl.load_workbook(tmp_path / "r.xlsx")["检测点"]
    rows = {r[0]: r for r in ws.iter_rows(values_only=True)}
    assert "已豁免" in rows["remove"]  # the most severe finding, worded
    assert any(isinstance(v, str) and DOC in v and "已豁免" in v for v in rows["remove"])  # the findings in full
    gp = pyogrio.read_dataframe(tmp_path / "r.gpkg", layer="checkpoints").set_index("subject_id")
    assert gp.loc["remove", "max_severity"] == "waived"
    assert json.loads(gp.loc["remove", "findings"])[0]["waiver"]["document"] == DOC


def test_the_map_rings_the_waived_subjects(result: transportmon.AuditResult, tmp_path: Path) -> None:
    from transportmon.maps import html_map

    layers = map_layers(result)
    assert sorted(layers.waived["subject_id"]) == ["over", "remove"]
    assert layers.waived.set_index("subject_id").loc["remove", "waivers"] == f"{DOC} → 2020-03-16"
    text = html_map(result, tmp_path / "m.html", tiles=False).read_text(encoding="utf-8")
    assert "tm-waived" in text and "已豁免的违规 waived violation (2)" in text
    assert "豁免 waiver" in text  # the popup cites the document


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as c:
        yield c.scheduler_address


def test_the_dask_engine_gives_the_same_waivers(folder: Path, result: transportmon.AuditResult, cluster: str) -> None:
    dask = transportmon.audit(folder, as_of=AS_OF, engine="dask", scheduler=cluster)
    assert "".join(geojson_chunks(dask.report, dask.metadata)) == "".join(geojson_chunks(result.report,
                                                                                         result.metadata))


def test_the_dask_engine_waives_trips_in_its_workers_parts(folder: Path, result: transportmon.AuditResult,
                                                           cluster: str, tmp_path: Path) -> None:
    parts = tmp_path / "parts"
    parts.mkdir()
    dask = transportmon.audit(folder, as_of=AS_OF, engine="dask", scheduler=cluster, spill=parts)
    assert dask.spilled is not None and "over" not in set(dask.report["subject_id"])  # the trip is in a part
    assert dask.metadata["waivers"] == result.metadata["waivers"]  # waived 2, unmatched 1: counted over the pieces
    assert dask.metadata == result.metadata
    dask.write(tmp_path / "dask.geojson")
    result.write(tmp_path / "memory.geojson")
    assert (tmp_path / "dask.geojson").read_bytes() == (tmp_path / "memory.geojson").read_bytes()


def test_an_xlsx_with_a_title_row_and_chinese_headers_is_a_waivers_layer(folder: Path, tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    for f in folder.iterdir():
        if f.name != "waivers.csv":
            (d / f.name).write_bytes(f.read_bytes())
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["九江市防疫检测点豁免批准清单"])
    ws.append(["对象类型", "对象编号", "规则编号", "批准文号", "生效日期", "有效期至", "批准单位"])
    ws.append(["检测点", "remove", "TM101", DOC, "2020-03-01", "2020-03-16", "九江市防指"])
    ws.append(["检测点", "remove", "TM102", DOC, "2020-03-01", "2020-03-16", "九江市防指"])
    wb.save(d / "豁免.xlsx")
    assert set(read_table(d / "豁免.xlsx").columns) >= {"对象类型", "批准文号", "有效期至"}
    res = transportmon.audit(d, as_of=AS_OF)
    assert findings(res.report, "remove")["TM101"]["severity"] == "waived"
    rejected = res.report[(res.report["subject"] == "waivers").to_numpy()]
    assert rejected["reason"].tolist() == ["not-a-violation"]


# ------------------------------------------------------------------------------------------------------------
# the embedded sample: one waiver in effect on 2020-03-16, one expired


@pytest.mark.parametrize(("as_of", "cp08", "cp09"), [
    ("2020-03-16", "waived", "expired"), ("2020-02-29", "not-yet-in-effect", "waived"),
    ("2020-02-20", "not-yet-in-effect", "waived"),  # CP09's waiver begins that day
    ("2020-03-27", "waived", "expired"),
])
def test_the_sample_waivers(as_of: str, cp08: str, cp09: str) -> None:
    res = transportmon.audit(as_of=as_of)
    got = waiver_findings(res.report).set_index("subject_id")["status"]
    assert (got["CP08"], got["CP09"]) == (cp08, cp09)
    assert res.report.loc[res.report["subject_id"].isin(["CP08", "CP09"]), "verdict"].tolist() == ["remove"] * 2
    assert res.exit_code() == 1  # other violations stand
