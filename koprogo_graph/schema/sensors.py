"""GraphQL types and inputs for sensors (SPEC §5, §10)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg
import strawberry

from ..domain.sensors import (
    Connectivity,
    ReadingKind,
    SensorStatus,
    SensorType,
    clean,
    mqtt_topic,
    resolution_of,
)
from .pagination import PageInfo

__all__ = [
    "AlertRules",
    "AlertRulesInput",
    "CreateSensorInput",
    "Sensor",
    "SensorConnection",
    "SensorEdge",
    "UpdateSensorInput",
]


@strawberry.type(description="A sensor's alert rule configuration; null means the type's default.")
class AlertRules:
    enabled: bool = True
    threshold_min: float | None = strawberry.field(
        default=None,
        description="Lower threshold: of the value on a gauge (INSTANTANEOUS), of the flow in unitOfMeasure per hour on a meter (CUMULATIVE; never its index).",
    )
    threshold_max: float | None = strawberry.field(
        default=None,
        description="Upper threshold: of the value on a gauge (INSTANTANEOUS), of the flow in unitOfMeasure per hour on a meter (CUMULATIVE; never its index). CRITICAL at 50 % beyond, else WARNING.",
    )
    pending_seconds: int | None = None
    hysteresis_percent: float | None = None
    offline_after_seconds: int | None = None
    battery_warning_percent: int | None = None
    battery_critical_percent: int | None = None
    leak_detection: bool | None = None
    leak_window_hours: int | None = None
    leak_night_window: bool | None = None
    anomaly_detection: bool | None = None
    anomaly_threshold: float | None = None
    stuck_after_seconds: int | None = None
    poor_readings_run: int | None = None

    @classmethod
    def from_json(cls, rules: dict[str, Any]) -> AlertRules:
        known = {k: v for k, v in rules.items() if k in _ALERT_RULE_KEYS}
        return cls(**known)


_ALERT_RULE_KEYS = frozenset(AlertRules.__annotations__)


@strawberry.input(description="Fields left out keep their value; null restores the default.")
class AlertRulesInput:
    enabled: bool | None = strawberry.UNSET
    threshold_min: float | None = strawberry.field(
        default=strawberry.UNSET,
        description="Lower threshold: of the value on a gauge (INSTANTANEOUS), of the flow in unitOfMeasure per hour on a meter (CUMULATIVE; never its index).",
    )
    threshold_max: float | None = strawberry.field(
        default=strawberry.UNSET,
        description="Upper threshold: of the value on a gauge (INSTANTANEOUS), of the flow in unitOfMeasure per hour on a meter (CUMULATIVE; never its index). CRITICAL at 50 % beyond, else WARNING.",
    )
    pending_seconds: int | None = strawberry.UNSET
    hysteresis_percent: float | None = strawberry.UNSET
    offline_after_seconds: int | None = strawberry.UNSET
    battery_warning_percent: int | None = strawberry.UNSET
    battery_critical_percent: int | None = strawberry.UNSET
    leak_detection: bool | None = strawberry.UNSET
    leak_window_hours: int | None = strawberry.UNSET
    leak_night_window: bool | None = strawberry.UNSET
    anomaly_detection: bool | None = strawberry.UNSET
    anomaly_threshold: float | None = strawberry.UNSET
    stuck_after_seconds: int | None = strawberry.UNSET
    poor_readings_run: int | None = strawberry.UNSET


@strawberry.type
class Sensor:
    id: strawberry.ID
    organization_id: strawberry.ID
    building_id: strawberry.ID
    unit_id: strawberry.ID | None
    device_id: str
    type: SensorType
    reading_kind: ReadingKind
    manufacturer: str
    model: str
    firmware_version: str | None
    location: str
    floor: int | None
    unit_of_measure: str
    sampling_interval: int
    calibration_factor: float
    mqtt_topic: str
    alert_rules: AlertRules
    alert_threshold_min: float | None = strawberry.field(
        description="Lower threshold: of the value on a gauge (INSTANTANEOUS), of the flow in unitOfMeasure per hour on a meter (CUMULATIVE; never its index)."
    )
    alert_threshold_max: float | None = strawberry.field(
        description="Upper threshold: of the value on a gauge (INSTANTANEOUS), of the flow in unitOfMeasure per hour on a meter (CUMULATIVE; never its index). CRITICAL at 50 % beyond, else WARNING."
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
    last_reading_at: datetime | None
    last_value: float | None
    resolution: int = strawberry.field(
        description="Decimal places its numbers are shown and compared at: its own setting, else "
        "its unit's default (3 for m3, kWh, MWh, GJ; 2 for °C; 1 for %; 0 for ppm)."
    )
    last_battery_level: int | None
    installed_at: datetime
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: asyncpg.Record | dict[str, Any]) -> Sensor:
        rules = row["alert_rules"] or {}
        decimals = resolution_of(row["unit_of_measure"], row["resolution"])
        return cls(
            id=strawberry.ID(str(row["id"])),
            organization_id=strawberry.ID(str(row["organization_id"])),
            building_id=strawberry.ID(str(row["building_id"])),
            unit_id=strawberry.ID(str(row["unit_id"])) if row["unit_id"] else None,
            device_id=row["device_id"],
            type=SensorType(row["type"]),
            reading_kind=ReadingKind(row["reading_kind"]),
            manufacturer=row["manufacturer"],
            model=row["model"],
            firmware_version=row["firmware_version"],
            location=row["location"],
            floor=row["floor"],
            unit_of_measure=row["unit_of_measure"],
            sampling_interval=row["sampling_interval"],
            calibration_factor=row["calibration_factor"],
            mqtt_topic=mqtt_topic(row["organization_id"], row["building_id"], row["device_id"]),
            alert_rules=AlertRules.from_json(rules),
            alert_threshold_min=rules.get("threshold_min"),
            alert_threshold_max=rules.get("threshold_max"),
            status=SensorStatus(row["status"]),
            connectivity=Connectivity(row["connectivity"]),
            status_changed_at=row["status_changed_at"],
            last_reading_at=row["last_reading_at"],
            last_value=clean(row["last_value"], decimals),
            resolution=decimals,
            last_battery_level=row["last_battery_level"],
            installed_at=row["installed_at"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )


@strawberry.type
class SensorEdge:
    cursor: str
    node: Sensor


@strawberry.type
class SensorConnection:
    total_count: int
    edges: list[SensorEdge]
    page_info: PageInfo


@strawberry.input
class CreateSensorInput:
    building_id: strawberry.ID
    device_id: str
    type: SensorType
    manufacturer: str
    model: str
    location: str
    unit_of_measure: str | None = None
    sampling_interval: int = 900
    reading_kind: ReadingKind | None = None
    unit_id: strawberry.ID | None = None
    floor: int | None = None
    firmware_version: str | None = None
    resolution: int | None = strawberry.field(
        default=None,
        description="Decimal places its numbers are shown at (0-6); null: its unit's default.",
    )
    calibration_factor: float = 1.0
    installed_at: datetime | None = None
    alert_threshold_min: float | None = strawberry.field(
        default=None,
        description="Lower threshold: of the value on a gauge (INSTANTANEOUS), of the flow in unitOfMeasure per hour on a meter (CUMULATIVE; never its index).",
    )
    alert_threshold_max: float | None = strawberry.field(
        default=None,
        description="Upper threshold: of the value on a gauge (INSTANTANEOUS), of the flow in unitOfMeasure per hour on a meter (CUMULATIVE; never its index). CRITICAL at 50 % beyond, else WARNING.",
    )


@strawberry.input(description="Fields left out keep their value.")
class UpdateSensorInput:
    building_id: strawberry.ID | None = strawberry.UNSET
    unit_id: strawberry.ID | None = strawberry.UNSET
    device_id: str | None = strawberry.UNSET
    manufacturer: str | None = strawberry.UNSET
    model: str | None = strawberry.UNSET
    firmware_version: str | None = strawberry.UNSET
    resolution: int | None = strawberry.field(
        default=strawberry.UNSET,
        description="Decimal places its numbers are shown at (0-6); null: its unit's default.",
    )
    location: str | None = strawberry.UNSET
    floor: int | None = strawberry.UNSET
    unit_of_measure: str | None = strawberry.UNSET
    sampling_interval: int | None = strawberry.UNSET
    reading_kind: ReadingKind | None = strawberry.UNSET
    status: SensorStatus | None = strawberry.UNSET
    installed_at: datetime | None = strawberry.UNSET


async def sensor_by_id(info: strawberry.Info, sensor_id: strawberry.ID) -> Sensor | None:
    """The sensor of a nested field (``Reading.sensor``, ``Alert.sensor``), through the request's
    DataLoader so a page of items costs one query."""
    row = await info.context.sensors().load(uuid.UUID(str(sensor_id)))
    return Sensor.from_row(row) if row else None
