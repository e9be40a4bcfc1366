"""/feedback/: marketing reads what sales heard on the leads, counted by topic and
source, and takes items into work with a reply (leads/feedback.py). Executives
read it all; a head of sales reads the team's; reps read theirs on the cards."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from leads.actions import Invalid
from leads.feedback import can_read_list, can_reply, counts, take_into_work
from leads.feedback_filters import FeedbackFilter
from leads.models import Feedback
from revops.errors import Conflict

PAGE_SIZE = 25


@login_required
@require_GET
def feedback_list(request):
    return _render_list(request)


def _render_list(request, *, failed=None, status=200):
    """The page; `failed` ({"id", "reply", "errors"}) puts a reply that could not
    be saved back into its item's form, with the reason."""
    if not can_read_list(request.user):
        raise PermissionDenied
    queryset = Feedback.objects.visible_to(request.user)
    filterset = FeedbackFilter(request.GET or None, queryset=queryset)
    rows = filterset.qs if filterset.is_bound and filterset.is_valid() else queryset
    rows = rows.select_related(
        "lead__contact", "lead__source", "lead__campaign", "lead__segment", "author", "taken_by"
    ).order_by("-created_at", "-id")
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    summary = counts(filterset.qs if filterset.is_bound and filterset.is_valid() else queryset)
    for group, param in (("topics", "topic"), ("sources", "source")):
        for row in summary[group]:
            linked = query.copy()
            linked[param] = row["key"] if row["key"] is not None else ""
            row["query"] = linked.urlencode()
    return render(
        request,
        "leads/feedback_list.html",
        {
            "filter": filterset,
            "page": page,
            "query": query.urlencode(),
            "counts": summary,
            "can_reply": can_reply(request.user),
            "failed": failed or {},
        },
        status=status,
    )


@login_required
@require_POST
def take(request, pk: int):
    """Take an item into work with a reply. The form posts to this URL with the
    list's filters in its query string, so an error re-renders the same list."""
    feedback = get_object_or_404(Feedback.objects.visible_to(request.user), pk=pk)
    if not can_reply(request.user):
        raise PermissionDenied
    reply = request.POST.get("reply", "")
    try:
        take_into_work(feedback, request.user, reply)
    except Invalid as exc:
        errors = [str(text) for texts in exc.errors.values() for text in texts]
        return _render_list(request, failed={"id": feedback.pk, "reply": reply, "errors": errors}, status=400)
    except Conflict as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("Feedback on lead #%(id)s is taken into work; the rep sees your reply.")
            % {"id": feedback.lead_id},
        )
    back = reverse("feedback:list")
    query = request.GET.urlencode()
    return redirect(f"{back}?{query}#feedback-{feedback.pk}" if query else f"{back}#feedback-{feedback.pk}")


app_name = "feedback"
urlpatterns = [
    path("", feedback_list, name="list"),
    path("<int:pk>/take/", take, name="take"),
]
