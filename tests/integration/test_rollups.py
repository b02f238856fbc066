"""Hourly rollups kept by the ingest trigger equal a recomputation from the raw readings, whether
batches append (increments) or arrive late (recomputation), mixed in one statement or not."""

from __future__ import annotations

import math
import random
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from koprogo_graph.domain.consumption import consumption
from koprogo_graph.store import readings as readings_store
from koprogo_graph.store import sensors as sensors_store
from koprogo_graph.store.db import open_database

START = datetime(2026, 10, 24, 22, 0, tzinfo=UTC)
ROLLUP = "SELECT * FROM {table} WHERE organization_id = $1 ORDER BY 1, 2, 3"


def series(rng: random.Random, hours: int) -> list[tuple[datetime, float]]:
    """A meter index: steps, gaps, a reading every few seconds at times, rare resets."""
    points, ts, value = [], START, 500.0
    while ts < START + timedelta(hours=hours):
        ts += timedelta(seconds=rng.choice([5, 30, 120, 600, 2400]))
        roll = rng.random()
        if roll < 0.01:
            value = rng.uniform(0, 3)  # a reset: a new meter
        elif roll < 0.03:
            value = value * (1 - rng.uniform(0, 0.1))  # a glitch: at most 10 % below
        else:
            value += rng.uniform(0, 0.2)
        points.append((ts, round(value, 6)))
    return points


def rows(sensor: uuid.UUID, org: uuid.UUID, building: uuid.UUID, points) -> list:
    return [
        readings_store.ReadingRow(sensor, ts, org, building, None, v, v, None, None, "GOOD", False, None)
        for ts, v in points
    ]  # fmt: skip


def same(a: list, b: list) -> bool:
    def equal(x: object, y: object) -> bool:
        if isinstance(x, float) and isinstance(y, float):
            return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9)
        return x == y

    return len(a) == len(b) and all(
        all(equal(x, y) for x, y in zip(ra.values(), rb.values(), strict=True))
        for ra, rb in zip(a, b, strict=True)
    )


async def test_incremental_rollups_equal_a_recomputation(database_url):
    rng = random.Random(7)
    org, building = uuid.uuid4(), uuid.uuid4()
    async with open_database(database_url, pool_size=2) as db:
        async with db.tenant(org) as con:
            sensors = await sensors_store.insert_many(
                con,
                org,
                [
                    {
                        "building_id": building,
                        "device_id": f"ROLL-{i}",
                        "type": kind,
                        "reading_kind": "CUMULATIVE",
                        "manufacturer": "K",
                        "model": "M",
                        "location": "Cave",
                        "unit_of_measure": "m3",
                        "sampling_interval": 60,
                    }
                    for i, kind in enumerate(("COLD_WATER", "COLD_WATER", "GAS"))
                ],
            )
        streams = {s.id: series(rng, 30) for s in sensors}
        # In order, in batches of 1 to 60 readings, the sensors together in each statement; for
        # two of them a fifth of the readings is held back and arrives late, some of it in the
        # same statements as in-order readings of the others. The first one only ever appends:
        # its hours are kept by increments alone.
        lateness = dict(zip(streams, (0.0, 0.2, 0.2), strict=True))
        late: list = []
        cursors = dict.fromkeys(streams, 0)
        async with db.system() as con:
            while any(cursors[s] < len(p) for s, p in streams.items()):
                batch = []
                for sid, points in streams.items():
                    take = points[cursors[sid] : cursors[sid] + rng.randint(1, 60)]
                    cursors[sid] += len(take)
                    for point in take:
                        (late if rng.random() < lateness[sid] else batch).append((sid, point))
                if late and rng.random() < 0.3:
                    batch += late[: rng.randint(1, len(late))]
                    late = [p for p in late if p not in batch]
                await readings_store.insert_batch(
                    con, [r for sid, p in batch for r in rows(sid, org, building, [p])]
                )
            for sid in streams:
                await readings_store.insert_batch(
                    con, rows(sid, org, building, [p for s, p in late if s == sid])
                )

            kept = {t: await con.fetch(ROLLUP.format(table=t), org)
                    for t in ("readings_hourly", "readings_hourly_building")}  # fmt: skip
            assert len(kept["readings_hourly"]) >= 3 * 30
            await con.execute(
                "SELECT koprogo_refresh_hours(array_agg(sensor_id), array_agg(hour)) FROM"
                " (SELECT DISTINCT sensor_id, date_trunc('hour', ts) AS hour FROM readings"
                "  WHERE organization_id = $1) h",
                org,
            )
            for table, before in kept.items():
                after = await con.fetch(ROLLUP.format(table=table), org)
                assert same([dict(r) for r in before], [dict(r) for r in after]), table
            # And both equal the Python reference rule, hour by hour, for every meter.
            for sid, points in streams.items():
                hours = consumption(None, sorted(points), lambda ts: ts.replace(minute=0, second=0))
                kept_hours = {
                    r["hour"]: r["consumption"]
                    for r in kept["readings_hourly"]
                    if r["sensor_id"] == sid and r["consumption"] is not None
                }
                assert kept_hours.keys() == hours.keys()
                for hour, used in hours.items():
                    assert math.isclose(kept_hours[hour], used, rel_tol=1e-9, abs_tol=1e-9), hour


