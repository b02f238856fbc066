"""Argument parsing shared by resolvers: ids and input validation errors."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..domain.sensors import SensorFieldError
from ..errors import BadUserInput

__all__ = ["field_errors", "parse_id", "parse_optional_id", "parse_timezone"]

MAX_TIMEZONE_LENGTH = 64  # the longest IANA name is 32 characters


def parse_id(value: str, field: str = "id") -> uuid.UUID:
    """A UUID argument; BAD_USER_INPUT naming ``field`` when it is not one."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise BadUserInput(field, "is not a valid ID") from None


def parse_optional_id(value: str | None, field: str) -> uuid.UUID | None:
    return None if value is None else parse_id(value, field)


@contextmanager
def field_errors(prefix: str = "") -> Iterator[None]:
    """Report domain validation failures as BAD_USER_INPUT naming the field."""
    try:
        yield
    except SensorFieldError as exc:
        raise BadUserInput(prefix + exc.field, str(exc)) from None


def parse_timezone(name: str, field: str = "timezone") -> ZoneInfo:
    """An IANA time zone; BAD_USER_INPUT naming ``field`` otherwise (never a file-system error:
    ZoneInfo reads the name as a path)."""
    if len(name) > MAX_TIMEZONE_LENGTH or "\x00" in name:
        raise BadUserInput(field, "is not an IANA time zone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise BadUserInput(field, f"{name!r} is not an IANA time zone") from None
