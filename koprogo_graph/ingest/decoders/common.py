"""What every decoder returns, and the small readings of JSON they share."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ...domain.payload import Rejection, RejectReason

__all__ = ["Decoded", "Ignored", "battery_of", "invalid", "number", "parse_time", "signal_of"]


@dataclass(frozen=True, slots=True)
class Decoded:
    """A device's message: the ids it may be bound by (the first one bound wins), the JSON
    object its sensors' metrics are read from, and what else it says."""

    external_ids: tuple[str, ...]
    document: Mapping[str, Any]
    ts: datetime | None = None  # aware; or naive local time (the building's); None: receipt
    battery: int | None = None  # percent
    signal: int | None = None  # dBm
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Ignored:
    """A message of the product that carries no measurement (and is no error)."""

    why: str


def invalid(detail: str) -> Rejection:
    return Rejection(RejectReason.INVALID_FIELDS, detail)


def number(value: Any) -> float | None:
    """A finite JSON number (not a boolean), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        result = float(value)
    except OverflowError:  # an integer of hundreds of digits
        return None
    return result if math.isfinite(result) else None


def battery_of(value: Any) -> int | None:
    """A battery percentage a person could believe (0-100), else None (Zigbee reports 255 for
    "unknown", some firmwares 101)."""
    level = number(value)
    return round(level) if level is not None and 0 <= level <= 100 else None


def signal_of(value: Any) -> int | None:
    """A received signal strength in dBm a radio can have (-200 to 30), else None."""
    dbm = number(value)
    return round(dbm) if dbm is not None and -200 <= dbm <= 30 else None


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 / RFC 3339 time (nanoseconds cut to microseconds, a trailing Z read as
    UTC), or a Unix time in seconds; None when it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = float(value)
        if not math.isfinite(seconds) or not 0 < seconds < 32_503_680_000:  # before year 3000
            return None
        if seconds > 1e11:  # milliseconds (Zigbee2MQTT's last_seen "epoch")
            seconds /= 1000
        return datetime.fromtimestamp(seconds, UTC)
    if not isinstance(value, str) or not 10 <= len(value) <= 40:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    if "." in text:  # fractions beyond microseconds (The Things Stack sends nanoseconds)
        head, _, rest = text.partition(".")
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[: min(digits, 6)]:0<6}{rest[digits:]}"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None
