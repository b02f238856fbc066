"""Aggregates benchmark: dashboards over a year of data answer from rollups.

    .venv/bin/python bench/aggregates.py [--sensors 100] [--days 365] [--requests 100]

Loads --sensors water meters x --days at 5-minute readings into a fresh database with COPY
(~10.5 M rows by default; the rollup trigger is off during the bulk load and the hourly rollups
are then built in one set-based statement), starts `koprogo-graph serve` (API only), and reports
p50/p95 over --requests GraphQL requests for four dashboard queries, beside the same aggregation
computed from raw readings in SQL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
from _common import (
    ADMIN_DSN,
    api_only_service,
    bench_token,
    fresh_database,
    machine,
    timed_graphql,
    wait_healthy,
)
from ingest import free_port

from koprogo_graph.store.migrate import apply_migrations

END = datetime(2026, 11, 1, tzinfo=UTC)

BUILD_ROLLUPS = """
INSERT INTO readings_hourly (sensor_id, hour, organization_id, building_id, count, sum, min, max, consumption)
SELECT sensor_id, date_trunc('hour', ts), min(organization_id::text)::uuid, min(building_id::text)::uuid,
       count(*), sum(value), min(value), max(value),
       sum(CASE WHEN prev IS NULL THEN NULL WHEN value < prev THEN value ELSE value - prev END)
FROM (SELECT sensor_id, ts, value, organization_id, building_id,
             lag(value) OVER (PARTITION BY sensor_id ORDER BY ts) AS prev FROM readings) r
GROUP BY sensor_id, date_trunc('hour', ts);
INSERT INTO readings_hourly_building (building_id, sensor_type, hour, organization_id, count, sum, min, max,
                                      consumption)
SELECT h.building_id, s.type, h.hour, min(h.organization_id::text)::uuid, sum(h.count), sum(h.sum), min(h.min),
       max(h.max), sum(h.consumption)
FROM readings_hourly h JOIN sensors s ON s.id = h.sensor_id
GROUP BY h.building_id, s.type, h.hour
"""

RAW_BUILDING = """
SELECT time_bucket('1 day', ts, 'Europe/Brussels') AS bucket,
       sum(CASE WHEN prev IS NULL THEN NULL WHEN value < prev THEN value ELSE value - prev END)
FROM (SELECT ts, value, lag(value) OVER (PARTITION BY sensor_id ORDER BY ts) AS prev
      FROM readings WHERE building_id = $1 AND ts >= $2 AND ts < $3) r
