"""A broadcaster backend for Redis that survives Redis restarts (SPEC §8b).

broadcaster 0.3.1's own Redis backend starts listening before the first subscription is
registered (with redis-py 8 it then waits forever) and never reconnects (encode/broadcaster#144).
This one keeps broadcaster's backend interface and:

* waits for a first subscription before reading, and reads with a timeout so that a channel
  subscribed later is picked up;
* on a lost connection, reconnects with capped exponential backoff, subscribes again to every
  channel, and hands each channel a ``resync`` event, telling its subscribers that events
  published since the connection was last heard from (minus a margin) may have been missed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from broadcaster import Event
from broadcaster._backends.base import BroadcastBackend
from prometheus_client import Counter
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .events import resync_message

__all__ = ["ResilientRedisBackend"]

log = logging.getLogger(__name__)

RECONNECTS = Counter("koprogo_broadcast_reconnects", "Times the Redis subscriber reconnected")
_LOST = (RedisConnectionError, RedisTimeoutError, OSError, ConnectionError)
# A resync's ``since`` is the last time the connection answered, minus this: an event committed
# in a transaction that began a little earlier, or stamped by a clock a little behind ours, is
# still caught up.
_SINCE_MARGIN_SECONDS = 30.0


@asynccontextmanager
async def _keeping_cancellation() -> AsyncIterator[None]:
    """redis-py 8's PubSub swallows a cancellation that arrives while it opens its connection (the
    first subscribe): the call returns as if nothing happened. The task (a shared live stream
    whose last subscriber left) would then live on, unsubscribed from nothing, and whoever waits
    for it would wait forever. Raise the cancellation again."""
    task = asyncio.current_task()
    before = task.cancelling() if task is not None else 0
    yield
    if task is not None and task.cancelling() > before:
        raise asyncio.CancelledError


class ResilientRedisBackend(BroadcastBackend):
    def __init__(self, url: str, *, max_backoff: float = 10.0) -> None:
        self._url = url
        self._max_backoff = max_backoff
        self._channels: set[str] = set()
        self._has_channels = asyncio.Event()
        self._pending: deque[Event] = deque()
        self._publisher: aioredis.Redis | None = None
        self._pubsub: Any = None
        self._broken = False  # a subscribe failed: the reader must reconnect and resubscribe
        self._last_heard = time.time()  # the subscriber connection last answered (wall clock)
        # redis-py's PubSub creates its connection on the first (un)subscribe: concurrent first
        # calls each make one and all but the last are lost. One (un)subscribe at a time.
        self._commands = asyncio.Lock()

    async def connect(self) -> None:
        self._publisher = aioredis.Redis.from_url(self._url)
        self._pubsub = self._new_pubsub()

    def _new_pubsub(self) -> Any:
        return aioredis.Redis.from_url(self._url).pubsub(ignore_subscribe_messages=True)

    async def disconnect(self) -> None:
        if self._pubsub is not None:
            await self._pubsub.aclose()
        if self._publisher is not None:
            await self._publisher.aclose()

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)
        try:
            async with self._commands, _keeping_cancellation():
                await self._pubsub.subscribe(channel)
        except _LOST as exc:  # the reader will resubscribe every channel once Redis is back
            log.warning("could not subscribe to %s now (%s)", channel, exc)
            self._broken = True
        self._has_channels.set()

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        if not self._channels:
            self._has_channels.clear()
        try:
            async with self._commands, _keeping_cancellation():
                await self._pubsub.unsubscribe(channel)
        except Exception as exc:  # lost or already closed: nothing left to unsubscribe from
            log.debug("unsubscribe from %s failed: %s", channel, exc)

    async def publish(self, channel: str, message: Any) -> None:
        """Publish; a connection that Redis dropped is re-established (three tries)."""
        assert self._publisher is not None, "connect() first"
        for attempt in range(3):
            try:
                await self._publisher.publish(channel, message)
                return
            except _LOST:
                if attempt == 2:
                    raise
                await asyncio.sleep(0.05 * (attempt + 1))

    async def next_published(self) -> Event:
        while True:
            if self._pending:
                return self._pending.popleft()
            await self._has_channels.wait()
            if self._broken:
                self._broken = False
                await self._reconnect()
                continue
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except (*_LOST, RuntimeError) as exc:  # RuntimeError: no connection was ever made
                log.warning("Redis subscriber lost its connection (%s); reconnecting", exc)
                await self._reconnect()
                continue
            self._last_heard = time.time()
            if message and message.get("type") == "message":
                data = message["data"]
                channel = message["channel"]
                return Event(
                    channel=channel.decode() if isinstance(channel, bytes) else channel,
                    message=data.decode() if isinstance(data, bytes) else data,
                )

    async def _reconnect(self) -> None:
        """[1] drop the dead connection, [2] retry with backoff until every channel is subscribed
        again, [3] queue a resync event per channel."""
        since = datetime.fromtimestamp(self._last_heard - _SINCE_MARGIN_SECONDS, UTC)
        backoff = 0.1
        while True:
            try:  # [1]
                await self._pubsub.aclose()
            except Exception:  # already broken; nothing to save
                pass
            self._pubsub = self._new_pubsub()
            try:  # [2]
                if self._channels:
                    async with self._commands, _keeping_cancellation():
                        await self._pubsub.subscribe(*self._channels)
                break
            except _LOST as exc:
                log.info("Redis still unavailable (%s); next try in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
        RECONNECTS.inc()
        log.info("Redis subscriber reconnected; %d channel(s) resubscribed", len(self._channels))
        resync = resync_message(since)
        self._pending.extend(Event(channel=c, message=resync) for c in self._channels)  # [3]
