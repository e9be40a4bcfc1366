"""Lead actions through the REST API (DESIGN.md "Public contract" → Lead actions;
"The flow of a lead" steps 4–7): attempts and the nurture rule, stages, reject,
nurture, the checklist, manual assignment — who may call them, what bad input
gets, and what the OpenAPI schema says.

Every test runs on Wednesday 2026-11-25, 11:00 Moscow (the default calendar is
open: Mon–Fri 09–13, 14–18), with the clock ticking. Teams made by the factory
have no calendar of their own, so their leads' clocks run on the default one.
"""

import datetime as dt
import threading
import time
from decimal import Decimal

import pytest
import time_machine
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from leads import actions
from leads.assignment import assign_manually
from leads.choices import AssignmentKind
from leads.models import (
    Assignment,
    Contact,
    ContactAttempt,
    CriterionAnswer,
    Deal,
    Lead,
    LeadEvent,
    QualificationCriterion,
    RejectionReason,
    Stage,
    StageChange,
)
from revops.models import User
from revops.roles import Role
from sla.clock import start_first_contact_timer
from sla.models import Notification, NotificationKind, SlaPolicy, SlaTimer, TimerKind, TimerState
from tests.conftest import skip_or_fail
from tests.factories import LeadFactory, SegmentFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/leads/"
NOW = dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)  # Wednesday 11:00 in Moscow
TODAY = dt.date(2026, 11, 25)

CALL_NO_ANSWER = {"channel": "call", "outcome": "no_answer"}
REACHED = {"channel": "call", "outcome": "reached"}


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=True) as traveller:
        yield traveller


def client(user) -> APIClient:
    # English messages, so tests can read them (the API's default language is ru).
    api = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    api.force_authenticate(user)
    return api


def act(user, lead, action, body=None, *, method="post"):
    path = f"{URL}{lead.pk}/" + (f"{action}/" if action else "")
    return getattr(client(user), method)(path, body if body is not None else {}, format="json")


def get_lead(user, lead) -> dict:
    response = client(user).get(f"{URL}{lead.pk}/")
    assert response.status_code == 200
    return response.json()


def new_lead(owner, **fields) -> Lead:
    """A lead of `owner` with its first-contact clock running since arrival."""
    lead = LeadFactory(owner=owner, **fields)
    start_first_contact_timer(lead, lead.created_at)
    return lead


@pytest.fixture
def lead(rep):
    return new_lead(rep)


def first_timer(lead) -> SlaTimer:
    return SlaTimer.objects.get(lead=lead, kind=TimerKind.FIRST_CONTACT)


def snapshot(lead) -> dict:
    """Everything an action could change about a lead."""
    return {
        "lead": Lead.objects.values().get(pk=lead.pk),
        "contact": Contact.objects.values().get(pk=lead.contact_id),
        "attempts": list(ContactAttempt.objects.filter(lead=lead).order_by("pk").values()),
        "timers": list(SlaTimer.objects.filter(lead=lead).order_by("pk").values()),
        "stage_changes": list(StageChange.objects.filter(lead=lead).values_list("pk", flat=True)),
        "answers": list(CriterionAnswer.objects.filter(lead=lead).order_by("pk").values()),
        "events": list(LeadEvent.objects.filter(lead=lead).values_list("pk", flat=True)),
        "assignments": list(Assignment.objects.filter(lead=lead).values_list("pk", flat=True)),
        "deals": list(Deal.objects.filter(lead=lead).values_list("pk", flat=True)),
        "notifications": list(Notification.objects.filter(lead=lead).values_list("pk", flat=True)),
    }


def criteria(level) -> list[int]:
    return list(
        QualificationCriterion.objects.filter(segment__isnull=True, level=level, is_active=True)
        .order_by("position")
        .values_list("pk", flat=True)
    )


def nurtured_to(lead) -> set[str]:
    return set(
        Notification.objects.filter(lead=lead, kind=NotificationKind.NURTURED).values_list(
            "recipient__username", flat=True
        )
    )


# --- 1. contact attempts ---------------------------------------------------------------------------


