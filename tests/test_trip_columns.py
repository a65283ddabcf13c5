"""The column kernels of the trip audit against their plain definitions (property-based)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from transportmon.rules.trips import _first_in_trip


@settings(max_examples=200, deadline=None, derandomize=True)
@given(sizes=st.lists(st.integers(1, 40), max_size=30), stops=st.integers(1, 6), window=st.sampled_from([1, 2, 16]),
       seed=st.integers(0, 2**16))
def test_first_in_trip_is_first_occurrence_of_each_trip_stop_pair(sizes: list[int], stops: int, window: int,
                                                                  seed: int) -> None:
    """Short trips take the lag comparisons, long ones (more rows than ``window``) the hash: both give exactly
    the rows whose (trip, stop) pair did not occur earlier."""
    rng = np.random.default_rng(seed)
    trip = np.repeat(np.arange(len(sizes)), sizes).astype(np.int64)
    stop = rng.integers(-1, stops, len(trip))  # -1: a stop with no position
    expected = ~pd.DataFrame({"t": trip, "s": stop}).duplicated().to_numpy()
    np.testing.assert_array_equal(_first_in_trip(trip, stop, window=window), expected)


def test_first_in_trip_round_trip_keeps_the_first_visit() -> None:
    trip = np.array([0, 0, 0, 1, 1])
    stop = np.array([5, 7, 5, 5, 5])
    assert _first_in_trip(trip, stop).tolist() == [True, True, False, True, False]
    assert _first_in_trip(np.zeros(0, np.int64), np.zeros(0, np.int64)).tolist() == []
