"""Approved exceptions (waivers, 豁免; DESIGN §8): the ``waivers`` layer, and its effect on the report's findings.

A waiver is a row of a CSV or xlsx file: ``subject`` (checkpoint/trip/route, or 检测点/班次/线路), ``subject_id``,
``rule_id``, ``document`` (批准文号), ``valid_from`` and ``valid_until`` (both inclusive), optionally
``approved_by`` and ``note``. A ``violation`` finding of ``rule_id`` on that subject, on a date within the period
(checkpoints and routes: the as-of date; trips: their service date), becomes severity ``waived`` and carries
``waiver`` = ``{document, valid_until}``; the verdict is unchanged. On a later date the violation stands and TM120
(warning) says the waiver expired; on an earlier one the violation stands and TM121 (info) says when the waiver
begins (:mod:`transportmon.rules.waivers`). A waiver covers violations only: TM110 (turn-back) is a violation where
the checkpoint must be removed and a warning where it may stay, so a waiver of TM110 is accepted and waives the
finding on the days it is a violation; on a day it is a warning, the warning stays as it is.

A row that cannot be a waiver is a ``rejected`` subject of the report (``subject`` = ``waivers``), never dropped:
``missing-id`` (no ``subject_id`` or no ``document``), ``unknown-subject`` (a subject kind other than the three, or
an id that is no subject of the audit: :func:`reject_unknown_subjects`), ``unknown-rule`` (no such rule, or a rule of
another kind of subject), ``not-a-violation`` (a rule that is never a violation, such as TM102 info: nothing to
waive), ``malformed-date`` (a date missing or illegible) and ``closed-before-opened`` (``valid_until`` before
``valid_from``).

The report may hold millions of trips: only the findings of the subjects a waiver names are unpacked, joined with the
waivers on (subject, subject_id, rule_id) and rebuilt; every other row keeps its findings, and the column is
reassembled from slices of the old one (:func:`apply_waivers`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ._arrow import arrow, index_in, text
from .layers import Layer, as_text, empty_rejected, parse_dates, rename_aliases, require_columns
from .rules import all_rules  # noqa: F401  (a waiver may name any rule: the registry must be complete)
from .rules.registry import RULES, SEVERITIES, Rule
from .rules.waivers import TM120, TM121
from .source_rows import SOURCE_ROW, source_rows

__all__ = ["SUBJECT_WORDS", "WAIVER_TYPE", "apply_waivers", "can_be_violation", "known_subjects", "pieces_counts",
           "reject_unknown_subjects", "route_subjects_of", "validate_waivers", "waiver_findings",
           "with_waiver_field"]

#: Words a waiver may use for its subject (after NFKC, case folding and stripping) → the report's subject.
SUBJECT_WORDS: dict[str, str] = {
    "checkpoint": "checkpoint", "checkpoints": "checkpoint", "检测点": "checkpoint", "防疫检测点": "checkpoint",
    "卡点": "checkpoint", "检查站": "checkpoint", "检测站": "checkpoint",
    "trip": "trip", "trips": "trip", "班次": "trip",
    "route": "route", "routes": "route", "线路": "route", "班线": "route",
}
#: The report column holding the date a subject's waivers are judged on; none: the as-of date.
DATE_COLUMN: dict[str, str | None] = {"checkpoint": None, "trip": "service_date", "route": None}
#: The rule id prefix of each subject kind's rules (a waiver of TM201 on a checkpoint can never apply).
RULE_PREFIX = {"checkpoint": "TM1", "trip": "TM2", "route": "TM3"}

#: Type of a finding's ``waiver`` field.
WAIVER_TYPE = pa.struct([("document", pa.string()), ("valid_until", pa.string())])
#: Columns of the validated ``waivers`` frame (besides ``row``, the input row number).
COLUMNS = ("subject", "subject_id", "rule_id", "document", "valid_from", "valid_until", "approved_by", "note",
           "waiver_id")


def can_be_violation(rule: Rule) -> bool:
    """Whether a rule's findings can be violations (always, or on subjects of some verdict: TM110 where remove)."""
    return rule.severity == "violation" or any(sev == "violation" for _, sev in rule.severity_by_verdict)


