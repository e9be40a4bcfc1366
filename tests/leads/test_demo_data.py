"""`manage.py demo_data`: a believable, reproducible company that every role can log into."""

import contextlib
from datetime import date, datetime, timedelta
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.db.models import Count, F, Max, Q
from django.test import RequestFactory

from leads import demo
from leads.assignment import REASON_TEXTS, describe, route
from leads.choices import FAILED_CALL_OUTCOMES, AssignmentKind, DealStatus, Qualification, StageKind
from leads.contacts import normalize_phone
from leads.disputes import DISPUTE_NOTE
from leads.intake import Submission, take_lead
from leads.models import (
    Assignment,
    Campaign,
    Contact,
    ContactAttempt,
    CriterionAnswer,
    Deal,
    InboundRequest,
    Lead,
    QualificationCriterion,
    RejectionDispute,
    RoutingRule,
    Segment,
    Source,
    Spend,
    StageChange,
)
from revops.models import Absence, DistributionMode, Shift, Team, User
from revops.roles import Role
from sla.business_time import add_working_time, is_working
from sla.calendars import schedule_for, team_calendar
from sla.models import Breach, DelayOwner, SlaPolicy, SlaTimer, TimerKind, TimerState

TODAY = "2026-03-16"  # a Monday
LEADS = "200"
MSK = ZoneInfo("Europe/Moscow")

pytestmark = pytest.mark.django_db


def run_demo(*args, leads=LEADS, today=TODAY, travel=True) -> str:
    out = StringIO()
    with after_demo_day() if travel else contextlib.nullcontext():
        call_command("demo_data", "--leads", leads, "--today", today, *args, stdout=out)
    return out.getvalue()


def end_of_demo_year():
    """Where a demo for a past `--today` stops: the end of that day."""
    return datetime.fromisoformat(TODAY).replace(tzinfo=ZoneInfo(settings.TIME_ZONE)) + timedelta(days=1)


def after_demo_day():
    """Half past midnight after `--today`: the demo year ends at the end of that day,
    and the vacation around it is still current for distribution (which, like the
    live app, looks at the absences of these days)."""
    return time_machine.travel(end_of_demo_year() + timedelta(minutes=30), tick=True)


@pytest.fixture
def demo_company():
    run_demo()


# --- people ----------------------------------------------------------------------------------------


EXPECTED_USERS = {
    "admin": (Role.ADMIN, None),
    "ceo": (Role.EXECUTIVE, None),
    "sales_head": (Role.SALES_HEAD, "sales-1"),
    "sales_head2": (Role.SALES_HEAD, "sales-2"),
    "marketing_head": (Role.MARKETING_HEAD, "marketing"),
    "marketer": (Role.MARKETER, "marketing"),
    "rep1": (Role.REP, "sales-1"),
    "rep2": (Role.REP, "sales-1"),
    "rep3": (Role.REP, "sales-1"),
    "rep4": (Role.REP, "sales-2"),
    "rep5": (Role.REP, "sales-2"),
}


def test_demo_users_have_their_roles_teams_and_the_password_demo(demo_company):
    users = {u.username: u for u in User.objects.filter(username__in=EXPECTED_USERS).select_related("team")}
    assert set(users) == set(EXPECTED_USERS)
    for username, (role, team_code) in EXPECTED_USERS.items():
        user = users[username]
        assert user.role == role, username
        assert (user.team.code if user.team else None) == team_code, username
        assert user.first_name and user.last_name
        assert user.email == f"{username}@demo.revops.local"
        assert authenticate(RequestFactory().post("/login/"), username=username, password="demo") == user
        assert list(user.groups.values_list("name", flat=True)) == [role]
    assert users["admin"].is_superuser
    heads = dict(Team.objects.values_list("code", "head__username"))
    assert heads == {"sales-1": "sales_head", "sales-2": "sales_head2", "marketing": "marketing_head"}


def test_output_is_a_summary_and_the_logins_without_contact_details(demo_company):
    out = run_demo("--reset")
    assert "Leads: 200" in out
    assert "Deals: won" in out
    last = out.strip().splitlines()[-1]
    assert "password «demo»" in last
    assert all(name in last for name in EXPECTED_USERS)
    phones = Contact.objects.values_list("phone", flat=True)[:50]
    assert not any(phone in out for phone in phones)


# --- reference data ----------------------------------------------------------------------------------


