"""Importing leads from a file in the browser: upload → preview → confirm →
(for large files) a progress bar. The logic is in leads.importer; each upload
is an ImportJob (leads.import_jobs) that a Celery worker checks and imports.

Small files are run in the request by the same function the worker runs (no
round trip through the broker for a dozen rows); large ones are queued and
the page polls the job's status fragment (htmx). A job is seen only by its
uploader and administrators: anyone else gets 404 for its id. Confirming
claims the checked job with a conditional update, so a double click cannot
import it twice."""

import functools
import logging

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.dateparse import parse_datetime
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from leads import import_jobs, importer
from leads.models import ImportJob, Source
from revops import display
from revops.roles import Role

logger = logging.getLogger(__name__)

IMPORT_ROLES = frozenset({Role.SALES_HEAD, Role.MARKETING_HEAD, Role.MARKETER, Role.ADMIN})
# Larger files are checked / imported by a worker, so that no request outlives
# the web server's timeout (take_lead costs tens of milliseconds a row). The
# check is sized by the text to read (an XLSX file's unpacked size), so the web
# process never parses a large workbook.
SYNC_CHECK_MAX_BYTES = 256 * 1024  # about 5,000 CSV rows
SYNC_IMPORT_MAX_ROWS = 200
State = ImportJob.State


def may_import(user) -> bool:
    return user.is_authenticated and (user.is_superuser or user.role in IMPORT_ROLES)


