"""From BusinessCalendar rows to a Schedule (sla/calendars.py), and the preview an
admin sees of the next working windows.

The default calendar (seeded by sla/0002) is Moscow, Mon–Fri 09–13 and 14–18,
Russian public holidays and the production calendar's transfers.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import holidays
import pytest
import time_machine
from django.db import IntegrityError, transaction

from sla.business_time import Schedule, add_working_time, next_windows
from sla.calendars import (
    DEFAULT_CALENDAR_CODE,
    around_the_clock,
    regular_day_windows,
    schedule_for,
    schedule_or_24x7,
    team_calendar,
)
from sla.models import BusinessCalendar, CalendarException, ExceptionWindow, WorkingHours
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db

T = dt.time
MOSCOW = ZoneInfo("Europe/Moscow")
WEEKDAY = ((T(9), T(13)), (T(14), T(18)))
SHORT_WEEKDAY = ((T(9), T(13)), (T(14), T(17)))


@pytest.fixture
def in_2026():
    with time_machine.travel(dt.datetime(2026, 2, 11, 11, 0, tzinfo=MOSCOW), tick=False):
        yield


@pytest.fixture
def in_2025():
    with time_machine.travel(dt.datetime(2025, 10, 29, 11, 0, tzinfo=MOSCOW), tick=False):
        yield


@pytest.fixture
def default():
    return BusinessCalendar.objects.get(code=DEFAULT_CALENDAR_CODE)


def moscow(*args):
    return dt.datetime(*args, tzinfo=MOSCOW)


def utc(pairs):
    return [(a.astimezone(dt.UTC), b.astimezone(dt.UTC)) for a, b in pairs]


# --- the weekly pattern -------------------------------------------------------------------------------


def test_the_seeded_default_calendar(in_2026, default):
    schedule = schedule_for(default)
    assert schedule.tz == MOSCOW
    assert schedule.weekly == (WEEKDAY,) * 5 + ((), ())


def test_weekly_pattern_with_breaks_sorted_whatever_the_order_of_entry(in_2026):
    calendar = BusinessCalendar.objects.create(code="shop", name="Shop", holiday_country="")
    # Entered out of order, three windows on Monday, one on Saturday.
    WorkingHours.objects.create(calendar=calendar, weekday=0, opens=T(15), closes=T(19))
    WorkingHours.objects.create(calendar=calendar, weekday=0, opens=T(8), closes=T(12))
    WorkingHours.objects.create(calendar=calendar, weekday=0, opens=T(12, 30), closes=T(14))
    WorkingHours.objects.create(calendar=calendar, weekday=5, opens=T(10), closes=T(0))
    calendar.refresh_from_db()
    schedule = schedule_for(calendar)
    assert schedule.weekly[0] == ((T(8), T(12)), (T(12, 30), T(14)), (T(15), T(19)))
    assert schedule.weekly[5] == ((T(10), T(0)),)  # until midnight
    assert schedule.weekly[1:5] == ((),) * 4 and schedule.weekly[6] == ()
    assert dict(schedule.overrides) == {}  # no country: no holidays


# --- holidays and transfers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "day",
    [
        dt.date(2026, 1, 1),
        dt.date(2026, 1, 7),  # Christmas
        dt.date(2026, 1, 9),  # transferred day off (from Saturday 2026-01-03)
        dt.date(2026, 2, 23),
        dt.date(2026, 3, 9),  # 8 March fell on a Sunday
        dt.date(2026, 5, 1),
        dt.date(2026, 5, 11),  # 9 May fell on a Saturday
        dt.date(2026, 6, 12),
        dt.date(2026, 11, 4),
    ],
)
def test_public_holidays_and_transferred_days_off_are_closed(in_2026, default, day):
    schedule = schedule_for(default)
    assert schedule.windows_on(day) == ()


def test_every_russian_holiday_of_the_year_is_closed(in_2026, default):
    schedule = schedule_for(default)
    for day in holidays.RU(years=2026):
        assert schedule.windows_on(day) == (), day


def test_ordinary_days_keep_the_weekly_pattern(in_2026, default):
    schedule = schedule_for(default)
    assert schedule.windows_on(dt.date(2026, 1, 12)) == WEEKDAY  # the first Monday after the holidays
    assert schedule.windows_on(dt.date(2026, 2, 11)) == WEEKDAY


def test_a_transferred_working_saturday_gets_a_regular_weekdays_hours(in_2025, default):
    assert dt.date(2025, 11, 1) in holidays.RU(years=2025).weekend_workdays
    schedule = schedule_for(default)
    # A regular weekday's hours, one hour shorter: it stands before Unity Day (art. 95).
    assert schedule.windows_on(dt.date(2025, 11, 1)) == SHORT_WEEKDAY
    assert schedule.windows_on(dt.date(2025, 11, 8)) == ()  # an ordinary Saturday
    assert schedule.windows_on(dt.date(2025, 11, 3)) == ()  # the Monday it was swapped with
    assert schedule.windows_on(dt.date(2025, 11, 4)) == ()  # Unity Day


def test_the_weekend_workday_takes_the_first_weekday_with_hours(in_2025):
    calendar = BusinessCalendar.objects.create(code="late-week", name="Late week", holiday_country="RU")
    WorkingHours.objects.create(calendar=calendar, weekday=2, opens=T(10), closes=T(16))
    WorkingHours.objects.create(calendar=calendar, weekday=3, opens=T(11), closes=T(17))
    calendar.refresh_from_db()
    assert schedule_for(calendar).windows_on(dt.date(2025, 11, 1)) == ((T(10), T(15)),)  # and short
    assert regular_day_windows(((),) * 7) == ()


def test_holidays_of_next_year_are_loaded_and_last_years(in_2026, default):
    schedule = schedule_for(default)
    assert schedule.windows_on(dt.date(2027, 1, 7)) == ()
    assert schedule.windows_on(dt.date(2025, 11, 1)) == SHORT_WEEKDAY


def test_a_calendar_without_a_country_has_no_holidays(in_2026):
    calendar = BusinessCalendar.objects.create(code="plain", name="Plain", holiday_country="")
    WorkingHours.objects.create(calendar=calendar, weekday=2, opens=T(9), closes=T(18))
    calendar.refresh_from_db()
    assert schedule_for(calendar).windows_on(dt.date(2026, 1, 7)) == ((T(9), T(18)),)


# --- exceptions override both ---------------------------------------------------------------------------


def test_exceptions_override_the_weekly_pattern_holidays_and_weekend_workdays(in_2025, default):
    CalendarException.objects.create(calendar=default, date=dt.date(2025, 11, 1))  # closed after all
    default.set_exception(dt.date(2026, 1, 7), [(T(10), T(14))])
    default.set_exception(dt.date(2025, 11, 5), [(T(9), T(16))])
    default.set_exception(dt.date(2025, 11, 6))
    default.set_exception(dt.date(2025, 11, 9), [(T(12), T(0))])
    default.refresh_from_db()
    schedule = schedule_for(default)
    assert schedule.windows_on(dt.date(2025, 11, 1)) == ()  # weekend workday closed
    assert schedule.windows_on(dt.date(2026, 1, 7)) == ((T(10), T(14)),)  # holiday opened
    assert schedule.windows_on(dt.date(2025, 11, 5)) == ((T(9), T(16)),)  # short day, no lunch
    assert schedule.windows_on(dt.date(2025, 11, 6)) == ()  # ad-hoc closure
    assert schedule.windows_on(dt.date(2025, 11, 9)) == ((T(12), T(0)),)  # a Sunday opened till midnight
    assert schedule.windows_on(dt.date(2025, 11, 7)) == WEEKDAY  # untouched


def test_the_database_refuses_a_window_that_closes_before_it_opens(in_2026, default):
    exception = CalendarException.objects.create(calendar=default, date=dt.date(2026, 2, 11))
    with pytest.raises(IntegrityError), transaction.atomic():
        ExceptionWindow.objects.create(exception=exception, opens=T(14), closes=T(10))
    with pytest.raises(IntegrityError), transaction.atomic():
        ExceptionWindow.objects.bulk_create(
            [ExceptionWindow(exception=exception, opens=T(9), closes=T(10))] * 2
        )


# --- which calendar a team works --------------------------------------------------------------------------


def test_team_calendar_falls_back_to_the_default(in_2026, default):
    own = BusinessCalendar.objects.create(code="own", name="Own")
    assert team_calendar(TeamFactory(code="with", calendar=own)) == own
    assert team_calendar(TeamFactory(code="without")) == default
    assert team_calendar(None) == default


def test_without_any_calendar_the_team_works_around_the_clock(in_2026, default):
    default.teams.update(calendar=None)
    default.delete()
    assert team_calendar(TeamFactory(code="lonely")) is None
    schedule = schedule_or_24x7(None)
    assert schedule == around_the_clock()
    start = dt.datetime(2026, 1, 7, 3, 0, tzinfo=dt.UTC)  # a Russian holiday, at night
    assert add_working_time(schedule, start, dt.timedelta(minutes=15)) == start + dt.timedelta(minutes=15)


# --- the admin's preview ----------------------------------------------------------------------------------


def test_next_five_windows_from_friday_1700_skip_the_weekend(in_2026, default):
    preview = next_windows(schedule_for(default), moscow(2026, 2, 13, 17, 0), 5)
    assert utc(preview) == utc(
        [
            (moscow(2026, 2, 13, 17, 0), moscow(2026, 2, 13, 18, 0)),  # the rest of Friday
            (moscow(2026, 2, 16, 9, 0), moscow(2026, 2, 16, 13, 0)),  # Monday
            (moscow(2026, 2, 16, 14, 0), moscow(2026, 2, 16, 18, 0)),
            (moscow(2026, 2, 17, 9, 0), moscow(2026, 2, 17, 13, 0)),
            (moscow(2026, 2, 17, 14, 0), moscow(2026, 2, 17, 18, 0)),
        ]
    )
    assert all(start.tzinfo == MOSCOW for start, _end in preview), "shown in the calendar's zone"


def test_next_windows_from_before_a_holiday_weekend(in_2026, default):
    # Friday 20 Feb 17:30 → Monday 23 Feb is Defender of the Fatherland Day.
    preview = next_windows(schedule_for(default), moscow(2026, 2, 20, 17, 30), 3)
    assert [start.date() for start, _end in preview] == [
        dt.date(2026, 2, 20),
        dt.date(2026, 2, 24),
        dt.date(2026, 2, 24),
    ]


def test_next_windows_across_the_new_year_holidays(in_2026, default):
    preview = next_windows(schedule_for(default), moscow(2025, 12, 30, 18, 0), 2)
    assert utc(preview) == utc(
        [
            (moscow(2026, 1, 12, 9, 0), moscow(2026, 1, 12, 13, 0)),
            (moscow(2026, 1, 12, 14, 0), moscow(2026, 1, 12, 18, 0)),
        ]
    )


def test_next_windows_on_the_transferred_working_saturday(in_2025, default):
    preview = next_windows(schedule_for(default), moscow(2025, 10, 31, 17, 0), 3)
    assert [(start.date(), start.time()) for start, _end in preview] == [
        (dt.date(2025, 10, 31), T(17)),
        (dt.date(2025, 11, 1), T(9)),
        (dt.date(2025, 11, 1), T(14)),
    ]


def test_next_windows_of_a_calendar_with_no_hours_is_empty(in_2026):
    calendar = BusinessCalendar.objects.create(code="empty", name="Empty", holiday_country="")
    assert next_windows(schedule_for(calendar), moscow(2026, 2, 11, 11, 0), 5) == []


def test_the_preview_right_after_the_admin_adds_an_exception(in_2026, default):
    # The admin adds a closure for Monday and looks at the preview again.
    friday_evening = moscow(2026, 2, 13, 17, 0)
    assert next_windows(schedule_for(default), friday_evening, 2)[1][0].date() == dt.date(2026, 2, 16)
    CalendarException.objects.create(calendar=default, date=dt.date(2026, 2, 16), note="closed")
    default.refresh_from_db()
    assert next_windows(schedule_for(default), friday_evening, 2)[1][0].date() == dt.date(2026, 2, 17)


def test_schedule_is_a_pure_value(in_2026, default):
    schedule = schedule_for(default)
    assert isinstance(schedule, Schedule)
    assert schedule_for(default) is schedule, "cached while nothing changes"
