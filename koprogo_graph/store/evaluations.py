"""Batches of new readings the alert engine has yet to evaluate (migration 0013)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from ..domain.readings import StoredReading
from ..domain.sensors import resolution_of


@dataclass(frozen=True, slots=True)
class PendingBatch:
    """A stored batch of readings waiting for the alert engine."""

    id: int
    sensor_ids: list[uuid.UUID]
    timestamps: list[datetime]


__all__ = ["PendingBatch", "claim", "claim_left_over", "readings_of", "record"]


async def record(con: asyncpg.Connection, keys: Sequence[tuple[uuid.UUID, datetime]]) -> int | None:
    """In the ingest transaction: the new readings (sensor, ts) to evaluate; the row's id."""
    if not keys:
        return None
    sensors, stamps = zip(*keys, strict=True)
    result: int | None = await con.fetchval(
        "INSERT INTO pending_evaluations (sensor_ids, timestamps) VALUES ($1, $2) RETURNING id",
        list(sensors),
        list(stamps),
    )
    return result


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
) -> list[PendingBatch]:
    """Take (as ``claim`` does) batches nobody is evaluating that are older than a live engine
    would leave them."""
    rows = await con.fetch(
        "DELETE FROM pending_evaluations WHERE id IN (SELECT id FROM pending_evaluations "
        "WHERE created_at < now() - make_interval(secs => $1) "
        "ORDER BY id FOR UPDATE SKIP LOCKED LIMIT $2) RETURNING id, sensor_ids, timestamps",
        older_than_seconds,
        limit,
    )
    return [PendingBatch(r["id"], list(r["sensor_ids"]), list(r["timestamps"])) for r in rows]


async def readings_of(
    con: asyncpg.Connection, sensor_ids: Sequence[uuid.UUID], stamps: Sequence[datetime]
) -> list[StoredReading]:
    """The readings a batch names, as the ingestor handed them on (those that still exist)."""
    rows = await con.fetch(
        """SELECT r.*, s.device_id, s.type AS sensor_type, s.reading_kind, s.unit_of_measure,
                  s.resolution
           FROM unnest($1::uuid[], $2::timestamptz[]) AS k(sensor_id, ts)
           JOIN readings r ON r.sensor_id = k.sensor_id AND r.ts = k.ts
           JOIN sensors s ON s.id = r.sensor_id""",
        list(sensor_ids),
        list(stamps),
    )
    return [
        StoredReading(
            sensor_id=r["sensor_id"],
            organization_id=r["organization_id"],
            building_id=r["building_id"],
            unit_id=r["unit_id"],
            device_id=r["device_id"],
            sensor_type=r["sensor_type"],
            reading_kind=r["reading_kind"],
            ts=r["ts"],
            value=r["value"],
            raw_value=r["raw_value"],
            unit_of_measure=r["unit_of_measure"],
            battery_level=r["battery_level"],
            signal_strength=r["signal_strength"],
            quality=r["quality"],
            is_anomaly=r["is_anomaly"],
            anomaly_reason=r["anomaly_reason"],
            received_at=r["received_at"],
            resolution=resolution_of(r["unit_of_measure"], r["resolution"]),
        )
        for r in rows
    ]
