"""The sales workspace in the browser (server side): who may open what, what
the actions do, and that pages cost the same queries whatever the data."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leads.intake import Submission, take_lead
from leads.models import Assignment, ContactAttempt, Lead, LeadEvent
from revops.models import Absence
from sla.sweep import sweep
from tests.factories import ContactFactory, LeadFactory, SourceFactory, stage
from tests.workspace import WED_11, new_lead, working_hours  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("working_hours")]


def make_late(lead, minutes):
    lead.timers.update(
        started_at=WED_11 - dt.timedelta(minutes=minutes + 15), due_at=WED_11 - dt.timedelta(minutes=minutes)
    )


def queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(ctx.captured_queries)


class TestQueue:
    def test_the_rep_lands_on_the_queue_with_own_open_leads_most_urgent_first(self, client, rep, teammate):
        calm = new_lead(rep)
        urgent = new_lead(rep)
        make_late(urgent, minutes=5)  # already late
        new_lead(teammate)
        LeadFactory(owner=rep, stage=stage("lost"))
        client.force_login(rep)
        assert client.get("/").url == "/queue/"
        response = client.get("/queue/")
        ids = [row.lead.pk for row in response.context["rows"]]
        assert ids == [urgent.pk, calm.pk]
        html = response.content.decode()
        assert "sla-overdue" in html and "sla-ok" in html or "sla-at_risk" in html

    def test_the_chosen_order_is_remembered_on_the_user(self, client, rep):
        client.force_login(rep)
        client.get("/queue/", {"order": "newest"})
        rep.refresh_from_db()
        assert rep.queue_order == "newest"
        assert client.get("/queue/").context["order"] == "newest"

    def test_filters_and_search_use_the_lead_filterset(self, client, rep):
        wanted = new_lead(rep, source=SourceFactory(code="seo"))
        new_lead(rep, source=SourceFactory(code="vk"))
        client.force_login(rep)
        rows = client.get("/queue/", {"source": wanted.source_id}).context["rows"]
        assert [r.lead.pk for r in rows] == [wanted.pk]
        assert client.get("/queue/", {"sla_state": "nonsense"}).status_code == 200

    def test_polling_marks_leads_that_arrived_since_the_page_loaded(self, client, rep):
        client.force_login(rep)
        page = client.get("/queue/")
        since = page.context["since"]
        with time_machine.travel(WED_11 + dt.timedelta(minutes=1), tick=False):
            take_lead(Submission(source=SourceFactory(), channel="form", phone="+79161230000", name="Новый"))
        partial = client.get("/queue/", {"partial": "1", "since": since}, HTTP_HX_REQUEST="true")
        assert any(row.fresh for row in partial.context["rows"])
        assert "<html" not in partial.content.decode()

    @pytest.mark.parametrize("who", ["head", "marketer", "ceo", "admin"])
    def test_only_reps_have_a_queue(self, client, people, who):
        client.force_login(people[who])
        assert client.get("/queue/").status_code == 403

    def test_the_queue_costs_the_same_queries_for_3_or_40_leads(self, client, rep):
        client.force_login(rep)
        for _ in range(3):
            new_lead(rep)
        few = queries(client, "/queue/")
        for _ in range(37):
            lead = new_lead(rep)
            ContactAttempt.objects.create(lead=lead, channel="call", outcome="no_answer", made_by=rep)
        assert queries(client, "/queue/") == few

    def test_the_pager_keeps_the_filters_and_order_but_not_the_refresh(self, client, rep, monkeypatch):
        monkeypatch.setattr("leads.views.QUEUE_PAGE_SIZE", 2)
        seo = SourceFactory(code="seo")
        for _ in range(3):
            new_lead(rep, source=seo)
        new_lead(rep, source=SourceFactory(code="vk"))
        client.force_login(rep)
        html = client.get("/queue/", {"source": seo.pk, "order": "newest", "page": 1}).content.decode()
        assert f'href="?source={seo.pk}&amp;order=newest&amp;page=2" rel="next"' in html
        # The rows refreshed in place link the same way, without the refresh's own parameters.
        partial = client.get(
            "/queue/",
            {"source": seo.pk, "partial": "1", "since": WED_11.isoformat()},
            HTTP_HX_REQUEST="true",
        ).content.decode()
        assert f'href="?source={seo.pk}&amp;page=2" rel="next"' in partial
        second = client.get("/queue/", {"source": seo.pk, "page": 2})
        assert len(second.context["rows"]) == 1 and 'rel="prev"' in second.content.decode()

    def test_work_mode_opens_the_most_urgent_then_the_next(self, client, rep):
        first, second = new_lead(rep), new_lead(rep)
        make_late(first, minutes=1)
        client.force_login(rep)
        assert client.get("/queue/work/").url == f"/leads/{first.pk}/?work=1"
        response = client.post(
            f"/leads/{first.pk}/do/save/", {"channel": "call", "outcome": "no_answer", "work": "1"}
        )
        assert response.url == f"/queue/work/?after={first.pk}"
        assert client.get(response.url).url == f"/leads/{second.pk}/?work=1"


class TestCard:
    @pytest.mark.parametrize(
        ("who", "code"),
        [
            ("rep", 200),
            ("teammate", 404),
            ("other_rep", 404),
            ("head", 200),
            ("other_head", 404),
            ("marketer", 200),
            ("marketing_head", 200),
            ("ceo", 200),
            ("admin", 200),
        ],
    )
    def test_who_opens_the_reps_lead(self, client, people, who, code):
        lead = new_lead(people["rep"])
        client.force_login(people[who])
        assert client.get(f"/leads/{lead.pk}/").status_code == code

    def test_readers_see_no_action_forms(self, client, people):
        lead = new_lead(people["rep"])
        client.force_login(people["marketer"])
        assert 'id="attempt-form"' not in client.get(f"/leads/{lead.pk}/").content.decode()
        client.force_login(people["rep"])
        assert 'id="attempt-form"' in client.get(f"/leads/{lead.pk}/").content.decode()

    def test_outcome_buttons_say_what_happens(self, client, rep):
        lead = new_lead(rep)
        client.force_login(rep)
        client.post(f"/leads/{lead.pk}/do/save/", {"channel": "call", "outcome": "busy"})
        client.post(f"/leads/{lead.pk}/do/save/", {"channel": "call", "outcome": "busy"})
        html = client.get(f"/leads/{lead.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert "3 of 3 → nurture" in html

    @pytest.mark.parametrize(
        ("name", "data", "check"),
        [
            (
                "save",
                {"channel": "call", "outcome": "reached"},
                lambda lead: lead.first_contact_at is not None,
            ),
            (
                "save",
                {"channel": "call", "stage": "qualification"},
                lambda lead: lead.stage.code == "qualification",
            ),
            ("reject", {"reason": "no_budget"}, lambda lead: lead.stage.code == "lost"),
            ("nurture", {"reason": "budget next quarter"}, lambda lead: lead.stage.code == "nurture"),
            (
                "note",
                {"text": "просили КП на почту", "topic": "objection"},
                lambda lead: lead.events.filter(kind="feedback").exists(),
            ),
        ],
    )
    def test_card_actions_change_the_lead(self, client, rep, name, data, check):
        lead = new_lead(rep)
        client.force_login(rep)
        response = client.post(f"/leads/{lead.pk}/do/{name}/", data)
        assert response.status_code == 302
        assert check(Lead.objects.get(pk=lead.pk))

    @pytest.mark.parametrize(
        ("name", "data"),
        [
            ("save", {"channel": "fax", "outcome": "reached"}),
            ("save", {"channel": "call", "outcome": "reached", "duration_seconds": "-5"}),
            ("save", {"channel": "call", "stage": "meeting"}),
            ("reject", {"reason": "other"}),
            ("nurture", {"reason": ""}),
            ("note", {"text": ""}),
            ("save", {"channel": "call", "criterion_999999": "yes"}),
        ],
    )
    def test_bad_card_input_is_explained_and_changes_nothing(self, client, rep, name, data):
        lead = new_lead(rep)
        before = Lead.objects.values().get(pk=lead.pk)
        client.force_login(rep)
        response = client.post(f"/leads/{lead.pk}/do/{name}/", data, follow=True)
        assert response.status_code == (400 if name == "save" else 200)  # the work form comes back as typed
        assert any(m.level_tag == "error" for m in response.context["messages"])
        assert Lead.objects.values().get(pk=lead.pk) == before
        assert not ContactAttempt.objects.filter(lead=lead).exists()

    @pytest.mark.parametrize(
        ("who", "code"), [("teammate", 404), ("marketer", 403), ("ceo", 403), ("other_head", 404)]
    )
    def test_others_cannot_act_on_the_reps_lead(self, client, people, who, code):
        lead = new_lead(people["rep"])
        client.force_login(people[who])
        response = client.post(f"/leads/{lead.pk}/do/save/", {"channel": "call", "outcome": "reached"})
        assert response.status_code == code
        assert not ContactAttempt.objects.filter(lead=lead).exists()

    def test_the_card_costs_the_same_queries_whatever_its_history(self, client, rep):
        lead = new_lead(rep)
        client.force_login(rep)
        before = queries(client, f"/leads/{lead.pk}/")
        for _ in range(2):
            client.post(f"/leads/{lead.pk}/do/save/", {"channel": "call", "outcome": "busy"})
            client.post(f"/leads/{lead.pk}/do/note/", {"text": "ещё раз"})
        take_lead(Submission(source=lead.source, channel="form", phone=lead.contact.phone))
        assert queries(client, f"/leads/{lead.pk}/") == before

    def test_a_repeat_request_shows_on_the_card(self, client, rep):
        outcome = take_lead(Submission(source=SourceFactory(), channel="form", phone="+79161239999"))
        take_lead(
            Submission(source=SourceFactory(), channel="chat", phone="+79161239999", comment="Ещё раз пишу")
        )
        lead = Lead.objects.get(pk=outcome.lead_id)
        client.force_login(lead.owner)
        html = client.get(f"/leads/{lead.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert "Repeat request" in html and "Ещё раз пишу" in html


class TestManualEntryAndMerge:
    def test_a_rep_enters_a_lead_that_becomes_theirs(self, client, rep):
        client.force_login(rep)
        source = SourceFactory()
        response = client.post(
            "/leads/new/",
            {"name": "Олег", "phone": "8 916 111-22-33", "source": source.pk, "consent": "on"},
        )
        lead = Lead.objects.get()
        assert response.url == f"/leads/{lead.pk}/"
        assert lead.owner == rep and lead.channel == "manual" and lead.contact.phone == "+79161112233"
        assert lead.timers.filter(kind="first_contact").exists()

    def test_the_entry_form_validates(self, client, rep):
        client.force_login(rep)
        response = client.post("/leads/new/", {"phone": "12", "source": SourceFactory().pk})
        assert response.status_code == 200
        assert {"phone", "consent"} <= set(response.context["form"].errors)
        assert not Lead.objects.exists()

    @pytest.mark.parametrize(("who", "code"), [("marketer", 403), ("ceo", 403), ("head", 200), ("rep", 200)])
    def test_who_may_enter_leads(self, client, people, who, code):
        client.force_login(people[who])
        assert client.get("/leads/new/").status_code == code

    def test_a_head_merges_a_duplicate_and_keeps_its_history(self, client, head, rep):
        keep, duplicate = new_lead(rep), new_lead(rep, contact=ContactFactory())
        ContactAttempt.objects.create(lead=duplicate, channel="call", outcome="busy", made_by=rep)
        client.force_login(head)
        client.post(f"/leads/{keep.pk}/merge/", {"other": duplicate.pk})
        duplicate.refresh_from_db()
        assert duplicate.stage.code == "lost" and duplicate.rejection_reason.code == "duplicate"
        assert (
            keep.attempts.count() == 1
            and keep.requests.filter(is_repeat=True).count() == duplicate.requests.count() + 0
        )
        assert LeadEvent.objects.filter(lead=keep, kind="merged").exists()
        assert not duplicate.timers.filter(state="running").exists()

    def test_a_rep_cannot_merge(self, client, rep):
        a, b = new_lead(rep), new_lead(rep)
        client.force_login(rep)
        assert client.post(f"/leads/{a.pk}/merge/", {"other": b.pk}).status_code == 403


class TestTeamBoard:
    def test_the_head_sees_the_team_breaches_and_the_waiting_queue(self, client, head, rep, team_a):
        lead = new_lead(rep)
        make_late(lead, minutes=1)
        sweep(now=WED_11)
        LeadFactory(owner=None, team=team_a)
        client.force_login(head)
        assert client.get("/").url == "/team/"
        context = client.get("/team/").context
        assert [b.lead_id for b in context["breaches"]] == [lead.pk]
        assert context["waiting_count"] == 1
        row = next(r for r in context["rows"] if r.rep == rep)
        assert row.breached == 1 and row.open_leads == 1

    def test_presence_switches(self, client, head, rep):
        client.force_login(head)
        client.post(f"/team/presence/{rep.pk}/", {"what": "absent"})
        assert Absence.objects.filter(user=rep).exists()
        client.post(f"/team/presence/{rep.pk}/", {"what": "present"})
        assert not Absence.objects.filter(user=rep).exists()
        client.post(f"/team/presence/{rep.pk}/", {"what": "pause"})
        rep.refresh_from_db()
        assert rep.accepts_leads is False

    def test_a_head_cannot_touch_another_teams_rep(self, client, other_head, rep):
        client.force_login(other_head)
        assert client.post(f"/team/presence/{rep.pk}/", {"what": "absent"}).status_code == 404

    @pytest.mark.parametrize(("who", "code"), [("rep", 403), ("marketer", 200), ("ceo", 200), ("admin", 200)])
    def test_who_opens_the_board(self, client, people, who, code):
        client.force_login(people[who])
        assert client.get("/team/").status_code == code

    def test_reassigning_from_the_board_records_inherited_time(self, client, head, rep, teammate):
        lead = new_lead(rep)
        client.force_login(head)
        client.post(f"/leads/{lead.pk}/do/assign/", {"owner": teammate.pk, "next": "/team/"})
        assignment = Assignment.objects.filter(lead=lead).latest("created_at")
        assert assignment.to_owner == teammate and assignment.sla_left_seconds is not None

    def test_the_board_costs_the_same_queries_whatever_the_history(self, client, head, rep):
        client.force_login(head)
        new_lead(rep)
        few = queries(client, "/team/")
        for _ in range(10):
            lead = new_lead(rep)
            ContactAttempt.objects.create(lead=lead, channel="call", outcome="busy", made_by=rep)
        assert queries(client, "/team/") == few


def test_a_head_hands_a_leaving_reps_leads_to_the_team(client, head, rep, teammate):
    leads = [new_lead(rep) for _ in range(3)]
    client.force_login(head)
    client.post(f"/team/presence/{rep.pk}/", {"what": "redistribute"})
    assert {lead.owner for lead in Lead.objects.filter(pk__in=[x.pk for x in leads])} == {teammate}
    assert Assignment.objects.filter(kind="bulk", assigned_by=head).count() == 3


def test_the_queue_builds_lead_links_where_the_urls_put_them():
    from django.urls import reverse

    from leads.queue import LEADS_URL

    assert reverse("leads:detail", args=[7]) == f"{LEADS_URL}7/"
