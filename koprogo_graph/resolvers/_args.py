"""Argument parsing shared by resolvers: ids and input validation errors."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from ..domain.sensors import SensorFieldError
from ..errors import BadUserInput

__all__ = ["field_errors", "parse_id", "parse_optional_id"]


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
