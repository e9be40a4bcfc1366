"""The nurture track editor (/nurture/tracks/), the marketing tasks page
(/nurture/tasks/) and the public unsubscribe page (/unsubscribe/<token>/):
permissions per role, validation that changes nothing, constant queries."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import translation

from leads import tracks
from leads.choices import EnrollmentState, StepKind
from leads.models import (
    InboundRequest,
    LeadEvent,
    MarketingConsent,
    MarketingTask,
    NurtureReason,
    NurtureStep,
    NurtureTrack,
    TrackEmail,
    TrackEnrollment,
    Unsubscribe,
)
from tests.factories import ContactFactory, LeadFactory, stage

pytestmark = pytest.mark.django_db

LIST = "/nurture/tracks/"
NEW = "/nurture/tracks/new/"
TASKS = "/nurture/tasks/"


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def client(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"  # the pages answer in English
    return client


def reason(code):
    return NurtureReason.objects.get(code=code)


def make_track(name="Budget season", codes=("no_budget",), active=True):
    track = NurtureTrack.objects.create(name=name, is_active=active)
    track.reasons.set([reason(c) for c in codes])
    NurtureStep.objects.create(
        track=track, position=1, kind=StepKind.EMAIL, subject="Hi {{ name }}", body="Text"
    )
    NurtureStep.objects.create(track=track, position=2, kind=StepKind.WAIT, wait_days=3)
    return track


def management(prefix="steps", total=0, initial=0):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def new_track_post(**overrides):
    data = {
        "name": "Not now",
        "description": "For leads who will buy later",
        "reasons": [str(reason("not_now").pk)],
        "is_active": "on",
        **management(total=2),
        "steps-0-ORDER": "1",
        "steps-0-kind": "email",
        "steps-0-subject": "{{ name }}, let's talk in spring",
        "steps-0-body": "Hello {{ name }} from {{ company }}",
        "steps-1-ORDER": "2",
        "steps-1-kind": "wait",
        "steps-1-wait_days": "14",
    }
    data.update(overrides)
    return data


def existing_post(track, **overrides):
    steps = list(track.steps.order_by("position"))
    data = {
        "name": track.name,
        "description": track.description,
        "reasons": [str(r.pk) for r in track.reasons.all()],
        **({"is_active": "on"} if track.is_active else {}),
        **management(total=len(steps) + 1, initial=len(steps)),
    }
    for i, step in enumerate(steps):
        data.update(
            {
                f"steps-{i}-id": str(step.pk),
                f"steps-{i}-track": str(track.pk),
                f"steps-{i}-ORDER": str(step.position),
                f"steps-{i}-kind": step.kind,
                f"steps-{i}-subject": step.subject,
                f"steps-{i}-body": step.body,
                f"steps-{i}-wait_days": str(step.wait_days or ""),
                f"steps-{i}-task_text": step.task_text,
            }
        )
    data.update(overrides)
    return data


# --- permissions ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "list_status", "edit_status"),
    [
        ("rep", 403, 403),
        ("head", 403, 403),
        ("ceo", 200, 403),
        ("marketer", 200, 200),
        ("marketing_head", 200, 200),
        ("admin", 200, 200),
    ],
)
def test_who_may_read_and_edit(client, people, role, list_status, edit_status):
    track = make_track()
    client.force_login(people[role])
    assert client.get(LIST).status_code == list_status
    assert client.get(NEW).status_code == edit_status
    assert client.get(f"{LIST}{track.pk}/").status_code == edit_status
    assert client.get(TASKS).status_code == edit_status
    if edit_status == 403:
        response = client.post(NEW, new_track_post())
        assert response.status_code == 403
        assert client.post(f"{LIST}{track.pk}/", existing_post(track, name="Hacked")).status_code == 403
        assert not NurtureTrack.objects.filter(name__in=["Not now", "Hacked"]).exists()


def test_anonymous_people_sign_in_first(client):
    assert client.get(LIST).status_code == 302
    assert client.get(TASKS).status_code == 302


def test_unknown_ids_are_404(client, marketer):
    client.force_login(marketer)
    assert client.get(f"{LIST}999999/").status_code == 404
    assert client.post(f"{TASKS}999999/done/").status_code == 404


def test_the_nurture_tabs_link_marketing_to_tracks(client, people):
    """One menu item, "Nurture"; its page's tabs lead to the tracks and the tasks."""
    for role, shows_tracks, shows_tasks in (
        ("marketer", True, True),
        ("ceo", True, False),
        ("head", False, False),
    ):
        client.force_login(people[role])
        assert f'href="{LIST}"' not in client.get("/reports/").content.decode(), role
        page = client.get("/nurture/").content.decode()
        assert (f'href="{LIST}"' in page) is shows_tracks, role
        assert ('href="/nurture/tasks/"' in page) is shows_tasks, role


