"""Benchmark :func:`transportmon.designations.resolve_levels` on synthetic data.

Generates 30,000 point keys (stops) spread over 3,060 counties in 340 cities in 34 provinces, 5,000 dated
designations on those units, and 1e6 and 1e7 (key, date) queries over 100 distinct dates, then prints the
timings and the machine. Run: ``python benchmarks/bench_designations.py [--rows 1000000 10000000]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
from transportmon.designations import LEVELS, resolve_levels

N_KEYS = 30_000
N_PROVINCES = 34
CITIES_PER_PROVINCE = 10
COUNTIES_PER_CITY = 9
N_DESIGNATIONS = 5_000
FIRST_DAY = np.datetime64("2020-01-20")
N_DAYS = 100


def make_units(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """County, city and province adcodes (as strings), one county per row."""
    province = np.repeat(np.arange(11, 11 + N_PROVINCES), CITIES_PER_PROVINCE * COUNTIES_PER_CITY)
    city = np.tile(np.repeat(np.arange(1, CITIES_PER_PROVINCE + 1), COUNTIES_PER_CITY), N_PROVINCES)
    county = np.tile(np.arange(1, COUNTIES_PER_CITY + 1), N_PROVINCES * CITIES_PER_PROVINCE)
    county_code = np.char.mod("%06d", province * 10_000 + city * 100 + county)
    city_code = np.char.mod("%06d", province * 10_000 + city * 100)
    province_code = np.char.mod("%06d", province * 10_000)
    return county_code.astype(object), city_code.astype(object), province_code.astype(object)


def make_inputs(rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    county, city, province = make_units(rng)
    keys = np.char.mod("stop%05d", np.arange(N_KEYS)).astype(object)
    where = rng.integers(0, len(county), N_KEYS)
    point_units = pd.DataFrame(
        {
            "key": np.concatenate([keys, keys, keys]),
            "unit": np.concatenate([county[where], city[where], province[where]]),
        }
    )
    # Designations: mostly counties, some cities and provinces; ~30 % open-ended.
    all_units = np.concatenate([county, np.unique(city), np.unique(province)])
    weights = np.concatenate(
        [np.full(len(county), 0.85 / len(county)), np.full(len(np.unique(city)), 0.12 / len(np.unique(city))),
         np.full(len(np.unique(province)), 0.03 / len(np.unique(province)))]
    )
    unit = rng.choice(all_units, N_DESIGNATIONS, p=weights)
    start = FIRST_DAY + rng.integers(-20, N_DAYS, N_DESIGNATIONS).astype("timedelta64[D]")
    length = rng.integers(0, 40, N_DESIGNATIONS).astype("timedelta64[D]")
    end = np.where(rng.random(N_DESIGNATIONS) < 0.3, np.datetime64("NaT"), start + length)
    intervals = pd.DataFrame(
        {
            "row": np.arange(N_DESIGNATIONS),
            "unit": pd.array(unit.astype(str), dtype="str"),
            "level": pd.array(rng.choice(np.array(LEVELS), N_DESIGNATIONS), dtype="str"),
            "valid_from": start.astype("datetime64[s]"),
            "valid_to": end.astype("datetime64[s]"),
        }
    )
    return intervals, point_units, keys


def make_queries(rng: np.random.Generator, keys: np.ndarray, n: int, *, categorical: bool) -> pd.DataFrame:
    key_index = rng.integers(0, len(keys), n)
    if categorical:
        key = pd.Categorical.from_codes(key_index, categories=pd.Index(keys, dtype="str"))
    else:
        key = pd.array(keys.astype(str), dtype="str").take(key_index)
    date = (FIRST_DAY + rng.integers(0, N_DAYS, n).astype("timedelta64[D]")).astype("datetime64[ns]")
    return pd.DataFrame({"key": key, "date": date})


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    load = ", load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()) if hasattr(os, "getloadavg") else ""
    return (
        f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} logical CPUs{load}; "
        f"Python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    intervals, point_units, keys = make_inputs(rng)
    print(machine())
    print(
        f"{N_KEYS:,} keys, {len(point_units):,} key-unit rows, {len(intervals):,} designations, "
        f"{N_DAYS} distinct dates; best of {args.repeat}"
    )
    for n in args.rows:
        for categorical in (False, True):
            queries = make_queries(rng, keys, n, categorical=categorical)
            best = factorize = float("inf")
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                result = resolve_levels(intervals, point_units, queries)
                t1 = time.perf_counter()
                pd.factorize(queries["key"])  # the part of the work that depends on the key dtype
                t2 = time.perf_counter()
                best, factorize = min(best, t1 - t0), min(factorize, t2 - t1)
            share = result["level"].notna().mean()
            kind = "category" if categorical else "str"
            print(
                f"  {n:>12,} queries, key dtype {kind:<8}: {best:6.3f} s "
                f"(of which factorizing the keys ~{factorize:.3f} s; {share:.0%} with a designation)"
            )


if __name__ == "__main__":
    main()
