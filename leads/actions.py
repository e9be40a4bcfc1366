"""State changes of leads. Each function here is the one place that makes its
change and writes its history row, inside one transaction, with the lead's row
locked so that concurrent requests apply one after the other.

Errors: `Invalid` (bad input, answered 400 with messages per field) and
`Conflict` (revops.errors: the lead's state forbids it, answered 409).
Nothing is written when either is raised.
"""

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from leads import tracks
from leads.choices import (
    FAILED_CALL_OUTCOMES,
    Answer,
    AttemptChannel,
    AttemptOutcome,
    CriterionLevel,
    DealStatus,
    DisputeState,
    NextStep,
    NurtureCode,
    Qualification,
    ReturnState,
    StageCode,
    StageKind,
)
from leads.models import (
    ContactAttempt,
    CriterionAnswer,
    Deal,
    Lead,
    LeadEvent,
    NurtureReason,
    NurtureReturn,
    QualificationCriterion,
    RejectionDispute,
    RejectionReason,
    Stage,
    StageChange,
)
from revops import display
from revops.errors import Conflict
from revops.models import User
from revops.roles import MARKETING_ROLES
from sla import clock
from sla.business_time import NoWorkingTime, next_working_moment
from sla.calendars import schedule_or_24x7
from sla.models import FirstContactRule, NotificationKind, SlaTimer, TimerKind
from sla.notify import notify, withdraw

# Fields of a lead (or its contact) that may be edited directly; everything else
# changes through its own action (assign, stage, reject, nurture…).
EDITABLE_LEAD_FIELDS = ("priority", "segment", "fit", "product", "comment")
EDITABLE_CONTACT_FIELDS = ("name", "company")
MAX_CALLBACK_DAYS = 366


class Invalid(Exception):
    def __init__(self, errors: dict):
        super().__init__(errors)
        self.errors = errors


def lock_lead(lead: Lead) -> Lead:
    """Lock the lead's row, then read it with its relations. Locking and joining
    in one query goes wrong on PostgreSQL when another transaction changed the
    row meanwhile (the re-checked row can drop out or lose its joined owner),
    so the lock takes the bare row and the read comes after it."""
    list(Lead.objects.select_for_update().filter(pk=lead.pk).values_list("pk", flat=True))
    return Lead.objects.select_related("stage", "furthest_stage", "owner", "team", "contact", "source").get(
        pk=lead.pk
    )


def _require_open(lead: Lead):
    if lead.stage.kind != StageKind.OPEN:
        raise Conflict(_("The lead is closed (%(stage)s); reopen it first.") % {"stage": lead.stage.name})


def _value_for_log(value):
    if hasattr(value, "pk"):
        return getattr(value, "code", None) or value.pk
    return value


@transaction.atomic
def update_lead(lead: Lead, actor, changes: dict) -> Lead:
    """Apply `changes` (already validated) and audit what really changed."""
    lead = lock_lead(lead)
    diff = {}
    lead_fields, contact_fields = [], []
    for field, value in changes.items():
        if field in EDITABLE_CONTACT_FIELDS:
            target, bucket = lead.contact, contact_fields
        elif field in EDITABLE_LEAD_FIELDS:
            target, bucket = lead, lead_fields
        else:
            raise ValueError(f"{field} is not directly editable")
        old = getattr(target, field)
        if old != value:
            diff[field] = [_value_for_log(old), _value_for_log(value)]
            setattr(target, field, value)
            bucket.append(field)
    if not diff:
        return lead
    if contact_fields:
        lead.contact.save(update_fields=contact_fields)
    lead.save(update_fields=[*lead_fields, "updated_at"])
    LeadEvent.objects.create(lead=lead, kind=LeadEvent.Kind.EDITED, actor=actor, data={"changes": diff})
    if "segment" in lead_fields or "priority" in lead_fields or "product" in lead_fields:
        # Policies match on these: a running clock follows the new policy.
        clock.recompute_running(SlaTimer.objects.filter(lead=lead))
    return lead


