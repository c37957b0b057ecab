"""The consumer's side of signed documents (design.md, "Signed documents"): reading the
configured public keys, and verifying a document as it arrives.

The cryptography and the contract checks are ``policies.signatures`` (shared with central;
joserfc underneath): a compact JWS with a detached payload over the exact body, protected
header ``{"alg": "EdDSA", "kid": "<RFC 7638 thumbprint>"}``, Ed25519. This module adds what
only a consumer needs: its JWKS from a file path, inline JSON or a mapping, checked at start
(public ``OKP``/``Ed25519`` keys only), and "not signed" as a refusal. Verification happens
once per arriving document (from central, Redis, a cache file or a bootstrap file), never
per request. No Django import.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from policies.signatures import SignatureError, verify_detached

__all__ = ["KeyError_", "SignatureError", "load_keys", "verify"]


class KeyError_(ValueError):
    """The configured public keys cannot be used (says why)."""


def load_keys(spec: str | Mapping[str, Any]) -> dict[str, Any]:
    """The JWKS of ``spec``: inline JSON (a string starting with ``{``), a mapping, or a file
    path. Only public ``OKP``/``Ed25519`` keys are accepted (a private key in a consumer's
    configuration is a leak waiting to happen); a key without ``kid`` is named by its RFC
    7638 thumbprint, as central names its keys. Raises ``KeyError_`` with the reason."""
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
    checked: list[dict[str, Any]] = []
    for index, key in enumerate(keys):
        if not isinstance(key, Mapping):
            raise KeyError_(f"{where}: keys[{index}] is not an object")
        if key.get("kty") != "OKP" or key.get("crv") != "Ed25519":
            raise KeyError_(f"{where}: keys[{index}] is not an Ed25519 (OKP) key")
        if "d" in key:
            raise KeyError_(f"{where}: keys[{index}] is a private key; give the public part")
        public = key.get("x")
        if not isinstance(public, str):
            raise KeyError_(f"{where}: keys[{index}] has no public key (x)")
        try:
            imported = OKPKey.import_key({"kty": "OKP", "crv": "Ed25519", "x": public})
        except (JoseError, ValueError, TypeError) as exc:
            raise KeyError_(f"{where}: keys[{index}] cannot be read: {exc}") from exc
        checked.append({**key, "kid": key.get("kid") or imported.thumbprint()})
    return {"keys": checked}


def verify(body: bytes, signature: str | None, jwks: Mapping[str, Any]) -> str:
    """Check ``signature`` over ``body`` with ``jwks``; the key id that verified it.
    Raises ``SignatureError`` saying why (not signed, malformed, unknown key, wrong)."""
    if not signature:
        raise SignatureError("the document is not signed")
    return str(verify_detached(body, signature, jwks)["kid"])
