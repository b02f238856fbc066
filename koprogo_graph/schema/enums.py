"""GraphQL enums: the domain's enums, exposed under their SPEC §10 names."""

from __future__ import annotations

from enum import Enum

import strawberry

from ..auth import Role
from ..domain.alerts import (
    AlertSeverity,
    AlertStatus,
    AlertType,
    DeliveryChannel,
    ManualReadingSource,
    NotificationKind,
)
from ..domain.consumption import BucketWidth, FillMode
from ..domain.integrations import Integration
from ..domain.payload import RejectReason
from ..domain.quality import Quality
from ..domain.sensors import SENSOR_TYPES, Connectivity, ReadingKind, SensorStatus, SensorType
from ..domain.statement import CommonAllocation

__all__ = [
    "AlertSeverity",
    "AlertStatus",
    "AlertType",
    "Connectivity",
    "Integration",
    "ReadingKind",
    "Role",
    "SensorStatus",
    "SensorType",
]

# What each enum and each of its values means, for partners reading the schema.
ENUMS: dict[type[Enum], tuple[str | None, str, dict[str, str]]] = {
    SensorType: (
        None,
        "What a sensor measures.",
        {t.value: spec.description for t, spec in SENSOR_TYPES.items()},
    ),
    Integration: (
        None,
        "How a sensor's readings come in (SPEC §11; docs/devices.md for each product).",
        {
            "KOPROGO": "KoproGo's JSON on koprogo/{organization}/{building}/{deviceId}/readings.",
            "SHELLY": "Shelly Gen2+ over MQTT: koprogo/{organization}/{building}/shelly/<device id>/...",
            "TASMOTA": "Tasmota over MQTT: koprogo/{organization}/{building}/tasmota/tele/<topic>/SENSOR.",
            "ZIGBEE2MQTT": "Zigbee devices through Zigbee2MQTT: koprogo/{organization}/{building}/zigbee2mqtt/<friendly name>.",
            "WMBUSMETERS": "Wireless M-Bus meters read by wmbusmeters: koprogo/{organization}/{building}/wmbusmeters/<name>.",
            "TTN": "LoRaWAN through The Things Stack v3: POST /ingest/ttn/{building}.",
            "CHIRPSTACK": "LoRaWAN through ChirpStack v4: POST /ingest/chirpstack/{building}?event=up.",
        },
    ),
    ReadingKind: (
        None,
        "How a sensor's values add up.",
        {
            "CUMULATIVE": "A meter index that only grows (until a reset or a new meter): it has "
            "a consumption, and its thresholds apply to its flow per hour.",
            "INSTANTANEOUS": "A gauge or flow read as it is: no consumption; thresholds apply "
            "to the value.",
        },
    ),
    SensorStatus: (
        None,
        "Whether a sensor is in service.",
        {
            "ACTIVE": "In service.",
            "INACTIVE": "Switched off by a person: its readings are refused.",
            "MAINTENANCE": "Being serviced (set by a person): it raises no alert.",
            "FAULTY": "Set automatically while a SENSOR_FAULTY alert is unresolved.",
        },
    ),
    Connectivity: (
        None,
        "Whether a sensor is heard from.",
        {
            "ONLINE": "Readings arrive.",
            "OFFLINE": "Silent beyond its offline rule (its alert is unresolved).",
            "NEVER_SEEN": "No reading yet.",
        },
    ),
    AlertType: (
        None,
        "What an alert is about.",
        {
            "THRESHOLD_EXCEEDED": "A gauge's value, or a meter's flow per hour, beyond its "
            "minimum or maximum.",
            "ANOMALY_DETECTED": "A value far from the sensor's own recent behaviour.",
            "SENSOR_OFFLINE": "No reading for 3 sampling intervals (or the configured time).",
            "LOW_BATTERY": "Battery under 20 % (WARNING) or 10 % (CRITICAL), by default.",
            "SENSOR_FAULTY": "A meter glitch, a value stuck too long, or a run of POOR readings.",
            "LEAK_DETECTED": "Water that never stopped flowing over the leak window.",
            "INTRUSION_DETECTED": "A door, window or motion detector triggered while its "
            "building was armed.",
        },
    ),
    AlertSeverity: (
        None,
        "How urgent an alert is.",
        {
            "INFO": "For the record.",
            "WARNING": "To look at soon.",
            "CRITICAL": "To act on now (notified again while it stays open).",
        },
    ),
    AlertStatus: (
        None,
        "Where an alert is in its life.",
        {
            "OPEN": "Raised; nobody has taken it in hand.",
            "ACKNOWLEDGED": "Taken in hand by a syndic.",
            "RESOLVED": "Closed, by a person or because its condition cleared.",
        },
    ),
    Role: (
        "Role",
        "A KoproGo role, from the token.",
        {
            "SUPERADMIN": "Everything, in the token's organization.",
            "SYNDIC": "Reads everything; manages sensors, alerts and notifications.",
            "ACCOUNTANT": "Reads everything, writes nothing.",
            "OWNER": "A co-owner: reads.",
        },
    ),
    BucketWidth: (
        "TimeBucket",
        "The width of a series' buckets; days, weeks and months are local to the time zone.",
        {
            "FIVE_MINUTES": "5 minutes.",
            "FIFTEEN_MINUTES": "15 minutes.",
            "HOUR": "An hour.",
            "DAY": "A local day (23 or 25 hours on a DST change).",
            "WEEK": "A local week, from Monday.",
            "MONTH": "A local calendar month.",
        },
    ),
    FillMode: (
        "FillMode",
        "What buckets without readings show.",
        {
            "NONE": "Left out.",
            "NULL": "Present, with null values.",
            "PREVIOUS": "The last known avg, min and max.",
            "LINEAR": "Avg, min and max interpolated between the known buckets around them.",
        },
    ),
    RejectReason: (
        "RejectReason",
        "Why the ingestor refused a message or reading (the reason label of "
        "koprogo_readings_rejected_total, in lower case).",
        {
            "BAD_TOPIC": "The topic is not koprogo/{organization}/{building}/{device}/readings.",
            "BAD_ID": "An organization or building id in the topic is not a UUID.",
            "UNKNOWN_SENSOR": "No sensor of the organization has this device id.",
            "BUILDING_MISMATCH": "The sensor is registered in another building than the topic's.",
            "SENSOR_INACTIVE": "The sensor is INACTIVE.",
            "PAYLOAD_TOO_LARGE": "The payload is over 64 KiB.",
            "INVALID_JSON": "The payload is not JSON.",
            "INVALID_FIELDS": "A field is missing or of the wrong type.",
            "NON_FINITE": "A value is NaN or infinite.",
            "VALUE_OUT_OF_RANGE": "A value is beyond ±10^12, raw or calibrated.",
            "NEGATIVE_CUMULATIVE": "A meter index is negative.",
            "BATTERY_OUT_OF_RANGE": "The battery level is not within 0-100.",
            "SIGNAL_OUT_OF_RANGE": "The signal strength is not a plausible dBm.",
            "TIMESTAMP_IN_FUTURE": "The timestamp is more than 5 minutes ahead.",
            "TIMESTAMP_TOO_OLD": "The timestamp is older than the retention (2 years).",
            "RATE_LIMITED": "More messages or readings than the sensor's rate.",
            "UNBOUND_DEVICE": "A device of an integration (Shelly, Zigbee2MQTT...) that no "
            "sensor of the building is bound to (its externalId).",
            "UNKNOWN_METRIC": "A bound sensor's metric is in the message but holds no number.",
            "INTERNAL": "The service could not store it (see its log).",
        },
    ),
    DeliveryChannel: (
        "DeliveryChannel",
        "How a notification goes out.",
        {
            "EMAIL": "An e-mail to the configured addresses.",
            "WEBHOOK": "A signed POST to the webhook.",
            "SMS": "A text message through an Apprise SMS channel.",
            "PUSH": "A push through an Apprise channel (ntfy, Gotify, Telegram, Slack...).",
        },
    ),
    NotificationKind: (
        "NotificationKind",
        "Why a notification goes out.",
        {
            "ALERT": "A new alert, or one whose severity rose.",
            "REMINDER": "A CRITICAL alert still OPEN after the reminder delay.",
        },
    ),
    ManualReadingSource: (
        "ManualReadingSource",
        "Who read a meter by hand.",
        {
            "ISTA": "ISTA (yearly reading).",
            "TECHEM": "Techem.",
            "BRUNATA": "Brunata.",
            "CALORIBEL": "Caloribel.",
            "KALO": "Kalo.",
            "SYNDIC": "The syndic.",
            "TECHNICIAN": "A technician.",
            "OTHER": "Anyone else.",
        },
    ),
    CommonAllocation: (
        "CommonAllocation",
        "How a statement splits the common meters (those of no unit) over the units.",
        {
            "BY_KEY": "By a distribution key's shares (tantièmes, quotités).",
            "BY_CONSUMPTION": "In proportion to each unit's own consumption in the period.",
        },
    ),
    Quality: (
        "ReadingQuality",
        "How far a reading can be trusted, from the device's battery and radio signal.",
        {
            "GOOD": "Battery and signal fine.",
            "WARNING": "Battery under 20 % or signal under -80 dBm.",
            "POOR": "Battery under 10 % or signal under -100 dBm.",
        },
    ),
}


def _describe(enum: type[Enum], name: str | None, description: str, values: dict[str, str]) -> None:
    strawberry.enum(enum, name=name, description=description)
    # Strawberry keeps the enum's definition on the class; its values carry descriptions.
    for value in enum.__strawberry_definition__.values:  # type: ignore[attr-defined]
        value.description = values[value.name]


for _enum, (_name, _description, _values) in ENUMS.items():
    _describe(_enum, _name, _description, _values)
