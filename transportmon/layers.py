"""Validated layers, and the rows that could not be used with the reason why.

Each ``validate_*`` function takes a frame as read (``io.read``), checks the columns (a missing required column is an
:class:`InputError`: the file cannot be audited at all) and the rows (a bad row is *rejected* with a machine reason:
it becomes a subject of the report, never a crash and never a silent drop). The returned valid frame keeps the input
row number in ``row`` so that every input row can be accounted for.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from ._errors import InputError
from .source_rows import SOURCE_ROW, first_occurrence, source_rows

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

#: Accepted spellings of booleans (after NFKC and lower case); an empty cell is false.
TRUE_WORDS = {"true", "t", "yes", "y", "1", "1.0", "是", "有", "√", "✓", "✔", "对", "真"}
FALSE_WORDS = {"false", "f", "no", "n", "0", "0.0", "否", "无", "没有", "不", "×", "✗", "✘", "错", "假", "", "nan",
               "none"}

#: ``row``: 0-based position in the parsed frame (the key); ``source_row``: the row as the user's program shows it
#: (:mod:`transportmon.source_rows`).
REJECTED_COLUMNS = ["subject", "subject_id", "reason", "detail", "row", "source_row"]


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
    extra: dict[str, object] = field(default_factory=dict)


def rename_aliases(frame: pd.DataFrame) -> pd.DataFrame:
    """Rename Chinese / alternative headers to contract names (see :data:`ALIASES`); a contract column already
    present wins, and of two headers naming the same contract column the first (leftmost) wins."""
    mapping: dict[object, str] = {}
    taken = {str(c).strip() for c in frame.columns}
    for col in frame.columns:
        key = str(col).strip()
        target = ALIASES.get(key) or ALIASES.get(key.lower())
        if target is None:
            k = column_key(col)
            target = ALIASES.get(k) or (k if k in CONTRACT_COLUMNS else None)
        if target and target != key and target not in taken:
            mapping[col] = target
            taken.add(target)
    return frame.rename(columns=mapping)


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


def _on_distinct(parse):  # type: ignore[no-untyped-def]
    """Run an elementwise parser on a column's distinct values only and spread the results over the rows.

    A column of ten million ``stop_sequence`` or ``pickup`` cells holds a handful of distinct values; text
    normalisation and regular expressions then run on those, not on every row. Small or mostly-unique columns are
    parsed directly. Results are the same either way.
    """
    import functools

    @functools.wraps(parse)
    def wrapper(values: pd.Series):  # type: ignore[no-untyped-def]
        if len(values) < 4096 or values.dtype == object:  # objects: 1, 1.0 and True hash alike but read apart
            return parse(values)
        if isinstance(values.dtype, np.dtype) and values.dtype.kind == "M":  # datetimes: arithmetic, no text
            return parse(values)
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        if len(uniques) > len(values) // 4:
            return parse(values)
        codes = np.where(codes < 0, len(uniques), codes)  # missing values are one more distinct value
        first = np.full(len(uniques) + 1, len(values))
        np.minimum.at(first, codes, np.arange(len(values)))
        present = first < len(values)
        distinct = values.iloc[first[present]]  # a row of each distinct value, as it is in the column
        codes = np.cumsum(present)[codes] - 1
        out = parse(distinct)
        spread = [part.take(codes).set_axis(values.index) for part in (out if isinstance(out, tuple) else (out,))]
        return tuple(spread) if isinstance(out, tuple) else spread[0]

    return wrapper


def as_text(values: pd.Series) -> pd.Series:
    """Ids and codes as stripped text; numbers read from a GIS file lose a trailing ``.0``."""
    out = values.astype("string").str.strip()
    numeric = out.str.endswith(".0").fillna(False).to_numpy(bool)  # the regex only where it can apply
    if numeric.any():
        out = out.where(~numeric, out.str.replace(r"^(-?\d+)\.0$", r"\1", regex=True))
    return out.mask(out == "")


# ------------------------------------------------------------------------------------------------------------
# Fast paths for clean, typed columns (Parquet). Each decides only the clean case and leaves anything else to the
# general parsers above, so results are the same on every input; tests/test_validate_fast.py checks that.

#: The detail of rejected rows, computed for the rows of a boolean mask only.
_Detail = Callable[[np.ndarray], pd.Series]
_EXACT = 2**53  # parse_ints reads whole numbers below this magnitude
_COPY_ON_WRITE = int(pd.__version__.split(".")[0]) >= 3


def _arrow_text(values: pd.Series) -> pa.ChunkedArray | None:
    """The Arrow array behind a pyarrow-backed text column (``str``, ``string[pyarrow]``), else None."""
    dtype = values.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        arr = getattr(values.array, "_pa_array", None)
        if isinstance(arr, pa.ChunkedArray) and (pa.types.is_large_string(arr.type) or pa.types.is_string(arr.type)):
            return arr
    return None


def _run_starts(arr: pa.ChunkedArray) -> np.ndarray:
    """Flags of the rows that start a run of equal consecutive values (a null starts a run of its own)."""
    n = len(arr)
    flags = np.ones(n, dtype=bool)
    if n > 1:
        ne = pc.fill_null(pc.not_equal(arr.slice(1), arr.slice(0, n - 1)), True)
        flags[1:] = ne.to_numpy(zero_copy_only=False)
    return flags


def _same_text(values: pd.Series) -> bool:
    """Whether :func:`as_text` leaves every value as it is (no surrounding space, no ``.0``, no empty text), by the
    same string operations, without building its result."""
    text = values.astype("string")
    stripped = text.str.strip()
    if not (stripped == text).fillna(True).all():
        return False
    return not (stripped.str.endswith(".0").fillna(False).any() or (stripped == "").fillna(False).any())


def _text_ids(values: pd.Series, starts: np.ndarray | None = None) -> pd.Series:
    """:func:`as_text` of an id column; when its runs of equal values begin at ``starts``, computed on the runs'
    first rows. A pyarrow text column that needs no change (clean ids) is returned as it is, as ``string``."""
    return _text_ids_runs(values, starts)[0]


def _text_ids_runs(values: pd.Series, starts: np.ndarray | None = None,
                   heads: np.ndarray | None = None) -> tuple[pd.Series, pd.Series | None]:
    """:func:`_text_ids`, and the text of the runs' first rows (``heads``: their positions) when runs are given."""
    if starts is not None and heads is None:
        heads = np.flatnonzero(starts)
    if _arrow_text(values) is None:
        text = as_text(values)
        return text, (text.iloc[heads] if heads is not None else None)
    probe = values if heads is None or len(heads) == len(values) else values.iloc[heads]
    if _same_text(probe):
        out = values.astype("string")
        return out, (probe.astype("string") if heads is not None else None)
    text = as_text(probe)
    if probe is values:
        return text, (text if heads is not None else None)
    return pd.Series(text.array.take(np.cumsum(starts) - 1), index=values.index), text