def _clean_text(values: pd.Series) -> pd.Series:
    return values.astype("string").str.normalize("NFKC").str.strip()


def validate_waivers(frame: pd.DataFrame, path: str | None = None) -> Layer:
    """The waivers as read (``io.read``) → a validated layer: usable rows in ``frame``, the others rejected.

    ``frame`` keeps :data:`COLUMNS` and ``row``: subject words normalised (检测点 → ``checkpoint``), rule ids in
    upper case, dates as ``YYYY-MM-DD`` text. ``waiver_id`` (``{document}/{subject}/{subject_id}/{rule_id}``, as
    written) is the ``subject_id`` of the row in the report when it is rejected. A column ``valid_to`` (失效日期) is
    read as ``valid_until`` when there is none.
    """
    frame = rename_aliases(frame).reset_index(drop=True)
    if "valid_until" not in frame.columns and "valid_to" in frame.columns:
        frame = frame.rename(columns={"valid_to": "valid_until"})
    if not len(frame):
        frame = frame.assign(**{c: pd.Series(dtype="string") for c in COLUMNS[:6] if c not in frame.columns})
    require_columns(frame, "waivers", path)
    n = len(frame)
    shown = source_rows(frame)  # i16: the rows as the user's program numbers them
    raw = {c: _clean_text(frame[c]) for c in COLUMNS[:6]}
    subject = raw["subject"].str.casefold().map(SUBJECT_WORDS).astype("string")
    subject_id = as_text(frame["subject_id"])
    rule_id = raw["rule_id"].str.upper().mask(raw["rule_id"] == "")
    document = raw["document"].mask(raw["document"] == "")
    parsed = {c: parse_dates(frame[c]) for c in ("valid_from", "valid_until")}
    waiver_id = (document.fillna("") + "/" + subject.fillna(raw["subject"].fillna("")) + "/"
                 + subject_id.fillna("") + "/" + rule_id.fillna(""))
    waiver_id = waiver_id.mask(waiver_id == "///", "row " + pd.Series(shown, dtype="string"))

    reason = pd.Series(pd.NA, index=frame.index, dtype="string")
    detail = pd.Series(pd.NA, index=frame.index, dtype="string")

    def reject(mask: pd.Series | np.ndarray, why: str, text_: pd.Series | str) -> None:
        """Reject the rows of ``mask`` not rejected yet (the first reason wins)."""
        m = pd.Series(np.asarray(mask, dtype=bool), index=frame.index) & reason.isna()
        reason[m] = why
        detail[m] = text_[m] if isinstance(text_, pd.Series) else text_

    reject(subject_id.isna(), "missing-id", "subject_id is empty: a waiver names the subject it excepts")
    reject(document.isna(), "missing-id", "document (批准文号) is empty: a waiver cites its approval")
    reject(subject.isna(), "unknown-subject", "subject=" + raw["subject"].fillna("")
           + "; allowed checkpoint, trip, route (检测点, 班次, 线路)")
    rule = rule_id.map({k: k for k in RULES}).astype("string")
    reject(rule.isna(), "unknown-rule", pd.Series(np.where(
        rule_id.isna(), "rule_id is empty", "rule_id=" + raw["rule_id"].fillna("") + " is no rule of transportmon "
        "(transportmon rules lists them)"), index=frame.index, dtype="string"))
    severity = rule_id.map({k: r.severity_text() for k, r in RULES.items()}).astype("string")
    can_be = rule_id.map({k: can_be_violation(r) for k, r in RULES.items()}).astype("boolean")
    reject(can_be.eq(False).fillna(False), "not-a-violation", rule_id.fillna("") + " is "
           + severity.fillna("") + ", never a violation: only violations are waived")
    prefix = subject.map(RULE_PREFIX).astype("string")
    wrong_kind = (rule_id.str.slice(0, 3) != prefix).fillna(False)
    reject(wrong_kind, "unknown-rule", rule_id.fillna("") + " does not judge a " + subject.fillna(""))
    for col in ("valid_from", "valid_until"):
        dates, bad = parsed[col]
        said = pd.Series(np.where(bad, col + "=" + raw[col].fillna("") + " is not a date (use YYYY-MM-DD)",
                                  col + " is empty"), index=frame.index, dtype="string")
        reject(bad | dates.isna(), "malformed-date", said)
    start, end = parsed["valid_from"][0], parsed["valid_until"][0]
    reversed_ = (end < start).fillna(False)
    reject(reversed_, "closed-before-opened", "valid_until=" + raw["valid_until"].fillna("") + " is before valid_from="
           + raw["valid_from"].fillna(""))

    good = reason.isna().to_numpy()
    out = pd.DataFrame({
        "subject": subject, "subject_id": subject_id, "rule_id": rule_id, "document": document,
        "valid_from": start.dt.strftime("%Y-%m-%d").astype("string"),
        "valid_until": end.dt.strftime("%Y-%m-%d").astype("string"),
        "approved_by": _clean_text(frame["approved_by"]) if "approved_by" in frame.columns else pd.NA,
        "note": _clean_text(frame["note"]) if "note" in frame.columns else pd.NA,
        "waiver_id": waiver_id, "row": np.arange(n, dtype="int64"), SOURCE_ROW: shown,
    }, index=frame.index).astype({"approved_by": "string", "note": "string"})
    bad = ~good
    rejected = pd.DataFrame({
        "subject": "waivers", "subject_id": waiver_id[bad].astype(str), "reason": reason[bad].astype(str),
        "detail": detail[bad].fillna("").astype(str), "row": out["row"][bad], "source_row": shown[bad],
    }) if bad.any() else empty_rejected()
    return Layer(name="waivers", frame=out[good].reset_index(drop=True), rejected=rejected.reset_index(drop=True),
                 rows=n, path=path)


