"""Checkpoint rules (TM1xx): may an epidemic checkpoint stay on the road?

Clause (六): "除与湖北交界处外，国道、省道、县道、乡道、村道上不符合规定的防疫检测点一律撤除；取消一切不合理的车辆和人员劝返措施；
全面恢复城乡道路运输服务和货车通行". The verdict of every checkpoint is decided in :func:`decide`, from evidence
columns computed by :mod:`transportmon.geo.evidence` (snap, road class, distances). Nothing here reads files,
geometry or the clock: the as-of date is passed in.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import RuleConfig
from ..geo.names import neighbour_names
from ..vocab import POLICY, ROAD_CLASS_EN, ROAD_CLASS_ZH
from .registry import FINDING_COLUMNS, Needs, Rule, findings_for, metres_text, rule

CLAUSE = POLICY

#: What the checkpoint rules need: the checkpoints; those that judge the road, usable roads too (a roads layer with
#: at least one road), else every active checkpoint is ``review`` (TM103).
CHECKPOINTS = Needs(("checkpoints",))
ON_ROADS_NEEDS = (CHECKPOINTS, Needs(("roads",), "no usable roads"))

TM101 = rule(Rule(
    id="TM101", name="checkpoint-away-from-exempt-border", subject="checkpoint", severity="violation", clause=CLAUSE,
    summary="A checkpoint on a national/provincial/county/township/village road away from the exempt border "
            "(with the exempt_neighbours; Hubei by default) must be removed.",
    message_zh="检测点位于{road_class_zh}{road_ref}，{crossing_zh}（限{border_tolerance_m}米），应撤除。",
    message_en="Checkpoint on {road_en} {crossing_en} (limit {border_tolerance_m} m): remove it.",
    parameters=("border_tolerance_m", "exempt_neighbours", "covered_classes"),
    needs=ON_ROADS_NEEDS,
    doc="""
    What it checks: an active checkpoint snapped to a covered road (国道/省道/县道/乡道/村道) whose along-network
    distance to the nearest crossing of the exempt border is more than ``border_tolerance_m`` (or unreachable).
    Why: clause (六) orders every such checkpoint removed "除与湖北交界处外" — except at the boundary with Hubei
    (``exempt_neighbours``, default ``["420000"]``; another city configures its own exempt neighbours).
    Straight-line nearness is not enough: a riverside street 800 m from the Hubei bank is not "at the border" when the
    nearest bridge is 5 km away by road. The message gives the distance to the nearest crossing (``crossing_zh``,
    ``crossing_en``), or says that no crossing lies within the search range by road.
    Violating: a checkpoint on G105 at the 永修 county entry, 60 km from Hubei → remove.
    Compliant: a checkpoint at the Jiujiang Yangtze bridge approach, 1.2 km from the crossing → keep (TM102).
    """,
))

TM102 = rule(Rule(
    id="TM102", name="checkpoint-at-exempt-border", subject="checkpoint", severity="info", clause=CLAUSE,
    summary="A checkpoint within the border tolerance of a crossing of the border with an exempt neighbour "
            "(exempt_neighbours; Hubei by default) may stay.",
    message_zh="检测点位于{road_class_zh}{road_ref}，距{neighbour_zh}交界路口沿路{distance_to_crossing_m}米（≤{border_tolerance_m}米），"
               "可保留。",
    message_en="Checkpoint on {road_en} is {distance_to_crossing_m} m by road from a crossing of the exempt border "
               "with {neighbour_en} (≤ {border_tolerance_m} m): may stay.",
    parameters=("border_tolerance_m", "exempt_neighbours"),
    needs=ON_ROADS_NEEDS,
    doc="""
    What it checks: an active checkpoint on a covered road within ``border_tolerance_m`` (inclusive) along the road
    network of a point where a road crosses the exempt border line.
    Why: the clause exempts checkpoints "与湖北交界处"; the message names the configured neighbours (``neighbour_zh``,
    ``neighbour_en``: 湖北/Hubei by default).
    Example: 3,000 m by road from the bridge crossing with the default tolerance → keep; 3,001 m → remove. A
    distance is never rounded onto the limit: 3,000.04 m reads "3,000.04 m", 2,999.96 m "2,999.96 m".
    """,
))

TM103 = rule(Rule(
    id="TM103", name="checkpoint-off-road", subject="checkpoint", severity="warning", clause=CLAUSE,
    summary="No road within the snap tolerance: the checkpoint cannot be placed on a road and needs review.",
    message_zh="检测点{snap_tolerance_m}米内无道路（最近道路{distance_to_road_m}米），需人工核查位置。",
    message_en="No road within {snap_tolerance_m} m of the checkpoint (nearest {distance_to_road_m} m): check its position.",
    parameters=("snap_tolerance_m",),
    needs=(CHECKPOINTS,),
    doc="""
    What it checks: the distance from the checkpoint to the nearest road is more than ``snap_tolerance_m``.
    Why: the clause is about checkpoints on roads; one that cannot be put on a road cannot be judged, and is often a
    coordinate in the wrong datum or a typo.
    Example: 151 m from the nearest road with the default 150 m → review; 150 m → snapped; 150.04 m reads
    "150.04 m", not "150 m".
    """,
))

TM104 = rule(Rule(
    id="TM104", name="checkpoint-on-uncovered-road", subject="checkpoint", severity="warning", clause=CLAUSE,
    summary="The road's class (expressway, urban street, other) is not named by the clause: review.",
    message_zh="检测点位于{road_class_zh}{road_ref}，不属于条款所列国省县乡村道，需人工核查。",
    message_en="Checkpoint on {road_en}, a road class ({road_class}) the clause does not name: review.",
    parameters=("covered_classes",),
    needs=ON_ROADS_NEEDS,
    doc="""
    What it checks: the snapped road's class is not in ``covered_classes``.
    Why: clause (六) names national, provincial, county, township and village roads; expressway exits (高速路口) and
    urban streets are governed by other notices, so the bureau decides them case by case.
    Example: the 荷花垅 expressway-exit screening point on G70 → review.
    """,
))

TM105 = rule(Rule(
    id="TM105", name="checkpoint-not-active", subject="checkpoint", severity="info", clause=CLAUSE,
    summary="The checkpoint is not active on the as-of date (opened ≤ as-of < closed).",
    message_zh="检测点在核查日不在运行（设立{opened}，撤销{closed}）。",
    message_en="Checkpoint not active on the as-of date (opened {opened}, closed {closed}).",
    needs=(CHECKPOINTS,),
    doc="""
    What it checks: ``opened`` > as-of, or ``closed`` ≤ as-of (a checkpoint closed on the as-of date is gone that day).
    Why: only checkpoints standing on the as-of date are subject to removal.
    Example: a toll-station control point closed 2020-02-25 is inactive on 2020-03-16 and active on 2020-02-24.
    """,
))

TM110 = rule(Rule(
    id="TM110", name="turn-back-measure", subject="checkpoint", severity="warning", clause=CLAUSE,
    severity_by_verdict=(("remove", "violation"),),
    summary="The checkpoint turns vehicles or people back (劝返): a violation where it must go, a warning where it may stay.",
    message_zh="检测点实施劝返措施；条款要求取消一切不合理的劝返措施。",
    message_en="Checkpoint turns vehicles or people back; the clause cancels all unreasonable turn-back measures.",
    needs=(CHECKPOINTS,),
    doc="""
    What it checks: ``turn_back`` is true on an active checkpoint. Severity: violation when the verdict is remove,
    warning when keep or review (a border checkpoint may screen, but turning people back needs a reason).
    Why: "取消一切不合理的车辆和人员劝返措施".
    """,
))

TM111 = rule(Rule(
    id="TM111", name="freight-blocked", subject="checkpoint", severity="violation", clause=CLAUSE,
    summary="The checkpoint stops trucks or mail from passing: trucks must pass.",
    message_zh="检测点阻断货车通行；条款要求全面恢复货车通行。",
    message_en="Checkpoint blocks freight traffic; the clause requires truck traffic fully restored.",
    needs=(CHECKPOINTS,),
    doc="""
    What it checks: ``blocks_freight`` is true on an active checkpoint, whatever its verdict.
    Why: "全面恢复城乡道路运输服务和货车通行" — even a border checkpoint that may stay must let trucks through.
    """,
))

#: The evidence column judged against each distance parameter: shown, in messages and in the report, never rounded
#: onto that limit.
JUDGED_DISTANCES = {"distance_to_crossing_m": "border_tolerance_m", "distance_to_road_m": "snap_tolerance_m"}


def distance_limits(config: RuleConfig) -> dict[str, float]:
    """``{evidence column: the limit it is judged against}`` under ``config``."""
    return {col: float(getattr(config, param)) for col, param in JUDGED_DISTANCES.items()}


def road_words(road_class: pd.Series, road_ref: pd.Series) -> pd.Series:
    """The road in English: ``national road G105``, ``expressway G70``; without a ref ``a national road``,
    ``an expressway``, ``an urban street`` (no double space, the right article); ``a road`` when the class is unknown.
    """
    noun = road_class.map(ROAD_CLASS_EN).astype("string").fillna("road")
    ref = road_ref.astype("string").fillna("").str.strip()
    article = noun.str[0].isin(list("aeiou")).map({True: "an ", False: "a "}).astype("string")
    return (noun + " " + ref).where(ref != "", article + noun)


def overdue_days(verdict: np.ndarray, opened: pd.Series, config: RuleConfig,
                 as_of: pd.Timestamp) -> pd.arrays.IntegerArray:
    """Days a ``remove`` checkpoint has stood past its due date on ``as_of``: ``as_of − max(due, opened)``, at
    least 0; missing for other verdicts and while ``as_of`` is before ``config.due``.

    A checkpoint set up after the due date is overdue from the day it opened: the clause forbade it then already.
    """
    day = pd.Timestamp(as_of).normalize()
    due = pd.Timestamp(config.due)
    since = pd.to_datetime(opened).to_numpy(dtype="datetime64[ns]")
    since = np.where(np.isnat(since) | (since < due.to_datetime64()), due.to_datetime64(), since)
    days = ((day.to_datetime64() - since) // np.timedelta64(1, "D")).astype(np.int64)
    missing = (np.asarray(verdict) != "remove") | (day < due)
    return pd.arrays.IntegerArray(np.maximum(days, 0), missing)


def decide(evidence: pd.DataFrame, config: RuleConfig, as_of: pd.Timestamp, *,
           neighbours: tuple[str, str] | None = None,
           with_findings: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The verdict of every checkpoint, and its findings.

    Parameters
    ----------
    evidence
        One row per valid checkpoint: ``checkpoint_id``, ``opened``, ``closed``, ``turn_back``, ``blocks_freight``,
        ``distance_to_road_m``, ``road_ref``, ``road_class``, ``distance_to_crossing_m`` (``inf`` when none is
        reachable).
    config
        The rule parameters.
    as_of
        The audit date (never read from the clock).
    neighbours
        The exempt neighbours as message text (Chinese, English), e.g. from
        :func:`~transportmon.geo.names.neighbour_names` with the boundaries in use; default: named from their
        adcodes alone.
    with_findings
        ``False``: the verdicts only, and no findings (their messages are most of the cost; a timeline decides every
        day of a range and only counts verdicts).

    Returns
    -------
    (verdicts, findings): ``verdicts`` has ``checkpoint_id``, ``verdict``, ``reason`` and ``overdue_days`` aligned
    with ``evidence``; ``findings`` has :data:`~transportmon.rules.registry.FINDING_COLUMNS`.
    ``overdue_days`` (``Int64``): for a ``remove`` checkpoint, the days from ``max(config.due, opened)`` to
    ``as_of`` (0 on the due date; never below 0); empty for other verdicts and before the due date.
    """
    ev = evidence.copy()
    day = pd.Timestamp(as_of).normalize()
    not_open = ev["opened"].notna() & (ev["opened"] > day)
    closed = ev["closed"].notna() & (ev["closed"] <= day)
    active = ~(not_open | closed)
    on_road = ev["distance_to_road_m"].le(config.snap_tolerance_m).fillna(False).astype(bool)
    covered = ev["road_class"].isin(config.covered_classes).fillna(False).astype(bool)
    at_border = ev["distance_to_crossing_m"].le(config.border_tolerance_m).fillna(False).astype(bool)

    verdict = np.select(
        [~active, active & ~on_road, active & on_road & ~covered, active & on_road & covered & at_border],
        ["inactive", "review", "review", "keep"], default="remove")
    reason = np.select(
        [not_open, closed, active & ~on_road, active & on_road & ~covered],
        ["not-yet-open", "closed", "no-road", "uncovered-road-class"], default="")
    verdicts = pd.DataFrame({"checkpoint_id": ev["checkpoint_id"].to_numpy(), "verdict": verdict,
                             "reason": pd.Series(reason, dtype="string").replace("", pd.NA).to_numpy(),
                             "overdue_days": overdue_days(verdict, ev["opened"], config, day)},
                            index=ev.index)
    if not with_findings:
        return verdicts, pd.DataFrame(columns=FINDING_COLUMNS)

    ev["road_class_zh"] = ev["road_class"].map(ROAD_CLASS_ZH).fillna("道路")
    ev["road_en"] = road_words(ev["road_class"], ev["road_ref"])
    ev["road_ref"] = ev["road_ref"].fillna("")
    ev["neighbour_zh"], ev["neighbour_en"] = neighbours or neighbour_names(config.exempt_neighbours)
    # Distances as text, never rounded onto the limit they were judged against (3,000.04 m is not "3,000 m").
    limits = distance_limits(config)
    finite = np.isfinite(ev["distance_to_crossing_m"].astype(float))
    for col, limit in limits.items():
        ev[col] = metres_text(ev[col].astype(float), limit)
    metres = ev["distance_to_crossing_m"]
    ev["crossing_zh"] = ("距最近的豁免边界路口沿路" + metres + "米").where(finite, "沿路在搜索范围内无可达的豁免边界路口")
    ev["crossing_en"] = ("is " + metres + " m by road from the nearest exempt-border crossing").where(
        finite, "has no exempt-border crossing within the search range by road")
    for col in ("opened", "closed"):
        ev[col] = ev[col].dt.strftime("%Y-%m-%d").fillna("—")
    params = config.to_dict()
    v = pd.Series(verdict, index=ev.index)
    parts = [
        findings_for(TM101, ev, v == "remove", "checkpoint", "checkpoint_id", params),
        findings_for(TM102, ev, v == "keep", "checkpoint", "checkpoint_id", params),
        findings_for(TM103, ev, v.eq("review") & ~on_road, "checkpoint", "checkpoint_id", params),
        findings_for(TM104, ev, v.eq("review") & on_road, "checkpoint", "checkpoint_id", params),
        findings_for(TM105, ev, v == "inactive", "checkpoint", "checkpoint_id", params),
        findings_for(TM110, ev, active & ev["turn_back"].astype(bool), "checkpoint", "checkpoint_id", params,
                     verdict=v),
        findings_for(TM111, ev, active & ev["blocks_freight"].astype(bool), "checkpoint", "checkpoint_id", params),
    ]
    findings = pd.concat([p for p in parts if len(p)] or [pd.DataFrame(columns=FINDING_COLUMNS)], ignore_index=True)
    return verdicts, findings
