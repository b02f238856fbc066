"""Per-request DataLoaders: nested lookups (``Reading.sensor``, ``Alert.sensor``) batched into one
query per request instead of one per item."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from strawberry.dataloader import DataLoader

from ..store import notifications as notifications_store
from ..store import sensors as sensors_store
from ..store.rows import DeliveryRow, SensorRow

if TYPE_CHECKING:
    from .context import Context

__all__ = ["deliveries_loader", "sensor_loader"]


def sensor_loader(context: Context) -> DataLoader[uuid.UUID, SensorRow | None]:
    """Sensors of the viewer's organization by id (None for an unknown or foreign id)."""

    async def load(ids: list[uuid.UUID]) -> list[SensorRow | None]:
        org = context.viewer.org()
        async with context.tenant(org) as con:
            rows = {r.id: r for r in await sensors_store.get_many(con, org, ids)}
        return [rows.get(i) for i in ids]

    return DataLoader(load_fn=load)


def deliveries_loader(context: Context) -> DataLoader[uuid.UUID, list[DeliveryRow]]:
    """Notification deliveries (outbox rows) by alert id, oldest first."""

    async def load(ids: list[uuid.UUID]) -> list[list[DeliveryRow]]:
        org = context.viewer.org()
        async with context.tenant(org) as con:
            rows = await notifications_store.deliveries_of(con, org, ids)
        by_alert: dict[uuid.UUID, list[DeliveryRow]] = {i: [] for i in ids}
        for r in rows:
            by_alert[r.alert_id].append(r)
        return [by_alert[i] for i in ids]

    return DataLoader(load_fn=load)
