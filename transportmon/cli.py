"""The command line: parse, call the API, render. No rule logic lives here."""

from __future__ import annotations

import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperCommand, TyperGroup

from . import cli_monitor
from ._errors import InputError, TransportmonError
from .allocator import prepare_process
from .cli_common import (
    BoundariesCrsOpt,
    BoundariesDatumOpt,
    BoundariesOpt,
    CheckFmt,
    CheckpointsCrsOpt,
    CheckpointsDatumOpt,
    CheckpointsOpt,
    DataOpt,
    Engine,
    FailOn,
    Fmt,
    GtfsOpt,
    Lang,
    OccupancyOpt,
    Only,
    RiskAreasOpt,
    RoadsCrsOpt,
    RoadsDatumOpt,
    RoadsOpt,
    StopsCrsOpt,
    StopsDatumOpt,
    StopsOpt,
    StopTimesOpt,
    TripsOpt,
    WaiversOpt,
    datums_of,
    err,
    fail,
    print_summary,
)
from .i18n import detail_text, problem_text, reason_text, rule_summary

# How the process allocates (glibc kept from returning memory, Arrow on it, numpy without huge pages): before numpy
# and pyarrow load, which the imports above do not do.
prepare_process()


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
    from contextlib import ExitStack

    from .cli_progress import progress_display
    from .io.write import check_target, output_format, write_report
    from .pipeline import audit as run_audit
    from .progress import tell
    from .report import filter_only

    datums = datums_of(checkpoints=checkpoints_datum, stops=stops_datum, roads=roads_datum,
                     boundaries=boundaries_datum)
    crs = datums_of(checkpoints=checkpoints_crs, stops=stops_crs, roads=roads_crs, boundaries=boundaries_crs)
    given_inputs = [p for p in (data, roads, checkpoints, boundaries, risk_areas, stops, trips, stop_times, gtfs,
                                occupancy, waivers) if p is not None and not Path(p).is_dir()]
    failure: TransportmonError | None = None
    with progress_display(err, lang.value, quiet=quiet) as progress, ExitStack() as stack:
        try:
            # Refuse a bad --out or --map before the work, and before anything reaches stdout.
            output_format(out)
            if out != "-":
                check_target(out, given_inputs)
            if map_out is not None:
                _check_map_out(map_out)
            spill = None
            if engine is Engine.dask and map_out is None:  # the trips stay with the workers until written
                from .io.stream import spill_folder

                spill = stack.enter_context(spill_folder(out))
            # The memory engine writes the report itself: a GeoParquet file while the trips are judged, whose rows
            # need not stay in memory unless a map is drawn or the report printed.
            written_by_audit = out if out != "-" and engine is Engine.memory else None
            to_stdout = out == "-" or fmt is Fmt.geojson
            result = run_audit(data, roads=roads, checkpoints=checkpoints, boundaries=boundaries,
                               risk_areas=risk_areas, stops=stops, trips=trips, stop_times=stop_times, gtfs=gtfs,
                               occupancy=occupancy, waivers=waivers, as_of=as_of, config=config, datums=datums, crs=crs,
                               encoding=encoding, engine=engine.value, scheduler=scheduler, spill=spill,
                               keep_layers=map_out is not None, progress=progress, out=written_by_audit,
                               only=only.value if only else None, lang=lang.value,
                               keep_trips=map_out is not None or to_stdout)
            metadata = dict(result.metadata, only=only.value) if only else result.metadata  # the file says so
            inputs = given_inputs + [Path(m["path"]) for m in result.metadata["inputs"].values() if m.get("path")]
            if out != "-":
                check_target(out, inputs)
            tell(progress, "write", layer=out)
            for target in (["-"] if to_stdout else []) + ([out] if out != "-" and result.written is None else []):
                if result.spilled is not None:
                    from .io.stream import write_spilled

                    write_spilled(result.report, metadata, result.spilled, target, inputs=inputs, lang=lang.value,
                                  only=only.value if only else None)
                else:
                    write_report(filter_only(result.report, only.value if only else None), metadata, target,
                                 inputs=inputs, lang=lang.value)
            if map_out is not None:
                from .maps import map_file

                tell(progress, "map", layer=str(map_out))
                map_file(result, map_out)
        except TransportmonError as exc:
            failure = exc
    if failure is not None:
        fail(failure, lang.value)
        return
    console = Console(stderr=to_stdout)
    if fmt is Fmt.json and not to_stdout:  # one JSON document on stdout: the report when it is there
        print(json.dumps(metadata, ensure_ascii=False, indent=1, default=str))
    elif fmt is Fmt.table or to_stdout:
        print_summary(result, None if out == "-" else out, lang.value, console, only=only.value if only else None)
    raise typer.Exit(code=result.exit_code_for(fail_on.value))


