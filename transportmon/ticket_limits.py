"""Ticket limits before departure (DESIGN §9): for every trip of a day, does the cap apply, and how many tickets may
be sold?

A coach station needs, the evening before, the most passengers each departure may carry. :func:`limits` reads the
same inputs as the audit (a ``--data`` folder, per-layer files, or a GTFS feed with its occupancy table) and decides
each trip of the day with the audit's own trip code (:func:`transportmon.trip_audit.audit_trips` → ``rules.trips``),
so a trip's ``cap_applies`` is true exactly when the audit would judge it over-cap or compliant. Passengers may be
empty here (tickets not sold yet): such a trip has nothing sold and all of ``max_passengers`` remaining.

Nothing here writes files or prints: :mod:`transportmon.io.limits` writes the table, the CLI prints.
"""

from __future__ import annotations

import os
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from . import layers as L
from ._errors import ConfigError
from .config import RuleConfig

__all__ = ["COLUMNS", "limits", "limits_of"]

#: The table's columns (DESIGN §9), then ``detail``: why a row has no limit (a rejected trip), else empty.
COLUMNS = ["trip_id", "route_id", "service_date", "seats", "cap_applies", "reason", "risk_level", "risk_stops",
           "max_passengers", "sold", "remaining", "detail"]
#: ``reason`` of a trip the cap applies to.
CAP = "cap"


def _day(value: str | date | pd.Timestamp) -> pd.Timestamp:
    text = pd.Timestamp(value).strftime("%Y-%m-%d") if isinstance(value, (date, pd.Timestamp)) else str(value)
    dates, bad = L.parse_dates(pd.Series([text], dtype="string"))
    if bool(bad.iloc[0]) or pd.isna(dates.iloc[0]):
        raise ConfigError(f"--date: {value!r} is not a date (use YYYY-MM-DD)")
    return pd.Timestamp(dates.iloc[0])


def limits(data: str | os.PathLike[str] | None = None, *, date: str | date | pd.Timestamp,
           **kwargs: Any) -> pd.DataFrame:
    """The ticket limit of every trip of ``date``.

    Parameters
    ----------
    data
        A folder of layers, as for :func:`transportmon.audit` (with none and no layer given, the embedded sample).
    date
        The service date (``YYYY-MM-DD``, or any form the layers accept).
    **kwargs
        The other inputs of :func:`transportmon.inputs.load_inputs`: per-layer paths, ``gtfs``/``occupancy``,
        ``config``, ``datums``, ``encoding``.

    Returns
    -------
    pandas.DataFrame
        :data:`COLUMNS`, one row per trip row of ``date`` (rejected rows too: no limit, their reason and detail),
        sorted by ``trip_id``. ``attrs["warnings"]`` holds what the user must know (no trip that day, trips that
        cannot be given a limit, the inputs' own warnings); ``attrs["date"]`` the day, ``attrs["inputs"]`` the
        inputs read.
    """
    from .inputs import load_inputs

    day = _day(date)
    inputs = load_inputs(data, as_of=day, passengers_optional=True, **kwargs)
    table, warnings = limits_of(inputs.layers, inputs.config, day)
    table.attrs = {"date": day.strftime("%Y-%m-%d"), "warnings": list(inputs.warnings) + warnings,
                   "inputs": inputs.meta}
    return table


