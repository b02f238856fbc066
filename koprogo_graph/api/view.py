"""The Strawberry ASGI view: context per request, authentication at websocket connection_init."""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types.unset import UNSET, UnsetType

from ..auth import client_key
from ..errors import KoprogoError
from ..schema.context import Context
from .limits import MAX_QUERY_CHARS
from .live import encode_message
from .websockets import ConnectionCounter, LegacyGraphQLWSHandler

__all__ = ["GraphQLView"]

log = logging.getLogger(__name__)
_GRAPHIQL_HTML = (Path(__file__).parent / "static" / "graphiql.html").read_text(encoding="utf-8")


class GraphQLView(GraphQL[Context, None]):
    graphql_ws_handler_class = LegacyGraphQLWSHandler

    @property
    def graphql_ide_html(self) -> str:
        """GraphiQL with its scripts and styles served by this service (static/graphiql/), so
        that it works on a machine without internet access or behind a strict policy."""
        return _GRAPHIQL_HTML

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        state = request.state
        return Context(
            request=request,
            db=state.db,
            settings=state.settings,
            broadcast=getattr(state, "broadcast", None),
            live=getattr(state, "live", None),
            limiter=getattr(state, "limiter", None),
            statement_limiter=getattr(state, "statement_limiter", None),
            accounts=getattr(state, "accounts", None),
        )

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> Any:
        """The request's operation; a document too long to parse is refused unparsed (413)."""
        data = await super().parse_http_body(request)
        for item in data if isinstance(data, list) else [data]:
            if item.query is not None and len(item.query) > MAX_QUERY_CHARS:
                raise HTTPException(
                    413, f"query: the document is longer than {MAX_QUERY_CHARS} characters"
                )
        return data

    async def process_result(self, request: Request, result: Any) -> Any:
        """The GraphQL-over-HTTP response: for a client that accepts
        ``application/graphql-response+json``, a request error (parse, validation, variables, a
        refusal before execution) has no ``data`` and a 4xx status (see ``run``)."""
        response = await super().process_result(request, result)
        if _is_request_error(result):
            request.state.graphql_request_error = _status_of(result.errors)
            if _wants_graphql_response(request):
                response.pop("data", None)
        return response

    def encode_json(self, data: object) -> str:
        return encode_message(data)

    async def run(  # type: ignore[override]  # one signature for Strawberry's two overloads
        self, request: Request | WebSocket, context: Context = UNSET, root_value: None = UNSET
    ) -> Response | WebSocket:
        if not isinstance(request, WebSocket):
            response = await super().run(request, context, root_value)
            if request.method in ("GET", "POST") and _wants_graphql_response(request):
                if response.media_type == "application/json" or response.headers.get(
                    "content-type", ""
                ).startswith("application/json"):
                    response.headers["content-type"] = GRAPHQL_RESPONSE
                    response.status_code = getattr(
                        request.state, "graphql_request_error", response.status_code
                    )
            return response
        if context is not UNSET:
            return await super().run(request, context, root_value)
        addresses: ConnectionCounter | None = getattr(request.state, "ws_addresses", None)
        address = client_key(request.client.host if request.client else "?")
        if addresses is not None and not addresses.enter(address):
            log.info("websocket refused: too many connections from one address")
            await request.close(code=1013, reason="Too many connections")  # before accept: 403
            return request
        connection: Context | None = None
        try:
            connection = await self.get_context(request, request)
            return await super().run(request, connection, root_value)
        finally:
            if addresses is not None:
                addresses.leave(address)
            if connection is not None:
                if connection.closer is not None:  # the connection ended before its token
                    connection.closer.cancel()
                if connection.counted_user is not None:
                    request.state.ws_users.leave(connection.counted_user)

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Refuse (close 4403) a websocket whose connection_init carries no valid token, or
        whose user already holds as many connections as allowed."""
        try:
            viewer = context.viewer
            viewer.org()
        except KoprogoError as exc:
            log.info("websocket refused: %s", exc.message)
            raise ConnectionRejectionError({"message": exc.message}) from None
        users: ConnectionCounter | None = getattr(
            getattr(context.request, "state", None), "ws_users", None
        )
        if context.counted_user is None and users is not None:
            if not users.enter(viewer.user_id):
                log.info("websocket refused: too many connections for one user")
                raise ConnectionRejectionError({"message": "Too many connections for this user"})
            context.counted_user = viewer.user_id
        if context.closer is None:
            context.closer = asyncio.create_task(_close_at_expiry(context))
        return await super().on_ws_connect(context)


GRAPHQL_RESPONSE = "application/graphql-response+json; charset=utf-8"


def _wants_graphql_response(request: Request) -> bool:
    """The client asks for ``application/graphql-response+json`` before ``application/json``."""
    accepted = [
        p.split(";")[0].strip().lower() for p in request.headers.get("accept", "").split(",")
    ]
    if "application/graphql-response+json" not in accepted:
        return False
    preferred = accepted.index("application/graphql-response+json")
    return "application/json" not in accepted or preferred < accepted.index("application/json")


def _is_request_error(result: Any) -> bool:
    """No execution took place: parse, validation or variable errors, or a refusal (none of
    them has a path)."""
    errors = getattr(result, "errors", None)
    if not errors:
        return False
    return result.data is None and all(e.path is None for e in errors)


def _status_of(errors: list[Any]) -> int:
    codes = {(e.extensions or {}).get("code") for e in errors}
    if "INTERNAL" in codes:
        return 500
    return 429 if codes == {"RATE_LIMITED"} else 400


async def _close_at_expiry(context: Context) -> None:
    """A connection lives as long as its token: then it is closed (4403), subscriptions and all."""
    await asyncio.sleep((context.viewer.expires_at - datetime.now(UTC)).total_seconds())
    log.info("websocket closed: token expired")
    websocket = context.request
    if isinstance(websocket, WebSocket):
        with suppress(RuntimeError, WebSocketDisconnect):  # already closing, or gone
            await websocket.close(code=4403, reason="Token expired")
