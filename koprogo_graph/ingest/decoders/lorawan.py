"""LoRaWAN network servers' uplinks, posted to us by their HTTP integrations.

* The Things Stack v3 (thethingsindustries.com/docs, "Webhooks", uplink message format):
  ``end_device_ids.device_id`` / ``dev_eui`` name the device, ``uplink_message.decoded_payload``
  holds what its payload formatter decoded, ``uplink_message.rx_metadata[].rssi`` the gateways'
  signal, ``uplink_message.received_at`` the time (nanoseconds).
* ChirpStack v4 (chirpstack.io/docs, "HTTP integration", event ``up``): ``deviceInfo.devEui``
  names the device, ``object`` holds the codec's output, ``rxInfo[].rssi`` the signal, ``time``
  the time (else the time of receipt).

A ``battery`` percentage in the decoded object becomes the reading's battery level.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...domain.integrations import eui_case
from ...domain.payload import Rejection
from .common import Decoded, Ignored, battery_of, invalid, parse_time, signal_of

__all__ = ["decode_chirpstack", "decode_ttn"]


def decode_ttn(levels: Sequence[str], message: Any) -> Decoded | Ignored | Rejection:
    if not isinstance(message, Mapping):
        return invalid("a The Things Stack message is a JSON object")
    ids = message.get("end_device_ids")
    uplink = message.get("uplink_message")
    if not isinstance(ids, Mapping):
        return invalid("end_device_ids is missing")
    if not isinstance(uplink, Mapping):
        return Ignored("not an uplink")  # join accepts, downlink events...
    names = tuple(
        eui_case(str(ids[key]).strip())
        for key in ("device_id", "dev_eui")
        if isinstance(ids.get(key), str) and str(ids[key]).strip()
    )
    if not names:
        return invalid("end_device_ids has neither device_id nor dev_eui")
    decoded = uplink.get("decoded_payload")
    if not isinstance(decoded, Mapping):
        return invalid("uplink_message.decoded_payload is missing (no payload formatter?)")
    return Decoded(
        names,
        decoded,
        ts=parse_time(uplink.get("received_at")) or parse_time(message.get("received_at")),
        battery=battery_of(decoded.get("battery")),
        signal=_best_rssi(uplink.get("rx_metadata")),
    )


def decode_chirpstack(levels: Sequence[str], message: Any) -> Decoded | Ignored | Rejection:
    if not isinstance(message, Mapping):
        return invalid("a ChirpStack event is a JSON object")
    info = message.get("deviceInfo")
    dev_eui = info.get("devEui") if isinstance(info, Mapping) else None
    if not isinstance(dev_eui, str) or not dev_eui.strip():
        return invalid("deviceInfo.devEui is missing")
    decoded = message.get("object")
    if not isinstance(decoded, Mapping):
        return invalid("object is missing (no codec on the device profile?)")
    return Decoded(
        (eui_case(dev_eui.strip()),),
        decoded,
        ts=parse_time(message.get("time")),
        battery=battery_of(decoded.get("battery")),
        signal=_best_rssi(message.get("rxInfo")),
    )


def _best_rssi(gateways: Any) -> int | None:
    if not isinstance(gateways, list):
        return None
    heard = [
        signal
        for g in gateways[:100]
        if isinstance(g, Mapping) and (signal := signal_of(g.get("rssi"))) is not None
    ]
    return max(heard) if heard else None
