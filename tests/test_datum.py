"""Tests for transportmon.io.datum (WGS-84 / GCJ-02 / BD-09 conversions).

Distances are measured in metres on the WGS-84 ellipsoid with pyproj.Geod, never in degrees.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod
from shapely.geometry import LineString, MultiPolygon, Point, Polygon

from transportmon.io.datum import (
    DATUMS,
    bd09_to_gcj02,
    bd09_to_wgs84,
    from_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    geometry_to_wgs84,
    out_of_china,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

GEOD = Geod(ellps="WGS84")


def metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Geodesic distance in metres between two sets of points."""
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


# --- published reference pairs ------------------------------------------------------------
# (lon, lat) order throughout; the sources list (lat, lon) in some cases and were reordered.

# WGS-84 -> GCJ-02, as (wgs_lon, wgs_lat, gcj_lon, gcj_lat, source)
WGS_GCJ_PAIRS = [
    # googollee/eviltransform, python/test.py (also go/transform_test.go, javascript/test.js), "shanghai"
    (121.5272106, 31.1774276, 121.531541859215, 31.17530398364597, "eviltransform shanghai"),
    # googollee/eviltransform, python/test.py, "shenzhen"
    (113.912316, 22.543847, 113.9171764808363, 22.540796131694766, "eviltransform shenzhen"),
    # googollee/eviltransform, python/test.py, "beijing"
    (116.377817, 39.911954, 116.38404722455657, 39.91334545536069, "eviltransform beijing"),
    # wandergis/coordtransform, test/app.js: wgs84togcj02(116.404, 39.915)
    (116.404, 39.915, 116.41024449916938, 39.91640428150164, "coordtransform app.js"),
    # Glatzel/pyxis, python/tests/test_crypto.py: wgs84 / gcj02 constants
    (121.0917077, 30.6107779, 121.09626935575027, 30.608604331756705, "pyxis test_crypto"),
    # hujiulong/gcoord, test/fixtures/china-cities.json: 荆门市 (Hubei), WGS84 / GCJ02
    (112.1935849, 31.0376011, 112.1994301, 31.0354012, "gcoord 荆门市"),
    # hujiulong/gcoord, test/fixtures/china-cities.json: 铜陵市 (Anhui, on the Yangtze)
    (117.8059091, 30.9477988, 117.8112693, 30.9455211, "gcoord 铜陵市"),
    # hujiulong/gcoord, test/fixtures/china-cities.json: 那曲地区 (Tibet, far west)
    (92.0499619, 31.4784436, 92.0512438, 31.4762063, "gcoord 那曲地区"),
]

# GCJ-02 -> BD-09, as (gcj_lon, gcj_lat, bd_lon, bd_lat, source)
GCJ_BD_PAIRS = [
    # wandergis/coordtransform, test/app.js: gcj02tobd09(116.404, 39.915)
    (116.404, 39.915, 116.41036949371029, 39.92133699351021, "coordtransform app.js gcj02tobd09"),
    # wandergis/coordtransform, test/app.js: bd09togcj02(116.404, 39.915) (a BD-09 -> GCJ-02 pair)
    (116.39762729119315, 39.90865673957631, 116.404, 39.915, "coordtransform app.js bd09togcj02"),
    # Glatzel/pyxis, python/tests/test_crypto.py: gcj02 / bd09 constants
    (121.09626935575027, 30.608604331756705, 121.10271732371203, 30.61484572185035, "pyxis test_crypto"),
    # hujiulong/gcoord, test/fixtures/china-cities.json: 驻马店市, GCJ02 / BD09
    (114.022306, 33.0115324, 114.0287781, 33.0176697, "gcoord 驻马店市"),
    # hujiulong/gcoord, test/fixtures/china-cities.json: 宜昌市, GCJ02 / BD09
    (111.2864741, 30.6919691, 111.2930248, 30.6977103, "gcoord 宜昌市"),
]


@pytest.mark.parametrize(("wlon", "wlat", "glon", "glat", "source"), WGS_GCJ_PAIRS)
def test_wgs84_to_gcj02_matches_published_pairs(wlon, wlat, glon, glat, source):
    lon, lat = wgs84_to_gcj02(wlon, wlat)
    assert metres(lon, lat, glon, glat) < 1.0, source


