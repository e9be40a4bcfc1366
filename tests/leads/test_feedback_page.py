"""/feedback/ (marketing's page of sales' feedback) and the card's side of it:
who opens it, filters and counts, taking an item into work with a reply, the
query count, the card's feedback form and the reply on the card (issue #15)."""

import datetime as dt
import re

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from config.context_processors import navigation
from leads.feedback import leave_feedback, take_into_work
from leads.models import Feedback, FeedbackState, LeadEvent
from sla.models import Notification, NotificationChannel
from tests.factories import CampaignFactory, LeadFactory, SegmentFactory, SourceFactory

pytestmark = pytest.mark.django_db

URL = "/feedback/"
NOW = dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)  # Wednesday 11:00 in Moscow


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=True) as traveller:
        yield traveller


@pytest.fixture
def items(people, rep_lead, other_team_lead):
    mine = leave_feedback(rep_lead, people["rep"], "objection", "Дорого: сравнивают с Битрикс24")
    theirs = leave_feedback(other_team_lead, people["other_rep"], "content_request", "Нужен кейс для ритейла")
    return {"mine": mine, "theirs": theirs}


def get(client, user, url=URL):
    client.force_login(user)
    return client.get(url)


class TestWhoOpensThePage:
    @pytest.mark.parametrize(
        ("who", "status", "sees", "can_take"),
        [
            ("rep", 403, None, False),
            ("teammate", 403, None, False),
            ("head", 200, {"mine"}, False),
            ("other_head", 200, {"theirs"}, False),
            ("marketer", 200, {"mine", "theirs"}, True),
            ("marketing_head", 200, {"mine", "theirs"}, True),
            ("ceo", 200, {"mine", "theirs"}, False),
            ("admin", 200, {"mine", "theirs"}, True),
        ],
    )
    def test_per_role(self, client, people, items, who, status, sees, can_take):
        response = get(client, people[who])
        assert response.status_code == status
        if status != 200:
            return
        shown = {
            name for name, item in items.items() if f'id="feedback-{item.pk}"' in response.content.decode()
        }
        assert shown == sees
        assert ('name="reply"' in response.content.decode()) is can_take

    def test_signed_out_goes_to_sign_in(self, client):
        assert client.get(URL).status_code == 302

    @pytest.mark.parametrize(
        ("who", "offered"),
        [
            ("rep", False),
            ("head", True),
            ("marketer", True),
            ("marketing_head", True),
            ("ceo", True),
            ("admin", True),
        ],
    )
    def test_the_menu_offers_it_to_who_opens_it(self, rf, people, who, offered):
        request = rf.get("/")
        request.user = people[who]
        assert (URL in [url for _label, url in navigation(request)["nav_items"]]) is offered


