"""The pages that belong to no one app: the home page, which sends each role
where its work is, and /healthz."""

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from config.health import check_broker, check_database, check_sla
from leads.dashboard import home_summary
from revops.roles import Role


@login_required
def home(request):
    # Each role starts where its work is.
    if request.user.role == Role.REP:
        return redirect("queue")
    if request.user.role == Role.SALES_HEAD:
        return redirect("team")
    if request.user.role == Role.EXECUTIVE:
        return redirect("dashboard")
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
