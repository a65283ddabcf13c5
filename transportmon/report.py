"""Subjects + findings → the report frame (DESIGN §4), its metadata, and the verdict counts.

One row per input checkpoint and per input trip, whatever the verdict, one per route, plus one per rejected row of any
other layer.
Rows are sorted by (subject, subject_id, source_row) so the same inputs give the same report, byte for byte.
"""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ._arrow import (
    FINDING_KEYS,
    FINDING_TYPE,
    FINDINGS_TYPE,
    STOPS_TYPE,
    arrow,
    index_in,
    list_column,
    offsets_of,
    text,
)
from .config import RuleConfig
from .rules.checkpoints import distance_limits
from .rules.registry import FINDING_COLUMNS, SEVERITIES, round_off_limit

#: Report columns in order (the properties of every feature). Evidence columns a subject does not have are null.
COLUMNS = [
    "subject", "subject_id", "verdict", "reason", "findings", "policy",
    # checkpoint evidence
    "road_id", "road_ref", "road_class", "distance_to_road_m", "distance_to_exempt_border_m", "distance_to_crossing_m",
    "overdue_days",
    # trip evidence
    "passengers", "seats", "occupancy", "cap", "max_passengers", "excess_passengers", "risk_stops", "risk_level",
    # route evidence (DESIGN §9; risk_stops and risk_level are shared with trips)
    "baseline_trips_per_day", "recent_trips", "restored_ratio",
    # context
    "scope", "name", "service_date", "route_id", "detail", "source_row", "max_severity",
]

FLOAT_COLUMNS = ("distance_to_road_m", "distance_to_exempt_border_m", "distance_to_crossing_m")
INT_COLUMNS = ("overdue_days", "passengers", "seats", "max_passengers", "excess_passengers", "recent_trips",
               "source_row")
#: Ratios shown to 4 decimals (and more where that would round onto the limit they are judged against).
RATIO_COLUMNS = ("occupancy", "baseline_trips_per_day", "restored_ratio")
SEVERITY_RANK = {s: i for i, s in enumerate(reversed(SEVERITIES), start=1)}  # info 1, warning 2, violation 3


#: Text columns of the report (Arrow-backed ``str``; missing values are NaN).
TEXT_COLUMNS = ("subject", "subject_id", "verdict", "reason", "policy", "road_id", "road_ref", "road_class",
                "risk_level", "scope", "name", "service_date", "route_id", "detail", "max_severity")


def empty_findings(n: int) -> pd.arrays.ArrowExtensionArray:
    """A ``findings`` column of ``n`` empty lists."""
    return list_column(np.zeros(n + 1, dtype=np.int64), pa.array([], FINDING_TYPE), FINDINGS_TYPE)


def finding_ids(rule_id: object, subject: object, subject_id: object, rank: np.ndarray | None = None) -> pa.Array:
    """The ``finding_id`` of each finding, ``{rule_id}:{subject}:{subject_id}`` (DESIGN §8), built column-wise.

    A rule fires at most once on a subject row, but rows may share (subject, subject_id): the rejected rows of a layer
    whose id repeats (a third row with a checkpoint's id, several rejected ``stop_times`` rows of one trip — their
    id is the trip's —, dated rows of one risk area's adcode). So that the id stays unique in a report, the second
    and later findings with the same id get ``#2``, ``#3`` … in report order (by ``rank``, default the given order):
    stable from run to run while those rows keep their order in the input.

    Parameters
    ----------
    rule_id, subject, subject_id
        One value per finding (a missing value counts as empty text).
    rank
        Position of each finding in report order; only its order matters.
    """
    ids = pc.binary_join_element_wise(text(rule_id), text(subject), text(subject_id), ":", null_handling="replace",
                                      null_replacement="")
    if len(ids) < 2 or pc.count_distinct(ids).as_py() == len(ids):
        return ids
    codes = pc.dictionary_encode(ids).indices.to_numpy(zero_copy_only=False)
    rank = np.arange(len(ids)) if rank is None else np.asarray(rank)
    order = np.lexsort((rank, codes))
    grouped = codes[order]
    start = np.r_[True, grouped[1:] != grouped[:-1]]
    first = np.maximum.accumulate(np.where(start, np.arange(len(order)), 0))
    repeat = np.empty(len(order), dtype=np.int64)
    repeat[order] = np.arange(len(order)) - first  # 0 for the first finding with an id
    numbered = pc.binary_join_element_wise(ids, pa.array(repeat + 1).cast(pa.string()), "#")
    return pc.if_else(pa.array(repeat > 0), numbered, ids)


