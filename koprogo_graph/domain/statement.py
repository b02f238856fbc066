"""Billing statements (SPEC §12) as plain functions: the index of a meter at a boundary, its
consumption over the period, and the split of common meters over the units, rounded so that
everything adds up to the last decimal shown.

Rounding: each meter's consumption is shown at the statement's decimals (half up); a unit's
consumption is the sum of its meters as shown, the total the sum of every meter as shown, and
the common meters' sum is split over the units by largest remainder at those decimals, so that
``charged = consumption + commonShare`` and the units' ``charged`` add up to ``total`` exactly.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, localcontext
from enum import StrEnum

from .consumption import step
from .sensors import SensorFieldError

__all__ = [
    "Around",
    "CommonAllocation",
    "MeterFacts",
    "MeterLine",
    "Statement",
    "StatementError",
    "UnitLine",
    "boundary_index",
    "build_statement",
    "meter_line",
    "meter_lines",
    "shown",
    "split_largest_remainder",
]


class StatementError(SensorFieldError):
    """The statement cannot be computed; ``field`` names the argument it is about."""


class CommonAllocation(StrEnum):
    BY_KEY = "BY_KEY"  # by a distribution key's shares (tantièmes)
    BY_CONSUMPTION = "BY_CONSUMPTION"  # in proportion to each unit's own consumption


@dataclass(frozen=True, slots=True)
class Around:
    """What is stored of a meter around an instant."""

    at_value: float | None = None  # the reading at that instant
    at_baseline: float | None = None  # its baseline (a glitch keeps the one before it)
    manual: float | None = None  # a manual reading at that instant
    before: tuple[datetime, float] | None = None  # last reading before: (ts, baseline)
    after: tuple[datetime, float] | None = None  # first reading after: (ts, value)


def boundary_index(around: Around, at: datetime) -> tuple[float, bool] | None:
    """(index, estimated) at ``at``: the reading at that instant (the index as the consumption
    rule holds it: a glitch there keeps the index before it, so that the periods on either
    side neither lose nor count twice what the dip hid), else the manual reading at that
    instant, else a linear interpolation between the meter's index as the rule holds it before
    (its baseline) and the next reading. When the index drops across the boundary (a reset or
    a glitch after it), the index before is held: the drop then counts inside the period it
    happened in. None when there is no reading on one side."""
    if around.at_value is not None:
        held = around.at_baseline
        return (around.at_value if held is None else held), False
    if around.manual is not None:
        return around.manual, False
    if around.before is None or around.after is None:
        return None
    (t0, b0), (t1, v1) = around.before, around.after
    if v1 < b0:
        return b0, True
    return b0 + (v1 - b0) * ((at - t0) / (t1 - t0)), True


def _counted(baseline: float | None, value: float) -> float:
    return step(baseline, value)[1] or 0.0


@dataclass(frozen=True, slots=True)
class MeterFacts:
    """A meter's stored facts for a period [start, end)."""

    sensor_id: uuid.UUID
    device_id: str
    unit_id: uuid.UUID | None
    start: Around
    end: Around
    # Consumption of the readings in [start, end) by the stored rule (each against the
    # baseline the service kept before it): what readingSeries sums.
    stored_consumption: float


@dataclass(frozen=True, slots=True)
class MeterLine:
    sensor_id: uuid.UUID
    unit_id: uuid.UUID | None
    start_index: float
    end_index: float
    start_estimated: bool
    end_estimated: bool
    consumption: float  # unrounded


def _index(
    facts: MeterFacts, around: Around, at: datetime, field: str, side: str
) -> tuple[float, bool]:
    index = boundary_index(around, at)
    if index is None:
        raise StatementError(
            field,
            f"meter {facts.device_id} has no reading on one side of the period's {side} "
            f"({at.isoformat()}): its index there is unknown (record a manual reading at "
            "that instant)",
        )
    return index


def meter_line(facts: MeterFacts, start: datetime, end: datetime) -> MeterLine:
    """The consumption rule over [start index, the readings strictly inside, end index].

    The readings inside are summed as stored (rollups make a year of a meter a few thousand
    rows, not 35,000); only the first reading inside is counted again against the start index
    instead of the reading before the period, and the end index against the last one inside."""
    s, s_est = _index(facts, facts.start, start, "from", "start")
    e, e_est = _index(facts, facts.end, end, "to", "end")
    inside = facts.start.after if facts.start.after and facts.start.after[0] < end else None
    if inside is None:
        used = _counted(s, e)
    else:
        at_start = facts.start.at_value
        before = facts.start.before[1] if facts.start.before else None
        stored = facts.stored_consumption
        if at_start is not None:  # stored in [start, end) but it is the start index here
            stored -= _counted(before, at_start)
            before = facts.start.at_baseline
        first_value = inside[1]
        assert facts.end.before is not None  # a reading inside is before the end
        used = (
            stored
            - _counted(before, first_value)
            + _counted(s, first_value)
            + _counted(facts.end.before[1], e)
        )
    return MeterLine(facts.sensor_id, facts.unit_id, s, e, s_est, e_est, used)


