"""Readings as ingestion hands them on once stored (to alerts and live events)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

__all__ = ["StoredReading"]


@dataclass(slots=True)
class StoredReading:
    """A reading newly committed to the database (never a redelivered duplicate)."""

    sensor_id: uuid.UUID
    organization_id: uuid.UUID
    building_id: uuid.UUID
    unit_id: uuid.UUID | None
    device_id: str
    sensor_type: str
    reading_kind: str
    ts: datetime
    value: float
    raw_value: float
    unit_of_measure: str
    battery_level: int | None
    signal_strength: int | None
    quality: str
    is_anomaly: bool
    anomaly_reason: str | None
    received_at: datetime
    resolution: int = 3  # decimal places its value is shown at
    evaluation_id: int | None = None  # its batch's pending_evaluations row (the engine clears it)
