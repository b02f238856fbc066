"""Real devices' messages through a private Mosquitto whose accounts the service keeps (its
dynamic security plugin), LoRaWAN webhooks, and TLS: each message stored as the right sensor's
reading, and no credential writing anywhere but under its own building."""

from __future__ import annotations

import asyncio
import json
import ssl
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiomqtt
import pytest
import trustme

from .conftest import (
    RunningServer,
    create_sensor,
    error_codes,
    eventually,
    graphql_client,
    make_settings,
    serving,
)
from .processes import PrivateMosquitto

ADMIN = ("koprogo-admin", "admin-password-0123456789")
FIXTURES = Path(__file__).parents[1] / "fixtures" / "devices"

CREDENTIALS = """mutation($b: ID!, $name: String!) {
  createIngestCredentials(buildingId: $b, name: $name) {
    id buildingId topicPrefix mqttUsername mqttPassword httpToken revokedAt
  }
}"""
READINGS = """query($id: ID!, $from: DateTime!, $to: DateTime!) {
  readings(sensorId: $id, from: $from, to: $to) {
    totalCount edges { node { timestamp value rawValue unitOfMeasure batteryLevel signalStrength } }
  }
}"""


def fixture(name: str, index: int) -> dict:
    return json.loads((FIXTURES / name).read_text())[index]["message"]


@pytest.fixture(scope="module")
async def broker() -> AsyncIterator[PrivateMosquitto]:
    mosquitto = PrivateMosquitto(admin=ADMIN)
    await mosquitto.start()
    yield mosquitto
    mosquitto.cleanup()


@pytest.fixture(scope="module")
async def devices_server(
    database_url: str, broker: PrivateMosquitto
) -> AsyncIterator[RunningServer]:
    """The service ingesting from the private broker, as its dynamic security admin."""
    run = uuid.uuid4().hex[:8]
    settings = make_settings(
        database_url,
        KOPROGO_INGEST="true",
        MQTT_URL=f"mqtt://{ADMIN[0]}:{ADMIN[1]}@127.0.0.1:{broker.port}",
        KOPROGO_MQTT_DYNSEC="true",
        KOPROGO_MQTT_CLIENT_ID=f"koprogo-devices-{run}",
        KOPROGO_MQTT_GROUP=f"devices-{run}",
    )
    async with serving(settings) as running:
        yield running


@pytest.fixture(scope="module")
async def gql(devices_server: RunningServer) -> AsyncIterator:
    async with graphql_client(devices_server) as post:
        yield post


async def credentials(gql, bearer: str, building: uuid.UUID, name: str = "gateway") -> dict:
    body = await gql(CREDENTIALS, {"b": str(building), "name": name}, bearer)
    assert "errors" not in body, body
    return body["data"]["createIngestCredentials"]


async def stored(gql, bearer: str, sensor_id: str, count: int = 1) -> list[dict]:
    async def check():
        now = datetime.now(UTC)
        body = await gql(
            READINGS,
            {
                "id": sensor_id,
                "from": (now - timedelta(days=1)).isoformat(),
                "to": (now + timedelta(minutes=10)).isoformat(),
            },
            bearer,
        )
        assert "errors" not in body, body
        page = body["data"]["readings"]
        return [e["node"] for e in page["edges"]] if page["totalCount"] >= count else None

    return await eventually(check)


def device(broker: PrivateMosquitto, secrets: dict) -> aiomqtt.Client:
    return aiomqtt.Client(
        "127.0.0.1",
        broker.port,
        username=secrets["mqttUsername"],
        password=secrets["mqttPassword"],
        identifier=f"device-{uuid.uuid4().hex[:8]}",
    )


