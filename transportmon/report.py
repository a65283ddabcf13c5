"""Subjects + findings → the report frame (DESIGN §4), its metadata, and the verdict counts.

One row per input checkpoint and per input trip, whatever the verdict, one per route, plus one per rejected row of any
other layer.
Rows are sorted by (subject, subject_id, source_row) so the same inputs give the same report, byte for byte.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor

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
    severity = text(findings["severity"])
    ids = pc.binary_join_element_wise(rule_id, _one_value(out["subject"]), text(out["subject_id"]), ":",
                                      null_handling="replace", null_replacement="")
    # The messages are the findings' own buffers (``string`` arrays stay as they are).
    values = pa.StructArray.from_arrays([ids, rule_id, severity, text(findings["message_zh"]),
                                         text(findings["message_en"])], fields=list(FINDING_TYPE))
    out["findings"] = list_column(np.arange(n + 1, dtype=np.int64), values, FINDINGS_TYPE)
    # The severity's text once: the report's max_severity is the same bytes with wider offsets.
    out["max_severity"] = pd.Series(pd.array(severity.cast(pa.large_string()), dtype="str"), index=out.index)
    return out


def _one_value(values: pd.Series) -> pa.Array | pa.Scalar:
    """A subject column as Arrow text, or as one scalar when it is a categorical of one value (a part's subject):
    then millions of ids are joined with it, not with millions of copies of it."""
    if isinstance(values.dtype, pd.CategoricalDtype) and len(values.cat.categories) == 1 and (
            not values.isna().any()):
        return pa.scalar(str(values.cat.categories[0]), pa.string())
    return text(values)


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
    few checkpoints with millions of trips never falls back to a column of Python objects. Nothing of the millions
    is copied that need not be: Arrow columns are the parts' arrays as chunks of one column; a numeric column is
    written once into its report array (a part without it writes its missing values there); a column of one value
    (``policy``, a part's ``subject``, a part's missing text) is one short chunk repeated (:func:`repeated`).
    """
    limits = dict(limits or {})
    frames = [p for p in parts if len(p)]
    if not frames:
        frames = [gpd.GeoDataFrame({c: [] for c in COLUMNS}, geometry=gpd.GeoSeries([], crs="EPSG:4326"))]
    bounds = np.r_[0, np.cumsum([len(f) for f in frames])]
    n = int(bounds[-1])
    cols: dict[str, object] = {}
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="assemble") as pool:
        decoding = _decode_ahead(frames, pool)
        for col in COLUMNS:
            if col == "policy":
                cols[col] = pd.array(repeated(pa.scalar(policy, pa.large_string()), n), dtype="str")
            elif col in TEXT_COLUMNS or col in ("findings", "risk_stops"):
                chunks = [pd.array(decoding[col, i].result(), dtype="str") if (col, i) in decoding
                          else _arrow_column(col, f) for i, f in enumerate(frames)]
                cols[col] = chunks[0] if len(chunks) == 1 else pd.concat(
                    [pd.Series(c, copy=False) for c in chunks], ignore_index=True).array  # chunks, not copies
            elif col in INT_COLUMNS:
                cols[col] = _int_column(col, frames, bounds)
            else:
                cols[col] = _float_column(col, frames, bounds, limits)
    geoms = [f.geometry.to_numpy() if isinstance(f, gpd.GeoDataFrame) else np.full(len(f), None) for f in frames]
    geometry = geoms[0] if len(geoms) == 1 else np.concatenate(geoms)
    df = gpd.GeoDataFrame(cols, geometry=geometry, crs="EPSG:4326", copy=False)
    if not _in_report_order(df):
        table = pa.table({"s": text(df["subject"]), "i": text(df["subject_id"]),
                          "r": pa.array(df["source_row"].to_numpy(dtype=np.float64, na_value=np.nan),
                                        from_pandas=True)})
        order = pc.sort_indices(table, sort_keys=[("s", "ascending", "at_end"), ("i", "ascending", "at_end"),
                                                  ("r", "ascending", "at_end")]).to_numpy()
        df = df.take(order)
    return df.reset_index(drop=True)


