"""The production calendar of a country, one year at a time: which dates are closed,
which weekend days are worked, and which days are one hour shorter.

Pure (no Django): `sla.calendars` feeds the result to `sla.business_time.Schedule` as
its lazily loaded `yearly` overrides, and the golden tables of
tests/sla/test_business_time.py use it without a database.

* Closed: every date of the `holidays` package for the country — public holidays
  and the days off moved there by a decree (2026-01-09).
* Worked weekend days: the package's `weekend_workdays` (2025-11-01); they take the
  hours of a regular weekday (:func:`regular_day_windows`).
* Short days (Russia only, Labour Code art. 95): published lists in
  `sla.data.ru_short_days`, else :func:`derived_short_days`. On a short day the
  calendar's last working window ends one hour earlier; a last window shorter than
  the hour is dropped and the rest is taken from the window before it.

Years outside :data:`YEARS` get no holidays at all (only the weekly pattern): the
bound keeps a runaway question (a deadline in the year 9000) from building and
caching calendars nobody will use.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import holidays

from sla.data.ru_short_days import PUBLISHED as RU_PUBLISHED_SHORT_DAYS

YEARS = range(1992, 2200)
"""Years the production calendar is loaded for; others follow the weekly pattern only."""

SHORTENING = dt.timedelta(hours=1)

# Labour Code art. 112: the non-working public holidays (this list since 2013; earlier
# years get no derived short days). Only these make the day before them short;
# transferred days off do not.
RU_ART_112_SINCE = 2013
RU_HOLIDAYS_ART_112 = frozenset(
    [
        (1, 1),
        (1, 2),
        (1, 3),
        (1, 4),
        (1, 5),
        (1, 6),
        (1, 7),
        (1, 8),
        (2, 23),
        (3, 8),
        (5, 1),
        (5, 9),
        (6, 12),
        (11, 4),
    ]
)

# How far a transferred working Saturday may look ahead for its holiday: the longest
# run of days off between a worked Saturday and a holiday (28 Dec 2024 → 1 Jan 2025).
_LOOKAHEAD_DAYS = 10
_ONE_DAY = dt.timedelta(days=1)
_MIDNIGHT = dt.time(0, 0)


@dataclass(frozen=True)
class ProductionYear:
    """What the production calendar says about one year (dates of that year only)."""

    closed: frozenset[dt.date]
    worked_weekend_days: frozenset[dt.date]
    short: frozenset[dt.date]


@lru_cache(maxsize=64)
def _country_days(country: str, year: int) -> tuple[frozenset[dt.date], frozenset[dt.date]]:
    """(closed days, worked weekend days) of one year; cached, the package is slow-ish."""
    if year not in YEARS:
        return frozenset(), frozenset()
    calendar = holidays.country_holidays(country, years=[year])
    return frozenset(calendar), frozenset(getattr(calendar, "weekend_workdays", ()))


def _is_working_day(country: str, day: dt.date) -> bool:
    closed, worked = _country_days(country, day.year)
    if day in closed:
        return False
    return day.weekday() < 5 or day in worked


def derived_short_days(year: int) -> frozenset[dt.date]:
    """The Russian pre-holiday short days of a year by the rule of art. 95.

    A working day is short when the next calendar day is an art. 112 holiday (Friday
    7 March 2025 before Saturday 8 March; not Friday 20 February 2026, whose next
    day is an ordinary Saturday). A worked weekend day is short when only days off
    separate it from such a holiday (Saturday 2 November 2024 before Monday
    4 November): the decree moved the pre-holiday weekday's work onto it.
    """
    result: set[dt.date] = set()
    if year < RU_ART_112_SINCE or year not in YEARS:
        return frozenset()
    day = dt.date(year, 1, 1)
    while day.year == year:
        if _is_working_day("RU", day):
            _closed, worked = _country_days("RU", year)
            following = day + _ONE_DAY
            if (following.month, following.day) in RU_HOLIDAYS_ART_112:
                result.add(day)
            elif day in worked:
                for _ in range(_LOOKAHEAD_DAYS):
                    if (following.month, following.day) in RU_HOLIDAYS_ART_112:
                        result.add(day)
                        break
                    if _is_working_day("RU", following):
                        break
                    following += _ONE_DAY
        day += _ONE_DAY
    return frozenset(result)


@lru_cache(maxsize=64)
def production_year(country: str, year: int) -> ProductionYear:
    """The production calendar of ``country`` for ``year`` (empty for no country)."""
    if not country or year not in YEARS:
        return ProductionYear(frozenset(), frozenset(), frozenset())
    closed, worked = _country_days(country, year)
    short: frozenset[dt.date] = frozenset()
    if country.upper() == "RU":
        published = RU_PUBLISHED_SHORT_DAYS.get(year)
        short = frozenset(published) if published is not None else derived_short_days(year)
    return ProductionYear(closed, worked, short)


def regular_day_windows(weekly) -> tuple:
    """The hours a transferred working Saturday gets: the first weekday with hours."""
    return next((day for day in weekly[:5] if day), ())


def _minutes(t: dt.time, *, end: bool = False) -> int:
    if end and t == _MIDNIGHT:
        return 24 * 60
    return t.hour * 60 + t.minute


def _time(minutes: int) -> dt.time:
    return _MIDNIGHT if minutes == 24 * 60 else dt.time(minutes // 60, minutes % 60)


def shorten(day_windows, by: dt.timedelta = SHORTENING) -> tuple:
    """The windows of a day with ``by`` taken off its end (wall clock, whole minutes).

    09–13, 14–18 → 09–13, 14–17; 09–13, 14–14:30 → 09–12:30; 22–24 → 22–23.
    Seconds in a window's bounds are dropped: calendars are entered to the minute.
    """
    remaining = int(by.total_seconds() // 60)
    result = list(day_windows)
    while remaining and result:
        start, end = result[-1]
        start_minutes, end_minutes = _minutes(start), _minutes(end, end=True)
        length = end_minutes - start_minutes
        if length > remaining:
            result[-1] = (start, _time(end_minutes - remaining))
            remaining = 0
        else:
            result.pop()
            remaining -= length
    return tuple(result)


def year_overrides(country: str, weekly, short_days: bool, year: int) -> dict:
    """The per-date windows the production calendar imposes on a weekly pattern in ``year``.

    Made for ``functools.partial(year_overrides, country, weekly, short_days)`` as a
    `Schedule`'s ``yearly`` loader. A short day that is closed anyway stays closed.
    """
    data = production_year(country, year)
    result: dict[dt.date, tuple] = {}
    regular = regular_day_windows(weekly)
    for day in data.worked_weekend_days:
        result[day] = regular
    for day in data.short if short_days else ():
        result[day] = shorten(result.get(day, weekly[day.weekday()]))
    for day in data.closed:
        result[day] = ()
    return result