async def test_shelly_tasmota_zigbee2mqtt_and_wmbusmeters_messages_are_stored_as_their_sensors_readings(
    gql, token, broker
):
    org, building = uuid.uuid4(), uuid.uuid4()
    bearer = token(org)
    secrets = await credentials(gql, bearer, building)
    assert secrets["topicPrefix"] == f"koprogo/{org}/{building}/"
    common = {"buildingId": str(building), "manufacturer": "x", "model": "y", "location": "z"}
    plug = await create_sensor(
        gql, bearer, **common, type="ELECTRICITY", integration="SHELLY",
        externalId="shellyplus1pm-a8032ab1c2d3", unitScale=0.001, deviceId="SHELLY-1",
    )  # fmt: skip
    probe = await create_sensor(
        gql, bearer, **common, type="TEMPERATURE", integration="TASMOTA",
        externalId="chaufferie", deviceId="TASMOTA-1",
    )  # fmt: skip
    thermo, hygro = [
        await create_sensor(
            gql,
            bearer,
            **common,
            type=kind,
            integration="ZIGBEE2MQTT",
            externalId="sdb-3b-thermo",
            deviceId=f"Z2M-{kind}",
        )
        for kind in ("TEMPERATURE", "HUMIDITY")
    ]
    water = await create_sensor(
        gql, bearer, **common, type="COLD_WATER", integration="WMBUSMETERS",
        externalId="76348799", deviceId="WMBUS-1",
    )  # fmt: skip

    now = datetime.now(UTC).replace(microsecond=0)
    shelly = fixture("shelly.json", 1)
    shelly["params"]["ts"] = (now - timedelta(seconds=30)).timestamp()
    tasmota = fixture("tasmota.json", 1)
    local = (now - timedelta(seconds=20)).astimezone(ZoneInfo("Europe/Brussels"))
    tasmota["Time"] = local.replace(tzinfo=None).isoformat()
    wmbus = fixture("wmbusmeters.json", 0)
    wmbus["timestamp"] = (now - timedelta(seconds=10)).isoformat().replace("+00:00", "Z")
    prefix = secrets["topicPrefix"]
    async with device(broker, secrets) as client:
        for topic, message in [
            ("shelly/shellyplus1pm-a8032ab1c2d3/events/rpc", shelly),
            ("tasmota/tele/chaufferie/SENSOR", tasmota),
            ("zigbee2mqtt/sdb-3b-thermo", fixture("zigbee2mqtt.json", 0)),
            ("wmbusmeters/Cave-3B-EF", wmbus),
        ]:
            await client.publish(prefix + topic, json.dumps(message), qos=1)

    (energy,) = await stored(gql, bearer, plug["id"])
    assert energy["rawValue"] == 1234588.043  # Wh, as the device said
    assert energy["value"] == 1234.588  # kWh, its unit (unitScale 0.001, 3 decimals)
    assert energy["unitOfMeasure"] == "kWh"
    assert datetime.fromisoformat(energy["timestamp"]) == now - timedelta(seconds=30)
    (temperature,) = await stored(gql, bearer, probe["id"])
    assert temperature["value"] == 63.25 and temperature["unitOfMeasure"] == "°C"
    # Tasmota's local time without an offset, read in the building's time zone.
    assert datetime.fromisoformat(temperature["timestamp"]) == now - timedelta(seconds=20)
    ((room,), (humidity,)) = [await stored(gql, bearer, s["id"]) for s in (thermo, hygro)]
    assert room["value"] == 21.37 and room["batteryLevel"] == 97
    assert humidity["value"] == 51.2 and humidity["unitOfMeasure"] == "%"
    (index,) = await stored(gql, bearer, water["id"])
    assert index["value"] == 6.408 and index["signalStrength"] == -64
    assert datetime.fromisoformat(index["timestamp"]) == now - timedelta(seconds=10)


