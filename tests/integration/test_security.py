"""The attacks of issue #17, reproduced through public surfaces and shown closed."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
import websockets

from koprogo_graph.store.migrate import apply_migrations, migration_files

from .conftest import (
    ADMIN_DSN,
    FRONTEND_ORIGIN,
    RunningServer,
    _dsn_for,
    create_sensor,
    error_codes,
    make_settings,
    serving,
)

BUILDING = """query($b: ID!, $from: DateTime!, $to: DateTime!) {
  buildingConsumption(buildingId: $b, sensorType: COLD_WATER, from: $from, to: $to, bucket: DAY) {
    bucketStart consumption sensorCount } }"""
BUILDINGS = "query { buildings { id label timezone sensorCount } }"


# --- 1. Building ids belong to one organization --------------------------------------------------


async def test_another_organization_cannot_register_a_sensor_in_a_taken_building(graphql, token):
    owner, intruder, building = uuid.uuid4(), uuid.uuid4(), str(uuid.uuid4())
    await create_sensor(graphql, token(owner), buildingId=building)

    body = await graphql(
        """mutation($input: CreateSensorInput!) { createSensor(input: $input) { id } }""",
        {
            "input": {
                "buildingId": building,
                "deviceId": "INTRUDER-1",
                "type": "COLD_WATER",
                "manufacturer": "x",
                "model": "x",
                "location": "x",
                "samplingInterval": 60,
            }
        },
        token(intruder),
    )
    assert error_codes(body) == ["NOT_FOUND"]
    assert body["errors"][0]["extensions"]["field"] == "buildingId"

    # Nor by moving one of its own sensors there, nor in a batch import.
    own = await create_sensor(graphql, token(intruder))
    moved = await graphql(
        "mutation($id: ID!, $b: ID!) { updateSensor(id: $id, input: {buildingId: $b}) { id } }",
        {"id": own["id"], "b": building},
        token(intruder),
    )
    assert error_codes(moved) == ["NOT_FOUND"]
    assert moved["errors"][0]["extensions"]["field"] == "buildingId"

    # The building is the owner's, listed for it only; the intruder sees nothing of it.
    owners = (await graphql(BUILDINGS, token=token(owner)))["data"]["buildings"]
    assert [(b["id"], b["sensorCount"]) for b in owners] == [(building, 1)]
    theirs = (await graphql(BUILDINGS, token=token(intruder)))["data"]["buildings"]
    assert building not in [b["id"] for b in theirs]
    window = {"b": building, "from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"}
    assert (await graphql(BUILDING, window, token(intruder)))["data"]["buildingConsumption"] == []
    renamed = await graphql(
        'mutation($b: ID!) { updateBuilding(id: $b, input: {label: "mine"}) { id } }',
        {"b": building},
        token(intruder),
    )
    assert error_codes(renamed) == ["NOT_FOUND"]


async def test_update_building_sets_label_and_time_zone(graphql, token):
    org, building = uuid.uuid4(), str(uuid.uuid4())
    await create_sensor(graphql, token(org), buildingId=building)
    body = await graphql(
        """mutation($b: ID!) { updateBuilding(id: $b, input: {label: "Rue Haute 12",
           timezone: "Europe/Paris"}) { id label timezone sensorCount } }""",
        {"b": building},
        token(org),
    )
    assert body["data"]["updateBuilding"] == {
        "id": building,
        "label": "Rue Haute 12",
        "timezone": "Europe/Paris",
        "sensorCount": 1,
    }
    for bad in ("Mars/Olympus", "x" * 300, "Europe/Paris\x00"):
        refused = await graphql(
            "mutation($b: ID!, $tz: String!) { updateBuilding(id: $b, input: {timezone: $tz}) { id } }",
            {"b": building, "tz": bad},
            token(org),
        )
        assert error_codes(refused) == ["BAD_USER_INPUT"], bad
        assert refused["errors"][0]["extensions"]["field"] == "timezone"
    owner_role = await graphql(
        'mutation($b: ID!) { updateBuilding(id: $b, input: {label: "x"}) { id } }',
        {"b": building},
        token(org, "owner"),
    )
    assert error_codes(owner_role) == ["FORBIDDEN"]


# The state the attack of #17 left behind, on the schema before migration 0009: organization A put
# a sensor in B's building and injected readings into B's building rollups.
async def test_migration_0009_gives_each_building_to_its_first_organization():
    name = f"koprogo_test_repair_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    dsn = _dsn_for(name)
    con = await asyncpg.connect(dsn)
    try:
        await con.execute(
            "CREATE TABLE schema_migrations (version text PRIMARY KEY, "
            "applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for path in migration_files():
            if path.stem >= "0009":
                break
            await con.execute(path.read_text())
            await con.execute("INSERT INTO schema_migrations VALUES ($1)", path.stem)
        org_b, org_a, building = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        sensor = """INSERT INTO sensors (organization_id, building_id, device_id, type, reading_kind,
                    manufacturer, model, location, unit_of_measure, sampling_interval, created_at)
                    VALUES ($1, $2, $3, 'COLD_WATER', 'CUMULATIVE', 'x', 'x', 'x', 'm3', 60, $4)
                    RETURNING id"""
        t0 = datetime(2026, 1, 10, tzinfo=UTC)
        b_sensor = await con.fetchval(sensor, org_b, building, "B-1", t0)
        a_sensor = await con.fetchval(sensor, org_a, building, "A-1", t0 + timedelta(days=1))
        insert = """INSERT INTO readings (sensor_id, ts, organization_id, building_id, value,
                    raw_value, quality) VALUES ($1, $2, $3, $4, $5, $5, 'GOOD')"""
        hour = datetime(2026, 1, 12, 8, tzinfo=UTC)
        for minutes, value in ((0, 100.0), (30, 130.0)):  # B: 30 units in the hour
            await con.execute(
                insert, b_sensor, hour + timedelta(minutes=minutes), org_b, building, value
            )
        for minutes, value in ((10, 5.0), (40, 1_000_005.0), (50, 1.7e308)):  # A's injection
            await con.execute(
                insert, a_sensor, hour + timedelta(minutes=minutes), org_a, building, value
            )
    finally:
        await con.close()

    assert await apply_migrations(dsn) == [p.stem for p in migration_files() if p.stem >= "0009"]

    con = await asyncpg.connect(dsn)
    try:
        owners = await con.fetch(
            "SELECT id, organization_id, label FROM buildings ORDER BY label NULLS FIRST"
        )
        assert (owners[0]["id"], owners[0]["organization_id"]) == (building, org_b)
        moved = owners[1]
        assert moved["organization_id"] == org_a and moved["id"] != building
        assert moved["label"] == f"moved from {building}"
        assert (
            await con.fetchval("SELECT building_id FROM sensors WHERE id = $1", a_sensor)
            == moved["id"]
        )
        assert set(
            await con.fetch(
                "SELECT DISTINCT building_id FROM readings WHERE sensor_id = $1", a_sensor
            )
        ) == {(moved["id"],)}
        rollups = {
            (r["organization_id"], r["building_id"]): r["consumption"]
            for r in await con.fetch("SELECT * FROM readings_hourly_building")
        }
        assert rollups == {(org_b, building): 30.0, (org_a, moved["id"]): 1_000_000.0}
        # The 1.7e308 is gone from the readings, kept as a rejection.
        assert await con.fetchval("SELECT max(value) FROM readings") == 1_000_005.0
        assert (
            await con.fetchval(
                "SELECT count(*) FROM rejected_messages WHERE reason = 'value_out_of_range'"
            )
            == 1
        )
        with pytest.raises(asyncpg.CheckViolationError):
            await con.execute(
                insert, a_sensor, hour + timedelta(minutes=55), org_a, moved["id"], 1e13
            )
    finally:
        await con.close()
        admin = await asyncpg.connect(ADMIN_DSN)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


# --- 2. Size before anything else ------------------------------------------------------------


async def raw_http(server: RunningServer, head: bytes, body: bytes = b"") -> bytes:
    """Send a request by hand (the body may be a fraction of what the head announces) and return
    the status line of the answer (the server may then reset a connection it did not read)."""
    host, port = server.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(head + body)
        return await asyncio.wait_for(reader.readline(), 30)
    finally:
        writer.close()


async def test_huge_unauthenticated_bodies_are_refused_unread_while_the_service_answers(
    server, http
):
    announced = (
        b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 20000000\r\n\r\n"
    )
    # Three 20 MB posts at once, of which the server reads nothing: 413 straight away.
    answers = await asyncio.gather(
        *(raw_http(server, announced, b'{"query": "' + b" " * 65536) for _ in range(3)),
        http.get("/healthz"),
    )
    for answer in answers[:3]:
        assert answer.startswith(b"HTTP/1.1 413"), answer[:100]
    assert answers[3].status_code == 200

    # Without a Content-Length (chunked), the count stops at the limit.
    chunk = b" " * (512 * 1024)
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(3)) + b"0\r\n\r\n"
    answer = await raw_http(
        server,
        b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n",
        chunked,
    )
    assert answer.startswith(b"HTTP/1.1 413"), answer[:100]


async def test_a_document_padded_with_comments_is_refused_before_parsing(http):
    padded = "query {" + "\n# padding" * 5_000 + "\n me { role } }"
    response = await http.post("/graphql", json={"query": padded})
    assert response.status_code == 413
    assert "query" in response.text


async def test_websocket_messages_are_capped_and_huge_documents_refused(server, token):
    org = uuid.uuid4()
    async with websockets.connect(server.ws_url, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(
            json.dumps(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {token(org)}"}}
            )
        )
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        padded = "subscription {" + " " * 40_000 + " readingAdded { value } }"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": padded}}))
        answer = json.loads(await ws.recv())
        assert answer["type"] == "error"
        assert answer["payload"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "query"}
        # The connection still serves.
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await ws.recv())["type"] == "pong"

        await ws.send(
            json.dumps({"id": "2", "type": "subscribe", "payload": {"query": " " * 10_000_000}})
        )
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd.code == 1009  # message too big


# --- 3. Cost and rate --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "series",
    [
        'readingSeries(sensorId: $id, from: "2026-01-01T00:00:00Z", '
        'to: "2026-02-04T00:00:00Z", bucket: FIVE_MINUTES, fill: LINEAR) { avg }',
        'readingSeriesChart(sensorId: $id, from: "2026-01-01T00:00:00Z", '
        'to: "2026-02-04T00:00:00Z", bucket: FIVE_MINUTES) { columns }',
    ],
)
async def test_thirty_aliases_of_the_longest_series_are_refused_unexecuted(graphql, token, series):
    org = uuid.uuid4()
    sensor = await create_sensor(graphql, token(org))
    aliases = " ".join(f"a{i}: {series}" for i in range(30))
    body = await graphql(f"query($id: ID!) {{ {aliases} }}", {"id": sensor["id"]}, token(org))
    assert body["data"] is None
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == "query"
    assert "more than 20000" in body["errors"][0]["message"]

    # One such series is fine: the limit is per request, not per field.
    one = await graphql(
        "query($id: ID!, $from: DateTime!) { readingSeries(sensorId: $id, from: $from, "
        'to: "2026-02-04T00:00:00Z", bucket: FIVE_MINUTES, fill: LINEAR) { avg } }',
        {"id": sensor["id"], "from": "2026-01-01T00:00:00Z"},
        token(org),
    )
    assert "errors" not in one and len(one["data"]["readingSeries"]) == 9792


@pytest.fixture
async def strict_server(database_url: str) -> AsyncIterator[RunningServer]:
    """A production-mode API with tiny limits: 5 requests per viewer (then one per 100 s), 4
    websockets per address, 2 per user, 0.3 s to send connection_init."""
    settings = make_settings(
        database_url,
        KOPROGO_ENV="production",
        KOPROGO_JWT_SECRET="integration-tests-secret-0123456789abcdef",
        KOPROGO_API_RATE_LIMIT="0.01",
        KOPROGO_API_RATE_BURST="5",
        KOPROGO_WS_MAX_PER_ADDRESS="4",
        KOPROGO_WS_MAX_PER_USER="2",
        KOPROGO_WS_INIT_TIMEOUT_SECONDS="0.3",
    )
    async with serving(settings) as running:
        yield running


async def test_each_viewer_and_each_anonymous_address_has_its_own_rate(strict_server, token):
    async with httpx.AsyncClient(base_url=strict_server.url) as client:

        async def ask(bearer: str | None) -> dict:
            headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
            response = await client.post(
                "/graphql", json={"query": "{ me { role } }"}, headers=headers
            )
            return response.json()

        alice, bob = token(uuid.uuid4()), token(uuid.uuid4())
        for _ in range(5):
            assert "errors" not in await ask(alice)
        limited = await ask(alice)
        assert error_codes(limited) == ["RATE_LIMITED"]
        assert "slow down" in limited["errors"][0]["message"]
        assert "errors" not in await ask(bob)  # another viewer is not slowed by Alice
        for _ in range(5):
            assert error_codes(await ask(None)) == ["UNAUTHENTICATED"]
        assert error_codes(await ask(None)) == ["RATE_LIMITED"]


# --- 4. Webhooks to internal addresses -----------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/graphql",
        "http://localhost:6379/",
        "http://169.254.169.254/latest/",
        "http://[::1]/",
    ],
)
async def test_a_webhook_to_an_internal_address_is_refused(graphql, token, url):
    body = await graphql(
        "mutation($u: String!) { configureNotifications(input: {webhookUrl: $u}) { webhookUrl } }",
        {"u": url},
        token(uuid.uuid4()),
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == "webhookUrl"
    assert url not in body["errors"][0]["message"]


# --- 6. Websocket connections --------------------------------------------------------------------


def legacy(server: RunningServer, **options):
    return websockets.connect(server.ws_url, subprotocols=["graphql-ws"], **options)


async def legacy_init(ws, bearer: str | None) -> dict:
    payload = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
    return json.loads(await ws.recv())


async def closed_with(ws) -> int:
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await ws.recv()
    return closed.value.rcvd.code


async def test_legacy_connections_without_init_are_closed_like_the_modern_protocol(strict_server):
    for protocol in ("graphql-ws", "graphql-transport-ws"):
        async with websockets.connect(strict_server.ws_url, subprotocols=[protocol]) as ws:
            assert await closed_with(ws) == 4408


async def test_a_bad_token_on_the_legacy_protocol_closes_with_4403(server, token):
    for bearer in (None, "not-a-token", token(uuid.uuid4(), expires_in=-10)):
        async with legacy(server) as ws:
            refused = await legacy_init(ws, bearer)
            assert refused["type"] == "connection_error"
            assert await closed_with(ws) == 4403


async def test_the_legacy_protocol_answers_queries_and_malformed_messages_cleanly(
    server, token, caplog
):
    caplog.set_level(logging.INFO)
    async with legacy(server) as ws:
        assert (await legacy_init(ws, token(uuid.uuid4())))["type"] == "connection_ack"
        for message in (
            {"id": "1", "type": "start", "payload": {"query": "{ me { role } }"}},
            {"id": "2", "type": "start"},
            {"id": "3", "type": "start", "payload": {"query": 12}},
            {"type": "start", "payload": {"query": "subscription { readingAdded { value } }"}},
            [1, 2, 3],
            {"type": 5},
        ):
            await ws.send(json.dumps(message))
            answer = json.loads(await ws.recv())
            assert answer["type"] == "error", (message, answer)
            assert answer["payload"]["extensions"]["code"] == "BAD_USER_INPUT"
        # Still serving: a real subscription is accepted.
        await ws.send(json.dumps({"id": "9", "type": "stop"}))
        await ws.send(json.dumps({"type": "connection_terminate"}))
        assert await closed_with(ws) == 1000
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_websockets_are_capped_per_user_and_per_address(strict_server, token):
    user = uuid.uuid4()
    bearer = token(uuid.uuid4(), user_id=user)
    async with AsyncExitStack() as stack:
        for _ in range(2):
            ws = await stack.enter_async_context(legacy(strict_server))
            assert (await legacy_init(ws, bearer))["type"] == "connection_ack"
        third = await stack.enter_async_context(legacy(strict_server))
        refused = await legacy_init(third, bearer)
        assert refused == {
            "type": "connection_error",
            "payload": {"message": "Too many connections for this user"},
        }
        assert await closed_with(third) == 4403
        # Two open, one closed: two more from this address fill it; the fifth is refused.
        for _ in range(2):
            await stack.enter_async_context(legacy(strict_server))
        with pytest.raises(websockets.InvalidStatus) as refused_handshake:
            await stack.enter_async_context(legacy(strict_server))
        assert refused_handshake.value.response.status_code == 403


# --- 7. Introspection and suggestions in production -------------------------------------------


async def test_production_hides_the_schema_from_anonymous_clients_only(strict_server, token):
    introspection = "{ __schema { queryType { name } } }"
    misspelt = "{ sensorz { totalCount } }"
    async with httpx.AsyncClient(base_url=strict_server.url) as client:

        async def ask(query: str, bearer: str | None) -> dict:
            headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
            return (await client.post("/graphql", json={"query": query}, headers=headers)).json()

        anonymous = await ask(introspection, None)
        assert anonymous.get("data") is None
        assert set(error_codes(anonymous)) == {"BAD_USER_INPUT"}
        assert "introspection" in anonymous["errors"][0]["message"].lower()
        typo = await ask(misspelt, None)
        assert "Did you mean" not in typo["errors"][0]["message"]

        bearer = token(uuid.uuid4())
        viewer = await ask(introspection, bearer)
        assert viewer["data"] == {"__schema": {"queryType": {"name": "Query"}}}
        # A validation remembered for the viewer is not one for an anonymous client.
        assert set(error_codes(await ask(introspection, None))) == {"BAD_USER_INPUT"}
        assert "Did you mean" in (await ask(misspelt, bearer))["errors"][0]["message"]
        # GraphiQL itself is served: a partner pastes a token in its header editor.
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200


async def test_too_many_aliases_are_refused_every_time(graphql, token):
    many = "{ " + " ".join(f"a{i}: __typename" for i in range(31)) + " }"
    for _ in range(2):  # refused again: only documents that passed are remembered
        body = await graphql(many, None, token(uuid.uuid4()))
        assert error_codes(body) == ["BAD_USER_INPUT"], body
        assert "aliases" in body["errors"][0]["message"]
    fewer = "{ " + " ".join(f"a{i}: __typename" for i in range(30)) + " }"
    for _ in range(2):
        assert "errors" not in await graphql(fewer, None, token(uuid.uuid4()))


async def test_development_and_tests_keep_introspection_open(graphql):
    body = await graphql("{ __schema { queryType { name } } }")
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


# --- 8 and 9. Input limits and quiet failures ----------------------------------------------------


@pytest.mark.parametrize(
    ("field", "mutation", "variables"),
    [
        (
            "firmwareVersion",
            "mutation($id: ID!, $v: String) { updateSensor(id: $id, input: {firmwareVersion: $v}) { id } }",
            {"v": "1." * 100},
        ),
        (
            "note",
            'mutation($id: ID!, $v: String) { recordManualReading(input: {sensorId: $id, readAt: "2026-01-01T00:00:00Z", value: 1, note: $v}) { id } }',
            {"v": "x" * 2001},
        ),
        (
            "value",
            'mutation($id: ID!) { recordManualReading(input: {sensorId: $id, readAt: "2026-01-01T00:00:00Z", value: 1.7e308}) { id } }',
            {},
        ),
        (
            "resolution",
            "mutation($id: ID!) { updateSensor(id: $id, input: {resolution: 9}) { id } }",
            {},
        ),
        (
            "calibrationFactor",
            "mutation($id: ID!) { calibrateSensor(id: $id, calibrationFactor: 1e300) { id } }",
            {},
        ),
        (
            "emails",
            "mutation($v: [String!]!) { configureNotifications(input: {emails: $v}) { emails } }",
            {"v": [f"a{i}@example.org" for i in range(51)]},
        ),
        (
            "webhookUrl",
            "mutation($v: String) { configureNotifications(input: {webhookUrl: $v}) { emails } }",
            {"v": "https://example.org/" + "x" * 3000},
        ),
    ],
)
async def test_every_text_and_number_is_bounded(graphql, token, field, mutation, variables):
    org = uuid.uuid4()
    sensor = await create_sensor(graphql, token(org))
    if "$id" in mutation:
        variables = {**variables, "id": sensor["id"]}
    body = await graphql(mutation, variables, token(org))
    assert error_codes(body) == ["BAD_USER_INPUT"], body
    assert body["errors"][0]["extensions"]["field"] == field


NUL_CASES = [
    (
        "location",
        'mutation($v: String!) { createSensor(input: {buildingId: "%s", deviceId: "N1", type: COLD_WATER, manufacturer: "x", model: "x", location: $v, samplingInterval: 60}) { id } }',
    ),
    (
        "manufacturer",
        'mutation($v: String!) { createSensor(input: {buildingId: "%s", deviceId: "N2", type: COLD_WATER, manufacturer: $v, model: "x", location: "x", samplingInterval: 60}) { id } }',
    ),
    (
        "deviceId",
        'mutation($v: String!) { createSensor(input: {buildingId: "%s", deviceId: $v, type: COLD_WATER, manufacturer: "x", model: "x", location: "x", samplingInterval: 60}) { id } }',
    ),
    (
        "buildingId",
        'mutation($v: ID!) { createSensor(input: {buildingId: $v, deviceId: "N3", type: COLD_WATER, manufacturer: "x", model: "x", location: "x", samplingInterval: 60}) { id } }',
    ),
    ("label", 'mutation($v: String!) { updateBuilding(id: "%s", input: {label: $v}) { id } }'),
    (
        "timezone",
        'query($v: String!) { readingSeries(sensorId: "%s", from: "2026-01-01T00:00:00Z", to: "2026-01-02T00:00:00Z", bucket: HOUR, timezone: $v) { count } }',
    ),
    ("note", 'mutation($v: String!) { acknowledgeAlert(id: "%s", note: $v) { id } }'),
    (
        "webhookSecret",
        "mutation($v: String!) { configureNotifications(input: {webhookSecret: $v}) { emails } }",
    ),
    (
        "emails[0]",
        "mutation($v: String!) { configureNotifications(input: {emails: [$v]}) { emails } }",
    ),
    ("after", "query($v: String!) { sensors(after: $v) { totalCount } }"),
    ("id", "query($v: ID!) { sensor(id: $v) { id } }"),
    (
        "sensorId",
        'query($v: ID!) { readings(sensorId: $v, from: "2026-01-01T00:00:00Z", to: "2026-01-02T00:00:00Z") { totalCount } }',
    ),
]


@pytest.mark.parametrize(("field", "operation"), NUL_CASES)
async def test_a_nul_byte_in_any_text_argument_is_a_clean_client_error(
    graphql, token, caplog, field, operation
):
    caplog.set_level(logging.INFO)
    org, building = uuid.uuid4(), str(uuid.uuid4())
    sensor = await create_sensor(graphql, token(org), buildingId=building)
    target = building if "updateBuilding" in operation else sensor["id"]
    body = await graphql(operation.replace("%s", target), {"v": "abc\x00def"}, token(org))
    assert error_codes(body) == ["BAD_USER_INPUT"], body
    assert body["errors"][0]["extensions"]["field"] == field
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_an_overlong_time_zone_is_a_clean_client_error(graphql, token, caplog):
    caplog.set_level(logging.INFO)
    org = uuid.uuid4()
    sensor = await create_sensor(graphql, token(org))
    body = await graphql(
        'query($id: ID!, $tz: String!) { readingSeries(sensorId: $id, from: "2026-01-01T00:00:00Z", '
        'to: "2026-01-02T00:00:00Z", bucket: DAY, timezone: $tz) { count } }',
        {"id": sensor["id"], "tz": "Europe/" + "x" * 300},
        token(org),
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == "timezone"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_malformed_websocket_frame_is_closed_cleanly(server, caplog):
    """Four bytes that are no valid frame (reserved bits set, unknown opcode): the server closes
    with a protocol error (1002), and logs no traceback."""
    caplog.set_level(logging.INFO)
    host, port = server.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"GET /graphql HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101")
    writer.write(b"\xff\xff\xff\xff")
    closing = await asyncio.wait_for(reader.read(4), 10)
    writer.close()
    assert closing[:1] == b"\x88"  # a close frame, not a dropped connection
    assert int.from_bytes(closing[2:4], "big") == 1002
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """A migrated database of the test's own (for tests that change what others would read)."""
    name = f"koprogo_test_own_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    try:
        await apply_migrations(_dsn_for(name))
        yield _dsn_for(name)
    finally:
        admin = await asyncpg.connect(ADMIN_DSN)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_the_rejection_log_is_bounded_as_a_whole():
    from koprogo_graph.store import rejections as rejections_store
    from koprogo_graph.store.db import open_database

    rows = [
        rejections_store.RejectionRow(uuid.uuid4(), f"koprogo/{i}", "bad_id", "", "")
        for i in range(30)
    ]
    async with (
        fresh_database() as dsn,
        open_database(dsn, pool_size=2) as db,
        db.system() as con,
    ):
        for chunk in (rows[:10], rows[10:20], rows[20:]):
            await rejections_store.insert(con, chunk, keep_total=12)
        newest = await con.fetch(
            "SELECT topic FROM rejected_messages WHERE topic LIKE 'koprogo/%' ORDER BY id"
        )
        assert [r["topic"] for r in newest][-12:] == [f"koprogo/{i}" for i in range(18, 30)]
        assert len(await con.fetch("SELECT 1 FROM rejected_messages")) == 12


