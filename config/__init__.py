"""The project's wiring, the top layer: settings, the root URLconf, the home
and health views, the admin pages that span apps, the Celery app, WSGI and
gunicorn. Nothing below imports it (the import-layer contract in
pyproject.toml checks that)."""

# Import the Celery app when Django starts so @shared_task binds to it.
from config.celery import app as celery_app

__all__ = ("celery_app",)
