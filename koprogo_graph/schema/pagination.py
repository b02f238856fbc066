"""Relay-style connections: opaque keyset cursors and page sizes."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

import strawberry

from ..errors import BadUserInput

__all__ = [
    "Connection",
    "Edge",
    "PageInfo",
    "decode_cursor",
    "decode_keyset",
    "encode_cursor",
    "page_info",
    "page_size",
]


@strawberry.type(description="Where a page stands (Relay's PageInfo, read forward).")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether more items follow.")
    has_previous_page: bool = strawberry.field(
        description="Whether items come before this page (it was asked for after a cursor)."
    )
    start_cursor: str | None = strawberry.field(description="Cursor of the first item.")
    end_cursor: str | None = strawberry.field(
        description="Cursor of the last item: pass it as `after` for the next page."
    )


Node = TypeVar("Node")
Row = TypeVar("Row")


@strawberry.type(description="An item in a page, with its cursor.")
class Edge(Generic[Node]):
    cursor: str = strawberry.field(
        description="Opaque cursor of this item: pass it as `after` to read on from it."
    )
    node: Node = strawberry.field(description="The item.")


@strawberry.type(description="A page of items, in the order the field that gives it says.")
class Connection(Generic[Node]):
    total_count: int = strawberry.field(description="How many there are in all, for these filters.")
    edges: list[Edge[Node]] = strawberry.field(description="This page, in order.")
    page_info: PageInfo = strawberry.field(description="Where this page stands.")

    @classmethod
    def of(
        cls,
        rows: Sequence[Row],
        *,
        limit: int,
        total: int,
        after: str | None,
        cursor: Callable[[Row], str],
        node: Callable[[Row], Node],
    ) -> Connection[Node]:
        """The page of ``rows`` fetched as ``limit + 1`` (the extra one says a next page
        exists), each row's cursor and node made by ``cursor`` and ``node``."""
        edges = [Edge(cursor=cursor(r), node=node(r)) for r in rows[:limit]]
        return cls(
            total_count=total,
            edges=edges,
            page_info=page_info(len(rows), limit, [e.cursor for e in edges], after),
        )


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


def decode_keyset(after: str | None) -> tuple[datetime, uuid.UUID] | None:
    """The (timestamp, id) keyset of an ``after`` cursor made by encode_cursor(ts.isoformat(), id)."""
    if after is None:
        return None
    at, last = decode_cursor(after, 2)
    try:
        return datetime.fromisoformat(at), uuid.UUID(last)
    except ValueError:
        raise BadUserInput("after", "is not a cursor returned by this API") from None


def page_info(fetched: int, limit: int, cursors: list[str], after: str | None) -> PageInfo:
    """PageInfo of a page for which ``limit + 1`` rows were asked and ``fetched`` came back;
    ``cursors`` are the page's own, ``after`` the cursor it was asked after."""
    return PageInfo(
        has_next_page=fetched > limit,
        has_previous_page=after is not None,
        start_cursor=cursors[0] if cursors else None,
        end_cursor=cursors[-1] if cursors else None,
    )
