"""Coach-trip rules (TM2xx): does the 50% seat-occupancy cap apply to a trip, and is it kept?

Clause (六): "进出中高风险地区的跨省、跨市班车、包车客座率控制在50%以内（途经除外）". Each trip is judged on its own
``service_date``. :func:`trip_evidence` joins columns (stop → admin units, stop × date → designation level);
:func:`decide` gives the verdict. Nothing here touches geometry, files or the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .._arrow import STOPS_TYPE, arrow, index_in, list_column, offsets_of, text
from ..config import RuleConfig
from ..vocab import POLICY, RISK_LEVEL_ZH, RISK_LEVELS, TRIP_VERDICTS
from .registry import Needs, Rule, factorize_ints, messages_by_rule, rule

CLAUSE = POLICY
LEVEL_ORDER = pd.CategoricalDtype(list(RISK_LEVELS), ordered=True)

#: What the trip rules need: trips with their stops; the cap, risk areas with at least one designation too (without
#: them every trip is TM203 ``no-risk-data``).
TRIP_LAYERS = Needs(("trips", "stop_times", "stops"))
RISK_AREAS = Needs(("risk_areas",))

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
    needs=(TRIP_LAYERS, RISK_AREAS),
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
    needs=(TRIP_LAYERS, RISK_AREAS),
    doc="""
    What it checks: in scope and touching, and ``passengers × den ≤ seats × num``.
    Example: 22 of 45 with a 50% cap; exactly 50% (20 of 40) is within.
    """,
))

TM203 = rule(Rule(
    id="TM203", name="coach-cap-not-applicable", subject="trip", severity="info", clause=CLAUSE,
    summary="The cap does not apply: service-type, intra-city, pass-through-only or no-risk-stop; or it could not "
            "be checked: no-risk-data (no risk areas were given).",
    message_zh="{reason_zh}",
    message_en="{reason_en}",
    parameters=("capped_service_types", "risk_levels"),
    needs=(TRIP_LAYERS,),
    doc="""
    What it checks: why the cap does not apply, in this order — ``service-type`` (not scheduled or charter),
    ``intra-city`` (boarding/alighting stops all in one city, even when touching a risk area), ``pass-through-only``
    (a high/medium-risk stop is passed without boarding or alighting: "途经除外"), ``no-risk-stop``. Without a
    risk-areas layer the last is ``no-risk-data`` instead: nobody checked the stops against risk areas, so the message
    says the cap could not be checked rather than that no stop is in a risk area.
    The message is one sentence per reason (``reason_zh``, ``reason_en``: :data:`REASON_TEXT`).
    """,
))

#:  message for each not-applicable reason (in the order the reasons are tried; ``no-risk-data`` replaces
#: ``no-risk-stop`` when no risk areas were given).
REASON_TEXT = {
    "service-type": ("限载不适用：班次类型非班车或包车。", "The cap does not apply: the service is neither scheduled nor charter."),
    "intra-city": ("限载不适用：上下客站点均在同一城市。", "The cap does not apply: all boarding/alighting stops are in one city."),
    "pass-through-only": ("限载不适用：仅途经中高风险地区，未上下客。",
                          "The cap does not apply: it only passes through high/medium-risk areas."),
    "no-risk-stop": ("限载不适用：上下客站点均不在中高风险地区。",
                     "The cap does not apply: no boarding/alighting stop is in a high/medium-risk area."),
    "no-risk-data": ("未提供中高风险地区数据，无法核查是否适用客座率上限。",
                     "No risk areas were given, so whether the occupancy cap applies could not be checked."),
}
SCOPE_ZH = {"inter-provincial": "跨省", "inter-city": "跨市", "intra-city": "市内"}
TYPE_ZH = {"scheduled": "班车", "charter": "包车", "other": "其他客车"}


def trip_evidence(trips: pd.DataFrame, stop_times: pd.DataFrame, stop_admin: pd.DataFrame,
                  stop_levels: pd.Series, config: RuleConfig, *, trip_pos: np.ndarray | None = None,
                  order: np.ndarray | None = None, stop_pos: np.ndarray | None = None) -> pd.DataFrame:
    """Per-trip facts from column joins: integer codes, rows ordered by trip, one ``ufunc.reduceat`` per fact.

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
    trip_pos, order, stop_pos
        Optional, when the caller has them: the position in ``trips`` of each stop row's trip (-1 for none), an
        order of the stop rows by (trip position, stop_sequence), and the position of each stop row's stop in
        ``stop_admin`` (-1 for none).

    Returns
    -------
    pandas.DataFrame
        ``trips``' columns with ``touching``, ``passes``, ``provinces``/``cities`` (2 means "two or more"),
        ``risk_stops`` (a list column: the risk stops where passengers board or alight, each once, in the order first
        reached), ``risk_level`` (categorical) and ``scope`` (categorical).
    """
    if trip_pos is None:
        trip_pos = index_in(stop_times["trip_id"], trips["trip_id"])
    if order is None:
        order = stop_order(trip_pos, stop_times["stop_sequence"])
    tpos = trip_pos[order]
    inside = tpos >= 0
    order, tpos = order[inside], tpos[inside]
    if stop_pos is None:
        stop_pos = index_in(stop_times["stop_id"], pd.Series(stop_admin.index))
    boards = (np.asarray(stop_times["pickup"], dtype=bool) | np.asarray(stop_times["dropoff"], dtype=bool))[order]
    stops = stop_facts(stop_admin)
    facts = row_facts(len(trips), tpos, stop_pos[order], boards, _level_codes(stop_levels)[order], stops,
                      risky_levels(config))
    return facts_evidence(trips, facts, stops)


@dataclass(frozen=True)
class StopFacts:
    """What the trip rules read of the located stops (:func:`stop_facts`), taken once for any number of parts."""

    province: np.ndarray
    """Each stop's province as a code (-1: unknown); codes are only compared with each other."""
    city: np.ndarray
    """Each stop's city, likewise."""
    ids: pa.Array
    """The stop ids as Arrow text."""


