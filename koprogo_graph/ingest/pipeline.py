"""From a batch of MQTT messages to committed readings, recorded rejections, and hand-offs.

[1] topics are parsed and the sensors they name resolved (one query for all cache misses);
[2] each message is validated and planned once (rate limiting consumes tokens, so a retried
    write must not plan again);
[3] the plan is written in one transaction: readings (idempotent), sensors' last_*, rejections;
[4] after the commit, the caller acknowledges the messages; new readings go to the listeners
    and to live subscribers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from ..domain.integrations import Integration, MetricError, is_external_id, read_metric
from ..domain.payload import (
    DeviceReading,
    Rejection,
    RejectReason,
    check_reading,
    load_json,
    parse_payload,
)
from ..domain.quality import grade
from ..domain.ratelimit import RateLimiter
from ..domain.readings import StoredReading
from ..domain.sensors import MAX_READING_VALUE
from ..store import evaluations as evaluations_store
from ..store import readings as readings_store
from ..store import rejections as rejections_store
from ..store.db import Database, is_transient
from . import metrics
from .decoders import Decoded, Ignored, decode
from .registry import BindingKey, Key, SensorInfo, SensorRegistry
from .topic import DeviceTopic, ReadingTopic, organization_of, parse_topic

__all__ = ["BatchPlan", "Incoming", "Lookup", "Pipeline", "ReadingListener"]

log = logging.getLogger(__name__)

ReadingListener = Callable[[list[StoredReading]], Awaitable[None]]
RETENTION = timedelta(days=730)
_EXCERPT = 200


@dataclass(frozen=True, slots=True)
class Incoming:
    """One message as the pipeline sees it (over MQTT, or posted to an HTTP integration)."""

    topic: str
    payload: bytes
    received_at: datetime  # aware UTC
    received_mono: float = field(default_factory=time.monotonic)
    via: Integration | None = None  # the HTTP integration it was posted to


@dataclass(frozen=True, slots=True)
class Prepared:
    """A message as read before the database is asked anything: its topic, and for a
    product's message what its decoder made of it."""

    topic: ReadingTopic | DeviceTopic | Rejection
    decoded: Decoded | Ignored | Rejection | None = None


@dataclass(frozen=True, slots=True)
class Lookup:
    """A batch's messages, prepared, and the sensors they name (one query for all misses)."""

    prepared: list[Prepared]
    sensors: dict[Key, SensorInfo | None]
    bindings: dict[BindingKey, list[SensorInfo]]


@dataclass(slots=True)
class BatchPlan:
    rows: list[readings_store.ReadingRow] = field(default_factory=list)
    sensors: list[SensorInfo] = field(default_factory=list)  # parallel to rows
    rejections: list[rejections_store.RejectionRow] = field(default_factory=list)


def _anomaly(info: SensorInfo, value: float) -> str | None:
    if info.threshold_max is not None and value > info.threshold_max:
        return f"above maximum threshold {info.threshold_max:g}"
    if info.threshold_min is not None and value < info.threshold_min:
        return f"below minimum threshold {info.threshold_min:g}"
    return None


