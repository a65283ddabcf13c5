"""Cross-layer reference checks of the trip layers: stop_times rows against trips and stops, trips against their
stops and the boundaries (moved verbatim from ``pipeline.py``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import layers as L


def _check_trip_references(layers: dict[str, L.Layer], located: pd.DataFrame | None = None) -> None:
    """Cross-layer checks: stop_times rows need a known trip and a usable stop; a trip needs all its stops usable
    and inside the boundaries. Offending rows move to the layers' rejected rows; stops get their admin units
    (``located``, when the caller already has them). Membership tests are Arrow hash lookups (millions of rows).

    Rows of one trip are usually consecutive: the trip ids are looked up once per run of equal ids, and stop ids once
    per distinct stop when validation left their dictionary codes (``extra["stop_code"]``). Then each usable
    stop_times row's trip and stop are left as integer codes for the trip audit: ``stop_times.extra["trip_pos"]``
    (position of the row's trip in ``trips.frame``, -1 for a rejected trip) and ``extra["stop_pos"]`` (position of
    its stop in ``located``), valid until either frame changes.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from ._arrow import index_in
    from .geo.admin import locate

    def isin(values: pd.Series, keys: pd.Series) -> np.ndarray:
        return index_in(values, keys) >= 0

    trips, st, stops = layers["trips"], layers["stop_times"], layers["stops"]
    for key in L.ROW_ALIGNED[1:]:
        st.extra.pop(key, None)
    runs = st.extra.pop("trip_runs", None)  # left by validation when no row was rejected since
    trip_arr = L._arrow_text(st.frame["trip_id"])
    known_arr = L._arrow_text(trips.frame["trip_id"])
    unique = known_arr is not None and known_arr.null_count == 0 and (
        len(known_arr) < 2 or pc.all(pc.less(known_arr.slice(0, len(known_arr) - 1), known_arr.slice(1))).as_py()
        or pc.count_distinct(known_arr).as_py() == len(known_arr))
    if trip_arr is None or not unique:  # the general path: hash lookups of every row
        row_pos = None
        all_trip_ids = pd.concat([trips.frame["trip_id"].astype("string"), trips.rejected.loc[
            trips.rejected["subject"] == "trip", "subject_id"].astype("string")], ignore_index=True)
        unknown_trip = ~isin(st.frame["trip_id"], all_trip_ids)
    else:  # one lookup per run of equal trip ids: position of the run's trip in trips.frame, else -1
        if runs is not None and len(runs[0]) == len(trip_arr):
            starts, heads, head_ids = runs
        else:
            starts = L._run_starts(trip_arr)
            heads = np.flatnonzero(starts)
            head_ids = trip_arr.take(pa.array(heads))
        if len(heads) == len(known_arr) and pc.all(pc.fill_null(pc.equal(head_ids, known_arr), False)).as_py():
            head_pos = np.arange(len(heads), dtype=np.int64)  # stop_times in the trips' order
        else:
            head_pos = index_in(head_ids, known_arr)
        known = head_pos >= 0
        rejected_ids = trips.rejected.loc[trips.rejected["subject"] == "trip", "subject_id"].astype("string")
        if not known.all() and len(rejected_ids):
            rest = np.flatnonzero(~known)
            known[rest] = index_in(head_ids.take(pa.array(rest)), rejected_ids) >= 0
        lengths = np.diff(np.r_[heads, len(starts)])
        row_pos = np.repeat(head_pos, lengths)
        unknown_trip = np.repeat(~known, lengths) if not known.all() else np.zeros(len(row_pos), dtype=bool)
    # stop_times rows must point at a known trip and a usable stop.
    if unknown_trip.any():
        L.reject_rows(st, unknown_trip, "unknown-trip", lambda m: "trip_id=" + st.frame["trip_id"][m].astype(str))
        row_pos = row_pos[~unknown_trip] if row_pos is not None else None
    codes, dictionary = st.extra.get("stop_code"), st.extra.get("stop_dict")
    if not isinstance(codes, np.ndarray) or dictionary is None or len(codes) != len(st.frame):
        codes = dictionary = None
    if codes is not None:  # one lookup per distinct stop
        known_stop = np.r_[index_in(dictionary, stops.frame["stop_id"]) >= 0, False]
        unknown_stop = ~known_stop[codes]  # code -1: no stop_id
    else:
        unknown_stop = ~isin(st.frame["stop_id"], stops.frame["stop_id"])
    bad_trip_stop = st.frame.loc[unknown_stop, ["trip_id", "stop_id"]]
    bad_pos = row_pos[unknown_stop] if row_pos is not None else None
    if unknown_stop.any():
        L.reject_rows(st, unknown_stop, "unknown-stop", lambda m: "stop_id=" + st.frame["stop_id"][m].astype(str))
        row_pos = row_pos[~unknown_stop] if row_pos is not None else None
        codes = st.extra.get("stop_code") if codes is not None else None
    # A trip with any unusable stop row cannot be judged on a partial itinerary.
    rejected_st = st.rejected[st.rejected["reason"] != "unknown-trip"] if len(st.rejected) else st.rejected
    stop_rows = st.frame  # usable rows
    if located is None:
        located = locate(stops.frame.geometry, layers["boundaries"].frame)
        located.index = stops.frame["stop_id"].to_numpy()
    outside = located["province"].isna().to_numpy()
    tf = trips.frame
    if row_pos is None:
        first_bad = pd.Series(pd.NA, index=tf.index, dtype="string")
        detail = pd.Series(pd.NA, index=tf.index, dtype="string")
        if len(bad_trip_stop):
            g = bad_trip_stop.groupby("trip_id")["stop_id"].first()
            hit = tf["trip_id"].map(g)
            first_bad = first_bad.mask(hit.notna(), "unknown-stop")
            detail = detail.mask(hit.notna(), "stop_id=" + hit.astype("string"))
        if len(rejected_st):
            other = rejected_st[rejected_st["reason"] != "unknown-stop"].groupby("subject_id")["reason"].first()
            hit = tf["trip_id"].map(other)
            mask = first_bad.isna() & hit.notna()
            first_bad = first_bad.mask(mask, "bad-stop-times")
            detail = detail.mask(mask, "stop_times row: " + hit.astype("string"))
        if outside.any():
            outside_ids = pd.Series(located.index[outside], dtype="string")
            outside_stops = stop_rows.loc[isin(stop_rows["stop_id"], outside_ids), ["trip_id", "stop_id"]]
            hit = tf["trip_id"].map(outside_stops.groupby("trip_id")["stop_id"].first())
            mask = first_bad.isna() & hit.notna()
            first_bad = first_bad.mask(mask, "stop-outside-boundaries")
            detail = detail.mask(mask, "stop_id=" + hit.astype("string") + " lies in no boundary polygon")
        has_stops = isin(tf["trip_id"], stop_rows["trip_id"])
        mask = first_bad.isna() & ~has_stops
        first_bad = first_bad.mask(mask, "trip-without-stops")
        detail = detail.mask(mask, "no usable stop_times rows")
        for reason in ("unknown-stop", "bad-stop-times", "stop-outside-boundaries", "trip-without-stops"):
            m = (first_bad == reason).fillna(False).to_numpy(bool)
            L.reject_rows(trips, m, reason, detail.fillna(""))
            first_bad, detail = first_bad[~m], detail[~m]
        trips.extra["located"] = located
        return

    # The same per trip, on the codes: the first offending row of each trip (trip ids are unique in trips.frame).
    reasons = ("unknown-stop", "bad-stop-times", "stop-outside-boundaries", "trip-without-stops")
    n_trips = len(tf)
    first = np.zeros(n_trips, dtype=np.int8)  # 0: none, else 1 + the index of the reason
    why = np.full(n_trips, None, dtype=object)

    def first_of_trip(pos: np.ndarray, values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        """Trips (positions) and the first non-missing value of each, over rows in order."""
        keep = (pos >= 0) & values.notna().to_numpy(bool)
        trip, at = np.unique(pos[keep], return_index=True)
        return trip, values.to_numpy(dtype=object)[keep][at]

    if len(bad_trip_stop):
        trip, stop = first_of_trip(bad_pos, bad_trip_stop["stop_id"])
        first[trip] = 1
        why[trip] = ["stop_id=" + s for s in stop]
    if len(rejected_st):
        other = rejected_st[rejected_st["reason"] != "unknown-stop"].groupby("subject_id")["reason"].first()
        if len(other):
            pos = index_in(pd.Series(other.index, dtype="string"), tf["trip_id"])
            hit = pos >= 0
            trip, reason = pos[hit], other.to_numpy(dtype=object)[hit]
            new = first[trip] == 0
            first[trip[new]] = 2
            why[trip[new]] = ["stop_times row: " + r for r in reason[new]]
    if outside.any():
        outside_ids = pd.Series(located.index[outside], dtype="string")
        if codes is not None:
            outside_code = np.r_[index_in(dictionary, outside_ids) >= 0, False]
            rows = outside_code[codes]
        else:
            rows = isin(stop_rows["stop_id"], outside_ids)
        if rows.any():
            trip, stop = first_of_trip(row_pos[rows], stop_rows["stop_id"][rows])
            new = first[trip] == 0
            first[trip[new]] = 3
            why[trip[new]] = ["stop_id=" + s + " lies in no boundary polygon" for s in stop[new]]
    used = row_pos if not len(row_pos) or row_pos.min() >= 0 else row_pos[row_pos >= 0]
    without = (np.bincount(used, minlength=n_trips) == 0) & (first == 0)
    first[without] = 4
    why[without] = "no usable stop_times rows"
    remaining, details = first, why
    for code, reason in enumerate(reasons, start=1):
        m = remaining == code
        if m.any():
            L.reject_rows(trips, m, reason, lambda mm, d=details: pd.Series(d[mm], dtype=object))
            remaining, details = remaining[~m], details[~m]
    kept = first == 0
    if not kept.all():  # positions in trips.frame as it is now; -1 (the last entry) for a rejected trip
        new_pos = np.r_[np.where(kept, np.cumsum(kept) - 1, -1), -1]
        row_pos = new_pos[row_pos]  # row_pos -1 takes the last entry
    st.extra["trip_pos"] = row_pos
    if codes is not None:
        at = np.r_[index_in(dictionary, pd.Series(located.index, dtype="string")), -1]
        st.extra["stop_pos"] = at[codes]
    trips.extra["located"] = located
