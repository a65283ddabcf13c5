"""Dated risk designations: intervals, snapshots, and the most specific designation in effect.

The ``risk_areas`` layer (DESIGN §2) comes in two forms:

*interval form*
    ``adcode`` (or a geometry), ``level``, ``valid_from``, optional ``valid_to`` (inclusive; empty = open)
    and ``source``.
*snapshot form*
    the way bulletins publish: ``as_of`` instead of ``valid_from``/``valid_to``, ``adcodes`` (or
    ``adcode``) possibly listing several codes separated by ``;``, ``level``, and optional ``province``,
    ``derivation``, ``source_url``, ``quality``. A row holds from its ``as_of`` until the next later snapshot
    that names the same adcode again, and ends the day before it. A partial snapshot (``derivation =
    partial_change_only``) names only the changed areas, so the unnamed areas keep their designation.

:func:`normalize_designations` turns either form into one interval per (input row, unit) and a table of
rejected rows with a reason. :func:`resolve_levels` answers "which level applies to this point on this date"
for millions of (key, date) queries at once, with the rule of DESIGN §3: among the designations in effect on
the date that contain the point, the most specific unit wins (county over city over province; a polygon area
over all), then the latest ``valid_from``, then the later input row.

Everything here is pure: no files, no clock, no printing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._errors import TransportmonError
from .dates import parse_days
from .vocab import ADMIN_RANK, RISK_LEVEL_ZH, RISK_LEVELS

__all__ = [
    "LEVELS",
    "LEVEL_DTYPE",
    "DesignationFormError",
    "LevelLookup",
    "normalize_designations",
    "resolve_levels",
    "unit_rank",
    "written_adcodes",
]

#: The risk levels, least severe first. Input may also say 高/中/低, 高风险, High, MEDIUM, "high risk" ….
LEVELS: Final = RISK_LEVELS

#: dtype of the ``level`` column of :func:`resolve_levels`: ordered, so ``max`` and ``>= "medium"`` work.
LEVEL_DTYPE: Final = pd.CategoricalDtype(list(LEVELS), ordered=True)

#: The machine reasons in the ``reason`` column of the rejected rows.
RejectReason = Literal["malformed-date", "unknown-level", "missing-adcode", "malformed-adcode"]

#: Columns of the two accepted forms, as named in error messages.
INTERVAL_COLUMNS: Final = ("adcode", "level", "valid_from", "valid_to", "source")
SNAPSHOT_COLUMNS: Final = ("as_of", "adcodes", "level", "province", "derivation", "source_url", "quality")

_DATE_UNIT: Final = "datetime64[s]"

_EN_LEVEL = re.compile(r"(?P<level>high|medium|low)(?:[\s_-]*risk)?")
_ZH_LEVEL = re.compile(r"(?P<level>[高中低])(?:风险)?(?:地区|区域|区|等级)?")
_ZH_LEVELS: Final = {zh: level for level, zh in RISK_LEVEL_ZH.items()}
_ADCODE = re.compile(r"\d{6}")
_ADCODE_SEPARATORS = re.compile(r"[;；]")

#: Cells of each int32 table (unit × day, key × day) that :func:`resolve_levels` builds per block of days.
_TABLE_CELLS: Final = 1 << 24


class DesignationFormError(TransportmonError, ValueError):
    """A ``risk_areas`` frame whose columns fit neither the interval nor the snapshot form."""


# ------------------------------------------------------------------------------------------------------------
# normalize_designations
# ------------------------------------------------------------------------------------------------------------


def normalize_designations(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Turn a ``risk_areas`` frame (interval or snapshot form) into dated intervals and rejected rows.

    Parameters
    ----------
    df
        The layer as read. ``as_of`` makes it the snapshot form, ``valid_from`` the interval form. A geometry
        column (the active geometry of a GeoDataFrame, or a column named ``geometry``) is passed through
        untouched.

    Returns
    -------
    intervals
        One row per (input row, adcode): ``row`` (0-based position of the input row), ``unit`` (6-digit
        adcode, or ``area:<row>`` for a row with a geometry and no adcode: its own polygon), ``level`` (one of
        :data:`LEVELS`), ``valid_from``, ``valid_to`` (inclusive, ``NaT`` = open; both ``datetime64[s]`` at
        midnight), ``source`` (``source``, else ``source_url``; NA when neither) and the geometry column if
        there is one. A GeoDataFrame in gives a GeoDataFrame out, with the same CRS.
    rejected
        One row per unusable input row: ``row``, ``reason``, ``subject_id`` (the adcode as written, else
        ``"row <n>"``) and ``detail`` (what was wrong, where the reason alone does not say; else empty).
        Reasons, in order of precedence: ``missing-adcode`` (no adcode and no geometry), ``malformed-adcode``
        (an adcode written that is not 6 digits, or one piece of a ``;`` list that is not: the detail names
        it; a geometry does not make up for it, since a written adcode decides the unit), ``malformed-date``
        (``valid_from``/``as_of`` missing or not a date, ``valid_to`` not a date, ``valid_to`` before
        ``valid_from``), ``unknown-level``. A rejected row gives no designation. In the snapshot form a
        rejected row whose ``as_of`` is legible still ends the designations before it of the 6-digit codes it
        names (the bulletin of that day named them again, so what an earlier one said no longer holds:
        extending it would assert a level the source has replaced); one with an illegible ``as_of`` ends
        nothing, as its date is unknown.

    Raises
    ------
    DesignationFormError
        When the columns fit neither form: no ``as_of`` nor ``valid_from``, both, no ``level``, or neither an
        adcode nor a geometry column.

    Notes
    -----
    Dates may be ISO (``2020-03-16``), ``2020/3/16``, ``2020.03.16``, ``2020年3月16日``, or date/datetime
    values; a time of day is dropped. Snapshot ``valid_to`` is derived: the day before the next later
    ``as_of`` that names the same unit. Polygon areas (``area:<row>``) are never named again, so in the
    snapshot form they stay open.

    Examples
    --------
    >>> snapshots = pd.DataFrame({"as_of": ["2020-02-20", "2020-03-13"],
    ...                           "adcodes": ["360403", "360403;360402"], "level": ["中", "低"]})
    >>> intervals, rejected = normalize_designations(snapshots)
    >>> intervals[["unit", "level", "valid_from", "valid_to"]]
         unit   level valid_from   valid_to
    0  360403  medium 2020-02-20 2020-03-12
    1  360403     low 2020-03-13        NaT
    2  360402     low 2020-03-13        NaT
    """
    form = _detect_form(df)
    n = len(df)
    geometry_column = _geometry_column(df)
    has_geometry = np.zeros(n, dtype=bool)
    if geometry_column is not None:
        geometries = np.asarray(df[geometry_column], dtype=object)
        has_geometry = shapely.is_geometry(geometries) & ~shapely.is_empty(geometries)

    codes, code_text, bad_code = _parse_adcodes(_coalesce(df, ("adcodes", "adcode")))
    levels = _per_distinct(df["level"].to_numpy(dtype=object, na_value=None), _parse_level)
    if form == "snapshot":
        start, _ = parse_days(df["as_of"])
        end = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
        bad_date = np.isnat(start)
    else:
        start, _ = parse_days(df["valid_from"])
        end, end_blank = parse_days(df["valid_to"]) if "valid_to" in df.columns else _no_days(n)
        both = ~np.isnat(start) & ~np.isnat(end)
        reversed_ = np.zeros(n, dtype=bool)
        reversed_[both] = end[both] < start[both]
        bad_date = np.isnat(start) | (np.isnat(end) & ~end_blank) | reversed_

    n_codes = np.fromiter(map(len, codes), dtype=np.int64, count=n)
    reason = np.full(n, "", dtype=object)
    detail = np.full(n, "", dtype=object)
    reason[levels == ""] = "unknown-level"
    reason[bad_date] = "malformed-date"
    malformed = bad_code != ""
    reason[malformed] = "malformed-adcode"
    detail[malformed] = np.char.add(np.char.add("adcode ", bad_code[malformed].astype(str)),
                                    " is not 6 digits").astype(object)
    reason[(code_text == "") & ~has_geometry] = "missing-adcode"
    detail[reason == "missing-adcode"] = ""
    is_rejected = reason != ""
    rows = np.arange(n, dtype=np.int64)
    subject = np.where(code_text != "", code_text, np.char.add("row ", rows.astype(str)).astype(object))
    rejected = pd.DataFrame(
        {
            "row": rows[is_rejected],
            "reason": pd.array(reason[is_rejected].astype(str), dtype="str"),
            "subject_id": pd.array(subject[is_rejected].astype(str), dtype="str"),
            "detail": pd.array(detail[is_rejected].astype(str), dtype="str"),
        }
    )

    # One interval per (accepted row, unit); a geometry row without adcode is its own unit. In the snapshot form
    # the rejected rows that name codes on a legible date take part in ending the earlier snapshots, then go.
    naming = ~is_rejected
    if form == "snapshot":
        naming |= ~np.isnat(start) & (n_codes > 0)
    named = rows[naming]
    exploded = pd.Series(codes[named], index=named, dtype=object).explode()
    out_rows = exploded.index.to_numpy(dtype=np.int64)
    out_units = exploded.to_numpy(dtype=object, na_value=None, copy=True)
    own_area = pd.isna(out_units)
    out_units[own_area] = np.char.add("area:", out_rows[own_area].astype(str))
    valid_from = start[out_rows]
    valid_to = end[out_rows] if form == "interval" else _snapshot_ends(out_units, valid_from)
    used = ~is_rejected[out_rows]
    out_rows, out_units, valid_from, valid_to = out_rows[used], out_units[used], valid_from[used], valid_to[used]

    source = _per_distinct(_coalesce(df, ("source", "source_url")), _clean_text)
    intervals = pd.DataFrame(
        {
            "row": out_rows,
            "unit": pd.array(out_units.astype(str), dtype="str"),
            "level": pd.array(levels[out_rows].astype(str), dtype="str"),
            "valid_from": valid_from.astype(_DATE_UNIT),
            "valid_to": valid_to.astype(_DATE_UNIT),
            "source": pd.array(source[out_rows], dtype="str"),
        }
    )
    if geometry_column is not None:
        geometry = df[geometry_column].iloc[out_rows].reset_index(drop=True)
        intervals = intervals.assign(**{geometry_column: geometry})
        if isinstance(df, gpd.GeoDataFrame) and df.active_geometry_name == geometry_column:
            intervals = gpd.GeoDataFrame(intervals, geometry=geometry_column, crs=df.crs)
    return intervals, rejected