def _move_to_rejected(layer: Layer, mask: np.ndarray, reason: str, detail: pd.Series) -> None:
    if not mask.any():
        return
    bad = layer.frame[mask]
    extra = pd.DataFrame({"subject": "waivers", "subject_id": bad["waiver_id"].astype(str).to_numpy(),
                          "reason": reason, "detail": detail[mask].astype(str).to_numpy(),
                          "row": bad["row"].astype("int64").to_numpy(), "source_row": source_rows(bad)})
    layer.rejected = pd.concat([layer.rejected, extra], ignore_index=True) if len(layer.rejected) else extra
    layer.frame = layer.frame[~mask].reset_index(drop=True)


def known_subjects(layers: Mapping[str, Layer]) -> list[pd.DataFrame]:
    """The subjects the input layers make, audited or rejected, as frames of ``subject`` and ``subject_id``: the
    checkpoints, the trips and the routes of the trips (issue 15: a route is a subject)."""
    out = []
    for name, kind, id_col in (("checkpoints", "checkpoint", "checkpoint_id"), ("trips", "trip", "trip_id")):
        layer = layers.get(name)
        if layer is None:
            continue
        if id_col in layer.frame.columns:
            out.append(pd.DataFrame({"subject": kind, "subject_id": layer.frame[id_col]}))
        out.append(layer.rejected)
    trips = layers.get("trips")
    if trips is not None:
        out.append(route_subjects_of([trips.frame, trips.rejected]))
    return out


