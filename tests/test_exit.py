"""The command line's end (``cli.main`` → ``cli.leave``): the process ends without freeing its memory object by
object, so what it wrote must be complete and its exit status the command's, in a real process (pipes buffer)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from transportmon import cli

ROOT = Path(__file__).resolve().parents[1]
AS_OF = "2020-03-16"


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "transportmon.cli", *args], cwd=cwd, capture_output=True, text=True,
                          encoding="utf-8", env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)


def test_report_on_stdout_is_complete_and_the_status_is_the_commands(tmp_path: Path) -> None:
    proc = _run("audit", "--as-of", AS_OF, "--out", "-", "--quiet", cwd=tmp_path)
    doc = json.loads(proc.stdout)  # a pipe is block-buffered: every byte must have been flushed
    assert doc["type"] == "FeatureCollection"
    assert len(doc["features"]) == sum(n for v in doc["metadata"]["counts"].values() for n in v.values())
    assert doc["metadata"]["findings"].get("violation", 0) > 0
    assert proc.returncode == 1  # violations, --fail-on violation by default


def test_never_fails_with_zero_and_keeps_the_json_summary(tmp_path: Path) -> None:
    proc = _run("audit", "--as-of", AS_OF, "--out", str(tmp_path / "r.geojson"), "--format", "json",
                "--fail-on", "never", cwd=tmp_path)
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["as_of"] == AS_OF
    assert (tmp_path / "r.geojson").is_file()


def test_unusable_input_is_two_with_its_message(tmp_path: Path) -> None:
    proc = _run("audit", "--data", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert proc.returncode == 2
    assert "nowhere" in proc.stderr


@pytest.mark.parametrize("code", [None, 0, 1, 2])
def test_leave_ends_with_the_code(code: int | None) -> None:
    script = f"import transportmon.cli as c; print('written', end=''); c.leave({code!r})"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert proc.returncode == (code or 0)
    assert proc.stdout == "written"  # flushed before the process ended


def test_leave_ends_as_usual_where_dask_is_loaded_or_the_code_is_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", sys.modules[__name__])
    with pytest.raises(SystemExit) as ended:
        cli.leave(1)
    assert ended.value.code == 1
    monkeypatch.delitem(sys.modules, "distributed")
    with pytest.raises(SystemExit) as ended:
        cli.leave("a message")
    assert ended.value.code == "a message"