def test_reference_data_is_complete(demo_company):
    codes = set(Source.objects.values_list("code", flat=True))
    assert {
        "yandex_direct",
        "vk_ads",
        "seo",
        "telegram",
        "exhibitions",
        "referrals",
        "partners",
        "cold_outreach",
    } <= codes
    for source in ("yandex_direct", "vk_ads", "telegram"):
        campaigns = Campaign.objects.filter(source__code=source)
        assert 2 <= campaigns.count() <= 4
        assert all(c.utm_source and c.utm_medium and c.utm_campaign and c.starts_on for c in campaigns)
    assert Segment.objects.count() >= 4
    assert set(Segment.objects.values_list("fit", flat=True)) == {"ours", "conditional", "not_ours"}
    assert QualificationCriterion.objects.filter(segment__isnull=False).exists()
    # Spend: every paid campaign, every month of the demo year; exhibitions at source level.
    paid = Campaign.objects.filter(source__code__in=["yandex_direct", "vk_ads"])
    assert set(Spend.objects.filter(campaign__isnull=False).values_list("campaign", flat=True)) >= set(
        paid.values_list("pk", flat=True)
    )
    assert Spend.objects.filter(source__code="exhibitions", campaign__isnull=True).exists()
    assert all(month.day == 1 for month in Spend.objects.values_list("month", flat=True))
    # A year of spend: every month the demo year touches (13 calendar months), per paid campaign.
    first, last = date(2025, 3, 1), date(2026, 3, 1)
    months = set(Spend.objects.values_list("month", flat=True))
    assert min(months) == first and max(months) == last and len(months) == 13
    direct_months = Spend.objects.filter(source__code="yandex_direct").values_list("month", flat=True)
    assert set(direct_months) == months
    # A campaign's spend carries the campaign's source.
    assert not Spend.objects.filter(campaign__isnull=False).exclude(source=F("campaign__source")).exists()
    assert Spend.objects.filter(campaign__isnull=True, source__code="webinars").count() == 13


# --- determinism and idempotency ---------------------------------------------------------------------


def detail_snapshot():
    """More than the lead list: the rows hanging off the leads, the clock and the
    distribution too (by natural keys: ids differ between runs)."""
    return (
        demo.snapshot(),
        sorted(
            SlaTimer.objects.values_list(
                "lead__contact__phone",
                "kind",
                "state",
                "calendar__code",
                "started_at",
                "budget_seconds",
                "due_at",
                "remind_at",
                "reminded_at",
                "met_at",
                "breached_at",
                "cancelled_at",
            ),
            key=repr,
        ),
        sorted(
            Breach.objects.values_list(
                "lead__contact__phone",
                "owner__username",
                "team__code",
                "source__code",
                "delay_owner",
                "due_at",
                "created_at",
                "escalate_at",
                "escalated_at",
                "acknowledged_at",
                "acknowledged_by__username",
                "resolved_at",
                "comment",
            ),
            key=repr,
        ),
        sorted(
            (
                (phone, kind, a, b, by, repr(reasons), left, at)
                for phone, kind, a, b, by, reasons, left, at in Assignment.objects.values_list(
                    "lead__contact__phone",
                    "kind",
                    "from_owner__username",
                    "to_owner__username",
                    "assigned_by__username",
                    "reasons",
                    "sla_left_seconds",
                    "created_at",
                )
            ),
            key=repr,
        ),
        sorted(
            InboundRequest.objects.values_list(
                "lead__contact__phone", "contact__phone", "received_at", "is_repeat", "utm", "comment"
            ),
            key=repr,
        ),
        sorted(
            Lead.objects.values_list(
                "contact__phone", "updated_at", "team__code", "segment__code", "priority"
            ),
            key=repr,
        ),
        list(
            StageChange.objects.order_by("changed_at", "lead__created_at", "to_stage__code").values_list(
                "lead__contact__phone",
                "from_stage__code",
                "to_stage__code",
                "changed_at",
                "changed_by__username",
            )
        ),
        list(
            ContactAttempt.objects.order_by("made_at", "lead__contact__phone").values_list(
                "lead__contact__phone", "outcome", "made_at", "callback_at"
            )
        ),
        list(
            Deal.objects.order_by("created_at", "amount").values_list(
                "lead__contact__phone", "amount", "margin"
            )
        ),
        sorted(Spend.objects.values_list("source__code", "campaign__code", "month", "amount")),
    )


def test_same_seed_and_date_give_the_same_data(demo_company):
    first = detail_snapshot()
    run_demo("--reset")
    assert detail_snapshot() == first
    assert len(first[0]) == 200


