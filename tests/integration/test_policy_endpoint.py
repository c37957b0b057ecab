"""The policy endpoint consumers poll: tokens, ETag/304 without queries, Redis, publishing."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
import redis
from django.contrib.auth.models import Group, User
from django.test import Client
from django.utils import timezone

from policies import services, store
from policies.actors import Actor
from policies.documents import etag_for
from policies.models import Api, AuditEvent, ServiceToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(api: Api, actor: Actor) -> tuple[ServiceToken, str]:
    return services.issue_service_token(actor=actor, name="billing-web", apis=[api])


@pytest.fixture
def secret(token: tuple[ServiceToken, str]) -> str:
    return token[1]


def _get(client: Client, path: str, secret: str | None, **headers: str):  # type: ignore[no-untyped-def]
    if secret is not None:
        headers["Authorization"] = f"Bearer {secret}"
    return client.get(path, headers=headers)


def test_issue_token__secret__prefixed_shown_once_stored_hashed(
    token: tuple[ServiceToken, str],
) -> None:
    stored, secret = token
    assert secret.startswith("cors_")
    assert len(secret) >= len("cors_") + 43  # 32 random bytes, base64url
    assert secret not in (stored.digest, stored.prefix)
    assert not ServiceToken.objects.filter(digest=secret).exists()
    assert stored.prefix == secret[:9]


def test_get_policy__valid_token__document_etag_no_cache(
    client: Client, use_redis: redis.Redis, secret: str
) -> None:
    response = _get(client, "/api/v1/policies/billing", secret)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-cache"
    assert response["ETag"].startswith('"')
    document = json.loads(response.content)
    assert (document["schema"], document["api"], document["version"]) == (1, "billing", 1)
    assert document["origins"]["exact"] == ["https://app.example.com"]


def test_get_policy__matching_etag__304_without_database_queries(
    client: Client, use_redis: redis.Redis, secret: str, django_assert_num_queries, settings
) -> None:
    # Given a first poll (caches the token, the document and the last-use stamp), and a
    # re-check interval no slow machine can outlast between two requests
    settings.CORSADMIN_DB_CHECK_SECONDS = 60
    etag = _get(client, "/api/v1/policies/billing", secret)["ETag"]
    # When the consumer polls again with the ETag
    with django_assert_num_queries(0):
        response = _get(client, "/api/v1/policies/billing", secret, If_None_Match=etag)
    # Then 304, no body
    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag


def test_get_policy__cached_document__200_without_database_queries(
    client: Client, use_redis: redis.Redis, secret: str, django_assert_num_queries, settings
) -> None:
    settings.CORSADMIN_DB_CHECK_SECONDS = 60  # (as above: the warm path within the interval)
    first = _get(client, "/api/v1/policies/billing", secret)
    with django_assert_num_queries(0):
        second = _get(client, "/api/v1/policies/billing", secret)
    assert second.status_code == 200
    assert second.content == first.content


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer cors_wrong", "Bearer nonsense", "Basic dXNlcjpwdw==", "Bearer "],
    ids=["missing", "wrong", "unknown-prefix", "basic", "empty"],
)
def test_get_policy__bad_credentials__401_with_www_authenticate(
    client: Client, use_redis: redis.Redis, secret: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get("/api/v1/policies/billing", headers=headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="corsadmin"'


def test_get_policy__expired_token__401(
    client: Client, use_redis: redis.Redis, api: Api, actor: Actor
) -> None:
    token, secret = services.issue_service_token(
        actor=actor, name="t", apis=[api], expires_at=timezone.now() + timedelta(hours=1)
    )
    ServiceToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(1))
    assert _get(client, "/api/v1/policies/billing", secret).status_code == 401


def test_get_policy__revoked_token__401_at_once_even_when_cached(
    client: Client, use_redis: redis.Redis, token: tuple[ServiceToken, str], actor: Actor
) -> None:
    # Given the token was just used (so it is cached in Redis)
    stored, secret = token
    assert _get(client, "/api/v1/policies/billing", secret).status_code == 200
    # When it is revoked
    services.revoke_service_token(actor=actor, token=stored, comment="leaked")
    # Then the very next request is refused, and the revocation is audited
    assert _get(client, "/api/v1/policies/billing", secret).status_code == 401
    event = AuditEvent.objects.order_by("-sequence").first()
    assert event is not None
    assert (event.action, event.comment) == ("token.revoked", "leaked")


def test_get_policy__api_outside_scope_or_missing__same_404(
    client: Client, use_redis: redis.Redis, secret: str, actor: Actor, team: Group
) -> None:
    services.create_api(actor=actor, slug="other", name="Other", team=team)
    not_mine = _get(client, "/api/v1/policies/other", secret)
    missing = _get(client, "/api/v1/policies/nope", secret)
    assert not_mine.status_code == missing.status_code == 404
    assert "other" in not_mine.json()["detail"]


def test_get_policy__api_deleted_and_slug_reused_by_other_team__404_even_when_cached(
    client: Client,
    use_redis: redis.Redis,
    token: tuple[ServiceToken, str],
    actor: Actor,
    api: Api,
    outsider: User,
    other_team: Group,
) -> None:
    # Given the token for payments' billing was just used (so its scope is cached in Redis)
    _, secret = token
    assert _get(client, "/api/v1/policies/billing", secret).status_code == 200
    # When billing is deleted and another team creates an API with the same slug
    services.delete_api(actor=actor, api=api)
    services.create_api(
        actor=Actor.for_user(outsider), slug="billing", name="Search billing", team=other_team
    )
    # Then the old token cannot read the other team's policy
    assert _get(client, "/api/v1/policies/billing", secret).status_code == 404


def test_get_policy__after_write__new_version_at_once(
    client: Client,
    use_redis: redis.Redis,
    secret: str,
    api: Api,
    actor: Actor,
    django_capture_on_commit_callbacks,
) -> None:
    # Given a consumer holding version 1
    etag = _get(client, "/api/v1/policies/billing", secret)["ETag"]
    # When a change commits
    with django_capture_on_commit_callbacks(execute=True):
        services.add_origin(actor=actor, api=api, value="https://new.example.com")
    # Then the very next poll gets version 2 (read-your-writes through Redis)
    response = _get(client, "/api/v1/policies/billing", secret, If_None_Match=etag)
    assert response.status_code == 200
    assert json.loads(response.content)["version"] == 2


def test_get_policy__redis_flushed__rebuilt_on_demand(
    client: Client, use_redis: redis.Redis, secret: str
) -> None:
    first = _get(client, "/api/v1/policies/billing", secret)
    use_redis.flushdb()
    second = _get(client, "/api/v1/policies/billing", secret)
    assert second.status_code == 200
    assert second["ETag"] == first["ETag"]
    assert store.get_document("billing") is not None


def test_get_policy__redis_down__served_from_database_and_logged(
    client: Client, settings, secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Given central configured with a Redis nobody listens on
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = _get(client, "/api/v1/policies/billing", secret)
    assert response.status_code == 200
    assert json.loads(response.content)["api"] == "billing"
    assert "redis unavailable" in caplog.text


def test_list_policies__token_for_two_apis__both_documents_with_etags(
    client: Client, use_redis: redis.Redis, api: Api, actor: Actor, team: Group
) -> None:
    second = services.create_api(actor=actor, slug="search", name="Search", team=team)
    _, secret = services.issue_service_token(actor=actor, name="both", apis=[api, second])
    response = _get(client, "/api/v1/policies", secret)
    assert response.status_code == 200
    body = json.loads(response.content)
    assert [entry["document"]["api"] for entry in body["policies"]] == ["billing", "search"]
    assert all(entry["etag"].startswith('"') for entry in body["policies"])
    again = _get(client, "/api/v1/policies", secret, If_None_Match=response["ETag"])
    assert again.status_code == 304


def test_get_policy__over_rate__429_with_retry_after(
    client: Client, use_redis: redis.Redis, secret: str, settings
) -> None:
    # Given a limit of 3 polls a minute per token
    settings.CORSADMIN_POLICY_RATE = "3/minute"
    # When the token polls 5 times
    codes = [_get(client, "/api/v1/policies/billing", secret).status_code for _ in range(4)]
    limited = _get(client, "/api/v1/policies/billing", secret)
    # Then the 4th and 5th are refused with a Retry-After
    assert codes == [200, 200, 200, 429]
    assert int(limited["Retry-After"]) > 0


def test_get_policy__over_rate_with_redis_down__429_from_the_process_limiter(
    client: Client, settings, secret: str
) -> None:
    # Given Redis is unreachable and a limit of 2 polls a minute
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.CORSADMIN_POLICY_RATE = "2/minute"
    # When the token polls 3 times
    codes = [_get(client, "/api/v1/policies/billing", secret).status_code for _ in range(3)]
    # Then the process's own limiter refuses the third
    assert codes == [200, 200, 429]


def test_write__committed__message_published_to_subscribers(
    use_redis: redis.Redis, api: Api, actor: Actor, django_capture_on_commit_callbacks
) -> None:
    # Given a real subscriber on the channel
    pubsub = use_redis.pubsub()
    pubsub.subscribe(store.channel())
    assert pubsub.get_message(timeout=2)["type"] == "subscribe"  # type: ignore[index]
    # When a change commits
    with django_capture_on_commit_callbacks(execute=True):
        services.add_origin(actor=actor, api=api, value="https://pub.example.com")
    # Then the subscriber hears which API, which version and its ETag
    message = pubsub.get_message(timeout=2)
    assert message is not None
    payload = json.loads(message["data"])
    assert payload["api"] == "billing"
    assert payload["version"] == 2
    assert payload["etag"] == etag_for(store.get_document("billing")[0])  # type: ignore[index]
    pubsub.close()


def test_last_used_at__many_polls__written_once_a_minute(
    client: Client, use_redis: redis.Redis, token: tuple[ServiceToken, str]
) -> None:
    stored, secret = token
    for _ in range(5):
        _get(client, "/api/v1/policies/billing", secret)
    stored.refresh_from_db()
    first = stored.last_used_at
    assert first is not None
    _get(client, "/api/v1/policies/billing", secret)
    stored.refresh_from_db()
    assert stored.last_used_at == first


def test_issue_token__outsider__not_permitted(api: Api, outsider: User) -> None:
    with pytest.raises(services.NotPermitted):
        services.issue_service_token(actor=Actor.for_user(outsider), name="x", apis=[api])


def test_issue_token__no_name_no_apis__field_errors(actor: Actor) -> None:
    with pytest.raises(services.ValidationFailed) as failure:
        services.issue_service_token(actor=actor, name=" ", apis=[])
    assert set(failure.value.errors) == {"name", "apis"}


def test_subscriber_thread__receives_while_serving(use_redis: redis.Redis) -> None:
    # A publish with no listener must not fail; with one, it arrives.
    received: list[bytes] = []
    pubsub = use_redis.pubsub()
    pubsub.subscribe(store.channel())
    pubsub.get_message(timeout=2)
    done = threading.Event()

    def listen() -> None:
        message = pubsub.get_message(timeout=3)
        if message:
            received.append(message["data"])
        done.set()

    thread = threading.Thread(target=listen)
    thread.start()
    assert store.publish({"api": "x", "version": 1, "etag": '"e"'})
    done.wait(5)
    thread.join()
    pubsub.close()
    assert json.loads(received[0]) == {"api": "x", "etag": '"e"', "version": 1}


def test_get_policy__redis_cache_down_too__still_served(
    client: Client, settings, secret: str
) -> None:
    # Given central's Django cache (throttles, last-use stamps) is a Redis that is gone
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.CACHES = {
        "default": {
            "BACKEND": "corsadmin.cache.ResilientRedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    # When a consumer polls, Then it still gets its document (cache errors are misses)
    response = _get(client, "/api/v1/policies/billing", secret)
    assert response.status_code == 200
    assert json.loads(response.content)["api"] == "billing"


def test_resilient_cache__redis_gone__misses_not_errors() -> None:
    from corsadmin.cache import ResilientRedisCache

    cache = ResilientRedisCache(
        "redis://127.0.0.1:1/0", {"OPTIONS": {"socket_connect_timeout": 0.2}}
    )
    assert cache.get("k", default="fallback") == "fallback"
    assert cache.get("k") is None
    assert cache.add("k", 1) is False
    assert cache.get_many(["a", "b"]) == {}
    cache.set("k", 1)  # no exception


def test_revoke__redis_down_and_an_old_valid_entry_in_redis__401_at_once(
    client: Client,
    settings,
    redis_client: redis.Redis,
    token: tuple[ServiceToken, str],
    actor: Actor,
) -> None:
    # Given the token was just used, and Redis holds a "valid" entry for it (as a central of
    # an older release cached it), and then Redis becomes unreachable
    stored, secret = token
    from policies.secrets import digest_of

    settings.REDIS_URL = _redis_url(redis_client)
    assert _get(client, "/api/v1/policies/billing", secret).status_code == 200
    redis_client.set(
        f"{settings.CORSADMIN_REDIS_PREFIX}:token:{digest_of(secret)}",
        json.dumps({"id": stored.pk, "name": stored.name, "apis": ["billing"]}),
    )
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    # When the token is revoked
    services.revoke_service_token(actor=actor, token=stored)
    # Then it is refused at once, with Redis down and after Redis is back
    assert _get(client, "/api/v1/policies/billing", secret).status_code == 401
    settings.REDIS_URL = _redis_url(redis_client)
    assert _get(client, "/api/v1/policies/billing", secret).status_code == 401


def _redis_url(client: redis.Redis) -> str:
    kwargs = client.connection_pool.connection_kwargs
    return f"redis://{kwargs['host']}:{kwargs['port']}/{kwargs.get('db', 0)}"


def test_token_events__token_spans_two_teams__each_team_sees_only_its_api_names(
    api: Api, other_team: Group
) -> None:
    # Given a superuser issues one token for APIs of two teams
    root = User.objects.create_superuser("root2", password="pw-root-12345")
    other = services.create_api(
        actor=Actor.for_user(root), slug="secret-project", name="S", team=other_team
    )
    token, _ = services.issue_service_token(actor=Actor.for_user(root), name="t", apis=[api, other])
    services.revoke_service_token(actor=Actor.for_user(root), token=token)
    # Then the events about billing name billing only, and count the other team's API
    for action in ("token.issued", "token.revoked"):
        event = AuditEvent.objects.get(action=action, api_slug="billing")
        assert event.after["apis"] == ["billing"]
        assert event.after["other_teams_apis"] == 1
        assert "secret-project" not in str(event.before) + str(event.after)
    revoked = AuditEvent.objects.get(action="token.revoked", api_slug="billing")
    assert {"field": "revoked_at", "before": None, "after": revoked.after["revoked_at"]} in (
        revoked.diff
    )
