"""GET /leads/updates/: one short version of what is on a person's screen, 304
while nothing changed, a new version when a lead arrives, leaves, changes or a
notification comes or is read; its cost does not grow with the data."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from leads.assignment import assign_manually
from leads.intake import Submission, take_lead
from leads.models import Lead
from sla.models import Notification
from tests.factories import LeadFactory, SourceFactory

URL = reverse("leads:updates")
pytestmark = pytest.mark.django_db


def _version(client, etag=None):
    headers = {"HTTP_IF_NONE_MATCH": etag} if etag else {}
    return client.get(URL, **headers)


def _new_lead(phone: str) -> Lead:
    source = SourceFactory()
    outcome = take_lead(
        Submission(source=source, channel="form", phone=phone, name="Анна", consent_text="v1")
    )
    return Lead.objects.get(pk=outcome.lead_id)


def test_a_signed_out_visitor_is_sent_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_only_get(client, rep):
    client.force_login(rep)
    assert client.post(URL).status_code == 405


def test_unchanged_answers_304_and_a_new_lead_changes_the_version(client, rep):
    client.force_login(rep)
    first = _version(client)
    assert first.status_code == 200
    etag = first["ETag"]
    assert first.json()["version"] in etag
    assert first["Cache-Control"].startswith("max-age=0")
    again = _version(client, etag)
    assert again.status_code == 304

    LeadFactory(owner=rep)  # a lead in the rep's queue
    changed = _version(client, etag)
    assert changed.status_code == 200
    assert changed["ETag"] != etag


def test_the_answer_names_the_newest_unread_notification(client, rep, head):
    client.force_login(rep)
    etag = _version(client)["ETag"]
    lead = _new_lead("+79161234001")
    if lead.owner_id != rep.pk:
        assign_manually(lead, rep, head)
    notification = Notification.objects.unread_for(rep).order_by("-id").first()
    assert notification is not None, "the new lead notified its rep"
    with translation.override("en"):
        answer = _version(client, etag)
    assert answer.status_code == 200
    newest = answer.json()["newest"]
    assert newest["id"] == notification.pk
    assert newest["url"].endswith(f"/leads/{lead.pk}/")

    # Reading it changes the version too (the bell's count must drop).
    etag = answer["ETag"]
    Notification.objects.unread_for(rep).update(read_at=lead.created_at)
    assert _version(client, etag).status_code == 200


def test_a_lead_taken_away_changes_the_version(client, rep, teammate, head):
    lead = LeadFactory(owner=rep, team=rep.team)
    client.force_login(rep)
    etag = _version(client)["ETag"]
    assign_manually(lead, teammate, head)
    assert _version(client, etag).status_code == 200


def test_someone_elses_changes_do_not_wake_a_rep(client, rep, other_rep):
    client.force_login(rep)
    etag = _version(client)["ETag"]
    LeadFactory(owner=other_rep)
    Notification.objects.create(
        recipient=other_rep, channel="in_app", kind="new_lead", params={}, dedupe_key="other:1"
    )
    assert _version(client, etag).status_code == 304


def test_a_head_and_an_executive_get_versions_too(client, head, ceo):
    for person in (head, ceo):
        client.force_login(person)
        assert _version(client).status_code == 200


def test_the_query_count_does_not_grow_with_the_queue(client, rep, django_assert_max_num_queries):
    client.force_login(rep)
    LeadFactory(owner=rep)
    with CaptureQueriesContext(connection) as few:
        _version(client)
    LeadFactory.create_batch(30, owner=rep)
    with CaptureQueriesContext(connection) as many:
        _version(client)
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]
    # Unchanged, the common case: the session, the user and the two aggregates (plus the
    # stage list, which the reference cache keeps outside a test's transaction).
    etag = _version(client)["ETag"]
    with CaptureQueriesContext(connection) as unchanged:
        assert _version(client, etag).status_code == 304
    assert len(unchanged) <= 5, [q["sql"] for q in unchanged.captured_queries]
