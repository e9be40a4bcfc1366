"""A rep who follows a notification or an old link to a lead that has since
moved to someone else is told where it went, not shown a bare 404; anyone else
still learns nothing."""

import pytest
from django.urls import reverse
from django.utils import translation

from leads.assignment import assign_manually
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def handed_over(rep, teammate, head):
    teammate.first_name, teammate.last_name = "Мария", "Котова"
    teammate.save()
    lead = LeadFactory(owner=None, team=rep.team)
    assign_manually(lead, rep, head)
    assign_manually(lead, teammate, head)
    return lead


def test_the_former_owner_is_told_who_has_the_lead_now(client, rep, handed_over):
    client.force_login(rep)
    with translation.override("en"):
        response = client.get(reverse("leads:detail", args=[handed_over.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404
    text = response.content.decode()
    assert f"Lead #{handed_over.pk} has moved to Мария Котова" in text
    assert handed_over.contact.name not in text  # nothing of the lead itself


def test_in_russian_too(client, rep, handed_over):
    client.force_login(rep)
    response = client.get(reverse("leads:detail", args=[handed_over.pk]), HTTP_ACCEPT_LANGUAGE="ru")
    assert response.status_code == 404
    assert f"Лид #{handed_over.pk} передан: Мария Котова" in response.content.decode()


def test_someone_who_never_held_it_gets_a_plain_not_found(client, other_rep, handed_over):
    client.force_login(other_rep)
    response = client.get(reverse("leads:detail", args=[handed_over.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404
    assert "Мария Котова" not in response.content.decode()
    assert "has moved" not in response.content.decode()


def test_a_lead_that_does_not_exist_stays_not_found(client, rep):
    client.force_login(rep)
    assert client.get(reverse("leads:detail", args=[999999])).status_code == 404
