"""Delivering the outbox (sla/delivery.py): claims, sending, retries with backoff,
in-app rows, the recipient's language, Message-ID; and two workers at once on
PostgreSQL.

Emails go to Django's locmem backend (pytest-django's `mailoutbox`). The clock is
frozen at Wednesday 2026-02-11 11:15 Moscow time, when the lead breached its SLA.

rep — owns the lead, has an email address, reads the app in English unless a test
      says otherwise
head — head of the team, no email address (in-app only)
"""

import datetime as dt
import re
import smtplib
import threading
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import connection
from django.utils import translation

from sla.delivery import BACKOFF_SECONDS, CLAIM_SECONDS, MAX_ATTEMPTS, claim, deliver_due
from sla.models import DeliveryState, Notification, NotificationChannel, NotificationKind
from sla.notify import notify
from tests.conftest import skip_or_fail
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

MOSCOW = ZoneInfo("Europe/Moscow")
NOW = dt.datetime(2026, 2, 11, 11, 15, tzinfo=MOSCOW)
CYRILLIC = re.compile(r"[а-яА-ЯёЁ]")


@pytest.fixture(autouse=True)
def clock(db):
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def rep(rep):
    rep.email = "rep@example.ru"
    rep.language = "en"
    rep.save()
    return rep


@pytest.fixture
def lead(rep):
    return LeadFactory(owner=rep)


def breach_notice(lead, recipients, event="breach:1", **kwargs):
    notify(
        recipients, NotificationKind.SLA_BREACH, lead=lead, event=event, params={"lead": lead.pk}, **kwargs
    )


@pytest.fixture
def email(lead, rep):
    """One pending email (and its in-app twin) about the lead's breach."""
    breach_notice(lead, [rep])
    return Notification.objects.get(channel=NotificationChannel.EMAIL)


def later(seconds) -> dt.datetime:
    return NOW + dt.timedelta(seconds=seconds)


# --- sending --------------------------------------------------------------------------------------


def test_it_sends_a_pending_email_and_marks_it_delivered(email, rep, lead, mailoutbox):
    counts = deliver_due(now=NOW)

    assert counts == {"delivered": 1, "retry": 0, "failed": 0, "skipped": 0}
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["rep@example.ru"]
    assert message.subject == f"[revops] Lead #{lead.pk} missed its SLA deadline"
    assert f"/leads/{lead.pk}/" in message.body
    email.refresh_from_db()
    assert email.state == DeliveryState.DELIVERED
    assert email.delivered_at == NOW
    assert email.attempts == 1
    assert email.claimed_until is None
    assert email.last_error == ""


def test_running_delivery_twice_sends_once(email, mailoutbox):
    deliver_due(now=NOW)

    assert deliver_due(now=later(60)) == {"delivered": 0, "retry": 0, "failed": 0, "skipped": 0}
    assert len(mailoutbox) == 1


def test_a_row_not_yet_due_waits(email, mailoutbox):
    Notification.objects.filter(pk=email.pk).update(next_attempt_at=later(60))

    assert deliver_due(now=NOW)["delivered"] == 0
    assert deliver_due(now=later(60))["delivered"] == 1
    assert len(mailoutbox) == 1


def test_in_app_rows_are_delivered_by_being_written_and_never_picked(lead, rep, head, mailoutbox):
    breach_notice(lead, [rep, head])

    in_app = Notification.objects.filter(channel=NotificationChannel.IN_APP)
    assert {(n.recipient.username, n.state, n.delivered_at) for n in in_app} == {
        ("rep", DeliveryState.DELIVERED, NOW),
        ("head", DeliveryState.DELIVERED, NOW),
    }
    assert not Notification.objects.due(later(3600)).filter(channel=NotificationChannel.IN_APP).exists()

    counts = deliver_due(now=later(3600))

    assert counts["delivered"] == 1  # the rep's email only: the head has no address
    assert [m.to for m in mailoutbox] == [["rep@example.ru"]]
    assert set(in_app.values_list("attempts", flat=True)) == {0}


