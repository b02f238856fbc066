"""The ``koprogo-graph`` command line: serve, migrate, simulate."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence

from .config import ConfigError, Settings

__all__ = ["main"]

log = logging.getLogger("koprogo_graph")


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from .app import create_app

    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_level=args.log_level.lower(),
        proxy_headers=True,
        lifespan="on",
    )
    return 0


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    from .migrate import apply_migrations

    applied = asyncio.run(apply_migrations(settings.database_url.get()))
    log.info(
        "applied %d migration(s)%s", len(applied), ": " + ", ".join(applied) if applied else ""
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="koprogo-graph", description=__doc__)
    parser.add_argument(
        "--log-level",
        default=os.environ.get("KOPROGO_LOG_LEVEL", "INFO"),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the API, the ingestor and the watchdog")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(handler=_serve)

    migrate = commands.add_parser("migrate", help="apply pending database migrations and exit")
    migrate.set_defaults(handler=_migrate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    env = dict(os.environ)
    if args.command == "migrate":
        # Migrations need only the database.
        env.setdefault("KOPROGO_INGEST", "false")
        env.setdefault("KOPROGO_JWT_SECRET", "unused-by-migrate-0123456789")
    try:
        settings = Settings.from_env(env)
    except ConfigError as exc:
        print(f"koprogo-graph: configuration error: {exc}", file=sys.stderr)
        return 2
    return args.handler(args, settings)


if __name__ == "__main__":
    sys.exit(main())
