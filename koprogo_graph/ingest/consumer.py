"""The MQTT side of ingestion: subscribe, batch, acknowledge after commit, reconnect.

aiomqtt 2.5.1 lets paho acknowledge QoS 1 messages as soon as they are queued in memory, so a
crash would lose them (SPEC §8b). We switch paho to manual acknowledgement and send each PUBACK
only once the batch holding the message has committed (or was rejected and recorded). With an
MQTT 5 persistent session (clean_start False, a session expiry, a stable client id) the broker
redelivers whatever was never acknowledged; idempotent storage makes that harmless. The MQTT 5
Receive Maximum bounds how many unacknowledged messages the broker sends us, which bounds our
memory while the database is down.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ..config import MqttSettings
from ..domain.readings import StoredReading
from ..store.db import is_transient
from . import metrics
from .mqtt import client as connect
from .pipeline import Incoming, Pipeline
from .topic import subscription_filters

__all__ = ["IngestOptions", "run_ingestor"]

T = TypeVar("T")
log = logging.getLogger(__name__)

Handoff = Callable[[list[StoredReading]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class IngestOptions:
    batch_size: int = 1_000
    batch_seconds: float = 0.02
    receive_maximum: int = 2_000
    session_expiry_seconds: int = 7 * 86_400
    keepalive: int = 30


def _client(mqtt: MqttSettings, options: IngestOptions) -> aiomqtt.Client:
    session: dict = {}
    if mqtt.protocol == "5":
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = options.session_expiry_seconds
        props.ReceiveMaximum = options.receive_maximum
        session = {
            "protocol": aiomqtt.ProtocolVersion.V5,
            "clean_start": False,
            "properties": props,
        }
    else:
        # MQTT 3.1.1: the broker's max_inflight_messages bounds what is unacknowledged.
        session = {"protocol": aiomqtt.ProtocolVersion.V311, "clean_session": False}
    client = connect(mqtt, mqtt.client_id, keepalive=options.keepalive, **session)
    # Before connecting: a resumed session's redeliveries arrive right after CONNACK.
    # private-api: aiomqtt has no manual acknowledgement, and a message is acknowledged only
    # once its reading is committed (SPEC §8b); tests/integration/test_ingest_faults.py
    # (killing the ingestor with messages in flight loses nothing) proves it.
    client._client.manual_ack_set(True)
    return client


async def run_ingestor(
    mqtt: MqttSettings,
    pipeline: Pipeline,
    handoff: Handoff,
    options: IngestOptions = IngestOptions(),
) -> None:
    """Consume readings forever, reconnecting to the broker with backoff."""
    backoff = 0.5
    while True:
        try:
            async with _client(mqtt, options) as client:
                for topic_filter in subscription_filters(mqtt.share_group):
                    await client.subscribe(topic_filter, qos=1)
                metrics.MQTT_CONNECTED.set(1)
                backoff = 0.5
                log.info("ingestor subscribed on %s:%d as %s", mqtt.host, mqtt.port, mqtt.client_id)
                await _consume(client, pipeline, handoff, options)
        except aiomqtt.MqttError as exc:
            log.warning("MQTT connection lost (%s); reconnecting in %.1fs", exc, backoff)
        finally:
            metrics.MQTT_CONNECTED.set(0)
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, 30.0)


async def _consume(
    client: aiomqtt.Client, pipeline: Pipeline, handoff: Handoff, options: IngestOptions
) -> None:
    """A batch starts as soon as it has a message and ``batch_seconds`` have passed since the
    previous one started (or it is full). Under load, batches are a window apart, which bounds
    the per-batch cost; a message waits at most one window, plus the batch in progress; when
    traffic is sparse, a lone message goes at once."""
    messages = client.messages
    previous_start = -math.inf
    while True:
        batch = [await anext(messages)]
        deadline = previous_start + options.batch_seconds
        while len(batch) < options.batch_size:
            if len(messages) == 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                await asyncio.sleep(min(remaining, 0.002))
                continue
            batch.append(await anext(messages))
        previous_start = time.monotonic()
        await _process(client, batch, pipeline, handoff)


async def _process(
    client: aiomqtt.Client,
    batch: Sequence[aiomqtt.Message],
    pipeline: Pipeline,
    handoff: Handoff,
) -> None:
    now = datetime.now(UTC)
    incoming = [
        Incoming(topic=m.topic.value, payload=_bytes(m.payload), received_at=now) for m in batch
    ]
    started = time.perf_counter()
    lookup = await _retrying("resolve sensors", lambda: pipeline.resolve(incoming))
    plan = pipeline.plan(incoming, lookup)
    stored = await _retrying("write batch", lambda: pipeline.commit(plan))
    committed = time.monotonic()
    for m in batch:
        if m.qos > 0:
            # private-api: as manual_ack_set above; tests/integration/test_ingest_faults.py
            client._client.ack(m.mid, m.qos)
    metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
    for item in incoming:
        metrics.INGEST_LAG.observe(committed - item.received_mono)
    if stored:
        await handoff(stored)


async def _retrying(what: str, attempt: Callable[[], Awaitable[T]]) -> T:
    """Retry a database step until it succeeds: unacknowledged messages wait meanwhile."""
    backoff = 0.2
    while True:
        try:
            return await attempt()
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning(
                "database unavailable during %s (%s); retrying in %.1fs", what, exc, backoff
            )
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)


def _bytes(payload: object) -> bytes:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    if isinstance(payload, str):
        return payload.encode()
    return b"" if payload is None else str(payload).encode()
