"""What happened to one demo lead after a rep got it: calls, the qualification
checklist, the stage moves, a rejection, nurture or a deal, and the first-contact
clock as the SLA sweep would have left it.

The rules are the product's: every moment is working time of the lead's team
(`sla.business_time.add_working_time`); a move is checked by
`leads.actions.check_move` and a rejection by `check_reject` before it is
recorded; the qualification follows from the ticked checklist by
`leads.actions.level_of`; failed calls count and send a never-reached lead to
nurture as the team's SLA policy says (`failed_attempts_to_nurture`, with the
product's own wording); the timer is met by the first reached call, or breached
one sweep interval after its deadline, with the breach's owner taken from the
assignment history as the sweep does.

Only the writing differs from the actions: a lead's story has hundreds of rows
in a year of demo data, and an action per row (a locked read, a save and a
history row each) would keep `make run` waiting for minutes. So the rows are
collected here (`Rows`) and written in batches with bulk_create/bulk_update.
"""

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from leads.actions import (
    check_move,
    check_reject,
    level_of,
    plan_after_attempt,
    plan_after_move,
    return_due_at,
    silence_reason,
    stage_note,
)
from leads.choices import (
    FAILED_CALL_OUTCOMES,
    Answer,
    AttemptChannel,
    AttemptOutcome,
    CriterionLevel,
    DealStatus,
    EntryChannel,
    Fit,
    NextStep,
    Priority,
    Qualification,
    SourceKind,
    StageCode,
    StageKind,
)
from leads.demo.company import (
    BREACH_COMMENTS,
    CENTS,
    FAILED_CRITERION,
    MARGIN_SHARES,
    NURTURE_REASONS,
    REJECTION_COMMENTS,
)
from leads.models import ContactAttempt, CriterionAnswer, Deal, Lead, LeadEvent, NurtureReturn, StageChange
from revops import display
from sla.business_time import add_working_time
from sla.models import Breach, DelayOwner, FirstContactRule, SlaTimer, TimerState

# The sweep runs every SLA_SWEEP_INTERVAL seconds: a deadline is breached this long after it passes.
SWEEP_DELAY = timedelta(seconds=settings.SLA_SWEEP_INTERVAL)
LEAD_FIELDS = [
    "stage",
    "furthest_stage",
    "stage_changed_at",
    "closed_at",
    "first_contact_at",
    "qualification",
    "qualified_at",
    "segment",
    "fit",
    "priority",
    "rejection_reason",
    "rejection_comment",
    "nurture_reason",
    "nurture_until",
    "next_step",
    "next_step_at",
    "updated_at",
]
TIMER_FIELDS = ["state", "met_at", "breached_at", "cancelled_at", "reminded_at"]


@dataclass
class Rows:
    """The story rows of a batch of leads, written together."""

    leads: list = field(default_factory=list)
    timers: list = field(default_factory=list)
    created: dict = field(default_factory=dict)  # model → new rows

    def add(self, row) -> None:
        self.created.setdefault(type(row), []).append(row)

    def write(self) -> None:
        for model in (StageChange, ContactAttempt, CriterionAnswer, LeadEvent, Deal, Breach, NurtureReturn):
            model.objects.bulk_create(self.created.get(model, []), batch_size=500)
        update(Lead, self.leads, LEAD_FIELDS)
        update(SlaTimer, self.timers, TIMER_FIELDS)
        self.leads, self.timers, self.created = [], [], {}


