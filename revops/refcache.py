"""A per-process cache of the small reference tables read on every intake and
page: stages, products, campaigns, routing rules, SLA policies, the default team.

Why: each of them is one more query on the hottest paths (intake runs them for
every lead), while they change a few times a month, by an admin.

Freshness: an entry lives `settings.REFERENCE_CACHE_SECONDS` (5 s by default).
A change saved through the models in this process clears the cache at once
(and again when its transaction commits, so a value read inside that
transaction is not kept); another process (the worker, another web worker)
sees it within those seconds. Bulk queryset edits send no signals: they too
show within the lifetime. Cached objects are shared, so treat them as read-only.
"""

import threading
import time

from django.conf import settings
from django.db import transaction

_entries: dict[str, tuple[float, object]] = {}
_lock = threading.Lock()


def get(name: str, load):
    """The cached value of `name`, loaded with `load()` when missing or old."""
    now = time.monotonic()
    entry = _entries.get(name)
    if entry is not None and entry[0] > now:
        return entry[1]
    value = load()
    with _lock:
        _entries[name] = (now + settings.REFERENCE_CACHE_SECONDS, value)
    return value


def clear(**_signal_kwargs) -> None:
    with _lock:
        _entries.clear()


def changed(**_signal_kwargs) -> None:
    """Something cached was edited here: clear now and again at commit."""
    clear()
    transaction.on_commit(clear)


def connect(*models) -> None:
    """Clear the cache whenever a row of `models` is saved or deleted here."""
    from django.db.models.signals import post_delete, post_save

    for model in models:
        post_save.connect(changed, sender=model, dispatch_uid=f"refcache-save-{model._meta.label}")
        post_delete.connect(changed, sender=model, dispatch_uid=f"refcache-delete-{model._meta.label}")
