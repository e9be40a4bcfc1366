"""Is a rep on shift now (sla/availability.py)? The team calendar (hours, breaks,
holidays, transfers, exceptions), the rep's weekly shifts and absences decide it.

The default calendar (seeded by sla/0002) is Moscow, Mon–Fri 09–13 and 14–18, with
Russian public holidays and the production calendar's transfers.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from revops.models import Absence, Shift, User
from revops.roles import Role
from sla.availability import Availability, availability
from sla.business_time import is_working
from sla.calendars import schedule_for, team_calendar
from sla.models import CalendarException, WorkingHours
from tests.factories import TeamFactory, UserFactory, make_calendar

pytestmark = pytest.mark.django_db

T = dt.time
MOSCOW = ZoneInfo("Europe/Moscow")
WED_11 = dt.datetime(2026, 2, 11, 11, 0, tzinfo=MOSCOW)  # an ordinary working Wednesday
WEDNESDAY = 2

AVAILABLE = Availability(True)
CLOSED = Availability(False, "calendar_closed")
OFF_SHIFT = Availability(False, "off_shift")
ABSENT = Availability(False, "absent")


def moscow(*args):
    return dt.datetime(*args, tzinfo=MOSCOW)


def on_shift_now(user, calendar=None):
    """What distribution asks: is `user` working at this moment on the team's calendar?"""
    calendar = calendar or team_calendar(user.team)
    return availability(user, schedule_for(calendar), timezone.now())


def at(moment, user, calendar=None):
    with time_machine.travel(moment, tick=False):
        return on_shift_now(user, calendar)


@pytest.fixture
def team(db):
    return TeamFactory(code="sales", name="Sales")  # no calendar: the default one


@pytest.fixture
def rep(team):
    return UserFactory(username="rep", role=Role.REP, team=team)


def test_the_team_without_a_calendar_works_the_default_one(team):
    assert team_calendar(team).code == "default"
    assert team_calendar(None).code == "default"


# --- the calendar's hours --------------------------------------------------------------------------


def test_inside_the_calendar_and_the_shift_is_available(rep):
    Shift.objects.create(user=rep, weekday=WEDNESDAY, starts=T(9), ends=T(18))
    assert at(WED_11, rep) == AVAILABLE


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (moscow(2026, 2, 11, 8, 59, 59), CLOSED),
        (moscow(2026, 2, 11, 9, 0), AVAILABLE),  # the opening counts
        (moscow(2026, 2, 11, 12, 59, 59), AVAILABLE),
        (moscow(2026, 2, 11, 13, 0), CLOSED),  # lunch
        (moscow(2026, 2, 11, 13, 30), CLOSED),
        (moscow(2026, 2, 11, 14, 0), AVAILABLE),
        (moscow(2026, 2, 11, 17, 59, 59), AVAILABLE),
        (moscow(2026, 2, 11, 18, 0), CLOSED),  # the closing does not
        (moscow(2026, 2, 11, 19, 30), CLOSED),
        (moscow(2026, 2, 14, 11, 0), CLOSED),  # Saturday
        (moscow(2026, 2, 15, 11, 0), CLOSED),  # Sunday
    ],
)
def test_a_rep_without_shifts_works_the_calendars_hours(rep, moment, expected):
    assert at(moment, rep) == expected


def test_the_same_moment_given_in_utc(rep):
    assert at(dt.datetime(2026, 2, 11, 8, 0, tzinfo=dt.UTC), rep) == AVAILABLE  # 11:00 Moscow
    assert at(dt.datetime(2026, 2, 11, 16, 30, tzinfo=dt.UTC), rep) == CLOSED  # 19:30 Moscow


@pytest.mark.parametrize(
    ("day", "what"),
    [
        (dt.date(2026, 1, 7), "Christmas, a public holiday (a Wednesday)"),
        (dt.date(2026, 1, 9), "a day off transferred from Saturday 2026-01-03 (a Friday)"),
        (dt.date(2026, 2, 23), "Defender of the Fatherland Day (a Monday)"),
        (dt.date(2026, 3, 9), "a day off for 8 March falling on a Sunday (a Monday)"),
    ],
)
def test_holidays_and_transferred_days_off_are_closed(rep, day, what):
    assert day.weekday() < 5, what
    assert at(dt.datetime.combine(day, T(11), tzinfo=MOSCOW), rep) == CLOSED, what


