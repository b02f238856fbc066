"""The live-event hub on a real (private) Redis: restarts are survived with a resync, and a
subscriber that never reads loses only its own oldest events, and is told."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from koprogo_graph.realtime.events import (
    RESYNC_MESSAGE,
    decode_event,
    decoded,
    encode_event,
    split_readings_by_building,
)
from koprogo_graph.realtime.hub import DROPPED, Hub
from koprogo_graph.realtime.redis_backend import RECONNECTS

from .netfaults import SilenceableProxy


async def next_message(subscriber) -> str:
    return (await asyncio.wait_for(subscriber.get(), 30)).message


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
            # from (minus the margin: 30 s)...
            resync = decode_event(await next_message(subscriber))
            assert resync["kind"] == "resync"
            margin = timedelta(seconds=30)
            assert heard - margin <= datetime.fromisoformat(resync["since"]) <= lost - margin
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
            for i in range(50):
                await publisher.publish("koprogo:test:slow", str(i))
                # The reader keeps up; the stalled one never reads.
                assert await next_message(reader) == str(i)
            assert stalled._queue.qsize() == 10
            # It lost 0-39: its next read says so, then come the 10 newest.
            assert [await next_message(stalled) for _ in range(11)] == [
                RESYNC_MESSAGE,
                *(str(i) for i in range(40, 50)),
            ]
            assert not reader._queue.gap
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

    async def listen(hub: Hub) -> None:
        async with hub.subscribe("koprogo:test:cancelled") as subscriber:
            await subscriber.get()

    async with Hub(redis_server.url) as hub, Hub(redis_server.url) as publisher:
        task = asyncio.create_task(listen(hub))
        for _ in range(steps):  # cancel at each point of the first subscribe in turn
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)
        # The hub is still usable.
        async with hub.subscribe("koprogo:test:cancelled") as subscriber:
            await publisher.publish("koprogo:test:cancelled", "after")
            assert await next_message(subscriber) == "after"


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
                with pytest.raises(RedisConnectionError, match="not waiting again"):
                    await hub.publish("koprogo:test:silent", "stuck")
                await publisher.publish("koprogo:test:silent", "lost")  # never crosses the proxy
                resync = decode_event(await next_message(subscriber))
                assert resync["kind"] == "resync" and "since" in resync
                assert RECONNECTS._value.get() == reconnects + 1
                await publisher.publish("koprogo:test:silent", "after")
                assert await next_message(subscriber) == "after"