# --- stages ---------------------------------------------------------------------------------------


def set_stage(lead: Lead, stage: Stage, actor, at, note="", meeting_at=None) -> StageChange:
    """Set the stage, keep the furthest one, write history, stop clocks on close.
    Checks nothing: the caller has (check_move, or merge's own rules) and holds the lock.
    Returns the history row."""
    previous = lead.stage
    lead.stage = stage
    lead.stage_changed_at = at
    if stage.position is not None and (lead.furthest_stage.position or 0) < stage.position:
        lead.furthest_stage = stage
    if stage.kind == StageKind.OPEN:
        lead.closed_at = None
    else:
        lead.closed_at = max(at, lead.created_at)
        # The next step stays on record (only open leads show one), so an undo restores it.
        clock.cancel_timers(lead, at)
    if previous.kind == StageKind.NURTURE and stage.kind != StageKind.NURTURE:
        tracks.stop(lead, at)  # whatever way it leaves nurture (a return, a merge), its track ends
    plan_after_move(lead, stage, meeting_at)
    lead.save()
    return StageChange.objects.create(
        lead=lead, from_stage=previous, to_stage=stage, changed_by=actor, changed_at=at, note=note
    )


def check_move(lead: Lead, stage: Stage | None, *, meeting_at=None, amount=None, margin=None) -> None:
    """Whether `lead` may move to `stage` with these details (the rules of
    move_stage, also followed by the demo's history): raises Invalid or
    Conflict, else returns."""
    if stage is None:
        raise Invalid({"stage": [_("Unknown stage.")]})
    if stage.kind == StageKind.LOST:
        raise Invalid({"stage": [_("Use reject to close a lead with a reason.")]})
    if stage.kind == StageKind.NURTURE:
        raise Invalid({"stage": [_("Use nurture to send a lead to nurture.")]})
    _require_open(lead)
    if stage.pk == lead.stage_id:
        raise Conflict(_("The lead is already at this stage."))
    errors = {}
    if stage.code == StageCode.MEETING and meeting_at is None:
        errors["meeting_at"] = [_("Give the date and time of the meeting.")]
    if stage.code in (StageCode.PROPOSAL, StageCode.DEAL) and amount is None:
        errors["amount"] = [_("Give the amount.")]
    if stage.kind == StageKind.WON and margin is None:
        errors["margin"] = [_("Give the margin.")]
    if amount is not None and margin is not None and margin > amount:
        errors["margin"] = [_("The margin cannot exceed the amount.")]
    if errors:
        raise Invalid(errors)


def stage_note(*, meeting_at=None, amount=None) -> str:
    """The history note of a move: the meeting's time or the amount."""
    # Written once, in the language of the person who moved the lead, in the
    # styles every page uses (revops/display.py).
    if meeting_at is not None:
        return _("meeting at %(when)s") % {"when": display.when(meeting_at)}
    if amount is not None:
        return _("amount %(amount)s") % {
            "amount": display.money(amount, settings.DEFAULT_CURRENCY, whole=True)
        }
    return ""


@transaction.atomic
def move_stage(
    lead: Lead, actor, stage_code: str, *, meeting_at=None, amount=None, margin=None, at=None
) -> Lead:
    """Move along the funnel. Each stage asks for what it needs: a meeting its
    date, a proposal its amount, a deal its amount and margin (and creates the
    deal record). Rejection and nurture have their own actions."""
    at = at or timezone.now()
    lead = lock_lead(lead)
    stage = Stage.objects.filter(code=stage_code, is_active=True).first()
    check_move(lead, stage, meeting_at=meeting_at, amount=amount, margin=margin)
    note = stage_note(meeting_at=meeting_at, amount=amount)
    set_stage(lead, stage, actor, at, note=note, meeting_at=meeting_at)
    if stage.kind == StageKind.WON:
        Deal.objects.create(
            lead=lead,
            contact=lead.contact,
            product=lead.product,
            amount=Decimal(amount),
            margin=Decimal(margin),
            status=DealStatus.WON,
            is_repeat_sale=lead.contact.deals.filter(status=DealStatus.WON).exists(),
            created_at=at,
            closed_on=timezone.localdate(at),
            owner=lead.owner or actor,
        )
    return lead


