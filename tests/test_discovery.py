"""Which file is which layer (issue 12): bureau names, files not used, two files for a layer, ``.xls``; rows of a
layer whose partner is missing; assumptions said aloud; the small layers read before an OSM file."""

from __future__ import annotations

import json
import re
import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import world
from osm_fixtures import border_town_osm
from typer.testing import CliRunner, Result

import transportmon
from transportmon import inputs as inputs_module
from transportmon._errors import InputError
from transportmon.cli import app
from transportmon.inputs import load_inputs
from transportmon.io import osm
from transportmon.io import read as R
from transportmon.io.discover import FILE_NAMES, LAYER_NAMES, discover, layer_gaps, name_key, sample_dir
from transportmon.validate import validate_inputs

AS_OF = "2020-03-16"
CPS = [{"checkpoint_id": "keep", "x": 30, "y": 98}, {"checkpoint_id": "remove", "x": 30, "y": 60},
       {"checkpoint_id": "nowhere", "x": 10, "y": 10}]


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def flat(result: Result) -> str:
    return re.sub(r"\s+", " ", result.stdout + result.stderr)


def touch(folder: Path, *names: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        (folder / n).write_text("x", encoding="utf-8")
    return folder


def full_folder(folder: Path) -> Path:
    """The tiny world with every layer: boundaries, roads, checkpoints, stops, trips, stop_times, risk_areas, and
    waivers (one waiving the over-cap trip, one naming a trip that does not exist: rejected)."""
    world.write_world(folder, CPS)
    world.write_coach_layers(folder)
    pd.DataFrame({"subject": ["trip", "trip"], "subject_id": ["over", "nope"], "rule_id": ["TM201", "TM201"],
                  "document": ["示例〔2020〕1号", "示例〔2020〕2号"], "valid_from": ["2020-03-01"] * 2,
                  "valid_until": ["2020-03-01"] * 2}).to_csv(folder / "waivers.csv", index=False)
    return folder


# ------------------------------------------------------------------------------------------------------------
# 1. file names


@pytest.mark.parametrize(("name", "layer"), [
    ("Checkpoints.XLSX", "checkpoints"), ("checkpoint.csv", "checkpoints"), ("CHECK-POINTS.csv", "checkpoints"),
    ("stop-times.csv", "stop_times"), ("Stop Times.csv", "stop_times"), ("StopTimes.CSV", "stop_times"),
    ("stop_time.parquet", "stop_times"), ("risk-areas.csv", "risk_areas"), ("Boundary.GeoJSON", "boundaries"),
    ("ｒｏａｄｓ.geojson", "roads"), ("Roads.osm.gz", "roads"), ("roads.osm.xml", "roads"),
    ("检测点.xlsx", "checkpoints"), ("卡点.csv", "checkpoints"), ("检查站.csv", "checkpoints"),
    ("班次.csv", "trips"), ("道路.geojson", "roads"), ("路网.gpkg", "roads"), ("行政区划.geojson", "boundaries"),
    ("行政边界.shp", "boundaries"), ("风险地区.csv", "risk_areas"), ("风险等级.xlsx", "risk_areas"),
    ("风险区域.csv", "risk_areas"), ("站点.csv", "stops"), ("车站.csv", "stops"), ("停靠站.csv", "stop_times"),
    ("站点时刻.csv", "stop_times"), ("经停.csv", "stop_times"),
    ("waivers.csv", "waivers"), ("Waiver.XLSX", "waivers"), ("豁免.xlsx", "waivers"), ("例外.csv", "waivers"),
    ("批准.csv", "waivers"),
])
def test_a_bureau_s_file_name_is_its_layer(tmp_path: Path, name: str, layer: str) -> None:
    found = discover(touch(tmp_path, name))
    assert found.layers == {layer: tmp_path / name}
    assert found.unused == [] and found.warnings() == []


def test_no_file_name_belongs_to_two_layers() -> None:
    keys = [name_key(n) for names in FILE_NAMES.values() for n in names]
    assert len(keys) == len(set(keys))
    assert set(FILE_NAMES) == set(LAYER_NAMES)


def test_what_is_passed_over_and_what_is_listed(tmp_path: Path) -> None:
    folder = touch(tmp_path / "d", "checkpoints.csv", "manifest.toml", "README.md", "readme.txt", ".DS_Store",
                   "~$检测点.xlsx", "roads.shp", "roads.dbf", "roads.shx", "roads.prj", "roads.cpg", "roads.shp.xml",
                   "report.geojson", "report-2020.xlsx", "map.html", "expected.csv", "notes.docx", "old.dbf",
                   "roads.kml.bak", "stops.txt", "汇总.xls")
    (folder / "sub").mkdir()
    found = discover(folder, ignore=["expected.csv"])
    assert found.layers == {"roads": folder / "roads.shp", "checkpoints": folder / "checkpoints.csv"}
    assert sorted(p.name for p, _ in found.unused) == ["notes.docx", "old.dbf", "roads.kml.bak", "stops.txt", "sub",
                                                       "汇总.xls"]
    lines = found.warnings()
    assert any("notes.docx" in w and "old.dbf" in w and "sub/" in w and "检测点" in w for w in lines)
    assert any(w.startswith("not used: stops.txt: named like the stops layer") for w in lines)
    assert any(w.startswith("not used: 汇总.xls: an old Excel workbook: save it as .xlsx or CSV") for w in lines)
    assert not any("expected.csv" in w or "README" in w or "report" in w for w in lines)


def test_a_gtfs_feed_in_the_folder_points_at_gtfs(tmp_path: Path) -> None:
    found = discover(touch(tmp_path, "stops.txt", "trips.txt", "stop_times.txt", "calendar.txt", "roads.geojson"))
    assert [w for w in found.warnings() if "--gtfs" in w] == [
        f"not used: {n}: a GTFS feed's file: give the feed with --gtfs DIR --occupancy FILE"
        for n in ("stop_times.txt", "stops.txt", "trips.txt")]


@pytest.mark.parametrize(("names", "taken"), [
    (("roads.gpkg", "roads.geojson"), "roads.geojson"),
    (("roads.geojson", "道路.geojson", "Roads.geojson"), "roads.geojson"),
    (("道路.gpkg", "roads.csv"), "道路.gpkg"),
    (("checkpoints.xls", "检测点.xlsx"), "检测点.xlsx"),
])
def test_two_files_for_one_layer_take_the_documented_one_and_say_so(tmp_path: Path, names: tuple[str, ...],
                                                                    taken: str) -> None:
    found = discover(touch(tmp_path, *names))
    (layer,) = found.layers
    assert found.layers[layer].name == taken
    (line,) = found.warnings()
    assert line.startswith(f"{len(names)} files for the {layer} layer: took {taken}, not ")
    assert all(n in line for n in names)


def test_a_bureau_folder_is_audited_as_the_english_one(tmp_path: Path) -> None:
    english = world.write_world(tmp_path / "en", CPS)
    bureau = tmp_path / "zh"
    bureau.mkdir()
    shutil.copy(english / "roads.geojson", bureau / "道路.geojson")
    shutil.copy(english / "boundaries.geojson", bureau / "行政区划.GeoJSON")
    pd.read_csv(english / "checkpoints.csv", dtype=str).to_excel(bureau / "检测点.xlsx", index=False)
    a = transportmon.audit(english, as_of=AS_OF).report
    b = transportmon.audit(bureau, as_of=AS_OF).report
    assert len(b) == len(CPS)
    pd.testing.assert_series_equal(a.set_index("subject_id")["verdict"], b.set_index("subject_id")["verdict"])
    result = invoke("audit", "--data", str(bureau), "--as-of", AS_OF, "--out", str(tmp_path / "r.geojson"), "--lang",
                    "en")
    assert "layers: roads ← 道路.geojson, checkpoints ← 检测点.xlsx, boundaries ← 行政区划.GeoJSON" in flat(result)


@pytest.mark.parametrize("command", ["validate", "audit"])
def test_a_folder_of_unrecognised_files_is_exit_2(tmp_path: Path, command: str) -> None:
    folder = touch(tmp_path / "d", "检测点统计.xlsx", "shifts.csv")
    (folder / "manifest.toml").write_text(f'as_of = "{AS_OF}"\n', encoding="utf-8")
    more = ["--out", str(tmp_path / "r.geojson")] if command == "audit" else []
    result = invoke(command, "--data", str(folder), *more)
    assert result.exit_code == 2, result.output
    out = flat(result)
    assert "no file is named after a layer (shifts.csv, 检测点统计.xlsx)" in out
    assert "checkpoints/检测点" in out and "trips/班次" in out and "docs/chinese-files.md" in out
    assert not (tmp_path / "r.geojson").exists()


def test_an_empty_folder_is_exit_2(tmp_path: Path) -> None:
    folder = touch(tmp_path / "d", "README.md")
    result = invoke("audit", "--data", str(folder), "--out", str(tmp_path / "r.geojson"))
    assert result.exit_code == 2
    assert "holds no layer file" in flat(result)


def test_a_layer_named_xls_is_exit_2_with_the_fix(tmp_path: Path) -> None:
    folder = world.write_world(tmp_path / "d", CPS)
    (folder / "checkpoints.csv").rename(folder / "Checkpoints.XLS")
    for more in (["audit", "--as-of", AS_OF, "--out", str(tmp_path / "r.geojson")], ["validate"]):
        result = invoke(*more, "--data", str(folder), "--lang", "en")
        assert result.exit_code == 2
        assert "Checkpoints.XLS: is an old binary Excel workbook (.xls) — save it as .xlsx" in flat(result)


def test_files_not_used_are_warnings_in_the_report_and_on_the_terminal(tmp_path: Path) -> None:
    folder = world.write_world(tmp_path / "d", CPS)
    touch(folder, "roads.gpkg", "说明.docx")
    out = tmp_path / "r.geojson"
    result = invoke("audit", "--data", str(folder), "--as-of", AS_OF, "--out", str(out), "--lang", "en")
    assert result.exit_code in (0, 1)
    warnings = json.loads(out.read_text(encoding="utf-8"))["metadata"]["warnings"]
    assert warnings[0].startswith("2 files for the roads layer: took roads.geojson, not roads.gpkg")
    assert warnings[1].startswith("not used, not named after a layer: 说明.docx")
    text = flat(result)
    assert all("warning: " + w in text for w in warnings)
    valid = invoke("validate", "--data", str(folder), "--lang", "en")
    assert valid.exit_code == 0
    assert "warning: 2 files for the roads layer" in flat(valid) and "说明.docx" in flat(valid)
    as_json = json.loads(invoke("validate", "--data", str(folder), "--format", "json").stdout)
    assert as_json["warnings"] == warnings


def test_a_layer_flag_over_a_folder_file_says_which_was_not_used(tmp_path: Path) -> None:
    folder = world.write_world(tmp_path / "d", CPS)
    other = tmp_path / "mine.csv"
    shutil.copy(folder / "checkpoints.csv", other)
    md = transportmon.audit(folder, checkpoints=other, as_of=AS_OF).metadata
    assert md["warnings"] == [f"checkpoints.csv of the --data folder not used: --checkpoints {other} given"]


@pytest.mark.parametrize(("present", "expected"), [
    ({"checkpoints", "boundaries"}, ["checkpoints given but no roads layer: TM101, TM102, TM104 cannot run"]),
    ({"roads", "boundaries"}, ["roads given but no checkpoints layer"]),
    ({"trips"}, ["trips given but no stop_times and no stops layer", "(trip-without-stops)"]),
    ({"trips", "stop_times"}, ["trips given but no stops layer", "(unknown-stop)"]),
    ({"trips", "stops"}, ["trips given but no stop_times layer", "(trip-without-stops)"]),
    ({"trips", "stops", "stop_times"}, ["no risk_areas layer: TM201 and TM202 cannot run"]),
    ({"stop_times", "stops"}, ["stop_times given but no trips layer", "(unknown-trip)"]),
    ({"stops", "risk_areas"}, ["stops and risk_areas given but no trips layer"]),
    ({"trips", "stops", "stop_times", "risk_areas", "roads", "checkpoints"}, []),
])
def test_a_layer_whose_rules_cannot_run_is_a_warning(present: set[str], expected: list[str]) -> None:
    lines = layer_gaps(present)
    assert len(lines) == (1 if expected else 0)
    assert all(e in lines[0] for e in expected)


def test_gaps_reach_the_terminal(tmp_path: Path) -> None:
    folder = world.write_world(tmp_path / "d", CPS)
    (folder / "roads.geojson").unlink()
    result = invoke("audit", "--data", str(folder), "--as-of", AS_OF, "--out", str(tmp_path / "r.geojson"), "--lang",
                    "en")
    assert "warning: checkpoints given but no roads layer" in flat(result)
    md = json.loads((tmp_path / "r.geojson").read_text(encoding="utf-8"))["metadata"]
    assert md["rules_skipped"]["TM101"] == "no usable roads"
    assert any(w.startswith("checkpoints given but no roads layer") for w in md["warnings"])


# ------------------------------------------------------------------------------------------------------------
# 2. every row ends in the report


PARTIAL = {
    "checkpoints only": {"checkpoints", "boundaries"},
    "roads only": {"roads", "boundaries"},
    "trips only": {"trips", "boundaries"},
    "trips and stops": {"trips", "stops", "boundaries"},
    "stop_times only": {"stop_times", "boundaries"},
    "stop_times and stops": {"stop_times", "stops", "boundaries"},
    "no stops": {"trips", "stop_times", "boundaries", "risk_areas"},
    "no risk areas": {"trips", "stop_times", "stops", "boundaries", "checkpoints", "roads"},
    "everything": set(LAYER_NAMES),
}
FILES = {"roads": "roads.geojson", "checkpoints": "checkpoints.csv", "boundaries": "boundaries.geojson",
         "risk_areas": "risk_areas.csv", "stops": "stops.csv", "trips": "trips.csv", "stop_times": "stop_times.csv",
         "waivers": "waivers.csv"}


@pytest.fixture(scope="module")
def everything(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return full_folder(tmp_path_factory.mktemp("full") / "d")


def partial(everything: Path, folder: Path, layers: set[str]) -> Path:
    folder.mkdir()
    for name in layers:
        shutil.copy(everything / FILES[name], folder / FILES[name])
    return folder


def assert_every_row_is_in_the_report(result: transportmon.pipeline.AuditResult) -> None:
    rep, rows = result.report, result.metadata["rows"]
    for name, n in rows.items():
        assert n["input"] == n["audited"] + n["rejected"], name
        subject = {"checkpoints": "checkpoint", "trips": "trip"}.get(name, name)
        of_layer = rep[rep["subject"] == subject]
        assert (of_layer["verdict"] == "rejected").sum() == n["rejected"], name
        if name in ("checkpoints", "trips"):  # subjects: each audited row is a feature with a verdict
            assert (of_layer["verdict"] != "rejected").sum() == n["audited"], name
    if "stop_times" in result.layers:  # a usable stop row is part of a trip of the report (audited or rejected)
        trips = set(rep.loc[rep["subject"] == "trip", "subject_id"])
        assert set(result.layers["stop_times"].frame["trip_id"].astype(str)) <= trips


@pytest.mark.parametrize("case", list(PARTIAL))
def test_counts_add_up_on_partial_folders(everything: Path, tmp_path: Path, case: str) -> None:
    folder = partial(everything, tmp_path / "d", PARTIAL[case])
    result = transportmon.audit(folder, as_of=AS_OF)
    assert set(result.metadata["rows"]) == PARTIAL[case] | {"boundaries"}
    assert_every_row_is_in_the_report(result)


def test_counts_add_up_on_the_sample() -> None:
    assert_every_row_is_in_the_report(transportmon.audit())


def rejected(result: transportmon.pipeline.AuditResult, subject: str) -> pd.DataFrame:
    rep = result.report
    return rep[(rep["subject"] == subject) & (rep["verdict"] == "rejected")]


def test_trips_without_stop_times_are_rejected_naming_the_missing_layer(everything: Path, tmp_path: Path) -> None:
    result = transportmon.audit(partial(everything, tmp_path / "d", PARTIAL["trips and stops"]), as_of=AS_OF)
    trips = rejected(result, "trip")
    assert sorted(trips["subject_id"]) == ["intra", "ok", "over"]
    assert set(trips["reason"]) == {"trip-without-stops"} and set(trips["detail"]) == {"no stop_times layer"}


def test_stop_times_without_trips_are_unknown_trip(everything: Path, tmp_path: Path) -> None:
    result = transportmon.audit(partial(everything, tmp_path / "d", PARTIAL["stop_times and stops"]), as_of=AS_OF)
    rows = rejected(result, "stop_times")
    assert len(rows) == 6 and set(rows["reason"]) == {"unknown-trip"}
    assert "trip_id=over; no trips layer" in set(rows["detail"])


def test_trips_and_stop_times_without_stops_are_unknown_stop(everything: Path, tmp_path: Path) -> None:
    result = transportmon.audit(partial(everything, tmp_path / "d", PARTIAL["no stops"]), as_of=AS_OF)
    assert set(rejected(result, "trip")["reason"]) == {"unknown-stop"}
    rows = rejected(result, "stop_times")
    assert len(rows) == 6 and set(rows["reason"]) == {"unknown-stop"}
    assert "stop_id=HB1; no stops layer" in set(rows["detail"])


def test_validate_counts_the_orphans_as_rejected(everything: Path, tmp_path: Path) -> None:
    found = validate_inputs(partial(everything, tmp_path / "d", PARTIAL["trips only"]))
    assert found.exit_code == 1
    (trips,) = [c for c in found.layers if c.layer == "trips"]
    assert (trips.rows, trips.usable, trips.reasons) == (3, 0, {"trip-without-stops": 3})
    assert any(w.startswith("trips given but no stop_times and no stops layer") for w in found.warnings)


# ------------------------------------------------------------------------------------------------------------
# 4. assumptions said aloud


@pytest.mark.parametrize(("drop", "said"), [
    (["pickup", "dropoff"], "has no pickup and no dropoff column: passengers are taken to board and alight"),
    (["dropoff"], "has no dropoff column: passengers are taken to alight at every stop"),
    ([], None),
])
def test_stop_times_without_pickup_dropoff_is_a_warning(everything: Path, tmp_path: Path, drop: list[str],
                                                        said: str | None) -> None:
    folder = partial(everything, tmp_path / "d", PARTIAL["everything"])
    st = pd.read_csv(folder / "stop_times.csv", dtype=str)
    st.drop(columns=drop).to_csv(folder / "stop_times.csv", index=False)
    out = tmp_path / "r.geojson"
    result = invoke("audit", "--data", str(folder), "--as-of", AS_OF, "--out", str(out), "--lang", "en")
    warnings = json.loads(out.read_text(encoding="utf-8"))["metadata"]["warnings"]
    mine = [w for w in warnings if w.startswith("stop_times.csv has no")]
    if said is None:
        assert mine == []
        return
    (line,) = mine
    assert said in line and "pass-through-only" in line
    assert f"warning: {line}" in flat(result)
    assert line in validate_inputs(folder).warnings


class _Day(date):
    @classmethod
    def today(cls) -> _Day:
        return cls(2026, 5, 17)


def test_as_of_today_is_a_warning_naming_the_date(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    folder = world.write_world(tmp_path / "d", CPS)
    monkeypatch.setattr(inputs_module, "date", _Day)
    md = transportmon.audit(folder).metadata
    assert md["as_of"] == "2026-05-17"
    assert md["warnings"] == ["no --as-of and no as_of in manifest.toml: audited as of today, 2026-05-17, against "
                              "九府发〔2020〕3号 (六); give --as-of YYYY-MM-DD, the date the data describe"]
    assert transportmon.audit(folder, as_of=AS_OF).metadata["warnings"] == []
    (folder / "manifest.toml").write_text(f'as_of = "{AS_OF}"\n', encoding="utf-8")
    assert transportmon.audit(folder).metadata["warnings"] == []


def test_the_sample_warns_only_of_its_renamed_adcodes() -> None:
    # Its files are all used; the one assumption said is reading two 2020 county codes under today's codes.
    warnings = transportmon.audit().metadata["warnings"]
    assert len(warnings) == 1 and warnings[0].startswith("risk_areas: adcodes renamed since 2020")
    assert discover(sample_dir(), ignore=["expected.csv"]).warnings() == []


# ------------------------------------------------------------------------------------------------------------
# 12. small layers first


@pytest.fixture()
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files read, in order (tables and OSM files)."""
    seen: list[str] = []
    read_table, roads_from_osm_file = R.read_table, osm.roads_from_osm_file

    def table(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(Path(path).name)
        return read_table(path, *args, **kwargs)

    def from_osm(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(Path(path).name)
        return roads_from_osm_file(path, *args, **kwargs)

    monkeypatch.setattr(R, "read_table", table)
    monkeypatch.setattr(osm, "roads_from_osm_file", from_osm)
    return seen


def test_a_broken_checkpoints_file_fails_before_the_osm_file_is_parsed(tmp_path: Path, calls: list[str]) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    border_town_osm(folder / "roads.osm")
    (folder / "checkpoints.csv").write_bytes(b"")
    with pytest.raises(InputError, match=r"checkpoints\.csv: the file is empty"):
        load_inputs(folder, as_of=AS_OF)
    assert calls == ["checkpoints.csv"]
    calls.clear()
    found = validate_inputs(folder)  # every file is still tried, the small one first
    assert [p.path.endswith("checkpoints.csv") for p in found.problems] == [True]
    assert calls[-1] == "roads.osm" and calls.index("checkpoints.csv") < calls.index("roads.osm")


def test_read_order_small_tables_first_osm_last(everything: Path, tmp_path: Path, calls: list[str]) -> None:
    folder = partial(everything, tmp_path / "d", set(LAYER_NAMES) - {"roads"})
    border_town_osm(folder / "roads.osm")
    inputs = load_inputs(folder, as_of=AS_OF)
    assert calls == ["checkpoints.csv", "waivers.csv", "stops.csv", "risk_areas.csv", "boundaries.geojson",
                     "trips.csv", "stop_times.csv", "roads.osm"]
    assert list(inputs.meta) == list(LAYER_NAMES)  # the report lists them in the contract's order all the same
    calls.clear()
    load_inputs(everything, as_of=AS_OF)
    assert calls == ["checkpoints.csv", "waivers.csv", "stops.csv", "risk_areas.csv", "boundaries.geojson",
                     "roads.geojson", "trips.csv", "stop_times.csv"]
