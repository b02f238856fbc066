"""The alert engine end to end, with the real broker, database, an SMTP server (aiosmtpd) and an
HTTP receiver on loopback: the seed scenario, dedup, auto-resolve, offline detection, delivery
retries, role checks and tenant isolation."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import uvicorn
from aiosmtpd.controller import Controller

from .conftest import (
    RunningServer,
    error_codes,
    eventually,
    make_settings,
    serving,
)
from .live_clients import registered_subscription
from .processes import free_port
from .test_subscriptions import raw_subscription, subscriptions_registered

ALERT_FIELDS = (
    "id type severity status occurrences readingValue thresholdValue emailSent pushSent message"
)
SECRET = "webhook-secret-for-tests"


class Mailbox:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture(scope="module")
def mailbox():
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield box, controller.port
    controller.stop()


class Receiver:
    """An HTTP endpoint that records webhook deliveries; it can be told to fail."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, dict]] = []
        self.failures: dict[str, int] = {}  # sensorId -> deliveries to refuse

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status = 200
        sensor_id = json.loads(body)["alert"]["sensorId"] if body else None
        if self.failures.get(sensor_id, 0) > 0:
            self.failures[sensor_id] -= 1
            status = 503
        else:
            self.received.append((body, {k.decode(): v.decode() for k, v in scope["headers"]}))
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    app = Receiver()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield app, f"http://127.0.0.1:{port}/hook"
    server.should_exit = True
    await task


@pytest.fixture(scope="module")
async def alert_server(database_url, run_id, mailbox) -> AsyncIterator[RunningServer]:
    _, smtp_port = mailbox
    settings = make_settings(
        database_url,
        KOPROGO_INGEST="true",
        KOPROGO_MQTT_CLIENT_ID=f"koprogo-test-alerts-{run_id}",
        KOPROGO_MQTT_GROUP=f"test-alerts-{run_id}",
        SMTP_URL=f"smtp://127.0.0.1:{smtp_port}",
        KOPROGO_OFFLINE_CHECK_SECONDS="0.2",
        KOPROGO_NOTIFY_RETRY_SECONDS="0.05",
        KOPROGO_RATE_BURST="1000",
        KOPROGO_NOTIFY="true",
        KOPROGO_LEAK_CHECK_SECONDS="1",
        KOPROGO_REMINDER_MINUTES="0.02",
        KOPROGO_WEBHOOK_ALLOW_PRIVATE="true",  # the receiver listens on loopback
    )
    async with serving(settings) as running:
        yield running


@pytest.fixture(scope="module")
async def gq(alert_server) -> AsyncIterator:
    async with httpx.AsyncClient(base_url=alert_server.url, timeout=30) as client:

        async def post(query, variables=None, token=None):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            return (
                await client.post(
                    "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
                )
            ).json()

        yield post


def first_notices(mails: list) -> list:
    """E-mails announcing an alert (reminders, which the module's short interval brings, aside)."""
    return [m for m in mails if b"Rappel" not in m.content]


async def setup_org(gq, token, receiver_url, org, **sensor_extra) -> dict:
    body = await gq(
        """mutation($input: NotificationSettingsInput!) {
        configureNotifications(input: $input) { emails webhookUrl hasWebhookSecret minSeverity } }""",
        {
            "input": {
                "emails": ["syndic@example.org"],
                "webhookUrl": receiver_url,
                "webhookSecret": SECRET,
                "minSeverity": "WARNING",
            }
        },
        token(org),
    )
    assert body["data"]["configureNotifications"]["hasWebhookSecret"] is True, body
    body = await gq(
        "mutation($input: CreateSensorInput!) { createSensor(input: $input) { id mqttTopic } }",
        {
            "input": {
                "buildingId": str(uuid.uuid4()),
                "deviceId": f"HW-{uuid.uuid4().hex[:6]}",
                "type": "HOT_WATER",
                "readingKind": "INSTANTANEOUS",
                "manufacturer": "Kamstrup",
                "model": "Flow",
                "location": "Chaufferie",
                "samplingInterval": 60,
                "alertThresholdMax": 50,
                **sensor_extra,
            }
        },
        token(org),
    )
    assert "errors" not in body, body
    return body["data"]["createSensor"]


