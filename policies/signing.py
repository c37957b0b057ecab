"""Central's signing keys: the key file, signing with the newest key, the public JWKS.

`CORSADMIN_SIGNING_KEY_FILE` is one PEM file holding one or more Ed25519 private keys
(PKCS#8, `-----BEGIN PRIVATE KEY-----` blocks), oldest first: the **last** key signs, every
key is published at `GET /api/v1/keys` so documents signed before a rotation still verify.
`manage.py rotate_signing_key` appends a new key; remove an old block by hand once no cache
holds documents it signed (republishing re-signs every document within 5 minutes).

The file is re-read when its modification time changes, so every process picks up a
rotation without a restart.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from policies.signatures import ALG, CRV, sign_detached, verify_detached

_PEM_BLOCK = re.compile(
    rb"-----BEGIN PRIVATE KEY-----\s+[A-Za-z0-9+/=\s]+?-----END PRIVATE KEY-----", re.S
)


class SigningKeyError(Exception):
    """The key file is missing, unreadable, or holds something other than Ed25519 keys."""


@dataclass(frozen=True, slots=True)
class KeyRing:
    keys: tuple[OKPKey, ...]  # oldest first; the last one signs
    jwks: dict[str, Any]
    current_kid: str

    @property
    def current(self) -> OKPKey:
        return self.keys[-1]


_lock = threading.Lock()
_loaded: dict[str, tuple[float, int, KeyRing]] = {}


def key_file() -> Path:
    return Path(settings.CORSADMIN_SIGNING_KEY_FILE)


def _parse(raw: bytes, path: Path) -> KeyRing:
    blocks = _PEM_BLOCK.findall(raw)
    if not blocks:
        raise SigningKeyError(f"{path} holds no PEM private key (-----BEGIN PRIVATE KEY-----)")
    keys = []
    for number, block in enumerate(blocks, 1):
        try:
            key = OKPKey.import_key(block)
        except (JoseError, ValueError, TypeError) as exc:
            raise SigningKeyError(f"{path}: key {number} is not an Ed25519 key ({exc})") from None
        if key.curve_name != CRV or not key.is_private:
            raise SigningKeyError(f"{path}: key {number} is not an Ed25519 private key")
        keys.append(key)
    published = []
    for key in keys:
        entry = dict(key.as_dict(private=False))
        entry.update(kid=key.thumbprint(), alg=ALG, use="sig")
        published.append(entry)
    # Newest first: a reader looking for the current key finds it at once.
    return KeyRing(
        keys=tuple(keys),
        jwks={"keys": list(reversed(published))},
        current_kid=keys[-1].thumbprint(),
    )


def keyring() -> KeyRing:
    """The keys of `CORSADMIN_SIGNING_KEY_FILE`; raises SigningKeyError if unusable."""
    path = key_file()
    try:
        stat = path.stat()
    except OSError as exc:
        raise SigningKeyError(
            f"no signing key at {path} ({exc.strerror}): create one with "
            "`python manage.py rotate_signing_key` or set CORSADMIN_SIGNING_KEY_FILE"
        ) from None
    cached = _loaded.get(str(path))
    if cached is not None and cached[:2] == (stat.st_mtime, stat.st_size):
        return cached[2]
    with _lock:
        ring = _parse(path.read_bytes(), path)
        _loaded[str(path)] = (stat.st_mtime, stat.st_size, ring)
    return ring


def sign(body: bytes) -> str:
    """The compact detached JWS of `body` with the newest key (see policies.signatures)."""
    return sign_detached(body, keyring().current)


def current_kid() -> str:
    """The key id (RFC 7638 thumbprint) of the key that signs now."""
    return keyring().current_kid


def jwks() -> dict[str, Any]:
    """Every public key, newest first, as a JWKS (RFC 7517; RFC 8037 OKP/Ed25519)."""
    return keyring().jwks


def verify(body: bytes, signature: str) -> dict[str, Any]:
    """Verify with central's own keys; raises policies.signatures.SignatureError."""
    return verify_detached(body, signature, keyring().jwks)


def add_key(path: Path | None = None) -> str:
    """Append a new Ed25519 key to the key file (created 0600 if missing); returns its kid."""
    path = path or key_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = OKPKey.generate_key("Ed25519", private=True)
    pem = key.as_pem(private=True)
    previous = path.read_bytes() if path.exists() else b""
    if previous:
        _parse(previous, path)  # refuse to append to a file that is not a key file
    # Write a whole new file and rename it over the old one: a reader never sees half a key.
    temporary = path.with_name(path.name + ".new")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(previous + (b"" if not previous or previous.endswith(b"\n") else b"\n"))
        handle.write(pem)
    os.replace(temporary, path)
    return key.thumbprint()
