"""The SLA clock (sla/clock.py): deadlines in working time, policies, recomputation,
callbacks, meeting and cancelling timers, time left.

Unless a test says otherwise, the clock is frozen at Wednesday 2026-02-11 11:00 in
Moscow, an ordinary working day, and teams have no calendar of their own, so they
work the default calendar seeded by the migration sla/0002: Europe/Moscow, Mon–Fri
09:00–13:00 and 14:00–18:00, Russian public holidays and transfers, and the default
policy (15 working minutes, reminder at 67 %).
"""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from leads.models import ContactAttempt
from revops.roles import Role
from sla.clock import (
    cancel_timers,
    first_contact_time_left,
    meet_timers,
    policy_for,
    recompute_running,
    start_callback_timer,
    start_first_contact_timer,
)
from sla.models import BusinessCalendar, SlaPolicy, SlaTimer, TimerKind, TimerState
from tests.factories import (
    LeadFactory,
    ProductFactory,
    SegmentFactory,
    SourceFactory,
    TeamFactory,
    UserFactory,
    make_calendar,
)

pytestmark = pytest.mark.django_db

MOSCOW = ZoneInfo("Europe/Moscow")
YEKATERINBURG = ZoneInfo("Asia/Yekaterinburg")  # UTC+5, two hours ahead of Moscow


def msk(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=MOSCOW)


WED_11 = msk(2026, 2, 11, 11, 0)


@pytest.fixture(autouse=True)
def clock(db):
    with time_machine.travel(WED_11, tick=False) as traveller:
        yield traveller


@pytest.fixture
def default_policy():
    return SlaPolicy.objects.get(is_default=True)


@pytest.fixture
def urals_calendar():
    """Yekaterinburg, Mon–Fri 10:00–19:00 without a lunch break or public holidays."""
    return make_calendar("urals", "Asia/Yekaterinburg", [(dt.time(10), dt.time(19))])


@pytest.fixture
def around_the_clock():
    """Every day 00:00–24:00 (closing at 00:00 means midnight), no holidays."""
    return make_calendar("24x7", "UTC", [(dt.time(0), dt.time(0))], weekdays=range(7))


def attempt(lead, made_at, callback_at):
    return ContactAttempt.objects.create(
        lead=lead, channel="call", outcome="no_answer", made_at=made_at, callback_at=callback_at
    )


# --- deadlines on the default calendar ---------------------------------------------------------

DEFAULT_CALENDAR_GOLDEN = [
    # arrival (Moscow)              due (Moscow)                    why
    (msk(2026, 2, 11, 11, 0), msk(2026, 2, 11, 11, 15), "inside the morning window"),
    (msk(2026, 2, 11, 12, 50), msk(2026, 2, 11, 14, 5), "across the lunch break"),
    (msk(2026, 2, 11, 13, 20), msk(2026, 2, 11, 14, 15), "during lunch"),
    (msk(2026, 2, 11, 7, 0), msk(2026, 2, 11, 9, 15), "before opening"),
    (msk(2026, 2, 11, 17, 55), msk(2026, 2, 12, 9, 10), "five minutes before closing"),
    (msk(2026, 2, 11, 19, 30), msk(2026, 2, 12, 9, 15), "in the evening"),
    (msk(2026, 2, 13, 17, 50), msk(2026, 2, 16, 9, 5), "Friday evening to Monday"),
    (msk(2026, 2, 14, 12, 0), msk(2026, 2, 16, 9, 15), "on Saturday"),
    (msk(2026, 2, 20, 17, 55), msk(2026, 2, 24, 9, 10), "Monday 23 February is a public holiday"),
    (msk(2026, 1, 5, 10, 0), msk(2026, 1, 12, 9, 15), "New Year holidays and the transferred 9 January"),
]


