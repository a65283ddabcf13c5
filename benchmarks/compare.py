"""Check that two trip reports agree: transportmon's (``subject == "trip"`` rows) and the DuckDB peer's.

``python benchmarks/compare.py TRANSPORTMON.parquet PEER.parquet`` prints the number of trips and of disagreements
per column (verdict, reason, scope, risk level, risk stops, excess passengers, both messages) and exits 1 on any.

List columns are compared by value whichever form a file holds them in: native Parquet lists (``findings`` as
``list<struct<rule_id, severity, message_zh, message_en>>``, ``risk_stops`` as ``list<string>``, as transportmon writes
them) or JSON text (older transportmon reports; a peer may write either).

``--sql [MEMORY_LIMIT]`` makes the same comparison in DuckDB (:func:`compare_sql`, native lists only), out of core:
the pandas form holds both tables as Python objects (~5 GB at 3.3 million trips), too much at ten million.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

COLUMNS = ["verdict", "reason", "scope", "risk_level", "risk_stops", "excess_passengers", "message_zh", "message_en"]


def _is_text(arr: pa.ChunkedArray) -> bool:
    return pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)


def first_finding(findings: pa.ChunkedArray, key: str) -> pd.Series:
    """``key`` of each row's first finding (None where a row has none), from a native list or JSON text."""
    if _is_text(findings):
        return pd.Series([(json.loads(v) or [{}])[0].get(key) if v is not None else None
                          for v in findings.to_pylist()], dtype=object)
    parts = []
    for chunk in findings.chunks:
        lengths = pc.fill_null(pc.list_value_length(chunk), 0).to_numpy(zero_copy_only=False)
        starts = chunk.offsets.to_numpy()[:-1]  # positions in chunk.values of each row's first finding
        first = chunk.values.take(pa.array(np.where(lengths > 0, starts, 0), mask=lengths == 0))
        parts += pc.struct_field(first, key).to_pylist()
    return pd.Series(parts, dtype=object)


def stop_tuples(values: pa.ChunkedArray) -> pd.Series:
    """Each row's risk stops as a tuple (``()`` for none or null), from a native list or JSON text."""
    rows: list[Any] = values.to_pylist()
    if _is_text(values):
        rows = [json.loads(v) if v is not None else None for v in rows]
    return pd.Series([tuple(v) if v is not None else () for v in rows], dtype=object)


def load_transportmon(path: str) -> pd.DataFrame:
    table = pq.read_table(path, columns=["subject", "subject_id", *COLUMNS[:-2], "findings"])
    table = table.filter(pc.equal(table["subject"], "trip"))
    t = table.drop_columns(["findings", "risk_stops"]).to_pandas()
    t["message_zh"] = first_finding(table["findings"], "message_zh").to_numpy()
    t["message_en"] = first_finding(table["findings"], "message_en").to_numpy()
    t["risk_stops"] = stop_tuples(table["risk_stops"]).to_numpy()
    return t.set_index("subject_id")


def load_peer(path: str) -> pd.DataFrame:
    table = pq.read_table(path, columns=["trip_id", *COLUMNS])
    p = table.drop_columns(["risk_stops"]).to_pandas()
    p["risk_stops"] = stop_tuples(table["risk_stops"]).to_numpy()
    return p.set_index("trip_id")


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


SQL = """
WITH t AS (
    SELECT subject_id AS trip_id, verdict, reason, scope, risk_level, coalesce(risk_stops, []) AS risk_stops,
           CAST(excess_passengers AS BIGINT) AS excess_passengers, findings[1].message_zh AS message_zh,
           findings[1].message_en AS message_en
    FROM read_parquet('{ours}') WHERE subject = 'trip'
), p AS (
    SELECT trip_id, verdict, reason, scope, risk_level, coalesce(risk_stops, []) AS risk_stops,
           CAST(excess_passengers AS BIGINT) AS excess_passengers, message_zh, message_en
    FROM read_parquet('{peer}')
)
SELECT count(*) AS trips, count(*) FILTER (WHERE p.trip_id IS NULL) AS missing, {columns}
FROM t LEFT JOIN p ON t.trip_id = p.trip_id
"""


def compare_sql(ours: str, peer: str, memory_limit: str = "3GB") -> dict[str, int]:
    """:func:`compare` in DuckDB, out of core (``memory_limit``): the same counts for files with native lists (a
    trip missing from the peer disagrees on every column where transportmon has a value, as there)."""
    import shutil
    import tempfile

    import duckdb

    spill = tempfile.mkdtemp(prefix="compare-duckdb-")
    try:
        con = duckdb.connect()
        con.execute(f"SET memory_limit = '{memory_limit}'")
        con.execute(f"SET temp_directory = '{spill}'")
        columns = ", ".join(f"count(*) FILTER (WHERE t.{c} IS DISTINCT FROM p.{c}) AS {c}" for c in COLUMNS)
        row = con.execute(SQL.format(ours=ours, peer=peer, columns=columns)).fetchone()
        con.close()
    finally:
        shutil.rmtree(spill, ignore_errors=True)
    names = ["trips", "missing", *COLUMNS]
    return {k: int(v) for k, v in zip(names, row)}


if __name__ == "__main__":
    if "--sql" in sys.argv:
        at = sys.argv.index("--sql")
        limit = sys.argv[at + 1] if len(sys.argv) > at + 1 else "3GB"
        result = compare_sql(sys.argv[1], sys.argv[2], limit)
    else:
        result = compare(sys.argv[1], sys.argv[2])
    print(json.dumps(result))
    sys.exit(1 if any(v for k, v in result.items() if k != "trips") else 0)
