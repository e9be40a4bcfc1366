"""POST /api/v1/intake/: the way leads come in from sites, chats and telephony."""

import datetime as dt
import os
import uuid

import pytest
import redis
import time_machine
from django.core.management import call_command
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leads.assignment import assign_waiting
from leads.intake_keys import create_key
from leads.models import Assignment, Consent, Contact, IdempotencyRecord, InboundRequest, Lead, StageChange
from sla.models import Notification, SlaTimer
from tests.conftest import skip_or_fail
from tests.factories import CampaignFactory, ProductFactory, SourceFactory, stage

pytestmark = pytest.mark.django_db

URL = "/api/v1/intake/"
GOOD = {
    "name": "Ирина Соколова",
    "phone": "+7 (916) 123-45-67",
    "email": "Irina@Vector.ru",
    "company": "ООО «Вектор»",
    "product": "crm",
    "comment": "Нужна CRM для отдела из 12 человек",
    "utm_source": "yandex",
    "utm_medium": "cpc",
    "utm_campaign": "crm_brand",
    "landing_page": "https://example.ru/crm?utm_source=yandex",
    "channel": "form",
    "consent": True,
    "consent_text": "v3",
    "client_ip": "203.0.113.7",
    "extra": {"form": "footer"},
}


@pytest.fixture(autouse=True)
def working_hours():
    # A Wednesday, 11:00 in Moscow: the default calendar is open, reps are on.
    with time_machine.travel(dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC), tick=True):
        yield


@pytest.fixture
def source(db):
    return SourceFactory(code="yandex_direct", name="Яндекс Директ")


@pytest.fixture
def key(source):
    return create_key(source)[1]


def post(api, key, body, **headers):
    return api.post(URL, body, format="json", HTTP_X_INTAKE_KEY=key, **headers)


def test_a_new_lead_is_created_with_everything_it_came_with(api, source, key, rep):
    campaign = CampaignFactory(source=source, utm_source="yandex", utm_campaign="crm_brand")
    product = ProductFactory(code="crm")
    response = post(api, key, GOOD)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["repeat"] is False
    lead = Lead.objects.select_related("contact").get(pk=body["id"])
    assert lead.contact.phone == "+79161234567"
    assert lead.contact.email == "irina@vector.ru"
    assert (lead.contact.name, lead.contact.company) == ("Ирина Соколова", "ООО «Вектор»")
    assert (lead.source, lead.campaign, lead.product) == (source, campaign, product)
    assert (lead.utm_source, lead.utm_medium, lead.utm_campaign) == ("yandex", "cpc", "crm_brand")
    assert lead.landing_page == GOOD["landing_page"]
    assert lead.channel == "form" and lead.comment == GOOD["comment"]
    assert lead.stage.code == "lead" and lead.furthest_stage.code == "lead"
    assert StageChange.objects.filter(lead=lead, from_stage=None, to_stage__code="lead").exists()
    request = InboundRequest.objects.get(pk=body["request_id"])
    assert request.lead == lead and not request.is_repeat and request.extra == {"form": "footer"}
    consent = Consent.objects.get(request=request)
    assert (consent.text_version, consent.ip) == ("v3", "203.0.113.7")


def test_the_lead_goes_to_a_rep_and_the_clock_starts_at_arrival(api, source, key, rep):
    arrival = dt.datetime(2026, 11, 25, 9, 50, tzinfo=dt.UTC)  # Wednesday 12:50 Moscow
    with time_machine.travel(arrival, tick=False):
        body = post(api, key, GOOD).json()
    lead = Lead.objects.get(pk=body["id"])
    assert lead.owner == rep and lead.team == rep.team
    timer = SlaTimer.objects.get(lead=lead, kind="first_contact")
    assert timer.state == "running" and timer.started_at == arrival
    # 10 minutes before the default calendar's lunch break, 5 after it: 14:05 Moscow.
    assert timer.due_at == dt.datetime(2026, 11, 25, 11, 5, tzinfo=dt.UTC)
    assert Notification.objects.filter(recipient=rep, kind="new_lead", lead=lead, channel="in_app").exists()
    # The rep got the lead with the whole first-contact time ahead.
    assert lead.assignments.get().sla_left_seconds == 15 * 60


