"""Websocket connections: how many a client address and a user may hold, and the legacy
``graphql-ws`` protocol held to the same rules as ``graphql-transport-ws``.

Strawberry's legacy handler waits forever for ``connection_init``, closes a refused token with
1011 (a server error) and lets a malformed message or a query (the protocol is for
subscriptions) escape as a traceback. Here: 4408 after the same initialisation timeout as the
modern protocol, 4403 for a refused token, and a clean ``error`` message for the rest.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Hashable
from contextlib import suppress
from typing import Any

from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.types.unset import UnsetType

__all__ = ["ConnectionCounter", "LegacyGraphQLWSHandler"]

log = logging.getLogger(__name__)


class ConnectionCounter:
    """Open connections per key (a client address, a user), each under its own maximum."""

    def __init__(self, maximum: int) -> None:
        self.maximum = maximum
        self._open: Counter[Hashable] = Counter()

    def enter(self, key: Hashable) -> bool:
        """Count one more connection for ``key``; False (and nothing counted) when it is full."""
        if self._open[key] >= self.maximum:
            return False
        self._open[key] += 1
        return True

    def leave(self, key: Hashable) -> None:
        self._open[key] -= 1
        if self._open[key] <= 0:
            del self._open[key]


def _bad_message(operation_id: object, message: str) -> Any:
    """An error message; its id may be null (no operation to name), which the protocol's
    types in Strawberry do not foresee."""
    return {
        "type": "error",
        "id": operation_id if isinstance(operation_id, str) else None,
        "payload": {"message": message, "extensions": {"code": "BAD_USER_INPUT"}},
    }


def _has_type(message: Any) -> bool:
    return isinstance(message, dict) and isinstance(message.get("type"), str)


# private-api: Strawberry's legacy-protocol handler is not a documented extension point; its
# message hooks are where malformed messages and the init timeout are handled (Strawberry
# has no public setting for either); tests/integration/test_security.py (the legacy protocol
# tests) proves it.
class LegacyGraphQLWSHandler(BaseGraphQLWSHandler[Any, Any]):
    """The ``graphql-ws`` protocol with an initialisation timeout and clean refusals."""

    async def handle(self) -> None:
        timeout = asyncio.create_task(self._close_unless_initialised())
        try:
            await super().handle()
        finally:
            timeout.cancel()
            with suppress(asyncio.CancelledError):
                await timeout

    async def _close_unless_initialised(self) -> None:
        await asyncio.sleep(self.view.connection_init_wait_timeout.total_seconds())
        if not self.connection_acknowledged:
            log.info("websocket closed: no connection_init within the timeout")
            with suppress(Exception):
                await self.websocket.close(code=4408, reason="Connection initialisation timeout")

    async def handle_message(self, message: Any) -> None:
        if not _has_type(message):
            await self.send_message(_bad_message(None, "a message is a JSON object with a type"))
            return
        await super().handle_message(message)

    async def handle_connection_init(self, message: Any) -> None:
        if self.connection_acknowledged:
            return
        payload = message.get("payload")
        if payload is not None and not isinstance(payload, dict):
            await self.send_message({"type": "connection_error"})
            await self.websocket.close(code=4400, reason="Invalid connection_init payload")
            return
        self.context.connection_params = payload
        try:
            ack = await self.view.on_ws_connect(self.context)
        except ConnectionRejectionError as e:
            await self.send_message({"type": "connection_error", "payload": e.payload})
            await self.websocket.close(code=4403, reason="Forbidden")
            return
        if isinstance(ack, UnsetType) or ack is None:
            await self.send_message({"type": "connection_ack"})
        else:
            await self.send_message({"type": "connection_ack", "payload": ack})
        self.connection_acknowledged = True
        if self.keep_alive:
            self.keep_alive_task = asyncio.create_task(self.handle_keep_alive())

    async def handle_start(self, message: Any) -> None:
        payload = message.get("payload")
        operation_id = message.get("id")
        if (
            not isinstance(operation_id, str)
            or not isinstance(payload, dict)
            or not isinstance(payload.get("query"), str)
            or not isinstance(payload.get("variables") or {}, dict)
            or not isinstance(payload.get("operationName") or "", str)
        ):
            await self.send_message(
                _bad_message(operation_id, "start needs an id and a payload with a query")
            )
            return
        await super().handle_start(message)

    async def handle_stop(self, message: Any) -> None:
        if isinstance(message.get("id"), str):
            await super().handle_stop(message)
