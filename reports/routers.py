"""Reports read from their own database alias when one is configured.

REPORTS_DATABASE_URL (optional) adds the alias "reports", in production a
PostgreSQL streaming replica: the heavy GROUP BY queries of the read side then
never compete with intake and the SLA sweep on the primary. Without it the
alias is simply "default" and nothing changes.

Two ways in, both ending on the same alias:
- `report_db()` for an explicit `.using(report_db())` on a queryset;
- `reading_reports()`, a context manager the report views wrap around
  compute() and the export, inside which every read the ORM routes (related
  objects included) goes to the reports alias.
Writes never go there: `db_for_write` always answers "default" (even for an
object that was loaded from the replica), and nothing is migrated on the
replica (it follows the primary by itself).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS

REPORTS_ALIAS = "reports"

# A ContextVar rather than a thread-local: correct under threads and async alike.
_reading: ContextVar[bool] = ContextVar("reports_reading", default=False)


def report_db() -> str:
    """The alias report queries read from: "reports" when configured, else "default"."""
    return getattr(settings, "REPORTS_DB_ALIAS", DEFAULT_DB_ALIAS)


@contextmanager
def reading_reports() -> Iterator[str]:
    """Route every ORM read inside the block to report_db(); yields the alias."""
    token = _reading.set(True)
    try:
        yield report_db()
    finally:
        _reading.reset(token)


class ReportsRouter:
    """Reads inside reading_reports() → the reports alias; writes always → default."""

    def db_for_read(self, model, **hints):
        if _reading.get():
            return report_db()
        return None  # Django's usual choice (the instance's database, else default)

    def db_for_write(self, model, **hints):
        # Even an instance read from the replica is saved on the primary.
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        # Both aliases hold the same data (the replica mirrors the primary).
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if db == REPORTS_ALIAS:
            return False  # a replica is read-only and follows the primary's schema
        return None
