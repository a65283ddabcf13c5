"""The monitor's commands (DESIGN §7–§9): timeline, limits, diff and watch. Thin: parse, call the API, render.

Registered on the app by :mod:`transportmon.cli`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ._errors import ConfigError, InputError, TransportmonError
from .cli_common import (
    TEXT,
    BoundariesDatumOpt,
    BoundariesOpt,
    CheckpointsDatumOpt,
    CheckpointsOpt,
    DataOpt,
    FailOn,
    GtfsOpt,
    Lang,
    OccupancyOpt,
    RiskAreasOpt,
    RoadsDatumOpt,
    RoadsOpt,
    StopsDatumOpt,
    StopsOpt,
    StopTimesOpt,
    TripsOpt,
    datums_of,
    err,
    fail,
    print_summary,
)

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

    datums = datums_of(checkpoints=checkpoints_datum, stops=stops_datum, roads=roads_datum,
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
        fail(exc)
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



LIMITS_TEXT = {
    "zh": {"title": "{date} 班次限售", "summary": "{date}：{n} 个班次，{capped} 个限载（客座率上限），{rejected} 个无法给出限额",
           "written": "限售表", "rejected": "无法给出限额"},
    "en": {"title": "ticket limits {date}", "summary": "{date}: {n} trips, the cap applies to {capped}, {rejected} cannot "
           "be given a limit", "written": "limits", "rejected": "no limit"},
}


def limits(
    date: Annotated[str, typer.Option("--date", help="Service date YYYY-MM-DD of the trips to give limits for.")],
    data: DataOpt = None,
    boundaries: BoundariesOpt = None,
    risk_areas: RiskAreasOpt = None,
    stops: StopsOpt = None,
    trips: TripsOpt = None,
    stop_times: StopTimesOpt = None,
    gtfs: GtfsOpt = None,
    occupancy: OccupancyOpt = None,
    stops_datum: StopsDatumOpt = None,
    boundaries_datum: BoundariesDatumOpt = None,
    config: Annotated[Path | None, typer.Option("--config", help="rules.toml with rule parameters.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="limits.csv (UTF-8 with BOM) or limits.xlsx; default: "
                                             "a table on the terminal.")] = None,
    lang: Annotated[Lang, typer.Option("--lang", help="Language of the headers and the terminal.")] = Lang.zh,
    encoding: Annotated[str | None, typer.Option(help="Text encoding of CSV inputs.")] = None,
) -> None:
    """Ticket limits before departure: for every trip of --date, whether the occupancy cap applies and how many
    tickets may be sold (passengers may be empty: tickets not sold yet). Decided by the audit's own trip rules.
    Exit 0 (also for a date with no trips: an empty table and a warning), 2 for unusable input."""
    from .io.limits import desk_table, limits_format, write_limits
    from .ticket_limits import limits as run_limits

    datums = datums_of(stops=stops_datum, boundaries=boundaries_datum)
    given = [p for p in (data, boundaries, risk_areas, stops, trips, stop_times, gtfs, occupancy)
             if p is not None and not Path(p).is_dir()]
    try:
        if out is not None:
            limits_format(out)  # a bad --out is refused before the work
        table = run_limits(data, date=date, boundaries=boundaries, risk_areas=risk_areas, stops=stops, trips=trips,
                           stop_times=stop_times, gtfs=gtfs, occupancy=occupancy, config=config, datums=datums,
                           encoding=encoding)
        if out is not None:
            inputs = given + [Path(m["path"]) for m in table.attrs.get("inputs", {}).values() if m.get("path")]
            write_limits(table, out, lang=lang.value, inputs=inputs)
    except TransportmonError as exc:
        fail(exc)
        return
    t = LIMITS_TEXT[lang.value]
    day = table.attrs.get("date", date)
    console = Console(stderr=out is None)  # without --out, stdout holds the table alone
    if out is None:
        desk = desk_table(table, lang.value)
        shown = Table(title=t["title"].format(date=day), show_header=True, header_style="bold")
        for c in desk.columns:
            shown.add_column(str(c), overflow="fold")
        for row in desk.astype(object).where(desk.notna(), "").itertuples(index=False, name=None):
            shown.add_row(*(escape(str(v)) for v in row))
        Console().print(shown)
    rejected = table[table["cap_applies"].isna().to_numpy()]
    for r in rejected.itertuples(index=False):
        console.print(f"[magenta]{t['rejected']}:[/] {escape(r.trip_id)} — {escape(r.reason)} ({escape(r.detail)})",
                      highlight=False, soft_wrap=True)
    for w in table.attrs.get("warnings", []):
        console.print(f"[yellow]warning:[/] {escape(w)}", highlight=False, soft_wrap=True)
    capped = int(table["cap_applies"].fillna(False).astype(bool).sum())
    console.print(t["summary"].format(date=day, n=len(table), capped=capped, rejected=len(rejected)),
                  highlight=False)
    if out is not None:
        console.print(f"{t['written']}: {out}", highlight=False)



def diff_cmd(
    old: Annotated[Path, typer.Argument(help="The earlier report (.geojson, .parquet, .gpkg or .csv).")],
    new: Annotated[Path, typer.Argument(help="The later report (.geojson, .parquet, .gpkg or .csv).")],
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
        fail(exc)
        return
    render_diff(found, lang.value, Console(), show, str(old), str(new))
    if out is not None:
        err.print(f"changes: {out}", highlight=False)
    raise typer.Exit(code=found.exit_code)


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
        fail(exc)
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
                print_summary(run.result, out, lang.value, console)
            else:
                render_diff(run.diff, lang.value, console, show, run.previous, f"run {run.number}")
                console.print(f"{TEXT[lang.value]['report']}: {out}", highlight=False)
            code = run.exit_code
    except KeyboardInterrupt:
        err.print(f"watch stopped; the last report is {out}", highlight=False)
        raise typer.Exit(code=0) from None
    raise typer.Exit(code=code)
