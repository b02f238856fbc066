"""GraphQL types for series, consumption and ISTA cross-validation."""

from __future__ import annotations

from datetime import datetime

import strawberry

__all__ = [
    "ConsumptionBucket",
    "CrossValidation",
    "ManualReading",
    "ManualReadingInput",
    "ReadingBucket",
    "SensorConsumption",
]


@strawberry.type
class ReadingBucket:
    bucket_start: datetime
    avg: float | None
    min: float | None
    max: float | None
    count: int
    sum: float | None
    consumption: float | None


@strawberry.type
class SensorConsumption:
    sensor_id: strawberry.ID
    consumption: float | None


@strawberry.type
class ConsumptionBucket:
    bucket_start: datetime
    consumption: float
    sensor_count: int
    by_sensor: list[SensorConsumption]


@strawberry.type
class ManualReading:
    id: strawberry.ID
    sensor_id: strawberry.ID
    read_at: datetime
    value: float
    source: str
    note: str | None


@strawberry.input
class ManualReadingInput:
    sensor_id: strawberry.ID
    read_at: datetime
    value: float
    source: str = "ISTA"
    note: str | None = None


@strawberry.type(description="IoT consumption between two manual readings against their delta.")
class CrossValidation:
    sensor_id: strawberry.ID
    first_manual: ManualReading | None
    last_manual: ManualReading | None
    manual_consumption: float | None
    iot_consumption: float | None
    deviation_percent: float | None
    within_tolerance: bool | None
    tolerance_percent: float
