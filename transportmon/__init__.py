"""transportmon: audit road checkpoints and coach occupancy against clause (六) of 九府发〔2020〕3号.

The Python API the CLI and the notebooks share::

    import transportmon
    result = transportmon.audit()            # the embedded Jiujiang 2020 sample
    result.report                           # GeoDataFrame, one row per subject (DESIGN §4)
    result.metadata                         # as-of date, rule configuration, inputs, counts
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    import os

    import pandas as pd

    from .diff import ReportDiff
    from .pipeline import AuditResult


def audit(*args: Any, **kwargs: Any) -> AuditResult:
    """Audit checkpoints and coach trips; see :func:`transportmon.pipeline.audit`."""
    from .pipeline import audit as _audit

    return _audit(*args, **kwargs)


def validate_inputs(*args: Any, **kwargs: Any) -> Any:
    """Check the inputs only (what ``transportmon validate`` prints); see :mod:`transportmon.validate`."""
    from .validate import validate_inputs as _validate_inputs

    return _validate_inputs(*args, **kwargs)


# Loaded now (it imports nothing heavy until used): importing the submodule later would rebind the package's
# ``diff`` to the module, and ``transportmon.diff(old, new)`` must stay the function below.
from . import diff as diff_module  # noqa: E402, F401


def diff(old: str | os.PathLike[str] | AuditResult | tuple[pd.DataFrame, dict[str, Any]],
         new: str | os.PathLike[str] | AuditResult | tuple[pd.DataFrame, dict[str, Any]], *, force: bool = False,
         fail_on: str = "violation") -> ReportDiff:
    """What changed from report ``old`` to report ``new`` (DESIGN §8); see :func:`transportmon.diff_module.compare`.

    Each report is a path (``.geojson``, ``.parquet`` or ``.csv``, read by :func:`transportmon.io.report.read_report`),
    what :func:`audit` returned, or a (frame, metadata) pair. Returns a :class:`~transportmon.diff.ReportDiff`: the
    changed subjects, the new and resolved violations, the counts and ``exit_code``.
    """
    from .diff import compare
    from .io.report import read_report
    from .pipeline import AuditResult

    def load(x: Any) -> tuple[pd.DataFrame, dict[str, Any], str]:
        if isinstance(x, AuditResult):
            return x.report, x.metadata, "the audit"
        if isinstance(x, tuple):
            return x[0], x[1], "the report frame"
        return (*read_report(x), str(x))

    (old_frame, old_md, old_name), (new_frame, new_md, new_name) = load(old), load(new)
    return compare(old_frame, new_frame, old_md, new_md, force=force, fail_on=fail_on, names=(old_name, new_name))


__all__ = ["audit", "diff", "validate_inputs", "__version__"]
