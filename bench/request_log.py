"""Benchmark: what the request id and the JSON request log line add to each request.

    .venv/bin/python bench/request_log.py [--rounds 5000]

The cheapest request central answers on the policy endpoint's fast path: a revalidation of
the public keys (`GET /api/v1/keys` with `If-None-Match`, answered `304` by
`PolicyEndpointMiddleware`, no database, no Redis), through the whole WSGI stack
in-process, so the fixed per-request cost is not hidden behind document work. Three stacks,
measured in the same run, best of 5: the settings as shipped (request id + one JSON log line
per request, written to /dev/null), the same with the log line filtered out (level above
INFO), and the baseline without `policies.request_context.RequestContextMiddleware`.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import sys
import tempfile
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
_work = tempfile.mkdtemp(prefix="corsadmin-bench-")
os.environ.update(
    DJANGO_SETTINGS_MODULE="corsadmin.settings",
    SECRET_KEY="bench-only-" + "x" * 40,
    DATABASE_URL=f"sqlite:///{_work}/bench.sqlite3",  # never opened on this path
    CORSADMIN_VAR_DIR=_work,
    ALLOWED_HOSTS="testserver",
    LOG_FORMAT="json",
)
os.environ.pop("REDIS_URL", None)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402

from policies import signing  # noqa: E402


def _environ(path: str, etag: str) -> dict[str, object]:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "testserver",
        "HTTP_IF_NONE_MATCH": etag,
        "wsgi.input": io.BytesIO(b""),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5000)
    rounds = parser.parse_args().rounds

    signing.add_key(Path(settings.CORSADMIN_SIGNING_KEY_FILE))
    # Log lines go to /dev/null: the cost measured is building and writing them.
    sink = open(os.devnull, "w")  # noqa: SIM115
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(sink)

    path = "/api/v1/keys"
    shipped = list(settings.MIDDLEWARE)
    without = [m for m in shipped if m != "policies.request_context.RequestContextMiddleware"]

    def stack(middleware: list[str], level: int) -> tuple[WSGIHandler, str]:
        settings.MIDDLEWARE = middleware
        logging.getLogger("policies.access").setLevel(level)
        handler = WSGIHandler()
        first: list[str] = []
        handler(_environ(path, '"x"'), lambda s, h: first.append(dict(h)["ETag"]))
        return handler, first[0]

    def run(handler: WSGIHandler, etag: str) -> float:
        statuses: list[str] = []

        def start(status: str, headers: object) -> None:
            statuses.append(status)

        def once() -> None:
            b"".join(handler(_environ(path, etag), start))

        best = min(timeit.repeat(once, number=rounds, repeat=5)) / rounds * 1e6
        assert set(statuses) == {"304 Not Modified"}, set(statuses)
        return best

    results = {}
    for name, middleware, level in (
        ("no request context (baseline)", without, logging.INFO),
        ("request id, no log line", shipped, logging.WARNING),
        ("request id + JSON log line (shipped)", shipped, logging.INFO),
    ):
        handler, etag = stack(middleware, level)
        results[name] = run(handler, etag)
    baseline = results["no request context (baseline)"]
    print(f"GET /api/v1/keys -> 304, in-process WSGI, best of 5 x {rounds} (µs per request)")
    print("| stack | µs | vs baseline |")
    print("|---|---:|---:|")
    for name, micros in results.items():
        print(f"| {name} | {micros:.1f} | {micros / baseline:.2f} |")


if __name__ == "__main__":
    main()
