"""Nurture tracks at work (leads.tracks): a lead sent to nurture with a listed
reason goes on that reason's track; the sweep runs each step when it is due
(email, wait, task), exactly once; emails go only to people who agreed to
advertising, carry an unsubscribe link, and an unsubscribe is honoured at once.

The story: a lead at qualification is sent to nurture "no budget" on Wednesday
2026-02-11 12:00 Moscow time. The track "Budget season" emails at once (after
the card's Undo window), waits 7 days, then gives a marketer a task.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.utils import translation

from leads import actions, tracks
from leads.choices import EnrollmentState, ReturnTrigger, StepKind
from leads.models import (
    InboundRequest,
    Lead,
    LeadEvent,
    MarketingConsent,
    MarketingTask,
    NurtureReason,
    NurtureStep,
    NurtureTrack,
    TrackEmail,
    TrackEmailState,
    TrackEnrollment,
    Unsubscribe,
)
from leads.returns import return_from_nurture
from leads.timeline import lead_context
from sla.messages import title
from sla.models import Notification, NotificationKind
from sla.sweep import sweep
from tests.concurrent import run_together
from tests.conftest import skip_or_fail
from tests.factories import ContactFactory, LeadFactory, ProductFactory, stage

pytestmark = pytest.mark.django_db

MOSCOW = ZoneInfo("Europe/Moscow")
NURTURED = dt.datetime(2026, 2, 11, 12, 0, tzinfo=MOSCOW)
FIRST = NURTURED + tracks.FIRST_STEP_DELAY


@pytest.fixture(autouse=True)
def _mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "https://crm.example.ru"


@pytest.fixture
def clock(db):
    with time_machine.travel(NURTURED, tick=False) as traveller:
        yield traveller


def reason(code):
    return NurtureReason.objects.get(code=code)


def make_track(name="Budget season", codes=("no_budget",), steps=None, *, active=True, created_at=None):
    track = NurtureTrack.objects.create(
        name=name, is_active=active, **({"created_at": created_at} if created_at else {})
    )
    track.reasons.set([reason(c) for c in codes])
    steps = steps or [
        {
            "kind": StepKind.EMAIL,
            "subject": "{{ name }}, бюджет на {{ product }}",
            "body": "Здравствуйте, {{ name }}! {{ company }} · {{ owner }}",
        },
        {"kind": StepKind.WAIT, "wait_days": 7},
        {"kind": StepKind.TASK, "task_text": "Позвонить и спросить про бюджет"},
    ]
    for position, step in enumerate(steps, start=1):
        NurtureStep.objects.create(track=track, position=position, **step)
    return track


def consenting_lead(rep, *, consent=True, email="anna@vector.ru"):
    contact = ContactFactory(name="Анна", company="ООО «Вектор»", email=email)
    lead = LeadFactory(
        owner=rep,
        contact=contact,
        stage=stage("qualification"),
        product=ProductFactory(code="crm", name="CRM"),
        created_at=NURTURED - dt.timedelta(hours=1),
    )
    request = InboundRequest.objects.create(lead=lead, contact=contact, source=lead.source, channel="form")
    if consent:
        MarketingConsent.objects.create(contact=contact, request=request, text_version="m1")
    return lead


def nurture(lead, rep, cause="no_budget", return_on=None):
    actions.send_to_nurture(lead, rep, "", return_on, cause=cause, at=NURTURED)
    return Lead.objects.get(pk=lead.pk)


def events(lead, kind):
    return list(LeadEvent.objects.filter(lead=lead, kind=kind).order_by("created_at", "id"))


# --- enrollment -----------------------------------------------------------------------------------


def test_a_lead_goes_on_the_track_of_its_listed_reason(rep, clock):
    track = make_track()
    make_track("Later", codes=("not_now",))
    lead = nurture(consenting_lead(rep), rep)

    enrollment = TrackEnrollment.objects.get(lead=lead)
    assert enrollment.track == track and enrollment.state == EnrollmentState.ACTIVE
    assert enrollment.step.position == 1 and enrollment.due_at == FIRST
    assert [e.data["name"] for e in events(lead, LeadEvent.Kind.ENROLLED)] == ["Budget season"]


def test_no_track_for_the_reason_means_no_enrollment(rep, clock):
    make_track(codes=("not_now",))
    make_track("Off", codes=("no_budget",), active=False)
    lead = nurture(consenting_lead(rep), rep)
    assert not TrackEnrollment.objects.filter(lead=lead).exists()
    assert not events(lead, LeadEvent.Kind.ENROLLED)


def test_of_two_active_tracks_with_the_reason_the_oldest_wins(rep, clock):
    older = make_track("Old", created_at=NURTURED - dt.timedelta(days=30))
    make_track("New")
    lead = nurture(consenting_lead(rep), rep)
    assert TrackEnrollment.objects.get(lead=lead).track == older


def test_the_attempts_rule_puts_a_silent_lead_on_the_no_answer_track(rep, clock):
    track = make_track("Silent", codes=("no_answer",))
    lead = LeadFactory(owner=rep, created_at=NURTURED - dt.timedelta(hours=2))
    for minutes in (0, 40, 80):
        actions.log_attempt(
            lead, rep, channel="call", outcome="no_answer", at=NURTURED + dt.timedelta(minutes=minutes)
        )
    assert TrackEnrollment.objects.get(lead=lead).track == track


def test_a_return_and_an_undo_stop_the_track(rep, clock):
    make_track()
    lead = nurture(consenting_lead(rep), rep)
    return_from_nurture(lead, ReturnTrigger.HAND, at=NURTURED + dt.timedelta(days=1))
    enrollment = TrackEnrollment.objects.get(lead=lead)
    assert enrollment.state == EnrollmentState.STOPPED and enrollment.ended_at is not None

    other = consenting_lead(rep, email="petr@vector.ru")
    actions.send_to_nurture(other, rep, "", None, cause="no_budget")
    change = actions.undoable_close(Lead.objects.get(pk=other.pk), rep)
    actions.undo_close(other, rep, change.pk)
    assert TrackEnrollment.objects.get(lead=other).state == EnrollmentState.STOPPED
    # Nothing of a stopped track runs.
    assert sweep(now=FIRST + dt.timedelta(days=30)).track_steps == 0
    assert not TrackEmail.objects.exists()


# --- the steps, with time travel ----------------------------------------------------------------------


def test_each_step_runs_when_due_and_the_track_finishes(rep, marketer, clock):
    lead = nurture(consenting_lead(rep), rep)
    make_track()  # made after: the lead above has no track
    lead = nurture(consenting_lead(rep, email="boris@vector.ru"), rep)
    enrollment = TrackEnrollment.objects.get(lead=lead)

    # Not before the Undo window is over.
    assert sweep(now=NURTURED + dt.timedelta(seconds=5)).track_steps == 0

    # 1. The email: written to the outbox with the step, sent in the same pass.
    clock.move_to(FIRST)
    result = sweep(now=FIRST)
    assert result.track_steps == 1 and result.track_emails == 1
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["boris@vector.ru"]
    assert sent.subject == "Анна, бюджет на CRM"
    assert "Здравствуйте, Анна! ООО «Вектор» · " + str(rep) in sent.body
    assert "https://crm.example.ru/unsubscribe/" in sent.body
    assert sent.extra_headers["List-Unsubscribe"].startswith("<https://crm.example.ru/unsubscribe/")
    assert sent.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert [e.data["subject"] for e in events(lead, LeadEvent.Kind.TRACK_EMAIL)] == ["Анна, бюджет на CRM"]
    enrollment.refresh_from_db()
    assert enrollment.step.kind == StepKind.WAIT and enrollment.due_at == FIRST

    # 2. The wait: the task is due 7 days later.
    result = sweep(now=FIRST + dt.timedelta(seconds=2))
    assert result.track_steps == 1
    enrollment.refresh_from_db()
    assert enrollment.step.kind == StepKind.TASK
    assert enrollment.due_at == FIRST + dt.timedelta(days=7, seconds=2)
    assert sweep(now=FIRST + dt.timedelta(days=6)).track_steps == 0

    # 3. The task, and the track is done.
    later = FIRST + dt.timedelta(days=7, seconds=2)
    assert sweep(now=later).track_steps == 1
    task = MarketingTask.objects.get(lead=lead)
    assert task.text == "Позвонить и спросить про бюджет" and task.done_at is None
    bell = Notification.objects.get(kind=NotificationKind.TRACK_TASK, recipient=marketer, channel="in_app")
    assert title(bell, "en") == f"Lead #{lead.pk}: a task from its nurture track"
    enrollment.refresh_from_db()
    assert enrollment.state == EnrollmentState.FINISHED and enrollment.ended_at == later
    assert len(events(lead, LeadEvent.Kind.TRACK_ENDED)) == 1
    assert len(events(lead, LeadEvent.Kind.TRACK_TASK)) == 1
    assert sweep(now=later + dt.timedelta(days=30)).track_steps == 0
    assert len(mail.outbox) == 1


def test_a_wait_at_the_end_finishes_after_the_wait(rep, clock):
    make_track(steps=[{"kind": StepKind.WAIT, "wait_days": 2}])
    lead = nurture(consenting_lead(rep), rep)
    assert sweep(now=FIRST).track_steps == 1
    assert TrackEnrollment.objects.get(lead=lead).state == EnrollmentState.ACTIVE
    assert sweep(now=FIRST + dt.timedelta(days=2)).track_steps == 1
    assert TrackEnrollment.objects.get(lead=lead).state == EnrollmentState.FINISHED


def test_the_command_prints_the_track_steps(rep, clock, capsys):
    make_track()
    nurture(consenting_lead(rep), rep)
    clock.move_to(FIRST + dt.timedelta(seconds=1))
    call_command("sla_sweep")
    out = capsys.readouterr().out
    assert "track_steps=1" in out and "track_emails=1" in out


def test_the_timeline_tells_the_track(rep, marketer, clock):
    make_track()
    lead = nurture(consenting_lead(rep), rep)
    sweep(now=FIRST)
    with translation.override("en"):
        timeline = lead_context(Lead.objects.get(pk=lead.pk), marketer)["timeline"]
        texts = {
            item.kind: (item.get_kind_display(), item.data["text"])
            for kind, _at, item in timeline
            if kind == "note"
        }
    assert texts[LeadEvent.Kind.ENROLLED] == ("Put on a nurture track", "track “Budget season”")
    assert texts[LeadEvent.Kind.TRACK_EMAIL] == ("Track email sent", "«Анна, бюджет на CRM»")


# --- consent ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("consent", "email", "why"),
    [(False, "anna@vector.ru", "no consent to advertising"), (True, "", "no email address")],
)
def test_without_consent_or_address_the_email_is_skipped_with_the_reason(
    rep, marketer, clock, consent, email, why
):
    make_track()
    lead = consenting_lead(rep, consent=consent, email=email)
    if not email:
        lead.contact.phone = "+79161234567"
        lead.contact.save()
    lead = nurture(lead, rep)
    result = sweep(now=FIRST)
    assert result.track_steps == 1 and result.track_emails == 0
    assert not mail.outbox and not TrackEmail.objects.exists()
    (event,) = events(lead, LeadEvent.Kind.TRACK_EMAIL)
    assert event.data["skipped"]
    with translation.override("en"):
        timeline = lead_context(Lead.objects.get(pk=lead.pk), marketer)["timeline"]
        (item,) = [i for k, _a, i in timeline if k == "note" and i.kind == LeadEvent.Kind.TRACK_EMAIL]
        assert item.get_kind_display() == "Track email not sent"
        assert item.data["text"] == f"not sent: {why}"
    # The track goes on: the wait comes next.
    assert TrackEnrollment.objects.get(lead=lead).step.kind == StepKind.WAIT


# --- exactly once -----------------------------------------------------------------------------------


def test_two_sweeps_one_after_the_other_send_once(rep, clock):
    make_track()
    nurture(consenting_lead(rep), rep)
    sweep(now=FIRST)
    sweep(now=FIRST)
    assert len(mail.outbox) == 1
    assert TrackEmail.objects.count() == 1


def test_a_worker_killed_after_writing_the_outbox_row_sends_it_later_once(rep, clock, monkeypatch):
    make_track()
    lead = nurture(consenting_lead(rep), rep)
    # The step ran and its outbox row was committed; the delivery never came
    # (the worker died): the next pass sends the row, and the step does not run again.
    assert tracks.run_due(FIRST) == 1
    assert TrackEmail.objects.get().state == TrackEmailState.PENDING
    result = sweep(now=FIRST + dt.timedelta(seconds=2))
    assert result.track_emails == 1 and len(mail.outbox) == 1
    # The pass ran the wait after the email; the email step did not run again.
    assert TrackEnrollment.objects.get(lead=lead).step.kind == StepKind.TASK
    assert TrackEmail.objects.count() == 1


def test_a_worker_killed_while_sending_leaves_a_hold_that_expires(rep, clock, monkeypatch):
    make_track()
    nurture(consenting_lead(rep), rep)
    tracks.run_due(FIRST)
    # Claimed by a worker that then died: nobody else sends it until the hold expires.
    email = TrackEmail.objects.get()
    TrackEmail.objects.filter(pk=email.pk).update(
        claimed_until=FIRST + dt.timedelta(seconds=tracks.CLAIM_SECONDS)
    )
    assert tracks.deliver_due(FIRST + dt.timedelta(seconds=5)) == 0
    assert tracks.deliver_due(FIRST + dt.timedelta(seconds=tracks.CLAIM_SECONDS + 1)) == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].extra_headers["Message-ID"] == f"<track-email.{email.pk}@revops>"


def test_a_failing_backend_is_retried_and_sends_once(rep, clock, monkeypatch):
    make_track()
    nurture(consenting_lead(rep), rep)
    tracks.run_due(FIRST)
    calls = []

    def broken(self, fail_silently=False):
        calls.append(1)
        raise OSError("smtp down")

    monkeypatch.setattr("django.core.mail.EmailMessage.send", broken)
    assert tracks.deliver_due(FIRST) == 0
    email = TrackEmail.objects.get()
    assert email.state == TrackEmailState.PENDING and email.attempts == 1 and "smtp down" in email.last_error
    monkeypatch.undo()
    assert tracks.deliver_due(FIRST + dt.timedelta(seconds=30)) == 0  # not yet: backoff
    assert tracks.deliver_due(FIRST + dt.timedelta(minutes=2)) == 1
    assert len(mail.outbox) == 1


def test_a_failing_step_is_retried_later_and_others_go_on(rep, clock, monkeypatch):
    make_track()
    first = nurture(consenting_lead(rep), rep)
    nurture(consenting_lead(rep, email="oleg@vector.ru"), rep)
    original = tracks._queue_email

    def flaky(enrollment, lead, step, now):
        if lead.pk == first.pk:
            raise RuntimeError("boom")
        return original(enrollment, lead, step, now)

    monkeypatch.setattr(tracks, "_queue_email", flaky)
    assert tracks.run_due(FIRST) == 1
    failed = TrackEnrollment.objects.get(lead=first)
    assert failed.step.position == 1 and failed.sweep_retry_at == FIRST + dt.timedelta(
        seconds=tracks.RETRY_SECONDS
    )
    monkeypatch.undo()
    assert tracks.run_due(FIRST + dt.timedelta(seconds=10)) == 1  # only the other's wait step
    assert tracks.run_due(FIRST + dt.timedelta(seconds=61)) == 1
    assert TrackEmail.objects.count() == 2


ON_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=ON_POSTGRES)
def test_two_sweeps_at_once_run_each_step_once(rep):
    if connection.vendor != "postgresql":
        skip_or_fail("needs PostgreSQL (row locks and SKIP LOCKED)")
    with time_machine.travel(NURTURED, tick=False):
        make_track()
        for n in range(30):
            nurture(consenting_lead(rep, email=f"p{n}@vector.ru"), rep)
        results = run_together(lambda: sweep(now=FIRST))
        results.append(sweep(now=FIRST))  # what a locked lead left to the next pass

    assert TrackEmail.objects.count() == 30
    assert TrackEmail.objects.filter(state=TrackEmailState.SENT).count() == 30
    assert len(mail.outbox) == 30
    assert LeadEvent.objects.filter(kind=LeadEvent.Kind.TRACK_EMAIL).count() == 30


# --- unsubscribe ----------------------------------------------------------------------------------


def test_an_unsubscribe_is_honoured_at_once_and_kept(rep, clock):
    make_track(
        steps=[
            {"kind": StepKind.EMAIL, "subject": "Раз", "body": "Текст"},
            {"kind": StepKind.EMAIL, "subject": "Два", "body": "Текст"},
        ]
    )
    lead = nurture(consenting_lead(rep), rep)
    tracks.run_due(FIRST)  # the first email waits in the outbox
    assert tracks.unsubscribe(lead.contact) is True
    assert TrackEmail.objects.get().state == TrackEmailState.CANCELLED
    assert tracks.deliver_due(FIRST) == 0
    assert sweep(now=FIRST + dt.timedelta(seconds=2)).track_emails == 0
    assert not mail.outbox
    (event,) = events(lead, LeadEvent.Kind.TRACK_EMAIL)
    assert event.data["skipped"] == "unsubscribed"
    assert len(events(lead, LeadEvent.Kind.UNSUBSCRIBED)) == 1
    # Again: nothing new.
    assert tracks.unsubscribe(lead.contact) is False
    assert len(events(lead, LeadEvent.Kind.UNSUBSCRIBED)) == 1


def test_delivery_checks_the_unsubscribe_once_more(rep, clock):
    make_track()
    lead = nurture(consenting_lead(rep), rep)
    tracks.run_due(FIRST)
    Unsubscribe.objects.create(contact=lead.contact)  # written by another way, rows still pending
    assert tracks.deliver_due(FIRST) == 0
    assert TrackEmail.objects.get().state == TrackEmailState.CANCELLED


def test_tokens_name_the_contact_and_refuse_forgeries(rep, clock):
    contact = consenting_lead(rep).contact
    token = tracks.unsubscribe_token(contact)
    assert tracks.contact_id_from(token) == contact.pk
    assert tracks.contact_id_from(token[:-2] + "xx") is None
    assert tracks.contact_id_from("garbage") is None
    from django.core import signing

    assert tracks.contact_id_from(signing.dumps(contact.pk)) is None  # another salt
    assert tracks.contact_id_from(signing.dumps("1", salt=tracks.UNSUBSCRIBE_SALT)) is None


def test_template_checks():
    assert tracks.template_errors("Hello {{ name }} from {{ company|upper }}") == []
    assert tracks.template_errors("{% if name %}{{ name }}{% endif %}") == []
    with translation.override("en"):
        assert "error" in tracks.template_errors("{{ name|nosuchfilter }}")[0]
        assert "error" in tracks.template_errors("{% if %}")[0]
        assert tracks.template_errors("{% for x in name %}{% endfor %}")  # only `if` is known
        assert "Unknown field {{ nmae }}" in tracks.template_errors("{{ nmae }}")[0]
        assert tracks.template_errors("{% load static %}")
        assert tracks.template_errors("{% include 'base.html' %}")
        assert tracks.template_errors("{% url 'home' %}")


def test_the_first_step_waits_out_the_cards_undo_window():
    assert tracks.FIRST_STEP_DELAY >= actions.UNDO_WINDOW


def test_the_database_keeps_one_email_per_step_and_one_unsubscribe(rep, clock):
    from django.db import IntegrityError, transaction

    make_track()
    lead = nurture(consenting_lead(rep), rep)
    tracks.run_due(FIRST)
    email = TrackEmail.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        TrackEmail.objects.create(
            enrollment=email.enrollment,
            step=email.step,
            lead=lead,
            contact=lead.contact,
            to="x@y.ru",
            subject="S",
            body="B",
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        TrackEmail.objects.filter(pk=email.pk).update(state="sent")  # a sent email has its time
    tracks.unsubscribe(lead.contact)
    with pytest.raises(IntegrityError), transaction.atomic():
        Unsubscribe.objects.create(contact=lead.contact)
    with pytest.raises(IntegrityError), transaction.atomic():
        MarketingTask.objects.create(lead=lead, enrollment=email.enrollment, text="t", done_by=rep)
