"""A tiny hand-built world in UTM 50N metres (converted to WGS-84 for the layers), for exact checkpoint tests.

Jiujiang (360400) is the square x 0–100 km, y 0–100 km from the origin. Hubei (420000) lies north of its western
part (x -50…60 km) with a 50 m gap, as polygons from different sources do; Anhui (340000) north of the eastern part;
Hunan (430000) west.

Roads (km):
- ``G105`` national, x=30, y 50→110: crosses into Hubei at (30, 100);
- ``G70`` expressway, x=20, y 50→110: crosses into Hubei at (20, 100);
- ``S303`` riverside street, y=99.2, x 40→50, joined at (50, 99.2) to ``S304`` (x=50, y 99.2→50) and by ``X001``
  (y=50, x 30→50) to G105's south end: 800 m from the Hubei border in a straight line, ~60 km from a crossing by road;
- ``S201`` provincial, x=80, y 50→110: crosses into Anhui;
- ``S105`` provincial, y=30, x -10→30: crosses into Hunan.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

CRS_M = "EPSG:32650"
X0, Y0 = 400_000.0, 3_250_000.0


def m(x_km: float, y_km: float) -> tuple[float, float]:
    return (X0 + x_km * 1000.0, Y0 + y_km * 1000.0)


def box(x1: float, y1: float, x2: float, y2: float) -> shapely.Polygon:
    return shapely.box(*m(x1, y1), *m(x2, y2))


def line(*pts_km: tuple[float, float]) -> shapely.LineString:
    return shapely.LineString([m(*p) for p in pts_km])


def to_wgs(geoms: list, **cols) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(cols, geometry=gpd.GeoSeries(geoms, crs=CRS_M)).to_crs("EPSG:4326")


def boundaries() -> gpd.GeoDataFrame:
    return to_wgs(
        [box(0, 0, 100, 100), box(-50, 100.05, 60, 200), box(60.05, 100.05, 150, 200), box(-100, 0, -0.05, 100)],
        adcode=["360400", "420000", "340000", "430000"], name=["九江市", "湖北省", "安徽省", "湖南省"],
        level=["city", "province", "province", "province"])


def roads() -> gpd.GeoDataFrame:
    return to_wgs(
        [line((30, 50), (30, 110)), line((20, 50), (20, 110)), line((40, 99.2), (50, 99.2)),
         line((50, 99.2), (50, 50)), line((30, 50), (50, 50)), line((80, 50), (80, 110)), line((-10, 30), (30, 30))],
        road_id=["r-g105", "r-g70", "r-s303", "r-s304", "r-x001", "r-s201", "r-s105"],
        ref=["G105", "G70", "S303", "S304", "X001", "S201", "S105"],
        highway=["trunk", "motorway", "secondary", "secondary", "tertiary", "primary", "primary"])


def checkpoints(rows: list[dict]) -> gpd.GeoDataFrame:
    """Checkpoints from dicts with ``x``/``y`` in km and any other columns."""
    df = pd.DataFrame(rows)
    geoms = [shapely.Point(m(x, y)) for x, y in zip(df.pop("x"), df.pop("y"))]
    return to_wgs(geoms, **{c: df[c].tolist() for c in df.columns})


def write_world(folder: Path, cps: list[dict]) -> Path:
    """Write the world's layers as GeoJSON into ``folder`` (a ``--data`` folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    boundaries().to_file(folder / "boundaries.geojson", driver="GeoJSON")
    roads().to_file(folder / "roads.geojson", driver="GeoJSON")
    frame = checkpoints(cps)
    lonlat = frame.assign(lon=frame.geometry.x, lat=frame.geometry.y).drop(columns="geometry")
    pd.DataFrame(lonlat).to_csv(folder / "checkpoints.csv", index=False)
    return folder


def write_coach_layers(d: Path) -> None:
    """Stops, trips and stop times over the world: an over-cap inter-provincial trip, a compliant one, an intra-city
    one, and a trip with an unknown stop (rejected)."""
    stops = checkpoints([{"stop_id": "JJ", "x": 50, "y": 50}, {"stop_id": "HB1", "x": 30, "y": 150},
                               {"stop_id": "JJ2", "x": 60, "y": 60}])
    stops.assign(lon=stops.geometry.x, lat=stops.geometry.y).drop(columns="geometry").to_csv(d / "stops.csv",
                                                                                           index=False)
    pd.DataFrame({"trip_id": ["over", "ok", "intra"], "service_date": ["2020-03-01"] * 3,
                  "service_type": ["scheduled", "charter", "scheduled"], "seats": [45] * 3,
                  "passengers": [23, 22, 40]}).to_csv(d / "trips.csv", index=False)
    pd.DataFrame([("over", 1, "JJ", 1, 0), ("over", 2, "HB1", 0, 1), ("ok", 1, "JJ", 1, 0), ("ok", 2, "HB1", 0, 1),
                  ("intra", 1, "JJ", 1, 1), ("intra", 2, "JJ2", 1, 1)],
                 columns=["trip_id", "stop_sequence", "stop_id", "pickup", "dropoff"]).to_csv(d / "stop_times.csv",
                                                                                               index=False)
    pd.DataFrame({"adcode": ["420000"], "level": ["high"], "valid_from": ["2020-02-01"],
                  "valid_to": ["2020-03-10"]}).to_csv(d / "risk_areas.csv", index=False)