def payload(value: float, seconds_ago: float = 1.0, **extra) -> bytes:
    ts = (datetime.now(UTC) - timedelta(seconds=seconds_ago)).isoformat()
    return json.dumps({"timestamp": ts, "value": value, **extra}).encode()


async def alerts_of(gq, token, org, sensor_id) -> list[dict]:
    body = await gq(
        f"query($s: ID) {{ alerts(sensorId: $s) {{ totalCount edges {{ node {{ {ALERT_FIELDS} }} }} }} }}",
        {"s": sensor_id},
        token(org),
    )
    return [e["node"] for e in body["data"]["alerts"]["edges"]]


async def test_seed_scenario_critical_alert_email_webhook_and_live_event(
    alert_server, gq, token, mqtt_publisher, mailbox, receiver, http
):
    box, _ = mailbox
    hook, hook_url = receiver
    org = uuid.uuid4()
    sensor = await setup_org(gq, token, hook_url, org)
    mails_before = len(box.messages)

    async with AsyncExitStack() as stack:
        async with subscriptions_registered(alert_server, http, 1):
            alert_changed = await stack.enter_async_context(
                raw_subscription(
                    alert_server,
                    token(org, "owner"),
                    "subscription { alertChanged(minSeverity: WARNING) { type severity status sensorId } }",
                )
            )
        await mqtt_publisher.publish(sensor["mqttTopic"], payload(75.0), qos=1)
        event = (await alert_changed())["alertChanged"]
    assert event == {
        "type": "THRESHOLD_EXCEEDED",
        "severity": "CRITICAL",
        "status": "OPEN",
        "sensorId": sensor["id"],
    }

    async def delivered():
        alerts = await alerts_of(gq, token, org, sensor["id"])
        return alerts if alerts and alerts[0]["emailSent"] else None

    (alert,) = await eventually(delivered)
    assert alert["readingValue"] == 75.0 and alert["thresholdValue"] == 50.0
    # A webhook is nobody's phone: it sets no pushSent (SMS and push channels do, SPEC §13).
    assert alert["pushSent"] is False

    mails = first_notices(box.messages[mails_before:])
    assert len(mails) == 1
    assert mails[0].rcpt_tos == ["syndic@example.org"]
    assert b"CRITICAL" in mails[0].content and b"THRESHOLD_EXCEEDED" in mails[0].content

    body, headers = next(
        (b, h) for b, h in hook.received if json.loads(b)["alert"]["id"] == alert["id"]
    )
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["x-koprogo-signature"] == expected

    # A repeat bumps the same alert and notifies nobody again.
    await mqtt_publisher.publish(sensor["mqttTopic"], payload(80.0, seconds_ago=0.5), qos=1)

    async def bumped():
        alerts = await alerts_of(gq, token, org, sensor["id"])
        return alerts if alerts[0]["occurrences"] == 2 else None

    (alert,) = await eventually(bumped)
    assert alert["status"] == "OPEN"
    assert len(first_notices(box.messages[mails_before:])) == 1

    # Back well inside the range: resolved by itself.
    await mqtt_publisher.publish(sensor["mqttTopic"], payload(30.0, seconds_ago=0.1), qos=1)

    async def resolved():
        alerts = await alerts_of(gq, token, org, sensor["id"])
        return alerts if alerts[0]["status"] == "RESOLVED" else None

    await eventually(resolved)


