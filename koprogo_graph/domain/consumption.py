"""Consumption and gauge aggregates as plain functions (SPEC §7, §10).

These are the reference the SQL is tested against, and what gap filling runs on.

Consumption rule (exact, SPEC §10): readings in time order each contribute to the bucket they
fall in, against a baseline: ``value - baseline`` when at or above it; when below it by more
than 10 % of it (a reset, a rollover, a new meter) the value itself; when below by 10 % or less
(a glitch) nothing, and the baseline does not move (so nothing is counted twice when the index
recovers). Otherwise the baseline becomes the reading. The last reading before ``from`` (with
the rule applied up to it) gives the first baseline.

The database applies the same rule: ``koprogo_consumption(baseline, value)`` (migration 0010),
with each glitch's kept baseline stored on its reading (``readings.glitch_baseline``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from itertools import pairwise
from zoneinfo import ZoneInfo

__all__ = [
    "MAX_BUCKETS",
    "RESET_DROP",
    "Bucket",
    "BucketWidth",
    "FillMode",
    "Step",
    "baseline_after",
    "bucket_starts",
    "consumption",
    "fill",
    "gauge_buckets",
    "local_bucket_start",
    "step",
]

MAX_BUCKETS = 10_000


class BucketWidth(StrEnum):
    FIVE_MINUTES = "FIVE_MINUTES"
    FIFTEEN_MINUTES = "FIFTEEN_MINUTES"
    HOUR = "HOUR"
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"

    @property
    def sql_interval(self) -> str:
        return _INTERVALS[self]

    @property
    def nominal(self) -> timedelta:
        """An upper bound of the bucket's length, for request-size limits."""
        return _NOMINAL[self]


_INTERVALS = {
    BucketWidth.FIVE_MINUTES: "5 minutes",
    BucketWidth.FIFTEEN_MINUTES: "15 minutes",
    BucketWidth.HOUR: "1 hour",
    BucketWidth.DAY: "1 day",
    BucketWidth.WEEK: "7 days",
    BucketWidth.MONTH: "1 month",
}
_NOMINAL = {
    BucketWidth.FIVE_MINUTES: timedelta(minutes=5),
    BucketWidth.FIFTEEN_MINUTES: timedelta(minutes=15),
    BucketWidth.HOUR: timedelta(hours=1),
    BucketWidth.DAY: timedelta(days=1),
    BucketWidth.WEEK: timedelta(days=7),
    BucketWidth.MONTH: timedelta(days=28),
}


class FillMode(StrEnum):
    NONE = "NONE"
    NULL = "NULL"
    PREVIOUS = "PREVIOUS"
    LINEAR = "LINEAR"


@dataclass(frozen=True, slots=True)
class Bucket:
    start: datetime  # aware UTC instant
    count: int = 0
    sum: float | None = None
    min: float | None = None
    max: float | None = None
    consumption: float | None = None
    avg: float | None = None

    def with_avg(self) -> Bucket:
        return replace(
            self, avg=None if not self.count or self.sum is None else self.sum / self.count
        )


_ORIGIN = datetime(2000, 1, 3)  # a Monday, TimescaleDB's origin


