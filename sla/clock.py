"""Starting, meeting, cancelling and recomputing SLA timers.

Deadlines are computed here, once, in working time on the lead's team calendar,
and stored in `due_at`; the sweep (sla.sweep) only compares them with the clock.
Each function runs inside the caller's transaction.
"""

import datetime as dt

from django.db.models import Q
from django.utils import timezone

from revops import refcache
from sla.business_time import add_working_time, working_time_between
from sla.calendars import schedule_or_24x7, team_calendar
from sla.models import SlaPolicy, SlaTimer, TimerKind, TimerState


def policy_for(lead) -> SlaPolicy:
    """The first active matching policy, else the default one."""
    policies = refcache.get(
        "sla_policies",
        lambda: list(SlaPolicy.objects.filter(is_active=True).order_by("-is_default", "position", "id")),
    )
    specific = [p for p in policies if not p.is_default]
    for policy in specific:
        if policy.matches(lead):
            return policy
    default = next((p for p in policies if p.is_default), None)
    if default is None:
        # The migration seeds a default; recreate it if someone deleted it.
        default, _ = SlaPolicy.objects.get_or_create(is_default=True, defaults={"name": "Default"})
    return default


def calendar_for(lead):
    return team_calendar(lead.team if lead.team_id else None)


_schedule = schedule_or_24x7


def _deadlines(schedule, started_at: dt.datetime, budget: int, reminder_percent: int):
    due = add_working_time(schedule, started_at, dt.timedelta(seconds=budget))
    remind = None
    if reminder_percent:
        remind = add_working_time(schedule, started_at, dt.timedelta(seconds=budget * reminder_percent / 100))
    return due.astimezone(dt.UTC), remind.astimezone(dt.UTC) if remind else None


def start_first_contact_timer(lead, at: dt.datetime) -> SlaTimer:
    """Start the clock at the lead's arrival (not its assignment)."""
    policy = policy_for(lead)
    calendar = calendar_for(lead)
    due, remind = _deadlines(_schedule(calendar), at, policy.first_contact_seconds, policy.reminder_percent)
    return SlaTimer.objects.create(
        lead=lead,
        kind=TimerKind.FIRST_CONTACT,
        policy=policy,
        calendar=calendar,
        started_at=at,
        budget_seconds=policy.first_contact_seconds,
        due_at=due,
        remind_at=remind,
    )


def start_callback_timer(lead, attempt, callback_at: dt.datetime) -> SlaTimer:
    """A callback agreed with the client is due at the agreed time (not in
    working time: the client named the moment). Replaces a running callback."""
    now = attempt.made_at
    SlaTimer.objects.filter(lead=lead, kind=TimerKind.CALLBACK, state=TimerState.RUNNING).update(
        state=TimerState.CANCELLED, cancelled_at=now
    )
    policy = policy_for(lead)
    return SlaTimer.objects.create(
        lead=lead,
        kind=TimerKind.CALLBACK,
        policy=policy,
        calendar=calendar_for(lead),
        started_at=now,
        budget_seconds=max(1, int((callback_at - now).total_seconds())),
        due_at=callback_at,
        attempt=attempt,
    )


def first_contact_time_left(lead, at: dt.datetime, timer: SlaTimer | None = None) -> dt.timedelta | None:
    """Working time left on the running first-contact clock (negative when
    overdue). `timer`: that clock, if the caller has just started it; trusted
    only while it cannot have been breached meanwhile (its deadline ahead)."""
    fresh = timer is not None and timer.kind == TimerKind.FIRST_CONTACT and timer.state == TimerState.RUNNING
    if not (fresh and timer.due_at > at):
        timer = (
            SlaTimer.objects.filter(lead=lead, kind=TimerKind.FIRST_CONTACT, state=TimerState.RUNNING)
            .select_related("calendar")
            .first()
        )
    if timer is None:
        return None
    schedule = _schedule(timer.calendar)
    if at <= timer.due_at:
        return working_time_between(schedule, at, timer.due_at)
    return -working_time_between(schedule, timer.due_at, at)


def meet_timers(lead, kinds, at: dt.datetime) -> int:
    """Mark the lead's running timers of `kinds` met. A breached timer stays
    breached; a late contact only records when it was handled (`met_at`), so
    it leaves the queue's top without rewriting history."""
    SlaTimer.objects.filter(lead=lead, kind__in=kinds, state=TimerState.BREACHED, met_at__isnull=True).update(
        met_at=at
    )
    return SlaTimer.objects.filter(lead=lead, kind__in=kinds, state=TimerState.RUNNING).update(
        state=TimerState.MET, met_at=at
    )


# Timers that still ask for action: running, or breached and not yet handled.
LIVE = Q(state=TimerState.RUNNING) | Q(state=TimerState.BREACHED, met_at__isnull=True)


def cancel_timers(lead, at: dt.datetime | None = None) -> int:
    """The lead was closed (won, lost, nurture): nothing is due any more."""
    return SlaTimer.objects.filter(lead=lead, state=TimerState.RUNNING).update(
        state=TimerState.CANCELLED, cancelled_at=at or timezone.now()
    )


def resume_timers(lead, cancelled_at: dt.datetime) -> int:
    """A close was taken back: the clocks it stopped (those cancelled at that very
    moment) run again with the deadlines they had."""
    return SlaTimer.objects.filter(lead=lead, state=TimerState.CANCELLED, cancelled_at=cancelled_at).update(
        state=TimerState.RUNNING, cancelled_at=None
    )


def recompute_running(timers) -> int:
    """Recompute the deadlines of running first-contact timers whose inputs
    (team calendar, policy) changed. Met, breached and cancelled timers are
    history and stay as they were."""
    changed = 0
    for timer in timers.filter(state=TimerState.RUNNING, kind=TimerKind.FIRST_CONTACT).select_related(
        "lead__team__calendar"
    ):
        policy = policy_for(timer.lead)
        calendar = calendar_for(timer.lead)
        due, remind = _deadlines(
            _schedule(calendar), timer.started_at, policy.first_contact_seconds, policy.reminder_percent
        )
        if (due, remind, policy.pk, calendar and calendar.pk) == (
            timer.due_at,
            timer.remind_at,
            timer.policy_id,
            timer.calendar_id,
        ):
            continue
        changed += SlaTimer.objects.filter(pk=timer.pk, state=TimerState.RUNNING).update(
            due_at=due,
            remind_at=remind,
            policy=policy,
            calendar=calendar,
            budget_seconds=policy.first_contact_seconds,
        )
    return changed