class TestAttempts:
    def test_a_logged_attempt_answers_201_with_the_attempt(self, rep, lead):
        body = {**CALL_NO_ANSWER, "duration_seconds": 25, "note": "гудки"}
        response = act(rep, lead, "attempts", body)
        assert response.status_code == 201, response.json()
        data = response.json()
        attempt = ContactAttempt.objects.get(lead=lead)
        assert data["id"] == attempt.pk
        assert data["lead"] == lead.pk
        assert (data["channel"], data["outcome"]) == ("call", "no_answer")
        assert (data["duration_seconds"], data["note"]) == (25, "гудки")
        assert data["counted"] is True
        assert data["made_by"] == rep.pk
        assert data["callback_at"] is None
        assert abs(attempt.made_at - timezone.now()) < dt.timedelta(seconds=5)

    def test_a_reached_contact_sets_first_contact_and_meets_the_clock(self, rep, lead):
        assert get_lead(rep, lead)["sla"]["state"] == "running"
        response = act(rep, lead, "attempts", REACHED)
        assert response.status_code == 201, response.json()
        lead.refresh_from_db()
        assert lead.first_contact_at is not None
        assert abs(lead.first_contact_at - timezone.now()) < dt.timedelta(seconds=5)
        sla = get_lead(rep, lead)["sla"]
        assert sla["state"] == "met"
        assert sla["first_contact_at"] is not None
        assert sla["breached_at"] is None
        assert first_timer(lead).met_at is not None

    def test_a_failed_call_does_not_meet_the_clock(self, rep, lead):
        assert act(rep, lead, "attempts", CALL_NO_ANSWER).status_code == 201
        lead.refresh_from_db()
        assert lead.first_contact_at is None
        assert get_lead(rep, lead)["sla"]["state"] == "running"

    def test_a_late_contact_leaves_a_breached_clock_breached(self, clock, rep, lead):
        timer = first_timer(lead)
        timer_due = timer.due_at
        # What the sweep does when the deadline passes.
        SlaTimer.objects.filter(pk=timer.pk).update(state=TimerState.BREACHED, breached_at=timer.due_at)
        clock.shift(dt.timedelta(minutes=30))
        assert act(rep, lead, "attempts", REACHED).status_code == 201
        sla = get_lead(rep, lead)["sla"]
        assert sla["state"] == "breached"
        assert sla["breached_at"] is not None
        assert sla["first_contact_at"] is not None
        timer.refresh_from_db()
        assert (timer.state, timer.breached_at) == (TimerState.BREACHED, timer_due)

    def test_three_failed_calls_send_the_lead_to_nurture(
        self, rep, head, ceo, marketer, marketing_head, lead
    ):
        for outcome in ("no_answer", "busy", "voicemail"):
            response = act(rep, lead, "attempts", {"channel": "call", "outcome": outcome})
            assert response.status_code == 201, response.json()
            assert response.json()["counted"] is True
        data = get_lead(rep, lead)
        assert (data["stage"], data["status"]) == ("nurture", "nurture")
        assert data["furthest_stage"] == "lead"
        lead.refresh_from_db()
        assert (
            lead.nurture_reason and lead.nurture_cause.code == "no_answer"
        )  # the listed reason tracks pick by
        assert "3" in lead.nurture_reason
        change = StageChange.objects.get(lead=lead)
        assert (change.from_stage.code, change.to_stage.code, change.changed_by) == ("lead", "nurture", rep)
        # The owner and marketing (who runs nurture) hear of it; nobody else.
        assert nurtured_to(lead) == {"rep", "marketer", "marketing_head"}
        # A lead in nurture owes no first contact.
        assert first_timer(lead).state == TimerState.CANCELLED

    def test_two_failed_calls_are_not_enough(self, rep, lead):
        for _ in range(2):
            assert act(rep, lead, "attempts", CALL_NO_ANSWER).status_code == 201
        assert get_lead(rep, lead)["status"] == "open"
        assert not StageChange.objects.filter(lead=lead).exists()

    @pytest.mark.parametrize(
        "attempt",
        [
            {"channel": "email", "outcome": "no_answer"},
            {"channel": "messenger", "outcome": "no_answer"},
            {"channel": "call", "outcome": "wrong_number"},
        ],
        ids=["email", "messenger", "wrong_number"],
    )
    def test_only_failed_calls_count(self, rep, marketer, lead, attempt):
        for _ in range(2):
            assert act(rep, lead, "attempts", CALL_NO_ANSWER).status_code == 201
        for _ in range(2):
            response = act(rep, lead, "attempts", attempt)
            assert response.status_code == 201, response.json()
            assert response.json()["counted"] is False
        assert get_lead(rep, lead)["status"] == "open"
        # The third *failed call* tips it over.
        assert act(rep, lead, "attempts", CALL_NO_ANSWER).status_code == 201
        assert get_lead(rep, lead)["status"] == "nurture"

    def test_calls_sooner_than_the_minimum_spacing_are_recorded_but_not_counted(self, clock, rep, team_a):
        policy = SlaPolicy.objects.create(name="Spaced calls", min_attempt_spacing_seconds=600)
        lead = new_lead(rep)
        assert first_timer(lead).policy == policy
        assert act(rep, lead, "attempts", CALL_NO_ANSWER).json()["counted"] is True
        clock.shift(dt.timedelta(minutes=5))
        response = act(rep, lead, "attempts", {"channel": "call", "outcome": "busy"})
        assert response.status_code == 201
        assert response.json()["counted"] is False
        clock.shift(dt.timedelta(minutes=3))  # 8 minutes after the counted one: still too soon
        assert act(rep, lead, "attempts", CALL_NO_ANSWER).json()["counted"] is False
        clock.shift(dt.timedelta(minutes=3))  # 11 minutes after the counted one
        assert act(rep, lead, "attempts", CALL_NO_ANSWER).json()["counted"] is True
        assert list(
            ContactAttempt.objects.filter(lead=lead).order_by("made_at").values_list("counted", flat=True)
        ) == [
            True,
            False,
            False,
            True,
        ]
        assert get_lead(rep, lead)["status"] == "open"  # two counted calls of three
        clock.shift(dt.timedelta(minutes=11))
        assert act(rep, lead, "attempts", CALL_NO_ANSWER).status_code == 201
        assert get_lead(rep, lead)["status"] == "nurture"

    def test_a_policy_with_two_failed_calls_nurtures_after_two(self, rep, marketer):
        SlaPolicy.objects.create(name="Two calls", failed_attempts_to_nurture=2)
        lead = new_lead(rep)
        assert act(rep, lead, "attempts", CALL_NO_ANSWER).status_code == 201
        assert get_lead(rep, lead)["status"] == "open"
        assert act(rep, lead, "attempts", {"channel": "call", "outcome": "busy"}).status_code == 201
        assert get_lead(rep, lead)["status"] == "nurture"
        lead.refresh_from_db()
        assert "2" in lead.nurture_reason
        assert nurtured_to(lead) == {"rep", "marketer"}

    def test_a_policy_met_by_any_attempt_counts_an_unanswered_email(self, rep):
        SlaPolicy.objects.create(name="Any touch", first_contact_rule="any_attempt")
        lead = new_lead(rep)
        assert act(rep, lead, "attempts", {"channel": "email", "outcome": "no_answer"}).status_code == 201
        assert get_lead(rep, lead)["sla"]["state"] == "met"

    def test_a_lead_once_reached_never_goes_to_nurture_for_failed_calls(self, rep, lead):
        assert act(rep, lead, "attempts", REACHED).status_code == 201
        for _ in range(4):
            assert act(rep, lead, "attempts", CALL_NO_ANSWER).status_code == 201
        assert get_lead(rep, lead)["status"] == "open"

    def test_an_agreed_callback_opens_a_callback_clock_that_the_next_attempt_meets(self, clock, rep, lead):
        callback_at = timezone.now() + dt.timedelta(hours=2)
        response = act(rep, lead, "attempts", {**REACHED, "callback_at": callback_at.isoformat()})
        assert response.status_code == 201, response.json()
        attempt_id = response.json()["id"]
        timer = SlaTimer.objects.get(lead=lead, kind=TimerKind.CALLBACK)
        assert timer.state == TimerState.RUNNING
        assert timer.due_at == callback_at
        assert timer.attempt_id == attempt_id
        clock.shift(dt.timedelta(hours=2))
        assert act(rep, lead, "attempts", {"channel": "call", "outcome": "reached"}).status_code == 201
        timer.refresh_from_db()
        assert timer.state == TimerState.MET
        assert timer.met_at is not None

    def test_a_callback_in_the_past_is_refused_and_nothing_is_recorded(self, rep, lead):
        before = snapshot(lead)
        past = timezone.now() - dt.timedelta(minutes=1)
        response = act(rep, lead, "attempts", {**REACHED, "callback_at": past.isoformat()})
        assert response.status_code == 400
        assert "callback_at" in response.json()
        assert snapshot(lead) == before

    def test_no_attempts_on_a_lead_in_nurture(self, rep, lead):
        for _ in range(3):
            assert act(rep, lead, "attempts", CALL_NO_ANSWER).status_code == 201
        before = snapshot(lead)
        response = act(rep, lead, "attempts", REACHED)
        assert response.status_code == 409
        assert snapshot(lead) == before


