"""The Express example (Node's `cors` package fed from the policy endpoint) against the real
central server. Its dependencies are installed with `npm ci` into a temporary copy; skipped
where npm or the registry is not available."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

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
    wait_until,
)
from tests.tools import missing

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

NEW = "https://express-partner.example.com"


@pytest.fixture(scope="module")
def express(e2e_dir: Path, central: Central) -> Iterator[Consumer]:
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        missing("Node.js with npm", "apt-get install nodejs npm")
    workdir = e2e_dir / "express_service"
    shutil.copytree(
        ROOT / "examples" / "express_service",
        workdir,
        ignore=shutil.ignore_patterns("node_modules"),
    )
    try:
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=workdir,
            capture_output=True,
            timeout=120,
            check=True,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        missing("the Express example's npm packages", f"npm ci failed (no registry?): {exc}")
    consumer = Consumer("express", str(workdir / "server.js"), {}, e2e_dir)
    consumer.process = Process(
        "express",
        [node, str(workdir / "server.js")],
        _base_env(
            CORSADMIN_URL=central.url,
            CORSADMIN_TOKEN=central.service_token,
            CORSADMIN_APIS=SLUG,
            CORSADMIN_INTERVAL=str(INTERVAL),
            PORT=str(consumer.port),
        ),
        e2e_dir,
    )
    try:
        consumer.process.start()
        consumer.process.wait_http(consumer.url + "/api/items", timeout=20)
        yield consumer
    finally:
        consumer.stop()


def test_express__enforces_and_follows_changes(
    express: Consumer, central: Central, allowed_origin: str, refused_origin: str
) -> None:
    # The server answers before its first poll has landed: wait for the policy to arrive.
    wait_until(lambda: express.acao(allowed_origin) == allowed_origin, 10)
    response = httpx.get(express.url + "/api/items", headers={"Origin": allowed_origin})
    assert response.headers["access-control-allow-origin"] == allowed_origin
    assert response.headers["access-control-allow-credentials"] == "true"
    assert "x-request-id" in response.headers["access-control-expose-headers"].lower()
    assert express.acao(refused_origin) is None
    preflight = httpx.options(
        express.url + "/api/items",
        headers={"Origin": allowed_origin, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.headers["access-control-allow-origin"] == allowed_origin
    rule = central.add_origin(NEW)
    try:
        # Polled every interval (+-10 % jitter): applied within one interval, plus slack for
        # a CI machine whose two cores are busy with the other test worker.
        wait_until(lambda: express.acao(NEW) == NEW, INTERVAL * 1.1 + 3)
    finally:
        central.remove_origin(rule)
    wait_until(lambda: express.acao(NEW) is None, 5)
