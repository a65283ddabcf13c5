"""Ticket limits before departure (``transportmon limits``, DESIGN §9): decided by the audit's own trip code.

The held-out check: for every trip of a date, ``cap_applies`` and ``max_passengers`` agree with the audit's trip
verdicts. Then future trips (passengers empty), bad input (no trips that day, seats missing, a bad date), the output
files (CSV with a BOM, xlsx, Chinese or English headers) and GTFS input.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from test_gtfs import write_feed, write_occupancy
from test_trips import legs, trip, write_trip_world
from typer.testing import CliRunner

import transportmon
from transportmon._errors import ConfigError, InputError
from transportmon.cli import app
from transportmon.io.discover import sample_dir
from transportmon.pipeline import Inputs, load_inputs
from transportmon.ticket_limits import COLUMNS, limits_of

SAMPLE_TRIPS = pd.read_csv(sample_dir() / "trips.csv", dtype=str)


@pytest.fixture(scope="module")
def sample_audit() -> pd.DataFrame:
    rep = transportmon.audit().report
    return pd.DataFrame(rep[rep["subject"] == "trip"]).set_index("subject_id")


@pytest.fixture(scope="module")
def sample_inputs() -> Inputs:
    """The sample read once as ``limits`` reads it; each day is then decided by ``limits_of``, as ``limits`` does."""
    return load_inputs(as_of="2020-03-16", passengers_optional=True)


def sample_dates() -> list[str]:
    dates = pd.to_datetime(SAMPLE_TRIPS["service_date"], errors="coerce").dropna()
    return sorted(dates.dt.strftime("%Y-%m-%d").unique())


@pytest.mark.parametrize("day", sample_dates())
def test_limits_agree_with_the_audit_trip_by_trip(sample_audit: pd.DataFrame, sample_inputs: Inputs,
                                                  day: str) -> None:
    table, _ = limits_of(sample_inputs.layers, sample_inputs.config, pd.Timestamp(day))
    table = table.set_index("trip_id")
    # every trip row of the day, rejected ones too (the report's rejected rows carry no date: the input has it)
    assert sorted(table.index) == sorted(SAMPLE_TRIPS.loc[SAMPLE_TRIPS["service_date"] == day, "trip_id"])
    for tid, row in table.iterrows():
        a = sample_audit.loc[tid]
        if a["verdict"] == "rejected":
            assert pd.isna(row["cap_applies"]) and row["reason"] == a["reason"] and pd.isna(row["max_passengers"])
            continue
        applies = a["verdict"] in ("over-cap", "compliant")
        assert bool(row["cap_applies"]) is applies, tid
        assert row["reason"] == ("cap" if applies else a["reason"]), tid
        assert row["max_passengers"] == (a["max_passengers"] if applies else a["seats"]), tid
        assert row["sold"] == a["passengers"] and row["seats"] == a["seats"], tid
        assert row["remaining"] == max(0, row["max_passengers"] - a["passengers"]), tid
        assert row["risk_level"] == a["risk_level"] or (pd.isna(row["risk_level"]) and pd.isna(a["risk_level"]))
        assert row["risk_stops"] == ";".join(a["risk_stops"]), tid


def test_sample_limits_show_both_kinds() -> None:
    # 2020-03-16: T16 (南昌 medium, inter-city) is capped at 22 of 45 and already sold 30; T17 is not capped.
    table = transportmon.limits(date="2020-03-16").set_index("trip_id")
    assert table.loc["T16", ["cap_applies", "reason", "max_passengers", "sold", "remaining"]].tolist() == [
        True, "cap", 22, 30, 0]
    assert table.loc["T17", ["cap_applies", "reason", "max_passengers", "sold", "remaining"]].tolist() == [
        False, "no-risk-stop", 45, 40, 5]
    assert list(table.reset_index().columns) == COLUMNS


# --------------------------------------------------------------------------------------------------------------------
# Future trips: a world of its own


DAY = "2020-02-05"


@pytest.fixture(scope="module")
def future_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    trips = [trip("to-hm", "", 45), trip("to-hm-sold", 20, 45), trip("odd-seats", "", 41), trip("local", "", 45),
             trip("no-seats", "", ""), trip("sold-out", 23, 45), trip("other-day", "", 45, date="2020-02-06")]
    st_rows = (legs("to-hm", "JA", "HM") + legs("to-hm-sold", "JA", "HM") + legs("odd-seats", "JB", "HM")
               + legs("local", "JA", "JB") + legs("no-seats", "JA", "HM") + legs("sold-out", "JA", "HM")
               + legs("other-day", "JA", "HM"))
    return write_trip_world(tmp_path_factory.mktemp("future"), trips, st_rows)


def test_future_trips_with_no_passengers(future_world: Path) -> None:
    table = transportmon.limits(future_world, date=DAY).set_index("trip_id")
    assert list(table.index) == ["local", "no-seats", "odd-seats", "sold-out", "to-hm", "to-hm-sold"]
    assert table.loc["to-hm", ["cap_applies", "max_passengers", "remaining"]].tolist() == [True, 22, 22]
    assert pd.isna(table.loc["to-hm", "sold"])
    assert table.loc["odd-seats", ["max_passengers", "remaining"]].tolist() == [20, 20]  # floor(41 / 2)
    assert table.loc["to-hm-sold", ["sold", "remaining"]].tolist() == [20, 2]
    assert table.loc["sold-out", ["sold", "remaining"]].tolist() == [23, 0]  # one over the cap: never below 0
    assert table.loc["local", ["cap_applies", "reason", "max_passengers"]].tolist() == [False, "intra-city", 45]


def test_seats_missing_is_a_rejected_row_said_on_the_terminal(future_world: Path) -> None:
    table = transportmon.limits(future_world, date=DAY).set_index("trip_id")
    row = table.loc["no-seats"]
    assert pd.isna(row["cap_applies"]) and pd.isna(row["max_passengers"])
    assert row["reason"] == "malformed-value" and "seats=" in row["detail"]
    assert any("1 trip(s) of 2020-02-05 cannot be given a limit" in w for w in table.attrs["warnings"])
    got = CliRunner().invoke(app, ["limits", "--data", str(future_world), "--date", DAY, "--lang", "en"])
    assert got.exit_code == 0, got.output
    assert "no limit: no-seats — malformed-value" in got.output


def test_the_audit_still_requires_passengers(future_world: Path) -> None:
    # only limits accepts an empty passengers value: the audit rejects the row as before
    rep = transportmon.audit(future_world, as_of=DAY).report
    row = rep[(rep["subject"] == "trip") & (rep["subject_id"] == "to-hm")].iloc[0]
    assert (row["verdict"], row["reason"]) == ("rejected", "malformed-value")


def test_trips_without_a_passengers_column(tmp_path: Path) -> None:
    folder = write_trip_world(tmp_path, [trip("a", 0)], legs("a", "JA", "HM"))
    trips = pd.read_csv(folder / "trips.csv").drop(columns="passengers")
    trips.to_csv(folder / "trips.csv", index=False)
    table = transportmon.limits(folder, date=DAY)
    assert table[["trip_id", "cap_applies", "max_passengers", "remaining"]].values.tolist() == [["a", True, 22, 22]]
    with pytest.raises(InputError, match="passengers"):
        transportmon.audit(folder, as_of=DAY)


def test_date_without_trips_is_an_empty_table_and_a_warning(future_world: Path, tmp_path: Path) -> None:
    table = transportmon.limits(future_world, date="2020-03-01")
    assert len(table) == 0 and list(table.columns) == COLUMNS
    assert any("no trip of the trips layer runs on 2020-03-01" in w for w in table.attrs["warnings"])
    out = tmp_path / "limits.csv"
    got = CliRunner().invoke(app, ["limits", "--data", str(future_world), "--date", "2020-03-01", "--out", str(out)])
    assert got.exit_code == 0, got.output
    assert "2020-03-01" in got.output and "warning" in got.output
    lines = out.read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) == 1 and lines[0].startswith("班次编号,")


def test_bad_date_and_bad_out_are_refused(future_world: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--date: '2020-02-30' is not a date"):
        transportmon.limits(future_world, date="2020-02-30")
    got = CliRunner().invoke(app, ["limits", "--data", str(future_world), "--date", "2020-02-30"])
    assert got.exit_code == 2 and "is not a date" in got.output
    got = CliRunner().invoke(app, ["limits", "--data", str(future_world), "--date", DAY,
                                   "--out", str(tmp_path / "limits.geojson")])
    assert got.exit_code == 2 and "use .csv or .xlsx" in got.output
    assert not (tmp_path / "limits.geojson").exists()


# --------------------------------------------------------------------------------------------------------------------
# Output files


def test_csv_has_a_bom_and_chinese_headers(future_world: Path, tmp_path: Path) -> None:
    out = tmp_path / "limits.csv"
    got = CliRunner().invoke(app, ["limits", "--data", str(future_world), "--date", DAY, "--out", str(out)])
    assert got.exit_code == 0, got.output
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(out, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert list(back.columns[:5]) == ["班次编号", "线路编号", "运行日期", "座位数", "是否限载"]
    assert back.set_index("班次编号").loc["to-hm", ["是否限载", "原因", "限售人数", "已售", "余票"]].tolist() == [
        "是", "cap", "22", "", "22"]


def test_xlsx_in_english(future_world: Path, tmp_path: Path) -> None:
    out = tmp_path / "limits.xlsx"
    got = CliRunner().invoke(app, ["limits", "--data", str(future_world), "--date", DAY, "--out", str(out),
                                   "--lang", "en"])
    assert got.exit_code == 0, got.output
    ws = openpyxl.load_workbook(out).active
    rows = [[c.value for c in r] for r in ws.iter_rows()]
    assert rows[0][:5] == ["trip id", "route id", "service date", "seats", "cap applies"]
    by_id = {r[0]: r for r in rows[1:]}
    assert by_id["to-hm"][4:11] == ["yes", "cap", "high", "HM", 22, None, 22]
    assert by_id["local"][4:6] == ["no", "intra-city"]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:L7"


def test_terminal_table_without_out(future_world: Path) -> None:
    got = CliRunner().invoke(app, ["limits", "--data", str(future_world), "--date", DAY, "--lang", "en"],
                             env={"COLUMNS": "200"})
    assert got.exit_code == 0
    assert "ticket limits 2020-02-05" in got.output and "to-hm-sold" in got.output
    assert "2020-02-05: 6 trips, the cap applies to 4, 1 cannot be given a limit" in got.output


# --------------------------------------------------------------------------------------------------------------------
# GTFS


def test_gtfs_feed_with_an_occupancy_table_without_passengers(tmp_path: Path) -> None:
    data = write_trip_world(tmp_path / "data", [], [])
    for name in ("stops.csv", "trips.csv", "stop_times.csv"):
        (data / name).unlink()
    feed = write_feed(tmp_path / "feed")
    occ = tmp_path / "occupancy.csv"
    occ.write_text("trip_id,service_date,seats\nT2,2020-02-05,45\nT4,2020-02-05,45\nT6,2020-02-08,45\n",
                   encoding="utf-8")
    table = transportmon.limits(data, date="2020-02-05", gtfs=feed, occupancy=occ).set_index("trip_id")
    assert table.loc["T2", ["route_id", "cap_applies", "max_passengers", "remaining"]].tolist() == ["R1", True, 22, 22]
    assert table.loc["T4", ["cap_applies", "reason"]].tolist() == [False, "intra-city"]
    assert "T6" not in table.index  # another day (and not in the calendar)
    # with passengers, the feed's limits agree with its audit
    full = write_occupancy(tmp_path / "full.csv")
    audited = transportmon.audit(data, gtfs=feed, occupancy=full, as_of="2020-02-05").report
    audited = audited[(audited["subject"] == "trip") & (audited["service_date"] == "2020-02-05")].set_index(
        "subject_id")
    limited = transportmon.limits(data, date="2020-02-05", gtfs=feed, occupancy=full).set_index("trip_id")
    assert sorted(limited.index) == sorted(audited.index)
    for tid, row in limited.iterrows():
        assert bool(row["cap_applies"]) is (audited.loc[tid, "verdict"] in ("over-cap", "compliant")), tid
