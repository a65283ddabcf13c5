"""Due dates, overdue days and the timeline (DESIGN §7, issue 14 items 1 and 2).

The timeline's day D must say what ``audit(as_of=D)`` says: its checkpoint counts are compared with single-day audits
on days either side of the due date, the day a checkpoint opens and the day it closes; its trip counts with the
audit's trips of that service date. Overdue days are checked against the formula at their boundaries through the
pure ``decide()``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import world
from typer.testing import CliRunner, Result

import transportmon
from transportmon._errors import ConfigError
from transportmon.cli import app
from transportmon.config import RuleConfig, load_config, make_config
from transportmon.daily import COLUMNS, change_days, day_range, most_overdue
from transportmon.designations_on import risk_areas_on
from transportmon.rules.checkpoints import decide

FIRST, LAST = "2020-02-01", "2020-04-10"
#: Days of the sample worth comparing: before CP04 opens (02-01) and the day it does, the day the toll-station
#: checkpoints close (02-25), the days around the due date (03-03, 03-04), and the day CP01 and CP02 close (03-27).
DAYS = ("2020-02-01", "2020-02-02", "2020-02-25", "2020-03-03", "2020-03-04", "2020-03-27")


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def text(result: Result) -> str:
    """stdout + stderr with rich's line wrapping undone."""
    return re.sub(r"\s+", " ", result.stdout + result.stderr)


# ------------------------------------------------------------------------------------------------------------
# overdue_days: the formula at its boundaries, through the pure decide()


def evidence(**overrides: object) -> pd.DataFrame:
    """An active checkpoint on a national road 20 km by road from any crossing (remove); columns overridable."""
    row: dict[str, object] = {
        "checkpoint_id": "cp", "name": "检测点", "opened": pd.Timestamp("2020-01-31"), "closed": pd.NaT,
        "turn_back": False, "blocks_freight": False, "row": 0, "road_id": "r", "road_ref": "G105",
        "road_class": "national", "distance_to_road_m": 10.0, "distance_to_exempt_border_m": 15000.0,
        "distance_to_crossing_m": 20000.0,
    }
    row.update(overrides)
    frame = pd.DataFrame([row])
    for col in ("opened", "closed"):
        frame[col] = pd.to_datetime(frame[col]).astype("datetime64[s]")
    for col in ("road_id", "road_ref", "road_class"):
        frame[col] = frame[col].astype("string")
    return frame


def overdue(as_of: str, config: RuleConfig | None = None, **overrides: object) -> tuple[str, object]:
    """(verdict, overdue_days) of one checkpoint on ``as_of``."""
    verdicts, _ = decide(evidence(**overrides), config or RuleConfig(), pd.Timestamp(as_of))
    return verdicts["verdict"].iloc[0], verdicts["overdue_days"].iloc[0]


def test_overdue_days_empty_before_the_due_date() -> None:
    assert overdue("2020-03-03") == ("remove", pd.NA)


def test_overdue_days_zero_on_the_due_date() -> None:
    assert overdue("2020-03-04") == ("remove", 0)


def test_overdue_days_count_from_the_due_date() -> None:
    assert overdue("2020-03-05") == ("remove", 1)
    assert overdue("2020-03-16") == ("remove", 12)


def test_overdue_days_count_from_opening_when_opened_after_the_due_date() -> None:
    # opened 03-10, after the due date 03-04: max(due, opened) = 03-10
    assert overdue("2020-03-10", opened="2020-03-10") == ("remove", 0)
    assert overdue("2020-03-16", opened="2020-03-10") == ("remove", 6)
    # opened the day before the due date: counted from the due date
    assert overdue("2020-03-16", opened="2020-03-03") == ("remove", 12)
    # no opening date: from the due date
    assert overdue("2020-03-16", opened=pd.NaT) == ("remove", 12)


def test_overdue_days_not_yet_open_is_inactive_and_empty() -> None:
    assert overdue("2020-03-09", opened="2020-03-10") == ("inactive", pd.NA)


