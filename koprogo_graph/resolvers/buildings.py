"""The organization's buildings: list, label and time zone."""

from __future__ import annotations

from typing import Annotated

import strawberry

from ..domain.sensors import check_text
from ..errors import BadUserInput, NotFound
from ..schema.buildings import Building, BuildingInput
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
        async with info.context.db.tenant(org) as con:
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
        async with info.context.db.tenant(org) as con:
            row = await store.update(con, org, building_id, label=label, timezone=timezone)
        if row is None:
            raise NotFound("Building")
        return Building.from_row(row)