def importer_only(view):
    @login_required
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not may_import(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


class UploadForm(forms.Form):
    file = forms.FileField(label=_("File"))
    source = forms.ModelChoiceField(
        Source.objects.filter(is_active=True),
        required=False,
        label=_("Source for rows without one"),
        empty_label=_("— none: every row names its source —"),
    )
    historical = forms.BooleanField(
        required=False,
        label=_("Historical import"),
        help_text=_(
            "Past leads with their own dates, stages, owners and rejection reasons: "
            "no distribution and no SLA clock. Administrators only."
        ),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.unpacked = 0
        # Formatted here, not at import time, so it is in the reader's language.
        self.fields["file"].help_text = _(
            "CSV (UTF-8 or Windows-1251, separated by commas or semicolons) or XLSX (the first sheet), "
            "up to %(mb)s MB and %(rows)s rows."
        ) % {"mb": importer.MAX_FILE_BYTES // (1024 * 1024), "rows": display.number(importer.MAX_ROWS)}
        if not importer.Scope(user).is_admin:
            del self.fields["historical"]

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(importer.EXTENSIONS):
            raise forms.ValidationError(_("Upload a .csv or .xlsx file."))
        if upload.size > importer.MAX_FILE_BYTES:
            raise forms.ValidationError(
                _("The file is too large: at most %(mb)s MB.")
                % {"mb": importer.MAX_FILE_BYTES // (1024 * 1024)}
            )
        if upload.size == 0:
            raise forms.ValidationError(_("The file is empty."))
        upload.seek(0)
        data = upload.read()
        if importer.is_zip(data):
            # A workbook that would unpack to too much is refused here, from the
            # zip's directory, before anything parses it.
            try:
                self.unpacked = importer.check_xlsx(data)
            except importer.ImportFileError as exc:
                raise forms.ValidationError(exc.message) from None
        else:
            self.unpacked = len(data)
        self.data_bytes = data
        return upload

    def clean(self):
        cleaned = super().clean()
        if self.data.get("historical") and "historical" not in self.fields:
            # The box is not shown to them; a forged request gets the rule.
            raise forms.ValidationError(_("Only administrators import historical leads."))
        return cleaned


# --- jobs ---------------------------------------------------------------------------------


def _job(request, pk: int) -> ImportJob:
    job = ImportJob.objects.visible_to(request.user).filter(pk=pk, kind=ImportJob.Kind.LEADS).first()
    if job is None:
        raise Http404
    return job


def _start(job: ImportJob, *, inline: bool) -> None:
    """Run the job here (small files) or queue it for a worker once the job's
    row is committed (so the worker finds it)."""
    if inline:
        import_jobs.run(job.pk)
        job.refresh_from_db()
        return
    transaction.on_commit(functools.partial(_enqueue, job.pk))


def _enqueue(job_id: int) -> None:
    from leads.tasks import run_import_job

    try:
        run_import_job.delay(job_id)
    except Exception as exc:  # the broker is down: the job waits, and says so on its page
        logger.error("Import job %s not queued: %s", job_id, type(exc).__name__)


def _small(job: ImportJob) -> bool:
    """Whether the file is cheap to read here (a few rows may still be a huge workbook)."""
    try:
        return importer.unpacked_size(bytes(job.content or b"")) <= SYNC_CHECK_MAX_BYTES
    except importer.ImportFileError:
        return True  # the run reports what is wrong with it, at once


# --- views ---------------------------------------------------------------------------------


@importer_only
def upload(request):
    form = UploadForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        source = form.cleaned_data["source"]
        job = import_jobs.create(
            ImportJob.Kind.LEADS,
            user=request.user,
            filename=upload.name.replace("\\", "/").rsplit("/", 1)[-1],
            content=form.data_bytes,
            options={"source": source.pk if source else None},
            dry_run=True,
            historical=form.cleaned_data.get("historical", False),
            language=get_language(),
        )
        _start(job, inline=form.unpacked <= SYNC_CHECK_MAX_BYTES)
        import_jobs.forget_old_files()
        return redirect("leads:import_preview", pk=job.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "leads/import_upload.html", {"form": form}, status=status)


@importer_only
def preview(request, pk: int):
    """The job's page: its preview once checked, its progress while it runs,
    its outcome when it ended."""
    job = _job(request, pk)
    status = import_jobs.status(job)
    if status.state == State.READY:
        return render(request, "leads/import_preview.html", _preview_context(job))
    if status.state == State.FAILED and not job.errors:
        # The file as a whole could not be used: say why next to a new upload.
        form = UploadForm(user=request.user)
        return render(request, "leads/import_upload.html", {"form": form, "file_error": status.message})
    return render(request, "leads/import_progress.html", _progress_context(job, status))


@importer_only
@require_POST
def confirm(request, pk: int):
    job = _job(request, pk)
    confirmed = import_jobs.confirm(job, request.user)
    if not confirmed:
        job.refresh_from_db()
        if job.state in ImportJob.ACTIVE_STATES or job.state == State.DONE:
            return redirect("leads:import_progress", pk=job.pk)
        messages.error(request, _("This upload was already imported or has expired."))
        return redirect("leads:import")
    job.refresh_from_db()
    _start(job, inline=job.total <= SYNC_IMPORT_MAX_ROWS and _small(job))
    if job.state == State.DONE:
        messages.success(request, _result_message(job.created, job.matched))
        return redirect("leads:list")
    return redirect("leads:import_progress", pk=job.pk)


@importer_only
def progress(request, pk: int):
    """The job's status; htmx polls it for the fragment."""
    job = _job(request, pk)
    status = import_jobs.status(job)
    htmx = request.headers.get("HX-Request") == "true"
    if status.state == State.READY:
        url = reverse("leads:import_preview", args=[job.pk])
        if htmx:
            response = HttpResponse()
            response["HX-Redirect"] = url
            return response
        return redirect(url)
    template = "leads/_import_progress.html" if htmx else "leads/import_progress.html"
    return render(request, template, _progress_context(job, status))


def _result_message(created: int, repeats: int) -> str:
    return " ".join(
        [
            ngettext("Imported %(n)s new lead.", "Imported %(n)s new leads.", created) % {"n": created},
            ngettext(
                "%(n)s request joined an open lead of a known contact.",
                "%(n)s requests joined open leads of known contacts.",
                repeats,
            )
            % {"n": repeats},
        ]
    )


def summary(job: ImportJob) -> dict:
    """A checked job as the templates show it."""
    rows = []
    for row in job.preview.get("rows", []):
        row = dict(row)
        row["created_at"] = parse_datetime(row["created_at"]) if row.get("created_at") else None
        rows.append(row)
    return {
        "filename": job.filename,
        "historical": job.historical,
        "total": job.total,
        "valid": job.ok,
        "invalid": job.invalid,
        "extra_columns": job.preview.get("extra_columns", []),
        "owners": job.preview.get("owners", False),
        "rows": rows,
        "errors": job.errors,
        "errors_hidden": job.errors_hidden,
    }


def _preview_context(job: ImportJob) -> dict:
    source_id = job.options.get("source")
    return {
        "job": job,
        "summary": summary(job),
        "default_source": Source.objects.filter(pk=source_id).first() if source_id else None,
    }


def _progress_context(job: ImportJob, status) -> dict:
    context = {"job": job, "status": status, "summary": summary(job), "polling": status.active}
    if status.state == State.DONE:
        context["result_message"] = _result_message(job.created, job.matched)
    return context


urlpatterns = [
    path("import/", upload, name="import"),
    path("import/<int:pk>/", preview, name="import_preview"),
    path("import/<int:pk>/confirm/", confirm, name="import_confirm"),
    path("import/<int:pk>/progress/", progress, name="import_progress"),
]
