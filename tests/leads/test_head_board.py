"""The head's board (issue #14): problems first, what happened since each
breach, bulk acknowledge and reassign, hand-over of an absent rep's leads,
arrivals apart from hand-overs, filters, the breach CSV — and who may do what:
a rep, another team's head, marketing and the CEO change nothing."""

import csv
import datetime as dt
import io

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from leads.assignment import assign_manually
from leads.board import Since, board, working_text
from leads.choices import AssignmentKind
from leads.models import Assignment, ContactAttempt, Lead
from leads.updates import version_for
from revops.models import Absence
from sla.business_time import working_time_between
from sla.calendars import schedule_or_24x7, team_calendar
from sla.clock import start_first_contact_timer
from sla.models import Breach
from sla.sweep import sweep
from tests.factories import LeadFactory, UserFactory, stage

pytestmark = pytest.mark.django_db

WED_11 = dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)  # Wednesday 11:00 Moscow, working hours


@pytest.fixture(autouse=True)
def working_hours():
    with time_machine.travel(WED_11, tick=True):
        yield


@pytest.fixture(autouse=True)
def in_english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"  # the pages answer in English


def new_lead(rep, **kwargs):
    lead = LeadFactory(owner=rep, **kwargs)
    start_first_contact_timer(lead, lead.created_at)
    return lead


def breached(rep, **kwargs) -> Breach:
    """A lead of `rep` whose first-contact deadline passed; the sweep records the breach."""
    lead = new_lead(rep, **kwargs)
    lead.timers.update(started_at=WED_11 - dt.timedelta(minutes=30), due_at=WED_11 - dt.timedelta(minutes=15))
    sweep(now=WED_11)
    return Breach.objects.get(lead=lead)


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(ctx.captured_queries)


def acknowledged(*breaches) -> list[bool]:
    return [Breach.objects.get(pk=b.pk).acknowledged_at is not None for b in breaches]


def owners(*leads) -> list:
    return [Lead.objects.get(pk=lead.pk).owner_id for lead in leads]


# --- what the board shows -------------------------------------------------------------------------


class TestProblems:
    def test_waiting_leads_say_how_long_in_working_time(self, client, head, team_a):
        lead = LeadFactory(owner=None, team=team_a, created_at=WED_11 - dt.timedelta(days=14))
        fresh = LeadFactory(owner=None, team=team_a, created_at=WED_11 - dt.timedelta(minutes=20))
        client.force_login(head)
        with translation.override("en"):
            response = client.get("/team/")
        context = response.context
        assert context["waiting_count"] == 2
        assert [w.pk for w in context["waiting"]] == [lead.pk, fresh.pk]  # the longest wait first
        schedule = schedule_or_24x7(team_calendar(team_a))
        worked = working_time_between(schedule, lead.created_at, WED_11)
        assert dt.timedelta(hours=50) < worked < dt.timedelta(days=14)  # working, not clock, time
        with translation.override("en"):
            assert context["waiting"][0].waiting_text == working_text(worked)
            assert context["waiting"][1].waiting_text == "20 min"
        html = response.content.decode()
        assert "of working time" in html and "2 weeks" not in html
        # The problem strip counts it at the top, before the lists.
        assert html.index("problem-tile problem") < html.index('id="breaches"')

    def test_absent_reps_holding_open_leads_are_listed_with_a_hand_over(self, client, head, rep, teammate):
        new_lead(rep)
        new_lead(rep)
        Absence.objects.create(user=rep, starts_on=WED_11.date(), ends_on=WED_11.date())
        Absence.objects.create(user=teammate, starts_on=WED_11.date(), ends_on=WED_11.date())  # holds none
        client.force_login(head)
        with translation.override("en"):
            response = client.get("/team/")
        holders = response.context["absent_holders"]
        assert [(h.rep, h.open_leads) for h in holders] == [(rep, 2)]
        html = response.content.decode()
        assert f'action="/team/handover/{rep.pk}/"' in html
        assert "is absent and holds 2 open leads." in html

    def test_unacknowledged_breaches_are_counted_and_come_first(self, client, head, rep):
        old = breached(rep)
        Breach.objects.filter(pk=old.pk).update(
            acknowledged_at=WED_11, created_at=WED_11 - dt.timedelta(hours=1)
        )
        new = breached(rep)
        client.force_login(head)
        context = client.get("/team/").context
        assert context["unacknowledged_count"] == 1
        assert [b.pk for b in context["breaches"]] == [new.pk, old.pk]

    def test_an_old_unacknowledged_breach_stays_on_the_to_do_list(self, client, head, rep):
        old = breached(rep)
        Breach.objects.filter(pk=old.pk).update(created_at=WED_11 - dt.timedelta(days=40))
        acknowledged_old = breached(rep)
        Breach.objects.filter(pk=acknowledged_old.pk).update(
            created_at=WED_11 - dt.timedelta(days=40), acknowledged_at=WED_11 - dt.timedelta(days=39)
        )
        client.force_login(head)
        assert [b.pk for b in client.get("/team/").context["breaches"]] == [old.pk]


