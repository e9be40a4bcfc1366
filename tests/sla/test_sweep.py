"""The sweep (sla/sweep.py): breaches, reminders, escalations, whose delay it was,
notifications, robustness against a bad row, batches, the command, the lag, and two
sweeps at once on PostgreSQL.

The story: a lead arrives on Wednesday 2026-02-11 at 11:00 Moscow time, an ordinary
working day on the default calendar (Mon–Fri 09–13 and 14–18). The default policy
gives 15 working minutes, so the first contact is due at 11:15; the owner is reminded
at 67 % of the time (11:10:03); an unresolved breach is escalated to the executives
an hour after it was recorded.

rep       — owns the lead (has an email address, so gets in-app and email)
head      — head of the rep's team (no email address: in-app only)
teammate  — another rep of the team: takes the lead when the policy reassigns
ceo       — the executive who gets escalations
"""

import datetime as dt
import io
import logging
import threading
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

import sla.sweep
from leads.assignment import assign_manually
from leads.choices import AssignmentKind
from leads.models import Assignment, Contact, ContactAttempt, Lead
from revops.models import Absence
from sla import actions
from sla.clock import start_callback_timer, start_first_contact_timer
from sla.models import (
    Breach,
    DelayOwner,
    DeliveryState,
    Notification,
    NotificationChannel,
    NotificationKind,
    SlaPolicy,
    SlaTimer,
    TeamWebhook,
    TimerKind,
    TimerState,
)
from sla.notify import notify
from sla.sweep import lag, sweep
from tests.conftest import skip_or_fail
from tests.factories import LeadFactory, SourceFactory, stage

pytestmark = pytest.mark.django_db

MOSCOW = ZoneInfo("Europe/Moscow")


def msk(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=MOSCOW)


ARRIVAL = msk(2026, 2, 11, 11, 0)
REMIND = msk(2026, 2, 11, 11, 10, 3)
DUE = msk(2026, 2, 11, 11, 15)
HOUR = dt.timedelta(hours=1)

IN_APP, EMAIL, WEBHOOK = NotificationChannel.IN_APP, NotificationChannel.EMAIL, NotificationChannel.WEBHOOK


@pytest.fixture
def clock(db):
    with time_machine.travel(ARRIVAL, tick=False) as traveller:
        yield traveller


@pytest.fixture
def rep(rep):
    rep.email = "rep@example.ru"
    rep.save()
    return rep


@pytest.fixture
def ceo(ceo):
    ceo.email = "ceo@example.ru"
    ceo.save()
    return ceo


def arrive(*, owner=None, team=None, at=ARRIVAL, history=True, **fields):
    """A lead arriving at `at` as intake takes it: assigned (or left waiting in the
    team queue when `owner` is None) with an Assignment row, then the clock starts."""
    team = team or (owner.team if owner else None)
    lead = LeadFactory(owner=owner, team=team, created_at=at, **fields)
    if history:
        Assignment.objects.create(
            lead=lead, team=team, to_owner=owner, kind=AssignmentKind.AUTO, created_at=at
        )
    return lead, start_first_contact_timer(lead, at)


def sent(kind) -> Counter:
    """(recipient username or webhook URL, channel) → number of rows of `kind`."""
    return Counter(
        (n.recipient.username if n.recipient_id else n.target_url, n.channel)
        for n in Notification.objects.filter(kind=kind).select_related("recipient")
    )


# --- breaching ------------------------------------------------------------------------------------


def test_it_reports_nothing_when_nothing_is_due(clock, rep, head):
    arrive(owner=rep)

    result = sweep(now=msk(2026, 2, 11, 11, 5))

    assert (
        str(result)
        == "breached=0 reminded=0 escalated=0 returned=0 track_steps=0 track_emails=0 dispute_reminded=0 dispute_escalated=0"
    )
    assert not Breach.objects.exists()
    assert not Notification.objects.filter(kind=NotificationKind.SLA_BREACH).exists()


def test_it_breaches_a_due_timer(clock, rep, head):
    lead, timer = arrive(owner=rep)

    result = sweep(now=DUE)

    assert result.breached == 1
    timer.refresh_from_db()
    assert (timer.state, timer.breached_at) == (TimerState.BREACHED, DUE)
    breach = Breach.objects.get()
    assert breach.timer == timer
    assert breach.kind == TimerKind.FIRST_CONTACT
    assert breach.lead == lead
    assert breach.owner == rep
    assert breach.team == rep.team
    assert breach.source == lead.source
    assert breach.delay_owner == DelayOwner.REP
    assert breach.due_at == DUE
    assert breach.created_at == DUE
    assert breach.escalate_at == DUE + HOUR


