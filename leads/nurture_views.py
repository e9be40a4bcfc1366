"""/nurture/: marketing's page of the leads in nurture and what their returns
became (leads/nurture_page.py holds the queries). Thin: authorise, filter,
paginate, render."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils import timezone

from leads.nurture_page import (
    PAGE_SIZE,
    NurtureFilter,
    PeriodForm,
    can_read,
    default_period,
    nurtured_lead_of,
    nurtured_leads,
    returns_in_words,
    summary,
    track_step_text,
)
from leads.returns import can_return
from leads.views import _owner_choices


@login_required
def nurture_page(request):
    user = request.user
    if not can_read(user):
        raise PermissionDenied
    queryset = nurtured_leads(user)
    filterset = NurtureFilter(request.GET or None, queryset=queryset, owner_choices=_owner_choices(user))
    valid = not filterset.is_bound or filterset.is_valid()
    leads = filterset.qs if filterset.is_bound and valid else queryset
    page = Paginator(leads, PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    rows = []
    for lead in page.object_list:
        enrollment = lead.track_now[0] if lead.track_now else None
        rows.append(
            {
                "lead": lead,
                "enrollment": enrollment,
                "step": track_step_text(enrollment) if enrollment else "",
                "returns": returns_in_words(lead.return_due, now),
            }
        )
    period = PeriodForm(request.GET or None)
    if period.is_bound and period.is_valid():
        date_from, date_to = period.cleaned_data["date_from"], period.cleaned_data["date_to"]
    else:
        date_from, date_to = default_period()
        if not period.is_bound:
            period = PeriodForm(initial={"date_from": date_from, "date_to": date_to})
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "filter": filterset,
        "period": period,
        "page": page,
        "rows": rows,
        "query": query.urlencode(),
        "stats": summary(user, date_from, date_to),
        "may_return": can_return(user),
    }
    return render(request, "leads/nurture.html", context, status=200 if valid and not period.errors else 400)


@login_required
def lead_new_check(request):
    """The manual-entry page asks, as the phone or email is typed (htmx), whether
    that person has a lead in nurture: saving will bring it back. Only leads
    the user may see are looked at: the check is no way to learn whose people
    are in nurture."""
    if not request.user.can_work_leads:
        raise PermissionDenied
    lead = nurtured_lead_of(
        request.user, request.GET.get("phone", "")[:40], request.GET.get("email", "")[:254]
    )
    return render(request, "leads/_nurture_notice.html", {"nurtured": lead})
