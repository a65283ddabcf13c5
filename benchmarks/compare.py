"""Check that two trip reports agree: transportmon's (``subject == "trip"`` rows) and the DuckDB peer's.

``python benchmarks/compare.py TRANSPORTMON.parquet PEER.parquet`` prints the number of trips and of disagreements
per column (verdict, reason, scope, risk level, risk stops, excess passengers, both messages) and exits 1 on any.
"""

from __future__ import annotations

import json
import sys

import pandas as pd
import pyarrow.parquet as pq

COLUMNS = ["verdict", "reason", "scope", "risk_level", "risk_stops", "excess_passengers", "message_zh", "message_en"]


def load_transportmon(path: str) -> pd.DataFrame:
    t = pq.read_table(path, columns=["subject", "subject_id", *COLUMNS[:-2], "findings"]).to_pandas()
    t = t[t["subject"] == "trip"].set_index("subject_id")
    findings = t["findings"].map(json.loads)
    t["message_zh"] = findings.map(lambda f: f[0]["message_zh"] if f else None)
    t["message_en"] = findings.map(lambda f: f[0]["message_en"] if f else None)
    t["risk_stops"] = t["risk_stops"].map(lambda v: tuple(json.loads(v)) if isinstance(v, str) else ())
    return t


def load_peer(path: str) -> pd.DataFrame:
    p = pq.read_table(path, columns=["trip_id", *COLUMNS]).to_pandas().set_index("trip_id")
    p["risk_stops"] = p["risk_stops"].map(lambda v: tuple(v) if v is not None else ())
    return p


def compare(ours: str, peer: str) -> dict[str, int]:
    a, b = load_transportmon(ours), load_peer(peer)
    b = b.reindex(a.index)
    out = {"trips": len(a), "missing": int(b["verdict"].isna().sum())}
    for c in COLUMNS:
        x = a[c].astype(object).where(a[c].notna(), None)
        y = b[c].astype(object).where(b[c].notna(), None)
        if c == "excess_passengers":
            x = x.map(lambda v: None if v is None else int(v))
            y = y.map(lambda v: None if v is None else int(v))
        x, y = x.astype(object), y.astype(object)
        same = (x.isna() & y.isna()) | (x.fillna("\0") == y.fillna("\0"))
        out[c] = int((~same).sum())
    return out


if __name__ == "__main__":
    result = compare(sys.argv[1], sys.argv[2])
    print(json.dumps(result))
    sys.exit(1 if any(v for k, v in result.items() if k != "trips") else 0)
