"""Sensor management over real HTTP against the real app and a fresh database."""

from __future__ import annotations

import uuid

import pytest

from .conftest import error_codes

CREATE = """
mutation($input: CreateSensorInput!) {
  createSensor(input: $input) {
    id organizationId buildingId deviceId type readingKind unitOfMeasure samplingInterval
    calibrationFactor mqttTopic status alertThresholdMax alertRules { thresholdMax }
  }
}"""
SENSOR = "query($id: ID!) { sensor(id: $id) { id deviceId location calibrationFactor } }"
SENSORS = """
query($first: Int, $after: String, $buildingId: ID, $type: SensorType, $status: SensorStatus) {
  sensors(first: $first, after: $after, buildingId: $buildingId, type: $type, status: $status) {
    totalCount edges { cursor node { id deviceId } } pageInfo { hasNextPage endCursor }
  }
}"""


def sensor_input(building_id: uuid.UUID, device_id: str, **extra: object) -> dict:
    return {
        "buildingId": str(building_id),
        "deviceId": device_id,
        "type": "HOT_WATER",
        "manufacturer": "Kamstrup",
        "model": "MULTICAL 21",
        "location": "Cave, colonne B",
        "samplingInterval": 60,
        **extra,
    }


@pytest.fixture
def org() -> uuid.UUID:
    return uuid.uuid4()


@pytest.fixture
def building() -> uuid.UUID:
    return uuid.uuid4()


async def create(graphql, token, org, building, device_id="KAM-1", **extra) -> dict:
    body = await graphql(CREATE, {"input": sensor_input(building, device_id, **extra)}, token(org))
    assert "errors" not in body, body
    return body["data"]["createSensor"]


async def test_syndic_creates_a_sensor_with_derived_topic_and_type_defaults(
    graphql, token, org, building
):
    sensor = await create(graphql, token, org, building, alertThresholdMax=50.0)

    assert sensor["organizationId"] == str(org)
    assert sensor["readingKind"] == "CUMULATIVE"
    assert sensor["unitOfMeasure"] == "m3"
    assert sensor["calibrationFactor"] == 1.0
    assert sensor["status"] == "ACTIVE"
    assert sensor["mqttTopic"] == f"koprogo/{org}/{building}/KAM-1/readings"
    assert sensor["alertThresholdMax"] == 50.0
    assert sensor["alertRules"]["thresholdMax"] == 50.0


async def test_temperature_sensors_default_to_instantaneous(graphql, token, org, building):
    sensor = await create(graphql, token, org, building, "T-1", type="TEMPERATURE")
    assert sensor["readingKind"] == "INSTANTANEOUS"
    assert sensor["unitOfMeasure"] == "°C"


async def test_owner_reads_but_cannot_write(graphql, token, org, building):
    sensor = await create(graphql, token, org, building)

    read = await graphql(SENSOR, {"id": sensor["id"]}, token(org, "owner"))
    assert read["data"]["sensor"]["deviceId"] == "KAM-1"

    write = await graphql(CREATE, {"input": sensor_input(building, "X")}, token(org, "owner"))
    assert error_codes(write) == ["FORBIDDEN"]
    delete = await graphql(
        "mutation($id: ID!) { deleteSensor(id: $id) }",
        {"id": sensor["id"]},
        token(org, "accountant"),
    )
    assert error_codes(delete) == ["FORBIDDEN"]


async def test_missing_expired_and_forged_tokens_are_unauthenticated(graphql, token, org):
    assert error_codes(await graphql(SENSORS)) == ["UNAUTHENTICATED"]
    assert error_codes(await graphql(SENSORS, token=token(org, expires_in=-10))) == [
        "UNAUTHENTICATED"
    ]
    forged = token(org, secret="not-the-secret-at-all-0123456789")
    assert error_codes(await graphql(SENSORS, token=forged)) == ["UNAUTHENTICATED"]


async def test_user_without_organization_is_forbidden(graphql, token):
    assert error_codes(await graphql(SENSORS, token=token(None))) == ["FORBIDDEN"]


async def test_me_reflects_the_token(graphql, token, org):
    user = uuid.uuid4()
    body = await graphql(
        "{ me { userId organizationId role email } }", token=token(org, "owner", user_id=user)
    )
    assert body["data"]["me"] == {
        "userId": str(user),
        "organizationId": str(org),
        "role": "OWNER",
        "email": "someone@example.org",
    }


