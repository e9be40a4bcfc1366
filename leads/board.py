"""The head's board: the team right now and today, in a fixed number of
queries whatever the team's size or history."""

import datetime as dt
import statistics
from dataclasses import dataclass, field

from django.db.models import Count, F
from django.utils import timezone

from leads.models import Assignment, ContactAttempt, Lead, StageChange
from revops.models import Team, User
from revops.roles import Role
from sla.availability import availability
from sla.business_time import working_time_between
from sla.calendars import schedule_or_24x7, team_calendar
from sla.models import Breach, SlaTimer, TimerKind, TimerState


@dataclass
class RepRow:
    rep: User
    available: bool
    reason: str
    open_leads: int = 0
    taken: int = 0
    attempts: int = 0
    conversions: int = 0
    met: int = 0
    breached: int = 0
    saves: int = 0
    first_contact_minutes: list = field(default_factory=list)

    @property
    def sla_met_percent(self):
        total = self.met + self.breached
        return round(100 * self.met / total) if total else None

    @property
    def median_minutes(self):
        return round(statistics.median(self.first_contact_minutes)) if self.first_contact_minutes else None

    @property
    def p90_minutes(self):
        values = sorted(self.first_contact_minutes)
        if not values:
            return None
        return round(values[min(len(values) - 1, int(round(0.9 * (len(values) - 1))))])


def _grouped(queryset, key: str) -> dict:
    return dict(queryset.values_list(key).annotate(n=Count("id")).order_by())


def board(team: Team, now: dt.datetime | None = None) -> dict:
    now = now or timezone.now()
    calendar = team_calendar(team)
    schedule = schedule_or_24x7(calendar)
    start = dt.datetime.combine(now.astimezone(schedule.tz).date(), dt.time.min, tzinfo=schedule.tz)
    reps = list(
        User.objects.filter(team=team, is_active=True, role__in=[Role.REP, Role.SALES_HEAD])
        .prefetch_related("shifts", "absences")
        .order_by("role", "first_name", "username")
    )
    ids = [r.pk for r in reps]
    rows = {}
    for rep in reps:
        state = availability(rep, schedule, now)
        rows[rep.pk] = RepRow(rep, state.available, state.reason)
    for owner, n in _grouped(Lead.objects.open().filter(owner_id__in=ids), "owner_id").items():
        rows[owner].open_leads = n
    taken = Assignment.objects.filter(to_owner_id__in=ids, created_at__gte=start)
    for owner, n in _grouped(taken, "to_owner_id").items():
        rows[owner].taken = n
    for owner, n in _grouped(
        ContactAttempt.objects.filter(made_by_id__in=ids, made_at__gte=start), "made_by_id"
    ).items():
        rows[owner].attempts = n
    forward = StageChange.objects.filter(
        changed_by_id__in=ids, changed_at__gte=start, to_stage__position__gt=F("from_stage__position")
    )
    for owner, n in _grouped(forward, "changed_by_id").items():
        rows[owner].conversions = n
    for owner, n in _grouped(
        Breach.objects.filter(owner_id__in=ids, created_at__gte=start), "owner_id"
    ).items():
        rows[owner].breached = n
    met_today = SlaTimer.objects.filter(
        kind=TimerKind.FIRST_CONTACT, state=TimerState.MET, met_at__gte=start, lead__owner_id__in=ids
    ).values("lead__owner_id", "started_at", "met_at", "remind_at", "due_at")
    for timer in met_today:
        row = rows[timer["lead__owner_id"]]
        row.met += 1
        row.first_contact_minutes.append(
            working_time_between(schedule, timer["started_at"], timer["met_at"]).total_seconds() / 60
        )
        if timer["remind_at"] and timer["remind_at"] <= timer["met_at"] <= timer["due_at"]:
            row.saves += 1

    waiting_leads = Lead.objects.open().filter(team=team, owner__isnull=True)
    waiting = list(waiting_leads.select_related("contact", "source").order_by("created_at")[:50])
    for lead in waiting:
        lead.waiting_for = now - lead.created_at
    # The board is for now: unresolved breaches of the last week (the full,
    # filterable list is the breaches page).
    open_breaches = Breach.objects.filter(team=team, resolved_at__isnull=True)
    breaches = list(
        open_breaches.filter(created_at__gte=now - dt.timedelta(days=7))
        .select_related("lead__contact", "owner")
        .order_by("-created_at")[:20]
    )
    return {
        "team": team,
        "rows": list(rows.values()),
        "waiting": waiting,
        "waiting_count": waiting_leads.count(),
        "breaches": breaches,
        "open_breach_count": open_breaches.count(),
        "assignees": [r for r in reps if r.role == Role.REP],
        "since": start,
        "totals": {
            "open": sum(r.open_leads for r in rows.values()),
            "taken": sum(r.taken for r in rows.values()),
            "breached": sum(r.breached for r in rows.values()),
            "saves": sum(r.saves for r in rows.values()),
        },
    }
