"""Files the way Chinese offices keep them: encodings, .xlsx sheets, Chinese headers, booleans and dates.

The strongest check is the last: the embedded sample rewritten the way a bureau would send it — Chinese headers,
是/否, 班车/包车, 高风险/中风险, dates as 2020年2月21日 / 2020/2/21 / 20200221, GBK and GB18030 text, UTF-8 with a BOM,
an .xlsx workbook with a title row — gives the same verdicts, evidence and findings as the original.
"""

from __future__ import annotations

import codecs
import shutil
from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

import transportmon
from transportmon import layers as L
from transportmon._errors import ConfigError, InputError
from transportmon.cli import app
from transportmon.io.discover import sample_dir
from transportmon.io.read import read_table

HEADER = "检测点编号,检测点名称,经度,纬度,设立日期,撤销日期,是否劝返\n"
ROWS = "甲,九江长江大桥,116.014177,29.744610,2020年1月22日,2020/3/27,是\n乙,永修县南入口,115.816095,28.981949,20200202,,否\n"


def write(path: Path, text: str, encoding: str) -> Path:
    path.write_bytes(text.encode(encoding))
    return path


# ------------------------------------------------------------------------------------------------------------
# encodings


@pytest.mark.parametrize(
    ("encoding", "shown"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8 (with BOM)"), ("gbk", "gb18030 (GBK)"), ("gb2312", "gb18030 (GBK)"),
     ("gb18030", "gb18030 (GBK)"), ("utf-16", "utf-16")],
)
def test_csv_encodings_are_detected(tmp_path: Path, encoding: str, shown: str) -> None:
    path = write(tmp_path / "checkpoints.csv", HEADER + ROWS, encoding)
    frame = read_table(path)
    assert frame.attrs["source"]["encoding"] == shown
    layer = L.validate_checkpoints(frame, str(path))
    assert layer.frame["checkpoint_id"].tolist() == ["甲", "乙"]
    assert layer.frame["name"].tolist() == ["九江长江大桥", "永修县南入口"]
    assert layer.frame["opened"].dt.strftime("%Y-%m-%d").tolist() == ["2020-01-22", "2020-02-02"]
    assert layer.frame["turn_back"].tolist() == [True, False]
    assert len(layer.rejected) == 0


def test_gb18030_only_characters(tmp_path: Path) -> None:
    """A name GBK cannot hold (a CJK Extension B character) survives a GB18030 file."""
    text = HEADER + "𠮷,𠮷野家门口,116.0,29.7,,,否\n"
    with pytest.raises(UnicodeEncodeError):
        text.encode("gbk")
    path = write(tmp_path / "checkpoints.csv", text, "gb18030")
    layer = L.validate_checkpoints(read_table(path), str(path))
    assert layer.frame["name"].tolist() == ["𠮷野家门口"]


def test_excel_unicode_text_is_utf16_tab_separated(tmp_path: Path) -> None:
    """Excel's "Unicode text" export: UTF-16 with a BOM, tab-separated, saved as .txt."""
    path = write(tmp_path / "checkpoints.txt", (HEADER + ROWS).replace(",", "\t"), "utf-16")
    frame = read_table(path)
    assert frame.attrs["source"] == {"format": "tsv", "encoding": "utf-16"}
    assert L.validate_checkpoints(frame, str(path)).frame["checkpoint_id"].tolist() == ["甲", "乙"]


def test_encoding_option_overrides(tmp_path: Path) -> None:
    path = write(tmp_path / "checkpoints.csv", HEADER + ROWS, "gbk")
    assert read_table(path, encoding="GBK").attrs["source"]["encoding"] == "gbk"
    with pytest.raises(InputError) as info:
        read_table(path, encoding="utf-8")
    assert str(path) in str(info.value) and "utf-8" in str(info.value)
    with pytest.raises(ConfigError, match="klingon"):
        read_table(path, encoding="klingon")


