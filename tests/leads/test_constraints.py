"""The rules that must hold are enforced by the database itself, not only by
forms: each test writes a bad row past Python validation and expects refusal."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from leads.models import Contact, ContactAttempt, Lead, QualificationCriterion, RejectionReason, Spend, Stage
from tests.factories import ContactFactory, DealFactory, LeadFactory, SourceFactory

pytestmark = pytest.mark.django_db


def refused(fn):
    with pytest.raises(IntegrityError), transaction.atomic():
        fn()


def test_the_contract_vocabulary_is_seeded():
    assert list(Stage.objects.exclude(position=None).order_by("position").values_list("code", flat=True)) == [
        "lead",
        "qualification",
        "meeting",
        "proposal",
        "deal",
    ]
    assert dict(Stage.objects.values_list("code", "kind")) == {
        "lead": "open",
        "qualification": "open",
        "meeting": "open",
        "proposal": "open",
        "deal": "won",
        "lost": "lost",
        "nurture": "nurture",
    }
    assert set(RejectionReason.objects.values_list("code", flat=True)) == {
        "not_target",
        "no_need",
        "no_budget",
        "no_authority",
        "chose_competitor",
        "price",
        "not_now",
        "wrong_contacts",
        "duplicate",
        "spam",
        "other",
    }
    assert RejectionReason.objects.get(code="other").requires_comment
    assert QualificationCriterion.objects.filter(segment=None, level="mql").count() >= 4
    assert QualificationCriterion.objects.filter(segment=None, level="sql").count() >= 3


def test_contacts_are_unique_by_phone_and_by_email():
    ContactFactory(phone="+79161234567", email="a@example.ru")
    refused(lambda: Contact.objects.create(phone="+79161234567"))
    refused(lambda: Contact.objects.create(email="a@example.ru"))
    # Several contacts without a phone (email only) are fine.
    Contact.objects.create(email="b@example.ru")
    Contact.objects.create(email="c@example.ru")


def test_a_contact_needs_a_way_to_reach_it_in_normalised_form():
    refused(lambda: Contact.objects.create(name="Nobody"))
    refused(lambda: Contact.objects.create(phone="8 916 123-45-67"))
    refused(lambda: Contact.objects.create(email="Upper@Example.ru"))


def test_lead_codes_must_be_from_the_vocabulary():
    lead = LeadFactory()
    for field, value in [
        ("channel", "fax"),
        ("qualification", "hot"),
        ("priority", "asap"),
        ("fit", "maybe"),
    ]:
        refused(lambda f=field, v=value: Lead.objects.filter(pk=lead.pk).update(**{f: v}))


def test_lead_times_cannot_precede_arrival():
    lead = LeadFactory()
    earlier = lead.created_at - dt.timedelta(minutes=1)
    refused(lambda: Lead.objects.filter(pk=lead.pk).update(first_contact_at=earlier))
    refused(lambda: Lead.objects.filter(pk=lead.pk).update(closed_at=earlier))


def test_a_rejection_comment_needs_a_reason():
    lead = LeadFactory()
    refused(lambda: Lead.objects.filter(pk=lead.pk).update(rejection_comment="no reason given"))


def test_other_as_a_reason_always_requires_a_comment():
    refused(lambda: RejectionReason.objects.filter(code="other").update(requires_comment=False))


def test_only_open_and_won_stages_have_a_position():
    refused(lambda: Stage.objects.filter(code="lost").update(position=99))


def test_deals_keep_margin_within_amount_and_date_closed_ones():
    lead = LeadFactory()
    refused(lambda: DealFactory(lead=lead, amount=Decimal("100"), margin=Decimal("101")))
    refused(lambda: DealFactory(lead=lead, amount=Decimal("-1"), margin=Decimal("-2")))
    refused(lambda: DealFactory(lead=lead, status="won", closed_on=None))
    DealFactory(lead=lead, status="won", closed_on=dt.date(2026, 11, 1))


def test_spend_is_per_month_and_never_negative():
    source = SourceFactory()
    Spend.objects.create(source=source, month=dt.date(2026, 10, 1), amount=Decimal("1000"))
    refused(lambda: Spend.objects.create(source=source, month=dt.date(2026, 10, 1), amount=Decimal("5")))
    refused(lambda: Spend.objects.create(source=source, month=dt.date(2026, 9, 15), amount=Decimal("5")))
    refused(lambda: Spend.objects.create(source=source, month=dt.date(2026, 8, 1), amount=Decimal("-5")))


def test_a_callback_is_in_the_future_of_its_attempt():
    lead = LeadFactory()
    now = timezone.now()
    refused(
        lambda: ContactAttempt.objects.create(
            lead=lead, channel="call", outcome="reached", made_at=now, callback_at=now - dt.timedelta(hours=1)
        )
    )
    refused(lambda: ContactAttempt.objects.create(lead=lead, channel="pigeon", outcome="reached"))
    refused(lambda: ContactAttempt.objects.create(lead=lead, channel="call", outcome="maybe"))


def test_a_lead_has_one_running_first_contact_timer_and_a_notification_one_dedupe_key(rep):
    """Both rules live in unique indexes that a migration once came close to
    dropping (sla/migrations/0003): the database itself must refuse."""
    from sla.models import Notification, SlaPolicy, SlaTimer, TimerKind

    lead = LeadFactory()
    now = timezone.now()
    policy = SlaPolicy.objects.first()

    def timer(state="running", **ended):
        return SlaTimer.objects.create(
            **ended,
            lead=lead,
            kind=TimerKind.FIRST_CONTACT,
            policy=policy,
            state=state,
            started_at=now,
            budget_seconds=900,
            due_at=now,
        )

    timer()
    refused(timer)
    timer(state="cancelled", cancelled_at=now)  # ended ones may be many
    timer(state="cancelled", cancelled_at=now)
    Notification.objects.create(recipient=rep, channel="in_app", kind="new_lead", dedupe_key="k:1")
    refused(
        lambda: Notification.objects.create(
            recipient=rep, channel="in_app", kind="new_lead", dedupe_key="k:1"
        )
    )
