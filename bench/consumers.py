"""Benchmark: what each consumer middleware adds to a request, against baselines, in one run.

    .venv/bin/python bench/consumers.py [--rounds 3000] [--memory 200000]

Every number is the best of 5 runs of ``--rounds`` requests, in µs per request, and each
ratio divides by a baseline measured in the same run on the same machine:

- Django: ``WSGIHandler`` called directly (the whole Django request cycle, a view returning
  JSON), without CORS middleware (the baseline, ratio x1.00), with django-cors-headers (10
  origins) and with corsadmin (10 origins, 100,000 exact origins, 1,000 wildcard/regex
  rules). Targets (issue 11): allowed GET ≤ x1.10, preflight ≤ x0.80, refused ≤ x1.10.
- WSGI: a Flask application bare, with flask-cors, with corsadmin's WSGI middleware; the
  added cost (µs over bare) of ours against flask-cors's. Target: ours ≤ theirs.
- ASGI: a Starlette application bare, with Starlette's ``CORSMiddleware``, with corsadmin's
  ASGI middleware, driven directly on one event loop; added cost, ours against theirs.
- Memory: ``--memory`` requests with random ``Origin``s through the WSGI middleware: the
  process's peak RSS and traced Python memory before and after, and the number of network
  calls made meanwhile (0: the request path never touches the network).

Documents come from a signed bootstrap file (no central, no network). Nothing is asserted:
the output is the measurement, recorded in bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from joserfc import jws
from joserfc.jwk import OKPKey

KEY = OKPKey.generate_key("Ed25519")
JWKS = {"keys": [{**KEY.as_dict(private=False), "kid": KEY.thumbprint()}]}
ALLOWED = "https://app5.example.com"
REFUSED = "https://evil.example.net"
WORKDIR = Path(tempfile.mkdtemp(prefix="corsadmin-bench-"))


def document(api: str, exact: int, patterns: int = 0) -> dict[str, Any]:
    half = patterns // 2
    return {
        "schema": 1,
        "api": api,
        "version": 1,
        "mode": "enforce",
        "paths": "^/api/",
        "origins": {
            "exact": [f"https://app{n}.example.com" for n in range(exact)],
            "wildcard": [f"https://*.team{n}.example.net" for n in range(half)],
            "regex": [rf"^https://pr-[0-9]+\.preview{n}\.example\.org$" for n in range(half)],
            "allow_all": False,
            "allow_null": False,
        },
        "methods": ["GET", "POST", "PUT"],
        "request_headers": ["content-type", "authorization"],
        "expose_headers": ["x-request-id"],
        "allow_credentials": True,
        "max_age": 600,
        "allow_private_network": False,
    }


def bootstrap(api: str, exact: int, patterns: int = 0) -> str:
    """A signed bootstrap file for ``api``; its path."""
    body = json.dumps(document(api, exact, patterns), sort_keys=True, separators=(",", ":"))
    protected, _, signature = jws.serialize_compact(
        {"alg": "EdDSA", "kid": KEY.thumbprint()}, body.encode(), KEY, algorithms=["EdDSA"]
    ).split(".")
    path = WORKDIR / f"{api}.json"
    path.write_text(json.dumps([{"document": body, "signature": f"{protected}..{signature}"}]))
    return str(path)


def consumer_settings(api: str, exact: int, patterns: int = 0) -> dict[str, Any]:
    return {
        "apis": api,
        "bootstrap_file": bootstrap(api, exact, patterns),
        "public_keys": JWKS,
        "telemetry": False,
    }


def environ(method: str, origin: str | None, preflight: bool) -> dict[str, Any]:
    env: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": "/api/items",
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "wsgi.url_scheme": "http",
        "wsgi.input": None,
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if origin is not None:
        env["HTTP_ORIGIN"] = origin
    if preflight:
        env["HTTP_ACCESS_CONTROL_REQUEST_METHOD"] = "PUT"
        env["HTTP_ACCESS_CONTROL_REQUEST_HEADERS"] = "content-type"
    return env


CASES = {
    "allowed GET": ("GET", ALLOWED, False),
    "preflight": ("OPTIONS", ALLOWED, True),
    "refused GET": ("GET", REFUSED, False),
}


def measure(calls: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """µs per call of each variant: the best of 15 batches of ``rounds // 5`` calls, the
    variants interleaved batch by batch, so that a busy machine slows them all alike. CPU time
    of this process (``time.process_time``): the other processes of a shared machine do not
    count, only this one's work."""
    batch = max(rounds // 5, 1)
    results: dict[str, float] = dict.fromkeys(calls, float("inf"))
    for call in calls.values():
        for _ in range(min(batch, 50)):
            call()  # warm: memos, caches, lazy imports
    for _ in range(15):
        for name, call in calls.items():
            gc.collect()
            started = time.process_time()
            for _ in range(batch):
                call()
            results[name] = min(results[name], (time.process_time() - started) / batch * 1e6)
    return results


def per_case(
    apps: dict[str, Any], rounds: int, caller: Callable[[Any, dict[str, Any]], Callable[[], object]]
) -> dict[str, dict[str, float]]:
    """{variant: {case: µs}} for every request case, variants interleaved per case."""
    times: dict[str, dict[str, float]] = {name: {} for name in apps}
    for case, spec in CASES.items():
        found = measure({name: caller(app, environ(*spec)) for name, app in apps.items()}, rounds)
        for name, value in found.items():
            times[name][case] = value
    return times


def wsgi_call(app: Any, env: dict[str, Any]) -> Callable[[], object]:
    from io import BytesIO

    def start_response(status: str, headers: list[Any], exc_info: Any = None) -> Any:
        return None

    def call() -> object:
        request = dict(env)
        request["wsgi.input"] = BytesIO(b"")
        body = app(request, start_response)
        for _ in body:
            pass
        close = getattr(body, "close", None)
        if close is not None:
            close()
        return body

    return call


def table(title: str, rows: list[tuple[str, ...]], header: tuple[str, ...]) -> None:
    print(f"\n{title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


# --- Django -------------------------------------------------------------------------------


def django_bench(rounds: int) -> None:
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-only",
        ALLOWED_HOSTS=["127.0.0.1"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=[],
        INSTALLED_APPS=[],
        CORS_ALLOWED_ORIGINS=[f"https://app{n}.example.com" for n in range(10)],
        CORS_ALLOW_METHODS=["GET", "POST", "PUT"],
        CORS_ALLOW_HEADERS=["content-type", "authorization"],
        CORS_EXPOSE_HEADERS=["x-request-id"],
        CORS_ALLOW_CREDENTIALS=True,
        CORS_PREFLIGHT_MAX_AGE=600,
        CORS_URLS_REGEX=r"^/api/",
        LOGGING_CONFIG=None,
    )
    import django

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler

    globals()["urlpatterns"] = _urlpatterns()

    def handler(middleware: list[str], **corsadmin: Any) -> WSGIHandler:
        settings.MIDDLEWARE = middleware
        for name in [n for n in dir(settings) if n.startswith("CORSADMIN_")]:
            delattr(settings, name)
        for key, value in corsadmin.items():
            setattr(settings, "CORSADMIN_" + key.upper(), value)
        return WSGIHandler()

    ours = "policies.consumer.django.CorsMiddleware"
    variants = {
        "no CORS middleware (baseline)": handler([]),
        "django-cors-headers, 10 origins": handler(["corsheaders.middleware.CorsMiddleware"]),
        "corsadmin, 10 origins": handler([ours], **consumer_settings("d10", 10)),
        "corsadmin, 100,000 origins": handler([ours], **consumer_settings("d100k", 100_000)),
        "corsadmin, 1,000 wildcard/regex": handler([ours], **consumer_settings("dre", 10, 1000)),
    }
    times = per_case(variants, rounds, wsgi_call)
    base = times["no CORS middleware (baseline)"]
    rows = []
    for name, values in times.items():
        rows.append(
            (
                name,
                *(f"{values[case]:.1f} (x{values[case] / base[case]:.2f})" for case in CASES),
            )
        )
    table(
        "Django, WSGIHandler called directly: µs per request (x the baseline)",
        rows,
        ("variant", *CASES),
    )


def _django_view(request: Any) -> Any:
    from django.http import JsonResponse

    response = JsonResponse({"items": [1, 2, 3]})
    response["X-Request-Id"] = "r1"
    return response


def _urlpatterns() -> list[Any]:
    from django.urls import path

    return [path("api/items", _django_view)]


# --- WSGI (Flask) ---------------------------------------------------------------------------


def flask_bench(rounds: int) -> None:
    from flask import Flask, jsonify
    from flask_cors import CORS

    from policies.consumer.wsgi import CorsMiddleware

    def make(kind: str) -> Any:
        app = Flask(f"bench_{kind}")

        @app.route("/api/items", methods=["GET", "OPTIONS", "PUT"])
        def items() -> Any:
            return jsonify(items=[1, 2, 3])

        if kind == "flask-cors":
            CORS(
                app,
                origins=[f"https://app{n}.example.com" for n in range(10)],
                methods=["GET", "POST", "PUT"],
                allow_headers=["content-type", "authorization"],
                expose_headers=["x-request-id"],
                supports_credentials=True,
                max_age=600,
            )
        if kind == "corsadmin":
            app.wsgi_app = CorsMiddleware(app.wsgi_app, **consumer_settings("f10", 10))  # type: ignore[method-assign]
        return app

    added(
        "WSGI (Flask)", {k: make(k) for k in ("bare", "flask-cors", "corsadmin")}, rounds, wsgi_call
    )


def added(
    title: str, apps: dict[str, Any], rounds: int, caller: Callable[[Any, dict[str, Any]], Any]
) -> None:
    times = per_case(apps, rounds, caller)
    names = list(apps)
    bare, theirs, ours = names
    rows = []
    for case in CASES:
        theirs_adds = times[theirs][case] - times[bare][case]
        ours_adds = times[ours][case] - times[bare][case]
        rows.append(
            (
                case,
                f"{times[bare][case]:.1f}",
                f"{theirs_adds:+.1f}",
                f"{ours_adds:+.1f}",
                "yes" if ours_adds <= theirs_adds else "no",
            )
        )
    table(
        f"{title}: µs per request; what each CORS layer adds to the bare application",
        rows,
        ("request", bare, f"{theirs} adds", f"{ours} adds", "ours <= theirs"),
    )


# --- ASGI (Starlette) -----------------------------------------------------------------------


def starlette_bench(rounds: int) -> None:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.cors import CORSMiddleware
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from policies.consumer.asgi import CorsMiddleware

    async def items(request: Any) -> JSONResponse:
        return JSONResponse({"items": [1, 2, 3]})

    def make(kind: str) -> Any:
        middleware = []
        if kind == "starlette CORSMiddleware":
            middleware.append(
                Middleware(
                    CORSMiddleware,
                    allow_origins=[f"https://app{n}.example.com" for n in range(10)],
                    allow_methods=["GET", "POST", "PUT"],
                    allow_headers=["content-type", "authorization"],
                    expose_headers=["x-request-id"],
                    allow_credentials=True,
                    max_age=600,
                )
            )
        if kind == "corsadmin":
            middleware.append(Middleware(CorsMiddleware, **consumer_settings("s10", 10)))
        return Starlette(
            routes=[Route("/api/items", items, methods=["GET", "OPTIONS", "PUT"])],
            middleware=middleware,
        )

    loop = asyncio.new_event_loop()

    def asgi_call(app: Any, env: dict[str, Any]) -> Callable[[], object]:
        headers = [(b"host", b"127.0.0.1:8000")]
        if "HTTP_ORIGIN" in env:
            headers.append((b"origin", env["HTTP_ORIGIN"].encode()))
        if "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in env:
            headers.append((b"access-control-request-method", b"PUT"))
            headers.append((b"access-control-request-headers", b"content-type"))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": env["REQUEST_METHOD"],
            "scheme": "http",
            "path": "/api/items",
            "raw_path": b"/api/items",
            "root_path": "",
            "query_string": b"",
            "headers": headers,
            "server": ("127.0.0.1", 8000),
            "client": ("127.0.0.1", 50000),
        }

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Any) -> None:
            return None

        def call() -> object:
            return loop.run_until_complete(app(dict(scope), receive, send))

        return call

    apps = {k: make(k) for k in ("bare", "starlette CORSMiddleware", "corsadmin")}
    added("ASGI (Starlette)", apps, rounds, asgi_call)