def test_another_seed_gives_other_data(demo_company):
    first = demo.snapshot()
    run_demo("--reset", "--seed", "2")
    second = demo.snapshot()
    assert len(second) == 200
    assert second != first
    assert {row[0] for row in second} != {row[0] for row in first}


def test_second_run_without_reset_adds_nothing(demo_company):
    counts = (Lead.objects.count(), Contact.objects.count(), User.objects.count(), Source.objects.count())
    spend = Spend.objects.count()
    out = run_demo()
    assert "already exist" in out
    assert (
        Lead.objects.count(),
        Contact.objects.count(),
        User.objects.count(),
        Source.objects.count(),
    ) == counts
    assert Spend.objects.count() == spend
    assert User.objects.filter(username="rep1").count() == 1


def test_reset_regenerates_leads_and_contacts(demo_company):
    run_demo("--reset", leads="50")
    assert Lead.objects.count() == 50
    # Every contact belongs to a lead of this run; nothing from the first run survived.
    assert not Contact.objects.filter(leads__isnull=True).exists()


def test_if_empty_does_nothing_once_the_demo_users_exist():
    out = run_demo("--if-empty")
    assert Lead.objects.count() == 200
    User.objects.filter(username="rep1").update(first_name="Изменён")
    out = run_demo("--if-empty", leads="300")
    assert "already exist" in out
    assert Lead.objects.count() == 200
    assert User.objects.get(username="rep1").first_name == "Изменён"


def test_refuses_to_run_in_production(settings):
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="production"):
        run_demo()
    assert not User.objects.filter(username="rep1").exists()


# --- who sees what -----------------------------------------------------------------------------------


def test_each_role_sees_the_leads_its_visibility_allows(demo_company):
    users = {u.username: u for u in User.objects.all()}
    everything = Lead.objects.count()
    sales_1 = Team.objects.get(code="sales-1")

    mine = Lead.objects.visible_to(users["rep1"])
    assert mine.exists()
    assert not mine.exclude(owner=users["rep1"]).exists()
    assert mine.count() == Lead.objects.filter(owner=users["rep1"]).count()

    team = Lead.objects.visible_to(users["sales_head"])
    assert team.count() == Lead.objects.filter(team=sales_1).count() > mine.count()
    assert not team.exclude(team=sales_1).exists()
    assert not Lead.objects.visible_to(users["sales_head2"]).filter(team=sales_1).exists()

    for username in ("marketer", "marketing_head", "ceo", "admin"):
        assert Lead.objects.visible_to(users[username]).count() == everything, username
    # Every rep has work to show.
    for rep in ("rep1", "rep2", "rep3", "rep4", "rep5"):
        assert Lead.objects.visible_to(users[rep]).exists(), rep


# --- the data makes sense ----------------------------------------------------------------------------


def test_every_lead_is_consistent(demo_company):
    end = end_of_demo_year()
    won_deal_leads = set(Deal.objects.filter(status=DealStatus.WON).values_list("lead_id", flat=True))
    last_change = dict(StageChange.objects.values_list("lead_id").annotate(at=Max("changed_at")))
    leads = Lead.objects.select_related("stage", "furthest_stage", "rejection_reason", "owner", "contact")
    for lead in leads:
        kind = lead.stage.kind
        assert lead.created_at < end
        assert normalize_phone(lead.contact.phone) == lead.contact.phone
        assert lead.contact.email == lead.contact.email.lower()
        if kind in (StageKind.OPEN, StageKind.WON):
            assert lead.furthest_stage.position >= lead.stage.position
        if kind == StageKind.LOST:
            assert lead.rejection_reason is not None
            assert lead.closed_at is not None
            if lead.rejection_reason.code == "other":
                assert lead.rejection_comment
        else:
            assert lead.rejection_reason is None and lead.rejection_comment == ""
        if kind == StageKind.WON:
            assert lead.pk in won_deal_leads
            assert lead.closed_at is not None
        if kind == StageKind.OPEN:
            assert lead.closed_at is None
        if kind == StageKind.NURTURE:
            assert lead.nurture_reason
            assert lead.nurture_until is None or lead.nurture_until > end.date()
        if lead.owner is not None:
            assert lead.owner.team_id == lead.team_id
        else:
            assert kind == StageKind.OPEN and lead.team_id is not None
        if lead.first_contact_at:
            assert lead.created_at <= lead.first_contact_at < end
        if lead.qualification != Qualification.NONE:
            assert lead.qualified_at is not None and lead.first_contact_at <= lead.qualified_at
        if lead.stage_changed_at:
            assert lead.stage_changed_at == last_change[lead.pk]
        assert lead.updated_at == (lead.stage_changed_at or lead.created_at)


