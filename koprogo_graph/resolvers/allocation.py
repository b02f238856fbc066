"""Distribution keys of buildings: define (syndic, superadmin), list (SPEC §12)."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Annotated

import strawberry

from ..domain.sensors import check_text
from ..errors import BadUserInput, NotFound
from ..schema.allocation import AllocationKey, AllocationKeyInput
from ..schema.context import Context
from ..store import allocation as store
from ..store import buildings as buildings_store
from ._args import field_errors, parse_id

__all__ = ["AllocationMutation", "AllocationQuery"]

Info = strawberry.Info[Context, None]
MAX_SHARES = 1_000
MAX_KEYS = 50  # per building: general, heating, lifts, staircases...
MAX_SHARE = 1e9


@strawberry.type
class AllocationQuery:
    @strawberry.field(description="A building's distribution keys, by name.")
    async def allocation_keys(
        self,
        info: Info,
        building_id: Annotated[strawberry.ID, strawberry.argument(description="The building.")],
    ) -> list[AllocationKey]:
        org = info.context.viewer.org()
        building = parse_id(building_id, "buildingId")
        async with info.context.tenant(org) as con:
            rows = await store.list_for(con, org, building)
        return [AllocationKey.from_row(r) for r in rows]


@strawberry.type
class AllocationMutation:
    @strawberry.mutation(
        description="Define a building's distribution key (syndic, superadmin); a key of the "
        "same name is replaced; at most 50 keys per building."
    )
    async def define_allocation_key(
        self,
        info: Info,
        input: Annotated[AllocationKeyInput, strawberry.argument(description="The key.")],
    ) -> AllocationKey:
        org = info.context.viewer.require_manager()
        building = parse_id(input.building_id, "buildingId")
        with field_errors():
            name = check_text("name", input.name, max_length=100)
        if not 1 <= len(input.shares) <= MAX_SHARES:
            raise BadUserInput("shares", f"must name 1 to {MAX_SHARES} units")
        shares: dict = {}
        for i, given in enumerate(input.shares):
            unit = parse_id(given.unit_id, f"shares[{i}].unitId")
            if unit in shares:
                raise BadUserInput(f"shares[{i}].unitId", "names a unit already given")
            if not math.isfinite(given.share) or not 0 < given.share <= MAX_SHARE:
                raise BadUserInput(
                    f"shares[{i}].share",
                    f"must be a number above 0 and at most {MAX_SHARE:g}",
                )
            shares[unit] = Decimal(repr(given.share)).quantize(Decimal("0.000001"))
            if shares[unit] <= 0:
                raise BadUserInput(f"shares[{i}].share", "is 0 at 6 decimal places")
        async with info.context.tenant(org) as con:
            if await buildings_store.get(con, org, building) is None:
                raise NotFound("Building", field="buildingId")
            names = await store.names_in(con, org, building)
            if name not in names and len(names) >= MAX_KEYS:
                raise BadUserInput(
                    "name", f"the building has {MAX_KEYS} keys already: replace one by its name"
                )
            row = await store.define(con, org, building, name, sorted(shares.items()))
        return AllocationKey.from_row(row)
