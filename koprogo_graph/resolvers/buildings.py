"""The organization's buildings: list, label and time zone."""

from __future__ import annotations

from typing import Annotated

import strawberry

from ..domain.arming import MAX_PERIODS, parse_schedule
from ..domain.sensors import check_text
from ..errors import BadUserInput, NotFound
from ..schema.buildings import ArmPeriodInput, Building, BuildingInput
from ..schema.context import Context
from ..store import buildings as store
from ._args import field_errors, parse_id, parse_timezone

__all__ = ["BuildingMutation", "BuildingQuery"]

Info = strawberry.Info[Context, None]


@strawberry.type
class BuildingQuery:
    @strawberry.field(description="Your organization's buildings, by label.")
    async def buildings(self, info: Info) -> list[Building]:
        org = info.context.viewer.org()
        async with info.context.tenant(org) as con:
            rows = await store.list_all(con, org)
        return [Building.from_row(r) for r in rows]


@strawberry.type
class BuildingMutation:
    @strawberry.mutation(description="Set a building's label or time zone (syndic, superadmin).")
    async def update_building(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The building's id.")],
        input: Annotated[BuildingInput, strawberry.argument(description="The fields to change.")],
    ) -> Building:
        org = info.context.viewer.require_manager()
        building_id = parse_id(id)
        label = timezone = None
        if input.label is not strawberry.UNSET:
            if input.label is None:
                raise BadUserInput("label", "must not be null")
            with field_errors():
                label = check_text("label", input.label, max_length=200)
        if input.timezone is not strawberry.UNSET:
            if input.timezone is None:
                raise BadUserInput("timezone", "must not be null")
            timezone = parse_timezone(input.timezone).key
        async with info.context.tenant(org) as con:
            row = await store.update(con, org, building_id, label=label, timezone=timezone)
        if row is None:
            raise NotFound("Building")
        return Building.from_row(row)

    @strawberry.mutation(
        description="Arm or disarm a building by hand (syndic, superadmin): while armed, its "
        "INTRUSION sensors that read 1 raise INTRUSION_DETECTED."
    )
    async def arm_building(
        self,
        info: Info,
        building_id: Annotated[strawberry.ID, strawberry.argument(description="The building.")],
        armed: Annotated[bool, strawberry.argument(description="Armed (true) or not.")],
    ) -> Building:
        org = info.context.viewer.require_manager()
        building = parse_id(building_id, "buildingId")
        async with info.context.tenant(org) as con:
            row = await store.set_arming(con, org, building, armed=armed)
        if row is None:
            raise NotFound("Building", field="buildingId")
        return Building.from_row(row)

    @strawberry.mutation(
        description="Set a building's weekly arming schedule, in its local time (syndic, "
        "superadmin); an empty list removes it."
    )
    async def set_arm_schedule(
        self,
        info: Info,
        building_id: Annotated[strawberry.ID, strawberry.argument(description="The building.")],
        periods: Annotated[
            list[ArmPeriodInput],
            strawberry.argument(description=f"At most {MAX_PERIODS} weekly periods."),
        ],
    ) -> Building:
        org = info.context.viewer.require_manager()
        building = parse_id(building_id, "buildingId")
        with field_errors():
            schedule = parse_schedule(
                [{"days": p.days, "from": p.from_, "to": p.to} for p in periods], "periods"
            )
        async with info.context.tenant(org) as con:
            row = await store.set_arming(
                con, org, building, schedule=[p.as_json() for p in schedule]
            )
        if row is None:
            raise NotFound("Building", field="buildingId")
        return Building.from_row(row)
