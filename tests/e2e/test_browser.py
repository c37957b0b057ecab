"""The real judge: headless Chromium fetch()es each consumer from two loopback origins.

The policy allows http://127.0.0.1:<p1> (with credentials, exposing X-Request-Id) and not
http://localhost:<p2>. From the allowed origin a simple GET, a preflighted JSON POST, a
credentialed request and reading the exposed header succeed; from the other, the browser
blocks every one of them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Consumer
from tests.tools import missing

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.xdist_group("e2e")]

CHROMIUM = Path("/usr/bin/chromium")
PAGE = b"""<!doctype html><html><head><meta charset="utf-8"><title>cors page</title></head>
<body><p>cross-origin page</p></body></html>"""

SCRIPT = """
async (base) => {
  const attempt = async (what) => {
    try { return await what(); } catch (error) { return { blocked: String(error) }; }
  };
  return {
    get: await attempt(async () => {
      const r = await fetch(base + "/api/items");
      return { status: r.status, body: await r.json() };
    }),
    post: await attempt(async () => {
      const r = await fetch(base + "/api/items", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ name: "fig" }),
      });
      return { status: r.status, body: await r.json() };
    }),
    credentialed: await attempt(async () => {
      const r = await fetch(base + "/api/me", { credentials: "include" });
      return { status: r.status, body: await r.json() };
    }),
    exposed: await attempt(async () => {
      const r = await fetch(base + "/api/items");
      return { requestId: r.headers.get("X-Request-Id") };
    }),
  };
}
"""


class _Page(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)


@pytest.fixture(scope="module")
def pages(page_ports: tuple[int, int]) -> Iterator[None]:
    servers = [ThreadingHTTPServer(("127.0.0.1", port), _Page) for port in page_ports]
    for server in servers:
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        missing(f"Chromium ({CHROMIUM})", "apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            yield chromium
        finally:
            chromium.close()


def _run(browser: Any, origin: str, consumer: Consumer) -> dict[str, Any]:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(origin + "/")
        return dict(page.evaluate(SCRIPT, consumer.url))
    finally:
        context.close()


@pytest.mark.parametrize("name", ["flask", "django", "fastapi"])
def test_browser__allowed_origin_reads__refused_origin_blocked(
    name: str,
    consumers: dict[str, Consumer],
    pages: None,
    browser: Any,
    allowed_origin: str,
    refused_origin: str,
) -> None:
    consumer = consumers[name]
    allowed = _run(browser, allowed_origin, consumer)
    assert allowed["get"] == {"status": 200, "body": {"service": name, "items": ["apple", "pear"]}}
    assert allowed["post"] == {"status": 201, "body": {"service": name, "created": {"name": "fig"}}}
    assert allowed["credentialed"] == {
        "status": 200,
        "body": {"service": name, "user": "anonymous"},
    }
    assert len(allowed["exposed"]["requestId"] or "") == 32

    refused = _run(browser, refused_origin, consumer)
    for what in ("get", "post", "credentialed", "exposed"):
        assert "Failed to fetch" in refused[what].get("blocked", ""), (what, refused[what])
