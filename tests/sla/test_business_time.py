"""Business-time arithmetic (sla/business_time.py): golden table, properties, errors.

Pure functions, so no database: these tests carry no django_db mark.

Times in the tables are ISO strings *with an offset*, so every expected value names
one real instant and its wall clock unambiguously (fall-back hours included).
Aware datetimes sharing one tzinfo compare and subtract by wall clock in Python,
ignoring `fold`; the helpers here therefore compare in UTC.
"""

import contextlib
import datetime as dt
import functools
import os
import time
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sla.business_time import (
    END_OF_DAY,
    MAX_HORIZON_DAYS,
    NoWorkingTime,
    Schedule,
    add_working_time,
    is_working,
    next_windows,
    next_working_moment,
    windows,
    working_time_between,
)
from sla.production import year_overrides

UTC = dt.UTC
T = dt.time
MOSCOW = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")

WORKDAY = ((T(9), T(13)), (T(14), T(19)))  # lunch 13:00–14:00 is the gap
FULL_DAY = ((T(0), END_OF_DAY),)
CLOSED = ()


def week(workday, weekend=CLOSED):
    return (workday,) * 5 + (weekend,) * 2


def russian_overrides(years):
    """Closed days and transferred working Saturdays of the Russian production calendar.

    `holidays.RU` lists public holidays *and* transferred days off (2026-01-09);
    transferred working Saturdays are in `weekend_workdays`. 2026 has none, so the
    golden table uses the real one of 2025 (Saturday 2025-11-01).
    """
    calendar = holidays.RU(years=years)
    overrides = dict.fromkeys(calendar, CLOSED)
    overrides.update(dict.fromkeys(calendar.weekend_workdays, WORKDAY))
    return overrides


MOSCOW_9_18 = week(((T(9), T(13)), (T(14), T(18))))
# The production calendar as sla.calendars builds it: holidays, transfers and the
# pre-holiday short days (art. 95), loaded a year at a time as the arithmetic needs.
RU_PRODUCTION = functools.partial(year_overrides, "RU", MOSCOW_9_18, True)
SHORT_DAY_WITH_LUNCH = {dt.date(2026, 11, 3): ((T(9), T(13)), (T(14), T(16)))}

SCHEDULES = {
    # Mon–Fri 09:00–18:00 with lunch 13–14 on the Russian production calendar.
    "moscow_production": Schedule(MOSCOW, MOSCOW_9_18, yearly=RU_PRODUCTION),
    # The same with a custom exception on the short day 2026-11-03: 09–13 and 14–16.
    "moscow_production_exception": Schedule(
        MOSCOW, MOSCOW_9_18, overrides=SHORT_DAY_WITH_LUNCH, yearly=RU_PRODUCTION
    ),
    # Mon–Fri 09:00–13:00, 14:00–19:00, Russian 2025–2026 holidays; DST-free zone.
    "moscow": Schedule(MOSCOW, week(WORKDAY), russian_overrides([2025, 2026])),
    "moscow_24_7": Schedule(MOSCOW, (FULL_DAY,) * 7),
    "berlin_9_19": Schedule(BERLIN, week(((T(9), T(19)),))),
    "new_york_9_19": Schedule(NEW_YORK, week(((T(9), T(19)),))),
    "berlin_24_7": Schedule(BERLIN, (FULL_DAY,) * 7),
    "new_york_24_7": Schedule(NEW_YORK, (FULL_DAY,) * 7),
    # Every night 01:00–04:00: the window that contains the DST gap / fold.
    "berlin_night": Schedule(BERLIN, (((T(1), T(4)),),) * 7),
    "new_york_night": Schedule(NEW_YORK, (((T(1), T(4)),),) * 7),
}


