"""Hostile input never answers 500 (issue #11, items 8 and 9).

A table of values an attacker (or a broken client) sends — non-ASCII digits that
str.isdigit() accepts but int() refuses, ids beyond a 64-bit integer, dates at the
ends of the calendar, floats in id fields, NUL bytes, JSON nested thousands of
levels deep — against every API endpoint and every HTML page that reads
parameters. The API answers 400 with a message that names the parameter, and
nothing changes; a page answers 400 or ignores the value, never 500.
"""

import datetime as dt
import json

import pytest
import time_machine
from django.test import Client
from rest_framework.test import APIClient

from leads.intake_keys import create_key
from leads.models import InboundRequest, Lead, LeadEvent, SiteForm
from sla.models import Breach, DelayOwner, Notification, SlaPolicy, SlaTimer, TimerKind, TimerState
from tests.factories import LeadFactory, SourceFactory

pytestmark = pytest.mark.django_db

# Values that are not what the parameter asks for, whatever it asks for.
NOT_AN_ID = [
    "²",  # str.isdigit() is True, int() raises
    "١٢",  # Arabic-Indic digits: int() takes them, we do not
    "99999999999999999999",  # 20 digits: beyond a 64-bit integer
    "9223372036854775808",  # 2**63, one past the largest id
    "-1",
    "0",
    "1.76e+307",
    "1.5",
    "abc",
    "1\x00",
]
NOT_A_DATE = ["9999-12-31", "0001-01-01", "10000-01-01", "2026-02-30", "²⁰²⁶-01-01", "yesterday", "\x00"]
NOT_A_PAGE = ["0", "-1", "²", "99999999999999999999", "abc"]

LEAD_ID_FILTERS = ["owner", "source", "campaign", "segment"]
BREACH_ID_FILTERS = ["team", "owner", "source"]
DATE_FILTERS = ["created_after", "created_before"]


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC), tick=False):
        yield


@pytest.fixture
def world(rep, head, teammate, other_rep, admin_user):
    lead = LeadFactory(owner=rep)
    LeadFactory(owner=other_rep)
    timer = SlaTimer.objects.create(
        lead=lead,
        kind=TimerKind.FIRST_CONTACT,
        policy=SlaPolicy.objects.get(is_default=True),
        state=TimerState.BREACHED,
        started_at=lead.created_at,
        budget_seconds=900,
        due_at=lead.created_at + dt.timedelta(minutes=15),
        breached_at=lead.created_at + dt.timedelta(minutes=15),
    )
    breach = Breach.objects.create(
        timer=timer,
        kind=TimerKind.FIRST_CONTACT,
        lead=lead,
        owner=rep,
        team=lead.team,
        source=lead.source,
        delay_owner=DelayOwner.REP,
        due_at=timer.due_at,
        created_at=timer.due_at,
    )
    return {"lead": lead, "breach": breach}


