"""Disputed rejections in the browser: the list at /disputes/, and the card's
two forms (marketing disputes, the head decides). Thin: authorise, parse, call
leads.disputes, come back with a message."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from leads import disputes
from leads.actions import Invalid
from leads.dispute_api import DisputeFilter, listed
from leads.models import Lead
from revops.errors import Conflict

PAGE_SIZE = 50


@login_required
def dispute_list(request):
    if not disputes.may_list(request.user):
        raise PermissionDenied
    queryset = listed(request.user)
    filterset = DisputeFilter(request.GET or None, queryset=queryset)
    rows = filterset.qs if filterset.is_bound and filterset.is_valid() else queryset
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    for dispute in page.object_list:
        dispute.deadline_words = disputes.deadline_words(dispute, now)
        dispute.decidable = dispute.is_open and disputes.can_decide(request.user, dispute, dispute.lead)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request, "leads/disputes.html", {"filter": filterset, "page": page, "query": query.urlencode()}
    )


def _said(request, exc):
    if isinstance(exc, Invalid):
        for field, texts in exc.errors.items():
            for text in texts if isinstance(texts, list) else [texts]:
                label = {"comment": _("Comment"), "outcome": _("Decision")}.get(field)
                messages.error(request, f"{label}: {text}" if label else str(text))
    else:
        messages.error(request, str(exc))


@login_required
@require_POST
def dispute_open(request, pk: int):
    """Marketing disputes the lead's rejection (the card's form)."""
    lead = get_object_or_404(Lead.objects.visible_to(request.user), pk=pk)
    if not disputes.can_open(request.user):
        raise PermissionDenied
    try:
        disputes.open_dispute(lead, request.user, request.POST.get("comment", ""))
    except (Invalid, Conflict) as exc:
        _said(request, exc)
    else:
        messages.success(
            request, _("Lead #%(id)s: the rejection is disputed; the head of the team decides.") % {"id": pk}
        )
    return redirect(reverse("leads:detail", args=[pk]) + "#disputes")


@login_required
@require_POST
def dispute_decide(request, pk: int):
    """The head upholds or overturns (the card's form)."""
    dispute = disputes.visible_disputes(request.user).select_related("lead__team").filter(pk=pk).first()
    if dispute is None:
        raise Http404
    if not disputes.can_decide(request.user, dispute, dispute.lead):
        raise PermissionDenied
    lead_id = dispute.lead_id
    try:
        decided = disputes.decide(
            dispute, request.user, request.POST.get("outcome", ""), request.POST.get("comment", "")
        )
    except (Invalid, Conflict) as exc:
        _said(request, exc)
    else:
        if decided.state == "overturned":
            text = _("Lead #%(id)s: rejection overturned, the lead is back in sales.")
        else:
            text = _("Lead #%(id)s: rejection upheld.")
        messages.success(request, text % {"id": lead_id})
    # Someone who decided from the list goes back to it.
    if request.POST.get("from") == "list":
        return redirect("disputes:list")
    return redirect(reverse("leads:detail", args=[lead_id]) + "#disputes")
