"""Compliance over time (DESIGN §7): one row per day, decided on what was measured once.

Geometry is measured once for the whole range by :func:`transportmon.pipeline.measure`, the audit's own first step
— road context, checkpoint evidence, trip verdicts (each trip is judged on its own service date, whatever the as-of
date) — and then each day only decides the checkpoints with :func:`transportmon.rules.checkpoints.decide`, the
function :func:`~transportmon.pipeline.report_on` decides them with, and counts. Day D's
checkpoint counts are therefore those of ``audit(as_of=D)``, and its trip counts those of the audit's trips whose
``service_date`` is D (rejected trips included, on the date they give), by construction rather than by a second
implementation.

Nothing here reads files, prints or reads the clock, except :func:`timeline`, which loads the inputs as
:func:`transportmon.pipeline.audit` does.
"""

from __future__ import annotations

import os
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from ._errors import ConfigError
from .config import RuleConfig
from .dates import parse_date
from .designations_on import levels_by_day
from .geo.admin import leaf_units
from .inputs import load_inputs
from .levels import resolve_levels
from .pipeline import Measured, measure, measured_warnings
from .rules import checkpoints as cp_rules
from .vocab import ROUTE_VERDICTS

__all__ = ["COLUMNS", "ROUTE_COLUMNS", "change_days", "count_days", "day_range", "most_overdue", "timeline"]

#: The columns of a timeline, in order (DESIGN §7).
COLUMNS = ("date", "checkpoints_active", "keep", "remove", "review", "overdue", "trips", "over_cap", "compliant",
           "not_applicable", "excess_passengers", "high_units", "medium_units")
#: Routes per verdict (DESIGN §9), appended to :data:`COLUMNS` when the inputs have routes.
ROUTE_COLUMNS = tuple(f"routes_{verdict}" for verdict in ROUTE_VERDICTS)

_TRIP_VERDICTS = {"over-cap": "over_cap", "compliant": "compliant", "not-applicable": "not_applicable"}


def day_range(start: str | date | pd.Timestamp, end: str | date | pd.Timestamp) -> pd.DatetimeIndex:
    """Every day from ``start`` to ``end`` (both included); :class:`ConfigError` when a date is not one or
    ``start`` is after ``end``."""
    days = []
    for value, flag in ((start, "--from"), (end, "--to")):
        day = parse_date(value)
        if day is None:
            raise ConfigError(f"{flag}: {value!r} is not a date (use YYYY-MM-DD)")
        days.append(day.normalize())
    if days[0] > days[1]:
        raise ConfigError(f"--from {days[0]:%Y-%m-%d} is after --to {days[1]:%Y-%m-%d}: give the first day of the "
                          "timeline first (--from ≤ --to)")
    return pd.date_range(days[0], days[1], freq="D")


def _counts(n: int) -> np.ndarray:
    return np.zeros(n, dtype=np.int64)


def _checkpoint_columns(measured: Measured, days: pd.DatetimeIndex, cfg: RuleConfig) -> dict[str, Any]:
    """Checkpoints per verdict per day, decided as the audit decides them on that as-of date."""
    ev = measured.checkpoints
    names = ("keep", "remove", "review", "overdue")
    if ev is None:
        return {c: pd.array([pd.NA] * len(days), dtype="Int64") for c in ("checkpoints_active", *names)}
    out = {c: _counts(len(days)) for c in names}
    for i, day in enumerate(days):
        verdicts, _ = cp_rules.decide(ev, cfg, day, neighbours=measured.neighbours, with_findings=False)
        v = verdicts["verdict"].to_numpy()
        for c in ("keep", "remove", "review"):
            out[c][i] = int((v == c).sum())
        out["overdue"][i] = int(((v == "remove") & verdicts["overdue_days"].notna().to_numpy()).sum())
    active = out["keep"] + out["remove"] + out["review"]
    return {"checkpoints_active": active, **out}


def trip_subjects(measured: Measured) -> pd.DataFrame:
    """The measured trips (rejected ones included): ``verdict``, ``service_date`` (text), ``excess_passengers``."""
    columns = ("verdict", "service_date", "excess_passengers")
    parts = []
    for part in measured.subjects:
        if not len(part) or "subject" not in part.columns:
            continue
        trips = part[(part["subject"].astype(str) == "trip").to_numpy()]
        parts.append(pd.DataFrame({c: trips[c].to_numpy() if c in trips.columns else np.full(len(trips), None)
                                   for c in columns}))
    if not parts:
        return pd.DataFrame({c: [] for c in columns})
    return pd.concat(parts, ignore_index=True)


