"""Pre-holiday short days (Labour Code art. 95) and exceptions with several windows.

The day before a non-working public holiday is one hour shorter: on the default
calendar (Moscow, 09–13 and 14–18) Tuesday 2026-11-03, the eve of Unity Day, closes at
17:00, so 15 working minutes from 16:50 end at 09:05 on Thursday 2026-11-05.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import holidays
import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from sla.admin import CalendarExceptionForm
from sla.business_time import add_working_time, working_time_between
from sla.calendars import DEFAULT_CALENDAR_CODE, calendar_preview, schedule_for
from sla.data.ru_short_days import PUBLISHED
from sla.models import BusinessCalendar, CalendarException, ExceptionWindow, WorkingHours, parse_windows
from sla.production import YEARS, derived_short_days, production_year, shorten

T = dt.time
MOSCOW = ZoneInfo("Europe/Moscow")
WEEKDAY = ((T(9), T(13)), (T(14), T(18)))
SHORT = ((T(9), T(13)), (T(14), T(17)))
D = dt.date


def moscow(*args):
    return dt.datetime(*args, tzinfo=MOSCOW)


@pytest.fixture
def in_2026():
    with time_machine.travel(moscow(2026, 10, 1, 11, 0), tick=False):
        yield


@pytest.fixture
def default(db):
    return BusinessCalendar.objects.get(code=DEFAULT_CALENDAR_CODE)


# --- which days are short -------------------------------------------------------------------------

# The official lists (Ministry of Labour's production calendars), written out here
# independently of sla/data/ru_short_days.py. 8 May 2025 was a day off moved from
# 23 February, so 7 May 2025 is not short; 31 December 2025–2027 are days off moved
# from January, and a transferred day off is no holiday, so 30 December is not short.
OFFICIAL = {
    2024: {
        D(2024, 2, 22),
        D(2024, 3, 7),
        D(2024, 4, 27),
        D(2024, 5, 8),
        D(2024, 6, 11),
        D(2024, 11, 2),
        D(2024, 12, 28),
    },
    2025: {D(2025, 3, 7), D(2025, 4, 30), D(2025, 6, 11), D(2025, 11, 1)},
    2026: {D(2026, 4, 30), D(2026, 5, 8), D(2026, 6, 11), D(2026, 11, 3)},
    2027: {D(2027, 2, 20), D(2027, 4, 30), D(2027, 6, 11), D(2027, 11, 3)},
}

# Annual norm of working hours at 40 hours a week: 8 h per working day less one hour per short day.
NORM_40H = {2019: 1970, 2020: 1979, 2021: 1972, 2022: 1973, 2023: 1973, 2024: 1977, 2025: 1972, 2026: 1972}


@pytest.mark.parametrize("year", sorted(OFFICIAL))
def test_the_derivation_gives_the_official_lists(year):
    assert derived_short_days(year) == OFFICIAL[year]
    assert set(PUBLISHED[year]) == OFFICIAL[year]
    assert production_year("RU", year).short == OFFICIAL[year]


@pytest.mark.parametrize("year", sorted(PUBLISHED))
def test_the_derivation_agrees_with_every_published_year(year):
    assert derived_short_days(year) == set(PUBLISHED[year])


@pytest.mark.parametrize("year", sorted(NORM_40H))
def test_the_annual_norm_of_hours_matches(year):
    calendar = holidays.RU(years=year)
    working_days = [
        day
        for day in (D(year, 1, 1) + dt.timedelta(days=n) for n in range(366))
        if day.year == year
        and day not in calendar
        and (day.weekday() < 5 or day in calendar.weekend_workdays)
    ]
    assert 8 * len(working_days) - len(production_year("RU", year).short) == NORM_40H[year]


def test_a_year_without_a_published_list_is_derived():
    assert 2031 not in PUBLISHED
    # 23 February 2031 is a Sunday (no short Friday); 8 March a Saturday (Friday the 7th is short).
    assert production_year("RU", 2031).short == derived_short_days(2031)
    assert D(2031, 3, 7) in derived_short_days(2031)
    assert D(2031, 2, 21) not in derived_short_days(2031)


def test_only_russia_has_short_days_and_the_years_are_bounded():
    assert production_year("DE", 2026).short == frozenset()
    assert production_year("", 2026) == production_year("RU", max(YEARS) + 1)
    assert production_year("RU", 9000).closed == frozenset()


@pytest.mark.parametrize(
    ("windows", "expected"),
    [
        (WEEKDAY, SHORT),
        (((T(9), T(18)),), ((T(9), T(17)),)),
        (((T(9), T(13)), (T(14), T(14, 30))), ((T(9), T(12, 30)),)),  # the last window is too short
        (((T(9), T(13)), (T(14), T(15))), ((T(9), T(13)),)),  # exactly an hour: it goes
        (((T(22), T(0)),), ((T(22), T(23)),)),  # until midnight
        (((T(9), T(9, 30)),), ()),
        ((), ()),
    ],
)
def test_the_last_window_gives_the_hour(windows, expected):
    assert shorten(windows) == expected


# --- the calendar ----------------------------------------------------------------------------------


def test_the_eve_of_unity_day_closes_an_hour_early(in_2026, default):
    schedule = schedule_for(default)
    assert schedule.windows_on(D(2026, 11, 3)) == SHORT
    assert schedule.windows_on(D(2026, 11, 2)) == WEEKDAY
    assert schedule.windows_on(D(2026, 11, 4)) == ()
    due = add_working_time(schedule, moscow(2026, 11, 3, 16, 50), dt.timedelta(minutes=15))
    assert due == moscow(2026, 11, 5, 9, 5)


def test_a_calendar_may_ignore_short_days(in_2026, default):
    assert default.short_pre_holiday_days, "on by default"
    default.short_pre_holiday_days = False
    default.save()
    schedule = schedule_for(default)
    assert schedule.windows_on(D(2026, 11, 3)) == WEEKDAY
    assert schedule.windows_on(D(2026, 11, 4)) == (), "holidays still apply"
    assert add_working_time(schedule, moscow(2026, 11, 3, 16, 50), dt.timedelta(minutes=15)) == moscow(
        2026, 11, 3, 17, 5
    )


def test_a_calendar_without_russian_holidays_has_no_short_days(in_2026, db):
    calendar = BusinessCalendar.objects.create(
        code="berlin", name="Berlin", timezone="Europe/Berlin", holiday_country="DE"
    )
    for weekday in range(5):
        WorkingHours.objects.create(calendar=calendar, weekday=weekday, opens=T(9), closes=T(18))
    calendar.refresh_from_db()
    assert schedule_for(calendar).windows_on(D(2026, 11, 3)) == ((T(9), T(18)),)


def test_a_short_day_with_a_custom_two_window_exception(in_2026, default):
    default.set_exception(D(2026, 11, 3), [(T(14), T(16)), (T(9), T(13))], note="leaves early")
    schedule = schedule_for(default)
    assert schedule.windows_on(D(2026, 11, 3)) == ((T(9), T(13)), (T(14), T(16))), "taken literally"
    assert add_working_time(schedule, moscow(2026, 11, 3, 15, 50), dt.timedelta(minutes=15)) == moscow(
        2026, 11, 5, 9, 5
    )
    assert working_time_between(
        schedule, moscow(2026, 11, 3, 0, 0), moscow(2026, 11, 4, 0, 0)
    ) == dt.timedelta(hours=6)


def test_a_deadline_years_ahead_is_on_the_calendar(in_2026, default):
    schedule = schedule_for(default)
    # Nothing is loaded up front: 2035–2036 come in when the arithmetic reaches them.
    assert schedule.windows_on(D(2036, 1, 7)) == ()
    assert schedule.windows_on(D(2035, 12, 31)) == SHORT
    assert add_working_time(schedule, moscow(2035, 12, 31, 16, 50), dt.timedelta(minutes=15)) == moscow(
        2036, 1, 9, 9, 5
    )
    # And a long amount walks across the years too (window to window).
    start = moscow(2026, 12, 30, 9, 0)
    due = add_working_time(schedule, start, dt.timedelta(hours=8 * 247 * 3))
    assert due.year in (2029, 2030)


# --- exceptions with several windows ---------------------------------------------------------------


def test_parse_windows_reads_what_people_write():
    assert parse_windows("09:00–13:00, 14:00–17:00") == ((T(9), T(13)), (T(14), T(17)))
    assert parse_windows("14:00-17:00; 9:00 - 13:00") == ((T(9), T(13)), (T(14), T(17)))
    assert parse_windows("18:00–24:00") == ((T(18), T(0)),)
    assert parse_windows("  ") == ()


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("9 to 13", "window_syntax"),
        ("25:00–26:00", "window_time"),
        ("09:00–24:30", "window_time"),
        ("13:00–09:00", "window_order"),
        ("09:00–09:00", "window_order"),
        ("09:00–13:00, 12:00–17:00", "window_overlap"),
    ],
)
def test_bad_windows_are_refused_with_a_clear_message(text, code):
    with pytest.raises(ValidationError) as error:
        parse_windows(text)
    assert error.value.code == code
    assert str(error.value.messages[0])


def test_the_admin_form_stores_several_windows_and_refuses_overlaps(in_2026, default):
    form = CalendarExceptionForm(
        data={"date": "2026-12-30", "hours": "09:00–13:00, 14:00–17:00", "note": "party"},
        instance=CalendarException(calendar=default),
    )
    assert form.is_valid(), form.errors
    exception = form.save()
    assert exception.window_pairs() == SHORT
    assert CalendarExceptionForm(instance=exception).initial["hours"] == "09:00–13:00, 14:00–17:00"

    bad = CalendarExceptionForm(
        data={"date": "2026-12-30", "hours": "09:00–13:00, 12:30–17:00", "note": ""}, instance=exception
    )
    assert not bad.is_valid()
    assert [error.code for error in bad.errors.as_data()["hours"]] == ["window_overlap"]
    exception.refresh_from_db()
    assert exception.window_pairs() == SHORT, "nothing changed"


def test_the_admin_saves_a_two_window_exception_and_previews_the_short_day(client, admin_user, db):
    calendar = BusinessCalendar.objects.create(
        code="ops", name="Ops", timezone="Europe/Moscow", holiday_country="RU"
    )
    for weekday in range(5):
        WorkingHours.objects.create(calendar=calendar, weekday=weekday, opens=T(9), closes=T(13))
        WorkingHours.objects.create(calendar=calendar, weekday=weekday, opens=T(14), closes=T(18))
    data = {
        "code": "ops",
        "name": "Ops",
        "timezone": "Europe/Moscow",
        "holiday_country": "RU",
        "short_pre_holiday_days": "on",
        "hours-TOTAL_FORMS": "0",
        "hours-INITIAL_FORMS": "0",
        "hours-MIN_NUM_FORMS": "0",
        "hours-MAX_NUM_FORMS": "1000",
        "exceptions-TOTAL_FORMS": "1",
        "exceptions-INITIAL_FORMS": "0",
        "exceptions-MIN_NUM_FORMS": "0",
        "exceptions-MAX_NUM_FORMS": "1000",
        "exceptions-0-calendar": calendar.pk,
        "exceptions-0-date": "2026-12-30",
        "exceptions-0-hours": "10:00–13:00, 14:00–16:00",
        "exceptions-0-note": "stock-taking",
    }
    client.force_login(admin_user)
    url = f"/admin/sla/businesscalendar/{calendar.pk}/change/"

    overlapping = dict(data, **{"exceptions-0-hours": "10:00–14:30, 14:00–16:00"})
    response = client.post(url, overlapping, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "The windows 10:00–14:30 and 14:00–16:00 overlap." in response.content.decode()
    assert not CalendarException.objects.filter(calendar=calendar).exists()

    response = client.post(url, data)
    assert response.status_code == 302, response.content[:3000]
    exception = CalendarException.objects.get(calendar=calendar)
    assert exception.window_pairs() == ((T(10), T(13)), (T(14), T(16)))
    assert ExceptionWindow.objects.filter(exception=exception).count() == 2

    with time_machine.travel(moscow(2026, 11, 2, 12, 0), tick=False):
        page = client.get(url).content.decode()
        days = calendar_preview(calendar, moscow(2026, 11, 2, 12, 0))
    assert days[1]["date"] == D(2026, 11, 3) and days[1]["hours"] == "09:00–13:00, 14:00–17:00"
    assert days[1]["short"]
    assert days[2]["date"] == D(2026, 11, 4) and days[2]["hours"] == ""  # Unity Day, shown as closed
    assert "03.11.2026" in page and "09:00–13:00, 14:00–17:00" in page
    assert "calendar-preview-short" in page


# --- the migration ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_turns_each_single_window_into_a_window_row():
    executor = MigrationExecutor(connection)
    before = [("sla", "0003_drop_redundant_indexes")]
    after = [("sla", "0004_exception_windows_and_short_days")]
    try:
        executor.migrate(before)
        old = executor.loader.project_state(before).apps
        calendar = old.get_model("sla", "BusinessCalendar").objects.create(code="m", name="M", timezone="UTC")
        Exception_ = old.get_model("sla", "CalendarException")
        Exception_.objects.create(calendar=calendar, date=D(2026, 3, 1))
        Exception_.objects.create(calendar=calendar, date=D(2026, 3, 2), opens=T(10), closes=T(15))
        Exception_.objects.create(calendar=calendar, date=D(2026, 3, 3), opens=T(18), closes=T(0))

        executor = MigrationExecutor(connection)
        executor.migrate(after)
        new = executor.loader.project_state(after).apps
        windows = {
            e.date: [
                (w.opens, w.closes)
                for w in new.get_model("sla", "ExceptionWindow").objects.filter(exception=e)
            ]
            for e in new.get_model("sla", "CalendarException").objects.all()
        }
        assert windows == {D(2026, 3, 1): [], D(2026, 3, 2): [(T(10), T(15))], D(2026, 3, 3): [(T(18), T(0))]}
        assert new.get_model("sla", "BusinessCalendar").objects.get(code="m").short_pre_holiday_days
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_an_unknown_holiday_country_is_refused(db):
    calendar = BusinessCalendar(code="x", name="X", timezone="UTC", holiday_country="XX")
    with pytest.raises(ValidationError) as error:
        calendar.full_clean()
    assert "holiday_country" in error.value.message_dict
    BusinessCalendar(code="y", name="Y", timezone="UTC", holiday_country="DE").full_clean()
    BusinessCalendar(code="z", name="Z", timezone="UTC", holiday_country="").full_clean()
