"""A rejection can be disputed (issue #15): marketing disputes with a comment, the
head of the lead's team upholds or overturns within the team's working time, a
reminder before the deadline and an escalation to the executives after, each once.
The story is in tests/leads/dispute_story.py."""

import datetime as dt
import io

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.utils import translation

from leads import actions, disputes
from leads.actions import Invalid
from leads.choices import DisputeState
from leads.merge import merge
from leads.models import LeadEvent, RejectionDispute, StageChange
from revops.errors import Conflict
from revops.roles import Role
from sla.models import Notification, NotificationChannel, NotificationKind, SlaTimer, TimerKind, TimerState
from sla.sweep import sweep
from tests.concurrent import run_together
from tests.conftest import skip_or_fail
from tests.factories import LeadFactory, UserFactory, make_calendar
from tests.leads.dispute_story import ARRIVAL, DECIDE_BY, DISPUTED, REJECTED, REMIND_AT, msk, rejected_lead

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(db):
    with time_machine.travel(ARRIVAL, tick=False) as traveller:
        yield traveller


@pytest.fixture
def lead(rep, head, clock):
    return rejected_lead(rep)


def open_now(lead, marketer, clock, comment="Наш клиент: просил КП на 40 мест"):
    clock.move_to(DISPUTED)
    return disputes.open_dispute(lead, marketer, comment)


def bell(user, kind):
    return Notification.objects.filter(recipient=user, kind=kind, channel=NotificationChannel.IN_APP)


class TestOpening:
    def test_marketing_disputes_with_a_comment_and_the_head_hears(self, lead, marketer, head, clock):
        dispute = open_now(lead, marketer, clock)
        assert dispute.state == DisputeState.OPEN
        assert dispute.rejection_reason.code == "not_target"
        assert dispute.lost_change.from_stage.code == "qualification"
        assert dispute.opened_at == DISPUTED
        assert dispute.decide_by == DECIDE_BY  # 16 working hours on the team's calendar
        assert dispute.remind_at == REMIND_AT  # at 75 % of them
        event = LeadEvent.objects.get(lead=lead, kind=LeadEvent.Kind.DISPUTED)
        assert event.actor == marketer and event.data["text"].startswith("Наш клиент")
        assert bell(head, NotificationKind.DISPUTE_OPENED).count() == 1
        lead.refresh_from_db()
        assert lead.stage.code == "lost"  # a dispute changes nothing on the lead by itself

    def test_the_deadline_skips_the_weekend(self, rep, head, marketer, clock):
        friday = msk(2026, 2, 13, 16, 0)
        clock.move_to(friday)
        lead = rejected_lead(rep, created_at=friday - dt.timedelta(hours=1))
        clock.move_to(msk(2026, 2, 13, 17, 0))
        dispute = disputes.open_dispute(lead, marketer, "ours")
        # Fri 17–18 (1 h), Mon (8 h), Tue 09–13, 14–17 (7 h): Tuesday 17:00, not Sunday.
        assert dispute.decide_by == msk(2026, 2, 17, 17, 0)

    def test_the_time_is_the_teams_on_its_own_calendar(self, rep, head, marketer, team_a, clock):
        team_a.dispute_working_hours = 4
        team_a.calendar = make_calendar("ekb", "Asia/Yekaterinburg", [("10:00", "19:00")])
        team_a.save()
        lead = rejected_lead(rep)
        clock.move_to(DISPUTED)  # 14:00 in Yekaterinburg, a Wednesday
        dispute = disputes.open_dispute(lead, marketer, "ours")
        assert dispute.decide_by == DISPUTED + dt.timedelta(hours=4)
        assert dispute.remind_at == DISPUTED + dt.timedelta(hours=3)

    @pytest.mark.parametrize("comment", ["", "   ", None, "x" * 5001])
    def test_a_comment_is_required_and_bounded(self, lead, marketer, clock, comment):
        with pytest.raises(Invalid) as caught:
            open_now(lead, marketer, clock, comment=comment)
        assert "comment" in caught.value.errors
        assert not RejectionDispute.objects.exists()
        assert not LeadEvent.objects.filter(kind=LeadEvent.Kind.DISPUTED).exists()

    def test_an_open_lead_is_not_disputed(self, rep, marketer, clock):
        with pytest.raises(Conflict):
            disputes.open_dispute(LeadFactory(owner=rep), marketer, "ours")

    def test_one_open_dispute_and_one_dispute_per_rejection(self, lead, marketer, head, clock):
        dispute = open_now(lead, marketer, clock)
        with pytest.raises(Conflict):
            disputes.open_dispute(lead, marketer, "again")
        disputes.decide(dispute, head, DisputeState.UPHELD)
        with pytest.raises(Conflict):  # upheld is the answer to this rejection
            disputes.open_dispute(lead, marketer, "and again")
        assert RejectionDispute.objects.count() == 1

    def test_the_database_keeps_one_open_dispute_per_lead(self, lead, marketer, clock):
        dispute = open_now(lead, marketer, clock)
        other_change = StageChange.objects.create(lead=lead, from_stage=lead.stage, to_stage=lead.stage)
        with pytest.raises(IntegrityError), transaction.atomic():
            RejectionDispute.objects.create(
                lead=lead,
                lost_change=other_change,
                comment="x",
                opened_by=marketer,
                decide_by=dispute.decide_by,
            )

    def test_a_decided_dispute_names_its_decider_in_the_database(self, lead, marketer, clock):
        dispute = open_now(lead, marketer, clock)
        with pytest.raises(IntegrityError), transaction.atomic():
            RejectionDispute.objects.filter(pk=dispute.pk).update(state=DisputeState.UPHELD)

    def test_a_merged_duplicate_is_not_disputed(self, rep, head, marketer, clock):
        keep, duplicate = LeadFactory(owner=rep), LeadFactory(owner=rep)
        merge(keep, duplicate, head)
        with pytest.raises(Conflict):
            disputes.open_dispute(duplicate, marketer, "ours")

    def test_a_lead_rejected_as_duplicate_is_not_disputed(self, rep, marketer, clock):
        lead = LeadFactory(owner=rep)
        actions.reject(lead, rep, "duplicate")
        with pytest.raises(Conflict):
            disputes.open_dispute(lead, marketer, "ours")


