"""Lead and spend imports: the job a file goes through."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from leads.models.reference import _values


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
