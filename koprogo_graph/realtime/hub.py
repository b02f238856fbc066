"""broadcaster's Broadcast with bounded subscriber queues and in-process routing by key.

* One backend (Redis) subscription per channel per process, whatever the number of subscribers.
* A slow subscriber loses its own oldest events (counted) and never slows the listener, the
  publisher or other subscribers; its next read is a ``resync`` event saying since when events
  may be missing, so that it knows.
* A subscriber may take only the part of a channel's events that concerns one key (a building's
  readings out of an organization's batch): the event is split once, in-process, so the
  publisher sends one message per organization and batch, not one per building.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from broadcaster import Broadcast, Event
from broadcaster._base import Subscriber

from .events import resync_message, resync_since
from .metrics import CHANNELS, DROPPED
from .redis_backend import ResilientRedisBackend

__all__ = ["Hub", "Split", "open_hub"]

log = logging.getLogger(__name__)

# Splits an event into its parts by key; None: the event concerns every key (a resync, say).
Split = Callable[[Event], Mapping[str, Event] | None]


class Queue(asyncio.Queue[Event | None]):
    """A subscriber's bounded queue. Once it lost events to make room, ``gap_since`` says when
    the first of them had been received (wall clock): events from then on may be missing."""

    def __init__(self, maxsize: int) -> None:
        super().__init__(maxsize)
        self.gap_since: float | None = None

    def drop_oldest(self) -> None:
        dropped = self.get_nowait()
        assert dropped is not None  # the end-of-subscription mark is never offered
        # A dropped resync carries its own, earlier start of the gap.
        received: float = getattr(dropped, "received_at", time.time())
        since = resync_since(dropped.message) or received
        self.gap_since = since if self.gap_since is None else min(self.gap_since, since)


class _Subscriber(Subscriber):
    """Reads a resync event first when its queue lost events: the events after it follow a gap."""

    def __init__(self, queue: Queue, channel: str) -> None:
        super().__init__(queue)
        self.channel = channel
        self._held: Event | None = None

    async def get(self) -> Event:
        if self._held is not None:
            event, self._held = self._held, None
            return event
        queue: Queue = self._queue  # type: ignore[assignment]
        if queue.gap_since is None:
            event = await super().get()
            if queue.gap_since is None:
                return event
            # The queue overflowed between the wake-up and this read: ``event`` follows a gap.
            self._held = event
        since, queue.gap_since = queue.gap_since, None
        return Event(channel=self.channel, message=resync_message(since))


@dataclass(eq=False)
class _Channel:
    ready: asyncio.Event = field(default_factory=asyncio.Event)  # the first subscribe is over
    subscribed: bool = False  # ...and it went through (it may have been cancelled)
    everything: set[Queue] = field(default_factory=set)  # subscribers of the whole channel
    by_key: dict[str, set[Queue]] = field(default_factory=dict)
    split: Split | None = None

    def empty(self) -> bool:
        return not self.everything and not self.by_key


class Hub(Broadcast):
    """One backend subscription per channel, fanned out in-process to bounded queues."""

    def __init__(self, url: str, *, queue_size: int = 1_000, **redis_options: float) -> None:
        """``redis_options``: ResilientRedisBackend's (liveness timings), for a Redis URL."""
        scheme = urlsplit(url).scheme
        if scheme in ("redis", "rediss"):
            super().__init__(backend=ResilientRedisBackend(url, **redis_options))
        else:
            super().__init__(url)
        self.queue_size = queue_size
        self._channels: dict[str, _Channel] = {}

    async def _listener(self) -> None:
        # broadcaster starts this with a bare create_task and reads its result only at
        # disconnect: if it died, every subscription would hang in silence. It must not die.
        while True:
            try:
                event = await self._backend.next_published()
                self._route(event)
            except Exception:
                log.exception("broadcast listener failed; retrying")
                await asyncio.sleep(1.0)

    def _route(self, event: Event) -> None:
        channel = self._channels.get(event.channel)
        if channel is None:
            return
        event.received_at = received_at = time.time()  # type: ignore[attr-defined]
        for queue in channel.everything:
            self._offer(queue, event)
        if not channel.by_key:
            return
        parts = channel.split(event) if channel.split else None
        if parts is None:
            for queues in channel.by_key.values():
                for queue in queues:
                    self._offer(queue, event)
            return
        for key, part in parts.items():
            part.received_at = received_at  # type: ignore[attr-defined]
            for queue in channel.by_key.get(key, ()):
                self._offer(queue, part)

    @staticmethod
    def _offer(queue: Queue, event: Event) -> None:
        if queue.full():
            queue.drop_oldest()
            DROPPED.inc()
        queue.put_nowait(event)

    @asynccontextmanager
    async def subscribe(
        self, channel: str, *, key: str | None = None, split: Split | None = None
    ) -> AsyncIterator[Subscriber]:
        """Events of ``channel``; with ``key``, only each event's part for that key, as ``split``
        cuts it (every keyed subscriber of a channel passes the same ``split``)."""
        queue = Queue(self.queue_size)
        route = self._channels.get(channel)
        first = route is None
        if route is None:
            route = self._channels[channel] = _Channel()
            CHANNELS.inc()
        if key is None:
            route.everything.add(queue)
        else:
            route.split = split
            route.by_key.setdefault(key, set()).add(queue)
        try:
            if first:
                try:
                    await self._backend.subscribe(channel)
                    route.subscribed = True
                finally:
                    route.ready.set()
            else:
                # Until the first subscriber's backend subscription is in place, nothing flows.
                await route.ready.wait()
                if not route.subscribed:  # the first one was cancelled meanwhile: our turn
                    await self._backend.subscribe(channel)
                    route.subscribed = True
            yield _Subscriber(queue, channel)
        finally:
            if key is None:
                route.everything.discard(queue)
            else:
                queues = route.by_key.get(key, set())
                queues.discard(queue)
                if not queues:
                    route.by_key.pop(key, None)
            if route.empty() and self._channels.get(channel) is route:
                del self._channels[channel]
                CHANNELS.dec()
                await self._backend.unsubscribe(channel)


@asynccontextmanager
async def open_hub(url: str) -> AsyncIterator[Hub]:
    """The process's broadcast: Redis for ``redis://``, in-memory for ``memory://``."""
    hub = Hub(url)
    async with hub:
        yield hub
