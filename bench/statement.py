"""Statement benchmark (issue 14): a year's consumptionStatement for a 100-unit building.

    .venv/bin/python bench/statement.py [--units 100] [--meters-per-unit 3] [--days 365]
                                        [--minutes 15] [--requests 30] [--reuse]

Loads --units x --meters-per-unit hot water meters read every --minutes for --days (300 meters,
10.5 M readings by default) with COPY, builds the rollups, starts `koprogo-graph serve` (API
only), and reports p50/p95 of the GraphQL statement beside the statement's own SQL (the store
calls its resolver makes, timed alone in this run), and the same consumptions computed from raw
readings in SQL, for scale.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import timedelta

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
from aggregates import END, load, stats
from ingest import free_port

from koprogo_graph.store.migrate import apply_migrations

DATABASE = "koprogo_bench_statement"
STATEMENT = """query($b: ID!, $f: DateTime!, $t: DateTime!) {
  consumptionStatement(buildingId: $b, sensorType: HOT_WATER, from: $f, to: $t) {
    total units { unitId consumption commonShare charged
      meters { startIndex endIndex startEstimated endEstimated consumption } } } }"""
RAW = """
SELECT sensor_id, sum(CASE WHEN prev IS NULL THEN NULL WHEN value < prev THEN value
                           ELSE value - prev END)
FROM (SELECT sensor_id, value, lag(value) OVER (PARTITION BY sensor_id ORDER BY ts) AS prev
      FROM readings WHERE building_id = $1 AND ts >= $2 AND ts < $3) r
GROUP BY sensor_id
"""


async def own_sql(dsn: str, org, building, start, end, requests: int) -> list[float]:
    """The store calls the statement's resolver makes, timed alone."""
    from koprogo_graph.store import buildings as buildings_store
    from koprogo_graph.store import sensors as sensors_store
    from koprogo_graph.store import statement as statement_store
    from koprogo_graph.store.db import open_database

    samples = []
    async with open_database(dsn, pool_size=2) as db:
        for _ in range(requests):
            began = time.perf_counter()
            async with db.tenant(org) as con:
                await buildings_store.get(con, org, building)
                meters = await sensors_store.meters_in_building(con, org, building, "HOT_WATER")
                await statement_store.meter_facts(con, org, meters, start, end)
            samples.append(time.perf_counter() - began)
    return samples


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=100)
    parser.add_argument("--meters-per-unit", type=int, default=3)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--minutes", type=int, default=15)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--reuse", action="store_true", help="query the data a previous run loaded")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"command: {' '.join(sys.argv)}")
    if args.reuse:
        dsn = ADMIN_DSN.rsplit("/", 1)[0] + f"/{DATABASE}"
        await apply_migrations(dsn)
        con = await asyncpg.connect(dsn)
        row = await con.fetchrow("SELECT organization_id, building_id FROM sensors LIMIT 1")
        await con.close()
        org, building = row["organization_id"], row["building_id"]
    else:
        dsn = await fresh_database(DATABASE)
        org, building, _ = await load(
            dsn,
            args.units * args.meters_per_unit,
            args.days + 2,
            sensor_type="HOT_WATER",
            minutes=args.minutes,
            meters_per_unit=args.meters_per_unit,
        )
    # The year, with boundaries between readings (interpolated), as a local year would be.
    # (the data runs a day past it: the end index has readings on both sides).
    end = END - timedelta(days=1, minutes=7)
    start = end - timedelta(days=args.days)
    port = free_port()
    service = api_only_service(dsn, port)
    token = bench_token(org, "accountant")
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            timeout=60,
            headers={"Authorization": f"Bearer {token}"},
        ) as client:
            await wait_healthy(f"http://127.0.0.1:{port}")
            variables = {"b": str(building), "f": start.isoformat(), "t": end.isoformat()}
            samples, body = await timed_graphql(client, STATEMENT, variables, args.requests)
            units = body["data"]["consumptionStatement"]["units"]
            meters = sum(len(u["meters"]) for u in units)
            sql = await own_sql(dsn, org, building, start, end, args.requests)
            graphql, store = stats(samples), stats(sql)
            print(
                json.dumps(
                    {
                        "query": f"statement, {len(units)} units, {meters} meters, {args.days} days",
                        "graphql": graphql,
                        "its_sql": store,
                        "ratio": round(graphql["p95_ms"] / store["p95_ms"], 2),
                    }
                ),
                flush=True,
            )
        con = await asyncpg.connect(dsn)
        raw = []
        for _ in range(3):
            began = time.perf_counter()
            await con.fetch(RAW, building, start, end)
            raw.append(time.perf_counter() - began)
        await con.close()
        print(
            json.dumps(
                {"query": "the same consumptions from raw readings in SQL", "sql": stats(raw)}
            )
        )
    finally:
        service.terminate()
        service.wait(20)


if __name__ == "__main__":
    asyncio.run(main())