async def test_handling_alerts_needs_a_manager_and_the_right_organization(
    alert_server, gq, token, mqtt_publisher, receiver
):
    _, hook_url = receiver
    org = uuid.uuid4()
    sensor = await setup_org(gq, token, hook_url, org)
    await mqtt_publisher.publish(sensor["mqttTopic"], payload(60.0), qos=1)

    async def opened():
        return await alerts_of(gq, token, org, sensor["id"])

    (alert,) = await eventually(opened)
    ack = "mutation($id: ID!, $note: String) { acknowledgeAlert(id: $id, note: $note) { status resolutionNote } }"
    assert error_codes(await gq(ack, {"id": alert["id"]}, token(org, "owner"))) == ["FORBIDDEN"]
    assert error_codes(await gq(ack, {"id": alert["id"]}, token(uuid.uuid4()))) == ["NOT_FOUND"]
    assert (
        await gq(
            "query($id: ID!) { alert(id: $id) { id } }", {"id": alert["id"]}, token(uuid.uuid4())
        )
    )["data"]["alert"] is None

    body = await gq(ack, {"id": alert["id"], "note": "plombier appelé"}, token(org))
    assert body["data"]["acknowledgeAlert"] == {
        "status": "ACKNOWLEDGED",
        "resolutionNote": "plombier appelé",
    }
    body = await gq(
        'mutation($id: ID!) { resolveAlert(id: $id, note: "réparé") { status resolvedAt } }',
        {"id": alert["id"]},
        token(org),
    )
    assert body["data"]["resolveAlert"]["status"] == "RESOLVED"

    stats = await gq(
        "{ alertStatistics { total open acknowledged resolved byType { type count } "
        "bySeverity { severity count } meanTimeToAcknowledgeSeconds } }",
        token=token(org),
    )
    s = stats["data"]["alertStatistics"]
    assert (s["total"], s["open"], s["resolved"]) == (1, 0, 1)
    assert s["byType"] == [{"type": "THRESHOLD_EXCEEDED", "count": 1}]
    assert s["meanTimeToAcknowledgeSeconds"] >= 0
    other = await gq("{ alertStatistics { total } }", token=token(uuid.uuid4()))
    assert other["data"]["alertStatistics"]["total"] == 0


async def test_silent_sensors_go_offline_and_come_back(
    alert_server, gq, token, mqtt_publisher, receiver
):
    _, hook_url = receiver
    org = uuid.uuid4()
    sensor = await setup_org(gq, token, hook_url, org, samplingInterval=10)
    await mqtt_publisher.publish(sensor["mqttTopic"], payload(20.0, seconds_ago=60), qos=1)

    async def offline():
        alerts = await alerts_of(gq, token, org, sensor["id"])
        return [a for a in alerts if a["type"] == "SENSOR_OFFLINE" and a["status"] == "OPEN"]

    (alert,) = await eventually(offline)
    assert alert["severity"] == "WARNING"

    await mqtt_publisher.publish(sensor["mqttTopic"], payload(21.0), qos=1)

    async def back():
        alerts = await alerts_of(gq, token, org, sensor["id"])
        return [a for a in alerts if a["type"] == "SENSOR_OFFLINE" and a["status"] == "RESOLVED"]

    await eventually(back)


async def test_a_failing_webhook_is_retried_until_delivered(
    alert_server, gq, token, mqtt_publisher, receiver
):
    hook, hook_url = receiver
    org = uuid.uuid4()
    sensor = await setup_org(gq, token, hook_url, org)
    hook.failures[sensor["id"]] = 2
    await mqtt_publisher.publish(sensor["mqttTopic"], payload(10.0, battery_level=5), qos=1)
    alert = await open_alert_of_type(gq, token, org, sensor["id"], "LOW_BATTERY")
    assert alert["severity"] == "CRITICAL"

    async def first_notice_delivered():
        body = await gq(
            "query($id: ID!) { alert(id: $id) { pushSent deliveries { channel kind attempts sentAt } } }",
            {"id": alert["id"]},
            token(org),
        )
        found = body["data"]["alert"]
        notices = [
            d for d in found["deliveries"] if (d["channel"], d["kind"]) == ("WEBHOOK", "ALERT")
        ]
        return notices if notices and notices[0]["sentAt"] else None

    (notice,) = await eventually(first_notice_delivered)
    assert notice["attempts"] >= 2  # refused at least once by the receiver, then delivered
    assert hook.failures[sensor["id"]] == 0
    assert (
        sum(
            json.loads(b)["alert"]["id"] == alert["id"] and json.loads(b)["event"] == "alert"
            for b, _ in hook.received
        )
        == 1
    )


