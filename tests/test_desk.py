"""Issue 16, the bureau's desk: row numbers a user can find, 发布日期 with 生效日期, declared CRS / datum / columns,
a summary that shows all the work, progress, errors in the user's language, argument errors before work, the help,
and the Python API a notebook user expects."""

from __future__ import annotations

import inspect
import io
import json
import re
import shutil
from pathlib import Path

import folium
import geopandas as gpd
import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pytest
import world
from pyproj import Transformer
from rich.console import Console
from typer.testing import CliRunner, Result

import transportmon
from transportmon import cli
from transportmon._errors import ConfigError, InputError
from transportmon.cli import app
from transportmon.io.declared import datum_name
from transportmon.io.read import read_table
from transportmon.progress import STAGES, Stage
from transportmon.summary import to_act_on

AS_OF = "2020-03-16"
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "jiujiang-2020"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})  # wide: no word folded across lines


def flat(result: Result) -> str:
    """stdout + stderr with rich's line wrapping undone."""
    return re.sub(r"\s+", " ", result.stdout + result.stderr)


def lonlat(x: float, y: float) -> tuple[float, float]:
    point = world.checkpoints([{"x": x, "y": y}]).geometry.iloc[0]
    return round(point.x, 7), round(point.y, 7)


def rejected(result: transportmon.AuditResult, subject: str = "checkpoint") -> pd.DataFrame:
    rep = result.report
    return rep[(rep["verdict"] == "rejected") & (rep["subject"] == subject)].set_index("source_row")


@pytest.fixture(scope="module")
def sample() -> transportmon.AuditResult:
    return transportmon.audit()


# ------------------------------------------------------------------------------------------------------------
# Input you can find your way back to: rows as the user's program shows them


def test_xlsx_rows_are_the_sheet_rows(tmp_path: Path) -> None:
    d = world.write_world(tmp_path / "d", [{"checkpoint_id": "x", "x": 30, "y": 98}])
    (d / "checkpoints.csv").unlink()
    lon, lat = lonlat(30, 98)
    book = openpyxl.Workbook()
    ws = book.active
    ws["A1"] = "九江市防疫检测点统计表"  # row 1: a title; row 2: blank; row 3: the header
    ws.append([])
    ws.append(["检测点编号", "经度", "纬度", "是否劝返"])
    ws.append(["CP1", lon, lat, "否"])  # row 4
    ws.append([])  # row 5: blank
    ws.append(["CP1", lon, lat, "否"])  # row 6: duplicate of row 4
    ws.append([None, lon, lat, "否"])  # row 7: no id
    ws.append(["CP3", lon, lat, "也许"])  # row 8: not a boolean
    book.save(d / "checkpoints.xlsx")

    result = transportmon.audit(d, as_of=AS_OF)
    rej = rejected(result)
    assert sorted(rej.index) == [6, 7, 8]
    assert (rej.loc[6, "reason"], rej.loc[6, "detail"]) == ("duplicate-id", "same id as row 4")
    assert (rej.loc[7, "subject_id"], rej.loc[7, "reason"]) == ("row 7", "missing-id")
    assert "checkpoints第8行" in rej.loc[8, "findings"][0]["message_zh"]
    assert "checkpoints row 8 " in rej.loc[8, "findings"][0]["message_en"]
    info = result.metadata["inputs"]["checkpoints"]
    assert (info["header_row"], info["blank_rows"]) == (3, 1)

    doc = json.loads(invoke("validate", "--data", str(d), "--format", "json").stdout)
    assert [r["row"] for r in doc["rejected"]] == [6, 7, 8]


