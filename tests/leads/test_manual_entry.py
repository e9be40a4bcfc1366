"""Manual entry of a person who already has an open lead: the request joins
that lead (de-duplication), and the answer never reveals a lead the person
entering it may not see."""

import pytest
from django.contrib.messages import get_messages

from leads.models import InboundRequest, Lead
from tests.factories import ContactFactory, LeadFactory, SourceFactory

pytestmark = pytest.mark.django_db

PHONE = "+79165550011"


def enter(client, phone=PHONE):
    return client.post(
        "/leads/new/",
        {"name": "Кто-то", "phone": phone, "source": SourceFactory().pk, "consent": "on"},
        HTTP_ACCEPT_LANGUAGE="en",
    )


def texts(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_a_rep_entering_another_reps_person_learns_nothing_about_that_lead(client, rep, other_rep):
    theirs = LeadFactory(owner=other_rep, contact=ContactFactory(phone=PHONE, name="Чужой Клиент"))
    client.force_login(rep)
    response = enter(client)
    # De-duplicated: no new lead, the request is on the other rep's lead.
    assert Lead.objects.count() == 1
    assert InboundRequest.objects.filter(lead=theirs).count() == 1
    # …but the answer names, links and numbers nothing.
    assert response.status_code == 302 and response.url == "/leads/"
    [message] = texts(response)
    assert message == (
        "This person already has an open lead; the request went to the person's current owner."
    )
    page = client.get(response.url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Чужой Клиент" not in page and f"/leads/{theirs.pk}/" not in page
    assert f"#{theirs.pk}" not in message


def test_a_rep_entering_their_own_person_is_sent_to_the_lead(client, rep):
    mine = LeadFactory(owner=rep, contact=ContactFactory(phone=PHONE))
    client.force_login(rep)
    response = enter(client)
    assert response.url == f"/leads/{mine.pk}/"
    assert texts(response) == ["This person already has an open lead; the request was added to it."]


def test_a_head_is_told_about_a_lead_of_the_team_but_not_of_another_team(client, head, rep, other_rep):
    team_lead = LeadFactory(owner=rep, contact=ContactFactory(phone=PHONE))
    LeadFactory(owner=other_rep, contact=ContactFactory(phone="+79165550022"))
    client.force_login(head)
    first = enter(client)
    assert first.url == f"/leads/{team_lead.pk}/"
    assert texts(first) == ["This person already has an open lead; the request was added to it."]
    response = enter(client, phone="+79165550022")
    assert response.url == "/leads/"
    # (The first message is still waiting to be shown; the new one comes last.)
    assert texts(response)[-1] == (
        "This person already has an open lead; the request went to the person's current owner."
    )
