"""Secret intake keys: made here, shown once, stored only as a hash."""

import hashlib
import secrets

from leads.models import IntakeKey, Source
from revops import refcache

PREFIX = "rvk_"


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_key(
    source: Source, *, name: str = "", created_by=None, rate_limit_per_minute=120
) -> tuple[IntakeKey, str]:
    """Returns the stored key and the secret; the secret cannot be recovered later."""
    raw = PREFIX + secrets.token_urlsafe(32)
    key = IntakeKey.objects.create(
        source=source,
        name=name,
        prefix=raw[: len(PREFIX) + 6],
        key_hash=_digest(raw),
        created_by=created_by,
        rate_limit_per_minute=rate_limit_per_minute,
    )
    return key, raw


def _active_keys() -> dict[str, IntakeKey]:
    """Every usable key by its hash. A few dozen rows at most, read on every
    intake request: they live in the reference cache (revoking a key in this
    process takes effect at once, in the others within its lifetime). Only
    real keys are held, so requests with made-up keys cannot grow it."""

    def load():
        keys = IntakeKey.objects.select_related("source").filter(
            revoked_at__isnull=True, source__is_active=True
        )
        return {key.key_hash: key for key in keys}

    return refcache.get("intake-keys", load)


def find_key(raw: str) -> IntakeKey | None:
    """The active key matching `raw` (looked up by its hash, so no timing
    tells how much of a wrong key was right)."""
    if not raw or len(raw) > 200:
        return None
    return _active_keys().get(_digest(raw))