class TestWhatHappenedSince:
    def test_each_breach_says_what_happened_to_its_lead(self, head, rep, teammate, team_a):
        waiting = breached(rep)
        reached = breached(rep)
        ContactAttempt.objects.create(lead=reached.lead, channel="call", outcome="reached", made_by=rep)
        called = breached(rep)
        ContactAttempt.objects.create(lead=called.lead, channel="call", outcome="no_answer", made_by=rep)
        before = breached(rep)  # an attempt before the breach does not count
        ContactAttempt.objects.create(
            lead=before.lead,
            channel="call",
            outcome="reached",
            made_by=rep,
            made_at=WED_11 - dt.timedelta(hours=1),
        )
        moved = breached(rep)
        assign_manually(moved.lead, teammate, head)
        won, lost, nurture = breached(rep), breached(rep), breached(rep)
        Lead.objects.filter(pk=won.lead_id).update(stage=stage("deal"))
        Lead.objects.filter(pk=lost.lead_id).update(stage=stage("lost"))
        Lead.objects.filter(pk=nurture.lead_id).update(stage=stage("nurture"))

        rows = {b.pk: b for b in board(team_a)["breaches"]}
        assert rows[waiting.pk].since == Since.WAITING and rows[waiting.pk].to_do
        assert rows[reached.pk].since == Since.REACHED and not rows[reached.pk].to_do
        assert rows[called.pk].since == Since.CALLED_BACK and rows[called.pk].to_do
        assert rows[before.pk].since == Since.WAITING
        assert rows[moved.pk].since == Since.REASSIGNED
        assert rows[won.pk].since == Since.WON
        assert rows[lost.pk].since == Since.REJECTED
        assert rows[nurture.pk].since == Since.NURTURE

    def test_the_board_costs_the_same_queries_whatever_the_rows(self, client, head, rep, teammate, team_a):
        client.force_login(head)
        breached(rep)
        LeadFactory(owner=None, team=team_a)
        few = queries(client, "/team/")
        csv_few = queries(client, "/team/breaches.csv")
        for k in range(8):
            breach = breached(rep if k % 2 else teammate)
            ContactAttempt.objects.create(
                lead=breach.lead, channel="call", outcome="busy", made_by=breach.owner
            )
            LeadFactory(owner=None, team=team_a)
            if k % 3 == 0:
                assign_manually(breach.lead, rep if breach.owner == teammate else teammate, head)
        assert len(client.get("/team/").context["breaches"]) == 9
        assert queries(client, "/team/") == few
        assert queries(client, "/team/?partial=1") <= few
        assert queries(client, "/team/breaches.csv") == csv_few


class TestCounts:
    def test_a_reassignment_is_not_a_new_lead(self, client, head, rep, teammate):
        lead = new_lead(rep)
        Assignment.objects.create(lead=lead, to_owner=rep, kind=AssignmentKind.AUTO, team=rep.team)
        assign_manually(lead, teammate, head)
        client.force_login(head)
        context = client.get("/team/").context
        rows = {row.rep: row for row in context["rows"]}
        assert (rows[rep].new, rows[rep].handed_over) == (1, 0)
        assert (rows[teammate].new, rows[teammate].handed_over) == (0, 1)
        assert context["totals"]["new"] == 1 and context["totals"]["handed_over"] == 1

    def test_period_and_rep_filters(self, client, head, rep, teammate):
        Assignment.objects.create(
            lead=new_lead(rep),
            to_owner=rep,
            kind="auto",
            team=rep.team,
            created_at=WED_11 - dt.timedelta(days=1),
        )  # Tuesday: this week, not today
        mine, theirs = breached(rep), breached(teammate)
        client.force_login(head)
        today = client.get("/team/").context
        assert {r.rep: r.new for r in today["rows"]}[rep] == 0
        week = client.get("/team/", {"period": "week", "rep": rep.pk}).context
        assert [r.rep for r in week["rows"]] == [rep] and week["rows"][0].new == 1
        assert [b.pk for b in week["breaches"]] == [mine.pk]
        assert theirs.pk in [b.pk for b in today["breaches"]]

    @pytest.mark.parametrize(
        "params", [{"period": "year"}, {"rep": "abc"}, {"rep": "99999999999999999999"}, {"team": "x"}]
    )
    def test_bad_filters_fall_back(self, client, head, params):
        client.force_login(head)
        response = client.get("/team/", params)
        assert response.status_code == 200 and response.context["period"] == "today"

    def test_another_teams_rep_is_no_filter(self, client, head, rep, other_rep):
        client.force_login(head)
        context = client.get("/team/", {"rep": other_rep.pk}).context
        assert context["chosen_rep"] is None