def _cell_text(values: pd.Series, mask: np.ndarray) -> pd.Series:
    """``values.astype("string").fillna("")`` at the rows of ``mask``: converted there only when the conversion is
    cell by cell (text, integers, booleans, objects), else on the whole column (dates print alike as a column)."""
    dtype = values.dtype
    elementwise = (isinstance(dtype, pd.StringDtype) or (isinstance(dtype, np.dtype) and dtype.kind in "iubO")
                   or isinstance(dtype, (pd.BooleanDtype, pd.core.arrays.integer.IntegerDtype)))
    cells = values[mask]
    if elementwise:
        return cells.astype("string").fillna("")
    if cells.isna().all():  # a missing value is empty text in any column
        return pd.Series("", index=cells.index, dtype="string")
    return values.astype("string").fillna("")[mask]


def _ints_fast(values: pd.Series) -> tuple[pd.Series, np.ndarray] | None:
    """:func:`parse_ints` of an integer column (numpy or nullable): (Int64 values, malformed = the missing cells);
    None when a value is too large to be read exactly, or the column is not integers."""
    dtype = values.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iu":
        data, missing = values.to_numpy(), None
    elif isinstance(dtype, pd.core.arrays.integer.IntegerDtype):
        data, missing = values.array._data, values.array._mask
    else:
        return None
    if data.dtype.itemsize >= 8 and len(data):
        kept = data if missing is None or not missing.any() else data[~missing]
        if len(kept) and not (-_EXACT < int(kept.min()) and int(kept.max()) < _EXACT):
            return None
    bad = np.zeros(len(data), dtype=bool) if missing is None else missing.copy()
    out = pd.arrays.IntegerArray(data.astype(np.int64), bad.copy())
    return pd.Series(out, index=values.index, copy=False), bad


def _flags_fast(values: pd.Series) -> np.ndarray | None:
    """``pickup``/``dropoff`` of a numeric or boolean column whose every value is 0, 1 or missing (missing = 1),
    as :func:`parse_bools` reads them; None otherwise (other values are malformed: the general path says how)."""
    dtype = values.dtype
    if isinstance(dtype, np.dtype) and dtype.kind == "b":
        return values.to_numpy(dtype=bool, copy=True)
    if isinstance(dtype, np.dtype) and dtype.kind in "iu":
        data = values.to_numpy()
        if ((data == 0) | (data == 1)).all():
            return data == 1
        return None
    if isinstance(dtype, np.dtype) and dtype.kind == "f":  # 1.0 and 0.0 print as words parse_bools knows; -0.0 not
        data = values.to_numpy()
        missing = np.isnan(data)
        if ((data == 1) | ((data == 0) & ~np.signbit(data)) | missing).all():
            return (data == 1) | missing
        return None
    if isinstance(dtype, pd.BooleanDtype):
        return values.array._data | values.array._mask
    if isinstance(dtype, pd.core.arrays.integer.IntegerDtype):
        data, missing = values.array._data, values.array._mask
        if (missing | (data == 0) | (data == 1)).all():
            return missing | (data == 1)
        return None
    return None


