"""Owners see their own units only (SPEC §12, issue 14): the whole matrix of roles and operations,
in the resolvers and in the database's own policies, and over live subscriptions."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from .conftest import create_sensor, error_codes, eventually
from .live_clients import registered_subscription
from .test_subscriptions import RAW_READINGS, reading

T0 = datetime(2026, 3, 1, tzinfo=UTC)
FROM, TO = T0.isoformat(), (T0 + timedelta(days=2)).isoformat()
ASSIGN = "mutation($u: ID!, $o: ID!) { assignUnitOwner(unitId: $u, userId: $o) { unitId userId } }"
REMOVE = "mutation($u: ID!, $o: ID!) { removeUnitOwner(unitId: $u, userId: $o) }"


@dataclass
class Setup:
    org: uuid.UUID
    building: str
    unit_a: str
    unit_b: str
    owner: uuid.UUID  # owns unit A
    a: dict  # A's hot water meter
    b: dict  # B's
    common: dict  # a common hot water meter


async def _seed(dsn: str, s: Setup) -> None:
    con = await asyncpg.connect(dsn)
    try:
        for sensor, unit, start in (
            (s.a, s.unit_a, 10.0),
            (s.b, s.unit_b, 50.0),
            (s.common, None, 5.0),
        ):
            for hour in range(49):
                await con.execute(
                    "INSERT INTO readings (sensor_id, ts, organization_id, building_id, unit_id, "
                    "value, raw_value, quality) VALUES ($1, $2, $3, $4, $5, $6, $6, 'GOOD')",
                    uuid.UUID(sensor["id"]),
                    T0 + timedelta(hours=hour),
                    s.org,
                    uuid.UUID(s.building),
                    unit and uuid.UUID(unit),
                    start + hour * (0.1 if unit == s.unit_a else 0.2),
                )
            await con.execute(
                "INSERT INTO alerts (organization_id, building_id, sensor_id, type, severity, "
                "status, message, triggered_at, last_triggered_at) "
                "VALUES ($1, $2, $3, 'LEAK_DETECTED', 'CRITICAL', 'OPEN', 'leak', $4, $4)",
                s.org,
                uuid.UUID(s.building),
                uuid.UUID(sensor["id"]),
                T0,
            )
    finally:
        await con.close()


@pytest.fixture(scope="module")
async def setup(graphql, token, database_url) -> Setup:
    org, building = uuid.uuid4(), str(uuid.uuid4())
    unit_a, unit_b = str(uuid.uuid4()), str(uuid.uuid4())
    bearer = token(org)
    meters = [
        await create_sensor(graphql, bearer, buildingId=building, type="HOT_WATER", **extra)
        for extra in ({"unitId": unit_a}, {"unitId": unit_b}, {})
    ]
    s = Setup(org, building, unit_a, unit_b, uuid.uuid4(), *meters)
    await _seed(database_url, s)
    body = await graphql(ASSIGN, {"u": unit_a, "o": str(s.owner)}, bearer)
    assert body["data"]["assignUnitOwner"] == {"unitId": unit_a, "userId": str(s.owner)}
    return s


def owner_token(token, s: Setup) -> str:
    return token(s.org, "owner", user_id=s.owner)


READS = {
    "sensors": ("query { sensors(first: 50) { edges { node { id } } } }", {}),
    "sensor": ("query($id: ID!) { sensor(id: $id) { id } }", "id"),
    "readings": (
        "query($id: ID!, $f: DateTime!, $t: DateTime!) { readings(sensorId: $id, from: $f, to: $t) { totalCount } }",
        "id",
    ),
    "series": (
        "query($id: ID!, $f: DateTime!, $t: DateTime!) { readingSeries(sensorId: $id, from: $f, to: $t, bucket: DAY) { consumption } }",
        "id",
    ),
    "alerts": ("query($id: ID!) { alerts(sensorId: $id) { totalCount } }", "id"),
}


async def read_as(graphql, bearer: str, name: str, sensor_id: str):
    query, needs = READS[name]
    variables = {"id": sensor_id, "f": FROM, "t": TO} if needs else {}
    body = await graphql(query, variables, bearer)
    assert "errors" not in body, body
    data = body["data"]
    if name == "sensors":
        return sensor_id in {e["node"]["id"] for e in data["sensors"]["edges"]}
    value = next(iter(data.values()))
    if name in ("readings", "alerts"):
        return value["totalCount"] > 0
    return bool(value)


@pytest.mark.parametrize("operation", sorted(READS))
@pytest.mark.parametrize("role", ["owner", "accountant", "syndic", "superadmin"])
async def test_who_reads_what(graphql, token, setup, operation, role):
    bearer = owner_token(token, setup) if role == "owner" else token(setup.org, role)
    seen = {
        which: await read_as(graphql, bearer, operation, getattr(setup, which)["id"])
        for which in ("a", "b", "common")
    }
    # An owner: their unit's and the common meter; another unit's is missing. Others: all.
    assert seen == {"a": True, "b": role != "owner", "common": True}


STATEMENT = """query($b: ID!, $f: DateTime!, $t: DateTime!) {
  consumptionStatement(buildingId: $b, sensorType: HOT_WATER, from: $f, to: $t) {
    total units { unitId consumption commonShare charged meters { sensor { id } } } } }"""
BUILDING = """query($b: ID!, $f: DateTime!, $t: DateTime!) {
  buildingConsumption(buildingId: $b, sensorType: HOT_WATER, from: $f, to: $t, bucket: DAY) {
    consumption } }"""


async def test_an_owners_statement_lists_their_units_with_the_buildings_total(
    graphql, token, setup
):
    args = {"b": setup.building, "f": FROM, "t": TO}
    full = (await graphql(STATEMENT, args, token(setup.org, "accountant")))["data"]
    mine = (await graphql(STATEMENT, args, owner_token(token, setup)))["data"]
    assert [u["unitId"] for u in full["consumptionStatement"]["units"]] == sorted(
        [setup.unit_a, setup.unit_b]
    )
    assert mine["consumptionStatement"]["total"] == full["consumptionStatement"]["total"]
    (line,) = mine["consumptionStatement"]["units"]
    assert line == next(
        u for u in full["consumptionStatement"]["units"] if u["unitId"] == setup.unit_a
    )
    # Hand-computed: A 4.8 m3, B 9.6, common 9.6 split 1:2 by consumption.
    assert (line["consumption"], line["commonShare"], line["charged"]) == (4.8, 3.2, 8.0)
    assert mine["consumptionStatement"]["total"] == 24.0
    # Building totals stay visible.
    totals = [
        (await graphql(BUILDING, args, bearer))["data"]["buildingConsumption"]
        for bearer in (owner_token(token, setup), token(setup.org))
    ]
    assert totals[0] == totals[1] and totals[0]


WRITES = {
    "assignUnitOwner": (ASSIGN, {"u": "UNIT", "o": str(uuid.UUID(int=7))}),
    "removeUnitOwner": (REMOVE, {"u": "UNIT", "o": str(uuid.UUID(int=7))}),
    "defineAllocationKey": (
        'mutation($b: ID!, $u: ID!) { defineAllocationKey(input: {buildingId: $b, name: "k", shares: [{unitId: $u, share: 1}]}) { id } }',
        {"b": "BUILDING", "u": "UNIT"},
    ),
    "updateSensor": (
        'mutation($id: ID!) { updateSensor(id: $id, input: {location: "Cave 2"}) { id } }',
        {"id": "SENSOR"},
    ),
}


@pytest.mark.parametrize("operation", sorted(WRITES))
@pytest.mark.parametrize("role", ["owner", "accountant"])
async def test_owners_and_accountants_write_nothing(graphql, token, setup, operation, role):
    query, template = WRITES[operation]
    values = {"UNIT": setup.unit_a, "BUILDING": setup.building, "SENSOR": setup.a["id"]}
    variables = {k: values.get(v, v) for k, v in template.items()}
    bearer = owner_token(token, setup) if role == "owner" else token(setup.org, role)
    assert error_codes(await graphql(query, variables, bearer)) == ["FORBIDDEN"]


async def test_the_database_itself_hides_other_units(setup, database_url):
    """The policies of migration 0019, without any resolver: an owner's transaction."""
    con = await asyncpg.connect(database_url)
    try:
        async with con.transaction():
            await con.execute("SET LOCAL ROLE koprogo_owner")
            await con.execute("SELECT set_config('app.org_id', $1, true)", str(setup.org))
            await con.execute("SELECT set_config('app.user_id', $1, true)", str(setup.owner))
            seen = {
                table: {
                    str(r[0]) for r in await con.fetch(f"SELECT DISTINCT sensor_id FROM {table}")
                }
                for table in ("readings", "readings_hourly", "alerts")
            }
            sensors = {str(r[0]) for r in await con.fetch("SELECT id FROM sensors")}
            hidden = await con.fetchval(
                "SELECT count(*) FROM readings WHERE sensor_id = $1", uuid.UUID(setup.b["id"])
            )
            building_rows = await con.fetchval("SELECT count(*) FROM readings_hourly_building")
    finally:
        await con.close()
    visible = {setup.a["id"], setup.common["id"]}
    assert sensors == visible
    assert all(ids == visible for ids in seen.values()), seen
    assert hidden == 0 and building_rows > 0


