"""Who owns which unit (migration 0019): an owner sees only their own units (SPEC §12)."""

from __future__ import annotations

import uuid

import asyncpg

__all__ = ["MAX_UNITS_PER_OWNER", "assign", "owners_of", "remove", "units_of"]

MAX_UNITS_PER_OWNER = 1_000


async def assign(
    con: asyncpg.Connection, org: uuid.UUID, unit_id: uuid.UUID, user_id: uuid.UUID
) -> bool:
    """Record the ownership; False when the user already owns as many units as allowed."""
    held: int = await con.fetchval(
        "SELECT count(*) FROM unit_owners WHERE organization_id = $1 AND user_id = $2",
        org,
        user_id,
    )
    if held >= MAX_UNITS_PER_OWNER:
        return False
    await con.execute(
        "INSERT INTO unit_owners (organization_id, unit_id, user_id) VALUES ($1, $2, $3) "
        "ON CONFLICT DO NOTHING",
        org,
        unit_id,
        user_id,
    )
    return True


async def remove(
    con: asyncpg.Connection, org: uuid.UUID, unit_id: uuid.UUID, user_id: uuid.UUID
) -> bool:
    """False when the user did not own the unit."""
    status: str = await con.execute(
        "DELETE FROM unit_owners WHERE organization_id = $1 AND unit_id = $2 AND user_id = $3",
        org,
        unit_id,
        user_id,
    )
    return status == "DELETE 1"


async def units_of(con: asyncpg.Connection, org: uuid.UUID, user_id: uuid.UUID) -> set[uuid.UUID]:
    rows = await con.fetch(
        "SELECT unit_id FROM unit_owners WHERE organization_id = $1 AND user_id = $2",
        org,
        user_id,
    )
    return {r["unit_id"] for r in rows}


async def owners_of(con: asyncpg.Connection, org: uuid.UUID, unit_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await con.fetch(
        "SELECT user_id FROM unit_owners WHERE organization_id = $1 AND unit_id = $2 "
        "ORDER BY user_id",
        org,
        unit_id,
    )
    return [r["user_id"] for r in rows]
