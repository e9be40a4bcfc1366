"""Leads come back from nurture (issue #15): on their return date (swept like SLA
timers), after a new request from the contact, or by a marketer's hand.

The story: a lead arrives on Wednesday 2026-02-11 at 11:00 Moscow time (the default
calendar: Mon–Fri 09–13 and 14–18), the rep reaches the client and moves it to
qualification, and at 12:00 sends it to nurture "until March" (return on Monday
2026-03-02). The sweep brings it back at 09:00 that Monday — the start of the working
day, not midnight — at qualification, with a fresh first-contact clock.
"""

import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import translation

from leads import actions
from leads.assignment import describe
from leads.choices import AssignmentKind, ReturnState, ReturnTrigger
from leads.intake_keys import create_key
from leads.models import Assignment, InboundRequest, Lead, LeadEvent, NurtureReturn, Stage
from leads.returns import return_due, return_from_nurture
from revops.errors import Conflict
from revops.models import Absence
from sla.calendars import DEFAULT_CALENDAR_CODE
from sla.clock import start_first_contact_timer
from sla.models import (
    BusinessCalendar,
    CalendarException,
    Notification,
    NotificationKind,
    SlaTimer,
    TimerKind,
    TimerState,
)
from sla.sweep import sweep
from tests.concurrent import run_together
from tests.conftest import skip_or_fail
from tests.factories import ContactFactory, LeadFactory, SourceFactory, stage

pytestmark = pytest.mark.django_db

MOSCOW = ZoneInfo("Europe/Moscow")


def msk(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=MOSCOW)


ARRIVAL = msk(2026, 2, 11, 11, 0)
NURTURED = msk(2026, 2, 11, 12, 0)
RETURN_ON = dt.date(2026, 3, 2)  # a Monday
DUE = msk(2026, 3, 2, 9, 0)


@pytest.fixture
def clock(db):
    with time_machine.travel(ARRIVAL, tick=False) as traveller:
        yield traveller


def nurtured_lead(rep, clock, *, return_on=RETURN_ON, phone=None):
    """The story's lead, sent to nurture at NURTURED by `rep`."""
    contact = ContactFactory(**({"phone": phone} if phone else {}))
    lead = LeadFactory(owner=rep, team=rep.team, created_at=ARRIVAL, contact=contact)
    start_first_contact_timer(lead, ARRIVAL)
    actions.log_attempt(lead, rep, channel="call", outcome="reached", at=ARRIVAL + dt.timedelta(minutes=5))
    clock.move_to(NURTURED)
    actions.send_to_nurture(lead, rep, "budget in March", return_on, at=NURTURED)
    return Lead.objects.get(pk=lead.pk)


def first_contact_timers(lead):
    return list(SlaTimer.objects.filter(lead=lead, kind=TimerKind.FIRST_CONTACT).order_by("started_at"))


# --- the return date -------------------------------------------------------------------------------


def test_a_return_date_is_due_at_the_start_of_that_working_day(rep, clock):
    lead = nurtured_lead(rep, clock)

    row = NurtureReturn.objects.get(lead=lead)

    assert row.state == ReturnState.PENDING
    assert row.due_at == DUE  # 09:00 in Moscow, not midnight
    assert row.nurture_change == lead.stage_changes.get(to_stage__code="nurture")


def test_a_holiday_pushes_the_return_to_the_next_working_day(rep, clock):
    default = BusinessCalendar.objects.get(code=DEFAULT_CALENDAR_CODE)
    CalendarException.objects.create(calendar=default, date=dt.date(2026, 3, 3))  # closed all day

    lead = nurtured_lead(rep, clock, return_on=dt.date(2026, 3, 3))

    assert NurtureReturn.objects.get(lead=lead).due_at == msk(2026, 3, 4, 9, 0)


def test_a_weekend_return_date_comes_on_monday(rep, clock):
    lead = nurtured_lead(rep, clock, return_on=dt.date(2026, 2, 28))  # a Saturday

    assert NurtureReturn.objects.get(lead=lead).due_at == DUE


def test_nurture_without_a_date_has_no_return_row(rep, clock):
    lead = nurtured_lead(rep, clock, return_on=None)

    assert not NurtureReturn.objects.filter(lead=lead).exists()
    assert "returned=0" in str(sweep(now=DUE)).split()


