"""Consent to advertising (38-FZ art. 18) at intake, on the site form and in the
import, kept apart from the processing consent; an unsubscribe that no later
request or import undoes; and the listed nurture reason on the card and the API."""

import datetime as dt

import pytest
import time_machine
from django.utils import translation

from leads import importer, tracks
from leads.intake_keys import create_key
from leads.models import Lead, MarketingConsent, SiteForm, TrackEnrollment, Unsubscribe
from revops import display
from tests.factories import LeadFactory, SourceFactory, stage

pytestmark = pytest.mark.django_db

URL = "/api/v1/intake/"
BODY = {"name": "Ирина", "email": "irina@vector.ru", "consent": True, "consent_text": "v3"}
ORIGIN = "https://www.example.ru"


@pytest.fixture(autouse=True)
def working_hours():
    with time_machine.travel(dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC), tick=True):
        yield


@pytest.fixture
def source(db):
    return SourceFactory(code="yandex_direct", name="Яндекс Директ")


@pytest.fixture
def key(source):
    return create_key(source)[1]


def post(api, key, body):
    return api.post(URL, body, format="json", HTTP_X_INTAKE_KEY=key)


# --- the intake API -----------------------------------------------------------------------------------


def test_intake_records_the_advertising_consent_with_its_version_and_time(api, key):
    response = post(api, key, {**BODY, "marketing_consent": True, "marketing_consent_text": "ads-2"})
    assert response.status_code == 201, response.json()
    lead = Lead.objects.get(pk=response.json()["id"])
    consent = MarketingConsent.objects.get()
    assert consent.contact == lead.contact and consent.text_version == "ads-2"
    assert consent.request == lead.requests.get()
    assert consent.given_at == lead.created_at
    assert tracks.may_email(lead.contact) == ""


def test_without_it_nothing_is_recorded_and_no_track_email_may_go(api, key):
    for body in (BODY, {**BODY, "marketing_consent": False, "email": "x@vector.ru"}):
        assert post(api, key, body).status_code == 201
    assert not MarketingConsent.objects.exists()
    assert {tracks.may_email(lead.contact) for lead in Lead.objects.all()} == {"no_consent"}


@pytest.mark.parametrize(
    "change",
    [{"marketing_consent": "maybe"}, {"marketing_consent": [True]}, {"marketing_consent_text": "x" * 101}],
)
def test_bad_values_answer_400_by_field(api, key, change):
    response = post(api, key, {**BODY, **change})
    assert response.status_code == 400
    assert set(response.json()) == set(change)
    assert not Lead.objects.exists()


def test_a_later_request_never_resubscribes(api, key):
    post(api, key, {**BODY, "marketing_consent": True})
    contact = Lead.objects.get().contact
    tracks.unsubscribe(contact)
    response = post(api, key, {**BODY, "marketing_consent": True, "marketing_consent_text": "again"})
    assert response.status_code == 200
    assert Unsubscribe.objects.filter(contact=contact).exists()
    assert tracks.may_email(contact) == "unsubscribed"


def test_the_schema_describes_the_fields(api):
    schema = api.get("/api/schema/?format=json").json()
    intake = schema["components"]["schemas"]["IntakeRequest"]["properties"]
    assert intake["marketing_consent"]["type"] == "boolean"
    nurture = schema["components"]["schemas"]["NurtureRequest"]["properties"]
    assert "cause" in nurture


# --- the site form --------------------------------------------------------------------------------------


@pytest.fixture
def form(db):
    return SiteForm.objects.create(
        public_id="f-main",
        source=SourceFactory(code="seo"),
        name="Main",
        allowed_origins=ORIGIN,
        marketing_consent_text="Хочу получать новости",
        marketing_consent_version="ads-7",
    )


def test_the_site_form_has_a_separate_unticked_box(client, form):
    page = client.get(f"/forms/{form.public_id}/").content.decode()
    assert 'name="marketing_consent"' in page and "Хочу получать новости" in page
    box = page[page.index('name="marketing_consent"') - 60 : page.index('name="marketing_consent"') + 40]
    assert "checked" not in box and "required" not in box