class TestOwnerChoice:
    def test_only_reps_on_shift_and_taking_leads_are_offered_and_none_is_preselected(
        self, client, head, rep, teammate, team_a
    ):
        absent = UserFactory(username="absent_rep", role="rep", team=team_a)
        Absence.objects.create(user=absent, starts_on=WED_11.date(), ends_on=WED_11.date())
        UserFactory(username="paused_rep", role="rep", team=team_a, accepts_leads=False)
        UserFactory(username="gone_rep", role="rep", team=team_a, is_active=False)
        breach = breached(rep)
        client.force_login(head)
        with translation.override("en"):
            response = client.get("/team/")
        assert {a.rep for a in response.context["assignees"]} == {rep, teammate}
        html = response.content.decode()
        row_select = html[html.index(f'id="o-{breach.pk}"') :]
        row_select = row_select[: row_select.index("</select>")]
        assert '<option value="">' in row_select and "selected" not in row_select
        assert (
            f'value="{teammate.pk}"' in row_select and f'value="{rep.pk}"' not in row_select
        )  # never the owner
        assert "on shift" in row_select
        for name in ("absent_rep", "paused_rep", "gone_rep"):
            assert name not in html.split('id="reps-h"')[0]


# --- acting from the board ------------------------------------------------------------------------


ROLE_CODES = [("rep", 403), ("marketer", 403), ("ceo", 403), ("other_head", 404)]


class TestBulkAcknowledge:
    def test_the_head_acknowledges_several_with_one_comment(self, client, head, rep):
        a, b = breached(rep), breached(rep)
        client.force_login(head)
        with translation.override("en"):
            response = client.post(
                "/team/breaches/acknowledge/",
                {"breach": [a.pk, b.pk], "comment": "on it", "next": "/team/?period=week"},
            )
        assert response.status_code == 302 and response.url == "/team/?period=week"
        assert acknowledged(a, b) == [True, True]
        assert "on it" in Breach.objects.get(pk=a.pk).comment
        assert f"Leads #{a.lead_id}, #{b.lead_id}: breaches acknowledged." in texts(response)

    def test_already_acknowledged_is_said_by_lead(self, client, head, rep):
        a = breached(rep)
        client.force_login(head)
        client.post("/team/breaches/acknowledge/", {"breach": a.pk})
        first = Breach.objects.get(pk=a.pk).acknowledged_at
        with translation.override("en"):
            response = client.post("/team/breaches/acknowledge/", {"breach": a.pk})
        assert f"Lead #{a.lead_id}: the breach was already acknowledged." in texts(response)
        assert Breach.objects.get(pk=a.pk).acknowledged_at == first

    @pytest.mark.parametrize(("who", "code"), ROLE_CODES)
    def test_others_change_nothing(self, client, people, who, code):
        a = breached(people["rep"])
        client.force_login(people[who])
        assert client.post("/team/breaches/acknowledge/", {"breach": a.pk}).status_code == code
        assert acknowledged(a) == [False]

    def test_the_admin_may(self, client, admin_user, rep):
        a = breached(rep)
        client.force_login(admin_user)
        assert client.post("/team/breaches/acknowledge/", {"breach": a.pk}).status_code == 302
        assert acknowledged(a) == [True]

    def test_one_foreign_id_stops_the_whole_batch(self, client, head, rep, other_rep):
        mine, theirs = breached(rep), breached(other_rep)
        client.force_login(head)
        assert client.post("/team/breaches/acknowledge/", {"breach": [mine.pk, theirs.pk]}).status_code == 404
        assert acknowledged(mine, theirs) == [False, False]

    @pytest.mark.parametrize("bad", ["abc", "-1", "1.5", "99999999999999999999", "²"])
    def test_bad_ids_are_a_400(self, client, head, rep, bad):
        a = breached(rep)
        client.force_login(head)
        assert client.post("/team/breaches/acknowledge/", {"breach": [a.pk, bad]}).status_code == 400
        assert acknowledged(a) == [False]

    def test_nothing_chosen_says_so(self, client, head):
        client.force_login(head)
        with translation.override("en"):
            response = client.post("/team/breaches/acknowledge/", {})
        assert response.status_code == 302 and "Choose at least one breach." in texts(response)

    def test_unknown_id_and_get_change_nothing(self, client, head, rep):
        client.force_login(head)
        assert client.post("/team/breaches/acknowledge/", {"breach": 987654}).status_code == 404
        assert client.get("/team/breaches/acknowledge/").status_code == 405


