"""Sales' feedback reaches marketing (issue #15). A rep writes feedback on a lead
(`leave_feedback`); marketing reads it at /feedback/, counted by topic and
source, and takes an item into work with a reply (`take_into_work`), which the
author reads on the card and in the bell. Pages and the API call these
functions and nothing else writes feedback."""

from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from leads.actions import Invalid
from leads.models import Feedback, FeedbackState, FeedbackTopic, Lead, LeadEvent
from leads.models.feedback import MAX_FEEDBACK_LENGTH
from revops.errors import Conflict
from revops.roles import MARKETING_ROLES, Role
from sla.models import NotificationKind
from sla.notify import notify


def can_reply(user) -> bool:
    """Marketing answers its feedback; admins may stand in."""
    return user.is_authenticated and (
        user.is_superuser or user.role in MARKETING_ROLES or user.role == Role.ADMIN
    )


def can_read_list(user) -> bool:
    """Who opens /feedback/: marketing and admins to work it, executives to read it,
    heads of sales to read what their team wrote. Reps read theirs on the cards."""
    return can_reply(user) or (user.is_authenticated and user.role in (Role.EXECUTIVE, Role.SALES_HEAD))


def clean_text(value, field: str, *, empty_message: str) -> str:
    # NUL is dropped: PostgreSQL's text columns refuse it (a 500 otherwise).
    text = value.replace("\x00", "").strip() if isinstance(value, str) else ""
    if not text:
        raise Invalid({field: [empty_message]})
    if len(text) > MAX_FEEDBACK_LENGTH:
        raise Invalid({field: [_("At most %(n)s characters.") % {"n": MAX_FEEDBACK_LENGTH}]})
    return text


def leave_feedback(lead: Lead, user, topic, text) -> Feedback:
    """Feedback from `user` (who may work `lead`; the caller checks) with its
    timeline event; nothing is written when the input is bad."""
    errors = {}
    if topic not in FeedbackTopic.values:
        errors["topic"] = [_("Choose a topic from the list.")]
    try:
        text = clean_text(text, "text", empty_message=_("Write the feedback first."))
    except Invalid as exc:
        errors |= exc.errors
    if errors:
        raise Invalid(errors)
    with transaction.atomic():
        feedback = Feedback.objects.create(lead=lead, topic=topic, text=text, author=user)
        LeadEvent.objects.create(
            lead=lead,
            kind=LeadEvent.Kind.FEEDBACK,
            actor=user,
            created_at=feedback.created_at,
            data={"text": text, "topic": topic, "feedback": feedback.pk},
        )
    return feedback


def take_into_work(feedback: Feedback, user, reply) -> Feedback:
    """Marketing takes the item into work with a reply: the lead's timeline gets
    the reply and the author a notification. Once only: a second taking (two
    marketers at once) finds the row no longer new and changes nothing."""
    reply = clean_text(reply, "reply", empty_message=_("Write a reply for the rep."))
    now = timezone.now()
    with transaction.atomic():
        taken = Feedback.objects.filter(pk=feedback.pk, state=FeedbackState.NEW).update(
            state=FeedbackState.TAKEN, taken_by=user, taken_at=now, reply=reply, replied_at=now
        )
        if not taken:
            raise Conflict(_("This feedback is already taken into work."))
        LeadEvent.objects.create(
            lead_id=feedback.lead_id,
            kind=LeadEvent.Kind.FEEDBACK_REPLY,
            actor=user,
            created_at=now,
            data={"feedback": feedback.pk, "topic": feedback.topic, "text": reply},
        )
        author = [feedback.author] if feedback.author_id and feedback.author_id != user.pk else []
        notify(
            author,
            NotificationKind.FEEDBACK_REPLY,
            lead_id=feedback.lead_id,
            event=f"feedback:{feedback.pk}",
            params={"lead": feedback.lead_id, "topic": feedback.topic},
        )
    feedback.refresh_from_db()
    return feedback


def counts(queryset) -> dict:
    """Per topic and per source over `queryset` (already filtered): two grouped
    queries in the database, whatever the number of rows."""
    topic_labels = dict(FeedbackTopic.choices)
    by_topic = {row["topic"]: row["n"] for row in queryset.order_by().values("topic").annotate(n=Count("id"))}
    by_source = queryset.order_by().values("lead__source_id", "lead__source__name").annotate(n=Count("id"))
    return {
        "total": sum(by_topic.values()),
        "topics": [
            {"key": code, "label": topic_labels[code], "count": by_topic[code]}
            for code in FeedbackTopic.values
            if by_topic.get(code)
        ],
        "sources": sorted(
            (
                {"key": row["lead__source_id"], "label": row["lead__source__name"], "count": row["n"]}
                for row in by_source
            ),
            key=lambda row: (-row["count"], row["label"] or ""),
        ),
    }


def copy_feedback_events(feedback_model, event_model) -> int:
    """Migration 0011's step, kept here so it is tested: every FEEDBACK event from
    before the Feedback table becomes a Feedback row (same lead, author, time, topic
    and text) and the event learns its row's id, so the card shows each once.
    An event whose topic is unknown or text empty stays a plain event (the card
    still shows it from its own data). Returns the number of rows made."""
    made = 0
    events = event_model.objects.filter(kind="feedback").order_by("pk")
    for event in events.iterator():
        data = event.data if isinstance(event.data, dict) else {}
        topic, text = data.get("topic"), str(data.get("text") or "").strip()
        if data.get("feedback") or topic not in FeedbackTopic.values or not text:
            continue
        row = feedback_model.objects.create(
            lead_id=event.lead_id,
            topic=topic,
            text=text[:MAX_FEEDBACK_LENGTH],
            author_id=event.actor_id,
            created_at=event.created_at,
        )
        event.data = {**data, "feedback": row.pk}
        event.save(update_fields=["data"])
        made += 1
    return made


def forget_feedback_rows(event_model) -> None:
    """The migration's way back: events lose their row's id (the table goes), so
    going forward again copies them anew rather than skipping them."""
    for event in event_model.objects.filter(kind="feedback", data__has_key="feedback").iterator():
        event.data = {key: value for key, value in event.data.items() if key != "feedback"}
        event.save(update_fields=["data"])
