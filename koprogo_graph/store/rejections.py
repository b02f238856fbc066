"""Rejected ingest messages, kept per organization up to a bound for inspection."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import NamedTuple

import asyncpg

__all__ = ["KEEP_PER_ORGANIZATION", "RejectionRow", "insert", "latest"]

KEEP_PER_ORGANIZATION = 1_000


class RejectionRow(NamedTuple):
    organization_id: uuid.UUID | None
    topic: str
    reason: str
    detail: str
    payload_excerpt: str


async def insert(con: asyncpg.Connection, rows: Sequence[RejectionRow]) -> None:
    """Record rejections and forget the oldest beyond the bound of each organization touched."""
    if not rows:
        return
    await con.execute(
        "INSERT INTO rejected_messages (organization_id, topic, reason, detail, payload_excerpt) "
        "SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[])",
        *zip(*rows, strict=True),
    )
    organizations = list({r.organization_id for r in rows if r.organization_id is not None})
    if organizations:
        await con.execute(
            """
            DELETE FROM rejected_messages r
            USING (
                SELECT o.org, (SELECT id FROM rejected_messages
                               WHERE organization_id = o.org
                               ORDER BY id DESC OFFSET $2 LIMIT 1) AS oldest_dropped
                FROM unnest($1::uuid[]) AS o(org)
            ) cut
            WHERE r.organization_id = cut.org AND r.id <= cut.oldest_dropped
            """,
            organizations,
            KEEP_PER_ORGANIZATION,
        )
    if any(r.organization_id is None for r in rows):
        await con.execute(
            "DELETE FROM rejected_messages WHERE organization_id IS NULL AND id <= "
            "(SELECT id FROM rejected_messages WHERE organization_id IS NULL "
            " ORDER BY id DESC OFFSET $1 LIMIT 1)",
            KEEP_PER_ORGANIZATION,
        )


async def latest(con: asyncpg.Connection, org: uuid.UUID, limit: int) -> list[asyncpg.Record]:
    """The organization's most recent rejections, newest first."""
    return await con.fetch(
        "SELECT * FROM rejected_messages WHERE organization_id = $1 ORDER BY id DESC LIMIT $2",
        org,
        limit,
    )
