"""Topics: KoproGo's own ``koprogo/{organization_id}/{building_id}/{device_id}/readings``
(SPEC §6), and the products' ``koprogo/{organization_id}/{building_id}/{integration}/...``
(SPEC §11)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from ..domain.integrations import Integration
from ..domain.payload import Rejection, RejectReason
from .decoders import MQTT_INTEGRATIONS

__all__ = [
    "DeviceTopic",
    "ReadingTopic",
    "organization_of",
    "parse_topic",
    "subscription_filter",
    "subscription_filters",
]


@dataclass(frozen=True, slots=True)
class ReadingTopic:
    organization_id: uuid.UUID
    building_id: uuid.UUID
    device_id: str


@dataclass(frozen=True, slots=True)
class DeviceTopic:
    """A product's message: its integration and the topic levels after it."""

    organization_id: uuid.UUID
    building_id: uuid.UUID
    integration: Integration
    levels: tuple[str, ...]


def subscription_filter(share_group: str | None) -> str:
    """KoproGo's own reading topics; a shared subscription splits the load."""
    return _shared("koprogo/+/+/+/readings", share_group)


def subscription_filters(share_group: str | None) -> list[str]:
    """Every topic filter ingestors subscribe to: our own, then each product's."""
    return [subscription_filter(share_group)] + [
        _shared(f"koprogo/+/+/{name}/#", share_group) for name in MQTT_INTEGRATIONS
    ]


def _shared(base: str, share_group: str | None) -> str:
    return f"$share/{share_group}/{base}" if share_group else base


def parse_topic(
    topic: str, via: Integration | None = None
) -> ReadingTopic | DeviceTopic | Rejection:
    """What a topic names; ``via``: the HTTP integration a message was posted to."""
    parts = topic.split("/")
    product = via or (MQTT_INTEGRATIONS.get(parts[3]) if len(parts) > 4 else None)
    if parts[0] != "koprogo" or len(parts) < 4:
        return Rejection(RejectReason.BAD_TOPIC, "expected koprogo/<org>/<building>/...")
    if product is None and (len(parts) != 5 or parts[4] != "readings" or not parts[3]):
        return Rejection(
            RejectReason.BAD_TOPIC,
            "expected koprogo/<org>/<building>/<device>/readings or "
            "koprogo/<org>/<building>/<integration>/...",
        )
    try:
        org, building = uuid.UUID(parts[1]), uuid.UUID(parts[2])
    except ValueError:
        return Rejection(RejectReason.BAD_ID, "organization and building must be UUIDs")
    if product is not None:
        return DeviceTopic(org, building, product, tuple(parts[4:]))
    return ReadingTopic(organization_id=org, building_id=building, device_id=parts[3])


def organization_of(topic: str) -> uuid.UUID | None:
    """The organization a topic names, if it names one (to file a rejection under it)."""
    parts = topic.split("/")
    if len(parts) >= 2 and parts[0] == "koprogo":
        try:
            return uuid.UUID(parts[1])
        except ValueError:
            return None
    return None
