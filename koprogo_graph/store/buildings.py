"""Buildings: an id owned by one organization (the first that registered a sensor in it)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

__all__ = ["BuildingRow", "claim", "get", "list_all", "set_arming", "timezone_of", "update"]

_SELECT = """
SELECT b.id, b.label, b.timezone, b.armed, b.arm_schedule, b.created_at, b.updated_at,
       (SELECT count(*) FROM sensors s
        WHERE s.organization_id = b.organization_id AND s.building_id = b.id) AS sensor_count
FROM buildings b
"""


@dataclass(frozen=True, slots=True)
class BuildingRow:
    id: uuid.UUID
    label: str | None
    timezone: str
    armed: bool
    arm_schedule: list[dict[str, Any]]
    sensor_count: int
    created_at: datetime
    updated_at: datetime


def _row(r: asyncpg.Record) -> BuildingRow:
    return BuildingRow(
        id=r["id"],
        label=r["label"],
        timezone=r["timezone"],
        armed=r["armed"],
        arm_schedule=r["arm_schedule"],
        sensor_count=r["sensor_count"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
    )


async def list_all(con: asyncpg.Connection, org: uuid.UUID) -> list[BuildingRow]:
    rows = await con.fetch(
        _SELECT + "WHERE b.organization_id = $1 ORDER BY b.label NULLS LAST, b.created_at, b.id",
        org,
    )
    return [_row(r) for r in rows]


async def get(
    con: asyncpg.Connection, org: uuid.UUID, building_id: uuid.UUID
) -> BuildingRow | None:
    r = await con.fetchrow(_SELECT + "WHERE b.organization_id = $1 AND b.id = $2", org, building_id)
    return _row(r) if r else None


async def update(
    con: asyncpg.Connection,
    org: uuid.UUID,
    building_id: uuid.UUID,
    *,
    label: str | None,
    timezone: str | None,
) -> BuildingRow | None:
    """Set the label and/or time zone (None keeps it); None when the building is not ``org``'s."""
    status = await con.execute(
        "UPDATE buildings SET label = coalesce($3, label), timezone = coalesce($4, timezone), "
        "updated_at = now() WHERE organization_id = $1 AND id = $2",
        org,
        building_id,
        label,
        timezone,
    )
    if status != "UPDATE 1":
        return None
    return await get(con, org, building_id)


async def set_arming(
    con: asyncpg.Connection,
    org: uuid.UUID,
    building_id: uuid.UUID,
    *,
    armed: bool | None = None,
    schedule: list[dict[str, Any]] | None = None,
) -> BuildingRow | None:
    """Arm or disarm, and/or set the weekly schedule (None keeps it); None when the building
    is not ``org``'s."""
    status = await con.execute(
        "UPDATE buildings SET armed = coalesce($3, armed), "
        "arm_schedule = coalesce($4::jsonb, arm_schedule), updated_at = now() "
        "WHERE organization_id = $1 AND id = $2",
        org,
        building_id,
        armed,
        schedule,
    )
    if status != "UPDATE 1":
        return None
    return await get(con, org, building_id)


async def claim(con: asyncpg.Connection, org: uuid.UUID, building_id: uuid.UUID) -> bool:
    """Make sure the building exists, ``org``'s if nobody owns it yet (as its first sensor
    would); whether it is ``org``'s."""
    await con.execute(
        "INSERT INTO buildings (id, organization_id) VALUES ($2, $1) ON CONFLICT (id) DO NOTHING",
        org,
        building_id,
    )
    owner: uuid.UUID | None = await con.fetchval(
        "SELECT organization_id FROM buildings WHERE organization_id = $1 AND id = $2",
        org,
        building_id,
    )
    return owner == org


async def timezone_of(
    con: asyncpg.Connection, org: uuid.UUID, building_id: uuid.UUID
) -> str | None:
    result: str | None = await con.fetchval(
        "SELECT timezone FROM buildings WHERE organization_id = $1 AND id = $2", org, building_id
    )
    return result
