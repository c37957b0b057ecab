"""Benchmark: the cost of one CORS decision as the policy grows.

    .venv/bin/python bench/engine.py [--rounds 20000]

Measures `policies.cors.decide` on a compiled policy (what a consumer middleware calls per
request) for policies of 10, 1,000 and 10,000 exact origins plus 50 wildcards, for an
actual request from a listed origin, a refused origin and a preflight. Two baselines,
measured in the same run: our own 10-origin policy (the ratio shows the cost does not grow
with the number of origins) and django-cors-headers' middleware deciding the same request
with the same origins configured (its per-request cost in a Django service today).
"""

from __future__ import annotations

import argparse
import os
import sys
import timeit
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.test import RequestFactory  # noqa: E402

from policies.cors import compile_policy, decide  # noqa: E402


def document(exact: int) -> dict[str, Any]:
    return {
        "schema": 1,
        "api": "bench",
        "version": 1,
        "mode": "enforce",
        "paths": None,
        "origins": {
            "exact": [f"https://app{n}.example.com" for n in range(exact)],
            "wildcard": [f"https://*.team{n}.example.net" for n in range(50)],
            "regex": [],
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


REQUESTS = {
    "listed origin, GET": ("GET", {"Origin": "https://app5.example.com"}),
    "refused origin, GET": ("GET", {"Origin": "https://evil.example.org"}),
    "preflight": (
        "OPTIONS",
        {
            "Origin": "https://app5.example.com",
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type",
        },
    ),
}


def per_call_us(statement: Any, rounds: int) -> float:
    return min(timeit.repeat(statement, number=rounds, repeat=5)) / rounds * 1e6


# Distinct refused origins, more than the engine's per-policy match memo holds, so every
# call pays for the RE2 set match (what an attacker sending random origins costs).
DISTINCT = [{"Origin": f"https://x{n}.evil.example.org"} for n in range(5000)]


def ours(size: int, rounds: int) -> dict[str, float]:
    policy = compile_policy(document(size))
    results = {
        name: per_call_us(
            lambda m=method, h=headers: decide(policy, method=m, path="/api/x", headers=h), rounds
        )
        for name, (method, headers) in REQUESTS.items()
    }
    cycle = iter(DISTINCT * (rounds * 5 // len(DISTINCT) + 2))
    results["distinct refused, GET"] = per_call_us(
        lambda: decide(policy, method="GET", path="/api/x", headers=next(cycle)), rounds
    )
    return results


def corsheaders(size: int, rounds: int) -> dict[str, float]:
    from corsheaders.middleware import CorsMiddleware

    doc = document(size)
    settings.CORS_ALLOWED_ORIGINS = doc["origins"]["exact"]
    settings.CORS_ALLOWED_ORIGIN_REGEXES = [
        rf"^https://[a-z0-9-]+(\.[a-z0-9-]+)*\.team{n}\.example\.net$" for n in range(50)
    ]
    settings.CORS_ALLOW_CREDENTIALS = True
    settings.CORS_ALLOW_METHODS = doc["methods"]
    settings.CORS_ALLOW_HEADERS = doc["request_headers"]
    settings.CORS_EXPOSE_HEADERS = doc["expose_headers"]
    middleware = CorsMiddleware(lambda request: HttpResponse())
    factory = RequestFactory()
    # Its cost grows with the list, so fewer rounds for the large lists keep the run short.
    number = max(20, min(rounds // 4, 2_000_000 // size // 100))
    results = {}
    for name, (method, headers) in REQUESTS.items():
        request = factory.generic(method, "/api/x", headers=headers)
        results[name] = per_call_us(lambda r=request: middleware(r), number)
    request = factory.get("/api/x", headers=DISTINCT[0])
    results["distinct refused, GET"] = per_call_us(lambda: middleware(request), number)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20000)
    args = parser.parse_args()
    sizes = (10, 1_000, 10_000)
    baseline = ours(10, args.rounds)
    print("policies.cors.decide, microseconds per call (best of 5)")
    print(
        f"{'request':22} {'origins':>8} {'decide':>8} {'vs 10':>7} {'corsheaders':>12} {'ratio':>7}"
    )
    for size in sizes:
        mine = ours(size, args.rounds)
        theirs = corsheaders(size, args.rounds)
        for name in mine:
            print(
                f"{name:22} {size:8,} {mine[name]:8.2f} {mine[name] / baseline[name]:7.2f} "
                f"{theirs[name]:12.2f} {mine[name] / theirs[name]:7.3f}"
            )


if __name__ == "__main__":
    main()
