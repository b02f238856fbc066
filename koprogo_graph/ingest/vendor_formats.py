"""Readings written as each product writes them (the decoders' inverse), for the simulator and
the benchmarks: a topic under ``koprogo/<org>/<building>/`` (MQTT products) and a JSON
message whose value sits where the sensor's default metric reads it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from ..domain.integrations import Integration, default_metric
from ..domain.sensors import SensorType

__all__ = ["UNIT_SCALES", "encode", "nested"]

# The simulated devices' own units, where they differ from the sensor's (Shelly counts Wh).
UNIT_SCALES: dict[tuple[Integration, SensorType], float] = {
    (Integration.SHELLY, SensorType.ELECTRICITY): 0.001,
}


def nested(metric: str, value: Any) -> dict[str, Any]:
    """``{"a": {"b": value}}`` for the metric ``a.b``."""
    *path, last = metric.split(".")
    document: dict[str, Any] = {last: value}
    for name in reversed(path):
        document = {name: document}
    return document


def encode(
    integration: Integration,
    sensor_type: SensorType,
    external_id: str,
    value: float,
    at: datetime,
    *,
    battery: int | None = None,
    signal: int | None = None,
    timezone: str = "Europe/Brussels",
) -> tuple[str, dict[str, Any]]:
    """(topic after the building's prefix, or "" for the HTTP products; the message)."""
    metric = default_metric(integration, sensor_type)
    if metric is None or metric.startswith("!"):
        raise ValueError(f"no simulated {sensor_type.value} for {integration.value}")
    raw = value / UNIT_SCALES.get((integration, sensor_type), 1.0)
    document = nested(metric, raw)
    stamp = at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if integration is Integration.SHELLY:
        params = {"ts": round(at.timestamp(), 2), **document}
        if battery is not None:
            params["devicepower:0"] = {"id": 0, "battery": {"percent": battery}}
        message = {"src": external_id, "method": "NotifyStatus", "params": params}
        return f"shelly/{external_id}/events/rpc", message
    if integration is Integration.TASMOTA:
        local = at.astimezone(ZoneInfo(timezone)).replace(tzinfo=None)
        return f"tasmota/tele/{external_id}/SENSOR", {
            "Time": local.isoformat(timespec="seconds"),
            **document,
        }
    if integration is Integration.ZIGBEE2MQTT:
        return f"zigbee2mqtt/{external_id}", {
            **document,
            **({"battery": battery} if battery is not None else {}),
            "linkquality": 120,
        }
    if integration is Integration.WMBUSMETERS:
        return f"wmbusmeters/{external_id}", {
            "_": "telegram",
            "meter": "multical21",
            "id": external_id,
            **document,
            "timestamp": stamp,
            **({"rssi_dbm": signal} if signal is not None else {}),
        }
    payload = {**document, **({"battery": battery} if battery is not None else {})}
    if integration is Integration.TTN:
        return "", {
            "end_device_ids": {
                "device_id": external_id,
                "dev_eui": uuid.uuid5(uuid.NAMESPACE_OID, external_id).hex[:16].upper(),
            },
            "received_at": stamp,
            "uplink_message": {
                "f_port": 1,
                "decoded_payload": payload,
                "rx_metadata": [{"gateway_ids": {"gateway_id": "sim"}, "rssi": signal or -90}],
                "received_at": stamp,
            },
        }
    if integration is Integration.CHIRPSTACK:
        return "", {
            "time": at.astimezone(UTC).isoformat(),
            "deviceInfo": {"devEui": external_id, "deviceName": external_id},
            "fPort": 1,
            "object": payload,
            "rxInfo": [{"gatewayId": "sim", "rssi": signal or -90}],
        }
    raise ValueError(f"{integration.value} has its own format (SPEC §6)")
