"""Validated layers, and the rows that could not be used with the reason why.

Each ``validate_*`` function takes a frame as read (``io.read``), checks the columns (a missing required column is an
:class:`InputError`: the file cannot be audited at all) and the rows (a bad row is *rejected* with a machine reason:
it becomes a subject of the report, never a crash and never a silent drop). The returned valid frame keeps the input
row number in ``row`` so that every input row can be accounted for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._errors import InputError

#: Chinese and common alternative column names accepted for each contract column (lower-cased match).
ALIASES: dict[str, str] = {
    # checkpoints
    "检测点编号": "checkpoint_id", "卡点编号": "checkpoint_id", "id": "id",
    "名称": "name", "检测点名称": "name", "卡点名称": "name",
    "设立日期": "opened", "启用日期": "opened", "撤销日期": "closed", "撤除日期": "closed",
    "是否劝返": "turn_back", "劝返": "turn_back", "是否限制货车": "blocks_freight", "拦截货车": "blocks_freight",
    # roads
    "道路编号": "road_id", "路线编号": "ref", "公路等级": "road_class", "道路等级": "road_class", "道路名称": "name",
    # boundaries / risk areas
    "行政区划代码": "adcode", "区划代码": "adcode", "级别": "level", "风险等级": "level",
    "生效日期": "valid_from", "失效日期": "valid_to", "发布日期": "as_of",
    # stops, trips, stop_times
    "站点编号": "stop_id", "站点名称": "name", "班次编号": "trip_id", "班次日期": "service_date",
    "线路类型": "service_type", "核定座位": "seats", "核定座位数": "seats", "实载人数": "passengers",
    "乘客数": "passengers", "线路编号": "route_id", "站序": "stop_sequence", "上客": "pickup", "下客": "dropoff",
    # Shapefile (.dbf) field names are cut to 10 characters
    "checkpoint": "checkpoint_id", "blocks_fre": "blocks_freight", "service_da": "service_date",
    "service_ty": "service_type", "stop_seque": "stop_sequence",
}

#: Required columns per layer (DESIGN §2).
REQUIRED: dict[str, tuple[str, ...]] = {
    "roads": ("road_id",),
    "checkpoints": ("checkpoint_id",),
    "boundaries": ("adcode", "name", "level"),
    "risk_areas": ("level",),
    "stops": ("stop_id",),
    "trips": ("trip_id", "service_date", "service_type", "seats", "passengers"),
    "stop_times": ("trip_id", "stop_sequence", "stop_id"),
}

#: The subject word a rejected row of each layer gets in the report (checkpoints and trips are subjects themselves).
SUBJECT = {"checkpoints": "checkpoint", "trips": "trip"}

GEOMETRY_TYPES: dict[str, tuple[str, ...]] = {
    "roads": ("LineString", "MultiLineString"),
    "checkpoints": ("Point",),
    "stops": ("Point",),
    "boundaries": ("Polygon", "MultiPolygon"),
    "risk_areas": ("Polygon", "MultiPolygon"),
}

TRUE_WORDS = {"true", "t", "yes", "y", "1", "是", "有", "√", "1.0"}
FALSE_WORDS = {"false", "f", "no", "n", "0", "否", "无", "", "0.0", "nan", "none"}

REJECTED_COLUMNS = ["subject", "subject_id", "reason", "detail", "row"]


@dataclass
class Layer:
    """One input layer after validation."""

    name: str
    frame: pd.DataFrame
    """The usable rows, with ``row`` = the 0-based input row number."""
    rejected: pd.DataFrame
    """Rows that cannot be audited: ``subject``, ``subject_id``, ``reason``, ``detail``, ``row`` (+ geometry)."""
    rows: int
    """Rows in the input."""
    path: str | None = None
    sha256: str | None = None
    extra: dict[str, object] = field(default_factory=dict)


def rename_aliases(frame: pd.DataFrame) -> pd.DataFrame:
    """Rename Chinese / alternative headers to contract names; a contract column already present wins."""
    mapping: dict[object, str] = {}
    taken = {str(c).strip() for c in frame.columns}
    for col in frame.columns:
        key = str(col).strip()
        target = ALIASES.get(key) or ALIASES.get(key.lower())
        if target is None and key.lower() in CONTRACT_COLUMNS:
            target = key.lower()
        if target and target != key and target not in taken:
            mapping[col] = target
            taken.add(target)
    return frame.rename(columns=mapping)


CONTRACT_COLUMNS = {c for cols in REQUIRED.values() for c in cols} | {
    "ref", "highway", "name", "road_class", "opened", "closed", "turn_back", "blocks_freight", "valid_from",
    "valid_to", "as_of", "adcodes", "route_id", "pickup", "dropoff", "scope", "source",
}


def require_columns(frame: pd.DataFrame, layer: str, path: str | None) -> None:
    """Raise :class:`InputError` naming the file, the missing column and what is allowed."""
    missing = [c for c in REQUIRED[layer] if c not in frame.columns]
    if missing:
        found = ", ".join(map(str, frame.columns)) or "none"
        raise InputError(
            path or f"<{layer}>",
            f"the {layer} layer has no column {', '.join(repr(m) for m in missing)}",
            f"required: {', '.join(REQUIRED[layer])}; found: {found}",
        )


def as_text(values: pd.Series) -> pd.Series:
    """Ids and codes as stripped text; numbers read from a GIS file lose a trailing ``.0``."""
    out = values.astype("string").str.strip()
    out = out.str.replace(r"^(-?\d+)\.0$", r"\1", regex=True)
    return out.mask(out == "")


_DATE_SEP = re.compile(r"[年月/.]")


def parse_dates(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse dates in the forms Chinese offices write them; returns (dates, malformed-mask).

    Accepted: ``2020-03-16``, ``2020/3/16``, ``2020.03.16``, ``2020年3月16日``, and datetime values. Empty is NaT and
    not malformed (the caller decides whether the column may be empty).
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        dates = pd.to_datetime(values).dt.tz_localize(None) if getattr(values.dt, "tz", None) else values
        return dates.dt.normalize().astype("datetime64[s]"), pd.Series(False, index=values.index)
    text = values.astype("string").str.strip()
    text = text.str.replace("日", "", regex=False).str.replace(_DATE_SEP, "-", regex=True)
    text = text.str.replace(r"[ T]00:00(:00)?$", "", regex=True)
    empty = text.isna() | (text == "")
    dates = pd.to_datetime(text.where(~empty), format="%Y-%m-%d", errors="coerce")
    bad = ~empty & dates.isna()
    return dates.astype("datetime64[s]"), bad


def parse_bools(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse booleans written as true/false, 1/0, yes/no, 是/否; empty is False. Returns (bools, malformed-mask)."""
    text = values.astype("string").str.strip().str.lower().fillna("")
    is_true = text.isin(TRUE_WORDS)
    is_false = text.isin(FALSE_WORDS)
    return is_true.astype(bool), (~is_true & ~is_false).astype(bool)


