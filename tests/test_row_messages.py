"""Messages written once in row order (:func:`transportmon.rules.registry.messages_by_rule`) against a plain
reference: each row's template filled with Python ``str.format`` from words made row by row.

The trip rules' templates on hypothesis-generated evidence (missing passengers, zero seats, every reason, over and
within the cap, empty input), then made-up templates that put list fields first, last and side by side.
"""

from __future__ import annotations

import string

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transportmon.config import RuleConfig, make_config
from transportmon.rules import trips
from transportmon.rules.registry import LIST_SEP, Rule, factorize_ints, messages_by_rule
from transportmon.vocab import RISK_LEVEL_ZH

RULES = (trips.TM201, trips.TM202, trips.TM203)
REASONS = list(trips.REASON_TEXT)
STOPS = ["YXN", "JJ-CT", "黄梅站", "", "S,1"]


def missing(value: object) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and np.isnan(value))


def number(value: object) -> str:
    return "—" if missing(value) else str(int(value))


def reference_trip_message(row: dict[str, object], rule: int, lang: int, cap_pct: str) -> str:
    """A trip's message as a person would write it: the rule's template, ``str.format``, one row."""
    if rule == 2:
        return trips.REASON_TEXT[REASONS[row["reason"]]][lang]
    scope, kind, level, stops = row["scope"], row["service_type"], row["risk_level"], row["risk_stops"]
    words = {
        "service_date": "—" if missing(row["service_date"]) else row["service_date"].strftime("%Y-%m-%d"),
        "scope": "—" if missing(scope) else scope, "scope_zh": trips.SCOPE_ZH.get(scope, "—"),
        "service_type": "—" if missing(kind) else kind,
        "service_type_zh": "—" if missing(kind) else trips.TYPE_ZH.get(kind, "—"),
        "risk_level": "—" if missing(level) else level,
        "risk_level_zh": "" if missing(level) else RISK_LEVEL_ZH.get(level, ""),
        "risk_stops_text": "" if stops is None or None in stops else ", ".join(stops),
        "cap_pct": cap_pct,
        **{k: number(row[k]) for k in ("passengers", "seats", "max_passengers", "excess_passengers")},
    }
    template = (RULES[rule].message_zh, RULES[rule].message_en)[lang]
    return template.format(**words)


@st.composite
def trip_rows(draw: st.DrawFn) -> list[dict[str, object]]:
    rows = []
    for _ in range(draw(st.integers(0, 25))):
        seats = draw(st.integers(0, 70))  # zero seats too: the messages do not divide
        rows.append({
            "rule": draw(st.integers(0, 2)), "reason": draw(st.integers(0, len(REASONS) - 1)),
            "service_date": draw(st.one_of(st.none(), st.dates(pd.Timestamp("2019-12-25").date(),
                                                                 pd.Timestamp("2020-05-01").date()))),
            "scope": draw(st.sampled_from([*trips.SCOPES, None])),
            "service_type": draw(st.sampled_from(["scheduled", "charter", "other", "minibus", None])),
            "risk_level": draw(st.sampled_from(["low", "medium", "high", None])),
            "risk_stops": draw(st.one_of(st.none(), st.lists(st.sampled_from([*STOPS, None]), max_size=4))),
            "passengers": draw(st.one_of(st.none(), st.integers(0, seats + 30))),
            "seats": seats, "max_passengers": seats // 2,
            "excess_passengers": draw(st.one_of(st.none(), st.integers(0, 40))),
        })
    return rows


def decided_frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    """The columns :func:`transportmon.rules.trips.decide` leaves for the messages, with their real dtypes."""
    col = {k: [r[k] for r in rows] for k in ("service_date", "scope", "service_type", "risk_level", "risk_stops",
                                             "passengers", "seats", "max_passengers", "excess_passengers")}
    return pd.DataFrame({
        "service_date": pd.to_datetime(pd.Series(col["service_date"], dtype=object)).astype("datetime64[s]"),
        "scope": pd.Categorical(col["scope"], categories=trips.SCOPES),
        "service_type": pd.array(col["service_type"], dtype="string"),
        "risk_level": pd.Categorical(col["risk_level"], dtype=trips.LEVEL_ORDER),
        "risk_stops": pd.arrays.ArrowExtensionArray(pa.array(col["risk_stops"], pa.list_(pa.string()))),
        "passengers": pd.array(col["passengers"], dtype="Int64"), "seats": pd.array(col["seats"], dtype="Int64"),
        "max_passengers": np.asarray(col["max_passengers"], dtype=np.int64),
        "excess_passengers": pd.array(col["excess_passengers"], dtype="Int64"),
    })