def iso(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, f"test data must carry an offset: {value}"
    return parsed


def utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(UTC)


def assert_same_moment(result: dt.datetime, expected: dt.datetime, schedule: Schedule) -> None:
    """Same instant, same wall clock and offset, expressed in the schedule's zone."""
    assert result.tzinfo is schedule.tz
    assert utc(result) == utc(expected), f"{result.isoformat()} != {expected.isoformat()}"
    assert result.utcoffset() == expected.utcoffset(), f"{result.isoformat()} != {expected.isoformat()}"


# --- the golden table --------------------------------------------------------------

GOLDEN = [
    # id, schedule, start, working minutes, expected
    ("18:55 + 15 -> next opening + 10", "moscow", "2026-02-10T18:55+03:00", 15, "2026-02-11T09:10+03:00"),
    ("deadline exactly at closing", "moscow", "2026-02-10T18:45+03:00", 15, "2026-02-10T19:00+03:00"),
    ("arrival exactly at closing", "moscow", "2026-02-10T19:00+03:00", 15, "2026-02-11T09:15+03:00"),
    ("arrival late evening", "moscow", "2026-02-10T21:30+03:00", 15, "2026-02-11T09:15+03:00"),
    ("arrival just after midnight", "moscow", "2026-02-11T00:05+03:00", 15, "2026-02-11T09:15+03:00"),
    ("before opening", "moscow", "2026-02-10T07:30+03:00", 15, "2026-02-10T09:15+03:00"),
    ("exactly at opening", "moscow", "2026-02-10T09:00+03:00", 15, "2026-02-10T09:15+03:00"),
    ("inside working hours", "moscow", "2026-02-10T10:07:30+03:00", 15, "2026-02-10T10:22:30+03:00"),
    ("inside the lunch break", "moscow", "2026-02-10T13:20+03:00", 15, "2026-02-10T14:15+03:00"),
    ("across the lunch break", "moscow", "2026-02-10T12:50+03:00", 15, "2026-02-10T14:05+03:00"),
    ("deadline exactly at lunch", "moscow", "2026-02-10T12:45+03:00", 15, "2026-02-10T13:00+03:00"),
    ("arrival exactly at lunch", "moscow", "2026-02-10T13:00+03:00", 15, "2026-02-10T14:15+03:00"),
    ("a full working day", "moscow", "2026-02-10T09:00+03:00", 9 * 60, "2026-02-10T19:00+03:00"),
    ("a full day plus a minute", "moscow", "2026-02-10T09:00+03:00", 9 * 60 + 1, "2026-02-11T09:01+03:00"),
    ("start given in UTC", "moscow", "2026-02-10T15:55+00:00", 15, "2026-02-11T09:10+03:00"),
    ("Friday evening -> Monday", "moscow", "2026-02-13T18:55+03:00", 15, "2026-02-16T09:10+03:00"),
    ("Friday after closing -> Monday", "moscow", "2026-02-13T20:00+03:00", 15, "2026-02-16T09:15+03:00"),
    ("Saturday -> Monday", "moscow", "2026-02-14T11:00+03:00", 15, "2026-02-16T09:15+03:00"),
    ("public holiday Monday 23 Feb", "moscow", "2026-02-20T18:55+03:00", 15, "2026-02-24T09:10+03:00"),
    ("arrival on a public holiday", "moscow", "2026-02-23T10:00+03:00", 15, "2026-02-24T09:15+03:00"),
    ("observed holiday Monday 9 Mar", "moscow", "2026-03-06T18:55+03:00", 15, "2026-03-10T09:10+03:00"),
    ("1 May on a Friday", "moscow", "2026-04-30T18:55+03:00", 15, "2026-05-04T09:10+03:00"),
    ("transferred day off 9 Jan", "moscow", "2026-01-09T10:00+03:00", 15, "2026-01-12T09:15+03:00"),
    ("New Year break", "moscow", "2025-12-30T18:55+03:00", 15, "2026-01-12T09:10+03:00"),
    ("transferred working Saturday", "moscow", "2025-10-31T18:55+03:00", 15, "2025-11-01T09:10+03:00"),
    ("after the working Saturday", "moscow", "2025-11-01T18:55+03:00", 15, "2025-11-05T09:10+03:00"),
    # Pre-holiday short days (Labour Code art. 95): the last window ends an hour early.
    (
        "short day before Unity Day",
        "moscow_production",
        "2026-11-03T16:50+03:00",
        15,
        "2026-11-05T09:05+03:00",
    ),
    (
        "short day, deadline at 17:00",
        "moscow_production",
        "2026-11-03T16:45+03:00",
        15,
        "2026-11-03T17:00+03:00",
    ),
    (
        "short day, lunch unchanged",
        "moscow_production",
        "2026-11-03T12:50+03:00",
        15,
        "2026-11-03T14:05+03:00",
    ),
    ("the day before is full", "moscow_production", "2026-11-02T17:50+03:00", 15, "2026-11-03T09:05+03:00"),
    (
        "short Friday before 9 May",
        "moscow_production",
        "2026-05-08T16:50+03:00",
        15,
        "2026-05-12T09:05+03:00",
    ),
    (
        "working Saturday is short",
        "moscow_production",
        "2025-11-01T16:50+03:00",
        15,
        "2025-11-05T09:05+03:00",
    ),
    (
        "no short day before 8 May 2025",
        "moscow_production",
        "2025-05-07T17:50+03:00",
        15,
        "2025-05-12T09:05+03:00",
    ),
    (
        "an exception wins",
        "moscow_production_exception",
        "2026-11-03T15:50+03:00",
        15,
        "2026-11-05T09:05+03:00",
    ),
    (
        "exception keeps its lunch",
        "moscow_production_exception",
        "2026-11-03T12:50+03:00",
        15,
        "2026-11-03T14:05+03:00",
    ),
    # Years ahead: the calendar of 2035–2036 is loaded when the arithmetic reaches it.
    ("years ahead, New Year", "moscow_production", "2035-12-31T16:50+03:00", 15, "2036-01-09T09:05+03:00"),
    (
        "years ahead, ordinary day",
        "moscow_production",
        "2031-03-12T17:50+03:00",
        15,
        "2031-03-13T09:05+03:00",
    ),
    ("24/7 adds exactly", "moscow_24_7", "2026-02-14T11:00+03:00", 15, "2026-02-14T11:15+03:00"),
    ("24/7 across midnight", "moscow_24_7", "2026-02-10T23:55+03:00", 15, "2026-02-11T00:10+03:00"),
    ("24/7 at midnight", "moscow_24_7", "2026-02-11T00:00+03:00", 15, "2026-02-11T00:15+03:00"),
    # DST zones: the weekend hides the transition, the offset changes under us.
    ("New York Fri -> Mon over DST", "new_york_9_19", "2026-03-06T18:55-05:00", 15, "2026-03-09T09:10-04:00"),
    ("Berlin Fri -> Mon spring", "berlin_9_19", "2026-03-27T18:55+01:00", 15, "2026-03-30T09:10+02:00"),
    ("Berlin Fri -> Mon autumn", "berlin_9_19", "2026-10-23T18:55+02:00", 15, "2026-10-26T09:10+01:00"),
    # 24/7 across a transition: real elapsed time, not wall-clock time.
    ("Berlin 24/7 spring forward", "berlin_24_7", "2026-03-29T01:30+01:00", 60, "2026-03-29T03:30+02:00"),
    ("Berlin 24/7 fall back", "berlin_24_7", "2026-10-25T02:30+02:00", 60, "2026-10-25T02:30+01:00"),
    ("Berlin 24/7 midnight, spring", "berlin_24_7", "2026-03-28T23:30+01:00", 60, "2026-03-29T00:30+01:00"),
    ("New York 24/7 spring forward", "new_york_24_7", "2026-03-08T01:30-05:00", 60, "2026-03-08T03:30-04:00"),
    ("New York 24/7 fall back", "new_york_24_7", "2026-11-01T01:30-04:00", 60, "2026-11-01T01:30-05:00"),
    # A 01:00–04:00 window lasts 2 real hours on spring-forward day, 4 on fall-back day.
    ("Berlin night, gap inside", "berlin_night", "2026-03-29T01:30+01:00", 60, "2026-03-29T03:30+02:00"),
    (
        "Berlin night, closes at 04:00",
        "berlin_night",
        "2026-03-29T01:00+01:00",
        120,
        "2026-03-29T04:00+02:00",
    ),
    ("Berlin night, overflow", "berlin_night", "2026-03-29T01:00+01:00", 121, "2026-03-30T01:01+02:00"),
    ("Berlin night, fold inside", "berlin_night", "2026-10-25T01:00+02:00", 180, "2026-10-25T03:00+01:00"),
    ("Berlin night, 4 real hours", "berlin_night", "2026-10-25T01:00+02:00", 240, "2026-10-25T04:00+01:00"),
    ("New York night, gap", "new_york_night", "2026-03-08T01:00-05:00", 120, "2026-03-08T04:00-04:00"),
    ("New York night, fold", "new_york_night", "2026-11-01T01:00-04:00", 240, "2026-11-01T04:00-05:00"),
]


@pytest.mark.parametrize(
    ("schedule_name", "start", "minutes", "expected"),
    [pytest.param(*row[1:], id=row[0]) for row in GOLDEN],
)
def test_golden_add_working_time(schedule_name, start, minutes, expected):
    schedule = SCHEDULES[schedule_name]
    result = add_working_time(schedule, iso(start), dt.timedelta(minutes=minutes))
    assert_same_moment(result, iso(expected), schedule)


@pytest.mark.parametrize(
    ("schedule_name", "start", "minutes", "expected"),
    [pytest.param(*row[1:], id=row[0]) for row in GOLDEN],
)
def test_golden_working_time_between(schedule_name, start, minutes, expected):
    schedule = SCHEDULES[schedule_name]
    assert working_time_between(schedule, iso(start), iso(expected)) == dt.timedelta(minutes=minutes)


def test_the_calendar_data_we_rely_on():
    """Guards the golden table against a changed `holidays` release."""
    overrides = SCHEDULES["moscow"].overrides
    assert overrides[dt.date(2026, 1, 9)] == CLOSED  # transferred day off
    assert overrides[dt.date(2026, 2, 23)] == CLOSED  # public holiday
    assert overrides[dt.date(2025, 11, 1)] == WORKDAY  # transferred working Saturday


def test_yearly_overrides_are_loaded_once_per_year_reached_and_lose_to_explicit_ones():
    asked = []

    def loader(year):
        asked.append(year)
        return {dt.date(year, 3, 4): CLOSED, dt.date(year, 3, 5): ((T(10), T(11)),)}

    schedule = Schedule(MOSCOW, week(WORKDAY), overrides={dt.date(2031, 3, 5): CLOSED}, yearly=loader)
    assert asked == [], "nothing is loaded up front"
    # Tuesday 2030-03-05 has one hour (10–11): 45 minutes from 10:30 run into Wednesday.
    due = add_working_time(schedule, iso("2030-03-05T10:30+03:00"), dt.timedelta(minutes=45))
    assert_same_moment(due, iso("2030-03-06T09:15+03:00"), schedule)
    assert schedule.windows_on(dt.date(2030, 3, 4)) == CLOSED
    assert set(asked) == {2030} and asked.count(2030) == 1, "cached per year"
    assert schedule.windows_on(dt.date(2031, 3, 5)) == CLOSED, "explicit overrides win"
    assert schedule.windows_on(dt.date(2031, 3, 4)) == CLOSED
    assert schedule.override_on(dt.date(2031, 3, 6)) is None
    assert schedule.windows_on(dt.date(2031, 3, 6)) == WORKDAY
    assert sorted(asked) == [2030, 2031]


def test_yearly_overrides_are_validated_when_loaded():
    schedule = Schedule(MOSCOW, week(WORKDAY), yearly=lambda year: {dt.date(year, 1, 2): ((T(14), T(9)),)})
    with pytest.raises(ValueError, match=r"yearly\(2030\) 2030-01-02: window 14:00:00–09:00:00 must start"):
        schedule.windows_on(dt.date(2030, 1, 2))
    with pytest.raises(ValueError, match="yearly must be a callable"):
        Schedule(MOSCOW, week(WORKDAY), yearly={})


# --- the other functions -----------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "working"),
    [
        ("2026-02-10T08:59:59+03:00", False),
        ("2026-02-10T09:00+03:00", True),  # window start counts
        ("2026-02-10T12:59:59.999999+03:00", True),
        ("2026-02-10T13:00+03:00", False),  # window end does not
        ("2026-02-10T13:30+03:00", False),
        ("2026-02-10T14:00+03:00", True),
        ("2026-02-10T19:00+03:00", False),
        ("2026-02-10T06:30+00:00", True),  # 09:30 in Moscow
        ("2026-02-14T11:00+03:00", False),  # Saturday
        ("2026-02-23T11:00+03:00", False),  # holiday
        ("2025-11-01T11:00+03:00", True),  # working Saturday
    ],
)
def test_is_working(moment, working):
    assert is_working(SCHEDULES["moscow"], iso(moment)) is working


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2026-02-10T10:00+03:00", "2026-02-10T10:00+03:00"),
        ("2026-02-10T13:00+03:00", "2026-02-10T14:00+03:00"),
        ("2026-02-10T19:00+03:00", "2026-02-11T09:00+03:00"),
        ("2026-02-13T19:00+03:00", "2026-02-16T09:00+03:00"),
        ("2026-02-10T07:00+00:00", "2026-02-10T10:00+03:00"),
    ],
)
def test_next_working_moment(moment, expected):
    schedule = SCHEDULES["moscow"]
    assert_same_moment(next_working_moment(schedule, iso(moment)), iso(expected), schedule)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2026-02-10T10:00+03:00", "2026-02-10T10:00+03:00"),  # working: start itself
        ("2026-02-10T13:20+03:00", "2026-02-10T14:00+03:00"),  # lunch: the next opening
        ("2026-02-10T19:00+03:00", "2026-02-11T09:00+03:00"),  # closing: the next opening
    ],
)
def test_zero_amount_is_the_next_working_moment(moment, expected):
    schedule = SCHEDULES["moscow"]
    assert_same_moment(add_working_time(schedule, iso(moment), dt.timedelta(0)), iso(expected), schedule)


