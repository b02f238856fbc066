"""Rules on newly stored readings (a listener of the ingest pipeline)."""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from ..domain.alert_rules import (
    AlertRules,
    Clear,
    Raise,
    battery_rule,
    flow_per_hour,
    glitch_rule,
    pending_elapsed,
    poor_run_rule,
    robust_anomaly,
    threshold_rule,
)
from ..domain.alerts import AlertType
from ..domain.consumption import Step
from ..domain.readings import StoredReading
from ..domain.sensors import resolution_of
from ..store import evaluations as evaluations_store
from ..store.db import Database
from .actions import apply_verdict, follow, publish_alert_changes, publish_sensor_changes

__all__ = ["AlertEngine"]

log = logging.getLogger(__name__)

# Sensors in maintenance or switched off raise nothing.
_SILENT = ("MAINTENANCE", "INACTIVE")

_CONTEXT = """
SELECT s.*,
       coalesce(array_agg(a.type) FILTER (WHERE a.id IS NOT NULL), '{}') AS open_types
FROM unnest($1::uuid[]) AS b(sensor_id)
JOIN sensors s ON s.id = b.sensor_id
LEFT JOIN alerts a ON a.sensor_id = s.id AND a.status <> 'RESOLVED'
GROUP BY s.id
"""

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

# Evaluations of one sensor take turns (the live engine, another replica's watchdog): each sees
# the alerts the previous one committed. Advisory locks, so that ingestion is never held; sensors
# share 1,024 of them, so a batch of any size takes at most that many.
_TAKE_TURNS = """
SELECT pg_advisory_xact_lock(20261202, k) FROM (
    SELECT DISTINCT (hashtextextended(id::text, 0) & 1023)::int AS k
    FROM unnest($1::uuid[]) AS id ORDER BY 1
) ordered
"""


# Recent history, fetched only for the sensors whose rules need it (anomaly detection on, or a
# POOR reading in the batch), so the common path costs one query per batch.
_HISTORY = """
SELECT b.sensor_id, coalesce(h.vals, '{}') AS vals, coalesce(h.quals, '{}') AS quals
FROM unnest($1::uuid[], $2::timestamptz[]) AS b(sensor_id, first_ts)
CROSS JOIN LATERAL (
    SELECT array_agg(value ORDER BY ts) AS vals, array_agg(quality ORDER BY ts) AS quals
    FROM (SELECT ts, value, quality FROM readings WHERE sensor_id = b.sensor_id AND ts < b.first_ts
          ORDER BY ts DESC LIMIT $3) recent
) h
"""
HISTORY_DEPTH = 200


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


