"""The audit, end to end: load the inputs → measure → decide → assemble the report.

Loading (reading, validating and cross-checking the layers) is :func:`transportmon.inputs.load_inputs`; the trip
audit both engines run is :mod:`transportmon.trip_audit`. This module orchestrates. It is the Python API the CLI and
the notebooks share (re-exported as ``transportmon.audit``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from . import layers as L
from ._errors import ConfigError
from ._version import __version__
from .config import RuleConfig
from .geo.evidence import RoadContext, checkpoint_evidence, metric_crs, road_context, road_warnings
from .geo.names import neighbour_names
from .inputs import Inputs, defaulted_warnings, load_inputs
from .io.discover import LAYER_NAMES, MANIFEST
from .progress import Progress, tell
from .report import assemble, attach_findings, finding_counts, report_limits, verdict_counts
from .result_api import ResultAPI
from .rules import checkpoints as cp_rules
from .rules.all_rules import plan as rule_plan
from .rules.inputs import rejected_findings
from .source_rows import rejected_rows
from .trip_audit import TripAudit, audit_trips, prepare_trips, release_stop_rows, stop_rows

if TYPE_CHECKING:
    from .routes import FactsLater, RouteFacts
    from .spill import SpilledTrips

__all__ = ["AuditResult", "Engine", "Inputs", "Measured", "audit", "load_inputs", "measure",
           "report_on"]


@dataclass(repr=False)  # i16: repr, exit_code (property), exit_code_for, write, report.explore from ResultAPI
class AuditResult(ResultAPI):
    """What an audit produced: the report frame (one row per subject), its metadata, and the layers behind it."""

    report: gpd.GeoDataFrame
    metadata: dict[str, Any]
    layers: dict[str, L.Layer] = field(default_factory=dict)
    roads: RoadContext | None = None
    config: RuleConfig = field(default_factory=RuleConfig)
    spilled: SpilledTrips | None = None
    """With ``audit(..., spill=DIR)``: the audited trips, written in parts to DIR and not in ``report`` (which then
    holds the other subjects); :meth:`write` writes them all, in report order."""
    written: str | None = None
    """With ``audit(..., out=PATH)``: the format written there (as :meth:`write` returns it)."""


Engine = Literal["memory", "dask"]


@dataclass
class Measured:
    """Everything an audit measures that does not depend on the as-of date: what :func:`report_on` decides from.

    Checkpoint evidence (road, distances to the exempt border and its crossings) is measured once; its verdicts
    depend on the as-of date and are decided by :func:`report_on`. Trips are judged on their own service dates and
    rejected rows are rejected whatever the date, so both are subjects already.
    """

    inputs: Inputs
    layers: dict[str, L.Layer]
    crs: Any
    """The metric CRS every distance was measured in."""
    roads: RoadContext | None
    checkpoints: pd.DataFrame | None
    """Evidence of every usable checkpoint (:func:`~transportmon.geo.evidence.checkpoint_evidence`), or None."""
    neighbours: tuple[str, str] | None
    subjects: list[gpd.GeoDataFrame]
    """Subjects with their findings whose verdicts do not depend on the as-of date: trips, then rejected rows."""
    rules_run: list[str]
    skipped: dict[str, str]
    routes: RouteFacts | None = None
    """Per route, what its verdict on a day is decided from (:func:`transportmon.routes.route_facts`), or None when
    the trips layer has no route."""
    routes_later: FactsLater | None = None
    """With ``defer_trips``: ``routes`` whose patterns are being counted on a thread
    (:class:`transportmon.routes.FactsLater`), for :meth:`route_facts` to finish."""
    route_warnings: list[str] = field(default_factory=list)
    spilled: SpilledTrips | None = None
    """The audited trips the Dask engine's workers wrote to a spill folder (then not in ``subjects``), or None."""
    trips: TripAudit | None = None
    """With ``measure(..., defer_trips=True)``: the trip audit prepared, the trips not yet judged (then not in
    ``subjects``); :func:`report_on` judges them, a range at a time when it writes the report as it goes."""

    def route_facts(self) -> RouteFacts | None:
        """``routes``, once they are computed (:attr:`routes_later`)."""
        if self.routes_later is not None:
            self.routes, self.routes_later = self.routes_later.result(), None
        return self.routes


