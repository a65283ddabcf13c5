"""Checks across layers: every stop_times row names a known trip and a usable stop; every trip has stops, all usable
and inside the boundaries. Offending rows move to their layer's rejected rows, with the reason and a detail."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .._arrow import index_in
from ..geo.admin import locate
from .cells import arrow_text, run_starts, take_rows
from .reject import reject_rows
from .schema import Layer

#: Why a trip is rejected for its stop rows, in the order they are decided (a trip gets the first that holds).
TRIP_REASONS = ("unknown-stop", "bad-stop-times", "stop-outside-boundaries", "trip-without-stops")


def check_trip_references(layers: dict[str, Layer], located: pd.DataFrame | None = None) -> None:
    """Reject stop_times rows whose trip is unknown (``unknown-trip``) or whose stop is not a usable stop
    (``unknown-stop``), then trips with an unknown stop, another unusable stop row (``bad-stop-times``), a stop in no
    boundary polygon (``stop-outside-boundaries``) or no usable stop row (``trip-without-stops``).

    ``layers`` holds ``trips``, ``stop_times``, ``stops`` (and ``boundaries`` unless ``located`` is given: the admin
    units of each stop, indexed by ``stop_id``). Every lookup is an Arrow hash join on integer codes: each stop_times
    row's trip as a position among the distinct trip ids, looked up once per run of equal ids when rows of one trip
    are consecutive (validation leaves the runs in ``codes.trip_runs``), and its stop once per distinct stop when
    validation left dictionary codes (``codes.stop_code``). Trip ids may repeat in a layer built by hand: each of
    the repeated rows is then judged alike.

    Left for the trip audit: ``trips.located``; when trip ids are unique, ``stop_times.codes.trip_pos``
    (position of each usable row's trip in ``trips.frame``, -1 for a rejected trip) and, with dictionary codes,
    ``codes.stop_pos`` (position of its stop in ``located``), valid until either frame changes.
    """
    trips, st, stops = layers["trips"], layers["stop_times"], layers["stops"]
    codes = st.codes
    codes.trip_pos = codes.stop_pos = None
    runs, codes.trip_runs = codes.trip_runs, None  # left by validation when no row was rejected since
    tf = trips.frame
    rejected_ids = trips.rejected.loc[trips.rejected["subject"] == "trip", "subject_id"].astype("string")
    trip_arr, known_arr = arrow_text(st.frame["trip_id"]), arrow_text(tf["trip_id"])
    unique = known_arr is not None and known_arr.null_count == 0 and (
        len(known_arr) < 2 or pc.all(pc.less(known_arr.slice(0, len(known_arr) - 1), known_arr.slice(1))).as_py()
        or pc.count_distinct(known_arr).as_py() == len(known_arr))
    if unique:  # each trip its own key: its position in trips.frame
        keys, tf_key = tf["trip_id"], np.arange(len(tf), dtype=np.int64)
    else:  # repeated ids (a hand-built layer): one key per distinct id, shared by its rows; a missing id has its own
        tf_key, uniques = pd.factorize(tf["trip_id"], use_na_sentinel=False)
        keys = pd.Series(uniques, dtype="string")
    in_order = False  # stop_times in the trips' order, one run per trip: every trip has rows
    if trip_arr is not None and unique:  # one lookup per run of equal trip ids
        run = None
        if runs is not None and len(runs.starts) == len(trip_arr):
            starts, heads, head_ids, run = runs.starts, runs.heads, runs.ids, runs.run
        else:
            starts = run_starts(trip_arr)
            heads = np.flatnonzero(starts)
            head_ids = take_rows(trip_arr, heads)
        in_order = len(heads) == len(known_arr) and pc.all(pc.fill_null(pc.equal(head_ids, known_arr),
                                                                         False)).as_py()
        head_pos = np.arange(len(heads), dtype=np.int64) if in_order else index_in(head_ids, known_arr)
        known = head_pos >= 0
        if not known.all() and len(rejected_ids):
            rest = np.flatnonzero(~known)
            known[rest] = index_in(head_ids.take(pa.array(rest)), rejected_ids) >= 0
        lengths = np.diff(np.r_[heads, len(starts)])
        # In order, the trip of each row is its run's number (maybe counted ahead, on another thread).
        row_pos = run if in_order and run is not None else np.repeat(head_pos, lengths)
        unknown_trip = np.repeat(~known, lengths) if not known.all() else None
    else:  # a hash lookup per row
        row_pos = index_in(st.frame["trip_id"], keys)
        unknown_trip = row_pos < 0
        if unknown_trip.any() and len(rejected_ids):
            rest = np.flatnonzero(unknown_trip)
            unknown_trip[rest] = index_in(st.frame["trip_id"].iloc[rest], rejected_ids) < 0
    if unknown_trip is not None and unknown_trip.any():
        reject_rows(st, unknown_trip, "unknown-trip", lambda m: "trip_id=" + st.frame["trip_id"][m].astype(str))
        row_pos = row_pos[~unknown_trip]

    stop_code, dictionary = codes.stop_code, codes.stop_dict
    if stop_code is None or dictionary is None or len(stop_code) != len(st.frame):
        stop_code = dictionary = None
    if stop_code is not None:  # one lookup per distinct stop
        unusable = np.r_[index_in(dictionary, stops.frame["stop_id"]) < 0, True]  # the last entry: code -1, no stop
        # Rows are looked at only when a code names an unusable stop: ten million rows otherwise pass untouched.
        unknown_stop = unusable[stop_code] if unusable[:-1].any() or (len(stop_code) and stop_code.min() < 0) \
            else None
    else:
        unknown_stop = index_in(st.frame["stop_id"], stops.frame["stop_id"]) < 0
    if unknown_stop is not None and unknown_stop.any():
        in_order = False
        bad_stop_ids, bad_pos = st.frame.loc[unknown_stop, "stop_id"], row_pos[unknown_stop]
        reject_rows(st, unknown_stop, "unknown-stop", lambda m: "stop_id=" + st.frame["stop_id"][m].astype(str))
        row_pos = row_pos[~unknown_stop]
        stop_code = codes.stop_code if stop_code is not None else None
    else:
        bad_stop_ids, bad_pos = st.frame["stop_id"].iloc[:0], row_pos[:0]

    # A trip with any unusable stop row cannot be judged on a partial itinerary: the first reason of each key.
    if located is None:
        located = locate(stops.frame.geometry, layers["boundaries"].frame)
        located.index = stops.frame["stop_id"].to_numpy()
    n_keys = len(keys)
    first = np.zeros(n_keys, dtype=np.int8)  # 0: none, else 1 + the index of the reason in TRIP_REASONS
    why = np.full(n_keys, None, dtype=object)

    def first_of_trip(pos: np.ndarray, values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        """Keys and the first non-missing value of each, over rows in order."""
        keep = (pos >= 0) & values.notna().to_numpy(bool)
        key, at = np.unique(pos[keep], return_index=True)
        return key, values.to_numpy(dtype=object)[keep][at]

    def mark(key: np.ndarray, code: int, text: list[str] | np.ndarray) -> None:
        new = first[key] == 0
        first[key[new]] = code
        why[key[new]] = np.asarray(text, dtype=object)[new]

    if len(bad_stop_ids):
        key, stop = first_of_trip(bad_pos, bad_stop_ids)
        mark(key, 1, ["stop_id=" + s for s in stop])
    rejected_st = st.rejected[~st.rejected["reason"].isin(["unknown-trip", "unknown-stop"])] if len(
        st.rejected) else st.rejected
    if len(rejected_st):
        other = rejected_st.groupby("subject_id")["reason"].first()
        pos = index_in(pd.Series(other.index, dtype="string"), keys)
        hit = pos >= 0
        mark(pos[hit], 2, ["stop_times row: " + r for r in other.to_numpy(dtype=object)[hit]])
    outside = located["province"].isna().to_numpy()
    if outside.any():
        outside_ids = pd.Series(located.index[outside], dtype="string")
        if stop_code is not None:
            rows = np.r_[index_in(dictionary, outside_ids) >= 0, False][stop_code]
        else:
            rows = index_in(st.frame["stop_id"], outside_ids) >= 0
        if rows.any():
            key, stop = first_of_trip(row_pos[rows], st.frame["stop_id"][rows])
            mark(key, 3, ["stop_id=" + s + " lies in no boundary polygon" for s in stop])
    if in_order:  # every run a trip, no row rejected since: no trip without rows
        without = np.zeros(n_keys, dtype=bool)
    else:
        used = row_pos if not len(row_pos) or row_pos.min() >= 0 else row_pos[row_pos >= 0]
        without = np.bincount(used, minlength=n_keys) == 0
    mark(np.flatnonzero(without), 4, np.full(int(without.sum()), "no usable stop_times rows", dtype=object))

    # Unique ids: each trip is its own key, in order (tf_key is 0, 1, …), so the keys' reasons are the trips'.
    remaining, details = (first, why) if unique else (first[tf_key], why[tf_key])
    for code, reason in enumerate(TRIP_REASONS, start=1):
        m = remaining == code
        if m.any():
            reject_rows(trips, m, reason, lambda mm, d=details: pd.Series(d[mm], dtype=object))
            remaining, details = remaining[~m], details[~m]
    trips.located = located
    if not unique:  # positions are of distinct ids, not of trips.frame rows: the trip audit joins by value
        return
    kept = first == 0
    if not kept.all():  # positions in trips.frame as it is now; -1 (the last entry) for a rejected trip
        row_pos = np.r_[np.where(kept, np.cumsum(kept) - 1, -1), -1][row_pos]  # row_pos -1 takes the last entry
    codes.trip_pos = row_pos
    if stop_code is not None:
        codes.stop_pos = np.r_[index_in(dictionary, pd.Series(located.index, dtype="string")), -1][stop_code]
