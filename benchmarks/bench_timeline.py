"""A 60-day timeline against one audit: geometry is measured once, so the timeline should cost about one audit.

For each input, three whole processes (start-up and reading included), each timed for wall and CPU seconds and peak
memory: ``transportmon audit`` of one day, ``transportmon timeline`` over 60 days, and, inside the timeline process,
its stages (load, measure, the 60 days decided and counted). Sixty separate audits — what the timeline replaces —
are estimated as 60 × the audit process, not run. Inputs:

- the embedded Jiujiang sample (15 checkpoints on 2,618 roads, 37 trips);
- a folder with ``--stop-times`` rows (default 1e6) made by ``benchmarks/generate.py`` (trips over 90 days from
  2020-02-01, 30,000 stops, 5,000 designations), joined with the roads and checkpoints of its ``checkpoints-1e3``
  folder (1,000 checkpoints on 10,000 road segments), so that both halves of the audit are measured.

Run::

    python benchmarks/bench_timeline.py --data /tmp/tm-bench > benchmarks/RESULTS-timeline.md   # generates what is missing
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

FIRST, LAST, AS_OF = "2020-02-15", "2020-04-14", "2020-03-16"  # 60 days

#: What the child process runs for the timeline: the API, its stages timed (printed as JSON on stdout).
TIMELINE_CHILD = """
import json, sys, time
t0 = time.perf_counter()
from transportmon import daily
from transportmon.pipeline import load_inputs, measure
t1 = time.perf_counter()
data = sys.argv[1] or None
inputs = load_inputs(data)
t2 = time.perf_counter()
measured = measure(inputs, keep_layers=False)
t3 = time.perf_counter()
frame = daily.count_days(measured, daily.day_range(sys.argv[2], sys.argv[3]))
t4 = time.perf_counter()
frame.to_csv(sys.argv[4], index=False)
print(json.dumps({"imports": t1 - t0, "load": t2 - t1, "measure": t3 - t2, "days": t4 - t3,
                  "rows": len(frame), "trips": int(frame["trips"].sum())}))
"""


def run(cmd: list[str]) -> dict[str, object]:
    """Wall and CPU seconds, peak RSS (MiB) and stdout of a whole process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        code = os.waitstatus_to_exitcode(status)
        if code not in (0, 1):
            raise RuntimeError(f"{cmd} exited {code}: {err.read().decode()[-2000:]}")
        return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak_mib": usage.ru_maxrss / 1024,
                "stdout": out.read().decode()}


def ensure_inputs(data: Path, rows: int) -> Path:
    """The generated trips folder with the roads and checkpoints of a checkpoints folder beside it (symlinks)."""
    import generate

    trips = data / f"trips-{rows:.0e}".replace("+0", "")
    cps = data / "checkpoints-1e3"
    if not (trips / "stop_times.parquet").exists() or not (cps / "checkpoints.parquet").exists():
        bounds = generate.load_provinces()
        if not (trips / "stop_times.parquet").exists():
            generate.write_trips(trips, bounds, rows, 30_000, 0)
        if not (cps / "checkpoints.parquet").exists():
            generate.write_checkpoints(cps, bounds, 1000, 10_000, 0)
    both = data / f"timeline-{trips.name}"
    both.mkdir(parents=True, exist_ok=True)
    for folder, names in ((trips, ("boundaries", "stops", "trips", "stop_times", "risk_areas")),
                          (cps, ("roads", "checkpoints"))):
        for name in names:
            link = both / f"{name}.parquet"
            if not link.exists():
                link.symlink_to((folder / f"{name}.parquet").resolve())
    manifest = both / "manifest.toml"
    if not manifest.exists():
        manifest.write_text(f'as_of = "{AS_OF}"\n', encoding="utf-8")
    return both


def bench(label: str, data: Path | None, tmp: Path) -> None:
    data_args = ["--data", str(data)] if data is not None else []
    audit = run([sys.executable, "-m", "transportmon.cli", "audit", *data_args, "--as-of", AS_OF, "--out",
                 str(tmp / "report.parquet"), "--format", "json"])
    timeline = run([sys.executable, "-m", "transportmon.cli", "timeline", *data_args, "--from", FIRST, "--to", LAST,
                    "--out", str(tmp / "timeline.csv")])
    stages = run([sys.executable, "-c", TIMELINE_CHILD, str(data or ""), FIRST, LAST, str(tmp / "t.csv")])
    s = json.loads(str(stages["stdout"]).strip().splitlines()[-1])
    print(f"\n## {label}")
    print("| run | wall s | CPU s | peak MiB |\n|---|---:|---:|---:|")
    print(f"| audit, one day ({AS_OF}) | {audit['wall']:.1f} | {audit['cpu']:.1f} | {audit['peak_mib']:,.0f} |")
    print(f"| timeline, 60 days ({FIRST} … {LAST}) | {timeline['wall']:.1f} | {timeline['cpu']:.1f} | "
          f"{timeline['peak_mib']:,.0f} |")
    print(f"| 60 single-day audits (estimate: 60 × the audit) | {60 * float(audit['wall']):.0f} | "
          f"{60 * float(audit['cpu']):.0f} | |")
    print(f"\ntimeline / audit: {float(timeline['wall']) / float(audit['wall']):.2f} wall, "
          f"{float(timeline['cpu']) / float(audit['cpu']):.2f} CPU")
    print(f"timeline stages in process (s): imports {s['imports']:.1f}, read+validate {s['load']:.1f}, measure "
          f"(roads, checkpoint evidence, trip verdicts) {s['measure']:.1f}, 60 days decided and counted "
          f"{s['days']:.2f} ({1000 * s['days'] / 60:.1f} ms a day); {s['rows']} rows, {s['trips']:,} trips counted")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "tm-bench")
    parser.add_argument("--stop-times", type=float, default=1e6)
    args = parser.parse_args(argv)
    import numpy
    import pandas
    import shapely

    load = os.getloadavg()
    print(f"# Timeline benchmark\n\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Linux {platform.release()}; Python {platform.python_version()}; numpy {numpy.__version__}, pandas "
          f"{pandas.__version__}, shapely {shapely.__version__}. Load average before: "
          f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f} (the cores are shared: CPU time is the steadier figure).")
    sys.path.insert(0, str(HERE))
    folder = ensure_inputs(args.data, int(args.stop_times))
    with tempfile.TemporaryDirectory() as tmp:
        bench("The embedded sample", None, Path(tmp))
        bench(f"{int(args.stop_times):,} stop_times rows + 1,000 checkpoints on 10,000 road segments ({folder})",
              folder, Path(tmp))
    load = os.getloadavg()
    print(f"\nLoad average after: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


if __name__ == "__main__":
    main()
