"""The layer contract: required columns, accepted header aliases, geometry types, and :class:`Layer`."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa

from .._errors import InputError
from ..source_rows import SOURCE_ROW

#: Chinese and alternative column names accepted for each contract column. Keys are matched after
#: :func:`column_key` (NFKC, lower case, no spaces, a trailing unit in brackets dropped: ``核定座位（座）`` is
#: ``核定座位``). A contract column already present wins over an alias; ``序号`` (a row's serial number) is never an
#: id. The README section "Chinese files" lists the same table.
ALIASES: dict[str, str] = {
    # checkpoints
    "检测点编号": "checkpoint_id", "卡点编号": "checkpoint_id", "检查站编号": "checkpoint_id",
    "检测站编号": "checkpoint_id", "检测点id": "checkpoint_id",
    "名称": "name", "检测点名称": "name", "卡点名称": "name", "检查站名称": "name",
    "设立日期": "opened", "启用日期": "opened", "设立时间": "opened", "启用时间": "opened",
    "撤销日期": "closed", "撤除日期": "closed", "撤销时间": "closed", "撤除时间": "closed", "关闭日期": "closed",
    "是否劝返": "turn_back", "劝返": "turn_back",
    "是否限制货车": "blocks_freight", "拦截货车": "blocks_freight", "是否拦截货车": "blocks_freight",
    "限制货车": "blocks_freight",
    # roads
    "道路编号": "road_id", "路段编号": "road_id", "路线编号": "ref", "路线代码": "ref", "国省道编号": "ref",
    "公路等级": "road_class", "道路等级": "road_class", "行政等级": "road_class",
    "道路名称": "name", "路线名称": "name",
    # boundaries / risk areas
    "行政区划代码": "adcode", "区划代码": "adcode", "行政代码": "adcode", "行政区代码": "adcode",
    "行政区名称": "name", "区划名称": "name",
    "级别": "level", "行政级别": "level", "风险等级": "level", "风险级别": "level",
    "生效日期": "valid_from", "失效日期": "valid_to", "解除日期": "valid_to",
    "发布日期": "as_of", "公布日期": "as_of", "通报日期": "as_of",
    "来源": "source", "信息来源": "source", "数据来源": "source",
    # stops
    "站点编号": "stop_id", "车站编号": "stop_id", "站点代码": "stop_id", "站点名称": "name", "车站名称": "name",
    # trips
    "班次编号": "trip_id", "班次号": "trip_id", "班次": "trip_id",
    "班次日期": "service_date", "发车日期": "service_date", "运行日期": "service_date",
    "线路类型": "service_type", "客运类型": "service_type", "班线类型": "service_type",
    "核定座位": "seats", "核定座位数": "seats", "座位数": "seats", "核载人数": "seats", "额定座位": "seats",
    "实载人数": "passengers", "乘客数": "passengers", "实载": "passengers", "载客人数": "passengers",
    "线路编号": "route_id", "线路代码": "route_id",
    # stop_times
    "站序": "stop_sequence", "停靠顺序": "stop_sequence", "站点顺序": "stop_sequence",
    "上客": "pickup", "是否上客": "pickup", "下客": "dropoff", "是否下客": "dropoff",
    # waivers (hook, issue 14: transportmon/waivers.py; 生效日期 above is valid_from here too)
    "对象类型": "subject", "豁免对象": "subject", "对象": "subject",
    "对象编号": "subject_id", "豁免对象编号": "subject_id",
    "规则编号": "rule_id", "规则代码": "rule_id", "规则": "rule_id",
    "批准文号": "document", "文号": "document", "批准文件": "document", "批复文号": "document",
    "审批文号": "document",
    "有效期自": "valid_from", "有效期起": "valid_from", "起始日期": "valid_from", "开始日期": "valid_from",
    "有效期至": "valid_until", "有效期止": "valid_until", "截止日期": "valid_until", "到期日期": "valid_until",
    "终止日期": "valid_until",
    "批准单位": "approved_by", "批准机关": "approved_by", "审批单位": "approved_by", "批准人": "approved_by",
    "备注": "note",
    # Shapefile (.dbf) field names are cut to 10 characters
    "checkpoint": "checkpoint_id", "blocks_fre": "blocks_freight", "service_da": "service_date",
    "service_ty": "service_type", "stop_seque": "stop_sequence",
}


_UNIT_SUFFIX = re.compile(r"[(（\[【][^)）\]】]*[)）\]】]$")


def column_key(name: object) -> str:
    """The key a header is matched on: NFKC (full-width → ASCII), no BOM, no spaces, lower case, no unit suffix.

    ``"  经度（°）"``, ``"\ufeff经度"`` and ``"ＬＯＮ"`` all give the key of ``经度`` / ``lon``.
    """
    text = unicodedata.normalize("NFKC", str(name)).replace("\ufeff", "")
    text = re.sub(r"\s+", "", text).lower()
    stripped = _UNIT_SUFFIX.sub("", text)
    return stripped or text


#: Required columns per layer (DESIGN §2).
REQUIRED: dict[str, tuple[str, ...]] = {
    "roads": ("road_id",),
    "checkpoints": ("checkpoint_id",),
    "boundaries": ("adcode", "name", "level"),
    "risk_areas": ("level",),
    "stops": ("stop_id",),
    "trips": ("trip_id", "service_date", "service_type", "seats", "passengers"),
    "stop_times": ("trip_id", "stop_sequence", "stop_id"),
    "waivers": ("subject", "subject_id", "rule_id", "document", "valid_from", "valid_until"),  # hook, issue 14
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


#: ``row``: 0-based position in the parsed frame (the key); ``source_row``: the row as the user's program shows it
#: (:mod:`transportmon.source_rows`).
REJECTED_COLUMNS = ["subject", "subject_id", "reason", "detail", "row", "source_row"]
#: Columns a rejected row keeps beside :data:`REJECTED_COLUMNS`: a rejected trip counts on its service date (the
#: timeline, the report) and on its route, on which it still ran (:mod:`transportmon.routes`).
KEPT_WHEN_REJECTED: dict[str, tuple[str, ...]] = {"trips": ("route_id", "service_date")}


@dataclass
class TripRuns:
    """Runs of equal consecutive trip ids in stop_times (rows of one trip are usually consecutive)."""

    starts: np.ndarray
    """Per row: whether it starts a run."""
    heads: np.ndarray
    """Positions of the rows that start a run."""
    ids: pa.ChunkedArray
    """The trip id of each run, as text."""
    run: np.ndarray | None = None
    """Per row: the number of its run (0, 1, …), when computed ahead (:mod:`transportmon.layers.ahead`)."""


@dataclass
class StopTimesCodes:
    """Integer codes of the usable stop_times rows, left by validation and the reference checks for the trip audit.

    Each array holds one value per row of ``Layer.frame`` (:func:`~transportmon.layers.reject_rows` keeps them
    aligned) and is None when nobody computed it; consumers fall back to hash joins by value.
    """

    stop_code: np.ndarray | None = None
    """Code of each row's stop in ``stop_dict`` (-1: none), for a ``stop_id`` column read as a dictionary."""
    stop_dict: pa.Array | None = None
    """The dictionary of stop ids, as text."""
    trip_runs: TripRuns | None = None
    """Runs of trip ids, while no row has been rejected since validation."""
    trip_pos: np.ndarray | None = None
    """Position of each row's trip in the trips layer's ``frame`` (-1: a rejected trip)."""
    stop_pos: np.ndarray | None = None
    """Position of each row's stop in the trips layer's ``located``."""

    def keep(self, kept: np.ndarray) -> None:
        """Keep the entries of the rows where ``kept`` holds (the others were rejected); the runs no longer hold."""
        for name in ("stop_code", "trip_pos", "stop_pos"):
            value = getattr(self, name)
            if value is not None and len(value) == len(kept):
                setattr(self, name, value[kept])
        self.trip_runs = None


