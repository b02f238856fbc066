"""Device payload validation (SPEC §6): every hostile shape becomes a precise rejection."""

from __future__ import annotations

import json
import math
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from koprogo_graph.domain.payload import (
    MAX_PAYLOAD_BYTES,
    DeviceReading,
    Rejection,
    RejectReason,
    parse_payload,
)
from koprogo_graph.domain.quality import Quality, grade
from koprogo_graph.domain.ratelimit import RateLimiter
from koprogo_graph.ingest.topic import ReadingTopic, parse_topic, subscription_filter

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
RETENTION = timedelta(days=730)


def parse(payload: bytes | str):
    raw = payload.encode() if isinstance(payload, str) else payload
    return parse_payload(raw, now=NOW, retention=RETENTION)


def test_a_single_reading_with_every_field():
    (reading,) = parse(
        '{"timestamp": "2026-11-22T12:59:00+01:00", "value": 12.5, '
        '"battery_level": 87, "signal_strength": -71}'
    )
    assert reading == DeviceReading(
        ts=datetime(2026, 11, 22, 11, 59, tzinfo=UTC),
        raw_value=12.5,
        battery_level=87,
        signal_strength=-71,
    )


def test_an_array_is_a_batch_whose_items_stand_alone():
    items = parse(
        '[{"timestamp": "2026-11-22T11:00:00Z", "value": 1}, {"value": 2},'
        ' {"timestamp": "2026-11-22T11:01:00Z", "value": 3}]'
    )
    assert [type(i) for i in items] == [DeviceReading, Rejection, DeviceReading]
    assert items[1].reason is RejectReason.INVALID_FIELDS


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("{", RejectReason.INVALID_JSON),
        (b"\xff\xfe", RejectReason.INVALID_JSON),
        ('{"timestamp": "2026-11-22T11:00:00Z", "value": NaN}', RejectReason.NON_FINITE),
        ('{"timestamp": "2026-11-22T11:00:00Z", "value": -Infinity}', RejectReason.NON_FINITE),
        ('{"timestamp": "2026-11-22T11:00:00Z", "value": 1e400}', RejectReason.NON_FINITE),
        ('{"timestamp": "2026-11-22T11:00:00Z", "value": "1"}', RejectReason.INVALID_FIELDS),
        ('{"timestamp": "2026-11-22T11:00:00Z", "value": false}', RejectReason.INVALID_FIELDS),
        ('{"timestamp": "2026-11-22T11:00:00Z", "value": null}', RejectReason.INVALID_FIELDS),
        ('{"timestamp": 1700000000, "value": 1}', RejectReason.INVALID_FIELDS),
        ('{"timestamp": "2026-11-22T11:00:00", "value": 1}', RejectReason.INVALID_FIELDS),
        ('{"timestamp": "2026-11-22", "value": 1}', RejectReason.INVALID_FIELDS),
        ('{"timestamp": "2026-11-22T12:06:00Z", "value": 1}', RejectReason.TIMESTAMP_IN_FUTURE),
        ('{"timestamp": "2024-11-01T00:00:00Z", "value": 1}', RejectReason.TIMESTAMP_TOO_OLD),
        (
            '{"timestamp": "2026-11-22T11:00:00Z", "value": 1, "battery_level": -1}',
            RejectReason.BATTERY_OUT_OF_RANGE,
        ),
        (
            '{"timestamp": "2026-11-22T11:00:00Z", "value": 1, "battery_level": 100.5}',
            RejectReason.INVALID_FIELDS,
        ),
        (
            '{"timestamp": "2026-11-22T11:00:00Z", "value": 1, "signal_strength": "-70"}',
            RejectReason.INVALID_FIELDS,
        ),
        (
            '{"timestamp": "2026-11-22T11:00:00Z", "value": 1, "signal_strength": 500}',
            RejectReason.SIGNAL_OUT_OF_RANGE,
        ),
        ("[]", RejectReason.INVALID_FIELDS),
        ("[1, 2]", RejectReason.INVALID_FIELDS),
        ('"reading"', RejectReason.INVALID_FIELDS),
        ("[" * 5000 + "]" * 5000, RejectReason.INVALID_JSON),
    ],
)
def test_hostile_payloads_give_their_reason(payload, reason):
    results = parse(payload)
    assert all(isinstance(r, Rejection) for r in results)
    assert results[0].reason is reason


def test_oversized_payloads_are_refused_before_parsing():
    (rejection,) = parse(b" " * (MAX_PAYLOAD_BYTES + 1))
    assert rejection.reason is RejectReason.PAYLOAD_TOO_LARGE


def test_five_minutes_ahead_is_still_accepted():
    (reading,) = parse('{"timestamp": "2026-11-22T12:05:00Z", "value": 1}')
    assert isinstance(reading, DeviceReading)


@given(st.binary(max_size=2048))
def test_arbitrary_bytes_never_raise(payload):
    results = parse(payload)
    assert results and all(isinstance(r, DeviceReading | Rejection) for r in results)


scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
stamps = (
    st.sampled_from(
        [
            "2026-11-22T11:00:00Z",
            "2026-11-22T11:00:00+02:00",
            "2026-11-22T11:00:00",
            "2099-01-01T00:00:00Z",
            "2000-01-01T00:00:00Z",
            "noon",
        ]
    )
    | scalars
)


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "timestamp": stamps,
            "value": scalars,
            "battery_level": scalars,
            "signal_strength": scalars,
        },
    )
)
def test_accepted_readings_are_always_finite_and_in_range(document):
    for result in parse(json.dumps(document)):
        if isinstance(result, DeviceReading):
            assert math.isfinite(result.raw_value)
            assert result.battery_level is None or 0 <= result.battery_level <= 100
            assert result.ts.tzinfo is not None and result.ts <= NOW + timedelta(minutes=5)


@pytest.mark.parametrize(
    ("battery", "rssi", "quality"),
    [
        (None, None, Quality.GOOD),
        (20, -80, Quality.GOOD),
        (19, None, Quality.WARNING),
        (None, -81, Quality.WARNING),
        (9, None, Quality.POOR),
        (50, -101, Quality.POOR),
        (15, -101, Quality.POOR),
    ],
)
def test_quality_grades(battery, rssi, quality):
    assert grade(battery, rssi) is quality


def test_rate_limiter_allows_a_burst_then_the_sustained_rate():
    limiter = RateLimiter(rate=1.0, burst=10)
    assert [limiter.allow("s", 0.0) for _ in range(11)] == [True] * 10 + [False]
    assert limiter.allow("s", 0.5) is False
    assert limiter.allow("s", 1.0) is True
    assert limiter.allow("other", 1.0) is True


def test_rate_limiter_memory_is_bounded():
    limiter = RateLimiter(max_keys=100)
    for i in range(1000):
        limiter.allow(i, 0.0)
    assert len(limiter._buckets) == 100


def test_topics_are_parsed_or_rejected():
    org, building = uuid.uuid4(), uuid.uuid4()
    assert parse_topic(f"koprogo/{org}/{building}/KAM-1/readings") == ReadingTopic(
        org, building, "KAM-1"
    )
    assert parse_topic(f"koprogo/{org}/{building}/KAM-1/status").reason is RejectReason.BAD_TOPIC
    assert parse_topic(f"koprogo/{org}/{building}//readings").reason is RejectReason.BAD_TOPIC
    assert parse_topic("koprogo/x/y/KAM-1/readings").reason is RejectReason.BAD_ID
    assert subscription_filter("g1") == "$share/g1/koprogo/+/+/+/readings"
