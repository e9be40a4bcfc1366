"""Intake reads intake keys, sources, teams and rosters from the per-process
reference cache (revops/refcache.py). Inside an ordinary test's transaction a
reference edit switches that cache off, so these tests commit their rows
(transaction=True): the cache is really filled, then edited around."""

import datetime as dt

import pytest
import time_machine
from django.contrib.admin.sites import site
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from leads.admin import IntakeKeyAdmin
from leads.intake_keys import create_key
from leads.models import Consent, InboundRequest, IntakeKey, Lead, StageChange
from revops import refcache
from revops.roles import Role
from sla.calendars import team_calendar
from sla.models import Notification
from tests.factories import SourceFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/intake/"


@pytest.fixture(autouse=True)
def working_hours():
    # Wednesday 11:00 in Moscow: the default calendar is open.
    with time_machine.travel(dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC), tick=True):
        yield


def post(api, key, n):
    body = {"phone": f"+7916555{n:04d}", "consent": True, "name": "Тест"}
    return api.post(URL, body, format="json", HTTP_X_INTAKE_KEY=key)


@pytest.fixture
def source():
    return SourceFactory(code="site")


def test_revoking_a_cached_key_in_the_admin_refuses_it_at_once(api, source, messages_request):
    stored, raw = create_key(source)
    assert post(api, raw, 1).status_code == 201
    assert "intake-keys" in refcache._entries, "the key is served from the cache"
    IntakeKeyAdmin(IntakeKey, site).revoke(messages_request, IntakeKey.objects.filter(pk=stored.pk))
    assert post(api, raw, 2).status_code == 403
    assert Lead.objects.count() == 1


def test_deactivating_a_cached_keys_source_refuses_it_at_once(api, source):
    raw = create_key(source)[1]
    assert post(api, raw, 1).status_code == 201
    assert "intake-keys" in refcache._entries
    source.is_active = False
    source.save()
    assert post(api, raw, 2).status_code == 403


def test_a_new_lead_goes_to_the_fallback_team_from_cached_teams(api, source):
    main = TeamFactory(code="day", name="Day")  # the first sales team: the default one
    fallback = TeamFactory(code="night", name="Night")
    main.fallback_team = fallback
    main.save()
    UserFactory(username="away", role=Role.REP, team=main, accepts_leads=False)
    night_rep = UserFactory(username="night", role=Role.REP, team=fallback)
    raw = create_key(source)[1]
    for n in range(2):  # the second request is served from the filled cache
        lead = Lead.objects.get(pk=post(api, raw, n).json()["id"])
        assert (lead.team, lead.owner) == (fallback, night_rep)
        assignment = lead.assignments.get()
        assert assignment.team == fallback and "fallback_team" in [r["code"] for r in assignment.reasons]
        assert lead.timers.get().calendar == team_calendar(fallback)
    assert f"roster:{main.pk}" in refcache._entries and f"roster:{fallback.pk}" in refcache._entries


def test_a_new_persons_rows_are_written_in_one_transaction_with_reference_data_cached(api, source):
    rep = UserFactory(username="rep", role=Role.REP, team=TeamFactory(), email="rep@example.ru")
    raw = create_key(source)[1]
    # Someone else first, with a key too: the reference tables are cached, as
    # in steady state.
    warm = {"phone": "+79165550001", "consent": True, "name": "Тест"}
    api.post(URL, warm, format="json", HTTP_X_INTAKE_KEY=raw, HTTP_IDEMPOTENCY_KEY="warm-up")
    body = {"phone": "+79165550002", "consent": True, "name": "Тест"}
    with CaptureQueriesContext(connection) as ctx:
        answer = api.post(
            URL, body, format="json", HTTP_X_INTAKE_KEY=raw, HTTP_IDEMPOTENCY_KEY="try-1"
        ).json()
    statements = [q["sql"] for q in ctx.captured_queries]
    reads = [sql for sql in statements if sql.startswith("SELECT")]
    # No reference table is read: only the Idempotency-Key look-up and the
    # contact (locked). Everything else is the lead's own rows.
    assert len(reads) == 2, "\n".join(s[:100] for s in reads)
    inserts = [sql for sql in statements if sql.startswith("INSERT")]
    # Contact, lead, stage change, request, consent, timer, assignment, the
    # rep's notifications (in-app and e-mail in one statement) and the
    # idempotency record.
    assert len(inserts) == 9, "\n".join(s[:100] for s in inserts)
    lead = Lead.objects.get(pk=answer["id"])
    request = InboundRequest.objects.get(pk=answer["request_id"])
    assignment = lead.assignments.get()
    assert (lead.owner, request.lead, request.contact) == (rep, lead, lead.contact)
    assert Consent.objects.get(request=request).contact == lead.contact
    assert lead.timers.get().state == "running"
    assert StageChange.objects.filter(lead=lead).count() == 1
    assert set(Notification.objects.filter(lead=lead).values_list("dedupe_key", flat=True)) == {
        f"new_lead:assignment:{assignment.pk}:{rep.pk}:{channel}" for channel in ("in_app", "email")
    }
    # The idempotency record went with the rest: a retry gets the same answer.
    again = api.post(URL, body, format="json", HTTP_X_INTAKE_KEY=raw, HTTP_IDEMPOTENCY_KEY="try-1")
    assert again.json() == answer and again["Idempotent-Replayed"] == "true"
    assert Lead.objects.count() == 2


def test_a_capped_teams_new_lead_is_assigned_in_its_own_transaction(api, source):
    """A counted pick (leads.assignment.picks_in_turn) is made inside the
    intake's transaction too, holding its turn until the commit."""
    rep = UserFactory(username="rep", role=Role.REP, team=TeamFactory(daily_cap=5))
    raw = create_key(source)[1]
    post(api, raw, 1)  # the reference tables cached
    with CaptureQueriesContext(connection) as ctx:
        answer = post(api, raw, 2).json()
    statements = [q["sql"] for q in ctx.captured_queries]
    # Autocommit outside take_lead: its transaction is the only one.
    assert sum(sql.startswith("SAVEPOINT") for sql in statements) == 1  # the owner's choice
    lead = Lead.objects.get(pk=answer["id"])
    assert lead.owner == rep and lead.assignments.get().to_owner == rep
    assert lead.timers.get().state == "running"


def test_a_login_keeps_the_cache_and_a_rep_edit_clears_it(source):
    rep = UserFactory(username="rep", role=Role.REP, team=TeamFactory())
    refcache.get("probe", lambda: 1)
    rep.language = "en"
    rep.save(update_fields=["language"])
    assert "probe" in refcache._entries
    rep.accepts_leads = False
    rep.save(update_fields=["accepts_leads"])
    assert "probe" not in refcache._entries


@pytest.fixture
def messages_request(admin_user):
    from django.contrib.messages.storage.fallback import FallbackStorage

    request = RequestFactory().post("/")
    request.user = admin_user
    request.session = {}
    request._messages = FallbackStorage(request)
    return request
