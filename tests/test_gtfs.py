"""A GTFS feed plus an occupancy table gives the same trip verdicts as the CSV layers of the same trips.

The feed is written into ``tmp_path`` over the trip world of ``tests/test_trips.py`` (stops JA, JB, NC, HM, HZ; 421127
黄梅 high from 2020-02-01). Service ``WK`` runs Monday–Friday in February 2020, except Friday 2020-02-07
(calendar_dates type 2), plus Sunday 2020-02-09 (type 1). 2020-02-05 is a Wednesday.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import zipfile
from pathlib import Path

import distributed
import pandas as pd
import pytest
from test_trips import AS_OF, assert_counts_add_up, stop_points, trip_rows, write_trip_world
from typer.testing import CliRunner, Result

import transportmon
from transportmon._errors import InputError
from transportmon.cli import app
from transportmon.io.gtfs import REQUIRED_FILES, read_gtfs
from transportmon.io.write import geojson_chunks

# GTFS trip id: (stops with pickup_type/drop_off_type; "" = empty cell)
FEED_TRIPS = {
    "T1": [("JA", "0", "1"), ("HM", "1", "0")],
    "T2": [("JA", "0", "1"), ("HM", "1", "0")],
    "T3": [("JB", "0", "1"), ("HM", "1", "1"), ("NC", "1", "0")],  # passes HM: pass-through-only
    "T4": [("JA", "0", "1"), ("JB", "1", "0")],  # intra-city
    "T5": [("JB", "", ""), ("HM", "1", "3"), ("HZ", "1", "")],  # 3 = coordinate with the driver: alighting
    "T6": [("JA", "0", "1"), ("HM", "1", "0")],
    "T7": [("JA", "0", "1"), ("HM", "1", "0")],
    "T8": [("JB", "0", "2"), ("HM", "2", "0")],  # 2 = phone the agency: boarding/alighting
}
EMPTY_TRIP = "T9"  # in trips.txt, without stop_times
# occupancy rows: (trip_id, service_date, seats, passengers) → expected (audited id, verdict, reason)
OCCUPANCY = [
    (("T1", "2020-02-05", 45, 23), ("T1@2020-02-05", "over-cap", None)),
    (("T1", "2020-02-06", 45, 22), ("T1@2020-02-06", "compliant", None)),
    (("T2", "2020-02-05", 45, 22), ("T2", "compliant", None)),
    (("T3", "2020-02-05", 45, 40), ("T3", "not-applicable", "pass-through-only")),
    (("T4", "2020-02-05", 45, 40), ("T4", "not-applicable", "intra-city")),
    (("T5", "2020-02-05", 45, 30), ("T5", "over-cap", None)),
    (("T6", "2020-02-08", 45, 10), ("T6", "rejected", "not-in-calendar")),  # a Saturday
    (("T7", "2020-02-07", 45, 10), ("T7", "rejected", "not-in-calendar")),  # removed by calendar_dates
    (("T8", "2020-02-09", 45, 23), ("T8", "over-cap", None)),  # a Sunday added by calendar_dates
]


def write_csv(path: Path, header: str, rows: list[tuple]) -> None:
    lines = [header] + [",".join(map(str, r)) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_feed(folder: Path, *, calendar: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    pts = stop_points(["JA", "JB", "NC", "HM", "HZ"])
    write_csv(folder / "stops.txt", "stop_id,stop_name,stop_lat,stop_lon,location_type",
              [(s, f"站{s}", f"{p.y:.9f}", f"{p.x:.9f}", "0") for s, p in zip(pts["stop_id"], pts.geometry)])
    write_csv(folder / "agency.txt", "agency_id,agency_name,agency_url,agency_timezone",
              [("A", "九江长运", "https://example.org", "Asia/Shanghai")])
    write_csv(folder / "routes.txt", "route_id,agency_id,route_short_name,route_type", [("R1", "A", "九江-黄梅", "3")])
    write_csv(folder / "trips.txt", "route_id,service_id,trip_id",
              [("R1", "WK", t) for t in [*FEED_TRIPS, EMPTY_TRIP]])
    st_rows = []
    for t, stops in FEED_TRIPS.items():
        for i, (s, pickup, dropoff) in enumerate(stops, start=1):
            time = f"{7 + i:02d}:00:00"
            st_rows.append((t, time, time, s, i, pickup, dropoff))
    write_csv(folder / "stop_times.txt",
              "trip_id,arrival_time,departure_time,stop_id,stop_sequence,pickup_type,drop_off_type", st_rows)
    if calendar:
        write_csv(folder / "calendar.txt",
                  "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date",
                  [("WK", 1, 1, 1, 1, 1, 0, 0, "20200201", "20200229")])
        write_csv(folder / "calendar_dates.txt", "service_id,date,exception_type",
                  [("WK", "20200207", 2), ("WK", "20200209", 1)])
    return folder


def write_occupancy(path: Path, rows: list[tuple] | None = None) -> Path:
    write_csv(path, "trip_id,service_date,seats,passengers", rows if rows is not None else [r for r, _ in OCCUPANCY])
    return path


@pytest.fixture(scope="module")
def gtfs_world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    base = tmp_path_factory.mktemp("gtfs")
    data = write_trip_world(base / "data", [], [])
    for name in ("stops.csv", "trips.csv", "stop_times.csv"):  # the feed gives these
        (data / name).unlink()
    return data, write_feed(base / "feed"), write_occupancy(base / "occupancy.csv")


@pytest.fixture(scope="module")
def gtfs_result(gtfs_world: tuple[Path, Path, Path]) -> transportmon.AuditResult:
    data, feed, occ = gtfs_world
    return transportmon.audit(data, gtfs=feed, occupancy=occ, as_of=AS_OF)


@pytest.mark.parametrize(("audited_id", "verdict", "reason"), [e for _, e in OCCUPANCY])
def test_gtfs_verdicts(gtfs_result: transportmon.AuditResult, audited_id: str, verdict: str,
                       reason: str | None) -> None:
    row = trip_rows(gtfs_result).loc[audited_id]
    assert row["verdict"] == verdict
    assert (None if pd.isna(row["reason"]) else row["reason"]) == reason


def test_gtfs_ids_and_counts(gtfs_result: transportmon.AuditResult) -> None:
    t = trip_rows(gtfs_result)
    assert sorted(t.index) == sorted(e[0] for _, e in OCCUPANCY)
    assert "T1" not in t.index  # on two dates: both get <trip>@<date>
    assert t.loc["T1@2020-02-05", "service_date"] == "2020-02-05"
    assert t.loc["T1@2020-02-06", "service_date"] == "2020-02-06"
    assert t.loc["T2", "route_id"] == "R1"
    assert t.loc["T5", "risk_stops"] == ["HM"]
    assert t.loc["T8", "risk_stops"] == ["HM"]
    assert_counts_add_up(gtfs_result, len(OCCUPANCY))
    assert gtfs_result.metadata["rows"]["trips"] == {"input": 9, "audited": 7, "rejected": 2}
    assert gtfs_result.metadata["inputs"]["trips"]["source"] == "gtfs"


def test_gtfs_equals_csv_form(gtfs_result: transportmon.AuditResult, tmp_path: Path) -> None:
    """The same trips written as trips/stop_times CSV give the same report rows."""
    trips, st_rows = [], []
    for (gtfs_id, date, seats, pax), (audited_id, verdict, _) in OCCUPANCY:
        if verdict == "rejected":  # the CSV form has no calendar
            continue
        trips.append(dict(trip_id=audited_id, service_date=date, service_type="scheduled", seats=seats,
                          passengers=pax))
        for i, (s, pickup_type, drop_off_type) in enumerate(FEED_TRIPS[gtfs_id], start=1):
            st_rows.append(dict(trip_id=audited_id, stop_sequence=i, stop_id=s, pickup=int(pickup_type != "1"),
                                dropoff=int(drop_off_type != "1")))
    csv_result = transportmon.audit(write_trip_world(tmp_path, trips, st_rows), as_of=AS_OF)
    cols = ["verdict", "reason", "scope", "risk_stops", "risk_level", "passengers", "seats", "occupancy",
            "max_passengers", "excess_passengers", "service_date"]
    from_gtfs = trip_rows(gtfs_result)
    from_gtfs = from_gtfs[from_gtfs["verdict"] != "rejected"][cols].sort_index()
    from_csv = trip_rows(csv_result)[cols].sort_index()
    pd.testing.assert_frame_equal(from_gtfs.astype(object), from_csv.astype(object))
    g = trip_rows(gtfs_result).loc[from_csv.index, "geometry"]
    c = trip_rows(csv_result).loc[from_csv.index, "geometry"]
    assert all(a.equals_exact(b, 1e-7) for a, b in zip(g, c))


# --------------------------------------------------------------------------------------------------------------------
# read_gtfs


def test_read_gtfs_frames(gtfs_world: tuple[Path, Path, Path]) -> None:
    _, feed, occ = gtfs_world
    out = read_gtfs(feed, occ)
    trips = out["trips"].set_index("trip_id")
    assert list(trips.index) == [e[0] for _, e in OCCUPANCY]
    assert (trips["service_type"] == "scheduled").all()
    assert trips["_in_calendar"].astype(bool).to_dict() == {e[0]: e[1] != "rejected" for _, e in OCCUPANCY}
    st = out["stop_times"]
    t5 = st[st["trip_id"] == "T5"].sort_values("stop_sequence")
    assert t5["pickup"].tolist() == [True, False, False]  # empty → boards; 1 → no pickup
    assert t5["dropoff"].tolist() == [True, True, True]  # 3 → may alight; empty → may alight
    t3 = st[st["trip_id"] == "T3"].sort_values("stop_sequence")
    assert t3[["pickup", "dropoff"]].to_numpy().tolist() == [[True, False], [False, False], [False, True]]
    assert len(st[st["trip_id"].str.startswith("T1@")]) == 4  # two stops on each of two dates
    assert len(out["stops"]) == 5 and out["stops"].crs.to_epsg() == 4326


def test_feed_without_calendar_runs_every_date(tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "feed", calendar=False)
    occ = write_occupancy(tmp_path / "occ.csv", [("T6", "2020-02-08", 45, 10), ("T7", "2020-02-07", 45, 30)])
    out = read_gtfs(feed, occ)
    assert out["trips"]["_in_calendar"].astype(bool).tolist() == [True, True]


def test_bad_occupancy_rows_are_rejected_and_service_type_read(tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "feed")
    occ = tmp_path / "occ.csv"
    write_csv(occ, "trip_id,service_date,seats,passengers,service_type", [
        ("T1", "2020-02-05", 45, 46, "scheduled"), ("T2", "2020-02-05", 0, 0, "scheduled"),
        ("T4", "2020-02-31", 45, 10, "scheduled"), ("NOPE", "2020-02-05", 45, 10, "scheduled"),
        ("T5", "2020-02-05", 45, 10, "charter"), ("T6", "2020-02-05", 45, 40, "charter"),
        ("T7", "2020-02-05", 45, 40, "other")])
    data = write_trip_world(tmp_path / "data", [], [])
    for name in ("stops.csv", "trips.csv", "stop_times.csv"):
        (data / name).unlink()
    result = transportmon.audit(data, gtfs=feed, occupancy=occ, as_of=AS_OF)
    t = trip_rows(result)
    assert t.loc["T1", "reason"] == "passengers-exceed-seats"
    assert t.loc["T2", "reason"] == "non-positive-seats"
    assert t.loc["T4", "reason"] == "malformed-date"
    assert t.loc["NOPE", "verdict"] == "rejected"  # not in trips.txt: no calendar, no stops
    assert t.loc["T5", "verdict"] == "compliant"
    # The occupancy table's service_type column is used (default scheduled).
    assert t.loc["T6", "verdict"] == "over-cap"
    assert (t.loc["T7", "verdict"], t.loc["T7", "reason"]) == ("not-applicable", "service-type")
    assert_counts_add_up(result, 7)


def test_missing_feed_file_is_a_clear_error(tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "feed")
    (feed / "stop_times.txt").unlink()
    with pytest.raises(InputError, match="stop_times.txt"):
        read_gtfs(feed, write_occupancy(tmp_path / "occ.csv"))


def test_occupancy_without_passengers_is_a_clear_error(tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "feed")
    occ = tmp_path / "occ.csv"
    write_csv(occ, "trip_id,service_date,seats", [("T1", "2020-02-05", 45)])
    with pytest.raises(InputError, match="passengers"):
        read_gtfs(feed, occ)


def test_repeated_trip_with_malformed_or_repeated_date(tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "feed")
    occ = write_occupancy(tmp_path / "occ.csv", [
        ("T1", "2020-02-05", 45, 23), ("T1", "2020-02-05", 45, 10), ("T1", "someday", 45, 10)])
    out = read_gtfs(feed, occ)
    assert out["trips"]["trip_id"].tolist() == ["T1@2020-02-05", "T1@2020-02-05", "T1@someday"]
    st = out["stop_times"]
    assert (st["trip_id"] == "T1@2020-02-05").sum() == 2  # one itinerary per audited id, not one per row

    data = write_trip_world(tmp_path / "data", [], [])
    for name in ("stops.csv", "trips.csv", "stop_times.csv"):
        (data / name).unlink()
    result = transportmon.audit(data, gtfs=feed, occupancy=occ, as_of=AS_OF)
    rep = result.report[result.report["subject"] == "trip"]
    got = sorted(zip(rep["subject_id"], rep["verdict"], rep["reason"].fillna("")))
    assert got == [("T1@2020-02-05", "over-cap", ""), ("T1@2020-02-05", "rejected", "duplicate-id"),
                   ("T1@someday", "rejected", "malformed-date")]
    assert_counts_add_up(result, 3)


# --------------------------------------------------------------------------------------------------------------------
# GTFS as published: a zip, or a folder, with real feeds' shapes (issue 12, item 7)


def zip_feed(folder: Path, target: Path, prefix: str = "", extra: dict[str, bytes] | None = None,
             compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """Zip the files of ``folder`` under ``prefix`` (``"gtfs/"``: in one sub-folder, as many feeds are published)."""
    with zipfile.ZipFile(target, "w", compression=compression) as zf:
        for f in sorted(folder.iterdir()):
            zf.write(f, prefix + f.name)
        for name, payload in (extra or {}).items():
            zf.writestr(name, payload)
    return target


def data_folder(path: Path) -> Path:
    """The trip world's ``--data`` folder without stops, trips and stop_times: the feed gives them."""
    data = write_trip_world(path, [], [])
    for name in ("stops.csv", "trips.csv", "stop_times.csv"):
        (data / name).unlink()
    return data


