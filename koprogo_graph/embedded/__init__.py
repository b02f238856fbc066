"""Zero-configuration parts, started only when their URL is not set: PostgreSQL from the
``pgserver`` wheel (data kept in a per-user directory) and an MQTT broker (``amqtt``) inside the
process. The production path never imports this package's dependencies: they are imported
inside the functions below, which run only in zero-configuration mode."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

__all__ = [
    "default_data_dir",
    "embedded_broker",
    "embedded_postgres",
    "embedded_postgres_async",
]

log = logging.getLogger(__name__)


def default_data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("koprogo-graph", appauthor=False))


@contextmanager
def embedded_postgres(data_dir: Path) -> Iterator[str]:
    """Start (or reuse) PostgreSQL 16 from the pgserver wheel with its data in ``data_dir``;
    yield its URL; stop it on exit, keeping the data."""
    import pgserver

    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir, cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


@asynccontextmanager
async def embedded_broker(port: int) -> AsyncIterator[str]:
    """An MQTT 3.1.1 broker in this event loop on 127.0.0.1:``port``; yields its URL."""
    from amqtt.broker import Broker

    broker = Broker(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
    )
    await broker.start()
    try:
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        await broker.shutdown()


@asynccontextmanager
async def embedded_postgres_async(data_dir: Path) -> AsyncIterator[str]:
    """embedded_postgres, started and stopped off the event loop (initdb takes seconds)."""
    import asyncio

    manager = embedded_postgres(data_dir)
    url = await asyncio.to_thread(manager.__enter__)
    try:
        yield url
    finally:
        await asyncio.to_thread(manager.__exit__, None, None, None)
