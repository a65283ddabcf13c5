"""A GTFS feed plus an occupancy table → the ``stops``, ``trips`` and ``stop_times`` layers of DESIGN §2.

GTFS describes a timetable; the audit needs what happened on a date. The occupancy table (``trip_id``,
``service_date``, ``seats``, ``passengers``, optional ``service_type``) says which trips ran on which dates with how
many people; each of its rows is one audited trip. Its id is the GTFS ``trip_id`` when that trip appears once in the
table, else ``<trip_id>@<YYYY-MM-DD>``.

Mapping:
- ``stops.txt`` ``stop_lat``/``stop_lon``/``stop_name`` → stops; ``location_type`` 1 (stations) are kept as stops;
- ``stop_times.txt`` ``pickup_type``/``drop_off_type``: 1 means "no pickup"/"no drop off"; 0, empty, 2 (phone the
  agency) and 3 (coordinate with the driver) all let passengers board/alight, so they count as boarding/alighting;
- ``service_type``: the occupancy table's column if present, else ``scheduled`` (a GTFS feed is a timetable: 班车);
- ``calendar.txt`` / ``calendar_dates.txt``, when present, must run the trip's ``service_id`` on the ``service_date``;
  a row that does not is marked ``_in_calendar = False`` so validation rejects it (``not-in-calendar``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from .._errors import InputError
from .read import read_table

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _txt(folder: Path, name: str, required: tuple[str, ...], optional: bool = False) -> pd.DataFrame | None:
    path = folder / name
    if not path.is_file():
        if optional:
            return None
        raise InputError(path, "missing from the GTFS feed", "a feed needs stops.txt, trips.txt and stop_times.txt")
    frame = read_table(path)
    frame = pd.DataFrame(frame.drop(columns=[c for c in ("geometry", "_lon_raw", "_lat_raw") if c in frame.columns]))
    frame.columns = [c.strip() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(path, f"has no column {', '.join(missing)}", f"GTFS requires {', '.join(required)}")
    return frame


def _gtfs_date(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values.astype("string").str.strip(), format="%Y%m%d", errors="coerce")


def read_gtfs(feed: str | os.PathLike[str], occupancy: str | os.PathLike[str]) -> dict[str, pd.DataFrame]:
    """The three layers, as frames ready for validation (``stops`` a GeoDataFrame with lon/lat points)."""
    folder = Path(feed)
    if not folder.is_dir():
        raise InputError(folder, "is not a folder", "--gtfs takes an unzipped GTFS feed folder")
    import geopandas as gpd
    import shapely

    stops = _txt(folder, "stops.txt", ("stop_id", "stop_lat", "stop_lon"))
    trips = _txt(folder, "trips.txt", ("trip_id",))
    stop_times = _txt(folder, "stop_times.txt", ("trip_id", "stop_sequence", "stop_id"))
    assert stops is not None and trips is not None and stop_times is not None
    occ = read_table(occupancy)
    occ = pd.DataFrame(occ.drop(columns=[c for c in ("geometry",) if c in occ.columns]))
    for col in ("trip_id", "service_date", "seats", "passengers"):
        if col not in occ.columns:
            raise InputError(occupancy, f"the occupancy table has no column {col!r}",
                             "required: trip_id, service_date, seats, passengers")

    lon = pd.to_numeric(stops["stop_lon"], errors="coerce")
    lat = pd.to_numeric(stops["stop_lat"], errors="coerce")
    ok = (lon.notna() & lat.notna()).to_numpy()
    geoms = np.full(len(stops), None, dtype=object)
    geoms[ok] = shapely.points(lon[ok].to_numpy(), lat[ok].to_numpy())
    stops_out = gpd.GeoDataFrame({"stop_id": stops["stop_id"], "name": stops.get("stop_name"),
                                  "_lon_raw": stops["stop_lon"], "_lat_raw": stops["stop_lat"]},
                                 geometry=gpd.GeoSeries(geoms, crs="EPSG:4326"))

    # One audited trip per occupancy row; ids stay the GTFS ones where unambiguous.
    occ = occ.copy()
    occ["gtfs_trip_id"] = occ["trip_id"].astype("string").str.strip()
    repeated = occ["gtfs_trip_id"].duplicated(keep=False)
    from ..layers import parse_dates

    dates, _ = parse_dates(occ["service_date"])
    # A malformed date keeps its text in the id, so that the row is rejected as malformed-date, not as missing-id.
    day_text = dates.dt.strftime("%Y-%m-%d").astype("string").fillna(
        occ["service_date"].astype("string").str.strip().fillna(""))
    occ["trip_id"] = occ["gtfs_trip_id"].where(~repeated, occ["gtfs_trip_id"] + "@" + day_text)
    if "service_type" not in occ.columns:
        occ["service_type"] = "scheduled"
    trips = trips.assign(trip_id=trips["trip_id"].astype("string").str.strip())
    info = trips.drop_duplicates("trip_id").set_index("trip_id")
    if "route_id" not in occ.columns and "route_id" in info.columns:
        occ["route_id"] = occ["gtfs_trip_id"].map(info["route_id"])
    occ["_in_calendar"] = _runs_on(folder, occ["gtfs_trip_id"].map(info.get("service_id", pd.Series(dtype="string"))),
                                   dates)

    st = stop_times.assign(trip_id=stop_times["trip_id"].astype("string").str.strip())
    for gtfs_col, col in (("pickup_type", "pickup"), ("drop_off_type", "dropoff")):
        # Only 1 forbids; an empty cell (NA) is 0: regular pickup / drop off.
        no = st.get(gtfs_col, pd.Series("0", index=st.index)).astype("string").str.strip().eq("1")
        st[col] = ~no.fillna(False).astype(bool)
    st = st[["trip_id", "stop_sequence", "stop_id", "pickup", "dropoff"]].rename(columns={"trip_id": "gtfs_trip_id"})
    # One itinerary per audited id: a repeated (trip, date) row is a duplicate trip, not a doubled itinerary.
    ids = occ[["trip_id", "gtfs_trip_id"]].dropna(subset=["trip_id"]).drop_duplicates("trip_id")
    expanded = ids.merge(st, on="gtfs_trip_id", how="inner")
    expanded = expanded.drop(columns="gtfs_trip_id")
    return {"stops": stops_out, "trips": occ.drop(columns="gtfs_trip_id"), "stop_times": expanded}


def _runs_on(folder: Path, service_id: pd.Series, dates: pd.Series) -> pd.Series:
    """Whether each (service_id, date) runs per calendar.txt and calendar_dates.txt (True when neither exists)."""
    cal = _txt(folder, "calendar.txt", ("service_id", "start_date", "end_date", *WEEKDAYS), optional=True)
    exc = _txt(folder, "calendar_dates.txt", ("service_id", "date", "exception_type"), optional=True)
    if cal is None and exc is None:
        return pd.Series(True, index=service_id.index)
    q = pd.DataFrame({"service_id": service_id.astype("string").str.strip(), "date": dates, "i": np.arange(len(dates))})
    runs = pd.Series(False, index=q.index)
    if cal is not None:
        cal = cal.assign(service_id=cal["service_id"].astype("string").str.strip(),
                         start=_gtfs_date(cal["start_date"]), end=_gtfs_date(cal["end_date"]))
        m = q[q["date"].notna()].merge(cal, on="service_id", how="inner")
        weekday = m["date"].dt.day_of_week.to_numpy(dtype="int64")
        flags = m[list(WEEKDAYS)].astype("string").apply(lambda c: c.str.strip().eq("1")).to_numpy()
        on_day = flags[np.arange(len(m)), np.clip(weekday, 0, 6)] & (m["date"] >= m["start"]).to_numpy() & (
            m["date"] <= m["end"]).to_numpy()
        runs.iloc[m.loc[on_day, "i"].to_numpy()] = True
    if exc is not None:
        exc = exc.assign(service_id=exc["service_id"].astype("string").str.strip(), date=_gtfs_date(exc["date"]),
                         kind=exc["exception_type"].astype("string").str.strip())
        m = q.merge(exc, on=["service_id", "date"], how="inner")
        runs.iloc[m.loc[m["kind"] == "1", "i"].to_numpy()] = True
        runs.iloc[m.loc[m["kind"] == "2", "i"].to_numpy()] = False
    return runs.set_axis(service_id.index)
