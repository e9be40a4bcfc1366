"""A merge keeps the request's furthest progress and its qualification
(DESIGN.md, "Reports": the kept lead gets the later furthest stage of the two
and its qualification is recomputed), written to the history like any change."""

import datetime as dt

import pytest
from django.utils import timezone

from leads.actions import answer_checklist, move_stage
from leads.choices import Qualification
from leads.merge import merge
from leads.models import LeadEvent, QualificationCriterion, Stage
from tests.factories import ContactFactory, LeadFactory

pytestmark = pytest.mark.django_db


def test_the_kept_lead_gets_the_further_stage_reached_and_keeps_its_current_stage(rep, head):
    keep = LeadFactory(owner=rep)
    duplicate = LeadFactory(owner=rep, contact=ContactFactory())
    move_stage(duplicate, rep, "meeting", meeting_at=timezone.now() + dt.timedelta(days=1))
    duplicate.refresh_from_db()
    assert duplicate.furthest_stage.code == "meeting"

    merge(keep, duplicate, head)

    keep.refresh_from_db()
    assert keep.furthest_stage.code == "meeting"
    assert keep.stage.code == "lead"  # the stage itself is the kept lead's own


def test_a_kept_lead_further_along_stays_where_it_got(rep, head):
    keep = LeadFactory(owner=rep)
    move_stage(keep, rep, "meeting", meeting_at=timezone.now() + dt.timedelta(days=1))
    duplicate = LeadFactory(owner=rep, contact=ContactFactory())
    move_stage(duplicate, rep, "qualification")

    merge(keep, duplicate, head)

    keep.refresh_from_db()
    assert keep.furthest_stage == Stage.objects.get(code="meeting")


def test_answers_brought_by_the_duplicate_requalify_the_kept_lead(rep, head):
    mql = list(QualificationCriterion.objects.filter(is_active=True, level="mql", segment__isnull=True))
    assert mql, "the seeded checklist has MQL criteria"
    keep = LeadFactory(owner=rep)
    duplicate = LeadFactory(owner=rep, contact=ContactFactory())
    answer_checklist(duplicate, rep, {str(c.pk): "yes" for c in mql})
    duplicate.refresh_from_db()
    assert duplicate.qualification == Qualification.MQL

    merge(keep, duplicate, head)

    keep.refresh_from_db()
    assert keep.qualification == Qualification.MQL and keep.qualified_at is not None
    event = LeadEvent.objects.get(lead=keep, kind=LeadEvent.Kind.QUALIFIED)
    assert event.data == {"from": "none", "to": "mql"} and event.actor == head
