"""Property-based tests: hostile input never crashes a run and no input row is lost (DESIGN §3 "Bad input").

Four depths, most cases at the cheapest:

1. every ``validate_*`` on frames drawn by :mod:`hostile_data` (7 layers × 400 cases of up to 12 rows; ~3,000 cases in all);
2. the same through files: written as CSV, GeoJSON, Parquet or .xlsx and read back by ``read_table``;
3. whole data sets (stops, trips, stop_times, checkpoints, roads, risk areas) through ``load_inputs``, with the
   cross-layer checks;
4. the full audit, through the API and through the CLI.

For every generated input: no exception but :class:`InputError` (and that only for a missing required column),
``usable + rejected == input rows`` per layer, rejected reasons are known TM9xx reasons, usable rows are clean, the
audit exits 0 or 1 and its report has one feature per checkpoint and trip row plus one per rejected row of the
other layers. Hypothesis runs derandomized (a fixed seed), without an example database.
"""

from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path

import geopandas as gpd
import hostile_data as H
import numpy as np
import pandas as pd
import pytest
import shapely
import world
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from typer.testing import CliRunner

import transportmon
from transportmon import layers as L
from transportmon._errors import InputError
from transportmon.cli import app
from transportmon.inputs import VALIDATORS, load_inputs
from transportmon.io.read import read_table

settings.register_profile(
    "hostile", derandomize=True, database=None, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                           HealthCheck.function_scoped_fixture],
)
HOSTILE = settings.get_profile("hostile")
LAYERS = list(H.COLUMNS)


# ------------------------------------------------------------------------------------------------------------
# 1. validators on frames


@pytest.mark.parametrize("layer", LAYERS)
@settings(HOSTILE, max_examples=400)
@given(data=st.data())
def test_validator_accounts_for_every_row(layer: str, data: st.DataObject) -> None:
    frame = data.draw(H.layer_frame(layer, max_rows=12))
    must_fail = H.expected_error(layer, frame)
    try:
        result = VALIDATORS[layer](frame, f"{layer}.test")
    except InputError as exc:
        assert must_fail, f"refused a usable frame: {exc}"
        assert f"{layer}.test" in str(exc)
        return
    assert not must_fail, "a frame missing a required column was accepted"
    H.assert_accounted(result, len(frame))


# ------------------------------------------------------------------------------------------------------------
# 2. through files


def _write(frame: pd.DataFrame, folder: Path, layer: str, fmt: str) -> Path:
    """Write a drawn frame as a file of ``fmt``; point layers in tables get lon/lat columns."""
    text = H.as_text_frame(frame)
    if fmt == "geojson":
        path = folder / f"{layer}.geojson"
        if not isinstance(text, gpd.GeoDataFrame):
            text = gpd.GeoDataFrame(text, geometry=gpd.GeoSeries([None] * len(text), index=text.index),
                                    crs="EPSG:4326")
        text.to_file(path, driver="GeoJSON", engine="pyogrio")
        return path
    if isinstance(text, gpd.GeoDataFrame):
        geoms = text.geometry
        is_point = (geoms.geom_type == "Point").to_numpy() & ~geoms.is_empty.to_numpy()
        x = np.where(is_point, shapely.get_x(np.where(is_point, geoms.to_numpy(), None)), np.nan)
        y = np.where(is_point, shapely.get_y(np.where(is_point, geoms.to_numpy(), None)), np.nan)
        text = pd.DataFrame(text.drop(columns=text.geometry.name))
        text["lon"] = [None if np.isnan(v) else repr(float(v)) for v in x]
        text["lat"] = [None if np.isnan(v) else repr(float(v)) for v in y]
    path = folder / f"{layer}.{fmt}"
    _write_table(text, path, fmt)
    return path


def _sheet_text(value: object) -> object:
    """What a worksheet cell can hold: no control characters, and text never taken for a formula."""
    if not isinstance(value, str):
        return value
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    return "＝" + value[1:] if value.startswith("=") else value


def _nonblank_rows(frame: pd.DataFrame) -> int:
    """Rows with a value in some cell as written to a table (a point's lon/lat count)."""
    text = H.as_text_frame(frame)
    filled = np.zeros(len(text), dtype=bool)
    if isinstance(text, gpd.GeoDataFrame):
        g = text.geometry.to_numpy()
        point = (shapely.get_type_id(g) == 0) & ~shapely.is_empty(g)
        x = shapely.get_x(np.where(point, g, None))
        y = shapely.get_y(np.where(point, g, None))
        filled |= point & ~(np.isnan(x) & np.isnan(y))
        text = pd.DataFrame(text.drop(columns=text.geometry.name))
    for col in text.columns:
        cell = text[col].map(lambda v: "" if v is None else str(_sheet_text(v)))
        filled |= (cell.str.strip() != "").to_numpy(dtype=bool)
    return int(filled.sum())


