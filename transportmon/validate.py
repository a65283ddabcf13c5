"""Check the inputs without auditing: what an analyst runs before sending a file.

:func:`validate_inputs` takes the inputs of :func:`transportmon.audit` (a ``data`` folder, per-layer paths,
``gtfs``/``occupancy``, ``datums``, ``encoding``), reads, validates and cross-checks every layer exactly as the audit
does (:func:`transportmon.pipeline.load_inputs`), and says per layer how many rows were read, how many are usable and
how many were rejected, by reason. When a file cannot be read, every layer is still tried on its own, so that one
run lists every unreadable file, not only the first.

Exit codes (:attr:`Validation.exit_code`): 0 every row of every layer is usable; 1 some rows are rejected (they
would be ``rejected`` subjects of the report); 2 a file cannot be read, or a required column is missing, or no file
of the ``data`` folder is a layer. Files not used, layers whose rules cannot run and assumptions are
:attr:`Validation.warnings`, as in the audit's ``metadata["warnings"]``.
An empty layer (a header and no rows, a GeoJSON with no features) is usable: it is audited as empty.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from . import layers as L
from ._errors import ConfigError, TransportmonError
from .io.declared import declared
from .io.discover import LAYER_NAMES, discover, layer_gaps, read_manifest, read_order, sample_dir
from .pipeline import VALIDATORS, Inputs, _display_path, _read, defaulted_warnings, gtfs_layers, load_inputs

__all__ = ["LayerCheck", "Problem", "Validation", "validate_inputs"]


@dataclass
class Problem:
    """A file that cannot be used at all."""

    path: str
    problem: str
    fix: str = ""

    @property
    def message(self) -> str:
        return f"{self.path}: {self.problem}" + (f" — {self.fix}" if self.fix else "")


@dataclass
class LayerCheck:
    """One layer: rows read, usable, rejected by reason, and how the file was read."""

    layer: str
    path: str | None
    rows: int
    usable: int
    rejected: int
    reasons: dict[str, int] = field(default_factory=dict)
    read: dict[str, Any] = field(default_factory=dict)
    """How the file was read: ``format``, ``encoding``, ``sheet``, ``header_row``, ``blank_rows``, ``notes``,
    ``source`` (``gtfs``, or the default boundaries' origin)."""


@dataclass
class Validation:
    """What :func:`validate_inputs` found."""

    layers: list[LayerCheck]
    problems: list[Problem]
    rejected: pd.DataFrame
    """Every rejected row: ``layer``, ``row`` (the row as the user's program shows it: the line of a CSV, the sheet
    row of a workbook, the feature's 1-based position; as in the report's ``source_row`` and messages),
    ``subject_id``, ``reason``, ``detail``."""
    warnings: list[str] = field(default_factory=list)
    """As the audit's ``metadata["warnings"]``: files not used, assumptions made, rules that cannot run."""

    @property
    def exit_code(self) -> int:
        if self.problems:
            return 2
        return 1 if any(c.rejected for c in self.layers) else 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``exit_code``, ``layers`` (by name), ``problems``, ``rejected`` rows."""
        return {
            "exit_code": self.exit_code,
            "layers": {c.layer: {k: v for k, v in asdict(c).items() if k != "layer"} for c in self.layers},
            "problems": [asdict(p) for p in self.problems],
            "warnings": list(self.warnings),
            "rejected": self.rejected.to_dict("records"),
        }


REJECTED_COLUMNS = ["layer", "row", "subject_id", "reason", "detail"]


def _problem(exc: TransportmonError) -> Problem:
    path = getattr(exc, "path", None) or getattr(exc, "source", None)
    if path is None:
        return Problem(path="", problem=str(exc))
    return Problem(path=str(path), problem=getattr(exc, "problem", str(exc)), fix=getattr(exc, "fix", ""))


def _check(name: str, layer: L.Layer, meta: dict[str, Any]) -> LayerCheck:
    reasons = layer.rejected["reason"].astype(str).value_counts() if len(layer.rejected) else pd.Series(dtype=int)
    read = {k: v for k, v in meta.items() if k not in ("path", "rows", "sha256")}
    return LayerCheck(layer=name, path=meta.get("path"), rows=int(layer.rows), usable=len(layer.frame),
                      rejected=len(layer.rejected),
                      reasons={str(k): int(v) for k, v in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))},
                      read=read)


def _rejected_rows(layers: dict[str, L.Layer]) -> pd.DataFrame:
    parts = []
    for name, layer in layers.items():
        if len(layer.rejected):
            rj = layer.rejected
            parts.append(pd.DataFrame({
                "layer": name, "row": rj["source_row"].astype("int64").to_numpy(),  # as the user's program shows it
                "subject_id": rj["subject_id"].astype(str).to_numpy(), "reason": rj["reason"].astype(str).to_numpy(),
                "detail": rj["detail"].astype(str).to_numpy(),
            }))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "row" else object) for c in REJECTED_COLUMNS})
    out = pd.concat(parts, ignore_index=True)
    order = {n: i for i, n in enumerate(LAYER_NAMES)}
    return out.sort_values(["layer", "row"], key=lambda s: s.map(order) if s.name == "layer" else s,
                           kind="stable").reset_index(drop=True)


def validate_inputs(data: str | os.PathLike[str] | None = None, **kwargs: Any) -> Validation:
    """Read, validate and cross-check the inputs the way :func:`transportmon.audit` does, and count what is usable.

    Parameters
    ----------
    data, **kwargs
        The inputs of :func:`transportmon.pipeline.load_inputs` (``roads`` … ``stop_times``, ``gtfs``,
        ``occupancy``, ``config``, ``datums``, ``encoding``); with none, the embedded sample.

    Returns
    -------
    Validation

    Raises
    ------
    ConfigError
        For arguments that are not allowed (an unknown datum or encoding, ``--gtfs`` without ``--occupancy``).
    """
    try:
        inputs = load_inputs(data, **kwargs)
    except ConfigError:
        raise
    except TransportmonError as first:
        return _each_on_its_own(data, first, **kwargs)
    return _validation(inputs)


def _validation(inputs: Inputs) -> Validation:
    checks = [_check(name, inputs.layers[name], inputs.meta.get(name, {}))
              for name in LAYER_NAMES if name in inputs.layers]
    return Validation(layers=checks, problems=[], rejected=_rejected_rows(inputs.layers), warnings=inputs.warnings)


def _each_on_its_own(data: str | os.PathLike[str] | None, first: TransportmonError, **kwargs: Any) -> Validation:
    """After a failure, read and validate each layer file alone so that every unusable file is named."""
    given = {n: kwargs.get(n) for n in LAYER_NAMES}
    use_sample = data is None and kwargs.get("gtfs") is None and all(v is None for v in given.values())
    data_dir = sample_dir() if use_sample else (Path(data) if data is not None else None)
    problems: list[Problem] = []
    paths: dict[str, Path] = {}
    manifest: dict[str, Any] = {}
    warnings: list[str] = []
    try:
        if data_dir is not None:
            manifest = read_manifest(data_dir)
            found = discover(data_dir, ignore=manifest.get("ignore", ()))
            paths, warnings = dict(found.layers), found.warnings()
    except TransportmonError as exc:
        problems.append(_problem(exc))
    paths.update({k: Path(v) for k, v in given.items() if v is not None})
    datum_of = {**manifest.get("datum", {}), **(kwargs.get("datums") or {})}
    crs_of, columns_of = declared(manifest, LAYER_NAMES, crs=kwargs.get("crs"), columns=kwargs.get("columns"))
    layers: dict[str, L.Layer] = {}
    meta: dict[str, dict[str, Any]] = {}
    gtfs, occupancy = kwargs.get("gtfs"), kwargs.get("occupancy")
    if gtfs is not None and occupancy is not None:
        try:
            feed_layers, feed_meta, _ = gtfs_layers(gtfs, occupancy, datum_of, ())
        except TransportmonError as exc:
            problems.append(_problem(exc))
        else:
            layers.update(feed_layers)
            meta.update(feed_meta)
        paths = {k: v for k, v in paths.items() if k not in ("stops", "trips", "stop_times")}
    for name in read_order(paths):
        try:
            frame, _ = _read(name, paths[name], datum_of.get(name, "wgs84"), kwargs.get("encoding"),
                             crs=crs_of.get(name), columns=columns_of.get(name))
            layers[name] = VALIDATORS[name](frame, str(paths[name]))
            meta[name] = {"path": _display_path(paths[name]), **frame.attrs.pop("source", {})}
        except TransportmonError as exc:
            problems.append(_problem(exc))
    if not problems:  # the failure was not in one file alone (e.g. cross-layer): report it as it came
        problems.append(_problem(first))
    if "stop_times" in layers:
        warnings += defaulted_warnings(layers["stop_times"])
    if paths or layers:
        warnings += layer_gaps({*paths, *layers, "boundaries"})
    checks = [_check(n, layers[n], meta.get(n, {})) for n in LAYER_NAMES if n in layers]
    return Validation(layers=checks, problems=problems, rejected=_rejected_rows(layers), warnings=warnings)