def test_a_transferred_working_saturday_is_open_with_a_weekdays_hours(rep):
    # Saturday 2025-11-01 was a working day in Russia (weekend_workdays of holidays.RU).
    assert at(moscow(2025, 11, 1, 8, 59), rep) == CLOSED
    assert at(moscow(2025, 11, 1, 9, 0), rep) == AVAILABLE
    assert at(moscow(2025, 11, 1, 13, 30), rep) == CLOSED  # the weekday's lunch break too
    # It stands before Unity Day, so it is a pre-holiday short day: 17:00, not 18:00.
    assert at(moscow(2025, 11, 1, 16, 59), rep) == AVAILABLE
    assert at(moscow(2025, 11, 1, 17, 0), rep) == CLOSED
    # And the following Saturday is an ordinary weekend.
    assert at(moscow(2025, 11, 8, 11, 0), rep) == CLOSED


def test_a_rep_with_weekday_shifts_works_a_transferred_working_saturday_like_a_weekday(rep):
    # The calendar opens Saturday 2025-11-01 with a weekday's hours; a rep on
    # Mon–Fri shifts works it with their first weekday's shift (Monday's here),
    # so the team is not left without anyone that day.
    Shift.objects.create(user=rep, weekday=0, starts=T(10), ends=T(14))
    for weekday in range(1, 5):
        Shift.objects.create(user=rep, weekday=weekday, starts=T(9), ends=T(18))
    assert at(moscow(2025, 11, 1, 11, 0), rep) == AVAILABLE
    assert at(moscow(2025, 11, 1, 15, 0), rep) == OFF_SHIFT  # Monday's shift ends at 14:00
    assert at(moscow(2025, 11, 8, 11, 0), rep) == CLOSED  # an ordinary Saturday


def test_a_rep_with_a_saturday_shift_keeps_it_on_a_transferred_working_saturday(rep):
    Shift.objects.create(user=rep, weekday=0, starts=T(9), ends=T(18))
    Shift.objects.create(user=rep, weekday=5, starts=T(12), ends=T(16))
    assert at(moscow(2025, 11, 1, 11, 0), rep) == OFF_SHIFT  # not Monday's 9:00 start
    assert at(moscow(2025, 11, 1, 12, 30), rep) == AVAILABLE


def test_an_ad_hoc_closure_closes_the_day(rep):
    CalendarException.objects.create(
        calendar=team_calendar(rep.team), date=dt.date(2026, 2, 11), note="office move"
    )
    assert at(WED_11, rep) == CLOSED
    assert at(moscow(2026, 2, 12, 11, 0), rep) == AVAILABLE  # only that date


def test_a_custom_short_day_has_its_own_hours(rep):
    team_calendar(rep.team).set_exception(dt.date(2026, 2, 11), [(T(10), T(12))], note="short")
    assert at(moscow(2026, 2, 11, 9, 30), rep) == CLOSED
    assert at(moscow(2026, 2, 11, 10, 0), rep) == AVAILABLE
    assert at(moscow(2026, 2, 11, 11, 59), rep) == AVAILABLE
    assert at(moscow(2026, 2, 11, 12, 0), rep) == CLOSED
    assert at(moscow(2026, 2, 11, 15, 0), rep) == CLOSED  # no afternoon window that day


def test_an_exception_with_hours_opens_a_holiday(rep):
    team_calendar(rep.team).set_exception(dt.date(2026, 1, 7), [(T(10), T(14))])
    assert at(moscow(2026, 1, 7, 11, 0), rep) == AVAILABLE
    assert at(moscow(2026, 1, 7, 15, 0), rep) == CLOSED


# --- shifts ------------------------------------------------------------------------------------------


def test_shifts_narrow_the_calendar(rep):
    Shift.objects.create(user=rep, weekday=WEDNESDAY, starts=T(14), ends=T(18))
    assert at(WED_11, rep) == OFF_SHIFT
    assert at(moscow(2026, 2, 11, 14, 0), rep) == AVAILABLE
    assert at(moscow(2026, 2, 11, 17, 59), rep) == AVAILABLE
    assert at(moscow(2026, 2, 12, 15, 0), rep) == OFF_SHIFT  # no Thursday shift


def test_a_shift_never_widens_the_calendar(rep):
    Shift.objects.create(user=rep, weekday=WEDNESDAY, starts=T(7), ends=T(22))
    assert at(moscow(2026, 2, 11, 8, 0), rep) == CLOSED
    assert at(moscow(2026, 2, 11, 13, 30), rep) == CLOSED
    assert at(moscow(2026, 2, 11, 20, 0), rep) == CLOSED
    assert at(moscow(2026, 1, 7, 11, 0), rep) == CLOSED  # a holiday, though a Wednesday shift


def test_several_shifts_a_day(rep):
    Shift.objects.create(user=rep, weekday=WEDNESDAY, starts=T(9), ends=T(10))
    Shift.objects.create(user=rep, weekday=WEDNESDAY, starts=T(16), ends=T(18))
    assert at(moscow(2026, 2, 11, 9, 30), rep) == AVAILABLE
    assert at(WED_11, rep) == OFF_SHIFT
    assert at(moscow(2026, 2, 11, 16, 0), rep) == AVAILABLE


