"""The one place live events are published (SPEC §8): readings by the ingestor, alerts and
sensors by whoever changed them, after their transaction committed. Best effort: the rows are
stored, and a subscriber that misses an event catches up (``extensions.resync``)."""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..domain.readings import StoredReading
from ..store.rows import AlertRow, SensorRow
from .events import (
    Event,
    ReadingEvent,
    ReadingsEvent,
    alert_event,
    alerts_channel,
    encode_event,
    reading_event,
    readings_channel,
    sensor_event,
    sensors_channel,
)

__all__ = ["publish_alerts", "publish_readings", "publish_sensors"]

log = logging.getLogger(__name__)


async def publish_readings(broadcast: Any, readings: Sequence[StoredReading]) -> int:
    """One message per organization for a stored batch (each API process splits it by
    building for the dashboards of one building); how many readings could not be published."""
    by_org: dict[uuid.UUID, list[ReadingEvent]] = defaultdict(list)
    for r in readings:
        by_org[r.organization_id].append(reading_event(r))
    failed = 0
    for org, events in by_org.items():
        if not await _send(
            broadcast, readings_channel(org), ReadingsEvent(kind="readings", readings=events)
        ):
            failed += len(events)
    return failed


async def publish_alerts(broadcast: Any, alerts: Iterable[AlertRow | None]) -> None:
    """One alertChanged event per changed alert."""
    await _publish_rows(broadcast, alerts, "alert", alert_event)


async def publish_sensors(broadcast: Any, sensors: Iterable[SensorRow]) -> None:
    """One sensorStatusChanged event per sensor whose status or connectivity moved."""
    await _publish_rows(broadcast, sensors, "sensor", sensor_event)


async def _publish_rows(
    broadcast: Any,
    rows: Iterable[AlertRow | SensorRow | None],
    kind: str,
    event_of: Callable[[Any], Event],
) -> None:
    channel_of = alerts_channel if kind == "alert" else sensors_channel
    for row in rows:
        if row is not None:
            await _send(broadcast, channel_of(row.organization_id), event_of(row))


async def _send(broadcast: Any, channel: str, event: Event) -> bool:
    if broadcast is None:
        return True
    try:
        await broadcast.publish(channel=channel, message=encode_event(event))
    except Exception:
        log.exception("could not publish a live event on %s", channel)
        return False
    return True
