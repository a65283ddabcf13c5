"""The one registry of rules: stable ids, never reused (``TM1xx`` checkpoints, ``TM12x`` waivers of any subject,
``TM2xx`` coach trips, ``TM9xx`` input problems).

A rule module declares its rules with :func:`rule`; ``transportmon rules`` prints :data:`RULES`. Messages are
templates filled column-wise from the evidence frame (``{road_ref}``, ``{distance_to_crossing_m}`` …).

A rule declares what it needs and how severe it is, so no caller keeps a list of rule ids:
:func:`transportmon.rules.all_rules.plan` says which rules run and why the others are skipped, from the layers present
(``needs``); :meth:`Rule.severities` gives each finding's severity from its subject's verdict
(``severity_by_verdict``).
"""

from __future__ import annotations

import inspect
import string
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .._arrow import text

Severity = Literal["violation", "warning", "info"]
#: What a finding's ``severity`` may be: a rule's severity, or ``waived`` — a violation covered by an approved waiver
#: on the subject's date (:mod:`transportmon.waivers`). No rule is declared ``waived``.
FindingSeverity = Literal["violation", "warning", "waived", "info"]
#: Finding severities from the most to the least pressing. ``waived`` sits below ``warning``: a waived violation
#: needs no action (``--fail-on`` and ``--only`` pass it over), yet it says more than an ``info``.
SEVERITIES: tuple[FindingSeverity, ...] = ("violation", "warning", "waived", "info")

#: The clause every rule enforces unless it says otherwise.
CLAUSE_ZH = ("除与湖北交界处外，国道、省道、县道、乡道、村道上不符合规定的防疫检测点一律撤除；取消一切不合理的车辆和人员"
             "劝返措施；……进出中高风险地区的跨省、跨市班车、包车客座率控制在50%以内（途经除外）。")


@dataclass(frozen=True)
class Needs:
    """Layers a rule needs; when one is absent, the rule is skipped with ``skipped_as`` (default ``no X, Y layer``)."""

    layers: tuple[str, ...]
    skipped_as: str = ""

    def skip_reason(self, present: Collection[str]) -> str | None:
        """Why the rule is skipped given the ``present`` layers, or None when all are there."""
        missing = [name for name in self.layers if name not in present]
        if not missing:
            return None
        return self.skipped_as or f"no {', '.join(missing)} layer"


@dataclass(frozen=True)
class Rule:
    """One rule: what it flags, how severe, which clause, the message templates, and what it needs to run.

    ``needs`` are tried in order: the first whose layers are not all present names why the rule is skipped.
    ``severity_by_verdict`` overrides ``severity`` for the findings on subjects with one of those verdicts.
    ``reasons`` (input rules only) are the rejection reasons the rule reports.
    """

    id: str
    name: str
    subject: Literal["checkpoint", "trip", "input", "any"]
    severity: Severity
    clause: str
    summary: str
    message_zh: str
    message_en: str
    parameters: tuple[str, ...] = ()
    doc: str = field(default="", compare=False)
    needs: tuple[Needs, ...] = ()
    severity_by_verdict: tuple[tuple[str, Severity], ...] = ()
    reasons: tuple[str, ...] = ()

    def severities(self, verdict: pd.Series | np.ndarray | None = None) -> str | np.ndarray:
        """The severity of each finding on subjects with ``verdict`` (one value when it does not depend on it)."""
        if not self.severity_by_verdict:
            return self.severity
        if verdict is None:
            raise ValueError(f"{self.id}: the severity depends on the verdict; pass the subjects' verdicts")
        v = np.asarray(verdict, dtype=object)
        out = np.full(len(v), self.severity, dtype=object)
        for word, sev in self.severity_by_verdict:
            out[v == word] = sev
        return out

    def severity_text(self) -> str:
        """The severity in words: ``violation where the verdict is remove, else warning``."""
        if not self.severity_by_verdict:
            return self.severity
        where = "; ".join(f"{sev} where the verdict is {word}" for word, sev in self.severity_by_verdict)
        return f"{where}, else {self.severity}"

    def messages(self, evidence: pd.DataFrame, config: dict[str, object] | None = None) -> tuple[pd.Series, pd.Series]:
        """Fill both message templates for every row of ``evidence`` (column-wise, no per-row Python)."""
        return (_fill(self.message_zh, evidence, config or {}), _fill(self.message_en, evidence, config or {}))


RULES: dict[str, Rule] = {}


def rule(rule_: Rule) -> Rule:
    """Register a rule; an id is registered once and never reused."""
    if rule_.id in RULES:
        raise ValueError(f"rule id {rule_.id} registered twice")
    RULES[rule_.id] = rule_
    return rule_


def decimals_off_limit(values: np.ndarray, limit: float | None, least: int = 0, most: int = 15) -> np.ndarray:
    """The fewest decimals (≥ ``least``) at which each value, rounded, lies on the same side of ``limit`` as the value.

    A distance is never rounded onto the limit it was judged against: 3,000.04 m judged against 3,000 m shows as
    3,000.04, not 3,000 (nor 3,000.0), and 2,999.96 m as 2,999.96; a value exactly at the limit keeps ``least``.
    Beyond ``most`` decimals a float has no more digits to show: the value is then shown as it is (``-1``).
    """
    v = np.asarray(values, dtype=float)
    out = np.full(v.shape, least, dtype=np.int8)
    if limit is None:
        return out
    todo = np.flatnonzero(np.isfinite(v))  # millions of trip rows have no distance: only the finite are looked at
    side = np.sign(v[todo] - limit)
    for d in range(least, most + 1):
        with np.errstate(over="ignore"):  # only a value next to a huge limit gets this far
            ok = np.sign(np.round(v[todo], d) - limit) == side
        out[todo[ok]] = d
        todo, side = todo[~ok], side[~ok]
        if not len(todo):
            return out
    out[todo] = -1
    return out