def test_a_new_persons_lead_is_written_with_its_owner_in_one_transaction(api, key, rep):
    with CaptureQueriesContext(connection) as ctx:
        body = post(api, key, GOOD).json()
    lead = Lead.objects.get(pk=body["id"])
    assert lead.owner == rep
    # One transaction (a savepoint inside the test's): the lead never exists
    # without its owner, assignment and notification.
    statements = [q["sql"] for q in ctx.captured_queries]
    savepoint = next(sql for sql in statements if sql.startswith("SAVEPOINT "))
    inside = statements[statements.index(savepoint) : statements.index(f"RELEASE {savepoint}")]
    for table in (Lead, Assignment, Notification):
        assert any(sql.startswith("INSERT") and f'INTO "{table._meta.db_table}"' in sql for sql in inside), (
            table
        )
    assignment = lead.assignments.get()
    assert (assignment.to_owner, assignment.kind) == (rep, "auto")
    assert Notification.objects.filter(recipient=rep, kind="new_lead", lead=lead).exists()


def test_distribution_failing_at_intake_never_costs_the_lead(api, key, rep, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("distribution is down")

    monkeypatch.setattr("leads.assignment.decide", broken)
    response = post(api, key, GOOD)
    assert response.status_code == 201
    waiting = Lead.objects.get(pk=response.json()["id"])
    assert waiting.owner is None and waiting.team == rep.team  # in the team's queue
    assert SlaTimer.objects.filter(lead=waiting, state="running").exists()


def test_a_database_error_recording_the_owner_rolls_back_to_the_savepoint(api, key, rep, monkeypatch):
    def timeout(*args, **kwargs):
        raise OperationalError("canceling statement due to lock timeout")

    # After the lead's row got its owner (an UPDATE), before the assignment row.
    monkeypatch.setattr("leads.assignment._sla_left_seconds", timeout)
    response = post(api, key, GOOD)
    assert response.status_code == 201
    lead = Lead.objects.get(pk=response.json()["id"])
    assert lead.owner is None and lead.team == rep.team and not lead.assignments.exists()
    assert Contact.objects.count() == 1 and SlaTimer.objects.filter(lead=lead, state="running").count() == 1
    monkeypatch.undo()
    assert assign_waiting() == 1  # the queue gives it out later
    lead.refresh_from_db()
    assert lead.owner == rep


def test_unknown_product_codes_are_kept_as_sent(api, key):
    body = post(api, key, {**GOOD, "product": "mystery-box"}).json()
    lead = Lead.objects.get(pk=body["id"])
    assert lead.product is None and lead.product_text == "mystery-box"


def test_a_repeat_request_joins_the_open_lead_and_notifies_its_owner(api, source, key, rep):
    first = post(api, key, GOOD).json()
    second = post(api, key, {**GOOD, "phone": "8 916 123 45 67", "comment": "Перезвоните, пожалуйста"})
    assert second.status_code == 200
    assert second.json()["repeat"] is True and second.json()["id"] == first["id"]
    assert Lead.objects.count() == 1
    assert InboundRequest.objects.filter(lead_id=first["id"]).count() == 2
    assert InboundRequest.objects.get(pk=second.json()["request_id"]).is_repeat
    assert Notification.objects.filter(recipient=rep, kind="repeat_request", channel="in_app").count() == 1


def test_the_same_person_is_found_by_email_too(api, key, rep):
    first = post(api, key, {**GOOD, "phone": ""}).json()
    second = post(api, key, {**GOOD, "email": "IRINA@vector.ru"}).json()
    assert second["repeat"] and second["id"] == first["id"]
    # The phone the person gave the second time completes the contact.
    assert Contact.objects.get().phone == "+79161234567"


def test_a_closed_leads_contact_gets_a_new_lead_counted_as_returning(api, key, rep):
    first = post(api, key, GOOD).json()
    Lead.objects.filter(pk=first["id"]).update(stage=stage("lost"))
    response = post(api, key, GOOD)
    assert response.status_code == 201
    new = Lead.objects.get(pk=response.json()["id"])
    assert new.pk != first["id"] and new.is_returning
    assert new.contact_id == Lead.objects.get(pk=first["id"]).contact_id


class TestValidation:
    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"phone": "12345"}, "phone"),
            ({"email": "not-an-email"}, "email"),
            ({"phone": "", "email": ""}, "phone"),
            ({"consent": False}, "consent"),
            ({"consent": None}, "consent"),
            ({"consent": "maybe"}, "consent"),
            ({"channel": "pigeon"}, "channel"),
            ({"landing_page": "javascript:alert(1)"}, "landing_page"),
            ({"client_ip": "999.1.1.1"}, "client_ip"),
            ({"extra": "text"}, "extra"),
            ({"extra": {"blob": "x" * 9000}}, "extra"),
            ({"name": "x" * 201}, "name"),
            ({"comment": "x" * 5001}, "comment"),
            ({"utm_source": "x" * 201}, "utm_source"),
            ({"unexpected": 1}, "unexpected"),
        ],
    )
    def test_bad_fields_answer_400_by_field_and_write_nothing(self, api, key, change, field):
        response = post(api, key, {**GOOD, **change})
        assert response.status_code == 400
        assert field in response.json()
        assert (
            not Lead.objects.exists() and not Contact.objects.exists() and not InboundRequest.objects.exists()
        )

    def test_consent_is_required(self, api, key):
        body = {k: v for k, v in GOOD.items() if k != "consent"}
        response = post(api, key, body)
        assert response.status_code == 400 and "consent" in response.json()

    @pytest.mark.parametrize("raw", ["{not json", "[1,2,3]", '"text"', "null", ""])
    def test_malformed_bodies_answer_400(self, api, key, raw):
        response = api.post(URL, raw, content_type="application/json", HTTP_X_INTAKE_KEY=key)
        assert response.status_code == 400
        assert not Lead.objects.exists()

    def test_messages_follow_the_request_language(self, api, key):
        ru = post(api, key, {**GOOD, "phone": "", "email": ""}, HTTP_ACCEPT_LANGUAGE="ru").json()
        en = post(api, key, {**GOOD, "phone": "", "email": ""}, HTTP_ACCEPT_LANGUAGE="en").json()
        assert ru["phone"] != en["phone"]
        assert "phone" in en["phone"][0]


