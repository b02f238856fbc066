"""GraphiQL's scripts and styles, served from the package: read-only files, confined to the
package's static folder (Starlette's StaticFiles), and limited per client address."""

from __future__ import annotations

import time

from starlette.responses import PlainTextResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from ..auth import client_key
from ..domain.ratelimit import RateLimiter

__all__ = ["LimitedStaticFiles"]


class LimitedStaticFiles:
    """StaticFiles behind a token bucket per client address: a page load fetches seven files;
    a flood is answered 429 before any file is opened."""

    def __init__(self, rate: float = 20.0, burst: float = 100.0) -> None:
        self.files = StaticFiles(packages=[("koprogo_graph.api", "static")])
        self.limiter = RateLimiter(rate, burst, max_keys=100_000)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        address = client_key(client[0] if client else "?")
        if not self.limiter.allow(address, time.monotonic()):
            response = PlainTextResponse(
                "too many requests", status_code=429, headers={"Retry-After": "1"}
            )
            await response(scope, receive, send)
            return
        await self.files(scope, receive, send)
