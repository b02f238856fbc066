"""The ``koprogo-graph`` command line: serve, migrate, simulate."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from .config import LOG_LEVELS, ConfigError, Settings, log_level, read_environment

__all__ = ["main"]

log = logging.getLogger("koprogo_graph")


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from .app import SERVER_OPTIONS, create_app

    if getattr(args, "demo", False):
        from .demo import banner, demo_services, demo_token

        if settings.mqtt is None:
            raise SystemExit("koprogo-graph: the demo needs ingestion (KOPROGO_INGEST=true)")
        print(banner(settings, args.host, args.port), flush=True)
        app = create_app(
            settings,
            extra_services=demo_services(args.sensors, args.rate),
            dashboard_token=demo_token(settings),
        )
    else:
        app = create_app(settings)
    # Everything alive now (modules, the GraphQL schema) lives as long as the process: keep it
    # out of the collector's full passes, which otherwise stall live delivery ~60 ms each.
    gc.collect()
    gc.freeze()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level.lower(),
        proxy_headers=True,
        lifespan="on",
        # Live events are small JSON documents: compressing each costs more CPU than it saves.
        ws_per_message_deflate=False,
        **SERVER_OPTIONS,
    )
    return 0


@contextmanager
def _database(settings: Settings) -> Iterator[str]:
    """The database URL, starting the embedded PostgreSQL when DATABASE_URL is not set."""
    if settings.database_url is not None:
        yield settings.database_url.get()
        return
    from .embedded import default_data_dir, embedded_postgres

    data_dir = Path(settings.data_dir) if settings.data_dir else default_data_dir()
    with embedded_postgres(data_dir / "postgres") as url:
        yield url


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    from .store.migrate import apply_migrations

    with _database(settings) as dsn:
        applied = asyncio.run(apply_migrations(dsn))
    log.info(
        "applied %d migration(s)%s", len(applied), ": " + ", ".join(applied) if applied else ""
    )
    return 0


def _simulate(args: argparse.Namespace, settings: Settings) -> int:
    import uuid

    from .domain.integrations import Integration
    from .ingest.simulate import (
        HTTP_INTEGRATIONS,
        make_fleet,
        post_simulation,
        provision,
        run_simulation,
    )

    integration = Integration(args.integration.upper())
    webhook = integration in HTTP_INTEGRATIONS
    if webhook and not (args.url and args.token):
        raise SystemExit(
            f"koprogo-graph: --integration {args.integration} posts to the service: "
            "give --url (its /ingest/... address) and --token (an ingest token)"
        )
    if not webhook and settings.mqtt is None:
        raise SystemExit("koprogo-graph: configuration error: MQTT_URL is not set")
    org = uuid.UUID(args.organization) if args.organization else uuid.uuid4()
    building = uuid.UUID(args.building) if args.building else uuid.uuid4()
    fleet = make_fleet(org, building, args.sensors, leaks=args.leaks, integration=integration)
    if args.provision:
        with _database(settings) as dsn:
            added = asyncio.run(provision(dsn, fleet))
        log.info("provisioned %d sensor(s) in organization %s, building %s", added, org, building)
    if webhook:
        log.info("posting %.0f uplinks/s over %d devices to %s", args.rate, len(fleet), args.url)
        sent = asyncio.run(
            post_simulation(args.url, args.token, fleet, rate=args.rate, duration=args.duration)
        )
        log.info("posted %d uplink(s)", sent)
        return 0
    assert settings.mqtt is not None
    log.info(
        "publishing %.0f msg/s over %d sensors to %s:%d",
        args.rate,
        len(fleet),
        settings.mqtt.host,
        settings.mqtt.port,
    )
    sent = asyncio.run(
        run_simulation(
            settings.mqtt, fleet, rate=args.rate, duration=args.duration, batch=args.batch
        )
    )
    log.info("published %d message(s)", sent)
    return 0


def build_parser(default_log_level: str = "INFO") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="koprogo-graph", description=__doc__)
    parser.add_argument("--log-level", default=default_log_level, choices=LOG_LEVELS)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the API, the ingestor and the watchdog")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(handler=_serve)

    demo = commands.add_parser(
        "demo", help="serve with a demo organization and live simulated devices"
    )
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--sensors", type=int, default=12)
    demo.add_argument("--rate", type=float, default=2.0, help="messages per second in all")
    demo.set_defaults(handler=_serve, demo=True)

    migrate = commands.add_parser("migrate", help="apply pending database migrations and exit")
    migrate.set_defaults(handler=_migrate)

    simulate = commands.add_parser("simulate", help="publish realistic readings over MQTT")
    simulate.add_argument("--sensors", type=int, default=12, help="how many devices (default 12)")
    simulate.add_argument("--rate", type=float, default=5.0, help="messages per second in all")
    simulate.add_argument("--duration", type=float, default=None, help="seconds (default: forever)")
    simulate.add_argument("--batch", type=int, default=1, help="readings per message")
    simulate.add_argument("--leaks", type=int, default=1, help="water meters that leak")
    simulate.add_argument("--organization", help="organization UUID (default: a new one)")
    simulate.add_argument("--building", help="building UUID (default: a new one)")
    simulate.add_argument(
        "--provision", action="store_true", help="register the sensors first (needs DATABASE_URL)"
    )
    simulate.add_argument(
        "--integration",
        default="koprogo",
        choices=["koprogo", "shelly", "tasmota", "zigbee2mqtt", "wmbusmeters", "ttn", "chirpstack"],
        help="the devices' format (SPEC §11; default: KoproGo's own)",
    )
    simulate.add_argument("--url", help="ttn/chirpstack: the service's webhook address")
    simulate.add_argument("--token", help="ttn/chirpstack: an ingest token of the building")
    simulate.set_defaults(handler=_simulate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    env = read_environment()
    try:
        args = build_parser(log_level(env)).parse_args(argv)
    except ConfigError as exc:
        print(f"koprogo-graph: configuration error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.command in ("migrate", "simulate"):
        # Neither serves the API: no JWT secret needed.
        env.setdefault("KOPROGO_INGEST", "false")
        env.setdefault("KOPROGO_JWT_SECRET", "unused-by-this-command-0123456789abcdef")
    try:
        settings = Settings.from_env(env, demo=getattr(args, "demo", False))
    except ConfigError as exc:
        print(f"koprogo-graph: configuration error: {exc}", file=sys.stderr)
        return 2
    return args.handler(args, settings)


if __name__ == "__main__":
    sys.exit(main())
