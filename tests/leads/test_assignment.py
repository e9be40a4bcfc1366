"""Distribution (leads/assignment.py): who gets a new lead, and why.

Every test runs at a fixed moment on the default calendar (Moscow, Mon–Fri 09–13 and
14–18, Russian holidays) unless it says otherwise: Wednesday 2026-02-11 11:00, an
ordinary working day. Teams made by the factory have no calendar of their own, so
they work the default one.
"""

import datetime as dt
import re
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone, translation

from leads.actions import Conflict, Invalid
from leads.assignment import (
    Decision,
    assign_automatically,
    assign_manually,
    assign_waiting,
    choose_rep,
    describe,
    redistribute_open_leads,
)
from leads.choices import AssignmentKind
from leads.intake import Submission, take_lead
from leads.models import Assignment, Lead, RoutingRule
from revops import refcache
from revops.models import Absence, DistributionMode, Shift, Team
from revops.roles import Role
from sla.models import (
    BusinessCalendar,
    Notification,
    NotificationChannel,
    NotificationKind,
    SlaTimer,
    WorkingHours,
)
from tests.factories import (
    LeadFactory,
    ProductFactory,
    SegmentFactory,
    SourceFactory,
    TeamFactory,
    UserFactory,
)
from tests.factories import stage as stage_by_code

pytestmark = pytest.mark.django_db

MOSCOW = ZoneInfo("Europe/Moscow")
WED_11 = dt.datetime(2026, 2, 11, 11, 0, tzinfo=MOSCOW)  # an ordinary working Wednesday
WED_EVENING = dt.datetime(2026, 2, 11, 19, 30, tzinfo=MOSCOW)  # after the default calendar closes
THU_9 = dt.datetime(2026, 2, 12, 9, 0, tzinfo=MOSCOW)  # the next opening
CYRILLIC = re.compile(r"[а-яА-ЯёЁ]")


@pytest.fixture
def clock(db):
    with time_machine.travel(WED_11, tick=False) as traveller:
        yield traveller


@pytest.fixture
def team(clock):
    return TeamFactory(code="sales", name="Sales")


def make_reps(team, *names, **fields):
    return [UserFactory(username=name, role=Role.REP, team=team, **fields) for name in names]


def arrive(clock, count=1, **fields):
    """`count` new leads, one a minute, each assigned as intake would."""
    leads = []
    for _ in range(count):
        clock.shift(dt.timedelta(minutes=1))
        lead = LeadFactory(**fields)
        assign_automatically(lead, at=timezone.now())
        lead.refresh_from_db()
        leads.append(lead)
    return leads


def owners(leads):
    return [lead.owner.username if lead.owner else None for lead in leads]


def codes(assignment):
    return [reason["code"] for reason in assignment.reasons]


def reason(assignment, code):
    return next(r for r in assignment.reasons if r["code"] == code)


def last_assignment(lead):
    return Assignment.objects.filter(lead=lead).latest("id")


# --- modes ----------------------------------------------------------------------------------------


def test_round_robin_rotates_fairly_among_eligible_reps(clock, team):
    make_reps(team, "r1", "r2", "r3")
    got = owners(arrive(clock, 9))
    assert Counter(got) == {"r1": 3, "r2": 3, "r3": 3}
    assert set(got[:3]) == {"r1", "r2", "r3"}
    assert got == got[:3] * 3, "a strict rotation"


def test_round_robin_ignores_weights(clock, team):
    make_reps(team, "r1", "r2")
    UserFactory(username="heavy", role=Role.REP, team=team, lead_weight=5)
    assert Counter(owners(arrive(clock, 6))) == {"r1": 2, "r2": 2, "heavy": 2}


def test_round_robin_records_the_mode_and_who_was_before(clock, team):
    make_reps(team, "r1", "r2")
    first, second = arrive(clock, 2)
    assert "mode" in codes(last_assignment(first))
    assert "next_after" not in codes(last_assignment(first)), "nobody was before the first ticket"
    assert reason(last_assignment(second), "next_after") == {"code": "next_after", "params": {"user": "r1"}}
    with translation.override("en"):
        assert "Round-robin" in describe(last_assignment(second).reasons)
        assert "next after r1" in describe(last_assignment(second).reasons)


def test_weighted_splits_two_to_one_smoothly(clock, team):
    team.distribution_mode = DistributionMode.WEIGHTED
    team.save()
    make_reps(team, "big", lead_weight=2)
    make_reps(team, "small", lead_weight=1)
    got = owners(arrive(clock, 9))
    assert Counter(got) == {"big": 6, "small": 3}
    # Smooth: every window of three leads holds the 2:1 split, no long runs.
    for start in range(0, 9, 3):
        assert Counter(got[start : start + 3]) == {"big": 2, "small": 1}


