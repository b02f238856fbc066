"""Live subscriptions over real websockets: both subprotocols, auth refusal, filters, tenant
isolation, and a second replica (API only) receiving what the ingesting one stored."""

from __future__ import annotations

import asyncio
import json
import uuid
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest
import websockets
from gql import Client, gql
from gql.transport.websockets import WebsocketsTransport

from .conftest import RunningServer, create_sensor
from .live_clients import gauge, live_subscriptions, raw_subscription, subscriptions_registered

READING_ADDED = gql("""subscription($buildingId: ID, $sensorIds: [ID!]) {
  readingAdded(buildingId: $buildingId, sensorIds: $sensorIds) { sensorId value rawValue timestamp quality unitOfMeasure }
}""")
STATUS_CHANGED = gql("subscription { sensorStatusChanged { id status deviceId } }")


async def make_sensor(graphql, token, org, building=None, **extra) -> dict:
    return await create_sensor(
        graphql, token(org), buildingId=str(building or uuid.uuid4()), **extra
    )


def reading(value: float, seconds_ago: float = 1.0) -> bytes:
    ts = (datetime.now(UTC) - timedelta(seconds=seconds_ago)).isoformat()
    return json.dumps({"timestamp": ts, "value": value}).encode()


@asynccontextmanager
async def live(server: RunningServer, token: str, protocol: str = "graphql-transport-ws"):
    transport = WebsocketsTransport(
        url=server.ws_url,
        init_payload={"Authorization": f"Bearer {token}"},
        subprotocols=[protocol],
    )
    async with Client(transport=transport, fetch_schema_from_transport=False) as session:
        yield session


async def first_events(session, query, count: int, variables=None):
    events = []
    async for result in session.subscribe(query, variable_values=variables):
        events.append(result)
        if len(events) == count:
            return events
    return events


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_reading_added_reaches_a_subscriber_on_another_replica(
    protocol, server, ingest_server, graphql, token, mqtt_publisher, http
):
    """The subscriber is on the API-only replica; the reading is ingested by the other one."""
    org = uuid.uuid4()
    sensor = await make_sensor(graphql, token, org, calibrationFactor=2.0)
    async with live(server, token(org, "owner"), protocol) as session:
        async with subscriptions_registered(server, http, 1):
            task = asyncio.create_task(first_events(session, READING_ADDED, 1))
        await mqtt_publisher.publish(sensor["mqttTopic"], reading(21.0), qos=1)
        (event,) = await asyncio.wait_for(task, 20)
    assert event["readingAdded"]["sensorId"] == sensor["id"]
    assert event["readingAdded"]["value"] == 42.0
    assert event["readingAdded"]["rawValue"] == 21.0
    assert event["readingAdded"]["unitOfMeasure"] == "m3"


RAW_READINGS = (
    "subscription($b: ID, $s: [ID!]) { readingAdded(buildingId: $b, sensorIds: $s) { value } }"
)


async def test_filters_and_tenant_isolation(
    server, ingest_server, graphql, token, mqtt_publisher, http
):
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    building = uuid.uuid4()
    wanted = await make_sensor(graphql, token, mine, building)
    other_in_building = await make_sensor(graphql, token, mine, building)
    elsewhere = await make_sensor(graphql, token, mine)
    foreign = await make_sensor(graphql, token, theirs)

    async with AsyncExitStack() as stack:
        async with subscriptions_registered(server, http, 3):
            by_sensor = await stack.enter_async_context(
                raw_subscription(server, token(mine), RAW_READINGS, {"s": [wanted["id"]]})
            )
            by_building = await stack.enter_async_context(
                raw_subscription(server, token(mine), RAW_READINGS, {"b": str(building)})
            )
            everything = await stack.enter_async_context(
                raw_subscription(server, token(mine), RAW_READINGS)
            )
        # The foreign and unwanted readings go first: a leak or a broken filter would show them first.
        for sensor, value in (
            (foreign, 1.0),
            (elsewhere, 2.0),
            (other_in_building, 3.0),
            (wanted, 4.0),
        ):
            await mqtt_publisher.publish(sensor["mqttTopic"], reading(value), qos=1)

        assert (await by_sensor())["readingAdded"]["value"] == 4.0
        assert [(await by_building())["readingAdded"]["value"] for _ in range(2)] == [3.0, 4.0]
        assert sorted([(await everything())["readingAdded"]["value"] for _ in range(3)]) == [
            2.0,
            3.0,
            4.0,
        ]