def test_feed_without_calendar_is_said(gtfs_world: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """Every date running is an assumption made for the user: a warning on the terminal and in the metadata, never
    in the inputs' entries; a feed with a calendar has no such warning."""
    data, _, _ = gtfs_world
    feed = write_feed(tmp_path / "feed", calendar=False)
    occ = write_occupancy(tmp_path / "occ.csv", [("T6", "2020-02-08", 45, 10), ("T7", "2020-02-07", 45, 30)])
    result = transportmon.audit(data, gtfs=feed, occupancy=occ, as_of=AS_OF)
    said = [w for w in result.metadata["warnings"] if "calendar" in w]
    assert said == [f"{feed}: neither calendar.txt nor calendar_dates.txt: every trip of the occupancy table is taken "
                    "to run on its service_date (no not-in-calendar check)"]
    assert "no_calendar" not in result.metadata["inputs"]["trips"]
    assert set(result.report.loc[result.report["subject"] == "trip", "verdict"]) <= {"compliant", "over-cap",
                                                                                    "not-applicable"}
    res = invoke("audit", "--data", data, "--gtfs", feed, "--occupancy", occ, "--as-of", AS_OF,
                 "--out", tmp_path / "r.geojson", "--fail-on", "never")
    assert "neither calendar.txt nor calendar_dates.txt" in one_line(res)
    with_calendar = transportmon.audit(data, gtfs=write_feed(tmp_path / "cal"), occupancy=occ, as_of=AS_OF)
    assert not [w for w in with_calendar.metadata["warnings"] if "calendar" in w]


def report_text(result: transportmon.AuditResult, *, inputs: bool = True) -> str:
    """The GeoJSON report as written (``inputs=False``: without the metadata naming the input files)."""
    md = result.metadata if inputs else {k: v for k, v in result.metadata.items() if k != "inputs"}
    return "".join(geojson_chunks(result.report, md))


def invoke(*args: object) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "300"})  # tables not folded


