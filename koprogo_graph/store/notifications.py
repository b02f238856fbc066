"""Notification settings per organization, and the outbox of deliveries to make."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from ..domain.alerts import AlertSeverity
from ..domain.routing import QuietHours, Route
from .rows import AlertRow, DeliveryRow, NotificationSettingsRow, from_record

__all__ = [
    "ChannelRow",
    "DueDelivery",
    "NewChannel",
    "backlog",
    "channels_of",
    "claim_due",
    "deliveries_of",
    "due_reminders",
    "enqueue",
    "get_settings",
    "mark_failed",
    "mark_sent",
    "replace_channels",
    "save_settings",
    "sealed_channels",
]


async def get_settings(con: asyncpg.Connection, org: uuid.UUID) -> NotificationSettingsRow | None:
    record = await con.fetchrow(
        "SELECT * FROM notification_settings WHERE organization_id = $1", org
    )
    return None if record is None else from_record(NotificationSettingsRow, record)


async def save_settings(
    con: asyncpg.Connection, org: uuid.UUID, values: dict[str, Any]
) -> NotificationSettingsRow:
    record = await con.fetchrow(
        """INSERT INTO notification_settings (organization_id, emails, webhook_url, webhook_secret, min_severity)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (organization_id) DO UPDATE SET emails = EXCLUDED.emails,
               webhook_url = EXCLUDED.webhook_url, webhook_secret = EXCLUDED.webhook_secret,
               min_severity = EXCLUDED.min_severity, updated_at = now()
           RETURNING *""",
        org,
        values["emails"],
        values["webhook_url"],
        values["webhook_secret"],
        values["min_severity"],
    )
    return from_record(NotificationSettingsRow, record)


async def enqueue(con: asyncpg.Connection, alert: AlertRow, kind: str = "alert") -> int:
    """Queue the deliveries the organization asked for, in the caller's (the alert's)
    transaction: e-mail and webhook from its settings, and each Apprise channel that takes
    this severity, held until its quiet hours end (in the building's time) when they apply."""
    severity = AlertSeverity(alert.severity)
    settings = await get_settings(con, alert.organization_id)
    plain = []
    if settings is not None and severity.rank >= AlertSeverity(settings.min_severity).rank:
        plain = [
            c
            for c, wanted in (("email", settings.emails), ("webhook", settings.webhook_url))
            if wanted
        ]
    for name in plain:
        await con.execute(
            "INSERT INTO notification_outbox (organization_id, alert_id, channel, kind) VALUES ($1, $2, $3, $4)",
            alert.organization_id,
            alert.id,
            name,
            kind,
        )
    routed = 0
    channels = await channels_of(con, alert.organization_id)
    if kind == "reminder" and channels:  # one pending reminder per channel, not one per round
        waiting = {
            r["channel_id"]
            for r in await con.fetch(
                "SELECT channel_id FROM notification_outbox WHERE alert_id = $1 "
                "AND kind = 'reminder' AND sent_at IS NULL AND channel_id IS NOT NULL",
                alert.id,
            )
        }
        channels = [c for c in channels if c.id not in waiting]
    if channels:
        when = await con.fetchrow(  # the transaction's instant, the building's time zone
            "SELECT now() AS now, (SELECT timezone FROM buildings "
            "WHERE organization_id = $1 AND id = $2) AS timezone",
            alert.organization_id,
            alert.building_id,
        )
        now: datetime = when["now"]
        timezone: str = when["timezone"] or "UTC"
        for channel in channels:
            if not channel.route.takes(severity):
                continue
            await con.execute(
                "INSERT INTO notification_outbox (organization_id, alert_id, channel, kind, "
                "channel_id, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6)",
                alert.organization_id,
                alert.id,
                channel.kind,
                kind,
                channel.id,
                channel.route.not_before(severity, now, timezone),
            )
            routed += 1
    if plain or routed:
        await con.execute("UPDATE alerts SET last_notified_at = now() WHERE id = $1", alert.id)
    return len(plain) + routed


@dataclass(frozen=True, slots=True)
class ChannelRow:
    """An Apprise channel, without its URL (``sealed_url`` reads it)."""

    id: uuid.UUID
    position: int
    kind: str  # sms, push or email
    service: str
    masked_url: str
    route: Route


def _channel(r: asyncpg.Record) -> ChannelRow:
    quiet = (
        QuietHours(r["quiet_from"], r["quiet_to"], r["quiet_critical"])
        if r["quiet_from"] is not None
        else None
    )
    return ChannelRow(
        r["id"],
        r["position"],
        r["kind"],
        r["service"],
        r["masked_url"],
        Route(AlertSeverity(r["min_severity"]), quiet),
    )


async def channels_of(con: asyncpg.Connection, org: uuid.UUID) -> list[ChannelRow]:
    """The organization's channels in service, in order."""
    return [c for c, _ in await sealed_channels(con, org)]


async def sealed_channels(
    con: asyncpg.Connection, org: uuid.UUID
) -> list[tuple[ChannelRow, bytes]]:
    """The channels in service with their sealed URLs (to compare with a new configuration)."""
    rows = await con.fetch(
        "SELECT id, position, kind, service, masked_url, min_severity, quiet_from, quiet_to, "
        "quiet_critical, url_sealed FROM notification_channels "
        "WHERE organization_id = $1 AND retired_at IS NULL ORDER BY position",
        org,
    )
    return [(_channel(r), r["url_sealed"]) for r in rows]


@dataclass(frozen=True, slots=True)
class NewChannel:
    url_sealed: bytes
    kind: str
    service: str
    masked_url: str
    route: Route
    keep: uuid.UUID | None = None  # an unchanged channel in service: keep it (and its queue)


async def replace_channels(
    con: asyncpg.Connection, org: uuid.UUID, channels: Sequence[NewChannel]
) -> list[ChannelRow]:
    """The organization's channels become these: an unchanged one keeps its id and what is
    queued for it; the others are retired (their history stays, what they still had to send is
    cancelled)."""
    kept = [c.keep for c in channels if c.keep is not None]
    retired = await con.fetch(
        "UPDATE notification_channels SET retired_at = now() WHERE organization_id = $1 "
        "AND retired_at IS NULL AND NOT id = ANY($2::uuid[]) RETURNING id",
        org,
        kept,
    )
    if retired:
        await con.execute(
            "UPDATE notification_outbox SET next_attempt_at = 'infinity', "
            "last_error = 'the channel was removed before this could go out' "
            "WHERE channel_id = ANY($1::uuid[]) AND sent_at IS NULL",
            [r["id"] for r in retired],
        )
    for position, c in enumerate(channels):
        quiet = c.route.quiet
        quiet_from, quiet_to, quiet_critical = (
            (quiet.start, quiet.end, quiet.critical_too) if quiet else (None, None, False)
        )
        if c.keep is not None:
            await con.execute(
                "UPDATE notification_channels SET position = $3, min_severity = $4, "
                "quiet_from = $5, quiet_to = $6, quiet_critical = $7 "
                "WHERE organization_id = $1 AND id = $2",
                org,
                c.keep,
                position,
                c.route.min_severity.value,
                quiet_from,
                quiet_to,
                quiet_critical,
            )
            continue
        await con.execute(
            "INSERT INTO notification_channels (organization_id, position, url_sealed, kind, "
            "service, masked_url, min_severity, quiet_from, quiet_to, quiet_critical) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            org,
            position,
            c.url_sealed,
            c.kind,
            c.service,
            c.masked_url,
            c.route.min_severity.value,
            quiet_from,
            quiet_to,
            quiet_critical,
        )
    return await channels_of(con, org)


@dataclass(slots=True)
class DueDelivery:
    """A delivery to make, with what it says (its alert, its sensor) and where it goes."""

    outbox_id: int
    channel: str  # email, webhook, sms, push
    kind: str  # alert or reminder
    attempts: int
    channel_id: uuid.UUID | None  # an Apprise channel's
    id: uuid.UUID  # the alert's
    organization_id: uuid.UUID
    building_id: uuid.UUID
    sensor_id: uuid.UUID
    type: str
    severity: str
    status: str
    message: str
    reading_value: float | None
    threshold_value: float | None
    occurrences: int
    triggered_at: datetime
    device_id: str
    sensor_location: str
    emails: list[str] | None
    webhook_url: str | None
    webhook_secret: str | None
    url_sealed: bytes | None


async def backlog(con: asyncpg.Connection) -> tuple[int, int]:
    """(deliveries due and not sent, alert evaluations pending): what is waiting."""
    row = await con.fetchrow(
        "SELECT (SELECT count(*) FROM notification_outbox "
        "        WHERE sent_at IS NULL AND next_attempt_at <= now()) AS due, "
        "       (SELECT count(*) FROM pending_evaluations) AS pending"
    )
    return int(row["due"]), int(row["pending"])


async def claim_due(con: asyncpg.Connection, limit: int = 20) -> list[DueDelivery]:
    """Due deliveries with their alert, sensor and settings, locked so one sender handles each.
    A reminder, or a channel's delivery held by quiet hours, of an alert resolved meanwhile is
    cancelled instead: nobody needs an SMS at 07:00 about what ended at 01:00."""
    await con.execute(
        """UPDATE notification_outbox o SET next_attempt_at = 'infinity',
                  last_error = 'the alert was resolved before this could go out'
           FROM alerts a
           WHERE a.id = o.alert_id AND a.status = 'RESOLVED' AND o.sent_at IS NULL
             AND o.next_attempt_at <= now() AND (o.kind = 'reminder' OR o.channel_id IS NOT NULL)"""
    )
    result: list[asyncpg.Record] = await con.fetch(
        """SELECT o.id AS outbox_id, o.channel, o.kind, o.attempts, o.channel_id, a.*,
                  s.device_id, s.location AS sensor_location,
                  n.emails, n.webhook_url, n.webhook_secret, c.url_sealed
           FROM notification_outbox o
           JOIN alerts a ON a.id = o.alert_id
           JOIN sensors s ON s.id = a.sensor_id
           LEFT JOIN notification_settings n ON n.organization_id = o.organization_id
           LEFT JOIN notification_channels c ON c.id = o.channel_id
           WHERE o.sent_at IS NULL AND o.next_attempt_at <= now()
           ORDER BY o.next_attempt_at, o.id
           FOR UPDATE OF o SKIP LOCKED
           LIMIT $1""",
        limit,
    )
    return [from_record(DueDelivery, r) for r in result]


async def mark_sent(
    con: asyncpg.Connection, outbox_id: int, alert_id: uuid.UUID, channel: str
) -> None:
    await con.execute(
        "UPDATE notification_outbox SET sent_at = now(), attempts = attempts + 1, last_error = NULL WHERE id = $1",
        outbox_id,
    )
    # What really went out: a webhook is none of these (someone else turns it into anything).
    flag = {"email": "email_sent", "sms": "sms_sent", "push": "push_sent"}.get(channel)
    if flag is not None:
        await con.execute(f"UPDATE alerts SET {flag} = true WHERE id = $1", alert_id)


async def mark_failed(
    con: asyncpg.Connection, outbox_id: int, error: str, retry_in_seconds: float
) -> None:
    await con.execute(
        "UPDATE notification_outbox SET attempts = attempts + 1, last_error = $2, "
        "next_attempt_at = now() + make_interval(secs => $3) WHERE id = $1",
        outbox_id,
        error[:500],
        retry_in_seconds,
    )


async def deliveries_of(
    con: asyncpg.Connection, org: uuid.UUID, alert_ids: Sequence[uuid.UUID]
) -> list[DeliveryRow]:
    """The deliveries (outbox rows) of these alerts, oldest first."""
    rows = await con.fetch(
        "SELECT * FROM notification_outbox WHERE organization_id = $1 "
        "AND alert_id = ANY($2::uuid[]) ORDER BY id",
        org,
        list(alert_ids),
    )
    return [from_record(DeliveryRow, r) for r in rows]


async def due_reminders(con: asyncpg.Connection, after_seconds: float) -> list[AlertRow]:
    """CRITICAL alerts still OPEN and not notified for ``after_seconds``, locked so that one
    replica reminds of each."""
    rows = await con.fetch(
        """SELECT a.* FROM alerts a
           WHERE a.status = 'OPEN' AND a.severity = 'CRITICAL'
             AND coalesce(a.last_notified_at, a.triggered_at) < now() - make_interval(secs => $1)
           ORDER BY a.id FOR UPDATE OF a SKIP LOCKED LIMIT 200""",
        after_seconds,
    )
    return [from_record(AlertRow, r) for r in rows]
