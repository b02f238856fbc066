"""Rules on time: sensors gone silent, water that never stops, reminders for critical alerts.

Several replicas may run the watchdog: rows are claimed with ``FOR UPDATE SKIP LOCKED`` and the
partial unique index allows one unresolved alert per (sensor, type), so exactly one replica acts
for each sensor and no alert is raised twice.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ..domain.alert_rules import (
    AlertRules,
    Clear,
    Raise,
    leak_rule,
    night_leak_rule,
    offline_rule,
    stuck_rule,
)
from ..domain.sensors import resolution_of
from ..store import notifications
from ..store import sensors as sensors_store
from ..store.db import Database, is_transient
from .actions import apply_verdict, follow, publish_alert_changes, publish_sensor_changes

__all__ = ["Watchdog"]

log = logging.getLogger(__name__)

_SILENT_SENSORS = """
SELECT s.* FROM sensors s
WHERE s.status IN ('ACTIVE', 'FAULTY') AND s.last_reading_at IS NOT NULL
  AND s.last_reading_at < now() - make_interval(secs =>
        coalesce((s.alert_rules->>'offline_after_seconds')::int, 3 * s.sampling_interval))
  AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.sensor_id = s.id AND a.type = 'SENSOR_OFFLINE'
                  AND a.status <> 'RESOLVED')