def test_csv_rows_are_the_file_lines(tmp_path: Path) -> None:
    d = world.write_world(tmp_path / "d", [{"checkpoint_id": "x", "x": 30, "y": 98}])
    lon, lat = lonlat(30, 98)
    (d / "checkpoints.csv").write_text(
        "检测点统计,,,\n"  # line 1: a title
        "checkpoint_id,lon,lat,name\n"  # line 2: the header
        f'CP1,{lon},{lat},"two\nlines"\n'  # lines 3-4: one row, a quoted cell over two lines
        "\n"  # line 5: blank
        f"CP1,{lon},{lat},again\n"  # line 6: duplicate of line 3
        f",{lon},{lat},nameless\n",  # line 7: no id
        encoding="utf-8")
    result = transportmon.audit(d, as_of=AS_OF)
    rej = rejected(result)
    assert sorted(rej.index) == [6, 7]
    assert rej.loc[6, "detail"] == "same id as row 3"
    assert rej.loc[7, "subject_id"] == "row 7"
    info = result.metadata["inputs"]["checkpoints"]
    assert (info["header_row"], info["blank_rows"]) == (2, 1)
    doc = json.loads(invoke("validate", "--data", str(d), "--format", "json").stdout)
    assert [(r["row"], r["reason"]) for r in doc["rejected"]] == [(6, "duplicate-id"), (7, "missing-id")]


def test_vector_rows_are_feature_positions(tmp_path: Path) -> None:
    d = world.write_world(tmp_path / "d", [{"checkpoint_id": "x", "x": 30, "y": 98}])
    (d / "checkpoints.csv").unlink()
    world.checkpoints([{"checkpoint_id": "A", "x": 30, "y": 98}, {"checkpoint_id": "B", "x": 30, "y": 90},
                       {"checkpoint_id": "A", "x": 30, "y": 80}]).to_file(d / "checkpoints.geojson", driver="GeoJSON")
    rej = rejected(transportmon.audit(d, as_of=AS_OF))
    assert list(rej.index) == [3] and rej.loc[3, "detail"] == "same id as row 1"


# ------------------------------------------------------------------------------------------------------------
# 发布日期 (publication) with 生效日期 (effective)


def _bulletin_world(tmp_path: Path, effective: str) -> Path:
    d = world.write_world(tmp_path / "d", [{"checkpoint_id": "keep", "x": 30, "y": 98}])
    world.write_coach_layers(d)
    (d / "risk_areas.csv").write_text(
        "行政区划代码,风险等级,发布日期,生效日期\n"
        f"420000,高,2020-02-29,{effective}\n"
        "430000,中,2020-02-29,\n",  # no 生效日期: rejected, the publication date does not stand in
        encoding="utf-8")
    return d


@pytest.mark.parametrize(("effective", "verdict"), [("2020-03-01", "over-cap"), ("2020-03-02", "not-applicable")])
def test_published_and_effective_dates_together(tmp_path: Path, effective: str, verdict: str) -> None:
    # The coach "over" runs on 2020-03-01 through Hubei with 23 of 45 seats: over the cap when the designation is
    # in effect that day (生效日期 2020-03-01), not when it takes effect the day after (published 02-29 either way).
    d = _bulletin_world(tmp_path, effective)
    result = transportmon.audit(d, as_of=AS_OF)
    trips = result.report[result.report["subject"] == "trip"].set_index("subject_id")
    assert trips.loc["over", "verdict"] == verdict
    risk = result.layers["risk_areas"]
    assert risk.frame["published"].tolist() == ["2020-02-29"]
    assert risk.intervals["valid_from"].tolist() == [pd.Timestamp(effective)]
    rej = rejected(result, "risk_areas")
    assert list(rej.index) == [3] and rej.loc[3, "reason"] == "malformed-date"
    assert any("valid_from" in n for n in result.metadata["inputs"]["risk_areas"]["notes"])
    check = invoke("validate", "--data", str(d), "--lang", "en")
    assert check.exit_code == 1 and "published" in flat(check)  # a rejected row, not a file that cannot be read


# ------------------------------------------------------------------------------------------------------------
# Declared CRS, datum names, column names