def test_a_timer_not_yet_due_is_left_running(clock, rep, head):
    _, timer = arrive(owner=rep)

    assert sweep(now=DUE - dt.timedelta(seconds=1)).breached == 0

    timer.refresh_from_db()
    assert timer.state == TimerState.RUNNING


def test_a_breached_timer_is_not_breached_again(clock, rep, head):
    _, timer = arrive(owner=rep)
    sweep(now=DUE)

    later = sweep(now=DUE + dt.timedelta(minutes=5))

    assert later.breached == 0
    assert Breach.objects.count() == 1
    timer.refresh_from_db()
    assert timer.breached_at == DUE


def test_met_and_cancelled_timers_are_never_breached(clock, rep, head):
    _, met = arrive(owner=rep)
    SlaTimer.objects.filter(pk=met.pk).update(state=TimerState.MET, met_at=DUE - dt.timedelta(minutes=1))
    _, cancelled = arrive(owner=rep)
    SlaTimer.objects.filter(pk=cancelled.pk).update(state=TimerState.CANCELLED, cancelled_at=ARRIVAL)

    assert sweep(now=DUE + HOUR).breached == 0
    assert not Breach.objects.exists()


def test_a_missed_callback_is_breached_as_a_callback(clock, rep, head):
    lead, first_contact = arrive(owner=rep)
    SlaTimer.objects.filter(pk=first_contact.pk).update(state=TimerState.MET, met_at=ARRIVAL)
    agreed = msk(2026, 2, 11, 16, 0)
    call = ContactAttempt.objects.create(
        lead=lead, channel="call", outcome="busy", made_at=ARRIVAL, callback_at=agreed, made_by=rep
    )
    callback = start_callback_timer(lead, call, agreed)

    assert sweep(now=agreed - dt.timedelta(seconds=1)).breached == 0
    assert sweep(now=agreed).breached == 1

    breach = Breach.objects.get()
    assert (breach.timer, breach.kind, breach.delay_owner) == (callback, TimerKind.CALLBACK, DelayOwner.REP)


def test_the_database_refuses_a_second_breach_of_the_same_timer(clock, rep, head):
    lead, timer = arrive(owner=rep)
    sweep(now=DUE)

    with pytest.raises(IntegrityError), transaction.atomic():
        Breach.objects.create(
            timer=timer, kind=timer.kind, lead=lead, delay_owner=DelayOwner.REP, due_at=timer.due_at
        )
    assert Breach.objects.count() == 1


# --- whose delay ----------------------------------------------------------------------------------


def test_an_unassigned_lead_at_the_deadline_is_the_systems_delay_even_if_assigned_later(clock, rep, head):
    lead, _ = arrive(owner=None, team=rep.team)  # nobody could take it: waits in the queue
    clock.move_to(DUE + dt.timedelta(minutes=5))
    assign_manually(lead, rep, head, at=DUE + dt.timedelta(minutes=5))  # the head hands it over late

    sweep(now=DUE + dt.timedelta(minutes=10))

    breach = Breach.objects.get()
    assert breach.delay_owner == DelayOwner.SYSTEM
    assert breach.owner is None
    assert breach.team == rep.team
    # The current owner and the head still hear about it.
    assert sent(NotificationKind.SLA_BREACH) == {("rep", IN_APP): 1, ("rep", EMAIL): 1, ("head", IN_APP): 1}


def test_the_owner_at_the_deadline_carries_the_delay_not_the_current_one(clock, rep, teammate, head):
    lead, _ = arrive(owner=rep)
    clock.move_to(DUE + dt.timedelta(minutes=5))
    assign_manually(lead, teammate, head, at=DUE + dt.timedelta(minutes=5))

    sweep(now=DUE + dt.timedelta(minutes=10))

    breach = Breach.objects.get()
    assert (breach.delay_owner, breach.owner) == (DelayOwner.REP, rep)


def test_an_owner_assigned_before_the_deadline_carries_the_delay(clock, rep, head):
    lead, _ = arrive(owner=None, team=rep.team)
    clock.move_to(msk(2026, 2, 11, 11, 5))
    assign_manually(lead, rep, head, at=msk(2026, 2, 11, 11, 5))

    sweep(now=DUE)

    breach = Breach.objects.get()
    assert (breach.delay_owner, breach.owner) == (DelayOwner.REP, rep)


