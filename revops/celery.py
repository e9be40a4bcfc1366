"""The Celery app. Configuration comes from Django settings (CELERY_* names);
the periodic schedule is code, here, so it is reviewed like code."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "revops.settings")

app = Celery("revops")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_configure.connect
def _make_broker_folders(sender, **kwargs):
    # kombu's filesystem transport expects its folders to exist.
    from pathlib import Path

    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "control_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)