class TestKeys:
    def test_no_key_is_401(self, api):
        assert api.post(URL, GOOD, format="json").status_code == 401

    def test_a_wrong_key_is_403(self, api, key):
        assert post(api, key + "x", GOOD).status_code == 403

    def test_a_revoked_key_is_403(self, api, source):
        stored, raw = create_key(source)
        stored.revoked_at = timezone.now()
        stored.save()
        assert post(api, raw, GOOD).status_code == 403
        assert not Lead.objects.exists()

    def test_an_inactive_source_refuses_its_keys(self, api, source, key):
        source.is_active = False
        source.save()
        assert post(api, key, GOOD).status_code == 403

    def test_only_the_hash_is_stored(self, source):
        stored, raw = create_key(source)
        assert raw not in (stored.key_hash, stored.prefix) and raw.startswith(stored.prefix)

    def test_the_command_prints_the_key_alone_on_the_last_line(self, api, source, capsys):
        call_command("create_intake_key", "Яндекс Директ")
        raw = capsys.readouterr().out.strip().splitlines()[-1]
        assert post(api, raw, GOOD).status_code == 201

    def test_the_command_explains_an_unknown_source(self, source):
        from django.core.management.base import CommandError

        with pytest.raises(CommandError, match="yandex_direct"):
            call_command("create_intake_key", "nonexistent")