@pytest.mark.parametrize(("ticked", "expected"), [({"marketing_consent": "true"}, 1), ({}, 0)])
def test_the_site_form_records_the_box_only_when_ticked(client, form, ticked, expected):
    data = {
        "name": "Анна",
        "email": "anna@example.ru",
        "consent": "true",
        **ticked,
        "marketing_consent_text": "fake",
    }
    response = client.post(f"/forms/{form.public_id}/submit/", data, HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 201, response.json()
    assert MarketingConsent.objects.count() == expected
    if expected:
        consent = MarketingConsent.objects.get()
        assert (
            consent.text_version == "ads-7" and consent.ip == "127.0.0.1"
        )  # the form's version, not the posted one


# --- the import -------------------------------------------------------------------------------------------


def run_import(source, text: str, name="leads.csv"):
    plan = importer.prepare(text.encode(), filename=name, source=source)
    assert not plan.errors, [str(e) for e in plan.errors]
    importer.execute(plan)
    return plan


def test_the_import_takes_an_optional_consent_column(source):
    run_import(
        source,
        "email,согласие на рассылку\na@vector.ru,да\nb@vector.ru,нет\nc@vector.ru,\nd@vector.ru,true\n",
    )
    consents = {c.contact.email: c.text_version for c in MarketingConsent.objects.select_related("contact")}
    assert consents == {"a@vector.ru": "import:leads.csv", "d@vector.ru": "import:leads.csv"}


def test_a_bad_consent_cell_is_a_row_error(source):
    with translation.override("en"):
        plan = importer.prepare(
            b"email,marketing_consent\na@vector.ru,perhaps\n", filename="x.csv", source=source
        )
    assert [e.field for e in plan.errors] == ["marketing_consent"]


def test_a_reimport_never_resubscribes(source):
    run_import(source, "email,marketing_consent\na@vector.ru,yes\n")
    contact = Lead.objects.get().contact
    tracks.unsubscribe(contact)
    run_import(
        source, "email,marketing_consent,marketing_consent_text\na@vector.ru,yes,v9\n", name="again.csv"
    )
    assert MarketingConsent.objects.filter(contact=contact).count() == 2
    assert tracks.may_email(contact) == "unsubscribed"


# --- the listed nurture reason ---------------------------------------------------------------------------


def nurture_url(lead):
    return f"/api/v1/leads/{lead.pk}/nurture/"


def test_the_api_takes_a_listed_reason_and_enrolls(api, rep):
    from tests.leads.test_tracks_flow import make_track

    track = make_track(codes=("researching",))
    lead = LeadFactory(owner=rep, stage=stage("qualification"))
    api.force_authenticate(rep)
    response = api.post(nurture_url(lead), {"reason": "", "cause": "researching"}, format="json")
    assert response.status_code == 200, response.json()
    lead.refresh_from_db()
    assert lead.nurture_cause.code == "researching" and lead.nurture_reason
    assert TrackEnrollment.objects.get(lead=lead).track == track


def test_the_api_defaults_to_other_and_refuses_unknown_codes(api, rep):
    lead = LeadFactory(owner=rep)
    api.force_authenticate(rep)
    bad = api.post(nurture_url(lead), {"reason": "later", "cause": "nope"}, format="json")
    assert bad.status_code == 400 and "cause" in bad.json()
    assert Lead.objects.get(pk=lead.pk).stage.code == "lead"
    assert api.post(nurture_url(lead), {"reason": "", "cause": ""}, format="json").status_code == 400
    ok = api.post(nurture_url(lead), {"reason": "later"}, format="json")
    assert ok.status_code == 200
    assert Lead.objects.get(pk=lead.pk).nurture_cause.code == "other"


def test_the_card_offers_the_listed_reasons_and_sends_one(client, rep):
    lead = LeadFactory(owner=rep)
    client.force_login(rep)
    page = client.get(f"/leads/{lead.pk}/").content.decode()
    assert 'name="cause"' in page and 'value="no_budget"' in page
    response = client.post(f"/leads/{lead.pk}/do/nurture/", {"cause": "no_budget", "reason": ""})
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.stage.code == "nurture" and lead.nurture_cause.code == "no_budget"


def test_the_card_refuses_an_unknown_code_and_changes_nothing(client, rep):
    lead = LeadFactory(owner=rep)
    client.force_login(rep)
    client.post(f"/leads/{lead.pk}/do/nurture/", {"cause": "bogus", "reason": "x"})
    assert Lead.objects.get(pk=lead.pk).stage.code == "lead"


def test_the_card_says_whether_advertising_email_may_go(client, marketer, api, key):
    post(api, key, {**BODY, "marketing_consent": True})
    lead = Lead.objects.get()
    client.force_login(marketer)
    with translation.override("en"):
        page = client.get(f"/leads/{lead.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
        day = display.day(dt.date(2026, 11, 25))
        assert "Advertising emails" in page and f"agreed on {day}" in page
        tracks.unsubscribe(lead.contact)
        page = client.get(f"/leads/{lead.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert f"unsubscribed on {day}" in page
