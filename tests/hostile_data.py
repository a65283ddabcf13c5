"""Hypothesis strategies for hostile layer input, and the invariants every validated layer keeps.

Every layer of DESIGN §2 gets a strategy that draws frames "as read": arbitrary rows, missing and extra columns
(Chinese aliases colliding with contract names included), None / NaN / empty and blank cells, huge and negative
numbers, dates in every form and out of range, duplicate ids, and for spatial layers swapped lon/lat, projected
metres given as degrees, non-finite, empty, invalid and wrong-type geometries.

:func:`assert_accounted` is the contract of DESIGN §3: every input row is either usable or rejected with a known
reason, exactly once, and the usable rows are clean.
"""

from __future__ import annotations

import math
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from hypothesis import strategies as st

from transportmon import layers as L
from transportmon.rules.inputs import REASON_RULE

#: Cells that mean something to one parser or another.
SPECIAL = [
    "", " ", "  \t", "nan", "NaN", "None", "null", "NULL", "NA", "-", "—", "0", "1", "-1", "45", "45.0", "45.5",
    "1e9", "1e308", "1e400", "-1e400", "inf", "-inf", "9" * 30, "-" + "9" * 25, "0x10", "007", " a ", "甲",
    "2020-03-16", "2020/3/16", "2020.03.16", "2020年3月16日", "20200316", "2020-03-16 08:00", "2020-02-30",
    "0001-01-01", "9999-12-31", "0000-01-01", "1900-02-29", "16/03/2020", "2020-3", "yesterday",
    "true", "false", "是", "否", "√", "×", "maybe", "2",
    "scheduled", "charter", "other", "班车", "包车", "省际班车", "旅游包车", "公交", "定制客运",
    "high", "medium", "low", "高", "中风险", "低风险地区", "HIGH RISK", "极高",
    "360403", "360402", "360400", "420000", "421127", "360403;360402", "36040", "3604030", "360403;x",
    "province", "city", "county", "省", "市", "区县", "县级", "town",
    "45座", "２３人", "１２",
]
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=8)
CELL = st.one_of(
    st.none(),
    st.just(float("nan")),
    st.sampled_from(SPECIAL),
    TEXT,
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)
#: Cells as a text table holds them (what a CSV or a GeoJSON string property gives).
TEXT_CELL = st.one_of(st.none(), st.sampled_from(SPECIAL), TEXT,
                      st.integers(min_value=-(10**20), max_value=10**20).map(str),
                      st.floats(allow_nan=False, allow_infinity=True).map(repr))
ID_POOL = ["a", "b", "c", "007", "7", "甲", "乙", " a", "a "]
ID_CELL = st.one_of(st.sampled_from(ID_POOL), CELL)

# ---------------------------------------------------------------------------------------------------- geometry


def _quiet(make: object) -> object:
    """Build a geometry without shapely's warnings about NaN coordinates (those are the point)."""
    def build(arg: object) -> object:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return make(arg)  # type: ignore[operator]

    return build


def _lonlat() -> st.SearchStrategy[tuple[float, float]]:
    return st.tuples(st.floats(-180, 180), st.floats(-90, 90))


def _china() -> st.SearchStrategy[tuple[float, float]]:
    return st.tuples(st.floats(113.5, 118.5), st.floats(28.0, 31.0))


BAD_XY = st.sampled_from([(float("nan"), float("nan")), (float("inf"), 30.0), (116.0, -float("inf")),
                          (1e300, 1e300), (-181.0, 0.0), (0.0, 91.0)])
XY = st.one_of(_china(), _china().map(lambda p: (p[1], p[0])),  # swapped lon/lat
               st.tuples(st.floats(2e5, 8e5), st.floats(3.0e6, 3.5e6)),  # UTM metres given as degrees
               _lonlat(), BAD_XY)
BOWTIE = shapely.from_wkt("POLYGON ((116 29, 117 30, 117 29, 116 30, 116 29))")
SPIKE_LINE = shapely.LineString([(116, 29), (116, 29)])
ODD = st.sampled_from([None, shapely.Point(), shapely.LineString(), shapely.Polygon(), BOWTIE, SPIKE_LINE,
                       shapely.GeometryCollection([shapely.Point(116, 29)]),
                       shapely.MultiPoint([(116, 29), (117, 30)]), shapely.Point(116, 29, 5)])


