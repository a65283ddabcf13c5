"""Check the inputs without auditing: what an analyst runs before sending a file.

:func:`validate_inputs` takes the inputs of :func:`transportmon.audit` (a ``data`` folder, per-layer paths,
``gtfs``/``occupancy``, ``datums``, ``encoding``), reads, validates and cross-checks every layer exactly as the audit
does (:func:`transportmon.inputs.load_inputs`), and says per layer how many rows were read, how many are usable and
how many were rejected, by reason. When a file cannot be read, the other files are still read and checked, so that
one run lists every unreadable file, not only the first.

Exit codes (:attr:`Validation.exit_code`): 0 every row of every layer is usable; 1 some rows are rejected (they
would be ``rejected`` subjects of the report); 2 a file cannot be read, or a required column is missing, or no file
of the ``data`` folder is a layer. Files not used, layers whose rules cannot run and assumptions are
:attr:`Validation.warnings`, as in the audit's ``metadata["warnings"]``.
An empty layer (a header and no rows, a GeoJSON with no features) is usable: it is audited as empty.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from . import layers as L
from ._errors import ConfigError, TransportmonError
from .inputs import load_inputs
from .io.discover import LAYER_NAMES
from .source_rows import rejected_rows

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
                "layer": name, "row": rejected_rows(rj),  # i16: as the user's program shows it
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

    The loading code is the audit's (:func:`transportmon.inputs.load_inputs`), told to go on past a file that
    cannot be used (``errors="collect"``), so that one run names every such file and still counts the rows of the
    others as the audit would.

    Parameters
    ----------
    data, **kwargs
        The inputs of :func:`transportmon.inputs.load_inputs` (``roads`` … ``stop_times``, ``gtfs``,
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
        inputs = load_inputs(data, **kwargs, errors="collect")
    except ConfigError:
        raise
    except TransportmonError as exc:  # not a file's own problem (e.g. the default boundaries): as it came
        return Validation(layers=[], problems=[_problem(exc)], rejected=_rejected_rows({}))
    checks = [_check(name, inputs.layers[name], inputs.meta.get(name, {}))
              for name in LAYER_NAMES if name in inputs.layers]
    return Validation(layers=checks, problems=[_problem(e) for e in inputs.problems],
                      rejected=_rejected_rows(inputs.layers), warnings=inputs.warnings)
