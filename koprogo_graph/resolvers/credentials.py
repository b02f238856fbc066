"""Ingest credentials: create (secrets shown once), list, revoke (SPEC §11)."""

from __future__ import annotations

import logging
from typing import Annotated

import strawberry

from ..domain.credentials import new_credentials
from ..domain.sensors import check_text
from ..errors import BadUserInput, KoprogoError, NotFound
from ..ingest.broker_accounts import BrokerUnavailable
from ..schema.context import Context
from ..schema.credentials import IngestCredentials
from ..store import buildings as buildings_store
from ..store import credentials as store
from ._args import field_errors, parse_id, parse_optional_id

__all__ = ["CredentialsMutation", "CredentialsQuery"]

log = logging.getLogger(__name__)
Info = strawberry.Info[Context, None]
MAX_PER_BUILDING = 100


class BrokerRefused(KoprogoError):
    """The broker did not take the change: nothing was changed."""

    code = "INTERNAL"

    def __init__(self) -> None:
        super().__init__("the MQTT broker did not confirm the change; nothing was changed")


@strawberry.type
class CredentialsQuery:
    @strawberry.field(
        description="Ingest credentials of your organization (of one building, if given), "
        "newest first, without their secrets (syndic, superadmin)."
    )
    async def ingest_credentials(
        self,
        info: Info,
        building_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this building's.")
        ] = None,
    ) -> list[IngestCredentials]:
        org = info.context.viewer.require_manager()
        building = parse_optional_id(building_id, "buildingId")
        async with info.context.tenant(org) as con:
            rows = await store.list_for(con, org, building)
        return [IngestCredentials.from_row(r) for r in rows]


@strawberry.type
class CredentialsMutation:
    @strawberry.mutation(
        description="Credentials for a building's devices and gateways (syndic, superadmin): "
        "the answer is the only time its password and token are shown."
    )
    async def create_ingest_credentials(
        self,
        info: Info,
        building_id: Annotated[strawberry.ID, strawberry.argument(description="The building.")],
        name: Annotated[
            str, strawberry.argument(description="What it is for (at most 100 characters).")
        ],
    ) -> IngestCredentials:
        org = info.context.viewer.require_manager()
        building = parse_id(building_id, "buildingId")
        with field_errors():
            label = check_text("name", name, max_length=100)
        secrets = new_credentials()
        accounts = info.context.accounts
        async with info.context.tenant(org) as con:
            if not await buildings_store.claim(con, org, building):
                raise NotFound("Building", field="buildingId")
            if await store.live_count(con, org, building) >= MAX_PER_BUILDING:
                raise BadUserInput("buildingId", f"has {MAX_PER_BUILDING} credentials already")
            row = await store.create(con, org, building, label, secrets)
            if accounts is not None:  # the broker enforces it before anyone can use it
                try:
                    await accounts.add(secrets.mqtt_username, secrets.mqtt_password, org, building)
                except BrokerUnavailable as exc:
                    log.error("creating MQTT credentials failed: %s", exc)
                    raise BrokerRefused() from None
        return IngestCredentials.from_row(row, secrets.mqtt_password, secrets.http_token)

    @strawberry.mutation(
        description="Revoke credentials (syndic, superadmin): the broker disconnects its "
        "clients at once, and its token stops working."
    )
    async def revoke_ingest_credentials(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The credentials' id.")],
    ) -> bool:
        org = info.context.viewer.require_manager()
        credential_id = parse_id(id)
        accounts = info.context.accounts
        async with info.context.tenant(org) as con:  # revoked here at once: its token too
            row = await store.revoke(con, org, credential_id)
        if row is None:
            raise NotFound("IngestCredentials")
        if accounts is not None:
            try:
                await accounts.remove(row.mqtt_username)
            except BrokerUnavailable as exc:
                log.error("revoking MQTT credentials on the broker failed: %s", exc)
                raise KoprogoError(
                    "revoked (its token no longer works), but the MQTT broker could not be "
                    "told yet: it will be when it answers again"
                ) from None
        return True
