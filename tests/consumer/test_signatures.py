"""Signed documents: verified once on arrival, from every source; bad ones refused and logged."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from policies.consumer import client as client_module
from policies.consumer.client import PolicyClient
from policies.consumer.config import ConfigurationError
from policies.consumer.signatures import SignatureError, load_keys, verify
from tests.consumer.conftest import (
    EVIL,
    KEY,
    ORIGIN,
    OTHER_KEY,
    PUBLIC_JWKS,
    FakeCentral,
    body_of,
    closed_port_url,
    cors_get,
    document,
    jwks,
    sign,
    signed_entry,
    wait_for,
)

ACAO = "Access-Control-Allow-Origin"


def test_verify__good_signature__key_id_returned() -> None:
    body = body_of(document())
    assert verify(body, sign(body), load_keys(PUBLIC_JWKS)) == KEY.thumbprint()


@pytest.mark.parametrize("signature", [None, ""])
def test_verify__no_signature__refused_as_not_signed(signature: str | None) -> None:
    with pytest.raises(SignatureError, match="the document is not signed"):
        verify(b"{}", signature, load_keys(PUBLIC_JWKS))


def test_verify__other_key_or_changed_body__refused() -> None:
    # (The contract's other refusals are policies.signatures' own tests, tests/unit.)
    body = body_of(document())
    keys = load_keys(PUBLIC_JWKS)
    with pytest.raises(SignatureError, match="is not in the key set"):
        verify(body, sign(body, OTHER_KEY), keys)
    # The body changed by one byte (a space central never writes): the signature fails.
    with pytest.raises(SignatureError, match="does not verify"):
        verify(body + b" ", sign(body), keys)


def test_load_keys__no_kid__named_by_its_thumbprint() -> None:
    public = {k: v for k, v in KEY.as_dict(private=False).items() if k != "kid"}
    keys = load_keys({"keys": [public]})
    assert keys["keys"][0]["kid"] == KEY.thumbprint()


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ("{not json", "not JSON"),
        ('{"keys": []}', 'no "keys" list'),
        ({"keys": [{"kty": "RSA", "n": "x", "e": "AQAB"}]}, "not an Ed25519"),
        ({"keys": [KEY.as_dict(private=True)]}, "is a private key"),
        ("/nonexistent/keys.json", "unreadable"),
    ],
)
def test_load_keys__bad_jwks__configuration_error_naming_the_setting(spec: Any, why: str) -> None:
    with pytest.raises(ConfigurationError, match=f"public_keys: .*{why}"):
        PolicyClient.configure(url="http://x", token="cors_t", apis="billing", public_keys=spec)


def test_load_keys__file_path__read(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(jwks(KEY, OTHER_KEY)))
    assert {key["kid"] for key in load_keys(str(path))["keys"]} == {
        KEY.thumbprint(),
        OTHER_KEY.thumbprint(),
    }


@pytest.mark.parametrize(
    ("signature", "why"),
    [
        (None, "not signed"),
        ("other-key", "is not in the key set"),
        ("wrong-body", "does not verify"),
    ],
)
def test_central__bad_signature__refused_logged_with_source_last_good_kept(
    central: FakeCentral,
    make_client: Any,
    caplog: pytest.LogCaptureFixture,
    signature: str | None,
    why: str,
) -> None:
    # Given a client holding v1
    client = make_client(central.url)
    client.ensure_started()
    # When central (or something between) serves a widened v2 with a bad signature
    widened = body_of(document(version=2, origins={"exact": [EVIL]}))
    bad = {
        None: None,
        "other-key": sign(widened, OTHER_KEY),
        "wrong-body": sign(body_of(document(version=2))),
    }[signature]
    central.serve_raw("billing", widened, signature=bad)
    with caplog.at_level(logging.ERROR, logger="policies.consumer"):
        assert not client.refresh()
    # Then it is refused and logged with its source; v1 still decides
    assert "from central: bad signature: the" in caplog.text
    assert why in client.health()["apis"]["billing"]["last_error"]
    assert client.held("billing").policy.version == 1
    assert ACAO not in cors_get(client, EVIL)


def test_cache_file__tampered__refused_logged_bootstrap_used_instead(
    make_client: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a cache file someone widened (the signature no longer matches), and a bootstrap
    cache = tmp_path / "policies.json"
    entry = signed_entry(document(version=4))
    entry["document"] = body_of(document(version=4, origins={"exact": [EVIL]})).decode()
    cache.write_text(json.dumps([entry]))
    bootstrap = tmp_path / "bootstrap.json"
    bootstrap.write_text(json.dumps([signed_entry(document(version=2))]))
    # When the consumer starts with central down
    with caplog.at_level(logging.ERROR, logger="policies.consumer"):
        client = make_client(
            closed_port_url(), cache_file=cache, bootstrap_file=bootstrap, startup_wait=0
        )
        client.ensure_started()
    # Then the cache file's copy is refused (logged as such) and the bootstrap one applies
    assert "from cache-file: bad signature" in caplog.text
    assert client.held("billing").source == "bootstrap"
    assert client.held("billing").policy.version == 2
    assert ACAO not in cors_get(client, EVIL)


def test_bootstrap__unsigned_documents__refused(
    make_client: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a bootstrap file of plain (unsigned) documents
    bootstrap = tmp_path / "bootstrap.json"
    bootstrap.write_text(json.dumps([document(origins={"exact": [EVIL]})]))
    with caplog.at_level(logging.ERROR, logger="policies.consumer"):
        client = make_client(None, bootstrap_file=bootstrap)
        client.ensure_started()
    # Then nothing is applied: refused with the source named
    assert "from bootstrap: bad signature: the document is not signed" in caplog.text
    assert client.held("billing") is None
    assert ACAO not in cors_get(client, EVIL)


def test_verification_off__unsigned_accepted__logged_loudly_at_start(
    central: FakeCentral, make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Given CORSADMIN_VERIFY_SIGNATURES=false and no keys
    central.serve_raw("billing", body_of(document()), signature=None)
    with caplog.at_level(logging.WARNING, logger="policies.consumer"):
        client = make_client(central.url, verify_signatures=False, public_keys=None)
    # Then a warning at start says so, unsigned documents apply, and health tells it
    assert "SIGNATURE VERIFICATION IS OFF" in caplog.text
    assert cors_get(client)[ACAO] == ORIGIN
    assert client.health()["signatures"] == "NOT VERIFIED"


def test_verification__once_per_document__never_per_request(
    central: FakeCentral, make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[bytes] = []
    real = client_module.verify

    def counting(body: bytes, signature: str | None, keys: Any) -> str:
        calls.append(body)
        return real(body, signature, keys)

    monkeypatch.setattr(client_module, "verify", counting)
    # Given a client that applied central's document
    client = make_client(central.url)
    # When many requests are decided and central confirms the same document again (304)
    for _ in range(200):
        cors_get(client)
        cors_get(client, EVIL)
    assert client.refresh()
    # Then the document was verified exactly once
    assert len(calls) == 1


def test_trust_on_first_use__opt_in__keys_fetched_from_central(
    central: FakeCentral, make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Given no pinned keys but the explicit opt-in
    with caplog.at_level(logging.WARNING, logger="policies.consumer"):
        client = make_client(central.url, public_keys=None, fetch_public_keys=True)
        # Then central's JWKS is fetched, said in the log, and documents verify against it
        assert cors_get(client)[ACAO] == ORIGIN
    assert "trusting central's public keys on first use" in caplog.text
    assert any(path == "/api/v1/keys" for _, path, _, _ in central.requests)
    wait_for(lambda: client.keys is not None)
