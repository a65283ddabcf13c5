"""Coach-trip rules (TM2xx): does the 50% seat-occupancy cap apply to a trip, and is it kept?

Clause (六): "进出中高风险地区的跨省、跨市班车、包车客座率控制在50%以内（途经除外）". Each trip is judged on its own
``service_date``. :func:`trip_evidence` joins columns (stop → admin units, stop × date → designation level);
:func:`decide` gives the verdict. Nothing here touches geometry, files or the clock.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .._arrow import STOPS_TYPE, index_in, list_column, offsets_of, text
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
                  stop_levels: pd.Series, config: RuleConfig, *, trip_pos: np.ndarray | None = None,
                  order: np.ndarray | None = None) -> pd.DataFrame:
    """Per-trip facts from column joins: integer codes and one pass of ``ufunc.at`` per fact, no groupby.

    Parameters
    ----------
    trips
        Valid trips: ``trip_id``, ``service_date``, ``service_type``, ``seats``, ``passengers``, ``row``.
    stop_times
        Stop times: ``trip_id``, ``stop_sequence``, ``stop_id``, ``pickup``, ``dropoff``. Rows of trips not in
        ``trips`` are ignored.
    stop_admin
        Indexed by ``stop_id``: ``province``, ``city``.
    stop_levels
        Designation level (low/medium/high or NA) of each ``stop_times`` row on its trip's service date, aligned with
        ``stop_times``.
    config
        Rule parameters.
    trip_pos, order
        Optional, when the caller has them: the position in ``trips`` of each stop row's trip (-1 for none), and an
        order of the stop rows by (trip position, stop_sequence).

    Returns
    -------
    pandas.DataFrame
        ``trips``' columns with ``touching``, ``passes``, ``provinces``/``cities`` (2 means "two or more"),
        ``risk_stops`` (a list column: the risk stops where passengers board or alight, each once, in the order first
        reached), ``risk_level`` and ``scope``.
    """
    n = len(trips)
    if trip_pos is None:
        trip_pos = index_in(stop_times["trip_id"], trips["trip_id"])
    if order is None:
        order = stop_order(trip_pos, stop_times["stop_sequence"])
    tpos = trip_pos[order]
    inside = tpos >= 0
    order, tpos = order[inside], tpos[inside]
    stop_pos = index_in(stop_times["stop_id"], pd.Series(stop_admin.index))[order]
    boards = (np.asarray(stop_times["pickup"], dtype=bool) | np.asarray(stop_times["dropoff"], dtype=bool))[order]
    level = pd.Series(stop_levels).astype(LEVEL_ORDER).cat.codes.to_numpy()[order].astype(np.int8)
    risky_codes = [LEVEL_ORDER.categories.get_loc(lv) for lv in config.risk_levels if lv in LEVEL_ORDER.categories]
    risky = np.isin(level, risky_codes)
    touch = risky & boards
    passes = risky & ~boards

    def any_of(mask: np.ndarray) -> np.ndarray:
        out = np.zeros(n, dtype=bool)
        out[tpos[mask]] = True
        return out

    def max_of(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        out = np.full(n, -1, dtype=np.int8)
        np.maximum.at(out, tpos[mask], values[mask])
        return out

    def two_or_more(column: str) -> np.ndarray:
        """1 or 2 ("two or more") distinct known values among the boarding stops; 0 when none is known."""
        codes = pd.factorize(stop_admin[column].to_numpy(dtype=object, na_value=None))[0]
        code = np.where(stop_pos >= 0, codes[np.maximum(stop_pos, 0)], -1)
        known = boards & (code >= 0)
        lo = np.full(n, np.iinfo(np.int64).max)
        hi = np.full(n, -1, dtype=np.int64)
        np.minimum.at(lo, tpos[known], code[known])
        np.maximum.at(hi, tpos[known], code[known])
        return np.where(hi < 0, 0, np.where(hi > lo, 2, 1))

    # Each risk stop once, in the order first reached (a round trip boards and alights at the same stop).
    touched = np.flatnonzero(touch)
    first = ~pd.Series(tpos[touched] * (len(stop_admin) + 1) + stop_pos[touched]).duplicated().to_numpy()
    touched = touched[first]
    stop_ids = text(stop_times["stop_id"]).take(pa.array(order[touched]))
    risk_stops = list_column(offsets_of(tpos[touched], n), stop_ids, STOPS_TYPE)

    board_level = max_of(level, boards & (level >= 0))
    touch_level = max_of(level, touch)
    # The level that triggered the cap when touching; else the highest level where passengers board or alight.
    best = np.where(touch_level >= 0, touch_level, board_level)
    ev = trips[["trip_id", "service_date", "service_type", "seats", "passengers", "route_id", "row"]].reset_index(
        drop=True)
    ev["touching"] = any_of(touch)
    ev["passes"] = any_of(passes)
    ev["provinces"] = two_or_more("province")
    ev["cities"] = two_or_more("city")
    ev["risk_stops"] = risk_stops
    ev["risk_level"] = pd.Categorical.from_codes(best, dtype=LEVEL_ORDER).astype("string")
    ev["scope"] = np.select([ev["provinces"] >= 2, ev["cities"] >= 2], ["inter-provincial", "inter-city"],
                            default="intra-city")
    return ev


def stop_order(trip_pos: np.ndarray, sequence: pd.Series | np.ndarray) -> np.ndarray:
    """Positions of stop rows sorted by (trip position, stop_sequence); no sort when they already are."""
    seq = np.asarray(sequence, dtype=np.int64)
    if not len(seq):
        return np.zeros(0, dtype=np.int64)
    lo = int(seq.min())
    span = int(seq.max()) - lo + 1
    if span * (int(trip_pos.max(initial=0)) + 2) < (1 << 62):
        key = (trip_pos.astype(np.int64) + 1) * span + (seq - lo)
        if (key[1:] >= key[:-1]).all():
            return np.arange(len(seq))
        return np.argsort(key, kind="stable")
    return np.lexsort((seq, trip_pos))


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

    # Message fields, column-wise (Arrow kernels; the distinct dates and words are formatted once).
    msg = out[["trip_id", "row", "scope", "service_type", "passengers", "seats", "max_passengers",
               "excess_passengers"]].copy()
    msg["service_date"] = date_text(out["service_date"])
    msg["scope_zh"] = map_text(out["scope"], SCOPE_ZH)
    msg["service_type_zh"] = map_text(out["service_type"], TYPE_ZH)
    msg["risk_level"] = out["risk_level"].astype("string")
    msg["risk_level_zh"] = map_text(out["risk_level"], LEVEL_ZH).fillna("")
    msg["risk_stops_text"] = joined(out["risk_stops"])
    msg["cap_pct"] = f"{float(cap) * 100:g}"
    for col in ("passengers", "seats", "max_passengers", "excess_passengers"):
        msg[col] = msg[col].astype("string")
    msg["reason_zh"] = map_text(out["reason"], {k: v[0] for k, v in REASON_TEXT.items()})
    msg["reason_en"] = map_text(out["reason"], {k: v[1] for k, v in REASON_TEXT.items()})
    v = pd.Series(verdict, index=ev.index)
    parts = [
        findings_for(TM201, msg, v == "over-cap", "trip", "trip_id"),
        findings_for(TM202, msg, v == "compliant", "trip", "trip_id"),
        # Only four distinct messages: filled once per reason, then spread.
        findings_for(TM203, msg, v == "not-applicable", "trip", "trip_id", distinct_on=("reason_zh", "reason_en")),
    ]
    findings = pd.concat([p for p in parts if len(p)] or [pd.DataFrame(columns=FINDING_COLUMNS)], ignore_index=True)
    return out, findings


def date_text(values: pd.Series) -> pd.Series:
    """Dates as ``YYYY-MM-DD`` text (NA stays NA); each distinct date is formatted once."""
    days = pd.to_datetime(values).to_numpy().astype("datetime64[D]")
    codes, uniques = pd.factorize(days.view(np.int64))
    words = np.datetime_as_string(uniques.view("datetime64[D]")).tolist()
    words = [None if w == "NaT" else w for w in words] + [None]
    looked = pa.array(words, pa.string()).take(pa.array(np.where(codes < 0, len(words) - 1, codes)))
    return pd.Series(pd.arrays.ArrowStringArray(looked), index=values.index, dtype="string")


def map_text(values: pd.Series, mapping: dict[str, str]) -> pd.Series:
    """``values.map(mapping)`` as a hash lookup into the few keys (NA where a value is not a key)."""
    keys = list(mapping)
    pos = index_in(values, pd.Series(keys, dtype="string"))
    pos[pos < 0] = len(keys)  # reads the None
    looked = pa.array(list(mapping.values()) + [None], pa.string()).take(pa.array(pos))
    return pd.Series(pd.arrays.ArrowStringArray(looked), index=values.index, dtype="string")


def joined(lists: pd.Series, sep: str = ", ") -> pd.Series:
    """Each list of ids joined with ``sep`` (an Arrow kernel for a list column; plain Python lists also work)."""
    if isinstance(lists.dtype, pd.ArrowDtype) and pa.types.is_list(lists.dtype.pyarrow_dtype):
        out = pc.fill_null(pc.binary_join(text_lists(lists), sep), "")
        return pd.Series(pd.arrays.ArrowStringArray(out), index=lists.index, dtype="string")
    return lists.map(lambda v: sep.join(v) if isinstance(v, (list, tuple, np.ndarray)) else "").astype("string")


def text_lists(lists: pd.Series) -> pa.ListArray:
    arr = lists.array._pa_array.combine_chunks()
    return arr.cast(pa.list_(pa.string())) if arr.type != pa.list_(pa.string()) else arr