async def test_a_credential_writes_only_under_its_own_building(gql, token, broker):
    org, other_org = uuid.uuid4(), uuid.uuid4()
    mine, next_door, elsewhere = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    secrets = await credentials(gql, token(org), mine)
    sensors = {}
    for owner, building in ((org, mine), (org, next_door), (other_org, elsewhere)):
        sensors[building] = await create_sensor(
            gql, token(owner), buildingId=str(building), type="TEMPERATURE",
            integration="ZIGBEE2MQTT", externalId="thermo", deviceId=f"T-{building.hex[:6]}",
        )  # fmt: skip
    async with device(broker, secrets) as client:
        for owner, building in ((org, next_door), (other_org, elsewhere), (org, mine)):
            await client.publish(
                f"koprogo/{owner}/{building}/zigbee2mqtt/thermo",
                json.dumps({"temperature": 19.5}),
                qos=1,
            )
    # The last one, its own, is stored; the broker refused the two before it (the service,
    # which would store them, never saw them).
    await stored(gql, token(org), sensors[mine]["id"])
    for owner, building in ((org, next_door), (other_org, elsewhere)):
        now = datetime.now(UTC)
        body = await gql(
            READINGS,
            {
                "id": sensors[building]["id"],
                "from": (now - timedelta(days=1)).isoformat(),
                "to": (now + timedelta(minutes=10)).isoformat(),
            },
            token(owner),
        )
        assert body["data"]["readings"]["totalCount"] == 0


async def test_a_revoked_credential_is_cut_off_at_once(gql, token, broker):
    org, building = uuid.uuid4(), uuid.uuid4()
    secrets = await credentials(gql, token(org), building)
    async with device(broker, secrets) as client:
        body = await gql(
            "mutation($id: ID!) { revokeIngestCredentials(id: $id) }",
            {"id": secrets["id"]},
            token(org),
        )
        assert body == {"data": {"revokeIngestCredentials": True}}

        async def disconnected():  # the broker closed the connection
            try:
                await client.publish(secrets["topicPrefix"] + "zigbee2mqtt/x", "{}", qos=1)
            except aiomqtt.MqttError:
                return True
            await asyncio.sleep(0.1)
            return False

        assert await eventually(disconnected, timeout=10)
    with pytest.raises(aiomqtt.MqttError):  # and it cannot come back
        async with device(broker, secrets):
            pass
    listed = await gql(
        "query($b: ID) { ingestCredentials(buildingId: $b) { id mqttPassword httpToken revokedAt } }",
        {"b": str(building)},
        token(org),
    )
    (entry,) = listed["data"]["ingestCredentials"]
    assert entry["revokedAt"] and entry["mqttPassword"] is None and entry["httpToken"] is None


async def test_credentials_are_for_managers_and_their_own_organizations_buildings(
    gql, token, broker
):
    org = uuid.uuid4()
    building = uuid.uuid4()
    await create_sensor(gql, token(org), buildingId=str(building))
    body = await gql(CREDENTIALS, {"b": str(building), "name": "x"}, token(uuid.uuid4()))
    assert error_codes(body) == ["NOT_FOUND"]  # another organization's building
    body = await gql(CREDENTIALS, {"b": str(building), "name": "x"}, token(org, role="owner"))
    assert error_codes(body) == ["FORBIDDEN"]
    body = await gql(CREDENTIALS, {"b": str(building), "name": " " * 3}, token(org))
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == "name"


def ttn_uplink(device_id: str, received_at: datetime, volume: float) -> dict:
    message = fixture("ttn.json", 0)
    message["end_device_ids"]["device_id"] = device_id
    message["uplink_message"]["received_at"] = received_at.isoformat().replace("+00:00", "Z")
    message["uplink_message"]["decoded_payload"]["volume_m3"] = volume
    return message


