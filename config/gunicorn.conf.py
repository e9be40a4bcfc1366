"""gunicorn settings for the production web process (Dockerfile, docker-compose.yml:
`gunicorn --config config/gunicorn.conf.py config.wsgi:application ...`).

The access log records the path without the query string. Query strings carry
contact data (`/leads/?search=79031110001`, `?phone=…`), and a log is kept
longer and read by more people than the database rows it would copy. gunicorn's
`%(r)s` (the request line) and `%(q)s` hold the query string, and `%(f)s` (the
Referer) holds the previous page's query string, so the format names none of
them; the logger below also blanks them, and strips the query from the one
error-log line that prints the request URI, so a format changed later cannot
bring them back.
"""

from gunicorn.glogging import Logger

accesslog = "-"
# host, -, user, [time], "METHOD /path PROTOCOL", status, bytes, milliseconds, "user agent"
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms "%(a)s"'


def path_only(uri: str) -> str:
    return uri.split("?", 1)[0].split("#", 1)[0]


class PathOnlyLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["r"] = f"{atoms['m']} {atoms['U']} {atoms['H']}"
        atoms["q"] = atoms["{query_string}e"] = "-"
        for key in ("f", "{referer}i", "{raw_uri}e", "{http_referer}e", "{location}o"):
            if isinstance(atoms.get(key), str):
                atoms[key] = path_only(atoms[key])
        return atoms

    def exception(self, msg, *args, **kwargs):
        # workers/base.py: log.exception("Error handling request %s", req.uri)
        if args and isinstance(args[0], str) and "%s" in str(msg):
            args = (path_only(args[0]), *args[1:])
        super().exception(msg, *args, **kwargs)


logger_class = PathOnlyLogger
