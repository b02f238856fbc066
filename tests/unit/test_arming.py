"""When a building is armed (intrusion detection): by hand, or by its weekly schedule in its own
local time, overnight periods included; and what an intrusion detector's reading then raises."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from koprogo_graph.domain.alert_rules import AlertRules, intrusion_rule
from koprogo_graph.domain.alerts import AlertSeverity, AlertType
from koprogo_graph.domain.arming import is_armed, parse_schedule
from koprogo_graph.domain.sensors import SensorFieldError

NIGHTS = parse_schedule([{"days": [1, 2, 3, 4, 5], "from": "22:00", "to": "06:00"}])
WEEKEND = parse_schedule([{"days": [6, 7], "from": "00:00", "to": "23:59"}])


@pytest.mark.parametrize(
    ("utc", "armed"),
    [
        # Brussels is UTC+1 in December.
        (datetime(2026, 12, 7, 21, 30, tzinfo=UTC), True),  # Monday 22:30 local
        (datetime(2026, 12, 7, 20, 30, tzinfo=UTC), False),  # Monday 21:30
        (datetime(2026, 12, 8, 4, 59, tzinfo=UTC), True),  # Tuesday 05:59, Monday's night
        (datetime(2026, 12, 8, 5, 0, tzinfo=UTC), False),  # Tuesday 06:00: over
        (datetime(2026, 12, 12, 4, 0, tzinfo=UTC), True),  # Saturday 05:00, Friday's night
        (datetime(2026, 12, 13, 4, 0, tzinfo=UTC), False),  # Sunday 05:00: no Saturday night
    ],
)
def test_a_weekly_schedule_is_read_in_the_buildings_time(utc, armed):
    assert is_armed(utc, False, NIGHTS, "Europe/Brussels") is armed


def test_armed_by_hand_is_armed_whatever_the_schedule():
    assert is_armed(datetime(2026, 12, 7, 12, tzinfo=UTC), True, [], "Europe/Brussels")
    assert is_armed(datetime(2026, 12, 12, 12, tzinfo=UTC), False, WEEKEND, "Europe/Brussels")


@pytest.mark.parametrize(
    ("period", "field"),
    [
        ({"days": [], "from": "22:00", "to": "06:00"}, "periods[0].days"),
        ({"days": [8], "from": "22:00", "to": "06:00"}, "periods[0].days"),
        ({"days": [1], "from": "24:00", "to": "06:00"}, "periods[0].from"),
        ({"days": [1], "from": "22:00", "to": "6h"}, "periods[0].to"),
        ({"days": [1], "from": "22:00", "to": "22:00"}, "periods[0].to"),
    ],
)
def test_a_bad_period_names_its_field(period, field):
    with pytest.raises(SensorFieldError) as refused:
        parse_schedule([period], "periods")
    assert refused.value.field == field


def test_an_open_door_raises_a_critical_intrusion_only_while_armed_and_detection_is_on():
    on = AlertRules.for_sensor("INTRUSION", None)
    assert on.intrusion_detection
    verdict = intrusion_rule(1.0, True, on)
    assert verdict is not None and verdict.type is AlertType.INTRUSION_DETECTED
    assert verdict.severity is AlertSeverity.CRITICAL
    assert intrusion_rule(1.0, False, on) is None  # disarmed
    assert intrusion_rule(0.0, True, on) is None  # closed
    assert intrusion_rule(1.0, True, AlertRules.for_sensor("TEMPERATURE", None)) is None


def test_air_quality_warns_above_1000_ppm_and_is_critical_from_1500():
    from koprogo_graph.domain.alert_rules import threshold_rule

    rules = AlertRules.for_sensor("AIR_QUALITY", None)
    assert threshold_rule(1000, rules, is_open=False) is None
    warning = threshold_rule(1001, rules, is_open=False)
    critical = threshold_rule(1500, rules, is_open=False)
    assert warning is not None and warning.severity is AlertSeverity.WARNING
    assert critical is not None and critical.severity is AlertSeverity.CRITICAL
