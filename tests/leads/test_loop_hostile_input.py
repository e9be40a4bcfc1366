"""Hostile input to issue #15's pages and API (nurture, tracks, feedback,
disputes, definitions) never answers 500: NUL bytes (PostgreSQL's text columns
refuse them), numbers beyond 64 bits, digits int() reads but we do not, dates
at the ends of the calendar, megabytes of text. A refused write changes nothing.
CI runs this on PostgreSQL, where a NUL that slips through is a 500."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from leads import actions, disputes, feedback
from leads.choices import StepKind
from leads.models import (
    Feedback,
    LeadEvent,
    MarketingTask,
    NurtureStep,
    NurtureTrack,
    RejectionDispute,
    TrackEnrollment,
)
from tests.factories import LeadFactory, stage
from tests.leads.dispute_story import rejected_lead

pytestmark = pytest.mark.django_db

HOSTILE = [
    "\x00",
    "a\x00b",
    "²",
    "99999999999999999999",
    "-1",
    "1.76e+307",
    "9999-12-31",
    "0001-01-01",
    "x" * 6000,
]


@pytest.fixture
def world(rep, head, marketer, marketing_head):
    nurtured = LeadFactory(owner=rep, team=rep.team, stage=stage("qualification"))
    actions.send_to_nurture(nurtured, rep, "", None, cause="no_budget")
    lost = rejected_lead(rep)
    disputed = rejected_lead(rep)
    dispute = disputes.open_dispute(disputed, marketer, "Наш клиент")
    item = feedback.leave_feedback(LeadFactory(owner=rep, team=rep.team), rep, "objection", "Дорого")
    track = NurtureTrack.objects.create(name="Budget")
    step = NurtureStep.objects.create(track=track, position=1, kind=StepKind.TASK, task_text="Call")
    enrollment = TrackEnrollment.objects.create(lead=nurtured, track=track, step=step)
    task = MarketingTask.objects.create(lead=nurtured, enrollment=enrollment, step=step, text="Call")
    return {
        "nurtured": nurtured,
        "lost": lost,
        "dispute": dispute,
        "feedback": item,
        "track": track,
        "task": task,
    }


def state() -> tuple:
    """What a refused request must leave as it was."""
    return (
        list(RejectionDispute.objects.order_by("pk").values_list("pk", "state", "comment")),
        list(Feedback.objects.order_by("pk").values_list("pk", "state", "reply", "text")),
        list(NurtureTrack.objects.order_by("pk").values_list("pk", "name", "description")),
        list(NurtureStep.objects.order_by("pk").values_list("pk", "task_text")),
        list(MarketingTask.objects.order_by("pk").values_list("pk", "done_at")),
        LeadEvent.objects.count(),
    )


PAGES = [
    (
        "marketer",
        "/nurture/",
        ["reason", "track", "source", "owner", "this_week", "date_from", "date_to", "page"],
    ),
    ("marketer", "/nurture/tasks/", ["page"]),
    (
        "marketer",
        "/feedback/",
        ["date_from", "date_to", "source", "campaign", "segment", "topic", "state", "page"],
    ),
    ("head", "/disputes/", ["state", "team", "source", "page"]),
    ("ceo", "/reports/definitions/", ["kind", "page"]),
    ("rep", "/leads/new/nurture-check/", ["phone", "email"]),
]


@pytest.mark.parametrize("who,path,params", PAGES, ids=[p for _w, p, _ in PAGES])
def test_pages_never_fail_on_hostile_parameters(request, world, who, path, params):
    client = Client()
    client.force_login(request.getfixturevalue(who))
    failures = []
    for name in params:
        for value in HOSTILE:
            code = client.get(path, {name: value}).status_code
            if code not in (200, 400):
                failures.append((name, value[:20], code))
    assert failures == []


def posts(world):
    """(who, url, the form's fields) of every form of issue #15."""
    lost, dispute, item = world["lost"].pk, world["dispute"].pk, world["feedback"].pk
    track, task = world["track"].pk, world["task"].pk
    return [
        ("marketer", f"/disputes/lead/{lost}/", ["comment"]),
        ("head", f"/disputes/{dispute}/decide/", ["outcome", "comment"]),
        ("marketer", f"/feedback/{item}/take/", ["reply"]),
        ("marketer", f"/nurture/tasks/{task}/done/", ["next"]),
        ("marketer", f"/nurture/tracks/{track}/", ["name", "description", "reasons", "steps-TOTAL_FORMS"]),
        ("marketer", "/nurture/tracks/new/", ["name", "description", "is_active"]),
    ]


@pytest.mark.parametrize("index", range(6))
def test_forms_never_fail_and_a_refusal_changes_nothing(request, world, index):
    who, url, fields = posts(world)[index]
    client = Client()
    client.force_login(request.getfixturevalue(who))
    failures = []
    for name in fields:
        for value in HOSTILE:
            before = state()
            code = client.post(url, {name: value}).status_code
            if code >= 500:
                failures.append((name, value[:20], code))
            elif code in (400, 409) and state() != before:
                failures.append((name, value[:20], "changed"))
    assert failures == []


def test_a_track_step_with_hostile_text_is_refused_or_kept_clean(world, marketer):
    client = Client()
    client.force_login(marketer)
    for value in HOSTILE:
        data = {
            "name": value,
            "description": value,
            "is_active": "",
            "steps-TOTAL_FORMS": "1",
            "steps-INITIAL_FORMS": "0",
            "steps-MIN_NUM_FORMS": "0",
            "steps-MAX_NUM_FORMS": "1000",
            "steps-0-ORDER": "1",
            "steps-0-kind": "email",
            "steps-0-subject": value,
            "steps-0-body": value,
        }
        response = client.post("/nurture/tracks/new/", data)
        assert response.status_code in (302, 400), (value[:20], response.status_code)
    assert all("\x00" not in name for name in NurtureTrack.objects.values_list("name", flat=True))


def api_calls(world):
    nurtured, lost = world["nurtured"].pk, world["lost"].pk
    dispute, item = world["dispute"].pk, world["feedback"].pk
    return [
        ("marketer", f"/api/v1/leads/{nurtured}/return/", ["note"]),
        ("rep", f"/api/v1/leads/{lost}/feedback/", ["topic", "text"]),
        ("marketer", f"/api/v1/leads/{lost}/dispute/", ["comment"]),
        ("head", f"/api/v1/disputes/{dispute}/decide/", ["outcome", "comment"]),
        ("marketer", f"/api/v1/feedback/{item}/reply/", ["reply"]),
    ]


TEXTS = {"note", "text", "comment", "reply"}
# Any string is a text; these are not (PostgreSQL refuses NUL; the limits are thousands).
BAD_TEXT = ["\x00", "a\x00b", "x" * 6000]
GOOD = {
    "topic": "objection",
    "text": "Дорого",
    "outcome": "upheld",
    "comment": "Да",
    "reply": "Ок",
    "note": "",
}


@pytest.mark.parametrize("index", range(5))
def test_the_api_answers_400_and_changes_nothing(request, world, index):
    who, url, fields = api_calls(world)[index]
    client = APIClient()
    client.force_authenticate(request.getfixturevalue(who))
    failures = []
    for name in fields:
        for value in BAD_TEXT if name in TEXTS else HOSTILE:
            before = state()
            body = {**{f: GOOD[f] for f in fields}, name: value}
            response = client.post(url, body, format="json")
            if response.status_code != 400:
                failures.append((name, value[:20], response.status_code))
            elif state() != before:
                failures.append((name, value[:20], "changed"))
    assert failures == []


@pytest.mark.parametrize(
    "path,params",
    [
        ("/api/v1/disputes/", ["state", "team", "source", "page"]),
        (
            "/api/v1/feedback/",
            ["date_from", "date_to", "source", "campaign", "segment", "topic", "state", "page"],
        ),
        ("/api/v1/feedback/counts/", ["date_from", "source", "topic"]),
    ],
)
def test_api_lists_answer_400_or_ignore(world, marketing_head, path, params):
    client = APIClient()
    client.force_authenticate(marketing_head)
    failures = []
    for name in params:
        for value in HOSTILE:
            code = client.get(path, {name: value}).status_code
            if code not in (200, 400, 404):
                failures.append((name, value[:20], code))
    assert failures == []