def _duplicated_ids(ids: pd.Series) -> np.ndarray:
    """``ids.notna() & ids.duplicated(keep="first")``; ids in strictly increasing order (sorted, unique: the common
    case) are seen to have no repeat by comparing neighbours."""
    arr = _arrow_text(ids)
    if arr is not None:
        values = arr.drop_null() if arr.null_count else arr
        n = len(values)
        if n < 2 or pc.all(pc.less(values.slice(0, n - 1), values.slice(1))).as_py():
            return np.zeros(len(ids), dtype=bool)
    return (ids.notna() & ids.duplicated(keep="first")).to_numpy(dtype=bool)


def _duplicated_stops(trip: pd.Series, seq: pd.Series, starts: np.ndarray | None,
                      head_text: pd.Series | None = None) -> np.ndarray:
    """``frame[["trip_id", "stop_sequence"]].duplicated(keep="first")`` on the rows where both are present (the
    others are rejected before), from integer keys: trip code × span + sequence.

    ``starts`` flags the runs of equal raw trip ids (rows of one trip are usually consecutive), ``head_text`` is the
    text of each run's first row; when each trip is one run and the sequence rises within each run there is no
    repeat, which two comparisons of neighbours show.
    """
    present = (trip.notna() & seq.notna()).to_numpy(dtype=bool)
    if starts is None or not isinstance(trip.dtype, pd.StringDtype):
        pair = pd.DataFrame({"trip_id": trip, "stop_sequence": seq})
        return (pair.duplicated(keep="first").to_numpy(dtype=bool) & present)
    n = len(trip)
    heads = np.flatnonzero(starts)
    if head_text is None:
        head_text = trip.iloc[heads]
    sq = seq.array._data.astype(np.int64, copy=False)
    all_present = bool(present.all())
    head_arr = _arrow_text(head_text)
    distinct_runs = False
    if head_arr is not None:
        hv = head_arr.drop_null() if head_arr.null_count else head_arr
        m = len(hv)
        distinct_runs = m < 2 or bool(pc.all(pc.less(hv.slice(0, m - 1), hv.slice(1))).as_py())
    if distinct_runs and all_present and n:
        rising = (sq[1:] > sq[:-1]) | starts[1:]
        if rising.all():
            return np.zeros(n, dtype=bool)
    if distinct_runs:
        codes = np.arange(len(heads), dtype=np.int64)
    else:
        codes = pd.factorize(head_text, use_na_sentinel=True)[0].astype(np.int64)
    run = np.cumsum(starts) - 1
    rows = np.flatnonzero(present)
    if not len(rows):
        return np.zeros(n, dtype=bool)
    code = codes[run[rows]]
    s = sq[rows]
    lo, hi = int(s.min()), int(s.max())
    span = hi - lo + 1
    if (int(code.max()) + 1) * span >= 2**62:
        pair = pd.DataFrame({"trip_id": trip, "stop_sequence": seq})
        return (pair.duplicated(keep="first").to_numpy(dtype=bool) & present)
    key = code * span + (s - lo)
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    dup = np.zeros(n, dtype=bool)
    dup[rows[order[1:][ordered[1:] == ordered[:-1]]]] = True
    return dup


def _stop_text(values: pd.Series) -> tuple[pd.Series, np.ndarray | None, pa.Array | None]:
    """:func:`as_text` of ``stop_id``, and for a dictionary column (Parquet read with ``read_dictionary``) its
    codes into the dictionary as text: (text, codes or None, dictionary or None). A column of ten million rows
    holds some thousands of stops; the text work is done on those."""
    if not isinstance(values.dtype, pd.CategoricalDtype) or pd.StringDtype().storage != "pyarrow":
        return _text_ids(values), None, None
    cat = values.array
    if not isinstance(cat.categories.dtype, pd.StringDtype):
        return as_text(values), None, None  # numbers as categories: printed as the column prints them
    text = as_text(pd.Series(cat.categories, dtype="string"))
    dictionary = pa.array(text.to_numpy(dtype=object, na_value=None), type=pa.large_string())
    codes = np.asarray(cat.codes)
    indices = pa.array(codes, mask=codes < 0) if len(codes) and codes.min() < 0 else pa.array(codes)
    rows = pa.DictionaryArray.from_arrays(indices, dictionary).dictionary_decode()
    return pd.Series(pd.arrays.ArrowStringArray(rows), index=values.index), codes, dictionary


_DATE = re.compile(
    r"(?P<y>\d{4})(?:\s*(?P<sep>[-/.年])\s*(?P<m>\d{1,2})\s*(?:(?P=sep)|月)\s*(?P<d>\d{1,2})\s*[日号]?"
    r"|(?P<cm>\d{2})(?P<cd>\d{2}))"
    # an optional time of day, dropped: 08:00, 08:00:00.5, T08:00Z, 8时30分, +08:00, +08 (GDAL prints offsets so)
    r"(?:(?:\s+|\s*T\s*|(?<=[日号])\s*)(?P<h>\d{1,2})(?:[:时点](?P<mi>\d{1,2})?(?:[:分](?P<s>\d{1,2}(?:\.\d+)?)?秒?)?)?"
    r"\s*(?:Z|[+-]\d{2}(?::?\d{2})?)?)?"
)