def round_off_limit(values: np.ndarray, limit: float | None, least: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``values`` rounded to ``least`` decimals, or to more where that would land on ``limit``
    (:func:`decimals_off_limit`); and the decimals of each."""
    v = np.asarray(values, dtype=float)
    decimals = decimals_off_limit(v, limit, least)
    out = np.round(v, least)
    more = np.flatnonzero(decimals != least)  # the few next to the limit (millions of trip rows have none)
    for d in np.unique(decimals[more]):
        sel = more[decimals[more] == d]
        out[sel] = np.round(v[sel], d) if d >= 0 else v[sel]
    return out, decimals


def metres_text(values: pd.Series, limit: float | None = None) -> pd.Series:
    """Distances as text with thousands separators, whole metres unless that would round onto ``limit``
    (then as many decimals as it takes, see :func:`decimals_off_limit`); ``—`` for NaN and infinity.

    Each distinct (value, decimals) is formatted once: distances repeat, and a Python call per row would not scale.
    """
    v = values.to_numpy(dtype=float, na_value=np.nan)
    rounded, decimals = round_off_limit(v, limit)
    out = np.full(len(v), "—", dtype=object)
    finite = np.isfinite(v)
    for d in np.unique(decimals[finite]):
        sel = finite & (decimals == d)
        codes, uniques = pd.factorize(rounded[sel])
        spec = f",.{d}f" if d >= 0 else ","
        out[sel] = np.asarray([format(x, spec) for x in uniques], dtype=object)[codes]
    return pd.Series(out, index=values.index, dtype="string")


def number_text(value: float) -> str:
    """A parameter in a message: ``3,000`` for a whole number, ``150.5`` otherwise (never rounded to a whole one)."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,}"


def _fmt(values: pd.Series) -> pd.Series:
    if pd.api.types.is_float_dtype(values):
        rounded = values.round(0)
        # Formatted once per distinct value (distances repeat, and a Python call per row would not scale).
        codes, uniques = pd.factorize(rounded)
        words = [("—" if pd.isna(x) or np.isinf(x) else f"{x:,.0f}") for x in uniques] + ["—"]
        return pd.Series(np.asarray(words, dtype=object)[codes], index=values.index, dtype="string")
    if isinstance(values.dtype, pd.StringDtype) and not values.hasnans:  # already text: no copy
        return values
    return values.astype("string").fillna("—")


def _fill(template: str, evidence: pd.DataFrame, config: dict[str, object]) -> pd.Series:
    """Column-wise ``str.format``: literal pieces and fields joined row-wise by one Arrow kernel."""
    pieces: list[object] = []
    for literal, name, spec, _ in string.Formatter().parse(template):
        if literal:
            pieces.append(literal)
        if name is None:
            continue
        if name in evidence.columns:
            pieces.append(text(_fmt(evidence[name])))
        elif name in config:
            value = config[name]
            pieces.append(number_text(value) if isinstance(value, float) else str(value))
        else:  # pragma: no cover - a template bug, caught by the registry test
            raise KeyError(f"message field {{{name}}} is neither an evidence column nor a parameter")
    if not len(evidence):
        return pd.Series([], index=evidence.index, dtype="string")
    if not any(isinstance(p, pa.Array) for p in pieces):
        return pd.Series("".join(map(str, pieces)), index=evidence.index, dtype="string")
    out = pc.binary_join_element_wise(*pieces, "")
    return pd.Series(pd.arrays.ArrowStringArray(out), index=evidence.index, dtype="string")


def rule_docs() -> list[dict[str, str]]:
    """Every rule as plain data (for ``transportmon rules`` and the README table)."""
    return [
        {"id": r.id, "name": r.name, "subject": r.subject, "severity": r.severity_text(), "clause": r.clause,
         "summary": r.summary, "parameters": ", ".join(r.parameters),
         "needs": "; ".join(", ".join(n.layers) for n in r.needs), "reasons": ", ".join(r.reasons),
         "doc": inspect.cleandoc(r.doc)}
        for r in sorted(RULES.values(), key=lambda r: r.id)
    ]


FINDING_COLUMNS = ["subject", "subject_id", "source_row", "rule_id", "severity", "message_zh", "message_en"]


def findings_for(rule_: Rule, evidence: pd.DataFrame, mask: pd.Series | np.ndarray, subject: str,
                 id_col: str, config: dict[str, object] | None = None,
                 verdict: pd.Series | np.ndarray | None = None) -> pd.DataFrame:
    """The findings of one rule for the rows of ``evidence`` where ``mask`` holds; ``verdict`` (aligned with
    ``evidence``) gives their severity where the rule's depends on it (:meth:`Rule.severities`)."""
    used = {name for template in (rule_.message_zh, rule_.message_en)
            for _, name, _, _ in string.Formatter().parse(template) if name}
    keep = [c for c in evidence.columns if c in used or c in (id_col, "row")]
    hit = evidence[keep][np.asarray(mask, dtype=bool)]  # only the columns the messages need
    zh, en = rule_.messages(hit, config)
    sev = rule_.severities(None if verdict is None else np.asarray(verdict, dtype=object)[np.asarray(mask, dtype=bool)])
    return pd.DataFrame({
        "subject": subject, "subject_id": hit[id_col].astype(str).array,
        "source_row": hit["row"].to_numpy() if "row" in hit.columns else -1, "rule_id": rule_.id,
        "severity": sev, "message_zh": zh.astype("str").array, "message_en": en.astype("str").array,
    })
