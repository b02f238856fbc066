"""Where a webhook may point, and how a delivery failure is described without its URL.

A syndic chooses the webhook URL, and the delivery's outcome is readable through the API; so
without a check a webhook could probe the service's own network (SSRF). A delivery connects only
to public addresses unless the operator allows private ones (``KOPROGO_WEBHOOK_ALLOW_PRIVATE``),
and it connects to the very address it checked (the request goes to that IP, the host name kept
for the Host header and TLS), so a DNS answer that changes in between cannot redirect it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import SplitResult, urlsplit, urlunsplit

import httpx

__all__ = [
    "MAX_URL_LENGTH",
    "RefusedTarget",
    "check_host",
    "check_webhook_url",
    "describe_failure",
    "is_public",
    "pinned_request",
]

MAX_URL_LENGTH = 2_000
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class RefusedTarget(Exception):
    """The URL is malformed or points where webhooks may not go."""


def is_public(address: str) -> bool:
    """True for a globally routable unicast address (not loopback, private, link-local,
    shared, reserved, multicast, nor an IPv4 one of those mapped into IPv6)."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address):
        # IPv4 carried in IPv6 (mapped, 6to4, NAT64) is judged by the IPv4 address it reaches.
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(str(embedded))
    return ip.is_global and not ip.is_multicast


def _split(url: str) -> SplitResult:
    if len(url) > MAX_URL_LENGTH:
        raise RefusedTarget(f"must be at most {MAX_URL_LENGTH} characters")
    if any(ord(c) < 33 for c in url):
        raise RefusedTarget("must not contain spaces or control characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RefusedTarget("must be an http(s) URL")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise RefusedTarget("has an invalid port") from None
    return parts


async def _addresses(parts: SplitResult) -> list[str]:
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return await _resolve(parts.hostname or "", port)


async def _resolve(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout=5
        )
    except (OSError, TimeoutError, UnicodeError):
        raise RefusedTarget("its host does not resolve") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def check_webhook_url(url: str, *, allow_private: bool) -> None:
    """Refuse (RefusedTarget, a message without the URL) what a webhook may not point at."""
    parts = _split(url)
    await check_host(
        parts.hostname or "",
        allow_private=allow_private,
        port=parts.port or (443 if parts.scheme == "https" else 80),
    )


async def check_host(host: str, *, allow_private: bool, port: int = 443) -> None:
    """Refuse a host that is, or resolves to, a private, loopback or link-local address
    (unless the operator allows it); a name that does not resolve yet passes (deliveries
    check again, and retry)."""
    if allow_private:
        return
    host = host.strip("[]")  # an IPv6 literal as a URL writes it (Apprise keeps the brackets)
    try:
        literal = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        literal = None
    if literal is not None and not is_public(str(literal)):
        raise RefusedTarget("points to a private, loopback or link-local address")
    try:
        addresses = await _resolve(host, port)
    except RefusedTarget:
        return
    if not all(is_public(a) for a in addresses):
        raise RefusedTarget("points to a private, loopback or link-local address")


async def pinned_request(
    url: str, *, allow_private: bool
) -> tuple[str, dict[str, str], dict[str, str]]:
    """The URL to request (its host replaced by the checked address), the Host header, and the
    request extensions (TLS still verifies the certificate against the host name)."""
    parts = _split(url)
    addresses = await _addresses(parts)
    allowed = [a for a in addresses if allow_private or is_public(a)]
    if not allowed:
        raise RefusedTarget("points to a private, loopback or link-local address")
    address = allowed[0]
    host = f"[{address}]" if ":" in address else address
    netloc = f"{host}:{parts.port}" if parts.port else host
    if "@" in parts.netloc:  # basic-auth credentials stay with the request
        netloc = f"{parts.netloc.rpartition('@')[0]}@{netloc}"
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    name = parts.hostname or ""
    shown = f"[{name}]" if ":" in name else name.encode("idna").decode("ascii")
    host_header = shown if parts.port is None else f"{shown}:{parts.port}"
    extensions = {"sni_hostname": name} if parts.scheme == "https" else {}
    return pinned, {"Host": host_header}, extensions


def describe_failure(exc: BaseException) -> str:
    """What went wrong with a delivery, in words that never carry the target's URL or address."""
    if isinstance(exc, RefusedTarget):
        return f"refused: the webhook URL {exc}"
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        return "could not connect"
    if isinstance(exc, httpx.HTTPError):
        return f"HTTP error ({type(exc).__name__})"
    return type(exc).__name__
