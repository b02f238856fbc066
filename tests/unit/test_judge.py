"""The alert engine's and watchdog's decisions, without services: inputs as the store reads
them, verdicts as the rules give them."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

from koprogo_graph.alerts.judge import (
    awaits_pending,
    changes_something,
    judge_readings,
    leak_verdict,
    offline_verdict,
    rules_of,
    stuck_verdict,
    wants_history,
)
from koprogo_graph.domain.alert_rules import AlertRules, Clear, Raise
from koprogo_graph.domain.alerts import AlertSeverity, AlertType
from koprogo_graph.domain.readings import StoredReading
from koprogo_graph.store.rows import SensorRow
from koprogo_graph.store.rule_inputs import (
    History,
    LeakCandidate,
    MeterStep,
    SensorState,
    StuckWindow,
)

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def sensor(**changes) -> SensorRow:
    base = SensorRow(
        id=uuid.UUID(int=1),
        organization_id=uuid.UUID(int=2),
        building_id=uuid.UUID(int=3),
        unit_id=None,
        device_id="DEV-1",
        type="TEMPERATURE",
        reading_kind="INSTANTANEOUS",
        manufacturer="M",
        model="X",
        firmware_version=None,
        location="Cave",
        floor=None,
        unit_of_measure="°C",
        sampling_interval=60,
        calibration_factor=1.0,
        alert_rules={},
        status="ACTIVE",
        last_reading_at=NOW - timedelta(minutes=1),
        last_value=20.0,
        last_battery_level=None,
        installed_at=NOW - timedelta(days=30),
        created_at=NOW - timedelta(days=30),
        updated_at=NOW - timedelta(days=30),
        status_changed_at=None,
        connectivity="ONLINE",
        status_auto=True,
        status_set_at=None,
        resolution=None,
        integration="KOPROGO",
        external_id=None,
        metric=None,
        unit_scale=1.0,
    )
    return dataclasses.replace(base, **changes)


def reading(value: float, minutes: int = 0, **changes) -> StoredReading:
    s = changes.pop("of", None) or sensor()
    return StoredReading(
        sensor_id=s.id,
        organization_id=s.organization_id,
        building_id=s.building_id,
        unit_id=None,
        device_id=s.device_id,
        sensor_type=s.type,
        reading_kind=s.reading_kind,
        ts=NOW + timedelta(minutes=minutes),
        value=value,
        raw_value=value,
        unit_of_measure=s.unit_of_measure,
        battery_level=changes.pop("battery_level", None),
        signal_strength=None,
        quality=changes.pop("quality", "GOOD"),
        is_anomaly=False,
        anomaly_reason=None,
        received_at=NOW,
    )


def verdicts(state: SensorState, readings, steps=None, history=None):
    return [
        (j.verdict, j.reading.value) for j in judge_readings(state, readings, steps or {}, history)
    ]


def test_a_gauge_beyond_its_maximum_raises_and_a_battery_under_ten_percent_is_critical():
    probe = sensor(alert_rules={"threshold_max": 26.0})
    got = verdicts(SensorState(probe, frozenset()), [reading(40.0, battery_level=5)])
    assert got == [
        (
            Raise(
                AlertType.THRESHOLD_EXCEEDED,
                AlertSeverity.CRITICAL,  # 14 beyond 26 is more than half of it
                "value 40 °C above maximum 26 °C",
                40.0,
                26.0,
            ),
            40.0,
        ),
        (Raise(AlertType.LOW_BATTERY, AlertSeverity.CRITICAL, "battery at 5 %", 5, 10), 40.0),
    ]


def test_a_meter_is_judged_by_its_flow_and_its_glitches_never_by_its_index():
    meter = sensor(
        type="COLD_WATER",
        reading_kind="CUMULATIVE",
        unit_of_measure="m3",
        alert_rules={"threshold_max": 0.5},
    )
    first, glitch = reading(1000.0, 0, of=meter), reading(999.9, 30, of=meter)
    steps = {
        # 0.2 m3 in 30 minutes: 0.4 m3/h, under the 0.5 m3/h maximum (the index is 1,000).
        (meter.id, first.ts): MeterStep(first.ts - timedelta(minutes=30), 999.8, False, 0.2),
        (meter.id, glitch.ts): MeterStep(first.ts, 1000.0, True, 0.0),
    }
    got = verdicts(SensorState(meter, frozenset()), [first, glitch], steps)
    assert [(v.type, value) for v, value in got if isinstance(v, Raise)] == [
        (AlertType.SENSOR_FAULTY, 999.9)
    ]
    fast = {(meter.id, first.ts): MeterStep(first.ts - timedelta(minutes=30), 999.0, False, 1.0)}
    (only,) = verdicts(SensorState(meter, frozenset()), [first], fast)
    assert only[0].message == "flow 2 m3/h above maximum 0.5 m3/h"


def test_a_reading_brings_an_offline_sensor_back_even_in_maintenance_and_raises_nothing_else():
    resting = sensor(status="MAINTENANCE", alert_rules={"threshold_max": 1.0})
    state = SensorState(resting, frozenset({AlertType.SENSOR_OFFLINE.value}))
    assert verdicts(state, [reading(50.0), reading(60.0, 1)]) == [
        (Clear(AlertType.SENSOR_OFFLINE), 50.0)
    ]
    disabled = sensor(alert_rules={"threshold_max": 1.0, "enabled": False})
    assert verdicts(SensorState(disabled, frozenset()), [reading(50.0)]) == []


def test_the_history_rules_see_the_readings_before_the_batch():
    probe = sensor()
    batch = [reading(20.0, quality="POOR")]
    rules = rules_of(probe)
    assert wants_history(rules, batch) and not wants_history(rules, [reading(20.0)])
    nine_poor = History([20.0] * 9, ["POOR"] * 9)
    got = verdicts(SensorState(probe, frozenset()), batch, history=nine_poor)
    assert [v.message for v, _ in got if isinstance(v, Raise)] == ["the last 10 readings were POOR"]
    eight_poor = History([20.0] * 9, ["GOOD"] + ["POOR"] * 8)
    assert verdicts(SensorState(probe, frozenset()), batch, history=eight_poor) == []


def test_a_clear_of_nothing_open_changes_nothing_and_a_pending_threshold_waits():
    clear = Clear(AlertType.THRESHOLD_EXCEEDED)
    assert not changes_something(clear, set())
    assert changes_something(clear, {"THRESHOLD_EXCEEDED"})
    above = Raise(AlertType.THRESHOLD_EXCEEDED, AlertSeverity.WARNING, "above", 1.0, 0.5)
    assert awaits_pending(above, set(), AlertRules(pending_seconds=600))
    assert not awaits_pending(above, {"THRESHOLD_EXCEEDED"}, AlertRules(pending_seconds=600))
    assert not awaits_pending(above, set(), AlertRules())


def test_offline_after_three_intervals_or_the_configured_silence():
    quiet = sensor(last_reading_at=NOW - timedelta(minutes=4))
    assert isinstance(offline_verdict(quiet, NOW), Raise)
    assert offline_verdict(sensor(last_reading_at=NOW - timedelta(minutes=2)), NOW) is None
    patient = sensor(
        last_reading_at=NOW - timedelta(minutes=4), alert_rules={"offline_after_seconds": 600}
    )
    assert offline_verdict(patient, NOW) is None


def test_a_stuck_value_only_when_readings_cover_the_whole_window():
    probe = sensor(alert_rules={"stuck_after_seconds": 3600})
    start = NOW - timedelta(hours=1)
    assert isinstance(stuck_verdict(StuckWindow(probe, [20.0] * 60, start), NOW), Raise)
    late_start = start + timedelta(minutes=30)  # silent for the first half: not "stuck"
    assert stuck_verdict(StuckWindow(probe, [20.0] * 30, late_start), NOW) is None
    assert stuck_verdict(StuckWindow(probe, [20.0] * 59 + [20.1], start), NOW) is None


def test_a_leak_is_water_in_every_hour_and_the_night_is_the_buildings():
    meter = sensor(type="COLD_WATER", reading_kind="CUMULATIVE", unit_of_measure="m3")
    this_hour = NOW.replace(minute=0)
    every_hour = {this_hour - timedelta(hours=h): 0.01 for h in range(1, 25)}
    assert isinstance(leak_verdict(LeakCandidate(meter, False, "UTC"), every_hour, NOW), Raise)
    one_dry = {**every_hour, this_hour - timedelta(hours=5): 0.0}
    assert leak_verdict(LeakCandidate(meter, False, "UTC"), one_dry, NOW) is None
    assert leak_verdict(LeakCandidate(meter, True, "UTC"), one_dry, NOW) == Clear(
        AlertType.LEAK_DETECTED
    )
    # Water from 02:00 to 05:00 in Brussels (01:00-04:00 UTC in December) and no other hour.
    night_meter = dataclasses.replace(meter, alert_rules={"leak_night_window": True})
    brussels_night = {datetime(2026, 12, 2, h, tzinfo=UTC): 0.02 for h in (1, 2, 3)}
    assert isinstance(
        leak_verdict(LeakCandidate(night_meter, False, "Europe/Brussels"), brussels_night, NOW),
        Raise,
    )
    # The same hours are 20:00-23:00 the evening before in New York: no night leak there.
    assert (
        leak_verdict(LeakCandidate(night_meter, False, "America/New_York"), brussels_night, NOW)
        is None
    )
