"""Consumption rule, local buckets across DST, gap filling (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from koprogo_graph.domain.consumption import (
    Bucket,
    BucketWidth,
    FillMode,
    Step,
    baseline_after,
    bucket_starts,
    consumption,
    fill,
    local_bucket_start,
    merge,
    step,
    whole_hour_offsets,
)

BRUSSELS = ZoneInfo("Europe/Brussels")
T0 = datetime(2026, 3, 28, 0, 0, tzinfo=UTC)


def test_local_days_last_23_or_25_hours_across_dst():
    spring = bucket_starts(
        datetime(2026, 3, 28, 12, tzinfo=UTC),
        datetime(2026, 3, 31, tzinfo=UTC),
        BucketWidth.DAY,
        BRUSSELS,
    )
    assert [b.isoformat() for b in spring] == [
        "2026-03-27T23:00:00+00:00",
        "2026-03-28T23:00:00+00:00",
        "2026-03-29T22:00:00+00:00",
        "2026-03-30T22:00:00+00:00",
    ]
    assert spring[2] - spring[1] == timedelta(hours=23)
    autumn = bucket_starts(
        datetime(2026, 10, 24, 12, tzinfo=UTC),
        datetime(2026, 10, 27, tzinfo=UTC),
        BucketWidth.DAY,
        BRUSSELS,
    )
    assert autumn[2] - autumn[1] == timedelta(hours=25)


def test_weeks_start_on_monday_and_months_on_the_first():
    assert (
        local_bucket_start(
            datetime(2026, 11, 22, 12, tzinfo=UTC), BucketWidth.WEEK, BRUSSELS
        ).isoformat()
        == "2026-11-16T00:00:00+01:00"
    )
    assert (
        local_bucket_start(
            datetime(2026, 11, 22, 12, tzinfo=UTC), BucketWidth.MONTH, BRUSSELS
        ).isoformat()
        == "2026-11-01T00:00:00+01:00"
    )


def test_the_consumption_rule_with_baseline_and_reset():
    readings = [
        (T0 + timedelta(hours=h), v) for h, v in [(0, 105.0), (1, 110.0), (2, 3.0), (3, 7.0)]
    ]  # 110 -> 3: far more than 10 % below, a reset (a new meter)
    by_hour = consumption(100.0, readings, lambda ts: ts)
    assert by_hour == {
        readings[0][0]: 5.0,
        readings[1][0]: 5.0,
        readings[2][0]: 3.0,
        readings[3][0]: 4.0,
    }
    assert consumption(None, readings, lambda ts: ts)[readings[1][0]] == 5.0


def test_a_glitch_counts_nothing_and_keeps_the_baseline():
    """1000 -> 999.5 (0.05 % below: a glitch) -> 1001: 1 in all, never 999.5 + 1.5."""
    readings = [(T0 + timedelta(hours=h), v) for h, v in [(0, 999.5), (1, 999.8), (2, 1001.0)]]
    assert consumption(1000.0, readings, lambda ts: ts) == {
        readings[0][0]: 0.0,
        readings[1][0]: 0.0,  # still below the kept baseline 1000
        readings[2][0]: 1.0,
    }
    assert [s[0] for s in map(lambda v: step(1000.0, v), (999.5, 900.0, 899.9, 1000.0))] == [
        Step.GLITCH,
        Step.GLITCH,  # exactly 10 % below: still a glitch
        Step.RESET,
        Step.INCREASE,
    ]
    assert baseline_after([999.5, 999.8], 1000.0) == 1000.0
    assert baseline_after([999.5, 3.0], 1000.0) == 3.0


@given(
    st.lists(
        st.tuples(st.sampled_from(["up", "glitch", "reset"]), st.floats(0, 50)),
        min_size=1,
        max_size=60,
    )
)
def test_glitches_never_count_twice_and_resets_count_their_value(moves):
    """Built from moves whose consumption is known: an increase of x counts x, a glitch (at most
    10 % down) counts nothing until the index passes its baseline again, a reset to y counts y."""
    index, baseline, expected, values = 500.0, 500.0, 0.0, []
    for move, x in moves:
        if move == "up":
            index += x
            expected += max(0.0, index - baseline)
            baseline = max(baseline, index)
        elif move == "glitch":
            index = max(baseline * 0.95, 0.0)
        elif baseline > 0:
            index = min(x, baseline * 0.5)  # far below: a new meter
            expected += index
            baseline = index
        values.append(index)
    readings = [(T0 + timedelta(minutes=i), v) for i, v in enumerate(values)]
    total = sum(consumption(500.0, readings, lambda ts: ts).values())
    assert abs(total - expected) <= 1e-6 * max(1.0, expected)


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=50))
def test_without_resets_totals_equal_last_minus_first(increments):
    values, total = [], 0.0
    for inc in increments:
        total += inc
        values.append(total)
    readings = [(T0 + timedelta(minutes=i), v) for i, v in enumerate(values)]
    by_bucket = consumption(
        0.0, readings, lambda ts: local_bucket_start(ts, BucketWidth.HOUR, BRUSSELS)
    )
    assert abs(sum(by_bucket.values()) - (values[-1] - 0.0)) <= 1e-6 * max(1.0, values[-1])


@given(st.lists(st.floats(min_value=0, max_value=1000), min_size=2, max_size=40))
def test_consumption_is_never_negative(values):
    readings = [(T0 + timedelta(minutes=7 * i), v) for i, v in enumerate(values)]
    assert all(c >= 0 for c in consumption(None, readings, lambda ts: ts).values())


def test_fill_modes():
    starts = [T0 + timedelta(hours=h) for h in range(4)]
    known = [
        Bucket(start=starts[0], count=1, sum=10.0, min=10.0, max=10.0).with_avg(),
        Bucket(start=starts[3], count=1, sum=40.0, min=40.0, max=40.0).with_avg(),
    ]
    assert len(fill(known, starts, FillMode.NONE)) == 2
    assert [b.avg for b in fill(known, starts, FillMode.NULL)] == [10.0, None, None, 40.0]
    assert [b.avg for b in fill(known, starts, FillMode.PREVIOUS)] == [10.0, 10.0, 10.0, 40.0]
    assert [b.avg for b in fill(known, starts, FillMode.LINEAR)] == [10.0, 20.0, 30.0, 40.0]
    assert [b.count for b in fill(known, starts, FillMode.LINEAR)] == [1, 0, 0, 1]


def test_merge_of_partial_buckets():
    a = Bucket(start=T0, count=2, sum=3.0, min=1.0, max=2.0, consumption=1.0)
    b = Bucket(start=T0, count=1, sum=5.0, min=5.0, max=5.0, consumption=None)
    m = merge(a, b)
    assert (m.count, m.sum, m.min, m.max, m.consumption, m.avg) == (3, 8.0, 1.0, 5.0, 1.0, 8.0 / 3)


def test_zones_with_half_hour_offsets_cannot_use_hourly_rollups():
    assert whole_hour_offsets(BRUSSELS, T0, T0 + timedelta(days=365))
    assert not whole_hour_offsets(ZoneInfo("Asia/Kolkata"), T0, T0 + timedelta(days=2))
