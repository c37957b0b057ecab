"""Signed documents, Redis as an untrusted cache, the transactional outbox (real Redis)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
import redis
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.test import Client

from policies import outbox, services, signing, store
from policies.actors import Actor
from policies.documents import document_bytes, etag_for
from policies.models import Api, OutboxKind, OutboxMessage, ServiceToken
from policies.signatures import verify_detached

pytestmark = pytest.mark.django_db

DOWN = "redis://127.0.0.1:1/0"


@pytest.fixture
def secret(api: Api, actor: Actor) -> str:
    return services.issue_service_token(actor=actor, name="billing-web", apis=[api])[1]


def _get(client: Client, path: str, secret: str | None = None, **headers: str) -> Any:
    if secret:
        headers["Authorization"] = f"Bearer {secret}"
    return client.get(path, headers=headers)


def _jwks(client: Client) -> dict[str, Any]:
    response = client.get("/api/v1/keys")
    assert response.status_code == 200
    return dict(json.loads(response.content))


def _key(settings: Any) -> str:
    return f"{settings.CORSADMIN_REDIS_PREFIX}:doc:billing"


# --- signing and keys -------------------------------------------------------------------


def test_keys__no_authentication__jwks_of_okp_ed25519_keys_cacheable(client: Client) -> None:
    # When anyone asks for the keys
    response = client.get("/api/v1/keys")
    # Then a JWKS (RFC 7517 / 8037) comes back, cacheable, with no private part
    assert response.status_code == 200
    assert response["Content-Type"] == "application/jwk-set+json"
    assert "max-age" in response["Cache-Control"]
    (key,) = json.loads(response.content)["keys"]
    assert set(key) == {"kty", "crv", "x", "kid", "alg", "use"}
    assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("OKP", "Ed25519", "EdDSA", "sig")
    assert key["kid"] == signing.current_kid()


def test_get_policy__200__signature_header_verifies_over_the_exact_body(
    client: Client, use_redis: redis.Redis, secret: str
) -> None:
    # When a consumer polls (cold, then warm from Redis)
    for _ in range(2):
        response = _get(client, "/api/v1/policies/billing", secret)
        # Then the signature verifies over exactly the bytes served, with the published keys
        assert response.status_code == 200
        header = verify_detached(response.content, response["Corsadmin-Signature"], _jwks(client))
        assert header == {"alg": "EdDSA", "kid": signing.current_kid()}
        assert response["ETag"] == etag_for(response.content)


def test_list_policies__each_document_with_its_signature(
    client: Client, use_redis: redis.Redis, secret: str
) -> None:
    response = _get(client, "/api/v1/policies", secret)
    (entry,) = json.loads(response.content)["policies"]
    # The document's canonical serialisation gives back the signed bytes
    body = document_bytes(entry["document"])
    verify_detached(body, entry["signature"], _jwks(client))
    assert entry["etag"] == etag_for(body)


def test_redis__document_stored_with_signature_beside_body(
    use_redis: redis.Redis,
    api: Api,
    actor: Actor,
    settings: Any,
    django_capture_on_commit_callbacks,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        services.add_origin(actor=actor, api=api, value="https://new.example.com")
    held = use_redis.hgetall(_key(settings))
    assert set(held) == {b"body", b"signature", b"etag", b"version", b"api_id"}
    verify_detached(held[b"body"], held[b"signature"].decode(), signing.jwks())
    assert int(held[b"version"]) == json.loads(held[b"body"])["version"] == 2


def test_rotate_signing_key__new_key_signs_old_still_published(
    client: Client, settings: Any, tmp_path: Path, api: Api, secret: str
) -> None:
    # Given a key file of our own with one key, and a document signed with it
    settings.CORSADMIN_SIGNING_KEY_FILE = str(tmp_path / "keys.pem")
    call_command("rotate_signing_key")
    first = signing.current_kid()
    old = _get(client, "/api/v1/policies/billing", secret)
    # When the key is rotated
    call_command("rotate_signing_key")
    # Then the new key signs, both are published (newest first), and the old signature
    # still verifies
    assert signing.current_kid() != first
    jwks = _jwks(client)
    assert [k["kid"] for k in jwks["keys"]] == [signing.current_kid(), first]
    verify_detached(old.content, old["Corsadmin-Signature"], jwks)
    new = _get(client, "/api/v1/policies/billing", secret)
    assert verify_detached(new.content, new["Corsadmin-Signature"], jwks)["kid"] != first
    assert (tmp_path / "keys.pem").stat().st_mode & 0o777 == 0o600


def test_rotate_signing_key__if_missing_and_file_exists__unchanged(settings: Any) -> None:
    before = Path(settings.CORSADMIN_SIGNING_KEY_FILE).read_bytes()
    call_command("rotate_signing_key", "--if-missing")
    assert Path(settings.CORSADMIN_SIGNING_KEY_FILE).read_bytes() == before


def test_signing__key_file_not_a_key__clear_error(settings: Any, tmp_path: Path) -> None:
    (tmp_path / "bad.pem").write_text("hello")
    settings.CORSADMIN_SIGNING_KEY_FILE = str(tmp_path / "bad.pem")
    with pytest.raises(signing.SigningKeyError, match="no PEM private key"):
        signing.keyring()
    with pytest.raises(CommandError, match="no PEM private key"):
        call_command("rotate_signing_key")
    assert (tmp_path / "bad.pem").read_text() == "hello"


def test_export_policy__two_apis__signed_bootstrap_file(
    api: Api, actor: Actor, tmp_path: Path
) -> None:
    # Given two APIs
    services.create_api(actor=actor, slug="search", name="Search", team=api.team)
    out = tmp_path / "bootstrap.json"
    # When they are exported
    call_command("export_policy", "billing", "search", "--out", str(out))
    # Then the file is a list of {document, signature}, each verifying over the string's bytes
    entries = json.loads(out.read_text())
    assert [json.loads(e["document"])["api"] for e in entries] == ["billing", "search"]
    for entry in entries:
        assert set(entry) == {"document", "signature"}
        verify_detached(entry["document"].encode(), entry["signature"], signing.jwks())


def test_export_policy__unknown_slug__error_and_no_file(api: Api, tmp_path: Path) -> None:
    out = tmp_path / "bootstrap.json"
    with pytest.raises(CommandError, match="no such API: nope"):
        call_command("export_policy", "billing", "nope", "--out", str(out))
    assert not out.exists()


# --- Redis is not trusted ---------------------------------------------------------------


def test_forged_document_in_redis__refused_logged_database_version_served(
    client: Client,
    use_redis: redis.Redis,
    secret: str,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given central has served billing v1 (so Redis holds it)
    genuine = _get(client, "/api/v1/policies/billing", secret)
    # When someone with access to Redis writes a "newer" document with an extra origin
    forged = json.loads(genuine.content)
    forged["version"] = 99999
    forged["origins"]["exact"].append("https://evil.example")
    body = document_bytes(forged)
    use_redis.hset(
        _key(settings),
        mapping={"body": body, "etag": etag_for(body), "version": 99999, "signature": "x..y"},
    )
    # Then central serves the database's version, and says why it refused Redis's
    with caplog.at_level(logging.WARNING, logger="policies.publishing"):
        served = _get(client, "/api/v1/policies/billing", secret)
    assert served.status_code == 200
    assert served.content == genuine.content
    assert "refused the document of 'billing' from redis" in caplog.text
    # And the forgery was replaced in Redis
    assert use_redis.hget(_key(settings), "body") == genuine.content


def test_forged_newer_version_in_redis__legitimate_update_replaces_it(
    client: Client,
    use_redis: redis.Redis,
    api: Api,
    actor: Actor,
    secret: str,
    settings: Any,
    django_capture_on_commit_callbacks,
) -> None:
    # Given Redis holds an unsigned "version 99999" of billing
    body = b'{"api":"billing","version":99999}'
    use_redis.hset(_key(settings), mapping={"body": body, "version": 99999, "api_id": 10**9})
    # When a person removes nothing but adds an origin (v2)
    with django_capture_on_commit_callbacks(execute=True):
        services.add_origin(actor=actor, api=api, value="https://new.example.com")
    # Then Redis holds v2, signed
    held = store.get_document("billing")
    assert held is not None
    assert json.loads(held[0])["version"] == 2
    verify_detached(held[0], held[1], signing.jwks())


def test_replayed_older_signed_document__refused_current_served(
    client: Client,
    use_redis: redis.Redis,
    api: Api,
    actor: Actor,
    secret: str,
    settings: Any,
    django_capture_on_commit_callbacks,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given v1 as Redis held it (genuinely signed), then a change to v2
    _get(client, "/api/v1/policies/billing", secret)
    v1 = use_redis.hgetall(_key(settings))
    with django_capture_on_commit_callbacks(execute=True):
        services.remove_origin(actor=actor, rule=api.origins.get(), comment="gone")
    # When Redis is made to hold v1 again
    use_redis.delete(_key(settings))
    use_redis.hset(_key(settings), mapping=v1)
    # Then central serves v2 (without the removed origin), saying why
    with caplog.at_level(logging.WARNING, logger="policies.publishing"):
        served = json.loads(_get(client, "/api/v1/policies/billing", secret).content)
    assert served["version"] == 2
    assert served["origins"]["exact"] == []
    assert "it is version 1" in caplog.text


# --- the outbox -------------------------------------------------------------------------


def test_new_version__outbox_message_in_the_same_transaction(api: Api, actor: Actor) -> None:
    # When a change is rolled back, Then so is its outbox message
    before = OutboxMessage.objects.count()
    inside: list[int] = []

    def change_then_fail() -> None:
        with transaction.atomic():
            services.add_origin(actor=actor, api=api, value="https://new.example.com")
            inside.append(OutboxMessage.objects.count())
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        change_then_fail()
    assert inside == [before + 1]
    assert OutboxMessage.objects.count() == before
    # And a committed one has its message, naming the version
    services.add_origin(actor=actor, api=api, value="https://new.example.com")
    message = OutboxMessage.objects.order_by("-id").first()
    assert message is not None
    assert (message.kind, message.slug, message.version) == (OutboxKind.DOCUMENT, "billing", 2)


def test_revocation__outbox_message_with_the_digest(api: Api, actor: Actor) -> None:
    token, _ = services.issue_service_token(actor=actor, name="t", apis=[api])
    services.revoke_service_token(actor=actor, token=token)
    message = OutboxMessage.objects.order_by("-id").first()
    assert message is not None
    assert (message.kind, message.digests) == (OutboxKind.TOKENS, [token.digest])


def test_outbox__change_while_redis_down__retried_with_backoff_then_delivered(
    client: Client,
    settings: Any,
    redis_client: redis.Redis,
    api: Api,
    actor: Actor,
    secret: str,
    django_capture_on_commit_callbacks,
) -> None:
    # Given Redis holds billing v1
    url = _url(redis_client)
    settings.REDIS_URL = url
    _get(client, "/api/v1/policies/billing", secret)
    # When an origin is removed while Redis is unreachable
    settings.REDIS_URL = DOWN
    with django_capture_on_commit_callbacks(execute=True):
        services.remove_origin(actor=actor, rule=api.origins.get(), comment="gone")
    # Then the message waits, with a retry scheduled
    message = OutboxMessage.objects.get(kind=OutboxKind.DOCUMENT, version=2)
    assert message.delivered_at is None
    assert message.attempts == 1
    assert message.next_attempt_at > message.created_at
    assert "redis" in message.last_error
    # And when Redis is back and the retry is due, the sweep delivers it and marks it done
    settings.REDIS_URL = url
    assert outbox.deliver_pending(now=message.next_attempt_at) >= 1
    message.refresh_from_db()
    assert message.delivered_at is not None
    held = store.get_document("billing")
    assert held is not None
    assert json.loads(held[0])["version"] == 2
    assert json.loads(held[0])["origins"]["exact"] == []


def test_outbox__backoff__doubles_up_to_two_seconds() -> None:
    assert [outbox.backoff(n) for n in range(1, 7)] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]


def test_outbox__no_redis_configured__messages_marked_done(api: Api, actor: Actor) -> None:
    services.add_origin(actor=actor, api=api, value="https://new.example.com")
    assert outbox.deliver_pending() >= 1
    assert not OutboxMessage.objects.filter(delivered_at=None).exists()


def test_deleted_api__outbox_drops_the_document(
    use_redis: redis.Redis,
    client: Client,
    api: Api,
    actor: Actor,
    secret: str,
    settings: Any,
    django_capture_on_commit_callbacks,
) -> None:
    _get(client, "/api/v1/policies/billing", secret)
    assert use_redis.exists(_key(settings))
    with django_capture_on_commit_callbacks(execute=True):
        services.delete_api(actor=actor, api=api)
    assert not use_redis.exists(_key(settings))
    deleted = OutboxMessage.objects.get(kind=OutboxKind.DELETED)
    assert (deleted.slug, deleted.delivered_at is not None) == ("billing", True)


def test_revoked_token__other_process_cache__refused_after_db_check_interval(
    client: Client, use_redis: redis.Redis, api: Api, actor: Actor, settings: Any
) -> None:
    # Given a token cached by this process, and a revocation this process did not make
    # (written straight to the database, as another process's would be)
    token, secret = services.issue_service_token(actor=actor, name="t", apis=[api])
    assert _get(client, "/api/v1/policies/billing", secret).status_code == 200
    ServiceToken.objects.filter(pk=token.pk).update(revoked_at=token.created_at)
    OutboxMessage.objects.create(
        kind=OutboxKind.TOKENS, digests=[token.digest], next_attempt_at=token.created_at
    )
    # When the process's knowledge of the revocation counter is past its age
    settings.CORSADMIN_DB_CHECK_SECONDS = 0
    # Then the token is refused
    assert _get(client, "/api/v1/policies/billing", secret).status_code == 401


def _url(client: redis.Redis) -> str:
    kwargs = client.connection_pool.connection_kwargs
    return f"redis://{kwargs['host']}:{kwargs['port']}/{kwargs.get('db', 0)}"


def test_key_removed_from_file__documents_it_signed_refused(
    client: Client, use_redis: redis.Redis, settings: Any, tmp_path: Path, secret: str
) -> None:
    # Given a document in Redis signed with key 1, then key 1 replaced by key 2 in the file
    settings.CORSADMIN_SIGNING_KEY_FILE = str(tmp_path / "keys.pem")
    call_command("rotate_signing_key")
    first = _get(client, "/api/v1/policies/billing", secret)
    (tmp_path / "keys.pem").unlink()
    call_command("rotate_signing_key")
    # When a consumer polls, Then the document it gets is signed with key 2 only
    served = _get(client, "/api/v1/policies/billing", secret)
    assert served.content == first.content
    assert served["Corsadmin-Signature"] != first["Corsadmin-Signature"]
    assert verify_detached(served.content, served["Corsadmin-Signature"], _jwks(client))
