"""The lead card's actions from the browser. Each parses with the same
serializer as the API, calls the same action, and comes back to the card (or,
in work mode, to the next lead) with a message."""

import time

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from rest_framework.exceptions import ValidationError

from leads import actions
from leads.assignment import assign_manually
from leads.choices import (
    FAILED_CALL_OUTCOMES,
    AttemptChannel,
    AttemptOutcome,
    NextStep,
    Priority,
    ReturnTrigger,
    StageKind,
)
from leads.feedback import leave_feedback
from leads.models import Lead, LeadEvent
from leads.returns import can_return, return_from_nurture
from leads.serializers import (
    AssignSerializer,
    AttemptSerializer,
    NurtureSerializer,
    RejectSerializer,
    ReturnSerializer,
    StageSerializer,
)
from revops.inputs import parse_id
from revops.redirects import safe_next
from revops.roles import Role

# How long the card shows "Undo" after a rejection or nurture (the server allows a
# little more: leads.actions.UNDO_WINDOW).
UNDO_SHOWN_SECONDS = 10

# Errors name the field as the form does, never by its code ("meeting_at: …").
FIELD_LABELS = {
    "channel": gettext_lazy("Channel"),
    "outcome": gettext_lazy("Outcome"),
    "duration_seconds": gettext_lazy("Duration"),
    "callback_at": gettext_lazy("Call back at"),
    "note": gettext_lazy("Note"),
    "recording_url": gettext_lazy("Recording"),
    "stage": gettext_lazy("Stage"),
    "meeting_at": gettext_lazy("Meeting at"),
    "amount": gettext_lazy("Amount"),
    "margin": gettext_lazy("Margin"),
    "reason": gettext_lazy("Reason"),
    "comment": gettext_lazy("Comment"),
    "return_on": gettext_lazy("Return on"),
    "cause": gettext_lazy("Listed reason"),
    "owner": gettext_lazy("Owner"),
    "text": gettext_lazy("Text"),
    "topic": gettext_lazy("Kind"),
    "answers": gettext_lazy("Qualification checklist"),
    "next_step_at": gettext_lazy("Next step"),
    "change": gettext_lazy("Undo"),
}


def _fields(request, serializer_class) -> dict:
    """Only the serializer's own fields from the form, blanks dropped."""
    names = serializer_class().fields
    return {name: request.POST[name] for name in names if request.POST.get(name, "") != ""}


def _parse(request, serializer_class):
    serializer = serializer_class(data=_fields(request, serializer_class))
    if not serializer.is_valid():
        raise actions.Invalid(serializer.errors)
    return serializer.validated_data


def _one(request, serializer_class, name):
    """One field of the form, parsed as `serializer_class` parses it."""
    try:
        return serializer_class().fields[name].run_validation(request.POST[name])
    except ValidationError as exc:
        raise actions.Invalid({name: exc.detail}) from exc


def _named(lead, text) -> str:
    return _("Lead #%(id)s: %(what)s") % {"id": lead.pk, "what": text}


def _offer_undo(request, lead, text):
    """Show `text` with an "Undo" button on the next page, for UNDO_SHOWN_SECONDS
    (base.html, {% undo_offer %}); the server still checks the window itself.
    `act` puts the offer in the session only once the change is saved."""
    change = actions.undoable_close(Lead.objects.get(pk=lead.pk), request.user)
    request.undo_offer = {
        "lead": lead.pk,
        "change": change.pk if change else None,
        "text": text,
        "until": time.time() + UNDO_SHOWN_SECONDS,
    }


def _attempt_said(request, lead, info) -> str:
    if info.get("nurtured"):
        text = _("Lead #%(id)s went to nurture: %(n)s unanswered calls.") % {
            "id": lead.pk,
            "n": info["failed_calls"],
        }
        _offer_undo(request, lead, text)
        return ""
    if info.get("too_soon"):
        return _named(lead, _("attempt logged, but it does not count: too soon after the previous call."))
    return _named(lead, _("attempt logged."))


