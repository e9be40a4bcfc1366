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
    return hit_all([(scope, ident, limit)], window)


def hit_all(limits, window: int = 60) -> tuple[bool, int]:
    """Count one request against each (scope, ident, limit), in one round trip
    to the cache (intake checks its key's limit and the address's on every
    request); allowed only if every limit holds. Each is counted even when
    another is over, as a request refused by one limit still came."""
    limited = [(scope, ident, limit) for scope, ident, limit in limits if limit is not None]
    if not limited:
        return True, 0
    now = int(time.time())
    bucket = now // window
    retry_after = window - (now % window)
    keys = [f"rl:{scope}:{ident}:{bucket}" for scope, ident, _ in limited]
    try:
        counts = _count(keys, window + 1)
    except Exception as exc:  # any cache failure means "allow"
        scopes = ", ".join(scope for scope, _, _ in limited)
        logger.warning("rate limit cache unavailable (%s); allowing %s", exc.__class__.__name__, scopes)
        return True, 0
    allowed = all(count <= limit for count, (_, _, limit) in zip(counts, limited, strict=True))
    return allowed, retry_after


def over(scope: str, ident: str, limit: int, window: int = 60) -> tuple[bool, int]:
    """Whether `ident` has already used up `limit` in this window, without
    counting this request; (over, seconds until the window resets). For limits
    on failures, counted with hit() only when a request fails, but checked
    before any request is served (so a right guess after too many wrong ones
    learns nothing). Fails open like hit()."""
    now = int(time.time())
    retry_after = window - (now % window)
    try:
        count = cache.get(f"rl:{scope}:{ident}:{now // window}") or 0
    except Exception as exc:  # any cache failure means "allow"
        logger.warning("rate limit cache unavailable (%s); allowing %s", exc.__class__.__name__, scope)
        return False, 0
    return int(count) >= limit, retry_after


def _count(keys: list[str], ttl: int) -> list[int]:
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        # One round trip where Django's add() + incr() take three per key:
        # SET NX gives the first request's expiry, INCR counts.
        full_keys = [backend.make_and_validate_key(key) for key in keys]
        # Django builds a new client object on every get_client(); writes always
        # go to the first server, so one client per backend instance (which is
        # per thread) serves every key.
        client = getattr(backend, "_ratelimit_client", None)
        if client is None:
            client = backend._ratelimit_client = backend._cache.get_client(full_keys[0], write=True)
        pipe = client.pipeline(transaction=False)
        for full_key in full_keys:
            pipe.set(full_key, 0, ex=ttl, nx=True)
            pipe.incr(full_key)
        return pipe.execute()[1::2]
    counts = []
    for key in keys:
        cache.add(key, 0, timeout=ttl)  # a no-op when the key exists
        counts.append(cache.incr(key))
    return counts
