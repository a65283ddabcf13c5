"""Run ``transportmon audit ARGS`` as the command line does, printing the time of each stage to stderr.

Used by ``benchmarks/run.py`` as the measured process (start-up included). Stages are timed by wrapping the pipeline's
functions; nothing else changes. Lines look like ``STAGE <name> <seconds>``, then ``MEMORY <name> <MiB>`` (the
resident set when the stage ends, and the peak so far: where the memory goes) and ``CPU <name> <seconds>`` (CPU time
of the process, all threads, during the stage: steadier than wall time when other work shares the cores) and
``SYS <name> <seconds> <faults>`` (the system part of that CPU time and the minor page faults: on a virtual machine
most system time is the first touch of fresh memory, so this says which stage allocates).
"""

from __future__ import annotations

import functools
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
START = time.perf_counter()

import transportmon.cli  # noqa: E402,F401  (after the timer starts; first, as the command loads it)
from transportmon import pipeline, routes, scale, streamed  # noqa: E402
from transportmon.io import write  # noqa: E402

if "dask" in sys.argv:  # the report merged from the workers' parts: loaded only by that engine (it loads openpyxl)
    from transportmon.io import stream

STAGES = [
    (pipeline, "load_inputs", "read+validate"),
    (routes, "count_routes", "routes"),
    (pipeline, "audit_trips", "trip audit"),
    (pipeline, "prepare_trips", "trip audit (prepared)"),
    (streamed, "write_while_judging", "trips judged + written"),
    (scale, "dask_trips", "trip audit (dask)"),
    (pipeline, "road_context", "road network"),
    (pipeline, "checkpoint_evidence", "checkpoint evidence"),
    (pipeline, "assemble", "assemble"),
    (pipeline, "attach_findings", "findings"),
    (write, "write_report", "write"),
]
if "dask" in sys.argv:
    STAGES.append((stream, "write_spilled", "write"))  # --engine dask: the workers' parts merged into the report


def _rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(fn, name):  # type: ignore[no-untyped-def]
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        t, c, r = time.perf_counter(), time.process_time(), resource.getrusage(resource.RUSAGE_SELF)
        try:
            return fn(*args, **kwargs)
        finally:
            print(f"STAGE {name} {time.perf_counter() - t:.3f}", file=sys.stderr, flush=True)
            print(f"CPU {name} {time.process_time() - c:.3f}", file=sys.stderr, flush=True)
            now = resource.getrusage(resource.RUSAGE_SELF)
            print(f"SYS {name} {now.ru_stime - r.ru_stime:.3f} {now.ru_minflt - r.ru_minflt}", file=sys.stderr,
                  flush=True)
            print(f"MEMORY {name} now {_rss_mib():.0f} peak {_peak_mib():.0f}", file=sys.stderr, flush=True)
    return wrapper


def main() -> None:
    print(f"STAGE imports {time.perf_counter() - START:.3f}", file=sys.stderr, flush=True)
    for module, attr, name in STAGES:
        setattr(module, attr, _timed(getattr(module, attr), name))
    from transportmon.cli import app, leave

    sys.argv = ["transportmon", *sys.argv[1:]]
    code: object = 0
    try:
        app()
    except SystemExit as exc:
        code = exc.code
    finally:
        print(f"STAGE total-in-process {time.perf_counter() - START:.3f}", file=sys.stderr, flush=True)
    leave(code)  # and end as the command does (cli.main)


if __name__ == "__main__":
    main()