ORDER BY s.id
FOR UPDATE OF s SKIP LOCKED
LIMIT 500
"""

# Hourly consumption of water meters over the last 28 h (24 h and the last night), by the
# consumption rule (koprogo_consumption, migration 0010). Hours without readings are absent.
_HOURLY_WATER = """
WITH candidates AS (
    SELECT s.id FROM sensors s
    WHERE s.status IN ('ACTIVE', 'FAULTY') AND s.type IN ('COLD_WATER', 'HOT_WATER') AND s.reading_kind = 'CUMULATIVE'
      AND coalesce((s.alert_rules->>'leak_detection')::boolean, true)
      AND s.last_reading_at > now() - interval '1 hour'
    ORDER BY s.id FOR UPDATE OF s SKIP LOCKED LIMIT 1000
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

# Sensors with a stuck-value rule: their readings over the configured window.
_STUCK_CANDIDATES = """
SELECT s.*, w.vals, w.first_ts
FROM sensors s
CROSS JOIN LATERAL (
    SELECT array_agg(r.value ORDER BY r.ts) AS vals, min(r.ts) AS first_ts FROM readings r
    WHERE r.sensor_id = s.id
      AND r.ts >= now() - make_interval(secs => (s.alert_rules->>'stuck_after_seconds')::int)
) w
WHERE s.status IN ('ACTIVE', 'FAULTY') AND s.alert_rules ? 'stuck_after_seconds'
  AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.sensor_id = s.id AND a.type = 'SENSOR_FAULTY'
                  AND a.status <> 'RESOLVED')
ORDER BY s.id FOR UPDATE OF s SKIP LOCKED LIMIT 500
"""

_REMINDERS = """
SELECT a.* FROM alerts a
WHERE a.status = 'OPEN' AND a.severity = 'CRITICAL'
  AND coalesce(a.last_notified_at, a.triggered_at) < now() - make_interval(secs => $1)
ORDER BY a.id FOR UPDATE OF a SKIP LOCKED LIMIT 200
"""


def last_night(now: datetime, tz: ZoneInfo) -> list[datetime]:
    """The UTC starts of the 02:00, 03:00 and 04:00 local hours of the last night that ended."""
    local = now.astimezone(tz)
    day = local.date() if local.hour >= 5 else local.date() - timedelta(days=1)
    return [datetime(day.year, day.month, day.day, h, tzinfo=tz).astimezone(UTC) for h in (2, 3, 4)]


class Watchdog:
    def __init__(
        self,
        db: Database,
        broadcast: Any,
        *,
        every: float = 30.0,
        leak_every: float = 600.0,
        reminder_after: float = 3600.0,
        engine: Any = None,
        evaluation_grace: float = 60.0,
        timezone: str = "Europe/Brussels",
    ) -> None:
        self.timezone = ZoneInfo(timezone)
        self.db = db
        self.broadcast = broadcast
        self.every = every
        self.leak_every = leak_every
        self.reminder_after = reminder_after
        self.engine = engine  # evaluates batches a crashed process left behind
        self.evaluation_grace = evaluation_grace

    async def _publish(self, alerts: list[Any], sensors: list[Any]) -> None:
        await publish_alert_changes(self.broadcast, [a for a in alerts if a is not None])
        await publish_sensor_changes(self.broadcast, sensors)

    async def reconcile(self) -> int:
        """Every sensor's status and connectivity brought in line with its alerts (at start-up,
        so that nothing changed while no replica ran stays stale)."""
        async with self.db.system() as con:
            moved = await sensors_store.follow_all(con)
        await self._publish([], moved)
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
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.warning(
                    "watchdog: database unavailable (%s); next round in %.0fs", exc, self.every
                )
            await asyncio.sleep(self.every)

    async def check_offline(self) -> int:
        now = datetime.now(UTC)
        changed = []
        async with self.db.system() as con:
            for sensor in await con.fetch(_SILENT_SENSORS):
                rules = AlertRules.for_sensor(sensor["type"], sensor["alert_rules"])
                verdict = offline_rule(
                    sensor["last_reading_at"], now, sensor["sampling_interval"], rules
                )
                if verdict is not None and rules.enabled:
                    changed.append(await apply_verdict(con, sensor, verdict, now))
            moved = await follow(con, changed)
        await self._publish(changed, moved)
        return len(changed)

    async def check_stuck(self) -> int:
        now = datetime.now(UTC)
        changed = []
        async with self.db.system() as con:
            for sensor in await con.fetch(_STUCK_CANDIDATES):
                rules = AlertRules.for_sensor(sensor["type"], sensor["alert_rules"])
                window_start = now - timedelta(seconds=rules.stuck_after_seconds or 0)
                covered = sensor["first_ts"] is not None and (
                    sensor["first_ts"] - window_start
                    <= timedelta(seconds=2 * sensor["sampling_interval"])
                )
                verdict = stuck_rule(list(sensor["vals"] or []), covered, rules)
                if verdict is not None and rules.enabled:
                    changed.append(await apply_verdict(con, sensor, verdict, now))
            moved = await follow(con, changed)
        await self._publish(changed, moved)
        return len(changed)

    async def check_leaks(self) -> int:
        now = datetime.now(UTC)
        hours = [
            now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=h)
            for h in range(24, 0, -1)
        ]
        changed = []
        async with self.db.system() as con:
            rows = await con.fetch(_HOURLY_WATER)
            by_sensor: dict[Any, dict[datetime, float]] = {}
            for r in rows:
                by_sensor.setdefault(r["sensor_id"], {})[r["hour"]] = r["consumption"]
            if not by_sensor:
                return 0
            sensors = await con.fetch(
                "SELECT s.*, (SELECT count(*) FROM alerts a WHERE a.sensor_id = s.id "
                "AND a.type = 'LEAK_DETECTED' AND a.status <> 'RESOLVED') AS open_leaks "
                "FROM sensors s WHERE s.id = ANY($1::uuid[])",
                list(by_sensor),
            )
            for sensor in sensors:
                rules = AlertRules.for_sensor(sensor["type"], sensor["alert_rules"])
                consumption = by_sensor[sensor["id"]]
                unit = sensor["unit_of_measure"]
                decimals = resolution_of(unit, sensor["resolution"])
                verdict = leak_rule([consumption.get(h) for h in hours], rules, unit, decimals)
                if rules.leak_night_window and not isinstance(verdict, Raise):
                    night = [consumption.get(h) for h in last_night(now, self.timezone)]
                    verdict = night_leak_rule(night, rules, unit, decimals)
                if verdict is None or (isinstance(verdict, Clear) and not sensor["open_leaks"]):
                    continue
                row = await apply_verdict(con, sensor, verdict, now)
                if row is not None:
                    changed.append(row)
        await publish_alert_changes(self.broadcast, changed)
        return len(changed)

    async def send_reminders(self) -> int:
        async with self.db.system() as con:
            due = await con.fetch(_REMINDERS, self.reminder_after)
            for alert in due:
                await notifications.enqueue(con, alert, kind="reminder")
        return len(due)
