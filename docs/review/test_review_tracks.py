import datetime as dt

import pytest
from django.db.models.signals import post_save

from leads import tracks
from leads.choices import EnrollmentState, StepKind
from leads.models import LeadEvent, MarketingTask, NurtureStep, TrackEmail, TrackEmailState, TrackEnrollment
from tests.leads.test_tracks_flow import (  # noqa
    FIRST, NURTURED, _mail, clock, consenting_lead, make_track, nurture,
)
from tests.leads.test_tracks_editor import existing_post, management

pytestmark = pytest.mark.django_db


def test_deleting_the_current_step_finishes_enrollments_early(rep, clock, client, marketer):
    # email, wait 7, task, task2
    track = make_track(steps=[
        {"kind": StepKind.EMAIL, "subject": "Hi {{ name }}", "body": "b"},
        {"kind": StepKind.WAIT, "wait_days": 7},
        {"kind": StepKind.TASK, "task_text": "call"},
        {"kind": StepKind.TASK, "task_text": "call again"},
    ])
    lead = nurture(consenting_lead(rep), rep)
    clock.move_to(FIRST)
    tracks.run_due(FIRST)   # email
    tracks.run_due(FIRST)   # wait -> now at task "call", due in 7 days
    enrollment = TrackEnrollment.objects.get(lead=lead)
    assert enrollment.step.task_text == "call"
    # marketer removes the "call" step in the editor
    client.force_login(marketer)
    steps = list(track.steps.order_by("position"))
    data = existing_post(track, **{"steps-2-DELETE": "on"})
    r = client.post(f"/nurture/tracks/{track.pk}/", data)
    assert r.status_code == 302, r.content[:2000]
    enrollment.refresh_from_db()
    print("step after delete:", enrollment.step_id, enrollment.state)
    later = FIRST + dt.timedelta(days=8)
    clock.move_to(later)
    tracks.run_due(later)
    tracks.run_due(later)
    enrollment.refresh_from_db()
    tasks = list(MarketingTask.objects.filter(lead=lead).values_list("text", flat=True))
    print("state", enrollment.state, "tasks", tasks)
    assert "call again" in tasks, "remaining step 'call again' was skipped: track finished early"


def test_new_row_without_order_goes_first(client, marketer):
    track = make_track(steps=[
        {"kind": StepKind.EMAIL, "subject": "First {{ name }}", "body": "b"},
        {"kind": StepKind.WAIT, "wait_days": 3},
    ])
    client.force_login(marketer)
    data = existing_post(track, **{"steps-2-kind": "task", "steps-2-task_text": "appended last"})
    r = client.post(f"/nurture/tracks/{track.pk}/", data)
    assert r.status_code == 302, r.content[:3000]
    order = list(track.steps.order_by("position").values_list("kind", "task_text"))
    print(order)
    assert order[-1] == ("task", "appended last")


def test_template_ljust_huge_width_validation_allocates():
    # Do not actually allocate gigabytes: measure with a moderate width
    import time
    errs = tracks.template_errors('{{ name|ljust:"50000000" }}')
    out = tracks.render('{{ name|ljust:"50000000" }}', {"name": "x"})
    print("errors:", errs, "len:", len(out))
    assert len(out) < 1_000_000


def test_template_cannot_reach_objects():
    for text in ['{{ name.__class__ }}', '{% load static %}', '{% include "base.html" %}', '{% debug %}',
                 '{{ settings.SECRET_KEY }}', '{% url "home" %}', '{{ name.upper }}', '{% now "Y" %}']:
        print(repr(text), tracks.template_errors(text))


def test_failed_send_revives_a_cancelled_email(rep, clock, monkeypatch):
    make_track()
    lead = nurture(consenting_lead(rep), rep)
    clock.move_to(FIRST)
    tracks.run_due(FIRST)
    email = TrackEmail.objects.get(lead=lead)
    from django.core.mail import EmailMessage

    def failing_send(self, fail_silently=False):
        # the lead is returned from nurture while SMTP hangs, then SMTP fails
        tracks.stop(lead, FIRST)
        raise OSError("smtp down")

    monkeypatch.setattr(EmailMessage, "send", failing_send)
    tracks.deliver_due(FIRST)
    email.refresh_from_db()
    print(email.state, email.last_error)
    assert email.state == TrackEmailState.CANCELLED


def test_reorder_makes_a_done_step_come_again_and_the_enrollment_sticks(rep, clock, client, marketer):
    track = make_track(steps=[
        {"kind": StepKind.EMAIL, "subject": "Hi {{ name }}", "body": "b"},
        {"kind": StepKind.WAIT, "wait_days": 7},
    ])
    lead = nurture(consenting_lead(rep), rep)
    clock.move_to(FIRST)
    tracks.run_due(FIRST)  # email sent -> at wait
    client.force_login(marketer)
    # move the email after the wait
    r = client.post(f"/nurture/tracks/{track.pk}/", existing_post(track, **{"steps-0-ORDER": "2", "steps-1-ORDER": "1"}))
    assert r.status_code == 302
    for days in (0, 8, 9, 10):
        t = FIRST + dt.timedelta(days=days)
        clock.move_to(t)
        tracks.run_due(t)
    e = TrackEnrollment.objects.get(lead=lead)
    print("state", e.state, "step", e.step_id, "retry", e.sweep_retry_at, "emails", TrackEmail.objects.filter(lead=lead).count())
    assert e.state != EnrollmentState.ACTIVE or e.sweep_retry_at is None
