"""The live path under faults, end to end: a Redis of the test's own (restarted), the real app,
real websocket clients. Events are published on Redis as the ingesting replica publishes them."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
import redis.asyncio as aioredis

from koprogo_graph.realtime.events import (
    alert_event,
    alerts_channel,
    encode_event,
    readings_channel,
    sensor_event,
    sensors_channel,
)
from koprogo_graph.store import alerts as alerts_store
from koprogo_graph.store.rows import SensorRow, from_record

from ..live_events import reading_event, readings_message
from .conftest import (
    RunningServer,
    create_sensor,
    eventually,
    make_settings,
    serving,
)
from .live_clients import (
    gauge,
    raw_subscription,
    registered_subscription,
    subscriptions_registered,
)

QUERY = "subscription($b: ID) { readingAdded(buildingId: $b) { value } }"


@pytest.fixture
async def live_server(database_url, redis_server) -> AsyncIterator[RunningServer]:
    """An API-only replica whose broadcast is the test's own Redis."""
    async with serving(make_settings(database_url, REDIS_URL=redis_server.url)) as running:
        yield running


def batch(org: uuid.UUID, building: uuid.UUID, values: range | list[float]) -> str:
    return readings_message(reading_event(org, building, value=float(v)) for v in values)


@asynccontextmanager
async def redis_outage(server: RunningServer, redis_server, http) -> AsyncIterator[None]:
    """Redis is down during the body; afterwards it is back and ``server`` has reconnected."""
    reconnects = await gauge(http, server, "koprogo_broadcast_reconnects_total")
    redis_server.stop()
    yield
    await redis_server.start()
    await eventually(lambda: _more(http, server, "koprogo_broadcast_reconnects_total", reconnects))


async def publish(redis_server, channel: str, message: str) -> None:
    publisher = aioredis.Redis.from_url(redis_server.url)
    try:
        await publisher.publish(channel, message)
    finally:
        await publisher.aclose()


async def test_subscriptions_resume_after_redis_restarts(live_server, redis_server, token, http):
    org, building = uuid.uuid4(), uuid.uuid4()
    async with registered_subscription(
        live_server, http, token(org), QUERY, {"b": str(building)}
    ) as next_data:
        await publish(redis_server, readings_channel(org), batch(org, building, [1.0]))
        assert await next_data(whole=True) == {"data": {"readingAdded": {"value": 1.0}}}

        async with redis_outage(live_server, redis_server, http):
            pass  # the subscriber's Redis connection comes back and subscribes again by itself
        await publish(redis_server, readings_channel(org), batch(org, building, [2.0, 3.0]))
        # The first result after the outage tells the client it may have missed events.
        assert await next_data(whole=True) == {
            "data": {"readingAdded": {"value": 2.0}},
            "extensions": {"resync": True},
        }
        assert await next_data(whole=True) == {"data": {"readingAdded": {"value": 3.0}}}


async def test_alert_subscriptions_catch_up_with_alerts_raised_while_redis_was_down(
    live_server, redis_server, database_url, graphql, token, http
):
    """Alerts raised while Redis is down never reach the broadcast; once it is back, an
    alertChanged subscription sends them by itself (its own organization's only)."""
    org, building = uuid.uuid4(), uuid.uuid4()
    mine = await create_sensor(graphql, token(org), buildingId=str(building))
    foreign = await create_sensor(graphql, token(uuid.uuid4()))
    query = "subscription($b: ID) { alertChanged(buildingId: $b) { sensorId type severity } }"
    async with registered_subscription(
        live_server, http, token(org), query, {"b": str(building)}
    ) as next_data:
        async with redis_outage(live_server, redis_server, http):
            con = await asyncpg.connect(database_url)
            try:
                for sensor in (foreign, mine):
                    await _raise_alert(con, uuid.UUID(sensor["id"]))
                low_battery = await _raise_alert(con, uuid.UUID(mine["id"]), type="LOW_BATTERY")
            finally:
                await con.close()
        expected = {"sensorId": mine["id"], "severity": "CRITICAL"}
        # Caught up: nothing was missed, so nothing to flag.
        assert await next_data(whole=True) == {
            "data": {"alertChanged": {**expected, "type": "THRESHOLD_EXCEEDED"}}
        }
        assert await next_data() == {"alertChanged": {**expected, "type": "LOW_BATTERY"}}
        # The live path goes on (and the foreign alert never came).
        event = alert_event(low_battery)
        await publish(redis_server, alerts_channel(org), encode_event(event))
        assert await next_data() == {"alertChanged": {**expected, "type": "LOW_BATTERY"}}


