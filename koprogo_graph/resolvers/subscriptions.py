"""Live subscriptions: readings, alerts and sensor status of the viewer's organization.

Each subscription listens on its organization's channel (the organization comes from the
authenticated connection, never from arguments) and filters in-process. A ``resync`` event
(Redis came back after an outage, so events may have been missed) is not an event of its own:
the subscription goes on, and its next result carries ``extensions: {"resync": true}``
(schema/live.py), telling the client to catch up with ``readings(from: lastSeen)`` or
``alerts(from: lastSeen)``. Identical subscriptions of an
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
    decoded,
    readings_channel,
    restore_row,
    sensors_channel,
    split_readings_by_building,
)
from ..realtime.hub import Split
from ..schema.alerts import Alert
from ..schema.context import Context
from ..schema.readings import Reading
from ..schema.sensors import Sensor
from ._args import parse_id, parse_optional_id

__all__ = ["LiveSubscription"]

log = logging.getLogger(__name__)
Info = strawberry.Info[Context, None]


async def _events(
    info: Info,
    channel_of: Callable[[uuid.UUID], str],
    key: uuid.UUID | None = None,
    split: Split | None = None,
) -> AsyncIterator[dict]:
    """Decoded events of the viewer's organization channel (with ``key``: their part for it)."""
    context: Context = info.context
    channel = channel_of(context.viewer.org())
    async with context.broadcast.subscribe(
        channel, key=str(key) if key else None, split=split
    ) as subscriber:
        if context.live_ready is not None:
            context.live_ready()
        while True:
            event = await subscriber.get()
            try:
                payload = decoded(event)
            except ValueError:
                log.warning("ignoring a malformed event on %s", event.channel)
                continue
            if payload["kind"] == "resync":
                context.missed_events = True
            else:
                yield payload


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
        # A building's subscription takes only its building's part of each batch.
        split = split_readings_by_building if building else None
        async for event in _events(info, readings_channel, building, split):
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