def parse_ints(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse whole numbers; returns (Int64 values, malformed-mask). ``45.0`` is 45; ``45.5`` and ``abc`` are malformed."""
    num = pd.to_numeric(values.astype("string").str.strip(), errors="coerce")
    whole = num.notna() & np.isfinite(num.astype(float)) & (num == np.floor(num)) & (num.abs() < 2**53)
    out = num.where(whole).astype("Int64")
    return out, ~whole.astype(bool)


class _Rejector:
    """Collects rejected rows of a layer, first reason wins (a row is rejected once)."""

    def __init__(self, layer: str, frame: pd.DataFrame, id_col: str | None) -> None:
        self.layer = layer
        self.frame = frame
        self.ids = as_text(frame[id_col]) if id_col and id_col in frame.columns else pd.Series(
            pd.NA, index=frame.index, dtype="string")
        self.reason = pd.Series(pd.NA, index=frame.index, dtype="string")
        self.detail = pd.Series(pd.NA, index=frame.index, dtype="string")

    def reject(self, mask: pd.Series | np.ndarray, reason: str, detail: pd.Series | str = "") -> None:
        mask = pd.Series(np.asarray(mask, dtype=bool), index=self.frame.index) & self.reason.isna()
        if not mask.any():  # also spares an empty layer's details, which may not be Series-shaped
            return
        self.reason[mask] = reason
        if isinstance(detail, pd.Series):
            self.detail[mask] = detail[mask].astype("string")
        else:
            self.detail[mask] = detail

    @property
    def ok(self) -> pd.Series:
        return self.reason.isna()

    def rejected(self) -> pd.DataFrame:
        bad = ~self.ok
        ids = self.ids[bad].fillna("row " + (self.frame.loc[bad, "row"] + 1).astype("string"))
        out = pd.DataFrame({
            "subject": SUBJECT.get(self.layer, self.layer),
            "subject_id": ids.astype(str),
            "reason": self.reason[bad].astype(str),
            "detail": self.detail[bad].fillna("").astype(str),
            "row": self.frame.loc[bad, "row"].astype("int64"),
        }, index=self.frame.index[bad])
        if isinstance(self.frame, gpd.GeoDataFrame):
            geoms = self.frame.geometry[bad]
            # Only a usable geometry goes to the report; an invalid one, or one outside lon/lat (projected
            # coordinates, swapped lon/lat), would make the GeoJSON invalid.
            b = geoms.bounds
            in_range = (b.minx >= -180) & (b.maxx <= 180) & (b.miny >= -90) & (b.maxy <= 90)
            keep = geoms.notna() & ~geoms.is_empty & geoms.is_valid & in_range
            return gpd.GeoDataFrame(out, geometry=geoms.where(keep, None), crs="EPSG:4326")
        return out


def empty_rejected() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="int64" if c == "row" else "object") for c in REJECTED_COLUMNS})


def _prepare(frame: pd.DataFrame, layer: str, path: str | None) -> pd.DataFrame:
    frame = rename_aliases(frame).reset_index(drop=True)
    if len(frame) == 0:  # an empty layer (a GeoJSON with no features has no columns): nothing is missing
        frame = frame.assign(**{c: pd.Series(dtype="string") for c in REQUIRED[layer] if c not in frame.columns})
    require_columns(frame, layer, path)
    frame = frame.copy()
    frame["row"] = np.arange(len(frame), dtype="int64")
    return frame


def _check_ids(rej: _Rejector, unique: bool) -> None:
    rej.reject(rej.ids.isna(), "missing-id", "the id is empty")
    if unique:
        dup = rej.ids.notna() & rej.ids.duplicated(keep="first")
        rej.reject(dup, "duplicate-id", "an earlier row has the same id")


def _check_geometry(rej: _Rejector, frame: gpd.GeoDataFrame, layer: str, *, required: bool = True) -> None:
    geoms = frame.geometry
    missing = geoms.isna() | geoms.is_empty
    if required:
        detail: pd.Series | str = "no geometry"
        if "_lon_raw" in frame.columns:
            detail = ("lon=" + frame["_lon_raw"].astype("string").fillna("") + " lat="
                      + frame["_lat_raw"].astype("string").fillna(""))
        rej.reject(missing, "missing-geometry", detail)
    present = ~missing
    types = geoms.geom_type.where(present)
    wrong = present & ~types.isin(GEOMETRY_TYPES[layer])
    rej.reject(wrong, "wrong-geometry-type", "got " + types.astype("string").fillna("")
               + ", allowed " + "/".join(GEOMETRY_TYPES[layer]))
    b = geoms.bounds
    out = present & ~((b.minx >= -180) & (b.maxx <= 180) & (b.miny >= -90) & (b.maxy <= 90))
    bt = b.round(3).astype("string").fillna("")  # column-wise: rows without geometry have NaN bounds
    rej.reject(out, "coordinates-out-of-range",
               "bounds " + bt.minx + "," + bt.miny + "," + bt.maxx + "," + bt.maxy + " are not WGS-84 lon/lat")
    coords_nan = present & ~np.isfinite(b.to_numpy()).all(axis=1)
    rej.reject(coords_nan, "invalid-geometry", "non-finite coordinates")
    invalid = present & ~geoms.is_valid
    rej.reject(invalid, "invalid-geometry", geoms.where(invalid).pipe(
        lambda s: pd.Series(shapely.is_valid_reason(s.to_numpy()), index=s.index)))


def _finish(name: str, frame: pd.DataFrame, rej: _Rejector, rows: int, path: str | None) -> Layer:
    good = frame[rej.ok.to_numpy()].copy()
    drop = [c for c in ("_lon_raw", "_lat_raw") if c in good.columns]
    return Layer(name=name, frame=good.drop(columns=drop), rejected=rej.rejected(), rows=rows, path=path)


def _geo(frame: pd.DataFrame, layer: str, path: str | None) -> gpd.GeoDataFrame:
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame.columns:
        raise InputError(path or f"<{layer}>", f"the {layer} layer has no geometry",
                         "give a spatial file (GeoJSON, GeoPackage, …) or a CSV with lon and lat columns")
    return frame


def validate_roads(frame: pd.DataFrame, path: str | None = None) -> Layer:
    """Roads: ``road_id`` and a (Multi)LineString. Several rows may share a ``road_id`` (one road, many segments)."""
    frame = _geo(_prepare(frame, "roads", path), "roads", path)
    rej = _Rejector("roads", frame, "road_id")
    _check_ids(rej, unique=False)
    _check_geometry(rej, frame, "roads")
    frame["road_id"] = rej.ids
    for col in ("ref", "highway", "name", "road_class", "route"):
        frame[col] = as_text(frame[col]) if col in frame.columns else pd.Series(pd.NA, index=frame.index, dtype="string")
    return _finish("roads", frame, rej, len(frame), path)


def validate_checkpoints(frame: pd.DataFrame, path: str | None = None) -> Layer:
    """Checkpoints: unique ``checkpoint_id``, a Point, optional dates and boolean measures."""
    frame = _geo(_prepare(frame, "checkpoints", path), "checkpoints", path)
    rej = _Rejector("checkpoints", frame, "checkpoint_id")
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
    frame["name"] = as_text(frame["name"]) if "name" in frame.columns else pd.Series(pd.NA, index=frame.index, dtype="string")
    return _finish("checkpoints", frame, rej, len(frame), path)


LEVEL_WORDS = {"province": "province", "省": "province", "city": "city", "市": "city", "county": "county",
               "区县": "county", "县": "county", "区": "county", "district": "county"}


def validate_boundaries(frame: pd.DataFrame, path: str | None = None) -> Layer:
    """Boundaries: ``adcode``, ``name``, ``level`` (province/city/county) and a (Multi)Polygon."""
    frame = _geo(_prepare(frame, "boundaries", path), "boundaries", path)
    rej = _Rejector("boundaries", frame, "adcode")
    _check_ids(rej, unique=True)
    rej.reject(rej.ids.notna() & ~rej.ids.fillna("").str.fullmatch(r"\d{6}"), "malformed-adcode",
               "adcode=" + rej.ids.fillna("") + " is not 6 digits")
    level = as_text(frame["level"]).str.lower().map(LEVEL_WORDS)
    rej.reject(level.isna(), "unknown-level", "level=" + frame["level"].astype("string").fillna("")
               + "; allowed province/city/county")
    # Admin polygons from real sources are often slightly invalid (self-touching rings): repair, don't reject.
    # method="structure" with keep_collapsed=False keeps the result polygonal.
    geoms = frame.geometry
    fixable = (geoms.notna() & ~geoms.is_empty & ~geoms.is_valid).to_numpy()
    if fixable.any():
        fixed = geoms.to_numpy().copy()
        fixed[fixable] = shapely.make_valid(fixed[fixable], method="structure", keep_collapsed=False)
        frame = frame.set_geometry(gpd.GeoSeries(fixed, index=frame.index, crs=frame.crs))
        rej.frame = frame
    _check_geometry(rej, frame, "boundaries")
    frame["adcode"] = rej.ids
    frame["level"] = level
    frame["name"] = as_text(frame["name"])
    return _finish("boundaries", frame, rej, len(frame), path)


def validate_stops(frame: pd.DataFrame, path: str | None = None) -> Layer:
    """Stops: unique ``stop_id`` and a Point."""
    frame = _geo(_prepare(frame, "stops", path), "stops", path)
    rej = _Rejector("stops", frame, "stop_id")
    _check_ids(rej, unique=True)
    _check_geometry(rej, frame, "stops")
    frame["stop_id"] = rej.ids
    frame["name"] = as_text(frame["name"]) if "name" in frame.columns else pd.Series(pd.NA, index=frame.index, dtype="string")
    return _finish("stops", frame, rej, len(frame), path)


def concat_rejected(parts: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """All rejected rows of all layers in one frame (geometry where a layer had one)."""
    frames = [p for p in parts if len(p)]
    if not frames:
        return empty_rejected()
    return pd.concat(frames, ignore_index=True)


SERVICE_TYPES: dict[str, str] = {
    "scheduled": "scheduled", "班车": "scheduled", "定线": "scheduled", "班线": "scheduled", "regular": "scheduled",
    "charter": "charter", "包车": "charter", "chartered": "charter",
    "other": "other", "其他": "other", "公交": "other", "bus": "other",
}


def validate_trips(frame: pd.DataFrame, path: str | None = None) -> Layer:
    """Trips: unique ``trip_id``, ``service_date``, ``service_type``, ``seats`` > 0, 0 ≤ ``passengers`` ≤ seats."""
    frame = _prepare(frame, "trips", path)
    rej = _Rejector("trips", frame, "trip_id")
    _check_ids(rej, unique=True)
    frame["trip_id"] = rej.ids
    dates, bad = parse_dates(frame["service_date"])
    rej.reject(bad | dates.isna(), "malformed-date", "service_date=" + frame["service_date"].astype("string").fillna(""))
    frame["service_date"] = dates
    stype = frame["service_type"].astype("string").str.strip()
    norm = stype.str.lower().map(SERVICE_TYPES).fillna(stype.map(SERVICE_TYPES))
    rej.reject(norm.isna(), "malformed-value", "service_type=" + stype.fillna("")
               + "; allowed scheduled/charter/other (班车/包车/其他)")
    frame["service_type"] = norm
    seats, bad_s = parse_ints(frame["seats"])
    pax, bad_p = parse_ints(frame["passengers"])
    rej.reject(bad_s, "malformed-value", "seats=" + frame["seats"].astype("string").fillna("") + " is not a whole number")
    rej.reject(bad_p, "malformed-value", "passengers=" + frame["passengers"].astype("string").fillna("")
               + " is not a whole number")
    rej.reject(seats.le(0).fillna(False).astype(bool), "non-positive-seats", "seats=" + seats.astype("string").fillna(""))
    rej.reject(pax.lt(0).fillna(False).astype(bool), "negative-passengers", "passengers=" + pax.astype("string").fillna(""))
    rej.reject((pax > seats).fillna(False).astype(bool), "passengers-exceed-seats",
               "passengers=" + pax.astype("string").fillna("") + " > seats=" + seats.astype("string").fillna(""))
    frame["seats"] = seats
    frame["passengers"] = pax
    for col in ("route_id", "scope"):
        frame[col] = as_text(frame[col]) if col in frame.columns else pd.Series(pd.NA, index=frame.index, dtype="string")
    return _finish("trips", frame, rej, len(frame), path)


def validate_stop_times(frame: pd.DataFrame, path: str | None = None) -> Layer:
    """Stop times: ``trip_id``, whole ``stop_sequence``, ``stop_id``, ``pickup``/``dropoff`` 0/1 (default 1).

    References to unknown stops or trips are checked later, against the validated stops and trips.
    """
    frame = _prepare(frame, "stop_times", path)
    rej = _Rejector("stop_times", frame, "trip_id")
    frame["trip_id"] = rej.ids
    frame["stop_id"] = as_text(frame["stop_id"])
    rej.reject(rej.ids.isna(), "missing-id", "trip_id is empty")
    rej.reject(frame["stop_id"].isna(), "missing-id", "stop_id is empty")
    seq, bad = parse_ints(frame["stop_sequence"])
    rej.reject(bad, "malformed-value", "stop_sequence=" + frame["stop_sequence"].astype("string").fillna(""))
    frame["stop_sequence"] = seq
    dup = rej.ok & frame[["trip_id", "stop_sequence"]].duplicated(keep="first")
    rej.reject(dup, "duplicate-id", "trip_id and stop_sequence repeat an earlier row")
    for col in ("pickup", "dropoff"):
        if col in frame.columns:
            text = frame[col].astype("string").str.strip()
            flags, badb = parse_bools(text)
            rej.reject(badb, "malformed-value", f"{col}=" + text.fillna("") + "; allowed 0/1")
            frame[col] = flags.where(text.notna() & (text != ""), True)
        else:
            frame[col] = True
        frame[col] = frame[col].astype(bool)
    return _finish("stop_times", frame, rej, len(frame), path)


def reject_rows(layer: Layer, mask: pd.Series | np.ndarray, reason: str, detail: pd.Series | str = "") -> None:
    """Move rows of ``layer.frame`` where ``mask`` holds into ``layer.rejected`` (cross-layer checks)."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return
    bad = layer.frame[mask]
    id_col = {"trips": "trip_id", "stop_times": "trip_id", "stops": "stop_id", "checkpoints": "checkpoint_id"}[layer.name]
    det = detail[mask].astype(str).to_numpy() if isinstance(detail, pd.Series) else detail
    extra = pd.DataFrame({
        "subject": SUBJECT.get(layer.name, layer.name), "subject_id": bad[id_col].astype(str).to_numpy(),
        "reason": reason, "detail": det, "row": bad["row"].astype("int64").to_numpy(),
    })
    if isinstance(bad, gpd.GeoDataFrame):
        extra = gpd.GeoDataFrame(extra, geometry=bad.geometry.to_numpy(), crs="EPSG:4326")
    layer.rejected = pd.concat([layer.rejected, extra], ignore_index=True) if len(layer.rejected) else extra
    layer.frame = layer.frame[~mask]


def validate_risk_areas(frame: pd.DataFrame, path: str | None = None) -> Layer:
    """Risk designations in interval or snapshot form (see :mod:`transportmon.designations`).

    The usable designations are kept as intervals in ``extra["intervals"]``; ``frame`` keeps the usable input rows.
    """
    from .designations import DesignationFormError, normalize_designations

    frame = rename_aliases(frame).reset_index(drop=True)
    require_columns(frame, "risk_areas", path)
    frame = frame.copy()
    frame["row"] = np.arange(len(frame), dtype="int64")
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame.columns:
        geoms = frame.geometry
        bad_geom = (geoms.notna() & ~geoms.is_empty & ~geoms.is_valid).to_numpy()
        if bad_geom.any():  # repair rather than reject: designation polygons are hand-drawn
            fixed = geoms.to_numpy().copy()
            fixed[bad_geom] = shapely.make_valid(fixed[bad_geom], method="structure", keep_collapsed=False)
            frame = frame.set_geometry(gpd.GeoSeries(fixed, index=frame.index, crs=frame.crs))
    try:
        intervals, rejected = normalize_designations(frame.drop(columns="row"))
    except DesignationFormError as exc:
        raise InputError(path or "<risk_areas>", str(exc), "") from exc
    rej = pd.DataFrame({
        "subject": "risk_areas", "subject_id": rejected["subject_id"].astype(str).to_numpy(),
        "reason": rejected["reason"].astype(str).to_numpy(),
        "detail": _risk_detail(frame, rejected["row"].to_numpy()),
        "row": rejected["row"].astype("int64").to_numpy(),
    })
    good = frame[~frame["row"].isin(rejected["row"])]
    return Layer(name="risk_areas", frame=good, rejected=rej, rows=len(frame), path=path,
                 extra={"intervals": intervals})


def _risk_detail(frame: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    cols = [c for c in ("as_of", "valid_from", "valid_to", "level", "unit") if c in frame.columns]
    sub = frame.iloc[rows][cols].astype("string").fillna("")
    text = pd.Series("", index=sub.index, dtype="string")
    for c in cols:
        text = text + c + "=" + sub[c] + " "
    return text.str.strip().to_numpy(dtype=object)
