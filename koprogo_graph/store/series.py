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

__all__ = ["series"]

_RAW = """
WITH wanted AS (SELECT unnest($1::uuid[]) AS sensor_id),
pts AS (
    SELECT w.sensor_id, p.ts, p.value, p.in_range
    FROM wanted w
    CROSS JOIN LATERAL (
        (SELECT ts, value, false AS in_range FROM readings
         WHERE sensor_id = w.sensor_id AND ts < $2 ORDER BY ts DESC LIMIT 1)
        UNION ALL
        (SELECT ts, value, true FROM readings WHERE sensor_id = w.sensor_id AND ts >= $2 AND ts < $3)
    ) p
),
pairs AS (
    SELECT sensor_id, ts, value, in_range, lag(value) OVER (PARTITION BY sensor_id ORDER BY ts) AS prev
    FROM pts
)
SELECT sensor_id, time_bucket($4::text::interval, ts, $5) AS bucket, count(*) AS count, sum(value) AS sum,
       min(value) AS min, max(value) AS max,
       sum(CASE WHEN prev IS NULL THEN NULL WHEN value < prev THEN value ELSE value - prev END) AS consumption
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


async def series(
    con: asyncpg.Connection,
    sensor_ids: Sequence[uuid.UUID],
    start: datetime,
    end: datetime,
    width: BucketWidth,
    tz: ZoneInfo,
) -> dict[uuid.UUID, dict[datetime, Bucket]]:
    """Per sensor, per bucket start (UTC): count, sum, min, max, avg and consumption over [start, end)."""
    args = (list(sensor_ids), width.sql_interval, tz.key)
    parts: list[tuple[datetime, datetime, str]] = []
    hourly = width in (BucketWidth.HOUR, BucketWidth.DAY, BucketWidth.WEEK, BucketWidth.MONTH)
    middle_start, middle_end = _ceil_hour(start), _floor_hour(end)
    if hourly and middle_start < middle_end and whole_hour_offsets(tz, start, end):
        parts = [
            (start, middle_start, _RAW),
            (middle_start, middle_end, _ROLLUP),
            (middle_end, end, _RAW),
        ]
    else:
        parts = [(start, end, _RAW)]
    out: dict[uuid.UUID, dict[datetime, Bucket]] = {}
    for lo, hi, sql in parts:
        if lo >= hi:
            continue
        if sql is _ROLLUP:
            starts = bucket_starts(lo, hi, width, tz)
            rows = await con.fetch(sql, args[0], lo, hi, [s.timestamp() for s in starts])
            keyed = [(starts[r["bucket_index"] - 1], r) for r in rows]
        else:
            rows = await con.fetch(sql, args[0], lo, hi, args[1], args[2])
            keyed = [(r["bucket"], r) for r in rows]
        for bucket_start, r in keyed:
            part = Bucket(
                start=bucket_start,
                count=r["count"],
                sum=r["sum"],
                min=r["min"],
                max=r["max"],
                consumption=r["consumption"],
            ).with_avg()
            buckets = out.setdefault(r["sensor_id"], {})
            buckets[bucket_start] = (
                merge(buckets[bucket_start], part) if bucket_start in buckets else part
            )
    return out
