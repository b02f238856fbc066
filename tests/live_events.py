"""Live reading events as the ingesting replica publishes them, and a subscription on the
in-memory broadcast: for tests of the live path without services."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import strawberry

from koprogo_graph.auth import Role, Viewer
from koprogo_graph.realtime.events import encode_event, readings_channel
from koprogo_graph.realtime.hub import Hub
from koprogo_graph.schema.context import Context


def reading_event(org: uuid.UUID, building: uuid.UUID, **overrides: Any) -> dict[str, Any]:
    """One ReadingEvent (realtime/events.py) of a new sensor, stamped now; fields overridable."""
    now = datetime.now(UTC).isoformat()
    return {
        "sensorId": str(uuid.uuid4()), "organizationId": str(org), "buildingId": str(building),
        "unitId": None, "deviceId": "probe", "sensorType": "TEMPERATURE",
        "readingKind": "INSTANTANEOUS", "timestamp": now, "value": 1.0, "rawValue": 1.0,
        "unitOfMeasure": "°C", "batteryLevel": None, "signalStrength": None, "quality": "GOOD",
        "isAnomaly": False, "anomalyReason": None, "receivedAt": now,
    } | overrides  # fmt: skip


def readings_message(readings: Iterable[dict[str, Any]]) -> str:
    """The broadcast message of one ingest batch."""
    return encode_event({"kind": "readings", "readings": list(readings)})


@asynccontextmanager
async def memory_subscription(
    schema: strawberry.Schema, query: str, variables: dict[str, Any], org: uuid.UUID
) -> AsyncIterator[tuple[Callable[[str], Awaitable[None]], Callable[[], Awaitable[Any]]]]:
    """An owner of ``org`` subscribed on an in-memory broadcast, not shared: yields, once events
    can reach it, ``publish(message)`` (on the organization's readings channel) and ``next()``."""
    viewer = Viewer(uuid.uuid4(), org, Role.OWNER, None, datetime(2099, 1, 1, tzinfo=UTC))
    async with Hub("memory://") as hub:
        subscribed = asyncio.Event()
        context = Context(request=None, db=None, settings=None, broadcast=hub,  # type: ignore[arg-type]
                          live_ready=subscribed.set, _viewer=viewer)  # fmt: skip
        stream = await schema.stream(query, variables, context)
        pending = asyncio.ensure_future(anext(stream))  # the subscription starts with a read
        await asyncio.wait_for(subscribed.wait(), 5)

        async def publish(message: str) -> None:
            await hub.publish(readings_channel(org), message)

        async def next_result() -> Any:
            nonlocal pending
            ahead, pending = pending, None
            return await asyncio.wait_for(ahead or anext(stream), 5)

        try:
            yield publish, next_result
        finally:
            if pending is not None:
                pending.cancel()
            await stream.aclose()
