"""Tasmota devices over MQTT, from Tasmota's docs (tasmota.github.io/docs, "MQTT" and
"Commands": TelePeriod, FullTopic).

The device's FullTopic is set to ``koprogo/<org>/<building>/tasmota/%prefix%/%topic%/``; its
telemetry then arrives every TelePeriod on ``tasmota/tele/<topic>/SENSOR``:

    {"Time": "2026-12-02T09:15:00", "ENERGY": {"Total": 123.456, "Power": 45, ...},
     "DS18B20": {"Id": "01193A4B1C2D", "Temperature": 21.5}, "TempUnit": "C"}

(energy in kWh). ``Time`` is the device's local time without an offset: it is read in the
building's time zone. STATE, LWT, stat/ and cmnd/ carry no measurement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...domain.payload import Rejection
from .common import Decoded, Ignored, invalid, parse_time

__all__ = ["decode"]


def decode(levels: Sequence[str], message: Any) -> Decoded | Ignored | Rejection:
    if len(levels) != 3 or levels[0] != "tele" or levels[2] != "SENSOR":
        if len(levels) >= 2 and levels[0] in ("tele", "stat", "cmnd"):
            return Ignored("/".join([levels[0], *levels[2:]])[:60])
        return invalid("expected tasmota/tele/<topic>/SENSOR")
    if not levels[1]:
        return invalid("the Tasmota topic is empty")
    if not isinstance(message, Mapping):
        return invalid("a Tasmota SENSOR message is a JSON object")
    return Decoded((levels[1],), message, ts=parse_time(message.get("Time")))
