"""Datums on read: a checkpoint recorded with Amap/WeChat (GCJ-02) or Baidu (BD-09) gets the verdict of its WGS-84
twin when its datum is declared, and can get another one when it is not — the ~500 m offset flips verdicts."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import transportmon
from transportmon.cli import app
from transportmon.io.datum import from_wgs84
from transportmon.io.discover import sample_dir

AS_OF = "2020-03-16"


@pytest.fixture(scope="module")
def wgs_report() -> pd.DataFrame:
    return transportmon.audit(as_of=AS_OF).report.set_index("subject_id")


def _twin(tmp_path: Path, datum: str) -> Path:
    cps = pd.read_csv(sample_dir() / "checkpoints.csv", dtype=str)
    lon, lat = from_wgs84(cps["lon"].astype(float), cps["lat"].astype(float), datum)
    out = tmp_path / f"checkpoints_{datum}.csv"
    cps.assign(lon=np.round(lon, 7), lat=np.round(lat, 7)).to_csv(out, index=False)
    return out


@pytest.mark.parametrize("datum", ["gcj02", "bd09"])
def test_declared_datum_gives_the_wgs84_verdicts(tmp_path: Path, wgs_report: pd.DataFrame, datum: str) -> None:
    twin = _twin(tmp_path, datum)
    rep = transportmon.audit(sample_dir(), checkpoints=twin, datums={"checkpoints": datum}, as_of=AS_OF).report
    cp = rep[rep["subject"] == "checkpoint"].set_index("subject_id")
    assert len(cp) == 15
    assert (cp["verdict"] == wgs_report.loc[cp.index, "verdict"]).all()
    # Converted back to within a metre (coordinates were rounded to 1e-7°, ~1 cm).
    diff = (cp["distance_to_road_m"] - wgs_report.loc[cp.index, "distance_to_road_m"]).abs()
    assert diff.max() < 1.0


def test_undeclared_gcj02_flips_the_bridge_approach(tmp_path: Path, wgs_report: pd.DataFrame) -> None:
    twin = _twin(tmp_path, "gcj02")
    rep = transportmon.audit(sample_dir(), checkpoints=twin, as_of=AS_OF).report.set_index("subject_id")
    # CP02, the 2nd-bridge approach: keep in WGS-84; read as if WGS-84 it lands ~580 m off, away from every road.
    assert wgs_report.loc["CP02", "verdict"] == "keep"
    assert rep.loc["CP02", "verdict"] == "review"
    assert rep.loc["CP02", "reason"] == "no-road"
    assert rep.loc["CP02", "distance_to_road_m"] > 150


def test_datum_flag_and_manifest_agree(tmp_path: Path) -> None:
    folder = tmp_path / "sample"
    shutil.copytree(sample_dir(), folder)
    shutil.copy(_twin(tmp_path, "gcj02"), folder / "checkpoints.csv")
    manifest = (folder / "manifest.toml").read_text(encoding="utf-8")
    (folder / "manifest.toml").write_text(manifest.replace('checkpoints = "wgs84"', 'checkpoints = "gcj02"'),
                                          encoding="utf-8")
    by_manifest = transportmon.audit(folder, as_of=AS_OF)
    assert by_manifest.metadata["inputs"]["checkpoints"]["datum"] == "gcj02"
    assert by_manifest.report.set_index("subject_id").loc["CP02", "verdict"] == "keep"
    runner = CliRunner()
    out = tmp_path / "r.geojson"
    res = runner.invoke(app, ["audit", "--data", str(folder), "--checkpoints-datum", "wgs84", "--out", str(out),
                              "--fail-on", "never"])
    assert res.exit_code == 0, res.output
    flipped = gpd_read(out)
    assert flipped.loc["CP02", "verdict"] == "review"  # the flag overrides the manifest


def test_unknown_datum_is_exit_2(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["audit", "--checkpoints-datum", "wgs72", "--out", str(tmp_path / "r.geojson")])
    assert res.exit_code == 2


def gpd_read(path: Path) -> pd.DataFrame:
    import json

    feats = json.loads(path.read_text(encoding="utf-8"))["features"]
    return pd.DataFrame([f["properties"] for f in feats]).set_index("subject_id")
