"""The memory engine's report written to a GeoParquet file while the trips are judged.

Judging the trips (messages, findings, report columns) holds the GIL; encoding the Parquet row groups does not. Done
one after the other, at ten million stop rows they take about 3 s and 3 s with one core mostly idle in each. Here the
trips are judged :data:`TRIP_CHUNK` at a time, in report order, and each finished piece goes to a
:class:`~transportmon.io.geoparquet.ReportSink`, whose thread encodes a row group while this one judges the next
trips. The metadata (counts, bounding box) is written when the file closes.

The file and the returned report are those of the whole-report path (:func:`transportmon.pipeline.report_on` judging
all the trips, then :func:`~transportmon.io.write.write_report`): every step after the trip audit works a subject at
a time — sorting by (subject, subject_id), the input row kept only for rejected rows, waivers (counted over the
pieces with :func:`~transportmon.waivers.pieces_counts`), ``--only`` — so it is done piece by piece. The trips come in
``trip_id`` order whatever the file's (:func:`~transportmon.trip_audit.prepare_trips` ``by_id``), so a range of trips
is a range of the report; rejected trip rows, sorted among them by id, join the piece whose ids they fall in. The
routes, which come before the trips, may still be being counted on their own thread (:class:`Pending`): the file
opens when they are ready, the trips judged meanwhile kept till then.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ._arrow import text
from .progress import Progress, tell
from .report import assemble, filter_only
from .spill import PartSummary, SpilledTrips, summarise
from .trip_audit import TripAudit

__all__ = ["HELD_CHUNKS", "TRIP_CHUNK", "Pending", "write_while_judging"]

#: Trips judged at a time: small enough that the last row group's encoding, which nothing overlaps, is short, large
#: enough that each piece's fixed costs stay small.
TRIP_CHUNK = 1 << 19
#: Ranges of trips judged, at most, before the subjects ahead of them in the report are ready (:class:`Pending`):
#: their rows wait in memory meanwhile.
HELD_CHUNKS = 2


@dataclass(frozen=True)
class Pending:
    """Subjects that come before the trips in the report, still being made on another thread (the routes: their
    patterns are counted beside the judging of the first trips, :class:`transportmon.routes.FactsLater`). The file
    opens once they are ready: until then the trips judged wait, :data:`HELD_CHUNKS` ranges at most."""

    ready: Callable[[], bool]
    """Whether ``parts`` would return without waiting."""
    parts: Callable[[], list[gpd.GeoDataFrame]]
    """The subjects, as the parts :func:`write_while_judging` is given (waits for them)."""


def write_while_judging(parts: list[gpd.GeoDataFrame], trips: TripAudit, out: str | os.PathLike[str], *,
                        policy: str, limits: Mapping[str, float], finish: Callable[[gpd.GeoDataFrame], gpd.GeoDataFrame],
                        metadata_of: Callable[[gpd.GeoDataFrame, SpilledTrips | None], dict[str, Any]],
                        only: str | None = None, inputs: Iterable[str | os.PathLike[str]] = (), keep_trips: bool = True,
                        progress: Progress | None = None, pending: Pending | None = None,
                        ) -> tuple[gpd.GeoDataFrame, dict[str, Any], SpilledTrips | None]:
    """Judge ``trips`` (in report order: :attr:`TripAudit.in_id_order`) a chunk at a time and write the report with the other subjects
    (``parts``) to ``out`` as it is made; returns the report, its metadata and, without ``keep_trips``, what the
    summary needs of the trips.

    ``finish``: what the report path does to the assembled report (the input row of audited subjects dropped, waivers
    applied), given a piece; ``metadata_of``: the metadata of the report once every piece is finished (given the
    report and the trips' summaries, as :func:`transportmon.pipeline.report_on` adds up a Dask audit's); ``only``:
    ``--only`` (the file holds those subjects, its metadata says so; the returned report has them all); ``inputs``:
    files ``out`` must not be. Without ``keep_trips`` the trips' rows (rejected ones too) are only in the file: the
    report returned holds the other subjects, and the trips' counts and the rows the summary lists are in
    :class:`~transportmon.spill.SpilledTrips` summaries (no folder: nothing to merge), so no frame of every trip is
    ever made. ``progress``: told ``trips`` with the trips judged so far before each range, then ``report``.
    ``pending``: subjects of ``parts`` still being made (:class:`Pending`).

    Three threads take turns on the cores: one reads the next trips' stop rows (numpy, :meth:`TripAudit.facts`),
    this one judges the trips read (pandas, :meth:`TripAudit.judge`), the sink's encodes the row groups judged
    (Arrow).
    """
    from .io.write import report_sink

    ids = text(trips.trips["trip_id"])
    starts = list(range(0, trips.n, TRIP_CHUNK))
    summaries: list[PartSummary] = []
    # The other subjects, split around the trips once they are all known (the pending ones too): set by ``place``.
    before = after = rejected = pd.DataFrame()
    rejected_ids = np.array([], dtype=object)
    placed = 0  # rejected trip rows placed so far

    def place() -> list[gpd.GeoDataFrame]:
        """Assemble the other subjects; the finished piece of those before the trips (none if there are none)."""
        nonlocal parts, before, after, rejected, rejected_ids
        others = assemble([*parts, *(pending.parts() if pending is not None else [])], policy, limits=limits)
        parts = []
        subject = np.asarray(text(others["subject"]).to_numpy(zero_copy_only=False), dtype=object)
        before, after = others[subject < "trip"], others[subject > "trip"]
        rejected = others[subject == "trip"]  # rejected trip rows: in the piece of audited trips their ids fall in
        rejected_ids = np.asarray(text(rejected["subject_id"]).to_numpy(zero_copy_only=False), dtype=object)
        return [finish(before.reset_index(drop=True))] if len(before) else []

    def judged(k: int, audited: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """The report's piece of the trips of range ``k`` (``audited``: :meth:`TripAudit.judge`'s part)."""
        nonlocal placed
        stop = min(starts[k] + TRIP_CHUNK, trips.n)
        upto = len(rejected_ids) if stop == trips.n else int(np.searchsorted(rejected_ids, ids[stop - 1].as_py(),
                                                                            side="right"))
        extra = [rejected.iloc[placed:upto]] if upto > placed else []
        placed = upto
        piece = assemble([audited, *extra], policy, limits=limits)
        rows = piece["source_row"].to_numpy(dtype=np.float64, na_value=np.nan)  # the order among equal ids
        piece = finish(piece)
        if not keep_trips:
            summaries.append(summarise(piece, rows, stats=False))  # the sink has the file's bounds
        return piece

    pieces: list[gpd.GeoDataFrame] = []
    held: list[tuple[int, gpd.GeoDataFrame]] = []  # ranges judged before the file could open
    with ExitStack() as stack:
        reader = stack.enter_context(ThreadPoolExecutor(max_workers=1, thread_name_prefix="trip-facts"))

        def read(k: int) -> Future[tuple[Any, Any]] | None:
            return reader.submit(trips.facts, starts[k], min(TRIP_CHUNK, trips.n - starts[k])) if k < len(
                starts) else None

        ahead = trips.ahead[1] if trips.ahead is not None and trips.ahead[0] == min(TRIP_CHUNK, trips.n) else read(0)
        trips.ahead = None
        sink = None
        for k in range(len(starts)):
            assert ahead is not None
            tell(progress, "trips", done=starts[k], total=trips.n)
            facts, ahead = ahead.result(), read(k + 1)
            held.append((k, trips.judge(starts[k], min(TRIP_CHUNK, trips.n - starts[k]), *facts)))
            del facts
            if sink is None and pending is not None and not pending.ready() and len(held) < HELD_CHUNKS and (
                    k + 1 < len(starts)):
                continue  # more trips judged while the subjects before them are made
            if sink is None:  # opened once the first trips are judged: the file takes their columns
                pieces = place()
                pieces.append(judged(*held.pop(0)))
                sink = stack.enter_context(report_sink(os.fspath(out), pieces[-1], inputs))
                for piece in pieces:
                    sink.add(filter_only(piece, only))
            while held:
                pieces.append(judged(*held.pop(0)))
                sink.add(filter_only(pieces[-1], only))
            if not keep_trips:  # in the file and the summaries: the piece's memory goes to the next
                pieces = pieces[:1] if len(before) else []
        assert sink is not None
        if len(after):
            pieces.append(finish(after.reset_index(drop=True)))
            sink.add(filter_only(pieces[-1], only))
        sink.flush()  # the last row group is encoded while the report is put together
        tell(progress, "report")
        spilled = None
        if not keep_trips:
            # The report is ``before`` and ``after``: their input rows, for the summary's order.
            client_rows = np.concatenate([f["source_row"].to_numpy(dtype=np.float64, na_value=np.nan)
                                          for f in (before, after)])
            spilled = SpilledTrips(folder=None, parts=summaries, client_rows=client_rows)
            if not pieces:
                pieces = [finish(assemble([], policy, limits=limits))]
        report = gpd.GeoDataFrame(pd.concat(pieces, ignore_index=True), geometry=pieces[0].geometry.name,
                                  crs=pieces[0].crs) if len(pieces) > 1 else pieces[0]
        del pieces
        metadata = metadata_of(report, spilled)
        sink.close(dict(metadata, only=only) if only else metadata)
    return report, metadata, spilled
