"""When a building is armed (SPEC §5, intrusion): by hand, or by a weekly schedule in its
local time."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from .sensors import SensorFieldError

__all__ = ["MAX_PERIODS", "ArmPeriod", "is_armed", "parse_schedule"]

MAX_PERIODS = 50
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True, slots=True)
class ArmPeriod:
    """Armed on these ISO weekdays (1 Monday … 7 Sunday) from ``start`` to ``end``, local time;
    an ``end`` at or before ``start`` runs overnight into the next day."""

    days: frozenset[int]
    start: time
    end: time

    def covers(self, local: datetime) -> bool:
        now, day = local.time(), local.isoweekday()
        if self.start < self.end:
            return day in self.days and self.start <= now < self.end
        yesterday = 7 if day == 1 else day - 1
        return (day in self.days and now >= self.start) or (
            yesterday in self.days and now < self.end
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "days": sorted(self.days),
            "from": self.start.strftime("%H:%M"),
            "to": self.end.strftime("%H:%M"),
        }


def parse_schedule(
    periods: Sequence[Mapping[str, Any]], field: str = "schedule"
) -> list[ArmPeriod]:
    """Periods as stored or given ({"days", "from", "to"}); SensorFieldError names the wrong one."""
    if len(periods) > MAX_PERIODS:
        raise SensorFieldError(field, f"must hold at most {MAX_PERIODS} periods")
    parsed = []
    for i, period in enumerate(periods):
        days = period.get("days")
        if (
            not isinstance(days, list | tuple)
            or not days
            or not all(isinstance(d, int) and 1 <= d <= 7 for d in days)
        ):
            raise SensorFieldError(f"{field}[{i}].days", "must list weekdays 1 (Monday) to 7")
        bounds = []
        for key in ("from", "to"):
            text = period.get(key)
            match = _HHMM.match(text) if isinstance(text, str) else None
            if match is None:
                raise SensorFieldError(f"{field}[{i}].{key}", "must be a time HH:MM (00:00-23:59)")
            bounds.append(time(int(match[1]), int(match[2])))
        if bounds[0] == bounds[1]:
            raise SensorFieldError(f"{field}[{i}].to", "must differ from 'from'")
        parsed.append(ArmPeriod(frozenset(days), bounds[0], bounds[1]))
    return parsed


def is_armed(at: datetime, armed: bool, schedule: Sequence[ArmPeriod], timezone: str) -> bool:
    """Whether the building is armed at ``at`` (aware): by hand, or by its schedule."""
    if armed:
        return True
    local = at.astimezone(ZoneInfo(timezone))
    return any(period.covers(local) for period in schedule)
