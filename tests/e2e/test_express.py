"""The Express example (the ``corsadmin`` npm package from ``clients/node``) against the real
central server: it enforces the policy, follows a change made through the management API,
survives central going away (running, and restarted from its cache file), refuses a forged
document, reports refusals to central, and Chromium agrees with it.

The service verifies central's signatures with the JWKS central publishes at
``/api/v1/keys``. Between it and central runs a small forwarding proxy, the place where a
forgery happens in real life (a proxy, a CDN, a compromised cache): normally it passes
central's answers through untouched; in ``forge`` mode it adds an origin to the document and
keeps central's signature.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import (
    INTERVAL,
    ROOT,
    SLUG,
    Central,
    Consumer,
    Process,
    _base_env,
    free_port,
    wait_until,
)
from tests.e2e.test_browser import _run, browser, pages  # noqa: F401 - fixtures
from tests.tools import missing

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.xdist_group("e2e"),
]

NEW = "https://express-partner.example.com"
DASHBOARD_NEW = "https://express-dashboard.example.com"
FORGED = "https://forged.example.net"


class Proxy:
    """Forwards the policy and report endpoints to central; can forge documents."""

    def __init__(self, central: Central) -> None:
        self.central = central
        self.mode = "pass"
        self.forged = 0
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                proxy.forward(self, "GET")

            def do_POST(self) -> None:
                proxy.forward(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def forward(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        forge = self.mode == "forge" and handler.path.startswith("/api/v1/policies/")
        headers = {
            name: value
            for name, value in handler.headers.items()
            if name.lower() in ("authorization", "content-type", "accept")
            or (name.lower() == "if-none-match" and not forge)
        }
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else None
        try:
            answer = httpx.request(
                method, self.central.url + handler.path, headers=headers, content=body, timeout=5
            )
        except httpx.HTTPError:
            handler.send_response(502)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        content = answer.content
        out = {
            name: value
            for name, value in answer.headers.items()
            if name.lower() in ("content-type", "etag", "www-authenticate", "corsadmin-signature")
        }
        if forge and answer.status_code == 200:
            # Rewrite the document in transit; the signature stays central's.
            assert answer.headers.get("corsadmin-signature"), "central does not sign"
            document = json.loads(content)
            document["origins"]["exact"].append(FORGED)
            document["version"] += 1000
            content = json.dumps(document).encode()
            out = {k: v for k, v in out.items() if k.lower() != "etag"}
            out["ETag"] = '"forged"'
            self.forged += 1
        try:
            handler.send_response(answer.status_code)
            for name, value in out.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(content)))
            handler.end_headers()
            handler.wfile.write(content)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the service gave up waiting (its deadline): nothing to answer

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _public_keys(central: Central) -> dict[str, Any]:
    """Central's JWKS (what an operator copies into CORSADMIN_PUBLIC_KEYS); central signs."""
    probe = httpx.get(
        f"{central.url}/api/v1/policies/{SLUG}",
        headers={"Authorization": f"Bearer {central.service_token}"},
        timeout=5,
    )
    assert probe.headers.get("corsadmin-signature"), "central serves unsigned documents"
    keys = httpx.get(f"{central.url}/api/v1/keys", timeout=5)
    assert keys.status_code == 200, keys.text
    jwks = dict(keys.json())
    assert jwks["keys"], "central publishes no signing key"
    return jwks


class Express:
    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        node = shutil.which("node")
        assert node is not None
        self.consumer = Consumer("express", str(workdir / "server.js"), {}, workdir.parent)
        self.url = self.consumer.url
        self.process = Process(
            "express",
            [node, str(workdir / "server.js")],
            {**env, "PORT": str(self.consumer.port)},
            workdir.parents[1],
        )
        self.consumer.process = self.process

    def start(self) -> None:
        self.process.start()
        self.process.wait_http(self.url + "/api/items", timeout=30)

    def stop(self) -> None:
        self.process.stop()

    def acao(self, origin: str) -> str | None:
        return self.consumer.acao(origin)

    def health(self) -> dict[str, Any]:
        return dict(httpx.get(self.url + "/health", timeout=2).json())


@pytest.fixture(scope="module")
def proxy(central: Central) -> Iterator[Proxy]:
    started = Proxy(central)
    try:
        yield started
    finally:
        started.close()


