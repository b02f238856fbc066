"""Shared live streams, in-process: one upstream per key, bounded queues per subscriber."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from koprogo_graph.realtime.metrics import DROPPED, SHARED_STREAMS, SUBSCRIBERS
from koprogo_graph.realtime.shared import SharedStreams


class Upstream:
    """A fake upstream fed by the test: counts openings, records when it is closed."""

    def __init__(self) -> None:
        self.opened = 0
        self.closed = 0
        self.feed: asyncio.Queue[object] = asyncio.Queue()
        self.ready = asyncio.Event()

    async def open(self, ready: Callable[[], None]) -> AsyncIterator[object]:
        self.opened += 1

        async def results() -> AsyncIterator[object]:
            ready()
            self.ready.set()
            try:
                while (item := await self.feed.get()) != "end":
                    if item == "boom":
                        raise RuntimeError("upstream failed")
                    yield item
            finally:
                self.closed += 1

        return results()


async def take(stream: AsyncIterator[object], count: int) -> list[object]:
    return [await asyncio.wait_for(anext(stream), 5) for _ in range(count)]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_identical_subscriptions_share_one_upstream():
    streams, upstream = SharedStreams(), Upstream()
    first = streams.join("key", upstream.open)
    second = streams.join("key", upstream.open)
    pending = [asyncio.create_task(take(first, 2)), asyncio.create_task(take(second, 2))]
    await asyncio.wait_for(upstream.ready.wait(), 5)
    await settle()
    upstream.feed.put_nowait("a")
    upstream.feed.put_nowait("b")
    assert [await p for p in pending] == [["a", "b"], ["a", "b"]]
    assert upstream.opened == 1
    await first.aclose()
    await second.aclose()


async def test_the_last_subscriber_leaving_stops_the_upstream():
    streams, upstream = SharedStreams(), Upstream()
    subscribers_before, streams_before = SUBSCRIBERS._value.get(), SHARED_STREAMS._value.get()
    first, second = streams.join("key", upstream.open), streams.join("key", upstream.open)
    reads = [asyncio.create_task(anext(first)), asyncio.create_task(anext(second))]
    await asyncio.wait_for(upstream.ready.wait(), 5)
    await settle()
    assert SUBSCRIBERS._value.get() - subscribers_before == 2  # counted once ready
    assert SHARED_STREAMS._value.get() - streams_before == 1
    upstream.feed.put_nowait("x")
    assert [await r for r in reads] == ["x", "x"]

    await first.aclose()
    assert upstream.closed == 0  # the other subscriber still listens
    upstream.feed.put_nowait("y")
    assert await take(second, 1) == ["y"]
    await second.aclose()
    assert upstream.closed == 1
    assert len(streams) == 0
    assert SUBSCRIBERS._value.get() == subscribers_before
    assert SHARED_STREAMS._value.get() == streams_before

    # A later identical subscription opens a new upstream.
    third = streams.join("key", upstream.open)
    read = asyncio.create_task(anext(third))
    await asyncio.wait_for(upstream.ready.wait(), 5)
    await settle()
    upstream.feed.put_nowait("z")
    assert await read == "z"
    assert upstream.opened == 2
    await third.aclose()


async def test_a_stalled_subscriber_loses_only_its_own_oldest_results_and_is_told():
    streams, upstream = SharedStreams(queue_size=10), Upstream()
    dropped_before = DROPPED._value.get()

    def after_gap(result):
        return ("after a gap", result)

    stalled = streams.join("key", upstream.open, after_gap=after_gap)
    reader = streams.join("key", upstream.open, after_gap=after_gap)
    first_stalled = asyncio.create_task(anext(stalled))  # joins, then never reads again
    first_read = asyncio.create_task(anext(reader))
    await asyncio.wait_for(upstream.ready.wait(), 5)
    await settle()
    upstream.feed.put_nowait(-1)
    assert await first_stalled == -1
    assert await first_read == -1
    for i in range(50):
        upstream.feed.put_nowait(i)
        assert await take(reader, 1) == [i]  # the reader keeps up
    # The first result it gets after losing 0-39 says so; the reader lost nothing.
    assert await take(stalled, 10) == [("after a gap", 40), *range(41, 50)]
    assert DROPPED._value.get() - dropped_before == 40
    upstream.feed.put_nowait(50)
    assert await take(stalled, 1) == [50]
    assert await take(reader, 1) == [50]
    await stalled.aclose()
    await reader.aclose()


async def test_a_final_result_ends_the_stream_for_its_subscribers_only():
    streams, upstream, later = SharedStreams(), Upstream(), Upstream()
    failed = streams.join("key", upstream.open, is_final=lambda r: r == "error")
    read = asyncio.create_task(take(failed, 1))
    await asyncio.wait_for(upstream.ready.wait(), 5)
    upstream.feed.put_nowait("error")
    assert await read == ["error"]
    # The failed stream takes nobody new: the next identical subscription starts afresh.
    fresh = streams.join("key", later.open)
    read = asyncio.create_task(anext(fresh))
    await asyncio.wait_for(later.ready.wait(), 5)
    later.feed.put_nowait("ok")
    assert await read == "ok"
    assert (upstream.opened, later.opened) == (1, 1)
    await failed.aclose()
    await fresh.aclose()


async def test_an_upstream_failure_ends_its_subscribers_streams():
    streams, upstream = SharedStreams(), Upstream()
    stream = streams.join("key", upstream.open)
    read = asyncio.create_task(take(stream, 1))
    await asyncio.wait_for(upstream.ready.wait(), 5)
    upstream.feed.put_nowait("boom")
    try:
        await read
    except StopAsyncIteration:
        pass
    else:
        raise AssertionError("the subscriber's stream should have ended")
    assert len(streams) == 0


async def test_shutdown_ends_every_stream():
    streams, upstream = SharedStreams(), Upstream()
    stream = streams.join("key", upstream.open)
    read = asyncio.create_task(anext(stream))
    await asyncio.wait_for(upstream.ready.wait(), 5)
    await streams.aclose()
    try:
        await asyncio.wait_for(read, 5)
    except StopAsyncIteration:
        pass
    else:
        raise AssertionError("the subscriber's stream should have ended")
    assert upstream.closed == 1


async def test_identical_reads_run_once_and_a_few_at_a_time():
    streams = SharedStreams(concurrent_reads=2)
    started: list[str] = []
    release = asyncio.Event()

    async def read(key: str) -> str:
        started.append(key)
        await release.wait()
        return f"rows of {key}"

    reads = [asyncio.create_task(streams.read_once(k, lambda k=k: read(k))) for k in "aab"]
    reads.append(asyncio.create_task(streams.read_once("c", lambda: read("c"))))
    await settle()
    assert started == ["a", "b"]  # "a" once for both askers; "c" waits for a free slot
    release.set()
    assert [await r for r in reads] == ["rows of a", "rows of a", "rows of b", "rows of c"]
    assert started == ["a", "b", "c"]


async def test_a_reader_giving_up_does_not_cancel_the_others_read():
    streams, release = SharedStreams(), asyncio.Event()

    async def read() -> str:
        await release.wait()
        return "rows"

    leaving = asyncio.create_task(streams.read_once("k", read))
    staying = asyncio.create_task(streams.read_once("k", read))
    await settle()
    leaving.cancel()
    release.set()
    assert await staying == "rows"
