from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render

from leads.filters import LeadFilter
from leads.models import Lead
from leads.timeline import lead_context

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
