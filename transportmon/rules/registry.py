"""The one registry of rules: stable ids, never reused (``TM1xx`` checkpoints, ``TM12x`` waivers of any subject,
``TM2xx`` coach trips, ``TM3xx`` routes, ``TM9xx`` input problems).

A rule module declares its rules with :func:`rule`; ``transportmon rules`` prints :data:`RULES`. Messages are
templates filled column-wise from the evidence frame (``{road_ref}``, ``{distance_to_crossing_m}`` …).

A rule declares what it needs and how severe it is, so no caller keeps a list of rule ids:
:func:`transportmon.rules.all_rules.plan` says which rules run and why the others are skipped, from the layers present
(``needs``); :meth:`Rule.severities` gives each finding's severity from its subject's verdict
(``severity_by_verdict``).
"""

from __future__ import annotations

import inspect
import string
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .._arrow import arrow, text

Severity = Literal["violation", "warning", "info"]
#: What a finding's ``severity`` may be: a rule's severity, or ``waived`` — a violation covered by an approved waiver
#: on the subject's date (:mod:`transportmon.waivers`). No rule is declared ``waived``.
FindingSeverity = Literal["violation", "warning", "waived", "info"]
#: Finding severities from the most to the least pressing. ``waived`` sits below ``warning``: a waived violation
#: needs no action (``--fail-on`` and ``--only`` pass it over), yet it says more than an ``info``.
SEVERITIES: tuple[FindingSeverity, ...] = ("violation", "warning", "waived", "info")

#: The clause every rule enforces unless it says otherwise.
CLAUSE_ZH = ("除与湖北交界处外，国道、省道、县道、乡道、村道上不符合规定的防疫检测点一律撤除；取消一切不合理的车辆和人员"
             "劝返措施；……进出中高风险地区的跨省、跨市班车、包车客座率控制在50%以内（途经除外）。")


@dataclass(frozen=True)
class Needs:
    """Layers a rule needs; when one is absent, the rule is skipped with ``skipped_as`` (default ``no X, Y layer``)."""

    layers: tuple[str, ...]
    skipped_as: str = ""

    def skip_reason(self, present: Collection[str]) -> str | None:
        """Why the rule is skipped given the ``present`` layers, or None when all are there."""
        missing = [name for name in self.layers if name not in present]
        if not missing:
            return None
        return self.skipped_as or f"no {', '.join(missing)} layer"


@dataclass(frozen=True)
class Rule:
    """One rule: what it flags, how severe, which clause, the message templates, and what it needs to run.

    ``needs`` are tried in order: the first whose layers are not all present names why the rule is skipped.
    ``severity_by_verdict`` overrides ``severity`` for the findings on subjects with one of those verdicts.
    ``reasons`` (input rules only) are the rejection reasons the rule reports.
    """

    id: str
    name: str
    subject: Literal["checkpoint", "trip", "route", "input", "any"]
    severity: Severity
    clause: str
    summary: str
    message_zh: str
    message_en: str
    parameters: tuple[str, ...] = ()
    doc: str = field(default="", compare=False)
    needs: tuple[Needs, ...] = ()
    severity_by_verdict: tuple[tuple[str, Severity], ...] = ()
    reasons: tuple[str, ...] = ()

    def severities(self, verdict: pd.Series | np.ndarray | None = None) -> str | np.ndarray:
        """The severity of each finding on subjects with ``verdict`` (one value when it does not depend on it)."""
        if not self.severity_by_verdict:
            return self.severity
        if verdict is None:
            raise ValueError(f"{self.id}: the severity depends on the verdict; pass the subjects' verdicts")
        v = np.asarray(verdict, dtype=object)
        out = np.full(len(v), self.severity, dtype=object)
        for word, sev in self.severity_by_verdict:
            out[v == word] = sev
        return out

    def severity_text(self) -> str:
        """The severity in words: ``violation where the verdict is remove, else warning``."""
        if not self.severity_by_verdict:
            return self.severity
        where = "; ".join(f"{sev} where the verdict is {word}" for word, sev in self.severity_by_verdict)
        return f"{where}, else {self.severity}"

    def messages(self, evidence: pd.DataFrame, config: dict[str, object] | None = None) -> tuple[pd.Series, pd.Series]:
        """Fill both message templates for every row of ``evidence`` (column-wise, no per-row Python)."""
        return (_fill(self.message_zh, evidence, config or {}), _fill(self.message_en, evidence, config or {}))


