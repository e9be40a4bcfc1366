"""From a BusinessCalendar row to a pure `Schedule` for sla.business_time.

Public holidays and the production calendar's transfers come from the
`holidays` package: holidays and transferred days off close the day;
transferred working Saturdays (`weekend_workdays`) get the hours of a regular
weekday. The calendar's own exceptions override both. Schedules are cached per
process and rebuilt when the calendar's `version` moves (any change of it, its
hours or its exceptions bumps it; bulk queryset edits do not, so edit hours
through the models or call `calendar.touch()`).
"""

import datetime as dt
from functools import lru_cache

import holidays
from django.utils import timezone

from revops import refcache
from sla.business_time import Schedule
from sla.models import BusinessCalendar

YEARS_AROUND = (-1, 0, 1, 2)  # holidays loaded for last year … two years ahead


def regular_day_windows(weekly) -> tuple:
    """The hours a transferred working Saturday gets: the first weekday with hours."""
    return next((day for day in weekly[:5] if day), ())


@lru_cache(maxsize=64)
def _build(calendar_id: int, version: int, year: int) -> Schedule:
    calendar = BusinessCalendar.objects.get(pk=calendar_id)
    weekly_lists: list[list] = [[] for _ in range(7)]
    for hours in calendar.hours.order_by("weekday", "opens"):
        weekly_lists[hours.weekday].append((hours.opens, hours.closes))
    weekly = tuple(tuple(day) for day in weekly_lists)
    overrides: dict[dt.date, tuple] = {}
    if calendar.holiday_country:
        country = holidays.country_holidays(calendar.holiday_country, years=[year + d for d in YEARS_AROUND])
        for day in country:
            overrides[day] = ()
        for day in getattr(country, "weekend_workdays", ()):
            overrides[day] = regular_day_windows(weekly)
    for exception in calendar.exceptions.all():
        overrides[exception.date] = () if exception.is_closed else ((exception.opens, exception.closes),)
    return Schedule(tz=calendar.tz, weekly=weekly, overrides=overrides)


def schedule_for(calendar: BusinessCalendar) -> Schedule:
    # The year is part of the key so a long-running process loads next year's holidays.
    return _build(calendar.pk, calendar.version, timezone.now().year)


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
