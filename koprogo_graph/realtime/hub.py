"""broadcaster's Broadcast with bounded subscriber queues: a slow subscriber loses its own oldest
events (counted) and never slows the listener, the publisher or other subscribers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from broadcaster import Broadcast, Event
from broadcaster._base import Subscriber
from prometheus_client import Counter, Gauge

from .redis_backend import ResilientRedisBackend

__all__ = ["Hub", "open_hub"]

log = logging.getLogger(__name__)

SUBSCRIBERS = Gauge("koprogo_live_subscribers", "Live subscriptions held by this process")
DELIVERED = Counter("koprogo_live_events_delivered", "Events handed to live subscriptions")
DROPPED = Counter("koprogo_live_events_dropped_slow", "Events dropped for slow subscribers")


class Hub(Broadcast):
    """One backend subscription per channel, fanned out in-process to bounded queues."""

    def __init__(self, url: str, *, queue_size: int = 1_000) -> None:
        scheme = urlsplit(url).scheme
        if scheme in ("redis", "rediss"):
            super().__init__(backend=ResilientRedisBackend(url))
        else:
            super().__init__(url)
        self.queue_size = queue_size
        self._ready: dict[str, asyncio.Event] = {}

    async def _listener(self) -> None:
        # broadcaster starts this with a bare create_task and reads its result only at
        # disconnect: if it died, every subscription would hang in silence. It must not die.
        while True:
            try:
                event = await self._backend.next_published()
            except Exception:
                log.exception("broadcast listener failed; retrying")
                await asyncio.sleep(1.0)
                continue
            for queue in list(self._subscribers.get(event.channel, ())):
                if queue.full():
                    queue.get_nowait()
                    DROPPED.inc()
                queue.put_nowait(event)
                DELIVERED.inc()

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscriber]:
        queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=self.queue_size)
        counted = False
        try:
            if not self._subscribers.get(channel):
                self._subscribers[channel] = {queue}
                ready = self._ready[channel] = asyncio.Event()
                try:
                    await self._backend.subscribe(channel)
                finally:
                    ready.set()
            else:
                self._subscribers[channel].add(queue)
                # Until the first subscriber's backend subscription is in place, nothing flows.
                await self._ready[channel].wait()
            SUBSCRIBERS.inc()  # counted once events can reach it
            counted = True
            yield Subscriber(queue)
        finally:
            if counted:
                SUBSCRIBERS.dec()
            subscribers = self._subscribers.get(channel, set())
            subscribers.discard(queue)
            if not subscribers:
                self._subscribers.pop(channel, None)
                self._ready.pop(channel, None)
                await self._backend.unsubscribe(channel)


@asynccontextmanager
async def open_hub(url: str) -> AsyncIterator[Hub]:
    """The process's broadcast: Redis for ``redis://``, in-memory for ``memory://``."""
    async with Hub(url) as hub:
        yield hub