def test_projected_xy_with_declared_crs_and_columns(tmp_path: Path) -> None:
    d = world.write_world(tmp_path / "d", [{"checkpoint_id": "x", "x": 30, "y": 98}])
    lon, lat = lonlat(30, 98)
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:4547", always_xy=True).transform(lon, lat)
    (d / "checkpoints.csv").write_text(f"卡口代码,X坐标,Y坐标\nkeep,{x:.3f},{y:.3f}\n", encoding="utf-8")
    (d / "manifest.toml").write_text('[crs]\ncheckpoints = "EPSG:4547"\n[columns.checkpoints]\n'
                                     '"卡口代码" = "checkpoint_id"\n"X坐标" = "lon"\n"Y坐标" = "lat"\n'
                                     '"备注" = "name"\n', encoding="utf-8")
    result = transportmon.audit(d, as_of=AS_OF)
    cp = result.report.set_index("subject_id").loc["keep"]
    assert cp["verdict"] == "keep"
    assert (cp.geometry.x, cp.geometry.y) == (pytest.approx(lon, abs=1e-7), pytest.approx(lat, abs=1e-7))
    info = result.metadata["inputs"]["checkpoints"]
    assert info["crs"] == "EPSG:4547" and info["notes"] == ["declared header '备注' (→ name) is not in the file"]
    # the same from the command line, without the manifest's [crs]
    (d / "manifest.toml").write_text('[columns.checkpoints]\n"卡口代码" = "checkpoint_id"\n"X坐标" = "lon"\n'
                                     '"Y坐标" = "lat"\n', encoding="utf-8")
    out = tmp_path / "r.geojson"
    ran = invoke("audit", "--data", str(d), "--as-of", AS_OF, "--out", str(out), "--checkpoints-crs", "4547")
    assert ran.exit_code == 0, ran.output
    assert gpd.read_file(out).set_index("subject_id").loc["keep", "verdict"] == "keep"
    bad = invoke("audit", "--data", str(d), "--as-of", AS_OF, "--out", str(out), "--checkpoints-crs", "EPSG:99999",
                 "--lang", "en")
    assert bad.exit_code == 2 and "crs of checkpoints: 'EPSG:99999'" in flat(bad)


def test_a_declared_target_the_file_has_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cp.csv"
    path.write_text("checkpoint_id,编号,lon,lat\nA,B,116,29\n", encoding="utf-8")
    with pytest.raises(InputError, match="already has"):
        read_table(path, columns={"编号": "checkpoint_id"})


@pytest.mark.parametrize(("given", "name"), [("GCJ-02", "gcj02"), ("gcj02", "gcj02"), ("GCJ02", "gcj02"),
                                             ("WGS84", "wgs84"), ("wgs-84", "wgs84"), ("BD-09", "bd09"),
                                             ("bd09ll", "bd09"), (" Ｗｇｓ_84 ", "wgs84")])
def test_datum_names_are_forgiving(given: str, name: str) -> None:
    assert datum_name(given) == name


def test_a_datum_spelled_otherwise_converts_the_same(tmp_path: Path) -> None:
    d = world.write_world(tmp_path / "d", [{"checkpoint_id": "keep", "x": 30, "y": 98}])
    one = transportmon.audit(d, as_of=AS_OF, datums={"checkpoints": "GCJ-02"})
    two = transportmon.audit(d, as_of=AS_OF, datums={"checkpoints": "gcj02"})
    assert one.report.geometry.iloc[0].equals(two.report.geometry.iloc[0])
    assert one.metadata["inputs"]["checkpoints"]["datum"] == "gcj02"
    with pytest.raises(ConfigError, match="'mars' is not a datum"):
        transportmon.audit(d, as_of=AS_OF, datums={"checkpoints": "mars"})


# ------------------------------------------------------------------------------------------------------------
# A summary that shows all the work


