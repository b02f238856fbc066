"""Sensor vocabulary, defaults per type, and validation of sensor fields (SPEC §5)."""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, overload

__all__ = [
    "DEFAULT_RESOLUTION",
    "MAX_CALIBRATION_FACTOR",
    "MAX_READING_VALUE",
    "MAX_SAMPLING_INTERVAL",
    "MIN_SAMPLING_INTERVAL",
    "SENSOR_TYPES",
    "Connectivity",
    "ReadingKind",
    "SensorFieldError",
    "SensorStatus",
    "SensorType",
    "SensorTypeSpec",
    "check_calibration_factor",
    "check_device_id",
    "check_optional_text",
    "check_resolution",
    "check_sampling_interval",
    "check_text",
    "check_thresholds",
    "clean",
    "default_reading_kind",
    "default_unit_of_measure",
    "mqtt_topic",
    "resolution_of",
    "types_defaulting",
]

MIN_SAMPLING_INTERVAL = 10
MAX_SAMPLING_INTERVAL = 86_400
# No meter or gauge reads beyond this (a year of a district's energy in Wh is less); the
# readings table refuses it too, so that no sum over readings can overflow.
MAX_READING_VALUE = 1e12
MAX_CALIBRATION_FACTOR = 1e6


class SensorType(StrEnum):
    """What a sensor measures; everything else about a type is in SENSOR_TYPES below."""

    COLD_WATER = "COLD_WATER"
    HOT_WATER = "HOT_WATER"
    GAS = "GAS"
    ELECTRICITY = "ELECTRICITY"
    COGENERATION = "COGENERATION"
    HEATING = "HEATING"
    TEMPERATURE = "TEMPERATURE"
    HUMIDITY = "HUMIDITY"
    AIR_QUALITY = "AIR_QUALITY"
    INTRUSION = "INTRUSION"

    @property
    def spec(self) -> SensorTypeSpec:
        return SENSOR_TYPES[self]


class ReadingKind(StrEnum):
    CUMULATIVE = "CUMULATIVE"  # a meter index that only grows (until reset or replacement)
    INSTANTANEOUS = "INSTANTANEOUS"  # a gauge or a flow


class SensorStatus(StrEnum):
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    MAINTENANCE = "MAINTENANCE"
    FAULTY = "FAULTY"


class Connectivity(StrEnum):
    ONLINE = "ONLINE"
    OFFLINE = "OFFLINE"  # the offline rule fired and no reading came since
    NEVER_SEEN = "NEVER_SEEN"  # no reading yet


@dataclass(frozen=True, slots=True)
class SensorTypeSpec:
    """What a sensor type is: the one place to add one (with its SensorType member)."""

    description: str  # for the GraphQL schema
    unit: str  # default unit of measure (its resolution follows from it: resolution_of)
    reading_kind: ReadingKind  # CUMULATIVE: a meter with a consumption; else a gauge
    # Alert rule settings that differ from the rules' own defaults for this type.
    rule_defaults: Mapping[str, Any] = field(default_factory=dict)


_METER, _GAUGE = ReadingKind.CUMULATIVE, ReadingKind.INSTANTANEOUS

SENSOR_TYPES: Mapping[SensorType, SensorTypeSpec] = MappingProxyType(
    {
        SensorType.COLD_WATER: SensorTypeSpec(
            "Cold water meter (index in m3 by default).", "m3", _METER, {"leak_detection": True}
        ),
        SensorType.HOT_WATER: SensorTypeSpec(
            "Domestic hot water meter (index in m3 by default).",
            "m3",
            _METER,
            {"leak_detection": True},
        ),
        SensorType.GAS: SensorTypeSpec("Gas meter (index in m3 by default).", "m3", _METER),
        SensorType.ELECTRICITY: SensorTypeSpec(
            "Electricity meter (index in kWh by default).", "kWh", _METER
        ),
        SensorType.COGENERATION: SensorTypeSpec(
            "Cogeneration output meter (index in kWh by default).", "kWh", _METER
        ),
        SensorType.HEATING: SensorTypeSpec("Heating power gauge (kW by default).", "kW", _GAUGE),
        SensorType.TEMPERATURE: SensorTypeSpec("Temperature probe (°C).", "°C", _GAUGE),
        SensorType.HUMIDITY: SensorTypeSpec("Relative humidity probe (%).", "%", _GAUGE),
        SensorType.AIR_QUALITY: SensorTypeSpec(
            "CO2 concentration (ppm): above 1,000 a WARNING, from 1,500 CRITICAL, by default.",
            "ppm",
            _GAUGE,
            {"threshold_max": 1000.0},
        ),
        SensorType.INTRUSION: SensorTypeSpec(
            "Door, window or motion detector: 1 open or motion, 0 closed or quiet; "
            "INTRUSION_DETECTED when it reads 1 while its building is armed.",
            "state",
            _GAUGE,
            {"intrusion_detection": True},
        ),
    }
)


def types_defaulting(setting: str, value: Any) -> list[str]:
    """The sensor types whose default for an alert rule ``setting`` is ``value`` (for the
    watchdog's SQL: which sensors a rule looks at when their own settings say nothing)."""
    return [t.value for t, spec in SENSOR_TYPES.items() if spec.rule_defaults.get(setting) == value]