def test_a_night_shift_ending_at_midnight_works_until_midnight(db):
    calendar = make_calendar("round-the-clock", "Europe/Moscow", [(T(0), T(0))], weekdays=range(7))
    team = TeamFactory(code="night", calendar=calendar)
    owl = UserFactory(username="owl", role=Role.REP, team=team)
    Shift.objects.create(user=owl, weekday=WEDNESDAY, starts=T(18), ends=T(0))
    assert at(moscow(2026, 2, 11, 17, 59, 59), owl) == OFF_SHIFT
    assert at(moscow(2026, 2, 11, 18, 0), owl) == AVAILABLE
    assert at(moscow(2026, 2, 11, 23, 59, 59), owl) == AVAILABLE
    assert at(moscow(2026, 2, 12, 0, 0), owl) == OFF_SHIFT  # Thursday: no shift
    # Continued after midnight as the next day's shift: no gap at 00:00.
    Shift.objects.create(user=owl, weekday=WEDNESDAY + 1, starts=T(0), ends=T(6))
    assert at(moscow(2026, 2, 12, 0, 0), owl) == AVAILABLE
    assert at(moscow(2026, 2, 12, 5, 59), owl) == AVAILABLE
    assert at(moscow(2026, 2, 12, 6, 0), owl) == OFF_SHIFT


def test_a_calendar_evening_window_ending_at_midnight(db):
    calendar = make_calendar("evenings", "Europe/Moscow", [(T(18), T(0))])
    team = TeamFactory(code="evening", calendar=calendar)
    rep = UserFactory(username="evening-rep", role=Role.REP, team=team)
    assert at(moscow(2026, 2, 11, 23, 59, 59), rep) == AVAILABLE
    assert at(moscow(2026, 2, 12, 0, 0), rep) == CLOSED
    assert at(moscow(2026, 2, 11, 17, 0), rep) == CLOSED


# --- time zones -----------------------------------------------------------------------------------------


@pytest.fixture
def far_apart(db):
    vladivostok = make_calendar("vvo", "Asia/Vladivostok", [(T(9), T(18))])  # UTC+10
    kaliningrad = make_calendar("kgd", "Europe/Kaliningrad", [(T(9), T(18))])  # UTC+2
    east = UserFactory(username="east", role=Role.REP, team=TeamFactory(code="east", calendar=vladivostok))
    west = UserFactory(username="west", role=Role.REP, team=TeamFactory(code="west", calendar=kaliningrad))
    return east, west


def test_the_same_instant_is_on_shift_in_one_zone_and_not_in_the_other(far_apart):
    east, west = far_apart
    morning = dt.datetime(2026, 2, 11, 6, 0, tzinfo=dt.UTC)  # 16:00 Vladivostok, 08:00 Kaliningrad
    assert at(morning, east) == AVAILABLE
    assert at(morning, west) == CLOSED
    afternoon = dt.datetime(2026, 2, 11, 12, 0, tzinfo=dt.UTC)  # 22:00 Vladivostok, 14:00 Kaliningrad
    assert at(afternoon, east) == CLOSED
    assert at(afternoon, west) == AVAILABLE
    overlap = dt.datetime(2026, 2, 11, 7, 30, tzinfo=dt.UTC)  # 17:30 and 09:30
    assert at(overlap, east) == at(overlap, west) == AVAILABLE


def test_shifts_and_weekdays_are_read_in_the_calendars_zone(far_apart):
    east, _west = far_apart
    Shift.objects.create(user=east, weekday=WEDNESDAY, starts=T(9), ends=T(12))
    # Tuesday 23:30 UTC is already Wednesday 09:30 in Vladivostok.
    assert at(dt.datetime(2026, 2, 10, 23, 30, tzinfo=dt.UTC), east) == AVAILABLE
    # Wednesday 03:30 UTC is 13:30 there: after the shift.
    assert at(dt.datetime(2026, 2, 11, 3, 30, tzinfo=dt.UTC), east) == OFF_SHIFT


def test_absence_dates_are_read_in_the_calendars_zone(far_apart):
    east, _west = far_apart
    Absence.objects.create(user=east, starts_on=dt.date(2026, 2, 9), ends_on=dt.date(2026, 2, 10))
    # Tuesday 23:30 UTC: still the 10th in UTC, but Wednesday the 11th in Vladivostok.
    assert at(dt.datetime(2026, 2, 10, 23, 30, tzinfo=dt.UTC), east) == AVAILABLE
    assert at(dt.datetime(2026, 2, 10, 1, 0, tzinfo=dt.UTC), east) == ABSENT


# --- absences -------------------------------------------------------------------------------------------