@pytest.mark.parametrize(("overrides", "verdict"), [
    ({"distance_to_crossing_m": 1000.0}, "keep"),
    ({"distance_to_road_m": 500.0}, "review"),
    ({"road_class": "expressway"}, "review"),
    ({"closed": "2020-03-10"}, "inactive"),
])
def test_overdue_days_empty_for_other_verdicts(overrides: dict[str, object], verdict: str) -> None:
    assert overdue("2020-03-16", **overrides) == (verdict, pd.NA)


def test_rectify_days_shift_the_due_date() -> None:
    cfg = make_config(rectify_days=7)
    assert cfg.due.isoformat() == "2020-03-11"
    assert overdue("2020-03-10", cfg) == ("remove", pd.NA)
    assert overdue("2020-03-11", cfg) == ("remove", 0)
    assert overdue("2020-03-16", cfg) == ("remove", 5)


def test_effective_sets_the_due_date() -> None:
    cfg = make_config(effective="2020-03-16", rectify_days=1)
    assert overdue("2020-03-16", cfg) == ("remove", pd.NA)
    assert overdue("2020-03-17", cfg) == ("remove", 0)


def test_overdue_days_column_on_empty_evidence() -> None:
    verdicts, _ = decide(evidence().iloc[:0], RuleConfig(), pd.Timestamp("2020-03-16"))
    assert list(verdicts.columns) == ["checkpoint_id", "verdict", "reason", "overdue_days"]
    assert len(verdicts) == 0 and str(verdicts["overdue_days"].dtype) == "Int64"


@pytest.mark.parametrize("as_of", ("2020-03-03", "2020-03-04", "2020-03-16"))
def test_verdicts_without_findings_are_the_same_verdicts(as_of: str) -> None:
    ev = pd.concat([evidence(checkpoint_id="a"), evidence(checkpoint_id="b", distance_to_crossing_m=10.0, row=1),
                    evidence(checkpoint_id="c", opened="2020-03-10", row=2),
                    evidence(checkpoint_id="d", distance_to_road_m=300.0, row=3)], ignore_index=True)
    full, findings = decide(ev, RuleConfig(), pd.Timestamp(as_of))
    bare, none = decide(ev, RuleConfig(), pd.Timestamp(as_of), with_findings=False)
    pd.testing.assert_frame_equal(bare, full)
    assert len(findings) == 4 and len(none) == 0 and list(none.columns) == list(findings.columns)


# ------------------------------------------------------------------------------------------------------------
# configuration


def test_default_effective_date_and_rectify_days() -> None:
    cfg = RuleConfig()
    assert cfg.effective.isoformat() == "2020-03-04" and cfg.rectify_days == 0 and cfg.due == cfg.effective
    assert cfg.to_dict()["effective"] == "2020-03-04" and cfg.to_dict()["rectify_days"] == 0