def local_bucket_start(ts: datetime, width: BucketWidth, tz: ZoneInfo) -> datetime:
    """The start (aware, in ``tz``) of the bucket holding ``ts``: a local day may last 23 or 25 h."""
    local = ts.astimezone(tz).replace(tzinfo=None)
    if width is BucketWidth.MONTH:
        start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    else:
        step = _NOMINAL[width]
        start = _ORIGIN + ((local - _ORIGIN) // step) * step
    return start.replace(tzinfo=tz)


def bucket_starts(
    start: datetime, end: datetime, width: BucketWidth, tz: ZoneInfo
) -> list[datetime]:
    """Every bucket start (UTC) of buckets overlapping [start, end), in order."""
    starts: list[datetime] = []
    current = local_bucket_start(start, width, tz).replace(tzinfo=None)
    utc = start.tzinfo
    while True:
        instant = current.replace(tzinfo=tz).astimezone(utc)
        if instant >= end:
            return starts
        starts.append(instant)
        if width is BucketWidth.MONTH:
            current = (current.replace(day=28) + timedelta(days=4)).replace(day=1)
        else:
            current = current + _NOMINAL[width]
        if len(starts) > MAX_BUCKETS:
            raise ValueError("too many buckets")


RESET_DROP = 0.10  # a drop of more than this share of the baseline is a reset, else a glitch


class Step(StrEnum):
    FIRST = "FIRST"  # no baseline yet: contributes nothing
    INCREASE = "INCREASE"
    RESET = "RESET"
    GLITCH = "GLITCH"


def step(baseline: float | None, value: float) -> tuple[Step, float | None, float]:
    """One reading against the baseline: (what it is, its contribution, the next baseline)."""
    if baseline is None:
        return Step.FIRST, None, value
    if value >= baseline:
        return Step.INCREASE, value - baseline, value
    if baseline - value > RESET_DROP * baseline:
        return Step.RESET, value, value
    return Step.GLITCH, 0.0, baseline


def baseline_after(readings: Iterable[float], baseline: float | None = None) -> float | None:
    """The baseline once ``readings`` (in time order) have been applied."""
    for value in readings:
        baseline = step(baseline, value)[2]
    return baseline


def consumption(
    baseline: float | None,
    readings: Sequence[tuple[datetime, float]],
    bucket_of: Callable[[datetime], datetime],
) -> dict[datetime, float]:
    """Consumption per bucket from readings in [from, to) sorted by time, by the exact rule."""
    totals: dict[datetime, float] = {}
    for ts, value in readings:
        _, contribution, baseline = step(baseline, value)
        if contribution is not None:
            key = bucket_of(ts)
            totals[key] = totals.get(key, 0.0) + contribution
    return totals


def gauge_buckets(
    readings: Iterable[tuple[datetime, float]], bucket_of: Callable[[datetime], datetime]
) -> dict[datetime, Bucket]:
    # Per bucket: count, sum, min, max.
    totals: dict[datetime, tuple[int, float, float, float]] = {}
    for ts, value in readings:
        key = bucket_of(ts)
        count, total, low, high = totals.get(key, (0, 0.0, math.inf, -math.inf))
        totals[key] = (count + 1, total + value, min(low, value), max(high, value))
    return {
        k: Bucket(start=k, count=n, sum=total, min=low, max=high).with_avg()
        for k, (n, total, low, high) in totals.items()
    }


FILLED = ("avg", "min", "max")


def fill(buckets: Sequence[Bucket], starts: Sequence[datetime], mode: FillMode) -> list[Bucket]:
    """Gap filling over ``starts``: NONE keeps only buckets with data; NULL adds empty buckets;
    PREVIOUS repeats the last known avg/min/max; LINEAR interpolates them between known
    neighbours (never beyond the first or last known bucket). Counts and consumption of an
    empty bucket stay empty: nothing was measured there."""
    if mode is FillMode.NONE:
        return list(buckets)
    known = {b.start: b for b in buckets}
    out = [known.get(s) or Bucket(start=s) for s in starts]
    if mode is FillMode.NULL:
        return out
    points = [i for i, b in enumerate(out) if b.start in known and b.avg is not None]
    if mode is FillMode.PREVIOUS:
        for i0, i1 in zip(points, [*points[1:], len(out)], strict=True):
            for i in range(i0 + 1, i1):
                out[i] = replace(out[i], **{f: getattr(out[i0], f) for f in FILLED})
        return out
    for i0, i1 in pairwise(points):
        for i in range(i0 + 1, i1):
            t = (i - i0) / (i1 - i0)
            out[i] = replace(
                out[i],
                **{
                    f: getattr(out[i0], f) + (getattr(out[i1], f) - getattr(out[i0], f)) * t
                    for f in FILLED
                },
            )
    return out


def merge(a: Bucket, b: Bucket) -> Bucket:
    """Two partial aggregates of the same bucket (e.g. raw edge + rollups) as one."""

    def add(x: float | None, y: float | None) -> float | None:
        return y if x is None else x if y is None else x + y

    def pick(f: Callable[[float, float], float], x: float | None, y: float | None) -> float | None:
        return y if x is None else x if y is None else f(x, y)

    return Bucket(
        start=a.start,
        count=a.count + b.count,
        sum=add(a.sum, b.sum),
        min=pick(min, a.min, b.min),
        max=pick(max, a.max, b.max),
        consumption=add(a.consumption, b.consumption),
    ).with_avg()


def whole_hour_offsets(tz: ZoneInfo, start: datetime, end: datetime) -> bool:
    """True when local bucket boundaries in [start, end] fall on whole UTC hours (so hourly
    rollups can build them): the zone's offsets at both ends and at each DST change are whole."""
    probe = start
    while probe <= end:
        offset = probe.astimezone(tz).utcoffset() or timedelta(0)
        if offset % timedelta(hours=1):
            return False
        probe += timedelta(days=30)
    offset = end.astimezone(tz).utcoffset() or timedelta(0)
    return not offset % timedelta(hours=1)
