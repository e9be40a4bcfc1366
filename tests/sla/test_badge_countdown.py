"""The badge's live countdown: what the browser is told about a running clock
(how long it runs on without a stop, what it says once it pauses)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from sla.display import NO_STOP_SECONDS, badge_for
from sla.models import BusinessCalendar, SlaTimer, TimerKind, TimerState, WorkingHours

MSK = ZoneInfo("Europe/Moscow")
pytestmark = pytest.mark.django_db


@pytest.fixture
def nine_to_six():
    calendar = BusinessCalendar.objects.create(
        code="t-9-18", name="9–18", timezone="Europe/Moscow", holiday_country=""
    )
    for weekday in range(5):
        WorkingHours.objects.create(calendar=calendar, weekday=weekday, opens=dt.time(9), closes=dt.time(18))
    return calendar


def _timer(calendar, due_at, kind=TimerKind.FIRST_CONTACT, state=TimerState.RUNNING):
    return SlaTimer(
        kind=kind, state=state, calendar=calendar, due_at=due_at, budget_seconds=900, started_at=due_at
    )


def test_a_clock_inside_the_working_day_runs_until_the_day_ends_then_says_when_it_resumes(nine_to_six):
    now = dt.datetime(2026, 12, 2, 17, 50, tzinfo=MSK)  # Wednesday, 10 minutes before closing
    due = dt.datetime(2026, 12, 3, 9, 5, tzinfo=MSK)  # 15 working minutes after 17:50
    with translation.override("en"):
        badge = badge_for([_timer(nine_to_six, due)], now)
    assert badge.state == "ok"
    assert badge.text == "15 min left"
    assert badge.left_seconds == 900
    assert badge.runs_for == 600  # the day ends at 18:00
    assert badge.paused_text == "5 min left · paused until Thu 09:00"
    assert badge.budget == 900


def test_a_clock_due_before_the_day_ends_runs_on_without_a_pause_text(nine_to_six):
    now = dt.datetime(2026, 12, 2, 11, 0, tzinfo=MSK)
    badge = badge_for([_timer(nine_to_six, now + dt.timedelta(minutes=4))], now)
    assert badge.state == "at_risk"
    assert badge.runs_for == 7 * 3600  # until 18:00; the deadline comes first
    assert badge.paused_text == ""


def test_outside_working_hours_the_badge_does_not_count(nine_to_six):
    now = dt.datetime(2026, 12, 2, 20, 0, tzinfo=MSK)
    badge = badge_for([_timer(nine_to_six, dt.datetime(2026, 12, 3, 9, 15, tzinfo=MSK))], now)
    assert badge.state == "paused"
    assert badge.runs_for == 0  # the template draws no countdown data


def test_an_around_the_clock_calendar_runs_through_midnight():
    now = dt.datetime(2026, 12, 2, 23, 55, tzinfo=MSK)
    badge = badge_for([_timer(None, now + dt.timedelta(minutes=15))], now)
    assert badge.runs_for == NO_STOP_SECONDS
    assert badge.paused_text == ""


def test_a_missed_first_contact_counts_up_until_the_day_ends(nine_to_six):
    now = dt.datetime(2026, 12, 2, 17, 0, tzinfo=MSK)
    with translation.override("en"):
        badge = badge_for(
            [_timer(nine_to_six, now - dt.timedelta(minutes=7), state=TimerState.BREACHED)], now
        )
    assert badge.state == "overdue"
    assert badge.text == "missed 7 min ago"
    assert badge.left_seconds == -420
    assert badge.runs_for == 3600


def test_a_callback_counts_clock_time(nine_to_six):
    now = dt.datetime(2026, 12, 2, 17, 55, tzinfo=MSK)
    badge = badge_for([_timer(nine_to_six, now + dt.timedelta(minutes=30), kind=TimerKind.CALLBACK)], now)
    assert badge.runs_for == NO_STOP_SECONDS
    assert badge.paused_text == ""
