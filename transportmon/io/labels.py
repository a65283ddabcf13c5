"""Words of the desk formats in Chinese and English: sheet names, column headers, summary labels, layer names.

The report's columns keep their machine names in every file that is read back by programs (GeoJSON, GeoParquet,
CSV, GeoPackage fields); the xlsx workbook, read by people, shows these headers instead.
"""

from __future__ import annotations

#: Sheet names (Excel allows 31 characters and no ``[]:*?/\``).
SHEETS = {
    "zh": {"summary": "摘要", "checkpoint": "检测点", "trip": "班次", "route": "线路", "rejected": "不可核查行"},
    "en": {"summary": "Summary", "checkpoint": "Checkpoints", "trip": "Trips", "route": "Routes",
           "rejected": "Rejected rows"},
}

#: column → (Chinese, English) header. A column not listed keeps its name.
HEADERS: dict[str, tuple[str, str]] = {
    "layer": ("图层", "layer"),
    "subject": ("对象类型", "subject"),
    "subject_id": ("编号", "id"),
    "name": ("名称", "name"),
    "verdict_label": ("结论", "verdict"),
    "verdict": ("结论代码", "verdict code"),
    "reason": ("原因", "reason"),
    "max_severity": ("最高级别", "most severe"),
    "rule_ids": ("规则", "rules"),
    "message": ("主要说明", "main finding"),
    "findings_text": ("全部发现", "all findings"),
    "lon": ("经度", "lon"),
    "lat": ("纬度", "lat"),
    "road_id": ("道路编号", "road id"),
    "road_ref": ("路线编号", "road ref"),
    "road_class": ("道路等级", "road class"),
    "distance_to_road_m": ("距道路（米）", "to road (m)"),
    "distance_to_exempt_border_m": ("距豁免边界直线（米）", "to exempt border, straight (m)"),
    "distance_to_crossing_m": ("距边界路口沿路（米）", "to border crossing by road (m)"),
    "overdue_days": ("逾期天数", "overdue days"),
    "passengers": ("乘客数", "passengers"),
    "seats": ("座位数", "seats"),
    "occupancy": ("客座率", "occupancy"),
    "cap": ("客座率上限", "cap"),
    "max_passengers": ("最多可载", "max passengers"),
    "excess_passengers": ("超载人数", "excess passengers"),
    "risk_stops": ("风险地区站点", "risk stops"),
    "risk_level": ("风险等级", "risk level"),
    "scope": ("范围", "scope"),
    "service_date": ("运行日期", "service date"),
    "route_id": ("线路编号", "route id"),
    "baseline_trips_per_day": ("基线日均班次", "baseline trips per day"),
    "recent_trips": ("近7日班次", "trips in the last 7 days"),
    "restored_ratio": ("恢复比例", "restored ratio"),
    "detail": ("详情", "detail"),
    "source_row": ("源文件行号", "source row"),
    "policy": ("依据", "policy"),
}

#: Layer and subject names in Chinese (English keeps the machine name).
LAYER_NAMES = {
    "zh": {"checkpoint": "检测点", "trip": "班次", "route": "线路", "roads": "道路", "checkpoints": "检测点",
           "boundaries": "行政区划", "risk_areas": "风险地区", "stops": "站点", "trips": "班次",
           "stop_times": "停靠站次", "waivers": "豁免", "occupancy": "客流", "routes": "线路"},
    "en": {},
}

#: Labels of the summary sheet.
TEXT = {
    "zh": {"title": "transportmon 核查报告", "as_of": "核查日期", "policy": "依据", "tool": "工具", "sample": "样例",
           "from_manifest": "（数据目录 manifest.toml 的默认日期）", "today": "（今天）",
           "inputs": "输入文件", "layer": "图层", "path": "路径", "rows": "行数", "format": "格式", "notes": "说明",
           "by_verdict": "按结论统计", "subject": "对象", "verdict": "结论", "verdict_code": "结论代码",
           "count": "数量", "by_severity": "按最高级别统计（对象数）", "severity": "级别", "subjects": "对象数",
           "rules": "规则", "rules_run": "已运行", "rules_skipped": "未运行", "warnings": "运行警告", "none": "无",
           "other": "其他信息", "attribution": "数据来源与许可"},
    "en": {"title": "transportmon audit report", "as_of": "as of", "policy": "policy", "tool": "tool",
           "sample": "sample", "from_manifest": " (the data folder's default, manifest.toml)", "today": " (today)",
           "inputs": "inputs", "layer": "layer", "path": "path", "rows": "rows", "format": "format",
           "notes": "notes", "by_verdict": "counts by verdict", "subject": "subject", "verdict": "verdict",
           "verdict_code": "verdict code", "count": "count",
           "by_severity": "subjects by most severe finding", "severity": "severity", "subjects": "subjects",
           "rules": "rules", "rules_run": "ran", "rules_skipped": "did not run", "warnings": "run warnings",
           "none": "none", "other": "other metadata", "attribution": "data sources and licences"},
}


def header(column: str, lang: str) -> str:
    """The header of ``column`` in ``lang``."""
    zh, en = HEADERS.get(column, (column, column))
    return zh if lang == "zh" else en
