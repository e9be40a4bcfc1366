"""Distribution: routing rules and the assignment history."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from leads.choices import (
    AssignmentKind,
)
from leads.models.lead import Lead
from leads.models.reference import Product, Segment, Source, _values


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
