"""A GTFS feed plus an occupancy table gives the same trip verdicts as the CSV layers of the same trips.

The feed is written into ``tmp_path`` over the trip world of ``tests/test_trips.py`` (stops JA, JB, NC, HM, HZ; 421127
黄梅 high from 2020-02-01). Service ``WK`` runs Monday–Friday in February 2020, except Friday 2020-02-07
(calendar_dates type 2), plus Sunday 2020-02-09 (type 1). 2020-02-05 is a Wednesday.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from test_trips import AS_OF, assert_counts_add_up, stop_points, trip_rows, write_trip_world

import transportmon
from transportmon._errors import InputError
from transportmon.io.gtfs import read_gtfs

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
    write_csv(folder / "trips.txt", "route_id,service_id,trip_id", [("R1", "WK", t) for t in FEED_TRIPS])
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
