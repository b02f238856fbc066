"""The per-request (or per-websocket) GraphQL context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.dataloader import DataLoader

from ..auth import Viewer, decode_token, token_from_header
from ..errors import Unauthenticated
from .loaders import sensor_loader

if TYPE_CHECKING:
    from broadcaster import Broadcast

    from ..config import Settings
    from ..store.db import Database

__all__ = ["Context"]


@dataclass
class Context:
    """What resolvers get as ``info.context``.

    The viewer is resolved lazily, so that schema introspection (GraphiQL) works without a token
    while every resolver that touches data demands one.
    """

    request: Request | WebSocket
    db: Database
    settings: Settings
    broadcast: Broadcast | None = None
    connection_params: dict[str, Any] | None = None
    loaders: dict | None = None
    _viewer: Viewer | None = field(default=None, repr=False)

    def loader(self, make: Callable[[Context], DataLoader]) -> DataLoader:
        """The request's DataLoader made by ``make``. A websocket context lives for the whole
        connection, so there every call gets a fresh loader: nothing goes stale between events."""
        if isinstance(self.request, WebSocket):
            return make(self)
        if self.loaders is None:
            self.loaders = {}
        if make not in self.loaders:
            self.loaders[make] = make(self)
        return self.loaders[make]

    def sensors(self) -> DataLoader:
        return self.loader(sensor_loader)

    @property
    def viewer(self) -> Viewer:
        """The authenticated caller; UNAUTHENTICATED when the token is missing or invalid."""
        if self._viewer is None:
            if self.connection_params is not None:
                header = self.connection_params.get("Authorization") or self.connection_params.get(
                    "authorization"
                )
            else:
                header = self.request.headers.get("authorization")
            if not isinstance(header, str):
                raise Unauthenticated()
            self._viewer = decode_token(token_from_header(header), self.settings.jwt_secret.get())
        return self._viewer