def test_an_absence_covering_today_including_its_last_day(rep):
    Absence.objects.create(user=rep, starts_on=dt.date(2026, 2, 9), ends_on=dt.date(2026, 2, 11))
    assert at(moscow(2026, 2, 9, 9, 0), rep) == ABSENT  # the first day
    assert at(moscow(2026, 2, 11, 17, 59), rep) == ABSENT  # the inclusive last day
    assert at(moscow(2026, 2, 12, 9, 0), rep) == AVAILABLE  # back


def test_an_absence_wins_over_everything_else(rep):
    Absence.objects.create(
        user=rep, kind=Absence.Kind.SICK, starts_on=dt.date(2026, 2, 11), ends_on=dt.date(2026, 2, 11)
    )
    Shift.objects.create(user=rep, weekday=WEDNESDAY, starts=T(9), ends=T(18))
    assert at(WED_11, rep) == ABSENT
    assert at(moscow(2026, 2, 11, 20, 0), rep) == ABSENT  # also outside hours: absence is the reason


def test_past_and_future_absences_do_not_matter(rep):
    Absence.objects.create(user=rep, starts_on=dt.date(2026, 1, 1), ends_on=dt.date(2026, 2, 10))
    Absence.objects.create(user=rep, starts_on=dt.date(2026, 2, 12), ends_on=dt.date(2026, 3, 1))
    assert at(WED_11, rep) == AVAILABLE


def test_availability_reads_prefetched_shifts_and_absences(rep, django_assert_num_queries):
    Shift.objects.create(user=rep, weekday=WEDNESDAY, starts=T(9), ends=T(18))
    schedule = schedule_for(team_calendar(rep.team))
    loaded = User.objects.prefetch_related("shifts", "absences").get(pk=rep.pk)
    with django_assert_num_queries(0):
        assert availability(loaded, schedule, WED_11) == AVAILABLE


# --- the schedule cache follows changes -------------------------------------------------------------------


def test_schedule_for_reflects_new_working_hours_and_exceptions(db):
    calendar = make_calendar("editable", "Europe/Moscow", [(T(9), T(18))])
    saturday = moscow(2026, 2, 14, 11, 0)
    wednesday = WED_11
    assert not is_working(schedule_for(calendar), saturday)
    WorkingHours.objects.create(calendar=calendar, weekday=5, opens=T(10), closes=T(14))
    calendar.refresh_from_db()
    assert is_working(schedule_for(calendar), saturday)

    CalendarException.objects.create(calendar=calendar, date=wednesday.date())
    calendar.refresh_from_db()
    assert not is_working(schedule_for(calendar), wednesday)

    calendar.exceptions.get().delete()
    calendar.refresh_from_db()
    assert is_working(schedule_for(calendar), wednesday)

    hours = calendar.hours.get(weekday=5)
    hours.closes = T(11)
    hours.save()
    calendar.refresh_from_db()
    assert not is_working(schedule_for(calendar), saturday)

    calendar.timezone = "Asia/Vladivostok"
    calendar.save()
    assert schedule_for(calendar).tz == ZoneInfo("Asia/Vladivostok")


def test_schedule_for_the_very_instance_that_was_edited_sees_the_change(db):
    # The natural way to write it: edit through the calendar object you hold, then ask
    # for its schedule. touch() bumps updated_at in the database only, not on this
    # instance, so the cache key does not move and the old schedule comes back.
    calendar = make_calendar("held", "Europe/Moscow", [(T(9), T(18))])
    before = schedule_for(calendar)
    CalendarException.objects.create(calendar=calendar, date=WED_11.date())
    after = schedule_for(calendar)
    assert after.windows_on(WED_11.date()) == (), "stale schedule from the cache"
    assert before.windows_on(WED_11.date()) == ((T(9), T(18)),)


def test_touch_changes_updated_at_even_within_the_same_second(db):
    calendar = make_calendar("touchy", "Europe/Moscow", [(T(9), T(18))])
    seen = {calendar.updated_at}
    for _ in range(3):
        calendar.touch()
        calendar.refresh_from_db()
        seen.add(calendar.updated_at)
    assert len(seen) == 4, "every touch must move updated_at"


def test_touch_changes_the_version_when_the_clock_stands_still(db):
    # With a frozen clock (time_machine tick=False, the suite's convention) or a coarse
    # one a timestamp would not move; the version counter, the cache key, always does.
    with time_machine.travel(WED_11, tick=False):
        calendar = make_calendar("frozen", "Europe/Moscow", [(T(9), T(18))])
        assert schedule_for(calendar).windows_on(WED_11.date()) == ((T(9), T(18)),)
        before = calendar.version
        CalendarException.objects.create(calendar=calendar, date=WED_11.date())
        calendar.refresh_from_db()
        assert calendar.version > before, "touch() did not change the version"
        assert schedule_for(calendar).windows_on(WED_11.date()) == ()
