"""The hub's bounded queues, in-process (memory broadcast): what a subscriber that fell behind
reads, and in which order."""

from __future__ import annotations

import asyncio

from koprogo_graph.realtime.events import resync_message, resync_since, resync_start
from koprogo_graph.realtime.hub import Hub
from koprogo_graph.realtime.transport import Message


async def test_an_overflow_while_the_reader_wakes_up_comes_before_the_event_after_it():
    async with Hub("memory://", queue_size=3) as hub:
        async with hub.subscribe("c") as subscriber:
            read = asyncio.create_task(subscriber.get())
            for _ in range(3):  # the reader waits on its empty queue
                await asyncio.sleep(0)
            # Event 0 wakes it up, and before it runs, 0 and 1 are dropped to make room.
            for i in range(5):
                hub._route(Message(channel="c", message=str(i)))
            first = await read
            assert resync_since(first.message) is not None  # the gap first...
            # ...then what follows it: the reader's lastSeen never jumps over the gap.
            assert [(await subscriber.get()).message for _ in range(3)] == ["2", "3", "4"]


async def test_a_dropped_resync_keeps_its_own_earlier_start():
    async with Hub("memory://", queue_size=2) as hub:
        async with hub.subscribe("c") as subscriber:
            older = 1_000_000.0  # a resync from long ago: events since then may be missing
            hub._route(Message(channel="c", message=resync_message(older)))
            for i in range(3):  # the resync itself is dropped, then event 0
                hub._route(Message(channel="c", message=str(i)))
            assert resync_since((await subscriber.get()).message) == older
            assert [(await subscriber.get()).message for _ in range(2)] == ["1", "2"]


async def test_a_malformed_resync_from_redis_is_dropped_like_any_event():
    async with Hub("memory://", queue_size=1) as hub:
        async with hub.subscribe("c") as subscriber:
            hub._route(Message(channel="c", message='{"kind":"resync","since":"never"}'))
            hub._route(Message(channel="c", message="next"))  # drops the malformed one
            assert resync_since((await subscriber.get()).message) is not None
            assert (await subscriber.get()).message == "next"


def test_resync_start_refuses_what_it_cannot_read():
    assert resync_start({"kind": "resync", "since": "never"}) is None
    assert resync_start({"kind": "resync", "since": 12}) is None
    assert resync_start({"kind": "resync"}) is None
