"""Intake reads intake keys, sources, teams and rosters from the per-process
reference cache (revops/refcache.py). Inside an ordinary test's transaction a
reference edit switches that cache off, so these tests commit their rows
(transaction=True): the cache is really filled, then edited around."""

import datetime as dt

import pytest
import time_machine
from django.contrib.admin.sites import site
from django.test import RequestFactory

from leads.admin import IntakeKeyAdmin
from leads.intake_keys import create_key
from leads.models import IntakeKey, Lead
from revops import refcache
from revops.roles import Role
from sla.calendars import team_calendar
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