def test_next_windows_clips_the_current_window():
    schedule = SCHEDULES["moscow"]
    result = next_windows(schedule, iso("2026-02-13T10:00+03:00"), 4)  # a Friday
    expected = [
        ("2026-02-13T10:00+03:00", "2026-02-13T13:00+03:00"),
        ("2026-02-13T14:00+03:00", "2026-02-13T19:00+03:00"),
        ("2026-02-16T09:00+03:00", "2026-02-16T13:00+03:00"),
        ("2026-02-16T14:00+03:00", "2026-02-16T19:00+03:00"),
    ]
    assert len(result) == len(expected)
    for (start, end), (expected_start, expected_end) in zip(result, expected, strict=True):
        assert_same_moment(start, iso(expected_start), schedule)
        assert_same_moment(end, iso(expected_end), schedule)
    assert next_windows(schedule, iso("2026-02-13T10:00+03:00"), 0) == []


def test_bounded_windows_are_clipped_to_both_ends():
    schedule = SCHEDULES["moscow"]
    result = list(windows(schedule, iso("2026-02-10T12:00+03:00"), iso("2026-02-10T15:00+03:00")))
    assert [(utc(s), utc(e)) for s, e in result] == [
        (utc(iso("2026-02-10T12:00+03:00")), utc(iso("2026-02-10T13:00+03:00"))),
        (utc(iso("2026-02-10T14:00+03:00")), utc(iso("2026-02-10T15:00+03:00"))),
    ]
    assert list(windows(schedule, iso("2026-02-10T15:00+03:00"), iso("2026-02-10T12:00+03:00"))) == []


