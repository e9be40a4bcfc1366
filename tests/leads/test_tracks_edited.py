"""A track edited while leads are on it (issue #15 review): deleting the step a
lead is waiting for moves it on to the next kept step instead of ending its
track; reordering never runs a step twice; a reason switched off stays on the
tracks that list it; two marketers saving at once do not trample each other;
a template cannot make the worker build a huge text."""

import datetime as dt
import importlib
import threading

import pytest
from django.apps import apps
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test import Client
from django.utils import translation

from leads import actions, tracks
from leads.choices import EnrollmentState, StepKind
from leads.models import (
    MarketingTask,
    NurtureReason,
    NurtureStep,
    TrackEmail,
    TrackEmailState,
    TrackEnrollment,
)
from sla.sweep import sweep
from tests.concurrent import run_together
from tests.conftest import skip_or_fail
from tests.factories import stage
from tests.leads.test_tracks_editor import LIST, existing_post
from tests.leads.test_tracks_flow import FIRST, consenting_lead, make_track, nurture

pytestmark = pytest.mark.django_db
ON_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")

THREE_STEPS = [
    {"kind": StepKind.EMAIL, "subject": "Hi {{ name }}", "body": "Text"},
    {"kind": StepKind.WAIT, "wait_days": 3},
    {"kind": StepKind.TASK, "task_text": "Call them"},
]


@pytest.fixture(autouse=True)
def _mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "https://crm.example.ru"


@pytest.fixture
def on_track(rep):
    """A lead on a three-step track whose email has gone: it waits for the pause."""
    track = make_track(steps=THREE_STEPS)
    lead = nurture(consenting_lead(rep), rep)
    assert sweep(now=FIRST).track_steps == 1
    enrollment = TrackEnrollment.objects.get(lead=lead)
    assert enrollment.step.kind == StepKind.WAIT
    return track, lead, enrollment


def save(client, track, **overrides):
    response = client.post(f"{LIST}{track.pk}/", existing_post(track, **overrides))
    assert response.status_code == 302, response.content.decode()[:2000]


def test_deleting_the_step_a_lead_waits_for_moves_it_to_the_next(client, marketer, on_track):
    track, lead, enrollment = on_track
    client.force_login(marketer)
    save(client, track, **{"steps-1-DELETE": "on"})  # the pause

    enrollment.refresh_from_db()
    assert enrollment.state == EnrollmentState.ACTIVE
    assert enrollment.step.kind == StepKind.TASK
    assert sweep(now=FIRST + dt.timedelta(seconds=5)).track_steps == 1
    assert MarketingTask.objects.get(lead=lead).text == "Call them"
    enrollment.refresh_from_db()
    assert enrollment.state == EnrollmentState.FINISHED
    assert len(mail.outbox) == 1


def test_deleting_the_rest_of_a_track_finishes_the_lead_on_it(client, marketer, on_track):
    track, lead, enrollment = on_track
    client.force_login(marketer)
    save(client, track, **{"steps-1-DELETE": "on", "steps-2-DELETE": "on"})

    enrollment.refresh_from_db()
    assert enrollment.state == EnrollmentState.ACTIVE and enrollment.step is None
    assert sweep(now=FIRST + dt.timedelta(seconds=5)).track_steps == 1
    enrollment.refresh_from_db()
    assert enrollment.state == EnrollmentState.FINISHED and enrollment.sweep_retry_at is None
    assert not MarketingTask.objects.exists()


def test_a_done_step_moved_after_the_next_one_is_not_run_again(client, marketer, on_track):
    track, lead, enrollment = on_track
    # The pause runs: the task is due in three days.
    assert sweep(now=FIRST + dt.timedelta(seconds=2)).track_steps == 1
    enrollment.refresh_from_db()
    assert enrollment.step.kind == StepKind.TASK
    # The marketer puts the email last: pause, task, email.
    client.force_login(marketer)
    save(client, track, **{"steps-0-ORDER": "3", "steps-1-ORDER": "1", "steps-2-ORDER": "2"})
    assert [s.kind for s in track.steps.order_by("position")] == ["wait", "task", "email"]

    later = FIRST + dt.timedelta(days=3, seconds=2)
    assert sweep(now=later).track_steps == 1
    enrollment.refresh_from_db()
    assert enrollment.state == EnrollmentState.FINISHED and enrollment.sweep_retry_at is None
    assert TrackEmail.objects.filter(lead=lead).count() == 1 and len(mail.outbox) == 1
    assert MarketingTask.objects.filter(lead=lead).count() == 1
    assert sweep(now=later + dt.timedelta(days=30)).track_steps == 0


def test_a_step_put_before_the_lead_is_passed_and_one_put_after_is_run(client, marketer, on_track):
    track, lead, enrollment = on_track
    client.force_login(marketer)
    # A second email added first and a third added last: the lead is at the pause (now 2nd).
    data = existing_post(
        track,
        **{
            "steps-0-ORDER": "2",
            "steps-1-ORDER": "3",
            "steps-2-ORDER": "4",
            "steps-3-ORDER": "1",
            "steps-3-kind": "email",
            "steps-3-subject": "Before",
            "steps-3-body": "Text",
        },
    )
    assert client.post(f"{LIST}{track.pk}/", data).status_code == 302
    data = existing_post(
        track,
        **{"steps-4-ORDER": "5", "steps-4-kind": "email", "steps-4-subject": "After", "steps-4-body": "Text"},
    )
    assert client.post(f"{LIST}{track.pk}/", data).status_code == 302
    assert [s.subject or s.kind for s in track.steps.order_by("position")] == [
        "Before",
        "Hi {{ name }}",
        "wait",
        "task",
        "After",
    ]

    sweep(now=FIRST + dt.timedelta(seconds=2))  # the pause
    sweep(now=FIRST + dt.timedelta(days=3, seconds=2))  # the task
    sweep(now=FIRST + dt.timedelta(days=3, seconds=3))  # the email added last
    enrollment.refresh_from_db()
    assert enrollment.state == EnrollmentState.FINISHED
    assert [m.subject for m in mail.outbox] == ["Hi Анна", "After"]


