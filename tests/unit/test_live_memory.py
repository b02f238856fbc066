"""A long-lived subscription must not grow with the number of events it delivers."""

from __future__ import annotations

import gc
import tracemalloc
import uuid

from koprogo_graph.api.schema import build_schema

from ..live_events import memory_subscription, reading_event, readings_message

# A fragment keeps graphql-core's own execution (api/event_plan.py plans only plain leaves),
# which is where the leak was.
QUERY = (
    "subscription($b: ID) { readingAdded(buildingId: $b) { ... on Reading { sensorId value } } }"
)


async def test_memory_stays_flat_while_a_subscription_delivers_events():
    org, building = uuid.uuid4(), uuid.uuid4()
    async with memory_subscription(build_schema(), QUERY, {"b": str(building)}, org) as (
        publish,
        next_result,
    ):

        async def deliver(count: int) -> None:
            for _ in range(count):
                await publish(readings_message([reading_event(org, building)]))
                assert (await next_result()).errors is None

        await deliver(100)  # warm up: caches, first-time allocations
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            await deliver(2_000)
            gc.collect()
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
    # graphql-core 3.3's per-event memo leaked ~1 KB per event (2 MB here); see api/executor.py
    assert grown < 300_000, f"{grown} bytes retained after 2,000 events"
