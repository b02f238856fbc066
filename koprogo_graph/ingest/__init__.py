"""MQTT ingestion: topic parsing, the sensor registry, batching writes, acknowledgement."""
