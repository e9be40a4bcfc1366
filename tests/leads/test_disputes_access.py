"""Who may dispute, decide and read disputed rejections, in the browser and over
the API (DESIGN.md's lead-action rules: 404 for what one may not see, 403 for what
one sees but may not do, 400 for bad input, 409 for a state that forbids it),
and the lists' constant cost."""

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from leads import disputes
from leads.choices import DisputeState
from leads.models import LeadEvent, RejectionDispute
from tests.factories import LeadFactory, SourceFactory
from tests.leads.dispute_story import ARRIVAL, DISPUTED, rejected_lead

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clock(db):
    with time_machine.travel(ARRIVAL, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def english(client):
    # Pages in English for the assertions (LocaleMiddleware reads the header).
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def lead(people):
    return rejected_lead(people["rep"])


@pytest.fixture
def dispute(lead, people, clock):
    clock.move_to(DISPUTED)
    return disputes.open_dispute(lead, people["marketer"], "Это наш клиент")


def queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def more_disputes(people, n, clock):
    for _ in range(n):
        clock.move_to(ARRIVAL)
        lead = rejected_lead(people["rep"], source=SourceFactory())
        clock.move_to(DISPUTED)
        disputes.open_dispute(lead, people["marketing_head"], "наш")


class TestCard:
    @pytest.mark.parametrize(
        ("who", "code"),
        [
            ("marketer", 302),
            ("marketing_head", 302),
            ("admin", 302),
            ("rep", 403),  # sees the own lead, may not dispute
            ("head", 403),
            ("ceo", 403),
            ("other_rep", 404),
            ("other_head", 404),
        ],
    )
    def test_who_disputes_on_the_card(self, client, people, lead, who, code):
        client.force_login(people[who])
        response = client.post(f"/disputes/lead/{lead.pk}/", {"comment": "наш"})
        assert response.status_code == code
        assert RejectionDispute.objects.exists() is (code == 302)

    def test_marketing_sees_the_form_on_a_lost_lead_only(self, client, people, lead):
        client.force_login(people["marketer"])
        with translation.override("en"):
            assert "Dispute the rejection" in client.get(f"/leads/{lead.pk}/").content.decode()
            open_lead = LeadFactory(owner=people["rep"])
            assert "Dispute the rejection" not in client.get(f"/leads/{open_lead.pk}/").content.decode()
        client.force_login(people["rep"])
        with translation.override("en"):
            assert "Dispute the rejection" not in client.get(f"/leads/{lead.pk}/").content.decode()

    @pytest.mark.parametrize("comment", ["", "   ", "x" * 5001])
    def test_bad_input_is_explained_and_changes_nothing(self, client, people, lead, comment):
        client.force_login(people["marketer"])
        response = client.post(f"/disputes/lead/{lead.pk}/", {"comment": comment}, follow=True)
        assert response.status_code == 200
        assert [m.level_tag for m in response.context["messages"]] == ["error"]
        assert not RejectionDispute.objects.exists()

    def test_a_foreign_or_missing_id_is_404(self, client, people):
        client.force_login(people["marketer"])
        assert client.post("/disputes/lead/999999/", {"comment": "x"}).status_code == 404
        assert client.post("/disputes/999999/decide/", {"outcome": "upheld"}).status_code == 404

    @pytest.mark.parametrize(
        ("who", "code"),
        [
            ("head", 302),
            ("admin", 302),
            ("marketer", 403),
            ("ceo", 403),  # not escalated yet
            ("rep", 404),
            ("other_head", 404),
            ("other_rep", 404),
        ],
    )
    def test_who_decides_on_the_card(self, client, people, dispute, who, code):
        client.force_login(people[who])
        response = client.post(f"/disputes/{dispute.pk}/decide/", {"outcome": "overturned"})
        assert response.status_code == code
        dispute.refresh_from_db()
        assert (dispute.state == DisputeState.OVERTURNED) is (code == 302)

    def test_the_head_sees_uphold_and_overturn_and_everyone_the_state(self, client, people, dispute, lead):
        with translation.override("en"):
            client.force_login(people["head"])
            page = client.get(f"/leads/{lead.pk}/").content.decode()
            assert "Uphold the rejection" in page and "Overturn: back to sales" in page
            for who in ("rep", "marketer", "ceo"):
                client.force_login(people[who])
                page = client.get(f"/leads/{lead.pk}/").content.decode()
                assert "Awaiting decision" in page and "Это наш клиент" in page
                assert "Uphold the rejection" not in page

    def test_a_bad_outcome_is_explained_and_changes_nothing(self, client, people, dispute):
        client.force_login(people["head"])
        response = client.post(f"/disputes/{dispute.pk}/decide/", {"outcome": "bogus"}, follow=True)
        assert response.status_code == 200
        dispute.refresh_from_db()
        assert dispute.state == DisputeState.OPEN

    def test_the_card_costs_the_same_queries_with_disputes(self, client, people, lead, clock):
        client.force_login(people["head"])
        before = queries(client, f"/leads/{lead.pk}/")
        clock.move_to(DISPUTED)
        dispute = disputes.open_dispute(lead, people["marketer"], "наш")
        disputes.decide(dispute, people["head"], DisputeState.UPHELD)
        assert queries(client, f"/leads/{lead.pk}/") <= before + 1  # the dispute's own decider


class TestPage:
    @pytest.mark.parametrize(
        ("who", "code", "seen"),
        [
            ("rep", 403, None),
            ("teammate", 403, None),
            ("head", 200, True),
            ("other_head", 200, False),
            ("marketer", 200, True),
            ("marketing_head", 200, True),
            ("ceo", 200, True),
            ("admin", 200, True),
        ],
    )
    def test_who_reads_the_list(self, client, people, dispute, who, code, seen):
        client.force_login(people[who])
        response = client.get("/disputes/")
        assert response.status_code == code
        if seen is not None:
            assert (f"/leads/{dispute.lead_id}/" in response.content.decode()) is seen

    def test_the_state_filter_and_the_deadline_in_words(self, client, people, dispute):
        client.force_login(people["marketer"])
        with translation.override("en"):
            page = client.get("/disputes/?state=open").content.decode()
            # Opened Wed 12:00, now Wed 12:00: 16 working hours → Friday 12:00, 2 days of clock time left.
            assert "decide by 13 Feb 2026, 12:00 · 2 d 0 h left" in page
            assert f"/leads/{dispute.lead_id}/" not in client.get("/disputes/?state=upheld").content.decode()
        assert client.get("/disputes/?state=bogus").status_code == 200  # the form says what is wrong
        assert client.get("/disputes/?team=abc").status_code == 200

    def test_the_list_costs_the_same_queries_for_few_or_many(self, client, people, dispute, clock):
        client.force_login(people["marketer"])
        few = queries(client, "/disputes/")
        more_disputes(people, 6, clock)
        for row in RejectionDispute.objects.all()[:3]:
            disputes.decide(row, people["head"], DisputeState.UPHELD, "нет")
        assert queries(client, "/disputes/") == few

    def test_the_menu_offers_it_to_those_who_read_it(self, client, people):
        from django.test import RequestFactory

        from config.context_processors import navigation

        for who, offered in [("rep", False), ("head", True), ("marketer", True), ("ceo", True)]:
            request = RequestFactory().get("/")
            request.user = people[who]
            urls = [url for _label, url in navigation(request)["nav_items"]]
            assert ("/disputes/" in urls) is offered


class TestApi:
    @pytest.mark.parametrize(
        ("who", "code"),
        [
            ("marketer", 201),
            ("marketing_head", 201),
            ("admin", 201),
            ("rep", 403),
            ("head", 403),
            ("ceo", 403),
            ("other_rep", 404),
            ("other_head", 404),
        ],
    )
    def test_who_disputes(self, api, people, lead, who, code):
        api.force_authenticate(people[who])
        response = api.post(f"/api/v1/leads/{lead.pk}/dispute/", {"comment": "наш"}, format="json")
        assert response.status_code == code
        if code == 201:
            body = response.json()
            assert body["state"] == "open" and body["rejection_reason"] == "not_target"
            assert body["rejected_from"] == "qualification" and body["lead"] == lead.pk

    @pytest.mark.parametrize(
        "body",
        [{}, {"comment": ""}, {"comment": "x" * 5001}, {"comment": "x", "extra": 1}, {"comment": ["x"]}],
    )
    def test_bad_input_is_400_and_changes_nothing(self, api, people, lead, body):
        api.force_authenticate(people["marketer"])
        response = api.post(f"/api/v1/leads/{lead.pk}/dispute/", body, format="json")
        assert response.status_code == 400
        assert not RejectionDispute.objects.exists()
        assert not LeadEvent.objects.filter(kind=LeadEvent.Kind.DISPUTED).exists()

    def test_a_state_that_forbids_it_is_409(self, api, people, lead):
        api.force_authenticate(people["marketer"])
        open_lead = LeadFactory(owner=people["rep"])
        assert (
            api.post(f"/api/v1/leads/{open_lead.pk}/dispute/", {"comment": "x"}, format="json").status_code
            == 409
        )
        assert (
            api.post(f"/api/v1/leads/{lead.pk}/dispute/", {"comment": "x"}, format="json").status_code == 201
        )
        assert (
            api.post(f"/api/v1/leads/{lead.pk}/dispute/", {"comment": "y"}, format="json").status_code == 409
        )

    @pytest.mark.parametrize("pk", ["999999", "abc", "1.5", "99999999999999999999999"])
    def test_foreign_ids_are_404(self, api, people, pk):
        api.force_authenticate(people["marketer"])
        assert api.post(f"/api/v1/leads/{pk}/dispute/", {"comment": "x"}, format="json").status_code == 404
        api.force_authenticate(people["head"])
        assert (
            api.post(f"/api/v1/disputes/{pk}/decide/", {"outcome": "upheld"}, format="json").status_code
            == 404
        )

    @pytest.mark.parametrize(
        ("who", "code", "count"),
        [
            ("rep", 403, None),
            ("head", 200, 1),
            ("other_head", 200, 0),
            ("marketer", 200, 1),
            ("ceo", 200, 1),
            ("admin", 200, 1),
        ],
    )
    def test_who_lists(self, api, people, dispute, who, code, count):
        api.force_authenticate(people[who])
        response = api.get("/api/v1/disputes/")
        assert response.status_code == code
        if count is not None:
            assert response.json()["count"] == count

    def test_filters(self, api, people, dispute, lead, team_b):
        api.force_authenticate(people["marketer"])
        assert api.get("/api/v1/disputes/?state=open").json()["count"] == 1
        assert api.get("/api/v1/disputes/?state=upheld").json()["count"] == 0
        assert api.get(f"/api/v1/disputes/?source={lead.source_id}").json()["count"] == 1
        assert api.get(f"/api/v1/disputes/?team={lead.team_id}").json()["count"] == 1
        assert api.get(f"/api/v1/disputes/?team={team_b.pk}").json()["count"] == 0
        for bad in ("state=bogus", "team=abc", "source=-1"):
            response = api.get(f"/api/v1/disputes/?{bad}")
            assert response.status_code == 400, bad

    @pytest.mark.parametrize(
        ("who", "code"),
        [("head", 200), ("admin", 200), ("marketer", 403), ("ceo", 403), ("rep", 403), ("other_head", 404)],
    )
    def test_who_decides(self, api, people, dispute, lead, who, code):
        api.force_authenticate(people[who])
        response = api.post(
            f"/api/v1/disputes/{dispute.pk}/decide/", {"outcome": "overturned"}, format="json"
        )
        assert response.status_code == code
        lead.refresh_from_db()
        assert (lead.stage.code == "qualification") is (code == 200)
        if code == 200:
            assert response.json()["state"] == "overturned"

    @pytest.mark.parametrize(
        "body", [{}, {"outcome": "open"}, {"outcome": "upheld", "comment": "x" * 5001}, {"outcome": 1}]
    )
    def test_a_bad_decision_is_400(self, api, people, dispute, body):
        api.force_authenticate(people["head"])
        assert api.post(f"/api/v1/disputes/{dispute.pk}/decide/", body, format="json").status_code == 400
        dispute.refresh_from_db()
        assert dispute.state == DisputeState.OPEN

    def test_deciding_twice_is_409(self, api, people, dispute):
        api.force_authenticate(people["head"])
        url = f"/api/v1/disputes/{dispute.pk}/decide/"
        assert api.post(url, {"outcome": "upheld"}, format="json").status_code == 200
        assert api.post(url, {"outcome": "overturned"}, format="json").status_code == 409

    def test_an_escalated_dispute_is_the_executives_too(self, api, people, dispute):
        RejectionDispute.objects.filter(pk=dispute.pk).update(escalated_at=dispute.decide_by)
        api.force_authenticate(people["ceo"])
        response = api.post(f"/api/v1/disputes/{dispute.pk}/decide/", {"outcome": "upheld"}, format="json")
        assert response.status_code == 200

    def test_the_list_costs_the_same_queries_for_few_or_many(self, api, people, dispute, clock):
        api.force_authenticate(people["marketer"])

        def count():
            with CaptureQueriesContext(connection) as ctx:
                assert api.get("/api/v1/disputes/").status_code == 200
            return len(ctx.captured_queries)

        few = count()
        more_disputes(people, 6, clock)
        assert count() == few


def test_the_teams_time_to_decide_is_edited_in_the_admin(client, people, team_a):
    client.force_login(people["admin"])
    page = client.get(f"/admin/revops/team/{team_a.pk}/change/").content.decode()
    assert 'name="dispute_working_hours"' in page and 'value="16"' in page


def test_the_head_decides_from_the_list_too(client, people, dispute, lead):
    client.force_login(people["marketer"])
    assert "Uphold the rejection" not in client.get("/disputes/").content.decode()
    client.force_login(people["head"])
    assert "Uphold the rejection" in client.get("/disputes/").content.decode()
    response = client.post(f"/disputes/{dispute.pk}/decide/", {"outcome": "upheld", "from": "list"})
    assert response.status_code == 302 and response["Location"] == "/disputes/"
    dispute.refresh_from_db()
    assert dispute.state == DisputeState.UPHELD
