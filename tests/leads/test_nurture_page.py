"""/nurture/ (issue #15): who is in nurture, why, since when, on which track and
step, when each comes back; filters; a marketer returns a lead by hand from the
list; the period's summary of returns per trigger, reason and track; who may
open it.

The clock stands on Wednesday 2026-03-11 12:00 in Moscow (the week ends at
Monday 2026-03-16 00:00).
"""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import RequestFactory
from django.utils import translation

from config.context_processors import navigation
from leads import actions
from leads.choices import ReturnTrigger, StepKind
from leads.models import Lead, NurtureReason, NurtureStep, NurtureTrack, TrackEnrollment
from leads.returns import return_from_nurture
from tests.factories import ContactFactory, LeadFactory, SourceFactory

pytestmark = pytest.mark.django_db

MSK = ZoneInfo("Europe/Moscow")
NOW = dt.datetime(2026, 3, 11, 12, 0, tzinfo=MSK)
URL = "/nurture/"


def msk(month, day, hour=12, minute=0):
    return dt.datetime(2026, month, day, hour, minute, tzinfo=MSK)


@pytest.fixture
def clock(db):
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def track(db):
    track = NurtureTrack.objects.create(name="Spring warm-up")
    NurtureStep.objects.create(
        track=track, position=1, kind=StepKind.EMAIL, subject="Hi", body="Hello {name}"
    )
    NurtureStep.objects.create(track=track, position=2, kind=StepKind.WAIT, wait_days=7)
    NurtureStep.objects.create(track=track, position=5, kind=StepKind.TASK, task_text="Call them")
    return track


def nurture(lead, actor, at, *, until=None, cause="", words="budget in April"):
    actions.send_to_nurture(Lead.objects.get(pk=lead.pk), actor, words, until, cause=cause, at=at)
    return Lead.objects.get(pk=lead.pk)


def enroll(lead, track, position, due_at):
    change = lead.stage_changes.filter(to_stage__code="nurture").order_by("-changed_at").first()
    return TrackEnrollment.objects.create(
        lead=lead,
        track=track,
        nurture_change=change,
        step=track.steps.get(position=position),
        due_at=due_at,
        started_at=change.changed_at,
    )


@pytest.fixture
def world(clock, rep, other_rep, track):
    ads, seo = SourceFactory(name="Yandex ads"), SourceFactory(name="SEO")
    budget = NurtureReason.objects.exclude(code="other").order_by("position").first()
    # Ours: on the track at step 2 (the wait), back on Friday (this week).
    ours = LeadFactory(
        owner=rep,
        team=rep.team,
        source=ads,
        created_at=msk(3, 2),
        contact=ContactFactory(name="Anna Petrova", company="Vector LLC"),
    )
    ours = nurture(ours, rep, msk(3, 4), until=dt.date(2026, 3, 13), cause=budget.code)
    enroll(ours, track, 2, msk(3, 12, 10))
    # Another team's: no date, no track, the listed reason "other" with the rep's words.
    theirs = LeadFactory(
        owner=other_rep,
        team=other_rep.team,
        source=seo,
        created_at=msk(3, 3),
        contact=ContactFactory(name="Boris Orlov", company="Orion JSC"),
    )
    theirs = nurture(theirs, other_rep, msk(3, 5), words="call after the tender")
    # Back next month.
    later = LeadFactory(owner=rep, team=rep.team, source=seo, created_at=msk(3, 6))
    later = nurture(later, rep, msk(3, 9), until=dt.date(2026, 4, 20))
    # An open lead is not on the page.
    LeadFactory(owner=rep, team=rep.team, source=ads, created_at=msk(3, 6))
    return {"ours": ours, "theirs": theirs, "later": later, "ads": ads, "seo": seo, "budget": budget}


