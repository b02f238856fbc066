"""GraphQL type for alerts (SPEC §5)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

if TYPE_CHECKING:
    from .sensors import Sensor

from ..domain.alerts import AlertSeverity, AlertStatus, AlertType
from .pagination import PageInfo

__all__ = [
    "Alert",
    "AlertConnection",
    "AlertEdge",
    "AlertStatistics",
    "NotificationDelivery",
    "NotificationSettings",
    "NotificationSettingsInput",
    "SeverityCount",
    "TypeCount",
]


@strawberry.type(description="One notification of an alert (e-mail or webhook) and its delivery.")
class NotificationDelivery:
    channel: str
    kind: str
    attempts: int
    sent_at: datetime | None
    next_attempt_at: datetime | None
    last_error: str | None


@strawberry.type
class Alert:
    id: strawberry.ID
    organization_id: strawberry.ID
    building_id: strawberry.ID
    sensor_id: strawberry.ID
    type: AlertType
    severity: AlertSeverity
    status: AlertStatus
    message: str
    triggered_at: datetime
    last_triggered_at: datetime
    occurrences: int
    reading_value: float | None
    threshold_value: float | None
    email_sent: bool
    sms_sent: bool
    push_sent: bool
    acknowledged_by: strawberry.ID | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    resolution_note: str | None

    @strawberry.field(
        description="E-mail and webhook deliveries of this alert (batched per request)."
    )
    async def deliveries(self, info: strawberry.Info) -> list[NotificationDelivery]:
        from .loaders import deliveries_loader

        rows = await info.context.loader(deliveries_loader).load(uuid.UUID(str(self.id)))
        return [
            NotificationDelivery(
                channel=r["channel"],
                kind=r["kind"],
                attempts=r["attempts"],
                sent_at=r["sent_at"],
                next_attempt_at=None if r["sent_at"] else r["next_attempt_at"],
                last_error=r["last_error"],
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
    def from_row(cls, row: Any) -> Alert:
        """From an alerts row (or restore_row() of a live event's payload)."""

        def opt_id(value: Any) -> strawberry.ID | None:
            return strawberry.ID(str(value)) if value else None

        return cls(
            id=strawberry.ID(str(row["id"])),
            organization_id=strawberry.ID(str(row["organization_id"])),
            building_id=strawberry.ID(str(row["building_id"])),
            sensor_id=strawberry.ID(str(row["sensor_id"])),
            type=AlertType(row["type"]),
            severity=AlertSeverity(row["severity"]),
            status=AlertStatus(row["status"]),
            message=row["message"],
            triggered_at=row["triggered_at"],
            last_triggered_at=row["last_triggered_at"],
            occurrences=row["occurrences"],
            reading_value=row["reading_value"],
            threshold_value=row["threshold_value"],
            email_sent=row["email_sent"],
            sms_sent=row["sms_sent"],
            push_sent=row["push_sent"],
            acknowledged_by=opt_id(row["acknowledged_by"]),
            acknowledged_at=row["acknowledged_at"],
            resolved_at=row["resolved_at"],
            resolution_note=row["resolution_note"],
        )


@strawberry.type
class AlertEdge:
    cursor: str
    node: Alert


@strawberry.type
class AlertConnection:
    total_count: int
    edges: list[AlertEdge]
    page_info: PageInfo


@strawberry.type
class TypeCount:
    type: AlertType
    count: int


@strawberry.type
class SeverityCount:
    severity: AlertSeverity
    count: int


@strawberry.type
class AlertStatistics:
    total: int
    open: int
    acknowledged: int
    resolved: int
    by_type: list[TypeCount]
    by_severity: list[SeverityCount]
    mean_time_to_acknowledge_seconds: float | None


@strawberry.type
class NotificationSettings:
    emails: list[str]
    webhook_url: str | None
    has_webhook_secret: bool
    min_severity: AlertSeverity


@strawberry.input
class NotificationSettingsInput:
    emails: list[str] = strawberry.field(default_factory=list)
    webhook_url: str | None = None
    webhook_secret: str | None = None
    min_severity: AlertSeverity = AlertSeverity.WARNING
