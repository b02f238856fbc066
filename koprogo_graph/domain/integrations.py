"""Devices as they really are (SPEC §11): which integration a sensor's readings come through,
the id that integration gives the device, and where its value sits in what the device sends.

A *metric* is a dotted path into the decoded JSON (``switch:0.aenergy.total``); a leading ``!``
reads a boolean the other way round (Zigbee's ``contact`` is true when a door is *closed*, an
INTRUSION sensor reads 1 when it is open: its metric is ``!contact``). Booleans read as 1 and 0.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from .sensors import SensorFieldError, SensorType

__all__ = [
    "DEFAULT_METRICS",
    "MAX_UNIT_SCALE",
    "Integration",
    "MetricError",
    "check_binding",
    "default_metric",
    "eui_case",
    "is_external_id",
    "read_metric",
]


class Integration(StrEnum):
    KOPROGO = "KOPROGO"  # KoproGo's own JSON on koprogo/<org>/<building>/<deviceId>/readings
    SHELLY = "SHELLY"  # Shelly Gen2+ over MQTT
    TASMOTA = "TASMOTA"  # Tasmota over MQTT
    ZIGBEE2MQTT = "ZIGBEE2MQTT"  # Zigbee devices through Zigbee2MQTT
    WMBUSMETERS = "WMBUSMETERS"  # wM-Bus meters read by wmbusmeters
    TTN = "TTN"  # LoRaWAN through The Things Stack v3 (HTTP webhook)
    CHIRPSTACK = "CHIRPSTACK"  # LoRaWAN through ChirpStack v4 (HTTP integration)

    @property
    def over_mqtt(self) -> bool:
        """A product whose devices publish over MQTT under its own topic level."""
        return self in (
            Integration.SHELLY,
            Integration.TASMOTA,
            Integration.ZIGBEE2MQTT,
            Integration.WMBUSMETERS,
        )

    @property
    def topic_name(self) -> str:
        """Its reserved MQTT topic level (``koprogo/<org>/<building>/<topic_name>/...``)."""
        return self.value.lower()


# Where a sensor type's value usually is, per integration (a sensor may say otherwise).
DEFAULT_METRICS: Mapping[tuple[Integration, SensorType], str] = MappingProxyType(
    {
        (Integration.SHELLY, SensorType.ELECTRICITY): "switch:0.aenergy.total",
        (Integration.SHELLY, SensorType.TEMPERATURE): "temperature:0.tC",
        (Integration.SHELLY, SensorType.HUMIDITY): "humidity:0.rh",
        (Integration.TASMOTA, SensorType.ELECTRICITY): "ENERGY.Total",
        (Integration.TASMOTA, SensorType.TEMPERATURE): "DS18B20.Temperature",
        (Integration.TASMOTA, SensorType.HUMIDITY): "AM2301.Humidity",
        (Integration.ZIGBEE2MQTT, SensorType.TEMPERATURE): "temperature",
        (Integration.ZIGBEE2MQTT, SensorType.HUMIDITY): "humidity",
        (Integration.ZIGBEE2MQTT, SensorType.AIR_QUALITY): "co2",
        (Integration.ZIGBEE2MQTT, SensorType.INTRUSION): "!contact",
        (Integration.ZIGBEE2MQTT, SensorType.ELECTRICITY): "current_summ_delivered",
        (Integration.WMBUSMETERS, SensorType.COLD_WATER): "total_m3",
        (Integration.WMBUSMETERS, SensorType.HOT_WATER): "total_m3",
        (Integration.WMBUSMETERS, SensorType.GAS): "total_m3",
        (Integration.WMBUSMETERS, SensorType.HEATING): "power_kw",
        (Integration.WMBUSMETERS, SensorType.ELECTRICITY): "total_energy_consumption_kwh",
        (Integration.TTN, SensorType.COLD_WATER): "volume_m3",
        (Integration.TTN, SensorType.HOT_WATER): "volume_m3",
        (Integration.TTN, SensorType.TEMPERATURE): "temperature",
        (Integration.TTN, SensorType.HUMIDITY): "humidity",
        (Integration.TTN, SensorType.AIR_QUALITY): "co2",
        (Integration.CHIRPSTACK, SensorType.COLD_WATER): "volume_m3",
        (Integration.CHIRPSTACK, SensorType.HOT_WATER): "volume_m3",
        (Integration.CHIRPSTACK, SensorType.TEMPERATURE): "temperature",
        (Integration.CHIRPSTACK, SensorType.HUMIDITY): "humidity",
        (Integration.CHIRPSTACK, SensorType.AIR_QUALITY): "co2",
    }
)

MAX_UNIT_SCALE = 1e6
_METRIC = re.compile(r"^!?[A-Za-z0-9_:\-\[\]]+(\.[A-Za-z0-9_:\-\[\]]+){0,9}$")
_EXTERNAL_ID = re.compile(r"^[^\x00-\x1f#+]{1,128}$")
_EUI = re.compile(r"^[0-9A-Fa-f]{16}$")


def eui_case(value: str) -> str:
    """A LoRaWAN DevEUI in lower case, however it was written (ChirpStack writes it in lower
    case, The Things Stack in upper case); any other id as it is."""
    return value.lower() if _EUI.match(value) else value


def is_external_id(value: str) -> bool:
    """An id a sensor can be bound by: 1 to 128 characters, no control characters, no '#'/'+'."""
    return bool(_EXTERNAL_ID.match(value))


def default_metric(integration: Integration, sensor_type: SensorType) -> str | None:
    """The usual metric of a type for an integration (None: the sensor must give one)."""
    return DEFAULT_METRICS.get((integration, sensor_type))


def check_binding(
    integration: Integration,
    sensor_type: SensorType,
    external_id: str | None,
    metric: str | None,
    unit_scale: float,
) -> tuple[str | None, str | None, float]:
    """A sensor's binding, checked: (externalId, metric, unitScale); SensorFieldError names
    the wrong field. KoproGo's own contract needs none of them."""
    if not math.isfinite(unit_scale) or not 0 < unit_scale <= MAX_UNIT_SCALE:
        raise SensorFieldError(
            "unitScale", f"must be a number greater than 0 and at most {MAX_UNIT_SCALE:g}"
        )
    if integration is Integration.KOPROGO:
        if external_id is not None or metric is not None:
            field = "externalId" if external_id is not None else "metric"
            raise SensorFieldError(field, "is for devices of another integration than KOPROGO")
        return None, None, unit_scale
    external = (external_id or "").strip()
    if not external:
        raise SensorFieldError("externalId", f"is required for a {integration.value} device")
    if not is_external_id(external):
        raise SensorFieldError(
            "externalId", "must be 1 to 128 characters, without control characters, '#' or '+'"
        )
    external = eui_case(external)
    chosen = (metric or "").strip() or default_metric(integration, sensor_type)
    if chosen is None:
        raise SensorFieldError(
            "metric", f"is required: {integration.value} has no default for {sensor_type.value}"
        )
    if not _METRIC.match(chosen):
        raise SensorFieldError(
            "metric",
            "must be a dotted path of at most 10 names (letters, digits, _ : - [ ]), "
            "optionally after '!'",
        )
    return external, chosen, unit_scale


class MetricError(ValueError):
    """The metric is in the message but holds no number."""


def read_metric(document: Mapping[str, Any], metric: str) -> float | None:
    """The number at ``metric`` in ``document``; None when the message does not carry it (a
    device sends other things too); MetricError when it carries something else there."""
    negate = metric.startswith("!")
    node: Any = document
    for name in metric.lstrip("!").split("."):
        if not isinstance(node, Mapping) or name not in node:
            return None
        node = node[name]
    if isinstance(node, bool):
        return float(node is not negate)
    if negate:
        raise MetricError(f"{metric} is not a boolean")
    if isinstance(node, int | float) and not isinstance(node, bool):
        try:
            return float(node)
        except OverflowError:  # an integer of hundreds of digits
            raise MetricError(f"{metric} is beyond any reading") from None
    raise MetricError(f"{metric} is {type(node).__name__}, not a number")
