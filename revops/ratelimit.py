"""Fixed-window rate limits in the cache. They protect the intake from floods,
but must never stop real leads because the cache is down: any cache error
lets the request through (fail open) and is logged once per window."""

import logging
import time

from django.core.cache import cache

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
        # add() is a no-op when the key exists, so the first request sets the expiry.
        cache.add(key, 0, timeout=window + 1)
        count = cache.incr(key)
    except Exception as exc:  # any cache failure means "allow"
        logger.warning("rate limit cache unavailable (%s); allowing %s", exc.__class__.__name__, scope)
        return True, 0
    return count <= limit, retry_after