class TestDeciding:
    def test_upheld_keeps_the_rejection(self, lead, marketer, head, clock):
        dispute = open_now(lead, marketer, clock)
        clock.move_to(DISPUTED + dt.timedelta(hours=2))
        dispute = disputes.decide(dispute, head, DisputeState.UPHELD, "Бюджета нет, подтвердили дважды")
        assert dispute.state == DisputeState.UPHELD
        assert dispute.decided_by == head and dispute.decided_at == DISPUTED + dt.timedelta(hours=2)
        lead.refresh_from_db()
        assert lead.stage.code == "lost" and lead.rejection_reason.code == "not_target"
        assert not SlaTimer.objects.filter(lead=lead, state=TimerState.RUNNING).exists()
        event = LeadEvent.objects.get(lead=lead, kind=LeadEvent.Kind.DISPUTE_DECIDED)
        assert event.data["outcome"] == "upheld"
        assert bell(marketer, NotificationKind.DISPUTE_DECIDED).count() == 1

    def test_overturned_reopens_at_the_stage_it_left_with_a_fresh_clock(
        self, lead, rep, marketer, head, clock
    ):
        dispute = open_now(lead, marketer, clock)
        decided_at = msk(2026, 2, 12, 10, 0)
        clock.move_to(decided_at)
        disputes.decide(dispute, head, DisputeState.OVERTURNED, "Согласен, берём в работу")
        lead.refresh_from_db()
        assert lead.stage.code == "qualification"  # where it was rejected from
        assert lead.rejection_reason is None and lead.rejection_comment == ""
        assert lead.closed_at is None
        assert lead.owner == rep  # still active: keeps it
        timers = list(SlaTimer.objects.filter(lead=lead, kind=TimerKind.FIRST_CONTACT).order_by("started_at"))
        assert len(timers) == 2
        assert timers[-1].state == TimerState.RUNNING and timers[-1].started_at == decided_at
        assert timers[-1].due_at == decided_at + dt.timedelta(minutes=15)
        # The original reason stays in the history: the change into lost, the dispute, the event.
        into_lost = StageChange.objects.get(lead=lead, to_stage__code="lost")
        assert into_lost.note == "not_target" and into_lost.changed_at == REJECTED
        reopened = StageChange.objects.filter(lead=lead).order_by("-changed_at", "-id").first()
        assert reopened.from_stage.code == "lost" and reopened.to_stage.code == "qualification"
        assert reopened.note == f"dispute:{dispute.pk}"
        event = LeadEvent.objects.get(lead=lead, kind=LeadEvent.Kind.DISPUTE_DECIDED)
        assert event.data["reason"] == "not_target" and event.data["stage"] == "qualification"
        assert RejectionDispute.objects.get().rejection_reason.code == "not_target"
        assert bell(marketer, NotificationKind.DISPUTE_DECIDED).count() == 1

    def test_an_inactive_owner_gives_way_to_distribution(self, lead, rep, teammate, marketer, head, clock):
        dispute = open_now(lead, marketer, clock)
        rep.is_active = False
        rep.save()
        clock.move_to(msk(2026, 2, 12, 10, 0))
        disputes.decide(dispute, head, DisputeState.OVERTURNED)
        lead.refresh_from_db()
        assert lead.owner != rep
        assignment = lead.assignments.order_by("-created_at", "-id").first()
        assert assignment.reasons[0]["code"] == "dispute_overturned"
        assert {"code": "owner_inactive", "params": {"user": "rep"}} in assignment.reasons

    def test_a_lead_left_from_the_first_stage_reopens_there(self, rep, head, marketer, clock):
        lead = LeadFactory(owner=rep, team=rep.team)
        actions.reject(lead, rep, "spam")
        dispute = disputes.open_dispute(lead, marketer, "ours")
        disputes.decide(dispute, head, DisputeState.OVERTURNED)
        lead.refresh_from_db()
        assert lead.stage.code == "lead"

    def test_a_dispute_is_decided_once(self, lead, marketer, head, admin_user, clock):
        dispute = open_now(lead, marketer, clock)
        disputes.decide(dispute, head, DisputeState.UPHELD)
        with pytest.raises(Conflict):
            disputes.decide(dispute, admin_user, DisputeState.OVERTURNED)
        lead.refresh_from_db()
        assert lead.stage.code == "lost"
        assert LeadEvent.objects.filter(kind=LeadEvent.Kind.DISPUTE_DECIDED).count() == 1

    @pytest.mark.parametrize("outcome", ["", "open", "maybe", None])
    def test_an_unknown_outcome_changes_nothing(self, lead, marketer, head, clock, outcome):
        dispute = open_now(lead, marketer, clock)
        with pytest.raises(Invalid):
            disputes.decide(dispute, head, outcome)
        dispute.refresh_from_db()
        assert dispute.state == DisputeState.OPEN and dispute.decided_by is None

    def test_a_lead_reopened_meanwhile_is_not_overturned_again(self, lead, rep, marketer, head, clock):
        dispute = open_now(lead, marketer, clock)
        # The lead was reopened some other way (an admin's fix): the overturn has nothing to do.
        lead.stage = lead.furthest_stage
        lead.save()
        with pytest.raises(Conflict):
            disputes.decide(dispute, head, DisputeState.OVERTURNED)
        dispute.refresh_from_db()
        assert dispute.state == DisputeState.OPEN

    def test_a_disputed_rejection_is_no_longer_undone_by_the_rep(self, rep, marketer, head, clock):
        lead = rejected_lead(rep)
        clock.move_to(REJECTED + dt.timedelta(seconds=5))  # still within the card's Undo window
        change = actions.undoable_close(lead, rep)
        assert change is not None
        dispute = disputes.open_dispute(lead, marketer, "Наш клиент")
        with translation.override("en"), pytest.raises(Conflict, match="disputed"):
            actions.undo_close(lead, rep, change.pk)
        lead.refresh_from_db()
        assert lead.stage.code == "lost" and lead.rejection_reason.code == "not_target"
        assert not StageChange.objects.filter(undoes=change).exists()
        # The head's decision settles it.
        disputes.decide(dispute, head, DisputeState.OVERTURNED)
        lead.refresh_from_db()
        assert lead.stage.code == "qualification"

    def test_the_timeline_tells_the_story(self, client, lead, marketer, head, clock):
        dispute = open_now(lead, marketer, clock)
        disputes.decide(dispute, head, DisputeState.OVERTURNED, "берём")
        client.force_login(head)
        from django.utils import translation

        with translation.override("en"):
            page = client.get(f"/leads/{lead.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert "Rejection disputed" in page
        assert "rejection overturned, the lead is back at" in page
        assert "reopened: the rejection was overturned on dispute" in page


class TestSweep:
    def test_reminder_before_and_escalation_after_each_once_under_two_sweeps(
        self, lead, marketer, head, ceo, clock
    ):
        dispute = open_now(lead, marketer, clock)
        clock.move_to(REMIND_AT - dt.timedelta(minutes=1))
        assert disputes.remind_due(REMIND_AT - dt.timedelta(minutes=1)) == 0
        clock.move_to(REMIND_AT)
        first, second = sweep(REMIND_AT), sweep(REMIND_AT)
        assert first.steps["dispute_reminded"] == 1 and second.steps["dispute_reminded"] == 0
        assert bell(head, NotificationKind.DISPUTE_REMINDER).count() == 1
        assert first.steps["dispute_escalated"] == 0
        clock.move_to(DECIDE_BY)
        first, second = sweep(DECIDE_BY), sweep(DECIDE_BY)
        assert first.steps["dispute_escalated"] == 1 and second.steps["dispute_escalated"] == 0
        assert bell(ceo, NotificationKind.DISPUTE_ESCALATION).count() == 1
        dispute.refresh_from_db()
        assert dispute.reminded_at == REMIND_AT and dispute.escalated_at == DECIDE_BY
        # Escalated: an executive may decide now.
        assert disputes.can_decide(ceo, dispute)

    def test_a_decided_dispute_is_neither_reminded_nor_escalated(self, lead, marketer, head, ceo, clock):
        dispute = open_now(lead, marketer, clock)
        disputes.decide(dispute, head, DisputeState.UPHELD)
        later = DECIDE_BY + dt.timedelta(days=3)
        result = sweep(later)
        assert result.steps["dispute_reminded"] == 0 and result.steps["dispute_escalated"] == 0
        assert not Notification.objects.filter(
            kind__in=[NotificationKind.DISPUTE_REMINDER, NotificationKind.DISPUTE_ESCALATION]
        ).exists()

    def test_the_sweep_command_prints_the_counts(self, lead, marketer, head, ceo, clock):
        open_now(lead, marketer, clock)
        clock.move_to(DECIDE_BY + dt.timedelta(minutes=1))
        out = io.StringIO()
        call_command("sla_sweep", stdout=out)
        assert "dispute_reminded=1" in out.getvalue() and "dispute_escalated=1" in out.getvalue()

    def test_executives_may_not_decide_before_the_escalation(self, lead, marketer, ceo, clock):
        dispute = open_now(lead, marketer, clock)
        assert not disputes.can_decide(ceo, dispute)

    def test_who_decides_is_who_reads_the_teams_leads(self, lead, marketer, head, other_head, clock):
        dispute = open_now(lead, marketer, clock)
        # Named head on the record of the lead's team, but a member of another team:
        # they read none of its leads, so they neither list nor decide its disputes.
        lead.team.head = other_head
        lead.team.save()
        for user, may in ((head, True), (other_head, False)):
            assert disputes.can_decide(user, dispute) is may
            assert disputes.visible_disputes(user).filter(pk=dispute.pk).exists() is may

    def test_the_heads_who_may_decide_are_the_ones_told(self, rep, head, other_head, marketer, team_a, clock):
        deputy = UserFactory(username="deputy", role=Role.SALES_HEAD, team=team_a)
        UserFactory(username="gone", role=Role.SALES_HEAD, team=team_a, is_active=False)
        # The team's named head is a member of another team: they could not act on it.
        team_a.head = other_head
        team_a.save()
        lead = rejected_lead(rep)
        dispute = open_now(lead, marketer, clock)
        told = Notification.objects.filter(
            kind=NotificationKind.DISPUTE_OPENED, channel=NotificationChannel.IN_APP
        )
        assert set(told.values_list("recipient__username", flat=True)) == {"head", "deputy"}
        assert all(disputes.can_decide(user, dispute) for user in (head, deputy))
        clock.move_to(REMIND_AT)
        assert disputes.remind_due(REMIND_AT) == 1
        reminded = Notification.objects.filter(
            kind=NotificationKind.DISPUTE_REMINDER, channel=NotificationChannel.IN_APP
        )
        assert set(reminded.values_list("recipient__username", flat=True)) == {"head", "deputy"}


# --- two sweeps at once (PostgreSQL) --------------------------------------------------------------

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=ON_POSTGRES)
def test_two_sweeps_at_once_remind_and_escalate_each_dispute_once(rep, head, marketer, ceo):
    if connection.vendor != "postgresql":
        skip_or_fail("needs PostgreSQL (concurrent transactions)")
    with time_machine.travel(ARRIVAL, tick=False) as clock:
        for _ in range(20):
            clock.move_to(ARRIVAL)
            lead = rejected_lead(rep)
            clock.move_to(DISPUTED)
            disputes.open_dispute(lead, marketer, "наш")
        later = DECIDE_BY + dt.timedelta(minutes=1)
        clock.move_to(later)
        results = run_together(lambda: sweep(now=later))
    assert sum(r.steps["dispute_reminded"] for r in results) == 20
    assert sum(r.steps["dispute_escalated"] for r in results) == 20
    assert bell(head, NotificationKind.DISPUTE_REMINDER).count() == 20
    assert bell(ceo, NotificationKind.DISPUTE_ESCALATION).count() == 20


def test_one_failing_reminder_does_not_stop_the_others(rep, head, marketer, clock, monkeypatch):
    opened = []
    for _ in range(2):
        clock.move_to(ARRIVAL)
        lead = rejected_lead(rep)
        clock.move_to(DISPUTED)
        opened.append(disputes.open_dispute(lead, marketer, "наш"))
    real = disputes.notify

    def flaky(recipients, kind, **kwargs):
        if kwargs["params"]["dispute"] == opened[0].pk:
            raise RuntimeError("mail server on fire")
        return real(recipients, kind, **kwargs)

    monkeypatch.setattr(disputes, "notify", flaky)
    assert disputes.remind_due(REMIND_AT) == 1
    monkeypatch.setattr(disputes, "notify", real)
    assert disputes.remind_due(REMIND_AT) == 1  # the failed one, on the next pass
    assert bell(head, NotificationKind.DISPUTE_REMINDER).count() == 2
