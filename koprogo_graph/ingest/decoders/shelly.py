"""Shelly Gen2+ devices over MQTT (Plus/Pro series, Plus H&T...), from Shelly's API docs
(shelly-api-docs.shelly.cloud, "MQTT" and "Notifications").

The device's MQTT prefix is set to ``koprogo/<org>/<building>/shelly/<device id>``; it then
publishes:

* ``<prefix>/status/<component>``: a component's whole status, e.g. ``status/switch:0``
  ``{"id": 0, "apower": 12.5, "aenergy": {"total": 1234.567, ...}, ...}`` (energy in Wh),
  ``status/temperature:0`` ``{"id": 0, "tC": 21.3, "tF": 70.3}``, ``status/humidity:0``
  ``{"id": 0, "rh": 52.1}``, ``status/devicepower:0`` (battery);
* ``<prefix>/events/rpc``: notifications; ``NotifyStatus`` and ``NotifyFullStatus`` carry
  ``params``: ``{"ts": 1700000000.12, "switch:0": {...changed fields...}}``.

Either way the document is ``{component: status}``, so one metric (``switch:0.aenergy.total``)
reads both. The time is ``params.ts`` in a notification, else the time of receipt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...domain.payload import Rejection
from .common import Decoded, Ignored, battery_of, invalid, parse_time

__all__ = ["decode"]

_NOTIFICATIONS = frozenset({"NotifyStatus", "NotifyFullStatus"})


def decode(levels: Sequence[str], message: Any) -> Decoded | Ignored | Rejection:
    if len(levels) < 2 or not levels[0]:
        return invalid("expected shelly/<device id>/status/<component> or .../events/rpc")
    device, rest = levels[0], list(levels[1:])
    if rest[:1] == ["status"] and len(rest) == 2:
        if not isinstance(message, Mapping):
            return invalid("a Shelly status is a JSON object")
        document = {rest[1]: message}
        return Decoded((device,), document, battery=_battery(document))
    if rest == ["events", "rpc"]:
        if not isinstance(message, Mapping):
            return invalid("a Shelly notification is a JSON object")
        if message.get("method") not in _NOTIFICATIONS:
            return Ignored(f"notification {str(message.get('method'))[:40]}")
        params = message.get("params")
        if not isinstance(params, Mapping):
            return invalid("NotifyStatus without params")
        return Decoded((device,), params, ts=parse_time(params.get("ts")), battery=_battery(params))
    return Ignored("/".join(rest)[:60])  # online, rpc answers, commands...


def _battery(document: Mapping[str, Any]) -> int | None:
    power = document.get("devicepower:0")
    battery = power.get("battery") if isinstance(power, Mapping) else None
    return battery_of(battery.get("percent")) if isinstance(battery, Mapping) else None
