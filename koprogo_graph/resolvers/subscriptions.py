"""Live subscriptions: readings, alerts and sensor status of the viewer's organization.

Each subscription listens on its organization's channel (the organization comes from the
authenticated connection, never from arguments) and filters in-process. A ``resync`` event
(Redis came back after an outage) is not forwarded: the subscription simply goes on, and a
client that cares catches up with ``readings(from: lastSeen)``. When the connection's token
expires, the websocket is closed (4403).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from datetime import UTC, datetime

import strawberry
from starlette.websockets import WebSocket

from ..auth import Viewer
from ..domain.alerts import AlertSeverity
from ..realtime.events import (
    alerts_channel,
    building_readings_channel,
    decode_event,
    readings_channel,
    restore_row,
    sensors_channel,
)
from ..schema.alerts import Alert
from ..schema.context import Context
from ..schema.readings import Reading
from ..schema.sensors import Sensor
from ._args import parse_id, parse_optional_id

__all__ = ["LiveSubscription"]

log = logging.getLogger(__name__)
Info = strawberry.Info[Context, None]


async def _events(info: Info, channel_of: Callable[[uuid.UUID], str]) -> AsyncIterator[dict]:
    """Decoded events of the viewer's organization channel, until the token expires."""
    viewer: Viewer = info.context.viewer
    org = viewer.org()
    broadcast = info.context.broadcast
    deadline = _loop_time_of(viewer.expires_at)
    async with broadcast.subscribe(channel_of(org)) as subscriber:
        while True:
            try:
                # A timer handle, not a task per wait (asyncio.wait_for): cheap with many
                # subscribers. Never held across the yield below.
                async with asyncio.timeout_at(deadline):
                    event = await subscriber.get()
            except TimeoutError:
                await _close_expired(info)
                return
            # One broadcast event reaches every subscription of the channel: decode it once.
            decoded = getattr(event, "decoded", None)
            if decoded is None:
                try:
                    decoded = event.decoded = decode_event(event.message)
                except ValueError:
                    log.warning("ignoring a malformed event on %s", event.channel)
                    continue
            if decoded["kind"] != "resync":
                yield decoded


def _loop_time_of(instant: datetime) -> float:
    loop = asyncio.get_running_loop()
    return loop.time() + (instant - datetime.now(UTC)).total_seconds()


async def _close_expired(info: Info) -> None:
    request = info.context.request
    if isinstance(request, WebSocket):
        await request.close(code=4403, reason="Token expired")


@strawberry.type
class LiveSubscription:
    @strawberry.subscription(description="Readings as they are stored, optionally filtered.")
    async def reading_added(
        self,
        info: Info,
        building_id: strawberry.ID | None = None,
        sensor_ids: list[strawberry.ID] | None = None,
    ) -> AsyncGenerator[Reading, None]:
        building = parse_optional_id(building_id, "buildingId")
        sensors = (
            {str(parse_id(s, "sensorIds")) for s in sensor_ids} if sensor_ids is not None else None
        )
        # A building's subscription listens on that building's channel only.
        channel = (
            (lambda org: building_readings_channel(org, building)) if building else readings_channel
        )
        async for event in _events(info, channel):
            for r in event.get("readings", ()):
                if sensors is not None and r["sensorId"] not in sensors:
                    continue
                yield Reading.from_event(r)

    @strawberry.subscription(description="Alerts as they open, repeat, escalate or close.")
    async def alert_changed(
        self,
        info: Info,
        building_id: strawberry.ID | None = None,
        min_severity: AlertSeverity | None = None,
    ) -> AsyncGenerator[Alert, None]:
        building = parse_optional_id(building_id, "buildingId")
        floor = min_severity.rank if min_severity else 0
        async for event in _events(info, alerts_channel):
            if event["kind"] != "alert":
                continue
            alert = Alert.from_row(restore_row(event["alert"]))
            if building and alert.building_id != str(building):
                continue
            if alert.severity.rank >= floor:
                yield alert

    @strawberry.subscription(description="Sensors whose status changed (offline, faulty, back...).")
    async def sensor_status_changed(
        self, info: Info, building_id: strawberry.ID | None = None
    ) -> AsyncGenerator[Sensor, None]:
        building = parse_optional_id(building_id, "buildingId")
        async for event in _events(info, sensors_channel):
            if event["kind"] != "sensor":
                continue
            sensor = Sensor.from_row(restore_row(event["sensor"]))
            if building is None or sensor.building_id == str(building):
                yield sensor
