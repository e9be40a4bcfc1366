"""Marketing spend in the browser (/reports/spend/): the list with totals,
entry and correction per campaign or source and month, deletion with a
confirmation, and import from CSV/XLSX through an ImportJob (leads.spend_import).

Marketing and administrators enter spend; executives read it; sales roles get
403 (spend is company money over every lead, which they do not see). An import
job is its uploader's: anyone else gets 404 for its id.

Spend files are small (a year of a few dozen campaigns is a few hundred rows),
so the page checks and imports them in the request by the same function a
worker runs; a file bigger than SYNC_MAX_BYTES is refused here and can go
through `manage.py import_spend`.
"""

import datetime as dt
import re
from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.validators import MinValueValidator
from django.db import IntegrityError, transaction
from django.db.models import Count, Sum
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from leads import import_jobs, importer, spend_import
from leads.models import Campaign, ImportJob, Source, Spend
from revops import display
from revops.access import allowed_if
from revops.roles import MARKETING_ROLES, Role

EDIT_ROLES = frozenset({*MARKETING_ROLES, Role.ADMIN})
VIEW_ROLES = frozenset({*EDIT_ROLES, Role.EXECUTIVE})
SYNC_MAX_BYTES = 256 * 1024
State = ImportJob.State


def may_view(user) -> bool:
    return user.is_superuser or user.role in VIEW_ROLES


def may_edit(user) -> bool:
    return user.is_superuser or user.role in EDIT_ROLES


viewer_only = allowed_if(may_view)
editor_only = allowed_if(may_edit)

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
# What people type where the browser has no month picker: 03.2026, 03/2026.
_TYPED_MONTH = re.compile(r"^(\d{1,2})[./](\d{4})$")


def parse_month(value: str) -> dt.date | None:
    """`YYYY-MM` (what <input type="month"> sends) or `MM.YYYY` / `MM/YYYY`
    (typed) → the month's first day."""
    value = (value or "").strip()
    if match := _MONTH.match(value):
        year, month = int(match.group(1)), int(match.group(2))
    elif match := _TYPED_MONTH.match(value):
        year, month = int(match.group(2)), int(match.group(1))
    else:
        return None
    if not (1900 < year < 3000 and 1 <= month <= 12):
        return None
    return dt.date(year, month, 1)


class MonthField(forms.CharField):
    # A month picker where the browser has one; elsewhere a text box that takes
    # the month as people write it (the placeholder says how).
    widget = forms.TextInput(
        attrs={
            "type": "month",
            "placeholder": _("MM.YYYY"),
            "pattern": r"\d{4}-\d{2}|\d{1,2}[./]\d{4}",
            "maxlength": "7",
        }
    )
    default_error_messages = {"invalid": _("Enter a month, e.g. 03.2026.")}

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        month = parse_month(value)
        if month is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return month

    def prepare_value(self, value):
        return f"{value:%Y-%m}" if isinstance(value, dt.date) else value


