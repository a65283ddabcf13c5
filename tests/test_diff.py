"""Stable finding ids in every report form, and ``transportmon diff`` / ``transportmon.diff`` (DESIGN §8).

The reports are audits of the tiny world (tests/world.py) before and after hand-made changes of its inputs: a
checkpoint closed, an over-cap trip added, a trip removed. A waived finding (the severity another change adds) is
made by editing a report by hand.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyarrow.parquet as pq
import pytest
import world
from typer.testing import CliRunner, Result

import transportmon
from transportmon._errors import InputError
from transportmon.changes import SUBJECT_COLUMNS, compare
from transportmon.cli import app
from transportmon.io.report import read_report
from transportmon.io.write import write_report

AS_OF = "2020-03-16"
CPS = [
    {"checkpoint_id": "keep", "x": 30, "y": 98, "turn_back": "true", "closed": ""},
    {"checkpoint_id": "remove", "x": 30, "y": 60, "turn_back": "true", "closed": ""},
    {"checkpoint_id": "nowhere", "x": 10, "y": 10, "turn_back": "", "closed": ""},
]
#: Rows that share an id with another: a checkpoint id three times (two rejected duplicate-id rows) and a trip with
#: two stop rows at unknown stops (two rejected stop_times rows whose subject_id is the trip's).
DUPLICATES = [
    {"checkpoint_id": "keep", "x": 31, "y": 97, "turn_back": "", "closed": ""},
    {"checkpoint_id": "keep", "x": 32, "y": 96, "turn_back": "", "closed": ""},
]


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def said(result: Result) -> str:
    """stdout + stderr with rich's line wrapping undone."""
    return re.sub(r"\s+", " ", result.stdout + result.stderr)


def make_world(folder: Path, cps: list[dict] = CPS) -> Path:
    d = world.write_world(folder, cps)
    world.write_coach_layers(d)
    st = pd.read_csv(d / "stop_times.csv", dtype=str)
    lost = pd.DataFrame([("lost", "1", "NOWHERE1", "1", "0"), ("lost", "2", "NOWHERE2", "0", "1")], columns=st.columns)
    pd.concat([st, lost]).to_csv(d / "stop_times.csv", index=False)
    trips = pd.read_csv(d / "trips.csv", dtype=str)
    pd.concat([trips, pd.DataFrame([{"trip_id": "lost", "service_date": "2020-03-01", "service_type": "scheduled",
                                     "seats": "45", "passengers": "10"}])]).to_csv(d / "trips.csv", index=False)
    return d


def audit(d: Path) -> transportmon.pipeline.AuditResult:
    return transportmon.audit(d, as_of=AS_OF)


@pytest.fixture(scope="module")
def old_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_world(tmp_path_factory.mktemp("old") / "data", CPS + DUPLICATES)


