"""Each product's decoder against messages in the product's own format (tests/fixtures/devices,
written from each product's documentation), and against anything at all (hypothesis)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from koprogo_graph.domain.integrations import (
    DEFAULT_METRICS,
    Integration,
    MetricError,
    check_binding,
    read_metric,
)
from koprogo_graph.domain.payload import Rejection
from koprogo_graph.domain.sensors import SensorFieldError, SensorType
from koprogo_graph.ingest.decoders import DECODERS, Decoded, Ignored, decode

FIXTURES = Path(__file__).parents[1] / "fixtures" / "devices"
FILES = {
    Integration.SHELLY: "shelly.json",
    Integration.TASMOTA: "tasmota.json",
    Integration.ZIGBEE2MQTT: "zigbee2mqtt.json",
    Integration.WMBUSMETERS: "wmbusmeters.json",
    Integration.TTN: "ttn.json",
    Integration.CHIRPSTACK: "chirpstack.json",
}
CASES = [
    pytest.param(integration, case, id=f"{integration.value}: {case['what'][:50]}")
    for integration, name in FILES.items()
    for case in json.loads((FIXTURES / name).read_text())
]


@pytest.mark.parametrize(("integration", "case"), CASES)
def test_recorded_messages_decode_to_the_right_value_time_and_device(integration, case):
    decoded = decode(integration, case["levels"], case["message"])
    if case.get("ignored"):
        assert isinstance(decoded, Ignored)
        return
    assert isinstance(decoded, Decoded), decoded
    expect = case["expect"]
    assert decoded.external_ids[0] == expect["external_id"]
    assert read_metric(decoded.document, expect["metric"]) == expect["value"]
    assert (decoded.ts.isoformat() if decoded.ts else None) == expect["ts"]
    assert decoded.battery == expect["battery"]
    assert decoded.signal == expect["signal"]


def test_every_integration_has_a_decoder_and_fixtures():
    assert set(DECODERS) == set(Integration) - {Integration.KOPROGO}
    assert set(FILES) == set(DECODERS)


def test_the_things_stack_devices_are_found_by_device_id_then_dev_eui():
    (case,) = [c for c in json.loads((FIXTURES / "ttn.json").read_text()) if "expect" in c]
    decoded = decode(Integration.TTN, [], case["message"])
    assert decoded.external_ids == ("eau-froide-3b", "70b3d57ed0063a1b")  # EUIs in lower case


def test_a_metric_reads_numbers_and_booleans_and_says_what_else_it_found():
    document = {"a": {"b": 2}, "contact": True, "state": "ON", "n": None}
    assert read_metric(document, "a.b") == 2.0
    assert read_metric(document, "contact") == 1.0
    assert read_metric(document, "!contact") == 0.0
    assert read_metric(document, "missing.path") is None  # the message is not about it
    with pytest.raises(MetricError):
        read_metric(document, "state")
    with pytest.raises(MetricError):
        read_metric(document, "!a.b")


def test_a_binding_takes_the_integrations_default_metric_and_checks_every_field():
    assert check_binding(Integration.SHELLY, SensorType.ELECTRICITY, "plug-1", None, 0.001) == (
        "plug-1",
        "switch:0.aenergy.total",
        0.001,
    )
    for args, field in [
        ((Integration.SHELLY, SensorType.ELECTRICITY, None, None, 1.0), "externalId"),
        ((Integration.SHELLY, SensorType.GAS, "x", None, 1.0), "metric"),
        ((Integration.SHELLY, SensorType.ELECTRICITY, "x", "a..b", 1.0), "metric"),
        ((Integration.SHELLY, SensorType.ELECTRICITY, "x", None, 0.0), "unitScale"),
        ((Integration.KOPROGO, SensorType.GAS, "x", None, 1.0), "externalId"),
        ((Integration.ZIGBEE2MQTT, SensorType.TEMPERATURE, "a\x00b", None, 1.0), "externalId"),
    ]:
        with pytest.raises(SensorFieldError) as refused:
            check_binding(*args)
        assert refused.value.field == field
    assert all(check_binding(i, t, "d", None, 1)[1] == m for (i, t), m in DEFAULT_METRICS.items())


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
LEVELS = st.lists(
    st.sampled_from(["status", "events", "rpc", "tele", "SENSOR", "bridge", "switch:0", ""])
    | st.text(max_size=10),
    max_size=4,
)


@settings(max_examples=300, deadline=None)
@given(integration=st.sampled_from(sorted(DECODERS)), levels=LEVELS, message=JSON)
def test_no_message_crashes_a_decoder(integration, levels, message):
    result = decode(integration, levels, message)
    assert isinstance(result, Decoded | Ignored | Rejection)
    if isinstance(result, Decoded):
        assert result.external_ids and all(result.external_ids)
        assert result.ts is None or isinstance(result.ts, datetime)
        assert result.battery is None or 0 <= result.battery <= 100
        assert result.signal is None or -200 <= result.signal <= 30


@settings(max_examples=300, deadline=None)
@given(document=JSON, metric=st.sampled_from(["a", "a.b", "!a", "temperature", "switch:0.x"]))
def test_no_document_crashes_a_metric(document, metric):
    if not isinstance(document, dict):
        document = {"a": document}
    try:
        value = read_metric(document, metric)
    except MetricError:
        return
    assert value is None or isinstance(value, float)


def test_a_device_id_no_sensor_can_have_is_refused_before_any_lookup():
    """A NUL (which PostgreSQL refuses) or an id of kilobytes: unbound, never looked up."""
    import uuid as uuid_module
    from datetime import UTC
    from datetime import datetime as dt

    from koprogo_graph.ingest.pipeline import Incoming, _prepare

    topic = f"koprogo/{uuid_module.uuid4()}/{uuid_module.uuid4()}/wmbusmeters/x"
    for bad in ("x\u0000", "x" * 5_000):
        message = json.dumps({"_": "telegram", "id": bad, "total_m3": 1.0}).encode()
        prepared = _prepare(Incoming(topic, message, dt.now(UTC)))
        assert isinstance(prepared.decoded, Rejection)
        assert prepared.decoded.reason.value == "unbound_device"


def test_huge_integers_are_no_reading_and_no_crash():
    assert read_metric({"a": 10**400}, "b") is None
    with pytest.raises(MetricError):
        read_metric({"a": 10**400}, "a")
    decoded = decode(Integration.ZIGBEE2MQTT, ["x"], {"battery": 10**400, "temperature": 21})
    assert isinstance(decoded, Decoded) and decoded.battery is None


def test_a_local_device_time_in_the_repeated_autumn_hour_is_one_utc_instant():
    from datetime import UTC
    from datetime import datetime as dt

    from koprogo_graph.ingest.pipeline import _device_time

    ts = _device_time(dt(2026, 10, 25, 2, 30), "Europe/Brussels")
    assert ts.tzinfo is UTC and ts == dt(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_lorawan_euis_are_bound_and_read_in_lower_case():
    external, _, _ = check_binding(
        Integration.CHIRPSTACK, SensorType.AIR_QUALITY, "A84041000181C061", None, 1.0
    )
    assert external == "a84041000181c061"
    decoded = decode(
        Integration.CHIRPSTACK,
        [],
        {"deviceInfo": {"devEui": "A84041000181C061"}, "object": {"co2": 1}},
    )
    assert decoded.external_ids == ("a84041000181c061",)


def test_the_device_ids_a_sensor_may_not_take_are_the_products_topic_levels():
    from koprogo_graph.domain.integrations import Integration
    from koprogo_graph.domain.sensors import RESERVED_DEVICE_IDS
    from koprogo_graph.ingest.decoders import MQTT_INTEGRATIONS

    assert RESERVED_DEVICE_IDS == set(MQTT_INTEGRATIONS)
    assert {i.topic_name for i in Integration if i.over_mqtt} == set(MQTT_INTEGRATIONS)
