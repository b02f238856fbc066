"""Alert latency benchmark: MQTT publish of a reading over a threshold -> alertChanged delivered.

    .venv/bin/python bench/alerts.py --sensors 100 --rate 100 --seconds 10

One `koprogo-graph serve` (ingesting, Redis broadcast) on a fresh database and a private
Mosquitto; every reading exceeds its sensor's maximum, so each one opens or bumps an alert and
publishes an alertChanged event. One graphql-transport-ws subscriber receives them; latency is
receive time minus the alert's lastTriggeredAt (the device timestamp, set at publish time).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
import uuid
from datetime import datetime

import asyncpg
import jwt
import websockets
from _common import JWT_SECRET, fresh_database, machine, private_broker, service_env, wait_healthy
from ingest import free_port
from subscriptions import percentile, publish_elsewhere


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sensors", type=int, default=100)
    parser.add_argument("--rate", type=float, default=100.0, help="readings per second in all")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"command: {' '.join(sys.argv)}")
    port = free_port()
    broker = private_broker(port)
    dsn = await fresh_database("koprogo_bench_alerts")
    org, building = uuid.uuid4(), uuid.uuid4()
    con = await asyncpg.connect(dsn)
    await con.executemany(
        "INSERT INTO sensors (organization_id, building_id, device_id, type, reading_kind, manufacturer,"
        " model, location, unit_of_measure, sampling_interval, alert_rules) VALUES ($1, $2, $3, 'HOT_WATER',"
        " 'INSTANTANEOUS', 'Bench', 'B', 'x', 'L/h', 60, '{\"threshold_max\": -1}')",
        [(org, building, f"A-{i:04d}") for i in range(args.sensors)],
    )
    await con.close()
    topics = [f"koprogo/{org}/{building}/A-{i:04d}/readings" for i in range(args.sensors)]
    http_port = free_port()
    service = subprocess.Popen(
        [sys.executable, "-m", "koprogo_graph.cli", "serve", "--port", str(http_port)],
        env=service_env(
            dsn,
            f"mqtt://127.0.0.1:{port}",
            REDIS_URL=args.redis,
            KOPROGO_INGEST="true",
            KOPROGO_RATE_LIMIT="1000000",
            KOPROGO_RATE_BURST="1000000",
            KOPROGO_NOTIFY="false",
            KOPROGO_MQTT_CLIENT_ID=f"bench-alerts-{uuid.uuid4().hex[:6]}",
        ),
    )
    latencies: list[float] = []
    try:
        await wait_healthy(f"http://127.0.0.1:{http_port}")
        token = jwt.encode(
            {
                "sub": str(uuid.uuid4()),
                "role": "owner",
                "organization_id": str(org),
                "exp": int(time.time()) + 3600,
            },
            JWT_SECRET,
            algorithm="HS256",
        )
        async with websockets.connect(
            f"ws://127.0.0.1:{http_port}/graphql",
            subprotocols=["graphql-transport-ws"],
            max_queue=None,
        ) as ws:
            await ws.send(
                json.dumps(
                    {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
                )
            )
            await ws.recv()
            await ws.send(
                json.dumps(
                    {
                        "id": "1",
                        "type": "subscribe",
                        "payload": {
                            "query": "subscription { alertChanged { lastTriggeredAt severity } }"
                        },
                    }
                )
            )
            await asyncio.sleep(1)

            async def receive() -> None:
                async for raw in ws:
                    message = json.loads(raw)
                    if message.get("type") == "next":
                        at = datetime.fromisoformat(
                            message["payload"]["data"]["alertChanged"]["lastTriggeredAt"]
                        )
                        latencies.append(time.time() - at.timestamp())

            receiver = asyncio.create_task(receive())
            sent = await asyncio.to_thread(publish_elsewhere, port, topics, args.rate, args.seconds)
            await asyncio.sleep(3)
            receiver.cancel()
        print(
            json.dumps(
                {
                    "readings_published": sent,
                    "alert_events": len(latencies),
                    "p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
                    "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
                    "max_ms": round(max(latencies, default=float("nan")) * 1000, 1),
                }
            )
        )
    finally:
        service.terminate()
        service.wait(20)
        broker.terminate()


if __name__ == "__main__":
    asyncio.run(main())
