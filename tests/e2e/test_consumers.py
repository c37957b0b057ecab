"""End to end: the real central server, real Redis and the Python example consumers.

flask and django share central's Redis (change notifications); fastapi polls every second.
Policy changes go through the management REST API, as a person's script would make them.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
import redis

from tests.e2e.conftest import INTERVAL, SLUG, Central, Consumer, RedisServer, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

NEW = "https://partner.example.com"
PUBSUB = ("flask", "django")


def _latencies(
    consumers: dict[str, Consumer],
    expected: str | None,
    timeout: float = 6.0,
    since: float | None = None,
) -> dict[str, float]:
    """Seconds (from ``since``, default now) until each consumer answers ``NEW`` with
    ``expected`` (each polled every 10 ms, in parallel)."""
    results: dict[str, float] = {}
    started = time.monotonic() if since is None else since

    def watch(name: str, consumer: Consumer) -> None:
        try:
            wait_until(lambda: consumer.acao(NEW) == expected, timeout, step=0.01)
            results[name] = time.monotonic() - started
        except AssertionError:
            results[name] = float("inf")

    threads = [threading.Thread(target=watch, args=item) for item in consumers.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _assert_correct(consumers: dict[str, Consumer], allowed: str, refused: str) -> None:
    for name, consumer in consumers.items():
        assert consumer.acao(allowed) == allowed, name
        assert consumer.acao(refused) is None, name
        assert consumer.acao(allowed, "/health") is None, name  # not a covered path


def test_start__every_consumer_enforces_the_policy(
    consumers: dict[str, Consumer], allowed_origin: str, refused_origin: str
) -> None:
    _assert_correct(consumers, allowed_origin, refused_origin)
    for name, consumer in consumers.items():
        health = consumer.health()
        assert health["ok"] is True, name
        assert health["apis"][SLUG]["version"] == 1, name


def test_telemetry__heartbeats_and_refused_origins_reach_central(
    central: Central, consumers: dict[str, Consumer], refused_origin: str
) -> None:
    assert consumers["flask"].acao(refused_origin) is None
    assert consumers["flask"].acao(refused_origin) is None

    def stored() -> bool:
        telemetry = central.telemetry()
        refused = {(r["origin"], r["reason"]): r["count"] for r in telemetry["refused"]}
        return (
            len(telemetry["consumers"]) >= 3
            and refused.get((refused_origin, "origin-not-allowed"), 0) >= 2
        )

    wait_until(stored, 10, step=0.5)


def _sources(consumers: dict[str, Consumer]) -> dict[str, str]:
    return {name: c.health()["apis"][SLUG]["source"] for name, c in consumers.items()}


def test_change__pubsub_consumers_apply_the_notification__polling_one_fetches(
    central: Central, consumers: dict[str, Consumer]
) -> None:
    # Given the consumers enforce version N
    before = {name: c.health()["apis"][SLUG]["version"] for name, c in consumers.items()}
    # When an origin is added, then removed, through the management API
    for change in ("add", "remove"):
        if change == "add":
            rule = central.add_origin(NEW)
            expected: str | None = NEW
        else:
            central.remove_origin(rule)
            expected = None
        # Then every consumer applies it (bounded poll; no time limit asserted: timing
        # belongs in bench/)
        _latencies(consumers, expected, timeout=30)
        sources = _sources(consumers)
        for name, consumer in consumers.items():
            assert consumer.health()["apis"][SLUG]["version"] > before[name], name
        # fastapi has no Redis: it fetched the change from central. flask and django
        # share central's Redis: the notification brought it before any poll could (the
        # process that handles it applies central's Redis copy, source "pubsub"; the other
        # may read the first one's shared copy, "redis", if its poll runs in between).
        assert sources["fastapi"] == "central", sources
        assert "pubsub" in {sources[name] for name in PUBSUB}, (change, sources)


def test_central_down__last_good_kept__restart_catches_up(
    central: Central, consumers: dict[str, Consumer], allowed_origin: str, refused_origin: str
) -> None:
    central.stop()
    try:
        _assert_correct(consumers, allowed_origin, refused_origin)
        wait_until(lambda: consumers["fastapi"].health()["apis"][SLUG]["last_error"], 5)
        _assert_correct(consumers, allowed_origin, refused_origin)
    finally:
        central.start()
    rule = central.add_origin(NEW)
    try:
        # The polling consumer is backing off (at most twice the interval).
        latencies = _latencies(consumers, NEW, timeout=8)
        assert max(latencies.values()) < 2 * INTERVAL + 1.5, latencies
    finally:
        central.remove_origin(rule)
    _latencies(consumers, None)
    wait_until(lambda: consumers["fastapi"].health()["apis"][SLUG]["last_error"] is None, 5)


def test_redis_down__consumers_stay_correct(
    central: Central,
    consumers: dict[str, Consumer],
    redis_server: RedisServer,
    allowed_origin: str,
    refused_origin: str,
) -> None:
    redis_server.stop()
    try:
        time.sleep(INTERVAL * 1.5)  # a refresh round or two without Redis
        _assert_correct(consumers, allowed_origin, refused_origin)
    finally:
        redis_server.start()
    # Redis back: notifications resume (the listener resubscribes) and changes apply.
    rule = central.add_origin(NEW)
    latencies = _latencies(consumers, NEW, timeout=8)
    assert max(latencies.values()) < 2 * INTERVAL + 1.5, latencies
    central.remove_origin(rule)
    _latencies(consumers, None)


def test_redis_down__central_still_serves_and_consumers_poll_it(
    central: Central, consumers: dict[str, Consumer], redis_server: RedisServer
) -> None:
    redis_server.stop()
    try:
        rule = central.add_origin(NEW)
        latencies = _latencies(consumers, NEW, timeout=8)
        central.remove_origin(rule)
        assert max(latencies.values()) < 2 * INTERVAL + 1.5, latencies
    finally:
        redis_server.start()
        _latencies(consumers, None, timeout=8)


def test_forged_shared_copy_in_redis__refused_by_each_process_last_good_kept(
    central: Central,
    consumers: dict[str, Consumer],
    redis_server: RedisServer,
    allowed_origin: str,
    refused_origin: str,
) -> None:
    # The consumers' shared copy (<prefix>:consumer:<slug>) is what flask and django read
    # each round instead of fetching; central never repairs it (its own copy, <prefix>:doc:,
    # it does: tests/e2e/test_delivery.py).
    client = redis.Redis.from_url(redis_server.url)
    key = f"corsadmin:consumer:{SLUG}"
    wait_until(lambda: client.hget(key, "signature"), 10)
    held = client.hgetall(key)
    widened = json.loads(held[b"body"])
    widened["version"] += 100
    widened["origins"]["exact"].append(refused_origin)
    forgeries = [
        (b'{"schema": 1, "api": "shop", "version": 99, "origins"', b""),
        # A widened document under the real signature of the held one.
        (json.dumps(widened, sort_keys=True, separators=(",", ":")).encode(), held[b"signature"]),
    ]
    refusal = f"refused the policy document for {SLUG} from redis: bad signature"
    try:
        for bad, signature in forgeries:
            before = {name: consumers[name].process.output().count(refusal) for name in PUBSUB}
            # Someone with write access to Redis replaces the copy, "confirmed" in the future
            # so that every process prefers it to its own.
            client.hset(
                key,
                mapping={
                    "body": bad,
                    "etag": f'"forged-{len(bad)}"',
                    "signature": signature,
                    "confirmed_at": repr(time.time() + 3600),
                },
            )
            # Then each process refuses it on its next round, and says so in its log
            for name in PUBSUB:
                consumer = consumers[name]
                wait_until(
                    lambda c=consumer, n=before[name]: c.process.output().count(refusal) > n, 10
                )
            # And every consumer still enforces the real policy.
            _assert_correct(consumers, allowed_origin, refused_origin)
    finally:
        client.delete(key)
        client.close()
    # The next real change is accepted again.
    rule = central.add_origin(NEW)
    _latencies(consumers, NEW, timeout=30)
    central.remove_origin(rule)
    _latencies(consumers, None, timeout=30)