async def test_sensors_in_maintenance_raise_nothing(
    alert_server, gq, token, mqtt_publisher, receiver
):
    _, hook_url = receiver
    org = uuid.uuid4()
    quiet = await setup_org(gq, token, hook_url, org)
    loud = await setup_org(gq, token, hook_url, org)
    await gq(
        "mutation($id: ID!) { updateSensor(id: $id, input: {status: MAINTENANCE}) { id } }",
        {"id": quiet["id"]},
        token(org),
    )
    await mqtt_publisher.publish(quiet["mqttTopic"], payload(99.0), qos=1)
    await mqtt_publisher.publish(loud["mqttTopic"], payload(99.0), qos=1)

    async def loud_alerted():
        return await alerts_of(gq, token, org, loud["id"])

    await eventually(loud_alerted)  # the quiet sensor's reading was published first
    assert await alerts_of(gq, token, org, quiet["id"]) == []


async def test_bad_notification_settings_name_the_field(alert_server, gq, token):
    org = uuid.uuid4()
    mutation = "mutation($input: NotificationSettingsInput!) { configureNotifications(input: $input) { emails } }"
    body = await gq(mutation, {"input": {"emails": ["ok@example.org", "nope"]}}, token(org))
    assert (
        error_codes(body) == ["BAD_USER_INPUT"]
        and body["errors"][0]["extensions"]["field"] == "emails[1]"
    )
    body = await gq(mutation, {"input": {"webhookUrl": "ftp://x"}}, token(org))
    assert body["errors"][0]["extensions"]["field"] == "webhookUrl"
    assert error_codes(await gq(mutation, {"input": {}}, token(org, "owner"))) == ["FORBIDDEN"]


async def configure(gq, token, org, sensor_id, rules: dict) -> None:
    body = await gq(
        "mutation($id: ID!, $input: AlertRulesInput!) { configureAlerts(id: $id, input: $input) { id } }",
        {"id": sensor_id, "input": rules},
        token(org),
    )
    assert "errors" not in body, body


async def open_alert_of_type(gq, token, org, sensor_id, alert_type):
    async def check():
        alerts = await alerts_of(gq, token, org, sensor_id)
        return [a for a in alerts if a["type"] == alert_type and a["status"] != "RESOLVED"]

    (alert,) = await eventually(check)
    return alert


async def test_a_value_far_from_the_sensors_habits_is_an_anomaly(
    alert_server, gq, token, mqtt_publisher, receiver
):
    _, hook_url = receiver
    org = uuid.uuid4()
    sensor = await setup_org(gq, token, hook_url, org, alertThresholdMax=None)
    await configure(gq, token, org, sensor["id"], {"anomalyDetection": True})
    usual = [
        {
            "timestamp": (datetime.now(UTC) - timedelta(minutes=60 - i)).isoformat(),
            "value": 20.0 + 0.1 * (i % 5),
        }
        for i in range(40)
    ]
    await mqtt_publisher.publish(sensor["mqttTopic"], json.dumps(usual).encode(), qos=1)
    await mqtt_publisher.publish(sensor["mqttTopic"], payload(90.0), qos=1)
    alert = await open_alert_of_type(gq, token, org, sensor["id"], "ANOMALY_DETECTED")
    assert alert["readingValue"] == 90.0