def audit(
    data: str | os.PathLike[str] | None = None,
    *,
    roads: str | os.PathLike[str] | None = None,
    checkpoints: str | os.PathLike[str] | None = None,
    boundaries: str | os.PathLike[str] | None = None,
    risk_areas: str | os.PathLike[str] | None = None,
    stops: str | os.PathLike[str] | None = None,
    trips: str | os.PathLike[str] | None = None,
    stop_times: str | os.PathLike[str] | None = None,
    gtfs: str | os.PathLike[str] | None = None,
    occupancy: str | os.PathLike[str] | None = None,
    waivers: str | os.PathLike[str] | None = None,
    as_of: str | date | None = None,
    config: RuleConfig | str | os.PathLike[str] | None = None,
    datums: dict[str, str] | None = None,
    crs: dict[str, str] | None = None,
    columns: dict[str, dict[str, str]] | None = None,
    encoding: str | None = None,
    use_sample: bool | None = None,
    engine: Engine = "memory",
    scheduler: str | None = None,
    spill: str | os.PathLike[str] | None = None,
    keep_layers: bool = True,
    progress: Progress | None = None,
    out: str | os.PathLike[str] | None = None,
    only: str | None = None,
    lang: str = "zh",
    keep_trips: bool = True,
) -> AuditResult:
    """Audit checkpoints and coach trips against clause (六).

    With no input given, the embedded Jiujiang 2020 sample.

    Parameters
    ----------
    data
        A folder of layers (``roads.geojson``, ``检测点.xlsx`` …), optionally with a ``manifest.toml``.
    roads, checkpoints, boundaries, risk_areas, stops, trips, stop_times
        Per-layer files; they override the folder's.
    gtfs, occupancy
        A GTFS feed (zip or folder) and its occupancy table, instead of ``stops``/``trips``/``stop_times``.
    waivers
        Approved exceptions (CSV or xlsx, :mod:`transportmon.waivers`); they override the folder's ``waivers.*``.
    as_of
        The audit date for checkpoints; default the manifest's, else today.
    config
        A :class:`~transportmon.config.RuleConfig`, or the path of a ``rules.toml``.
    datums
        ``{layer: "wgs84" | "gcj02" | "bd09"}`` (``GCJ-02``, ``WGS84`` … also read); the manifest's ``[datum]``
        table otherwise.
    crs
        ``{layer: "EPSG:4547"}``: the CRS of a table's projected x/y columns; the manifest's ``[crs]`` otherwise.
    columns
        ``{layer: {header: column}}``: a file's headers to read as contract columns (``{"checkpoints": {"X坐标":
        "lon"}}``); the manifest's ``[columns.<layer>]`` otherwise. See :mod:`transportmon.io.declared`.
    encoding
        Text encoding of CSV inputs (default: detected).
    use_sample
        Audit the embedded sample (default: when no input is given).
    engine
        ``memory`` (one process, column operations) or ``dask``: the trip audit runs on Dask over partitions of
        ``trips`` and ``stop_times`` aligned by ``trip_id`` (see :mod:`transportmon.scale`); the report is the same.
    scheduler
        With ``engine="dask"``: the address of a running Dask scheduler; default a ``LocalCluster``.
    spill
        With ``engine="dask"``: an existing folder that every worker and this process see. The workers write the
        audited trips' report rows there (:mod:`transportmon.spill`) instead of sending them here, so that a report
        of millions of trips is never in one process: ``AuditResult.report`` then holds the other subjects,
        ``AuditResult.spilled`` the trips, and ``AuditResult.write`` streams them all into the report file. Keep the
        folder until the report is written. Ignored by the memory engine.
    keep_layers
        Keep the validated ``trips`` and ``stop_times`` rows in ``AuditResult.layers`` (default). ``False`` frees
        them once the trips are judged (``frame`` then only has their number of rows, as with the Dask engine):
        the command line does so unless it draws a map, since ten million stop rows are memory the report's
        writing needs.
    progress
        Called with a :class:`~transportmon.progress.Stage` as each step begins (reading each layer, the checks,
        roads, checkpoints, trips, the report); the command line draws them. Nothing is printed here.
    out, only, lang
        Also write the report to ``out``, as ``AuditResult.write(out, lang=lang, only=only)`` would (never over one
        of the inputs). With the memory engine and a GeoParquet file, the file is written while the trips are
        judged (:mod:`transportmon.streamed`): its row groups are encoded on a second thread meanwhile. The same
        file, and the same result, either way.
    keep_trips
        With a GeoParquet ``out`` written as the trips are judged: ``False`` keeps the trips' report rows only in
        the file, never in one frame (the command line does so unless it draws a map or prints the report):
        ``AuditResult.report`` then holds the other subjects, and ``AuditResult.spilled`` the trips' counts and the
        rows the terminal summary lists. The metadata and the file are the same.

    Returns
    -------
    AuditResult
        The report frame (one row per subject, DESIGN §4), its metadata and the layers behind it.

    See Also
    --------
    load_inputs, measure, report_on : the three steps of an audit, for deciding many days on one measurement.
    """
    if engine not in ("memory", "dask"):
        raise ConfigError(f"engine {engine!r} not allowed; use memory or dask")
    kwargs: dict[str, Any] = {
        "roads": roads, "checkpoints": checkpoints, "boundaries": boundaries, "risk_areas": risk_areas,
        "stops": stops, "trips": trips, "stop_times": stop_times, "gtfs": gtfs, "occupancy": occupancy,
        "waivers": waivers,
        "as_of": as_of, "config": config, "datums": datums, "encoding": encoding, "use_sample": use_sample,
        "crs": crs, "columns": columns, "progress": progress}
    inputs = load_inputs(data, **kwargs, defer=("trips", "stop_times") if engine == "dask" else ())
    if engine == "dask" and (set(inputs.deferred) != {"trips", "stop_times"} or "stops" not in inputs.layers):
        engine, inputs = "memory", load_inputs(data, **kwargs)  # no trip audit to distribute
    measured = measure(inputs, engine=engine, scheduler=scheduler, keep_layers=keep_layers, progress=progress,
                       spill=None if spill is None else Path(spill), defer_trips=out is not None)
    given = [p for p in (data, roads, checkpoints, boundaries, risk_areas, stops, trips, stop_times, gtfs, occupancy,
                         waivers) if p is not None and not Path(p).is_dir()]
    result = report_on(measured, release=True, out=out, only=only, inputs=given, keep_trips=keep_trips,
                       progress=progress)
    if out is not None and result.written is None:
        from .io.write import check_target

        check_target(os.fspath(out), given)
        result.written = result.write(out, lang=lang, only=only)
    return result


