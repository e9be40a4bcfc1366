"""revops' own pages (signing in, the language, API tokens) and the error pages
every app answers with (config/urls.py names them as the handlers)."""

import logging

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django.views.i18n import set_language as django_set_language

from revops import signin
from revops.models import ApiToken

logger = logging.getLogger(__name__)


class LoginView(auth_views.LoginView):
    """Django's sign-in page; a user name locked for this address (revops/signin.py)
    gets 429 with the lockout message instead of "wrong password"."""

    redirect_authenticated_user = True

    def form_invalid(self, form):
        if not getattr(self.request, "axes_locked_out", False):
            return super().form_invalid(form)
        seconds = signin.retry_after(self.request)
        context = self.get_context_data(form=form, lockout=signin.lockout_message(seconds))
        response = self.render_to_response(context, status=429)
        response["Retry-After"] = str(seconds)
        return response


class TokenNameForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100, required=False)


class TokenRevokeForm(forms.Form):
    token = forms.IntegerField(min_value=1, max_value=2**63 - 1)


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def api_tokens(request):
    """The signed-in person's API tokens: list, issue one (its secret shown on
    this answer only), revoke one. Other people's tokens are the admin's."""
    own = ApiToken.objects.live().filter(user=request.user)
    new_secret = None
    name_form = TokenNameForm()
    if request.method == "POST" and "revoke" in request.POST:
        form = TokenRevokeForm({"token": request.POST.get("revoke")})
        if form.is_valid() and own.filter(pk=form.cleaned_data["token"]).delete()[0]:
            messages.success(request, _("The token was revoked."))
        else:
            messages.error(request, _("No such token of yours."))
        return redirect("account-tokens")
    if request.method == "POST":
        name_form = TokenNameForm(request.POST)
        if name_form.is_valid():
            _token, new_secret = ApiToken.issue(request.user, name=name_form.cleaned_data["name"])
            name_form = TokenNameForm()
    status = 400 if name_form.errors else 200
    return render(
        request,
        "revops/api_tokens.html",
        {
            "tokens": list(own),
            "new_secret": new_secret,
            "name_form": name_form,
            "token_days": settings.API_TOKEN_DAYS,
        },
        status=status,
    )


@require_POST
def set_language(request):
    """Django's language switch, plus remembering the choice on the user."""
    response = django_set_language(request)
    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in {"ru", "en"} and request.user.language != language:
        request.user.language = language
        request.user.save(update_fields=["language"])
    return response


def _api_error(request, status: int, message) -> JsonResponse | None:
    """Under /api/ an error Django answers itself (a URL no route matches, a
    crash) is JSON in the API's error shape, as the OpenAPI schema says."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": str(message)}, status=status)
    return None


def not_found(request, exception=None):
    return _api_error(request, 404, _("Not found.")) or render(request, "errors/404.html", status=404)


def forbidden(request, exception=None):
    return _api_error(request, 403, _("You do not have permission to perform this action.")) or render(
        request, "errors/403.html", status=403
    )


def csrf_failure(request, reason=""):
    """Django's own CSRF page carries an inline style the Content-Security-Policy
    refuses; ours says what happened in the user's language. `reason` is for
    the log, never shown."""
    logger.warning("CSRF check failed on %s: %s", request.path, reason)
    return _api_error(request, 403, _("The form has expired. Reload the page and try again.")) or render(
        request, "errors/csrf.html", status=403
    )


def server_error(request):
    return _api_error(request, 500, _("Server error.")) or render(request, "errors/500.html", status=500)
