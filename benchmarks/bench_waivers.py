"""Benchmark :func:`transportmon.waivers.apply_waivers` on a report of many over-cap trips.

Builds a report of N trips (one TM201 violation each, as the trip audit leaves them) and applies 10, 1,000 and
10,000 waivers (half in effect, half expired on the trips' date), then prints the time of each and of writing the
GeoJSON with and without waivers. Only the named trips' findings are unpacked; the rest of the column is reused.
Run: ``python benchmarks/bench_waivers.py [--rows 1000000]``.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
from transportmon.io.write import geojson_chunks
from transportmon.report import assemble, one_finding_each
from transportmon.waivers import apply_waivers, validate_waivers


def report_of(n: int) -> tuple[gpd.GeoDataFrame, pd.Series]:
    ids = pd.Series([f"T{i:08d}" for i in range(n)], dtype="str")
    part = gpd.GeoDataFrame({
        "subject": pd.Categorical.from_codes(np.zeros(n, np.int8), ["trip"]), "subject_id": ids,
        "verdict": "over-cap", "service_date": pd.Series(["2020-03-01"] * n, dtype="str"),
        "source_row": np.arange(n)}, geometry=np.full(n, None))
    found = pd.DataFrame({"subject_id": ids, "rule_id": "TM201", "severity": "violation",
                          "message_zh": "2020-03-01跨省班车在高风险地区上下客，超载1人。",
                          "message_en": "2020-03-01 inter-provincial scheduled coach over the 50% cap: 1 too many."})
    return assemble([one_finding_each(part, found)], "policy"), ids


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, {args.rows:,} trips")
    t = time.perf_counter()
    report, ids = report_of(args.rows)
    print(f"report built in {time.perf_counter() - t:.2f} s")
    t = time.perf_counter()
    size = sum(len(x) for x in geojson_chunks(report, {}))
    print(f"GeoJSON without waivers: {time.perf_counter() - t:.2f} s ({size / 1e6:.0f} MB of text)")
    for k in (10, 1_000, 10_000):
        rows = np.random.default_rng(k).choice(args.rows, k, replace=False)
        layer = validate_waivers(pd.DataFrame({
            "subject": "trip", "subject_id": ids.iloc[rows].to_numpy(), "rule_id": "TM201", "document": "文",
            "valid_from": "2020-02-01", "valid_until": np.where(np.arange(k) % 2, "2020-03-31", "2020-02-15")}))
        t = time.perf_counter()
        out, counts = apply_waivers(report, layer, pd.Timestamp("2020-03-16"))
        applied = time.perf_counter() - t
        t = time.perf_counter()
        sum(len(x) for x in geojson_chunks(out, {}))
        print(f"{k:>6,} waivers: applied in {applied:.2f} s ({counts['waived']} waived, {counts['expired']} "
              f"expired); GeoJSON {time.perf_counter() - t:.2f} s")


if __name__ == "__main__":
    main()