def _write_table(frame: pd.DataFrame, path: Path, fmt: str) -> None:
    if fmt == "csv":  # quoted: pandas leaves a lone carriage return unquoted, which any reader takes for a new line
        frame.to_csv(path, index=False, quoting=csv.QUOTE_ALL)
    elif fmt == "xlsx":  # a worksheet cannot hold control characters
        clean = frame.map(_sheet_text)
        clean.to_excel(path, index=False, engine="openpyxl")
    else:
        frame.astype("string").to_parquet(path, index=False)


FILE_FORMATS = {
    "roads": ["geojson"], "boundaries": ["geojson"], "risk_areas": ["geojson", "csv"],
    "checkpoints": ["csv", "geojson", "xlsx"], "stops": ["csv", "geojson"],
    "trips": ["csv", "parquet", "xlsx"], "stop_times": ["csv", "parquet"],
}


@pytest.mark.parametrize("layer", LAYERS)
@settings(HOSTILE, max_examples=20)
@given(data=st.data())
def test_files_round_trip(layer: str, data: st.DataObject) -> None:
    fmt = data.draw(st.sampled_from(FILE_FORMATS[layer]), label="format")
    frame = data.draw(H.layer_frame(layer, cell=H.TEXT_CELL, max_rows=6))
    if fmt == "geojson" and isinstance(frame, gpd.GeoDataFrame):  # GeoJSON cannot carry non-finite coordinates
        finite = [g is None or np.isfinite(shapely.get_coordinates(g)).all() for g in frame.geometry]
        frame = frame[finite]
    if fmt in ("csv", "parquet", "xlsx") and layer == "risk_areas" and isinstance(frame, gpd.GeoDataFrame):
        frame = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(frame, Path(tmp), layer, fmt)
        if fmt in ("csv", "xlsx") and not len(frame.columns):  # a table without a single column is unreadable
            with pytest.raises(InputError, match="CSV|sheet"):
                read_table(path)
            return
        read = read_table(path)
        n = len(read)
        must_fail = H.expected_error(layer, read)
        try:
            result = VALIDATORS[layer](read, str(path))
        except InputError as exc:
            assert must_fail, f"refused a usable {fmt} file: {exc}"
            assert str(path) in str(exc)
            return
    assert not must_fail
    H.assert_accounted(result, n)
    if fmt == "geojson":
        assert n == len(frame)
    else:  # rows whose every cell is blank are not rows; CSV counts them, a sheet's trailing ones are not seen
        assert n == _nonblank_rows(frame)
        if fmt == "csv":
            assert n + read.attrs["source"].get("blank_rows", 0) == len(frame)


# ------------------------------------------------------------------------------------------------------------
# 3. and 4. whole data sets: cross-layer checks, the audit, the CLI

STOP_IDS = ["s1", "s2", "s3", "s4"]
TRIP_IDS = ["t1", "t2", "t3", "t4"]


def _world_lonlat() -> tuple[float, float, float, float]:
    b = world.boundaries().total_bounds
    return float(b[0]), float(b[1]), float(b[2]), float(b[3])


W0, S0, E0, N0 = _world_lonlat()
IN_WORLD = st.tuples(st.floats(W0, E0), st.floats(S0, N0))
LONLAT_CELL = st.one_of(st.floats(-200, 200).map(repr), st.sampled_from(["", "x", "nan", "1e400", "116°", "4e5"]))


def _cells(values: list[object], n: int) -> st.SearchStrategy[list[object]]:
    return st.lists(st.one_of(st.sampled_from(values), H.TEXT_CELL), min_size=n, max_size=n)


