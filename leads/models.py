"""The funnel: where leads come from, who they are, and how far they got."""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from leads.choices import (
    Answer,
    AssignmentKind,
    AttemptChannel,
    AttemptOutcome,
    CriterionLevel,
    DealStatus,
    EntryChannel,
    Fit,
    NextStep,
    Priority,
    Qualification,
    ReasonSide,
    RejectionCode,
    SourceKind,
    StageKind,
)
from leads.steps import FunnelStepsQuerySet
from revops import display, refcache
from revops.roles import RowVisibilityQuerySet


def _values(choices) -> list[str]:
    return [c.value for c in choices]


def localized(obj, field: str) -> str:
    """`obj.<field>_<lang>` for the active language, falling back to Russian.

    Reference data that admins edit (stages, reasons, criteria, segments) is
    stored in both languages as columns, so renaming a stage needs no deploy.
    """
    lang = (get_language() or "ru")[:2]
    value = getattr(obj, f"{field}_{lang}", "") if lang in ("ru", "en") else ""
    return value or getattr(obj, f"{field}_ru", "") or getattr(obj, f"{field}_en", "")


# --- reference data -----------------------------------------------------------------


class Source(models.Model):
    """A channel leads come from (Яндекс Директ, SEO, exhibitions…); `code` is stable."""

    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=20, choices=SourceKind.choices, default=SourceKind.OTHER)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("source")
        verbose_name_plural = _("sources")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=_values(SourceKind)), name="source_kind_valid")
        ]

    def __str__(self):
        return self.name


class Campaign(models.Model):
    """An advertising campaign of a source, recognised by its UTM tags."""

    source = models.ForeignKey(
        Source, verbose_name=_("source"), on_delete=models.PROTECT, related_name="campaigns"
    )
    code = models.SlugField(_("code"), max_length=80)
    name = models.CharField(_("name"), max_length=200)
    utm_source = models.CharField(_("utm_source"), max_length=100, blank=True)
    utm_medium = models.CharField(_("utm_medium"), max_length=100, blank=True)
    utm_campaign = models.CharField(_("utm_campaign"), max_length=200, blank=True)
    starts_on = models.DateField(_("starts on"), null=True, blank=True)
    ends_on = models.DateField(_("ends on"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["source__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["source", "code"], name="campaign_code_unique_per_source"),
            models.UniqueConstraint(
                fields=["utm_source", "utm_campaign"],
                condition=~Q(utm_campaign=""),
                name="campaign_utm_unique",
            ),
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True)
                | Q(starts_on__isnull=True)
                | Q(ends_on__gte=models.F("starts_on")),
                name="campaign_dates_ordered",
            ),
            # The target of Spend's (campaign, source) foreign key on PostgreSQL
            # (migration 0005): a campaign's spend carries the campaign's source.
            models.UniqueConstraint(fields=["id", "source"], name="campaign_id_source_unique"),
        ]

    def __str__(self):
        return self.name

    @classmethod
    def for_utm(cls, source_id: int, utm_campaign: str, utm_source: str = "") -> "Campaign | None":
        """The source's campaign with this utm_campaign (the one whose
        utm_source matches too, if any). Cached: read on every intake."""
        if not utm_campaign:
            return None

        def load():
            index: dict[tuple[int, str], list[Campaign]] = {}
            for campaign in cls.objects.exclude(utm_campaign=""):
                index.setdefault((campaign.source_id, campaign.utm_campaign), []).append(campaign)
            return index

        candidates = refcache.get("campaigns_by_utm", load).get((source_id, utm_campaign), [])
        exact = next((c for c in candidates if utm_source and c.utm_source == utm_source), None)
        return exact or (candidates[0] if candidates else None)