async def test_a_ttn_uplink_is_stored_once_and_a_bad_token_stores_nothing(gql, token):
    org, building, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    bearer = token(org)
    secrets = await credentials(gql, bearer, building, "The Things Stack")
    elsewhere = await credentials(gql, bearer, other, "another building")
    meter = await create_sensor(
        gql, bearer, buildingId=str(building), type="COLD_WATER", integration="TTN",
        externalId="eau-froide-3b",
    )  # fmt: skip
    client = gql.client
    url = f"/ingest/ttn/{building}"
    uplink = ttn_uplink("eau-froide-3b", datetime.now(UTC) - timedelta(seconds=5), 123.456)
    auth = {"Authorization": f"Bearer {secrets['httpToken']}"}
    first = await client.post(url, json=uplink, headers=auth)
    assert first.status_code == 200, first.text
    assert first.json() == {"stored": 1, "duplicates": 0, "rejected": []}
    again = await client.post(url, json=uplink, headers=auth)  # the network server retries
    assert again.json() == {"stored": 0, "duplicates": 1, "rejected": []}
    (reading,) = await stored(gql, bearer, meter["id"])
    assert reading["value"] == 123.456 and reading["batteryLevel"] == 92
    assert reading["signalStrength"] == -97  # the best gateway's

    later = ttn_uplink("eau-froide-3b", datetime.now(UTC), 124.0)
    for headers, status in [
        ({}, 401),
        ({"Authorization": "Bearer kgi_not-a-token"}, 401),
        ({"Authorization": f"Bearer {elsewhere['httpToken']}"}, 403),
    ]:
        refused = await client.post(url, json=later, headers=headers)
        assert refused.status_code == status
    assert len(await stored(gql, bearer, meter["id"])) == 1

    unbound = await client.post(
        url, json=ttn_uplink("nobody", datetime.now(UTC), 1.0), headers=auth
    )
    assert unbound.status_code == 200
    assert [r["reason"] for r in unbound.json()["rejected"]] == ["unbound_device"]
    garbage = await client.post(url, content=b"{not json", headers=auth)
    assert garbage.status_code == 400
    assert [r["reason"] for r in garbage.json()["rejected"]] == ["invalid_json"]


async def test_a_chirpstack_uplink_is_stored_and_other_events_are_acknowledged(gql, token):
    org, building = uuid.uuid4(), uuid.uuid4()
    bearer = token(org)
    secrets = await credentials(gql, bearer, building, "ChirpStack")
    co2 = await create_sensor(
        gql, bearer, buildingId=str(building), type="AIR_QUALITY", integration="CHIRPSTACK",
        externalId="a84041000181c061",
    )  # fmt: skip
    event = fixture("chirpstack.json", 0)
    event["time"] = (datetime.now(UTC) - timedelta(seconds=3)).isoformat()
    auth = {"Authorization": f"Bearer {secrets['httpToken']}"}
    client = gql.client
    up = await client.post(f"/ingest/chirpstack/{building}?event=up", json=event, headers=auth)
    assert up.json() == {"stored": 1, "duplicates": 0, "rejected": []}
    join = await client.post(f"/ingest/chirpstack/{building}?event=join", json={}, headers=auth)
    assert join.status_code == 204
    (reading,) = await stored(gql, bearer, co2["id"])
    assert reading["value"] == 880 and reading["unitOfMeasure"] == "ppm"


async def test_an_intrusion_alerts_only_while_the_building_is_armed(gql, token, broker):
    org, building = uuid.uuid4(), uuid.uuid4()
    bearer = token(org)
    secrets = await credentials(gql, bearer, building)
    door = await create_sensor(
        gql, bearer, buildingId=str(building), type="INTRUSION", integration="ZIGBEE2MQTT",
        externalId="porte-cave",
    )  # fmt: skip
    alerts = "query($s: ID!) { alerts(sensorId: $s) { edges { node { type severity } } } }"
    topic = secrets["topicPrefix"] + "zigbee2mqtt/porte-cave"
    async with device(broker, secrets) as client:
        await client.publish(topic, json.dumps({"contact": False}), qos=1)  # open, disarmed
        await stored(gql, bearer, door["id"])
        body = await gql(alerts, {"s": door["id"]}, bearer)
        assert body["data"]["alerts"]["edges"] == []
        armed = await gql(
            "mutation($b: ID!) { armBuilding(buildingId: $b, armed: true) { armed } }",
            {"b": str(building)},
            bearer,
        )
        assert armed == {"data": {"armBuilding": {"armed": True}}}
        await asyncio.sleep(1.1)  # a new second: a new reading (the device sends no time)
        await client.publish(topic, json.dumps({"contact": False}), qos=1)

    async def raised():
        body = await gql(alerts, {"s": door["id"]}, bearer)
        return body["data"]["alerts"]["edges"]

    assert [e["node"] for e in await eventually(raised)] == [
        {"type": "INTRUSION_DETECTED", "severity": "CRITICAL"}
    ]


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