async def test_a_removed_owner_sees_nothing_of_the_unit(graphql, token, setup):
    other = uuid.uuid4()
    bearer = token(setup.org, "owner", user_id=other)
    assert await read_as(graphql, bearer, "readings", setup.b["id"]) is False
    assert (await graphql(ASSIGN, {"u": setup.unit_b, "o": str(other)}, token(setup.org)))["data"]
    assert await read_as(graphql, bearer, "readings", setup.b["id"]) is True
    removed = await graphql(REMOVE, {"u": setup.unit_b, "o": str(other)}, token(setup.org))
    assert removed["data"] == {"removeUnitOwner": True}
    assert await read_as(graphql, bearer, "readings", setup.b["id"]) is False
    again = await graphql(REMOVE, {"u": setup.unit_b, "o": str(other)}, token(setup.org))
    assert again["data"] == {"removeUnitOwner": False}


async def test_owner_mutations_refuse_bad_ids_naming_the_field(graphql, token, setup):
    for operation in (ASSIGN, REMOVE):
        for variables, field in (
            ({"u": "x", "o": str(setup.owner)}, "unitId"),
            ({"u": setup.unit_a, "o": "y" * 10_000}, "userId"),
        ):
            body = await graphql(operation, variables, token(setup.org))
            assert error_codes(body) == ["BAD_USER_INPUT"]
            assert body["errors"][0]["extensions"]["field"] == field
    body = await graphql(
        "query($u: ID) { unitOwners(unitId: $u) { userId } }", {"u": "\x00"}, token(setup.org)
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_an_owner_receives_only_their_units_live_readings(
    ingest_server, gql_ingest, token, mqtt_publisher, http
):
    org, building = uuid.uuid4(), str(uuid.uuid4())
    unit_a, unit_b, owner = str(uuid.uuid4()), str(uuid.uuid4()), uuid.uuid4()
    bearer = token(org)
    mine = await create_sensor(gql_ingest, bearer, buildingId=building, unitId=unit_a)
    theirs = await create_sensor(gql_ingest, bearer, buildingId=building, unitId=unit_b)
    assert (await gql_ingest(ASSIGN, {"u": unit_a, "o": str(owner)}, bearer))["data"]
    async with registered_subscription(
        ingest_server, http, token(org, "owner", user_id=owner), RAW_READINGS, {"b": building}
    ) as next_result:
        pass_on = asyncio.create_task(next_result())
        await mqtt_publisher.publish(theirs["mqttTopic"], reading(7.0), qos=1)

        async def stored() -> bool:
            body = await gql_ingest(
                "query($id: ID!) { sensor(id: $id) { lastValue } }", {"id": theirs["id"]}, bearer
            )
            return body["data"]["sensor"]["lastValue"] == 7.0

        await eventually(stored)
        await mqtt_publisher.publish(mine["mqttTopic"], reading(3.0), qos=1)
        result = await asyncio.wait_for(pass_on, 20)
    assert result == {"readingAdded": {"value": 3.0}}


async def test_unit_owners_says_who_owns_what(graphql, token, setup):
    query = "query($u: ID) { unitOwners(unitId: $u) { unitId userId } }"
    mine = await graphql(query, {}, owner_token(token, setup))
    assert mine["data"]["unitOwners"] == [{"unitId": setup.unit_a, "userId": str(setup.owner)}]
    listed = await graphql(query, {"u": setup.unit_a}, token(setup.org, "accountant"))
    assert {"unitId": setup.unit_a, "userId": str(setup.owner)} in listed["data"]["unitOwners"]
    assert (await graphql(query, {"u": setup.unit_a}, token(uuid.uuid4())))["data"] == {
        "unitOwners": []
    }
    body = await graphql(query, {}, token(setup.org))
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == "unitId"


async def test_an_owner_receives_only_their_units_alerts_and_status_changes(
    ingest_server, gql_ingest, token, mqtt_publisher, http
):
    org, building = uuid.uuid4(), str(uuid.uuid4())
    unit_a, unit_b, owner = str(uuid.uuid4()), str(uuid.uuid4()), uuid.uuid4()
    bearer = token(org)
    probes = {
        unit: await create_sensor(
            gql_ingest,
            bearer,
            buildingId=building,
            unitId=unit,
            type="TEMPERATURE",
            unitOfMeasure="°C",
            alertThresholdMax=30.0,
        )
        for unit in (unit_a, unit_b)
    }
    assert (await gql_ingest(ASSIGN, {"u": unit_a, "o": str(owner)}, bearer))["data"]
    alerts = "subscription($b: ID) { alertChanged(buildingId: $b) { sensorId type } }"
    statuses = "subscription($b: ID) { sensorStatusChanged(buildingId: $b) { id connectivity } }"
    owner_bearer = token(org, "owner", user_id=owner)
    async with (
        registered_subscription(ingest_server, http, owner_bearer, alerts, {"b": building}) as a,
        registered_subscription(ingest_server, http, owner_bearer, statuses, {"b": building}) as s,
    ):
        next_alert, next_status = asyncio.create_task(a()), asyncio.create_task(s())
        # Unit B's probe comes online and raises an alert: the owner of A hears of neither.
        await mqtt_publisher.publish(probes[unit_b]["mqttTopic"], reading(45.0), qos=1)

        async def raised() -> bool:
            body = await gql_ingest(
                "query($s: ID!) { alerts(sensorId: $s) { totalCount } }",
                {"s": probes[unit_b]["id"]},
                bearer,
            )
            return body["data"]["alerts"]["totalCount"] == 1

        await eventually(raised)
        await mqtt_publisher.publish(probes[unit_a]["mqttTopic"], reading(46.0), qos=1)
        alert, status = await asyncio.wait_for(asyncio.gather(next_alert, next_status), 20)
    assert alert == {
        "alertChanged": {"sensorId": probes[unit_a]["id"], "type": "THRESHOLD_EXCEEDED"}
    }
    assert status == {"sensorStatusChanged": {"id": probes[unit_a]["id"], "connectivity": "ONLINE"}}


async def test_an_owner_is_not_told_of_other_units_meters_in_errors(graphql, token, setup):
    early = {"b": setup.building, "f": "2026-02-01T00:00:00Z", "t": TO}
    syndic = await graphql(STATEMENT, early, token(setup.org))
    assert setup.b["id"] not in str(syndic) and "has no reading" in str(syndic)
    body = await graphql(STATEMENT, early, owner_token(token, setup))
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == "from"
    assert "ask your syndic" in body["errors"][0]["message"]
    assert "meter" not in body["errors"][0]["message"]