def test_weighted_three_reps_one_two_three(clock, team):
    team.distribution_mode = DistributionMode.WEIGHTED
    team.save()
    for name, weight in (("w1", 1), ("w2", 2), ("w3", 3)):
        make_reps(team, name, lead_weight=weight)
    assert Counter(owners(arrive(clock, 6))) == {"w1": 1, "w2": 2, "w3": 3}


def test_least_open_gives_it_to_the_rep_with_fewest_open_leads(clock, team):
    team.distribution_mode = DistributionMode.LEAST_OPEN
    team.save()
    busy, light, idle = make_reps(team, "busy", "light", "idle")
    for _ in range(3):
        LeadFactory(owner=busy)
    LeadFactory(owner=light)
    # Closed leads do not count as load.
    for code in ("lost", "deal", "nurture"):
        LeadFactory(owner=idle, stage=stage_by_code(code))
    LeadFactory(owner=idle)
    LeadFactory(owner=idle, stage=stage_by_code("lost"))
    # light and idle tie at one open lead; idle was assigned longer ago.
    light.last_assigned_at = WED_11 - dt.timedelta(minutes=5)
    light.save()
    idle.last_assigned_at = WED_11 - dt.timedelta(hours=2)
    idle.save()
    (lead,) = arrive(clock)
    assert lead.owner == idle
    assert reason(last_assignment(lead), "least_open") == {
        "code": "least_open",
        "params": {"user": "idle", "count": 1},
    }
    # Now idle has two open leads, light one: light is next.
    (lead,) = arrive(clock)
    assert lead.owner == light


def test_least_open_tie_goes_to_the_least_recently_assigned_and_never_assigned_first(clock, team):
    team.distribution_mode = DistributionMode.LEAST_OPEN
    team.save()
    recent, never = make_reps(team, "recent", "never")
    recent.last_assigned_at = WED_11 - dt.timedelta(days=3)
    recent.save()
    (lead,) = arrive(clock)
    assert lead.owner == never


def test_least_open_skips_an_absent_rep_with_no_leads(clock, team):
    team.distribution_mode = DistributionMode.LEAST_OPEN
    team.save()
    away, worker = make_reps(team, "away", "worker")
    LeadFactory(owner=worker)
    Absence.objects.create(user=away, starts_on=WED_11.date(), ends_on=WED_11.date())
    (lead,) = arrive(clock)
    assert lead.owner == worker


def test_least_today_gives_it_to_the_rep_with_fewest_new_leads_today(clock, team):
    team.distribution_mode = DistributionMode.LEAST_TODAY
    team.save()
    a, b, c = make_reps(team, "a", "b", "c")
    today = WED_11 - dt.timedelta(hours=1)
    yesterday_late = dt.datetime(2026, 2, 10, 23, 30, tzinfo=MOSCOW)  # before local midnight

    def given(rep, when, kind=AssignmentKind.AUTO, n=1):
        for _ in range(n):
            Assignment.objects.create(lead=LeadFactory(), to_owner=rep, kind=kind, created_at=when)

    given(a, today, n=2)
    given(b, today)
    given(b, yesterday_late, n=5)  # yesterday does not count
    given(c, today, kind=AssignmentKind.QUEUE)
    given(c, today, kind=AssignmentKind.MANUAL, n=3)  # handed over by a head: not "new today"
    # b and c tie at one; c was assigned longer ago.
    b.last_assigned_at = today
    b.save()
    c.last_assigned_at = today - dt.timedelta(minutes=30)
    c.save()
    (lead,) = arrive(clock)
    assert lead.owner == c
    assert reason(last_assignment(lead), "least_today")["params"] == {"user": "c", "count": 1}
    # Then b (one today); then all tie at two and the least recently assigned goes first:
    # a (never picked by the rules), then c (picked before b).
    assert owners(arrive(clock, 3)) == ["b", "a", "c"]


