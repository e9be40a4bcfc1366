"""A lead's way back from nurture (leads.returns)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from leads.choices import ReturnState, ReturnTrigger
from leads.models.lead import Lead, StageChange
from leads.models.reference import _values


class NurtureReturn(models.Model):
    """A lead's way back from one stay in nurture. Written pending when the lead
    goes to nurture with a return date (`due_at`: the start of that working day
    on the team's calendar), and swept like an SLA timer (leads.returns) — never
    a Celery ETA. Every return ends the pending row (done, with what triggered
    it) or writes a done one; an undo of the nurture cancels it."""

    State = ReturnState
    Trigger = ReturnTrigger

    lead = models.ForeignKey(
        Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="nurture_returns"
    )
    # The stage change into nurture this return belongs to.
    nurture_change = models.ForeignKey(
        StageChange,
        verbose_name=_("sent to nurture"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    # The listed reason the lead was in nurture for (the /nurture/ page counts
    # returns per reason); Lead.nurture_cause is cleared by the return.
    cause = models.ForeignKey(
        "leads.NurtureReason",
        verbose_name=_("nurture reason"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    state = models.CharField(
        _("state"), max_length=10, choices=ReturnState.choices, default=ReturnState.PENDING
    )
    trigger = models.CharField(_("returned by"), max_length=10, choices=ReturnTrigger.choices, blank=True)
    returned_at = models.DateTimeField(_("returned"), null=True, blank=True)
    returned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    # A row whose return failed waits until then (as SlaTimer.sweep_retry_at).
    sweep_retry_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("return from nurture")
        verbose_name_plural = _("returns from nurture")
        ordering = ["-created_at", "-id"]
        indexes = [
            # The sweep reads only pending rows by due time.
            models.Index(
                fields=["due_at"], name="nurturereturn_due_idx", condition=Q(state=ReturnState.PENDING)
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=_values(ReturnState)), name="nurturereturn_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(trigger="") | Q(trigger__in=_values(ReturnTrigger)),
                name="nurturereturn_trigger_valid",
            ),
            # One way back at a time.
            models.UniqueConstraint(
                fields=["lead"], condition=Q(state=ReturnState.PENDING), name="nurturereturn_one_pending"
            ),
            models.CheckConstraint(
                condition=~Q(state=ReturnState.DONE) | Q(returned_at__isnull=False, trigger__gt=""),
                name="nurturereturn_done_has_trigger",
            ),
        ]

    def __str__(self):
        return f"#{self.lead_id} {self.get_state_display()}"