# Decimal places a reading is shown and compared at, by unit (SPEC §5); overridable per sensor.
_RESOLUTION = {
    "m3": 3,
    "m³": 3,
    "kwh": 3,
    "mwh": 3,
    "gj": 3,
    "kw": 3,
    "°c": 2,
    "%": 1,
    "ppm": 0,
    "state": 0,
}
DEFAULT_RESOLUTION = 3


MAX_RESOLUTION = 6


def resolution_of(unit_of_measure: str, override: int | None = None) -> int:
    """Decimal places of a sensor's numbers: its own setting, else its unit's default."""
    if override is not None:
        return override
    return _RESOLUTION.get(unit_of_measure.strip().lower(), DEFAULT_RESOLUTION)


@overload
def clean(value: float, decimals: int) -> float: ...
@overload
def clean(value: float | None, decimals: int) -> float | None: ...
def clean(value: float | None, decimals: int) -> float | None:
    """``value`` at ``decimals`` places, free of binary noise in its decimal form
    (1,000.012 - 1,000 is 0.012, never 0.011999999999996902); sums are rounded once summed."""
    if value is None:
        return None
    rounded = round(value, decimals)
    return rounded + 0.0  # no -0.0


def check_resolution(decimals: int | None) -> int | None:
    if decimals is not None and not 0 <= decimals <= MAX_RESOLUTION:
        raise SensorFieldError(
            "resolution", f"must be between 0 and {MAX_RESOLUTION} decimal places"
        )
    return decimals


def default_reading_kind(sensor_type: SensorType) -> ReadingKind:
    """Meters count up; temperature, humidity and heating power are gauges."""
    return SENSOR_TYPES[sensor_type].reading_kind


def default_unit_of_measure(sensor_type: SensorType) -> str:
    return SENSOR_TYPES[sensor_type].unit


def mqtt_topic(organization_id: uuid.UUID, building_id: uuid.UUID, device_id: str) -> str:
    """The topic a device publishes its readings on (SPEC §6)."""
    return f"koprogo/{organization_id}/{building_id}/{device_id}/readings"


class SensorFieldError(ValueError):
    """A sensor field is invalid; ``field`` is its GraphQL (camelCase) name."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def check_device_id(device_id: str) -> str:
    """A manufacturer serial or MAC: non-blank, one MQTT topic level, bounded."""
    value = device_id.strip()
    if not value:
        raise SensorFieldError("deviceId", "must not be blank")
    if len(value) > 128:
        raise SensorFieldError("deviceId", "must be at most 128 characters")
    if any(c in value for c in "/+#$") or any(ord(c) < 32 for c in value):
        raise SensorFieldError(
            "deviceId", "must not contain '/', '+', '#', '$' or control characters"
        )
    if value in RESERVED_DEVICE_IDS:
        raise SensorFieldError(
            "deviceId", f"{value!r} is an integration's topic level (SPEC §11): choose another"
        )
    return value


# Topic levels of the integrations (koprogo/<org>/<building>/<integration>/...): never a deviceId.
# The products' MQTT topic levels (domain/integrations.py imports this module, so they are
# written here again; tests/unit/test_decoders.py checks that the two agree).
RESERVED_DEVICE_IDS = frozenset({"shelly", "tasmota", "zigbee2mqtt", "wmbusmeters"})


def check_sampling_interval(seconds: int) -> int:
    if not MIN_SAMPLING_INTERVAL <= seconds <= MAX_SAMPLING_INTERVAL:
        raise SensorFieldError(
            "samplingInterval",
            f"must be between {MIN_SAMPLING_INTERVAL} and {MAX_SAMPLING_INTERVAL} seconds",
        )
    return seconds


def check_calibration_factor(factor: float) -> float:
    if not math.isfinite(factor) or not 0 < factor <= MAX_CALIBRATION_FACTOR:
        raise SensorFieldError(
            "calibrationFactor",
            f"must be a number greater than 0 and at most {MAX_CALIBRATION_FACTOR:g}",
        )
    return factor


def check_text(field: str, value: str, *, max_length: int = 200) -> str:
    stripped = value.strip()
    if not stripped:
        raise SensorFieldError(field, "must not be blank")
    if len(stripped) > max_length:
        raise SensorFieldError(field, f"must be at most {max_length} characters")
    return stripped


def check_optional_text(field: str, value: str | None, *, max_length: int) -> str | None:
    """Optional free text: None stays None, blank becomes None, too long is refused."""
    if value is None or not value.strip():
        return None
    return check_text(field, value, max_length=max_length)


def check_thresholds(low: float | None, high: float | None) -> None:
    for name, value in (("alertThresholdMin", low), ("alertThresholdMax", high)):
        if value is not None and not (math.isfinite(value) and abs(value) <= MAX_READING_VALUE):
            raise SensorFieldError(name, f"must be a number between ±{MAX_READING_VALUE:g}")
    if low is not None and high is not None and low > high:
        raise SensorFieldError("alertThresholdMin", "must not be greater than alertThresholdMax")
