"""A rejection can be disputed (issue #15): marketing says "this lead was ours"
with a comment; the head of the lead's team decides within the team's time
(Team.dispute_working_hours, working hours on its calendar; default two 8-hour
working days), reminded before the deadline and escalated to the executives
after it.

- upheld: the rejection stands; only the dispute changes;
- overturned: the lead reopens at the stage it left for lost (else `lead`),
  with a fresh first-contact clock; its rejection reason is cleared on the lead
  and kept in its history (the stage change into lost, the dispute row and the
  events' data). The owner keeps it while active, else distribution picks one.

The reminder and the escalation are due rows swept like SLA timers: their times
are stored on the dispute (partial indexes), the sweep registered by leads/apps.py
claims each with a conditional update (reminded_at / escalated_at still empty,
the dispute still open), so each happens once whatever sweeps run at the same
time. A decision locks the lead's row, then claims the dispute by a conditional
update (open → decided), so two heads clicking at once decide once; the sweep
touches only the dispute's row and never waits on two locks.
"""

import datetime as dt
import logging

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from leads.actions import MERGED_NOTE, Invalid, lock_lead, set_stage
from leads.assignment import _record
from leads.assignment import decide as distribute
from leads.choices import AssignmentKind, DisputeState, StageCode, StageKind
from leads.models import Lead, LeadEvent, RejectionDispute, Stage
from leads.steps import DUPLICATE_REASON
from revops import display
from revops.errors import Conflict
from revops.models import User
from revops.roles import MARKETING_ROLES, Role
from sla.business_time import NoWorkingTime, add_working_time
from sla.calendars import schedule_or_24x7
from sla.clock import calendar_for, start_first_contact_timer
from sla.display import clock_texts, human_duration
from sla.models import NotificationKind
from sla.notify import notify

logger = logging.getLogger(__name__)

BATCH = 500
MAX_COMMENT = 5000
DEFAULT_WORKING_HOURS = 16
# The reminder goes when three quarters of the head's time have passed: the
# SLA clock's own rule (SlaPolicy.reminder_percent, 75 by default), so the head
# gets the last quarter — 4 working hours of the default two days — to decide.
REMIND_AT_PERCENT = 75
# Marketing disputes; administrators may do anything.
DISPUTING_ROLES = frozenset({*MARKETING_ROLES, Role.ADMIN})
OUTCOMES = (DisputeState.UPHELD, DisputeState.OVERTURNED)
DISPUTE_NOTE = "dispute:"  # the reopening stage change's note: "dispute:<id>"


# --- who may do what ------------------------------------------------------------------------------


def can_open(user) -> bool:
    """Whether `user` may dispute rejections at all (marketing and admins)."""
    return user.is_authenticated and user.is_active and (user.is_superuser or user.role in DISPUTING_ROLES)


def can_decide(user, dispute: RejectionDispute, lead: Lead | None = None) -> bool:
    """The head of the lead's team (a head of sales of that team: whoever reads
    its leads, as visible_disputes says) and admins decide; executives too once
    the dispute was escalated to them."""
    if not (user.is_authenticated and user.is_active):
        return False
    if user.is_superuser or user.role == Role.ADMIN:
        return True
    lead = lead or dispute.lead
    if user.role == Role.SALES_HEAD and lead.team_id is not None:
        return user.team_id == lead.team_id
    return user.role == Role.EXECUTIVE and dispute.escalated_at is not None


def visible_disputes(user):
    """Disputes `user` may read: a head their team's leads', marketing,
    executives and admins all; reps none (the page answers them 403)."""
    rows = RejectionDispute.objects.all()
    if not (user.is_authenticated and user.is_active):
        return rows.none()
    if user.sees_all_leads:
        return rows
    if user.role == Role.SALES_HEAD and user.team_id is not None:
        return rows.filter(lead__team_id=user.team_id)
    return rows.none()


def may_list(user) -> bool:
    return user.is_authenticated and user.is_active and (user.sees_all_leads or user.role == Role.SALES_HEAD)


# --- deadlines ------------------------------------------------------------------------------------


