"""PolicyClient against a real local HTTP server: fetch, ETag, refusal, fallbacks, backoff."""

from __future__ import annotations

import itertools
import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from policies.consumer import client as client_module
from policies.consumer.client import PolicyClient
from policies.consumer.config import ConfigurationError
from policies.consumer.core import own_origin
from tests.consumer.conftest import (
    EVIL,
    ORIGIN,
    FakeCentral,
    body_of,
    closed_port_url,
    cors_get,
    document,
    signed_entry,
    wait_for,
)

ACAO = "Access-Control-Allow-Origin"


def test_first_use__fetches_once__allowed_origin_echoed_refused_gets_nothing(
    central: FakeCentral, make_client: Any
) -> None:
    client = make_client(central.url)
    assert central.policy_gets() == 0  # lazy: nothing before the first use
    assert cors_get(client)[ACAO] == ORIGIN
    assert cors_get(client)["Access-Control-Allow-Credentials"] == "true"
    assert ACAO not in cors_get(client, EVIL)
    assert central.policy_gets() == 1
    assert central.requests[0][2]["Authorization"] == "Bearer cors_test-token"


def test_refresh__unchanged__sends_if_none_match_and_gets_304(
    central: FakeCentral, make_client: Any
) -> None:
    client = make_client(central.url)
    client.ensure_started()
    etag = client.held("billing").etag
    confirmed = client.held("billing").confirmed_at
    time.sleep(0.01)
    assert client.refresh()
    assert central.requests[-1][2]["If-None-Match"] == etag
    assert client.held("billing").etag == etag
    assert client.held("billing").confirmed_at > confirmed


def test_refresh__changed_document__new_version_applies(
    central: FakeCentral, make_client: Any
) -> None:
    client = make_client(central.url)
    assert ACAO not in cors_get(client, "https://new.example.com")
    central.publish(document(version=2, origins={"exact": ["https://new.example.com"]}))
    assert client.refresh()
    assert client.held("billing").policy.version == 2
    assert cors_get(client, "https://new.example.com")[ACAO] == "https://new.example.com"
    assert ACAO not in cors_get(client, ORIGIN)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"{not json", "not JSON"),
        (body_of(document(version=2, schema=2)), "unknown schema 2"),
        (body_of(document(api="search", version=2)), "for API 'search'"),
        (body_of({**document(version=2), "origins": "everything"}), "origins must be"),
        (body_of(document(version=2, origins={"allow_all": "yes"})), "allow_all"),
    ],
)
def test_bad_document__refused_last_good_kept_and_logged(
    central: FakeCentral,
    make_client: Any,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    why: str,
) -> None:
    client = make_client(central.url)
    client.ensure_started()
    central.serve_raw("billing", body)
    with caplog.at_level(logging.ERROR, logger="policies.consumer"):
        assert not client.refresh()
    # Then: refused, logged with its source, the last good document kept
    assert client.held("billing").policy.version == 1
    assert "from central" in caplog.text
    assert cors_get(client)[ACAO] == ORIGIN
    assert why in client.health()["apis"]["billing"]["last_error"]
    assert "refused the policy document for billing" in caplog.text
    assert "keeping v1" in caplog.text


