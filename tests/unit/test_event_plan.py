"""The per-event fast path gives exactly what graphql-core gives, and stands aside otherwise."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from graphql import parse
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from koprogo_graph.api.event_plan import plan_event
from koprogo_graph.api.executor import Executor
from koprogo_graph.api.schema import build_schema

from ..live_events import memory_subscription, reading_event, readings_message

ALL_LEAVES = (
    "sensorId timestamp value rawValue unitOfMeasure batteryLevel signalStrength quality "
    "isAnomaly anomalyReason receivedAt"
)
PLANNED = [
    f"subscription {{ readingAdded {{ {ALL_LEAVES} }} }}",
    "subscription($b: ID) { live: readingAdded(buildingId: $b) { v: value t: timestamp q: quality } }",
    "subscription { readingAdded { __typename batteryLevel anomalyReason kind: __typename } }",
]
NOT_PLANNED = [
    "subscription { readingAdded { value sensor { id } } }",  # a resolver
    "subscription($x: Boolean!) { readingAdded { value @include(if: $x) } }",  # a directive
    "subscription { readingAdded { ... on Reading { value } } }",  # a fragment
    "subscription { readingAdded { value value } }",  # the same key twice
]


def reading(org: uuid.UUID, building: uuid.UUID, **overrides: object) -> dict:
    """Every field set, including the nullable ones; a fixed instant with microseconds."""
    now = datetime(2026, 11, 22, 12, 30, 15, 123456, tzinfo=UTC).isoformat()
    return reading_event(
        org, building, sensorType="WATER_METER", readingKind="CUMULATIVE", timestamp=now,
        receivedAt=now, value=12.5, rawValue=25, unitOfMeasure="m3", batteryLevel=15,
        signalStrength=-101, quality="POOR", isAnomaly=True, anomalyReason="spike",
    ) | overrides  # fmt: skip


async def results(executor: type, query: str, readings: list[dict]) -> list:
    """What a subscription yields for these readings, executed with ``executor``."""
    org, building = uuid.UUID(readings[0]["organizationId"]), readings[0]["buildingId"]
    variables = {"b": building, "x": True}
    async with memory_subscription(build_schema(executor), query, variables, org) as (
        publish,
        next_result,
    ):
        await publish(readings_message(readings))
        out = [await next_result() for _ in readings]
    return [(r.data, [e.formatted for e in r.errors or []]) for r in out]


@pytest.mark.parametrize("query", PLANNED + NOT_PLANNED)
async def test_the_fast_path_gives_what_graphql_core_gives(query):
    org, building = uuid.uuid4(), uuid.uuid4()
    readings = [
        reading(org, building),
        reading(
            org,
            building,
            batteryLevel=None,
            signalStrength=None,
            anomalyReason=None,
            quality="GOOD",
            isAnomaly=False,
            value=-0.0,
        ),
        reading(org, building, unitOfMeasure=None),  # null in a non-null field: an error
    ]
    fast = await results(Executor, query, readings)
    reference = await results(StrawberryGraphQLCoreExecutionContext, query, readings)
    assert fast == reference
    assert fast[0][0] is not None  # something was computed (not both broken the same way)


@pytest.mark.parametrize(
    ("query", "planned"), [(q, True) for q in PLANNED] + [(q, False) for q in NOT_PLANNED]
)
def test_which_selections_are_planned(query, planned):
    schema = build_schema()._schema
    (operation,) = parse(query).definitions
    assert (plan_event(schema, operation, None) is not None) is planned