def points() -> st.SearchStrategy[object]:
    point = XY.map(_quiet(lambda p: shapely.points(*p)))
    return st.one_of(point, point, ODD)


def lines() -> st.SearchStrategy[object]:
    line = st.lists(XY, min_size=2, max_size=4).map(_quiet(shapely.linestrings))
    multi = st.lists(st.lists(_china(), min_size=2, max_size=3), min_size=1, max_size=2).map(
        lambda parts: shapely.multilinestrings([shapely.linestrings(p) for p in parts]))
    return st.one_of(line, line, multi, ODD, points())


def polygons() -> st.SearchStrategy[object]:
    def box(p: tuple[float, float], w: float) -> object:
        return shapely.box(p[0], p[1], p[0] + w, p[1] + w)

    return st.one_of(st.tuples(XY, st.floats(0.0, 2.0)).map(_quiet(lambda t: box(*t))),
                     st.tuples(_china(), st.floats(0.01, 1.0)).map(lambda t: box(*t)), ODD, lines())


GEOMETRY = {"roads": lines, "checkpoints": points, "stops": points, "boundaries": polygons, "risk_areas": polygons}

# ---------------------------------------------------------------------------------------------------- columns

#: Per layer: required columns, optional columns, alias headers that may collide with them.
COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "roads": (("road_id",), ("ref", "highway", "name", "road_class"), ("道路编号", "路线编号", "公路等级")),
    "checkpoints": (("checkpoint_id",), ("name", "opened", "closed", "turn_back", "blocks_freight"),
                    ("检测点编号", "卡点编号", "设立日期", "是否劝返", "名称")),
    "boundaries": (("adcode", "name", "level"), (), ("行政区划代码", "级别")),
    "risk_areas": (("level",), ("adcode", "adcodes", "valid_from", "valid_to", "as_of", "source", "derivation"),
                   ("风险等级", "生效日期", "发布日期", "行政区划代码")),
    "stops": (("stop_id",), ("name",), ("站点编号", "站点名称")),
    "trips": (("trip_id", "service_date", "service_type", "seats", "passengers"), ("route_id", "scope"),
              ("班次编号", "班次日期", "线路类型", "核定座位数", "实载人数")),
    "stop_times": (("trip_id", "stop_sequence", "stop_id"), ("pickup", "dropoff"),
                   ("班次编号", "站序", "站点编号", "上客")),
}
EXTRA = st.sampled_from(["note", "备注", "序号", "Unnamed: 0", "x1", "lon2", "ID", "Name", "road_ID ", "level2"])


@st.composite
def layer_frame(draw: st.DrawFn, layer: str, *, max_rows: int = 8, cell: st.SearchStrategy[object] = CELL,
                drop_required: float = 0.08) -> pd.DataFrame:
    """A frame of ``layer`` as read, possibly missing required columns, with extra and alias columns."""
    required, optional, aliases = COLUMNS[layer]
    cols = [c for c in required if not draw(st.floats(0, 1)) < drop_required]
    cols += [c for c in optional if draw(st.booleans())]
    cols += draw(st.lists(st.sampled_from(aliases), max_size=2, unique=True))
    cols += draw(st.lists(EXTRA, max_size=2, unique=True))
    cols = list(dict.fromkeys(cols))
    n = draw(st.integers(0, max_rows))
    id_cols = {"road_id", "checkpoint_id", "adcode", "stop_id", "trip_id", "检测点编号", "站点编号", "班次编号"}
    data = {c: draw(st.lists(ID_CELL if c in id_cols else cell, min_size=n, max_size=n)) for c in cols}
    frame = pd.DataFrame(data, columns=cols, index=range(n), dtype=object)
    make_geo = layer in GEOMETRY and (layer != "risk_areas" or draw(st.booleans()))
    if make_geo:
        geoms = draw(st.lists(GEOMETRY[layer](), min_size=n, max_size=n))
        frame = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, index=frame.index, dtype="geometry"),
                                 crs="EPSG:4326")
    return frame