def stop_facts(stop_admin: pd.DataFrame) -> StopFacts:
    """The :class:`StopFacts` of ``stop_admin`` (indexed by ``stop_id``: ``province``, ``city``)."""
    def codes(column: str) -> np.ndarray:
        return pd.factorize(stop_admin[column].to_numpy(dtype=object, na_value=None))[0]

    return StopFacts(province=codes("province"), city=codes("city"), ids=text(pd.Series(stop_admin.index)))


def risky_levels(config: RuleConfig) -> np.ndarray:
    """Whether each level code of :data:`LEVEL_ORDER`, read as a byte (NA, -1, is 255), is one of the risk levels."""
    is_risky = np.zeros(256, dtype=bool)
    is_risky[[LEVEL_ORDER.categories.get_loc(lv) for lv in config.risk_levels if lv in LEVEL_ORDER.categories]] = True
    return is_risky


@dataclass(frozen=True)
class RowFacts:
    """What each trip's stop rows say (:func:`row_facts`): numpy arrays, one value a trip, but the risk stops."""

    touching: np.ndarray
    """Passengers board or alight at a stop of a risk level."""
    passes: np.ndarray
    """The trip passes a stop of a risk level without boarding or alighting."""
    provinces: np.ndarray
    """1 or 2 ("two or more") distinct known provinces among the boarding stops; 0 when none is known."""
    cities: np.ndarray
    """Likewise, cities."""
    level: np.ndarray
    """The level that triggered the cap when touching, else the highest where passengers board or alight (int8 codes
    of :data:`LEVEL_ORDER`, -1: none)."""
    touched_trip: np.ndarray
    """The risk stops where passengers board or alight, each once per trip, in the order first reached: their
    trip's position …"""
    touched_stop: np.ndarray
    """… and the stop's position."""


