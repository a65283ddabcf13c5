"""The column checks rewritten for ten million rows (issue 17) give what their plain pandas versions give.

Each check in ``transportmon.layers.cells``, ``transportmon.io.read`` and ``transportmon.geo.admin`` that was
rewritten to work in Arrow kernels, per distinct value or chunk by chunk is compared here with a plain version (the
code before, or the obvious pandas expression) on hypothesis-made columns: ids with surrounding white space of every
kind, ``.0`` endings, empty and missing cells, in several Arrow chunks; columns long enough (≥ 4096 rows) for the
per-distinct-value path.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import shapely
import world
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transportmon.geo.admin import LEVEL_RANK, locate, locate_arrays, point_hits
from transportmon.io.parquet import parquet_wide
from transportmon.io.read import blank_cells
from transportmon.layers.cells import (
    as_text,
    duplicated_ids,
    duplicated_stops,
    flags_fast,
    increasing,
    ints_fast,
    parse_bools,
    parse_ints,
    rises_in_runs,
    run_starts,
    same_text,
    service_types,
    stripped_service_types,
    take_rows,
    text_flags,
    text_ids_runs,
)

settings.register_profile("read_columns", max_examples=120, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PROFILE = settings.get_profile("read_columns")

#: White space of every kind pandas' and Arrow's strip know (ideographic, no-break, em space, tab, line feed, the
#: information separators), and characters that are not white space.
SPACES = [" ", "\t", "\n", "\u3000", "\xa0", "\u2003", "\x1c", "\u200b", "\ufeff"]
POOL = ["T1", "T2", "T10", "4", "4.0", "4.00", ".0", "站1", "", "a b"]


@st.composite
def texts(draw: st.DrawFn, max_size: int = 40) -> list[str | None]:
    base = draw(st.lists(st.one_of(st.sampled_from(POOL), st.none()), max_size=max_size))
    out: list[str | None] = []
    for v in base:
        if v is not None and draw(st.booleans()):
            v = draw(st.sampled_from(SPACES)) * draw(st.integers(0, 2)) + v + draw(st.sampled_from(SPACES)) * \
                draw(st.integers(0, 1))
        out.append(v)
    return out


@st.composite
def chunked(draw: st.DrawFn, values: list[str | None]) -> pa.ChunkedArray:
    """``values`` as a large_string array cut into chunks at random places (as Parquet row groups and CSV blocks)."""
    cuts = sorted(draw(st.lists(st.integers(0, len(values)), max_size=4)))
    bounds = [0, *cuts, len(values)]
    return pa.chunked_array([pa.array(values[a:b], pa.large_string()) for a, b in zip(bounds[:-1], bounds[1:])],
                            type=pa.large_string())


def series(arr: pa.ChunkedArray) -> pd.Series:
    """A pandas ``str`` column over ``arr``, as ``read_table`` gives text."""
    return pd.Series(pd.arrays.ArrowStringArray(arr), copy=False).astype("str")


# ---------------------------------------------------------------------------------------------------------------
# References: the code before, verbatim, or the plain pandas expression


def ref_same_text(values: pd.Series) -> bool:
    text = values.astype("string")
    stripped = text.str.strip()
    if not (stripped == text).fillna(True).all():
        return False
    return not (stripped.str.endswith(".0").fillna(False).any() or (stripped == "").fillna(False).any())


def ref_text_ids_runs(values: pd.Series, starts: np.ndarray) -> tuple[pd.Series, pd.Series]:
    heads = np.flatnonzero(starts)
    probe = values if len(heads) == len(values) else values.iloc[heads]
    if ref_same_text(probe):
        return values.astype("string"), probe.astype("string")
    text = as_text(probe)
    if probe is values:
        return text, text
    return pd.Series(text.array.take(np.cumsum(starts) - 1), index=values.index), text


def ref_blank(values: pd.Series) -> np.ndarray:
    cell = values.astype("string")
    return (cell.isna() | (cell.str.strip() == "")).fillna(True).to_numpy(dtype=bool)


# ---------------------------------------------------------------------------------------------------------------
# Properties


@settings(PROFILE)
@given(st.data())
def test_same_text(data: st.DataObject) -> None:
    arr = data.draw(chunked(data.draw(texts())))
    assert same_text(arr) == ref_same_text(series(arr))


@settings(PROFILE)
@given(st.data())
def test_take_rows(data: st.DataObject) -> None:
    arr = data.draw(chunked(data.draw(texts())))
    rows = np.array(sorted(data.draw(st.sets(st.integers(0, max(len(arr) - 1, 0)), max_size=len(arr)))),
                    dtype=np.int64)[:len(arr)]
    got = take_rows(arr, rows)
    assert got.type == arr.type and got.to_pylist() == arr.take(pa.array(rows, pa.int64())).to_pylist()


@settings(PROFILE)
@given(st.data())
def test_text_ids_of_runs(data: st.DataObject) -> None:
    runs = data.draw(st.lists(st.tuples(st.sampled_from([*POOL[:4], " T1", "T1 ", "4.0", None]),
                                        st.integers(1, 3)), max_size=12))
    arr = data.draw(chunked([v for v, k in runs for _ in range(k)]))
    values = series(arr)
    starts = run_starts(arr)
    got, got_heads = text_ids_runs(values, starts)
    want, want_heads = ref_text_ids_runs(values, starts)
    pd.testing.assert_series_equal(got, want, check_exact=True)
    assert got_heads.to_pylist() == [None if pd.isna(v) else v for v in want_heads.tolist()]


@settings(PROFILE)
@given(st.data())
def test_increasing(data: st.DataObject) -> None:
    arr = data.draw(chunked(data.draw(st.lists(st.one_of(st.sampled_from(["A", "B", "C", "D"]), st.none()),
                                               max_size=8))))
    present = [v for v in arr.to_pylist() if v is not None]
    assert increasing(arr) == all(a < b for a, b in zip(present, present[1:]))


@settings(PROFILE)
@given(st.data())
def test_duplicated_ids(data: st.DataObject) -> None:
    """Sorted or not (a GTFS feed lists trips by route), with missing ids and repeats: pandas' answer."""
    values = data.draw(st.lists(st.one_of(st.sampled_from(["T1", "T10", "T2", "九江", "é"]), st.none()), max_size=12))
    if data.draw(st.booleans()):
        values = sorted(set(v for v in values if v is not None))  # strictly increasing: the neighbours' path
    arr = data.draw(chunked(values))
    ids = series(arr)
    want = (ids.notna() & ids.duplicated(keep="first")).to_numpy(dtype=bool)
    np.testing.assert_array_equal(duplicated_ids(ids), want)
    np.testing.assert_array_equal(duplicated_ids(ids.astype(object)), want)  # not Arrow text: pandas itself