def route_subjects_of(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """The routes (``subject`` = ``route``) that frames of trip rows name in their ``route_id`` column."""
    ids = [f["route_id"].dropna().astype(str) for f in frames if len(f) and "route_id" in f.columns]
    unique = pd.unique(pd.concat(ids, ignore_index=True)) if ids else np.array([], dtype=object)
    return pd.DataFrame({"subject": "route", "subject_id": pd.Series(unique, dtype="string")})


def reject_unknown_subjects(layer: Layer, subjects: Iterable[pd.DataFrame], *,
                            kinds: Iterable[str] | None = None) -> None:
    """Reject (``unknown-subject``) the waivers whose subject is in none of ``subjects`` (in place).

    ``subjects`` are frames with ``subject`` and ``subject_id`` columns: the audit's checkpoints and trips, audited or
    rejected (:func:`known_subjects`, or the report's parts). Each is scanned once against the few ids the waivers
    name (a hash of those ids, not of the millions of trips). ``kinds`` limits the check to waivers of those subject
    kinds (the others are left for later: trips and their routes the Dask engine reads); default all.
    """
    w = layer.frame
    if not len(w):
        return
    found = np.ones(len(w), dtype=bool)
    frames = [f for f in subjects if len(f) and {"subject", "subject_id"} <= set(f.columns)]
    checked = set(SUBJECT_WORDS.values()) if kinds is None else set(kinds)
    for kind in pd.unique(w["subject"].astype(str)):
        if kind not in checked:
            continue
        sel = np.flatnonzero((w["subject"] == kind).to_numpy(dtype=bool))
        ids, inverse = np.unique(w["subject_id"].to_numpy(dtype=object)[sel].astype(str), return_inverse=True)
        seen = np.zeros(len(ids), dtype=bool)
        keys = pd.Series(ids, dtype="string")
        for f in frames:
            of_kind = (f["subject"] == kind).to_numpy(dtype=bool)
            if not of_kind.any():
                continue
            pos = index_in(f["subject_id"] if of_kind.all() else f["subject_id"][of_kind], keys)
            seen[np.unique(pos[pos >= 0])] = True
        found[sel] = seen[inverse]
    detail = "no " + w["subject"].astype("string") + " " + w["subject_id"].astype("string") + " in this audit"
    _move_to_rejected(layer, ~found, "unknown-subject", detail)


def with_waiver_field(lists: pa.Array) -> pa.ListArray:
    """A ``findings`` list<struct> array whose struct has the ``waiver`` field (null where none): the children are
    shared, not copied."""
    lists = lists.combine_chunks() if isinstance(lists, pa.ChunkedArray) else lists
    value_type = lists.type.value_type
    if value_type.get_field_index("waiver") >= 0:
        return lists
    values = lists.values
    children = [values.field(i) for i in range(value_type.num_fields)]
    widened = pa.StructArray.from_arrays([*children, pa.nulls(len(values), WAIVER_TYPE)],
                                         fields=[*value_type, pa.field("waiver", WAIVER_TYPE)])
    return pa.ListArray.from_arrays(lists.offsets, widened)


def _messages(rule: Any, groups: pd.DataFrame, date_col: str) -> pd.DataFrame:
    """One message pair per (row, document, date) group of expired or pending waivers, joined per row."""
    ev = pd.DataFrame({"document": groups["document"].astype("string"), date_col: groups[date_col].astype("string"),
                       "rules_zh": groups["rules"].str.replace(", ", "、", regex=False).astype("string"),
                       "violations_en": groups["violations_en"].astype("string")}, index=groups.index)
    zh, en = rule.messages(ev)
    per = pd.DataFrame({"j": groups["j"].to_numpy(), "zh": zh.astype(str).to_numpy(), "en": en.astype(str).to_numpy()})
    if per["j"].is_unique:  # one waiver document per subject, the usual case: nothing to join
        return per.sort_values("j", kind="stable").reset_index(drop=True)
    return per.groupby("j", sort=True).agg(zh=("zh", "".join), en=("en", " ".join)).reset_index()


def _group_rules(hits: pd.DataFrame, date_col: str) -> pd.DataFrame:
    """Waivers of one state grouped per subject row, document and date, the rules they name listed."""
    keys = ["j", "document", date_col]
    ordered = hits.sort_values([*keys, "rule_id"], kind="stable")
    if not ordered.duplicated(keys).any():  # one rule per group, the usual case
        g = ordered[keys].assign(rules=ordered["rule_id"].astype(str), n=1).reset_index(drop=True)
    else:
        g = (ordered.groupby(keys, sort=True)
             .agg(rules=("rule_id", lambda s: ", ".join(dict.fromkeys(s))), n=("rule_id", "nunique"))
             .reset_index())
    names = g["rules"].str.replace(", ", " and ", regex=False)
    g["violations_en"] = np.where(g["n"] > 1, "the " + names + " violations stand", "the " + names + " violation stands")
    return g


def apply_waivers(report: gpd.GeoDataFrame, layer: Layer, as_of: pd.Timestamp, *, matched: set[int] | None = None,
                  ) -> tuple[gpd.GeoDataFrame, dict[str, int]]:
    """Apply the validated waivers (``layer.frame``) to the report's findings.

    Parameters
    ----------
    report
        The assembled report (:func:`transportmon.report.assemble`), findings attached.
    layer
        The ``waivers`` layer, after :func:`reject_unknown_subjects`.
    as_of
        The audit date: checkpoints' and routes' waivers are judged on it, trips' on their service dates.
    matched
        When given, the ``row`` of every waiver that covers a violation of the report is added to it: a report in
        pieces (the Dask engine's partitions) counts ``unmatched`` from the union of its pieces' sets.

    Returns
    -------
    (report, counts)
        The report with the ``findings`` struct widened by ``waiver`` (null where none), waived findings, TM120 and
        TM121 findings added, ``max_severity`` of the rows touched recomputed; and the counts for the metadata:
        ``rows``, ``rejected``, ``waived`` (findings waived), ``expired`` (violations whose every waiver has
        expired), ``not_yet_in_effect`` (violations whose waivers all begin later), ``unmatched`` (waivers that
        cover no violation on their date: the rule did not fire as a violation on the subject).
    """
    w = layer.frame
    counts = {"rows": int(layer.rows), "rejected": int(len(layer.rejected)), "waived": 0, "expired": 0,
              "not_yet_in_effect": 0, "unmatched": int(len(w))}
    out = report.copy(deep=False)
    lists = with_waiver_field(arrow(out["findings"]))
    if not len(w) or not len(out):
        out["findings"] = pd.arrays.ArrowExtensionArray(lists)
        return out, counts
    day = pd.Timestamp(as_of).strftime("%Y-%m-%d")

    # The report rows the waivers name: a lookup of the few waiver ids, then the subject kind among those rows.
    ids = pd.Series(pd.unique(w["subject_id"].astype(str)), dtype="string")
    candidates = np.flatnonzero(index_in(out["subject_id"], ids) >= 0)
    cand = pd.DataFrame({"pos": candidates,
                         "subject": out["subject"].iloc[candidates].astype(str).to_numpy(),
                         "subject_id": out["subject_id"].iloc[candidates].astype(str).to_numpy()})
    named = w[["subject", "subject_id"]].astype(str).drop_duplicates()
    rows = np.sort(cand.merge(named, on=["subject", "subject_id"])["pos"].unique())
    if not len(rows):
        out["findings"] = pd.arrays.ArrowExtensionArray(lists)
        return out, counts

    # Their findings, flat: j = the row among ``rows``.
    sub = lists.take(pa.array(rows))
    flat = sub.flatten()
    j = pc.list_parent_indices(sub).to_numpy(zero_copy_only=False).astype(np.int64)
    subj = out["subject"].iloc[rows].astype(str).to_numpy()
    sid = out["subject_id"].iloc[rows].astype(str).to_numpy()
    service = out["service_date"].iloc[rows].astype("string").fillna("").to_numpy(dtype=object)
    on = np.array([day if DATE_COLUMN.get(s) is None else d for s, d in zip(subj, service)], dtype=object)
    f = pd.DataFrame({"j": j, "k": np.arange(len(flat)), "rule_id": flat.field("rule_id").to_numpy(zero_copy_only=False),
                      "severity": flat.field("severity").to_numpy(zero_copy_only=False)})
    f["subject"], f["subject_id"], f["date"] = subj[j], sid[j], on[j]
    viol = f[f["severity"] == "violation"]
    m = viol.merge(w.astype({c: str for c in ("subject", "subject_id", "rule_id")}),
                   on=["subject", "subject_id", "rule_id"])
    start, end, on_day = (m[c].astype(str).to_numpy() for c in ("valid_from", "valid_until", "date"))
    state = np.select([(start <= on_day) & (on_day <= end), end < on_day], ["in_effect", "expired"], "pending")
    m["state"] = state
    counts["unmatched"] = int(len(w) - m["row"].nunique())
    if matched is not None:
        matched.update(int(r) for r in pd.unique(m["row"]))
    # In effect: the one that holds longest cites; expired: the latest to lapse; pending: the first to begin.
    eff = m[m["state"] == "in_effect"].sort_values(["k", "valid_until", "document"], ascending=[True, False, True],
                                                    kind="stable").drop_duplicates("k")
    rest = m[~m["k"].isin(eff["k"])]
    exp = rest[rest["state"] == "expired"].sort_values(["k", "valid_until", "document"], ascending=[True, False, True],
                                                       kind="stable").drop_duplicates("k")
    pend = rest[(rest["state"] == "pending") & ~rest["k"].isin(exp["k"])].sort_values(
        ["k", "valid_from", "document"], kind="stable").drop_duplicates("k")
    counts["waived"], counts["expired"], counts["not_yet_in_effect"] = len(eff), len(exp), len(pend)

    # The touched findings: severity and waiver replaced where a waiver is in effect.
    k_eff = eff["k"].to_numpy(dtype=np.int64)
    waived = np.zeros(len(flat), dtype=bool)
    waived[k_eff] = True
    severity = pc.if_else(pa.array(waived), pa.scalar("waived"), flat.field("severity").cast(pa.string()))
    doc = np.full(len(flat), None, dtype=object)
    until = np.full(len(flat), None, dtype=object)
    doc[k_eff], until[k_eff] = eff["document"].astype(str).to_numpy(), eff["valid_until"].astype(str).to_numpy()
    waiver = pa.StructArray.from_arrays([pa.array(doc, pa.string()), pa.array(until, pa.string())],
                                        fields=list(WAIVER_TYPE), mask=pa.array(~waived))
    fields = {flat.type.field(i).name: flat.field(i) for i in range(flat.type.num_fields)}
    fields["severity"], fields["waiver"] = severity, waiver
    pieces = [pa.StructArray.from_arrays([fields[fl.name] for fl in flat.type], fields=list(flat.type))]
    piece_j = [j]
    piece_rule = [fields["rule_id"].to_numpy(zero_copy_only=False)]

    # TM120 / TM121: one finding per subject row, naming every lapsed (pending) waiver of it.
    for rule, hits, date_col in ((TM120, exp, "valid_until"), (TM121, pend, "valid_from")):
        if not len(hits):
            continue
        said = _messages(rule, _group_rules(hits, date_col), date_col)
        jj = said["j"].to_numpy(dtype=np.int64)
        new = {"rule_id": pa.array([rule.id] * len(said), pa.string()),
               "severity": pa.array([rule.severity] * len(said), pa.string()),
               "message_zh": pa.array(said["zh"].tolist(), pa.string()),
               "message_en": pa.array(said["en"].tolist(), pa.string()),
               "finding_id": pa.array([f"{rule.id}:{subj[x]}:{sid[x]}" for x in jj], pa.string())}
        pieces.append(pa.StructArray.from_arrays(
            [new[fl.name].cast(fl.type) if fl.name in new else pa.nulls(len(said), fl.type) for fl in flat.type],
            fields=list(flat.type)))
        piece_j.append(jj)
        piece_rule.append(np.array([rule.id] * len(said), dtype=object))
    values = pa.concat_arrays(pieces)
    all_j = np.concatenate(piece_j)
    order = np.lexsort((np.arange(len(all_j)), np.concatenate(piece_rule).astype(str), all_j))
    values = values.take(pa.array(order))
    new_lengths = np.bincount(all_j, minlength=len(rows))
    rebuilt = pa.ListArray.from_arrays(pa.array(np.r_[0, np.cumsum(new_lengths)].astype(np.int32)), values)
    out["findings"] = pd.arrays.ArrowExtensionArray(_splice(lists, rows, rebuilt))
    out["max_severity"] = _max_severity(out["max_severity"], rows, values.field("severity"), all_j[order])
    return out, counts


def pieces_counts(counts: Iterable[dict[str, int]], matched: set[int], layer: Layer) -> dict[str, int]:
    """The waivers' counts of a report judged in pieces (:func:`apply_waivers` on each, one ``matched`` set for all
    of them, or the sets' union): the pieces' ``waived``, ``expired`` and ``not_yet_in_effect`` added up, and
    ``unmatched`` the waivers that cover a violation in no piece."""
    out = {"rows": int(layer.rows), "rejected": int(len(layer.rejected)), "waived": 0, "expired": 0,
           "not_yet_in_effect": 0}
    for piece in counts:
        for key in ("waived", "expired", "not_yet_in_effect"):
            out[key] += int(piece.get(key, 0))
    rows = set(layer.frame["row"].astype(int).tolist()) if len(layer.frame) else set()
    out["unmatched"] = len(rows - matched)
    return out


def _splice(lists: pa.ListArray, rows: np.ndarray, rebuilt: pa.ListArray) -> pa.Array | pa.ChunkedArray:
    """``lists`` with the lists at ``rows`` (sorted) replaced by those of ``rebuilt``: slices of the old array between
    them (no copy), a chunk each; with many rows, concatenated into one array again (a copy of contiguous buffers,
    several times faster than taking the findings one by one)."""
    chunks: list[pa.Array] = []
    prev = 0
    for i, r in enumerate(rows.tolist()):
        if r > prev:
            chunks.append(lists.slice(prev, r - prev))
        chunks.append(rebuilt.slice(i, 1))
        prev = r + 1
    if prev < len(lists):
        chunks.append(lists.slice(prev))
    chunked = pa.chunked_array(chunks, type=lists.type)
    return chunked.combine_chunks() if chunked.num_chunks > 64 else chunked


def _max_severity(column: pd.Series, rows: np.ndarray, severity: pa.Array, j: np.ndarray) -> pd.Series:
    """``max_severity`` with the rows touched recomputed from their findings' severities."""
    rank = {s: len(SEVERITIES) - i for i, s in enumerate(SEVERITIES)}  # info 1 … violation 4
    r = np.array([rank.get(s, 0) for s in severity.to_pylist()], dtype=np.int8)
    top = np.zeros(len(rows), dtype=np.int8)
    np.maximum.at(top, j, r)
    by_rank = {v: k for k, v in rank.items()}
    values = column.copy()
    values.iloc[rows] = [by_rank.get(int(t), np.nan) for t in top]
    return values


def waiver_findings(report: pd.DataFrame) -> pd.DataFrame:
    """The findings waivers made or changed, one row each, for the summary and the maps: ``status`` ``waived`` (a
    violation with a waiver in effect: ``document`` and ``valid_until`` given), ``expired`` (TM120) or
    ``not-yet-in-effect`` (TM121), with ``row`` (the report row's position), ``subject``, ``subject_id``,
    ``verdict``, ``rule_id``, ``message_zh``, ``message_en``. Rows are in report order; empty when the report has
    none."""
    cols = ["row", "subject", "subject_id", "verdict", "status", "rule_id", "document", "valid_until", "message_zh",
            "message_en"]
    if "findings" not in report.columns or not len(report):
        return pd.DataFrame(columns=cols)
    from .io.columns import findings_array

    lists = findings_array(report["findings"])
    flat = pc.list_flatten(lists)
    if not pa.types.is_struct(flat.type) or not len(flat):
        return pd.DataFrame(columns=cols)
    names = [fl.name for fl in flat.type]
    rule = text(flat.field("rule_id"))
    severity = text(flat.field("severity"))
    status = pc.if_else(pc.equal(severity, "waived"), pa.scalar("waived"), pc.if_else(
        pc.equal(rule, TM120.id), pa.scalar("expired"), pc.if_else(
            pc.equal(rule, TM121.id), pa.scalar("not-yet-in-effect"), pa.scalar(None, pa.string()))))
    keep = np.flatnonzero(status.is_valid().to_numpy(zero_copy_only=False))
    if not len(keep):
        return pd.DataFrame(columns=cols)
    at = pa.array(keep)
    rows = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False).astype(np.int64)[keep]
    if "waiver" in names:
        document, until = (part.to_pylist() for part in flat.field("waiver").take(at).flatten())  # null-aware
    else:  # a report read back from a form that lost the field: the status is still known
        document = until = [None] * len(keep)
    return pd.DataFrame({
        "row": rows, "subject": report["subject"].iloc[rows].astype(str).to_numpy(),
        "subject_id": report["subject_id"].iloc[rows].astype(str).to_numpy(),
        "verdict": report["verdict"].iloc[rows].astype(str).to_numpy(),
        "status": status.take(at).to_pylist(), "rule_id": rule.take(at).to_pylist(),
        "document": document, "valid_until": until,
        **{c: text(flat.field(c)).take(at).to_pylist() if c in names else None for c in ("message_zh", "message_en")},
    })
