"""Feedback over the REST API (issue #15): GET /api/v1/feedback/ per role and
filter, POST /api/v1/leads/{id}/feedback/ and POST /api/v1/feedback/{id}/reply/ —
who may, what bad input gets (400 per field, nothing changes), constant queries,
and the schema."""

import datetime as dt
import threading

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from leads.feedback import leave_feedback, take_into_work
from leads.models import Feedback, FeedbackState, LeadEvent
from revops.models import User
from sla.models import Notification, NotificationChannel, NotificationKind
from tests.conftest import skip_or_fail
from tests.factories import CampaignFactory, LeadFactory, SegmentFactory, SourceFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/feedback/"
NOW = dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)  # Wednesday 11:00 in Moscow


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=True) as traveller:
        yield traveller


def as_(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def items(people, rep_lead, other_team_lead):
    return {
        "mine": leave_feedback(rep_lead, people["rep"], "objection", "Дорого"),
        "theirs": leave_feedback(other_team_lead, people["other_rep"], "trust", "Кейсы помогли"),
    }


class TestList:
    @pytest.mark.parametrize(
        ("who", "sees"),
        [
            ("rep", {"mine"}),
            ("teammate", set()),
            ("other_rep", {"theirs"}),
            ("head", {"mine"}),
            ("other_head", {"theirs"}),
            ("marketer", {"mine", "theirs"}),
            ("marketing_head", {"mine", "theirs"}),
            ("ceo", {"mine", "theirs"}),
            ("admin", {"mine", "theirs"}),
        ],
    )
    def test_each_role_sees_its_rows(self, people, items, who, sees):
        response = as_(people[who]).get(LIST)
        assert response.status_code == 200
        ids = {row["id"] for row in response.json()["results"]}
        assert ids == {items[name].pk for name in sees}

    def test_a_row_carries_what_marketing_steers_by(self, rep, marketer):
        source = SourceFactory()
        campaign = CampaignFactory(source=source)
        segment = SegmentFactory()
        lead = LeadFactory(owner=rep, source=source, campaign=campaign, segment=segment)
        item = take_into_work(
            leave_feedback(lead, rep, "content_request", "Нужен кейс"), marketer, "Будет в марте"
        )
        row = as_(marketer).get(LIST).json()["results"][0]
        assert row == {
            "id": item.pk,
            "lead": lead.pk,
            "topic": "content_request",
            "text": "Нужен кейс",
            "author": rep.pk,
            "created_at": row["created_at"],
            "source": source.pk,
            "campaign": campaign.pk,
            "segment": segment.pk,
            "state": "taken",
            "taken_by": marketer.pk,
            "taken_at": row["taken_at"],
            "reply": "Будет в марте",
            "replied_at": row["replied_at"],
        }
        assert row["taken_at"] and row["replied_at"]

    def test_filters_like_the_page(self, rep, marketer):
        source = SourceFactory()
        lead = LeadFactory(owner=rep, source=source)
        a = leave_feedback(lead, rep, "objection", "a")
        b = leave_feedback(LeadFactory(owner=rep), rep, "objection", "b")
        take_into_work(b, marketer, "ок")
        client = as_(marketer)

        def ids(query):
            response = client.get(f"{LIST}?{query}")
            assert response.status_code == 200
            return {row["id"] for row in response.json()["results"]}

        assert ids(f"source={source.pk}") == {a.pk}
        assert ids("state=taken") == {b.pk}
        assert ids("topic=objection&state=new") == {a.pk}
        assert ids("date_from=2026-11-25&date_to=2026-11-25") == {a.pk, b.pk}
        assert ids("date_to=2026-11-24") == set()

    @pytest.mark.parametrize(
        ("query", "field"),
        [
            ("topic=spam", "topic"),
            ("state=done", "state"),
            ("source=abc", "source"),
            ("source=999999", "source"),
            ("campaign=-3", "campaign"),
            ("segment=1.5", "segment"),
            ("date_from=2026-02-30", "date_from"),
            ("date_to=soon", "date_to"),
        ],
    )
    def test_bad_filters_are_400_per_field(self, marketer, items, query, field):
        response = as_(marketer).get(f"{LIST}?{query}")
        assert response.status_code == 400
        assert field in response.json()

    @pytest.mark.parametrize("who", ["marketer", "head", "rep"])
    def test_constant_queries(self, people, marketer, who):
        client = as_(people[who])

        def add(n):
            for i in range(n):
                lead = LeadFactory(owner=people["rep"], source=SourceFactory(), segment=SegmentFactory())
                item = leave_feedback(lead, people["rep"], "trust", "x")
                if i % 2:
                    take_into_work(item, marketer, "ок")

        def cost():
            with CaptureQueriesContext(connection) as ctx:
                assert client.get(LIST).status_code == 200
            return len(ctx.captured_queries)

        add(2)
        few = cost()
        add(30)
        assert cost() == few

    def test_detail_hides_what_one_may_not_see(self, people, items):
        assert as_(people["rep"]).get(f"{LIST}{items['mine'].pk}/").status_code == 200
        assert as_(people["rep"]).get(f"{LIST}{items['theirs'].pk}/").status_code == 404
        assert as_(people["marketer"]).get(f"{LIST}abc/").status_code == 404

    def test_signed_out_is_refused(self, items):
        assert APIClient().get(LIST).status_code in (401, 403)


class TestLeaveOnALead:
    def url(self, lead):
        return f"/api/v1/leads/{lead.pk}/feedback/"

    @pytest.mark.parametrize(
        ("who", "status"),
        [
            ("rep", 201),
            ("head", 201),
            ("admin", 201),
            ("teammate", 404),
            ("other_rep", 404),
            ("other_head", 404),
            ("marketer", 403),
            ("marketing_head", 403),
            ("ceo", 403),
        ],
    )
    def test_who_may_write(self, people, rep_lead, who, status):
        response = as_(people[who]).post(
            self.url(rep_lead), {"topic": "wrong_segment", "text": "Это розница"}, format="json"
        )
        assert response.status_code == status
        assert Feedback.objects.count() == (1 if status == 201 else 0)
        if status == 201:
            data = response.json()
            assert (data["lead"], data["topic"], data["text"], data["state"], data["author"]) == (
                rep_lead.pk,
                "wrong_segment",
                "Это розница",
                "new",
                people[who].pk,
            )
            assert LeadEvent.objects.filter(lead=rep_lead, kind=LeadEvent.Kind.FEEDBACK).count() == 1

    @pytest.mark.parametrize(
        ("body", "fields"),
        [
            ({}, {"topic", "text"}),
            ({"topic": "spam", "text": "x"}, {"topic"}),
            ({"topic": "trust"}, {"text"}),
            ({"topic": "trust", "text": ""}, {"text"}),
            ({"topic": "trust", "text": "   "}, {"text"}),
            ({"topic": "trust", "text": "x" * 5001}, {"text"}),
            ({"topic": ["trust"], "text": "x"}, {"topic"}),
            ({"topic": "trust", "text": {"a": 1}}, {"text"}),
            ({"topic": "trust", "text": "x", "author": 1}, {"author"}),
            ({"topic": None, "text": None}, {"topic", "text"}),
        ],
    )
    def test_bad_input_is_400_per_field_and_writes_nothing(self, rep, rep_lead, body, fields):
        response = as_(rep).post(self.url(rep_lead), body, format="json")
        assert response.status_code == 400
        assert set(response.json()) == fields
        assert not Feedback.objects.exists()
        assert not LeadEvent.objects.exists()

    def test_a_body_that_is_not_an_object_is_400(self, rep, rep_lead):
        response = as_(rep).post(self.url(rep_lead), ["trust"], format="json")
        assert response.status_code == 400
        response = as_(rep).post(self.url(rep_lead), "{not json", content_type="application/json")
        assert response.status_code == 400
        assert not Feedback.objects.exists()

    def test_unknown_lead_is_404(self, rep):
        assert (
            as_(rep).post("/api/v1/leads/999999/feedback/", {"topic": "trust", "text": "x"}).status_code
            == 404
        )


class TestReply:
    def url(self, item):
        return f"/api/v1/feedback/{item.pk}/reply/"

    @pytest.mark.parametrize("who", ["marketer", "marketing_head", "admin"])
    def test_marketing_replies_and_the_author_hears_once(self, people, items, who):
        response = as_(people[who]).post(
            self.url(items["mine"]), {"reply": "Добавим FAQ о цене"}, format="json"
        )
        assert response.status_code == 200
        data = response.json()
        assert (data["state"], data["reply"], data["taken_by"]) == (
            "taken",
            "Добавим FAQ о цене",
            people[who].pk,
        )
        notes = Notification.objects.filter(
            kind=NotificationKind.FEEDBACK_REPLY, channel=NotificationChannel.IN_APP
        )
        assert [(n.recipient, n.lead_id) for n in notes] == [(people["rep"], items["mine"].lead_id)]
        assert LeadEvent.objects.filter(kind=LeadEvent.Kind.FEEDBACK_REPLY).count() == 1

    @pytest.mark.parametrize(
        ("who", "item", "status"),
        [
            ("rep", "mine", 403),
            ("rep", "theirs", 404),
            ("teammate", "mine", 404),
            ("head", "mine", 403),
            ("other_head", "mine", 404),
            ("ceo", "mine", 403),
        ],
    )
    def test_others_may_not(self, people, items, who, item, status):
        response = as_(people[who]).post(self.url(items[item]), {"reply": "ответ"}, format="json")
        assert response.status_code == status
        assert not Feedback.objects.filter(state=FeedbackState.TAKEN).exists()
        assert not Notification.objects.exists()

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"reply": ""},
            {"reply": "  "},
            {"reply": None},
            {"reply": "x" * 5001},
            {"reply": "ok", "state": "new"},
        ],
    )
    def test_bad_input_is_400_and_changes_nothing(self, marketer, items, body):
        response = as_(marketer).post(self.url(items["mine"]), body, format="json")
        assert response.status_code == 400
        assert set(response.json()) <= {"reply", "state"} and response.json()
        items["mine"].refresh_from_db()
        assert items["mine"].state == FeedbackState.NEW
        assert not Notification.objects.exists()

    def test_a_second_reply_is_409_and_changes_nothing(self, marketer, marketing_head, items):
        as_(marketer).post(self.url(items["mine"]), {"reply": "первый"}, format="json")
        response = as_(marketing_head).post(self.url(items["mine"]), {"reply": "второй"}, format="json")
        assert response.status_code == 409
        items["mine"].refresh_from_db()
        assert items["mine"].reply == "первый"
        assert Notification.objects.filter(channel=NotificationChannel.IN_APP).count() == 1

    def test_unknown_or_malformed_ids_are_404(self, marketer):
        client = as_(marketer)
        assert client.post("/api/v1/feedback/999999/reply/", {"reply": "x"}, format="json").status_code == 404
        assert client.post("/api/v1/feedback/abc/reply/", {"reply": "x"}, format="json").status_code == 404