def test_utf8_option_on_a_bom_file_keeps_the_first_header(tmp_path: Path) -> None:
    path = write(tmp_path / "checkpoints.csv", HEADER + ROWS, "utf-8-sig")
    frame = read_table(path, encoding="utf-8")
    assert "检测点编号" in frame.columns
    assert L.validate_checkpoints(frame, str(path)).frame["checkpoint_id"].tolist() == ["甲", "乙"]


def test_cli_encoding_option(tmp_path: Path) -> None:
    d = tmp_path / "data"
    d.mkdir()
    write(d / "checkpoints.csv", HEADER + ROWS, "gbk")
    ok = CliRunner().invoke(app, ["validate", "--data", str(d), "--boundaries", str(_boundaries(tmp_path)),
                                  "--encoding", "gbk", "--format", "json"])
    assert ok.exit_code == 0, ok.output
    bad = CliRunner().invoke(app, ["validate", "--data", str(d), "--boundaries", str(_boundaries(tmp_path)),
                                   "--encoding", "klingon"])
    assert bad.exit_code == 2 and "klingon" in bad.stderr
    wrong = CliRunner().invoke(app, ["audit", "--data", str(d), "--boundaries", str(_boundaries(tmp_path)),
                                     "--encoding", "utf-8", "--out", str(tmp_path / "r.geojson")])
    assert wrong.exit_code == 2 and "checkpoints.csv" in wrong.stderr and "utf-8" in wrong.stderr


def _boundaries(tmp_path: Path) -> Path:
    import world

    path = tmp_path / "boundaries.geojson"
    if not path.exists():
        world.boundaries().to_file(path, driver="GeoJSON")
    return path


def test_gbk_shapefile_without_cpg(tmp_path: Path) -> None:
    """Chinese GIS software writes the .dbf in GBK and often no .cpg: read it as GBK, not as Latin-1 mojibake."""
    frame = gpd.GeoDataFrame({"checkpoint": ["甲"], "名称": ["九江长江大桥"]}, geometry=[shapely.Point(116, 29.7)],
                             crs="EPSG:4326")
    path = tmp_path / "cp.shp"
    frame.to_file(path, encoding="gbk", engine="pyogrio")
    path.with_suffix(".cpg").unlink(missing_ok=True)
    read = read_table(path)
    assert read.attrs["source"]["encoding"] == "gb18030"
    layer = L.validate_checkpoints(read, str(path))
    assert layer.frame["checkpoint_id"].tolist() == ["甲"] and layer.frame["name"].tolist() == ["九江长江大桥"]
    assert read_table(path, encoding="gbk")["名称"].tolist() == ["九江长江大桥"]


def test_gbk_geojson(tmp_path: Path) -> None:
    path = tmp_path / "cp.geojson"
    doc = ('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"检测点编号": "甲"}, '
           '"geometry": {"type": "Point", "coordinates": [116.0, 29.7]}}]}')
    path.write_bytes(doc.encode("gbk"))
    read = read_table(path)
    assert read.attrs["source"]["encoding"] == "gb18030 (GBK)"
    assert L.validate_checkpoints(read, str(path)).frame["checkpoint_id"].tolist() == ["甲"]


# ------------------------------------------------------------------------------------------------------------
# workbooks


