"""The funnel's returns from nurture (issue #15): `returned`, `returned_sql`,
`returned_won` per group and in total, in both modes, each count's drill-down
listing exactly that many leads. The story is lived through with time travel
(company zone Europe/Moscow), through the real actions: nurture, the sweep's
return on a date, a new request at intake, a marketer's hand.

lead  arrived  source  story
A     Mar 2    S1      nurture Mar 3 until Mar 16 → the sweep returns it (date) Mar 16 09:00;
                       meeting Mar 17, deal Mar 20                 → returned, then SQL, then won
B     Mar 4    S1      nurture Mar 5, no date; new request Apr 6 (request); SQL Apr 7
C     Mar 6    S2      meeting Mar 7, nurture Mar 9; back by hand Mar 23 (to its meeting stage:
                       not a new SQL); nurture again Mar 25, back by hand Apr 10 (a second return)
D     Mar 10   S2      nurture Mar 11, still there                 → nurture now
E     Feb 20   S2      nurture Feb 21; back by hand Mar 5; meeting Mar 6 (outside March's cohort)
F     Mar 12   S2      nothing

Cohort March (looked at on Apr 30): leads A B C D F; returned A B C; returned_sql A B; won A.
Events March: returned A C E; returned_sql A E; returned_won A.
Events April: returned B (C's return of Apr 10 is its second); returned_sql B; returned_won none.
"""

import datetime as dt
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import translation
from rest_framework.test import APIClient

from leads import actions
from leads.choices import ReturnState, ReturnTrigger
from leads.intake_keys import create_key
from leads.models import Lead, LeadEvent, NurtureReturn
from leads.returns import return_due, return_from_nurture
from tests.factories import ContactFactory, LeadFactory, SourceFactory

pytestmark = pytest.mark.django_db

MSK = ZoneInfo("Europe/Moscow")
MARCH = {"date_from": "2026-03-01", "date_to": "2026-03-31"}
APRIL = {"date_from": "2026-04-01", "date_to": "2026-04-30"}
FIELDS = ("returned", "returned_sql", "returned_won")


def at(month, day, hour=12, minute=0):
    return dt.datetime(2026, month, day, hour, minute, tzinfo=MSK)


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def story(rep, marketer, admin_user):
    s1, s2 = SourceFactory(name="S1 ads"), SourceFactory(name="S2 seo")
    key = create_key(s1)[1]
    with time_machine.travel(at(2, 20), tick=False) as clock:

        def arrive(name, when, source, **extra):
            clock.move_to(when)
            lead = LeadFactory(created_at=when, source=source, owner=rep, team=rep.team, **extra)
            lead.name = name
            return lead

        def nurture(lead, when, until=None):
            clock.move_to(when)
            actions.send_to_nurture(lead, rep, "not now", until, at=when)

        def by_hand(lead, when):
            clock.move_to(when)
            return_from_nurture(Lead.objects.get(pk=lead.pk), ReturnTrigger.HAND, marketer, at=when)

        def move(lead, when, code, **details):
            clock.move_to(when)
            actions.move_stage(Lead.objects.get(pk=lead.pk), rep, code, at=when, **details)

        E = arrive("E", at(2, 20), s2)
        nurture(E, at(2, 21))
        A = arrive("A", at(3, 2), s1)
        nurture(A, at(3, 3), dt.date(2026, 3, 16))
        B = arrive("B", at(3, 4), s1, contact=ContactFactory(phone="+79161112233"))
        nurture(B, at(3, 5))
        by_hand(E, at(3, 5, 15))
        C = arrive("C", at(3, 6), s2)
        move(E, at(3, 6, 15), "meeting", meeting_at=at(3, 10))
        move(C, at(3, 7), "meeting", meeting_at=at(3, 12))
        nurture(C, at(3, 9))
        D = arrive("D", at(3, 10), s2)
        nurture(D, at(3, 11))
        F = arrive("F", at(3, 12), s2)
        clock.move_to(at(3, 16, 8, 59))
        assert return_due(clock_now()) == 0  # not yet: the working day starts at 09:00
        clock.move_to(at(3, 16, 9, 0))
        assert return_due(clock_now()) == 1
        move(A, at(3, 17), "meeting", meeting_at=at(3, 19))
        move(A, at(3, 20), "deal", amount=100000, margin=30000)
        by_hand(C, at(3, 23))
        nurture(C, at(3, 25))
        clock.move_to(at(4, 6))
        response = APIClient().post(
            "/api/v1/intake/",
            {"phone": "+7 916 111-22-33", "comment": "Ready now", "consent": True, "channel": "form"},
            format="json",
            HTTP_X_INTAKE_KEY=key,
        )
        assert response.status_code == 200 and response.json()["repeat"] is True, response.content
        assert response.json()["id"] == B.pk
        clock.move_to(at(4, 7))
        LeadEvent.objects.create(
            lead=B, kind=LeadEvent.Kind.QUALIFIED, created_at=at(4, 7), data={"from": "none", "to": "sql"}
        )
        Lead.objects.filter(pk=B.pk).update(qualification="sql")
        by_hand(C, at(4, 10))
        clock.move_to(at(4, 30))
        yield {"s1": s1, "s2": s2, "leads": {"A": A, "B": B, "C": C, "D": D, "E": E, "F": F}}


def clock_now():
    from django.utils import timezone

    return timezone.now()


def funnel(client, user, **params):
    client.force_authenticate(user)
    response = client.get("/api/v1/reports/funnel/", params)
    assert response.status_code == 200, response.content
    return response.json()


def listed(client, link) -> set:
    parts = urlsplit(link)
    assert parts.path == "/leads/"
    response = client.get("/api/v1/leads/", [*parse_qsl(parts.query), ("page_size", "200")])
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def figures(row):
    return tuple(row[f] for f in FIELDS)


