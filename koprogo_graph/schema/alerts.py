"""GraphQL type for alerts (SPEC §5)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from ..domain.alerts import (
    AlertSeverity,
    AlertStatus,
    AlertType,
    DeliveryChannel,
    NotificationKind,
)

if TYPE_CHECKING:
    from ..store.rows import AlertRow
    from .sensors import Sensor

__all__ = [
    "Alert",
    "AlertStatistics",
    "NotificationChannel",
    "NotificationChannelInput",
    "NotificationDelivery",
    "NotificationSettings",
    "NotificationSettingsInput",
    "QuietHours",
    "QuietHoursInput",
    "SeverityCount",
    "TypeCount",
]


@strawberry.type(description="One notification of an alert (e-mail or webhook) and its delivery.")
class NotificationDelivery:
    channel: DeliveryChannel = strawberry.field(description="How it goes out.")
    kind: NotificationKind = strawberry.field(description="Why it goes out.")
    attempts: int = strawberry.field(description="Attempts so far.")
    sent_at: datetime | None = strawberry.field(
        description="When it went out; null while it has not."
    )
    next_attempt_at: datetime | None = strawberry.field(
        description="When the next attempt is due, while it has not gone out."
    )
    last_error: str | None = strawberry.field(
        description="Why the last attempt failed (never the target's address)."
    )


@strawberry.type(
    description="Something a sensor reported that a person should know: at most one unresolved alert per sensor and type (a repeat bumps occurrences)."
)
class Alert:
    id: strawberry.ID = strawberry.field(description="Identifier")
    organization_id: strawberry.ID = strawberry.field(description="Its organization.")
    building_id: strawberry.ID = strawberry.field(description="The sensor's building.")
    sensor_id: strawberry.ID = strawberry.field(description="The sensor.")
    type: AlertType = strawberry.field(description="What it is about.")
    severity: AlertSeverity = strawberry.field(
        description="How urgent (never lowered by a repeat)."
    )
    status: AlertStatus = strawberry.field(description="Where it is in its life.")
    message: str = strawberry.field(description="What happened, in words, with units.")
    triggered_at: datetime = strawberry.field(description="When it was first raised.")
    last_triggered_at: datetime = strawberry.field(description="When its condition was last seen.")
    occurrences: int = strawberry.field(
        description="How many times its condition was seen while unresolved."
    )
    reading_value: float | None = strawberry.field(
        description="The value that raised it (a meter's flow per hour for thresholds on meters), at the sensor's resolution."
    )
    threshold_value: float | None = strawberry.field(description="The limit it was compared with.")
    email_sent: bool = strawberry.field(description="Whether an e-mail about it went out.")
    sms_sent: bool = strawberry.field(description="Whether an SMS about it went out.")
    push_sent: bool = strawberry.field(
        description="Whether a push notification (or webhook) about it went out."
    )
    acknowledged_by: strawberry.ID | None = strawberry.field(description="Who acknowledged it.")
    acknowledged_at: datetime | None = strawberry.field(description="When it was acknowledged.")
    resolved_at: datetime | None = strawberry.field(description="When it was resolved.")
    resolution_note: str | None = strawberry.field(
        description="The note left when acknowledging or resolving it."
    )

    @strawberry.field(
        description="E-mail and webhook deliveries of this alert (batched per request)."
    )
    async def deliveries(self, info: strawberry.Info) -> list[NotificationDelivery]:
        from .loaders import deliveries_loader

        rows = await info.context.loader(deliveries_loader).load(uuid.UUID(str(self.id)))
        return [
            NotificationDelivery(
                channel=DeliveryChannel(r.channel),
                kind=NotificationKind(r.kind),
                attempts=r.attempts,
                sent_at=r.sent_at,
                # Sent, or cancelled (its channel removed, its alert resolved): no next attempt.
                next_attempt_at=None
                if r.sent_at or r.next_attempt_at.year >= 9999
                else r.next_attempt_at,
                last_error=r.last_error,
            )
            for r in rows
        ]

    @strawberry.field(description="The sensor (batched per request).")
    async def sensor(
        self, info: strawberry.Info
    ) -> Annotated[Sensor, strawberry.lazy(".sensors")] | None:
        from .sensors import sensor_by_id

        return await sensor_by_id(info, self.sensor_id)

    @classmethod
    def from_row(cls, row: AlertRow) -> Alert:
        """From an alerts row (stored, or carried by a live event)."""

        def opt_id(value: Any) -> strawberry.ID | None:
            return strawberry.ID(str(value)) if value else None

        return cls(
            id=strawberry.ID(str(row.id)),
            organization_id=strawberry.ID(str(row.organization_id)),
            building_id=strawberry.ID(str(row.building_id)),
            sensor_id=strawberry.ID(str(row.sensor_id)),
            type=AlertType(row.type),
            severity=AlertSeverity(row.severity),
            status=AlertStatus(row.status),
            message=row.message,
            triggered_at=row.triggered_at,
            last_triggered_at=row.last_triggered_at,
            occurrences=row.occurrences,
            reading_value=row.reading_value,
            threshold_value=row.threshold_value,
            email_sent=row.email_sent,
            sms_sent=row.sms_sent,
            push_sent=row.push_sent,
            acknowledged_by=opt_id(row.acknowledged_by),
            acknowledged_at=row.acknowledged_at,
            resolved_at=row.resolved_at,
            resolution_note=row.resolution_note,
        )


@strawberry.type(description="Alerts of one type.")
class TypeCount:
    type: AlertType = strawberry.field(description="The type.")
    count: int = strawberry.field(description="How many.")


@strawberry.type(description="Alerts of one severity.")
class SeverityCount:
    severity: AlertSeverity = strawberry.field(description="The severity.")
    count: int = strawberry.field(description="How many.")


@strawberry.type(description="Counts of alerts raised in a period.")
class AlertStatistics:
    total: int = strawberry.field(description="All of them.")
    open: int = strawberry.field(description="Still OPEN.")
    acknowledged: int = strawberry.field(description="ACKNOWLEDGED.")
    resolved: int = strawberry.field(description="RESOLVED.")
    by_type: list[TypeCount] = strawberry.field(description="Per type.")
    by_severity: list[SeverityCount] = strawberry.field(description="Per severity.")
    mean_time_to_acknowledge_seconds: float | None = strawberry.field(
        description="Mean seconds from raise to acknowledgement, over the acknowledged ones."
    )


@strawberry.type(description="Where the organization's alert notifications go.")
class NotificationSettings:
    emails: list[str] = strawberry.field(description="Addresses that get alert e-mails.")
    webhook_url: str | None = strawberry.field(description="URL that gets signed POSTs of alerts.")
    has_webhook_secret: bool = strawberry.field(
        description="Whether webhook bodies are signed (X-Koprogo-Signature)."
    )
    min_severity: AlertSeverity = strawberry.field(description="The lowest severity notified.")
    channels: list[NotificationChannel] = strawberry.field(
        description="SMS, push and other Apprise channels, in order."
    )


@strawberry.type(description="Quiet hours of a channel, every day, in the building's local time.")
class QuietHours:
    from_: str = strawberry.field(name="from", description="Start, HH:MM.")
    to: str = strawberry.field(description="End, HH:MM; at or before `from`: the next morning.")
    critical_too: bool = strawberry.field(
        description="Whether CRITICAL alerts wait too (by default they go out at once)."
    )


@strawberry.type(
    description="An Apprise channel (an SMS provider, a push app, an e-mail service...). Its URL "
    "holds credentials: it is stored encrypted and only ever shown masked."
)
class NotificationChannel:
    id: strawberry.ID = strawberry.field(description="Identifier.")
    kind: DeliveryChannel = strawberry.field(
        description="SMS, PUSH or EMAIL: the alert flag its deliveries set."
    )
    service: str = strawberry.field(description="The service, as Apprise names it (e.g. ntfy).")
    url: str = strawberry.field(description="Its URL with the secrets masked.")
    min_severity: AlertSeverity = strawberry.field(description="The least severity it gets.")
    quiet_hours: QuietHours | None = strawberry.field(
        description="When it gets nothing below CRITICAL (held until they end), if ever."
    )


@strawberry.input(description="Quiet hours of a channel, every day, in the building's local time.")
class QuietHoursInput:
    from_: str = strawberry.field(name="from", description="Start, HH:MM (local time).")
    to: str = strawberry.field(
        description="End, HH:MM (local time); at or before `from`: the next morning."
    )
    critical_too: bool = strawberry.field(
        default=False, description="Hold CRITICAL alerts too (default: they go out at once)."
    )


@strawberry.input(description="An Apprise channel: an SMS provider, a push app, an e-mail service.")
class NotificationChannelInput:
    url: str = strawberry.field(
        description="An Apprise URL (e.g. ntfys://ntfy.sh/topic, twilio://SID:token@from/to); "
        "at most 2,000 characters. Stored encrypted, shown masked."
    )
    min_severity: AlertSeverity = strawberry.field(
        default=AlertSeverity.INFO, description="The least severity it gets."
    )
    quiet_hours: QuietHoursInput | None = strawberry.field(
        default=None, description="When it gets nothing below CRITICAL."
    )


@strawberry.input(description="Where alert notifications go; the whole configuration is replaced.")
class NotificationSettingsInput:
    emails: list[str] = strawberry.field(
        default_factory=list, description="Addresses (at most 50)."
    )
    webhook_url: str | None = strawberry.field(
        default=None, description="An http(s) URL, not on a private network (null: none)."
    )
    webhook_secret: str | None = strawberry.field(
        default=None,
        description="Secret for the HMAC-SHA256 signature of webhook bodies (at most 256 characters).",
    )
    min_severity: AlertSeverity = strawberry.field(
        default=AlertSeverity.WARNING,
        description="The lowest severity notified by e-mail and webhook.",
    )
    channels: list[NotificationChannelInput] | None = strawberry.field(
        default=strawberry.UNSET,
        description="Apprise channels (at most 10), in order; left out: they stay as they are "
        "(an unchanged URL keeps its channel and what is queued for it).",
    )
