"""Sharing through Redis (the real test Redis): one fetch per service, change notifications."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest
import redis

from tests.consumer.conftest import (
    EVIL,
    ORIGIN,
    REDIS_PREFIX,
    FakeCentral,
    body_of,
    closed_port_url,
    cors_get,
    document,
    etag_of,
    sign,
)

ACAO = "Access-Control-Allow-Origin"
CHANNEL = f"{REDIS_PREFIX}:policies"


def _url(client: redis.Redis) -> str:
    kwargs = client.connection_pool.connection_kwargs
    return f"redis://{kwargs['host']}:{kwargs['port']}/{kwargs.get('db', 0)}"


def _wait(predicate: Any, seconds: float = 3.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.005)
    raise AssertionError("timed out")


def test_shared_copy__second_process_starts_from_redis_without_fetching(
    central: FakeCentral, make_client: Any, redis_client: redis.Redis
) -> None:
    url = _url(redis_client)
    first = make_client(central.url, redis_url=url)
    first.ensure_started()
    assert (
        redis_client.hget(f"{REDIS_PREFIX}:consumer:billing", "etag")
        == first.held("billing").etag.encode()
    )
    second = make_client(central.url, redis_url=url)
    assert cors_get(second)[ACAO] == ORIGIN
    assert central.policy_gets() == 1
    assert second.health()["apis"]["billing"]["source"] == "redis"


def test_refresh__many_processes__one_fetch_per_interval(
    central: FakeCentral, make_client: Any, redis_client: redis.Redis
) -> None:
    url = _url(redis_client)
    clients = [make_client(central.url, redis_url=url, interval=10) for _ in range(5)]
    for client in clients:
        client.ensure_started()
    assert central.policy_gets() == 1
    central.publish(document(version=2))
    # Force the shared copy to look old: the next round is due for the whole service.
    redis_client.hset(f"{REDIS_PREFIX}:consumer:billing", "confirmed_at", "0")
    before = central.policy_gets()
    for client in clients:
        client.refresh()
    assert central.policy_gets() - before == 1
    # The others pick the new version from the shared copy on their next round.
    for client in clients:
        client.refresh()
    assert {client.held("billing").policy.version for client in clients} == {2}
    assert central.policy_gets() - before == 1


def test_pubsub__central_publishes__applies_from_centrals_redis_without_fetching(
    central: FakeCentral, make_client: Any, redis_client: redis.Redis
) -> None:
    client = make_client(central.url, redis_url=_url(redis_client), interval=60)
    client.ensure_started()
    _wait(lambda: redis_client.pubsub_numsub(CHANNEL)[0][1] >= 1)
    before = central.policy_gets()
    new = document(version=2, origins={"exact": [EVIL]})
    body = body_of(new)
    # What central does on commit: store the signed document, then publish.
    redis_client.hset(
        f"{REDIS_PREFIX}:doc:billing",
        mapping={"body": body, "etag": etag_of(body), "signature": sign(body)},
    )
    redis_client.publish(
        CHANNEL, json.dumps({"api": "billing", "version": 2, "etag": etag_of(body)})
    )
    _wait(lambda: client.held("billing").policy.version == 2)
    assert cors_get(client, EVIL)[ACAO] == EVIL
    assert central.policy_gets() == before
    assert client.health()["apis"]["billing"]["source"] == "pubsub"


def test_pubsub__document_not_in_redis__fetched_from_central(
    central: FakeCentral, make_client: Any, redis_client: redis.Redis
) -> None:
    client = make_client(central.url, redis_url=_url(redis_client), interval=60)
    client.ensure_started()
    _wait(lambda: redis_client.pubsub_numsub(CHANNEL)[0][1] >= 1)
    etag = central.publish(document(version=3))
    redis_client.publish(CHANNEL, json.dumps({"api": "billing", "version": 3, "etag": etag}))
    _wait(lambda: client.held("billing").policy.version == 3)
    assert central.policy_gets("billing") >= 1


def test_pubsub__other_api_or_garbage__ignored(
    central: FakeCentral, make_client: Any, redis_client: redis.Redis
) -> None:
    # Given a subscribed client
    client = make_client(central.url, redis_url=_url(redis_client), interval=60)
    client.ensure_started()
    _wait(lambda: redis_client.pubsub_numsub(CHANNEL)[0][1] >= 1)
    before = central.policy_gets()
    # When another API's change and garbage arrive, then a real change of billing
    redis_client.publish(CHANNEL, json.dumps({"api": "search", "version": 9, "etag": '"x"'}))
    redis_client.publish(CHANNEL, b"\xff not json")
    redis_client.publish(CHANNEL, json.dumps({"version": 3}))
    body = body_of(document(version=2, origins={"exact": [EVIL]}))
    redis_client.hset(
        f"{REDIS_PREFIX}:doc:billing",
        mapping={"body": body, "etag": etag_of(body), "signature": sign(body)},
    )
    redis_client.publish(CHANNEL, json.dumps({"api": "billing", "etag": etag_of(body)}))
    # Then the channel is read in order: once the real change applied, the earlier
    # messages were handled, and none of them made the client fetch from central
    _wait(lambda: client.held("billing").policy.version == 2)
    assert central.policy_gets() == before
    assert client.health()["apis"]["billing"]["last_error"] is None


def test_pubsub__malformed_document_in_redis__refused_last_good_kept(
    central: FakeCentral, make_client: Any, redis_client: redis.Redis
) -> None:
    client = make_client(central.url, redis_url=_url(redis_client), interval=60)
    client.ensure_started()
    _wait(lambda: redis_client.pubsub_numsub(CHANNEL)[0][1] >= 1)
    bad = body_of(document(version=2, schema=99))
    redis_client.hset(
        f"{REDIS_PREFIX}:doc:billing",
        mapping={"body": bad, "etag": etag_of(bad), "signature": sign(bad)},
    )
    central.serve_raw("billing", bad)
    redis_client.publish(CHANNEL, json.dumps({"api": "billing", "etag": etag_of(bad)}))
    _wait(lambda: "unknown schema" in (client.health()["apis"]["billing"]["last_error"] or ""))
    assert client.held("billing").policy.version == 1
    assert cors_get(client)[ACAO] == ORIGIN


def test_redis_down__polls_central_directly(central: FakeCentral, make_client: Any) -> None:
    dead = closed_port_url().replace("http://", "redis://") + "/0"
    client = make_client(central.url, redis_url=dead)
    assert cors_get(client)[ACAO] == ORIGIN
    central.publish(document(version=2))
    assert client.refresh()
    assert client.held("billing").policy.version == 2


def test_central_down__shared_copy_used_by_a_new_process(
    central: FakeCentral, make_client: Any, redis_client: redis.Redis
) -> None:
    url = _url(redis_client)
    make_client(central.url, redis_url=url).ensure_started()
    redis_client.hset(f"{REDIS_PREFIX}:consumer:billing", "confirmed_at", str(time.time() - 3600))
    late = make_client(closed_port_url(), redis_url=url)
    assert cors_get(late)[ACAO] == ORIGIN
    entry = late.health()["apis"]["billing"]
    assert entry["source"] == "redis"
    assert entry["stale"] is True


def test_shared_copy__carries_the_signature__tampered_copy_refused_with_its_source(
    central: FakeCentral,
    make_client: Any,
    redis_client: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given one process wrote the shared copy (with central's signature)
    url = _url(redis_client)
    make_client(central.url, redis_url=url).ensure_started()
    key = f"{REDIS_PREFIX}:consumer:billing"
    assert redis_client.hget(key, "signature")
    # When someone with access to Redis widens the document but cannot sign it
    forged = body_of(document(version=5, origins={"exact": [EVIL]}))
    redis_client.hset(key, mapping={"body": forged, "etag": '"forged"'})
    with caplog.at_level(logging.ERROR, logger="policies.consumer"):
        late = make_client(closed_port_url(), redis_url=url, startup_wait=0)
        late.ensure_started()
        _wait(lambda: late.health()["apis"]["billing"]["last_error"] is not None)
    # Then the next process refuses it, naming Redis as the source, and never allows EVIL
    assert "from redis: bad signature" in caplog.text
    assert late.held("billing") is None
    assert ACAO not in cors_get(late, EVIL)


def test_shared_copy__older_signed_version__not_applied_over_a_newer_one(
    central: FakeCentral, make_client: Any, redis_client: redis.Redis
) -> None:
    # Given a client holding v3 from central
    url = _url(redis_client)
    central.publish(document(version=3))
    client = make_client(central.url, redis_url=url)
    client.ensure_started()
    # When the shared copy is replaced with an older, validly signed version (a replay)
    old = body_of(document(version=2, origins={"exact": [EVIL]}))
    redis_client.hset(
        f"{REDIS_PREFIX}:consumer:billing",
        mapping={
            "body": old,
            "etag": etag_of(old),
            "signature": sign(old),
            "confirmed_at": repr(time.time() + 60),
        },
    )
    client.refresh()
    # Then v3 stays
    assert client.held("billing").policy.version == 3
    assert ACAO not in cors_get(client, EVIL)