RULES: dict[str, Rule] = {}


def rule(rule_: Rule) -> Rule:
    """Register a rule; an id is registered once and never reused."""
    if rule_.id in RULES:
        raise ValueError(f"rule id {rule_.id} registered twice")
    RULES[rule_.id] = rule_
    return rule_


def decimals_off_limit(values: np.ndarray, limit: float | None, least: int = 0, most: int = 15) -> np.ndarray:
    """The fewest decimals (≥ ``least``) at which each value, rounded, lies on the same side of ``limit`` as the value.

    A distance is never rounded onto the limit it was judged against: 3,000.04 m judged against 3,000 m shows as
    3,000.04, not 3,000 (nor 3,000.0), and 2,999.96 m as 2,999.96; a value exactly at the limit keeps ``least``.
    Beyond ``most`` decimals a float has no more digits to show: the value is then shown as it is (``-1``).
    """
    v = np.asarray(values, dtype=float)
    out = np.full(v.shape, least, dtype=np.int8)
    if limit is None:
        return out
    todo = np.flatnonzero(np.isfinite(v))  # millions of trip rows have no distance: only the finite are looked at
    side = np.sign(v[todo] - limit)
    for d in range(least, most + 1):
        with np.errstate(over="ignore"):  # only a value next to a huge limit gets this far
            ok = np.sign(np.round(v[todo], d) - limit) == side
        out[todo[ok]] = d
        todo, side = todo[~ok], side[~ok]
        if not len(todo):
            return out
    out[todo] = -1
    return out