@settings(PROFILE)
@given(st.data())
def test_duplicated_stops(data: st.DataObject) -> None:
    runs = data.draw(st.lists(st.tuples(st.sampled_from(["T1", "T2", "T3", None]), st.integers(1, 4)), max_size=10))
    trips = [t for t, k in runs for _ in range(k)]
    rising = data.draw(st.booleans())
    seq = [i + 1 for _, k in runs for i in range(k)] if rising else \
        data.draw(st.lists(st.one_of(st.integers(-2, 3), st.none()), min_size=len(trips), max_size=len(trips)))
    arr = data.draw(chunked(trips))
    trip = series(arr).astype("string")
    sequence = pd.Series(seq, dtype="Int64")
    present = (trip.notna() & sequence.notna()).to_numpy(dtype=bool)
    want = pd.DataFrame({"t": trip, "s": sequence}).duplicated(keep="first").to_numpy(dtype=bool) & present
    starts = run_starts(arr)
    np.testing.assert_array_equal(duplicated_stops(trip, sequence, starts), want)
    np.testing.assert_array_equal(duplicated_stops(trip, sequence, None), want)


@settings(PROFILE)
@given(st.lists(st.integers(-3, 3), max_size=40), st.data())
def test_rises_in_runs(values: list[int], data: st.DataObject) -> None:
    seq = np.array(values, dtype=np.int64)
    starts = np.array(data.draw(st.lists(st.booleans(), min_size=len(seq), max_size=len(seq))), dtype=bool)
    want = bool(((seq[1:] > seq[:-1]) | starts[1:]).all())
    assert rises_in_runs(seq, starts, block=data.draw(st.integers(1, 5))) == want
    assert rises_in_runs(seq, starts) == want