# --- 2. concurrent requests (PostgreSQL) ------------------------------------------------------------


ON_POSTGRES = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
# Committing tests flush the database afterwards (post_migrate seeds the vocabulary
# again); on SQLite they only skip, so they need no flush there.
concurrent_db = pytest.mark.django_db(transaction=True) if ON_POSTGRES else pytest.mark.django_db


def require_postgres():
    if connection.vendor != "postgresql":
        skip_or_fail("needs PostgreSQL (row locks under concurrent requests)")


def concurrently(lead, calls) -> list[int]:
    """POST each (user, action, body) of `calls` at the same moment, each thread with its own
    client and connection; the sorted status codes (a server error shows as 500)."""
    barrier = threading.Barrier(len(calls))
    codes, errors = [], []

    def call(user_pk, action, body):
        try:
            # The test client re-raises an exception signalled by *any* thread's request;
            # answers as a server would give them keep each thread's outcome its own.
            api = APIClient(HTTP_ACCEPT_LANGUAGE="en", raise_request_exception=False)
            api.force_authenticate(User.objects.get(pk=user_pk))
            barrier.wait(timeout=10)
            codes.append(api.post(f"{URL}{lead.pk}/{action}/", body, format="json").status_code)
        except Exception as exc:  # a failure of the harness itself, reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=call, args=(user.pk, action, body)) for user, action, body in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    return sorted(codes)


@pytest.mark.postgres
@concurrent_db
@pytest.mark.parametrize("callers", [3, 5])
def test_concurrent_failed_calls_nurture_the_lead_exactly_once(rep, marketer, marketing_head, callers):
    require_postgres()
    lead = new_lead(rep)  # no attempts yet; the default policy nurtures after three failed calls
    codes = concurrently(lead, [(rep, "attempts", CALL_NO_ANSWER)] * callers)
    # The lead's row lock orders the requests: three are recorded, the rest find it in nurture.
    assert codes == [201] * 3 + [409] * (callers - 3)
    assert ContactAttempt.objects.filter(lead=lead).count() == 3
    assert StageChange.objects.filter(lead=lead, to_stage__code="nurture").count() == 1
    lead.refresh_from_db()
    assert lead.stage.code == "nurture"
    rows = list(Notification.objects.filter(lead=lead, kind=NotificationKind.NURTURED))
    assert {row.recipient.username for row in rows} == {"rep", "marketer", "marketing_head"}
    assert len(rows) == len({(row.recipient_id, row.channel) for row in rows}), "one set of notifications"


@pytest.mark.postgres
@concurrent_db
def test_concurrent_rejections_close_the_lead_once(rep):
    require_postgres()
    lead = new_lead(rep)
    reasons = ["no_need", "price", "no_budget", "not_now"]
    codes = concurrently(lead, [(rep, "reject", {"reason": reason}) for reason in reasons])
    assert codes == [200, 409, 409, 409]
    assert StageChange.objects.filter(lead=lead).count() == 1


@pytest.mark.postgres
@concurrent_db
def test_concurrent_assignments_to_the_same_person_assign_once(head, admin_user, rep, teammate):
    require_postgres()
    lead = new_lead(rep)
    body = {"owner": teammate.pk}
    codes = concurrently(lead, [(head, "assign", body), (admin_user, "assign", body)] * 2)
    assert codes == [200, 409, 409, 409]
    assert Assignment.objects.filter(lead=lead).count() == 1


def while_another_transaction_changes(lead, change, user, action, body):
    """Call `action` while another transaction holds the lead's row, having applied
    `change` to it; commit that change once the request waits on the lock. The
    request's status code: what a request gets when it queues behind another."""
    changed, release = threading.Event(), threading.Event()
    outcome = {}

    def holder():
        try:
            with transaction.atomic():
                change()
                changed.set()
                release.wait(timeout=10)
        except Exception as exc:  # reported below
            outcome["holder"] = exc
            changed.set()
        finally:
            connection.close()

    def caller():
        try:
            api = APIClient(HTTP_ACCEPT_LANGUAGE="en", raise_request_exception=False)
            api.force_authenticate(user)
            outcome["code"] = api.post(f"{URL}{lead.pk}/{action}/", body, format="json").status_code
        except Exception as exc:  # reported below
            outcome["caller"] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=holder)]
    threads[0].start()
    assert changed.wait(timeout=10)
    threads.append(threading.Thread(target=caller))
    threads[1].start()
    deadline = time.monotonic() + 10
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            if cursor.fetchone()[0]:
                break
            time.sleep(0.02)
        else:
            pytest.fail("the request never waited on the lead's row")
    release.set()
    for thread in threads:
        thread.join(timeout=30)
    assert set(outcome) == {"code"}, outcome
    return outcome["code"]