@st.composite
def point_table(draw: st.DrawFn, id_col: str, ids: list[str], max_rows: int, **more: list[object]) -> pd.DataFrame:
    n = draw(st.integers(0, max_rows))
    good = draw(st.lists(IN_WORLD, min_size=n, max_size=n))
    lon = [repr(p[0]) for p in good]
    lat = [repr(p[1]) for p in good]
    for i in range(n):  # some rows swapped, projected or junk
        kind = draw(st.sampled_from(["ok", "ok", "ok", "swap", "junk"]))
        if kind == "swap":
            lon[i], lat[i] = lat[i], lon[i]
        elif kind == "junk":
            lon[i], lat[i] = draw(LONLAT_CELL), draw(LONLAT_CELL)
    cols = {id_col: draw(_cells([*ids, ids[0], None, ""], n)), "lon": lon, "lat": lat}
    cols.update({c: draw(_cells(v, n)) for c, v in more.items()})
    return pd.DataFrame(cols, dtype=object)


@st.composite
def dataset(draw: st.DrawFn) -> dict[str, pd.DataFrame]:
    """Stops, trips, stop_times, checkpoints, roads and risk areas that refer to each other (and sometimes not)."""
    out: dict[str, pd.DataFrame] = {}
    out["stops"] = draw(point_table("stop_id", STOP_IDS, 5, name=["站", "x"]))
    n = draw(st.integers(0, 6))
    out["trips"] = pd.DataFrame({
        "trip_id": draw(_cells([*TRIP_IDS, "t1", None], n)),
        "service_date": draw(_cells(["2020-02-05", "2020/2/5", "2020年2月5日", "20200205", "2020-02-30", None,
                                     "9999-12-31", "0001-01-01", "2020-03-16 08:00"], n)),
        "service_type": draw(_cells(["scheduled", "charter", "other", "班车", "包车", "省际班车", "x", None], n)),
        "seats": draw(_cells(["45", "45", "19", "0", "-1", "45.5", None, "1e9", "45座", str(2**62)], n)),
        "passengers": draw(_cells(["23", "22", "10", "0", "-3", "50", None, "1e9", "２３人"], n)),
    }, dtype=object)
    n = draw(st.integers(0, 10))
    out["stop_times"] = pd.DataFrame({
        "trip_id": draw(_cells([*TRIP_IDS, "t9", None], n)),
        "stop_sequence": draw(_cells(["1", "2", "3", "1.0", "x", None, "-1", "1e300"], n)),
        "stop_id": draw(_cells([*STOP_IDS, "s9", None], n)),
        "pickup": draw(_cells(["1", "0", "", "是", "2"], n)),
        "dropoff": draw(_cells(["1", "0", "", "否", "2"], n)),
    }, dtype=object)
    if draw(st.booleans()):
        out["checkpoints"] = draw(point_table(
            "checkpoint_id", ["c1", "c2", "c3"], 5, opened=["2020-01-22", "2020/1/22", "x", None, "9999-12-31"],
            closed=["2020-03-27", None, "2020-01-01", "0001-01-01"], turn_back=["是", "否", "true", "maybe", None]))
    if draw(st.booleans()):
        roads = world.roads()
        keep = draw(st.lists(st.booleans(), min_size=len(roads), max_size=len(roads)))
        roads = roads[keep].copy()
        roads["road_id"] = draw(_cells(["r1", "r2", None, ""], len(roads)))
        roads["ref"] = draw(_cells(["G105", "S303", "X001", "G70", None, "国道"], len(roads)))
        out["roads"] = roads
    if draw(st.booleans()):
        n = draw(st.integers(0, 5))
        if draw(st.booleans()):
            out["risk_areas"] = pd.DataFrame({
                "adcode": draw(_cells(["360400", "420000", "360400;420000", "36040", None], n)),
                "level": draw(_cells(["high", "medium", "low", "高", "中风险", "x", None], n)),
                "valid_from": draw(_cells(["2020-01-23", "2020-02-05", "x", None, "0001-01-01"], n)),
                "valid_to": draw(_cells(["2020-03-01", "", None, "2020-01-01", "9999-12-31"], n)),
            }, dtype=object)
        else:
            out["risk_areas"] = pd.DataFrame({
                "as_of": draw(_cells(["2020-01-23", "2020-02-05", "2020-03-13", "x", None], n)),
                "adcodes": draw(_cells(["360400", "420000", "360400;420000", "bad", None], n)),
                "level": draw(_cells(["high", "medium", "low", "低风险", None], n)),
            }, dtype=object)
    return out


