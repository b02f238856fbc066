"""The per-request (or per-websocket) GraphQL context."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.dataloader import DataLoader

from ..auth import Viewer, client_key, decode_token, token_from_header
from ..errors import Unauthenticated
from .loaders import sensor_loader

if TYPE_CHECKING:
    import asyncpg

    from ..config import Settings
    from ..domain.ratelimit import RateLimiter
    from ..ingest.broker_accounts import BrokerAccounts
    from ..realtime.hub import Hub
    from ..realtime.shared import SharedStreams
    from ..store.db import Database

__all__ = ["Context"]


@dataclass
class Context:
    """What resolvers get as ``info.context``.

    The viewer is resolved lazily, so that schema introspection (GraphiQL) works without a token
    while every resolver that touches data demands one.
    """

    request: Request | WebSocket | None  # None: a shared live stream's own context
    db: Database
    settings: Settings
    broadcast: Hub | None = None
    live: SharedStreams | None = None
    connection_params: dict[str, Any] | None = None
    accounts: BrokerAccounts | None = None  # the broker's device accounts (dynsec), if managed
    limiter: RateLimiter | None = None  # requests per viewer (the app's; see api/limits.py)
    # Statements per user, GraphQL and exports together (resolvers/statement.py).
    statement_limiter: RateLimiter | None = None
    loaders: dict | None = None
    # Called by a subscription once events can reach it (see realtime/shared.py).
    live_ready: Callable[[], None] | None = None
    closer: asyncio.Task[None] | None = field(default=None, repr=False)  # see view.py
    counted_user: uuid.UUID | None = None  # a websocket counted against this user (view.py)
    # Set by a subscription when events may have been lost (Redis came back): its next result
    # says so to the client (api/live.py).
    missed_events: bool = False
    _viewer: Viewer | None = field(default=None, repr=False)

    def for_shared_stream(self, ready: Callable[[], None]) -> Context:
        """The context of a live stream shared by identical subscriptions of this viewer's
        organization and role: bound to no connection and to no user, only to what they have
        in common (so no resolver can let one user's identity reach another)."""
        return Context(
            request=None,
            db=self.db,
            settings=self.settings,
            broadcast=self.broadcast,
            live=self.live,
            live_ready=ready,
            # An owner's stream is their own (api/live.py keys it by user): it keeps the user.
            _viewer=replace(
                self.viewer,
                user_id=self.viewer.user_id if self.viewer.is_owner else uuid.UUID(int=0),
                email=None,
            ),
        )

    def tenant(self, org: uuid.UUID) -> AbstractAsyncContextManager[asyncpg.Connection]:
        """A transaction scoped to ``org`` as the viewer may see it: an owner's to their units."""
        return self.db.tenant(org, owner=self.viewer.user_id if self.viewer.is_owner else None)

    def loader(self, make: Callable[[Context], DataLoader]) -> DataLoader:
        """The request's DataLoader made by ``make``. Only an HTTP request's context is short
        lived; elsewhere every call gets a fresh loader: nothing goes stale between events."""
        if not isinstance(self.request, Request):
            return make(self)
        if self.loaders is None:
            self.loaders = {}
        if make not in self.loaders:
            self.loaders[make] = make(self)
        return self.loaders[make]

    def sensors(self) -> DataLoader:
        return self.loader(sensor_loader)

    def rate_limiter_and_key(self, *, websocket: bool = False) -> tuple[RateLimiter, str] | None:
        """The limiter this operation counts against, and under which key: the viewer's user id,
        or the client's address without a valid token. Shared live streams are not limited; a
        websocket's operations are counted where they arrive (``websocket=True``)."""
        if self.limiter is None or self.request is None:
            return None
        if isinstance(self.request, WebSocket) != websocket:
            return None
        try:
            return self.limiter, f"user:{self.viewer.user_id}"
        except Unauthenticated:
            client = self.request.client
            return self.limiter, f"address:{client_key(client.host if client else '?')}"

    @property
    def viewer(self) -> Viewer:
        """The authenticated caller; UNAUTHENTICATED when the token is missing or invalid."""
        if self._viewer is None:
            if self.connection_params is not None:
                header = self.connection_params.get("Authorization") or self.connection_params.get(
                    "authorization"
                )
            elif self.request is not None:
                header = self.request.headers.get("authorization")
            else:
                header = None
            if not isinstance(header, str):
                raise Unauthenticated()
            self._viewer = decode_token(token_from_header(header), self.settings.jwt_secret.get())
        return self._viewer