def test_the_schema_lists_the_feedback_endpoints(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    assert "get" in paths["/api/v1/feedback/"]
    assert "post" in paths["/api/v1/feedback/{id}/reply/"]
    assert "post" in paths["/api/v1/leads/{id}/feedback/"]
    params = {p["name"] for p in paths["/api/v1/feedback/"]["get"]["parameters"]}
    assert {"date_from", "date_to", "source", "campaign", "segment", "topic", "state"} <= params


class TestCounts:
    URL = "/api/v1/feedback/counts/"

    @pytest.fixture
    def spread(self, people, marketer):
        yandex, seo = SourceFactory(name="Яндекс Директ"), SourceFactory(name="SEO")
        rep, other = people["rep"], people["other_rep"]
        for owner, source, topic in [
            (rep, yandex, "objection"),
            (rep, yandex, "objection"),
            (rep, seo, "trust"),
            (other, seo, "objection"),
        ]:
            leave_feedback(LeadFactory(owner=owner, source=source), owner, topic, "x")
        return {"yandex": yandex, "seo": seo}

    def test_marketing_counts_everything(self, marketer, spread):
        data = as_(marketer).get(self.URL).json()
        assert data["total"] == 4
        assert [(row["key"], row["count"]) for row in data["topics"]] == [("objection", 3), ("trust", 1)]
        assert [(row["key"], row["count"]) for row in data["sources"]] == [
            (spread["seo"].pk, 2),
            (spread["yandex"].pk, 2),
        ]

    @pytest.mark.parametrize(("who", "total"), [("rep", 3), ("teammate", 0), ("head", 3), ("other_head", 1)])
    def test_each_role_counts_what_it_sees(self, people, spread, who, total):
        assert as_(people[who]).get(self.URL).json()["total"] == total

    def test_the_filters_apply(self, marketer, spread):
        data = as_(marketer).get(f"{self.URL}?source={spread['yandex'].pk}&topic=objection").json()
        assert data["total"] == 2
        assert [row["label"] for row in data["sources"]] == ["Яндекс Директ"]

    @pytest.mark.parametrize("query", ["topic=spam", "source=x", "date_from=2026-02-30"])
    def test_bad_filters_are_400(self, marketer, spread, query):
        assert as_(marketer).get(f"{self.URL}?{query}").status_code == 400

    def test_constant_queries(self, marketer, spread, people):
        client = as_(marketer)

        def cost():
            with CaptureQueriesContext(connection) as ctx:
                assert client.get(self.URL).status_code == 200
            return len(ctx.captured_queries)

        few = cost()
        for _ in range(10):
            leave_feedback(
                LeadFactory(owner=people["rep"], source=SourceFactory()), people["rep"], "trust", "x"
            )
        assert cost() == few


ON_POSTGRES = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
concurrent_db = pytest.mark.django_db(transaction=True) if ON_POSTGRES else pytest.mark.django_db


@pytest.mark.postgres
@concurrent_db
def test_concurrent_replies_take_the_item_once(rep, marketer, marketing_head, admin_user, rep_lead):
    if connection.vendor != "postgresql":
        skip_or_fail("needs PostgreSQL (concurrent requests on their own connections)")
    item = leave_feedback(rep_lead, rep, "objection", "Дорого")
    repliers = [marketer, marketing_head, admin_user]
    barrier = threading.Barrier(len(repliers))
    codes, errors = [], []

    def reply(user_pk, text):
        try:
            api = APIClient(raise_request_exception=False)
            api.force_authenticate(User.objects.get(pk=user_pk))
            barrier.wait(timeout=10)
            codes.append(
                api.post(f"/api/v1/feedback/{item.pk}/reply/", {"reply": text}, format="json").status_code
            )
        except Exception as exc:  # a failure of the harness itself
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=reply, args=(u.pk, f"ответ {u.username}")) for u in repliers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert sorted(codes) == [200, 409, 409]
    assert LeadEvent.objects.filter(kind=LeadEvent.Kind.FEEDBACK_REPLY).count() == 1
    assert Notification.objects.filter(recipient=rep, channel=NotificationChannel.IN_APP).count() == 1
