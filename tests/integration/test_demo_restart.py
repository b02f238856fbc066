"""A demo restarted on kept data goes on from where its devices were (no false glitch or reset)."""

from __future__ import annotations

import uuid

import asyncpg

from koprogo_graph.ingest.simulate import make_fleet, provision


async def test_restarted_meters_continue_from_their_last_index(database_url):
    org, building = uuid.uuid4(), uuid.uuid4()
    first = make_fleet(org, building, 4, prefix="RESTART")
    assert await provision(database_url, first) == 4
    assert all(s.seen_at is None for s in first)  # never seen: the demo replays its day

    con = await asyncpg.connect(database_url)
    try:
        await con.execute(
            "UPDATE sensors SET last_value = 1234.5678, last_reading_at = now() "
            "WHERE organization_id = $1",
            org,
        )
    finally:
        await con.close()

    again = make_fleet(org, building, 4, prefix="RESTART")  # new random starting indexes
    assert await provision(database_url, again) == 0
    assert all(s.seen_at is not None for s in again)
    meters = [s for s in again if s.type != "TEMPERATURE"]
    assert meters and all(s.index == 1234.5678 for s in meters)