def page(client, user, params=None, status=200):
    client.force_login(user)
    response = client.get(URL, params or {}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == status, response.status_code
    return response


def listed(response) -> set:
    return {row["lead"].pk for row in response.context["rows"]}


# --- what the page says ------------------------------------------------------------------------


def test_the_list_tells_why_since_when_which_track_and_when_back(client, world, marketer, track):
    response = page(client, marketer)
    text = response.content.decode()
    ours, theirs, later = world["ours"], world["theirs"], world["later"]
    # Soonest back first; no date last.
    assert [row["lead"].pk for row in response.context["rows"]] == [ours.pk, later.pk, theirs.pk]
    assert f'href="/leads/{ours.pk}/"' in text and "Anna Petrova" in text and "Vector LLC" in text
    assert world["budget"].name_en in text and "budget in April" in text
    assert "call after the tender" in text
    row = response.context["rows"][0]
    assert row["lead"].nurtured_at == msk(3, 4)
    assert row["enrollment"].track == track
    assert row["step"] == "step 2 of 3: Wait"
    assert "Spring warm-up" in text
    assert row["returns"] == "in 2 days"  # Friday 13th, from Wednesday
    assert response.context["rows"][2]["returns"] == "no date"
    assert "no track" in text


def test_returns_in_words():
    from leads.nurture_page import returns_in_words

    now = NOW
    with translation.override("en"):  # not whatever language the tests before it left
        assert returns_in_words(None, now) == "no date"
        assert returns_in_words(now - dt.timedelta(minutes=1), now) == "due now"
        assert returns_in_words(now + dt.timedelta(hours=2), now) == "today"
        assert returns_in_words(msk(3, 12, 9), now) == "tomorrow"
        assert returns_in_words(msk(3, 20, 9), now) == "in 9 days"


def test_the_page_reads_in_russian(client, world, marketer):
    client.force_login(marketer)
    text = client.get(URL, HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "На догреве" in text and "Вернуть в продажи" in text and "через 2 дня" in text


# --- filters ----------------------------------------------------------------------------------


def test_filters(client, world, marketer, rep, track):
    ours, theirs, later = world["ours"], world["theirs"], world["later"]
    assert listed(page(client, marketer, {"reason": world["budget"].code})) == {ours.pk}
    assert listed(page(client, marketer, {"reason": "other"})) == {theirs.pk, later.pk}
    assert listed(page(client, marketer, {"track": track.pk})) == {ours.pk}
    assert listed(page(client, marketer, {"source": world["seo"].pk})) == {theirs.pk, later.pk}
    assert listed(page(client, marketer, {"owner": rep.pk})) == {ours.pk, later.pk}
    assert listed(page(client, marketer, {"owner": "none"})) == set()
    assert listed(page(client, marketer, {"this_week": "on"})) == {ours.pk}
    assert listed(page(client, marketer, {"this_week": "on", "source": world["seo"].pk})) == set()


@pytest.mark.parametrize(
    "params",
    [
        {"reason": "no-such-reason"},
        {"track": "abc"},
        {"track": "99999999999999999999999"},
        {"source": "-1"},
        {"owner": "someone"},
        {"date_from": "2026-13-45"},
        {"date_from": "2026-03-10", "date_to": "2026-03-01"},
        {"page": "x"},
    ],
)
def test_bad_filter_input_is_said_and_breaks_nothing(client, world, marketer, params):
    status = 200 if params == {"page": "x"} else 400
    response = page(client, marketer, params, status=status)
    if status == 400:
        assert 'role="alert"' in response.content.decode()


# --- who may open it ----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["marketer", "marketing_head", "ceo", "admin"])
def test_marketing_executives_and_admins_read_every_nurtured_lead(client, world, people, who):
    assert listed(page(client, people[who])) == {world["ours"].pk, world["theirs"].pk, world["later"].pk}


def test_a_head_reads_only_the_team_and_cannot_return(client, world, head, other_head):
    response = page(client, head)
    assert listed(response) == {world["ours"].pk, world["later"].pk}  # not another team's
    assert "Return to sales" not in response.content.decode()
    assert listed(page(client, other_head)) == {world["theirs"].pk}
    # Filtering by another team's person shows nothing of theirs.
    assert listed(page(client, head, {"source": world["seo"].pk})) == {world["later"].pk}
    response = client.post(f"/leads/{world['theirs'].pk}/do/return/", {"next": URL})
    assert response.status_code == 404  # another team's lead: not theirs to see
    response = client.post(f"/leads/{world['ours'].pk}/do/return/", {"next": URL})
    assert response.status_code == 403  # theirs to see, not to return
    assert Lead.objects.get(pk=world["ours"].pk).stage.code == "nurture"


def test_reps_are_refused_and_strangers_sent_to_sign_in(client, world, rep):
    page(client, rep, status=403)
    client.logout()
    response = client.get(URL)
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize(
    ("who", "offered"), [("rep", False), ("head", True), ("marketer", True), ("ceo", True)]
)
def test_the_menu_offers_the_page(people, who, offered):
    request = RequestFactory().get("/")
    request.user = people[who]
    assert (URL in [url for _label, url in navigation(request)["nav_items"]]) is offered


# --- returning a lead by hand from the list -------------------------------------------------------


def test_a_marketer_returns_a_lead_from_the_list_and_comes_back_to_it(client, world, marketer):
    ours = world["ours"]
    back_to = f"{URL}?source={world['ads'].pk}"
    text = page(client, marketer, {"source": world["ads"].pk}).content.decode()
    assert f'action="/leads/{ours.pk}/do/return/"' in text and "csrfmiddlewaretoken" in text

    response = client.post(f"/leads/{ours.pk}/do/return/", {"next": back_to})

    assert response.status_code == 302 and response["Location"] == back_to
    lead = Lead.objects.get(pk=ours.pk)
    assert lead.stage.code != "nurture" and lead.returned_at == NOW
    assert lead.nurture_returns.get(state="done").trigger == ReturnTrigger.HAND
    assert ours.pk not in listed(page(client, marketer))


def test_a_return_never_redirects_off_site(client, world, marketer):
    client.force_login(marketer)
    response = client.post(f"/leads/{world['ours'].pk}/do/return/", {"next": "//evil.example/x"})
    assert response.status_code == 302 and response["Location"] == f"/leads/{world['ours'].pk}/"


def test_the_return_needs_the_csrf_token(world, marketer):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(marketer)
    response = csrf_client.post(f"/leads/{world['ours'].pk}/do/return/", {"next": URL})
    assert response.status_code == 403
    assert Lead.objects.get(pk=world["ours"].pk).stage.code == "nurture"


# --- the period's summary --------------------------------------------------------------------------


def test_the_summary_counts_returns_per_trigger_reason_and_track(client, world, marketer, rep, clock, track):
    ours, theirs, later = world["ours"], world["theirs"], world["later"]
    # Friday: `ours` comes back on its date (the sweep), goes to a meeting, then wins.
    from leads.returns import return_due

    clock.move_to(msk(3, 13, 9))
    assert return_due(msk(3, 13, 9)) == 1
    clock.move_to(msk(3, 16))
    actions.move_stage(Lead.objects.get(pk=ours.pk), rep, "meeting", meeting_at=msk(3, 18), at=msk(3, 16))
    actions.move_stage(Lead.objects.get(pk=ours.pk), rep, "deal", amount=100000, margin=30000, at=msk(3, 20))
    # `theirs` comes back by hand; `later` after a new request, then is sent back and returns again.
    return_from_nurture(Lead.objects.get(pk=theirs.pk), ReturnTrigger.HAND, marketer, at=msk(3, 17))
    return_from_nurture(Lead.objects.get(pk=later.pk), ReturnTrigger.REQUEST, at=msk(3, 18))
    nurture(later, rep, msk(3, 19))
    return_from_nurture(Lead.objects.get(pk=later.pk), ReturnTrigger.HAND, marketer, at=msk(3, 23))
    clock.move_to(msk(3, 25))

    stats = page(client, marketer, {"date_from": "2026-03-01", "date_to": "2026-03-31"}).context["stats"]

    assert dict(stats["triggers"]) == {"Return date": 1, "New request": 1, "By hand": 2}
    by_reason = {
        row["label"]: (row["returned"], row["returned_sql"], row["returned_won"])
        for row in stats["by_reason"]
    }
    other = NurtureReason.objects.get(code="other").name_en
    assert by_reason == {world["budget"].name_en: (1, 1, 1), other: (2, 0, 0)}
    by_track = {
        row["label"]: (row["returned"], row["returned_sql"], row["returned_won"]) for row in stats["by_track"]
    }
    assert by_track == {"Spring warm-up": (1, 1, 1), "no track": (2, 0, 0)}
    assert stats["total"] == {"returned": 3, "returned_sql": 1, "returned_won": 1}

    # The same leads as the funnel's events-mode `returned`, through its drill-down.
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(marketer)
    answer = api.get("/api/v1/leads/", dict(pair.split("=") for pair in stats["period_link"].split("&")))
    assert answer.json()["count"] == 3
    funnel = api.get(
        "/api/v1/reports/funnel/", {"date_from": "2026-03-01", "date_to": "2026-03-31", "mode": "events"}
    ).json()["total"]
    assert (funnel["returned"], funnel["returned_won"]) == (3, 1)

    # Another period: nothing; a head sees the team's returns only.
    stats = page(client, marketer, {"date_from": "2026-02-01", "date_to": "2026-02-28"}).context["stats"]
    assert stats["total"] == {"returned": 0, "returned_sql": 0, "returned_won": 0}


def test_a_heads_summary_is_the_teams(client, world, head, marketer, clock):
    return_from_nurture(
        Lead.objects.get(pk=world["theirs"].pk), ReturnTrigger.HAND, marketer, at=msk(3, 11, 11)
    )
    stats = page(client, head).context["stats"]
    assert stats["total"]["returned"] == 0 and dict(stats["triggers"])["By hand"] == 0


# --- queries ------------------------------------------------------------------------------------


def test_constant_queries_whatever_the_rows(
    client, world, marketer, rep, track, django_assert_max_num_queries
):
    client.force_login(marketer)
    with django_assert_max_num_queries(40) as one:
        client.get(URL, {"track": track.pk})
    for i in range(12):
        lead = LeadFactory(owner=rep, team=rep.team, created_at=msk(3, 1) + dt.timedelta(hours=i))
        lead = nurture(lead, rep, msk(3, 2), until=dt.date(2026, 3, 20), cause=world["budget"].code)
        enroll(lead, track, 1 if i % 2 else 5, msk(3, 12))
        if i % 3 == 0:
            return_from_nurture(Lead.objects.get(pk=lead.pk), ReturnTrigger.HAND, marketer, at=msk(3, 10))
            TrackEnrollment.objects.filter(lead=lead, state="active").update(
                state="stopped", ended_at=msk(3, 10)
            )
            lead = nurture(lead, rep, msk(3, 10, 13), until=dt.date(2026, 3, 20))
            enroll(lead, track, 2, msk(3, 12))
    with django_assert_max_num_queries(len(one.captured_queries)) as many:
        response = client.get(URL, {"track": track.pk})
    assert len(response.context["rows"]) == 13
    assert len(many.captured_queries) == len(one.captured_queries)


# --- back from nurture elsewhere: the API, the rep's queue, manual entry ---------------------------


def test_the_api_and_the_queue_mark_a_lead_back_from_nurture(client, api, world, marketer, rep):
    ours = world["ours"]
    api.force_authenticate(rep)
    assert api.get(f"/api/v1/leads/{ours.pk}/").json()["returned_at"] is None
    return_from_nurture(Lead.objects.get(pk=ours.pk), ReturnTrigger.HAND, marketer, at=NOW)
    assert api.get(f"/api/v1/leads/{ours.pk}/").json()["returned_at"] == "2026-03-11T12:00:00+03:00"
    listed_leads = api.get("/api/v1/leads/", {"status": "open"}).json()["results"]
    assert {row["id"]: row["returned_at"] for row in listed_leads}[ours.pk] is not None
    client.force_login(rep)
    queue = client.get("/queue/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Back from nurture" in queue


def test_manual_entry_says_the_person_is_in_nurture_and_saving_brings_them_back(
    client, world, rep, other_rep
):
    ours = world["ours"]
    Lead.objects.filter(pk=ours.pk).update(owner=rep)
    phone = ours.contact.phone
    client.force_login(rep)
    form = client.get("/leads/new/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'hx-get="/leads/new/nurture-check/"' in form and 'id="nurture-notice"' in form

    notice = client.get("/leads/new/nurture-check/", {"phone": phone}, HTTP_ACCEPT_LANGUAGE="en")
    text = notice.content.decode()
    assert notice.status_code == 200 and f"lead #{ours.pk}" in text and "Saving brings it back" in text
    assert client.get("/leads/new/nurture-check/", {"phone": "+79990000000"}).content.strip() == b""
    assert client.get("/leads/new/nurture-check/", {"phone": "not a phone", "email": "@"}).status_code == 200

    # Someone else's nurtured person: the check says nothing (no way to probe
    # numbers for whose people are in nurture); saving still de-duplicates.
    theirs = world["theirs"]
    answer = client.get(
        "/leads/new/nurture-check/",
        {"email": theirs.contact.email or "", "phone": theirs.contact.phone},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert answer.status_code == 200 and answer.content.strip() == b""

    response = client.post(
        "/leads/new/",
        {"name": "Anna", "phone": phone, "source": world["ads"].pk, "consent": "on"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 302 and response.url == f"/leads/{ours.pk}/"
    from django.contrib.messages import get_messages

    said = [str(m) for m in get_messages(response.wsgi_request)]
    assert said == [f"Lead #{ours.pk} was in nurture; this request brought it back to the sales queue."]
    lead = Lead.objects.get(pk=ours.pk)
    assert lead.stage.code != "nurture" and lead.nurture_returns.get(state="done").trigger == "request"


@pytest.mark.parametrize("who", ["marketer", "ceo"])
def test_the_check_is_for_people_who_enter_leads(client, people, who):
    client.force_login(people[who])
    assert client.get("/leads/new/nurture-check/", {"phone": "+79161234567"}).status_code == 403