def one_line(result: Result) -> str:
    return re.sub(r"\s+", " ", result.stdout + result.stderr)


@pytest.mark.parametrize("prefix", ["", "gtfs/", "feed-2020/gtfs/"])
def test_zip_feed_gives_the_folder_report(gtfs_world: tuple[Path, Path, Path], gtfs_result: transportmon.AuditResult,
                                          tmp_path: Path, prefix: str) -> None:
    data, feed, occ = gtfs_world
    # A zip made on a Mac carries resource forks beside the files: they are not feed files.
    zipped = zip_feed(feed, tmp_path / "feed.zip", prefix, extra={f"__MACOSX/{prefix}._stops.txt": b"\x00\x05\x16"})
    result = transportmon.audit(data, gtfs=zipped, occupancy=occ, as_of=AS_OF)
    assert report_text(result, inputs=False) == report_text(gtfs_result, inputs=False)
    assert result.metadata["rows"]["trips"] == {"input": 9, "audited": 7, "rejected": 2}
    digest = hashlib.sha256(zipped.read_bytes()).hexdigest()
    for name in ("stops", "stop_times"):
        meta = result.metadata["inputs"][name]
        assert (Path(meta["path"]).name, meta["member"], meta["sha256"], meta["source"]) == (
            "feed.zip", f"{prefix}{name}.txt", digest, "gtfs")
    trips_meta = result.metadata["inputs"]["trips"]
    assert Path(trips_meta["path"]).name == "occupancy.csv" and "member" not in trips_meta
    assert trips_meta["sha256"] == hashlib.sha256(occ.read_bytes()).hexdigest()
    # A folder feed records each file, as before.
    assert Path(gtfs_result.metadata["inputs"]["stops"]["path"]).name == "stops.txt"
    assert "member" not in gtfs_result.metadata["inputs"]["stops"]


