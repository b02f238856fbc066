"""What people see (SPEC §14, issue 16), in a real browser: Debian's chromium driven by
Playwright. The dashboard loads with no request leaving 127.0.0.1, signs in, shows a building's
sensors and a chart with data, a reading published over MQTT without a reload, a new alert,
and acknowledges it; GraphiQL runs a query offline. Screenshots go to test-output/."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import openpyxl
import pytest
from playwright.async_api import async_playwright, expect

from koprogo_graph.demo import DEMO_ORGANIZATION

from .conftest import ADMIN_DSN, JWT_SECRET, create_sensor, eventually
from .processes import PrivateMosquitto, ServiceProcess

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"

if not Path(CHROMIUM).exists():
    pytestmark = pytest.mark.skipif(
        not os.environ.get("KOPROGO_CI"),
        reason="Debian's chromium is not installed here (apt-get install chromium)",
    )


@pytest.fixture
async def browser() -> AsyncIterator:
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


async def new_page(browser, outside: list[str]):
    """A page that records (and refuses) every request to anywhere but 127.0.0.1."""
    page = await browser.new_page(viewport={"width": 1400, "height": 1000})
    page.on("console", lambda m: print("browser console:", m.type, m.text))

    async def guard(route):
        host = urlsplit(route.request.url).hostname
        if host == "127.0.0.1":
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    await page.route("**/*", guard)
    return page


async def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


async def _meter_history(dsn: str, org: uuid.UUID, building: str, sensor: dict) -> None:
    """Hourly readings of a water meter over this month and last month (the chart's two)."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = (now.replace(day=1) - timedelta(days=1)).replace(day=1) - timedelta(days=1)
    hours = int((now - start) / timedelta(hours=1))
    con = await asyncpg.connect(dsn)
    try:
        await con.executemany(
            "INSERT INTO readings (sensor_id, ts, organization_id, building_id, value, raw_value,"
            " quality) VALUES ($1, $2, $3, $4, $5, $5, 'GOOD')",
            [
                (
                    uuid.UUID(sensor["id"]),
                    start + timedelta(hours=h),
                    org,
                    uuid.UUID(building),
                    100 + 0.01 * h,
                )
                for h in range(hours)
            ],
        )
    finally:
        await con.close()


async def meter_and_probe(gql, bearer: str, building: str, tag: str) -> tuple[dict, dict]:
    """A water meter (WM-<tag>-1) and a room probe (T-<tag>-1, alert above 30 °C)."""
    meter = await create_sensor(gql, bearer, buildingId=building, deviceId=f"WM-{tag}-1")
    probe = await create_sensor(
        gql,
        bearer,
        buildingId=building,
        deviceId=f"T-{tag}-1",
        type="TEMPERATURE",
        unitOfMeasure="°C",
        alertThresholdMax=30.0,
    )
    return meter, probe


async def test_the_dashboard_shows_a_building_live_with_nothing_from_outside(
    ingest_server, gql_ingest, token, mqtt_publisher, database_url, browser
):
    org, building = uuid.uuid4(), str(uuid.uuid4())
    bearer = token(org)
    meter, probe = await meter_and_probe(gql_ingest, bearer, building, "LIVE")
    labelled = await gql_ingest(
        'mutation($id: ID!) { updateBuilding(id: $id, input: {label: "Résidence Test"}) { label } }',
        {"id": building},
        bearer,
    )
    assert "errors" not in labelled, labelled
    await _meter_history(database_url, org, building, meter)

    outside: list[str] = []
    page = await new_page(browser, outside)
    await page.goto(f"{ingest_server.url}/")
    await page.fill("textarea[name=token]", bearer)
    await page.click("button[type=submit]")
    rows = page.locator("[data-testid=sensor-row]")
    await rows.nth(1).wait_for()
    assert await rows.count() == 2
    assert "Résidence Test" in await page.locator("[data-testid=building]").inner_text()
    # The chart: this month's water against last month's, drawn with data.
    await page.locator("[data-testid=chart] canvas").wait_for()
    current = page.locator("[data-testid=chart-current]")
    await current.wait_for()
    assert float(await current.inner_text()) > 0
    await shot(page, "dashboard-signed-in")

    # A reading over MQTT appears without a reload.
    reading = {"timestamp": datetime.now(UTC).isoformat(), "value": 4321.125}
    await mqtt_publisher.publish(meter["mqttTopic"], json.dumps(reading), qos=1)
    live_value = page.locator("[data-device=WM-LIVE-1] [data-testid=last-value]")
    await expect(live_value).to_contain_text("4321.125", timeout=20_000)

    # A new alert appears, and is acknowledged from the page.
    hot = {"timestamp": datetime.now(UTC).isoformat(), "value": 45.0}
    await mqtt_publisher.publish(probe["mqttTopic"], json.dumps(hot), qos=1)
    alert = page.locator("[data-testid=alert][data-type=THRESHOLD_EXCEEDED]")
    await alert.wait_for(timeout=20_000)
    assert await alert.get_attribute("data-status") == "OPEN"
    await shot(page, "dashboard-alert")
    await alert.get_by_role("button", name="Acknowledge").click()
    await page.locator(
        "[data-testid=alert][data-type=THRESHOLD_EXCEEDED][data-status=ACKNOWLEDGED]"
    ).wait_for()
    await shot(page, "dashboard-acknowledged")
    stored = await gql_ingest(
        "query($s: ID!) { alerts(sensorId: $s) { edges { node { status } } } }",
        {"s": probe["id"]},
        bearer,
    )
    assert [e["node"]["status"] for e in stored["data"]["alerts"]["edges"]] == ["ACKNOWLEDGED"]
    # Resolved, it leaves the list.
    await alert.get_by_role("button", name="Resolve").click()
    await expect(page.locator("[data-testid=alert]")).to_have_count(0)

    # A message the ingestor refuses shows among the rejected ones.
    await mqtt_publisher.publish(meter["mqttTopic"], b"{not json", qos=1)

    async def rejected() -> bool:
        body = await gql_ingest("{ rejectedMessages(first: 5) { reason } }", None, bearer)
        return any(m["reason"] == "INVALID_JSON" for m in body["data"]["rejectedMessages"])

    await eventually(rejected)
    panel = page.locator("[data-testid=rejected]")
    await panel.get_by_role("button", name="Refresh").click()
    await expect(panel).to_contain_text("INVALID_JSON")
    await expect(panel).to_contain_text(meter["mqttTopic"])
    await shot(page, "dashboard-rejected")
    assert outside == []


async def test_the_page_names_nothing_outside_and_says_so_in_its_policy(http):
    page = await http.get("/")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "http" not in page.text.replace("http-equiv", "")
    assert 'name="koprogo-demo-token"' not in page.text  # only the demo fills it in
    for asset in ("/static/dashboard/assets/dashboard.js", "/static/dashboard/assets/index.css"):
        assert (await http.get(asset)).status_code == 200


async def test_graphiql_runs_a_query_offline(server, browser):
    outside: list[str] = []
    page = await new_page(browser, outside)
    await page.goto(f"{server.url}/graphql")
    editor = page.locator(".graphiql-query-editor .CodeMirror, .graphiql-query-editor .cm-content")
    await editor.first.click()
    await page.keyboard.press("Control+A")
    await page.keyboard.type("{ __typename }")
    await page.locator(".graphiql-execute-button").click()
    await expect(page.locator(".result-window")).to_contain_text('"__typename": "Query"')
    await shot(page, "graphiql")
    assert outside == []


async def test_the_page_is_limited_per_address(http):
    answers = [(await http.get("/")).status_code for _ in range(45)]
    assert answers[:25] == [200] * 25 and 429 in answers


# Keeps the page's websockets at hand, and refuses new ones while window.__offline is set: a
# dropped connection that cannot come back until the test says so.
SOCKETS = """
window.__sockets = [];
window.__offline = false;
const Native = window.WebSocket;
window.WebSocket = function (url, protocols) {
  const socket = new Native(window.__offline ? "ws://127.0.0.1:9/offline" : url, protocols);
  window.__sockets.push(socket);
  return socket;
};
window.WebSocket.prototype = Native.prototype;
Object.assign(window.WebSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
"""


async def test_the_widgets_catch_up_after_a_dropped_connection(
    ingest_server, gql_ingest, token, mqtt_publisher, browser
):
    org, building = uuid.uuid4(), str(uuid.uuid4())
    bearer = token(org)
    meter, probe = await meter_and_probe(gql_ingest, bearer, building, "DROP")
    outside: list[str] = []
    page = await new_page(browser, outside)
    await page.add_init_script(SOCKETS)
    await page.goto(f"{ingest_server.url}/")
    await page.fill("textarea[name=token]", bearer)
    await page.click("button[type=submit]")
    await page.locator("[data-testid=sensor-row]").nth(1).wait_for()
    await page.wait_for_function("window.__sockets.some(s => s.readyState === 1)")

    # The connection drops and stays down while a reading and an alert happen.
    await page.evaluate("window.__offline = true; window.__sockets.forEach(s => s.close())")
    now = datetime.now(UTC).isoformat()
    await mqtt_publisher.publish(meter["mqttTopic"], json.dumps({"timestamp": now, "value": 77.5}))
    await mqtt_publisher.publish(probe["mqttTopic"], json.dumps({"timestamp": now, "value": 41.0}))

    async def both_stored() -> bool:
        body = await gql_ingest(
            "query($s: ID!, $p: ID!) { sensor(id: $s) { lastValue }"
            " alerts(sensorId: $p) { totalCount } }",
            {"s": meter["id"], "p": probe["id"]},
            bearer,
        )
        return body["data"]["sensor"]["lastValue"] == 77.5 and body["data"]["alerts"]["totalCount"]

    await eventually(both_stored)
    value = page.locator("[data-device=WM-DROP-1] [data-testid=last-value]")
    assert "77.5" not in await value.inner_text()  # missed while offline
    # Back online: the client reconnects by itself and the widgets re-read what they show.
    await page.evaluate("window.__offline = false")
    await expect(value).to_contain_text("77.5", timeout=30_000)
    await expect(page.locator("[data-testid=alert][data-type=THRESHOLD_EXCEEDED]")).to_have_count(
        1, timeout=30_000
    )
    await shot(page, "dashboard-after-reconnection")
    assert outside == []


@pytest.fixture
async def demo(tmp_path) -> AsyncIterator[ServiceProcess]:
    """`koprogo-graph demo` as a user runs it, with a database and a broker of its own."""
    name = f"koprogo_demo_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    broker = PrivateMosquitto()
    await broker.start()
    service = ServiceProcess(
        {
            "DATABASE_URL": ADMIN_DSN.rpartition("/")[0] + f"/{name}",
            "MQTT_URL": f"mqtt://127.0.0.1:{broker.port}",
            "REDIS_URL": "",
            "KOPROGO_JWT_SECRET": JWT_SECRET,
            "KOPROGO_LOG_LEVEL": "WARNING",
        },
        tmp_path / "demo.log",
        command="demo",
    )
    try:
        await service.start()
        yield service
    finally:
        service.stop()
        broker.cleanup()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_a_syndic_sees_the_demo_building_and_its_leak_as_it_happens(demo, token, browser):
    """The issue's "done when": the demo building's sensors, this month's water against last
    month's, and the leak alert appearing live, with nothing asked of any other host."""
    bearer = token(DEMO_ORGANIZATION)

    async def provisioned() -> bool:
        async with httpx.AsyncClient(base_url=demo.url) as client:
            body = (
                await client.post(
                    "/graphql",
                    json={"query": "{ buildings { sensorCount } }"},
                    headers={"Authorization": f"Bearer {bearer}"},
                )
            ).json()
        return bool(body["data"]["buildings"]) and body["data"]["buildings"][0]["sensorCount"] == 12

    await eventually(provisioned)
    outside: list[str] = []
    page = await new_page(browser, outside)
    await page.goto(f"{demo.url}/")
    await page.click("button[type=submit]")  # the demo's token is filled in
    await expect(page.locator("[data-testid=sensor-row]")).to_have_count(12)
    await expect(page.locator("[data-testid=building]")).to_contain_text("Résidence Démo")
    await page.locator("[data-testid=chart] canvas").wait_for()
    await expect(page.locator("[data-testid=chart]")).to_contain_text("This month against last")
    leak = page.locator("[data-testid=alert][data-type=LEAK_DETECTED]")
    await expect(leak).to_have_count(1, timeout=90_000)  # the watchdog looks every 15 s
    await shot(page, "demo-leak")
    assert outside == []


async def test_an_expired_token_brings_back_the_sign_in(server, graphql, token, browser):
    org = uuid.uuid4()
    await create_sensor(graphql, token(org))
    outside: list[str] = []
    page = await new_page(browser, outside)
    await page.goto(f"{server.url}/")
    await page.fill("textarea[name=token]", token(org, expires_in=3))
    await page.click("button[type=submit]")
    await page.locator("[data-testid=sensor-row]").first.wait_for()
    # The server closes the live connection when the token expires (4403): no retry loop, the
    # sign-in form again, saying why.
    await expect(page.locator("form.signin")).to_contain_text("Signed out", timeout=20_000)
    await shot(page, "dashboard-signed-out")
    assert outside == []


async def test_a_syndic_reads_last_months_statement_and_downloads_the_spreadsheet(
    ingest_server, gql_ingest, token, database_url, browser, tmp_path
):
    org, building, unit = uuid.uuid4(), str(uuid.uuid4()), str(uuid.uuid4())
    bearer = token(org)
    meter = await create_sensor(
        gql_ingest, bearer, buildingId=building, unitId=unit, deviceId="WM-UNIT-1"
    )
    await _meter_history(database_url, org, building, meter)
    # Independently: 0.01 m3 an hour, every hour of last month in Brussels.
    brussels = ZoneInfo("Europe/Brussels")
    first = datetime.now(brussels).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    previous = (first - timedelta(days=1)).replace(day=1)
    hours = (first.astimezone(UTC) - previous.astimezone(UTC)) / timedelta(hours=1)
    expected = round(0.01 * hours, 3)

    outside: list[str] = []
    page = await new_page(browser, outside)
    await page.goto(f"{ingest_server.url}/")
    await page.fill("textarea[name=token]", bearer)
    await page.click("button[type=submit]")
    card = page.locator("[data-testid=statement]")
    await expect(card.locator("[data-testid=statement-total]")).to_contain_text(f"{expected:g}")
    await expect(card.locator("[data-testid=statement-unit]")).to_have_count(1)
    await shot(page, "dashboard-statement")
    async with page.expect_download() as downloading:
        await card.get_by_role("button", name="Download .xlsx").click()
    saved = tmp_path / "statement.xlsx"
    await (await downloading.value).save_as(saved)
    rows = list(openpyxl.load_workbook(saved).active.iter_rows(values_only=True))
    assert rows[-1][0] == "total" and rows[-1][-1] == expected
    assert outside == []


async def test_a_co_owner_sees_their_own_unit_and_nobody_elses(
    ingest_server, gql_ingest, token, database_url, browser
):
    org, building = uuid.uuid4(), str(uuid.uuid4())
    mine, theirs, owner = str(uuid.uuid4()), str(uuid.uuid4()), uuid.uuid4()
    bearer = token(org)
    meters = {
        unit: await create_sensor(
            gql_ingest, bearer, buildingId=building, unitId=unit, deviceId=f"WM-{name}"
        )
        for unit, name in ((mine, "MINE"), (theirs, "THEIRS"))
    }
    for meter in meters.values():
        await _meter_history(database_url, org, building, meter)
    assigned = await gql_ingest(
        "mutation($u: ID!, $o: ID!) { assignUnitOwner(unitId: $u, userId: $o) { unitId } }",
        {"u": mine, "o": str(owner)},
        bearer,
    )
    assert "errors" not in assigned, assigned

    outside: list[str] = []
    page = await new_page(browser, outside)
    await page.goto(f"{ingest_server.url}/")
    await page.fill("textarea[name=token]", token(org, "owner", user_id=owner))
    await page.click("button[type=submit]")
    rows = page.locator("[data-testid=sensor-row]")
    await expect(rows).to_have_count(1)
    assert await rows.first.get_attribute("data-device") == "WM-MINE"
    statement = page.locator("[data-testid=statement]")
    await expect(statement.locator("[data-testid=statement-unit]")).to_have_count(1)
    await expect(statement.locator("[data-testid=statement-unit]")).to_contain_text(mine[:8])
    # The building's total (both units) stays visible: twice the owner's own.
    total = await statement.locator("[data-testid=statement-total]").inner_text()
    charged = await statement.locator("[data-testid=statement-unit] td").last.inner_text()
    assert float(total.split()[0]) == 2 * float(charged)
    await shot(page, "dashboard-owner")
    assert outside == []
