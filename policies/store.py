"""Redis: the signed documents, the policy endpoint's rate counters and the change channel.

Redis is a cache nobody needs to trust. Documents are stored with their signature
(`<prefix>:doc:<slug>`: `body`, `signature`, `etag`, `version`, `api_id`); readers verify
them (policies.publishing). Writers never take Redis's word either: a compare-and-set that
finds a "newer" document there keeps it only if its signature verifies and the database
confirms that version (policies.publishing.deliver_document).

Everything here degrades: with no REDIS_URL, or Redis down, callers get None / False and go
to the database; nothing in the request path waits longer than the short socket timeouts,
and after a failure Redis is not asked again for a moment (a paused or dead Redis must not
cost every request a timeout).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

# After a failure, requests skip Redis for this long (seconds); the outbox keeps retrying.
_BACKOFF_SECONDS = 1.0
# A tombstone outlives any token entry an older central process may have cached (60 s).
_TOMBSTONE_SECONDS = 120

_clients: dict[str, redis.Redis] = {}
_down_until: dict[str, float] = {}


def _name(*parts: str) -> str:
    # One prefix for every key and the channel, so installations can share a Redis server
    # (consumers are configured with the same CORSADMIN_REDIS_PREFIX).
    return ":".join((settings.CORSADMIN_REDIS_PREFIX, *parts))


def channel() -> str:
    return _name("policies")


def document_key(slug: str) -> str:
    return _name("doc", slug)


def client(*, even_if_down: bool = False) -> redis.Redis | None:
    """The Redis client, or None without REDIS_URL or (unless `even_if_down`) for a moment
    after a failure."""
    url: str = settings.REDIS_URL
    if not url:
        return None
    if not even_if_down and _down_until.get(url, 0.0) > time.monotonic():
        return None
    if url not in _clients:
        _clients[url] = redis.Redis.from_url(
            url, socket_connect_timeout=0.5, socket_timeout=0.5, health_check_interval=30
        )
    return _clients[url]


def _warn(what: str, exc: Exception) -> None:
    _down_until[settings.REDIS_URL] = time.monotonic() + _BACKOFF_SECONDS
    logger.warning("redis unavailable (%s): %s; using the database", what, exc)


def mark_up() -> None:
    """Forget a recorded failure (the outbox just reached Redis)."""
    _down_until.pop(settings.REDIS_URL, None)


# --- the policy endpoint's one round trip ------------------------------------------------

# KEYS[1] = the token's rate counter, KEYS[2..] = document hashes; ARGV[1] = window (ms).
# Returns {count, remaining ms of the window, body1, signature1, body2, signature2, ...}.
_POLL = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
local out = {count, ttl}
for i = 2, #KEYS do
  local held = redis.call('HMGET', KEYS[i], 'body', 'signature')
  out[#out + 1] = held[1]
  out[#out + 1] = held[2]
end
return out
"""

_scripts: dict[str, Any] = {}


@dataclass(frozen=True, slots=True)
class Poll:
    count: int  # requests of this token in the current window, this one included
    retry_after_ms: int  # until the window ends
    documents: dict[str, tuple[bytes, str] | None]  # slug -> (body, signature) as held


def poll(rate_key: str, slugs: Sequence[str], *, window_seconds: int) -> Poll | None:
    """Count a request against `rate_key` and read the documents of `slugs`, in one round
    trip (one EVALSHA). None if Redis is not configured or unreachable."""
    redis_client = client()
    if redis_client is None:
        return None
    script = _scripts.get(settings.REDIS_URL)
    if script is None:
        script = _scripts[settings.REDIS_URL] = redis_client.register_script(_POLL)
    keys = [_name("rate", rate_key), *(document_key(slug) for slug in slugs)]
    try:
        reply = script(keys=keys, args=[window_seconds * 1000])
    except redis.RedisError as exc:
        _warn("poll", exc)
        return None
    documents: dict[str, tuple[bytes, str] | None] = {}
    for index, slug in enumerate(slugs):
        body, signature = reply[2 + 2 * index], reply[3 + 2 * index]
        ok = isinstance(body, bytes) and isinstance(signature, bytes)
        documents[slug] = (body, signature.decode("ascii", "replace")) if ok else None
    return Poll(count=int(reply[0]), retry_after_ms=int(reply[1]), documents=documents)


