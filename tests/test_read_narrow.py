"""Reading Parquet in narrower types (``transportmon/io/narrow.py``) gives what ``pandas.read_parquet`` gives.

The reference is the plain read the package did before the fast path: ``pd.read_parquet(path)``, with
``read_dictionary`` for ``stop_id``. Random trips and stop_times tables, written the ordinary way
(``df.to_parquet()``: int64 numbers, nullable integers, ``large_string`` text with blanks and spaces, huge values
that do not fit the narrow types), must read to the same columns, index and values, and validate to the same layer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transportmon import layers as L
from transportmon.io.narrow import NARROW_INTS, narrow_schema
from transportmon.io.read import read_table

settings.register_profile("read_narrow", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

HUGE = [2**31, -(2**31) - 1, 2**40, 300, -129]
TEXT = ["T1", "T2", " T3", "", None, "S1", "7.0", "站1"]


def reference(path, dictionary: tuple[str, ...] = ()) -> pd.DataFrame:
    """The read before the fast path: pandas, with stop_id as a dictionary when it is text."""
    schema = pq.read_schema(path)
    wanted = [n for n in schema.names if n in dictionary
              and (pa.types.is_string(schema.field(n).type) or pa.types.is_large_string(schema.field(n).type))]
    return pd.read_parquet(path, read_dictionary=wanted) if wanted else pd.read_parquet(path)


def assert_same_read(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Same columns, index and values; a column may be of a narrower integer type than the reference's."""
    assert list(got.columns) == list(want.columns)
    pd.testing.assert_index_equal(got.index, want.index, exact=True)
    for col in want.columns:
        g, w = got[col], want[col]
        if g.dtype != w.dtype:
            assert col in NARROW_INTS and g.dtype.kind == w.dtype.kind == "i", (col, g.dtype, w.dtype)
            assert g.dtype.itemsize < w.dtype.itemsize
            g = g.astype(w.dtype)
        pd.testing.assert_series_equal(g, w, check_exact=True)


def assert_same_layer(got: L.Layer, want: L.Layer) -> None:
    pd.testing.assert_frame_equal(got.frame, want.frame, check_exact=True, check_index_type=True)
    pd.testing.assert_frame_equal(got.rejected, want.rejected, check_exact=True, check_index_type=True)
    assert got.rows == want.rows


@st.composite
def ints(draw: st.DrawFn, n: int, small: list[int]) -> pd.Series:
    kind = draw(st.sampled_from(["int64", "int64", "Int64", "int32", "huge"]))
    if kind == "huge":
        return pd.Series(draw(st.lists(st.sampled_from(small + HUGE), min_size=n, max_size=n)), dtype="int64")
    if kind == "Int64":
        return pd.Series(draw(st.lists(st.sampled_from([*small, None]), min_size=n, max_size=n)), dtype="Int64")
    return pd.Series(draw(st.lists(st.sampled_from(small), min_size=n, max_size=n)), dtype=kind)


def text(draw: st.DrawFn, n: int, pool: list[str | None]) -> pd.Series:
    values = draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n))
    return pd.Series(values, dtype=draw(st.sampled_from(["str", "object"])))


@st.composite
def stop_times(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(0, 12))
    frame = pd.DataFrame({
        "trip_id": text(draw, n, TEXT),
        "stop_sequence": draw(ints(n, [1, 2, 3, 0, -1])),
        "stop_id": text(draw, n, ["S1", "S2", " S3", "", None]),
    })
    for col in ("pickup", "dropoff"):
        if draw(st.booleans()):
            frame[col] = draw(ints(n, [0, 1, 1, 2]))
    return frame


@st.composite
def trips(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(0, 12))
    return pd.DataFrame({
        "trip_id": text(draw, n, [f"T{k}" for k in range(20)] + [None, " T1"]),
        "service_date": text(draw, n, ["2020-03-16", "2020/3/1", "bad", "", None]),
        "service_type": text(draw, n, ["scheduled", "班车", "x", None]),
        "seats": draw(ints(n, [45, 53, 0, -1])),
        "passengers": draw(ints(n, [0, 22, 60, -1])),
    })


@settings(settings.get_profile("read_narrow"))
@given(stop_times())
def test_stop_times_read_as_before(tmp_path_factory, frame: pd.DataFrame) -> None:
    path = tmp_path_factory.mktemp("st") / "stop_times.parquet"
    frame.to_parquet(path)
    got, want = read_table(path, dictionary=("stop_id",)), reference(path, ("stop_id",))
    assert_same_read(got, want)
    assert_same_layer(L.validate_stop_times(got), L.validate_stop_times(want))


@settings(settings.get_profile("read_narrow"))
@given(trips())
def test_trips_read_as_before(tmp_path_factory, frame: pd.DataFrame) -> None:
    path = tmp_path_factory.mktemp("trips") / "trips.parquet"
    frame.to_parquet(path)
    got, want = read_table(path), reference(path)
    assert_same_read(got, want)
    assert_same_layer(L.validate_trips(got), L.validate_trips(want))


def test_narrow_when_the_values_fit(tmp_path) -> None:
    path = tmp_path / "stop_times.parquet"
    pd.DataFrame({"trip_id": ["T1", "T1"], "stop_sequence": [1, 2], "stop_id": ["S1", "S2"],
                  "pickup": [1, 0], "dropoff": [0, 1]}).to_parquet(path)
    frame = read_table(path, dictionary=("stop_id",))
    assert pq.read_schema(path).field("trip_id").type == pa.large_string()
    assert frame["stop_sequence"].dtype == np.int32
    assert frame["pickup"].dtype == np.int8 and frame["dropoff"].dtype == np.int8
    assert isinstance(frame["stop_id"].dtype, pd.CategoricalDtype)
    assert frame["trip_id"].dtype == pd.api.types.pandas_dtype("str")


@pytest.mark.parametrize("value", [2**31, -(2**31) - 1])
def test_wide_when_a_value_does_not_fit(tmp_path, value: int) -> None:
    """int32's bounds: one past either end reads the file's int64; the bound itself still narrows."""
    path = tmp_path / "trips.parquet"
    pd.DataFrame({"trip_id": ["T1"], "seats": [value], "passengers": [1]}).to_parquet(path)
    assert read_table(path)["seats"].dtype == np.int64
    edge = value - 1 if value > 0 else value + 1
    pd.DataFrame({"trip_id": ["T1"], "seats": [edge], "passengers": [1]}).to_parquet(path)
    frame = read_table(path)
    assert frame["seats"].dtype == np.int32 and int(frame["seats"].iloc[0]) == edge


def test_other_types_left_to_pandas() -> None:
    """A timestamp or float column (typed inputs) is read by pandas as before; aliases are narrowed by contract name."""
    schema = pa.schema([("trip_id", pa.large_string()), ("service_date", pa.timestamp("ms"))])
    assert narrow_schema(schema, ["trip_id", "service_date"], []) is None
    schema = pa.schema([("座位数", pa.int64()), ("trip_id", pa.string())])
    assert narrow_schema(schema, ["seats", "trip_id"], []).field("座位数").type == pa.int32()
    assert narrow_schema(pa.schema([("trip_id", pa.string()), ("seats", pa.int16())]), ["trip_id", "seats"],
                         []) is None  # nothing narrower to read
