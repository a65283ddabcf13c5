"""What the terminal summary lists under "subjects to act on": every subject that needs action, one row each.

- **Which**: the subjects with a violation, then those under ``review`` (a person must look at them). With
  ``only="violation"`` the violations alone; with ``only="warning"`` the violations, the reviews, then every other
  subject with a warning (a turn-back at a checkpoint that may stay, a rejected input row). ``only`` is the
  ``--only`` of the report, so the terminal lists what the file holds.
- **Each row** names every rule that fired on the subject (``TM101, TM110``: a turn-back is not hidden behind the
  removal) and the main finding's message: the first of the most severe (findings are ordered by rule id).
- **Order**: violations, reviews, other warnings; within each, the report's order (subject, id).

Pure: a report frame in, a frame out; the command line draws it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ._arrow import arrow
from .io.columns import Findings

__all__ = ["ACTION_COLUMNS", "GROUPS", "action_groups", "to_act_on"]

#: Columns of :func:`to_act_on`.
ACTION_COLUMNS = ["group", "subject", "subject_id", "verdict", "rule_ids", "severity", "message_zh", "message_en"]
#: The groups, in the order they are listed.
GROUPS = ("violation", "review", "warning")


def action_groups(report: pd.DataFrame, only: str | None = None) -> np.ndarray:
    """The group of each subject of ``report``: its position in :data:`GROUPS`, ``len(GROUPS)`` for none.

    A subject's group does not depend on ``only`` except that ``only`` leaves groups out: with ``only="warning"``
    every group is there, so the groups of a report in pieces can be counted once for every ``only``.
    """
    if only not in (None, "violation", "warning"):
        raise ValueError(f"only={only!r}; use None, 'violation' or 'warning'")
    severity, verdict = arrow(report["max_severity"]), arrow(report["verdict"])
    group = np.full(len(report), len(GROUPS), dtype=np.int8)
    if only == "warning":
        group[_is(severity, "warning")] = 2
    if only != "violation":
        group[_is(verdict, "review")] = 1
    group[_is(severity, "violation")] = 0
    return group


def _is(values: pa.Array, word: str) -> np.ndarray:
    """Where the text ``values`` is ``word`` (not where missing): one Arrow comparison, no Python string per row."""
    return pc.fill_null(pc.equal(values, word), False).to_numpy(zero_copy_only=False)


def to_act_on(report: pd.DataFrame, only: str | None = None) -> pd.DataFrame:
    """The subjects of ``report`` that need action (see the module docstring), most pressing first.

    Parameters
    ----------
    report
        The report frame (``subject``, ``subject_id``, ``verdict``, ``findings``, ``max_severity``).
    only
        ``None``, ``"violation"`` or ``"warning"`` (the ``--only`` of the run).

    Returns
    -------
    One row per subject: ``group`` (``violation``, ``review`` or ``warning``), ``subject``, ``subject_id``,
    ``verdict``, ``rule_ids`` (every rule that fired, ``TM101, TM110``), ``severity`` and the ``message_zh`` /
    ``message_en`` of the main finding.
    """
    group = action_groups(report, only)
    keep = np.flatnonzero(group < len(GROUPS))
    keep = keep[np.argsort(group[keep], kind="stable")]
    picked = report.iloc[keep]
    findings = Findings(picked["findings"])
    return pd.DataFrame({
        "group": [GROUPS[g] for g in group[keep]],
        "subject": picked["subject"].astype(str).to_numpy(),
        "subject_id": picked["subject_id"].astype(str).to_numpy(),
        "verdict": picked["verdict"].astype(str).to_numpy(),
        "rule_ids": findings.rule_ids().to_pylist(),
        "severity": findings.main_severity().to_pylist(),
        "message_zh": findings.main_message("zh").to_pylist(),
        "message_en": findings.main_message("en").to_pylist(),
    }, columns=ACTION_COLUMNS)
