"""Relay-style connections: opaque keyset cursors and page sizes."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import strawberry

from ..errors import BadUserInput

__all__ = ["PageInfo", "decode_cursor", "encode_cursor", "page_size"]


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


def encode_cursor(*key: Any) -> str:
    """An opaque cursor for a keyset (values must be JSON-serialisable after str())."""
    raw = json.dumps([str(k) for k in key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int, field: str = "after") -> list[str]:
    """The keyset values of a cursor made by encode_cursor; BAD_USER_INPUT if forged."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadUserInput(field, "is not a cursor returned by this API") from None
    if not isinstance(values, list) or len(values) != arity:
        raise BadUserInput(field, "is not a cursor returned by this API")
    return [str(v) for v in values]


def page_size(first: int, maximum: int, field: str = "first") -> int:
    if first < 0:
        raise BadUserInput(field, "must not be negative")
    if first > maximum:
        raise BadUserInput(field, f"must be at most {maximum}")
    return first
