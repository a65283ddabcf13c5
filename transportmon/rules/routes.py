"""Route rules (TM3xx): is a coach route's service restored to what it was before the suspensions?

Clause (六): "全面恢复城乡道路运输服务" — fully restore urban and rural road transport. A route's trips in the 7 days
ending on the as-of date are compared with its trips in a baseline window before the suspensions of 2020-01-23
(``baseline_from``/``baseline_to``). :func:`decide` gives the verdict from evidence columns that
:mod:`transportmon.routes` computes (trip counts, the designation level of the route's stops on the as-of date).
Nothing here reads files, geometry or the clock: the as-of date is passed in.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from ..config import RuleConfig
from ..vocab import POLICY, ROUTE_VERDICTS
from .registry import FINDING_COLUMNS, Needs, Rule, findings_for, metres_text, rule
from .trips import joined

CLAUSE = POLICY
#: Days of service compared with the baseline: the as-of date and the 6 days before it.
RECENT_DAYS = 7
VERDICTS = ROUTE_VERDICTS
#: What the route rules need: a trips layer (with a ``route_id`` column: the audit skips them without one).
ROUTE_LAYERS = Needs(("trips",))
#: The designation level under which a suspension can be justified (TM301 is then a warning).
JUSTIFYING_LEVEL = "high"

TM301 = rule(Rule(
    id="TM301", name="route-suspended", subject="route", severity="violation", clause=CLAUSE,
    summary="A route that ran in the baseline window has no trip in the 7 days ending on the as-of date (a warning "
            "instead, reason high-risk-stop, when a stop of the route is in a high-risk area on the as-of date).",
    message_zh="线路近7日（{recent_window}）无班次，基线期（{baseline_window}）日均{baseline_per_day}班：尚未恢复运营"
               "{justified_zh}。",
    message_en="No trip in the 7 days {recent_window}, against {baseline_per_day} a day in the baseline "
               "{baseline_window}: the route is not restored{justified_en}.",
    parameters=("baseline_from", "baseline_to"),
    needs=(ROUTE_LAYERS,),
    doc="""
    What it checks: the route has trips in the baseline window (``baseline_from`` … ``baseline_to``, inclusive)
    and none in the 7 days ending on the as-of date (as-of − 6 … as-of, inclusive). Every trip row with a
    ``route_id`` and a readable ``service_date`` counts, also one rejected for its occupancy or its stops (it
    ran); a row repeating an earlier trip id does not.
    Why: "全面恢复城乡道路运输服务" — the clause orders road passenger transport fully restored. A suspension is
    the plainest failure; where a stop of the route (a stop where passengers board or alight) lies in a
    high-risk area on the as-of date, suspending it can be justified, so the finding is a warning (reason
    ``high-risk-stop``) for the bureau to confirm rather than a violation.
    Violating: 九江—安庆 ran 5 trips from 2020-01-01 to 01-20 and none from 03-10 to 03-16.
    Warning: 九江—武汉 the same, but 武昌区 (its terminus) is high-risk on 03-16.
    """,
))

TM302 = rule(Rule(
    id="TM302", name="route-partly-restored", subject="route", severity="warning", clause=CLAUSE,
    summary="The route runs again, but fewer trips in the last 7 days than restore_ratio of its baseline.",
    message_zh="线路近7日（{recent_window}）{recent_trips}班，为基线期（{baseline_window}）日均{baseline_per_day}班的"
               "{restored_pct}%，低于{restore_pct}%：部分恢复。",
    message_en="{recent_trips} trips in the 7 days {recent_window}: {restored_pct}% of the baseline "
               "({baseline_per_day} a day, {baseline_window}), below {restore_pct}%: partly restored.",
    parameters=("baseline_from", "baseline_to", "restore_ratio"),
    needs=(ROUTE_LAYERS,),
    doc="""
    What it checks: ``0 < restored_ratio < restore_ratio``, where ``restored_ratio`` = recent trips ÷ (7 ×
    baseline trips per day). Compared exactly, in integer arithmetic: recent × baseline days × den < 7 ×
    baseline trips × num for ``restore_ratio`` = num/den.
    Why: "全面恢复" — fully restored, not just reopened.
    Violating: 10 baseline trips in 20 days (0.5 a day, 3.5 a week) and 1 trip in the last 7 days: 28.57%.
    Compliant: 3 trips in the last 7 days: 85.71% ≥ 80% (TM303). A percentage is never rounded onto the
    limit: 79.996% reads "79.996", not "80".
    """,
))

TM303 = rule(Rule(
    id="TM303", name="route-restored", subject="route", severity="info", clause=CLAUSE,
    summary="The route's trips in the last 7 days reach restore_ratio of its baseline.",
    message_zh="线路近7日（{recent_window}）{recent_trips}班，为基线期（{baseline_window}）日均{baseline_per_day}班的"
               "{restored_pct}%（不低于{restore_pct}%）：已恢复。",
    message_en="{recent_trips} trips in the 7 days {recent_window}: {restored_pct}% of the baseline "
               "({baseline_per_day} a day, {baseline_window}), at least {restore_pct}%: restored.",
    parameters=("baseline_from", "baseline_to", "restore_ratio"),
    needs=(ROUTE_LAYERS,),
    doc="""
    What it checks: ``restored_ratio ≥ restore_ratio`` (exactly at it is restored).
    Example: 20 baseline trips in 20 days, 28 trips in 7 days with 4/5: exactly 80%, restored; 27 trips is
    77.14%, partly restored (TM302).
    """,
))

TM304 = rule(Rule(
    id="TM304", name="route-new", subject="route", severity="info", clause=CLAUSE,
    summary="The route has no trip in the baseline window: nothing to restore, it is new (or its baseline is not "
            "in the data).",
    message_zh="线路基线期（{baseline_window}）无班次，视为新开线路；近7日（{recent_window}）{recent_trips}班。",
    message_en="No trip in the baseline {baseline_window}: a new route; {recent_trips} trips in the 7 days "
               "{recent_window}.",
    parameters=("baseline_from", "baseline_to"),
    needs=(ROUTE_LAYERS,),
    doc="""
    What it checks: no trip of the route falls in the baseline window. Its own id, because nothing is
    measured against a baseline: the route is counted, not judged.
    Why: a route opened after the baseline (or one whose baseline trips were not given) cannot be compared with
    a service it never had; the bureau should know which routes these are.
    """,
))

RULES = (TM303, TM302, TM301, TM304)  # in the order of VERDICTS
#: Message words of a suspension that can be justified (TM301 as a warning).
JUSTIFIED = ("；站点{stops}位于高风险地区，停运可属合理，请核实", " (stop {stops} lies in a high-risk area: the suspension "
             "may be justified; confirm it)")


def decide(ev: pd.DataFrame, config: RuleConfig, *, findings: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The verdict of every route and, with ``findings``, its one finding.

    Parameters
    ----------
    ev
        One row per route: ``route_id``, ``row`` (the route's position), ``baseline_trips``, ``baseline_days``,
        ``recent_trips``, ``high_stops`` (list column: the route's stops in a high-risk area on the as-of date),
        ``recent_from``/``as_of`` (the recent window's first and last day).
    config
        ``restore_ratio`` and the baseline window.
    findings
        ``False`` skips the messages (a timeline counts verdicts day after day).

    Returns
    -------
    decided
        ``ev`` with ``verdict`` and ``reason`` (categoricals), ``baseline_trips_per_day`` and ``restored_ratio``
        (NaN for a new route).
    findings
        :data:`FINDING_COLUMNS`: exactly one per route, in the routes' order (empty without ``findings``).
    """
    ratio: Fraction = config.restore_ratio
    base = np.asarray(ev["baseline_trips"], dtype=np.int64)
    days = np.asarray(ev["baseline_days"], dtype=np.int64)
    recent = np.asarray(ev["recent_trips"], dtype=np.int64)
    high = _lengths(ev["high_stops"]) > 0
    # restored_ratio = recent ÷ (7 × base ÷ days), compared as integers
    enough = recent * days * ratio.denominator >= RECENT_DAYS * base * ratio.numerator
    code = np.select([base == 0, recent == 0, enough], [3, 2, 0], default=1).astype(np.int8)
    out = ev.copy(deep=False)
    out["verdict"] = pd.Categorical.from_codes(code, categories=list(VERDICTS))
    justified = (code == 2) & high
    out["reason"] = pd.Categorical.from_codes(np.where(justified, 0, -1).astype(np.int8),
                                              categories=["high-risk-stop"])
    with np.errstate(divide="ignore", invalid="ignore"):
        out["baseline_trips_per_day"] = base / days
        out["restored_ratio"] = np.where(base > 0, recent * days / (RECENT_DAYS * np.maximum(base, 1)), np.nan)
    if not findings:
        return out, pd.DataFrame(columns=FINDING_COLUMNS)
    return out, _findings(out, code, justified, config)


