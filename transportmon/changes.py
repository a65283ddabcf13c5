"""Two reports → what changed between them (DESIGN §8): subjects new, gone and changed, violations new and resolved.

Pure: report frames and their metadata in (as :func:`transportmon.io.report.read_report` or
:func:`transportmon.audit` give them), changes out; nothing here reads a file or prints.

Subjects are matched by (``subject``, ``subject_id``); findings by ``finding_id``. Rows that share
(subject, subject_id) — rejected rows of a layer whose id repeats — are matched in report order, the first with the
first (as their finding ids are numbered, :func:`transportmon.report.finding_ids`). Every step is a hash lookup on
Arrow columns, so two reports of a million trips each compare in seconds.

A *new violation* is a finding of NEW with severity ``violation`` whose ``finding_id`` is not a violation in OLD:
absent there, or there with another severity (a ``keep`` checkpoint's turn-back warning that became a violation when
the checkpoint became ``remove``; a waived violation whose waiver expired). A *resolved* finding is a violation of
OLD whose ``finding_id`` is not a violation in NEW: gone with its subject or its cause, or ``waived`` — for a job
that alerts on violations, an approved exception settles it. New violations are what a daily scheduled job alerts
on: :attr:`ReportDiff.exit_code` is 1 when there is one.

``transportmon.diff`` is :func:`diff` (the module is named ``changes`` so that no submodule shadows the function).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._errors import InputError

if TYPE_CHECKING:
    import geopandas as gpd
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from .pipeline import AuditResult

#: Subject changes, in the order the table and the ``--out`` file list them. ``new-violation`` and ``resolved`` mark
#: a subject whose verdict stayed but whose findings changed so.
SUBJECT_CHANGES = ("new", "gone", "changed", "new-violation", "resolved")
#: Finding changes.
FINDING_CHANGES = ("new-violation", "resolved")

#: Columns of :attr:`ReportDiff.subjects`.
SUBJECT_COLUMNS = ["subject", "subject_id", "change", "old_verdict", "verdict"]
#: Columns of :attr:`ReportDiff.findings`.
FINDING_COLUMNS = ["finding_id", "subject", "subject_id", "rule_id", "change", "old_severity", "severity",
                   "message_zh", "message_en"]


@dataclass
class ReportDiff:
    """What changed from OLD to NEW."""

    subjects: pd.DataFrame
    """One row per subject that is new, gone, changed its verdict, or gained or lost a violation, with
    :data:`SUBJECT_COLUMNS` (``verdict`` empty for a gone subject, ``old_verdict`` for a new one), sorted by
    subject, subject_id."""
    findings: pd.DataFrame
    """One row per new violation and per resolved violation, with :data:`FINDING_COLUMNS` (severities in OLD and NEW,
    empty where the finding is absent; messages from NEW, or from OLD for a resolved one)."""
    counts: dict[str, int]
    """``subjects_old``, ``subjects_new`` (subjects in each report); ``unchanged``, ``new``, ``gone``, ``changed``
    (subjects of NEW whose verdict and violations stayed, new ones, OLD's gone, verdicts changed); ``new-violation``
    and ``resolved`` (findings); ``alerts`` (findings behind :attr:`exit_code`)."""
    changed: gpd.GeoDataFrame
    """The rows of :attr:`subjects` as report rows (NEW's; OLD's for a gone subject) with ``change`` and
    ``old_verdict`` after ``subject_id``: what ``transportmon diff --out`` writes."""
    policies: tuple[str | None, str | None] = (None, None)
    """The policy of OLD and of NEW (``metadata.policy``, else the reports' ``policy`` column)."""
    fail_on: str = "violation"
    """The severity that alerts (see :func:`compare`)."""
    metadata: dict[str, Any] = field(default_factory=dict)
    """For the ``--out`` file: both reports' as-of dates and policies, and the counts."""

    @property
    def exit_code(self) -> int:
        """1 when NEW has a finding at or above :attr:`fail_on` (default: a violation) whose ``finding_id`` was not
        at or above it in OLD, else 0."""
        return 1 if self.counts["alerts"] else 0


def policy_of(report: pd.DataFrame, metadata: dict[str, Any]) -> str | None:
    """A report's policy: ``metadata["policy"]``, else the one value of its ``policy`` column (a CSV report has no
    metadata), else None."""
    import pandas as pd

    if metadata.get("policy"):
        return str(metadata["policy"])
    if "policy" in report.columns:
        values = pd.unique(report["policy"].dropna().astype(str))
        if len(values) == 1:
            return str(values[0])
    return None


def compare(old: pd.DataFrame, new: pd.DataFrame, old_metadata: dict[str, Any] | None = None,
            new_metadata: dict[str, Any] | None = None, *, force: bool = False, fail_on: str = "violation",
            names: tuple[str, str] = ("OLD", "NEW")) -> ReportDiff:
    """Compare two report frames.

    Parameters
    ----------
    old, new
        Report frames (one row per subject, the columns of DESIGN §4); findings without ``finding_id`` get it
        derived.
    old_metadata, new_metadata
        Their metadata (``policy``, ``as_of``).
    force
        Compare reports of different policies.
    fail_on
        ``violation`` (DESIGN §8), ``warning`` (a finding that became a warning or a violation alerts too) or
        ``never`` (no alerts).
    names
        What to call the two reports in an error (their paths).

    Raises
    ------
    InputError
        When the two reports are of different policies and ``force`` is not given.
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    from ._arrow import index_in, text
    from .report import SEVERITY_RANK

    if fail_on not in ("never", "warning", "violation"):
        raise ValueError(f"fail_on {fail_on!r}: use never, warning or violation")
    old_metadata, new_metadata = old_metadata or {}, new_metadata or {}
    policies = (policy_of(old, old_metadata), policy_of(new, new_metadata))
    if not force and None not in policies and policies[0] != policies[1]:
        raise InputError(names[1], f"is a report of policy {policies[1]!r}, {names[0]} of {policies[0]!r}",
                         "compare reports of the same policy, or pass --force to compare them anyway")
    old_key, new_key = subject_keys(old), subject_keys(new)
    in_old = index_in(new_key, old_key)  # each NEW row's row in OLD, -1 for a new subject
    in_new = index_in(old_key, new_key)
    old_verdict = text(old["verdict"])
    new_verdict = text(new["verdict"])
    matched = in_old >= 0
    was = pa.concat_arrays([old_verdict, pa.nulls(1, pa.string())]).take(
        pa.array(np.where(matched, in_old, len(old))))  # OLD's verdict of each NEW row, null for a new subject
    verdict_changed = matched & ~pc.fill_null(pc.equal(was, new_verdict), False).to_numpy(zero_copy_only=False) & ~(
        was.is_null().to_numpy(zero_copy_only=False) & new_verdict.is_null().to_numpy(zero_copy_only=False))

    old_f, new_f = _flat_findings(old), _flat_findings(new)
    rising, resolved = _crossings(old_f, new_f, ("violation",))
    alerts = 0 if fail_on == "never" else int(_crossings(
        old_f, new_f, tuple(s for s in SEVERITY_RANK if SEVERITY_RANK[s] >= SEVERITY_RANK[fail_on]))[0].sum())

    # Subject-level change of each NEW row: new, else its verdict changed, else a violation came, else one went.
    new_change = np.full(len(new), "", dtype=object)
    resolved_at = in_new[old_f["row"][resolved]]
    new_change[resolved_at[resolved_at >= 0]] = "resolved"
    new_change[new_f["row"][rising]] = "new-violation"
    new_change[verdict_changed] = "changed"
    new_change[~matched] = "new"
    gone = np.flatnonzero(in_new < 0)

    new_rows = np.flatnonzero(new_change != "")
    subjects = pd.DataFrame({
        "subject": pd.concat([_str(new["subject"], new_rows), _str(old["subject"], gone)], ignore_index=True),
        "subject_id": pd.concat([_str(new["subject_id"], new_rows), _str(old["subject_id"], gone)],
                                ignore_index=True),
        "change": np.r_[new_change[new_rows], np.full(len(gone), "gone", dtype=object)].astype(str),
        "old_verdict": pd.concat([pd.Series(pd.arrays.ArrowStringArray(was.take(pa.array(new_rows))), dtype="str"),
                                  _str(old["verdict"], gone)], ignore_index=True),
        "verdict": pd.concat([_str(new["verdict"], new_rows), pd.Series([None] * len(gone), dtype="str")],
                             ignore_index=True),
    })
    order = _sorted(subjects)
    subjects = subjects.take(order).reset_index(drop=True)
    subjects["change"] = subjects["change"].astype("str")

    changed = _changed_rows(old, new, new_rows, gone, subjects, order)
    findings = _finding_table(old_f, new_f, rising, resolved)
    counts = {"subjects_old": len(old), "subjects_new": len(new), "unchanged": int(len(new) - len(new_rows))}
    by_change = subjects["change"].value_counts()
    counts.update({c: int(by_change.get(c, 0)) for c in ("new", "gone", "changed")})
    counts["new-violation"], counts["resolved"] = int(rising.sum()), int(resolved.sum())  # findings
    counts["alerts"] = alerts
    from ._version import __version__

    metadata = {"tool": "transportmon", "version": __version__, "diff": {
        "old": {"name": names[0], "as_of": old_metadata.get("as_of"), "policy": policies[0]},
        "new": {"name": names[1], "as_of": new_metadata.get("as_of"), "policy": policies[1]}},
        "counts": counts, "fail_on": fail_on}
    return ReportDiff(subjects=subjects, findings=findings, counts=counts, changed=changed, policies=policies,
                      fail_on=fail_on, metadata=metadata)


def subject_keys(report: pd.DataFrame) -> pa.Array:
    """A text key per row, ``:{subject}:{subject_id}`` (a subject, a layer name, holds no colon), with ``#k`` added
    to the k-th row (k ≥ 2) that repeats them, in report order: the finding ids' own numbering
    (:func:`transportmon.report.finding_ids`)."""
    import pyarrow as pa

    from .report import finding_ids

    n = len(report)
    if not n:
        return pa.array([], pa.string())
    return finding_ids(pa.repeat(pa.scalar("", pa.string()), n), report["subject"], report["subject_id"]).cast(
        pa.string())


def _str(values: pd.Series, rows: np.ndarray) -> pd.Series:
    import pandas as pd
    import pyarrow as pa

    from ._arrow import text

    return pd.Series(pd.arrays.ArrowStringArray(text(values).take(pa.array(rows, pa.int64()))), dtype="str")


def _sorted(subjects: pd.DataFrame) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.compute as pc

    from ._arrow import text

    table = pa.table({"s": text(subjects["subject"]), "i": text(subjects["subject_id"])})
    return pc.sort_indices(table, sort_keys=[("s", "ascending"), ("i", "ascending")]).to_numpy()


def _flat_findings(report: pd.DataFrame) -> dict[str, np.ndarray | pa.Array]:
    """Every finding of a report as columns: its row, its subject and subject_id, ``finding_id``, ``rule_id``,
    severity and messages."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    from ._arrow import arrow, text
    from .report import with_finding_ids

    column = report["findings"] if "findings" in report.columns else pd.Series([[]] * len(report))
    if not (isinstance(column.dtype, pd.ArrowDtype) and pa.types.is_list(column.dtype.pyarrow_dtype)
            and "finding_id" in {f.name for f in column.dtype.pyarrow_dtype.value_type}):
        column = pd.Series(with_finding_ids(_as_lists(column), report["subject"], report["subject_id"]))
    arr = arrow(column)
    lengths = pc.list_value_length(arr).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    flat = pc.list_flatten(arr)
    row = np.repeat(np.arange(len(arr)), lengths)
    out: dict[str, Any] = {"row": row, "subject": text(report["subject"]).take(pa.array(row)),
                           "subject_id": text(report["subject_id"]).take(pa.array(row))}
    names = {f.name for f in flat.type}
    for key in ("finding_id", "rule_id", "severity", "message_zh", "message_en"):
        out[key] = flat.field(key).cast(pa.string()) if key in names else pa.nulls(len(flat), pa.string())
    return out


def _as_lists(column: pd.Series) -> pa.Array:
    import pandas as pd
    import pyarrow as pa

    from ._arrow import arrow

    if isinstance(column.dtype, pd.ArrowDtype):
        return arrow(column)
    return pa.array([list(v) if isinstance(v, (list, tuple)) else [] for v in column])


def _crossings(old_f: dict[str, Any], new_f: dict[str, Any], severe: tuple[str, ...]) -> tuple[np.ndarray,
                                                                                               np.ndarray]:
    """Masks over NEW's and OLD's findings: severe in NEW and not in OLD (by ``finding_id``), and the reverse."""
    import pyarrow as pa
    import pyarrow.compute as pc

    levels = pa.array(list(severe), pa.string())

    def severe_ids(f: dict[str, Any]) -> tuple[np.ndarray, pa.Array]:
        mask = pc.fill_null(pc.is_in(f["severity"], value_set=levels), False).to_numpy(zero_copy_only=False)
        return mask, f["finding_id"].filter(pa.array(mask))

    new_mask, new_ids = severe_ids(new_f)
    old_mask, old_ids = severe_ids(old_f)
    rising = new_mask & ~pc.fill_null(pc.is_in(new_f["finding_id"], value_set=old_ids), False).to_numpy(
        zero_copy_only=False)
    falling = old_mask & ~pc.fill_null(pc.is_in(old_f["finding_id"], value_set=new_ids), False).to_numpy(
        zero_copy_only=False)
    return rising, falling


def _finding_table(old_f: dict[str, Any], new_f: dict[str, Any], rising: np.ndarray,
                   resolved: np.ndarray) -> pd.DataFrame:
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    from ._arrow import index_in, text

    parts = []
    for change, this, other, mask in (("new-violation", new_f, old_f, rising), ("resolved", old_f, new_f, resolved)):
        take = pa.array(np.flatnonzero(mask))
        ids = this["finding_id"].take(take)
        at = index_in(ids, other["finding_id"])
        other_sev = pa.concat_arrays([other["severity"], pa.array([None], pa.string())]).take(
            pa.array(np.where(at >= 0, at, len(other["severity"]))))
        sev = this["severity"].take(take)
        parts.append(pd.DataFrame({
            "finding_id": ids, "subject": this["subject"].take(take), "subject_id": this["subject_id"].take(take),
            "rule_id": this["rule_id"].take(take), "change": change,
            "old_severity": other_sev if change == "new-violation" else sev,
            "severity": sev if change == "new-violation" else other_sev,
            "message_zh": this["message_zh"].take(take), "message_en": this["message_en"].take(take),
        }))
    table = pd.concat(parts, ignore_index=True)
    for col in table.columns:
        table[col] = table[col].astype("str")
    table = table[FINDING_COLUMNS]
    order = pc.sort_indices(pa.table({"c": text(table["change"]), "f": text(table["finding_id"])}),
                            sort_keys=[("c", "ascending"), ("f", "ascending")]).to_numpy()
    return table.take(order).reset_index(drop=True)


def _changed_rows(old: pd.DataFrame, new: pd.DataFrame, new_rows: np.ndarray, gone: np.ndarray,
                  subjects: pd.DataFrame, order: np.ndarray) -> gpd.GeoDataFrame:
    """Report rows of the changed subjects (NEW's, OLD's for gone ones), in :attr:`ReportDiff.subjects` order, with
    ``change`` and ``old_verdict`` after ``subject_id``."""
    import geopandas as gpd
    import pandas as pd

    parts = [_geo(new).take(new_rows), _geo(old).take(gone)]
    rows = pd.concat([p for p in parts if len(p)] or [_geo(new).iloc[:0]], ignore_index=True)
    rows = gpd.GeoDataFrame(rows, geometry=rows.geometry.name if isinstance(rows, gpd.GeoDataFrame) else None,
                            crs="EPSG:4326").take(order).reset_index(drop=True)
    if len(gone):  # a gone subject has no verdict in NEW
        rows.loc[subjects["change"].to_numpy() == "gone", "verdict"] = None
    at = list(rows.columns).index("subject_id") + 1
    rows.insert(at, "change", subjects["change"].to_numpy())
    rows.insert(at + 1, "old_verdict", subjects["old_verdict"].array)
    return rows


def _geo(report: pd.DataFrame) -> gpd.GeoDataFrame:
    import geopandas as gpd

    if isinstance(report, gpd.GeoDataFrame):
        return report
    return gpd.GeoDataFrame(report, geometry=gpd.GeoSeries([None] * len(report), index=report.index),
                            crs="EPSG:4326")


__all__ = ["FINDING_CHANGES", "FINDING_COLUMNS", "SUBJECT_CHANGES", "SUBJECT_COLUMNS", "ReportDiff", "compare", "diff",
           "policy_of", "subject_keys"]


def diff(old: str | os.PathLike[str] | AuditResult | tuple[pd.DataFrame, dict[str, Any]],
         new: str | os.PathLike[str] | AuditResult | tuple[pd.DataFrame, dict[str, Any]], *, force: bool = False,
         fail_on: str = "violation") -> ReportDiff:
    """What changed from report ``old`` to report ``new`` (DESIGN §8); see :func:`compare`.

    Each report is a path (``.geojson``, ``.parquet`` or ``.csv``, read by :func:`transportmon.io.report.read_report`),
    what :func:`audit` returned, or a (frame, metadata) pair. Returns a :class:`ReportDiff`: the
    changed subjects, the new and resolved violations, the counts and ``exit_code``.
    """
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

