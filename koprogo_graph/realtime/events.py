"""Broadcast events: typed JSON messages on per-organization channels (SPEC §8).

Every message is a TypedDict with a ``kind`` discriminator. Readings travel in batches (one
message per organization per ingest batch) so that 10,000 readings/s is not 10,000 Redis
publishes/s; each process splits a batch by building for the dashboards of one building.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NotRequired, TypedDict, TypeVar

from ..domain.readings import StoredReading
from ..domain.sensors import clean
from ..store.rows import AlertRow, SensorRow, from_wire, to_wire
from .transport import Message

R = TypeVar("R")

log = logging.getLogger(__name__)

__all__ = [
    "RESYNC_MARGIN",
    "AlertEvent",
    "Event",
    "ReadingEvent",
    "ReadingsEvent",
    "ResyncEvent",
    "SensorStatusEvent",
    "alert_event",
    "alert_of",
    "alerts_channel",
    "decode_event",
    "decoded",
    "encode_event",
    "reading_event",
    "readings_channel",
    "resync_message",
    "resync_since",
    "resync_start",
    "sensor_event",
    "sensor_of",
    "sensors_channel",
    "split_readings_by_building",
]


def readings_channel(organization_id: uuid.UUID | str) -> str:
    return f"koprogo:org:{organization_id}:readings"


def alerts_channel(organization_id: uuid.UUID | str) -> str:
    return f"koprogo:org:{organization_id}:alerts"


def sensors_channel(organization_id: uuid.UUID | str) -> str:
    return f"koprogo:org:{organization_id}:sensors"


class ReadingEvent(TypedDict):
    sensorId: str
    organizationId: str
    buildingId: str
    unitId: str | None
    deviceId: str
    sensorType: str
    readingKind: str
    timestamp: str
    value: float
    rawValue: float
    unitOfMeasure: str
    batteryLevel: int | None
    signalStrength: int | None
    quality: str
    isAnomaly: bool
    anomalyReason: str | None
    receivedAt: str


class ReadingsEvent(TypedDict):
    kind: Literal["readings"]
    readings: list[ReadingEvent]


class AlertEvent(TypedDict):
    kind: Literal["alert"]
    alert: dict[str, Any]  # an AlertRow on the wire (store/rows.py: to_wire)


class SensorStatusEvent(TypedDict):
    kind: Literal["sensor"]
    sensor: dict[str, Any]  # a SensorRow on the wire (store/rows.py: to_wire)


class ResyncEvent(TypedDict):
    """Handed locally to a subscriber whose events may have been lost: the broadcast backend
    reconnected, or the subscriber's queue overflowed and lost its oldest events."""

    kind: Literal["resync"]
    # Events published from this instant on may be missing (RFC 3339).
    since: NotRequired[str]


Event = ReadingsEvent | AlertEvent | SensorStatusEvent | ResyncEvent


def reading_event(r: StoredReading) -> ReadingEvent:
    return ReadingEvent(
        sensorId=str(r.sensor_id),
        organizationId=str(r.organization_id),
        buildingId=str(r.building_id),
        unitId=str(r.unit_id) if r.unit_id else None,
        deviceId=r.device_id,
        sensorType=r.sensor_type,
        readingKind=r.reading_kind,
        timestamp=r.ts.isoformat(),
        value=clean(r.value, r.resolution),
        rawValue=r.raw_value,
        unitOfMeasure=r.unit_of_measure,
        batteryLevel=r.battery_level,
        signalStrength=r.signal_strength,
        quality=r.quality,
        isAnomaly=r.is_anomaly,
        anomalyReason=r.anomaly_reason,
        receivedAt=r.received_at.isoformat(),
    )


def alert_event(row: AlertRow) -> AlertEvent:
    return AlertEvent(kind="alert", alert=to_wire(row))


def sensor_event(row: SensorRow) -> SensorStatusEvent:
    return SensorStatusEvent(kind="sensor", sensor=to_wire(row))


def alert_of(event: AlertEvent) -> AlertRow:
    """The alert an event carries (ValueError if it carries none)."""
    return _row_of(AlertRow, event["alert"])


def sensor_of(event: SensorStatusEvent) -> SensorRow:
    """The sensor an event carries (ValueError if it carries none)."""
    return _row_of(SensorRow, event["sensor"])


def _row_of(cls: type[R], payload: Any) -> R:
    try:
        return from_wire(cls, payload)
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        raise ValueError(f"not a {cls.__name__} on the wire: {error!r}") from None


def encode_event(event: Event) -> str:
    return json.dumps(event, separators=(",", ":"), default=str)


# A resync's ``since`` is set this much before the last instant up to which events are known to
# have arrived: a change committed in a transaction that began a little earlier, or stamped by
# a clock a little behind ours, is still caught up.
RESYNC_MARGIN = timedelta(seconds=30)


def resync_message(received_until: float) -> str:
    """A resync for events that may be missing after ``received_until`` (a wall-clock time)."""
    since = datetime.fromtimestamp(received_until, UTC) - RESYNC_MARGIN
    return encode_event(ResyncEvent(kind="resync", since=since.isoformat()))


def resync_since(message: str) -> float | None:
    """The ``received_until`` a resync message was made from; None for any other message."""
    if not message.startswith('{"kind":"resync"'):  # cheap: drops may come by thousands
        return None
    try:
        event = decode_event(message)
    except ValueError:
        return None
    start = resync_start(event)
    return None if start is None else (start + RESYNC_MARGIN).timestamp()


def resync_start(event: Event) -> datetime | None:
    """Since when a resync event says events may be missing; None if it does not say (or says
    it badly: whoever can write to Redis can send anything)."""
    try:
        return datetime.fromisoformat(event["since"])  # type: ignore[typeddict-item]
    except (KeyError, TypeError, ValueError):
        return None


def decode_event(message: str) -> Event:
    event = json.loads(message)
    if not isinstance(event, dict) or event.get("kind") not in (
        "readings",
        "alert",
        "sensor",
        "resync",
    ):
        raise ValueError("not a koprogo event")
    return event  # type: ignore[return-value]


def decoded(event: Message) -> Event:
    """The event a broadcast message carries, decoded once however many subscribers read it.
    ValueError when the message is not one of ours."""
    if event.decoded is None:
        event.decoded = decode_event(event.message)
    cached: Event = event.decoded
    return cached


def split_readings_by_building(event: Message) -> dict[str, Message] | None:
    """An organization's readings batch as one event per building (see realtime/hub.py); None
    for anything else, which concerns every building (a resync)."""
    try:
        batch = decoded(event)
    except ValueError:
        log.warning("ignoring a malformed event on %s", event.channel)
        return {}
    if batch["kind"] != "readings":
        return None
    by_building: dict[str, list[ReadingEvent]] = {}
    for reading in batch["readings"]:
        by_building.setdefault(reading["buildingId"], []).append(reading)
    parts = {}
    for building, readings in by_building.items():
        parts[building] = Message(
            event.channel, "", decoded=ReadingsEvent(kind="readings", readings=readings)
        )
    return parts
