"""The live-event hub on a real (private) Redis: restarts are survived with a resync, and a
subscriber that never reads loses only its own oldest events, and is told."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from koprogo_graph.realtime.events import (
    RESYNC_MARGIN,
    decode_event,
    decoded,
    encode_event,
    resync_since,
    split_readings_by_building,
)
from koprogo_graph.realtime.hub import DROPPED, Hub
from koprogo_graph.realtime.redis_backend import RECONNECTS

from .netfaults import SilenceableProxy


async def next_message(subscriber, *, skip_resyncs: bool = False) -> str:
    while True:
        message = (await asyncio.wait_for(subscriber.get(), 30)).message
        if not (skip_resyncs and resync_since(message) is not None):
            return message


async def test_subscriptions_resume_by_themselves_after_redis_restarts(redis_server):
    async with Hub(redis_server.url) as hub, Hub(redis_server.url) as publisher:
        async with hub.subscribe("koprogo:test:restart") as subscriber:
            heard = datetime.now(UTC)
            await publisher.publish("koprogo:test:restart", "before")
            assert await next_message(subscriber) == "before"

            lost = datetime.now(UTC)
            redis_server.stop()
            await redis_server.start()

            # The subscriber is told it may have missed events, since Redis was last heard
            # from (minus the margin)...
            resync = decode_event(await next_message(subscriber))
            assert resync["kind"] == "resync"
            since = datetime.fromisoformat(resync["since"])
            assert heard - RESYNC_MARGIN <= since <= lost - RESYNC_MARGIN
            # ...and events flow again, through a publisher that reconnects too.
            await publisher.publish("koprogo:test:restart", "after")
            assert await next_message(subscriber) == "after"


async def test_a_subscriber_that_never_reads_does_not_delay_another(redis_server):
    async with Hub(redis_server.url) as publisher, Hub(redis_server.url) as hub:
        hub.queue_size = 10
        dropped_before = DROPPED._value.get()
        async with (
            hub.subscribe("koprogo:test:slow") as stalled,
            hub.subscribe("koprogo:test:slow") as reader,
        ):
            before = datetime.now(UTC)
            for i in range(50):
                await publisher.publish("koprogo:test:slow", str(i))
                # The reader keeps up; the stalled one never reads.
                assert await next_message(reader) == str(i)
                if i == 0:
                    first_received = datetime.now(UTC)
            assert stalled._queue.qsize() == 10
            # It lost 0-39: its next read says so, since the first lost one was received (minus
            # the margin), then come the 10 newest.
            resync = decode_event(await next_message(stalled))
            since = datetime.fromisoformat(resync["since"])
            assert before - RESYNC_MARGIN <= since <= first_received - RESYNC_MARGIN
            assert [await next_message(stalled) for _ in range(10)] == [
                str(i) for i in range(40, 50)
            ]
            assert reader._queue.gap_since is None
        assert DROPPED._value.get() - dropped_before == 40


async def test_many_channels_subscribed_at_once_all_receive(redis_server):
    """redis-py creates the PubSub connection lazily: concurrent first subscribes must not race."""
    async with Hub(redis_server.url) as hub, Hub(redis_server.url) as publisher:
        async with AsyncExitStack() as stack:
            subscribers = await asyncio.gather(
                *(
                    stack.enter_async_context(hub.subscribe(f"koprogo:test:many:{i}"))
                    for i in range(20)
                )
            )
            for i in range(20):
                await publisher.publish(f"koprogo:test:many:{i}", f"m{i}")
            assert [await next_message(s) for s in subscribers] == [f"m{i}" for i in range(20)]


async def test_a_building_subscriber_gets_only_its_part_of_each_batch(redis_server):
    def batch(*readings: tuple[str, float]) -> str:
        rows = [{"buildingId": b, "value": v} for b, v in readings]
        return encode_event({"kind": "readings", "readings": rows})

    def values(event) -> list[float]:
        return [r["value"] for r in decoded(event)["readings"]]

    async with Hub(redis_server.url) as hub, Hub(redis_server.url) as publisher:
        by = split_readings_by_building
        async with (
            hub.subscribe("koprogo:test:split", key="b1", split=by) as b1,
            hub.subscribe("koprogo:test:split", key="b2", split=by) as b2,
            hub.subscribe("koprogo:test:split") as everything,
        ):
            await publisher.publish("koprogo:test:split", batch(("b1", 1), ("b3", 2), ("b1", 3)))
            await publisher.publish("koprogo:test:split", batch(("b2", 4)))
            assert values(await asyncio.wait_for(b1.get(), 30)) == [1, 3]
            assert values(await asyncio.wait_for(b2.get(), 30)) == [4]  # nothing from batch 1
            assert values(await asyncio.wait_for(everything.get(), 30)) == [1, 2, 3]
            assert values(await asyncio.wait_for(everything.get(), 30)) == [4]

            # A resync concerns every building.
            redis_server.stop()
            await redis_server.start()
            resyncs = {await next_message(subscriber) for subscriber in (b1, b2, everything)}
            assert len(resyncs) == 1
            assert decode_event(resyncs.pop())["kind"] == "resync"


@pytest.mark.parametrize("steps", range(8))
async def test_a_subscription_cancelled_while_subscribing_ends(redis_server, steps):
    """redis-py swallows a cancellation that lands while its PubSub connects (the first
    subscribe); the hub must end the cancelled subscription anyway (a shared live stream whose
    last subscriber left would otherwise live on, and its last subscriber wait for it forever)."""

    channel = "koprogo:test:cancelled"

    async def listen(hub: Hub) -> None:
        async with hub.subscribe(channel) as subscriber:
            await subscriber.get()

    async with Hub(redis_server.url) as hub, Hub(redis_server.url) as publisher:
        async with AsyncExitStack() as stack:
            task = asyncio.create_task(listen(hub))
            # Another subscriber of the same channel, waiting for the first one's subscribe.
            other = asyncio.create_task(stack.enter_async_context(hub.subscribe(channel)))
            for _ in range(steps):  # cancel at each point of the first subscribe in turn
                await asyncio.sleep(0)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(task, 10)
            # The other one hears the channel, and the hub takes new subscriptions.
            subscriber = await asyncio.wait_for(other, 10)
            later = await stack.enter_async_context(hub.subscribe(channel))
            await publisher.publish(channel, "after")
            # (A resync may come first: a cancelled connect can leave redis-py's connection
            # unusable, and then the hub reconnects.)
            assert await next_message(subscriber, skip_resyncs=True) == "after"
            assert await next_message(later, skip_resyncs=True) == "after"


async def test_a_connection_that_goes_silent_is_replaced(redis_server):
    """Redis vanishes without closing the subscriber's connection (a failover, a partition):
    unanswered pings give it away, the hub reconnects by itself, tells its subscribers since
    when they may have missed events, and events flow again."""
    async with SilenceableProxy(redis_server.port) as proxy:
        hub = Hub(proxy.url(), ping_after=0.1, dead_after=0.5, publish_timeout=0.2)
        async with hub, Hub(redis_server.url) as publisher:
            async with hub.subscribe("koprogo:test:silent") as subscriber:
                await hub.publish("koprogo:test:silent", "before")  # both of its connections open
                assert await next_message(subscriber) == "before"
                reconnects = RECONNECTS._value.get()

                await proxy.silence()
                # This process's own publishes wait for Redis no longer than the timeout, and
                # then not at all for a while.
                with pytest.raises(RedisTimeoutError):
                    await hub.publish("koprogo:test:silent", "stuck")
                with pytest.raises(RedisConnectionError, match="not waiting"):
                    await hub.publish("koprogo:test:silent", "stuck")
                await publisher.publish("koprogo:test:silent", "lost")  # never crosses the proxy
                resync = decode_event(await next_message(subscriber))
                assert resync["kind"] == "resync" and "since" in resync
                assert RECONNECTS._value.get() == reconnects + 1
                await publisher.publish("koprogo:test:silent", "after")
                assert await next_message(subscriber) == "after"


@asynccontextmanager
async def a_failed_publish(redis_server, channel: str):
    """A hub publishing through a proxy that went silent, just after its publish on ``channel``
    timed out, and a subscriber of ``channel`` on Redis itself: yields (hub, subscriber, when)."""
    async with SilenceableProxy(redis_server.port) as proxy:
        publishing = Hub(proxy.url(), publish_timeout=0.2, publish_pause=0)
        async with publishing, Hub(redis_server.url) as hub:
            async with hub.subscribe(channel) as subscriber:
                await publishing.publish(channel, "before")
                assert await next_message(subscriber) == "before"
                await proxy.silence()
                failed = datetime.now(UTC)
                with pytest.raises(RedisTimeoutError):
                    await publishing.publish(channel, "lost")
                yield publishing, subscriber, failed


async def test_events_that_could_not_be_published_are_announced_before_the_next(redis_server):
    """A publisher whose Redis stopped answering tells the channel's subscribers, wherever they
    are, that events are missing since its first failure, before the next event gets through."""
    channel = "koprogo:test:unpublished"
    async with a_failed_publish(redis_server, channel) as (publishing, subscriber, failed):
        # Two publishes at once, on new connections, which work: both get through, after the
        # announcement (made once or twice).
        await asyncio.gather(
            publishing.publish(channel, "after"), publishing.publish(channel, "after")
        )
        resync = decode_event(await next_message(subscriber))
        since = datetime.fromisoformat(resync["since"])
        assert failed - RESYNC_MARGIN <= since <= datetime.now(UTC) - RESYNC_MARGIN
        assert await next_message(subscriber, skip_resyncs=True) == "after"
        # The second announcement (when the two publishes both made one) may come between them.
        assert await next_message(subscriber, skip_resyncs=True) == "after"


async def test_events_that_could_not_be_published_are_announced_by_themselves(redis_server):
    """...even when the publisher has nothing more to publish on that channel."""
    async with a_failed_publish(redis_server, "koprogo:test:alone") as (_, subscriber, _):
        assert decode_event(await next_message(subscriber))["kind"] == "resync"


async def test_subscribing_after_an_idle_spell_is_not_taken_for_a_dead_connection(redis_server):
    """Silence while no channel was subscribed is idleness, even when the first subscriptions
    come in together."""
    async with Hub(redis_server.url, ping_after=0.1, dead_after=0.5) as hub:
        hub._backend._heard_at -= 3_600  # an hour without any channel
        reconnects = RECONNECTS._value.get()
        channels = [f"koprogo:test:idle:{i}" for i in range(2)]
        async with AsyncExitStack() as stack:
            subscribers = await asyncio.gather(
                *(stack.enter_async_context(hub.subscribe(c)) for c in channels)
            )
            for channel in channels:
                await hub.publish(channel, "hello")
            assert [await next_message(s) for s in subscribers] == ["hello", "hello"]
        assert RECONNECTS._value.get() == reconnects