async def test_identical_subscriptions_of_an_organization_share_one_execution(
    server, ingest_server, graphql, token, mqtt_publisher, http
):
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    building, their_building = uuid.uuid4(), uuid.uuid4()
    my_sensor = await make_sensor(graphql, token, mine, building)
    their_sensor = await make_sensor(graphql, token, theirs, their_building)
    for _ in range(400):  # the previous tests' subscriptions are gone
        if await live_subscriptions(http, server) == 0:
            break
        await asyncio.sleep(0.025)
    assert await gauge(http, server, "koprogo_live_shared_streams") == 0

    variables = {"b": str(building)}
    async with AsyncExitStack() as stack:
        async with subscriptions_registered(server, http, 4):
            mine_a, mine_b, mine_c = [
                await stack.enter_async_context(
                    raw_subscription(server, token(mine, role), RAW_READINGS, variables)
                )
                for role in ("accountant", "accountant", "syndic")
            ]
            their_own = await stack.enter_async_context(
                raw_subscription(server, token(theirs), RAW_READINGS, {"b": str(their_building)})
            )
        # Two accountants of one organization share; another role and another organization do
        # not (nor two owners: each sees only their own units).
        assert await gauge(http, server, "koprogo_live_shared_streams") == 3

        await mqtt_publisher.publish(their_sensor["mqttTopic"], reading(1.0), qos=1)
        await mqtt_publisher.publish(my_sensor["mqttTopic"], reading(2.0), qos=1)
        for next_data in (mine_a, mine_b, mine_c):
            assert (await next_data())["readingAdded"]["value"] == 2.0
        assert (await their_own())["readingAdded"]["value"] == 1.0


async def test_one_subscriber_leaving_a_shared_stream_leaves_the_others_listening(
    server, ingest_server, graphql, token, mqtt_publisher, http
):
    org = uuid.uuid4()
    sensor = await make_sensor(graphql, token, org)
    variables = {"s": [sensor["id"]]}
    async with AsyncExitStack() as staying_stack:
        async with AsyncExitStack() as leaving_stack:
            async with subscriptions_registered(server, http, 2):
                staying = await staying_stack.enter_async_context(
                    raw_subscription(server, token(org), RAW_READINGS, variables)
                )
                leaving = await leaving_stack.enter_async_context(
                    raw_subscription(server, token(org), RAW_READINGS, variables)
                )
            await mqtt_publisher.publish(sensor["mqttTopic"], reading(1.0), qos=1)
            assert (await leaving())["readingAdded"]["value"] == 1.0
            assert (await staying())["readingAdded"]["value"] == 1.0
        # The leaving client is gone; the shared stream goes on for the other.
        await mqtt_publisher.publish(sensor["mqttTopic"], reading(2.0, seconds_ago=0.5), qos=1)
        assert (await staying())["readingAdded"]["value"] == 2.0