@_on_distinct
def parse_dates(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse dates in the forms Chinese offices write them; returns (dates, malformed-mask).

    Accepted: ``2020-03-16``, ``2020/3/16``, ``2020.03.16``, ``2020年3月16日`` (or ``号``), ``20200316``, full-width
    digits, any of them with a time of day (``2020-03-16 08:00``, ``2020/3/16 8:00:00``, ``2020-03-16T08:00+08:00``,
    ``2020/03/16 08:00:00+08`` as GDAL prints a zoned time, ``2020年3月16日8时``) which is dropped (the day as written
    counts, never its UTC day), and datetime values. Years 1–9999 (``9999-12-31`` is a common "never"
    in Chinese databases). Day-first and two-digit years (``16/03/2020``, ``20/3/16``) are ambiguous and malformed.
    Empty is NaT and not malformed (the caller decides whether the column may be empty).
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        dates = values.dt.tz_localize(None) if getattr(values.dt, "tz", None) else values
        return dates.dt.normalize().astype("datetime64[s]"), pd.Series(False, index=values.index)
    text = values.astype("string").str.normalize("NFKC").str.strip()
    empty = text.isna() | (text == "")
    parts = text.str.extract(f"^(?:{_DATE.pattern})$")
    month = parts["m"].fillna(parts["cm"])
    day = parts["d"].fillna(parts["cd"])
    hour = pd.to_numeric(parts["h"], errors="coerce")
    minute = pd.to_numeric(parts["mi"], errors="coerce")
    second = pd.to_numeric(parts["s"], errors="coerce")
    bad_time = (hour > 23).fillna(False) | (minute > 59).fillna(False) | (second >= 61).fillna(False)
    bad_time = bad_time | parts["y"].eq("0000").fillna(False)  # there is no year 0
    iso = (parts["y"] + "-" + month.str.zfill(2) + "-" + day.str.zfill(2)).where(~bad_time.astype(bool))
    dates = pd.to_datetime(iso.where(~empty), format="%Y-%m-%d", errors="coerce")
    bad = (~empty & dates.isna()).astype(bool)
    return dates.astype("datetime64[s]"), bad


@_on_distinct
def parse_bools(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse booleans written as true/false, 1/0, yes/no, 是/否, 有/无, √/×; empty is False. Returns (bools,
    malformed-mask)."""
    text = values.astype("string").str.normalize("NFKC").str.strip().str.lower().fillna("")
    is_true = text.isin(TRUE_WORDS)
    is_false = text.isin(FALSE_WORDS)
    return is_true.astype(bool), (~is_true & ~is_false).astype(bool)


_COUNT_UNIT = re.compile(r"\s*(?:座|人|位|个|名|席)$")


@_on_distinct
def parse_ints(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse whole numbers; returns (Int64 values, malformed-mask). ``45.0`` is 45; ``45.5`` and ``abc`` are malformed.

    Full-width digits and a trailing count word (``45座``, ``23人``) are accepted, as Chinese sheets write them.
    """
    text = values.astype("string").str.normalize("NFKC").str.strip().str.replace(_COUNT_UNIT, "", regex=True)
    num = pd.to_numeric(text, errors="coerce").astype("Float64")
    finite = num.notna() & np.isfinite(num.fillna(0.0).to_numpy(dtype=float))
    whole = (finite & (num == num.round()) & (num.abs() < 2**53)).fillna(False).astype(bool)
    out = num.where(whole).round().astype("Int64")
    return out, ~whole


class _Rejector:
    """Collects rejected rows of a layer, first reason wins (a row is rejected once).

    The state is a numpy flag per row and, per :meth:`reject` call, the positions it rejected with their details:
    nothing is built per row for a layer of ten million rows where few or none are rejected.
    """

    def __init__(self, layer: str, frame: pd.DataFrame, id_col: str | None, ids: pd.Series | None = None) -> None:
        self.layer = layer
        self.frame = frame
        if ids is not None:
            self.ids = ids
        else:
            self.ids = _text_ids(frame[id_col]) if id_col and id_col in frame.columns else pd.Series(
                pd.NA, index=frame.index, dtype="string")
        self._ok = np.ones(len(frame), dtype=bool)
        self._parts: list[tuple[np.ndarray, str, pd.Series | str]] = []

    def reject(self, mask: pd.Series | np.ndarray, reason: str, detail: pd.Series | str | _Detail = "") -> None:
        """Reject the rows of ``mask`` not rejected yet. ``detail`` is text, a Series aligned with the frame, or a
        callable that gives the detail of the rows of a boolean mask (called only for the rows rejected here)."""
        mask = np.asarray(mask, dtype=bool) & self._ok
        if not mask.any():  # also spares an empty layer's details, which may not be Series-shaped
            return
        self._ok &= ~mask
        if callable(detail):
            detail = detail(mask)
            text: pd.Series | str = pd.Series(detail, dtype="string") if not isinstance(detail, pd.Series) else \
                detail.astype("string")
        elif isinstance(detail, pd.Series):
            text = detail[pd.Series(mask, index=self.frame.index)].astype("string")
        else:
            text = detail
        self._parts.append((np.flatnonzero(mask), reason, text))

    @property
    def ok(self) -> pd.Series:
        return pd.Series(self._ok.copy(), index=self.frame.index, copy=False)

    def rejected(self) -> pd.DataFrame:
        bad = pd.Series(~self._ok, index=self.frame.index)
        positions = np.flatnonzero(~self._ok)
        reasons = np.empty(len(positions), dtype=object)
        details = np.full(len(positions), None, dtype=object)
        for where, reason, text in self._parts:
            at = np.searchsorted(positions, where)
            reasons[at] = reason
            details[at] = text if isinstance(text, str) else text.to_numpy(dtype=object, na_value=None)
        index = self.frame.index[bad.to_numpy()]
        shown = pd.Series(source_rows(self.frame, bad.to_numpy()), index=index)  # i16: rows as the user sees them
        ids = self.ids[bad].fillna("row " + shown.astype("string"))
        out = pd.DataFrame({
            "subject": SUBJECT.get(self.layer, self.layer),
            "subject_id": ids.astype(str),
            "reason": pd.Series(reasons, index=index, dtype="string").astype(str),
            "detail": pd.Series(details, index=index, dtype="string").fillna("").astype(str),
            "row": self.frame.loc[bad, "row"].astype("int64"),
            "source_row": shown,
        }, index=index)
        if isinstance(self.frame, gpd.GeoDataFrame):
            geoms = self.frame.geometry[bad]
            # Only a usable geometry goes to the report; an invalid one, or one outside lon/lat (projected
            # coordinates, swapped lon/lat), would make the GeoJSON invalid.
            b = geoms.bounds
            in_range = (b.minx >= -180) & (b.maxx <= 180) & (b.miny >= -90) & (b.maxy <= 90)
            keep = _present(geoms) & geoms.is_valid & in_range
            return gpd.GeoDataFrame(out, geometry=geoms.where(keep, None), crs="EPSG:4326")
        return out


def _present(geoms: gpd.GeoSeries) -> pd.Series:
    """Rows with a geometry that is not empty (without GeoSeries.notna's warning about empty geometries)."""
    arr = geoms.to_numpy()
    return pd.Series(~shapely.is_missing(arr) & ~shapely.is_empty(arr), index=geoms.index)


def _repair(geoms: np.ndarray, which: np.ndarray) -> np.ndarray:
    """``make_valid`` (keeping polygons polygonal) where ``which``; a geometry GEOS cannot repair (non-finite
    coordinates, a shell with too few points) is left as it is, and validation rejects it."""
    out = geoms.copy()
    # Only polygons whose every coordinate is finite and plausibly lon/lat: GEOS overflows on 1e300 and the row is
    # rejected as coordinates-out-of-range anyway.
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    bad_coord = ~np.isfinite(coords).all(axis=1) | (np.abs(coords) > 1e4).any(axis=1)
    sane = np.bincount(owner[bad_coord], minlength=len(geoms)) == 0
    polygonal = np.isin(shapely.get_type_id(geoms), [3, 6])
    idx = np.flatnonzero(which & sane & polygonal)
    if not len(idx):
        return out
    try:
        out[idx] = shapely.make_valid(geoms[idx], method="structure", keep_collapsed=False)
    except shapely.errors.GEOSException:  # one unrepairable geometry fails the whole array: go one by one
        for i in idx:
            try:
                out[i] = shapely.make_valid(geoms[i], method="structure", keep_collapsed=False)
            except shapely.errors.GEOSException:
                pass
    return out


def empty_rejected() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="int64" if c in ("row", "source_row") else "object")
                         for c in REJECTED_COLUMNS})


