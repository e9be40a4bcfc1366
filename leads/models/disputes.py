"""Marketing disputes a rejection ("this lead was ours"); the head of the lead's
team decides (leads.disputes)."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from leads.choices import DisputeState
from leads.models.lead import Lead, StageChange
from leads.models.reference import RejectionReason, _values


class RejectionDispute(models.Model):
    """One dispute of one rejection. Written open by marketing with a comment; the
    deadline (`decide_by`, in working time on the team's calendar, Team.dispute_working_hours)
    and the reminder before it (`remind_at`) are computed once and stored, and swept
    like SLA timers (leads.disputes.remind_due / escalate_due): each is claimed by a
    conditional update, so it happens once whatever sweeps run. The head decides:
    upheld (the rejection stays) or overturned (the lead reopens)."""

    State = DisputeState

    lead = models.ForeignKey(Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="disputes")
    # The rejection disputed: the lead's stage change into lost. It stays in the
    # history after an overturn, with the reason kept below.
    # CASCADE: a stage change goes only with its lead, and the dispute with them.
    lost_change = models.ForeignKey(
        StageChange, verbose_name=_("rejection"), on_delete=models.CASCADE, related_name="+"
    )
    rejection_reason = models.ForeignKey(
        RejectionReason,
        verbose_name=_("rejection reason"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    rejection_comment = models.TextField(_("rejection comment"), blank=True)
    comment = models.TextField(_("why marketing disputes it"))
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("disputed by"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    opened_at = models.DateTimeField(_("disputed"), default=timezone.now)
    decide_by = models.DateTimeField(_("decide by"))
    remind_at = models.DateTimeField(_("reminder"), null=True, blank=True)
    reminded_at = models.DateTimeField(_("reminded"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("escalated"), null=True, blank=True)
    state = models.CharField(
        _("state"), max_length=12, choices=DisputeState.choices, default=DisputeState.OPEN
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decision_comment = models.TextField(_("decision comment"), blank=True)

    class Meta:
        verbose_name = _("rejection dispute")
        verbose_name_plural = _("rejection disputes")
        ordering = ["-opened_at", "-id"]
        indexes = [
            # The sweep reads only open rows by their due times.
            models.Index(
                fields=["remind_at"],
                name="dispute_remind_due_idx",
                condition=Q(state=DisputeState.OPEN, reminded_at__isnull=True),
            ),
            models.Index(
                fields=["decide_by"],
                name="dispute_escalate_due_idx",
                condition=Q(state=DisputeState.OPEN, escalated_at__isnull=True),
            ),
            # /disputes/ lists the newest first.
            models.Index(fields=["-opened_at", "-id"], name="dispute_opened_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=_values(DisputeState)), name="dispute_state_valid"),
            # One open dispute per lead, and a rejection is disputed once.
            models.UniqueConstraint(
                fields=["lead"], condition=Q(state=DisputeState.OPEN), name="dispute_one_open_per_lead"
            ),
            models.UniqueConstraint(fields=["lost_change"], name="dispute_once_per_rejection"),
            models.CheckConstraint(condition=~Q(comment=""), name="dispute_has_comment"),
            # An open dispute has no decision; a decided one says who and when.
            models.CheckConstraint(
                condition=Q(state=DisputeState.OPEN, decided_at__isnull=True, decided_by__isnull=True)
                | (
                    ~Q(state=DisputeState.OPEN)
                    & Q(decided_at__isnull=False, decided_by__isnull=False, decided_at__gte=F("opened_at"))
                ),
                name="dispute_decided_has_decider",
            ),
            models.CheckConstraint(
                condition=Q(decide_by__gte=F("opened_at")), name="dispute_deadline_after_open"
            ),
        ]

    def __str__(self):
        return f"#{self.lead_id} {self.get_state_display()}"

    @property
    def is_open(self) -> bool:
        return self.state == DisputeState.OPEN