@settings(PROFILE)
@given(st.lists(st.integers(-5, 5), min_size=1, max_size=20), st.data())
def test_ints_fast_takes_only_equal_wide_values(values: list[int], data: st.DataObject) -> None:
    column = pd.Series(values, dtype="int32")
    want = ints_fast(column)
    wide = np.array(values, dtype=np.int64)
    if data.draw(st.booleans()):  # other values: not taken
        wide[data.draw(st.integers(0, len(values) - 1))] += 1
    got = ints_fast(column, wide)
    pd.testing.assert_series_equal(got[0], want[0], check_exact=True)
    np.testing.assert_array_equal(got[1], want[1])
    taken = np.shares_memory(got[0].to_numpy(dtype=np.int64), wide)
    assert taken == bool(np.array_equal(wide, values))


@settings(PROFILE, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.one_of(st.integers(-2**40, 2**40), st.none()), max_size=30), st.integers(1, 7),
       st.sampled_from(["int64", "int32", "uint32", "uint64", "float64"]))
def test_parquet_wide(tmp_path_factory, values: list[int | None], batch: int, kind: str) -> None:
    """Whole numbers as int64, batch by batch; a column with a missing value, or of a type that may not fit, is not
    made."""
    path = tmp_path_factory.mktemp("wide") / "stop_times.parquet"
    if kind in ("int32", "uint32", "uint64"):
        values = [None if v is None else abs(v) % 2**31 for v in values]
    typ = {"int64": pa.int64(), "int32": pa.int32(), "uint32": pa.uint32(), "uint64": pa.uint64(),
           "float64": pa.float64()}[kind]
    pq.write_table(pa.table({"trip_id": pa.array(["T1"] * len(values)), "站序": pa.array(values, typ)}), path,
                   row_group_size=3)
    got = parquet_wide(path, ("stop_sequence",), batch_rows=batch)
    if None in values or kind in ("uint64", "float64"):
        assert got == {}
    else:
        assert list(got) == ["stop_sequence"] and got["stop_sequence"].dtype == np.int64
        np.testing.assert_array_equal(got["stop_sequence"], np.array(values, dtype=np.int64))


@settings(PROFILE)
@given(st.data())
def test_blank_cells(data: st.DataObject) -> None:
    values = data.draw(st.lists(st.one_of(st.sampled_from(["", "x", " x ", "0"]), st.none(),
                                          st.lists(st.sampled_from(SPACES), min_size=1, max_size=3).map("".join)),
                                max_size=30))
    arr = data.draw(chunked(values))
    np.testing.assert_array_equal(blank_cells(series(arr)), ref_blank(series(arr)))
    objects = pd.Series(values, dtype=object)  # a workbook's cells: the pandas path
    np.testing.assert_array_equal(blank_cells(objects), ref_blank(objects))


def test_white_space_is_one_definition() -> None:
    """``blank_cells`` uses Arrow's utf8_is_space for ``str.strip() == ""``: the same characters, every one."""
    points = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    chars = pa.array([chr(c) for c in points], pa.large_string())
    stripped_away = pc.equal(pc.utf8_trim_whitespace(chars), "").to_numpy(zero_copy_only=False)
    np.testing.assert_array_equal(pc.utf8_is_space(chars).to_numpy(zero_copy_only=False), stripped_away)
    assert stripped_away.sum() == sum(1 for c in points if chr(c).strip() == "")  # and Python's too


