"""Verifying signed policy documents (design.md, "Signed documents").

A signature is a compact JWS with a detached payload (RFC 7515 appendix F):
``<b64url(protected header)>..<b64url(signature)>``, protected header
``{"alg": "EdDSA", "kid": "<RFC 7638 thumbprint>"}``, Ed25519 (RFC 8037), over the exact
bytes of the document. Keys come as a JWKS (RFC 7517): a file path or inline JSON.

Verification happens once, when a document arrives (from central, Redis, a cache file or a
bootstrap file), never per request. Uses ``joserfc``. No Django import.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.util import urlsafe_b64decode

__all__ = ["ALGORITHMS", "KeyError_", "SignatureError", "load_keys", "verify_detached"]

ALGORITHMS: Final = ("EdDSA",)
"""Only what central signs with: a document signed with anything else (``none``, HMAC with
the public key as secret, ...) is refused."""

# RFC 9864 deprecates the name "EdDSA" in favour of "Ed25519"; the contract (design.md) names
# "EdDSA", which is still Ed25519 here: keep joserfc's warning out of every arrival's log.
warnings.filterwarnings("ignore", message="EdDSA is deprecated", module="joserfc")


class SignatureError(ValueError):
    """A document's signature is missing, malformed, from an unknown key, or wrong."""


class KeyError_(ValueError):
    """The configured public keys cannot be read (says why)."""


def load_keys(spec: str | Mapping[str, Any]) -> KeySet:
    """A JWKS from inline JSON (a string starting with ``{``), a mapping, or a file path.

    Only public ``OKP``/``Ed25519`` keys are accepted: a private key in a consumer's
    configuration is a leak waiting to happen, and other key types are not what central
    signs with. Raises ``KeyError_`` with the reason.
    """
    if isinstance(spec, Mapping):
        data: Any = spec
        where = "inline JWKS"
    elif spec.lstrip().startswith("{"):
        where = "inline JWKS"
        try:
            data = json.loads(spec)
        except ValueError as exc:
            raise KeyError_(f"{where} is not JSON: {exc}") from exc
    else:
        where = f"JWKS file {spec}"
        try:
            data = json.loads(Path(spec).read_text())
        except (OSError, ValueError) as exc:
            raise KeyError_(f"{where} is unreadable: {exc}") from exc
    keys = data.get("keys") if isinstance(data, Mapping) else None
    if not isinstance(keys, list) or not keys:
        raise KeyError_(f'{where} has no "keys" list')
    for index, key in enumerate(keys):
        if not isinstance(key, Mapping):
            raise KeyError_(f"{where}: keys[{index}] is not an object")
        if key.get("kty") != "OKP" or key.get("crv") != "Ed25519":
            raise KeyError_(f"{where}: keys[{index}] is not an Ed25519 (OKP) key")
        if "d" in key:
            raise KeyError_(f"{where}: keys[{index}] is a private key; give the public part")
    try:
        key_set = KeySet.import_key_set({"keys": [dict(key) for key in keys]})
    except (JoseError, ValueError, TypeError) as exc:
        raise KeyError_(f"{where}: {exc}") from exc
    for key in key_set.keys:
        if key.kid is None:
            # Central names keys by their RFC 7638 thumbprint; so may a JWKS written by hand.
            key.ensure_kid()
    return key_set


def verify_detached(body: bytes, signature: str | None, keys: KeySet) -> str:
    """Check ``signature`` (compact JWS, detached payload) over ``body``; the key id used.

    Raises ``SignatureError`` when the signature is missing, not a detached compact JWS,
    uses another algorithm, names a key not in ``keys``, or does not verify.
    """
    if not signature:
        raise SignatureError("the document is not signed")
    parts = signature.split(".")
    if len(parts) != 3 or parts[1] != "":
        raise SignatureError("the signature is not a detached compact JWS (header..signature)")
    try:
        header = json.loads(urlsafe_b64decode(parts[0].encode("ascii")))
    except (ValueError, UnicodeError) as exc:
        raise SignatureError(f"the signature's header is unreadable: {exc}") from exc
    if not isinstance(header, dict) or header.get("alg") not in ALGORITHMS:
        alg = header.get("alg") if isinstance(header, dict) else None
        raise SignatureError(f"the signature's algorithm {alg!r} is not EdDSA")
    kid = header.get("kid")
    if not isinstance(kid, str) or not any(key.kid == kid for key in keys.keys):
        raise SignatureError(f"the signature's key {kid!r} is not among the public keys")
    try:
        jws.deserialize_compact(signature, keys, algorithms=list(ALGORITHMS), payload=body)
    except (JoseError, ValueError) as exc:
        raise SignatureError(f"the signature does not verify: {exc}") from exc
    return kid
