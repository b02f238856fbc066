"""Routing of alerts to channels (pure): least severity, quiet hours in the building's local
time (CRITICAL passes unless the channel holds it too), overnight windows and DST; and what
kind of delivery a channel URL makes, masked."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from koprogo_graph.domain.alerts import AlertSeverity
from koprogo_graph.domain.routing import Route, parse_quiet_hours
from koprogo_graph.domain.sensors import SensorFieldError
from koprogo_graph.notify.channels import ChannelUrlError, inspect_url
from koprogo_graph.notify.secretbox import SecretBox, UnreadableSecret

NIGHT = parse_quiet_hours("22:00", "07:00", False, "quietHours")
BRUSSELS = "Europe/Brussels"


def test_a_channel_takes_alerts_from_its_least_severity_up():
    route = Route(AlertSeverity.WARNING)
    assert not route.takes(AlertSeverity.INFO)
    assert route.takes(AlertSeverity.WARNING) and route.takes(AlertSeverity.CRITICAL)


def test_quiet_hours_hold_a_warning_until_morning_and_let_a_critical_through():
    route = Route(quiet=NIGHT)
    three_am = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)  # 03:00 in Brussels
    held = route.not_before(AlertSeverity.WARNING, three_am, BRUSSELS)
    assert held == datetime(2026, 12, 2, 6, 0, tzinfo=UTC)  # 07:00 in Brussels
    assert route.not_before(AlertSeverity.CRITICAL, three_am, BRUSSELS) == three_am
    noon = datetime(2026, 12, 2, 11, 0, tzinfo=UTC)
    assert route.not_before(AlertSeverity.WARNING, noon, BRUSSELS) == noon
    evening = datetime(2026, 12, 2, 22, 30, tzinfo=UTC)  # 23:30: held to the next morning
    assert route.not_before(AlertSeverity.INFO, evening, BRUSSELS) == datetime(
        2026, 12, 3, 6, 0, tzinfo=UTC
    )


def test_a_channel_may_hold_criticals_too_and_the_night_is_the_buildings():
    strict = Route(quiet=parse_quiet_hours("22:00", "07:00", True, "q"))
    three_am = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
    assert strict.not_before(AlertSeverity.CRITICAL, three_am, BRUSSELS) > three_am
    # 03:00 UTC is 22:00 the evening before in New York: quiet there too; 18:00 UTC is 13:00.
    assert Route(quiet=NIGHT).not_before(
        AlertSeverity.INFO, datetime(2026, 12, 2, 18, 0, tzinfo=UTC), "America/New_York"
    ) == datetime(2026, 12, 2, 18, 0, tzinfo=UTC)


def test_quiet_hours_ending_on_the_spring_forward_morning_end_at_the_right_instant():
    route = Route(quiet=parse_quiet_hours("01:00", "03:30", False, "q"))
    # 2026-03-29 in Brussels: 02:00 does not exist (clocks go to 03:00); 01:30 is 00:30 UTC.
    held = route.not_before(AlertSeverity.INFO, datetime(2026, 3, 29, 0, 30, tzinfo=UTC), BRUSSELS)
    assert held == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 CEST


def test_bad_quiet_hours_name_their_field():
    with pytest.raises(SensorFieldError) as refused:
        parse_quiet_hours("7h", "08:00", False, "channels[1].quietHours")
    assert refused.value.field == "channels[1].quietHours.from"


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("twilio://AC1234567890abcdef1234567890abcd:secrettoken@15551234567/15557654321", "sms"),
        ("mailtos://user:secret@example.org", "email"),
        ("ntfys://ntfy.sh/koprogo-alerts", "push"),
        ("tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-100123", "push"),
    ],
)
def test_a_channel_url_says_what_it_delivers_and_shows_no_secret(url, kind):
    found = asyncio.run(inspect_url(url, allow_private=False))
    assert found.kind == kind
    for secret in (
        "secrettoken",
        "secret@",
        "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
        "koprogo-alerts",
    ):
        assert secret not in found.masked


def test_self_hosted_receivers_on_private_addresses_need_the_operators_consent():
    with pytest.raises(ChannelUrlError, match="private"):
        asyncio.run(inspect_url("json://10.0.0.5/hook", allow_private=False))
    assert asyncio.run(inspect_url("json://10.0.0.5/hook", allow_private=True)).kind == "push"


def test_sealed_urls_open_with_their_key_only():
    box = SecretBox("a-secret-key-of-at-least-32-characters!")
    sealed = box.seal("ntfys://ntfy.sh/topic")
    assert b"ntfy" not in sealed
    assert box.open(sealed) == "ntfys://ntfy.sh/topic"
    with pytest.raises(UnreadableSecret):
        SecretBox("another-key-of-at-least-32-characters!!").open(sealed)
