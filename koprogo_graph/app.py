"""The Starlette application and the one lifespan that owns every async resource."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Any

import anyio
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute

from .alerts.engine import AlertEngine
from .alerts.watchdog import Watchdog
from .api.dashboard import Dashboard
from .api.exports import StatementExports
from .api.ingest_http import HttpIngest
from .api.limits import MAX_WS_MESSAGE_BYTES, BodyLimit, per_address
from .api.schema import build_schema
from .api.static_files import LimitedStaticFiles
from .api.view import GraphQLView
from .api.websockets import ConnectionCounter
from .config import Secret, Settings
from .domain.ratelimit import RateLimiter
from .domain.readings import StoredReading
from .ingest.broker_accounts import BrokerAccounts
from .ingest.pipeline import Pipeline
from .ingest.registry import SensorRegistry
from .notify.sender import NotificationSender
from .realtime.hub import Hub, open_hub
from .realtime.publish import publish_readings
from .realtime.shared import SharedStreams
from .store import credentials as credentials_store
from .store.db import Database, open_database
from .store.migrate import apply_migrations

__all__ = ["SERVER_OPTIONS", "create_app"]

log = logging.getLogger(__name__)

MAX_SUBSCRIPTIONS = 20  # per websocket connection
# What the HTTP server itself must enforce (cli.py and the tests' server use it): a websocket
# message beyond this closes the connection (1009) before anything reads it.
SERVER_OPTIONS: dict[str, Any] = {"ws_max_size": MAX_WS_MESSAGE_BYTES}
BackgroundService = Callable[[], Coroutine[Any, Any, None]]


def _background_services(
    settings: Settings, db: Database, broadcast: Hub, engine: AlertEngine
) -> list[BackgroundService]:
    """The long-running tasks of this process (ingestor, watchdog, notifier), per the settings."""
    watchdog = Watchdog(db, broadcast, settings, engine)
    services: list[BackgroundService] = [watchdog.run]
    if settings.notify:
        services.append(NotificationSender(settings, db).run)
    if settings.ingest and settings.mqtt is not None:
        from .ingest.service import Ingestor

        services.append(Ingestor(settings, db, broadcast, listeners=[engine.on_readings]).run)
    return services


def _revoked_usernames(db: Database) -> Callable[[], Awaitable[list[str]]]:
    async def revoked() -> list[str]:
        async with db.system() as con:
            return await credentials_store.revoked_usernames(con)

    return revoked


def _http_ingest(
    settings: Settings, db: Database, broadcast: Hub, engine: AlertEngine
) -> HttpIngest:
    """The LoRaWAN webhooks' endpoint: the ingestion pipeline, per request; what it stores is
    published live and evaluated by the alert engine, as the MQTT ingestor's is."""

    async def after_commit(stored: list[StoredReading]) -> None:
        await publish_readings(broadcast, stored)
        await engine.on_readings(stored)

    pipeline = Pipeline(
        db,
        SensorRegistry(),
        RateLimiter(rate=settings.rate_limit, burst=settings.rate_burst),
        reading_limiter=RateLimiter(
            rate=settings.reading_rate_limit, burst=settings.reading_rate_burst
        ),
    )
    limiter = RateLimiter(settings.api_rate_limit, settings.api_rate_burst, max_keys=100_000)
    return HttpIngest(db, pipeline, after_commit, limiter)


async def _database_url(settings: Settings, stack: AsyncExitStack) -> str:
    if settings.database_url is not None:
        return settings.database_url.get()
    from pathlib import Path

    from .embedded import default_data_dir, embedded_postgres_async

    data_dir = Path(settings.data_dir) if settings.data_dir else default_data_dir()
    return await stack.enter_async_context(embedded_postgres_async(data_dir / "postgres"))


ExtraServices = Callable[[Settings, Database, Hub], list[BackgroundService]]


