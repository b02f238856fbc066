"""consumptionStatement (SPEC §12): what each unit of a building consumed of one meter type,
with the common meters split over the units. The exports (api/exports.py) use the same
``load_statement``, so the spreadsheet and the GraphQL answer always agree."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated
from zoneinfo import ZoneInfo

import strawberry

from ..domain.sensors import ReadingKind, SensorType, default_reading_kind, resolution_of
from ..domain.statement import (
    CommonAllocation,
    MeterLine,
    Statement,
    build_statement,
    meter_lines,
    shown,
)
from ..errors import BadUserInput, NotFound, RateLimited
from ..schema.context import Context
from ..schema.statement import (
    CommonMeterLine,
    ConsumptionStatement,
    StatementMeter,
    StatementUnit,
    as_number,
)
from ..store import allocation as allocation_store
from ..store import buildings as buildings_store
from ..store import sensors as sensors_store
from ..store import statement as statement_store
from ..store import unit_owners as owners_store
from ._args import field_errors, parse_id, parse_optional_id
from .readings import check_range

__all__ = ["MAX_PERIOD", "LoadedStatement", "StatementQuery", "load_statement"]

Info = strawberry.Info[Context, None]
MAX_PERIOD = timedelta(days=731)  # two years, leap day included


@dataclass(frozen=True, slots=True)
class LoadedStatement:
    start: datetime
    end: datetime
    sensor_type: SensorType
    unit_of_measure: str
    timezone: ZoneInfo  # the building's (the exports' dates)
    statement: Statement
    device_ids: dict[uuid.UUID, str]  # by sensor id, for the exports


async def load_statement(
    context: Context,
    building_id: str,
    sensor_type: SensorType,
    start: datetime,
    end: datetime,
    common_allocation: CommonAllocation = CommonAllocation.BY_CONSUMPTION,
    allocation_key_id: str | None = None,
) -> LoadedStatement | None:
    """The statement as the viewer may see it (an owner: their own units, the building's
    total); None for an unknown building."""
    viewer = context.viewer
    org = viewer.org()
    limiter = context.statement_limiter
    if limiter is not None and not limiter.allow(f"user:{viewer.user_id}", time.monotonic()):
        raise RateLimited()
    building = parse_id(building_id, "buildingId")
    key_id = parse_optional_id(allocation_key_id, "allocationKeyId")
    check_range(start, end)
    if end - start > MAX_PERIOD:
        raise BadUserInput("to", "the period may last at most two years")
    if common_allocation is CommonAllocation.BY_KEY and key_id is None:
        raise BadUserInput("allocationKeyId", "is required to split common meters BY_KEY")
    if common_allocation is not CommonAllocation.BY_KEY and key_id is not None:
        raise BadUserInput("allocationKeyId", "is only used with commonAllocation BY_KEY")
    # Computed over the whole building (an owner's share depends on the other units), then
    # narrowed to what the viewer may see.
    async with context.db.tenant(org) as con:
        building_row = await buildings_store.get(con, org, building)
        if building_row is None:
            return None
        key_shares: dict[uuid.UUID, Decimal] | None = None
        if key_id is not None:
            key = await allocation_store.get(con, org, building, key_id)
            if key is None:
                raise NotFound("Allocation key", field="allocationKeyId")
            key_shares = dict(key.shares)
        meters = await sensors_store.meters_in_building(con, org, building, sensor_type.value)
        facts = await statement_store.meter_facts(con, org, meters, start, end)
        owned = await owners_store.units_of(con, org, viewer.user_id) if viewer.is_owner else None
    if not meters and default_reading_kind(sensor_type) is not ReadingKind.CUMULATIVE:
        raise BadUserInput(
            "sensorType",
            f"{sensor_type.value} sensors are gauges (the building has no meter of this type):"
            " they have no consumption",
        )
    units_of_measure = sorted({m.unit_of_measure for m in meters})
    if len(units_of_measure) > 1:
        raise BadUserInput(
            "sensorType",
            f"the building's meters of this type are in different units ({', '.join(units_of_measure)}):"
            " a statement cannot add them up",
        )
    decimals = max((resolution_of(m.unit_of_measure, m.resolution) for m in meters), default=3)
    try:
        with field_errors():
            lines: list[MeterLine] = meter_lines(facts, start, end)
            statement = build_statement(lines, decimals, common_allocation, key_shares)
    except BadUserInput as error:
        if owned is None:
            raise
        # The reason may name another unit or its meter: an owner is told what to do instead.
        raise BadUserInput(
            error.field,
            "the building's statement cannot be computed for this period yet: ask your syndic",
        ) from None
    if owned is not None:
        statement = statement.only_units(owned)
    return LoadedStatement(
        start=start,
        end=end,
        sensor_type=sensor_type,
        unit_of_measure=units_of_measure[0] if units_of_measure else sensor_type.spec.unit,
        timezone=ZoneInfo(building_row.timezone),
        statement=statement,
        device_ids={m.id: m.device_id for m in meters},
    )


def _statement(loaded: LoadedStatement) -> ConsumptionStatement:
    s = loaded.statement
    return ConsumptionStatement(
        from_=loaded.start,
        to=loaded.end,
        total=as_number(s.total),
        unit_of_measure=loaded.unit_of_measure,
        units=[
            StatementUnit(
                unit_id=strawberry.ID(str(u.unit_id)),
                consumption=as_number(u.consumption),
                common_share=as_number(u.common_share),
                charged=as_number(u.charged),
                meters=[
                    StatementMeter(
                        sensor_id=str(m.sensor_id),
                        start_index=as_number(shown(m.start_index, s.decimals)),
                        end_index=as_number(shown(m.end_index, s.decimals)),
                        start_estimated=m.start_estimated,
                        end_estimated=m.end_estimated,
                        consumption=as_number(used),
                    )
                    for m, used in u.meters
                ],
            )
            for u in s.units
        ],
        common_meters=[
            CommonMeterLine(sensor_id=str(m.sensor_id), consumption=as_number(used))
            for m, used in s.common_meters
        ],
    )


@strawberry.type
class StatementQuery:
    @strawberry.field(
        description="What each unit of a building consumed of one meter type over a period, "
        "with the common meters split over the units; null for an unknown building."
    )
    async def consumption_statement(
        self,
        info: Info,
        building_id: Annotated[strawberry.ID, strawberry.argument(description="The building.")],
        sensor_type: Annotated[
            SensorType, strawberry.argument(description="A meter type (not a gauge).")
        ],
        from_: Annotated[
            datetime, strawberry.argument(name="from", description="Start of the period.")
        ],
        to: Annotated[
            datetime,
            strawberry.argument(description="End of the period (excluded; at most two years)."),
        ],
        common_allocation: Annotated[
            CommonAllocation,
            strawberry.argument(description="How the common meters are split over the units."),
        ] = CommonAllocation.BY_CONSUMPTION,
        allocation_key_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="The distribution key (with BY_KEY only)."),
        ] = None,
    ) -> ConsumptionStatement | None:
        loaded = await load_statement(
            info.context, building_id, sensor_type, from_, to, common_allocation, allocation_key_id
        )
        return None if loaded is None else _statement(loaded)