@pytest.mark.parametrize(("wlon", "wlat", "glon", "glat", "source"), WGS_GCJ_PAIRS)
def test_gcj02_to_wgs84_matches_published_pairs(wlon, wlat, glon, glat, source):
    lon, lat = gcj02_to_wgs84(glon, glat)
    assert metres(lon, lat, wlon, wlat) < 1.0, source


def test_eviltransform_pairs_are_reproduced_exactly():
    # The eviltransform pairs were computed with the same (Krasovsky) formula: they agree
    # to float64 rounding, which pins the forward formula down, not just to 1 m.
    for wlon, wlat, glon, glat, _ in WGS_GCJ_PAIRS[:4]:
        lon, lat = wgs84_to_gcj02(wlon, wlat)
        assert metres(lon, lat, glon, glat) < 1e-6


@pytest.mark.parametrize(("glon", "glat", "blon", "blat", "source"), GCJ_BD_PAIRS)
def test_gcj02_bd09_match_published_pairs(glon, glat, blon, blat, source):
    lon, lat = gcj02_to_bd09(glon, glat)
    assert metres(lon, lat, blon, blat) < 1.0, source
    lon, lat = bd09_to_gcj02(blon, blat)
    assert metres(lon, lat, glon, glat) < 1.0, source


def test_wgs84_bd09_published_triple():
    # Glatzel/pyxis, python/tests/test_crypto.py: wgs84 (121.0917077, 30.6107779) <-> bd09
    lon, lat = wgs84_to_bd09(121.0917077, 30.6107779)
    assert metres(lon, lat, 121.10271732371203, 30.61484572185035) < 1.0
    lon, lat = bd09_to_wgs84(121.10271732371203, 30.61484572185035)
    assert metres(lon, lat, 121.0917077, 30.6107779) < 1.0


# --- round trips across China ------------------------------------------------------------


def china_grid(step: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = np.meshgrid(np.arange(73.0, 135.0 + 1e-9, step), np.arange(18.0, 53.0 + 1e-9, step))
    return lon.ravel(), lat.ravel()


def test_gcj02_inverse_error_on_china_grid():
    lon, lat = china_grid()
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    err = metres(lon, lat, *back)
    # Measured: max 9.1e-6 m over 217,971 points (see the module docstring).
    assert err.max() < 1e-3
    # and the offset being undone is real: tens to hundreds of metres everywhere.
    shift = metres(lon, lat, *wgs84_to_gcj02(lon, lat))
    assert shift.min() > 10 and shift.max() < 1000


def test_one_step_inverse_is_what_we_improve_on():
    # The naive inverse 2g - f(g) is metre-level; documents why gcj02_to_wgs84 iterates.
    lon, lat = china_grid(0.5)
    glon, glat = wgs84_to_gcj02(lon, lat)
    flon, flat = wgs84_to_gcj02(glon, glat)
    naive = metres(lon, lat, 2 * glon - flon, 2 * glat - flat)
    exact = metres(lon, lat, *gcj02_to_wgs84(glon, glat))
    assert naive.max() > 1.0
    assert exact.max() < 1e-3


def test_bd09_round_trips_on_china_grid():
    lon, lat = china_grid(0.25)
    err = metres(lon, lat, *bd09_to_wgs84(*wgs84_to_bd09(lon, lat)))
    assert err.max() < 1e-3
    glon, glat = wgs84_to_gcj02(lon, lat)
    err = metres(glon, glat, *bd09_to_gcj02(*gcj02_to_bd09(glon, glat)))
    assert err.max() < 1e-3


@settings(max_examples=300, deadline=None)
@given(
    lon=st.floats(min_value=73.0, max_value=135.0, allow_nan=False),
    lat=st.floats(min_value=18.0, max_value=53.0, allow_nan=False),
)
def test_round_trips_property(lon, lat):
    assert metres(lon, lat, *gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))) < 1e-3
    assert metres(lon, lat, *bd09_to_wgs84(*wgs84_to_bd09(lon, lat))) < 1e-3
    # and the other way round, starting from a GCJ-02 point
    assert metres(lon, lat, *wgs84_to_gcj02(*gcj02_to_wgs84(lon, lat))) < 1e-3


# --- outside China, NaN, shapes, datum names ----------------------------------------------

TOKYO = (139.6917, 35.6895)
LONDON = (-0.1276, 51.5072)
NEW_YORK = (-74.006, 40.7128)