@pytest.mark.parametrize(
    ("arrival", "due"),
    [row[:2] for row in DEFAULT_CALENDAR_GOLDEN],
    ids=[row[2] for row in DEFAULT_CALENDAR_GOLDEN],
)
def test_it_computes_the_deadline_in_working_time_on_the_default_calendar(arrival, due):
    lead = LeadFactory()

    timer = start_first_contact_timer(lead, arrival)

    timer.refresh_from_db()  # stored, not computed on the fly
    assert timer.due_at == due
    assert timer.started_at == arrival
    assert timer.kind == TimerKind.FIRST_CONTACT
    assert timer.state == TimerState.RUNNING
    assert timer.budget_seconds == 15 * 60
    assert timer.calendar == BusinessCalendar.objects.get(code="default")
    assert timer.policy == SlaPolicy.objects.get(is_default=True)


def test_it_sets_the_reminder_at_the_policys_share_of_the_working_time():
    lead = LeadFactory()

    timer = start_first_contact_timer(lead, msk(2026, 2, 11, 11, 0))

    # 67 % of 15 minutes = 603 working seconds.
    assert timer.remind_at == msk(2026, 2, 11, 11, 10, 3)


def test_the_reminder_also_counts_working_time_only():
    lead = LeadFactory()

    timer = start_first_contact_timer(lead, msk(2026, 2, 11, 12, 50))

    # Ten minutes before lunch, the remaining 3 seconds after it.
    assert timer.remind_at == msk(2026, 2, 11, 14, 0, 3)
    assert timer.due_at == msk(2026, 2, 11, 14, 5)


@pytest.mark.parametrize(("percent", "remind_at"), [(50, msk(2026, 2, 11, 11, 7, 30)), (0, None)])
def test_the_reminder_follows_the_policy_and_zero_turns_it_off(default_policy, percent, remind_at):
    default_policy.reminder_percent = percent
    default_policy.save()

    timer = start_first_contact_timer(LeadFactory(), WED_11)

    assert timer.remind_at == remind_at
    assert timer.due_at == msk(2026, 2, 11, 11, 15)


def test_a_team_calendar_is_used_instead_of_the_default_one(urals_calendar):
    team = TeamFactory(code="urals", calendar=urals_calendar)
    lead = LeadFactory(team=team)

    # 17:55 in Moscow is 19:55 in Yekaterinburg: the team's day is over; it opens at
    # 10:00 local (08:00 Moscow), so the deadline is 10:15 local.
    timer = start_first_contact_timer(lead, msk(2026, 2, 11, 17, 55))

    assert timer.calendar == urals_calendar
    assert timer.due_at == dt.datetime(2026, 2, 12, 10, 15, tzinfo=YEKATERINBURG)


def test_a_team_calendar_without_holidays_works_on_public_holidays(urals_calendar):
    team = TeamFactory(code="urals", calendar=urals_calendar)

    # Monday 23 February: a holiday in Russia, but this calendar has no holiday country.
    timer = start_first_contact_timer(LeadFactory(team=team), msk(2026, 2, 23, 11, 0))

    assert timer.due_at == msk(2026, 2, 23, 11, 15)


@pytest.mark.parametrize(
    "start",
    [
        msk(2026, 2, 11, 11, 0),
        msk(2026, 2, 14, 3, 0),  # Saturday night
        msk(2026, 2, 23, 23, 50),  # a Russian holiday, across midnight
        msk(2026, 1, 1, 0, 0),
    ],
)
def test_a_round_the_clock_calendar_gives_start_plus_the_budget(around_the_clock, default_policy, start):
    default_policy.first_contact_seconds = 3600
    default_policy.save()
    team = TeamFactory(code="night-shift", calendar=around_the_clock)

    timer = start_first_contact_timer(LeadFactory(team=team), start)

    assert timer.due_at == start + dt.timedelta(hours=1)
    assert timer.remind_at == start + dt.timedelta(seconds=3600 * 67 / 100)