class AlertEngine:
    def __init__(self, db: Database, broadcast: Any) -> None:
        self.db = db
        self.broadcast = broadcast

    async def on_readings(self, readings: list[StoredReading]) -> None:
        """Evaluate a committed batch, taking its pending evaluation in the same transaction
        (a batch some other replica's watchdog took over meanwhile is left to it)."""
        pending = {r.evaluation_id for r in readings if r.evaluation_id is not None}
        async with self.db.system() as con:
            if pending:
                mine = await evaluations_store.claim(con, sorted(pending))
                readings = [
                    r for r in readings if r.evaluation_id is None or r.evaluation_id in mine
                ]
            changed, moved = await self._evaluate_batch(con, readings)
        await publish_alert_changes(self.broadcast, changed)
        await publish_sensor_changes(self.broadcast, moved)

    async def evaluate_left_over(self, older_than_seconds: float, most: int = 50) -> int:
        """Evaluate the batches a process stored but did not live to evaluate (it crashed
        between the two commits): those older than a live engine ever leaves one (its queue
        holds 100 batches, seconds at most), one transaction each; how many were evaluated."""
        evaluated = 0
        for _ in range(most):
            async with self.db.system() as con:
                batches = await evaluations_store.claim_left_over(con, older_than_seconds, 1)
                if not batches:
                    break
                (batch,) = batches
                readings = [
                    _stored(r)
                    for r in await evaluations_store.readings_of(
                        con, batch["sensor_ids"], batch["timestamps"]
                    )
                ]
                changed, moved = await self._evaluate_batch(con, readings)
            evaluated += 1
            await publish_alert_changes(self.broadcast, changed)
            await publish_sensor_changes(self.broadcast, moved)
        if evaluated:
            log.warning("evaluated %d batch(es) of readings left behind by a crash", evaluated)
        return evaluated

    async def _evaluate_batch(
        self, con: Any, readings: list[StoredReading]
    ) -> tuple[list[Any], list[Any]]:
        """Threshold, battery and meter rules on readings, in device-time order, in the
        caller's transaction: (changed alerts, sensors whose status or connectivity moved)."""
        by_sensor: dict[Any, list[StoredReading]] = defaultdict(list)
        for r in sorted(readings, key=lambda r: r.ts):
            by_sensor[r.sensor_id].append(r)
        if not by_sensor:
            return [], []
        changed = []
        await con.execute(_TAKE_TURNS, list(by_sensor))
        sensors = await con.fetch(_CONTEXT, list(by_sensor))
        history = await self._history(con, sensors, by_sensor)
        meters = [r for r in readings if r.reading_kind == "CUMULATIVE"]
        steps = (
            {
                (row["sensor_id"], row["ts"]): row
                for row in await con.fetch(
                    _METER_STEPS, [r.sensor_id for r in meters], [r.ts for r in meters]
                )
            }
            if meters
            else {}
        )
        for sensor in sensors:
            changed += await self._evaluate(
                con, sensor, by_sensor[sensor["id"]], history.get(sensor["id"]), steps
            )
        # A first reading brings a sensor ONLINE; alerts move status and connectivity.
        first_seen = [s["id"] for s in sensors if s["connectivity"] == "NEVER_SEEN"]
        moved = await follow(con, changed, first_seen)
        return changed, moved

    async def _history(self, con: Any, sensors: list, by_sensor: dict) -> dict:
        wanted = [
            s["id"]
            for s in sensors
            if AlertRules.for_sensor(s["type"], s["alert_rules"]).anomaly_detection
            or any(r.quality == "POOR" for r in by_sensor[s["id"]])
        ]
        if not wanted:
            return {}
        rows = await con.fetch(
            _HISTORY, wanted, [by_sensor[i][0].ts for i in wanted], HISTORY_DEPTH
        )
        return {r["sensor_id"]: (list(r["vals"]), list(r["quals"])) for r in rows}

    async def _evaluate(
        self,
        con: Any,
        sensor: Any,
        readings: list[StoredReading],
        history: tuple | None,
        steps: dict[tuple[Any, Any], Any],
    ) -> list[Any]:
        rules = AlertRules.for_sensor(sensor["type"], sensor["alert_rules"])
        values, qualities = history or ([], [])
        open_types = set(sensor["open_types"])
        changed = []
        meter = sensor["reading_kind"] == "CUMULATIVE"
        unit = sensor["unit_of_measure"]
        decimals = resolution_of(unit, sensor["resolution"])
        verdicts = []
        if AlertType.SENSOR_OFFLINE.value in open_types:  # a reading arrived: back online
            verdicts.append((Clear(AlertType.SENSOR_OFFLINE), readings[0]))
        silent = sensor["status"] in _SILENT  # in maintenance or off: nothing more is raised
        for r in readings:
            if silent:
                break
            if meter:  # the consumption rule, as stored: a glitch is a fault, the flow is tested
                stored = steps.get((r.sensor_id, r.ts))
                if stored is None:  # deleted meanwhile
                    continue
                flow = flow_per_hour(stored["used"], stored["previous_ts"], r.ts)
                threshold = (
                    None
                    if flow is None
                    else threshold_rule(
                        flow,
                        rules,
                        is_open=AlertType.THRESHOLD_EXCEEDED.value in open_types,
                        quantity="flow",
                        unit=f"{unit}/h",
                        decimals=decimals,
                    )
                )
                kind = Step.GLITCH if stored["glitch"] else Step.INCREASE
                faulty = glitch_rule(kind, stored["baseline"], r.value, unit)
            else:
                threshold = threshold_rule(
                    r.value,
                    rules,
                    is_open=AlertType.THRESHOLD_EXCEEDED.value in open_types,
                    unit=unit,
                    decimals=decimals,
                )
                faulty = None
            if rules.enabled:
                verdicts.append((threshold, r))
                verdicts.append((battery_rule(r.battery_level, rules), r))
                verdicts.append((faulty, r))
                if history is not None:
                    verdicts.append((robust_anomaly(values[-HISTORY_DEPTH:], r.value, rules), r))
                    qualities.append(r.quality)
                    verdicts.append((poor_run_rule(qualities, rules), r))
                    values.append(r.value)
        for verdict, reading in verdicts:
            if verdict is None:
                continue
            is_open = verdict.type.value in open_types
            if isinstance(verdict, Clear) and not is_open:
                continue
            if (
                isinstance(verdict, Raise)
                and verdict.type is AlertType.THRESHOLD_EXCEEDED
                and not is_open
                and rules.pending_seconds > 0
            ):
                since = await con.fetchval(
                    _EXCEEDING_SINCE_FLOW if meter else _EXCEEDING_SINCE,
                    sensor["id"],
                    reading.ts,
                    rules.threshold_min,
                    rules.threshold_max,
                )
                if not pending_elapsed(since, reading.ts, rules):
                    continue
            row = await apply_verdict(con, sensor, verdict, reading.ts)
            if row is not None:
                changed.append(row)
                if row["status"] == "RESOLVED":
                    open_types.discard(verdict.type.value)
                else:
                    open_types.add(verdict.type.value)
        return changed


def _stored(row: Any) -> StoredReading:
    """A stored reading as the ingestor handed it on, read back from the database."""
    return StoredReading(
        sensor_id=row["sensor_id"],
        organization_id=row["organization_id"],
        building_id=row["building_id"],
        unit_id=row["unit_id"],
        device_id=row["device_id"],
        sensor_type=row["sensor_type"],
        reading_kind=row["reading_kind"],
        ts=row["ts"],
        value=row["value"],
        raw_value=row["raw_value"],
        unit_of_measure=row["unit_of_measure"],
        battery_level=row["battery_level"],
        signal_strength=row["signal_strength"],
        quality=row["quality"],
        is_anomaly=row["is_anomaly"],
        anomaly_reason=row["anomaly_reason"],
        received_at=row["received_at"],
        resolution=resolution_of(row["unit_of_measure"], row["resolution"]),
    )
