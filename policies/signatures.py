"""Signed policy documents: sign and verify a JWS with a detached payload (no Django).

The contract (docs/design.md, "Signed documents"): a document is signed with Ed25519 as a
JWS (RFC 7515) in compact form with a detached payload (RFC 7515 appendix F):
`<b64url(protected)>..<b64url(signature)>`, protected header exactly
`{"alg": "EdDSA", "kid": "<RFC 7638 thumbprint>"}`, payload = the exact bytes served. The
public keys are a JWKS (RFC 7517, RFC 8037 `OKP` / `Ed25519`).

Central and the consumers share this module: it imports only joserfc (the JOSE library does
the cryptography; nothing here is hand-rolled), so a consumer service can verify without
Django.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwa import EdDSAAlgorithm
from joserfc.jwk import OKPKey
from joserfc.jws import JWSRegistry

ALG = "EdDSA"
CRV = "Ed25519"


class SignatureError(ValueError):
    """A document's signature is missing, malformed, made with an unknown key, or wrong."""


class _EdDSA(EdDSAAlgorithm):
    # RFC 9864 prefers the fully specified "Ed25519" name; the contract (design.md) fixes
    # "EdDSA" with crv Ed25519 (RFC 8037), which every JOSE library verifies. Same algorithm.
    security_warning = None  # type: ignore[assignment]


class _Registry(JWSRegistry):
    algorithms = {ALG: _EdDSA()}
    recommended = [ALG]
    # Documents of large APIs exceed joserfc's 128 kB default; they are our own bytes.
    max_payload_length = 64 * 1024 * 1024


REGISTRY = _Registry(algorithms=[ALG])


def _b64url_decode(part: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError) as exc:
        raise SignatureError(f"the signature is not base64url: {exc}") from None


def protected_header(signature: str) -> dict[str, Any]:
    """The protected header of a compact detached JWS, checked against the contract.

    Raises SignatureError unless `signature` is `<header>..<signature>` whose header is
    exactly `{"alg": "EdDSA", "kid": "<non-empty string>"}`.
    """
    if not isinstance(signature, str):
        raise SignatureError("the signature is not a string")
    parts = signature.split(".")
    if len(parts) != 3 or parts[1] != "" or not parts[0] or not parts[2]:
        raise SignatureError("the signature is not a compact JWS with a detached payload")
    try:
        header = json.loads(_b64url_decode(parts[0]))
    except ValueError:
        raise SignatureError("the signature's protected header is not JSON") from None
    if not isinstance(header, dict) or set(header) != {"alg", "kid"}:
        raise SignatureError('the protected header must be exactly {"alg", "kid"}')
    if header["alg"] != ALG:
        raise SignatureError(f"the signature's algorithm is {header['alg']!r}, not {ALG!r}")
    if not isinstance(header["kid"], str) or not header["kid"]:
        raise SignatureError("the signature names no key (kid)")
    return header


_imported: dict[tuple[str, str], OKPKey] = {}


def _public_key(jwks: Mapping[str, Any], kid: str) -> OKPKey:
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(keys, list):
        raise SignatureError('the key set is not a JWKS ({"keys": [...]})')
    for entry in keys:
        if not isinstance(entry, Mapping) or entry.get("kid") != kid:
            continue
        if entry.get("kty") != "OKP" or entry.get("crv") != CRV or not entry.get("x"):
            raise SignatureError(f"key {kid!r} is not an Ed25519 (OKP) public key")
        cached = _imported.get((kid, entry["x"]))
        if cached is None:
            try:
                cached = OKPKey.import_key({"kty": "OKP", "crv": CRV, "x": entry["x"]})
            except (JoseError, ValueError) as exc:
                raise SignatureError(f"key {kid!r} cannot be read: {exc}") from None
            if cached.thumbprint() != kid:
                # The kid is the RFC 7638 thumbprint: a key set that lies about it is broken.
                raise SignatureError(f"key {kid!r} does not match its thumbprint")
            _imported[(kid, entry["x"])] = cached
        return cached
    raise SignatureError(f"the signature's key {kid!r} is not in the key set")


def verify_detached(body: bytes, signature: str, jwks: Mapping[str, Any]) -> dict[str, Any]:
    """Verify `signature` (compact JWS, detached payload) over `body` with a key of `jwks`.

    `body`: the exact bytes served; `jwks`: `{"keys": [{"kty": "OKP", "crv": "Ed25519",
    "x", "kid", ...}]}`. Returns the protected header (`{"alg", "kid"}`). Raises
    SignatureError, saying why, when the signature is malformed, names a key the set does not
    hold, or does not verify (RFC 7515 appendix F, RFC 8037).
    """
    if not isinstance(body, bytes | bytearray):
        raise SignatureError("the document body must be bytes")
    header = protected_header(signature)
    key = _public_key(jwks, header["kid"])
    try:
        jws.deserialize_compact(
            signature, key, algorithms=[ALG], registry=REGISTRY, payload=bytes(body)
        )
    except JoseError as exc:
        raise SignatureError(
            f"the signature does not verify with key {header['kid']!r} ({exc.error})"
        ) from None
    return header


def sign_detached(body: bytes, key: OKPKey) -> str:
    """Sign `body` with the Ed25519 private `key`: `<header>..<signature>` (RFC 7515 app. F)."""
    signed = jws.serialize_compact(
        {"alg": ALG, "kid": key.thumbprint()}, bytes(body), key, algorithms=[ALG], registry=REGISTRY
    )
    return jws.detach_content(signed)