def test_open_leads_past_the_first_call_have_a_next_step(demo_company):
    """What the rep would do next is the lead's dated next step: a booked meeting, an
    agreed call-back or the follow-up call. The forgotten ones (the story's `stalls`) have
    none; they stay open all year, so they are a good share of what is open at the end."""
    end = end_of_demo_year()
    reached = Lead.objects.open().exclude(first_contact_at=None)
    planned = reached.exclude(next_step="")
    assert planned.count() >= 0.5 * reached.count() > 0
    assert planned.filter(next_step="meeting").exists()
    for lead in Lead.objects.open().filter(stage__code="meeting").exclude(next_step=""):
        assert lead.next_step == "meeting"
    assert planned.filter(next_step_at__gte=end).count() >= 0.5 * planned.count()


def test_histories_follow_the_clock(demo_company):
    end = end_of_demo_year()
    for change in StageChange.objects.select_related("lead"):
        assert change.lead.created_at <= change.changed_at < end
        if change.from_stage_id is None:  # the arrival (intake writes it, nobody did it)
            assert change.changed_by_id is None and change.changed_at == change.lead.created_at
        elif change.note.startswith(DISPUTE_NOTE):  # a dispute overturned by the team's head
            assert change.changed_by_id == change.lead.team.head_id
        else:
            assert change.changed_by_id == change.lead.owner_id
    for attempt in ContactAttempt.objects.select_related("lead"):
        assert attempt.lead.created_at <= attempt.made_at < end
        assert attempt.made_by_id == attempt.lead.owner_id
        assert attempt.callback_at is None or attempt.callback_at > attempt.made_at
        assert attempt.counted == (attempt.outcome in FAILED_CALL_OUTCOMES)
    for request in InboundRequest.objects.select_related("lead"):
        assert request.lead.created_at <= request.received_at < end
        assert request.contact_id == request.lead.contact_id
    for deal in Deal.objects.select_related("lead", "product"):
        assert Decimal("150000") <= deal.amount <= Decimal("5000000")
        low, high = demo.MARGIN_SHARES[deal.product.code]  # every demo deal names its product
        assert deal.amount * Decimal(str(low)) <= deal.margin <= deal.amount * Decimal(str(high))
        assert deal.closed_on is not None and deal.owner_id == deal.lead.owner_id
        assert deal.contact_id == deal.lead.contact_id
    assert not CriterionAnswer.objects.exclude(answered_by=F("lead__owner")).exists()