def update(model, objects: list, names: list[str]) -> None:
    """Save `names` of each of `objects`: one UPDATE statement run for every row
    (bulk_update's CASE per field and row costs more than the whole story)."""
    if not objects:
        return
    fields = [model._meta.get_field(name) for name in names]
    quote = connection.ops.quote_name
    sql = "UPDATE {} SET {} WHERE {} = %s".format(
        quote(model._meta.db_table),
        ", ".join(f"{quote(f.column)} = %s" for f in fields),
        quote(model._meta.pk.column),
    )
    rows = [
        [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields] + [obj.pk]
        for obj in objects
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


class Stop(Exception):
    """The story reached the cut: nothing more happens."""


class Story:
    def __init__(self, gen, lead: Lead, timer: SlaTimer, history: list, profile, segment, *, is_client: bool):
        self.gen, self.rng, self.rows = gen, gen.rng, gen.rows
        self.lead, self.timer, self.history = lead, timer, history  # history: [(since, owner or None)]
        self.rep = lead.owner
        self.profile, self.segment, self.is_client = profile, segment, is_client
        self.schedule = gen.schedules[lead.team_id]
        self.policy = timer.policy
        self.end = gen.end_for(self.rep)
        self.contacted: datetime | None = None  # when the first-contact clock was met
        self.counted: list[datetime] = []  # failed calls that count towards nurture
        self.reached = False
        self.next_at: datetime | None = None
        self.yes: set[int] = set()
        self.won = False
        self.factor = (
            gen.skill(self.rep) * {Fit.OURS: 1.1, Fit.CONDITIONAL: 0.8, Fit.NOT_OURS: 0.5}[segment.fit]
        )
        self.reach = profile.reach
        if is_client:
            self.factor *= 1.8  # they know us, and we know them
            self.reach = 0.97

    # --- time -------------------------------------------------------------------------------------

    def at(self, moment: datetime) -> datetime:
        if moment >= self.end:
            self.next_at = moment  # what the rep would do next: the lead's next step
            raise Stop
        return moment

    def after(self, moment: datetime, minutes: float) -> datetime:
        moment = add_working_time(self.schedule, moment, timedelta(minutes=minutes))
        return moment.replace(microsecond=0)

    def later(self, moment: datetime, days: float) -> datetime:
        """Some working moment about `days` calendar days after `moment`."""
        if days < 1:
            return self.after(moment, self.rng.uniform(20, 120))
        local = (moment + timedelta(days=days)).astimezone(self.schedule.tz)
        return self.after(local.replace(hour=0, minute=0, second=0), self.rng.uniform(0, 7 * 60))

    def chance(self, base: float) -> bool:
        return self.rng.random() < min(base * self.factor, 0.97)

    @property
    def is_open(self) -> bool:
        return self.lead.stage.kind == StageKind.OPEN

    # --- what the actions record -------------------------------------------------------------------

    def _enter(self, stage, at: datetime, note: str = "") -> None:
        """leads.actions.set_stage: the stage, the furthest one, the history row."""
        lead = self.lead
        self.rows.add(
            StageChange(
                lead=lead,
                from_stage=lead.stage,
                to_stage=stage,
                changed_by=self.rep,
                changed_at=at,
                note=note,
            )
        )
        lead.stage, lead.stage_changed_at = stage, at
        if stage.position is not None and (lead.furthest_stage.position or 0) < stage.position:
            lead.furthest_stage = stage
        lead.closed_at = None if stage.kind == StageKind.OPEN else max(at, lead.created_at)

    def move(self, at: datetime, code: str, *, meeting_at=None, amount=None, margin=None) -> None:
        stage = self.gen.stages[code]
        check_move(self.lead, stage, meeting_at=meeting_at, amount=amount, margin=margin)
        plan_after_move(self.lead, stage, meeting_at)
        self._enter(stage, at, stage_note(meeting_at=meeting_at, amount=amount))

    def call(self, at: datetime, outcome: str, channel=AttemptChannel.CALL, callback_at=None) -> None:
        """leads.actions.log_attempt: the attempt, the first contact, the clock, the
        attempts rule."""
        rng, lead, policy = self.rng, self.lead, self.policy
        duration = None
        if outcome == AttemptOutcome.REACHED:
            duration = int(rng.uniform(60, 900))
        elif outcome == AttemptOutcome.VOICEMAIL:
            duration = int(rng.uniform(10, 40))
        if outcome == AttemptOutcome.BUSY and callback_at is None and rng.random() < 0.3:
            callback_at = at + timedelta(minutes=rng.randrange(30, 180))
        counted = False
        if channel == AttemptChannel.CALL and outcome in FAILED_CALL_OUTCOMES:
            spacing = timedelta(seconds=policy.min_attempt_spacing_seconds)
            counted = not (self.counted and spacing and at - self.counted[-1] < spacing)
        self.rows.add(
            ContactAttempt(
                lead=lead,
                channel=channel,
                outcome=outcome,
                duration_seconds=duration,
                callback_at=callback_at,
                counted=counted,
                made_by=self.rep,
                made_at=at,
            )
        )
        plan_after_attempt(lead, callback_at)
        reached = outcome == AttemptOutcome.REACHED
        if reached and lead.first_contact_at is None:
            lead.first_contact_at = max(at, lead.created_at)
        if reached and lead.stage.code == StageCode.LEAD:
            self._enter(self.gen.stages[StageCode.QUALIFICATION], at, _("first contact"))
        if self.contacted is None and (reached or policy.first_contact_rule == FirstContactRule.ANY_ATTEMPT):
            self.contacted = at
        self.reached = self.reached or reached
        if counted:
            self.counted.append(at)
            if not self.reached and len(self.counted) >= policy.failed_attempts_to_nurture:
                self.nurture(at, silence_reason(len(self.counted)))

    def reject(self, at: datetime, reason_code: str) -> None:
        """Close as lost — or, for «not now», usually send to nurture instead."""
        rng, lead = self.rng, self.lead
        if reason_code == "not_now" and rng.random() < 0.6:
            return_on = (at + timedelta(days=rng.uniform(30, 120))).date()
            # Only a date still ahead: an old nurture with a date long gone would look forgotten.
            if return_on <= timezone.localdate(self.gen.end):
                return_on = None
            self.nurture(at, rng.choice(NURTURE_REASONS), return_on)
            return
        comments = REJECTION_COMMENTS.get(reason_code)
        comment = ""
        if comments and (reason_code == "other" or rng.random() < 0.3):
            comment = rng.choice(comments)
        reason = self.gen.reasons[reason_code]
        lead.rejection_reason, lead.rejection_comment = reason, check_reject(lead, reason, comment)
        self._enter(self.gen.stages[StageCode.LOST], at, reason.code)

    def nurture(self, at: datetime, reason: str, return_on=None) -> None:
        """leads.actions.send_to_nurture (and the attempts rule's nurture)."""
        self.lead.nurture_reason, self.lead.nurture_until = reason[:300], return_on
        self._enter(self.gen.stages[StageCode.NURTURE], at, reason[:500])
        if return_on is not None:  # the way back the sweep takes on that date
            self.rows.add(
                NurtureReturn(lead=self.lead, due_at=return_due_at(self.lead, return_on), created_at=at)
            )

    def checklist(self, level: str, at: datetime, failed: str | None = None) -> None:
        """Tick the checklist of `level`: every line «yes» when it passed; when it
        failed, only the line that failed (reps record what disqualified the lead).
        The qualification follows as leads.actions.requalify derives it."""
        lead = self.lead
        criteria = self.gen.criteria(self.segment)
        for criterion in criteria:
            if criterion.level != level or (failed is not None and criterion.code != failed):
                continue
            answer = Answer.YES if failed is None else Answer.NO
            self.rows.add(
                CriterionAnswer(
                    lead=lead, criterion=criterion, answer=answer, answered_by=self.rep, answered_at=at
                )
            )
            if answer == Answer.YES:
                self.yes.add(criterion.pk)
        level_now = level_of(self.yes, criteria)
        if level_now != lead.qualification:
            self.rows.add(
                LeadEvent(
                    lead=lead,
                    kind=LeadEvent.Kind.QUALIFIED,
                    actor=self.rep,
                    created_at=at,
                    data={"from": lead.qualification, "to": level_now},
                )
            )
            lead.qualification = level_now
            lead.qualified_at = at if level_now != Qualification.NONE else None

    # --- the story ---------------------------------------------------------------------------------

    def run(self, start: datetime, worked: bool) -> None:
        """The story from `start`, when the rep got the lead; then the clock."""
        try:
            if worked:
                self.first_call(start)
        except Stop:
            lead = self.lead
            if self.is_open and lead.first_contact_at and not lead.next_step and self.next_at:
                lead.next_step, lead.next_step_at = NextStep.CALL, self.next_at  # the call the rep planned
        self.clock()
        self.lead.updated_at = self.lead.stage_changed_at or self.lead.created_at
        self.rows.leads.append(self.lead)
        self.rows.timers.append(self.timer)

    def first_call(self, start: datetime) -> None:
        rng, gen, lead = self.rng, self.gen, self.lead
        delay = rng.lognormvariate(math.log(gen.first_call_minutes(self.rep)), 0.7)
        if rng.random() < 0.03:
            delay *= rng.uniform(8, 40)  # forgotten for a while
        at = self.after(start, delay)
        if rng.random() >= self.reach:
            self.unreached(at)
            return
        for i in range(gen.failed_first_picker(rng)):
            self.call(self.at(at), gen.failed_picker(rng))
            # No answer: a second try within minutes (the clock is ticking), then later.
            at = self.after(at, rng.uniform(2, 6) if i == 0 else rng.uniform(20, 240))
        messenger = lead.channel == EntryChannel.CHAT and rng.random() < 0.3
        callback_at = self.later(at, rng.uniform(1, 3)) if rng.random() < 0.12 else None  # «call me Thursday»
        channel = AttemptChannel.MESSENGER if messenger else AttemptChannel.CALL
        self.call(self.at(at), AttemptOutcome.REACHED, channel, callback_at=callback_at)
        # What the call told the rep: the client's segment (and how urgent it is).
        lead.segment, lead.fit = self.segment, self.segment.fit
        lead.priority = Priority.HIGH if self.is_client else priority_for(rng, self.profile.kind)
        self.qualify(at, callback_at)

    def unreached(self, at: datetime) -> None:
        rng, gen = self.rng, self.gen
        outcome = gen.unreached_pickers[self.profile.code](rng)
        if outcome == "junk":
            # Spam or a duplicate is seen at a glance; nobody calls it.
            at = self.after(self.lead.created_at, rng.uniform(2, 30))
            self.reject(self.at(at), "spam" if rng.random() < 0.6 else "duplicate")
        elif outcome == "wrong":
            self.call(self.at(at), AttemptOutcome.WRONG_NUMBER)
            # The rep tries email and messengers for a day or two before giving up.
            self.reject(self.at(self.later(at, rng.uniform(0.5, 3))), "wrong_contacts")
        else:
            # Silent: failed calls over a few days until the attempts rule sends it to nurture.
            for i in range(10):
                self.call(self.at(at), gen.failed_picker(rng))
                if not self.is_open:
                    return
                at = self.later(at, rng.uniform(1, 2) if i == 0 else rng.uniform(2, 4))

    def stalls(self) -> None:
        # Now and then a lead is simply forgotten at its stage — the data-quality report's job.
        if self.rng.random() < 0.015:
            raise Stop

    def follow_up(self, at: datetime) -> datetime:
        """Another call that reaches the client (the next conversation)."""
        self.call(self.at(at), AttemptOutcome.REACHED)
        return at

    def qualify(self, contacted: datetime, callback_at: datetime | None) -> None:
        rng, gen, profile = self.rng, self.gen, self.profile
        # Some say «no» on the first call; most need a few days (materials, a second call).
        if callback_at is not None:
            # The agreed callback: on time, or now and then an hour or two late.
            late = rng.random() < 0.15
            at = self.follow_up(callback_at + timedelta(minutes=rng.uniform(30, 180) if late else -2))
        elif rng.random() < 0.15:
            at = self.at(self.after(contacted, rng.uniform(5, 60)))
        else:
            at = self.follow_up(self.later(contacted, rng.uniform(1, 12)))
        self.stalls()
        mql_chance = profile.mql if self.segment.fit != Fit.NOT_OURS else 0.12
        if not self.chance(mql_chance):
            reason = "not_target" if self.segment.fit == Fit.NOT_OURS and rng.random() < 0.7 else None
            reason = reason or gen.early_pickers[profile.code](rng)
            self.checklist(CriterionLevel.MQL, at, failed=FAILED_CRITERION.get(reason, "known_context"))
            self.reject(at, reason)
            return
        self.checklist(CriterionLevel.MQL, at)

        at = self.at(self.later(at, rng.uniform(2, 14)))
        self.stalls()
        if not self.chance(profile.sql):
            reason = gen.sql_fail_picker(rng)
            self.checklist(CriterionLevel.SQL, at, failed=FAILED_CRITERION.get(reason, "pain_confirmed"))
            self.reject(at, reason)
            return
        self.checklist(CriterionLevel.SQL, at)

        # An SQL lead still has to bring the decision maker to a meeting.
        if rng.random() < 0.5:
            at = self.follow_up(self.later(at, rng.uniform(1, 6)))
        if not self.chance(profile.meeting):
            self.reject(at, gen.no_meeting_picker(rng))
            return
        meeting_at = self.later(at, rng.uniform(1, 7))  # may still be ahead: a booked meeting
        self.move(at, StageCode.MEETING, meeting_at=meeting_at)
        self.sell(meeting_at)

    def sell(self, meeting: datetime) -> None:
        rng, gen, lead = self.rng, self.gen, self.lead
        at = self.at(self.later(meeting, rng.uniform(1, 10)))
        self.stalls()
        if not self.chance(self.profile.proposal):
            self.reject(at, gen.meeting_fail_picker(rng))  # after the meeting
            return
        product = gen.product_code(lead) or "crm"
        low, high = gen.product_amounts[product]
        size = {"small_business": 0.5, "manufacturing": 1.4}.get(self.segment.code, 1.0)
        amount = math.exp(rng.uniform(math.log(low), math.log(high))) * size
        amount = Decimal(min(max(round(amount, -3), 150_000), 5_000_000)).quantize(CENTS)
        share = MARGIN_SHARES.get(product, (0.20, 0.45))
        margin = (amount * Decimal(rng.uniform(*share))).quantize(CENTS)
        self.move(at, StageCode.PROPOSAL, amount=amount)

        cycle = self.segment.deal_cycle_days or 45
        at = self.at(self.later(at, rng.uniform(0.15, 0.8) * cycle))
        self.stalls()
        if not self.chance(self.profile.deal):
            self.reject(at, gen.proposal_fail_picker(rng))
            return
        self.move(at, StageCode.DEAL, amount=amount, margin=margin)
        contact_id = lead.contact_id
        self.rows.add(
            Deal(
                lead=lead,
                contact_id=contact_id,
                product_id=lead.product_id or gen.ref.products[product].pk,
                amount=amount,
                margin=margin,
                status=DealStatus.WON,
                is_repeat_sale=contact_id in gen.won_contacts,
                created_at=at,
                closed_on=timezone.localdate(at),
                owner=self.rep,
            )
        )
        gen.won_contacts.add(contact_id)
        self.won = True

    # --- the SLA clock -----------------------------------------------------------------------------

    def clock(self) -> None:
        """The first-contact timer as sla.clock and sla.sweep would have left it, and
        its breach with what the head did about it."""
        timer, lead, end = self.timer, self.lead, self.gen.end
        contacted, closed = self.contacted, lead.closed_at
        sweep = timer.due_at + SWEEP_DELAY  # when the sweep breaches it
        if contacted is not None and contacted <= sweep:
            timer.state, timer.met_at, stopped = TimerState.MET, contacted, contacted
        elif contacted is None and closed is not None and closed <= sweep:
            timer.state, timer.cancelled_at, stopped = TimerState.CANCELLED, closed, closed
        elif sweep < end:
            # Breached; a late contact is recorded too (it stays breached).
            timer.state, timer.breached_at, timer.met_at, stopped = (
                TimerState.BREACHED,
                sweep,
                contacted,
                sweep,
            )
        else:
            stopped = end  # still running at the cut
        if timer.remind_at is not None and timer.remind_at + SWEEP_DELAY < min(stopped, end):
            timer.reminded_at = timer.remind_at + SWEEP_DELAY
        if timer.state == TimerState.BREACHED:
            self.breach()

    def breach(self) -> None:
        rng, timer, lead, end = self.rng, self.timer, self.lead, self.gen.end
        owner = None
        for since, user in self.history:  # who owned the lead at the deadline (sla.sweep)
            if since <= timer.due_at:
                owner = user
        at = timer.breached_at
        after = self.policy.escalate_after_seconds
        escalate_at = at + timedelta(seconds=after) if after is not None else None
        # Heads deal with most breaches within the hour; the rest the sweep escalates to
        # the executive. Recent ones are still on the board.
        roll = rng.random()
        acknowledged_at = resolved_at = None
        if roll < (0.9 if at < end - timedelta(days=14) else 0.55):
            acknowledged_at = at + timedelta(minutes=rng.uniform(2, 40))
            resolved_at = acknowledged_at + timedelta(minutes=rng.uniform(1, 20))
        elif roll < 0.97:
            acknowledged_at = at + timedelta(minutes=rng.uniform(30, 240))
            if rng.random() < 0.7:
                resolved_at = acknowledged_at + timedelta(hours=rng.uniform(1, 48))
        if acknowledged_at is not None and acknowledged_at >= end:
            acknowledged_at = resolved_at = None
        if resolved_at is not None and resolved_at >= end:
            resolved_at = None
        escalated_at = None
        if (
            escalate_at is not None
            and escalate_at + SWEEP_DELAY < end
            and (resolved_at is None or resolved_at > escalate_at)
        ):
            escalated_at = escalate_at + SWEEP_DELAY  # the sweep escalated it to the executive
        head = self.gen.heads[lead.team_id]
        comment = ""
        if acknowledged_at is not None:
            text = rng.choice(BREACH_COMMENTS)
            if text:  # as sla.actions stamps a head's comment
                comment = f"{display.when(acknowledged_at)} {head}: {text}"
        self.rows.add(
            Breach(
                timer=timer,
                kind=timer.kind,
                lead=lead,
                owner=owner,
                team_id=lead.team_id,
                source_id=lead.source_id,
                delay_owner=DelayOwner.REP if owner else DelayOwner.SYSTEM,
                due_at=timer.due_at,
                created_at=at,
                escalate_at=escalate_at,
                escalated_at=escalated_at,
                acknowledged_at=acknowledged_at,
                acknowledged_by=head if acknowledged_at else None,
                resolved_at=resolved_at,
                resolved_by=head if resolved_at else None,
                comment=comment,
            )
        )


def priority_for(rng, kind: str) -> str:
    roll = rng.random()
    if roll < 0.02:
        return Priority.URGENT
    if kind in (SourceKind.REFERRAL, SourceKind.PARTNER, SourceKind.EVENT) and roll < 0.4:
        return Priority.HIGH
    if roll < 0.08:
        return Priority.HIGH
    if kind == SourceKind.OUTBOUND and roll < 0.45:
        return Priority.LOW
    return Priority.NORMAL
