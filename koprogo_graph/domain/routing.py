"""Which alert goes to which channel, and when (SPEC §13): a channel's minimum severity, and
its quiet hours in the building's local time, which CRITICAL alerts ignore unless the channel
says otherwise."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from .alerts import AlertSeverity
from .sensors import SensorFieldError

__all__ = ["QuietHours", "Route", "parse_quiet_hours"]

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True, slots=True)
class QuietHours:
    """Every day from ``start`` to ``end`` local time (an ``end`` at or before ``start`` runs
    overnight); ``critical_too``: CRITICAL alerts wait as well (by default they do not)."""

    start: time
    end: time
    critical_too: bool = False

    def covers(self, local: datetime) -> bool:
        now = local.time()
        if self.start < self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end

    def over_at(self, local: datetime) -> datetime:
        """When the quiet hours that cover ``local`` end (local, aware)."""
        end = datetime.combine(local.date(), self.end, tzinfo=local.tzinfo)
        if end <= local:
            end += timedelta(days=1)
        # A wall-clock time on a DST change day: normalise through UTC.
        return end.astimezone(ZoneInfo("UTC")).astimezone(local.tzinfo)


@dataclass(frozen=True, slots=True)
class Route:
    """A channel's routing: the least severity it takes, and its quiet hours."""

    min_severity: AlertSeverity = AlertSeverity.INFO
    quiet: QuietHours | None = None

    def takes(self, severity: AlertSeverity) -> bool:
        return severity.rank >= self.min_severity.rank

    def not_before(self, severity: AlertSeverity, at: datetime, timezone: str) -> datetime:
        """When an alert raised at ``at`` (aware) may go out on this channel: at once, or when
        the quiet hours of the building's day end."""
        if self.quiet is None:
            return at
        if severity is AlertSeverity.CRITICAL and not self.quiet.critical_too:
            return at
        local = at.astimezone(ZoneInfo(timezone))
        return self.quiet.over_at(local) if self.quiet.covers(local) else at


def parse_quiet_hours(start: str, end: str, critical_too: bool, field: str) -> QuietHours:
    bounds = []
    for key, text in (("from", start), ("to", end)):
        match = _HHMM.match(text)
        if match is None:
            raise SensorFieldError(f"{field}.{key}", "must be a time HH:MM (00:00-23:59)")
        bounds.append(time(int(match[1]), int(match[2])))
    if bounds[0] == bounds[1]:
        raise SensorFieldError(f"{field}.to", "must differ from 'from'")
    return QuietHours(bounds[0], bounds[1], critical_too)
