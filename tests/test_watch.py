"""``transportmon watch``: re-audit when an input's content changes, write the report atomically, print the diff.

No test waits on the clock: ``transportmon.watch.sleep`` is replaced by a function that changes the inputs
(pre-arranged content, one step per call) or raises ``KeyboardInterrupt`` as Ctrl-C would.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import world
from typer.testing import CliRunner, Result

import transportmon
from transportmon import watch as watch_module
from transportmon.cli import app
from transportmon.io.report import read_report
from transportmon.watch import fingerprint, runs, watched_files

AS_OF = "2020-03-16"
CPS = [
    {"checkpoint_id": "keep", "x": 30, "y": 98, "closed": ""},
    {"checkpoint_id": "remove", "x": 30, "y": 60, "closed": ""},
]


def said(result: Result) -> str:
    return re.sub(r"\s+", " ", result.stdout + result.stderr)


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    d = world.write_world(tmp_path / "data", CPS)
    world.write_coach_layers(d)
    return d


def close_remove(d: Path) -> None:
    """Checkpoint ``remove`` closed on 2020-03-10: inactive on the as-of date, its violation resolved."""
    cps = pd.read_csv(d / "checkpoints.csv", dtype=str, keep_default_na=False)
    cps.loc[cps["checkpoint_id"] == "remove", "closed"] = "2020-03-10"
    cps.to_csv(d / "checkpoints.csv", index=False)


def add_over_cap_trip(d: Path) -> None:
    """Trip ``over2``: 30 of 45 passengers into Hubei's high-risk area, a new violation."""
    with open(d / "trips.csv", "a", encoding="utf-8") as fh:
        fh.write("over2,2020-03-01,scheduled,45,30\n")
    with open(d / "stop_times.csv", "a", encoding="utf-8") as fh:
        fh.write("over2,1,JJ,1,0\nover2,2,HB1,0,1\n")


def steps(monkeypatch: pytest.MonkeyPatch, *actions: Callable[[], None]) -> list[float]:
    """Replace the watch's sleep: the n-th call runs the n-th action (then nothing more happens; an action may
    raise ``KeyboardInterrupt``). Returns the list of the seconds asked for."""
    asked: list[float] = []
    todo = list(actions)

    def fake_sleep(seconds: float) -> None:
        asked.append(seconds)
        if todo:
            todo.pop(0)()

    monkeypatch.setattr(watch_module, "sleep", fake_sleep)
    return asked


def interrupt() -> None:
    raise KeyboardInterrupt


def watch(data: Path, out: Path, *more: str) -> Result:
    return CliRunner().invoke(app, ["watch", "--data", str(data), "--as-of", AS_OF, "--every", "0.01", "--out",
                                    str(out), "--lang", "en", *more])


