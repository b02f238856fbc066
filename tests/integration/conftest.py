"""Integration fixtures: a fresh database per test session, the real app served by uvicorn on a
free port, and helpers to mint tokens and post GraphQL over real HTTP.

Services come from the environment (defaults: the local PostgreSQL, Redis and Mosquitto):
``KOPROGO_TEST_PG`` (an admin DSN), ``KOPROGO_TEST_REDIS``, ``KOPROGO_TEST_MQTT``.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiomqtt
import asyncpg
import httpx
import jwt
import pytest
import uvicorn

from koprogo_graph.app import SERVER_OPTIONS, create_app
from koprogo_graph.config import Settings
from koprogo_graph.store.migrate import apply_migrations

from .processes import PrivateRedis

ADMIN_DSN = os.environ.get("KOPROGO_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("KOPROGO_TEST_REDIS", "redis://127.0.0.1:6379/0")
MQTT_URL = os.environ.get("KOPROGO_TEST_MQTT", "mqtt://127.0.0.1:1883")
JWT_SECRET = "integration-tests-secret-0123456789abcdef"
RUN_ID = uuid.uuid4().hex[:10]


def _dsn_for(database: str) -> str:
    base, _, _ = ADMIN_DSN.rpartition("/")
    return f"{base}/{database}"


@pytest.fixture(scope="session")
def run_id() -> str:
    """Unique per test session: database names, MQTT client ids and share groups use it."""
    return RUN_ID


@pytest.fixture(scope="session")
async def database_url(run_id: str) -> AsyncIterator[str]:
    """A fresh, migrated database for this test session, dropped afterwards."""
    name = f"koprogo_test_{run_id}"
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = _dsn_for(name)
    await apply_migrations(dsn)
    yield dsn
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


FRONTEND_ORIGIN = "http://frontend.test:5173"


def make_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings for a test app: API only unless the test turns ingestion on."""
    env = {
        "DATABASE_URL": database_url,
        "KOPROGO_JWT_SECRET": JWT_SECRET,
        "KOPROGO_ENV": "test",
        "KOPROGO_INGEST": "false",
        "REDIS_URL": REDIS_URL,
        "MQTT_URL": MQTT_URL,
        "KOPROGO_MQTT_CLIENT_ID": f"koprogo-test-{RUN_ID}",
        "KOPROGO_MQTT_GROUP": f"koprogo-test-{RUN_ID}",
        # Only the alert tests' server delivers notifications (it has the test SMTP server).
        "KOPROGO_NOTIFY": "false",
        # A frontend whose pages may call the API (test_security.py checks who else may not).
        "KOPROGO_CORS_ORIGINS": FRONTEND_ORIGIN,
    }
    env.update({k: str(v) for k, v in overrides.items() if v is not None})
    return Settings.from_env(env)


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@dataclass
class RunningServer:
    url: str
    settings: Settings

    @property
    def graphql_url(self) -> str:
        return f"{self.url}/graphql"

    @property
    def ws_url(self) -> str:
        return self.graphql_url.replace("http://", "ws://")


async def start_server(
    settings: Settings,
) -> tuple[uvicorn.Server, asyncio.Task[None], RunningServer]:
    """Serve the real app with uvicorn on a free loopback port, in this event loop."""
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="on",
        **SERVER_OPTIONS,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("server stopped during start-up")
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, task, RunningServer(url=f"http://127.0.0.1:{port}", settings=settings)


