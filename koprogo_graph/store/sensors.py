"""Sensors: registry rows, scoped to one organization."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from .rows import SensorRow, from_record

__all__ = [
    "BuildingNotOwned",
    "DuplicateBinding",
    "DuplicateDeviceId",
    "bound_to",
    "by_device",
    "count",
    "delete",
    "follow_alerts",
    "follow_all",
    "get",
    "get_many",
    "insert_many",
    "insert_missing",
    "list_page",
    "merge_alert_rules",
    "meters_in_building",
    "reclassify",
    "update",
]

# Columns a caller may set on insert/update; anything else is a programming error.
WRITABLE = frozenset(
    {
        "building_id",
        "unit_id",
        "device_id",
        "type",
        "reading_kind",
        "manufacturer",
        "model",
        "firmware_version",
        "location",
        "floor",
        "unit_of_measure",
        "sampling_interval",
        "calibration_factor",
        "alert_rules",
        "status",
        "installed_at",
        "resolution",
        "integration",
        "external_id",
        "metric",
        "unit_scale",
    }
)


class DuplicateDeviceId(Exception):
    """Another sensor of the organization already has this deviceId."""

    def __init__(self, device_id: str) -> None:
        super().__init__(device_id)
        self.device_id = device_id


class DuplicateBinding(Exception):
    """Another sensor of the building already reads this metric of this device."""

    def __init__(self, external_id: str, metric: str) -> None:
        super().__init__(f"{external_id} {metric}")
        self.external_id = external_id
        self.metric = metric


class BuildingNotOwned(Exception):
    """The building id belongs to another organization (to the caller, it does not exist)."""

    def __init__(self, building_id: uuid.UUID) -> None:
        super().__init__(str(building_id))
        self.building_id = building_id


async def get(
    con: asyncpg.Connection, org: uuid.UUID, sensor_id: uuid.UUID, *, for_update: bool = False
) -> SensorRow | None:
    """The sensor, or None; ``for_update`` locks it until the transaction ends (for a change
    that depends on what it was)."""
    lock = " FOR NO KEY UPDATE" if for_update else ""
    return _one(
        await con.fetchrow(
            f"SELECT * FROM sensors WHERE organization_id = $1 AND id = $2{lock}", org, sensor_id
        )
    )


async def get_many(
    con: asyncpg.Connection, org: uuid.UUID, ids: Sequence[uuid.UUID]
) -> list[SensorRow]:
    return _all(
        await con.fetch(
            "SELECT * FROM sensors WHERE organization_id = $1 AND id = ANY($2::uuid[])",
            org,
            list(ids),
        )
    )


async def by_device(
    con: asyncpg.Connection, keys: Sequence[tuple[uuid.UUID, str]]
) -> list[SensorRow]:
    """The sensors of these (organization, deviceId) pairs that exist (across organizations:
    the ingestor's lookup)."""
    return _all(
        await con.fetch(
            "SELECT s.* FROM sensors s JOIN unnest($1::uuid[], $2::text[]) AS k(org, device) "
            "ON s.organization_id = k.org AND s.device_id = k.device",
            [k[0] for k in keys],
            [k[1] for k in keys],
        )
    )


async def bound_to(
    con: asyncpg.Connection, keys: Sequence[tuple[uuid.UUID, uuid.UUID, str, str]]
) -> list[tuple[SensorRow, str]]:
    """The sensors bound to these (organization, building, integration, externalId) devices,
    with their building's time zone (across organizations: the ingestor's lookup)."""
    rows = await con.fetch(
        "SELECT s.*, b.timezone AS building_timezone FROM sensors s "
        "JOIN unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[]) "
        "  AS k(org, building, integration, external_id) "
        "  ON s.organization_id = k.org AND s.building_id = k.building "
        "  AND s.integration = k.integration AND s.external_id = k.external_id "
        "JOIN buildings b ON b.organization_id = s.organization_id AND b.id = s.building_id",
        [k[0] for k in keys],
        [k[1] for k in keys],
        [k[2] for k in keys],
        [k[3] for k in keys],
    )
    return [(from_record(SensorRow, r), r["building_timezone"]) for r in rows]


async def insert_missing(
    con: asyncpg.Connection, org: uuid.UUID, rows: Sequence[Mapping[str, Any]]
) -> int:
    """Insert the sensors whose deviceId the organization does not have yet (the simulator's
    provisioning, which may run again on kept data); how many were added."""
    added = 0
    for row in rows:
        columns = sorted(row)
        assert WRITABLE.issuperset(columns), columns
        placeholders = ", ".join(f"${i}" for i in range(2, len(columns) + 2))
        status = await con.execute(
            f"INSERT INTO sensors (organization_id, {', '.join(columns)}) "
            f"VALUES ($1, {placeholders}) ON CONFLICT (organization_id, device_id) DO NOTHING",
            org,
            *(row[c] for c in columns),
        )
        added += status == "INSERT 0 1"
    return added


def _filters(org: uuid.UUID, filters: Mapping[str, Any]) -> tuple[list[str], list[Any]]:
    where, args = ["organization_id = $1"], [org]
    for column in ("building_id", "type", "status", "connectivity"):
        value = filters.get(column)
        if value is not None:
            args.append(value)
            where.append(f"{column} = ${len(args)}")
    return where, args


async def count(con: asyncpg.Connection, org: uuid.UUID, **filters: Any) -> int:
    where, args = _filters(org, filters)
    total: int = await con.fetchval(
        f"SELECT count(*) FROM sensors WHERE {' AND '.join(where)}", *args
    )
    return total


async def list_page(
    con: asyncpg.Connection,
    org: uuid.UUID,
    *,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None = None,
    **filters: Any,
) -> list[SensorRow]:
    """Up to ``limit`` sensors in (created_at, id) order, strictly after the keyset ``after``."""
    where, args = _filters(org, filters)
    if after is not None:
        args.extend(after)
        where.append(f"(created_at, id) > (${len(args) - 1}, ${len(args)})")
    args.append(limit)
    return _all(
        await con.fetch(
            f"SELECT * FROM sensors WHERE {' AND '.join(where)} "
            f"ORDER BY created_at, id LIMIT ${len(args)}",
            *args,
        )
    )


async def insert_many(
    con: asyncpg.Connection, org: uuid.UUID, rows: Sequence[Mapping[str, Any]]
) -> list[SensorRow]:
    """Insert sensors in the caller's transaction, in order; all or nothing."""
    created = []
    for row in rows:
        columns = sorted(row)
        assert WRITABLE.issuperset(columns), columns
        placeholders = ", ".join(f"${i}" for i in range(2, len(columns) + 2))
        try:
            record = await con.fetchrow(
                f"INSERT INTO sensors (organization_id, {', '.join(columns)}) "
                f"VALUES ($1, {placeholders}) RETURNING *",
                org,
                *(row[c] for c in columns),
            )
            created.append(from_record(SensorRow, record))
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == "sensors_binding_key":
                raise DuplicateBinding(
                    str(row.get("external_id")), str(row.get("metric"))
                ) from None
            raise DuplicateDeviceId(row["device_id"]) from None
        except asyncpg.ForeignKeyViolationError:  # sensors_building_fk (migration 0009)
            raise BuildingNotOwned(row["building_id"]) from None
    return created


async def update(
    con: asyncpg.Connection, org: uuid.UUID, sensor_id: uuid.UUID, changes: Mapping[str, Any]
) -> SensorRow | None:
    """Apply ``changes``; None when the sensor does not exist in this organization."""
    if not changes:
        return await get(con, org, sensor_id)
    columns = sorted(changes)
    assert WRITABLE.issuperset(columns), columns
    sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(columns, start=3))
    if "status" in changes:  # (on the right of SET, ``status`` is the value before the update)
        k = columns.index("status") + 3
        sets += (
            f", status_changed_at = CASE WHEN status = ${k} THEN status_changed_at ELSE now() END"
            # A person's change: alerts no longer move it back (the same status resent is none).
            f", status_auto = CASE WHEN status = ${k} THEN status_auto ELSE false END"
            f", status_set_at = CASE WHEN status = ${k} THEN status_set_at ELSE now() END"
        )
    try:
        return _one(
            await con.fetchrow(
                f"UPDATE sensors SET {sets}, updated_at = now() "
                "WHERE organization_id = $1 AND id = $2 RETURNING *",
                org,
                sensor_id,
                *(changes[c] for c in columns),
            )
        )
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == "sensors_binding_key":
            raise DuplicateBinding(
                str(changes.get("external_id")), str(changes.get("metric"))
            ) from None
        raise DuplicateDeviceId(str(changes.get("device_id"))) from None
    except asyncpg.ForeignKeyViolationError:  # sensors_building_fk (migration 0009)
        raise BuildingNotOwned(changes["building_id"]) from None