def check_reject(lead: Lead, reason: RejectionReason | None, comment: str) -> str:
    """Whether `lead` may be rejected for `reason` with `comment` (raises Invalid
    or Conflict); returns the comment as it is stored."""
    if reason is None:
        raise Invalid({"reason": [_("Choose a reason from the list.")]})
    comment = (comment or "").strip()
    if reason.requires_comment and not comment:
        raise Invalid({"comment": [_("Explain the reason in a comment.")]})
    _require_open(lead)
    return comment


@transaction.atomic
def reject(lead: Lead, actor, reason_code: str, comment: str = "", *, at=None) -> Lead:
    at = at or timezone.now()
    lead = lock_lead(lead)
    reason = RejectionReason.objects.filter(code=reason_code, is_active=True).first()
    comment = check_reject(lead, reason, comment)
    lead.rejection_reason, lead.rejection_comment = reason, comment
    set_stage(lead, Stage.objects.get(code=StageCode.LOST), actor, at, note=reason.code)
    return lead


@transaction.atomic
def send_to_nurture(
    lead: Lead, actor, reason: str, return_on: dt.date | None = None, *, cause: str = "", at=None
) -> Lead:
    """`cause` is the code of a listed NurtureReason (a track picks its leads by
    it; none given: "other"); `reason` is the rep's own words."""
    at = at or timezone.now()
    lead = lock_lead(lead)
    reason = (reason or "").strip()
    listed = NurtureReason.objects.filter(code=cause or NurtureCode.OTHER, is_active=True).first()
    if cause and listed is None:
        raise Invalid({"cause": [_("Choose a reason from the list.")]})
    if not reason and listed is not None and cause:
        reason = listed.name
    if not reason:
        raise Invalid({"reason": [_("Say why the lead goes to nurture.")]})
    if return_on is not None and return_on <= timezone.localdate(at):
        raise Invalid({"return_on": [_("The return date must be in the future.")]})
    _require_open(lead)
    _to_nurture(lead, actor, reason, return_on, at, cause=listed)
    return lead


def _to_nurture(lead, actor, reason, return_on, at, *, attempts=None, cause=None):
    lead.nurture_reason, lead.nurture_until, lead.nurture_cause = reason[:300], return_on, cause
    change = set_stage(lead, Stage.objects.get(code=StageCode.NURTURE), actor, at, note=reason[:500])
    if return_on is not None:
        # Swept like an SLA timer (leads.returns), never a long Celery ETA.
        NurtureReturn.objects.create(
            lead=lead,
            nurture_change=change,
            cause=cause,
            due_at=return_due_at(lead, return_on),
            created_at=at,
        )
    # The track of the listed reason starts warming the lead (leads.tracks).
    tracks.enroll(lead, change, at, actor)
    marketing = User.objects.filter(role__in=MARKETING_ROLES, is_active=True)
    notify(
        [lead.owner, *marketing],
        NotificationKind.NURTURED,
        lead=lead,
        event=nurture_event(lead, at),
        params={"lead": lead.pk, "attempts": attempts or "", "reason": reason[:300]},
        hold=UNDO_WINDOW,  # mail waits out the card's Undo, which withdraws it
    )


def return_due_at(lead: Lead, day: dt.date) -> dt.datetime:
    """When a lead due back on `day` returns: the start of that day's working
    time on its team's calendar (a holiday or weekend: the next working day's)."""
    schedule = schedule_or_24x7(clock.calendar_for(lead))
    midnight = dt.datetime.combine(day, dt.time.min, tzinfo=schedule.tz)
    try:
        return next_working_moment(schedule, midnight).astimezone(dt.UTC)
    except NoWorkingTime:  # a calendar with no working time ahead: the day itself
        return midnight.astimezone(dt.UTC)


