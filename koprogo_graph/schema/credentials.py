"""GraphQL type of ingest credentials (SPEC §11)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import strawberry

from ..domain.credentials import topic_prefix

if TYPE_CHECKING:
    from ..store.credentials import CredentialRow

__all__ = ["IngestCredentials"]


@strawberry.type(
    description="What a building's devices and gateways publish (MQTT) or post (HTTP) with. "
    "Its secrets are shown once, when created; only their hashes are kept."
)
class IngestCredentials:
    id: strawberry.ID = strawberry.field(description="Identifier.")
    building_id: strawberry.ID = strawberry.field(description="The building it may write to.")
    name: str = strawberry.field(description="What it is for (e.g. Zigbee gateway, TTN).")
    topic_prefix: str = strawberry.field(
        description="The only topics it may publish and subscribe under (the broker enforces "
        "it): koprogo/{organization}/{building}/."
    )
    mqtt_username: str = strawberry.field(description="Its MQTT user name.")
    mqtt_password: str | None = strawberry.field(
        description="Its MQTT password: only in createIngestCredentials' answer, never again."
    )
    http_token: str | None = strawberry.field(
        description="Its bearer token for POST /ingest/ttn/{building} and "
        "/ingest/chirpstack/{building}: only in createIngestCredentials' answer, never again."
    )
    created_at: datetime = strawberry.field(description="When it was created.")
    revoked_at: datetime | None = strawberry.field(
        description="When it was revoked (it then writes nothing), if it was."
    )

    @classmethod
    def from_row(
        cls, row: CredentialRow, password: str | None = None, token: str | None = None
    ) -> IngestCredentials:
        return cls(
            id=strawberry.ID(str(row.id)),
            building_id=strawberry.ID(str(row.building_id)),
            name=row.name,
            topic_prefix=topic_prefix(row.organization_id, row.building_id),
            mqtt_username=row.mqtt_username,
            mqtt_password=password,
            http_token=token,
            created_at=row.created_at,
            revoked_at=row.revoked_at,
        )
