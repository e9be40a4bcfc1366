"""Sales' feedback for marketing (issue #15): the Feedback row, its topics and
states held by the database, leaving feedback and taking it into work with a
reply (leads/feedback.py), and the copy of the feedback events written before
the table existed (migration 0011)."""

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone, translation

from leads.actions import Invalid
from leads.feedback import (
    can_read_list,
    can_reply,
    copy_feedback_events,
    counts,
    forget_feedback_rows,
    leave_feedback,
    take_into_work,
)
from leads.models import Feedback, FeedbackState, FeedbackTopic, LeadEvent
from revops.errors import Conflict
from sla.messages import link, title
from sla.models import Notification, NotificationChannel, NotificationKind
from tests.factories import LeadFactory, SourceFactory

pytestmark = pytest.mark.django_db


def test_six_topics_the_three_old_codes_kept():
    assert FeedbackTopic.values == [
        "objection",
        "not_understood",
        "trust",
        "wrong_segment",
        "lead_quality",
        "content_request",
    ]
    with translation.override("en"):
        assert FeedbackTopic.WRONG_SEGMENT.label == "Wrong segment"
        assert FeedbackTopic.CONTENT_REQUEST.label == "Content request"
    with translation.override("ru"):
        assert str(FeedbackTopic.LEAD_QUALITY.label) != "Lead quality"  # translated


class TestLeaveFeedback:
    def test_writes_the_row_and_its_timeline_event(self, rep, rep_lead):
        feedback = leave_feedback(rep_lead, rep, "wrong_segment", "  Это розница, не наш сегмент  ")
        assert (feedback.topic, feedback.text, feedback.author, feedback.state) == (
            "wrong_segment",
            "Это розница, не наш сегмент",
            rep,
            FeedbackState.NEW,
        )
        event = LeadEvent.objects.get(lead=rep_lead, kind=LeadEvent.Kind.FEEDBACK)
        assert event.data == {
            "text": "Это розница, не наш сегмент",
            "topic": "wrong_segment",
            "feedback": feedback.pk,
        }
        assert event.actor == rep

    @pytest.mark.parametrize(
        ("topic", "text", "fields"),
        [
            ("", "текст", {"topic"}),
            ("spam", "текст", {"topic"}),
            (None, "текст", {"topic"}),
            (["objection"], "текст", {"topic"}),
            ("objection", "", {"text"}),
            ("objection", "   \n ", {"text"}),
            ("objection", None, {"text"}),
            ("objection", 42, {"text"}),
            ("objection", "x" * 5001, {"text"}),
            ("nope", "", {"topic", "text"}),
        ],
    )
    def test_bad_input_names_the_field_and_writes_nothing(self, rep, rep_lead, topic, text, fields):
        with pytest.raises(Invalid) as caught:
            leave_feedback(rep_lead, rep, topic, text)
        assert set(caught.value.errors) == fields
        assert not Feedback.objects.exists()
        assert not LeadEvent.objects.filter(kind=LeadEvent.Kind.FEEDBACK).exists()