def test_the_sweep_returns_the_lead_on_its_date_once(rep, clock):
    lead = nurtured_lead(rep, clock)
    clock.move_to(DUE - dt.timedelta(seconds=1))
    assert sweep().steps["returned"] == 0  # midnight and 08:59 are not yet the day's start
    clock.move_to(DUE)

    result = sweep()

    assert result.returned == 1
    lead = Lead.objects.select_related("stage", "owner").get(pk=lead.pk)
    assert lead.stage.code == "qualification"  # the stage it left
    assert (lead.nurture_reason, lead.nurture_until, lead.closed_at) == ("", None, None)
    assert lead.returned_at == DUE
    assert lead.owner == rep  # active and on shift: kept
    row = NurtureReturn.objects.get(lead=lead)
    assert (row.state, row.trigger, row.returned_at) == (ReturnState.DONE, ReturnTrigger.DATE, DUE)
    # A fresh first-contact clock from the return: 15 working minutes.
    old, new = first_contact_timers(lead)
    assert old.state == TimerState.MET
    assert (new.state, new.started_at, new.due_at) == (
        TimerState.RUNNING,
        DUE,
        DUE + dt.timedelta(minutes=15),
    )
    event = lead.events.get(kind=LeadEvent.Kind.RETURNED)
    assert event.data["trigger"] == "date"
    assert event.data["reason"] == "budget in March"
    assert event.data["until"] == "2026-03-02"
    assert event.data["days"] == 18
    assert event.data["owner"] == "kept"
    assert Notification.objects.filter(kind=NotificationKind.RETURNED, recipient=rep).exists()
    # Once: the next pass finds nothing due.
    assert sweep(now=DUE + dt.timedelta(minutes=1)).returned == 0
    assert lead.events.filter(kind=LeadEvent.Kind.RETURNED).count() == 1


def test_the_command_prints_returned(rep, clock):
    nurtured_lead(rep, clock)
    clock.move_to(DUE + dt.timedelta(hours=1))
    out = io.StringIO()

    call_command("sla_sweep", stdout=out)

    assert "returned=1" in out.getvalue().split()


def test_the_undo_of_a_nurture_cancels_its_return(rep, clock):
    lead = nurtured_lead(rep, clock)
    change = actions.undoable_close(lead, rep, at=NURTURED)

    actions.undo_close(lead, rep, change.pk, at=NURTURED + dt.timedelta(seconds=5))

    assert NurtureReturn.objects.get(lead=lead).state == ReturnState.CANCELLED
    assert sweep(now=DUE).returned == 0
    assert not LeadEvent.objects.filter(lead=lead, kind=LeadEvent.Kind.RETURNED).exists()


def test_a_lead_that_left_nurture_otherwise_is_not_returned_again(rep, clock):
    lead = nurtured_lead(rep, clock)
    # A stage set behind the return's back (as the admin or a data fix might).
    Lead.objects.filter(pk=lead.pk).update(stage=stage("qualification"))

    assert return_due(DUE) == 0
    assert NurtureReturn.objects.get(lead=lead).state == ReturnState.CANCELLED


def test_a_lead_sent_from_a_stage_no_longer_active_comes_back_as_a_lead(rep, clock):
    lead = nurtured_lead(rep, clock)
    Stage.objects.filter(code="qualification").update(is_active=False)

    sweep(now=DUE)

    assert Lead.objects.get(pk=lead.pk).stage.code == "lead"


# --- the owner -------------------------------------------------------------------------------------


def test_an_absent_owner_hands_the_returned_lead_to_distribution(rep, teammate, clock):
    lead = nurtured_lead(rep, clock)
    Absence.objects.create(user=rep, starts_on=RETURN_ON, ends_on=RETURN_ON)

    sweep(now=DUE)

    lead = Lead.objects.get(pk=lead.pk)
    assert lead.owner == teammate
    assignment = Assignment.objects.filter(lead=lead).latest("created_at")
    assert assignment.kind == AssignmentKind.RETURN
    assert (assignment.from_owner, assignment.to_owner) == (rep, teammate)
    with translation.override("en"):
        why = describe(assignment.reasons)
    assert why.startswith("back from nurture; rep is absent")
    assert lead.events.get(kind=LeadEvent.Kind.RETURNED).data["owner"] == "changed"
    # The new owner hears of it once, as a return (not also as an assignment).
    assert list(
        Notification.objects.filter(recipient=teammate).values_list("kind", flat=True).distinct()
    ) == [NotificationKind.RETURNED]


def test_an_owner_who_left_is_replaced(rep, teammate, clock):
    lead = nurtured_lead(rep, clock)
    rep.is_active = False
    rep.save()

    sweep(now=DUE)

    lead = Lead.objects.get(pk=lead.pk)
    assert lead.owner == teammate
    with translation.override("en"):
        assert "rep no longer works here" in describe(
            Assignment.objects.filter(lead=lead).latest("created_at").reasons
        )


