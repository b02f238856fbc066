"""What a billing statement reads (SPEC §12): each meter's facts around the period's boundaries
and the consumption of its readings inside, from rollups where the period is made of hours."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from ..domain.consumption import BucketWidth
from ..domain.statement import Around, MeterFacts
from .rows import SensorRow
from .series import series

__all__ = ["meter_facts"]

_UTC = ZoneInfo("UTC")

# Per meter, around one instant: the reading at it, a manual reading at it, the last reading
# before it (with its baseline) and the first after it. Four index lookups per meter.
_AROUND = """
SELECT s.id AS sensor_id, at.value AS at_value, at.baseline AS at_baseline, m.value AS manual,
       b.ts AS before_ts, b.baseline AS before_baseline, a.ts AS after_ts, a.value AS after_value
FROM unnest($2::uuid[]) AS s(id)
LEFT JOIN LATERAL (
    SELECT value, coalesce(glitch_baseline, value) AS baseline FROM readings
    WHERE organization_id = $1 AND sensor_id = s.id AND ts = $3) at ON true
LEFT JOIN LATERAL (
    SELECT value FROM manual_readings
    WHERE organization_id = $1 AND sensor_id = s.id AND read_at = $3) m ON true
LEFT JOIN LATERAL (
    SELECT ts, coalesce(glitch_baseline, value) AS baseline FROM readings
    WHERE organization_id = $1 AND sensor_id = s.id AND ts < $3 ORDER BY ts DESC LIMIT 1) b ON true
LEFT JOIN LATERAL (
    SELECT ts, value FROM readings
    WHERE organization_id = $1 AND sensor_id = s.id AND ts > $3 ORDER BY ts LIMIT 1) a ON true
"""


# The whole hours inside the period, from the hourly rollups: one sum per meter (a year of 300
# meters is 2.6 M rollup rows; nothing per row but the sum).
_WHOLE_HOURS = """
SELECT sensor_id, sum(consumption) AS consumption FROM readings_hourly
WHERE organization_id = $1 AND sensor_id = ANY($2::uuid[]) AND hour >= $3 AND hour < $4
GROUP BY sensor_id
"""


async def _stored_consumption(
    con: asyncpg.Connection,
    org: uuid.UUID,
    ids: Sequence[uuid.UUID],
    start: datetime,
    end: datetime,
) -> dict[uuid.UUID, float]:
    """Per meter, the stored rule's consumption of its readings in [start, end): whole hours
    from the rollups, the partial hours at both ends from raw readings (series does those)."""
    # Rollups are UTC hours: whole hours are whole in UTC (a +05:30 offset is not).
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    first_hour = start.replace(minute=0, second=0, microsecond=0)
    if first_hour < start:
        first_hour += timedelta(hours=1)
    last_hour = end.replace(minute=0, second=0, microsecond=0)
    parts: dict[uuid.UUID, list[float]] = {}
    if first_hour < last_hour:
        # The plan depends on how many meters and hours are asked for: PostgreSQL's generic plan
        # for this prepared statement (chosen after five runs) is three times slower.
        await con.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        for r in await con.fetch(_WHOLE_HOURS, org, list(ids), first_hour, last_hour):
            parts.setdefault(r["sensor_id"], []).append(r["consumption"] or 0.0)
        edges = [(start, first_hour), (last_hour, end)]
    else:
        edges = [(start, end)]
    for lo, hi in edges:
        if lo < hi:
            by_sensor = await series(con, ids, lo, hi, BucketWidth.FIVE_MINUTES, _UTC)
            for sensor_id, buckets in by_sensor.items():
                parts.setdefault(sensor_id, []).extend(
                    b.consumption or 0.0 for b in buckets.values()
                )
    return {sensor_id: math.fsum(values) for sensor_id, values in parts.items()}


def _around(r: asyncpg.Record) -> Around:
    return Around(
        at_value=r["at_value"],
        at_baseline=r["at_baseline"],
        manual=r["manual"],
        before=None if r["before_ts"] is None else (r["before_ts"], r["before_baseline"]),
        after=None if r["after_ts"] is None else (r["after_ts"], r["after_value"]),
    )


async def meter_facts(
    con: asyncpg.Connection,
    org: uuid.UUID,
    meters: Sequence[SensorRow],
    start: datetime,
    end: datetime,
) -> list[MeterFacts]:
    """Each meter's facts for [start, end), in the order given."""
    ids = [m.id for m in meters]
    if not ids:
        return []
    at_start = {r["sensor_id"]: _around(r) for r in await con.fetch(_AROUND, org, ids, start)}
    at_end = {r["sensor_id"]: _around(r) for r in await con.fetch(_AROUND, org, ids, end)}
    stored = await _stored_consumption(con, org, ids, start, end)
    return [
        MeterFacts(
            sensor_id=m.id,
            device_id=m.device_id,
            unit_id=m.unit_id,
            start=at_start[m.id],
            end=at_end[m.id],
            stored_consumption=stored.get(m.id, 0.0),
        )
        for m in meters
    ]
