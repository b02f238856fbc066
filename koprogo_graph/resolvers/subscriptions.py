"""Live subscriptions: readings, alerts and sensor status of the viewer's organization.

Each subscription listens on its organization's channel (the organization comes from the
authenticated connection, never from arguments) and filters in-process.

A ``resync`` event says that events may have been missed (Redis came back after an outage, or
the stream's queue overflowed). ``alertChanged`` and ``sensorStatusChanged`` catch up by
themselves when the resync says since when: they send the alerts, or the sensors whose status,
changed since then, read from the database (such changes are few, and a missed one may be a
leak at 3 a.m.). Otherwise (readings) the subscription goes on, and its next result
carries ``extensions: {"resync": true}`` (api/live.py), telling the client to catch up with
``readings(from: lastSeen)`` and the like. Identical subscriptions of an
organization share one execution (realtime/shared.py); the connection closes itself when its
token expires (api/view.py).
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from datetime import datetime
from functools import partial
from typing import Annotated, Literal

import strawberry

from ..domain.alerts import AlertSeverity
from ..realtime.events import (
    Event,
    alert_event,
    alert_of,
    alerts_channel,
    decoded,
    readings_channel,
    resync_start,
    sensor_event,
    sensor_of,
    sensors_channel,
    split_readings_by_building,
)
from ..realtime.hub import Split
from ..schema.alerts import Alert
from ..schema.context import Context
from ..schema.readings import Reading
from ..schema.sensors import Sensor
from ..store import changes
from ..store import sensors as sensors_store
from ..store import unit_owners as owners_store
from ..store.rows import AlertRow, SensorRow
from ._args import parse_id, parse_optional_id

__all__ = ["LiveSubscription"]

log = logging.getLogger(__name__)
Info = strawberry.Info[Context, None]


# Rows a subscription catches up with after a gap; beyond, the client is told to re-query.
CATCH_UP_LIMIT = 1_000
CATCH_UP_SECONDS = 10.0  # longer, and the client is told to re-query instead

CatchUp = Callable[[datetime], AsyncIterator[Event]]


async def _events(
    info: Info,
    channel_of: Callable[[uuid.UUID], str],
    key: uuid.UUID | None = None,
    split: Split | None = None,
    catch_up: CatchUp | None = None,
) -> AsyncIterator[Event]:
    """Decoded events of the viewer's organization channel (with ``key``: their part for it).
    After a gap, ``catch_up(since)`` gives the events that may have been missed, when the gap
    says since when; otherwise the next result is marked for the client."""
    context: Context = info.context
    channel = channel_of(context.viewer.org())
    if context.broadcast is None:
        raise RuntimeError("live subscriptions need the app's broadcast")
    async with context.broadcast.subscribe(
        channel, key=str(key) if key else None, split=split
    ) as subscriber:
        if context.live_ready is not None:
            context.live_ready()
        while True:
            event = await subscriber.get()
            try:
                payload = decoded(event)
            except ValueError:
                log.warning("ignoring a malformed event on %s", event.channel)
                continue
            if payload["kind"] != "resync":
                yield payload
            elif catch_up is not None and (since := resync_start(payload)) is not None:
                async for caught in catch_up(since):
                    yield caught
            else:
                context.missed_events = True


# What a subscription catches up with, by event kind: the table, and when a row's change that
# the kind's events announce happened.
_CHANGES: dict[
    str, tuple[Literal["alerts", "sensors"], Literal["updated_at", "status_changed_at"]]
] = {
    "alert": ("alerts", "updated_at"),  # opened, bumped, escalated, acknowledged, resolved
    "sensor": ("sensors", "status_changed_at"),  # status changes only
}


def _from_database(
    info: Info, kind: Literal["alert", "sensor"], building: uuid.UUID | None
) -> CatchUp:
    """A catch-up that reads what changed since then (``_CHANGES``) in the viewer's organization,
    and ``building``, and hands each row on as a ``kind`` event. When the database cannot
    answer, or there is more than it sends, the client is told instead."""
    table, changed_at = _CHANGES[kind]

    async def catch_up(since: datetime) -> AsyncIterator[Event]:
        context: Context = info.context
        org = context.viewer.org()
        read = partial(_read_changes, context, table, changed_at, org, since, building)
        try:  # streams of the organization that caught the same gap share the read
            if context.live is not None:
                owner = context.viewer.user_id if context.viewer.is_owner else None
                rows = await context.live.read_once((org, owner, table, building, since), read)
            else:
                rows = await read()
        except Exception:  # the database is away too: the subscription goes on regardless
            log.warning("could not catch up with %ss after a gap", kind, exc_info=True)
            rows = []
            info.context.missed_events = True
        if len(rows) == CATCH_UP_LIMIT:
            info.context.missed_events = True  # more than we send: the client re-queries
        for row in rows:
            yield alert_event(row) if isinstance(row, AlertRow) else sensor_event(row)

    return catch_up


async def _read_changes(
    context: Context,
    table: Literal["alerts", "sensors"],
    changed_at: Literal["updated_at", "status_changed_at"],
    org: uuid.UUID,
    since: datetime,
    building: uuid.UUID | None,
) -> list[AlertRow] | list[SensorRow]:
    # Bounded: a database that stopped answering must not hold the reads' few slots.
    async with asyncio.timeout(CATCH_UP_SECONDS), context.tenant(org) as con:
        return await changes.changed_since(
            con, table, changed_at, org, since, building=building, limit=CATCH_UP_LIMIT
        )


class _OwnerView:
    """What an owner's subscription may pass on: events of their units and of the common
    sensors (no unit), as the database's policies say (migration 0019).

    Their units and the sensors they may see are read when first needed and again once older
    than ``MAX_AGE`` (a unit removed stops within that time), or on an unknown one when older
    than ``MISS_WAIT`` (a unit just assigned, a sensor just added). Within that wait, an alert
    or a status change of an unknown sensor or unit is checked alone in the database: those
    are rare and must not be lost; a reading is not (the next one comes)."""

    MAX_AGE = 30.0
    MISS_WAIT = 2.0

    def __init__(self, context: Context) -> None:
        self._context = context
        self._units: set[str] = set()
        self._sensors: set[str] = set()
        self._read_at: float | None = None

    async def _renew(self, *, missed: bool) -> bool:
        """Read again when too old (or, after a miss, older than the wait); True if read."""
        now = asyncio.get_running_loop().time()
        age = math.inf if self._read_at is None else now - self._read_at
        if age < self.MAX_AGE and not (missed and age >= self.MISS_WAIT):
            return False
        self._read_at = now
        viewer = self._context.viewer
        org = viewer.org()
        async with self._context.tenant(org) as con:
            self._units = {str(u) for u in await owners_store.units_of(con, org, viewer.user_id)}
            self._sensors = {str(i) for i in await sensors_store.visible_ids(con, org)}
        return True

    async def allows_unit(self, unit_id: str | None, *, exact: bool = False) -> bool:
        if unit_id is None:  # a common sensor's: everyone's
            return True
        await self._renew(missed=False)
        if unit_id in self._units:
            return True
        if await self._renew(missed=True) or not exact:
            return unit_id in self._units
        viewer = self._context.viewer
        org = viewer.org()
        async with self._context.tenant(org) as con:
            owned = {str(u) for u in await owners_store.units_of(con, org, viewer.user_id)}
        self._units |= owned
        return unit_id in owned

    async def allows_sensor(self, sensor_id: str) -> bool:
        await self._renew(missed=False)
        if sensor_id in self._sensors:
            return True
        if await self._renew(missed=True):
            return sensor_id in self._sensors
        org = self._context.viewer.org()
        async with self._context.tenant(org) as con:
            visible = await sensors_store.get(con, org, uuid.UUID(sensor_id)) is not None
        if visible:
            self._sensors.add(sensor_id)
        return visible


def _owner_view(info: Info) -> _OwnerView | None:
    """None for the roles that see the whole organization."""
    return _OwnerView(info.context) if info.context.viewer.is_owner else None


@strawberry.type
class LiveSubscription:
    @strawberry.subscription(description="Readings as they are stored, optionally filtered.")
    async def reading_added(
        self,
        info: Info,
        building_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this building's.")
        ] = None,
        sensor_ids: Annotated[
            list[strawberry.ID] | None, strawberry.argument(description="Only these sensors'.")
        ] = None,
    ) -> AsyncGenerator[Reading, None]:
        building = parse_optional_id(building_id, "buildingId")
        sensors = (
            {str(parse_id(s, "sensorIds")) for s in sensor_ids} if sensor_ids is not None else None
        )
        # A building's subscription takes only its building's part of each batch.
        split = split_readings_by_building if building else None
        owner = _owner_view(info)
        async for event in _events(info, readings_channel, building, split):
            if event["kind"] != "readings":
                continue
            for r in event["readings"]:
                if sensors is not None and r["sensorId"] not in sensors:
                    continue
                if owner is None or await owner.allows_unit(r.get("unitId")):
                    yield Reading.from_event(r)

    @strawberry.subscription(description="Alerts as they open, repeat, escalate or close.")
    async def alert_changed(
        self,
        info: Info,
        building_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this building's.")
        ] = None,
        min_severity: Annotated[
            AlertSeverity | None,
            strawberry.argument(description="Only alerts at least this severe."),
        ] = None,
    ) -> AsyncGenerator[Alert, None]:
        building = parse_optional_id(building_id, "buildingId")
        floor = min_severity.rank if min_severity else 0
        catch_up = _from_database(info, "alert", building)
        owner = _owner_view(info)
        async for event in _events(info, alerts_channel, catch_up=catch_up):
            if event["kind"] != "alert":
                continue
            try:
                alert = Alert.from_row(alert_of(event))
            except ValueError:
                log.warning("ignoring a malformed alert event")
                continue
            if building and alert.building_id != str(building):
                continue
            if owner is not None and not await owner.allows_sensor(alert.sensor_id):
                continue
            if alert.severity.rank >= floor:
                yield alert

    @strawberry.subscription(description="Sensors whose status changed (offline, faulty, back...).")
    async def sensor_status_changed(
        self,
        info: Info,
        building_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this building's.")
        ] = None,
    ) -> AsyncGenerator[Sensor, None]:
        building = parse_optional_id(building_id, "buildingId")
        catch_up = _from_database(info, "sensor", building)
        owner = _owner_view(info)
        async for event in _events(info, sensors_channel, catch_up=catch_up):
            if event["kind"] != "sensor":
                continue
            try:
                sensor = Sensor.from_row(sensor_of(event))
            except ValueError:
                log.warning("ignoring a malformed sensor event")
                continue
            if building is not None and sensor.building_id != str(building):
                continue
            if owner is None or await owner.allows_unit(sensor.unit_id, exact=True):
                yield sensor
