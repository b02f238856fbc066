"""The outbox sender: delivers due notifications, retrying with backoff until they go through."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import aiosmtplib
import httpx

from ..config import Settings
from ..store import notifications
from ..store.db import Database, is_transient
from .channels import send
from .messages import email_message, plain_text, sign, webhook_body
from .secretbox import SecretBox
from .targets import describe_failure, pinned_request

if TYPE_CHECKING:
    from ..store.notifications import DueDelivery

__all__ = ["NotificationSender"]

log = logging.getLogger(__name__)
# httpx logs every request's full URL at INFO, and a webhook's URL may carry its token.
logging.getLogger("httpx").setLevel(logging.WARNING)


class NotificationSender:
    def __init__(
        self, settings: Settings, db: Database, *, every: float = 1.0, timeout: float = 10.0
    ) -> None:
        self.settings = settings
        self.db = db
        self.every = every
        self.timeout = timeout
        self.box = SecretBox(settings.channel_key)

    async def run(self) -> None:
        # No connection is kept between deliveries: connections are pooled by address, and a
        # pinned request (targets.py) must never travel over one opened for another host name.
        limits = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=self.timeout, limits=limits, trust_env=False) as http:
            while True:
                try:
                    sent = await self.deliver_due(http)
                except Exception as exc:
                    if not is_transient(exc):
                        raise
                    log.warning("notifications: database unavailable (%s)", exc)
                    sent = 0
                if not sent:
                    await asyncio.sleep(self.every)

    async def deliver_due(self, http: httpx.AsyncClient) -> int:
        """Deliver what is due; each row stays locked (claimed) until its outcome is recorded."""
        async with self.db.system() as con:
            due = await notifications.claim_due(con)
            for row in due:
                try:
                    await self._deliver(http, row)
                except Exception as exc:  # any failure: retry later, never lose the notification
                    retry_in = min(3600.0, self.settings.notify_retry_seconds * 2**row.attempts)
                    failure = _failure(row, exc)
                    log.warning(
                        "%s notification of alert %s failed (%s); retry in %.0fs",
                        row.channel,
                        row.id,
                        failure,
                        retry_in,
                    )
                    await notifications.mark_failed(con, row.outbox_id, failure, retry_in)
                else:
                    await notifications.mark_sent(con, row.outbox_id, row.id, row.channel)
        return len(due)

    async def _deliver(self, http: httpx.AsyncClient, row: Any) -> None:
        if row.channel_id is not None:  # an Apprise channel (SMS, push, e-mail service)
            title, text = plain_text(row)
            if row.url_sealed is None:
                raise RuntimeError("the channel is gone")
            await send(
                self.box.open(row.url_sealed),
                title,
                text,
                allow_private=self.settings.webhook_allow_private,
            )
        elif row.channel == "webhook":
            body = webhook_body(row)
            headers = {"Content-Type": "application/json"}
            if row.webhook_secret:
                headers["X-Koprogo-Signature"] = sign(body, row.webhook_secret)
            url, host, extensions = await pinned_request(
                row.webhook_url, allow_private=self.settings.webhook_allow_private
            )
            response = await http.post(
                url, content=body, headers={**headers, **host}, extensions=extensions
            )
            response.raise_for_status()
        else:
            await self._send_email(row)

    async def _send_email(self, row: Any) -> None:
        if self.settings.smtp_url is None:
            raise RuntimeError("SMTP_URL is not set")
        url = urlsplit(self.settings.smtp_url.get())
        await aiosmtplib.send(
            email_message(row, self.settings.mail_from),
            hostname=url.hostname,
            port=url.port or (465 if url.scheme == "smtps" else 25),
            username=unquote(url.username) if url.username else None,
            password=unquote(url.password) if url.password else None,
            use_tls=url.scheme == "smtps",
            start_tls=None if url.scheme == "smtps" else (True if url.username else None),
            timeout=self.timeout,
        )


def _failure(row: DueDelivery, exc: BaseException) -> str:
    """What went wrong, for the delivery's record and the log: never a URL (they hold
    credentials), nor what a library said about one."""
    if row.channel_id is not None:
        return "the channel refused the notification or could not be reached"
    return describe_failure(exc) if row.channel == "webhook" else _smtp_failure(exc)


def _smtp_failure(exc: BaseException) -> str:
    """An e-mail failure: the SMTP server's answer says what went wrong (SMTP_URL, which holds
    the password, is never part of it)."""
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"SMTP {exc.code}: {exc.message[:200]}"
    if isinstance(exc, aiosmtplib.SMTPException | OSError | TimeoutError):
        return f"{type(exc).__name__}: {str(exc)[:200]}"
    return type(exc).__name__