def test_central_down__last_good_kept__stale_after_a_while_and_logged(
    central: FakeCentral, make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(central.url, interval=0.1, timeout=0.2)
    client.ensure_started()
    client.close()  # drive refreshes by hand
    central.status = 503
    assert not client.refresh()
    assert cors_get(client)[ACAO] == ORIGIN
    # A request restarts a closed client's refresher (as after a fork): stop it again, so
    # that only this test's own call logs the staleness below.
    client.close()
    health = client.health()["apis"]["billing"]
    assert "503" in health["last_error"]
    time.sleep(client.stale_after + 0.05)
    with caplog.at_level(logging.WARNING, logger="policies.consumer"):
        client._log_staleness()
    health = client.health()
    assert health["ok"] is False
    assert health["apis"]["billing"]["stale"] is True
    assert health["apis"]["billing"]["version"] == 1
    assert "policy for billing is stale" in caplog.text


def test_health__fresh__ok_with_version_etag_age(central: FakeCentral, make_client: Any) -> None:
    client = make_client(central.url)
    client.ensure_started()
    health = client.health()
    entry = health["apis"]["billing"]
    assert health["ok"] is True
    assert entry["version"] == 1
    assert entry["etag"].startswith('"')
    assert 0 <= entry["age"] < 5
    assert entry["stale"] is False
    assert entry["source"] == "central"
    assert entry["last_error"] is None


def test_background_refresher__central_failing__retries_with_growing_backoff(
    central: FakeCentral, make_client: Any
) -> None:
    client = make_client(central.url, interval=2.0, timeout=0.5)
    client.ensure_started()
    central.status = 503
    start = len(central.requests)
    client.request_refresh()
    time.sleep(2.2)
    times = [t for _, _, _, t in central.requests[start:]]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # 0.25-0.5 s, 0.5-1 s, 1-2 s ...: several retries, sooner than the interval, growing.
    assert len(times) >= 3
    assert gaps[0] < 0.6
    assert max(gaps) > gaps[0]


def test_backoff__exponential_with_jitter_capped_at_twice_the_interval() -> None:
    for failures in range(1, 30):
        value = client_module._backoff(failures, 10.0)
        ceiling = min(20.0, 0.5 * 2 ** (failures - 1))
        assert ceiling / 2 <= value <= ceiling
    assert 0.9 * 30 <= client_module._jittered(30) <= 1.1 * 30


def test_cold_start__central_down_no_bootstrap__refused_and_log_says_why(
    make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a consumer whose central is down, with no file to start from
    client = make_client(closed_port_url(), startup_wait=0)
    with caplog.at_level(logging.ERROR, logger="policies.consumer"):
        # When requests arrive before any document
        result = client.outcome("GET", "/api/x", ORIGIN)
        preflight = client.outcome("OPTIONS", "/anything", ORIGIN, "PUT")
        wait_for(lambda: client.health()["apis"]["billing"]["last_error"] is not None)
    # Then they are refused by the engine (no CORS headers, a 403 preflight) and counted
    assert result is not None
    assert preflight is not None
    assert ACAO not in result.decision.headers
    assert not result.decision.allowed
    assert result.code == "no-policy"
    assert preflight.status == 403
    assert ACAO not in preflight.decision.headers
    assert "no policy document for billing" in caplog.text
    assert "central unreachable" in client.health()["apis"]["billing"]["last_error"]
    assert client.health()["apis"]["billing"]["version"] is None
    refused = client.report_payload()["refused"]
    assert {(r["origin"], r["reason"]) for r in refused} == {(ORIGIN, "no-policy")}


def test_first_request__central_not_answering__never_waits_then_applies(
    central: FakeCentral, make_client: Any
) -> None:
    # Given central holds its answer until told to
    central.hold = threading.Event()
    client = make_client(central.url, startup_wait=0)
    # When the first request arrives
    first = client.outcome("GET", "/api/x", ORIGIN)
    # Then it is answered (refused: nothing held yet) while central still has not answered
    assert first is not None
    assert first.code == "no-policy"
    wait_for(lambda: central.policy_gets() == 1)
    assert client.held("billing") is None
    # When central answers, the background fetch applies the document
    central.hold.set()
    wait_for(lambda: client.held("billing") is not None)
    assert cors_get(client)[ACAO] == ORIGIN


def test_startup_wait__first_request_waits_for_the_first_fetch(
    central: FakeCentral, make_client: Any
) -> None:
    # Given CORSADMIN_STARTUP_WAIT and a central that answers only when told to
    central.hold = threading.Event()
    client = make_client(central.url, startup_wait=10)
    answers: list[str | None] = []
    thread = threading.Thread(target=lambda: answers.append(cors_get(client).get(ACAO)))
    # When the first request arrives, it waits for the fetch in flight
    thread.start()
    wait_for(lambda: central.policy_gets() == 1)
    assert answers == []
    central.hold.set()
    thread.join(10)
    # Then it is answered with central's document
    assert answers == [ORIGIN]


def test_cache_file__central_trickling__requests_and_health_served_fetch_abandoned(
    central: FakeCentral, make_client: Any, tmp_path: Path
) -> None:
    # Given a cache file from an earlier run, and central trickling one byte at a time
    cache = tmp_path / "policies.json"
    cache.write_text(json.dumps([signed_entry(document(version=1))]))
    central.publish(document(version=2))
    central.trickle = 0.02
    client = make_client(central.url, cache_file=cache, startup_wait=0, fetch_deadline=0.5)
    # When requests arrive while central trickles
    assert cors_get(client)[ACAO] == ORIGIN
    wait_for(lambda: central.trickling)
    assert client.health()["apis"]["billing"]["version"] == 1
    assert cors_get(client)[ACAO] == ORIGIN
    assert central.trickling  # answered while the fetch is still being trickled
    # Then the fetch is abandoned at its total deadline and the cache file's copy kept
    wait_for(lambda: "deadline" in (client.health()["apis"]["billing"]["last_error"] or ""))
    assert client.held("billing").policy.version == 1
    assert client.held("billing").source == "cache-file"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "until-close"])