def test_a_year_of_leads_looks_like_a_real_funnel():
    run_demo(leads="1500")
    end = end_of_demo_year()
    leads = Lead.objects.all()
    # Arrivals mostly on working days in working hours, Moscow time.
    tz = ZoneInfo("Europe/Moscow")
    local = [lead.created_at.astimezone(tz) for lead in leads]
    working = [t for t in local if t.weekday() < 5 and 9 <= t.hour < 19]
    assert len(working) > 0.7 * len(local)
    assert min(local) >= (end - timedelta(days=366)).astimezone(tz)

    # Old leads are mostly closed, the last two weeks mostly open.
    old = leads.filter(created_at__lt=end - timedelta(days=90))
    recent = leads.filter(created_at__gte=end - timedelta(days=14))
    assert old.filter(stage__kind=StageKind.OPEN).count() < 0.05 * old.count()
    assert recent.filter(stage__kind=StageKind.OPEN).count() > 0.5 * recent.count()

    # Warm sources convert much better than VK ads.
    def won_share(code):
        by_source = leads.filter(source__code=code)
        return by_source.filter(stage__kind=StageKind.WON).count() / by_source.count()

    assert won_share("referrals") > 2 * won_share("vk_ads")
    statuses = dict(leads.values_list("stage__kind").annotate(n=Count("id")))
    assert set(statuses) == {StageKind.OPEN, StageKind.WON, StageKind.LOST, StageKind.NURTURE}
    reasons = set(leads.filter(stage__kind=StageKind.LOST).values_list("rejection_reason__code", flat=True))
    assert len(reasons) >= 8
    # The funnel narrows at every step, and every step loses someone.
    funnel = demo.summary()["funnel"]
    assert funnel["mql"] > funnel["sql"] > funnel["meeting"] > funnel["proposal"] > funnel["won"] > 0
    lost = leads.filter(stage__kind=StageKind.LOST)
    assert lost.filter(qualification=Qualification.SQL, furthest_stage__code="qualification").exists()
    assert lost.filter(furthest_stage__code="meeting").exists()  # rejected after the meeting
    assert lost.filter(furthest_stage__code="proposal").exists()
    assert leads.filter(stage__kind=StageKind.NURTURE, first_contact_at__isnull=False).exists()
    # Deals with money: margin within the amount, at a share believable for the product.
    won = Deal.objects.filter(status=DealStatus.WON)
    assert won.count() > 30 and not won.filter(Q(amount__lte=0) | Q(margin__lte=0)).exists()
    for code, (low, high) in demo.MARGIN_SHARES.items():
        for amount, margin in won.filter(product__code=code).values_list("amount", "margin"):
            assert Decimal(low) - Decimal("0.01") <= margin / amount <= Decimal(high) + Decimal("0.01")
    assert won.filter(product__code="tsd").exists() and won.filter(product__code="crm").exists()
    # Some clients buy again: repeat sales, each from a contact with an earlier won deal.
    repeats = won.filter(is_repeat_sale=True)
    assert repeats.exists()
    for deal in repeats:
        assert won.filter(contact=deal.contact, closed_on__lte=deal.closed_on, is_repeat_sale=False).exists()
    assert InboundRequest.objects.filter(is_repeat=True).count() > 0.04 * leads.count()
    assert leads.filter(qualification=Qualification.MQL).exists()
    assert CriterionAnswer.objects.exists()
    # Some leads nobody reached: three failed calls, then nurture.
    silent = leads.filter(stage__code="nurture", first_contact_at__isnull=True)
    assert silent.exists()
    assert all(n == 3 for n in silent.annotate(n=Count("attempts")).values_list("n", flat=True))
    # First contact: mostly fast, sometimes late.
    delays = [
        (lead.first_contact_at - lead.created_at).total_seconds() / 60
        for lead in leads.filter(first_contact_at__isnull=False, created_at__week_day__in=[2, 3, 4, 5, 6])
        if 9 <= lead.created_at.astimezone(tz).hour < 18
    ]
    fast = [d for d in delays if d <= 15]
    assert 0.4 * len(delays) < len(fast) < 0.95 * len(delays)
    timers = SlaTimer.objects.filter(kind=TimerKind.FIRST_CONTACT)
    assert 0.05 * timers.count() < timers.filter(state=TimerState.BREACHED).count() < 0.4 * timers.count()
    assert timers.filter(state=TimerState.MET).count() > 0.55 * timers.count()
    assert leads.filter(owner__isnull=True).count() < 0.02 * leads.count()
    assert not leads.filter(Q(owner__isnull=True) & ~Q(stage__kind=StageKind.OPEN)).exists()
    assert Contact.objects.filter(email="").exists() and Contact.objects.exclude(email="").exists()
    assert leads.filter(created_at__gte=end).count() == 0
    assert all(t < end for t in StageChange.objects.values_list("changed_at", flat=True))


# --- distribution: calendars, shifts, absences, routing, assignments ---------------------------------


def test_teams_have_calendars_modes_shifts_an_absence_and_routing_rules(demo_company):
    teams = {t.code: t for t in Team.objects.select_related("calendar")}
    assert teams["sales-1"].calendar.code == "default"
    assert teams["sales-2"].calendar.timezone == "Asia/Yekaterinburg"
    assert teams["sales-2"].calendar.hours.count() == 5
    assert teams["sales-2"].distribution_mode == DistributionMode.WEIGHTED
    assert User.objects.get(username="rep4").lead_weight == 2
    shifts = dict(Shift.objects.values_list("user__username").annotate(n=Count("id")))
    assert shifts == {"rep1": 5, "rep2": 5, "rep3": 5, "rep4": 5, "rep5": 5}
    assert set(Shift.objects.values_list("weekday", flat=True)) == {0, 1, 2, 3, 4}
    part_time = Shift.objects.filter(user__username="rep5").first()
    assert (part_time.ends.hour - part_time.starts.hour) < 8
    today = date.fromisoformat(TODAY)
    absent = Absence.objects.get(starts_on__lte=today, ends_on__gte=today)
    assert absent.user.username == "rep2" and absent.kind == Absence.Kind.VACATION
    # Every lead sits in the team the routing rules give it.
    rules = list(RoutingRule.objects.filter(is_active=True).select_related("team"))
    assert {r.team.code for r in rules} == {"sales-1", "sales-2"}
    assert any(r.product_id is None and r.source_id is None and r.segment_id is None for r in rules)
    for lead in Lead.objects.select_related("team"):
        assert route(lead, rules)[0] == lead.team, lead.pk
    # Upserts: a second run adds no rules, shifts or calendars.
    counts = (RoutingRule.objects.count(), Shift.objects.count(), Team.objects.exclude(calendar=None).count())
    run_demo()
    assert (
        RoutingRule.objects.count(),
        Shift.objects.count(),
        Team.objects.exclude(calendar=None).count(),
    ) == counts