#: Rows of the one chunk a column of one repeated value is made of (:func:`repeated`).
REPEAT_ROWS = 1 << 16


def repeated(value: pa.Scalar, n: int) -> pa.ChunkedArray:
    """``n`` times ``value`` (null too) as an Arrow column: one chunk of at most :data:`REPEAT_ROWS` rows, referenced
    as often as it takes, so millions of rows of the policy, or of a part's missing text, take no memory of their
    own."""
    chunk = pa.repeat(value, min(n, REPEAT_ROWS))
    full, rest = divmod(n, len(chunk)) if n else (0, 0)
    return pa.chunked_array([chunk] * full + ([chunk.slice(0, rest)] if rest else []), type=value.type)


def _in_report_order(df: pd.DataFrame) -> bool:
    """Whether the rows already are in report order, (subject, subject_id, source_row) ascending with missing ids
    and row numbers last — then the sort's stable order is the rows' own, and there is nothing to sort. Decided by
    comparing each row with the next, chunk by chunk: no sort, no copy of the id columns."""
    if len(df) < 2:
        return True
    s, i = arrow_chunks(df["subject"]), arrow_chunks(df["subject_id"])
    if s.null_count or i.null_count:  # nulls sort last: left to the sort
        return False
    r = df["source_row"].to_numpy(dtype=np.float64, na_value=np.inf)
    s0, s1, i0, i1 = s[:-1], s[1:], i[:-1], i[1:]
    same_s = pc.equal(s1, s0)
    after = pc.or_(pc.greater(s1, s0), pc.and_(same_s, pc.or_(
        pc.greater(i1, i0), pc.and_(pc.equal(i1, i0), pa.array(r[1:] >= r[:-1])))))
    return bool(pc.all(after).as_py())


def arrow_chunks(values: pd.Series) -> pa.ChunkedArray:
    """A column as the Arrow chunks it holds (none combined): text stays as it is stored."""
    array = values.array
    if isinstance(array, pd.arrays.ArrowExtensionArray):
        return array.__arrow_array__()
    return pa.chunked_array([arrow(values)])


def _arrow_column(col: str, part: pd.DataFrame) -> pd.api.extensions.ExtensionArray:
    """A part's text or list column in the report's dtype (nulls where the part has none)."""
    n = len(part)
    have = col in part.columns
    if col in ("findings", "risk_stops"):
        type_ = FINDINGS_TYPE if col == "findings" else STOPS_TYPE
        if have and isinstance(part[col].dtype, pd.ArrowDtype):
            return part[col].array
        if have and col == "findings":
            return pd.arrays.ArrowExtensionArray(pa.array([x if isinstance(x, list) else [] for x in part[col]],
                                                          FINDINGS_TYPE))
        if have:
            return pd.arrays.ArrowExtensionArray(pa.array(
                [list(v) if isinstance(v, (list, tuple, np.ndarray)) else None for v in part[col]], STOPS_TYPE))
        if col == "findings":
            return empty_findings(n)
        return pd.arrays.ArrowExtensionArray(repeated(pa.scalar(None, type_), n))
    if not have:
        return pd.array(repeated(pa.scalar(None, pa.large_string()), n), dtype="str")
    return _text_column(part[col])