@st.composite
def long_column(draw: st.DrawFn, pool: list[str | None]) -> pd.Series:
    """A column of ≥ 4096 rows over a few distinct values (the per-distinct-value path), as ``str``."""
    distinct = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=8))
    picks = draw(st.lists(st.integers(0, len(distinct) - 1), min_size=1, max_size=50))
    rows = [distinct[picks[i % len(picks)]] for i in range(4096 + draw(st.integers(0, 50)))]
    return pd.Series(rows, dtype="str")


FLAGS = ["0", "1", " 1", "0 ", "", "  ", "是", "否", "yes", "2", "-0.0", "1.0", None, "\u30001"]
TYPES = ["scheduled", " charter", "班车 ", "省际班车", "旅游包车", "bus?", "", None, "\u3000其他"]


@settings(PROFILE)
@given(long_column(FLAGS))
def test_text_flags(values: pd.Series) -> None:
    """pickup/dropoff text parsed per distinct raw value gives what stripping every row, then parsing, gave."""
    text = values.astype("string").str.strip()
    parsed, bad = parse_bools(text)
    want = parsed.where(text.notna() & (text != ""), True).astype(bool)
    got_flags, got_bad = text_flags(values.astype("string"))
    np.testing.assert_array_equal(got_flags.to_numpy(dtype=bool), want.to_numpy(dtype=bool))
    np.testing.assert_array_equal(got_bad.to_numpy(dtype=bool), bad.to_numpy(dtype=bool))
    short = values.iloc[:50]  # fewer rows: parsed directly
    np.testing.assert_array_equal(text_flags(short.astype("string"))[0].to_numpy(dtype=bool),
                                  want.iloc[:50].to_numpy(dtype=bool))


@settings(PROFILE)
@given(long_column(TYPES))
def test_stripped_service_types(values: pd.Series) -> None:
    want = service_types(values.astype("string").str.strip())
    pd.testing.assert_series_equal(stripped_service_types(values), want, check_exact=True)


# ---------------------------------------------------------------------------------------------------------------
# Stops located with their point-in-polygon pairs computed apart (on the second thread)


def _codes(values: pd.Series | np.ndarray) -> pd.Series:
    text = pd.Series(values).astype("string").str.strip().str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
    return text.mask(text == "")


def _prefix_codes(adcode: pd.Series) -> tuple[pd.Series, pd.Series]:
    text = adcode.astype("string")
    return text.str[:4] + "00", text.str[:2] + "0000"


def ref_locate(points: gpd.GeoSeries, boundaries: gpd.GeoDataFrame) -> pd.DataFrame:
    """``transportmon.geo.admin.locate`` before issue 17, verbatim (for boundaries without ``city_adcode`` and
    ``province_adcode`` columns), with its helpers above."""
    n = len(points)
    out = pd.DataFrame({"county": pd.Series([pd.NA] * n, dtype="string"),
                        "city": pd.Series([pd.NA] * n, dtype="string"),
                        "province": pd.Series([pd.NA] * n, dtype="string")}, index=points.index)
    if not n or boundaries is None or not len(boundaries):
        return out
    polys = boundaries.geometry.to_numpy()
    tree = shapely.STRtree(polys)
    pts = points.to_numpy()
    valid = ~(pd.isna(pts) | shapely.is_empty(pts))
    pi, gi = tree.query(pts[valid])
    shapely.prepare(polys)
    hit = shapely.intersects(polys[gi], pts[valid][pi])
    pi, gi = np.flatnonzero(valid)[pi[hit]], gi[hit]
    hits = pd.DataFrame({"p": pi, "adcode": _codes(boundaries["adcode"]).to_numpy()[gi],
                         "rank": boundaries["level"].map(LEVEL_RANK).to_numpy()[gi], "g": gi})
    if not len(hits):
        return out
    pref_city, pref_prov = _prefix_codes(hits["adcode"])
    hits["city"] = pref_city.to_numpy()
    hits["province"] = pref_prov.to_numpy()
    best = hits.sort_values(["p", "rank", "adcode"], ascending=[True, False, True]).drop_duplicates("p")
    rank = best["rank"].to_numpy()
    rows = best["p"].to_numpy()
    out.iloc[rows, 0] = np.where(rank == 2, best["adcode"].to_numpy(), None)
    out.iloc[rows, 1] = np.where(rank >= 1, np.where(rank == 1, best["adcode"].to_numpy(),
                                                     best["city"].to_numpy()), None)
    out.iloc[rows, 2] = np.where(rank == 0, best["adcode"].to_numpy(), best["province"].to_numpy())
    return out