def test_bounded_windows_need_no_working_time():
    closed = Schedule(MOSCOW, (CLOSED,) * 7)
    assert list(windows(closed, iso("2026-01-01T00:00+03:00"), iso("2026-02-01T00:00+03:00"))) == []
    assert working_time_between(closed, iso("2026-01-01T00:00+03:00"), iso("2030-01-01T00:00+03:00")) == (
        dt.timedelta(0)
    )


def test_working_time_between_is_zero_for_empty_or_reversed_ranges():
    schedule = SCHEDULES["moscow"]
    moment = iso("2026-02-10T10:00+03:00")
    assert working_time_between(schedule, moment, moment) == dt.timedelta(0)
    assert working_time_between(schedule, moment, moment - dt.timedelta(hours=1)) == dt.timedelta(0)


@pytest.mark.parametrize(
    ("day", "hours"), [("2026-03-29", 23), ("2026-10-25", 25), ("2026-03-28", 24), ("2026-06-01", 24)]
)
def test_a_24_7_day_in_a_dst_zone_has_its_real_length(day, hours):
    start = dt.datetime.combine(dt.date.fromisoformat(day), T(0), tzinfo=BERLIN)
    end = dt.datetime.combine(dt.date.fromisoformat(day) + dt.timedelta(days=1), T(0), tzinfo=BERLIN)
    assert working_time_between(SCHEDULES["berlin_24_7"], start, end) == dt.timedelta(hours=hours)


