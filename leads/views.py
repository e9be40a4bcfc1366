from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import condition, require_GET, require_POST

from leads.actions import Conflict
from leads.choices import EntryChannel, StageKind
from leads.filters import LeadFilter
from leads.forms import ManualLeadForm, MergeForm
from leads.intake import Submission, take_lead
from leads.merge import merge
from leads.models import Lead, Stage
from leads.moved import moved_away
from leads.nurture_page import brought_back, nurtured_lead_of
from leads.queue import ORDERS, next_in_work_mode, ordered, queue_queryset, rows, work_summary
from leads.timeline import lead_context
from leads.updates import newest_unread, version_for
from revops.inputs import parse_id
from revops.models import User
from revops.roles import Role
from sla.messages import link, title

PAGE_SIZE = 50


@login_required
def lead_list(request):
    queryset = Lead.objects.visible_to(request.user).with_related().order_by("-created_at", "-id")
    filterset = LeadFilter(request.GET or None, queryset=queryset, owner_choices=_owner_choices(request.user))
    leads = filterset.qs if filterset.is_bound and filterset.is_valid() else queryset
    page = Paginator(leads, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "leads/lead_list.html",
        {"filter": filterset, "page": page, "query": query.urlencode()},
    )


@login_required
def lead_detail(request, pk: int):
    # A lead the user may not see answers 404, the same as one that does not exist —
    # but someone who held it or was told about it learns where it went (a rep following
    # an old notification should not meet a bare "not found").
    work_mode = request.GET.get("work") == "1"
    return render_card(request, pk, work_mode=work_mode, after_contact=request.GET.get("reached") == "1")


def render_card(request, pk: int, *, posted=None, work_mode=False, after_contact=False, status=200):
    """The card; `posted` (a form that failed) fills its fields again, so nothing
    typed is lost."""
    lead = Lead.objects.visible_to(request.user).with_related().filter(pk=pk).first()
    if lead is None:
        gone = moved_away(request.user, pk)
        if gone is None:
            raise Http404
        return render(request, "leads/lead_moved.html", {"lead": gone}, status=404)
    context = lead_context(lead, request.user, posted=posted)
    context["work_mode"] = work_mode and request.user.role == Role.REP
    context["after_contact"] = context["work_mode"] and (
        after_contact or bool(posted and posted.get("outcome") == "reached")
    )
    context["posted"] = posted or {}
    return render(request, "leads/lead_detail.html", context, status=status)


def _owner_choices(user) -> list[tuple[str, str]]:
    """People whose leads `user` may filter by: a head their team, a rep only themselves."""
    if user.role == Role.REP:
        return [(str(user.pk), str(user))]
    people = User.objects.filter(role__in=[Role.REP, Role.SALES_HEAD], is_active=True).exclude(team=None)
    if user.role == Role.SALES_HEAD:
        people = people.filter(team_id=user.team_id)
    return [(str(p.pk), str(p)) for p in people.order_by("first_name", "username")]


def _forbid_unless(condition: bool):
    if not condition:
        raise PermissionDenied


@login_required
def lead_new(request):
    """Manual entry of a lead that came by phone, mail or in person."""
    _forbid_unless(request.user.can_work_leads)
    form = ManualLeadForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        outcome = take_lead(
            Submission(
                source=data["source"],
                channel=EntryChannel.MANUAL,
                phone=data["phone"],
                email=data["email"],
                name=data["name"].strip(),
                company=data["company"].strip(),
                product=data["product"].code if data["product"] else "",
                comment=data["comment"].strip(),
                consent_text=f"manual:{request.user.username}",
                entered_by=request.user,
                owner=form.chosen_owner(),
            )
        )
        visible = Lead.objects.visible_to(request.user).filter(pk=outcome.lead_id).exists()
        back = outcome.repeat and brought_back(outcome.lead_id, outcome.request_id)
        if back and visible:
            messages.info(
                request,
                _("Lead #%(id)s was in nurture; this request brought it back to the sales queue.")
                % {"id": outcome.lead_id},
            )
        elif back:
            messages.info(
                request,
                _("This person had a lead in nurture; the request brought it back to the sales queue."),
            )
        elif outcome.repeat and visible:
            messages.info(request, _("This person already has an open lead; the request was added to it."))
        elif outcome.repeat:
            # Someone else's lead: de-duplicated all the same, but not named, linked or numbered.
            messages.info(
                request,
                _("This person already has an open lead; the request went to the person's current owner."),
            )
        else:
            messages.success(request, _("Lead #%(id)s created.") % {"id": outcome.lead_id})
        if visible:
            return redirect("leads:detail", pk=outcome.lead_id)
        return redirect("leads:list")
    nurtured = None
    if request.method == "POST":  # the form came back with errors: say it again
        nurtured = nurtured_lead_of(
            request.user, request.POST.get("phone", "")[:40], request.POST.get("email", "")[:254]
        )
    return render(request, "leads/lead_new.html", {"form": form, "nurtured": nurtured})


