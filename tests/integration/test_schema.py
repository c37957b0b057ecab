"""The OpenAPI schema against the running application: schemathesis generates requests for
every management operation from `/api/schema/` and sends them, with a real personal access
token, through the WSGI application. No answer may be a 5xx, and every answer (status, content
type, headers, body) must be one the schema describes.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.contrib.auth.models import Group, User
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from corsadmin.wsgi import application
from policies import services
from policies.actors import Actor
from policies.models import Api, OriginRule, ServiceToken
from webhooks import services as webhooks
from webhooks.models import Delivery, Subscription

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _ensure_billing(member: User, team: Group) -> Api:
    """The API the fuzzer aims at; recreated if a generated DELETE removed it."""
    api = Api.objects.filter(slug="billing").first()
    if api is None:
        api = services.create_api(
            actor=Actor.for_user(member),
            slug="billing",
            name="Billing",
            team=team,
            origins=[{"value": "https://app.example.com"}],
        )
    if not api.origins.exists():
        services.add_origin(actor=Actor.for_user(member), api=api, value="https://a.example.com")
    if not ServiceToken.objects.filter(apis=api).exists():
        services.issue_service_token(actor=Actor.for_user(member), name="web", apis=[api])
    if not Subscription.objects.exists():
        webhooks.create_subscription(
            actor=Actor.for_user(member),
            name="ops",
            url="https://hooks.example.com/fuzz",
            team=team,
            event_types=["policy.published"],
        )
    if not Delivery.objects.exists():
        webhooks.record_event("policy.published", api=api, payload={"version": api.version})
    return api


def _aim(case: Any) -> None:
    """Point three cases in four at real objects and plausible values, so they get past the
    404 (generated slugs and ids almost never exist) and past the 400 to the service.

    Which cases is decided by a hash of the generated values, so a failing case replays the
    same way; the other quarter is sent exactly as generated.
    """
    seed = zlib.crc32(repr((case.path_parameters, case.query, case.body)).encode())
    if seed % 4 == 0:
        return
    params = case.path_parameters or {}
    api = Api.objects.get(slug="billing")
    if "slug" in params:
        params["slug"] = api.slug
    if "id" in params:
        found: Any = (
            OriginRule.objects.filter(api=api)
            if "/origins/" in case.operation.path
            else Subscription.objects.all()
            if "/webhooks/" in case.operation.path
            else ServiceToken.objects.all()
        )
        params["id"] = found.values_list("pk", flat=True).first() or params["id"]
    if "version" in params:
        params["version"] = 1
    if "delivery_id" in params:
        params["delivery_id"] = Delivery.objects.values_list("pk", flat=True).first()
    if isinstance(case.body, dict):
        plausible = {
            "team": "payments",
            "slug": f"fuzz-{seed}",
            "value": f"https://fuzz-{seed}.example.com",
            "kind": "exact",
            "url": f"https://fuzz-{seed}.example.com/hook",
        }
        for name, value in plausible.items():
            if isinstance(case.body.get(name), str):
                case.body[name] = value


# Loaded once, at collection: building the schema reads no database. (schemathesis'
# `from_fixture` is not used: its lazy loader does not run under pytest 9.)
schema = schemathesis.openapi.from_wsgi("/api/schema/", application).include(
    path_regex=r"^/api/v1/(apis|tokens|audit|webhooks)"
)


@pytest.fixture
def keep_test_connection() -> Iterator[None]:
    """The raw WSGI handler closes the database connection after each request (Django's test
    client suspends that); on PostgreSQL that would close the test's transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def bearer(member: User) -> dict[str, str]:
    _, secret = services.issue_access_token(actor=Actor.system("tests"), user=member, name="fuzz")
    return {"Authorization": f"Bearer {secret}"}


# One test per operation, listed at collection. (schemathesis' own `parametrize` creates its
# items lazily, and under pytest-xdist those items silently never run.)
OPERATIONS = [result.ok() for result in schema.get_all_operations()]


@pytest.mark.django_db
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
def test_management_api__generated_requests__no_5xx_and_schema_conformant(
    operation: Any, bearer: dict[str, str], member: User, team: Group, keep_test_connection: None
) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=12,
        deadline=None,
        database=None,
        derandomize=True,  # the same cases on every run: CI does not flake on a new seed
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        # Given the API the cases aim at (a generated DELETE may have removed it)
        _ensure_billing(member, team)
        _aim(case)
        # When the generated request is sent with a real personal token
        response = case.call(headers=bearer)
        # Then it is no server error and matches the schema
        case.validate_response(response, checks=CHECKS)

    check()


def test_schema__served__openapi_3_with_management_paths(client: Client) -> None:
    response = client.get("/api/schema/", headers={"Accept": "application/vnd.oai.openapi+json"})
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    paths = set(document["paths"])
    assert {
        "/api/v1/apis/",
        "/api/v1/apis/{slug}/",
        "/api/v1/apis/{slug}/origins/{id}/",
        "/api/v1/apis/{slug}/tokens/",
        "/api/v1/tokens/{id}/",
        "/api/v1/apis/{slug}/versions/{version}/rollback",
        "/api/v1/audit/",
        "/api/v1/webhooks/",
        "/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver",
    } <= paths
    assert document["components"]["securitySchemes"]["personalToken"]["scheme"] == "bearer"


@pytest.mark.django_db
def test_docs_page__served__assets_vendored_no_cdn_nothing_inline(client: Client) -> None:
    # When the docs page is fetched
    page = client.get("/api/docs/")
    # Then it loads its scripts from this server's static files, not a CDN, none inline
    assert page.status_code == 200
    html = page.content.decode()
    assert "/static/drf_spectacular_sidecar/" in html
    assert "cdn.jsdelivr.net" not in html
    assert "<style" not in html
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None
    assert "default-src 'none'" in page["Content-Security-Policy"]
    # And its start-up script is a file of its own
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()
    asset = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert asset.status_code == 200


@pytest.mark.django_db
def test_redoc_page__dropped__not_found(client: Client) -> None:
    # ReDoc loaded web fonts from a CDN and needs inline styles: it is not served any more
    assert client.get("/api/redoc/").status_code == 404