def test_every_assignment_says_who_and_why(demo_company):
    leads = {lead.pk: lead for lead in Lead.objects.all()}
    history: dict[int, list] = {}
    for a in Assignment.objects.order_by("created_at", "id").select_related("to_owner", "assigned_by"):
        history.setdefault(a.lead_id, []).append(a)
    heads = dict(Team.objects.values_list("pk", "head_id"))
    assert set(history) == set(leads)
    for pk, rows in history.items():
        lead = leads[pk]
        assert rows[0].created_at == lead.created_at and rows[0].kind == AssignmentKind.AUTO
        assert rows[-1].to_owner_id == lead.owner_id, pk
        for a in rows:
            assert a.team_id == lead.team_id
            assert lead.created_at <= a.created_at < end_of_demo_year()
            assert a.reasons and all(r["code"] in REASON_TEXTS for r in a.reasons)
            assert describe(a.reasons)
            if a.to_owner_id is None:
                assert a.reasons[-1]["code"] == "waits_in_queue"
            if a.kind == AssignmentKind.MANUAL:
                assert a.assigned_by_id == heads[lead.team_id] and a.from_owner_id is not None
                assert a.reasons == [{"code": "manual", "params": {"by": a.assigned_by.username}}]
            else:
                assert a.assigned_by_id is None
        # Nobody is given a lead while away.
        for a in rows:
            if a.to_owner_id and a.to_owner.username == "rep2":
                assert a.created_at.astimezone(MSK).date() < date.fromisoformat(TODAY) - timedelta(days=2)
    kinds = set(Assignment.objects.values_list("kind", flat=True))
    assert {AssignmentKind.AUTO, AssignmentKind.QUEUE} <= kinds
    codes = {r["code"] for reasons in Assignment.objects.values_list("reasons", flat=True) for r in reasons}
    assert {"routed", "mode", "next_after", "calendar_closed", "waits_in_queue"} <= codes


def test_some_leads_are_reassigned_by_the_head():
    run_demo(leads="400")
    manual = Assignment.objects.filter(kind=AssignmentKind.MANUAL)
    assert manual.exists()
    for a in manual.select_related("lead"):
        assert a.lead.owner_id == a.to_owner_id
        # The new owner did all the work on it.
        assert not a.lead.attempts.exclude(made_by_id=a.to_owner_id).exists()
        assert not a.lead.attempts.filter(made_at__lt=a.created_at).exists()


# --- the SLA clock --------------------------------------------------------------------------------------


