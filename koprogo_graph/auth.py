"""JWTs issued by the KoproGo backend -> the :class:`Viewer` of a request (SPEC §4)."""

from __future__ import annotations

import ipaddress
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import jwt

from .errors import Forbidden, Unauthenticated

__all__ = ["Role", "Viewer", "decode_token", "token_from_header"]

_ALGORITHM = "HS256"


class Role(StrEnum):
    SUPERADMIN = "superadmin"
    SYNDIC = "syndic"
    ACCOUNTANT = "accountant"
    OWNER = "owner"


# Who may change sensors, alert rules and notification settings, and handle alerts.
MANAGERS = frozenset({Role.SYNDIC, Role.SUPERADMIN})


@dataclass(frozen=True, slots=True)
class Viewer:
    """The authenticated caller. ``organization_id`` is None for users outside any organization."""

    user_id: uuid.UUID
    organization_id: uuid.UUID | None
    role: Role
    email: str | None
    expires_at: datetime

    def org(self) -> uuid.UUID:
        """The organization every read and write is scoped to; FORBIDDEN without one."""
        if self.organization_id is None:
            raise Forbidden("Your account belongs to no organization")
        return self.organization_id

    @property
    def is_owner(self) -> bool:
        """An owner sees only their own units (SPEC §12)."""
        return self.role is Role.OWNER

    def require_manager(self) -> uuid.UUID:
        """The organization, for operations reserved to syndics and superadmins."""
        org = self.org()
        if self.role not in MANAGERS:
            raise Forbidden(
                f"Role {self.role.value} may not do this; syndic or superadmin required"
            )
        return org


def token_from_header(value: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header."""
    if not value:
        raise Unauthenticated()
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Authorization must be 'Bearer <token>'")
    return token.strip()


# Tokens already verified, newest last: a dashboard sends the same token with every request,
# and verifying its signature again was a twentieth of a small query's time. A hit is checked
# for expiry as PyJWT would (valid while exp > now); only tokens of ordinary size are kept.
_VERIFIED: OrderedDict[tuple[str, str], Viewer] = OrderedDict()
_VERIFIED_MAX = 4_096
_VERIFIED_TOKEN_CHARS = 2_048


def decode_token(token: str, secret: str) -> Viewer:
    """Verify an HS256 token and read its claims; UNAUTHENTICATED on any defect."""
    key = (token, secret)
    viewer = _VERIFIED.get(key)
    if viewer is not None:
        if viewer.expires_at.timestamp() > time.time():
            _VERIFIED.move_to_end(key)
            return viewer
        del _VERIFIED[key]
        raise Unauthenticated("Token expired")
    viewer = _verify(token, secret)
    if len(token) <= _VERIFIED_TOKEN_CHARS:
        _VERIFIED[key] = viewer
        if len(_VERIFIED) > _VERIFIED_MAX:
            _VERIFIED.popitem(last=False)
    return viewer


def _verify(token: str, secret: str) -> Viewer:
    try:
        claims = jwt.decode(
            token, secret, algorithms=[_ALGORITHM], options={"require": ["sub", "exp", "role"]}
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("Token expired") from None
    except jwt.PyJWTError:
        raise Unauthenticated("Invalid token") from None
    try:
        org = claims.get("organization_id")
        return Viewer(
            user_id=uuid.UUID(str(claims["sub"])),
            organization_id=uuid.UUID(str(org)) if org else None,
            role=Role(claims["role"]),
            email=claims.get("email"),
            expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
        )
    except (ValueError, TypeError):
        raise Unauthenticated("Invalid token claims") from None


def client_key(host: str) -> str:
    """A client address as limits count it: an IPv6 address by its /64 (one host may hold a
    whole /64), an IPv4 address as it is."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None:
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address)
