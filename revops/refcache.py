"""A per-process cache of the small reference tables read on every intake and
page: stages, products, campaigns, routing rules, SLA policies, the default team.

Why: each of them is one more query on the hottest paths (intake runs them for
every lead), while they change a few times a month, by an admin.

Freshness: an entry lives `settings.REFERENCE_CACHE_SECONDS` (5 s by default).
A change saved through the models in this process clears the cache at once;
another process (the worker, another web worker) sees it within those seconds.
Bulk queryset edits send no signals: they too show within the lifetime.
Cached objects are shared between threads, so treat them as read-only.

Transactions: a thread that changed reference rows in a transaction not yet
over reads them uncached — it may see its own uncommitted rows, which must
never be stored (the transaction may still roll back). The change marks the
thread and asks for a clear at commit (`transaction.on_commit`); the mark goes
with that clear, or, after a rollback (which runs no hook), the first time the
thread reads outside a transaction. A load that overlaps a clear is not stored
either, so a change never hides behind a value read just before it.
"""

import threading
import time

from django.conf import settings
from django.db import transaction

_entries: dict[str, tuple[float, object]] = {}
_lock = threading.Lock()
_generation = 0  # bumped by every clear
_local = threading.local()  # .changing: this thread changed cached rows in its open transaction


def get(name: str, load):
    """The cached value of `name`, loaded with `load()` when missing or old."""
    if _changed_in_open_transaction():
        return load()
    now = time.monotonic()
    entry = _entries.get(name)
    if entry is not None and entry[0] > now:
        return entry[1]
    generation = _generation
    value = load()
    with _lock:
        if generation == _generation:
            _entries[name] = (now + settings.REFERENCE_CACHE_SECONDS, value)
    return value


def clear(**_signal_kwargs) -> None:
    global _generation
    with _lock:
        _entries.clear()
        _generation += 1


def _clear_at_commit() -> None:
    _local.changing = False
    clear()


def changed(**_signal_kwargs) -> None:
    """Something cached was edited here: clear now and again at commit."""
    clear()
    if transaction.get_autocommit():
        return  # committed already
    _local.changing = True
    # One hook per change, not per transaction: a hook queued inside a
    # savepoint that rolls back is dropped with it.
    transaction.on_commit(_clear_at_commit)


def _changed_in_open_transaction() -> bool:
    if not getattr(_local, "changing", False):
        return False
    if transaction.get_autocommit():
        _local.changing = False  # that transaction rolled back: nothing to clear
        return False
    return True


def connect(*models, ignore_updates_of: frozenset = frozenset()) -> None:
    """Clear the cache whenever a row of `models` is saved or deleted here —
    except saves that update only fields in `ignore_updates_of` (a user's
    last login or language is nothing the cache holds)."""
    from django.db.models.signals import post_delete, post_save

    def saved(update_fields=None, **kwargs):
        if update_fields and set(update_fields) <= ignore_updates_of:
            return
        changed()

    for model in models:
        receiver = saved if ignore_updates_of else changed
        post_save.connect(
            receiver, sender=model, dispatch_uid=f"refcache-save-{model._meta.label}", weak=False
        )
        post_delete.connect(changed, sender=model, dispatch_uid=f"refcache-delete-{model._meta.label}")
