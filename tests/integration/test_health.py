"""/healthz and /readyz: answered for any probe, 503 naming what is missing."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis
from django.test import Client

from policies import signing

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def _dead_redis_url() -> str:
    # A port nothing listens on: bound, then released.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


def test_healthz__any_host_plain_http__ok(client: Client, settings: Any) -> None:
    # Given https redirects on and a probe whose Host is not an allowed host name
    settings.SECURE_SSL_REDIRECT = True
    # When it asks whether the process answers
    response = client.get("/healthz", HTTP_HOST="10.1.2.3:8000")
    # Then it is told so, not redirected nor refused for its host name
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"


def test_readyz__embedded_defaults__ready_redis_not_configured(
    client: Client, settings: Any
) -> None:
    # Given the embedded set-up: SQLite, no Redis, a signing key file
    settings.REDIS_URL = ""
    # When the readiness probe runs
    response = client.get("/readyz", HTTP_HOST="web:8000")
    # Then every check passes and says what it found
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {
            "database": "ok",
            "redis": "not configured",
            "migrations": "ok",
            "signing_key": "ok",
        },
    }


def test_readyz__redis_answers__ready(
    client: Client, settings: Any, redis_client: redis.Redis
) -> None:
    kwargs = redis_client.connection_pool.connection_kwargs
    settings.REDIS_URL = f"redis://{kwargs['host']}:{kwargs['port']}/0"
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["redis"] == "ok"


def test_readyz__redis_down__503_names_redis(client: Client, settings: Any) -> None:
    # Given a configured Redis that does not answer
    settings.REDIS_URL = _dead_redis_url()
    # When the readiness probe runs
    response = client.get("/readyz")
    # Then it is not ready, and says Redis is what is missing (the error class, no address)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready"
    assert body["missing"] == ["redis"]
    assert body["checks"]["redis"] == "unavailable (ConnectionError)"
    assert "127.0.0.1" not in response.content.decode()


def test_readyz__signing_key__missing_or_not_a_key_503_loaded_ok(
    client: Client, settings: Any, tmp_path: Path
) -> None:
    # Given a signing key file that does not exist
    settings.REDIS_URL = ""
    settings.CORSADMIN_SIGNING_KEY_FILE = str(tmp_path / "signing.pem")
    response = client.get("/readyz")
    # Then readiness names the signing key
    assert response.status_code == 503
    assert response.json()["missing"] == ["signing_key"]
    assert response.json()["checks"]["signing_key"] == "unusable (SigningKeyError)"
    # When the file holds no key: still not ready
    (tmp_path / "signing.pem").write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n")
    assert client.get("/readyz").json()["missing"] == ["signing_key"]
    # When a real key is there: ready
    (tmp_path / "signing.pem").unlink()
    signing.add_key(tmp_path / "signing.pem")
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["signing_key"] == "ok"


def test_probes__post__not_answered_by_the_probe(client: Client) -> None:
    # Only GET and HEAD are probes; anything else goes to the site (no such page there)
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 404


def _probe_in_fresh_process(tmp_path: Path, database_url: str, *setup: list[str]) -> Any:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_", "CORSADMIN_", "PYTEST_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="corsadmin.settings",
        SECRET_KEY="health-test-key-" + "x" * 40,
        DATABASE_URL=database_url,
        CORSADMIN_VAR_DIR=str(tmp_path),
        ALLOWED_HOSTS="127.0.0.1",
    )
    signing.add_key(tmp_path / "signing_key.pem")
    for command in setup:
        subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
    probe = (
        "import json; from django.test import Client; r = Client().get('/readyz'); "
        "print(json.dumps({'status': r.status_code, 'body': r.json()}))"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", probe],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_readyz__migration_not_applied__503_names_it(tmp_path: Path) -> None:
    # Given a database migrated up to policies 0005 only
    url = f"sqlite:///{tmp_path / 'partial.sqlite3'}"
    answer = _probe_in_fresh_process(
        tmp_path, url, ["migrate", "--no-input", "-v", "0"], ["migrate", "policies", "0005"]
    )
    # Then readiness refuses and names the migrations still to apply
    assert answer["status"] == 503
    assert answer["body"]["missing"] == ["migrations"]
    assert re.fullmatch(
        r"\d+ not applied: policies\.0006_.*", answer["body"]["checks"]["migrations"]
    )


def test_readyz__database_unreachable__503_names_database(tmp_path: Path) -> None:
    # Given a PostgreSQL URL where nothing listens
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    answer = _probe_in_fresh_process(tmp_path, f"postgres://nobody@127.0.0.1:{port}/none")
    # Then the database is named, and the migrations cannot be known
    assert answer["status"] == 503
    assert answer["body"]["missing"] == ["database", "migrations"]
    assert answer["body"]["checks"]["database"] == "unavailable (OperationalError)"
    assert answer["body"]["checks"]["migrations"] == "unknown (no database)"