def _prepare(frame: pd.DataFrame, layer: str, path: str | None) -> pd.DataFrame:
    frame = rename_aliases(frame).reset_index(drop=True)
    if len(frame) == 0:  # an empty layer (a GeoJSON with no features has no columns): nothing is missing
        frame = frame.assign(**{c: pd.Series(dtype="string") for c in REQUIRED[layer] if c not in frame.columns})
    require_columns(frame, layer, path)
    if not _COPY_ON_WRITE:  # with copy-on-write the caller's frame cannot change through this one
        frame = frame.copy()
    frame["row"] = pd.Series(np.arange(len(frame), dtype="int64"), index=frame.index, copy=False)
    return frame


def _check_ids(rej: _Rejector, unique: bool) -> None:
    rej.reject(rej.ids.isna(), "missing-id", "the id is empty")
    if unique:
        rej.reject(_duplicated_ids(rej.ids), "duplicate-id", lambda m: same_as(rej.frame, m, rej.ids, what="id"))


def same_as(frame: pd.DataFrame, mask: np.ndarray, *keys: pd.Series, what: str) -> pd.Series:
    """``same {what} as row 7`` for the rows of ``mask``: the first row with the same key(s), numbered as the user
    sees it (i16)."""
    first = first_occurrence(*keys)[mask]
    rows = source_rows(frame)[first]
    return pd.Series([f"same {what} as row {r}" for r in rows], dtype="string")


