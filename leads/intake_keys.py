"""Secret intake keys: made here, shown once, stored only as a hash."""

import hashlib
import secrets

from leads.models import IntakeKey, Source

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


def find_key(raw: str) -> IntakeKey | None:
    """The active key matching `raw` (a constant-time lookup by hash)."""
    if not raw or len(raw) > 200:
        return None
    return (
        IntakeKey.objects.select_related("source")
        .filter(key_hash=_digest(raw), revoked_at__isnull=True, source__is_active=True)
        .first()
    )
