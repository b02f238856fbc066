"""Device payloads (SPEC §6): bytes in, typed readings or precise rejections out.

A payload is one JSON object ``{"timestamp", "value", "battery_level"?, "signal_strength"?}``
or an array of them (a device that buffered while offline). Each item stands or falls alone.
Python's json accepts NaN/Infinity and turns 1e400 into inf: both are refused here.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypedDict, TypeGuard

from .sensors import MAX_READING_VALUE

__all__ = [
    "MAX_ITEMS",
    "MAX_PAYLOAD_BYTES",
    "DevicePayload",
    "DeviceReading",
    "RejectReason",
    "Rejection",
    "check_reading",
    "load_json",
    "parse_payload",
]

MAX_PAYLOAD_BYTES = 64 * 1024
MAX_ITEMS = 1_000
MAX_FUTURE = timedelta(minutes=5)


class DevicePayload(TypedDict, total=False):
    """One reading on the wire."""

    timestamp: str  # RFC 3339 with an offset
    value: float
    battery_level: int  # 0-100
    signal_strength: int  # dBm


class RejectReason(StrEnum):
    """Why a message or reading was refused; the label of koprogo_readings_rejected_total."""

    BAD_TOPIC = "bad_topic"
    BAD_ID = "bad_id"
    UNKNOWN_SENSOR = "unknown_sensor"
    BUILDING_MISMATCH = "building_mismatch"
    SENSOR_INACTIVE = "sensor_inactive"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    INVALID_JSON = "invalid_json"
    INVALID_FIELDS = "invalid_fields"
    NON_FINITE = "non_finite_value"
    VALUE_OUT_OF_RANGE = "value_out_of_range"
    NEGATIVE_CUMULATIVE = "negative_cumulative"
    BATTERY_OUT_OF_RANGE = "battery_out_of_range"
    SIGNAL_OUT_OF_RANGE = "signal_out_of_range"
    TIMESTAMP_IN_FUTURE = "timestamp_in_future"
    TIMESTAMP_TOO_OLD = "timestamp_too_old"
    RATE_LIMITED = "rate_limited"
    UNBOUND_DEVICE = "unbound_device"
    UNKNOWN_METRIC = "unknown_metric"
    INTERNAL = "internal_error"


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: RejectReason
    detail: str


@dataclass(frozen=True, slots=True)
class DeviceReading:
    """A well-formed reading as the device reported it (raw, uncalibrated)."""

    ts: datetime
    raw_value: float
    battery_level: int | None
    signal_strength: int | None


class _NonFinite(ValueError):
    pass


def _refuse_constant(name: str) -> float:
    raise _NonFinite(name)


def load_json(payload: bytes) -> Any:
    """A message's JSON, or the Rejection saying why it is none: too large, not JSON, or
    holding NaN or Infinity (which Python's json would accept)."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        return Rejection(
            RejectReason.PAYLOAD_TOO_LARGE, f"{len(payload)} bytes > {MAX_PAYLOAD_BYTES}"
        )
    try:
        return json.loads(payload, parse_constant=_refuse_constant)
    except _NonFinite as exc:
        return Rejection(RejectReason.NON_FINITE, f"{exc} is not a number")
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        return Rejection(RejectReason.INVALID_JSON, str(exc)[:200])


def parse_payload(
    payload: bytes, *, now: datetime, retention: timedelta
) -> list[DeviceReading | Rejection]:
    """Parse a payload into readings and rejections, in payload order.

    A payload that is not usable at all (too large, not JSON, wrong shape) yields exactly one
    rejection.
    """
    document = load_json(payload)
    if isinstance(document, Rejection):
        return [document]
    if isinstance(document, dict):
        items: list[Any] = [document]
    elif isinstance(document, list) and 0 < len(document) <= MAX_ITEMS:
        items = document
    else:
        return [
            Rejection(
                RejectReason.INVALID_FIELDS,
                f"expected an object or an array of 1 to {MAX_ITEMS} objects",
            )
        ]
    return [_parse_item(item, now, retention) for item in items]


def _parse_item(item: Any, now: datetime, retention: timedelta) -> DeviceReading | Rejection:
    if not isinstance(item, dict):
        return Rejection(RejectReason.INVALID_FIELDS, "a reading must be a JSON object")
    value = item.get("value")
    if not _is_number(value):
        return Rejection(RejectReason.INVALID_FIELDS, "value must be a number")
    stamp = item.get("timestamp")
    if not isinstance(stamp, str) or len(stamp) > 40:
        return Rejection(RejectReason.INVALID_FIELDS, "timestamp must be an RFC 3339 string")
    try:
        ts = datetime.fromisoformat(stamp)
    except ValueError:
        return Rejection(RejectReason.INVALID_FIELDS, "timestamp is not RFC 3339")
    if ts.tzinfo is None or "T" not in stamp.upper():
        return Rejection(
            RejectReason.INVALID_FIELDS, "timestamp needs a date, a time and an offset"
        )
    battery = item.get("battery_level")
    if battery is not None and not _is_integral(battery):
        return Rejection(RejectReason.INVALID_FIELDS, "battery_level must be an integer")
    signal = item.get("signal_strength")
    if signal is not None and not _is_integral(signal):
        return Rejection(RejectReason.INVALID_FIELDS, "signal_strength must be an integer (dBm)")
    return check_reading(ts, value, battery, signal, now=now, retention=retention)


def check_reading(
    ts: datetime,
    value: int | float,
    battery: int | float | None,
    signal: int | float | None,
    *,
    now: datetime,
    retention: timedelta,
) -> DeviceReading | Rejection:
    """A reading's checks, whoever decoded it (our JSON, or a vendor's): a finite value within
    bounds, a timestamp neither ahead of the clock nor older than the retention, a battery level
    and a signal strength that can be true."""
    if isinstance(value, float) and not math.isfinite(value):
        return Rejection(RejectReason.NON_FINITE, "value is not finite")
    if not -MAX_READING_VALUE <= value <= MAX_READING_VALUE:  # exact for any int, however large
        return Rejection(RejectReason.VALUE_OUT_OF_RANGE, f"|value| is above {MAX_READING_VALUE:g}")
    if ts > now + MAX_FUTURE:
        return Rejection(
            RejectReason.TIMESTAMP_IN_FUTURE, f"{ts.isoformat()} is ahead of the server clock"
        )
    if ts < now - retention:
        return Rejection(
            RejectReason.TIMESTAMP_TOO_OLD, f"{ts.isoformat()} is older than the retention"
        )
    if battery is not None and not 0 <= battery <= 100:
        return Rejection(RejectReason.BATTERY_OUT_OF_RANGE, f"battery_level {battery} not in 0-100")
    if signal is not None and not -200 <= signal <= 30:
        return Rejection(RejectReason.SIGNAL_OUT_OF_RANGE, f"signal_strength {signal} dBm")
    return DeviceReading(
        ts=ts,
        raw_value=float(value),
        battery_level=None if battery is None else int(battery),
        signal_strength=None if signal is None else int(signal),
    )


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_integral(value: Any) -> bool:
    # An int compares exactly whatever its size; float() of 10**400 would overflow.
    if isinstance(value, int):
        return not isinstance(value, bool)
    return isinstance(value, float) and math.isfinite(value) and value.is_integer()