# --- claims -------------------------------------------------------------------------------------


def test_only_one_of_two_claims_wins(email):
    assert claim(email.pk, NOW) is True
    assert claim(email.pk, NOW) is False

    email.refresh_from_db()
    assert email.claimed_until == later(CLAIM_SECONDS)


def test_a_claimed_row_is_left_to_its_worker(email, mailoutbox):
    assert claim(email.pk, NOW)

    assert deliver_due(now=later(CLAIM_SECONDS - 1))["delivered"] == 0
    assert mailoutbox == []


def test_a_stale_claim_can_be_taken_again(email, mailoutbox):
    assert claim(email.pk, NOW)  # the worker that took it was killed

    assert claim(email.pk, later(CLAIM_SECONDS)) is False  # still held at the very edge
    assert claim(email.pk, later(CLAIM_SECONDS + 1)) is True


def test_a_row_left_by_a_killed_worker_is_delivered_after_its_claim_expires(email, mailoutbox):
    claim(email.pk, NOW)

    assert deliver_due(now=later(CLAIM_SECONDS + 1))["delivered"] == 1
    assert len(mailoutbox) == 1


def test_a_delivered_row_cannot_be_claimed(email):
    deliver_due(now=NOW)

    assert claim(email.pk, later(3600)) is False


# --- failures -----------------------------------------------------------------------------------


@pytest.fixture
def broken_smtp(monkeypatch):
    calls = []

    def send(self, fail_silently=False):
        calls.append(self)
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")

    monkeypatch.setattr(EmailMessage, "send", send)
    return calls


def test_a_failure_is_stored_and_retried_with_backoff(email, broken_smtp, caplog):
    counts = deliver_due(now=NOW)

    assert counts == {"delivered": 0, "retry": 1, "failed": 0, "skipped": 0}
    email.refresh_from_db()
    assert email.state == DeliveryState.PENDING
    assert email.attempts == 1
    assert email.next_attempt_at == later(BACKOFF_SECONDS[0])
    assert email.claimed_until is None
    assert email.last_error == "SMTPServerDisconnected: Connection unexpectedly closed"
    # Logged with the row, never with the address (personal data stays out of logs).
    assert any(str(email.pk) in r.getMessage() for r in caplog.records)
    assert "rep@example.ru" not in caplog.text

    # Not before the backoff has passed.
    assert deliver_due(now=later(BACKOFF_SECONDS[0] - 1))["retry"] == 0
    assert len(broken_smtp) == 1


def test_it_backs_off_longer_each_time_and_gives_up_after_the_last_attempt(email, broken_smtp):
    at, delays = NOW, []
    for attempt in range(1, MAX_ATTEMPTS):
        counts = deliver_due(now=at)
        assert counts["retry"] == 1, attempt
        email.refresh_from_db()
        delay = BACKOFF_SECONDS[min(attempt - 1, len(BACKOFF_SECONDS) - 1)]
        assert (email.state, email.attempts) == (DeliveryState.PENDING, attempt)
        assert email.next_attempt_at == at + dt.timedelta(seconds=delay)
        delays.append(delay)
        at = email.next_attempt_at
    assert delays == sorted(delays) and delays[0] < delays[-1]  # it backs off

    assert deliver_due(now=at) == {"delivered": 0, "retry": 0, "failed": 1, "skipped": 0}

    email.refresh_from_db()
    assert (email.state, email.attempts) == (DeliveryState.FAILED, MAX_ATTEMPTS)
    assert deliver_due(now=at + dt.timedelta(days=1))["failed"] == 0
    assert len(broken_smtp) == MAX_ATTEMPTS
    assert Notification.objects.filter(state=DeliveryState.FAILED).count() == 1


