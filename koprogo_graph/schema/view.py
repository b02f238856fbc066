"""The Strawberry ASGI view: context per request, authentication at websocket connection_init."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types.unset import UnsetType

from ..errors import KoprogoError
from .context import Context

__all__ = ["GraphQLView"]

log = logging.getLogger(__name__)


class GraphQLView(GraphQL[Context, None]):
    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        state = request.state
        return Context(
            request=request,
            db=state.db,
            settings=state.settings,
            broadcast=getattr(state, "broadcast", None),
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Refuse (close 4403) a websocket whose connection_init carries no valid token."""
        try:
            context.viewer.org()
        except KoprogoError as exc:
            log.info("websocket refused: %s", exc.message)
            raise ConnectionRejectionError({"message": exc.message}) from None
        return await super().on_ws_connect(context)
