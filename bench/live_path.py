"""Live path without ingestion: an event published on Redis -> Hub -> Strawberry -> websocket.

.venv/bin/python bench/live_path.py      (from the repository root; local PostgreSQL and Redis)
"""

import asyncio
import json
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from datetime import UTC, datetime

import asyncpg
import jwt
import websockets

from koprogo_graph.migrate import apply_migrations
from koprogo_graph.realtime.events import building_readings_channel, encode_event
from koprogo_graph.realtime.hub import Hub
from tests.integration.conftest import JWT_SECRET, make_settings, start_server, stop_server


async def main():
    admin = await asyncpg.connect("postgresql://postgres@127.0.0.1/postgres")
    await admin.execute("DROP DATABASE IF EXISTS kg_wslat")
    await admin.execute("CREATE DATABASE kg_wslat")
    await admin.close()
    dsn = "postgresql://postgres@127.0.0.1/kg_wslat"
    await apply_migrations(dsn)
    srv, task, running = await start_server(make_settings(dsn))
    org, building = uuid.uuid4(), uuid.uuid4()
    token = jwt.encode(
        {
            "sub": str(uuid.uuid4()),
            "role": "owner",
            "organization_id": str(org),
            "exp": int(time.time()) + 600,
        },
        JWT_SECRET,
        algorithm="HS256",
    )
    async with (
        websockets.connect(running.ws_url, subprotocols=["graphql-transport-ws"]) as ws,
        Hub("redis://127.0.0.1:6379/0") as pub,
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
                    "payload": {
                        "query": "subscription($b: ID) { readingAdded(buildingId: $b) { timestamp } }",
                        "variables": {"b": str(building)},
                    },
                }
            )
        )
        await asyncio.sleep(0.5)
        lat = []
        for i in range(100):
            now = datetime.now(UTC)
            ev = {
                "sensorId": str(uuid.uuid4()),
                "organizationId": str(org),
                "buildingId": str(building),
                "unitId": None,
                "deviceId": "x",
                "sensorType": "TEMPERATURE",
                "readingKind": "INSTANTANEOUS",
                "timestamp": now.isoformat(),
                "value": 1.0,
                "rawValue": 1.0,
                "unitOfMeasure": "C",
                "batteryLevel": None,
                "signalStrength": None,
                "quality": "GOOD",
                "isAnomaly": False,
                "anomalyReason": None,
                "receivedAt": now.isoformat(),
            }
            await pub.publish(
                building_readings_channel(org, building),
                encode_event({"kind": "readings", "readings": [ev]}),
            )
            msg = json.loads(await ws.recv())
            lat.append((datetime.now(UTC) - now).total_seconds() * 1000)
            await asyncio.sleep(0.01)
        print("ws p50 %.2f p99 %.2f" % (statistics.median(lat), sorted(lat)[98]))
    await stop_server(srv, task)


asyncio.run(main())
