"""The Dask engine's trips kept out of this process: each worker writes its partition's report rows to a Parquet part
and sends back only what the report's metadata and the terminal summary need.

At ten million trips the report's trip rows (findings with both messages, lines, evidence) do not fit in one process
beside everything else. Given a spill folder (``transportmon audit --engine dask`` makes one beside ``--out``), the
worker that audited a partition turns its trips into report rows as the memory engine does —
:func:`transportmon.report.assemble` (columns, rounding, sort), the input row number kept only on rejected rows as
:func:`transportmon.pipeline.report_on` keeps it, waivers applied by :func:`transportmon.waivers.apply_waivers` —
and writes them, sorted as the report is sorted, to ``part-<i>.parquet`` in the folder: the GeoParquet layout of the
report (:func:`transportmon.io.geoparquet.report_table`) plus ``_row``, the input row number the report is sorted by.

It returns a :class:`PartSummary`: counts by verdict and by severity, the geometry types and bounding box the
GeoParquet metadata names (for every ``--only``), the rows the terminal summary may list (the first
:data:`HEAD_ROWS` of each group), the trips and routes the waivers name, and what the waivers did. The client adds
them up (:class:`SpilledTrips`), and :mod:`transportmon.io.stream` merges the sorted parts with the other subjects
into the one report file, a piece at a time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from .config import RuleConfig
    from .io.wkb import GeometryStats
    from .layers import Layer

__all__ = ["HEAD_ROWS", "ONLY", "PartSummary", "SpilledTrips", "add_counts", "summarise", "write_part"]

#: Rows of each summary group (and of each waiver status) a part sends back: more than the summary ever lists.
HEAD_ROWS = 50
#: The ``--only`` values a report can be written with (``""``: every subject).
ONLY = ("", "warning", "violation")
#: Rows per row group of a part: the merge decodes a row group of each part at a time.
PART_GROUP_ROWS = 1 << 13
#: The column of a part (and of a head) holding the input row number the report is sorted by.
ROW = "_row"


@dataclass
class PartSummary:
    """What a worker sends back about the part it wrote."""

    path: str
    rows: int
    counts: dict[str, dict[str, int]]
    """Subjects by verdict (:func:`transportmon.report.verdict_counts`)."""
    findings: dict[str, int]
    """Subjects by worst severity (:func:`transportmon.report.finding_counts`)."""
    geometry: dict[str, GeometryStats]
    """For each of :data:`ONLY`, the geometry stats of the rows written with it."""
    groups: np.ndarray
    """Subjects in each summary group (:func:`transportmon.summary.action_groups` with ``only="warning"``)."""
    waiver_findings: int
    """Findings that waivers made or changed (:func:`transportmon.waivers.waiver_findings`)."""
    head: gpd.GeoDataFrame
    """Report rows the summary may list (with :data:`ROW`), in report order."""
    named: np.ndarray
    """Ids of the trips of the part that a waiver names."""
    route_ids: np.ndarray
    """The routes of the part's trips."""
    waivers: dict[str, int] = field(default_factory=dict)
    """``waived``, ``expired``, ``not_yet_in_effect`` as :func:`~transportmon.waivers.apply_waivers` counts them."""
    matched: set[int] = field(default_factory=set)
    """Rows of the waivers that cover a violation of the part."""


