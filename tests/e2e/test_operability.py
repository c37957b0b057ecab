"""End to end, as deployed: gunicorn with corsadmin/gunicorn_conf.py and two workers.

Logs are JSON lines with the request id and never a secret; /metrics adds up the workers'
counters (prometheus-client's multiprocess mode); the probes answer whatever the Host.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import PYTHON, SLUG, Central, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("operability")]

METRICS_TOKEN = "metrics-e2e-token-0123456789abcdef"


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Central]:
    workdir = tmp_path_factory.mktemp("operability")
    server = Central(workdir, redis_url="")
    server.setup("https://app.example.com")
    server.env.update(
        CORSADMIN_BIND=f"127.0.0.1:{server.port}",
        WEB_CONCURRENCY="2",
        PROMETHEUS_MULTIPROC_DIR=str(workdir / "prometheus"),
        CORSADMIN_METRICS_TOKEN=METRICS_TOKEN,
        LOG_FORMAT="json",
    )
    server.process.command = [
        PYTHON,
        "-m",
        "gunicorn",
        "-c",
        "python:corsadmin.gunicorn_conf",
        "corsadmin.wsgi:application",
    ]
    try:
        server.process.start()
        # Two workers importing Django on a busy machine: a generous bound on the start.
        server.process.wait_http(server.url + "/healthz", timeout=90)
        yield server
    finally:
        server.stop()


def _log_lines(server: Central) -> list[str]:
    return [line for line in server.process.output().splitlines() if line.strip()]


def test_logs__secrets_in_header_query_path__never_written(deployed: Central) -> None:
    secret = deployed.service_token
    personal = deployed.access_token
    base = deployed.url
    # When clients send tokens in a header, a query string and a path, and log in
    with httpx.Client(base_url=base, timeout=10) as client:
        ok = client.get(
            f"/api/v1/policies/{SLUG}",
            headers={"Authorization": f"Bearer {secret}", "X-Request-Id": "e2e-header-1"},
        )
        assert ok.status_code == 200
        assert ok.headers["X-Request-Id"] == "e2e-header-1"
        query = client.get(
            f"/api/v1/policies/{SLUG}?token={secret}&access_token={personal}",
            headers={"X-Request-Id": "e2e-query-1"},
        )
        assert query.status_code == 401
        path = client.get(
            f"/api/v1/policies/{secret}",
            headers={"Authorization": f"Bearer {secret}", "X-Request-Id": "e2e-path-1"},
        )
        assert path.status_code == 404
        wrong = client.get(
            "/api/v1/apis/",
            headers={"Authorization": f"Bearer {personal}x", "X-Request-Id": "e2e-wrong-1"},
        )
        assert wrong.status_code == 401
        login = client.get("/accounts/login/")
        client.post(
            "/accounts/login/",
            data={
                "username": "e2e-admin",
                "password": "wrong-password-typed-here",
                "csrfmiddlewaretoken": login.cookies["csrftoken"],
            },
            headers={"X-Request-Id": "e2e-login-1", "Referer": f"{base}/accounts/login/"},
        )

    # Then each request has its JSON line, with its id, method, path and status
    def logged() -> dict[str, dict[str, Any]]:
        lines = [json.loads(line) for line in _log_lines(deployed)]
        return {
            line["request_id"]: line
            for line in lines
            if line.get("event") == "request" and str(line.get("request_id")).startswith("e2e-")
        }

    wait_until(lambda: len(logged()) == 5, timeout=10)
    requests = logged()
    assert requests["e2e-header-1"]["status"] == 200
    assert requests["e2e-header-1"]["method"] == "GET"
    assert requests["e2e-header-1"]["logger"] == "policies.access"
    assert requests["e2e-query-1"]["path"] == f"/api/v1/policies/{SLUG}"
    assert requests["e2e-path-1"]["path"] == "/api/v1/policies/cors_[redacted]"
    assert requests["e2e-login-1"]["status"] == 200
    # And every line of the log is JSON, and no secret or password is anywhere in it
    output = deployed.process.output()
    for line in _log_lines(deployed):
        json.loads(line)
    for leaked in (secret, secret[5:], personal, personal[6:], "wrong-password-typed-here"):
        assert leaked not in output


def test_metrics__two_workers__counts_added_up(deployed: Central) -> None:
    def scrape() -> str:
        response = httpx.get(
            deployed.url + "/metrics",
            headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
            timeout=10,
        )
        assert response.status_code == 200
        return response.text

    def served(text: str, status: str) -> float:
        for line in text.splitlines():
            if line.startswith(f'corsadmin_policy_documents_served_total{{status="{status}"}}'):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    before = served(scrape(), "304")
    # When 40 revalidations are answered, on fresh connections (either worker takes them)
    auth = {"Authorization": f"Bearer {deployed.service_token}"}
    etag = httpx.get(f"{deployed.url}/api/v1/policies/{SLUG}", headers=auth).headers["ETag"]
    for _ in range(40):
        response = httpx.get(
            f"{deployed.url}/api/v1/policies/{SLUG}", headers={**auth, "If-None-Match": etag}
        )
        assert response.status_code == 304
    # Then /metrics reports all 40, whichever worker answers the scrape
    for _ in range(4):
        assert served(scrape(), "304") - before == 40
    files = list(Path(deployed.env["PROMETHEUS_MULTIPROC_DIR"]).glob("counter_*.db"))
    assert len(files) >= 2  # each worker writes its own (multiprocess mode is on)


def test_probes__any_host__answered(deployed: Central) -> None:
    # A probe's Host header is whatever it has (an address, a container name)
    for host in ("10.0.0.7:8000", "web:8000"):
        health = httpx.get(deployed.url + "/healthz", headers={"Host": host})
        assert (health.status_code, health.json()) == (200, {"status": "ok"})
        ready = httpx.get(deployed.url + "/readyz", headers={"Host": host})
        assert ready.status_code == 200
        assert ready.json()["status"] == "ready"
    # While the site itself refuses an unknown host
    assert (
        httpx.get(deployed.url + "/accounts/login/", headers={"Host": "web:8000"}).status_code
        == 400
    )