GROUP BY bucket ORDER BY bucket
"""


async def load(
    dsn: str,
    sensors: int,
    days: int,
    *,
    sensor_type: str = "COLD_WATER",
    minutes: int = 5,
    meters_per_unit: int | None = None,
) -> tuple[uuid.UUID, uuid.UUID, list[uuid.UUID]]:
    """``sensors`` meters of ``sensor_type`` read every ``minutes`` for ``days``; with
    ``meters_per_unit``, grouped in units of that many meters (else common meters)."""
    org, building = uuid.uuid4(), uuid.uuid4()
    units = [uuid.uuid4() for _ in range(-(-sensors // (meters_per_unit or sensors)))]
    con = await asyncpg.connect(dsn)
    try:
        ids = [
            r["id"]
            for r in await con.fetch(
                "INSERT INTO sensors (organization_id, building_id, unit_id, device_id, type, reading_kind,"
                " manufacturer, model, location, unit_of_measure, sampling_interval)"
                " SELECT $1, $2, CASE WHEN $5 THEN ($6::uuid[])[(i - 1) / $7 + 1] END,"
                " 'W-' || lpad(i::text, 4, '0'), $4, 'CUMULATIVE', 'Bench', 'B', 'x', 'm3', $8"
                " FROM generate_series(1, $3) i ORDER BY i RETURNING id",
                org,
                building,
                sensors,
                sensor_type,
                meters_per_unit is not None,
                units,
                meters_per_unit or 1,
                minutes * 60,
            )
        ]
        await con.execute("ALTER TABLE readings DISABLE TRIGGER readings_rollup")
        start = END - timedelta(days=days)
        per_day = 24 * 60 // minutes
        steps = days * per_day
        started = time.perf_counter()
        unit_of = dict(
            await con.fetch("SELECT id, unit_id FROM sensors WHERE organization_id = $1", org)
        )
        for n, sid in enumerate(ids):
            value, records = 100.0 * n, []
            for i in range(steps):
                # A morning peak (07:00 to 08:00) over a steady trickle, per 5 minutes.
                busy = (i % per_day) * minutes // 5 in range(84, 96)
                value += (0.0005 + (0.002 if busy else 0.0)) * minutes / 5
                ts = start + timedelta(minutes=minutes * i)
                records.append(
                    (
                        sid,
                        ts,
                        org,
                        building,
                        unit_of[sid],
                        value,
                        value,
                        None,
                        None,
                        "GOOD",
                        False,
                        None,
                        ts,
                    )
                )
            await con.copy_records_to_table(
                "readings",
                records=records,
                columns=[
                    "sensor_id",
                    "ts",
                    "organization_id",
                    "building_id",
                    "unit_id",
                    "value",
                    "raw_value",
                    "battery_level",
                    "signal_strength",
                    "quality",
                    "is_anomaly",
                    "anomaly_reason",
                    "received_at",
                ],
            )
        rows = sensors * steps
        copy_seconds = time.perf_counter() - started
        await con.execute("ALTER TABLE readings ENABLE TRIGGER readings_rollup")
        started = time.perf_counter()
        await con.execute(BUILD_ROLLUPS)
        await con.execute("VACUUM ANALYZE readings")
        await con.execute("VACUUM ANALYZE readings_hourly")
        await con.execute("VACUUM ANALYZE readings_hourly_building")
        print(
            json.dumps(
                {
                    "rows": rows,
                    "copy_seconds": round(copy_seconds, 1),
                    "copy_rows_per_s": round(rows / copy_seconds),
                    "rollup_build_seconds": round(time.perf_counter() - started, 1),
                }
            ),
            flush=True,
        )
        return org, building, ids
    finally:
        await con.close()


async def own_sql(
    dsn: str, org, building, target: str, days: int, bucket: str, requests: int, owner=None
) -> list[float]:
    """The store calls the query's resolver makes (SQL and row decoding), timed alone in this
    run, in the same role (an owner's transactions go through their row policies): the
    reference its GraphQL answer is compared with."""
    from zoneinfo import ZoneInfo

    from koprogo_graph.domain.consumption import BucketWidth
    from koprogo_graph.store import sensors as sensors_store
    from koprogo_graph.store import series as series_store
    from koprogo_graph.store.db import open_database

    tz, width = ZoneInfo("Europe/Brussels"), BucketWidth(bucket)
    start, end = END - timedelta(days=days), END
    samples = []
    async with open_database(dsn, pool_size=2) as db:
        for _ in range(requests):
            began = time.perf_counter()
            # Building totals are read whole for every role (resolvers/aggregates.py).
            scope = None if target == str(building) else owner
            async with db.tenant(org, owner=scope) as con:
                if target == str(building):
                    meters = await sensors_store.meters_in_building(
                        con, org, building, "COLD_WATER"
                    )
                    await series_store.building_series(
                        con,
                        org,
                        building,
                        "COLD_WATER",
                        [m.id for m in meters],
                        start,
                        end,
                        width,
                        tz,
                    )
                else:
                    sid = uuid.UUID(target)
                    await sensors_store.get(con, org, sid)
                    await series_store.series(con, [sid], start, end, width, tz)
            samples.append(time.perf_counter() - began)
    return samples


def stats(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 1),
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sensors", type=int, default=100)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument(
        "--role",
        default="syndic",
        choices=["syndic", "accountant", "owner"],
        help="who asks (an owner's queries go through the row policies of their units)",
    )
    parser.add_argument("--reuse", action="store_true", help="query the data a previous run loaded")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"command: {' '.join(sys.argv)}")
    if args.reuse:  # the data of a previous run, as loaded then
        dsn = ADMIN_DSN.rsplit("/", 1)[0] + "/koprogo_bench_agg"
        await apply_migrations(dsn)
        con = await asyncpg.connect(dsn)
        rows = await con.fetch(
            "SELECT id, organization_id, building_id FROM sensors ORDER BY device_id"
        )
        await con.close()
        org, building, ids = (
            rows[0]["organization_id"],
            rows[0]["building_id"],
            [r["id"] for r in rows],
        )
    else:
        dsn = await fresh_database("koprogo_bench_agg")
        org, building, ids = await load(dsn, args.sensors, args.days)
    port = free_port()
    service = api_only_service(dsn, port)
    user = uuid.uuid4()
    token = bench_token(org, args.role, user)
    series = (
        "query($id: ID!, $f: DateTime!, $t: DateTime!, $b: TimeBucket!) { readingSeries(sensorId: $id,"
        " from: $f, to: $t, bucket: $b) { bucketStart consumption } }"
    )
    chart = (
        "query($id: ID!, $f: DateTime!, $t: DateTime!, $b: TimeBucket!) { readingSeriesChart("
        "sensorId: $id, from: $f, to: $t, bucket: $b) { unitOfMeasure columns } }"
    )
    full_series = (
        "query($id: ID!, $f: DateTime!, $t: DateTime!, $b: TimeBucket!) { readingSeries(sensorId: $id,"
        " from: $f, to: $t, bucket: $b) { bucketStart avg min max count sum consumption } }"
    )
    building_q = (
        "query($id: ID!, $f: DateTime!, $t: DateTime!, $b: TimeBucket!) { buildingConsumption("
        "buildingId: $id, sensorType: COLD_WATER, from: $f, to: $t, bucket: $b) { bucketStart consumption } }"
    )
    cases = {
        "one sensor, 7 days, hourly": (series, str(ids[0]), 7, "HOUR"),
        "one sensor, 1 year, daily": (series, str(ids[0]), 365, "DAY"),
        "one sensor, 1 year, daily, every field": (full_series, str(ids[0]), 365, "DAY"),
        "one sensor, 1 year, daily, chart columns": (chart, str(ids[0]), 365, "DAY"),
        "one sensor, 7 days, hourly, chart columns": (chart, str(ids[0]), 7, "HOUR"),
        "building, 30 days, daily": (building_q, str(building), 30, "DAY"),
        "building, 1 year, monthly": (building_q, str(building), 365, "MONTH"),
    }
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            timeout=60,
            headers={"Authorization": f"Bearer {token}"},
        ) as client:
            await wait_healthy(f"http://127.0.0.1:{port}")
            # The floor: an HTTP request that does nothing (/livez), and a GraphQL one.
            for name, call in (
                ("floor: GET /livez", lambda: client.get("/livez")),
                (
                    "floor: { __typename }",
                    lambda: client.post("/graphql", json={"query": "{ __typename }"}),
                ),
            ):
                samples = []
                for _ in range(args.requests):
                    started = time.perf_counter()
                    (await call()).json()
                    samples.append(time.perf_counter() - started)
                print(json.dumps({"query": name, "http": stats(samples)}), flush=True)
            for name, (query, target, days, bucket) in cases.items():
                variables = {
                    "id": target,
                    "f": (END - timedelta(days=days)).isoformat(),
                    "t": END.isoformat(),
                    "b": bucket,
                }
                samples, _ = await timed_graphql(client, query, variables, args.requests)
                owner = user if args.role == "owner" else None
                sql = await own_sql(dsn, org, building, target, days, bucket, args.requests, owner)
                graphql, store = stats(samples), stats(sql)
                ratio = round(graphql["p95_ms"] / store["p95_ms"], 2)
                print(
                    json.dumps(
                        {"query": name, "graphql": graphql, "its_sql": store, "ratio": ratio}
                    ),
                    flush=True,
                )
        con = await asyncpg.connect(dsn)
        samples = []
        for _ in range(5):
            started = time.perf_counter()
            await con.fetch(RAW_BUILDING, building, END - timedelta(days=30), END)
            samples.append(time.perf_counter() - started)
        await con.close()
        print(
            json.dumps(
                {
                    "query": "building, 30 days, daily, from raw readings in SQL",
                    "sql": stats(samples),
                }
            )
        )
    finally:
        service.terminate()
        service.wait(20)


if __name__ == "__main__":
    asyncio.run(main())