def test_a_lead_taken_in_gets_its_deadline_on_the_calendar_of_the_team_it_was_routed_to(
    around_the_clock, clock
):
    from leads.intake import Submission, take_lead

    night = TeamFactory(code="night-shift", calendar=around_the_clock)  # the only sales team
    UserFactory(username="night_rep", role=Role.REP, team=night)
    clock.move_to(msk(2026, 2, 11, 19, 30))  # the default calendar is closed

    outcome = take_lead(Submission(source=SourceFactory(), channel="form", phone="+79161112233", name="Анна"))

    timer = SlaTimer.objects.get(lead_id=outcome.lead_id)
    assert timer.lead.team == night
    assert timer.calendar == around_the_clock
    assert timer.started_at == msk(2026, 2, 11, 19, 30)
    assert timer.due_at == msk(2026, 2, 11, 19, 45)


# --- which policy applies -------------------------------------------------------------------------


@pytest.fixture
def segment():
    return SegmentFactory(code="enterprise")


@pytest.fixture
def source():
    return SourceFactory(code="site")


@pytest.fixture
def product():
    return ProductFactory(code="crm")


def policy(name, position=10, seconds=600, **conditions):
    return SlaPolicy.objects.create(name=name, position=position, first_contact_seconds=seconds, **conditions)


@pytest.mark.parametrize("condition", ["segment", "source", "product", "priority"])
def test_a_policy_matching_one_condition_applies(request, condition):
    value = "urgent" if condition == "priority" else request.getfixturevalue(condition)
    specific = policy(f"by {condition}", seconds=300, **{condition: value})
    matching = LeadFactory(**{condition: value})
    other = LeadFactory()

    assert policy_for(matching) == specific
    assert policy_for(other) == SlaPolicy.objects.get(is_default=True)
    timer = start_first_contact_timer(matching, WED_11)
    assert timer.policy == specific
    assert timer.budget_seconds == 300
    assert timer.due_at == msk(2026, 2, 11, 11, 5)


def test_every_filled_condition_must_match(segment, source):
    both = policy("enterprise from the site", segment=segment, source=source)

    assert policy_for(LeadFactory(segment=segment, source=source)) == both
    assert policy_for(LeadFactory(segment=segment)).is_default
    assert policy_for(LeadFactory(source=source)).is_default


def test_the_first_matching_policy_by_position_wins(segment, source):
    policy("by source, second", position=20, source=source)
    first = policy("by segment, first", position=5, segment=segment)  # created later, placed earlier
    lead = LeadFactory(segment=segment, source=source)

    assert policy_for(lead) == first


def test_on_equal_positions_the_older_policy_wins(segment, source):
    older = policy("older", position=5, source=source)
    policy("newer", position=5, segment=segment)

    assert policy_for(LeadFactory(segment=segment, source=source)) == older


def test_an_inactive_policy_is_ignored(segment):
    policy("switched off", segment=segment, is_active=False)

    assert policy_for(LeadFactory(segment=segment)).is_default


def test_the_default_policy_catches_the_rest_even_when_placed_first(default_policy, segment):
    default_policy.position = 0
    default_policy.save()
    specific = policy("enterprise", position=50, segment=segment)

    assert policy_for(LeadFactory(segment=segment)) == specific
    assert policy_for(LeadFactory()) == default_policy


# --- recomputation when the team changes ----------------------------------------------------------


def test_moving_the_lead_to_a_team_with_another_calendar_recomputes_the_running_timer(around_the_clock):
    lead = LeadFactory(team=TeamFactory(code="moscow"))
    earlier = start_first_contact_timer(lead, msk(2026, 2, 4, 19, 30))
    SlaTimer.objects.filter(pk=earlier.pk).update(
        state=TimerState.BREACHED, breached_at=msk(2026, 2, 5, 9, 15)
    )
    running = start_first_contact_timer(lead, msk(2026, 2, 11, 19, 30))
    assert running.due_at == msk(2026, 2, 12, 9, 15)

    lead.team = TeamFactory(code="night-shift", calendar=around_the_clock)
    lead.save()
    changed = recompute_running(SlaTimer.objects.filter(lead=lead))

    assert changed == 1
    running.refresh_from_db()
    assert running.due_at == msk(2026, 2, 11, 19, 45)
    assert running.remind_at == msk(2026, 2, 11, 19, 40, 3)
    assert running.calendar == around_the_clock
    assert running.started_at == msk(2026, 2, 11, 19, 30)  # the clock still runs from arrival
    earlier.refresh_from_db()
    assert (earlier.state, earlier.due_at) == (TimerState.BREACHED, msk(2026, 2, 5, 9, 15))
    assert earlier.calendar == BusinessCalendar.objects.get(code="default")


