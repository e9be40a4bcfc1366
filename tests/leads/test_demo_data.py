"""`manage.py demo_data`: a believable, reproducible company that every role can log into."""

from datetime import datetime, timedelta
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.db.models import Count, F, Max, Q

from leads import demo
from leads.choices import FAILED_CALL_OUTCOMES, DealStatus, Qualification, StageKind
from leads.contacts import normalize_phone
from leads.models import (
    Campaign,
    Contact,
    ContactAttempt,
    CriterionAnswer,
    Deal,
    InboundRequest,
    Lead,
    QualificationCriterion,
    Segment,
    Source,
    Spend,
    StageChange,
)
from revops.models import Team, User
from revops.roles import Role

TODAY = "2026-03-16"
LEADS = "200"

pytestmark = pytest.mark.django_db


def run_demo(*args, leads=LEADS, today=TODAY) -> str:
    out = StringIO()
    call_command("demo_data", "--leads", leads, "--today", today, *args, stdout=out)
    return out.getvalue()


def end_of_demo_year():
    return datetime.fromisoformat(TODAY).replace(tzinfo=ZoneInfo(settings.TIME_ZONE))


@pytest.fixture
def demo_company():
    run_demo()


def test_working_time_jumps_over_nights_weekends_and_holidays():
    tz = ZoneInfo("Europe/Moscow")
    calendar = demo.WorkCalendar(tz, [2026])
    friday_evening = datetime(2026, 3, 6, 18, 55, tzinfo=tz)  # Monday 9 March is a holiday in 2026
    assert calendar.add_minutes(friday_evening, 15) == datetime(2026, 3, 10, 9, 10, tzinfo=tz)
    assert calendar.add_minutes(datetime(2026, 3, 11, 7, 0, tzinfo=tz), 30) == datetime(
        2026, 3, 11, 9, 30, tzinfo=tz
    )


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
        assert authenticate(username=username, password="demo") == user
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


# --- determinism and idempotency ---------------------------------------------------------------------


def detail_snapshot():
    """More than the lead list: the rows hanging off the leads, too."""
    return (
        demo.snapshot(),
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
        if lead.qualification == Qualification.SQL:
            assert lead.furthest_stage.position >= 3
        if lead.stage_changed_at:
            assert lead.stage_changed_at == last_change[lead.pk]
        assert lead.updated_at == (lead.stage_changed_at or lead.created_at)


def test_histories_follow_the_clock(demo_company):
    end = end_of_demo_year()
    for change in StageChange.objects.select_related("lead"):
        assert change.lead.created_at <= change.changed_at < end
        assert change.changed_by_id == change.lead.owner_id
    for attempt in ContactAttempt.objects.select_related("lead"):
        assert attempt.lead.created_at <= attempt.made_at < end
        assert attempt.made_by_id == attempt.lead.owner_id
        assert attempt.callback_at is None or attempt.callback_at > attempt.made_at
        assert attempt.counted == (attempt.outcome in FAILED_CALL_OUTCOMES)
    for request in InboundRequest.objects.select_related("lead"):
        assert request.lead.created_at <= request.received_at < end
        assert request.contact_id == request.lead.contact_id
    for deal in Deal.objects.select_related("lead"):
        assert Decimal("150000") <= deal.amount <= Decimal("5000000")
        assert deal.amount * Decimal("0.2") <= deal.margin <= deal.amount * Decimal("0.45")
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
    assert Deal.objects.filter(status=DealStatus.LOST).exists()
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
    assert leads.filter(owner__isnull=True).count() < 0.02 * leads.count()
    assert not leads.filter(Q(owner__isnull=True) & ~Q(stage__kind=StageKind.OPEN)).exists()
    assert Contact.objects.filter(email="").exists() and Contact.objects.exclude(email="").exists()
    assert leads.filter(created_at__gte=end).count() == 0
    assert all(t < end for t in StageChange.objects.values_list("changed_at", flat=True))
