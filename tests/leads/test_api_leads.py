"""GET/PATCH /api/v1/leads/: who sees what, filters, errors, query counts."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leads.models import Lead, LeadEvent
from revops.models import ApiToken
from tests.factories import CampaignFactory, LeadFactory, ProductFactory, SegmentFactory, SourceFactory, stage

pytestmark = pytest.mark.django_db

URL = "/api/v1/leads/"

# Who sees which of: the rep's lead, the teammate's lead, team B's lead, an
# unassigned lead of team A.
VISIBILITY = {
    "rep": {"rep"},
    "teammate": {"teammate"},
    "other_rep": {"other"},
    "head": {"rep", "teammate", "unassigned_a"},
    "other_head": {"other"},
    "marketer": {"rep", "teammate", "other", "unassigned_a"},
    "marketing_head": {"rep", "teammate", "other", "unassigned_a"},
    "ceo": {"rep", "teammate", "other", "unassigned_a"},
    "admin": {"rep", "teammate", "other", "unassigned_a"},
}


@pytest.fixture
def leads(people, team_a):
    return {
        "rep": LeadFactory(owner=people["rep"]),
        "teammate": LeadFactory(owner=people["teammate"]),
        "other": LeadFactory(owner=people["other_rep"]),
        "unassigned_a": LeadFactory(owner=None, team=team_a),
    }


@pytest.mark.parametrize("who", VISIBILITY)
def test_each_role_lists_only_the_leads_it_may_see(api, people, leads, who):
    api.force_authenticate(people[who])
    response = api.get(URL)
    assert response.status_code == 200
    seen = {row["id"] for row in response.json()["results"]}
    assert seen == {leads[name].pk for name in VISIBILITY[who]}


@pytest.mark.parametrize("who", VISIBILITY)
def test_each_role_opens_only_visible_leads_and_gets_404_for_the_rest(api, people, leads, who):
    api.force_authenticate(people[who])
    for name, lead in leads.items():
        response = api.get(f"{URL}{lead.pk}/")
        assert response.status_code == (200 if name in VISIBILITY[who] else 404), name


def test_anonymous_callers_are_refused(api, leads):
    assert api.get(URL).status_code == 401
    assert api.get(f"{URL}{leads['rep'].pk}/").status_code == 401


def test_a_token_from_the_auth_endpoint_opens_the_api(api, rep, leads):
    response = api.post("/api/v1/auth/token/", {"username": "rep", "password": "pw"}, format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    assert ApiToken.objects.get(user=rep).digest == ApiToken.digest_of(token)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert [r["id"] for r in api.get(URL).json()["results"]] == [leads["rep"].pk]


def test_the_token_endpoint_refuses_wrong_passwords_with_a_clear_error(api, rep):
    response = api.post("/api/v1/auth/token/", {"username": "rep", "password": "nope"}, format="json")
    assert response.status_code == 400
    assert "non_field_errors" in response.json()
    assert api.post("/api/v1/auth/token/", {}, format="json").status_code == 400


def test_a_lead_shows_the_contract_fields(api, rep):
    campaign = CampaignFactory()
    product = ProductFactory(code="crm")
    lead = LeadFactory(owner=rep, source=campaign.source, campaign=campaign, product=product, priority="high")
    api.force_authenticate(rep)
    data = api.get(f"{URL}{lead.pk}/").json()
    assert data["id"] == lead.pk
    assert data["name"] == lead.contact.name
    assert data["company"] == lead.contact.company
    assert data["phone"] == lead.contact.phone
    assert data["email"] == lead.contact.email
    assert data["source"] == campaign.source_id
    assert data["campaign"] == campaign.pk
    assert data["product"] == "crm"
    assert data["owner"] == rep.pk
    assert data["team"] == rep.team_id
    assert data["stage"] == "lead"
    assert data["furthest_stage"] == "lead"
    assert data["status"] == "open"
    assert data["qualification"] == "none"
    assert data["priority"] == "high"
    assert data["rejection_reason"] is None
    assert data["created_at"]
    assert "sla" in data


def test_unknown_product_codes_show_as_sent(api, rep):
    lead = LeadFactory(owner=rep, product=None, product_text="mystery-box")
    api.force_authenticate(rep)
    assert api.get(f"{URL}{lead.pk}/").json()["product"] == "mystery-box"


class TestFilters:
    @pytest.fixture
    def world(self, people, team_a):
        src1, src2 = SourceFactory(code="seo"), SourceFactory(code="vk")
        seg = SegmentFactory()
        camp = CampaignFactory(source=src2)
        now = timezone.now()
        return {
            "a": LeadFactory(owner=people["rep"], source=src1, created_at=now - dt.timedelta(days=10)),
            "b": LeadFactory(
                owner=people["teammate"], source=src2, campaign=camp, segment=seg, stage=stage("meeting")
            ),
            "c": LeadFactory(
                owner=None, team=team_a, source=src2, stage=stage("lost"), furthest_stage=stage("lead")
            ),
            "src2": src2,
            "seg": seg,
            "camp": camp,
        }

    def ids(self, api, query):
        response = api.get(URL, query)
        assert response.status_code == 200, response.json()
        return {row["id"] for row in response.json()["results"]}

    def test_by_stage_status_owner_source_campaign_segment(self, api, ceo, world, people):
        api.force_authenticate(ceo)
        a, b, c = world["a"].pk, world["b"].pk, world["c"].pk
        assert self.ids(api, {"stage": "meeting"}) == {b}
        assert self.ids(api, {"status": "open"}) == {a, b}
        assert self.ids(api, {"status": "lost"}) == {c}
        assert self.ids(api, {"owner": "none"}) == {c}
        assert self.ids(api, {"owner": people["rep"].pk}) == {a}
        assert self.ids(api, {"source": world["src2"].pk}) == {b, c}
        assert self.ids(api, {"campaign": world["camp"].pk}) == {b}
        assert self.ids(api, {"segment": world["seg"].pk}) == {b}

    def test_by_arrival_dates_in_the_company_time_zone(self, api, ceo, world):
        api.force_authenticate(ceo)
        today = timezone.localdate()
        a = world["a"].pk
        assert a not in self.ids(api, {"created_after": str(today - dt.timedelta(days=5))})
        assert self.ids(api, {"created_before": str(today - dt.timedelta(days=10))}) == {a}

    def test_search_by_name_company_phone_email(self, api, ceo, world):
        api.force_authenticate(ceo)
        contact = world["a"].contact
        contact.name, contact.company, contact.phone, contact.email = (
            "Ирина Соколова",
            "ООО «Вектор»",
            "+79031112233",
            "irina@vector.ru",
        )
        contact.save()
        for term in ["Соколова", "вектор", "8 903 111-22-33", "1112233", "IRINA@vector"]:
            assert self.ids(api, {"search": term}) == {world["a"].pk}, term

    @pytest.mark.parametrize(
        ("query", "field"),
        [
            ({"stage": "nonsense"}, "stage"),
            ({"status": "closed"}, "status"),
            ({"owner": "abc"}, "owner"),
            ({"owner": "-1"}, "owner"),
            ({"source": "999999"}, "source"),
            ({"created_after": "yesterday"}, "created_after"),
            ({"created_before": "2026-13-01"}, "created_before"),
        ],
    )
    def test_bad_filters_answer_400_naming_the_field(self, api, ceo, world, query, field):
        api.force_authenticate(ceo)
        response = api.get(URL, query)
        assert response.status_code == 400
        assert field in response.json()


def test_pages_are_capped_at_200(api, ceo):
    LeadFactory.create_batch(3)
    api.force_authenticate(ceo)
    data = api.get(URL, {"page_size": 2}).json()
    assert data["count"] == 3 and len(data["results"]) == 2 and data["next"]
    assert api.get(URL, {"page_size": 100000}).status_code == 200
    assert api.get(URL, {"page": 99}).status_code == 404


@pytest.mark.parametrize("who", ["rep", "head", "ceo"])
def test_the_list_costs_the_same_number_of_queries_for_3_or_60_leads(api, people, who):
    def count_queries():
        api.force_authenticate(people[who])
        with CaptureQueriesContext(connection) as ctx:
            assert api.get(URL, {"page_size": 200}).status_code == 200
        return len(ctx.captured_queries)

    campaign = CampaignFactory()
    LeadFactory.create_batch(3, owner=people["rep"], campaign=campaign, product=ProductFactory())
    few = count_queries()
    LeadFactory.create_batch(57, owner=people["rep"], campaign=campaign, product=ProductFactory())
    many = count_queries()
    assert few == many


class TestPatch:
    def test_a_rep_edits_own_lead_and_the_change_is_audited(self, api, rep, rep_lead):
        segment = SegmentFactory()
        product = ProductFactory(code="wms")
        api.force_authenticate(rep)
        response = api.patch(
            f"{URL}{rep_lead.pk}/",
            {"priority": "urgent", "segment": segment.pk, "product": "wms", "company": "ООО «Новое имя»"},
            format="json",
        )
        assert response.status_code == 200, response.json()
        assert response.json()["priority"] == "urgent"
        assert response.json()["company"] == "ООО «Новое имя»"
        rep_lead.refresh_from_db()
        assert (rep_lead.priority, rep_lead.segment, rep_lead.product) == ("urgent", segment, product)
        event = LeadEvent.objects.get(lead=rep_lead)
        assert event.actor == rep
        assert event.data["changes"]["priority"] == ["normal", "urgent"]

    def test_an_unchanged_patch_writes_no_history(self, api, rep, rep_lead):
        api.force_authenticate(rep)
        assert api.patch(f"{URL}{rep_lead.pk}/", {"priority": "normal"}, format="json").status_code == 200
        assert not LeadEvent.objects.exists()

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"priority": "asap"}, "priority"),
            ({"segment": 999999}, "segment"),
            ({"product": "no-such-product"}, "product"),
            ({"fit": "perhaps"}, "fit"),
            ({"stage": "deal"}, "stage"),
            ({"owner": 1}, "owner"),
            ({"id": 5}, "id"),
            ({"company": "x" * 201}, "company"),
        ],
    )
    def test_bad_input_is_refused_per_field_and_changes_nothing(self, api, rep, rep_lead, body, field):
        api.force_authenticate(rep)
        before = Lead.objects.values().get(pk=rep_lead.pk)
        response = api.patch(f"{URL}{rep_lead.pk}/", {"priority": "high", **body}, format="json")
        assert response.status_code == 400
        assert field in response.json()
        assert Lead.objects.values().get(pk=rep_lead.pk) == before

    @pytest.mark.parametrize("body", ["not json", "[1, 2]", "null"])
    def test_malformed_bodies_answer_400(self, api, rep, rep_lead, body):
        api.force_authenticate(rep)
        response = api.patch(f"{URL}{rep_lead.pk}/", body, content_type="application/json")
        assert response.status_code == 400

    @pytest.mark.parametrize(
        ("who", "expected"),
        [
            ("rep", 200),
            ("teammate", 404),
            ("other_rep", 404),
            ("head", 200),
            ("other_head", 404),
            ("marketer", 403),
            ("marketing_head", 403),
            ("ceo", 403),
            ("admin", 200),
        ],
    )
    def test_who_may_edit_the_reps_lead(self, api, people, who, expected):
        lead = LeadFactory(owner=people["rep"])
        api.force_authenticate(people[who])
        response = api.patch(f"{URL}{lead.pk}/", {"priority": "high"}, format="json")
        assert response.status_code == expected
        lead.refresh_from_db()
        assert lead.priority == ("high" if expected == 200 else "normal")

    def test_put_and_delete_are_not_offered(self, api, rep, rep_lead):
        api.force_authenticate(rep)
        assert api.put(f"{URL}{rep_lead.pk}/", {}, format="json").status_code == 405
        assert api.delete(f"{URL}{rep_lead.pk}/").status_code == 405
        assert api.post(URL, {}, format="json").status_code == 405
