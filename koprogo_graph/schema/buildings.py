"""GraphQL types for buildings (SPEC §10)."""

from __future__ import annotations

from typing import Any

import strawberry

from ..store.buildings import BuildingRow

__all__ = ["ArmPeriod", "ArmPeriodInput", "Building", "BuildingInput"]


@strawberry.type(description="A weekly period when a building is armed, in its local time.")
class ArmPeriod:
    days: list[int] = strawberry.field(description="ISO weekdays: 1 Monday ... 7 Sunday.")
    from_: str = strawberry.field(name="from", description="Start, HH:MM local time.")
    to: str = strawberry.field(
        description="End, HH:MM local time; at or before `from`: the next day (overnight)."
    )

    @classmethod
    def from_json(cls, period: dict[str, Any]) -> ArmPeriod:
        return cls(days=list(period["days"]), from_=period["from"], to=period["to"])


@strawberry.input(description="A weekly period when a building is armed, in its local time.")
class ArmPeriodInput:
    days: list[int] = strawberry.field(description="ISO weekdays: 1 Monday ... 7 Sunday.")
    from_: str = strawberry.field(name="from", description="Start, HH:MM local time.")
    to: str = strawberry.field(
        description="End, HH:MM local time; at or before `from`: the next day (overnight)."
    )


@strawberry.type(
    description="A building of your organization: its id is the one its sensors were registered "
    "with (the first organization to register a sensor in an id owns it)."
)
class Building:
    id: strawberry.ID = strawberry.field(description="The building id its sensors carry.")
    label: str | None = strawberry.field(
        description="A name people recognise (set with updateBuilding)."
    )
    timezone: str = strawberry.field(description="IANA time zone of the building's local days.")
    armed: bool = strawberry.field(
        description="Armed by hand (armBuilding): INTRUSION sensors that read 1 raise "
        "INTRUSION_DETECTED. It is also armed during its schedule's periods."
    )
    arm_schedule: list[ArmPeriod] = strawberry.field(
        description="Weekly periods (local time) when it is armed, whatever `armed` says."
    )
    sensor_count: int = strawberry.field(description="Sensors registered in it.")

    @classmethod
    def from_row(cls, row: BuildingRow) -> Building:
        return cls(
            id=strawberry.ID(str(row.id)),
            label=row.label,
            timezone=row.timezone,
            armed=row.armed,
            arm_schedule=[ArmPeriod.from_json(p) for p in row.arm_schedule],
            sensor_count=row.sensor_count,
        )


@strawberry.input(description="Fields left out keep their value.")
class BuildingInput:
    label: str | None = strawberry.field(
        default=strawberry.UNSET, description="A name people recognise (at most 200 characters)."
    )
    timezone: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="IANA time zone of its local days (e.g. Europe/Brussels).",
    )