def test_summary_lists_violations_then_reviews_with_every_rule(sample: transportmon.AuditResult) -> None:
    act = to_act_on(sample.report)
    assert list(dict.fromkeys(act["group"])) == ["violation", "review"]
    by_id = act.set_index("subject_id")
    assert by_id.loc["CP04", "rule_ids"] == "TM101, TM110"  # the turn-back is not hidden behind the removal
    assert by_id.loc["CP04", "message_en"].startswith("Checkpoint on national road G105")  # the worst finding
    assert set(act.loc[act["group"] == "review", "verdict"]) == {"review"}
    assert len(act[act["group"] == "violation"]) == sample.metadata["findings"]["violation"]
    assert list(to_act_on(sample.report, "violation")["group"].unique()) == ["violation"]
    warned = to_act_on(sample.report, "warning")
    assert list(dict.fromkeys(warned["group"])) == ["violation", "review", "warning"]
    assert len(warned) == sample.metadata["findings"]["violation"] + sample.metadata["findings"]["warning"]


def test_terminal_summary_and_only_in_the_file(tmp_path: Path) -> None:
    out = tmp_path / "r.geojson"
    plain = invoke("audit", "--out", str(out), "--lang", "en")
    text = flat(plain)
    assert text.index("CP04") < text.index("CP13")  # the violations, then the reviews
    assert "TM101, TM110" in text and "TM103, TM110" in text
    assert "risk_areas" not in text.split("subjects to act on")[1].split("warning:")[0]  # warnings only with --only
    assert "only" not in json.loads(out.read_text(encoding="utf-8"))["metadata"]
    warned = invoke("audit", "--out", str(out), "--lang", "en", "--only", "warning")
    assert "more warning subjects in the report" in flat(warned)
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["metadata"]["only"] == "warning"
    assert sum(map(sum, (v.values() for v in doc["metadata"]["counts"].values()))) > len(doc["features"]) > 0
    invoke("audit", "--out", str(tmp_path / "r.parquet"), "--only", "violation")
    meta = json.loads(pq.read_schema(tmp_path / "r.parquet").metadata[b"transportmon"])
    assert meta["only"] == "violation"


# ------------------------------------------------------------------------------------------------------------
# Progress


def test_audit_tells_its_stages() -> None:
    stages: list[Stage] = []
    transportmon.audit(progress=stages.append)
    keys = [s.key for s in stages]
    assert keys == sorted(keys, key=STAGES.index)  # in the order of a run
    assert {"read", "check", "roads", "checkpoints", "trips", "report"} <= set(keys)
    reads = [s for s in stages if s.key == "read" and s.total]
    assert [s.done for s in reads] == list(range(reads[0].total))