def test_max_runs_with_a_change_between_runs(data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "report.geojson"
    asked = steps(monkeypatch, lambda: close_remove(data))
    result = watch(data, out, "--max-runs", "2")
    text = said(result)
    assert "run 1" in text and "run 2" in text and "1 file(s) changed: checkpoints.csv" in text
    assert "remove → inactive" in text and "resolved: 1" in text and "TM101:checkpoint:remove" in text
    assert result.exit_code == 0  # the last run brought no new violation
    assert asked == [0.01]  # one look between the two audits, none after the last
    report, md = read_report(out)
    assert md["as_of"] == AS_OF
    assert report.set_index("subject_id").loc["remove", "verdict"] == "inactive"  # the second audit's report


def test_last_run_with_a_new_violation_exits_1(data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "report.geojson"
    steps(monkeypatch, lambda: add_over_cap_trip(data))
    result = watch(data, out, "--max-runs", "2")
    assert result.exit_code == 1
    text = said(result)
    assert "TM201:trip:over2" in text and "new-violation: 1" in text and "new violations: 1 (exit code 1)" in text
    assert watch(data, tmp_path / "again.geojson", "--max-runs", "1", "--fail-on", "never").exit_code == 0


def test_first_run_prints_the_audit_and_exits_as_the_audit(data: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    steps(monkeypatch)
    result = watch(data, tmp_path / "report.geojson", "--max-runs", "1")
    assert result.exit_code == 1  # everything is new against nothing: the sample's violations alert
    assert "transportmon audit summary" in said(result) and "subjects with violations: 2" in said(result)


def test_no_change_no_audit_and_ctrl_c_keeps_the_report(data: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "report.geojson"
    same = (data / "checkpoints.csv").read_bytes()
    asked = steps(monkeypatch, lambda: (data / "checkpoints.csv").write_bytes(same),  # rewritten, same content
                  lambda: (data / "notes.txt").unlink(missing_ok=True), interrupt)
    result = watch(data, out)
    assert result.exit_code == 0
    text = said(result)
    assert "run 1" in text and "run 2" not in text  # same bytes: no audit
    assert "watch stopped; the last report is" in text
    assert len(asked) == 3
    report, _ = read_report(out)
    assert report["subject_id"].tolist() == transportmon.audit(data, as_of=AS_OF).report["subject_id"].tolist()
    assert not list(tmp_path.glob(".*.tmp"))  # nothing half-written left


def test_ctrl_c_during_an_audit_keeps_the_last_report(data: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "report.geojson"
    steps(monkeypatch, lambda: close_remove(data))
    assert watch(data, out, "--max-runs", "1").exit_code == 1
    before = out.read_bytes()

    def audit_interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("transportmon.pipeline.audit", audit_interrupted)
    result = watch(data, out, "--max-runs", "3")
    assert result.exit_code == 0 and "watch stopped" in said(result)
    assert out.read_bytes() == before


def test_unreadable_input_is_said_and_watched_on(data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "report.geojson"
    good = (data / "checkpoints.csv").read_bytes()
    reports: list[bytes] = []
    steps(monkeypatch,
          lambda: (reports.append(out.read_bytes()), (data / "checkpoints.csv").write_bytes(b"\x00\x01\x02\xff")),
          lambda: (reports.append(out.read_bytes()), (data / "checkpoints.csv").write_bytes(good), close_remove(data)))
    result = watch(data, out, "--max-runs", "3")
    text = said(result)
    assert "run 2" in text and "error:" in text and "checkpoints.csv" in text and "watching on" in text
    assert "run 3" in text and "remove → inactive" in text
    assert reports[0] == reports[1]  # the failed audit left the last good report as it was
    assert result.exit_code == 0  # the last run compared with run 1: a violation resolved, none new
    assert "run 1 " in text.split("run 3")[1]  # run 3 is compared with run 1, the last good one


def test_last_run_failing_exits_2(data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    steps(monkeypatch, lambda: (data / "checkpoints.csv").write_text("checkpoint_id\n", encoding="utf-8"))
    result = watch(data, tmp_path / "report.geojson", "--max-runs", "2")
    assert result.exit_code == 2 and "error:" in said(result)


def test_report_inside_the_data_folder_does_not_trigger_itself(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = data / "report.geojson"
    asked = steps(monkeypatch, lambda: None, lambda: None, interrupt)
    result = watch(data, out)
    assert result.exit_code == 0 and "run 2" not in said(result) and len(asked) == 3
    assert out.is_file()


def test_an_earlier_report_is_the_first_comparison(data: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "report.csv"
    steps(monkeypatch)
    assert watch(data, out, "--max-runs", "1").exit_code == 1
    close_remove(data)
    result = watch(data, out, "--max-runs", "1")  # a new watch: compared with the report left by the last one
    assert result.exit_code == 0
    assert "written before this watch" in said(result) and "remove → inactive" in said(result)
    not_report = tmp_path / "other.geojson"
    not_report.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"a": 1}, '
                          '"geometry": null}]}', encoding="utf-8")
    result = watch(data, not_report, "--max-runs", "1")
    assert "is not a report that can be compared" in said(result) and result.exit_code == 1


def test_bad_arguments_exit_2(data: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["watch", "--out", str(tmp_path / "r.geojson"), "--max-runs", "1"])
    assert result.exit_code == 2 and "give --data DIR or layer files" in said(result)
    assert watch(data, tmp_path / "r.xlsx", "--max-runs", "1").exit_code == 2
    cps = data / "checkpoints.csv"
    result = CliRunner().invoke(app, ["watch", "--checkpoints", str(cps), "--out", str(cps), "--max-runs", "1"])
    assert result.exit_code == 2 and "is one of the inputs" in said(result)
    assert watch(data, tmp_path / "r.geojson", "--every", "-1").exit_code == 2


def test_watched_files_and_fingerprint(data: Path, tmp_path: Path) -> None:
    (data / ".report.geojson.x.tmp").write_text("half", encoding="utf-8")
    (data / "~$trips.xlsx").write_text("lock", encoding="utf-8")
    (data / "sub").mkdir()
    (data / "sub" / "more.csv").write_text("a\n", encoding="utf-8")
    rules = tmp_path / "rules.toml"
    rules.write_text("cap = 0.5\n", encoding="utf-8")
    files = watched_files([data, rules, tmp_path / "gone.csv"], skip=[data / "report.geojson"])
    names = [f.name for f in files]
    assert ".report.geojson.x.tmp" not in names and "~$trips.xlsx" not in names
    assert {"checkpoints.csv", "more.csv", "rules.toml", "gone.csv"} <= set(names)
    prints = fingerprint(files)
    assert str(tmp_path / "gone.csv") not in prints  # missing: absent, its coming is a change
    assert prints[str(rules)] == hashlib.sha256(b"cap = 0.5\n").hexdigest()
    rules.write_text("cap = 0.6\n", encoding="utf-8")
    assert fingerprint(files)[str(rules)] != prints[str(rules)]


def test_runs_api(data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    steps(monkeypatch, lambda: close_remove(data))
    got = list(runs([data], tmp_path / "r.parquet", every=0, max_runs=2, data=data, as_of=AS_OF))
    assert [r.number for r in got] == [1, 2] and got[0].previous is None and got[1].previous == "run 1"
    assert got[1].changed == [str(data / "checkpoints.csv")]
    assert got[1].diff is not None and got[1].diff.counts["changed"] == 1 and got[1].exit_code == 0
    with pytest.raises(ValueError, match="every"):
        next(runs([data], tmp_path / "r.parquet", every=-1))
