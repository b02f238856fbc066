"""Rejected ingest messages, kept per organization up to a bound for inspection."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import NamedTuple

import asyncpg

from .rows import RejectionRecord, from_record

__all__ = ["KEEP_PER_ORGANIZATION", "KEEP_TOTAL", "RejectionRow", "insert", "latest"]

KEEP_PER_ORGANIZATION = 1_000
# Topics may name any organization id, known or not: the table as a whole is bounded too.
KEEP_TOTAL = 100_000


class RejectionRow(NamedTuple):
    organization_id: uuid.UUID | None
    topic: str
    reason: str
    detail: str
    payload_excerpt: str


async def insert(
    con: asyncpg.Connection, rows: Sequence[RejectionRow], *, keep_total: int = KEEP_TOTAL
) -> None:
    """Record rejections and forget the oldest beyond the bound of each organization touched,
    and beyond the bound of the whole table."""
    if not rows:
        return
    newest = await con.fetchval(
        "WITH added AS (INSERT INTO rejected_messages (organization_id, topic, reason, detail, "
        "payload_excerpt) SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], "
        "$5::text[]) RETURNING id) SELECT max(id) FROM added",
        *zip(*rows, strict=True),
    )
    # Ids only grow: everything more than KEEP_TOTAL ids old goes (a range on the primary key).
    await con.execute("DELETE FROM rejected_messages WHERE id <= $1", newest - keep_total)
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


async def latest(con: asyncpg.Connection, org: uuid.UUID, limit: int) -> list[RejectionRecord]:
    """The organization's most recent rejections, newest first."""
    records = await con.fetch(
        "SELECT * FROM rejected_messages WHERE organization_id = $1 ORDER BY id DESC LIMIT $2",
        org,
        limit,
    )
    return [from_record(RejectionRecord, r) for r in records]
