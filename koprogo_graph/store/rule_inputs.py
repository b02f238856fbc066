"""What the alert rules read: sensors with their open alerts, the consumption rule's steps of
new meter readings, recent history, and the watchdog's candidates (silent, stuck, leaking).

Every query works across organizations (the system pool) and keys by sensor id, which is
unique across them; joins to buildings hold the organization.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from ..domain.alerts import AlertType
from .rows import SensorRow, from_record

__all__ = [
    "Arming",
    "History",
    "LeakCandidate",
    "MeterStep",
    "SensorState",
    "StuckWindow",
    "exceeding_since",
    "histories",
    "hourly_consumption",
    "leak_candidates",
    "meter_steps",
    "sensor_states",
    "silent_sensors",
    "stuck_windows",
    "take_turns",
]


@dataclass(slots=True)
class Arming:
    """Its building's arming (for intrusion detection)."""

    armed: bool
    schedule: list[dict[str, Any]]  # as stored (domain/arming.py parses it)
    timezone: str


@dataclass(slots=True)
class SensorState:
    sensor: SensorRow
    open_types: frozenset[str]  # types of its unresolved alerts
    arming: Arming = field(default_factory=lambda: Arming(False, [], "UTC"))


@dataclass(slots=True)
class MeterStep:
    """A new meter reading as the consumption rule classified it when it was stored."""

    previous_ts: datetime | None  # the reading stored just before it
    baseline: float | None  # the index it is compared with (the previous, or a glitch's)
    glitch: bool  # a little below the baseline: no consumption, a fault
    used: float | None  # consumption since the previous reading


@dataclass(slots=True)
class History:
    """A sensor's readings before a batch, oldest first."""

    values: list[float]
    qualities: list[str]


@dataclass(slots=True)
class StuckWindow:
    sensor: SensorRow
    values: list[float]  # its readings over its stuck window, oldest first
    first_ts: datetime | None


@dataclass(slots=True)
class LeakCandidate:
    sensor: SensorRow
    leak_open: bool  # it has an unresolved LEAK_DETECTED alert
    timezone: str  # its building's (for the night window)


# Evaluations of one sensor take turns (the live engine, another replica's watchdog): each sees
# the alerts the previous one committed. Advisory locks, so that ingestion is never held; sensors
# share 1,024 of them, so a batch of any size takes at most that many.
_TAKE_TURNS = """
SELECT pg_advisory_xact_lock(20261202, k) FROM (
    SELECT DISTINCT (hashtextextended(id::text, 0) & 1023)::int AS k
    FROM unnest($1::uuid[]) AS id ORDER BY 1
) ordered
"""


async def take_turns(con: asyncpg.Connection, sensor_ids: Sequence[uuid.UUID]) -> None:
    """Wait for this transaction's turn to evaluate these sensors (held until it ends)."""
    await con.execute(_TAKE_TURNS, list(sensor_ids))


_STATES = """
SELECT s.*, bd.armed, bd.arm_schedule, bd.timezone,
       coalesce(array_agg(a.type) FILTER (WHERE a.id IS NOT NULL), '{}') AS open_types
FROM unnest($1::uuid[]) AS b(sensor_id)
JOIN sensors s ON s.id = b.sensor_id
JOIN buildings bd ON bd.organization_id = s.organization_id AND bd.id = s.building_id
LEFT JOIN alerts a ON a.sensor_id = s.id AND a.status <> 'RESOLVED'
GROUP BY s.id, bd.armed, bd.arm_schedule, bd.timezone
"""


async def sensor_states(
    con: asyncpg.Connection, sensor_ids: Sequence[uuid.UUID]
) -> list[SensorState]:
    """These sensors (those that still exist) with the types of their unresolved alerts."""
    return [
        SensorState(
            from_record(SensorRow, r),
            frozenset(r["open_types"]),
            Arming(r["armed"], r["arm_schedule"], r["timezone"]),
        )
        for r in await con.fetch(_STATES, list(sensor_ids))
    ]


# What the consumption rule made of each new meter reading, as stored (migration 0010): against
# the reading stored just before it, whether it came in order or late among older ones. One
# range scan per sensor (the span of its new readings and the one before), not one per reading.
_METER_STEPS = """
WITH span AS (
    SELECT sensor_id, min(ts) AS lo, max(ts) AS hi
    FROM unnest($1::uuid[], $2::timestamptz[]) AS k(sensor_id, ts) GROUP BY sensor_id
)
SELECT span.sensor_id, s.ts, s.previous_ts, s.baseline, s.glitch,
       koprogo_consumption(s.baseline, s.value) AS used
FROM span CROSS JOIN LATERAL (
    SELECT x.ts, x.value, x.glitch_baseline IS NOT NULL AS glitch,
           lag(x.ts) OVER w AS previous_ts,
           lag(coalesce(x.glitch_baseline, x.value)) OVER w AS baseline
    FROM ((SELECT ts, value, glitch_baseline FROM readings
           WHERE sensor_id = span.sensor_id AND ts < span.lo ORDER BY ts DESC LIMIT 1)
          UNION ALL
          (SELECT ts, value, glitch_baseline FROM readings
           WHERE sensor_id = span.sensor_id AND ts >= span.lo AND ts <= span.hi)) x
    WINDOW w AS (ORDER BY x.ts)
) s
WHERE s.ts >= span.lo
"""


