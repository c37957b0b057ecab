"""The Django middleware (drop-in for django-cors-headers'), with pytest-django settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from policies.consumer import django as consumer_django
from tests.consumer.conftest import EVIL, ORIGIN, TOKEN, FakeCentral, document

ACAO = "Access-Control-Allow-Origin"
LEGACY = "https://legacy.example.com"


@pytest.fixture
def service(settings: Any, central: FakeCentral) -> Iterator[Client]:
    settings.ROOT_URLCONF = "tests.consumer.django_urls"
    settings.MIDDLEWARE = [
        "django.middleware.security.SecurityMiddleware",
        "policies.consumer.django.CorsMiddleware",
        "django.middleware.common.CommonMiddleware",
    ]
    settings.CORSADMIN_URL = central.url
    settings.CORSADMIN_TOKEN = TOKEN
    settings.CORSADMIN_APIS = ["billing"]
    settings.CORSADMIN_INTERVAL = 60
    # The service's previous django-cors-headers configuration (the report-only fallback).
    settings.CORS_ALLOWED_ORIGINS = [LEGACY]
    settings.CORS_URLS_REGEX = r"^/api/"
    yield Client(raise_request_exception=False)
    for client in consumer_django._clients.values():
        client.close()
    consumer_django._clients.clear()


def test_preflight__answered_before_the_view(service: Client) -> None:
    response = service.options(
        "/api/private",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "PUT"},
    )
    assert response.status_code == 200
    assert response[ACAO] == ORIGIN
    assert "PUT" in response["Access-Control-Allow-Methods"]
    assert response["Content-Length"] == "0"


def test_preflight__refused__403_no_cors_headers(service: Client) -> None:
    response = service.options(
        "/api/items", headers={"Origin": EVIL, "Access-Control-Request-Method": "PUT"}
    )
    assert response.status_code == 403
    assert ACAO not in response


def test_actual__allowed__headers_and_vary_merged(service: Client) -> None:
    response = service.get("/api/items", headers={"Origin": ORIGIN})
    assert response[ACAO] == ORIGIN
    assert response["Access-Control-Allow-Credentials"] == "true"
    assert response["Access-Control-Expose-Headers"] == "x-request-id"
    assert response["Vary"] == "Accept-Encoding, Origin"


@pytest.mark.parametrize(("path", "status"), [("/api/private", 401), ("/api/boom", 500)])
def test_error_responses__carry_cors_headers(service: Client, path: str, status: int) -> None:
    response = service.get(path, headers={"Origin": ORIGIN})
    assert response.status_code == status
    assert response[ACAO] == ORIGIN


def test_app_set_acao__replaced_or_removed(service: Client) -> None:
    assert service.get("/api/own-cors", headers={"Origin": ORIGIN})[ACAO] == ORIGIN
    assert ACAO not in service.get("/api/own-cors", headers={"Origin": EVIL})


def test_same_origin_post__not_reported(service: Client) -> None:
    service.post("/api/items", headers={"Origin": "http://testserver"})
    assert consumer_django.client_from_settings().report_payload()["refused"] == []


def test_report_only__corsheaders_answer_kept__central_refusals_reported(
    service: Client, central: FakeCentral
) -> None:
    central.publish(document(mode="report-only"))
    legacy = service.get("/api/items", headers={"Origin": LEGACY})
    assert legacy[ACAO] == LEGACY  # what django-cors-headers gives, as before
    assert ACAO not in service.get("/api/items", headers={"Origin": ORIGIN})
    preflight = service.options(
        "/api/items", headers={"Origin": LEGACY, "Access-Control-Request-Method": "PUT"}
    )
    assert preflight.status_code == 200
    assert preflight[ACAO] == LEGACY
    refused = consumer_django.client_from_settings().report_payload()["refused"]
    assert {(r["origin"], r["reason"], r["count"]) for r in refused} == {
        (LEGACY, "origin-not-allowed", 2)
    }


def test_health_view__json(service: Client) -> None:
    service.get("/api/items")
    response = service.get("/health")
    assert response.status_code == 200
    assert response.json()["apis"]["billing"]["version"] == 1


def test_missing_settings__improperly_configured(settings: Any) -> None:
    from django.core.exceptions import ImproperlyConfigured

    settings.CORSADMIN_URL = "http://central"
    settings.CORSADMIN_TOKEN = None
    settings.CORSADMIN_APIS = ["billing"]
    with pytest.raises(ImproperlyConfigured, match="CORSADMIN_token"):
        consumer_django.client_from_settings()
