"""A database restart costs no request: gunicorn keeps each worker's PostgreSQL connection
(``DATABASE_CONN_MAX_AGE``), and with ``CONN_HEALTH_CHECKS`` a connection the server killed
is noticed and replaced before a request uses it, instead of failing that request with 500.

The restart is simulated by terminating the server's backend (``pg_terminate_backend``),
which is what a restart does to every open connection. PostgreSQL only: SQLite has no
server connection to lose.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.contrib.auth.models import Group, User
from django.db import connection

from policies import services
from policies.actors import Actor
from tests.e2e.conftest import Process, _base_env, free_port
from tests.tools import missing

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

APPLICATION = "corsadmin-restart-test"


def _server_url(health_checks: bool, workdir: Path) -> Iterator[tuple[str, str]]:
    if connection.vendor != "postgresql":
        missing("PostgreSQL", "run with DATABASE_URL=postgres://...")
    team = Group.objects.create(name="payments")
    user = User.objects.create_user("mia", password="pw-mia-12345")
    user.groups.add(team)
    services.create_api(actor=Actor.for_user(user), slug="billing", name="Billing", team=team)
    secret = services.issue_access_token(actor=Actor.for_user(user), user=user, name="t")[1]
    settings = connection.settings_dict
    database_url = (
        f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"
        f"?application_name={APPLICATION}"
    )
    port = free_port()
    server = Process(
        "gunicorn",
        [
            sys.executable,
            "-m",
            "gunicorn",
            "corsadmin.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
        ],
        _base_env(
            DATABASE_URL=database_url,
            DATABASE_CONN_HEALTH_CHECKS=str(health_checks).lower(),
            SECRET_KEY="restart-test-key",
            ALLOWED_HOSTS="127.0.0.1",
        ),
        workdir,
    )
    try:
        server.start()
        server.wait_http(f"http://127.0.0.1:{port}/accounts/login/")
        yield f"http://127.0.0.1:{port}", secret
    finally:
        server.stop()


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[tuple[str, str]]:
    yield from _server_url(True, tmp_path)


@pytest.fixture
def unguarded(tmp_path: Path) -> Iterator[tuple[str, str]]:
    yield from _server_url(False, tmp_path)


def _terminate_server_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s AND datname = current_database()",
            [APPLICATION],
        )
        row = cursor.fetchone()
    assert row is not None
    return int(row[0])


def _get(url: str, secret: str) -> int:
    response = httpx.get(
        f"{url}/api/v1/apis/", headers={"Authorization": f"Bearer {secret}"}, timeout=10
    )
    return response.status_code


def test_database_restart__connection_killed_between_requests__next_request_succeeds(
    guarded: tuple[str, str],
) -> None:
    # Given a server whose worker has a database connection open
    url, secret = guarded
    assert _get(url, secret) == 200
    # When the database drops that connection (as a restart does)
    assert _terminate_server_connections() == 1
    # Then the next request is answered normally, on a new connection
    assert _get(url, secret) == 200
    assert _get(url, secret) == 200


def test_database_restart__without_health_checks__one_request_fails(
    unguarded: tuple[str, str],
) -> None:
    # Given the same server with health checks turned off (what this test guards against)
    url, secret = unguarded
    assert _get(url, secret) == 200
    # When the connection is dropped
    assert _terminate_server_connections() == 1
    # Then the first request fails on the dead connection: the kill is real, and the
    # health check is what saves the request in the test above
    assert _get(url, secret) == 500
    assert _get(url, secret) == 200
