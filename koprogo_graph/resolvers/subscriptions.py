"""Live subscriptions: readings, alerts and sensor status of the viewer's organization.

Each subscription listens on its organization's channel (the organization comes from the
authenticated connection, never from arguments) and filters in-process. A ``resync`` event
(Redis came back after an outage) is not forwarded: the subscription simply goes on, and a
client that cares catches up with ``readings(from: lastSeen)``. Identical subscriptions of an
organization share one execution (realtime/shared.py); the connection closes itself when its
token expires (schema/view.py).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable

import strawberry

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
    """Decoded events of the viewer's organization channel."""
    context: Context = info.context
    async with context.broadcast.subscribe(channel_of(context.viewer.org())) as subscriber:
        if context.live_ready is not None:
            context.live_ready()
        while True:
            event = await subscriber.get()
            # One broadcast event reaches every stream of the channel: decode it once.
            decoded = getattr(event, "decoded", None)
            if decoded is None:
                try:
                    decoded = event.decoded = decode_event(event.message)
                except ValueError:
                    log.warning("ignoring a malformed event on %s", event.channel)
                    continue
            if decoded["kind"] != "resync":
                yield decoded


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