def nurture_event(lead: Lead, at) -> str:
    return f"nurture:{lead.pk}:{at.isoformat()}"


# The card offers "Undo" for 10 s; the server allows a little more for a slow click
# or a slow network, and no more: after that a reopen is a decision, not an undo.
UNDO_WINDOW = dt.timedelta(seconds=20)
MERGED_NOTE = "merged:"  # leads.merge closes the duplicate with this note and the kept lead's id


def undoable_close(lead: Lead, actor, *, at=None) -> StageChange | None:
    """The rejection or nurture of `lead` that `actor` may still take back: the
    lead's latest stage change, made by them into a closed stage of type lost or
    nurture less than UNDO_WINDOW ago, and not undone yet."""
    at = at or timezone.now()
    last = lead.stage_changes.select_related("to_stage", "from_stage").order_by("-changed_at", "-id").first()
    if (
        last is None
        or last.changed_by_id != actor.pk
        or last.to_stage_id != lead.stage_id
        or last.to_stage.kind not in (StageKind.LOST, StageKind.NURTURE)
        or last.from_stage is None
        or last.from_stage.kind != StageKind.OPEN
        or last.note.startswith(MERGED_NOTE)  # a merge is undone by no button
        or at - last.changed_at > UNDO_WINDOW
    ):
        return None
    return last


@transaction.atomic
def undo_close(lead: Lead, actor, change_id: int, *, at=None) -> Lead:
    """Take back a rejection or nurture a moment after it (the card's "Undo"): the
    lead returns to the stage it left, with the clocks the close stopped running
    again (a deadline that passed meanwhile is then breached by the sweep, as if
    nothing had stopped it), its failed-call count as it was, and both changes in
    its history."""
    at = at or timezone.now()
    lead = lock_lead(lead)
    close = undoable_close(lead, actor, at=at)
    if close is None or close.pk != change_id:
        raise Conflict(_("Lead #%(id)s can no longer be taken back.") % {"id": lead.pk})
    if close.to_stage.kind == StageKind.LOST:
        # Marketing disputed it in the moment since: the head's decision settles it now.
        if RejectionDispute.objects.filter(lost_change=close, state=DisputeState.OPEN).exists():
            raise Conflict(
                _("Marketing has disputed this rejection of lead #%(id)s: its head decides now.")
                % {"id": lead.pk}
            )
        lead.rejection_reason, lead.rejection_comment = None, ""
    else:
        lead.nurture_reason, lead.nurture_until, lead.nurture_cause = "", None, None
        # An undone nurture has no way back to take: it never happened.
        NurtureReturn.objects.filter(lead=lead, nurture_change=close, state=ReturnState.PENDING).update(
            state=ReturnState.CANCELLED
        )
        tracks.stop(lead, at)  # nor a track to follow
    previous = lead.stage
    lead.stage = close.from_stage
    lead.stage_changed_at = at
    lead.closed_at = None
    lead.save()
    StageChange.objects.create(
        lead=lead,
        from_stage=previous,
        to_stage=close.from_stage,
        changed_by=actor,
        changed_at=at,
        undoes=close,  # the timeline says "undone" in the reader's language
    )
    clock.resume_timers(lead, close.changed_at)
    if close.to_stage.kind == StageKind.NURTURE:
        withdraw(NotificationKind.NURTURED, nurture_event(lead, close.changed_at), lead=lead)
    return lead


# --- contact attempts -----------------------------------------------------------------------------


