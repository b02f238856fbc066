"""Per-request DataLoaders: nested lookups (``Reading.sensor``, ``Alert.sensor``) batched into one
query per request instead of one per item."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from strawberry.dataloader import DataLoader

from ..store import sensors as sensors_store

if TYPE_CHECKING:
    from .context import Context

__all__ = ["deliveries_loader", "sensor_loader"]


def sensor_loader(context: Context) -> DataLoader[uuid.UUID, Any]:
    """Sensors of the viewer's organization by id (None for an unknown or foreign id)."""

    async def load(ids: list[uuid.UUID]) -> list[Any]:
        org = context.viewer.org()
        async with context.db.tenant(org) as con:
            rows = {r["id"]: r for r in await sensors_store.get_many(con, org, ids)}
        return [rows.get(i) for i in ids]

    return DataLoader(load_fn=load)


def deliveries_loader(context: Context) -> DataLoader[uuid.UUID, list[Any]]:
    """Notification deliveries (outbox rows) by alert id, oldest first."""

    async def load(ids: list[uuid.UUID]) -> list[list[Any]]:
        org = context.viewer.org()
        async with context.db.tenant(org) as con:
            rows = await con.fetch(
                "SELECT * FROM notification_outbox WHERE organization_id = $1 AND alert_id = ANY($2::uuid[]) "
                "ORDER BY id",
                org,
                ids,
            )
        by_alert: dict[uuid.UUID, list[Any]] = {i: [] for i in ids}
        for r in rows:
            by_alert[r["alert_id"]].append(r)
        return [by_alert[i] for i in ids]

    return DataLoader(load_fn=load)
