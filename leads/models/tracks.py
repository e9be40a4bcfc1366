"""Nurture tracks: what marketing does with a lead while it waits in nurture.
A track is an ordered list of steps (an email from a template, a pause of N
days, a task for a marketer) and the nurture reasons that put a lead on it. A
lead on a track has one active enrollment, a due row swept like an SLA timer
(never a Celery ETA): the worker runs its step when `due_at` comes."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from leads.choices import EnrollmentState, StepKind
from leads.models.lead import Lead, StageChange
from leads.models.reference import NurtureReason, _values


class NurtureTrack(models.Model):
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    reasons = models.ManyToManyField(
        NurtureReason, verbose_name=_("nurture reasons"), blank=True, related_name="tracks"
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("nurture track")
        verbose_name_plural = _("nurture tracks")
        ordering = ["name", "id"]

    def __str__(self):
        return self.name


class NurtureStep(models.Model):
    """One step of a track, run in `position` order. An email's subject and body
    are templates with the lead's fields; a wait holds the track `wait_days`."""

    Kind = StepKind

    track = models.ForeignKey(
        NurtureTrack, verbose_name=_("track"), on_delete=models.CASCADE, related_name="steps"
    )
    position = models.PositiveSmallIntegerField(_("order"))
    kind = models.CharField(_("step"), max_length=10, choices=StepKind.choices)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("text"), blank=True)
    wait_days = models.PositiveSmallIntegerField(_("wait, days"), null=True, blank=True)
    task_text = models.CharField(_("task"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("track step")
        verbose_name_plural = _("track steps")
        ordering = ["track", "position"]
        constraints = [
            models.UniqueConstraint(fields=["track", "position"], name="nurturestep_track_position_unique"),
            models.CheckConstraint(condition=Q(kind__in=_values(StepKind)), name="nurturestep_kind_valid"),
            models.CheckConstraint(
                condition=~Q(kind=StepKind.EMAIL) | (Q(subject__gt="") & Q(body__gt="")),
                name="nurturestep_email_has_text",
            ),
            models.CheckConstraint(
                condition=~Q(kind=StepKind.WAIT) | Q(wait_days__gte=1),
                name="nurturestep_wait_has_days",
            ),
            models.CheckConstraint(
                condition=~Q(kind=StepKind.TASK) | Q(task_text__gt=""),
                name="nurturestep_task_has_text",
            ),
        ]

    def __str__(self):
        return f"{self.track} · {self.position}. {self.get_kind_display()}"


class TrackEnrollment(models.Model):
    """A lead's way along a track during one stay in nurture. `step` is the step
    that runs next at `due_at` (none once the track is finished); a return from
    nurture or an undo of the nurture stops it."""

    State = EnrollmentState

    lead = models.ForeignKey(
        Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="enrollments"
    )
    track = models.ForeignKey(
        NurtureTrack, verbose_name=_("track"), on_delete=models.PROTECT, related_name="enrollments"
    )
    # The stage change into nurture that put the lead on the track.
    nurture_change = models.ForeignKey(
        StageChange,
        verbose_name=_("sent to nurture"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    step = models.ForeignKey(
        NurtureStep,
        verbose_name=_("next step"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    state = models.CharField(
        _("state"), max_length=10, choices=EnrollmentState.choices, default=EnrollmentState.ACTIVE
    )
    due_at = models.DateTimeField(_("next step at"), null=True, blank=True)
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    # The steps this enrollment has run (their ids): a track edited while leads
    # are on it may move a done step after the next one, and it must not run twice.
    done_steps = models.JSONField(_("steps done"), default=list, blank=True)
    # A row whose step failed waits until then (as SlaTimer.sweep_retry_at).
    sweep_retry_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("lead on a track")
        verbose_name_plural = _("leads on tracks")
        ordering = ["-started_at", "-id"]
        indexes = [
            # The sweep reads only active rows by due time.
            models.Index(
                fields=["due_at"], name="enrollment_due_idx", condition=Q(state=EnrollmentState.ACTIVE)
            ),
            models.Index(fields=["track", "state"], name="enrollment_track_state_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=_values(EnrollmentState)), name="enrollment_state_valid"
            ),
            # One track at a time.
            models.UniqueConstraint(
                fields=["lead"], condition=Q(state=EnrollmentState.ACTIVE), name="enrollment_one_active"
            ),
            models.CheckConstraint(
                condition=Q(state=EnrollmentState.ACTIVE) | Q(ended_at__isnull=False),
                name="enrollment_ended_dated",
            ),
        ]

    def __str__(self):
        return f"#{self.lead_id} {self.track} ({self.get_state_display()})"
