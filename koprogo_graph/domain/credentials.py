"""Ingest credentials (SPEC §11): what a building's devices and gateways publish (MQTT) or post
(HTTP) with. The secrets are shown once; only their hashes are kept."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass

__all__ = ["NewCredentials", "new_credentials", "password_hash", "token_hash", "topic_prefix"]

TOKEN_PREFIX = "kgi_"  # so that a leaked token is recognisable (and scannable) as ours


@dataclass(frozen=True, slots=True)
class NewCredentials:
    mqtt_username: str
    mqtt_password: str  # shown once
    mqtt_password_salt: str
    mqtt_password_hash: str  # SHA-256 of salt || password, hex (EMQX: sha256, salt prefix)
    http_token: str  # shown once
    http_token_hash: bytes


def topic_prefix(organization_id: uuid.UUID, building_id: uuid.UUID) -> str:
    """Everything a building's credentials may publish under (and subscribe to)."""
    return f"koprogo/{organization_id}/{building_id}/"


def password_hash(salt: str, password: str) -> str:
    return hashlib.sha256((salt + password).encode()).hexdigest()


def token_hash(token: str) -> bytes:
    """A token is 32 random bytes: a plain SHA-256 is as good as any slow hash against
    guessing, and lets the service find it by its hash."""
    return hashlib.sha256(token.encode()).digest()


def new_credentials() -> NewCredentials:
    password = secrets.token_urlsafe(24)
    salt = secrets.token_hex(8)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return NewCredentials(
        mqtt_username=f"kgd-{secrets.token_hex(6)}",
        mqtt_password=password,
        mqtt_password_salt=salt,
        mqtt_password_hash=password_hash(salt, password),
        http_token=token,
        http_token_hash=token_hash(token),
    )