def test_least_today_counts_from_local_midnight_of_the_team_calendar(clock):
    vladivostok = _calendar("vvo", "Asia/Vladivostok", weekdays=range(7), opens=dt.time(0), closes=dt.time(0))
    team = TeamFactory(code="far-east", calendar=vladivostok, distribution_mode=DistributionMode.LEAST_TODAY)
    early, fresh = make_reps(team, "early", "fresh")
    # WED_11 Moscow is 18:00 in Vladivostok; 23:30 UTC the day before is 09:30 there: today.
    Assignment.objects.create(
        lead=LeadFactory(),
        to_owner=early,
        kind=AssignmentKind.AUTO,
        created_at=dt.datetime(2026, 2, 10, 23, 30, tzinfo=dt.UTC),
    )
    # 13:30 UTC the day before is 23:30 there: yesterday.
    for _ in range(3):
        Assignment.objects.create(
            lead=LeadFactory(),
            to_owner=fresh,
            kind=AssignmentKind.AUTO,
            created_at=dt.datetime(2026, 2, 10, 13, 30, tzinfo=dt.UTC),
        )
    (lead,) = arrive(clock)
    assert lead.owner == fresh


# --- absence, shifts and the returning rep ---------------------------------------------------------


def test_round_robin_rep_back_from_vacation_gets_no_burst(clock, team):
    away, b, c = make_reps(team, "away", "b", "c")
    Absence.objects.create(user=away, starts_on=dt.date(2026, 2, 2), ends_on=WED_11.date())
    during = owners(arrive(clock, 5))
    assert "away" not in during
    assert Counter(during) == {"b": 3, "c": 2}
    clock.move_to(THU_9)  # back today
    after = owners(arrive(clock, 6))
    assert set(after[:3]) == {"away", "b", "c"}, after
    assert Counter(after) == {"away": 2, "b": 2, "c": 2}


def test_weighted_rep_back_from_vacation_gets_no_burst(clock, team):
    team.distribution_mode = DistributionMode.WEIGHTED
    team.save()
    (away,) = make_reps(team, "away", lead_weight=2)
    make_reps(team, "b", "c")
    # Some history first, so credits are not all zero when the absence starts.
    arrive(clock, 3)
    Absence.objects.create(user=away, starts_on=WED_11.date(), ends_on=WED_11.date())
    during = owners(arrive(clock, 5))
    assert "away" not in during
    clock.move_to(THU_9)
    after = owners(arrive(clock, 8))
    # Weight 2 of 4: about half, never more than two in a row.
    assert Counter(after)["away"] in (4, 5), after
    runs = "".join("A" if o == "away" else "." for o in after)
    assert "AAA" not in runs, after


def test_absent_and_off_shift_reps_are_skipped_with_the_reason_recorded(clock, team):
    away, night, day = make_reps(team, "away", "night", "day")
    Absence.objects.create(user=away, starts_on=WED_11.date(), ends_on=WED_11.date() + dt.timedelta(days=3))
    Shift.objects.create(user=night, weekday=2, starts=dt.time(14), ends=dt.time(18))  # afternoons only
    (lead,) = arrive(clock)
    assert lead.owner == day
    assignment = last_assignment(lead)
    assert {"code": "absent", "params": {"user": "away"}} in assignment.reasons
    assert {"code": "off_shift", "params": {"user": "night"}} in assignment.reasons
    with translation.override("en"):
        english = describe(assignment.reasons)
    assert "away is absent" in english
    assert "night is not on shift" in english


def test_describe_renders_the_reasons_in_russian(clock, team):
    away, night, _day = make_reps(team, "away", "night", "day")
    Absence.objects.create(user=away, starts_on=WED_11.date(), ends_on=WED_11.date())
    Shift.objects.create(user=night, weekday=2, starts=dt.time(14), ends=dt.time(18))
    (lead,) = arrive(clock)
    reasons = last_assignment(lead).reasons
    with translation.override("en"):
        english = describe(reasons)
    with translation.override("ru"):
        russian = describe(reasons)
    assert "away" in russian and "night" in russian
    assert russian != english
    # Every part is translated, not only the mode's label.
    for part in russian.split("; "):
        assert CYRILLIC.search(part), f"untranslated reason in Russian: {part!r} (whole: {russian!r})"


def test_describe_skips_unknown_codes_and_survives_missing_params():
    reasons = [{"code": "no_such_code"}, {"code": "absent"}, {"code": "mode", "params": {"mode": "weighted"}}]
    with translation.override("en"):
        assert describe(reasons) == "absent; Weighted round-robin"
    assert describe([]) == "" and describe(None) == ""


def test_off_hours_nobody_is_on_shift_and_the_calendar_is_the_reason(clock, team):
    make_reps(team, "r1")
    clock.move_to(WED_EVENING)
    (lead,) = arrive(clock)
    assert lead.owner is None
    assert {"code": "calendar_closed", "params": {"user": "r1"}} in last_assignment(lead).reasons


# --- caps --------------------------------------------------------------------------------------------