@login_required
@require_POST
def lead_merge(request, pk: int):
    _forbid_unless(request.user.role in (Role.SALES_HEAD, Role.ADMIN) or request.user.is_superuser)
    lead = get_object_or_404(Lead.objects.changeable_by(request.user), pk=pk)
    form = MergeForm(request.POST, lead=lead, user=request.user)
    if not form.is_valid():
        for error in form.errors.get("other", []):
            messages.error(request, error)
        return redirect("leads:detail", pk=pk)
    try:
        merge(lead, form.cleaned_data["other"], request.user)
    except Conflict as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, _("Lead #%(other)s merged into this one.") % {"other": form.cleaned_data["other"].pk}
        )
    return redirect("leads:detail", pk=pk)


QUEUE_FILTERS = ["stage", "source", "product", "sla_state", "search"]
# A page of the queue is what a rep works through before it refreshes anyway.
QUEUE_PAGE_SIZE = 50


def _queue_context(request, partial=False):
    now = timezone.now()
    order = request.GET.get("order")
    if order in ORDERS and order != request.user.queue_order:
        request.user.queue_order = order
        request.user.save(update_fields=["queue_order"])
    order = request.user.queue_order if request.user.queue_order in ORDERS else "urgency"
    base = queue_queryset(request.user)
    filterset = LeadFilter(request.GET or None, queryset=base)
    for name in list(filterset.filters):
        if name not in QUEUE_FILTERS:
            del filterset.filters[name]
    # The queue holds open leads only: offer only the stages they can be at.
    filterset.filters["stage"].queryset = Stage.objects.filter(kind=StageKind.OPEN)
    leads = filterset.qs if filterset.is_bound and filterset.is_valid() else base
    page = Paginator(ordered(leads, order), QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
    since = _parse_since(request.GET.get("since")) or now
    # The pager keeps the filters and the order, not the refresh's own parameters.
    pager_query = request.GET.copy()
    for name in ("page", "partial", "since"):
        pager_query.pop(name, None)
    return {
        "filter": filterset,
        "page": page,
        "rows": rows(page.object_list, now, since if partial else None),
        "order": order,
        "orders": [("urgency", _("Most urgent first")), ("priority", _("Priority")), ("newest", _("Newest"))],
        "summary": work_summary(request.user, now),
        "since": since.isoformat(),
        "query": request.GET.urlencode(),
        "pager_query": pager_query.urlencode(),
    }


def _parse_since(value):
    from django.utils.dateparse import parse_datetime

    try:
        parsed = parse_datetime(value or "")
    except ValueError:
        return None
    return parsed if parsed and timezone.is_aware(parsed) else None


@login_required
def queue(request):
    """The rep's home: own open leads, most urgent first."""
    _forbid_unless(request.user.role == Role.REP)
    if request.headers.get("HX-Request") and request.GET.get("partial"):
        return render(request, "leads/_queue_rows.html", _queue_context(request, partial=True))
    return render(request, "leads/queue.html", _queue_context(request))


@login_required
def work_next(request):
    """Work mode: open the most urgent lead; after an outcome, the next one."""
    _forbid_unless(request.user.role == Role.REP)
    # A malformed `after` is ignored: the rep simply gets the most urgent lead.
    after = parse_id(request.GET.get("after", ""))
    lead = next_in_work_mode(request.user, after, timezone.now())
    if lead is None:
        messages.success(request, _("No lead to call right now: the others were tried within the last hour."))
        return redirect("queue")
    return redirect(f"{reverse('leads:detail', args=[lead.pk])}?work=1")


def _screen_version(request) -> str:
    request.screen_version = version_for(request.user)
    return request.screen_version


@never_cache
@login_required
@require_GET
@condition(etag_func=_screen_version)
def updates(request):
    """Has anything on this person's screen changed? Pages ask every couple of
    seconds with the last version as If-None-Match and get 304 until it changes
    (leads/updates.py says why a poll); the answer names the newest unread
    notification for the opt-in desktop notification."""
    newest = newest_unread(request.user)
    return JsonResponse(
        {
            "version": request.screen_version,
            "newest": newest
            and {"id": newest.pk, "kind": newest.kind, "title": title(newest), "url": link(newest)},
        }
    )
