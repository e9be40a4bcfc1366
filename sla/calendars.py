"""From a BusinessCalendar row to a pure `Schedule` for sla.business_time.

Public holidays, the production calendar's transfers and its pre-holiday short days
come from `sla.production` (the `holidays` package plus the published short days),
loaded a year at a time as the arithmetic reaches it, so a deadline years ahead is
still on the calendar: holidays and transferred days off close the day; transferred
working Saturdays get the hours of a regular weekday; a short day (Russia, Labour
Code art. 95, if the calendar follows them) ends an hour earlier. The calendar's own
exceptions override all of that and are taken literally (an exception on a short
day is not shortened again).

Schedules are cached per process and rebuilt when the calendar's `version` moves
(any change of it, its hours or its exceptions bumps it; bulk queryset edits do
not, so edit hours through the models or call `calendar.touch()`).

Deadlines already stored (`SlaTimer.due_at`) are not recomputed when the rules
here change (a new short day, a fixed holiday): only running timers of a calendar
edited in the admin are (sla.admin, `recompute_running`).
"""

import datetime as dt
from functools import lru_cache, partial

from django.db.models import Prefetch
from django.utils.translation import gettext_lazy as _

from revops import refcache
from sla.business_time import Schedule, next_windows
from sla.models import BusinessCalendar, ExceptionWindow, format_windows
from sla.production import production_year, regular_day_windows, year_overrides

__all__ = [
    "DEFAULT_CALENDAR_CODE",
    "around_the_clock",
    "calendar_preview",
    "clear_cache",
    "day_notes",
    "regular_day_windows",
    "schedule_for",
    "schedule_or_24x7",
    "team_calendar",
]


@lru_cache(maxsize=64)
def _build(calendar_id: int, version: int) -> Schedule:
    calendar = BusinessCalendar.objects.prefetch_related(
        "hours", Prefetch("exceptions__windows", queryset=ExceptionWindow.objects.order_by("opens"))
    ).get(pk=calendar_id)
    weekly_lists: list[list] = [[] for _ in range(7)]
    for hours in sorted(calendar.hours.all(), key=lambda h: (h.weekday, h.opens)):
        weekly_lists[hours.weekday].append((hours.opens, hours.closes))
    weekly = tuple(tuple(day) for day in weekly_lists)
    overrides = {exception.date: exception.window_pairs() for exception in calendar.exceptions.all()}
    yearly = None
    if calendar.holiday_country:
        # partial() of plain values: the loader holds no model instance.
        yearly = partial(year_overrides, calendar.holiday_country, weekly, calendar.short_pre_holiday_days)
    return Schedule(tz=calendar.tz, weekly=weekly, overrides=overrides, yearly=yearly)


def schedule_for(calendar: BusinessCalendar) -> Schedule:
    return _build(calendar.pk, calendar.version)


def clear_cache() -> None:
    """Forget every cached schedule (tests that edit calendars behind the models' back)."""
    _build.cache_clear()


def day_notes(calendar: BusinessCalendar, day: dt.date, exception_dates=None) -> list[str]:
    """Why a date differs from the weekly pattern, as codes: "exception", "closed"
    (holiday or transferred day off), "weekend_workday", "short" (pre-holiday).
    Used by the admin's preview; the exception wins, as it does in the schedule.
    ``exception_dates`` (a container of the calendar's exception dates) saves a query."""
    if exception_dates is None:
        exception_dates = {exception.date for exception in calendar.exceptions.all()}
    if day in exception_dates:
        return ["exception"]
    if not calendar.holiday_country:
        return []
    data = production_year(calendar.holiday_country, day.year)
    if day in data.closed:
        return ["closed"]
    notes = []
    if day in data.worked_weekend_days:
        notes.append("weekend_workday")
    if calendar.short_pre_holiday_days and day in data.short:
        notes.append("short")
    return notes


DAY_NOTE_LABELS = {
    "exception": _("exception"),
    "closed": _("public holiday or day off"),
    "weekend_workday": _("transferred working day"),
    "short": _("pre-holiday day, one hour shorter"),
}


def calendar_preview(calendar: BusinessCalendar, now: dt.datetime, count: int = 10) -> list[dict]:
    """The days of the next ``count`` working windows, for the admin: each day with
    its hours and why it differs from the weekly pattern (a short day, a
    transferred working day, an exception), plus the holidays skipped in between."""
    schedule = schedule_for(calendar)
    # The days the next windows fall on, each shown with its whole hours.
    by_day = {start.date() for start, _end in next_windows(schedule, now, count)}
    days: list[dict] = []
    if not by_day:
        return days
    notes_of = {exception.date: exception.note for exception in calendar.exceptions.all()}
    day, last = min(by_day), max(by_day)
    while day <= last:
        notes = day_notes(calendar, day, exception_dates=notes_of)
        if day in by_day or notes:
            labels = [str(DAY_NOTE_LABELS[note]) for note in notes]
            if "exception" in notes and notes_of[day]:
                labels.append(notes_of[day])
            days.append(
                {
                    "date": day,
                    "hours": format_windows(schedule.windows_on(day)),
                    "notes": labels,
                    "short": "short" in notes,
                }
            )
        day += dt.timedelta(days=1)
    return days


def around_the_clock() -> Schedule:
    """24/7 in UTC: used when a team has no calendar."""
    day = ((dt.time(0, 0), dt.time(0, 0)),)
    return Schedule(tz=dt.UTC, weekly=(day,) * 7)


DEFAULT_CALENDAR_CODE = "default"


def team_calendar(team) -> BusinessCalendar | None:
    """The team's calendar, else the company's default one (seeded by a migration)."""
    if team is not None and team.calendar_id:
        return team.calendar
    # Every lead of a team without its own calendar asks for this one.
    return refcache.get(
        "default-calendar", lambda: BusinessCalendar.objects.filter(code=DEFAULT_CALENDAR_CODE).first()
    )


def schedule_or_24x7(calendar: BusinessCalendar | None) -> Schedule:
    return schedule_for(calendar) if calendar is not None else around_the_clock()
