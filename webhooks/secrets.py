"""Webhook signing secrets: made here, shown once, stored encrypted.

A Standard Webhooks secret is `whsec_` + base64 of 32 random bytes. Unlike our tokens it
cannot be stored as a digest: every delivery computes an HMAC with it, so the server must be
able to read it. It is stored encrypted (Fernet: AES-128-CBC + HMAC-SHA256) under a key
derived from `SECRET_KEY` with HKDF-SHA256, so a copy of the database (a backup, a replica,
an export) does not reveal the secrets without the server's key. Keys in
`SECRET_KEY_FALLBACKS` still decrypt, so `SECRET_KEY` can be rotated the usual Django way.
"""

from __future__ import annotations

import base64
import secrets

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

PREFIX = "whsec_"
_SHOWN = 4
_INFO = b"corsadmin webhook signing secrets v1"


class SecretUnreadable(Exception):
    """The stored secret was encrypted under a key this server no longer has."""


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def shown_prefix(secret: str) -> str:
    """What lists show of a secret: the prefix and a few characters."""
    return secret[: len(PREFIX) + _SHOWN]


def _fernet(key: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def _keys() -> MultiFernet:
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([_fernet(key) for key in keys])


def encrypt(secret: str) -> str:
    return _keys().encrypt(secret.encode()).decode()


def decrypt(stored: str) -> str:
    """Raises `SecretUnreadable` when no current or fallback key decrypts it."""
    try:
        return _keys().decrypt(stored.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "the webhook secret was encrypted with a SECRET_KEY this server no longer has: "
            "rotate the subscription's secret"
        ) from None
