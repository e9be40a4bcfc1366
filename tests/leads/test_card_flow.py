"""The rep's flow on the lead card (issue #14): the attempts hint tells the truth,
nurture and reject can be undone, a risky call asks first, one save carries an
attempt, the checklist and a stage, nothing typed is lost, and every open lead
shows a dated next step."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone, translation

from leads import actions
from leads.models import ContactAttempt, Lead
from sla.clock import start_first_contact_timer
from tests.factories import LeadFactory, stage

pytestmark = pytest.mark.django_db

WED_11 = dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)  # Wednesday 11:00 Moscow


@pytest.fixture(autouse=True)
def working_hours():
    with time_machine.travel(WED_11, tick=True):
        yield


def new_lead(rep, **kwargs):
    lead = LeadFactory(owner=rep, **kwargs)
    start_first_contact_timer(lead, lead.created_at)
    return lead


def card(client, lead) -> str:
    return client.get(f"/leads/{lead.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()


def call(client, lead, outcome="no_answer", **extra):
    return client.post(f"/leads/{lead.pk}/do/attempt/", {"channel": "call", "outcome": outcome, **extra})


# --- the attempts hint ---------------------------------------------------------------------------


class TestAttemptsHint:
    def test_counts_towards_nurture_at_the_first_stage(self, client, rep):
        lead = new_lead(rep)
        client.force_login(rep)
        assert "1 of 3" in card(client, lead)
        call(client, lead)
        assert "2 of 3" in card(client, lead)

    def test_past_the_first_stage_a_failed_call_only_goes_on_record(self, client, rep):
        lead = new_lead(rep, stage=stage("meeting"))
        client.force_login(rep)
        for _ in range(3):
            call(client, lead)
        lead.refresh_from_db()
        assert lead.stage.code == "meeting"  # the rule did not fire
        html = card(client, lead)
        assert "of 3" not in html and "→ nurture" not in html
        assert "logged, the lead stays" in html

    def test_never_reads_more_than_the_limit(self, client, rep):
        lead = new_lead(rep)
        # Calls the rule did not see (logged before a policy change, say): the hint still
        # says what the next one does, and never "4 of 3".
        for _ in range(3):
            ContactAttempt.objects.create(
                lead=lead,
                channel="call",
                outcome="busy",
                counted=True,
                made_by=rep,
                made_at=timezone.now(),
            )
        client.force_login(rep)
        html = card(client, lead)
        assert "3 of 3 → nurture" in html and "4 of 3" not in html

    def test_once_reached_failed_calls_never_nurture(self, rep):
        lead = new_lead(rep)
        actions.log_attempt(lead, rep, channel="call", outcome="reached")
        for _ in range(4):
            actions.log_attempt(Lead.objects.get(pk=lead.pk), rep, channel="call", outcome="no_answer")
        assert Lead.objects.get(pk=lead.pk).stage.code == "qualification"

    def test_the_rule_still_fires_at_the_first_stage(self, rep):
        lead = new_lead(rep)
        for _ in range(3):
            _attempt, info = actions.log_attempt(
                Lead.objects.get(pk=lead.pk), rep, channel="call", outcome="no_answer"
            )
        assert info.get("nurtured") and Lead.objects.get(pk=lead.pk).stage.code == "nurture"


def english(text):
    with translation.override("en"):
        return str(text)
