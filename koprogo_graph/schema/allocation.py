"""GraphQL types of distribution keys (SPEC §12)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry

if TYPE_CHECKING:
    from ..store.allocation import AllocationKeyRow

__all__ = ["AllocationKey", "AllocationKeyInput", "UnitOwner", "UnitShare", "UnitShareInput"]


@strawberry.type(description="A unit's share in a distribution key.")
class UnitShare:
    unit_id: strawberry.ID = strawberry.field(description="The unit (lot).")
    share: float = strawberry.field(description="Its share (tantièmes, quotités): positive.")


@strawberry.type(
    description="A building's distribution key (tantièmes, quotités): how common costs are "
    "split over the units it names."
)
class AllocationKey:
    id: strawberry.ID = strawberry.field(description="Identifier.")
    building_id: strawberry.ID = strawberry.field(description="The building.")
    name: str = strawberry.field(description="Its name (unique in the building).")
    shares: list[UnitShare] = strawberry.field(description="Each unit's share, by unit id.")
    total_shares: float = strawberry.field(description="The sum of the shares.")

    @classmethod
    def from_row(cls, row: AllocationKeyRow) -> AllocationKey:
        return cls(
            id=strawberry.ID(str(row.id)),
            building_id=strawberry.ID(str(row.building_id)),
            name=row.name,
            shares=[
                UnitShare(unit_id=strawberry.ID(str(u)), share=float(s)) for u, s in row.shares
            ],
            total_shares=float(sum(s for _, s in row.shares)),
        )


@strawberry.input(description="A unit's share in a distribution key.")
class UnitShareInput:
    unit_id: strawberry.ID = strawberry.field(description="The unit (lot).")
    share: float = strawberry.field(
        description="Its share: positive, at most 10^9, 6 decimal places at most kept."
    )


@strawberry.input(
    description="A distribution key; one of the same name in the building is replaced."
)
class AllocationKeyInput:
    building_id: strawberry.ID = strawberry.field(description="The building.")
    name: str = strawberry.field(description="Its name (at most 100 characters).")
    shares: list[UnitShareInput] = strawberry.field(
        description="Each unit's share (1 to 1,000 units, each once)."
    )


@strawberry.type(description="A user's ownership of a unit (lot): they see that unit's data.")
class UnitOwner:
    unit_id: strawberry.ID = strawberry.field(description="The unit.")
    user_id: strawberry.ID = strawberry.field(description="The owner (the token's sub).")
