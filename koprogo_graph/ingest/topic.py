"""Reading topics: ``koprogo/{organization_id}/{building_id}/{device_id}/readings`` (SPEC §6)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from ..domain.payload import Rejection, RejectReason

__all__ = ["ReadingTopic", "parse_topic", "subscription_filter"]


@dataclass(frozen=True, slots=True)
class ReadingTopic:
    organization_id: uuid.UUID
    building_id: uuid.UUID
    device_id: str


def subscription_filter(share_group: str | None) -> str:
    """The topic filter ingestors subscribe to; a shared subscription splits the load."""
    base = "koprogo/+/+/+/readings"
    return f"$share/{share_group}/{base}" if share_group else base


def parse_topic(topic: str) -> ReadingTopic | Rejection:
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != "koprogo" or parts[4] != "readings" or not parts[3]:
        return Rejection(
            RejectReason.BAD_TOPIC, "expected koprogo/<org>/<building>/<device>/readings"
        )
    try:
        org, building = uuid.UUID(parts[1]), uuid.UUID(parts[2])
    except ValueError:
        return Rejection(RejectReason.BAD_ID, "organization and building must be UUIDs")
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
