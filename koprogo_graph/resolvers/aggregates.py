"""Series, building consumption and ISTA cross-validation (SPEC §7)."""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types.nodes import SelectedField

from ..domain.alerts import ManualReadingSource
from ..domain.consumption import MAX_BUCKETS, Bucket, BucketWidth, FillMode, bucket_starts
from ..domain.consumption import fill as fill_gaps
from ..domain.sensors import (
    MAX_READING_VALUE,
    ReadingKind,
    SensorType,
    clean,
    default_reading_kind,
    resolution_of,
)
from ..errors import BadUserInput, NotFound
from ..schema.aggregates import (
    ChartSeries,
    ConsumptionBucket,
    CrossValidation,
    ManualReading,
    ManualReadingInput,
    ReadingBucket,
    SensorConsumption,
)
from ..schema.context import Context
from ..store import manual_readings as manual_store
from ..store import sensors as sensors_store
from ..store import series as series_store
from ..store.rows import ManualReadingRow, SensorRow
from ._args import parse_id, parse_timezone
from .readings import check_range

__all__ = ["AggregateMutation", "AggregateQuery"]

Info = strawberry.Info[Context, None]
TOLERANCE_PERCENT = 5.0
ToArg = Annotated[datetime, strawberry.argument(description="End of the period (excluded).")]
BucketArg = Annotated[
    BucketWidth, strawberry.argument(description="Bucket width (at most 10,000 buckets).")
]
TimezoneArg = Annotated[
    str, strawberry.argument(description="IANA time zone of local days, weeks and months.")
]
SensorArg = Annotated[strawberry.ID, strawberry.argument(description="The sensor's id.")]
FillArg = Annotated[FillMode, strawberry.argument(description="What empty buckets show.")]
FromArg = Annotated[
    datetime, strawberry.argument(name="from", description="Start of the period (included).")
]


def _check_request(start: datetime, end: datetime, width: BucketWidth) -> None:
    check_range(start, end)
    if (end - start) / width.nominal > MAX_BUCKETS:
        raise BadUserInput(
            "bucket", f"more than {MAX_BUCKETS} buckets: widen the bucket or shorten the range"
        )


def _reading_bucket(b: Bucket, decimals: int) -> ReadingBucket:
    """A bucket as shown: summed, then rounded at the sensor's resolution."""
    return ReadingBucket(
        bucket_start=b.start,
        avg=clean(b.avg, decimals),
        min=clean(b.min, decimals),
        max=clean(b.max, decimals),
        count=b.count,
        sum=clean(b.sum, decimals),
        consumption=clean(b.consumption, decimals),
    )


def _require_meter(sensor: Any) -> None:
    if sensor.reading_kind != ReadingKind.CUMULATIVE.value:
        raise BadUserInput("sensorId", "is a gauge: it has no index to read nor consumption")


def _decimals(sensor: Any) -> int:
    return resolution_of(sensor.unit_of_measure, sensor.resolution)


def _manual(row: ManualReadingRow) -> ManualReading:
    return ManualReading(
        id=strawberry.ID(str(row.id)),
        sensor_id=strawberry.ID(str(row.sensor_id)),
        read_at=row.read_at,
        value=row.value,
        source=ManualReadingSource.of(row.source),
        note=row.note,
    )


async def _sensor_buckets(
    info: Info,
    sensor_id: strawberry.ID,
    from_: datetime,
    to: datetime,
    bucket: BucketWidth,
    timezone: str,
    fill: FillMode,
) -> tuple[SensorRow, list[Bucket]] | None:
    """A sensor of the viewer's organization and its buckets, in order (gaps filled as asked);
    None for an unknown or foreign sensor."""
    org = info.context.viewer.org()
    sid = parse_id(sensor_id, "sensorId")
    tz = parse_timezone(timezone)
    _check_request(from_, to, bucket)
    async with info.context.tenant(org) as con:
        sensor = await sensors_store.get(con, org, sid)
        if sensor is None:
            return None
        buckets = (await series_store.series(con, [sid], from_, to, bucket, tz)).get(sid, {})
    ordered = [buckets[k] for k in sorted(buckets)]
    if fill is not FillMode.NONE:
        ordered = fill_gaps(ordered, bucket_starts(from_, to, bucket, tz), fill)
    return sensor, ordered