def test_folder_feed_in_one_sub_folder(gtfs_world: tuple[Path, Path, Path], gtfs_result: transportmon.AuditResult,
                                       tmp_path: Path) -> None:
    """An unzipped feed whose files sit in one sub-folder, as unzipping such a zip gives it."""
    data, feed, occ = gtfs_world
    shutil.copytree(feed, tmp_path / "unzipped" / "gtfs")
    result = transportmon.audit(data, gtfs=tmp_path / "unzipped", occupancy=occ, as_of=AS_OF)
    assert report_text(result, inputs=False) == report_text(gtfs_result, inputs=False)
    assert result.metadata["inputs"]["stops"]["path"].endswith("unzipped/gtfs/stops.txt")


def test_cli_audit_and_validate_take_a_zip(gtfs_world: tuple[Path, Path, Path], tmp_path: Path) -> None:
    data, feed, occ = gtfs_world
    zipped = zip_feed(feed, tmp_path / "feed.zip", "gtfs/")
    out = tmp_path / "report.geojson"
    res = invoke("audit", "--data", data, "--gtfs", zipped, "--occupancy", occ, "--as-of", AS_OF, "--out", out)
    assert res.exit_code == 1, one_line(res)  # over-cap trips are violations
    report = json.loads(out.read_text(encoding="utf-8"))
    trips = {f["properties"]["subject_id"]: f["properties"]["verdict"] for f in report["features"]
             if f["properties"]["subject"] == "trip"}
    assert trips == {e[0]: e[1] for _, e in OCCUPANCY}
    assert report["metadata"]["inputs"]["stop_times"]["member"] == "gtfs/stop_times.txt"

    res = invoke("validate", "--data", data, "--gtfs", zipped, "--occupancy", occ, "--format", "json")
    assert res.exit_code == 1, one_line(res)  # two rows rejected: not in the calendar
    found = json.loads(res.stdout)
    assert found["layers"]["stop_times"]["read"]["member"] == "gtfs/stop_times.txt"
    assert Path(found["layers"]["stop_times"]["path"]).name == "feed.zip"
    assert found["layers"]["trips"]["reasons"] == {"not-in-calendar": 2}
    res = invoke("validate", "--data", data, "--gtfs", zipped, "--occupancy", occ)
    assert "gtfs/stop_times.txt" in one_line(res)


