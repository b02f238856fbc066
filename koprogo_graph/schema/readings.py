"""GraphQL types for readings and rejected messages."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

if TYPE_CHECKING:
    from ..realtime.events import ReadingEvent
    from ..store.rows import StoredReadingRow
    from .sensors import Sensor

from ..domain.payload import RejectReason
from ..domain.quality import Quality
from ..domain.sensors import clean

__all__ = ["Reading", "RejectedMessage"]


@strawberry.type(description="One value a sensor reported.")
class Reading:
    sensor_id: strawberry.ID = strawberry.field(description="The sensor.")
    timestamp: datetime = strawberry.field(
        description="When the device measured it (its own clock)."
    )
    value: float = strawberry.field(
        description="The value, calibrated, at the sensor's resolution."
    )
    raw_value: float = strawberry.field(description="The value as the device sent it.")
    unit_of_measure: str = strawberry.field(description="Unit of the value.")
    battery_level: int | None = strawberry.field(description="Battery level (%) reported with it.")
    signal_strength: int | None = strawberry.field(
        description="Radio signal (dBm) reported with it."
    )
    quality: Quality = strawberry.field(description="How far it can be trusted.")
    is_anomaly: bool = strawberry.field(
        description="Whether it was beyond the sensor's thresholds when stored."
    )
    anomaly_reason: str | None = strawberry.field(description="Why it was, if so.")
    received_at: datetime = strawberry.field(description="When the service stored it.")

    @strawberry.field(description="The sensor (batched per request).")
    async def sensor(
        self, info: strawberry.Info
    ) -> Annotated[Sensor, strawberry.lazy(".sensors")] | None:
        from .sensors import sensor_by_id

        return await sensor_by_id(info, self.sensor_id)

    @classmethod
    def from_row(cls, row: StoredReadingRow, unit_of_measure: str, decimals: int) -> Reading:
        return cls(
            sensor_id=strawberry.ID(str(row.sensor_id)),
            timestamp=row.ts,
            value=clean(row.value, decimals),
            raw_value=row.raw_value,
            unit_of_measure=unit_of_measure,
            battery_level=row.battery_level,
            signal_strength=row.signal_strength,
            quality=Quality(row.quality),
            is_anomaly=row.is_anomaly,
            anomaly_reason=row.anomaly_reason,
            received_at=row.received_at,
        )

    @classmethod
    def from_event(cls, event: ReadingEvent) -> Reading:
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


@strawberry.type(description="An MQTT message or reading the ingestor refused.")
class RejectedMessage:
    reason: RejectReason = strawberry.field(description="Why it was refused.")
    topic: str = strawberry.field(description="The MQTT topic it came on.")
    detail: str | None = strawberry.field(description="What exactly was wrong.")
    payload_excerpt: str | None = strawberry.field(
        description="The first 200 characters of the payload."
    )
    received_at: datetime = strawberry.field(description="When it arrived.")