def _check_geometry(rej: _Rejector, frame: gpd.GeoDataFrame, layer: str, *, required: bool = True) -> None:
    geoms = frame.geometry
    missing = ~_present(geoms)
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

    def out_detail(mask: np.ndarray) -> pd.Series:  # printed only when a row is rejected for it
        bt = b.round(3).astype("string").fillna("")  # column-wise: rows without geometry have NaN bounds
        swapped = (b.minx >= -90) & (b.maxx <= 90) & (b.miny >= -180) & (b.maxy <= 180)
        metres = b.abs().max(axis=1) > 1000
        hint = pd.Series("", index=frame.index, dtype="string").mask(swapped, " (lat/lon swapped?)").mask(
            metres, " (projected metres? declare the CRS: [crs] in manifest.toml or --<layer>-crs; or reproject to "
            "EPSG:4326)")
        text = "bounds " + bt.minx + "," + bt.miny + "," + bt.maxx + "," + bt.maxy + " are not WGS-84 lon/lat" + hint
        return text[mask]

    rej.reject(out, "coordinates-out-of-range", out_detail)
    coords_nan = present & ~np.isfinite(b.to_numpy()).all(axis=1)
    rej.reject(coords_nan, "invalid-geometry", "non-finite coordinates")
    invalid = present & ~geoms.is_valid
    rej.reject(invalid, "invalid-geometry", geoms.where(invalid).pipe(
        lambda s: pd.Series(shapely.is_valid_reason(s.to_numpy()), index=s.index)))


def _finish(name: str, frame: pd.DataFrame, rej: _Rejector, rows: int, path: str | None) -> Layer:
    ok = rej._ok
    # All usable: the frame itself (it is this validation's own copy), not a copy of millions of rows.
    good = frame if ok.all() else frame[ok].copy()
    drop = [c for c in ("_lon_raw", "_lat_raw") if c in good.columns]
    return Layer(name=name, frame=good.drop(columns=drop) if drop else good, rejected=rej.rejected(), rows=rows,
                 path=path)


def _geo(frame: pd.DataFrame, layer: str, path: str | None) -> gpd.GeoDataFrame:
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame.columns:
        raise InputError(path or f"<{layer}>", f"the {layer} layer has no geometry",
                         "give a spatial file (GeoJSON, GeoPackage, …) or a CSV with lon and lat columns")
    return frame


def _optional_text(frame: pd.DataFrame, columns: tuple[str, ...]) -> None:
    """Optional text columns as stripped text, or all-NA when the file has none (in place)."""
    for col in columns:
        frame[col] = _text_ids(frame[col]) if col in frame.columns else _missing_text(frame.index)


def _missing_text(index: pd.Index) -> pd.Series:
    """An all-NA ``string`` column (from an Arrow null array when ``string`` is pyarrow-backed: millions of rows)."""
    if pd.StringDtype().storage == "pyarrow":
        return pd.Series(pd.arrays.ArrowStringArray(pa.nulls(len(index), pa.large_string())), index=index)
    return pd.Series(pd.NA, index=index, dtype="string")


def validate_roads(frame: pd.DataFrame, path: str | None = None) -> Layer:
    """Roads: ``road_id`` and a (Multi)LineString. Several rows may share a ``road_id`` (one road, many segments)."""
    frame = _geo(_prepare(frame, "roads", path), "roads", path)
    rej = _Rejector("roads", frame, "road_id")
    _check_ids(rej, unique=False)
    _check_geometry(rej, frame, "roads")
    frame["road_id"] = rej.ids
    _optional_text(frame, ("ref", "highway", "name", "road_class", "route"))
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
    _optional_text(frame, ("name",))
    return _finish("checkpoints", frame, rej, len(frame), path)


LEVEL_WORDS = {"province": "province", "省": "province", "省级": "province", "city": "city", "市": "city",
               "市级": "city", "地级": "city", "地级市": "city", "prefecture": "city", "county": "county",
               "区县": "county", "县区": "county", "县": "county", "区": "county", "县级": "county",
               "区县级": "county", "district": "county"}


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
    fixable = (_present(geoms) & ~geoms.is_valid).to_numpy()
    if fixable.any():
        frame = frame.set_geometry(gpd.GeoSeries(_repair(geoms.to_numpy(), fixable), index=frame.index, crs=frame.crs))
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
    _optional_text(frame, ("name",))
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
#: Longer Chinese names are read by the word they contain: 省际班车, 市际班线, 定线客运 → scheduled; 旅游包车 →
#: charter; 城乡公交, 其他客运 → other. 包车 is checked first (班车 and 包车 never share a name).
SERVICE_TYPE_WORDS: tuple[tuple[str, str], ...] = (
    ("包车", "charter"), ("班车", "scheduled"), ("班线", "scheduled"), ("定线", "scheduled"),
    ("公交", "other"), ("其他", "other"), ("出租", "other"),
)


