"""Alert rules, pure (SPEC §5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from koprogo_graph.domain.alert_rules import (
    AlertRules,
    Clear,
    Raise,
    battery_rule,
    flow_per_hour,
    glitch_rule,
    leak_rule,
    night_leak_rule,
    offline_rule,
    pending_elapsed,
    poor_run_rule,
    robust_anomaly,
    stuck_rule,
    threshold_rule,
)
from koprogo_graph.domain.alerts import AlertSeverity, AlertType
from koprogo_graph.domain.consumption import step

MAX50 = AlertRules(threshold_max=50.0)


def test_seed_scenario_75_over_a_50_max_is_critical():
    verdict = threshold_rule(75.0, MAX50, is_open=False)
    assert verdict == Raise(
        AlertType.THRESHOLD_EXCEEDED,
        AlertSeverity.CRITICAL,
        "value 75 above maximum 50",
        75.0,
        50.0,
    )


@pytest.mark.parametrize(
    ("value", "severity"),
    [
        (50.1, AlertSeverity.WARNING),
        (74.9, AlertSeverity.WARNING),
        (75.0, AlertSeverity.CRITICAL),
        (500, AlertSeverity.CRITICAL),
    ],
)
def test_severity_escalates_at_fifty_percent_beyond(value, severity):
    assert threshold_rule(value, MAX50, is_open=False).severity is severity


def test_minimum_threshold_and_its_escalation():
    rules = AlertRules(threshold_min=10.0)
    assert threshold_rule(8.0, rules, is_open=False).severity is AlertSeverity.WARNING
    assert threshold_rule(5.0, rules, is_open=False).severity is AlertSeverity.CRITICAL


def test_hysteresis_keeps_an_open_alert_until_clearly_back_in_range():
    assert threshold_rule(49.0, MAX50, is_open=True) is None  # within 5 % of the threshold
    assert threshold_rule(47.4, MAX50, is_open=True) == Clear(AlertType.THRESHOLD_EXCEEDED)
    assert threshold_rule(49.0, MAX50, is_open=False) is None


@given(st.floats(min_value=-1e6, max_value=1e6), st.booleans())
def test_threshold_never_raises_inside_the_range(value, is_open):
    rules = AlertRules(threshold_min=-100.0, threshold_max=100.0)
    verdict = threshold_rule(value, rules, is_open=is_open)
    if -100.0 <= value <= 100.0:
        assert not isinstance(verdict, Raise)
    else:
        assert isinstance(verdict, Raise)


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        (None, None),
        (50, Clear(AlertType.LOW_BATTERY)),
        (19, AlertSeverity.WARNING),
        (9, AlertSeverity.CRITICAL),
    ],
)
def test_battery(level, expected):
    verdict = battery_rule(level, AlertRules())
    assert (verdict.severity if isinstance(verdict, Raise) else verdict) == expected


def test_a_small_drop_is_a_fault_a_large_one_a_reset():
    kind, used, _ = step(1000.0, 999.5)  # 0.05 % below: a glitch
    verdict = glitch_rule(kind, 1000.0, 999.5, "m3")
    assert verdict.type is AlertType.SENSOR_FAULTY and used == 0.0
    assert (
        verdict.message == "meter index went back from 1000 to 999.5 m3 (counted as no consumption)"
    )
    kind, used, _ = step(1000.0, 3.0)  # a new meter
    assert glitch_rule(kind, 1000.0, 3.0) is None and used == 3.0
    kind, used, _ = step(1000.0, 1001.0)
    assert glitch_rule(kind, 1000.0, 1001.0) is None and used == 1.0


def test_a_meter_threshold_is_on_its_flow_in_decimals():
    """SPEC §5: a 0.075 m3/h flow against a 0.05 max is exactly 50 % over, so CRITICAL (in
    binary floats 0.075 - 0.05 is 0.024999999999999994, which would say WARNING)."""
    t0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
    flow = flow_per_hour(0.075, t0, t0 + timedelta(hours=1))
    verdict = threshold_rule(
        flow,
        AlertRules(threshold_max=0.05),
        is_open=False,
        quantity="flow",
        unit="m3/h",
        decimals=3,
    )
    assert verdict.severity is AlertSeverity.CRITICAL
    assert verdict.message == "flow 0.075 m3/h above maximum 0.05 m3/h"
    assert verdict.reading_value == 0.075
    assert flow_per_hour(0.01, t0, t0 + timedelta(minutes=15)) == 0.04
    assert flow_per_hour(None, t0, t0 + timedelta(hours=1)) is None
    assert flow_per_hour(1.0, None, t0) is None


def test_offline_after_three_sampling_intervals_or_configured():
    now = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
    rules = AlertRules()
    assert offline_rule(now - timedelta(seconds=179), now, 60, rules) is None
    assert (
        offline_rule(now - timedelta(seconds=180), now, 60, rules).type is AlertType.SENSOR_OFFLINE
    )
    assert (
        offline_rule(now - timedelta(seconds=500), now, 60, AlertRules(offline_after_seconds=600))
        is None
    )
    assert offline_rule(None, now, 60, rules) is None


def test_leak_needs_flow_in_every_hour_of_the_window():
    rules = AlertRules.for_sensor("COLD_WATER", None)
    assert rules.leak_detection
    assert leak_rule([0.01] * 24, rules).type is AlertType.LEAK_DETECTED
    assert leak_rule([0.01] * 23 + [0.0], rules) == Clear(AlertType.LEAK_DETECTED)
    assert leak_rule([0.01] * 23 + [None], rules) is None
    assert leak_rule([0.01] * 10, rules) is None
    assert leak_rule([0.01] * 24, AlertRules.for_sensor("ELECTRICITY", None)) is None


def test_stored_configuration_overrides_type_defaults():
    rules = AlertRules.for_sensor(
        "HOT_WATER", {"threshold_max": 50, "leak_detection": False, "junk": 1}
    )
    assert rules.threshold_max == 50 and rules.leak_detection is False


def test_robust_anomaly_after_warm_up():
    rules = AlertRules(anomaly_detection=True)
    history = [20.0 + 0.1 * (i % 5) for i in range(40)]
    assert robust_anomaly(history[:10], 90.0, rules) is None
    assert robust_anomaly(history, 90.0, rules).type is AlertType.ANOMALY_DETECTED
    assert robust_anomaly(history, 20.2, rules) == Clear(AlertType.ANOMALY_DETECTED)


def test_night_flow_variant():
    rules = AlertRules.for_sensor("COLD_WATER", {"leak_night_window": True})
    assert night_leak_rule([0.2, 0.1, 0.3], rules).type is AlertType.LEAK_DETECTED
    assert night_leak_rule([0.2, 0.0, 0.3], rules) == Clear(AlertType.LEAK_DETECTED)
    assert night_leak_rule([0.2, None, 0.3], rules) is None
    assert night_leak_rule([0.2, 0.1, 0.3], AlertRules.for_sensor("COLD_WATER", None)) is None


def test_a_run_of_poor_readings_is_a_fault():
    rules = AlertRules(poor_readings_run=3)
    assert poor_run_rule(["GOOD", "POOR", "POOR", "POOR"], rules).type is AlertType.SENSOR_FAULTY
    assert poor_run_rule(["POOR", "GOOD", "POOR"], rules) is None
    assert poor_run_rule(["POOR", "POOR"], rules) is None


def test_a_stuck_value_is_a_fault_only_over_a_covered_window():
    rules = AlertRules(stuck_after_seconds=3600)
    assert stuck_rule([21.0, 21.0, 21.0], True, rules).type is AlertType.SENSOR_FAULTY
    assert stuck_rule([21.0, 21.0, 21.0], False, rules) is None
    assert stuck_rule([21.0, 21.1], True, rules) is None
    assert stuck_rule([21.0, 21.0], True, AlertRules()) is None


def test_pending_duration():
    at = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
    rules = AlertRules(threshold_max=50.0, pending_seconds=600)
    assert not pending_elapsed(at - timedelta(minutes=9), at, rules)
    assert pending_elapsed(at - timedelta(minutes=10), at, rules)
    assert not pending_elapsed(None, at, rules)
    assert pending_elapsed(None, at, AlertRules())


def test_leak_messages_say_their_unit_without_float_noise():
    rules = AlertRules.for_sensor("COLD_WATER", None)
    hours = [1000.012 - 1000] * 24  # 0.011999999999989086 in binary floats
    verdict = leak_rule(hours, rules, "m3", 3)
    assert (
        verdict.message == "water has flowed in every hour of the last 24 h (at least 0.012 m3/h)"
    )
    assert verdict.reading_value == 0.012