def _check_map_out(map_out: Path) -> None:
    """``--map``: a map format, into a folder that exists (refused before the audit runs, naming --map)."""
    from .maps import check_map_target

    check_map_target(map_out)
    folder = map_out.resolve().parent
    if not folder.is_dir():
        raise InputError(map_out, f"folder {folder} does not exist", "create it or choose another --map")



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

    datums = datums_of(checkpoints=checkpoints_datum, stops=stops_datum, roads=roads_datum,
                     boundaries=boundaries_datum)
    crs = datums_of(checkpoints=checkpoints_crs, stops=stops_crs, roads=roads_crs, boundaries=boundaries_crs)
    try:
        found = validate_inputs(data, roads=roads, checkpoints=checkpoints, boundaries=boundaries,
                                risk_areas=risk_areas, stops=stops, trips=trips, stop_times=stop_times, gtfs=gtfs,
                                occupancy=occupancy, waivers=waivers, config=config, datums=datums, crs=crs,
                                encoding=encoding)
    except TransportmonError as exc:
        fail(exc, lang.value)
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
    report: Annotated[Path, typer.Argument(help="Report written by transportmon audit (.geojson, .parquet or .gpkg).")],
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
        fail(exc)
        return
    for note in result.metadata.get(NOTES_KEY, []):
        err.print(f"[yellow]warning:[/] {escape(note)}", markup=True, highlight=False, soft_wrap=True)
    err.print(f"map: {written}", highlight=False)



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
        fail(ValueError("give exactly one of --place, --bbox or --osm-file"))
    try:
        if osm_file is not None:
            frame = osm.roads_from_osm_file(osm_file)
        elif place is not None:
            frame = osm.roads_from_place(place)
        else:
            try:
                west, south, east, north = (float(v) for v in str(bbox).split(","))
            except ValueError:
                fail(ValueError(f"--bbox {bbox!r}: give west,south,east,north in degrees"))
                return
            frame = osm.roads_from_bbox(west, south, east, north)
        frame["road_class"] = classify(frame["road_class"], frame["ref"], frame["highway"], frame["route"])
        write_layer(frame, str(out), inputs=[osm_file] if osm_file else [])
    except TransportmonError as exc:
        fail(exc)
        return
    counts = frame["road_class"].value_counts().sort_index()
    console = Console()
    console.print(f"{len(frame)} road rows → {out}", highlight=False)
    console.print(", ".join(f"{k}: {v}" for k, v in counts.items()), style="dim", highlight=False)
    for note in frame.attrs.get("source", {}).get("notes", []):  # closed tracks left out, duplicate nodes merged
        console.print(f"[yellow]warning:[/] {escape(note)}", highlight=False)


# The monitor's commands live in cli_monitor.py; registered here, after audit, in the order --help lists them.
app.command()(cli_monitor.timeline)
app.command()(cli_monitor.limits)
app.command("diff")(cli_monitor.diff_cmd)
app.command()(cli_monitor.watch)


def main() -> None:
    """Console-script entry point: the command, then :func:`leave`."""
    try:
        app()
    except SystemExit as exc:
        leave(exc.code)
    leave(0)


def leave(code: object) -> None:
    """End the process with ``code`` once the command is done, without freeing its memory object by object.

    An audit of millions of trips holds gigabytes of arrays until the end; letting the interpreter free them one by
    one before the process ends took a second at ten million stop rows (benchmarks/RESULTS.md), where the operating
    system takes the memory back at once. The output streams are flushed first; what remains to do at exit is only
    freeing memory — except where Dask was loaded (its clusters close at exit) or the code is not a number, when
    the interpreter ends the process as usual. The command line's entry point only: the API and tests calling
    ``app`` in-process are unaffected.
    """
    if "distributed" in sys.modules or not (code is None or isinstance(code, int)):
        raise SystemExit(code)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`) or stream: nothing more can reach it
            pass
    os._exit(code or 0)


if __name__ == "__main__":  # pragma: no cover
    main()

