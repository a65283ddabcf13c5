"""Reading and validating layers: unreadable files are errors naming the file; bad rows are rejected subjects.

DESIGN §3 "Bad input": a row that cannot be audited becomes a ``rejected`` subject with its reason — never a
crash, never a silent drop — and a file that cannot be read at all is a clear error naming the file and the
problem.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
import world
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import transportmon
from transportmon import layers as L
from transportmon._errors import InputError
from transportmon.io.read import read_table
from transportmon.pipeline import AuditResult

AS_OF = "2020-03-16"


def audit(d: Path, **kwargs: object) -> AuditResult:
    kwargs.setdefault("boundaries", d / "boundaries.geojson")
    return transportmon.audit(d, as_of=AS_OF, **kwargs)


def lonlat(x: float, y: float) -> tuple[float, float]:
    """WGS-84 lon/lat of a world point (km)."""
    frame = world.checkpoints([{"checkpoint_id": "p", "x": x, "y": y}])
    return float(frame.geometry.x.iloc[0]), float(frame.geometry.y.iloc[0])


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    return world.write_world(
        tmp_path / "data",
        [{"checkpoint_id": "keep", "x": 30, "y": 98}, {"checkpoint_id": "remove", "x": 30, "y": 60}],
    )


# ------------------------------------------------------------------------------------------------------------
# files that cannot be used at all


def test_missing_required_column_names_file_and_column(folder: Path) -> None:
    lon, lat = lonlat(30, 98)
    bad = folder / "checkpoints.csv"
    bad.write_text(f"name,lon,lat\nA,{lon},{lat}\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        audit(folder)
    msg = str(info.value)
    assert str(bad) in msg
    assert "checkpoint_id" in msg
    assert "name" in msg  # what was found


def test_missing_required_boundary_column(folder: Path) -> None:
    b = gpd.read_file(folder / "boundaries.geojson").drop(columns="level")
    path = folder / "boundaries.geojson"
    b.to_file(path, driver="GeoJSON")
    with pytest.raises(InputError, match="level") as info:
        audit(folder)
    assert info.value.path == str(path)


def test_checkpoints_without_geometry_is_an_error(folder: Path) -> None:
    path = folder / "checkpoints.csv"
    path.write_text("checkpoint_id,name\na,A\n", encoding="utf-8")
    with pytest.raises(InputError, match="no geometry") as info:
        audit(folder)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("junk", bytes(range(256)) * 4),
        ("empty", b""),
        (
            "truncated",
            (
                b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"checkpoint_'
                b'id": "a"}, "geometry": {"type": "Point", "coordinates": [116.'
            ),
        ),
        ("not-json", "检测点,经度\n甲,116\n".encode()),
    ],
)
def test_unreadable_checkpoints_file_names_the_file(folder: Path, name: str, content: bytes) -> None:
    path = folder / f"{name}.geojson"
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        audit(folder, checkpoints=path)
    assert info.value.path == str(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("ext", ["csv", "parquet", "gpkg", "fgb"])
def test_unreadable_file_of_any_format(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"layer.{ext}"
    path.write_bytes(b"\x00\xff\x13 not a layer \x00" * 20)
    with pytest.raises(InputError) as info:
        read_table(path)
    assert str(path) in str(info.value)


def test_missing_file_and_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        read_table(tmp_path / "nope.geojson")
    (tmp_path / "layer.xyz").write_text("a")
    with pytest.raises(InputError, match="xyz"):
        read_table(tmp_path / "layer.xyz")
    with pytest.raises(InputError, match="folder"):
        read_table(tmp_path)


def test_error_is_a_transportmon_error() -> None:
    from transportmon._errors import TransportmonError

    assert issubclass(InputError, TransportmonError)


# ------------------------------------------------------------------------------------------------------------
# bad rows are rejected subjects


@pytest.fixture(scope="module")
def bad_rows(tmp_path_factory: pytest.TempPathFactory) -> AuditResult:
    d = world.write_world(tmp_path_factory.mktemp("bad_rows"), [{"checkpoint_id": "ok", "x": 30, "y": 98}])
    lon, lat = lonlat(30, 98)
    px, py = world.m(30, 98)
    rows = [
        "checkpoint_id,lon,lat,opened,closed,turn_back,blocks_freight",
        f"ok,{lon},{lat},,,,",  # 0 audited
        f",{lon},{lat},,,,",  # 1 missing-id
        f"ok,{lon},{lat},,,,",  # 2 duplicate-id
        f"baddate,{lon},{lat},2020-13-45,,,",  # 3 malformed-date
        f"reversed,{lon},{lat},2020-03-10,2020-03-01,,",  # 4 closed-before-opened
        f"projected,{px},{py},,,,",  # 5 coordinates-out-of-range
        f"nolon,,{lat},,,,",  # 6 missing-geometry
        f"maybe,{lon},{lat},,,maybe,",  # 7 malformed-value
        f"swapped,{lat},{lon},,,,",  # 8 coordinates-out-of-range (lat > 90)
        f"samedate,{lon},{lat},2020-03-10,2020-03-10,,",  # 9 closed-before-opened (closed the day it opened)
        f"freight,{lon},{lat},,,,perhaps",  # 10 malformed-value
        f"cn-date,{lon},{lat},2020年3月1日,2020/4/1,是,否",  # 11 audited: Chinese date and boolean forms
    ]
    (d / "checkpoints.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return audit(d)


#: Rejected rows by their line in checkpoints.csv (the header is line 1; the comments above count data rows from 0).
EXPECTED_REJECTED = {
    3: ("row 3", "missing-id", "TM901"),
    4: ("ok", "duplicate-id", "TM902"),
    5: ("baddate", "malformed-date", "TM904"),
    6: ("reversed", "closed-before-opened", "TM904"),
    7: ("projected", "coordinates-out-of-range", "TM903"),
    8: ("nolon", "missing-geometry", "TM903"),
    9: ("maybe", "malformed-value", "TM905"),
    10: ("swapped", "coordinates-out-of-range", "TM903"),
    11: ("samedate", "closed-before-opened", "TM904"),
    12: ("freight", "malformed-value", "TM905"),
}


def test_bad_rows_become_rejected_subjects(bad_rows: AuditResult) -> None:
    rep = bad_rows.report
    rejected = rep[rep["verdict"] == "rejected"].set_index("source_row")
    assert sorted(rejected.index) == sorted(EXPECTED_REJECTED)
    for row, (sid, reason, rule) in EXPECTED_REJECTED.items():
        got = rejected.loc[row]
        assert (got["subject"], got["subject_id"], got["reason"]) == ("checkpoint", sid, reason), row
        assert [f["rule_id"] for f in got["findings"]] == [rule]
        assert got["findings"][0]["severity"] == "warning"
        assert f"row {row} " in got["findings"][0]["message_en"]
    assert rejected.loc[4, "detail"] == "same id as row 2"


def test_rejected_details_say_what_was_wrong(bad_rows: AuditResult) -> None:
    rejected = bad_rows.report.set_index("source_row")
    assert "2020-13-45" in rejected.loc[5, "detail"]
    assert "maybe" in rejected.loc[9, "detail"]
    assert "lon=" in rejected.loc[8, "detail"]
    assert "not WGS-84" in rejected.loc[7, "detail"]


def test_audited_rows_of_a_bad_file(bad_rows: AuditResult) -> None:
    rep = bad_rows.report
    audited = rep[rep["verdict"] != "rejected"].set_index("subject_id")
    assert sorted(audited.index) == ["cn-date", "ok"]
    assert audited.loc["ok", "verdict"] == "keep"
    assert audited.loc["cn-date", "verdict"] == "keep"
    assert {f["rule_id"] for f in audited.loc["cn-date", "findings"]} == {"TM102", "TM110"}


def test_rejected_geometry_is_only_kept_when_usable(bad_rows: AuditResult) -> None:
    rep = bad_rows.report.set_index("source_row")
    assert rep.loc[7, "geometry"] is None  # projected metres are not lon/lat
    assert rep.loc[10, "geometry"] is None
    assert rep.loc[8, "geometry"] is None
    assert rep.loc[9, "geometry"] is not None and rep.loc[9, "geometry"].x == pytest.approx(lonlat(30, 98)[0])


def test_every_row_accounted_for(bad_rows: AuditResult) -> None:
    rows = bad_rows.metadata["rows"]
    assert rows["checkpoints"] == {"input": 12, "audited": 2, "rejected": 10}
    for name, r in rows.items():
        assert r["audited"] + r["rejected"] == r["input"], name
    assert bad_rows.metadata["counts"]["checkpoint"] == {"keep": 2, "rejected": 10}
    assert len(bad_rows.report) == 12


def test_bad_rows_of_other_layers_are_subjects_too(tmp_path: Path) -> None:
    d = world.write_world(tmp_path / "data", [{"checkpoint_id": "keep", "x": 30, "y": 98}])
    roads = world.roads()
    roads.loc[len(roads)] = [None, "X9", "tertiary", world.line((0, 0), (1, 1))]  # no road_id
    roads = gpd.GeoDataFrame(roads, geometry="geometry", crs="EPSG:4326")
    roads.loc[len(roads)] = ["r-pt", "X10", "tertiary", shapely.Point(116.0, 30.0)]  # wrong geometry type
    roads.to_file(d / "roads.geojson", driver="GeoJSON")
    b = world.boundaries()
    b.loc[len(b)] = ["36040", "坏", "county", world.box(0, 0, 1, 1)]  # 5-digit adcode
    gpd.GeoDataFrame(b, geometry="geometry", crs="EPSG:4326").to_file(
        d / "boundaries.geojson", driver="GeoJSON"
    )
    result = audit(d)
    rows = result.metadata["rows"]
    assert rows["roads"] == {"input": 9, "audited": 7, "rejected": 2}
    assert rows["boundaries"] == {"input": 5, "audited": 4, "rejected": 1}
    rep = result.report
    rej = rep[rep["verdict"] == "rejected"]
    assert sorted(zip(rej["subject"], rej["reason"])) == [
        ("boundaries", "malformed-adcode"),
        ("roads", "missing-id"),
        ("roads", "wrong-geometry-type"),
    ]
    assert sorted(fl[0]["rule_id"] for fl in rej["findings"]) == ["TM901", "TM903", "TM905"]
    assert all(len(fl) == 1 for fl in rej["findings"])
    assert result.report.set_index("subject_id").loc["keep", "verdict"] == "keep"


def test_aliases_and_chinese_headers(tmp_path: Path) -> None:
    d = world.write_world(tmp_path / "data", [{"checkpoint_id": "keep", "x": 30, "y": 98}])
    lon, lat = lonlat(30, 98)
    (d / "checkpoints.csv").write_text(
        f"检测点编号,经度,纬度,设立日期,是否劝返\n甲,{lon},{lat},2020-02-01,是\n", encoding="gb18030"
    )
    rep = audit(d).report
    assert rep["subject_id"].tolist() == ["甲"]
    assert rep["verdict"].tolist() == ["keep"]
    assert [f["rule_id"] for f in rep["findings"].iloc[0]] == ["TM102", "TM110"]


EMPTY_GEOJSON = '{"type": "FeatureCollection", "features": []}'


def test_empty_geojson_checkpoints_is_an_empty_layer(folder: Path) -> None:
    path = folder / "empty.geojson"
    path.write_text(EMPTY_GEOJSON, encoding="utf-8")
    result = audit(folder, checkpoints=path)
    assert len(result.report) == 0
    assert result.metadata["rows"]["checkpoints"] == {"input": 0, "audited": 0, "rejected": 0}


def test_empty_roads_layer_makes_every_checkpoint_review(folder: Path) -> None:
    path = folder / "empty.geojson"
    path.write_text(EMPTY_GEOJSON, encoding="utf-8")
    rep = audit(folder, roads=path).report
    assert rep["verdict"].tolist() == ["review", "review"]
    assert rep["reason"].tolist() == ["no-road", "no-road"]


def test_ids_are_text(tmp_path: Path) -> None:
    d = world.write_world(tmp_path / "data", [{"checkpoint_id": "007", "x": 30, "y": 98}])
    assert audit(d).report["subject_id"].tolist() == ["007"]


# ------------------------------------------------------------------------------------------------------------
# validate_* directly


def frame(rows: list[dict]) -> gpd.GeoDataFrame:
    return world.checkpoints(rows)


def test_validate_checkpoints_parses_dates_and_flags() -> None:
    layer = L.validate_checkpoints(
        frame(
            [
                {
                    "checkpoint_id": "a",
                    "x": 30,
                    "y": 98,
                    "opened": "2020/2/1",
                    "closed": "2020.03.20",
                    "turn_back": "1",
                    "blocks_freight": "否",
                },
                {
                    "checkpoint_id": "b",
                    "x": 30,
                    "y": 97,
                    "opened": "",
                    "closed": "",
                    "turn_back": "",
                    "blocks_freight": "FALSE",
                },
            ]
        ),
        "cp.geojson",
    )
    assert layer.rows == 2 and len(layer.rejected) == 0
    f = layer.frame.set_index("checkpoint_id")
    assert f.loc["a", "opened"] == pd.Timestamp("2020-02-01")
    assert f.loc["a", "closed"] == pd.Timestamp("2020-03-20")
    assert pd.isna(f.loc["b", "opened"])
    assert f["turn_back"].tolist() == [True, False]
    assert f["blocks_freight"].tolist() == [False, False]
    assert f["row"].tolist() == [0, 1]


def test_validate_checkpoints_wrong_geometry_type() -> None:
    gdf = gpd.GeoDataFrame(
        {"checkpoint_id": ["line"]}, geometry=[shapely.LineString([(116, 30), (116.1, 30)])], crs="EPSG:4326"
    )
    layer = L.validate_checkpoints(gdf, "cp.geojson")
    assert layer.rejected["reason"].tolist() == ["wrong-geometry-type"]
    assert "LineString" in layer.rejected["detail"].iloc[0]


def test_validate_empty_checkpoints() -> None:
    gdf = gpd.GeoDataFrame(
        {"checkpoint_id": pd.Series([], dtype="string")}, geometry=gpd.GeoSeries([], crs="EPSG:4326")
    )
    layer = L.validate_checkpoints(gdf, "cp.geojson")
    assert layer.rows == 0 and len(layer.frame) == 0 and len(layer.rejected) == 0


def test_first_reason_wins() -> None:
    gdf = gpd.GeoDataFrame({"checkpoint_id": [None], "opened": ["bad"]}, geometry=[None], crs="EPSG:4326")
    layer = L.validate_checkpoints(gdf, "cp.geojson")
    assert layer.rejected["reason"].tolist() == ["missing-id"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020-03-16", "2020-03-16"),
        ("2020/3/16", "2020-03-16"),
        ("2020.03.16", "2020-03-16"),
        ("2020年3月16日", "2020-03-16"),
        ("2020-03-16 00:00:00", "2020-03-16"),
        ("", None),
        (None, None),
    ],
)
def test_parse_dates_accepts(text: str | None, expected: str | None) -> None:
    dates, bad = L.parse_dates(pd.Series([text], dtype="string"))
    assert not bad.iloc[0]
    assert pd.isna(dates.iloc[0]) if expected is None else dates.iloc[0] == pd.Timestamp(expected)


@pytest.mark.parametrize("text", ["2020-02-30", "16/03/2020", "yesterday", "2020-3", "20200316x"])
def test_parse_dates_rejects(text: str) -> None:
    dates, bad = L.parse_dates(pd.Series([text], dtype="string"))
    assert bad.iloc[0]
    assert pd.isna(dates.iloc[0])


def test_parse_bools() -> None:
    values, bad = L.parse_bools(
        pd.Series(["true", "是", "Y", "1", "否", "", None, "0", "maybe", "2"], dtype="string")
    )
    assert values.tolist() == [True, True, True, True, False, False, False, False, False, False]
    assert bad.tolist() == [False] * 8 + [True, True]


# ------------------------------------------------------------------------------------------------------------
# formats


CPS = [
    {
        "checkpoint_id": "keep",
        "x": 30,
        "y": 98,
        "opened": "2020-02-01",
        "closed": "",
        "turn_back": "true",
        "blocks_freight": "false",
        "name": "甲",
    },
    {
        "checkpoint_id": "remove",
        "x": 30,
        "y": 60,
        "opened": "",
        "closed": "2020-04-01",
        "turn_back": "false",
        "blocks_freight": "true",
        "name": "乙",
    },
    {
        "checkpoint_id": "express",
        "x": 20,
        "y": 99,
        "opened": "",
        "closed": "",
        "turn_back": "",
        "blocks_freight": "",
        "name": "丙",
    },
    {
        "checkpoint_id": "closed",
        "x": 30,
        "y": 70,
        "opened": "2020-01-01",
        "closed": "2020-03-01",
        "turn_back": "",
        "blocks_freight": "",
        "name": "丁",
    },
]


def _write(gdf: gpd.GeoDataFrame, path: Path) -> None:
    ext = path.suffix
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore"
        )  # the Shapefile driver warns that it cuts field names to 10 characters
        if ext == ".parquet":
            gdf.to_parquet(path)
        elif ext == ".csv":
            pd.DataFrame(gdf.assign(lon=gdf.geometry.x, lat=gdf.geometry.y).drop(columns="geometry")).to_csv(
                path, index=False
            )
        else:
            gdf.to_file(path)


@pytest.fixture(scope="module")
def format_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    d = world.write_world(tmp_path_factory.mktemp("formats"), CPS)
    gdf = world.checkpoints(CPS)
    out = {}
    for ext in (".geojson", ".gpkg", ".shp", ".fgb", ".parquet", ".csv"):
        path = d / f"cp{ext}"
        _write(gdf, path)
        rep = audit(d, checkpoints=path).report
        out[ext] = rep[
            ["subject", "subject_id", "verdict", "reason", "road_ref", "distance_to_crossing_m", "findings"]
        ]
    return out


@pytest.mark.parametrize("ext", [".gpkg", ".shp", ".fgb", ".parquet", ".csv"])
def test_formats_give_the_same_verdicts(format_results: dict[str, pd.DataFrame], ext: str) -> None:
    reference = format_results[".geojson"]
    assert reference["verdict"].tolist() == ["inactive", "review", "keep", "remove"]
    got = format_results[ext]
    pd.testing.assert_frame_equal(got.drop(columns="findings"), reference.drop(columns="findings"))
    assert [[f["rule_id"] for f in fl] for fl in got["findings"]] == [
        [f["rule_id"] for f in fl] for fl in reference["findings"]
    ]


def test_parquet_without_geometry_is_an_error(tmp_path: Path) -> None:
    d = world.write_world(tmp_path / "data", [{"checkpoint_id": "keep", "x": 30, "y": 98}])
    pd.DataFrame({"checkpoint_id": ["a"]}).to_parquet(d / "cp.parquet")
    with pytest.raises(InputError, match="no geometry"):
        audit(d, checkpoints=d / "cp.parquet")


def test_projected_layer_is_reprojected(tmp_path: Path) -> None:
    d = world.write_world(tmp_path / "data", [{"checkpoint_id": "keep", "x": 30, "y": 98}])
    gdf = world.checkpoints([{"checkpoint_id": "keep", "x": 30, "y": 98}]).to_crs(world.CRS_M)
    gdf.to_file(d / "cp.gpkg")
    rep = audit(d, checkpoints=d / "cp.gpkg").report
    assert rep["verdict"].tolist() == ["keep"]
    assert rep["distance_to_crossing_m"].iloc[0] == pytest.approx(2000, abs=0.5)


# ------------------------------------------------------------------------------------------------------------
# property: no input row crashes the validation or goes missing


CELL = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.sampled_from(
        [
            "",
            "2020-03-16",
            "2020/3/1",
            "2020-02-30",
            "true",
            "否",
            "maybe",
            "1e9",
            "-91",
            "181",
            "nan",
            "inf",
            "007",
            " a ",
            "ok",
        ]
    ),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(CELL, CELL, CELL, CELL, CELL, CELL), min_size=0, max_size=8))
def test_any_csv_rows_are_accounted_for(rows: list[tuple]) -> None:
    df = pd.DataFrame(rows, columns=["checkpoint_id", "lon", "lat", "opened", "closed", "turn_back"])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "checkpoints.csv"
        df.to_csv(path, index=False)
        read = read_table(path)
        layer = L.validate_checkpoints(read, str(path))
    assert len(layer.frame) + len(layer.rejected) == layer.rows == len(read)
    assert set(layer.frame["row"]).isdisjoint(layer.rejected["row"])
    assert sorted([*layer.frame["row"], *layer.rejected["row"]]) == list(range(layer.rows))
    assert layer.rejected["reason"].notna().all()
    if len(layer.rejected):  # a rejected row's geometry goes to the GeoJSON only when it is valid lon/lat
        g = layer.rejected.geometry.dropna()
        rb = g.bounds
        assert ((rb.minx >= -180) & (rb.maxx <= 180) & (rb.miny >= -90) & (rb.maxy <= 90)).all()
    if len(layer.frame):
        assert layer.frame["checkpoint_id"].notna().all() and layer.frame["checkpoint_id"].is_unique
        b = layer.frame.geometry.bounds
        assert ((b.minx >= -180) & (b.maxx <= 180) & (b.miny >= -90) & (b.maxy <= 90)).all()