@pytest.mark.postgres
@concurrent_db
@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("attempts", CALL_NO_ANSWER),
        ("stage", {"stage": "qualification"}),
        ("reject", {"reason": "price"}),
        ("nurture", {"reason": "later"}),
        ("checklist", None),
    ],
)
def test_an_action_queued_behind_a_rejection_finds_the_lead_closed(rep, action, body):
    require_postgres()
    lead = new_lead(rep)
    if body is None:
        body = {"answers": {str(criteria("mql")[0]): "yes"}}
    code = while_another_transaction_changes(
        lead, lambda: actions.reject(lead, rep, "no_need"), rep, action, body
    )
    assert code == 409
    assert Lead.objects.get(pk=lead.pk).rejection_reason.code == "no_need"


@pytest.mark.postgres
@concurrent_db
def test_a_hand_over_queued_behind_another_records_whom_it_took_the_lead_from(
    head, admin_user, rep, teammate, team_a
):
    require_postgres()
    third = UserFactory(username="third", role=Role.REP, team=team_a)
    lead = new_lead(rep)
    code = while_another_transaction_changes(
        lead, lambda: assign_manually(lead, teammate, head), admin_user, "assign", {"owner": third.pk}
    )
    assert code == 200
    first, second = Assignment.objects.filter(lead=lead).order_by("pk")
    assert (first.from_owner, first.to_owner) == (rep, teammate)
    assert (second.from_owner, second.to_owner) == (teammate, third)


@pytest.mark.postgres
@concurrent_db
def test_nurture_queued_behind_a_hand_over_tells_the_new_owner(head, admin_user, rep, teammate, marketer):
    require_postgres()
    lead = new_lead(rep)
    for _ in range(2):
        assert act(rep, lead, "attempts", CALL_NO_ANSWER).status_code == 201
    code = while_another_transaction_changes(
        lead, lambda: assign_manually(lead, teammate, admin_user), head, "attempts", CALL_NO_ANSWER
    )
    assert code == 201
    assert Lead.objects.get(pk=lead.pk).stage.code == "nurture"
    assert nurtured_to(lead) == {"teammate", "marketer"}


# --- 3. stages ---------------------------------------------------------------------------------------


class TestStage:
    def test_a_move_forward_answers_the_lead_and_writes_history(self, rep, lead):
        response = act(rep, lead, "stage", {"stage": "qualification"})
        assert response.status_code == 200, response.json()
        data = response.json()
        assert data["id"] == lead.pk
        assert (data["stage"], data["furthest_stage"], data["status"]) == (
            "qualification",
            "qualification",
            "open",
        )
        change = StageChange.objects.get(lead=lead)
        assert (change.from_stage.code, change.to_stage.code, change.changed_by) == (
            "lead",
            "qualification",
            rep,
        )

    def test_a_meeting_needs_its_time(self, rep, lead):
        before = snapshot(lead)
        response = act(rep, lead, "stage", {"stage": "meeting"})
        assert response.status_code == 400
        assert "meeting_at" in response.json()
        assert snapshot(lead) == before
        meeting_at = (timezone.now() + dt.timedelta(days=2)).isoformat()
        response = act(rep, lead, "stage", {"stage": "meeting", "meeting_at": meeting_at})
        assert response.status_code == 200, response.json()
        assert response.json()["stage"] == "meeting"

    def test_a_proposal_needs_its_amount(self, rep, lead):
        before = snapshot(lead)
        response = act(rep, lead, "stage", {"stage": "proposal"})
        assert response.status_code == 400
        assert "amount" in response.json()
        assert snapshot(lead) == before
        assert act(rep, lead, "stage", {"stage": "proposal", "amount": "90000"}).json()["stage"] == "proposal"

    def test_a_deal_records_the_money_and_stops_the_clocks(self, rep, lead):
        callback_at = (timezone.now() + dt.timedelta(days=1)).isoformat()
        assert act(rep, lead, "attempts", {**CALL_NO_ANSWER, "callback_at": callback_at}).status_code == 201
        assert SlaTimer.objects.filter(lead=lead, state=TimerState.RUNNING).count() == 2
        response = act(rep, lead, "stage", {"stage": "deal", "amount": "150000.00", "margin": "45000.50"})
        assert response.status_code == 200, response.json()
        data = response.json()
        assert (data["stage"], data["furthest_stage"], data["status"]) == ("deal", "deal", "won")
        assert data["closed_at"] is not None
        assert data["sla"]["state"] == "cancelled"
        deal = Deal.objects.get(lead=lead)
        assert deal.status == "won"
        assert (deal.amount, deal.margin) == (Decimal("150000.00"), Decimal("45000.50"))
        assert deal.closed_on == TODAY
        assert deal.owner == rep
        assert deal.contact == lead.contact
        assert not SlaTimer.objects.filter(lead=lead, state=TimerState.RUNNING).exists()

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"stage": "deal", "margin": "10"}, "amount"),
            ({"stage": "deal", "amount": "100"}, "margin"),
            ({"stage": "deal", "amount": "100", "margin": "100.01"}, "margin"),
            ({"stage": "proposal", "amount": "100", "margin": "200"}, "margin"),
        ],
    )
    def test_a_deal_needs_amount_and_a_margin_within_it(self, rep, lead, body, field):
        before = snapshot(lead)
        response = act(rep, lead, "stage", body)
        assert response.status_code == 400
        assert field in response.json()
        assert snapshot(lead) == before

    @pytest.mark.parametrize(("code", "action"), [("lost", "reject"), ("nurture", "nurture")])
    def test_closing_stages_point_to_their_own_actions(self, rep, lead, code, action):
        before = snapshot(lead)
        response = act(rep, lead, "stage", {"stage": code})
        assert response.status_code == 400
        assert action in " ".join(response.json()["stage"]).lower()
        assert snapshot(lead) == before

    @pytest.mark.parametrize("code", ["won", "nonsense", "LEAD"])
    def test_unknown_stages_are_refused(self, rep, lead, code):
        response = act(rep, lead, "stage", {"stage": code})
        assert response.status_code == 400
        assert "stage" in response.json()

    def test_an_inactive_stage_is_refused(self, rep, lead):
        Stage.objects.filter(code="meeting").update(is_active=False)
        response = act(rep, lead, "stage", {"stage": "meeting", "meeting_at": timezone.now().isoformat()})
        assert response.status_code == 400
        assert "stage" in response.json()

    def test_moving_back_keeps_the_furthest_stage(self, rep, lead):
        meeting_at = (timezone.now() + dt.timedelta(days=1)).isoformat()
        assert act(rep, lead, "stage", {"stage": "meeting", "meeting_at": meeting_at}).status_code == 200
        response = act(rep, lead, "stage", {"stage": "qualification"})
        assert response.status_code == 200, response.json()
        assert (response.json()["stage"], response.json()["furthest_stage"]) == ("qualification", "meeting")
        assert StageChange.objects.filter(lead=lead).count() == 2

    def test_the_current_stage_again_is_a_conflict(self, rep, lead):
        assert act(rep, lead, "stage", {"stage": "qualification"}).status_code == 200
        assert act(rep, lead, "stage", {"stage": "qualification"}).status_code == 409

    def test_a_won_lead_does_not_move(self, rep, lead):
        assert act(rep, lead, "stage", {"stage": "deal", "amount": "10", "margin": "1"}).status_code == 200
        before = snapshot(lead)
        assert act(rep, lead, "stage", {"stage": "qualification"}).status_code == 409
        assert act(rep, lead, "stage", {"stage": "deal", "amount": "20", "margin": "2"}).status_code == 409
        assert snapshot(lead) == before
        assert Deal.objects.filter(lead=lead).count() == 1


