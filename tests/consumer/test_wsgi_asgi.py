"""The WSGI (Flask) and ASGI (FastAPI) middlewares: each case runs against both."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from flask import Flask, abort, jsonify
from flask_cors import CORS
from starlette.middleware.cors import CORSMiddleware as StarletteCORSMiddleware
from werkzeug.test import Client as WerkzeugClient

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with")  # prefers httpx2
    from starlette.testclient import TestClient

from policies.consumer import asgi, wsgi
from policies.consumer import client as client_module
from policies.consumer.client import PolicyClient
from tests.consumer.conftest import EVIL, ORIGIN, PUBLIC_JWKS, FakeCentral, document

ACAO = "Access-Control-Allow-Origin"
PREFLIGHT = {"Origin": ORIGIN, "Access-Control-Request-Method": "PUT"}
LEGACY = "https://legacy.example.com"
"""The origin the service's own CORS layer (flask-cors, Starlette's) allowed before."""


def flask_app(legacy_cors: bool = False) -> Flask:
    app = Flask(__name__)
    if legacy_cors:
        # The service's previous CORS layer, kept while the API is in report-only mode.
        CORS(app, origins=[LEGACY], supports_credentials=True)

    @app.before_request
    def require_auth() -> Any:
        from flask import request

        if request.path.startswith("/api/private") and "Authorization" not in request.headers:
            abort(401)
        return None

    @app.route("/api/items", methods=["GET", "POST"])
    def items() -> Any:
        response = jsonify(items=[1])
        response.headers["X-Request-Id"] = "r1"
        response.headers["Vary"] = "Accept-Encoding"
        return response

    @app.route("/api/own-cors")
    def own_cors() -> Any:
        response = jsonify(ok=True)
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response

    @app.route("/api/private")
    def private() -> Any:
        return jsonify(secret=True)

    @app.route("/api/boom")
    def boom() -> Any:
        raise RuntimeError("boom")

    @app.route("/health")
    def health() -> Any:
        return jsonify(ok=True)

    return app


def fastapi_app(legacy_cors: bool = False) -> FastAPI:
    app = FastAPI()
    if legacy_cors:
        app.add_middleware(
            StarletteCORSMiddleware,
            allow_origins=[LEGACY],
            allow_methods=["GET", "PUT"],
            allow_credentials=True,
        )

    @app.middleware("http")
    async def require_auth(request: Request, call_next: Any) -> Any:
        if request.url.path.startswith("/api/private") and "authorization" not in request.headers:
            return JSONResponse({"detail": "unauthorised"}, status_code=401)
        return await call_next(request)

    @app.api_route("/api/items", methods=["GET", "POST"])
    def items() -> Any:
        return JSONResponse(
            {"items": [1]}, headers={"X-Request-Id": "r1", "Vary": "Accept-Encoding"}
        )

    @app.get("/api/own-cors")
    def own_cors() -> Any:
        return JSONResponse({"ok": True}, headers={"Access-Control-Allow-Origin": "*"})

    @app.get("/api/private")
    def private() -> Any:
        raise HTTPException(403)

    @app.get("/api/boom")
    def boom() -> Any:
        raise RuntimeError("boom")

    @app.get("/health")
    def health() -> Any:
        return {"ok": True}

    return app


class Harness:
    """One interface over werkzeug's and starlette's test clients."""

    def __init__(self, kind: str, client: PolicyClient, legacy_cors: bool = False) -> None:
        self.kind = kind
        self.policy_client = client
        if kind == "wsgi":
            app = flask_app(legacy_cors)
            app.wsgi_app = wsgi.CorsMiddleware(app.wsgi_app, client=client)  # type: ignore[method-assign]
            self.werkzeug = WerkzeugClient(app)
        else:
            fast = fastapi_app(legacy_cors)
            fast.add_middleware(asgi.CorsMiddleware, client=client)
            self.starlette = TestClient(fast, raise_server_exceptions=False)

    def request(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, Any]:
        if self.kind == "wsgi":
            response = self.werkzeug.open(path, method=method, headers=headers)
            return response.status_code, response.headers
        answer = self.starlette.request(method, path, headers=headers)
        return answer.status_code, answer.headers


@pytest.fixture(params=["wsgi", "asgi"])
def harness(request: pytest.FixtureRequest, central: FakeCentral, make_client: Any) -> Harness:
    return Harness(request.param, make_client(central.url))


def values(headers: Any, name: str) -> list[str]:
    return list(headers.getlist(name) if hasattr(headers, "getlist") else headers.get_list(name))


def test_preflight__answered_before_the_app_even_where_auth_is_required(harness: Harness) -> None:
    status, headers = harness.request("OPTIONS", "/api/private", PREFLIGHT)
    assert status == 200
    assert headers[ACAO] == ORIGIN
    assert "PUT" in headers["Access-Control-Allow-Methods"]
    assert headers["Access-Control-Allow-Credentials"] == "true"
    assert headers["Access-Control-Max-Age"] == "600"
    assert "Origin" in headers["Vary"]


def test_preflight__refused_origin__403_without_cors_headers(harness: Harness) -> None:
    status, headers = harness.request("OPTIONS", "/api/items", {**PREFLIGHT, "Origin": EVIL})
    assert status == 403
    assert ACAO not in headers


def test_options_without_request_method__goes_to_the_app(harness: Harness) -> None:
    status, headers = harness.request("OPTIONS", "/api/items", {"Origin": ORIGIN})
    assert status in (200, 405)  # the framework's own answer (Flask 200, FastAPI 405)
    assert values(headers, ACAO) == [ORIGIN]


def test_actual__allowed__acao_exposed_headers_vary_merged(harness: Harness) -> None:
    status, headers = harness.request("GET", "/api/items", {"Origin": ORIGIN})
    assert status == 200
    assert values(headers, ACAO) == [ORIGIN]
    assert headers["Access-Control-Expose-Headers"] == "x-request-id"
    assert values(headers, "Vary") == ["Accept-Encoding, Origin"]


def test_actual__refused__no_cors_headers_but_vary(harness: Harness) -> None:
    status, headers = harness.request("GET", "/api/items", {"Origin": EVIL})
    assert status == 200
    assert ACAO not in headers
    assert values(headers, "Vary") == ["Accept-Encoding, Origin"]


@pytest.mark.parametrize(
    ("path", "expected"), [("/api/private", 401), ("/api/boom", 500), ("/api/missing", 404)]
)
def test_error_responses__carry_cors_headers(harness: Harness, path: str, expected: int) -> None:
    # Given an allowed origin, When the application answers with an error (its auth layer's
    # 401, an exception's 500, the router's 404)
    status, headers = harness.request("GET", path, {"Origin": ORIGIN})
    # Then that error reaches the browser's page with the policy's CORS headers
    assert status == expected
    assert values(headers, ACAO) == [ORIGIN]


def test_app_set_acao__replaced_never_duplicated(harness: Harness) -> None:
    _, headers = harness.request("GET", "/api/own-cors", {"Origin": ORIGIN})
    assert values(headers, ACAO) == [ORIGIN]
    _, refused = harness.request("GET", "/api/own-cors", {"Origin": EVIL})
    assert ACAO not in refused


def test_uncovered_path__untouched(harness: Harness) -> None:
    status, headers = harness.request("GET", "/health", {"Origin": ORIGIN})
    assert status == 200
    assert ACAO not in headers
    assert "Vary" not in headers


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_report_only__wrapped_cors_layer_answers__central_refusals_reported(
    central: FakeCentral, make_client: Any, kind: str
) -> None:
    # Given an API in report-only mode, and the service's previous CORS layer (flask-cors,
    # Starlette's CORSMiddleware) still inside the application, allowing LEGACY only
    central.publish(document(mode="report-only"))
    client = make_client(central.url)
    harness = Harness(kind, client, legacy_cors=True)
    # When LEGACY (refused by central's policy) and ORIGIN (allowed by it) make requests
    preflight_status, preflight = harness.request(
        "OPTIONS", "/api/items", {"Origin": LEGACY, "Access-Control-Request-Method": "PUT"}
    )
    _, legacy = harness.request("GET", "/api/items", {"Origin": LEGACY})
    _, allowed_by_central = harness.request("GET", "/api/items", {"Origin": ORIGIN})
    _, own = harness.request("GET", "/api/own-cors", {"Origin": EVIL})
    # Then every response is the application's own: its layer's headers, not central's
    assert preflight_status == 200
    assert values(preflight, ACAO) == [LEGACY]
    assert values(legacy, ACAO) == [LEGACY]
    assert values(legacy, "Access-Control-Allow-Credentials") == ["true"]
    assert ACAO not in allowed_by_central
    assert values(own, ACAO) == ["*"]
    # And what enforce mode would refuse is reported, by code
    refused = {(r["origin"], r["reason"]): r["count"] for r in client.report_payload()["refused"]}
    assert refused == {(LEGACY, "origin-not-allowed"): 2, (EVIL, "origin-not-allowed"): 1}


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_enforce__wrapped_cors_layer_headers__replaced_by_the_policy(
    central: FakeCentral, make_client: Any, kind: str
) -> None:
    # Given enforce mode and the old CORS layer still inside the application
    harness = Harness(kind, make_client(central.url), legacy_cors=True)
    # When LEGACY (allowed only by the old layer) and ORIGIN (by the policy) make requests
    _, legacy = harness.request("GET", "/api/items", {"Origin": LEGACY})
    _, allowed = harness.request("GET", "/api/items", {"Origin": ORIGIN})
    status, preflight = harness.request(
        "OPTIONS", "/api/items", {"Origin": LEGACY, "Access-Control-Request-Method": "PUT"}
    )
    # Then only the policy's answer reaches the browser
    assert ACAO not in legacy
    assert "Access-Control-Allow-Credentials" not in legacy
    assert values(allowed, ACAO) == [ORIGIN]
    assert status == 403
    assert ACAO not in preflight


def test_mode_off__untouched(central: FakeCentral, make_client: Any) -> None:
    central.publish(document(mode="off"))
    harness = Harness("asgi", make_client(central.url))
    _, headers = harness.request("GET", "/api/items", {"Origin": ORIGIN})
    assert ACAO not in headers


def test_raw_wsgi_app_raising__500_with_cors_headers(
    central: FakeCentral, make_client: Any
) -> None:
    def app(environ: Any, start_response: Any) -> Any:
        raise RuntimeError("boom")

    client = WerkzeugClient(wsgi.CorsMiddleware(app, client=make_client(central.url)))
    response = client.get("/api/x", headers={"Origin": ORIGIN})
    assert response.status_code == 500
    assert response.headers[ACAO] == ORIGIN


def test_keyword_configuration__builds_the_client(central: FakeCentral) -> None:
    middleware = wsgi.CorsMiddleware(
        flask_app().wsgi_app,
        url=central.url,
        token="cors_test-token",
        apis="billing",
        interval=5,
        public_keys=PUBLIC_JWKS,
    )
    assert middleware.client.apis == ("billing",)
    assert middleware.client.interval == 5
    middleware.client.close()


def test_own_origin__allowed_request__not_computed_refused_same_origin__not_counted(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The service's own origin only matters for a refusal (same-origin requests are not
    # counted as refused): an allowed request must not pay for working it out.
    real = client_module.own_origin
    calls: list[str | None] = []

    def counting(scheme: str, host: str | None) -> str | None:
        calls.append(real(scheme, host))
        return calls[-1]

    # The name the client really calls (raising=True: a wrong name fails the test).
    monkeypatch.setattr(client_module, "own_origin", counting)
    # When an allowed request, a same-origin one and a refused cross-origin one arrive
    harness.request("GET", "/api/items", {"Origin": ORIGIN})
    assert calls == []
    harness.request("POST", "/api/items", {"Origin": "http://localhost", "Host": "localhost"})
    harness.request("GET", "/api/items", {"Origin": EVIL, "Host": "localhost"})
    # Then only a refusal worked it out (once per host), and only the cross-origin one counts
    assert calls == ["http://localhost"]
    refused = harness.policy_client.report_payload()["refused"]
    assert [(r["origin"], r["reason"]) for r in refused] == [(EVIL, "origin-not-allowed")]


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_health_path__configured__served_as_json_before_the_app(
    central: FakeCentral, make_client: Any, kind: str
) -> None:
    # Given CORSADMIN_HEALTH_PATH=/-/cors-health
    harness = Harness(kind, make_client(central.url, health_path="/-/cors-health"))
    # When it is requested
    status, headers = harness.request("GET", "/-/cors-health", {})
    # Then the client's health answers, as JSON
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    if kind == "wsgi":
        body = harness.werkzeug.get("/-/cors-health").get_json()
    else:
        body = harness.starlette.get("/-/cors-health").json()
    assert body["apis"]["billing"]["version"] == 1
    assert body["ok"] is True


def test_middleware__client_and_options_together__configuration_error() -> None:
    from policies.consumer import asgi, wsgi
    from policies.consumer.config import ConfigurationError

    for middleware in (wsgi.CorsMiddleware, asgi.CorsMiddleware):
        # A ready client and its options at once is ambiguous: refused
        with pytest.raises(ConfigurationError, match="either client= or its options"):
            middleware(lambda *a: None, client=object(), url="http://x")  # type: ignore[arg-type]
        # Without a client, the keywords build one, validated by it
        with pytest.raises(ConfigurationError, match="apis"):
            middleware(lambda *a: None, url="http://x", token="cors_x")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("environ", "host"),
    [
        ({"HTTP_HOST": "api.example.com:8443", "SERVER_NAME": "x"}, "api.example.com:8443"),
        ({"SERVER_NAME": "api.internal", "SERVER_PORT": "8080"}, "api.internal:8080"),
        ({"SERVER_NAME": "api.internal"}, "api.internal"),
        ({}, None),
    ],
    ids=["host-header", "server-name-and-port", "server-name-only", "nothing"],
)
def test_host_from_environ__wsgi_and_django_meta__host_for_own_origin(
    environ: dict[str, str], host: str | None
) -> None:
    from policies.consumer.wsgi import host_from_environ

    assert host_from_environ(environ) == host
