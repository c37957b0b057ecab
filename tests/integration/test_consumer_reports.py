"""POST /api/v1/reports (consumer telemetry) and the selectors the dashboard reads it with."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from policies import selectors, services
from policies.actors import Actor
from policies.models import Api, ConsumerInstance, RefusedOrigin

pytestmark = pytest.mark.django_db


@pytest.fixture
def secret(api: Api, actor: Actor) -> str:
    return services.issue_service_token(actor=actor, name="billing-web", apis=[api])[1]


def _report(**overrides: Any) -> dict[str, Any]:
    report: dict[str, Any] = {
        "instance": "host:1:abc",
        "service": None,
        "heartbeat": [
            {
                "api": "billing",
                "version": 1,
                "etag": '"e1"',
                "mode": "enforce",
                "age": 1.5,
                "stale": False,
                "source": "central",
                "last_error": None,
            }
        ],
        "refused": [
            {
                "api": "billing",
                "origin": "https://evil.example.net",
                "reason": "origin-not-allowed",
                "count": 3,
                "sample": "origin https://evil.example.net is not allowed by billing v1",
            }
        ],
        "dropped": 0,
    }
    report.update(overrides)
    return report


def _post(client: Client, secret: str | None, body: Any) -> Any:
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    return client.post("/api/v1/reports", body, content_type="application/json", headers=headers)


def test_report__service_token__stored_and_selectable(
    client: Client, secret: str, api: Api
) -> None:
    response = _post(client, secret, _report())
    assert response.status_code == 202
    assert response.json() == {"stored": 2, "ignored": 0}
    _post(client, secret, _report(heartbeat=[{**_report()["heartbeat"][0], "version": 2}]))
    consumers = list(selectors.consumers_for(api))
    assert len(consumers) == 1
    assert (consumers[0].service, consumers[0].version, consumers[0].stale) == (
        "billing-web",
        2,
        False,
    )
    refused = selectors.refused_origins(api, timezone.now() - timedelta(hours=1))
    assert refused == [
        {
            "origin": "https://evil.example.net",
            "reason": "origin-not-allowed",
            "count": 6,
            "last_seen": refused[0]["last_seen"],
            "sample": "origin https://evil.example.net is not allowed by billing v1",
        }
    ]


def test_report__other_apis_and_garbage__ignored(client: Client, secret: str) -> None:
    report = _report(
        heartbeat=[{"api": "search", "version": 1}, "nonsense"],
        refused=[{"api": "billing", "origin": "https://x.example", "count": "many"}],
    )
    response = _post(client, secret, report)
    assert response.json() == {"stored": 0, "ignored": 3}
    assert not ConsumerInstance.objects.exists()
    assert not RefusedOrigin.objects.exists()


def test_report__no_or_bad_token__refused(client: Client) -> None:
    assert _post(client, None, _report()).status_code in (401, 403)
    assert _post(client, "cors_wrong", _report()).status_code == 401


def test_report__invalid__400(client: Client, secret: str) -> None:
    assert _post(client, secret, _report(instance="")).status_code == 400
    assert _post(client, secret, [1, 2]).status_code == 400
    many = [_report()["refused"][0]] * (services.MAX_REPORT_REFUSALS + 1)
    assert _post(client, secret, _report(refused=many)).status_code == 400


def test_selectors__windows(api: Api) -> None:
    now = timezone.now()
    old = now - timedelta(days=2)
    ConsumerInstance.objects.create(instance="gone", api=api, service="s", last_seen=old)
    ConsumerInstance.objects.create(instance="alive", api=api, service="s", last_seen=now)
    assert [c.instance for c in selectors.consumers_for(api)] == ["alive"]
    assert len(selectors.consumers_for(api, seen_within=None)) == 2
    RefusedOrigin.objects.create(
        api=api, origin="https://a.example", reason="r", hour=old, count=5, last_seen=old
    )
    assert selectors.refused_origins(api, now - timedelta(hours=1)) == []
    assert selectors.refused_origins(api, old - timedelta(hours=1))[0]["count"] == 5