def _findings(out: pd.DataFrame, code: np.ndarray, justified: np.ndarray, config: RuleConfig) -> pd.DataFrame:
    """One finding per route, in the routes' order; TM301 a warning where the suspension can be justified."""
    fields = message_fields(out, config)
    parts = []
    for k, rule_ in enumerate(RULES):
        mask = code == k
        if not mask.any():
            continue
        part = findings_for(rule_, fields, mask, "route", "route_id")
        if rule_ is TM301:  # not by verdict (suspended either way): by whether a stop is in a high-risk area
            part["severity"] = np.where(justified[mask], "warning", TM301.severity)
        part.index = np.flatnonzero(mask)
        parts.append(part)
    if not parts:
        return pd.DataFrame(columns=FINDING_COLUMNS)
    return pd.concat(parts).sort_index().reset_index(drop=True)[FINDING_COLUMNS]


def message_fields(out: pd.DataFrame, config: RuleConfig) -> pd.DataFrame:
    """The fields of the TM3xx messages as text columns (routes are few: plain pandas string operations)."""
    limit = float(config.restore_ratio) * 100
    pct = pd.Series(np.asarray(out["restored_ratio"], dtype=float) * 100, index=out.index)
    high = joined(out["high_stops"], "、").tolist()
    recent_window = (_day_text(out["recent_from"]) + "—" + _day_text(out["as_of"]))
    return pd.DataFrame({
        "route_id": out["route_id"].astype(str).to_numpy(), "row": np.asarray(out["row"], dtype=np.int64),
        "recent_window": recent_window.to_numpy(),
        "baseline_window": f"{config.baseline_from}—{config.baseline_to}",
        "baseline_per_day": [_per_day(b, d) for b, d in zip(np.asarray(out["baseline_trips"], dtype=np.int64).tolist(),
                                                            np.asarray(out["baseline_days"], dtype=np.int64).tolist())],
        "recent_trips": np.asarray(out["recent_trips"], dtype=np.int64).astype(str),
        "restored_pct": metres_text(pct, limit).to_numpy(),
        "restore_pct": f"{limit:g}",
        "justified_zh": [JUSTIFIED[0].format(stops=s) if s else "" for s in high],
        "justified_en": [JUSTIFIED[1].format(stops=s.replace("、", ", ")) if s else "" for s in high],
    }, index=out.index)


def _per_day(trips: int, days: int) -> str:
    """Baseline trips per day in three significant digits (``0.5``, ``0.35``, ``0.00274``, ``12.5``), whole from 100."""
    value = int(trips) / int(days)
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _lengths(lists: pd.Series) -> np.ndarray:
    """Length of each list of a list column (0 for a missing one)."""
    if isinstance(lists.dtype, pd.ArrowDtype):
        return pc.fill_null(pc.list_value_length(lists.array.__arrow_array__()), 0).to_numpy().astype(np.int64)
    return np.asarray([len(v) if isinstance(v, (list, tuple, np.ndarray)) else 0 for v in lists], dtype=np.int64)


def _day_text(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).dt.strftime("%Y-%m-%d").astype(str)
