"""The terminal rendering of a report diff, shared by ``transportmon diff`` and each run of ``transportmon watch``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from .changes import ReportDiff

DIFF_TEXT = {
    "zh": {"title": "transportmon 报告对比", "asof": "核查日期", "subjects": "对象", "unchanged": "未变",
           "changes": "变化的对象", "findings": "新增与已解决的违规", "change": "变化", "subject": "对象",
           "verdict": "结论（旧 → 新）", "severity": "级别（旧 → 新）", "message": "说明", "none": "无变化",
           "more": "… 另有 {n} 行，见 --out", "alerts": "新增违规：{n}（退出码 1）", "policies": "两份报告的政策不同"},
    "en": {"title": "transportmon report diff", "asof": "as of", "subjects": "subjects", "unchanged": "unchanged",
           "changes": "changed subjects", "findings": "new and resolved violations", "change": "change",
           "subject": "subject", "verdict": "verdict (old → new)", "severity": "severity (old → new)",
           "message": "message", "none": "nothing changed", "more": "… {n} more rows: see --out",
           "alerts": "new violations: {n} (exit code 1)", "policies": "the reports are of different policies"},
}
CHANGE_STYLE = {"new": "cyan", "gone": "dim", "changed": "yellow", "new-violation": "red", "resolved": "green"}


def render_diff(d: ReportDiff, lang: str, console: Console, show: int = 20, old: str = "OLD",
                new: str = "NEW") -> None:
    """Counts and tables of a :class:`~transportmon.changes.ReportDiff` (``diff`` and every run of ``watch``)."""
    t, c = DIFF_TEXT[lang], d.counts
    dates = [d.metadata["diff"][k].get("as_of") or "?" for k in ("old", "new")]
    console.print(f"[bold]{t['title']}[/]  {escape(old)} ({t['asof']} {dates[0]}) → {escape(new)} ({t['asof']} "
                  f"{dates[1]})", highlight=False)
    if d.policies[0] != d.policies[1] and None not in d.policies:
        console.print(f"[yellow]warning:[/] {t['policies']}: {escape(str(d.policies[0]))} → "
                      f"{escape(str(d.policies[1]))}", highlight=False)
    console.print(f"{t['subjects']}: {c['subjects_old']} → {c['subjects_new']}   {t['unchanged']}: "
                  f"{c['unchanged']}   " + "   ".join(f"[{CHANGE_STYLE[k]}]{k}[/]: {c[k]}"
                                                    for k in ("new", "gone", "changed")), highlight=False)
    console.print("   ".join(f"[{CHANGE_STYLE[k]}]{k}[/]: {c[k]}" for k in ("new-violation", "resolved")),
                  highlight=False)
    msg = "message_zh" if lang == "zh" else "message_en"
    for title, frame, cols in ((t["changes"], d.subjects, ("change", "subject", "id", "verdict")),
                               (t["findings"], d.findings, ("change", "finding_id", "severity", "message"))):
        if not len(frame) or show <= 0:
            continue
        shown = frame.head(show)
        table = Table(title=title, show_header=True, header_style="bold")
        for col in cols:  # a finding id whole (it is what one searches for); the message takes what is left
            table.add_column(t.get(col, col), overflow="fold", no_wrap=col in ("change", "finding_id"),
                             ratio=1 if col == "message" else None)
        for r in shown.itertuples(index=False):
            style = CHANGE_STYLE.get(r.change, "")
            if frame is d.subjects:
                table.add_row(f"[{style}]{r.change}[/]", r.subject, escape(str(r.subject_id)),
                              f"{_word(r.old_verdict)} → {_word(r.verdict)}")
            else:
                table.add_row(f"[{style}]{r.change}[/]", escape(str(r.finding_id)),
                              f"{_word(r.old_severity)} → {_word(r.severity)}", escape(_word(getattr(r, msg))))
        console.print(table)
        if len(frame) > len(shown):
            console.print(t["more"].format(n=len(frame) - len(shown)), style="dim", highlight=False)
    if not (len(d.subjects) or len(d.findings)):
        console.print(t["none"], style="green", highlight=False)
    if d.counts["alerts"]:
        console.print(t["alerts"].format(n=d.counts["alerts"]), style="bold red", highlight=False)


def _word(value: object) -> str:
    return "—" if value is None or value is pd.NA or (isinstance(value, float) and value != value) else str(value)
