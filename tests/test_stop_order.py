"""The stop rows' order (:func:`transportmon.rules.trips.stop_order`): rows already sorted by (trip position,
stop_sequence) are seen to be so a block at a time (:func:`~transportmon.rules.trips.in_stop_order`), which must say
what one comparison of whole sort keys says, whatever the blocks; rows out of order are sorted, stably."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transportmon.rules import trips as trip_rules


def reference_in_order(trip_pos: np.ndarray, seq: np.ndarray) -> bool:
    key = [(int(t), int(s)) for t, s in zip(trip_pos, seq)]
    return all(a <= b for a, b in zip(key, key[1:]))


rows = st.lists(st.tuples(st.integers(-1, 4), st.integers(-3, 5)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(rows=rows, block=st.sampled_from([1, 2, 3, 7, 1 << 18]), sort=st.booleans())
def test_in_stop_order_is_one_comparison_of_the_keys(rows: list[tuple[int, int]], block: int, sort: bool) -> None:
    if sort:
        rows = sorted(rows)
    trip_pos = np.array([r[0] for r in rows], dtype=np.int64)
    seq = np.array([r[1] for r in rows], dtype=np.int64)
    old = trip_rules.ORDER_BLOCK
    trip_rules.ORDER_BLOCK = block  # blocks that end between any two rows
    try:
        got = trip_rules.in_stop_order(trip_pos, seq)
        order = trip_rules.stop_order(trip_pos, seq)
    finally:
        trip_rules.ORDER_BLOCK = old
    assert got == reference_in_order(trip_pos, seq)
    want = sorted(range(len(rows)), key=lambda i: (rows[i][0], rows[i][1]))  # stable: ties keep the rows' order
    assert order.tolist() == want
    if got:
        assert order.tolist() == list(range(len(rows)))


@pytest.mark.parametrize("at", [0, 1, (1 << 18) - 1, 1 << 18, (1 << 18) + 1])
def test_one_row_out_of_order_is_found_at_a_block_edge(at: int) -> None:
    n = (1 << 18) + 3
    trip_pos = np.arange(n, dtype=np.int64) // 3
    seq = np.arange(n, dtype=np.int64) % 3
    assert trip_rules.in_stop_order(trip_pos, seq)
    seq[at + 1] = -1  # the row after ``at`` now comes before it within its trip
    assert trip_rules.in_stop_order(trip_pos, seq) == bool(trip_pos[at] != trip_pos[at + 1])