class TestIdempotency:
    def test_a_retry_returns_the_first_answer_and_creates_nothing(self, api, key):
        first = post(api, key, GOOD, HTTP_IDEMPOTENCY_KEY="order-42")
        again = post(api, key, GOOD, HTTP_IDEMPOTENCY_KEY="order-42")
        assert first.status_code == again.status_code == 201
        assert first.json() == again.json()
        assert again["Idempotent-Replayed"] == "true"
        assert Lead.objects.count() == 1 and InboundRequest.objects.count() == 1
        assert IdempotencyRecord.objects.count() == 1

    def test_the_same_key_with_another_body_is_refused(self, api, key):
        post(api, key, GOOD, HTTP_IDEMPOTENCY_KEY="order-42")
        response = post(api, key, {**GOOD, "comment": "other"}, HTTP_IDEMPOTENCY_KEY="order-42")
        assert response.status_code == 400 and "Idempotency-Key" in response.json()
        assert InboundRequest.objects.count() == 1

    def test_an_overlong_key_is_refused(self, api, key):
        response = post(api, key, GOOD, HTTP_IDEMPOTENCY_KEY="k" * 201)
        assert response.status_code == 400
        assert not Lead.objects.exists()

    def test_keys_are_per_source(self, api, key):
        other_key = create_key(SourceFactory(code="vk"))[1]
        a = post(api, key, GOOD, HTTP_IDEMPOTENCY_KEY="same").json()
        b = post(api, other_key, GOOD, HTTP_IDEMPOTENCY_KEY="same").json()
        assert b["request_id"] != a["request_id"] and b["repeat"]


class TestRateLimits:
    def test_over_the_keys_limit_is_429_with_retry_after(self, api, source):
        stored, raw = create_key(source, rate_limit_per_minute=2)
        bodies = [{**GOOD, "phone": f"+7916000000{i}", "email": ""} for i in range(3)]
        codes = [post(api, raw, body).status_code for body in bodies]
        assert codes == [201, 201, 429]
        response = post(api, raw, bodies[0])
        assert response.status_code == 429 and int(response["Retry-After"]) > 0
        assert Lead.objects.count() == 2

    def test_over_the_addresss_limit_is_429_even_with_an_unlimited_key(self, api, source, settings):
        settings.INTAKE_RATE_LIMIT_PER_IP = 2
        raw = create_key(source, rate_limit_per_minute=None)[1]
        codes = [
            post(api, raw, {**GOOD, "phone": f"+7916000004{i}", "email": ""}).status_code for i in range(3)
        ]
        assert codes == [201, 201, 429]
        assert Lead.objects.count() == 2

    def test_an_unlimited_key_is_never_limited(self, api, source):
        raw = create_key(source, rate_limit_per_minute=None)[1]
        for i in range(5):
            assert post(api, raw, {**GOOD, "phone": f"+7916000001{i}", "email": ""}).status_code == 201

    def test_limits_count_in_redis_with_one_expiry_per_window(self, api, source, settings):
        url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
        prefix = f"test-{uuid.uuid4().hex}"
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": url,
                "KEY_PREFIX": prefix,
            }
        }
        client = redis.Redis.from_url(url)
        try:
            client.ping()
        except redis.RedisError:
            skip_or_fail(f"no Redis at {url}")
        stored, raw = create_key(source, rate_limit_per_minute=2)
        try:
            codes = [
                post(api, raw, {**GOOD, "phone": f"+7916000003{i}", "email": ""}).status_code
                for i in range(3)
            ]
            assert codes == [201, 201, 429]
            (counter,) = client.keys(f"{prefix}:*intake-key:{stored.pk}:*")
            assert int(client.get(counter)) == 3 and 0 < client.ttl(counter) <= 61
            # The address's limit is counted in the same round trip.
            (by_address,) = client.keys(f"{prefix}:*intake-ip:127.0.0.1:*")
            assert int(client.get(by_address)) == 3 and 0 < client.ttl(by_address) <= 61
        finally:
            for name in client.keys(f"{prefix}:*"):
                client.delete(name)

    def test_limits_fail_open_when_the_cache_is_down(self, api, source, settings):
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": "redis://127.0.0.1:1/0",
                "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
            }
        }
        raw = create_key(source, rate_limit_per_minute=1)[1]
        for i in range(3):
            assert post(api, raw, {**GOOD, "phone": f"+7916000002{i}", "email": ""}).status_code == 201
