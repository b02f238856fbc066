"""The process's live-event hub: one backend subscription per channel, bounded subscriber
queues and in-process routing by key.

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
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .events import resync_message, resync_since
from .metrics import CHANNELS, DROPPED
from .redis_backend import ResilientRedisBackend
from .transport import Backend, MemoryBackend, Message

__all__ = ["Hub", "Split", "Subscriber", "open_hub"]

log = logging.getLogger(__name__)

# Splits an event into its parts by key; None: the event concerns every key (a resync, say).
Split = Callable[[Message], Mapping[str, Message] | None]


class Queue(asyncio.Queue[Message]):
    """A subscriber's bounded queue. Once it lost events to make room, ``gap_since`` says when
    the first of them had been received (wall clock): events from then on may be missing."""

    def __init__(self, maxsize: int) -> None:
        super().__init__(maxsize)
        self.gap_since: float | None = None

    def drop_oldest(self) -> None:
        dropped = self.get_nowait()
        # A dropped resync carries its own, earlier start of the gap.
        since = resync_since(dropped.message) or dropped.received_at or time.time()
        self.gap_since = since if self.gap_since is None else min(self.gap_since, since)


class Subscriber:
    """Reads a channel's messages in order; a resync first when its queue lost messages (the
    messages after it follow a gap)."""

    def __init__(self, queue: Queue, channel: str) -> None:
        self._queue = queue
        self.channel = channel
        self._held: Message | None = None

    async def get(self) -> Message:
        if self._held is not None:
            message, self._held = self._held, None
            return message
        queue = self._queue
        if queue.gap_since is None:
            message = await queue.get()
            if queue.gap_since is None:
                return message
            # The queue overflowed between the wake-up and this read: ``message`` follows a gap.
            self._held = message
        since, queue.gap_since = queue.gap_since, None
        return Message(self.channel, resync_message(since))


@dataclass(eq=False)
class _Channel:
    ready: asyncio.Event = field(default_factory=asyncio.Event)  # the first subscribe is over
    subscribed: bool = False  # ...and it went through (it may have been cancelled)
    everything: set[Queue] = field(default_factory=set)  # subscribers of the whole channel
    by_key: dict[str, set[Queue]] = field(default_factory=dict)
    split: Split | None = None

    def empty(self) -> bool:
        return not self.everything and not self.by_key


class Hub:
    """One backend subscription per channel, fanned out in-process to bounded queues. Use it as
    an async context manager (the app's lifespan owns it)."""

    def __init__(self, url: str, *, queue_size: int = 1_000, **redis_options: float) -> None:
        """``url``: ``redis://`` (or ``rediss://``) across replicas, ``memory://`` within this
        process; ``redis_options``: ResilientRedisBackend's (liveness timings)."""
        scheme = urlsplit(url).scheme
        self._backend: Backend
        if scheme in ("redis", "rediss"):
            self._backend = ResilientRedisBackend(url, **redis_options)
        elif scheme == "memory":
            self._backend = MemoryBackend()
        else:
            raise ValueError(f"no live-event backend for {scheme}://")
        self.queue_size = queue_size
        self._channels: dict[str, _Channel] = {}
        self._listener: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Hub:
        await self._backend.connect()
        self._listener = asyncio.create_task(self._listen(), name="live-event hub")
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with suppress(asyncio.CancelledError):
                await self._listener
        await self._backend.disconnect()

    async def publish(self, channel: str, message: str) -> None:
        await self._backend.publish(channel, message)

    async def _listen(self) -> None:
        # If this died, every subscription would hang in silence: it must not die.
        while True:
            try:
                self._route(await self._backend.next_published())
            except Exception:
                log.exception("live-event listener failed; retrying")
                await asyncio.sleep(1.0)

    def _route(self, event: Message) -> None:
        channel = self._channels.get(event.channel)
        if channel is None:
            return
        event.received_at = received_at = time.time()
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
            part.received_at = received_at
            for queue in channel.by_key.get(key, ()):
                self._offer(queue, part)

    @staticmethod
    def _offer(queue: Queue, event: Message) -> None:
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
            yield Subscriber(queue, channel)
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