def measure(inputs: Inputs, *, engine: Engine = "memory", scheduler: str | None = None,
            keep_layers: bool = True, progress: Progress | None = None, spill: Path | None = None,
            defer_trips: bool = False) -> Measured:
    """Measure what does not depend on the as-of date: road context, checkpoint evidence, trip verdicts (trips are
    judged on their own service dates), rejected rows.

    Parameters
    ----------
    inputs
        From :func:`load_inputs`; with ``engine="dask"``, loaded with ``defer=("trips", "stop_times")``.
    engine, scheduler, keep_layers, progress, spill
        As :func:`audit`.
    defer_trips
        With the memory engine, prepare the trip audit and leave the judging of the trips to :func:`report_on`
        (``Measured.trips``), which can then write the report as it judges them.

    Returns
    -------
    Measured
        For :func:`report_on`, once per as-of date.
    """
    layers, cfg, inputs_meta = inputs.layers, inputs.config, inputs.meta
    bounds = layers["boundaries"].frame
    crs = metric_crs(cfg, bounds, *(layers[n].frame.geometry for n in ("checkpoints", "stops") if n in layers))
    parts: list[gpd.GeoDataFrame] = []

    ctx: RoadContext | None = None
    if "roads" in layers and len(layers["roads"].frame):
        tell(progress, "roads")
        ctx = road_context(layers["roads"].frame, bounds, cfg, crs)
        for key, n in ctx.tracks.items():  # rows of a roads file; the OSM reader already counted ways
            inputs_meta["roads"].setdefault(key, n)
    ev: pd.DataFrame | None = None
    neighbours: tuple[str, str] | None = None
    if "checkpoints" in layers:
        tell(progress, "checkpoints", total=len(layers["checkpoints"].frame))
        ev = checkpoint_evidence(layers["checkpoints"].frame, ctx, cfg)
        neighbours = neighbour_names(cfg.exempt_neighbours, bounds)

    # Routes (issue 15 hook): counted before the trip audit may release the stop rows; the Dask engine counts its
    # partitions.
    from . import routes as route_audit

    dask = engine == "dask" and {"trips", "stop_times"} <= set(inputs.deferred) and "stops" in layers
    # The stop rows' positions and order, for the route counts and the trip audit alike: computed once.
    st_rows = stop_rows(layers["trips"], layers["stop_times"]) if not dask and {"trips", "stop_times", "stops"} <= set(
        layers) else None
    deferred: TripAudit | None = None
    if defer_trips and st_rows is not None:  # now: a thread reads the first trips' stop rows while routes are counted
        from . import streamed

        deferred = prepare_trips(layers, cfg, rows=st_rows, by_id=True)  # in report order, to be judged so
        if deferred.in_id_order:
            deferred.read_ahead(streamed.TRIP_CHUNK)
    # Written as the trips are judged, the report takes the routes' rows once its first trips are judged: their
    # patterns are counted meanwhile, on a thread (``Measured.routes_later``).
    route_counts = route_audit.count_routes(layers["trips"], layers.get("stop_times"), rows=st_rows,
                                            patterns=deferred is None) if "trips" in layers else None
    spilled: SpilledTrips | None = None
    if dask:
        from .scale import dask_trips
        from .spill import SpilledTrips

        tell(progress, "trips")
        trip_part, trip_findings, _, trip_layers, trip_meta, route_counts = dask_trips(inputs, scheduler=scheduler,
                                                                                       spill=spill)
        layers.update(trip_layers)
        inputs_meta.update(trip_meta)
        if isinstance(trip_part, SpilledTrips):  # the trips stay in their parts; the workers named what is needed
            spilled, trip_part = trip_part, None
        if "waivers" in layers:  # hook, issue 14 item 5: trip waivers, checked once the deferred trips are judged
            from .waivers import reject_unknown_subjects, route_subjects_of

            rejected_trips = trip_layers["trips"].rejected
            trip_frames = [spilled.named_trips()] if spilled is not None else [trip_part]
            route_frames = spilled.route_frames() if spilled is not None else [trip_part]
            routes_named = route_subjects_of([*route_frames, rejected_trips])  # issue 15: routes too
            reject_unknown_subjects(layers["waivers"], [*trip_frames, rejected_trips, routes_named],
                                    kinds=("trip", "route"))
        inputs.warnings += defaulted_warnings(trip_layers["stop_times"])
        # The memory engine's order (file layers as LAYER_NAMES, default boundaries last): same metadata bytes.
        late = {"boundaries"} if inputs_meta.get("boundaries", {}).get("path") is None else set()
        for ordered in (layers, inputs_meta):
            items = sorted(ordered.items(), key=lambda kv: 99 if kv[0] in late else LAYER_NAMES.index(kv[0]))
            ordered.clear()
            ordered.update(items)
        if trip_part is not None:
            parts.append(attach_findings(trip_part, trip_findings) if len(trip_findings) else trip_part)
    elif {"trips", "stop_times", "stops"} <= set(layers):
        tell(progress, "trips", total=len(layers["trips"].frame))
        if deferred is not None:
            if not keep_layers:
                release_stop_rows(layers["stop_times"])
        else:
            trip_part, trip_findings, _ = audit_trips(layers, cfg, release=not keep_layers, rows=st_rows)
            parts.append(attach_findings(trip_part, trip_findings) if len(trip_findings) else trip_part)
        st_rows = None
        if not keep_layers:
            layers["trips"].frame = pd.DataFrame(index=pd.RangeIndex(len(layers["trips"].frame)))
    trip_part = trip_findings = None  # frees them: the part holds what the report needs

    parts += _rejected_subjects(layers)
    # Which rules ran is the registry's to say, from the layers the rules could use: roads without a road and risk
    # areas without a designation are as good as absent.
    usable = (set(layers) | set(inputs.deferred)) - ({"roads"} if ctx is None else set())
    if "risk_areas" in layers and (layers["risk_areas"].intervals is None or not len(layers["risk_areas"].intervals)):
        usable.discard("risk_areas")
    rules_run, skipped = rule_plan(usable)
    routes = routes_later = None
    if route_counts is not None and len(route_counts.days):
        if route_counts.later is not None:
            routes_later = route_audit.FactsLater(route_counts, layers)
        else:
            routes = route_audit.layer_facts(route_counts, layers)
    elif "trips" in usable:  # a trips layer without a route: the route rules cannot run
        rules_run = [r for r in rules_run if r not in route_audit.RULE_IDS]
        skipped.update(dict.fromkeys(route_audit.RULE_IDS, route_audit.skip_reason(route_counts)))
        skipped = dict(sorted(skipped.items()))
    return Measured(inputs=inputs, layers=layers, crs=crs, roads=ctx, checkpoints=ev, neighbours=neighbours,
                    subjects=parts, rules_run=rules_run, skipped=skipped, routes=routes, routes_later=routes_later,
                    route_warnings=route_audit.route_warnings(route_counts, layers["trips"].rows
                                                              if "trips" in layers else 0), spilled=spilled,
                    trips=deferred)