@_on_distinct
def service_types(values: pd.Series) -> pd.Series:
    """``service_type`` as scheduled / charter / other (NA when not recognised); see :data:`SERVICE_TYPES`."""
    text = values.astype("string").str.normalize("NFKC").str.strip()
    norm = text.str.lower().map(SERVICE_TYPES)
    for word, kind in SERVICE_TYPE_WORDS:
        hit = text.str.contains(word, regex=False).fillna(False).astype(bool)
        norm = norm.mask(norm.isna() & hit, kind)
    return norm.astype("string")


def validate_trips(frame: pd.DataFrame, path: str | None = None) -> Layer:
    """Trips: unique ``trip_id``, ``service_date``, ``service_type``, ``seats`` > 0, 0 ≤ ``passengers`` ≤ seats."""
    frame = _prepare(frame, "trips", path)
    rej = _Rejector("trips", frame, "trip_id")
    _check_ids(rej, unique=True)
    frame["trip_id"] = rej.ids
    raw_date = frame["service_date"]
    dates, bad = parse_dates(raw_date)
    rej.reject(bad.to_numpy(bool) | dates.isna().to_numpy(bool), "malformed-date",
               lambda m: "service_date=" + _cell_text(raw_date, m))
    frame["service_date"] = dates
    stype = frame["service_type"].astype("string").str.strip()
    norm = service_types(stype)
    rej.reject(norm.isna(), "malformed-value", lambda m: "service_type=" + stype[m].fillna("")
               + "; allowed scheduled/charter/other (班车/包车/其他)")
    frame["service_type"] = norm
    raw_seats, raw_pax = frame["seats"], frame["passengers"]
    seats, bad_s = _ints_fast(raw_seats) or parse_ints(raw_seats)
    pax, bad_p = _ints_fast(raw_pax) or parse_ints(raw_pax)
    rej.reject(bad_s, "malformed-value", lambda m: "seats=" + _cell_text(raw_seats, m) + " is not a whole number")
    rej.reject(bad_p, "malformed-value", lambda m: "passengers=" + _cell_text(raw_pax, m) + " is not a whole number")
    s_val, s_na = seats.array._data, seats.array._mask
    p_val, p_na = pax.array._data, pax.array._mask
    rej.reject(~s_na & (s_val <= 0), "non-positive-seats", lambda m: "seats=" + _cell_text(seats, m))
    rej.reject(~p_na & (p_val < 0), "negative-passengers", lambda m: "passengers=" + _cell_text(pax, m))
    rej.reject(~s_na & ~p_na & (p_val > s_val), "passengers-exceed-seats",
               lambda m: "passengers=" + _cell_text(pax, m) + " > seats=" + _cell_text(seats, m))
    frame["seats"] = seats
    frame["passengers"] = pax
    _optional_text(frame, ("route_id", "scope"))
    return _finish("trips", frame, rej, len(frame), path)


def validate_stop_times(frame: pd.DataFrame, path: str | None = None) -> Layer:
    """Stop times: ``trip_id``, whole ``stop_sequence``, ``stop_id``, ``pickup``/``dropoff`` 0/1 (default 1).

    References to unknown stops or trips are checked later, against the validated stops and trips. For a
    ``stop_id`` read as a dictionary, ``extra["stop_code"]`` (per usable row) and ``extra["stop_dict"]`` (the
    dictionary as text) let those checks work on the few distinct stops; ``extra["trip_runs"]`` (when every row is
    usable) holds the runs of equal trip ids: (flags of the rows that start a run, their positions, their ids).
    ``extra["defaulted_columns"]`` names ``pickup``/``dropoff`` when the file has no such column.
    """
    frame = _prepare(frame, "stop_times", path)
    raw_trip = frame["trip_id"]
    arr = _arrow_text(raw_trip)
    starts = _run_starts(arr) if arr is not None else None
    ids, head_text = _text_ids_runs(raw_trip, starts)
    rej = _Rejector("stop_times", frame, None, ids=ids)
    frame["trip_id"] = rej.ids
    stop_text, stop_code, stop_dict = _stop_text(frame["stop_id"])
    frame["stop_id"] = stop_text
    rej.reject(rej.ids.isna(), "missing-id", "trip_id is empty")
    rej.reject(frame["stop_id"].isna(), "missing-id", "stop_id is empty")
    raw_seq = frame["stop_sequence"]
    seq, bad = _ints_fast(raw_seq) or parse_ints(raw_seq)
    rej.reject(bad, "malformed-value", lambda m: "stop_sequence=" + _cell_text(raw_seq, m))
    frame["stop_sequence"] = seq
    dup = _duplicated_stops(rej.ids, seq, starts, head_text)
    rej.reject(dup, "duplicate-id", lambda m: same_as(frame, m, rej.ids, seq, what="trip_id and stop_sequence"))
    defaulted = tuple(col for col in ("pickup", "dropoff") if col not in frame.columns)
    for col in ("pickup", "dropoff"):
        if col in frame.columns:
            flags = _flags_fast(frame[col])
            if flags is None:
                text = frame[col].astype("string").str.strip()
                parsed, badb = parse_bools(text)
                if badb.any():
                    rej.reject(badb, "malformed-value",
                               lambda m, t=text, c=col: f"{c}=" + t[m].fillna("") + "; allowed 0/1")
                flags = parsed.where(text.notna() & (text != ""), True).astype(bool).to_numpy()
            frame[col] = pd.Series(flags, index=frame.index, copy=False)
        else:
            frame[col] = True
        frame[col] = frame[col].astype(bool)
    layer = _finish("stop_times", frame, rej, len(frame), path)
    if defaulted:  # an assumption the audit must say: every stop a boarding and alighting stop
        layer.extra["defaulted_columns"] = defaulted
    ok = rej._ok
    if stop_code is not None:
        layer.extra["stop_code"] = stop_code if ok.all() else stop_code[ok]
        layer.extra["stop_dict"] = stop_dict
    if starts is not None and head_text is not None and ok.all():  # the runs of trip ids, for the reference checks
        layer.extra["trip_runs"] = (starts, np.flatnonzero(starts), _arrow_text(head_text))
    return layer


