"""A GTFS feed plus an occupancy table → the ``stops``, ``trips`` and ``stop_times`` layers of DESIGN §2.

GTFS describes a timetable; the audit needs what happened on a date. The occupancy table (``trip_id``,
``service_date``, ``seats``, ``passengers``, optional ``service_type`` and ``route_id``; the Chinese headers of
:data:`transportmon.layers.ALIASES` such as 班次编号, 班次日期, 核定座位, 实载人数; CSV or xlsx) says which trips ran
on which dates with how many people; each of its rows is one audited trip. Its id is the GTFS ``trip_id`` when that
trip appears once in the table, else ``<trip_id>@<YYYY-MM-DD>``.

The feed is a ``.zip`` as published, or its unzipped folder; its files may sit at the root or in one sub-folder (as
many published zips have them). Mapping:

- ``stops.txt`` ``stop_lat``/``stop_lon``/``stop_name`` → stops; ``location_type`` 1 (stations) are kept as stops;
  entrances, generic nodes and boarding areas (2, 3, 4: GTFS lets the last two go without coordinates, and
  stop_times never name any of them) are left out, their number in the stops' source (:data:`NOT_STOPS`);
- ``stop_times.txt`` ``pickup_type``/``drop_off_type``: 1 means "no pickup"/"no drop off" (pickup/dropoff 0); 0,
  empty, 2 (phone the agency) and 3 (coordinate with the driver) all let passengers board/alight (1); any other value
  is kept as written so that validation rejects its row (``malformed-value``);
- arrival and departure times are not read, so times past 24:00 need nothing: ``service_date`` is the GTFS service
  day, the date the calendar runs the trip on, even for a trip that leaves after midnight;
- ``service_type``: the occupancy table's column if present, else ``scheduled`` (a GTFS feed is a timetable: 班车);
- an occupancy row whose ``trip_id`` is not in ``trips.txt`` is marked ``_in_feed = False`` (rejected as
  ``unknown-trip``); ``calendar.txt`` / ``calendar_dates.txt`` (either or both; exception type 1 adds a date, 2
  removes it), when present, must run the trip's ``service_id`` on the ``service_date``: a row that does not is
  marked ``_in_calendar = False`` (rejected as ``not-in-calendar``). :func:`reject_outside_feed` applies both.

Each frame's ``attrs["source"]`` says where it came from: ``path`` (the file to hash: the zip, the folder's file, or
the occupancy table), ``member`` (the file inside the zip) and how the text was read.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import layers as L
from .._errors import InputError
from ..source_rows import SOURCE_ROW
from .read import read_table

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
#: Key of the trips' source (and so of the loader's metadata, popped there) marking a feed without calendar.txt and
#: calendar_dates.txt: every date runs, which the command says.
NO_CALENDAR = "no_calendar"

#: Key of the stops' ``attrs["source"]`` (and the report's metadata of the stops input): how many rows of stops.txt
#: were entrances, generic nodes or boarding areas (``location_type`` 2, 3, 4), left out of the stops layer.
NOT_STOPS = "not_stops"

#: The ``location_type`` values of stops.txt that are no place a trip calls at.
NOT_STOP_TYPES = (2, 3, 4)

#: The files a feed must have; calendar.txt and calendar_dates.txt are optional (without either, every date runs).
REQUIRED_FILES = ("stops.txt", "trips.txt", "stop_times.txt")
#: GTFS pickup_type / drop_off_type values and whether passengers may board / alight.
BOARDING = {"": True, "0": True, "1": False, "2": True, "3": True}
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError, ValueError)


class _Feed:
    """The files of one feed, in a folder or a zip, at its root or in one sub-folder."""

    def __init__(self, path: Path, names: list[str], archive: zipfile.ZipFile | None, scratch: Path | None) -> None:
        self.path = path
        self.archive = archive
        self.scratch = scratch
        by_folder: dict[str, dict[str, str]] = {}
        for name in names:
            folder, _, base = name.rpartition("/")
            by_folder.setdefault(folder, {}).setdefault(base.lower(), name)
        holding = sorted(f for f, files in by_folder.items() if any(r in files for r in REQUIRED_FILES))
        if len(holding) > 1:
            shown = ", ".join(f"{f or '(root)'}/" for f in holding)
            raise InputError(path, f"holds GTFS files in several folders ({shown})",
                             "give one feed: a zip or folder with stops.txt, trips.txt and stop_times.txt in one place")
        self.files = by_folder[holding[0]] if holding else {}
        missing = [r for r in REQUIRED_FILES if r not in self.files]
        if missing:
            where = "the zip (at its root or in a sub-folder)" if archive is not None else "the folder or a sub-folder"
            raise InputError(path, f"{', '.join(missing)} missing from the GTFS feed",
                             f"a feed needs stops.txt, trips.txt and stop_times.txt in {where}")

    def source(self, name: str) -> dict[str, Any]:
        """Where ``name`` comes from, for the report's metadata."""
        if self.archive is not None:
            return {"path": str(self.path), "member": self.files[name]}
        return {"path": str(self.path / self.files[name])}

    def label(self, name: str) -> str:
        """How messages name the file: ``feed.zip:gtfs/stops.txt`` inside a zip, else its path."""
        if self.archive is not None:
            return f"{self.path}:{self.files[name]}"
        return str(self.path / self.files[name])

    def _check_room(self, member: str) -> None:
        """Refuse a member that would not fit in the temporary folder, before writing a byte of it: a feed of a
        nation's timetables, or a zip whose header claims far more than it holds, must not fill the disk. Python's
        zip reader stops at the size the header declares, so that size bounds what is written."""
        assert self.archive is not None and self.scratch is not None
        size = self.archive.getinfo(member).file_size
        free = shutil.disk_usage(self.scratch).free
        if size > free:
            raise InputError(self.path, f"{member} unzips to {size / 2**20:,.0f} MiB, more than the "
                             f"{free / 2**20:,.0f} MiB free in the temporary folder {self.scratch.parent}",
                             "free disk space there, point TMPDIR at a folder with room, or unzip the feed and give "
                             "--gtfs the folder")

    def read(self, name: str, required: tuple[str, ...]) -> pd.DataFrame | None:
        """One feed file as a text table (columns stripped), or None for an absent optional file."""
        if name not in self.files:  # only an optional one: the required files were checked on opening
            return None
        if self.archive is None:
            frame = read_table(self.path / self.files[name])
        else:
            assert self.scratch is not None
            member = self.files[name]
            local = self.scratch / name
            self._check_room(member)
            try:
                with self.archive.open(member) as src, open(local, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
            except _ZIP_ERRORS as exc:
                raise InputError(self.path, f"{member} cannot be extracted ({exc})",
                                 "the zip is damaged: download the feed again") from exc
            try:
                frame = read_table(local)
            except InputError as exc:  # name the zip and its member, not the scratch copy
                raise InputError(self.path, f"{member}: {exc.problem}", exc.fix) from exc
            finally:
                local.unlink(missing_ok=True)
        info = dict(frame.attrs.pop("source", {}))
        frame = pd.DataFrame(frame.drop(columns=[c for c in ("geometry", "_lon_raw", "_lat_raw")
                                                 if c in frame.columns]))
        frame.columns = [str(c).strip() for c in frame.columns]
        missing = [c for c in required if c not in frame.columns]
        if missing:
            raise InputError(self.label(name), f"has no column {', '.join(missing)}",
                             f"GTFS requires {', '.join(required)}")
        frame.attrs["source"] = {**self.source(name), **info}
        return frame


@contextlib.contextmanager
def _open_feed(feed: str | os.PathLike[str]) -> Iterator[_Feed]:
    path = Path(feed)
    if path.is_dir():
        names = []
        for entry in sorted(path.iterdir()):
            if entry.is_file():
                names.append(entry.name)
            elif entry.is_dir() and not entry.name.startswith((".", "__MACOSX")):
                names += [f"{entry.name}/{sub.name}" for sub in sorted(entry.iterdir()) if sub.is_file()]
        yield _Feed(path, names, None, None)
        return
    if not path.exists():
        raise InputError(path, "not found", "--gtfs takes a GTFS feed as published (.zip) or its unzipped folder")
    try:
        archive = zipfile.ZipFile(path)
    except _ZIP_ERRORS as exc:
        raise InputError(path, f"is not a readable zip archive ({exc})",
                         "--gtfs takes a GTFS feed as published (.zip) or its unzipped folder; if the zip is "
                         "damaged, download it again") from exc
    with archive, tempfile.TemporaryDirectory(prefix="transportmon-gtfs-") as scratch:
        # Folders and macOS resource forks are not feed files.
        names = [i.filename for i in archive.infolist() if not i.is_dir()
                 and not i.filename.startswith("__MACOSX/") and not i.filename.rpartition("/")[2].startswith("._")]
        yield _Feed(path, names, archive, Path(scratch))


def _gtfs_date(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values.astype("string").str.strip(), format="%Y%m%d", errors="coerce")


def read_occupancy(occupancy: str | os.PathLike[str], *, passengers_optional: bool = False) -> pd.DataFrame:
    """The occupancy table (CSV or xlsx, contract or Chinese headers) with contract column names.

    ``passengers_optional`` (``transportmon limits``: tickets of future trips still on sale) accepts a table without a
    ``passengers`` column.
    """
    occ = read_table(occupancy)
    info = dict(occ.attrs.pop("source", {}))
    occ = L.rename_aliases(pd.DataFrame(occ.drop(columns=[c for c in ("geometry",) if c in occ.columns])))
    if passengers_optional and "passengers" not in occ.columns:
        occ["passengers"] = pd.NA
    missing = [c for c in ("trip_id", "service_date", "seats", "passengers") if c not in occ.columns]
    if missing:
        raise InputError(occupancy, f"the occupancy table has no column {', '.join(repr(c) for c in missing)}",
                         "required: trip_id, service_date, seats, passengers (or 班次编号, 班次日期, 核定座位, 实载人数)")
    occ.attrs["source"] = {"path": str(occupancy), **info}
    return occ


def read_gtfs(feed: str | os.PathLike[str], occupancy: str | os.PathLike[str], *,
              passengers_optional: bool = False) -> dict[str, pd.DataFrame]:
    """The three layers, as frames ready for validation (``stops`` a GeoDataFrame with lon/lat points).

    Parameters
    ----------
    feed
        The GTFS feed: a ``.zip`` as published, or its unzipped folder (files at the root or in one sub-folder).
    occupancy
        The occupancy table: one row per trip run, ``trip_id``, ``service_date``, ``seats``, ``passengers``.
    passengers_optional
        Accept an occupancy table without ``passengers`` (``transportmon limits``).

    Returns
    -------
    ``{"stops", "trips", "stop_times"}`` frames, each with ``attrs["source"]`` (see the module's docstring).

    Raises
    ------
    InputError
        For a feed that is neither a folder nor a readable zip, lacks a required file or column, or an occupancy
        table without a required column; the message names the zip (and its member) or the file.
    """
    import geopandas as gpd
    import shapely

    with _open_feed(feed) as f:
        stops = f.read("stops.txt", ("stop_id", "stop_lat", "stop_lon"))
        trips = f.read("trips.txt", ("trip_id",))
        stop_times = f.read("stop_times.txt", ("trip_id", "stop_sequence", "stop_id"))
        cal = f.read("calendar.txt", ("service_id", "start_date", "end_date", *WEEKDAYS))
        exc = f.read("calendar_dates.txt", ("service_id", "date", "exception_type"))
    assert stops is not None and trips is not None and stop_times is not None
    occ = read_occupancy(occupancy, passengers_optional=passengers_optional)

    not_stops = 0
    if "location_type" in stops.columns:  # pathways' entrances, nodes and boarding areas are not called at
        kind = pd.to_numeric(stops["location_type"].astype("string").str.strip(), errors="coerce")
        other = kind.isin(NOT_STOP_TYPES).to_numpy(dtype=bool)
        not_stops = int(other.sum())
        if not_stops:
            source = stops.attrs["source"]
            stops = stops[~other]
            stops.attrs["source"] = source
    lon = pd.to_numeric(stops["stop_lon"], errors="coerce")
    lat = pd.to_numeric(stops["stop_lat"], errors="coerce")
    ok = (lon.notna() & lat.notna()).to_numpy()
    geoms = np.full(len(stops), None, dtype=object)
    geoms[ok] = shapely.points(lon[ok].to_numpy(), lat[ok].to_numpy())
    stops_out = gpd.GeoDataFrame({"stop_id": stops["stop_id"], "name": stops.get("stop_name"),
                                  "_lon_raw": stops["stop_lon"], "_lat_raw": stops["stop_lat"]},
                                 geometry=gpd.GeoSeries(geoms, crs="EPSG:4326"))
    if SOURCE_ROW in stops.columns:  # the line of stops.txt
        stops_out[SOURCE_ROW] = stops[SOURCE_ROW].to_numpy()

    # One audited trip per occupancy row; ids stay the GTFS ones where unambiguous.
    occ_source = occ.attrs.pop("source")
    occ = occ.copy()
    occ["gtfs_trip_id"] = L.as_text(occ["trip_id"])
    repeated = occ["gtfs_trip_id"].duplicated(keep=False)
    dates, _ = L.parse_dates(occ["service_date"])
    # A malformed date keeps its text in the id, so that the row is rejected as malformed-date, not as missing-id.
    day_text = dates.dt.strftime("%Y-%m-%d").astype("string").fillna(
        occ["service_date"].astype("string").str.strip().fillna(""))
    occ["trip_id"] = occ["gtfs_trip_id"].where(~repeated, occ["gtfs_trip_id"] + "@" + day_text)
    if "service_type" not in occ.columns:
        occ["service_type"] = "scheduled"
    trips = trips.assign(trip_id=L.as_text(trips["trip_id"]))
    info = trips.drop_duplicates("trip_id").set_index("trip_id")
    if "route_id" not in occ.columns and "route_id" in info.columns:
        occ["route_id"] = occ["gtfs_trip_id"].map(info["route_id"])
    occ["_in_feed"] = occ["gtfs_trip_id"].isin(info.index).to_numpy(dtype=bool)
    service = occ["gtfs_trip_id"].map(info["service_id"]) if "service_id" in info.columns else pd.Series(
        pd.NA, index=occ.index, dtype="string")
    occ["_in_calendar"] = _runs_on(cal, exc, service, dates)

    st = stop_times.assign(trip_id=L.as_text(stop_times["trip_id"]))
    for gtfs_col, col in (("pickup_type", "pickup"), ("drop_off_type", "dropoff")):
        st[col] = _boarding(st[gtfs_col]) if gtfs_col in st.columns else True
    st = st[["trip_id", "stop_sequence", "stop_id", "pickup", "dropoff"]].rename(columns={"trip_id": "gtfs_trip_id"})
    # One itinerary per audited id: a repeated (trip, date) row is a duplicate trip, not a doubled itinerary.
    ids = occ[["trip_id", "gtfs_trip_id"]].dropna(subset=["trip_id"]).drop_duplicates("trip_id")
    expanded = ids.merge(st, on="gtfs_trip_id", how="inner").drop(columns="gtfs_trip_id")
    trips_out = occ.drop(columns="gtfs_trip_id")
    stops_out.attrs["source"] = {**stops.attrs["source"], **({NOT_STOPS: not_stops} if not_stops else {})}
    # Without calendar.txt or calendar_dates.txt every trip is taken to run on its service_date: said, not assumed.
    trips_out.attrs["source"] = {**occ_source, **({NO_CALENDAR: True} if cal is None and exc is None else {})}
    expanded.attrs["source"] = stop_times.attrs["source"]
    return {"stops": stops_out, "trips": trips_out, "stop_times": expanded}


def _boarding(values: pd.Series) -> pd.Series:
    """``pickup_type``/``drop_off_type`` → may board/alight (bool); an unknown value stays as written (text), so
    that validation rejects its row rather than guess."""
    text = values.astype("string").str.strip().fillna("")
    flags = text.map(BOARDING)
    if flags.notna().all():
        return flags.astype(bool)
    return flags.astype(object).where(flags.notna(), values.name + " " + text)


def _runs_on(cal: pd.DataFrame | None, exc: pd.DataFrame | None, service_id: pd.Series,
             dates: pd.Series) -> pd.Series:
    """Whether each (service_id, date) runs per calendar.txt and calendar_dates.txt (True when neither exists)."""
    if cal is None and exc is None:
        return pd.Series(True, index=service_id.index)
    q = pd.DataFrame({"service_id": service_id.astype("string").str.strip(), "date": dates, "i": np.arange(len(dates))})
    runs = pd.Series(False, index=q.index)
    if cal is not None:
        cal = cal.assign(service_id=cal["service_id"].astype("string").str.strip(),
                         start=_gtfs_date(cal["start_date"]), end=_gtfs_date(cal["end_date"]))
        m = q[q["date"].notna()].merge(cal, on="service_id", how="inner")
        weekday = m["date"].dt.day_of_week.to_numpy(dtype="int64")
        flags = np.column_stack([m[d].astype("string").str.strip().eq("1").fillna(False).to_numpy(bool)
                                 for d in WEEKDAYS]) if len(m) else np.zeros((0, 7), dtype=bool)
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


def reject_outside_feed(trips: L.Layer) -> None:
    """Reject the validated occupancy rows the feed does not back (marked by :func:`read_gtfs`).

    A trip the feed does not have is ``unknown-trip`` (its calendar and stops are beside the point); a feed trip
    whose service does not run on the row's date is ``not-in-calendar``. A layer without the marks is left alone.
    """
    if "_in_feed" in trips.frame.columns:
        L.reject_rows(trips, ~trips.frame["_in_feed"].astype(bool).to_numpy(), "unknown-trip",
                      "the trip_id is not in the feed's trips.txt")
    if "_in_calendar" in trips.frame.columns:
        L.reject_rows(trips, ~trips.frame["_in_calendar"].astype(bool).to_numpy(), "not-in-calendar",
                      "the feed's calendar does not run this trip on its service_date")