def test_a_window_starting_in_the_gap_opens_when_the_clocks_jump():
    schedule = Schedule(BERLIN, (((T(2, 30), T(5)),),) * 7)
    [(start, end)] = next_windows(schedule, iso("2026-03-29T00:00+01:00"), 1)
    assert_same_moment(start, iso("2026-03-29T03:00+02:00"), schedule)
    assert_same_moment(end, iso("2026-03-29T05:00+02:00"), schedule)


def test_a_window_starting_in_the_fold_opens_at_its_first_occurrence():
    schedule = Schedule(BERLIN, (((T(2, 30), T(5)),),) * 7)
    [(start, end)] = next_windows(schedule, iso("2026-10-25T00:00+02:00"), 1)
    assert_same_moment(start, iso("2026-10-25T02:30+02:00"), schedule)
    assert_same_moment(end, iso("2026-10-25T05:00+01:00"), schedule)
    assert working_time_between(schedule, start, end) == dt.timedelta(hours=3, minutes=30)


def test_a_window_wholly_inside_the_gap_is_empty():
    schedule = Schedule(BERLIN, (((T(2, 10), T(2, 50)),),) * 7)
    spring_day = (iso("2026-03-29T00:00+01:00"), iso("2026-03-30T00:00+02:00"))
    assert list(windows(schedule, *spring_day)) == []
    assert working_time_between(schedule, *spring_day) == dt.timedelta(0)
    assert not is_working(schedule, iso("2026-03-29T03:00+02:00"))
    assert working_time_between(schedule, iso("2026-03-28T00:00+01:00"), spring_day[0]) == dt.timedelta(
        minutes=40
    )


def test_a_skipped_calendar_day():
    """Samoa skipped 2011-12-30 entirely (a 24-hour gap): that day holds no working time."""
    apia = ZoneInfo("Pacific/Apia")
    schedule = Schedule(apia, (FULL_DAY,) * 7)
    start = dt.datetime(2011, 12, 29, tzinfo=apia)
    end = dt.datetime(2011, 12, 31, 12, tzinfo=apia)
    assert working_time_between(schedule, start, end) == dt.timedelta(hours=36)
    [(_, first_end), (second_start, second_end)] = next_windows(schedule, start, 2)
    assert first_end.isoformat() == second_start.isoformat() == "2011-12-31T00:00:00+14:00"
    assert second_end.isoformat() == "2012-01-01T00:00:00+14:00"


def test_results_are_in_the_schedule_zone_whatever_the_input_zone():
    schedule = SCHEDULES["moscow"]
    start = dt.datetime(2026, 2, 10, 6, 0, tzinfo=ZoneInfo("America/Los_Angeles"))
    result = add_working_time(schedule, start, dt.timedelta(minutes=15))
    assert result.tzinfo is MOSCOW
    assert next_working_moment(schedule, start).tzinfo is MOSCOW


def test_schedule_normalises_and_copies_its_inputs():
    overrides = {dt.date(2026, 2, 10): [[T(9), T(10)]]}
    schedule = Schedule(MOSCOW, [list(WORKDAY)] * 7, overrides)
    overrides[dt.date(2026, 2, 11)] = ()
    assert schedule.weekly == (WORKDAY,) * 7
    assert dict(schedule.overrides) == {dt.date(2026, 2, 10): ((T(9), T(10)),)}
    with pytest.raises(TypeError):
        schedule.overrides[dt.date(2026, 2, 12)] = ()  # read-only view


# --- errors ------------------------------------------------------------------------


