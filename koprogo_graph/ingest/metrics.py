"""Prometheus metrics of ingestion."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "BATCH_SECONDS",
    "DEVICE_MESSAGES",
    "DUPLICATES",
    "INGESTED",
    "INGEST_LAG",
    "MQTT_CONNECTED",
    "PUBLISH_DROPPED",
    "REJECTED",
]

INGESTED = Counter("koprogo_readings_ingested", "Readings newly stored")
DUPLICATES = Counter("koprogo_readings_duplicate", "Readings already stored (redeliveries)")
REJECTED = Counter("koprogo_readings_rejected", "Readings or messages refused", ["reason"])
BATCH_SECONDS = Histogram(
    "koprogo_ingest_batch_seconds",
    "Time to validate and commit one batch",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
INGEST_LAG = Histogram(
    "koprogo_ingest_lag_seconds",
    "From the start of a batch's processing to its commit, per reading",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
MQTT_CONNECTED = Gauge("koprogo_mqtt_connected", "1 while the ingestor is connected to the broker")
PUBLISH_DROPPED = Counter(
    "koprogo_live_events_dropped", "Live reading events dropped because publishing lagged"
)
DEVICE_MESSAGES = Counter(
    "koprogo_device_messages",
    "Products' messages (SPEC §11) by integration and outcome: read (a bound sensor's metric "
    "was in it), no_metric (none was), no_measurement (state, availability, commands)",
    ["integration", "outcome"],
)