# --- 4. reject ----------------------------------------------------------------------------------------


class TestReject:
    def test_a_reason_from_the_list_closes_the_lead(self, rep, lead):
        response = act(rep, lead, "reject", {"reason": "no_budget"})
        assert response.status_code == 200, response.json()
        data = response.json()
        assert (data["stage"], data["status"], data["rejection_reason"]) == ("lost", "lost", "no_budget")
        assert data["furthest_stage"] == "lead"
        assert get_lead(rep, lead)["rejection_reason"] == "no_budget"
        change = StageChange.objects.get(lead=lead)
        assert (change.to_stage.code, change.changed_by) == ("lost", rep)
        assert first_timer(lead).state == TimerState.CANCELLED

    def test_other_needs_a_comment(self, rep, lead):
        before = snapshot(lead)
        for body in ({"reason": "other"}, {"reason": "other", "comment": "   "}):
            response = act(rep, lead, "reject", body)
            assert response.status_code == 400
            assert "comment" in response.json()
        assert snapshot(lead) == before
        response = act(rep, lead, "reject", {"reason": "other", "comment": "Закрылись"})
        assert response.status_code == 200
        assert (response.json()["rejection_reason"], response.json()["rejection_comment"]) == (
            "other",
            "Закрылись",
        )

    def test_unknown_and_inactive_reasons_are_refused(self, rep, lead):
        RejectionReason.objects.filter(code="spam").update(is_active=False)
        before = snapshot(lead)
        for reason in ("spam", "no-such-reason"):
            response = act(rep, lead, "reject", {"reason": reason})
            assert response.status_code == 400
            assert "reason" in response.json()
        assert snapshot(lead) == before

    def test_a_closed_lead_cannot_be_rejected(self, rep, lead):
        assert act(rep, lead, "reject", {"reason": "no_need"}).status_code == 200
        before = snapshot(lead)
        assert act(rep, lead, "reject", {"reason": "price"}).status_code == 409
        assert snapshot(lead) == before


# --- 5. nurture ---------------------------------------------------------------------------------------


class TestNurture:
    @pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}])
    def test_a_reason_is_required(self, rep, lead, body):
        before = snapshot(lead)
        response = act(rep, lead, "nurture", body)
        assert response.status_code == 400
        assert "reason" in response.json()
        assert snapshot(lead) == before

    @pytest.mark.parametrize("return_on", [TODAY - dt.timedelta(days=1), TODAY])
    def test_the_return_date_must_be_in_the_future(self, rep, lead, return_on):
        before = snapshot(lead)
        response = act(rep, lead, "nurture", {"reason": "Бюджет в новом году", "return_on": str(return_on)})
        assert response.status_code == 400
        assert "return_on" in response.json()
        assert snapshot(lead) == before

    def test_nurture_with_a_return_date(self, rep, head, marketer, marketing_head, lead):
        body = {"reason": "Бюджет в новом году", "return_on": "2027-01-15"}
        response = act(rep, lead, "nurture", body)
        assert response.status_code == 200, response.json()
        assert (response.json()["stage"], response.json()["status"]) == ("nurture", "nurture")
        lead.refresh_from_db()
        assert (lead.nurture_reason, lead.nurture_until) == ("Бюджет в новом году", dt.date(2027, 1, 15))
        assert StageChange.objects.get(lead=lead).to_stage.code == "nurture"
        assert nurtured_to(lead) == {"rep", "marketer", "marketing_head"}
        assert first_timer(lead).state == TimerState.CANCELLED

    def test_a_closed_lead_cannot_go_to_nurture(self, rep, lead):
        assert act(rep, lead, "nurture", {"reason": "later"}).status_code == 200
        assert act(rep, lead, "nurture", {"reason": "again"}).status_code == 409


# --- 6. the qualification checklist -----------------------------------------------------------------


