"""Popups and tooltips of the HTML map: every value taken from the data is HTML-escaped here, once.

Ids, names, reasons and finding messages come from files anyone can write; each goes through :func:`escaped` before
it is put in markup, and the map's script only inserts these prepared strings.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd

from ..palette import verdict_style
from .style import RISK_STYLE, ROAD_STYLE

__all__ = ["cell_text", "checkpoint_popup", "escaped", "risk_popup", "road_tip", "route_popup", "trip_popup"]

SEVERITY_ZH = {"violation": "违规", "warning": "警告", "waived": "已豁免", "info": "信息"}


def cell_text(value: Any) -> str:
    """Display text of a cell: empty for missing values."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float) and not np.isfinite(value):
        return ""
    if isinstance(value, (list, tuple, np.ndarray)):
        return ", ".join(cell_text(v) for v in value)
    return str(value)


def escaped(value: Any) -> str:
    """:func:`cell_text`, HTML-escaped (quotes too: safe in an attribute)."""
    return html.escape(cell_text(value), quote=True)


def _metres(value: Any) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "—"
    if not np.isfinite(v):
        return "—"
    return f"{v:,.0f} m" if v < 10_000 else f"{v / 1000:,.1f} km"


def _verdict_label(verdict: Any) -> str:
    colour, zh, en = verdict_style(cell_text(verdict))
    return (f'<span class="tm-badge" style="background:{colour}">{html.escape(zh)} {html.escape(en)}</span>')


def _findings_html(findings: Any) -> str:
    if not isinstance(findings, (list, tuple)) or not findings:
        return ""
    items = []
    for f in findings:
        if not isinstance(f, dict):
            continue
        sev = cell_text(f.get("severity"))
        waiver = f.get("waiver")
        cited = (f'<br><span class="tm-waiver">豁免 waiver {escaped(waiver.get("document"))} 至 until '
                 f'{escaped(waiver.get("valid_until"))}</span>' if isinstance(waiver, dict) else "")
        items.append(
            f'<li class="tm-{escaped(sev)}"><b>{escaped(f.get("rule_id"))}</b> {escaped(SEVERITY_ZH.get(sev, sev))} {escaped(sev)}<br>'
            f'{escaped(f.get("message_zh"))}<br><span class="tm-en">{escaped(f.get("message_en"))}</span>{cited}</li>')
    return '<div class="tm-h">发现 findings</div><ul class="tm-findings">' + "".join(items) + "</ul>"


def _rows(pairs: list[tuple[str, str]]) -> str:
    return "<table>" + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in pairs if v) + "</table>"


def _days(value: Any) -> str:
    """Whole days (``overdue_days``; a report read back from GeoJSON or CSV may hold 12.0): empty when missing."""
    text = cell_text(value)
    if not text:
        return ""
    days = int(float(text))
    return f"{days:,} 天 day{'' if days == 1 else 's'}"


def checkpoint_popup(r: dict[str, Any]) -> str:
    """A checkpoint's popup: verdict, road, the three distances, days overdue (a remove past its due date),
    findings in both languages."""
    road_class = cell_text(r.get("road_class"))
    road = " ".join(x for x in (escaped(r.get("road_ref")), escaped(ROAD_STYLE.get(road_class, ("", 0, road_class))[2]),
                                escaped(road_class)) if x)
    if cell_text(r.get("road_id")):
        road += f' <span class="tm-en">({escaped(r.get("road_id"))})</span>'
    return ('<div class="tm-popup">'
            f'<div class="tm-title">{escaped(r.get("subject_id"))} {escaped(r.get("name"))}</div>'
            + _rows([
                ("结论 verdict", _verdict_label(r.get("verdict"))
                 + (f' <code>{escaped(r.get("reason"))}</code>' if cell_text(r.get("reason")) else "")),
                ("道路 road", road),
                ("距道路 to road", _metres(r.get("distance_to_road_m"))),
                ("距豁免边界(直线) to exempt border, straight", _metres(r.get("distance_to_exempt_border_m"))),
                ("距边界路口(沿路) to crossing, by road", _metres(r.get("distance_to_crossing_m"))),
                ("逾期 overdue", _days(r.get("overdue_days"))),
                ("说明 detail", escaped(r.get("detail"))),
            ])
            + _findings_html(r.get("findings")) + "</div>")