class Spend(models.Model):
    """Money spent on a campaign (or a source as a whole) in one calendar month."""

    source = models.ForeignKey(
        Source, verbose_name=_("source"), on_delete=models.PROTECT, related_name="spend"
    )
    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="spend",
    )
    month = models.DateField(_("month"), help_text=_("The first day of the month."))
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="RUB")

    class Meta:
        verbose_name = _("spend")
        verbose_name_plural = _("spend")
        ordering = ["-month", "source__name"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "month"], name="spend_unique_campaign_month"),
            models.UniqueConstraint(
                fields=["source", "month"],
                condition=Q(campaign__isnull=True),
                name="spend_unique_source_month",
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="spend_amount_not_negative"),
            models.CheckConstraint(condition=Q(month__day=1), name="spend_month_first_day"),
        ]

    def __str__(self):
        return f"{self.campaign or self.source} {display.month(self.month)}: {display.money(self.amount, self.currency)}"

    # A campaign's row carries the campaign's source: save() copies it, clean()
    # says so when a form disagrees, and on PostgreSQL a composite foreign key
    # (campaign_id, source_id) → campaign (id, source_id), ON UPDATE CASCADE, added
    # by migration 0005, refuses any other write (a CheckConstraint cannot join).
    def save(self, *args, **kwargs):
        if self.campaign_id:
            self.source_id = self.campaign.source_id
        super().save(*args, **kwargs)

    def clean(self):
        super().clean()
        if self.campaign_id and self.source_id and self.campaign.source_id != self.source_id:
            raise ValidationError(
                {
                    "campaign": _("This campaign belongs to another source (%(source)s).")
                    % {"source": self.campaign.source}
                }
            )


class Product(models.Model):
    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=200)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["name"]

    def __str__(self):
        return self.name

    @classmethod
    def active_by_code(cls, code: str) -> "Product | None":
        """Cached: read on every intake."""
        products = refcache.get(
            "active_products", lambda: {p.code: p for p in cls.objects.filter(is_active=True)}
        )
        return products.get(code)


