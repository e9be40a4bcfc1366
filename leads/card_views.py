"""The lead card's actions from the browser. Each parses with the same
serializer as the API, calls the same action, and comes back to the card (or,
in work mode, to the next lead) with a message."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from leads import actions
from leads.assignment import assign_manually
from leads.models import Lead, LeadEvent
from leads.serializers import (
    AssignSerializer,
    AttemptSerializer,
    NurtureSerializer,
    RejectSerializer,
    StageSerializer,
)
from leads.timeline import FEEDBACK_TOPICS
from revops.redirects import safe_next
from revops.roles import Role


def _fields(request, serializer_class) -> dict:
    """Only the serializer's own fields from the form, blanks dropped."""
    names = serializer_class().fields
    return {name: request.POST[name] for name in names if request.POST.get(name, "") != ""}


def _parse(request, serializer_class):
    serializer = serializer_class(data=_fields(request, serializer_class))
    if not serializer.is_valid():
        raise actions.Invalid(serializer.errors)
    return serializer.validated_data


def _attempt(request, lead):
    data = _parse(request, AttemptSerializer)
    attempt, info = actions.log_attempt(lead, request.user, **data)
    if info.get("nurtured"):
        return _("Attempt logged. %(n)s unanswered calls: the lead went to nurture.") % {
            "n": info["failed_calls"]
        }
    if info.get("too_soon"):
        return _("Attempt logged, but it does not count: too soon after the previous call.")
    return _("Attempt logged.")


def _stage(request, lead):
    data = _parse(request, StageSerializer)
    actions.move_stage(
        lead,
        request.user,
        data["stage"],
        meeting_at=data.get("meeting_at"),
        amount=data.get("amount"),
        margin=data.get("margin"),
    )
    return _("Stage changed.")


def _reject(request, lead):
    data = _parse(request, RejectSerializer)
    actions.reject(lead, request.user, data["reason"], data.get("comment", ""))
    return _("The lead is closed as rejected.")


def _nurture(request, lead):
    data = _parse(request, NurtureSerializer)
    actions.send_to_nurture(lead, request.user, data["reason"], data.get("return_on"))
    return _("The lead went to nurture.")


def _checklist(request, lead):
    answers = {
        key.removeprefix("criterion_"): value
        for key, value in request.POST.items()
        if key.startswith("criterion_") and value
    }
    lead = actions.answer_checklist(lead, request.user, answers)
    return _("Checklist saved: %(level)s.") % {"level": lead.get_qualification_display()}


def _assign(request, lead):
    if request.user.role not in (Role.SALES_HEAD, Role.ADMIN) and not request.user.is_superuser:
        raise PermissionDenied
    data = _parse(request, AssignSerializer)
    assign_manually(lead, data["owner"], request.user)
    return _("The lead is now %(owner)s's.") % {"owner": data["owner"]}


def _note(request, lead):
    text = request.POST.get("text", "").strip()
    topic = request.POST.get("topic", "")
    if not text:
        raise actions.Invalid({"text": [_("Write the note first.")]})
    if len(text) > 5000:
        raise actions.Invalid({"text": [_("At most 5000 characters.")]})
    if topic and topic not in dict(FEEDBACK_TOPICS):
        raise actions.Invalid({"topic": [_("Unknown topic.")]})
    kind = LeadEvent.Kind.FEEDBACK if topic else LeadEvent.Kind.NOTE
    LeadEvent.objects.create(lead=lead, kind=kind, actor=request.user, data={"text": text, "topic": topic})
    return _("Saved.")


HANDLERS = {
    "attempt": _attempt,
    "stage": _stage,
    "reject": _reject,
    "nurture": _nurture,
    "checklist": _checklist,
    "assign": _assign,
    "note": _note,
}


@login_required
@require_POST
def act(request, pk: int, name: str):
    handler = HANDLERS.get(name)
    if handler is None:
        raise Http404
    lead = get_object_or_404(Lead.objects.visible_to(request.user), pk=pk)
    if not Lead.objects.changeable_by(request.user).filter(pk=pk).exists():
        raise PermissionDenied
    work_mode = request.POST.get("work") == "1"
    back = safe_next(request, _back(pk, work_mode))
    try:
        message = handler(request, lead)
    except actions.Invalid as exc:
        for field, errors in exc.errors.items():
            for error in errors if isinstance(errors, list) else [errors]:
                messages.error(request, f"{field}: {error}" if field != "non_field_errors" else str(error))
        return redirect(back)
    except actions.Conflict as exc:
        messages.error(request, str(exc))
        return redirect(back)
    messages.success(request, message)
    if work_mode and name in ("attempt", "reject", "nurture", "stage"):
        return redirect(f"{reverse('work')}?after={pk}")
    return redirect(back)


def _back(pk, work_mode):
    url = reverse("leads:detail", args=[pk])
    return f"{url}?work=1" if work_mode else url