async def test_an_invalid_subscription_is_refused_to_each_client(server, token):
    org = uuid.uuid4()
    query = "subscription { readingAdded(buildingId: 12) { nosuchfield } }"

    async def subscribe() -> dict:
        async with websockets.connect(server.ws_url, subprotocols=["graphql-transport-ws"]) as ws:
            await ws.send(
                json.dumps(
                    {
                        "type": "connection_init",
                        "payload": {"Authorization": f"Bearer {token(org)}"},
                    }
                )
            )
            await ws.recv()
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
            return json.loads(await asyncio.wait_for(ws.recv(), 20))

    for message in await asyncio.gather(subscribe(), subscribe()):
        assert message["type"] == "error"
        assert message["payload"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_sensor_status_changes_are_pushed(server, graphql, token, http):
    org = uuid.uuid4()
    sensor = await make_sensor(graphql, token, org)
    async with live(server, token(org, "owner")) as session:
        async with subscriptions_registered(server, http, 1):
            task = asyncio.create_task(first_events(session, STATUS_CHANGED, 1))
        body = await graphql(
            "mutation($id: ID!) { updateSensor(id: $id, input: {status: MAINTENANCE}) { id } }",
            {"id": sensor["id"]},
            token(org),
        )
        assert "errors" not in body
        (event,) = await asyncio.wait_for(task, 20)
    assert event["sensorStatusChanged"] == {
        "id": sensor["id"],
        "status": "MAINTENANCE",
        "deviceId": sensor["mqttTopic"].split("/")[3],
    }


async def refusal(server: RunningServer, payload: dict, protocol: str) -> tuple[list[str], int]:
    """The message types received after connection_init, and the close code."""
    types = []
    async with websockets.connect(server.ws_url, subprotocols=[protocol]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        try:
            while True:
                types.append(json.loads(await asyncio.wait_for(ws.recv(), 10))["type"])
        except websockets.ConnectionClosed as closed:
            return types, closed.rcvd.code


BAD_PAYLOADS = [
    lambda token, org: {},
    lambda token, org: {"Authorization": "Bearer nonsense"},
    lambda token, org: {"Authorization": f"Bearer {token(org, expires_in=-5)}"},
    lambda token, org: {"Authorization": f"Bearer {token(None)}"},
]


@pytest.mark.parametrize("make_payload", BAD_PAYLOADS)
async def test_connections_without_a_valid_token_are_refused(server, token, make_payload):
    payload = make_payload(token, uuid.uuid4())
    # graphql-transport-ws: close 4403 Forbidden, nothing else.
    assert await refusal(server, payload, "graphql-transport-ws") == ([], 4403)
    # Legacy graphql-ws has its own refusal: a connection_error message, then the close.
    types, _ = await refusal(server, payload, "graphql-ws")
    assert types == ["connection_error"]


@pytest.mark.parametrize("subscribed", [True, False])
async def test_a_connection_is_closed_when_its_token_expires(server, token, subscribed):
    org = uuid.uuid4()
    async with websockets.connect(server.ws_url, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(
            json.dumps(
                {
                    "type": "connection_init",
                    "payload": {"Authorization": f"Bearer {token(org, expires_in=2)}"},
                }
            )
        )
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        if subscribed:
            await ws.send(
                json.dumps(
                    {
                        "id": "1",
                        "type": "subscribe",
                        "payload": {"query": "subscription { readingAdded { value } }"},
                    }
                )
            )
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 15)
    assert closed.value.rcvd.code == 4403


async def test_a_connection_holds_a_limited_number_of_subscriptions(server, token):
    """MAX_SUBSCRIPTIONS per connection: one more is refused with an error; a completed one frees
    its slot."""
    from koprogo_graph.app import MAX_SUBSCRIPTIONS

    def subscribe(n: int) -> str:
        query = "subscription { readingAdded { value } }"
        return json.dumps({"id": str(n), "type": "subscribe", "payload": {"query": query}})

    async with websockets.connect(server.ws_url, subprotocols=["graphql-transport-ws"]) as ws:
        init = {"Authorization": f"Bearer {token(uuid.uuid4())}"}
        await ws.send(json.dumps({"type": "connection_init", "payload": init}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        for n in range(1, MAX_SUBSCRIPTIONS + 2):
            await ws.send(subscribe(n))
        # Messages are handled in order: the first answer is the refusal of the one too many.
        refusal = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert refusal["id"] == str(MAX_SUBSCRIPTIONS + 1)
        assert refusal["type"] == "error"
        assert refusal["payload"][0]["message"] == "Subscription limit reached"

        await ws.send(json.dumps({"id": "1", "type": "complete"}))
        await ws.send(subscribe(MAX_SUBSCRIPTIONS + 2))  # takes the freed slot...
        await ws.send(subscribe(MAX_SUBSCRIPTIONS + 3))  # ...so this one is refused
        refusal = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert (refusal["id"], refusal["type"]) == (str(MAX_SUBSCRIPTIONS + 3), "error")