async def merge_alert_rules(
    con: asyncpg.Connection, org: uuid.UUID, sensor_id: uuid.UUID, rules: Mapping[str, Any]
) -> SensorRow | None:
    """Merge ``rules`` into the stored rule configuration (a JSON null removes a key)."""
    return _one(
        await con.fetchrow(
            "UPDATE sensors SET alert_rules = jsonb_strip_nulls(alert_rules || $3::jsonb), "
            "updated_at = now() WHERE organization_id = $1 AND id = $2 RETURNING *",
            org,
            sensor_id,
            dict(rules),
        )
    )


async def delete(con: asyncpg.Connection, org: uuid.UUID, sensor_id: uuid.UUID) -> bool:
    status: str = await con.execute(
        "DELETE FROM sensors WHERE organization_id = $1 AND id = $2", org, sensor_id
    )
    return status == "DELETE 1"


async def meters_in_building(
    con: asyncpg.Connection, org: uuid.UUID, building_id: uuid.UUID, sensor_type: str
) -> list[SensorRow]:
    """The building's meters (cumulative sensors) of one type: what has a consumption."""
    return _all(
        await con.fetch(
            "SELECT * FROM sensors WHERE organization_id = $1 "
            "AND building_id = $2 AND type = $3 AND reading_kind = 'CUMULATIVE' ORDER BY id",
            org,
            building_id,
            sensor_type,
        )
    )


