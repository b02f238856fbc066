"""Alerts as a syndic sees and handles them, and where notifications go."""

from __future__ import annotations

import re
import uuid
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any

import asyncpg
import strawberry

from ..alerts.actions import follow
from ..domain.alerts import AlertSeverity, AlertStatus, AlertType, DeliveryChannel
from ..domain.routing import Route, parse_quiet_hours
from ..domain.sensors import clean
from ..errors import BadUserInput, NotFound
from ..notify.channels import ChannelUrlError, inspect_url
from ..notify.secretbox import SecretBox, UnreadableSecret
from ..notify.targets import RefusedTarget, check_webhook_url
from ..realtime.publish import publish_alerts, publish_sensors
from ..schema.alerts import (
    Alert,
    AlertStatistics,
    NotificationChannel,
    NotificationChannelInput,
    NotificationSettings,
    NotificationSettingsInput,
    QuietHours,
    SeverityCount,
    TypeCount,
)
from ..schema.context import Context
from ..schema.pagination import Connection, decode_keyset, encode_cursor, page_size
from ..store import alerts as store
from ..store import notifications as notifications_store
from ..store.rows import NotificationSettingsRow
from ._args import field_errors, parse_id, parse_optional_id

__all__ = ["AlertMutation", "AlertQuery"]

Info = strawberry.Info[Context, None]
BuildingFilter = Annotated[
    strawberry.ID | None, strawberry.argument(description="Only this building's.")
]
RaisedFrom = Annotated[
    datetime | None,
    strawberry.argument(name="from", description="Raised at or after this instant."),
]
AlertIdArg = Annotated[strawberry.ID, strawberry.argument(description="The alert's id.")]
NoteArg = Annotated[
    str | None, strawberry.argument(description="A note (at most 2,000 characters).")
]
RaisedBefore = Annotated[
    datetime | None, strawberry.argument(description="Raised before this instant.")
]
MAX_EMAILS = 50
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _filters(info: Info, **given: Any) -> dict[str, Any]:
    f = {k: (v.value if hasattr(v, "value") else v) for k, v in given.items() if v is not None}
    if "building_id" in f:
        f["building_id"] = parse_optional_id(f["building_id"], "buildingId")
    if "sensor_id" in f:
        f["sensor_id"] = parse_optional_id(f["sensor_id"], "sensorId")
    if f.get("from") and f.get("to") and f["from"] >= f["to"]:
        raise BadUserInput("from", "must be before 'to'")
    return f