def test_met_and_cancelled_timers_are_history_and_never_recomputed(around_the_clock):
    lead = LeadFactory(team=TeamFactory(code="moscow"))
    met = start_first_contact_timer(lead, msk(2026, 2, 11, 19, 30))
    meet_timers(lead, [TimerKind.FIRST_CONTACT], msk(2026, 2, 12, 9, 0))
    callback = start_callback_timer(
        lead, attempt(lead, msk(2026, 2, 11, 19, 35), msk(2026, 2, 13, 12, 0)), msk(2026, 2, 13, 12, 0)
    )

    lead.team = TeamFactory(code="night-shift", calendar=around_the_clock)
    lead.save()

    assert recompute_running(SlaTimer.objects.filter(lead=lead)) == 0
    met.refresh_from_db()
    assert (met.state, met.due_at) == (TimerState.MET, msk(2026, 2, 12, 9, 15))
    callback.refresh_from_db()
    assert callback.due_at == msk(2026, 2, 13, 12, 0)  # an agreed moment, not working time


def test_recomputing_unchanged_inputs_changes_nothing():
    lead = LeadFactory(team=TeamFactory(code="moscow"))
    start_first_contact_timer(lead, WED_11)

    assert recompute_running(SlaTimer.objects.filter(lead=lead)) == 0


def test_a_head_handing_the_lead_to_another_team_moves_its_deadline(around_the_clock):
    from leads.assignment import assign_manually

    moscow = TeamFactory(code="moscow")
    night_rep = UserFactory(
        username="night_rep", role=Role.REP, team=TeamFactory(code="night-shift", calendar=around_the_clock)
    )
    admin = UserFactory(username="admin", role=Role.ADMIN)
    lead = LeadFactory(team=moscow, created_at=msk(2026, 2, 11, 10, 0))
    timer = start_first_contact_timer(lead, msk(2026, 2, 11, 19, 30))

    assign_manually(lead, night_rep, admin, at=msk(2026, 2, 11, 19, 35))

    timer.refresh_from_db()
    assert timer.due_at == msk(2026, 2, 11, 19, 45)
    assert timer.calendar == around_the_clock


# --- callbacks ----------------------------------------------------------------------------------


def test_a_callback_is_due_at_the_agreed_moment_even_outside_working_hours():
    lead = LeadFactory()
    saturday_noon = msk(2026, 2, 14, 12, 0)
    call = attempt(lead, WED_11, saturday_noon)

    timer = start_callback_timer(lead, call, saturday_noon)

    timer.refresh_from_db()
    assert timer.kind == TimerKind.CALLBACK
    assert timer.state == TimerState.RUNNING
    assert timer.due_at == saturday_noon
    assert timer.started_at == WED_11
    assert timer.attempt == call
    assert timer.budget_seconds == int((saturday_noon - WED_11).total_seconds())


def test_a_new_callback_cancels_the_previous_running_one_and_nothing_else():
    lead = LeadFactory()
    first_contact = start_first_contact_timer(lead, msk(2026, 2, 11, 10, 50))
    first = start_callback_timer(
        lead, attempt(lead, WED_11, msk(2026, 2, 12, 10, 0)), msk(2026, 2, 12, 10, 0)
    )
    later = msk(2026, 2, 11, 11, 30)

    second = start_callback_timer(
        lead, attempt(lead, later, msk(2026, 2, 12, 15, 0)), msk(2026, 2, 12, 15, 0)
    )

    first.refresh_from_db()
    assert (first.state, first.cancelled_at) == (TimerState.CANCELLED, later)
    assert second.state == TimerState.RUNNING
    assert second.due_at == msk(2026, 2, 12, 15, 0)
    first_contact.refresh_from_db()
    assert first_contact.state == TimerState.RUNNING
    running = SlaTimer.objects.filter(lead=lead, kind=TimerKind.CALLBACK, state=TimerState.RUNNING)
    assert list(running) == [second]