def _trip_columns(measured: Measured, days: pd.DatetimeIndex) -> tuple[dict[str, Any], list[str]]:
    """Trips of each service date per verdict and their excess passengers; the warnings to give."""
    names = ("trips", *_TRIP_VERDICTS.values(), "excess_passengers")
    if "trips" not in measured.layers:
        return {c: pd.array([pd.NA] * len(days), dtype="Int64") for c in names}, []
    trips = trip_subjects(measured)
    # Few distinct dates among many trips: each is parsed once, then placed in the range (-1 outside it).
    codes, uniques = pd.factorize(trips["service_date"].astype("string"), use_na_sentinel=True)
    where = pd.Index(days).get_indexer(pd.to_datetime(pd.Series(uniques, dtype="string"), format="%Y-%m-%d"))
    pos = np.r_[where, -1][codes] if len(codes) else np.array([], dtype=np.int64)
    inside = pos >= 0
    n = len(days)
    out: dict[str, Any] = {"trips": np.bincount(pos[inside], minlength=n).astype(np.int64)}
    verdict = trips["verdict"].astype(str).to_numpy()
    for word, col in _TRIP_VERDICTS.items():
        m = inside & (verdict == word)
        out[col] = np.bincount(pos[m], minlength=n).astype(np.int64)
    excess = pd.to_numeric(trips["excess_passengers"], errors="coerce").fillna(0).to_numpy(dtype=np.int64)
    out["excess_passengers"] = np.bincount(pos[inside], weights=excess[inside], minlength=n).astype(np.int64)
    warnings = []
    undated = int((codes < 0).sum())
    if undated:
        warnings.append(f"{undated} rejected trip(s) have no readable service_date and are counted on no day")
    return out, warnings


def _unit_columns(measured: Measured, days: pd.DatetimeIndex) -> dict[str, Any]:
    """Admin units (the finest boundary polygons) and designated polygons whose level in effect each day is high or
    medium: the designation the audit would apply to a stop there (most specific wins)."""
    layers = measured.layers
    if "risk_areas" not in layers:
        return {c: pd.array([pd.NA] * len(days), dtype="Int64") for c in ("high_units", "medium_units")}
    intervals = layers["risk_areas"].intervals
    high, medium = _counts(len(days)), _counts(len(days))
    if intervals is None or not len(intervals):
        return {"high_units": high, "medium_units": medium}
    start, end = days[0].strftime("%Y-%m-%d"), days[-1].strftime("%Y-%m-%d")
    bounds = layers["boundaries"].frame
    levels = [levels_by_day(bounds, intervals, start, end, units=leaf_units(bounds)["adcode"].astype(str).tolist())]
    if "geometry" in intervals.columns:  # designations drawn as their own polygons are units of their own
        areas = intervals[intervals["unit"].astype(str).str.startswith("area:").to_numpy()]
        if len(areas):
            key = areas["unit"].astype(str).unique()
            q = pd.DataFrame({"key": np.repeat(key, len(days)), "date": np.tile(days.to_numpy(), len(key))})
            got = resolve_levels(areas, pd.DataFrame({"key": key, "unit": key}), q, columns=("level",))
            levels.append(pd.DataFrame({"date": q["date"].to_numpy(),
                                        "level": got["level"].astype("string").to_numpy()}))
    lv = pd.concat([f[["date", "level"]] for f in levels], ignore_index=True)
    pos = pd.Index(days).get_indexer(pd.to_datetime(lv["date"]))
    level = lv["level"].astype("string").fillna("").to_numpy(dtype=str)
    high = np.bincount(pos[level == "high"], minlength=len(days)).astype(np.int64)
    medium = np.bincount(pos[level == "medium"], minlength=len(days)).astype(np.int64)
    return {"high_units": high, "medium_units": medium}


def _route_columns(measured: Measured, days: pd.DatetimeIndex) -> dict[str, Any]:
    """Routes per verdict per day (DESIGN §9), when the inputs have routes.

    A route's verdict depends on the as-of date (its trips in the 7 days ending on it, its stops' designations that
    day), so, like checkpoints, each day decides the routes measured once (:attr:`Measured.routes`) with the audit's
    own :func:`transportmon.routes.route_verdicts`; the stops' designations are looked up once for every day.
    """
    facts = measured.route_facts()
    if facts is None:
        return {}
    from .routes import route_verdicts, stop_levels

    cfg = measured.inputs.config
    levels = stop_levels(facts, list(days))
    out = {c: _counts(len(days)) for c in ROUTE_COLUMNS}
    for i, day in enumerate(days):
        verdict = route_verdicts(facts, cfg, day, levels=levels[i])["verdict"].astype(str).to_numpy()
        for word, col in zip(ROUTE_VERDICTS, ROUTE_COLUMNS):
            out[col][i] = int((verdict == word).sum())
    return out