@pytest.mark.parametrize("point", [TOKYO, LONDON, NEW_YORK])
def test_identity_outside_china(point):
    lon, lat = point
    assert out_of_china(lon, lat)
    for func in (wgs84_to_gcj02, gcj02_to_wgs84):
        out = func(lon, lat)
        assert out[0] == lon and out[1] == lat


def test_out_of_china_box():
    lon = np.array([116.4, 115.99, 72.0, 137.9, 100.0, 100.0, np.nan])
    lat = np.array([39.9, 29.72, 30.0, 30.0, 0.5, 56.0, 30.0])
    np.testing.assert_array_equal(out_of_china(lon, lat), [False, False, True, True, True, True, True])


def test_nan_gives_nan_without_warnings():
    # filterwarnings=error turns any RuntimeWarning from numpy into a failure here.
    lon = np.array([np.nan, 116.4, 116.4, np.nan])
    lat = np.array([39.9, np.nan, 39.9, np.nan])
    for func in (wgs84_to_gcj02, gcj02_to_wgs84, gcj02_to_bd09, bd09_to_gcj02, wgs84_to_bd09, bd09_to_wgs84):
        x, y = func(lon, lat)
        assert np.isnan(x[[0, 1, 3]]).all() and np.isnan(y[[0, 1, 3]]).all(), func.__name__
        assert np.isfinite(x[2]) and np.isfinite(y[2])
    assert np.isnan(gcj02_to_wgs84(np.nan, np.nan)).all()
    assert np.isnan(to_wgs84(np.nan, 30.0, "gcj02")[0])


def test_shapes_broadcast_and_scalars():
    lon, lat = wgs84_to_gcj02(np.array([115.0, 116.0, 117.0]), 30.0)
    assert lon.shape == lat.shape == (3,)
    lon, lat = gcj02_to_wgs84(115.99, 29.72)
    assert isinstance(lon, np.ndarray) and lon.shape == ()
    grid = np.full((2, 3), 116.0), np.full((2, 3), 30.0)
    assert bd09_to_wgs84(*grid)[0].shape == (2, 3)
    assert wgs84_to_gcj02([], [])[0].shape == (0,)


def test_inputs_not_modified():
    lon = np.array([116.0, 117.0])
    lat = np.array([30.0, 31.0])
    for datum in DATUMS:
        to_wgs84(lon, lat, datum)
        from_wgs84(lon, lat, datum)
    np.testing.assert_array_equal(lon, [116.0, 117.0])
    np.testing.assert_array_equal(lat, [30.0, 31.0])


def test_to_and_from_wgs84_dispatch():
    lon, lat = np.array([115.99, 114.3]), np.array([29.72, 30.6])
    for datum in DATUMS:
        back = to_wgs84(*from_wgs84(lon, lat, datum), datum)
        assert metres(lon, lat, *back).max() < 1e-3
    np.testing.assert_array_equal(to_wgs84(lon, lat, "gcj02")[0], gcj02_to_wgs84(lon, lat)[0])
    np.testing.assert_array_equal(from_wgs84(lon, lat, "bd09")[1], wgs84_to_bd09(lon, lat)[1])
    # spellings people use
    np.testing.assert_array_equal(to_wgs84(lon, lat, "GCJ-02")[0], gcj02_to_wgs84(lon, lat)[0])
    np.testing.assert_array_equal(to_wgs84(lon, lat, "BD_09")[0], bd09_to_wgs84(lon, lat)[0])


@pytest.mark.parametrize("bad", ["mars", "", "epsg:4326", "cgcs2000"])
def test_unknown_datum_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="wgs84.*gcj02.*bd09"):
        to_wgs84(116.0, 30.0, bad)
    with pytest.raises(ValueError, match="unknown datum"):
        from_wgs84(116.0, 30.0, bad)
    with pytest.raises(ValueError, match="expected one of"):
        geometry_to_wgs84(np.array([Point(116, 30)]), bad)


# --- geometries ---------------------------------------------------------------------------

JIUJIANG_POLY = Polygon(
    [(115.95, 29.68), (116.05, 29.68), (116.05, 29.76), (115.95, 29.76), (115.95, 29.68)],
    holes=[[(115.99, 29.71), (116.01, 29.71), (116.01, 29.73), (115.99, 29.71)]],
)
YANGTZE_LINE = LineString([(115.80, 29.75), (115.99, 29.73), (116.20, 29.78), (116.40, 29.85)])