#: ``Layer.extra`` entries that hold one value per row of ``frame`` (kept aligned by :func:`reject_rows`).
ROW_ALIGNED = ("stop_code", "trip_pos", "stop_pos")


def reject_rows(layer: Layer, mask: pd.Series | np.ndarray, reason: str,
                detail: pd.Series | str | _Detail = "") -> None:
    """Move rows of ``layer.frame`` where ``mask`` holds into ``layer.rejected`` (cross-layer checks).

    ``detail``: text, a Series aligned with the frame, or a callable giving the details of the rows of a boolean
    mask (computed for the rejected rows only)."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return
    bad = layer.frame[mask]
    id_col = {"trips": "trip_id", "stop_times": "trip_id", "stops": "stop_id", "checkpoints": "checkpoint_id"}[layer.name]
    if callable(detail):
        detail = detail(mask)
        det = (detail if isinstance(detail, pd.Series) else pd.Series(detail, dtype=object)).astype(str).to_numpy()
    else:
        det = detail[mask].astype(str).to_numpy() if isinstance(detail, pd.Series) else detail
    for key in ROW_ALIGNED:
        value = layer.extra.get(key)
        if isinstance(value, np.ndarray) and len(value) == len(mask):
            layer.extra[key] = value[~mask]
    layer.extra.pop("trip_runs", None)  # runs of trip ids: not those of the remaining rows
    extra = pd.DataFrame({
        "subject": SUBJECT.get(layer.name, layer.name), "subject_id": bad[id_col].astype(str).to_numpy(),
        "reason": reason, "detail": det, "row": bad["row"].astype("int64").to_numpy(),
        "source_row": source_rows(bad),
    })
    if isinstance(bad, gpd.GeoDataFrame):
        extra = gpd.GeoDataFrame(extra, geometry=bad.geometry.to_numpy(), crs="EPSG:4326")
    layer.rejected = pd.concat([layer.rejected, extra], ignore_index=True) if len(layer.rejected) else extra
    layer.frame = layer.frame[~mask]


def validate_risk_areas(frame: pd.DataFrame, path: str | None = None) -> Layer:
    """Risk designations in interval or snapshot form (see :mod:`transportmon.designations`).

    The usable designations are kept as intervals in ``extra["intervals"]``; ``frame`` keeps the usable input rows.
    """
    from .bulletin_dates import published_and_effective
    from .designations import DesignationFormError, normalize_designations

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
        bad_geom = (_present(geoms) & ~geoms.is_valid).to_numpy()
        if bad_geom.any():  # repair rather than reject: designation polygons are hand-drawn
            frame = frame.set_geometry(gpd.GeoSeries(_repair(geoms.to_numpy(), bad_geom), index=frame.index,
                                                     crs=frame.crs))
        # A geometry that cannot be an area is dropped; the row then stands on its adcode, or is rejected for it.
        geoms = frame.geometry
        present = _present(geoms)
        types = geoms.geom_type.where(present)
        b = geoms.bounds
        finite = pd.Series(np.isfinite(b.to_numpy()).all(axis=1), index=frame.index)
        in_range = finite & (b.minx >= -180) & (b.maxx <= 180) & (b.miny >= -90) & (b.maxy <= 90)
        wrong = present & ~types.isin(GEOMETRY_TYPES["risk_areas"])
        outside = present & ~wrong & ~in_range
        still_invalid = present & ~wrong & ~outside & ~geoms.is_valid
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
    # The date forms every other layer accepts (20200316, 2020年3月16日 8时 …): written as ISO for the designations,
    # an illegible cell left as it is for them to reject.
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
                 extra={"intervals": intervals})


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
