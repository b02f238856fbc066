"""Readings: idempotent batch insert (ingestor) and keyset pages (API)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

import asyncpg

from .rows import StoredReadingRow, from_record

__all__ = ["ReadingRow", "count_range", "insert_batch", "page", "touch_sensors"]


class ReadingRow(NamedTuple):
    """One reading to store, in the column order of the insert below."""

    sensor_id: uuid.UUID
    ts: datetime
    organization_id: uuid.UUID
    building_id: uuid.UUID
    unit_id: uuid.UUID | None
    value: float
    raw_value: float
    battery_level: int | None
    signal_strength: int | None
    quality: str
    is_anomaly: bool
    anomaly_reason: str | None


_INSERT = """
INSERT INTO readings (sensor_id, ts, organization_id, building_id, unit_id, value, raw_value,
                      battery_level, signal_strength, quality, is_anomaly, anomaly_reason)
SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::uuid[], $4::uuid[], $5::uuid[],
                     $6::float8[], $7::float8[], $8::int2[], $9::int2[], $10::text[],
                     $11::bool[], $12::text[])
ON CONFLICT (sensor_id, ts) DO NOTHING
RETURNING sensor_id, ts, received_at
"""

# The newest new reading of each sensor becomes its last_*; rows are locked in id order so two
# ingestors writing the same sensors cannot deadlock.
_TOUCH = """
WITH latest AS (
    SELECT DISTINCT ON (sensor_id) sensor_id, ts, value, battery_level
    FROM unnest($1::uuid[], $2::timestamptz[], $3::float8[], $4::int2[])
         AS t(sensor_id, ts, value, battery_level)
    ORDER BY sensor_id, ts DESC
), locked AS (
    SELECT s.id FROM sensors s JOIN latest l ON s.id = l.sensor_id
    WHERE s.last_reading_at IS NULL OR s.last_reading_at < l.ts
    ORDER BY s.id FOR NO KEY UPDATE OF s
)
UPDATE sensors s
SET last_reading_at = l.ts, last_value = l.value,
    last_battery_level = coalesce(l.battery_level, s.last_battery_level)
FROM latest l, locked k
WHERE s.id = l.sensor_id AND k.id = s.id
"""


async def insert_batch(con: asyncpg.Connection, rows: Sequence[ReadingRow]) -> list[asyncpg.Record]:
    """Insert in one round trip; return (sensor_id, ts, received_at) of the rows that were new."""
    if not rows:
        return []
    # One writer per meter at a time: the consumption rule classifies each new reading against
    # the ones before it, which another ingestor's uncommitted batch would hide from it.
    await con.execute(
        "SELECT 1 FROM sensors WHERE id = ANY($1::uuid[]) ORDER BY id FOR NO KEY UPDATE",
        sorted({r.sensor_id for r in rows}),
    )
    columns = list(zip(*rows, strict=True))
    result: list[asyncpg.Record] = await con.fetch(_INSERT, *columns)
    return result


async def touch_sensors(con: asyncpg.Connection, rows: Sequence[ReadingRow]) -> None:
    """Advance each sensor's last reading, value and battery level."""
    if rows:
        await con.execute(
            _TOUCH,
            [r.sensor_id for r in rows],
            [r.ts for r in rows],
            [r.value for r in rows],
            [r.battery_level for r in rows],
        )


async def count_range(
    con: asyncpg.Connection, org: uuid.UUID, sensor_id: uuid.UUID, start: datetime, end: datetime
) -> int:
    result: int = await con.fetchval(
        "SELECT count(*) FROM readings WHERE organization_id = $1 AND sensor_id = $2 "
        "AND ts >= $3 AND ts < $4",
        org,
        sensor_id,
        start,
        end,
    )
    return result


async def page(
    con: asyncpg.Connection,
    org: uuid.UUID,
    sensor_id: uuid.UUID,
    start: datetime,
    end: datetime,
    *,
    limit: int,
    after: datetime | None = None,
) -> list[StoredReadingRow]:
    """Readings of one sensor in [start, end), oldest first, strictly after ``after``."""
    records = await con.fetch(
        "SELECT * FROM readings WHERE organization_id = $1 AND sensor_id = $2 "
        "AND ts >= $3 AND ts < $4 AND ($5::timestamptz IS NULL OR ts > $5) "
        "ORDER BY ts LIMIT $6",
        org,
        sensor_id,
        start,
        end,
        after,
        limit,
    )
    return [from_record(StoredReadingRow, r) for r in records]
