"""Distribution keys of buildings (migration 0018): a name and each unit's share."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import asyncpg

__all__ = ["AllocationKeyRow", "define", "get", "list_for", "names_in"]


@dataclass(slots=True)
class AllocationKeyRow:
    id: uuid.UUID
    building_id: uuid.UUID
    name: str
    shares: list[tuple[uuid.UUID, Decimal]] = field(default_factory=list)  # by unit id


async def define(
    con: asyncpg.Connection,
    org: uuid.UUID,
    building_id: uuid.UUID,
    name: str,
    shares: Sequence[tuple[uuid.UUID, Decimal]],
) -> AllocationKeyRow:
    """Store the key (a key of the same name in the building is replaced, shares and all)."""
    key_id: uuid.UUID = await con.fetchval(
        "INSERT INTO allocation_keys (organization_id, building_id, name) VALUES ($1, $2, $3) "
        "ON CONFLICT (organization_id, building_id, name) DO UPDATE SET updated_at = now() "
        "RETURNING id",
        org,
        building_id,
        name,
    )
    await con.execute(
        "DELETE FROM allocation_shares WHERE organization_id = $1 AND key_id = $2", org, key_id
    )
    await con.executemany(
        "INSERT INTO allocation_shares (organization_id, key_id, unit_id, share) VALUES ($1, $2, $3, $4)",
        [(org, key_id, unit, share) for unit, share in shares],
    )
    return AllocationKeyRow(key_id, building_id, name, sorted(shares))


async def list_for(
    con: asyncpg.Connection, org: uuid.UUID, building_id: uuid.UUID
) -> list[AllocationKeyRow]:
    """The building's keys, by name, with their shares by unit id."""
    rows = await con.fetch(
        "SELECT k.id, k.name, s.unit_id, s.share FROM allocation_keys k "
        "LEFT JOIN allocation_shares s ON s.organization_id = k.organization_id AND s.key_id = k.id "
        "WHERE k.organization_id = $1 AND k.building_id = $2 ORDER BY k.name, s.unit_id",
        org,
        building_id,
    )
    keys: dict[uuid.UUID, AllocationKeyRow] = {}
    for r in rows:
        key = keys.setdefault(r["id"], AllocationKeyRow(r["id"], building_id, r["name"]))
        if r["unit_id"] is not None:
            key.shares.append((r["unit_id"], r["share"]))
    return list(keys.values())


async def get(
    con: asyncpg.Connection, org: uuid.UUID, building_id: uuid.UUID, key_id: uuid.UUID
) -> AllocationKeyRow | None:
    """The building's key ``key_id`` with its shares; None when the building has no such key."""
    return next((k for k in await list_for(con, org, building_id) if k.id == key_id), None)


async def names_in(con: asyncpg.Connection, org: uuid.UUID, building_id: uuid.UUID) -> set[str]:
    """The names of the building's keys."""
    rows = await con.fetch(
        "SELECT name FROM allocation_keys WHERE organization_id = $1 AND building_id = $2",
        org,
        building_id,
    )
    return {r["name"] for r in rows}
