"""Every GraphQL error carries a code; unexpected ones are masked (SPEC §4)."""

from __future__ import annotations

import strawberry

from koprogo_graph.api.errors import ErrorCodes
from koprogo_graph.errors import BadUserInput, NotFound


@strawberry.type
class Query:
    @strawberry.field
    def boom(self) -> int:
        raise RuntimeError("password=hunter2 at db.internal:5432")

    @strawberry.field
    def missing(self) -> int:
        raise NotFound("Sensor")

    @strawberry.field
    def picky(self, first: int) -> int:
        raise BadUserInput("first", "must be at most 500")


schema = strawberry.Schema(query=Query, extensions=[ErrorCodes])


async def test_unexpected_errors_are_masked_as_internal():
    result = await schema.execute("{ boom }")
    (error,) = result.errors
    assert error.message == "Internal error"
    assert error.extensions == {"code": "INTERNAL"}
    assert "hunter2" not in str(error.formatted)


async def test_expected_errors_keep_their_code_and_message():
    result = await schema.execute("{ missing }")
    assert result.errors[0].extensions == {"code": "NOT_FOUND"}
    assert result.errors[0].message == "Sensor not found"
    result = await schema.execute("{ picky(first: 900) }")
    assert result.errors[0].extensions == {"code": "BAD_USER_INPUT", "field": "first"}


async def test_invalid_documents_are_bad_user_input_naming_the_argument():
    result = await schema.execute('{ picky(first: "many") }')
    assert result.errors[0].extensions == {"code": "BAD_USER_INPUT", "field": "first"}
    result = await schema.execute(
        "query($n: Int!) { picky(first: $n) }", variable_values={"n": "x"}
    )
    assert result.errors[0].extensions["code"] == "BAD_USER_INPUT"
    assert result.errors[0].extensions["field"] == "n"


async def test_unknown_fields_are_bad_user_input():
    result = await schema.execute("{ nope }")
    assert result.errors[0].extensions["code"] == "BAD_USER_INPUT"