@pytest.mark.parametrize(("owned", "delay_owner"), [(True, DelayOwner.REP), (False, DelayOwner.SYSTEM)])
def test_a_lead_without_assignment_history_counts_its_current_owner(clock, rep, head, owned, delay_owner):
    arrive(owner=rep if owned else None, team=rep.team, history=False)  # imported, say

    sweep(now=DUE)

    assert Breach.objects.get().delay_owner == delay_owner


# --- notifications --------------------------------------------------------------------------------


@pytest.fixture
def hooks(rep, other_head):
    return {
        "active": TeamWebhook.objects.create(team=rep.team, url="https://hooks.example.com/a", secret="s1"),
        "inactive": TeamWebhook.objects.create(
            team=rep.team, url="https://hooks.example.com/off", secret="s2", is_active=False
        ),
        "other_team": TeamWebhook.objects.create(
            team=other_head.team, url="https://hooks.example.com/b", secret="s3"
        ),
    }


def test_a_breach_notifies_the_owner_the_head_and_the_teams_active_webhooks_once(clock, rep, head, hooks):
    arrive(owner=rep)

    sweep(now=DUE)
    sweep(now=DUE + dt.timedelta(seconds=2))
    sweep(now=DUE + dt.timedelta(minutes=1))

    assert sent(NotificationKind.SLA_BREACH) == {
        ("rep", IN_APP): 1,
        ("rep", EMAIL): 1,
        ("head", IN_APP): 1,  # the head has no email address
        ("https://hooks.example.com/a", WEBHOOK): 1,
    }
    rows = Notification.objects.filter(kind=NotificationKind.SLA_BREACH)
    assert {r.state for r in rows if r.channel == IN_APP} == {DeliveryState.DELIVERED}
    assert {r.state for r in rows if r.channel != IN_APP} == {DeliveryState.PENDING}


def test_the_head_gets_an_email_too_when_they_have_an_address(clock, rep, head):
    head.email = "head@example.ru"
    head.save()
    arrive(owner=rep)

    sweep(now=DUE)

    assert sent(NotificationKind.SLA_BREACH) == {
        ("rep", IN_APP): 1,
        ("rep", EMAIL): 1,
        ("head", IN_APP): 1,
        ("head", EMAIL): 1,
    }


def test_the_webhook_row_carries_the_breach_as_its_payload(clock, rep, head, hooks):
    lead, timer = arrive(owner=rep)

    sweep(now=DUE)

    breach = Breach.objects.get()
    row = Notification.objects.get(channel=WEBHOOK)
    assert row.target_url == hooks["active"].url
    assert row.lead == lead
    assert row.params["webhook"] == hooks["active"].pk
    assert row.params["payload"] == {
        "event": "sla.breach",
        "breach": breach.pk,
        "lead": lead.pk,
        "timer_kind": "first_contact",
        "delay_owner": "rep",
        "due_at": "2026-02-11T08:15:00+00:00",
        "breached_at": DUE.isoformat(),
    }


# --- reminders ------------------------------------------------------------------------------------


def test_the_owner_is_reminded_once_at_the_reminder_time(clock, rep, head):
    _, timer = arrive(owner=rep)

    assert sweep(now=REMIND - dt.timedelta(seconds=1)).reminded == 0
    assert (
        str(sweep(now=REMIND))
        == "breached=0 reminded=1 escalated=0 returned=0 track_steps=0 track_emails=0 dispute_reminded=0 dispute_escalated=0"
    )
    assert sweep(now=REMIND + dt.timedelta(minutes=1)).reminded == 0

    timer.refresh_from_db()
    assert timer.reminded_at == REMIND
    assert timer.state == TimerState.RUNNING
    assert sent(NotificationKind.SLA_REMINDER) == {("rep", IN_APP): 1, ("rep", EMAIL): 1}


def test_a_lead_waiting_in_the_queue_reminds_the_head(clock, rep, head):
    arrive(owner=None, team=rep.team)

    assert sweep(now=REMIND).reminded == 1

    assert sent(NotificationKind.SLA_REMINDER) == {("head", IN_APP): 1}


def test_a_met_timer_is_not_reminded(clock, rep, head):
    lead, timer = arrive(owner=rep)
    SlaTimer.objects.filter(pk=timer.pk).update(state=TimerState.MET, met_at=msk(2026, 2, 11, 11, 5))

    assert sweep(now=REMIND).reminded == 0
    assert not Notification.objects.filter(kind=NotificationKind.SLA_REMINDER).exists()