def _write_dataset(ds: dict[str, pd.DataFrame], folder: Path, fmt_of: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    world.boundaries().to_file(folder / "boundaries.geojson", driver="GeoJSON")
    for name, frame in ds.items():
        fmt = fmt_of.get(name, "csv")
        if name == "roads":
            H.as_text_frame(frame).to_file(folder / "roads.geojson", driver="GeoJSON", engine="pyogrio")
        else:
            _write_table(frame, folder / f"{name}.{fmt}", fmt)


FORMATS = st.fixed_dictionaries({"trips": st.sampled_from(["csv", "parquet", "xlsx"]),
                                 "stop_times": st.sampled_from(["csv", "parquet"]),
                                 "stops": st.sampled_from(["csv", "csv", "xlsx"])})


def _check_cross_layer(layers: dict[str, L.Layer]) -> None:
    if {"trips", "stop_times", "stops"} <= set(layers):
        st_ = layers["stop_times"].frame
        trips = layers["trips"].frame
        assert st_["stop_id"].isin(layers["stops"].frame["stop_id"]).all()
        assert trips["trip_id"].isin(st_["trip_id"]).all()  # a usable trip has usable stops


@settings(HOSTILE, max_examples=40)
@given(ds=dataset(), fmt_of=FORMATS)
def test_load_inputs_accounts_for_every_row(ds: dict[str, pd.DataFrame], fmt_of: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "data"
        _write_dataset(ds, folder, fmt_of)
        inputs = load_inputs(folder, as_of="2020-03-16")
    for name, layer in inputs.layers.items():
        H.assert_accounted(layer, inputs.meta[name]["rows"])
        if name in ds:
            blank = inputs.meta[name].get("blank_rows", 0)
            assert inputs.meta[name]["rows"] + blank == len(ds[name])
    _check_cross_layer(inputs.layers)


def _assert_report(result: transportmon.pipeline.AuditResult) -> None:
    md, rep = result.metadata, result.report
    for name, counts in md["rows"].items():
        assert counts["audited"] + counts["rejected"] == counts["input"], (name, counts)
    rows = md["rows"]
    expected = sum(rows[n]["input"] for n in ("checkpoints", "trips") if n in rows) + sum(
        rows[n]["rejected"] for n in rows if n not in ("checkpoints", "trips"))
    assert len(rep) == expected
    assert rep["verdict"].notna().all()
    assert result.exit_code() in (0, 1)
    assert result.exit_code("warning") in (0, 1)


@settings(HOSTILE, max_examples=15)
@given(ds=dataset(), fmt_of=FORMATS)
def test_audit_never_crashes_and_loses_nothing(ds: dict[str, pd.DataFrame], fmt_of: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "data"
        _write_dataset(ds, folder, fmt_of)
        result = transportmon.audit(folder, as_of="2020-03-16")
    _assert_report(result)


@settings(HOSTILE, max_examples=6)
@given(ds=dataset(), drop=st.sampled_from([None, None, None, ("trips", "seats"), ("stop_times", "stop_id")]))
def test_cli_exit_codes(ds: dict[str, pd.DataFrame], drop: tuple[str, str] | None) -> None:
    """audit and validate exit 0/1 on any rows, and 2 only for a missing required column."""
    if drop is not None:
        ds[drop[0]] = ds[drop[0]].drop(columns=drop[1])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "data"
        _write_dataset(ds, folder, {})
        out = Path(tmp) / "report.geojson"
        audit = CliRunner().invoke(app, ["audit", "--data", str(folder), "--as-of", "2020-03-16", "--out", str(out),
                                         "--fail-on", "warning"])
        check = CliRunner().invoke(app, ["validate", "--data", str(folder), "--format", "json"])
        missing = drop is not None and len(ds[drop[0]]) > 0
        if missing:
            assert audit.exit_code == 2 and check.exit_code == 2
            assert f"{drop[0]}.csv" in audit.stderr and repr(drop[1]) in audit.stderr
            return
        assert audit.exit_code in (0, 1), audit.output
        doc = json.loads(out.read_text(encoding="utf-8"))
        found = json.loads(check.stdout)
    rows = doc["metadata"]["rows"]
    assert len(doc["features"]) == sum(rows[n]["input"] for n in ("checkpoints", "trips") if n in rows) + sum(
        rows[n]["rejected"] for n in rows if n not in ("checkpoints", "trips"))
    rejected = sum(r["rejected"] for r in rows.values())
    assert check.exit_code == (1 if rejected else 0)
    assert {n: (v["rows"], v["usable"], v["rejected"]) for n, v in found["layers"].items()} == {
        n: (v["input"], v["audited"], v["rejected"]) for n, v in rows.items()}
    assert audit.exit_code == (1 if doc["metadata"]["findings"]["violation"] + doc["metadata"]["findings"]["warning"]
                               else 0)
