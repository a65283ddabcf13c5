"""transportmon: audit road checkpoints and coach occupancy against clause (六) of 九府发〔2020〕3号.

The Python API the CLI and the notebooks share::

    import transportmon
    result = transportmon.audit()            # the embedded Jiujiang 2020 sample
    result.report                           # GeoDataFrame, one row per subject (DESIGN §4)
    result.metadata                         # as-of date, rule configuration, inputs, counts
    days = transportmon.timeline(start="2020-02-01", end="2020-04-10")  # one row per day (DESIGN §7)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    import pandas as pd

    from .pipeline import AuditResult


def audit(*args: Any, **kwargs: Any) -> AuditResult:
    """Audit checkpoints and coach trips; see :func:`transportmon.pipeline.audit`."""
    from .pipeline import audit as _audit

    return _audit(*args, **kwargs)


def timeline(*args: Any, **kwargs: Any) -> pd.DataFrame:
    """Compliance day by day (one row per day, DESIGN §7); see :func:`transportmon.daily.timeline`."""
    from .daily import timeline as _timeline

    return _timeline(*args, **kwargs)


def validate_inputs(*args: Any, **kwargs: Any) -> Any:
    """Check the inputs only (what ``transportmon validate`` prints); see :mod:`transportmon.validate`."""
    from .validate import validate_inputs as _validate_inputs

    return _validate_inputs(*args, **kwargs)


__all__ = ["audit", "timeline", "validate_inputs", "__version__"]