async def test_pagination_walks_every_sensor_once_with_filters(graphql, token, org, building):
    other_building = uuid.uuid4()
    for i in range(5):
        await create(graphql, token, org, building, f"P-{i}")
    await create(graphql, token, org, other_building, "ELSEWHERE", type="ELECTRICITY")

    seen, after = [], None
    while True:
        body = await graphql(
            SENSORS, {"first": 2, "after": after, "buildingId": str(building)}, token(org)
        )
        page = body["data"]["sensors"]
        assert page["totalCount"] == 5
        seen += [e["node"]["deviceId"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [f"P-{i}" for i in range(5)]

    by_type = await graphql(SENSORS, {"type": "ELECTRICITY"}, token(org))
    assert [e["node"]["deviceId"] for e in by_type["data"]["sensors"]["edges"]] == ["ELSEWHERE"]


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"first": 501}, "first"),
        ({"first": -1}, "first"),
        ({"after": "not-a-cursor"}, "after"),
        ({"buildingId": "nope"}, "buildingId"),
        ({"type": "PLUTONIUM"}, "type"),
    ],
)
async def test_bad_list_arguments_name_the_field(graphql, token, org, variables, field):
    body = await graphql(SENSORS, variables, token(org))
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == field


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"samplingInterval": 5}, "samplingInterval"),
        ({"samplingInterval": 86_401}, "samplingInterval"),
        ({"deviceId": "   "}, "deviceId"),
        ({"calibrationFactor": 0}, "calibrationFactor"),
        ({"calibrationFactor": -2.5}, "calibrationFactor"),
        ({"alertThresholdMin": 10, "alertThresholdMax": 5}, "alertThresholdMin"),
        ({"type": "PLUTONIUM"}, "type"),
        ({"buildingId": "not-a-uuid"}, "buildingId"),
    ],
)
async def test_invalid_sensor_input_is_bad_user_input_naming_the_field(
    graphql, token, org, building, extra, field
):
    body = await graphql(CREATE, {"input": sensor_input(building, "BAD", **extra)}, token(org))
    assert error_codes(body) == ["BAD_USER_INPUT"], body
    assert body["errors"][0]["extensions"]["field"] == field
    listed = await graphql(SENSORS, {}, token(org))
    assert listed["data"]["sensors"]["totalCount"] == 0


async def test_duplicate_device_id_is_refused_within_an_org_but_free_across_orgs(
    graphql, token, org, building
):
    await create(graphql, token, org, building, "DUP")
    again = await graphql(CREATE, {"input": sensor_input(building, "DUP")}, token(org))
    assert error_codes(again) == ["BAD_USER_INPUT"]
    assert again["errors"][0]["extensions"]["field"] == "deviceId"

    await create(graphql, token, uuid.uuid4(), uuid.uuid4(), "DUP")


async def test_import_is_all_or_nothing(graphql, token, org, building):
    await create(graphql, token, org, building, "EXISTING")
    mutation = (
        "mutation($input: [CreateSensorInput!]!) { importSensors(input: $input) { deviceId } }"
    )

    clash = [sensor_input(building, "NEW-1"), sensor_input(building, "EXISTING")]
    body = await graphql(mutation, {"input": clash}, token(org))
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == "input[1].deviceId"

    twice = [sensor_input(building, "NEW-1"), sensor_input(building, "NEW-1")]
    body = await graphql(mutation, {"input": twice}, token(org))
    assert body["errors"][0]["extensions"]["field"] == "input[1].deviceId"

    listed = await graphql(SENSORS, {}, token(org))
    assert listed["data"]["sensors"]["totalCount"] == 1

    good = [sensor_input(building, f"NEW-{i}") for i in range(3)]
    body = await graphql(mutation, {"input": good}, token(org))
    assert [s["deviceId"] for s in body["data"]["importSensors"]] == ["NEW-0", "NEW-1", "NEW-2"]


async def test_status_changed_at_moves_only_when_the_status_changes(graphql, token, org, building):
    sid = (await create(graphql, token, org, building))["id"]

    async def update(fields: str) -> dict:
        body = await graphql(
            f"mutation($id: ID!) {{ updateSensor(id: $id, input: {{{fields}}}) {{ status statusChangedAt }} }}",
            {"id": sid},
            token(org),
        )
        assert "errors" not in body, body
        return body["data"]["updateSensor"]

    assert (await update('location: "Cave"'))["statusChangedAt"] is None  # never changed
    changed = await update("status: MAINTENANCE")
    assert changed["status"] == "MAINTENANCE" and changed["statusChangedAt"] is not None
    assert await update("status: MAINTENANCE") == changed  # the same status: no change
    assert await update('location: "Chaufferie"') == changed
    back = await update("status: ACTIVE")
    assert back["status"] == "ACTIVE" and back["statusChangedAt"] > changed["statusChangedAt"]


