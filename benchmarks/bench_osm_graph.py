"""Time ``roads_from_graph`` on a province-sized synthetic osmnx graph (~300,000 edges).

A script, not a test::

    python benchmarks/bench_osm_graph.py [--side 275] [--repeat 3]

The graph looks like what osmnx returns for a simplified drive network: a lon/lat grid over northern Jiangxi
whose nodes carry ``x``/``y`` and whose edges carry ``osmid``, ``highway``, ``ref``, ``name``, ``oneway``,
``reversed``, ``length`` and, on about half of them, a ``geometry`` (the others get a straight line). Most
roads are two-way (an edge each way); every tenth row of the grid is one-way. About a fifth of the edges were
"merged" by simplification and carry lists (``osmid=[a, b]``, ``highway=[...]``, ``name=[...]``), which
``roads_from_graph`` joins or ranks. Ferries are every 97th edge. The side ``n`` gives ``4·n·(n-1)`` directed
edges minus the one-way rows' reverse edges: ``n = 275`` gives ~300,000.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import networkx as nx
import numpy as np
import osmnx as ox
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
from transportmon.io.osm import roads_from_graph

HIGHWAYS = ["primary", "secondary", "tertiary", "residential", "trunk", "unclassified", "service", "footway"]
REFS = ["G105", "G316", "S303", "G105;S303", "X021", None, None, None]


def synthetic_graph(side: int, seed: int = 0) -> nx.MultiDiGraph:
    """A ``side`` × ``side`` grid in osmnx form (see the module docstring)."""
    rng = np.random.default_rng(seed)
    lon0, lat0, step = 114.5, 28.5, 0.01
    G = nx.MultiDiGraph(crs="EPSG:4326", simplified=True)
    ids = np.arange(side * side, dtype="int64") + 1_000_000_000
    xs = lon0 + step * (np.arange(side * side) % side)
    ys = lat0 + step * (np.arange(side * side) // side)
    G.add_nodes_from((int(i), {"x": float(x), "y": float(y)}) for i, x, y in zip(ids, xs, ys, strict=True))

    grid = ids.reshape(side, side)
    pairs = np.concatenate(
        [
            np.column_stack([grid[:, :-1].ravel(), grid[:, 1:].ravel()]),  # east–west
            np.column_stack([grid[:-1, :].ravel(), grid[1:, :].ravel()]),  # north–south
        ]
    )
    row_of = (pairs[:, 0] - ids[0]) // side
    one_way = (row_of % 10 == 0) & (pairs[:, 1] - pairs[:, 0] == 1)
    coord = dict(zip(ids.tolist(), zip(xs.tolist(), ys.tolist(), strict=True), strict=True))
    way_ids = rng.integers(10_000_000, 900_000_000, size=len(pairs))
    hw = rng.integers(0, len(HIGHWAYS), size=len(pairs))
    ref = rng.integers(0, len(REFS), size=len(pairs))
    merged = rng.random(len(pairs)) < 0.2
    bent = rng.random(len(pairs)) < 0.5
    edges = []
    for k, (u, v) in enumerate(pairs.tolist()):
        (x0, y0), (x1, y1) = coord[u], coord[v]
        data: dict[str, object] = {
            "osmid": [int(way_ids[k]), int(way_ids[k]) + 1] if merged[k] else int(way_ids[k]),
            "highway": [HIGHWAYS[hw[k]], "residential"] if merged[k] else HIGHWAYS[hw[k]],
            "name": ["路" + str(k), "街" + str(k)] if merged[k] else "路" + str(k % 5000),
            "oneway": bool(one_way[k]),
            "length": float(np.hypot(x1 - x0, y1 - y0) * 100_000),
        }
        if REFS[ref[k]] is not None:
            data["ref"] = REFS[ref[k]]
        if k % 97 == 0:
            data = {**data, "route": "ferry"}
            data.pop("highway")
        line = None
        if bent[k]:
            line = shapely.LineString([(x0, y0), ((x0 + x1) / 2 + 0.001, (y0 + y1) / 2 + 0.001), (x1, y1)])
            data["geometry"] = line
        edges.append((u, v, {**data, "reversed": False}))
        if not one_way[k]:
            back = {**data, "reversed": True}
            if line is not None:
                back["geometry"] = line.reverse()
            edges.append((v, u, back))
    G.add_edges_from(edges)
    return G


def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = "?"
    try:
        mem = f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.1f} GiB"
    except (ValueError, OSError, AttributeError):
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{platform.platform()} | {cpu} | {cores} cores usable | RAM {mem} | "
        f"Python {platform.python_version()} | osmnx {ox.__version__}, networkx {nx.__version__}, "
        f"pandas {pd.__version__}, shapely {shapely.__version__}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=275, help="grid side (275 → ~300,000 edges)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    print(machine())
    t0 = time.perf_counter()
    G = synthetic_graph(args.side)
    built = time.perf_counter() - t0
    print(f"synthetic graph: {len(G):,} nodes, {G.number_of_edges():,} edges, built in {built:.1f} s")

    to_gdfs, total, cpu_gdfs, cpu_total = [], [], [], []
    roads = None
    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        ox.convert.graph_to_gdfs(G, node_geometry=False, fill_edge_geometry=False)
        to_gdfs.append(time.perf_counter() - t0)
        cpu_gdfs.append(time.process_time() - c0)
        t0, c0 = time.perf_counter(), time.process_time()
        roads = roads_from_graph(G)
        total.append(time.perf_counter() - t0)
        cpu_total.append(time.process_time() - c0)
    assert roads is not None
    print(f"roads layer: {len(roads):,} rows ({int((roads['route'] == 'ferry').sum()):,} ferries, "
          f"{int(roads['road_id'].str.contains(';').sum()):,} merged ids)")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average during the run: {load:.1f} (wall times grow with it; CPU times much less)")
    med = statistics.median
    print(f"osmnx graph_to_gdfs alone : wall median {med(to_gdfs):.2f} s (min {min(to_gdfs):.2f}), "
          f"CPU median {med(cpu_gdfs):.2f} s")
    print(f"roads_from_graph total    : wall median {med(total):.2f} s (min {min(total):.2f}), "
          f"CPU median {med(cpu_total):.2f} s")
    print(f"  beyond graph_to_gdfs    : CPU ~{med(cpu_total) - med(cpu_gdfs):.2f} s; "
          f"{G.number_of_edges() / med(cpu_total):,.0f} edges per CPU second overall")


if __name__ == "__main__":
    main()