# --- escalations ----------------------------------------------------------------------------------


def test_an_unresolved_breach_is_escalated_to_the_executives_once(clock, rep, head, ceo):
    arrive(owner=rep)
    sweep(now=DUE)

    assert sweep(now=DUE + HOUR - dt.timedelta(seconds=1)).escalated == 0
    assert (
        str(sweep(now=DUE + HOUR))
        == "breached=0 reminded=0 escalated=1 returned=0 track_steps=0 track_emails=0 dispute_reminded=0 dispute_escalated=0"
    )
    assert sweep(now=DUE + 2 * HOUR).escalated == 0

    assert Breach.objects.get().escalated_at == DUE + HOUR
    assert sent(NotificationKind.SLA_ESCALATION) == {("ceo", IN_APP): 1, ("ceo", EMAIL): 1}


def test_a_resolved_breach_is_not_escalated(clock, rep, head, ceo):
    arrive(owner=rep)
    sweep(now=DUE)
    actions.resolve(Breach.objects.get(), head, "called the client")

    assert sweep(now=DUE + HOUR).escalated == 0

    assert Breach.objects.get().escalated_at is None
    assert not Notification.objects.filter(kind=NotificationKind.SLA_ESCALATION).exists()


def test_an_acknowledged_but_unresolved_breach_is_still_escalated(clock, rep, head, ceo):
    arrive(owner=rep)
    sweep(now=DUE)
    actions.acknowledge(Breach.objects.get(), head, "on it")

    assert sweep(now=DUE + HOUR).escalated == 1


def test_a_policy_without_escalation_never_escalates(clock, rep, head, ceo):
    SlaPolicy.objects.filter(is_default=True).update(escalate_after_seconds=None)
    arrive(owner=rep)
    sweep(now=DUE)

    assert Breach.objects.get().escalate_at is None
    assert sweep(now=DUE + 48 * HOUR).escalated == 0


# --- reassignment on breach -----------------------------------------------------------------------


def test_a_breached_lead_moves_to_another_rep_when_the_policy_says_so(clock, rep, teammate, head):
    SlaPolicy.objects.filter(is_default=True).update(reassign_on_breach=True)
    lead, _ = arrive(owner=rep)

    sweep(now=DUE)

    lead.refresh_from_db()
    assert lead.owner == teammate
    assert lead.team == rep.team
    moved = Assignment.objects.get(lead=lead, kind=AssignmentKind.SLA)
    assert (moved.from_owner, moved.to_owner, moved.created_at) == (rep, teammate, DUE)
    assert moved.reasons[0] == {"code": "sla_breach", "params": {"user": "rep"}}
    # The breach stays the rep's; the teammate is told the lead is now theirs.
    assert Breach.objects.get().owner == rep
    assert sent(NotificationKind.ASSIGNED) == {("teammate", IN_APP): 1}


def test_a_breached_lead_stays_when_nobody_else_can_take_it(clock, rep, teammate, head):
    SlaPolicy.objects.filter(is_default=True).update(reassign_on_breach=True)
    Absence.objects.create(user=teammate, starts_on=dt.date(2026, 2, 9), ends_on=dt.date(2026, 2, 13))
    lead, _ = arrive(owner=rep)

    assert sweep(now=DUE).breached == 1

    lead.refresh_from_db()
    assert lead.owner == rep
    assert not Assignment.objects.filter(lead=lead, kind=AssignmentKind.SLA).exists()


def test_without_the_policy_a_breached_lead_keeps_its_owner(clock, rep, teammate, head):
    lead, _ = arrive(owner=rep)

    sweep(now=DUE)

    lead.refresh_from_db()
    assert lead.owner == rep


# --- a bad row, batches ---------------------------------------------------------------------------


def poison(monkeypatch, *bad_timers):
    """Make recording a breach fail for any batch that contains one of `bad_timers`."""
    bad = {t.pk for t in bad_timers}
    original = sla.sweep._record_breaches

    def record_breaches(ids, now):
        if bad & set(ids):
            raise RuntimeError("poisoned row")
        return original(ids, now)

    monkeypatch.setattr(sla.sweep, "_record_breaches", record_breaches)


