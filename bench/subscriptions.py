"""Live latency benchmark: MQTT publish -> websocket delivery, with N concurrent subscribers.

    .venv/bin/python bench/subscriptions.py --subscribers 1 100 1000 --rate 1000 --seconds 10

One `koprogo-graph serve` process (ingesting, Redis broadcast) on a fresh database and a private
Mosquitto; readings spread over --sensors sensors in --buildings buildings of one organization
(1,000 sensors at 1 reading/s each by default: sensors report every minute or so, and an hour
of 10 readings/s per sensor would make the rollup trigger's recomputation, not the live path,
the cost being measured); each subscriber is a
graphql-transport-ws websocket (bench/_live_client.py) subscribed to one building's
readingAdded, subscriber i to building i % --buildings. Latency is the subscriber's receive time
minus the reading's device timestamp, set at publish time by a publisher in a process of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import multiprocessing
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime

import asyncpg
import httpx
import paho.mqtt.client as paho
import uvloop
from _common import (
    cpu_seconds,
    fresh_database,
    postgres_cpu_seconds,
    private_broker,
    service_env,
    wait_healthy,
)
from _live_client import report_cases, subscribe_buildings
from ingest import free_port


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def publish_elsewhere(port: int, topics: list[str], rate: float, seconds: float) -> int:
    """Run the publisher in a process of its own: in this one it would share the GIL with the
    websocket clients, and its timestamps (taken before the actual send) would run early."""
    with concurrent.futures.ProcessPoolExecutor(
        1, mp_context=multiprocessing.get_context("spawn")
    ) as pool:
        return pool.submit(publisher, port, topics, rate, seconds, None).result()


def publisher(
    port: int, topics: list[str], rate: float, seconds: float, stop: threading.Event | None
) -> int:
    client = paho.Client(
        paho.CallbackAPIVersion.VERSION2, client_id=f"bench-live-{uuid.uuid4().hex[:6]}"
    )
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", port)
    client.loop_start()
    sent, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        ahead = sent / rate - (time.perf_counter() - started)
        if ahead > 0:
            time.sleep(ahead)
        payload = json.dumps({"timestamp": datetime.now(UTC).isoformat(), "value": float(sent)})
        client.publish(topics[sent % len(topics)], payload, qos=1)
        sent += 1
    client.loop_stop()
    client.disconnect()
    return sent


async def run_case(args, subscribers: int) -> dict:
    port = free_port()
    broker = private_broker(port)
    dsn = await fresh_database("koprogo_bench_live")
    org = uuid.uuid4()
    buildings = [uuid.uuid4() for _ in range(args.buildings)]
    con = await asyncpg.connect(dsn)
    await con.executemany(
        "INSERT INTO sensors (organization_id, building_id, device_id, type, reading_kind, manufacturer,"
        " model, location, unit_of_measure, sampling_interval) VALUES ($1, $2, $3, 'TEMPERATURE',"
        " 'INSTANTANEOUS', 'Bench', 'B', 'x', '°C', 60)",
        [(org, buildings[i % len(buildings)], f"L-{i:05d}") for i in range(args.sensors)],
    )
    await con.close()
    # Sensor j is in building j % B; reading n comes from sensor n % S.
    topics = [
        f"koprogo/{org}/{buildings[i % len(buildings)]}/L-{i:05d}/readings"
        for i in range(args.sensors)
    ]
    http_port = free_port()

    def serve(http: int, ingest: bool) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "koprogo_graph.cli", "serve", "--port", str(http)],
            env=service_env(
                dsn,
                f"mqtt://127.0.0.1:{port}",
                REDIS_URL=args.redis,
                KOPROGO_INGEST="true" if ingest else "false",
                KOPROGO_NOTIFY="false",
                KOPROGO_RATE_LIMIT="1000000",
                KOPROGO_RATE_BURST="1000000",
                KOPROGO_MQTT_CLIENT_ID=f"bench-live-{uuid.uuid4().hex[:6]}",
                KOPROGO_MQTT_PROTOCOL=args.protocol,
            ),
        )

    # --split: the deployment of k8s/: an ingesting replica and an API-only replica holding the
    # websockets, each a process of its own; otherwise one process does both.
    services = [serve(http_port, ingest=not args.split)]
    ingest_port = http_port
    if args.split:
        ingest_port = free_port()
        services.append(serve(ingest_port, ingest=True))
    try:
        await wait_healthy(f"http://127.0.0.1:{http_port}")
        latencies: list[float] = []
        clients = await subscribe_buildings(
            f"ws://127.0.0.1:{http_port}/graphql", org, buildings, subscribers, latencies
        )
        watched = {"broker": broker.pid, **{f"service{i}": s.pid for i, s in enumerate(services)}}
        cpu_before = {name: cpu_seconds(pid) for name, pid in watched.items()}
        cpu_before |= {"postgres": postgres_cpu_seconds(), "clients": time.process_time()}
        sent = await asyncio.to_thread(publish_elsewhere, port, topics, args.rate, args.seconds)
        await asyncio.sleep(2)  # stragglers
        cpu_after = {name: cpu_seconds(pid) for name, pid in watched.items()}
        cpu_after |= {"postgres": postgres_cpu_seconds(), "clients": time.process_time()}
        # CPU seconds spent during the run (publishing + 2 s), per process; with --split,
        # service0 is the API process and service1 the ingesting one.
        cpu = {name: round(cpu_after[name] - cpu_before[name], 2) for name in cpu_before}
        # Where the time goes: batches and their processing time, as the ingestor saw them...
        async with httpx.AsyncClient() as http:
            text = (await http.get(f"http://127.0.0.1:{ingest_port}/metrics")).text
        batch = {
            line.split()[0]: float(line.split()[1])
            for line in text.splitlines()
            if line.startswith("koprogo_ingest_batch_seconds_")
        }
        batches = batch["koprogo_ingest_batch_seconds_count"]
        # ...and publish -> start of the storing transaction, per reading.
        con = await asyncpg.connect(dsn)
        to_store = await con.fetchrow(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM received_at - ts)) AS p50,"
            " percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM received_at - ts)) AS p99"
            " FROM readings"
        )
        await con.close()
        for client in clients:
            client.disconnect()
        # Reading n goes to building n % B; subscriber i listens to building i % B.
        per_building = [0] * len(buildings)
        for n in range(sent):
            per_building[(n % args.sensors) % len(buildings)] += 1
        expected = sum(per_building[i % len(buildings)] for i in range(subscribers))
        return {
            "subscribers": subscribers,
            "readings_published": sent,
            "deliveries": len(latencies),
            "expected_deliveries": expected,
            "p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
            "max_ms": round(max(latencies, default=float("nan")) * 1000, 1),
            "publish_to_store_ms": [
                round(to_store["p50"] * 1000, 1),
                round(to_store["p99"] * 1000, 1),
            ],
            "batches": int(batches),
            "batch_ms_mean": round(
                batch["koprogo_ingest_batch_seconds_sum"] / max(batches, 1) * 1000, 1
            ),
            "cpu_s": cpu,
        }
    finally:
        for service in services:
            service.terminate()
            service.wait(20)
        broker.terminate()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--rate", type=float, default=1000.0, help="readings per second in all")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--buildings", type=int, default=100)
    parser.add_argument(
        "--sensors",
        type=int,
        default=1000,
        help="spread over the buildings; each reports rate/sensors readings/s",
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--protocol", default="5", choices=["5", "3.1.1"], help="the ingestor's MQTT"
    )
    parser.add_argument(
        "--split", action="store_true", help="ingest and serve websockets in two processes"
    )
    args = parser.parse_args()
    await report_cases(args.subscribers, lambda n: run_case(args, n))


if __name__ == "__main__":
    uvloop.run(main())
