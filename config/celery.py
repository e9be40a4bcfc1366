"""The Celery app. Configuration comes from Django settings (CELERY_* names);
the periodic schedule is code, here, so it is reviewed like code."""

import os
from pathlib import Path

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("revops")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def beat_schedule(sweep_every: float) -> dict:
    # `expires` drops ticks a stopped worker did not take, so a worker coming
    # back runs one sweep, not a backlog of them.
    return {
        "sla-sweep": {"task": "sla.sweep", "schedule": sweep_every, "options": {"expires": sweep_every * 5}},
        "deliver-notifications": {
            "task": "sla.deliver_notifications",
            "schedule": 2.0,
            "options": {"expires": 10},
        },
        "assign-waiting-leads": {
            "task": "leads.assign_waiting",
            "schedule": 30.0,
            "options": {"expires": 60},
        },
    }


@app.on_after_configure.connect
def _configure(sender, **kwargs):
    # Here, not at import: the settings module imports this package while it loads.
    from django.conf import settings

    sender.conf.beat_schedule = beat_schedule(settings.SLA_SWEEP_INTERVAL)
    # kombu's filesystem transport expects its folders to exist.
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "control_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)
