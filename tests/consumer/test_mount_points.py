"""Policies' ``paths`` are matched inside the application, under a real server mounted
under a prefix (issue 9, part 3): WSGI ``SCRIPT_NAME`` (gunicorn), ASGI ``root_path``
(``uvicorn --root-path``), Django ``SCRIPT_NAME`` and ``FORCE_SCRIPT_NAME`` (gunicorn)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.consumer.conftest import EVIL, ORIGIN, PUBLIC_JWKS, document, signed_entry

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ACAO = "access-control-allow-origin"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    """Start a server process for a mounted app; stopped after the test."""
    started: list[subprocess.Popen[bytes]] = []

    def start(kind: str, command: list[str], **extra: str) -> str:
        bootstrap = tmp_path / "bootstrap.json"
        bootstrap.write_text(json.dumps([signed_entry(document())]))
        port = _free_port()
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("CORSADMIN_", "DJANGO_", "SCRIPT_NAME"))
        }
        env.update(
            PYTHONPATH=str(ROOT),
            MOUNTED_KIND=kind,
            CORSADMIN_BOOTSTRAP_FILE=str(bootstrap),
            CORSADMIN_PUBLIC_KEYS=json.dumps(PUBLIC_JWKS),
            CORSADMIN_APIS="billing",
            **extra,
        )
        log = (tmp_path / f"{kind}.log").open("wb")
        process = subprocess.Popen(
            [
                str(BIN / command[0]),
                *command[1:],
                "--bind" if command[0] == "gunicorn" else "--port",
                f"127.0.0.1:{port}" if command[0] == "gunicorn" else str(port),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise AssertionError((tmp_path / f"{kind}.log").read_text())
            try:
                httpx.get(url, timeout=0.5)
                return url
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    yield start
    for process in started:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _assert_policy_applies(url: str, path: str) -> None:
    # The policy's paths are "^/api/": matched against the path inside the application.
    allowed = httpx.get(url + path, headers={"Origin": ORIGIN}, timeout=5)
    assert allowed.status_code == 200, allowed.text
    assert allowed.headers.get(ACAO) == ORIGIN
    assert "Origin" in allowed.headers.get("vary", "")
    refused = httpx.get(url + path, headers={"Origin": EVIL}, timeout=5)
    assert ACAO not in refused.headers
    preflight = httpx.options(
        url + path, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "PUT"}, timeout=5
    )
    assert preflight.status_code == 200
    assert preflight.headers.get(ACAO) == ORIGIN


def test_wsgi__gunicorn_script_name__paths_matched_inside_the_mount(serve: Any) -> None:
    # Given a Flask service under gunicorn, mounted at /svc (SCRIPT_NAME)
    url = serve("flask", ["gunicorn", "tests.consumer.mounted:flask_app"], SCRIPT_NAME="/svc")
    # When a browser calls /svc/api/items, Then the ^/api/ policy applies
    _assert_policy_applies(url, "/svc/api/items")


def test_asgi__uvicorn_root_path__paths_matched_inside_the_mount(serve: Any) -> None:
    # Given a FastAPI service under uvicorn --root-path /svc (behind a prefix-stripping proxy)
    url = serve(
        "fastapi",
        [
            "uvicorn",
            "tests.consumer.mounted:fastapi_app",
            "--root-path",
            "/svc",
            "--host",
            "127.0.0.1",
        ],
    )
    # When the proxy forwards /api/items (scope path /svc/api/items), Then the policy applies
    _assert_policy_applies(url, "/api/items")


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        ({"SCRIPT_NAME": "/svc"}, "/svc/api/items"),
        ({"FORCE_SCRIPT_NAME": "/svc"}, "/api/items"),
    ],
    ids=["script-name", "force-script-name"],
)
def test_django__gunicorn_mounted__paths_matched_inside_the_mount(
    serve: Any, extra: dict[str, str], path: str
) -> None:
    # Given a Django service under gunicorn mounted at /svc (the server's SCRIPT_NAME, or a
    # prefix-stripping proxy and FORCE_SCRIPT_NAME)
    url = serve("django", ["gunicorn", "tests.consumer.mounted:django_app"], **extra)
    # Then Django sees the mount (request.path under /svc) and the policy still applies
    assert httpx.get(url + path, timeout=5).json()["path"] == "/svc/api/items"
    _assert_policy_applies(url, path)