def test_with_nobody_on_shift_the_returned_lead_waits_in_the_queue(rep, clock, head):
    lead = nurtured_lead(rep, clock)
    Absence.objects.create(user=rep, starts_on=RETURN_ON, ends_on=RETURN_ON)

    sweep(now=DUE)

    lead = Lead.objects.get(pk=lead.pk)
    assert lead.owner is None and lead.stage.code == "qualification"
    assert lead.events.get(kind=LeadEvent.Kind.RETURNED).data["owner"] == "waits"
    assert Notification.objects.filter(kind=NotificationKind.RETURNED, recipient=head).exists()


def test_a_return_outside_working_hours_keeps_the_owner_only_when_on_shift(rep, teammate, clock):
    lead = nurtured_lead(rep, clock, return_on=None)
    evening = msk(2026, 3, 2, 20, 0)

    return_from_nurture(lead, ReturnTrigger.HAND, at=evening)

    lead = Lead.objects.get(pk=lead.pk)
    assert lead.owner is None  # nobody works at 20:00: it waits for the morning
    new = first_contact_timers(lead)[-1]
    assert new.due_at == msk(2026, 3, 3, 9, 15)  # the clock counts working time


def test_a_lead_not_in_nurture_cannot_be_returned(rep, clock):
    lead = LeadFactory(owner=rep)

    with pytest.raises(Conflict):
        return_from_nurture(lead, ReturnTrigger.HAND)


# --- a new request ---------------------------------------------------------------------------------


