"""The naive baseline: GeoPandas ``sjoin`` of every trip-stop row against the county polygons.

This is the step transportmon (and the DuckDB peer) do once per *distinct* stop (30,000 at most) and then join by
``stop_id``; done per ``stop_times`` row, its cost grows with the rows × polygon complexity. The script reads the same
Parquet (or CSV) files, gives every stop_times row its stop's point, joins the points with the counties (``intersects``),
and writes each row's county adcode. It stops there: the rest of the audit is column joins either way.

Run: ``python benchmarks/naive_sjoin.py DATA_DIR OUT.parquet``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd


def main() -> None:
    data, out = Path(sys.argv[1]), Path(sys.argv[2])
    t = time.perf_counter()
    bounds = gpd.read_parquet(data / "boundaries.parquet")
    counties = bounds[bounds["level"] == "county"][["adcode", "geometry"]]
    if (data / "stops.parquet").exists():
        stops = gpd.read_parquet(data / "stops.parquet")
        st = pd.read_parquet(data / "stop_times.parquet", columns=["trip_id", "stop_sequence", "stop_id"])
    else:  # the CSV shape: stops with lon/lat columns
        plain = pd.read_csv(data / "stops.csv", dtype={"stop_id": str})
        stops = gpd.GeoDataFrame(plain, geometry=gpd.points_from_xy(plain["lon"], plain["lat"]), crs="EPSG:4326")
        st = pd.read_csv(data / "stop_times.csv", usecols=["trip_id", "stop_sequence", "stop_id"],
                         dtype={"trip_id": str, "stop_id": str})
    print(f"STAGE read {time.perf_counter() - t:.3f}", flush=True)
    t = time.perf_counter()
    points = gpd.GeoDataFrame(st, geometry=stops.set_index("stop_id").geometry.reindex(st["stop_id"]).to_numpy(),
                              crs="EPSG:4326")
    print(f"STAGE points per row {time.perf_counter() - t:.3f}", flush=True)
    t = time.perf_counter()
    joined = gpd.sjoin(points, counties, how="left", predicate="intersects")
    print(f"STAGE sjoin {time.perf_counter() - t:.3f}", flush=True)
    t = time.perf_counter()
    pd.DataFrame(joined.drop(columns="geometry")).to_parquet(out, index=False)
    print(f"STAGE write {time.perf_counter() - t:.3f}", flush=True)


if __name__ == "__main__":
    main()
