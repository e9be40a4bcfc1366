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


def hit_all(limits, window: int = 60, *, failures=None) -> tuple[bool, int]:
    """Count one request against each (scope, ident, limit), in one round trip
    to the cache (intake checks its key's limit and the address's on every
    request); allowed only if every limit holds. Each is counted even when
    another is over, as a request refused by one limit still came.

    `failures`, a (scope, ident, limit, window) counted by hit() only when a
    request fails (wrong keys), is read in the same round trip without being
    counted: when it is used up the request is refused too, and the answer's
    wait is that window's (so a right guess after too many wrong ones learns
    nothing)."""
    limited = [(scope, ident, limit) for scope, ident, limit in limits if limit is not None]
    if not limited and failures is None:
        return True, 0
    now = int(time.time())
    keys = [f"rl:{scope}:{ident}:{now // window}" for scope, ident, _ in limited]
    peek = None
    if failures is not None:
        f_scope, f_ident, _, f_window = failures
        peek = f"rl:{f_scope}:{f_ident}:{now // f_window}"
    try:
        counts, failed = _count(keys, window + 1, peek=peek)
    except Exception as exc:  # any cache failure means "allow"
        scopes = ", ".join(scope for scope, _, _ in limited)
        logger.warning("rate limit cache unavailable (%s); allowing %s", exc.__class__.__name__, scopes)
        return True, 0
    if failures is not None and int(failed or 0) >= failures[2]:
        return False, failures[3] - (now % failures[3])
    allowed = all(count <= limit for count, (_, _, limit) in zip(counts, limited, strict=True))
    return allowed, window - (now % window)


def _count(keys: list[str], ttl: int, *, peek: str | None = None) -> tuple[list[int], int | None]:
    """Increment each key (created with `ttl`); read `peek` without changing it."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        # One round trip where Django's add() + incr() take three per key:
        # SET NX gives the first request's expiry, INCR counts.
        full_keys = [backend.make_and_validate_key(key) for key in keys]
        full_peek = backend.make_and_validate_key(peek) if peek else None
        # Django builds a new client object on every get_client(); writes always
        # go to the first server, so one client per backend instance (which is
        # per thread) serves every key.
        client = getattr(backend, "_ratelimit_client", None)
        if client is None:
            client = backend._ratelimit_client = backend._cache.get_client(
                (full_keys or [full_peek])[0], write=True
            )
        pipe = client.pipeline(transaction=False)
        for full_key in full_keys:
            pipe.set(full_key, 0, ex=ttl, nx=True)
            pipe.incr(full_key)
        if full_peek:
            pipe.get(full_peek)
        results = pipe.execute()
        counts = results[1 : 2 * len(full_keys) : 2]
        return counts, (int(results[-1]) if full_peek and results[-1] is not None else None)
    counts = []
    for key in keys:
        cache.add(key, 0, timeout=ttl)  # a no-op when the key exists
        counts.append(cache.incr(key))
    return counts, (cache.get(peek) if peek else None)
