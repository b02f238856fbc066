"""The ingestor's cache of the sensor registry: (organization, deviceId) -> what ingestion needs.

Misses are looked up in one query per batch. Unknown devices are cached too (negative caching),
so a flood from a device nobody registered costs one query per TTL, not one per message.
PostgreSQL tells us when a sensor changes (LISTEN koprogo_sensor_changed, see migration 0002),
and entries also expire, in case a notification was lost while the listener reconnected.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import asyncpg

from ..domain.sensors import resolution_of
from ..store import sensors as sensors_store
from ..store.rows import SensorRow

__all__ = ["NOTIFY_CHANNEL", "BindingKey", "SensorInfo", "SensorRegistry"]

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "koprogo_sensor_changed"
Key = tuple[uuid.UUID, str]
BindingKey = tuple[uuid.UUID, uuid.UUID, str, str]  # organization, building, integration, id


@dataclass(frozen=True, slots=True)
class SensorInfo:
    id: uuid.UUID
    organization_id: uuid.UUID
    building_id: uuid.UUID
    unit_id: uuid.UUID | None
    device_id: str
    type: str
    reading_kind: str
    unit_of_measure: str
    calibration_factor: float
    status: str
    threshold_min: float | None
    threshold_max: float | None
    resolution: int = 3
    integration: str = "KOPROGO"
    metric: str | None = None  # where its value is in its device's messages (SPEC §11)
    unit_scale: float = 1.0
    timezone: str = "UTC"  # its building's: a device's local time is read in it


def _info(row: SensorRow, timezone: str = "UTC") -> SensorInfo:
    rules = row.alert_rules or {}
    return SensorInfo(
        id=row.id,
        organization_id=row.organization_id,
        building_id=row.building_id,
        unit_id=row.unit_id,
        device_id=row.device_id,
        type=row.type,
        reading_kind=row.reading_kind,
        unit_of_measure=row.unit_of_measure,
        calibration_factor=row.calibration_factor,
        status=row.status,
        threshold_min=rules.get("threshold_min"),
        threshold_max=rules.get("threshold_max"),
        resolution=resolution_of(row.unit_of_measure, row.resolution),
        integration=row.integration,
        metric=row.metric,
        unit_scale=row.unit_scale,
        timezone=timezone,
    )


class SensorRegistry:
    """Cache with positive and negative entries, invalidated by NOTIFY and by age."""

    def __init__(self, ttl: float = 300.0, negative_ttl: float = 30.0, max_entries: int = 500_000):
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.max_entries = max_entries
        self._entries: dict[Key, tuple[SensorInfo | None, float]] = {}
        # A bound device's sensors (an empty list: none), by (org, building, integration, id).
        # By organization, so that a sensor's change forgets its organization's bindings only.
        self._bindings: dict[uuid.UUID, dict[BindingKey, tuple[list[SensorInfo], float]]] = {}
        self._binding_count = 0

    def cached(self, key: Key, now: float | None = None) -> tuple[bool, SensorInfo | None]:
        """(hit, info): info is None on a negative hit."""
        entry = self._entries.get(key)
        if entry is None:
            return False, None
        info, expires = entry
        if expires < (time.monotonic() if now is None else now):
            del self._entries[key]
            return False, None
        return True, info

    async def resolve(
        self, con: asyncpg.Connection, keys: Iterable[Key]
    ) -> dict[Key, SensorInfo | None]:
        """Look every key up, querying the database once for all misses."""
        now = time.monotonic()
        found: dict[Key, SensorInfo | None] = {}
        missing: list[Key] = []
        for key in set(keys):
            hit, info = self.cached(key, now)
            if hit:
                found[key] = info
            else:
                missing.append(key)
        if missing:
            rows = await sensors_store.by_device(con, missing)
            infos = {(r.organization_id, r.device_id): _info(r) for r in rows}
            if len(self._entries) + len(missing) > self.max_entries:
                self._entries.clear()
            for key in missing:
                info = infos.get(key)
                found[key] = info
                self._entries[key] = (info, now + (self.ttl if info else self.negative_ttl))
        return found

    async def resolve_bindings(
        self, con: asyncpg.Connection, keys: Iterable[BindingKey]
    ) -> dict[BindingKey, list[SensorInfo]]:
        """The sensors bound to each device, querying the database once for all misses."""
        now = time.monotonic()
        found: dict[BindingKey, list[SensorInfo]] = {}
        missing: list[BindingKey] = []
        for key in set(keys):
            entry = self._bindings.get(key[0], {}).get(key)
            if entry is not None and entry[1] >= now:
                found[key] = entry[0]
            else:
                missing.append(key)
        if missing:
            bound: dict[BindingKey, list[SensorInfo]] = {k: [] for k in missing}
            for row, timezone in await sensors_store.bound_to(con, missing):
                key = (row.organization_id, row.building_id, row.integration, row.external_id or "")
                bound[key].append(_info(row, timezone))
            if self._binding_count + len(missing) > self.max_entries:
                self._bindings.clear()
                self._binding_count = 0
            for key, infos in bound.items():
                found[key] = infos
                of_org = self._bindings.setdefault(key[0], {})
                self._binding_count += key not in of_org
                of_org[key] = (infos, now + (self.ttl if infos else self.negative_ttl))
        return found

    def invalidate(self, payload: str) -> None:
        """Apply a notification: ``<org>/<deviceId>`` (a sensor changed) drops its entry and
        the organization's bindings (the change may move one); ``<org>/`` (migration 0017: a
        building's arming or time zone changed) drops the organization's bindings."""
        org_text, _, device = payload.partition("/")
        try:
            org = uuid.UUID(org_text)
        except ValueError:
            log.warning("ignoring malformed sensor notification %r", payload)
            return
        self._binding_count -= len(self._bindings.pop(org, {}))
        if device:
            self._entries.pop((org, device), None)

    def clear(self) -> None:
        self._entries.clear()
        self._bindings.clear()
        self._binding_count = 0

    async def listen(self, dsn: str) -> None:
        """Hold a LISTEN connection and apply notifications; reconnect with backoff forever.

        Everything is forgotten on (re)connection, since notifications may have been missed.
        """
        backoff = 0.5
        while True:
            try:
                con = await asyncpg.connect(dsn)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("sensor change listener cannot connect (%s); retrying", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            backoff = 0.5
            lost = asyncio.Event()
            try:
                await con.add_listener(NOTIFY_CHANNEL, lambda *args: self.invalidate(args[3]))
                con.add_termination_listener(lambda _con, lost=lost: lost.set())
                self.clear()
                await lost.wait()
                log.warning("sensor change listener lost its connection; reconnecting")
            finally:
                await con.close(timeout=2)
