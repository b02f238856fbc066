"""The outbox sender: delivers due notifications, retrying with backoff until they go through."""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import unquote, urlsplit

import aiosmtplib
import httpx

from ..config import Settings
from ..store import notifications
from ..store.db import Database, is_transient
from .messages import email_message, sign, webhook_body

__all__ = ["NotificationSender"]

log = logging.getLogger(__name__)


class NotificationSender:
    def __init__(
        self, settings: Settings, db: Database, *, every: float = 1.0, timeout: float = 10.0
    ) -> None:
        self.settings = settings
        self.db = db
        self.every = every
        self.timeout = timeout

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=self.timeout) as http:
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
                    retry_in = min(
                        3600.0, self.settings.notify_retry_seconds * 2 ** row["attempts"]
                    )
                    log.warning(
                        "%s notification of alert %s failed (%s); retry in %.0fs",
                        row["channel"],
                        row["id"],
                        exc,
                        retry_in,
                    )
                    await notifications.mark_failed(
                        con, row["outbox_id"], f"{type(exc).__name__}: {exc}", retry_in
                    )
                else:
                    await notifications.mark_sent(con, row["outbox_id"], row["id"], row["channel"])
        return len(due)

    async def _deliver(self, http: httpx.AsyncClient, row: Any) -> None:
        if row["channel"] == "webhook":
            body = webhook_body(row)
            headers = {"Content-Type": "application/json"}
            if row["webhook_secret"]:
                headers["X-Koprogo-Signature"] = sign(body, row["webhook_secret"])
            response = await http.post(row["webhook_url"], content=body, headers=headers)
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
