"""Sensor defaults, topic derivation and field validation (pure)."""

from __future__ import annotations

import math
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from koprogo_graph.domain import sensors as d


def test_topic_is_derived_from_organization_building_and_device():
    org, building = uuid.UUID(int=1), uuid.UUID(int=2)
    assert d.mqtt_topic(org, building, "KAM-7") == f"koprogo/{org}/{building}/KAM-7/readings"


@pytest.mark.parametrize(
    ("sensor_type", "kind"),
    [
        (d.SensorType.COLD_WATER, d.ReadingKind.CUMULATIVE),
        (d.SensorType.HOT_WATER, d.ReadingKind.CUMULATIVE),
        (d.SensorType.GAS, d.ReadingKind.CUMULATIVE),
        (d.SensorType.ELECTRICITY, d.ReadingKind.CUMULATIVE),
        (d.SensorType.COGENERATION, d.ReadingKind.CUMULATIVE),
        (d.SensorType.HEATING, d.ReadingKind.INSTANTANEOUS),
        (d.SensorType.TEMPERATURE, d.ReadingKind.INSTANTANEOUS),
        (d.SensorType.HUMIDITY, d.ReadingKind.INSTANTANEOUS),
    ],
)
def test_reading_kind_defaults_by_type(sensor_type, kind):
    assert d.default_reading_kind(sensor_type) is kind
    assert d.default_unit_of_measure(sensor_type)


@pytest.mark.parametrize("seconds", [10, 60, 86_400])
def test_sampling_interval_bounds_are_inclusive(seconds):
    assert d.check_sampling_interval(seconds) == seconds


@pytest.mark.parametrize("seconds", [-1, 0, 9, 86_401])
def test_sampling_interval_outside_bounds_names_the_field(seconds):
    with pytest.raises(d.SensorFieldError) as err:
        d.check_sampling_interval(seconds)
    assert err.value.field == "samplingInterval"


@pytest.mark.parametrize("factor", [0.0, -1.0, math.nan, math.inf])
def test_calibration_factor_must_be_finite_and_positive(factor):
    with pytest.raises(d.SensorFieldError) as err:
        d.check_calibration_factor(factor)
    assert err.value.field == "calibrationFactor"


@pytest.mark.parametrize("device_id", ["", "   ", "a/b", "dev+", "#", "$SYS", "x" * 129, "a\nb"])
def test_device_ids_that_break_topics_are_refused(device_id):
    with pytest.raises(d.SensorFieldError) as err:
        d.check_device_id(device_id)
    assert err.value.field == "deviceId"


@given(
    st.text(
        alphabet=st.characters(blacklist_characters="/+#$", min_codepoint=33),
        min_size=1,
        max_size=128,
    )
)
def test_accepted_device_ids_are_one_topic_level(device_id):
    try:
        accepted = d.check_device_id(device_id)
    except d.SensorFieldError:
        return
    topic = d.mqtt_topic(uuid.UUID(int=1), uuid.UUID(int=2), accepted)
    assert topic.split("/")[3] == accepted
    assert len(topic.split("/")) == 5


def test_thresholds_min_above_max_is_refused():
    with pytest.raises(d.SensorFieldError) as err:
        d.check_thresholds(10.0, 5.0)
    assert err.value.field == "alertThresholdMin"
    d.check_thresholds(5.0, 5.0)
    d.check_thresholds(None, 5.0)


def test_numbers_are_shown_at_the_sensors_resolution():
    from koprogo_graph.domain.sensors import clean, resolution_of

    assert resolution_of("m3") == 3 and resolution_of("°C") == 2 and resolution_of("%") == 1
    assert resolution_of("ppm") == 0 and resolution_of("m3", 1) == 1 and resolution_of("L") == 3
    assert clean(1000.012 - 1000, 3) == 0.012
    assert repr(clean(0.009000000000000341, 3)) == "0.009"
    assert clean(-0.0001, 3) == 0.0 and str(clean(-0.0001, 3)) == "0.0"
    assert clean(None, 3) is None
