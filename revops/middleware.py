import logging
import sys

from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.dispatch import receiver
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _


class UserLanguageMiddleware:
    """A signed-in user's saved language wins over the cookie and Accept-Language.

    Runs after LocaleMiddleware (which read the cookie or header) and after
    authentication, so only an explicit choice stored on the user overrides.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.language:
            translation.activate(user.language)
            request.LANGUAGE_CODE = user.language
        return self.get_response(request)


# --- the database out of reach: 503 with Retry-After, never 500 ------------------------------

# Seconds a client is asked to wait before trying again: a PostgreSQL restart or
# a failover takes a few; integrations retry (keyed intake requests safely).
DATABASE_RETRY_AFTER = 5
# SQLSTATEs of a server that is going away or not yet back (admin or crash
# shutdown, "the database system is starting up"); class 08 is the connection lost.
_PG_UNAVAILABLE = {"57P01", "57P02", "57P03"}
_SQLITE_UNAVAILABLE = ("unable to open database file", "database is locked")
logger = logging.getLogger(__name__)


def database_unavailable(exc: BaseException) -> bool:
    """Is `exc` the database being out of reach (down, restarting, the
    connection lost) rather than a bug or a conflict that retrying cannot fix?"""
    if isinstance(exc, InterfaceError):  # "connection already closed"
        return True
    if not isinstance(exc, OperationalError):
        return False
    cause = exc.__cause__
    if hasattr(cause, "pgcode"):  # psycopg2
        # No SQLSTATE: libpq could not connect, or the server closed the connection.
        return cause.pgcode is None or cause.pgcode.startswith("08") or cause.pgcode in _PG_UNAVAILABLE
    return any(text in str(exc) for text in _SQLITE_UNAVAILABLE)


def database_unavailable_response(request) -> HttpResponse:
    """503 with Retry-After: JSON ({"detail": ...}, DRF's error shape) for the API
    and the site forms' submit, a short page otherwise. Touches no database: no
    session, no user; the language comes from the cookie or Accept-Language."""
    with translation.override(translation.get_language_from_request(request)):
        message = _("The database is not answering at the moment. Please try again in a few seconds.")
        path = request.path_info
        if path.startswith("/api/") or (path.startswith("/forms/") and path.endswith("/submit/")):
            response = JsonResponse({"detail": message}, status=503)
        else:
            page = render_to_string(
                "errors/503.html", {"message": message, "retry_after": DATABASE_RETRY_AFTER}
            )
            response = HttpResponse(page, status=503)
    response["Retry-After"] = str(DATABASE_RETRY_AFTER)
    add_never_cache_headers(response)
    logger.warning("database out of reach: %s %s answered 503", request.method, request.path_info)
    return response


class DatabaseUnavailableMiddleware:
    """While the database is out of reach, every request answers 503 with
    Retry-After (see database_unavailable_response) instead of 500, so site
    backends and integrators know to retry.

    Sits high in MIDDLEWARE, before the session and authentication middleware
    (the first to query the database in a request). A failure in a view, DRF's
    included (it re-raises what is not an APIException), comes to
    process_exception. One in a middleware below (loading the session or the
    user, saving the session) Django turns into a 500 response right there, so
    got_request_exception marks the request and __call__ swaps that 500 for the
    503; and if even the 500 page failed, the exception itself arrives here.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            response = self.get_response(request)
        except (OperationalError, InterfaceError) as exc:
            if database_unavailable(exc):
                return database_unavailable_response(request)
            raise
        if response.status_code == 500 and getattr(request, "_revops_database_unavailable", False):
            return database_unavailable_response(request)
        return response

    def process_exception(self, request, exception):
        if database_unavailable(exception):
            return database_unavailable_response(request)
        return None


@receiver(got_request_exception, dispatch_uid="revops.middleware.database_unavailable")
def _mark_database_unavailable(sender, request=None, **kwargs):
    # Sent while Django handles an exception, which sys.exc_info() holds.
    exc = sys.exc_info()[1]
    if request is not None and exc is not None and database_unavailable(exc):
        request._revops_database_unavailable = True
