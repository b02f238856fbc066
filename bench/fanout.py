"""Fan-out capacity of one API process: Redis event -> N websocket subscribers, without ingestion.

    ../.venv/bin/python fanout.py --subscribers 1000 --rate 1000 --seconds 10   (from bench/)

`koprogo-graph serve` with KOPROGO_INGEST=false on a fresh database; N graphql-transport-ws
subscribers, each on one of --buildings buildings' readingAdded; this process publishes reading
events straight on the organization's Redis channel, --rate readings per second in one batch
every --batch-ms (buildings in turn), as the ingesting replica does. Reports publish -> receipt latency and the CPU the
service and the clients spent per delivery (from /proc), which is what bounds the subscribers
one process can hold.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime

import redis.asyncio as redis
import uvloop
from _common import cpu_seconds, fresh_database, service_env, wait_healthy
from _live_client import report_cases, subscribe_buildings
from ingest import free_port
from subscriptions import percentile

from koprogo_graph.realtime.events import encode_event, readings_channel


def rss_mib(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    return -1


def reading(org: uuid.UUID, building: uuid.UUID, sensor: uuid.UUID) -> dict:
    now = datetime.now(UTC).isoformat()
    return {
        "sensorId": str(sensor),
        "organizationId": str(org),
        "buildingId": str(building),
        "unitId": None,
        "deviceId": "probe",
        "sensorType": "TEMPERATURE",
        "readingKind": "INSTANTANEOUS",
        "timestamp": now,
        "value": 21.5,
        "rawValue": 21.5,
        "unitOfMeasure": "°C",
        "batteryLevel": None,
        "signalStrength": None,
        "quality": "GOOD",
        "isAnomaly": False,
        "anomalyReason": None,
        "receivedAt": now,
    }


async def publish(
    client: redis.Redis,
    org: uuid.UUID,
    buildings: list[uuid.UUID],
    rate: float,
    seconds: float,
    batch_ms: float,
) -> int:
    sensors = [uuid.uuid4() for _ in buildings]
    sent, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        due = int(rate * elapsed) + 1
        if due > sent:
            readings = [
                reading(org, buildings[n % len(buildings)], sensors[n % len(buildings)])
                for n in range(sent, due)
            ]
            event = {"kind": "readings", "readings": readings}
            await client.publish(readings_channel(org), encode_event(event))
            sent = due
        await asyncio.sleep(batch_ms / 1000)
    return sent


async def run_case(args: argparse.Namespace, subscribers: int) -> dict:
    dsn = await fresh_database("koprogo_bench_fanout")
    port = free_port()
    env = service_env(
        dsn,
        "mqtt://127.0.0.1:1",
        REDIS_URL=args.redis,
        KOPROGO_INGEST="false",
        KOPROGO_NOTIFY="false",
    )
    service = subprocess.Popen(
        [sys.executable, "-m", "koprogo_graph.cli", "serve", "--port", str(port)], env=env
    )
    try:
        await wait_healthy(f"http://127.0.0.1:{port}")
        org = uuid.uuid4()
        buildings = [uuid.uuid4() for _ in range(args.buildings)]
        latencies: list[float] = []
        clients = await subscribe_buildings(
            f"ws://127.0.0.1:{port}/graphql", org, buildings, subscribers, latencies
        )
        client = redis.Redis.from_url(args.redis)
        rss_before = rss_mib(service.pid)
        service_cpu, own_cpu = cpu_seconds(service.pid), time.process_time()
        spy = (
            subprocess.Popen(
                [
                    "py-spy",
                    "record",
                    "--pid",
                    str(service.pid),
                    "--duration",
                    str(int(args.seconds)),
                    "--format",
                    "raw",
                    "-o",
                    args.profile,
                ],
                stdout=subprocess.DEVNULL,
            )
            if args.profile
            else None
        )
        sent = await publish(client, org, buildings, args.rate, args.seconds, args.batch_ms)
        if spy:
            spy.wait()
        await asyncio.sleep(2)  # stragglers
        service_cpu, own_cpu = cpu_seconds(service.pid) - service_cpu, time.process_time() - own_cpu
        await client.aclose()
        rss_after = rss_mib(service.pid)
        for client in clients:
            client.disconnect()
        expected = sum(
            sum(1 for n in range(sent) if n % len(buildings) == i % len(buildings))
            for i in range(subscribers)
        )
        delivered = max(len(latencies), 1)
        return {
            "subscribers": subscribers,
            "readings": sent,
            "deliveries": len(latencies),
            "expected": expected,
            "p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
            "max_ms": round(max(latencies, default=float("nan")) * 1000, 1),
            "service_rss_mib": [rss_before, rss_after],
            "service_cpu_s": round(service_cpu, 2),
            "clients_cpu_s": round(own_cpu, 2),
            "service_us_per_delivery": round(service_cpu / delivered * 1e6, 1),
            "clients_us_per_delivery": round(own_cpu / delivered * 1e6, 1),
        }
    finally:
        service.terminate()
        service.wait(20)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, nargs="+", default=[1000])
    parser.add_argument("--rate", type=float, default=1000.0, help="reading events per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--batch-ms", type=float, default=20.0, help="the ingestor's batch window")
    parser.add_argument("--buildings", type=int, default=100)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--profile", help="py-spy the service while publishing, raw output to this file"
    )
    args = parser.parse_args()
    await report_cases(args.subscribers, lambda n: run_case(args, n))


if __name__ == "__main__":
    uvloop.run(main())
