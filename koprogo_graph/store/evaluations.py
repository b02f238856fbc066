"""Batches of new readings the alert engine has yet to evaluate (migration 0013)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg

__all__ = ["claim", "claim_left_over", "readings_of", "record"]


async def record(con: asyncpg.Connection, keys: Sequence[tuple[uuid.UUID, datetime]]) -> int | None:
    """In the ingest transaction: the new readings (sensor, ts) to evaluate; the row's id."""
    if not keys:
        return None
    sensors, stamps = zip(*keys, strict=True)
    return await con.fetchval(
        "INSERT INTO pending_evaluations (sensor_ids, timestamps) VALUES ($1, $2) RETURNING id",
        list(sensors),
        list(stamps),
    )


async def claim(con: asyncpg.Connection, ids: Sequence[int]) -> set[int]:
    """Take these batches for evaluation in this transaction: their rows are deleted now, so
    they are done when it commits and back (for the watchdog) if it does not. Those another
    transaction holds or already took are left out."""
    rows = await con.fetch(
        "DELETE FROM pending_evaluations WHERE id IN (SELECT id FROM pending_evaluations "
        "WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE SKIP LOCKED) RETURNING id",
        list(ids),
    )
    return {r["id"] for r in rows}


async def claim_left_over(
    con: asyncpg.Connection, older_than_seconds: float, limit: int = 50
) -> list[asyncpg.Record]:
    """Take (as ``claim`` does) batches nobody is evaluating that are older than a live engine
    would leave them."""
    return await con.fetch(
        "DELETE FROM pending_evaluations WHERE id IN (SELECT id FROM pending_evaluations "
        "WHERE created_at < now() - make_interval(secs => $1) "
        "ORDER BY id FOR UPDATE SKIP LOCKED LIMIT $2) RETURNING id, sensor_ids, timestamps",
        older_than_seconds,
        limit,
    )


async def readings_of(
    con: asyncpg.Connection, sensor_ids: Sequence[uuid.UUID], stamps: Sequence[datetime]
) -> list[asyncpg.Record]:
    """The readings a batch names, with what the engine needs of their sensors."""
    return await con.fetch(
        """SELECT r.*, s.device_id, s.type AS sensor_type, s.reading_kind, s.unit_of_measure,
                  s.resolution
           FROM unnest($1::uuid[], $2::timestamptz[]) AS k(sensor_id, ts)
           JOIN readings r ON r.sensor_id = k.sensor_id AND r.ts = k.ts
           JOIN sensors s ON s.id = r.sensor_id""",
        list(sensor_ids),
        list(stamps),
    )
