"""Alert rules as pure functions (SPEC §5): what a reading, or a silence, means for a sensor.

Each rule answers with a :class:`Verdict`: raise (type, severity, message, values) or clear.
The engine turns verdicts into alert rows; nothing here touches a database.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import Field, dataclass, field, fields
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from .alerts import AlertSeverity, AlertType
from .consumption import Step
from .sensors import SensorFieldError, SensorType

__all__ = [
    "HISTORY_DEPTH",
    "READING_RULES",
    "RULES",
    "SETTINGS",
    "AlertRules",
    "Clear",
    "Raise",
    "ReadingFacts",
    "Rule",
    "Runs",
    "battery_rule",
    "check_settings",
    "exact",
    "flow_per_hour",
    "glitch_rule",
    "intrusion_rule",
    "leak_rule",
    "night_leak_rule",
    "offline_rule",
    "pending_elapsed",
    "poor_run_rule",
    "robust_anomaly",
    "setting",
    "stuck_rule",
    "threshold_rule",
]


@dataclass(frozen=True, slots=True)
class Raise:
    type: AlertType
    severity: AlertSeverity
    message: str
    reading_value: float | None = None
    threshold_value: float | None = None


@dataclass(frozen=True, slots=True)
class Clear:
    type: AlertType


Verdict = Raise | Clear | None


def setting(default: Any, description: str, *, minimum: float | None = 0) -> Any:
    """An alert rule setting: its default (before the sensor type's, SENSOR_TYPES), what it
    means (the GraphQL schema shows it), and its least value (None: any, e.g. a threshold)."""
    return field(default=default, metadata={"description": description, "minimum": minimum})


_THRESHOLD = (
    " threshold: of the value on a gauge (INSTANTANEOUS), of the flow in unitOfMeasure per hour "
    "on a meter (CUMULATIVE; never its index)."
)


@dataclass(frozen=True, slots=True)
class AlertRules:
    """A sensor's rule settings: the one declaration of them. The stored JSON overrides the
    sensor type's defaults, which override these; the GraphQL type and input that show and
    change them are derived from these fields (schema/sensors.py)."""

    enabled: bool = setting(True, "Whether this sensor's alert rules run at all.")
    threshold_min: float | None = setting(None, "Lower" + _THRESHOLD, minimum=None)
    threshold_max: float | None = setting(
        None, "Upper" + _THRESHOLD + " CRITICAL at 50 % beyond, else WARNING.", minimum=None
    )
    pending_seconds: int = setting(
        0, "Seconds a threshold must stay exceeded before it alerts (0: at once)."
    )
    hysteresis_percent: float = setting(
        5.0,
        "How far back inside the threshold (percent of it) the value must come before the "
        "alert clears (default 5).",
    )
    offline_after_seconds: int | None = setting(
        None, "Seconds of silence before SENSOR_OFFLINE (default: 3 sampling intervals)."
    )
    battery_warning_percent: int = setting(
        20, "Battery level (%) under which LOW_BATTERY is a WARNING (default 20)."
    )
    battery_critical_percent: int = setting(
        10, "Battery level (%) under which LOW_BATTERY is CRITICAL (default 10)."
    )
    leak_detection: bool = setting(
        False, "Whether LEAK_DETECTED runs (default: on for water meters)."
    )
    leak_window_hours: int = setting(
        24, "Hours in a row with water flowing that make a leak (default 24)."
    )
    leak_night_window: bool = setting(
        False, "Also call a leak water flowing in each hour of the 02:00-05:00 local night."
    )
    anomaly_detection: bool = setting(
        False, "Whether ANOMALY_DETECTED runs (a value far from the sensor's recent readings)."
    )
    anomaly_threshold: float = setting(
        6.0, "Robust deviations from the recent median that make an anomaly (default 6)."
    )
    stuck_after_seconds: int | None = setting(
        None, "Seconds a value may stay exactly the same before SENSOR_FAULTY (unset: never)."
    )
    poor_readings_run: int = setting(
        10, "POOR readings in a row that make SENSOR_FAULTY (default 10)."
    )
    intrusion_detection: bool = setting(
        False,
        "Whether a reading of 1 while the building is armed raises INTRUSION_DETECTED "
        "(default: on for INTRUSION sensors).",
    )

    @classmethod
    def for_sensor(cls, sensor_type: str, stored: Mapping[str, Any] | None) -> AlertRules:
        """The type's defaults (SENSOR_TYPES), then the stored overrides."""
        known = SensorType.__members__.get(sensor_type)
        base: dict[str, Any] = dict(known.spec.rule_defaults) if known else {}
        base.update({k: v for k, v in (stored or {}).items() if k in SETTINGS and v is not None})
        return cls(**base)

    def offline_after(self, sampling_interval: int) -> timedelta:
        return timedelta(seconds=self.offline_after_seconds or 3 * sampling_interval)


# Asked for every evaluated reading: dataclasses.fields() each time cost 3 % of ingestion.
SETTINGS: Mapping[str, Field[Any]] = MappingProxyType({f.name: f for f in fields(AlertRules)})


def check_settings(given: Mapping[str, Any]) -> dict[str, Any]:
    """Rule settings a person gave, checked against their declaration: SensorFieldError names
    the first wrong one (camelCase)."""
    for name, value in given.items():
        minimum = SETTINGS[name].metadata["minimum"]
        if (
            minimum is not None
            and isinstance(value, int | float)
            and not isinstance(value, bool)
            and value < minimum
        ):
            raise SensorFieldError(_camel(name), "must not be negative")
    return dict(given)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


class Runs(StrEnum):
    READING = "reading"  # on each stored reading (the alert engine)
    CLOCK = "clock"  # on the watchdog's clock


@dataclass(slots=True)
class ReadingFacts:
    """What a per-reading rule knows of one new reading (the alert engine gathers it)."""

    value: float  # as stored (calibrated)
    tested: float | None  # what thresholds test: a gauge's value, a meter's flow per hour
    meter: bool
    unit: str
    decimals: int  # the sensor's resolution
    battery_level: int | None
    step: Step | None  # a meter reading as the consumption rule classified it
    baseline: float | None  # the index a meter reading was compared with
    threshold_open: bool  # a THRESHOLD_EXCEEDED alert of the sensor is unresolved
    history: Sequence[float] | None  # the sensor's values before it (None: not read)
    qualities: Sequence[str] | None  # its qualities up to and with it (None: not read)
    armed: bool = False  # its building is armed at the reading's time


@dataclass(frozen=True, slots=True)
class Rule:
    """An alert rule: what it raises, when it runs, which settings it reads, how many of the
    sensor's earlier readings it needs, and (per reading) how it judges one."""

    name: str
    raises: AlertType
    runs: Runs
    settings: tuple[str, ...] = ()
    history: int = 0
    check: Callable[[ReadingFacts, AlertRules], Verdict] | None = None  # Runs.READING only


HISTORY_DEPTH = 200  # earlier readings the history rules look at


def exact(value: float, decimals: int | None) -> Decimal:
    """``value`` as the decimal a person reads (at ``decimals`` places): comparisons on these are
    free of binary noise (0.075 - 0.05 is 0.025, not 0.024999999999999994)."""
    number = Decimal(repr(value))
    return number if decimals is None else number.quantize(Decimal(1).scaleb(-decimals))


def _beyond(excess: Decimal, limit: Decimal) -> AlertSeverity:
    """CRITICAL when the value is beyond the threshold by 50 % of it or more."""
    return AlertSeverity.CRITICAL if excess >= abs(limit) / 2 else AlertSeverity.WARNING


def _shown(number: Decimal, unit: str) -> str:
    return f"{format(number.normalize(), 'f')} {unit}".rstrip()


def threshold_rule(
    value: float,
    rules: AlertRules,
    *,
    is_open: bool,
    quantity: str = "value",
    unit: str = "",
    decimals: int | None = None,
) -> Verdict:
    """Raise beyond min/max; once open, clear only when back inside by the hysteresis margin,
    so a value hovering at the threshold does not flap. ``value`` is a gauge's reading or a
    meter's flow (``quantity`` "flow", ``unit`` per hour), compared at ``decimals`` places."""
    if rules.threshold_max is None and rules.threshold_min is None:
        return Clear(AlertType.THRESHOLD_EXCEEDED) if is_open else None
    shown = exact(value, decimals)
    if rules.threshold_max is not None and shown > exact(rules.threshold_max, None):
        limit = exact(rules.threshold_max, None)
        return Raise(
            AlertType.THRESHOLD_EXCEEDED,
            _beyond(shown - limit, limit),
            f"{quantity} {_shown(shown, unit)} above maximum {_shown(limit, unit)}",
            float(shown),
            rules.threshold_max,
        )
    if rules.threshold_min is not None and shown < exact(rules.threshold_min, None):
        limit = exact(rules.threshold_min, None)
        return Raise(
            AlertType.THRESHOLD_EXCEEDED,
            _beyond(limit - shown, limit),
            f"{quantity} {_shown(shown, unit)} below minimum {_shown(limit, unit)}",
            float(shown),
            rules.threshold_min,
        )
    if not is_open:
        return None
    margin = exact(rules.hysteresis_percent, None) / 100
    high, low = rules.threshold_max, rules.threshold_min
    high_ok = high is None or shown <= exact(high, None) * (1 - margin * _sign(high))
    low_ok = low is None or shown >= exact(low, None) * (1 + margin * _sign(low))
    return Clear(AlertType.THRESHOLD_EXCEEDED) if high_ok and low_ok else None


def _sign(x: float) -> int:
    return 1 if x >= 0 else -1


def pending_elapsed(exceeding_since: datetime | None, at: datetime, rules: AlertRules) -> bool:
    """Has the threshold been exceeded for the configured pending duration ("for 10 minutes")?

    ``exceeding_since`` is the first reading of the current run of exceeding readings."""
    if rules.pending_seconds <= 0:
        return True
    return exceeding_since is not None and at - exceeding_since >= timedelta(
        seconds=rules.pending_seconds
    )


def battery_rule(level: int | None, rules: AlertRules) -> Verdict:
    if level is None:
        return None
    if level < rules.battery_critical_percent:
        return Raise(
            AlertType.LOW_BATTERY,
            AlertSeverity.CRITICAL,
            f"battery at {level} %",
            level,
            rules.battery_critical_percent,
        )
    if level < rules.battery_warning_percent:
        return Raise(
            AlertType.LOW_BATTERY,
            AlertSeverity.WARNING,
            f"battery at {level} %",
            level,
            rules.battery_warning_percent,
        )
    return Clear(AlertType.LOW_BATTERY)


def glitch_rule(step: Step, baseline: float | None, value: float, unit: str = "") -> Verdict:
    """A meter index a little below its baseline (a glitch, SPEC §10): a fault. A larger drop is a
    reset or a new meter, which the consumption rule counts and which is no fault."""
    if step is not Step.GLITCH or baseline is None:
        return None
    return Raise(
        AlertType.SENSOR_FAULTY,
        AlertSeverity.WARNING,
        f"meter index went back from {baseline:g} to {value:g} {unit} (counted as no consumption)".replace(
            "  ", " "
        ),
        value,
        baseline,
    )


def flow_per_hour(
    contribution: float | None, previous_ts: datetime | None, ts: datetime
) -> float | None:
    """A meter's flow: the consumption since the previous reading over the hours between them."""
    if contribution is None or previous_ts is None or ts <= previous_ts:
        return None
    return contribution / ((ts - previous_ts).total_seconds() / 3600)


def offline_rule(
    last_reading_at: datetime | None, now: datetime, sampling_interval: int, rules: AlertRules
) -> Verdict:
    silence = rules.offline_after(sampling_interval)
    if last_reading_at is None or now - last_reading_at < silence:
        return None
    minutes = (now - last_reading_at).total_seconds() / 60
    return Raise(
        AlertType.SENSOR_OFFLINE,
        AlertSeverity.WARNING,
        f"no reading for {minutes:.0f} min (expected every {sampling_interval} s)",
    )


def leak_rule(
    hourly_consumption: Sequence[float | None],
    rules: AlertRules,
    unit: str = "",
    decimals: int | None = None,
) -> Verdict:
    """Water that never stops: consumption above zero in every hour of the window.

    ``hourly_consumption`` holds the window's hours in order; an hour without data (None) breaks
    the evidence, so a silent meter is not called a leak (the offline rule covers it).
    """
    if not rules.leak_detection or len(hourly_consumption) < rules.leak_window_hours:
        return None
    window = [c for c in hourly_consumption[-rules.leak_window_hours :] if c is not None]
    if len(window) < rules.leak_window_hours:
        return None
    if all(c > 0 for c in window):
        lowest = exact(min(window), decimals)
        return Raise(
            AlertType.LEAK_DETECTED,
            AlertSeverity.CRITICAL,
            f"water has flowed in every hour of the last {len(window)} h "
            f"(at least {_shown(lowest, unit + '/h' if unit else 'per hour')})",
            float(lowest),
            0.0,
        )
    return Clear(AlertType.LEAK_DETECTED)


def night_leak_rule(
    night_hours: Sequence[float | None],
    rules: AlertRules,
    unit: str = "",
    decimals: int | None = None,
) -> Verdict:
    """The night-flow variant: water flowing in each hour of the 02:00-05:00 local window, when
    nobody should be drawing any. ``night_hours`` are that window's three hours, in order."""
    if not (rules.leak_detection and rules.leak_night_window) or len(night_hours) != 3:
        return None
    night = [c for c in night_hours if c is not None]
    if len(night) < len(night_hours):
        return None
    if all(c > 0 for c in night):
        lowest = exact(min(night), decimals)
        return Raise(
            AlertType.LEAK_DETECTED,
            AlertSeverity.CRITICAL,
            "water flowed all night between 02:00 and 05:00 "
            f"(at least {_shown(lowest, unit + '/h' if unit else 'per hour')})",
            float(lowest),
            0.0,
        )
    return Clear(AlertType.LEAK_DETECTED)


def poor_run_rule(recent_qualities: Sequence[str], rules: AlertRules) -> Verdict:
    """A run of POOR readings (battery or radio failing): the newest ``poor_readings_run``."""
    run = rules.poor_readings_run
    if run <= 0 or len(recent_qualities) < run:
        return None
    if all(q == "POOR" for q in recent_qualities[-run:]):
        return Raise(
            AlertType.SENSOR_FAULTY, AlertSeverity.WARNING, f"the last {run} readings were POOR"
        )
    return None


def stuck_rule(
    values_in_window: Sequence[float], window_covered: bool, rules: AlertRules
) -> Verdict:
    """A value that has not moved for ``stuck_after_seconds`` (a frozen probe or register).

    ``window_covered`` says the readings span the whole window (so silence is not taken for a
    frozen value: the offline rule covers silence)."""
    if rules.stuck_after_seconds is None or not window_covered or len(values_in_window) < 2:
        return None
    if max(values_in_window) == min(values_in_window):
        return Raise(
            AlertType.SENSOR_FAULTY,
            AlertSeverity.WARNING,
            f"value stuck at {values_in_window[-1]:g} for {rules.stuck_after_seconds} s",
            values_in_window[-1],
        )
    return None


def robust_anomaly(
    history: Sequence[float], value: float, rules: AlertRules, *, warm_up: int = 30
) -> Verdict:
    """A value far from the sensor's own recent behaviour: robust z-score (median, MAD)."""
    if not rules.anomaly_detection or len(history) < warm_up:
        return None
    median = statistics.median(history)
    mad = statistics.median(abs(x - median) for x in history) * 1.4826
    if mad == 0 or not math.isfinite(mad):
        return None
    score = abs(value - median) / mad
    if score >= rules.anomaly_threshold:
        return Raise(
            AlertType.ANOMALY_DETECTED,
            AlertSeverity.WARNING,
            f"value {value:g} is {score:.1f} deviations from the usual {median:g}",
            value,
            median,
        )
    return Clear(AlertType.ANOMALY_DETECTED)


# The per-reading rules, as the engine runs them (a reading's facts, the sensor's settings).


def _check_threshold(facts: ReadingFacts, rules: AlertRules) -> Verdict:
    if facts.tested is None:  # a meter's first reading: no flow yet
        return None
    return threshold_rule(
        facts.tested,
        rules,
        is_open=facts.threshold_open,
        quantity="flow" if facts.meter else "value",
        unit=f"{facts.unit}/h" if facts.meter else facts.unit,
        decimals=facts.decimals,
    )


def _check_battery(facts: ReadingFacts, rules: AlertRules) -> Verdict:
    return battery_rule(facts.battery_level, rules)


def _check_glitch(facts: ReadingFacts, rules: AlertRules) -> Verdict:
    if facts.step is None:
        return None
    return glitch_rule(facts.step, facts.baseline, facts.value, facts.unit)


def _check_anomaly(facts: ReadingFacts, rules: AlertRules) -> Verdict:
    if facts.history is None:
        return None
    return robust_anomaly(facts.history[-HISTORY_DEPTH:], facts.value, rules)


def _check_poor_run(facts: ReadingFacts, rules: AlertRules) -> Verdict:
    return None if facts.qualities is None else poor_run_rule(facts.qualities, rules)


def intrusion_rule(value: float, armed: bool, rules: AlertRules) -> Verdict:
    """A detector that reads 1 (open, motion) while its building is armed. Never cleared by a
    reading: a door closed again does not undo an intrusion; a person resolves it."""
    if not rules.intrusion_detection or not armed or value < 1:
        return None
    return Raise(
        AlertType.INTRUSION_DETECTED,
        AlertSeverity.CRITICAL,
        "opened or moved while the building was armed",
        value,
        1.0,
    )


def _check_intrusion(facts: ReadingFacts, rules: AlertRules) -> Verdict:
    return intrusion_rule(facts.value, facts.armed, rules)


# Every alert rule, once: a per-reading rule here is run by the engine in this order; a clock
# rule also needs its candidates read (store/rule_inputs.py) and judged (alerts/judge.py).
RULES: tuple[Rule, ...] = (
    Rule(
        "threshold",
        AlertType.THRESHOLD_EXCEEDED,
        Runs.READING,
        ("threshold_min", "threshold_max", "pending_seconds", "hysteresis_percent"),
        check=_check_threshold,
    ),
    Rule(
        "battery",
        AlertType.LOW_BATTERY,
        Runs.READING,
        ("battery_warning_percent", "battery_critical_percent"),
        check=_check_battery,
    ),
    Rule("glitch", AlertType.SENSOR_FAULTY, Runs.READING, check=_check_glitch),
    Rule(
        "anomaly",
        AlertType.ANOMALY_DETECTED,
        Runs.READING,
        ("anomaly_detection", "anomaly_threshold"),
        HISTORY_DEPTH,
        check=_check_anomaly,
    ),
    Rule(
        "poor_run",
        AlertType.SENSOR_FAULTY,
        Runs.READING,
        ("poor_readings_run",),
        HISTORY_DEPTH,
        check=_check_poor_run,
    ),
    Rule(
        "intrusion",
        AlertType.INTRUSION_DETECTED,
        Runs.READING,
        ("intrusion_detection",),
        check=_check_intrusion,
    ),
    Rule("offline", AlertType.SENSOR_OFFLINE, Runs.CLOCK, ("offline_after_seconds",)),
    Rule("stuck", AlertType.SENSOR_FAULTY, Runs.CLOCK, ("stuck_after_seconds",)),
    Rule(
        "leak",
        AlertType.LEAK_DETECTED,
        Runs.CLOCK,
        ("leak_detection", "leak_window_hours", "leak_night_window"),
    ),
)
READING_RULES: tuple[Rule, ...] = tuple(r for r in RULES if r.runs is Runs.READING)
