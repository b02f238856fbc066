"""GraphQL types of billing statements (SPEC §12)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry

if TYPE_CHECKING:
    from .sensors import Sensor

__all__ = ["CommonMeterLine", "ConsumptionStatement", "StatementMeter", "StatementUnit"]


def as_number(value: Decimal) -> float:
    """A figure already rounded at the statement's decimals, as a JSON number."""
    return float(value) + 0.0


async def _meter(
    root: StatementMeter | CommonMeterLine, info: strawberry.Info
) -> Annotated[Sensor, strawberry.lazy(".sensors")] | None:
    """A statement line's meter (batched per request)."""
    from .sensors import sensor_by_id

    return await sensor_by_id(info, strawberry.ID(root.sensor_id))


@strawberry.type(description="One meter of a unit in a statement.")
class StatementMeter:
    sensor_id: strawberry.Private[str]
    start_index: float = strawberry.field(description="Its index at the period's start.")
    end_index: float = strawberry.field(description="Its index at the period's end.")
    start_estimated: bool = strawberry.field(
        description="True when the start index is interpolated between the readings around "
        "it (no reading nor manual reading at that instant)."
    )
    end_estimated: bool = strawberry.field(description="True when the end index is interpolated.")
    consumption: float = strawberry.field(
        description="What it consumed in the period (the consumption rule over the start "
        "index, the readings inside and the end index), at the statement's decimals."
    )
    sensor: Annotated[Sensor, strawberry.lazy(".sensors")] | None = strawberry.field(
        resolver=_meter, description="The meter."
    )


@strawberry.type(description="A unit's (lot's) line in a statement.")
class StatementUnit:
    unit_id: strawberry.ID = strawberry.field(description="The unit.")
    consumption: float = strawberry.field(description="The sum of its meters' consumption.")
    common_share: float = strawberry.field(description="Its share of the common meters.")
    charged: float = strawberry.field(
        description="What the unit is charged for: its consumption plus its commonShare."
    )
    meters: list[StatementMeter] = strawberry.field(description="Its meters of the type.")


@strawberry.type(description="A common meter (of no unit) in a statement.")
class CommonMeterLine:
    sensor_id: strawberry.Private[str]
    consumption: float = strawberry.field(description="What it consumed in the period.")
    sensor: Annotated[Sensor, strawberry.lazy(".sensors")] | None = strawberry.field(
        resolver=_meter, description="The meter."
    )


@strawberry.type(
    description="What each unit of a building consumed of one meter type over a period, with "
    "the common meters split over the units. Every figure is at the meters' resolution and "
    "everything adds up exactly: the units' charged add up to total."
)
class ConsumptionStatement:
    from_: datetime = strawberry.field(name="from", description="Start of the period.")
    to: datetime = strawberry.field(description="End of the period (excluded).")
    total: float = strawberry.field(
        description="Every meter of the type in the building, units' and common."
    )
    unit_of_measure: str = strawberry.field(description="Unit of every figure.")
    units: list[StatementUnit] = strawberry.field(
        description="The units, by id (an owner sees only their own)."
    )
    common_meters: list[CommonMeterLine] = strawberry.field(
        description="The meters of no unit, split over the units."
    )
