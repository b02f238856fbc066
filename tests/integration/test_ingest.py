"""Ingestion through the real broker, database and server: valid readings stored once, calibrated
and graded; hostile input rejected, counted and visible, never blocking the readings after it."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import aiomqtt
import httpx
import pytest

from koprogo_graph.domain.payload import RejectReason

from .conftest import BURST, create_sensor, error_codes, eventually

READINGS = """query($id: ID!, $from: DateTime!, $to: DateTime!, $first: Int, $after: String) {
  readings(sensorId: $id, from: $from, to: $to, first: $first, after: $after) {
    totalCount
    edges { cursor node { sensorId timestamp value rawValue unitOfMeasure batteryLevel
                          signalStrength quality isAnomaly anomalyReason receivedAt } }
    pageInfo { hasNextPage endCursor }
  }
}"""
REJECTED = (
    "query { rejectedMessages(first: 100) { reason topic detail payloadExcerpt receivedAt } }"
)


async def publish(client: aiomqtt.Client, topic: str, payload: object) -> None:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    await client.publish(topic, body, qos=1)


def now_iso(offset_seconds: float = 0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=offset_seconds)).isoformat()


@pytest.fixture
def org() -> uuid.UUID:
    return uuid.uuid4()


async def make_sensor(gql, token, org, **extra) -> dict:
    return await create_sensor(gql, token(org), **extra)


async def readings_of(gql, token, org, sensor_id, first=100):
    body = await gql(
        READINGS,
        {"id": sensor_id, "from": now_iso(-86400 * 3), "to": now_iso(600), "first": first},
        token(org),
    )
    assert "errors" not in body, body
    return body["data"]["readings"]


async def wait_for_readings(gql, token, org, sensor_id, count):
    async def check():
        page = await readings_of(gql, token, org, sensor_id)
        return page if page["totalCount"] >= count else None

    return await eventually(check)


async def test_a_published_reading_is_stored_calibrated_and_graded(
    gql_ingest, token, org, mqtt_publisher
):
    sensor = await make_sensor(gql_ingest, token, org, calibrationFactor=1.5, alertThresholdMax=100)
    ts = now_iso(-5)
    await publish(
        mqtt_publisher,
        sensor["mqttTopic"],
        {"timestamp": ts, "value": 80.0, "battery_level": 15, "signal_strength": -70},
    )

    page = await wait_for_readings(gql_ingest, token, org, sensor["id"], 1)
    node = page["edges"][0]["node"]
    assert node["rawValue"] == 80.0
    assert node["value"] == 120.0
    assert node["quality"] == "WARNING"
    assert node["batteryLevel"] == 15 and node["signalStrength"] == -70
    assert node["isAnomaly"] is True and "maximum" in node["anomalyReason"]
    assert node["unitOfMeasure"] == "m3"
    assert datetime.fromisoformat(node["timestamp"]) == datetime.fromisoformat(ts)

    body = await gql_ingest(
        "query($id: ID!) { sensor(id: $id) { lastValue lastBatteryLevel lastReadingAt } }",
        {"id": sensor["id"]},
        token(org),
    )
    assert body["data"]["sensor"]["lastValue"] == 120.0
    assert body["data"]["sensor"]["lastBatteryLevel"] == 15


async def test_redelivered_and_duplicated_readings_are_stored_once(
    gql_ingest, token, org, mqtt_publisher
):
    sensor = await make_sensor(gql_ingest, token, org)
    ts = now_iso(-30)
    reading = {"timestamp": ts, "value": 12.5}
    await publish(mqtt_publisher, sensor["mqttTopic"], reading)
    await publish(mqtt_publisher, sensor["mqttTopic"], [reading, reading])
    await publish(mqtt_publisher, sensor["mqttTopic"], {"timestamp": now_iso(-1), "value": 13.0})

    page = await wait_for_readings(gql_ingest, token, org, sensor["id"], 2)
    assert [e["node"]["value"] for e in page["edges"]] == [12.5, 13.0]


HOSTILE = [
    (b"{not json", "invalid_json"),
    (b'{"timestamp": "2026-01-01T00:00:00Z", "value": NaN}', "non_finite_value"),
    (b'{"timestamp": "2026-01-01T00:00:00Z", "value": Infinity}', "non_finite_value"),
    (b'{"timestamp": "%s", "value": 1e400}', "non_finite_value"),
    (b'{"timestamp": "%s", "value": "12"}', "invalid_fields"),
    (b'{"timestamp": "%s", "value": true}', "invalid_fields"),
    (b'{"timestamp": "%s"}', "invalid_fields"),
    (b'{"timestamp": "yesterday", "value": 1}', "invalid_fields"),
    (b'{"timestamp": "2026-01-01T00:00:00", "value": 1}', "invalid_fields"),
    (b'{"timestamp": "%s", "value": -3}', "negative_cumulative"),
    (b'{"timestamp": "%s", "value": 1, "battery_level": 101}', "battery_out_of_range"),
    (b'{"timestamp": "%s", "value": 1, "battery_level": 50.5}', "invalid_fields"),
    (b"[]", "invalid_fields"),
    (b"42", "invalid_fields"),
    (b"\xff\xfe\x00garbage", "invalid_json"),
    (b"[" * 100_000 + b"]" * 100_000, "payload_too_large"),
    (b'{"timestamp": "2099-01-01T00:00:00Z", "value": 1}', "timestamp_in_future"),
    (b'{"timestamp": "2001-01-01T00:00:00Z", "value": 1}', "timestamp_too_old"),
]


async def test_hostile_payloads_are_rejected_by_reason_and_never_block_the_next_reading(
    gql_ingest, token, org, mqtt_publisher, http
):
    sensor = await make_sensor(gql_ingest, token, org)
    topic = sensor["mqttTopic"]
    for payload, _ in HOSTILE:
        body = payload.replace(b"%s", now_iso(-10).encode()) if b"%s" in payload else payload
        await publish(mqtt_publisher, topic, body)
    await publish(mqtt_publisher, topic, [{"timestamp": now_iso(-2), "value": 7.0}, {"value": "x"}])

    page = await wait_for_readings(gql_ingest, token, org, sensor["id"], 1)
    assert [e["node"]["value"] for e in page["edges"]] == [7.0]

    async def rejected():
        body = await gql_ingest(REJECTED, token=token(org))
        rows = body["data"]["rejectedMessages"]
        return rows if len(rows) >= len(HOSTILE) + 1 else None

    rows = await eventually(rejected)
    reasons = sorted(RejectReason[r["reason"]].value for r in rows)
    assert reasons == sorted([reason for _, reason in HOSTILE] + ["invalid_fields"])
    assert all(r["topic"] == topic for r in rows)

    other = await gql_ingest(REJECTED, token=token(uuid.uuid4()))
    assert other["data"]["rejectedMessages"] == []


async def test_topics_naming_unknown_or_foreign_things_are_rejected(
    gql_ingest, token, org, mqtt_publisher
):
    sensor = await make_sensor(gql_ingest, token, org, deviceId="KNOWN-1")
    building = sensor["mqttTopic"].split("/")[2]
    reading = {"timestamp": now_iso(-3), "value": 1.0}
    await publish(mqtt_publisher, f"koprogo/{org}/{building}/NOBODY/readings", reading)
    await publish(mqtt_publisher, f"koprogo/{org}/{uuid.uuid4()}/KNOWN-1/readings", reading)
    await publish(mqtt_publisher, f"koprogo/{org}/not-a-uuid/KNOWN-1/readings", reading)
    await publish(mqtt_publisher, sensor["mqttTopic"], reading)

    await wait_for_readings(gql_ingest, token, org, sensor["id"], 1)

    async def rejected():
        rows = (await gql_ingest(REJECTED, token=token(org)))["data"]["rejectedMessages"]
        return rows if len(rows) >= 3 else None

    reasons = sorted(RejectReason[r["reason"]].value for r in await eventually(rejected))
    assert reasons == ["bad_id", "building_mismatch", "unknown_sensor"]


async def test_inactive_sensors_are_refused_and_calibration_changes_apply(
    gql_ingest, token, org, mqtt_publisher
):
    sensor = await make_sensor(gql_ingest, token, org)
    await gql_ingest(
        "mutation($id: ID!) { updateSensor(id: $id, input: {status: INACTIVE}) { id } }",
        {"id": sensor["id"]},
        token(org),
    )
    await publish(mqtt_publisher, sensor["mqttTopic"], {"timestamp": now_iso(-9), "value": 1.0})

    async def rejected():
        rows = (await gql_ingest(REJECTED, token=token(org)))["data"]["rejectedMessages"]
        return rows or None

    assert [RejectReason[r["reason"]].value for r in await eventually(rejected)] == [
        "sensor_inactive"
    ]

    await gql_ingest(
        "mutation($id: ID!) { updateSensor(id: $id, input: {status: ACTIVE}) { id } }",
        {"id": sensor["id"]},
        token(org),
    )
    await gql_ingest(
        "mutation($id: ID!) { calibrateSensor(id: $id, calibrationFactor: 2) { id } }",
        {"id": sensor["id"]},
        token(org),
    )
    await publish(mqtt_publisher, sensor["mqttTopic"], {"timestamp": now_iso(-1), "value": 4.0})
    page = await wait_for_readings(gql_ingest, token, org, sensor["id"], 1)
    assert page["edges"][0]["node"]["value"] == 8.0


async def test_a_flooding_sensor_is_rate_limited(gql_ingest, token, org, mqtt_publisher):
    sensor = await make_sensor(gql_ingest, token, org)
    sent = BURST + 20
    for i in range(sent):
        await publish(
            mqtt_publisher, sensor["mqttTopic"], {"timestamp": now_iso(-100 + i), "value": float(i)}
        )

    async def settled():
        rows = (await gql_ingest(REJECTED, token=token(org)))["data"]["rejectedMessages"]
        page = await readings_of(gql_ingest, token, org, sensor["id"])
        return (page["totalCount"], rows) if page["totalCount"] + len(rows) >= sent else None

    stored, rows = await eventually(settled)
    assert stored >= BURST
    assert rows and {RejectReason[r["reason"]].value for r in rows} == {"rate_limited"}


async def test_readings_paginate_with_keyset_cursors(gql_ingest, token, org, mqtt_publisher):
    sensor = await make_sensor(gql_ingest, token, org)
    batch = [{"timestamp": now_iso(-300 + 10 * i), "value": float(i)} for i in range(7)]
    await publish(mqtt_publisher, sensor["mqttTopic"], batch)
    await wait_for_readings(gql_ingest, token, org, sensor["id"], 7)

    values, after = [], None
    while True:
        body = await gql_ingest(
            READINGS,
            {
                "id": sensor["id"],
                "from": now_iso(-3600),
                "to": now_iso(60),
                "first": 3,
                "after": after,
            },
            token(org),
        )
        page = body["data"]["readings"]
        values += [e["node"]["value"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert values == [float(i) for i in range(7)]


async def test_readings_of_another_organization_are_invisible_and_bad_ranges_refused(
    gql_ingest, token, org, mqtt_publisher
):
    sensor = await make_sensor(gql_ingest, token, org)
    await publish(mqtt_publisher, sensor["mqttTopic"], {"timestamp": now_iso(-4), "value": 3.0})
    await wait_for_readings(gql_ingest, token, org, sensor["id"], 1)

    foreign = await readings_of(gql_ingest, token, uuid.uuid4(), sensor["id"])
    assert foreign == {
        "totalCount": 0,
        "edges": [],
        "pageInfo": {"hasNextPage": False, "endCursor": None},
    }

    body = await gql_ingest(
        READINGS, {"id": sensor["id"], "from": now_iso(), "to": now_iso(-60)}, token(org)
    )
    assert (
        error_codes(body) == ["BAD_USER_INPUT"]
        and body["errors"][0]["extensions"]["field"] == "from"
    )


async def test_metrics_count_ingested_and_rejected_readings(ingest_server):
    async with httpx.AsyncClient(base_url=ingest_server.url) as client:
        text = (await client.get("/metrics")).text
    assert "koprogo_readings_ingested_total" in text
    assert 'koprogo_readings_rejected_total{reason="invalid_json"}' in text


async def test_nested_sensor_lookups_resolve_through_the_request_loader(
    gql_ingest, token, org, mqtt_publisher
):
    sensor = await make_sensor(gql_ingest, token, org, deviceId="NESTED-1")
    batch = [{"timestamp": now_iso(-200 + 10 * i), "value": float(i)} for i in range(5)]
    await publish(mqtt_publisher, sensor["mqttTopic"], batch)
    await wait_for_readings(gql_ingest, token, org, sensor["id"], 5)
    body = await gql_ingest(
        "query($id: ID!, $f: DateTime!, $t: DateTime!) { readings(sensorId: $id, from: $f, to: $t) "
        "{ edges { node { value sensor { deviceId mqttTopic } } } } }",
        {"id": sensor["id"], "f": now_iso(-3600), "t": now_iso(60)},
        token(org),
    )
    nodes = [e["node"] for e in body["data"]["readings"]["edges"]]
    assert len(nodes) == 5
    assert {n["sensor"]["deviceId"] for n in nodes} == {"NESTED-1"}


async def test_huge_values_are_refused_and_the_reading_after_them_kept(
    gql_ingest, token, org, mqtt_publisher
):
    sensor = await make_sensor(gql_ingest, token, org)
    stamp = now_iso(-30)
    await publish(
        mqtt_publisher,
        sensor["mqttTopic"],
        f'{{"timestamp": "{stamp}", "value": 1{"0" * 400}}}'.encode(),  # an integer of 10^400
    )
    await publish(
        mqtt_publisher, sensor["mqttTopic"], {"timestamp": now_iso(-20), "value": 1.7e308}
    )
    await publish(
        mqtt_publisher,
        sensor["mqttTopic"],
        f'{{"timestamp": "{stamp}", "value": 1, "battery_level": 1{"0" * 400}}}'.encode(),
    )
    await publish(mqtt_publisher, sensor["mqttTopic"], {"timestamp": now_iso(-10), "value": 42.5})
    page = await wait_for_readings(gql_ingest, token, org, sensor["id"], 1)
    assert [e["node"]["value"] for e in page["edges"]] == [42.5]

    async def rejected():
        rows = (await gql_ingest(REJECTED, token=token(org)))["data"]["rejectedMessages"]
        return rows if len(rows) >= 3 else None

    reasons = sorted(RejectReason[r["reason"]].value for r in await eventually(rejected))
    assert reasons == ["battery_out_of_range", "value_out_of_range", "value_out_of_range"]


async def test_readings_are_rate_limited_not_only_messages(gql_ingest, token, org, mqtt_publisher):
    """A device sending 1,000-reading arrays back to back: the first fits the sensor's reading
    burst (1,000), the next ones are refused whole, as rate_limited."""
    sensor = await make_sensor(gql_ingest, token, org)
    base = datetime.now(UTC) - timedelta(days=1)
    for batch in range(3):
        items = [
            {"timestamp": (base + timedelta(seconds=batch * 1000 + i)).isoformat(), "value": 1.0}
            for i in range(1000)
        ]
        await publish(mqtt_publisher, sensor["mqttTopic"], items)

    async def settled():
        rows = (await gql_ingest(REJECTED, token=token(org)))["data"]["rejectedMessages"]
        return rows if len(rows) >= 2 else None

    rows = await eventually(settled)
    assert {RejectReason[r["reason"]].value for r in rows} == {"rate_limited"}
    assert all("1000 readings" in r["detail"] for r in rows)
    page = await readings_of(gql_ingest, token, org, sensor["id"], first=1)
    assert page["totalCount"] == 1000