NAIVE = dt.datetime(2026, 2, 10, 10, 0)  # noqa: DTZ001 - deliberately naive
AWARE = dt.datetime(2026, 2, 10, 10, 0, tzinfo=MOSCOW)


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda s: is_working(s, NAIVE), id="is_working"),
        pytest.param(lambda s: windows(s, NAIVE), id="windows-start"),
        pytest.param(lambda s: windows(s, AWARE, NAIVE), id="windows-end"),
        pytest.param(lambda s: next_windows(s, NAIVE, 3), id="next_windows"),
        pytest.param(lambda s: add_working_time(s, NAIVE, dt.timedelta(minutes=1)), id="add"),
        pytest.param(lambda s: working_time_between(s, NAIVE, AWARE), id="between-start"),
        pytest.param(lambda s: working_time_between(s, AWARE, NAIVE), id="between-end"),
        pytest.param(lambda s: next_working_moment(s, NAIVE), id="next_working_moment"),
    ],
)
def test_naive_datetimes_are_rejected_immediately(call):
    with pytest.raises(ValueError, match="timezone-aware"):
        call(SCHEDULES["moscow"])


def test_negative_amount_and_count_are_rejected():
    with pytest.raises(ValueError, match="negative"):
        add_working_time(SCHEDULES["moscow"], AWARE, dt.timedelta(seconds=-1))
    with pytest.raises(ValueError, match="count"):
        next_windows(SCHEDULES["moscow"], AWARE, -1)


def test_an_all_closed_schedule_has_no_working_time():
    closed = Schedule(MOSCOW, (CLOSED,) * 7)
    with pytest.raises(NoWorkingTime):
        add_working_time(closed, AWARE, dt.timedelta(minutes=15))
    with pytest.raises(NoWorkingTime):
        add_working_time(closed, AWARE, dt.timedelta(0))
    with pytest.raises(NoWorkingTime):
        next_working_moment(closed, AWARE)
    with pytest.raises(NoWorkingTime):
        next(windows(closed, AWARE))
    assert issubclass(NoWorkingTime, ValueError)
    assert not is_working(closed, AWARE)
    assert next_windows(closed, AWARE, 5) == []


def test_working_time_beyond_the_horizon_is_not_found_but_within_it_is():
    near = AWARE.date() + dt.timedelta(days=MAX_HORIZON_DAYS - 10)
    far = AWARE.date() + dt.timedelta(days=MAX_HORIZON_DAYS + 10)
    found = Schedule(MOSCOW, (CLOSED,) * 7, {near: WORKDAY})
    assert next_working_moment(found, AWARE).date() == near
    assert len(next_windows(found, AWARE, 5)) == 2  # fewer than asked: the preview does not fail
    with pytest.raises(NoWorkingTime):
        next_working_moment(Schedule(MOSCOW, (CLOSED,) * 7, {far: WORKDAY}), AWARE)


@pytest.mark.parametrize(
    ("weekly", "overrides", "message"),
    [
        ((WORKDAY,) * 6, {}, "7 entries"),
        ((WORKDAY,) * 8, {}, "7 entries"),
        (None, {}, "sequence of 7"),
        (((((T(10), T(9)),),) + (WORKDAY,) * 6), {}, "start before it ends"),
        (((((T(9), T(9)),),) + (WORKDAY,) * 6), {}, "start before it ends"),
        ((((T(14), T(19)), (T(9), T(13))),) * 7, {}, "sorted and non-overlapping"),
        ((((T(9), T(14)), (T(13), T(19))),) * 7, {}, "sorted and non-overlapping"),
        ((((T(22), END_OF_DAY), (T(23), T(23, 30))),) * 7, {}, "sorted and non-overlapping"),
        ((((T(9), T(19, tzinfo=UTC)),),) * 7, {}, "local wall-clock"),
        (((("09:00", "19:00"),),) * 7, {}, "datetime.time"),
        (((T(9), T(19)),) * 7, {}, "pair"),
        ((WORKDAY,) * 7, {dt.date(2026, 1, 1): ((T(19), T(9)),)}, "override 2026-01-01"),
        ((WORKDAY,) * 7, {dt.datetime(2026, 1, 1, tzinfo=UTC): ()}, "datetime.date"),
        ((WORKDAY,) * 7, {"2026-01-01": ()}, "datetime.date"),
    ],
)
def test_invalid_schedules_are_rejected(weekly, overrides, message):
    with pytest.raises(ValueError, match=message):
        Schedule(MOSCOW, weekly, overrides)


def test_valid_edge_windows_are_accepted():
    # Touching windows, a 24:00 end, a whole day, a night shift split at midnight.
    Schedule(MOSCOW, (((T(9), T(13)), (T(13), T(19))),) * 7)
    Schedule(MOSCOW, (((T(22), END_OF_DAY),),) * 7)
    Schedule(MOSCOW, (FULL_DAY,) * 7)
    Schedule(MOSCOW, (((T(0), T(6)), (T(22), END_OF_DAY)),) * 7)
    with pytest.raises(ValueError, match="tzinfo"):
        Schedule("Europe/Moscow", (WORKDAY,) * 7)