async def visible_ids(con: asyncpg.Connection, org: uuid.UUID) -> list[uuid.UUID]:
    """The ids of the organization's sensors this transaction may see (an owner's: those of
    their units and the common ones, by the database's policies)."""
    rows = await con.fetch("SELECT id FROM sensors WHERE organization_id = $1", org)
    return [r["id"] for r in rows]


async def follow_alerts(
    con: asyncpg.Connection, sensor_ids: Sequence[uuid.UUID]
) -> list[SensorRow]:
    """Bring each sensor's status and connectivity in line with its unresolved alerts and its
    readings (koprogo_sensor_follow, migration 0011); the rows that changed."""
    if not sensor_ids:
        return []
    return _all(
        await con.fetch(
            "SELECT f.* FROM unnest($1::uuid[]) AS u(id), LATERAL koprogo_sensor_follow(u.id) f",
            sorted(set(sensor_ids)),
        )
    )


async def follow_all(con: asyncpg.Connection) -> list[SensorRow]:
    """Every sensor brought in line (at start-up: nothing stays stale after a restart)."""
    return _all(await con.fetch("SELECT f.* FROM sensors s, LATERAL koprogo_sensor_follow(s.id) f"))


async def reclassify(con: asyncpg.Connection, sensor_id: uuid.UUID) -> None:
    """After a sensor's reading kind changed: its glitch baselines and hourly rollups again, by
    the consumption rule (a meter) or without it (a gauge)."""
    await con.execute(
        "UPDATE readings SET glitch_baseline = NULL WHERE sensor_id = $1 AND glitch_baseline IS NOT NULL",
        sensor_id,
    )
    await con.execute(
        "SELECT koprogo_classify(id, '-infinity', 'infinity') FROM sensors "
        "WHERE id = $1 AND reading_kind = 'CUMULATIVE'",
        sensor_id,
    )
    await con.execute(
        "SELECT koprogo_refresh_hours(array_agg(sensor_id), array_agg(hour)) FROM "
        "(SELECT DISTINCT sensor_id, date_trunc('hour', ts) AS hour FROM readings "
        " WHERE sensor_id = $1) h HAVING count(*) > 0",
        sensor_id,
    )


def _one(record: asyncpg.Record | None) -> SensorRow | None:
    return None if record is None else from_record(SensorRow, record)


def _all(records: Sequence[asyncpg.Record]) -> list[SensorRow]:
    return [from_record(SensorRow, r) for r in records]
