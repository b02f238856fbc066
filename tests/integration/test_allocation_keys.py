"""Distribution keys (SPEC §12): defined by managers for their own buildings, listed with their
shares, replaced by name; bad shares refused naming the field."""

from __future__ import annotations

import uuid

import pytest

from .conftest import create_sensor, error_codes

DEFINE = """mutation($input: AllocationKeyInput!) {
  defineAllocationKey(input: $input) { id name totalShares shares { unitId share } }
}"""
LIST = """query($b: ID!) { allocationKeys(buildingId: $b) { name totalShares shares { unitId share } } }"""


async def test_a_key_is_defined_listed_and_replaced_by_name(graphql, token):
    org = uuid.uuid4()
    building = uuid.uuid4()
    await create_sensor(graphql, token(org), buildingId=str(building))
    units = sorted(str(uuid.uuid4()) for _ in range(3))
    shares = [{"unitId": u, "share": s} for u, s in zip(units, (125.5, 250, 624.5), strict=True)]
    body = await graphql(
        DEFINE,
        {"input": {"buildingId": str(building), "name": "Tantièmes", "shares": shares}},
        token(org),
    )
    assert "errors" not in body, body
    assert body["data"]["defineAllocationKey"]["totalShares"] == 1000
    again = [{"unitId": units[0], "share": 1}, {"unitId": units[1], "share": 3}]
    body = await graphql(
        DEFINE,
        {"input": {"buildingId": str(building), "name": "Tantièmes", "shares": again}},
        token(org),
    )
    assert "errors" not in body, body
    listed = await graphql(LIST, {"b": str(building)}, token(org, role="accountant"))
    assert listed["data"]["allocationKeys"] == [
        {"name": "Tantièmes", "totalShares": 4.0, "shares": [
            {"unitId": units[0], "share": 1.0}, {"unitId": units[1], "share": 3.0}]}
    ]  # fmt: skip
    # Another organization sees nothing of it, and cannot define one there.
    assert (await graphql(LIST, {"b": str(building)}, token(uuid.uuid4())))["data"] == {
        "allocationKeys": []
    }
    foreign = await graphql(
        DEFINE,
        {"input": {"buildingId": str(building), "name": "x", "shares": again}},
        token(uuid.uuid4()),
    )
    assert error_codes(foreign) == ["NOT_FOUND"]


@pytest.mark.parametrize(
    ("shares", "field"),
    [
        ([{"unitId": "u", "share": 1}], "shares[0].unitId"),
        ([{"unitId": str(uuid.UUID(int=1)), "share": 0}], "shares[0].share"),
        ([{"unitId": str(uuid.UUID(int=1)), "share": -2}], "shares[0].share"),
        ([{"unitId": str(uuid.UUID(int=1)), "share": 1e12}], "shares[0].share"),
        (
            [
                {"unitId": str(uuid.UUID(int=1)), "share": 1},
                {"unitId": str(uuid.UUID(int=1)), "share": 2},
            ],
            "shares[1].unitId",
        ),
        ([], "shares"),
    ],
)
async def test_bad_shares_are_refused_naming_the_field(graphql, token, shares, field):
    org, building = uuid.uuid4(), uuid.uuid4()
    await create_sensor(graphql, token(org), buildingId=str(building))
    body = await graphql(
        DEFINE, {"input": {"buildingId": str(building), "name": "k", "shares": shares}}, token(org)
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == field


async def test_only_managers_define_keys(graphql, token):
    org, building = uuid.uuid4(), uuid.uuid4()
    await create_sensor(graphql, token(org), buildingId=str(building))
    shares = [{"unitId": str(uuid.uuid4()), "share": 1}]
    for role in ("owner", "accountant"):
        body = await graphql(
            DEFINE,
            {"input": {"buildingId": str(building), "name": "k", "shares": shares}},
            token(org, role=role),
        )
        assert error_codes(body) == ["FORBIDDEN"]


async def test_a_building_holds_at_most_fifty_keys_and_a_name_can_still_be_replaced(graphql, token):
    org, building = uuid.uuid4(), uuid.uuid4()
    await create_sensor(graphql, token(org), buildingId=str(building))
    shares = [{"unitId": str(uuid.UUID(int=1)), "share": 1}]

    async def define(name: str) -> dict:
        return await graphql(
            DEFINE,
            {"input": {"buildingId": str(building), "name": name, "shares": shares}},
            token(org),
        )

    for i in range(50):
        assert "errors" not in await define(f"key {i}")
    body = await define("one too many")
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == "name"
    assert "errors" not in await define("key 7")  # replacing one is still fine