class Pipeline:
    """Validates, stores and hands on batches; owns no connection (the Database does)."""

    def __init__(
        self,
        db: Database,
        registry: SensorRegistry,
        limiter: RateLimiter,
        *,
        reading_limiter: RateLimiter | None = None,
        retention: timedelta = RETENTION,
    ) -> None:
        self.db = db
        self.registry = registry
        self.limiter = limiter  # messages per sensor
        # Readings per sensor: a buffered array may hold many, but not without end.
        self.reading_limiter = reading_limiter or RateLimiter(rate=10.0, burst=1_000.0)
        self.retention = retention

    async def resolve(self, messages: Sequence[Incoming]) -> Lookup:
        """[1] Read every message's topic (and a product's message), then find the sensors
        they name. A lookup the database refuses for good (not an outage) is tried again
        message by message, and only the messages it fails for are refused: whatever a message
        holds, it never stops the ingestor."""
        prepared = [_prepare(m) for m in messages]
        try:
            return await self._lookup(prepared)
        except Exception as exc:
            if is_transient(exc):
                raise
            log.exception("looking up a batch's sensors failed: looking each message up alone")
        lookups = [await self._lookup_alone(p) for p in prepared]
        return Lookup(
            [lookup.prepared[0] for lookup in lookups],
            {k: v for lookup in lookups for k, v in lookup.sensors.items()},
            {k: v for lookup in lookups for k, v in lookup.bindings.items()},
        )

    async def _lookup_alone(self, prepared: Prepared) -> Lookup:
        try:
            return await self._lookup([prepared])
        except Exception as exc:
            if is_transient(exc):
                raise
            refused = Rejection(RejectReason.INTERNAL, "the sensor could not be looked up")
            return Lookup([Prepared(refused)], {}, {})

    async def _lookup(self, prepared: list[Prepared]) -> Lookup:
        keys: list[Key] = []
        bound: list[BindingKey] = []
        for p in prepared:
            if isinstance(p.topic, ReadingTopic):
                keys.append((p.topic.organization_id, p.topic.device_id))
            elif isinstance(p.topic, DeviceTopic) and isinstance(p.decoded, Decoded):
                t = p.topic
                bound += [
                    (t.organization_id, t.building_id, t.integration.value, external)
                    for external in p.decoded.external_ids
                ]
        if not keys and not bound:
            return Lookup(prepared, {}, {})
        async with self.db.system() as con:
            sensors = await self.registry.resolve(con, keys) if keys else {}
            bindings = await self.registry.resolve_bindings(con, bound) if bound else {}
        return Lookup(prepared, sensors, bindings)

    def plan(self, messages: Sequence[Incoming], lookup: Lookup) -> BatchPlan:
        """[2] Validate every message; never raises."""
        plan = BatchPlan()
        for m, prepared in zip(messages, lookup.prepared, strict=True):
            try:
                if isinstance(prepared.topic, DeviceTopic):
                    self._plan_device(plan, m, prepared.topic, prepared.decoded, lookup)
                else:
                    self._plan_message(plan, m, prepared.topic, lookup)
            except Exception:  # a bug must cost one message, never the ingestor
                log.exception("unexpected error validating a message on %s", m.topic)
                self._reject(plan, m, Rejection(RejectReason.INTERNAL, "unexpected error"))
        return plan

    def _plan_device(
        self,
        plan: BatchPlan,
        m: Incoming,
        topic: DeviceTopic,
        decoded: Decoded | Ignored | Rejection | None,
        lookup: Lookup,
    ) -> None:
        """A product's message: each sensor bound to the device reads its metric from it."""
        integration = topic.integration.value
        if isinstance(decoded, Rejection) or decoded is None:
            return self._reject(plan, m, decoded or Rejection(RejectReason.INTERNAL, "undecoded"))
        if isinstance(decoded, Ignored):
            metrics.DEVICE_MESSAGES.labels(integration, "no_measurement").inc()
            return None
        sensors: list[SensorInfo] = []
        for external in decoded.external_ids:
            key = (topic.organization_id, topic.building_id, integration, external)
            if sensors := lookup.bindings.get(key, []):
                break
        if not sensors:
            return self._reject(
                plan,
                m,
                Rejection(
                    RejectReason.UNBOUND_DEVICE,
                    f"no sensor of the building is bound to {integration} device "
                    f"{' / '.join(decoded.external_ids)}",
                ),
            )
        read = 0
        for info in sensors:
            try:
                raw = read_metric(decoded.document, info.metric or "")
            except MetricError as exc:
                self._reject(plan, m, Rejection(RejectReason.UNKNOWN_METRIC, str(exc)))
                continue
            if raw is None:  # the message is not about this sensor's measurement
                continue
            read += 1
            if info.status == "INACTIVE":
                self._reject(plan, m, Rejection(RejectReason.SENSOR_INACTIVE, info.device_id))
            elif not self.limiter.allow(info.id, m.received_mono):
                self._reject(
                    plan, m, Rejection(RejectReason.RATE_LIMITED, "more than the sensor's rate")
                )
            else:
                item = check_reading(
                    _device_time(decoded.ts, info.timezone) or m.received_at,
                    raw,
                    decoded.battery,
                    decoded.signal,
                    now=m.received_at,
                    retention=self.retention,
                )
                self._check_and_accept(plan, m, info, item)
        metrics.DEVICE_MESSAGES.labels(integration, "read" if read else "no_metric").inc()
        return None

    def _plan_message(
        self,
        plan: BatchPlan,
        m: Incoming,
        topic: ReadingTopic | Rejection,
        lookup: Lookup,
    ) -> None:
        if isinstance(topic, Rejection):
            return self._reject(plan, m, topic)
        info = lookup.sensors.get((topic.organization_id, topic.device_id))
        if info is None:
            return self._reject(plan, m, Rejection(RejectReason.UNKNOWN_SENSOR, topic.device_id))
        if info.building_id != topic.building_id:
            return self._reject(
                plan,
                m,
                Rejection(RejectReason.BUILDING_MISMATCH, f"sensor is in {info.building_id}"),
            )
        if info.status == "INACTIVE":
            return self._reject(plan, m, Rejection(RejectReason.SENSOR_INACTIVE, info.device_id))
        if not self.limiter.allow(info.id, m.received_mono):
            return self._reject(
                plan, m, Rejection(RejectReason.RATE_LIMITED, "more than the sensor's rate")
            )
        items = parse_payload(m.payload, now=m.received_at, retention=self.retention)
        readings = sum(isinstance(item, DeviceReading) for item in items)
        if readings and not self.reading_limiter.allow(info.id, m.received_mono, readings):
            return self._reject(
                plan,
                m,
                Rejection(
                    RejectReason.RATE_LIMITED, f"{readings} readings: more than the sensor's rate"
                ),
            )
        for item in items:
            self._check_and_accept(plan, m, info, item)
        return None

    def _check_and_accept(
        self, plan: BatchPlan, m: Incoming, info: SensorInfo, item: DeviceReading | Rejection
    ) -> None:
        """What holds for every reading, whoever decoded it: a meter never counts down from
        zero, and the scaled, calibrated value stays within bounds."""
        if isinstance(item, Rejection):
            self._reject(plan, m, item)
        elif info.reading_kind == "CUMULATIVE" and item.raw_value < 0:
            self._reject(
                plan, m, Rejection(RejectReason.NEGATIVE_CUMULATIVE, f"{item.raw_value:g}")
            )
        elif abs(item.raw_value * info.unit_scale * info.calibration_factor) > MAX_READING_VALUE:
            self._reject(
                plan,
                m,
                Rejection(RejectReason.VALUE_OUT_OF_RANGE, "calibrated value above 1e+12"),
            )
        else:
            self._accept(plan, info, item)

    def _accept(self, plan: BatchPlan, info: SensorInfo, item: DeviceReading) -> None:
        value = item.raw_value * info.unit_scale * info.calibration_factor
        anomaly = _anomaly(info, value)
        plan.rows.append(
            readings_store.ReadingRow(
                sensor_id=info.id,
                ts=item.ts,
                organization_id=info.organization_id,
                building_id=info.building_id,
                unit_id=info.unit_id,
                value=value,
                raw_value=item.raw_value,
                battery_level=item.battery_level,
                signal_strength=item.signal_strength,
                quality=grade(item.battery_level, item.signal_strength).value,
                is_anomaly=anomaly is not None,
                anomaly_reason=anomaly,
            )
        )
        plan.sensors.append(info)

    @staticmethod
    def _reject(plan: BatchPlan, m: Incoming, rejection: Rejection) -> None:
        metrics.REJECTED.labels(rejection.reason.value).inc()
        plan.rejections.append(
            rejections_store.RejectionRow(
                organization_id=organization_of(m.topic),
                topic=_text(m.topic[:300]),
                reason=rejection.reason.value,
                detail=_text(rejection.detail[:300]),
                payload_excerpt=_text(m.payload[:_EXCERPT].decode("utf-8", errors="replace")),
            )
        )

    async def write(self, plan: BatchPlan) -> list[StoredReading]:
        """[3] Commit the plan; return the readings that were new."""
        async with self.db.system() as con:
            inserted = await readings_store.insert_batch(con, plan.rows)
            new_keys = {(r["sensor_id"], r["ts"]): r["received_at"] for r in inserted}
            new_rows = [r for r in plan.rows if (r.sensor_id, r.ts) in new_keys]
            await readings_store.touch_sensors(con, new_rows)
            await rejections_store.insert(con, plan.rejections)
            # In the same transaction: what the alert engine must evaluate (durably).
            evaluation = await evaluations_store.record(con, list(new_keys))
        metrics.INGESTED.inc(len(new_keys))
        metrics.DUPLICATES.inc(len(plan.rows) - len(new_keys))
        stored, seen = [], set()
        for row, info in zip(plan.rows, plan.sensors, strict=True):
            key = (row.sensor_id, row.ts)
            if key in new_keys and key not in seen:
                seen.add(key)
                stored.append(_stored(row, info, new_keys[key], evaluation))
        return stored

    async def commit(self, plan: BatchPlan) -> list[StoredReading]:
        """[3] as ``write``; a batch the database refuses for good (not an outage) is written
        piecemeal, so that one bad item costs itself only. Outages raise, for the caller to
        retry (the MQTT ingestor) or to answer 503 (the webhooks)."""
        try:
            return await self.write(plan)
        except Exception as exc:
            if is_transient(exc):
                raise
            log.exception(
                "database refused a batch of %d readings; writing it piecemeal", len(plan.rows)
            )
            return await self.write_piecemeal(plan)

    async def write_piecemeal(self, plan: BatchPlan) -> list[StoredReading]:
        """Write a batch that the database refused as a whole, one item at a time.

        A batch only fails this way through a bug or an input we did not foresee; the items the
        database still refuses become ``internal_error`` rejections, and the rest is stored.
        """
        stored: list[StoredReading] = []
        for row, info in zip(plan.rows, plan.sensors, strict=True):
            try:
                stored += await self.write(BatchPlan(rows=[row], sensors=[info]))
            except Exception as exc:
                if is_transient(exc):
                    raise
                log.error("database refused a reading of %s at %s: %s", info.device_id, row.ts, exc)
                metrics.REJECTED.labels(RejectReason.INTERNAL.value).inc()
        for rejection in plan.rejections:
            try:
                await self.write(BatchPlan(rejections=[rejection]))
            except Exception as exc:
                if is_transient(exc):
                    raise
                log.error("database refused to record a rejection on %r: %s", rejection.topic, exc)
        return stored


