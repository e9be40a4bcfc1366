"""Reference data that admins keep: sources, campaigns and their spend, products,
segments, the funnel's stages, rejection reasons and the qualification checklist."""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from leads.choices import (
    CriterionLevel,
    Fit,
    ReasonSide,
    RejectionCode,
    SourceKind,
    StageKind,
)
from revops import display, refcache


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


class NurtureReason(models.Model):
    """Why a lead went to nurture, from a list marketing keeps: a track picks its
    leads by these (leads.models.tracks); the rep's words stay in Lead.nurture_reason."""

    code = models.SlugField(_("code"), max_length=50, unique=True)
    name_ru = models.CharField(_("name (Russian)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200)
    position = models.PositiveSmallIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("nurture reason")
        verbose_name_plural = _("nurture reasons")
        ordering = ["position", "code"]

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