def create_app(
    settings: Settings,
    *,
    migrate: bool = True,
    extra_services: ExtraServices = lambda *_: [],
    dashboard_token: str | None = None,
) -> Starlette:
    """Build the ASGI app. ``migrate`` applies pending migrations at start-up (under a lock);
    ``extra_services`` adds background tasks (the demo's simulator); ``dashboard_token``
    fills in the dashboard's sign-in (the demo's token)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        nonlocal settings
        async with AsyncExitStack() as stack:
            if settings.embedded:
                log.warning(
                    "zero-configuration mode, running embedded: %s", ", ".join(settings.embedded)
                )
            dsn = await _database_url(settings, stack)
            settings = replace(settings, database_url=Secret(dsn))
            if settings.embedded_broker_port is not None:
                from .embedded import embedded_broker

                await stack.enter_async_context(embedded_broker(settings.embedded_broker_port))
            if migrate:
                applied = await apply_migrations(dsn)
                if applied:
                    log.info("applied migrations: %s", ", ".join(applied))
            db = await stack.enter_async_context(
                open_database(dsn, pool_size=settings.db_pool_size)
            )
            broadcast = await stack.enter_async_context(open_hub(settings.redis_url or "memory://"))
            live = SharedStreams()
            stack.push_async_callback(live.aclose)
            tasks = await stack.enter_async_context(anyio.create_task_group())
            engine = AlertEngine(db, broadcast)
            webhooks = _http_ingest(settings, db, broadcast, engine)
            tasks.start_soon(webhooks.pipeline.registry.listen, dsn)
            accounts = None
            if settings.mqtt is not None and settings.mqtt.dynamic_security:
                accounts = BrokerAccounts(settings.mqtt, revoked=_revoked_usernames(db))
                tasks.start_soon(accounts.run)
                # Before the ingestor connects: granting the service its role disconnects its
                # user's clients (and a shared subscription's messages would go nowhere).
                with anyio.move_on_after(15) as waited:
                    await accounts.ready()
                if waited.cancelled_caught:
                    log.warning("the broker's dynamic security plugin does not answer yet")
            for service in [
                *_background_services(settings, db, broadcast, engine),
                *extra_services(settings, db, broadcast),
            ]:
                tasks.start_soon(service)
            log.info(
                "koprogo-graph ready (ingest=%s)", settings.ingest and settings.mqtt is not None
            )
            limiter = RateLimiter(
                settings.api_rate_limit, settings.api_rate_burst, max_keys=100_000
            )
            yield {
                "db": db,
                "settings": settings,
                "broadcast": broadcast,
                "live": live,
                "limiter": limiter,
                "statement_limiter": RateLimiter(
                    settings.statement_rate_limit,
                    settings.statement_rate_burst,
                    max_keys=100_000,
                ),
                "accounts": accounts,
                "webhooks": webhooks,
                "ws_addresses": ConnectionCounter(settings.ws_max_per_address),
                "ws_users": ConnectionCounter(settings.ws_max_per_user),
            }
            tasks.cancel_scope.cancel()

    async def healthz(request: Request) -> Response:
        if await request.state.db.ping():
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "database unavailable"}, status_code=503)

    async def ingest(request: Request) -> Response:
        return await request.state.webhooks(request)

    async def livez(request: Request) -> Response:
        return JSONResponse({"status": "alive"})  # answering at all is the proof

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    exports = StatementExports()
    dashboard = Dashboard(dashboard_token)

    async def home(request: Request) -> Response:
        return await dashboard(request)

    async def export(request: Request) -> Response:
        return await exports(request)

    graphql = GraphQLView(
        build_schema(),
        graphql_ide="graphiql",
        max_subscriptions_per_connection=MAX_SUBSCRIPTIONS,
        connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout_seconds),
    )
    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/", home, methods=["GET"]),
            # Probes and scrapes come far below these; a flood gets 429 before it costs.
            Route("/healthz", per_address(healthz, 50.0, 200.0)),
            Route("/livez", per_address(livez, 50.0, 200.0)),
            Route("/metrics", per_address(metrics, 50.0, 200.0)),
            # GraphiQL's scripts and styles, from the package (GET only, files only, limited).
            Mount("/static", app=LimitedStaticFiles()),
            Route("/ingest/{integration}/{building_id}", ingest, methods=["POST"]),
            Route("/exports/statement.xlsx", export, methods=["GET"]),
            Route("/exports/statement.csv", export, methods=["GET"]),
        ],
        lifespan=lifespan,
        middleware=[
            Middleware(BodyLimit),
            # Pages of these origins (KoproGo's frontend with the widgets) may call the API;
            # the token travels in a header, never a cookie, so no credentials mode.
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["authorization", "content-type"],
                max_age=600,
            ),
        ],
    )
