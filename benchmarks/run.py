"""Time the whole ``transportmon audit`` process against its peers on generated inputs; write ``RESULTS.md``.

Each measured run is its own process (start-up, reading Parquet and writing the GeoParquet report included). Wall
time is measured around the process, CPU time (user + system) and ``ru_maxrss`` (the largest resident set of the
process or of any child it waited for) come from ``os.wait4``. ``ru_maxrss`` misses what runs beside the process: the
worker processes of a Dask ``LocalCluster`` are started by a helper process and never waited for by the measured
one, and they are where an out-of-core audit holds its data. So the whole process tree is sampled too (:func:`tree_rss`,
every :data:`SAMPLE_SECONDS`): the largest sum of the resident sets of the process and all its descendants is the
**tree peak**, the figure to read for ``--engine dask``. Summing resident sets counts the pages the processes share
(the Python and library code each maps) once per process, so the tree peak errs high, never low. transportmon runs
under ``benchmarks/_child.py``, which prints the time of each stage.

For each ``trips-*`` folder: transportmon (memory engine), the DuckDB peer (``peer_duckdb.py``), the naive GeoPandas
``sjoin`` per trip-stop row (``naive_sjoin.py``) up to ``--naive-max`` rows, optionally ``--engine dask``; the peer's
verdicts and messages are checked against transportmon's (``compare.py``). For each ``checkpoints-*`` folder:
transportmon. Run::

    python benchmarks/generate.py --out /tmp/tm-bench
    python benchmarks/run.py --data /tmp/tm-bench --dask 1e6 1e7
"""

from __future__ import annotations

import argparse
import datetime as dt
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


#: Seconds between two samples of the process tree's resident memory.
SAMPLE_SECONDS = 0.1


def tree_rss(pid: int) -> int:
    """Bytes resident in process ``pid`` and all its descendants (0 once it is gone); a process that ends while it is
    read counts for nothing."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            pass
    return total


def measure(cmd: list[str], *, timeout: float = 900) -> dict[str, object]:
    """Run ``cmd``; wall and CPU seconds, peak RSS in MiB (``ru_maxrss``, and the tree peak: see the module
    docstring), exit code and the ``STAGE name seconds`` lines."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    tree_peak = 0
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=ROOT)
        deadline = start + timeout
        next_sample = start
        while True:
            now = time.perf_counter()
            if now >= next_sample:  # before wait4 reaps it: a reaped process has no tree left to read
                tree_peak = max(tree_peak, tree_rss(proc.pid))
                next_sample = now + SAMPLE_SECONDS
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if now > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text = out.read().decode("utf-8", "replace") + err.read().decode("utf-8", "replace")
    stages: dict[str, float] = {}
    stage_cpu: dict[str, float] = {}
    for line in text.splitlines():
        for prefix, into in (("STAGE ", stages), ("CPU ", stage_cpu)):
            if line.startswith(prefix):
                name, _, seconds = line[len(prefix):].rpartition(" ")
                into[name] = into.get(name, 0.0) + float(seconds)
    return {"wall": round(wall, 2), "cpu": round(usage.ru_utime + usage.ru_stime, 2),
            "peak_mib": round(usage.ru_maxrss / 1024), "tree_peak_mib": round(tree_peak / 2**20),
            "rc": proc.returncode, "stages": stages,
            "stage_cpu": stage_cpu,
            "tail": "" if proc.returncode in (0, 1) else text[-2000:]}