@settings(max_examples=60, deadline=None)
@given(rows=trip_rows(), cap=st.sampled_from(["1/2", "2/3", "1"]))
def test_trip_messages_are_the_templates_filled_row_by_row(rows: list[dict[str, object]], cap: str) -> None:
    config = make_config(occupancy_cap=cap)
    cap_pct = f"{float(config.occupancy_cap) * 100:g}"
    which = np.asarray([r["rule"] for r in rows], dtype=np.int8)
    reason = np.where(which == 2, [r["reason"] for r in rows], -1) if rows else np.zeros(0, dtype=np.int64)
    fields = trips.message_fields(decided_frame(rows), reason)
    zh, en = messages_by_rule(RULES, which, fields, {"cap_pct": cap_pct})
    assert zh.type == en.type == pa.string() and zh.null_count == en.null_count == 0
    assert zh.to_pylist() == [reference_trip_message(r, r["rule"], 0, cap_pct) for r in rows]
    assert en.to_pylist() == [reference_trip_message(r, r["rule"], 1, cap_pct) for r in rows]


@pytest.mark.parametrize("arrow_lists", [True, False])
def test_trip_messages_of_no_trip(arrow_lists: bool) -> None:
    frame = decided_frame([])
    if not arrow_lists:  # an empty column of Python objects: nothing says it holds lists
        frame["risk_stops"] = pd.Series([], dtype=object)
    fields = trips.message_fields(frame, np.zeros(0, np.int8))
    zh, en = messages_by_rule(RULES, np.zeros(0, dtype=np.int8), fields, {"cap_pct": "50"})
    assert len(zh) == len(en) == 0 and zh.type == pa.string()


def test_decide_findings_hold_the_reference_messages() -> None:
    """Through :func:`decide`: every reason, over and within the cap, a trip with no passenger count yet."""
    base = {"trip_id": "t", "service_date": pd.Timestamp("2020-03-05"), "service_type": "scheduled", "seats": 45,
            "passengers": 23, "route_id": pd.NA, "row": 0, "touching": True, "passes": False,
            "risk_stops": ["YXN", "JJ-CT"], "scope": "inter-provincial", "risk_level": "high"}
    variants = [{}, {"passengers": 22}, {"passengers": pd.NA}, {"service_type": "other"}, {"scope": "intra-city"},
                {"touching": False, "passes": True, "risk_stops": []},
                {"touching": False, "risk_stops": [], "risk_level": pd.NA}, {"seats": 1, "passengers": 1}]
    ev = pd.DataFrame([{**base, **v, "trip_id": f"t{i}", "row": i} for i, v in enumerate(variants)])
    ev["passengers"] = ev["passengers"].astype("Int64")
    ev["risk_level"] = ev["risk_level"].astype(trips.LEVEL_ORDER)
    ev["scope"] = ev["scope"].astype(pd.CategoricalDtype(trips.SCOPES))
    ev["risk_stops"] = pd.arrays.ArrowExtensionArray(pa.array(ev["risk_stops"].tolist(), pa.list_(pa.string())))
    out, findings = trips.decide(ev, RuleConfig())
    assert list(findings["rule_id"]) == ["TM201", "TM202", "TM202", "TM203", "TM203", "TM203", "TM203", "TM201"]
    rows = out.assign(reason=pd.Series(pd.Categorical(out["reason"]).codes)).to_dict("records")
    for row, rule_id, zh, en in zip(rows, findings["rule_id"], findings["message_zh"], findings["message_en"]):
        rule = ["TM201", "TM202", "TM203"].index(rule_id)
        assert zh == reference_trip_message(row, rule, 0, "50")
        assert en == reference_trip_message(row, rule, 1, "50")
    assert findings["message_en"].iloc[2].count("— of 45 seats") == 1  # no count yet: a dash, not 0 or <NA>


# ----------------------------------------------------------------------------------------------------------------
# Made-up templates: list fields anywhere, several list fields, no field, floats, parameters


def made_rule(zh: str, en: str) -> Rule:
    return Rule(id="TMX", name="x", subject="any", severity="info", clause="", summary="", message_zh=zh,
                message_en=en)


MADE = (
    made_rule("{stops}", "{stops} and {other}"),
    made_rule("{stops}{other}（{k}）", "at {d} m: {stops}, then {k}{k}"),
    made_rule("无字段", ""),
    made_rule("{d}米 {p}", "{p}% {d} m {stops}"),
)


