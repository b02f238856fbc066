"""The service under the attacks of issue #17: does it keep answering and ingesting?

    .venv/bin/python bench/attack.py --seconds 10

One production-mode `koprogo-graph serve` (ingesting, default limits) on a fresh database and a
private Mosquitto. Five legitimate devices publish a reading a second each; a prober asks /healthz
every 100 ms. Both are measured first alone (the reference), then while attackers run, all at
once and without pause:
  * three concurrent 20 MB POSTs without a token, again and again;
  * 30 aliases of the longest 5-minute series, with a valid token;
  * 2,000 websockets opened on the legacy protocol and left idle (no connection_init);
  * 10 MB websocket subscribe frames;
  * a hostile device flooding 1,000-reading arrays, huge values and 3,000 random organizations.
Reported: /healthz latency and publish -> stored latency (p50, p99, max), per phase.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
import uuid
from contextlib import suppress
from datetime import UTC, datetime, timedelta

import aiomqtt
import asyncpg
import httpx
import jwt
import websockets
from _common import JWT_SECRET, fresh_database, machine, private_broker, service_env, wait_healthy
from ingest import free_port

LEGIT = 5  # legitimate devices, one reading a second each

SERIES = " ".join(
    f'a{i}: readingSeries(sensorId: $id, from: "2026-01-01T00:00:00Z", to: "2026-02-04T00:00:00Z",'
    " bucket: FIVE_MINUTES, fill: LINEAR) { avg }"
    for i in range(30)
)


def token(org: uuid.UUID, role: str = "syndic") -> str:
    claims = {
        "sub": str(uuid.uuid4()),
        "role": role,
        "organization_id": str(org),
        "exp": int(time.time()) + 3600,
    }
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


async def probe_health(url: str, until: float, out: list[float]) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        while time.monotonic() < until:
            start = time.perf_counter()
            with suppress(httpx.HTTPError):
                await client.get(f"{url}/healthz")
            out.append(time.perf_counter() - start)
            await asyncio.sleep(0.1)


async def legit_device(
    mqtt_port: int, topic: str, dsn: str, sensor: str, until: float, out: list[float]
) -> None:
    con = await asyncpg.connect(dsn)
    async with aiomqtt.Client(
        "127.0.0.1", mqtt_port, identifier=f"legit-{uuid.uuid4().hex[:6]}"
    ) as client:
        value = 1000.0
        while time.monotonic() < until:
            value += 0.01
            stamp = datetime.now(UTC)
            start = time.perf_counter()
            await client.publish(
                topic, json.dumps({"timestamp": stamp.isoformat(), "value": value}), qos=1
            )
            while time.perf_counter() - start < 30:
                if await con.fetchval(
                    "SELECT 1 FROM readings WHERE sensor_id = $1 AND ts = $2",
                    uuid.UUID(sensor),
                    stamp,
                ):
                    out.append(time.perf_counter() - start)
                    break
                await asyncio.sleep(0.005)
            await asyncio.sleep(1.0)  # the sensor's rate (KOPROGO_RATE_LIMIT, 1 message/s)
    await con.close()


async def big_posts(url: str, until: float) -> None:
    """Three 20 MB posts at a time, bodies sent whole (a server that reads them pays for it)."""
    body = b'{"query": "' + b" " * (20_000_000 - 14) + b'"}'
    host, port = url.removeprefix("http://").split(":")
    head = (
        b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )

    async def one() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            writer.write(head + body)
            await writer.drain()
            await reader.readline()
        finally:
            writer.close()

    while time.monotonic() < until:
        await asyncio.gather(
            *(asyncio.wait_for(one(), 30) for _ in range(3)), return_exceptions=True
        )


async def expensive_queries(url: str, bearer: str, sensor: str, until: float) -> None:
    async with httpx.AsyncClient(timeout=60) as client:
        while time.monotonic() < until:
            with suppress(httpx.HTTPError):
                await client.post(
                    f"{url}/graphql",
                    json={"query": f"query($id: ID!) {{ {SERIES} }}", "variables": {"id": sensor}},
                    headers={"Authorization": f"Bearer {bearer}"},
                )


async def idle_sockets(ws_url: str, until: float, count: int = 2_000) -> int:
    opened = []
    for _ in range(count):
        try:
            opened.append(await websockets.connect(ws_url, subprotocols=["graphql-ws"]))
        except Exception:
            pass
    await asyncio.sleep(max(0.0, until - time.monotonic()))
    for ws in opened:
        with suppress(Exception):
            await ws.close()
    return len(opened)


async def huge_frames(ws_url: str, bearer: str, until: float) -> None:
    frame = json.dumps({"id": "1", "type": "subscribe", "payload": {"query": " " * 10_000_000}})
    while time.monotonic() < until:
        with suppress(Exception):
            async with websockets.connect(
                ws_url, subprotocols=["graphql-transport-ws"], max_size=None
            ) as ws:
                await ws.send(
                    json.dumps(
                        {
                            "type": "connection_init",
                            "payload": {"Authorization": f"Bearer {bearer}"},
                        }
                    )
                )
                await ws.recv()
                await ws.send(frame)
                await ws.recv()


async def hostile_device(mqtt_port: int, topic: str, until: float) -> None:
    base = datetime.now(UTC) - timedelta(days=1)
    async with aiomqtt.Client(
        "127.0.0.1", mqtt_port, identifier=f"hostile-{uuid.uuid4().hex[:6]}"
    ) as client:
        batch = 0
        while time.monotonic() < until:
            items = [
                {
                    "timestamp": (base + timedelta(seconds=batch * 1000 + i)).isoformat(),
                    "value": float(i),
                }
                for i in range(1000)
            ]
            await client.publish(topic, json.dumps(items), qos=1)
            await client.publish(
                topic, json.dumps({"timestamp": base.isoformat(), "value": 1.7e308}), qos=1
            )
            for _ in range(30):
                await client.publish(
                    f"koprogo/{uuid.uuid4()}/{uuid.uuid4()}/x/readings", b"{}", qos=1
                )
            batch += 1
            await asyncio.sleep(0.01)


def summary(name: str, health: list[float], ingest: list[float]) -> dict:
    def ms(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return round(ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] * 1000, 1)

    return {
        "phase": name,
        "healthz_ms": {
            "p50": ms(health, 50),
            "p99": ms(health, 99),
            "max": round(max(health) * 1000, 1),
        },
        "ingest_ms": {
            "p50": ms(ingest, 50),
            "p99": ms(ingest, 99),
            "max": round(max(ingest) * 1000, 1),
        },
        "samples": [len(health), len(ingest)],
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"command: {' '.join(sys.argv)}")
    mqtt_port, http_port = free_port(), free_port()
    broker = private_broker(mqtt_port)
    dsn = await fresh_database("koprogo_bench_attack")
    url = f"http://127.0.0.1:{http_port}"
    service = subprocess.Popen(
        [sys.executable, "-m", "koprogo_graph.cli", "serve", "--port", str(http_port)],
        env=service_env(
            dsn,
            f"mqtt://127.0.0.1:{mqtt_port}",
            KOPROGO_ENV="production",
            KOPROGO_INGEST="true",
            KOPROGO_NOTIFY="false",
            KOPROGO_MQTT_CLIENT_ID=f"bench-attack-{uuid.uuid4().hex[:6]}",
            # The limits as shipped (service_env lifts them for the other benchmarks).
            KOPROGO_WS_MAX_PER_ADDRESS="500",
            KOPROGO_API_RATE_LIMIT="20",
            KOPROGO_API_RATE_BURST="100",
        ),
    )
    try:
        await wait_healthy(url)
        org = uuid.uuid4()
        bearer = token(org)
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {bearer}"}
        ) as client:
            sensors = []
            for device in [*(f"LEGIT-{i}" for i in range(LEGIT)), "HOSTILE-1"]:
                body = (
                    await client.post(
                        "/graphql",
                        json={
                            "query": "mutation($i: CreateSensorInput!) { createSensor(input: $i) { id mqttTopic } }",
                            "variables": {
                                "i": {
                                    "buildingId": str(uuid.uuid4()),
                                    "deviceId": device,
                                    "type": "COLD_WATER",
                                    "manufacturer": "x",
                                    "model": "x",
                                    "location": "x",
                                    "samplingInterval": 60,
                                }
                            },
                        },
                    )
                ).json()
                sensors.append(body["data"]["createSensor"])
        *legit, hostile = sensors
        results = []
        for phase in ("alone", "under attack"):
            until = time.monotonic() + args.seconds
            health: list[float] = []
            ingest: list[float] = []
            tasks = [
                probe_health(url, until, health),
                *(
                    legit_device(mqtt_port, s["mqttTopic"], dsn, s["id"], until, ingest)
                    for s in legit
                ),
            ]
            if phase == "under attack":
                ws_url = url.replace("http://", "ws://") + "/graphql"
                tasks += [
                    big_posts(url, until),
                    expensive_queries(url, token(org, "owner"), legit[0]["id"], until),
                    idle_sockets(ws_url, until),
                    huge_frames(ws_url, token(org, "owner"), until),
                    hostile_device(mqtt_port, hostile["mqttTopic"], until),
                ]
            await asyncio.gather(*tasks)
            results.append(summary(phase, health, ingest))
        for result in results:
            print(json.dumps(result))
        print(f"service alive after the attack: {service.poll() is None}")
    finally:
        service.terminate()
        service.wait(10)
        broker.terminate()


if __name__ == "__main__":
    asyncio.run(main())
