from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language

from leads.dashboard import home_summary
from revops.health import check_broker, check_database, check_sla
from revops.roles import Role


@login_required
def home(request):
    # Each role starts where its work is.
    if request.user.role == Role.REP:
        return redirect("queue")
    if request.user.role == Role.SALES_HEAD:
        return redirect("team")
    return render(request, "home.html", home_summary(request.user))


@never_cache
def healthz(request):
    """Liveness and readiness for load balancers and people. 200 while the
    database answers (the web can take leads without the broker); the broker's
    state is reported so an outage is visible."""
    database = check_database()
    broker = check_broker()
    checks = {"database": database, "broker": broker, "sla": check_sla() if database["ok"] else {}}
    status = "ok" if database["ok"] and broker["ok"] else ("degraded" if database["ok"] else "down")
    return JsonResponse({"status": status, "checks": checks}, status=200 if database["ok"] else 503)


@require_POST
def set_language(request):
    """Django's language switch, plus remembering the choice on the user."""
    response = django_set_language(request)
    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in {"ru", "en"} and request.user.language != language:
        request.user.language = language
        request.user.save(update_fields=["language"])
    return response


def not_found(request, exception=None):
    return render(request, "errors/404.html", status=404)


def forbidden(request, exception=None):
    return render(request, "errors/403.html", status=403)


def server_error(request):
    return render(request, "errors/500.html", status=500)
