"""Meter indexes read by hand (ISTA), and the IoT consumption between two of them."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from .rows import ManualReadingRow, from_record

__all__ = ["in_range", "iot_consumption_between", "record"]


async def record(
    con: asyncpg.Connection,
    org: uuid.UUID,
    sensor_id: uuid.UUID,
    read_at: datetime,
    value: float,
    source: str,
    note: str | None,
    recorded_by: uuid.UUID,
) -> ManualReadingRow:
    """Store a manual reading; a second one at the same instant replaces the first."""
    record = await con.fetchrow(
        "INSERT INTO manual_readings (organization_id, sensor_id, read_at, value, source, note, recorded_by) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (sensor_id, read_at) DO UPDATE SET "
        "value = EXCLUDED.value, source = EXCLUDED.source, note = EXCLUDED.note RETURNING *",
        org,
        sensor_id,
        read_at,
        value,
        source,
        note,
        recorded_by,
    )
    return from_record(ManualReadingRow, record)


async def in_range(
    con: asyncpg.Connection, org: uuid.UUID, sensor_id: uuid.UUID, start: datetime, end: datetime
) -> list[ManualReadingRow]:
    records = await con.fetch(
        "SELECT * FROM manual_readings WHERE organization_id = $1 AND sensor_id = $2 "
        "AND read_at >= $3 AND read_at < $4 ORDER BY read_at",
        org,
        sensor_id,
        start,
        end,
    )
    return [from_record(ManualReadingRow, r) for r in records]


async def iot_consumption_between(
    con: asyncpg.Connection, org: uuid.UUID, sensor_id: uuid.UUID, first: datetime, last: datetime
) -> float | None:
    """Consumption over (first, last] by the exact rule, the last reading at or before ``first``
    being the baseline."""
    result: float | None = await con.fetchval(
        """WITH pts AS (
               (SELECT ts, value, coalesce(glitch_baseline, value) AS baseline FROM readings
                WHERE organization_id = $1 AND sensor_id = $2 AND ts <= $3
                ORDER BY ts DESC LIMIT 1)
               UNION ALL
               (SELECT ts, value, coalesce(glitch_baseline, value) FROM readings
                WHERE organization_id = $1 AND sensor_id = $2 AND ts > $3 AND ts <= $4))
           SELECT sum(koprogo_consumption(prev, value))
           FROM (SELECT value, lag(baseline) OVER (ORDER BY ts) AS prev FROM pts) d
           WHERE prev IS NOT NULL""",
        org,
        sensor_id,
        first,
        last,
    )
    return result
