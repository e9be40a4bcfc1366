"""A site form takes leads only while both it and its source are active: when
either is switched off, its page, its submit (form or JSON) and its preflight
all answer 404 and nothing is written, as the source's API keys are refused."""

import pytest
from rest_framework.test import APIClient

from leads.intake_keys import create_key
from leads.models import InboundRequest, Lead, SiteForm
from tests.factories import SourceFactory

pytestmark = pytest.mark.django_db

ORIGIN = "https://www.example.ru"
GOOD = {"name": "Анна", "phone": "+7 916 765-43-21", "consent": "true"}


@pytest.fixture
def form(db):
    return SiteForm.objects.create(
        public_id="f-disabled", source=SourceFactory(code="seo"), name="Main site", allowed_origins=ORIGIN
    )


def answers(client, form):
    url = f"/forms/{form.public_id}/"
    return {
        "page": client.get(url).status_code,
        "submit": client.post(f"{url}submit/", GOOD, HTTP_ORIGIN=ORIGIN).status_code,
        "json": client.post(
            f"{url}submit/", GOOD, content_type="application/json", HTTP_ORIGIN=ORIGIN
        ).status_code,
        "preflight": client.options(f"{url}submit/", HTTP_ORIGIN=ORIGIN).status_code,
    }


def switch_off(form, what):
    target = form.source if what == "source" else form
    target.is_active = False
    target.save()


@pytest.mark.parametrize("what", ["source", "form"])
def test_a_switched_off_form_or_source_takes_nothing(client, form, what):
    switch_off(form, what)
    assert answers(client, form) == {"page": 404, "submit": 404, "json": 404, "preflight": 404}
    assert not Lead.objects.exists() and not InboundRequest.objects.exists()


def test_the_sources_keys_are_refused_too(form):
    _, key = create_key(form.source)
    switch_off(form, "source")
    response = APIClient().post("/api/v1/intake/", GOOD, format="json", HTTP_X_INTAKE_KEY=key)
    assert response.status_code == 403
    assert not Lead.objects.exists()


def test_an_active_form_of_an_active_source_takes_the_lead(client, form):
    assert client.get(f"/forms/{form.public_id}/").status_code == 200
    response = client.post(f"/forms/{form.public_id}/submit/", GOOD, HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 201 and Lead.objects.count() == 1