# --- meeting and cancelling -----------------------------------------------------------------------


def test_meeting_changes_only_running_timers_of_the_given_kinds():
    lead = LeadFactory()
    first_contact = start_first_contact_timer(lead, WED_11)
    callback = start_callback_timer(
        lead, attempt(lead, WED_11, msk(2026, 2, 12, 10, 0)), msk(2026, 2, 12, 10, 0)
    )
    reached = msk(2026, 2, 11, 11, 10)

    assert meet_timers(lead, [TimerKind.FIRST_CONTACT], reached) == 1

    first_contact.refresh_from_db()
    assert (first_contact.state, first_contact.met_at) == (TimerState.MET, reached)
    callback.refresh_from_db()
    assert callback.state == TimerState.RUNNING
    # Met once; meeting again changes nothing and keeps the first time.
    assert meet_timers(lead, [TimerKind.FIRST_CONTACT], msk(2026, 2, 11, 11, 12)) == 0
    first_contact.refresh_from_db()
    assert first_contact.met_at == reached


def test_a_breached_timer_stays_breached_after_a_late_contact():
    lead = LeadFactory()
    timer = start_first_contact_timer(lead, WED_11)
    SlaTimer.objects.filter(pk=timer.pk).update(state=TimerState.BREACHED, breached_at=timer.due_at)

    assert meet_timers(lead, [TimerKind.FIRST_CONTACT], msk(2026, 2, 11, 11, 40)) == 0  # none was met
    meet_timers(lead, [TimerKind.FIRST_CONTACT], msk(2026, 2, 11, 12, 0))

    timer.refresh_from_db()
    assert (timer.state, timer.breached_at) == (TimerState.BREACHED, msk(2026, 2, 11, 11, 15))
    # The late contact is recorded as when the breach was handled, once.
    assert timer.met_at == msk(2026, 2, 11, 11, 40)


def test_cancelling_ends_every_running_timer_of_the_lead_only(clock):
    lead = LeadFactory()
    other_lead = LeadFactory()
    met = start_first_contact_timer(lead, msk(2026, 2, 10, 11, 0))
    meet_timers(lead, [TimerKind.FIRST_CONTACT], msk(2026, 2, 10, 11, 5))
    callback = start_callback_timer(
        lead, attempt(lead, WED_11, msk(2026, 2, 12, 10, 0)), msk(2026, 2, 12, 10, 0)
    )
    others = start_first_contact_timer(other_lead, WED_11)
    clock.move_to(msk(2026, 2, 11, 11, 20))

    assert cancel_timers(lead) == 1

    callback.refresh_from_db()
    assert (callback.state, callback.cancelled_at) == (TimerState.CANCELLED, msk(2026, 2, 11, 11, 20))
    met.refresh_from_db()
    assert (met.state, met.cancelled_at) == (TimerState.MET, None)
    others.refresh_from_db()
    assert others.state == TimerState.RUNNING


def test_cancelling_takes_an_explicit_moment():
    lead = LeadFactory()
    timer = start_first_contact_timer(lead, WED_11)
    at = msk(2026, 2, 11, 11, 3)

    assert cancel_timers(lead, at) == 1

    timer.refresh_from_db()
    assert timer.cancelled_at == at


