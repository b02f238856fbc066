"""The simulator's devices publish payloads the ingestor accepts, and leaks never stop flowing."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from koprogo_graph.domain.payload import DeviceReading, parse_payload
from koprogo_graph.ingest.simulate import make_fleet, water_flow_lph
from koprogo_graph.ingest.topic import parse_topic


def test_fleet_mixes_types_and_marks_the_requested_leaks():
    fleet = make_fleet(uuid.uuid4(), uuid.uuid4(), 12, leaks=2)
    assert {s.type for s in fleet} == {"COLD_WATER", "HOT_WATER", "ELECTRICITY", "TEMPERATURE"}
    assert sum(s.leak_lph > 0 for s in fleet) == 2
    assert len({s.device_id for s in fleet}) == 12


def test_every_simulated_payload_is_valid_and_meters_only_grow():
    now = datetime.now(UTC)
    for sensor in make_fleet(uuid.uuid4(), uuid.uuid4(), 8):
        assert parse_topic(sensor.topic).device_id == sensor.device_id
        values = []
        for minute in range(0, 180, 15):
            payload = json.dumps(sensor.reading(now - timedelta(minutes=180 - minute))).encode()
            (reading,) = parse_payload(payload, now=now, retention=timedelta(days=730))
            assert isinstance(reading, DeviceReading)
            values.append(reading.raw_value)
        if sensor.type != "TEMPERATURE":
            assert values == sorted(values)


def test_a_leak_keeps_night_flow_above_zero():
    night = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
    assert all(
        water_flow_lph(night + timedelta(minutes=m), leak_lph=12.0) >= 12.0
        for m in range(0, 120, 5)
    )
