from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from leads.actions import Conflict
from leads.choices import EntryChannel
from leads.filters import LeadFilter
from leads.forms import ManualLeadForm, MergeForm
from leads.intake import Submission, take_lead
from leads.merge import merge
from leads.models import Lead
from leads.timeline import lead_context
from revops.roles import Role

PAGE_SIZE = 50


@login_required
def lead_list(request):
    queryset = Lead.objects.visible_to(request.user).with_related().order_by("-created_at", "-id")
    filterset = LeadFilter(request.GET or None, queryset=queryset)
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
    # A lead the user may not see answers 404, the same as one that does not exist.
    lead = get_object_or_404(Lead.objects.visible_to(request.user).with_related(), pk=pk)
    return render(request, "leads/lead_detail.html", lead_context(lead))


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
        if outcome.repeat:
            messages.info(request, _("This person already has an open lead; the request was added to it."))
        else:
            messages.success(request, _("Lead #%(id)s created.") % {"id": outcome.lead_id})
        if Lead.objects.visible_to(request.user).filter(pk=outcome.lead_id).exists():
            return redirect("leads:detail", pk=outcome.lead_id)
        return redirect("leads:list")
    return render(request, "leads/lead_new.html", {"form": form})


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
