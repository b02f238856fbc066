"""Reading quality from battery level and radio signal (SPEC §5)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Quality", "grade"]


class Quality(StrEnum):
    GOOD = "GOOD"
    WARNING = "WARNING"
    POOR = "POOR"


def grade(battery_level: int | None, signal_strength: int | None) -> Quality:
    """POOR below 10 % battery or -100 dBm; WARNING below 20 % or -80 dBm; else GOOD."""
    battery = 100 if battery_level is None else battery_level
    rssi = 0 if signal_strength is None else signal_strength
    if battery < 10 or rssi < -100:
        return Quality.POOR
    if battery < 20 or rssi < -80:
        return Quality.WARNING
    return Quality.GOOD
