"""The head's board: problems first (leads waiting for an owner, absent reps
who still hold open leads, unacknowledged breaches), then the team for the
chosen period — in a fixed number of queries whatever the team's size or
history (tests/leads/test_head_board.py counts them)."""

import datetime as dt
import statistics
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Exists, F, OuterRef, Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from leads.choices import AttemptOutcome, StageKind
from leads.models import Assignment, ContactAttempt, Lead, StageChange
from revops.inputs import parse_id
from revops.models import Team, User
from revops.roles import Role
from sla.availability import availability
from sla.business_time import working_time_between
from sla.calendars import schedule_or_24x7, team_calendar
from sla.models import Breach, SlaTimer, TimerKind, TimerState

# The board's periods: the figures per rep count from the start of the period in
# the team's time zone.
PERIODS = {
    "today": gettext_lazy("Today"),
    "week": gettext_lazy("This week"),
    "month": gettext_lazy("This month"),
}
DEFAULT_PERIOD = "today"
# How many rows the board lists at most; the counts above them are exact and
# the breaches page has the rest.
WAITING_ROWS = 50
BREACH_ROWS = 100


@dataclass
class RepRow:
    rep: User
    available: bool
    reason: str
    open_leads: int = 0
    new: int = 0  # assignments with no previous owner: leads new to the team's people
    handed_over: int = 0  # assignments from another owner (a reassignment is not a new lead)
    attempts: int = 0
    conversions: int = 0
    met: int = 0
    breached: int = 0
    saves: int = 0
    first_contact_minutes: list = field(default_factory=list)

    @property
    def received(self) -> int:
        return self.new + self.handed_over

    @property
    def takes_leads(self) -> bool:
        """Offered as a new owner: an active rep on shift, not absent, taking leads."""
        return self.rep.role == Role.REP and self.available and self.rep.accepts_leads

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


class Since:
    """What happened to a breached lead after its breach, most final first: the
    board's breach list reads as a to-do list (what still needs someone)."""

    WON = "won"
    REJECTED = "rejected"
    NURTURE = "nurture"
    REACHED = "reached"
    CALLED_BACK = "called_back"
    REASSIGNED = "reassigned"
    WAITING = "waiting"

    LABELS = {
        WON: gettext_lazy("won"),
        REJECTED: gettext_lazy("rejected"),
        NURTURE: gettext_lazy("sent to nurture"),
        REACHED: gettext_lazy("reached since"),
        CALLED_BACK: gettext_lazy("called back, not reached yet"),
        REASSIGNED: gettext_lazy("reassigned, not called yet"),
        WAITING: gettext_lazy("still waiting"),
    }
    # Still asking for somebody's action.
    TO_DO = frozenset({CALLED_BACK, REASSIGNED, WAITING})


def since_breach(breach: Breach) -> str:
    """A Since code for `breach`, read from the lead (select_related) and the
    `reached_since` / `called_since` annotations of `breach_queryset`."""
    kind = breach.lead.stage.kind
    if kind == StageKind.WON:
        return Since.WON
    if kind == StageKind.LOST:
        return Since.REJECTED
    if kind == StageKind.NURTURE:
        return Since.NURTURE
    if breach.reached_since:
        return Since.REACHED
    if breach.called_since:
        return Since.CALLED_BACK
    if breach.lead.owner_id != breach.owner_id:
        return Since.REASSIGNED
    return Since.WAITING


def breach_queryset(team: Team, *, since: dt.datetime, rep: User | None = None):
    """The board's breach list: every unresolved breach not yet acknowledged
    (the to-do, whatever its age), and the acknowledged but unresolved ones of
    the period; unacknowledged first, newest first. One query, whatever the
    rows: what happened since comes from two EXISTS over the attempts index."""
    after = {"lead": OuterRef("lead_id"), "made_at__gte": OuterRef("created_at")}
    queryset = Breach.objects.filter(team=team, resolved_at__isnull=True).filter(
        Q(acknowledged_at__isnull=True) | Q(created_at__gte=since)
    )
    if rep is not None:
        queryset = queryset.filter(owner=rep)
    return (
        queryset.select_related("lead__contact", "lead__stage", "lead__owner", "owner", "acknowledged_by")
        .annotate(
            reached_since=Exists(ContactAttempt.objects.filter(**after, outcome=AttemptOutcome.REACHED)),
            called_since=Exists(ContactAttempt.objects.filter(**after)),
        )
        .order_by(F("acknowledged_at").asc(nulls_first=True), "-created_at", "-id")
    )


def breach_rows(team: Team, *, since: dt.datetime, rep: User | None = None, limit: int | None = None) -> list:
    queryset = breach_queryset(team, since=since, rep=rep)
    breaches = list(queryset[:limit] if limit else queryset)
    for breach in breaches:
        breach.since = since_breach(breach)
        breach.since_label = Since.LABELS[breach.since]
        breach.to_do = breach.since in Since.TO_DO
    return breaches