def test_a_retry_that_succeeds_is_delivered(email, broken_smtp, monkeypatch, mailoutbox):
    deliver_due(now=NOW)
    monkeypatch.undo()  # the mail server is back

    assert deliver_due(now=later(BACKOFF_SECONDS[0]))["delivered"] == 1

    email.refresh_from_db()
    assert (email.state, email.attempts, email.last_error) == (DeliveryState.DELIVERED, 2, "")
    assert len(mailoutbox) == 1


def test_one_failing_row_does_not_hold_up_the_others(lead, rep, teammate, monkeypatch, mailoutbox):
    teammate.email = "teammate@example.ru"
    teammate.save()
    breach_notice(lead, [rep, teammate])
    original = EmailMessage.send

    def send(self, fail_silently=False):
        if self.to == ["rep@example.ru"]:
            raise smtplib.SMTPRecipientsRefused({"rep@example.ru": (550, b"no such user")})
        return original(self, fail_silently)

    monkeypatch.setattr(EmailMessage, "send", send)

    counts = deliver_due(now=NOW)

    assert (counts["delivered"], counts["retry"]) == (1, 1)
    assert [m.to for m in mailoutbox] == [["teammate@example.ru"]]


# --- language and Message-ID ----------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "ru", ""])
def test_the_subject_is_in_the_recipients_language(lead, rep, mailoutbox, language):
    rep.language = language
    rep.save()
    breach_notice(lead, [rep], channels=[NotificationChannel.EMAIL])

    with translation.override("en" if language != "en" else "ru"):  # the worker's own language is irrelevant
        deliver_due(now=NOW)
        assert translation.get_language() == ("en" if language != "en" else "ru")  # and is left as it was

    subject = mailoutbox[0].subject
    assert str(lead.pk) in subject
    if (language or settings.LANGUAGE_CODE) == "en":
        assert subject == f"[revops] Lead #{lead.pk} missed its SLA deadline"
    else:
        assert CYRILLIC.search(subject), subject


def message_id(message) -> str:
    return message.message()["Message-ID"]


def test_the_message_id_is_stable_per_row(lead, rep, mailoutbox):
    breach_notice(lead, [rep], event="breach:1", channels=[NotificationChannel.EMAIL])
    breach_notice(lead, [rep], event="breach:2", channels=[NotificationChannel.EMAIL])
    first = Notification.objects.get(dedupe_key__contains="breach:1")
    deliver_due(now=NOW)
    # The worker sent the first row but was killed before marking it: it goes again.
    Notification.objects.filter(pk=first.pk).update(state=DeliveryState.PENDING, delivered_at=None)

    deliver_due(now=later(60))

    ids = [message_id(m) for m in mailoutbox]
    assert len(ids) == 3
    assert Counter(ids).most_common(1)[0][1] == 2  # the repeat carries the same id …
    assert len(set(ids)) == 2  # … and another row has its own
    assert all(re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", i) for i in ids), ids


# --- two workers at once (PostgreSQL) -------------------------------------------------------------

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=ON_POSTGRES)
def test_two_workers_at_once_send_each_email_once(rep, mailoutbox):
    if connection.vendor != "postgresql":
        skip_or_fail("needs PostgreSQL (concurrent claims)")
    lead = LeadFactory(owner=rep)
    for n in range(40):
        breach_notice(lead, [rep], event=f"breach:{n}", channels=[NotificationChannel.EMAIL])
    barrier = threading.Barrier(2)
    results, errors = [], []

    def worker():
        try:
            barrier.wait(timeout=10)
            results.append(deliver_due(now=NOW))
        except Exception as exc:  # reported to the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors, errors
    assert sum(r["delivered"] for r in results) == 40
    assert len(mailoutbox) == 40
    assert len({message_id(m) for m in mailoutbox}) == 40
    assert Notification.objects.filter(state=DeliveryState.DELIVERED, attempts=1).count() == 40