def reference_word(value: object) -> str:
    if isinstance(value, list):
        return "" if None in value else LIST_SEP.join(value)
    if value is None:
        return ""
    if isinstance(value, float):
        return "—" if not np.isfinite(value) else f"{np.round(value, 0):,.0f}"
    return "—" if missing(value) else str(value)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_made_up_templates_are_filled_row_by_row(data: st.DataObject) -> None:
    n = data.draw(st.integers(0, 20))
    lists = st.one_of(st.none(), st.lists(st.sampled_from([*STOPS, None]), max_size=5))
    col = {
        "stops": data.draw(st.lists(lists, min_size=n, max_size=n)),
        "other": data.draw(st.lists(lists, min_size=n, max_size=n)),
        "k": data.draw(st.lists(st.sampled_from(["甲", "b", "", None]), min_size=n, max_size=n)),
        # (not rounding to -0: Rule.messages writes -0 or 0 as the first such value in the column is)
        "d": data.draw(st.lists(st.one_of(st.floats(-1e7, 1e7).filter(lambda x: not np.signbit(np.round(x, 0))
                                                                        or np.round(x, 0) != 0),
                                          st.just(float("nan")), st.just(float("inf"))), min_size=n, max_size=n)),
    }
    which = np.asarray(data.draw(st.lists(st.integers(0, len(MADE) - 1), min_size=n, max_size=n)), dtype=np.int64)
    evidence = {
        "stops": pd.Series(pd.arrays.ArrowExtensionArray(pa.array(col["stops"], pa.list_(pa.string())))),
        # Plain Python lists also work (a column of only None is no recognisable list column: Arrow's then).
        "other": pd.Series(col["other"], dtype=object) if any(isinstance(v, list) for v in col["other"]) else (
            pd.Series(pd.arrays.ArrowExtensionArray(pa.array(col["other"], pa.list_(pa.string()))))),
        "k": pd.Series(col["k"], dtype="string"), "d": pd.Series(col["d"], dtype=float),
    }
    zh, en = messages_by_rule(MADE, which, evidence, {"p": 12.5})

    def expected(lang: int) -> list[str]:
        out = []
        for i, w in enumerate(which):
            template = (MADE[w].message_zh, MADE[w].message_en)[lang]
            words = {name: reference_word(col[name][i]) for _, name, _, _ in string.Formatter().parse(template)
                     if name and name in col}
            words = {k: ("—" if k == "k" and col[k][i] is None else v) for k, v in words.items()}
            out.append(template.format(p="12.5", **words))
        return out

    assert zh.to_pylist() == expected(0)
    assert en.to_pylist() == expected(1)


def test_made_up_templates_agree_with_rule_messages_where_it_fills_them() -> None:
    """Without list fields, the column-wise :meth:`Rule.messages` and the row-order fill say the same."""
    rule = made_rule("{d}米，{k}", "{k} at {d} m ({n})")
    ev = pd.DataFrame({"d": [1234.5, np.nan, np.inf, -0.4, 2.5, 1234.5], "k": pd.array(["a", None, "甲", "a", "", "b"],
                                                                                      dtype="string"),
                       "n": pd.array([1, None, 3, 4, 5, 1], dtype="Int64")})
    zh, en = messages_by_rule([rule], np.zeros(len(ev), dtype=np.int8), {c: ev[c] for c in ev.columns})
    ref_zh, ref_en = rule.messages(ev)
    assert zh.to_pylist() == ref_zh.tolist() and en.to_pylist() == ref_en.tolist()


def test_a_rule_number_out_of_range_is_an_error() -> None:
    with pytest.raises(ValueError, match="rule numbers"):
        messages_by_rule(MADE[:1], np.array([0, 1]), {"stops": pd.Series([["a"], ["b"]]),
                                                      "other": pd.Series([["a"], ["b"]])})


@pytest.mark.parametrize(("values", "missing_at", "codes", "uniques"), [
    ([5, 3, 5, 9], None, [1, 0, 1, 2], [3, 5, 9]),
    ([5, 0, 5], [False, True, False], [0, -1, 0], [5]),
    ([0, 0], [True, True], [-1, -1], []),
    ([2**40, -(2**40), 7], None, [2, 0, 1], [-(2**40), 7, 2**40]),  # a wide range: hashed, same answer
])
def test_factorize_ints(values: list[int], missing_at: list[bool] | None, codes: list[int],
                        uniques: list[int]) -> None:
    got_codes, got_uniques = factorize_ints(np.asarray(values, dtype=np.int64),
                                            None if missing_at is None else np.asarray(missing_at))
    assert got_codes.tolist() == codes and got_uniques.tolist() == uniques
