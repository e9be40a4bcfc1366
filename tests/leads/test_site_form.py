"""The embeddable site form: publishable id, allowed origins, honeypot, limits."""

import datetime as dt

import pytest
import time_machine

from leads.models import Lead, SiteForm
from tests.factories import SourceFactory

pytestmark = pytest.mark.django_db

ORIGIN = "https://www.example.ru"
GOOD = {"name": "Анна", "phone": "+7 916 765-43-21", "comment": "Хочу демо", "consent": "true"}


@pytest.fixture(autouse=True)
def working_hours():
    with time_machine.travel(dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC), tick=True):
        yield


@pytest.fixture
def form(db):
    return SiteForm.objects.create(
        public_id="f-site-main",
        source=SourceFactory(code="seo"),
        name="Main site",
        allowed_origins=f"{ORIGIN}\nhttps://promo.example.ru/",
        consent_version="2026-01",
        rate_limit_per_minute=3,
    )


def submit(client, form, data, origin=ORIGIN, **extra):
    return client.post(f"/forms/{form.public_id}/submit/", data, HTTP_ORIGIN=origin, **extra)


def test_a_post_from_an_allowed_origin_creates_a_lead_with_consent(client, form):
    response = submit(client, form, GOOD)
    assert response.status_code == 201, response.json()
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    lead = Lead.objects.get(pk=response.json()["id"])
    assert lead.source == form.source and lead.channel == "form"
    consent = lead.requests.get().consent
    assert consent.text_version == "2026-01" and consent.ip == "127.0.0.1"


def test_json_bodies_work_too(client, form):
    response = client.post(
        f"/forms/{form.public_id}/submit/",
        {**GOOD, "consent": True},
        content_type="application/json",
        HTTP_ORIGIN="https://promo.example.ru",
    )
    assert response.status_code == 201


def test_other_origins_are_refused(client, form):
    assert submit(client, form, GOOD, origin="https://evil.example.com").status_code == 403
    assert not Lead.objects.exists()


def test_the_preflight_answers_for_allowed_origins(client, form):
    response = client.options(f"/forms/{form.public_id}/submit/", HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 200 and response["Access-Control-Allow-Methods"] == "POST, OPTIONS"


def test_the_honeypot_accepts_quietly_and_writes_nothing(client, form):
    response = submit(client, form, {**GOOD, "website": "http://spam"})
    assert response.status_code == 202
    assert not Lead.objects.exists()


def test_validation_matches_the_api(client, form):
    response = submit(client, form, {**GOOD, "phone": "123", "consent": ""})
    assert response.status_code == 400
    assert {"phone", "consent"} <= set(response.json())
    assert not Lead.objects.exists()


def test_unknown_extra_fields_from_sites_are_ignored(client, form):
    assert submit(client, form, {**GOOD, "csrfmiddlewaretoken": "x", "utm_source": "ya"}).status_code == 201


def test_the_per_address_limit(client, form):
    codes = [submit(client, form, {**GOOD, "phone": f"+7916765430{i}"}).status_code for i in range(4)]
    assert codes == [201, 201, 201, 429]


def test_an_unknown_or_inactive_form_is_404(client, form):
    assert submit(client, SiteForm(public_id="nope"), GOOD).status_code == 404
    form.is_active = False
    form.save()
    assert submit(client, form, GOOD).status_code == 404
    assert client.get(f"/forms/{form.public_id}/").status_code == 404


def test_the_form_page_may_be_framed_only_by_its_sites(client, form):
    response = client.get(f"/forms/{form.public_id}/")
    assert response.status_code == 200
    assert "X-Frame-Options" not in response
    # The site-wide Content-Security-Policy, with the form's own sites as frame ancestors.
    policy = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
    assert policy["frame-ancestors"] == f"https://promo.example.ru {ORIGIN}"
    assert policy["script-src"] == policy["style-src"] == "'self'"
    assert 'name="website"' in response.content.decode()


def test_the_form_page_posts_to_itself(client, form):
    # The iframe's own script posts from the CRM's origin.
    response = client.post(f"/forms/{form.public_id}/submit/", GOOD, HTTP_ORIGIN="http://testserver")
    assert response.status_code == 201
