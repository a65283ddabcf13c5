"""transportmon: audit road checkpoints and coach occupancy against clause (六) of 九府发〔2020〕3号.

The Python API the CLI and the notebooks share::

    import transportmon
    result = transportmon.audit()            # the embedded Jiujiang 2020 sample
    result.report                           # GeoDataFrame, one row per subject (DESIGN §4)
    result.metadata                         # as-of date, rule configuration, inputs, counts

An audit in its three steps, to decide many days on one measurement::

    measured = transportmon.measure(transportmon.load_inputs(data))
    day = transportmon.report_on(measured, "2020-03-16")   # the report of audit(data, as_of="2020-03-16")

Compliance day by day (DESIGN §7), every day decided on one measurement::

    days = transportmon.timeline(data, start="2020-02-01", end="2020-04-10")   # a DataFrame, one row per day

The names below are the functions and classes themselves (their signatures show in an editor), imported on first
use so that ``import transportmon`` stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ._errors import ConfigError, InputError, TransportmonError
from ._version import __version__

if TYPE_CHECKING:
    from .changes import ReportDiff, diff
    from .daily import timeline
    from .inputs import Inputs, load_inputs
    from .pipeline import AuditResult, Measured, audit, measure, report_on
    from .validate import Validation, validate_inputs

#: Where each lazily imported name lives.
_API = {
    "audit": "pipeline", "measure": "pipeline", "report_on": "pipeline", "AuditResult": "pipeline",
    "Measured": "pipeline", "load_inputs": "inputs", "Inputs": "inputs", "validate_inputs": "validate",
    "Validation": "validate", "diff": "changes", "ReportDiff": "changes", "timeline": "daily",
}


def __getattr__(name: str) -> Any:
    if name in _API:
        value = getattr(import_module(f".{_API[name]}", __name__), name)
        globals()[name] = value  # once: later look-ups do not come here
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = ["AuditResult", "ConfigError", "InputError", "Inputs", "Measured", "TransportmonError", "Validation",
           "ReportDiff", "__version__", "audit", "diff", "load_inputs", "measure", "report_on", "timeline",
           "validate_inputs"]