# --- time left ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "left"),
    [
        (msk(2026, 2, 11, 11, 0), dt.timedelta(minutes=15)),
        (msk(2026, 2, 11, 11, 5), dt.timedelta(minutes=10)),
        (msk(2026, 2, 11, 11, 15), dt.timedelta(0)),
        (msk(2026, 2, 11, 12, 55), -dt.timedelta(minutes=100)),
        (msk(2026, 2, 11, 13, 30), -dt.timedelta(minutes=105)),  # lunch does not count
        (msk(2026, 2, 11, 14, 10), -dt.timedelta(minutes=115)),
    ],
)
def test_time_left_is_working_time_and_negative_when_overdue(at, left):
    lead = LeadFactory()
    start_first_contact_timer(lead, WED_11)

    assert first_contact_time_left(lead, at) == left


def test_time_left_runs_across_the_night():
    lead = LeadFactory()
    start_first_contact_timer(lead, msk(2026, 2, 11, 17, 55))  # due Thursday 09:10

    assert first_contact_time_left(lead, msk(2026, 2, 11, 18, 30)) == dt.timedelta(minutes=10)


def test_there_is_no_time_left_without_a_running_first_contact_timer():
    lead = LeadFactory()
    assert first_contact_time_left(lead, WED_11) is None

    start_callback_timer(lead, attempt(lead, WED_11, msk(2026, 2, 12, 10, 0)), msk(2026, 2, 12, 10, 0))
    assert first_contact_time_left(lead, WED_11) is None

    start_first_contact_timer(lead, WED_11)
    meet_timers(lead, [TimerKind.FIRST_CONTACT], msk(2026, 2, 11, 11, 5))
    assert first_contact_time_left(lead, msk(2026, 2, 11, 11, 6)) is None


def test_editing_a_calendar_in_the_admin_moves_its_running_deadlines(client, db):
    import datetime as dt

    import time_machine

    from revops.roles import Role
    from sla.clock import start_first_contact_timer
    from sla.models import BusinessCalendar
    from tests.factories import LeadFactory, TeamFactory, UserFactory

    calendar = BusinessCalendar.objects.get(code="default")
    team = TeamFactory(calendar=calendar)
    admin = UserFactory(username="cal_admin", role=Role.ADMIN)
    arrival = dt.datetime(2026, 11, 25, 9, 50, tzinfo=dt.UTC)  # Wednesday 12:50 Moscow
    lead = LeadFactory(team=team, created_at=arrival)
    with time_machine.travel(arrival, tick=False):
        timer = start_first_contact_timer(lead, arrival)
    assert timer.due_at == dt.datetime(2026, 11, 25, 11, 5, tzinfo=dt.UTC)  # lunch 13–14 in between
    hours = list(calendar.hours.order_by("weekday", "opens").values("id", "weekday", "opens", "closes"))
    data = {
        "code": calendar.code,
        "name": calendar.name,
        "timezone": calendar.timezone,
        "holiday_country": "RU",
        "hours-TOTAL_FORMS": str(len(hours)),
        "hours-INITIAL_FORMS": str(len(hours)),
        "hours-MIN_NUM_FORMS": "0",
        "hours-MAX_NUM_FORMS": "1000",
        "exceptions-TOTAL_FORMS": "0",
        "exceptions-INITIAL_FORMS": "0",
        "exceptions-MIN_NUM_FORMS": "0",
        "exceptions-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(hours):
        data.update(
            {
                f"hours-{i}-id": row["id"],
                f"hours-{i}-calendar": calendar.pk,
                f"hours-{i}-weekday": row["weekday"],
                f"hours-{i}-opens": row["opens"].strftime("%H:%M"),
                f"hours-{i}-closes": row["closes"].strftime("%H:%M"),
            }
        )
        if row["opens"].hour == 14:  # no lunch break any more: the afternoon starts at 13:00
            data[f"hours-{i}-opens"] = "13:00"
    client.force_login(admin)
    response = client.post(f"/admin/sla/businesscalendar/{calendar.pk}/change/", data)
    assert response.status_code == 302, response.content[:2000]
    timer.refresh_from_db()
    assert timer.due_at == dt.datetime(2026, 11, 25, 10, 5, tzinfo=dt.UTC)  # 12:50 + 15 min straight through
