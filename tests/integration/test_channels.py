"""Apprise channels (SPEC §13) delivered to real local receivers: once each, after retries when
a receiver fails then recovers, held by quiet hours below CRITICAL; and a channel's URL, which
holds credentials, never shown, logged or exported."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .conftest import (
    RunningServer,
    create_sensor,
    error_codes,
    eventually,
    graphql_client,
    make_settings,
    serving,
)

SECRET = "s3cr3t-t0ken-that-must-never-show"
SETTINGS = """query { notificationSettings { channels { id kind service url minSeverity
  quietHours { from to criticalToo } } } }"""
CONFIGURE = """mutation($channels: [NotificationChannelInput!]!) {
  configureNotifications(input: {channels: $channels}) {
    channels { kind service url minSeverity quietHours { from to criticalToo } }
  }
}"""
ALERT = """query($s: ID!) { alerts(sensorId: $s) { edges { node { id severity pushSent smsSent
  emailSent deliveries { channel kind attempts sentAt nextAttemptAt lastError } } } } }"""


@dataclass
class Receiver:
    """A local HTTP endpoint that records what Apprise posts; ``fail_first`` answers 500."""

    fail_first: int = 0
    received: list[dict] = field(default_factory=list)
    refused: int = 0
    port: int = 0

    async def handle(self, request: Request) -> JSONResponse:
        if self.refused < self.fail_first:
            self.refused += 1
            return JSONResponse({"error": "down"}, status_code=500)
        body = await request.body()
        self.received.append(
            {"path": request.url.path, "headers": dict(request.headers), "body": body.decode()}
        )
        return JSONResponse({"ok": True})


@pytest.fixture
async def receivers() -> AsyncIterator[dict[str, Receiver]]:
    found = {"json": Receiver(), "ntfy": Receiver(), "flaky": Receiver(fail_first=2)}
    servers = []
    for receiver in found.values():
        app = Starlette(routes=[Route("/{path:path}", receiver.handle, methods=["POST", "PUT"])])
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error"))
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        receiver.port = server.servers[0].sockets[0].getsockname()[1]
        servers.append((server, task))
    yield found
    for server, task in servers:
        server.should_exit = True
        await task


@pytest.fixture(scope="module")
async def notifying_server(database_url: str) -> AsyncIterator[RunningServer]:
    run = uuid.uuid4().hex[:8]
    settings = make_settings(
        database_url,
        KOPROGO_INGEST="true",
        KOPROGO_NOTIFY="true",
        KOPROGO_NOTIFY_RETRY_SECONDS="0.05",
        KOPROGO_WEBHOOK_ALLOW_PRIVATE="true",
        KOPROGO_MQTT_CLIENT_ID=f"koprogo-channels-{run}",
        KOPROGO_MQTT_GROUP=f"channels-{run}",
    )
    async with serving(settings) as running:
        yield running


@pytest.fixture(scope="module")
async def gql(notifying_server: RunningServer) -> AsyncIterator:
    async with graphql_client(notifying_server) as post:
        yield post


async def publish_reading(mqtt_publisher, topic: str, value: float, ago: float = 1) -> None:
    reading = {
        "timestamp": (datetime.now(UTC) - timedelta(seconds=ago)).isoformat(),
        "value": value,
    }
    await mqtt_publisher.publish(topic, json.dumps(reading), qos=1)


async def alert_of(gql, bearer: str, sensor_id: str, ready) -> dict:
    async def check():
        body = await gql(ALERT, {"s": sensor_id}, bearer)
        edges = body["data"]["alerts"]["edges"]
        return edges[0]["node"] if edges and ready(edges[0]["node"]) else None

    return await eventually(check)


async def test_a_critical_alert_reaches_every_channel_once_even_one_that_failed_first(
    gql, token, receivers, mqtt_publisher, caplog
):
    caplog.set_level(logging.DEBUG)
    org = uuid.uuid4()
    bearer = token(org)
    channels = [
        {"url": f"json://user:{SECRET}@127.0.0.1:{receivers['json'].port}/hook"},
        {"url": f"ntfy://user:{SECRET}@127.0.0.1:{receivers['ntfy'].port}/koprogo-alerts"},
        {"url": f"json://127.0.0.1:{receivers['flaky'].port}/{SECRET}", "minSeverity": "CRITICAL"},
    ]
    configured = await gql(CONFIGURE, {"channels": channels}, bearer)
    assert "errors" not in configured, configured
    shown = configured["data"]["configureNotifications"]["channels"]
    assert [c["kind"] for c in shown] == ["PUSH", "PUSH", "PUSH"]
    assert [c["minSeverity"] for c in shown] == ["INFO", "INFO", "CRITICAL"]
    probe = await create_sensor(
        gql, bearer, type="TEMPERATURE", alertThresholdMax=10.0, samplingInterval=60
    )
    await publish_reading(mqtt_publisher, probe["mqttTopic"], 100.0)  # 10x the maximum

    alert = await alert_of(
        gql,
        bearer,
        probe["id"],
        lambda a: sum(d["sentAt"] is not None for d in a["deliveries"]) == 3,
    )
    assert alert["severity"] == "CRITICAL"
    assert alert["pushSent"] is True and alert["smsSent"] is False
    assert sorted(d["channel"] for d in alert["deliveries"]) == ["PUSH", "PUSH", "PUSH"]
    flaky = next(d for d in alert["deliveries"] if d["attempts"] > 1)
    assert flaky["attempts"] == 3 and flaky["lastError"] is None  # two failures, then through
    for name in ("json", "ntfy", "flaky"):  # once each
        assert len(receivers[name].received) == 1, name
    assert "CRITICAL" in receivers["json"].received[0]["body"]
    assert receivers["flaky"].refused == 2

    # The URL's secret shows nowhere: not in answers, not in the log, not in the metrics.
    listed = await gql(SETTINGS, None, bearer)
    answers = json.dumps([configured, listed, alert])
    metrics = (await gql.client.get("/metrics")).text
    assert SECRET not in answers
    assert SECRET not in caplog.text
    assert SECRET not in metrics
    assert "****" in json.dumps(listed)  # masked, not dropped


async def test_quiet_hours_hold_a_warning_and_let_a_critical_through(
    gql, token, receivers, mqtt_publisher
):
    org = uuid.uuid4()
    bearer = token(org)
    local = datetime.now(ZoneInfo("Europe/Brussels"))  # the building's time zone (default)
    start, end = local - timedelta(hours=1), local + timedelta(hours=1)
    quiet = {"from": start.strftime("%H:%M"), "to": end.strftime("%H:%M")}
    url = f"json://127.0.0.1:{receivers['json'].port}/night"
    configured = await gql(CONFIGURE, {"channels": [{"url": url, "quietHours": quiet}]}, bearer)
    assert "errors" not in configured, configured
    warm = await create_sensor(gql, bearer, type="TEMPERATURE", alertThresholdMax=20.0)
    hot = await create_sensor(gql, bearer, type="TEMPERATURE", alertThresholdMax=20.0)
    await publish_reading(mqtt_publisher, warm["mqttTopic"], 22.0)  # 10 % over: WARNING
    await publish_reading(mqtt_publisher, hot["mqttTopic"], 60.0)  # 200 % over: CRITICAL

    critical = await alert_of(gql, bearer, hot["id"], lambda a: a["pushSent"])
    assert critical["severity"] == "CRITICAL"
    warning = await alert_of(gql, bearer, warm["id"], lambda a: a["deliveries"])
    assert warning["severity"] == "WARNING" and warning["pushSent"] is False
    (held,) = warning["deliveries"]
    assert held["sentAt"] is None and held["attempts"] == 0
    due = datetime.fromisoformat(held["nextAttemptAt"]).astimezone(ZoneInfo("Europe/Brussels"))
    assert due.strftime("%H:%M") == quiet["to"]  # the morning after the quiet hours
    paths = [r["path"] for r in receivers["json"].received]
    assert paths == ["/night"]  # the CRITICAL one only


@pytest.mark.parametrize(
    ("channel", "complaint"),
    [
        ({"url": "nonsense://whatever"}, "not a URL Apprise knows"),
        ({"url": "https://example.org/hook"}, "web address"),
        ({"url": "json://" + "x" * 3000}, "at most 2000"),
        ({"url": "ntfy://host/topic", "quietHours": {"from": "25:00", "to": "06:00"}}, "HH:MM"),
    ],
)
async def test_a_bad_channel_is_refused_naming_its_field_without_quoting_it(
    gql, token, channel, complaint
):
    body = await gql(CONFIGURE, {"channels": [channel]}, token(uuid.uuid4()))
    assert error_codes(body) == ["BAD_USER_INPUT"]
    error = body["errors"][0]
    assert error["extensions"]["field"].startswith("channels[0]")
    assert complaint in error["message"]
    assert channel["url"] not in error["message"]


async def test_the_same_channel_twice_is_refused_naming_the_second(gql, token):
    twice = [{"url": "ntfy://ntfy.sh/koprogo-a"}, {"url": "ntfy://ntfy.sh/koprogo-a"}]
    body = await gql(CONFIGURE, {"channels": twice}, token(uuid.uuid4()))
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == "channels[1].url"
    assert "ntfy.sh" not in body["errors"][0]["message"]


async def test_channels_are_for_managers(gql, token):
    body = await gql(CONFIGURE, {"channels": []}, token(uuid.uuid4(), role="owner"))
    assert error_codes(body) == ["FORBIDDEN"]


async def test_reconfiguring_keeps_an_unchanged_channel_and_what_it_still_has_to_send(
    gql, token, receivers, mqtt_publisher
):
    org = uuid.uuid4()
    bearer = token(org)
    local = datetime.now(ZoneInfo("Europe/Brussels"))
    quiet = {
        "from": (local - timedelta(hours=1)).strftime("%H:%M"),
        "to": (local + timedelta(hours=1)).strftime("%H:%M"),
    }
    kept = {"url": f"json://127.0.0.1:{receivers['json'].port}/kept", "quietHours": quiet}
    assert "errors" not in await gql(CONFIGURE, {"channels": [kept]}, bearer)
    probe = await create_sensor(gql, bearer, type="TEMPERATURE", alertThresholdMax=20.0)
    await publish_reading(mqtt_publisher, probe["mqttTopic"], 22.0)  # WARNING: held
    warning = await alert_of(gql, bearer, probe["id"], lambda a: a["deliveries"])
    (held,) = warning["deliveries"]

    # The e-mails alone: the channels stay. The same URL with another neighbour: kept.
    body = await gql(
        "mutation { configureNotifications(input: {emails: []}) { channels { url } } }",
        None,
        bearer,
    )
    assert len(body["data"]["configureNotifications"]["channels"]) == 1
    other = {"url": f"ntfy://127.0.0.1:{receivers['ntfy'].port}/other"}
    assert "errors" not in await gql(CONFIGURE, {"channels": [other, kept]}, bearer)
    again = await alert_of(gql, bearer, probe["id"], lambda a: a["deliveries"])
    assert again["deliveries"] == [held]  # still waiting for the morning, same delivery

    # Removing it cancels what it still had to send (and keeps the record).
    assert "errors" not in await gql(CONFIGURE, {"channels": [other]}, bearer)
    (cancelled,) = (await alert_of(gql, bearer, probe["id"], lambda a: a["deliveries"]))[
        "deliveries"
    ]
    assert cancelled["sentAt"] is None and cancelled["nextAttemptAt"] is None
    assert "removed" in cancelled["lastError"]