def test_huge_answer__refused_past_the_maximum_size_and_logged(
    central: FakeCentral, make_client: Any, caplog: pytest.LogCaptureFixture, chunked: bool
) -> None:
    # Given a client holding v1 and a maximum document size of 64 KiB
    client = make_client(central.url, max_document_bytes=64 * 1024)
    client.ensure_started()
    # When central answers 2 MB (a valid document padded with origins)
    big = document(
        version=2, origins={"exact": [f"https://h{i}.example.com" for i in range(80000)]}
    )
    central.publish(big)
    central.chunked = chunked
    with caplog.at_level(logging.WARNING, logger="policies.consumer"):
        assert not client.refresh()
    # Then it is refused with a log line naming the setting, and v1 kept
    assert "maximum document size" in client.health()["apis"]["billing"]["last_error"]
    assert "CORSADMIN_MAX_DOCUMENT_BYTES" in caplog.text
    assert client.held("billing").policy.version == 1
    assert cors_get(client)[ACAO] == ORIGIN


def test_bootstrap__central_down__bootstrap_applies_then_central_replaces_it(
    central: FakeCentral, make_client: Any, tmp_path: Path
) -> None:
    bootstrap = tmp_path / "bootstrap.json"
    bootstrap.write_text(json.dumps([signed_entry(document(version=7, origins={"exact": [EVIL]}))]))
    central.status = 503
    client = make_client(central.url, bootstrap_file=bootstrap)
    assert cors_get(client, EVIL)[ACAO] == EVIL
    entry = client.health()["apis"]["billing"]
    assert (entry["source"], entry["version"], entry["stale"]) == ("bootstrap", 7, True)
    central.status = None
    assert client.refresh()
    assert client.held("billing").policy.version == 1
    assert ACAO not in cors_get(client, EVIL)


def test_bootstrap__without_url__list_endpoint_format_accepted(
    make_client: Any, tmp_path: Path
) -> None:
    bootstrap = tmp_path / "bootstrap.json"
    entry = {
        "etag": '"x"',
        "document": document(),
        "signature": signed_entry(document())["signature"],
    }
    bootstrap.write_text(json.dumps({"policies": [entry]}))
    client = make_client(None, bootstrap_file=bootstrap)
    assert cors_get(client)[ACAO] == ORIGIN


def test_cache_file__written_on_fetch__read_by_next_process_when_central_down(
    central: FakeCentral, make_client: Any, tmp_path: Path
) -> None:
    cache = tmp_path / "cache" / "policies.json"
    first = make_client(central.url, cache_file=cache)
    first.ensure_started()
    [entry] = json.loads(cache.read_text())
    assert entry["etag"] == first.held("billing").etag
    assert entry["signature"]
    second = make_client(closed_port_url(), cache_file=cache)
    assert cors_get(second)[ACAO] == ORIGIN
    assert second.health()["apis"]["billing"]["source"] == "cache-file"