class TestBulkReassign:
    def test_breached_leads_go_to_a_rep_on_shift_as_a_reassignment_after_a_breach(
        self, client, head, rep, teammate
    ):
        a, b = breached(rep), breached(rep)
        client.force_login(head)
        with translation.override("en"):
            response = client.post("/team/reassign/", {"breach": [a.pk, b.pk], "owner": teammate.pk})
        assert owners(a.lead, b.lead) == [teammate.pk, teammate.pk]
        assignment = Assignment.objects.filter(lead=a.lead).latest("id")
        assert assignment.kind == AssignmentKind.SLA and assignment.from_owner == rep
        assert assignment.assigned_by == head and assignment.reasons[0]["code"] == "sla_breach_by"
        assert acknowledged(a, b) == [True, True]  # handled: off the to-do list
        assert f"Leads #{a.lead_id}, #{b.lead_id} are now {teammate}'s." in texts(response)

    def test_waiting_leads_get_an_owner(self, client, head, teammate, team_a):
        lead = LeadFactory(owner=None, team=team_a)
        client.force_login(head)
        with translation.override("en"):
            response = client.post("/team/reassign/", {"lead": lead.pk, "owner": teammate.pk})
        assert owners(lead) == [teammate.pk]
        assert Assignment.objects.get(lead=lead).kind == AssignmentKind.MANUAL
        assert f"Lead #{lead.pk} is now {teammate}'s." in texts(response)

    def test_a_closed_lead_is_named_and_the_rest_go(self, client, head, rep, teammate):
        a, b = breached(rep), breached(rep)
        Lead.objects.filter(pk=b.lead_id).update(stage=stage("lost"))
        client.force_login(head)
        with translation.override("en"):
            response = client.post("/team/reassign/", {"breach": [a.pk, b.pk], "owner": teammate.pk})
        assert owners(a.lead, b.lead) == [teammate.pk, rep.pk]
        assert any(t.startswith(f"Lead #{b.lead_id} was not reassigned") for t in texts(response))
        assert acknowledged(a, b) == [True, False]

    @pytest.mark.parametrize("who", ["absent", "paused", "off"])
    def test_a_rep_who_cannot_take_leads_now_is_refused(self, client, head, rep, teammate, who):
        if who == "absent":
            Absence.objects.create(user=teammate, starts_on=WED_11.date(), ends_on=WED_11.date())
        elif who == "paused":
            teammate.accepts_leads = False
            teammate.save()
        else:
            from revops.models import Shift

            Shift.objects.create(
                user=teammate, weekday=0, starts=dt.time(9), ends=dt.time(10)
            )  # Mondays only
        a = breached(rep)
        client.force_login(head)
        with translation.override("en"):
            response = client.post("/team/reassign/", {"breach": a.pk, "owner": teammate.pk})
        assert response.status_code == 302
        assert any("not on shift or not taking leads" in t for t in texts(response))
        assert owners(a.lead) == [rep.pk] and acknowledged(a) == [False]

    @pytest.mark.parametrize(("who", "code"), ROLE_CODES)
    def test_others_change_nothing(self, client, people, who, code):
        a = breached(people["rep"])
        client.force_login(people[who])
        response = client.post("/team/reassign/", {"breach": a.pk, "owner": people["teammate"].pk})
        assert response.status_code == code
        assert owners(a.lead) == [people["rep"].pk]

    def test_the_admin_may(self, client, admin_user, rep, teammate):
        a = breached(rep)
        client.force_login(admin_user)
        assert client.post("/team/reassign/", {"breach": a.pk, "owner": teammate.pk}).status_code == 302
        assert owners(a.lead) == [teammate.pk]

    def test_someone_elses_ids(self, client, head, rep, teammate, other_rep):
        mine, theirs = breached(rep), breached(other_rep)
        client.force_login(head)
        for data in (
            {"breach": [mine.pk, theirs.pk], "owner": teammate.pk},
            {"lead": theirs.lead_id, "owner": teammate.pk},
            {"breach": mine.pk, "owner": other_rep.pk},  # another team's rep
            {"breach": mine.pk, "owner": 987654},
        ):
            assert client.post("/team/reassign/", data).status_code == 404, data
        assert owners(mine.lead, theirs.lead) == [rep.pk, other_rep.pk]

    @pytest.mark.parametrize(
        "data",
        [{"breach": "x", "owner": "1"}, {"lead": "1e3", "owner": "1"}, {"breach": "1", "owner": "me"}],
    )
    def test_bad_input_is_a_400(self, client, head, rep, data):
        a = breached(rep)
        if data.get("breach") == "1":
            data = {**data, "breach": a.pk}
        client.force_login(head)
        assert client.post("/team/reassign/", data).status_code == 400
        assert owners(a.lead) == [rep.pk]

    def test_no_owner_or_no_lead_says_so(self, client, head, rep):
        a = breached(rep)
        client.force_login(head)
        with translation.override("en"):
            assert "Choose who gets the leads." in texts(client.post("/team/reassign/", {"breach": a.pk}))
            assert "Choose at least one lead." in texts(client.post("/team/reassign/", {"owner": rep.pk}))
        assert owners(a.lead) == [rep.pk]

    def test_the_current_owner_is_no_new_owner(self, client, head, rep, teammate):
        a = breached(rep)
        client.force_login(head)
        with translation.override("en"):
            response = client.post("/team/reassign/", {"breach": a.pk, "owner": rep.pk})
        assert any(f"Lead #{a.lead_id} was not reassigned" in t for t in texts(response))
        assert Assignment.objects.filter(lead=a.lead).count() == 0


