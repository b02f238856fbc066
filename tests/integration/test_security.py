"""The attacks of issue #17, reproduced through public surfaces and shown closed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from koprogo_graph.migrate import apply_migrations, migration_files

from .conftest import ADMIN_DSN, _dsn_for, create_sensor, error_codes

BUILDING = """query($b: ID!, $from: DateTime!, $to: DateTime!) {
  buildingConsumption(buildingId: $b, sensorType: COLD_WATER, from: $from, to: $to, bucket: DAY) {
    bucketStart consumption sensorCount } }"""
BUILDINGS = "query { buildings { id label timezone sensorCount } }"


# --- 1. Building ids belong to one organization --------------------------------------------------


async def test_another_organization_cannot_register_a_sensor_in_a_taken_building(graphql, token):
    owner, intruder, building = uuid.uuid4(), uuid.uuid4(), str(uuid.uuid4())
    await create_sensor(graphql, token(owner), buildingId=building)

    body = await graphql(
        """mutation($input: CreateSensorInput!) { createSensor(input: $input) { id } }""",
        {
            "input": {
                "buildingId": building,
                "deviceId": "INTRUDER-1",
                "type": "COLD_WATER",
                "manufacturer": "x",
                "model": "x",
                "location": "x",
                "samplingInterval": 60,
            }
        },
        token(intruder),
    )
    assert error_codes(body) == ["NOT_FOUND"]
    assert body["errors"][0]["extensions"]["field"] == "buildingId"

    # Nor by moving one of its own sensors there, nor in a batch import.
    own = await create_sensor(graphql, token(intruder))
    moved = await graphql(
        "mutation($id: ID!, $b: ID!) { updateSensor(id: $id, input: {buildingId: $b}) { id } }",
        {"id": own["id"], "b": building},
        token(intruder),
    )
    assert error_codes(moved) == ["NOT_FOUND"]
    assert moved["errors"][0]["extensions"]["field"] == "buildingId"

    # The building is the owner's, listed for it only; the intruder sees nothing of it.
    owners = (await graphql(BUILDINGS, token=token(owner)))["data"]["buildings"]
    assert [(b["id"], b["sensorCount"]) for b in owners] == [(building, 1)]
    theirs = (await graphql(BUILDINGS, token=token(intruder)))["data"]["buildings"]
    assert building not in [b["id"] for b in theirs]
    window = {"b": building, "from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"}
    assert (await graphql(BUILDING, window, token(intruder)))["data"]["buildingConsumption"] == []
    renamed = await graphql(
        'mutation($b: ID!) { updateBuilding(id: $b, input: {label: "mine"}) { id } }',
        {"b": building},
        token(intruder),
    )
    assert error_codes(renamed) == ["NOT_FOUND"]


async def test_update_building_sets_label_and_time_zone(graphql, token):
    org, building = uuid.uuid4(), str(uuid.uuid4())
    await create_sensor(graphql, token(org), buildingId=building)
    body = await graphql(
        """mutation($b: ID!) { updateBuilding(id: $b, input: {label: "Rue Haute 12",
           timezone: "Europe/Paris"}) { id label timezone sensorCount } }""",
        {"b": building},
        token(org),
    )
    assert body["data"]["updateBuilding"] == {
        "id": building,
        "label": "Rue Haute 12",
        "timezone": "Europe/Paris",
        "sensorCount": 1,
    }
    for bad in ("Mars/Olympus", "x" * 300, "Europe/Paris\x00"):
        refused = await graphql(
            "mutation($b: ID!, $tz: String!) { updateBuilding(id: $b, input: {timezone: $tz}) { id } }",
            {"b": building, "tz": bad},
            token(org),
        )
        assert error_codes(refused) == ["BAD_USER_INPUT"], bad
        assert refused["errors"][0]["extensions"]["field"] == "timezone"
    owner_role = await graphql(
        'mutation($b: ID!) { updateBuilding(id: $b, input: {label: "x"}) { id } }',
        {"b": building},
        token(org, "owner"),
    )
    assert error_codes(owner_role) == ["FORBIDDEN"]


# The state the attack of #17 left behind, on the schema before migration 0009: organization A put
# a sensor in B's building and injected readings into B's building rollups.
async def test_migration_0009_gives_each_building_to_its_first_organization():
    name = f"koprogo_test_repair_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    dsn = _dsn_for(name)
    con = await asyncpg.connect(dsn)
    try:
        await con.execute(
            "CREATE TABLE schema_migrations (version text PRIMARY KEY, "
            "applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for path in migration_files():
            if path.stem >= "0009":
                break
            await con.execute(path.read_text())
            await con.execute("INSERT INTO schema_migrations VALUES ($1)", path.stem)
        org_b, org_a, building = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        sensor = """INSERT INTO sensors (organization_id, building_id, device_id, type, reading_kind,
                    manufacturer, model, location, unit_of_measure, sampling_interval, created_at)
                    VALUES ($1, $2, $3, 'COLD_WATER', 'CUMULATIVE', 'x', 'x', 'x', 'm3', 60, $4)
                    RETURNING id"""
        t0 = datetime(2026, 1, 10, tzinfo=UTC)
        b_sensor = await con.fetchval(sensor, org_b, building, "B-1", t0)
        a_sensor = await con.fetchval(sensor, org_a, building, "A-1", t0 + timedelta(days=1))
        insert = """INSERT INTO readings (sensor_id, ts, organization_id, building_id, value,
                    raw_value, quality) VALUES ($1, $2, $3, $4, $5, $5, 'GOOD')"""
        hour = datetime(2026, 1, 12, 8, tzinfo=UTC)
        for minutes, value in ((0, 100.0), (30, 130.0)):  # B: 30 units in the hour
            await con.execute(
                insert, b_sensor, hour + timedelta(minutes=minutes), org_b, building, value
            )
        for minutes, value in ((10, 5.0), (40, 1_000_005.0), (50, 1.7e308)):  # A's injection
            await con.execute(
                insert, a_sensor, hour + timedelta(minutes=minutes), org_a, building, value
            )
    finally:
        await con.close()

    assert await apply_migrations(dsn) == [p.stem for p in migration_files() if p.stem >= "0009"]

    con = await asyncpg.connect(dsn)
    try:
        owners = await con.fetch(
            "SELECT id, organization_id, label FROM buildings ORDER BY label NULLS FIRST"
        )
        assert (owners[0]["id"], owners[0]["organization_id"]) == (building, org_b)
        moved = owners[1]
        assert moved["organization_id"] == org_a and moved["id"] != building
        assert moved["label"] == f"moved from {building}"
        assert (
            await con.fetchval("SELECT building_id FROM sensors WHERE id = $1", a_sensor)
            == moved["id"]
        )
        assert set(
            await con.fetch(
                "SELECT DISTINCT building_id FROM readings WHERE sensor_id = $1", a_sensor
            )
        ) == {(moved["id"],)}
        rollups = {
            (r["organization_id"], r["building_id"]): r["consumption"]
            for r in await con.fetch("SELECT * FROM readings_hourly_building")
        }
        assert rollups == {(org_b, building): 30.0, (org_a, moved["id"]): 1_000_000.0}
        # The 1.7e308 is gone from the readings, kept as a rejection.
        assert await con.fetchval("SELECT max(value) FROM readings") == 1_000_005.0
        assert (
            await con.fetchval(
                "SELECT count(*) FROM rejected_messages WHERE reason = 'value_out_of_range'"
            )
            == 1
        )
        with pytest.raises(asyncpg.CheckViolationError):
            await con.execute(
                insert, a_sensor, hour + timedelta(minutes=55), org_a, moved["id"], 1e13
            )
    finally:
        await con.close()
        admin = await asyncpg.connect(ADMIN_DSN)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
