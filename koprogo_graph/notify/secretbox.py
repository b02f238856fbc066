"""Channel URLs hold credentials (an SMS provider's token, a push app's key): they are stored
encrypted (Fernet: AES-128-CBC with HMAC-SHA256) under a key from the environment.

The key is KOPROGO_SECRET_KEY (any string of 32 characters or more); without it, it is derived
from KOPROGO_JWT_SECRET (HKDF-SHA256, info "koprogo-graph channel urls"), so that a deployment
that sets only the JWT secret still encrypts. Changing either makes stored URLs unreadable:
the channels must then be configured again.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["SecretBox", "UnreadableSecret"]


class UnreadableSecret(Exception):
    """A stored secret that this key cannot open (the key changed)."""


class SecretBox:
    def __init__(self, secret: str) -> None:
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"koprogo-graph channel urls"
        ).derive(secret.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, text: str) -> bytes:
        return self._fernet.encrypt(text.encode())

    def open(self, sealed: bytes) -> str:
        try:
            return self._fernet.decrypt(sealed).decode()
        except InvalidToken:
            raise UnreadableSecret("a stored channel URL cannot be decrypted") from None
