"""Per-request DataLoaders: nested lookups (``Reading.sensor``, ``Alert.sensor``) batched into one
query per request instead of one per item."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from strawberry.dataloader import DataLoader

from ..store import sensors as sensors_store

if TYPE_CHECKING:
    from .context import Context

__all__ = ["sensor_loader"]


def sensor_loader(context: Context) -> DataLoader[uuid.UUID, Any]:
    """Sensors of the viewer's organization by id (None for an unknown or foreign id)."""

    async def load(ids: list[uuid.UUID]) -> list[Any]:
        org = context.viewer.org()
        async with context.db.tenant(org) as con:
            rows = {r["id"]: r for r in await sensors_store.get_many(con, org, ids)}
        return [rows.get(i) for i in ids]

    return DataLoader(load_fn=load)