def _rejected_subjects(layers: dict[str, L.Layer]) -> list[gpd.GeoDataFrame]:
    """Rejected rows of every layer are subjects too: one part with their findings (none without rejected rows)."""
    rejected_parts = []
    for name, layer in layers.items():
        if len(layer.rejected):
            rj = layer.rejected.copy()
            rj["layer"] = name
            rejected_parts.append(rj)
    if not rejected_parts:
        return []
    rej = pd.concat(rejected_parts, ignore_index=True)
    geom = rej.geometry.to_numpy() if "geometry" in rej.columns else np.full(len(rej), None)
    return [attach_findings(gpd.GeoDataFrame({
        "subject": rej["subject"].to_numpy(), "subject_id": rej["subject_id"].to_numpy(), "verdict": "rejected",
        "reason": rej["reason"].to_numpy(), "detail": rej["detail"].to_numpy(),
        "source_row": rejected_rows(rej),  # i16: the row as the user's program shows it
        **rejected_dates(rej),  # issue 14: a rejected trip's service date, when it has one
    }, geometry=list(geom), crs="EPSG:4326"), rejected_findings(rej, rej["layer"]))]


def rejected_dates(rejected: pd.DataFrame) -> dict[str, np.ndarray]:
    """``{"service_date": YYYY-MM-DD text}`` of rejected rows that kept one (trips: see ``validate_trips``), else
    ``{}``: the report shows the day of a rejected trip, and the timeline counts it on that day."""
    from .rules.trips import date_text

    if "service_date" not in rejected.columns:
        return {}
    return {"service_date": date_text(rejected["service_date"]).to_numpy()}