def rows_of(folder: Path, layer: str) -> int:
    """Data rows of ``LAYER.parquet``, else of ``LAYER.csv`` (lines less the header)."""
    import pyarrow.parquet as pq

    if (folder / f"{layer}.parquet").exists():
        return pq.ParquetFile(folder / f"{layer}.parquet").metadata.num_rows
    with open(folder / f"{layer}.csv", "rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 24), b"")) - 1


SHAPES = ("typed", "plain", "csv")


def shape_of(folder: Path) -> str:
    """The input shape of a ``benchmarks/generate.py`` folder: ``trips-plain-1e6`` → plain, ``trips-1e6`` → typed."""
    parts = folder.name.split("-")
    return parts[1] if len(parts) == 3 and parts[1] in SHAPES else "typed"


def machine() -> dict[str, str]:
    import dask
    import duckdb
    import geopandas
    import numpy
    import pandas
    import pyarrow
    import scipy
    import shapely

    cpu = platform.machine()
    mem = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next(ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name"))
        with open("/proc/meminfo", encoding="utf-8") as fh:
            kb = next(int(ln.split()[1]) for ln in fh if ln.startswith("MemTotal"))
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        pass
    return {
        "date": dt.date.today().isoformat(), "cpu": cpu, "cores": str(os.cpu_count()), "memory": mem,
        "os": f"{platform.system()} {platform.release()}", "python": platform.python_version(),
        "libraries": ", ".join(f"{m.__name__} {m.__version__}" for m in (
            numpy, pandas, geopandas, shapely, pyarrow, scipy, duckdb, dask)),
        "load": "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg()),
    }


#: Above this many stop_times rows the reports are compared in DuckDB (``compare.py --sql``), out of core.
SQL_COMPARE_ROWS = 5_000_000

ALL_RUNNERS = ("transportmon", "duckdb", "geopandas_naive", "transportmon_dask", "checkpoints")


def median_run(runs: list[dict[str, object]]) -> dict[str, object]:
    """The median run by wall time (the lower middle one of an even number), with every run's wall time."""
    ordered = sorted(runs, key=lambda m: float(m["wall"]))  # type: ignore[arg-type]
    return {**ordered[(len(ordered) - 1) // 2], "walls": [m["wall"] for m in runs]}


def run(data: Path, work: Path, dask_sizes: set[int], naive_max: int, repeat: int,
        runners: tuple[str, ...] = ALL_RUNNERS, previous: dict[str, object] | None = None,
        shapes: tuple[str, ...] = SHAPES, max_rows: float = float("inf")) -> dict[str, object]:
    """Measure every runner on every generated folder of the ``shapes`` up to ``max_rows`` stop_times rows;
    ``previous`` results are kept for runners not run."""
    results: dict[str, object] = {"machine": machine(), "trips": [], "checkpoints": []}
    print("machine", json.dumps(results["machine"]), flush=True)
    before = {e["folder"]: e for e in (previous or {}).get("trips", []) + (previous or {}).get("checkpoints", [])}
    py = sys.executable
    folders = [p for p in data.glob("trips-*") if shape_of(p) in shapes]
    for folder in sorted(folders, key=lambda p: (SHAPES.index(shape_of(p)), rows_of(p, "stop_times"))):
        rows, shape = rows_of(folder, "stop_times"), shape_of(folder)
        if rows > max_rows:
            continue
        entry: dict[str, object] = {**before.get(folder.name, {}), "folder": folder.name, "shape": shape,
                                    "stop_times": rows, "trips": rows_of(folder, "trips")}
        tm_out, peer_out = work / f"{folder.name}.tm.parquet", work / f"{folder.name}.duckdb.parquet"
        audit = [py, str(HERE / "_child.py"), "audit", "--data", str(folder), "--out", str(tm_out),
                 "--format", "json", "--fail-on", "never"]
        runs = {
            "transportmon": audit,
            "duckdb": [py, str(HERE / "peer_duckdb.py"), str(folder), str(peer_out)],
        }
        if rows <= naive_max:
            runs["geopandas_naive"] = [py, str(HERE / "naive_sjoin.py"), str(folder), str(work / "naive.parquet")]
        if any(abs(rows - size) <= size // 100 for size in dask_sizes):  # a plain folder's 1e6 is 1,000,002 rows
            runs["transportmon_dask"] = [py, str(HERE / "_child.py"), "audit", "--data", str(folder), "--out",
                                         str(work / f"{folder.name}.dask.parquet"), "--engine", "dask",
                                         "--format", "json", "--fail-on", "never"]
        # Rounds interleave the runners (transportmon, the peer, transportmon …) so that a change of load hits both;
        # each runner's figure is its median run by wall time (the lower middle one of an even number).
        measured: dict[str, list[dict[str, object]]] = {name: [] for name in runs if name in runners}
        for _ in range(repeat):
            for name in measured:
                m = measure(runs[name])
                m["load"] = "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
                print(f"{shape} {rows:,} rows ({folder.name})", name, {k: v for k, v in m.items() if k != "tail"},
                      m["tail"], flush=True)
                measured[name].append(m)
        for name, done in measured.items():
            entry[name] = median_run(done)
        dask_out = work / f"{folder.name}.dask.parquet"
        for key, ours, runner in (("agreement", tm_out, "transportmon"),
                                  ("dask_agreement", dask_out, "transportmon_dask")):
            if not (runner in runs and runner in runners):
                continue  # the reports of this run only, never a stale one
            sql = ["--sql"] if rows > SQL_COMPARE_ROWS else []  # out of core: the pandas form needs ~13 GB at 3e7
            check = subprocess.run([py, str(HERE / "compare.py"), str(ours), str(peer_out), *sql], capture_output=True,
                                   text=True, check=False, env={**os.environ, "PYTHONPATH": str(ROOT)})
            entry[key] = json.loads(check.stdout) if check.stdout.strip() else {"error": check.stderr[-500:]}
            print(f"{shape} {rows:,} rows ({folder.name})", key, entry[key], flush=True)
        results["trips"].append(entry)  # type: ignore[union-attr]
    for folder in sorted(data.glob("checkpoints-*"), key=lambda p: rows_of(p, "checkpoints")):
        if "checkpoints" not in runners or rows_of(folder, "checkpoints") > max_rows:
            if folder.name in before:
                results["checkpoints"].append(before[folder.name])  # type: ignore[union-attr]
            continue
        entry = {"folder": folder.name, "checkpoints": rows_of(folder, "checkpoints"),
                 "roads": rows_of(folder, "roads")}
        cmd = [py, str(HERE / "_child.py"), "audit", "--data", str(folder), "--out",
               str(work / f"{folder.name}.tm.parquet"), "--format", "json", "--fail-on", "never"]
        done = []
        for _ in range(repeat):
            m = measure(cmd)
            print(folder.name, {k: v for k, v in m.items() if k != "tail"}, m["tail"], flush=True)
            done.append(m)
        entry["transportmon"] = median_run(done)
        results["checkpoints"].append(entry)  # type: ignore[union-attr]
    results["machine"]["load_after"] = "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg())  # type: ignore[index]
    return results


def _cell(m: dict[str, object] | None) -> str:
    if not m:
        return "—"
    flag = "" if m["rc"] in (0, 1) else f" (exit {m['rc']})"
    return f"{m['wall']:.1f} / {m['cpu']:.1f} / {m['peak_mib']:,}{flag}"


def _agrees(agree: dict[str, int]) -> str:
    if not agree:
        return "—"  # not compared in this run
    return "yes" if all(v == 0 for k, v in agree.items() if k not in ("trips",)) else f"no {agree}"


def _tree(m: dict[str, object] | None) -> str:
    """The tree peak of a run (older results have none)."""
    return f"{m['tree_peak_mib']:,}" if m and "tree_peak_mib" in m else "—"


def markdown(results: dict[str, object]) -> str:
    m = results["machine"]
    lines = [
        "# Benchmarks", "",
        (f"Measured {m['date']} on {m['cpu']}, {m['cores']} cores, {m['memory']} ({m['os']}); Python {m['python']}; "
        f"{m['libraries']}. Load average before/after: {m['load']} / {m.get('load_after', '?')} (about 1 is the "
        "measured process alone; when other work shares the cores, CPU time is the steadier figure)."), "",
        ("Each cell is one whole process: **wall s / CPU s / peak MiB** (start-up, reading Parquet and writing the "
         "report included; peak is `ru_maxrss`, the largest process waited for). **tree peak MiB** is the largest sum "
         "of the resident sets of the process and all its descendants, sampled every 0.1 s: for `--engine dask` it "
         "includes the scheduler and every worker process, which `ru_maxrss` misses (shared pages are counted once per "
         "process, so it errs high). `python benchmarks/generate.py` makes the inputs, `python benchmarks/run.py` this "
         "file."),
        "", "## Coach trips", "",
        ("Shapes (`benchmarks/generate.py --shape`): **typed** — date32 dates, int32/int8 numbers, 2–6 stops a trip; "
         "**plain** — as `df.to_parquet()` from pandas writes it: `service_date` as text, int64 numbers, "
         "`large_string` ids, 2–4 stops a trip; **csv** — the plain tables as `df.to_csv()`."), "",
        ("| shape | stop_times rows | trips | transportmon | DuckDB peer | tm/DuckDB wall (CPU) | GeoPandas sjoin per "
         "row (spatial step only) | transportmon --engine dask | dask tree peak MiB | peer agrees |"),
        "|---|---:|---:|---|---|---:|---|---|---:|---|",
    ]
    for e in results["trips"]:  # type: ignore[union-attr]
        tm, duck = e.get("transportmon"), e.get("duckdb")
        ratio = (f"{tm['wall'] / duck['wall']:.2f} ({tm['cpu'] / duck['cpu']:.2f})" if tm and duck and duck["rc"] == 0
                 else "—")
        ok = _agrees(e.get("agreement", {}))
        if "dask_agreement" in e:
            ok += f" (dask: {_agrees(e['dask_agreement'])})"
        lines.append(f"| {e.get('shape', 'typed')} | {e['stop_times']:,} | {e['trips']:,} | {_cell(tm)} | "
                     f"{_cell(duck)} | {ratio} | "
                     f"{_cell(e.get('geopandas_naive'))} | {_cell(e.get('transportmon_dask'))} | "
                     f"{_tree(e.get('transportmon_dask'))} | {ok} |")
    lines += ["", "Stages of the transportmon run (wall seconds, and CPU seconds of the process during the stage, from "
              "`benchmarks/_child.py`):", ""]
    for e in results["trips"]:  # type: ignore[union-attr]
        if not e.get("transportmon"):
            continue
        st, cpu = e["transportmon"]["stages"], e["transportmon"].get("stage_cpu", {})
        lines.append(f"- {e.get('shape', 'typed')}, {e['stop_times']:,} rows: "
                     + ", ".join(f"{k} {v:.1f}" + (f" ({cpu[k]:.1f} CPU)" if k in cpu else "") for k, v in st.items()))
    lines += ["", "## Checkpoints", "",
              "| checkpoints | road segments | transportmon | stages (s) |", "|---:|---:|---|---|"]
    for e in results["checkpoints"]:  # type: ignore[union-attr]
        st = e["transportmon"]["stages"]
        lines.append(f"| {e['checkpoints']:,} | {e['roads']:,} | {_cell(e['transportmon'])} | "
                     + ", ".join(f"{k} {v:.1f}" for k, v in st.items()) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder written by benchmarks/generate.py")
    parser.add_argument("--work", type=Path, default=None, help="where reports go (default: a temporary folder)")
    parser.add_argument("--dask", type=float, nargs="*", default=[], help="stop_times sizes to run with --engine dask")
    parser.add_argument("--naive-max", type=float, default=1e7)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each runner, interleaved; the median is kept")
    parser.add_argument("--json", type=Path, default=HERE / "results.json")
    parser.add_argument("--markdown", type=Path, default=None, help="write the tables here (e.g. RESULTS.md)")
    parser.add_argument("--runners", nargs="*", default=list(ALL_RUNNERS), choices=ALL_RUNNERS)
    parser.add_argument("--update", action="store_true", help="keep the other runners' results from --json")
    parser.add_argument("--shape", nargs="*", default=list(SHAPES), choices=SHAPES,
                        help="input shapes to measure (default: every shape generated)")
    parser.add_argument("--max-rows", type=float, default=float("inf"), help="skip larger folders")
    args = parser.parse_args()
    previous = json.loads(args.json.read_text(encoding="utf-8")) if args.update and args.json.exists() else None
    work = args.work or Path(tempfile.mkdtemp(prefix="tm-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    results = run(args.data, work, {int(x) for x in args.dask}, int(args.naive_max), args.repeat,
                  tuple(args.runners), previous, tuple(args.shape), args.max_rows)
    args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")
    text = markdown(results)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
