"""Subjects + findings → the report frame (DESIGN §4), its metadata, and the verdict counts.

One row per input checkpoint and per input trip, whatever the verdict, plus one per rejected row of any other layer.
Rows are sorted by (subject, subject_id, source_row) so the same inputs give the same report, byte for byte.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .rules.registry import FINDING_COLUMNS, SEVERITIES

#: Report columns in order (the properties of every feature). Evidence columns a subject does not have are null.
COLUMNS = [
    "subject", "subject_id", "verdict", "reason", "findings", "policy",
    # checkpoint evidence
    "road_id", "road_ref", "road_class", "distance_to_road_m", "distance_to_exempt_border_m", "distance_to_crossing_m",
    # trip evidence
    "passengers", "seats", "occupancy", "cap", "max_passengers", "excess_passengers", "risk_stops", "risk_level",
    # context
    "scope", "name", "service_date", "route_id", "detail", "source_row", "max_severity",
]

FLOAT_COLUMNS = ("distance_to_road_m", "distance_to_exempt_border_m", "distance_to_crossing_m")
INT_COLUMNS = ("passengers", "seats", "max_passengers", "excess_passengers", "source_row")
SEVERITY_RANK = {s: i for i, s in enumerate(reversed(SEVERITIES), start=1)}  # info 1, warning 2, violation 3


def attach_findings(subjects: pd.DataFrame, findings: pd.DataFrame) -> pd.DataFrame:
    """Put each subject's findings (list of dicts, ordered by rule id) and its highest severity on its row.

    Findings are matched on (subject, source_row): the row number in the subject's own layer, so duplicate ids of
    rejected rows stay apart.
    """
    out = subjects.copy()
    out["findings"] = [[] for _ in range(len(out))]
    out["max_severity"] = pd.Series(pd.NA, index=out.index, dtype="string")
    if not len(findings) or not len(out):
        return out
    key = pd.DataFrame({"subject": out["subject"].astype(str).to_numpy(),
                        "source_row": out["source_row"].astype("int64").to_numpy(), "_pos": np.arange(len(out))})
    f = findings.astype({"subject": str, "source_row": "int64"}).merge(key, on=["subject", "source_row"])
    f = f.sort_values(["_pos", "rule_id", "message_en"], kind="stable")
    f["_rank"] = f["severity"].map(SEVERITY_RANK)
    records = f[["rule_id", "severity", "message_zh", "message_en"]].to_dict("records")
    pos = f["_pos"].to_numpy()
    # Group the record list by position with one pass over the findings (not one filter per subject).
    lists: list[list[dict[str, Any]]] = [[] for _ in range(len(out))]
    for p, rec in zip(pos, records):
        lists[p].append(rec)
    out["findings"] = lists
    top = f.groupby("_pos")["_rank"].max()
    inv = {v: k for k, v in SEVERITY_RANK.items()}
    sev = pd.Series(pd.NA, index=range(len(out)), dtype="string")
    sev[top.index.to_numpy()] = top.map(inv).to_numpy()
    out["max_severity"] = sev.to_numpy()
    return out


def assemble(parts: list[gpd.GeoDataFrame], policy: str) -> gpd.GeoDataFrame:
    """Concatenate subject frames into the report frame with :data:`COLUMNS`, sorted."""
    frames = [p for p in parts if len(p)]
    if frames:
        df = pd.concat(frames, ignore_index=True)
    else:
        df = gpd.GeoDataFrame({c: [] for c in COLUMNS}, geometry=gpd.GeoSeries([], crs="EPSG:4326"))
    for col in COLUMNS:
        if col not in df.columns:
            df[col] = None
    df["policy"] = policy
    df["findings"] = df["findings"].map(lambda x: x if isinstance(x, list) else [])
    for col in FLOAT_COLUMNS:
        vals = pd.to_numeric(df[col], errors="coerce").astype(float)
        df[col] = vals.where(np.isfinite(vals)).round(1)
    for col in INT_COLUMNS:
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("Int64")
    df["occupancy"] = pd.to_numeric(df["occupancy"], errors="coerce").astype(float).round(4)
    geometry = gpd.GeoSeries(df.geometry.to_numpy() if "geometry" in df.columns else [None] * len(df),
                             crs="EPSG:4326")
    df = gpd.GeoDataFrame(df[COLUMNS], geometry=geometry.to_numpy(), crs="EPSG:4326")
    df = df.sort_values(["subject", "subject_id", "source_row"], kind="stable", na_position="last")
    return df.reset_index(drop=True)


def verdict_counts(report: pd.DataFrame) -> dict[str, dict[str, int]]:
    """``{subject: {verdict: n}}``, keys sorted."""
    counts = report.groupby(["subject", "verdict"]).size()
    out: dict[str, dict[str, int]] = {}
    for (subject, verdict), n in sorted(counts.items()):
        out.setdefault(str(subject), {})[str(verdict)] = int(n)
    return out


def finding_counts(report: pd.DataFrame) -> dict[str, int]:
    """Number of subjects whose worst finding is each severity."""
    sev = report["max_severity"].value_counts()
    return {s: int(sev.get(s, 0)) for s in SEVERITIES}


def highest_severity(report: pd.DataFrame) -> str | None:
    ranks = report["max_severity"].map(SEVERITY_RANK).dropna()
    if not len(ranks):
        return None
    inv = {v: k for k, v in SEVERITY_RANK.items()}
    return inv[int(ranks.max())]


def filter_only(report: gpd.GeoDataFrame, only: str | None) -> gpd.GeoDataFrame:
    """``--only violation|warning``: subjects with a finding at least that severe."""
    if not only:
        return report
    floor = SEVERITY_RANK[only]
    keep = report["max_severity"].map(SEVERITY_RANK).fillna(0) >= floor
    return report[keep.to_numpy()].reset_index(drop=True)


__all__ = ["COLUMNS", "FINDING_COLUMNS", "assemble", "attach_findings", "verdict_counts", "filter_only"]