def _book(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


def test_xlsx_with_title_row_notes_sheet_and_typed_cells(tmp_path: Path) -> None:
    import datetime as dt

    path = _book(tmp_path / "checkpoints.xlsx", {
        "填表说明": [["本表由各县区交通运输局填报"], ["日期格式：2020年3月16日"]],
        "检测点": [
            ["九江市防疫检测点统计表"],
            ["序号", "检测点编号", "检测点名称", "经度（°）", "纬度（°）", "设立日期", "撤销日期", "是否劝返"],
            [1, 7, "九江长江大桥", 116.014177, 29.74461, dt.datetime(2020, 1, 22), "2020/3/27", "是"],
            [None, None, None, None, None, None, None, None],
            [2, "007", "永修县南入口", "115.816095", "28.981949", "2020年2月2日", None, True],
            [3, "CP3", "坐标写反", 29.7, 116.0, "2020.02.02", None, "否"],
        ],
    })
    frame = read_table(path)
    assert frame.attrs["source"] == {"format": "xlsx", "sheet": "检测点", "header_row": 2, "blank_rows": 1}
    layer = L.validate_checkpoints(frame, str(path))
    assert layer.frame["checkpoint_id"].tolist() == ["7", "007"]
    assert layer.frame["opened"].dt.strftime("%Y-%m-%d").tolist() == ["2020-01-22", "2020-02-02"]
    assert layer.frame["closed"].dt.strftime("%Y-%m-%d").fillna("").tolist() == ["2020-03-27", ""]
    assert layer.frame["turn_back"].tolist() == [True, True]
    assert layer.rejected[["subject_id", "reason"]].values.tolist() == [["CP3", "coordinates-out-of-range"]]
    assert "lat/lon swapped" in layer.rejected["detail"].iloc[0]


def test_xlsx_trips_with_chinese_values(tmp_path: Path) -> None:
    path = _book(tmp_path / "trips.xlsx", {"Sheet1": [
        ["班次编号", "班次日期", "线路类型", "核定座位（座）", "实载人数"],
        ["K1", "2020年2月21日", "省际班车", "45座", 23],
        ["K2", 20200221, "旅游包车", 45, "22人"],
        ["K3", "2020-02-21 08:30", "城乡公交", 19.0, 19],
        ["K4", "2020/2/30", "班车", 45, 20],
        ["K5", "2020-02-21", "定制客运", 45, 20],
    ]})
    layer = L.validate_trips(read_table(path), str(path))
    assert layer.frame[["trip_id", "service_type", "seats", "passengers"]].values.tolist() == [
        ["K1", "scheduled", 45, 23], ["K2", "charter", 45, 22], ["K3", "other", 19, 19]]
    assert (layer.frame["service_date"] == pd.Timestamp("2020-02-21")).all()
    assert layer.rejected[["subject_id", "reason"]].values.tolist() == [
        ["K4", "malformed-date"], ["K5", "malformed-value"]]


# ------------------------------------------------------------------------------------------------------------
# headers, values and dates


@pytest.mark.parametrize(
    ("header", "column"),
    [("检测点编号", "checkpoint_id"), ("  检测点编号 ", "checkpoint_id"), ("\ufeff检测点编号", "checkpoint_id"),
     ("检测点 编号", "checkpoint_id"), ("核定座位（座）", "seats"), ("核定座位数(个)", "seats"),
     ("实载人数【人】", "passengers"), ("ＳＥＡＴＳ", "seats"), ("Trip_ID", "trip_id"), ("风险等级", "level"),
     ("班次日期", "service_date"), ("线路类型", "service_type")],
)
def test_header_spellings(header: str, column: str) -> None:
    assert column in L.rename_aliases(pd.DataFrame(columns=[header])).columns


def test_contract_column_wins_over_an_alias() -> None:
    out = L.rename_aliases(pd.DataFrame(columns=["检测点编号", "checkpoint_id", "名称", "检测点名称"]))
    assert list(out.columns) == ["检测点编号", "checkpoint_id", "name", "检测点名称"]


def test_serial_number_is_not_an_id() -> None:
    assert "checkpoint_id" not in L.rename_aliases(pd.DataFrame(columns=["序号"])).columns


def test_docs_list_every_alias() -> None:
    readme = (Path(__file__).resolve().parent.parent / "docs" / "chinese-files.md").read_text(encoding="utf-8")
    section = readme
    missing = [a for a in L.ALIASES if not a.isascii() and f"`{a}`" not in section]
    assert not missing, f"docs/chinese-files.md lacks {missing}"


@pytest.mark.parametrize(
    "text",
    ["2020-03-16", "2020/3/16", "2020.03.16", "2020年3月16日", "2020年3月16号", "2020 年 3 月 16 日", "20200316",
     "2020-03-16 08:00", "2020/3/16 8:00:00", "2020-03-16T08:00:00+08:00", "2020年3月16日 8时30分",
     "２０２０年３月１６日", "2020-03-16 00:00:00"],
)
def test_chinese_date_forms(text: str) -> None:
    dates, bad = L.parse_dates(pd.Series([text], dtype="string"))
    assert not bad.iloc[0] and dates.iloc[0] == pd.Timestamp("2020-03-16")


@pytest.mark.parametrize("text", ["2020-02-30", "16/03/2020", "20/3/16", "2020-03-16 25:00", "0000-01-01",
                                  "2020年13月1日", "2020/03-16", "202003160"])
def test_malformed_dates(text: str) -> None:
    assert L.parse_dates(pd.Series([text], dtype="string"))[1].iloc[0]


def test_far_dates_are_dates() -> None:
    """9999-12-31 is how many Chinese databases write "never closed"; year 1 is a date too."""
    dates, bad = L.parse_dates(pd.Series(["9999-12-31", "0001-01-01"], dtype="string"))
    assert not bad.any() and dates.dt.year.tolist() == [9999, 1]


def test_chinese_booleans_and_counts() -> None:
    flags, bad = L.parse_bools(pd.Series(["是", "否", "有", "无", "√", "×", "ＹＥＳ", "不", "也许"], dtype="string"))
    assert flags.tolist() == [True, False, True, False, True, False, True, False, False]
    assert bad.tolist() == [False] * 8 + [True]
    counts, bad = L.parse_ints(pd.Series(["45座", "２３人", "19 位", "45.0", "45.5", "四十五"], dtype="string"))
    assert counts.tolist()[:4] == [45, 23, 19, 45] and bad.tolist() == [False] * 4 + [True, True]


@pytest.mark.parametrize(
    ("text", "kind"),
    [("班车", "scheduled"), ("省际班车", "scheduled"), ("市际班线", "scheduled"), ("包车", "charter"),
     ("旅游包车", "charter"), ("城乡公交", "other"), ("其他", "other"), ("Charter", "charter")],
)
def test_service_types(text: str, kind: str) -> None:
    assert L.service_types(pd.Series([text])).iloc[0] == kind


# ------------------------------------------------------------------------------------------------------------
# the sample, as a bureau would send it

ZH_LEVEL = {"high": "高风险", "medium": "中风险", "low": "低风险"}
ZH_TYPE = {"scheduled": "省际班车", "charter": "旅游包车", "other": "城乡公交"}
YES_NO = {"true": "是", "false": "否", "1": "是", "0": "否"}


def zh_date(text: str, i: int) -> str:
    if not isinstance(text, str) or len(text) != 10 or text[4] != "-":
        return text
    y, m, d = text.split("-")
    return [f"{y}年{int(m)}月{int(d)}日", f"{y}/{int(m)}/{int(d)}", f"{y}.{m}.{d}", f"{y}{m}{d}"][i % 4]


def chinese_sample(folder: Path) -> Path:
    src = sample_dir()
    folder.mkdir(parents=True)
    shutil.copy(src / "roads.geojson", folder / "roads.geojson")
    shutil.copy(src / "manifest.toml", folder / "manifest.toml")

    def read(name: str) -> pd.DataFrame:
        return pd.read_csv(src / f"{name}.csv", dtype=str, keep_default_na=False)

    cp = read("checkpoints")
    cp = pd.DataFrame({
        "序号": range(1, len(cp) + 1), "检测点编号": cp["checkpoint_id"], "检测点名称": cp["name"], "经度": cp["lon"],
        "纬度": cp["lat"], "设立日期": [zh_date(v, i) for i, v in enumerate(cp["opened"])],
        "撤销日期": [zh_date(v, i + 1) for i, v in enumerate(cp["closed"])],
        "是否劝返": cp["turn_back"].map(YES_NO), "是否限制货车": cp["blocks_freight"].map(YES_NO),
        "备注": cp["note"]})
    (folder / "checkpoints.csv").write_bytes(
        ("九江市防疫检测点统计表" + "," * (len(cp.columns) - 1) + "\n" + cp.to_csv(index=False)).encode("gbk"))

    risk = read("risk_areas")
    risk = pd.DataFrame({
        "发布日期": [zh_date(v, i) for i, v in enumerate(risk["as_of"])], "省份": risk["province"],
        "地区": risk["unit"], "行政区划代码": risk["adcodes"], "风险等级": risk["level"].map(ZH_LEVEL),
        "derivation": risk["derivation"], "来源": risk["source_url"]})
    (folder / "risk_areas.csv").write_bytes(risk.to_csv(index=False).encode("gb18030"))

    stops = read("stops")
    stops = pd.DataFrame({"站点编号": stops["stop_id"], "站点名称": stops["name"], "经度": stops["lon"],
                          "纬度": stops["lat"]})
    (folder / "stops.csv").write_bytes(codecs.BOM_UTF8 + stops.to_csv(index=False).encode("utf-8"))

    st_ = read("stop_times")
    st_ = pd.DataFrame({"班次编号": st_["trip_id"], "站序": st_["stop_sequence"], "站点编号": st_["stop_id"],
                        "上客": st_["pickup"].map(YES_NO), "下客": st_["dropoff"].map(YES_NO)})
    (folder / "stop_times.csv").write_bytes(st_.to_csv(index=False).encode("utf-16"))

    trips = read("trips")
    rows = [["班次编号", "线路编号", "班次日期", "线路类型", "核定座位数", "实载人数"]]
    for i, t in trips.iterrows():
        rows.append([t["trip_id"], t["route_id"], zh_date(t["service_date"], int(i)), ZH_TYPE[t["service_type"]],
                     f"{t['seats']}座", int(t["passengers"])])
    _book(folder / "trips.xlsx", {"班次": [["2020年客运班次及实载情况"], *rows]})

    wv = read("waivers")
    rows = [["对象类型", "对象编号", "规则编号", "批准文号", "有效期自", "有效期至", "批准单位", "备注"]]
    for i, w in wv.iterrows():
        rows.append([{"checkpoint": "检测点", "trip": "班次"}[w["subject"]], w["subject_id"], w["rule_id"].lower(),
                     w["document"], zh_date(w["valid_from"], int(i)), zh_date(w["valid_until"], int(i) + 1),
                     w["approved_by"], w["note"]])
    _book(folder / "豁免.xlsx", {"豁免": [["防疫检测点豁免批准清单"], *rows]})
    return folder


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> tuple[transportmon.pipeline.AuditResult, ...]:
    english = transportmon.audit(sample_dir())
    chinese = transportmon.audit(chinese_sample(tmp_path_factory.mktemp("zh") / "data"))
    return english, chinese


def test_chinese_sample_reads_every_layer_as_sent(both: tuple) -> None:
    _, zh = both
    inputs = zh.metadata["inputs"]
    assert inputs["checkpoints"]["encoding"] == "gb18030 (GBK)" and inputs["checkpoints"]["header_row"] == 2
    assert inputs["risk_areas"]["encoding"] == "gb18030 (GBK)"
    assert inputs["stops"]["encoding"] == "utf-8 (with BOM)"
    assert inputs["stop_times"]["encoding"] == "utf-16"
    assert inputs["trips"]["format"] == "xlsx" and inputs["trips"]["header_row"] == 2


def test_chinese_sample_gives_the_same_audit(both: tuple) -> None:
    en, zh = both
    assert zh.metadata["rows"] == en.metadata["rows"]
    assert zh.metadata["counts"] == en.metadata["counts"]
    assert zh.metadata["findings"] == en.metadata["findings"]
    a, b = en.report, zh.report
    assert a[["subject", "subject_id", "verdict", "reason"]].equals(b[["subject", "subject_id", "verdict", "reason"]])
    audited = (a["verdict"] != "rejected").to_numpy()
    cols = [c for c in a.columns if c not in ("detail", "source_row")]
    pd.testing.assert_frame_equal(pd.DataFrame(a.loc[audited, cols]), pd.DataFrame(b.loc[audited, cols]))
    rules = [[f["rule_id"] for f in fl] for fl in a["findings"]]
    assert rules == [[f["rule_id"] for f in fl] for fl in b["findings"]]
