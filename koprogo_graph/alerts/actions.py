"""Applying verdicts: open/bump/resolve alert rows, queue notifications, tell live subscribers."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import asyncpg

from ..domain.alert_rules import Clear, Raise
from ..realtime.events import AlertEvent, alerts_channel, encode_event, jsonable_row
from ..store import alerts as alerts_store
from ..store import notifications

__all__ = ["apply_verdict", "publish_alert_changes"]

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


async def publish_alert_changes(broadcast: Any, rows: list[asyncpg.Record]) -> None:
    """After commit: one alertChanged event per changed alert (best effort; the rows are stored)."""
    for row in rows:
        try:
            event = AlertEvent(kind="alert", alert=jsonable_row(row))
            await broadcast.publish(
                channel=alerts_channel(row["organization_id"]), message=encode_event(event)
            )
        except Exception:
            log.exception("could not publish an alert change")