class TestHandOver:
    def test_marking_absent_says_what_happens_to_the_open_leads(self, client, head, rep):
        new_lead(rep)
        new_lead(rep)
        client.force_login(head)
        with translation.override("en"):
            response = client.post(f"/team/presence/{rep.pk}/", {"what": "absent"})
        (text,) = texts(response)
        assert f"{rep} is absent today and still holds 2 open leads" in text and "hand them over" in text

    def test_hand_over_to_a_chosen_rep(self, client, head, rep, teammate):
        leads = [new_lead(rep), new_lead(rep)]
        Absence.objects.create(user=rep, starts_on=WED_11.date(), ends_on=WED_11.date())
        client.force_login(head)
        with translation.override("en"):
            response = client.post(f"/team/handover/{rep.pk}/", {"to": teammate.pk})
        assert owners(*leads) == [teammate.pk, teammate.pk]
        assert set(Assignment.objects.filter(lead__in=leads).values_list("kind", flat=True)) == {"bulk"}
        ids = ", ".join(f"#{lead.pk}" for lead in leads)
        assert f"Leads {ids} of {rep} are now {teammate}'s." in texts(response)

    def test_hand_over_by_the_rules(self, client, head, rep, teammate):
        leads = [new_lead(rep), new_lead(rep)]
        Absence.objects.create(user=rep, starts_on=WED_11.date(), ends_on=WED_11.date())
        client.force_login(head)
        with translation.override("en"):
            response = client.post(f"/team/handover/{rep.pk}/", {"to": "rules"})
        assert owners(*leads) == [teammate.pk, teammate.pk]
        assert any("handed to the team by its rules" in t and f"#{leads[0].pk}" in t for t in texts(response))

    def test_nobody_to_take_them_leaves_them_waiting_and_says_so(self, client, head, rep, teammate):
        lead = new_lead(rep)
        for person in (rep, teammate):
            Absence.objects.create(user=person, starts_on=WED_11.date(), ends_on=WED_11.date())
        client.force_login(head)
        with translation.override("en"):
            response = client.post(f"/team/handover/{rep.pk}/", {"to": "rules"})
        assert owners(lead) == [None]
        assert any(f"Lead #{lead.pk} waits in the team's queue" in t for t in texts(response))

    @pytest.mark.parametrize(("who", "code"), ROLE_CODES)
    def test_others_change_nothing(self, client, people, who, code):
        lead = new_lead(people["rep"])
        client.force_login(people[who])
        response = client.post(f"/team/handover/{people['rep'].pk}/", {"to": people["teammate"].pk})
        assert response.status_code == code
        assert owners(lead) == [people["rep"].pk]

    def test_someone_elses_ids_and_bad_input(self, client, head, rep, teammate, other_rep):
        lead = new_lead(rep)
        client.force_login(head)
        assert client.post(f"/team/handover/{other_rep.pk}/", {"to": teammate.pk}).status_code == 404
        assert client.post(f"/team/handover/{rep.pk}/", {"to": other_rep.pk}).status_code == 404
        assert client.post(f"/team/handover/{rep.pk}/", {"to": "nobody"}).status_code == 400
        assert client.post(f"/team/handover/{rep.pk}/", {"to": ""}).status_code == 302
        assert client.post(f"/team/handover/{rep.pk}/", {"to": rep.pk}).status_code == 302  # to themselves
        assert client.post(f"/team/handover/{head.pk}/", {"to": teammate.pk}).status_code == 404  # not a rep
        assert owners(lead) == [rep.pk]

    def test_the_admin_may(self, client, admin_user, rep, teammate):
        lead = new_lead(rep)
        client.force_login(admin_user)
        assert client.post(f"/team/handover/{rep.pk}/", {"to": teammate.pk}).status_code == 302
        assert owners(lead) == [teammate.pk]


