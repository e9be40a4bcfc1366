"""People and leads: contacts, the lead and its history (requests, stage changes,
events, checklist answers, contact attempts) and deals."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from leads.choices import (
    Answer,
    AttemptChannel,
    AttemptOutcome,
    DealStatus,
    EntryChannel,
    Fit,
    NextStep,
    Priority,
    Qualification,
    StageKind,
)
from leads.models.reference import (
    Campaign,
    Product,
    QualificationCriterion,
    RejectionReason,
    Segment,
    Source,
    Stage,
    _values,
)
from leads.steps import FunnelStepsQuerySet
from revops import display
from revops.roles import RowVisibilityQuerySet


class Contact(models.Model):
    """A person at a company. Phone (E.164) and email are normalised and unique,
    so every request from the same person finds the same contact."""

    name = models.CharField(_("full name"), max_length=200, blank=True)
    company = models.CharField(_("company"), max_length=200, blank=True)
    position = models.CharField(_("job title"), max_length=200, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    email = models.EmailField(_("email"), max_length=254, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["phone"], condition=~Q(phone=""), name="contact_phone_unique"),
            models.UniqueConstraint(fields=["email"], condition=~Q(email=""), name="contact_email_unique"),
            models.CheckConstraint(condition=~Q(phone="") | ~Q(email=""), name="contact_reachable"),
            # E.164: a plus and 8–15 digits (normalisation guarantees it; the database insists).
            models.CheckConstraint(
                condition=Q(phone="") | Q(phone__regex=r"^\+[1-9][0-9]{7,14}$"), name="contact_phone_e164"
            ),
            models.CheckConstraint(condition=~Q(email__regex=r"[A-Z]"), name="contact_email_lowercase"),
        ]

    def __str__(self):
        return self.name or self.company or self.phone or self.email


# The funnel's step definitions (leads/steps.py) are LeadQuerySet methods, shared
# by the lead list's FilterSet and reports/.
class LeadQuerySet(FunnelStepsQuerySet, RowVisibilityQuerySet):
    def open(self):
        return self.filter(stage_id__in=Stage.ids_of(StageKind.OPEN))

    def changeable_by(self, user):
        """Leads `user` may edit: the visible ones, for roles that work leads."""
        if not user.is_authenticated or not user.can_work_leads:
            return self.none()
        return self.visible_to(user)

    def disputed(self, state: str = "any", reason_code: str | None = None):
        """Leads whose rejection marketing disputed (leads.report_keys.dispute_condition)."""
        from leads.report_keys import dispute_condition

        return self.filter(dispute_condition(state, reason_code))

    def with_related(self):
        return self.select_related(
            "contact", "stage", "furthest_stage", "rejection_reason", "product", "owner", "source", "campaign"
        )


class Lead(models.Model):
    contact = models.ForeignKey(
        Contact, verbose_name=_("contact"), on_delete=models.PROTECT, related_name="leads"
    )
    source = models.ForeignKey(
        Source, verbose_name=_("source"), on_delete=models.PROTECT, related_name="leads", db_index=False
    )
    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="leads",
        db_index=False,
    )
    channel = models.CharField(_("entry channel"), max_length=20, choices=EntryChannel.choices)
    utm_source = models.CharField("utm_source", max_length=200, blank=True)
    utm_medium = models.CharField("utm_medium", max_length=200, blank=True)
    utm_campaign = models.CharField("utm_campaign", max_length=200, blank=True)
    utm_content = models.CharField("utm_content", max_length=200, blank=True)
    utm_term = models.CharField("utm_term", max_length=200, blank=True)
    landing_page = models.URLField(_("landing page"), max_length=2000, blank=True)
    product = models.ForeignKey(
        Product,
        verbose_name=_("product"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="leads",
    )
    # A product code we did not recognise is kept as it came, for marketing to map later.
    product_text = models.CharField(_("product as sent"), max_length=200, blank=True)
    comment = models.TextField(_("client's comment"), blank=True)
    segment = models.ForeignKey(
        Segment,
        verbose_name=_("segment"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="leads",
    )
    fit = models.CharField(_("fit"), max_length=20, choices=Fit.choices, blank=True, default=Fit.UNKNOWN)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="owned_leads",
        db_index=False,
    )
    team = models.ForeignKey(
        "revops.Team",
        verbose_name=_("team"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="leads",
        db_index=False,
    )
    stage = models.ForeignKey(
        Stage, verbose_name=_("stage"), on_delete=models.PROTECT, related_name="+", db_index=False
    )
    furthest_stage = models.ForeignKey(
        Stage, verbose_name=_("furthest stage"), on_delete=models.PROTECT, related_name="+", db_index=False
    )
    qualification = models.CharField(
        _("qualification"), max_length=4, choices=Qualification.choices, default=Qualification.NONE
    )
    priority = models.CharField(
        _("priority"), max_length=10, choices=Priority.choices, default=Priority.NORMAL
    )
    rejection_reason = models.ForeignKey(
        RejectionReason,
        verbose_name=_("rejection reason"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="leads",
        db_index=False,
    )
    rejection_comment = models.TextField(_("rejection comment"), blank=True)
    nurture_reason = models.CharField(_("why in nurture"), max_length=300, blank=True)
    # The listed reason (a track picks its leads by it); nurture_reason keeps the rep's words.
    nurture_cause = models.ForeignKey(
        "leads.NurtureReason",
        verbose_name=_("nurture reason"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="leads",
        db_index=False,
    )
    nurture_until = models.DateField(_("return from nurture on"), null=True, blank=True)
    # The last return from nurture (leads.returns.return_from_nurture): the card
    # marks an open lead "back from nurture".
    returned_at = models.DateTimeField(_("back from nurture"), null=True, blank=True)
    is_returning = models.BooleanField(
        _("returning contact"), default=False, help_text=_("The contact had a closed lead before this one.")
    )
    created_at = models.DateTimeField(_("arrived"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    first_contact_at = models.DateTimeField(_("first contact"), null=True, blank=True)
    qualified_at = models.DateTimeField(_("qualified"), null=True, blank=True)
    stage_changed_at = models.DateTimeField(_("stage changed"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    # The dated next step of an open lead: an agreed call-back or a booked meeting
    # (leads.actions keeps it: set by a callback or a meeting, cleared when done or closed).
    next_step = models.CharField(_("next step"), max_length=20, choices=NextStep.choices, blank=True)
    next_step_at = models.DateTimeField(_("next step at"), null=True, blank=True)

    objects = LeadQuerySet.as_manager()

    # Indexes: the foreign keys that the composite indexes below start with
    # (owner, team, source, campaign, stage) have no index of their own, and the
    # furthest stage (a small table, grouped in reports, never looked up) has none
    # either: every index costs each insert at intake. The rejection reason's index
    # is partial, over rejected leads only, so intake never writes it.
    class Meta:
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="lead_created_idx"),
            models.Index(fields=["owner", "-created_at"], name="lead_owner_created_idx"),
            models.Index(fields=["team", "-created_at"], name="lead_team_created_idx"),
            models.Index(fields=["source", "created_at"], name="lead_source_created_idx"),
            models.Index(fields=["campaign", "created_at"], name="lead_campaign_created_idx"),
            models.Index(fields=["stage", "owner"], name="lead_stage_owner_idx"),
            # The lead's source and team beside its id, so a list counted by source
            # (/feedback/) or filtered by team (/disputes/ for a head) reads them from
            # this index for its few thousand leads instead of reading the whole lead
            # table: 530 → 71 ms and 208 → 43 ms at 1,000,000 leads (bench/pages.py).
            # PostgreSQL only; elsewhere the INCLUDE is dropped.
            models.Index(fields=["id"], include=["source", "team"], name="lead_by_id_idx"),
            # /nurture/'s order (leads.nurture_page.nurtured_leads): its first page from
            # the index instead of sorting every lead in nurture (4.1 s → 2 ms at
            # 1,000,000 leads, bench/pages.py); the columns its filters and a head's
            # team narrow by ride along, so counting a filtered page reads the index
            # alone (head 131 → 67 ms, a reason 121 → 44 ms).
            models.Index(
                fields=["stage", "nurture_until", "stage_changed_at", "id"],
                include=["team", "nurture_cause", "source", "owner"],
                name="lead_nurture_order_idx",
            ),
            # Rejected leads only (a new lead has no reason, so intake never writes it):
            # reports exclude the few duplicates from deals and timers without reading
            # every lead (LeadQuerySet.duplicates, ReportParams.lead_rows).
            models.Index(
                fields=["rejection_reason", "id"],  # the ids straight from the index
                name="lead_rejection_reason_idx",
                condition=Q(rejection_reason__isnull=False),
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(channel__in=_values(EntryChannel)), name="lead_channel_valid"),
            models.CheckConstraint(condition=Q(fit__in=_values(Fit)), name="lead_fit_valid"),
            models.CheckConstraint(
                condition=Q(qualification__in=_values(Qualification)), name="lead_qualification_valid"
            ),
            models.CheckConstraint(condition=Q(priority__in=_values(Priority)), name="lead_priority_valid"),
            models.CheckConstraint(
                condition=Q(first_contact_at__isnull=True) | Q(first_contact_at__gte=models.F("created_at")),
                name="lead_first_contact_after_arrival",
            ),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True) | Q(closed_at__gte=models.F("created_at")),
                name="lead_closed_after_arrival",
            ),
            models.CheckConstraint(
                condition=Q(next_step="", next_step_at__isnull=True)
                | Q(next_step__in=_values(NextStep), next_step_at__isnull=False),
                name="lead_next_step_dated",
            ),
            # A rejection comment without a reason would be a note in the wrong place.
            models.CheckConstraint(
                condition=Q(rejection_reason__isnull=False) | Q(rejection_comment=""),
                name="lead_rejection_comment_needs_reason",
            ),
        ]

    def __str__(self):
        return f"#{self.pk} {self.contact}"

    @staticmethod
    def describe_next_step(step: str, when) -> str:
        """ "call back 07.12.2026 10:30", "meeting …" in the active language."""
        from django.utils.formats import date_format

        shown = date_format(timezone.localtime(when), "SHORT_DATETIME_FORMAT")
        if step == NextStep.MEETING:
            return _("meeting %(t)s") % {"t": shown}
        return _("call back %(t)s") % {"t": shown}

    def next_step_label(self) -> str:
        """The dated next step as people read it; empty without one."""
        return self.describe_next_step(self.next_step, self.next_step_at) if self.next_step_at else ""

    @property
    def status(self) -> str:
        return self.stage.kind

    @property
    def is_open(self) -> bool:
        return self.stage.kind == StageKind.OPEN

    @property
    def product_code(self) -> str:
        return self.product.code if self.product_id else self.product_text


class InboundRequest(models.Model):
    """Every inbound touch of a contact (form, chat, call…), so repeat requests count."""

    # Indexed by request_lead_idx (lead, received_at); no second index on lead alone.
    lead = models.ForeignKey(
        Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="requests", db_index=False
    )
    contact = models.ForeignKey(
        Contact, verbose_name=_("contact"), on_delete=models.PROTECT, related_name="requests"
    )
    source = models.ForeignKey(
        Source, verbose_name=_("source"), on_delete=models.PROTECT, related_name="requests"
    )
    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    channel = models.CharField(_("entry channel"), max_length=20, choices=EntryChannel.choices)
    comment = models.TextField(_("comment"), blank=True)
    product_text = models.CharField(_("product as sent"), max_length=200, blank=True)
    utm = models.JSONField(_("UTM tags"), default=dict, blank=True)
    landing_page = models.URLField(_("landing page"), max_length=2000, blank=True)
    extra = models.JSONField(_("extra data"), default=dict, blank=True)
    is_repeat = models.BooleanField(_("repeat request"), default=False)
    received_at = models.DateTimeField(_("received"), default=timezone.now)

    class Meta:
        verbose_name = _("request")
        verbose_name_plural = _("requests")
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["lead", "-received_at"], name="request_lead_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(channel__in=_values(EntryChannel)), name="request_channel_valid"
            ),
        ]

    def __str__(self):
        return f"{self.source} → #{self.lead_id} ({display.when(self.received_at)})"


class StageChange(models.Model):
    """The history of a lead's stage: who moved it, when, from where to where."""

    # lead and changed_by lead the composite indexes in Meta (stagechange_lead_idx,
    # stagechange_rep_idx): single-column copies would only slow every insert.
    lead = models.ForeignKey(
        Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="stage_changes", db_index=False
    )
    from_stage = models.ForeignKey(
        Stage, verbose_name=_("from"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    to_stage = models.ForeignKey(Stage, verbose_name=_("to"), on_delete=models.PROTECT, related_name="+")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    changed_at = models.DateTimeField(_("when"), default=timezone.now)
    note = models.CharField(_("note"), max_length=500, blank=True)
    # The rejection or nurture this change took back (leads.actions.undo_close). One-to-one:
    # a close is undone at most once, whatever two clicks race.
    undoes = models.OneToOneField(
        "self",
        verbose_name=_("undoes"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="undone_by",
    )

    class Meta:
        verbose_name = _("stage change")
        verbose_name_plural = _("stage changes")
        ordering = ["-changed_at", "-id"]
        indexes = [
            models.Index(fields=["lead", "changed_at"], name="stagechange_lead_idx"),
            # The head's board counts each rep's moves today.
            models.Index(fields=["changed_by", "changed_at"], name="stagechange_rep_idx"),
        ]

    def __str__(self):
        return f"#{self.lead_id}: {self.from_stage} → {self.to_stage}"


class LeadEvent(models.Model):
    """Audit trail for changes that have no table of their own (edits of fields,
    notes). Written by the same function that makes the change."""

    class Kind(models.TextChoices):
        EDITED = "edited", _("Edited")
        NOTE = "note", _("Note")
        QUALIFIED = "qualified", _("Qualification changed")
        FEEDBACK = "feedback", _("Feedback for marketing")
        MERGED = "merged", _("Merged")
        PLANNED = "planned", _("Next step planned")
        RETURNED = "returned", _("Back from nurture")
        # Issue #15: nurture tracks, consent, feedback replies, disputes.
        ENROLLED = "enrolled", _("Put on a nurture track")
        TRACK_EMAIL = "track_email", _("Track email sent")
        TRACK_TASK = "track_task", _("Track task for marketing")
        TRACK_ENDED = "track_ended", _("Nurture track ended")
        UNSUBSCRIBED = "unsubscribed", _("Unsubscribed from marketing email")
        FEEDBACK_REPLY = "feedback_reply", _("Marketing replied to feedback")
        DISPUTED = "disputed", _("Rejection disputed")
        DISPUTE_DECIDED = "dispute_decided", _("Rejection dispute decided")

    lead = models.ForeignKey(Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("when"), default=timezone.now)
    data = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("lead event")
        verbose_name_plural = _("lead events")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["lead", "created_at"], name="leadevent_lead_idx")]

    def __str__(self):
        return f"#{self.lead_id} {self.get_kind_display()}"


class CriterionAnswer(models.Model):
    lead = models.ForeignKey(Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="answers")
    criterion = models.ForeignKey(
        QualificationCriterion, verbose_name=_("criterion"), on_delete=models.PROTECT, related_name="answers"
    )
    answer = models.CharField(_("answer"), max_length=10, choices=Answer.choices)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    answered_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        verbose_name = _("checklist answer")
        verbose_name_plural = _("checklist answers")
        constraints = [
            models.UniqueConstraint(fields=["lead", "criterion"], name="answer_unique_per_lead"),
            models.CheckConstraint(condition=Q(answer__in=_values(Answer)), name="answer_valid"),
        ]

    def __str__(self):
        return f"#{self.lead_id} {self.criterion_id}: {self.answer}"


class ContactAttempt(models.Model):
    lead = models.ForeignKey(Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="attempts")
    channel = models.CharField(_("channel"), max_length=20, choices=AttemptChannel.choices)
    outcome = models.CharField(_("outcome"), max_length=20, choices=AttemptOutcome.choices)
    duration_seconds = models.PositiveIntegerField(_("duration, seconds"), null=True, blank=True)
    recording_url = models.URLField(_("recording"), max_length=1000, blank=True)
    note = models.TextField(_("note"), blank=True)
    callback_at = models.DateTimeField(_("call back at"), null=True, blank=True)
    # Whether this attempt counted towards "N unanswered calls → nurture" (a
    # failed call outside the policy's minimum spacing).
    counted = models.BooleanField(_("counted as a failed call"), default=False)
    made_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="attempts",
    )
    made_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        verbose_name = _("contact attempt")
        verbose_name_plural = _("contact attempts")
        ordering = ["-made_at", "-id"]
        indexes = [
            models.Index(fields=["lead", "made_at"], name="attempt_lead_idx"),
            # The head's board counts each rep's attempts today.
            models.Index(fields=["made_by", "made_at"], name="attempt_rep_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(channel__in=_values(AttemptChannel)), name="attempt_channel_valid"
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=_values(AttemptOutcome)), name="attempt_outcome_valid"
            ),
            models.CheckConstraint(
                condition=Q(callback_at__isnull=True) | Q(callback_at__gt=models.F("made_at")),
                name="attempt_callback_in_future",
            ),
        ]

    def __str__(self):
        return f"#{self.lead_id} {self.get_channel_display()}: {self.get_outcome_display()}"