def report_on(measured: Measured, day: str | date | pd.Timestamp | None = None, *,
              release: bool = False, out: str | os.PathLike[str] | None = None, only: str | None = None,
              inputs: Iterable[str | os.PathLike[str]] = (), keep_trips: bool = True,
              progress: Progress | None = None) -> AuditResult:
    """Decide what depends on the as-of date (checkpoint and route verdicts) and assemble the report and its metadata.

    ``report_on(measure(inputs), D)`` is the report of ``audit(..., as_of=D)``: one code path, however many days
    are decided on one measurement.

    Parameters
    ----------
    measured
        From :func:`measure`.
    day
        The as-of date; default the inputs' (``--as-of``, the manifest's, or today). A day given here is recorded
        as ``as_of_source`` ``--as-of``, as the audit of that day would record it.
    release
        Free ``measured.subjects`` (and ``measured.trips``) once they are in the report (one report only): millions
        of trips are memory the report's writing needs.
    out, only, inputs, keep_trips
        With trips left to judge (``measure(..., defer_trips=True)``) in report order and a GeoParquet ``out``:
        write the report there as the trips are judged (:mod:`transportmon.streamed`; ``AuditResult.written`` says
        so), with ``--only`` ``only``, never over ``inputs`` or the inputs the metadata names, keeping the trips'
        rows in the report frame or not (``keep_trips``, as :func:`audit`). Otherwise nothing is written here.
    progress
        As :func:`audit`: ``report`` as the report is assembled; while the trips are judged and written, ``trips``
        with how many are judged (``done`` of ``total``) before each range.

    Returns
    -------
    AuditResult
    """
    from .io.write import output_format

    inputs_given = list(inputs)
    layers, cfg = measured.layers, measured.inputs.config
    if day is None:
        day, as_of_source = measured.inputs.as_of, measured.inputs.as_of_source
    else:
        day, as_of_source = pd.Timestamp(day), "--as-of"
    trips = measured.trips
    as_judged = bool(trips is not None and out is not None and trips.n and trips.in_id_order
                     and output_format(os.fspath(out)) == "parquet")
    # Streamed, the routes' rows may still be in the making (``Measured.routes_later``): they join the report once
    # the first trips are judged.
    routes_later = measured.routes_later if as_judged else None
    parts = _dated_subjects(measured, day, routes=routes_later is None) + measured.subjects
    if release:
        measured.subjects, measured.trips = [], None
    waivers = layers.get("waivers")
    limits = report_limits(cfg)

    def finish(report: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        # The input row number is evidence only for a rejected row (where to look in the file); audited subjects are
        # known by their unique id, so their features do not depend on the input's row order.
        report["source_row"] = report["source_row"].where(report["verdict"] == "rejected")
        if waivers is not None:  # hook, issue 14 item 5: violations covered by a waiver on their date become waived
            from .waivers import apply_waivers

            report, counts = apply_waivers(report, waivers, day, matched=matched)
            waiver_pieces.append(counts)
        return report

    matched: set[int] = set()
    waiver_pieces: list[dict[str, int]] = []
    if as_judged:
        from .streamed import Pending, write_while_judging

        assert trips is not None
        paths = [m["path"] for m in measured.inputs.meta.values() if m.get("path")]
        report, metadata, spilled = write_while_judging(
            parts, trips, out, policy=cfg.policy, limits=limits, finish=finish, only=only,
            inputs=inputs_given + paths, keep_trips=keep_trips, progress=progress,
            metadata_of=lambda report, spilled: _metadata(
                measured, report, day, as_of_source, _waiver_counts(waiver_pieces, matched, waivers), spilled),
            pending=None if routes_later is None else Pending(
                ready=routes_later.done, parts=lambda: _route_subjects(measured, day)))
        return AuditResult(report=report, metadata=metadata, layers=layers, roads=measured.roads, config=cfg,
                           spilled=spilled, written="parquet")
    if trips is not None:  # all of them at once
        parts.append(trips.part(0, trips.n))
        del trips
    tell(progress, "report")
    # Each part came with its findings attached (matched within the part, by its own row numbers).
    report = assemble(parts, cfg.policy, limits=limits)
    del parts  # millions of trips: the parts' columns are in the report now
    spilled = measured.spilled
    if spilled is not None:  # the rows this frame is sorted by, for merging it with the trips' parts
        from dataclasses import replace

        spilled = replace(spilled, client_rows=report["source_row"].to_numpy(dtype=np.float64, na_value=np.nan))
    report = finish(report)
    waiver_counts = _waiver_counts(waiver_pieces, matched, waivers)
    if spilled is not None and waiver_counts is not None:
        waiver_counts = spilled.waiver_counts(waiver_pieces[0], matched, waivers)
    metadata = _metadata(measured, report, day, as_of_source, waiver_counts, spilled)
    return AuditResult(report=report, metadata=metadata, layers=layers, roads=measured.roads, config=cfg,
                       spilled=spilled)


def _dated_subjects(measured: Measured, day: pd.Timestamp, *, routes: bool = True) -> list[gpd.GeoDataFrame]:
    """The subjects whose verdicts depend on the as-of date: checkpoints and (unless not ``routes``) routes."""
    layers, cfg, ev = measured.layers, measured.inputs.config, measured.checkpoints
    parts: list[gpd.GeoDataFrame] = []
    if ev is not None:
        verdicts, cp_findings = cp_rules.decide(ev, cfg, day, neighbours=measured.neighbours)
        subj = gpd.GeoDataFrame({
            "subject": "checkpoint", "subject_id": ev["checkpoint_id"].astype(str).to_numpy(),
            "verdict": verdicts["verdict"].to_numpy(), "reason": verdicts["reason"].to_numpy(),
            "road_id": ev["road_id"].to_numpy(), "road_ref": ev["road_ref"].to_numpy(),
            "road_class": ev["road_class"].to_numpy(), "distance_to_road_m": ev["distance_to_road_m"].to_numpy(),
            "distance_to_exempt_border_m": ev["distance_to_exempt_border_m"].to_numpy(),
            "distance_to_crossing_m": ev["distance_to_crossing_m"].to_numpy(),
            "overdue_days": verdicts["overdue_days"].array,  # issue 14: decided with the verdict
            "name": ev["name"].to_numpy(), "source_row": ev["row"].to_numpy(),
        }, geometry=layers["checkpoints"].frame.geometry.to_numpy(), crs="EPSG:4326")
        parts.append(attach_findings(subj, cp_findings))
    return parts + _route_subjects(measured, day) if routes else parts


def _route_subjects(measured: Measured, day: pd.Timestamp) -> list[gpd.GeoDataFrame]:
    """The routes on the as-of date (issue 15 hook), once their facts are computed; none without routes."""
    facts = measured.route_facts()
    if facts is None:
        return []
    from .routes import route_subjects

    return [route_subjects(facts, measured.inputs.config, day)]


def _waiver_counts(pieces: list[dict[str, int]], matched: set[int], waivers: L.Layer | None) -> dict[str, int] | None:
    """The waivers' counts of a report finished in one piece or several (None without a waivers layer)."""
    if waivers is None:
        return None
    if len(pieces) == 1:
        return pieces[0]
    from .waivers import pieces_counts

    return pieces_counts(pieces, matched, waivers)


def _metadata(measured: Measured, report: gpd.GeoDataFrame, day: pd.Timestamp, as_of_source: str,
              waiver_counts: dict[str, int] | None, spilled: SpilledTrips | None = None) -> dict[str, Any]:
    """The report's metadata (DESIGN §4): what ran, on what, with which counts and warnings."""
    inputs, layers, ctx, cfg = measured.inputs, measured.layers, measured.roads, measured.inputs.config
    warnings = list(inputs.warnings) + measured.route_warnings
    if as_of_source == "today":  # a 2020 policy judged on the day the command runs: rarely what is meant
        warnings.append(f"no --as-of and no as_of in {MANIFEST}: audited as of today, {day:%Y-%m-%d}, against "
                        f"{cfg.policy}; give --as-of YYYY-MM-DD, the date the data describe")
    warnings += measured_warnings(measured)  # issue 14: shared with the timeline

    counts, findings = verdict_counts(report), finding_counts(report)
    if spilled is not None:
        from .spill import add_counts

        counts = add_counts(counts, spilled.counts())
        theirs = spilled.findings()
        findings = {k: n + theirs.get(k, 0) for k, n in findings.items()}
    metadata: dict[str, Any] = {
        "tool": "transportmon", "version": __version__, "as_of": day.strftime("%Y-%m-%d"),
        "as_of_source": as_of_source,
        "policy": cfg.policy, "rules": cfg.to_dict(), "metric_crs": measured.crs.to_string(),
        "inputs": inputs.meta, "counts": counts, "findings": findings,
        "rules_run": list(measured.rules_run), "rules_skipped": dict(measured.skipped),
        "rows": {n: {"input": lyr.rows, "audited": len(lyr.frame), "rejected": len(lyr.rejected)}
                 for n, lyr in layers.items()},
        "exempt_border_km": round(float(ctx.border.length) / 1000.0, 3) if ctx is not None else None,
        "crossings": int(len(ctx.crossings)) if ctx is not None else 0,
        "attribution": list(inputs.manifest.get("attribution", [])),
        "warnings": warnings,
    }
    if waiver_counts is not None:
        metadata["waivers"] = waiver_counts
    if inputs.use_sample:
        metadata["sample"] = "embedded Jiujiang 2020 sample (data/jiujiang-2020; see its README for what is real)"
    return metadata


def measured_warnings(measured: Measured) -> list[str]:
    """What the measuring found that the user must know, whatever the as-of date: no exempt border or no road
    crossing it, road notes, risk_areas notes (the audit's warnings and the timeline's)."""
    layers, ctx, cfg = measured.layers, measured.roads, measured.inputs.config
    warnings = []
    if ctx is not None and "checkpoints" in layers and ctx.border.is_empty:
        warnings.append(
            f"no exempt border: the boundaries lack {cfg.jurisdiction} or {', '.join(cfg.exempt_neighbours)}, or they "
            "do not touch; every active checkpoint on a covered road is judged remove")
    elif ctx is not None and "checkpoints" in layers and not len(ctx.crossings):
        warnings.append("no road crosses the exempt border: check that the roads layer reaches it")
    if ctx is not None:
        warnings += road_warnings(measured.inputs.meta["roads"])
    if "risk_areas" in layers:
        from .geo.adcodes import outside_note, renamed_note

        for note in (renamed_note(layers["risk_areas"]), outside_note(layers["risk_areas"])):
            if note is not None:
                warnings.append(f"risk_areas: {note}")
    return warnings
