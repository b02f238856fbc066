"""GraphQL types for buildings (SPEC §10)."""

from __future__ import annotations

import strawberry

from ..store.buildings import BuildingRow

__all__ = ["Building", "BuildingInput"]


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
    sensor_count: int = strawberry.field(description="Sensors registered in it.")

    @classmethod
    def from_row(cls, row: BuildingRow) -> Building:
        return cls(
            id=strawberry.ID(str(row.id)),
            label=row.label,
            timezone=row.timezone,
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