@strawberry.type
class AlertQuery:
    @strawberry.field(description="An alert of your organization, or null.")
    async def alert(
        self,
        info: Info,
        id: AlertIdArg,
    ) -> Alert | None:
        org = info.context.viewer.org()
        async with info.context.tenant(org) as con:
            row = await store.get(con, org, parse_id(id))
        return Alert.from_row(row) if row else None

    @strawberry.field(description="Your organization's alerts, newest first.")
    async def alerts(
        self,
        info: Info,
        status: Annotated[
            AlertStatus | None, strawberry.argument(description="Only this status.")
        ] = None,
        severity: Annotated[
            AlertSeverity | None, strawberry.argument(description="Only this severity.")
        ] = None,
        type: Annotated[
            AlertType | None, strawberry.argument(description="Only this type.")
        ] = None,
        building_id: BuildingFilter = None,
        sensor_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this sensor's.")
        ] = None,
        from_: RaisedFrom = None,
        to: RaisedBefore = None,
        first: Annotated[int, strawberry.argument(description="Page size (at most 500).")] = 50,
        after: Annotated[
            str | None,
            strawberry.argument(description="Cursor of the alert after which the page starts."),
        ] = None,
    ) -> Connection[Alert]:
        org = info.context.viewer.org()
        limit = page_size(first, info.context.settings.max_page_size)
        filters = _filters(
            info,
            status=status,
            severity=severity,
            type=type,
            building_id=building_id,
            sensor_id=sensor_id,
            **{"from": from_, "to": to},
        )
        keyset = decode_keyset(after)
        async with info.context.tenant(org) as con:
            total, rows = await store.list_page(con, org, filters, limit=limit + 1, after=keyset)
        return Connection.of(
            rows,
            limit=limit,
            total=total,
            after=after,
            cursor=lambda r: encode_cursor(r.triggered_at.isoformat(), r.id),
            node=Alert.from_row,
        )

    @strawberry.field(description="Counts of your organization's alerts.")
    async def alert_statistics(
        self,
        info: Info,
        building_id: BuildingFilter = None,
        from_: RaisedFrom = None,
        to: RaisedBefore = None,
    ) -> AlertStatistics:
        org = info.context.viewer.org()
        filters = _filters(info, building_id=building_id, **{"from": from_, "to": to})
        async with info.context.tenant(org) as con:
            stats = await store.statistics(con, org, filters)
        return AlertStatistics(
            total=stats.total,
            open=stats.open,
            acknowledged=stats.acknowledged,
            resolved=stats.resolved,
            by_type=[TypeCount(type=AlertType(t), count=n) for t, n in stats.by_type],
            by_severity=[
                SeverityCount(severity=AlertSeverity(s), count=n) for s, n in stats.by_severity
            ],
            mean_time_to_acknowledge_seconds=clean(stats.mean_seconds_to_acknowledge, 1),
        )

    @strawberry.field(description="Where your organization's alert notifications go.")
    async def notification_settings(self, info: Info) -> NotificationSettings | None:
        org = info.context.viewer.require_manager()
        async with info.context.tenant(org) as con:
            row = await notifications_store.get_settings(con, org)
            channels = await notifications_store.channels_of(con, org)
        return _settings(row, channels) if row or channels else None


def _settings(
    row: NotificationSettingsRow | None, channels: list[notifications_store.ChannelRow]
) -> NotificationSettings:
    return NotificationSettings(
        emails=list(row.emails) if row else [],
        webhook_url=row.webhook_url if row else None,
        has_webhook_secret=bool(row.webhook_secret) if row else False,
        min_severity=AlertSeverity(row.min_severity) if row else AlertSeverity.WARNING,
        channels=[_channel(c) for c in channels],
    )


def _channel(row: notifications_store.ChannelRow) -> NotificationChannel:
    quiet = row.route.quiet
    return NotificationChannel(
        id=strawberry.ID(str(row.id)),
        kind=DeliveryChannel(row.kind),
        service=row.service,
        url=row.masked_url,
        min_severity=row.route.min_severity,
        quiet_hours=QuietHours(
            from_=quiet.start.strftime("%H:%M"),
            to=quiet.end.strftime("%H:%M"),
            critical_too=quiet.critical_too,
        )
        if quiet
        else None,
    )


MAX_CHANNELS = 10


async def _channels(
    info: Info, given: list[NotificationChannelInput]
) -> list[notifications_store.NewChannel]:
    """The channels given, checked (BAD_USER_INPUT names channels[i].url and never quotes
    it) and sealed."""
    if len(given) > MAX_CHANNELS:
        raise BadUserInput("channels", f"at most {MAX_CHANNELS}")
    settings = info.context.settings
    box = SecretBox(settings.channel_key)
    channels = []
    seen: set[str] = set()
    for i, c in enumerate(given):
        if c.url in seen:  # one channel, one route: two would merge into one silently
            raise BadUserInput(f"channels[{i}].url", "is already given above")
        seen.add(c.url)
        try:
            found = await inspect_url(c.url, allow_private=settings.webhook_allow_private)
        except ChannelUrlError as exc:
            raise BadUserInput(f"channels[{i}].url", str(exc)) from None
        quiet = None
        if c.quiet_hours is not None:
            with field_errors():
                quiet = parse_quiet_hours(
                    c.quiet_hours.from_,
                    c.quiet_hours.to,
                    c.quiet_hours.critical_too,
                    f"channels[{i}].quietHours",
                )
        channels.append(
            notifications_store.NewChannel(
                url_sealed=box.seal(c.url),
                kind=found.kind,
                service=found.service[:100],
                masked_url=found.masked[:4000],
                route=Route(c.min_severity, quiet),
            )
        )
    return channels