class TestFiltersAndCounts:
    @pytest.fixture
    def spread(self, rep, marketer):
        yandex, seo = SourceFactory(name="Яндекс Директ"), SourceFactory(name="SEO")
        spring = CampaignFactory(source=yandex, name="Весна")
        retail = SegmentFactory()
        leads = {
            "y_spring": LeadFactory(owner=rep, source=yandex, campaign=spring, segment=retail),
            "y_plain": LeadFactory(owner=rep, source=yandex),
            "seo": LeadFactory(owner=rep, source=seo),
        }
        made = {
            "a": leave_feedback(leads["y_spring"], rep, "objection", "a"),
            "b": leave_feedback(leads["y_spring"], rep, "wrong_segment", "b"),
            "c": leave_feedback(leads["y_plain"], rep, "objection", "c"),
            "d": leave_feedback(leads["seo"], rep, "lead_quality", "d"),
        }
        Feedback.objects.filter(pk=made["d"].pk).update(created_at=NOW - dt.timedelta(days=30))
        take_into_work(made["c"], marketer, "ок")
        return {"yandex": yandex, "seo": seo, "spring": spring, "retail": retail, **made}

    def shown(self, response, spread):
        html = response.content.decode()
        return {key for key in "abcd" if f'id="feedback-{spread[key].pk}"' in html}

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("", set("abcd")),
            ("topic=objection", {"a", "c"}),
            ("state=new", {"a", "b", "d"}),
            ("state=taken", {"c"}),
            ("source={yandex}", {"a", "b", "c"}),
            ("campaign={spring}", {"a", "b"}),
            ("segment={retail}", {"a", "b"}),
            ("date_from=2026-11-01", {"a", "b", "c"}),
            ("date_to=2026-10-31", {"d"}),
            ("date_from=2026-10-26&date_to=2026-10-26", {"d"}),
            ("source={seo}&topic=objection", set()),
        ],
    )
    def test_filters(self, client, marketer, spread, query, expected):
        query = query.format(**{k: getattr(v, "pk", v) for k, v in spread.items()})
        response = get(client, marketer, f"{URL}?{query}")
        assert response.status_code == 200
        assert self.shown(response, spread) == expected

    def test_counts_per_topic_and_source_follow_the_filters(self, client, marketer, spread):
        response = get(client, marketer, f"{URL}?source={spread['yandex'].pk}")
        counts = response.context["counts"]
        assert counts["total"] == 3
        assert [(row["key"], row["count"]) for row in counts["topics"]] == [
            ("objection", 2),
            ("wrong_segment", 1),
        ]
        assert [(row["key"], row["count"]) for row in counts["sources"]] == [(spread["yandex"].pk, 3)]
        # Each count links to the list behind it, the other filters kept.
        assert f"source={spread['yandex'].pk}&amp;topic=objection" in response.content.decode()

    @pytest.mark.parametrize(
        "query",
        [
            "topic=spam",
            "state=done",
            "source=abc",
            "source=999999",
            "campaign=-1",
            "segment=1.5",
            "date_from=2026-13-01",
            "date_to=yesterday",
            "date_from=0001-01-01",
            "page=abc",
            "page=99999",
            "source=%00",
        ],
    )
    def test_bad_filters_never_fail(self, client, marketer, spread, query):
        response = get(client, marketer, f"{URL}?{query}")
        assert response.status_code == 200

    def test_an_unknown_filter_value_says_so_in_words(self, client, marketer, spread):
        with translation.override("en"):
            client.force_login(marketer)
            response = client.get(f"{URL}?topic=spam", HTTP_ACCEPT_LANGUAGE="en")
        assert 'role="alert"' in response.content.decode()

    def test_paginated(self, client, marketer, rep):
        lead = LeadFactory(owner=rep)
        for n in range(30):
            leave_feedback(lead, rep, "trust", f"пункт {n}")
        first = get(client, marketer)
        assert len(first.context["page"].object_list) == 25
        second = get(client, marketer, f"{URL}?page=2")
        assert len(second.context["page"].object_list) == 5


def count_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("who", ["marketer", "head", "ceo"])
def test_the_page_costs_the_same_queries_for_2_or_40_items(client, people, who, marketer):
    client.force_login(people[who])

    def add(n):
        for i in range(n):
            lead = LeadFactory(
                owner=people["rep"], source=SourceFactory(), campaign=None, segment=SegmentFactory()
            )
            item = leave_feedback(lead, people["rep"], ["objection", "trust", "lead_quality"][i % 3], "текст")
            if i % 2:
                take_into_work(item, marketer, "ответ")

    add(2)
    few = count_queries(client, URL)
    add(38)
    assert count_queries(client, URL) == few
    assert count_queries(client, f"{URL}?topic=trust&state=taken") == few


