"""The peer: the same coach-trip audit written for DuckDB and its spatial extension, as well as we can write it.

It reads the same Parquet (or CSV) files as ``transportmon audit --data DIR`` and writes one row per trip to Parquet: the
verdict, the reason, the evidence (scope, risk level, risk stops, passengers/seats, cap, excess), the finding's
rule id and both messages, and the trip's line (WKB). The formulation follows DESIGN §3 and §6:

1. the distinct stops meet the county polygons once (``ST_Intersects``, DuckDB's spatial join), the most specific
   unit wins; the stop's county, city and province are columns;
2. designations are expanded to one row per (unit, day) over the service dates, the winner per (unit, day) by
   precedence (county over city over province, then latest ``valid_from``, then input order); a stop's level on a
   day is the strongest of its three units' winners — a (stop, day) table, then an equi-join with the stop rows;
3. per-trip aggregates (touching, passing through, provinces and cities among the boarding stops by min/max, risk
   stops in the order first reached, the line through the stops) and the verdict in integer arithmetic.

Run: ``python benchmarks/peer_duckdb.py DATA_DIR OUT.parquet [--threads N] [--memory-limit 4GB]``. It does not
validate input rows (the generated inputs are clean); transportmon does. ``--memory-limit`` caps DuckDB's buffer
manager (its joins and aggregates then spill to a temporary folder): at 3e7 rows the peer otherwise takes ~13 GB.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import duckdb

CAP_NUM, CAP_DEN = 1, 2


def spatial_extension() -> Path:
    """The spatial extension file shipped in the ``duckdb-extension-spatial`` wheel (offline; DESIGN §6)."""
    import duckdb_extension_spatial

    root = Path(duckdb_extension_spatial.__file__).parent
    return root / "extensions" / f"v{duckdb.__version__}" / "spatial.duckdb_extension"


SQL = """
CREATE TEMP TABLE bounds AS
SELECT adcode, level, city_adcode, province_adcode, geometry AS geom FROM read_parquet('{d}/boundaries.parquet');

CREATE TEMP TABLE stops AS
SELECT stop_id, {stops_geom} AS geom FROM {stops};

-- 1. distinct stops → their county (a spatial join against the counties only); city and province are the
--    county's attributes. A stop in no county falls back to the city and province polygons.
CREATE TEMP TABLE stop_admin AS
WITH county_hits AS (
    SELECT s.stop_id, b.adcode, b.level, b.city_adcode, b.province_adcode, 2 AS rank
    FROM stops s JOIN (SELECT * FROM bounds WHERE level = 'county') b ON ST_Intersects(b.geom, s.geom)
), rest AS (
    SELECT s.stop_id, b.adcode, b.level, b.city_adcode, b.province_adcode,
           CASE b.level WHEN 'city' THEN 1 ELSE 0 END AS rank
    FROM (SELECT * FROM stops ANTI JOIN county_hits USING (stop_id)) s
    JOIN (SELECT * FROM bounds WHERE level <> 'county') b ON ST_Intersects(b.geom, s.geom)
), best AS (
    SELECT * FROM (SELECT * FROM county_hits UNION ALL SELECT * FROM rest)
    QUALIFY row_number() OVER (PARTITION BY stop_id ORDER BY rank DESC, adcode) = 1
)
SELECT stop_id,
       CASE WHEN rank = 2 THEN adcode END AS county,
       CASE WHEN rank = 1 THEN adcode WHEN rank = 2 THEN coalesce(city_adcode, left(adcode, 4) || '00') END AS city,
       CASE WHEN rank = 0 THEN adcode ELSE coalesce(province_adcode, left(adcode, 2) || '0000') END AS province
FROM best;

CREATE TEMP TABLE trips AS
SELECT trip_id, CAST(service_date AS DATE) AS day, service_type, seats::BIGINT AS seats,
       passengers::BIGINT AS passengers, route_id
FROM {trips};

-- 2. designations: (unit, day) winners over the service dates, then (stop, day)
CREATE TEMP TABLE des AS
SELECT *, rank * 10000000000000 + (valid_from - DATE '1970-01-01') * 10000000 + row AS prec FROM (
    SELECT row_number() OVER () AS row, adcode AS unit, lower(level) AS level,
           CAST(valid_from AS DATE) AS valid_from, CAST(NULLIF(valid_to, '') AS DATE) AS valid_to,
           CASE WHEN adcode LIKE '%0000' THEN 0 WHEN adcode LIKE '%00' THEN 1 ELSE 2 END AS rank
    FROM {risk_areas});

CREATE TEMP TABLE days AS SELECT DISTINCT day FROM trips;

CREATE TEMP TABLE unit_day AS
SELECT unit, day, arg_max(level, prec) AS level, max(prec) AS prec
FROM des JOIN days ON days.day >= des.valid_from AND (des.valid_to IS NULL OR days.day <= des.valid_to)
GROUP BY unit, day;

