"""Alerts: at most one unresolved alert per (sensor, type), its lifecycle, and queries."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from ..domain.alerts import AlertSeverity
from .rows import AlertRow, SensorRow, from_record

__all__ = [
    "acknowledge",
    "auto_resolve",
    "get",
    "list_page",
    "raise_alert",
    "resolve",
    "statistics",
]

# The domain's severity order, in SQL.
_RANK = (
    "CASE {} " + " ".join(f"WHEN '{s.value}' THEN {s.rank}" for s in AlertSeverity) + " ELSE -1 END"
)


async def raise_alert(
    con: asyncpg.Connection,
    sensor: SensorRow,
    *,
    type: str,
    severity: str,
    message: str,
    reading_value: float | None,
    threshold_value: float | None,
    at: datetime,
) -> tuple[AlertRow, bool, bool]:
    """Open an alert, or bump the unresolved one of this (sensor, type).

    Returns (row, created, escalated): a repeat increments ``occurrences`` and may raise the
    severity, never lower it.
    """
    before = await con.fetchval(
        "SELECT severity FROM alerts WHERE sensor_id = $1 AND type = $2 AND status <> 'RESOLVED'",
        sensor.id,
        type,
    )
    record = await con.fetchrow(
        f"""
        INSERT INTO alerts (organization_id, building_id, sensor_id, type, severity, message,
                            reading_value, threshold_value, triggered_at, last_triggered_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
        ON CONFLICT (sensor_id, type) WHERE status <> 'RESOLVED' DO UPDATE SET
            occurrences = alerts.occurrences + 1,
            last_triggered_at = greatest(alerts.last_triggered_at, EXCLUDED.last_triggered_at),
            severity = CASE WHEN {_RANK.format("EXCLUDED.severity")} > {_RANK.format("alerts.severity")}
                            THEN EXCLUDED.severity ELSE alerts.severity END,
            message = EXCLUDED.message,
            reading_value = EXCLUDED.reading_value,
            threshold_value = EXCLUDED.threshold_value,
            updated_at = now()
        RETURNING *
        """,
        sensor.organization_id,
        sensor.building_id,
        sensor.id,
        type,
        severity,
        message,
        reading_value,
        threshold_value,
        at,
    )
    row = from_record(AlertRow, record)
    created = before is None
    escalated = not created and row.severity != before
    return row, created, escalated


async def auto_resolve(con: asyncpg.Connection, sensor_id: uuid.UUID, type: str) -> AlertRow | None:
    """Resolve the unresolved alert of this (sensor, type) because its condition cleared."""
    return _one(
        await con.fetchrow(
            "UPDATE alerts SET status = 'RESOLVED', resolved_at = now(), updated_at = now(), "
            "resolution_note = 'Resolved automatically: the condition cleared' "
            "WHERE sensor_id = $1 AND type = $2 AND status <> 'RESOLVED' RETURNING *",
            sensor_id,
            type,
        )
    )


async def get(con: asyncpg.Connection, org: uuid.UUID, alert_id: uuid.UUID) -> AlertRow | None:
    return _one(
        await con.fetchrow(
            "SELECT * FROM alerts WHERE organization_id = $1 AND id = $2", org, alert_id
        )
    )


async def acknowledge(
    con: asyncpg.Connection, org: uuid.UUID, alert_id: uuid.UUID, user: uuid.UUID, note: str | None
) -> AlertRow | None:
    """OPEN -> ACKNOWLEDGED (idempotent on an acknowledged alert; a resolved one stays resolved)."""
    return _one(
        await con.fetchrow(
            "UPDATE alerts SET status = CASE WHEN status = 'OPEN' THEN 'ACKNOWLEDGED' ELSE status END, "
            "acknowledged_by = coalesce(acknowledged_by, $3), acknowledged_at = coalesce(acknowledged_at, now()), "
            "resolution_note = coalesce($4, resolution_note), updated_at = now() "
            "WHERE organization_id = $1 AND id = $2 RETURNING *",
            org,
            alert_id,
            user,
            note,
        )
    )


async def resolve(
    con: asyncpg.Connection, org: uuid.UUID, alert_id: uuid.UUID, user: uuid.UUID, note: str | None
) -> AlertRow | None:
    return _one(
        await con.fetchrow(
            "UPDATE alerts SET status = 'RESOLVED', resolved_at = coalesce(resolved_at, now()), resolved_by = $3, "
            "resolution_note = coalesce($4, resolution_note), updated_at = now() "
            "WHERE organization_id = $1 AND id = $2 RETURNING *",
            org,
            alert_id,
            user,
            note,
        )
    )


def _filters(org: uuid.UUID, f: dict[str, Any]) -> tuple[str, list[Any]]:
    where, args = ["organization_id = $1"], [org]
    for column, op in (
        ("status", "="),
        ("severity", "="),
        ("type", "="),
        ("building_id", "="),
        ("sensor_id", "="),
    ):
        if f.get(column) is not None:
            args.append(f[column])
            where.append(f"{column} {op} ${len(args)}")
    if f.get("from") is not None:
        args.append(f["from"])
        where.append(f"triggered_at >= ${len(args)}")
    if f.get("to") is not None:
        args.append(f["to"])
        where.append(f"triggered_at < ${len(args)}")
    return " AND ".join(where), args


async def list_page(
    con: asyncpg.Connection,
    org: uuid.UUID,
    filters: dict[str, Any],
    *,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> tuple[int, list[AlertRow]]:
    """Newest first: (total, rows strictly after the keyset (triggered_at, id))."""
    where, args = _filters(org, filters)
    total = await con.fetchval(f"SELECT count(*) FROM alerts WHERE {where}", *args)
    if after is not None:
        args.extend(after)
        where += f" AND (triggered_at, id) < (${len(args) - 1}, ${len(args)})"
    args.append(limit)
    rows = await con.fetch(
        f"SELECT * FROM alerts WHERE {where} ORDER BY triggered_at DESC, id DESC LIMIT ${len(args)}",
        *args,
    )
    return total, [from_record(AlertRow, r) for r in rows]


async def statistics(
    con: asyncpg.Connection, org: uuid.UUID, filters: dict[str, Any]
) -> AlertCounts:
    where, args = _filters(org, filters)
    totals = await con.fetchrow(
        f"""SELECT count(*) AS total,
                   count(*) FILTER (WHERE status = 'OPEN') AS open,
                   count(*) FILTER (WHERE status = 'ACKNOWLEDGED') AS acknowledged,
                   count(*) FILTER (WHERE status = 'RESOLVED') AS resolved,
                   avg(extract(epoch FROM acknowledged_at - triggered_at)) AS mtta
            FROM alerts WHERE {where}""",
        *args,
    )
    by_type = await con.fetch(
        f"SELECT type, count(*) AS n FROM alerts WHERE {where} GROUP BY type ORDER BY type", *args
    )
    by_severity = await con.fetch(
        f"SELECT severity, count(*) AS n FROM alerts WHERE {where} GROUP BY severity ORDER BY severity",
        *args,
    )
    mtta = totals["mtta"]
    return AlertCounts(
        total=totals["total"],
        open=totals["open"],
        acknowledged=totals["acknowledged"],
        resolved=totals["resolved"],
        mean_seconds_to_acknowledge=None if mtta is None else float(mtta),
        by_type=[(r["type"], r["n"]) for r in by_type],
        by_severity=[(r["severity"], r["n"]) for r in by_severity],
    )


@dataclass(slots=True)
class AlertCounts:
    """Alert statistics for a set of filters."""

    total: int
    open: int
    acknowledged: int
    resolved: int
    mean_seconds_to_acknowledge: float | None
    by_type: list[tuple[str, int]]
    by_severity: list[tuple[str, int]]


def _one(record: asyncpg.Record | None) -> AlertRow | None:
    return None if record is None else from_record(AlertRow, record)