class TestTakeIntoWork:
    def test_the_reply_reaches_the_lead_and_its_author_once(self, rep, marketer, rep_lead):
        feedback = leave_feedback(rep_lead, rep, "objection", "Дорого по сравнению с Битрикс24")
        taken = take_into_work(feedback, marketer, " Добавим сравнение цен на лендинг ")
        assert taken.state == FeedbackState.TAKEN
        assert (taken.taken_by, taken.reply) == (marketer, "Добавим сравнение цен на лендинг")
        assert taken.taken_at == taken.replied_at is not None
        event = LeadEvent.objects.get(lead=rep_lead, kind=LeadEvent.Kind.FEEDBACK_REPLY)
        assert (event.actor, event.data["feedback"]) == (marketer, feedback.pk)
        in_app = Notification.objects.filter(
            kind=NotificationKind.FEEDBACK_REPLY, channel=NotificationChannel.IN_APP
        )
        assert [(n.recipient, n.lead_id) for n in in_app] == [(rep, rep_lead.pk)]
        with translation.override("en"):
            assert title(in_app[0]) == f"Marketing replied to your feedback on lead #{rep_lead.pk}"
        assert link(in_app[0]) == f"/leads/{rep_lead.pk}/"

    def test_a_second_taking_changes_nothing_and_notifies_nobody_again(
        self, rep, marketer, marketing_head, rep_lead
    ):
        feedback = leave_feedback(rep_lead, rep, "trust", "Помогли кейсы")
        take_into_work(feedback, marketer, "Спасибо, сделаем больше кейсов")
        with pytest.raises(Conflict):
            take_into_work(feedback, marketing_head, "Другой ответ")
        feedback.refresh_from_db()
        assert (feedback.taken_by, feedback.reply) == (marketer, "Спасибо, сделаем больше кейсов")
        assert LeadEvent.objects.filter(kind=LeadEvent.Kind.FEEDBACK_REPLY).count() == 1
        assert (
            Notification.objects.filter(channel=NotificationChannel.IN_APP, kind="feedback_reply").count()
            == 1
        )

    @pytest.mark.parametrize("reply", ["", "   ", None, 7, "x" * 5001])
    def test_a_bad_reply_changes_nothing(self, rep, marketer, rep_lead, reply):
        feedback = leave_feedback(rep_lead, rep, "trust", "Помогли кейсы")
        with pytest.raises(Invalid) as caught:
            take_into_work(feedback, marketer, reply)
        assert set(caught.value.errors) == {"reply"}
        feedback.refresh_from_db()
        assert feedback.state == FeedbackState.NEW
        assert not Notification.objects.exists()
        assert not LeadEvent.objects.filter(kind=LeadEvent.Kind.FEEDBACK_REPLY).exists()

    def test_no_notification_to_oneself_or_to_a_deleted_author(self, admin_user, marketer, rep, rep_lead):
        own = leave_feedback(rep_lead, admin_user, "trust", "сам написал")
        take_into_work(own, admin_user, "сам ответил")
        orphan = leave_feedback(rep_lead, rep, "trust", "автор ушёл")
        Feedback.objects.filter(pk=orphan.pk).update(author=None)
        orphan.refresh_from_db()
        take_into_work(orphan, marketer, "ответ")
        assert not Notification.objects.exists()


class TestDatabaseHoldsTheRules:
    def make(self, lead, **fields):
        with transaction.atomic():
            return Feedback.objects.create(lead=lead, **{"topic": "trust", "text": "x", **fields})

    @pytest.mark.parametrize(
        "fields",
        [
            {"topic": "spam"},
            {"text": ""},
            {"state": "done"},
            {"state": "taken"},  # taken without a reply
            {"state": "taken", "taken_at": timezone.now(), "replied_at": timezone.now(), "reply": ""},
            {"state": "new", "reply": "ответ без взятия"},
            {"state": "new", "taken_at": timezone.now()},
        ],
    )
    def test_refuses_what_the_code_never_writes(self, rep_lead, fields):
        with pytest.raises(IntegrityError):
            self.make(rep_lead, **fields)

    def test_accepts_a_proper_taken_row(self, rep_lead):
        now = timezone.now()
        row = self.make(rep_lead, state="taken", taken_at=now, replied_at=now, reply="ok")
        assert row.pk


class TestWhoMay:
    @pytest.mark.parametrize(
        ("who", "reply", "read"),
        [
            ("rep", False, False),
            ("head", False, True),
            ("marketer", True, True),
            ("marketing_head", True, True),
            ("ceo", False, True),
            ("admin", True, True),
        ],
    )
    def test_roles(self, people, who, reply, read):
        assert can_reply(people[who]) is reply
        assert can_read_list(people[who]) is read

    def test_feedback_is_seen_as_its_lead(self, people, rep_lead, other_team_lead):
        mine = leave_feedback(rep_lead, people["rep"], "trust", "a")
        theirs = leave_feedback(other_team_lead, people["other_rep"], "trust", "b")
        seen = {who: set(Feedback.objects.visible_to(user)) for who, user in people.items()}
        assert seen["rep"] == {mine}
        assert seen["teammate"] == set()
        assert seen["other_rep"] == {theirs}
        assert seen["head"] == {mine}
        assert seen["other_head"] == {theirs}
        for who in ("marketer", "marketing_head", "ceo", "admin"):
            assert seen[who] == {mine, theirs}


