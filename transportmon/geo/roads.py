"""Road classes: which roads clause (六) names.

The class comes from, in order:

1. ``road_class`` when given (English words, or 国道/省道/县道/乡道/村道/高速);
2. the first ``ref`` (``G105;S303`` → ``G105``) by the Chinese route-number prefix:

   ======================  =================  ==========================================
   ref                     highway            class
   ======================  =================  ==========================================
   ``G`` + 1–2 digits      any                expressway (国家高速, G4, G70)
   ``G`` + 4 digits        motorway or none   expressway (G4211, a national expressway spur)
   ``G`` + 3 digits        any                national (国道, G105)
   ``S`` + digits          motorway           expressway (省高速, S26)
   ``S`` + digits          other              provincial (省道)
   ``X`` / ``Y`` / ``C``   any                county (县道) / township (乡道) / village (村道)
   ======================  =================  ==========================================

3. else the OSM ``highway`` tag, by :data:`HIGHWAY_CLASSES`. In China OSM maps national roads as ``trunk`` or
   ``primary`` and provincial roads as ``primary`` or ``secondary``, so the tag alone is a guess: a road with a ref
   is always classed by its ref. Ferries (``route=ferry``) are ``other``: they are crossings, not roads a checkpoint
   is named on.

Classes covered by the clause are configured (default national, provincial, county, township, village); expressways
and urban streets are not named by it, so a checkpoint on them is ``review``.

Tracks (``highway=track``) are village roads: in Chinese OpenStreetMap many village roads are mapped as tracks, and
village blockades were what the clause ended. A track tagged ``motor_vehicle=no`` or ``access=no`` is not a road for
this audit (:func:`closed_tracks`): the OpenStreetMap reader leaves it out, and so does the road network built from a
roads file that carries ``motor_vehicle`` / ``access`` columns.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..vocab import ROAD_CLASS_ZH, ROAD_CLASSES

#: OSM ``highway`` → class, used only when neither ``road_class`` nor ``ref`` decides.
HIGHWAY_CLASSES: dict[str, str] = {
    "motorway": "expressway", "motorway_link": "expressway",
    "trunk": "national", "trunk_link": "national",
    "primary": "provincial", "primary_link": "provincial",
    "secondary": "county", "secondary_link": "county",
    "tertiary": "township", "tertiary_link": "township",
    "unclassified": "village", "track": "village",
    "residential": "urban", "living_street": "urban", "service": "urban", "road": "other",
}

#: Tags that, set to ``no`` on a track, make it no road for this audit (DESIGN §3).
TRACK_CLOSED_BY: tuple[str, ...] = ("motor_vehicle", "access")

#: Accepted spellings of ``road_class``.
CLASS_WORDS: dict[str, str] = {
    **{c: c for c in ROAD_CLASSES}, **{zh: c for c, zh in ROAD_CLASS_ZH.items()},
    "motorway": "expressway", "高速": "expressway", "街道": "urban", "其他": "other", "专用公路": "other",
}


def first_ref(ref: pd.Series) -> pd.Series:
    """The first route number of a ``ref`` such as ``G105;S303`` or ``G105/S303``, upper-cased, spaces removed."""
    text = ref.astype("string").str.upper().str.replace(r"\s+", "", regex=True)
    return text.str.split(r"[;,/；，、]", regex=True).str[0].mask(lambda s: s == "")


def classify(road_class: pd.Series, ref: pd.Series, highway: pd.Series, route: pd.Series | None = None) -> pd.Series:
    """Road class per row (vectorised); see the module docstring for the table."""
    given = road_class.astype("string").str.strip().str.lower().map(CLASS_WORDS)
    given = given.where(given.notna(), road_class.astype("string").str.strip().map(CLASS_WORDS))
    hw = highway.astype("string").str.strip().str.lower()
    motorway = hw.isin(["motorway", "motorway_link"]).fillna(False).astype(bool)
    r = first_ref(ref)
    conditions = [
        r.str.fullmatch(r"G\d{1,2}").fillna(False).astype(bool),
        (r.str.fullmatch(r"G\d{4}").fillna(False) & (motorway | hw.isna())).astype(bool),
        r.str.fullmatch(r"G\d{3,4}").fillna(False).astype(bool),
        (r.str.fullmatch(r"S\d+").fillna(False) & motorway).astype(bool),
        r.str.fullmatch(r"S\d+").fillna(False).astype(bool),
        r.str.fullmatch(r"X\d+").fillna(False).astype(bool),
        r.str.fullmatch(r"Y\d+").fillna(False).astype(bool),
        r.str.fullmatch(r"C\d+").fillna(False).astype(bool),
    ]
    choices = ["expressway", "expressway", "national", "expressway", "provincial", "county", "township", "village"]
    by_ref = pd.Series(np.select(conditions, choices, default=""), index=ref.index).replace("", pd.NA)
    by_hw = hw.map(HIGHWAY_CLASSES)
    if route is not None:
        by_hw = by_hw.mask(route.astype("string").str.lower().eq("ferry").fillna(False).astype(bool), "other")
    out = given.fillna(by_ref).fillna(by_hw).fillna("other")
    return out.astype("string")


def closed_tracks(highway: pd.Series, tags: Mapping[str, pd.Series | None]) -> tuple[np.ndarray, np.ndarray]:
    """Which rows are tracks, and which of those are not roads for this audit (vectorised).

    A row is a track when its ``highway`` is ``track``; a track is closed when any of :data:`TRACK_CLOSED_BY` is
    ``no`` (case and surrounding blanks ignored). The one definition for roads files and OpenStreetMap alike.

    Parameters
    ----------
    highway
        The ``highway`` value per row (text; NA for none).
    tags
        ``{tag: values}`` for the tags of :data:`TRACK_CLOSED_BY` the roads carry (a missing or ``None`` entry is a
        tag nobody set). A cell may be a list of values (edges osmnx merged): it says ``no`` if any item does.

    Returns
    -------
    tuple[np.ndarray, np.ndarray]
        ``(track, closed)``: boolean per row; ``closed`` implies ``track``.
    """
    track = _says(highway, "track")
    closed = np.zeros(len(highway), dtype=bool)
    for tag in TRACK_CLOSED_BY:
        values = tags.get(tag)
        if values is not None:
            closed |= _says(values, "no")
    return track, track & closed


def _says(values: pd.Series, word: str) -> np.ndarray:
    """Boolean per row: the cell, or an item of a list in it, is ``word`` (case and blanks ignored).

    The text rules run on the distinct values: a province's million roads carry a handful of ``highway`` values.
    """
    items = values.reset_index(drop=True)
    if items.dtype == object:
        items = items.explode()  # a list cell (edges osmnx merged) gives one row per item, with the cell's index
    codes, uniques = pd.factorize(items.astype("string"))
    says = pd.Series(uniques, dtype="string").str.strip().str.lower().eq(word).fillna(False).to_numpy(dtype=bool)
    hit = codes >= 0
    hit[hit] = says[codes[hit]]
    out = np.zeros(len(values), dtype=bool)
    out[items.index.to_numpy()[hit]] = True
    return out