class SpendForm(forms.ModelForm):
    month = MonthField(label=_("Month"))

    class Meta:
        model = Spend
        fields = ["month", "source", "campaign", "amount"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source"].required = False
        self.fields["source"].empty_label = self.fields["campaign"].empty_label = settings.EMPTY_CHOICE_LABEL
        self.fields["source"].help_text = _("Not needed for a campaign: its source is taken.")
        self.fields["campaign"].queryset = Campaign.objects.select_related("source").order_by(
            "source__name", "name"
        )
        self.fields["campaign"].label_from_instance = lambda c: f"{c.source.name} · {c.name}"
        self.fields["campaign"].help_text = _("Empty: spend on the source as a whole.")
        self.fields["amount"].widget.attrs.update(min="0", step="0.01")
        self.fields["amount"].validators.append(MinValueValidator(Decimal(0)))

    def clean(self):
        cleaned = super().clean()
        campaign, source, month = cleaned.get("campaign"), cleaned.get("source"), cleaned.get("month")
        if campaign is not None:
            if source is not None and source.pk != campaign.source_id:
                self.add_error(
                    "campaign",
                    _("This campaign belongs to another source (%(source)s).") % {"source": campaign.source},
                )
                return cleaned
            cleaned["source"] = source = campaign.source
            self.instance.source = source
        elif source is None and "source" not in self.errors:
            self.add_error("source", _("Choose a source or a campaign."))
        if month and source and not self.errors:
            clash = Spend.objects.filter(spend_import.spend_filter(campaign, source, month))
            if self.instance.pk:
                clash = clash.exclude(pk=self.instance.pk)
            if clash.exists():
                what = campaign.name if campaign else source.name
                # On the month: the model's own unique checks then skip this row.
                self.add_error(
                    "month",
                    forms.ValidationError(
                        _("Spend for %(what)s in %(month)s is already entered; edit that row instead.")
                        % {"what": what, "month": display.month(month)},
                        code="unique",
                    ),
                )
        return cleaned

    def validate_unique(self):
        pass  # clean() says it in words; a race is caught at save (IntegrityError → the same message)


class FilterForm(forms.Form):
    month = MonthField(label=_("Month"), required=False)
    source = forms.ModelChoiceField(
        Source.objects.all(), label=_("Source"), required=False, empty_label=settings.EMPTY_CHOICE_LABEL
    )


class UploadForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        help_text=_("CSV (UTF-8 or Windows-1251) or XLSX with the columns month, source, campaign, amount."),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(importer.EXTENSIONS):
            raise forms.ValidationError(_("Upload a .csv or .xlsx file."))
        if upload.size == 0:
            raise forms.ValidationError(_("The file is empty."))
        if upload.size > SYNC_MAX_BYTES:
            raise forms.ValidationError(
                _(
                    "The file is too large for the page (at most %(kb)s KB): split it or use manage.py import_spend."
                )
                % {"kb": SYNC_MAX_BYTES // 1024}
            )
        data = upload.read()
        try:
            if importer.unpacked_size(data) > SYNC_MAX_BYTES * 8:
                raise forms.ValidationError(
                    _(
                        "The file is too large for the page (at most %(kb)s KB): split it or use manage.py import_spend."
                    )
                    % {"kb": SYNC_MAX_BYTES // 1024}
                )
        except importer.ImportFileError as exc:
            raise forms.ValidationError(exc.message) from None
        self.data_bytes = data
        return upload


# --- the list and entry -----------------------------------------------------------------------


def _list_context(request, form=None, upload_form=None):
    filters = FilterForm(request.GET or None, auto_id="filter_%s")  # the entry form has the same fields
    rows = Spend.objects.select_related("source", "campaign").order_by(
        "-month", "source__name", "campaign__name"
    )
    month = source = None
    if filters.is_valid():
        month, source = filters.cleaned_data["month"], filters.cleaned_data["source"]
        if month:
            rows = rows.filter(month=month)
        if source:
            rows = rows.filter(source=source)
    totals = rows.aggregate(amount=Sum("amount"), n=Count("id"))
    by_source = rows.order_by().values("source__name").annotate(amount=Sum("amount")).order_by("source__name")
    editor = may_edit(request.user)
    return {
        "rows": rows,
        "filters": filters,
        "total": totals["amount"] or Decimal(0),
        "count": totals["n"],
        "by_source": by_source,
        "editor": editor,
        "form": form
        or (
            SpendForm(initial={"month": month or timezone.localdate().replace(day=1), "source": source})
            if editor
            else None
        ),
        "upload_form": upload_form or (UploadForm() if editor else None),
    }


def _save(form) -> bool:
    """Save the form; a row entered at the same moment by someone else becomes a form error."""
    try:
        with transaction.atomic():
            form.save()
    except IntegrityError:
        form.add_error(
            None, _("Spend for this campaign or source and month is already entered; edit that row instead.")
        )
        return False
    return True


@viewer_only
def spend_list(request):
    if request.method == "POST":
        if not may_edit(request.user):
            raise PermissionDenied
        form = SpendForm(request.POST)
        if form.is_valid() and _save(form):
            messages.success(request, _("Spend saved."))
            return redirect(reverse("spend:list") + f"?month={form.instance.month:%Y-%m}")
        return render(request, "leads/spend.html", _list_context(request, form=form), status=400)
    status = 400 if request.GET and not FilterForm(request.GET).is_valid() else 200
    return render(request, "leads/spend.html", _list_context(request), status=status)


@editor_only
def spend_edit(request, pk: int):
    spend = get_object_or_404(Spend, pk=pk)
    form = SpendForm(request.POST or None, instance=spend)
    if request.method == "POST":
        if form.is_valid() and _save(form):
            messages.success(request, _("Spend saved."))
            return redirect(reverse("spend:list") + f"?month={spend.month:%Y-%m}")
        return render(request, "leads/spend_form.html", {"form": form, "spend": spend}, status=400)
    return render(request, "leads/spend_form.html", {"form": form, "spend": spend})


@editor_only
def spend_delete(request, pk: int):
    spend = get_object_or_404(Spend.objects.select_related("source", "campaign"), pk=pk)
    if request.method == "POST":
        month = spend.month
        spend.delete()
        messages.success(request, _("Spend deleted."))
        return redirect(reverse("spend:list") + f"?month={month:%Y-%m}")
    return render(request, "leads/spend_delete.html", {"spend": spend})


# --- import -------------------------------------------------------------------------------------


def _job(request, pk: int) -> ImportJob:
    job = ImportJob.objects.visible_to(request.user).filter(pk=pk, kind=ImportJob.Kind.SPEND).first()
    if job is None:
        raise Http404
    return job


@editor_only
@require_POST
def spend_import_upload(request):
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return render(request, "leads/spend.html", _list_context(request, upload_form=form), status=400)
    upload = form.cleaned_data["file"]
    job = import_jobs.create(
        ImportJob.Kind.SPEND,
        user=request.user,
        filename=upload.name.replace("\\", "/").rsplit("/", 1)[-1],
        content=form.data_bytes,
        dry_run=True,
        language=get_language(),
    )
    import_jobs.run(job.pk)
    import_jobs.forget_old_files()
    return redirect("spend:import_job", pk=job.pk)


@editor_only
def spend_import_job(request, pk: int):
    """The job's page: the preview, or why the file was refused, or the outcome."""
    job = _job(request, pk)
    return render(request, "leads/spend_import.html", {"job": job, "rows": job.preview.get("rows", [])})


@editor_only
@require_POST
def spend_import_confirm(request, pk: int):
    job = _job(request, pk)
    confirmed = import_jobs.confirm(job, request.user)
    if not confirmed:
        messages.error(request, _("This upload was already imported or has expired."))
        return redirect("spend:import_job", pk=job.pk)
    import_jobs.run(job.pk)
    job.refresh_from_db()
    if job.state == State.DONE:
        messages.success(request, result_message(job.created, job.matched))
        return redirect("spend:list")
    return redirect("spend:import_job", pk=job.pk)


def result_message(created: int, updated: int) -> str:
    return " ".join(
        [
            ngettext("%(n)s spend row added.", "%(n)s spend rows added.", created) % {"n": created},
            ngettext("%(n)s row updated.", "%(n)s rows updated.", updated) % {"n": updated},
        ]
    )


# Mounted at /reports/spend/ under the namespace "spend" (wherever it is included).
urlpatterns = [
    path("", spend_list, name="list"),
    path("<int:pk>/", spend_edit, name="edit"),
    path("<int:pk>/delete/", spend_delete, name="delete"),
    path("import/", spend_import_upload, name="import"),
    path("import/<int:pk>/", spend_import_job, name="import_job"),
    path("import/<int:pk>/confirm/", spend_import_confirm, name="import_confirm"),
]