def deadlines(lead: Lead, at: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """(decide_by, remind_at): the team's working hours from `at` on its calendar
    (a lead without a team: the default), and REMIND_AT_PERCENT of them."""
    hours = lead.team.dispute_working_hours if lead.team_id else DEFAULT_WORKING_HOURS
    budget = dt.timedelta(hours=hours)
    schedule = schedule_or_24x7(calendar_for(lead))
    try:
        due = add_working_time(schedule, at, budget)
        remind = add_working_time(schedule, at, budget * REMIND_AT_PERCENT / 100)
    except NoWorkingTime:  # a calendar with no working time ahead: clock time
        due, remind = at + budget, at + budget * REMIND_AT_PERCENT / 100
    return due.astimezone(dt.UTC), remind.astimezone(dt.UTC)


# --- opening --------------------------------------------------------------------------------------


def disputed_rejection(lead: Lead):
    """The rejection a dispute of `lead` would be about: its latest stage change
    into lost, not taken back. Raises Conflict when the lead may not be disputed."""
    if lead.stage.kind != StageKind.LOST:
        raise Conflict(_("Lead #%(id)s is not rejected.") % {"id": lead.pk})
    if lead.rejection_reason is not None and lead.rejection_reason.code == DUPLICATE_REASON:
        raise Conflict(_("Lead #%(id)s was closed as a duplicate; that is not disputed.") % {"id": lead.pk})
    change = (
        lead.stage_changes.filter(to_stage__kind=StageKind.LOST, undone_by__isnull=True)
        .select_related("from_stage")
        .order_by("-changed_at", "-id")
        .first()
    )
    if change is None:
        raise Conflict(_("Lead #%(id)s has no rejection on record.") % {"id": lead.pk})
    if change.note.startswith(MERGED_NOTE):
        raise Conflict(_("Lead #%(id)s was closed as a duplicate; that is not disputed.") % {"id": lead.pk})
    return change


def check_comment(comment, field="comment", *, required=True) -> str:
    # NUL is dropped: PostgreSQL's text columns refuse it (a 500 otherwise).
    comment = (comment or "").replace("\x00", "").strip() if isinstance(comment, str) else ""
    if required and not comment:
        raise Invalid({field: [_("Say why in a comment.")]})
    if len(comment) > MAX_COMMENT:
        raise Invalid({field: [_("At most %(n)s characters.") % {"n": MAX_COMMENT}]})
    return comment


@transaction.atomic
def open_dispute(lead: Lead, actor, comment: str, *, at=None) -> RejectionDispute:
    """Marketing disputes the lead's rejection. Invalid for a missing comment;
    Conflict when the lead is not rejected, was closed as a duplicate, already
    has an open dispute, or this rejection was disputed before."""
    at = at or timezone.now()
    comment = check_comment(comment)
    lead = lock_lead(lead)
    change = disputed_rejection(lead)
    if lead.disputes.filter(state=DisputeState.OPEN).exists():
        raise Conflict(_("Lead #%(id)s already has an open dispute.") % {"id": lead.pk})
    if RejectionDispute.objects.filter(lost_change=change).exists():
        raise Conflict(_("This rejection of lead #%(id)s was disputed already.") % {"id": lead.pk})
    decide_by, remind_at = deadlines(lead, at)
    dispute = RejectionDispute.objects.create(
        lead=lead,
        lost_change=change,
        rejection_reason=lead.rejection_reason,
        rejection_comment=lead.rejection_comment,
        comment=comment,
        opened_by=actor,
        opened_at=at,
        decide_by=decide_by,
        remind_at=remind_at,
    )
    LeadEvent.objects.create(
        lead=lead,
        kind=LeadEvent.Kind.DISPUTED,
        actor=actor,
        created_at=at,
        data={
            "dispute": dispute.pk,
            "text": comment,
            "reason": lead.rejection_reason.code if lead.rejection_reason_id else None,
            "decide_by": decide_by.isoformat(),
        },
    )
    notify(
        _deciders(lead),
        NotificationKind.DISPUTE_OPENED,
        lead=lead,
        event=f"dispute:{dispute.pk}",
        params={"lead": lead.pk, "dispute": dispute.pk, "decide_by": decide_by.isoformat()},
    )
    return dispute


def _deciders(lead: Lead) -> list:
    """Who is told a dispute waits for them: the active heads of sales of the
    lead's team, exactly those `can_decide` lets decide (the team's named head
    only if that is one of them: a head of another team could not act on it).
    Nobody, for a lead without a team: it escalates to the executives."""
    if lead.team_id is None:
        return []
    return list(User.objects.filter(role=Role.SALES_HEAD, team_id=lead.team_id, is_active=True))


# --- deciding -------------------------------------------------------------------------------------


@transaction.atomic
def decide(dispute: RejectionDispute, actor, outcome: str, comment: str = "", *, at=None) -> RejectionDispute:
    """Decide an open dispute. Invalid for an unknown outcome or a comment too
    long; Conflict when it was decided already (or the lead is no longer lost)."""
    at = at or timezone.now()
    if outcome not in OUTCOMES:
        raise Invalid({"outcome": [_("Choose upheld or overturned.")]})
    comment = check_comment(comment, required=False)
    lead = lock_lead(Lead(pk=dispute.lead_id))
    # The conditional update claims the decision: two heads clicking at once decide once.
    claimed = RejectionDispute.objects.filter(pk=dispute.pk, state=DisputeState.OPEN).update(
        state=outcome, decided_by=actor, decided_at=at, decision_comment=comment
    )
    if not claimed:
        raise Conflict(_("This dispute of lead #%(id)s was decided already.") % {"id": lead.pk})
    dispute = RejectionDispute.objects.select_related("lost_change__from_stage", "rejection_reason").get(
        pk=dispute.pk
    )
    data = {
        "dispute": dispute.pk,
        "outcome": outcome,
        "text": comment,
        "reason": dispute.rejection_reason.code if dispute.rejection_reason_id else None,
        "rejection_comment": dispute.rejection_comment,
    }
    if outcome == DisputeState.OVERTURNED:
        data.update(_reopen(lead, dispute, actor, at))
    LeadEvent.objects.create(
        lead=lead, kind=LeadEvent.Kind.DISPUTE_DECIDED, actor=actor, created_at=at, data=data
    )
    notify(
        [dispute.opened_by],
        NotificationKind.DISPUTE_DECIDED,
        lead=lead,
        event=f"dispute:{dispute.pk}",
        params={"lead": lead.pk, "dispute": dispute.pk, "outcome": outcome},
    )
    return dispute


def _reopen(lead: Lead, dispute: RejectionDispute, actor, at) -> dict:
    """The overturn: back to the stage the lead left for lost, a fresh clock, the
    owner kept while active. Returns what the event records."""
    if lead.stage.kind != StageKind.LOST:
        raise Conflict(_("Lead #%(id)s is no longer rejected.") % {"id": lead.pk})
    left = dispute.lost_change.from_stage
    back_to = (
        left if left and left.kind == StageKind.OPEN and left.is_active else Stage.by_code(StageCode.LEAD)
    )
    lead.rejection_reason, lead.rejection_comment = None, ""
    set_stage(lead, back_to, actor, at, note=f"{DISPUTE_NOTE}{dispute.pk}")
    timer = start_first_contact_timer(lead, at)  # the fresh clock, from the moment it reopens
    return {"stage": back_to.code, "owner": _owner_after_reopen(lead, at, timer)}


def _owner_after_reopen(lead: Lead, at, timer) -> str:
    """Keep an active owner; else distribution decides, with an Assignment row
    saying why. Returns "kept", "changed" or "waits"."""
    owner = lead.owner
    if owner is not None and owner.is_active:
        return "kept"
    reasons = [{"code": "dispute_overturned"}]
    if owner is not None:
        reasons.append({"code": "owner_inactive", "params": {"user": owner.username}})
    lead.owner = None  # the decision picks among the team's available reps
    decision = distribute(lead, at)
    lead.owner = owner  # _record writes the move from the previous owner
    _record(
        lead,
        decision.team,
        decision.owner,
        AssignmentKind.AUTO,
        None,
        [*reasons, *decision.reasons],
        at,
        timer if decision.team is not None and decision.team.pk == lead.team_id else None,
    )
    return "changed" if decision.owner is not None else "waits"


# --- the sweep's steps ----------------------------------------------------------------------------


def remind_due(now: dt.datetime, batch: int = BATCH) -> int:
    """Remind the head of open disputes whose reminder time has come, once each."""
    due = list(
        RejectionDispute.objects.filter(
            state=DisputeState.OPEN, reminded_at__isnull=True, remind_at__lte=now
        ).values_list("pk", flat=True)[:batch]
    )
    done = 0
    for pk in due:
        try:
            done += _remind(pk, now)
        except Exception:  # one bad row must not stop the others; the next pass tries it again
            logger.exception("dispute %s: reminder failed", pk)
    return done


@transaction.atomic
def _remind(pk: int, now) -> int:
    if not RejectionDispute.objects.filter(pk=pk, state=DisputeState.OPEN, reminded_at__isnull=True).update(
        reminded_at=now
    ):
        return 0  # another sweep sent it, or the head decided meanwhile
    dispute = RejectionDispute.objects.select_related("lead").get(pk=pk)
    notify(
        _deciders(dispute.lead),
        NotificationKind.DISPUTE_REMINDER,
        lead=dispute.lead,
        event=f"dispute-reminder:{pk}",
        params={"lead": dispute.lead_id, "dispute": pk, "decide_by": dispute.decide_by.isoformat()},
    )
    return 1


def escalate_due(now: dt.datetime, batch: int = BATCH) -> int:
    """Tell the executives of open disputes past their deadline, once each; from
    then on an executive may decide them too."""
    due = list(
        RejectionDispute.objects.filter(
            state=DisputeState.OPEN, escalated_at__isnull=True, decide_by__lte=now
        ).values_list("pk", flat=True)[:batch]
    )
    if not due:
        return 0
    executives = list(User.objects.filter(role=Role.EXECUTIVE, is_active=True))
    done = 0
    for pk in due:
        try:
            done += _escalate(pk, now, executives)
        except Exception:  # as in remind_due
            logger.exception("dispute %s: escalation failed", pk)
    return done


@transaction.atomic
def _escalate(pk: int, now, executives) -> int:
    if not RejectionDispute.objects.filter(pk=pk, state=DisputeState.OPEN, escalated_at__isnull=True).update(
        escalated_at=now
    ):
        return 0  # another sweep escalated it, or the head decided meanwhile
    dispute = RejectionDispute.objects.select_related("lead").get(pk=pk)
    notify(
        executives,
        NotificationKind.DISPUTE_ESCALATION,
        lead=dispute.lead,
        event=f"dispute-escalation:{pk}",
        params={"lead": dispute.lead_id, "dispute": pk},
    )
    return 1


# --- how pages tell it ----------------------------------------------------------------------------


def deadline_words(dispute: RejectionDispute, now: dt.datetime) -> str:
    """ "decide by 07.12.2026 10:30 · 5 h 20 min left" (or "missed 2 h ago");
    a decided dispute: empty."""
    if dispute.state != DisputeState.OPEN:
        return ""
    texts = clock_texts()
    left = dispute.decide_by - now
    when = _("decide by %(when)s") % {"when": display.when(dispute.decide_by)}
    if left.total_seconds() >= 0:
        return f"{when} · {texts['left'] % {'t': human_duration(left)}}"
    return f"{when} · {texts['missed'] % {'t': human_duration(left)}}"


def describe_decision(data: dict, stage_names: dict, reason_names: dict) -> str:
    """A dispute_decided event in the reader's language: "overturned, back at
    Qualification · rejected as: Not target — …"."""
    if data.get("outcome") == DisputeState.OVERTURNED:
        stage = stage_names.get(data.get("stage"), data.get("stage") or "")
        parts = [_("rejection overturned, the lead is back at %(stage)s") % {"stage": stage}]
    else:
        parts = [_("rejection upheld")]
    reason = data.get("reason")
    if reason:
        rejected = _("rejected as: %(reason)s") % {"reason": reason_names.get(reason, reason)}
        if data.get("rejection_comment"):
            rejected += f" — {data['rejection_comment']}"
        parts.append(rejected)
    if data.get("text"):
        parts.append(data["text"])
    return " · ".join(parts)


def card_context(lead: Lead, user, now: dt.datetime) -> dict:
    """What the lead card shows of disputes (one query): the disputes with their
    state, whether `user` may dispute the current rejection, and which open one
    `user` may decide."""
    rows = list(
        lead.disputes.select_related("opened_by", "decided_by", "rejection_reason").order_by(
            "-opened_at", "-id"
        )[:20]
    )
    open_one = next((d for d in rows if d.state == DisputeState.OPEN), None)
    for dispute in rows:
        dispute.deadline_words = deadline_words(dispute, now)
    rejected = lead.stage.kind == StageKind.LOST and not (
        lead.rejection_reason_id and lead.rejection_reason.code == DUPLICATE_REASON
    )
    # The current rejection was disputed already when a dispute came after it.
    disputed_now = any(lead.stage_changed_at and d.opened_at >= lead.stage_changed_at for d in rows)
    return {
        "disputes": rows,
        "can_dispute": rejected and open_one is None and not disputed_now and can_open(user),
        "decidable_dispute": open_one if open_one and can_decide(user, open_one, lead) else None,
        "dispute_outcomes": [(o.value, o.label) for o in OUTCOMES],
    }
