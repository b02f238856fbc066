"""The dashboard at ``/`` (SPEC §14): the page built from ``web/`` (its scripts and styles are
under /static/dashboard/), behind a strict content policy: nothing but this service is ever
asked for anything. In the demo, the page carries the demo's token so that signing in is one
click."""

from __future__ import annotations

import html
import time
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

from ..auth import client_key
from ..domain.ratelimit import RateLimiter

__all__ = ["CONTENT_POLICY", "Dashboard"]

_PAGE = Path(__file__).parent / "static" / "dashboard" / "index.html"
_TOKEN_SLOT = "<!--koprogo-demo-token-->"
CONTENT_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)


class Dashboard:
    """Serves the page; a token bucket per client address bounds what a flood costs."""

    def __init__(self, demo_token: str | None = None, rate: float = 5.0, burst: float = 30.0):
        page = _PAGE.read_text(encoding="utf-8")
        meta = (
            f'<meta name="koprogo-demo-token" content="{html.escape(demo_token, quote=True)}" />'
            if demo_token
            else ""
        )
        self.page = page.replace(_TOKEN_SLOT, meta)
        self.limiter = RateLimiter(rate, burst, max_keys=100_000)

    async def __call__(self, request: Request) -> Response:
        client = request.client
        if not self.limiter.allow(client_key(client.host if client else "?"), time.monotonic()):
            return PlainTextResponse(
                "too many requests", status_code=429, headers={"Retry-After": "1"}
            )
        return HTMLResponse(
            self.page,
            headers={
                "Content-Security-Policy": CONTENT_POLICY,
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "no-store",  # it may carry the demo's token
            },
        )