@strawberry.type
class AggregateQuery:
    @strawberry.field(description="A sensor's readings per time bucket (local days in `timezone`).")
    async def reading_series(
        self,
        info: Info,
        sensor_id: SensorArg,
        from_: FromArg,
        to: ToArg,
        bucket: BucketArg,
        timezone: TimezoneArg = "Europe/Brussels",
        fill: FillArg = FillMode.NONE,
    ) -> list[ReadingBucket]:
        found = await _sensor_buckets(info, sensor_id, from_, to, bucket, timezone, fill)
        if found is None:
            return []
        sensor, ordered = found
        decimals = _decimals(sensor)
        return [_reading_bucket(b, decimals) for b in ordered]

    @strawberry.field(
        description="The buckets of readingSeries in columns, for charts: the same numbers, "
        "at the cost of their SQL (no object per bucket)."
    )
    async def reading_series_chart(
        self,
        info: Info,
        sensor_id: SensorArg,
        from_: FromArg,
        to: ToArg,
        bucket: BucketArg,
        timezone: TimezoneArg = "Europe/Brussels",
        fill: FillArg = FillMode.NONE,
    ) -> ChartSeries | None:
        found = await _sensor_buckets(info, sensor_id, from_, to, bucket, timezone, fill)
        if found is None:
            return None
        sensor, ordered = found
        decimals = _decimals(sensor)
        return ChartSeries(
            unit_of_measure=sensor.unit_of_measure,
            columns=JSON(
                {
                    "time": [int(b.start.timestamp()) for b in ordered],
                    "avg": [clean(b.avg, decimals) for b in ordered],
                    "min": [clean(b.min, decimals) for b in ordered],
                    "max": [clean(b.max, decimals) for b in ordered],
                    "count": [b.count for b in ordered],
                    "sum": [clean(b.sum, decimals) for b in ordered],
                    "consumption": [clean(b.consumption, decimals) for b in ordered],
                }
            ),
        )

    @strawberry.field(description="Consumption of a building's sensors of one type, per bucket.")
    async def building_consumption(
        self,
        info: Info,
        building_id: Annotated[
            strawberry.ID, strawberry.argument(description="The building's id.")
        ],
        sensor_type: Annotated[
            SensorType, strawberry.argument(description="A meter type (not a gauge).")
        ],
        from_: FromArg,
        to: ToArg,
        bucket: BucketArg,
        timezone: TimezoneArg = "Europe/Brussels",
    ) -> list[ConsumptionBucket]:
        org = info.context.viewer.org()
        building = parse_id(building_id, "buildingId")
        if default_reading_kind(sensor_type) is not ReadingKind.CUMULATIVE:
            raise BadUserInput(
                "sensorType", f"{sensor_type.value} sensors are gauges: they have no consumption"
            )
        tz = parse_timezone(timezone)
        _check_request(from_, to, bucket)
        breakdown = any(
            isinstance(f, SelectedField) and f.name == "bySensor"
            for f in info.selected_fields[0].selections
        )
        # Building totals are visible to every role; an owner's breakdown lists their meters.
        scope = info.context.tenant(org) if breakdown else info.context.db.tenant(org)
        async with scope as con:
            meters = await sensors_store.meters_in_building(con, org, building, sensor_type.value)
            ids = [m.id for m in meters]
            decimals = max((_decimals(m) for m in meters), default=3)
            if not breakdown:  # building rollups: one row per hour, not one per sensor and hour
                totals = await series_store.building_series(
                    con, org, building, sensor_type.value, ids, from_, to, bucket, tz
                )
                return [
                    ConsumptionBucket(
                        bucket_start=b.start,
                        consumption=clean(b.consumption or 0.0, decimals),
                        sensor_count=len(ids),
                        by_sensor=[],
                    )
                    for _, b in sorted(totals.items())
                ]
            per_sensor = await series_store.series(con, ids, from_, to, bucket, tz)
        parts_by_bucket: dict[datetime, list[SensorConsumption]] = {}
        for sid, buckets in per_sensor.items():
            for start, b in buckets.items():
                parts_by_bucket.setdefault(start, []).append(
                    SensorConsumption(
                        sensor_id=strawberry.ID(str(sid)),
                        consumption=clean(b.consumption, decimals),
                    )
                )
        return [
            ConsumptionBucket(
                bucket_start=start,
                consumption=clean(
                    math.fsum(
                        per_sensor[uuid.UUID(c.sensor_id)][start].consumption or 0.0 for c in parts
                    ),
                    decimals,
                ),
                sensor_count=len(parts),
                by_sensor=sorted(parts, key=lambda c: c.sensor_id),
            )
            for start, parts in sorted(parts_by_bucket.items())
        ]

    @strawberry.field(
        description="IoT consumption between the first and last manual readings in [from, to)."
    )
    async def cross_validation(
        self,
        info: Info,
        sensor_id: Annotated[strawberry.ID, strawberry.argument(description="The meter's id.")],
        from_: FromArg,
        to: ToArg,
    ) -> CrossValidation:
        org = info.context.viewer.org()
        sid = parse_id(sensor_id, "sensorId")
        check_range(from_, to)
        empty = CrossValidation(
            sensor_id=sensor_id,
            first_manual=None,
            last_manual=None,
            manual_consumption=None,
            iot_consumption=None,
            deviation_percent=None,
            within_tolerance=None,
            tolerance_percent=TOLERANCE_PERCENT,
        )
        async with info.context.tenant(org) as con:
            sensor = await sensors_store.get(con, org, sid)
            if sensor is None:
                return empty
            _require_meter(sensor)
            manual = await manual_store.in_range(con, org, sid, from_, to)
            if len(manual) < 2:
                return empty
            first, last = manual[0], manual[-1]
            iot = await manual_store.iot_consumption_between(
                con, org, sid, first.read_at, last.read_at
            )
        decimals = _decimals(sensor)
        manual_delta = clean(last.value - first.value, decimals)
        iot = clean(iot, decimals)
        deviation = None
        if iot is not None and manual_delta:
            deviation = clean((iot - manual_delta) / manual_delta * 100, 2)
        return CrossValidation(
            sensor_id=sensor_id,
            first_manual=_manual(first),
            last_manual=_manual(last),
            manual_consumption=manual_delta,
            iot_consumption=iot,
            deviation_percent=deviation,
            within_tolerance=None if deviation is None else abs(deviation) <= TOLERANCE_PERCENT,
            tolerance_percent=TOLERANCE_PERCENT,
        )


@strawberry.type
class AggregateMutation:
    @strawberry.mutation(
        description="Record a meter index read by hand (ISTA), syndic or superadmin."
    )
    async def record_manual_reading(
        self,
        info: Info,
        input: Annotated[ManualReadingInput, strawberry.argument(description="The reading.")],
    ) -> ManualReading:
        viewer = info.context.viewer
        org = viewer.require_manager()
        sid = parse_id(input.sensor_id, "sensorId")
        if not math.isfinite(input.value) or not 0 <= input.value <= MAX_READING_VALUE:
            raise BadUserInput("value", f"must be an index between 0 and {MAX_READING_VALUE:g}")
        if input.note is not None and len(input.note) > 2000:
            raise BadUserInput("note", "must be at most 2000 characters")
        if input.read_at.tzinfo is None:
            raise BadUserInput("readAt", "needs a time zone offset")
        async with info.context.tenant(org) as con:
            sensor = await sensors_store.get(con, org, sid)
            if sensor is None:
                raise NotFound("Sensor")
            _require_meter(sensor)
            row = await manual_store.record(
                con,
                org,
                sid,
                input.read_at,
                input.value,
                input.source.value,
                input.note,
                viewer.user_id,
            )
        return _manual(row)
