"""Ingest benchmark: readings/s from MQTT publish to committed rows, nothing lost.

    .venv/bin/python bench/ingest.py --messages 100000 --sensors 2000 --batch 1
    .venv/bin/python bench/ingest.py --messages 10000 --sensors 2000 --batch 10
    .venv/bin/python bench/ingest.py --messages 30000 --sensors 1000 --integration zigbee2mqtt

Runs a private Mosquitto (deployment queue settings), `koprogo-graph serve` as a subprocess on a
fresh database, and paho publishers (QoS 1, 1,000 in flight). Reports, in the same run:
the service's readings/s and publish->commit latency (p50/p99 of received_at - device
timestamp), a bare aiomqtt QoS 1 subscriber's receive rate, and asyncpg COPY of the same rows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime

import aiomqtt
import asyncpg
import paho.mqtt.client as paho
from _common import fresh_database, machine, private_broker, service_env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


INTEGRATION = "koprogo"  # or "zigbee2mqtt": the same meters as ZLinky modules (SPEC §11)


def topics_for(org: uuid.UUID, building: uuid.UUID, sensors: int) -> list[str]:
    if INTEGRATION == "zigbee2mqtt":
        return [f"koprogo/{org}/{building}/zigbee2mqtt/B-{i:05d}" for i in range(sensors)]
    return [f"koprogo/{org}/{building}/B-{i:05d}/readings" for i in range(sensors)]


def message(n: int, now: float, batch: int) -> str:
    """Reading ``n``: KoproGo's JSON, or a ZLinky's state as Zigbee2MQTT publishes it (its
    last_seen option on, so that each message has its own time)."""
    if INTEGRATION == "zigbee2mqtt":
        return json.dumps(
            {
                "current_summ_delivered": float(n),
                "apparent_power": 1420,
                "linkquality": 142,
                "last_seen": datetime.fromtimestamp(now, UTC).isoformat(),
            }
        )
    items = [
        {
            "timestamp": datetime.fromtimestamp(now - (batch - k) * 1e-4, UTC).isoformat(),
            "value": float(n),
        }
        for k in range(batch)
    ]
    return json.dumps(items[0] if batch == 1 else items)


def publish(
    port: int,
    topics: list[str],
    messages: int,
    batch: int,
    publishers: int,
    rate: float | None = None,
) -> float:
    """Publish from ``publishers`` paho clients in threads; return seconds until all PUBACKs."""

    def worker(index: int, out: list) -> None:
        client = paho.Client(
            paho.CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{index}-{uuid.uuid4().hex[:6]}"
        )
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        client.connect("127.0.0.1", port)
        client.loop_start()
        infos = []
        begun = time.perf_counter()
        for sent, n in enumerate(range(index, messages, publishers)):
            if rate and (ahead := sent / rate - (time.perf_counter() - begun)) > 0:
                time.sleep(ahead)
            topic = topics[n % len(topics)]
            infos.append(client.publish(topic, message(n, time.time(), batch), qos=1))
        for info in infos:
            info.wait_for_publish()
        client.loop_stop()
        client.disconnect()
        out.append(time.perf_counter())

    started, done = time.perf_counter(), []
    threads = [threading.Thread(target=worker, args=(i, done)) for i in range(publishers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return max(done) - started


async def count(dsn: str) -> int:
    con = await asyncpg.connect(dsn)
    try:
        return await con.fetchval("SELECT count(*) FROM readings")
    finally:
        await con.close()


PROTOCOL = "5"


def start_service(dsn: str, port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "koprogo_graph.cli", "serve", "--port", str(free_port())],
        env=service_env(
            dsn,
            f"mqtt://127.0.0.1:{port}",
            KOPROGO_RATE_LIMIT="1000000",
            KOPROGO_RATE_BURST="1000000",
            KOPROGO_MQTT_CLIENT_ID="bench-ingest",
            KOPROGO_INGEST="true",
            KOPROGO_MQTT_PROTOCOL=PROTOCOL,
        ),
    )


async def wait_for_rows(dsn: str, total: int, started: float) -> float:
    while (n := await count(dsn)) < total:
        if time.perf_counter() - started > 600:
            raise SystemExit(f"only {n} of {total} readings stored after 600 s")
        await asyncio.sleep(0.05)
    return time.perf_counter() - started


async def bench_service(args, dsn: str, port: int) -> dict:
    """[1] Throughput: the broker holds a backlog for the ingestor's persistent session, then the
    service starts and drains it (so the publisher's own speed does not bound the result).
    [2] Latency: publish at a steady --latency-rate with the service running; device timestamp
    (set at publish time) to received_at (the inserting transaction's start)."""
    org, building = uuid.uuid4(), uuid.uuid4()
    con = await asyncpg.connect(dsn)
    await con.execute(
        "INSERT INTO sensors (organization_id, building_id, device_id, type, reading_kind, manufacturer,"
        " model, location, unit_of_measure, sampling_interval)"
        " SELECT $1, $2, 'B-' || lpad(i::text, 5, '0'), 'ELECTRICITY', 'CUMULATIVE', 'Bench', 'B', 'x',"
        " 'kWh', 60 FROM generate_series(0, $3 - 1) i",
        org,
        building,
        args.sensors,
    )
    if INTEGRATION == "zigbee2mqtt":
        await con.execute(
            "UPDATE sensors SET integration = 'ZIGBEE2MQTT', external_id = device_id, "
            "metric = 'current_summ_delivered' WHERE organization_id = $1",
            org,
        )
    await con.close()
    topics = topics_for(org, building, args.sensors)
    total = args.messages * args.batch

    service = start_service(dsn, port)  # creates the persistent session and its subscription
    await asyncio.sleep(3)
    service.terminate()
    service.wait(20)
    await asyncio.to_thread(publish, port, topics, args.messages, args.batch, args.publishers)
    service = start_service(dsn, port)
    try:
        while await count(dsn) == 0:  # the clock starts with the first stored row, after start-up
            await asyncio.sleep(0.01)
        if args.profile:
            spy = subprocess.Popen(
                [
                    "py-spy",
                    "record",
                    "-o",
                    args.profile,
                    "-d",
                    "8",
                    "-f",
                    "speedscope",
                    "-p",
                    str(service.pid),
                ],
                stdout=subprocess.DEVNULL,
            )
        elapsed = await wait_for_rows(dsn, total, time.perf_counter())
        if args.profile:
            spy.wait()
        con = await asyncpg.connect(dsn)
        await con.execute("TRUNCATE readings")
        await con.close()
        await asyncio.sleep(0.5)
        latency_messages = int(args.latency_rate * args.latency_seconds)
        await asyncio.to_thread(publish, port, topics, latency_messages, 1, 1, args.latency_rate)
        await wait_for_rows(dsn, latency_messages, time.perf_counter())
        con = await asyncpg.connect(dsn)
        lat = await con.fetchrow(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM received_at - ts)) p50,"
            " percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM received_at - ts)) p99,"
            " count(*) n FROM readings"
        )
        await con.close()
        return {
            "readings": total,
            "drain_seconds": elapsed,
            "readings_per_s": total / elapsed,
            "latency_at_msgs_per_s": args.latency_rate,
            "latency_samples": lat["n"],
            "p50_ms": lat["p50"] * 1000,
            "p99_ms": lat["p99"] * 1000,
        }
    finally:
        service.terminate()
        service.wait(20)