# --- building and editing -----------------------------------------------------------------------------


def test_a_marketer_builds_a_track(client, marketer):
    client.force_login(marketer)
    response = client.post(NEW, new_track_post())
    assert response.status_code == 302, response.content.decode()[:3000]
    track = NurtureTrack.objects.get(name="Not now")
    assert list(track.reasons.values_list("code", flat=True)) == ["not_now"]
    steps = list(track.steps.order_by("position"))
    assert [(s.position, s.kind) for s in steps] == [(1, "email"), (2, "wait")]
    assert steps[1].wait_days == 14 and steps[1].subject == ""
    page = client.get(LIST).content.decode()
    assert "Not now" in page


def test_steps_are_reordered_removed_and_added(client, marketer):
    track = make_track()
    email, wait = track.steps.order_by("position")
    client.force_login(marketer)
    data = existing_post(
        track,
        **{
            "steps-0-ORDER": "2",
            "steps-1-ORDER": "1",
            "steps-2-ORDER": "3",
            "steps-2-kind": "task",
            "steps-2-task_text": "Call them",
        },
    )
    assert client.post(f"{LIST}{track.pk}/", data).status_code == 302
    assert [(s.pk, s.position) for s in track.steps.order_by("position")][:2] == [(wait.pk, 1), (email.pk, 2)]
    assert track.steps.get(position=3).task_text == "Call them"

    data = existing_post(track, **{"steps-0-DELETE": "on"})
    assert client.post(f"{LIST}{track.pk}/", data).status_code == 302
    assert [s.kind for s in track.steps.order_by("position")] == ["email", "task"]
    assert list(track.steps.values_list("position", flat=True).order_by("position")) == [1, 2]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": ""}, "name", "This field is required."),
        ({"steps-0-subject": "{{ name|nosuchfilter }}"}, "subject", "The template has an error"),
        ({"steps-0-body": "Hi {{ nmae }}"}, "body", "Unknown field {{ nmae }}"),
        ({"steps-0-subject": ""}, "subject", "An email needs a subject and a text."),
        ({"steps-1-wait_days": ""}, "wait_days", "Wait from 1 to 365 days."),
        ({"steps-1-wait_days": "0"}, "wait_days", "Wait from 1 to 365 days."),
        ({"steps-1-wait_days": "abc"}, "wait_days", "Enter a whole number."),
        ({"steps-1-kind": "task"}, "task_text", "Say what the marketer should do."),
        ({"steps-1-kind": "explode"}, "kind", "Select a valid choice"),
        ({"reasons": ["999999"]}, "reasons", "Select a valid choice"),
        ({"steps-TOTAL_FORMS": "x"}, None, "ManagementForm data is missing or has been tampered with"),
        ({"steps-1-wait_days": "99999999999"}, "wait_days", "Wait from 1 to 365 days."),
        ({"steps-0-ORDER": "abc"}, "ORDER", "Enter a whole number."),
        ({"name": "x" * 500}, "name", "Ensure this value has at most 200 characters"),
        ({"steps-0-subject": "{% include '/etc/passwd' %}"}, "subject", "The template has an error"),
    ],
)
def test_bad_input_rerenders_with_errors_and_changes_nothing(client, marketer, overrides, field, message):
    client.force_login(marketer)
    response = client.post(NEW, new_track_post(**overrides))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not NurtureTrack.objects.exists()


def test_a_track_needs_a_step(client, marketer):
    client.force_login(marketer)
    data = new_track_post(**management(total=1))
    data.update({"steps-0-kind": "", "steps-0-subject": "", "steps-0-body": "", "steps-0-ORDER": ""})
    response = client.post(NEW, data)
    assert response.status_code == 400 and "Add at least one step." in response.content.decode()