# --- export and live updates ----------------------------------------------------------------------


class TestBreachCsv:
    def test_the_list_as_csv_with_formula_cells_neutralised(self, client, head, rep):
        a = breached(rep)
        Breach.objects.filter(pk=a.pk).update(comment='=HYPERLINK("http://evil")')
        rep.first_name, rep.last_name = "+Олег", "Смирнов"
        rep.save()
        client.force_login(head)
        with translation.override("en"):
            response = client.get("/team/breaches.csv")
        assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
        assert response["Content-Disposition"].startswith('attachment; filename="breaches-team-a-today-')
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert rows[0][0] == "Lead" and rows[0][-2] == "Since the breach"
        assert rows[1][0] == str(a.lead_id)
        assert rows[1][3] == "'+Олег Смирнов" and rows[1][-1] == '\'=HYPERLINK("http://evil")'
        assert rows[1][-2] == "still waiting"
        assert len(rows) == 2

    @pytest.mark.parametrize(("who", "code"), [("rep", 403), ("marketer", 200), ("ceo", 200), ("admin", 200)])
    def test_who_downloads(self, client, people, who, code):
        breached(people["rep"])
        client.force_login(people[who])
        assert client.get("/team/breaches.csv").status_code == code

    def test_another_head_gets_only_their_team(self, client, other_head, rep, other_rep):
        breached(rep)
        theirs = breached(other_rep)
        client.force_login(other_head)
        body = client.get("/team/breaches.csv", {"team": rep.team_id}).content.decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(body)))
        assert [r[0] for r in rows[1:]] == [str(theirs.lead_id)]

    def test_bad_filters_no_500(self, client, head):
        client.force_login(head)
        assert client.get("/team/breaches.csv", {"period": "[]", "rep": "-"}).status_code == 200


class TestLiveUpdates:
    def test_the_heads_version_changes_when_the_board_would(self, head, rep, teammate, team_a):
        seen = version_for(head)
        waiting = LeadFactory(owner=None, team=team_a)
        assert version_for(head) != seen
        seen = version_for(head)
        assign_manually(waiting, teammate, head)
        assert version_for(head) != seen
        seen = version_for(head)
        breached(rep)
        assert version_for(head) != seen
        seen = version_for(head)
        assert version_for(head) == seen  # nothing new: the same version

    def test_the_heads_version_costs_a_fixed_number_of_queries(self, head, rep, team_a):
        new_lead(rep)
        with CaptureQueriesContext(connection) as few:
            version_for(head)
        for _ in range(5):
            breached(rep)
            LeadFactory(owner=None, team=team_a)
        with CaptureQueriesContext(connection) as more:
            version_for(head)
        assert (
            len(more.captured_queries) == len(few.captured_queries) <= 4
        )  # with the stage ids, cached later

    def test_the_board_refreshes_on_change_only_while_nothing_is_chosen(self, client, head):
        client.force_login(head)
        html = client.get("/team/").content.decode()
        assert 'hx-trigger="revops:changed from:body, refresh, every 60s"' in html
        assert "data-hold-while-checked" in html
