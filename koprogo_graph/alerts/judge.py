"""What the rules say about a sensor, from what the store read: pure, no I/O.

The engine (per reading) and the watchdog (on the clock) read their inputs from
``store/rule_inputs.py``, ask here for verdicts, and apply them in their transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from ..domain.alert_rules import (
    READING_RULES,
    AlertRules,
    Clear,
    Raise,
    ReadingFacts,
    flow_per_hour,
    leak_rule,
    night_leak_rule,
    offline_rule,
    stuck_rule,
)
from ..domain.alerts import AlertType
from ..domain.arming import is_armed, parse_schedule
from ..domain.consumption import Step
from ..domain.readings import StoredReading
from ..domain.sensors import ReadingKind, SensorStatus, resolution_of
from ..store.rows import SensorRow
from ..store.rule_inputs import History, LeakCandidate, MeterStep, SensorState, StuckWindow

__all__ = [
    "Judged",
    "awaits_pending",
    "changes_something",
    "judge_readings",
    "last_night",
    "leak_verdict",
    "offline_verdict",
    "rules_of",
    "stuck_verdict",
    "wants_history",
]

# Sensors in maintenance or switched off raise nothing.
SILENT = frozenset({SensorStatus.MAINTENANCE.value, SensorStatus.INACTIVE.value})


@dataclass(slots=True)
class Judged:
    verdict: Raise | Clear
    reading: StoredReading


def rules_of(sensor: SensorRow) -> AlertRules:
    return AlertRules.for_sensor(sensor.type, sensor.alert_rules)


def wants_history(rules: AlertRules, readings: Sequence[StoredReading]) -> bool:
    """Whether the history rules need the sensor's earlier readings for this batch (anomaly
    detection on, or a POOR reading that may complete a run)."""
    return rules.anomaly_detection or any(r.quality == "POOR" for r in readings)


def judge_readings(
    state: SensorState,
    readings: Sequence[StoredReading],
    steps: Mapping[tuple[uuid.UUID, datetime], MeterStep],
    history: History | None,
    rules: AlertRules | None = None,
) -> list[Judged]:
    """Verdicts on a sensor's new readings (device-time order), each with its reading. Meters
    are judged by the consumption rule as stored (``steps``): a glitch is a fault, thresholds
    apply to the flow; gauges by their value. ``history``: the readings before the batch, for
    the anomaly and poor-run rules (None when ``wants_history`` said no)."""
    sensor = state.sensor
    rules = rules or rules_of(sensor)
    threshold_open = AlertType.THRESHOLD_EXCEEDED.value in state.open_types
    values = list(history.values) if history else []
    qualities = list(history.qualities) if history else []
    meter = sensor.reading_kind == ReadingKind.CUMULATIVE.value
    unit = sensor.unit_of_measure
    decimals = resolution_of(unit, sensor.resolution)
    judged: list[Judged] = []
    schedule = parse_schedule(state.arming.schedule) if rules.intrusion_detection else []

    def add(verdict: Raise | Clear | None, reading: StoredReading) -> None:
        if verdict is not None:
            judged.append(Judged(verdict, reading))

    if readings and AlertType.SENSOR_OFFLINE.value in state.open_types:
        add(Clear(AlertType.SENSOR_OFFLINE), readings[0])  # a reading arrived: back online
    if sensor.status in SILENT or not rules.enabled:
        return judged
    for r in readings:
        if meter:
            step = steps.get((r.sensor_id, r.ts))
            if step is None:  # deleted meanwhile
                continue
            tested = flow_per_hour(step.used, step.previous_ts, r.ts)
            kind: Step | None = Step.GLITCH if step.glitch else Step.INCREASE
            baseline = step.baseline
        else:
            tested, kind, baseline = r.value, None, None
        if history is not None:
            qualities.append(r.quality)
        facts = ReadingFacts(
            value=r.value,
            tested=tested,
            meter=meter,
            unit=unit,
            decimals=decimals,
            battery_level=r.battery_level,
            step=kind,
            baseline=baseline,
            threshold_open=threshold_open,
            history=values if history is not None else None,
            qualities=qualities if history is not None else None,
            armed=rules.intrusion_detection
            and is_armed(r.ts, state.arming.armed, schedule, state.arming.timezone),
        )
        for rule in READING_RULES:
            assert rule.check is not None
            add(rule.check(facts, rules), r)
        if history is not None:
            values.append(r.value)
    return judged


def changes_something(verdict: Raise | Clear, open_types: frozenset[str] | set[str]) -> bool:
    """A clear of an alert that is not open changes nothing; every raise does (it opens, or
    bumps the open one)."""
    return isinstance(verdict, Raise) or verdict.type.value in open_types


def awaits_pending(
    verdict: Raise | Clear, open_types: frozenset[str] | set[str], rules: AlertRules
) -> bool:
    """A new threshold alert with a pending duration: it opens only once the threshold has
    been exceeded that long (the caller asks the store since when)."""
    return (
        isinstance(verdict, Raise)
        and verdict.type is AlertType.THRESHOLD_EXCEEDED
        and verdict.type.value not in open_types
        and rules.pending_seconds > 0
    )


def offline_verdict(sensor: SensorRow, now: datetime) -> Raise | Clear | None:
    rules = rules_of(sensor)
    if not rules.enabled:
        return None
    return offline_rule(sensor.last_reading_at, now, sensor.sampling_interval, rules)


def stuck_verdict(window: StuckWindow, now: datetime) -> Raise | Clear | None:
    sensor = window.sensor
    rules = rules_of(sensor)
    if not rules.enabled:
        return None
    start = now - timedelta(seconds=rules.stuck_after_seconds or 0)
    # The readings span the whole window (silence is the offline rule's business).
    covered = window.first_ts is not None and (
        window.first_ts - start <= timedelta(seconds=2 * sensor.sampling_interval)
    )
    return stuck_rule(window.values, covered, rules)


def last_night(now: datetime, tz: ZoneInfo) -> list[datetime]:
    """The UTC starts of the 02:00, 03:00 and 04:00 local hours of the last night that ended."""
    local = now.astimezone(tz)
    day = local.date() if local.hour >= 5 else local.date() - timedelta(days=1)
    return [datetime(day.year, day.month, day.day, h, tzinfo=tz).astimezone(UTC) for h in (2, 3, 4)]


def leak_verdict(
    candidate: LeakCandidate, consumption: Mapping[datetime, float], now: datetime
) -> Raise | Clear | None:
    """The leak rules on a meter's hourly consumption (by hour start, UTC): water in every hour
    of the window, or (when asked) in each hour of the last night in its building's time zone.
    A clear only when a leak alert is open."""
    sensor = candidate.sensor
    rules = rules_of(sensor)
    if not rules.enabled:
        return None
    unit = sensor.unit_of_measure
    decimals = resolution_of(unit, sensor.resolution)
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    hours = [this_hour - timedelta(hours=h) for h in range(24, 0, -1)]
    verdict = leak_rule([consumption.get(h) for h in hours], rules, unit, decimals)
    if rules.leak_night_window and not isinstance(verdict, Raise):
        night = [consumption.get(h) for h in last_night(now, ZoneInfo(candidate.timezone))]
        verdict = night_leak_rule(night, rules, unit, decimals)
    if isinstance(verdict, Clear) and not candidate.leak_open:
        return None
    return verdict
