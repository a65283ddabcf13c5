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
rejected rows with a reason. :func:`transportmon.levels.resolve_levels` answers "which level applies to this point on this date"
for millions of (key, date) queries at once, with the rule of DESIGN §3: among the designations in effect on
the date that contain the point, the most specific unit wins (county over city over province; a polygon area
over all), then the latest ``valid_from``, then the later input row.

Everything here is pure: no files, no clock, no printing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
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
    "no_days",
    "normalize_designations",
    "parse_level",
    "per_distinct",
    "unit_rank",
    "written_adcodes",
]

#: The risk levels, least severe first. Input may also say 高/中/低, 高风险, High, MEDIUM, "high risk" ….
LEVELS: Final = RISK_LEVELS

#: dtype of the ``level`` column of :func:`transportmon.levels.resolve_levels`: ordered, so ``max`` and ``>= "medium"`` work.
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
    levels = per_distinct(df["level"].to_numpy(dtype=object, na_value=None), parse_level)
    if form == "snapshot":
        start, _ = parse_days(df["as_of"])
        end = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
        bad_date = np.isnat(start)
    else:
        start, _ = parse_days(df["valid_from"])
        end, end_blank = parse_days(df["valid_to"]) if "valid_to" in df.columns else no_days(n)
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

    source = per_distinct(_coalesce(df, ("source", "source_url")), _clean_text)
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


def per_distinct(values: np.ndarray, parse: Callable[[object], object]) -> np.ndarray:
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
            blank = per_distinct(values, _is_blank).astype(bool)
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


def no_days(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` missing days and their blank flags: the ``valid_to`` of designations that have none (open)."""
    return np.full(n, np.datetime64("NaT"), dtype="datetime64[D]"), np.ones(n, dtype=bool)


def written_adcodes(df: pd.DataFrame) -> np.ndarray:
    """The adcode cell of each row as written (``adcodes``, else ``adcode``; ``""`` when blank): the
    ``subject_id`` of a rejected ``risk_areas`` row."""
    return _parse_adcodes(_coalesce(df, ("adcodes", "adcode")))[1]


def _parse_adcodes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: the tuple of its 6-digit codes, the cell as written, and the pieces that are not 6-digit codes
    (``", "``-joined; ``""`` when every piece is one)."""
    parsed = per_distinct(values, _parse_adcode_cell)
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


def parse_level(value: object) -> str:
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