def round_off_limit(values: np.ndarray, limit: float | None, least: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``values`` rounded to ``least`` decimals, or to more where that would land on ``limit``
    (:func:`decimals_off_limit`); and the decimals of each."""
    v = np.asarray(values, dtype=float)
    decimals = decimals_off_limit(v, limit, least)
    out = np.round(v, least)
    more = np.flatnonzero(decimals != least)  # the few next to the limit (millions of trip rows have none)
    for d in np.unique(decimals[more]):
        sel = more[decimals[more] == d]
        out[sel] = np.round(v[sel], d) if d >= 0 else v[sel]
    return out, decimals


def metres_text(values: pd.Series, limit: float | None = None) -> pd.Series:
    """Distances as text with thousands separators, whole metres unless that would round onto ``limit``
    (then as many decimals as it takes, see :func:`decimals_off_limit`); ``—`` for NaN and infinity.

    Each distinct (value, decimals) is formatted once: distances repeat, and a Python call per row would not scale.
    """
    v = values.to_numpy(dtype=float, na_value=np.nan)
    rounded, decimals = round_off_limit(v, limit)
    out = np.full(len(v), "—", dtype=object)
    finite = np.isfinite(v)
    for d in np.unique(decimals[finite]):
        sel = finite & (decimals == d)
        codes, uniques = pd.factorize(rounded[sel])
        spec = f",.{d}f" if d >= 0 else ","
        out[sel] = np.asarray([format(x, spec) for x in uniques], dtype=object)[codes]
    return pd.Series(out, index=values.index, dtype="string")


def number_text(value: float) -> str:
    """A parameter in a message: ``3,000`` for a whole number, ``150.5`` otherwise (never rounded to a whole one)."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,}"


def _fmt(values: pd.Series) -> pd.Series:
    if pd.api.types.is_float_dtype(values):
        rounded = values.round(0)
        # Formatted once per distinct value (distances repeat, and a Python call per row would not scale).
        codes, uniques = pd.factorize(rounded)
        words = [("—" if pd.isna(x) or np.isinf(x) else f"{x:,.0f}") for x in uniques] + ["—"]
        return pd.Series(np.asarray(words, dtype=object)[codes], index=values.index, dtype="string")
    if isinstance(values.dtype, pd.StringDtype) and not values.hasnans:  # already text: no copy
        return values
    return values.astype("string").fillna("—")


def _fill(template: str, evidence: pd.DataFrame, config: dict[str, object]) -> pd.Series:
    """Column-wise ``str.format``: literal pieces and fields joined row-wise by one Arrow kernel."""
    pieces: list[object] = []
    for literal, name, spec, _ in string.Formatter().parse(template):
        if literal:
            pieces.append(literal)
        if name is None:
            continue
        if name in evidence.columns:
            pieces.append(text(_fmt(evidence[name])))
        elif name in config:
            value = config[name]
            pieces.append(number_text(value) if isinstance(value, float) else str(value))
        else:  # pragma: no cover - a template bug, caught by the registry test
            raise KeyError(f"message field {{{name}}} is neither an evidence column nor a parameter")
    if not len(evidence):
        return pd.Series([], index=evidence.index, dtype="string")
    if not any(isinstance(p, pa.Array) for p in pieces):
        return pd.Series("".join(map(str, pieces)), index=evidence.index, dtype="string")
    out = pc.binary_join_element_wise(*pieces, "")
    return pd.Series(pd.arrays.ArrowStringArray(out), index=evidence.index, dtype="string")


#: What a list field's items are joined with in a message: ``{risk_stops_text}`` of ``["YXN", "JJ-CT"]`` is
#: ``YXN, JJ-CT`` (an empty or missing list is empty text).
LIST_SEP = ", "


def messages_by_rule(rules: Sequence[Rule], which: np.ndarray, evidence: Mapping[str, pd.Series],
                     config: Mapping[str, object] | None = None) -> tuple[pa.Array, pa.Array]:
    """Row ``i``'s messages (zh, en) are those of ``rules[which[i]]`` filled with row ``i``'s ``evidence``, as
    :meth:`Rule.messages` fills them; each language's messages are written once, in row order, by one Arrow
    ``take``.

    Millions of messages are few distinct phrases: each run of literal text and fields up to a list field is one
    *token*, a phrase formatted once per distinct combination of its fields' words among the rows that use it; a
    list field is a token per item (the distinct items, bare for the first and after :data:`LIST_SEP` for the
    others). Row ``i``'s tokens are taken from that pool back to back, so the taken text is every message in order,
    and its offsets at each row's first token make the messages: no message text is built twice (no parts per rule
    concatenated and reordered).

    Parameters
    ----------
    rules
        The rules whose templates are filled.
    which
        The rule of each row (``0 <= which < len(rules)``).
    evidence
        The fields by name, aligned with ``which``: a categorical (its categories as text, missing ``—``: see
        :func:`field_words`), a list column (items joined with :data:`LIST_SEP`), or any column :meth:`Rule.messages`
        reads (each distinct value formatted once as it formats it). A row reads only the fields of its rule's
        templates.
    config
        Parameters a template names that are not evidence columns.

    Returns
    -------
    tuple of pyarrow.Array
        ``string`` (``large_string`` beyond 2 GiB of text) messages in zh and en, one per row, no nulls.
    """
    which = np.asarray(which)
    if len(which) and (which.min() < 0 or which.max() >= len(rules)):
        raise ValueError(f"rule numbers must lie in [0, {len(rules)}): got {which.min()}..{which.max()}")
    rows_of = [np.flatnonzero(which == k) for k in range(len(rules))]
    fields = _Fields(evidence)
    segments = [[_segments(t, fields, config or {}) for t in (r.message_zh, r.message_en)] for r in rules]
    zh_segs, en_segs = [s[0] for s in segments], [s[1] for s in segments]
    zh_layout = _Layout(zh_segs, rows_of, len(which), fields)
    # Where the two languages' templates have their list fields in the same places (the trips' do), the rows'
    # tokens lie alike: one layout, its runs' phrases filled in per language.
    shared = zh_layout.shape == _Layout.shape_of(en_segs)
    en_layout = zh_layout if shared else _Layout(en_segs, rows_of, len(which), fields)
    zh = _phrases(zh_segs, rows_of, fields, zh_layout, keep=shared)
    en = _phrases(en_segs, rows_of, fields, en_layout, keep=False)
    del fields, rows_of
    if len(which) < PARALLEL_ROWS:
        return _messages(*zh, zh_layout.bounds), _messages(*en, en_layout.bounds)
    # Each language's messages are one Arrow take, which releases the GIL (and nothing else: no pandas, so no
    # ``warnings.catch_warnings``, which is not thread-safe): the two are taken at once.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="messages") as pool:
        zh_taken = pool.submit(_messages, *zh, zh_layout.bounds)
        del zh
        en_taken = _messages(*en, en_layout.bounds)
        return zh_taken.result(), en_taken


#: Rows from which :func:`messages_by_rule` takes the two languages' messages on two threads.
PARALLEL_ROWS = 1 << 16


def field_words(values: pd.Series | pd.Categorical) -> tuple[np.ndarray, list[str]]:
    """A message field as each row's word number (-1 where missing: ``—``) and the words :meth:`Rule.messages`
    writes for it, each distinct value formatted once; a categorical's words are its categories as text."""
    values = pd.Series(values)
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy(), [str(w) for w in pd.Series(values.cat.categories).astype("string")]
    if pd.api.types.is_integer_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        missing = values.isna().to_numpy(dtype=bool)
        codes, uniques = factorize_ints(values.to_numpy(dtype=np.int64, na_value=0), missing)
        return codes, [str(u) for u in uniques.tolist()]
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes, _fmt(pd.Series(uniques)).tolist()


def factorize_ints(values: np.ndarray, missing: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize`` of integers (codes -1 where ``missing``), uniques in increasing order: by a table of the
    range when it is no longer than the values (counts, dates, seats), else by hashing."""
    v = np.asarray(values, dtype=np.int64)
    if missing is not None and not missing.any():
        missing = None
    keep = v if missing is None else v[~missing]
    if not len(keep):
        return np.full(len(v), -1, dtype=np.int64), np.zeros(0, dtype=np.int64)
    lo, hi = int(keep.min()), int(keep.max())
    if hi - lo < max(len(v), 1 << 16):
        at = v - lo
        if missing is not None:
            at[missing] = int(keep[0]) - lo  # any value seen: its code is overwritten below
        seen = np.zeros(hi - lo + 1, dtype=bool)
        seen[at] = True
        number = np.cumsum(seen, dtype=np.int64) - 1
        codes = number.astype(np.int32 if len(number) < 2**31 else np.int64)[at]
        uniques = np.flatnonzero(seen) + lo
    else:
        codes, uniques = pd.factorize(v, sort=True)
    if missing is not None:
        codes[missing] = -1
    return codes, uniques


class _Fields:
    """The evidence of :func:`messages_by_rule`, each field coded once for both languages."""

    def __init__(self, evidence: Mapping[str, pd.Series]) -> None:
        self.evidence = evidence
        self.coded: dict[str, tuple[np.ndarray, pa.Array]] = {}
        self.lists: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, pa.Array]] = {}

    def is_list(self, name: str) -> bool:
        values = self.evidence[name]
        if isinstance(values.dtype, pd.ArrowDtype):
            return pa.types.is_list(values.dtype.pyarrow_dtype) or pa.types.is_large_list(values.dtype.pyarrow_dtype)
        return values.dtype == object and any(isinstance(v, (list, tuple, np.ndarray)) for v in values)

    def words(self, name: str, rows: np.ndarray) -> tuple[np.ndarray, pa.Array]:
        """The word number of each of ``rows`` and the words; the last word, ``—``, is a missing value's."""
        if name not in self.coded:
            codes, words = field_words(self.evidence[name])
            small = next(t for t in (np.int8, np.int16, np.int32, np.int64) if len(words) < np.iinfo(t).max)
            self.coded[name] = codes.astype(small, copy=False), pa.array([*words, "—"], pa.string())
        codes, words = self.coded[name]
        picked = codes[rows]
        picked[picked < 0] = len(words) - 1
        return picked, words

    def items(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, pa.Array]:
        """A list field: where each row's items start, how many there are (none for a missing list, or one holding
        a missing item: its text is empty, as :func:`transportmon.rules.trips.joined` makes it), each item's
        number among the distinct items, the items' offsets in bytes, and the distinct items (millions of stop ids
        are a few thousand stops)."""
        if name not in self.lists:
            values = self.evidence[name]
            if isinstance(values.dtype, pd.ArrowDtype):
                lists = arrow(values)
            else:
                lists = pa.array([list(v) if isinstance(v, (list, tuple, np.ndarray)) else None for v in values],
                                 pa.list_(pa.string()))
            if lists.type != pa.list_(pa.string()):
                lists = lists.cast(pa.list_(pa.string()))
            offsets = lists.offsets.to_numpy().astype(np.int64)
            lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False).astype(np.int64)
            items = lists.values
            if items.null_count:
                missing = np.flatnonzero(items.is_null().to_numpy(zero_copy_only=False))
                lengths[np.searchsorted(offsets, missing, side="right") - 1] = 0
            encoded = pc.dictionary_encode(items)
            codes = pc.fill_null(encoded.indices, 0).to_numpy(zero_copy_only=False)
            self.lists[name] = offsets[:-1], lengths, codes, _offsets(items), encoded.dictionary
        return self.lists[name]


class _Layout:
    """Where each row's tokens go, for templates as :func:`_segments` splits them (``segments[k]`` are the rows
    ``rows_of[k]``'s): the rows' first tokens (``bounds``), the list items' tokens written (``tokens``, numbered
    in a pool that begins with each list field's distinct items, bare then after the separator), and the places
    of the runs' tokens, each rule's rows at a time (``runs``: rule, segment, positions)."""

    def __init__(self, segments: list[list[tuple[str, object]]], rows_of: list[np.ndarray], n: int,
                 fields: _Fields) -> None:
        self.shape = self.shape_of(segments)
        counts = np.zeros(n, dtype=np.int64)
        for segs, rows in zip(segments, rows_of):
            counts[rows] = sum(kind == "run" for kind, _ in segs)
            for kind, name in segs:
                if kind == "list":
                    counts[rows] += fields.items(name)[1][rows]
        self.bounds = np.r_[0, np.cumsum(counts)]
        del counts
        self.lists = list(dict.fromkeys(name for segs in segments for kind, name in segs if kind == "list"))
        self.item_base = dict(zip(self.lists, np.cumsum([0] + [2 * len(fields.items(name)[4])
                                                               for name in self.lists]).tolist()))
        self.tokens = np.empty(int(self.bounds[-1]), dtype=np.int32)
        self.runs: list[tuple[int, int, np.ndarray]] = []
        self.nbytes = 0  # of the list items' text
        for k, (segs, rows) in enumerate(zip(segments, rows_of)):
            if not len(rows):
                continue
            pos = self.bounds[rows]
            for s, (kind, value) in enumerate(segs):
                if kind == "run":
                    self.runs.append((k, s, pos.copy()))
                    pos += 1
                    continue
                starts, lengths, item_codes, item_at, distinct = fields.items(value)
                first, count = starts[rows], lengths[rows]
                # Item j of every row that has one: one pass per item number, each over the rows still long enough
                # (lists are short; a long one costs passes over itself only).
                at = np.flatnonzero(count)
                j = 0
                while len(at):
                    self.tokens[pos[at] + j] = self.item_base[value] + item_codes[first[at] + j] + (
                        len(distinct) if j else 0)
                    j += 1
                    at = at[count[at] > j]
                self.nbytes += int((item_at[first + count] - item_at[first]).sum(dtype=np.int64))
                self.nbytes += len(LIST_SEP.encode()) * int(np.maximum(count - 1, 0).sum())
                pos += count

    @staticmethod
    def shape_of(segments: list[list[tuple[str, object]]]) -> list[list[tuple[str, object]]]:
        """The kinds of each template's segments and the names of its list fields: what the layout depends on."""
        return [[(kind, value if kind == "list" else None) for kind, value in segs] for segs in segments]


def _phrases(segments: list[list[tuple[str, object]]], rows_of: list[np.ndarray], fields: _Fields,
             layout: _Layout, *, keep: bool) -> tuple[pa.Array, np.ndarray, int]:
    """One language of :func:`messages_by_rule` up to its take: the words (the runs' phrases after the list items)
    and the layout's tokens numbering them (a copy of them when the layout is ``keep`` for another language), and
    the messages' length in bytes."""
    pool: list[pa.Array] = []
    for name in layout.lists:
        distinct = fields.items(name)[4]
        pool += [distinct, pc.binary_join_element_wise(LIST_SEP, distinct, "")]
    size = sum(len(p) for p in pool)
    tokens = layout.tokens.copy() if keep else layout.tokens
    nbytes = layout.nbytes  # of all the messages: beyond 2 GiB they need 64-bit offsets
    for k, s, pos in layout.runs:
        code, phrases = _run_phrases(segments[k][s][1], rows_of[k], fields)
        tokens[pos] = size + code
        nbytes += int(np.diff(_offsets(phrases))[code].sum(dtype=np.int64))
        pool.append(phrases)
        size += len(phrases)
    words = pa.concat_arrays([p.cast(pa.string()) for p in pool]) if pool else pa.array([], pa.string())
    del pool
    if nbytes >= 2**31:
        words = words.cast(pa.large_string())
    return words, tokens, nbytes


def _messages(words: pa.Array, tokens: np.ndarray, nbytes: int, bounds: np.ndarray) -> pa.Array:
    """The one take of :func:`_phrases`' words by its tokens, cut into the rows' messages at ``bounds`` (each row's
    first token). Arrow and numpy only."""
    taken = _take_text(words, tokens, nbytes)
    del tokens
    offsets = _offsets(taken)[bounds]  # each row's first token starts its message
    data = taken.buffers()[2] or pa.py_buffer(b"")
    return pa.Array.from_buffers(taken.type, len(bounds) - 1, [None, pa.py_buffer(offsets), data])


def _take_text(words: pa.Array, tokens: np.ndarray, nbytes: int) -> pa.Array:
    """``words.take(tokens)``, whose text is ``nbytes`` long, written into one buffer of its size.

    Arrow sizes a taken text buffer as the words' mean length times the number taken, and doubles it (a copy) when
    that falls short: a few long phrases among thousands of short stop ids would fall short by far. One unused
    word of the missing length makes the estimate enough (the buffer is trimmed to the text when done; pages
    never written cost nothing), unless that word would be longer than the text itself.
    """
    have = int(_offsets(words)[-1] - _offsets(words)[0])
    if len(tokens) and have * len(tokens) < nbytes * len(words):
        pad = -(-nbytes * (len(words) + 1) // len(tokens)) - have + len(words) + 1
        if pad <= nbytes:
            words = pa.concat_arrays([words, pa.array([" " * pad], words.type)])
    return words.take(pa.array(tokens))


def _offsets(arr: pa.Array) -> np.ndarray:
    """The offsets of a ``string`` or ``large_string`` array (a view of its buffer)."""
    width = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    return np.frombuffer(arr.buffers()[1], dtype=width)[arr.offset:arr.offset + len(arr) + 1]


def _segments(template: str, fields: _Fields, config: Mapping[str, object]) -> list[tuple[str, object]]:
    """A template as runs and list fields: ``("run", (literal, field, literal, …, literal))`` and ``("list", name)``;
    parameters become literal text, as :meth:`Rule.messages` writes them."""
    out: list[tuple[str, object]] = []
    run: list[str] = [""]
    for literal, name, _, _ in string.Formatter().parse(template):
        run[-1] += literal
        if name is None:
            continue
        if name in fields.evidence and fields.is_list(name):
            if run != [""]:
                out.append(("run", tuple(run)))
            out.append(("list", name))
            run = [""]
        elif name in fields.evidence:
            run += [name, ""]
        elif name in config:
            value = config[name]
            run[-1] += number_text(value) if isinstance(value, float) else str(value)
        else:  # pragma: no cover - a template bug, caught by the registry test
            raise KeyError(f"message field {{{name}}} is neither an evidence column nor a parameter")
    if run != [""]:
        out.append(("run", tuple(run)))
    return out


def _run_phrases(run: tuple[str, ...], rows: np.ndarray, fields: _Fields) -> tuple[np.ndarray, pa.Array]:
    """The phrase number of each of ``rows`` and the phrases of a run ``(literal, field, literal, …)``: one per
    distinct combination of its fields' words among ``rows``, formatted column-wise."""
    literals, names = run[::2], run[1::2]
    if not names:
        return np.zeros(len(rows), dtype=np.int64), pa.array(["".join(literals)], pa.string())
    combo = np.zeros(len(rows), dtype=np.int64)
    span = 1
    for name in names:
        codes, words = fields.words(name, rows)
        k = len(words)
        if span * k >= 2**62:  # mixed-radix numbers would overflow: renumber the combinations seen so far
            combo = pd.factorize(combo)[0]
            span = int(combo.max()) + 1
        combo = combo * k + codes
        span *= k
    del codes
    if span <= max(4 * len(rows), 1 << 16):
        seen = np.zeros(span, dtype=bool)
        seen[combo] = True
        number = np.cumsum(seen) - 1
        code = number[combo]
    else:
        code = pd.factorize(combo)[0]
    one = np.empty(int(code.max()) + 1, dtype=np.int64)
    one[code] = rows  # a row of each combination: any one, they format alike
    pieces: list[object] = []
    for literal, name in zip(literals, (*names, None)):
        if literal:
            pieces.append(literal)
        if name is not None:
            codes, words = fields.words(name, one)
            pieces.append(words.take(pa.array(codes)))
    return code, pc.binary_join_element_wise(*pieces, "")


def rule_docs() -> list[dict[str, str]]:
    """Every rule as plain data (for ``transportmon rules`` and the README table)."""
    return [
        {"id": r.id, "name": r.name, "subject": r.subject, "severity": r.severity_text(), "clause": r.clause,
         "summary": r.summary, "parameters": ", ".join(r.parameters),
         "needs": "; ".join(", ".join(n.layers) for n in r.needs), "reasons": ", ".join(r.reasons),
         "doc": inspect.cleandoc(r.doc)}
        for r in sorted(RULES.values(), key=lambda r: r.id)
    ]


FINDING_COLUMNS = ["subject", "subject_id", "source_row", "rule_id", "severity", "message_zh", "message_en"]


def findings_for(rule_: Rule, evidence: pd.DataFrame, mask: pd.Series | np.ndarray, subject: str,
                 id_col: str, config: dict[str, object] | None = None,
                 verdict: pd.Series | np.ndarray | None = None) -> pd.DataFrame:
    """The findings of one rule for the rows of ``evidence`` where ``mask`` holds; ``verdict`` (aligned with
    ``evidence``) gives their severity where the rule's depends on it (:meth:`Rule.severities`)."""
    used = {name for template in (rule_.message_zh, rule_.message_en)
            for _, name, _, _ in string.Formatter().parse(template) if name}
    keep = [c for c in evidence.columns if c in used or c in (id_col, "row")]
    hit = evidence[keep][np.asarray(mask, dtype=bool)]  # only the columns the messages need
    zh, en = rule_.messages(hit, config)
    sev = rule_.severities(None if verdict is None else np.asarray(verdict, dtype=object)[np.asarray(mask, dtype=bool)])
    return pd.DataFrame({
        "subject": subject, "subject_id": hit[id_col].astype(str).array,
        "source_row": hit["row"].to_numpy() if "row" in hit.columns else -1, "rule_id": rule_.id,
        "severity": sev, "message_zh": zh.astype("str").array, "message_en": en.astype("str").array,
    })