def _confirm_risky_call(request, lead, data):
    """A failed call that would send a high- or urgent-priority lead to nurture goes
    through only when the rep confirmed it (the card asks; see card.js)."""
    risky = (
        data["channel"] == AttemptChannel.CALL
        and data["outcome"] in FAILED_CALL_OUTCOMES
        and lead.priority in (Priority.HIGH, Priority.URGENT)
        and actions.call_would_nurture(lead)
    )
    if risky and request.POST.get("confirmed") != "1":
        raise actions.Invalid(
            {
                "outcome": [
                    _(
                        "Lead #%(id)s has %(priority)s priority, and this call would send it to nurture: "
                        "confirm it to go on."
                    )
                    % {"id": lead.pk, "priority": lead.get_priority_display().lower()}
                ]
            }
        )


def _stage(request, lead):
    data = _parse(request, StageSerializer)
    lead = actions.move_stage(
        lead,
        request.user,
        data["stage"],
        meeting_at=data.get("meeting_at"),
        amount=data.get("amount"),
        margin=data.get("margin"),
    )
    return _named(lead, _("now at %(stage)s.") % {"stage": lead.stage.name})


def _reject(request, lead):
    data = _parse(request, RejectSerializer)
    lead = actions.reject(lead, request.user, data["reason"], data.get("comment", ""))
    text = _("Lead #%(id)s rejected: %(reason)s.") % {"id": lead.pk, "reason": lead.rejection_reason.name}
    _offer_undo(request, lead, text)
    return ""


def _nurture(request, lead):
    # The words may be left empty when a listed reason is chosen (the action names it then).
    serializer = NurtureSerializer(data={"reason": "", **_fields(request, NurtureSerializer)})
    if not serializer.is_valid():
        raise actions.Invalid(serializer.errors)
    data = serializer.validated_data
    lead = actions.send_to_nurture(
        lead, request.user, data.get("reason", ""), data.get("return_on"), cause=data.get("cause", "")
    )
    _offer_undo(request, lead, _("Lead #%(id)s went to nurture.") % {"id": lead.pk})
    return ""


def _undo(request, lead):
    change = parse_id(request.POST.get("change", ""))
    if change is None:
        raise actions.Invalid({"change": [_("Nothing to undo.")]})
    lead = actions.undo_close(lead, request.user, change)
    request.session.pop("undo", None)
    return _named(lead, _("undone, back at %(stage)s.") % {"stage": lead.stage.name})


def _return(request, lead):
    data = _parse(request, ReturnSerializer)
    lead = return_from_nurture(lead, ReturnTrigger.HAND, request.user, note=data.get("note", "").strip())
    return _named(lead, _("back in the sales queue at %(stage)s.") % {"stage": lead.stage.name})


def _save(request, lead):
    """The card's one form: an outcome (when a button of one was pressed), the
    checklist's changed answers, a stage or a booked meeting, a planned call-back
    and a note typed without an outcome — all saved together or, on any error,
    nothing (the caller's transaction) with everything typed shown again."""
    post = request.POST
    said = []
    if post.get("outcome"):
        data = _parse(request, AttemptSerializer)
        _confirm_risky_call(request, lead, data)
        _attempt, info = actions.log_attempt(lead, request.user, **data)
        said.append(_attempt_said(request, lead, info))
        lead = Lead.objects.select_related("stage").get(pk=lead.pk)
        if lead.stage.kind != StageKind.OPEN:
            return " ".join(text for text in said if text)  # the call closed it: nothing else applies
    elif post.get("note", "").strip():
        text = post["note"].strip()
        if len(text) > 5000:
            raise actions.Invalid({"note": [_("At most 5000 characters.")]})
        LeadEvent.objects.create(lead=lead, kind=LeadEvent.Kind.NOTE, actor=request.user, data={"text": text})
        said.append(_named(lead, _("note saved.")))
    # Only what the rep changed on the form: an answer someone else gave since the card
    # was opened is not put back (the form carries the answers it showed).
    shown = {k.removeprefix("shown_"): v for k, v in post.items() if k.startswith("shown_criterion_")}
    if not shown:
        shown = {f"criterion_{a.criterion_id}": a.answer for a in lead.answers.all()}
    changed = {
        key.removeprefix("criterion_"): value
        for key, value in post.items()
        if key.startswith("criterion_") and value and shown.get(key, "") != value
    }
    if changed:
        lead = actions.answer_checklist(lead, request.user, changed)
        said.append(
            _named(lead, _("checklist saved, %(level)s.") % {"level": lead.get_qualification_display()})
        )
    if post.get("stage") and post["stage"] != lead.stage.code:  # "Reached" may have moved it there already
        said.append(_stage(request, lead))
    elif post.get("meeting_at"):
        when = _one(request, StageSerializer, "meeting_at")
        lead = actions.plan_next_step(lead, request.user, NextStep.MEETING, when)
        said.append(_named(lead, _("meeting booked.")))
    if post.get("callback_at") and not post.get("outcome"):
        when = _one(request, AttemptSerializer, "callback_at")
        lead = actions.plan_next_step(lead, request.user, NextStep.CALL, when)
        said.append(_named(lead, _("call-back planned.")))
    return " ".join(text for text in said if text) or _named(lead, _("nothing to save."))