def test_team_daily_cap_per_rep(clock, team):
    team.daily_cap = 2
    team.save()
    make_reps(team, "r1", "r2")
    leads = arrive(clock, 5)
    assert Counter(owners(leads)) == {"r1": 2, "r2": 2, None: 1}
    waiting = last_assignment(leads[-1])
    assert waiting.to_owner is None
    assert {"code": "cap_reached", "params": {"user": "r1", "cap": 2}} in waiting.reasons
    assert {"code": "cap_reached", "params": {"user": "r2", "cap": 2}} in waiting.reasons
    # A new day, a new allowance.
    clock.move_to(THU_9)
    assert Counter(owners(arrive(clock, 2))) == {"r1": 1, "r2": 1}


def test_rep_daily_cap_overrides_the_teams(clock, team):
    team.daily_cap = 1
    team.save()
    make_reps(team, "big", daily_lead_cap=3)
    make_reps(team, "usual")
    make_reps(team, "off", daily_lead_cap=0)
    got = owners(arrive(clock, 6))
    assert Counter(got) == {"big": 3, "usual": 1, None: 2}


def test_rep_cap_without_a_team_cap(clock, team):
    make_reps(team, "capped", daily_lead_cap=1)
    make_reps(team, "free")
    assert Counter(owners(arrive(clock, 4))) == {"capped": 1, "free": 3}


def test_manual_assignments_do_not_use_up_the_daily_cap(clock, head):
    team_a = head.team
    team_a.daily_cap = 1
    team_a.save()
    (r1,) = make_reps(team_a, "r1")
    assign_manually(LeadFactory(), r1, head)
    (lead,) = arrive(clock, team=team_a)
    assert lead.owner == r1


# --- who is never chosen ------------------------------------------------------------------------------


def test_reps_not_taking_leads_inactive_people_and_heads_are_never_chosen(clock, team):
    make_reps(team, "paused", accepts_leads=False)
    make_reps(team, "gone", is_active=False)
    UserFactory(username="boss", role=Role.SALES_HEAD, team=team)
    UserFactory(username="analyst", role=Role.MARKETER, team=team)
    make_reps(team, "worker")
    assert set(owners(arrive(clock, 5))) == {"worker"}


def test_a_team_without_reps_taking_leads_makes_the_lead_wait(clock, team):
    make_reps(team, "paused", accepts_leads=False)
    (lead,) = arrive(clock)
    assert lead.owner is None
    assignment = last_assignment(lead)
    assert codes(assignment)[-2:] == ["no_reps", "waits_in_queue"]


# --- routing -----------------------------------------------------------------------------------------


@pytest.fixture
def routed(clock):
    teams = {
        code: TeamFactory(code=code, name=code.title()) for code in ("first", "web", "smb", "crm", "rest")
    }
    for code, team in teams.items():
        make_reps(team, f"{code}-rep")
    web, other = SourceFactory(code="web"), SourceFactory(code="other")
    smb = SegmentFactory(code="smb")
    crm = ProductFactory(code="crm")
    # Created out of order: position decides, not creation.
    RoutingRule.objects.create(position=90, team=teams["rest"])  # catch-all
    RoutingRule.objects.create(position=30, team=teams["crm"], product=crm)
    RoutingRule.objects.create(position=10, team=teams["web"], source=web)
    RoutingRule.objects.create(position=20, team=teams["smb"], segment=smb)
    RoutingRule.objects.create(position=5, team=teams["first"], source=web, product=crm, is_active=False)
    return {"teams": teams, "web": web, "other": other, "smb": smb, "crm": crm}


@pytest.mark.parametrize(
    ("source", "segment", "product", "team"),
    [
        ("web", "smb", "crm", "web"),  # all match: the lowest position wins
        ("other", "smb", "crm", "smb"),
        ("other", None, "crm", "crm"),
        ("other", None, None, "rest"),  # the catch-all
    ],
)
def test_routing_first_matching_rule_by_position_wins(clock, routed, source, segment, product, team):
    (lead,) = arrive(
        clock,
        source=routed[source],
        segment=routed[segment] if segment else None,
        product=routed[product] if product else None,
    )
    assert lead.team == routed["teams"][team]
    assert lead.owner.username == f"{team}-rep"
    first = last_assignment(lead).reasons[0]
    assert first["code"] == "routed"
    assert first["params"]["rule"].endswith(f"→ {team.title()}")


def test_a_rule_with_two_conditions_needs_both(clock, routed):
    RoutingRule.objects.create(
        position=1, team=routed["teams"]["first"], source=routed["other"], product=routed["crm"]
    )
    (only_source,) = arrive(clock, source=routed["other"])
    (both,) = arrive(clock, source=routed["other"], product=routed["crm"])
    assert only_source.team == routed["teams"]["rest"]
    assert both.team == routed["teams"]["first"]