class TestTakingIntoWork:
    def take(self, client, user, item, data, query=""):
        client.force_login(user)
        return client.post(f"/feedback/{item.pk}/take/{query}", data)

    @pytest.mark.parametrize("who", ["marketer", "marketing_head", "admin"])
    def test_marketing_takes_with_a_reply(self, client, people, items, who):
        response = self.take(
            client, people[who], items["mine"], {"reply": "Сделаем сравнение"}, "?topic=objection"
        )
        assert response.status_code == 302
        assert response["Location"] == f"/feedback/?topic=objection#feedback-{items['mine'].pk}"
        items["mine"].refresh_from_db()
        assert (items["mine"].state, items["mine"].taken_by, items["mine"].reply) == (
            FeedbackState.TAKEN,
            people[who],
            "Сделаем сравнение",
        )
        assert (
            Notification.objects.filter(recipient=people["rep"], channel=NotificationChannel.IN_APP).count()
            == 1
        )

    @pytest.mark.parametrize(
        ("who", "item", "status"),
        [
            ("rep", "mine", 403),  # sees it (own lead), may not answer it
            ("rep", "theirs", 404),  # another team's: not even there
            ("teammate", "mine", 404),
            ("head", "mine", 403),
            ("head", "theirs", 404),
            ("ceo", "mine", 403),
        ],
    )
    def test_others_may_not(self, client, people, items, who, item, status):
        response = self.take(client, people[who], items[item], {"reply": "ответ"})
        assert response.status_code == status
        assert not Feedback.objects.filter(state=FeedbackState.TAKEN).exists()
        assert not Notification.objects.exists()

    def test_unknown_item_and_get_are_refused(self, client, marketer):
        client.force_login(marketer)
        assert client.post("/feedback/999999/take/", {"reply": "x"}).status_code == 404
        assert client.get("/feedback/999999/take/").status_code in (404, 405)

    @pytest.mark.parametrize("data", [{}, {"reply": ""}, {"reply": "   "}, {"reply": "x" * 5001}])
    def test_no_reply_comes_back_with_the_reason_and_changes_nothing(self, client, marketer, items, data):
        with translation.override("en"):
            client.force_login(marketer)
            response = client.post(
                f"/feedback/{items['mine'].pk}/take/?state=new", data, HTTP_ACCEPT_LANGUAGE="en"
            )
        assert response.status_code == 400
        html = response.content.decode()
        assert f'id="fb-error-{items["mine"].pk}"' in html
        assert 'aria-invalid="true"' in html
        items["mine"].refresh_from_db()
        assert items["mine"].state == FeedbackState.NEW
        assert not Notification.objects.exists()

    def test_a_second_taking_is_told_and_changes_nothing(self, client, marketer, marketing_head, items):
        self.take(client, marketer, items["mine"], {"reply": "первый"})
        response = self.take(client, marketing_head, items["mine"], {"reply": "второй"})
        assert response.status_code == 302
        items["mine"].refresh_from_db()
        assert (items["mine"].taken_by, items["mine"].reply) == (marketer, "первый")
        assert Notification.objects.filter(channel=NotificationChannel.IN_APP).count() == 1