async def bench_bare_subscriber(args, port: int) -> float:
    """Messages/s a plain aiomqtt QoS 1 subscriber receives from the same publishers."""
    org, building = uuid.uuid4(), uuid.uuid4()
    received = 0
    async with aiomqtt.Client(
        "127.0.0.1", port, identifier=f"bench-bare-{uuid.uuid4().hex[:6]}"
    ) as client:
        await client.subscribe(f"koprogo/{org}/#", qos=1)
        started = time.perf_counter()
        pub = asyncio.create_task(
            asyncio.to_thread(
                publish,
                port,
                topics_for(org, building, args.sensors),
                args.messages,
                1,
                args.publishers,
            )
        )
        async for _ in client.messages:
            received += 1
            if received == args.messages:
                break
        elapsed = time.perf_counter() - started
        await pub
    return args.messages / elapsed


async def bench_copy(dsn: str, rows: int) -> float:
    con = await asyncpg.connect(dsn)
    try:
        await con.execute("CREATE TEMP TABLE copy_target (LIKE readings INCLUDING DEFAULTS)")
        sensor, now = uuid.uuid4(), datetime.now(UTC)
        records = [
            (
                sensor,
                datetime.fromtimestamp(now.timestamp() - i, UTC),
                sensor,
                sensor,
                None,
                float(i),
                float(i),
                None,
                None,
                "GOOD",
                False,
                None,
                now,
            )
            for i in range(rows)
        ]
        started = time.perf_counter()
        columns = [
            "sensor_id", "ts", "organization_id", "building_id", "unit_id", "value", "raw_value",
            "battery_level", "signal_strength", "quality", "is_anomaly", "anomaly_reason",
            "received_at",
        ]  # fmt: skip
        await con.copy_records_to_table("copy_target", records=records, columns=columns)
        return rows / (time.perf_counter() - started)
    finally:
        await con.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--sensors", type=int, default=2_000)
    parser.add_argument("--batch", type=int, default=1, help="readings per message")
    parser.add_argument("--publishers", type=int, default=2)
    parser.add_argument(
        "--latency-rate", type=float, default=1000.0, help="msg/s for the latency run"
    )
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument(
        "--protocol", choices=["5", "3.1.1"], default="5", help="the ingestor's MQTT version"
    )
    parser.add_argument("--profile", help="write a py-spy profile of the drain to this file")
    parser.add_argument(
        "--integration",
        choices=["koprogo", "zigbee2mqtt"],
        default="koprogo",
        help="the devices' format (zigbee2mqtt: one reading per message)",
    )
    args = parser.parse_args()
    global PROTOCOL, INTEGRATION
    PROTOCOL = args.protocol
    INTEGRATION = args.integration
    if INTEGRATION != "koprogo" and args.batch != 1:
        raise SystemExit("--batch is for KoproGo's format: a product sends one reading at a time")
    port = free_port()
    broker = private_broker(port)
    try:
        await asyncio.sleep(0.5)
        dsn = await fresh_database("koprogo_bench_ingest")
        print(f"machine: {machine()}")
        print(f"command: {' '.join(sys.argv)}")
        result = await bench_service(args, dsn, port)
        print(
            "service:",
            json.dumps({k: round(v, 1) if isinstance(v, float) else v for k, v in result.items()}),
        )
        if args.batch == 1:
            print(
                f"bare aiomqtt QoS 1 subscriber: {await bench_bare_subscriber(args, port):,.0f} msg/s"
            )
        print(
            f"asyncpg COPY of the same rows: {await bench_copy(dsn, args.messages * args.batch):,.0f} rows/s"
        )
    finally:
        broker.terminate()


if __name__ == "__main__":
    asyncio.run(main())