def row_facts(n: int, tpos: np.ndarray, stop_pos: np.ndarray, boards: np.ndarray, level: np.ndarray,
              stops: StopFacts, is_risky: np.ndarray) -> RowFacts:
    """The :class:`RowFacts` of ``n`` trips from their stop rows in order (by trip, then ``stop_sequence``): each
    row's trip position (``0 <= tpos < n``), stop position in ``stops`` (-1 for none), whether passengers board or
    alight there, and its level as a code of :data:`LEVEL_ORDER` (int8, -1 for NA); ``is_risky``:
    :func:`risky_levels`.

    numpy only (no pandas, no Python per row), and nothing depends on other trips than these: the trip audit runs it
    on contiguous parts of the trips at once, on several threads (:func:`transportmon.trip_audit.audit_trips`).
    """
    level = np.asarray(level, dtype=np.int8)
    risky = is_risky[level.view(np.uint8)]
    touch = risky & boards
    passes = risky & ~boards

    # Rows are ordered by trip: each trip's rows are one segment, reduced with ``ufunc.reduceat``.
    rows_of = np.bincount(tpos, minlength=n) if len(tpos) else np.zeros(n, dtype=np.int64)
    has_rows = rows_of > 0
    starts = (np.cumsum(rows_of) - rows_of)[has_rows]

    def reduce(ufunc: np.ufunc, values: np.ndarray, empty: object) -> np.ndarray:
        out = np.full(n, empty, dtype=values.dtype)
        if len(starts):
            out[has_rows] = ufunc.reduceat(values, starts)
        return out

    def two_or_more(codes: np.ndarray) -> np.ndarray:
        code = np.where(stop_pos >= 0, codes[np.maximum(stop_pos, 0)], -1)
        known = boards & (code >= 0)
        lo = reduce(np.minimum, np.where(known, code, np.iinfo(np.int64).max), np.iinfo(np.int64).max)
        hi = reduce(np.maximum, np.where(known, code, -1), -1)
        return np.where(hi < 0, 0, np.where(hi > lo, 2, 1))

    # Each risk stop once, in the order first reached (a round trip boards and alights at the same stop).
    touched = np.flatnonzero(touch)
    touched = touched[_first_in_trip(tpos[touched], stop_pos[touched])]
    board_level = reduce(np.maximum, np.where(boards, level, -1).astype(np.int8), -1)
    touch_level = reduce(np.maximum, np.where(touch, level, -1).astype(np.int8), -1)
    return RowFacts(touching=reduce(np.logical_or, touch, False), passes=reduce(np.logical_or, passes, False),
                    provinces=two_or_more(stops.province), cities=two_or_more(stops.city),
                    level=np.where(touch_level >= 0, touch_level, board_level),
                    touched_trip=tpos[touched], touched_stop=stop_pos[touched])


def joined_facts(parts: list[RowFacts], firsts: list[int]) -> RowFacts:
    """The :class:`RowFacts` of consecutive runs of trips, the run ``i`` starting at trip position ``firsts[i]``."""
    if len(parts) == 1 and firsts[0] == 0:
        return parts[0]
    joined = {name: np.concatenate([getattr(p, name) for p in parts]) for name in RowFacts.__dataclass_fields__}
    joined["touched_trip"] = np.concatenate([p.touched_trip + first for p, first in zip(parts, firsts)])
    return RowFacts(**joined)


def facts_evidence(trips: pd.DataFrame, facts: RowFacts, stops: StopFacts) -> pd.DataFrame:
    """:func:`trip_evidence` from the trips' :class:`RowFacts`."""
    n = len(trips)
    ev = trips[["trip_id", "service_date", "service_type", "seats", "passengers", "route_id", "row"]].reset_index(
        drop=True)
    ev["touching"] = facts.touching
    ev["passes"] = facts.passes
    ev["provinces"] = facts.provinces
    ev["cities"] = facts.cities
    ev["risk_stops"] = list_column(offsets_of(facts.touched_trip, n), stops.ids.take(pa.array(facts.touched_stop)),
                                   STOPS_TYPE)
    ev["risk_level"] = pd.Categorical.from_codes(facts.level, dtype=LEVEL_ORDER)
    ev["scope"] = pd.Categorical.from_codes(np.where(facts.provinces >= 2, 0, np.where(facts.cities >= 2, 1, 2)),
                                            categories=SCOPES)
    return ev