@settings(PROFILE)
@given(st.lists(st.one_of(st.tuples(st.floats(-120, 220), st.floats(-20, 220)), st.none(), st.just("empty")),
                max_size=12))
def test_locate_apart(points_km: list) -> None:
    county = world.to_wgs([world.box(0, 0, 40, 40)], adcode=["360403"], name=["浔阳区"], level=["county"])
    bounds = gpd.GeoDataFrame(pd.concat([world.boundaries(), county], ignore_index=True), crs="EPSG:4326")
    geoms = [None if p is None else shapely.Point() if p == "empty" else shapely.Point(world.m(*p))
             for p in points_km]
    points = gpd.GeoSeries(geoms, crs=world.CRS_M).to_crs("EPSG:4326")
    want = ref_locate(points, bounds)
    pd.testing.assert_frame_equal(locate(points, bounds), want, check_exact=True)
    arrays = locate_arrays(points, bounds)
    if arrays is not None:
        pd.testing.assert_frame_equal(locate(points, bounds, point_hits(*arrays)), want, check_exact=True)


TEXT_CELLS = st.one_of(st.integers(-2**60, 2**60).map(str), st.integers(0, 60).map(str),
                       st.sampled_from(["", "007", "+5", " 5", "5 ", "5.0", "1e3", "45座", "９", "x", "-0", "0",
                                        "1", "9007199254740992", "-9007199254740991", "true"]), st.none())


@settings(PROFILE)
@given(st.lists(TEXT_CELLS, min_size=1, max_size=25), st.booleans())
def test_ints_fast_on_text_reads_as_parse_ints(cells: list[str | None], chunked: bool) -> None:
    """A CSV's text column: where the fast way answers (every cell a plainly written whole number within ±2^53),
    its values are parse_ints' and nothing is malformed; otherwise parse_ints reads it."""
    arr = pa.array(cells, pa.large_string())
    if chunked and len(cells) > 1:
        arr = pa.chunked_array([arr.slice(0, 1), arr.slice(1)])
    column = pd.Series(pd.array(arr, dtype="str"))
    got = ints_fast(column)
    plain = all(c is not None and c.lstrip("-").isdigit() and c.isascii() and str(int(c)) == c
                and abs(int(c)) < 2**53 for c in cells)
    assert (got is not None) == plain
    if got is not None:
        want = parse_ints(column)
        pd.testing.assert_series_equal(got[0], want[0], check_exact=True)
        np.testing.assert_array_equal(got[1], want[1].to_numpy(dtype=bool))
        assert not got[1].any()


FLAG_CELLS = st.one_of(st.sampled_from(["0", "1", "", " 1", "1.0", "true", "是", "2", "-0"]), st.none())


@settings(PROFILE)
@given(st.lists(FLAG_CELLS, min_size=1, max_size=25))
def test_flags_fast_on_text_reads_as_text_flags(cells: list[str | None]) -> None:
    """pickup/dropoff text of only "0", "1" and empty cells: the fast way's flags are text_flags'; any other word
    is left to text_flags (which says what is malformed)."""
    column = pd.Series(pd.array(pa.array(cells, pa.large_string()), dtype="str"))
    got = flags_fast(column)
    assert (got is not None) == all(c in ("0", "1", "", None) for c in cells)
    if got is not None:
        want, bad = text_flags(column.astype("string"))
        np.testing.assert_array_equal(got, want.to_numpy(dtype=bool))
        assert not bad.any()
