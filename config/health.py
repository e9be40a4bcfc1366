"""What /healthz reports. Each check answers fast and never raises."""

import os
import time
from pathlib import Path

from django.conf import settings
from django.db import connection


def check_database() -> dict:
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return {"ok": False, "error": exc.__class__.__name__}
    return {"ok": True, "ms": round((time.monotonic() - started) * 1000, 1)}


def check_broker() -> dict:
    """Is the Celery broker reachable? Redis: a PING with a short timeout;
    the embedded filesystem broker: its folder exists and is writable."""
    if settings.REDIS_URL:
        import redis

        try:
            client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=0.5, socket_timeout=0.5)
            client.ping()
        except Exception as exc:
            return {"ok": False, "kind": "redis", "error": exc.__class__.__name__}
        return {"ok": True, "kind": "redis"}
    folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
    ok = folder.is_dir() and os.access(folder, os.W_OK)
    return {"ok": ok, "kind": "filesystem"}


def check_sla() -> dict:
    """How far behind the sweep is (now − oldest overdue running timer) and how
    many notifications wait for delivery."""
    from django.utils import timezone

    from sla.models import DeliveryState, Notification
    from sla.sweep import lag

    try:
        now = timezone.now()
        return {
            "sweep_lag_seconds": round(lag(now), 1),
            "outbox_backlog": Notification.objects.filter(state=DeliveryState.PENDING).count(),
            "outbox_due": Notification.objects.due(now).count(),
            "outbox_failed": Notification.objects.filter(state=DeliveryState.FAILED).count(),
        }
    except Exception as exc:  # the database check reports the cause
        return {"error": exc.__class__.__name__}
