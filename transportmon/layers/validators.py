"""The ``validate_*`` functions: one per layer, from a frame as read to a :class:`Layer` and its rejected rows.

Each takes a frame as read (``io.read``), checks the columns (a missing required column is an
:class:`InputError`: the file cannot be audited at all) and the rows (a bad row is *rejected* with a machine reason:
it becomes a subject of the report, never a crash and never a silent drop). The returned valid frame keeps the input
row number in ``row`` so that every input row can be accounted for.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from .._errors import InputError
from ..bulletin_dates import published_and_effective
from ..dates import parse_dates
from ..designations import DesignationFormError, normalize_designations
from ..source_rows import source_rows
from .ahead import id_runs
from .cells import (
    arrow_text,
    as_text,
    cell_text,
    duplicated_ids,
    duplicated_stops,
    flags_fast,
    ints_fast,
    missing_text,
    nullable_ints,
    parse_bools,
    parse_ints,
    run_starts,
    service_types,
    stop_text,
    stripped_service_types,
    text_flags,
    text_ids,
    text_ids_runs,
)
from .geometry import geo, geometry_problems, in_lonlat, present, repair
from .memo import Ahead
from .reject import Rejector, same_as
from .schema import GEOMETRY_TYPES, REQUIRED, Layer, TripRuns, rename_aliases, require_columns

_COPY_ON_WRITE = int(pd.__version__.split(".")[0]) >= 3


def _prepare(frame: pd.DataFrame, layer: str, path: str | None, ahead: Ahead | None = None) -> pd.DataFrame:
    frame = rename_aliases(frame).reset_index(drop=True)
    if len(frame) == 0:  # an empty layer (a GeoJSON with no features has no columns): nothing is missing
        frame = frame.assign(**{c: pd.Series(dtype="string") for c in REQUIRED[layer] if c not in frame.columns})
    require_columns(frame, layer, path)
    if not _COPY_ON_WRITE:  # with copy-on-write the caller's frame cannot change through this one
        frame = frame.copy()
    rows = ahead.row_numbers(len(frame)) if ahead is not None else None
    frame["row"] = pd.Series(np.arange(len(frame), dtype="int64") if rows is None else rows, index=frame.index,
                             copy=False)
    return frame


def _check_geometry(rej: Rejector, frame: gpd.GeoDataFrame, layer: str, valid: pd.Series | None = None) -> None:
    for mask, reason, detail in geometry_problems(frame, layer, valid=valid):
        rej.reject(mask, reason, detail)


def _check_ids(rej: Rejector, unique: bool, ahead: Ahead | None = None) -> None:
    rej.reject(rej.ids.isna(), "missing-id", "the id is empty")
    if unique:
        rej.reject(duplicated_ids(rej.ids, ahead=ahead), "duplicate-id",
                   lambda m: same_as(rej.frame, m, rej.ids, what="id"))


def _finish(name: str, frame: pd.DataFrame, rej: Rejector, rows: int, path: str | None) -> Layer:
    ok = rej.usable
    # All usable: the frame itself (it is this validation's own copy), not a copy of millions of rows.
    good = frame if ok.all() else frame[ok].copy()
    drop = [c for c in ("_lon_raw", "_lat_raw") if c in good.columns]
    return Layer(name=name, frame=good.drop(columns=drop) if drop else good, rejected=rej.rejected(), rows=rows,
                 path=path)


def _optional_text(frame: pd.DataFrame, columns: tuple[str, ...], ahead: Ahead | None = None) -> None:
    """Optional text columns as stripped text, or all-NA when the file has none (in place)."""
    for col in columns:
        frame[col] = text_ids(frame[col], ahead=ahead) if col in frame.columns else missing_text(frame.index)


def validate_roads(frame: pd.DataFrame, path: str | None = None) -> Layer:
    """Roads: ``road_id`` and a (Multi)LineString. Several rows may share a ``road_id`` (one road, many segments)."""
    frame = geo(_prepare(frame, "roads", path), "roads", path)
    rej = Rejector("roads", frame, "road_id")
    _check_ids(rej, unique=False)
    _check_geometry(rej, frame, "roads")
    frame["road_id"] = rej.ids
    _optional_text(frame, ("ref", "highway", "name", "road_class", "route"))
    return _finish("roads", frame, rej, len(frame), path)


def validate_checkpoints(frame: pd.DataFrame, path: str | None = None) -> Layer:
    """Checkpoints: unique ``checkpoint_id``, a Point, optional dates and boolean measures."""
    frame = geo(_prepare(frame, "checkpoints", path), "checkpoints", path)
    rej = Rejector("checkpoints", frame, "checkpoint_id")
    _check_ids(rej, unique=True)
    _check_geometry(rej, frame, "checkpoints")
    frame["checkpoint_id"] = rej.ids
    for col in ("opened", "closed"):
        if col in frame.columns:
            dates, bad = parse_dates(frame[col])
            rej.reject(bad, "malformed-date", f"{col}=" + frame[col].astype("string").fillna(""))
            frame[col] = dates
        else:
            frame[col] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[s]")
    reversed_ = frame["opened"].notna() & frame["closed"].notna() & (frame["closed"] <= frame["opened"])
    rej.reject(reversed_, "closed-before-opened", "closed is not after opened")
    for col in ("turn_back", "blocks_freight"):
        if col in frame.columns:
            flags, bad = parse_bools(frame[col])
            rej.reject(bad, "malformed-value", f"{col}=" + frame[col].astype("string").fillna("") + " is not true/false")
            frame[col] = flags
        else:
            frame[col] = False
    _optional_text(frame, ("name",))
    return _finish("checkpoints", frame, rej, len(frame), path)


LEVEL_WORDS = {"province": "province", "省": "province", "省级": "province", "city": "city", "市": "city",
               "市级": "city", "地级": "city", "地级市": "city", "prefecture": "city", "county": "county",
               "区县": "county", "县区": "county", "县": "county", "区": "county", "县级": "county",
               "区县级": "county", "district": "county"}


def validate_boundaries(frame: pd.DataFrame, path: str | None = None) -> Layer:
    """Boundaries: ``adcode``, ``name``, ``level`` (province/city/county) and a (Multi)Polygon."""
    frame = geo(_prepare(frame, "boundaries", path), "boundaries", path)
    rej = Rejector("boundaries", frame, "adcode")
    _check_ids(rej, unique=True)
    rej.reject(rej.ids.notna() & ~rej.ids.fillna("").str.fullmatch(r"\d{6}"), "malformed-adcode",
               "adcode=" + rej.ids.fillna("") + " is not 6 digits")
    level = as_text(frame["level"]).str.lower().map(LEVEL_WORDS)
    rej.reject(level.isna(), "unknown-level", "level=" + frame["level"].astype("string").fillna("")
               + "; allowed province/city/county")
    # Admin polygons from real sources are often slightly invalid (self-touching rings): repair, don't reject.
    # method="structure" with keep_collapsed=False keeps the result polygonal.
    geoms = frame.geometry
    valid = geoms.is_valid
    fixable = (present(geoms) & ~valid).to_numpy()
    if fixable.any():
        frame = frame.set_geometry(gpd.GeoSeries(repair(geoms.to_numpy(), fixable), index=frame.index, crs=frame.crs))
        rej.frame = frame
    _check_geometry(rej, frame, "boundaries", valid=None if fixable.any() else valid)  # the same geometries
    frame["adcode"] = rej.ids
    frame["level"] = level
    frame["name"] = as_text(frame["name"])
    return _finish("boundaries", frame, rej, len(frame), path)


def validate_stops(frame: pd.DataFrame, path: str | None = None) -> Layer:
    """Stops: unique ``stop_id`` and a Point."""
    frame = geo(_prepare(frame, "stops", path), "stops", path)
    rej = Rejector("stops", frame, "stop_id")
    _check_ids(rej, unique=True)
    _check_geometry(rej, frame, "stops")
    frame["stop_id"] = rej.ids
    _optional_text(frame, ("name",))
    return _finish("stops", frame, rej, len(frame), path)


def validate_trips(frame: pd.DataFrame, path: str | None = None, *, passengers_optional: bool = False,
                   ahead: Ahead | None = None) -> Layer:
    """Trips: unique ``trip_id``, ``service_date``, ``service_type``, ``seats`` > 0, 0 ≤ ``passengers`` ≤ seats.

    ``passengers_optional`` (``transportmon limits``: tickets of future trips are still on sale) accepts an empty
    ``passengers`` value, or no such column, as NA. ``ahead``: checks of the id columns computed on another thread
    from the Arrow data the frame was made of (:mod:`transportmon.layers.ahead`); the result is the same without.
    """
    if passengers_optional:  # issue 15 hook
        frame = rename_aliases(frame)
        if "passengers" not in frame.columns:
            frame = frame.assign(passengers=pd.Series(pd.NA, index=frame.index, dtype="Int64"))
    frame = _prepare(frame, "trips", path, ahead)
    rej = Rejector("trips", frame, "trip_id", ids=text_ids(frame["trip_id"], ahead=ahead))
    _check_ids(rej, unique=True, ahead=ahead)
    frame["trip_id"] = rej.ids
    raw_date = frame["service_date"]
    dates, bad = parse_dates(raw_date)
    rej.reject(bad.to_numpy(bool) | dates.isna().to_numpy(bool), "malformed-date",
               lambda m: "service_date=" + cell_text(raw_date, m))
    frame["service_date"] = dates
    raw_type = frame["service_type"]
    if arrow_text(raw_type) is not None or isinstance(raw_type.dtype, pd.CategoricalDtype):
        # stripped per distinct value (a categorical's, as read from a Parquet dictionary: its categories): no
        # stripped copy of every row
        norm = stripped_service_types(raw_type)
    else:
        norm = service_types(raw_type.astype("string").str.strip())
    rej.reject(norm.isna(), "malformed-value", lambda m: "service_type=" + raw_type[m].astype("string").str.strip()
               .fillna("") + "; allowed scheduled/charter/other (班车/包车/其他)")
    frame["service_type"] = norm
    raw_seats, raw_pax = frame["seats"], frame["passengers"]
    seats, bad_s = ints_fast(raw_seats, _wide(ahead, "seats")) or parse_ints(raw_seats)
    pax, bad_p = ints_fast(raw_pax, _wide(ahead, "passengers")) or parse_ints(raw_pax)
    if passengers_optional:  # an empty value is NA, not malformed
        bad_p = np.asarray(bad_p, dtype=bool) & ~_blank(raw_pax)
    rej.reject(bad_s, "malformed-value", lambda m: "seats=" + cell_text(raw_seats, m) + " is not a whole number")
    rej.reject(bad_p, "malformed-value", lambda m: "passengers=" + cell_text(raw_pax, m) + " is not a whole number")
    s_val, s_na = nullable_ints(seats)
    p_val, p_na = nullable_ints(pax)
    rej.reject(~s_na & (s_val <= 0), "non-positive-seats", lambda m: "seats=" + cell_text(seats, m))
    rej.reject(~p_na & (p_val < 0), "negative-passengers", lambda m: "passengers=" + cell_text(pax, m))
    rej.reject(~s_na & ~p_na & (p_val > s_val), "passengers-exceed-seats",
               lambda m: "passengers=" + cell_text(pax, m) + " > seats=" + cell_text(seats, m))
    frame["seats"] = seats
    frame["passengers"] = pax
    _optional_text(frame, ("route_id", "scope"), ahead)
    # A rejected trip keeps its service date (issue 14: it counts on its day in the timeline and the report) and its
    # route (issue 15: it ran on the route): layers.schema.KEPT_WHEN_REJECTED.
    return _finish("trips", frame, rej, len(frame), path)


def _wide(ahead: Ahead | None, name: str) -> np.ndarray | None:
    return ahead.take_wide(name) if ahead is not None else None


def _blank(values: pd.Series) -> np.ndarray:
    """Cells that are empty (NA, or only white space)."""
    text = values.astype("string").str.strip()
    return (text.isna() | (text == "")).to_numpy(dtype=bool)


def validate_stop_times(frame: pd.DataFrame, path: str | None = None, *, ahead: Ahead | None = None) -> Layer:
    """Stop times: ``trip_id``, whole ``stop_sequence``, ``stop_id``, ``pickup``/``dropoff`` 0/1 (default 1).

    References to unknown stops or trips are checked later, against the validated stops and trips. For a
    ``stop_id`` read as a dictionary, ``codes.stop_code`` (per usable row) and ``codes.stop_dict`` (the
    dictionary as text) let those checks work on the few distinct stops; ``codes.trip_runs`` (when every row is
    usable) holds the runs of equal trip ids. ``defaulted_columns`` names ``pickup``/``dropoff`` when the file has
    no such column. ``ahead``: as :func:`validate_trips` (the runs of trip ids).
    """
    frame = _prepare(frame, "stop_times", path, ahead)
    raw_trip = frame["trip_id"]
    arr = arrow_text(raw_trip)
    runs = ahead.find(id_runs, arr) if ahead is not None and arr is not None else None
    starts = runs.starts if runs is not None else run_starts(arr) if arr is not None else None
    heads = np.flatnonzero(starts) if starts is not None else None
    ids, head_ids = text_ids_runs(raw_trip, starts, heads, clean=runs.clean if runs is not None else None)
    rej = Rejector("stop_times", frame, None, ids=ids)
    frame["trip_id"] = rej.ids
    stop_ids, stop_code, stop_dict = stop_text(frame["stop_id"])
    frame["stop_id"] = stop_ids
    rej.reject(rej.ids.isna(), "missing-id", "trip_id is empty")
    rej.reject(frame["stop_id"].isna(), "missing-id", "stop_id is empty")
    raw_seq = frame["stop_sequence"]
    seq, bad = ints_fast(raw_seq, _wide(ahead, "stop_sequence")) or parse_ints(raw_seq)
    rej.reject(bad, "malformed-value", lambda m: "stop_sequence=" + cell_text(raw_seq, m))
    frame["stop_sequence"] = seq
    # Whether the sequence rises in each run, computed ahead for the very values and runs validated here.
    rises = runs.rises if runs is not None and runs.rising is not None and np.shares_memory(
        runs.rising, seq.to_numpy(dtype=np.int64, na_value=0)) else None
    dup = duplicated_stops(rej.ids, seq, starts, head_ids, heads, rising=rises)
    rej.reject(dup, "duplicate-id", lambda m: same_as(frame, m, rej.ids, seq, what="trip_id and stop_sequence"))
    defaulted = tuple(col for col in ("pickup", "dropoff") if col not in frame.columns)
    for col in ("pickup", "dropoff"):
        if col in frame.columns:
            raw = frame[col]
            flags = flags_fast(raw)
            if flags is None:
                # As text (distinct numbers may print apart: 0.0, -0.0), stripped and parsed per distinct value.
                flags, badb = text_flags(raw.astype("string"))
                if badb.any():
                    rej.reject(badb, "malformed-value", lambda m, r=raw, c=col: f"{c}="
                               + r[m].astype("string").str.strip().fillna("") + "; allowed 0/1")
                flags = flags.to_numpy(dtype=bool)
            frame[col] = pd.Series(flags, index=frame.index, copy=False)
        else:
            frame[col] = True
        frame[col] = frame[col].astype(bool)
    layer = _finish("stop_times", frame, rej, len(frame), path)
    layer.defaulted_columns = defaulted  # an assumption the audit must say: every stop a boarding and alighting stop
    ok = rej.usable
    if stop_code is not None:
        layer.codes.stop_code = stop_code if ok.all() else stop_code[ok]
        layer.codes.stop_dict = stop_dict
    if starts is not None and head_ids is not None and ok.all():  # the runs of trip ids, for the reference checks
        layer.codes.trip_runs = TripRuns(starts, heads, head_ids, run=runs.run if runs is not None else None)
    return layer


def validate_risk_areas(frame: pd.DataFrame, path: str | None = None) -> Layer:
    """Risk designations in interval or snapshot form (see :mod:`transportmon.designations`).

    The usable designations are kept as intervals in ``intervals``; ``frame`` keeps the usable input rows.
    """
    source = frame.attrs.setdefault("source", {})  # the reader's notes, which the report's metadata takes
    frame = rename_aliases(frame).reset_index(drop=True)
    frame, note = published_and_effective(frame)  # i16: 发布日期 and 生效日期 together
    if note:
        source.setdefault("notes", []).append(note)
    require_columns(frame, "risk_areas", path)
    frame = frame.copy()
    frame["row"] = np.arange(len(frame), dtype="int64")
    geom_reason = pd.Series("", index=frame.index, dtype="string")
    geom_detail = pd.Series("", index=frame.index, dtype="string")
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame.columns:
        geoms = frame.geometry
        bad_geom = (present(geoms) & ~geoms.is_valid).to_numpy()
        if bad_geom.any():  # repair rather than reject: designation polygons are hand-drawn
            frame = frame.set_geometry(gpd.GeoSeries(repair(geoms.to_numpy(), bad_geom), index=frame.index,
                                                     crs=frame.crs))
        # A geometry that cannot be an area is dropped; the row then stands on its adcode, or is rejected for it.
        geoms = frame.geometry
        has = present(geoms)
        types = geoms.geom_type.where(has)
        b = geoms.bounds
        in_range = in_lonlat(b)  # non-finite bounds are outside
        wrong = has & ~types.isin(GEOMETRY_TYPES["risk_areas"])
        outside = has & ~wrong & ~in_range
        still_invalid = has & ~wrong & ~outside & ~geoms.is_valid
        geom_reason = geom_reason.mask(wrong, "wrong-geometry-type").mask(outside, "coordinates-out-of-range").mask(
            still_invalid, "invalid-geometry")
        geom_detail = geom_detail.mask(wrong, "got " + types.astype("string").fillna("") + ", allowed Polygon/"
                                       "MultiPolygon").mask(outside, "coordinates are not WGS-84 lon/lat").mask(
            still_invalid, "the polygon cannot be repaired")
        drop = (geom_reason != "").to_numpy()
        if drop.any():
            kept = geoms.to_numpy().copy()
            kept[drop] = None
            frame = frame.set_geometry(gpd.GeoSeries(kept, index=frame.index, crs=frame.crs))
    # The designations read dates with the same parser; written here as ISO so that the rejected rows' details
    # show every legible date alike (20200316, 2020年3月16日 8时 → 2020-03-16), an illegible cell as written.
    for col in ("as_of", "valid_from", "valid_to"):
        if col in frame.columns and not pd.api.types.is_datetime64_any_dtype(frame[col]):
            dates, _ = parse_dates(frame[col])
            iso = dates.dt.strftime("%Y-%m-%d").astype("string")
            frame[col] = iso.where(dates.notna(), frame[col].astype("string"))
    try:
        intervals, rejected = normalize_designations(frame.drop(columns="row"))
    except DesignationFormError as exc:
        raise InputError(path or "<risk_areas>", str(exc), "") from exc
    rows = rejected["row"].to_numpy(dtype="int64")
    reason = rejected["reason"].astype(str).to_numpy(dtype=object)
    detail = risk_detail(frame, rows, rejected["detail"].astype(str).to_numpy(dtype=object))
    # A row rejected for want of an adcode whose geometry was dropped: say what was wrong with the geometry.
    by_geom = (reason == "missing-adcode") & (geom_reason.to_numpy(dtype=object)[rows] != "")
    reason[by_geom] = geom_reason.to_numpy(dtype=object)[rows][by_geom]
    detail[by_geom] = geom_detail.to_numpy(dtype=object)[rows][by_geom]
    shown = source_rows(frame)[rows]
    ids = rejected["subject_id"].astype(str).to_numpy(dtype=object)
    unnamed = ids == np.char.add("row ", rows.astype(str)).astype(object)  # no adcode: the row's number is its id
    ids[unnamed] = np.char.add("row ", shown[unnamed].astype(str)).astype(object)
    rej = pd.DataFrame({
        "subject": "risk_areas", "subject_id": ids.astype(str),
        "reason": reason.astype(str), "detail": detail, "row": rows, "source_row": shown,
    })
    good = frame[~frame["row"].isin(rejected["row"])]
    return Layer(name="risk_areas", frame=good, rejected=rej, rows=len(frame), path=path,
                 intervals=intervals)


def risk_detail(frame: pd.DataFrame, rows: np.ndarray, what: np.ndarray | None = None) -> np.ndarray:
    """Detail of rejected ``risk_areas`` rows (positions ``rows`` of ``frame``, whose ``row`` is the position):
    ``what`` was wrong when given and not empty, then the row's dates, level and unit name."""
    cols = [c for c in ("as_of", "valid_from", "valid_to", "level", "unit") if c in frame.columns]
    sub = frame.iloc[rows][cols].astype("string").fillna("")
    text = pd.Series("", index=sub.index, dtype="string")
    for c in cols:
        text = text + c + "=" + sub[c] + " "
    out = text.str.strip().to_numpy(dtype=object)
    if what is not None:
        said = np.asarray(what, dtype=object) != ""
        w, o = pd.Series(what[said], dtype="string"), pd.Series(out[said], dtype="string")
        out[said] = (w + ("; " + o).where(o != "", "")).to_numpy(dtype=object)
    return out