@pytest.fixture(scope="module")
def express(e2e_dir: Path, central: Central, proxy: Proxy) -> Iterator[Express]:
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        missing("Node.js with npm", "apt-get install nodejs npm")
    # The example depends on ../../clients/node: copy both, keeping that layout.
    tree = e2e_dir / "express-tree"
    ignore = shutil.ignore_patterns("node_modules")
    shutil.copytree(ROOT / "clients" / "node", tree / "clients" / "node", ignore=ignore)
    workdir = tree / "examples" / "express_service"
    shutil.copytree(ROOT / "examples" / "express_service", workdir, ignore=ignore)
    try:
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=workdir,
            capture_output=True,
            timeout=300,
            check=True,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        missing("the Express example's npm packages", f"npm ci failed (no registry?): {exc}")
    service = Express(
        workdir,
        _base_env(
            CORSADMIN_URL=proxy.url,
            CORSADMIN_TOKEN=central.service_token,
            CORSADMIN_APIS=SLUG,
            CORSADMIN_INTERVAL=str(INTERVAL),
            CORSADMIN_TIMEOUT="1",
            CORSADMIN_TELEMETRY_INTERVAL="1",
            CORSADMIN_PUBLIC_KEYS=json.dumps(_public_keys(central)),
            CORSADMIN_CACHE_FILE=str(e2e_dir / "express-cache.json"),
        ),
    )
    try:
        service.start()
        yield service
    finally:
        service.stop()


def _holds_central_policy(express: Express, allowed_origin: str) -> None:
    """Wait (bounded) until the service enforces a document it got from central: the state
    a test of central's absence starts from, not left to the order tests happen to run in."""
    wait_until(lambda: express.health()["apis"][SLUG]["source"] == "central", 30)
    wait_until(lambda: express.acao(allowed_origin) == allowed_origin, 10)