def _assign(request, lead):
    if request.user.role not in (Role.SALES_HEAD, Role.ADMIN) and not request.user.is_superuser:
        raise PermissionDenied
    data = _parse(request, AssignSerializer)
    assign_manually(lead, data["owner"], request.user)
    return _named(lead, _("now %(owner)s's.") % {"owner": data["owner"]})


def _note(request, lead):
    text = request.POST.get("text", "").replace("\x00", "").strip()  # PostgreSQL refuses NUL
    topic = request.POST.get("topic", "")
    if not text:
        raise actions.Invalid({"text": [_("Write the note first.")]})
    if len(text) > 5000:
        raise actions.Invalid({"text": [_("At most 5000 characters.")]})
    if topic:  # feedback for marketing: its own row, read at /feedback/ (leads/feedback.py)
        leave_feedback(lead, request.user, topic, text)
        return _named(lead, _("feedback sent to marketing."))
    LeadEvent.objects.create(lead=lead, kind=LeadEvent.Kind.NOTE, actor=request.user, data={"text": text})
    return _named(lead, _("note saved."))


HANDLERS = {
    "save": _save,
    "reject": _reject,
    "nurture": _nurture,
    "undo": _undo,
    "return": _return,
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
    if name == "return":  # marketing's, who runs nurture and works no leads otherwise
        allowed = can_return(request.user)
    else:
        allowed = Lead.objects.changeable_by(request.user).filter(pk=pk).exists()
    if not allowed:
        raise PermissionDenied
    work_mode = request.POST.get("work") == "1"
    back = safe_next(request, _back(pk, work_mode))
    try:
        with transaction.atomic():
            message = handler(request, lead)
    except (actions.Invalid, actions.Conflict) as exc:
        errors = exc.errors if isinstance(exc, actions.Invalid) else {"": [str(exc)]}
        for field, texts in errors.items():
            for text in texts if isinstance(texts, list) else [texts]:
                messages.error(request, _error_text(field, text))
        if name == "save":
            # Nothing was saved; the card comes back with everything typed still in it.
            from leads.views import render_card

            return render_card(request, pk, posted=request.POST, work_mode=work_mode, status=400)
        return redirect(back)
    if message:
        messages.success(request, message)
    if getattr(request, "undo_offer", None):
        request.session["undo"] = request.undo_offer  # saved: now it may be offered
    return redirect(_after(request, name, pk, work_mode, back))


def _error_text(field, text) -> str:
    label = FIELD_LABELS.get(field)
    return f"{label}: {text}" if label else str(text)


def _after(request, name, pk, work_mode, back) -> str:
    """Where the rep goes next. In work mode a reached client keeps the rep on the
    lead, with the checklist, stage and next step at hand ("Done → next" moves on);
    a failed call, a close or "Done" opens the next lead."""
    if not work_mode:
        return back
    outcome = request.POST.get("outcome", "")
    still_open = Lead.objects.open().filter(pk=pk).exists()
    logged = name == "save"
    if logged and outcome == AttemptOutcome.REACHED and not request.POST.get("done") and still_open:
        return f"{reverse('leads:detail', args=[pk])}?work=1&reached=1#after-contact"
    moves_on = name in ("reject", "nurture") or (logged and (outcome or not still_open))
    if moves_on or request.POST.get("done"):
        return f"{reverse('work')}?after={pk}"
    return back


def _back(pk, work_mode):
    url = reverse("leads:detail", args=[pk])
    return f"{url}?work=1" if work_mode else url