async def test_the_ingestor_connects_over_tls_to_a_private_ca(
    database_url, token, authority, tmp_path
):
    certificate = authority.issue_cert("127.0.0.1", "localhost")
    ca = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(ca)
    chain = b"".join(blob.bytes() for blob in certificate.cert_chain_pems)
    broker = PrivateMosquitto(tls=(chain, certificate.private_key_pem.bytes()))
    await broker.start()
    try:
        run = uuid.uuid4().hex[:8]
        settings = make_settings(
            database_url,
            KOPROGO_INGEST="true",
            MQTT_URL=f"mqtts://127.0.0.1:{broker.port}",
            MQTT_CA_FILE=str(ca),
            KOPROGO_MQTT_CLIENT_ID=f"koprogo-tls-{run}",
            KOPROGO_MQTT_GROUP=f"tls-{run}",
        )
        async with serving(settings) as running, graphql_client(running) as post:
            org = uuid.uuid4()
            sensor = await create_sensor(post, token(org))
            context = ssl.create_default_context(cafile=str(ca))
            async with aiomqtt.Client(
                "127.0.0.1", broker.port, tls_context=context, identifier=f"tls-{run}"
            ) as publisher:
                reading = {"timestamp": datetime.now(UTC).isoformat(), "value": 12.5}
                await publisher.publish(sensor["mqttTopic"], json.dumps(reading), qos=1)
            (stored_reading,) = await stored(post, token(org), sensor["id"])
            assert stored_reading["value"] == 12.5
    finally:
        broker.cleanup()


async def test_the_shipped_broker_configuration_runs_tls_only_with_the_plugins_accounts(
    authority, tmp_path
):
    """deploy/mosquitto/mosquitto.conf as shipped (its paths and port moved to a scratch
    folder): TLS only, the dynamic security plugin's admin may connect, anonymous may not."""
    shipped = (Path(__file__).parents[2] / "deploy" / "mosquitto" / "mosquitto.conf").read_text()
    certificate = authority.issue_cert("127.0.0.1")
    broker = PrivateMosquitto(
        admin=ADMIN,
        tls=(
            b"".join(b.bytes() for b in certificate.cert_chain_pems),
            certificate.private_key_pem.bytes(),
        ),
    )
    folder = broker.dir
    broker.conf.write_text(
        shipped.replace("listener 8883", f"listener {broker.port} 127.0.0.1")
        .replace("/etc/mosquitto/certs/server.crt", str(folder / "server.pem"))
        .replace("/etc/mosquitto/certs/server.key", str(folder / "server.key"))
        .replace("/var/lib/mosquitto/dynamic-security.json", str(folder / "dynamic-security.json"))
        .replace("/var/lib/mosquitto/", f"{folder}/")
        + f"user {'mosquitto' if folder.owner() == 'mosquitto' else 'root'}\n"
    )
    ca = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(ca)
    await broker.start()
    try:
        context = ssl.create_default_context(cafile=str(ca))
        async with aiomqtt.Client(
            "127.0.0.1", broker.port, username=ADMIN[0], password=ADMIN[1], tls_context=context
        ):
            pass
        with pytest.raises(aiomqtt.MqttError):  # anonymous
            async with aiomqtt.Client("127.0.0.1", broker.port, tls_context=context):
                pass
        with pytest.raises(aiomqtt.MqttError):  # without TLS (the broker waits for a handshake)
            async with aiomqtt.Client(
                "127.0.0.1", broker.port, username=ADMIN[0], password=ADMIN[1], timeout=1
            ):
                pass
    finally:
        broker.cleanup()