async def meter_steps(
    con: asyncpg.Connection, keys: Sequence[tuple[uuid.UUID, datetime]]
) -> dict[tuple[uuid.UUID, datetime], MeterStep]:
    """The stored step of each (meter, ts) named (a reading deleted meanwhile is absent)."""
    if not keys:
        return {}
    rows = await con.fetch(_METER_STEPS, [k[0] for k in keys], [k[1] for k in keys])
    # Unpacked by position (the query's column order): one step per new meter reading.
    return {
        (sensor_id, ts): MeterStep(previous_ts, baseline, glitch, used)
        for sensor_id, ts, previous_ts, baseline, glitch, used in rows
    }


_HISTORY = """
SELECT b.sensor_id, coalesce(h.vals, '{}') AS vals, coalesce(h.quals, '{}') AS quals
FROM unnest($1::uuid[], $2::timestamptz[]) AS b(sensor_id, first_ts)
CROSS JOIN LATERAL (
    SELECT array_agg(value ORDER BY ts) AS vals, array_agg(quality ORDER BY ts) AS quals
    FROM (SELECT ts, value, quality FROM readings WHERE sensor_id = b.sensor_id AND ts < b.first_ts
          ORDER BY ts DESC LIMIT $3) recent
) h
"""


async def histories(
    con: asyncpg.Connection, before: Mapping[uuid.UUID, datetime], depth: int
) -> dict[uuid.UUID, History]:
    """Each sensor's last ``depth`` readings before its instant in ``before``."""
    if not before:
        return {}
    rows = await con.fetch(_HISTORY, list(before), list(before.values()), depth)
    return {r["sensor_id"]: History(list(r["vals"]), list(r["quals"])) for r in rows}


# Start of the current run of readings beyond the thresholds: the first reading after the last
# one that was within them (for the pending duration of threshold rules). For a meter, its
# flows (consumption rule, per hour between consecutive readings) over the last week.
_EXCEEDING_SINCE_FLOW = """
WITH flows AS (
    SELECT ts, koprogo_consumption(lag(coalesce(glitch_baseline, value)) OVER w, value)
               / nullif(extract(epoch FROM ts - lag(ts) OVER w) / 3600, 0) AS value
    FROM readings WHERE sensor_id = $1 AND ts <= $2 AND ts > $2 - interval '7 days'
    WINDOW w AS (ORDER BY ts)
)
SELECT min(ts) FROM flows
WHERE ts > coalesce((SELECT max(ts) FROM flows WHERE value IS NOT NULL
                     AND value <= coalesce($4::float8, 'Infinity') AND value >= coalesce($3::float8, '-Infinity')),
                    '-Infinity'::timestamptz)
"""
_EXCEEDING_SINCE = """
SELECT min(ts) FROM readings
WHERE sensor_id = $1 AND ts <= $2
  AND ts > coalesce((SELECT max(ts) FROM readings WHERE sensor_id = $1 AND ts <= $2
                     AND value <= coalesce($4::float8, 'Infinity') AND value >= coalesce($3::float8, '-Infinity')),
                    '-Infinity'::timestamptz)
"""


async def exceeding_since(
    con: asyncpg.Connection,
    sensor_id: uuid.UUID,
    at: datetime,
    low: float | None,
    high: float | None,
    *,
    flow: bool,
) -> datetime | None:
    """Since when the sensor's values (``flow``: a meter's flows) have been beyond
    [``low``, ``high``] up to ``at``."""
    since: datetime | None = await con.fetchval(
        _EXCEEDING_SINCE_FLOW if flow else _EXCEEDING_SINCE, sensor_id, at, low, high
    )
    return since


# Sensors that run (ACTIVE or FAULTY): MAINTENANCE and INACTIVE ones raise nothing on the clock.
_RUNNING = "s.status IN ('ACTIVE', 'FAULTY')"

_SILENT_SENSORS = f"""
SELECT s.* FROM sensors s
WHERE {_RUNNING} AND s.last_reading_at IS NOT NULL
  AND s.last_reading_at < now() - make_interval(secs =>
        coalesce((s.alert_rules->>'offline_after_seconds')::int, 3 * s.sampling_interval))
  AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.sensor_id = s.id AND a.type = $1
                  AND a.status <> 'RESOLVED')
ORDER BY s.id
FOR UPDATE OF s SKIP LOCKED
LIMIT $2
"""


