"""``--engine dask --scheduler tcp://…`` against a running ``dask scheduler`` with two ``dask worker`` processes.

The scheduler and the workers are separate processes started here as a user starts them (127.0.0.1, a free port, one
thread each, no dashboard), with this checkout on their ``PYTHONPATH`` (the same transportmon). The workers read the
Parquet inputs themselves and write the trips' report rows beside ``--out``; the report must be the memory engine's.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import distributed
import geopandas as gpd
import pandas as pd
import pytest
from typer.testing import CliRunner

import transportmon
from transportmon import _version, scale
from transportmon._errors import ConfigError, InputError
from transportmon.cli import app

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import generate

ROOT = Path(__file__).resolve().parents[1]
#: Seconds a process is given to start or to stop before the fixture gives up on it.
TIMEOUT = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def scheduler(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The address of a ``dask scheduler`` with two ``dask worker`` processes, stopped when the module is done."""
    scratch = tmp_path_factory.mktemp("dask-processes")
    address = f"tcp://127.0.0.1:{free_port()}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    procs: list[subprocess.Popen[bytes]] = []

    def stop() -> None:
        for proc in reversed(procs):  # the workers first, then the scheduler
            if proc.poll() is None:
                proc.terminate()
            try:
                proc.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=TIMEOUT)

    request.addfinalizer(stop)
    commands = [[sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port",
                 address.rsplit(":", 1)[1], "--no-dashboard"]]
    for name in ("worker-1", "worker-2"):
        commands.append([sys.executable, "-m", "distributed.cli.dask_worker", address, "--name", name, "--host",
                         "127.0.0.1", "--nthreads", "1", "--nworkers", "1", "--no-dashboard", "--local-directory",
                         str(scratch / name)])
    for i, cmd in enumerate(commands):
        with open(scratch / f"process-{i}.log", "wb") as log:  # the child keeps its own copy of the handle
            procs.append(subprocess.Popen(cmd, cwd=scratch, env=env, stdout=log, stderr=subprocess.STDOUT))
    try:
        with distributed.Client(address, timeout=TIMEOUT, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=TIMEOUT)
    except Exception:  # show why a process did not come up
        logs = "\n".join((scratch / f"process-{i}.log").read_text(errors="replace")[-2000:] for i in range(3))
        raise RuntimeError(f"the scheduler and two workers did not start:\n{logs}") from None
    return address


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated Parquet input with a duplicate trip id and an impossible occupancy (rejected rows), its
    stop_times in several row groups."""
    from transportmon.io.cnmaps import load_boundaries

    bounds = load_boundaries(provinces=["360000", "420000"])
    folder = generate.write_trips(tmp_path_factory.mktemp("gen") / "trips", bounds, 3_000, n_stops=200, seed=3)
    trips = pd.read_parquet(folder / "trips.parquet")
    trips.loc[5, "passengers"] = trips.loc[5, "seats"] + 1
    trips.loc[9, "trip_id"] = trips.loc[8, "trip_id"]
    trips.to_parquet(folder / "trips.parquet", index=False)
    st = pd.read_parquet(folder / "stop_times.parquet")
    st.to_parquet(folder / "stop_times.parquet", index=False, row_group_size=700)
    return folder


def audit_cli(out: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["audit", "--out", str(out), "--fail-on", "never", "--lang", "en", *args])
    return result.exit_code, result.output


def test_the_sample_through_a_running_scheduler_gives_the_memory_report(scheduler: str, tmp_path: Path) -> None:
    code, said = audit_cli(tmp_path / "memory.geojson")
    assert code == 0, said
    code, said = audit_cli(tmp_path / "dask.geojson", "--engine", "dask", "--scheduler", scheduler)
    assert code == 0, said
    assert (tmp_path / "dask.geojson").read_bytes() == (tmp_path / "memory.geojson").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dask.geojson", "memory.geojson"]  # no parts left


def test_generated_partitions_through_a_running_scheduler(scheduler: str, generated: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scale, "PARTITION_ROWS", 1_000)  # several chunks read by the workers, several partitions
    monkeypatch.chdir(generated.parent)  # a relative --data: the workers, started elsewhere, must get whole paths
    outs = {}
    for engine in ("memory", "dask"):
        for ext in ("geojson", "parquet"):
            extra = ["--engine", "dask", "--scheduler", scheduler] if engine == "dask" else []
            code, said = audit_cli(tmp_path / f"{engine}.{ext}", "--data", generated.name, *extra)
            assert code == 0, said
        outs[engine] = gpd.read_parquet(tmp_path / f"{engine}.parquet")
    rep = outs["memory"]
    assert {"duplicate-id", "passengers-exceed-seats"} <= set(rep.loc[rep["verdict"] == "rejected", "reason"])
    assert (rep["subject"] == "trip").sum() == len(pd.read_parquet(generated / "trips.parquet"))  # one per trip
    pd.testing.assert_frame_equal(outs["dask"].to_wkb(), rep.to_wkb())
    assert (tmp_path / "dask.geojson").read_bytes() == (tmp_path / "memory.geojson").read_bytes()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".parts")]


def test_a_worker_that_cannot_read_an_input_is_named(scheduler: str, tmp_path: Path) -> None:
    gone = tmp_path / "stop_times.parquet"
    with distributed.Client(scheduler, set_as_default=False) as client:
        with pytest.raises(InputError, match=r"Dask worker tcp://127\.0\.0\.1:\d+ cannot read it .*shared folder") as e:
            scale.check_workers(client, [gone], tmp_path)
        scale.check_workers(client, [], tmp_path)  # the folder is shared: no error
    assert e.value.path == str(gone)
    assert list(tmp_path.iterdir()) == []  # the workers' marker files are removed


def test_a_worker_with_another_transportmon_is_refused_before_any_work(scheduler: str, generated: Path,
                                                                        tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_version, "__version__", "0.0.0-other")  # this process, not the workers
    with pytest.raises(ConfigError, match=r"runs transportmon \S+, this process 0\.0\.0-other; install"):
        transportmon.audit(generated, engine="dask", scheduler=scheduler, spill=tmp_path)
    code, said = audit_cli(tmp_path / "r.parquet", "--data", str(generated), "--engine", "dask", "--scheduler",
                           scheduler)
    assert code == 2
    assert "this process 0.0.0-other" in said
    assert not (tmp_path / "r.parquet").exists()