SCOPES = ["inter-provincial", "inter-city", "intra-city"]


def _first_in_trip(trip: np.ndarray, stop: np.ndarray, window: int = 16) -> np.ndarray:
    """Rows (grouped by ``trip``) whose stop is not repeated from an earlier row of the same trip.

    A trip's rows are few: each row is compared with the ``window`` rows before it (vectorised, one pass per lag).
    A trip with more rows than that falls back to a hash of (trip, stop) pairs.
    """
    n = len(trip)
    if not n:
        return np.zeros(0, dtype=bool)
    bounds = np.flatnonzero(np.r_[True, trip[1:] != trip[:-1], True])
    longest = int(np.diff(bounds).max())
    if longest > window:  # the first occurrence of each (trip, stop) pair (numpy: this runs on the audit's threads)
        key = trip.astype(np.int64) * (int(stop.max(initial=0)) + 2) + (stop + 1)
        first = np.zeros(n, dtype=bool)
        first[np.unique(key, return_index=True)[1]] = True
        return first
    seen = np.zeros(n, dtype=bool)
    for lag in range(1, longest):
        seen[lag:] |= (trip[lag:] == trip[:-lag]) & (stop[lag:] == stop[:-lag])
    return ~seen


def _level_codes(levels: pd.Series | pd.Categorical) -> np.ndarray:
    """Codes of :data:`LEVEL_ORDER` (-1 for NA) of a level column, without materialising its text."""
    values = levels.array if isinstance(levels, pd.Series) else levels
    if isinstance(values, pd.Categorical) and list(values.categories) == list(LEVEL_ORDER.categories):
        return values.codes.astype(np.int8)
    return pd.Series(levels).astype(LEVEL_ORDER).cat.codes.to_numpy().astype(np.int8)


def stop_order(trip_pos: np.ndarray, sequence: pd.Series | np.ndarray) -> np.ndarray:
    """Positions of stop rows sorted by (trip position, stop_sequence); no sort when they already are."""
    seq = np.asarray(sequence, dtype=np.int64)
    if not len(seq):
        return np.zeros(0, dtype=np.int64)
    if in_stop_order(trip_pos, seq):
        return np.arange(len(seq))
    lo = int(seq.min())
    span = int(seq.max()) - lo + 1
    if span * (int(trip_pos.max(initial=0)) + 2) < (1 << 62):
        return np.argsort((trip_pos.astype(np.int64) + 1) * span + (seq - lo), kind="stable")
    return np.lexsort((seq, trip_pos))


#: Rows compared at a time by :func:`in_stop_order`: its temporaries stay small (no fresh memory per row).
ORDER_BLOCK = 1 << 18


def in_stop_order(trip_pos: np.ndarray, seq: np.ndarray) -> bool:
    """Whether stop rows are sorted by (trip position, stop_sequence) — as they come in a feed — compared with
    their next row a block at a time (ten million rows would otherwise make 80 MB temporaries of sort keys)."""
    for start in range(0, max(len(seq) - 1, 0), ORDER_BLOCK):
        t, s = trip_pos[start:start + ORDER_BLOCK + 1], seq[start:start + ORDER_BLOCK + 1]
        later, same = t[1:] > t[:-1], t[1:] == t[:-1]
        if not (later | (same & (s[1:] >= s[:-1]))).all():
            return False
    return True