async def test_two_ingestors_writing_one_meter_take_turns(database_url):
    """Ingestor A has stored 100 (uncommitted) when ingestor B stores 95 after it: B waits for A,
    so 95 is classified against 100 (a glitch), not against what B alone could see."""
    import asyncio

    org, building = uuid.uuid4(), uuid.uuid4()
    t0 = datetime(2026, 10, 1, 8, tzinfo=UTC)
    async with open_database(database_url, pool_size=4) as db:
        async with db.tenant(org) as con:
            (sensor,) = await sensors_store.insert_many(
                con,
                org,
                [
                    {
                        "building_id": building,
                        "device_id": "TWO-WRITERS",
                        "type": "COLD_WATER",
                        "reading_kind": "CUMULATIVE",
                        "manufacturer": "K",
                        "model": "M",
                        "location": "Cave",
                        "unit_of_measure": "m3",
                        "sampling_interval": 60,
                    }
                ],
            )
        sid = sensor.id
        async with db.system() as con:
            await readings_store.insert_batch(con, rows(sid, org, building, [(t0, 90.0)]))
        async with db.system_pool.acquire() as a, db.system_pool.acquire() as b:
            ta, tb = a.transaction(), b.transaction()
            await ta.start()
            await tb.start()
            await readings_store.insert_batch(
                a, rows(sid, org, building, [(t0 + timedelta(minutes=1), 100.0)])
            )
            later = asyncio.create_task(
                readings_store.insert_batch(
                    b, rows(sid, org, building, [(t0 + timedelta(minutes=2), 95.0)])
                )
            )
            watcher = await asyncpg.connect(database_url)
            try:  # B waits for A's lock
                while (
                    await watcher.fetchval(
                        "SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1",
                        b.get_server_pid(),
                    )
                    != "Lock"
                ):
                    assert not later.done()
                    await asyncio.sleep(0.01)
            finally:
                await watcher.close()
            await ta.commit()
            await later
            await tb.commit()
        async with db.system() as con:
            await readings_store.insert_batch(
                con, rows(sid, org, building, [(t0 + timedelta(minutes=3), 101.0)])
            )
            stored = await con.fetch(
                "SELECT value, glitch_baseline FROM readings WHERE sensor_id = $1 ORDER BY ts", sid
            )
            assert [(r["value"], r["glitch_baseline"]) for r in stored] == [
                (90.0, None), (100.0, None), (95.0, 100.0), (101.0, None)
            ]  # fmt: skip
            total = await con.fetchval(
                "SELECT sum(consumption) FROM readings_hourly WHERE sensor_id = $1", sid
            )
            assert total == consumption_total([90.0, 100.0, 95.0, 101.0]) == 11.0


def consumption_total(values: list[float]) -> float:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    readings = [(t0 + timedelta(minutes=i), v) for i, v in enumerate(values)]
    return sum(consumption(None, readings, lambda ts: ts).values())
