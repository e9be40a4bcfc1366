"""Marketing's own rows about a person and what a nurture track does to them:
the separate consent to advertising (Federal Law 38-FZ, art. 18), an
unsubscribe that is kept for good, the outbox of track emails and the tasks a
track gives marketers (leads.tracks)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from leads.models.lead import Contact, InboundRequest, Lead
from leads.models.reference import _values
from leads.models.tracks import NurtureStep, TrackEnrollment


class MarketingConsent(models.Model):
    """Consent to advertising, given with one request and recorded apart from
    the processing consent (leads.models.intake.Consent): which text (version)
    the person agreed to, when and from which address. A track emails only a
    contact who has one and has not unsubscribed."""

    contact = models.ForeignKey(
        Contact, verbose_name=_("contact"), on_delete=models.CASCADE, related_name="marketing_consents"
    )
    request = models.OneToOneField(
        InboundRequest,
        verbose_name=_("request"),
        on_delete=models.CASCADE,
        related_name="marketing_consent",
    )
    text_version = models.CharField(_("consent text version"), max_length=100, blank=True)
    given_at = models.DateTimeField(_("given"), default=timezone.now)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    class Meta:
        verbose_name = _("consent to advertising")
        verbose_name_plural = _("consents to advertising")
        ordering = ["-given_at"]

    def __str__(self):
        return f"{self.contact} · {self.text_version}"


class Unsubscribe(models.Model):
    """A person said "no more marketing email". One row per contact, never
    deleted by intake or import: a later request or file with a consent does
    not subscribe them again (only they could, and no page offers it)."""

    contact = models.OneToOneField(
        Contact, verbose_name=_("contact"), on_delete=models.CASCADE, related_name="unsubscribe"
    )
    # The address the link was sent to, kept as the person saw it.
    email = models.EmailField(_("email"), max_length=254, blank=True)
    created_at = models.DateTimeField(_("unsubscribed"), default=timezone.now)

    class Meta:
        verbose_name = _("unsubscribe")
        verbose_name_plural = _("unsubscribes")
        ordering = ["-created_at"]

    def __str__(self):
        return str(self.contact)


class TrackEmailState(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    SENT = "sent", _("Sent")
    CANCELLED = "cancelled", _("Not sent")
    FAILED = "failed", _("Failed")


class TrackEmail(models.Model):
    """The outbox of track emails. A row is written in the same transaction
    that moves the enrollment past its email step, so a step makes one email
    whatever runs at once; delivery (leads.tracks.deliver_due) claims each row
    with a conditional update and sends it through Django's email backend. An
    unsubscribe cancels the rows not sent yet."""

    State = TrackEmailState

    enrollment = models.ForeignKey(
        TrackEnrollment, verbose_name=_("lead on a track"), on_delete=models.CASCADE, related_name="emails"
    )
    step = models.ForeignKey(
        NurtureStep,
        verbose_name=_("step"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    lead = models.ForeignKey(Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(
        Contact, verbose_name=_("contact"), on_delete=models.CASCADE, related_name="+"
    )
    to = models.EmailField(_("to"), max_length=254)
    subject = models.CharField(_("subject"), max_length=300)
    body = models.TextField(_("text"))
    state = models.CharField(
        _("state"), max_length=10, choices=TrackEmailState.choices, default=TrackEmailState.PENDING
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # A worker's hold on the row; a worker killed mid-way leaves one that expires.
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name = _("track email")
        verbose_name_plural = _("track emails")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="trackemail_due_idx",
                condition=Q(state=TrackEmailState.PENDING),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=_values(TrackEmailState)), name="trackemail_state_valid"
            ),
            # One email per step of an enrollment, whatever runs twice.
            models.UniqueConstraint(fields=["enrollment", "step"], name="trackemail_one_per_step"),
            models.CheckConstraint(
                condition=~Q(state=TrackEmailState.SENT) | Q(sent_at__isnull=False),
                name="trackemail_sent_dated",
            ),
        ]

    def __str__(self):
        return f"#{self.lead_id} {self.subject}"


class MarketingTask(models.Model):
    """Something a track asks a marketer to do for a lead (call, send a case
    study…); open until someone marks it done on /nurture/tasks/."""

    lead = models.ForeignKey(Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="+")
    enrollment = models.ForeignKey(
        TrackEnrollment, verbose_name=_("lead on a track"), on_delete=models.CASCADE, related_name="tasks"
    )
    step = models.ForeignKey(
        NurtureStep,
        verbose_name=_("step"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    text = models.CharField(_("task"), max_length=500)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("done by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )

    class Meta:
        verbose_name = _("marketing task")
        verbose_name_plural = _("marketing tasks")
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["created_at"], name="marketingtask_open_idx", condition=Q(done_at__isnull=True)
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["enrollment", "step"], name="marketingtask_one_per_step"),
            models.CheckConstraint(
                condition=Q(done_by__isnull=True) | Q(done_at__isnull=False), name="marketingtask_done_dated"
            ),
        ]

    def __str__(self):
        return f"#{self.lead_id} {self.text}"