def ids(story, *names):
    return {story["leads"][name].pk for name in names}


def test_the_story_wrote_the_returns_it_tells(story):
    rows = NurtureReturn.objects.filter(state=ReturnState.DONE)
    triggers = sorted(rows.values_list("trigger", flat=True))
    assert triggers == ["date", "hand", "hand", "hand", "request"]


def test_cohort_counts_per_source_and_total_with_their_drill_down(api, story, marketer):
    result = funnel(api, marketer, **MARCH, by="source")
    rows = {row["key"]: row for row in result["rows"]}
    s1, s2, total = rows[story["s1"].pk], rows[story["s2"].pk], result["total"]
    assert (s1["leads"], *figures(s1)) == (2, 2, 2, 1)
    assert (s2["leads"], s2["nurture"], *figures(s2)) == (3, 1, 1, 0, 0)
    assert (total["leads"], total["nurture"], total["won"], *figures(total)) == (5, 1, 1, 3, 2, 1)
    assert set(total["links"]) >= set(FIELDS)
    assert listed(api, total["links"]["returned"]) == ids(story, "A", "B", "C")
    assert listed(api, total["links"]["returned_sql"]) == ids(story, "A", "B")
    assert listed(api, total["links"]["returned_won"]) == ids(story, "A")
    for row in (s1, s2):
        for field in FIELDS:
            assert len(listed(api, row["links"][field])) == row[field], (row["label"], field)


def test_events_counts_what_happened_in_the_period(api, story, marketer):
    march = funnel(api, marketer, **MARCH, by="source", mode="events")["total"]
    april = funnel(api, marketer, **APRIL, by="source", mode="events")["total"]
    assert figures(march) == (3, 2, 1)
    assert listed(api, march["links"]["returned"]) == ids(story, "A", "C", "E")
    assert listed(api, march["links"]["returned_sql"]) == ids(story, "A", "E")
    assert listed(api, march["links"]["returned_won"]) == ids(story, "A")
    # C came back again on Apr 10: a lead counts at its first return only.
    assert figures(april) == (1, 1, 0)
    assert listed(api, april["links"]["returned"]) == ids(story, "B")
    assert listed(api, april["links"]["returned_sql"]) == ids(story, "B")


def test_events_by_month_groups_each_by_its_own_date(api, story, marketer):
    result = funnel(api, marketer, date_from="2026-03-01", date_to="2026-04-30", by="month", mode="events")
    rows = {row["key"]: row for row in result["rows"]}
    assert figures(rows["2026-03"]) == (3, 2, 1)
    assert figures(rows["2026-04"]) == (1, 1, 0)
    assert figures(result["total"]) == (4, 3, 1)
    for key, row in rows.items():
        for field in FIELDS:
            assert len(listed(api, row["links"][field])) == row[field], (key, field)


def test_cohort_by_month_and_a_rep_sees_own_leads(api, story, rep, other_rep):
    rows = funnel(api, rep, **MARCH, by="month")["rows"]
    assert [(row["key"], *figures(row)) for row in rows] == [("2026-03", 3, 2, 1)]
    # Another team's rep sees none of these leads.
    assert figures(funnel(api, other_rep, **MARCH, by="source")["total"]) == (0, 0, 0)


def test_a_return_then_sql_before_the_return_is_not_counted(api, story, marketer, rep):
    """C was at meeting before nurture and came back there: SQL before, not after."""
    c = story["leads"]["C"]
    assert Lead.objects.get(pk=c.pk).stage.code == "meeting"
    link = funnel(api, marketer, **MARCH, by="source")["total"]["links"]["returned_sql"]
    assert c.pk not in listed(api, link)


def test_the_page_and_exports_show_the_columns(client, story, marketer):
    client.force_login(marketer)
    page = client.get("/reports/funnel/", MARCH, HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Back from nurture" in text and "Back, then SQL" in text and "Back, then won" in text
    assert "step=returned_won" in text
    csv = client.get("/api/v1/reports/funnel/", {**MARCH, "format": "csv"}, HTTP_ACCEPT_LANGUAGE="en")
    assert csv.status_code == 200
    header = csv.content.decode("utf-8-sig").splitlines()[0]
    assert "Back from nurture" in header and "Back, then won" in header


def test_a_bad_step_is_a_400(api, story, marketer):
    api.force_authenticate(marketer)
    response = api.get("/api/v1/leads/", {"step": "returned_lost"})
    assert response.status_code == 400 and "step" in response.json()


@pytest.mark.parametrize("mode", ["cohort", "events"])
@pytest.mark.parametrize("by", ["source", "month"])
def test_constant_queries(api, story, marketer, rep, django_assert_max_num_queries, mode, by):
    api.force_authenticate(marketer)
    params = {"date_from": "2026-03-01", "date_to": "2026-04-30", "by": by, "mode": mode}
    with django_assert_max_num_queries(40) as small:
        api.get("/api/v1/reports/funnel/", params)
    source = story["s1"]
    for i in range(12):
        lead = LeadFactory(created_at=at(3, 1 + i), source=source, owner=rep, team=rep.team)
        actions.send_to_nurture(lead, rep, "later", at=at(3, 2 + i))
        return_from_nurture(Lead.objects.get(pk=lead.pk), ReturnTrigger.HAND, marketer, at=at(3, 3 + i))
    with django_assert_max_num_queries(len(small.captured_queries)) as large:
        response = api.get("/api/v1/reports/funnel/", params)
    assert response.json()["total"]["returned"] >= 12
    assert len(large.captured_queries) == len(small.captured_queries)