def _float_column(col: str, frames: list[pd.DataFrame], bounds: np.ndarray, limits: dict[str, float]) -> np.ndarray:
    """A float column of the report, each part's values rounded as :func:`assemble` says, written in place."""
    one = len(frames) == 1
    out = None if one else np.empty(int(bounds[-1]), dtype=np.float64)
    for part, lo, hi in zip(frames, bounds[:-1], bounds[1:]):
        dest = np.empty(hi - lo) if one else out[lo:hi]
        if col not in part.columns:
            dest[:] = np.nan  # nothing to round
        else:
            values = pd.to_numeric(part[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            if col in FLOAT_COLUMNS:
                dest[:] = round_off_limit(np.where(np.isfinite(values), values, np.nan), limits.get(col), 1)[0]
            elif col in RATIO_COLUMNS and col in limits:
                dest[:] = round_off_limit(values, limits[col], 4)[0]
            elif col in RATIO_COLUMNS:
                np.round(values, 4, out=dest)
            elif one:
                dest = values  # the part's own values: no copy
            else:
                dest[:] = values
        if one:
            return dest
    return out


def _int_column(col: str, frames: list[pd.DataFrame], bounds: np.ndarray) -> pd.arrays.IntegerArray:
    """An ``Int64`` column of the report, each part's values written in place (missing where a part has none)."""
    n = int(bounds[-1])
    if len(frames) == 1 and col in frames[0].columns:  # already one, or numpy integers: no copy of the numbers
        values = frames[0][col]
        if isinstance(values.dtype, pd.Int64Dtype):
            return values.array
        if isinstance(values.dtype, np.dtype) and values.dtype.kind in "iu":
            return pd.arrays.IntegerArray(values.to_numpy().astype(np.int64, copy=False), np.zeros(n, dtype=bool))
    data = np.zeros(n, dtype=np.int64)  # fresh zero pages: a part without the column never touches its own
    missing = np.empty(n, dtype=bool)
    for part, lo, hi in zip(frames, bounds[:-1], bounds[1:]):
        if col not in part.columns:
            missing[lo:hi] = True
            continue
        values = part[col]
        if isinstance(values.dtype, np.dtype) and values.dtype.kind in "iu":
            data[lo:hi], missing[lo:hi] = values.to_numpy(), False
            continue
        if not isinstance(values.dtype, pd.Int64Dtype):
            values = pd.to_numeric(values, errors="coerce").astype("Int64")
        # The numbers through Arrow's view of them (no copy with the missing ones set first), then where missing.
        numbers = pa.array(values.array, type=pa.int64())
        data[lo:hi] = np.frombuffer(numbers.buffers()[1], dtype=np.int64)[numbers.offset:numbers.offset + hi - lo]
        missing[lo:hi] = values.isna().to_numpy(dtype=bool)
    return pd.arrays.IntegerArray(data, missing)


#: Rows from which :func:`assemble` decodes a categorical text column on a second thread.
DECODE_AHEAD_ROWS = 1 << 16


def _decode_ahead(frames: list[pd.DataFrame], pool: ThreadPoolExecutor) -> dict[tuple[str, int], Future[pa.Array]]:
    """The large categorical text columns of the parts (millions of trips' verdicts, reasons, dates …), each
    decoded to ``large_string`` on ``pool``'s thread while this one builds the other columns: the codes and
    categories are taken here (pandas), the decoding there is Arrow's alone (no pandas, which enters
    ``warnings.catch_warnings``, not thread-safe before Python 3.14). Keyed by (column, part number)."""
    out: dict[tuple[str, int], Future[pa.Array]] = {}
    for col in TEXT_COLUMNS:
        for i, part in enumerate(frames):
            if col in part.columns and len(part) >= DECODE_AHEAD_ROWS:
                parts = _categorical_parts(part[col])
                if parts is not None and len(parts[1]) > 1:
                    out[col, i] = pool.submit(_decode, *parts)
    return out


def _categorical_parts(values: pd.Series) -> tuple[np.ndarray, pa.Array] | None:
    """A categorical column of text as its codes and its categories as ``large_string`` (None for another column)."""
    if isinstance(values.dtype, pd.CategoricalDtype) and pd.api.types.is_string_dtype(values.cat.categories):
        return values.cat.codes.to_numpy(), pa.array(np.asarray(values.cat.categories, dtype=object),
                                                     pa.large_string())
    return None


def _decode(codes: np.ndarray, categories: pa.Array) -> pa.Array:
    """Codes (-1 missing) into their categories' text: decoded straight to ``large_string``, the report's text
    type, so no cast follows. Arrow and numpy only."""
    return pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0), categories).dictionary_decode()


