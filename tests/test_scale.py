"""The Dask engine (transportmon/scale.py) gives the memory engine's report, byte for byte, and shuts down cleanly."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import distributed
import geopandas as gpd
import pandas as pd
import pytest
from typer.testing import CliRunner

import transportmon
from transportmon import scale
from transportmon.cli import app
from transportmon.io.discover import sample_dir
from transportmon.io.write import geojson_chunks

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import generate


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """Two single-threaded in-process workers: real partitions and a real scheduler, no process start-up."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as c:
        yield c.scheduler_address


def text(result: transportmon.AuditResult) -> str:
    return "".join(geojson_chunks(result.report, result.metadata))


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated input over Jiangxi and Hubei, with some rows that must be rejected."""
    from transportmon.io.cnmaps import load_boundaries

    bounds = load_boundaries(provinces=["360000", "420000"])
    folder = generate.write_trips(tmp_path_factory.mktemp("gen"), bounds, 4_000, n_stops=300, seed=7)
    trips = pd.read_parquet(folder / "trips.parquet")
    trips.loc[3, "passengers"] = trips.loc[3, "seats"] + 1  # impossible occupancy
    trips.loc[7, "trip_id"] = trips.loc[6, "trip_id"]  # duplicate id: the later row is rejected
    trips.loc[11, "trip_id"] = None  # missing id
    trips.to_parquet(folder / "trips.parquet", index=False)
    st = pd.read_parquet(folder / "stop_times.parquet")
    st.loc[20, "stop_id"] = "NOWHERE"  # unknown stop: its trip is rejected
    st.loc[30, "trip_id"] = "T-UNKNOWN"  # a stop time of no trip
    st.to_parquet(folder / "stop_times.parquet", index=False, row_group_size=1_000)  # four row groups
    return folder


def test_dask_equals_memory_on_the_sample(cluster: str) -> None:
    memory = transportmon.audit()
    dask = transportmon.audit(engine="dask", scheduler=cluster)
    assert text(dask) == text(memory)
    assert dask.metadata["counts"]["trip"] == memory.metadata["counts"]["trip"]


def test_dask_equals_memory_on_generated_partitions(cluster: str, generated: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scale, "PARTITION_ROWS", 1_500)  # several read partitions, shuffled into three
    memory = transportmon.audit(generated)
    dask = transportmon.audit(generated, engine="dask", scheduler=cluster)
    rep = memory.report
    assert set(rep.loc[rep["verdict"] == "rejected", "reason"]) >= {"passengers-exceed-seats", "duplicate-id",
                                                                      "missing-id", "unknown-stop", "unknown-trip"}
    assert len(set(rep.loc[rep["subject"] == "trip", "verdict"])) >= 3
    pd.testing.assert_series_equal(dask.report["verdict"], rep["verdict"])
    assert text(dask) == text(memory)
    assert dask.metadata["rows"] == memory.metadata["rows"]


def test_cli_engine_dask_writes_the_same_geoparquet(cluster: str, generated: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    outs = {}
    for engine in ("memory", "dask"):
        out = tmp_path / f"{engine}.parquet"
        args = ["audit", "--data", str(generated), "--out", str(out), "--engine", engine, "--fail-on", "never"]
        if engine == "dask":
            args += ["--scheduler", cluster]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        outs[engine] = gpd.read_parquet(out)
    pd.testing.assert_frame_equal(outs["dask"].to_wkb(), outs["memory"].to_wkb())


def test_local_cluster_starts_and_stops() -> None:
    with scale.dask_client(n_workers=1, processes=False) as client:  # the default LocalCluster, in-process
        assert client.submit(sum, [1, 2]).result() == 3
    assert client.status == "closed"


def test_unknown_engine_is_a_config_error() -> None:
    from transportmon._errors import ConfigError

    with pytest.raises(ConfigError, match="engine"):
        transportmon.audit(engine="spark")


def test_dask_says_what_memory_says_of_stop_times_without_pickup_dropoff(cluster: str, tmp_path: Path) -> None:
    folder = tmp_path / "sample"
    shutil.copytree(sample_dir(), folder)
    st = pd.read_csv(folder / "stop_times.csv", dtype=str)
    st.drop(columns=["pickup", "dropoff"]).to_csv(folder / "stop_times.csv", index=False)
    memory = transportmon.audit(folder)
    dask = transportmon.audit(folder, engine="dask", scheduler=cluster)
    assert [w for w in memory.metadata["warnings"] if "no pickup and no dropoff column" in w]
    assert dask.metadata["warnings"] == memory.metadata["warnings"]
    assert text(dask) == text(memory)