def test_a_reason_belongs_to_one_active_track(client, marketer):
    existing = make_track("Budget season", codes=("no_budget",))
    client.force_login(marketer)
    response = client.post(NEW, new_track_post(reasons=[str(reason("no_budget").pk)]))
    assert response.status_code == 400
    assert (
        "“No budget yet” already puts leads on the active track “Budget season”." in response.content.decode()
    )
    # An inactive track may list it; and the existing one saves with its own reasons.
    assert (
        client.post(NEW, new_track_post(reasons=[str(reason("no_budget").pk)], is_active="")).status_code
        == 302
    )
    assert client.post(f"{LIST}{existing.pk}/", existing_post(existing)).status_code == 302
    # Switching the inactive one on is refused.
    other = NurtureTrack.objects.get(name="Not now")
    assert client.post(f"{LIST}{other.pk}/", existing_post(other, is_active="on")).status_code == 400
    assert not NurtureTrack.objects.get(pk=other.pk).is_active


def test_the_list_counts_leads_on_each_track_in_constant_queries(
    client, marketer, django_assert_max_num_queries
):
    def add(n):
        for _ in range(n):
            track = make_track(f"T{NurtureTrack.objects.count()}", codes=())
            for _ in range(2):
                TrackEnrollment.objects.create(
                    lead=LeadFactory(stage=stage("nurture")), track=track, due_at=None
                )

    client.force_login(marketer)
    add(2)
    with django_assert_max_num_queries(12) as few:
        assert client.get(LIST).status_code == 200
    add(8)
    # Leads that left a track are not on it; a track nobody is on says 0.
    TrackEnrollment.objects.create(
        lead=LeadFactory(stage=stage("nurture")),
        track=NurtureTrack.objects.first(),
        due_at=None,
        state=EnrollmentState.STOPPED,
        ended_at=dt.datetime(2026, 3, 2, tzinfo=dt.UTC),
    )
    make_track("Empty", codes=())
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(LIST).content.decode()
    assert page.count('class="num on-track">2<') == 10
    assert page.count('class="num on-track">0<') == 1
    assert page.count('<td class="num">2</td>') == 11  # two steps each


def test_the_tasks_page_shows_fifty_at_a_time_oldest_first(client, marketer):
    tasks = [make_task(f"Task number {n:02}") for n in range(55)]
    client.force_login(marketer)
    first = client.get(TASKS).content.decode()
    assert "55 open tasks" in first
    assert "Task number 00" in first and "Task number 49" in first and "Task number 50" not in first
    assert 'href="?page=2"' in first and "Page 1 of 2" in first
    second = client.get(TASKS, {"page": 2}).content.decode()
    assert "Task number 50" in second and "Task number 54" in second and "Task number 49" not in second
    # A page past the end shows the last one; nonsense shows the first.
    assert "Task number 54" in client.get(TASKS, {"page": 99}).content.decode()
    assert "Task number 00" in client.get(TASKS, {"page": "x"}).content.decode()
    assert len(tasks) == 55


# --- tasks --------------------------------------------------------------------------------------------


def make_task(text="Call them"):
    track = make_track(f"Track {NurtureTrack.objects.count()}", codes=())
    lead = LeadFactory(stage=stage("nurture"))
    enrollment = TrackEnrollment.objects.create(lead=lead, track=track, due_at=None)
    return MarketingTask.objects.create(lead=lead, enrollment=enrollment, text=text)


def test_a_marketer_marks_a_task_done_once(client, marketer, marketing_head, django_assert_max_num_queries):
    task = make_task()
    client.force_login(marketer)
    page = client.get(TASKS).content.decode()
    assert "Call them" in page
    assert client.post(f"{TASKS}{task.pk}/done/").status_code == 302
    task.refresh_from_db()
    assert task.done_by == marketer and task.done_at is not None
    assert "Call them" not in client.get(TASKS).content.decode()
    client.force_login(marketing_head)
    client.post(f"{TASKS}{task.pk}/done/")
    task.refresh_from_db()
    assert task.done_by == marketer
    # Constant queries.
    for _ in range(2):
        make_task()
    with django_assert_max_num_queries(12) as few:
        client.get(TASKS)
    for _ in range(6):
        make_task()
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(TASKS)


def test_only_marketing_does_tasks(client, people):
    task = make_task()
    for role in ("rep", "head", "ceo"):
        client.force_login(people[role])
        assert client.post(f"{TASKS}{task.pk}/done/").status_code == 403
    assert MarketingTask.objects.get(pk=task.pk).done_at is None


# --- the unsubscribe page -------------------------------------------------------------------------------


def consenting_contact():
    contact = ContactFactory(email="anna@vector.ru")
    lead = LeadFactory(contact=contact, stage=stage("nurture"))
    request = InboundRequest.objects.create(lead=lead, contact=contact, source=lead.source, channel="form")
    MarketingConsent.objects.create(contact=contact, request=request)
    return contact, lead