async def stop_server(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    server.should_exit = True
    await task


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[RunningServer]:
    """The real app served on a free loopback port for the length of the block."""
    server, task, running = await start_server(settings)
    try:
        yield running
    finally:
        await stop_server(server, task)


@pytest.fixture(scope="session")
async def server(settings: Settings) -> AsyncIterator[RunningServer]:
    async with serving(settings) as running:
        yield running


@pytest.fixture(scope="session")
def token() -> Callable[..., str]:
    """Mint a KoproGo JWT: ``token(org_id, role="syndic", expires_in=3600)``."""

    def make(
        organization_id: uuid.UUID | str | None,
        role: str = "syndic",
        *,
        user_id: uuid.UUID | None = None,
        expires_in: int = 3600,
        secret: str = JWT_SECRET,
    ) -> str:
        now = int(time.time())
        claims = {
            "sub": str(user_id or uuid.uuid4()),
            "email": "someone@example.org",
            "role": role,
            "organization_id": str(organization_id) if organization_id else None,
            "role_id": str(uuid.uuid4()),
            "iat": now,
            "exp": now + expires_in,
        }
        return jwt.encode(claims, secret, algorithm="HS256")

    return make


@pytest.fixture(scope="session")
async def http(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def graphql(http: httpx.AsyncClient) -> Callable[..., Any]:
    """POST a GraphQL operation over real HTTP; return the JSON body."""

    async def post(
        query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code in (200, 400), response.text
        return response.json()

    return post


async def eventually(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Poll ``check`` (an async callable returning a truthy value when done) until a deadline:
    for outcomes that happen elsewhere (the ingestor, the watchdog) and announce nothing."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        await asyncio.sleep(0.05)


async def create_sensor(post: Callable[..., Any], token: str, **fields: Any) -> dict:
    """Register a cold-water meter (any field overridable) through GraphQL; id and mqttTopic."""
    body = await post(
        "mutation($input: CreateSensorInput!) { createSensor(input: $input) { id mqttTopic buildingId } }",
        {
            "input": {
                "buildingId": str(uuid.uuid4()),
                "deviceId": f"DEV-{uuid.uuid4().hex[:8]}",
                "type": "COLD_WATER",
                "manufacturer": "Kamstrup",
                "model": "M21",
                "location": "Cave",
                "samplingInterval": 60,
                **fields,
            }
        },
        token,
    )
    assert "errors" not in body, body
    return body["data"]["createSensor"]


def error_codes(body: dict) -> list[str]:
    """The extensions.code of each error in a GraphQL response body."""
    return [e.get("extensions", {}).get("code") for e in body.get("errors") or []]


BURST = 50  # the ingesting test server's per-sensor burst (rate limit tests overflow it)


@pytest.fixture
async def redis_server() -> AsyncIterator[PrivateRedis]:
    """A Redis of the test's own, which it may stop and start."""
    server = PrivateRedis()
    await server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
async def ingest_server(database_url: str, run_id: str) -> AsyncIterator[RunningServer]:
    settings = make_settings(
        database_url,
        KOPROGO_INGEST="true",
        KOPROGO_MQTT_CLIENT_ID=f"koprogo-test-ingest-{run_id}",
        KOPROGO_MQTT_GROUP=f"test-ingest-{run_id}",
        KOPROGO_RATE_BURST=BURST,
    )
    async with serving(settings) as running:
        yield running


@asynccontextmanager
async def graphql_client(running: RunningServer) -> AsyncIterator[Callable]:
    """``post(query, variables, token)``: POST GraphQL to a test server; the JSON body, whatever
    the status. ``post.client`` is its httpx client (for the server's other endpoints)."""
    async with httpx.AsyncClient(base_url=running.url, timeout=30) as client:

        async def post(query: str, variables: dict | None = None, token: str | None = None) -> dict:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            response = await client.post(
                "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
            )
            return response.json()

        post.client = client  # type: ignore[attr-defined]
        yield post


@pytest.fixture(scope="session")
async def gql_ingest(ingest_server: RunningServer) -> AsyncIterator[Callable]:
    """POST GraphQL to the ingesting server; the JSON body, whatever the status."""
    async with graphql_client(ingest_server) as post:
        yield post


@pytest.fixture(scope="session")
async def mqtt_publisher(run_id: str) -> AsyncIterator[aiomqtt.Client]:
    async with aiomqtt.Client("127.0.0.1", 1883, identifier=f"test-publisher-{run_id}") as client:
        yield client


__all__ = [
    "RunningServer",
    "error_codes",
    "eventually",
    "graphql_client",
    "make_settings",
    "serving",
]