def test_geometry_to_wgs84_polygon_and_linestring():
    geoms = np.array([JIUJIANG_POLY, YANGTZE_LINE], dtype=object)
    out = geometry_to_wgs84(geoms, "gcj02")
    assert isinstance(out, np.ndarray) and out.shape == (2,)
    assert out[0].geom_type == "Polygon" and out[1].geom_type == "LineString"
    assert len(out[0].interiors) == 1
    # every coordinate is converted exactly like the point functions do
    coords_in = shapely.get_coordinates(geoms)
    coords_out = shapely.get_coordinates(out)
    expected = np.column_stack(gcj02_to_wgs84(coords_in[:, 0], coords_in[:, 1]))
    np.testing.assert_allclose(coords_out, expected, rtol=0, atol=1e-12)
    # the GCJ-02 offset at Jiujiang is ~500 m (to the north-east), so the shapes move by that
    shift = metres(coords_in[:, 0], coords_in[:, 1], coords_out[:, 0], coords_out[:, 1])
    assert 300 < shift.min() and shift.max() < 700
    assert (coords_out[:, 0] < coords_in[:, 0]).all()
    assert out[0].is_valid


def test_geometry_to_wgs84_keeps_none_empty_multi_and_z():
    multi = MultiPolygon([JIUJIANG_POLY, Polygon([(116.1, 29.8), (116.2, 29.8), (116.2, 29.9)])])
    geoms = np.array(
        [None, Point(), Polygon(), multi, Point(115.99, 29.72, 12.5), LineString()], dtype=object
    )
    out = geometry_to_wgs84(geoms, "bd09")
    assert out[0] is None
    assert out[1].is_empty and out[2].is_empty and out[5].is_empty
    assert out[3].geom_type == "MultiPolygon" and len(out[3].geoms) == 2
    assert out[4].has_z and out[4].z == 12.5
    back = np.column_stack(from_wgs84(out[4].x, out[4].y, "bd09"))
    assert metres(back[0, 0], back[0, 1], 115.99, 29.72) < 1e-3


def test_geometry_to_wgs84_geoseries_and_geodataframe():
    s = gpd.GeoSeries([JIUJIANG_POLY, None, YANGTZE_LINE], index=[10, 20, 30], name="geom", crs="EPSG:4326")
    out = geometry_to_wgs84(s, "gcj02")
    assert isinstance(out, gpd.GeoSeries)
    assert list(out.index) == [10, 20, 30] and out.name == "geom"
    assert out.crs == "EPSG:4326"
    assert out.iloc[1] is None
    assert not out.iloc[0].equals(s.iloc[0])

    gdf = gpd.GeoDataFrame({"road_id": ["a", "b", "c"]}, geometry=list(s), crs=None)
    out_gdf = geometry_to_wgs84(gdf, "gcj02")
    assert isinstance(out_gdf, gpd.GeoDataFrame)
    assert out_gdf.crs == "EPSG:4326"
    assert list(out_gdf["road_id"]) == ["a", "b", "c"]
    assert out_gdf.geometry.iloc[0].equals_exact(out.iloc[0], tolerance=0)
    assert gdf.crs is None  # input untouched

    # WGS-84 in, unchanged out (but still a copy)
    same = geometry_to_wgs84(s, "wgs84")
    assert same.geom_equals_exact(s, tolerance=0).iloc[[0, 2]].all()


def test_geometry_to_wgs84_rejects_projected_crs():
    s = gpd.GeoSeries([Point(500000, 3290000)], crs="EPSG:32650")
    with pytest.raises(ValueError, match="projected CRS"):
        geometry_to_wgs84(s, "gcj02")


def test_geometry_to_wgs84_is_vectorised():
    # one call converts 100k points quickly (no Python loop per point)
    rng = np.random.default_rng(0)
    pts = shapely.points(rng.uniform(110, 120, 100_000), rng.uniform(25, 35, 100_000))
    out = geometry_to_wgs84(pts, "gcj02")
    assert out.shape == (100_000,)
    x, y = gcj02_to_wgs84(shapely.get_x(pts), shapely.get_y(pts))
    np.testing.assert_array_equal(shapely.get_x(out), x)
    np.testing.assert_array_equal(shapely.get_y(out), y)
