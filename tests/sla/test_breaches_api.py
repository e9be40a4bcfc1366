"""GET /api/v1/sla/breaches/ and POST …/{id}/acknowledge/ and …/resolve/: who sees
which breach, the filters, and who may act on them.

The breaches (all recorded on Tuesday 2026-02-10, the clock frozen on Wednesday
2026-02-11 12:00 Moscow time):
  rep_first       — the rep's lead, first contact missed by the rep          (team A)
  teammate_call   — the teammate's lead, a missed callback                   (team A)
  queue           — a team A lead nobody could take: the system's delay       (team A)
  other           — the other rep's lead                                     (team B)

Who sees what: a rep their own; a head the team's; the other head none of team A's;
marketing, the CEO and the admin all. Heads (of the breach's team) and admins
acknowledge and resolve; the rest may not.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sla.models import Breach, DelayOwner, SlaPolicy, SlaTimer, TimerKind, TimerState
from tests.factories import LeadFactory, SourceFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/sla/breaches/"
MOSCOW = ZoneInfo("Europe/Moscow")
NOW = dt.datetime(2026, 2, 11, 12, 0, tzinfo=MOSCOW)


def msk(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=MOSCOW)


@pytest.fixture(autouse=True)
def clock(db):
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def make_breach(lead, *, at, kind=TimerKind.FIRST_CONTACT, owner=None, delay_owner=DelayOwner.REP):
    timer = SlaTimer.objects.create(
        lead=lead,
        kind=kind,
        policy=SlaPolicy.objects.get(is_default=True),
        state=TimerState.BREACHED,
        started_at=at - dt.timedelta(minutes=15),
        budget_seconds=900,
        due_at=at,
        breached_at=at,
    )
    return Breach.objects.create(
        timer=timer,
        kind=kind,
        lead=lead,
        owner=owner,
        team=lead.team,
        source=lead.source,
        delay_owner=delay_owner,
        due_at=at,
        created_at=at,
    )


@pytest.fixture
def person(request):
    """person("head") → that persona of tests/conftest.py, made only when a test asks."""
    return lambda who: request.getfixturevalue("admin_user" if who == "admin" else who)


@pytest.fixture
def sources():
    return {"site": SourceFactory(code="site"), "calls": SourceFactory(code="calls")}


@pytest.fixture
def breaches(rep, teammate, other_rep, team_a, sources):
    return {
        "rep_first": make_breach(
            LeadFactory(owner=rep, source=sources["site"]), owner=rep, at=msk(2026, 2, 10, 10, 15)
        ),
        "teammate_call": make_breach(
            LeadFactory(owner=teammate, source=sources["calls"]),
            owner=teammate,
            kind=TimerKind.CALLBACK,
            at=msk(2026, 2, 10, 16, 0),
        ),
        "queue": make_breach(
            LeadFactory(team=team_a, source=sources["site"]),
            delay_owner=DelayOwner.SYSTEM,
            at=msk(2026, 2, 10, 23, 30),  # 20:30 UTC, still the 10th in Moscow
        ),
        "other": make_breach(
            LeadFactory(owner=other_rep, source=sources["site"]), owner=other_rep, at=msk(2026, 2, 10, 9, 15)
        ),
    }


ALL = {"rep_first", "teammate_call", "queue", "other"}
VISIBILITY = {
    "rep": {"rep_first"},
    "teammate": {"teammate_call"},
    "other_rep": {"other"},
    "head": {"rep_first", "teammate_call", "queue"},
    "other_head": {"other"},
    "marketer": ALL,
    "marketing_head": ALL,
    "ceo": ALL,
    "admin": ALL,
}


def names(response, breaches) -> set[str]:
    assert response.status_code == 200, response.content
    by_id = {b.pk: name for name, b in breaches.items()}
    return {by_id[row["id"]] for row in response.json()["results"]}


# --- who sees what ----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", VISIBILITY)
def test_each_role_lists_and_opens_only_the_breaches_it_may_see(api, people, breaches, who):
    api.force_authenticate(people[who])

    assert names(api.get(URL), breaches) == VISIBILITY[who]
    for name, breach in breaches.items():
        assert api.get(f"{URL}{breach.pk}/").status_code == (200 if name in VISIBILITY[who] else 404), name


def test_anonymous_callers_are_refused(api, breaches):
    assert api.get(URL).status_code in (401, 403)


def test_a_breach_shows_the_public_fields(api, person, breaches):
    api.force_authenticate(person("head"))
    breach = breaches["rep_first"]

    row = api.get(f"{URL}{breach.pk}/").json()

    assert row["id"] == breach.pk
    assert row["lead"] == breach.lead_id
    assert row["timer_kind"] == "first_contact"
    assert row["owner"] == person("rep").pk
    assert row["team"] == person("rep").team_id
    assert row["source"] == breach.source_id
    assert row["delay_owner"] == "rep"
    assert dt.datetime.fromisoformat(row["due_at"]) == msk(2026, 2, 10, 10, 15)
    assert dt.datetime.fromisoformat(row["breached_at"]) == msk(2026, 2, 10, 10, 15)
    assert row["acknowledged_at"] is None and row["resolved_at"] is None


def test_the_list_costs_the_same_number_of_queries_whatever_its_length(api, person, breaches):
    api.force_authenticate(person("ceo"))
    with CaptureQueriesContext(connection) as few:
        assert api.get(URL).status_code == 200
    for _ in range(6):
        make_breach(LeadFactory(owner=person("rep")), owner=person("rep"), at=msk(2026, 2, 10, 11, 0))

    with CaptureQueriesContext(connection) as many:
        assert len(api.get(URL).json()["results"]) == 10

    assert len(many) == len(few)


# --- filters ----------------------------------------------------------------------------------------


def filtered(api, person, breaches, **params):
    api.force_authenticate(person("admin"))
    return names(api.get(URL, params), breaches)


def test_it_filters_by_team(api, person, breaches, team_a, team_b):
    assert filtered(api, person, breaches, team=team_a.pk) == {"rep_first", "teammate_call", "queue"}
    assert filtered(api, person, breaches, team=team_b.pk) == {"other"}


def test_it_filters_by_the_owner_at_the_deadline(api, person, breaches):
    assert filtered(api, person, breaches, owner=person("rep").pk) == {"rep_first"}
    assert filtered(api, person, breaches, owner=person("head").pk) == set()


def test_it_filters_by_source(api, person, breaches, sources):
    assert filtered(api, person, breaches, source=sources["calls"].pk) == {"teammate_call"}
    assert filtered(api, person, breaches, source=sources["site"].pk) == {"rep_first", "queue", "other"}


def test_it_filters_by_timer_kind(api, person, breaches):
    assert filtered(api, person, breaches, timer_kind="callback") == {"teammate_call"}
    assert filtered(api, person, breaches, timer_kind="first_contact") == {"rep_first", "queue", "other"}


def test_it_filters_by_whose_delay_it_was(api, person, breaches):
    assert filtered(api, person, breaches, delay_owner="system") == {"queue"}
    assert filtered(api, person, breaches, delay_owner="rep") == {"rep_first", "teammate_call", "other"}


def test_it_filters_by_acknowledgement(api, person, breaches):
    Breach.objects.filter(pk=breaches["queue"].pk).update(acknowledged_at=NOW, acknowledged_by=person("head"))

    assert filtered(api, person, breaches, acknowledged="true") == {"queue"}
    assert filtered(api, person, breaches, acknowledged="false") == {"rep_first", "teammate_call", "other"}


def test_it_filters_by_the_day_of_the_breach_in_the_company_time_zone(api, person, breaches):
    # The "queue" breach happened at 23:30 on the 10th in Moscow (20:30 UTC).
    make_breach(LeadFactory(owner=person("rep")), owner=person("rep"), at=msk(2026, 2, 11, 0, 30))
    breaches["late"] = Breach.objects.latest("created_at")

    assert filtered(api, person, breaches, created_after="2026-02-11") == {"late"}
    assert filtered(api, person, breaches, created_before="2026-02-10") == ALL
    assert filtered(api, person, breaches, created_after="2026-02-10", created_before="2026-02-10") == ALL
    assert filtered(api, person, breaches, created_before="2026-02-09") == set()


def test_filters_combine_with_visibility(api, person, breaches, team_b):
    api.force_authenticate(person("head"))

    assert names(api.get(URL, {"team": team_b.pk}), breaches) == set()


@pytest.mark.parametrize("name", ["team", "owner", "source"])
def test_unknown_ids_give_an_empty_list_so_nothing_can_be_probed(api, admin_user, breaches, name):
    api.force_authenticate(admin_user)
    response = api.get(URL, {name: 999999})
    assert response.status_code == 200 and response.json()["results"] == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("team", "abc"),
        ("owner", "abc"),
        ("source", "1.5x"),
        ("timer_kind", "reminder"),
        ("delay_owner", "nobody"),
        ("created_after", "2026-13-01"),
        ("created_before", "yesterday"),
        ("acknowledged", "maybe"),
    ],
)
def test_bad_filter_values_are_refused_with_a_message(api, admin_user, name, value):
    api.force_authenticate(admin_user)

    response = api.get(URL, {name: value})

    assert response.status_code == 400, (name, value, response.status_code)
    assert name in response.json()


def test_the_schema_lists_the_breach_filters_and_actions(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    params = {p["name"] for p in schema["paths"][URL]["get"]["parameters"]}
    assert {
        "team",
        "owner",
        "source",
        "timer_kind",
        "delay_owner",
        "acknowledged",
        "created_after",
        "created_before",
    } <= params
    assert "post" in schema["paths"][URL + "{id}/acknowledge/"]
    assert "post" in schema["paths"][URL + "{id}/resolve/"]


# --- acknowledge and resolve ------------------------------------------------------------------------


def act(api, user, breach, what, data=None):
    api.force_authenticate(user)
    return api.post(f"{URL}{breach.pk}/{what}/", data or {}, format="json")


def test_the_head_acknowledges_a_breach_of_the_team(api, person, breaches):
    breach = breaches["rep_first"]

    response = act(api, person("head"), breach, "acknowledge", {"comment": "calling now"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert dt.datetime.fromisoformat(body["acknowledged_at"]) == NOW
    assert body["acknowledged_by"] == person("head").pk
    assert body["resolved_at"] is None
    breach.refresh_from_db()
    assert (breach.acknowledged_at, breach.acknowledged_by) == (NOW, person("head"))
    assert breach.resolved_at is None
    assert "calling now" in breach.comment


def test_a_second_acknowledgement_is_a_conflict(api, person, breaches, clock):
    breach = breaches["rep_first"]
    act(api, person("head"), breach, "acknowledge")
    clock.shift(dt.timedelta(minutes=5))

    response = act(api, person("admin"), breach, "acknowledge")

    assert response.status_code == 409
    breach.refresh_from_db()
    assert (breach.acknowledged_at, breach.acknowledged_by) == (NOW, person("head"))


def test_resolving_also_acknowledges(api, person, breaches):
    breach = breaches["queue"]

    response = act(api, person("head"), breach, "resolve", {"comment": "gave it to rep"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert dt.datetime.fromisoformat(body["resolved_at"]) == NOW
    assert body["resolved_by"] == person("head").pk
    assert dt.datetime.fromisoformat(body["acknowledged_at"]) == NOW
    assert body["acknowledged_by"] == person("head").pk
    breach.refresh_from_db()
    assert (breach.resolved_at, breach.resolved_by) == (NOW, person("head"))
    assert (breach.acknowledged_at, breach.acknowledged_by) == (NOW, person("head"))
    assert "gave it to rep" in breach.comment


def test_resolving_keeps_an_earlier_acknowledgement(api, person, breaches, clock):
    breach = breaches["rep_first"]
    act(api, person("head"), breach, "acknowledge", {"comment": "on it"})
    clock.shift(dt.timedelta(minutes=30))

    response = act(api, person("admin"), breach, "resolve", {"comment": "done"})

    assert response.status_code == 200
    breach.refresh_from_db()
    assert (breach.acknowledged_at, breach.acknowledged_by) == (NOW, person("head"))
    assert (breach.resolved_at, breach.resolved_by) == (NOW + dt.timedelta(minutes=30), person("admin"))
    assert "on it" in breach.comment and "done" in breach.comment
    assert act(api, person("head"), breach, "resolve").status_code == 409


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("rep", 403),  # sees own breach, may not act on it
        ("teammate", 404),  # does not see the rep's breach
        ("other_head", 404),  # another team's breach is invisible
        ("marketer", 403),
        ("marketing_head", 403),
        ("ceo", 403),
        ("admin", 200),
        ("head", 200),
    ],
)
def test_only_heads_of_the_team_and_admins_may_act(api, person, breaches, who, status):
    for what, breach in [("acknowledge", breaches["rep_first"]), ("resolve", breaches["queue"])]:
        if who == "rep" and what == "resolve":
            breach = breaches["rep_first"]  # the rep's own, visible one

        response = act(api, person(who), breach, what)

        assert response.status_code == status, (what, response.content)
        breach.refresh_from_db()
        assert (breach.acknowledged_at is not None) == (status == 200), what


def test_a_comment_longer_than_the_limit_is_refused_and_changes_nothing(api, person, breaches):
    breach = breaches["rep_first"]

    response = act(api, person("head"), breach, "acknowledge", {"comment": "x" * 2001})

    assert response.status_code == 400
    assert "comment" in response.json()
    breach.refresh_from_db()
    assert breach.acknowledged_at is None and breach.comment == ""
    assert act(api, person("head"), breach, "acknowledge", {"comment": "x" * 2000}).status_code == 200


def test_an_unknown_field_is_refused(api, person, breaches):
    response = act(api, person("head"), breaches["rep_first"], "resolve", {"note": "typo for comment"})

    assert response.status_code == 400
    assert "note" in response.json()
    assert Breach.objects.get(pk=breaches["rep_first"].pk).resolved_at is None


def test_anonymous_callers_cannot_act(api, breaches):
    response = api.post(f"{URL}{breaches['rep_first'].pk}/acknowledge/", {}, format="json")

    assert response.status_code in (401, 403)
    assert Breach.objects.get(pk=breaches["rep_first"].pk).acknowledged_at is None
