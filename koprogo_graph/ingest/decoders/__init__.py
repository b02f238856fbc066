"""Decoders of the products' own messages (SPEC §11): each a small pure module, written from
the product's documentation and tested against recorded messages (tests/fixtures/devices/).

A decoder takes the topic levels after ``koprogo/<org>/<building>/<integration>/`` (none for
the HTTP integrations) and the message's JSON, and says which device spoke, what it said (a
JSON object the sensors' metrics are read from), when, and its battery and signal, if given;
or that the message carries no measurement (bridge state, availability, commands); or why it
is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ...domain.integrations import Integration
from ...domain.payload import Rejection
from . import lorawan, shelly, tasmota, wmbusmeters, zigbee2mqtt
from .common import Decoded, Ignored

__all__ = ["DECODERS", "MQTT_INTEGRATIONS", "Decoded", "Ignored", "decode"]

Decoder = Callable[[Sequence[str], Any], Decoded | Ignored | Rejection]

DECODERS: dict[Integration, Decoder] = {
    Integration.SHELLY: shelly.decode,
    Integration.TASMOTA: tasmota.decode,
    Integration.ZIGBEE2MQTT: zigbee2mqtt.decode,
    Integration.WMBUSMETERS: wmbusmeters.decode,
    Integration.TTN: lorawan.decode_ttn,
    Integration.CHIRPSTACK: lorawan.decode_chirpstack,
}

# Those that come over MQTT, by their topic level.
MQTT_INTEGRATIONS: dict[str, Integration] = {i.topic_name: i for i in Integration if i.over_mqtt}


def decode(
    integration: Integration, levels: Sequence[str], document: Any
) -> Decoded | Ignored | Rejection:
    return DECODERS[integration](levels, document)