async def test_a_run_of_poor_readings_marks_the_sensor_faulty(
    alert_server, gq, token, mqtt_publisher, receiver
):
    _, hook_url = receiver
    org = uuid.uuid4()
    sensor = await setup_org(gq, token, hook_url, org, alertThresholdMax=None)
    await configure(gq, token, org, sensor["id"], {"poorReadingsRun": 3})
    poor = [
        {
            "timestamp": (datetime.now(UTC) - timedelta(minutes=5 - i)).isoformat(),
            "value": 20.0,
            "signal_strength": -110,
        }
        for i in range(3)
    ]
    await mqtt_publisher.publish(sensor["mqttTopic"], json.dumps(poor).encode(), qos=1)
    alert = await open_alert_of_type(gq, token, org, sensor["id"], "SENSOR_FAULTY")
    assert "POOR" in alert["message"]


async def test_a_stuck_value_marks_the_sensor_faulty(
    alert_server, gq, token, mqtt_publisher, receiver
):
    _, hook_url = receiver
    org = uuid.uuid4()
    sensor = await setup_org(gq, token, hook_url, org, alertThresholdMax=None, samplingInterval=10)
    await configure(gq, token, org, sensor["id"], {"stuckAfterSeconds": 60})
    frozen = [
        {
            "timestamp": (datetime.now(UTC) - timedelta(seconds=70 - 10 * i)).isoformat(),
            "value": 19.5,
        }
        for i in range(7)
    ]
    await mqtt_publisher.publish(sensor["mqttTopic"], json.dumps(frozen).encode(), qos=1)
    alert = await open_alert_of_type(gq, token, org, sensor["id"], "SENSOR_FAULTY")
    assert "stuck" in alert["message"]


async def test_water_flowing_every_hour_for_a_day_is_a_leak(
    alert_server, gq, token, mqtt_publisher
):
    org = uuid.uuid4()
    body = await gq(
        "mutation($input: CreateSensorInput!) { createSensor(input: $input) { id mqttTopic } }",
        {
            "input": {
                "buildingId": str(uuid.uuid4()),
                "deviceId": f"CW-{uuid.uuid4().hex[:6]}",
                "type": "COLD_WATER",
                "manufacturer": "Kamstrup",
                "model": "M21",
                "location": "Cave",
                "samplingInterval": 900,
            }
        },
        token(org),
    )
    sensor = body["data"]["createSensor"]
    now = datetime.now(UTC)
    day = [
        {
            "timestamp": (now - timedelta(minutes=15 * i)).isoformat(),
            "value": 100.0 + 0.003 * (120 - i),
        }
        for i in range(112, -1, -1)
    ]  # 28 h of a meter that never stops: 12 L/h
    await mqtt_publisher.publish(sensor["mqttTopic"], json.dumps(day).encode(), qos=1)
    alert = await open_alert_of_type(gq, token, org, sensor["id"], "LEAK_DETECTED")
    assert alert["severity"] == "CRITICAL"


async def test_a_pending_duration_waits_before_alerting(
    alert_server, gq, token, mqtt_publisher, receiver
):
    _, hook_url = receiver
    org = uuid.uuid4()
    sensor = await setup_org(gq, token, hook_url, org)
    await configure(gq, token, org, sensor["id"], {"pendingSeconds": 600})
    now = datetime.now(UTC)
    exceeding = [
        {"timestamp": (now - timedelta(minutes=30)).isoformat(), "value": 40.0},
        {
            "timestamp": (now - timedelta(minutes=15)).isoformat(),
            "value": 75.0,
        },  # 0 min beyond: waits
        {
            "timestamp": (now - timedelta(minutes=8)).isoformat(),
            "value": 78.0,
        },  # 7 min beyond: waits
        {
            "timestamp": (now - timedelta(minutes=1)).isoformat(),
            "value": 80.0,
        },  # 14 min beyond: alerts
    ]
    await mqtt_publisher.publish(sensor["mqttTopic"], json.dumps(exceeding).encode(), qos=1)
    alert = await open_alert_of_type(gq, token, org, sensor["id"], "THRESHOLD_EXCEEDED")
    assert (alert["readingValue"], alert["occurrences"]) == (80.0, 1)


