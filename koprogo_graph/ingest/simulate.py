"""Realistic device traffic for demos and load: water meters (daily usage curve, optional leak),
electricity meters, temperature, humidity and CO2 probes, published over MQTT exactly as devices
do (SPEC §6), or in a product's own format (SPEC §11: Shelly, Tasmota, Zigbee2MQTT, wmbusmeters
over MQTT; The Things Stack and ChirpStack posted to the service's webhooks)."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from ..config import MqttSettings
from ..domain.credentials import topic_prefix
from ..domain.integrations import Integration, default_metric
from ..domain.sensors import SensorType, mqtt_topic
from .mqtt import client as connect
from .vendor_formats import UNIT_SCALES, encode

__all__ = ["SimulatedSensor", "make_fleet", "post_simulation", "provision", "run_simulation"]

log = logging.getLogger(__name__)
LOCAL = ZoneInfo("Europe/Brussels")
KINDS = ("COLD_WATER", "HOT_WATER", "ELECTRICITY", "TEMPERATURE")
METERS = frozenset({"COLD_WATER", "HOT_WATER", "ELECTRICITY"})
# What each product's simulated devices measure.
KINDS_OF: dict[Integration, tuple[str, ...]] = {
    Integration.KOPROGO: KINDS,
    Integration.SHELLY: ("ELECTRICITY", "TEMPERATURE"),
    Integration.TASMOTA: ("ELECTRICITY", "TEMPERATURE"),
    Integration.ZIGBEE2MQTT: ("TEMPERATURE", "HUMIDITY", "AIR_QUALITY"),
    Integration.WMBUSMETERS: ("COLD_WATER", "HOT_WATER"),
    Integration.TTN: ("COLD_WATER", "AIR_QUALITY"),
    Integration.CHIRPSTACK: ("COLD_WATER", "AIR_QUALITY"),
}
HTTP_INTEGRATIONS = frozenset({Integration.TTN, Integration.CHIRPSTACK})


def water_flow_lph(local: datetime, leak_lph: float) -> float:
    """Litres per hour: peaks at breakfast and dinner, near zero at night, plus any leak."""
    hour = local.hour + local.minute / 60
    usage = 40 * math.exp(-((hour - 7.5) ** 2) / 1.5) + 55 * math.exp(-((hour - 19.5) ** 2) / 3)
    return max(0.0, usage + random.gauss(0, 3)) + leak_lph


@dataclass
class SimulatedSensor:
    """One device: its identity and the state its next reading grows from."""

    organization_id: uuid.UUID
    building_id: uuid.UUID
    device_id: str
    type: str
    leak_lph: float = 0.0
    index: float = field(default_factory=lambda: random.uniform(10, 900))
    battery: float = field(default_factory=lambda: random.uniform(40, 100))
    last: float = field(default_factory=time.time)
    seen_at: datetime | None = None  # its last stored reading, when it was registered already
    integration: Integration = Integration.KOPROGO

    @property
    def topic(self) -> str:
        return mqtt_topic(self.organization_id, self.building_id, self.device_id)

    def message(self, now: datetime) -> tuple[str, dict[str, Any]]:
        """Its next reading as its product sends it: (MQTT topic, or "" for a webhook; JSON)."""
        reading = self.reading(now)
        if self.integration is Integration.KOPROGO:
            return self.topic, reading
        suffix, message = encode(
            self.integration,
            SensorType(self.type),
            self.device_id,
            reading["value"],
            now,
            battery=reading["battery_level"],
            signal=reading["signal_strength"],
        )
        if not suffix:
            return "", message
        return f"{topic_prefix(self.organization_id, self.building_id)}{suffix}", message

    def reading(self, now: datetime) -> dict:
        elapsed_h = max(0.0, now.timestamp() - self.last) / 3600
        self.last = now.timestamp()
        self.battery = max(5.0, self.battery - elapsed_h * 0.01)
        local = now.astimezone(LOCAL)
        if self.type in ("COLD_WATER", "HOT_WATER"):
            self.index += water_flow_lph(local, self.leak_lph) * elapsed_h / 1000  # m3
            value = round(self.index, 4)
        elif self.type == "ELECTRICITY":
            self.index += (
                (0.3 + 0.9 * (7 <= local.hour <= 22)) * elapsed_h * random.uniform(0.7, 1.3)
            )
            value = round(self.index, 3)
        elif self.type == "HUMIDITY":
            value = round(48 + 6 * math.sin((local.hour - 15) / 24 * 2 * math.pi), 1)
        elif self.type == "AIR_QUALITY":  # CO2 rises while people are in (ppm)
            value = round(520 + 450 * (8 <= local.hour <= 20) + random.gauss(0, 25))
        else:
            value = round(
                20.5 + 1.5 * math.sin((local.hour - 9) / 24 * 2 * math.pi) + random.gauss(0, 0.2), 2
            )
        return {
            "timestamp": now.isoformat(timespec="microseconds"),
            "value": value,
            "battery_level": int(self.battery),
            "signal_strength": random.randint(-95, -55),
        }


def make_fleet(
    organization_id: uuid.UUID,
    building_id: uuid.UUID,
    count: int,
    *,
    leaks: int = 0,
    prefix: str = "SIM",
    integration: Integration = Integration.KOPROGO,
) -> list[SimulatedSensor]:
    """``count`` sensors cycling through what ``integration``'s devices measure (water,
    electricity, temperature...); the first ``leaks`` water meters leak (a constant 12 L/h that
    never lets consumption reach zero)."""
    fleet: list[SimulatedSensor] = []
    kinds = KINDS_OF[integration]
    for i in range(count):
        kind = kinds[i % len(kinds)]
        sensor = SimulatedSensor(
            organization_id, building_id, f"{prefix}-{i:05d}", kind, integration=integration
        )
        if kind in ("COLD_WATER", "HOT_WATER") and sum(s.leak_lph > 0 for s in fleet) < leaks:
            sensor.leak_lph = 12.0
        fleet.append(sensor)
    return fleet


async def provision(database_url: str, fleet: list[SimulatedSensor]) -> int:
    """Register the fleet's sensors (those not registered yet); return how many were added."""
    from ..domain.sensors import default_reading_kind, default_unit_of_measure
    from ..store import sensors as sensors_store
    from ..store.db import open_database

    added = 0
    async with open_database(database_url, pool_size=2) as db:
        by_org: dict[uuid.UUID, list[SimulatedSensor]] = {}
        for s in fleet:
            by_org.setdefault(s.organization_id, []).append(s)
        for org, sensors in by_org.items():
            async with db.tenant(org) as con:
                added += await sensors_store.insert_missing(
                    con,
                    org,
                    [
                        {
                            "building_id": s.building_id,
                            "device_id": s.device_id,
                            "type": s.type,
                            "reading_kind": default_reading_kind(SensorType(s.type)).value,
                            "manufacturer": "KoproGo",
                            "model": "Simulator",
                            "location": "Simulated",
                            "unit_of_measure": default_unit_of_measure(SensorType(s.type)),
                            "sampling_interval": 60,
                            # Rooms above 26 °C raise a threshold alert (the probes hover
                            # around 20.5).
                            "alert_rules": {"threshold_max": 26.0}
                            if s.type == SensorType.TEMPERATURE
                            else {},
                            **_binding(s),
                        }
                        for s in sensors
                    ],
                )
                # Registered before (a demo restarted on kept data): meters go on from their
                # last index, never from a new random one (which the consumption rule would
                # take for a glitch or a reset).
                known = await sensors_store.by_device(con, [(org, s.device_id) for s in sensors])
                state = {r.device_id: r for r in known}
                for s in sensors:
                    row = state.get(s.device_id)
                    if row is None or row.last_reading_at is None:
                        continue
                    s.seen_at = row.last_reading_at
                    if s.type in METERS and row.last_value is not None:
                        s.index = row.last_value
    return added


