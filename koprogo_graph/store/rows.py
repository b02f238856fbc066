"""Typed rows: what the store hands to the rest of the service, instead of database records.

A row is a dataclass whose fields are its table's columns, read-only by convention: not
frozen, because a frozen dataclass costs four times as much to build (one object.__setattr__
per field), and rows are built for every sensor of every ingested batch. The same declaration gives the
one live-event wire format (:func:`to_wire`, :func:`from_wire`): the fields in camelCase, ids and
times as strings, decoded by each field's declared type, never guessed from its name.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, TypeVar, get_args, get_type_hints

__all__ = [
    "AlertRow",
    "DeliveryRow",
    "ManualReadingRow",
    "NotificationSettingsRow",
    "RejectionRecord",
    "SensorRow",
    "StoredReadingRow",
    "camel",
    "from_record",
    "from_wire",
    "to_wire",
]

R = TypeVar("R")


@dataclass(slots=True)
class SensorRow:
    """A row of ``sensors`` (SPEC §5)."""

    id: uuid.UUID
    organization_id: uuid.UUID
    building_id: uuid.UUID
    unit_id: uuid.UUID | None
    device_id: str
    type: str
    reading_kind: str
    manufacturer: str
    model: str
    firmware_version: str | None
    location: str
    floor: int | None
    unit_of_measure: str
    sampling_interval: int
    calibration_factor: float
    alert_rules: dict[str, Any]
    status: str
    last_reading_at: datetime | None
    last_value: float | None
    last_battery_level: int | None
    installed_at: datetime
    created_at: datetime
    updated_at: datetime
    status_changed_at: datetime | None
    connectivity: str
    status_auto: bool
    status_set_at: datetime | None
    resolution: int | None
    integration: str
    external_id: str | None
    metric: str | None
    unit_scale: float


@dataclass(slots=True)
class AlertRow:
    """A row of ``alerts`` (SPEC §5)."""

    id: uuid.UUID
    organization_id: uuid.UUID
    building_id: uuid.UUID
    sensor_id: uuid.UUID
    type: str
    severity: str
    status: str
    message: str
    triggered_at: datetime
    last_triggered_at: datetime
    occurrences: int
    reading_value: float | None
    threshold_value: float | None
    email_sent: bool
    sms_sent: bool
    push_sent: bool
    acknowledged_by: uuid.UUID | None
    acknowledged_at: datetime | None
    resolved_by: uuid.UUID | None
    resolved_at: datetime | None
    resolution_note: str | None
    created_at: datetime
    updated_at: datetime
    last_notified_at: datetime | None


@dataclass(slots=True)
class DeliveryRow:
    """A row of ``notification_outbox``: one delivery of an alert on one channel."""

    id: int
    organization_id: uuid.UUID
    alert_id: uuid.UUID
    channel: str
    kind: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    sent_at: datetime | None
    created_at: datetime


@dataclass(slots=True)
class StoredReadingRow:
    """A row of ``readings``, as pages of readings show it."""

    sensor_id: uuid.UUID
    ts: datetime
    organization_id: uuid.UUID
    building_id: uuid.UUID
    unit_id: uuid.UUID | None
    value: float
    raw_value: float
    battery_level: int | None
    signal_strength: int | None
    quality: str
    is_anomaly: bool
    anomaly_reason: str | None
    received_at: datetime


@dataclass(slots=True)
class RejectionRecord:
    """A row of ``rejected_messages``."""

    id: int
    organization_id: uuid.UUID | None
    topic: str
    reason: str
    detail: str | None
    payload_excerpt: str | None
    received_at: datetime


@dataclass(slots=True)
class ManualReadingRow:
    """A row of ``manual_readings``."""

    id: uuid.UUID
    organization_id: uuid.UUID
    sensor_id: uuid.UUID
    read_at: datetime
    value: float
    source: str
    note: str | None
    recorded_by: uuid.UUID | None
    created_at: datetime


@dataclass(slots=True)
class NotificationSettingsRow:
    """A row of ``notification_settings``."""

    organization_id: uuid.UUID
    emails: list[str]
    webhook_url: str | None
    webhook_secret: str | None
    min_severity: str
    updated_at: datetime


def from_record(cls: type[R], record: Mapping[str, Any]) -> R:
    """``cls`` from a database record holding (at least) its columns."""
    # Positional, by name: rows are built for every sensor of every ingested batch.
    return cls(*map(record.__getitem__, _names(cls)))


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def to_wire(row: Any) -> dict[str, Any]:
    """A row as a live event's JSON object: camelCase keys, ids and times as strings."""
    return {
        key: None if (value := getattr(row, name)) is None else encode(value)
        for name, key, encode, _ in _codecs(type(row))
    }


def from_wire(cls: type[R], payload: Mapping[str, Any]) -> R:
    """The row a live event's JSON object carries (ValueError/KeyError/TypeError if it is not
    one: whoever can write to the broadcast backend can send anything)."""
    return cls(
        **{
            name: None if (value := payload[key]) is None else decode(value)
            for name, key, _, decode in _codecs(cls)
        }
    )


def _identity(value: Any) -> Any:
    return value


_CODECS: dict[Any, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    uuid.UUID: (str, uuid.UUID),
    datetime: (datetime.isoformat, datetime.fromisoformat),
}


_names_by_class: dict[type[Any], tuple[str, ...]] = {}


def _names(cls: type[Any]) -> tuple[str, ...]:
    names = _names_by_class.get(cls)
    if names is None:
        names = _names_by_class[cls] = tuple(f.name for f in fields(cls))
    return names


Codec = tuple[str, str, Callable[[Any], Any], Callable[[Any], Any]]
_codecs_by_class: dict[type[Any], tuple[Codec, ...]] = {}


def _codecs(cls: type[Any]) -> tuple[Codec, ...]:
    """Per field of a row class: (name, wire key, encode, decode), by the field's type."""
    found = _codecs_by_class.get(cls)
    if found is None:
        hints = get_type_hints(cls)
        codecs = []
        for f in fields(cls):
            declared = [
                t for t in get_args(hints[f.name]) or (hints[f.name],) if t is not type(None)
            ]
            encode, decode = next(
                (_CODECS[t] for t in declared if t in _CODECS), (_identity, _identity)
            )
            codecs.append((f.name, camel(f.name), encode, decode))
        found = _codecs_by_class[cls] = tuple(codecs)
    return found
