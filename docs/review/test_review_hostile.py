import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import LeadFactory
from tests.revops.test_hostile_input import HOSTILE, NOT_AN_ID, NOT_A_DATE

pytestmark = pytest.mark.django_db

PAGES = [
    ("marketer", "/nurture/", ["page", "reason", "track", "source", "owner", "this_week", "date_from", "date_to"]),
    ("head", "/nurture/", ["page", "reason", "track", "source", "owner", "this_week", "date_from", "date_to"]),
    ("marketer", "/feedback/", ["page", "date_from", "date_to", "source", "campaign", "segment", "topic", "state"]),
    ("marketer", "/disputes/", ["page", "state", "team", "source"]),
    ("marketer", "/nurture/tracks/", []),
    ("marketer", "/nurture/tasks/", []),
    ("rep", "/leads/new/nurture-check/", ["phone", "email"]),
    ("rep", "/reports/definitions/", []),
    ("marketer", "/reports/funnel/", ["period_from", "period_to", "mode"]),
    ("marketer", "/reports/rejections/", ["period_from", "period_to"]),
]
API = [
    ("/api/v1/feedback/", ["page", "date_from", "date_to", "source", "campaign", "segment", "topic", "state"]),
    ("/api/v1/feedback/counts/", ["date_from", "date_to", "source", "topic"]),
    ("/api/v1/disputes/", ["page", "state", "team", "source"]),
]


@pytest.mark.parametrize("who,path,params", PAGES)
def test_pages(request, who, path, params, rep):
    user = request.getfixturevalue(who)
    LeadFactory(owner=rep)
    c = Client()
    c.force_login(user)
    fails = []
    r = c.get(path)
    if r.status_code >= 500:
        fails.append(("-", "-", r.status_code))
    for name in params:
        for value in [*HOSTILE, *NOT_AN_ID, *NOT_A_DATE]:
            r = c.get(path, {name: value})
            if r.status_code >= 500:
                fails.append((name, value, r.status_code))
    assert fails == []


@pytest.mark.parametrize("path,params", API)
def test_api(marketer, path, params):
    c = APIClient()
    c.force_authenticate(marketer)
    fails = []
    for name in params:
        for value in [*HOSTILE, *NOT_AN_ID, *NOT_A_DATE]:
            r = c.get(path, {name: value})
            if r.status_code >= 500:
                fails.append((name, value, r.status_code))
    for value in NOT_AN_ID:
        for p in (f"/api/v1/feedback/{value}/", f"/api/v1/disputes/{value}/"):
            r = c.get(p)
            if r.status_code >= 500:
                fails.append((p, value, r.status_code))
        for p in (f"/api/v1/feedback/{value}/reply/", f"/api/v1/disputes/{value}/decide/"):
            r = c.post(p, {"reply": "x", "outcome": "upheld"}, format="json")
            if r.status_code >= 500:
                fails.append((p, value, r.status_code))
    assert fails == []


def test_unsubscribe_tokens(db):
    c = Client()
    fails = []
    for tok in ["x", ".", ":", "a:b:c", ".eJyrVkrLz1eyUkpKLFKqBQAdegQ0:1:2", "1" * 5000, "%00", "..:..", "e30:1tZ:abc",
                "MQ:1vZ4xT:" + "A" * 43]:
        for m in ("get", "post"):
            r = getattr(c, m)(f"/unsubscribe/{tok}/")
            if r.status_code >= 500:
                fails.append((tok[:20], m, r.status_code))
    assert fails == []