def test_express__enforces_and_follows_changes(
    express: Express, central: Central, allowed_origin: str, refused_origin: str
) -> None:
    # Given the Express service with the policy of central
    wait_until(lambda: express.acao(allowed_origin) == allowed_origin, 10)
    response = httpx.get(express.url + "/api/items", headers={"Origin": allowed_origin})
    assert response.headers["access-control-allow-origin"] == allowed_origin
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["access-control-expose-headers"] == "x-request-id"
    assert response.headers["vary"] == "Origin"
    assert express.acao(refused_origin) is None
    preflight = httpx.options(
        express.url + "/api/items",
        headers={
            "Origin": allowed_origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == allowed_origin
    assert preflight.headers["access-control-max-age"] == "5"
    health = express.health()["apis"][SLUG]
    assert health["source"] == "central"
    assert health["stale"] is False
    # When an origin is added through the management API (what the dashboard does)
    rule = central.add_origin(NEW)
    try:
        # Then it applies within one interval (+-10 % jitter), plus slack for a busy machine
        wait_until(lambda: express.acao(NEW) == NEW, INTERVAL * 1.1 + 3)
    finally:
        central.remove_origin(rule)
    # And its removal too
    wait_until(lambda: express.acao(NEW) is None, INTERVAL * 1.1 + 3)


def test_express__forged_document__refused_last_good_kept(
    express: Express, proxy: Proxy, allowed_origin: str
) -> None:
    # Given a proxy that rewrites the document in transit, keeping the signature
    version = express.health()["apis"][SLUG]["version"]
    proxy.mode = "forge"
    try:
        # When the service polls through it
        wait_until(lambda: proxy.forged > 0, 10)
        wait_until(lambda: "signature" in (express.health()["apis"][SLUG]["last_error"] or ""), 10)
        # Then the forged origin is never allowed and the last good version stays in force
        assert express.acao(FORGED) is None
        assert express.acao(allowed_origin) == allowed_origin
        assert express.health()["apis"][SLUG]["version"] == version
    finally:
        proxy.mode = "pass"
    wait_until(lambda: express.health()["apis"][SLUG]["last_error"] is None, 10)
    assert express.acao(FORGED) is None


def test_express__central_goes_away__last_good_kept_and_catches_up(
    express: Express, central: Central, allowed_origin: str, refused_origin: str
) -> None:
    # Given the service holds central's policy (whatever ran before, on whichever worker)
    _holds_central_policy(express, allowed_origin)
    # When central stops
    central.stop()
    try:
        # Then the service keeps enforcing its last good document and says what is wrong
        wait_until(lambda: express.health()["apis"][SLUG]["last_error"], 10)
        assert express.acao(allowed_origin) == allowed_origin
        assert express.acao(refused_origin) is None
    finally:
        central.start()
    # When central is back and the policy changes / Then the service catches up (backing off
    # at most twice the interval)
    rule = central.add_origin(NEW)
    try:
        wait_until(lambda: express.acao(NEW) == NEW, 2 * INTERVAL + 5)
    finally:
        central.remove_origin(rule)
    wait_until(lambda: express.acao(NEW) is None, 2 * INTERVAL + 5)
    wait_until(lambda: express.health()["apis"][SLUG]["last_error"] is None, 10)


def test_express__restart_with_central_down__serves_from_its_cache_file(
    express: Express, central: Central, allowed_origin: str, refused_origin: str
) -> None:
    # Given the service has written its cache file, and then both it and central stop
    _holds_central_policy(express, allowed_origin)
    express.stop()
    central.stop()
    try:
        # When the service starts again with central still down
        express.start()
        # Then it enforces the cached (verified) document at once
        assert express.acao(allowed_origin) == allowed_origin
        assert express.acao(refused_origin) is None
        health = express.health()["apis"][SLUG]
        assert health["source"] == "cache-file"
        assert health["last_error"]
    finally:
        central.start()
    # And once central answers again, it confirms the document (a 304) and the error clears
    wait_until(lambda: express.health()["apis"][SLUG]["last_error"] is None, 2 * INTERVAL + 5)
    assert express.health()["apis"][SLUG]["stale"] is False


def test_express__refused_origins__reported_to_central(
    express: Express, central: Central, refused_origin: str
) -> None:
    # Given a refused cross-origin request / When the service reports (every second here)
    httpx.get(express.url + "/api/items", headers={"Origin": refused_origin}, timeout=2)

    def reported() -> bool:
        telemetry = central.telemetry()
        return any(c["service"] == "express-example" for c in telemetry["consumers"]) and any(
            r["origin"] == refused_origin and r["reason"] == "origin-not-allowed"
            for r in telemetry["refused"]
        )

    # Then central shows the instance and the refused origin, counted by code
    wait_until(reported, 20, step=0.5)


@pytest.mark.browser
def test_browser__express__allowed_origin_reads__refused_origin_blocked(
    express: Express,
    pages: None,  # noqa: F811 - the fixture
    browser: Any,  # noqa: F811 - the fixture
    allowed_origin: str,
    refused_origin: str,
) -> None:
    # Given Chromium on two loopback origins / When pages fetch() the Express service
    allowed = _run(browser, allowed_origin, express.consumer)
    # Then the allowed origin reads everything, the exposed header included
    assert allowed["get"] == {
        "status": 200,
        "body": {"service": "express", "items": ["apple", "pear"]},
    }
    assert allowed["post"] == {
        "status": 201,
        "body": {"service": "express", "created": {"name": "fig"}},
    }
    assert allowed["credentialed"] == {
        "status": 200,
        "body": {"service": "express", "user": "anonymous"},
    }
    assert len(allowed["exposed"]["requestId"] or "") == 32
    # And the browser blocks every read from the refused one
    refused = _run(browser, refused_origin, express.consumer)
    for what in ("get", "post", "credentialed", "exposed"):
        assert "Failed to fetch" in refused[what].get("blocked", ""), (what, refused[what])


@pytest.mark.browser
def test_express__origin_added_in_the_dashboard__followed(
    express: Express,
    central: Central,
    browser: Any,  # noqa: F811 - the fixture
) -> None:
    # Given a person logged in to central's dashboard in Chromium
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(central.url + "/")
        page.get_by_label("Username").fill("e2e-admin")
        page.get_by_label("Password").fill("e2e-password-123")
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("heading", name="APIs").wait_for()
        # When they add an origin on the API's page, saying why
        page.goto(f"{central.url}/apis/{SLUG}/")
        add = page.locator("#add-origin")
        add.get_by_label("Origin").fill(DASHBOARD_NEW)
        add.get_by_label("Why (recorded in the audit log)").fill("express e2e")
        add.get_by_role("button", name="Add origin").click()
        page.locator("#origins tbody").get_by_text(DASHBOARD_NEW).wait_for()
    finally:
        context.close()
    try:
        # Then the Express service allows it within one poll interval (plus slack)
        wait_until(lambda: express.acao(DASHBOARD_NEW) == DASHBOARD_NEW, INTERVAL * 1.1 + 3)
    finally:
        rules = central._api("GET", "origins/").json()
        items = rules["results"] if isinstance(rules, dict) else rules
        for rule in items:
            if rule["value"] == DASHBOARD_NEW:
                central.remove_origin(int(rule["id"]))
    wait_until(lambda: express.acao(DASHBOARD_NEW) is None, INTERVAL * 1.1 + 3)
