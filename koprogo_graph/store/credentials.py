"""Ingest credentials of buildings (migration 0015): kept as hashes, revoked, never deleted."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from ..domain.credentials import NewCredentials
from .rows import from_record

__all__ = [
    "CredentialRow",
    "by_token",
    "create",
    "list_for",
    "live_count",
    "revoke",
    "revoked_usernames",
]


@dataclass(frozen=True, slots=True)
class CredentialRow:
    id: uuid.UUID
    organization_id: uuid.UUID
    building_id: uuid.UUID
    name: str
    mqtt_username: str
    created_at: datetime
    revoked_at: datetime | None


_COLUMNS = "id, organization_id, building_id, name, mqtt_username, created_at, revoked_at"


async def create(
    con: asyncpg.Connection,
    org: uuid.UUID,
    building_id: uuid.UUID,
    name: str,
    secrets: NewCredentials,
) -> CredentialRow:
    record = await con.fetchrow(
        f"""INSERT INTO ingest_credentials (organization_id, building_id, name, mqtt_username,
                mqtt_password_hash, mqtt_password_salt, http_token_hash)
            VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_COLUMNS}""",
        org,
        building_id,
        name,
        secrets.mqtt_username,
        secrets.mqtt_password_hash,
        secrets.mqtt_password_salt,
        secrets.http_token_hash,
    )
    return from_record(CredentialRow, record)


async def list_for(
    con: asyncpg.Connection, org: uuid.UUID, building_id: uuid.UUID | None
) -> list[CredentialRow]:
    """The organization's credentials (of one building, if given), newest first."""
    rows = await con.fetch(
        f"SELECT {_COLUMNS} FROM ingest_credentials WHERE organization_id = $1 "
        "AND ($2::uuid IS NULL OR building_id = $2) ORDER BY created_at DESC, id",
        org,
        building_id,
    )
    return [from_record(CredentialRow, r) for r in rows]


async def live_count(con: asyncpg.Connection, org: uuid.UUID, building_id: uuid.UUID) -> int:
    """How many of the building's credentials are not revoked."""
    count: int = await con.fetchval(
        "SELECT count(*) FROM ingest_credentials WHERE organization_id = $1 "
        "AND building_id = $2 AND revoked_at IS NULL",
        org,
        building_id,
    )
    return count


async def revoke(
    con: asyncpg.Connection, org: uuid.UUID, credential_id: uuid.UUID
) -> CredentialRow | None:
    """Revoke (idempotent); None when the organization has no such credentials. Its token stops
    working at the commit; the broker is told then (resolvers/credentials.py), and, if it does
    not answer, by the reconciliation of revoked accounts (ingest/broker_accounts.py)."""
    record = await con.fetchrow(
        f"UPDATE ingest_credentials SET revoked_at = coalesce(revoked_at, now()) "
        f"WHERE organization_id = $1 AND id = $2 RETURNING {_COLUMNS}",
        org,
        credential_id,
    )
    return None if record is None else from_record(CredentialRow, record)


async def by_token(con: asyncpg.Connection, token_hash: bytes) -> CredentialRow | None:
    """The live credentials a token's hash belongs to (across organizations: the HTTP
    ingestion's lookup)."""
    record = await con.fetchrow(
        f"SELECT {_COLUMNS} FROM ingest_credentials "
        "WHERE http_token_hash = $1 AND revoked_at IS NULL",
        token_hash,
    )
    return None if record is None else from_record(CredentialRow, record)


async def revoked_usernames(con: asyncpg.Connection) -> list[str]:
    """MQTT usernames of revoked credentials (for the broker to forget, at start-up)."""
    rows = await con.fetch(
        "SELECT mqtt_username FROM ingest_credentials WHERE revoked_at IS NOT NULL"
    )
    return [r["mqtt_username"] for r in rows]
