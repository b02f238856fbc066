"""Queries and mutations over sensors, and ``me``."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import strawberry

from ..domain import sensors as domain
from ..domain.alert_rules import check_settings
from ..domain.integrations import Integration, check_binding
from ..domain.sensors import Connectivity, SensorStatus, SensorType
from ..errors import BadUserInput, NotFound
from ..realtime.publish import publish_sensors
from ..schema.context import Context
from ..schema.enums import Role
from ..schema.pagination import Connection, decode_keyset, encode_cursor, page_size
from ..schema.sensors import (
    AlertRulesInput,
    CreateSensorInput,
    Sensor,
    UpdateSensorInput,
)
from ..store import sensors as store
from ..store.rows import SensorRow
from ._args import field_errors, parse_id, parse_optional_id

__all__ = ["SensorMutation", "SensorQuery", "ViewerQuery"]

log = logging.getLogger(__name__)
Info = strawberry.Info[Context, None]


@strawberry.type(name="Viewer", description="Who is asking, from the token.")
class ViewerType:
    user_id: strawberry.ID = strawberry.field(description="The user.")
    organization_id: strawberry.ID | None = strawberry.field(description="The user's organization.")
    role: Role = strawberry.field(description="The user's role.")
    email: str | None = strawberry.field(description="The user's e-mail, if the token carries it.")


@strawberry.type
class ViewerQuery:
    @strawberry.field(description="The authenticated caller.")
    def me(self, info: Info) -> ViewerType:
        viewer = info.context.viewer
        return ViewerType(
            user_id=strawberry.ID(str(viewer.user_id)),
            organization_id=strawberry.ID(str(viewer.organization_id))
            if viewer.organization_id
            else None,
            role=viewer.role,
            email=viewer.email,
        )


@strawberry.type
class SensorQuery:
    @strawberry.field(description="A sensor of your organization, or null.")
    async def sensor(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The sensor's id.")],
    ) -> Sensor | None:
        org = info.context.viewer.org()
        sensor_id = parse_id(id)
        async with info.context.tenant(org) as con:
            row = await store.get(con, org, sensor_id)
        return Sensor.from_row(row) if row else None

    @strawberry.field(description="Your organization's sensors, oldest first.")
    async def sensors(
        self,
        info: Info,
        building_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this building's.")
        ] = None,
        type: Annotated[
            SensorType | None, strawberry.argument(description="Only this type.")
        ] = None,
        status: Annotated[
            SensorStatus | None, strawberry.argument(description="Only this status.")
        ] = None,
        connectivity: Annotated[
            Connectivity | None, strawberry.argument(description="Only this connectivity.")
        ] = None,
        first: Annotated[int, strawberry.argument(description="Page size (at most 500).")] = 50,
        after: Annotated[
            str | None,
            strawberry.argument(description="Cursor of the item after which the page starts."),
        ] = None,
    ) -> Connection[Sensor]:
        org = info.context.viewer.org()
        limit = page_size(first, info.context.settings.max_page_size)
        filters = {
            "building_id": parse_optional_id(building_id, "buildingId"),
            "type": type.value if type else None,
            "status": status.value if status else None,
            "connectivity": connectivity.value if connectivity else None,
        }
        keyset = decode_keyset(after)
        async with info.context.tenant(org) as con:
            total = await store.count(con, org, **filters)
            rows = await store.list_page(con, org, limit=limit + 1, after=keyset, **filters)
        return Connection.of(
            rows,
            limit=limit,
            total=total,
            after=after,
            cursor=lambda r: encode_cursor(r.created_at.isoformat(), r.id),
            node=Sensor.from_row,
        )


def _new_sensor_row(data: CreateSensorInput, prefix: str = "") -> dict[str, Any]:
    """Validate a CreateSensorInput into sensor columns; BAD_USER_INPUT names the field."""
    with field_errors(prefix):
        domain.check_thresholds(data.alert_threshold_min, data.alert_threshold_max)
        rules = {
            k: v
            for k, v in (
                ("threshold_min", data.alert_threshold_min),
                ("threshold_max", data.alert_threshold_max),
            )
            if v is not None
        }
        return {
            "building_id": parse_id(data.building_id, prefix + "buildingId"),
            "unit_id": parse_optional_id(data.unit_id, prefix + "unitId"),
            "device_id": domain.check_device_id(data.device_id),
            "type": data.type.value,
            "reading_kind": (data.reading_kind or domain.default_reading_kind(data.type)).value,
            "manufacturer": domain.check_text("manufacturer", data.manufacturer),
            "model": domain.check_text("model", data.model),
            "firmware_version": domain.check_optional_text(
                "firmwareVersion", data.firmware_version, max_length=64
            ),
            "location": domain.check_text("location", data.location),
            "floor": data.floor,
            "unit_of_measure": domain.check_text(
                "unitOfMeasure",
                data.unit_of_measure or domain.default_unit_of_measure(data.type),
                max_length=20,
            ),
            "sampling_interval": domain.check_sampling_interval(data.sampling_interval),
            "calibration_factor": domain.check_calibration_factor(data.calibration_factor),
            "installed_at": data.installed_at or datetime.now().astimezone(),
            "resolution": domain.check_resolution(data.resolution),
            "alert_rules": rules,
            **_binding(data.integration, data.type, data.external_id, data.metric, data.unit_scale),
        }


def _binding(
    integration: Integration,
    sensor_type: SensorType,
    external_id: str | None,
    metric: str | None,
    unit_scale: float,
) -> dict[str, Any]:
    """The binding columns, checked (SPEC §11): the metric defaults by integration and type."""
    external, chosen, scale = check_binding(
        integration, sensor_type, external_id, metric, unit_scale
    )
    return {
        "integration": integration.value,
        "external_id": external,
        "metric": chosen,
        "unit_scale": scale,
    }


_BINDING = ("integration", "external_id", "metric", "unit_scale")


def _binding_changes(data: UpdateSensorInput, before: SensorRow) -> dict[str, Any]:
    """The binding after an update: what is given over what was (a metric left out after a
    change of integration takes the new integration's default)."""
    given = {k: getattr(data, k) for k in _BINDING if getattr(data, k) is not strawberry.UNSET}
    if not given:
        return {}
    for key in ("integration", "unit_scale"):
        if key in given and given[key] is None:
            raise BadUserInput(_camel(key), "must not be null")
    integration = given.get("integration") or Integration(before.integration)
    moved = integration.value != before.integration
    with field_errors():
        return _binding(
            integration,
            SensorType(before.type),
            given.get("external_id", None if moved else before.external_id),
            given.get("metric", None if moved else before.metric),
            given.get("unit_scale", before.unit_scale),
        )


def _changes(data: UpdateSensorInput) -> dict[str, Any]:
    """The columns an UpdateSensorInput sets (explicit null only where a column allows it);
    the binding's are checked with the sensor as it was (``_binding_changes``)."""
    given = {k: v for k, v in vars(data).items() if v is not strawberry.UNSET and k not in _BINDING}
    nullable = {"unit_id", "firmware_version", "floor", "resolution"}
    for key, value in given.items():
        if value is None and key not in nullable:
            raise BadUserInput(_camel(key), "must not be null")
    checks: dict[str, Callable[[Any], Any]] = {
        "building_id": lambda v: parse_id(v, "buildingId"),
        "unit_id": lambda v: parse_optional_id(v, "unitId"),
        "device_id": domain.check_device_id,
        "manufacturer": lambda v: domain.check_text("manufacturer", v),
        "model": lambda v: domain.check_text("model", v),
        "firmware_version": lambda v: domain.check_optional_text(
            "firmwareVersion", v, max_length=64
        ),
        "location": lambda v: domain.check_text("location", v),
        "unit_of_measure": lambda v: domain.check_text("unitOfMeasure", v, max_length=20),
        "sampling_interval": domain.check_sampling_interval,
        "resolution": domain.check_resolution,
        "reading_kind": lambda v: v.value,
        "status": lambda v: v.value,
    }
    with field_errors():
        return {k: checks[k](v) if k in checks and v is not None else v for k, v in given.items()}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _rules(data: Any, current_min: float | None, current_max: float | None) -> dict[str, Any]:
    """The rule settings given (UNSET ones left out), validated by their declaration and
    against the stored thresholds."""
    given = {k: v for k, v in vars(data).items() if v is not strawberry.UNSET}
    try:
        domain.check_thresholds(
            given.get("threshold_min", current_min), given.get("threshold_max", current_max)
        )
        return check_settings(given)
    except domain.SensorFieldError as exc:
        raise BadUserInput(exc.field.replace("alertThreshold", "threshold"), str(exc)) from None


@strawberry.type
class SensorMutation:
    @strawberry.mutation(description="Register a sensor (syndic, superadmin).")
    async def create_sensor(
        self,
        info: Info,
        input: Annotated[CreateSensorInput, strawberry.argument(description="The sensor.")],
    ) -> Sensor:
        org = info.context.viewer.require_manager()
        row = _new_sensor_row(input)
        async with info.context.tenant(org) as con:
            created = await _insert(con, org, [row], ["input"])
        return Sensor.from_row(created[0])

    @strawberry.mutation(description="Register many sensors at once: all or nothing.")
    async def import_sensors(
        self,
        info: Info,
        input: Annotated[
            list[CreateSensorInput],
            strawberry.argument(
                description="The sensors (at most 1,000): all are registered, or none."
            ),
        ],
    ) -> list[Sensor]:
        org = info.context.viewer.require_manager()
        if len(input) > 1000:
            raise BadUserInput("input", "at most 1000 sensors per import")
        rows = [_new_sensor_row(item, prefix=f"input[{i}].") for i, item in enumerate(input)]
        seen: dict[str, int] = {}
        for i, row in enumerate(rows):
            if row["device_id"] in seen:
                raise BadUserInput(
                    f"input[{i}].deviceId", f"duplicates input[{seen[row['device_id']]}]"
                )
            seen[row["device_id"]] = i
        async with info.context.tenant(org) as con:
            created = await _insert(con, org, rows, [f"input[{i}]" for i in range(len(rows))])
        return [Sensor.from_row(r) for r in created]

    @strawberry.mutation(description="Change a sensor's fields (syndic, superadmin).")
    async def update_sensor(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The sensor's id.")],
        input: Annotated[
            UpdateSensorInput, strawberry.argument(description="The fields to change.")
        ],
    ) -> Sensor:
        org = info.context.viewer.require_manager()
        sensor_id = parse_id(id)
        changes = _changes(input)
        async with info.context.tenant(org) as con:
            before = await store.get(con, org, sensor_id, for_update=True)
            if before is None:
                raise NotFound("Sensor")
            changes.update(_binding_changes(input, before))
            try:
                row = await store.update(con, org, sensor_id, changes)
            except store.DuplicateDeviceId as exc:
                raise BadUserInput(
                    "deviceId", f"{exc.device_id!r} is already used by another sensor"
                ) from None
            except store.DuplicateBinding as exc:
                raise BadUserInput("metric", _duplicate_binding(exc)) from None
            except store.BuildingNotOwned:
                raise NotFound("Building", field="buildingId") from None
            if row is None:  # locked above: cannot happen, but never answer with nothing
                raise NotFound("Sensor")
            if row.reading_kind != before.reading_kind:
                await store.reclassify(con, sensor_id)
        if row.status != before.status:
            await publish_sensors(info.context.broadcast, [row])
        return Sensor.from_row(row)

    @strawberry.mutation(description="Delete a sensor and its readings (syndic, superadmin).")
    async def delete_sensor(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The sensor's id.")],
    ) -> bool:
        org = info.context.viewer.require_manager()
        sensor_id = parse_id(id)
        async with info.context.tenant(org) as con:
            deleted = await store.delete(con, org, sensor_id)
        if not deleted:
            raise NotFound("Sensor")
        return True

    @strawberry.mutation(description="Set the factor applied to raw values from now on.")
    async def calibrate_sensor(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The sensor's id.")],
        calibration_factor: Annotated[
            float,
            strawberry.argument(
                description="Factor applied to raw values from now on (> 0, at most 10^6)."
            ),
        ],
    ) -> Sensor:
        org = info.context.viewer.require_manager()
        sensor_id = parse_id(id)
        with field_errors():
            factor = domain.check_calibration_factor(calibration_factor)
        async with info.context.tenant(org) as con:
            row = await store.update(con, org, sensor_id, {"calibration_factor": factor})
        if row is None:
            raise NotFound("Sensor")
        return Sensor.from_row(row)

    @strawberry.mutation(description="Configure a sensor's alert rules (syndic, superadmin).")
    async def configure_alerts(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The sensor's id.")],
        input: Annotated[
            AlertRulesInput, strawberry.argument(description="The rule settings to change.")
        ],
    ) -> Sensor:
        org = info.context.viewer.require_manager()
        sensor_id = parse_id(id)
        async with info.context.tenant(org) as con:
            current = await store.get(con, org, sensor_id)
            if current is None:
                raise NotFound("Sensor")
            rules = current.alert_rules or {}
            given = _rules(input, rules.get("threshold_min"), rules.get("threshold_max"))
            row = await store.merge_alert_rules(con, org, sensor_id, given)
        if row is None:
            raise NotFound("Sensor")
        return Sensor.from_row(row)


async def _insert(
    con: Any, org: uuid.UUID, rows: list[dict[str, Any]], paths: list[str]
) -> list[Any]:
    try:
        return await store.insert_many(con, org, rows)
    except store.DuplicateDeviceId as exc:
        index = next(i for i, r in enumerate(rows) if r["device_id"] == exc.device_id)
        field = "deviceId" if len(rows) == 1 else f"{paths[index]}.deviceId"
        raise BadUserInput(field, f"{exc.device_id!r} is already used by another sensor") from None
    except store.DuplicateBinding as exc:
        index = next(
            i
            for i, r in enumerate(rows)
            if r["external_id"] == exc.external_id and r["metric"] == exc.metric
        )
        field = "metric" if len(rows) == 1 else f"{paths[index]}.metric"
        raise BadUserInput(field, _duplicate_binding(exc)) from None
    except store.BuildingNotOwned as exc:
        index = next(i for i, r in enumerate(rows) if r["building_id"] == exc.building_id)
        field = "buildingId" if len(rows) == 1 else f"{paths[index]}.buildingId"
        raise NotFound("Building", field=field) from None


def _duplicate_binding(exc: store.DuplicateBinding) -> str:
    return (
        f"{exc.metric!r} of device {exc.external_id!r} is already read by another sensor "
        "of the building"
    )