def count_days(measured: Measured, days: pd.DatetimeIndex) -> pd.DataFrame:
    """One row per day of ``days`` with :data:`COLUMNS` (and :data:`ROUTE_COLUMNS` when there are routes).

    Counts of a layer the inputs lack are empty (``<NA>``), not 0: nothing was counted.
    """
    cfg = measured.inputs.config
    trips, warnings = _trip_columns(measured, days)
    cols = {"date": days, **_checkpoint_columns(measured, days, cfg), **trips, **_unit_columns(measured, days),
            **_route_columns(measured, days)}
    frame = pd.DataFrame({c: pd.array(v, dtype="Int64") if c != "date" else v for c, v in cols.items()})
    frame.attrs.update({"due": cfg.due.isoformat(), "effective": cfg.effective.isoformat(),
                        "rectify_days": cfg.rectify_days, "policy": cfg.policy, "warnings": warnings})
    return frame


def timeline(data: str | os.PathLike[str] | None = None, *, start: str | date, end: str | date,
             **kwargs: Any) -> pd.DataFrame:
    """Compliance day by day from ``start`` to ``end`` (both included): one row per day (DESIGN §7).

    Parameters
    ----------
    data
        A folder of layers, as for :func:`transportmon.audit`; with no ``data`` and no layer, the embedded sample.
    start, end
        First and last day (``--from``, ``--to``); :class:`ConfigError` when ``start`` is after ``end``.
    **kwargs
        The other inputs of :func:`transportmon.pipeline.load_inputs` (per-layer paths, ``gtfs``/``occupancy``,
        ``config``, ``datums``, ``encoding``), but no ``as_of``: every day of the range is one.

    Returns
    -------
    pandas.DataFrame
        :data:`COLUMNS`: ``date``, then ``Int64`` counts. Checkpoint columns of day D are those of
        ``audit(as_of=D)`` (``checkpoints_active`` = keep + remove + review; ``overdue`` = remove on or after the due
        date); trip columns count the trips whose ``service_date`` is D (``trips`` includes rejected trips that
        give a date; ``excess_passengers`` sums the over-cap trips'); ``high_units``/``medium_units`` count the
        finest boundary units (and designated polygons) at that level that day. ``attrs`` holds ``due``,
        ``effective``, ``rectify_days``, ``policy``, ``warnings`` (the inputs' and the timeline's) and ``inputs``
        (each input's path, rows and SHA-256).
    """
    if "as_of" in kwargs:
        raise ConfigError("a timeline has no --as-of: every day from --from to --to is one")
    days = day_range(start, end)  # before any file is read: a reversed range is refused at once
    inputs = load_inputs(data, **kwargs)
    measured = measure(inputs, keep_layers=False)  # the audit's measurement; the stop rows are freed once judged
    frame = count_days(measured, days)
    frame.attrs["warnings"] = [*inputs.warnings, *measured_warnings(measured), *frame.attrs["warnings"]]
    frame.attrs["inputs"] = inputs.meta
    return frame


def most_overdue(report: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """The ``n`` checkpoints of a report longest past their due date (``overdue_days`` > 0), most overdue first,
    then by id: ``subject_id``, ``name``, ``road_ref``, ``overdue_days``."""
    cols = ["subject_id", "name", "road_ref", "overdue_days"]
    if "overdue_days" not in report.columns:
        return pd.DataFrame(columns=cols)
    days = pd.to_numeric(report["overdue_days"], errors="coerce").astype("Float64").fillna(0)
    late = report.loc[((report["subject"] == "checkpoint").fillna(False) & days.gt(0)).to_numpy(dtype=bool),
                      cols].copy()
    late["overdue_days"] = pd.to_numeric(late["overdue_days"]).astype("int64")
    return late.sort_values(["overdue_days", "subject_id"], ascending=[False, True], kind="stable").head(n)


#: Columns whose change from one day to the next :func:`change_days` shows (trips differ every day).
STATE_COLUMNS = ("checkpoints_active", "keep", "remove", "review", "overdue", "high_units", "medium_units")


def change_days(frame: pd.DataFrame) -> pd.DataFrame:
    """The first day and every day on which a checkpoint or risk-unit count differs from the day before."""
    cols = [c for c in STATE_COLUMNS if c in frame.columns]
    state = frame[cols].astype("Float64").fillna(-1)
    changed = state.ne(state.shift()).any(axis=1).fillna(True).to_numpy(dtype=bool)
    changed[:1] = True
    return frame.loc[changed, ["date", *cols]]