def trip_popup(r: dict[str, Any]) -> str:
    """A trip's popup: verdict, date, scope, occupancy against the cap, risk stops, findings."""
    occ = r.get("occupancy")
    occ_text = f"{float(occ):.1%}" if cell_text(occ) else ""
    cap = r.get("cap")
    cap_text = f"{float(cap):.0%}" if cell_text(cap) else ""
    return ('<div class="tm-popup">'
            f'<div class="tm-title">{escaped(r.get("subject_id"))} <span class="tm-en">{escaped(r.get("route_id"))}</span></div>'
            + _rows([
                ("结论 verdict", _verdict_label(r.get("verdict"))
                 + (f' <code>{escaped(r.get("reason"))}</code>' if cell_text(r.get("reason")) else "")),
                ("日期 service date", escaped(r.get("service_date"))),
                ("范围 scope", escaped(r.get("scope"))),
                ("乘客/座位 passengers/seats", f'{escaped(r.get("passengers"))} / {escaped(r.get("seats"))}'),
                ("客座率 occupancy",
                 html.escape(occ_text) + (f" (限 cap {html.escape(cap_text)})" if cap_text else "")),
                ("最多乘客 max passengers", escaped(r.get("max_passengers"))),
                ("超员 excess", escaped(r.get("excess_passengers"))),
                ("风险站点 risk stops", escaped(r.get("risk_stops"))),
                ("风险等级 risk level", escaped(r.get("risk_level"))),
            ])
            + _findings_html(r.get("findings")) + "</div>")


def route_popup(r: dict[str, Any]) -> str:
    """A route's popup: verdict, trips in the last 7 days against the baseline, risk stops, findings."""
    ratio = r.get("restored_ratio")
    ratio_text = f"{float(ratio):.1%}" if cell_text(ratio) else ""
    per_day = r.get("baseline_trips_per_day")
    return ('<div class="tm-popup">'
            f'<div class="tm-title">{escaped(r.get("subject_id"))} <span class="tm-en">线路 route</span></div>'
            + _rows([
                ("结论 verdict", _verdict_label(r.get("verdict"))
                 + (f' <code>{escaped(r.get("reason"))}</code>' if cell_text(r.get("reason")) else "")),
                ("基线日均班次 baseline trips a day", escaped(f"{float(per_day):.4g}" if cell_text(per_day) else "")),
                ("近7日班次 trips in the last 7 days", escaped(r.get("recent_trips"))),
                ("恢复比例 restored", html.escape(ratio_text)),
                ("风险站点 risk stops", escaped(r.get("risk_stops"))),
                ("风险等级 risk level", escaped(r.get("risk_level"))),
            ])
            + _findings_html(r.get("findings")) + "</div>")


def risk_popup(r: dict[str, Any], date: str) -> str:
    """A risk area's popup: its level on ``date``, the unit whose designation decided it, since when."""
    level = cell_text(r.get("level"))
    zh = RISK_STYLE.get(level, ("", 0, level))[2]
    vf = r.get("valid_from")
    return ('<div class="tm-popup">'
            f'<div class="tm-title">{escaped(r.get("name"))} <span class="tm-en">{escaped(r.get("adcode"))}</span></div>'
            + _rows([
                (f"{html.escape(date)} 风险等级 level", f"{escaped(zh)} {escaped(level)}"),
                ("依据单位 designated unit", escaped(r.get("unit"))),
                ("起始 since", escaped(pd.Timestamp(vf).strftime("%Y-%m-%d") if cell_text(vf) and not pd.isna(vf) else "")),
            ]) + "</div>")


def road_tip(r: dict[str, Any]) -> str:
    """A road's tooltip: ref, name, class (Chinese and English), id."""
    cls = cell_text(r.get("road_class"))
    return " ".join(x for x in (escaped(r.get("ref")), escaped(r.get("name")), escaped(ROAD_STYLE.get(cls, ("", 0, cls))[2]),
                                escaped(cls), f'<span class="tm-en">{escaped(r.get("road_id"))}</span>') if x)
