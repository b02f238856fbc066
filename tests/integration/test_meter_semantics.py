"""Numbers that mean what they say (issue #12): thresholds on a meter are on its flow, gauges
have no consumption, a glitch is a fault and counts nothing, a reset is no fault."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from .conftest import create_sensor, error_codes, eventually

ALERTS = """query($s: ID!) { alerts(sensorId: $s) { edges { node {
    type severity status message readingValue thresholdValue } } } }"""
SERIES = """query($s: ID!, $from: DateTime!, $to: DateTime!) {
  readingSeries(sensorId: $s, from: $from, to: $to, bucket: HOUR) { count avg consumption } }"""


@pytest.fixture
def gq(gql_ingest):
    return gql_ingest


async def publish(client, topic: str, at: datetime, value: float) -> None:
    await client.publish(topic, json.dumps({"timestamp": at.isoformat(), "value": value}), qos=1)


async def stored(gq, bearer: str, sensor_id: str, count: int) -> None:
    async def enough():
        body = await gq(
            """query($s: ID!, $from: DateTime!, $to: DateTime!) {
               readings(sensorId: $s, from: $from, to: $to) { totalCount } }""",
            {"s": sensor_id, "from": "2020-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"},
            bearer,
        )
        return body["data"]["readings"]["totalCount"] >= count

    await eventually(enough)


async def alerts_of(gq, bearer: str, sensor_id: str) -> list[dict]:
    body = await gq(ALERTS, {"s": sensor_id}, bearer)
    return [e["node"] for e in body["data"]["alerts"]["edges"]]


async def test_the_readme_hot_water_meter_alerts_on_its_flow_never_its_index(
    ingest_server, gq, token, mqtt_publisher
):
    """README: a HOT_WATER meter (m3) with alertThresholdMax 0.5, a flow in m3 per hour."""
    org = uuid.uuid4()
    bearer = token(org)
    sensor = await create_sensor(gq, bearer, type="HOT_WATER", alertThresholdMax=0.5)
    t0 = datetime.now(UTC) - timedelta(minutes=30)
    # An index of 1,000.5 m3, then 12.5 L in 1 min: 0.75 m3/h, exactly 50 % above 0.5.
    await publish(mqtt_publisher, sensor["mqttTopic"], t0, 1000.5)
    await stored(gq, bearer, sensor["id"], 1)
    await publish(mqtt_publisher, sensor["mqttTopic"], t0 + timedelta(minutes=1), 1000.5125)
    await stored(gq, bearer, sensor["id"], 2)

    async def raised():
        return [
            a
            for a in await alerts_of(gq, bearer, sensor["id"])
            if a["type"] == "THRESHOLD_EXCEEDED"
        ]

    (alert,) = await eventually(raised)
    assert alert["severity"] == "CRITICAL"
    assert alert["readingValue"] == 0.75 and alert["thresholdValue"] == 0.5
    assert alert["message"] == "flow 0.75 m3/h above maximum 0.5 m3/h"


async def test_a_glitch_is_a_fault_that_counts_nothing_and_a_reset_is_no_fault(
    ingest_server, gq, token, mqtt_publisher
):
    org = uuid.uuid4()
    bearer = token(org)
    sensor = await create_sensor(gq, bearer)
    t0 = (datetime.now(UTC) - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    # 1000 -> 999.9 (a glitch) -> 1000.4 -> 3.0 (a new meter) -> 3.2
    for minutes, value in ((1, 1000.0), (2, 999.9), (3, 1000.4), (4, 3.0), (5, 3.2)):
        await publish(mqtt_publisher, sensor["mqttTopic"], t0 + timedelta(minutes=minutes), value)
        await stored(gq, bearer, sensor["id"], minutes)

    async def faulty():
        return [
            a for a in await alerts_of(gq, bearer, sensor["id"]) if a["type"] == "SENSOR_FAULTY"
        ]

    (fault,) = await eventually(faulty)
    assert (
        fault["message"]
        == "meter index went back from 1000 to 999.9 m3 (counted as no consumption)"
    )
    body = await gq(
        SERIES,
        {"s": sensor["id"], "from": t0.isoformat(), "to": (t0 + timedelta(hours=1)).isoformat()},
        bearer,
    )
    (bucket,) = body["data"]["readingSeries"]
    # 0 (glitch) + 0.4 (1000 -> 1000.4, the baseline kept at 1000) + 3.0 (reset) + 0.2
    assert bucket["count"] == 5 and bucket["consumption"] == pytest.approx(3.6)


async def test_gauges_have_no_consumption(ingest_server, gq, token, mqtt_publisher):
    org = uuid.uuid4()
    bearer = token(org)
    building = str(uuid.uuid4())
    sensor = await create_sensor(gq, bearer, type="TEMPERATURE", buildingId=building)
    t0 = (datetime.now(UTC) - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    for i, value in enumerate((20.0, 21.0, 19.0, 22.0, 18.0)):
        await publish(mqtt_publisher, sensor["mqttTopic"], t0 + timedelta(minutes=i + 1), value)
    await stored(gq, bearer, sensor["id"], 5)
    body = await gq(
        SERIES,
        {"s": sensor["id"], "from": t0.isoformat(), "to": (t0 + timedelta(hours=1)).isoformat()},
        bearer,
    )
    assert body["data"]["readingSeries"] == [{"count": 5, "avg": 20.0, "consumption": None}]
    refused = await gq(
        """query($b: ID!) { buildingConsumption(buildingId: $b, sensorType: TEMPERATURE,
           from: "2026-01-01T00:00:00Z", to: "2026-02-01T00:00:00Z", bucket: DAY) { consumption } }""",
        {"b": building},
        bearer,
    )
    assert error_codes(refused) == ["BAD_USER_INPUT"]
    assert refused["errors"][0]["extensions"]["field"] == "sensorType"


async def test_numbers_come_without_binary_noise(ingest_server, gq, token, mqtt_publisher):
    org = uuid.uuid4()
    bearer = token(org)
    sensor = await create_sensor(gq, bearer)
    t0 = (datetime.now(UTC) - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    for minutes, value in ((1, 1000.0), (2, 1000.012), (3, 1000.021)):
        await publish(mqtt_publisher, sensor["mqttTopic"], t0 + timedelta(minutes=minutes), value)
    await stored(gq, bearer, sensor["id"], 3)
    await gq(
        "mutation($s: ID!) { calibrateSensor(id: $s, calibrationFactor: 1.1) { id } }",
        {"s": sensor["id"]},
        bearer,
    )
    await publish(mqtt_publisher, sensor["mqttTopic"], t0 + timedelta(minutes=4), 909.2)
    await stored(gq, bearer, sensor["id"], 4)
    body = await gq(
        SERIES,
        {"s": sensor["id"], "from": t0.isoformat(), "to": (t0 + timedelta(hours=1)).isoformat()},
        bearer,
    )
    (bucket,) = body["data"]["readingSeries"]
    # 0.012 + 0.009 + (909.2 * 1.1 = 1000.1200000000001) - 1000.021
    assert bucket["consumption"] == 0.12
    readings = await gq(
        """query($s: ID!) { readings(sensorId: $s, from: "2020-01-01T00:00:00Z",
           to: "2100-01-01T00:00:00Z") { edges { node { value rawValue } } } }""",
        {"s": sensor["id"]},
        bearer,
    )
    values = [e["node"]["value"] for e in readings["data"]["readings"]["edges"]]
    assert values == [1000.0, 1000.012, 1000.021, 1000.12]
    assert readings["data"]["readings"]["edges"][-1]["node"]["rawValue"] == 909.2


async def test_a_glitch_among_already_stored_readings_is_seen(
    ingest_server, gq, token, mqtt_publisher
):
    """A device resends its buffer: two readings already stored, two new, one of which is a
    glitch against the stored reading before it (not against the other new one)."""
    org = uuid.uuid4()
    bearer = token(org)
    sensor = await create_sensor(gq, bearer)
    t = [datetime.now(UTC) - timedelta(minutes=10 - i) for i in range(4)]
    await publish(mqtt_publisher, sensor["mqttTopic"], t[0], 100.0)
    await publish(mqtt_publisher, sensor["mqttTopic"], t[2], 200.0)
    await stored(gq, bearer, sensor["id"], 2)
    buffer = [
        {"timestamp": ts.isoformat(), "value": v}
        for ts, v in zip(t, (100.0, 150.0, 200.0, 190.0), strict=True)
    ]
    await mqtt_publisher.publish(sensor["mqttTopic"], json.dumps(buffer), qos=1)
    await stored(gq, bearer, sensor["id"], 4)

    async def faulty():
        return [
            a for a in await alerts_of(gq, bearer, sensor["id"]) if a["type"] == "SENSOR_FAULTY"
        ]

    (fault,) = await eventually(faulty)
    assert "from 200 to 190 m3" in fault["message"]


async def test_a_sensor_turned_into_a_meter_has_its_history_recounted(
    ingest_server, gq, token, mqtt_publisher
):
    org = uuid.uuid4()
    bearer = token(org)
    sensor = await create_sensor(gq, bearer, readingKind="INSTANTANEOUS")
    t0 = (datetime.now(UTC) - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    for minutes, value in ((1, 100.0), (2, 97.0), (3, 101.0)):
        await publish(mqtt_publisher, sensor["mqttTopic"], t0 + timedelta(minutes=minutes), value)
    await stored(gq, bearer, sensor["id"], 3)
    window = {
        "s": sensor["id"],
        "from": t0.isoformat(),
        "to": (t0 + timedelta(hours=1)).isoformat(),
    }
    assert (await gq(SERIES, window, bearer))["data"]["readingSeries"][0]["consumption"] is None
    await gq(
        "mutation($s: ID!) { updateSensor(id: $s, input: {readingKind: CUMULATIVE}) { id } }",
        {"s": sensor["id"]},
        bearer,
    )
    await publish(mqtt_publisher, sensor["mqttTopic"], t0 + timedelta(minutes=4), 102.0)
    await stored(gq, bearer, sensor["id"], 4)
    # 100 -> 97 (a glitch, baseline 100) -> 101 (+1) -> 102 (+1)
    assert (await gq(SERIES, window, bearer))["data"]["readingSeries"][0]["consumption"] == 2.0


async def test_manual_readings_name_their_source_and_only_meters_take_them(gq, token):
    org = uuid.uuid4()
    bearer = token(org)
    meter = await create_sensor(gq, bearer)
    gauge = await create_sensor(gq, bearer, type="TEMPERATURE")
    record = """mutation($s: ID!) { recordManualReading(input: {sensorId: $s,
        readAt: "2026-01-01T00:00:00Z", value: 12.5, source: TECHEM}) { source value } }"""
    body = await gq(record, {"s": meter["id"]}, bearer)
    assert body["data"]["recordManualReading"] == {"source": "TECHEM", "value": 12.5}
    refused = await gq(record, {"s": gauge["id"]}, bearer)
    assert error_codes(refused) == ["BAD_USER_INPUT"]
    assert refused["errors"][0]["extensions"]["field"] == "sensorId"
