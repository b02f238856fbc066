"""GraphQL enums: the domain's enums, exposed under their SPEC §10 names."""

from __future__ import annotations

import strawberry

from ..auth import Role
from ..domain.alerts import AlertSeverity, AlertStatus, AlertType
from ..domain.sensors import Connectivity, ReadingKind, SensorStatus, SensorType

__all__ = [
    "AlertSeverity",
    "AlertStatus",
    "AlertType",
    "Connectivity",
    "ReadingKind",
    "Role",
    "SensorStatus",
    "SensorType",
]

for _enum in (
    SensorType,
    ReadingKind,
    SensorStatus,
    Connectivity,
    AlertType,
    AlertSeverity,
    AlertStatus,
):
    strawberry.enum(_enum)
strawberry.enum(Role, name="Role")
