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

from .metrics import CHANNELS, DROPPED
from .redis_backend import ResilientRedisBackend

__all__ = ["Hub", "open_hub"]

log = logging.getLogger(__name__)


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

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscriber]:
        queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=self.queue_size)
        try:
            if not self._subscribers.get(channel):
                CHANNELS.inc()
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
            yield Subscriber(queue)
        finally:
            subscribers = self._subscribers.get(channel, set())
            subscribers.discard(queue)
            if not subscribers and self._subscribers.pop(channel, None) is not None:
                CHANNELS.dec()
                self._ready.pop(channel, None)
                await self._backend.unsubscribe(channel)


@asynccontextmanager
async def open_hub(url: str) -> AsyncIterator[Hub]:
    """The process's broadcast: Redis for ``redis://``, in-memory for ``memory://``."""
    async with Hub(url) as hub:
        yield hub
