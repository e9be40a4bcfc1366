"""Leads come back from nurture (issue #15): on their return date, when the
contact sends a new request (leads.intake), or by a marketer's hand.

A return puts the lead back at the stage it left for nurture (else `lead`),
with a fresh first-contact clock, the "back from nurture" mark
(`Lead.returned_at`) and a history event telling what happened meanwhile. The
owner keeps it when still active and on shift; else distribution picks one and
the Assignment row says why.

Return dates are NurtureReturn rows with a stored due time, swept by sla's
sweep through the step leads registers at start-up (leads/apps.py), never a
long Celery ETA. Lock order, everywhere: the lead's row, then its return row —
so the sweep, a hand return and intake never deadlock, and the conditional
update (pending → done) lets exactly one of them return the lead.
"""

import datetime as dt
import logging

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from leads.actions import lock_lead, set_stage
from leads.assignment import _record, decide
from leads.choices import AssignmentKind, ReturnState, ReturnTrigger, StageCode, StageKind
from leads.models import InboundRequest, Lead, LeadEvent, NurtureReturn, Stage
from revops.errors import Conflict
from revops.roles import MARKETING_ROLES, Role
from sla.availability import availability
from sla.calendars import schedule_or_24x7
from sla.clock import calendar_for, start_first_contact_timer
from sla.models import NotificationKind
from sla.notify import notify

logger = logging.getLogger(__name__)

BATCH = 500
RETRY_SECONDS = 60
# Marketing runs nurture (DESIGN.md, who uses it); administrators may do anything.
RETURNING_ROLES = frozenset({*MARKETING_ROLES, Role.ADMIN})


def can_return(user) -> bool:
    """Whether `user` may bring a lead back from nurture by hand."""
    return user.is_authenticated and user.is_active and (user.is_superuser or user.role in RETURNING_ROLES)


@transaction.atomic
def return_from_nurture(
    lead: Lead,
    trigger: str,
    actor=None,
    *,
    at: dt.datetime | None = None,
    request: InboundRequest | None = None,
    note: str = "",
    notify_owner: bool = True,
) -> Lead:
    """Bring `lead` back from nurture to the sales queue (see the module's
    docstring). Raises Conflict when the lead is not in nurture."""
    at = at or timezone.now()
    lead = lock_lead(lead)
    if lead.stage.kind != StageKind.NURTURE:
        raise Conflict(_("Lead #%(id)s is not in nurture.") % {"id": lead.pk})
    sent = (
        lead.stage_changes.filter(to_stage__kind=StageKind.NURTURE, undone_by__isnull=True)
        .select_related("from_stage")
        .order_by("-changed_at", "-id")
        .first()
    )
    left = sent.from_stage if sent else None
    back_to = (
        left if left and left.kind == StageKind.OPEN and left.is_active else Stage.by_code(StageCode.LEAD)
    )
    since = sent.changed_at if sent else (lead.stage_changed_at or lead.created_at)
    story = {
        "trigger": trigger,
        "since": since.isoformat(),
        "days": (at - since).days,
        "until": lead.nurture_until.isoformat() if lead.nurture_until else None,
        "reason": lead.nurture_reason,
        "stage": back_to.code,
        "request": request.pk if request else None,
        **_meanwhile(lead, since, at, request),
    }
    if note:
        story["text"] = note
    # The pending return (if any) ends here, whatever brought the lead back;
    # the sweep's own row was claimed (done) before it called.
    ended = NurtureReturn.objects.filter(lead=lead, state=ReturnState.PENDING).update(
        state=ReturnState.DONE, trigger=trigger, returned_at=at, returned_by=actor
    )
    if not ended and trigger != ReturnTrigger.DATE:
        NurtureReturn.objects.create(
            lead=lead,
            nurture_change=sent,
            state=ReturnState.DONE,
            trigger=trigger,
            returned_at=at,
            returned_by=actor,
            cause=lead.nurture_cause,
            created_at=at,
        )
    lead.nurture_reason, lead.nurture_until, lead.nurture_cause = "", None, None
    lead.returned_at = at
    set_stage(lead, back_to, actor, at)
    timer = start_first_contact_timer(lead, at)  # the fresh clock, from the moment it is back
    story["owner"] = _owner_after_return(lead, at, timer)
    LeadEvent.objects.create(lead=lead, kind=LeadEvent.Kind.RETURNED, actor=actor, created_at=at, data=story)
    recipients = (
        [lead.owner] if lead.owner_id else ([lead.team.head] if lead.team_id and lead.team.head_id else [])
    )
    notify(
        recipients if notify_owner else [],
        NotificationKind.RETURNED,
        lead=lead,
        event=f"returned:{lead.pk}:{at.isoformat()}",
        params={"lead": lead.pk, "trigger": trigger},
    )
    return lead


