"""Headless Chromium against consumers holding a GET-only policy (issue 9 part 1).

A CORS-safelisted method (GET, HEAD, POST) passes a preflight's method check whatever
Access-Control-Allow-Methods lists (Fetch, CORS-preflight fetch). So a page on an allowed
origin can fetch() a JSON POST (preflighted for its content-type) and a HEAD with a custom
header from a consumer whose policy lists only GET, as long as the consumer answers the
preflight; a PUT is still refused, and the other origin gets nothing.

Each consumer is the example service started from a bootstrap file holding the policy
document (the middleware's public configuration, no central server needed), with
``max_age: 0`` so Chromium sends a fresh preflight for every request.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import pytest

from tests.consumer.conftest import PUBLIC_JWKS, signed_entry
from tests.e2e.conftest import SLUG, Consumer, _base_env, free_port
from tests.e2e.test_browser import _Page, browser  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.xdist_group("e2e")]

SCRIPT = """
async (base) => {
  const attempt = async (what) => {
    try { return await what(); } catch (error) { return { blocked: String(error) }; }
  };
  return {
    jsonPost: await attempt(async () => {
      const r = await fetch(base + "/api/items", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ name: "fig" }),
      });
      return { status: r.status, body: await r.json() };
    }),
    headWithHeader: await attempt(async () => {
      const r = await fetch(base + "/api/items", {
        method: "HEAD",
        headers: { "X-Trace": "e2e" },
      });
      return { status: r.status, type: r.type };
    }),
    put: await attempt(async () => {
      const r = await fetch(base + "/api/items", { method: "PUT", body: "x" });
      return { status: r.status };
    }),
  };
}
"""


def get_only_policy(origin: str) -> dict[str, Any]:
    return {
        "schema": 1,
        "api": SLUG,
        "version": 1,
        "updated_at": "2026-11-29T00:00:00Z",
        "mode": "enforce",
        "paths": "^/api/",
        "origins": {
            "exact": [origin],
            "wildcard": [],
            "regex": [],
            "allow_all": False,
            "allow_null": False,
        },
        "methods": ["GET"],
        "request_headers": ["content-type", "x-trace"],
        "expose_headers": [],
        "allow_credentials": False,
        "max_age": 0,
        "allow_private_network": False,
    }


@pytest.fixture(scope="module")
def origins() -> Iterator[tuple[str, str]]:
    """Two page origins on loopback: (allowed, not listed)."""
    servers = [ThreadingHTTPServer(("127.0.0.1", free_port()), _Page) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        allowed, other = (server.server_address[1] for server in servers)
        yield f"http://127.0.0.1:{allowed}", f"http://localhost:{other}"
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


@pytest.fixture(scope="module")
def get_only_consumers(
    tmp_path_factory: pytest.TempPathFactory, origins: tuple[str, str]
) -> Iterator[dict[str, Consumer]]:
    workdir = tmp_path_factory.mktemp("safelisted")
    bootstrap = workdir / "policy.json"
    # A signed bootstrap file and the key it verifies with, as a deployment ships them.
    bootstrap.write_text(json.dumps([signed_entry(get_only_policy(origins[0]))]))
    keys = workdir / "keys.json"
    keys.write_text(json.dumps(PUBLIC_JWKS))
    env = _base_env(
        CORSADMIN_APIS=SLUG,
        CORSADMIN_BOOTSTRAP_FILE=str(bootstrap),
        CORSADMIN_PUBLIC_KEYS=str(keys),
    )
    started = {
        name: Consumer(f"{name}-get-only", f"examples/{name}_service/app.py", env, workdir)
        for name in ("flask", "django", "fastapi")
    }
    try:
        for consumer in started.values():
            consumer.process.start()
        for consumer in started.values():
            consumer.process.wait_http(consumer.url + "/health", timeout=30)
        yield started
    finally:
        for consumer in started.values():
            consumer.stop()


@pytest.mark.parametrize("name", ["flask", "django", "fastapi"])
def test_browser__get_only_policy__json_post_and_head_with_header_succeed(
    name: str,
    get_only_consumers: dict[str, Consumer],
    origins: tuple[str, str],
    browser: Any,  # noqa: F811
) -> None:
    consumer = get_only_consumers[name]
    allowed, other = origins

    # Given a page on the allowed origin and a consumer whose policy lists only GET
    # When it fetch()es a JSON POST and a HEAD with a custom header (both preflighted)
    result = _run_script(browser, allowed, consumer)

    # Then both preflights are answered and the page reads the responses
    assert result["jsonPost"] == {
        "status": 201,
        "body": {"service": name, "created": {"name": "fig"}},
    }
    assert result["headWithHeader"]["type"] == "cors"
    assert result["headWithHeader"]["status"] < 500
    # ...while a method outside the safelist and the policy is still refused at the preflight
    assert "Failed to fetch" in result["put"].get("blocked", ""), result["put"]

    # And a page on an origin the policy does not list gets nothing
    refused = _run_script(browser, other, consumer)
    for what in ("jsonPost", "headWithHeader", "put"):
        assert "Failed to fetch" in refused[what].get("blocked", ""), (what, refused[what])


def _run_script(chromium: Any, origin: str, consumer: Consumer) -> dict[str, Any]:
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.goto(origin + "/")
        return dict(page.evaluate(SCRIPT, consumer.url))
    finally:
        context.close()
