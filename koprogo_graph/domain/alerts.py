"""Alert vocabulary (SPEC §5)."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "AlertSeverity",
    "AlertStatus",
    "AlertType",
    "DeliveryChannel",
    "ManualReadingSource",
    "NotificationKind",
]


class AlertType(StrEnum):
    THRESHOLD_EXCEEDED = "THRESHOLD_EXCEEDED"
    ANOMALY_DETECTED = "ANOMALY_DETECTED"
    SENSOR_OFFLINE = "SENSOR_OFFLINE"
    LOW_BATTERY = "LOW_BATTERY"
    SENSOR_FAULTY = "SENSOR_FAULTY"
    LEAK_DETECTED = "LEAK_DETECTED"
    INTRUSION_DETECTED = "INTRUSION_DETECTED"


class AlertSeverity(StrEnum):
    INFO = "INFO"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"

    @property
    def rank(self) -> int:
        """The one severity order (least first: the members' order above)."""
        return _RANK[self]


_RANK = {severity: rank for rank, severity in enumerate(AlertSeverity)}


class AlertStatus(StrEnum):
    OPEN = "OPEN"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    RESOLVED = "RESOLVED"


class DeliveryChannel(StrEnum):
    """How a notification goes out (notification_outbox.channel)."""

    EMAIL = "email"
    WEBHOOK = "webhook"
    SMS = "sms"
    PUSH = "push"


class NotificationKind(StrEnum):
    """Why a notification goes out (notification_outbox.kind)."""

    ALERT = "alert"
    REMINDER = "reminder"


class ManualReadingSource(StrEnum):
    """Who read a meter by hand (manual_readings.source)."""

    ISTA = "ISTA"
    TECHEM = "TECHEM"
    BRUNATA = "BRUNATA"
    CALORIBEL = "CALORIBEL"
    KALO = "KALO"
    SYNDIC = "SYNDIC"
    TECHNICIAN = "TECHNICIAN"
    OTHER = "OTHER"

    @classmethod
    def of(cls, stored: str) -> ManualReadingSource:
        """A stored source; free text recorded before sources were a fixed set reads OTHER."""
        try:
            return cls(stored.strip().upper())
        except ValueError:
            return cls.OTHER
