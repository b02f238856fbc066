"""Rules on newly stored readings (a listener of the ingest pipeline): reads the rules' inputs,
asks ``judge`` for verdicts, applies them in the same transaction, then tells live subscribers."""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from typing import Any

import asyncpg

from ..domain.alert_rules import HISTORY_DEPTH, AlertRules, pending_elapsed
from ..domain.readings import StoredReading
from ..domain.sensors import ReadingKind
from ..realtime.publish import publish_alerts, publish_sensors
from ..store import evaluations as evaluations_store
from ..store import rule_inputs
from ..store.db import Database
from ..store.rows import AlertRow, SensorRow
from ..store.rule_inputs import SensorState
from .actions import apply_verdict, follow
from .judge import (
    Judged,
    awaits_pending,
    changes_something,
    judge_readings,
    rules_of,
    wants_history,
)

__all__ = ["AlertEngine"]

log = logging.getLogger(__name__)


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
        await publish_alerts(self.broadcast, changed)
        await publish_sensors(self.broadcast, moved)

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
                readings = await evaluations_store.readings_of(
                    con, batch.sensor_ids, batch.timestamps
                )
                changed, moved = await self._evaluate_batch(con, readings)
            evaluated += 1
            await publish_alerts(self.broadcast, changed)
            await publish_sensors(self.broadcast, moved)
        if evaluated:
            log.warning("evaluated %d batch(es) of readings left behind by a crash", evaluated)
        return evaluated

    async def _evaluate_batch(
        self, con: asyncpg.Connection, readings: list[StoredReading]
    ) -> tuple[list[AlertRow], list[SensorRow]]:
        """The rules on readings, in device-time order, in the caller's transaction:
        (changed alerts, sensors whose status or connectivity moved)."""
        by_sensor: dict[uuid.UUID, list[StoredReading]] = defaultdict(list)
        for r in sorted(readings, key=lambda r: r.ts):
            by_sensor[r.sensor_id].append(r)
        if not by_sensor:
            return [], []
        await rule_inputs.take_turns(con, list(by_sensor))
        states = await rule_inputs.sensor_states(con, list(by_sensor))
        rules = {s.sensor.id: rules_of(s.sensor) for s in states}  # once per sensor and batch
        histories = await rule_inputs.histories(
            con,
            {
                s.sensor.id: by_sensor[s.sensor.id][0].ts
                for s in states
                if wants_history(rules[s.sensor.id], by_sensor[s.sensor.id])
            },
            HISTORY_DEPTH,
        )
        steps = await rule_inputs.meter_steps(
            con,
            [(r.sensor_id, r.ts) for r in readings if r.reading_kind == ReadingKind.CUMULATIVE],
        )
        changed: list[AlertRow] = []
        for state in states:
            sensor_rules = rules[state.sensor.id]
            judged = judge_readings(
                state,
                by_sensor[state.sensor.id],
                steps,
                histories.get(state.sensor.id),
                sensor_rules,
            )
            if judged:
                changed += await self._apply(con, state, sensor_rules, judged)
        # A first reading brings a sensor ONLINE; alerts move status and connectivity.
        first_seen = [s.sensor.id for s in states if s.sensor.connectivity == "NEVER_SEEN"]
        moved = await follow(con, changed, first_seen)
        return changed, moved

    async def _apply(
        self,
        con: asyncpg.Connection,
        state: SensorState,
        rules: AlertRules,
        judged: list[Judged],
    ) -> list[AlertRow]:
        """Apply verdicts in order, each seeing what the ones before it opened or closed."""
        sensor = state.sensor
        open_types = set(state.open_types)
        changed = []
        for j in judged:
            if not changes_something(j.verdict, open_types):
                continue
            if awaits_pending(j.verdict, open_types, rules):
                since = await rule_inputs.exceeding_since(
                    con,
                    sensor.id,
                    j.reading.ts,
                    rules.threshold_min,
                    rules.threshold_max,
                    flow=sensor.reading_kind == ReadingKind.CUMULATIVE,
                )
                if not pending_elapsed(since, j.reading.ts, rules):
                    continue
            row = await apply_verdict(con, sensor, j.verdict, j.reading.ts)
            if row is not None:
                changed.append(row)
                if row.status == "RESOLVED":
                    open_types.discard(j.verdict.type.value)
                else:
                    open_types.add(j.verdict.type.value)
        return changed
