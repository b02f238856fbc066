"""The simulator's devices publish payloads the ingestor accepts, and leaks never stop flowing."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

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


def test_every_products_simulated_message_decodes_back_to_its_sensors_value():
    """The simulator writes each product's format so that our decoder, with the sensor's
    default metric and unit scale, reads back the value it meant."""
    from koprogo_graph.domain.integrations import Integration, default_metric, read_metric
    from koprogo_graph.domain.payload import load_json
    from koprogo_graph.domain.sensors import SensorType
    from koprogo_graph.ingest.decoders import Decoded, decode
    from koprogo_graph.ingest.topic import DeviceTopic
    from koprogo_graph.ingest.vendor_formats import UNIT_SCALES, encode

    now = datetime.now(UTC).replace(microsecond=0)
    for integration in Integration:
        if integration is Integration.KOPROGO:
            continue
        for sensor in make_fleet(uuid.uuid4(), uuid.uuid4(), 6, integration=integration):
            topic, message = sensor.message(now)
            sensor_type = SensorType(sensor.type)
            if topic:
                parsed = parse_topic(topic)
                assert isinstance(parsed, DeviceTopic) and parsed.integration is integration
                levels = parsed.levels
            else:
                levels = ()
            decoded = decode(integration, levels, load_json(json.dumps(message).encode()))
            assert isinstance(decoded, Decoded), (integration, decoded)
            assert decoded.external_ids[0] == sensor.device_id
            assert read_metric(decoded.document, default_metric(integration, sensor_type))
            # And exactly: a value encoded is the value read, unit scale and all.
            suffix, exact = encode(integration, sensor_type, "dev-1", 1234.567, now, battery=50)
            again = decode(integration, tuple(suffix.split("/")[1:]) if suffix else (), exact)
            raw = read_metric(again.document, default_metric(integration, sensor_type))
            assert round(raw * UNIT_SCALES.get((integration, sensor_type), 1.0), 6) == 1234.567
            if again.ts is not None:  # a local time is the building's (Brussels by default)
                local = again.ts.tzinfo or ZoneInfo("Europe/Brussels")
                assert again.ts.replace(tzinfo=local) == now