@dataclass
class Layer:
    """One input layer after validation."""

    name: str
    frame: pd.DataFrame
    """The usable rows, with ``row`` = the 0-based input row number."""
    rejected: pd.DataFrame
    """Rows that cannot be audited: ``subject``, ``subject_id``, ``reason``, ``detail``, ``row``, ``source_row``
    (+ geometry)."""
    rows: int
    """Rows in the input."""
    path: str | None = None
    sha256: str | None = None
    defaulted_columns: tuple[str, ...] = ()
    """stop_times: ``pickup``/``dropoff`` when the file has no such column (every row took 1): said as a warning."""
    codes: StopTimesCodes = field(default_factory=StopTimesCodes)
    """stop_times: integer codes of the rows for the reference checks and the trip audit."""
    located: pd.DataFrame | None = None
    """trips: the admin units (``county``, ``city``, ``province``) of each stop, indexed by ``stop_id``."""
    intervals: pd.DataFrame | None = None
    """risk_areas: the usable designations as intervals (:func:`~transportmon.designations.normalize_designations`)."""
    outside_units: list[str] = field(default_factory=list)
    """risk_areas: adcodes named by usable rows that lie outside the boundaries in use, away from every stop."""
    outside_rows: int = 0
    """risk_areas: how many usable rows name one of ``outside_units``."""
    renamed_units: list[str] = field(default_factory=list)
    """risk_areas: adcodes renamed since 2020 that were read under their current code (``old → new (why)``)."""


