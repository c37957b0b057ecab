"""A Redis cache that degrades instead of failing when Redis is unreachable.

The cache only holds throttle counters, token last-use stamps and similar conveniences. If
Redis goes away, central must keep serving policies from the database (design.md, "Failure
behaviour"), so a cache error becomes a miss (and a logged warning), never a 500.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

import redis
from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger(__name__)
_WARN_EVERY_SECONDS = 30.0
_last_warning = 0.0


def _degrade(fallback: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrap(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            global _last_warning
            try:
                return method(*args, **kwargs)
            except redis.RedisError as exc:
                now = time.monotonic()
                if now - _last_warning > _WARN_EVERY_SECONDS:
                    _last_warning = now
                    logger.warning("redis cache unavailable (%s): treating as a miss", exc)
                # Reads give the caller's default, writes report "not stored".
                if fallback == "default":
                    return kwargs.get("default", args[2] if len(args) > 2 else None)
                return fallback

        return guarded

    return wrap


class ResilientRedisCache(RedisCache):
    add = _degrade(False)(RedisCache.add)
    get = _degrade("default")(RedisCache.get)
    set = _degrade(None)(RedisCache.set)
    touch = _degrade(False)(RedisCache.touch)
    delete = _degrade(False)(RedisCache.delete)
    get_many = _degrade({})(RedisCache.get_many)
    set_many = _degrade([])(RedisCache.set_many)
    delete_many = _degrade(None)(RedisCache.delete_many)
    has_key = _degrade(False)(RedisCache.has_key)
    incr = _degrade(None)(RedisCache.incr)
    clear = _degrade(None)(RedisCache.clear)
