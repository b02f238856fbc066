"""Faults with real processes: the ingesting service killed with messages in flight, PostgreSQL
stopped under load, the broker restarted. Nothing valid is lost, nothing is stored twice.

Each test kills only what it started itself (a private broker, a private PostgreSQL cluster, its
own service process), never the shared services.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiomqtt
import asyncpg
import httpx
import pytest

from koprogo_graph.store import sensors as sensors_store
from koprogo_graph.store.db import open_database
from koprogo_graph.store.migrate import apply_migrations

from .conftest import JWT_SECRET
from .processes import PrivateMosquitto, PrivatePostgres, ServiceProcess

pytestmark = pytest.mark.slow


@pytest.fixture
async def broker() -> AsyncIterator[PrivateMosquitto]:
    mosquitto = PrivateMosquitto()
    await mosquitto.start()
    yield mosquitto
    mosquitto.cleanup()


def service_env(database_url: str, mqtt_url: str, name: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "MQTT_URL": mqtt_url,
        "KOPROGO_JWT_SECRET": JWT_SECRET,
        "KOPROGO_ENV": "test",
        "KOPROGO_INGEST": "true",
        "KOPROGO_MQTT_CLIENT_ID": f"fault-{name}",
        "KOPROGO_MQTT_GROUP": f"fault-{name}",
        "KOPROGO_RATE_BURST": "1000000",
        "KOPROGO_LOG_LEVEL": "WARNING",
    }


async def make_sensors(dsn: str, count: int) -> tuple[uuid.UUID, list[tuple[uuid.UUID, str]]]:
    """Register ``count`` sensors in a new organization; return it and (sensor id, topic) pairs."""
    org, building = uuid.uuid4(), uuid.uuid4()
    async with open_database(dsn, pool_size=2) as db, db.tenant(org) as con:
        rows = await sensors_store.insert_many(
            con,
            org,
            [
                {
                    "building_id": building,
                    "device_id": f"F-{i}",
                    "type": "ELECTRICITY",
                    "reading_kind": "CUMULATIVE",
                    "manufacturer": "Shelly",
                    "model": "3EM",
                    "location": "Tableau",
                    "unit_of_measure": "kWh",
                    "sampling_interval": 60,
                }
                for i in range(count)
            ],
        )
    return org, [(r.id, f"koprogo/{org}/{building}/{r.device_id}/readings") for r in rows]


async def count_readings(dsn: str, org: uuid.UUID) -> tuple[int, int]:
    """(rows, distinct (sensor, ts)) stored for the organization, read as the table owner."""
    con = await asyncpg.connect(dsn)
    try:
        row = await con.fetchrow(
            "SELECT count(*) AS n, count(DISTINCT (sensor_id, ts)) AS d FROM readings WHERE organization_id = $1",
            org,
        )
        return row["n"], row["d"]
    except (OSError, asyncpg.PostgresError):
        return -1, -1
    finally:
        await con.close()


async def wait_until(predicate, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        await asyncio.sleep(0.1)


async def publish_all(mqtt_port: int, topics: list[str], per_sensor: int, name: str) -> int:
    """Publish ``per_sensor`` single-reading messages on each topic at QoS 1; return how many."""
    start = datetime.now(UTC) - timedelta(hours=6)
    sent = 0
    async with aiomqtt.Client("127.0.0.1", mqtt_port, identifier=f"pub-{name}") as client:
        for i in range(per_sensor):
            ts = (start + timedelta(seconds=10 * i)).isoformat()
            for topic in topics:
                await client.publish(topic, f'{{"timestamp": "{ts}", "value": {i}}}', qos=1)
                sent += 1
    return sent


async def test_killing_the_ingestor_with_messages_in_flight_loses_nothing(
    database_url, broker, tmp_path: Path, run_id
):
    org, sensors = await make_sensors(database_url, 20)
    service = ServiceProcess(
        service_env(database_url, broker.url, f"crash-{run_id}"), tmp_path / "service.log"
    )
    await service.start()
    try:
        publisher = asyncio.create_task(
            publish_all(broker.port, [t for _, t in sensors], 100, f"crash-{run_id}")
        )

        async def some_stored():
            n, _ = await count_readings(database_url, org)
            return n >= 200

        await wait_until(some_stored)
        service.kill()
        killed_at, _ = await count_readings(database_url, org)
        sent = await publisher
        assert killed_at < sent, "the kill came too late to leave messages in flight"

        await service.start()

        async def all_stored():
            n, _ = await count_readings(database_url, org)
            return n >= sent

        await wait_until(all_stored)
        rows, distinct = await count_readings(database_url, org)
        assert rows == distinct == sent == 2000
    finally:
        service.stop()


async def test_postgres_outage_under_load_loses_nothing_and_recovers_by_itself(
    broker, tmp_path: Path, run_id
):
    pg = PrivatePostgres()
    await pg.init()
    try:
        await apply_migrations(pg.dsn)
        org, sensors = await make_sensors(pg.dsn, 10)
        service = ServiceProcess(
            service_env(pg.dsn, broker.url, f"outage-{run_id}"), tmp_path / "service.log"
        )
        await service.start()
        try:
            publisher = asyncio.create_task(
                publish_all(broker.port, [t for _, t in sensors], 100, f"outage-{run_id}")
            )

            async def some_stored():
                n, _ = await count_readings(pg.dsn, org)
                return n >= 100

            await wait_until(some_stored)
            await pg.stop()

            async def unhealthy():
                async with httpx.AsyncClient() as client:
                    return (await client.get(f"{service.url}/healthz")).status_code == 503

            await wait_until(unhealthy)
            async with httpx.AsyncClient() as client:  # not ready, but alive: no restart
                alive = await client.get(f"{service.url}/livez")
            assert (alive.status_code, alive.json()) == (200, {"status": "alive"})
            sent = await publisher
            await pg.start()

            async def all_stored():
                n, _ = await count_readings(pg.dsn, org)
                return n >= sent

            await wait_until(all_stored)
            rows, distinct = await count_readings(pg.dsn, org)
            assert rows == distinct == sent == 1000
            assert service.proc.poll() is None, "the service must survive the outage"
        finally:
            service.stop()
    finally:
        await pg.cleanup()


async def test_the_ingestor_reconnects_after_the_broker_restarts(
    database_url, broker, tmp_path: Path, run_id
):
    org, sensors = await make_sensors(database_url, 1)
    ((_, topic),) = sensors
    service = ServiceProcess(
        service_env(database_url, broker.url, f"restart-{run_id}"), tmp_path / "service.log"
    )
    await service.start()
    try:
        now = datetime.now(UTC)

        async def publish(ts: datetime) -> None:
            async with aiomqtt.Client(
                "127.0.0.1", broker.port, identifier=f"pub-restart-{run_id}"
            ) as c:
                await c.publish(topic, f'{{"timestamp": "{ts.isoformat()}", "value": 1}}', qos=1)

        async def stored(n: int):
            async def check():
                rows, _ = await count_readings(database_url, org)
                return rows >= n

            return check

        async def connected(state: str):
            async def check():
                async with httpx.AsyncClient() as client:
                    text = (await client.get(f"{service.url}/metrics")).text
                return f"koprogo_mqtt_connected {state}" in text

            return check

        await publish(now - timedelta(minutes=2))
        await wait_until(await stored(1))
        broker.stop()
        await wait_until(await connected("0.0"))
        await broker.start()
        await wait_until(await connected("1.0"))
        await publish(now - timedelta(minutes=1))
        await wait_until(await stored(2))
        assert service.proc.poll() is None
    finally:
        service.stop()


async def test_a_crash_between_storing_and_evaluating_loses_no_alert(
    database_url, broker, tmp_path: Path, run_id
):
    """The reading is stored and acknowledged; the engine is held (the alerts table locked) and
    the process killed before it could raise the alert. The next start evaluates what was left:
    the alert is raised, exactly once."""
    org, building = uuid.uuid4(), uuid.uuid4()
    async with open_database(database_url, pool_size=2) as db, db.tenant(org) as con:
        (sensor,) = await sensors_store.insert_many(
            con,
            org,
            [
                {
                    "building_id": building,
                    "device_id": "CRASH-1",
                    "type": "HOT_WATER",
                    "reading_kind": "INSTANTANEOUS",
                    "manufacturer": "x",
                    "model": "x",
                    "location": "x",
                    "unit_of_measure": "L/h",
                    "sampling_interval": 60,
                    "alert_rules": {"threshold_max": 50.0},
                }
            ],
        )
    env = {**service_env(database_url, broker.url, f"eval-{run_id}"),
           "KOPROGO_OFFLINE_CHECK_SECONDS": "0.5", "KOPROGO_EVALUATION_GRACE_SECONDS": "1"}  # fmt: skip
    service = ServiceProcess(env, tmp_path / "service.log")
    admin = await asyncpg.connect(database_url)
    try:
        await service.start()
        holder = admin.transaction()
        await holder.start()
        await admin.execute("LOCK TABLE alerts IN EXCLUSIVE MODE")  # the engine's INSERT waits
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier=f"pub-eval-{run_id}") as c:
            stamp = datetime.now(UTC).isoformat()
            while await count_readings(database_url, org) != (1, 1):
                # Again until stored (the ingestor may not be subscribed yet; one is kept).
                await c.publish(
                    f"koprogo/{org}/{building}/CRASH-1/readings",
                    f'{{"timestamp": "{stamp}", "value": 75}}',
                    qos=1,
                )
                await asyncio.sleep(0.5)

        async def engine_waiting():
            return await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE '%INSERT INTO alerts%'"
            )

        await wait_until(engine_waiting)
        service.kill()
        await holder.rollback()
        assert await count_readings(database_url, org) == (1, 1)
        alerts = "SELECT count(*), max(occurrences) FROM alerts WHERE sensor_id = $1"
        assert tuple(await admin.fetchrow(alerts, sensor.id)) == (0, None)

        await service.start()

        async def raised():
            return (await admin.fetchrow(alerts, sensor.id))[0] > 0

        await wait_until(raised)

        async def nothing_pending():
            return not await admin.fetchval(
                "SELECT count(*) FROM pending_evaluations WHERE $1 = ANY(sensor_ids)", sensor.id
            )

        await wait_until(nothing_pending)
        row = await admin.fetchrow(
            "SELECT count(*) AS n, max(occurrences) AS occurrences, max(severity) AS severity "
            "FROM alerts WHERE sensor_id = $1",
            sensor.id,
        )
        assert (row["n"], row["occurrences"], row["severity"]) == (1, 1, "CRITICAL")
    finally:
        service.stop()
        await admin.close()


async def test_a_lookup_the_database_refuses_costs_its_message_only(database_url):
    """A device id PostgreSQL cannot hold (U+0000, which no broker of ours lets through, but a
    broker might): the batch's lookup fails for good; each message is then looked up alone,
    that one is refused, and the reading beside it goes on."""
    from koprogo_graph.domain.ratelimit import RateLimiter
    from koprogo_graph.ingest.pipeline import Incoming, Pipeline
    from koprogo_graph.ingest.registry import SensorRegistry

    org, sensors = await make_sensors(database_url, 1)
    topic = sensors[0][1]
    building = topic.split("/")[2]
    now = datetime.now(UTC)
    batch = [
        Incoming(f"koprogo/{org}/{building}/F-\x00/readings", b'{"value": 1}', now),
        Incoming(topic, f'{{"timestamp": "{now.isoformat()}", "value": 2}}'.encode(), now),
    ]
    async with open_database(database_url, pool_size=2) as db:
        pipeline = Pipeline(db, SensorRegistry(), RateLimiter(1000, 1000))
        plan = pipeline.plan(batch, await pipeline.resolve(batch))
    assert [r.value for r in plan.rows] == [2.0]
    assert [r.reason for r in plan.rejections] == ["internal_error"]
