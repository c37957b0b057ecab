"""Redis: the compiled documents, token look-ups and the change channel.

Everything here degrades: with no REDIS_URL, or Redis down, callers get None / False and go
to the database; nothing in the request path waits longer than the short socket timeouts.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

TOKEN_TTL_SECONDS = 60

_clients: dict[str, redis.Redis] = {}


def _name(*parts: str) -> str:
    # One prefix for every key and the channel, so installations can share a Redis server
    # (consumers are configured with the same CORSADMIN_REDIS_PREFIX).
    return ":".join((settings.CORSADMIN_REDIS_PREFIX, *parts))


def channel() -> str:
    return _name("policies")


def client() -> redis.Redis | None:
    url: str = settings.REDIS_URL
    if not url:
        return None
    if url not in _clients:
        _clients[url] = redis.Redis.from_url(
            url, socket_connect_timeout=0.5, socket_timeout=0.5, health_check_interval=30
        )
    return _clients[url]


def _warn(what: str, exc: Exception) -> None:
    logger.warning("redis unavailable (%s): %s; using the database", what, exc)


def get_document(slug: str) -> tuple[bytes, str] | None:
    redis_client = client()
    if redis_client is None:
        return None
    try:
        body, etag = redis_client.hmget(_name("doc", slug), ["body", "etag"])
    except redis.RedisError as exc:
        _warn("read document", exc)
        return None
    if not isinstance(body, bytes) or not isinstance(etag, bytes):
        return None
    return body, etag.decode()


# Store a document unless a newer one is there: (api_id, version) only grows for a slug (a
# slug reused after a delete names a new API, with a larger id). A writer holding an older
# read (the republish sweep, a slow publisher) must not put an older policy back.
_PUT_IF_NEWER = """
local held = redis.call('HMGET', KEYS[1], 'api_id', 'version')
local held_id, held_version = tonumber(held[1]), tonumber(held[2])
local api_id, version = tonumber(ARGV[4]), tonumber(ARGV[3])
if held_id and held_version and
   (held_id > api_id or (held_id == api_id and held_version > version)) then
  return 0
end
redis.call('HSET', KEYS[1], 'body', ARGV[1], 'etag', ARGV[2], 'version', ARGV[3],
           'api_id', ARGV[4])
return 1
"""


def put_document(slug: str, *, body: bytes, etag: str, version: int, api_id: int) -> bool:
    """Store the document of `slug` unless Redis holds a newer one; False if Redis failed."""
    redis_client = client()
    if redis_client is None:
        return False
    try:
        redis_client.eval(_PUT_IF_NEWER, 1, _name("doc", slug), body, etag, version, api_id)
    except redis.RedisError as exc:
        _warn("store document", exc)
        return False
    return True


def drop_document(slug: str) -> None:
    redis_client = client()
    if redis_client is None:
        return
    try:
        redis_client.delete(_name("doc", slug))
    except redis.RedisError as exc:
        _warn("drop document", exc)


def publish(message: dict[str, Any]) -> bool:
    redis_client = client()
    if redis_client is None:
        return False
    try:
        redis_client.publish(channel(), json.dumps(message, sort_keys=True))
    except redis.RedisError as exc:
        _warn("publish", exc)
        return False
    return True


def get_token(digest: str) -> dict[str, Any] | None:
    redis_client = client()
    if redis_client is None:
        return None
    try:
        raw = redis_client.get(_name("token", digest))
    except redis.RedisError as exc:
        _warn("read token", exc)
        return None
    if not raw:
        return None
    entry: dict[str, Any] = json.loads(raw)
    return entry


REVOKED: dict[str, Any] = {"revoked": True}


def put_token(digest: str, entry: dict[str, Any]) -> None:
    redis_client = client()
    if redis_client is None:
        return
    try:
        # NX: a look-up that read the database just before a revocation committed must not
        # overwrite the revocation's tombstone with a stale "valid".
        redis_client.set(_name("token", digest), json.dumps(entry), ex=TOKEN_TTL_SECONDS, nx=True)
    except redis.RedisError as exc:
        _warn("store token", exc)


def revoke_token(digest: str) -> None:
    """Replace the cached entry by a tombstone that outlives any look-up still in flight."""
    redis_client = client()
    if redis_client is None:
        return
    try:
        redis_client.set(_name("token", digest), json.dumps(REVOKED), ex=TOKEN_TTL_SECONDS)
    except redis.RedisError as exc:
        _warn("revoke token", exc)


def drop_tokens_for_api(digests: list[str]) -> None:
    redis_client = client()
    if redis_client is None or not digests:
        return
    try:
        redis_client.delete(*[_name("token", digest) for digest in digests])
    except redis.RedisError as exc:
        _warn("drop tokens", exc)
