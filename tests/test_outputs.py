"""The desk outputs (DESIGN §10): the xlsx workbook, the styled GeoPackage, CSV for Excel, one JSON document on
stdout, and the formats a report refuses. Input: the embedded Jiujiang sample, audited once."""

from __future__ import annotations

import json
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest
import shapely
from typer.testing import CliRunner

import transportmon
from transportmon import palette, vocab
from transportmon._errors import InputError
from transportmon.cli import app
from transportmon.io import gpkg, xlsx
from transportmon.io.labels import LAYER_NAMES, SHEETS, header
from transportmon.io.write import write_report
from transportmon.pipeline import AuditResult

CHECKPOINT_HEADERS_ZH = ["编号", "名称", "结论", "结论代码", "原因", "最高级别", "规则", "主要说明", "经度", "纬度"]
CHECKPOINT_HEADERS_EN = ["id", "name", "verdict", "verdict code", "reason", "most severe", "rules", "main finding",
                         "lon", "lat"]


@pytest.fixture(scope="module")
def sample() -> AuditResult:
    return transportmon.audit()


@pytest.fixture(scope="module")
def workbooks(sample: AuditResult, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("xlsx")
    out = {}
    for lang in ("zh", "en"):
        out[lang] = d / f"report_{lang}.xlsx"
        assert write_report(sample.report, sample.metadata, str(out[lang]), lang=lang) == "xlsx"
    return out


def rows_of(report: gpd.GeoDataFrame, subject: str) -> gpd.GeoDataFrame:
    return report[report["subject"] == subject].reset_index(drop=True)


def sheet_table(ws: openpyxl.worksheet.worksheet.Worksheet) -> tuple[list[str], list[tuple]]:
    rows = list(ws.iter_rows(values_only=True))
    return list(rows[0]), rows[1:]


def fill_of(cell: openpyxl.cell.Cell) -> str:
    """``#rrggbb`` of a solid cell fill."""
    return "#" + str(cell.fill.fgColor.rgb)[-6:].lower()


# --------------------------------------------------------------------------------------------------------------------
# xlsx


def test_xlsx_sheets_in_both_languages(workbooks: dict[str, Path]) -> None:
    zh = openpyxl.load_workbook(workbooks["zh"])
    assert zh.sheetnames == ["摘要", "检测点", "班次", "不可核查行"]  # no routes in the sample: no 线路 sheet
    en = openpyxl.load_workbook(workbooks["en"])
    assert en.sheetnames == ["Summary", "Checkpoints", "Trips", "Rejected rows"]


@pytest.mark.parametrize(("lang", "expected"), [("zh", CHECKPOINT_HEADERS_ZH), ("en", CHECKPOINT_HEADERS_EN)])
def test_xlsx_checkpoint_sheet_headers_freeze_and_filter(workbooks: dict[str, Path], sample: AuditResult,
                                                         lang: str, expected: list[str]) -> None:
    ws = openpyxl.load_workbook(workbooks[lang])[SHEETS[lang]["checkpoint"]]
    heads, rows = sheet_table(ws)
    assert heads[: len(expected)] == expected
    assert heads[-4:] == [header(c, lang) for c in ("detail", "source_row", "findings_text", "policy")]
    n = len(rows_of(sample.report, "checkpoint"))
    assert len(rows) == n > 0
    assert ws.freeze_panes == "B2"  # the header row and the id column stay in view
    assert ws.auto_filter.ref == f"A1:{openpyxl.utils.get_column_letter(len(heads))}{n + 1}"
    assert all(h is not None and h != "" for h in heads)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_xlsx_verdict_cells_have_the_map_colours(workbooks: dict[str, Path], sample: AuditResult, lang: str) -> None:
    wb = openpyxl.load_workbook(workbooks[lang])
    for kind in ("checkpoint", "trip"):
        ws = wb[SHEETS[lang][kind]]
        heads = [c.value for c in ws[1]]
        label_col, code_col = heads.index(header("verdict_label", lang)), heads.index(header("verdict", lang))
        expected = rows_of(sample.report, kind)["verdict"].tolist()
        seen = set()
        for verdict, row in zip(expected, ws.iter_rows(min_row=2)):
            colour, zh, en = palette.VERDICT_STYLE[verdict]
            assert row[code_col].value == verdict
            assert row[label_col].value == (zh if lang == "zh" else en)
            assert fill_of(row[label_col]) == fill_of(row[code_col]) == colour
            assert row[label_col].fill.fill_type == "solid"
            seen.add(verdict)
        assert len(seen) >= 3  # several verdicts, several colours
    # the header is not coloured like a verdict
    assert fill_of(wb[SHEETS[lang]["checkpoint"]]["A1"]) == "#d9d9d9"


def test_xlsx_flat_columns_match_the_report(workbooks: dict[str, Path], sample: AuditResult) -> None:
    ws = openpyxl.load_workbook(workbooks["zh"])["检测点"]
    heads, rows = sheet_table(ws)
    col = {h: i for i, h in enumerate(heads)}
    cps = rows_of(sample.report, "checkpoint")
    for row, (_, cp) in zip(rows, cps.iterrows()):
        findings = list(cp["findings"])
        assert row[col["编号"]] == cp["subject_id"]
        assert row[col["规则"]] == ", ".join(f["rule_id"] for f in findings)
        rank = ["violation", "warning", "info", "waived"]
        main = min(findings, key=lambda f: rank.index(f["severity"]))  # the first of the most severe
        assert row[col["主要说明"]] == main["message_zh"]
        assert row[col["经度"]] == pytest.approx(round(cp.geometry.x, 7), abs=1e-9)
        assert row[col["纬度"]] == pytest.approx(round(cp.geometry.y, 7), abs=1e-9)
        text = row[col["全部发现"]]
        assert len(text.split("\n")) == len(findings)  # the findings in full, one line each
        for f in findings:
            assert f"{f['rule_id']} " in text and f["message_zh"] in text
    # a removed checkpoint's main finding is its violation, worded in Chinese; waived where a waiver covers it (the
    # sample's CP08 on 2020-03-16)
    remove = [r for r in rows if r[col["结论代码"]] == "remove"]
    worst = dict(zip(cps["subject_id"], cps["max_severity"]))
    word = {"violation": "违规", "waived": "已豁免"}
    assert remove and all(word[worst[r[col["编号"]]]] in r[col["全部发现"]] for r in remove)
    assert all(r[col["最高级别"]] == word[worst[r[col["编号"]]]] for r in remove)
    assert {r[col["最高级别"]] for r in remove} == {"违规", "已豁免"}


def test_xlsx_english_messages_and_trip_numbers(workbooks: dict[str, Path], sample: AuditResult) -> None:
    ws = openpyxl.load_workbook(workbooks["en"])["Trips"]
    heads, rows = sheet_table(ws)
    col = {h: i for i, h in enumerate(heads)}
    trips = rows_of(sample.report, "trip")
    assert [r[col["id"]] for r in rows] == trips["subject_id"].tolist()
    audited = trips["verdict"] != "rejected"
    first = int(np.flatnonzero(audited.to_numpy())[0])
    assert rows[first][col["main finding"]] == trips["findings"].iloc[first][0]["message_en"]
    assert rows[first][col["seats"]] == trips["seats"].iloc[first]
    assert rows[first][col["occupancy"]] == pytest.approx(trips["occupancy"].iloc[first])
    assert ws.cell(row=first + 2, column=col["occupancy"] + 1).number_format == "0.0%"
    stops = list(trips["risk_stops"].iloc[first])
    assert rows[first][col["risk stops"]] == ", ".join(stops)
    assert rows[first][col["lon"]] is None if "lon" in col else True  # trips are lines: no lon/lat column
    assert "lon" not in col


def test_xlsx_rejected_sheet_holds_the_other_layers(workbooks: dict[str, Path], sample: AuditResult) -> None:
    ws = openpyxl.load_workbook(workbooks["zh"])["不可核查行"]
    heads, rows = sheet_table(ws)
    col = {h: i for i, h in enumerate(heads)}
    other = sample.report[~sample.report["subject"].isin(["checkpoint", "trip"])]
    assert len(rows) == len(other) > 0
    assert {r[col["图层"]] for r in rows} == {LAYER_NAMES["zh"][s] for s in set(other["subject"])}
    assert "停靠站次" in {r[col["图层"]] for r in rows}  # stop_times, in Chinese
    assert [r[col["源文件行号"]] for r in rows] == other["source_row"].tolist()
    assert all(fill_of(ws.cell(row=i + 2, column=col["结论"] + 1)) == palette.VERDICT_STYLE["rejected"][0]
               for i in range(len(rows)))


def test_xlsx_summary_sheet(workbooks: dict[str, Path], sample: AuditResult) -> None:
    ws = openpyxl.load_workbook(workbooks["zh"])["摘要"]
    cells = [c for row in ws.iter_rows(values_only=True) for c in row if c is not None]
    md = sample.metadata
    assert any(isinstance(c, str) and c.startswith(md["as_of"]) for c in cells)
    assert md["policy"] in cells and f"transportmon {md['version']}" in cells
    for layer, info in md["inputs"].items():
        if info.get("path"):
            assert info["path"] in cells and info["sha256"] in cells and info["rows"] in cells
    rows = list(ws.iter_rows(values_only=True))
    counted = {(r[0], r[2]): r[3] for r in rows if r[2] in palette.VERDICT_STYLE and isinstance(r[3], int)}
    assert counted[("检测点", "remove")] == md["counts"]["checkpoint"]["remove"]
    assert counted[("班次", "over-cap")] == md["counts"]["trip"]["over-cap"]
    by_severity = {r[0]: r[1] for r in rows if r[0] in ("违规", "警告", "提示")}
    assert by_severity == {"违规": md["findings"]["violation"], "警告": md["findings"]["warning"],
                           "提示": md["findings"]["info"]}
    assert "运行警告" in cells  # the warnings section lists the run's warnings, as the terminal does
    assert all(w in cells for w in md["warnings"])
    assert any(isinstance(c, str) and "OpenStreetMap" in c for c in cells)  # attribution travels with the data


def test_xlsx_summary_lists_warnings_and_skipped_rules(sample: AuditResult, tmp_path: Path) -> None:
    md = dict(sample.metadata, warnings=["trips.csv not used: no stop_times"],
              rules_skipped={"TM201": "no risk_areas layer"})
    out = tmp_path / "r.xlsx"
    write_report(sample.report, md, str(out), lang="en")
    cells = [c for row in openpyxl.load_workbook(out)["Summary"].iter_rows(values_only=True) for c in row]
    assert "trips.csv not used: no stop_times" in cells
    assert "TM201: no risk_areas layer" in cells and "did not run" in cells


def test_xlsx_reads_back_with_pandas(workbooks: dict[str, Path], sample: AuditResult) -> None:
    sheets = pd.read_excel(workbooks["en"], sheet_name=None, dtype={"id": str})
    assert list(sheets) == ["Summary", "Checkpoints", "Trips", "Rejected rows"]
    assert sheets["Checkpoints"]["id"].tolist() == rows_of(sample.report, "checkpoint")["subject_id"].tolist()
    assert sheets["Trips"]["verdict code"].tolist() == rows_of(sample.report, "trip")["verdict"].tolist()


def test_xlsx_bytes_are_deterministic(workbooks: dict[str, Path], sample: AuditResult, tmp_path: Path) -> None:
    again = tmp_path / "again.xlsx"
    write_report(sample.report.copy(), sample.metadata, str(again), lang="zh")
    assert again.read_bytes() == workbooks["zh"].read_bytes()
    props = openpyxl.load_workbook(again).properties
    assert props.created.year == props.modified.year == 1980  # no clock in the file


def test_xlsx_routes_and_unknown_subjects(sample: AuditResult, tmp_path: Path) -> None:
    report = sample.report.copy()
    extra = report.iloc[[0, 1]].copy()
    extra["subject"] = ["route", "waivers"]
    extra["subject_id"] = ["R-1", "W-1"]
    extra["verdict"] = ["suspended", "rejected"]
    report = gpd.GeoDataFrame(pd.concat([report, extra], ignore_index=True), crs=report.crs)
    report["baseline_trips_per_day"] = np.where(report["subject"] == "route", 4.0, np.nan)
    out = tmp_path / "r.xlsx"
    write_report(report, sample.metadata, str(out))
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["摘要", "检测点", "班次", "线路", "不可核查行"]
    heads, rows = sheet_table(wb["线路"])
    assert [r[heads.index("编号")] for r in rows] == ["R-1"]
    assert rows[0][heads.index("基线日均班次")] == 4.0  # a route's own evidence shows up without being listed
    assert fill_of(wb["线路"].cell(row=2, column=heads.index("结论") + 1)) == palette.ROUTE_VERDICT_STYLE[
        "suspended"][0]
    assert rows[0][heads.index("结论")] == "停运"
    assert "基线日均班次" not in [c.value for c in wb["检测点"][1]]  # empty for checkpoints: not shown there
    heads, rows = sheet_table(wb["不可核查行"])
    assert "W-1" in [r[heads.index("编号")] for r in rows]
    assert "豁免" in [r[heads.index("图层")] for r in rows]


def test_xlsx_text_is_never_a_formula_and_control_characters_are_marked(sample: AuditResult, tmp_path: Path) -> None:
    report = sample.report.copy()
    names = report["name"].astype(object)
    names.iloc[0] = "=HYPERLINK(\"http://x\",\"y\")"
    names.iloc[1] = "bell\x07here"
    report["name"] = names.astype("str")
    out = tmp_path / "r.xlsx"
    write_report(report, sample.metadata, str(out))
    ws = openpyxl.load_workbook(out)["检测点"]
    col = [c.value for c in ws[1]].index("名称") + 1
    assert ws.cell(row=2, column=col).data_type == "s"
    assert ws.cell(row=2, column=col).value == "=HYPERLINK(\"http://x\",\"y\")"
    assert ws.cell(row=3, column=col).value == "bell\ufffdhere"


def test_xlsx_long_sheets_continue(sample: AuditResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xlsx, "MAX_ROWS", 10)
    out = tmp_path / "r.xlsx"
    write_report(sample.report, sample.metadata, str(out))
    wb = openpyxl.load_workbook(out)
    trips = [n for n in wb.sheetnames if n.startswith("班次")]
    n = len(rows_of(sample.report, "trip"))
    assert 20 < n <= 40  # the sample: three or four sheets of ten
    sizes = [10] * (n // 10) + ([n % 10] if n % 10 else [])
    assert trips == ["班次"] + [f"班次 ({k})" for k in range(2, len(sizes) + 1)]
    assert [wb[name].max_row - 1 for name in trips] == sizes
    ids = [r[0] for n in trips for r in sheet_table(wb[n])[1]]
    assert ids == rows_of(sample.report, "trip")["subject_id"].tolist()


def test_xlsx_of_an_empty_report(sample: AuditResult, tmp_path: Path) -> None:
    out = tmp_path / "r.xlsx"
    write_report(sample.report.iloc[:0], sample.metadata, str(out))
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["摘要", "检测点", "班次", "不可核查行"]
    assert wb["检测点"].max_row == 1 and wb["检测点"]["A1"].value == "编号"  # the header, no rows


# --------------------------------------------------------------------------------------------------------------------
# GeoPackage


@pytest.fixture(scope="module")
def geopackage(sample: AuditResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gpkg") / "report.gpkg"
    assert write_report(sample.report, sample.metadata, str(out)) == "gpkg"
    return out


def styles_of(path: Path) -> dict[str, tuple]:
    with sqlite3.connect(path) as con:
        rows = con.execute("SELECT f_table_name, f_table_catalog, f_table_schema, f_geometry_column, styleName, "
                           "styleQML, styleSLD, useAsDefault, update_time FROM layer_styles").fetchall()
    return {r[0]: r[1:] for r in rows}


def qml_categories(qml: str) -> dict[str, tuple[str, str]]:
    """``{value: (label, colour #rrggbb)}`` of a categorized QML renderer, colours from the <Option> and <prop>."""
    root = ET.fromstring(qml.split("\n", 1)[1])  # after the DOCTYPE line
    renderer = root.find("renderer-v2")
    assert renderer is not None and renderer.get("type") == "categorizedSymbol" and renderer.get("attr") == "verdict"
    symbols = {s.get("name"): s for s in renderer.find("symbols")}
    out = {}
    for cat in renderer.find("categories"):
        layer = symbols[cat.get("symbol")].find("layer")
        props = {p.get("k"): p.get("v") for p in layer.findall("prop")}
        options = {o.get("name"): o.get("value") for o in layer.find("Option")}
        assert props == options  # both forms say the same
        rgba = props.get("color") or props.get("line_color")
        r, g, b, _ = (int(x) for x in rgba.split(","))
        out[cat.get("value")] = (cat.get("label"), f"#{r:02x}{g:02x}{b:02x}")
    return out


def test_gpkg_layers_and_geometry_types(geopackage: Path, sample: AuditResult) -> None:
    layers = {name: kind for name, kind in pyogrio.list_layers(geopackage)}
    assert layers == {"checkpoints": "Point", "trips": "LineString", "trips_no_geometry": None, "rejected": None,
                      "layer_styles": None}
    cps = gpd.read_file(geopackage, layer="checkpoints")
    assert cps.crs.to_epsg() == 4326
    assert set(cps.geometry.geom_type) == {"Point"}
    assert cps["subject_id"].tolist() == rows_of(sample.report, "checkpoint")["subject_id"].tolist()
    trips = gpd.read_file(geopackage, layer="trips")
    assert set(trips.geometry.geom_type) == {"LineString"}
    report_trips = rows_of(sample.report, "trip")
    assert trips["subject_id"].tolist() == report_trips[report_trips.geometry.notna()]["subject_id"].tolist()
    no_geom = pyogrio.read_dataframe(geopackage, layer="trips_no_geometry")
    assert set(no_geom["verdict"]) == {"rejected"} and len(no_geom) == report_trips.geometry.isna().sum() > 0
    rejected = pyogrio.read_dataframe(geopackage, layer="rejected")
    other = sample.report[~sample.report["subject"].isin(["checkpoint", "trip"])]
    assert len(rejected) == len(other) and set(rejected["subject"]) == set(other["subject"])
    # fields: findings as JSON text, flat rule ids and main messages; no field that is empty for the whole layer
    # a finding without a waiver has no "waiver" key in JSON text (the report's struct holds it as null)
    assert [json.loads(x) for x in cps["findings"]] == [
        [{k: v for k, v in f.items() if not (k == "waiver" and v is None)} for f in fl]
        for fl in rows_of(sample.report, "checkpoint")["findings"]]
    assert cps["rule_ids"].iloc[0] == ", ".join(f["rule_id"] for f in cps["findings"].map(json.loads).iloc[0])
    assert {"message_zh", "message_en"} <= set(cps.columns)
    assert "passengers" not in cps.columns and "road_class" not in trips.columns


def test_gpkg_layer_styles_colour_by_verdict(geopackage: Path) -> None:
    styles = styles_of(geopackage)
    assert set(styles) == {"checkpoints", "trips"}  # the spatial layers
    with sqlite3.connect(geopackage) as con:
        geom_cols = dict(con.execute("SELECT table_name, column_name FROM gpkg_geometry_columns").fetchall())
        registered = con.execute("SELECT data_type FROM gpkg_contents WHERE table_name = 'layer_styles'").fetchone()
    assert registered == ("attributes",)  # a table GDAL, and so QGIS, lists
    for layer, verdicts in (("checkpoints", vocab.CHECKPOINT_VERDICTS), ("trips", vocab.TRIP_VERDICTS)):
        catalog, schema, geom, name, qml, sld, default, _ = styles[layer]
        assert (catalog, schema, geom, name, default) == ("", "", geom_cols[layer], layer, 1)
        cats = qml_categories(qml)
        for v in verdicts:
            colour, zh, _ = palette.VERDICT_STYLE[v]
            assert cats[v] == (f"{zh} ({v})", colour)
            assert colour in sld
        assert "" in cats  # all other values: drawn, not hidden
    assert ET.fromstring(styles["checkpoints"][5]).tag.endswith("StyledLayerDescriptor")


def test_gpkg_english_labels(sample: AuditResult, tmp_path: Path) -> None:
    out = tmp_path / "r.gpkg"
    write_report(sample.report, sample.metadata, str(out), lang="en")
    cats = qml_categories(styles_of(out)["trips"][4])
    assert cats["over-cap"] == ("over the cap", palette.VERDICT_STYLE["over-cap"][0])


def test_gpkg_one_stop_trips_and_rejected_geometries(sample: AuditResult, tmp_path: Path) -> None:
    report = sample.report.copy()
    geoms = report.geometry.to_numpy().copy()
    trip = int(np.flatnonzero((report["subject"] == "trip").to_numpy() & pd.notna(geoms))[0])
    geoms[trip] = shapely.Point(116.0, 29.7)  # a trip with one stop is a point
    area = int(np.flatnonzero(~report["subject"].isin(["checkpoint", "trip"]).to_numpy())[0])
    geoms[area] = shapely.box(115.9, 29.6, 116.1, 29.8)  # a rejected row of another layer, with a polygon
    report = report.set_geometry(gpd.GeoSeries(geoms, crs=report.crs))
    out = tmp_path / "r.gpkg"
    write_report(report, sample.metadata, str(out))
    layers = dict(pyogrio.list_layers(out).tolist())
    assert layers["trips_points"] == "Point" and layers["rejected_polygons"] == "Polygon"
    assert pyogrio.read_dataframe(out, layer="trips_points")["subject_id"].tolist() == [report["subject_id"][trip]]
    lines = (sample.report["subject"] == "trip") & sample.report.geometry.notna()
    assert len(pyogrio.read_dataframe(out, layer="trips")) == lines.sum() - 1
    styles = styles_of(out)
    assert set(styles) == {"checkpoints", "trips", "trips_points", "rejected_polygons"}
    fill = qml_categories(styles["rejected_polygons"][4])["rejected"]
    assert fill[1] == palette.VERDICT_STYLE["rejected"][0]
    assert ET.fromstring(styles["trips_points"][4].split("\n", 1)[1]).find(
        "renderer-v2/symbols/symbol").get("type") == "marker"


def test_gpkg_bytes_are_deterministic_and_no_temporary_is_left(geopackage: Path, sample: AuditResult,
                                                              tmp_path: Path) -> None:
    again = tmp_path / "report.gpkg"
    write_report(sample.report.copy(), sample.metadata, str(again))
    assert again.read_bytes() == geopackage.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["report.gpkg"]
    assert {r[-1] for r in styles_of(again).values()} == {gpkg.FIXED_TIME}


def test_gpkg_of_an_empty_report(sample: AuditResult, tmp_path: Path) -> None:
    out = tmp_path / "r.gpkg"
    write_report(sample.report.iloc[:0], sample.metadata, str(out))
    assert {n: k for n, k in pyogrio.list_layers(out)} == {"checkpoints": "Point", "trips": "LineString",
                                                          "layer_styles": None}
    assert len(gpd.read_file(out, layer="checkpoints")) == 0


def test_failed_gpkg_write_keeps_the_old_file(sample: AuditResult, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "r.gpkg"
    out.write_bytes(b"old")

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(gpkg, "add_styles", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        write_report(sample.report, sample.metadata, str(out))
    assert out.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.gpkg"]


# --------------------------------------------------------------------------------------------------------------------
# CSV for Excel, the formats a report refuses, one JSON document on stdout


def test_csv_has_a_bom_and_lon_lat(sample: AuditResult, tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    write_report(sample.report, sample.metadata, str(out))
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfsubject,")  # Excel on Chinese Windows reads it as UTF-8
    assert "检测点".encode() in raw or "保留".encode() in raw or "九府发".encode() in raw
    table = pd.read_csv(out, encoding="utf-8-sig", dtype={"subject_id": str})
    assert list(table.columns[-2:]) == ["lon", "lat"]
    cps = rows_of(sample.report, "checkpoint")
    got = table[table["subject"] == "checkpoint"]
    assert np.allclose(got["lon"], np.round(cps.geometry.x, 7)) and np.allclose(got["lat"], np.round(cps.geometry.y, 7))
    assert table.loc[table["subject"] == "trip", ["lon", "lat"]].isna().all().all()  # lines: no lon/lat


@pytest.mark.parametrize("ext", [".fgb", ".shp", ".xls"])
def test_refused_formats_name_the_ones_that_work(sample: AuditResult, tmp_path: Path, ext: str) -> None:
    out = tmp_path / f"r{ext}"
    with pytest.raises(InputError, match=r"\.gpkg") as info:
        write_report(sample.report, sample.metadata, str(out))
    assert all(f in str(info.value) for f in (".geojson", ".parquet", ".csv", ".xlsx", ".gpkg"))
    assert not out.exists()


def test_cli_refuses_fgb_before_the_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["audit", "--out", "r.fgb"])
    assert result.exit_code == 2
    assert "FlatGeobuf" in result.stderr and ".gpkg" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_cli_out_dash_format_json_prints_one_document(sample: AuditResult, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["audit", "--out", "-", "--format", "json"])
    assert result.exit_code == 1, result.stderr
    doc = json.loads(result.stdout)  # one document: the report, whose metadata is what --format json prints
    assert doc["type"] == "FeatureCollection"
    assert doc["metadata"]["as_of"] == "2020-03-16"
    assert len(doc["features"]) == len(sample.report)
    assert list(tmp_path.iterdir()) == []


def test_cli_xlsx_in_english(sample: AuditResult, tmp_path: Path) -> None:
    out = tmp_path / "r.xlsx"
    result = CliRunner().invoke(app, ["audit", "--out", str(out), "--lang", "en", "--format", "json"])
    assert result.exit_code == 1, result.stderr
    assert json.loads(result.stdout)["counts"] == sample.metadata["counts"]
    assert openpyxl.load_workbook(out).sheetnames == ["Summary", "Checkpoints", "Trips", "Rejected rows"]
