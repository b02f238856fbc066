"""The live-event backend for Redis, which survives Redis restarts (SPEC §8b).

(broadcaster 0.3.1's Redis backend, used before, started listening before the first subscription
was registered, with redis-py 8 then waiting forever, and never reconnected:
encode/broadcaster#144.) This one implements ``transport.Backend`` and:

* waits for a first subscription before reading, and reads with a timeout so that a channel
  subscribed later is picked up;
* pings Redis when the connection has been quiet for a while, and takes a connection that
  answers nothing, not even a pong, for lost: a Redis that vanished without closing its
  connections (a failover, a partitioned node) would otherwise leave every subscription silent
  forever;
* on a lost connection, reconnects with capped exponential backoff, subscribes again to every
  channel, and hands each channel a ``resync`` event, telling its subscribers that events
  published since the connection was last heard from (minus a margin) may have been missed.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import redis.asyncio as aioredis
from prometheus_client import Counter, Gauge
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .events import resync_message
from .transport import Message

__all__ = ["ResilientRedisBackend"]

log = logging.getLogger(__name__)

RECONNECTS = Counter("koprogo_broadcast_reconnects", "Times the Redis subscriber reconnected")
REDIS_UP = Gauge(
    "koprogo_redis_up", "1 while this process's Redis subscriber is connected, 0 while it is not"
)
_LOST = (RedisConnectionError, RedisTimeoutError, OSError, ConnectionError)
_CONNECT_TIMEOUT = 5.0  # seconds to open or close the subscriber connection


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


class ResilientRedisBackend:
    def __init__(
        self,
        url: str,
        *,
        max_backoff: float = 10.0,
        ping_after: float = 5.0,
        dead_after: float = 15.0,
        publish_timeout: float = 5.0,
        publish_pause: float = 15.0,
    ) -> None:
        """``ping_after``: seconds of silence before a ping; ``dead_after``: seconds of silence,
        pongs included, after which the connection is taken for lost; ``publish_timeout``: how
        long a publish may wait for Redis; ``publish_pause``: how long publishes then fail at once."""
        self._url = url
        self._max_backoff = max_backoff
        self._ping_after, self._dead_after = ping_after, dead_after
        self._publish_timeout, self._publish_pause = publish_timeout, publish_pause
        self._publish_paused_until = -math.inf
        # Channels with events that could not be published: when the first one failed, and how
        # many did; announced (a resync) before the next event, or by ``_announcer``.
        self._unpublished: dict[str, tuple[float, int]] = {}
        self._announcer: asyncio.Task[None] | None = None
        self._channels: set[str] = set()
        self._has_channels = asyncio.Event()
        self._pending: deque[Message] = deque()
        self._publisher: aioredis.Redis | None = None
        self._pubsub: Any = None
        self._broken = False  # a subscribe failed: the reader must reconnect and resubscribe
        # When the subscriber connection last answered (monotonic, and the wall clock for resyncs).
        self._heard_at, self._last_heard = time.monotonic(), time.time()
        self._pinged_at = -math.inf
        # redis-py's PubSub creates its connection on the first (un)subscribe: concurrent first
        # calls each make one and all but the last are lost. One (un)subscribe at a time.
        self._commands = asyncio.Lock()

    async def connect(self) -> None:
        # A publish to a vanished Redis fails after a timeout instead of hanging for minutes;
        # publish() retries dropped connections itself.
        self._publisher = aioredis.Redis.from_url(
            self._url,
            socket_connect_timeout=self._publish_timeout,
            socket_timeout=self._publish_timeout,
            retry=Retry(NoBackoff(), 0),
        )
        self._pubsub = self._new_pubsub()
        REDIS_UP.set(1)  # until a read says otherwise

    def _new_pubsub(self) -> Any:
        client = aioredis.Redis.from_url(self._url, socket_connect_timeout=_CONNECT_TIMEOUT)
        return client.pubsub(ignore_subscribe_messages=True)

    def _heard(self) -> None:
        self._heard_at, self._last_heard = time.monotonic(), time.time()

    async def disconnect(self) -> None:
        if self._announcer is not None:
            self._announcer.cancel()
            with suppress(asyncio.CancelledError):
                await self._announcer
        for client in (self._pubsub, self._publisher):
            if client is not None:
                with suppress(Exception):  # a vanished Redis never acknowledges the close
                    async with asyncio.timeout(_CONNECT_TIMEOUT):
                        await client.aclose()

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)
        try:
            async with self._commands, _keeping_cancellation():
                await self._pubsub.subscribe(channel)
        except _LOST as exc:  # the reader will resubscribe every channel once Redis is back
            log.warning("could not subscribe to %s now (%s)", channel, exc)
            self._broken = True
        finally:
            if not self._has_channels.is_set():  # the reader wakes up: silence was idleness
                self._heard()
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
        """Publish; a connection that Redis dropped is re-established (three tries). A Redis that
        does not answer within ``publish_timeout`` is not waited for again during the pause that
        follows: publishers (the alert engine among them) must not queue up behind it. Channels
        whose events could not be published get a resync (since the first failure) before the
        next event that gets through, so that their subscribers know, wherever they are."""
        assert self._publisher is not None, "connect() first"
        try:
            if time.monotonic() < self._publish_paused_until:
                raise RedisConnectionError("Redis did not answer a recent publish; not waiting")
            if self._unpublished:  # announced before this event: it comes after the gap
                await self._announce_unpublished()
            await self._publish_retrying(channel, message)
        except _LOST:
            self._note_unpublished(channel)
            raise

    async def _publish_retrying(self, channel: str, message: Any) -> None:
        for attempt in range(3):
            try:
                await self._publisher.publish(channel, message)  # type: ignore[union-attr]
                return
            except RedisTimeoutError:
                self._publish_paused_until = time.monotonic() + self._publish_pause
                raise
            except _LOST:
                if attempt == 2:
                    raise
                await asyncio.sleep(0.05 * (attempt + 1))

    def _note_unpublished(self, channel: str) -> None:
        failed_at, failures = self._unpublished.get(channel, (time.time(), 0))
        self._unpublished[channel] = (failed_at, failures + 1)
        if self._announcer is None or self._announcer.done():  # even if nothing else is published
            self._announcer = asyncio.create_task(self._announce_when_back())

    async def _announce_unpublished(self) -> None:
        for channel, entry in list(self._unpublished.items()):
            await self._publish_retrying(channel, resync_message(entry[0]))
            if self._unpublished.get(channel) == entry:  # no new failure meanwhile
                del self._unpublished[channel]

    async def _announce_when_back(self) -> None:
        backoff = 0.5
        while self._unpublished:
            await asyncio.sleep(max(backoff, self._publish_paused_until - time.monotonic()))
            try:
                await self._announce_unpublished()
            except _LOST:
                backoff = min(backoff * 2, self._max_backoff)

    async def next_published(self) -> Message:
        while True:
            if self._pending:
                return self._pending.popleft()
            await self._has_channels.wait()
            if self._broken:
                self._broken = False
                await self._reconnect()
                continue
            try:
                message = await self._pubsub.get_message(timeout=min(1.0, self._ping_after))
                if message is None:
                    await self._check_alive()
            except (*_LOST, RuntimeError) as exc:  # RuntimeError: no connection was ever made
                log.warning("Redis subscriber lost its connection (%s); reconnecting", exc)
                REDIS_UP.set(0)
                await self._reconnect()
                continue
            if message is None:
                continue
            self._heard()
            if message.get("type") == "message":
                data = message["data"]
                channel = message["channel"]
                return Message(
                    channel=channel.decode() if isinstance(channel, bytes) else channel,
                    message=data.decode() if isinstance(data, bytes) else data,
                )

    async def _check_alive(self) -> None:
        """After a quiet read: ping when it has been quiet long enough; raise when not even a
        pong came back in ``dead_after`` seconds."""
        now = time.monotonic()
        if now - self._heard_at > self._dead_after:
            raise RedisConnectionError(f"nothing heard for {now - self._heard_at:.0f} s")
        if now - self._heard_at > self._ping_after and now - self._pinged_at > self._ping_after:
            self._pinged_at = now
            async with self._commands, _keeping_cancellation():
                await self._pubsub.ping()

    async def _reconnect(self) -> None:
        """[1] drop the dead connection, [2] retry with backoff until every channel is subscribed
        again, [3] queue a resync event per channel."""
        heard_until = self._last_heard
        backoff = 0.1
        while True:
            try:  # [1] (a vanished peer may never acknowledge the close: don't wait on it)
                async with asyncio.timeout(_CONNECT_TIMEOUT):
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
        self._heard()
        REDIS_UP.set(1)
        RECONNECTS.inc()
        log.info("Redis subscriber reconnected; %d channel(s) resubscribed", len(self._channels))
        resync = resync_message(heard_until)
        self._pending.extend(Message(channel=c, message=resync) for c in self._channels)  # [3]
