"""Alert vocabulary (SPEC §5)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["AlertSeverity", "AlertStatus", "AlertType"]


class AlertType(StrEnum):
    THRESHOLD_EXCEEDED = "THRESHOLD_EXCEEDED"
    ANOMALY_DETECTED = "ANOMALY_DETECTED"
    SENSOR_OFFLINE = "SENSOR_OFFLINE"
    LOW_BATTERY = "LOW_BATTERY"
    SENSOR_FAULTY = "SENSOR_FAULTY"
    LEAK_DETECTED = "LEAK_DETECTED"


class AlertSeverity(StrEnum):
    INFO = "INFO"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {AlertSeverity.INFO: 0, AlertSeverity.WARNING: 1, AlertSeverity.CRITICAL: 2}


class AlertStatus(StrEnum):
    OPEN = "OPEN"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    RESOLVED = "RESOLVED"