def test_a_new_request_brings_the_nurtured_lead_back(api, rep, clock):
    lead = nurtured_lead(rep, clock, phone="+79161234567")
    source = SourceFactory(code="site")
    key = create_key(source)[1]
    later = msk(2026, 2, 20, 10, 0)
    clock.move_to(later)

    response = api.post(
        "/api/v1/intake/",
        {"phone": "+7 916 123-45-67", "comment": "Ready now", "consent": True, "channel": "form"},
        format="json",
        HTTP_X_INTAKE_KEY=key,
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["repeat"] is True and body["id"] == lead.pk
    assert Lead.objects.filter(contact=lead.contact).count() == 1  # no second lead
    lead = Lead.objects.get(pk=lead.pk)
    assert lead.stage.code == "qualification" and lead.returned_at == later
    request = InboundRequest.objects.get(pk=body["request_id"])
    assert request.lead_id == lead.pk and request.is_repeat
    row = NurtureReturn.objects.get(lead=lead)
    assert (row.state, row.trigger) == (ReturnState.DONE, ReturnTrigger.REQUEST)
    assert lead.events.get(kind=LeadEvent.Kind.RETURNED).data["request"] == request.pk
    assert first_contact_timers(lead)[-1].started_at == later
    assert sweep(now=DUE).returned == 0  # the date has nothing left to do


def test_a_request_to_an_open_lead_returns_nothing(api, rep, clock):
    source = SourceFactory(code="site")
    key = create_key(source)[1]
    body = {"phone": "+79161234567", "consent": True, "channel": "form"}
    first = api.post("/api/v1/intake/", body, format="json", HTTP_X_INTAKE_KEY=key).json()

    second = api.post("/api/v1/intake/", body, format="json", HTTP_X_INTAKE_KEY=key)

    assert second.status_code == 200 and second.json()["id"] == first["id"]
    assert not LeadEvent.objects.filter(kind=LeadEvent.Kind.RETURNED).exists()


# --- by hand -----------------------------------------------------------------------------------------


def act_url(pk):
    return reverse("leads:act", args=[pk, "return"])


@pytest.mark.parametrize("role", ["marketer", "marketing_head", "admin"])
def test_marketing_and_admins_return_a_lead_on_the_card(client, people, clock, role):
    lead = nurtured_lead(people["rep"], clock)
    clock.move_to(msk(2026, 2, 16, 10, 0))
    client.force_login(people[role])

    response = client.post(act_url(lead.pk), {"note": "came to the webinar"})

    assert response.status_code == 302
    lead = Lead.objects.get(pk=lead.pk)
    assert lead.stage.code == "qualification"
    event = lead.events.get(kind=LeadEvent.Kind.RETURNED)
    assert (event.actor, event.data["trigger"], event.data["text"]) == (
        people[role],
        "hand",
        "came to the webinar",
    )
    assert NurtureReturn.objects.get(lead=lead).returned_by == people[role]


@pytest.mark.parametrize("role", ["rep", "head", "ceo", "teammate"])
def test_other_roles_may_not_return_a_lead(client, people, clock, role):
    lead = nurtured_lead(people["rep"], clock)
    client.force_login(people[role])

    response = client.post(act_url(lead.pk))

    assert response.status_code in (403, 404)
    assert response.status_code == (404 if role == "teammate" else 403)  # a rep sees only their own leads
    assert Lead.objects.get(pk=lead.pk).stage.code == "nurture"
    assert NurtureReturn.objects.get(lead=lead).state == ReturnState.PENDING


def test_the_card_shows_the_button_to_marketing_and_the_mark_after(client, people, clock):
    lead = nurtured_lead(people["rep"], clock)
    client.force_login(people["marketer"])
    with translation.override("en"):
        page = client.get(reverse("leads:detail", args=[lead.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert act_url(lead.pk) in page
        client.post(act_url(lead.pk))
        client.force_login(people["rep"])
        page = client.get(reverse("leads:detail", args=[lead.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert act_url(lead.pk) not in page
    assert "tag-returned" in page


def test_returning_an_open_lead_on_the_card_changes_nothing(client, people, clock):
    lead = LeadFactory(owner=people["rep"])
    client.force_login(people["marketer"])

    response = client.post(act_url(lead.pk))

    assert response.status_code == 302  # back to the card, with the reason shown
    assert not LeadEvent.objects.filter(lead=lead).exists()
    assert not NurtureReturn.objects.filter(lead=lead).exists()


def api_url(pk):
    return f"/api/v1/leads/{pk}/return/"


def test_the_api_returns_a_lead_for_marketing(api, people, clock):
    lead = nurtured_lead(people["rep"], clock)
    api.force_authenticate(people["marketer"])

    response = api.post(api_url(lead.pk), {"note": "asked again"}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["stage"] == "qualification"


@pytest.mark.parametrize(
    ("role", "body", "status"),
    [
        ("rep", {}, 403),
        ("head", {}, 403),
        ("ceo", {}, 403),
        ("marketer", {"note": "x" * 501}, 400),
        ("marketer", {"when": "now"}, 400),
        ("marketer", {"note": ["a"]}, 400),
    ],
)
def test_the_api_refuses_and_changes_nothing(api, people, clock, role, body, status):
    lead = nurtured_lead(people["rep"], clock)
    api.force_authenticate(people[role])

    response = api.post(api_url(lead.pk), body, format="json")

    assert response.status_code == status
    assert Lead.objects.get(pk=lead.pk).stage.code == "nurture"
    assert NurtureReturn.objects.get(lead=lead).state == ReturnState.PENDING


def test_the_api_answers_404_for_someone_elses_or_no_lead_and_409_for_an_open_one(api, people, clock):
    lead = nurtured_lead(people["rep"], clock)
    api.force_authenticate(people["other_rep"])
    assert api.post(api_url(lead.pk), {}, format="json").status_code == 404
    api.force_authenticate(people["marketer"])
    assert api.post(api_url(999_999), {}, format="json").status_code == 404
    assert api.post(api_url(LeadFactory().pk), {}, format="json").status_code == 409
    assert Lead.objects.get(pk=lead.pk).stage.code == "nurture"


# --- two sweeps at once (PostgreSQL) --------------------------------------------------------------

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=ON_POSTGRES)
def test_two_sweeps_at_once_return_each_lead_once(rep, teammate):
    if connection.vendor != "postgresql":
        skip_or_fail("needs PostgreSQL (row locks and SKIP LOCKED)")
    leads = []
    with time_machine.travel(ARRIVAL, tick=False) as traveller:
        for n in range(40):
            traveller.move_to(ARRIVAL)
            leads.append(nurtured_lead(rep, traveller, phone=f"+7916{n:07d}"))
        results = run_together(lambda: sweep(now=DUE))
        # A lead the other sweep held is left to the next pass: run one.
        results.append(sweep(now=DUE + dt.timedelta(seconds=2)))

    assert sum(r.returned for r in results) == 40
    assert NurtureReturn.objects.filter(state=ReturnState.DONE).count() == 40
    assert LeadEvent.objects.filter(kind=LeadEvent.Kind.RETURNED).count() == 40
    assert SlaTimer.objects.filter(kind=TimerKind.FIRST_CONTACT, started_at=DUE).count() == 40
    assert Lead.objects.filter(stage__code="qualification").count() == 40
