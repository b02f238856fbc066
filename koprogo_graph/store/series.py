"""Time-bucketed aggregates of readings: from hourly rollups where buckets are made of whole
hours, from raw readings at the edges and for sub-hour buckets. Both follow the exact
consumption rule, so the combination equals a computation from raw readings alone."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from ..domain.consumption import Bucket, BucketWidth, bucket_starts, merge, whole_hour_offsets

__all__ = ["building_series", "series"]

# The consumption rule is koprogo_consumption (migration 0010), against the baseline before each
# reading: coalesce(glitch_baseline, value) of the reading before it. Gauges have none.
_RAW = """
WITH wanted AS (
    SELECT id AS sensor_id, reading_kind = 'CUMULATIVE' AS meter FROM sensors
    WHERE id = ANY($1::uuid[])
),
pts AS (
    SELECT w.sensor_id, w.meter, p.ts, p.value, p.baseline, p.in_range
    FROM wanted w
    CROSS JOIN LATERAL (
        (SELECT ts, value, coalesce(glitch_baseline, value) AS baseline, false AS in_range
         FROM readings WHERE sensor_id = w.sensor_id AND ts < $2 ORDER BY ts DESC LIMIT 1)
        UNION ALL
        (SELECT ts, value, coalesce(glitch_baseline, value), true FROM readings
         WHERE sensor_id = w.sensor_id AND ts >= $2 AND ts < $3)
    ) p
),
pairs AS (
    SELECT sensor_id, meter, ts, value, in_range,
           lag(baseline) OVER (PARTITION BY sensor_id ORDER BY ts) AS prev
    FROM pts
)
SELECT sensor_id, time_bucket($4::text::interval, ts, $5) AS bucket, count(*) AS count, sum(value) AS sum,
       min(value) AS min, max(value) AS max,
       CASE WHEN bool_and(meter) THEN sum(koprogo_consumption(prev, value)) END AS consumption
FROM pairs WHERE in_range
GROUP BY sensor_id, bucket
"""

# Rollup rows are bucketed with width_bucket() over the bucket starts, computed once per request
# by the same local-calendar rules as time_bucket (domain.consumption.bucket_starts): a binary
# search per row instead of a time_bucket() call per row (a year of a building is ~900,000 rows).
_ROLLUP = """
SELECT sensor_id, width_bucket(extract(epoch FROM hour)::float8, $4::float8[]) AS bucket_index,
       sum(count)::int AS count, sum(sum) AS sum, min(min) AS min, max(max) AS max,
       sum(consumption) AS consumption
FROM readings_hourly
WHERE sensor_id = ANY($1::uuid[]) AND hour >= $2 AND hour < $3
GROUP BY sensor_id, bucket_index
"""


def _floor_hour(ts: datetime) -> datetime:
    return ts.replace(minute=0, second=0, microsecond=0)


def _ceil_hour(ts: datetime) -> datetime:
    floor = _floor_hour(ts)
    return floor if floor == ts else floor + timedelta(hours=1)


_BUILDING_ROLLUP = """
SELECT width_bucket(extract(epoch FROM hour)::float8, $4::float8[]) AS bucket_index,
       sum(count)::int AS count, sum(sum) AS sum, min(min) AS min, max(max) AS max,
       sum(consumption) AS consumption
FROM readings_hourly_building
WHERE organization_id = $6 AND building_id = $1 AND sensor_type = $5 AND hour >= $2 AND hour < $3
GROUP BY bucket_index
"""


def _plan(
    start: datetime, end: datetime, width: BucketWidth, tz: ZoneInfo
) -> list[tuple[datetime, datetime, bool]]:
    """[(lo, hi, from_rollups)]: whole hours from rollups when buckets are made of whole hours."""
    hourly = width in (BucketWidth.HOUR, BucketWidth.DAY, BucketWidth.WEEK, BucketWidth.MONTH)
    middle_start, middle_end = _ceil_hour(start), _floor_hour(end)
    if hourly and middle_start < middle_end and whole_hour_offsets(tz, start, end):
        parts = [
            (start, middle_start, False),
            (middle_start, middle_end, True),
            (middle_end, end, False),
        ]
    else:
        parts = [(start, end, False)]
    return [(lo, hi, rollup) for lo, hi, rollup in parts if lo < hi]


def _bucket(start: datetime, r: asyncpg.Record) -> Bucket:
    count, total = r["count"], r["sum"]
    return Bucket(
        start=start,
        count=count,
        sum=total,
        min=r["min"],
        max=r["max"],
        consumption=r["consumption"],
        avg=total / count if count and total is not None else None,
    )


def _add(buckets: dict[datetime, Bucket], part: Bucket) -> None:
    buckets[part.start] = merge(buckets[part.start], part) if part.start in buckets else part


async def series(
    con: asyncpg.Connection,
    sensor_ids: Sequence[uuid.UUID],
    start: datetime,
    end: datetime,
    width: BucketWidth,
    tz: ZoneInfo,
) -> dict[uuid.UUID, dict[datetime, Bucket]]:
    """Per sensor, per bucket start (UTC): count, sum, min, max, avg and consumption over [start, end)."""
    out: dict[uuid.UUID, dict[datetime, Bucket]] = {}
    for lo, hi, from_rollups in _plan(start, end, width, tz):
        if from_rollups:
            starts = bucket_starts(lo, hi, width, tz)
            rows = await con.fetch(
                _ROLLUP, list(sensor_ids), lo, hi, [s.timestamp() for s in starts]
            )
            keyed = [(starts[r["bucket_index"] - 1], r) for r in rows]
        else:
            rows = await con.fetch(_RAW, list(sensor_ids), lo, hi, width.sql_interval, tz.key)
            keyed = [(r["bucket"], r) for r in rows]
        for bucket_start, r in keyed:
            _add(out.setdefault(r["sensor_id"], {}), _bucket(bucket_start, r))
    return out


async def building_series(
    con: asyncpg.Connection,
    org: uuid.UUID,
    building_id: uuid.UUID,
    sensor_type: str,
    sensor_ids: Sequence[uuid.UUID],
    start: datetime,
    end: datetime,
    width: BucketWidth,
    tz: ZoneInfo,
) -> dict[datetime, Bucket]:
    """Totals over a building's sensors of one type: building rollups, raw readings at the edges."""
    out: dict[datetime, Bucket] = {}
    for lo, hi, from_rollups in _plan(start, end, width, tz):
        if from_rollups:
            starts = bucket_starts(lo, hi, width, tz)
            rows = await con.fetch(
                _BUILDING_ROLLUP,
                building_id,
                lo,
                hi,
                [s.timestamp() for s in starts],
                sensor_type,
                org,
            )
            for r in rows:
                _add(out, _bucket(starts[r["bucket_index"] - 1], r))
        else:
            for r in await con.fetch(_RAW, list(sensor_ids), lo, hi, width.sql_interval, tz.key):
                _add(out, _bucket(r["bucket"], r))
    return out
