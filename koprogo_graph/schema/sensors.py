"""GraphQL types and inputs for sensors (SPEC §5, §10)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias, get_args, get_type_hints

import strawberry

from ..domain import alert_rules as domain_rules
from ..domain.integrations import Integration
from ..domain.sensors import (
    Connectivity,
    ReadingKind,
    SensorStatus,
    SensorType,
    clean,
    mqtt_topic,
    resolution_of,
)

if TYPE_CHECKING:
    from ..store.rows import SensorRow

__all__ = [
    "AlertRules",
    "AlertRulesInput",
    "CreateSensorInput",
    "Sensor",
    "UpdateSensorInput",
]


def _describe_setting(name: str) -> str:
    description: str = domain_rules.SETTINGS[name].metadata["description"]
    return description


def _rule_settings(*, as_input: bool) -> type:
    """The alert rule settings as GraphQL fields, from their one declaration (AlertRules in
    domain/alert_rules.py). Shown: the stored value, null for the type's default (``enabled``
    is always shown). Given: left out keeps the value, null restores the default."""
    hints = get_type_hints(domain_rules.AlertRules)
    annotations: dict[str, Any] = {}
    namespace: dict[str, Any] = {}
    for name, declared in domain_rules.SETTINGS.items():
        kind = next(t for t in get_args(hints[name]) or (hints[name],) if t is not type(None))
        shown_as_is = name == "enabled" and not as_input
        annotations[name] = kind if shown_as_is else kind | None
        namespace[name] = strawberry.field(
            default=strawberry.UNSET if as_input else declared.default if shown_as_is else None,
            description=declared.metadata["description"],
        )
    namespace["__annotations__"] = annotations
    namespace["__module__"] = __name__
    if as_input:
        return strawberry.input(
            type("AlertRulesInput", (), namespace),
            description="Fields left out keep their value; null restores the default.",
        )
    return strawberry.type(
        type("AlertRules", (), namespace),
        description="A sensor's alert rule configuration; null means the type's default.",
    )


if TYPE_CHECKING:  # made at import time, which type checkers do not follow
    AlertRules: TypeAlias = Any
    AlertRulesInput: TypeAlias = Any
else:
    AlertRules = _rule_settings(as_input=False)
    AlertRulesInput = _rule_settings(as_input=True)


def alert_rules_of(stored: dict[str, Any]) -> Any:
    """The AlertRules shown for a sensor's stored settings (unknown keys left out)."""
    return AlertRules(**{k: v for k, v in stored.items() if k in domain_rules.SETTINGS})


# How a device's readings are bound to it (SPEC §11): one wording for the type and both inputs.
INTEGRATION_DOC = "How its readings come in: KOPROGO (our JSON on its own topic, SPEC §6) or a product's own messages (SPEC §11, docs/devices.md)."
EXTERNAL_ID_DOC = "The id its integration gives the device: Shelly device id, Tasmota topic, Zigbee2MQTT friendly name, wM-Bus meter id, LoRaWAN device id or DevEUI. Null for KOPROGO."
METRIC_DOC = "Where its value is in the device's decoded JSON: a dotted path (e.g. switch:0.aenergy.total), '!' first to read a boolean the other way round; default per integration and type (docs/devices.md). Null for KOPROGO."
UNIT_SCALE_DOC = "Factor from the device's number to unitOfMeasure (e.g. 0.001 for Wh to kWh), applied before calibrationFactor (default 1)."