def test_cache_file__corrupt__ignored_with_a_log_line(
    make_client: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "policies.json"
    cache.write_text("{garbage")
    with caplog.at_level(logging.ERROR, logger="policies.consumer"):
        client = make_client(closed_port_url(), cache_file=cache, startup_wait=0)
        assert ACAO not in cors_get(client)
    assert "unreadable" in caplog.text


def test_several_apis__first_whose_paths_match_applies(
    central: FakeCentral, make_client: Any
) -> None:
    central.publish(document(api="search", paths=None, origins={"exact": [EVIL]}))
    client = make_client(central.url, apis=["billing", "search"])
    assert cors_get(client, ORIGIN, "/api/x")[ACAO] == ORIGIN
    assert ACAO not in cors_get(client, EVIL, "/api/x")
    assert cors_get(client, EVIL, "/search")[ACAO] == EVIL
    assert [p.api for p in client.policies] == ["billing", "search"]


def test_several_apis__first_missing__refused_not_the_next_one(
    central: FakeCentral, make_client: Any
) -> None:
    # search has a document, billing (first) has none: billing's paths are unknown.
    central.publish(document(api="search", paths=None, origins={"exact": [EVIL]}))
    del central.bodies["billing"]
    client = make_client(central.url, apis=["billing", "search"])
    assert ACAO not in cors_get(client, EVIL, "/search")


def test_uncovered_path__none(central: FakeCentral, make_client: Any) -> None:
    client = make_client(central.url)
    assert client.outcome("GET", "/static/x", ORIGIN) is None


def test_configuration__missing_settings__clear_errors() -> None:
    keys = {"verify_signatures": False}
    with pytest.raises(ConfigurationError, match="apis"):
        PolicyClient.configure(url="http://x", token="cors_t", apis=[], **keys)
    with pytest.raises(ConfigurationError, match="url"):
        PolicyClient.configure(apis=["billing"], **keys)
    with pytest.raises(ConfigurationError, match="token"):
        PolicyClient.configure(url="http://x", apis=["billing"], **keys)
    with pytest.raises(ConfigurationError, match="public_keys: a JWKS"):
        PolicyClient.configure(url="http://x", token="cors_t", apis=["billing"])


def test_threads__many_concurrent_first_requests__one_fetch(
    central: FakeCentral, make_client: Any
) -> None:
    central.delay = 0.2
    client = make_client(central.url)
    results: list[str] = []

    def hit() -> None:
        results.append(cors_get(client)[ACAO])

    threads = [threading.Thread(target=hit) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [ORIGIN] * 10
    assert central.policy_gets() == 1


def test_fork__child_restarts_refresher_and_catches_up(
    central: FakeCentral, make_client: Any
) -> None:
    client = make_client(central.url, interval=30)
    client.ensure_started()
    parent_instance = client.instance_id
    central.publish(document(version=2, origins={"exact": [EVIL]}))
    pid = os.fork()
    if pid == 0:  # the child: a gunicorn worker forked after the app loaded
        code = 1
        try:
            assert client.instance_id != parent_instance
            assert cors_get(client)[ACAO] == ORIGIN  # inherited snapshot, no waiting
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and client.held("billing").policy.version != 2:
                time.sleep(0.05)
            alive = [t.name for t in threading.enumerate()]
            if client.held("billing").policy.version == 2 and "corsadmin-refresher" in alive:
                code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert client.held("billing").policy.version == 1  # the parent did not refresh


def test_telemetry__refused_counted_bounded_and_sent_with_heartbeat(
    central: FakeCentral, make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client(central.url, service="billing-web")
    cors_get(client, EVIL)
    cors_get(client, EVIL)
    client.outcome("OPTIONS", "/api/x", ORIGIN, "TRACE")
    # The service's own origin (same-origin POSTs carry Origin) is not a refusal.
    client.outcome("POST", "/api/x", "https://svc.internal", scheme="https", host="svc.internal")
    client.refusals.max_keys = 3
    for index in range(5):
        cors_get(client, f"https://x{index}.example.org")
    assert client.send_report()
    report = central.reports[-1]
    assert report["service"] == "billing-web"
    assert report["instance"] == client.instance_id
    assert report["heartbeat"][0]["api"] == "billing"
    assert report["heartbeat"][0]["version"] == 1
    refused = {(r["origin"], r["reason"]): r["count"] for r in report["refused"]}
    assert refused[(EVIL, "origin-not-allowed")] == 2
    assert refused[(ORIGIN, "method-not-allowed")] == 1
    assert len(refused) == 3
    assert report["dropped"] == 4
    # Drained: the next report starts from zero.
    assert client.report_payload()["refused"] == []


def test_telemetry__central_down__counts_kept_for_the_next_report(make_client: Any) -> None:
    client = make_client(closed_port_url())
    cors_get(client, EVIL)
    assert not client.send_report()
    assert client.report_payload()["refused"][0]["count"] == 1


def test_own_origin__default_ports_dropped() -> None:
    assert own_origin("https", "API.example.com:443") == "https://api.example.com"
    assert own_origin("http", "localhost:8000") == "http://localhost:8000"
    assert own_origin("http", "[::1]:80") == "http://[::1]"
    assert own_origin("http", None) is None


def test_import__no_django_in_consumer_modules() -> None:
    code = (
        "import policies.consumer.wsgi, policies.consumer.asgi, policies.consumer.client, sys; "
        "import policies.consumer.config, policies.consumer.core, policies.consumer.files; "
        "import policies.consumer.shared, policies.consumer.signatures; "
        "import policies.consumer.telemetry, policies.consumer.central; "
        "assert 'django' not in sys.modules, sorted(m for m in sys.modules if 'django' in m)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        env={k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
