"""Applying verdicts: open/bump/resolve alert rows and queue their notifications, and bring the
sensors' status and connectivity in line, all in the caller's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

import asyncpg

from ..domain.alert_rules import Clear, Raise
from ..domain.alerts import AlertType
from ..store import alerts as alerts_store
from ..store import notifications
from ..store import sensors as sensors_store
from ..store.rows import AlertRow, SensorRow

__all__ = ["FOLLOWED_TYPES", "apply_verdict", "follow"]

# The alert types a sensor's status (SENSOR_FAULTY) and connectivity (SENSOR_OFFLINE) follow.
FOLLOWED_TYPES = frozenset({AlertType.SENSOR_FAULTY.value, AlertType.SENSOR_OFFLINE.value})


async def apply_verdict(
    con: asyncpg.Connection, sensor: SensorRow, verdict: Raise | Clear, at: datetime
) -> AlertRow | None:
    """Apply one verdict in the caller's transaction; return the changed alert row, if any.

    A new alert, or an escalated one, queues its notifications in the same transaction.
    """
    if isinstance(verdict, Clear):
        return await alerts_store.auto_resolve(con, sensor.id, verdict.type.value)
    row, created, escalated = await alerts_store.raise_alert(
        con,
        sensor,
        type=verdict.type.value,
        severity=verdict.severity.value,
        message=verdict.message,
        reading_value=verdict.reading_value,
        threshold_value=verdict.threshold_value,
        at=at,
    )
    if created or escalated:
        await notifications.enqueue(con, row)
    return row


async def follow(
    con: asyncpg.Connection,
    alerts: Iterable[AlertRow | None],
    also: Sequence[uuid.UUID] = (),
) -> list[SensorRow]:
    """In the caller's transaction: the sensors whose status or connectivity the changed
    ``alerts`` (and the sensors ``also`` named) moved; the rows that changed."""
    ids = [a.sensor_id for a in alerts if a is not None and a.type in FOLLOWED_TYPES]
    return await sensors_store.follow_alerts(con, [*ids, *also])