class TestChecklist:
    def answer(self, user, lead, answers):
        return act(user, lead, "checklist", {"answers": {str(k): v for k, v in answers.items()}})

    def test_qualification_follows_the_answers(self, rep, lead):
        mql, sql = criteria("mql"), criteria("sql")
        assert len(mql) >= 2 and len(sql) >= 2

        response = self.answer(rep, lead, {**dict.fromkeys(mql[:-1], "yes"), mql[-1]: "unknown"})
        assert response.status_code == 200, response.json()
        assert response.json()["qualification"] == "none"
        assert not LeadEvent.objects.filter(lead=lead, kind="qualified").exists()

        response = self.answer(rep, lead, {mql[-1]: "yes"})
        assert response.json()["qualification"] == "mql"
        event = LeadEvent.objects.get(lead=lead, kind="qualified")
        assert event.actor == rep
        assert abs(event.created_at - timezone.now()) < dt.timedelta(seconds=5)
        assert event.data == {"from": "none", "to": "mql"}

        response = self.answer(rep, lead, {**dict.fromkeys(sql[:-1], "yes"), sql[-1]: "no"})
        assert response.json()["qualification"] == "mql"
        response = self.answer(rep, lead, {sql[-1]: "yes"})
        assert response.json()["qualification"] == "sql"

        response = self.answer(rep, lead, {mql[0]: "no"})
        assert response.json()["qualification"] == "none"
        lead.refresh_from_db()
        assert lead.qualified_at is None
        assert list(
            LeadEvent.objects.filter(lead=lead, kind="qualified")
            .order_by("pk")
            .values_list("data", flat=True)
        ) == [{"from": "none", "to": "mql"}, {"from": "mql", "to": "sql"}, {"from": "sql", "to": "none"}]
        assert CriterionAnswer.objects.filter(lead=lead).count() == len(mql) + len(sql)

    def test_sql_answers_alone_do_not_qualify(self, rep, lead):
        response = self.answer(rep, lead, dict.fromkeys(criteria("sql"), "yes"))
        assert response.json()["qualification"] == "none"

    def test_a_segment_criterion_counts_for_leads_of_that_segment(self, rep):
        segment = SegmentFactory()
        own = QualificationCriterion.objects.create(
            segment=segment, level="mql", code="has_fleet", text_ru="Есть автопарк", text_en="Has a fleet"
        )
        lead = new_lead(rep, segment=segment)
        assert self.answer(rep, lead, dict.fromkeys(criteria("mql"), "yes")).json()["qualification"] == "none"
        assert self.answer(rep, lead, {own.pk: "yes"}).json()["qualification"] == "mql"

    def test_criteria_that_do_not_apply_are_refused_and_nothing_is_saved(self, rep, lead):
        other_segment = QualificationCriterion.objects.create(
            segment=SegmentFactory(), level="mql", code="x", text_ru="x", text_en="x"
        )
        inactive = QualificationCriterion.objects.create(
            segment=None, level="sql", code="old", text_ru="x", text_en="x", is_active=False
        )
        valid = criteria("mql")[0]
        before = snapshot(lead)
        for bad in (other_segment.pk, 999999, inactive.pk, "abc"):
            response = self.answer(rep, lead, {valid: "yes", bad: "yes"})
            assert response.status_code == 400, bad
            assert "answers" in response.json()
        assert snapshot(lead) == before

    def test_answers_are_yes_no_or_unknown(self, rep, lead):
        before = snapshot(lead)
        for value in ("maybe", "YES", "", None, 1, ["yes"]):
            response = self.answer(rep, lead, {criteria("mql")[0]: value})
            assert response.status_code == 400, value
            assert "answers" in response.json()
        assert snapshot(lead) == before

    def test_a_closed_lead_takes_no_answers(self, rep, lead):
        assert act(rep, lead, "reject", {"reason": "spam"}).status_code == 200
        assert self.answer(rep, lead, {criteria("mql")[0]: "yes"}).status_code == 409
        assert not CriterionAnswer.objects.filter(lead=lead).exists()


# --- 7. manual assignment -----------------------------------------------------------------------------


class TestAssign:
    def test_the_head_gives_the_lead_to_a_teammate(self, people, lead):
        head, rep, teammate = people["head"], people["rep"], people["teammate"]
        response = act(head, lead, "assign", {"owner": teammate.pk})
        assert response.status_code == 200, response.json()
        assert response.json()["owner"] == teammate.pk
        assert response.json()["team"] == teammate.team_id
        assignment = Assignment.objects.get(lead=lead)
        assert assignment.kind == AssignmentKind.MANUAL
        assert (assignment.from_owner, assignment.to_owner, assignment.assigned_by) == (rep, teammate, head)
        assert Notification.objects.filter(
            lead=lead, recipient=teammate, kind=NotificationKind.ASSIGNED
        ).exists()
        # The new owner sees it; the old one no longer does.
        assert client(teammate).get(f"{URL}{lead.pk}/").status_code == 200
        assert client(rep).get(f"{URL}{lead.pk}/").status_code == 404

    def test_a_head_cannot_give_to_another_team(self, people, lead):
        before = snapshot(lead)
        response = act(people["head"], lead, "assign", {"owner": people["other_rep"].pk})
        assert response.status_code == 400
        assert "owner" in response.json()
        assert snapshot(lead) == before

    def test_an_admin_gives_to_anyone_in_sales(self, people, lead):
        response = act(people["admin"], lead, "assign", {"owner": people["other_rep"].pk})
        assert response.status_code == 200, response.json()
        assert (response.json()["owner"], response.json()["team"]) == (
            people["other_rep"].pk,
            people["other_rep"].team_id,
        )
        assert Assignment.objects.get(lead=lead).assigned_by == people["admin"]

    @pytest.mark.parametrize(("who", "code"), [("rep", 403), ("marketer", 403), ("other_head", 404)])
    def test_who_may_not_assign(self, people, lead, who, code):
        before = snapshot(lead)
        assert act(people[who], lead, "assign", {"owner": people["teammate"].pk}).status_code == code
        assert snapshot(lead) == before

    def test_a_closed_lead_is_not_reassigned(self, people, lead):
        assert act(people["rep"], lead, "reject", {"reason": "duplicate"}).status_code == 200
        before = snapshot(lead)
        assert act(people["head"], lead, "assign", {"owner": people["teammate"].pk}).status_code == 409
        assert snapshot(lead) == before

    def test_the_same_owner_is_a_conflict(self, people, lead):
        before = snapshot(lead)
        assert act(people["head"], lead, "assign", {"owner": people["rep"].pk}).status_code == 409
        assert snapshot(lead) == before

    def test_only_active_sales_people_take_leads(self, people, lead):
        gone = UserFactory(username="gone", role=Role.REP, team=people["rep"].team, is_active=False)
        before = snapshot(lead)
        for owner in (people["marketer"].pk, people["ceo"].pk, gone.pk, 999999, "abc", None):
            response = act(people["head"], lead, "assign", {"owner": owner})
            assert response.status_code == 400, owner
            assert "owner" in response.json()
        assert snapshot(lead) == before