def rename_aliases(frame: pd.DataFrame) -> pd.DataFrame:
    """Rename Chinese / alternative headers to contract names (see :data:`ALIASES`); a contract column already
    present wins, and of two headers naming the same contract column the first (leftmost) wins."""
    return frame.rename(columns=alias_mapping(list(frame.columns)))


def alias_mapping(columns: list[object]) -> dict[object, str]:
    """``{header: contract name}`` for the headers :func:`rename_aliases` renames (plain Python: no pandas)."""
    mapping: dict[object, str] = {}
    taken = {str(c).strip() for c in columns}
    for col in columns:
        key = str(col).strip()
        target = ALIASES.get(key) or ALIASES.get(key.lower())
        if target is None:
            k = column_key(col)
            target = ALIASES.get(k) or (k if k in CONTRACT_COLUMNS else None)
        if target and target != key and target not in taken:
            mapping[col] = target
            taken.add(target)
    return mapping


def is_known_column(name: object) -> bool:
    """Whether a header names a contract column, an alias of one, or a lon/lat column (finding a header row)."""
    k = column_key(name)
    return k in CONTRACT_COLUMNS or k in ALIASES or k in LON_NAMES or k in LAT_NAMES


#: Headers of point coordinates in a table (matched by :func:`column_key`).
LON_NAMES = ("lon", "lng", "long", "longitude", "x", "经度", "东经", "经度坐标")


LAT_NAMES = ("lat", "latitude", "y", "纬度", "北纬", "纬度坐标")


CONTRACT_COLUMNS = {c for cols in REQUIRED.values() for c in cols} | {
    "ref", "highway", "name", "road_class", "opened", "closed", "turn_back", "blocks_freight", "valid_from",
    "valid_to", "as_of", "adcodes", "route_id", "pickup", "dropoff", "scope", "source",
    "approved_by", "note",  # waivers (hook, issue 14)
}


def require_columns(frame: pd.DataFrame, layer: str, path: str | None) -> None:
    """Raise :class:`InputError` naming the file, the missing column and what is allowed."""
    missing = [c for c in REQUIRED[layer] if c not in frame.columns]
    if missing:
        # The file's own headers: lon/lat were turned into the geometry, the row number is ours.
        shown = [str(c) for c in frame.columns if c not in ("_lon_raw", "_lat_raw", "row", SOURCE_ROW)
                 and not (isinstance(frame, gpd.GeoDataFrame) and c == frame.geometry.name)]
        if "_lon_raw" in frame.columns:
            shown.append("lon/lat")
        found = ", ".join(shown) or "none"
        raise InputError(
            path or f"<{layer}>",
            f"the {layer} layer has no column {', '.join(repr(m) for m in missing)}",
            f"required: {', '.join(REQUIRED[layer])}; found: {found}",
        )