def limits_of(layers: dict[str, L.Layer], config: RuleConfig, day: pd.Timestamp) -> tuple[pd.DataFrame, list[str]]:
    """The limits of the trips of ``day`` from validated, cross-checked layers, and the warnings to show.

    The trips of the day are decided by the audit's trip code on a copy of the layers holding only them (the
    stop rows of other days take no part), so the cost grows with one day's trips.
    """
    from .trip_audit import audit_trips

    if "trips" not in layers:
        raise ConfigError("transportmon limits needs a trips layer (with stops and stop_times): give --data with "
                          "trips, --trips, or --gtfs with --occupancy")
    trips = layers["trips"]
    text_day = day.strftime("%Y-%m-%d")
    on_day = (trips.frame["service_date"] == day).to_numpy(dtype=bool)
    parts = []
    if on_day.any():  # every trip still in the frame has its stops, stop rows and admin units (reference checks)
        st = layers["stop_times"]
        mine = {**layers,
                "trips": L.Layer(name="trips", frame=trips.frame[on_day], rejected=L.empty_rejected(),
                                 rows=int(on_day.sum()), path=trips.path, located=trips.located),
                # trip positions are those of the whole trips frame: recomputed against the day's trips
                "stop_times": L.Layer(name="stop_times", frame=st.frame, rejected=st.rejected, rows=st.rows,
                                      path=st.path, codes=L.StopTimesCodes(stop_pos=st.codes.stop_pos))}
        part, _, _ = audit_trips(mine, config)
        parts.append(_limit_rows(part, config))
    rejected = _rejected_rows(trips.rejected, day)
    if len(rejected):
        parts.append(rejected)
    warnings: list[str] = []
    if not parts:
        warnings.append(f"no trip of the trips layer runs on {text_day}: the table is empty; check --date and the "
                        "trips' service_date")
        table = pd.DataFrame({c: pd.Series(dtype=_DTYPES.get(c, "str")) for c in COLUMNS})
    else:
        table = pd.concat(parts, ignore_index=True).sort_values("trip_id", kind="stable", ignore_index=True)
    if len(rejected):
        reasons = rejected["reason"].value_counts().sort_index()
        warnings.append(f"{len(rejected)} trip(s) of {text_day} cannot be given a limit ("
                        + ", ".join(f"{r}: {n}" for r, n in reasons.items())
                        + "): fix those rows of the trips layer (listed with reason and detail)")
    undated = _undated(trips.rejected)
    if undated:
        warnings.append(f"{undated} trip row(s) have no readable service_date: they are in no day's limits")
    return table, warnings


_DTYPES = {"seats": "Int64", "cap_applies": "boolean", "max_passengers": "Int64", "sold": "Int64",
           "remaining": "Int64", "service_date": "str"}


def _limit_rows(part: pd.DataFrame, config: RuleConfig) -> pd.DataFrame:
    """Limits of audited trips from their trip subjects (the audit's verdicts)."""
    applies = part["verdict"].astype(str).isin(["over-cap", "compliant"]).to_numpy()
    seats = pd.array(part["seats"], dtype="Int64")
    capped = pd.array(part["max_passengers"], dtype="Int64")
    most = pd.array(np.where(applies, capped.to_numpy(dtype=np.int64), seats.to_numpy(dtype=np.int64)),
                    dtype="Int64")
    sold = pd.array(part["passengers"], dtype="Int64")
    remaining = pd.Series(most - sold.fillna(0)).clip(lower=0).array  # sold out, or sold over a limit set since
    reason = pd.Series(part["reason"].astype(object).to_numpy(), dtype="str").where(~applies, CAP)
    return pd.DataFrame({
        "trip_id": part["subject_id"].astype(str).to_numpy(),
        "route_id": part["route_id"].astype("str").to_numpy(), "service_date": part["service_date"].astype(str),
        "seats": seats, "cap_applies": pd.array(applies, dtype="boolean"), "reason": reason,
        "risk_level": part["risk_level"].astype("str").to_numpy(),
        "risk_stops": part["risk_stops"].map(lambda v: ";".join(v) if v is not None else "").to_numpy(),
        "max_passengers": most, "sold": sold, "remaining": remaining,
        "detail": "",
    })


def _rejected_rows(rejected: pd.DataFrame, day: pd.Timestamp) -> pd.DataFrame:
    """Rejected trip rows of ``day`` (those whose date can be read): listed with their reason, without a limit."""
    if not len(rejected) or "service_date" not in rejected.columns:
        return pd.DataFrame(columns=COLUMNS)
    mine = rejected[(pd.to_datetime(rejected["service_date"]) == day).to_numpy(dtype=bool)]
    n = len(mine)
    na_int = pd.array([pd.NA] * n, dtype="Int64")
    return pd.DataFrame({
        "trip_id": mine["subject_id"].astype(str).to_numpy(),
        "route_id": mine["route_id"].astype("str").to_numpy() if "route_id" in mine.columns else None,
        "service_date": day.strftime("%Y-%m-%d"), "seats": na_int,
        "cap_applies": pd.array([pd.NA] * n, dtype="boolean"), "reason": mine["reason"].astype(str).to_numpy(),
        "risk_level": None, "risk_stops": "", "max_passengers": na_int, "sold": na_int, "remaining": na_int,
        "detail": mine["detail"].astype(str).to_numpy(),
    })


def _undated(rejected: pd.DataFrame) -> int:
    if not len(rejected) or "service_date" not in rejected.columns:
        return 0
    return int(rejected["service_date"].isna().sum())