# --- 8. who may act --------------------------------------------------------------------------------


ACTIONS = ["attempts", "assign", "checklist", "stage", "reject", "nurture", "patch"]
SEE_AND_CHANGE = {"rep", "head", "admin"}
CANNOT_SEE = {"teammate", "other_rep", "other_head"}
SEE_ONLY = {"marketer", "marketing_head", "ceo"}


def valid_call(action, people):
    """(method, action path, body, success code) of a correct call of `action`."""
    return {
        "attempts": ("post", "attempts", REACHED, 201),
        "assign": ("post", "assign", {"owner": people["teammate"].pk}, 200),
        "checklist": ("post", "checklist", {"answers": {str(criteria("mql")[0]): "yes"}}, 200),
        "stage": ("post", "stage", {"stage": "qualification"}, 200),
        "reject": ("post", "reject", {"reason": "no_need"}, 200),
        "nurture": ("post", "nurture", {"reason": "Вернуться весной"}, 200),
        "patch": ("patch", "", {"priority": "high"}, 200),
    }[action]


def expected_code(who, action, success):
    if who in CANNOT_SEE:
        return 404
    if who in SEE_ONLY or (action == "assign" and who == "rep"):
        return 403
    return success


@pytest.mark.parametrize("action", ACTIONS)
def test_who_may_act_on_the_reps_lead(people, action):
    """rep, head and admin act; teammate, other_rep and other_head get 404 (they cannot
    see the lead); marketing and the CEO get 403 (they see it but change nothing); only
    heads and admins assign. A refusal changes nothing."""
    method, path, body, success = valid_call(action, people)
    wrong = []
    refused_lead = new_lead(people["rep"])  # refusals change nothing, so they can share one lead
    before = snapshot(refused_lead)
    for who, user in people.items():
        expected = expected_code(who, action, success)
        lead = refused_lead if expected >= 400 else new_lead(people["rep"])
        response = act(user, lead, path, body, method=method)
        if response.status_code != expected:
            wrong.append((who, response.status_code, expected))
    assert not wrong
    assert snapshot(refused_lead) == before


@pytest.mark.parametrize("who", ["rep", "admin_user"])
def test_a_lead_that_does_not_exist_is_404(request, who):
    user = request.getfixturevalue(who)
    for action in ACTIONS[:-1]:
        response = client(user).post(f"{URL}999999/{action}/", {}, format="json")
        assert response.status_code == 404, action


def test_anonymous_callers_are_refused(lead):
    for action in ACTIONS[:-1]:
        response = APIClient().post(f"{URL}{lead.pk}/{action}/", {}, format="json")
        assert response.status_code == 401, action


# --- 9. bad input ------------------------------------------------------------------------------------


BAD_INPUT = [
    ("attempts", {**CALL_NO_ANSWER, "colour": "red"}, "colour"),
    ("attempts", {**CALL_NO_ANSWER, "duration_seconds": "abc"}, "duration_seconds"),
    ("attempts", {**CALL_NO_ANSWER, "duration_seconds": -5}, "duration_seconds"),
    ("attempts", {**CALL_NO_ANSWER, "duration_seconds": 1.5}, "duration_seconds"),
    ("attempts", {**CALL_NO_ANSWER, "duration_seconds": 10**9}, "duration_seconds"),
    ("attempts", {"channel": "fax", "outcome": "no_answer"}, "channel"),
    ("attempts", {"channel": "call", "outcome": "ghosted"}, "outcome"),
    ("attempts", {"channel": "call"}, "outcome"),
    ("attempts", {"outcome": "reached"}, "channel"),
    ("attempts", {"channel": ["call"], "outcome": "reached"}, "channel"),
    ("attempts", {**REACHED, "callback_at": "tomorrow"}, "callback_at"),
    ("attempts", {**REACHED, "recording_url": "not a url"}, "recording_url"),
    ("attempts", {**REACHED, "note": "x" * 5001}, "note"),
    ("assign", {"owner": "abc"}, "owner"),
    ("assign", {}, "owner"),
    ("assign", {"owner": "{teammate}", "why": "holiday"}, "why"),
    ("checklist", {"answers": ["yes"]}, "answers"),
    ("checklist", {"answers": {}}, "answers"),
    ("checklist", {"answers": "yes"}, "answers"),
    ("checklist", {}, "answers"),
    ("checklist", {"answers": {"{mql}": "yes"}, "qualification": "sql"}, "qualification"),
    ("stage", {}, "stage"),
    ("stage", {"stage": "qualification", "when": "now"}, "when"),
    ("stage", {"stage": "meeting", "meeting_at": "next tuesday"}, "meeting_at"),
    ("stage", {"stage": "deal", "amount": "lots", "margin": "1"}, "amount"),
    ("stage", {"stage": "deal", "amount": "-1", "margin": "-2"}, "amount"),
    ("stage", {"stage": "deal", "amount": "NaN", "margin": "1"}, "amount"),
    ("stage", {"stage": "deal", "amount": "1e20", "margin": "1"}, "amount"),
    ("stage", {"stage": "deal", "amount": "100", "margin": "ten"}, "margin"),
    ("reject", {}, "reason"),
    ("reject", {"reason": "no_need", "note": "x"}, "note"),
    ("reject", {"reason": "not a slug!"}, "reason"),
    ("nurture", {"reason": "later", "return_on": "soon"}, "return_on"),
    ("nurture", {"reason": "later", "return_on": "2027-02-30"}, "return_on"),
    ("nurture", {"reason": "x" * 301}, "reason"),
    ("nurture", {"reason": "later", "until": "2027-01-01"}, "until"),
]


