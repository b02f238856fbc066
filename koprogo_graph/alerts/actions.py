"""Applying verdicts: open/bump/resolve alert rows, queue notifications, tell live subscribers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import asyncpg

from ..domain.alert_rules import Clear, Raise
from ..realtime.events import (
    AlertEvent,
    SensorStatusEvent,
    alerts_channel,
    encode_event,
    jsonable_row,
    sensors_channel,
)
from ..store import alerts as alerts_store
from ..store import notifications
from ..store import sensors as sensors_store

__all__ = [
    "FOLLOWED_TYPES",
    "apply_verdict",
    "follow",
    "publish_alert_changes",
    "publish_sensor_changes",
]

# The alert types a sensor's status (SENSOR_FAULTY) and connectivity (SENSOR_OFFLINE) follow.
FOLLOWED_TYPES = frozenset({"SENSOR_FAULTY", "SENSOR_OFFLINE"})

log = logging.getLogger(__name__)


async def apply_verdict(
    con: asyncpg.Connection, sensor: Any, verdict: Raise | Clear, at: datetime
) -> asyncpg.Record | None:
    """Apply one verdict in the caller's transaction; return the changed alert row, if any.

    A new alert, or an escalated one, queues its notifications in the same transaction.
    """
    if isinstance(verdict, Clear):
        return await alerts_store.auto_resolve(con, sensor["id"], verdict.type.value)
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


async def publish_alert_changes(broadcast: Any, rows: list[Any]) -> None:
    """After commit: one alertChanged event per changed alert (best effort; the rows are stored)."""
    await _publish(broadcast, rows, alerts_channel, lambda row: AlertEvent(kind="alert", alert=row))


async def follow(
    con: asyncpg.Connection, alerts: list[Any], also: list[Any] = ()
) -> list[asyncpg.Record]:
    """In the caller's transaction: the sensors whose status or connectivity the changed
    ``alerts`` (and the sensors ``also`` named) moved; the rows that changed."""
    ids = [a["sensor_id"] for a in alerts if a is not None and a["type"] in FOLLOWED_TYPES]
    return await sensors_store.follow_alerts(con, [*ids, *also])


async def publish_sensor_changes(broadcast: Any, rows: list[Any]) -> None:
    """After commit: one sensorStatusChanged event per changed sensor (best effort)."""
    await _publish(
        broadcast, rows, sensors_channel, lambda row: SensorStatusEvent(kind="sensor", sensor=row)
    )


async def _publish(
    broadcast: Any,
    rows: list[Any],
    channel_of: Callable[[Any], str],
    event_of: Callable[[dict[str, Any]], Any],
) -> None:
    if broadcast is None:
        return
    for row in rows:
        try:
            await broadcast.publish(
                channel=channel_of(row["organization_id"]),
                message=encode_event(event_of(jsonable_row(row))),
            )
        except Exception:
            log.exception("could not publish a live event")
