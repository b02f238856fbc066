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
    bucket_starts,
    consumption,
    fill,
    local_bucket_start,
    merge,
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
    ]
    by_hour = consumption(100.0, readings, lambda ts: ts)
    assert by_hour == {
        readings[0][0]: 5.0,
        readings[1][0]: 5.0,
        readings[2][0]: 3.0,
        readings[3][0]: 4.0,
    }
    assert consumption(None, readings, lambda ts: ts)[readings[1][0]] == 5.0


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
