"""Speed and SLA (DESIGN.md, "Reports" → *SLA*): how fast the cohort's leads were
first contacted and how often the first-contact promise was kept.

Counts run in the database, one GROUP BY each (timers with their breaches, cohort
leads). The medians and nearest-rank p90s are computed here over the values of one
query: nearest rank has no portable SQL (SQLite has no percentile functions), and
working minutes need the lead's business calendar, which only Python knows how to
walk (sla.business_time). The number of queries does not depend on the data.
"""

import datetime as dt
import statistics
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import BigIntegerField, Case, Count, Exists, F, OuterRef, Q, Subquery, Value, When
from django.utils.translation import gettext_lazy as _

from leads.models import ContactAttempt, Source
from leads.report_keys import arrival_hour, arrival_weekday
from reports.base import Report, none_label, percent, register
from reports.params import row_selection
from revops.models import Team, User
from sla.business_time import windows, working_time_between
from sla.calendars import schedule_or_24x7, team_calendar
from sla.models import WEEKDAYS, Breach, BusinessCalendar, DelayOwner, SlaTimer, TimerKind, TimerState

COUNT_FIELDS = (
    "leads",
    "timers",
    "met",
    "breached",
    "running",
    "breaches_system",
    "breaches_rep",
    "callback_breaches",
)
TIMING_FIELDS = (
    "first_contact_median_min",
    "first_contact_p90_min",
    "first_contact_median_work_min",
    "first_contact_p90_work_min",
)
# Bins of the time-to-first-contact histogram (clock minutes, upper bound exclusive).
HISTOGRAM_BINS = (5, 15, 30, 60, 120, 240, 480, 1440)


# Over timers_of(): the definitions of DESIGN.md's `met`, `breached` and `running`,
# shared with the dashboard's tiles (reports/kpis.py).
MET = Q(state=TimerState.MET, has_breach=False)  # met without a breach
BREACHED = Q(has_breach=True)  # has a breach (a late contact leaves it breached)
RUNNING = Q(state=TimerState.RUNNING, has_breach=False)


def timers_of(cohort, kind: str | None = None):
    """SLA timers of the cohort's leads (of ``kind``, else both kinds), annotated
    with ``has_breach`` and ``delay`` (the breach's delay owner), for MET/BREACHED/RUNNING."""
    timers = SlaTimer.objects.filter(lead__in=cohort.values("pk"))
    if kind is not None:
        timers = timers.filter(kind=kind)
    return with_breach(timers)


def with_breach(timers):
    """`timers` annotated with ``has_breach`` and ``delay``, as timers_of() reads them."""
    breach = Breach.objects.filter(timer=OuterRef("pk"))
    return timers.annotate(
        has_breach=Exists(breach), delay=Subquery(breach.order_by("id").values("delay_owner")[:1])
    )


def working_minutes(schedule, start: dt.datetime, end: dt.datetime) -> Decimal:
    """Working minutes of ``schedule`` inside [start, end): the arithmetic jumps
    window to window (sla.business_time), never minute by minute."""
    return _seconds(working_time_between(schedule, start, end)) / 60


class WorkingClock:
    """Working minutes on one schedule for many intervals: the same as
    working_minutes(), but each local day's windows are worked out once (as UTC
    instants, through sla.business_time.windows) and reused by every lead of the
    report, so thousands of leads over a month cost a month of days, not
    thousands of calendar walks."""

    def __init__(self, schedule):
        self.schedule = schedule
        self._days: dict[dt.date, tuple] = {}

    def _midnight(self, day: dt.date) -> dt.datetime:
        # The same expression for a day's start and the previous day's end, so the
        # days partition time exactly whatever the zone's transitions.
        return dt.datetime.combine(day, dt.time(0), tzinfo=self.schedule.tz).astimezone(dt.UTC)

    def _windows(self, day: dt.date) -> tuple:
        found = self._days.get(day)
        if found is None:
            start, end = self._midnight(day), self._midnight(day + dt.timedelta(days=1))
            found = tuple(
                (opens.astimezone(dt.UTC), closes.astimezone(dt.UTC))
                for opens, closes in windows(self.schedule, start, end)
            )
            self._days[day] = found
        return found

    def minutes(self, start: dt.datetime, end: dt.datetime) -> Decimal:
        start, end = start.astimezone(dt.UTC), end.astimezone(dt.UTC)
        total = dt.timedelta(0)
        if end <= start:
            return Decimal(0)
        day = start.astimezone(self.schedule.tz).date() - dt.timedelta(days=1)
        last = end.astimezone(self.schedule.tz).date() + dt.timedelta(days=1)
        while day <= last:
            for opens, closes in self._windows(day):
                overlap = min(closes, end) - max(opens, start)
                if overlap > dt.timedelta(0):
                    total += overlap
            day += dt.timedelta(days=1)
        return _seconds(total) / 60


