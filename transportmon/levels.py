"""Which designation is in effect: the most specific one containing a point on a date, for millions of queries.

:func:`resolve_levels` answers "which level applies to this point on this date" with the rule of DESIGN §3: among
the designations in effect on the date that contain the point, the most specific unit wins (county over city over
province; a polygon area over all), then the latest ``valid_from``, then the later input row. :class:`LevelLookup`
is the same answer prepared once for many calls (the trip audit's parts). The designations come from
:func:`transportmon.designations.normalize_designations`.

Everything here is pure: no files, no clock, no printing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from .dates import parse_days
from .designations import LEVEL_DTYPE, LEVELS, no_days, parse_level, per_distinct, unit_rank

__all__ = ["LevelLookup", "resolve_levels"]

_DATE_UNIT: Final = "datetime64[s]"
#: Cells of each int32 table (unit × day, key × day) that :func:`resolve_levels` builds per block of days.
_TABLE_CELLS: Final = 1 << 24


def resolve_levels(intervals: pd.DataFrame, point_units: pd.DataFrame, queries: pd.DataFrame,
                   columns: tuple[str, ...] = ("level", "unit", "valid_from")) -> pd.DataFrame:
    """The designation in effect for each (key, date) query: the most specific one containing the point.

    Parameters
    ----------
    intervals
        Designations as returned by :func:`normalize_designations`: ``unit``, ``level``, ``valid_from``,
        optional ``valid_to`` and ``row``.
    point_units
        ``key`` (e.g. a stop id) and ``unit``: one row per unit containing the point — its county, city and
        province adcodes and any ``area:*`` polygon it lies in.
    queries
        ``key`` and ``date`` (datetime64; a time of day is ignored). May have tens of millions of rows; a
        categorical ``key`` is several times faster than strings to factorize.
    columns
        The result columns wanted (a subset of the three below): each costs a column as long as ``queries``.

    Returns
    -------
    pandas.DataFrame
        Aligned with ``queries`` (same index, same order): ``level`` (NA when no designation is in effect or
        the key has no units), ``unit`` (the designation that decided) and its ``valid_from``. ``level`` and
        ``unit`` are categoricals whose values are str or NA — ``level`` ordered low < medium < high
        (:data:`LEVEL_DTYPE`) — since materialising 1e7 strings would cost more than the whole lookup;
        ``.astype("str")`` gives plain strings.

    Notes
    -----
    A designation is in effect on ``d`` when ``valid_from <= d <= valid_to`` (``NaT`` = open). Among those in
    effect that contain the point, the highest :func:`unit_rank` wins, then the latest ``valid_from``, then
    the later input ``row`` (then the later position in ``intervals``). A county lifted to ``low`` inside a
    ``medium`` province is low; once the county's own designation ends, the province's applies again.

    The work is on distinct keys × distinct dates, never per query row: the designations give a unit × day
    table of the winning designation (days = the distinct query dates), a key's units reduce it to a key ×
    day table, and every query row picks its cell with one gather. Memory is bounded by taking the days in
    blocks when the tables would be large.
    """
    for frame, name, needed in (
        (intervals, "intervals", ("unit", "level", "valid_from")),
        (point_units, "point_units", ("key", "unit")),
        (queries, "queries", ("key", "date")),
    ):
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} lacks column(s) {missing}; it needs {list(needed)}")

    # 1. Query rows as codes into their distinct keys and distinct days.
    if isinstance(queries["key"].dtype, pd.CategoricalDtype):  # its codes are the factorization (no hashing)
        key_code, key_values = queries["key"].cat.codes.to_numpy(), queries["key"].cat.categories
    else:
        key_code, key_values = pd.factorize(queries["key"], use_na_sentinel=True)
    # 2. The designations in precedence order and the keys' units; 3. each query row's winner.
    lookup = LevelLookup(intervals, point_units, key_values)
    day_code, days = _factorize_days(queries["date"])
    winner = lookup.winners(key_code, day_code, days)

    # 4. Winner (a precedence position, -1 = none) → columns; -1 reads the NA sentinels appended last.
    des = lookup.des
    out: dict[str, object] = {}
    if "level" in columns:
        out["level"] = pd.Categorical.from_codes(lookup.level_codes(winner), dtype=LEVEL_DTYPE)
    if "unit" in columns:
        unit_dtype = pd.CategoricalDtype(pd.Index(des.unit_values.astype(str), dtype="str"))
        out["unit"] = pd.Categorical.from_codes(des.unit_code.take(winner), dtype=unit_dtype)
    if "valid_from" in columns:
        out["valid_from"] = pd.Series(des.valid_from.take(winner), index=queries.index, copy=False)
    return pd.DataFrame(out, index=queries.index)


class LevelLookup:
    """:func:`resolve_levels` in two steps: what depends on the designations and the ``keys`` (the distinct keys the
    query rows' codes point into) only, done once; then the winners of any number of query rows given as codes
    (:meth:`winners`: numpy only, and nothing is changed, so several threads may ask at once, as the trip audit's
    parts do). ``intervals``, ``point_units``: as :func:`resolve_levels`."""

    def __init__(self, intervals: pd.DataFrame, point_units: pd.DataFrame, keys: pd.Index | np.ndarray) -> None:
        # The designations in one total order of precedence: rank, valid_from, input row, position.
        self.des = des = _ordered_designations(intervals)
        # (key, unit) pairs of queried keys and designated units; ``slot`` numbers each key's units 0, 1, ….
        self.n_keys, self.n_units = len(keys), len(des.unit_values)
        n_units = self.n_units
        pair_key = pd.Index(keys).get_indexer(point_units["key"])
        pair_unit = pd.Index(des.unit_values).get_indexer(point_units["unit"].astype("str"))
        keep = (pair_key >= 0) & (pair_unit >= 0)
        pairs = np.unique(pair_key[keep].astype(np.int64) * max(n_units, 1) + pair_unit[keep])
        self.pair_key, self.pair_unit = pairs // max(n_units, 1), pairs % max(n_units, 1)
        first = np.r_[True, self.pair_key[1:] != self.pair_key[:-1]] if len(pairs) else np.zeros(0, dtype=bool)
        slot = np.arange(len(pairs)) - np.maximum.accumulate(np.where(first, np.arange(len(pairs)), 0))
        self.by_slot = np.argsort(slot, kind="stable")
        self.slot_bounds = np.searchsorted(slot[self.by_slot], np.arange(int(slot.max(initial=-1)) + 2))

    def winners(self, key_code: np.ndarray, day_code: np.ndarray, days: np.ndarray,
                table: np.ndarray | None = None) -> np.ndarray:
        """Precedence position of the designation in effect for each query row (-1: none), from its key's code
        (-1: none) and its day's code (-1: none) into ``days`` (distinct int64 days since the epoch, any order);
        ``table``: :meth:`table` of these ``days``, when the caller made it once for several calls.

        Per block of days: unit × day winners, key × day winners, then each query row picks its cell. The key × day
        table has an extra last row and last column of -1, so that a key or day code of -1 (missing) lands on -1
        through plain negative indexing of the flattened table."""
        n_rows, n_days = len(key_code), len(days)
        winner = np.full(n_rows, -1, dtype=np.int32)
        if not (n_days and len(self.pair_key)):
            return winner
        if table is not None or self.block >= n_days:
            order, bounds = None, [(0, n_days, 0, n_rows)]
        else:  # huge tables: sort the rows by day once, then one contiguous slice per block of days
            order = np.argsort(day_code, kind="stable")
            block_starts = np.arange(0, n_days, self.block)
            cuts = np.r_[np.searchsorted(day_code[order], block_starts), n_rows]
            ends = np.minimum(block_starts + self.block, n_days)
            bounds = list(zip(block_starts, ends, cuts[:-1], cuts[1:]))
        for d0, d1, q0, q1 in bounds:
            width = d1 - d0
            key_day = self._key_day(days[d0:d1]) if table is None else table
            rows = slice(q0, q1) if order is None else order[q0:q1]
            wide = np.int64 if (self.n_keys + 1) * (width + 1) >= 2**31 else np.int32
            cell = key_code[rows].astype(wide) * (width + 1) + (day_code[rows] - d0).astype(wide)
            winner[rows] = key_day.ravel()[cell]  # not ``take``: with int32 positions it holds the GIL, 4x slower
        return winner

    def table(self, days: np.ndarray) -> np.ndarray | None:
        """The key × day winners of ``days`` for :meth:`winners`, or None when it would be too large (then
        :meth:`winners` takes the days in blocks)."""
        return self._key_day(days) if self.block >= len(days) else None

    @property
    def block(self) -> int:
        """How many days a key × day table may have (each int32 table at most :data:`_TABLE_CELLS` cells)."""
        return max(1, _TABLE_CELLS // max(self.n_keys + 1, self.n_units, len(self.des), 1))

    def _key_day(self, days: np.ndarray) -> np.ndarray:
        """``table[k, j]``: the winner for key ``k`` on ``days[j]``; an extra last row and column of -1."""
        width = len(days)
        unit_day = _unit_day_table(self.des, self.n_units, days)
        key_day = np.full((self.n_keys + 1, width + 1), -1, dtype=np.int32)
        for j in range(len(self.slot_bounds) - 1):  # one pass per slot: a key appears once in each
            sel = self.by_slot[self.slot_bounds[j] : self.slot_bounds[j + 1]]
            k = self.pair_key[sel]
            if j:
                key_day[k, :width] = np.maximum(key_day[k, :width], unit_day[self.pair_unit[sel]])
            else:  # the first of each key's units: nothing to compare with yet
                key_day[k, :width] = unit_day[self.pair_unit[sel]]
        return key_day

    def level_codes(self, winner: np.ndarray) -> np.ndarray:
        """The codes in :data:`LEVEL_DTYPE` (-1: NA) of the winners' levels."""
        return self.des.level_code.astype(np.int8)[winner]


@dataclass(frozen=True)
class _Designations:
    """Usable designations sorted by precedence (position 0 = weakest).

    The per-position lookups (``*_code``, ``valid_from``) carry one extra NA entry at the end, so that the
    winner position -1 ("none in effect") reads NA through plain negative indexing.
    """

    start: np.ndarray  # datetime64[D]
    end: np.ndarray  # datetime64[D], NaT = open
    unit_values: np.ndarray  # distinct units (object), indexed by unit_code
    unit_code: np.ndarray  # int32, + sentinel -1
    level_code: np.ndarray  # int32 into LEVELS, + sentinel -1
    valid_from: np.ndarray  # datetime64 as given, + sentinel NaT

    def __len__(self) -> int:
        return len(self.start)


def _ordered_designations(intervals: pd.DataFrame) -> _Designations:
    n = len(intervals)
    unit = intervals["unit"].astype("str")
    start, _ = parse_days(intervals["valid_from"])
    end, _ = parse_days(intervals["valid_to"]) if "valid_to" in intervals.columns else no_days(n)
    level = per_distinct(intervals["level"].to_numpy(dtype=object, na_value=None), parse_level)
    if (level == "").any():
        bad = intervals["level"][level == ""].head(3).tolist()
        raise ValueError(f"intervals hold levels other than {LEVELS}: {bad}; normalize_designations first")
    row = intervals["row"].to_numpy(dtype=np.int64) if "row" in intervals.columns else np.arange(n)
    usable = ~np.isnat(start) & unit.notna().to_numpy()
    rank = np.zeros(n, dtype=np.int8)
    rank[usable] = unit_rank(unit[usable])
    start_int = np.where(usable, start.astype(np.int64), 0)
    order = np.lexsort((np.arange(n), row, start_int, rank))  # the last key sorts first
    order = order[usable[order]]

    unit_code, unit_values = pd.factorize(unit.to_numpy(dtype=object)[order])
    level_code = pd.Index(LEVELS).get_indexer(level[order])
    valid_from = intervals["valid_from"].to_numpy()[order]
    if not np.issubdtype(valid_from.dtype, np.datetime64):
        valid_from = start[order].astype(_DATE_UNIT)
    return _Designations(
        start=start[order],
        end=end[order],
        unit_values=np.asarray(unit_values, dtype=object),
        unit_code=np.append(unit_code, -1).astype(np.int32),
        level_code=np.append(level_code, -1).astype(np.int32),
        valid_from=np.append(valid_from, np.array(["NaT"], dtype=valid_from.dtype)),
    )


def _factorize_days(dates: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Code of each row's day (-1 for NaT) and the distinct days (int64 days since the epoch)."""
    if isinstance(dates.dtype, pd.DatetimeTZDtype):
        dates = dates.dt.tz_localize(None)
    if isinstance(dates.dtype, pd.CategoricalDtype):  # codes given (e.g. each trip's date spread over its stops)
        codes = dates.cat.codes.to_numpy()
        unique_days, _ = parse_days(pd.Series(dates.cat.categories))
    elif pd.api.types.is_datetime64_dtype(dates.dtype):
        raw = dates.to_numpy()
        codes, uniques = pd.factorize(raw.view(np.int64), use_na_sentinel=True)
        unique_days = uniques.view(raw.dtype).astype("datetime64[D]")  # NaT's int64 is just a value here
    else:  # parse the few distinct values, not the rows
        codes, uniques = pd.factorize(dates.to_numpy(dtype=object), use_na_sentinel=True)
        unique_days, _ = parse_days(pd.Series(np.asarray(uniques, dtype=object), dtype=object))
    # Several instants of one day collapse to one code; NaT gets none.
    is_day = ~np.isnat(unique_days)
    day_codes, days = pd.factorize(unique_days[is_day].astype(np.int64))
    remap = np.full(len(unique_days) + 1, -1, dtype=np.int32)  # the last entry serves code -1
    remap[:-1][is_day] = day_codes
    return remap.take(codes), np.asarray(days, dtype=np.int64)


def _unit_day_table(des: _Designations, n_units: int, days: np.ndarray) -> np.ndarray:
    """``table[u, j]``: precedence position of the strongest designation of unit ``u`` in effect on
    ``days[j]`` (int64 days, in any order), or -1 when none is."""
    table = np.full((n_units, len(days)), -1, dtype=np.int32)
    if not len(days) or not len(des):
        return table
    sort = np.argsort(days)
    sorted_days = days[sort]
    start = des.start.astype(np.int64)
    end = np.where(np.isnat(des.end), np.iinfo(np.int64).max, des.end.astype(np.int64))
    lo = np.searchsorted(sorted_days, start, side="left")
    hi = np.searchsorted(sorted_days, end, side="right")
    count = np.maximum(hi - lo, 0)
    total = int(count.sum())
    if total == 0:
        return table
    which = np.repeat(np.arange(len(des)), count)  # designation of each (designation, covered day) pair
    offset = np.arange(total) - np.repeat(np.cumsum(count) - count, count)
    columns = sort[lo[which] + offset]
    np.maximum.at(table, (des.unit_code[which], columns), which.astype(np.int32))  # position = precedence
    return table
