"""Zigbee devices through Zigbee2MQTT, from its docs (zigbee2mqtt.io, "MQTT topics and
messages", and each device's exposes).

Its base_topic is set to ``koprogo/<org>/<building>/zigbee2mqtt``; each device then publishes
its state on ``<base>/<friendly name>`` (a friendly name may itself hold slashes):

    {"temperature": 21.4, "humidity": 51.2, "battery": 97, "linkquality": 120}
    {"contact": false, "battery": 100}     (a door sensor: contact true means closed)
    {"occupancy": true}                    (a motion sensor)
    {"co2": 650}                           (an air quality sensor)
    {"current_summ_delivered": 12345.678}  (ZLinky: the Linky's index, kWh)

``battery`` is a percentage; ``linkquality`` (0-255) is no dBm and is not kept; ``last_seen``,
when Zigbee2MQTT is set to send it, dates the message. ``bridge/...``, ``.../availability``,
``.../set`` and ``.../get`` carry no measurement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...domain.payload import Rejection
from .common import Decoded, Ignored, battery_of, invalid, parse_time

__all__ = ["decode"]

_NOT_STATE = frozenset({"availability", "set", "get"})


def decode(levels: Sequence[str], message: Any) -> Decoded | Ignored | Rejection:
    if not levels or not all(levels):
        return invalid("expected zigbee2mqtt/<friendly name>")
    if levels[0] == "bridge":
        return Ignored("bridge")
    if levels[-1] in _NOT_STATE:
        return Ignored(levels[-1])
    if not isinstance(message, Mapping):
        return invalid("a Zigbee2MQTT device state is a JSON object")
    last_seen = parse_time(message.get("last_seen"))
    return Decoded(
        ("/".join(levels),),
        message,
        ts=last_seen if last_seen is not None and last_seen.tzinfo is not None else None,
        battery=battery_of(message.get("battery")),
    )
