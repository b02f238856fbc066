"""The live path under faults, end to end: a Redis of the test's own (restarted), the real app,
real websocket clients. Events are published on Redis as the ingesting replica publishes them."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis
import websockets

from koprogo_graph.realtime.events import encode_event, readings_channel

from .conftest import RunningServer, eventually, make_settings, start_server, stop_server
from .test_subscriptions import gauge, raw_subscription, subscriptions_registered

QUERY = "subscription($b: ID) { readingAdded(buildingId: $b) { value } }"


@pytest.fixture
async def live_server(database_url, redis_server) -> AsyncIterator[RunningServer]:
    """An API-only replica whose broadcast is the test's own Redis."""
    server, task, running = await start_server(
        make_settings(database_url, REDIS_URL=redis_server.url)
    )
    yield running
    await stop_server(server, task)


def batch(org: uuid.UUID, building: uuid.UUID, values: range | list[float]) -> str:
    now = datetime.now(UTC).isoformat()
    readings = [
        {
            "sensorId": str(uuid.uuid4()),
            "organizationId": str(org),
            "buildingId": str(building),
            "unitId": None,
            "deviceId": "probe",
            "sensorType": "TEMPERATURE",
            "readingKind": "INSTANTANEOUS",
            "timestamp": now,
            "value": float(v),
            "rawValue": float(v),
            "unitOfMeasure": "°C",
            "batteryLevel": None,
            "signalStrength": None,
            "quality": "GOOD",
            "isAnomaly": False,
            "anomalyReason": None,
            "receivedAt": now,
        }
        for v in values
    ]
    return encode_event({"kind": "readings", "readings": readings})


async def test_subscriptions_resume_after_redis_restarts(live_server, redis_server, token, http):
    org, building = uuid.uuid4(), uuid.uuid4()
    publisher = aioredis.Redis.from_url(redis_server.url)
    async with AsyncExitStack() as stack:
        async with subscriptions_registered(live_server, http, 1):
            next_data = await stack.enter_async_context(
                raw_subscription(live_server, token(org), QUERY, {"b": str(building)})
            )
        await publisher.publish(readings_channel(org), batch(org, building, [1.0]))
        assert (await next_data())["readingAdded"]["value"] == 1.0

        reconnects = await gauge(http, live_server, "koprogo_broadcast_reconnects_total")
        redis_server.stop()
        await redis_server.start()
        # The subscriber's Redis connection comes back and subscribes again by itself.
        await eventually(
            lambda: _more(http, live_server, "koprogo_broadcast_reconnects_total", reconnects)
        )
        await publisher.aclose()
        publisher = aioredis.Redis.from_url(redis_server.url)
        await publisher.publish(readings_channel(org), batch(org, building, [2.0]))
        assert (await next_data())["readingAdded"]["value"] == 2.0
        await publisher.aclose()


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
    init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token(org)}"}}
    subscribe = {"id": "1", "type": "subscribe",
                 "payload": {"query": query, "variables": {"b": str(building)}}}  # fmt: skip
    # A small receive window, and a client that stops reading once 1 frame waits unread.
    host, port = live_server.url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting: the window
    sock.connect((host, int(port)))
    publisher = aioredis.Redis.from_url(redis_server.url)
    async with (
        websockets.connect(
            live_server.ws_url, sock=sock, max_queue=1, subprotocols=["graphql-transport-ws"]
        ) as stalled,
        websockets.connect(live_server.ws_url, subprotocols=["graphql-transport-ws"]) as reader,
    ):
        async with subscriptions_registered(live_server, http, 2):
            for ws in (stalled, reader):
                await ws.send(json.dumps(init))
                assert json.loads(await ws.recv())["type"] == "connection_ack"
                await ws.send(json.dumps(subscribe))

        for start in range(0, 2_000, 100):
            values = range(start, start + 100)
            await publisher.publish(readings_channel(org), batch(org, building, values))
            for expected in values:
                message = json.loads(await asyncio.wait_for(reader.recv(), 20))
                assert message["payload"]["data"]["readingAdded"]["value"] == expected

        for expected in range(2_000):  # all there, in order: nothing was lost below the limit
            message = json.loads(await asyncio.wait_for(stalled.recv(), 20))
            assert message["payload"]["data"]["readingAdded"]["value"] == expected
    await publisher.aclose()
