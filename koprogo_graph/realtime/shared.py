"""Shared live operations: identical subscriptions run once per process, whatever their number.

A dashboard widget sends the same GraphQL document from every browser that shows it. Running
it once per websocket would cost one GraphQL execution per subscriber and event; instead,
subscriptions with the same key (document, operation, variables, organization, role) share one
upstream stream, executed once per event, and each subscriber receives the results through a
bounded queue of its own: a slow client loses its own oldest results (counted; the first result
it gets after losing some goes through ``after_gap``, so that it can say so), never slows the
stream or the other subscribers. The upstream stops when its last subscriber leaves.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Hashable
from contextlib import suppress
from typing import Any, Generic, TypeVar

from .metrics import DELIVERED, DROPPED, SHARED_STREAMS, SUBSCRIBERS

__all__ = ["SharedStreams"]

log = logging.getLogger(__name__)

T = TypeVar("T")
# Opens the upstream; it calls ``ready`` once events can reach it (its broadcast subscription
# is in place), which is when its subscribers start to count as connected.
OpenUpstream = Callable[[Callable[[], None]], Awaitable[AsyncIterator[T]]]
_END = object()


class _Member:
    __slots__ = ("counted", "gap", "queue")

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=size)
        self.counted = False
        self.gap = False  # results were dropped just before the queue's oldest one

    def offer(self, item: object) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.gap = True
            DROPPED.inc()
        self.queue.put_nowait(item)


class _Stream(Generic[T]):
    """One upstream and the subscribers it feeds."""

    def __init__(self, owner: SharedStreams, key: Hashable) -> None:
        self.owner, self.key = owner, key
        self.members: set[_Member] = set()
        self.ready = False
        self.retired = False
        self.task: asyncio.Task[None] | None = None

    def add(self, member: _Member) -> None:
        self.members.add(member)
        if self.ready:
            self._count(member)

    def mark_ready(self) -> None:
        self.ready = True
        for member in self.members:
            self._count(member)

    @staticmethod
    def _count(member: _Member) -> None:
        if not member.counted:
            member.counted = True
            SUBSCRIBERS.inc()

    async def pump(self, open_upstream: OpenUpstream[T], is_final: Callable[[T], bool]) -> None:
        SHARED_STREAMS.inc()
        try:
            upstream = await open_upstream(self.mark_ready)
            try:
                async for result in upstream:
                    if is_final(result):
                        self.retire()  # nobody may join a stream that has just failed
                    for member in self.members:
                        member.offer(result)
                    DELIVERED.inc(len(self.members))
            finally:
                self.retire()
                await upstream.aclose()  # type: ignore[attr-defined]
        except Exception:
            log.exception("shared live stream failed")
        finally:
            SHARED_STREAMS.dec()
            self.retire()
            for member in self.members:
                member.offer(_END)

    def retire(self) -> None:
        """Stop taking subscribers: a later identical subscription starts a stream of its own."""
        if not self.retired:
            self.retired = True
            if self.owner._streams.get(self.key) is self:
                del self.owner._streams[self.key]

    async def leave(self, member: _Member) -> None:
        self.members.discard(member)
        if member.counted:
            SUBSCRIBERS.dec()
        if not self.members and self.task is not None:
            self.retire()
            self.task.cancel()
            with suppress(asyncio.CancelledError):
                await self.task


class SharedStreams:
    """The process's shared live operations, owned by the app's lifespan."""

    def __init__(self, queue_size: int = 1_000, concurrent_reads: int = 2) -> None:
        self.queue_size = queue_size
        self._streams: dict[Hashable, _Stream[Any]] = {}
        self._reads: dict[Hashable, asyncio.Future[Any]] = {}
        self._read_slots = asyncio.Semaphore(concurrent_reads)

    async def read_once(self, key: Hashable, read: Callable[[], Awaitable[T]]) -> T:
        """``read()`` run once for the streams that ask with the same ``key`` meanwhile (all the
        alert streams of an organization catching up after the same gap), and a few reads at a
        time whatever their keys: a reconnection must not take every database connection."""
        shared = self._reads.get(key)
        if shared is None:

            async def bounded() -> T:
                async with self._read_slots:
                    return await read()

            shared = self._reads[key] = asyncio.ensure_future(bounded())
            shared.add_done_callback(lambda _: self._reads.pop(key, None))
        # One stream giving up (its last subscriber left) does not cancel the others' read.
        return await asyncio.shield(shared)

    def __len__(self) -> int:
        return len(self._streams)

    async def join(
        self,
        key: Hashable,
        open_upstream: OpenUpstream[T],
        is_final: Callable[[T], bool] = lambda _: False,
        after_gap: Callable[[T], T] = lambda result: result,
    ) -> AsyncGenerator[T, None]:
        """The results of the stream shared under ``key``, opened by this call if needed.
        ``is_final`` tells a result after which the stream ends (an initial error);
        ``after_gap`` makes what this subscriber gets of the first result after it lost some."""
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = _Stream(self, key)
            stream.task = asyncio.create_task(stream.pump(open_upstream, is_final))
        member = _Member(self.queue_size)
        stream.add(member)
        try:
            while (item := await member.queue.get()) is not _END:
                if member.gap:
                    member.gap = False
                    item = after_gap(item)
                yield item
        finally:
            await stream.leave(member)

    async def aclose(self) -> None:
        """Stop every stream (shutdown): their subscribers see the end of their operation."""
        tasks: list[asyncio.Future[Any]] = [s.task for s in self._streams.values() if s.task]
        tasks += self._reads.values()  # catch-up reads in flight
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(Exception, asyncio.CancelledError):  # a read's failure is its readers'
                await task
