"""Central's Prometheus metrics: what is counted, and who may read /metrics."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from policies import services
from policies.actors import Actor
from policies.models import Api, OutboxMessage

pytestmark = pytest.mark.django_db
METRICS_TOKEN = "metrics-test-token-0123456789"


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _scrape(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


@pytest.fixture
def secret(api: Api, actor: Actor) -> str:
    return services.issue_service_token(actor=actor, name="billing-web", apis=[api])[1]


@pytest.fixture
def metrics_token(settings: Any) -> str:
    settings.CORSADMIN_METRICS_TOKEN = METRICS_TOKEN
    settings.CORSADMIN_METRICS_ALLOW = []
    return METRICS_TOKEN


def test_metrics__not_configured__404(client: Client, settings: Any) -> None:
    # Given neither a token nor an address list
    settings.CORSADMIN_METRICS_TOKEN = ""
    settings.CORSADMIN_METRICS_ALLOW = []
    # Then /metrics is not there at all
    assert client.get("/metrics").status_code == 404


def test_metrics__token__wrong_or_missing_401_right_200(client: Client, metrics_token: str) -> None:
    # Given a metrics token
    # When a scraper comes without it, or with another one
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": metrics_token}):
        response = client.get("/metrics", headers=headers)
        # Then it is refused, told how to authenticate, and sees no metric
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
        assert b"corsadmin_" not in response.content
    # When it brings the token: the metrics, any Host (Prometheus scrapes web:8000)
    response = client.get(
        "/metrics", headers={"Authorization": f"Bearer {metrics_token}"}, HTTP_HOST="web:8000"
    )
    assert response.status_code == 200
    assert b"corsadmin_policy_documents_served_total" in response.content


def test_metrics__address_list__inside_200_outside_403(client: Client, settings: Any) -> None:
    settings.CORSADMIN_METRICS_TOKEN = ""
    # Given an allow list holding the loopback network (the test client is 127.0.0.1)
    settings.CORSADMIN_METRICS_ALLOW = ["10.0.0.0/8", "127.0.0.0/8"]
    assert client.get("/metrics").status_code == 200
    # Given one that does not
    settings.CORSADMIN_METRICS_ALLOW = ["10.0.0.0/8", "::1"]
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="10.20.30.40").status_code == 200


def test_metrics__policy_endpoint__every_answer_counted_by_status(
    client: Client, secret: str, metrics_token: str
) -> None:
    before = {
        status: _value("corsadmin_policy_documents_served_total", status=status)
        for status in ("200", "304", "401", "404")
    }
    # When a consumer fetches its document, revalidates it, asks for another API, and a
    # stranger tries a bad token
    auth = {"Authorization": f"Bearer {secret}"}
    first = client.get("/api/v1/policies/billing", headers=auth)
    assert first.status_code == 200
    assert (
        client.get(
            "/api/v1/policies/billing", headers={**auth, "If-None-Match": first["ETag"]}
        ).status_code
        == 304
    )
    assert client.get("/api/v1/policies", headers=auth).status_code == 200
    assert client.get("/api/v1/policies/other", headers=auth).status_code == 404
    assert (
        client.get(
            "/api/v1/policies/billing", headers={"Authorization": "Bearer cors_x"}
        ).status_code
        == 401
    )
    # Then each answer is counted under its status, and the scrape shows the same numbers
    scraped = _scrape(client)
    for status, added in (("200", 2), ("304", 1), ("401", 1), ("404", 1)):
        now = _value("corsadmin_policy_documents_served_total", status=status)
        assert now - before[status] == added, status
        key = ("corsadmin_policy_documents_served_total", (("status", status),))
        assert scraped[key] == now


def _report(api: str) -> dict[str, Any]:
    return {
        "instance": "host:1:abc",
        "heartbeat": [{"api": api, "version": 1, "mode": "enforce", "age": 1.0, "stale": False}],
        "refused": [],
    }


def test_metrics__telemetry__accepted_rejected_and_entries(
    client: Client, secret: str, metrics_token: str
) -> None:
    accepted = _value("corsadmin_telemetry_reports_total", outcome="accepted")
    rejected = _value("corsadmin_telemetry_reports_total", outcome="rejected")
    stored = _value("corsadmin_telemetry_entries_total", outcome="stored")
    ignored = _value("corsadmin_telemetry_entries_total", outcome="ignored")
    auth = {"Authorization": f"Bearer {secret}"}

    def post(body: Any, headers: dict[str, str]) -> int:
        return client.post(
            "/api/v1/reports", body, content_type="application/json", headers=headers
        ).status_code

    # When a consumer reports on its API and on one it may not read
    assert post(_report("billing"), auth) == 202
    assert post(_report("search"), auth) == 202
    # And a malformed report and a report with a bad token arrive
    assert post({"instance": ""}, auth) == 400
    assert post(_report("billing"), {"Authorization": "Bearer cors_bad"}) == 401
    # Then two were accepted, two rejected; one entry stored, one ignored
    assert _value("corsadmin_telemetry_reports_total", outcome="accepted") - accepted == 2
    assert _value("corsadmin_telemetry_reports_total", outcome="rejected") - rejected == 2
    assert _value("corsadmin_telemetry_entries_total", outcome="stored") - stored == 1
    assert _value("corsadmin_telemetry_entries_total", outcome="ignored") - ignored == 1


def test_metrics__login_failure__counted(client: Client, member: Any, metrics_token: str) -> None:
    before = _value("corsadmin_login_failures_total")
    # When someone types a wrong password
    response = client.post("/accounts/login/", {"username": "mia", "password": "wrong"})
    assert response.status_code == 200
    # Then the failure is counted
    assert _value("corsadmin_login_failures_total") - before == 1


def test_metrics__apis_by_mode__read_from_the_database(
    client: Client, api: Api, actor: Actor, team: Any, metrics_token: str
) -> None:
    services.create_api(actor=actor, slug="ledger", name="Ledger", team=team, mode="report-only")
    scraped = _scrape(client)
    assert scraped[("corsadmin_apis", (("mode", "enforce"),))] == 1
    assert scraped[("corsadmin_apis", (("mode", "report-only"),))] == 1


def test_check__metrics_allow_list_not_an_address__error(settings: Any) -> None:
    settings.CORSADMIN_METRICS_ALLOW = ["10.0.0.0/8", "prometheus.internal"]
    with pytest.raises(SystemCheckError, match=r"corsadmin.E003.*prometheus.internal"):
        call_command("check")


def test_metrics__outbox__pending_count_and_lag_of_the_oldest(
    client: Client, api: Api, metrics_token: str
) -> None:
    # Given a committed change whose delivery to Redis has not happened (this test's
    # transaction never commits, so the on-commit delivery never runs)
    pending = OutboxMessage.objects.filter(delivered_at__isnull=True)
    assert pending.exists()
    pending.update(created_at=timezone.now() - timedelta(seconds=90))
    # Then the scrape shows it waiting, and for how long
    scraped = _scrape(client)
    assert scraped[("corsadmin_outbox_pending", ())] == pending.count()
    assert 90 <= scraped[("corsadmin_outbox_lag_seconds", ())] < 120
    # When it is delivered: nothing waits, no lag
    pending.update(delivered_at=timezone.now())
    scraped = _scrape(client)
    assert scraped[("corsadmin_outbox_pending", ())] == 0
    assert scraped[("corsadmin_outbox_lag_seconds", ())] == 0


def test_metrics__change_requests__pending_counted_by_state(
    client: Client, actor: Actor, team: Any, metrics_token: str
) -> None:
    # Given nothing waits for approval
    scraped = _scrape(client)
    assert scraped[("corsadmin_change_requests_pending", (("state", "open"),))] == 0
    # When a widening change to a production API opens a change request
    api = services.create_api(
        actor=actor,
        slug="checkout",
        name="Checkout",
        team=team,
        environment="production",
        comment="launch",
    )
    with pytest.raises(services.ChangeRequestPending):
        services.add_origin(
            actor=actor, api=api, value="https://partner.example.com", comment="partner"
        )
    # Then the scrape counts it as open, and none as approved-and-waiting
    scraped = _scrape(client)
    assert scraped[("corsadmin_change_requests_pending", (("state", "open"),))] == 1
    assert scraped[("corsadmin_change_requests_pending", (("state", "approved"),))] == 0