def api_as(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def page_as(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def state() -> tuple:
    """What a refused request must leave as it was."""
    return (
        list(Lead.objects.order_by("pk").values_list("pk", "owner_id", "stage_id", "priority", "updated_at")),
        LeadEvent.objects.count(),
        InboundRequest.objects.count(),
        list(Breach.objects.values_list("pk", "acknowledged_at", "resolved_at")),
        list(Notification.objects.values_list("pk", "read_at")),
    )


def assert_400_naming(response, name):
    assert response.status_code == 400, (name, response.status_code, response.content[:300])
    body = response.json()
    assert name in body, body
    assert all(isinstance(m, str) and m for m in body[name]), body


# --- the API's query parameters ------------------------------------------------------------------------


@pytest.mark.parametrize("value", NOT_AN_ID)
@pytest.mark.parametrize("name", LEAD_ID_FILTERS)
def test_lead_list_refuses_a_bad_id_filter(world, head, name, value):
    if name == "owner" and value == "none":
        return
    assert_400_naming(api_as(head).get("/api/v1/leads/", {name: value}), name)


@pytest.mark.parametrize("value", NOT_AN_ID)
@pytest.mark.parametrize("name", BREACH_ID_FILTERS)
def test_breach_list_refuses_a_bad_id_filter(world, head, name, value):
    assert_400_naming(api_as(head).get("/api/v1/sla/breaches/", {name: value}), name)


@pytest.mark.parametrize("value", NOT_A_DATE)
@pytest.mark.parametrize("name", DATE_FILTERS)
@pytest.mark.parametrize("url", ["/api/v1/leads/", "/api/v1/sla/breaches/"])
def test_lists_refuse_a_date_off_the_calendar(world, head, url, name, value):
    assert_400_naming(api_as(head).get(url, {name: value}), name)


@pytest.mark.parametrize("value", ["1900-01-01", "2999-12-31", "2026-11-25"])
@pytest.mark.parametrize("name", DATE_FILTERS)
def test_dates_inside_the_range_still_filter(world, head, name, value):
    assert api_as(head).get("/api/v1/leads/", {name: value}).status_code == 200


@pytest.mark.parametrize(
    "name,value",
    [
        ("stage", "nonsense"),
        ("status", "²"),
        ("qualification", "x"),
        ("sla_state", "late"),
        ("product", "\x00"),
        ("search", "\x00"),
        ("search", "x" * 5000),
    ],
)
def test_lead_list_choice_and_text_filters_never_fail(world, head, name, value):
    response = api_as(head).get("/api/v1/leads/", {name: value})
    if name == "search" and "\x00" not in value:
        assert response.status_code == 200  # a long search is cut, not refused
    else:
        assert_400_naming(response, name)


@pytest.mark.parametrize("value", NOT_A_PAGE)
@pytest.mark.parametrize("url", ["/api/v1/leads/", "/api/v1/sla/breaches/"])
def test_a_bad_page_is_a_400_naming_page(world, head, url, value):
    assert_400_naming(api_as(head).get(url, {"page": value}), "page")


def test_a_page_past_the_end_is_a_404(world, head):
    response = api_as(head).get("/api/v1/leads/", {"page": "7"})
    assert response.status_code == 404 and "detail" in response.json()


@pytest.mark.parametrize("value", ["0", "-1", "²", "99999999999999999999", "abc"])
def test_a_bad_page_size_is_a_400_naming_page_size(world, head, value):
    assert_400_naming(api_as(head).get("/api/v1/leads/", {"page_size": value}), "page_size")


# --- ids in the API's paths -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["²", "99999999999999999999", "9223372036854775808", "-1", "0", "1.5"])
@pytest.mark.parametrize(
    "method,path",
    [
        ("get", "/api/v1/leads/{}/"),
        ("patch", "/api/v1/leads/{}/"),
        ("post", "/api/v1/leads/{}/attempts/"),
        ("post", "/api/v1/leads/{}/assign/"),
        ("post", "/api/v1/leads/{}/reject/"),
        ("get", "/api/v1/sla/breaches/{}/"),
        ("post", "/api/v1/sla/breaches/{}/acknowledge/"),
        ("post", "/api/v1/sla/breaches/{}/resolve/"),
    ],
)
def test_a_bad_id_in_the_path_is_a_404(world, head, method, path, value):
    before = state()
    response = getattr(api_as(head), method)(path.format(value), {}, format="json")
    assert response.status_code == 404, response.content[:300]
    assert state() == before


# --- the API's bodies ----------------------------------------------------------------------------------


BODIES = [
    ("attempts", {"channel": "call", "outcome": "busy", "duration_seconds": 10**30}, "duration_seconds"),
    ("attempts", {"channel": "call", "outcome": "busy", "callback_at": "9999-12-31T23:59:59"}, "callback_at"),
    ("attempts", {"channel": "call", "outcome": "busy", "callback_at": "0001-01-01T00:00:00"}, "callback_at"),
    ("assign", {"owner": "99999999999999999999"}, "owner"),
    ("assign", {"owner": 99999999999999999999}, "owner"),
    ("assign", {"owner": "²"}, "owner"),
    ("assign", {"owner": 1.76e307}, "owner"),
    ("checklist", {"answers": {"99999999999999999999": "yes"}}, "answers"),
    ("checklist", {"answers": {"²": "yes"}}, "answers"),
    ("stage", {"stage": "meeting", "meeting_at": "9999-12-31T23:59:59Z"}, "meeting_at"),
    ("stage", {"stage": "meeting", "meeting_at": "0001-01-01T00:00:00"}, "meeting_at"),
    ("stage", {"stage": "deal", "amount": "1e400", "margin": "1"}, "amount"),
    ("nurture", {"reason": "later", "return_on": "9999-12-31"}, "return_on"),
    ("nurture", {"reason": "later", "return_on": "0001-01-01"}, "return_on"),
    ("reject", {"reason": "²"}, "reason"),
]


@pytest.mark.parametrize(
    "action,body,field", BODIES, ids=[f"{a}-{f}-{i}" for i, (a, _, f) in enumerate(BODIES)]
)
def test_lead_actions_refuse_bad_bodies_and_change_nothing(world, head, action, body, field):
    before = state()
    response = api_as(head).post(f"/api/v1/leads/{world['lead'].pk}/{action}/", body, format="json")
    assert_400_naming(response, field)
    assert state() == before


@pytest.mark.parametrize(
    "body,field", [({"segment": 99999999999999999999}, "segment"), ({"segment": "²"}, "segment")]
)
def test_patch_refuses_bad_ids(world, head, body, field):
    before = state()
    assert_400_naming(api_as(head).patch(f"/api/v1/leads/{world['lead'].pk}/", body, format="json"), field)
    assert state() == before


def deep(levels: int) -> str:
    return '{"extra": ' + "[" * levels + "]" * levels + ', "phone": "+79161234567", "consent": true}'


@pytest.mark.parametrize("levels", [100, 2_000, 50_000])
@pytest.mark.parametrize(
    "path", ["/api/v1/leads/{}/attempts/", "/api/v1/leads/{}/checklist/", "/api/v1/leads/{}/"]
)
def test_deeply_nested_json_is_a_400_on_every_endpoint(world, head, path, levels):
    before = state()
    client = api_as(head)
    method = client.patch if path.endswith("}/") else client.post
    response = method(path.format(world["lead"].pk), deep(levels), content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert "detail" in response.json()
    assert state() == before


@pytest.mark.parametrize("levels", [100, 2_000, 20_000])  # 20,000 levels: 40 kB, under the 64 kB cap
def test_deeply_nested_json_to_intake_is_a_400(world, levels):
    source = SourceFactory(code="deep")
    key = create_key(source)[1]
    before = state()
    response = APIClient().post(
        "/api/v1/intake/", deep(levels), content_type="application/json", HTTP_X_INTAKE_KEY=key
    )
    assert response.status_code == 400, response.content[:300]
    assert "detail" in response.json()
    assert state() == before


@pytest.mark.parametrize("levels", [100, 2_000, 20_000])
def test_deeply_nested_json_to_a_site_form_is_a_400(world, levels):
    form = SiteForm.objects.create(
        public_id="f-deep", source=SourceFactory(code="seo"), name="Deep", allowed_origins="https://a.example"
    )
    before = state()
    response = Client().post(
        f"/forms/{form.public_id}/submit/",
        deep(levels),
        content_type="application/json",
        HTTP_ORIGIN="https://a.example",
    )
    assert response.status_code == 400, response.content[:300]
    assert "detail" in response.json()
    assert state() == before


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xfe",
        b'{"phone": "+79161234567", "consent": true, "extra": {"a": "\\u0000"}}',
        b'{"phone": "+79161234567", "consent": true, "extra": {"\\u0000": 1}}',
        b'{"phone": "+79161234567", "consent": true, "extra": {"a": 1e99999}}',
        b'{"a": 1e99999}',
        b'{"a": ' + b"1" * 5000 + b"}",
        b"[1, 2]",
        b'"text"',
        b"NaN",
    ],
)
def test_odd_json_to_intake_never_fails(world, raw):
    key = create_key(SourceFactory(code="odd"))[1]
    response = APIClient().post(
        "/api/v1/intake/", raw, content_type="application/json", HTTP_X_INTAKE_KEY=key
    )
    assert response.status_code == 400, response.content[:300]


# --- the HTML pages' parameters -----------------------------------------------------------------------------
# A page may refuse a bad value (400) or ignore it; it never fails.

PAGE_PARAMS = [
    (
        "rep",
        "/queue/",
        ["page", "order", "since", "stage", "source", "product", "sla_state", "search", "partial"],
    ),
    ("rep", "/queue/work/", ["after"]),
    ("rep", "/leads/{lead}/", ["work"]),
    ("head", "/leads/", ["page", *LEAD_ID_FILTERS, *DATE_FILTERS, "stage", "status", "sla_state", "search"]),
    ("head", "/team/", ["team"]),
    ("admin", "/team/", ["team"]),
    ("head", "/sla/breaches/", ["page", *BREACH_ID_FILTERS, *DATE_FILTERS, "timer_kind", "acknowledged"]),
    ("head", "/notifications/", ["page"]),
    ("head", "/notifications/badge/", ["page"]),
]
# One of each kind, to keep the walk over every page's parameters quick.
HOSTILE = ["²", "99999999999999999999", "-1", "1.76e+307", "9999-12-31", "0001-01-01", "1\x00", "x" * 3000]


@pytest.mark.parametrize(
    "who,path,params", PAGE_PARAMS, ids=[f"{who}-{path}" for who, path, _ in PAGE_PARAMS]
)
def test_pages_never_fail_on_hostile_parameters(request, world, who, path, params):
    user = request.getfixturevalue("admin_user" if who == "admin" else who)
    client = page_as(user)
    url = path.format(lead=world["lead"].pk)
    if client.get(url).status_code == 404 and "{" not in path:
        pytest.skip(f"{path} is not a page of this build")
    failures = []
    for name in params:
        for value in HOSTILE:
            response = client.get(url, {name: value}, HTTP_HX_REQUEST="true" if name == "partial" else "")
            if response.status_code >= 500 or response.status_code not in (200, 302, 400):
                failures.append((name, value, response.status_code))
    assert failures == []


@pytest.mark.parametrize("value", NOT_AN_ID)
def test_marking_notifications_read_with_bad_ids_is_a_400_and_reads_nothing(world, head, value):
    Notification.objects.create(
        recipient=head, channel="in_app", kind="sla_breach", dedupe_key="n1", lead=world["lead"]
    )
    before = state()
    response = page_as(head).post("/notifications/read/", {"id": value})
    assert response.status_code == 400
    assert state() == before


@pytest.mark.parametrize("value", ["²", "99999999999999999999", "abc"])
def test_presence_and_breach_actions_with_bad_values_never_fail(world, head, value):
    client = page_as(head)
    assert client.post("/team/presence/1/", {"what": value}).status_code in (400, 404)
    assert client.post(f"/sla/breaches/{world['breach'].pk}/acknowledge/", {"next": value}).status_code == 302
    assert client.post(f"/leads/{world['lead'].pk}/do/assign/", {"owner": value}).status_code == 302
    assert (
        client.post(f"/leads/{world['lead'].pk}/do/save/", {f"criterion_{value}": "yes"}).status_code == 400
    )
    json.dumps(value)  # keep the value printable in the failure message


@pytest.mark.parametrize("value", ["99999999999999999999", "9223372036854775808"])
@pytest.mark.parametrize(
    "method,path",
    [
        ("get", "/leads/{}/"),
        ("post", "/leads/{}/merge/"),
        ("post", "/leads/{}/do/save/"),
        ("post", "/leads/{}/do/save/"),
        ("post", "/leads/{}/do/undo/"),
        ("post", "/team/presence/{}/"),
        ("post", "/sla/breaches/{}/acknowledge/"),
        ("get", "/leads/import/{}/"),
        ("post", "/leads/import/{}/confirm/"),
        ("get", "/leads/import/{}/progress/"),
    ],
)
def test_pages_answer_404_for_ids_beyond_64_bits(world, head, method, path, value):
    before = state()
    assert getattr(page_as(head), method)(path.format(value)).status_code == 404
    assert state() == before