class Deal(models.Model):
    """Money from a lead. A contact may have several (repeat sales)."""

    lead = models.ForeignKey(Lead, verbose_name=_("lead"), on_delete=models.PROTECT, related_name="deals")
    contact = models.ForeignKey(
        Contact, verbose_name=_("contact"), on_delete=models.PROTECT, related_name="deals"
    )
    product = models.ForeignKey(
        Product,
        verbose_name=_("product"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="deals",
    )
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    margin = models.DecimalField(_("margin"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="RUB")
    status = models.CharField(_("status"), max_length=10, choices=DealStatus.choices, default=DealStatus.OPEN)
    is_repeat_sale = models.BooleanField(_("repeat sale"), default=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    closed_on = models.DateField(_("closed on"), null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="deals",
    )

    class Meta:
        verbose_name = _("deal")
        verbose_name_plural = _("deals")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "closed_on"], name="deal_status_closed_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=_values(DealStatus)), name="deal_status_valid"),
            models.CheckConstraint(condition=Q(amount__gte=Decimal(0)), name="deal_amount_not_negative"),
            models.CheckConstraint(
                condition=Q(margin__lte=models.F("amount")), name="deal_margin_within_amount"
            ),
            models.CheckConstraint(
                condition=Q(status=DealStatus.OPEN) | Q(closed_on__isnull=False),
                name="deal_closed_has_date",
            ),
        ]

    def __str__(self):
        return f"{self.contact}: {display.money(self.amount, self.currency)}"