# --- performance -------------------------------------------------------------------


def test_100_working_hours_is_fast():
    """Jumping windows, not minutes: 100 hours on a 9–19 calendar is ~2 weeks of windows."""
    schedule = SCHEDULES["berlin_9_19"]
    start = iso("2026-03-20T18:55+01:00")
    best = float("inf")
    for _ in range(5):
        began = time.perf_counter()
        result = add_working_time(schedule, start, dt.timedelta(hours=100))
        best = min(best, time.perf_counter() - began)
    assert working_time_between(schedule, start, result) == dt.timedelta(hours=100)
    assert best < 0.05, f"add_working_time(100 h) took {best * 1000:.1f} ms"


# --- properties --------------------------------------------------------------------

PROPERTY_ZONES = [
    "Europe/Moscow",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",  # a 30-minute DST shift
    "Asia/Kathmandu",  # a +05:45 offset
    "UTC",
]
DST_FREE_ZONES = ["Europe/Moscow", "Asia/Kathmandu", "UTC"]
# Instants near the 2026 transitions of the zones above, so DST days come up often.
TRANSITIONS = [
    dt.datetime(2026, 3, 8, 7, tzinfo=UTC),
    dt.datetime(2026, 3, 29, 1, tzinfo=UTC),
    dt.datetime(2026, 4, 4, 15, tzinfo=UTC),
    dt.datetime(2026, 10, 3, 15, 30, tzinfo=UTC),
    dt.datetime(2026, 10, 25, 1, tzinfo=UTC),
    dt.datetime(2026, 11, 1, 6, tzinfo=UTC),
]
RANGE_START = dt.datetime(2025, 7, 1, tzinfo=UTC)
RANGE_SECONDS = 2 * 365 * 86400
DAY_SECONDS = 86400

# Strategies are built once, at import: building them inside @composite functions on
# every draw costs Hypothesis far more time than the code under test.