async def test_sensor_status_subscriptions_catch_up_with_changes_made_while_redis_was_down(
    live_server, redis_server, database_url, graphql, token, http
):
    """Status changes made while Redis is down are sent once it is back: those of the
    subscriber's building and organization, and only status changes."""
    org, other_org, building = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    changed, recalibrated, elsewhere = [
        await create_sensor(graphql, token(org), buildingId=str(b))
        for b in (building, building, uuid.uuid4())
    ]
    foreign = await create_sensor(graphql, token(other_org))
    query = (
        "subscription($b: ID) { sensorStatusChanged(buildingId: $b) { id status statusChangedAt } }"
    )
    async with registered_subscription(
        live_server, http, token(org), query, {"b": str(building)}
    ) as next_data:
        async with redis_outage(live_server, redis_server, http):
            for sensor, owner in ((changed, org), (elsewhere, org), (foreign, other_org)):
                await _set_status(graphql, token(owner), sensor["id"], "MAINTENANCE")
            body = await graphql(
                "mutation($id: ID!) { calibrateSensor(id: $id, calibrationFactor: 2) { id } }",
                {"id": recalibrated["id"]},
                token(org),
            )
            assert "errors" not in body, body
        caught = await next_data(whole=True)
        changed_at = caught["data"]["sensorStatusChanged"].pop("statusChangedAt")
        assert caught == {
            "data": {"sensorStatusChanged": {"id": changed["id"], "status": "MAINTENANCE"}}
        }
        assert datetime.fromisoformat(changed_at) > datetime.now(UTC) - timedelta(minutes=1)
        # Nothing else was caught up: the next result is the next live event.
        con = await asyncpg.connect(database_url)
        try:  # the row as the service reads it (jsonb decoded) and publishes it
            await con.set_type_codec(
                "jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
            )
            row = await con.fetchrow(
                "SELECT * FROM sensors WHERE id = $1", uuid.UUID(changed["id"])
            )
        finally:
            await con.close()
        event = sensor_event(from_record(SensorRow, row))
        await publish(redis_server, sensors_channel(org), encode_event(event))
        assert await next_data() == {
            "sensorStatusChanged": {
                "id": changed["id"],
                "status": "MAINTENANCE",
                "statusChangedAt": changed_at,
            }
        }


async def _set_status(graphql, token: str, sensor_id: str, status: str) -> None:
    body = await graphql(
        "mutation($id: ID!, $s: SensorStatus) { updateSensor(id: $id, input: {status: $s}) { id } }",
        {"id": sensor_id, "s": status},
        token,
    )
    assert "errors" not in body, body


async def _raise_alert(con: asyncpg.Connection, sensor_id: uuid.UUID, type="THRESHOLD_EXCEEDED"):
    sensor = from_record(
        SensorRow, await con.fetchrow("SELECT * FROM sensors WHERE id = $1", sensor_id)
    )
    row, _, _ = await alerts_store.raise_alert(
        con, sensor, type=type, severity="CRITICAL", message="test", reading_value=None,
        threshold_value=None, at=datetime.now(UTC),
    )  # fmt: skip
    return row


async def _more(http, server: RunningServer, name: str, than: float) -> bool:
    return await gauge(http, server, name) > than


async def test_a_client_that_never_reads_does_not_delay_another(
    live_server, redis_server, token, http
):
    """Two identical subscriptions (one shared stream); one client stops reading its socket
    while ~2.4 MB of results pile up for it. The other gets every result, in order, each batch
    before the next is published; the stalled one, when it reads again, finds all of its own in
    order. (Loopback socket buffers absorb several MB here; past them, the stalled subscriber's
    bounded queue drops its oldest results: tests/unit/test_shared_streams.py.)"""
    org, building = uuid.uuid4(), uuid.uuid4()
    # ~1.2 KB per result (aliases), so that the backlog is megabytes.
    wide = " ".join(f"s{i}: sensorId" for i in range(25))
    query = f"subscription($b: ID) {{ readingAdded(buildingId: $b) {{ value {wide} }} }}"
    # A small receive window, and a client that stops reading once 1 frame waits unread.
    host, port = live_server.url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting: the window
    sock.connect((host, int(port)))
    publisher = aioredis.Redis.from_url(redis_server.url)
    variables = {"b": str(building)}
    async with AsyncExitStack() as stack:
        async with subscriptions_registered(live_server, http, 2):
            stalled = await stack.enter_async_context(
                raw_subscription(live_server, token(org), query, variables, sock=sock, max_queue=1)
            )
            reader = await stack.enter_async_context(
                raw_subscription(live_server, token(org), query, variables)
            )

        for start in range(0, 2_000, 100):
            values = range(start, start + 100)
            await publisher.publish(readings_channel(org), batch(org, building, values))
            for expected in values:
                assert (await reader())["readingAdded"]["value"] == expected

        for expected in range(2_000):  # all there, in order: nothing was lost below the limit
            assert (await stalled())["readingAdded"]["value"] == expected
    await publisher.aclose()
