"""Two central servers on one database and one Redis, with the outbox dispatcher, as real
processes: read-your-writes and revocation across them, a forged Redis document, a change
committed while Redis is paused, a revocation while Redis is down."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from tests.e2e.conftest import PYTHON, SLUG, Central, Process, RedisServer, wait_until

pytestmark = pytest.mark.e2e


class Cluster:
    def __init__(self, workdir: Path) -> None:
        self.redis = RedisServer(workdir)
        self.a = Central(workdir, self.redis.url)
        self.b = Central(workdir, self.redis.url)  # the same SQLite file, the same Redis
        self.b.process.name = "central-b"
        self.b.process.log = workdir / "central-b.log"
        self.dispatcher = Process(
            "outbox",
            [PYTHON, "manage.py", "deliver_outbox", "--every", "0.2"],
            self.a.env,
            workdir,
        )
        self.client = redis.Redis.from_url(self.redis.url)

    def start(self) -> None:
        self.redis.start()
        self.a.setup("http://127.0.0.1:9")
        self.b.service_token, self.b.access_token = self.a.service_token, self.a.access_token
        # Started together, waited for generously: a loaded machine is slow to boot Django.
        for central in (self.a, self.b):
            central.process.start()
        self.dispatcher.start()
        for central in (self.a, self.b):
            central.process.wait_http(central.url + "/api/v1/keys", timeout=120)

    def stop(self) -> None:
        for process in (self.dispatcher, self.a.process, self.b.process):
            process.stop()
        self.client.close()
        self.redis.stop()

    def document(self, central: Central, token: str | None = None) -> httpx.Response:
        return httpx.get(
            f"{central.url}/api/v1/policies/{SLUG}",
            headers={"Authorization": f"Bearer {token or central.service_token}"},
            timeout=5,
        )

    def held_version(self) -> int | None:
        body = self.client.hget(f"corsadmin:doc:{SLUG}", "body")
        return int(json.loads(body)["version"]) if body else None

    def issue_token(self) -> tuple[int, str]:
        created = self.a._api("POST", "tokens/", json={"name": f"t{time.monotonic_ns()}"}).json()
        return int(created["id"]), str(created["secret"])

    def revoke(self, token_id: int) -> None:
        response = httpx.delete(
            f"{self.a.url}/api/v1/tokens/{token_id}/",
            headers={"Authorization": f"Bearer {self.a.access_token}"},
            timeout=10,
        )
        assert response.status_code == 204, response.text


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    started = Cluster(tmp_path_factory.mktemp("two-centrals"))
    try:
        started.start()
        yield started
    finally:
        started.stop()


def _version(response: httpx.Response) -> int:
    assert response.status_code == 200, response.text
    return int(response.json()["version"])


def test_two_centrals__write_on_a__next_read_on_b_sees_it(cluster: Cluster) -> None:
    # Given both centrals serve the same version (warm: Redis and their caches hold it)
    before = _version(cluster.document(cluster.b))
    assert _version(cluster.document(cluster.a)) == before
    # When an origin is added through central A
    cluster.a.add_origin("https://ryw.example.com")
    # Then the very next read on central B has it
    response = cluster.document(cluster.b)
    assert _version(response) == before + 1
    assert "https://ryw.example.com" in response.json()["origins"]["exact"]


def test_two_centrals__token_revoked_on_a__refused_by_b(cluster: Cluster) -> None:
    # Given a token both centrals have accepted (so each caches it)
    token_id, secret = cluster.issue_token()
    assert cluster.document(cluster.a, secret).status_code == 200
    assert cluster.document(cluster.b, secret).status_code == 200
    # When it is revoked on A
    cluster.revoke(token_id)
    # Then A refuses it at once, and B as soon as it re-checks the revocation counter
    assert cluster.document(cluster.a, secret).status_code == 401
    wait_until(lambda: cluster.document(cluster.b, secret).status_code == 401, 10)


def test_forged_document_in_redis__refused_by_both_centrals(cluster: Cluster) -> None:
    # Given the genuine document
    genuine = cluster.document(cluster.a)
    assert genuine.status_code == 200
    # When Redis is made to hold a "newer" document that lets an attacker's origin in
    forged = genuine.json()
    forged["version"] = 99999
    forged["origins"]["exact"].append("https://evil.example")
    body = json.dumps(forged, sort_keys=True, separators=(",", ":"))
    for central in (cluster.a, cluster.b):
        # (each time: a central that refuses it puts the genuine one back into Redis)
        cluster.client.hset(
            f"corsadmin:doc:{SLUG}",
            mapping={"body": body, "version": 99999, "etag": '"x"', "signature": "e30..c2ln"},
        )
        # Then neither central serves it, and each logs the refusal with its source
        served = cluster.document(central)
        assert served.content == genuine.content
        assert "https://evil.example" not in served.text
        wait_until(
            lambda c=central: f"refused the document of '{SLUG}' from redis" in c.process.output(),
            5,
        )
    assert cluster.client.hget(f"corsadmin:doc:{SLUG}", "body") == genuine.content


def test_removal_during_client_pause__reaches_redis_after(cluster: Cluster) -> None:
    # Given an origin, and Redis holding the document with it
    rule_id = cluster.a.add_origin("https://paused.example.com")
    current = _version(cluster.document(cluster.a))
    wait_until(lambda: cluster.held_version() == current, 5)
    # When Redis is paused for 4 s and the origin is removed meanwhile
    pauser = redis.Redis.from_url(cluster.redis.url)
    pauser.execute_command("CLIENT", "PAUSE", "4000")
    paused_until = time.monotonic() + 4
    cluster.a.remove_origin(rule_id)
    assert time.monotonic() < paused_until, "the write waited for Redis"
    pauser.close()
    # Then once Redis is back the dispatcher delivers it (the net is 5 minutes away)
    time.sleep(max(0.0, paused_until - time.monotonic()))
    wait_until(lambda: cluster.held_version() == current + 1, 10)
    body = cluster.client.hget(f"corsadmin:doc:{SLUG}", "body")
    assert body is not None
    assert "https://paused.example.com" not in body.decode()


def test_revocation_while_redis_down__refused_by_both_centrals(cluster: Cluster) -> None:
    # Given a token both centrals have accepted
    token_id, secret = cluster.issue_token()
    for central in (cluster.a, cluster.b):
        assert cluster.document(central, secret).status_code == 200
    # When Redis goes away and the token is revoked
    cluster.redis.stop()
    try:
        cluster.revoke(token_id)
        # Then both centrals refuse it while Redis is down
        for central in (cluster.a, cluster.b):
            wait_until(lambda c=central: cluster.document(c, secret).status_code == 401, 10)
    finally:
        cluster.redis.start()
    # And still once Redis is back; the service token that was not revoked still works
    for central in (cluster.a, cluster.b):
        assert cluster.document(central, secret).status_code == 401
        wait_until(lambda c=central: cluster.document(c).status_code == 200, 10)