async def _kept(
    con: asyncpg.Connection,
    org: uuid.UUID,
    box: SecretBox,
    channels: list[notifications_store.NewChannel],
) -> list[notifications_store.NewChannel]:
    """The channels, each unchanged one in service marked to be kept (its id and queue): read
    in the transaction that replaces them, so two configurations cannot both keep one."""
    in_service = {}
    for row, sealed in await notifications_store.sealed_channels(con, org):
        try:
            in_service[box.open(sealed)] = row.id
        except UnreadableSecret:  # the key changed: that channel is configured anew
            continue
    return [replace(c, keep=in_service.get(box.open(c.url_sealed))) for c in channels]


async def _transition(info: Info, id: strawberry.ID, note: str | None, change) -> Alert:
    viewer = info.context.viewer
    org = viewer.require_manager()
    if note is not None and len(note) > 2000:
        raise BadUserInput("note", "must be at most 2000 characters")
    async with info.context.tenant(org) as con:
        row = await change(con, org, parse_id(id), viewer.user_id, note)
        moved = await follow(con, [row]) if row is not None else []
    if row is None:
        raise NotFound("Alert")
    await publish_alerts(info.context.broadcast, [row])
    await publish_sensors(info.context.broadcast, moved)
    return Alert.from_row(row)


@strawberry.type
class AlertMutation:
    @strawberry.mutation(description="Take an alert in hand (syndic, superadmin).")
    async def acknowledge_alert(
        self,
        info: Info,
        id: AlertIdArg,
        note: NoteArg = None,
    ) -> Alert:
        return await _transition(info, id, note, store.acknowledge)

    @strawberry.mutation(description="Close an alert (syndic, superadmin).")
    async def resolve_alert(
        self,
        info: Info,
        id: AlertIdArg,
        note: NoteArg = None,
    ) -> Alert:
        return await _transition(info, id, note, store.resolve)

    @strawberry.mutation(description="Set where alert notifications go (syndic, superadmin).")
    async def configure_notifications(
        self,
        info: Info,
        input: Annotated[
            NotificationSettingsInput, strawberry.argument(description="The whole configuration.")
        ],
    ) -> NotificationSettings:
        org = info.context.viewer.require_manager()
        if len(input.emails) > MAX_EMAILS:
            raise BadUserInput("emails", f"at most {MAX_EMAILS} addresses")
        emails = [e.strip() for e in input.emails]
        for i, email in enumerate(emails):
            if len(email) > 254 or not _EMAIL.match(email):
                raise BadUserInput(f"emails[{i}]", "is not an e-mail address")
        if input.webhook_secret is not None and len(input.webhook_secret) > 256:
            raise BadUserInput("webhookSecret", "must be at most 256 characters")
        if input.webhook_url is not None:
            try:
                await check_webhook_url(
                    input.webhook_url,
                    allow_private=info.context.settings.webhook_allow_private,
                )
            except RefusedTarget as exc:
                raise BadUserInput("webhookUrl", str(exc)) from None
        channels = (
            None
            if input.channels is strawberry.UNSET
            else await _channels(info, input.channels or [])
        )
        async with info.context.tenant(org) as con:
            row = await notifications_store.save_settings(
                con,
                org,
                {
                    "emails": emails,
                    "webhook_url": input.webhook_url,
                    "webhook_secret": input.webhook_secret,
                    "min_severity": input.min_severity.value,
                },
            )
            if channels is None:  # left out: the channels stay as they are
                stored = await notifications_store.channels_of(con, org)
            else:
                box = SecretBox(info.context.settings.channel_key)
                kept = await _kept(con, org, box, channels)
                stored = await notifications_store.replace_channels(con, org, kept)
        return _settings(row, stored)