def _detect_form(df: pd.DataFrame) -> Literal["interval", "snapshot"]:
    columns = set(map(str, df.columns))
    allowed = (
        f"allowed: interval form {', '.join(INTERVAL_COLUMNS)} (valid_to, source optional), or "
        f"snapshot form {', '.join(SNAPSHOT_COLUMNS)} (adcodes may be adcode; province onwards optional)"
    )
    if "as_of" in columns and "valid_from" in columns:
        raise DesignationFormError(f"risk_areas has both `as_of` and `valid_from`; {allowed}")
    if "as_of" not in columns and "valid_from" not in columns:
        found = ", ".join(sorted(columns)) or "none"
        raise DesignationFormError(f"risk_areas has neither `as_of` nor `valid_from` ({found}); {allowed}")
    if "level" not in columns:
        raise DesignationFormError(f"risk_areas has no `level` column; {allowed}")
    if not columns & {"adcode", "adcodes"} and _geometry_column(df) is None:
        raise DesignationFormError(f"risk_areas has neither `adcode`/`adcodes` nor a geometry; {allowed}")
    return "snapshot" if "as_of" in columns else "interval"


def _geometry_column(df: pd.DataFrame) -> str | None:
    if isinstance(df, gpd.GeoDataFrame) and df.active_geometry_name is not None:
        return str(df.active_geometry_name)
    return "geometry" if "geometry" in df.columns else None