def with_finding_ids(findings: object, subject: object, subject_id: object) -> pd.arrays.ArrowExtensionArray:
    """A ``findings`` list<struct> column (one list per report row, in report order) with every ``finding_id``:
    kept where it is there, derived with :func:`finding_ids` where a report written before ids were added has
    none. The keys of :data:`FINDING_TYPE` come first (a missing one null), then any other a report holds (a
    waiver), as they are; null lists become empty lists."""
    arr = arrow(findings)
    lengths = pc.list_value_length(arr).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    flat = pc.list_flatten(arr)
    have = {f.name: flat.field(f.name) for f in flat.type} if pa.types.is_struct(flat.type) else {}
    fields = [have[k].cast(pa.string()) if k in have else pa.nulls(len(flat), pa.string()) for k in FINDING_KEYS]
    if fields[0].null_count:
        parent = pa.array(np.repeat(np.arange(len(arr)), lengths))
        derived = finding_ids(fields[1], text(subject).take(parent), text(subject_id).take(parent))
        fields[0] = pc.if_else(fields[0].is_null(), derived, fields[0])
    others = [k for k in have if k not in FINDING_KEYS]
    values = pa.StructArray.from_arrays(fields + [have[k] for k in others], names=[*FINDING_KEYS, *others])
    return list_column(np.r_[0, np.cumsum(lengths)], values, None if others else FINDINGS_TYPE)