# --- After review: what the first version of the limits let through ----------------------------


async def test_documents_that_expand_beyond_reason_are_refused_unexpanded(graphql, token):
    bearer = token(uuid.uuid4())
    # Each fragment spreads the next three times: 3^20 fields once expanded, 600 characters.
    levels = 20
    fragments = "\n".join(
        f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} ...F{i + 1} }}" for i in range(levels)
    )
    exploding = f"query {{ ...F0 }}\n{fragments}\nfragment F{levels} on Query {{ me {{ role }} }}"
    body = await graphql(exploding, token=bearer)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert "expands to more than" in body["errors"][0]["message"]

    # Inline fragments do not hide thirty long series from the cost.
    series = " ".join(
        f'a{i}: readingSeries(sensorId: "{uuid.uuid4()}", from: "2026-01-01T00:00:00Z", '
        f'to: "2026-02-04T00:00:00Z", bucket: FIVE_MINUTES) {{ avg }}'
        for i in range(30)
    )
    nested = "query { " + "... on Query { " * 21 + series + " }" * 21 + " }"
    body = await graphql(nested, token=bearer)
    assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_a_nul_byte_in_a_variable_default_is_refused(graphql, token):
    org, building = uuid.uuid4(), str(uuid.uuid4())
    await create_sensor(graphql, token(org), buildingId=building)
    body = await graphql(
        'mutation($b: ID!, $l: String = "a\\u0000b") { updateBuilding(id: $b, input: {label: $l}) { id } }',
        {"b": building},
        token(org),
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == "label"


async def test_websocket_operations_are_rate_limited_and_checked_like_http(strict_server, token):
    bearer = token(uuid.uuid4())
    async with websockets.connect(
        strict_server.ws_url, subprotocols=["graphql-transport-ws"]
    ) as ws:
        await ws.send(
            json.dumps(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {bearer}"}}
            )
        )
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        # Variables that are no object: a clean refusal, not a crash.
        await ws.send(
            json.dumps(
                {
                    "id": "v",
                    "type": "subscribe",
                    "payload": {
                        "query": "subscription($b: ID) { readingAdded(buildingId: $b) { value } }",
                        "variables": [1],
                    },
                }
            )
        )
        answer = json.loads(await ws.recv())
        assert answer["type"] == "error"
        assert answer["payload"][0]["extensions"] == {
            "code": "BAD_USER_INPUT",
            "field": "variables",
        }
        # Refused before it counted; five subscriptions fit the burst of five, the next does not.
        for i in range(5):
            await ws.send(
                json.dumps(
                    {
                        "id": f"s{i}",
                        "type": "subscribe",
                        "payload": {"query": "subscription { readingAdded { value } }"},
                    }
                )
            )
        await ws.send(
            json.dumps(
                {
                    "id": "over",
                    "type": "subscribe",
                    "payload": {"query": "subscription { readingAdded { value } }"},
                }
            )
        )
        answer = json.loads(await asyncio.wait_for(ws.recv(), 30))
        assert answer["id"] == "over" and answer["type"] == "error"
        assert answer["payload"][0]["extensions"]["code"] == "RATE_LIMITED"


# --- GraphQL over HTTP: application/graphql-response+json --------------------------------------


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("{ me { role ", {}),  # parse error
        ("{ me { rolez } }", {}),  # validation error
        ("query($n: Int!) { sensors(first: $n) { totalCount } }", {"n": "many"}),  # variables
    ],
)
async def test_request_errors_are_4xx_without_data_for_graphql_response_json(
    http, token, query, variables
):
    bearer = {"Authorization": f"Bearer {token(uuid.uuid4())}"}
    modern = await http.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={**bearer, "Accept": "application/graphql-response+json, application/json;q=0.9"},
    )
    assert modern.status_code == 400
    assert modern.headers["content-type"].startswith("application/graphql-response+json")
    body = modern.json()
    assert "data" not in body and body["errors"]
    legacy = await http.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={**bearer, "Accept": "application/json"},
    )
    assert legacy.status_code == 200 and legacy.json()["data"] is None
    assert legacy.headers["content-type"].startswith("application/json")


