"""Who owns which unit (SPEC §12): syndics and superadmins assign and remove owners; an owner
then sees only their own units (migration 0019)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from ..errors import BadUserInput
from ..schema.allocation import UnitOwner
from ..schema.context import Context
from ..store import unit_owners as store
from ._args import parse_id

__all__ = ["OwnerMutation", "OwnerQuery"]

Info = strawberry.Info[Context, None]
UnitArg = Annotated[strawberry.ID, strawberry.argument(description="The unit (lot).")]
UserArg = Annotated[
    strawberry.ID, strawberry.argument(description="The user (the `sub` of their token).")
]


@strawberry.type
class OwnerQuery:
    @strawberry.field(
        description="The units the viewer owns (an owner's); every unit's owners for the "
        "other roles, with `unitId`."
    )
    async def unit_owners(
        self,
        info: Info,
        unit_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this unit's owners.")
        ] = None,
    ) -> list[UnitOwner]:
        viewer = info.context.viewer
        org = viewer.org()
        unit = None if unit_id is None else parse_id(unit_id, "unitId")
        async with info.context.tenant(org) as con:
            if viewer.is_owner:
                pairs = [
                    (u, viewer.user_id) for u in await store.units_of(con, org, viewer.user_id)
                ]
            elif unit is None:
                raise BadUserInput(
                    "unitId", "is required (the units of one owner: sign in as them)"
                )
            else:
                pairs = [(unit, user) for user in await store.owners_of(con, org, unit)]
        return sorted(
            (
                UnitOwner(unit_id=strawberry.ID(str(u)), user_id=strawberry.ID(str(user)))
                for u, user in pairs
                if unit is None or u == unit
            ),
            key=lambda o: (o.unit_id, o.user_id),
        )


@strawberry.type
class OwnerMutation:
    @strawberry.mutation(description="Make a user an owner of a unit (syndic, superadmin).")
    async def assign_unit_owner(self, info: Info, unit_id: UnitArg, user_id: UserArg) -> UnitOwner:
        org = info.context.viewer.require_manager()
        unit, user = parse_id(unit_id, "unitId"), parse_id(user_id, "userId")
        async with info.context.tenant(org) as con:
            if not await store.assign(con, org, unit, user):
                raise BadUserInput(
                    "userId", f"already owns {store.MAX_UNITS_PER_OWNER} units, the most allowed"
                )
        return UnitOwner(unit_id=strawberry.ID(str(unit)), user_id=strawberry.ID(str(user)))

    @strawberry.mutation(
        description="Remove a user's ownership of a unit (syndic, superadmin); false when they "
        "did not own it."
    )
    async def remove_unit_owner(self, info: Info, unit_id: UnitArg, user_id: UserArg) -> bool:
        org = info.context.viewer.require_manager()
        unit, user = parse_id(unit_id, "unitId"), parse_id(user_id, "userId")
        async with info.context.tenant(org) as con:
            return await store.remove(con, org, unit, user)
