"""Sales' feedback for marketing (issue #15): what a rep heard on a lead, by topic,
and marketing's answer. One row per piece of feedback; the lead's timeline keeps
its FEEDBACK event beside it (data["feedback"] is this row's id), as the audit of
who wrote it when."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from leads.models.lead import Lead
from leads.models.reference import _values
from revops.roles import RowVisibilityQuerySet

# A card's note and marketing's reply alike: long enough for a story, short enough to read.
MAX_FEEDBACK_LENGTH = 5000


class FeedbackTopic(models.TextChoices):
    # The first three are the card's topics since before #15; their codes are in old events.
    OBJECTION = "objection", _("Objection heard")
    NOT_UNDERSTOOD = "not_understood", _("Not understood in the offer")
    TRUST = "trust", _("What built trust")
    WRONG_SEGMENT = "wrong_segment", _("Wrong segment")
    LEAD_QUALITY = "lead_quality", _("Lead quality")
    CONTENT_REQUEST = "content_request", _("Content request")


class FeedbackState(models.TextChoices):
    # Taking an item into work needs a reply, so the rep always learns what
    # marketing does with it (a silent "seen" teaches reps to stop writing).
    NEW = "new", pgettext_lazy("feedback", "New")
    TAKEN = "taken", pgettext_lazy("feedback", "Taken into work")


class FeedbackQuerySet(RowVisibilityQuerySet):
    """Feedback is seen as its lead is: a rep on own leads, a head on the team's,
    marketing, executives and admins all of it."""

    owner_field = "lead__owner_id"
    team_field = "lead__team_id"


class Feedback(models.Model):
    lead = models.ForeignKey(Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="feedback")
    topic = models.CharField(_("topic"), max_length=20, choices=FeedbackTopic.choices)
    text = models.TextField(_("text"), max_length=MAX_FEEDBACK_LENGTH)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("written"), default=timezone.now)
    state = models.CharField(
        _("state"), max_length=10, choices=FeedbackState.choices, default=FeedbackState.NEW
    )
    taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("taken by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    taken_at = models.DateTimeField(_("taken into work"), null=True, blank=True)
    reply = models.TextField(_("reply"), max_length=MAX_FEEDBACK_LENGTH, blank=True)
    # Today a reply comes with the taking (leads/feedback.py), so both times agree;
    # they are apart because they answer different questions ("since when in
    # work", "when did the rep hear back").
    replied_at = models.DateTimeField(_("replied"), null=True, blank=True)

    objects = FeedbackQuerySet.as_manager()

    class Meta:
        verbose_name = _("feedback")
        verbose_name_plural = _("feedback")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["created_at"], name="feedback_created_idx"),
            models.Index(fields=["state", "created_at"], name="feedback_state_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(topic__in=_values(FeedbackTopic)), name="feedback_topic_valid"
            ),
            models.CheckConstraint(
                condition=Q(state__in=_values(FeedbackState)), name="feedback_state_valid"
            ),
            models.CheckConstraint(condition=~Q(text=""), name="feedback_text_required"),
            # New: nothing of marketing's side yet. Taken: when, and the reply the rep reads.
            models.CheckConstraint(
                condition=(
                    Q(state=FeedbackState.NEW, taken_at__isnull=True, replied_at__isnull=True, reply="")
                    | (
                        Q(state=FeedbackState.TAKEN, taken_at__isnull=False, replied_at__isnull=False)
                        & ~Q(reply="")
                    )
                ),
                name="feedback_taken_has_reply",
            ),
        ]

    def __str__(self):
        return f"#{self.lead_id} {self.get_topic_display()}"
