"""policies.signatures: the detached-JWS contract every holder of a document verifies."""

from __future__ import annotations

import base64
import json
import sys
from typing import Any

import pytest
from joserfc.jwk import OKPKey

from policies.signatures import SignatureError, protected_header, sign_detached, verify_detached

BODY = b'{"api":"billing","schema":1,"version":3}'


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwks(*keys: OKPKey) -> dict[str, Any]:
    return {
        "keys": [
            {**key.as_dict(private=False), "kid": key.thumbprint(), "alg": "EdDSA", "use": "sig"}
            for key in keys
        ]
    }


@pytest.fixture
def key() -> OKPKey:
    return OKPKey.generate_key("Ed25519", private=True)


def test_sign_detached__compact_form__header_exactly_alg_and_thumbprint_empty_payload(
    key: OKPKey,
) -> None:
    # When a body is signed
    signature = sign_detached(BODY, key)
    # Then it is <header>..<signature> (RFC 7515 appendix F) with the contract's header
    header, payload, sig = signature.split(".")
    assert payload == ""
    assert json.loads(base64.urlsafe_b64decode(header + "==")) == {
        "alg": "EdDSA",
        "kid": key.thumbprint(),
    }
    assert len(base64.urlsafe_b64decode(sig + "==")) == 64  # an Ed25519 signature


def test_verify_detached__genuine__returns_protected_header(key: OKPKey) -> None:
    signature = sign_detached(BODY, key)
    assert verify_detached(BODY, signature, _jwks(key)) == {"alg": "EdDSA", "kid": key.thumbprint()}


def test_verify_detached__signing_input_is_standard_b64_payload(key: OKPKey) -> None:
    # Given a signature, Then it verifies over b64url(header) + "." + b64url(body) with the
    # raw Ed25519 public key, as any JOSE library computes it
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    header, _, sig = sign_detached(BODY, key).split(".")
    public = Ed25519PublicKey.from_public_bytes(
        base64.urlsafe_b64decode(key.as_dict(private=False)["x"] + "==")
    )
    public.verify(base64.urlsafe_b64decode(sig + "=="), f"{header}.{_b64(BODY)}".encode())


@pytest.mark.parametrize(
    "body",
    [BODY.replace(b"3", b"4"), BODY + b" ", b""],
    ids=["changed-version", "trailing-space", "empty"],
)
def test_verify_detached__body_altered__signature_error(key: OKPKey, body: bytes) -> None:
    signature = sign_detached(BODY, key)
    with pytest.raises(SignatureError, match="does not verify"):
        verify_detached(body, signature, _jwks(key))


def test_verify_detached__key_not_in_set__names_the_kid(key: OKPKey) -> None:
    other = OKPKey.generate_key("Ed25519", private=True)
    signature = sign_detached(BODY, key)
    with pytest.raises(SignatureError, match=key.thumbprint()):
        verify_detached(BODY, signature, _jwks(other))


def test_verify_detached__other_key_claims_the_kid__refused(key: OKPKey) -> None:
    # Given a key set whose entry for our kid holds another key
    other = OKPKey.generate_key("Ed25519", private=True)
    lying = {"keys": [{**other.as_dict(private=False), "kid": key.thumbprint()}]}
    with pytest.raises(SignatureError, match="thumbprint"):
        verify_detached(BODY, sign_detached(BODY, key), lying)


@pytest.mark.parametrize(
    ("signature", "message"),
    [
        ("", "detached payload"),
        ("a.b.c", "detached payload"),
        ("abc", "detached payload"),
        (_b64(b"not json") + "..c2ln", "not JSON"),
        (_b64(b'{"alg":"HS256","kid":"k"}') + "..c2ln", "HS256"),
        (_b64(b'{"alg":"none","kid":"k"}') + "..c2ln", "none"),
        (_b64(b'{"alg":"EdDSA"}') + "..c2ln", "exactly"),
        (_b64(b'{"alg":"EdDSA","kid":"k","b64":false}') + "..c2ln", "exactly"),
        (_b64(b'{"alg":"EdDSA","kid":""}') + "..c2ln", "names no key"),
    ],
    ids=["empty", "attached", "one-part", "header-garbage", "hmac", "none", "no-kid", "b64", "kid"],
)
def test_protected_header__malformed__clear_error(signature: str, message: str) -> None:
    with pytest.raises(SignatureError, match=message):
        protected_header(signature)


def test_verify_detached__not_a_jwks__clear_error(key: OKPKey) -> None:
    with pytest.raises(SignatureError, match="JWKS"):
        verify_detached(BODY, sign_detached(BODY, key), {"k": []})


def test_signatures_module__imported_without_django__no_django_loaded() -> None:
    # Consumers import it without Django: run it in a clean interpreter
    import subprocess

    code = "import sys, policies.signatures; print('django' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