@pytest.mark.parametrize("missing", REQUIRED_FILES)
def test_zip_without_a_required_file(gtfs_world: tuple[Path, Path, Path], tmp_path: Path, missing: str) -> None:
    data, feed, occ = gtfs_world
    partial = shutil.copytree(feed, tmp_path / "partial")
    (partial / missing).unlink()
    zipped = zip_feed(partial, tmp_path / "feed.zip", "gtfs/")
    with pytest.raises(InputError) as caught:
        read_gtfs(zipped, occ)
    assert caught.value.path == str(zipped)
    assert caught.value.problem == f"{missing} missing from the GTFS feed"
    for command in ("audit", "validate"):
        res = invoke(command, "--data", data, "--gtfs", zipped, "--occupancy", occ, "--as-of", AS_OF, "--out",
                     tmp_path / "r.geojson") if command == "audit" else invoke(
            command, "--data", data, "--gtfs", zipped, "--occupancy", occ)
        assert res.exit_code == 2, one_line(res)
        assert f"feed.zip: {missing} missing from the GTFS feed" in one_line(res)
    assert not (tmp_path / "r.geojson").exists()


def test_feed_files_in_two_folders_are_refused(gtfs_world: tuple[Path, Path, Path], tmp_path: Path) -> None:
    _, feed, occ = gtfs_world
    zipped = zip_feed(feed, tmp_path / "feeds.zip", "2020-01/", extra={"2020-02/stops.txt": (feed / "stops.txt")
                                                                        .read_bytes()})
    with pytest.raises(InputError, match=r"several folders \(2020-01/, 2020-02/\)"):
        read_gtfs(zipped, occ)


def damaged_member(feed: Path, target: Path) -> Path:
    """A zip whose stop_times.txt fails its CRC check (one byte of the stored text changed)."""
    zipped = zip_feed(feed, target, compression=zipfile.ZIP_STORED)
    raw = bytearray(zipped.read_bytes())
    at = raw.index(b"T1,08:00:00")
    raw[at + 1] = ord("9")
    zipped.write_bytes(bytes(raw))
    return zipped


