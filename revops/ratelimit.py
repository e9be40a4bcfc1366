"""Fixed-window rate limits in the cache. They protect the intake from floods,
but must never stop real leads because the cache is down: any cache error
lets the request through (fail open) and is logged once per window."""

import logging
import time

from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger(__name__)


def hit(scope: str, ident: str, limit: int | None, window: int = 60) -> tuple[bool, int]:
    """Count one request; return (allowed, seconds until the window resets).
    `limit` None means unlimited."""
    if limit is None:
        return True, 0
    now = int(time.time())
    bucket = now // window
    key = f"rl:{scope}:{ident}:{bucket}"
    retry_after = window - (now % window)
    try:
        count = _count(key, window + 1)
    except Exception as exc:  # any cache failure means "allow"
        logger.warning("rate limit cache unavailable (%s); allowing %s", exc.__class__.__name__, scope)
        return True, 0
    return count <= limit, retry_after


def _count(key: str, ttl: int) -> int:
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        # One round trip where Django's add() + incr() take three (this runs on
        # every intake request): SET NX gives the first request's expiry.
        full_key = backend.make_and_validate_key(key)
        # Django builds a new client object on every get_client(); writes always
        # go to the first server, so one client per backend instance (which is
        # per thread) serves every key.
        client = getattr(backend, "_ratelimit_client", None)
        if client is None:
            client = backend._ratelimit_client = backend._cache.get_client(full_key, write=True)
        pipe = client.pipeline(transaction=False)
        pipe.set(full_key, 0, ex=ttl, nx=True)
        pipe.incr(full_key)
        return pipe.execute()[1]
    cache.add(key, 0, timeout=ttl)  # a no-op when the key exists
    return cache.incr(key)