def test_progress_only_on_a_terminal_and_not_quiet(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def run(*more: str, terminal: bool) -> str:
        buffer = io.StringIO()
        monkeypatch.setattr(cli, "err", Console(file=buffer, force_terminal=terminal, width=120))
        assert invoke("audit", "--out", str(tmp_path / "r.geojson"), "--lang", "en", *more).exit_code == 1
        return buffer.getvalue()

    assert "reading" in run(terminal=True) and "judging coach trips" in run(terminal=True)
    assert run(terminal=False) == ""
    assert run("--quiet", terminal=True) == ""


# ------------------------------------------------------------------------------------------------------------
# Errors and details in the user's language


def test_errors_in_the_language_of_lang(tmp_path: Path) -> None:
    d = world.write_world(tmp_path / "d", [{"checkpoint_id": "keep", "x": 30, "y": 98}])
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0 not read")
    (tmp_path / "nameless.csv").write_text("name,lon,lat\nA,116,29\n", encoding="utf-8")
    cases = [
        (["--checkpoints", str(tmp_path / "nope.csv")], "文件不存在", "file not found"),
        (["--checkpoints", str(tmp_path / "nameless.csv")], "checkpoints 图层缺少列 'checkpoint_id'",
         "has no column 'checkpoint_id'"),
        (["--checkpoints", str(tmp_path / "old.xls")], "旧版二进制 Excel", "old binary Excel workbook"),
        (["--as-of", "2020-02-30"], "--as-of：'2020-02-30' 不是日期", "--as-of: '2020-02-30' is not a date"),
    ]
    for args, zh, en in cases:
        base = ["audit", "--data", str(d), "--out", str(tmp_path / "r.geojson"), "--as-of", AS_OF, *args]
        chinese, english = invoke(*base), invoke(*base, "--lang", "en")
        assert chinese.exit_code == english.exit_code == 2
        assert chinese.stderr.startswith("错误") and zh in flat(chinese), flat(chinese)
        assert english.stderr.startswith("error") and en in flat(english), flat(english)


def test_validate_details_in_the_language_of_lang(tmp_path: Path) -> None:
    d = world.write_world(tmp_path / "d", [{"checkpoint_id": "A", "x": 30, "y": 98},
                                           {"checkpoint_id": "A", "x": 30, "y": 90}])
    chinese, english = invoke("validate", "--data", str(d)), invoke("validate", "--data", str(d), "--lang", "en")
    assert chinese.exit_code == english.exit_code == 1
    assert "编号重复" in flat(chinese) and "与第2行的id相同" in flat(chinese)
    assert "same id as row 2" in flat(english) and "编号重复" not in flat(english)


def test_rules_in_the_language_of_lang_and_version() -> None:
    chinese, english = invoke("rules"), invoke("rules", "--lang", "en")
    assert "应撤除" in chinese.stdout and "严重程度" in chinese.stdout
    assert "must be removed" in flat(english) and "应撤除" not in english.stdout
    version = invoke("--version")
    assert version.exit_code == 0 and version.stdout.strip() == f"transportmon {transportmon.__version__}"


# ------------------------------------------------------------------------------------------------------------
# Argument errors before work; the help


def test_map_into_a_missing_folder_is_refused_before_the_audit(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import transportmon.pipeline as P

    def no_audit(*args: object, **kwargs: object) -> None:
        raise AssertionError("the audit ran")

    monkeypatch.setattr(P, "audit", no_audit)
    out = tmp_path / "r.geojson"
    result = invoke("audit", "--out", str(out), "--map", str(tmp_path / "no" / "map.html"), "--lang", "en")
    assert result.exit_code == 2 and "--map" in flat(result) and "does not exist" in flat(result)
    assert not out.exists()
    assert "--map" in flat(invoke("audit", "--out", str(out), "--map", str(tmp_path / "no" / "map.html")))


def test_help_shows_no_bool_and_offered_formats_work(tmp_path: Path) -> None:
    commands = [c.name or c.callback.__name__ for c in app.registered_commands]
    for args in ([], *([name] for name in commands)):
        shown = invoke(*args, "--help")
        assert shown.exit_code == 0 and "<bool>" not in shown.stdout, args
    offered = re.search(r"<([a-z|]+)>", flat(invoke("validate", "--help")).split("--format")[1]).group(1)
    d = world.write_world(tmp_path / "d", [{"checkpoint_id": "A", "x": 30, "y": 98}])
    for choice in offered.split("|"):
        assert invoke("validate", "--data", str(d), "--format", choice).exit_code == 0, choice
    assert invoke("validate", "--data", str(d), "--format", "geojson").exit_code == 2


# ------------------------------------------------------------------------------------------------------------
# The Python API a notebook user expects


def test_audit_signature_names_every_input() -> None:
    params = inspect.signature(transportmon.audit).parameters
    assert {"data", "checkpoints", "as_of", "datums", "crs", "columns", "progress", "engine"} <= set(params)
    assert all(p.kind is not inspect.Parameter.VAR_KEYWORD for p in params.values())


def test_repr_and_exit_code(sample: transportmon.AuditResult) -> None:
    text = repr(sample)
    lines = text.splitlines()
    assert lines[0] == (f"AuditResult(as_of='{AS_OF}', subjects={len(sample.report)}, "
                        f"violations={sample.metadata['findings']['violation']}, "
                        f"warnings={sample.metadata['findings']['warning']})")
    assert "checkpoint  keep 4, remove 6, review 2, inactive 3" in text and len(lines) <= 8
    assert sample.exit_code == 1 and isinstance(sample.exit_code, int)
    assert sample.exit_code_for("never") == 0 and sample.exit_code_for("warning") == 1
    assert sample.exit_code() == 1 and sample.exit_code("never") == 0  # the earlier method form
    with pytest.raises(ValueError, match="fail_on"):
        sample.exit_code_for("sometimes")


def test_write_any_report_form(sample: transportmon.AuditResult, tmp_path: Path) -> None:
    for ext in ("geojson", "parquet", "csv", "xlsx", "gpkg"):
        assert sample.write(tmp_path / f"r.{ext}") == ext
        assert (tmp_path / f"r.{ext}").stat().st_size > 0
    doc = json.loads((tmp_path / "r.geojson").read_text(encoding="utf-8"))
    assert doc["metadata"]["counts"] == sample.metadata["counts"] and len(doc["features"]) == len(sample.report)
    assert sample.write(tmp_path / "v.parquet", only="violation") == "parquet"
    meta = json.loads(pq.read_schema(tmp_path / "v.parquet").metadata[b"transportmon"])
    rows = pq.read_metadata(tmp_path / "v.parquet").num_rows
    assert meta["only"] == "violation" and rows == sample.metadata["findings"]["violation"] > 0
    with pytest.raises(InputError, match="never overwrites an input"):
        sample.write(sample.metadata["inputs"]["checkpoints"]["path"])


def test_explore_returns_a_folium_map(sample: transportmon.AuditResult) -> None:
    shown = sample.report.explore()
    assert isinstance(shown, folium.Map)
    html = shown.get_root().render()  # what a notebook displays: the nested findings serialised as text
    assert "CP04" in html and "TM101" in html


def test_metadata_paths_as_the_user_gave_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(SAMPLE, tmp_path / "here" / "data")
    monkeypatch.chdir(tmp_path / "here")
    relative = transportmon.audit("data", as_of=AS_OF)
    assert relative.metadata["inputs"]["checkpoints"]["path"] == "data/checkpoints.csv"
    given = tmp_path / "here" / "data"
    absolute = transportmon.audit(given, as_of=AS_OF, checkpoints="./data/../data/checkpoints.csv")
    assert absolute.metadata["inputs"]["roads"]["path"] == (given / "roads.geojson").as_posix()
    assert absolute.metadata["inputs"]["checkpoints"]["path"] == "data/../data/checkpoints.csv"


def test_a_vector_file_naming_another_crs_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "roads.gpkg"
    world.roads().to_crs(world.CRS_M).to_file(path, driver="GPKG")
    with pytest.raises(InputError, match="the file's CRS is EPSG:32650, but EPSG:4547 is declared"):
        read_table(path, crs="EPSG:4547")
    assert read_table(path, crs="EPSG:32650").crs.equals("EPSG:4326")  # the same CRS declared: read as usual
    shp = tmp_path / "cp.shp"
    world.checkpoints([{"checkpoint": "A", "x": 30, "y": 98}]).to_crs(world.CRS_M).to_file(shp)  # a .dbf name
    shp.with_suffix(".prj").unlink()  # no .prj: the declared CRS is the file's
    read = read_table(shp, crs=world.CRS_M)
    assert read.geometry.iloc[0].x == pytest.approx(lonlat(30, 98)[0], abs=1e-7)
    assert "notes" not in read.attrs["source"] and read.attrs["source"]["crs"] == "EPSG:32650"