@pytest.mark.parametrize("damage", ["truncated", "not-a-zip", "bad-crc", "absent"])
def test_corrupt_zip_is_a_clear_error(gtfs_world: tuple[Path, Path, Path], tmp_path: Path, damage: str) -> None:
    data, feed, occ = gtfs_world
    zipped = tmp_path / "feed.zip"
    if damage == "truncated":  # a download cut short: the zip's directory at the end is gone
        whole = zip_feed(feed, tmp_path / "whole.zip").read_bytes()
        zipped.write_bytes(whole[: len(whole) // 2])
        expected = "feed.zip: is not a readable zip archive"
    elif damage == "not-a-zip":  # an error page saved under the feed's name
        zipped.write_text("<html>404 Not Found</html>", encoding="utf-8")
        expected = "feed.zip: is not a readable zip archive"
    elif damage == "bad-crc":
        damaged_member(feed, zipped)
        expected = "feed.zip: stop_times.txt cannot be extracted (Bad CRC-32"
    else:
        expected = "feed.zip: not found"
    with pytest.raises(InputError) as caught:
        read_gtfs(zipped, occ)
    assert str(caught.value).startswith(str(tmp_path / expected))
    res = invoke("audit", "--data", data, "--gtfs", zipped, "--occupancy", occ, "--as-of", AS_OF, "--out",
                 tmp_path / "r.geojson", "--lang", "en")  # the English wording
    assert res.exit_code == 2
    assert expected in one_line(res)


def write_bare_feed(folder: Path, files: dict[str, list[str]]) -> Path:
    """Feed files as real feeds often are: UTF-8 with a byte-order mark, CRLF line ends."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, lines in files.items():
        (folder / name).write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8-sig"))
    return folder


def test_real_feed_shapes_in_a_zip(tmp_path: Path) -> None:
    """Only calendar_dates.txt (both exception types), times past 24:00, a BOM, CRLF, quoted fields, extra columns,
    and skip-stop patterns."""
    pts = stop_points(["JA", "JB", "HM", "HZ"])
    stops = ['stop_id,stop_code,stop_name,stop_lat,stop_lon,location_type,parent_station']
    stops += [f'{s},,"站{s}, 候车厅",{p.y:.9f},{p.x:.9f},0,' for s, p in zip(pts["stop_id"], pts.geometry)]
    feed = write_bare_feed(tmp_path / "feed", {
        "agency.txt": ["agency_id,agency_name,agency_url,agency_timezone", "A,九江长运,https://example.org,Asia/Shanghai"],
        "stops.txt": stops,
        "routes.txt": ["route_id,agency_id,route_short_name,route_type", "R9,A,夜班,3"],
        "trips.txt": ["route_id,service_id,trip_id,trip_headsign,direction_id",
                      "R9,NIGHT,N1,黄梅,0", "R9,NIGHT,N2,黄梅,0", "R9,NIGHT,N3,黄州,0"],
        # N1 leaves at 23:30 and reaches HM after midnight (25:10:00); N2 only passes HM (skip-stop: both types 1);
        # N3 lets passengers off at HM only by arrangement with the driver (drop_off_type 3): alighting.
        "stop_times.txt": ["trip_id,arrival_time,departure_time,stop_id,stop_sequence,pickup_type,drop_off_type,"
                           "shape_dist_traveled",
                           "N1,23:30:00,23:30:00,JA,1,0,1,", "N1,25:10:00,25:12:00,HM,2,1,0,88.5",
                           "N2,23:40:00,23:40:00,JA,1,0,1,", "N2,24:30:00,24:30:00,HM,2,1,1,80",
                           "N2,26:05:00,26:05:00,HZ,3,1,0,120",
                           "N3,23:50:00,23:50:00,JB,1,,1,", "N3,25:00:00,25:00:00,HM,2,1,3,",
                           "N3,26:00:00,26:00:00,HZ,3,1,,"],
        "calendar_dates.txt": ["service_id,date,exception_type", "NIGHT,20200205,1", "NIGHT,20200206,1",
                               "NIGHT,20200207,1", "NIGHT,20200207,2"],
    })
    zipped = zip_feed(feed, tmp_path / "night.zip", "night/")
    occ = write_occupancy(tmp_path / "occ.csv", [
        ("N1", "2020-02-05", 45, 23), ("N1", "2020-02-06", 45, 22), ("N1", "2020-02-08", 45, 10),
        ("N2", "2020-02-05", 45, 40), ("N3", "2020-02-06", 45, 23), ("N3", "2020-02-07", 45, 23)])
    result = transportmon.audit(data_folder(tmp_path / "data"), gtfs=zipped, occupancy=occ, as_of=AS_OF)
    t = trip_rows(result)
    got = {i: (v, None if pd.isna(r) else r) for i, v, r in zip(t.index, t["verdict"], t["reason"])}
    assert got == {
        "N1@2020-02-05": ("over-cap", None), "N1@2020-02-06": ("compliant", None),
        "N1@2020-02-08": ("rejected", "not-in-calendar"),  # no calendar_dates row: no service
        "N2": ("not-applicable", "pass-through-only"),
        "N3@2020-02-06": ("over-cap", None),
        "N3@2020-02-07": ("rejected", "not-in-calendar"),  # added and removed: removed wins
    }
    assert t.loc["N3@2020-02-06", "risk_stops"] == ["HM"]
    assert result.metadata["rows"]["stops"] == {"input": 4, "audited": 4, "rejected": 0}
    assert result.metadata["inputs"]["stops"]["encoding"] == "utf-8 (with BOM)"
    assert_counts_add_up(result, 6)


@pytest.mark.parametrize(("value", "boards"), [("", True), ("0", True), ("1", False), ("2", True), ("3", True),
                                                (" 1 ", False)])
def test_pickup_and_drop_off_types(tmp_path: Path, value: str, boards: bool) -> None:
    """GTFS pickup_type / drop_off_type → pickup / dropoff: only 1 (none) forbids; 2 and 3 are by arrangement."""
    feed = write_feed(tmp_path / "feed")
    st = (feed / "stop_times.txt").read_text(encoding="utf-8").splitlines()
    st[1] = ",".join(st[1].split(",")[:5] + [f'"{value}"', f'"{value}"'])  # T1 at JA
    (feed / "stop_times.txt").write_text("\n".join(st) + "\n", encoding="utf-8")
    out = read_gtfs(feed, write_occupancy(tmp_path / "occ.csv", [("T1", "2020-02-05", 45, 10)]))
    first = out["stop_times"].sort_values("stop_sequence").iloc[0]
    assert (first["stop_id"], bool(first["pickup"]), bool(first["dropoff"])) == ("JA", boards, boards)


def test_unknown_pickup_type_rejects_its_trip(tmp_path: Path) -> None:
    """A value GTFS does not define is not guessed: the stop_times row is rejected, and with it its trip."""
    feed = write_feed(tmp_path / "feed")
    text = (feed / "stop_times.txt").read_text(encoding="utf-8")
    (feed / "stop_times.txt").write_text(text.replace("T2,09:00:00,09:00:00,HM,2,1,0", "T2,09:00:00,09:00:00,HM,2,7,0"),
                                         encoding="utf-8")
    occ = write_occupancy(tmp_path / "occ.csv", [("T2", "2020-02-05", 45, 10), ("T6", "2020-02-05", 45, 10)])
    result = transportmon.audit(data_folder(tmp_path / "data"), gtfs=feed, occupancy=occ, as_of=AS_OF)
    t = trip_rows(result)
    assert (t.loc["T2", "verdict"], t.loc["T2", "reason"]) == ("rejected", "bad-stop-times")
    assert t.loc["T6", "verdict"] == "compliant"
    rej = result.layers["stop_times"].rejected
    assert rej[["subject_id", "reason"]].to_numpy().tolist() == [["T2", "malformed-value"]]
    assert "pickup_type 7" in rej["detail"].iloc[0]


@pytest.mark.parametrize("form", ["csv", "xlsx"])
def test_occupancy_with_chinese_headers(gtfs_world: tuple[Path, Path, Path], gtfs_result: transportmon.AuditResult,
                                        tmp_path: Path, form: str) -> None:
    """The occupancy table goes through the layers' aliases: 班次编号, 班次日期, 核定座位（座）, 实载人数."""
    data, feed, _ = gtfs_world
    table = pd.DataFrame([r for r, _ in OCCUPANCY], columns=["班次编号", "班次日期", "核定座位（座）", "实载人数"])
    occ = tmp_path / f"客座率.{form}"
    if form == "csv":
        table.to_csv(occ, index=False, encoding="gb18030")
    else:
        table.to_excel(occ, index=False, sheet_name="客座率")
    result = transportmon.audit(data, gtfs=feed, occupancy=occ, as_of=AS_OF)
    assert report_text(result, inputs=False) == report_text(gtfs_result, inputs=False)
    assert result.metadata["inputs"]["trips"]["format"] == form


# --------------------------------------------------------------------------------------------------------------------
# The reason a GTFS occupancy row is rejected (issue 12, item 10)


@pytest.mark.parametrize("calendar", [True, False])
def test_unknown_trip_not_in_calendar_and_trip_without_stops(tmp_path: Path, calendar: bool) -> None:
    feed = write_feed(tmp_path / "feed", calendar=calendar)
    occ = write_occupancy(tmp_path / "occ.csv", [
        ("NOPE", "2020-02-05", 45, 10),  # not in trips.txt
        ("T6", "2020-02-08", 45, 10),  # in the feed, but service WK does not run on Saturdays
        (EMPTY_TRIP, "2020-02-05", 45, 10),  # in the feed and its calendar, with no stop_times
        ("T2", "2020-02-05", 45, 10)])
    result = transportmon.audit(data_folder(tmp_path / "data"), gtfs=feed, occupancy=occ, as_of=AS_OF)
    t = trip_rows(result)
    got = {i: (v, None if pd.isna(r) else r) for i, v, r in zip(t.index, t["verdict"], t["reason"])}
    assert got == {"NOPE": ("rejected", "unknown-trip"),
                   "T6": ("rejected", "not-in-calendar") if calendar else ("compliant", None),  # no calendar: runs
                   EMPTY_TRIP: ("rejected", "trip-without-stops"), "T2": ("compliant", None)}
    finding = t.loc["NOPE", "findings"][0]
    assert finding["rule_id"] == "TM907"
    assert "not in the feed's trips.txt" in finding["message_en"]
    assert_counts_add_up(result, 4)


# --------------------------------------------------------------------------------------------------------------------
# --engine dask takes a GTFS feed (issue 12, item 7)


def test_dask_engine_gives_the_memory_report_for_a_gtfs_zip(gtfs_world: tuple[Path, Path, Path],
                                                             tmp_path: Path) -> None:
    data, feed, _ = gtfs_world
    zipped = zip_feed(feed, tmp_path / "feed.zip", "gtfs/")
    occ = write_occupancy(tmp_path / "occ.csv", [r for r, _ in OCCUPANCY] + [
        ("NOPE", "2020-02-05", 45, 10), (EMPTY_TRIP, "2020-02-05", 45, 10), ("T4", "someday", 45, 10),
        ("T5", "2020-02-06", 45, 46), ("T8", "2020-02-09", 45, 5)])
    memory = transportmon.audit(data, gtfs=zipped, occupancy=occ, as_of=AS_OF)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as c:
        dask = transportmon.audit(data, gtfs=zipped, occupancy=occ, as_of=AS_OF, engine="dask",
                                  scheduler=c.scheduler_address)
    assert report_text(dask) == report_text(memory)
    assert dask.metadata["rows"] == memory.metadata["rows"]
    rep = memory.report
    reasons = rep.loc[rep["subject"] == "trip", "reason"].value_counts().to_dict()
    assert {k: reasons.get(k) for k in ("unknown-trip", "trip-without-stops", "not-in-calendar", "malformed-date",
                                        "passengers-exceed-seats", "duplicate-id")} == {
        "unknown-trip": 1, "trip-without-stops": 1, "not-in-calendar": 2, "malformed-date": 1,
        "passengers-exceed-seats": 1, "duplicate-id": 1}


def test_a_member_larger_than_the_free_disk_is_refused_before_it_is_written(
        gtfs_world: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data, feed, occ = gtfs_world
    zipped = zip_feed(feed, tmp_path / "feed.zip")
    sizes = {i.filename: i.file_size for i in zipfile.ZipFile(zipped).infolist()}
    real = shutil.disk_usage
    written: list[str] = []

    def usage(path: object) -> object:
        written.extend(p.name for p in Path(str(path)).iterdir())
        return real(path)._replace(free=sizes["stop_times.txt"] - 1)  # room for the others, one byte short for it

    monkeypatch.setattr(shutil, "disk_usage", usage)
    with pytest.raises(InputError) as caught:
        read_gtfs(zipped, occ)
    message = str(caught.value)
    assert message.startswith(f"{zipped}: stop_times.txt unzips to ")
    assert "free in the temporary folder" in message and "--gtfs the folder" in message
    assert "stop_times.txt" not in written  # refused before a byte of it was written
    monkeypatch.setattr(shutil, "disk_usage", lambda path: real(path)._replace(free=sizes["stop_times.txt"]))
    assert len(read_gtfs(zipped, occ)["stop_times"]) > 0  # exactly its size fits


def test_entrances_nodes_and_boarding_areas_are_left_out_and_counted(
        gtfs_world: tuple[Path, Path, Path], gtfs_result: transportmon.AuditResult, tmp_path: Path) -> None:
    """A feed with pathways: a station (1) stays a stop; an entrance (2, with coordinates as GTFS requires), a
    generic node and a boarding area (3, 4, which may go without) are not places a trip calls at."""
    data, feed, occ = gtfs_world
    shutil.copytree(feed, tmp_path / "feed")
    with open(tmp_path / "feed" / "stops.txt", "a", encoding="utf-8") as fh:
        fh.write("ST,九江站,29.70,116.00,1\nE1,九江站东口,29.70,116.01,2\nN1,通道节点,,,3\nB1,候车区, , ,4\n")
    result = transportmon.audit(data, gtfs=tmp_path / "feed", occupancy=occ, as_of=AS_OF)
    meta = result.metadata
    assert meta["inputs"]["stops"]["not_stops"] == 3
    assert meta["inputs"]["stops"]["rows"] == 6  # five stops and the station: with the three, every line of stops.txt
    assert meta["rows"]["stops"] == {"input": 6, "audited": 6, "rejected": 0}
    assert not (result.report["subject"] == "stops").any()  # none of them rejected for lacking coordinates
    said = [w for w in meta["warnings"] if "location_type 2, 3, 4" in w]
    assert len(said) == 1 and said[0].startswith(f"{tmp_path / 'feed'}: 3 rows of stops.txt")
    # Trips are judged as without them.
    pd.testing.assert_frame_equal(trip_rows(result).drop(columns="geometry"),
                                  trip_rows(gtfs_result).drop(columns="geometry"))
    res = invoke("audit", "--data", data, "--gtfs", tmp_path / "feed", "--occupancy", occ, "--as-of", AS_OF, "--out",
                 tmp_path / "r.geojson", "--lang", "en")
    assert "3 rows of stops.txt are entrances, generic nodes or boarding areas" in one_line(res)


def test_a_feed_without_pathways_says_nothing_of_them(gtfs_result: transportmon.AuditResult) -> None:
    assert "not_stops" not in gtfs_result.metadata["inputs"]["stops"]
    assert not [w for w in gtfs_result.metadata["warnings"] if "location_type" in w]
