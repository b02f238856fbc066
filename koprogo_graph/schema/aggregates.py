"""GraphQL types for series, consumption and ISTA cross-validation."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from ..domain.alerts import ManualReadingSource

__all__ = [
    "ChartSeries",
    "ConsumptionBucket",
    "CrossValidation",
    "ManualReading",
    "ManualReadingInput",
    "ReadingBucket",
    "SensorConsumption",
]


@strawberry.type(
    description="A sensor's readings in one time bucket; numbers at the sensor's resolution."
)
class ReadingBucket:
    bucket_start: datetime = strawberry.field(description="Start of the bucket (UTC instant).")
    avg: float | None = strawberry.field(description="Mean value.")
    min: float | None = strawberry.field(description="Lowest value.")
    max: float | None = strawberry.field(description="Highest value.")
    count: int = strawberry.field(description="Readings in the bucket.")
    sum: float | None = strawberry.field(description="Sum of the values.")
    consumption: float | None = strawberry.field(
        description="What a meter consumed in the bucket (the consumption rule); null for a gauge."
    )


@strawberry.type(
    description="A series in columns, for charts (uPlot's data shape): one list per quantity, "
    "the same length, bucket by bucket; numbers at the sensor's resolution, null where a bucket "
    "has none. One value in the answer instead of an object per bucket: a year of days costs "
    "what its SQL costs."
)
class ChartSeries:
    unit_of_measure: str = strawberry.field(description="Unit of the values (not of count).")
    columns: JSON = strawberry.field(
        description="{time: [bucket starts, Unix seconds], avg, min, max, sum, consumption: "
        "[numbers or null], count: [integers]}."
    )


@strawberry.type(description="One meter's share of a bucket.")
class SensorConsumption:
    sensor_id: strawberry.ID = strawberry.field(description="The meter.")
    consumption: float | None = strawberry.field(description="What it consumed.")


@strawberry.type(description="What a building's meters of one type consumed in one time bucket.")
class ConsumptionBucket:
    bucket_start: datetime = strawberry.field(description="Start of the bucket (UTC instant).")
    consumption: float = strawberry.field(description="Total, at the meters' resolution.")
    sensor_count: int = strawberry.field(description="Meters counted.")
    by_sensor: list[SensorConsumption] = strawberry.field(
        description="Per meter (computed only when selected)."
    )


@strawberry.type(description="A meter index read by hand (e.g. the yearly ISTA reading).")
class ManualReading:
    id: strawberry.ID = strawberry.field(description="Identifier")
    sensor_id: strawberry.ID = strawberry.field(description="The meter.")
    read_at: datetime = strawberry.field(description="When it was read.")
    value: float = strawberry.field(description="The index read.")
    source: ManualReadingSource = strawberry.field(description="Who read it.")
    note: str | None = strawberry.field(description="A note.")


@strawberry.input(description="A meter index read by hand.")
class ManualReadingInput:
    sensor_id: strawberry.ID = strawberry.field(description="The meter.")
    read_at: datetime = strawberry.field(description="When it was read (with a time zone offset).")
    value: float = strawberry.field(description="The index read (0 to 10^12).")
    source: ManualReadingSource = strawberry.field(
        default=ManualReadingSource.ISTA, description="Who read it."
    )
    note: str | None = strawberry.field(
        default=None, description="A note (at most 2,000 characters)."
    )


@strawberry.type(description="IoT consumption between two manual readings against their delta.")
class CrossValidation:
    sensor_id: strawberry.ID = strawberry.field(description="The meter.")
    first_manual: ManualReading | None = strawberry.field(
        description="The first manual reading in the period."
    )
    last_manual: ManualReading | None = strawberry.field(
        description="The last manual reading in the period."
    )
    manual_consumption: float | None = strawberry.field(
        description="Consumption between the two manual readings."
    )
    iot_consumption: float | None = strawberry.field(
        description="Consumption the meter's own readings give over the same span."
    )
    deviation_percent: float | None = strawberry.field(
        description="How far the IoT consumption is from the manual one, in percent."
    )
    within_tolerance: bool | None = strawberry.field(
        description="Whether the deviation is within the tolerance."
    )
    tolerance_percent: float = strawberry.field(description="The tolerance, in percent.")