def test_every_lead_has_one_first_contact_timer_as_the_app_would_have_left_it(demo_company):
    end = end_of_demo_year()
    policy = SlaPolicy.objects.get(is_default=True)
    breaches = dict(Breach.objects.values_list("timer_id").annotate(n=Count("id")))
    # A rejection overturned on dispute restarts the clock (leads.disputes): a second timer.
    reopened = RejectionDispute.objects.filter(state="overturned").values_list("lead_id", flat=True)
    assert 1 <= len(reopened) <= 3
    timers = SlaTimer.objects.select_related("lead__team__calendar", "calendar", "lead__stage")
    assert timers.count() == Lead.objects.count() + len(reopened)
    assert not Lead.objects.exclude(pk__in=reopened).annotate(n=Count("timers")).exclude(n=1).exists()
    for timer in timers.exclude(lead__in=reopened):
        lead = timer.lead
        assert timer.kind == TimerKind.FIRST_CONTACT and timer.policy_id == policy.pk
        assert timer.calendar == team_calendar(lead.team)
        assert timer.started_at == lead.created_at <= timer.due_at
        assert timer.budget_seconds == policy.first_contact_seconds
        schedule = schedule_for(timer.calendar)
        budget = timedelta(seconds=policy.first_contact_seconds)
        assert timer.due_at == add_working_time(schedule, lead.created_at, budget)
        assert timer.remind_at == add_working_time(
            schedule, lead.created_at, budget * policy.reminder_percent / 100
        )
        assert timer.reminded_at is None or timer.remind_at < timer.reminded_at < end
        sweep = timer.due_at + timedelta(seconds=2)
        if timer.state == TimerState.MET:
            assert timer.met_at == lead.first_contact_at <= sweep
        elif timer.state == TimerState.BREACHED:
            assert timer.breached_at == sweep < end
            assert timer.met_at == lead.first_contact_at  # a late contact is recorded, or none
            assert timer.met_at is None or timer.met_at > sweep
            assert breaches.get(timer.pk) == 1
        elif timer.state == TimerState.CANCELLED:
            assert lead.first_contact_at is None and timer.cancelled_at == lead.closed_at <= sweep
        else:
            # The sweep breaches every deadline as it passes: only one still ahead at the cut runs.
            assert timer.state == TimerState.RUNNING
            assert lead.stage.kind == StageKind.OPEN and lead.first_contact_at is None
            assert sweep >= end
        if timer.state != TimerState.BREACHED:
            assert timer.pk not in breaches
    states = set(SlaTimer.objects.values_list("state", flat=True))
    assert states >= {TimerState.MET, TimerState.BREACHED, TimerState.RUNNING}  # cancelled: rare


def test_each_breach_says_whose_delay_and_what_the_head_did(demo_company):
    end = end_of_demo_year()
    heads = dict(Team.objects.values_list("pk", "head_id"))
    escalate_after = timedelta(seconds=SlaPolicy.objects.get(is_default=True).escalate_after_seconds)
    breaches = Breach.objects.select_related("timer", "lead")
    assert breaches.count() == SlaTimer.objects.filter(state=TimerState.BREACHED).count() > 0
    for breach in breaches:
        timer, lead = breach.timer, breach.lead
        assert breach.lead_id == timer.lead_id and breach.kind == timer.kind
        assert breach.due_at == timer.due_at and breach.created_at == timer.breached_at
        assert breach.team_id == lead.team_id and breach.source_id == lead.source_id
        owners = [
            a.to_owner_id
            for a in lead.assignments.order_by("created_at", "id")
            if a.created_at <= timer.due_at
        ]
        assert breach.owner_id == owners[-1]
        assert breach.delay_owner == (DelayOwner.REP if breach.owner_id else DelayOwner.SYSTEM)
        assert breach.escalate_at == breach.created_at + escalate_after
        if breach.acknowledged_at:
            assert breach.created_at < breach.acknowledged_at < end
            assert breach.acknowledged_by_id == heads[lead.team_id]
        if breach.resolved_at:
            assert breach.acknowledged_at <= breach.resolved_at < end
            assert breach.resolved_by_id == heads[lead.team_id]
        # The sweep escalates what nobody resolved within the hour, and only that.
        late = breach.escalate_at < end - timedelta(seconds=2)
        unresolved_then = breach.resolved_at is None or breach.resolved_at > breach.escalate_at
        assert (breach.escalated_at is not None) == (late and unresolved_then)
    assert breaches.filter(delay_owner=DelayOwner.REP).exists()
    assert breaches.filter(resolved_at__isnull=False).exists()
    assert breaches.filter(resolved_at__isnull=True, escalated_at__isnull=False).exists()


@pytest.fixture
def demo_at_three_pm():
    """The demo run at 15:00 on `--today` (the current date): the day stops there."""
    with time_machine.travel(datetime(2026, 3, 16, 15, 0, tzinfo=MSK), tick=False):
        run_demo(leads="300", travel=False)
        yield datetime(2026, 3, 16, 15, 0, tzinfo=MSK)