def meter_lines(facts: Sequence[MeterFacts], start: datetime, end: datetime) -> list[MeterLine]:
    """Every meter's line; when some cannot be computed, one error naming the first of them by
    device id (and how many more there are), so that the message is the same every time."""
    lines, failed = [], []
    for f in sorted(facts, key=lambda f: f.device_id):
        try:
            lines.append(meter_line(f, start, end))
        except StatementError as exc:
            failed.append(exc)
    if failed:
        more = f" (and {len(failed) - 1} more meters)" if len(failed) > 1 else ""
        raise StatementError(failed[0].field, f"{failed[0]}{more}")
    return lines


def split_largest_remainder(
    amount: Decimal, weights: Mapping[uuid.UUID, Decimal], decimals: int
) -> dict[uuid.UUID, Decimal]:
    """``amount`` split in proportion to ``weights`` at ``decimals`` places, adding up to
    ``amount`` exactly: each part floored, the steps left over going to the largest remainders
    (ties to the smaller unit id)."""
    unit = Decimal(1).scaleb(-decimals)
    total_weight = sum(weights.values(), Decimal(0))
    if total_weight <= 0:
        raise ValueError("weights add up to zero")
    with localcontext() as ctx:
        ctx.prec = 60
        exact = {k: amount * w / total_weight for k, w in weights.items()}
        floored = {k: v.quantize(unit, rounding=ROUND_FLOOR) for k, v in exact.items()}
        left = int(((amount - sum(floored.values(), Decimal(0))) / unit).to_integral_value())
        by_remainder = sorted(exact, key=lambda k: (-(exact[k] - floored[k]), k))
        for k in by_remainder[:left]:
            floored[k] += unit
    return floored


@dataclass(frozen=True, slots=True)
class UnitLine:
    unit_id: uuid.UUID
    consumption: Decimal
    common_share: Decimal
    meters: list[tuple[MeterLine, Decimal]]  # each meter with its consumption as shown

    @property
    def charged(self) -> Decimal:
        return self.consumption + self.common_share


@dataclass(frozen=True, slots=True)
class Statement:
    total: Decimal
    decimals: int
    units: list[UnitLine]  # by unit id
    common_meters: list[tuple[MeterLine, Decimal]]

    def only_units(self, visible: Collection[uuid.UUID]) -> Statement:
        """The statement as an owner sees it: their units' lines, the building's total."""
        return replace(self, units=[u for u in self.units if u.unit_id in visible])


def shown(value: float, decimals: int) -> Decimal:
    """A figure at ``decimals`` places, half up, from its shortest decimal form."""
    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def build_statement(
    meters: Sequence[MeterLine],
    decimals: int,
    allocation: CommonAllocation,
    key_shares: Mapping[uuid.UUID, Decimal] | None = None,
) -> Statement:
    """Units' lines, common meters and the total, reconciled at ``decimals`` places.

    ``key_shares`` (BY_KEY) must cover every unit with a meter; a unit of the key without a
    meter gets its share of the common meters with a consumption of 0."""
    zero = shown(0.0, decimals)
    by_unit: dict[uuid.UUID, list[tuple[MeterLine, Decimal]]] = {}
    common: list[tuple[MeterLine, Decimal]] = []
    for m in meters:
        line = (m, shown(m.consumption, decimals))
        if m.unit_id is None:
            common.append(line)
        else:
            by_unit.setdefault(m.unit_id, []).append(line)
    if allocation is CommonAllocation.BY_KEY:
        if key_shares is None:
            raise StatementError("allocationKeyId", "is required to split common meters BY_KEY")
        missing = sorted(set(by_unit) - set(key_shares))
        if missing:
            raise StatementError(
                "allocationKeyId",
                f"the key gives no share to unit {missing[0]}, which has a meter of this type"
                + (f" (and {len(missing) - 1} more units)" if len(missing) > 1 else ""),
            )
        for unit in key_shares:
            by_unit.setdefault(unit, [])
    consumption = {u: sum((c for _, c in lines), zero) for u, lines in by_unit.items()}
    common_total = sum((c for _, c in common), zero)
    if common_total and not by_unit:
        raise StatementError(
            "commonAllocation",
            "no meter of this type belongs to a unit: split the common meters BY_KEY, over "
            "the units of a distribution key",
        )
    shares = dict.fromkeys(by_unit, zero)
    if common_total and by_unit:
        weights = (
            {u: Decimal(key_shares[u]) for u in by_unit}
            if allocation is CommonAllocation.BY_KEY and key_shares is not None
            else consumption
        )
        if sum(weights.values(), Decimal(0)) <= 0:
            raise StatementError(
                "commonAllocation",
                "the units consumed nothing in the period: common meters cannot be split by "
                "consumption (split them BY_KEY)",
            )
        shares = split_largest_remainder(common_total, weights, decimals)
    units = [
        UnitLine(u, consumption[u], shares[u], sorted(by_unit[u], key=lambda x: x[0].sensor_id))
        for u in sorted(by_unit)
    ]
    total = sum(consumption.values(), zero) + common_total
    return Statement(total, decimals, units, sorted(common, key=lambda x: x[0].sensor_id))