def _binding(sensor: SimulatedSensor) -> dict[str, Any]:
    """The columns binding a simulated product's device to its sensor (SPEC §11)."""
    if sensor.integration is Integration.KOPROGO:
        return {}
    kind = SensorType(sensor.type)
    return {
        "integration": sensor.integration.value,
        "external_id": sensor.device_id,
        "metric": default_metric(sensor.integration, kind),
        "unit_scale": UNIT_SCALES.get((sensor.integration, kind), 1.0),
    }


async def post_simulation(
    url: str,
    token: str,
    fleet: list[SimulatedSensor],
    *,
    rate: float,
    duration: float | None,
) -> int:
    """Post uplinks round-robin over the fleet at ``rate`` per second to a webhook
    (``url``: the service's /ingest/ttn/<building> or /ingest/chirpstack/<building>?event=up),
    as a LoRaWAN network server does; return how many the service stored or refused."""
    sent = 0
    started = time.monotonic()
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=30) as client:
        while duration is None or time.monotonic() - started < duration:
            sensor = fleet[sent % len(fleet)]
            _, message = sensor.message(datetime.now(UTC))
            response = await client.post(url, json=message, headers=headers)
            if response.status_code >= 500:
                log.warning("the service answered %d: %s", response.status_code, response.text)
            sent += 1
            ahead = sent / rate - (time.monotonic() - started)
            if ahead > 0:
                await asyncio.sleep(ahead)
    return sent


async def run_simulation(
    mqtt: MqttSettings,
    fleet: list[SimulatedSensor],
    *,
    rate: float,
    duration: float | None,
    batch: int = 1,
) -> int:
    """Publish readings round-robin over the fleet at ``rate`` messages/s; return messages sent.

    With ``batch`` > 1 each message carries that many readings (a device catching up; KoproGo's
    format only: the products send one at a time).
    """
    sent = 0
    started = time.monotonic()
    async with connect(
        mqtt, f"koprogo-simulator-{uuid.uuid4().hex[:8]}", max_inflight_messages=1000
    ) as client:
        while duration is None or time.monotonic() - started < duration:
            sensor = fleet[sent % len(fleet)]
            now = datetime.now(UTC)
            if sensor.integration is not Integration.KOPROGO:
                topic, message = sensor.message(now)
                await client.publish(topic, json.dumps(message), qos=1)
                sent += 1
                ahead = sent / rate - (time.monotonic() - started)
                if ahead > 0:
                    await asyncio.sleep(ahead)
                continue
            readings = [sensor.reading(now) for _ in range(batch)]
            if batch > 1:  # distinct timestamps, one microsecond apart
                for i, r in enumerate(readings):
                    r["timestamp"] = datetime.fromtimestamp(
                        now.timestamp() - (batch - i) * 1e-3, UTC
                    ).isoformat()
            payload = readings[0] if batch == 1 else readings
            await client.publish(sensor.topic, json.dumps(payload), qos=1)
            sent += 1
            ahead = sent / rate - (time.monotonic() - started)
            if ahead > 0:
                await asyncio.sleep(ahead)
    return sent