def test_today_stops_at_the_current_moment_and_recent_leads_wait_for_a_call(demo_at_three_pm):
    now = demo_at_three_pm
    assert Lead.objects.filter(created_at__gte=now.replace(hour=0)).exists()
    assert not Lead.objects.filter(created_at__gte=now).exists()
    for model, column in (
        (StageChange, "changed_at"),
        (ContactAttempt, "made_at"),
        (Assignment, "created_at"),
        (Breach, "created_at"),
    ):
        assert not model.objects.filter(**{f"{column}__gte": now}).exists(), model
    running = SlaTimer.objects.filter(state=TimerState.RUNNING).select_related("lead__owner")
    owners = {t.lead.owner.username for t in running if t.lead.owner}
    assert {"rep1", "rep3", "rep4"} <= owners  # rep2 is on vacation, rep5 works mornings
    assert running.filter(due_at__gt=now).exists()
    # … and overdue ones, breached by the sweep a moment after their deadline, wait for a call.
    overdue = SlaTimer.objects.filter(
        state=TimerState.BREACHED, met_at__isnull=True, lead__stage__kind="open"
    )
    assert overdue.filter(breached_at__gte=now - timedelta(hours=3)).exists()


def test_the_reps_queue_shows_sla_badges(demo_at_three_pm, client):
    client.force_login(User.objects.get(username="rep1"))
    page = client.get("/queue/")
    assert page.status_code == 200
    html = page.content.decode()
    for state in ("sla-ok", "sla-at_risk", "sla-overdue"):
        assert state in html, state


def test_the_heads_board_has_todays_numbers(demo_at_three_pm, client):
    client.force_login(User.objects.get(username="sales_head"))
    page = client.get("/team/")
    assert page.status_code == 200
    totals = page.context["totals"]
    assert totals["open"] > 0 and totals["new"] > 0  # arrivals, apart from hand-overs
    rows = {row.rep.username: row for row in page.context["rows"]}
    assert rows["rep2"].reason == "absent"
    assert sum(row.attempts for row in rows.values()) > 0
    assert page.context["breaches"]


def test_the_api_shows_each_leads_clock(demo_at_three_pm, client):
    client.force_login(User.objects.get(username="ceo"))
    page = client.get("/api/v1/leads/", {"page_size": 200})
    assert page.status_code == 200
    results = page.json()["results"]
    assert results and all(lead["sla"] is not None for lead in results)
    assert {lead["sla"]["state"] for lead in results} >= {"met", "breached", "running"}


# --- the product's rules, and real data -------------------------------------------------------------


def test_every_step_happens_in_the_teams_working_time(demo_company):
    """The story's moments come from the product's working-time arithmetic on the
    lead's team calendar (a queue hand-out at the opening, calls, moves)."""
    schedules = {}
    for lead in Lead.objects.select_related("team__calendar"):
        schedules[lead.pk] = schedule_for(lead.team.calendar)
    for attempt in ContactAttempt.objects.all():
        assert is_working(schedules[attempt.lead_id], attempt.made_at), attempt.made_at
    for change in StageChange.objects.exclude(from_stage=None):
        assert is_working(schedules[change.lead_id], change.changed_at), change.changed_at
    for a in Assignment.objects.filter(kind=AssignmentKind.QUEUE):
        assert is_working(schedules[a.lead_id], a.created_at)
        assert a.reasons[-1]["code"] in ("mode", "next_after")  # choose_rep's own reasons


def test_every_demo_lead_carries_the_demo_mark(demo_company):
    assert demo.demo_leads().count() == Lead.objects.count() == 200
    assert not demo.real_leads().exists()
    first = InboundRequest.objects.order_by("id").first()
    assert first.extra == {"demo": "ТехноСфера"}


def a_real_lead():
    """A lead from a live intake: no demo mark on its request."""
    source = Source.objects.create(code="site", name="Сайт")
    outcome = take_lead(Submission(source=source, channel="form", phone="+74951234567", name="Настоящий"))
    return Lead.objects.get(pk=outcome.lead_id)


def test_refuses_a_database_with_real_leads_unless_forced():
    real = a_real_lead()
    with pytest.raises(CommandError, match="1 leads that are not demo leads"):
        run_demo()
    assert Lead.objects.count() == 1 and not User.objects.filter(username="rep1").exists()

    # make run's --if-empty starts the app on such a database and adds nothing.
    assert "holds real leads" in run_demo("--if-empty")
    assert Lead.objects.count() == 1

    out = run_demo("--force")
    assert "Generated 200 leads" in out
    assert demo.demo_leads().count() == 200 and list(demo.real_leads()) == [real]
    # --reset replaces the demo's leads only; the real one and its contact stay as they were.
    run_demo("--force", "--reset", leads="50")
    assert demo.demo_leads().count() == 50
    assert Lead.objects.filter(pk=real.pk, contact__phone="+74951234567").exists()
    assert demo.summary()["leads"] == 50
