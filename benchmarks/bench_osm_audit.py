"""Audit checkpoints on a province-sized synthetic osmnx graph (~300,000 edges), end to end in one process.

A script, not a test::

    python benchmarks/bench_osm_audit.py [--side 275] [--checkpoints 10000]

The graph is ``bench_osm_graph.synthetic_graph`` (a lon/lat grid over northern Jiangxi in osmnx form); a straight
provincial line at lat 29.9 splits it, the part to the south being the jurisdiction and the part to the north the
exempt neighbour, so hundreds of roads cross the exempt border. Checkpoints are random points near roads. Stages are
timed separately: roads from the graph, the audit (snap, classes, crossings, one multi-source Dijkstra), and the
whole. Prints the machine it ran on.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_osm_graph import synthetic_graph

import transportmon
from transportmon.io.osm import roads_from_graph


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--side", type=int, default=275)
    ap.add_argument("--checkpoints", type=int, default=10_000)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/transportmon-bench-osm"))
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)

    t0 = time.perf_counter()
    G = synthetic_graph(args.side)
    t1 = time.perf_counter()
    roads = roads_from_graph(G)
    t2 = time.perf_counter()
    west, south, east, north = roads.total_bounds
    split = south + (north - south) * 0.5
    boundaries = gpd.GeoDataFrame(
        {"adcode": ["360400", "420000"], "name": ["jurisdiction", "neighbour"], "level": ["city", "province"]},
        geometry=[shapely.box(west - 0.1, south - 0.1, east + 0.1, split),
                  shapely.box(west - 0.1, split + 0.0003, east + 0.1, north + 0.1)], crs="EPSG:4326")
    # Checkpoints: random points within ~50 m of random roads south of the line.
    pick = roads.sample(args.checkpoints, random_state=1, replace=True)
    pts = shapely.line_interpolate_point(pick.geometry.to_numpy(), rng.random(len(pick)), normalized=True)
    jitter = rng.normal(0, 0.0003, size=(len(pts), 2))
    cps = pd.DataFrame({"checkpoint_id": [f"C{i:06d}" for i in range(len(pts))],
                        "lon": shapely.get_x(pts) + jitter[:, 0], "lat": shapely.get_y(pts) + jitter[:, 1]})
    roads_path, bnd_path, cp_path = (args.workdir / "roads.parquet", args.workdir / "boundaries.geojson",
                                     args.workdir / "checkpoints.csv")
    roads.to_parquet(roads_path)
    boundaries.to_file(bnd_path, driver="GeoJSON")
    cps.to_csv(cp_path, index=False)
    t3 = time.perf_counter()
    result = transportmon.audit(roads=roads_path, boundaries=bnd_path, checkpoints=cp_path, as_of="2020-03-16")
    t4 = time.perf_counter()
    counts = result.metadata["counts"].get("checkpoint", {})
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, {time.strftime('%Y-%m-%d')}")
    print(f"graph: {G.number_of_nodes():,} nodes, {G.number_of_edges():,} directed edges → {len(roads):,} road rows")
    print(f"synthetic graph {t1 - t0:.1f} s | roads_from_graph {t2 - t1:.1f} s | "
          f"audit of {len(cps):,} checkpoints {t4 - t3:.1f} s | crossings {result.metadata['crossings']} | "
          f"peak RSS {peak:,.0f} MiB")
    print("verdicts:", counts)


if __name__ == "__main__":
    main()