async def test_a_successful_operation_is_200_in_graphql_response_json(http, token):
    response = await http.post(
        "/graphql",
        json={"query": "{ me { role } }"},
        headers={
            "Authorization": f"Bearer {token(uuid.uuid4())}",
            "Accept": "application/graphql-response+json",
        },
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/graphql-response+json")
    assert response.json() == {"data": {"me": {"role": "SYNDIC"}}}


async def test_only_the_configured_frontend_may_call_the_api_from_a_browser(http, token):
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    allowed = await http.options("/graphql", headers={"Origin": FRONTEND_ORIGIN, **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == FRONTEND_ORIGIN
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in allowed.headers
    other = await http.options("/graphql", headers={"Origin": "https://evil.example", **preflight})
    assert other.status_code == 400
    assert "access-control-allow-origin" not in other.headers
    asked = await http.post(
        "/graphql",
        json={"query": "{ me { role } }"},
        headers={"Origin": FRONTEND_ORIGIN, "Authorization": f"Bearer {token(uuid.uuid4())}"},
    )
    assert asked.headers["access-control-allow-origin"] == FRONTEND_ORIGIN
    assert asked.json()["data"]["me"]["role"] == "SYNDIC"


async def test_metrics_and_probes_are_limited_per_address(strict_server):
    """On a server of its own: the shared one's scrapes (tests poll its gauges) stay free."""
    async with httpx.AsyncClient(base_url=strict_server.url) as client:
        scrapes = [(await client.get("/metrics")).status_code for _ in range(300)]
        assert scrapes[:100] == [200] * 100 and 429 in scrapes
        # The probes' limits are far above what a kubelet sends (and apart from the scrapes').
        assert [(await client.get(path)).status_code for path in ("/healthz", "/livez")] == [
            200,
            200,
        ]