@transaction.atomic
def log_attempt(
    lead: Lead,
    actor,
    *,
    channel: str,
    outcome: str,
    duration_seconds: int | None = None,
    note: str = "",
    callback_at: dt.datetime | None = None,
    recording_url: str = "",
    at: dt.datetime | None = None,
) -> tuple[ContactAttempt, dict]:
    """Log one attempt to reach the lead and apply the SLA rules:
    - a reached contact meets the first-contact clock (any logged attempt
      does, when the policy says so) and sets the lead's first contact;
    - a callback agreed with the client opens a callback clock;
    - a failed call (no answer, busy, voicemail) counts towards nurture unless
      it comes sooner than the policy's minimum spacing after the last
      counted one; when the counted calls reach the policy's number without
      the person ever being reached, the lead goes to nurture — once, since
      the lead's row is locked and a lead in nurture takes no more attempts.
    Returns the attempt and what happened, for the caller to show."""
    at = at or timezone.now()
    lead = lock_lead(lead)
    if channel not in AttemptChannel.values:
        raise Invalid({"channel": [_("Choose call, email or messenger.")]})
    if outcome not in AttemptOutcome.values:
        raise Invalid({"outcome": [_("Unknown outcome.")]})
    if callback_at is not None and callback_at <= at:
        raise Invalid({"callback_at": [_("The callback must be in the future.")]})
    if callback_at is not None and callback_at > at + dt.timedelta(days=MAX_CALLBACK_DAYS):
        raise Invalid({"callback_at": [_("A callback can be at most a year ahead.")]})
    _require_open(lead)
    policy = _policy_of(lead)
    failed_call = channel == AttemptChannel.CALL and outcome in FAILED_CALL_OUTCOMES
    counted = False
    too_soon = False
    if failed_call:
        last = (
            lead.attempts.filter(counted=True).order_by("-made_at").values_list("made_at", flat=True).first()
        )
        spacing = dt.timedelta(seconds=policy.min_attempt_spacing_seconds)
        too_soon = bool(last and spacing and at - last < spacing)
        counted = not too_soon
    attempt = ContactAttempt.objects.create(
        lead=lead,
        channel=channel,
        outcome=outcome,
        duration_seconds=duration_seconds,
        note=note,
        callback_at=callback_at,
        recording_url=recording_url,
        counted=counted,
        made_by=actor,
        made_at=at,
    )
    info = {
        "counted": counted,
        "too_soon": too_soon,
        "failed_calls": 0,
        "limit": policy.failed_attempts_to_nurture,
    }
    reached = outcome == AttemptOutcome.REACHED
    if reached and lead.first_contact_at is None:
        lead.first_contact_at = max(at, lead.created_at)
        lead.save(update_fields=["first_contact_at", "updated_at"])
    if reached and lead.stage.code == StageCode.LEAD:
        # "Qualification" begins when someone has reached the client (its definition).
        set_stage(lead, Stage.objects.get(code=StageCode.QUALIFICATION), actor, at, note=_("first contact"))
    meets_first = reached or policy.first_contact_rule == FirstContactRule.ANY_ATTEMPT
    clock.meet_timers(lead, [TimerKind.FIRST_CONTACT] if meets_first else [], at)
    clock.meet_timers(lead, [TimerKind.CALLBACK], at)  # any attempt honours an agreed callback
    if callback_at is not None:
        clock.start_callback_timer(lead, attempt, callback_at)
    if plan_after_attempt(lead, callback_at):
        lead.save(update_fields=["next_step", "next_step_at", "updated_at"])
    if counted and silence_rule_applies(lead):
        failed = lead.attempts.filter(counted=True, made_at__gte=_cycle_start(lead)).count()
        info["failed_calls"] = failed
        if failed >= policy.failed_attempts_to_nurture:
            reason = silence_reason(failed)
            silent = NurtureReason.objects.filter(code=NurtureCode.NO_ANSWER).first()
            _to_nurture(lead, actor, reason, None, at, attempts=failed, cause=silent)
            info["nurtured"] = True
    return attempt, info


def plan_after_move(lead: Lead, stage: Stage, meeting_at=None) -> None:
    """The next step after a stage move (not saved): a booked meeting is the next
    step; moving on from the meeting stage takes it off. A close keeps it on record
    (only open leads show one), so an undo gives it back."""
    if meeting_at is not None and stage.code == StageCode.MEETING:
        lead.next_step, lead.next_step_at = NextStep.MEETING, meeting_at
    elif (
        lead.next_step == NextStep.MEETING
        and stage.kind == StageKind.OPEN
        and stage.code != StageCode.MEETING
    ):
        lead.next_step, lead.next_step_at = "", None