def write_part(part: gpd.GeoDataFrame, folder: str, index: int, cfg: RuleConfig, waivers: Layer | None,
               as_of: pd.Timestamp) -> PartSummary:
    """Turn a partition's trip subjects (findings attached) into report rows, write them to ``folder`` and summarise
    them (see the module docstring)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .io.geoparquet import PARQUET_COMPRESSION, report_table
    from .report import assemble, report_limits
    from .waivers import apply_waivers, route_subjects_of

    report = assemble([part], cfg.policy, limits=report_limits(cfg))
    del part
    rows = report["source_row"].to_numpy(dtype=np.float64, na_value=np.nan)
    report["source_row"] = report["source_row"].where(report["verdict"] == "rejected")
    tally: dict[str, int] = {}
    matched: set[int] = set()
    named = np.array([], dtype=object)
    if waivers is not None:
        report, counts = apply_waivers(report, waivers, as_of, matched=matched)
        tally = {k: counts[k] for k in ("waived", "expired", "not_yet_in_effect")}
        ids = waivers.frame.loc[waivers.frame["subject"].astype(str) == "trip", "subject_id"].astype(str)
        trip_ids = report["subject_id"].astype(str)
        named = pd.unique(trip_ids[trip_ids.isin(set(ids)).to_numpy()].to_numpy(dtype=object))
    path = str(Path(folder) / f"part-{index:05d}.parquet")
    table = report_table(report, {}).append_column(ROW, pa.array(rows, from_pandas=True).cast(pa.int64()))
    pq.write_table(table, path, row_group_size=PART_GROUP_ROWS, compression=PARQUET_COMPRESSION,
                   write_statistics=False)
    del table

    summary = summarise(report, rows, path)
    summary.named, summary.waivers, summary.matched = named, tally, matched
    summary.route_ids = route_subjects_of([report])["subject_id"].to_numpy(dtype=object)
    return summary


def summarise(report: gpd.GeoDataFrame, rows: np.ndarray, path: str = "", *, stats: bool = True) -> PartSummary:
    """What the terminal summary and the metadata need of report rows (finished: waivers applied) that are written
    but not kept: counts, geometry stats (for a merge to write: not without ``stats``), the summary groups and the
    rows the summary may list (``rows``: their input row numbers, the report's order among equal ids). ``named``,
    ``route_ids`` and the waiver counts are left empty for the caller."""
    from .io.wkb import geometry_stats
    from .report import SEVERITY_RANK, finding_counts, severity_ranks, verdict_counts
    from .summary import GROUPS, action_groups
    from .waivers import waiver_findings

    geometry: dict[str, GeometryStats] = {}
    if stats:
        geoms, rank = report.geometry.to_numpy(), severity_ranks(report["max_severity"])
        geometry = {only: geometry_stats(geoms if not only else geoms[rank >= SEVERITY_RANK[only]]) for only in ONLY}
    group = action_groups(report, "warning")
    pick = [np.flatnonzero(group == g)[:HEAD_ROWS] for g in range(len(GROUPS))]
    found = waiver_findings(report)
    if len(found):
        pick.append(found.groupby("status", sort=False).head(HEAD_ROWS)["row"].to_numpy(dtype=np.int64))
    head_at = np.unique(np.concatenate(pick)) if pick else np.array([], dtype=np.int64)
    head = report.iloc[head_at].reset_index(drop=True)
    head[ROW] = rows[head_at]
    return PartSummary(
        path=path, rows=len(report), counts=verdict_counts(report), findings=finding_counts(report),
        geometry=geometry, groups=np.bincount(group, minlength=len(GROUPS) + 1)[:len(GROUPS)],
        waiver_findings=len(found), head=head, named=np.array([], dtype=object),
        route_ids=np.array([], dtype=object))


def add_counts(*counts: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """Verdict counts of pieces of a report added up, keys sorted as :func:`~transportmon.report.verdict_counts`
    sorts them."""
    total: dict[tuple[str, str], int] = {}
    for c in counts:
        for subject, verdicts in c.items():
            for verdict, n in verdicts.items():
                total[(subject, verdict)] = total.get((subject, verdict), 0) + n
    out: dict[str, dict[str, int]] = {}
    for (subject, verdict), n in sorted(total.items()):
        out.setdefault(subject, {})[verdict] = n
    return out


@dataclass
class SpilledTrips:
    """The audited trips of a Dask audit, written in parts to ``folder`` (see the module docstring).

    The report is the merge, in report order, of the in-memory report frame (every other subject: checkpoints, routes,
    rejected rows) and the parts. ``client_rows`` is the input row number each row of that frame was sorted by (set
    by :func:`transportmon.pipeline.report_on`: the frame keeps it only on rejected rows).
    """

    folder: Path | None
    """None: the trips are only in the report file they were written to as they were judged
    (:mod:`transportmon.streamed`), with nothing to merge."""
    parts: list[PartSummary]
    client_rows: np.ndarray | None = None

    @property
    def rows(self) -> int:
        """Trips in the parts."""
        return sum(p.rows for p in self.parts)

    def counts(self) -> dict[str, dict[str, int]]:
        return add_counts(*(p.counts for p in self.parts))

    def findings(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in self.parts:
            for k, n in p.findings.items():
                out[k] = out.get(k, 0) + n
        return out

    def geometry(self, only: str | None) -> GeometryStats:
        """The geometry stats of the parts' rows written with ``--only only``."""
        from .io.wkb import add_stats

        return add_stats(p.geometry[only or ""] for p in self.parts)

    def groups(self) -> np.ndarray:
        """Subjects of the parts in each summary group."""
        from .summary import GROUPS

        return sum((p.groups for p in self.parts), np.zeros(len(GROUPS), dtype=np.int64))

    def waiver_findings(self) -> int:
        return sum(p.waiver_findings for p in self.parts)

    def named_trips(self) -> pd.DataFrame:
        """The trips of the parts that waivers name, as ``subject``, ``subject_id``."""
        ids = np.concatenate([p.named for p in self.parts]) if self.parts else np.array([], dtype=object)
        return pd.DataFrame({"subject": "trip", "subject_id": pd.Series(ids, dtype="string")})

    def route_frames(self) -> list[pd.DataFrame]:
        """The routes of the parts' trips, as frames with a ``route_id`` column."""
        return [pd.DataFrame({"route_id": pd.Series(p.route_ids, dtype="string")}) for p in self.parts]

    def waiver_counts(self, counts: dict[str, int], matched: set[int], waivers: Layer) -> dict[str, int]:
        """The waivers' counts for the metadata: those of the in-memory subjects (``counts``, ``matched``) with the
        parts' (:func:`~transportmon.waivers.pieces_counts`)."""
        from .waivers import pieces_counts

        return pieces_counts([counts, *(p.waivers for p in self.parts)],
                             set(matched).union(*(p.matched for p in self.parts)), waivers)

    def heads(self) -> Iterable[gpd.GeoDataFrame]:
        return [p.head for p in self.parts if len(p.head)]


def head_frame(report: gpd.GeoDataFrame, spilled: SpilledTrips) -> gpd.GeoDataFrame:
    """The in-memory report rows with the parts' heads, in report order: every row the terminal summary lists."""
    from .report import COLUMNS

    frames = [report.assign(**{ROW: spilled.client_rows}), *spilled.heads()]
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    order = frame.assign(_s=frame["subject"].astype(str), _i=frame["subject_id"].astype(str)).sort_values(
        ["_s", "_i", ROW], kind="stable", na_position="last").index
    out = frame.loc[order, [*COLUMNS, report.geometry.name]].reset_index(drop=True)
    return gpd.GeoDataFrame(out, geometry=report.geometry.name, crs=report.crs)
