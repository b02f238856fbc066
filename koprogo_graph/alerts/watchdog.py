"""Rules on time: sensors gone silent, values stuck, water that never stops, reminders for
critical alerts, and batches a crashed process left unevaluated.

Several replicas may run the watchdog: rows are claimed with ``FOR UPDATE SKIP LOCKED`` and the
partial unique index allows one unresolved alert per (sensor, type), so exactly one replica acts
for each sensor and no alert is raised twice.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import asyncpg
from prometheus_client import Gauge

from ..config import Settings
from ..domain.alert_rules import Clear, Raise
from ..domain.sensors import types_defaulting
from ..realtime.publish import publish_alerts, publish_sensors
from ..store import notifications, rule_inputs
from ..store import sensors as sensors_store
from ..store.db import Database, is_transient
from ..store.rows import AlertRow, SensorRow
from .actions import apply_verdict, follow
from .engine import AlertEngine
from .judge import leak_verdict, offline_verdict, stuck_verdict

__all__ = ["DATABASE_UP", "EVALUATIONS_PENDING", "NOTIFICATIONS_DUE", "Watchdog"]

DATABASE_UP = Gauge("koprogo_database_up", "1 when the watchdog's last round reached the database")
NOTIFICATIONS_DUE = Gauge(
    "koprogo_notifications_due", "Notification deliveries due and not sent (the outbox backlog)"
)
EVALUATIONS_PENDING = Gauge(
    "koprogo_alert_evaluations_pending",
    "Stored batches of readings the alert engine has yet to evaluate",
)

log = logging.getLogger(__name__)


class Watchdog:
    def __init__(
        self, db: Database, broadcast: Any, settings: Settings, engine: AlertEngine | None
    ) -> None:
        self.db = db
        self.broadcast = broadcast
        self.every = settings.offline_check_seconds
        self.leak_every = settings.leak_check_seconds
        self.reminder_after = settings.reminder_seconds
        self.engine = engine  # evaluates batches a crashed process left behind
        self.evaluation_grace = settings.evaluation_grace_seconds

    async def run(self) -> None:
        last_leak_check = 0.0
        loop = asyncio.get_running_loop()
        reconciled = False
        while True:
            await self._evaluate_left_over()
            try:
                if not reconciled:
                    await self.reconcile()
                    reconciled = True
                await self.check_offline()
                await self.check_stuck()
                await self.send_reminders()
                if loop.time() - last_leak_check >= self.leak_every:
                    await self.check_leaks()
                    last_leak_check = loop.time()
                await self.measure()
            except Exception as exc:
                DATABASE_UP.set(0)
                if not is_transient(exc):
                    raise
                log.warning(
                    "watchdog: database unavailable (%s); next round in %.0fs", exc, self.every
                )
            await asyncio.sleep(self.every)

    async def measure(self) -> None:
        """The backlogs operators watch (deploy/prometheus/alerts.yml), once a round."""
        async with self.db.system() as con:
            due, pending = await notifications.backlog(con)
        NOTIFICATIONS_DUE.set(due)
        EVALUATIONS_PENDING.set(pending)
        DATABASE_UP.set(1)

    async def reconcile(self) -> int:
        """Every sensor's status and connectivity brought in line with its alerts (at start-up,
        so that nothing changed while no replica ran stays stale)."""
        async with self.db.system() as con:
            moved = await sensors_store.follow_all(con)
        await publish_sensors(self.broadcast, moved)
        return len(moved)

    async def _evaluate_left_over(self) -> None:
        """Batches no live engine took within the grace: a crashed process's. On its own, so
        that a batch that cannot be evaluated never stops the watchdog's other rounds."""
        if self.engine is None:
            return
        try:
            await self.engine.evaluate_left_over(self.evaluation_grace)
        except Exception:
            log.exception("watchdog: evaluating batches left behind failed; next round retries")

    async def check_offline(self) -> int:
        now = datetime.now(UTC)
        async with self.db.system() as con:
            sensors = await rule_inputs.silent_sensors(con)
            changed, moved = await _apply(con, [(s, offline_verdict(s, now)) for s in sensors], now)
        return await self._publish(changed, moved)

    async def check_stuck(self) -> int:
        now = datetime.now(UTC)
        async with self.db.system() as con:
            windows = await rule_inputs.stuck_windows(con)
            judged = [(w.sensor, stuck_verdict(w, now)) for w in windows]
            changed, moved = await _apply(con, judged, now)
        return await self._publish(changed, moved)

    async def check_leaks(self) -> int:
        now = datetime.now(UTC)
        async with self.db.system() as con:
            hourly = await rule_inputs.hourly_consumption(
                con, types_defaulting("leak_detection", True)
            )
            candidates = await rule_inputs.leak_candidates(con, list(hourly)) if hourly else []
            judged = [(c.sensor, leak_verdict(c, hourly[c.sensor.id], now)) for c in candidates]
            changed, moved = await _apply(con, judged, now)
        return await self._publish(changed, moved)

    async def send_reminders(self) -> int:
        async with self.db.system() as con:
            due = await notifications.due_reminders(con, self.reminder_after)
            for alert in due:
                await notifications.enqueue(con, alert, kind="reminder")
        return len(due)

    async def _publish(self, changed: list[AlertRow], moved: list[SensorRow]) -> int:
        """After commit: live events of what changed; how many alerts changed."""
        await publish_alerts(self.broadcast, changed)
        await publish_sensors(self.broadcast, moved)
        return len(changed)


async def _apply(
    con: asyncpg.Connection, judged: list[tuple[SensorRow, Raise | Clear | None]], now: datetime
) -> tuple[list[AlertRow], list[SensorRow]]:
    """Apply verdicts in the caller's transaction: (changed alerts, sensors that moved)."""
    changed: list[AlertRow] = []
    for sensor, verdict in judged:
        if verdict is not None and (row := await apply_verdict(con, sensor, verdict, now)):
            changed.append(row)
    return changed, await follow(con, changed)