def _seconds(delta: dt.timedelta) -> Decimal:
    # Exact: a float's total_seconds() would round microseconds.
    return Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds) / Decimal(1_000_000)


def median(values: list[Decimal]) -> Decimal | None:
    """The middle value (the mean of the two middle ones for an even count)."""
    return statistics.median(values) if values else None


def nearest_rank(values: list[Decimal], pct: int) -> Decimal | None:
    """The smallest value with at least ``pct`` % of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = -(-pct * len(ordered) // 100)  # ceil(pct × n / 100) in integers
    return ordered[max(1, rank) - 1]


def minutes_text(value: Decimal | None) -> str | None:
    """Minutes as a decimal string with 1 place, rounded half-up once."""
    if value is None:
        return None
    return str(Decimal(value).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _key_expression(by: str, prefix: str = ""):
    """The grouping key of a lead (``prefix`` reaches the lead from another model)."""
    if by == "hour":
        return arrival_hour(prefix)
    if by == "weekday":
        return arrival_weekday(prefix)
    return F(f"{prefix}{by}_id")


def _timer_key(by: str):
    """A timer's row: for owner/team, a breached timer goes with its breach's owner or
    team (who was responsible at the deadline) and a met one with the rep who made the
    attempt that met it (and that rep's team); others go with the lead's."""
    if by not in ("owner", "team"):
        return _key_expression(by, "lead__")
    breach = Breach.objects.filter(timer=OuterRef("pk")).order_by("id")
    # meet_timers stamps met_at with the attempt's made_at; a reached attempt is the one
    # that meets under the default rule, so it wins a (theoretical) tie.
    attempt = ContactAttempt.objects.filter(lead=OuterRef("lead_id"), made_at=OuterRef("met_at")).order_by(
        Case(When(outcome="reached", then=Value(0)), default=Value(1)), "-id"
    )
    attempt_field = "made_by_id" if by == "owner" else "made_by__team_id"
    return Case(
        When(Exists(breach), then=Subquery(breach.values(f"{by}_id")[:1])),
        When(state=TimerState.MET, then=Subquery(attempt.values(attempt_field)[:1])),
        default=F(f"lead__{by}_id"),
        output_field=BigIntegerField(),
    )


def _label(by: str, key, names: dict) -> str:
    if key is None:
        return str(_("unassigned")) if by in ("owner", "team") else none_label(by)
    if by == "hour":
        return f"{key:02d}:00"
    if by == "weekday":
        return str(WEEKDAYS[key - 1][1])
    return names.get(key, str(key))


def _names(by: str, keys) -> dict:
    ids = [key for key in keys if key is not None]
    if not ids or by in ("hour", "weekday"):
        return {}
    if by == "owner":
        return {user.pk: user.get_full_name() or user.username for user in User.objects.filter(pk__in=ids)}
    model = {"team": Team, "source": Source}[by]
    return {obj.pk: str(obj) for obj in model.objects.filter(pk__in=ids)}


def _order(by: str, row: dict):
    """Hours and weekdays in their natural order, names alphabetically; "none" last."""
    key = row["key"]
    if by in ("hour", "weekday"):
        return (key is None, key or 0, "")
    return (key is None, 0, row["label"].casefold())


@register
class SlaReport(Report):
    name = "sla"
    title = _("Speed and SLA")
    by_choices = ("owner", "team", "source", "hour", "weekday")
    default_by = "owner"
    modes = ("cohort",)  # defined over the cohort's leads only (DESIGN.md)
    columns = [
        ("leads", _("Leads")),
        ("timers", _("Timers")),
        ("met", _("Met")),
        ("breached", _("Breached")),
        ("running", _("Running")),
        # xgettext:no-python-format
        ("met_pct", _("Met, %")),
        ("first_contact_median_min", _("First contact, median, min")),
        ("first_contact_p90_min", _("First contact, p90, min")),
        ("first_contact_median_work_min", _("First contact, median, working min")),
        ("first_contact_p90_work_min", _("First contact, p90, working min")),
        ("breaches_system", _("Breaches: nobody assigned")),
        ("breaches_rep", _("Breaches: rep")),
        ("callback_breaches", _("Callback breaches")),
    ]

    def compute(self, params) -> dict:
        by = params.by
        cohort = params.cohort()
        rows: dict = {}

        def row(key):
            if key not in rows:
                rows[key] = {"key": key, **dict.fromkeys(COUNT_FIELDS, 0), "_clock": [], "_work": []}
            return rows[key]

        # 1. Cohort leads per group.
        for item in cohort.values(key=_key_expression(by)).annotate(n=Count("pk")).order_by():
            row(item["key"])["leads"] = item["n"]

        # 2. Timers (first-contact and callback) of the cohort's leads, with their breaches.
        first = Q(kind=TimerKind.FIRST_CONTACT)
        timers = (
            timers_of(cohort)
            .annotate(key=_timer_key(by))
            .values("key")
            .annotate(
                timers=Count("pk", filter=first),
                met=Count("pk", filter=first & MET),
                breached=Count("pk", filter=first & BREACHED),
                running=Count("pk", filter=first & RUNNING),
                breaches_system=Count("pk", filter=first & BREACHED & Q(delay=DelayOwner.SYSTEM)),
                breaches_rep=Count("pk", filter=first & BREACHED & Q(delay=DelayOwner.REP)),
                callback_breaches=Count("pk", filter=Q(kind=TimerKind.CALLBACK) & BREACHED),
            )
            .order_by()
        )
        for item in timers:
            target = row(item["key"])
            for field in COUNT_FIELDS[1:]:
                target[field] = item[field]

        # 3. Time to first contact, in clock and working minutes of the lead's calendar.
        contacted = list(
            cohort.filter(first_contact_at__isnull=False)
            .values_list(_key_expression(by), "created_at", "first_contact_at", "team__calendar_id")
            .order_by()
        )
        schedules = self._schedules({calendar_id for *_rest, calendar_id in contacted})
        clocks = {pk: WorkingClock(schedule) for pk, schedule in schedules.items()}
        all_clock, all_work = [], []
        for key, created_at, first_contact_at, calendar_id in contacted:
            clock = _seconds(first_contact_at - created_at) / 60
            work = clocks[calendar_id].minutes(created_at, first_contact_at)
            target = row(key)
            target["_clock"].append(clock)
            target["_work"].append(work)
            all_clock.append(clock)
            all_work.append(work)

        names = _names(by, rows)
        for key, item in rows.items():
            item["label"] = _label(by, key, names)
        result_rows = []
        for item in sorted(rows.values(), key=lambda r: _order(by, r)):
            clock, work = item.pop("_clock"), item.pop("_work")
            item.update(self._ratios(item, clock, work))
            item["links"] = self._links(params, row_selection(by, item["key"]))
            result_rows.append(item)

        total = {field: sum(item[field] for item in result_rows) for field in COUNT_FIELDS}
        total.update(self._ratios(total, all_clock, all_work))
        total["links"] = self._links(params, {})
        return {**self.envelope(params, result_rows, total), "histogram": histogram(all_clock)}

    @staticmethod
    def _ratios(counts: dict, clock: list, work: list) -> dict:
        return {
            "met_pct": percent(counts["met"], counts["met"] + counts["breached"]),
            "first_contact_median_min": minutes_text(median(clock)),
            "first_contact_p90_min": minutes_text(nearest_rank(clock, 90)),
            "first_contact_median_work_min": minutes_text(median(work)),
            "first_contact_p90_work_min": minutes_text(nearest_rank(work, 90)),
        }

    @staticmethod
    def _links(params, selection: dict) -> dict:
        """Drill-downs of the counts that are lead counts (the lead list counts leads)."""
        return {"leads": params.drilldown(step="leads", **selection)}

    @staticmethod
    def _schedules(calendar_ids) -> dict:
        """The schedule of each team calendar in use; None (no team calendar) → the default."""
        calendars = BusinessCalendar.objects.in_bulk([pk for pk in calendar_ids if pk is not None])
        schedules = {pk: schedule_or_24x7(calendar) for pk, calendar in calendars.items()}
        schedules[None] = schedule_or_24x7(team_calendar(None))
        return schedules


def histogram(minutes: list[Decimal]) -> list[dict]:
    """Leads per bin of clock minutes to first contact: [{"upto": 5, "leads": n,
    "label": "under 5 min"}, …, {"upto": None, …}] (the last bin is open-ended)."""
    counts = [0] * (len(HISTOGRAM_BINS) + 1)
    for value in minutes:
        index = next((i for i, bound in enumerate(HISTOGRAM_BINS) if value < bound), len(HISTOGRAM_BINS))
        counts[index] += 1
    bins = []
    for index, count in enumerate(counts):
        low = HISTOGRAM_BINS[index - 1] if index else None
        high = HISTOGRAM_BINS[index] if index < len(HISTOGRAM_BINS) else None
        if low is None:
            label = _("under %(high)s min") % {"high": high}
        elif high is None:
            label = _("%(low)s min or more") % {"low": low}
        else:
            label = _("%(low)s–%(high)s min") % {"low": low, "high": high}
        bins.append({"upto": high, "leads": count, "label": str(label)})
    return bins