def _seconds_to_time(seconds: int) -> dt.time:
    if seconds == DAY_SECONDS:
        return END_OF_DAY
    return dt.time(seconds // 3600, seconds % 3600 // 60, seconds % 60)


def _pair_up(points: list[int]) -> tuple:
    """Sorted distinct boundaries -> 0–3 sorted, non-overlapping windows."""
    ordered = sorted(set(points))
    return tuple(
        (_seconds_to_time(ordered[i]), _seconds_to_time(ordered[i + 1]))
        for i in range(0, len(ordered) - 1, 2)
    )


_QUARTER_HOURS = st.integers(0, 96).map(lambda q: q * 900)
_DST_MINUTES = st.integers(60, 240).map(lambda m: m * 60)  # 01:00–04:00, where gaps and folds live
DAY_WINDOWS = {
    # resolution in seconds -> windows of one day
    1: st.lists(st.one_of(st.integers(0, DAY_SECONDS), _QUARTER_HOURS, _DST_MINUTES), max_size=6).map(
        _pair_up
    ),
    60: st.lists(
        st.one_of(st.integers(0, DAY_SECONDS // 60).map(lambda m: m * 60), _QUARTER_HOURS, _DST_MINUTES),
        max_size=6,
    ).map(_pair_up),
}
OVERRIDE_DATES = st.dates(min_value=dt.date(2025, 6, 1), max_value=dt.date(2027, 12, 31))
WEEKLY = {resolution: st.lists(day, min_size=7, max_size=7) for resolution, day in DAY_WINDOWS.items()}
OVERRIDES = {
    resolution: st.dictionaries(OVERRIDE_DATES, day, max_size=10) for resolution, day in DAY_WINDOWS.items()
}
ALL_ZONES = st.sampled_from([ZoneInfo(name) for name in PROPERTY_ZONES])
DST_FREE = st.sampled_from([ZoneInfo(name) for name in DST_FREE_ZONES])
START_INSTANTS = st.one_of(
    st.builds(
        lambda anchor, seconds: anchor + dt.timedelta(seconds=seconds),
        st.sampled_from(TRANSITIONS),
        st.integers(-3 * DAY_SECONDS, 3 * DAY_SECONDS),
    ),
    st.integers(0, RANGE_SECONDS).map(lambda s: RANGE_START + dt.timedelta(seconds=s)),
)


def _weekly_seconds(weekly) -> int:
    def seconds(t: dt.time) -> int:
        return t.hour * 3600 + t.minute * 60 + t.second

    return sum(
        (DAY_SECONDS if end == END_OF_DAY else seconds(end)) - seconds(start)
        for day in weekly
        for start, end in day
    )


@st.composite
def schedules(draw, zones=ALL_ZONES, resolution=1):
    """Random weekly windows (empty days included) and random overrides."""
    weekly = draw(WEEKLY[resolution])
    # At least an hour a week keeps "10 working hours" within months, not centuries.
    if _weekly_seconds(weekly) < 3600:
        weekly[0] = ((T(9), T(17)),)
    return Schedule(draw(zones), tuple(weekly), draw(OVERRIDES[resolution]))


@st.composite
def starts(draw, whole_minutes=False):
    """An aware start: an instant near a DST transition or anywhere, shown in a random zone."""
    instant = draw(START_INSTANTS)
    if whole_minutes:
        instant = instant.replace(second=0)
    return instant.astimezone(draw(ALL_ZONES))


amounts = st.integers(0, 10 * 3600).map(lambda s: dt.timedelta(seconds=s))
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)


def _assert_working_or_window_end(schedule: Schedule, moment: dt.datetime) -> None:
    if is_working(schedule, moment):
        return
    nearby = windows(schedule, utc(moment) - dt.timedelta(days=2), utc(moment) + dt.timedelta(seconds=1))
    assert any(utc(window_end) == utc(moment) for _, window_end in nearby), moment.isoformat()


# One test checks several laws on each drawn example: drawing random schedules is what
# costs time here, not the arithmetic, so sharing the draws buys more examples per second.
@PROPERTY_SETTINGS
@given(schedules(), starts(), amounts, amounts)
def test_property_add_working_time_laws(schedule, start, first, second):
    smaller, larger = sorted((first, second))
    near = add_working_time(schedule, start, smaller)
    far = add_working_time(schedule, start, larger)
    for amount, end in ((smaller, near), (larger, far)):
        assert end.tzinfo is schedule.tz
        assert utc(end) >= utc(start)
        # (a) working_time_between inverts add_working_time.
        assert working_time_between(schedule, start, end) == amount
        # (c) a deadline is working time or a window's end (zero gives the next working moment).
        if not amount:
            assert is_working(schedule, end)
        _assert_working_or_window_end(schedule, end)
    # (b) monotonic in the amount.
    assert utc(near) <= utc(far)
    # Adding in two steps equals adding once (the second step must be positive: adding
    # zero at a window's end would move on to the next opening).
    if larger:
        assert utc(add_working_time(schedule, near, larger)) == utc(
            add_working_time(schedule, start, smaller + larger)
        )


@PROPERTY_SETTINGS
@given(schedules(), starts())
def test_property_windows_are_ordered_disjoint_and_working(schedule, start):
    found = next_windows(schedule, start, 12)
    assert len(found) == 12  # every generated schedule works at least an hour a week
    assert utc(found[0][0]) >= utc(start)
    previous_end = None
    for window_start, window_end in found:
        assert utc(window_start) < utc(window_end)
        assert previous_end is None or utc(previous_end) <= utc(window_start)
        assert is_working(schedule, window_start)
        assert is_working(schedule, utc(window_end) - dt.timedelta(microseconds=1))
        previous_end = window_end
    assert_same_moment(next_working_moment(schedule, start), found[0][0], schedule)


def _oracle_working_minutes(schedule: Schedule, start: dt.datetime, end: dt.datetime) -> int:
    """Brute force for DST-free zones: count minutes whose local wall time is in a window."""
    count = 0
    moment = start
    while moment < end:
        local = moment.astimezone(schedule.tz)
        offset = local.hour * 60 + local.minute
        for window_start, window_end in schedule.windows_on(local.date()):
            end_minutes = 24 * 60 if window_end == END_OF_DAY else window_end.hour * 60 + window_end.minute
            if window_start.hour * 60 + window_start.minute <= offset < end_minutes:
                count += 1
                break
        moment += dt.timedelta(minutes=1)
    return count


@settings(max_examples=60, deadline=None)
@given(
    schedules(zones=DST_FREE, resolution=60),
    starts(whole_minutes=True),
    st.integers(0, 3 * 24 * 60),
)
def test_property_matches_a_minute_by_minute_oracle(schedule, start, span_minutes):
    start = utc(start)
    end = start + dt.timedelta(minutes=span_minutes)
    expected = _oracle_working_minutes(schedule, start, end)
    assert working_time_between(schedule, start, end) == dt.timedelta(minutes=expected)
    assert is_working(schedule, start) == (
        _oracle_working_minutes(schedule, start, start + dt.timedelta(minutes=1)) == 1
    )


@contextlib.contextmanager
def process_time_zone(name: str):
    """Switch the process's local time zone (what naive local conversions would use)."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = name
    time.tzset()
    try:
        yield
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()


@settings(max_examples=50, deadline=None)
@given(schedules(), starts(), amounts)
def test_property_independent_of_the_process_time_zone(schedule, start, amount):
    def compute():
        end = add_working_time(schedule, start, amount)
        return (
            utc(end),
            working_time_between(schedule, start, end + dt.timedelta(hours=5)),
            is_working(schedule, start),
            [(utc(s), utc(e)) for s, e in next_windows(schedule, start, 3)],
        )

    baseline = compute()
    for name in ("Asia/Kamchatka", "America/Los_Angeles", "Europe/Berlin"):
        with process_time_zone(name):
            assert compute() == baseline