def plan_after_attempt(lead: Lead, callback_at=None) -> bool:
    """The next step after an attempt (not saved; True when it changed): an agreed
    call-back is the next step; any other attempt takes a planned call off, as any
    attempt meets the callback clock."""
    if (
        lead.next_step == NextStep.MEETING
        and lead.next_step_at
        and lead.next_step_at > (callback_at or lead.next_step_at)
    ):
        return False  # a booked meeting stays the next step; the call-back has its own clock
    if callback_at is not None:
        step = (NextStep.CALL, callback_at)
    elif lead.next_step == NextStep.CALL:
        step = ("", None)
    else:
        return False
    changed = (lead.next_step, lead.next_step_at) != step
    lead.next_step, lead.next_step_at = step
    return changed


@transaction.atomic
def plan_next_step(lead: Lead, actor, step: str, when: dt.datetime, *, at=None) -> Lead:
    """Set the dated next step of an open lead without logging an attempt (the
    rep agreed a call-back by mail, say). Only an agreed call-back logged with an
    attempt starts a callback clock; this is the rep's plan."""
    at = at or timezone.now()
    lead = lock_lead(lead)
    if step not in NextStep.values:
        raise Invalid({"next_step": [_("Choose a call-back or a meeting.")]})
    if when is None or when <= at:
        raise Invalid({"next_step_at": [_("The next step must be in the future.")]})
    if when > at + dt.timedelta(days=MAX_CALLBACK_DAYS):
        raise Invalid({"next_step_at": [_("A next step can be at most a year ahead.")]})
    _require_open(lead)
    if (lead.next_step, lead.next_step_at) != (step, when):
        lead.next_step, lead.next_step_at = step, when
        lead.save(update_fields=["next_step", "next_step_at", "updated_at"])
        LeadEvent.objects.create(
            lead=lead,
            kind=LeadEvent.Kind.PLANNED,
            actor=actor,
            created_at=at,
            data={"step": step, "at": when.isoformat()},
        )
    return lead


def silence_rule_applies(lead: Lead) -> bool:
    """Whether failed calls still count towards nurture: only while the person has
    never been reached and the lead is still at its first stage. A lead someone
    qualified, or one with a meeting booked, is past "we cannot get through"."""
    return (
        lead.stage.code == StageCode.LEAD
        and lead.first_contact_at is None
        and not lead.attempts.filter(outcome=AttemptOutcome.REACHED).exists()
    )


def nurture_limit(lead: Lead) -> int:
    """How many counted failed calls send `lead` to nurture (its clock's policy)."""
    return _policy_of(lead).failed_attempts_to_nurture


def call_would_nurture(lead: Lead) -> bool:
    """Whether one more counted failed call sends `lead` to nurture."""
    return silence_rule_applies(lead) and failed_calls_so_far(lead) + 1 >= nurture_limit(lead)


def silence_reason(failed: int) -> str:
    """Why the attempts rule sent a lead to nurture."""
    return ngettext("%(n)s unanswered call", "%(n)s unanswered calls", failed) % {"n": failed}


def _cycle_start(lead: Lead) -> dt.datetime:
    """Failed calls count from the lead's arrival or its last return to the queue."""
    last_return = (
        lead.stage_changes.filter(from_stage__kind=StageKind.NURTURE, undoes=None)
        .order_by("-changed_at")
        .values_list("changed_at", flat=True)
        .first()
    )
    return last_return or lead.created_at


def _policy_of(lead: Lead):
    timer = (
        SlaTimer.objects.filter(lead=lead, kind=TimerKind.FIRST_CONTACT)
        .select_related("policy")
        .order_by("-started_at")
        .first()
    )
    return timer.policy if timer else clock.policy_for(lead)


