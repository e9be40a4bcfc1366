"""Shared fixtures: the named people of the stories our tests tell.

rep            — a sales rep in team A; sees and works only own leads
teammate       — another rep in team A; must not see the rep's leads
other_rep      — a rep in team B
head           — head of sales of team A; sees and works team A's leads
other_head     — head of sales of team B; must not see team A's leads
marketer       — reads every lead, changes none
marketing_head — reads every lead, edits marketing reference data
ceo            — the executive; reads everything
admin_user     — the administrator (superuser)
"""

import os

import pytest

from revops.roles import Role
from tests.factories import LeadFactory, TeamFactory, UserFactory

REQUIRE_ALL = os.environ.get("REVOPS_REQUIRE_ALL") == "1"


def skip_or_fail(reason: str):
    """Tests needing a missing service skip with the reason; in CI
    (REVOPS_REQUIRE_ALL=1) a missing service is a failure instead."""
    if REQUIRE_ALL:
        pytest.fail(f"REVOPS_REQUIRE_ALL=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_reference_cache():
    # A test's rows vanish with its rollback, which sends no signal: start
    # every test with an empty reference cache.
    from revops import refcache

    refcache.clear()
    yield
    refcache.clear()


@pytest.fixture(autouse=True)
def _fresh_schedules():
    # Schedules are cached per (calendar id, version). A rolled-back test's ids
    # come back in the next one, so one test's calendar could leak into another.
    from sla.calendars import clear_cache

    clear_cache()
    yield
    clear_cache()


@pytest.fixture(autouse=True)
def _private_cache(settings):
    # Each test gets an empty in-process cache: rate-limit counters must not leak
    # between tests, and the shared Redis of CI is never flushed.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def team_a(db):
    return TeamFactory(code="team-a", name="Team A")


@pytest.fixture
def team_b(db):
    return TeamFactory(code="team-b", name="Team B")


@pytest.fixture
def head(team_a):
    user = UserFactory(username="head", role=Role.SALES_HEAD, team=team_a)
    team_a.head = user
    team_a.save()
    return user


@pytest.fixture
def other_head(team_b):
    user = UserFactory(username="other_head", role=Role.SALES_HEAD, team=team_b)
    team_b.head = user
    team_b.save()
    return user


@pytest.fixture
def rep(team_a):
    return UserFactory(username="rep", role=Role.REP, team=team_a)


@pytest.fixture
def teammate(team_a):
    return UserFactory(username="teammate", role=Role.REP, team=team_a)


@pytest.fixture
def other_rep(team_b):
    return UserFactory(username="other_rep", role=Role.REP, team=team_b)


@pytest.fixture
def marketer(db):
    return UserFactory(username="marketer", role=Role.MARKETER)


@pytest.fixture
def marketing_head(db):
    return UserFactory(username="marketing_head", role=Role.MARKETING_HEAD)


@pytest.fixture
def ceo(db):
    return UserFactory(username="ceo", role=Role.EXECUTIVE)


@pytest.fixture
def admin_user(db):
    return UserFactory(username="admin", role=Role.ADMIN)


@pytest.fixture
def people(rep, teammate, other_rep, head, other_head, marketer, marketing_head, ceo, admin_user):
    return {
        "rep": rep,
        "teammate": teammate,
        "other_rep": other_rep,
        "head": head,
        "other_head": other_head,
        "marketer": marketer,
        "marketing_head": marketing_head,
        "ceo": ceo,
        "admin": admin_user,
    }


@pytest.fixture
def rep_lead(rep):
    return LeadFactory(owner=rep)


@pytest.fixture
def other_team_lead(other_rep):
    return LeadFactory(owner=other_rep)


@pytest.fixture
def api(db):
    from rest_framework.test import APIClient

    return APIClient()