def test_no_rule_routes_to_the_first_sales_team(clock):
    TeamFactory(code="marketing", name="Marketing", kind=Team.Kind.MARKETING)
    first = TeamFactory(code="first-sales", name="First")
    second = TeamFactory(code="second-sales", name="Second")
    make_reps(second, "s2")
    make_reps(first, "s1")
    (lead,) = arrive(clock)
    assert lead.team == first and lead.owner.username == "s1"
    assert last_assignment(lead).reasons[0] == {"code": "default_team", "params": {"team": "First"}}


def test_no_sales_team_at_all(clock):
    TeamFactory(code="marketing", kind=Team.Kind.MARKETING)
    (lead,) = arrive(clock)
    assert lead.owner is None and lead.team is None
    assignment = last_assignment(lead)
    assert assignment.to_owner is None and codes(assignment) == ["no_team"]


def test_a_lead_that_already_has_a_team_skips_routing(clock, routed):
    (lead,) = arrive(clock, source=routed["web"], team=routed["teams"]["crm"])
    assert lead.team == routed["teams"]["crm"]
    assert "routed" not in codes(last_assignment(lead))


# --- fallback team and the waiting queue ---------------------------------------------------------------


def test_fallback_team_takes_it_when_nobody_in_the_team_can(clock):
    reserve = TeamFactory(code="reserve", name="Reserve")
    main = TeamFactory(code="main", name="Main", fallback_team=reserve)
    (away,) = make_reps(main, "away")
    Absence.objects.create(user=away, starts_on=WED_11.date(), ends_on=WED_11.date())
    (spare,) = make_reps(reserve, "spare")
    (lead,) = arrive(clock, team=main)
    assert lead.owner == spare and lead.team == reserve
    assignment = last_assignment(lead)
    assert assignment.team == reserve and assignment.to_owner == spare
    assert codes(assignment)[:3] == ["absent", "nobody_available", "fallback_team"]


def test_nobody_anywhere_the_lead_waits_in_its_team_queue(clock):
    reserve = TeamFactory(code="reserve", name="Reserve")
    main = TeamFactory(code="main", name="Main", fallback_team=reserve)
    make_reps(main, "m1")
    make_reps(reserve, "r1", accepts_leads=False)
    clock.move_to(WED_EVENING)
    (lead,) = arrive(clock, team=main)
    assert lead.owner is None and lead.team == main
    assignment = last_assignment(lead)
    assert assignment.to_owner is None and assignment.team == main
    assert assignment.kind == AssignmentKind.AUTO
    assert codes(assignment)[-1] == "waits_in_queue"
    assert assignment.reasons[-1]["params"] == {"team": "Main"}
    assert "fallback_team" in codes(assignment)
    assert not Notification.objects.exists()
    with translation.override("en"):
        assert "waits in the queue of Main" in describe(assignment.reasons)


def test_assign_waiting_gives_waiting_leads_oldest_first_once_someone_is_on_shift(clock, team):
    make_reps(team, "r1", "r2")
    clock.move_to(WED_EVENING)
    created = {}
    # Inserted newest first, so the oldest is not simply the lowest id.
    for name, minutes in (("newest", 50), ("middle", 40), ("oldest", 30)):
        created[name] = LeadFactory(created_at=WED_EVENING + dt.timedelta(minutes=minutes))
        assign_automatically(created[name], at=timezone.now())
    assert not Lead.objects.filter(owner__isnull=False).exists()
    assert assign_waiting(at=timezone.now()) == 0, "still nobody on shift"
    assert Assignment.objects.count() == 3

    clock.move_to(THU_9)
    assert assign_waiting(limit=2) == 2
    for lead in created.values():
        lead.refresh_from_db()
    assert created["oldest"].owner is not None and created["middle"].owner is not None
    assert created["newest"].owner is None
    assert created["oldest"].owner != created["middle"].owner
    queued = last_assignment(created["oldest"])
    assert queued.kind == AssignmentKind.QUEUE and queued.created_at == THU_9
    assert Assignment.objects.filter(lead=created["oldest"]).count() == 2  # the "waits" row stands
    notes = Notification.objects.filter(lead=created["oldest"], channel=NotificationChannel.IN_APP)
    assert [(n.kind, n.recipient) for n in notes] == [(NotificationKind.NEW_LEAD, created["oldest"].owner)]
    assert assign_waiting() == 1
    created["newest"].refresh_from_db()
    assert created["newest"].owner is not None


