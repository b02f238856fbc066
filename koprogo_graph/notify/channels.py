"""Notification channels as Apprise URLs (SPEC §13): SMS providers, push apps (ntfy, Gotify,
Pushover, Telegram, Signal, Matrix, Slack...), e-mail services, generic JSON webhooks.

A URL is checked when it is configured (Apprise must know it), classified (what `smsSent`,
`pushSent` or `emailSent` it sets), masked for display (Apprise's own privacy form, secrets
elided), and sent through in a worker thread (Apprise blocks). Neither the URL nor anything
Apprise says about it is ever logged.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import apprise

from .targets import RefusedTarget, check_host

__all__ = ["ChannelInfo", "ChannelUrlError", "inspect_url", "send"]

# Apprise logs to its own logger, and the HTTP library under it (urllib3) logs each request's
# path: both may carry a channel's token. Keep them quiet.
logging.getLogger("apprise").setLevel(logging.CRITICAL)
logging.getLogger("urllib3").setLevel(logging.CRITICAL)

MAX_URL = 2_000
SEND_TIMEOUT = 30.0  # seconds a channel may take (Apprise retries nothing by itself here)
# Apprise's SMS services (by protocol) and e-mail services; everything else is a push.
_SMS = frozenset(
    {
        "twilio", "sns", "vonage", "nexmo", "clicksend", "d7sms", "msg91", "bulksms", "bulkvs",
        "plivo", "sinch", "smseagle", "smseagles", "msgbird", "kavenegar", "burstsms", "seven",
        "smsmgr", "voipms", "httpsms", "freemobile", "46elks", "elks", "africastalking",
        "smsapi", "textbelt",
    }
)  # fmt: skip
_EMAIL = frozenset(
    {"mailto", "mailtos", "ses", "sendgrid", "mailgun", "sparkpost", "resend", "smtp2go"}
)


class ChannelUrlError(ValueError):
    """What is wrong with a channel URL, never quoting it."""


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    kind: str  # "sms", "push" or "email": the alert flag a delivery sets
    service: str  # Apprise's name of the service (e.g. "ntfy", "Twilio")
    masked: str  # the URL with its secrets elided, for display


def _protocols(plugin: Any) -> set[str]:
    names: set[str] = set()
    for attribute in ("protocol", "secure_protocol"):
        value = getattr(plugin, attribute, None)
        if isinstance(value, str):
            names.add(value.lower())
        elif isinstance(value, list | tuple):
            names.update(str(v).lower() for v in value)
    return names


async def inspect_url(url: str, *, allow_private: bool) -> ChannelInfo:
    """Check a channel URL; ChannelUrlError says why it cannot be used."""
    if not url.strip() or len(url) > MAX_URL:
        raise ChannelUrlError(f"must be an Apprise URL of at most {MAX_URL} characters")
    if any(ord(c) < 32 for c in url):
        raise ChannelUrlError("must not contain control characters")
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("http", "https"):
        raise ChannelUrlError("is a web address: use the webhook, or json:// for Apprise")
    plugin = apprise.Apprise.instantiate(url)
    if plugin is None:
        raise ChannelUrlError(
            f"is not a URL Apprise knows ({scheme or 'no'} scheme, or a malformed one): "
            "see the Apprise wiki for each service's form"
        )
    protocols = _protocols(plugin)
    try:
        await _check_hosts(plugin, allow_private=allow_private)
    except RefusedTarget as refused:
        raise ChannelUrlError(str(refused)) from None
    kind = "sms" if protocols & _SMS else "email" if protocols & _EMAIL else "push"
    return ChannelInfo(kind, str(getattr(plugin, "service_name", scheme)), _masked(plugin))


async def _check_hosts(plugin: Any, *, allow_private: bool) -> None:
    """Whatever host the channel talks to (a self-hosted receiver, an SMTP relay): the same rule
    as webhooks, when configured and again at each delivery (a name may be re-pointed). A
    service's own name (an SMS provider's API) resolves to public addresses; an account id that
    is no host name does not resolve, and passes."""
    for host in (getattr(plugin, "host", None), getattr(plugin, "smtp_host", None)):
        if isinstance(host, str) and host:
            await check_host(host, allow_private=allow_private)


def _masked(plugin: Any) -> str:
    """Apprise's privacy form (credentials elided), without its query, and each path segment
    cut to its first two characters: a path may hold a token (a webhook's, an ntfy topic)."""
    parts = urlsplit(plugin.url(privacy=True))
    segments = [s[:2] + "****" if len(s) > 2 else s for s in parts.path.split("/")]
    return f"{parts.scheme}://{parts.netloc}{'/'.join(segments)}"


async def send(url: str, title: str, body: str, *, allow_private: bool) -> None:
    """Deliver through Apprise, off the event loop; RuntimeError when it did not go out, and
    RefusedTarget when its host now points to a private address."""
    plugin = apprise.Apprise.instantiate(url)
    if plugin is None:
        raise RuntimeError("the channel's URL is no longer one Apprise knows")
    await _check_hosts(plugin, allow_private=allow_private)

    def notify() -> bool:
        sender = apprise.Apprise()
        if not sender.add(url):
            return False
        return bool(sender.notify(title=title, body=body))

    try:  # the thread may linger after a timeout; the delivery is retried meanwhile
        sent = await asyncio.wait_for(asyncio.to_thread(notify), SEND_TIMEOUT)
    except TimeoutError:
        sent = False
    if not sent:
        raise RuntimeError("the channel refused the notification or could not be reached")
