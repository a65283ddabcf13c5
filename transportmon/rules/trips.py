"""Coach-trip rules (TM2xx): does the 50% seat-occupancy cap apply to a trip, and is it kept?

Clause (六): "进出中高风险地区的跨省、跨市班车、包车客座率控制在50%以内（途经除外）". Each trip is judged on its own
``service_date``. :func:`trip_evidence` joins columns (stop → admin units, stop × date → designation level);
:func:`decide` gives the verdict. Nothing here touches geometry, files or the clock.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd

from ..config import RuleConfig
from .registry import FINDING_COLUMNS, Rule, findings_for, rule

CLAUSE = "九府发〔2020〕3号 (六)"
LEVEL_ORDER = pd.CategoricalDtype(["low", "medium", "high"], ordered=True)

TM201 = rule(Rule(
    id="TM201", name="coach-over-occupancy-cap", subject="trip", severity="violation", clause=CLAUSE,
    summary="An inter-provincial/inter-city scheduled or charter coach boarding or alighting in a high/medium-risk "
            "area carries more than the cap.",
    message_zh="{service_date}{scope_zh}{service_type_zh}在{risk_level_zh}风险地区上下客（{risk_stops_text}），载客{passengers}/"
               "{seats}座，超过{cap_pct}%上限（最多{max_passengers}人），超载{excess_passengers}人。",
    message_en="{service_date} {scope} {service_type} coach boards/alights in a {risk_level}-risk area "
               "({risk_stops_text}) with {passengers} of {seats} seats, over the {cap_pct}% cap (at most "
               "{max_passengers}): {excess_passengers} too many.",
    parameters=("occupancy_cap", "risk_levels", "capped_service_types"),
    doc="""
    What it checks: the trip is in scope (its boarding/alighting stops lie in ≥ 2 provinces or ≥ 2 cities; service
    type scheduled or charter), touches a high/medium-risk area on its service date (a stop where passengers board or
    alight lies in such an area), and ``passengers × den > seats × num`` for the cap num/den — integer arithmetic, so
    23 of 45 seats is over a 50% cap and 22 is not.
    Why: "进出中高风险地区的跨省、跨市班车、包车客座率控制在50%以内".
    Violating: Jiujiang → Huangmei scheduled coach on 2020-03-01, 23 passengers of 45, alighting in 黄梅 (high).
    Compliant: the same trip with 22 passengers (TM202).
    """,
))

TM202 = rule(Rule(
    id="TM202", name="coach-within-occupancy-cap", subject="trip", severity="info", clause=CLAUSE,
    summary="The cap applies and is kept.",
    message_zh="{service_date}{scope_zh}{service_type_zh}在{risk_level_zh}风险地区上下客（{risk_stops_text}），载客{passengers}/"
               "{seats}座，未超过{cap_pct}%上限。",
    message_en="{service_date} {scope} {service_type} coach boards/alights in a {risk_level}-risk area "
               "({risk_stops_text}) with {passengers} of {seats} seats, within the {cap_pct}% cap.",
    parameters=("occupancy_cap",),
    doc="""
    What it checks: in scope and touching, and ``passengers × den ≤ seats × num``.
    Example: 22 of 45 with a 50% cap; exactly 50% (20 of 40) is within.
    """,
))

TM203 = rule(Rule(
    id="TM203", name="coach-cap-not-applicable", subject="trip", severity="info", clause=CLAUSE,
    summary="The cap does not apply: service type, intra-city, passing through only, or no risk stop.",
    message_zh="限载不适用：{reason_zh}。",
    message_en="The cap does not apply: {reason_en}.",
    parameters=("capped_service_types", "risk_levels"),
    doc="""
    What it checks: why the cap does not apply, in this order — ``service-type`` (not scheduled or charter),
    ``intra-city`` (boarding/alighting stops all in one city, even when touching a risk area), ``pass-through-only``
    (a high/medium-risk stop is passed without boarding or alighting: "途经除外"), ``no-risk-stop``.
    """,
))

REASON_TEXT = {
    "service-type": ("班次类型非班车或包车", "the service is neither scheduled nor charter"),
    "intra-city": ("上下客站点均在同一城市", "all boarding/alighting stops are in one city"),
    "pass-through-only": ("仅途经中高风险地区，未上下客", "it only passes through high/medium-risk areas"),
    "no-risk-stop": ("上下客站点均不在中高风险地区", "no boarding/alighting stop is in a high/medium-risk area"),
}
LEVEL_ZH = {"high": "高", "medium": "中", "low": "低"}
SCOPE_ZH = {"inter-provincial": "跨省", "inter-city": "跨市", "intra-city": "市内"}
TYPE_ZH = {"scheduled": "班车", "charter": "包车", "other": "其他客车"}
VERDICTS = ("over-cap", "compliant", "not-applicable", "rejected")


def trip_evidence(trips: pd.DataFrame, stop_times: pd.DataFrame, stop_admin: pd.DataFrame,
                  stop_levels: pd.Series, config: RuleConfig) -> pd.DataFrame:
    """Per-trip facts from column joins.

    Parameters
    ----------
    trips
        Valid trips: ``trip_id``, ``service_date``, ``service_type``, ``seats``, ``passengers``, ``row``.
    stop_times
        Valid stop times of those trips: ``trip_id``, ``stop_sequence``, ``stop_id``, ``pickup``, ``dropoff``.
    stop_admin
        Indexed by ``stop_id``: ``province``, ``city``.
    stop_levels
        Designation level (low/medium/high or NA) of each ``stop_times`` row on its trip's service date, aligned with
        ``stop_times``.
    config
        Rule parameters.
    """
    st = pd.DataFrame({
        "trip_id": stop_times["trip_id"].to_numpy(), "seq": stop_times["stop_sequence"].to_numpy(),
        "stop_id": stop_times["stop_id"].to_numpy(),
        "boards": (stop_times["pickup"].to_numpy(bool) | stop_times["dropoff"].to_numpy(bool)),
        "level": pd.Categorical(stop_levels.to_numpy(), dtype=LEVEL_ORDER),
    })
    st["province"] = stop_admin["province"].reindex(st["stop_id"]).to_numpy()
    st["city"] = stop_admin["city"].reindex(st["stop_id"]).to_numpy()
    st["risky"] = st["level"].isin(config.risk_levels).astype(bool)
    st["touch"] = st["risky"] & st["boards"]
    st["passes"] = st["risky"] & ~st["boards"]
    st = st.sort_values(["trip_id", "seq"], kind="stable")
    boarding = st[st["boards"]]
    g_all = st.groupby("trip_id", sort=False)
    g_board = boarding.groupby("trip_id", sort=False)
    agg = pd.DataFrame({
        "touching": g_all["touch"].any(), "passes": g_all["passes"].any(),
    })
    agg["provinces"] = g_board["province"].nunique().reindex(agg.index).fillna(0).astype("int64")
    agg["cities"] = g_board["city"].nunique().reindex(agg.index).fillna(0).astype("int64")
    agg["risk_level"] = g_board["level"].max().reindex(agg.index) if len(boarding) else pd.NA
    touched = st[st["touch"]]
    # Each risk stop once, in the order first reached (a round trip boards and alights at the same stop).
    agg["risk_stops"] = touched.drop_duplicates(["trip_id", "stop_id"]).groupby("trip_id", sort=False)["stop_id"].agg(
        list).reindex(agg.index)
    agg["touch_level"] = touched.groupby("trip_id", sort=False)["level"].max().reindex(agg.index) if len(
        touched) else pd.NA

    ev = trips[["trip_id", "service_date", "service_type", "seats", "passengers", "route_id", "row"]].merge(
        agg, left_on="trip_id", right_index=True, how="left")
    ev["touching"] = ev["touching"].fillna(False).astype(bool)
    ev["passes"] = ev["passes"].fillna(False).astype(bool)
    ev["risk_stops"] = ev["risk_stops"].map(lambda v: v if isinstance(v, list) else [])
    ev["scope"] = np.select([ev["provinces"] >= 2, ev["cities"] >= 2], ["inter-provincial", "inter-city"],
                            default="intra-city")
    # The level that triggered the cap when touching; else the highest level where passengers board or alight.
    level = ev["touch_level"].astype("string").fillna(ev["risk_level"].astype("string"))
    ev["risk_level"] = level
    return ev


def decide(ev: pd.DataFrame, config: RuleConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The verdict of every trip and its findings (see the rules' docs for the order of reasons)."""
    cap: Fraction = config.occupancy_cap
    seats = ev["seats"].astype("int64")
    pax = ev["passengers"].astype("int64")
    capped_type = ev["service_type"].isin(config.capped_service_types).to_numpy()
    inter = (ev["scope"] != "intra-city").to_numpy()
    touching = ev["touching"].to_numpy()
    over = (pax * cap.denominator > seats * cap.numerator).to_numpy()
    applies = capped_type & inter & touching
    verdict = np.where(applies, np.where(over, "over-cap", "compliant"), "not-applicable")
    reason = np.select([~capped_type, ~inter, ev["passes"].to_numpy() & ~touching, ~touching],
                       ["service-type", "intra-city", "pass-through-only", "no-risk-stop"], default="")
    reason = np.where(applies, "", reason)
    max_pax = (seats * cap.numerator) // cap.denominator
    out = ev.copy()
    out["verdict"] = verdict
    out["reason"] = pd.Series(reason, index=ev.index, dtype="string").replace("", pd.NA)
    out["occupancy"] = pax / seats
    out["cap"] = float(cap)
    out["max_passengers"] = max_pax
    # Excess only where the cap applies (0 when kept); not-applicable trips have none to speak of.
    out["excess_passengers"] = pd.Series(np.where(applies & over, pax - max_pax, 0), index=ev.index).where(
        applies).astype("Int64")

    msg = out.copy()
    msg["service_date"] = msg["service_date"].dt.strftime("%Y-%m-%d")
    msg["scope_zh"] = msg["scope"].map(SCOPE_ZH)
    msg["service_type_zh"] = msg["service_type"].map(TYPE_ZH)
    msg["risk_level_zh"] = msg["risk_level"].map(LEVEL_ZH).fillna("")
    msg["risk_stops_text"] = msg["risk_stops"].map(", ".join)
    msg["cap_pct"] = f"{float(cap) * 100:g}"
    for col in ("passengers", "seats", "max_passengers", "excess_passengers"):
        msg[col] = msg[col].astype("string")
    msg["reason_zh"] = msg["reason"].map({k: v[0] for k, v in REASON_TEXT.items()})
    msg["reason_en"] = msg["reason"].map({k: v[1] for k, v in REASON_TEXT.items()})
    v = pd.Series(verdict, index=ev.index)
    parts = [
        findings_for(TM201, msg, v == "over-cap", "trip", "trip_id"),
        findings_for(TM202, msg, v == "compliant", "trip", "trip_id"),
        findings_for(TM203, msg, v == "not-applicable", "trip", "trip_id"),
    ]
    findings = pd.concat([p for p in parts if len(p)] or [pd.DataFrame(columns=FINDING_COLUMNS)], ignore_index=True)
    return out, findings
