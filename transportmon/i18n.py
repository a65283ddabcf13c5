"""Chinese forms of what the command line says in English: errors, rejection reasons and details, rule summaries.

The code raises and records its messages in English (they name files, columns and values, and tests and scripts
match them); the command line shows them in the language of ``--lang`` (default ``zh``). Each common message has a
Chinese form here, matched by its English wording with the file names, columns and values carried over; a message
without one (rare) is shown in English rather than half translated. Findings need none of this: each carries its
``message_zh`` from the rule that made it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ._errors import InputError, TransportmonError

__all__ = ["REASON_ZH", "RULE_SUMMARY_ZH", "detail_text", "error_text", "problem_text", "reason_text", "rule_summary"]

Pattern = tuple[re.Pattern[str], str]


def _table(pairs: Iterable[tuple[str, str]]) -> list[Pattern]:
    return [(re.compile(rf"^{en}$", re.S), zh) for en, zh in pairs]


#: InputError problems (what is wrong with the file).
PROBLEMS = _table([
    (r"(?:file not found|not found|does not exist)", "文件不存在"),
    (r"is a folder, not a layer file", "是文件夹，不是图层文件"),
    (r"the file is empty", "文件为空"),
    (r"is not a folder", "不是文件夹"),
    (r"holds binary data \(NUL or control bytes\), not a text table", "含二进制数据（NUL 或控制字符），不是文本表格"),
    (r"not a readable CSV \((?P<why>.*)\)", "不是可读取的 CSV 文件（{why}）"),
    (r"cannot decode the text as (?P<enc>.+) \((?P<why>.*)\)", "无法按 {enc} 解码文本（{why}）"),
    (r"is not an \.xlsx workbook \(not a zip archive\)", "不是 .xlsx 工作簿（不是 zip 压缩包）"),
    (r"is not a readable \.xlsx workbook \((?P<why>.*)\)", "不是可读取的 .xlsx 工作簿（{why}）"),
    (r"the workbook expands to (?P<size>.+) GiB", "工作簿解压后达 {size} GiB"),
    (r"every sheet of the workbook is empty", "工作簿的每个工作表都是空的"),
    (r"is an old binary Excel workbook \(\.xls\)", "是旧版二进制 Excel 工作簿（.xls），无法读取"),
    (r"unknown file type '(?P<ext>.*)'", "未知的文件类型“{ext}”"),
    (r"the shapefile's (?P<ext>\S+) \((?P<what>.+)\) is missing beside it", "Shapefile 旁缺少 {ext} 文件（{what}）"),
    (r"cannot be read as a vector layer \((?P<why>.*)\)", "无法作为矢量图层读取（{why}）"),
    (r"not a readable (?P<what>\(Geo\)Parquet|Parquet) file \((?P<why>.*)\)", "不是可读取的 {what} 文件（{why}）"),
    (r"the (?P<layer>\w+) layer has no column (?P<cols>.+)", "{layer} 图层缺少列 {cols}"),
    (r"the (?P<layer>\w+) layer has no geometry", "{layer} 图层没有几何（坐标）"),
    (r"--datum (?P<datum>\S+) given but the layer has no coordinates", "指定了坐标系 {datum}，但该图层没有坐标"),
    (r"a CRS \((?P<crs>.+)\) is declared but the layer has no coordinates", "声明了坐标参考系 {crs}，但该图层没有坐标"),
    (r"the file's CRS is (?P<have>.+), but (?P<crs>.+) is declared", "文件自带的坐标参考系是 {have}，但声明的是 {crs}"),
    (r"cannot reproject from (?P<crs>.+) to WGS-84 \((?P<why>.*)\)", "无法从 {crs} 转换到 WGS-84（{why}）"),
    (r"holds no layer file", "没有图层文件"),
    (r"no file is named after a layer \((?P<files>.+)\)", "没有按图层命名的文件（{files}）"),
    (r"cannot read the manifest \((?P<why>.*)\)", "无法读取 manifest.toml（{why}）"),
    (r"folder (?P<folder>.+) does not exist", "文件夹 {folder} 不存在"),
    (r"is one of the inputs; the report never overwrites an input", "是输入文件之一，报告不会覆盖输入文件"),
    (r"unknown report format '(?P<ext>.*)'", "未知的报告格式“{ext}”"),
    (r"a report cannot be written as (?P<ext>\S+): (?P<why>.+)", "报告不能写成 {ext} 格式：{why}"),
    (r"unknown map format '(?P<ext>.*)'", "未知的地图格式“{ext}”"),
    (r"(?P<what>.+) missing from the GTFS feed", "GTFS 数据包中缺少 {what}"),
    (r"the occupancy table has no column (?P<cols>.+)", "客座率表缺少列 {cols}"),
    (r"is not a readable zip archive \((?P<why>.*)\)", "不是可读取的 zip 压缩包（{why}）"),
    (r"has no column (?P<cols>.+)", "缺少列 {cols}"),
    (r"Dask worker (?P<w>\S+) cannot read it \((?P<why>.*)\)", "Dask 工作进程 {w} 无法读取该文件（{why}）"),
    (r"Dask worker (?P<w>\S+) cannot write into this folder \((?P<why>.*)\)", "Dask 工作进程 {w} 无法写入该文件夹（{why}）"),
    (r"Dask worker (?P<w>\S+) writes into another folder of this name, not the one this process reads",
     "Dask 工作进程 {w} 写入的是另一个同名文件夹，不是本进程读取的那个"),
    (r"a report of (?P<n>\S+) subjects is too large to write as (?P<ext>\S+) from the Dask engine "
     r"\(at most (?P<max>\S+) are gathered into one process\)",
     "报告有 {n} 个对象，Dask 引擎无法写成 {ext}（最多把 {max} 个对象汇集到一个进程）"),
])

#: InputError fixes (what to do).
FIXES = _table([
    (r"check the path, or give the folder with --data", "请检查路径，或用 --data 指定数据文件夹"),
    (r"give a file, or use --data DIR for a folder of layers", "请给出文件，或用 --data 指定图层文件夹"),
    (r"export the layer again", "请重新导出该图层"),
    (r"--data takes a folder of layer files named after the layers", "--data 需要一个按图层命名文件的文件夹"),
    (r"export the table as CSV; for UTF-16 text without a byte-order mark pass --encoding utf-16",
     "请导出为 CSV；无字节顺序标记的 UTF-16 文本请加 --encoding utf-16"),
    (r"save it as comma-separated text", "请另存为逗号分隔的文本（CSV）"),
    (r"save it as UTF-8, or pass --encoding \(gbk, gb18030, utf-16 …\)",
     "请另存为 UTF-8，或用 --encoding 指定编码（gbk、gb18030、utf-16 …）"),
    (r"save it from Excel/WPS as \.xlsx, or export the sheet as CSV", "请在 Excel/WPS 中另存为 .xlsx，或将工作表导出为 CSV"),
    (r"save it again as \.xlsx", "请重新另存为 .xlsx"),
    (r"open and save it again in Excel/WPS, or export the sheet as CSV", "请在 Excel/WPS 中打开后重新保存，或将工作表导出为 CSV"),
    (r"export the sheet as CSV or Parquet for tables this large", "表格这么大，请导出为 CSV 或 Parquet"),
    (r"put the layer's table in the first sheet", "请把图层表格放在第一个工作表"),
    (r"save it as \.xlsx or export the sheet as CSV", "请另存为 .xlsx，或将工作表导出为 CSV"),
    (r"check the file is complete and in a format GDAL reads \(.*\)",
     "请检查文件是否完整、是否为 GDAL 可读的格式（GeoJSON、GeoPackage、带 .dbf/.shx 的 Shapefile、FlatGeobuf）"),
    (r"copy (?P<side>\S+) next to (?P<shp>\S+): a shapefile is several files .*",
     "请把 {side} 复制到 {shp} 旁：Shapefile 由多个文件组成（.shp、.shx、.dbf、.prj、.cpg），或改用 GeoPackage"),
    (r"write it (?:again )?with (?:pandas/GeoPandas|GeoDataFrame\.to_parquet)", "请用 pandas/GeoPandas 重新写出"),
    (r"--gtfs takes a GTFS feed as published \(\.zip\) or its unzipped folder",
     "--gtfs 需要发布的 GTFS 数据包（.zip）或其解压后的文件夹"),
    (r"the zip is damaged: download the feed again", "zip 已损坏：请重新下载数据包"),
    (r"required: trip_id, service_date, seats, passengers \(or (?P<zh>.+)\)",
     "必需的列：trip_id、service_date、seats、passengers（或 {zh}）"),
    (r"use (?P<exts>\.geojson, .+)", "请使用 {exts}"),
    (r"required: (?P<req>.+); found: (?P<found>.+)", "必需的列：{req}；文件中的列：{found}"),
    (r"give a spatial file \(GeoJSON, GeoPackage, …\) or a CSV with lon and lat columns",
     "请给出空间数据文件（GeoJSON、GeoPackage …），或带 lon、lat（经度、纬度）列的 CSV"),
    (r"drop the datum option", "请去掉坐标系选项"),
    (r"drop the \[crs\] entry or the --crs option for this layer", "请去掉该图层的 [crs] 声明或 --crs 选项"),
    (r"drop the declared CRS: the file says its own", "请去掉声明的坐标参考系：文件已自带"),
    (r"give the layer in EPSG:4326 or a common projected CRS", "请提供 EPSG:4326 或常用投影坐标系的图层"),
    (r"create it or choose another --out", "请先创建该文件夹，或换一个 --out"),
    (r"choose another --out", "请换一个 --out"),
    (r"create it or choose another --map", "请先创建该文件夹，或换一个 --map"),
    (r"fix the TOML or remove the file", "请修正 TOML 或删除该文件"),
    (r"use \.html, \.png, \.svg or \.pdf", "请使用 .html、.png、.svg 或 .pdf"),
    (r"start every worker where this path reaches the same file .*",
     "请在能以同一路径访问该文件的机器上启动每个 Dask 工作进程（各机器在相同路径挂载共享文件夹），或给出所有工作进程都能读取的路径"),
    (r"give --out a folder that this process and every Dask worker reach at the same path.*",
     "请把 --out 设在本进程和每个 Dask 工作进程都能以同一路径访问的文件夹：工作进程把班次的报告行写在报告旁"),
    (r"write \.parquet \(GeoParquet, the form for millions of trips\), \.geojson or \.csv.*",
     "请写成 .parquet（GeoParquet，适合数百万班次）、.geojson 或 .csv：它们分块写出"),
])

#: ConfigError messages (an argument or a setting that is not allowed).
CONFIG = _table([
    (r"(?P<what>--as-of|--date|.*as_of): (?P<value>'.*') is not a date \(use YYYY-MM-DD\)",
     "{what}：{value} 不是日期（请写成 YYYY-MM-DD，如 2020-03-16）"),
    (r"(?P<what>.+): (?P<value>'.*') is not a datum; use (?P<allowed>.+?) \(GCJ-02, WGS-84 … also read\)",
     "{what}：{value} 不是可识别的坐标系；请用 {allowed}（也可写 GCJ-02、WGS-84 等）"),
    (r"(?P<what>.+): (?P<value>'.*') is not a coordinate reference system PROJ knows; give e\.g\. (?P<eg>.+)",
     "{what}：{value} 不是可识别的坐标参考系；请写如 {eg}"),
    (r"--gtfs needs --occupancy \((?P<cols>.+)\)", "--gtfs 需要同时给出 --occupancy（{cols}）"),
    (r"--encoding (?P<value>'.*') is not a known text encoding; use e\.g\. (?P<eg>.+)",
     "--encoding {value} 不是已知的文本编码；可用 {eg}"),
    (r"unknown rule parameter (?P<key>'.*'); allowed: (?P<allowed>.+)", "未知的规则参数 {key}；可用：{allowed}"),
    (r"(?P<path>.+): cannot read the rule configuration \((?P<why>.*)\)", "{path}：无法读取规则配置（{why}）"),
    (r"(?P<path>.+): not valid TOML \((?P<why>.*)\)", "{path}：不是有效的 TOML（{why}）"),
    (r"(?P<what>\w+) of (?P<layer>'.*'): not a layer; use one of (?P<allowed>.+)",
     "{layer} 不是图层（{what}）；可用：{allowed}"),
    (r"Dask worker (?P<w>\S+) runs transportmon (?P<v>\S+), this process (?P<mine>\S+); install transportmon "
     r"(?P<want>\S+) on every worker",
     "Dask 工作进程 {w} 运行的是 transportmon {v}，本进程是 {mine}；请在每个工作进程上安装 transportmon {want}"),
    (r"a Dask worker cannot run transportmon \((?P<why>.*)\); install transportmon (?P<want>\S+) on every worker",
     "有 Dask 工作进程无法运行 transportmon（{why}）；请在每个工作进程上安装 transportmon {want}"),
])


def _translate(text: str, table: list[Pattern]) -> str | None:
    for pattern, zh in table:
        m = pattern.match(text)
        if m:
            return zh.format(**m.groupdict())
    return None


def problem_text(path: str, problem: str, fix: str = "", lang: str = "zh") -> str:
    """A file's problem (``path: problem — fix``, as :class:`InputError` says it) in ``lang``."""
    english = f"{path}: {problem}" + (f" — {fix}" if fix else "") if path else problem
    if lang != "zh":
        return english
    if not path:
        return _translate(problem, CONFIG) or english
    zh_problem = _translate(problem, PROBLEMS)
    zh_fix = _translate(fix, FIXES) if fix else ""
    if zh_problem is None or zh_fix is None:
        return english
    return f"{path}：{zh_problem}" + (f"——{zh_fix}" if zh_fix else "")