CREATE TEMP TABLE stop_units AS
SELECT stop_id, county AS unit FROM stop_admin WHERE county IS NOT NULL
UNION ALL SELECT stop_id, city FROM stop_admin WHERE city IS NOT NULL
UNION ALL SELECT stop_id, province FROM stop_admin;

CREATE TEMP TABLE stop_day AS
SELECT su.stop_id, ud.day,
       CASE arg_max(ud.level, ud.prec) WHEN 'high' THEN 2 WHEN 'medium' THEN 1 WHEN 'low' THEN 0 END AS level
FROM stop_units su JOIN unit_day ud USING (unit)
GROUP BY su.stop_id, ud.day;

-- 3. stop rows → trips
CREATE TEMP TABLE rows AS
SELECT st.trip_id, st.stop_sequence AS seq, st.stop_id, (st.pickup = 1 OR st.dropoff = 1) AS boards,
       sd.level, sa.city, sa.province
FROM {stop_times} st
JOIN trips t USING (trip_id)
JOIN stop_admin sa USING (stop_id)
LEFT JOIN stop_day sd ON sd.stop_id = st.stop_id AND sd.day = t.day;

CREATE TEMP TABLE agg AS
SELECT trip_id,
       bool_or(level >= 1 AND boards) AS touching,
       bool_or(level >= 1 AND NOT boards) AS passes,
       min(province) FILTER (WHERE boards) <> max(province) FILTER (WHERE boards) AS multi_province,
       min(city) FILTER (WHERE boards) <> max(city) FILTER (WHERE boards) AS multi_city,
       max(level) FILTER (WHERE boards) AS board_level,
       max(level) FILTER (WHERE boards AND level >= 1) AS touch_level
FROM rows GROUP BY trip_id;

-- ordered lists without ordered aggregates: collect (position, value) structs, then list_sort per trip
CREATE TEMP TABLE risk_stops AS
SELECT trip_id, list_transform(list_sort(list({{'s': first_seq, 'id': stop_id}})), x -> x.id) AS stops
FROM (SELECT trip_id, stop_id, min(seq) AS first_seq FROM rows WHERE boards AND level >= 1 GROUP BY ALL)
GROUP BY trip_id;

CREATE TEMP TABLE stop_xy AS SELECT stop_id, ST_X(geom) AS x, ST_Y(geom) AS y FROM stops;

CREATE TEMP TABLE lines AS
SELECT trip_id, ST_MakeLine(list_transform(list_sort(list({{'s': stop_sequence, 'x': x, 'y': y}})),
                                           p -> ST_Point(p.x, p.y))) AS geom
FROM {stop_times} JOIN stop_xy USING (stop_id) GROUP BY trip_id;

