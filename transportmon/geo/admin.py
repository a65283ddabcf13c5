"""Which county, city and province each point lies in — resolved once per distinct point.

Trips are audited by column joins on ``stop_id``; only the few distinct stops meet the polygons (an STRtree query),
so the cost grows with trip rows, not with polygons × rows.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..vocab import ADMIN_LEVELS, ADMIN_RANK

LEVEL_RANK = ADMIN_RANK


def _codes(values: pd.Series | np.ndarray) -> pd.Series:
    """Adcodes as text; numbers read from a GIS file (``429004.0`` when the column has nulls) lose the ``.0``."""
    text = pd.Series(values).astype("string").str.strip().str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
    return text.mask(text == "")


def _prefix_codes(adcode: pd.Series) -> tuple[pd.Series, pd.Series]:
    """City and province adcodes implied by a 6-digit code (360403 → 360400, 360000)."""
    text = adcode.astype("string")
    return text.str[:4] + "00", text.str[:2] + "0000"


def locate_arrays(points: gpd.GeoSeries, boundaries: gpd.GeoDataFrame | None) -> tuple[np.ndarray, np.ndarray] | None:
    """The arrays :func:`point_hits` takes for :func:`locate` (the polygons, the points that are not empty), or None
    when there is nothing to locate."""
    if not len(points) or boundaries is None or not len(boundaries):
        return None
    pts = points.to_numpy()
    return boundaries.geometry.to_numpy(), pts[~(pd.isna(pts) | shapely.is_empty(pts))]


def point_hits(polys: np.ndarray, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(point, polygon) positions of each point in each polygon that contains or touches it; shapely and numpy
    only (no pandas), so it can run on another thread (:mod:`transportmon.io.ahead`) while nothing else uses these
    geometries. The polygons are left prepared."""
    # Bounding-box candidates, then the exact test against prepared polygons: county outlines have thousands of
    # vertices, and an unprepared point-in-polygon test per pair costs 100× more.
    pi, gi = shapely.STRtree(polys).query(pts)
    shapely.prepare(polys)
    hit = shapely.intersects(polys[gi], pts[pi])
    return pi[hit], gi[hit]


def locate(points: gpd.GeoSeries, boundaries: gpd.GeoDataFrame,
           pairs: tuple[np.ndarray, np.ndarray] | None = None) -> pd.DataFrame:
    """County, city and province adcodes of each point (aligned with ``points``; NA where outside every polygon).

    The most specific containing unit decides; its city and province come from the layer's ``city_adcode`` /
    ``province_adcode`` columns when present (they know 省直辖县 such as 仙桃), else from the adcode's prefix.
    A point on a shared edge belongs to the unit with the smaller adcode, deterministically. ``pairs``:
    :func:`point_hits` of :func:`locate_arrays`, when computed already.
    """
    n = len(points)
    units = {"county": np.full(n, None, dtype=object), "city": np.full(n, None, dtype=object),
             "province": np.full(n, None, dtype=object)}

    def frame() -> pd.DataFrame:
        return pd.DataFrame({k: pd.array(v, dtype="string") for k, v in units.items()}, index=points.index)

    if not n or boundaries is None or not len(boundaries):
        return frame()
    pts = points.to_numpy()
    valid = ~(pd.isna(pts) | shapely.is_empty(pts))
    pi, gi = pairs if pairs is not None else point_hits(boundaries.geometry.to_numpy(), pts[valid])
    pi = np.flatnonzero(valid)[pi]
    hits = pd.DataFrame({"p": pi, "adcode": _codes(boundaries["adcode"]).to_numpy()[gi],
                         "rank": boundaries["level"].map(LEVEL_RANK).to_numpy()[gi], "g": gi})
    if not len(hits):
        return frame()
    city_col = _codes(boundaries["city_adcode"]).to_numpy()[hits["g"]] if "city_adcode" in boundaries else None
    prov_col = (_codes(boundaries["province_adcode"]).to_numpy()[hits["g"]]
                if "province_adcode" in boundaries else None)
    pref_city, pref_prov = _prefix_codes(hits["adcode"])
    hits["city"] = pd.array(city_col, dtype="string") if city_col is not None else pref_city.to_numpy()
    hits["province"] = pd.array(prov_col, dtype="string") if prov_col is not None else pref_prov.to_numpy()
    hits["city"] = hits["city"].fillna(pref_city.set_axis(hits.index))
    hits["province"] = hits["province"].fillna(pref_prov.set_axis(hits.index))
    best = hits.sort_values(["p", "rank", "adcode"], ascending=[True, False, True]).drop_duplicates("p")
    rank = best["rank"].to_numpy()
    rows = best["p"].to_numpy()
    county = np.where(rank == 2, best["adcode"].to_numpy(), None)
    city = np.where(rank >= 1, np.where(rank == 1, best["adcode"].to_numpy(), best["city"].to_numpy()), None)
    prov = np.where(rank == 0, best["adcode"].to_numpy(), best["province"].to_numpy())
    units["county"][rows], units["city"][rows], units["province"][rows] = county, city, prov
    return frame()