def test_the_migration_records_the_steps_done_before_it(rep, on_track):
    _track, lead, enrollment = on_track
    TrackEnrollment.objects.filter(pk=enrollment.pk).update(done_steps=[])
    migration = importlib.import_module("leads.migrations.0015_enrollment_done_steps")
    migration.record_done_steps(apps, None)
    enrollment.refresh_from_db()
    assert enrollment.done_steps == [TrackEmail.objects.get(lead=lead).step_id]


def test_saving_keeps_a_reason_switched_off_since(client, marketer):
    track = make_track(codes=("no_budget", "not_now"))
    NurtureReason.objects.filter(code="not_now").update(is_active=False)
    client.force_login(marketer)
    save(client, track)
    assert set(track.reasons.values_list("code", flat=True)) == {"no_budget", "not_now"}
    # It cannot be put on another track anew.
    other = make_track("Other", codes=(), active=False)
    not_now = NurtureReason.objects.get(code="not_now")
    response = client.post(f"{LIST}{other.pk}/", existing_post(other, reasons=[str(not_now.pk)]))
    assert response.status_code == 400


def test_a_save_over_steps_changed_meanwhile_is_refused_and_changes_nothing(client, marketer):
    track = make_track(steps=THREE_STEPS)
    data = existing_post(track, **{"steps-0-ORDER": "3", "steps-2-ORDER": "1"})
    # Someone else adds a step after this marketer opened the editor.
    NurtureStep.objects.create(track=track, position=4, kind=StepKind.WAIT, wait_days=9)
    client.force_login(marketer)
    with translation.override("en"):
        response = client.post(f"{LIST}{track.pk}/", data, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 409
    assert "Someone changed this track" in response.content.decode()
    assert [s.kind for s in track.steps.order_by("position")] == ["email", "wait", "task", "wait"]


@pytest.mark.parametrize(
    "text",
    [
        "{{ name|ljust:999999999 }}",
        "{{ name|rjust:999999999 }}",
        "{{ name|center:999999999 }}",
        '{{ name|stringformat:"999999999s" }}',
        "{{ name|floatformat:999999 }}",
        '{{ name|make_list|join:"x" }}',
    ],
)
def test_templates_cannot_pad_to_a_width_they_name(text):
    with translation.override("en"):
        assert "The template has an error" in tracks.template_errors(text)[0]


def test_the_text_filters_still_work():
    context = {**dict.fromkeys(tracks.FIELDS, ""), "name": "анна"}
    text = "{{ name|capfirst }} {{ company|default:'—' }} {{ name|upper|truncatechars:3 }}"
    assert tracks.template_errors(text) == []
    assert tracks.render(text, context) == "Анна — АН…"


def test_an_email_text_has_a_size_limit(client, marketer):
    track = make_track(steps=THREE_STEPS)
    client.force_login(marketer)
    response = client.post(f"{LIST}{track.pk}/", existing_post(track, **{"steps-0-body": "x" * 20_001}))
    assert response.status_code == 400
    assert track.steps.get(position=1).body == "Text"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=ON_POSTGRES)
def test_two_marketers_saving_one_track_at_once_both_get_an_answer(marketer, marketing_head):
    if connection.vendor != "postgresql":
        skip_or_fail("needs PostgreSQL (row locks under concurrent requests)")
    track = make_track(steps=THREE_STEPS)
    orders = iter([("3", "1", "2"), ("2", "3", "1")])
    users = iter([marketer, marketing_head])
    lock = threading.Lock()

    def save_once():
        with lock:
            first, second, third = next(orders)
            user = next(users)
        client = Client()
        client.force_login(user)
        data = existing_post(
            track, **{"steps-0-ORDER": first, "steps-1-ORDER": second, "steps-2-ORDER": third}
        )
        return client.post(f"{LIST}{track.pk}/", data).status_code

    assert sorted(run_together(save_once)) == [302, 302]
    assert sorted(track.steps.values_list("position", flat=True)) == [1, 2, 3]


def test_any_way_out_of_nurture_ends_the_track_and_its_unsent_emails(rep, on_track):
    _track, lead, enrollment = on_track
    email = TrackEmail.objects.get(lead=lead)
    TrackEmail.objects.filter(pk=email.pk).update(state=TrackEmailState.PENDING, sent_at=None)
    lead = actions.lock_lead(lead)
    actions.set_stage(lead, stage("qualification"), rep, FIRST + dt.timedelta(minutes=1))
    enrollment.refresh_from_db()
    assert enrollment.state == EnrollmentState.STOPPED
    assert TrackEmail.objects.get(pk=email.pk).state == TrackEmailState.CANCELLED
