"""One declaration per concept: the alert rules' settings, the rules, the sensor types and the
severity order are each declared once, and everything else follows from them."""

from __future__ import annotations

import pytest

from koprogo_graph.domain import alert_rules
from koprogo_graph.domain.alerts import AlertSeverity
from koprogo_graph.domain.sensors import SENSOR_TYPES, ReadingKind, SensorFieldError, SensorType
from koprogo_graph.schema.sensors import AlertRules, AlertRulesInput
from koprogo_graph.store.rows import camel


def test_every_setting_but_the_master_switch_belongs_to_exactly_one_rule():
    owners = [name for rule in alert_rules.RULES for name in rule.settings]
    assert sorted(owners) == sorted(set(owners))
    assert set(owners) == set(alert_rules.SETTINGS) - {"enabled"}


def test_the_graphql_settings_are_derived_from_the_declaration():
    for graphql_type in (AlertRules, AlertRulesInput):
        fields = {
            f.graphql_name or camel(f.python_name): f
            for f in graphql_type.__strawberry_definition__.fields
        }
        assert list(fields) == [camel(name) for name in alert_rules.SETTINGS]
        for name, declared in alert_rules.SETTINGS.items():
            assert fields[camel(name)].description == declared.metadata["description"]


def test_settings_are_checked_by_their_declaration():
    assert alert_rules.check_settings({"threshold_min": -30.0}) == {"threshold_min": -30.0}
    with pytest.raises(SensorFieldError) as refused:
        alert_rules.check_settings({"leak_window_hours": -1})
    assert refused.value.field == "leakWindowHours"


def test_every_sensor_type_is_described_and_its_rule_defaults_are_settings():
    assert set(SENSOR_TYPES) == set(SensorType)
    for spec in SENSOR_TYPES.values():
        assert spec.description and spec.unit and isinstance(spec.reading_kind, ReadingKind)
        assert set(spec.rule_defaults) <= set(alert_rules.SETTINGS)


def test_a_type_default_applies_unless_the_sensor_says_otherwise():
    assert alert_rules.AlertRules.for_sensor("COLD_WATER", None).leak_detection
    assert not alert_rules.AlertRules.for_sensor("GAS", None).leak_detection
    assert not alert_rules.AlertRules.for_sensor(
        "COLD_WATER", {"leak_detection": False}
    ).leak_detection


def test_the_severity_order_is_the_declaration_order():
    assert [s.rank for s in AlertSeverity] == [0, 1, 2]
    assert AlertSeverity.CRITICAL.rank > AlertSeverity.WARNING.rank > AlertSeverity.INFO.rank


def test_per_reading_rules_judge_and_clock_rules_are_the_watchdogs():
    for rule in alert_rules.RULES:
        assert (rule.check is not None) == (rule.runs is alert_rules.Runs.READING), rule.name
    assert [r.name for r in alert_rules.READING_RULES] == [
        "threshold",
        "battery",
        "glitch",
        "anomaly",
        "poor_run",
        "intrusion",
    ]