def _prepare(m: Incoming) -> Prepared:
    """A message's topic, and for a product's message its decoding (pure; never raises)."""
    topic = parse_topic(m.topic, m.via)
    if not isinstance(topic, DeviceTopic):
        return Prepared(topic)
    document = load_json(m.payload)
    if isinstance(document, Rejection):
        return Prepared(topic, document)
    try:
        decoded = decode(topic.integration, topic.levels, document)
    except Exception:  # a decoder's bug must cost one message, never the ingestor
        log.exception("decoding a %s message failed", topic.integration.value)
        return Prepared(topic, Rejection(RejectReason.INTERNAL, "the message could not be decoded"))
    if isinstance(decoded, Decoded) and not all(map(is_external_id, decoded.external_ids)):
        # Never looked up: no sensor can be bound to it (and the database refuses NULs).
        return Prepared(
            topic, Rejection(RejectReason.UNBOUND_DEVICE, "a device id no sensor can have")
        )
    return Prepared(topic, decoded)


def _device_time(ts: datetime | None, timezone: str) -> datetime | None:
    """A device's time, aware: one without an offset is local to its building."""
    if ts is None:
        return None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=ZoneInfo(timezone))
    return ts.astimezone(UTC)  # one instant, whatever the zone (DST's repeated hour included)


def _text(value: str) -> str:
    """PostgreSQL text cannot hold NUL characters; devices can send them."""
    return value.replace("\x00", "\ufffd")


def _stored(
    row: readings_store.ReadingRow,
    info: SensorInfo,
    received_at: datetime,
    evaluation_id: int | None = None,
) -> StoredReading:
    return StoredReading(
        sensor_id=row.sensor_id,
        organization_id=row.organization_id,
        building_id=row.building_id,
        unit_id=row.unit_id,
        device_id=info.device_id,
        sensor_type=info.type,
        reading_kind=info.reading_kind,
        ts=row.ts.astimezone(UTC),
        value=row.value,
        raw_value=row.raw_value,
        unit_of_measure=info.unit_of_measure,
        battery_level=row.battery_level,
        signal_strength=row.signal_strength,
        quality=row.quality,
        is_anomaly=row.is_anomaly,
        anomaly_reason=row.anomaly_reason,
        received_at=received_at,
        resolution=info.resolution,
        evaluation_id=evaluation_id,
    )
