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
from transportmon._errors import InputError
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


# Out of core (issue 17): with a spill folder the workers write the trips' report rows to sorted parts and the report
# is merged from them a piece at a time; every form must be the memory engine's.


@pytest.fixture()
def small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Several partitions, parts of several row groups, merge rounds of a few hundred rows, small row groups."""
    from transportmon import spill
    from transportmon.io import stream

    monkeypatch.setattr(scale, "PARTITION_ROWS", 1_500)
    monkeypatch.setattr(spill, "PART_GROUP_ROWS", 100)
    monkeypatch.setattr(stream, "MERGE_ROWS", 300)
    monkeypatch.setattr(stream, "STREAM_GROUP_ROWS", 250)


def cli(out: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["audit", "--out", str(out), "--fail-on", "never", "--lang", "en", *args])
    return result.exit_code, result.output


@pytest.mark.parametrize("only", [None, "violation"])
@pytest.mark.parametrize("ext", ["geojson", "parquet", "csv"])
def test_the_spilled_report_is_the_memory_report_in_every_streamed_form(cluster: str, generated: Path,
                                                                         tmp_path: Path, small_pieces: None,
                                                                         ext: str, only: str | None) -> None:
    said = {}
    for engine in ("memory", "dask"):
        args = ["--data", str(generated), "--engine", engine] + (["--only", only] if only else [])
        code, said[engine] = cli(tmp_path / f"{engine}.{ext}", *args, *(["--scheduler", cluster] if engine == "dask"
                                                                       else []))
        assert code == 0, said[engine]
    memory, dask = (tmp_path / f"{e}.{ext}" for e in ("memory", "dask"))
    if ext == "parquet":
        import pyarrow.parquet as pq

        a, b = pq.read_table(memory), pq.read_table(dask)
        assert a.equals(b) and a.schema.equals(b.schema, check_metadata=True)  # rows, order, geo and report metadata
        assert pq.ParquetFile(dask).metadata.num_row_groups == -(-a.num_rows // 250)
    else:
        assert dask.read_bytes() == memory.read_bytes()
    # The terminal summary lists the same subjects and counts (the parts' first rows and totals).
    words = {e: " ".join(said[e].replace(f"{e}.{ext}", "REPORT").split()) for e in said}  # as wrapped or not
    assert words["dask"] == words["memory"]
    assert "more violation subjects in the report" in said["dask"]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".parts")]


def test_the_spilled_trips_stay_out_of_the_result_until_written(cluster: str, generated: Path, tmp_path: Path,
                                                                small_pieces: None) -> None:
    memory = transportmon.audit(generated)
    dask = transportmon.audit(generated, engine="dask", scheduler=cluster, spill=tmp_path)
    assert dask.spilled is not None and len(dask.spilled.parts) >= 3
    # What is left in the folder is the parts: the partitions' input files went once audited.
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(Path(p.path).name for p in dask.spilled.parts)
    audited = (memory.report["subject"] == "trip") & (memory.report["verdict"] != "rejected")
    assert dask.spilled.rows == audited.sum()
    assert len(dask.report) == len(memory.report) - audited.sum()  # the other subjects, rejected trips among them
    assert dask.metadata == memory.metadata
    dask.write(tmp_path / "dask.geojson")
    memory.write(tmp_path / "memory.geojson")
    assert (tmp_path / "dask.geojson").read_bytes() == (tmp_path / "memory.geojson").read_bytes()


def test_a_desk_form_is_gathered_up_to_its_limit_and_refused_above(cluster: str, generated: Path, tmp_path: Path,
                                                                   small_pieces: None,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import openpyxl

    from transportmon.io import stream

    memory = transportmon.audit(generated)
    dask = transportmon.audit(generated, engine="dask", scheduler=cluster, spill=tmp_path)
    n = len(memory.report)
    monkeypatch.setattr(stream, "DESK_ROWS", n)  # exactly at the limit: gathered and written as usual
    memory.write(tmp_path / "memory.xlsx", lang="en")
    dask.write(tmp_path / "dask.xlsx", lang="en")
    a, b = (openpyxl.load_workbook(tmp_path / f"{e}.xlsx") for e in ("memory", "dask"))
    assert a.sheetnames == b.sheetnames
    for name in a.sheetnames:
        assert list(a[name].values) == list(b[name].values)
    monkeypatch.setattr(stream, "DESK_ROWS", n - 1)
    with pytest.raises(InputError, match=rf"a report of {n:,} subjects is too large to write as \.gpkg .* write "
                                         r"\.parquet \(GeoParquet"):
        dask.write(tmp_path / "dask.gpkg")
    assert not (tmp_path / "dask.gpkg").exists()
    assert len(memory.report[memory.report["max_severity"] == "violation"]) <= n - 1
    dask.write(tmp_path / "violations.gpkg", only="violation")  # --only makes it small enough again