def test_assign_waiting_is_not_blocked_by_older_leads_nobody_can_take(clock):
    # A team that cannot take leads now (e.g. its calendar is closed over the weekend)
    # piles up more waiting leads than one pass looks at; another team's newer
    # waiting lead, which someone could take right now, must still be handed out.
    closed_team = TeamFactory(code="closed", name="Closed")
    make_reps(closed_team, "sleeper", accepts_leads=False)
    open_team = TeamFactory(code="open", name="Open")
    (awake,) = make_reps(open_team, "awake")
    for minutes in range(3):
        LeadFactory(team=closed_team, created_at=WED_11 - dt.timedelta(hours=5, minutes=minutes))
    newer = LeadFactory(team=open_team, created_at=WED_11 - dt.timedelta(hours=1))
    assert assign_waiting(limit=3) == 1
    newer.refresh_from_db()
    assert newer.owner == awake


def test_assign_waiting_leaves_closed_leads_alone(clock, team):
    make_reps(team, "r1")
    lost = LeadFactory(stage=stage_by_code("lost"), team=team)
    assert assign_waiting() == 0
    lost.refresh_from_db()
    assert lost.owner is None and not Assignment.objects.exists()


def test_waiting_lead_handed_over_later_keeps_the_clock_from_arrival(clock, team):
    make_reps(team, "r1")
    clock.move_to(WED_EVENING)
    outcome = take_lead(Submission(source=SourceFactory(), channel="form", phone="+79161112233", name="Анна"))
    lead = Lead.objects.get(pk=outcome.lead_id)
    assert lead.owner is None
    timer = SlaTimer.objects.get(lead=lead)
    assert timer.due_at == THU_9 + dt.timedelta(minutes=15)  # 15 working minutes from the next opening
    clock.move_to(THU_9 + dt.timedelta(minutes=5))
    assert assign_waiting() == 1
    assert last_assignment(lead).sla_left_seconds == 10 * 60


def test_intake_assigns_once_and_notifies_the_owner_once(clock, team):
    (r1,) = make_reps(team, "r1", email="r1@example.ru")
    outcome = take_lead(Submission(source=SourceFactory(), channel="form", phone="+79161112244", name="Олег"))
    lead = Lead.objects.get(pk=outcome.lead_id)
    assert lead.owner == r1
    assert Assignment.objects.filter(lead=lead).count() == 1
    notes = list(Notification.objects.filter(lead=lead))
    assert sorted((n.channel, n.kind, n.recipient_id) for n in notes) == [
        (NotificationChannel.EMAIL, NotificationKind.NEW_LEAD, r1.pk),
        (NotificationChannel.IN_APP, NotificationKind.NEW_LEAD, r1.pk),
    ]
    assert len({n.dedupe_key for n in notes}) == len(notes)


# --- by hand ----------------------------------------------------------------------------------------------


def test_assign_manually_records_manual_and_who_did_it(clock, rep, teammate, head):
    lead = LeadFactory(owner=rep)
    assignment = assign_manually(lead, teammate, head)
    lead.refresh_from_db()
    assert lead.owner == teammate and lead.team == teammate.team
    assert assignment.kind == AssignmentKind.MANUAL
    assert assignment.assigned_by == head and assignment.from_owner == rep and assignment.to_owner == teammate
    assert assignment.reasons == [{"code": "manual", "params": {"by": "head"}}]
    assert Assignment.objects.filter(lead=lead).count() == 1
    notes = Notification.objects.filter(lead=lead)
    assert [(n.recipient, n.kind, n.channel) for n in notes] == [
        (teammate, NotificationKind.ASSIGNED, NotificationChannel.IN_APP)
    ]
    with translation.override("en"):
        assert describe(assignment.reasons) == "assigned by head"


def test_assign_manually_to_another_teams_rep_moves_the_lead_to_that_team(clock, rep, other_rep, admin_user):
    lead = LeadFactory(owner=rep)
    assign_manually(lead, other_rep, admin_user)
    lead.refresh_from_db()
    assert lead.team == other_rep.team and lead.owner == other_rep


def test_a_head_may_give_leads_only_to_their_own_team(clock, rep, other_rep, head):
    lead = LeadFactory(owner=rep)
    with translation.override("en"), pytest.raises(Invalid) as error:
        assign_manually(lead, other_rep, head)
    assert error.value.errors == {"owner": ["You can give leads only to people of your team."]}
    assert not Assignment.objects.exists()


def test_assign_manually_to_a_sales_head_is_allowed(clock, rep, head, ceo):
    lead = LeadFactory(owner=rep)
    assert assign_manually(lead, head, ceo).to_owner == head


