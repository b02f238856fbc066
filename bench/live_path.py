"""Live path without ingestion: an event published on Redis -> Hub -> Strawberry -> websocket.

    .venv/bin/python bench/live_path.py      (from the repository root; local PostgreSQL and Redis)

Serves the real app (API only) on a fresh database, subscribes one websocket to a building's
readingAdded, publishes 100 reading events straight on the building's Redis channel, and reports
publish -> websocket receipt latency.
"""

import asyncio
import json
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import jwt
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from koprogo_graph.realtime.events import encode_event, readings_channel
from koprogo_graph.realtime.hub import Hub
from koprogo_graph.store.migrate import apply_migrations
from tests.integration.conftest import JWT_SECRET, make_settings, start_server, stop_server

DSN = "postgresql://postgres@127.0.0.1/koprogo_bench_live_path"
SUBSCRIPTION = "subscription($b: ID) { readingAdded(buildingId: $b) { timestamp } }"


def reading(org: uuid.UUID, building: uuid.UUID, now: datetime) -> dict:
    return {
        "sensorId": str(uuid.uuid4()),
        "organizationId": str(org),
        "buildingId": str(building),
        "unitId": None,
        "deviceId": "probe",
        "sensorType": "TEMPERATURE",
        "readingKind": "INSTANTANEOUS",
        "timestamp": now.isoformat(),
        "value": 1.0,
        "rawValue": 1.0,
        "unitOfMeasure": "°C",
        "batteryLevel": None,
        "signalStrength": None,
        "quality": "GOOD",
        "isAnomaly": False,
        "anomalyReason": None,
        "receivedAt": now.isoformat(),
    }


async def main() -> None:
    admin = await asyncpg.connect("postgresql://postgres@127.0.0.1/postgres")
    await admin.execute("DROP DATABASE IF EXISTS koprogo_bench_live_path WITH (FORCE)")
    await admin.execute("CREATE DATABASE koprogo_bench_live_path")
    await admin.close()
    await apply_migrations(DSN)
    server, task, running = await start_server(make_settings(DSN))
    org, building = uuid.uuid4(), uuid.uuid4()
    claims = {
        "sub": str(uuid.uuid4()),
        "role": "owner",
        "organization_id": str(org),
        "exp": int(time.time()) + 600,
    }
    token = jwt.encode(claims, JWT_SECRET, algorithm="HS256")
    latencies = []
    async with (
        websockets.connect(running.ws_url, subprotocols=["graphql-transport-ws"]) as ws,
        Hub("redis://127.0.0.1:6379/0") as publisher,
    ):
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        await ws.recv()
        await ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": SUBSCRIPTION, "variables": {"b": str(building)}},
                }
            )
        )
        await asyncio.sleep(0.5)  # the subscription registers server-side
        for _ in range(100):
            now = datetime.now(UTC)
            event = {"kind": "readings", "readings": [reading(org, building, now)]}
            await publisher.publish(readings_channel(org), encode_event(event))
            await ws.recv()
            latencies.append((datetime.now(UTC) - now).total_seconds() * 1000)
            await asyncio.sleep(0.01)
    await stop_server(server, task)
    ordered = sorted(latencies)
    print(f"Redis -> websocket: p50 {statistics.median(ordered):.2f} ms, p99 {ordered[98]:.2f} ms")


if __name__ == "__main__":
    asyncio.run(main())