def test_a_poisoned_row_does_not_wedge_the_sweep(clock, rep, head, monkeypatch, caplog):
    timers = [arrive(owner=rep)[1] for _ in range(3)]
    bad = timers[1]
    poison(monkeypatch, bad)

    with caplog.at_level(logging.ERROR, logger="sla.sweep"):
        result = sweep(now=DUE)

    assert result.breached == 2
    states = dict(SlaTimer.objects.values_list("pk", "state"))
    assert states == {
        timers[0].pk: TimerState.BREACHED,
        bad.pk: TimerState.RUNNING,
        timers[2].pk: TimerState.BREACHED,
    }
    assert set(Breach.objects.values_list("timer_id", flat=True)) == {timers[0].pk, timers[2].pk}
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(str(bad.pk) in r.getMessage() and r.exc_info for r in failures), [
        r.getMessage() for r in failures
    ]


def test_batches_larger_than_the_batch_size_are_all_processed(clock, rep, head):
    timers = [arrive(owner=rep)[1] for _ in range(7)]

    result = sweep(now=DUE, batch=3)

    assert result.breached == 7
    assert set(SlaTimer.objects.values_list("state", flat=True)) == {TimerState.BREACHED}
    assert Breach.objects.count() == 7
    assert set(Breach.objects.values_list("timer_id", flat=True)) == {t.pk for t in timers}


def test_a_poisoned_row_does_not_stop_the_batches_after_it(clock, rep, head, monkeypatch):
    # The bad timer is the oldest, so every batch and every slow-path pass meets it.
    bad = arrive(owner=rep, at=msk(2026, 2, 11, 10, 50))[1]
    good = [arrive(owner=rep)[1] for _ in range(6)]
    poison(monkeypatch, bad)

    result = sweep(now=DUE, batch=3)

    assert result.breached == 6
    assert set(SlaTimer.objects.filter(pk__in=[t.pk for t in good]).values_list("state", flat=True)) == {
        TimerState.BREACHED
    }


def test_a_full_batch_of_poisoned_rows_does_not_wedge_the_sweep_for_ever(clock, rep, head, monkeypatch):
    bad = [arrive(owner=rep, at=msk(2026, 2, 11, 10, 50))[1] for _ in range(3)]
    good = [arrive(owner=rep)[1] for _ in range(2)]
    poison(monkeypatch, *bad)

    for second in range(3):  # three sweeps, two seconds apart, as beat runs them
        sweep(now=DUE + dt.timedelta(seconds=2 * second), batch=3)

    assert set(SlaTimer.objects.filter(pk__in=[t.pk for t in good]).values_list("state", flat=True)) == {
        TimerState.BREACHED
    }


def test_a_batch_costs_the_same_number_of_queries_whatever_its_size(clock, rep, head, hooks):
    def breach_n(n, due):
        at = due - dt.timedelta(minutes=15)
        for _ in range(n):
            arrive(owner=rep, at=at)
        with CaptureQueriesContext(connection) as queries:
            assert sla.sweep.breach_due(due) == (n, n)
        return len(queries)

    small = breach_n(2, DUE)
    large = breach_n(8, DUE + dt.timedelta(minutes=30))

    assert large == small


# --- the command, the lag, /healthz ----------------------------------------------------------------


def test_the_command_runs_one_pass_and_prints_what_it_did(clock, rep, head):
    arrive(owner=rep)
    arrive(owner=rep)
    clock.move_to(DUE)
    out = io.StringIO()

    call_command("sla_sweep", stdout=out)

    assert (
        out.getvalue().strip()
        == "breached=2 reminded=0 escalated=0 returned=0 track_steps=0 track_emails=0 dispute_reminded=0 dispute_escalated=0"
    )
    out = io.StringIO()
    call_command("sla_sweep", stdout=out)
    assert (
        out.getvalue().strip()
        == "breached=0 reminded=0 escalated=0 returned=0 track_steps=0 track_emails=0 dispute_reminded=0 dispute_escalated=0"
    )


def test_the_command_can_deliver_the_outbox_too(clock, rep, head, mailoutbox):
    arrive(owner=rep)
    clock.move_to(DUE)
    out = io.StringIO()

    call_command("sla_sweep", "--deliver", stdout=out)

    lines = out.getvalue().split()
    assert lines[:3] == ["breached=1", "reminded=0", "escalated=0"]
    assert "delivered=1" in lines
    assert len(mailoutbox) == 1