async def silent_sensors(con: asyncpg.Connection, limit: int = 500) -> list[SensorRow]:
    """Running sensors silent beyond their offline delay, not yet alerted; locked so that one
    replica acts on each."""
    rows = await con.fetch(_SILENT_SENSORS, AlertType.SENSOR_OFFLINE.value, limit)
    return [from_record(SensorRow, r) for r in rows]


_STUCK_WINDOWS = f"""
SELECT s.*, w.vals, w.first_ts
FROM sensors s
CROSS JOIN LATERAL (
    SELECT array_agg(r.value ORDER BY r.ts) AS vals, min(r.ts) AS first_ts FROM readings r
    WHERE r.sensor_id = s.id
      AND r.ts >= now() - make_interval(secs => (s.alert_rules->>'stuck_after_seconds')::int)
) w
WHERE {_RUNNING} AND s.alert_rules ? 'stuck_after_seconds'
  AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.sensor_id = s.id AND a.type = $1
                  AND a.status <> 'RESOLVED')
ORDER BY s.id FOR UPDATE OF s SKIP LOCKED LIMIT $2
"""


async def stuck_windows(con: asyncpg.Connection, limit: int = 500) -> list[StuckWindow]:
    """Running sensors with a stuck-value rule and no open fault, with their readings over
    the rule's window; locked so that one replica acts on each."""
    rows = await con.fetch(_STUCK_WINDOWS, AlertType.SENSOR_FAULTY.value, limit)
    return [
        StuckWindow(from_record(SensorRow, r), list(r["vals"] or []), r["first_ts"]) for r in rows
    ]


# Hourly consumption of the meters watched for leaks over the last 28 h (24 h and the last
# night), by the consumption rule (koprogo_consumption, migration 0010). Hours without readings
# are absent. $1: the types that watch for leaks unless a sensor's own settings say otherwise.
_HOURLY_CONSUMPTION = f"""
WITH candidates AS (
    SELECT s.id FROM sensors s
    WHERE {_RUNNING} AND s.reading_kind = 'CUMULATIVE'
      AND coalesce((s.alert_rules->>'leak_detection')::boolean, s.type = ANY($1::text[]))
      AND s.last_reading_at > now() - interval '1 hour'
    ORDER BY s.id FOR UPDATE OF s SKIP LOCKED LIMIT $2
), pairs AS (
    SELECT r.sensor_id, r.ts,
           koprogo_consumption(lag(coalesce(r.glitch_baseline, r.value)) OVER w, r.value) AS used
    FROM readings r JOIN candidates c ON c.id = r.sensor_id
    WHERE r.ts >= date_trunc('hour', now()) - interval '29 hours'
    WINDOW w AS (PARTITION BY r.sensor_id ORDER BY r.ts)
)
SELECT sensor_id, date_trunc('hour', ts) AS hour, sum(used) AS consumption
FROM pairs WHERE used IS NOT NULL AND ts >= date_trunc('hour', now()) - interval '28 hours'
  AND ts < date_trunc('hour', now())
GROUP BY sensor_id, hour
"""


async def hourly_consumption(
    con: asyncpg.Connection, leak_types: Sequence[str], limit: int = 1000
) -> dict[uuid.UUID, dict[datetime, float]]:
    """Per meter watched for leaks (recently heard from, running), its consumption in each
    complete hour of the last 28 that had readings; the meters are locked until commit."""
    by_sensor: dict[uuid.UUID, dict[datetime, float]] = {}
    for r in await con.fetch(_HOURLY_CONSUMPTION, list(leak_types), limit):
        by_sensor.setdefault(r["sensor_id"], {})[r["hour"]] = r["consumption"]
    return by_sensor


async def leak_candidates(
    con: asyncpg.Connection, sensor_ids: Sequence[uuid.UUID]
) -> list[LeakCandidate]:
    """These sensors, whether a leak alert of theirs is open, and their building's time zone."""
    rows = await con.fetch(
        """SELECT s.*, b.timezone,
                  EXISTS (SELECT 1 FROM alerts a WHERE a.sensor_id = s.id AND a.type = $2
                          AND a.status <> 'RESOLVED') AS leak_open
           FROM sensors s
           JOIN buildings b ON b.organization_id = s.organization_id AND b.id = s.building_id
           WHERE s.id = ANY($1::uuid[])""",
        list(sensor_ids),
        AlertType.LEAK_DETECTED.value,
    )
    return [LeakCandidate(from_record(SensorRow, r), r["leak_open"], r["timezone"]) for r in rows]
