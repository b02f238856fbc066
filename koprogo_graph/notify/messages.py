"""What a notification says: the webhook's JSON body and its signature, the e-mail."""

from __future__ import annotations

import hashlib
import hmac
import json
from email.message import EmailMessage
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..store.notifications import DueDelivery

__all__ = ["email_message", "plain_text", "sign", "webhook_body"]


def webhook_body(row: DueDelivery) -> bytes:
    """The JSON POSTed to a webhook: the alert, and whether it is a reminder."""
    return json.dumps(
        {
            "event": "alert.reminder" if row.kind == "reminder" else "alert",
            "alert": {
                "id": str(row.id),
                "organizationId": str(row.organization_id),
                "buildingId": str(row.building_id),
                "sensorId": str(row.sensor_id),
                "deviceId": row.device_id,
                "type": row.type,
                "severity": row.severity,
                "status": row.status,
                "message": row.message,
                "readingValue": row.reading_value,
                "thresholdValue": row.threshold_value,
                "occurrences": row.occurrences,
                "triggeredAt": row.triggered_at.isoformat(),
            },
        },
        separators=(",", ":"),
    ).encode()


def sign(body: bytes, secret: str) -> str:
    """``X-Koprogo-Signature``: ``sha256=<hex HMAC-SHA256 of the raw body>`` (SPEC §10)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def plain_text(row: DueDelivery) -> tuple[str, str]:
    """(title, body) for an SMS or a push: short, the title first."""
    reminder = "Reminder: " if row.kind == "reminder" else ""
    title = f"{reminder}[{row.severity}] {row.type} {row.device_id}"
    body = f"{row.message} ({row.sensor_location}, building {row.building_id})"
    return title[:250], body[:1000]


def email_message(row: DueDelivery, sender: str) -> EmailMessage:
    reminder = "Rappel / Reminder: " if row.kind == "reminder" else ""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(row.emails or [])
    message["Subject"] = (
        f"{reminder}[{row.severity}] {row.type} — {row.device_id} ({row.sensor_location})"
    )
    message.set_content(
        f"{row.message}\n\n"
        f"Sensor: {row.device_id} ({row.sensor_location})\n"
        f"Building: {row.building_id}\n"
        f"Severity: {row.severity}   Status: {row.status}   Occurrences: {row.occurrences}\n"
        f"Triggered at: {row.triggered_at.isoformat()}\n"
        f"Alert id: {row.id}\n"
    )
    return message