async def test_webhooks_refuse_oversized_flooding_and_malformed_requests(gql, token):
    org, building = uuid.uuid4(), uuid.uuid4()
    secrets = await credentials(gql, token(org), building, "flood")
    auth = {"Authorization": f"Bearer {secrets['httpToken']}"}
    client = gql.client
    url = f"/ingest/ttn/{building}"
    huge = await client.post(url, content=b"{" + b" " * 70_000 + b"}", headers=auth)
    assert huge.status_code == 413

    # Sent in chunks (no length said beforehand): read, then refused.
    async def chunks():
        yield b"{" + b" " * 70_000 + b"}"

    chunked = await client.post(url, content=chunks(), headers=auth)
    assert chunked.status_code == 413
    assert (await client.post("/ingest/ttn/not-a-uuid", json={}, headers=auth)).status_code == 404
    assert (await client.post(f"/ingest/mqtt/{building}", json={}, headers=auth)).status_code == 404
    long_token = {"Authorization": "Bearer " + "x" * 5_000}
    assert (await client.post(url, json={}, headers=long_token)).status_code == 401
    # One credential's burst (the API's, 100 requests), then 429 with Retry-After.
    answers = await asyncio.gather(*(client.post(url, json={}, headers=auth) for _ in range(130)))
    statuses = [a.status_code for a in answers]
    assert 429 in statuses and statuses.count(429) <= 30
    assert next(a for a in answers if a.status_code == 429).headers["retry-after"] == "1"


async def test_a_binding_corrected_applies_to_the_next_message_not_after_the_cache_expires(
    gql, token, broker
):
    """unitScale set from 1 to 0.001 (the device counts Wh): the ingestors are told at once."""
    org, building = uuid.uuid4(), uuid.uuid4()
    bearer = token(org)
    secrets = await credentials(gql, bearer, building)
    meter = await create_sensor(
        gql, bearer, buildingId=str(building), type="ELECTRICITY", integration="ZIGBEE2MQTT",
        externalId="linky",
    )  # fmt: skip
    topic = secrets["topicPrefix"] + "zigbee2mqtt/linky"
    start = datetime.now(UTC) - timedelta(minutes=5)
    async with device(broker, secrets) as client:
        await client.publish(
            topic,
            json.dumps({"current_summ_delivered": 1000.0, "last_seen": start.isoformat()}),
            qos=1,
        )
        (first,) = await stored(gql, bearer, meter["id"])
        assert first["value"] == 1000.0
        body = await gql(
            "mutation($id: ID!) { updateSensor(id: $id, input: {unitScale: 0.001}) { unitScale } }",
            {"id": meter["id"]},
            bearer,
        )
        assert body == {"data": {"updateSensor": {"unitScale": 0.001}}}
        sent = 0

        async def rescaled():
            nonlocal sent
            sent += 1
            at = (start + timedelta(seconds=sent)).isoformat()
            message = {"current_summ_delivered": 2_000_000.0, "last_seen": at}
            await client.publish(topic, json.dumps(message), qos=1)
            readings = await stored(gql, bearer, meter["id"], count=2)
            return any(r["value"] == 2000.0 for r in readings)

        assert await eventually(rescaled, timeout=15)


async def test_a_hostile_product_message_costs_itself_only(gql, token, broker):
    """Garbage on a product's topic is refused with its reason; the valid message after it is
    stored; the ingestor goes on."""
    org, building = uuid.uuid4(), uuid.uuid4()
    bearer = token(org)
    secrets = await credentials(gql, bearer, building)
    thermo = await create_sensor(
        gql, bearer, buildingId=str(building), type="TEMPERATURE", integration="ZIGBEE2MQTT",
        externalId="salon",
    )  # fmt: skip
    prefix = secrets["topicPrefix"]
    async with device(broker, secrets) as client:
        for topic, payload in [
            ("zigbee2mqtt/salon", b"{not json"),
            ("zigbee2mqtt/salon", json.dumps({"temperature": "hot"}).encode()),
            ("zigbee2mqtt/salon", json.dumps({"temperature": 10**400}).encode()),
            ("wmbusmeters/x", json.dumps({"id": "a\u0000b", "total_m3": 1}).encode()),
            ("shelly/x/events/rpc", b"[" * 5000),
            ("zigbee2mqtt/salon", json.dumps({"temperature": 19.5}).encode()),
        ]:
            await client.publish(prefix + topic, payload, qos=1)
    (reading,) = await stored(gql, bearer, thermo["id"])
    assert reading["value"] == 19.5

    async def refused():
        body = await gql("query { rejectedMessages(first: 20) { reason } }", None, bearer)
        reasons = sorted(r["reason"] for r in body["data"]["rejectedMessages"])
        return reasons if len(reasons) >= 5 else None

    assert await eventually(refused) == sorted(
        ["INVALID_JSON", "UNKNOWN_METRIC", "UNKNOWN_METRIC", "UNBOUND_DEVICE", "INVALID_JSON"]
    )