def codes_in_use(boundaries: gpd.GeoDataFrame) -> pd.Index:
    """Every adcode :func:`locate` can give a point with these boundaries: each polygon's own code, and the city
    and province it implies (the layer's ``city_adcode``/``province_adcode``, else the code's prefix), as
    :func:`locate` takes them."""
    if boundaries is None or not len(boundaries):
        return pd.Index([], dtype="str")
    code = _codes(boundaries["adcode"]).reset_index(drop=True)
    rank = boundaries["level"].map(LEVEL_RANK).to_numpy()
    pref_city, pref_prov = _prefix_codes(code)
    city = _codes(boundaries["city_adcode"]).reset_index(drop=True) if "city_adcode" in boundaries else pref_city
    prov = (_codes(boundaries["province_adcode"]).reset_index(drop=True) if "province_adcode" in boundaries
            else pref_prov)
    implied = [code, city.fillna(pref_city)[rank == 2], prov.fillna(pref_prov)[rank >= 1]]
    return pd.Index(pd.concat(implied, ignore_index=True).dropna().unique().astype(str), dtype="str")


def point_units(keys: pd.Series, located: pd.DataFrame) -> pd.DataFrame:
    """Long form for :func:`transportmon.levels.resolve_levels`: one row per (key, containing unit)."""
    long = pd.concat([
        pd.DataFrame({"key": keys.to_numpy(), "unit": located[c].to_numpy()}) for c in reversed(ADMIN_LEVELS)
    ], ignore_index=True)
    return long.dropna(subset=["unit"]).drop_duplicates(ignore_index=True)


def area_units(keys: pd.Series, points: gpd.GeoSeries, areas: gpd.GeoDataFrame, unit_col: str = "unit") -> pd.DataFrame:
    """(key, unit) pairs for points inside risk areas given as their own polygons (``unit`` = ``area:<row>``)."""
    if areas is None or not len(areas) or not len(points):
        return pd.DataFrame({"key": pd.Series(dtype="string"), "unit": pd.Series(dtype="string")})
    tree = shapely.STRtree(areas.geometry.to_numpy())
    pi, gi = tree.query(points.to_numpy(), predicate="intersects")
    return pd.DataFrame({"key": keys.to_numpy()[pi], "unit": areas[unit_col].to_numpy()[gi]}).drop_duplicates(
        ignore_index=True)


def leaf_units(boundaries: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The finest boundary polygons (no finer unit of the layer inside them), with their city and province.

    A province drawn under its own counties would hide them; a city without counties in the layer is a leaf.

    Returns
    -------
    geopandas.GeoDataFrame
        The rows of ``boundaries`` that are leaves, with ``city_unit`` and ``province_unit``: the adcodes of the
        city and province each lies in (``city_adcode`` / ``province_adcode`` when given, else the adcode's
        prefix, as in :func:`locate`).
    """
    b = boundaries.copy()
    code = b["adcode"].astype("string")
    pref_city, pref_prov = _prefix_codes(code)
    city = b["city_adcode"].astype("string") if "city_adcode" in b else pd.Series(pd.NA, index=b.index, dtype="string")
    prov = (b["province_adcode"].astype("string") if "province_adcode" in b
            else pd.Series(pd.NA, index=b.index, dtype="string"))
    b["city_unit"] = city.fillna(pref_city)
    b["province_unit"] = prov.fillna(pref_prov)
    level = b["level"].astype("string")
    parents = pd.concat([b.loc[(level == "county").to_numpy(), "city_unit"],
                         b.loc[(level != "province").to_numpy(), "province_unit"]])
    is_parent = code.isin(set(parents.dropna().astype(str))) & (level != "county")
    return b.loc[~is_parent.fillna(False).to_numpy(dtype=bool)]
