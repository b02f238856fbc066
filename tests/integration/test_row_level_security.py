"""Row-level security backs the organization filter of every query (SPEC §8b)."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from koprogo_graph.store import sensors as store
from koprogo_graph.store.db import open_database


@pytest.fixture
async def db(database_url):
    async with open_database(database_url, pool_size=2) as database:
        yield database


async def _sensor(con, org, device):
    rows = await store.insert_many(
        con,
        org,
        [
            {
                "building_id": uuid.uuid4(),
                "device_id": device,
                "type": "GAS",
                "reading_kind": "CUMULATIVE",
                "manufacturer": "Itron",
                "model": "G4",
                "location": "Cave",
                "unit_of_measure": "m3",
                "sampling_interval": 900,
            }
        ],
    )
    return rows[0]


async def test_the_api_role_sees_nothing_without_an_organization_setting(db):
    org = uuid.uuid4()
    async with db.tenant(org) as con:
        await _sensor(con, org, "RLS-1")

    async with db.api_pool.acquire() as con:
        assert await con.fetchval("SELECT current_user") == "koprogo_app"
        assert await con.fetchval("SELECT count(*) FROM sensors") == 0


async def test_the_api_role_sees_only_its_organization_even_without_a_where_clause(db):
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    async with db.tenant(theirs) as con:
        await _sensor(con, theirs, "THEIRS")
    async with db.tenant(mine) as con:
        await _sensor(con, mine, "MINE")
        devices = [r["device_id"] for r in await con.fetch("SELECT device_id FROM sensors")]
    assert devices == ["MINE"]


async def test_the_api_role_cannot_write_into_another_organization(db):
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    async with db.tenant(mine) as con:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await _sensor(con, theirs, "SMUGGLED")


async def test_the_system_role_sees_every_organization(db):
    orgs = [uuid.uuid4(), uuid.uuid4()]
    for org in orgs:
        async with db.tenant(org) as con:
            await _sensor(con, org, f"SYS-{org}")
    async with db.system() as con:
        found = await con.fetchval(
            "SELECT count(*) FROM sensors WHERE organization_id = ANY($1::uuid[])", orgs
        )
    assert found == 2