def failed_calls_so_far(lead: Lead) -> int:
    return lead.attempts.filter(counted=True, made_at__gte=_cycle_start(lead)).count()


# --- qualification ---------------------------------------------------------------------------------


def criteria_for(lead: Lead):
    """The active MQL and SQL criteria for the lead's segment (its own and the common ones)."""
    return QualificationCriterion.objects.filter(is_active=True).filter(
        Q(segment__isnull=True) | Q(segment_id=lead.segment_id)
    )


@transaction.atomic
def answer_checklist(lead: Lead, actor, answers: dict, *, at=None) -> Lead:
    """Record checklist answers ({criterion id: yes|no|unknown}) and derive the
    qualification: MQL when every MQL criterion is "yes", SQL when the SQL ones
    are too."""
    at = at or timezone.now()
    lead = lock_lead(lead)
    if not isinstance(answers, dict) or not answers:
        raise Invalid({"answers": [_("Give answers as {criterion id: yes|no|unknown}.")]})
    criteria = {c.pk: c for c in criteria_for(lead)}
    errors = []
    parsed = {}
    for raw_id, value in answers.items():
        try:
            criterion_id = int(raw_id)
        except (TypeError, ValueError):
            criterion_id = None
        if criterion_id not in criteria:
            errors.append(_("Criterion %(id)s does not apply to this lead.") % {"id": raw_id})
        elif value not in Answer.values:
            errors.append(_("Answer criterion %(id)s with yes, no or unknown.") % {"id": raw_id})
        else:
            parsed[criterion_id] = value
    if errors:
        raise Invalid({"answers": errors})
    _require_open(lead)
    existing = {a.criterion_id: a for a in lead.answers.all()}
    for criterion_id, value in parsed.items():
        answer = existing.get(criterion_id)
        if answer is None:
            CriterionAnswer.objects.create(
                lead=lead, criterion_id=criterion_id, answer=value, answered_by=actor, answered_at=at
            )
        elif answer.answer != value:
            answer.answer, answer.answered_by, answer.answered_at = value, actor, at
            answer.save()
    return requalify(lead, actor, at, criteria.values())


def requalify(lead: Lead, actor, at, criteria=None) -> Lead:
    """Set the lead's qualification from its checklist answers; a change is
    written to the history (the events-mode funnel reads it from there)."""
    level = qualification_of(lead, criteria_for(lead) if criteria is None else criteria)
    if level != lead.qualification:
        LeadEvent.objects.create(
            lead=lead,
            kind=LeadEvent.Kind.QUALIFIED,
            actor=actor,
            created_at=at,
            data={"from": lead.qualification, "to": level},
        )
        lead.qualification = level
        lead.qualified_at = at if level != Qualification.NONE else None
        lead.save(update_fields=["qualification", "qualified_at", "updated_at"])
    return lead


def qualification_of(lead: Lead, criteria) -> str:
    yes = set(lead.answers.filter(answer=Answer.YES).values_list("criterion_id", flat=True))
    return level_of(yes, criteria)


def level_of(yes: set, criteria) -> str:
    """The qualification that "yes" answers to the criteria ids in `yes` give."""
    mql = [c.pk for c in criteria if c.level == CriterionLevel.MQL]
    sql = [c.pk for c in criteria if c.level == CriterionLevel.SQL]
    if not mql or not set(mql) <= yes:
        return Qualification.NONE
    if sql and set(sql) <= yes:
        return Qualification.SQL
    return Qualification.MQL


def missing_for_next_level(lead: Lead, criteria) -> list:
    """The criteria not yet answered "yes" for the next qualification level."""
    yes = {a.criterion_id for a in lead.answers.all() if a.answer == Answer.YES}
    level = CriterionLevel.SQL if lead.qualification == Qualification.MQL else CriterionLevel.MQL
    if lead.qualification == Qualification.SQL:
        return []
    return [c for c in criteria if c.level == level and c.pk not in yes]