def decide(ev: pd.DataFrame, config: RuleConfig, *, risk_data: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The verdict of every trip and its one finding (see the rules' docs for the order of reasons).

    ``risk_data=False`` says no risk areas were given: a trip that would be ``no-risk-stop`` is ``no-risk-data``.

    Returns the evidence with ``verdict``, ``reason`` (categoricals), ``occupancy``, ``cap``, ``max_passengers`` and
    ``excess_passengers``, and the findings (:data:`FINDING_COLUMNS`): exactly one per trip, in the trips' order.
    """
    cap: Fraction = config.occupancy_cap
    n = len(ev)
    seats = np.asarray(ev["seats"], dtype=np.int64)
    pax, unsold = _counts(ev["passengers"])
    capped_type = ev["service_type"].isin(config.capped_service_types).to_numpy(dtype=bool)
    inter = (ev["scope"] != "intra-city").to_numpy(dtype=bool)
    touching = np.asarray(ev["touching"], dtype=bool)
    over = pax * cap.denominator > seats * cap.numerator
    applies = capped_type & inter & touching
    code = np.where(applies, np.where(over, 0, 1), 2).astype(np.int8)  # position in TRIP_VERDICTS
    reason = np.select([applies, ~capped_type, ~inter, np.asarray(ev["passes"], dtype=bool) & ~touching],
                       [-1, 0, 1, 2], default=3 if risk_data else 4).astype(np.int8)  # position in REASON_TEXT
    max_pax = (seats * cap.numerator) // cap.denominator
    out = ev.copy(deep=False)
    out["verdict"] = pd.Categorical.from_codes(code, categories=list(TRIP_VERDICTS))
    out["reason"] = pd.Categorical.from_codes(reason, categories=list(REASON_TEXT))
    out["occupancy"] = np.where(unsold, np.nan, pax / seats) if n else np.zeros(0)
    out["cap"] = float(cap)
    out["max_passengers"] = max_pax
    # Excess only where the cap applies (0 when kept); not-applicable trips have none to speak of.
    out["excess_passengers"] = pd.arrays.IntegerArray(np.where(over, pax - max_pax, 0), ~applies | unsold)
    return out, _findings(out, code, reason, config)


def _counts(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Passenger counts as int64 (0 where NA) and where they are NA: no tickets sold yet, which only
    ``transportmon limits`` admits (:func:`transportmon.layers.validate_trips` ``passengers_optional``)."""
    counts = pd.Series(values).astype("Int64")
    return counts.to_numpy(dtype=np.int64, na_value=0), counts.isna().to_numpy(dtype=bool)


def _findings(out: pd.DataFrame, code: np.ndarray, reason: np.ndarray, config: RuleConfig) -> pd.DataFrame:
    """One finding per trip, aligned with ``out``: each trip's message filled from its rule's template
    (:func:`~transportmon.rules.registry.messages_by_rule`: each message's text is written once, in the trips'
    order).

    The messages are Arrow ``string`` columns (``pd.ArrowDtype``), so the findings column is made of their buffers
    as they are (:func:`transportmon.report.one_finding_each`)."""
    rules = (TM201, TM202, TM203)
    fields = message_fields(out, reason)
    params = {"cap_pct": f"{float(config.occupancy_cap) * 100:g}"}
    zh, en = messages_by_rule(rules, code, fields, params)
    del fields
    severities = list(dict.fromkeys(r.severity for r in rules))
    sev_code = np.array([severities.index(r.severity) for r in rules], dtype=np.int8)
    return pd.DataFrame({
        "subject": pd.Categorical.from_codes(np.zeros(len(out), dtype=np.int8), categories=["trip"]),
        "subject_id": out["trip_id"].astype("str").array,
        "source_row": np.asarray(out["row"], dtype=np.int64),
        "rule_id": pd.Categorical.from_codes(code, categories=[r.id for r in rules]),
        "severity": pd.Categorical.from_codes(sev_code[code], categories=severities),
        "message_zh": pd.arrays.ArrowExtensionArray(zh),
        "message_en": pd.arrays.ArrowExtensionArray(en),
    }, index=out.index)


def message_fields(out: pd.DataFrame, reason: np.ndarray) -> dict[str, pd.Series]:
    """The fields of the TM2xx messages, aligned with ``out``: words of few values as categoricals (each distinct
    date, scope, type and level looked up once), numbers as they are, the risk stops as a list column.

    ``reason`` is each trip's position in :data:`REASON_TEXT` (-1 where the cap applies)."""
    reasons = np.where(np.asarray(reason) >= 0, reason, -1)
    service_type = word_map(out["service_type"])
    return {
        "service_date": pd.Series(date_words(out["service_date"])),
        "scope": out["scope"], "scope_zh": pd.Series(word_map(out["scope"], SCOPE_ZH)),
        "service_type": pd.Series(service_type), "service_type_zh": pd.Series(word_map(service_type, TYPE_ZH)),
        "risk_level": out["risk_level"], "risk_level_zh": pd.Series(word_map(out["risk_level"], RISK_LEVEL_ZH, "")),
        "risk_stops_text": out["risk_stops"],
        **{col: out[col] for col in ("passengers", "seats", "max_passengers", "excess_passengers")},
        "reason_zh": pd.Series(pd.Categorical.from_codes(reasons, categories=[v[0] for v in REASON_TEXT.values()])),
        "reason_en": pd.Series(pd.Categorical.from_codes(reasons, categories=[v[1] for v in REASON_TEXT.values()])),
    }


def date_words(values: pd.Series) -> pd.Categorical:
    """Dates as a categorical of ``YYYY-MM-DD`` words (NaT missing); each distinct date is formatted once."""
    days = pd.to_datetime(values).to_numpy().astype("datetime64[D]")
    codes, uniques = factorize_ints(days.view(np.int64), np.isnat(days))
    words = np.datetime_as_string(uniques.view("datetime64[D]")).tolist()
    return pd.Categorical.from_codes(codes, categories=pd.Index(words, dtype=object), validate=False)


def word_map(values: pd.Series, mapping: dict[str, str] | None = None, missing: str | None = None,
             ) -> pd.Categorical:
    """A text column as a categorical of words: each distinct value once, looked up in ``mapping`` (its own text
    without one); a missing value, or one not in the mapping, is ``missing`` (default: missing, shown ``—``)."""
    values = pd.Series(values)
    if isinstance(values.dtype, pd.CategoricalDtype):  # its few categories are looked up, not its rows
        codes, uniques = values.cat.codes.to_numpy(), list(values.cat.categories)
    elif isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        encoded = pc.dictionary_encode(arrow(values))  # Arrow's hash of the text, its 32-bit codes as they are
        codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
        uniques = encoded.dictionary.to_pylist()
    else:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    looked = [str(u) for u in uniques] if mapping is None else [mapping.get(str(u), missing) for u in uniques]
    words = pd.Index(dict.fromkeys(w for w in [*looked, missing] if w is not None), dtype=object)
    at = words.get_indexer(pd.Index([*looked, missing], dtype=object))  # -1 for None
    small = np.int8 if len(words) < 127 else np.int32
    return pd.Categorical.from_codes(at.astype(small)[codes], categories=words,
                                     validate=False)  # codes -1 read ``missing``


def date_text(values: pd.Series) -> pd.Series:
    """Dates as ``YYYY-MM-DD`` text (NA stays NA); each distinct date is formatted once, and the text is
    ``large_string``, the report's, from the start."""
    days = date_words(values)
    codes = days.codes.astype(np.int64)
    codes[codes < 0] = len(days.categories)  # reads the None
    looked = pa.array([*days.categories, None], pa.large_string()).take(pa.array(codes))
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
    arr = arrow(lists)
    return arr.cast(pa.list_(pa.string())) if arr.type != pa.list_(pa.string()) else arr
