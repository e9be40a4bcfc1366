"""The browser pages: each role gets in, sees its own rows, and nothing else."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import CampaignFactory, LeadFactory, ProductFactory

pytestmark = pytest.mark.django_db

ROLES = ["rep", "teammate", "other_rep", "head", "other_head", "marketer", "marketing_head", "ceo", "admin"]
SEES_REP_LEAD = {"rep", "head", "marketer", "marketing_head", "ceo", "admin"}
ADMIN_SITE = {"head", "other_head", "marketing_head", "admin"}


@pytest.mark.parametrize("url", ["/", "/leads/", "/leads/1/"])
def test_pages_send_strangers_to_the_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith("/login/")


def test_people_sign_in_with_their_password(client, rep):
    response = client.post("/login/", {"username": "rep", "password": "pw"})
    assert response.status_code == 302 and response.url == "/"
    assert client.get("/", follow=True).status_code == 200
    client.logout()
    response = client.post("/login/", {"username": "rep", "password": "wrong"})
    assert response.status_code == 200 and not response.wsgi_request.user.is_authenticated


def test_sign_out_is_a_post(client, rep):
    client.force_login(rep)
    assert client.post("/logout/").status_code == 302
    assert client.get("/").status_code == 302


@pytest.mark.parametrize("who", ROLES)
def test_each_role_sees_home_and_the_list_with_only_its_leads(client, people, who):
    lead = LeadFactory(owner=people["rep"])
    lead.contact.name = "Ирина Соколова"
    lead.contact.save()
    client.force_login(people[who])
    # Reps land on their queue, heads on the board, the others on the overview.
    assert client.get("/", follow=True).status_code == 200
    response = client.get("/leads/")
    assert response.status_code == 200
    assert ("Ирина Соколова" in response.content.decode()) == (who in SEES_REP_LEAD)


@pytest.mark.parametrize("who", ROLES)
def test_each_role_opens_a_lead_card_only_when_it_may_see_it(client, people, who):
    lead = LeadFactory(owner=people["rep"])
    client.force_login(people[who])
    response = client.get(f"/leads/{lead.pk}/")
    assert response.status_code == (200 if who in SEES_REP_LEAD else 404)


@pytest.mark.parametrize("who", ROLES)
def test_the_admin_site_is_for_heads_and_admins(client, people, who):
    client.force_login(people[who])
    response = client.get("/admin/")
    assert response.status_code == (200 if who in ADMIN_SITE else 302)


@pytest.mark.parametrize("who", ["head", "other_head", "admin"])
def test_the_admin_shows_leads_by_the_same_visibility_rule(client, people, who):
    lead = LeadFactory(owner=people["rep"])
    client.force_login(people[who])
    response = client.get(f"/admin/leads/lead/{lead.pk}/change/")
    # Heads of another team are redirected away (object not found), like a 404.
    assert (response.status_code == 200) == (who in {"head", "admin"})


def test_the_list_filters_with_the_api_filterset(client, ceo):
    client.force_login(ceo)
    response = client.get("/leads/", {"status": "nonsense"})
    assert response.status_code == 200
    assert response.context["filter"].errors


@pytest.mark.parametrize("url", ["/", "/leads/"])
def test_pages_cost_the_same_number_of_queries_for_3_or_60_leads(client, ceo, url):
    campaign, product = CampaignFactory(), ProductFactory()

    def count():
        client.force_login(ceo)
        with CaptureQueriesContext(connection) as ctx:
            # The CEO's home redirects to the dashboard: count that page too.
            assert client.get(url, follow=True).status_code == 200
        return len(ctx.captured_queries)

    LeadFactory.create_batch(3, campaign=campaign, product=product)
    count()  # the first visit fills the process's caches (team calendars' schedules)
    few = count()
    LeadFactory.create_batch(57, campaign=campaign, product=product)
    assert count() == few


def test_the_lead_card_costs_the_same_queries_whatever_its_history(client, ceo, rep):
    from leads.models import ContactAttempt, InboundRequest

    lead = LeadFactory(owner=rep)

    def count():
        client.force_login(ceo)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(f"/leads/{lead.pk}/").status_code == 200
        return len(ctx.captured_queries)

    before = count()
    for _ in range(5):
        ContactAttempt.objects.create(lead=lead, channel="call", outcome="no_answer", made_by=rep)
        InboundRequest.objects.create(lead=lead, contact=lead.contact, source=lead.source, channel="form")
    assert count() == before


class TestLanguage:
    def test_russian_is_the_default(self, client, rep):
        client.force_login(rep)
        assert "Выйти" in client.get("/leads/").content.decode()

    def test_accept_language_is_honoured(self, client, rep):
        client.force_login(rep)
        assert "Sign out" in client.get("/leads/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    def test_the_switch_remembers_the_choice_on_the_user(self, client, rep):
        client.force_login(rep)
        response = client.post("/i18n/setlang/", {"language": "en", "next": "/leads/"})
        assert response.status_code == 302 and response.url == "/leads/"
        rep.refresh_from_db()
        assert rep.language == "en"
        # The saved choice beats the browser's header.
        assert "Sign out" in client.get("/leads/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()

    def test_urls_carry_no_language_prefix(self, client):
        assert client.get("/en/").status_code == 404