def _text_column(values: pd.Series) -> pd.api.extensions.ExtensionArray:
    """A column as the report's text dtype: through Arrow when it is text or categorical already (millions of trip
    rows; a categorical of one value is that value repeated, :func:`repeated`), else ``astype("str")`` (numbers as
    ids, mixed objects)."""
    parts = _categorical_parts(values)
    if parts is not None:
        codes, categories = parts
        if len(categories) == 1 and not (codes < 0).any():
            return pd.array(repeated(categories[0], len(codes)), dtype="str")
        return pd.array(_decode(codes, categories), dtype="str")
    if isinstance(values.dtype, pd.StringDtype):
        return pd.array(arrow_chunks(values), dtype="str")  # large_string stays large_string: no cast
    return values.astype("str").array


def verdict_counts(report: pd.DataFrame) -> dict[str, dict[str, int]]:
    """``{subject: {verdict: n}}``, keys sorted."""
    keys = [arrow_chunks(report[c]) if _arrow_text(report[c]) else None for c in ("subject", "verdict")]
    if all(k is not None and not k.null_count for k in keys):  # each column's few words, then counts of pairs
        codes, words = [], []
        for key in keys:
            encoded = pc.dictionary_encode(key).unify_dictionaries()
            words.append(encoded.chunk(0).dictionary.to_pylist() if encoded.num_chunks else [])
            codes.append(np.concatenate([np.zeros(0, np.int64)] + [c.indices.to_numpy() for c in encoded.chunks]))
        k = max(len(words[1]), 1)
        counts = np.bincount(codes[0].astype(np.int64) * k + codes[1], minlength=len(words[0]) * k)
        items = sorted((words[0][i // k], words[1][i % k], counts[i]) for i in np.flatnonzero(counts))
    else:
        items = [(s, v, n) for (s, v), n in sorted(report.groupby(["subject", "verdict"]).size().items())]
    out: dict[str, dict[str, int]] = {}
    for subject, verdict, n in items:
        out.setdefault(str(subject), {})[str(verdict)] = int(n)
    return out


def _arrow_text(values: pd.Series) -> bool:
    """Whether a column is Arrow-backed text (the report's text columns are)."""
    return isinstance(values.array, pd.arrays.ArrowExtensionArray) and (
        pa.types.is_string(values.array.__arrow_array__().type)
        or pa.types.is_large_string(values.array.__arrow_array__().type))


def finding_counts(report: pd.DataFrame) -> dict[str, int]:
    """Number of subjects whose worst finding is each severity."""
    if _arrow_text(report["max_severity"]):
        counted = pc.value_counts(arrow_chunks(report["max_severity"]))
        sev = dict(zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist()))
    else:
        sev = report["max_severity"].value_counts().to_dict()
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
    keep = severity_ranks(report["max_severity"]) >= SEVERITY_RANK[only]
    return report[keep].reset_index(drop=True)


def severity_ranks(values: pd.Series) -> np.ndarray:
    """:data:`SEVERITY_RANK` of each severity word (0 for a missing or unknown one), looked up once per distinct
    word (millions of trips have a few)."""
    codes, words = pd.factorize(values)  # a missing word is code -1: the last entry, 0
    return np.array([SEVERITY_RANK.get(w, 0) for w in words] + [0], dtype=np.int64)[codes]


__all__ = ["COLUMNS", "FINDING_COLUMNS", "assemble", "attach_findings", "filter_only", "finding_ids", "report_limits",
           "one_finding_each", "severity_ranks", "verdict_counts", "with_finding_ids"]


def report_limits(cfg: RuleConfig) -> dict[str, float]:
    """The limits :func:`assemble` rounds the report's distances and ratios against (both engines assemble with
    them)."""
    return {**distance_limits(cfg), "restored_ratio": float(cfg.restore_ratio)}