def test_rules_toml_takes_a_toml_date_or_text(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text("effective = 2020-03-10\nrectify_days = 3\n", encoding="utf-8")
    (tmp_path / "b.toml").write_text('[rules]\neffective = "2020-03-10"\nrectify_days = "3"\n', encoding="utf-8")
    for name in ("a.toml", "b.toml"):
        cfg = load_config(tmp_path / name)
        assert cfg.due.isoformat() == "2020-03-13"


@pytest.mark.parametrize(("values", "key"), [
    ({"effective": "2020-02-30"}, "effective"),
    ({"effective": "March 4"}, "effective"),
    ({"effective": "2020-3-4"}, "effective"),
    ({"rectify_days": -1}, "rectify_days"),
    ({"rectify_days": 1.5}, "rectify_days"),
    ({"rectify_days": "a week"}, "rectify_days"),
    ({"rectify_days": True}, "rectify_days"),
])
def test_bad_effective_or_rectify_days_is_a_config_error_naming_the_key(values: dict[str, object],
                                                                        key: str) -> None:
    with pytest.raises(ConfigError, match=f"^{key}: "):
        make_config(**values)


def test_a_toml_date_time_is_refused(tmp_path: Path) -> None:
    (tmp_path / "r.toml").write_text("effective = 2020-03-04T08:00:00\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="effective: .*time of day"):
        load_config(tmp_path / "r.toml")


# ------------------------------------------------------------------------------------------------------------
# the embedded sample: every count of a day equals the single-day audit's


@pytest.fixture(scope="module")
def sample_timeline() -> pd.DataFrame:
    return transportmon.timeline(start=FIRST, end=LAST)


@pytest.fixture(scope="module")
def audits() -> dict[str, transportmon.pipeline.AuditResult]:
    return {d: transportmon.audit(as_of=d) for d in DAYS}


def row_of(frame: pd.DataFrame, day: str) -> pd.Series:
    rows = frame[frame["date"] == pd.Timestamp(day)]
    assert len(rows) == 1
    return rows.iloc[0]


def test_one_row_per_day_with_the_design_columns(sample_timeline: pd.DataFrame) -> None:
    assert list(sample_timeline.columns) == list(COLUMNS)
    assert len(sample_timeline) == 70
    assert sample_timeline["date"].tolist() == list(pd.date_range(FIRST, LAST))
    assert sample_timeline.attrs["due"] == "2020-03-04"


@pytest.mark.parametrize("day", DAYS)
def test_checkpoint_counts_equal_the_audit_of_that_day(sample_timeline: pd.DataFrame, audits: dict, day: str) -> None:
    rep = audits[day].report
    cps = rep[rep["subject"] == "checkpoint"]
    got = row_of(sample_timeline, day)
    counts = cps["verdict"].value_counts()
    for verdict in ("keep", "remove", "review"):
        assert got[verdict] == counts.get(verdict, 0), verdict
    assert got["checkpoints_active"] == int(cps["verdict"].isin(["keep", "remove", "review"]).sum())
    assert got["overdue"] == int(((cps["verdict"] == "remove") & cps["overdue_days"].notna()).sum())


@pytest.mark.parametrize("day", DAYS)
def test_trip_counts_equal_the_audits_trips_of_that_service_date(sample_timeline: pd.DataFrame, audits: dict,
                                                                 day: str) -> None:
    rep = audits[day].report
    trips = rep[((rep["subject"] == "trip") & (rep["service_date"] == day)).to_numpy()]
    got = row_of(sample_timeline, day)
    assert got["trips"] == len(trips)
    for verdict, col in (("over-cap", "over_cap"), ("compliant", "compliant"), ("not-applicable", "not_applicable")):
        assert got[col] == int((trips["verdict"] == verdict).sum()), col
    assert got["excess_passengers"] == int(trips["excess_passengers"].fillna(0).sum())


def test_trip_counts_over_every_day_equal_the_audit(sample_timeline: pd.DataFrame, audits: dict) -> None:
    """Trips do not depend on the as-of date: every day of the range against one audit's service dates, rejected
    trips with a readable date included."""
    rep = audits["2020-03-04"].report
    trips = rep[(rep["subject"] == "trip").to_numpy()]
    in_range = trips[trips["service_date"].between(FIRST, LAST).fillna(False).to_numpy()]
    by_day = in_range.groupby("service_date").size()
    got = sample_timeline.set_index(sample_timeline["date"].dt.strftime("%Y-%m-%d"))["trips"]
    assert got[got > 0].to_dict() == by_day.to_dict()
    assert int(sample_timeline["trips"].sum()) == len(in_range)
    assert int(sample_timeline["over_cap"].sum()) == int((in_range["verdict"] == "over-cap").sum())
    rejected = in_range[in_range["verdict"] == "rejected"]
    assert set(rejected["subject_id"]) == {"TX1", "TX2", "TX3", "TX5"}  # TX4's date 2020-02-30 is no day


def test_rejected_trips_keep_their_service_date_in_the_report(audits: dict) -> None:
    rep = audits["2020-03-04"].report
    rej = rep[((rep["subject"] == "trip") & (rep["verdict"] == "rejected")).to_numpy()].set_index("subject_id")
    assert rej.loc["TX1", "service_date"] == "2020-03-01"
    assert pd.isna(rej.loc["TX4", "service_date"])  # malformed-date: no day


def test_a_trip_without_a_date_is_said(sample_timeline: pd.DataFrame) -> None:
    assert any("1 rejected trip(s) have no readable service_date" in w for w in sample_timeline.attrs["warnings"])


@pytest.mark.parametrize("day", ("2020-02-19", "2020-02-28", "2020-03-13", "2020-04-10"))
def test_unit_counts_are_the_levels_the_maps_colour(sample_timeline: pd.DataFrame, audits: dict, day: str) -> None:
    result = audits["2020-03-04"]
    areas = risk_areas_on(result.layers["boundaries"].frame, result.layers["risk_areas"].intervals, day)
    got = row_of(sample_timeline, day)
    assert got["high_units"] == int((areas["level"] == "high").sum())
    assert got["medium_units"] == int((areas["level"] == "medium").sum())


def test_the_sample_records_the_joint_removal_of_the_bridge_checkpoints(sample_timeline: pd.DataFrame) -> None:
    before, on = row_of(sample_timeline, "2020-03-26"), row_of(sample_timeline, "2020-03-27")
    assert (before["keep"], on["keep"]) == (4, 2)
    assert on["checkpoints_active"] == before["checkpoints_active"] - 2


def test_overdue_only_from_the_due_date(sample_timeline: pd.DataFrame) -> None:
    before, on = row_of(sample_timeline, "2020-03-03"), row_of(sample_timeline, "2020-03-04")
    assert before["overdue"] == 0 and before["remove"] > 0
    assert on["overdue"] == on["remove"]


def test_change_days_list_the_first_day_and_each_change(sample_timeline: pd.DataFrame) -> None:
    days = change_days(sample_timeline)["date"].dt.strftime("%Y-%m-%d").tolist()
    assert days[0] == FIRST
    assert {"2020-02-02", "2020-02-25", "2020-03-04", "2020-03-27"} <= set(days)
    assert "2020-03-26" not in days


def test_one_day_is_one_row() -> None:
    frame = transportmon.timeline(start="2020-03-27", end="2020-03-27")
    assert len(frame) == 1 and frame["date"].iloc[0] == pd.Timestamp("2020-03-27")


def test_reversed_range_is_refused_before_reading() -> None:
    with pytest.raises(ConfigError, match="--from 2020-04-10 is after --to 2020-02-01"):
        transportmon.timeline("/no/such/folder", start=LAST, end=FIRST)


def test_day_range_refuses_what_is_not_a_date() -> None:
    with pytest.raises(ConfigError, match="--to: '2020-02-30' is not a date"):
        day_range("2020-02-01", "2020-02-30")


def test_timeline_takes_no_as_of() -> None:
    with pytest.raises(ConfigError, match="no --as-of"):
        transportmon.timeline(start=FIRST, end=LAST, as_of="2020-03-16")


# ------------------------------------------------------------------------------------------------------------
# the hand-built world: opening and closing days, rectify days, layers absent


CPS = [
    {"checkpoint_id": "keep", "x": 30, "y": 98, "opened": "2020-03-01", "closed": ""},
    {"checkpoint_id": "late", "x": 30, "y": 60, "opened": "2020-03-08", "closed": "2020-03-12"},
    {"checkpoint_id": "early", "x": 80, "y": 60, "opened": "2020-02-01", "closed": ""},
    {"checkpoint_id": "express", "x": 20, "y": 99, "opened": "", "closed": "2020-03-06"},
]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = world.write_world(tmp_path_factory.mktemp("timeline") / "data", CPS)
    world.write_coach_layers(d)
    return d


def world_counts(data: Path, day: str, **kwargs: object) -> dict[str, int]:
    rep = transportmon.audit(data, as_of=day, **kwargs).report
    cps = rep[rep["subject"] == "checkpoint"]
    out = {v: int((cps["verdict"] == v).sum()) for v in ("keep", "remove", "review")}
    out["overdue"] = int(cps["overdue_days"].notna().sum())
    return out


def test_world_days_equal_single_day_audits(data: Path) -> None:
    frame = transportmon.timeline(data, start="2020-02-28", end="2020-03-13").set_index("date")
    # opening (03-01, 03-08) and closing (03-06, 03-12) days, the due date and the day before
    for day in ("2020-02-29", "2020-03-01", "2020-03-03", "2020-03-04", "2020-03-06", "2020-03-08", "2020-03-12"):
        row = frame.loc[pd.Timestamp(day)]
        assert {k: int(row[k]) for k in ("keep", "remove", "review", "overdue")} == world_counts(data, day), day
    assert frame.loc[pd.Timestamp("2020-03-01"), "trips"] == 3  # every trip of the world runs on 03-01
    assert frame.loc[pd.Timestamp("2020-03-01"), "over_cap"] == 1


def test_world_rectify_days_move_the_overdue_count(data: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text("rectify_days = 5\n", encoding="utf-8")
    frame = transportmon.timeline(data, start="2020-03-04", end="2020-03-10", config=rules).set_index("date")
    plain = transportmon.timeline(data, start="2020-03-04", end="2020-03-10").set_index("date")
    # 'early' (remove since 02-01) and 'late' (remove from 03-08): overdue from the due date 03-04, or 03-09
    assert plain["overdue"].tolist() == [1, 1, 1, 1, 2, 2, 2]
    assert frame["overdue"].tolist() == [0, 0, 0, 0, 0, 2, 2]
    assert frame["remove"].tolist() == plain["remove"].tolist()
    assert frame.attrs["due"] == "2020-03-09"
    assert world_counts(data, "2020-03-09", config=rules)["overdue"] == 2


def test_world_overdue_days_in_the_report(data: Path) -> None:
    rep = transportmon.audit(data, as_of="2020-03-10").report.set_index("subject_id")
    assert rep.loc["early", "overdue_days"] == 6  # opened 02-01: from the due date 03-04
    assert rep.loc["late", "overdue_days"] == 2  # opened 03-08, after the due date: from its opening
    assert pd.isna(rep.loc["keep", "overdue_days"])


def test_layers_absent_give_empty_counts_not_zeros(tmp_path: Path) -> None:
    d = world.write_world(tmp_path / "data", CPS)  # no trips, no risk areas
    frame = transportmon.timeline(d, start="2020-03-01", end="2020-03-02")
    assert frame["trips"].isna().all() and frame["high_units"].isna().all()
    assert frame["keep"].notna().all()


# ------------------------------------------------------------------------------------------------------------
# the command line


def test_cli_writes_the_timeline_and_the_chart(data: Path, tmp_path: Path) -> None:
    out, chart = tmp_path / "timeline.csv", tmp_path / "timeline.png"
    result = invoke("timeline", "--data", data, "--from", "2020-03-01", "--to", "2020-03-10", "--out", out,
                    "--chart", chart, "--lang", "en")
    assert result.exit_code == 0, text(result)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel on Chinese Windows reads it as UTF-8
    frame = pd.read_csv(out, encoding="utf-8-sig")
    assert list(frame.columns) == list(COLUMNS)
    assert frame["date"].tolist() == [f"2020-03-{d:02d}" for d in range(1, 11)]
    api = transportmon.timeline(data, start="2020-03-01", end="2020-03-10")
    assert frame.drop(columns="date").to_numpy().tolist() == api.drop(columns="date").astype("int64").to_numpy(
        ).tolist()
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "due: 2020-03-04" in text(result)


def test_cli_reversed_range_exits_2_with_a_clear_message(data: Path, tmp_path: Path) -> None:
    result = invoke("timeline", "--data", data, "--from", "2020-03-10", "--to", "2020-03-01", "--out",
                    tmp_path / "t.csv")
    assert result.exit_code == 2
    assert "--from 2020-03-10 is after --to 2020-03-01" in text(result)
    assert not (tmp_path / "t.csv").exists()


def test_cli_one_day_to_stdout(data: Path) -> None:
    result = invoke("timeline", "--data", data, "--from", "2020-03-04", "--to", "2020-03-04", "--out", "-")
    assert result.exit_code == 0, text(result)
    lines = result.stdout.splitlines()
    assert lines[0] == ",".join(COLUMNS) and len(lines) == 2 and lines[1].startswith("2020-03-04,")


@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--out", "timeline.xlsx", "unknown timeline format '.xlsx'"),
    ("--chart", "timeline.svg", "the chart is a PNG"),
])
def test_cli_refuses_other_formats(data: Path, tmp_path: Path, flag: str, value: str, message: str) -> None:
    args = {"--out": str(tmp_path / "t.csv"), flag: str(tmp_path / value)}
    result = invoke("timeline", "--data", data, "--from", "2020-03-01", "--to", "2020-03-02",
                    *[x for kv in args.items() for x in kv])
    assert result.exit_code == 2 and message in text(result)


# ------------------------------------------------------------------------------------------------------------
# the summary's most overdue checkpoints


def test_most_overdue_sorted_and_cut() -> None:
    report = pd.DataFrame({
        "subject": ["checkpoint"] * 13 + ["trip"],
        "subject_id": [f"C{i:02d}" for i in range(13)] + ["T1"],
        "name": "n", "road_ref": "G1",
        "overdue_days": pd.array([3, 7, 7, 0, None, 1, 2, 9, 4, 5, 6, 8, 10, None], dtype="Int64"),
    })
    top = most_overdue(report, 10)
    assert top["subject_id"].tolist() == ["C12", "C07", "C11", "C01", "C02", "C10", "C09", "C08", "C00", "C06"]
    assert top["overdue_days"].tolist() == [10, 9, 8, 7, 7, 6, 5, 4, 3, 2]
    assert most_overdue(report.iloc[:0]).empty


def test_audit_summary_lists_the_most_overdue(data: Path, tmp_path: Path) -> None:
    result = invoke("audit", "--data", data, "--as-of", "2020-03-10", "--out", tmp_path / "r.geojson", "--lang",
                    "en")
    assert "checkpoints overdue for removal (due 2020-03-04; top 10)" in text(result)
    assert "│ early │ │ S201 │ 6 │ │ late │ │ G105 │ 2 │" in text(result)  # most overdue first
    on_due = invoke("audit", "--data", data, "--as-of", "2020-03-04", "--out", tmp_path / "r.geojson")
    assert "逾期未撤除的检测点" not in text(on_due)  # 0 days overdue on the due date: nothing to list


def test_overdue_days_in_every_report_form(data: Path, tmp_path: Path) -> None:
    for ext in ("csv", "parquet", "geojson"):
        out = tmp_path / f"r.{ext}"
        assert invoke("audit", "--data", data, "--as-of", "2020-03-10", "--out", out).exit_code in (0, 1)
    csv = pd.read_csv(tmp_path / "r.csv", encoding="utf-8-sig").set_index("subject_id")
    assert csv.loc["early", "overdue_days"] == 6 and np.isnan(csv.loc["keep", "overdue_days"])
    from transportmon.io.report import read_report

    for ext in ("parquet", "geojson"):
        frame, _ = read_report(tmp_path / f"r.{ext}")
        frame = frame.set_index("subject_id")
        assert frame.loc["early", "overdue_days"] == 6 and pd.isna(frame.loc["keep", "overdue_days"])
