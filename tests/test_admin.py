"""``geo.admin``: which county, city and province a point lies in, resolved once per distinct point.

Unit tests use polygons drawn directly in lon/lat degrees, so that a point can sit exactly on a shared edge:

    lat 30–31   429004 仙桃 (lon 113–114, its own city)  | 429005 潜江 (lon 114–115, its own city) | 420000 Hubei 112–116
    lat 29–30   360403 (lon 115–116) | 360402 (lon 116–117), in city 360400 (lon 115–117)
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from test_trips import AS_OF, trip, trip_rows, write_trip_world

import transportmon
from transportmon.geo.admin import area_units, locate, point_units


def bounds_frame(rows: list[tuple], **extra: list) -> gpd.GeoDataFrame:
    """Boundaries from (minx, miny, maxx, maxy, adcode, level) tuples in degrees."""
    return gpd.GeoDataFrame({"adcode": [r[4] for r in rows], "name": [f"u{r[4]}" for r in rows],
                             "level": [r[5] for r in rows], **extra},
                            geometry=[shapely.box(*r[:4]) for r in rows], crs="EPSG:4326")


JIANGXI = [(115, 29, 116, 30, "360403", "county"), (116, 29, 117, 30, "360402", "county"),
           (115, 29, 117, 30, "360400", "city")]


def points(*xy: tuple[float, float] | None, index: list | None = None) -> gpd.GeoSeries:
    geoms = [None if p is None else shapely.Point(p) for p in xy]
    return gpd.GeoSeries(geoms, crs="EPSG:4326", index=index)


def rows_of(frame: pd.DataFrame) -> list[tuple]:
    return [tuple(None if pd.isna(v) else v for v in r) for r in frame[["county", "city", "province"]].itertuples(
        index=False)]


def test_point_in_county_gets_county_city_province() -> None:
    out = locate(points((115.5, 29.5), (116.5, 29.5)), bounds_frame(JIANGXI))
    assert rows_of(out) == [("360403", "360400", "360000"), ("360402", "360400", "360000")]
    assert list(out.columns) == ["county", "city", "province"]


def test_county_wins_whatever_the_row_order() -> None:
    out = locate(points((115.5, 29.5)), bounds_frame(list(reversed(JIANGXI))))
    assert rows_of(out) == [("360403", "360400", "360000")]


def test_point_in_city_or_province_only() -> None:
    b = bounds_frame([(115, 29, 117, 30, "360400", "city"), (112, 30, 116, 31, "420000", "province")])
    out = locate(points((116.5, 29.5), (113.5, 30.5)), b)
    assert rows_of(out) == [(None, "360400", "360000"), (None, None, "420000")]


def test_point_outside_and_missing_points_are_na() -> None:
    out = locate(points((100, 10), None, shapely.Point()), bounds_frame(JIANGXI))
    assert rows_of(out) == [(None, None, None)] * 3
    assert out["county"].isna().all()


def test_aligned_with_the_points_index() -> None:
    out = locate(points((100, 10), (116.5, 29.5), index=["far", "in"]), bounds_frame(JIANGXI))
    assert list(out.index) == ["far", "in"]
    assert out.loc["in", "county"] == "360402" and pd.isna(out.loc["far", "county"])


def test_shared_edge_goes_to_the_smaller_adcode() -> None:
    out = locate(points((116.0, 29.5)), bounds_frame(JIANGXI))
    assert rows_of(out) == [("360402", "360400", "360000")]


def test_city_and_province_adcode_columns_respected() -> None:
    # 仙桃 and 潜江 are 省直辖县: their own cities, though their codes share the 4290 prefix.
    b = bounds_frame([(113, 30, 114, 31, "429004", "county"), (114, 30, 115, 31, "429005", "county"),
                      *JIANGXI], city_adcode=["429004", "429005", None, None, None],
                     province_adcode=["420000", "420000", None, None, None])
    out = locate(points((113.5, 30.5), (114.5, 30.5), (115.5, 29.5)), b)
    assert rows_of(out) == [("429004", "429004", "420000"), ("429005", "429005", "420000"),
                            ("360403", "360400", "360000")]  # NA in the columns: the prefix


def test_numeric_adcode_columns_as_read_from_a_gis_file() -> None:
    # pyogrio reads an integer column with nulls as float64: 429004.0 must still be 429004.
    b = bounds_frame([(113, 30, 114, 31, 429004, "county"), (115, 29, 116, 30, 360403, "county")],
                     city_adcode=[429004.0, np.nan], province_adcode=[420000.0, np.nan])
    out = locate(points((113.5, 30.5), (115.5, 29.5)), b)
    assert rows_of(out) == [("429004", "429004", "420000"), ("360403", "360400", "360000")]


def test_empty_inputs() -> None:
    out = locate(points(), bounds_frame(JIANGXI))
    assert len(out) == 0 and list(out.columns) == ["county", "city", "province"]
    out = locate(points((115.5, 29.5)), bounds_frame([]))
    assert rows_of(out) == [(None, None, None)]


def test_point_units_long_form() -> None:
    located = locate(points((115.5, 29.5), (100, 10), (116.5, 29.5)), bounds_frame(JIANGXI))
    pu = point_units(pd.Series(["A", "OUT", "B"]), located.reset_index(drop=True))
    assert sorted(map(tuple, pu[["key", "unit"]].to_numpy().tolist())) == [
        ("A", "360000"), ("A", "360400"), ("A", "360403"), ("B", "360000"), ("B", "360400"), ("B", "360402")]


def test_area_units() -> None:
    areas = gpd.GeoDataFrame({"unit": ["area:0", "area:1"]},
                             geometry=[shapely.box(115.4, 29.4, 115.6, 29.6), shapely.box(100, 10, 101, 11)],
                             crs="EPSG:4326")
    pairs = area_units(pd.Series(["A", "B"]), points((115.5, 29.5), (116.5, 29.5)), areas)
    assert pairs[["key", "unit"]].to_numpy().tolist() == [["A", "area:0"]]
    assert len(area_units(pd.Series([], dtype="string"), points(), areas)) == 0


# --------------------------------------------------------------------------------------------------------------------
# Through the audit: the boundaries layer decides a trip's scope


def test_city_adcode_decides_trip_scope(tmp_path: Path) -> None:
    b = bounds_frame([(113, 30, 114, 31, "429004", "county"), (114, 30, 115, 31, "429005", "county")],
                     city_adcode=[429004, 429005], province_adcode=[420000, 420000])
    stops = pd.DataFrame({"stop_id": ["XT", "QJ"], "lon": [113.5, 114.5], "lat": [30.5, 30.5]})
    risk = [dict(adcode="429005", level="high", valid_from="2020-02-01", valid_to="")]
    st_rows = [dict(trip_id="t", stop_sequence=1, stop_id="XT", pickup=1, dropoff=0),
               dict(trip_id="t", stop_sequence=2, stop_id="QJ", pickup=0, dropoff=1)]
    folder = write_trip_world(tmp_path / "own-cities", [trip("t", 30)], st_rows, risk, boundaries=b, stops=stops)
    row = trip_rows(transportmon.audit(folder, as_of=AS_OF)).loc["t"]
    assert (row["verdict"], row["scope"], row["risk_stops"]) == ("over-cap", "inter-city", ["QJ"])

    # Without the columns, both fall back to the prefix city 429000: intra-city.
    folder = write_trip_world(tmp_path / "prefix", [trip("t", 30)], st_rows, risk,
                              boundaries=b.drop(columns=["city_adcode", "province_adcode"]), stops=stops)
    row = trip_rows(transportmon.audit(folder, as_of=AS_OF)).loc["t"]
    assert (row["verdict"], row["reason"], row["scope"]) == ("not-applicable", "intra-city", "intra-city")


@pytest.mark.parametrize("n", [2000])
def test_many_points_resolve_at_once(n: int) -> None:
    rng = np.random.default_rng(7)
    lon, lat = rng.uniform(114.9, 117.1, n), rng.uniform(28.9, 30.1, n)
    out = locate(gpd.GeoSeries(shapely.points(lon, lat), crs="EPSG:4326"), bounds_frame(JIANGXI))
    inside = (lon > 115) & (lon < 117) & (lat > 29) & (lat < 30)
    expected = np.where(inside, np.where(lon < 116, "360403", "360402"), None)
    assert out["county"].to_numpy(dtype=object, na_value=None).tolist() == expected.tolist()
