"""In-app notifications: a badge on every page (polled by htmx), the list, and
marking as read."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from revops.inputs import parse_id
from revops.redirects import safe_next
from sla.messages import link, title
from sla.models import Notification, NotificationChannel


def _rows(notifications):
    return [{"n": n, "title": title(n), "url": link(n)} for n in notifications]


@login_required
def badge(request):
    unread = Notification.objects.unread_for(request.user)
    latest = list(unread.order_by("-created_at", "-id")[:5])
    return render(
        request,
        "sla/_notification_badge.html",
        {"unread_count": unread.count(), "latest": _rows(latest)},
    )


@login_required
def notification_list(request):
    mine = Notification.objects.filter(recipient=request.user, channel=NotificationChannel.IN_APP).order_by(
        "-created_at", "-id"
    )
    page = Paginator(mine, 50).get_page(request.GET.get("page"))
    return render(request, "sla/notifications.html", {"page": page, "rows": _rows(page.object_list)})


@login_required
@require_POST
def mark_read(request):
    unread = Notification.objects.unread_for(request.user)
    ids = [parse_id(x) for x in request.POST.getlist("id")]
    if None in ids:
        # Ignoring a bad id would mark every notification read: refuse instead.
        return HttpResponseBadRequest(_("Give notification ids as whole numbers."))
    if ids:
        unread = unread.filter(pk__in=ids)
    unread.update(read_at=timezone.now())
    if request.headers.get("HX-Request"):
        return badge(request)
    return redirect(safe_next(request, "notifications"))


@login_required
def breach_list(request):
    """Open SLA breaches for heads: whose delay, how late, acknowledge or resolve."""
    from django.core.exceptions import PermissionDenied

    from sla.filters import BreachFilter
    from sla.models import Breach

    if not (request.user.is_sales_head or request.user.sees_all_leads):
        raise PermissionDenied
    breaches = (
        Breach.objects.visible_to(request.user)
        .select_related("lead__contact", "owner", "team", "source", "acknowledged_by")
        .order_by("-created_at", "-id")
    )
    params = request.GET.copy()
    params.setdefault("resolved", "false")
    filterset = BreachFilter(params, queryset=breaches, choices=_breach_filter_choices(request.user))
    rows = filterset.qs if filterset.is_valid() else breaches.none()
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    can_act = request.user.is_sales_head or request.user.role == "admin" or request.user.is_superuser
    return render(request, "sla/breaches.html", {"filter": filterset, "page": page, "can_act": can_act})


def _breach_filter_choices(user) -> dict:
    from revops.models import Team, User
    from revops.roles import Role
    from sla.models import Breach

    # The sources a breach names, through its foreign key: sla imports nothing of leads.
    Source = Breach.source.field.related_model
    people = User.objects.filter(role__in=[Role.REP, Role.SALES_HEAD]).exclude(team=None)
    teams = Team.objects.filter(kind=Team.Kind.SALES)
    if user.role == Role.SALES_HEAD:
        people, teams = people.filter(team_id=user.team_id), teams.filter(pk=user.team_id)
    return {
        "team": [(str(t.pk), t.name) for t in teams.order_by("name")],
        "owner": [(str(p.pk), str(p)) for p in people.order_by("first_name", "username")],
        "source": [(str(s.pk), s.name) for s in Source.objects.order_by("name")],
    }


@login_required
@require_POST
def breach_act(request, pk: int, verb: str):
    from django.contrib import messages
    from django.core.exceptions import PermissionDenied
    from django.shortcuts import get_object_or_404

    from revops.errors import Conflict
    from sla import actions
    from sla.models import Breach

    if not (request.user.is_sales_head or request.user.role == "admin" or request.user.is_superuser):
        raise PermissionDenied
    breach = get_object_or_404(Breach.objects.visible_to(request.user), pk=pk)
    action = {"acknowledge": actions.acknowledge, "resolve": actions.resolve}.get(verb)
    if action is None:
        raise Http404
    try:
        action(breach, request.user, request.POST.get("comment", "")[:2000])
    except Conflict as exc:
        messages.error(request, str(exc))
    return redirect(safe_next(request, "breaches"))
