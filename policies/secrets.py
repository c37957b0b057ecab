"""Token secrets: generated with 32 random bytes, shown once, stored only as a digest.

Prefixes make leaked secrets recognisable to secret scanners: `cors_` for service tokens
(read policy documents), `corsp_` for personal access tokens (act as a person).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

SERVICE_PREFIX = "cors_"
PERSONAL_PREFIX = "corsp_"
# A displayable head: the prefix plus a few characters, too few to guess the rest from.
_SHOWN = 4


@dataclass(frozen=True, slots=True)
class NewSecret:
    secret: str
    digest: str
    prefix: str


def digest_of(secret: str) -> str:
    # A fast hash is enough: the secret has 256 bits of entropy, nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret(prefix: str) -> NewSecret:
    secret = prefix + secrets.token_urlsafe(32)
    return NewSecret(secret=secret, digest=digest_of(secret), prefix=secret[: len(prefix) + _SHOWN])
