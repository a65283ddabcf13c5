"""How long refusing an unreadable file takes, and how much memory the entity bombs cost: measured, not asserted.

A script, not a test (the tests only check that each file is refused with its reason)::

    python benchmarks/bench_refusals.py [--repeat 3]

1. Each unreadable file of ``tests/test_faults.py::UNREADABLE`` given as ``--checkpoints``: the wall time of
   ``audit`` plus ``validate`` through the command line in this process (as the test runs them), and the exit codes.
2. Each entity bomb, the deeply nested GeoJSON and an OSM entity bomb read in a child process of its own: its wall
   time and peak resident memory. The peak is the child's own ``VmHWM`` (Linux ``/proc/self/status``): a child's
   ``ru_maxrss`` (``RUSAGE_CHILDREN``, ``os.wait4``) starts from its parent's resident set at the fork, and
   ``RUSAGE_CHILDREN`` is the maximum over every child ever reaped, so neither measures the read.

Prints the machine it ran on. Before this script the tests asserted < 30 s per unreadable file, < 60 s and < 1 GiB
for the bombs' child, and < 60 s for the OSM bomb.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import world  # noqa: E402
from test_faults import BOMB_PROLOG, UNREADABLE  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from transportmon.cli import app  # noqa: E402

AS_OF = "2020-03-16"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    load = ", load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()) if hasattr(os, "getloadavg") else ""
    return (f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} logical CPUs{load}; "
            f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}")


def refuse_in_process(folder: Path, path: Path, encoding: bool) -> tuple[float, int, int]:
    """Seconds for audit + validate of ``folder`` with ``path`` as the checkpoints, and both exit codes."""
    more = ["--encoding", "utf-8"] if encoding else []
    runner = CliRunner()
    started = time.perf_counter()
    audit = runner.invoke(app, ["audit", "--data", str(folder), "--checkpoints", str(path), "--as-of", AS_OF,
                                "--out", str(path.parent / "report.geojson"), *more])
    check = runner.invoke(app, ["validate", "--data", str(folder), "--checkpoints", str(path), *more])
    return time.perf_counter() - started, audit.exit_code, check.exit_code


def read_in_child(path: Path, osm: bool) -> tuple[float, float, str]:
    """Seconds and peak MiB (NaN where ``/proc`` is not there) of a child process that reads ``path`` (the OSM
    reader for ``osm``), and its verdict."""
    reader = ("from transportmon.io.osm import roads_from_osm_file as read" if osm
              else "from transportmon.io.read import read_table as read")
    script = textwrap.dedent(f"""
        from transportmon._errors import TransportmonError
        {reader}
        try:
            read({str(path)!r})
            verdict = "read"
        except TransportmonError:
            verdict = "refused"
        try:
            with open("/proc/self/status", encoding="ascii") as f:
                kib = next(int(ln.split()[1]) for ln in f if ln.startswith("VmHWM:"))
        except OSError:
            kib = float("nan")
        print(verdict, kib)
    """)
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    seconds = time.perf_counter() - started
    words = proc.stdout.split()
    if proc.returncode or len(words) != 2:
        return seconds, float("nan"), f"exit {proc.returncode}"
    return seconds, float(words[1]) / 1024, words[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="runs of each case; the median is printed")
    args = ap.parse_args()
    print("machine:", machine())
    with tempfile.TemporaryDirectory(prefix="transportmon-refusals-") as tmp_name:
        tmp = Path(tmp_name)
        folder = world.write_world(tmp / "data", [{"checkpoint_id": "keep", "x": 30, "y": 98},
                                                  {"checkpoint_id": "remove", "x": 30, "y": 60}])
        runner = CliRunner()
        runner.invoke(app, ["validate", "--data", str(folder)])  # imports and first-call costs out of the timings

        print(f"\nunreadable files, audit + validate in process (median of {args.repeat}):")
        children: dict[str, Path] = {}
        for case, make, _ in UNREADABLE:
            sub = tmp / re.sub(r"\W+", "-", case)
            sub.mkdir()
            path = make(sub)
            if "bomb" in case or "nested" in case:
                children[case] = path
            runs = [refuse_in_process(folder, path, "--encoding" in case) for _ in range(args.repeat)]
            codes = sorted({(a, v) for _, a, v in runs})
            print(f"  {case:<38} {statistics.median(r[0] for r in runs):7.3f} s   exit codes {codes}")

        osm = tmp / "bomb.osm"
        osm.write_text(BOMB_PROLOG + '<osm version="0.6"><node id="1" lat="29" lon="116"><tag k="name" v="&lol9;"/>'
                       "</node></osm>\n", encoding="utf-8")
        print(f"\nbombs, each read in a child process of its own (median of {args.repeat}; peak = that child's):")
        baseline = tmp / "valid.csv"  # start-up, imports and a read that succeeds: what a refusal is compared with
        baseline.write_text("checkpoint_id,lon,lat\na,116,29.7\nb,116.1,29.7\n", encoding="utf-8")
        results = {}
        for case, path in [("a valid 2-row CSV (baseline)", baseline), *children.items(), ("OSM entity bomb", osm)]:
            runs = [read_in_child(path, osm=path == osm) for _ in range(args.repeat)]
            seconds = statistics.median(r[0] for r in runs)
            peak = max(r[1] for r in runs)
            verdicts = sorted({r[2] for r in runs})
            results[case] = {"seconds": round(seconds, 3), "peak_mib": round(peak, 1), "verdicts": verdicts}
            print(f"  {case:<38} {seconds:7.3f} s   peak {peak:7.1f} MiB   {', '.join(verdicts)}")
    print("\n" + json.dumps(results, ensure_ascii=False))


if __name__ == "__main__":
    main()