async def test_an_unacknowledged_critical_alert_is_notified_again(
    alert_server, gq, token, mqtt_publisher, receiver
):
    hook, hook_url = receiver
    org = uuid.uuid4()
    sensor = await setup_org(gq, token, hook_url, org)
    await mqtt_publisher.publish(sensor["mqttTopic"], payload(99.0), qos=1)

    def events_for_sensor() -> list[str]:
        return [
            json.loads(b)["event"]
            for b, _ in hook.received
            if json.loads(b)["alert"]["sensorId"] == sensor["id"]
        ]

    async def reminded():
        return "alert.reminder" in events_for_sensor()

    await eventually(reminded)
    assert events_for_sensor()[0] == "alert"
    alert = await open_alert_of_type(gq, token, org, sensor["id"], "THRESHOLD_EXCEEDED")

    # Acknowledging stops the reminders (they select OPEN alerts only).
    body = await gq(
        "mutation($id: ID!) { acknowledgeAlert(id: $id) { status } }",
        {"id": alert["id"]},
        token(org),
    )
    assert body["data"]["acknowledgeAlert"]["status"] == "ACKNOWLEDGED"
    body = await gq(
        "query($id: ID!) { alert(id: $id) { deliveries { kind } } }",
        {"id": alert["id"]},
        token(org),
    )
    assert {d["kind"] for d in body["data"]["alert"]["deliveries"]} == {"ALERT", "REMINDER"}


async def test_a_failed_delivery_says_why_without_the_url_to_any_role(
    alert_server, gq, token, mqtt_publisher, receiver, caplog
):
    caplog.set_level(logging.DEBUG)
    hook, hook_url = receiver
    org = uuid.uuid4()
    secret_path = f"{hook_url}/token-{uuid.uuid4().hex}"
    sensor = await setup_org(gq, token, secret_path, org)
    hook.failures[sensor["id"]] = 1_000
    await mqtt_publisher.publish(sensor["mqttTopic"], payload(10.0, battery_level=5), qos=1)
    alert = await open_alert_of_type(gq, token, org, sensor["id"], "LOW_BATTERY")

    async def failure_recorded(role):
        body = await gq(
            "query($id: ID!) { alert(id: $id) { deliveries { channel lastError } } }",
            {"id": alert["id"]},
            token(org, role),
        )
        errors = [
            d["lastError"] for d in body["data"]["alert"]["deliveries"] if d["channel"] == "WEBHOOK"
        ]
        return errors if errors and errors[0] else None

    for role in ("syndic", "owner", "accountant"):
        (last_error,) = await eventually(lambda role=role: failure_recorded(role))
        assert last_error == "HTTP 503"
    hook.failures[sensor["id"]] = 0
    await eventually(
        lambda: asyncio.sleep(
            0,
            result=len(hook.received) > 0
            and any(json.loads(b)["alert"]["id"] == alert["id"] for b, _ in hook.received),
        )
    )
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "token-" not in logged and "/hook" not in logged


STATUS = "subscription($b: ID) { sensorStatusChanged(buildingId: $b) { id status connectivity } }"