def test_counts_per_topic_and_source_in_two_queries(django_assert_num_queries, rep):
    yandex, seo = SourceFactory(name="Яндекс Директ"), SourceFactory(name="SEO")
    for source, topics in ((yandex, ["objection", "objection", "trust"]), (seo, ["objection"])):
        lead = LeadFactory(owner=rep, source=source)
        for topic in topics:
            leave_feedback(lead, rep, topic, "текст")
    with django_assert_num_queries(2):
        summary = counts(Feedback.objects.all())
    assert summary["total"] == 4
    assert [(row["key"], row["count"]) for row in summary["topics"]] == [("objection", 3), ("trust", 1)]
    assert [(row["label"], row["count"]) for row in summary["sources"]] == [("Яндекс Директ", 3), ("SEO", 1)]


class TestCopyOfOldEvents:
    def old_event(self, lead, user, **data):
        return LeadEvent.objects.create(lead=lead, kind=LeadEvent.Kind.FEEDBACK, actor=user, data=data)

    def test_each_old_event_becomes_one_row_once(self, rep, rep_lead):
        at = timezone.now() - timezone.timedelta(days=40)
        old = self.old_event(rep_lead, rep, text="Не поняли тариф", topic="not_understood")
        LeadEvent.objects.filter(pk=old.pk).update(created_at=at)
        self.old_event(rep_lead, None, text="Кто-то уволился", topic="objection")
        note = LeadEvent.objects.create(
            lead=rep_lead, kind=LeadEvent.Kind.NOTE, data={"text": "просто заметка"}
        )
        new = leave_feedback(rep_lead, rep, "trust", "уже новая")  # already has its row

        assert copy_feedback_events(Feedback, LeadEvent) == 2
        assert copy_feedback_events(Feedback, LeadEvent) == 0  # run twice: nothing doubles

        rows = {row.text: row for row in Feedback.objects.all()}
        assert set(rows) == {"Не поняли тариф", "Кто-то уволился", "уже новая"}
        copied = rows["Не поняли тариф"]
        assert (copied.lead, copied.author, copied.topic, copied.created_at, copied.state) == (
            rep_lead,
            rep,
            "not_understood",
            at,
            FeedbackState.NEW,
        )
        assert rows["Кто-то уволился"].author is None
        old.refresh_from_db()
        assert old.data == {"text": "Не поняли тариф", "topic": "not_understood", "feedback": copied.pk}
        note.refresh_from_db()
        assert "feedback" not in note.data
        assert rows["уже новая"] == new
        # The events stay for the timeline: each feedback once there too.
        assert LeadEvent.objects.filter(kind=LeadEvent.Kind.FEEDBACK).count() == 3

    def test_an_event_that_cannot_be_a_row_stays_an_event(self, rep, rep_lead):
        self.old_event(rep_lead, rep, text="", topic="objection")
        self.old_event(rep_lead, rep, text="тема потерялась", topic="mystery")
        assert copy_feedback_events(Feedback, LeadEvent) == 0
        assert LeadEvent.objects.filter(kind=LeadEvent.Kind.FEEDBACK).count() == 2

    def test_the_way_back_forgets_the_rows_so_forward_copies_again(self, rep, rep_lead):
        self.old_event(rep_lead, rep, text="Дорого", topic="objection")
        copy_feedback_events(Feedback, LeadEvent)
        forget_feedback_rows(LeadEvent)
        Feedback.objects.all().delete()  # the table goes on the way back
        assert copy_feedback_events(Feedback, LeadEvent) == 1