def test_the_lag_is_the_age_of_the_oldest_overdue_running_timer(clock, rep, head):
    assert lag(DUE) == 0.0
    arrive(owner=rep, at=msk(2026, 2, 11, 11, 0))  # due 11:15
    arrive(owner=rep, at=msk(2026, 2, 11, 11, 5))  # due 11:20
    _, met = arrive(owner=rep, at=msk(2026, 2, 11, 10, 0))  # due 10:15, but met
    SlaTimer.objects.filter(pk=met.pk).update(state=TimerState.MET, met_at=msk(2026, 2, 11, 10, 5))

    assert lag(msk(2026, 2, 11, 11, 10)) == 0.0  # nothing overdue yet
    assert lag(msk(2026, 2, 11, 11, 25, 30)) == 630.0  # now − 11:15

    sweep(now=msk(2026, 2, 11, 11, 25, 30))
    assert lag(msk(2026, 2, 11, 11, 25, 30)) == 0.0


def test_healthz_shows_the_sweep_lag_and_the_outbox_backlog(clock, client, rep, head):
    arrive(owner=rep, at=msk(2026, 2, 11, 11, 0))
    arrive(owner=rep, at=msk(2026, 2, 11, 11, 5))
    clock.move_to(msk(2026, 2, 11, 11, 25, 30))
    notify([rep], NotificationKind.ASSIGNED, event="test:1", params={"lead": 1})  # 1 email waits (+ in-app)
    notify(
        [rep],
        NotificationKind.ASSIGNED,
        event="test:2",
        params={"lead": 2},
        channels=[NotificationChannel.EMAIL],
    )
    Notification.objects.filter(dedupe_key__contains="test:2").update(
        next_attempt_at=msk(2026, 2, 11, 12, 0)  # a retry later: not due yet
    )

    data = client.get("/healthz").json()

    assert data["checks"]["sla"]["sweep_lag_seconds"] == 630.0
    assert data["checks"]["sla"]["outbox_backlog"] == 2  # every pending row
    assert data["checks"]["sla"]["outbox_due"] == 1  # of which due now


# --- two sweeps at once (PostgreSQL) --------------------------------------------------------------


def run_together(target, count=2):
    """Run `target` in `count` threads released at the same moment; re-raise any error."""
    barrier = threading.Barrier(count)
    errors = []

    def worker():
        try:
            barrier.wait(timeout=10)
            target()
        except Exception as exc:  # reported to the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a sweep hung"
    assert not errors, errors


# Transactional (and restoring the migrations' data afterwards) only where it can
# run: elsewhere the test skips at once, without flushing the test database.
ON_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=ON_POSTGRES)
@pytest.mark.parametrize("batch", [sla.sweep.BATCH, 16])
def test_two_sweeps_at_once_breach_each_timer_once(rep, head, batch):
    if connection.vendor != "postgresql":
        skip_or_fail("needs PostgreSQL (row locks and SKIP LOCKED)")
    head.email = "head@example.ru"
    head.save()
    TeamWebhook.objects.create(team=rep.team, url="https://hooks.example.com/a", secret="s")
    source = SourceFactory()
    lead_stage = stage("lead")
    contacts = Contact.objects.bulk_create(Contact(phone=f"+7916{n:07d}") for n in range(200))
    leads = Lead.objects.bulk_create(
        Lead(
            contact=c,
            source=source,
            channel="form",
            stage=lead_stage,
            furthest_stage=lead_stage,
            owner=rep,
            team=rep.team,
            created_at=ARRIVAL,
        )
        for c in contacts
    )
    with time_machine.travel(ARRIVAL, tick=False):
        timer = start_first_contact_timer(leads[0], ARRIVAL)
        SlaTimer.objects.bulk_create(
            SlaTimer(
                lead=lead,
                kind=TimerKind.FIRST_CONTACT,
                policy_id=timer.policy_id,
                calendar_id=timer.calendar_id,
                started_at=ARRIVAL,
                budget_seconds=timer.budget_seconds,
                due_at=timer.due_at,
                remind_at=timer.remind_at,
            )
            for lead in leads[1:]
        )
        results = []
        run_together(lambda: results.append(sweep(now=DUE, batch=batch)))

    assert sum(r.breached for r in results) == 200
    assert Breach.objects.count() == 200
    assert SlaTimer.objects.filter(state=TimerState.BREACHED, breached_at=DUE).count() == 200
    assert Counter(Breach.objects.values_list("timer_id", flat=True)).most_common(1)[0][1] == 1
    per_recipient = Counter(
        Notification.objects.filter(kind=NotificationKind.SLA_BREACH).values_list(
            "lead_id", "recipient_id", "channel"
        )
    )
    assert len(per_recipient) == 200 * 5  # rep and head × in-app and email, plus the webhook
    assert set(per_recipient.values()) == {1}
