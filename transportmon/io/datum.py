"""Conversions between WGS-84, GCJ-02 (Amap/Tencent "Mars" datum) and BD-09 (Baidu).

Chinese web maps do not publish WGS-84 coordinates. GCJ-02 adds a smooth, deliberately
obfuscating offset of a few hundred metres to WGS-84 (about 500 m around Jiujiang); BD-09
adds a second, Baidu-specific offset on top of GCJ-02. A checkpoint that sits 300 m from a
provincial border can land on the wrong side if its datum is ignored, so every layer that
comes from a Chinese map service is converted here before any geometry is compared.

The forward formulas are the widely reimplemented ones (eviltransform, coordtransform,
PRCoords): the GCJ-02 offset is a fixed trigonometric polynomial of ``(lon - 105, lat - 35)``
scaled to degrees on the Krasovsky 1940 ellipsoid, and it is applied only inside a rough
bounding box of China (:func:`out_of_china`); outside it GCJ-02 equals WGS-84 in both
directions. BD-09 is a small rotation and scaling of GCJ-02 followed by a fixed shift; as
in the reference libraries it is applied everywhere, without the China box.

Neither offset has a closed-form inverse. The inverse conversions therefore iterate the
forward formula to a fixed point (``w <- w - (f(w) - g)``), starting from the one-step
inverse ``2 g - f(g)`` that most libraries stop at. The offset's gradient is small (at most
about 1/150), so each step shrinks the error by that factor: three steps take the
metre-level first guess to about 1e-5 m, and the loop stops there (residual < 1e-8 degrees).

Accuracy of the inverse, measured with ``pyproj.Geod`` (WGS-84 ellipsoid, metres) on a
0.1 degree grid covering lon 73-135, lat 18-53 (217,971 points; the check is
``test_gcj02_inverse_error_on_china_grid`` in ``tests/test_datum.py``):

* WGS-84 -> GCJ-02 -> WGS-84: maximum error 9.1e-6 m (99th percentile 4.0e-7 m);
* GCJ-02 -> WGS-84 -> GCJ-02: maximum error 1.3e-6 m;
* WGS-84 -> BD-09 -> WGS-84: maximum error 9.1e-6 m;
* for comparison, the one-step inverse ``2 g - f(g)``: maximum error 4.9 m, and Baidu's
  closed-form BD-09 -> GCJ-02 inverse: 0.21 m.

Converting the whole grid GCJ-02 -> WGS-84 takes ~0.3 s (4 evaluations of the forward formula).

All functions are vectorised over numpy arrays (no Python loop per point), broadcast
``lon`` against ``lat`` and return float64 arrays of the broadcast shape. A NaN in either
coordinate gives NaN in both outputs, without warnings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import ArrayLike

from ..vocab import DATUMS, Datum

__all__ = [
    "DATUMS",
    "Datum",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "from_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "geometry_to_wgs84",
    "out_of_china",
    "to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]


# Krasovsky 1940 ellipsoid, which GCJ-02 uses to turn its metre offsets into degrees.
_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323

# Baidu's constants: the rotation/scaling term and the fixed shift of BD-09.
_BD_X_PI = np.pi * 3000.0 / 180.0
_BD_DLON = 0.0065
_BD_DLAT = 0.0060

# The rough China box used by every public implementation; GCJ-02 is the identity outside.
_CHINA_LON = (72.004, 137.8347)
_CHINA_LAT = (0.8293, 55.8271)

# The fixed-point iteration stops once every residual is below _TOL_DEG (~1 mm). The step
# that sees that residual still applies it, and each step shrinks the error by ~150x, so
# the result is good to ~1e-5 m. (The residual cannot go below ~2e-12 degrees anyway:
# float64 noise of sin() at arguments near 600 rad.) _MAX_ITER guards odd inputs; anywhere
# in China three steps suffice.
_TOL_DEG = 1e-8
_MAX_ITER = 10

_Pair = tuple[np.ndarray, np.ndarray]
G = TypeVar("G", np.ndarray, gpd.GeoSeries, gpd.GeoDataFrame)


def _as_arrays(lon: ArrayLike, lat: ArrayLike) -> _Pair:
    """Return ``lon`` and ``lat`` as broadcast float64 arrays (fresh copies)."""
    x, y = np.broadcast_arrays(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
    return x.copy(), y.copy()


def out_of_china(lon: ArrayLike, lat: ArrayLike) -> np.ndarray:
    """Tell which points lie outside the rough China box where GCJ-02 applies.

    The box (lon 72.004-137.8347, lat 0.8293-55.8271) is the one used by eviltransform,
    coordtransform and PRCoords; it is deliberately rough, so it also contains parts of
    neighbouring countries, exactly as the datum itself does.

    Parameters
    ----------
    lon, lat
        Longitudes and latitudes in degrees (broadcast against each other).

    Returns
    -------
    numpy.ndarray
        Boolean array, True outside the box. NaN coordinates count as outside, so they
        pass through the conversions unchanged (still NaN).
    """
    x, y = _as_arrays(lon, lat)
    inside = (x >= _CHINA_LON[0]) & (x <= _CHINA_LON[1]) & (y >= _CHINA_LAT[0]) & (y <= _CHINA_LAT[1])
    return ~inside


def _gcj_offset(lon: np.ndarray, lat: np.ndarray) -> _Pair:
    """GCJ-02 minus WGS-84 at the WGS-84 point ``(lon, lat)``, in degrees, without the China box."""
    x = lon - 105.0
    y = lat - 35.0
    # The polynomial gives the offset in (approximately) metres of arc ...
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    d_lat = (
        -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
        + common
        + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    )
    d_lon = (
        300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
        + common
        + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    )
    # ... which is turned into degrees with the Krasovsky meridian and parallel radii.
    rad_lat = np.radians(lat)
    magic = 1.0 - _GCJ_EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = d_lat * 180.0 / ((_GCJ_A * (1.0 - _GCJ_EE)) / (magic * sqrt_magic) * np.pi)
    d_lon = d_lon * 180.0 / (_GCJ_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    return d_lon, d_lat


def _fixed_point_inverse(
    forward: Callable[[np.ndarray, np.ndarray], _Pair], lon: np.ndarray, lat: np.ndarray
) -> _Pair:
    """Solve ``forward(w) == (lon, lat)`` for ``w`` by fixed-point iteration.

    The start is ``2 g - f(g)``, the usual one-step inverse (metre-level); each further step
    corrects by the remaining residual. Converged points keep being updated with a
    residual of ~0, which is cheaper than masking for the 3-4 steps needed.
    The error shrinks by a factor of ~150 per step (the offset's gradient is at most
    ~1/150), from ~5 m after the first guess to ~1e-5 m after three steps.
    """
    f_lon, f_lat = forward(lon, lat)
    w_lon = 2.0 * lon - f_lon
    w_lat = 2.0 * lat - f_lat
    for _ in range(_MAX_ITER):
        f_lon, f_lat = forward(w_lon, w_lat)
        r_lon = f_lon - lon
        r_lat = f_lat - lat
        w_lon -= r_lon
        w_lat -= r_lat
        # NaN compares False, so NaN points never hold the loop open.
        if not ((np.abs(r_lon) > _TOL_DEG).any() or (np.abs(r_lat) > _TOL_DEG).any()):
            break
    return w_lon, w_lat


def _gcj_forward_unboxed(lon: np.ndarray, lat: np.ndarray) -> _Pair:
    d_lon, d_lat = _gcj_offset(lon, lat)
    return lon + d_lon, lat + d_lat


def _apply_box(x: np.ndarray, y: np.ndarray, conv_x: np.ndarray, conv_y: np.ndarray) -> _Pair:
    """Keep the input outside the China box, the conversion inside; NaN in either gives NaN in both."""
    outside = out_of_china(x, y)
    missing = np.isnan(x) | np.isnan(y)
    out_x = np.where(outside, x, conv_x)
    out_y = np.where(outside, y, conv_y)
    out_x[missing] = np.nan
    out_y[missing] = np.nan
    return out_x, out_y


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> _Pair:
    """Convert WGS-84 coordinates to GCJ-02.

    Parameters
    ----------
    lon, lat
        WGS-84 longitudes and latitudes in degrees.

    Returns
    -------
    tuple of numpy.ndarray
        GCJ-02 ``(lon, lat)``; unchanged outside the China box (:func:`out_of_china`).
    """
    x, y = _as_arrays(lon, lat)
    with np.errstate(invalid="ignore"):
        g_lon, g_lat = _gcj_forward_unboxed(x, y)
    return _apply_box(x, y, g_lon, g_lat)


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> _Pair:
    """Convert GCJ-02 coordinates to WGS-84 by iterating the forward formula.

    The forward offset has no closed-form inverse; subtracting the offset taken at the
    GCJ-02 point (what most libraries do) is off by up to ~5 m. Iterating to a fixed point
    brings the error below 1e-5 m (see the module docstring for the measurement).

    Parameters
    ----------
    lon, lat
        GCJ-02 longitudes and latitudes in degrees.

    Returns
    -------
    tuple of numpy.ndarray
        WGS-84 ``(lon, lat)``; unchanged where the GCJ-02 point is outside the China box.
    """
    x, y = _as_arrays(lon, lat)
    with np.errstate(invalid="ignore"):
        # The iteration uses the unboxed offset so that it stays smooth near the box edge.
        w_lon, w_lat = _fixed_point_inverse(_gcj_forward_unboxed, x, y)
    return _apply_box(x, y, w_lon, w_lat)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> _Pair:
    """Convert GCJ-02 coordinates to BD-09 (Baidu).

    Parameters
    ----------
    lon, lat
        GCJ-02 longitudes and latitudes in degrees.

    Returns
    -------
    tuple of numpy.ndarray
        BD-09 ``(lon, lat)``. Applied everywhere, as Baidu and the reference libraries do.
    """
    x, y = _as_arrays(lon, lat)
    with np.errstate(invalid="ignore"):
        return _bd_forward(x, y)


def _bd_forward(x: np.ndarray, y: np.ndarray) -> _Pair:
    z = np.hypot(x, y) + 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _BD_X_PI)
    return z * np.cos(theta) + _BD_DLON, z * np.sin(theta) + _BD_DLAT


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> _Pair:
    """Convert BD-09 (Baidu) coordinates to GCJ-02.

    Baidu's published closed-form inverse is only approximate (up to ~0.2 m off), so
    :func:`gcj02_to_bd09` is solved instead by the same fixed-point iteration as
    :func:`gcj02_to_wgs84`; BD-09 round trips are then exact to well below a millimetre.

    Parameters
    ----------
    lon, lat
        BD-09 longitudes and latitudes in degrees.

    Returns
    -------
    tuple of numpy.ndarray
        GCJ-02 ``(lon, lat)``.
    """
    x, y = _as_arrays(lon, lat)
    with np.errstate(invalid="ignore"):
        return _fixed_point_inverse(_bd_forward, x, y)


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> _Pair:
    """Convert WGS-84 coordinates to BD-09 (through GCJ-02).

    Parameters
    ----------
    lon, lat
        WGS-84 longitudes and latitudes in degrees.

    Returns
    -------
    tuple of numpy.ndarray
        BD-09 ``(lon, lat)``.
    """
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> _Pair:
    """Convert BD-09 (Baidu) coordinates to WGS-84 (through GCJ-02).

    Parameters
    ----------
    lon, lat
        BD-09 longitudes and latitudes in degrees.

    Returns
    -------
    tuple of numpy.ndarray
        WGS-84 ``(lon, lat)``.
    """
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def _check_datum(datum: str) -> Datum:
    """Normalise a datum name (case, ``-`` and ``_`` are ignored) or raise ValueError."""
    key = str(datum).strip().lower().replace("-", "").replace("_", "")
    if key not in DATUMS:
        allowed = ", ".join(repr(d) for d in DATUMS)
        raise ValueError(f"unknown datum {datum!r}; expected one of {allowed}")
    return key  # type: ignore[return-value]


_TO_WGS84: dict[str, Callable[[ArrayLike, ArrayLike], _Pair]] = {
    "wgs84": _as_arrays,
    "gcj02": gcj02_to_wgs84,
    "bd09": bd09_to_wgs84,
}
_FROM_WGS84: dict[str, Callable[[ArrayLike, ArrayLike], _Pair]] = {
    "wgs84": _as_arrays,
    "gcj02": wgs84_to_gcj02,
    "bd09": wgs84_to_bd09,
}


def to_wgs84(lon: ArrayLike, lat: ArrayLike, datum: Datum) -> _Pair:
    """Convert coordinates given in ``datum`` to WGS-84.

    Parameters
    ----------
    lon, lat
        Longitudes and latitudes in degrees, in ``datum``.
    datum
        One of :data:`DATUMS` (``"wgs84"``, ``"gcj02"``, ``"bd09"``); case and ``-``/``_``
        are ignored, so ``"GCJ-02"`` works too.

    Returns
    -------
    tuple of numpy.ndarray
        WGS-84 ``(lon, lat)`` (a copy when ``datum`` is already WGS-84).

    Raises
    ------
    ValueError
        If ``datum`` is not one of the allowed values.
    """
    return _TO_WGS84[_check_datum(datum)](lon, lat)


def from_wgs84(lon: ArrayLike, lat: ArrayLike, datum: Datum) -> _Pair:
    """Convert WGS-84 coordinates to ``datum``.

    Parameters
    ----------
    lon, lat
        WGS-84 longitudes and latitudes in degrees.
    datum
        Target datum, one of :data:`DATUMS`.

    Returns
    -------
    tuple of numpy.ndarray
        ``(lon, lat)`` in ``datum``.

    Raises
    ------
    ValueError
        If ``datum`` is not one of the allowed values.
    """
    return _FROM_WGS84[_check_datum(datum)](lon, lat)


def geometry_to_wgs84(geoms: G, datum: Datum) -> G:
    """Convert every coordinate of some geometries from ``datum`` to WGS-84.

    All coordinates of all geometries go through one vectorised call (``shapely.transform``),
    so the cost is that of the numpy conversion, whatever the geometry types. Points,
    lines, polygons and multi-part geometries keep their structure; missing (None) and
    empty geometries stay as they are; Z values are kept unchanged.

    Parameters
    ----------
    geoms
        A numpy array of shapely geometries, a GeoSeries, or a GeoDataFrame (its active
        geometry column is converted), with longitude/latitude coordinates in ``datum``.
    datum
        Datum of the input coordinates, one of :data:`DATUMS`.

    Returns
    -------
    numpy.ndarray, GeoSeries or GeoDataFrame
        Same type, index and shape as ``geoms``, in WGS-84; a GeoSeries or GeoDataFrame
        gets CRS EPSG:4326.

    Raises
    ------
    ValueError
        If ``datum`` is unknown, or if a GeoSeries/GeoDataFrame has a projected CRS (the
        datum conversions only make sense on longitude/latitude).
    """
    key = _check_datum(datum)
    if isinstance(geoms, gpd.GeoDataFrame):
        converted = geometry_to_wgs84(geoms.geometry, key)
        out = geoms.copy()
        out[geoms.geometry.name] = converted
        return out.set_crs("EPSG:4326", allow_override=True)
    if isinstance(geoms, gpd.GeoSeries):
        if geoms.crs is not None and not geoms.crs.is_geographic:
            raise ValueError(
                f"geometry_to_wgs84 needs longitude/latitude coordinates, got projected CRS "
                f"{geoms.crs.to_string()}; reproject to EPSG:4326 first"
            )
        values = geometry_to_wgs84(np.asarray(geoms.array, dtype=object), key)
        return gpd.GeoSeries(values, index=geoms.index, name=geoms.name, crs="EPSG:4326")

    arr = np.asarray(geoms, dtype=object)
    if key == "wgs84":
        return arr.copy()
    convert = _TO_WGS84[key]

    def _transform(coords: np.ndarray) -> np.ndarray:
        out = coords.copy()
        out[:, 0], out[:, 1] = convert(coords[:, 0], coords[:, 1])
        return out

    # include_z=None keeps 3D geometries 3D (the function sees (N, 3) for them).
    return shapely.transform(arr, _transform, include_z=None)
