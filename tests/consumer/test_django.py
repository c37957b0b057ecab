"""The Django middleware (drop-in for django-cors-headers'), with pytest-django settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from policies.consumer import checks as consumer_checks
from policies.consumer import django as consumer_django
from tests.consumer.conftest import EVIL, ORIGIN, PUBLIC_JWKS, TOKEN, FakeCentral, document

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
    settings.CORSADMIN_PUBLIC_KEYS = PUBLIC_JWKS
    settings.CORSADMIN_STARTUP_WAIT = 5
    settings.CORSADMIN_TELEMETRY = False
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


def test_health_path__setting__served_by_the_middleware(service: Client, settings: Any) -> None:
    # Given CORSADMIN_HEALTH_PATH (no URLconf entry needed)
    settings.CORSADMIN_HEALTH_PATH = "/-/cors-health"
    # When it is requested
    response = service.get("/-/cors-health")
    # Then the middleware answers with the client's health
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json()["apis"]["billing"]["version"] == 1


def test_missing_settings__improperly_configured_naming_the_setting(settings: Any) -> None:
    from django.core.exceptions import ImproperlyConfigured

    # Given a URL without a token
    settings.CORSADMIN_URL = "http://central"
    settings.CORSADMIN_TOKEN = None
    settings.CORSADMIN_APIS = ["billing"]
    settings.CORSADMIN_PUBLIC_KEYS = PUBLIC_JWKS
    # Then the error names the setting as it is spelt in settings.py
    with pytest.raises(ImproperlyConfigured, match=r"^CORSADMIN_TOKEN: a service token"):
        consumer_django.client_from_settings()


def _check_ids(settings: Any) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for message in consumer_checks.check_settings():
        found.setdefault(message.id or "", []).append(message.msg)
    return found


def test_system_checks__every_unusable_setting_reported_by_its_name(settings: Any) -> None:
    # Given the middleware in MIDDLEWARE and broken settings
    settings.MIDDLEWARE = ["policies.consumer.django.CorsMiddleware"]
    settings.CORSADMIN_URL = "central.internal"
    settings.CORSADMIN_TOKEN = None
    settings.CORSADMIN_APIS = []
    settings.CORSADMIN_INTERVAL = "soon"
    settings.CORSADMIN_PUBLIC_KEYS = '{"keys": [{"kty": "RSA"}]}'
    # When the checks run
    found = _check_ids(settings)
    # Then each problem is an error naming its setting
    errors = found["corsadmin_consumer.E001"]
    assert any(m.startswith("CORSADMIN_APIS: at least one") for m in errors)
    assert any(m.startswith("CORSADMIN_URL: 'central.internal' is not") for m in errors)
    assert any(m.startswith("CORSADMIN_TOKEN: a service token") for m in errors)
    assert any(m.startswith("CORSADMIN_INTERVAL: could not convert") for m in errors)
    assert found["corsadmin_consumer.E002"] == [
        "CORSADMIN_PUBLIC_KEYS: inline JWKS: keys[0] is not an Ed25519 (OKP) key"
    ]


def test_system_checks__placement_corsheaders_and_verification__warned(settings: Any) -> None:
    # Given a configuration that works but is risky
    settings.MIDDLEWARE = [
        "django.middleware.common.CommonMiddleware",
        "corsheaders.middleware.CorsMiddleware",
        "policies.consumer.django.CorsMiddleware",
    ]
    settings.CORSADMIN_URL = "http://central.internal"
    settings.CORSADMIN_TOKEN = TOKEN
    settings.CORSADMIN_APIS = ["billing"]
    settings.CORSADMIN_VERIFY_SIGNATURES = False
    # When the checks run, Then no error and one warning per risk
    found = _check_ids(settings)
    assert sorted(found) == [
        "corsadmin_consumer.W001",
        "corsadmin_consumer.W002",
        "corsadmin_consumer.W003",
    ]


def test_system_checks__middleware_not_used__silent(settings: Any) -> None:
    # Given a project that does not use the consumer (central itself)
    settings.MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
    # Then the consumer checks say nothing
    assert consumer_checks.check_settings() == []


def test_system_checks__good_configuration__nothing(settings: Any) -> None:
    settings.MIDDLEWARE = ["policies.consumer.django.CorsMiddleware"]
    settings.CORSADMIN_URL = "https://central.internal"
    settings.CORSADMIN_TOKEN = TOKEN
    settings.CORSADMIN_APIS = "billing,search"
    settings.CORSADMIN_PUBLIC_KEYS = PUBLIC_JWKS
    assert consumer_checks.check_settings() == []