class Segment(models.Model):
    """An ICP segment: who the company sells to, and how well they fit."""

    code = models.SlugField(_("code"), max_length=50, unique=True)
    name_ru = models.CharField(_("name (Russian)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200, blank=True)
    industry = models.CharField(_("industry / type of company"), max_length=200, blank=True)
    company_size = models.CharField(_("company size"), max_length=100, blank=True)
    budget = models.CharField(_("budget"), max_length=100, blank=True)
    deal_cycle_days = models.PositiveIntegerField(_("typical deal cycle, days"), null=True, blank=True)
    pains = models.TextField(_("pains"), blank=True)
    triggers = models.TextField(_("buying triggers"), blank=True)
    readiness = models.TextField(_("readiness criteria"), blank=True)
    fit = models.CharField(_("fit"), max_length=20, choices=Fit.choices, default=Fit.OURS)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name_ru"]
        constraints = [models.CheckConstraint(condition=Q(fit__in=_values(Fit)), name="segment_fit_valid")]

    def __str__(self):
        return self.name

    @property
    def name(self) -> str:
        return localized(self, "name")


class Stage(models.Model):
    """A funnel stage. `kind` keeps reports meaningful when stages are renamed."""

    code = models.SlugField(_("code"), max_length=50, unique=True)
    name_ru = models.CharField(_("name (Russian)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100)
    definition_ru = models.TextField(_("definition (Russian)"), blank=True)
    definition_en = models.TextField(_("definition (English)"), blank=True)
    kind = models.CharField(_("type"), max_length=20, choices=StageKind.choices)
    # Position in the funnel; stages outside the order (lost, nurture) have none.
    position = models.PositiveSmallIntegerField(_("order"), null=True, blank=True, unique=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("stage")
        verbose_name_plural = _("stages")
        ordering = [models.F("position").asc(nulls_last=True), "code"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=_values(StageKind)), name="stage_kind_valid"),
            # Only open and won stages are steps of the funnel.
            models.CheckConstraint(
                condition=Q(position__isnull=True) | Q(kind__in=[StageKind.OPEN, StageKind.WON]),
                name="stage_only_open_or_won_ordered",
            ),
        ]

    def __str__(self):
        return self.name

    @classmethod
    def cached(cls) -> list["Stage"]:
        """Every stage in order, from the per-process reference cache."""
        return refcache.get("stages", lambda: list(cls.objects.all()))

    @classmethod
    def ids_of(cls, *kinds: str) -> list[int]:
        """Ids of the stages of these kinds. Filtering leads by `stage_id__in`
        of these (not by a join on the kind) lets PostgreSQL use the lead
        indexes and estimate rows; the stage table is tiny."""
        return [stage.pk for stage in cls.cached() if stage.kind in kinds]

    @classmethod
    def by_code(cls, code: str) -> "Stage":
        stage = next((stage for stage in cls.cached() if stage.code == code), None)
        return stage if stage is not None else cls.objects.get(code=code)  # raises DoesNotExist

    @property
    def name(self) -> str:
        return localized(self, "name")

    @property
    def definition(self) -> str:
        return localized(self, "definition")


class RejectionReason(models.Model):
    code = models.SlugField(_("code"), max_length=50, unique=True)
    name_ru = models.CharField(_("name (Russian)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200)
    side = models.CharField(
        _("usually owned by"), max_length=20, choices=ReasonSide.choices, default=ReasonSide.CLIENT
    )
    requires_comment = models.BooleanField(_("comment required"), default=False)
    position = models.PositiveSmallIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("rejection reason")
        verbose_name_plural = _("rejection reasons")
        ordering = ["position", "code"]
        constraints = [
            models.CheckConstraint(condition=Q(side__in=_values(ReasonSide)), name="reason_side_valid"),
            models.CheckConstraint(
                condition=~Q(code=RejectionCode.OTHER) | Q(requires_comment=True),
                name="reason_other_requires_comment",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def name(self) -> str:
        return localized(self, "name")


class QualificationCriterion(models.Model):
    """One line of the agreed MQL or SQL checklist; segment-specific or for all."""

    segment = models.ForeignKey(
        Segment,
        verbose_name=_("segment"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="criteria",
        help_text=_("Empty: applies to every segment."),
    )
    level = models.CharField(_("level"), max_length=3, choices=CriterionLevel.choices)
    code = models.SlugField(_("code"), max_length=50)
    text_ru = models.CharField(_("text (Russian)"), max_length=300)
    text_en = models.CharField(_("text (English)"), max_length=300)
    position = models.PositiveSmallIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("qualification criterion")
        verbose_name_plural = _("qualification criteria")
        ordering = ["level", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(level__in=_values(CriterionLevel)), name="criterion_level_valid"
            ),
            models.UniqueConstraint(
                fields=["segment", "level", "code"], name="criterion_code_unique_per_segment"
            ),
            models.UniqueConstraint(
                fields=["level", "code"],
                condition=Q(segment__isnull=True),
                name="criterion_code_unique_global",
            ),
        ]

    def __str__(self):
        return self.text

    @property
    def text(self) -> str:
        return localized(self, "text")


# --- people and leads --------------------------------------------------------------------


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
    nurture_until = models.DateField(_("return from nurture on"), null=True, blank=True)
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


# --- intake --------------------------------------------------------------------------------


class IntakeKey(models.Model):
    """A secret key that lets a system (site backend, telephony, chat) send leads
    of one source. Only its SHA-256 is stored; the key is shown once."""

    source = models.ForeignKey(
        Source, verbose_name=_("source"), on_delete=models.CASCADE, related_name="intake_keys"
    )
    name = models.CharField(
        _("name"), max_length=120, blank=True, help_text=_("Who uses it, e.g. “site backend”.")
    )
    prefix = models.CharField(_("key starts with"), max_length=12, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    rate_limit_per_minute = models.PositiveIntegerField(
        _("requests per minute"), null=True, blank=True, default=120, help_text=_("Empty: unlimited.")
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
    )
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("intake key")
        verbose_name_plural = _("intake keys")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.source} · {self.prefix}…"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def mark_used(self, at):
        # At most one write a minute per key: the column is for people, not audit.
        if self.last_used_at is None or (at - self.last_used_at).total_seconds() > 60:
            IntakeKey.objects.filter(pk=self.pk).update(last_used_at=at)
            # The instance may be the reference cache's: its copy of the time
            # only throttles these writes (a race costs one extra UPDATE).
            self.last_used_at = at


class SiteForm(models.Model):
    """A lead form embedded on a site. Its public id is safe to publish: it only
    works from the allowed origins, never gives access to anything else."""

    public_id = models.SlugField(_("public id"), max_length=40, unique=True)
    source = models.ForeignKey(
        Source, verbose_name=_("source"), on_delete=models.CASCADE, related_name="site_forms"
    )
    name = models.CharField(_("name"), max_length=120)
    allowed_origins = models.TextField(
        _("allowed origins"), help_text=_("One per line, e.g. https://www.example.ru"), blank=True
    )
    consent_text = models.TextField(_("consent text"), blank=True)
    consent_version = models.CharField(_("consent text version"), max_length=50, default="1")
    rate_limit_per_minute = models.PositiveIntegerField(_("requests per minute per IP"), default=10)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("site form")
        verbose_name_plural = _("site forms")
        ordering = ["name"]

    def __str__(self):
        return self.name

    def origins(self) -> set[str]:
        return {
            line.strip().rstrip("/").lower() for line in self.allowed_origins.splitlines() if line.strip()
        }


class IdempotencyRecord(models.Model):
    """The first answer to a request with an Idempotency-Key, replayed on retries.
    Unique per source and key in the database, so two racing retries cannot both
    create a lead."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        constraints = [models.UniqueConstraint(fields=["source", "key"], name="idempotency_unique_key")]

    def __str__(self):
        return f"{self.source_id}:{self.key} → {self.status_code}"


class Consent(models.Model):
    """Consent to personal-data processing, recorded apart from the lead: which
    text (version) the person agreed to, when and from which address."""

    contact = models.ForeignKey(
        Contact, verbose_name=_("contact"), on_delete=models.CASCADE, related_name="consents"
    )
    request = models.OneToOneField(
        InboundRequest, verbose_name=_("request"), on_delete=models.CASCADE, related_name="consent"
    )
    text_version = models.CharField(_("consent text version"), max_length=100, blank=True)
    given_at = models.DateTimeField(_("given"), default=timezone.now)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        ordering = ["-given_at"]

    def __str__(self):
        return f"{self.contact} {display.day(timezone.localdate(self.given_at))}"


# --- distribution ---------------------------------------------------------------------------


class RoutingRule(models.Model):
    """Which team takes a lead: the first active rule (by position) whose filled
    conditions all match. A rule with no conditions catches everything."""

    position = models.PositiveSmallIntegerField(_("order"), default=0)
    team = models.ForeignKey(
        "revops.Team", verbose_name=_("team"), on_delete=models.CASCADE, related_name="+"
    )
    source = models.ForeignKey(
        Source, verbose_name=_("source"), on_delete=models.CASCADE, null=True, blank=True
    )
    segment = models.ForeignKey(
        Segment, verbose_name=_("segment"), on_delete=models.CASCADE, null=True, blank=True
    )
    product = models.ForeignKey(
        Product, verbose_name=_("product"), on_delete=models.CASCADE, null=True, blank=True
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")
        ordering = ["position", "id"]

    def __str__(self):
        conditions = [str(x) for x in (self.source, self.segment, self.product) if x] or [
            str(_("everything"))
        ]
        return f"{' + '.join(conditions)} → {self.team}"

    def matches(self, lead) -> bool:
        return all(
            getattr(self, f"{field}_id") is None
            or getattr(self, f"{field}_id") == getattr(lead, f"{field}_id")
            for field in ("source", "segment", "product")
        )


class Assignment(models.Model):
    """Who got a lead, who or what decided it, and why — for every assignment."""

    Kind = AssignmentKind

    # lead and to_owner lead the composite indexes in Meta (assignment_lead_idx,
    # assignment_owner_idx): single-column copies would only slow every insert.
    lead = models.ForeignKey(
        Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="assignments", db_index=False
    )
    team = models.ForeignKey(
        "revops.Team",
        verbose_name=_("team"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    from_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("from"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    to_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("to"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty: the distribution rules."),
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    # Why, as codes with parameters (rendered in the reader's language).
    reasons = models.JSONField(_("why"), default=list, blank=True)
    # Working time left on the first-contact clock when the new owner got it.
    sla_left_seconds = models.IntegerField(_("SLA time inherited, s"), null=True, blank=True)
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        verbose_name = _("assignment")
        verbose_name_plural = _("assignments")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["lead", "created_at"], name="assignment_lead_idx"),
            models.Index(fields=["to_owner", "created_at"], name="assignment_owner_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=_values(AssignmentKind)), name="assignment_kind_valid"
            ),
        ]

    def __str__(self):
        return f"#{self.lead_id} → {self.to_owner or '—'}"


# --- imports ------------------------------------------------------------------------


class ImportKind(models.TextChoices):
    """What an import job brings in (the spend import will be the next kind)."""

    LEADS = "leads", _("Leads")
    SPEND = "spend", _("Spend")


class ImportState(models.TextChoices):
    PENDING = "pending", _("Waiting for a worker")
    CHECKING = "checking", _("Checking the file")
    READY = "ready", _("Checked, waiting for confirmation")
    IMPORTING = "importing", _("Importing")
    DONE = "done", _("Imported")
    FAILED = "failed", _("Not imported")


class ImportJobQuerySet(models.QuerySet):
    def visible_to(self, user):
        """A job (its file, errors and counts) is its uploader's; administrators see every job."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self
        return self.filter(created_by=user)


class ImportJob(models.Model):
    """One uploaded file, checked and imported by a worker (leads.import_jobs).

    Generic over what is imported (`kind`): the file, the state, the counts and
    the per-row errors mean the same for every kind; what a kind reads is in
    `options`. The file lives in the row, so any worker can read it without a
    shared volume, and it is cleared when the job ends (it holds personal data).

    States: pending (waiting for a worker) → checking → ready (checked: a
    preview; a dry run ends here) or → importing → done | failed. A job is
    claimed with a conditional update of its state, so a task delivered twice
    runs once; `done` is written in the transaction that writes the rows."""

    Kind = ImportKind
    State = ImportState

    ACTIVE_STATES = (State.PENDING, State.CHECKING, State.IMPORTING)

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.LEADS)
    # Empty: the management command, which runs as a superuser would.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    filename = models.CharField(_("file name"), max_length=200)
    content = models.BinaryField(_("file"), null=True, blank=True, editable=False)
    options = models.JSONField(_("import options"), default=dict, blank=True)
    language = models.CharField(_("language"), max_length=10, blank=True)
    dry_run = models.BooleanField(_("check only"), default=True)
    historical = models.BooleanField(_("historical import"), default=False)
    state = models.CharField(_("state"), max_length=20, choices=State.choices, default=State.PENDING)
    # The worker that holds the job: the state changes it makes are conditional on it.
    claim = models.CharField(max_length=32, blank=True, editable=False)
    total = models.PositiveIntegerField(_("rows"), default=0)
    ok = models.PositiveIntegerField(_("valid rows"), default=0)
    invalid = models.PositiveIntegerField(_("rows with errors"), default=0)
    created = models.PositiveIntegerField(_("records created"), default=0)
    matched = models.PositiveIntegerField(
        _("records matched"),
        default=0,
        help_text=_("Rows that joined an existing record (leads: a repeat request)."),
    )
    errors = models.JSONField(_("row errors"), default=list, blank=True)
    errors_hidden = models.PositiveIntegerField(default=0)
    preview = models.JSONField(_("rows as they will be imported"), default=dict, blank=True)
    message = models.TextField(_("why it was not imported"), blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(_("uploaded"), default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The last word from the worker: a running job silent for long has lost its worker.
    updated_at = models.DateTimeField(default=timezone.now)

    objects = ImportJobQuerySet.as_manager()

    class Meta:
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=_values(ImportKind)), name="importjob_kind_valid"),
            models.CheckConstraint(condition=Q(state__in=_values(ImportState)), name="importjob_state_valid"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.filename} ({self.get_state_display()})"
