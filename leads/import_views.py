"""Importing leads from a file in the browser: upload → preview → confirm →
(for large files) a progress bar. The logic is in leads.importer.

The uploaded file waits in DATA_DIR/imports under a random token that only the
uploader's session knows. Confirming claims the file by renaming it, so a double
click cannot import it twice. Small files are checked and imported in the
request; large ones in a background thread whose progress the page polls (htmx)."""

import functools
import secrets
import time
from pathlib import Path

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from leads import importer
from leads.models import Source
from revops.roles import Role

IMPORT_ROLES = frozenset({Role.SALES_HEAD, Role.MARKETING_HEAD, Role.MARKETER, Role.ADMIN})
# Larger files are checked / imported in a background thread, so that no request
# outlives the web server's timeout (take_lead costs tens of milliseconds a row).
SYNC_CHECK_MAX_ROWS = 5000
SYNC_IMPORT_MAX_ROWS = 200
ERRORS_SHOWN = 1000
SESSION_KEY = "lead_imports"
UPLOADS_KEPT = 10  # per session
FILE_LIFETIME = 24 * 3600


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
            "no distribution and no SLA clock."
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Formatted here, not at import time, so it is in the reader's language.
        self.fields["file"].help_text = _(
            "CSV (UTF-8 or Windows-1251, separated by commas or semicolons) or XLSX (the first sheet), "
            "up to %(mb)s MB and %(rows)s rows."
        ) % {"mb": importer.MAX_FILE_BYTES // (1024 * 1024), "rows": f"{importer.MAX_ROWS:,}"}

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
        return upload


# --- the uploads of this session ------------------------------------------------------------


def _uploads(request) -> dict:
    return request.session.get(SESSION_KEY, {})


def _upload(request, token: str) -> dict:
    meta = _uploads(request).get(token)
    if meta is None:
        raise Http404
    return meta


def _remember(request, token: str, meta: dict) -> None:
    uploads = _uploads(request)
    uploads[token] = meta
    request.session[SESSION_KEY] = dict(list(uploads.items())[-UPLOADS_KEPT:])


def _file(token: str, meta: dict, *, running: bool = False) -> Path:
    return importer.imports_dir() / (f"{token}.running" if running else meta["file"])


def _remove_old_files() -> None:
    limit = time.time() - FILE_LIFETIME
    for old in importer.imports_dir().iterdir():
        try:
            if old.stat().st_mtime < limit:
                old.unlink()
        except OSError:
            pass


def _options(meta: dict) -> dict:
    source = Source.objects.filter(pk=meta["source"]).first() if meta["source"] else None
    return {"filename": meta["filename"], "source": source, "historical": meta["historical"]}


# --- views ---------------------------------------------------------------------------------


@importer_only
def upload(request):
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        _remove_old_files()
        upload = form.cleaned_data["file"]
        token = secrets.token_urlsafe(16)
        meta = {
            "file": token + Path(upload.name).suffix.lower(),
            "filename": Path(upload.name).name[:200],
            "source": form.cleaned_data["source"].pk if form.cleaned_data["source"] else None,
            "historical": form.cleaned_data["historical"],
            "rows": 0,  # known once checked
        }
        with _file(token, meta).open("wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        _remember(request, token, meta)
        return redirect("leads:import_preview", token=token)
    return render(request, "leads/import_upload.html", {"form": form})


def _file_error(request, path: Path, message):
    path.unlink(missing_ok=True)
    return render(request, "leads/import_upload.html", {"form": UploadForm(), "file_error": message})


@importer_only
def preview(request, token: str):
    meta = _upload(request, token)
    path = _file(token, meta)
    status = importer.job_status(token)
    if not path.exists():
        if status is not None:
            return redirect("leads:import_progress", token=token)
        messages.error(request, _("This upload has expired; upload the file again."))
        return redirect("leads:import")
    if status and status["state"] == "checked":
        summary = status["summary"]
    elif status and status["state"] in importer.ACTIVE_STATES:
        return redirect("leads:import_progress", token=token)
    elif status and status["state"] == "failed":
        return _file_error(request, path, status["message"])
    else:
        options = _options(meta)
        try:
            if importer.estimate_rows(path, meta["filename"]) > SYNC_CHECK_MAX_ROWS:
                importer.start_background(token, path, write=False, **options, language=get_language())
                return redirect("leads:import_progress", token=token)
            summary = importer.prepare(path, **options).summary(importer.PREVIEW_ROWS, ERRORS_SHOWN)
        except importer.ImportFileError as exc:
            return _file_error(request, path, exc.message)
    meta["rows"] = summary["total"]
    _remember(request, token, meta)
    return render(request, "leads/import_preview.html", _preview_context(token, meta, summary))


@importer_only
@require_POST
def confirm(request, token: str):
    meta = _upload(request, token)
    if not meta["rows"]:  # not checked yet
        return redirect("leads:import_preview", token=token)
    running = _file(token, meta, running=True)
    try:
        _file(token, meta).rename(running)  # the claim: only one confirmation gets the file
    except FileNotFoundError:
        if importer.job_status(token) is not None:
            return redirect("leads:import_progress", token=token)
        messages.error(request, _("This upload was already imported or has expired."))
        return redirect("leads:import")
    options = _options(meta)
    if meta["rows"] > SYNC_IMPORT_MAX_ROWS:
        importer.start_background(
            token, running, write=True, **options, actor=request.user, language=get_language()
        )
        return redirect("leads:import_progress", token=token)
    try:
        plan = importer.prepare(running, **options)
        if not plan.ok:  # the data changed since the preview (a user left, a source was removed…)
            summary = plan.summary(importer.PREVIEW_ROWS, ERRORS_SHOWN)
            return render(request, "leads/import_preview.html", _preview_context(token, meta, summary))
        result = importer.execute(plan, actor=request.user)
    except importer.ImportFileError as exc:
        return _file_error(request, running, exc.message)
    finally:
        running.unlink(missing_ok=True)
    messages.success(request, _result_message(result.created, result.repeats))
    return redirect("leads:list")


@importer_only
def progress(request, token: str):
    """The progress of a background check or import; htmx polls it for the fragment."""
    _upload(request, token)
    status = importer.job_status(token)
    htmx = request.headers.get("HX-Request") == "true"
    if status and status["state"] == "checked":
        url = reverse("leads:import_preview", args=[token])
        if htmx:
            response = HttpResponse()
            response["HX-Redirect"] = url
            return response
        return redirect(url)
    context = {
        "token": token,
        "status": status,
        "polling": bool(status and status["state"] in importer.ACTIVE_STATES),
    }
    if status and status["state"] == "done":
        context["result_message"] = _result_message(status["created"], status["repeats"])
    template = "leads/_import_progress.html" if htmx else "leads/import_progress.html"
    return render(request, template, context)


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


def _preview_context(token: str, meta: dict, summary: dict) -> dict:
    return {"token": token, "meta": meta, "summary": summary, "default_source": _options(meta)["source"]}


urlpatterns = [
    path("import/", upload, name="import"),
    path("import/<str:token>/", preview, name="import_preview"),
    path("import/<str:token>/confirm/", confirm, name="import_confirm"),
    path("import/<str:token>/progress/", progress, name="import_progress"),
]
