"""Connecting to the broker as MQTT_URL says: its host, its user, and TLS (a private CA, a
client certificate) for ``mqtts://``."""

from __future__ import annotations

import ssl
from typing import Any

import aiomqtt

from ..config import MqttSettings

__all__ = ["connect_options", "tls_context"]


def tls_context(mqtt: MqttSettings) -> ssl.SSLContext | None:
    """For mqtts://: TLS 1.2 or later, the broker checked against MQTT_CA_FILE (else the
    system's CAs), and a client certificate when MQTT_CERT_FILE/MQTT_KEY_FILE are set."""
    if not mqtt.tls:
        return None
    context = ssl.create_default_context(cafile=mqtt.ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if mqtt.cert_file and mqtt.key_file:
        context.load_cert_chain(mqtt.cert_file, mqtt.key_file)
    return context


def connect_options(mqtt: MqttSettings, identifier: str) -> dict[str, Any]:
    """aiomqtt.Client's arguments for connecting as the service."""
    return {
        "hostname": mqtt.host,
        "port": mqtt.port,
        "username": mqtt.username,
        "password": mqtt.password.get() if mqtt.password else None,
        "identifier": identifier,
        "tls_context": tls_context(mqtt),
    }


def client(mqtt: MqttSettings, identifier: str, **options: Any) -> aiomqtt.Client:
    return aiomqtt.Client(**connect_options(mqtt, identifier), **options)
