"""A view decorator for pages whose rule is "signed in, and this check on the
user passes" (403 otherwise): one place, so each app's views only name their
check."""

import functools

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied


def allowed_if(check):
    def decorator(view):
        @login_required
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            if not check(request.user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
