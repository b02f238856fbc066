"""Which streaming operations share one execution (realtime/shared.py), and under which key.

Only subscriptions of an authenticated viewer with an organization are shared. Their result
depends on the document, the operation, the variables and what the viewer may see, which is
decided by its organization and role: those make the key. Everything else (a query or mutation
over a websocket, an unauthenticated or malformed request) runs on its own, as usual.

A shared result is also encoded to JSON once (``SharedData``), not once per subscriber; a
result that follows a gap in the broadcast says so (``extensions.resync``).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Hashable
from contextlib import aclosing
from dataclasses import replace
from typing import Any

import orjson
from graphql import GraphQLError, OperationType, get_operation_ast
from strawberry.types import ExecutionResult

from ..errors import KoprogoError
from ..schema.context import Context
from .limits import parse_document

__all__ = ["SharedData", "after_gap", "encode_message", "shared_key", "shared_results"]


def _is_subscription(query: str, operation_name: str | None, max_tokens: int) -> bool:
    try:
        document = parse_document(query, max_tokens)  # cached: the execution reuses it
    except GraphQLError:
        return False  # the normal path reports it
    operation = get_operation_ast(document, operation_name)
    return operation is not None and operation.operation is OperationType.SUBSCRIPTION


def shared_key(
    context: Any,
    query: str | None,
    variables: dict[str, Any] | None,
    operation_name: str | None,
    max_tokens: int,
) -> Hashable | None:
    """The sharing key of this operation, or None when it runs on its own."""
    if not isinstance(context, Context) or context.live is None or not query:
        return None
    if not _is_subscription(query, operation_name, max_tokens):
        return None
    try:
        viewer = context.viewer
        frozen_variables = (
            orjson.dumps(variables, option=orjson.OPT_SORT_KEYS).decode() if variables else ""
        )
    except (KoprogoError, TypeError, ValueError):
        return None
    if viewer.organization_id is None:
        return None
    # An owner sees only their units: their streams are shared by their own connections only.
    user = viewer.user_id if viewer.is_owner else None
    return (viewer.organization_id, viewer.role, user, query, operation_name, frozen_variables)


class SharedData(dict[str, Any]):
    """The ``data`` of a result every subscriber of a shared stream receives: encoded once."""

    __slots__ = ("_json",)

    def json(self) -> str:
        try:
            return self._json
        except AttributeError:
            self._json: str = orjson.dumps(self).decode()
            return self._json


async def shared_results(
    results: AsyncIterator[Any], context: Context
) -> AsyncGenerator[Any, None]:
    """A shared stream's results as its subscribers receive them: plain results (data, no
    errors) marked for encoding once; the first result after events may have been missed
    (``context.missed_events``, set by the subscription) carries ``extensions.resync``."""
    async with aclosing(results):  # type: ignore[type-var]
        async for result in results:
            if context.missed_events:
                context.missed_events = False
                result = after_gap(result)
            if (
                type(result) is ExecutionResult
                and isinstance(result.data, dict)
                and not result.errors
                and not result.extensions
            ):
                result.data = SharedData(result.data)
            yield result


def after_gap(result: Any) -> Any:
    """``result`` as the first one after events may have been missed: it says so in
    ``extensions.resync`` (a copy: shared results go to every subscriber)."""
    if type(result) is not ExecutionResult:
        return result
    return replace(result, extensions={**(result.extensions or {}), "resync": True})


def encode_message(message: object) -> str:
    """A websocket message as JSON, reusing a shared result's encoding when it carries one."""
    if isinstance(message, dict) and len(message) == 3:
        payload = message.get("payload")
        if isinstance(payload, dict) and len(payload) == 1:
            data = payload.get("data")
            if isinstance(data, SharedData) and message.get("type") in ("next", "data"):
                return (
                    f'{{"id":{orjson.dumps(message["id"]).decode()},"type":"{message["type"]}",'
                    f'"payload":{{"data":{data.json()}}}}}'
                )
    return orjson.dumps(message).decode()