# --- documents ---------------------------------------------------------------------------


def get_document(slug: str) -> tuple[bytes, str] | None:
    """(body, signature) as Redis holds them, unverified; None if absent or unreachable."""
    redis_client = client()
    if redis_client is None:
        return None
    try:
        body, signature = redis_client.hmget(document_key(slug), ["body", "signature"])
    except redis.RedisError as exc:
        _warn("read document", exc)
        return None
    if not isinstance(body, bytes) or not isinstance(signature, bytes):
        return None
    return body, signature.decode("ascii", "replace")


def put_document(
    slug: str,
    *,
    body: bytes,
    etag: str,
    signature: str,
    version: int,
    api_id: int,
    may_write: Callable[[bytes | None, str | None], bool],
) -> bool:
    """Store a document if `may_write(held_body, held_signature)` agrees, asked while the key
    is watched (WATCH/MULTI): a writer racing this one makes it ask again, so an older
    writer can never overwrite a newer one. True if stored or rightly left alone; False if
    Redis failed (the outbox retries)."""
    redis_client = client(even_if_down=True)
    if redis_client is None:
        return False
    key = document_key(slug)
    try:
        with redis_client.pipeline() as pipe:
            for _ in range(10):
                try:
                    pipe.watch(key)
                    held_body, held_signature = pipe.hmget(key, ["body", "signature"])
                    held_sig = (
                        held_signature.decode("ascii", "replace")
                        if isinstance(held_signature, bytes)
                        else None
                    )
                    held = held_body if isinstance(held_body, bytes) else None
                    if not may_write(held, held_sig):
                        pipe.unwatch()
                        return True
                    pipe.multi()
                    pipe.hset(
                        key,
                        mapping={
                            "body": body,
                            "signature": signature,
                            "etag": etag,
                            "version": version,
                            "api_id": api_id,
                        },
                    )
                    pipe.execute()
                    return True
                except redis.WatchError:
                    continue
    except redis.RedisError as exc:
        _warn("store document", exc)
        return False
    logger.warning("gave up storing %s in redis: it kept changing under us", slug)
    return False


def drop_document(slug: str) -> bool:
    redis_client = client(even_if_down=True)
    if redis_client is None:
        return False
    try:
        redis_client.delete(document_key(slug))
    except redis.RedisError as exc:
        _warn("drop document", exc)
        return False
    return True


def publish(message: dict[str, Any]) -> bool:
    redis_client = client(even_if_down=True)
    if redis_client is None:
        return False
    try:
        redis_client.publish(channel(), json.dumps(message, sort_keys=True))
    except redis.RedisError as exc:
        _warn("publish", exc)
        return False
    return True


# --- tokens ------------------------------------------------------------------------------


def revoke_tokens(digests: Sequence[str]) -> bool:
    """Tombstone the tokens' cached entries.

    Central itself no longer reads tokens from Redis (each process keeps its own cache,
    checked against the database's revocation counter); the tombstones make a central of an
    older release, still running during a rolling upgrade, refuse the tokens too.
    """
    redis_client = client(even_if_down=True)
    if redis_client is None or not digests:
        return True  # nothing to tell
    try:
        with redis_client.pipeline(transaction=False) as pipe:
            for digest in digests:
                pipe.set(_name("token", digest), '{"revoked": true}', ex=_TOMBSTONE_SECONDS)
            pipe.execute()
    except redis.RedisError as exc:
        _warn("revoke tokens", exc)
        return False
    return True