def error_text(exc: BaseException, lang: str = "zh") -> str:
    """The error's message in ``lang``: English as raised, or its Chinese form (English when it has none)."""
    if lang != "zh" or not isinstance(exc, TransportmonError):
        return str(exc)
    if isinstance(exc, InputError):
        return problem_text(exc.path, exc.problem, exc.fix, lang)
    return _translate(str(exc), CONFIG) or str(exc)


#: The rejection reasons in Chinese (the machine word stays beside it: scripts and the report use it).
REASON_ZH: dict[str, str] = {
    "missing-id": "编号为空", "duplicate-id": "编号重复", "missing-geometry": "缺少坐标", "invalid-geometry": "几何无效",
    "wrong-geometry-type": "几何类型不符", "coordinates-out-of-range": "坐标超出经纬度范围",
    "malformed-date": "日期无法识别", "closed-before-opened": "撤销日期不晚于设立日期",
    "not-in-calendar": "该日不在运行日历内", "malformed-value": "取值无法识别", "malformed-adcode": "行政区划代码不是6位",
    "unknown-level": "等级无法识别", "missing-adcode": "缺少行政区划代码", "passengers-exceed-seats": "实载人数超过座位数",
    "non-positive-seats": "座位数不大于0", "negative-passengers": "实载人数为负", "unknown-stop": "站点不存在",
    "unknown-trip": "班次不存在", "trip-without-stops": "班次没有经停站", "bad-stop-times": "经停记录有误",
    "stop-outside-boundaries": "站点不在行政区划内", "unknown-adcode": "行政区划代码不存在",
}