def _per_distinct(values: np.ndarray, parse: Callable[[object], object]) -> np.ndarray:
    """``parse`` applied to each distinct value (missing values as ``None``), spread back over the rows."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    parsed = np.empty(len(uniques) + 1, dtype=object)  # the last entry serves code -1, the missing values
    for i, value in enumerate([*uniques, None]):
        parsed[i] = parse(value)
    return parsed[codes]


def _coalesce(df: pd.DataFrame, columns: tuple[str, ...]) -> np.ndarray:
    """The first non-blank value among ``columns``, per row, as an object array (None where all are blank)."""
    out = np.full(len(df), None, dtype=object)
    for column in reversed(columns):
        if column in df.columns:
            values = df[column].to_numpy(dtype=object, na_value=None)
            blank = _per_distinct(values, _is_blank).astype(bool)
            out = np.where(blank, out, values)
    return out


def _is_blank(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, (float, np.floating)):
        return bool(np.isnan(value))
    if isinstance(value, np.datetime64):
        return bool(np.isnat(value))
    return isinstance(value, str) and not value.strip()


def _clean_text(value: object) -> str | None:
    return None if _is_blank(value) else str(value).strip()


def _no_days(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full(n, np.datetime64("NaT"), dtype="datetime64[D]"), np.ones(n, dtype=bool)


def written_adcodes(df: pd.DataFrame) -> np.ndarray:
    """The adcode cell of each row as written (``adcodes``, else ``adcode``; ``""`` when blank): the
    ``subject_id`` of a rejected ``risk_areas`` row."""
    return _parse_adcodes(_coalesce(df, ("adcodes", "adcode")))[1]


def _parse_adcodes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: the tuple of its 6-digit codes, the cell as written, and the pieces that are not 6-digit codes
    (``", "``-joined; ``""`` when every piece is one)."""
    parsed = _per_distinct(values, _parse_adcode_cell)
    codes = np.empty(len(values), dtype=object)
    text = np.empty(len(values), dtype=object)
    bad = np.empty(len(values), dtype=object)
    for i, (row_codes, row_text, row_bad) in enumerate(parsed):  # unpacking the triples, not parsing
        codes[i], text[i], bad[i] = row_codes, row_text, row_bad
    return codes, text, bad