def _fill(value, teammate):
    placeholders = {"{teammate}": teammate.pk, "{mql}": str(criteria("mql")[0])}
    if isinstance(value, dict):
        return {placeholders.get(k, k): _fill(v, teammate) for k, v in value.items()}
    return placeholders.get(value, value) if isinstance(value, str) else value


@pytest.mark.parametrize("action", sorted({case[0] for case in BAD_INPUT}))
def test_bad_input_is_refused_per_field_and_changes_nothing(head, teammate, lead, action):
    before = snapshot(lead)
    wrong = []
    for _action, body, field in (case for case in BAD_INPUT if case[0] == action):
        response = act(head, lead, action, _fill(body, teammate))  # the head may call every action
        if response.status_code != 400 or field not in response.json():
            wrong.append((body, field, response.status_code, response.json()))
    assert not wrong
    assert snapshot(lead) == before


@pytest.mark.parametrize("action", ["attempts", "assign", "checklist", "stage", "reject", "nurture", ""])
def test_malformed_bodies_answer_400_and_change_nothing(head, lead, action):
    method = "patch" if action == "" else "post"
    path = f"{URL}{lead.pk}/" + (f"{action}/" if action else "")
    before = snapshot(lead)
    for body in ("{not json", '{"stage": "deal",}', "[1, 2]", "null", '"reached"'):
        response = getattr(client(head), method)(path, body, content_type="application/json")
        assert response.status_code == 400, (body, response.status_code)
    assert snapshot(lead) == before


# --- 10. the OpenAPI schema --------------------------------------------------------------------------


SCHEMA_BODIES = {
    "attempts": (
        {"channel", "outcome", "duration_seconds", "note", "callback_at"},
        {"channel", "outcome"},
        "201",
    ),
    "assign": ({"owner"}, {"owner"}, "200"),
    "checklist": ({"answers"}, {"answers"}, "200"),
    "stage": ({"stage", "meeting_at", "amount", "margin"}, {"stage"}, "200"),
    "reject": ({"reason", "comment"}, {"reason"}, "200"),
    "nurture": ({"reason", "return_on"}, {"reason"}, "200"),
}


def test_the_schema_describes_every_action_with_its_body(api):
    response = api.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    components = schema["components"]["schemas"]

    def resolve(node):
        while "$ref" in node:
            node = components[node["$ref"].rsplit("/", 1)[1]]
        return node

    for action, (fields, required, success) in SCHEMA_BODIES.items():
        operation = schema["paths"][f"/api/v1/leads/{{id}}/{action}/"]["post"]
        body = resolve(operation["requestBody"]["content"]["application/json"]["schema"])
        assert fields <= set(body["properties"]), action
        assert set(body.get("required", [])) == required, action
        assert {success, "400", "403", "404", "409"} <= set(operation["responses"]), action
        assert operation["responses"][success]["content"]["application/json"]["schema"], action

    attempt = resolve(
        schema["paths"]["/api/v1/leads/{id}/attempts/"]["post"]["requestBody"]["content"]["application/json"][
            "schema"
        ]
    )
    assert set(resolve(attempt["properties"]["channel"])["enum"]) == {"call", "email", "messenger"}
    assert set(resolve(attempt["properties"]["outcome"])["enum"]) == {
        "reached",
        "no_answer",
        "busy",
        "wrong_number",
        "voicemail",
    }
    checklist = resolve(
        schema["paths"]["/api/v1/leads/{id}/checklist/"]["post"]["requestBody"]["content"][
            "application/json"
        ]["schema"]
    )
    assert set(checklist["properties"]["answers"]["additionalProperties"]["enum"]) == {"yes", "no", "unknown"}
    patch = schema["paths"]["/api/v1/leads/{id}/"]["patch"]
    assert "requestBody" in patch
    assert {"200", "400", "403", "404", "409"} <= set(patch["responses"])


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("attempts", {**REACHED, "callback_at": "2100-01-01T10:00:00+03:00"}),
        ("attempts", {**REACHED, "callback_at": "9999-12-31T23:00:00Z"}),
        ("stage", {"stage": "meeting", "meeting_at": "9999-12-31T23:00:00Z"}),
        ("nurture", {"reason": "later", "return_on": "9999-12-31"}),
    ],
    ids=["callback-2100", "callback-9999", "meeting-9999", "return-9999"],
)
def test_far_future_dates_are_taken_or_refused_never_a_server_error(rep, lead, action, body):
    before = snapshot(lead)
    response = act(rep, lead, action, body)
    assert response.status_code in (200, 201, 400)
    if response.status_code == 400:
        assert snapshot(lead) == before


def test_the_head_works_unassigned_leads_of_the_team(head, teammate, team_a):
    """Leads wait in the team queue without an owner; the head acts on them too."""
    wrong = []
    for action in ACTIONS:
        lead = LeadFactory(owner=None, team=team_a)
        start_first_contact_timer(lead, lead.created_at)
        method, path, body, success = valid_call(action, {"teammate": teammate})
        response = act(head, lead, path, body, method=method)
        if response.status_code != success:
            wrong.append((action, response.status_code, response.json()))
    assert not wrong
