"""Zero-configuration: with no DATABASE_URL, REDIS_URL or MQTT_URL, `koprogo-graph serve` runs
an embedded PostgreSQL and MQTT broker, ingests a reading published to that broker, and serves it
over GraphQL and a subscription. A production configuration never loads the embedded parts."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import aiomqtt
import httpx
import jwt
import pytest
import websockets

from koprogo_graph.config import DEV_JWT_SECRET

from .processes import ServiceProcess, free_port

pytestmark = pytest.mark.slow


async def test_serve_with_nothing_configured_ingests_and_serves_live(tmp_path):
    mqtt_port = free_port()
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "MQTT_URL")
    }
    env.update(
        {
            "KOPROGO_DATA_DIR": str(tmp_path / "data"),
            "KOPROGO_EMBEDDED_MQTT_PORT": str(mqtt_port),
            # CI runs as root: accept what pgserver then does (test_config_and_auth shows the
            # refusal without it).
            "KOPROGO_EMBEDDED_AS_ROOT": "true",
        }
    )
    for key in ("KOPROGO_ENV", "KOPROGO_JWT_SECRET"):
        env.pop(key, None)
    service = ServiceProcess(env, tmp_path / "service.log")
    service.env = env  # exactly this environment, nothing inherited beyond it
    await service.start()
    try:
        org = uuid.uuid4()
        token = jwt.encode(
            {
                "sub": str(uuid.uuid4()),
                "role": "syndic",
                "organization_id": str(org),
                "exp": int(time.time()) + 600,
            },
            DEV_JWT_SECRET,
            algorithm="HS256",
        )
        async with httpx.AsyncClient(
            base_url=service.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as client:
            create = """mutation($b: ID!) { createSensor(input: {buildingId: $b, deviceId: "ZERO-1",
                type: TEMPERATURE, manufacturer: "Shelly", model: "HT", location: "Hall", samplingInterval: 60})
                { id mqttTopic } }"""
            response = await client.post(
                "/graphql", json={"query": create, "variables": {"b": str(uuid.uuid4())}}
            )
            body = response.json()
            sensor = body["data"]["createSensor"]
            ws_url = service.url.replace("http://", "ws://") + "/graphql"
            async with websockets.connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:
                await ws.send(
                    json.dumps(
                        {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
                    )
                )
                assert json.loads(await ws.recv())["type"] == "connection_ack"
                await ws.send(
                    json.dumps(
                        {
                            "id": "1",
                            "type": "subscribe",
                            "payload": {
                                "query": "subscription { readingAdded { sensorId value } }"
                            },
                        }
                    )
                )
                ts = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
                for _ in range(400):  # until the server holds the subscription
                    if "koprogo_live_subscribers 1.0" in (await client.get("/metrics")).text:
                        break
                    await asyncio.sleep(0.025)
                async with aiomqtt.Client(
                    "127.0.0.1", mqtt_port, identifier="zero-config-device"
                ) as mqtt:
                    await mqtt.publish(
                        sensor["mqttTopic"], json.dumps({"timestamp": ts, "value": 21.5}), qos=1
                    )
                message = json.loads(await asyncio.wait_for(ws.recv(), 20))
                assert message["payload"]["data"]["readingAdded"] == {
                    "sensorId": sensor["id"],
                    "value": 21.5,
                }
            body = (
                await client.post(
                    "/graphql",
                    json={
                        "query": """query($id: ID!, $f: DateTime!, $t: DateTime!) {
                readings(sensorId: $id, from: $f, to: $t) { totalCount edges { node { value } } } }""",
                        "variables": {
                            "id": sensor["id"],
                            "f": "2026-01-01T00:00:00Z",
                            "t": "2100-01-01T00:00:00Z",
                        },
                    },
                )
            ).json()
            assert body["data"]["readings"] == {
                "totalCount": 1,
                "edges": [{"node": {"value": 21.5}}],
            }
    finally:
        service.stop()


def test_a_production_configuration_imports_no_embedded_part():
    code = (
        "import sys; from koprogo_graph.app import create_app; from koprogo_graph.config import Settings;"
        "create_app(Settings.from_env({'DATABASE_URL': 'postgresql://x@db/k', 'MQTT_URL': 'mqtt://b:1883',"
        "'REDIS_URL': 'redis://r:6379/0', 'KOPROGO_JWT_SECRET': 'p' * 40}));"
        "print(sorted(m for m in ('pgserver', 'amqtt') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