def _meanwhile(lead: Lead, since, at, request) -> dict:
    """What happened while the lead was in nurture: requests and notes."""
    requests = lead.requests.filter(received_at__gte=since, received_at__lte=at)
    if request is not None:
        requests = requests.exclude(pk=request.pk)
    notes = lead.events.filter(
        kind__in=[LeadEvent.Kind.NOTE, LeadEvent.Kind.FEEDBACK], created_at__gte=since, created_at__lte=at
    )
    return {
        "requests": list(requests.order_by("received_at").values_list("pk", flat=True)[:50]),
        "notes": notes.count(),
    }


def _owner_after_return(lead: Lead, at, timer) -> str:
    """Keep the owner when still active and on shift; else distribution decides
    (an Assignment row with the reasons). Returns "kept", "changed" or "waits"."""
    owner = lead.owner
    why = None
    if owner is not None:
        if not owner.is_active:
            why = {"code": "owner_inactive", "params": {"user": owner.username}}
        else:
            state = availability(owner, schedule_or_24x7(calendar_for(lead)), at)
            if state.available:
                return "kept"
            why = {"code": state.reason, "params": {"user": owner.username}}
    lead.owner = None  # decide() picks among the team's available reps
    decision = decide(lead, at)
    reasons = [{"code": "back_from_nurture"}, *([why] if why else []), *decision.reasons]
    lead.owner = owner  # _record writes the move from the previous owner
    _record(
        lead,
        decision.team,
        decision.owner,
        AssignmentKind.RETURN,
        None,
        reasons,
        at,
        timer if decision.team is not None and decision.team.pk == lead.team_id else None,
        notify_owner=False,  # the return's own notification tells them
    )
    return "changed" if decision.owner is not None else "waits"


# --- the sweep's step ----------------------------------------------------------------------------


def due_returns(now: dt.datetime):
    """Pending returns due by `now` (the partial index `nurturereturn_due_idx`),
    minus those that failed recently and wait for their retry."""
    return NurtureReturn.objects.filter(state=ReturnState.PENDING, due_at__lte=now).filter(
        Q(sweep_retry_at__isnull=True) | Q(sweep_retry_at__lte=now)
    )


def return_due(now: dt.datetime, batch: int = BATCH) -> int:
    """Return the leads whose return date has come; registered as the sweep's
    "returned" step. Each in its own transaction: the lead's row locked (SKIP
    LOCKED: one another sweep or a person holds is left to the next pass), then
    the row claimed pending → done by a conditional update, so a return happens
    once whatever runs at the same time."""
    returned = 0
    due = list(due_returns(now).order_by("due_at", "id").values_list("pk", "lead_id")[:batch])
    for pk, lead_id in due:
        try:
            with transaction.atomic():
                locked = list(
                    Lead.objects.select_for_update(skip_locked=True)
                    .filter(pk=lead_id)
                    .values_list("pk", flat=True)
                )
                if not locked:
                    continue
                claimed = NurtureReturn.objects.filter(pk=pk, state=ReturnState.PENDING).update(
                    state=ReturnState.DONE, trigger=ReturnTrigger.DATE, returned_at=now
                )
                if not claimed:
                    continue  # another sweep, a request or a person returned it meanwhile
                return_from_nurture(Lead(pk=lead_id), ReturnTrigger.DATE, at=now)
                returned += 1
        except Conflict:
            # The lead left nurture some other way: nothing is due any more.
            NurtureReturn.objects.filter(pk=pk, state=ReturnState.PENDING).update(state=ReturnState.CANCELLED)
        except Exception:
            logger.exception("nurture return %s failed; retrying in %ss", pk, RETRY_SECONDS)
            NurtureReturn.objects.filter(pk=pk).update(
                sweep_retry_at=now + dt.timedelta(seconds=RETRY_SECONDS)
            )
    return returned


# --- how the card tells it -------------------------------------------------------------------------

TRIGGER_TEXTS = {
    ReturnTrigger.DATE: lambda: _("on its return date"),
    ReturnTrigger.REQUEST: lambda: _("after a new request"),
    ReturnTrigger.HAND: lambda: _("by hand"),
}


def describe_return(data: dict) -> str:
    """A returned event's story in the reader's language: "on its return date ·
    45 days in nurture · 2 requests, 1 note meanwhile"."""
    parts = []
    trigger = TRIGGER_TEXTS.get(data.get("trigger"))
    if trigger:
        parts.append(str(trigger()))
    days = data.get("days")
    if days is not None:
        parts.append(ngettext("%(n)s day in nurture", "%(n)s days in nurture", days) % {"n": days})
    requests, notes = len(data.get("requests") or []), data.get("notes") or 0
    parts.append(
        ngettext("%(n)s request", "%(n)s requests", requests) % {"n": requests}
        + ", "
        + ngettext("%(n)s note meanwhile", "%(n)s notes meanwhile", notes) % {"n": notes}
    )
    if data.get("text"):
        parts.append(data["text"])
    return " · ".join(parts)