class TestTheCard:
    @pytest.mark.parametrize(
        "topic", ["objection", "not_understood", "trust", "wrong_segment", "lead_quality", "content_request"]
    )
    def test_the_card_form_writes_feedback_with_each_topic(self, client, rep, rep_lead, topic):
        client.force_login(rep)
        response = client.post(f"/leads/{rep_lead.pk}/do/note/", {"topic": topic, "text": "что услышал"})
        assert response.status_code == 302
        feedback = Feedback.objects.get(lead=rep_lead)
        assert (feedback.topic, feedback.text, feedback.author) == (topic, "что услышал", rep)
        assert LeadEvent.objects.filter(lead=rep_lead, kind=LeadEvent.Kind.FEEDBACK).count() == 1

    def test_a_plain_note_is_not_feedback(self, client, rep, rep_lead):
        client.force_login(rep)
        client.post(f"/leads/{rep_lead.pk}/do/note/", {"topic": "", "text": "перезвонить после обеда"})
        assert not Feedback.objects.exists()
        assert LeadEvent.objects.filter(lead=rep_lead, kind=LeadEvent.Kind.NOTE).count() == 1

    @pytest.mark.parametrize(
        "data",
        [
            {"topic": "spam", "text": "x"},
            {"topic": "trust", "text": ""},
            {"topic": "trust", "text": "x" * 5001},
        ],
    )
    def test_bad_feedback_on_the_card_changes_nothing(self, client, rep, rep_lead, data):
        client.force_login(rep)
        response = client.post(f"/leads/{rep_lead.pk}/do/note/", data, follow=True)
        assert response.status_code == 200
        assert not Feedback.objects.exists()
        assert not LeadEvent.objects.filter(lead=rep_lead).exists()

    @pytest.mark.parametrize(("who", "status"), [("teammate", 404), ("other_head", 404), ("marketer", 403)])
    def test_who_may_not_write_on_the_lead(self, client, people, rep_lead, who, status):
        client.force_login(people[who])
        response = client.post(f"/leads/{rep_lead.pk}/do/note/", {"topic": "trust", "text": "x"})
        assert response.status_code == status
        assert not Feedback.objects.exists()

    def test_the_head_writes_on_the_teams_lead(self, client, head, rep_lead):
        client.force_login(head)
        client.post(f"/leads/{rep_lead.pk}/do/note/", {"topic": "lead_quality", "text": "мусорный лид"})
        assert Feedback.objects.get().author == head

    def test_the_card_offers_the_six_topics_also_on_a_closed_lead(self, client, rep):
        from tests.factories import stage

        lead = LeadFactory(owner=rep, stage=stage("lost"))
        response = get(client, rep, f"/leads/{lead.pk}/")
        html = response.content.decode()
        for code in ("objection", "wrong_segment", "lead_quality", "content_request"):
            assert f'<option value="{code}">' in html

    def test_the_rep_reads_the_reply_under_the_feedback_once(self, client, rep, marketer, rep_lead):
        feedback = leave_feedback(rep_lead, rep, "objection", "Дорого для малого бизнеса")
        with translation.override("en"):
            client.force_login(rep)
            before = client.get(f"/leads/{rep_lead.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert "waiting for marketing" in before
        take_into_work(feedback, marketer, "Запускаем тариф «Старт» — расскажите о нём")
        with translation.override("en"):
            html = client.get(f"/leads/{rep_lead.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert html.count("Дорого для малого бизнеса") == 1
        assert html.count("Запускаем тариф «Старт» — расскажите о нём") == 1
        assert f'id="feedback-{feedback.pk}"' in html
        assert "Marketing replied to feedback" in html
        assert "waiting for marketing" not in html

    def test_an_old_event_without_a_row_still_shows(self, client, rep, rep_lead):
        LeadEvent.objects.create(
            lead=rep_lead,
            kind=LeadEvent.Kind.FEEDBACK,
            actor=rep,
            data={"text": "старый отзыв", "topic": "trust"},
        )
        html = get(client, rep, f"/leads/{rep_lead.pk}/").content.decode()
        assert html.count("старый отзыв") == 1

    def test_the_card_costs_the_same_queries_with_feedback(self, client, rep, marketer, rep_lead):
        client.force_login(rep)
        leave_feedback(rep_lead, rep, "trust", "a")
        before = count_queries(client, f"/leads/{rep_lead.pk}/")
        for n in range(10):
            item = leave_feedback(rep_lead, rep, "objection", f"b{n}")
            take_into_work(item, marketer, "ок")
        assert count_queries(client, f"/leads/{rep_lead.pk}/") == before


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_the_pages_read_as_written_by_a_person(client, people, lang):
    """The checks of tests/revops/test_russian_pages.py over /feedback/ and the card
    with feedback: no ISO dates, codes, field names or logins, in both languages."""
    from tests.revops.test_russian_pages import Check, codes, field_names

    for user, (first, last) in zip(
        people.values(),
        [
            ("Олег", "Смирнов"),
            ("Пётр", "Ильин"),
            ("Ольга", "Носова"),
            ("Ирина", "Волкова"),
            ("Глеб", "Орлов"),
            ("Мария", "Лебедева"),
            ("Анна", "Котова"),
            ("Сергей", "Белов"),
            ("Вера", "Админова"),
        ],
        strict=True,
    ):
        user.first_name, user.last_name = first, last
        user.save()
    rep, marketer = people["rep"], people["marketer"]
    segment = SegmentFactory()
    source = SourceFactory(name="Яндекс Директ")
    lead = LeadFactory(
        owner=rep, source=source, campaign=CampaignFactory(source=source, name="Весна"), segment=segment
    )
    for topic in ("objection", "not_understood", "trust", "wrong_segment", "lead_quality", "content_request"):
        item = leave_feedback(lead, rep, topic, "Клиент сказал, что дорого")
        if topic in ("trust", "content_request"):
            take_into_work(item, marketer, "Сделаем")
    check = Check(
        lang=lang,
        fields=field_names(),
        codes=codes(lang),
        logins={  # in English the plain-word logins (rep, ceo…) are words too
            u.username for u in people.values() if lang == "ru" or re.search(r"[\d_]", u.username)
        },
    )
    client.cookies["django_language"] = lang
    visits = [
        (marketer, URL),
        (marketer, f"{URL}?topic=objection&state=new&date_from=2026-11-01"),
        (people["head"], URL),
        (people["ceo"], URL),
        (rep, f"/leads/{lead.pk}/"),
    ]
    for user, url in visits:
        client.force_login(user)
        response = client.get(url, HTTP_ACCEPT_LANGUAGE=lang)
        assert response.status_code == 200
        check.page(f"{lang} {user.username} {url}", response.content.decode())
    client.force_login(marketer)
    response = client.post(
        f"/feedback/{Feedback.objects.filter(state='new').first().pk}/take/", {"reply": ""}
    )
    check.page(f"{lang} POST take", response.content.decode())
    assert not check.found, "\n".join(check.found)