async def test_connectivity_follows_silence_and_readings_live(
    alert_server, gq, token, mqtt_publisher, receiver
):
    """NEVER_SEEN -> ONLINE (first reading) -> OFFLINE (offline rule) -> ONLINE (a reading), each
    change pushed on sensorStatusChanged and listed by sensors(connectivity:)."""
    _, hook_url = receiver
    org = uuid.uuid4()
    sensor = await setup_org(gq, token, hook_url, org, samplingInterval=10)
    configured = await gq(  # silent for 2 s: offline (the watchdog looks every 0.2 s)
        "mutation($s: ID!) { configureAlerts(id: $s, input: {offlineAfterSeconds: 2}) { id } }",
        {"s": sensor["id"]},
        token(org),
    )
    assert "errors" not in configured, configured
    body = await gq(
        "query($s: ID!) { sensor(id: $s) { connectivity buildingId } }",
        {"s": sensor["id"]},
        token(org),
    )
    assert body["data"]["sensor"]["connectivity"] == "NEVER_SEEN"
    building = body["data"]["sensor"]["buildingId"]
    async with httpx.AsyncClient(base_url=alert_server.url) as http:
        async with registered_subscription(
            alert_server, http, token(org), STATUS, {"b": building}
        ) as next_data:
            await mqtt_publisher.publish(sensor["mqttTopic"], payload(20.0), qos=1)
            seen = [(await next_data())["sensorStatusChanged"]["connectivity"] for _ in range(2)]
            assert seen == ["ONLINE", "OFFLINE"]
            offline = await gq(
                "{ sensors(connectivity: OFFLINE) { edges { node { id } } } }", token=token(org)
            )
            assert [e["node"]["id"] for e in offline["data"]["sensors"]["edges"]] == [sensor["id"]]
            await mqtt_publisher.publish(sensor["mqttTopic"], payload(21.0), qos=1)
            changed = (await next_data())["sensorStatusChanged"]
            assert changed == {"id": sensor["id"], "status": "ACTIVE", "connectivity": "ONLINE"}


async def test_a_glitch_makes_a_meter_faulty_until_its_alert_is_resolved(
    alert_server, gq, token, mqtt_publisher, receiver
):
    _, hook_url = receiver
    org = uuid.uuid4()
    sensor = await setup_org(gq, token, hook_url, org, readingKind="CUMULATIVE")
    body = await gq(
        "query($s: ID!) { sensor(id: $s) { buildingId } }", {"s": sensor["id"]}, token(org)
    )
    building = body["data"]["sensor"]["buildingId"]
    async with httpx.AsyncClient(base_url=alert_server.url) as http:
        async with registered_subscription(
            alert_server, http, token(org), STATUS, {"b": building}
        ) as next_data:
            await mqtt_publisher.publish(sensor["mqttTopic"], payload(1000.0, seconds_ago=3), qos=1)
            assert (await next_data())["sensorStatusChanged"]["connectivity"] == "ONLINE"
            await mqtt_publisher.publish(sensor["mqttTopic"], payload(999.0, seconds_ago=2), qos=1)
            assert (await next_data())["sensorStatusChanged"]["status"] == "FAULTY"
            alert = await open_alert_of_type(gq, token, org, sensor["id"], "SENSOR_FAULTY")
            resolved = await gq(
                'mutation($a: ID!) { resolveAlert(id: $a, note: "probe replaced") { status } }',
                {"a": alert["id"]},
                token(org),
            )
            assert resolved["data"]["resolveAlert"]["status"] == "RESOLVED"
            assert (await next_data())["sensorStatusChanged"]["status"] == "ACTIVE"

    # A person's MAINTENANCE is not undone when a later fault resolves.
    await mqtt_publisher.publish(sensor["mqttTopic"], payload(998.0, seconds_ago=1), qos=1)
    alert = await open_alert_of_type(gq, token, org, sensor["id"], "SENSOR_FAULTY")
    await gq(
        "mutation($s: ID!) { updateSensor(id: $s, input: {status: MAINTENANCE}) { status } }",
        {"s": sensor["id"]},
        token(org),
    )
    await gq(
        "mutation($a: ID!) { resolveAlert(id: $a) { status } }", {"a": alert["id"]}, token(org)
    )
    body = await gq("query($s: ID!) { sensor(id: $s) { status } }", {"s": sensor["id"]}, token(org))
    assert body["data"]["sensor"]["status"] == "MAINTENANCE"