# --- memory -----------------------------------------------------------------------------------


def memory_bench(requests: int) -> None:
    import httpx

    from policies.consumer.wsgi import CorsMiddleware

    calls = 0
    real_send = httpx.Client.send

    def counting_send(self: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return real_send(self, *args, **kwargs)

    httpx.Client.send = counting_send  # type: ignore[method-assign]

    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]

    middleware = CorsMiddleware(app, **consumer_settings("m10", 10))
    rng = random.Random(1)

    def run(count: int) -> None:
        call = wsgi_call(middleware, environ("GET", ALLOWED, False))
        for _ in range(count):
            env = environ("GET", f"https://{rng.getrandbits(64):x}.example.org", False)
            start = lambda *a: None  # noqa: E731
            for _ in middleware(env, start):
                pass
        call()

    tracemalloc.start()
    run(20_000)  # warm: memos full once
    gc.collect()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    traced_before = tracemalloc.get_traced_memory()[0]
    run(requests)
    gc.collect()
    traced_after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    table(
        f"Memory: {requests:,} requests from random origins (WSGI middleware, warmed with 20,000)",
        [
            (
                "traced Python memory",
                f"{traced_before / 1024:.0f} KiB",
                f"{traced_after / 1024:.0f} KiB",
                f"{(traced_after - traced_before) / 1024:+.0f} KiB",
            ),
            (
                "peak RSS",
                f"{rss_before / 1024:.1f} MiB",
                f"{rss_after / 1024:.1f} MiB",
                f"{(rss_after - rss_before) / 1024:+.1f} MiB",
            ),
            ("network calls", "0", str(calls), f"{calls:+d}"),
        ],
        ("measure", "before", "after", "growth"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3000)
    parser.add_argument("--memory", type=int, default=200_000)
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, rounds={args.rounds}")
    django_bench(args.rounds)
    flask_bench(args.rounds)
    starlette_bench(args.rounds)
    if args.memory:
        memory_bench(args.memory)


if __name__ == "__main__":
    main()