async def test_arming_refuses_bad_schedules_naming_the_field(gql, token):
    org, building = uuid.uuid4(), uuid.uuid4()
    bearer = token(org)
    await create_sensor(gql, bearer, buildingId=str(building))
    schedule = (
        "mutation($b: ID!, $p: [ArmPeriodInput!]!) { setArmSchedule(buildingId: $b, periods: $p)"
        " { armSchedule { days from to } } }"
    )
    night = {"days": [1, 2, 3, 4, 5], "from": "22:00", "to": "06:00"}
    body = await gql(schedule, {"b": str(building), "p": [night]}, bearer)
    assert body["data"]["setArmSchedule"]["armSchedule"] == [night]
    for periods, field in [
        ([night] * 51, "periods"),
        ([{**night, "from": "25:00"}], "periods[0].from"),
        ([{**night, "days": [0]}], "periods[0].days"),
    ]:
        refused = await gql(schedule, {"b": str(building), "p": periods}, bearer)
        assert error_codes(refused) == ["BAD_USER_INPUT"]
        assert refused["errors"][0]["extensions"]["field"] == field
    foreign = await gql(schedule, {"b": str(building), "p": [night]}, token(uuid.uuid4()))
    assert error_codes(foreign) == ["NOT_FOUND"]


async def test_a_building_holds_at_most_a_hundred_live_credentials(graphql, token):
    """Counted among the live ones: a revoked credential frees its place."""
    org, building = uuid.uuid4(), uuid.uuid4()
    bearer = token(org)
    made = [await credentials(graphql, bearer, building, f"g{i}") for i in range(100)]
    body = await graphql(CREDENTIALS, {"b": str(building), "name": "one too many"}, bearer)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == "buildingId"
    revoked = await graphql(
        "mutation($id: ID!) { revokeIngestCredentials(id: $id) }", {"id": made[0]["id"]}, bearer
    )
    assert revoked["data"] == {"revokeIngestCredentials": True}
    assert "errors" not in await graphql(CREDENTIALS, {"b": str(building), "name": "again"}, bearer)


async def test_a_sensor_change_forgets_only_its_organizations_bindings(
    graphql, token, database_url
):
    """The ingestor's cache of bound devices: a change in one organization (its notification)
    re-reads that organization's bindings, and keeps every other organization's."""
    from koprogo_graph.ingest.registry import SensorRegistry
    from koprogo_graph.store.db import open_database

    keys = []
    for _ in range(2):
        org, building = uuid.uuid4(), uuid.uuid4()
        await create_sensor(
            graphql, token(org), buildingId=str(building), type="TEMPERATURE",
            integration="ZIGBEE2MQTT", externalId="thermo", deviceId="T-1",
        )  # fmt: skip
        keys.append((org, building, "ZIGBEE2MQTT", "thermo"))
    registry = SensorRegistry()
    async with open_database(database_url, pool_size=1) as db:
        async with db.system() as con:
            first = await registry.resolve_bindings(con, keys)
            assert all(first[k] for k in keys)
            # Both unbound behind the cache's back; only the first organization is notified.
            await con.execute(
                "UPDATE sensors SET external_id = 'moved' WHERE organization_id = ANY($1::uuid[])",
                [k[0] for k in keys],
            )
        registry.invalidate(f"{keys[0][0]}/T-1")
        async with db.system() as con:
            found = await registry.resolve_bindings(con, keys)
    assert found[keys[0]] == []  # re-read: moved away
    assert [s.device_id for s in found[keys[1]]] == ["T-1"]  # kept: not notified
