"""The rep's flow on the lead card (issue #14): the attempts hint tells the truth,
nurture and reject can be undone, a risky call asks first, one save carries an
attempt, the checklist and a stage, nothing typed is lost, and every open lead
shows a dated next step."""

import datetime as dt

import pytest
from django.utils import timezone, translation

from leads import actions
from leads.models import ContactAttempt, CriterionAnswer, Lead, LeadEvent, QualificationCriterion, StageChange
from sla.models import SlaTimer
from tests.factories import LeadFactory, stage
from tests.workspace import WED_11, new_lead, working_hours  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("working_hours")]


def reached_lead(rep):
    lead = new_lead(rep, stage=stage("qualification"))
    Lead.objects.filter(pk=lead.pk).update(first_contact_at=lead.created_at)
    return Lead.objects.get(pk=lead.pk)


def card(client, lead) -> str:
    return client.get(f"/leads/{lead.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()


def call(client, lead, outcome="no_answer", **extra):
    return client.post(f"/leads/{lead.pk}/do/save/", {"channel": "call", "outcome": outcome, **extra})


# --- the attempts hint ---------------------------------------------------------------------------


class TestAttemptsHint:
    def test_counts_towards_nurture_at_the_first_stage(self, client, rep):
        lead = new_lead(rep)
        client.force_login(rep)
        assert "1 of 3" in card(client, lead)
        call(client, lead)
        assert "2 of 3" in card(client, lead)

    def test_past_the_first_stage_a_failed_call_only_goes_on_record(self, client, rep):
        lead = new_lead(rep, stage=stage("meeting"))
        client.force_login(rep)
        for _ in range(3):
            call(client, lead)
        lead.refresh_from_db()
        assert lead.stage.code == "meeting"  # the rule did not fire
        html = card(client, lead)
        assert "of 3" not in html and "→ nurture" not in html
        assert "logged, the lead stays" in html

    def test_never_reads_more_than_the_limit(self, client, rep):
        lead = new_lead(rep)
        # Calls the rule did not see (logged before a policy change, say): the hint still
        # says what the next one does, and never "4 of 3".
        for _ in range(3):
            ContactAttempt.objects.create(
                lead=lead,
                channel="call",
                outcome="busy",
                counted=True,
                made_by=rep,
                made_at=timezone.now(),
            )
        client.force_login(rep)
        html = card(client, lead)
        assert "3 of 3 → nurture" in html and "4 of 3" not in html

    def test_once_reached_failed_calls_never_nurture(self, rep):
        lead = new_lead(rep)
        actions.log_attempt(lead, rep, channel="call", outcome="reached")
        for _ in range(4):
            actions.log_attempt(Lead.objects.get(pk=lead.pk), rep, channel="call", outcome="no_answer")
        assert Lead.objects.get(pk=lead.pk).stage.code == "qualification"

    def test_the_rule_still_fires_at_the_first_stage(self, rep):
        lead = new_lead(rep)
        for _ in range(3):
            _attempt, info = actions.log_attempt(
                Lead.objects.get(pk=lead.pk), rep, channel="call", outcome="no_answer"
            )
        assert info.get("nurtured") and Lead.objects.get(pk=lead.pk).stage.code == "nurture"


def sql_criteria() -> list[int]:
    return list(
        QualificationCriterion.objects.filter(segment__isnull=True, is_active=True).values_list(
            "pk", flat=True
        )
    )


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


# --- undo ------------------------------------------------------------------------------------------


class TestUndo:
    def close(self, client, lead, name, data):
        with translation.override("en"):
            return client.post(f"/leads/{lead.pk}/do/{name}/", data, follow=True, HTTP_ACCEPT_LANGUAGE="en")

    @pytest.mark.parametrize(
        ("name", "data", "said"),
        [
            ("reject", {"reason": "no_budget"}, "rejected"),
            ("nurture", {"reason": "budget next quarter"}, "went to nurture"),
        ],
    )
    def test_a_close_is_offered_back_and_undone_exactly(self, client, rep, name, data, said):
        lead = new_lead(rep, stage=stage("qualification"))
        actions.log_attempt(
            lead, rep, channel="call", outcome="busy", callback_at=WED_11 + dt.timedelta(days=1)
        )
        before = Lead.objects.get(pk=lead.pk)
        timers_before = set(SlaTimer.objects.filter(lead=lead, state="running").values_list("pk", "due_at"))
        assert timers_before
        client.force_login(rep)

        page = self.close(client, lead, name, data).content.decode()
        assert f"Lead #{lead.pk} {said}" in page and 'name="change"' in page and "Undo" in page
        assert not SlaTimer.objects.filter(lead=lead, state="running").exists()
        change = StageChange.objects.filter(lead=lead).latest("changed_at", "id")

        back = self.close(client, lead, "undo", {"change": change.pk})
        assert back.status_code == 200
        assert f"Lead #{lead.pk}: undone" in page or f"Lead #{lead.pk}: undone" in back.content.decode()
        after = Lead.objects.get(pk=lead.pk)
        assert after.stage_id == before.stage_id and after.closed_at is None
        assert (
            after.rejection_reason_id is None and after.nurture_reason == "" and after.nurture_until is None
        )
        assert (after.next_step, after.next_step_at) == (before.next_step, before.next_step_at) != ("", None)
        assert (
            set(SlaTimer.objects.filter(lead=lead, state="running").values_list("pk", "due_at"))
            == timers_before
        )
        history = list(StageChange.objects.filter(lead=lead).order_by("changed_at", "id"))
        assert history[-1].undoes_id == change.pk and history[-2].pk == change.pk  # both on record

        again = self.close(client, lead, "undo", {"change": change.pk})  # once only
        assert "can no longer be taken back" in again.content.decode()
        assert StageChange.objects.filter(lead=lead).count() == len(history)

    def test_failed_calls_count_on_after_an_undone_nurture(self, rep):
        lead = new_lead(rep)
        for _ in range(3):
            actions.log_attempt(Lead.objects.get(pk=lead.pk), rep, channel="call", outcome="no_answer")
        lead.refresh_from_db()
        assert lead.stage.code == "nurture"
        close = StageChange.objects.filter(lead=lead).latest("changed_at", "id")
        actions.undo_close(lead, rep, close.pk)
        assert actions.failed_calls_so_far(Lead.objects.get(pk=lead.pk)) == 3  # the counter as it was
        assert actions.call_would_nurture(Lead.objects.get(pk=lead.pk))

    def test_only_the_person_who_closed_it_and_only_for_a_moment(self, client, rep, teammate, head):
        lead = new_lead(rep)
        actions.reject(lead, rep, "no_budget")
        close = StageChange.objects.filter(lead=lead).latest("changed_at", "id")
        for other in (teammate, head):
            client.force_login(other)
            client.post(f"/leads/{lead.pk}/do/undo/", {"change": close.pk})
            assert Lead.objects.get(pk=lead.pk).stage.code == "lost"
        with pytest.raises(actions.Conflict):
            actions.undo_close(
                lead, rep, close.pk, at=close.changed_at + actions.UNDO_WINDOW + dt.timedelta(seconds=1)
            )
        assert Lead.objects.get(pk=lead.pk).stage.code == "lost"

    @pytest.mark.parametrize("change", ["", "abc", "-1", "99999999999999999999999", "0"])
    def test_bad_input_changes_nothing(self, client, rep, change):
        lead = new_lead(rep)
        actions.reject(lead, rep, "no_budget")
        client.force_login(rep)
        response = client.post(f"/leads/{lead.pk}/do/undo/", {"change": change})
        assert response.status_code == 302
        assert Lead.objects.get(pk=lead.pk).stage.code == "lost"

    def test_the_offer_shows_once(self, client, rep):
        lead = new_lead(rep)
        client.force_login(rep)
        assert "Undo" in self.close(client, lead, "reject", {"reason": "no_budget"}).content.decode()
        assert 'name="change"' not in client.get(f"/leads/{lead.pk}/").content.decode()


# --- a risky call asks first ---------------------------------------------------------------------------


class TestRiskyCall:
    def test_a_call_that_would_nurture_a_hot_lead_needs_a_confirmation(self, client, rep):
        lead = new_lead(rep, priority="urgent")
        for _ in range(2):
            actions.log_attempt(Lead.objects.get(pk=lead.pk), rep, channel="call", outcome="no_answer")
        client.force_login(rep)
        html = card(client, lead)
        assert f'data-confirm="Lead #{lead.pk} has urgent priority' in html

        refused = client.post(
            f"/leads/{lead.pk}/do/save/", {"channel": "call", "outcome": "no_answer", "note": "third try"}
        )
        assert refused.status_code == 400
        assert Lead.objects.get(pk=lead.pk).stage.code == "lead"
        assert ContactAttempt.objects.filter(lead=lead).count() == 2  # nothing written
        assert "third try" in refused.content.decode()  # and nothing typed lost

        client.post(
            f"/leads/{lead.pk}/do/save/", {"channel": "call", "outcome": "no_answer", "confirmed": "1"}
        )
        assert Lead.objects.get(pk=lead.pk).stage.code == "nurture"

    def test_a_normal_lead_is_not_asked(self, client, rep):
        lead = new_lead(rep, priority="normal")
        for _ in range(2):
            actions.log_attempt(Lead.objects.get(pk=lead.pk), rep, channel="call", outcome="no_answer")
        client.force_login(rep)
        assert "data-confirm" not in card(client, lead).split('id="attempt-form"')[1].split("</form>")[0]
        client.post(f"/leads/{lead.pk}/do/save/", {"channel": "call", "outcome": "no_answer"})
        assert Lead.objects.get(pk=lead.pk).stage.code == "nurture"


# --- one save, nothing lost ------------------------------------------------------------------------------


class TestOneSave:
    def test_attempt_checklist_and_stage_in_one_save(self, client, rep):
        lead = new_lead(rep)
        meeting = (WED_11 + dt.timedelta(days=2)).astimezone(dt.timezone(dt.timedelta(hours=3)))
        client.force_login(rep)
        data = {
            "channel": "call",
            "outcome": "reached",
            "note": "wants a demo",
            "stage": "meeting",
            "meeting_at": meeting.strftime("%Y-%m-%dT%H:%M"),
        } | {f"criterion_{pk}": "yes" for pk in sql_criteria()}
        response = client.post(f"/leads/{lead.pk}/do/save/", data)
        assert response.status_code == 302
        lead.refresh_from_db()
        assert lead.first_contact_at is not None and lead.stage.code == "meeting"
        assert lead.qualification == "sql"
        assert (lead.next_step, lead.next_step_at) == ("meeting", meeting.replace(second=0, microsecond=0))
        assert ContactAttempt.objects.get(lead=lead).note == "wants a demo"

    def test_an_error_saves_nothing_and_keeps_what_was_typed(self, client, rep):
        lead = new_lead(rep)
        first = sql_criteria()[0]
        client.force_login(rep)
        data = {
            "channel": "call",
            "outcome": "reached",
            "note": "a long note the rep typed",
            "stage": "meeting",  # no meeting time: invalid
            f"criterion_{first}": "no",
        }
        with translation.override("en"):
            response = client.post(f"/leads/{lead.pk}/do/save/", data, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 400
        html = response.content.decode()
        assert "a long note the rep typed" in html
        assert f'name="criterion_{first}" value="no" aria-label="No:' in html and "checked" in html
        assert "Meeting at: Give the date and time of the meeting." in messages_of(response)
        assert "meeting_at" not in " ".join(messages_of(response))  # plain words, no field codes
        lead.refresh_from_db()
        assert lead.first_contact_at is None and lead.stage.code == "lead"
        assert not ContactAttempt.objects.filter(lead=lead).exists()
        assert not CriterionAnswer.objects.filter(lead=lead).exists()

    def test_saving_the_checklist_keeps_the_note_and_work_mode(self, client, rep):
        lead = new_lead(rep, stage=stage("qualification"))
        first = sql_criteria()[0]
        client.force_login(rep)
        response = client.post(
            f"/leads/{lead.pk}/do/save/",
            {
                "channel": "call",
                "note": "typed while talking",
                f"criterion_{first}": "yes",
                "work": "1",
                "save": "1",
            },
        )
        assert response.status_code == 302 and response["Location"].endswith(f"/leads/{lead.pk}/?work=1")
        assert CriterionAnswer.objects.get(lead=lead).answer == "yes"
        assert LeadEvent.objects.get(lead=lead, kind="note").data["text"] == "typed while talking"

    def test_enter_in_a_field_saves_and_logs_no_outcome(self, client, rep):
        lead = new_lead(rep)
        client.force_login(rep)
        html = card(client, lead)
        form = html.split('id="attempt-form"')[1]
        first_button = form[form.index("<button") : form.index(">", form.index("<button"))]
        assert 'name="save"' in first_button  # the default button of the form
        client.post(f"/leads/{lead.pk}/do/save/", {"channel": "call", "save": "1"})
        assert not ContactAttempt.objects.filter(lead=lead).exists()


# --- reached means stay --------------------------------------------------------------------------------------


class TestReachedMeansStay:
    def test_reached_keeps_the_rep_on_the_lead_in_work_mode(self, client, rep):
        lead = new_lead(rep)
        new_lead(rep)  # another one waiting
        client.force_login(rep)
        response = client.post(
            f"/leads/{lead.pk}/do/save/", {"channel": "call", "outcome": "reached", "work": "1"}
        )
        assert response["Location"] == f"/leads/{lead.pk}/?work=1&reached=1#after-contact"
        html = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert "after-contact" in html and "Done → next" in html

    def test_done_moves_on(self, client, rep):
        lead = new_lead(rep, stage=stage("qualification"))
        client.force_login(rep)
        response = client.post(f"/leads/{lead.pk}/do/save/", {"channel": "call", "work": "1", "done": "1"})
        assert response["Location"] == f"/queue/work/?after={lead.pk}"

    @pytest.mark.parametrize("outcome", ["no_answer", "busy", "voicemail"])
    def test_a_failed_call_still_moves_on(self, client, rep, outcome):
        lead = new_lead(rep)
        client.force_login(rep)
        response = client.post(
            f"/leads/{lead.pk}/do/save/", {"channel": "call", "outcome": outcome, "work": "1"}
        )
        assert response["Location"] == f"/queue/work/?after={lead.pk}"


# --- the next step ------------------------------------------------------------------------------------------


class TestNextStep:
    def test_an_agreed_callback_is_the_next_step_until_the_call_is_made(self, rep):
        lead = new_lead(rep)
        when = WED_11 + dt.timedelta(days=1)
        actions.log_attempt(lead, rep, channel="call", outcome="reached", callback_at=when)
        assert (Lead.objects.get(pk=lead.pk).next_step, Lead.objects.get(pk=lead.pk).next_step_at) == (
            "call",
            when,
        )
        actions.log_attempt(Lead.objects.get(pk=lead.pk), rep, channel="call", outcome="reached")
        assert Lead.objects.get(pk=lead.pk).next_step == ""

    def test_a_planned_step_shows_in_the_card_and_the_queue(self, client, rep):
        lead = reached_lead(rep)
        client.force_login(rep)
        assert "no next step — set one" in card(client, lead)
        when = (WED_11 + dt.timedelta(days=1)).astimezone(dt.timezone(dt.timedelta(hours=3)))
        client.post(
            f"/leads/{lead.pk}/do/save/", {"channel": "call", "callback_at": when.strftime("%Y-%m-%dT%H:%M")}
        )
        lead.refresh_from_db()
        assert lead.next_step == "call" and not SlaTimer.objects.filter(lead=lead, kind="callback").exists()
        html = card(client, lead)
        assert "Next step: call back" in html and "no next step" not in html
        queue = client.get("/queue/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert "call back" in queue

    def test_the_queue_orders_by_the_next_step_after_sla_urgency(self, client, rep):
        late = reached_lead(rep)
        soon = reached_lead(rep)
        none = reached_lead(rep)
        SlaTimer.objects.filter(lead__in=[late, soon, none]).update(state="met", met_at=WED_11)
        actions.plan_next_step(late, rep, "call", WED_11 + dt.timedelta(days=3))
        actions.plan_next_step(soon, rep, "meeting", WED_11 + dt.timedelta(days=1))
        waiting = new_lead(rep)  # first call due: SLA first
        client.force_login(rep)
        html = client.get("/queue/").content.decode()
        positions = [html.index(f"/leads/{lead.pk}/") for lead in (waiting, none, soon, late)]
        assert positions == sorted(positions)

    def test_a_booked_meeting_counts_in_the_reps_day(self, client, rep):
        lead = reached_lead(rep)
        actions.plan_next_step(lead, rep, "meeting", WED_11 + dt.timedelta(hours=3))
        client.force_login(rep)
        assert "1 meeting today" in client.get("/queue/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    @pytest.mark.parametrize("when", ["yesterday", "2020-01-01T10:00", "9999-01-01T10:00"])
    def test_a_next_step_in_the_past_or_far_away_is_refused(self, client, rep, when):
        lead = new_lead(rep, stage=stage("qualification"))
        client.force_login(rep)
        response = client.post(f"/leads/{lead.pk}/do/save/", {"channel": "call", "callback_at": when})
        assert response.status_code == 400
        assert Lead.objects.get(pk=lead.pk).next_step == ""


# --- who may ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "code"),
    [("teammate", 404), ("marketer", 403), ("ceo", 403), ("other_head", 404), ("head", 302), ("rep", 302)],
)
@pytest.mark.parametrize("name", ["save", "undo"])
def test_the_work_form_and_undo_per_role(client, people, who, code, name):
    lead = new_lead(people["rep"])
    actions.reject(lead, people["rep"], "no_budget") if name == "undo" else None
    change = StageChange.objects.filter(lead=lead).order_by("-id").first()
    before = Lead.objects.values().get(pk=lead.pk)
    client.force_login(people[who])
    data = {"channel": "call", "outcome": "reached"} if name == "save" else {"change": change.pk}
    response = client.post(f"/leads/{lead.pk}/do/{name}/", data)
    assert response.status_code == code
    after = Lead.objects.values().get(pk=lead.pk)
    if who == "rep":
        assert after != before  # the owner may
    elif who != "head" or name == "undo":  # a head works the team's leads, but undoes only their own closes
        assert after == before
        assert not ContactAttempt.objects.filter(lead=lead).exists()


@pytest.mark.parametrize(
    "data",
    [
        {"channel": "fax", "outcome": "reached"},
        {"channel": "call", "outcome": "teleport"},
        {"channel": "call", "outcome": "reached", "duration_seconds": "-1"},
        {"channel": "call", "outcome": "reached", "stage": "nowhere"},
        {"channel": "call", "outcome": "reached", "stage": "deal", "amount": "1e400", "margin": "x"},
        {"channel": "call", "meeting_at": "²"},
        {"channel": "call", "callback_at": "2026-13-45T99:99"},
        {"channel": "call", "criterion_abc": "yes"},
        {"channel": "call", "criterion_1": "maybe"},
        {"channel": "call", "note": "x" * 5001},
        {"channel": "call", "outcome": "reached", "note": "x" * 5001},
    ],
)
def test_bad_input_to_the_work_form_changes_nothing(client, rep, data):
    lead = new_lead(rep)
    before = Lead.objects.values().get(pk=lead.pk)
    client.force_login(rep)
    response = client.post(f"/leads/{lead.pk}/do/save/", data)
    assert response.status_code == 400
    assert any(m.level_tag == "error" for m in response.context["messages"])
    assert Lead.objects.values().get(pk=lead.pk) == before
    assert not ContactAttempt.objects.filter(lead=lead).exists()
    assert not LeadEvent.objects.filter(lead=lead).exists()
    assert not CriterionAnswer.objects.filter(lead=lead).exists()


def test_the_migration_plans_next_steps_from_what_the_history_holds(rep):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("leads.migrations.0007_undo_and_next_step")
    booked = new_lead(rep, stage=stage("meeting"))
    StageChange.objects.create(
        lead=booked,
        from_stage=stage("qualification"),
        to_stage=stage("meeting"),
        note="meeting at 2026-12-10 11:00",
    )
    called = new_lead(rep, stage=stage("qualification"))
    attempt = ContactAttempt.objects.create(
        lead=called, channel="call", outcome="busy", made_by=rep, made_at=timezone.now()
    )
    from sla.clock import start_callback_timer

    start_callback_timer(called, attempt, WED_11 + dt.timedelta(days=1))
    closed = new_lead(rep, stage=stage("lost"))
    Lead.objects.filter(pk=closed.pk).update(closed_at=closed.created_at)
    migration.plan_next_steps(apps, None)
    booked.refresh_from_db()
    assert booked.next_step == "meeting"
    assert timezone.localtime(booked.next_step_at).strftime("%Y-%m-%d %H:%M") == "2026-12-10 11:00"
    called.refresh_from_db()
    assert (called.next_step, called.next_step_at) == ("call", WED_11 + dt.timedelta(days=1))
    closed.refresh_from_db()
    assert closed.next_step == ""


# --- the review's cases ------------------------------------------------------------------------------


class TestEdges:
    def test_a_lead_with_an_undo_in_its_history_can_be_deleted(self, rep):
        lead = new_lead(rep)
        actions.reject(lead, rep, "no_budget")
        actions.undo_close(lead, rep, StageChange.objects.filter(lead=lead).latest("id").pk)
        Lead.objects.filter(pk=lead.pk).delete()
        assert not StageChange.objects.filter(lead_id=lead.pk).exists()

    def test_the_call_that_nurtures_applies_alone_and_offers_undo(self, client, rep):
        lead = new_lead(rep)
        for _ in range(2):
            actions.log_attempt(Lead.objects.get(pk=lead.pk), rep, channel="call", outcome="no_answer")
        client.force_login(rep)
        first = sql_criteria()[0]
        response = client.post(
            f"/leads/{lead.pk}/do/save/",
            {"channel": "call", "outcome": "no_answer", f"criterion_{first}": "no", "stage": "qualification"},
        )
        assert response.status_code == 302
        assert Lead.objects.get(pk=lead.pk).stage.code == "nurture"
        assert client.session["undo"]["change"] == StageChange.objects.filter(lead=lead).latest("id").pk

    def test_a_refused_save_offers_no_undo(self, client, rep):
        lead = new_lead(rep, priority="urgent")
        for _ in range(2):
            actions.log_attempt(Lead.objects.get(pk=lead.pk), rep, channel="call", outcome="no_answer")
        client.force_login(rep)
        client.post(f"/leads/{lead.pk}/do/save/", {"channel": "call", "outcome": "no_answer"})
        assert "undo" not in client.session

    def test_reached_with_the_stage_it_moves_to_anyway(self, client, rep):
        lead = new_lead(rep)
        client.force_login(rep)
        response = client.post(
            f"/leads/{lead.pk}/do/save/", {"channel": "call", "outcome": "reached", "stage": "qualification"}
        )
        assert response.status_code == 302
        assert Lead.objects.get(pk=lead.pk).stage.code == "qualification"

    def test_the_card_reads_the_policy_the_server_applies(self, client, rep):
        from sla.models import SlaPolicy

        SlaPolicy.objects.filter(is_default=True).update(failed_attempts_to_nurture=2)
        from revops import refcache

        refcache.clear()
        lead = LeadFactory(owner=rep, priority="urgent")  # no clock at all
        actions.log_attempt(lead, rep, channel="call", outcome="no_answer")
        client.force_login(rep)
        html = card(client, lead)
        assert "2 of 2 → nurture" in html and "data-confirm" in html

    def test_a_merge_is_not_undone_from_the_card(self, client, head, rep):
        from leads.merge import merge

        keep, duplicate = new_lead(rep), new_lead(rep)
        merge(keep, duplicate, head)
        close = StageChange.objects.filter(lead=duplicate).latest("id")
        assert actions.undoable_close(Lead.objects.get(pk=duplicate.pk), head) is None
        client.force_login(head)
        client.post(f"/leads/{duplicate.pk}/do/undo/", {"change": close.pk})
        assert Lead.objects.get(pk=duplicate.pk).stage.code == "lost"

    def test_an_undone_close_is_no_event_in_the_reports(self, rep):
        lead = new_lead(rep)
        actions.reject(lead, rep, "no_budget")
        actions.undo_close(lead, rep, StageChange.objects.filter(lead=lead).latest("id").pk)
        day = dt.timedelta(days=1)
        assert not Lead.objects.happened("rejected", WED_11 - day, WED_11 + day).filter(pk=lead.pk).exists()

    def test_undoing_a_nurture_withdraws_its_notifications(self, rep, marketer):
        from sla.models import Notification

        rep.email = "rep@example.com"
        rep.save()
        lead = new_lead(rep)
        actions.send_to_nurture(lead, rep, "budget next quarter")
        mail = Notification.objects.filter(lead=lead, kind="nurtured", channel="email")
        assert mail.exists() and all(n.next_attempt_at > timezone.now() for n in mail)  # held for the undo
        actions.undo_close(lead, rep, StageChange.objects.filter(lead=lead).latest("id").pk)
        assert not Notification.objects.filter(lead=lead, kind="nurtured").exists()

    def test_a_call_back_does_not_replace_a_booked_meeting(self, rep):
        lead = reached_lead(rep)
        meeting = WED_11 + dt.timedelta(days=6)
        actions.move_stage(lead, rep, "meeting", meeting_at=meeting)
        actions.log_attempt(
            Lead.objects.get(pk=lead.pk),
            rep,
            channel="call",
            outcome="reached",
            callback_at=WED_11 + dt.timedelta(days=1),
        )
        actions.log_attempt(Lead.objects.get(pk=lead.pk), rep, channel="call", outcome="reached")
        lead.refresh_from_db()
        assert (lead.next_step, lead.next_step_at) == ("meeting", meeting)

    def test_a_save_does_not_put_back_an_answer_someone_changed_since(self, client, rep, head):
        lead = reached_lead(rep)
        first, second = sql_criteria()[:2]
        client.force_login(rep)
        shown = card(client, lead)
        assert f'name="shown_criterion_{first}" value=""' in shown
        actions.answer_checklist(lead, head, {str(first): "yes"})  # meanwhile
        client.post(
            f"/leads/{lead.pk}/do/save/",
            {
                "channel": "call",
                f"shown_criterion_{first}": "",
                f"shown_criterion_{second}": "",
                f"criterion_{second}": "no",
            },
        )
        answers = dict(CriterionAnswer.objects.filter(lead=lead).values_list("criterion_id", "answer"))
        assert answers == {first: "yes", second: "no"}

    def test_planning_a_step_is_on_record(self, client, rep):
        lead = reached_lead(rep)
        actions.plan_next_step(lead, rep, "meeting", WED_11 + dt.timedelta(days=2))
        event = LeadEvent.objects.get(lead=lead, kind="planned")
        assert event.actor == rep and event.data["step"] == "meeting"
        client.force_login(rep)
        html = card(client, lead)
        assert "<strong>Next step planned</strong>" in html
        assert "meeting 27 Nov 2026" in html

    def test_the_api_shows_no_next_step_on_a_closed_lead(self, client, rep):
        lead = reached_lead(rep)
        actions.plan_next_step(lead, rep, "call", WED_11 + dt.timedelta(days=2))
        actions.reject(Lead.objects.get(pk=lead.pk), rep, "no_budget")
        client.force_login(rep)
        body = client.get(f"/api/v1/leads/{lead.pk}/").json()
        assert (body["next_step"], body["next_step_at"]) == ("", None)
