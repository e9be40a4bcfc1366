"""Logging filters. Query strings carry contact data (`/leads/?search=79031110001`),
so request lines are logged with the path only: gunicorn's access log in
production (config/gunicorn.conf.py), runserver's `django.server` log here."""

import logging
import re

_QUERY = re.compile(r"[?#]\S*")


class RequestLineWithoutQuery(logging.Filter):
    """runserver logs '"%s" %s %s' with the request line ("GET /leads/?search=… HTTP/1.1")
    as the first argument; drop its query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args and isinstance(record.args[0], str):
            record.args = (_QUERY.sub("", record.args[0]), *record.args[1:])
        return True
