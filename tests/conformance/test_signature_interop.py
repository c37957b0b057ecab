"""Signed documents cross languages: a document signed in Python (joserfc, as central signs)
verifies in the Node package, and one signed in Node (jose) verifies in Python; a changed
byte fails both ways."""

from __future__ import annotations

import json
import subprocess

import pytest
from joserfc import jws
from joserfc.errors import BadSignatureError
from joserfc.jwk import OKPKey

from tests.conformance.node import PACKAGE, node_package

# The design contract names alg "EdDSA" (RFC 8037); joserfc prefers RFC 9864's "Ed25519".
pytestmark = pytest.mark.filterwarnings("ignore:EdDSA is deprecated")

BODY = json.dumps({"schema": 1, "api": "billing", "version": 3, "note": "caf\u00e9"}).encode()

VERIFY_JS = """
const { verifier } = require(process.argv[1]);
const [jwks, body, signature] = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
verifier(jwks)(Buffer.from(body, "base64"), signature).then(
  (header) => console.log(JSON.stringify({ ok: true, header })),
  (error) => console.log(JSON.stringify({ ok: false, error: error.message })),
);
"""

SIGN_JS = """
(async () => {
  const jose = await import("jose");
  const { publicKey, privateKey } = await jose.generateKeyPair("EdDSA", { crv: "Ed25519" });
  const jwk = await jose.exportJWK(publicKey);
  const kid = await jose.calculateJwkThumbprint(jwk);
  const body = Buffer.from(require("node:fs").readFileSync(0, "utf8"), "base64");
  const [h, , s] = (await new jose.CompactSign(body)
    .setProtectedHeader({ alg: "EdDSA", kid }).sign(privateKey)).split(".");
  console.log(JSON.stringify({ jwk: { ...jwk, kid }, signature: `${h}..${s}` }));
})();
"""


def run_node(script: str, stdin: str) -> dict[str, object]:
    node = node_package()
    result = subprocess.run(
        [node, "-e", script, str(PACKAGE)],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=PACKAGE,
        timeout=60,
        check=True,
    )
    return dict(json.loads(result.stdout))


def python_signature(key: OKPKey, body: bytes) -> str:
    """Central's form: compact JWS, detached payload, header {alg: EdDSA, kid: thumbprint}."""
    compact = jws.serialize_compact(
        {"alg": "EdDSA", "kid": key.thumbprint()}, body, key, algorithms=["EdDSA"]
    )
    header, _, signature = compact.split(".")
    return f"{header}..{signature}"


def verify_in_node(jwks: dict[str, object], body: bytes, signature: str) -> dict[str, object]:
    import base64

    return run_node(VERIFY_JS, json.dumps([jwks, base64.b64encode(body).decode(), signature]))


def test_interop__signed_in_python__verifies_in_node() -> None:
    # Given a key and a document signed with joserfc the way central signs
    key = OKPKey.generate_key("Ed25519")
    jwks = {"keys": [{**key.as_dict(private=False), "kid": key.thumbprint()}]}
    signature = python_signature(key, BODY)
    # When the Node package verifies it / Then it passes, with the key id in the header
    result = verify_in_node(jwks, BODY, signature)
    assert result == {"ok": True, "header": {"alg": "EdDSA", "kid": key.thumbprint()}}


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda body: body.replace(b"3", b"4"), id="one-byte-changed"),
        pytest.param(lambda body: body + b" ", id="trailing-space"),
        pytest.param(
            lambda body: json.dumps(json.loads(body)).encode() + b"\n", id="re-serialised"
        ),
    ],
)
def test_interop__python_signature_over_other_bytes__refused_in_node(change: object) -> None:
    # Given a Python signature and a body that is not the exact signed bytes
    key = OKPKey.generate_key("Ed25519")
    jwks = {"keys": [{**key.as_dict(private=False), "kid": key.thumbprint()}]}
    signature = python_signature(key, BODY)
    assert callable(change)
    # When Node verifies / Then it refuses
    result = verify_in_node(jwks, change(BODY), signature)
    assert result["ok"] is False
    assert "does not verify" in str(result["error"])


def test_interop__signed_in_node__verifies_in_python() -> None:
    # Given a document signed by the Node package's library (jose)
    import base64

    signed = run_node(SIGN_JS, base64.b64encode(BODY).decode())
    jwk = dict(signed["jwk"])  # type: ignore[call-overload]
    key = OKPKey.import_key(jwk)
    signature = str(signed["signature"])
    _header, empty, _ = signature.split(".")
    assert empty == ""
    # When joserfc verifies it with the detached payload / Then it passes
    verified = jws.deserialize_compact(signature, key, algorithms=["EdDSA"], payload=BODY)
    assert verified.headers() == {"alg": "EdDSA", "kid": key.thumbprint()}
    assert jwk["kid"] == key.thumbprint()
    # And another body is refused
    with pytest.raises(BadSignatureError):
        jws.deserialize_compact(signature, key, algorithms=["EdDSA"], payload=BODY + b" ")


def test_interop__signed_by_centrals_signer__verifies_in_node() -> None:
    # Given a document signed by central's own code (policies.signatures)
    from policies.signatures import sign_detached

    key = OKPKey.generate_key("Ed25519", private=True)
    jwks = {"keys": [{**key.as_dict(private=False), "kid": key.thumbprint()}]}
    signature = sign_detached(BODY, key)
    # When the Node package verifies it / Then it passes; a changed byte does not
    assert verify_in_node(jwks, BODY, signature)["ok"] is True
    assert verify_in_node(jwks, BODY.replace(b"billing", b"billinG"), signature)["ok"] is False


def test_interop__signed_in_node__verifies_with_the_python_consumers_verifier() -> None:
    # Given a document signed in Node / When the Python consumers' verifier checks it
    import base64

    from policies.signatures import SignatureError, verify_detached

    signed = run_node(SIGN_JS, base64.b64encode(BODY).decode())
    jwks = {"keys": [signed["jwk"]]}
    signature = str(signed["signature"])
    # Then it passes, and another body is refused
    verify_detached(BODY, signature, jwks)
    with pytest.raises(SignatureError):
        verify_detached(BODY + b"\n", signature, jwks)
