"""Every `next` a page sends back after a POST stays on this site: another host
in any spelling a browser accepts, or a `javascript:` URL, sends the browser to
the page's own default instead (no open redirect)."""

import datetime as dt

import pytest
from django.utils import timezone

from sla.models import Breach, DelayOwner, SlaPolicy, SlaTimer
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

HOSTILE = [
    "//evil.example",
    "///evil.example",
    "https://evil.example",
    "http://evil.example/leads/",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "https:evil.example",
    "javascript:alert(1)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "http://testserver@evil.example/",
]
# Not URLs at all: our pages answer with their default too (redirect() would look a
# bare word up as a view name); Django's language switch takes them as relative paths.
NOT_URLS = ["abc", "²", ""]


@pytest.fixture
def breach(rep):
    lead = LeadFactory(owner=rep)
    now = timezone.now()
    timer = SlaTimer.objects.create(
        lead=lead,
        kind="first_contact",
        policy=SlaPolicy.objects.get(is_default=True),
        state="breached",
        started_at=now - dt.timedelta(hours=1),
        budget_seconds=900,
        due_at=now - dt.timedelta(minutes=45),
        breached_at=now - dt.timedelta(minutes=45),
    )
    return Breach.objects.create(
        timer=timer,
        kind="first_contact",
        lead=lead,
        owner=rep,
        team=rep.team,
        delay_owner=DelayOwner.REP,
        due_at=timer.due_at,
    )


def post_as(client, user, url, data, **extra):
    client.force_login(user)
    return client.post(url, data, **extra)


def notifications_read(client, people, breach, next_url, **extra):
    return post_as(
        client, people["rep"], "/notifications/read/", {"next": next_url}, **extra
    ), "/notifications/"


def breach_acknowledge(client, people, breach, next_url, **extra):
    response = post_as(
        client, people["head"], f"/sla/breaches/{breach.pk}/acknowledge/", {"next": next_url}, **extra
    )
    return response, "/sla/breaches/"


def lead_card_action(client, people, breach, next_url, **extra):
    data = {"next": next_url, "text": "A note"}
    response = post_as(client, people["rep"], f"/leads/{breach.lead_id}/do/note/", data, **extra)
    return response, f"/leads/{breach.lead_id}/"


def language_switch(client, people, breach, next_url, **extra):
    return post_as(
        client, people["rep"], "/i18n/setlang/", {"next": next_url, "language": "en"}, **extra
    ), "/"


ENDPOINTS = [notifications_read, breach_acknowledge, lead_card_action, language_switch]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("next_url", HOSTILE)
def test_a_next_to_another_site_goes_to_the_pages_default(client, people, breach, endpoint, next_url):
    response, default = endpoint(client, people, breach, next_url)
    assert response.status_code == 302
    assert response["Location"] == default


@pytest.mark.parametrize("endpoint", ENDPOINTS[:3], ids=lambda f: f.__name__)
@pytest.mark.parametrize("next_url", NOT_URLS)
def test_a_next_that_is_no_url_goes_to_the_pages_default(client, people, breach, endpoint, next_url):
    response, default = endpoint(client, people, breach, next_url)
    assert response.status_code == 302
    assert response["Location"] == default


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda f: f.__name__)
def test_a_next_on_this_site_is_followed(client, people, breach, endpoint):
    response, _ = endpoint(client, people, breach, "/leads/?page=2")
    assert response["Location"] == "/leads/?page=2"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda f: f.__name__)
def test_an_https_page_is_not_sent_back_over_http(client, people, breach, endpoint, settings):
    settings.SECURE_PROXY_SSL_HEADER = None
    response, default = endpoint(client, people, breach, "http://testserver/leads/", secure=True)
    assert response["Location"] == default
    response, _ = endpoint(client, people, breach, "https://testserver/leads/", secure=True)
    assert response["Location"] == "https://testserver/leads/"


def test_the_sign_in_page_does_not_send_to_another_site(client, rep):
    response = client.post("/login/?next=//evil.example", {"username": "rep", "password": "pw"})
    assert response.status_code == 302 and "evil.example" not in response["Location"]