COPY (
WITH j AS (
    SELECT t.*, coalesce(a.touching, false) AS touching, coalesce(a.passes, false) AS passes,
           CASE WHEN a.multi_province THEN 'inter-provincial' WHEN a.multi_city THEN 'inter-city'
                ELSE 'intra-city' END AS scope,
           CASE coalesce(a.touch_level, a.board_level) WHEN 2 THEN 'high' WHEN 1 THEN 'medium' WHEN 0 THEN 'low'
           END AS risk_level,
           coalesce(rs.stops, []) AS risk_stops,
           (t.seats * {num}) // {den} AS max_passengers,
           t.passengers * {den} > t.seats * {num} AS over
    FROM trips t LEFT JOIN agg a USING (trip_id) LEFT JOIN risk_stops rs USING (trip_id)
), v AS (
    SELECT *,
           service_type IN ('scheduled', 'charter') AND scope <> 'intra-city' AND touching AS applies,
           CASE WHEN service_type NOT IN ('scheduled', 'charter') THEN 'service-type'
                WHEN scope = 'intra-city' THEN 'intra-city'
                WHEN passes AND NOT touching THEN 'pass-through-only'
                WHEN NOT touching THEN 'no-risk-stop' END AS why
    FROM j
)
SELECT v.trip_id,
       CASE WHEN applies AND over THEN 'over-cap' WHEN applies THEN 'compliant' ELSE 'not-applicable' END AS verdict,
       CASE WHEN applies THEN NULL ELSE why END AS reason,
       scope, risk_level, risk_stops, passengers, seats, round(passengers / seats, 4) AS occupancy,
       {num} / {den} AS cap, max_passengers,
       CASE WHEN applies THEN CASE WHEN over THEN passengers - max_passengers ELSE 0 END END AS excess_passengers,
       strftime(day, '%Y-%m-%d') AS service_date, route_id,
       CASE WHEN applies AND over THEN 'TM201' WHEN applies THEN 'TM202' ELSE 'TM203' END AS rule_id,
       CASE WHEN applies THEN
           strftime(day, '%Y-%m-%d') || CASE scope WHEN 'inter-provincial' THEN '跨省' ELSE '跨市' END
           || CASE service_type WHEN 'scheduled' THEN '班车' ELSE '包车' END
           || '在' || CASE risk_level WHEN 'high' THEN '高' ELSE '中' END || '风险地区上下客（'
           || array_to_string(risk_stops, ', ') || '），载客' || passengers || '/' || seats || '座，'
           || CASE WHEN over THEN '超过50%上限（最多' || max_passengers || '人），超载'
                                  || (passengers - max_passengers) || '人。'
                   ELSE '未超过50%上限。' END
       ELSE '限载不适用：' || CASE why WHEN 'service-type' THEN '班次类型非班车或包车'
           WHEN 'intra-city' THEN '上下客站点均在同一城市' WHEN 'pass-through-only' THEN '仅途经中高风险地区，未上下客'
           ELSE '上下客站点均不在中高风险地区' END || '。' END AS message_zh,
       CASE WHEN applies THEN
           strftime(day, '%Y-%m-%d') || ' ' || scope || ' ' || service_type || ' coach boards/alights in a '
           || risk_level || '-risk area (' || array_to_string(risk_stops, ', ') || ') with ' || passengers
           || ' of ' || seats || ' seats, '
           || CASE WHEN over THEN 'over the 50% cap (at most ' || max_passengers || '): '
                                  || (passengers - max_passengers) || ' too many.'
                   ELSE 'within the 50% cap.' END
       ELSE 'The cap does not apply: ' || CASE why WHEN 'service-type' THEN 'the service is neither scheduled nor charter'
           WHEN 'intra-city' THEN 'all boarding/alighting stops are in one city'
           WHEN 'pass-through-only' THEN 'it only passes through high/medium-risk areas'
           ELSE 'no boarding/alighting stop is in a high/medium-risk area' END || '.' END AS message_en,
       ST_AsWKB(l.geom) AS geometry
FROM v LEFT JOIN lines l USING (trip_id)
ORDER BY v.trip_id
) TO '{out}' (FORMAT parquet);
"""


#: Column types of the CSV shape (``benchmarks/generate.py --shape csv``): ids and dates as text, as in Parquet.
CSV_COLUMNS = {
    "stops": {"stop_id": "VARCHAR", "name": "VARCHAR", "lon": "DOUBLE", "lat": "DOUBLE"},
    "trips": {"trip_id": "VARCHAR", "service_date": "VARCHAR", "service_type": "VARCHAR", "seats": "BIGINT",
              "passengers": "BIGINT", "route_id": "VARCHAR"},
    "stop_times": {"trip_id": "VARCHAR", "stop_sequence": "BIGINT", "stop_id": "VARCHAR", "pickup": "BIGINT",
                   "dropoff": "BIGINT"},
    "risk_areas": {"adcode": "VARCHAR", "level": "VARCHAR", "valid_from": "VARCHAR", "valid_to": "VARCHAR",
                   "source": "VARCHAR"},
}


def sources(data: Path) -> dict[str, str]:
    """The table expression of each layer: ``read_parquet`` of ``LAYER.parquet``, else ``read_csv`` of ``LAYER.csv``
    with the column types above (stops then have lon/lat columns instead of a geometry)."""
    out: dict[str, str] = {}
    for layer, columns in CSV_COLUMNS.items():
        parquet, csv = data / f"{layer}.parquet", data / f"{layer}.csv"
        if parquet.exists():
            out[layer] = f"read_parquet('{parquet.as_posix()}')"
        else:
            types = ", ".join(f"'{k}': '{v}'" for k, v in columns.items())
            out[layer] = f"read_csv('{csv.as_posix()}', header = true, columns = {{{types}}})"
    out["stops_geom"] = "geometry" if (data / "stops.parquet").exists() else "ST_Point(lon, lat)"
    return out


def run(data: Path, out: Path, threads: int | None = None, memory_limit: str | None = None) -> dict[str, float]:
    """Run the peer; returns the time of each statement group."""
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    spill = None
    if memory_limit:
        import tempfile

        spill = tempfile.mkdtemp(prefix="peer-duckdb-")
        con.execute(f"SET memory_limit = '{memory_limit}'")
        con.execute(f"SET temp_directory = '{spill}'")
    con.execute(f"LOAD '{spatial_extension()}'")
    times: dict[str, float] = {}
    sql = SQL.format(d=data.as_posix(), out=out.as_posix(), num=CAP_NUM, den=CAP_DEN, **sources(data))
    for statement in (s for s in sql.split(";\n") if s.strip()):
        name = next((ln for ln in statement.strip().splitlines() if not ln.startswith("--")), "")[:40]
        t = time.perf_counter()
        con.execute(statement)
        times[name] = time.perf_counter() - t
        print(f"STAGE {name} {times[name]:.3f}", flush=True)
    con.close()
    if spill is not None:
        import shutil

        shutil.rmtree(spill, ignore_errors=True)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--memory-limit", help="DuckDB memory_limit, e.g. 4GB (default: DuckDB's, 80%% of RAM)")
    args = parser.parse_args()
    run(args.data, args.out, args.threads, args.memory_limit)


if __name__ == "__main__":
    main()
