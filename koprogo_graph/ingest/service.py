"""The ingestor as one background service: registry listener, MQTT consumer, live publisher."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import anyio

from ..config import Settings
from ..domain.ratelimit import RateLimiter
from ..domain.readings import StoredReading
from ..realtime.hub import Hub
from ..realtime.publish import publish_readings
from ..store.db import Database
from . import metrics
from .consumer import IngestOptions, run_ingestor
from .pipeline import Pipeline, ReadingListener
from .registry import SensorRegistry

__all__ = ["Ingestor"]

log = logging.getLogger(__name__)


class Ingestor:
    """Owns everything ingestion needs; run it in the app lifespan's task group."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        broadcast: Hub,
        listeners: Sequence[ReadingListener] = (),
        *,
        options: IngestOptions | None = None,
        live_queue_size: int = 1_000,
    ) -> None:
        if settings.mqtt is None or settings.database_url is None:
            raise ValueError("ingestion needs MQTT_URL and the database's URL")
        self.mqtt = settings.mqtt
        self.database_url = settings.database_url.get()
        self.settings = settings
        self.broadcast = broadcast
        self.listeners = list(listeners)
        self.options = options or IngestOptions()
        self.registry = SensorRegistry()
        self.pipeline = Pipeline(
            db,
            self.registry,
            RateLimiter(rate=settings.rate_limit, burst=settings.rate_burst),
            reading_limiter=RateLimiter(
                rate=settings.reading_rate_limit, burst=settings.reading_rate_burst
            ),
        )
        # Live events wait here; if publishing lags, the oldest batches are dropped (counted),
        # never the ingestor slowed.
        self._live: asyncio.Queue[list[StoredReading]] = asyncio.Queue(maxsize=live_queue_size)
        # Batches for the listeners (the alert engine) wait here, off the ingest loop and the
        # live path; nothing is dropped: when the listeners lag, ingestion waits for them.
        self._evaluate: asyncio.Queue[list[StoredReading]] = asyncio.Queue(maxsize=100)

    async def run(self) -> None:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(self.registry.listen, self.database_url)
            tasks.start_soon(self._publish_live)
            tasks.start_soon(self._run_listeners)
            tasks.start_soon(run_ingestor, self.mqtt, self.pipeline, self._handoff, self.options)

    async def _handoff(self, stored: list[StoredReading]) -> None:
        """After a commit: live subscribers first (latency), then the listeners (backpressure)."""
        while True:
            try:
                self._live.put_nowait(stored)
                break
            except asyncio.QueueFull:
                dropped = self._live.get_nowait()
                metrics.PUBLISH_DROPPED.inc(len(dropped))
        if self.listeners:
            await self._evaluate.put(stored)

    async def _run_listeners(self) -> None:
        while True:
            stored = await self._evaluate.get()
            for listener in self.listeners:
                try:
                    await listener(stored)
                except Exception:
                    log.exception("reading listener %r failed", listener)

    async def _publish_live(self) -> None:
        """Stored batches to live subscribers, in order, one at a time."""
        while True:
            stored = await self._live.get()
            if failed := await publish_readings(self.broadcast, stored):
                metrics.PUBLISH_DROPPED.inc(failed)