@strawberry.type(description="A meter or sensor of your organization.")
class Sensor:
    id: strawberry.ID = strawberry.field(description="Identifier")
    organization_id: strawberry.ID = strawberry.field(description="Its organization.")
    building_id: strawberry.ID = strawberry.field(
        description="The building (its id: the first organization to register a sensor in it owns it)."
    )
    unit_id: strawberry.ID | None = strawberry.field(
        description="The unit (lot) it measures, if any; none for a common meter."
    )
    device_id: str = strawberry.field(
        description="The manufacturer's serial or MAC, unique in the organization; the last part of its MQTT topic."
    )
    type: SensorType = strawberry.field(description="What it measures.")
    reading_kind: ReadingKind = strawberry.field(
        description="CUMULATIVE (a meter index) or INSTANTANEOUS (a gauge); defaults by type."
    )
    manufacturer: str = strawberry.field(description="Manufacturer (e.g. Kamstrup).")
    model: str = strawberry.field(description="Model (e.g. MULTICAL 21).")
    firmware_version: str | None = strawberry.field(
        description="Firmware version, if known (at most 64 characters)."
    )
    location: str = strawberry.field(description="Where it is (e.g. Cave, colonne B).")
    floor: int | None = strawberry.field(description="Floor, if known.")
    unit_of_measure: str = strawberry.field(
        description="Unit of its values (e.g. m3, kWh, °C); defaults by type."
    )
    sampling_interval: int = strawberry.field(
        description="Seconds between its readings (10 to 86,400)."
    )
    calibration_factor: float = strawberry.field(
        description="Factor applied to raw values (default 1, at most 10^6)."
    )
    mqtt_topic: str = strawberry.field(
        description="The MQTT topic its device publishes readings on."
    )
    alert_rules: AlertRules = strawberry.field(description="Its alert rule configuration.")
    alert_threshold_min: float | None = strawberry.field(
        description=_describe_setting("threshold_min")
    )
    alert_threshold_max: float | None = strawberry.field(
        description=_describe_setting("threshold_max")
    )
    status: SensorStatus = strawberry.field(
        description="INACTIVE and MAINTENANCE are set by people; FAULTY is set automatically while "
        "a SENSOR_FAULTY alert is unresolved, and cleared when it resolves (unless a person set "
        "another status meanwhile)."
    )
    connectivity: Connectivity = strawberry.field(
        description="OFFLINE while the offline rule's alert is unresolved, NEVER_SEEN before the "
        "first reading, ONLINE otherwise."
    )
    status_changed_at: datetime | None = strawberry.field(
        description="When the status or connectivity last changed; null if never since registration."
    )
    last_reading_at: datetime | None = strawberry.field(
        description="Device time of its newest reading."
    )
    last_value: float | None = strawberry.field(
        description="Value of its newest reading, at its resolution."
    )
    integration: Integration = strawberry.field(description=INTEGRATION_DOC)
    external_id: str | None = strawberry.field(description=EXTERNAL_ID_DOC)
    metric: str | None = strawberry.field(description=METRIC_DOC)
    unit_scale: float = strawberry.field(description=UNIT_SCALE_DOC)
    resolution: int = strawberry.field(
        description="Decimal places its numbers are shown and compared at: its own setting, else "
        "its unit's default (3 for m3, kWh, MWh, GJ; 2 for °C; 1 for %; 0 for ppm)."
    )
    last_battery_level: int | None = strawberry.field(
        description="Battery level (%) last reported."
    )
    installed_at: datetime = strawberry.field(description="When it was installed.")
    created_at: datetime = strawberry.field(description="When it was registered.")
    updated_at: datetime = strawberry.field(description="When it was last changed.")

    @classmethod
    def from_row(cls, row: SensorRow) -> Sensor:
        rules = row.alert_rules or {}
        decimals = resolution_of(row.unit_of_measure, row.resolution)
        return cls(
            id=strawberry.ID(str(row.id)),
            organization_id=strawberry.ID(str(row.organization_id)),
            building_id=strawberry.ID(str(row.building_id)),
            unit_id=strawberry.ID(str(row.unit_id)) if row.unit_id else None,
            device_id=row.device_id,
            type=SensorType(row.type),
            reading_kind=ReadingKind(row.reading_kind),
            manufacturer=row.manufacturer,
            model=row.model,
            firmware_version=row.firmware_version,
            location=row.location,
            floor=row.floor,
            unit_of_measure=row.unit_of_measure,
            sampling_interval=row.sampling_interval,
            calibration_factor=row.calibration_factor,
            mqtt_topic=mqtt_topic(row.organization_id, row.building_id, row.device_id),
            alert_rules=alert_rules_of(rules),
            alert_threshold_min=rules.get("threshold_min"),
            alert_threshold_max=rules.get("threshold_max"),
            status=SensorStatus(row.status),
            connectivity=Connectivity(row.connectivity),
            status_changed_at=row.status_changed_at,
            last_reading_at=row.last_reading_at,
            last_value=clean(row.last_value, decimals),
            resolution=decimals,
            integration=Integration(row.integration),
            external_id=row.external_id,
            metric=row.metric,
            unit_scale=row.unit_scale,
            last_battery_level=row.last_battery_level,
            installed_at=row.installed_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@strawberry.input(description="A sensor to register.")
class CreateSensorInput:
    building_id: strawberry.ID = strawberry.field(
        description="The building (its id: the first organization to register a sensor in it owns it)."
    )
    device_id: str = strawberry.field(
        description="The manufacturer's serial or MAC, unique in the organization; the last part of its MQTT topic."
    )
    type: SensorType = strawberry.field(description="What it measures.")
    manufacturer: str = strawberry.field(description="Manufacturer (e.g. Kamstrup).")
    model: str = strawberry.field(description="Model (e.g. MULTICAL 21).")
    location: str = strawberry.field(description="Where it is (e.g. Cave, colonne B).")
    unit_of_measure: str | None = strawberry.field(
        default=None, description="Unit of its values (e.g. m3, kWh, °C); defaults by type."
    )
    sampling_interval: int = strawberry.field(
        default=900, description="Seconds between its readings (10 to 86,400)."
    )
    reading_kind: ReadingKind | None = strawberry.field(
        default=None,
        description="CUMULATIVE (a meter index) or INSTANTANEOUS (a gauge); defaults by type.",
    )
    unit_id: strawberry.ID | None = strawberry.field(
        default=None, description="The unit (lot) it measures, if any; none for a common meter."
    )
    floor: int | None = strawberry.field(default=None, description="Floor, if known.")
    firmware_version: str | None = strawberry.field(
        default=None, description="Firmware version, if known (at most 64 characters)."
    )
    resolution: int | None = strawberry.field(
        default=None,
        description="Decimal places its numbers are shown at (0-6); null: its unit's default.",
    )
    calibration_factor: float = strawberry.field(
        default=1.0, description="Factor applied to raw values (default 1, at most 10^6)."
    )
    integration: Integration = strawberry.field(
        default=Integration.KOPROGO,
        description=INTEGRATION_DOC,
    )
    external_id: str | None = strawberry.field(
        default=None,
        description=EXTERNAL_ID_DOC,
    )
    metric: str | None = strawberry.field(
        default=None,
        description=METRIC_DOC,
    )
    unit_scale: float = strawberry.field(
        default=1.0,
        description=UNIT_SCALE_DOC,
    )
    installed_at: datetime | None = strawberry.field(
        default=None, description="When it was installed (default: now)."
    )
    alert_threshold_min: float | None = strawberry.field(
        default=None,
        description=_describe_setting("threshold_min"),
    )
    alert_threshold_max: float | None = strawberry.field(
        default=None,
        description=_describe_setting("threshold_max"),
    )


@strawberry.input(description="Fields left out keep their value.")
class UpdateSensorInput:
    building_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description="The building (its id: the first organization to register a sensor in it owns it).",
    )
    unit_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description="The unit (lot) it measures, if any; none for a common meter.",
    )
    device_id: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="The manufacturer's serial or MAC, unique in the organization; the last part of its MQTT topic.",
    )
    manufacturer: str | None = strawberry.field(
        default=strawberry.UNSET, description="Manufacturer (e.g. Kamstrup)."
    )
    model: str | None = strawberry.field(
        default=strawberry.UNSET, description="Model (e.g. MULTICAL 21)."
    )
    firmware_version: str | None = strawberry.field(
        default=strawberry.UNSET, description="Firmware version, if known (at most 64 characters)."
    )
    resolution: int | None = strawberry.field(
        default=strawberry.UNSET,
        description="Decimal places its numbers are shown at (0-6); null: its unit's default.",
    )
    location: str | None = strawberry.field(
        default=strawberry.UNSET, description="Where it is (e.g. Cave, colonne B)."
    )
    floor: int | None = strawberry.field(default=strawberry.UNSET, description="Floor, if known.")
    unit_of_measure: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="Unit of its values (e.g. m3, kWh, °C); defaults by type.",
    )
    sampling_interval: int | None = strawberry.field(
        default=strawberry.UNSET, description="Seconds between its readings (10 to 86,400)."
    )
    reading_kind: ReadingKind | None = strawberry.field(
        default=strawberry.UNSET,
        description="CUMULATIVE (a meter index) or INSTANTANEOUS (a gauge); defaults by type.",
    )
    status: SensorStatus | None = strawberry.field(
        default=strawberry.UNSET,
        description="Its status: INACTIVE and MAINTENANCE are for people to set.",
    )
    installed_at: datetime | None = strawberry.field(
        default=strawberry.UNSET, description="When it was installed (default: now)."
    )
    integration: Integration | None = strawberry.field(
        default=strawberry.UNSET,
        description=INTEGRATION_DOC,
    )
    external_id: str | None = strawberry.field(
        default=strawberry.UNSET,
        description=EXTERNAL_ID_DOC,
    )
    metric: str | None = strawberry.field(
        default=strawberry.UNSET,
        description=METRIC_DOC,
    )
    unit_scale: float | None = strawberry.field(
        default=strawberry.UNSET,
        description=UNIT_SCALE_DOC,
    )


async def sensor_by_id(info: strawberry.Info, sensor_id: strawberry.ID) -> Sensor | None:
    """The sensor of a nested field (``Reading.sensor``, ``Alert.sensor``), through the request's
    DataLoader so a page of items costs one query."""
    row = await info.context.sensors().load(uuid.UUID(str(sensor_id)))
    return Sensor.from_row(row) if row else None
