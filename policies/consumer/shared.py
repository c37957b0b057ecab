"""Redis: the service's shared copy of each document, the fetch lock, central's copy and
central's change channel.

Names, under a prefix shared with central's ``CORSADMIN_REDIS_PREFIX``:

- ``<prefix>:policies``: the channel central publishes ``{"api", "version", "etag"}`` on
  after every change;
- ``<prefix>:doc:<slug>``: central's copy of each document (a hash with ``body``, ``etag``,
  ``signature``, ...);
- ``<prefix>:consumer:<slug>``: the consumers' own shared copy (``body``, ``etag``,
  ``signature``, ``confirmed_at``, ``version``), so that one process of a service fetches
  per interval and the others read it; ``...:lock``, their fetch lock.

Redis is an untrusted copy (the client verifies every document it reads here). Every call
is short (0.5 s socket timeouts) and made by background threads only; a Redis error is
logged at most once a minute and treated as "nothing there". No Django import.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Final, TypeVar

import redis

from policies.consumer.model import Copy

__all__ = ["SHARED_COPY_TTL_SECONDS", "SharedStore", "log_every"]

logger = logging.getLogger("policies.consumer")

SHARED_COPY_TTL_SECONDS: Final = 7 * 24 * 3600
_LOG_EVERY_SECONDS: Final = 60.0

T = TypeVar("T")


def log_every(seen: dict[str, float], key: str, seconds: float = _LOG_EVERY_SECONDS) -> bool:
    """True at most once per ``seconds`` for ``key`` (rate-limited log lines)."""
    now = time.monotonic()
    last = seen.get(key)
    if last is not None and now - last < seconds:
        return False
    seen[key] = now
    return True


def _text(value: Any) -> str | None:
    return value.decode() if isinstance(value, bytes) and value else None


class SharedStore:
    """One service's view of Redis (``url``, names under ``prefix``)."""

    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.channel = f"{prefix}:policies"
        self._central = f"{prefix}:doc:"
        self._shared = f"{prefix}:consumer:"
        self._logged: dict[str, float] = {}
        self._client: redis.Redis | None = None
        self._lock = threading.Lock()

    def reset(self) -> None:
        """Drop the connection (a forked child must not share its parent's sockets)."""
        self._client = None
        self._lock = threading.Lock()

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def _redis(self) -> redis.Redis:
        with self._lock:
            if self._client is None:
                self._client = redis.Redis.from_url(
                    self.url,
                    socket_connect_timeout=0.5,
                    socket_timeout=0.5,
                    health_check_interval=30,
                )
            return self._client

    def _call(self, what: str, call: Callable[[redis.Redis], T], default: T) -> T:
        try:
            return call(self._redis())
        except (redis.RedisError, OSError) as exc:
            if log_every(self._logged, "redis"):
                logger.warning(
                    "corsadmin: redis unavailable (%s): %s; polling central directly", what, exc
                )
            return default

    # --- the consumers' shared copy ---------------------------------------------------------

    def read_copy(self, slug: str) -> Copy | None:
        values = self._call(
            "read shared copy",
            lambda r: r.hmget(self._shared + slug, ["body", "etag", "signature", "confirmed_at"]),
            None,
        )
        if not values or not isinstance(values[0], bytes):
            return None
        body, etag, signature, confirmed = values
        assert isinstance(body, bytes)
        try:
            confirmed_at = float(confirmed or 0)
        except ValueError:
            confirmed_at = 0.0
        return Copy(
            body=body, signature=_text(signature), etag=_text(etag), confirmed_at=confirmed_at
        )

    def write_copy(self, slug: str, copy: Copy, version: int) -> None:
        key = self._shared + slug

        def write(client: redis.Redis) -> None:
            pipe = client.pipeline()
            pipe.hset(
                key,
                mapping={
                    "body": copy.body,
                    "etag": copy.etag or "",
                    "signature": copy.signature or "",
                    "confirmed_at": repr(copy.confirmed_at),
                    "version": version,
                },
            )
            pipe.expire(key, SHARED_COPY_TTL_SECONDS)
            pipe.execute()

        self._call("write shared copy", write, None)

    def take_lock(self, slug: str, owner: str, ttl_seconds: float) -> bool:
        """Whether this process fetches ``slug`` now; True when Redis is down (every
        process then polls central directly)."""
        taken = self._call(
            "lock",
            lambda r: bool(
                r.set(self._shared + slug + ":lock", owner, nx=True, px=int(ttl_seconds * 1000))
            ),
            True,
        )
        return taken

    # --- central's copy and channel ---------------------------------------------------------

    def read_central(self, slug: str) -> Copy | None:
        """Central's Redis copy of ``slug`` (confirmed now: central wrote it)."""
        values = self._call(
            "read central's document",
            lambda r: r.hmget(self._central + slug, ["body", "etag", "signature"]),
            None,
        )
        if not values or not isinstance(values[0], bytes):
            return None
        body: bytes = values[0]
        return Copy(
            body=body,
            signature=_text(values[2]),
            etag=_text(values[1]),
            confirmed_at=time.time(),
        )

    def listen(
        self,
        stop: threading.Event,
        on_message: Callable[[Any], None],
        on_reconnect: Callable[[], None],
        backoff: Callable[[int], float],
    ) -> None:
        """Deliver the channel's messages to ``on_message`` until ``stop``; reconnect with
        ``backoff(failures)`` and call ``on_reconnect`` after a reconnection (messages may
        have been missed meanwhile)."""
        failures = 0
        first = True
        while not stop.is_set():
            client = redis.Redis.from_url(
                self.url, socket_connect_timeout=0.5, health_check_interval=5
            )
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self.channel)
                if not first:
                    on_reconnect()
                first = False
                failures = 0
                while not stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        on_message(message.get("data"))
            except (redis.RedisError, OSError) as exc:
                failures += 1
                if log_every(self._logged, "pubsub"):
                    logger.warning(
                        "corsadmin: change notifications unavailable (%s); polling instead", exc
                    )
                stop.wait(backoff(failures))
            finally:
                with contextlib.suppress(Exception):
                    pubsub.close()
                with contextlib.suppress(Exception):
                    client.close()
