"""Rules on newly stored readings (a listener of the ingest pipeline)."""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from ..domain.alert_rules import (
    AlertRules,
    Clear,
    battery_rule,
    meter_backwards_rule,
    threshold_rule,
)
from ..domain.alerts import AlertType
from ..domain.readings import StoredReading
from ..store.db import Database
from .actions import apply_verdict, publish_alert_changes

__all__ = ["AlertEngine"]

log = logging.getLogger(__name__)

# Sensors in maintenance or switched off raise nothing.
_SILENT = ("MAINTENANCE", "INACTIVE")

_CONTEXT = """
SELECT s.*,
       coalesce(array_agg(a.type) FILTER (WHERE a.id IS NOT NULL), '{}') AS open_types,
       (SELECT r.value FROM readings r WHERE r.sensor_id = s.id AND r.ts < b.first_ts
        ORDER BY r.ts DESC LIMIT 1) AS previous_value
FROM unnest($1::uuid[], $2::timestamptz[]) AS b(sensor_id, first_ts)
JOIN sensors s ON s.id = b.sensor_id
LEFT JOIN alerts a ON a.sensor_id = s.id AND a.status <> 'RESOLVED'
GROUP BY s.id, b.first_ts
"""


class AlertEngine:
    def __init__(self, db: Database, broadcast: Any) -> None:
        self.db = db
        self.broadcast = broadcast

    async def on_readings(self, readings: list[StoredReading]) -> None:
        """Evaluate threshold, battery and meter rules on a committed batch, in device-time order."""
        by_sensor: dict[Any, list[StoredReading]] = defaultdict(list)
        for r in sorted(readings, key=lambda r: r.ts):
            by_sensor[r.sensor_id].append(r)
        changed = []
        async with self.db.system() as con:
            sensors = await con.fetch(
                _CONTEXT, list(by_sensor), [batch[0].ts for batch in by_sensor.values()]
            )
            for sensor in sensors:
                if sensor["status"] in _SILENT:
                    continue
                changed += await self._evaluate(con, sensor, by_sensor[sensor["id"]])
        await publish_alert_changes(self.broadcast, changed)

    async def _evaluate(self, con: Any, sensor: Any, readings: list[StoredReading]) -> list[Any]:
        rules = AlertRules.for_sensor(sensor["type"], sensor["alert_rules"])
        open_types = set(sensor["open_types"])
        changed = []
        previous = sensor["previous_value"]
        verdicts = []
        if AlertType.SENSOR_OFFLINE.value in open_types:  # a reading arrived: back online
            verdicts.append((Clear(AlertType.SENSOR_OFFLINE), readings[0]))
        for r in readings:
            if rules.enabled:
                verdicts.append(
                    (
                        threshold_rule(
                            r.value, rules, is_open=AlertType.THRESHOLD_EXCEEDED.value in open_types
                        ),
                        r,
                    )
                )
                verdicts.append((battery_rule(r.battery_level, rules), r))
                verdicts.append((meter_backwards_rule(previous, r.value, r.reading_kind), r))
            previous = r.value
        for verdict, reading in verdicts:
            if verdict is None:
                continue
            is_open = verdict.type.value in open_types
            if isinstance(verdict, Clear) and not is_open:
                continue
            row = await apply_verdict(con, sensor, verdict, reading.ts)
            if row is not None:
                changed.append(row)
                if row["status"] == "RESOLVED":
                    open_types.discard(verdict.type.value)
                else:
                    open_types.add(verdict.type.value)
        return changed
