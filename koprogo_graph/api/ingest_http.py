"""LoRaWAN network servers' webhooks (SPEC §11): ``POST /ingest/ttn/{buildingId}`` (The Things
Stack v3 uplinks) and ``POST /ingest/chirpstack/{buildingId}?event=up`` (ChirpStack v4).

Authenticated with the building's ingest token (``Authorization: Bearer <token>``): a bad token
is 401, another building's 403. The message goes through the same pipeline as MQTT (decoding,
validation, idempotency, rejections, metrics); the answer is 2xx only after the commit, so that
the network server retries otherwise (503 while the database is away).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..auth import client_key
from ..domain.credentials import token_hash, topic_prefix
from ..domain.integrations import Integration
from ..domain.payload import MAX_PAYLOAD_BYTES, RejectReason
from ..domain.ratelimit import RateLimiter
from ..domain.readings import StoredReading
from ..ingest.pipeline import Incoming, Pipeline
from ..store import credentials as credentials_store
from ..store.db import Database, is_transient

__all__ = ["HttpIngest"]

log = logging.getLogger(__name__)

_PATHS = {"ttn": Integration.TTN, "chirpstack": Integration.CHIRPSTACK}
# The message as a whole could not be read: the sender's mistake, not worth a retry.
_MALFORMED = frozenset(
    {
        RejectReason.PAYLOAD_TOO_LARGE.value,
        RejectReason.INVALID_JSON.value,
        RejectReason.INVALID_FIELDS.value,
        RejectReason.NON_FINITE.value,
    }
)


def _error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers or None)


class HttpIngest:
    """The webhooks' endpoint; owned by the app (its pipeline's registry listens in the app's
    task group)."""

    def __init__(
        self,
        db: Database,
        pipeline: Pipeline,
        after_commit: Callable[[list[StoredReading]], Awaitable[None]],
        limiter: RateLimiter,
    ) -> None:
        self.db = db
        self.pipeline = pipeline
        self.after_commit = after_commit
        self.limiter = limiter  # requests per credential, and per address before a token is
        # known (a bad token costs a database lookup: it is counted as well)

    async def __call__(self, request: Request) -> Response:
        integration = _PATHS.get(request.path_params["integration"])
        if integration is None:
            return _error(404, "unknown integration: ttn or chirpstack")
        try:
            building = uuid.UUID(request.path_params["building_id"])
        except ValueError:
            return _error(404, "the building id is not a UUID")
        address = client_key(request.client.host if request.client else "?")
        if not self.limiter.allow(("address", address), time.monotonic()):
            return _error(429, "too many requests from this address", **{"Retry-After": "1"})
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip() or len(token) > 200:
            return _error(401, "a bearer token is required", **{"WWW-Authenticate": "Bearer"})
        try:
            async with self.db.system() as con:
                credential = await credentials_store.by_token(con, token_hash(token.strip()))
        except Exception as exc:
            return self._unavailable(exc)
        if credential is None:
            return _error(401, "unknown or revoked token", **{"WWW-Authenticate": "Bearer"})
        if credential.building_id != building:
            return _error(403, "this token is for another building")
        if not self.limiter.allow(credential.id, time.monotonic()):
            return _error(429, "too many requests for these credentials", **{"Retry-After": "1"})
        if integration is Integration.CHIRPSTACK and request.query_params.get("event") != "up":
            return Response(status_code=204)  # join, status, ack, log...: nothing to store
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_PAYLOAD_BYTES:  # refused unread
            return _error(413, f"the message is over {MAX_PAYLOAD_BYTES} bytes")
        body = await request.body()
        if len(body) > MAX_PAYLOAD_BYTES:
            return _error(413, f"the message is over {MAX_PAYLOAD_BYTES} bytes")
        message = Incoming(
            topic=topic_prefix(credential.organization_id, building) + integration.topic_name,
            payload=body,
            received_at=datetime.now(UTC),
            via=integration,
        )
        try:
            lookup = await self.pipeline.resolve([message])
            plan = self.pipeline.plan([message], lookup)
            stored = await self.pipeline.commit(plan)
        except Exception as exc:
            return self._unavailable(exc)
        if stored:
            try:
                await self.after_commit(stored)
            except Exception:  # stored and committed: the alert engine's own durability holds
                log.exception("after an HTTP ingestion: live events or alerts failed")
        rejected = [{"reason": r.reason, "detail": r.detail} for r in plan.rejections]
        answer: dict[str, Any] = {
            "stored": len(stored),
            "duplicates": len(plan.rows) - len(stored),
            "rejected": rejected,
        }
        malformed = not plan.rows and any(r["reason"] in _MALFORMED for r in rejected)
        return JSONResponse(answer, status_code=400 if malformed else 200)

    @staticmethod
    def _unavailable(exc: Exception) -> Response:
        if is_transient(exc):
            log.warning("HTTP ingestion: database unavailable (%s)", exc)
            return _error(503, "the database is unavailable: retry", **{"Retry-After": "5"})
        log.exception("HTTP ingestion failed", exc_info=exc)
        return _error(500, "internal error")