async def test_update_calibrate_configure_and_delete(graphql, token, org, building):
    sensor = await create(graphql, token, org, building)
    sid = sensor["id"]

    body = await graphql(
        'mutation($id: ID!) { updateSensor(id: $id, input: {location: "Chaufferie", status: MAINTENANCE})'
        " { location status deviceId } }",
        {"id": sid},
        token(org),
    )
    assert body["data"]["updateSensor"] == {
        "location": "Chaufferie",
        "status": "MAINTENANCE",
        "deviceId": "KAM-1",
    }

    body = await graphql(
        "mutation($id: ID!) { calibrateSensor(id: $id, calibrationFactor: 1.02) { calibrationFactor } }",
        {"id": sid},
        token(org),
    )
    assert body["data"]["calibrateSensor"]["calibrationFactor"] == 1.02

    body = await graphql(
        "mutation($id: ID!) { configureAlerts(id: $id, input: {thresholdMax: 50, offlineAfterSeconds: 600})"
        " { alertThresholdMax alertRules { thresholdMax offlineAfterSeconds thresholdMin } } }",
        {"id": sid},
        token(org),
    )
    assert body["data"]["configureAlerts"]["alertRules"] == {
        "thresholdMax": 50.0,
        "offlineAfterSeconds": 600,
        "thresholdMin": None,
    }
    bad = await graphql(
        "mutation($id: ID!) { configureAlerts(id: $id, input: {thresholdMin: 60}) { id } }",
        {"id": sid},
        token(org),
    )
    assert error_codes(bad) == ["BAD_USER_INPUT"]
    assert bad["errors"][0]["extensions"]["field"] == "thresholdMin"

    negative = await graphql(
        "mutation($id: ID!) { configureAlerts(id: $id, input: {thresholdMin: -10, thresholdMax: 50}) "
        "{ alertRules { thresholdMin } } }",
        {"id": sid},
        token(org),
    )
    assert negative["data"]["configureAlerts"]["alertRules"]["thresholdMin"] == -10.0
    bad_duration = await graphql(
        "mutation($id: ID!) { configureAlerts(id: $id, input: {pendingSeconds: -5}) { id } }",
        {"id": sid},
        token(org),
    )
    assert bad_duration["errors"][0]["extensions"]["field"] == "pendingSeconds"

    deleted = await graphql("mutation($id: ID!) { deleteSensor(id: $id) }", {"id": sid}, token(org))
    assert deleted["data"]["deleteSensor"] is True
    gone = await graphql(SENSOR, {"id": sid}, token(org))
    assert gone["data"]["sensor"] is None
    again = await graphql("mutation($id: ID!) { deleteSensor(id: $id) }", {"id": sid}, token(org))
    assert error_codes(again) == ["NOT_FOUND"]


async def test_another_organizations_sensor_is_indistinguishable_from_a_missing_one(
    graphql, token, org, building
):
    theirs = await create(graphql, token, org, building, "THEIRS")
    me = uuid.uuid4()
    missing = str(uuid.uuid4())

    for sid in (theirs["id"], missing):
        assert (await graphql(SENSOR, {"id": sid}, token(me)))["data"]["sensor"] is None
        for mutation in (
            'mutation($id: ID!) { updateSensor(id: $id, input: {location: "x"}) { id } }',
            "mutation($id: ID!) { calibrateSensor(id: $id, calibrationFactor: 2) { id } }",
            "mutation($id: ID!) { configureAlerts(id: $id, input: {thresholdMax: 1}) { id } }",
            "mutation($id: ID!) { deleteSensor(id: $id) }",
        ):
            body = await graphql(mutation, {"id": sid}, token(me))
            assert error_codes(body) == ["NOT_FOUND"], (mutation, body)
            assert body["errors"][0]["message"] == "Sensor not found"

    listed = await graphql(SENSORS, {"buildingId": str(building)}, token(me))
    assert listed["data"]["sensors"]["totalCount"] == 0
    still = await graphql(SENSOR, {"id": theirs["id"]}, token(org))
    assert still["data"]["sensor"]["location"] == "Cave, colonne B"


async def test_limits_reject_deep_and_alias_heavy_queries(graphql, token, org):
    aliases = " ".join(f"a{i}: me {{ role }}" for i in range(40))
    body = await graphql(f"{{ {aliases} }}", token=token(org))
    assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_batched_requests_are_refused(http, token, org):
    response = await http.post(
        "/graphql",
        json=[{"query": "{ me { role } }"}, {"query": "{ me { role } }"}],
        headers={"Authorization": f"Bearer {token(org)}"},
    )
    assert response.status_code == 400


async def test_health_and_metrics_endpoints(http):
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    metrics = await http.get("/metrics")
    assert metrics.status_code == 200
    assert "python_info" in metrics.text


async def test_graphiql_is_served_on_get(http):
    page = await http.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()
