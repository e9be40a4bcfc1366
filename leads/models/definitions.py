"""Versions of the agreed definitions: the MQL/SQL checklist and the ICP
segments (leads.definitions writes them)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from leads.models.reference import _values


class DefinitionKind(models.TextChoices):
    CHECKLIST = "checklist", _("MQL/SQL checklist")
    SEGMENTS = "segments", _("ICP segments")


class DefinitionVersion(models.Model):
    """One version of a definition: the whole of it as it stood from
    `changed_at` (a snapshot, so a report can say what a period was measured
    with even after rows were deleted), who made the change and what changed
    against the version before."""

    Kind = DefinitionKind

    kind = models.CharField(_("definition"), max_length=10, choices=DefinitionKind.choices)
    number = models.PositiveIntegerField(_("version"))
    changed_at = models.DateTimeField(_("in force from"), default=timezone.now)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("changed by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    snapshot = models.JSONField(_("definition"), default=list)
    # [{"change": added|removed|changed, "code": …, "name": …, "fields": {field: [old, new]}}]
    changes = models.JSONField(_("changes"), default=list, blank=True)

    class Meta:
        verbose_name = _("definition version")
        verbose_name_plural = _("definition versions")
        ordering = ["kind", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "number"], name="definitionversion_number_unique"),
            models.CheckConstraint(
                condition=Q(kind__in=_values(DefinitionKind)), name="definitionversion_kind_valid"
            ),
            models.CheckConstraint(condition=Q(number__gte=1), name="definitionversion_number_positive"),
        ]
        indexes = [models.Index(fields=["kind", "changed_at"], name="definitionversion_time_idx")]

    def __str__(self):
        return f"{self.get_kind_display()} v{self.number}"