def attach_findings(subjects: pd.DataFrame, findings: pd.DataFrame) -> pd.DataFrame:
    """Put each subject's findings (list of ``{finding_id, rule_id, severity, message_zh, message_en}``, ordered by
    rule id) and its highest severity on its row.

    Findings are matched on (subject, source_row): the row number in the subject's own layer, so duplicate ids of
    rejected rows stay apart. ``finding_id`` is made of the row's own subject and subject_id
    (:func:`finding_ids`). The ``findings`` column is an Arrow list-of-struct column (``pd.ArrowDtype``): a cell
    reads as a Python list of dicts, but millions of them are never built as Python objects.
    """
    out = subjects.copy()
    n = len(out)
    out["findings"] = empty_findings(n)
    out["max_severity"] = pd.Series(np.nan, index=out.index, dtype="str")
    if not len(findings) or not n:
        return out
    pos = _subject_positions(out, findings)
    f = findings[pos >= 0]
    pos = pos[pos >= 0]
    rule_code, rules = pd.factorize(f["rule_id"].astype(str), sort=True)
    key = pos * max(len(rules), 1) + rule_code
    order = np.argsort(key, kind="stable")
    if len(key) > 1 and (key[order][1:] == key[order][:-1]).any():  # a rule twice on one subject: by message too
        order = pd.DataFrame({"p": pos, "r": rule_code, "m": f["message_en"].astype(str).to_numpy()}).sort_values(
            ["p", "r", "m"], kind="stable").index.to_numpy()
    take = pa.array(order)
    rule_id = text(f["rule_id"]).take(take)
    row_of = pa.array(pos[order])
    # Report order of the findings (rows sort by subject, subject_id, source_row): numbers repeated ids.
    source_row = pd.to_numeric(out["source_row"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan) if (
        "source_row" in out.columns) else np.zeros(n)
    rank = np.lexsort((np.arange(len(order)), source_row[pos[order]]))
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[rank] = np.arange(len(order))
    ids = finding_ids(rule_id, text(out["subject"]).take(row_of), text(out["subject_id"]).take(row_of), ranks)
    values = pa.StructArray.from_arrays(
        [ids, rule_id, *(text(f[c]).take(take) for c in ("severity", "message_zh", "message_en"))],
        fields=list(FINDING_TYPE))
    out["findings"] = list_column(offsets_of(pos[order], n), values, FINDINGS_TYPE)
    by_rank = sorted(SEVERITY_RANK, key=SEVERITY_RANK.__getitem__)  # info, warning, violation
    rank = (index_in(f["severity"], pd.Series(by_rank, dtype="str")) + 1).astype(np.int8)
    top = np.zeros(n, dtype=np.int8)
    np.maximum.at(top, pos, rank)
    names = pa.array([None, *by_rank], pa.string())
    out["max_severity"] = pd.Series(pd.arrays.ArrowStringArray(names.take(pa.array(top))), index=out.index).astype(
        "str")
    return out


def one_finding_each(subjects: pd.DataFrame, findings: pd.DataFrame) -> pd.DataFrame:
    """:func:`attach_findings` when ``findings`` holds exactly one finding per subject, row for row (a trip's one
    TM2xx finding): the list column is built with no matching and no sorting.

    The subjects' ids must be unique (trips are: a repeated trip id is a rejected row), so each ``finding_id`` is
    ``{rule_id}:{subject}:{subject_id}`` of its row as it is, with no search for repeats among millions of trips.
    """
    if len(findings) != len(subjects):
        raise ValueError(f"{len(findings)} findings for {len(subjects)} subjects; one each is needed")
    out = subjects.copy(deep=False)
    n = len(out)
    rule_id = text(findings["rule_id"])
    ids = pc.binary_join_element_wise(rule_id, text(out["subject"]), text(out["subject_id"]), ":",
                                      null_handling="replace", null_replacement="")
    values = pa.StructArray.from_arrays([ids, rule_id, *(text(findings[c]) for c in ("severity", "message_zh",
                                                                                       "message_en"))],
                                        fields=list(FINDING_TYPE))
    out["findings"] = list_column(np.arange(n + 1, dtype=np.int64), values, FINDINGS_TYPE)
    out["max_severity"] = pd.Series(pd.arrays.ArrowStringArray(text(findings["severity"])), index=out.index).astype(
        "str")
    return out


def _subject_positions(report: pd.DataFrame, findings: pd.DataFrame) -> np.ndarray:
    """Row of ``report`` each finding belongs to (same subject and source_row), -1 for none."""
    subjects = pd.unique(pd.concat([report["subject"].astype(str), findings["subject"].astype(str)]))
    subjects = pd.Series(subjects, dtype="str")
    rep_code = index_in(report["subject"].astype(str), subjects)
    f_code = index_in(findings["subject"].astype(str), subjects)
    rep_row = pd.to_numeric(report["source_row"], errors="coerce").astype("Int64")
    f_row = pd.to_numeric(findings["source_row"], errors="coerce").astype("Int64")
    if rep_row.isna().any() or f_row.isna().any():  # rows without a row number match on (subject, <NA>) as merge did
        rep_row, f_row = rep_row.fillna(-1), f_row.fillna(-1)
    rep_row, f_row = rep_row.to_numpy(dtype=np.int64), f_row.to_numpy(dtype=np.int64)
    lo = min(rep_row.min(initial=0), f_row.min(initial=0))
    span = max(rep_row.max(initial=0), f_row.max(initial=0)) - lo + 1
    rep_key = rep_code * span + (rep_row - lo)
    f_key = f_code * span + (f_row - lo)
    index = pd.Index(rep_key)
    if not index.is_unique:  # a subject row twice: keep the first, as a lookup can
        index = pd.Index(pd.Series(rep_key).drop_duplicates(keep="first").reindex(range(len(rep_key))).to_numpy())
    return index.get_indexer(f_key).astype(np.int64)


def assemble(parts: list[gpd.GeoDataFrame], policy: str, *,
             limits: Mapping[str, float] | None = None) -> gpd.GeoDataFrame:
    """Concatenate subject frames into the report frame with :data:`COLUMNS`, sorted.

    Distances are rounded to 0.1 m, and further where that would put a distance on the limit it was judged against
    (``limits``: ``{column: limit}``, e.g. ``distance_to_crossing_m`` → 3,000): 3,000.04 m is written 3000.04, not
    3000.0, so the number never contradicts the verdict.

    Columns keep one dtype across parts (Arrow-backed text, ``Int64``, float, Arrow lists), so that concatenating a
    few checkpoints with millions of trips never falls back to a column of Python objects; a column already in its
    report dtype is not copied.
    """
    limits = dict(limits or {})
    frames = [_conform(p, limits) for p in parts if len(p)]
    if not frames:
        frames = [_conform(gpd.GeoDataFrame({c: [] for c in COLUMNS}, geometry=gpd.GeoSeries([], crs="EPSG:4326")),
                           limits)]
    if len(frames) == 1:
        cols, geometry = frames[0]
    else:
        cols = {c: pd.concat([pd.Series(f[0][c], copy=False) for f in frames], ignore_index=True).array
                for c in COLUMNS}
        geometry = np.concatenate([f[1] for f in frames])
    n = len(geometry)
    cols["policy"] = pd.array(pa.repeat(pa.scalar(policy, pa.large_string()), n), dtype="str")
    df = gpd.GeoDataFrame(cols, geometry=geometry, crs="EPSG:4326", copy=False)
    table = pa.table({"s": text(df["subject"]), "i": text(df["subject_id"]),
                      "r": pa.array(df["source_row"].to_numpy(dtype=np.float64, na_value=np.nan), from_pandas=True)})
    order = pc.sort_indices(table, sort_keys=[("s", "ascending", "at_end"), ("i", "ascending", "at_end"),
                                              ("r", "ascending", "at_end")]).to_numpy()
    if not (order[1:] > order[:-1]).all():
        df = df.take(order)
    return df.reset_index(drop=True)


def _conform(part: pd.DataFrame, limits: dict[str, float]) -> tuple[dict[str, object], np.ndarray]:
    """A subject frame's columns, every report column in the report's dtype (nulls where the part has none), and its
    geometries; distances rounded as :func:`assemble` says."""
    n = len(part)
    cols: dict[str, object] = {}
    for col in COLUMNS:
        have = col in part.columns
        if col == "findings":
            if have and isinstance(part[col].dtype, pd.ArrowDtype):
                cols[col] = part[col].array
            elif have:
                cols[col] = pd.arrays.ArrowExtensionArray(pa.array(
                    [x if isinstance(x, list) else [] for x in part[col]], FINDINGS_TYPE))
            else:
                cols[col] = empty_findings(n)
        elif col == "risk_stops":
            if have and isinstance(part[col].dtype, pd.ArrowDtype):
                cols[col] = part[col].array
            elif have:
                cols[col] = pd.arrays.ArrowExtensionArray(pa.array(
                    [list(v) if isinstance(v, (list, tuple, np.ndarray)) else None for v in part[col]], STOPS_TYPE))
            else:
                cols[col] = pd.arrays.ArrowExtensionArray(pa.nulls(n, STOPS_TYPE))
        elif col in TEXT_COLUMNS:
            cols[col] = _text_column(part[col]) if have else pd.array(pa.nulls(n, pa.large_string()), dtype="str")
        elif col in INT_COLUMNS:
            cols[col] = _int_column(part[col]) if have else pd.arrays.IntegerArray(np.zeros(n, np.int64),
                                                                                  np.ones(n, bool))
        else:
            values = pd.to_numeric(part[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan) if have else (
                np.full(n, np.nan))
            if col in FLOAT_COLUMNS and have:  # a part without the column has only NaN: nothing to round
                values = round_off_limit(np.where(np.isfinite(values), values, np.nan), limits.get(col), 1)[0]
            elif col in RATIO_COLUMNS and col in limits and have:
                values = round_off_limit(values, limits[col], 4)[0]
            elif col in RATIO_COLUMNS:
                values = np.round(values, 4)
            cols[col] = values
    geometry = part.geometry.to_numpy() if isinstance(part, gpd.GeoDataFrame) else np.full(n, None)
    return cols, geometry


def _int_column(values: pd.Series) -> pd.api.extensions.ExtensionArray:
    """A column as ``Int64`` (no copy when it is one, or a numpy integer column)."""
    if isinstance(values.dtype, pd.Int64Dtype):
        return values.array
    if isinstance(values.dtype, np.dtype) and values.dtype.kind in "iu":
        data = values.to_numpy().astype(np.int64, copy=False)
        return pd.arrays.IntegerArray(data, np.zeros(len(data), dtype=bool))
    return pd.to_numeric(values, errors="coerce").astype("Int64").array


def _text_column(values: pd.Series) -> pd.api.extensions.ExtensionArray:
    """A column as the report's text dtype: through Arrow when it is text or categorical already (millions of trip
    rows), else ``astype("str")`` (numbers as ids, mixed objects)."""
    if isinstance(values.dtype, (pd.StringDtype, pd.CategoricalDtype)) and (
            not isinstance(values.dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(values.cat.categories)):
        arr = arrow(values)  # large_string stays large_string: no cast there and back
        return pd.array(arr.dictionary_decode() if pa.types.is_dictionary(arr.type) else arr, dtype="str")
    return values.astype("str").array


def verdict_counts(report: pd.DataFrame) -> dict[str, dict[str, int]]:
    """``{subject: {verdict: n}}``, keys sorted."""
    counts = report.groupby(["subject", "verdict"]).size()
    out: dict[str, dict[str, int]] = {}
    for (subject, verdict), n in sorted(counts.items()):
        out.setdefault(str(subject), {})[str(verdict)] = int(n)
    return out


def finding_counts(report: pd.DataFrame) -> dict[str, int]:
    """Number of subjects whose worst finding is each severity."""
    sev = report["max_severity"].value_counts()
    return {s: int(sev.get(s, 0)) for s in SEVERITIES}


def highest_severity(report: pd.DataFrame) -> str | None:
    ranks = report["max_severity"].map(SEVERITY_RANK).dropna()
    if not len(ranks):
        return None
    inv = {v: k for k, v in SEVERITY_RANK.items()}
    return inv[int(ranks.max())]


def filter_only(report: gpd.GeoDataFrame, only: str | None) -> gpd.GeoDataFrame:
    """``--only violation|warning``: subjects with a finding at least that severe."""
    if not only:
        return report
    floor = SEVERITY_RANK[only]
    keep = report["max_severity"].map(SEVERITY_RANK).fillna(0) >= floor
    return report[keep.to_numpy()].reset_index(drop=True)


__all__ = ["COLUMNS", "FINDING_COLUMNS", "assemble", "attach_findings", "filter_only", "finding_ids", "report_limits",
           "one_finding_each", "verdict_counts", "with_finding_ids"]


def report_limits(cfg: RuleConfig) -> dict[str, float]:
    """The limits :func:`assemble` rounds the report's distances and ratios against (both engines assemble with
    them)."""
    return {**distance_limits(cfg), "restored_ratio": float(cfg.restore_ratio)}