def test_the_link_asks_then_unsubscribes_without_signing_in(client):
    contact, lead = consenting_contact()
    url = reverse("tracks:unsubscribe", args=[tracks.unsubscribe_token(contact)])
    page = client.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Отписаться от наших писем?" in text and "Unsubscribe from our emails?" in text
    assert "<script" not in text
    assert not Unsubscribe.objects.exists()
    done = client.post(url)
    assert done.status_code == 200 and "You are unsubscribed" in done.content.decode()
    assert Unsubscribe.objects.get().contact == contact
    assert LeadEvent.objects.filter(lead=lead, kind=LeadEvent.Kind.UNSUBSCRIBED).count() == 1
    # Again, and the page says so.
    assert client.post(url).status_code == 200
    assert "Вы отписались" in client.get(url).content.decode()
    assert LeadEvent.objects.filter(lead=lead, kind=LeadEvent.Kind.UNSUBSCRIBED).count() == 1


def test_one_click_post_from_a_mail_system_works_without_csrf(client):
    from django.test import Client

    contact, _lead = consenting_contact()
    strict = Client(enforce_csrf_checks=True)
    url = reverse("tracks:unsubscribe", args=[tracks.unsubscribe_token(contact)])
    response = strict.post(
        url, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    assert Unsubscribe.objects.filter(contact=contact).exists()


@pytest.mark.parametrize("token", ["garbage", "x" * 300, "1:abc", "%00", "..", "a.b.c"])
def test_a_forged_or_broken_link_is_a_clear_400(client, token):
    contact, _lead = consenting_contact()
    forged = tracks.unsubscribe_token(contact)[:-3] + "abc"
    for value in (token, forged):
        response = client.get(f"/unsubscribe/{value}/")
        assert response.status_code == 400, value
        assert "This link does not work" in response.content.decode()
        assert client.post(f"/unsubscribe/{value}/").status_code == 400
    assert not Unsubscribe.objects.exists()


def test_a_link_to_an_erased_contact_is_404(client):
    contact = ContactFactory()
    token = tracks.unsubscribe_token(contact)
    contact.delete()
    response = client.get(f"/unsubscribe/{token}/")
    assert response.status_code == 404 and "Nothing to unsubscribe" in response.content.decode()


def test_the_page_passes_the_csp(client):
    contact, _lead = consenting_contact()
    response = client.get(reverse("tracks:unsubscribe", args=[tracks.unsubscribe_token(contact)]))
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert " style=" not in response.content.decode()


def test_unsubscribing_stops_pending_emails(client):
    contact, lead = consenting_contact()
    track = make_track(codes=())
    enrollment = TrackEnrollment.objects.create(
        lead=lead, track=track, due_at=None, state=EnrollmentState.ACTIVE
    )
    TrackEmail.objects.create(
        enrollment=enrollment,
        lead=lead,
        contact=contact,
        to=contact.email,
        subject="S",
        body="B",
        next_attempt_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
    )
    client.post(reverse("tracks:unsubscribe", args=[tracks.unsubscribe_token(contact)]))
    assert TrackEmail.objects.get().state == "cancelled"


def test_the_records_are_in_the_admin_for_superusers_only(client, admin_user, marketing_head):
    contact, lead = consenting_contact()
    tracks.unsubscribe(contact)
    pages = ["marketingconsent", "unsubscribe", "trackemail", "marketingtask"]
    client.force_login(admin_user)
    if not admin_user.is_superuser:
        pytest.skip("administrators are not superusers here")
    for name in pages:
        assert client.get(f"/admin/leads/{name}/").status_code == 200, name
    client.force_login(marketing_head)
    for name in pages:
        assert client.get(f"/admin/leads/{name}/").status_code == 403, name


def test_switching_a_track_off_takes_its_leads_off_it(client, marketer):
    contact, lead = consenting_contact()
    track = make_track()
    enrollment = TrackEnrollment.objects.create(
        lead=lead, track=track, due_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    )
    TrackEmail.objects.create(
        enrollment=enrollment, lead=lead, contact=contact, to=contact.email, subject="S", body="B"
    )
    client.force_login(marketer)
    data = existing_post(track)
    data.pop("is_active")
    response = client.post(f"{LIST}{track.pk}/", data, follow=True)
    assert "The track is off: 1 lead was taken off it." in response.content.decode()
    enrollment.refresh_from_db()
    assert enrollment.state == EnrollmentState.STOPPED
    assert TrackEmail.objects.get().state == "cancelled"