def _parse_adcode_cell(value: object) -> tuple[tuple[str, ...], str, str]:
    if _is_blank(value):
        return (), "", ""
    if isinstance(value, (bool, np.bool_)):
        return (), str(value), str(value)
    if isinstance(value, (int, np.integer)):
        text = str(int(value))
    elif isinstance(value, (float, np.floating)):
        text = str(int(value)) if float(value).is_integer() else str(value)  # 360403.0 from a CSV with blanks
    else:
        text = str(value).strip()
    pieces = [p.strip() for p in _ADCODE_SEPARATORS.split(text) if p.strip()]
    if not pieces:  # only separators: written, but no code at all
        return (), text, text
    bad = [p for p in pieces if not _ADCODE.fullmatch(p)]
    return tuple(dict.fromkeys(p for p in pieces if p not in bad)), text, ", ".join(bad)


def _parse_level(value: object) -> str:
    """The level in :data:`LEVELS`, or ``""`` when the value is no known spelling of one."""
    if not isinstance(value, str):
        return ""
    text = value.strip().lower()
    if m := _EN_LEVEL.fullmatch(text):
        return m["level"]
    if m := _ZH_LEVEL.fullmatch(text):
        return _ZH_LEVELS[m["level"]]
    return ""


def _snapshot_ends(units: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Inclusive end of each snapshot interval: the day before the next later ``as_of`` naming its unit."""
    ends = np.full(len(units), np.datetime64("NaT"), dtype="datetime64[D]")
    if len(units) == 0:
        return ends
    unit_code = pd.factorize(units)[0].astype(np.int64)
    day = starts.astype(np.int64) - starts.astype(np.int64).min()
    span = int(day.max()) + 1
    distinct = np.unique(unit_code * span + day)  # sorted by (unit, day)
    same_unit_next = np.append(distinct[1:] // span == distinct[:-1] // span, False)
    next_day = np.append(distinct[1:] % span, 0)
    at = np.searchsorted(distinct, unit_code * span + day)
    ended = same_unit_next[at]
    ends[ended] = starts[ended] + (next_day[at][ended] - day[ended] - 1).astype("timedelta64[D]")
    return ends


# ------------------------------------------------------------------------------------------------------------
# unit_rank
# ------------------------------------------------------------------------------------------------------------


def unit_rank(units: pd.Series) -> np.ndarray:
    """Specificity of each unit: province adcode (``XX0000``) 0, city (``XXXX00``) 1, county 2, ``area:*`` 3.

    Parameters
    ----------
    units
        Units as in the ``unit`` column of :func:`normalize_designations`.

    Returns
    -------
    numpy.ndarray
        ``int8`` ranks, higher = more specific.

    Raises
    ------
    ValueError
        For a unit that is neither a 6-digit adcode nor ``area:*``.
    """
    values = pd.Series(units).astype("str")
    is_area = values.str.startswith("area:").to_numpy(dtype=bool, na_value=False)
    is_code = values.str.fullmatch(r"\d{6}").to_numpy(dtype=bool, na_value=False)
    if not (is_area | is_code).all():
        bad = values[~(is_area | is_code)].head(3).tolist()
        raise ValueError(f"units must be 6-digit adcodes or 'area:<key>'; got {bad}")
    rank = np.full(len(values), ADMIN_RANK["county"], dtype=np.int8)
    rank[is_code & values.str.endswith("00").to_numpy(dtype=bool, na_value=False)] = ADMIN_RANK["city"]
    rank[is_code & values.str.endswith("0000").to_numpy(dtype=bool, na_value=False)] = ADMIN_RANK["province"]
    rank[is_area] = len(ADMIN_RANK)  # a designation's own polygon is more specific than any admin unit
    return rank


# ------------------------------------------------------------------------------------------------------------
# resolve_levels
# ------------------------------------------------------------------------------------------------------------


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
    end, _ = parse_days(intervals["valid_to"]) if "valid_to" in intervals.columns else _no_days(n)
    level = _per_distinct(intervals["level"].to_numpy(dtype=object, na_value=None), _parse_level)
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
