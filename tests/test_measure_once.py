"""Measure once, decide per day: ``report_on(measure(inputs), D)`` is the report of ``audit(as_of=D)``.

The coming ``transportmon timeline`` decides many days on one measurement; its day D must count what
``audit --as-of D`` counts. The embedded sample's bridge checkpoints keep until 2020-03-27, then are inactive, so
the days below do give different checkpoint verdicts.
"""

from __future__ import annotations

import pytest
from pandas.testing import assert_frame_equal

import transportmon
from transportmon.pipeline import Measured, load_inputs, measure, report_on

DAYS = ("2020-02-01", "2020-03-16", "2020-03-27")


@pytest.fixture(scope="module")
def measured() -> Measured:
    return measure(load_inputs())


@pytest.mark.parametrize("day", DAYS)
def test_each_day_of_one_measurement_is_that_days_audit(measured: Measured, day: str) -> None:
    got = report_on(measured, day)
    want = transportmon.audit(as_of=day)
    assert_frame_equal(got.report, want.report)
    assert got.metadata == want.metadata
    assert got.metadata["as_of"] == day and got.metadata["as_of_source"] == "--as-of"


def test_days_differ_in_checkpoint_verdicts_only(measured: Measured) -> None:
    reports = [report_on(measured, day).report for day in DAYS]
    checkpoint_verdicts = {tuple(r.loc[r["subject"] == "checkpoint", "verdict"]) for r in reports}
    assert len(checkpoint_verdicts) == len(DAYS)  # the as-of date decides the checkpoints…
    others = [r.loc[r["subject"] != "checkpoint"].reset_index(drop=True) for r in reports]
    for other in others[1:]:  # …and nothing else: trips are judged on their own service dates
        assert_frame_equal(other, others[0])


def test_default_day_is_the_inputs(measured: Measured) -> None:
    got = report_on(measured)
    assert got.metadata["as_of"] == "2020-03-16" and got.metadata["as_of_source"] == "manifest.toml"
    assert_frame_equal(got.report, transportmon.audit().report)


def test_release_frees_the_measured_subjects() -> None:
    once = measure(load_inputs())
    kept = len(once.subjects)
    report = report_on(once, release=True).report
    assert kept == 2 and once.subjects == []  # trips, rejected rows
    assert (report["subject"] == "trip").sum() == 37