def reason_text(reason: str, lang: str = "zh") -> str:
    """``duplicate-id（编号重复）`` in Chinese, the machine word in English."""
    zh = REASON_ZH.get(reason) if lang == "zh" else None
    return f"{reason}（{zh}）" if zh else reason


#: Rejection details, as the validators write them, in Chinese (values carried over).
DETAILS = _table([
    (r"the id is empty", "编号为空"),
    (r"(?P<col>\w+) is empty", "{col} 为空"),
    (r"same (?P<what>id|trip_id and stop_sequence) as row (?P<row>\d+)", "与第{row}行的{what}相同"),
    (r"no geometry", "没有几何"),
    (r"lon=(?P<lon>.*) lat=(?P<lat>.*)", "经度={lon} 纬度={lat}，无法构成坐标"),
    (r"bounds (?P<b>\S+) are not WGS-84 lon/lat \(lat/lon swapped\?\)", "范围 {b} 不是 WGS-84 经纬度（经纬度写反了？）"),
    (r"bounds (?P<b>\S+) are not WGS-84 lon/lat \(projected metres\?.*\)",
     "范围 {b} 不是 WGS-84 经纬度（投影坐标（米）？请在 manifest.toml 的 [crs] 或 --<图层>-crs 声明坐标参考系）"),
    (r"bounds (?P<b>\S+) are not WGS-84 lon/lat", "范围 {b} 不是 WGS-84 经纬度"),
    (r"closed is not after opened", "撤销日期不晚于设立日期"),
    (r"(?P<cell>\w+=.*) is not true/false", "{cell} 不是是/否"),
    (r"(?P<cell>\w+=.*) is not a whole number", "{cell} 不是整数"),
    (r"(?P<cell>\w+=.*); allowed 0/1", "{cell}；只能是 0/1"),
    (r"stop_id=(?P<stop>.*) lies in no boundary polygon", "站点 {stop} 不在任何行政区划内"),
    (r"no usable stop_times rows", "没有可用的经停记录"),
    (r"no stop_times layer", "没有经停站（stop_times）图层"),
    (r"the trip_id is not in the feed's trips\.txt", "trips.txt 中没有该班次"),
    (r"the feed's calendar does not run this trip on its service_date", "GTFS 运行日历中该班次在该日不运行"),
])