def as_text_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as a text file holds it: every attribute str or None (what CSV and GeoJSON strings give)."""
    out = frame.copy()
    for c in out.columns:
        if isinstance(out, gpd.GeoDataFrame) and c == out.geometry.name:
            continue
        out[c] = pd.Series([None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
                            for v in out[c]], index=out.index, dtype=object)
    return out


# ---------------------------------------------------------------------------------------------------- invariants

KNOWN_REASONS = set(REASON_RULE)


def expected_error(layer: str, frame: pd.DataFrame) -> bool:
    """Whether validation must refuse the frame as a whole (a missing required column, a risk form error)."""
    renamed = L.rename_aliases(frame)
    cols = set(map(str, renamed.columns))
    if layer == "risk_areas":
        has_geom = isinstance(frame, gpd.GeoDataFrame)
        # as_of with valid_from is the interval form, as_of kept as published (transportmon.bulletin_dates)
        return ("level" not in cols or not cols & {"as_of", "valid_from"}
                or not (cols & {"adcode", "adcodes"} or has_geom))
    missing = [c for c in L.REQUIRED[layer] if c not in cols]
    return bool(missing) and len(frame) > 0


def assert_accounted(layer: L.Layer, n: int) -> None:
    """Every input row is usable or rejected (with a known reason), exactly once; usable rows are clean."""
    frame, rej = layer.frame, layer.rejected
    assert layer.rows == n
    assert len(frame) + len(rej) == n, (len(frame), len(rej), n)
    rows = sorted([*frame["row"].astype(int), *rej["row"].astype(int)])
    assert rows == list(range(n))
    if len(rej):
        assert set(rej["reason"]) <= KNOWN_REASONS, set(rej["reason"]) - KNOWN_REASONS
        assert rej["subject_id"].map(lambda s: isinstance(s, str) and s != "").all()
        if "geometry" in rej.columns:
            g = gpd.GeoSeries(rej["geometry"]).dropna()
            if len(g):
                assert g.is_valid.all()
                b = g.bounds
                assert ((b.minx >= -180) & (b.maxx <= 180) & (b.miny >= -90) & (b.maxy <= 90)).all()
    if not len(frame):
        return
    if layer.name in L.GEOMETRY_TYPES and layer.name != "risk_areas":
        g = frame.geometry
        assert g.notna().all() and not g.is_empty.any() and g.is_valid.all()
        assert g.geom_type.isin(L.GEOMETRY_TYPES[layer.name]).all()
        b = g.bounds
        assert ((b.minx >= -180) & (b.maxx <= 180) & (b.miny >= -90) & (b.maxy <= 90)).all()
    id_col = {"roads": "road_id", "checkpoints": "checkpoint_id", "boundaries": "adcode", "stops": "stop_id",
              "trips": "trip_id", "stop_times": "trip_id"}.get(layer.name)
    if id_col:
        assert frame[id_col].notna().all()
    if layer.name in ("checkpoints", "boundaries", "stops", "trips"):
        assert frame[id_col].is_unique
    if layer.name == "checkpoints":
        assert frame["turn_back"].map(lambda v: isinstance(v, (bool, np.bool_))).all()
        both = frame["opened"].notna() & frame["closed"].notna()
        assert (frame.loc[both, "closed"] > frame.loc[both, "opened"]).all()
    if layer.name == "boundaries":
        assert frame["adcode"].str.fullmatch(r"\d{6}").all()
        assert frame["level"].isin(["province", "city", "county"]).all()
    if layer.name == "trips":
        assert frame["service_date"].notna().all()
        assert frame["service_type"].isin(["scheduled", "charter", "other"]).all()
        assert (frame["seats"] > 0).all() and (frame["passengers"] >= 0).all()
        assert (frame["passengers"] <= frame["seats"]).all()
    if layer.name == "stop_times":
        assert frame["stop_id"].notna().all() and frame["stop_sequence"].notna().all()
        assert not frame[["trip_id", "stop_sequence"]].duplicated().any()
        assert frame["pickup"].dtype == bool and frame["dropoff"].dtype == bool
    if layer.name == "risk_areas":
        iv = layer.intervals
        assert set(iv["row"]) <= set(frame["row"])
        assert iv["level"].isin(["low", "medium", "high"]).all()
        assert iv["valid_from"].notna().all()
