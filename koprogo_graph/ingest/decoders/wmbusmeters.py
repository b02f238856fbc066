"""Wireless M-Bus meters read by wmbusmeters, from its docs (github.com/wmbusmeters/wmbusmeters,
README "Output" and the drivers' fields).

wmbusmeters publishes each telegram's JSON with its shell hook, e.g.
``mosquitto_pub -t koprogo/<org>/<building>/wmbusmeters/$METER_NAME -m "$METER_JSON"``:

    {"_": "telegram", "media": "cold water", "meter": "multical21", "name": "Cave 3B",
     "id": "76348799", "total_m3": 6.408, "target_m3": 6.408, "current_status": "DRY",
     "timestamp": "2026-12-02T09:15:00Z", "rssi_dbm": -64}

The meter is known by the telegram's ``id`` (its wM-Bus address), not by the topic's name;
``timestamp`` dates it; ``rssi_dbm`` is its signal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...domain.payload import Rejection
from .common import Decoded, Ignored, invalid, parse_time, signal_of

__all__ = ["decode"]


def decode(levels: Sequence[str], message: Any) -> Decoded | Ignored | Rejection:
    if not isinstance(message, Mapping):
        return invalid("a wmbusmeters telegram is a JSON object")
    if message.get("_", "telegram") != "telegram":
        return Ignored(str(message.get("_"))[:40])
    meter = message.get("id")
    if not isinstance(meter, str) or not meter.strip():
        return invalid("a wmbusmeters telegram has an id")
    return Decoded(
        (meter.strip(),),
        message,
        ts=parse_time(message.get("timestamp")),
        signal=signal_of(message.get("rssi_dbm")),
    )
