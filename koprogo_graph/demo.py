"""``koprogo-graph demo``: the service plus a demo organization with live simulated devices.

Provisions a building with a dozen sensors, replays the last 24 hours of a leaking water meter
(as a device catching up after being offline would) so the leak alert fires within a minute,
then keeps publishing realistic readings, and prints a token and queries to paste in GraphiQL.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from .config import MqttSettings, Settings
from .ingest.mqtt import client as connect
from .ingest.simulate import SimulatedSensor, make_fleet, provision, run_simulation
from .realtime.hub import Hub
from .store import buildings as buildings_store
from .store.db import Database, open_database

__all__ = ["DEMO_BUILDING", "DEMO_ORGANIZATION", "banner", "demo_services", "demo_token"]

log = logging.getLogger(__name__)

BackgroundService = Callable[[], Coroutine[Any, Any, None]]

DEMO_ORGANIZATION = uuid.UUID("00000000-0000-4000-8000-00000000de00")
DEMO_BUILDING = uuid.UUID("00000000-0000-4000-8000-0000000b0001")


def demo_token(settings: Settings, days: int = 30) -> str:
    now = int(time.time())
    claims = {
        "sub": str(uuid.UUID(int=1)),
        "email": "syndic@demo.koprogo.test",
        "role": "syndic",
        "organization_id": str(DEMO_ORGANIZATION),
        "role_id": str(uuid.UUID(int=2)),
        "iat": now,
        "exp": now + days * 86_400,
    }
    return jwt.encode(claims, settings.jwt_secret.get(), algorithm="HS256")


def banner(settings: Settings, host: str, port: int) -> str:
    token = demo_token(settings)
    broker = f"{settings.mqtt.host}:{settings.mqtt.port}" if settings.mqtt else "(ingestion off)"
    headers = json.dumps({"Authorization": f"Bearer {token}"})
    return f"""
KoproGo graph demo
  Dashboard: http://{host}:{port}/   (signed in with the demo's token: one click)
  GraphiQL:  http://{host}:{port}/graphql   (add this header in GraphiQL's Headers tab)
  Headers:   {headers}
  MQTT:      {broker}  (topic koprogo/{DEMO_ORGANIZATION}/{DEMO_BUILDING}/<deviceId>/readings)

Try:
  {{ sensors {{ totalCount edges {{ node {{ deviceId type lastValue lastReadingAt unitOfMeasure }} }} }} }}
  {{ alerts {{ edges {{ node {{ type severity status message sensor {{ deviceId }} }} }} }} }}
  subscription {{ readingAdded(buildingId: "{DEMO_BUILDING}") {{ sensorId value timestamp quality }} }}
"""


def demo_services(
    sensors: int, rate: float
) -> Callable[[Settings, Database, Hub], list[BackgroundService]]:
    """Background services for create_app: provision, replay a leaking day, then simulate."""

    def make(settings: Settings, db: Database, broadcast: Hub) -> list[BackgroundService]:
        mqtt, database_url = settings.mqtt, settings.database_url
        if mqtt is None or database_url is None:
            raise RuntimeError("the demo needs ingestion (MQTT) and a database")

        async def run() -> None:
            fleet = make_fleet(DEMO_ORGANIZATION, DEMO_BUILDING, sensors, leaks=1, prefix="DEMO")
            added = await provision(database_url.get(), fleet)
            await _label_building(database_url.get())
            log.info("demo: %d sensor(s) provisioned in organization %s", added, DEMO_ORGANIZATION)
            await asyncio.sleep(1)  # let the ingestor subscribe
            leaking = next(s for s in fleet if s.leak_lph > 0)
            if leaking.seen_at is None:  # a new demo; on kept data the meter just goes on
                await _replay_day(mqtt, leaking)
            await run_simulation(mqtt, fleet, rate=rate, duration=None)

        return [run]

    return make


DEMO_LABEL = "Résidence Démo, Rue de la Loi 16"


async def _label_building(database_url: str) -> None:
    """Name the demo building (the dashboard lists buildings by label), unless named already."""
    async with open_database(database_url, pool_size=1) as db, db.tenant(DEMO_ORGANIZATION) as con:
        building = await buildings_store.get(con, DEMO_ORGANIZATION, DEMO_BUILDING)
        if building is not None and building.label is None:
            await buildings_store.update(
                con, DEMO_ORGANIZATION, DEMO_BUILDING, label=DEMO_LABEL, timezone=None
            )


async def _replay_day(mqtt: MqttSettings, sensor: SimulatedSensor) -> None:
    """The leaking meter catches up on its last 24 h: one array payload, every 15 minutes."""
    now = datetime.now(UTC)
    sensor.last = (now - timedelta(hours=25)).timestamp()
    readings = [sensor.reading(now - timedelta(minutes=15 * i)) for i in range(100, 0, -1)]
    async with connect(mqtt, f"koprogo-demo-{uuid.uuid4().hex[:6]}") as client:
        await client.publish(sensor.topic, json.dumps(readings), qos=1)