def test_assign_manually_to_the_current_owner_is_a_conflict(clock, rep, head):
    lead = LeadFactory(owner=rep)
    with translation.override("en"), pytest.raises(Conflict, match="already belongs"):
        assign_manually(lead, rep, head)
    assert not Assignment.objects.exists() and not Notification.objects.exists()


@pytest.mark.parametrize("code", ["lost", "deal", "nurture"])
def test_assign_manually_refuses_a_closed_lead(clock, rep, teammate, head, code):
    lead = LeadFactory(owner=rep, stage=stage_by_code(code))
    with translation.override("en"), pytest.raises(Conflict, match="Only open leads can be reassigned"):
        assign_manually(lead, teammate, head)
    lead.refresh_from_db()
    assert lead.owner == rep and not Assignment.objects.exists() and not Notification.objects.exists()


@pytest.mark.parametrize("who", ["marketer", "inactive", "no_team", "ceo"])
def test_assign_manually_refuses_people_who_cannot_work_leads(clock, rep, head, marketer, ceo, who):
    target = {
        "marketer": marketer,
        "ceo": ceo,
        "inactive": UserFactory(username="inactive", role=Role.REP, team=rep.team, is_active=False),
        "no_team": UserFactory(username="loner", role=Role.REP, team=None),
    }[who]
    lead = LeadFactory(owner=rep)
    with translation.override("en"), pytest.raises(Invalid) as error:
        assign_manually(lead, target, head)
    assert error.value.errors == {"owner": ["Leads can be given only to active sales people in a team."]}
    lead.refresh_from_db()
    assert lead.owner == rep and not Assignment.objects.exists()


# --- a rep leaves --------------------------------------------------------------------------------------------


def test_redistribute_moves_a_leaving_reps_open_leads_to_teammates(clock, team, head):
    leaving, stay1, stay2 = make_reps(team, "leaving", "stay1", "stay2")
    open_leads = [LeadFactory(owner=leaving, created_at=WED_11 - dt.timedelta(hours=i)) for i in range(4)]
    closed = LeadFactory(owner=leaving, stage=stage_by_code("lost"))
    assert redistribute_open_leads(leaving, head) == 4
    for lead in open_leads:
        lead.refresh_from_db()
    assert Counter(owners(open_leads)) == {"stay1": 2, "stay2": 2}
    closed.refresh_from_db()
    assert closed.owner == leaving
    rows = Assignment.objects.filter(lead__in=open_leads)
    assert rows.count() == 4
    for row in rows:
        assert row.kind == AssignmentKind.BULK and row.assigned_by == head and row.from_owner == leaving
        assert row.reasons[0] == {"code": "bulk", "params": {"user": "leaving", "by": "head"}}
        note = Notification.objects.get(lead=row.lead, channel=NotificationChannel.IN_APP)
        assert note.kind == NotificationKind.ASSIGNED and note.recipient == row.to_owner
    assert not Notification.objects.filter(recipient=leaving).exists()


def test_redistribute_never_gives_back_to_the_leaving_rep_even_if_only_they_are_free(clock, team, head):
    leaving, away = make_reps(team, "leaving", "away")
    Absence.objects.create(user=away, starts_on=WED_11.date(), ends_on=WED_11.date())
    lead = LeadFactory(owner=leaving)
    assert redistribute_open_leads(leaving, head) == 0  # nobody got it: it waits
    lead.refresh_from_db()
    assert lead.owner is None and lead.team == team
    assignment = last_assignment(lead)
    assert assignment.kind == AssignmentKind.BULK and assignment.to_owner is None
    assert codes(assignment)[-1] == "waits_in_queue"


def test_choose_rep_excludes_the_given_people(clock, team):
    only, other = make_reps(team, "only", "other")
    assert choose_rep(team, WED_11, Decision(team=team, owner=None), exclude=[other]) == only


# --- one row, one notification ----------------------------------------------------------------------------


def test_every_assignment_writes_one_row_and_notifies_the_new_owner_once(clock, head):
    r1, r2 = make_reps(head.team, "r1", "r2")
    (lead,) = arrive(clock)  # auto
    assign_manually(lead, r2 if lead.owner == r1 else r1, head)  # manual
    redistribute_open_leads(Lead.objects.get(pk=lead.pk).owner, head)  # bulk
    rows = list(Assignment.objects.filter(lead=lead).order_by("id"))
    assert [r.kind for r in rows] == [AssignmentKind.AUTO, AssignmentKind.MANUAL, AssignmentKind.BULK]
    notes = list(Notification.objects.filter(lead=lead, channel=NotificationChannel.IN_APP).order_by("id"))
    assert [(n.kind, n.recipient) for n in notes] == [
        (NotificationKind.NEW_LEAD, rows[0].to_owner),
        (NotificationKind.ASSIGNED, rows[1].to_owner),
        (NotificationKind.ASSIGNED, rows[2].to_owner),
    ]
    assert len({n.dedupe_key for n in notes}) == 3
    assert all(f"assignment:{row.pk}" in note.dedupe_key for row, note in zip(rows, notes, strict=True))
    assert rows[2].to_owner == rows[0].to_owner, "back to the other rep"