@pytest.fixture(scope="module")
def new_dir(old_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """OLD's inputs with three changes: checkpoint ``remove`` closed on 2020-03-10 (→ inactive), a new over-cap trip
    ``over2`` (30 of 45 into Hubei's high-risk area), trip ``intra`` gone."""
    d = tmp_path_factory.mktemp("new") / "data"
    shutil.copytree(old_dir, d)
    cps = pd.read_csv(d / "checkpoints.csv", dtype=str, keep_default_na=False)
    cps.loc[cps["checkpoint_id"] == "remove", "closed"] = "2020-03-10"
    cps.to_csv(d / "checkpoints.csv", index=False)
    trips = pd.read_csv(d / "trips.csv", dtype=str)
    trips = trips[trips["trip_id"] != "intra"]
    over2 = {"trip_id": "over2", "service_date": "2020-03-01", "service_type": "scheduled", "seats": "45",
             "passengers": "30"}
    pd.concat([trips, pd.DataFrame([over2])]).to_csv(d / "trips.csv", index=False)
    st = pd.read_csv(d / "stop_times.csv", dtype=str)
    st = st[st["trip_id"] != "intra"]
    more = pd.DataFrame([("over2", "1", "JJ", "1", "0"), ("over2", "2", "HB1", "0", "1")], columns=st.columns)
    pd.concat([st, more]).to_csv(d / "stop_times.csv", index=False)
    return d


@pytest.fixture(scope="module")
def old(old_dir: Path) -> transportmon.pipeline.AuditResult:
    return audit(old_dir)


@pytest.fixture(scope="module")
def new(new_dir: Path) -> transportmon.pipeline.AuditResult:
    return audit(new_dir)


@pytest.fixture(scope="module")
def reports(old: transportmon.pipeline.AuditResult, new: transportmon.pipeline.AuditResult,
            tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """OLD and NEW written in each report form."""
    d = tmp_path_factory.mktemp("reports")
    out = {}
    for ext in ("geojson", "parquet", "csv", "gpkg"):
        pair = (d / f"old.{ext}", d / f"new.{ext}")
        write_report(old.report, old.metadata, str(pair[0]))
        write_report(new.report, new.metadata, str(pair[1]))
        out[ext] = pair
    return out


def ids_of(report: pd.DataFrame) -> list[list[str]]:
    return [[f["finding_id"] for f in fl] for fl in report["findings"]]


# --------------------------------------------------------------------------------------------------------------------
# finding_id


def test_every_finding_has_its_id(old: transportmon.pipeline.AuditResult) -> None:
    rep = old.report
    expected = [[f"{f['rule_id']}:{s}:{i}" for f in fl] for s, i, fl in zip(rep["subject"], rep["subject_id"],
                                                                            rep["findings"])]
    got = ids_of(rep)
    flat = [x for fl in got for x in fl]
    assert len(flat) == len(set(flat)) > 10  # unique in the report
    repeats = {x for fl, ex in zip(got, expected) for x, e in zip(fl, ex) if x != e}
    # Only rows that repeat a (subject, subject_id) are numbered: the 2nd and 3rd row with checkpoint id "keep"
    # (both TM902 duplicate-id) and the 2nd rejected stop row of trip "lost" (TM907 unknown-stop).
    assert repeats == {"TM902:checkpoint:keep#2", "TM907:stop_times:lost#2"}
    by_key = rep.groupby(["subject", "subject_id"]).size()
    assert by_key[("checkpoint", "keep")] == 3 and by_key[("stop_times", "lost")] == 2
    keep = rep[(rep["subject"] == "checkpoint") & (rep["subject_id"] == "keep")]
    assert ids_of(keep) == [["TM102:checkpoint:keep", "TM110:checkpoint:keep"], ["TM902:checkpoint:keep"],
                            ["TM902:checkpoint:keep#2"]]  # in report order: by source row
    trip = rep[rep["subject"] == "trip"].set_index("subject_id")
    assert trip.loc["over", "findings"][0]["finding_id"] == "TM201:trip:over"
    assert trip.loc["lost", "findings"][0]["finding_id"] == "TM907:trip:lost"


def test_ids_are_stable_between_runs(old_dir: Path, old: transportmon.pipeline.AuditResult,
                                     new: transportmon.pipeline.AuditResult) -> None:
    again = audit(old_dir)
    assert ids_of(again.report) == ids_of(old.report)
    # A subject whose inputs did not change keeps its ids when other rows change.
    before = dict(zip(zip(old.report["subject"], old.report["subject_id"]), ids_of(old.report)))
    after = dict(zip(zip(new.report["subject"], new.report["subject_id"]), ids_of(new.report)))
    assert before[("trip", "over")] == after[("trip", "over")] == ["TM201:trip:over"]
    assert before[("checkpoint", "nowhere")] == after[("checkpoint", "nowhere")]


@pytest.mark.parametrize("ext", ["geojson", "parquet", "csv"])
def test_finding_id_in_every_form(ext: str, reports: dict[str, tuple[Path, Path]],
                                  old: transportmon.pipeline.AuditResult) -> None:
    path = reports[ext][0]
    if ext == "geojson":
        feats = json.loads(path.read_text(encoding="utf-8"))["features"]
        raw = [[f["finding_id"] for f in x["properties"]["findings"]] for x in feats]
        assert all(list(f)[0] == "finding_id" for x in feats for f in x["properties"]["findings"])
    elif ext == "parquet":
        table = pq.read_table(path)
        assert table.schema.field("findings").type.value_type[0].name == "finding_id"  # native nested column
        raw = [[f["finding_id"] for f in fl] for fl in table["findings"].to_pylist()]
    else:
        text = pd.read_csv(path, dtype=str, keep_default_na=False)["findings"]
        raw = [[f["finding_id"] for f in json.loads(t)] for t in text]
    assert raw == ids_of(old.report)
    back, _ = read_report(path)
    assert ids_of(back) == ids_of(old.report)
    assert back["subject_id"].tolist() == old.report["subject_id"].tolist()


@pytest.mark.parametrize("ext", ["geojson", "parquet", "csv"])
def test_reports_without_ids_get_them_derived(ext: str, old: transportmon.pipeline.AuditResult,
                                              tmp_path: Path) -> None:
    """A report written before finding ids existed reads with the ids a new one has (numbered repeats too)."""
    path = tmp_path / f"older.{ext}"
    write_report(old.report, old.metadata, str(path))
    if ext == "geojson":
        doc = json.loads(path.read_text(encoding="utf-8"))
        for feat in doc["features"]:
            for f in feat["properties"]["findings"]:
                del f["finding_id"]
        path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    elif ext == "parquet":
        table = pq.read_table(path)
        findings = [[{k: v for k, v in f.items() if k != "finding_id"} for f in fl]
                    for fl in table["findings"].to_pylist()]
        import pyarrow as pa

        col = pa.array(findings, pa.list_(pa.struct([(k, pa.string()) for k in ("rule_id", "severity", "message_zh",
                                                                                    "message_en")])))
        pq.write_table(table.set_column(table.schema.get_field_index("findings"), "findings", col), path)
    else:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame["findings"] = [json.dumps([{k: v for k, v in f.items() if k != "finding_id"} for f in json.loads(t)],
                                        ensure_ascii=False) for t in frame["findings"]]
        frame.to_csv(path, index=False)
    assert "finding_id" not in path.read_bytes().decode("utf-8", "replace") or ext == "parquet"
    back, _ = read_report(path)
    assert ids_of(back) == ids_of(old.report)


# --------------------------------------------------------------------------------------------------------------------
# diff: counts against the hand-made changes


def test_diff_finds_the_hand_made_changes(old: transportmon.pipeline.AuditResult,
                                          new: transportmon.pipeline.AuditResult) -> None:
    d = transportmon.diff(old, new)
    assert list(d.subjects.columns) == SUBJECT_COLUMNS
    rows = {(r.subject, r.subject_id): (r.change, r.old_verdict, r.verdict) for r in d.subjects.itertuples()}
    assert rows[("checkpoint", "remove")] == ("changed", "remove", "inactive")  # closed → inactive
    assert rows[("trip", "over2")][:1] == ("new",) and rows[("trip", "over2")][2] == "over-cap"
    assert pd.isna(rows[("trip", "over2")][1])
    assert rows[("trip", "intra")][:2] == ("gone", "not-applicable") and pd.isna(rows[("trip", "intra")][2])
    assert len(rows) == 3
    found = {(r.change, r.finding_id) for r in d.findings.itertuples()}
    assert found == {("new-violation", "TM201:trip:over2"), ("resolved", "TM101:checkpoint:remove"),
                     ("resolved", "TM110:checkpoint:remove")}
    res = d.findings.set_index("finding_id")
    assert res.loc["TM101:checkpoint:remove", "old_severity"] == "violation"
    assert pd.isna(res.loc["TM101:checkpoint:remove", "severity"])  # gone with its cause
    assert res.loc["TM201:trip:over2", "subject_id"] == "over2"
    assert {k: d.counts[k] for k in ("new", "gone", "changed", "new-violation", "resolved", "alerts")} == {
        "new": 1, "gone": 1, "changed": 1, "new-violation": 1, "resolved": 2, "alerts": 1}
    assert d.counts["subjects_old"] == len(old.report) and d.counts["subjects_new"] == len(new.report)
    assert d.counts["unchanged"] == len(new.report) - 2
    assert d.exit_code == 1


def test_diff_in_the_other_direction(old: transportmon.pipeline.AuditResult,
                                     new: transportmon.pipeline.AuditResult) -> None:
    d = transportmon.diff(new, old)
    assert {(r.change, r.finding_id) for r in d.findings.itertuples()} == {
        ("resolved", "TM201:trip:over2"), ("new-violation", "TM101:checkpoint:remove"),
        ("new-violation", "TM110:checkpoint:remove")}
    assert d.exit_code == 1  # the reopened checkpoint's violations are new


def test_same_report_has_no_changes(old: transportmon.pipeline.AuditResult) -> None:
    d = transportmon.diff(old, old)
    assert len(d.subjects) == 0 and len(d.findings) == 0
    assert d.counts["unchanged"] == len(old.report) and d.exit_code == 0


def test_only_resolutions_exit_0(old: transportmon.pipeline.AuditResult,
                                 new: transportmon.pipeline.AuditResult) -> None:
    """NEW = OLD with the checkpoint closed and nothing else: violations resolved, none new."""
    rep = old.report.copy()
    at = (rep["subject"] == "checkpoint") & (rep["subject_id"] == "remove")
    closed = new.report[(new.report["subject"] == "checkpoint") & (new.report["subject_id"] == "remove")]
    rep = pd.concat([rep[~at], closed]).reset_index(drop=True)
    d = compare(old.report, rep, old.metadata, new.metadata)
    assert d.counts["resolved"] == 2 and d.counts["new-violation"] == 0 and d.exit_code == 0


def hand_edit(report: pd.DataFrame, subject_id: str, severity: str) -> pd.DataFrame:
    """The report with the first finding of ``subject_id`` given ``severity``."""
    out = report.copy()
    findings = out["findings"].tolist()
    i = out.index[out["subject_id"] == subject_id][0]
    findings[i] = [dict(findings[i][0], severity=severity), *findings[i][1:]]
    out["findings"] = pd.Series(findings, index=out.index, dtype=object)
    return out


def test_a_waived_violation_is_resolved_and_an_expired_waiver_alerts(old: transportmon.pipeline.AuditResult) -> None:
    waived = hand_edit(old.report, "over", "waived")
    d = compare(old.report, waived, old.metadata, old.metadata)
    assert d.findings[["finding_id", "change", "old_severity", "severity"]].values.tolist() == [
        ["TM201:trip:over", "resolved", "violation", "waived"]]
    assert d.subjects[["subject_id", "change", "old_verdict", "verdict"]].values.tolist() == [
        ["over", "resolved", "over-cap", "over-cap"]]  # the verdict stays; the violation is settled
    assert d.exit_code == 0
    back = compare(waived, old.report, old.metadata, old.metadata)  # the waiver expired: the violation is back
    assert back.findings[["finding_id", "change", "old_severity", "severity"]].values.tolist() == [
        ["TM201:trip:over", "new-violation", "waived", "violation"]]
    assert back.exit_code == 1


def test_a_warning_that_becomes_a_violation_is_new(old: transportmon.pipeline.AuditResult) -> None:
    """keep's turn-back is a warning; as a violation (the checkpoint judged remove) it is a new violation, and a
    violation that stays one is not."""
    keep = old.report[(old.report["subject_id"] == "keep") & (old.report["verdict"] == "keep")]
    assert [f["severity"] for f in keep["findings"].iloc[0]] == ["info", "warning"]
    rep = old.report.copy()
    findings = rep["findings"].tolist()
    i = keep.index[0]
    findings[i] = [findings[i][0], dict(findings[i][1], severity="violation")]
    rep["findings"] = pd.Series(findings, index=rep.index, dtype=object)
    d = compare(old.report, rep, old.metadata, old.metadata)
    assert d.findings["finding_id"].tolist() == ["TM110:checkpoint:keep"]
    assert d.findings[["old_severity", "severity"]].values.tolist() == [["warning", "violation"]]
    assert d.exit_code == 1
    assert compare(rep, rep, old.metadata, old.metadata).exit_code == 0


def test_fail_on_warning_and_never(old: transportmon.pipeline.AuditResult) -> None:
    info_to_warning = hand_edit(old.report, "ok", "warning")  # a compliant trip's info finding, now a warning
    assert compare(old.report, info_to_warning).exit_code == 0  # not a violation
    assert compare(old.report, info_to_warning, fail_on="warning").exit_code == 1
    assert compare(info_to_warning, old.report, fail_on="warning").exit_code == 0  # back to info: nothing new
    assert compare(old.report.iloc[:0], old.report, fail_on="never").exit_code == 0
    assert compare(old.report.iloc[:0], old.report).exit_code == 1


def test_repeated_subjects_match_in_order(old: transportmon.pipeline.AuditResult) -> None:
    """The third row with checkpoint id "keep" removed: that one is gone, the other two match."""
    rep = old.report
    rows = rep.index[(rep["subject"] == "checkpoint") & (rep["subject_id"] == "keep")]
    d = compare(rep, rep.drop(index=rows[2]).reset_index(drop=True))
    assert d.subjects[["subject_id", "change", "old_verdict"]].values.tolist() == [["keep", "gone", "rejected"]]
    assert ids_of(d.changed) == [["TM902:checkpoint:keep#2"]]
    assert d.findings.empty  # a warning went, no violation


def test_empty_reports(old: transportmon.pipeline.AuditResult) -> None:
    empty = old.report.iloc[:0]
    d = compare(empty, empty)
    assert d.subjects.empty and d.findings.empty and d.exit_code == 0 and d.counts["subjects_old"] == 0
    gone = compare(old.report, empty)
    assert (gone.subjects["change"] == "gone").all() and len(gone.subjects) == len(old.report)
    assert gone.exit_code == 0 and gone.counts["resolved"] == sum(
        f["severity"] == "violation" for fl in old.report["findings"] for f in fl)


# --------------------------------------------------------------------------------------------------------------------
# the command


@pytest.mark.parametrize("ext", ["geojson", "parquet", "csv", "gpkg"])
def test_command_reads_every_form(ext: str, reports: dict[str, tuple[Path, Path]]) -> None:
    old_path, new_path = reports[ext]
    result = invoke("diff", str(old_path), str(new_path), "--lang", "en")
    assert result.exit_code == 1, result.output
    out = said(result)
    assert "new: 1 gone: 1 changed: 1" in out and "new-violation: 1 resolved: 2" in out
    assert "TM201:trip:over2" in out and "remove → inactive" in out
    assert "new violations: 1 (exit code 1)" in out


def test_gpkg_report_reads_back_as_the_geojson_report(reports: dict[str, tuple[Path, Path]]) -> None:
    """The GeoPackage's layers (one per subject kind and geometry type, with derived fields for QGIS) read back as
    the report: same rows in the same order, same columns and types, same geometries, the same metadata."""
    for old_path, geo_path in zip(reports["gpkg"], reports["geojson"]):
        got, got_meta = read_report(old_path)
        want, want_meta = read_report(geo_path)
        assert got_meta == want_meta and got_meta["as_of"]
        assert list(got.columns) == list(want.columns)
        pd.testing.assert_frame_equal(pd.DataFrame(got.drop(columns="geometry")),
                                      pd.DataFrame(want.drop(columns="geometry")))
        both = got.geometry.notna().to_numpy()
        assert (both == want.geometry.notna().to_numpy()).all()
        # GeoJSON rounds coordinates to COORD_DECIMALS places; the GeoPackage keeps them whole
        assert got.geometry[both].normalize().geom_equals_exact(want.geometry[both].normalize(), 1e-6).all()


def test_gpkg_written_before_its_metadata_was_kept(reports: dict[str, tuple[Path, Path]], tmp_path: Path) -> None:
    """A GeoPackage report without the metadata item reads with metadata {} (as a CSV report), and diffs."""
    import sqlite3

    path = tmp_path / "old.gpkg"
    shutil.copy(reports["gpkg"][0], path)
    with sqlite3.connect(path) as con:
        con.execute("UPDATE gpkg_metadata SET metadata = replace(metadata, 'TRANSPORTMON', 'SOMETHING_ELSE')")
    frame, meta = read_report(path)
    assert meta == {} and len(frame) == len(read_report(reports["gpkg"][0])[0])
    result = invoke("diff", str(path), str(reports["gpkg"][0]))
    assert result.exit_code == 0 and "无变化" in said(result)


def test_mixed_forms_and_no_alert(reports: dict[str, tuple[Path, Path]]) -> None:
    result = invoke("diff", str(reports["csv"][1]), str(reports["parquet"][0]), "--lang", "en")
    assert result.exit_code == 1  # OLD→NEW reversed: the reopened checkpoint's violations are new
    result = invoke("diff", str(reports["parquet"][0]), str(reports["geojson"][0]))
    assert result.exit_code == 0 and "无变化" in said(result)
    result = invoke("diff", str(reports["gpkg"][0]), str(reports["csv"][0]))
    assert result.exit_code == 0 and "无变化" in said(result)


@pytest.mark.parametrize("ext", ["geojson", "csv"])
def test_out_writes_the_changed_subjects(ext: str, reports: dict[str, tuple[Path, Path]], tmp_path: Path) -> None:
    old_path, new_path = reports["parquet"]
    out = tmp_path / f"changes.{ext}"
    result = invoke("diff", str(old_path), str(new_path), "--out", str(out))
    assert result.exit_code == 1 and out.is_file()
    back, md = read_report(out)
    assert back[["subject", "subject_id", "change", "old_verdict"]].fillna("").values.tolist() == [
        ["checkpoint", "remove", "changed", "remove"], ["trip", "intra", "gone", "not-applicable"],
        ["trip", "over2", "new", ""]]
    assert back["verdict"].fillna("").tolist() == ["inactive", "", "over-cap"]
    cols = list(back.columns)
    assert cols.index("change") == cols.index("subject_id") + 1 and cols.index("old_verdict") == cols.index("change") + 1
    if ext == "geojson":
        assert md["counts"]["new-violation"] == 1 and md["diff"]["old"]["name"] == str(old_path)
        assert back.geometry.notna().all()  # from the parquet reports' geometry
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically: no temporary file left


def test_out_never_overwrites_an_input(reports: dict[str, tuple[Path, Path]]) -> None:
    old_path, new_path = reports["geojson"]
    before = old_path.read_bytes()
    result = invoke("diff", str(old_path), str(new_path), "--out", str(old_path))
    assert result.exit_code == 2 and "is one of the inputs" in said(result)
    assert old_path.read_bytes() == before
    result = invoke("diff", str(old_path), str(new_path), "--out", str(old_path.with_suffix(".xlsx")))
    assert result.exit_code == 2 and "written as .geojson, .parquet or .csv" in said(result)


def test_not_a_report_exits_2_naming_it(reports: dict[str, tuple[Path, Path]], old_dir: Path,
                                        tmp_path: Path) -> None:
    good = str(reports["geojson"][0])
    garbage = tmp_path / "garbage.geojson"
    garbage.write_text("{not json", encoding="utf-8")
    table = tmp_path / "table.csv"
    table.write_text("a,b\n1,2\n", encoding="utf-8")
    parquet = tmp_path / "layer.parquet"
    gpd.read_file(old_dir / "roads.geojson").to_parquet(parquet)
    for bad, words in ((old_dir / "roads.geojson", "is not a transportmon report"),
                       (garbage, "cannot read the report"), (table, "is not a transportmon report"),
                       (parquet, "is not a transportmon report"), (tmp_path / "missing.csv", "does not exist"),
                       (old_dir / "checkpoints.csv", "is not a transportmon report"),
                       (tmp_path / "report.txt", "does not exist")):
        result = invoke("diff", good, str(bad))
        assert result.exit_code == 2, (bad, result.output)
        assert str(bad) in said(result) and words in said(result)
        assert invoke("diff", str(bad), good).exit_code == 2
    txt = tmp_path / "t.txt"
    txt.write_text("subject,subject_id,verdict\n", encoding="utf-8")
    with pytest.raises(InputError, match="unknown report format"):
        transportmon.diff(good, txt)


def test_policy_mismatch_exits_2_unless_forced(old_dir: Path, reports: dict[str, tuple[Path, Path]],
                                               tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('policy = "another opinion (七)"\n', encoding="utf-8")
    other = transportmon.audit(old_dir, as_of=AS_OF, config=rules)
    path = tmp_path / "other.geojson"
    write_report(other.report, other.metadata, str(path))
    old_path = reports["geojson"][0]
    result = invoke("diff", str(old_path), str(path), "--lang", "en")
    assert result.exit_code == 2
    assert str(path) in said(result) and "another opinion (七)" in said(result) and "--force" in said(result)
    with pytest.raises(InputError, match="policy"):
        transportmon.diff(old_path, path)
    forced = invoke("diff", str(old_path), str(path), "--force", "--lang", "en")
    assert forced.exit_code == 0 and "different policies" in said(forced) and "nothing changed" in said(forced)
    # A CSV report has no metadata: its policy column decides.
    csv = tmp_path / "other.csv"
    write_report(other.report, other.metadata, str(csv))
    assert invoke("diff", str(reports["csv"][0]), str(csv)).exit_code == 2
    assert invoke("diff", str(reports["csv"][0]), str(csv), "--force").exit_code == 0


def test_the_api_name_is_the_function() -> None:
    """``transportmon.diff`` is the function of ``transportmon/changes.py`` (no submodule named ``diff`` shadows it)."""
    import importlib

    changes = importlib.import_module("transportmon.changes")
    assert callable(transportmon.diff) and transportmon.diff is changes.diff
    assert changes.compare is compare


# --------------------------------------------------------------------------------------------------------------------
# reading GeoJSON reports column-wise


def test_geojson_lines_read_as_json_would(tmp_path: Path) -> None:
    """Every geometry type the writer writes (and nulls, and a GeometryCollection, which takes the plain-JSON way)
    reads the same through the column-wise reader as through ``json.load``."""
    import shapely
    from geopandas.testing import assert_geodataframe_equal

    from transportmon.io import report_forms
    from transportmon.report import assemble

    geoms = [shapely.Point(116, 30), shapely.LineString([(116, 30), (117, 31), (117.5, 31)]),
             shapely.MultiPoint([(1, 2), (3, 4)]),
             shapely.Polygon([(0, 0), (1, 0), (1, 1), (0, 0)], [[(0.1, 0.1), (0.2, 0.1), (0.2, 0.2), (0.1, 0.1)]]),
             shapely.MultiLineString([[(0, 0), (1, 1)], [(2, 2), (3, 3), (4, 4)]]),
             shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(2, 2, 3, 3)]), None, shapely.LineString()]
    frame = gpd.GeoDataFrame({"subject": "checkpoint", "subject_id": [f"g{i}" for i in range(len(geoms))],
                              "verdict": "rejected", "source_row": range(len(geoms))}, geometry=geoms,
                             crs="EPSG:4326")
    for extra in ([], [shapely.GeometryCollection([shapely.Point(1, 1), shapely.LineString([(0, 0), (1, 1)])])]):
        rep = assemble([frame if not extra else pd.concat([frame, gpd.GeoDataFrame(
            {"subject": "checkpoint", "subject_id": ["gc"], "verdict": "rejected", "source_row": [99]},
            geometry=extra, crs="EPSG:4326")], ignore_index=True)], "p")
        lines, flat = tmp_path / "lines.geojson", tmp_path / "flat.geojson"
        write_report(rep, {"policy": "p"}, str(lines))
        flat.write_text(json.dumps(json.loads(lines.read_text(encoding="utf-8"))), encoding="utf-8")
        fast, md = read_report(lines)
        slow, md_slow = read_report(flat)
        assert_geodataframe_equal(fast, slow)
        assert md == md_slow == {"policy": "p"}
        assert shapely.equals_exact(fast.geometry.to_numpy()[: len(geoms) - 2], rep.geometry.to_numpy()[
            : len(geoms) - 2], tolerance=1e-7).all()
        assert fast.geometry.iloc[len(geoms) - 2:len(geoms)].isna().all()  # null, and empty written as null
        data = lines.read_bytes()
        if extra:  # the column-wise reader refuses it, read_report reads it as plain JSON
            with pytest.raises(ValueError):
                report_forms.read_geojson_lines(data, data.rfind(b'],\n"metadata": '))
            assert fast.geometry.iloc[-1].geom_type == "GeometryCollection"
        else:
            got, _ = report_forms.read_geojson_lines(data, data.rfind(b'],\n"metadata": '))
            assert got.geometry.notna().sum() == len(geoms) - 2
    empty = tmp_path / "empty.geojson"
    write_report(assemble([], "p"), {"policy": "p"}, str(empty))
    back, md = read_report(empty)
    assert len(back) == 0 and md == {"policy": "p"}


def test_other_finding_keys_are_kept(old: transportmon.pipeline.AuditResult, tmp_path: Path) -> None:
    """A key findings may carry besides the five (a waiver's document) reads back, after them, in every form."""
    rep = old.report.copy()
    findings = rep["findings"].tolist()
    i = rep.index[rep["subject_id"] == "over"][0]
    findings[i] = [dict(findings[i][0], severity="waived", waiver={"document": "赣防指〔2020〕1号",
                                                                   "valid_until": "2020-03-31"})]
    rep["findings"] = pd.Series(findings, index=rep.index, dtype=object)
    for ext in ("geojson", "csv"):
        path = tmp_path / f"waived.{ext}"
        write_report(rep, old.metadata, str(path))
        back, _ = read_report(path)
        over = back.loc[back["subject_id"] == "over", "findings"].iloc[0][0]
        assert list(over)[:5] == ["finding_id", "rule_id", "severity", "message_zh", "message_en"]
        assert over["waiver"] == {"document": "赣防指〔2020〕1号", "valid_until": "2020-03-31"}
        assert over["finding_id"] == "TM201:trip:over" and over["severity"] == "waived"
        if ext == "geojson":  # read column-wise, not through json.load
            from transportmon.io.report_forms import read_geojson_lines

            data = path.read_bytes()
            lines, _ = read_geojson_lines(data, data.rfind(b'],\n"metadata": '))
            assert lines.loc[lines["subject_id"] == "over", "findings"].iloc[0][0]["waiver"]["valid_until"] == (
                "2020-03-31")
        d = transportmon.diff(old, path)
        assert d.findings[["finding_id", "change", "severity"]].values.tolist() == [
            ["TM201:trip:over", "resolved", "waived"]]