def working_text(delta: dt.timedelta) -> str:
    """Working time in hours and minutes ("37 h 05 min"): days would read as
    calendar days, and a working day is not 24 hours."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return _("<1 min")
    hours, minutes = divmod(minutes, 60)
    if hours:
        return _("%(h)s h %(m)02d min") % {"h": hours, "m": minutes}
    return _("%(m)s min") % {"m": minutes}


def period_start(period: str, now: dt.datetime, tz) -> dt.datetime:
    today = now.astimezone(tz).date()
    if period == "week":
        today -= dt.timedelta(days=today.weekday())
    elif period == "month":
        today = today.replace(day=1)
    return dt.datetime.combine(today, dt.time.min, tzinfo=tz)


def board_team(user, wanted: str = "") -> Team:
    """The sales team whose board `user` may see: a head their own, people who
    see every lead any (`wanted`, else the first); anyone else is refused."""
    if not (user.role == Role.SALES_HEAD or user.sees_all_leads):
        raise PermissionDenied
    teams = Team.objects.filter(kind=Team.Kind.SALES).select_related("calendar").order_by("name")
    if user.role == Role.SALES_HEAD:
        team = teams.filter(pk=user.team_id).first()
    else:
        pk = parse_id(wanted or "")
        team = teams.filter(pk=pk).first() if pk else teams.first()
    if team is None:
        raise Http404
    return team


def board_filters(params, team: Team) -> tuple[str, User | None]:
    """The period and the rep chosen in the query string; anything unknown
    falls back to the default (a filter, not an error)."""
    period = params.get("period", DEFAULT_PERIOD)
    period = period if period in PERIODS else DEFAULT_PERIOD
    rep_id = parse_id(params.get("rep", ""))
    rep = team_people(team).filter(pk=rep_id).first() if rep_id else None
    return period, rep


def can_act(user) -> bool:
    """Who acknowledges and reassigns from a board: heads (their team) and
    administrators; executives and marketing read it (DESIGN.md, "Who uses it")."""
    return user.role in (Role.SALES_HEAD, Role.ADMIN) or user.is_superuser


def team_people(team: Team):
    return (
        User.objects.filter(team=team, is_active=True, role__in=[Role.REP, Role.SALES_HEAD])
        .prefetch_related("shifts", "absences")
        .order_by("role", "first_name", "username")
    )


def available_reps(team: Team, now: dt.datetime | None = None) -> list[User]:
    """The reps a head may give a lead to now: active, on shift, not absent,
    taking leads (two queries)."""
    now = now or timezone.now()
    schedule = schedule_or_24x7(team_calendar(team))
    return [
        rep
        for rep in team_people(team).filter(role=Role.REP, accepts_leads=True)
        if availability(rep, schedule, now).available
    ]


def _grouped(queryset, key: str) -> dict:
    return dict(queryset.values_list(key).annotate(n=Count("id")).order_by())


def board(
    team: Team, now: dt.datetime | None = None, *, period: str = DEFAULT_PERIOD, rep: User | None = None
) -> dict:
    """Everything the board shows. `period` sets where the per-rep figures
    start; `rep` narrows the rep table and the breach list to one person. The
    problems (waiting leads, absent holders, unacknowledged breaches) are now
    and always whole."""
    now = now or timezone.now()
    period = period if period in PERIODS else DEFAULT_PERIOD
    schedule = schedule_or_24x7(team_calendar(team))
    start = period_start(period, now, schedule.tz)
    people = list(team_people(team))
    ids = [p.pk for p in people]
    rows = {}
    for person in people:
        state = availability(person, schedule, now)
        rows[person.pk] = RepRow(person, state.available, state.reason)
    for owner, n in _grouped(Lead.objects.open().filter(owner_id__in=ids), "owner_id").items():
        rows[owner].open_leads = n
    received = (
        Assignment.objects.filter(to_owner_id__in=ids, created_at__gte=start)
        .values_list("to_owner_id")
        .annotate(
            new=Count("id", filter=Q(from_owner__isnull=True)),
            handed=Count("id", filter=Q(from_owner__isnull=False)),
        )
        .order_by()
    )
    for owner, new, handed in received:
        rows[owner].new, rows[owner].handed_over = new, handed
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
    met = SlaTimer.objects.filter(
        kind=TimerKind.FIRST_CONTACT, state=TimerState.MET, met_at__gte=start, lead__owner_id__in=ids
    ).values("lead__owner_id", "started_at", "met_at", "remind_at", "due_at")
    for timer in met:
        row = rows[timer["lead__owner_id"]]
        row.met += 1
        row.first_contact_minutes.append(
            working_time_between(schedule, timer["started_at"], timer["met_at"]).total_seconds() / 60
        )
        if timer["remind_at"] and timer["remind_at"] <= timer["met_at"] <= timer["due_at"]:
            row.saves += 1

    all_rows = list(rows.values())
    shown = [r for r in all_rows if rep is None or r.rep.pk == rep.pk]

    # Problems, now.
    waiting_leads = Lead.objects.open().filter(team=team, owner__isnull=True)
    waiting = list(
        waiting_leads.select_related("contact", "source").order_by("created_at", "id")[:WAITING_ROWS]
    )
    for lead in waiting:
        lead.waiting_text = working_text(working_time_between(schedule, lead.created_at, now))
    absent_holders = [r for r in all_rows if r.reason == "absent" and r.open_leads and r.rep.role == Role.REP]
    unacknowledged = Breach.objects.filter(team=team, resolved_at__isnull=True, acknowledged_at__isnull=True)
    breaches = breach_rows(team, since=start, rep=rep, limit=BREACH_ROWS)
    return {
        "team": team,
        "now": now,
        "period": period,
        "periods": PERIODS,
        "chosen_rep": rep,
        "rows": shown,
        "people": people,
        "since": start,
        "waiting": waiting,
        "waiting_count": waiting_leads.count(),
        "absent_holders": absent_holders,
        "breaches": breaches,
        "breach_count": breach_queryset(team, since=start, rep=rep).count(),
        "unacknowledged_count": unacknowledged.count(),
        "open_breach_count": Breach.objects.filter(team=team, resolved_at__isnull=True).count(),
        "assignees": [r for r in all_rows if r.takes_leads],  # RepRows: name and load
        "totals": {
            "open": sum(r.open_leads for r in shown),
            "new": sum(r.new for r in shown),
            "handed_over": sum(r.handed_over for r in shown),
            "breached": sum(r.breached for r in shown),
            "saves": sum(r.saves for r in shown),
        },
    }
