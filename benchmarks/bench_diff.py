"""Benchmark ``transportmon diff`` on two audits of a generated trips folder (``benchmarks/generate.py``).

OLD is the audit of the folder as generated; NEW the audit of a copy in which 1 % of the trips carry more passengers
(up to their seats), 1 % are gone (with their stop rows) and 1 % are new (copies under new ids). Both reports are
written in each form asked for; then each pair is read back (:func:`transportmon.io.report.read_report`) and
compared (:func:`transportmon.changes.compare`), and the changed subjects written, each step timed. Run::

    python benchmarks/generate.py --out /tmp/tm-bench --stop-times 100000 4000000 --checkpoints
    python benchmarks/bench_diff.py --data /tmp/tm-bench/trips-1e5 --work /tmp/tm-diff [--forms parquet geojson csv]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
import transportmon
from transportmon.changes import compare
from transportmon.io.report import read_report
from transportmon.io.write import write_report


def changed_copy(data: Path, target: Path, seed: int = 1) -> None:
    """``data`` copied to ``target`` with 1 % of trips fuller, 1 % gone, 1 % new."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(data, target)
    rng = np.random.default_rng(seed)
    trips = pd.read_parquet(target / "trips.parquet")
    st = pd.read_parquet(target / "stop_times.parquet")
    n = len(trips)
    pick = rng.permutation(n)
    fuller, gone, copied = pick[: n // 100], pick[n // 100: n // 50], pick[n // 50: 3 * n // 100]
    trips.loc[fuller, "passengers"] = trips.loc[fuller, "seats"]
    gone_ids = trips["trip_id"].iloc[gone]
    new_trips = trips.iloc[copied].copy()
    new_trips["trip_id"] = new_trips["trip_id"].astype(str) + "-new"
    new_st = st[st["trip_id"].isin(trips["trip_id"].iloc[copied])].copy()
    new_st["trip_id"] = new_st["trip_id"].astype(str) + "-new"
    trips = pd.concat([trips.drop(index=gone), new_trips], ignore_index=True)
    st = pd.concat([st[~st["trip_id"].isin(gone_ids)], new_st], ignore_index=True)
    trips.to_parquet(target / "trips.parquet", index=False)
    st.to_parquet(target / "stop_times.parquet", index=False)


def timed(what: str, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    print(f"  {what}: {time.perf_counter() - start:.2f} s", flush=True)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--forms", nargs="*", default=["parquet", "geojson", "csv"])
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; "
          f"data {args.data}")
    changed_copy(args.data, args.work / "new-data")
    old = timed("audit OLD", transportmon.audit, args.data, keep_layers=False)
    new = timed("audit NEW", transportmon.audit, args.work / "new-data", keep_layers=False)
    print(f"  subjects: {len(old.report):,} → {len(new.report):,}")
    d = timed("compare the audits in memory", compare, old.report, new.report, old.metadata, new.metadata)
    print(f"  counts: {d.counts}")
    for form in args.forms:
        print(f"{form}:")
        paths = [args.work / f"old.{form}", args.work / f"new.{form}"]
        for p, r in zip(paths, (old, new)):
            timed(f"write {p.name}", write_report, r.report, r.metadata, str(p))
        print(f"  sizes: {', '.join(f'{p.stat().st_size / 1e6:.0f} MB' for p in paths)}")
        a = timed("read OLD", read_report, paths[0])
        b = timed("read NEW", read_report, paths[1])
        got = timed("compare", compare, a[0], b[0], a[1], b[1])
        assert got.counts == d.counts, (got.counts, d.counts)  # every form gives the same diff
        timed("write changes.geojson", write_report, got.changed, got.metadata, str(args.work / "changes.geojson"))


if __name__ == "__main__":
    main()
