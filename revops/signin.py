"""Sign-in lockouts: the project's side of django-axes.

Axes counts failed sign-ins per (user name, client address) pair (settings
AXES_LOCKOUT_PARAMETERS) and refuses a locked pair before any password is
checked (AxesStandaloneBackend). The same count covers the login page, the admin's
login and POST /api/v1/auth/token/, because all of them call authenticate() with
the request. This module tells axes:
- who the client is behind our proxies (`client_ip`);
- how long a lock lasts (`cool_off`): LOGIN_COOLOFF_MINUTES after the last
  failure, doubled for every further LOGIN_FAILURE_LIMIT failures (an attacker
  who keeps trying from the same address keeps the lock and makes it longer),
  capped at LOGIN_COOLOFF_MAX_MINUTES;
- what a locked client is answered (`lockout_response`): 429 with Retry-After,
  the login page with a message or, on the API, JSON;
and logs each lockout with the user name and the address, never the password.
"""

import ipaddress
import logging
import math
import unicodedata
from datetime import timedelta

from axes.helpers import get_client_username
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import Max, Sum
from django.dispatch import receiver
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import ngettext

logger = logging.getLogger(__name__)


def client_ip(request) -> str | None:
    """The client's address: REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT proxies
    the X-Forwarded-For entry our nearest proxy saw (the entries to its left are
    whatever the client wrote and are never trusted)."""
    remote = request.META.get("REMOTE_ADDR") or None
    hops = settings.TRUSTED_PROXY_COUNT
    if hops:
        chain = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        chain = [part for part in chain if part]
        if len(chain) >= hops:
            try:
                return str(ipaddress.ip_address(chain[-hops]))
            except ValueError:
                pass
    return remote


def _username(request, credentials=None) -> str | None:
    username = get_client_username(request, credentials)
    if not isinstance(username, str):
        return None
    # The login form normalises the name this way before authenticate(), so
    # the pair axes records and the pair we look up are the same.
    return unicodedata.normalize("NFKC", username)


def _attempts(request, credentials=None) -> tuple[int, object]:
    """(failures, time of the last failure) of the request's pair."""
    ip = getattr(request, "axes_ip_address", None) or client_ip(request)
    row = AccessAttempt.objects.filter(username=_username(request, credentials), ip_address=ip).aggregate(
        failures=Sum("failures_since_start"), last=Max("attempt_time")
    )
    return row["failures"] or 0, row["last"]


def cool_off_for(failures: int) -> timedelta:
    base = timedelta(minutes=settings.LOGIN_COOLOFF_MINUTES)
    longest = timedelta(minutes=settings.LOGIN_COOLOFF_MAX_MINUTES)
    doublings = max(failures // settings.AXES_FAILURE_LIMIT - 1, 0)
    if doublings >= 32:  # far past any cap; keeps the power small
        return longest
    return min(base * 2**doublings, longest)


def cool_off(request=None) -> timedelta:
    """AXES_COOLOFF_TIME: how long the request's pair stays locked after its
    last failure (axes asks before and after recording a failure)."""
    if request is None:
        return cool_off_for(0)
    failures, _last = _attempts(request)
    return cool_off_for(failures)


def retry_after(request, credentials=None) -> int:
    """Whole seconds until the request's pair may try again (at least 1)."""
    failures, last = _attempts(request, credentials)
    if last is None:
        return 1
    remaining = (last + cool_off_for(failures) - timezone.now()).total_seconds()
    return max(math.ceil(remaining), 1)


def lockout_message(seconds: int) -> str:
    minutes = max(math.ceil(seconds / 60), 1)
    return ngettext(
        "Too many failed sign-in attempts for this user from your address. "
        "Try again in %(minutes)s minute or ask an administrator to unlock it.",
        "Too many failed sign-in attempts for this user from your address. "
        "Try again in %(minutes)s minutes or ask an administrator to unlock it.",
        minutes,
    ) % {"minutes": minutes}


def api_lockout_response(request, credentials=None) -> JsonResponse:
    seconds = retry_after(request, credentials)
    response = JsonResponse({"detail": lockout_message(seconds)}, status=429)
    response["Retry-After"] = str(seconds)
    return response


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE, called by AxesMiddleware for a request that hit a
    lock. Our login page and token view answer a lock themselves (429); this
    covers every other sign-in form (the admin's)."""
    if original_response is not None and original_response.status_code == 429:
        return original_response
    if request.path.startswith("/api/"):
        return api_lockout_response(request, credentials)
    seconds = retry_after(request, credentials)
    form = AuthenticationForm(request, initial={"username": _username(request, credentials) or ""})
    response = render(
        request,
        "registration/login.html",
        {"form": form, "lockout": lockout_message(seconds), "next": request.GET.get("next", "")},
        status=429,
    )
    response["Retry-After"] = str(seconds)
    return response


@receiver(user_locked_out)
def log_lockout(sender, request=None, username=None, ip_address=None, **kwargs):
    # The user name and address only: a password never reaches this signal.
    failures = getattr(request, "axes_failures_since_start", None)
    logger.warning(
        "sign-in locked: username=%r address=%s failures=%s path=%s",
        username,
        ip_address,
        failures,
        getattr(request, "path", ""),
    )
