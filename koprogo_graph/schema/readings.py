"""GraphQL types for readings and rejected messages."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

if TYPE_CHECKING:
    from .sensors import Sensor

from ..domain.quality import Quality
from ..domain.sensors import clean
from .pagination import PageInfo

__all__ = ["Reading", "ReadingConnection", "ReadingEdge", "RejectedMessage"]


@strawberry.type
class Reading:
    sensor_id: strawberry.ID
    timestamp: datetime
    value: float
    raw_value: float
    unit_of_measure: str
    battery_level: int | None
    signal_strength: int | None
    quality: Quality
    is_anomaly: bool
    anomaly_reason: str | None
    received_at: datetime

    @strawberry.field(description="The sensor (batched per request).")
    async def sensor(
        self, info: strawberry.Info
    ) -> Annotated[Sensor, strawberry.lazy(".sensors")] | None:
        from .sensors import sensor_by_id

        return await sensor_by_id(info, self.sensor_id)

    @classmethod
    def from_row(cls, row: Any, unit_of_measure: str, decimals: int) -> Reading:
        return cls(
            sensor_id=strawberry.ID(str(row["sensor_id"])),
            timestamp=row["ts"],
            value=clean(row["value"], decimals),
            raw_value=row["raw_value"],
            unit_of_measure=unit_of_measure,
            battery_level=row["battery_level"],
            signal_strength=row["signal_strength"],
            quality=Quality(row["quality"]),
            is_anomaly=row["is_anomaly"],
            anomaly_reason=row["anomaly_reason"],
            received_at=row["received_at"],
        )

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> Reading:
        """From a live ReadingEvent, without a database round trip."""
        return cls(
            sensor_id=strawberry.ID(event["sensorId"]),
            timestamp=datetime.fromisoformat(event["timestamp"]),
            value=event["value"],
            raw_value=event["rawValue"],
            unit_of_measure=event["unitOfMeasure"],
            battery_level=event["batteryLevel"],
            signal_strength=event["signalStrength"],
            quality=Quality(event["quality"]),
            is_anomaly=event["isAnomaly"],
            anomaly_reason=event["anomalyReason"],
            received_at=datetime.fromisoformat(event["receivedAt"]),
        )


@strawberry.type
class ReadingEdge:
    cursor: str
    node: Reading


@strawberry.type
class ReadingConnection:
    total_count: int
    edges: list[ReadingEdge]
    page_info: PageInfo


@strawberry.type(description="An MQTT message or reading the ingestor refused.")
class RejectedMessage:
    reason: str
    topic: str
    detail: str | None
    payload_excerpt: str | None
    received_at: datetime
