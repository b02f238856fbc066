"""Statement arithmetic (SPEC §12) without services: boundary indexes, the split, the errors."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from koprogo_graph.domain.statement import (
    Around,
    CommonAllocation,
    MeterFacts,
    MeterLine,
    StatementError,
    boundary_index,
    build_statement,
    meter_line,
    split_largest_remainder,
)

T = datetime(2025, 1, 1, tzinfo=UTC)
H = timedelta(hours=1)
U1, U2, U3 = (uuid.UUID(int=i) for i in (1, 2, 3))


def test_the_index_at_a_boundary():
    assert boundary_index(Around(at_value=5.0, manual=9.0), T) == (5.0, False)
    assert boundary_index(Around(manual=9.0, before=(T - H, 1.0)), T) == (9.0, False)
    assert boundary_index(Around(before=(T - H, 10.0), after=(T + 3 * H, 14.0)), T) == (11.0, True)
    # A drop across the boundary (a reset after it): the index before is held.
    assert boundary_index(Around(before=(T - H, 10.0), after=(T + H, 0.5)), T) == (10.0, True)
    assert boundary_index(Around(before=(T - H, 10.0)), T) is None
    assert boundary_index(Around(after=(T + H, 10.0)), T) is None


def test_a_meter_with_no_reading_inside_counts_end_minus_start():
    facts = MeterFacts(
        U1,
        "D",
        U1,
        start=Around(before=(T - H, 10.0), after=(T + 9 * H, 20.0)),
        end=Around(before=(T - H, 10.0), after=(T + 9 * H, 20.0)),
        stored_consumption=0.0,
    )
    line = meter_line(facts, T, T + 5 * H)
    assert (line.start_index, line.end_index, line.consumption) == (11.0, 16.0, 5.0)


def test_a_missing_side_names_the_meter_and_the_boundary():
    facts = MeterFacts(U1, "WM-7", U1, Around(after=(T + H, 1.0)), Around(), 0.0)
    with pytest.raises(StatementError, match=r"meter WM-7 .* period's start") as caught:
        meter_line(facts, T, T + 2 * H)
    assert caught.value.field == "from"


@given(
    amount=st.decimals(min_value=0, max_value=10**6, places=3),
    weights=st.lists(st.integers(min_value=1, max_value=10**6), min_size=1, max_size=40),
)
def test_the_split_adds_up_and_each_part_is_within_one_step(amount, weights):
    keyed = {uuid.UUID(int=i + 1): Decimal(w) for i, w in enumerate(weights)}
    parts = split_largest_remainder(amount, keyed, 3)
    assert sum(parts.values()) == amount
    total = sum(keyed.values())
    for k, part in parts.items():
        assert abs(part - amount * keyed[k] / total) < Decimal("0.001")


def test_a_third_each_gives_the_leftover_to_the_first_unit():
    parts = split_largest_remainder(
        Decimal("1.000"), {U1: Decimal(1), U2: Decimal(1), U3: Decimal(1)}, 3
    )
    assert parts == {U1: Decimal("0.334"), U2: Decimal("0.333"), U3: Decimal("0.333")}


def line(unit, consumption, sensor=None):
    return MeterLine(sensor or uuid.uuid4(), unit, 0.0, 0.0, False, False, consumption)


def test_a_statement_reconciles_and_names_what_is_missing():
    meters = [line(U1, 1.0004), line(U2, 2.0006), line(None, 0.5)]
    s = build_statement(meters, 3, CommonAllocation.BY_CONSUMPTION)
    assert [(u.consumption, u.common_share) for u in s.units] == [
        (Decimal("1.000"), Decimal("0.167")),
        (Decimal("2.001"), Decimal("0.333")),
    ]
    assert s.total == Decimal("3.501") == sum(u.charged for u in s.units)
    with pytest.raises(StatementError) as caught:
        build_statement(meters, 3, CommonAllocation.BY_KEY, {U1: Decimal(1)})
    assert caught.value.field == "allocationKeyId" and str(U2) in str(caught.value)
    with pytest.raises(StatementError) as caught:
        build_statement([line(None, 1.0)], 3, CommonAllocation.BY_CONSUMPTION)
    assert caught.value.field == "commonAllocation"
    only = s.only_units({U2})
    assert [u.unit_id for u in only.units] == [U2] and only.total == s.total


def test_a_glitch_on_the_boundary_is_neither_lost_nor_billed_twice():
    """1000, then a dip to 990 exactly at the boundary (a glitch: the rule keeps 1000), then
    1001 and 1002: the period after it used 2, not 12; the period before it, 0."""
    dip = Around(at_value=990.0, at_baseline=1000.0, before=(T - H, 1000.0), after=(T + H, 1001.0))
    after = MeterFacts(
        U1,
        "D",
        U1,
        start=dip,
        end=Around(before=(T + 2 * H, 1002.0), after=(T + 4 * H, 1002.0)),
        # As stored: the dip counted 0 against 1000, then 1 and 1.
        stored_consumption=2.0,
    )
    line = meter_line(after, T, T + 3 * H)
    assert (line.start_index, line.end_index, line.consumption) == (1000.0, 1002.0, 2.0)
    before = MeterFacts(
        U1,
        "D",
        U1,
        start=Around(at_value=1000.0, at_baseline=1000.0),
        end=dip,
        stored_consumption=0.0,
    )
    assert meter_line(before, T - H, T).consumption == 0.0