def detail_text(detail: str, lang: str = "zh") -> str:
    """A rejected row's detail in ``lang`` (as written when it has no Chinese form)."""
    if lang != "zh" or not detail:
        return detail
    return _translate(detail, DETAILS) or detail


#: Each rule's summary in Chinese, for ``transportmon rules --lang zh`` (a rule without one shows its English).
RULE_SUMMARY_ZH: dict[str, str] = {
    "TM101": "国道、省道、县道、乡道、村道上远离豁免边界（默认湖北）的检测点应撤除。",
    "TM102": "距与豁免邻省交界的路口在容许距离内的检测点可保留。",
    "TM103": "吸附容许距离内没有道路：检测点无法落到道路上，需人工核查。",
    "TM104": "所在道路的等级（高速公路、城市道路等）不在条款所列范围内：需人工核查。",
    "TM105": "核查日检测点未在运行（设立日期 ≤ 核查日 < 撤销日期）。",
    "TM110": "检测点实施劝返：应撤除的检测点为违规，可保留的为警告。",
    "TM111": "检测点拦截货车或邮政车辆：货车必须放行。",
    "TM201": "在中高风险地区上下客的跨省、跨市班车或包车，载客超过客座率上限。",
    "TM202": "客座率上限适用且未超出。",
    "TM203": "客座率上限不适用（客运类型、市内、仅途经、无风险站点），或无法核查（未提供风险地区）。",
    "TM901": "该行没有编号。",
    "TM902": "编号与前面某行重复。",
    "TM903": "几何缺失、为空、无效或类型不符，或坐标不在 WGS-84 经纬度范围内。",
    "TM904": "必填日期缺失或无法识别，或撤销日期不晚于设立日期；或 GTFS 班次在该日不运行。",
    "TM905": "取值不在允许范围内（是/否、等级、行政区划代码、数字）。",
    "TM906": "实载人数超过座位数，或座位数不大于0。",
    "TM907": "引用的站点、班次或行政区划不存在或已被剔除。",
}


def rule_summary(rule_id: str, summary: str, lang: str = "zh") -> str:
    """A rule's summary in ``lang`` (its English summary when it has no Chinese one)."""
    return RULE_SUMMARY_ZH.get(rule_id, summary) if lang == "zh" else summary