def test_round_robin_moves_the_ticket_and_leaves_last_assigned_at_alone(clock, team):
    r1, r2 = make_reps(team, "r1", "r2")
    arrive(clock)
    r1.refresh_from_db()
    r2.refresh_from_db()
    team.refresh_from_db()
    # Only the least-loaded modes read last_assigned_at; round-robin does not write it.
    assert r1.last_assigned_at is None and r2.last_assigned_at is None
    assert team.rr_counter == 1


def test_a_lone_rep_on_shift_takes_no_ticket(clock, team):
    (solo,) = make_reps(team, "solo")
    (lead,) = arrive(clock)
    team.refresh_from_db()
    assert lead.owner == solo and team.rr_counter == 0


def test_least_loaded_picks_write_last_assigned_at(clock, team):
    team.distribution_mode = DistributionMode.LEAST_OPEN
    team.save()
    r1, r2 = make_reps(team, "r1", "r2")
    (lead,) = arrive(clock)
    r1.refresh_from_db()
    r2.refresh_from_db()
    assert lead.owner == r1 and r1.last_assigned_at == timezone.now() and r2.last_assigned_at is None
    # The tie at one open lead each now goes to r2, who has waited longer.
    assert owners(arrive(clock, 2)) == ["r2", "r1"]


# --- helpers -------------------------------------------------------------------------------------------------


def _calendar(code, tz, *, weekdays=(0, 1, 2, 3, 4), opens=dt.time(9), closes=dt.time(18)):
    calendar = BusinessCalendar.objects.create(code=code, name=code, timezone=tz, holiday_country="")
    for weekday in weekdays:
        WorkingHours.objects.create(calendar=calendar, weekday=weekday, opens=opens, closes=closes)
    calendar.refresh_from_db()
    return calendar


def test_a_lead_taken_or_closed_before_distribution_is_left_alone(clock, team):
    """Intake distributes after its commit, from its own copy of the lead: a head
    who gave the lead away or closed it in between wins."""
    rep1, rep2 = make_reps(team, "r1", "r2")
    head = UserFactory(username="head", role=Role.SALES_HEAD, team=team)
    taken = LeadFactory()
    assign_manually(Lead.objects.get(pk=taken.pk), rep2, head)
    closed = LeadFactory()
    Lead.objects.filter(pk=closed.pk).update(stage=stage_by_code("lost"))
    for stale in (taken, closed):  # the instances still say: no owner, open
        assert stale.owner_id is None
        before = Assignment.objects.filter(lead=stale).count()
        assert assign_automatically(stale, at=timezone.now()) is None
        assert Assignment.objects.filter(lead=stale).count() == before
    assert Lead.objects.get(pk=taken.pk).owner == rep2
    assert Lead.objects.get(pk=closed.pk).owner is None


@pytest.mark.django_db(transaction=True)
def test_the_cached_roster_follows_edits_to_reps_shifts_and_absences(clock, team):
    """The reps of a team are cached per process (leads.assignment.roster);
    an edit here must reach the very next pick. Committed rows (transaction=True):
    inside a test's transaction a reference edit turns the cache off."""
    first, second = make_reps(team, "first", "second")
    team.distribution_mode = DistributionMode.LEAST_OPEN
    team.save()
    source = SourceFactory()  # new sources would clear the whole cache at every arrival

    def pick(count=1):
        return owners(arrive(clock, count, source=source))

    assert pick() == ["first"]
    assert f"roster:{team.pk}" in refcache._entries  # the roster is now cached
    Absence.objects.create(user=second, starts_on=timezone.localdate(), ends_on=timezone.localdate())
    assert pick() == ["first"]
    Absence.objects.filter(user=second).delete()  # a queryset delete sends signals per row
    first.accepts_leads = False
    first.save()
    assert pick(2) == ["second", "second"]
    first.accepts_leads = True
    first.save()
    # A tie at two open leads would go to first (who waited longer), but a
    # shift on Sundays only takes first off today.
    Shift.objects.create(user=first, weekday=6, starts=dt.time(9), ends=dt.time(10))
    assert pick() == ["second"]
