"""What changed since a given instant, for live subscriptions catching up after a gap."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

import asyncpg

from .rows import AlertRow, SensorRow, from_record

__all__ = ["changed_since"]


async def changed_since(
    con: asyncpg.Connection,
    table: Literal["alerts", "sensors"],
    changed_at: Literal["updated_at", "status_changed_at"],
    org: uuid.UUID,
    since: datetime,
    *,
    building: uuid.UUID | None,
    limit: int,
) -> list[AlertRow] | list[SensorRow]:
    """Rows of ``org`` (in ``building``, if given) whose ``changed_at`` is at or after ``since``,
    oldest change first. ``table`` and ``changed_at`` are ours, never a caller's input."""
    where, args = f"organization_id = $1 AND {changed_at} >= $2", [org, since]
    if building is not None:
        args.append(building)
        where += f" AND building_id = ${len(args)}"
    args.append(limit)
    records = await con.fetch(
        f"SELECT * FROM {table} WHERE {where} ORDER BY {changed_at}, id LIMIT ${len(args)}", *args
    )
    if table == "alerts":
        return [from_record(AlertRow, r) for r in records]
    return [from_record(SensorRow, r) for r in records]
