"""Shared pieces of the benchmarks: a fresh database, a private broker, the service process."""

from __future__ import annotations

import os
import platform
import subprocess
import tempfile
from pathlib import Path

import asyncpg

from koprogo_graph.store.migrate import apply_migrations

ADMIN_DSN = os.environ.get("KOPROGO_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
JWT_SECRET = "benchmark-secret-0123456789abcdef0123"


def machine() -> str:
    cpus = os.cpu_count()
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.machine()}, {cpus} cores, {mem:.0f} GiB, Python {platform.python_version()}"


def _cpu_of_stat(stat: str) -> float:
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, from /proc."""
    return _cpu_of_stat(Path(f"/proc/{pid}/stat").read_text())


def postgres_cpu_seconds() -> float:
    """CPU time used so far by every PostgreSQL process of the machine (backends included)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if "(postgres)" in text or "(postmaster)" in text:
            total += _cpu_of_stat(text)
    return total


async def fresh_database(name: str) -> str:
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
    await apply_migrations(dsn)
    return dsn


def private_broker(port: int) -> subprocess.Popen:
    """Mosquitto with the deployment's queue choices (deploy/mosquitto), no TLS, no persistence."""
    conf = Path(tempfile.mkdtemp(prefix="koprogo-bench-")) / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "max_queued_messages 1000000\nmax_inflight_messages 2000\nmessage_size_limit 65536\n"
        "set_tcp_nodelay true\n"
    )
    return subprocess.Popen(
        ["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


async def wait_healthy(url: str, attempts: int = 300) -> None:
    """Wait for a service's /healthz to answer 200 (start-up includes migrations)."""
    import asyncio

    import httpx

    async with httpx.AsyncClient() as client:
        for _ in range(attempts):
            try:
                if (await client.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError(f"{url} did not become healthy")


def service_env(dsn: str, mqtt_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": dsn,
        "MQTT_URL": mqtt_url,
        "KOPROGO_JWT_SECRET": JWT_SECRET,
        "KOPROGO_ENV": "test",
        # The benchmark's thousands of subscribers all come from 127.0.0.1.
        "KOPROGO_WS_MAX_PER_ADDRESS": "100000",
        "KOPROGO_API_RATE_LIMIT": "1000000",
        "KOPROGO_API_RATE_BURST": "1000000",
        "KOPROGO_STATEMENT_RATE_LIMIT": "1000000",
        "KOPROGO_STATEMENT_RATE_BURST": "1000000",
        "KOPROGO_LOG_LEVEL": "WARNING",
        **extra,
    }


def api_only_service(dsn: str, port: int) -> subprocess.Popen:
    """`koprogo-graph serve` on ``port``, API only (no ingestion, no notifications)."""
    import sys

    return subprocess.Popen(
        [sys.executable, "-m", "koprogo_graph.cli", "serve", "--port", str(port)],
        env=service_env(dsn, "", KOPROGO_INGEST="false", KOPROGO_NOTIFY="false"),
    )


def bench_token(organization_id: object, role: str, user: object = None) -> str:
    """A token of the benchmark's secret, valid for an hour (``user``: its sub, else new)."""
    import time
    import uuid

    import jwt

    claims = {
        "sub": str(user or uuid.uuid4()),
        "role": role,
        "organization_id": str(organization_id),
        "exp": int(time.time()) + 3600,
    }
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


async def timed_graphql(client, query: str, variables: dict, requests: int) -> tuple[list, dict]:
    """Send ``query`` ``requests`` times one after the other; (seconds each, the last body)."""
    import time

    samples, body = [], {}
    for _ in range(requests):
        began = time.perf_counter()
        response = await client.post("/graphql", json={"query": query, "variables": variables})
        body = response.json()
        samples.append(time.perf_counter() - began)
        assert "errors" not in body, body
    return samples, body
