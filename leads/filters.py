"""One FilterSet for leads, used by the API list and the HTML lists alike."""

import datetime as dt
import re

import django_filters
from django import forms
from django.conf import settings
from django.db.models import OuterRef, Q, Subquery
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from leads.choices import Qualification, StageKind
from leads.models import Campaign, Lead, Product, RejectionReason, Segment, Source, Stage
from leads.quality import DEFAULT_IDLE_DAYS, MAX_IDLE_DAYS, Problem, with_problem
from leads.report_keys import rejected_from, with_arrival_hour, with_arrival_weekday
from leads.steps import MODE_LABELS, MODES, STEP_LABELS, STEPS
from revops.inputs import BoundedDateFilter, IdModelChoiceFilter, parse_id, start_of_day
from revops.models import Team
from sla.models import SlaTimer, TimerKind, TimerState


@extend_schema_field(OpenApiTypes.STR)
class CodeFilter(django_filters.ModelMultipleChoiceFilter):
    """Reference rows chosen by their stable code (stage=meeting&stage=proposal)."""


@extend_schema_field(OpenApiTypes.STR)
class CodeChoiceFilter(django_filters.ModelChoiceFilter):
    """A reference row chosen by its stable code."""


@extend_schema_field({"type": "string", "pattern": r"^(none|[1-9][0-9]{0,18})$"})
class OwnerFilter(django_filters.CharFilter):
    """`owner=<user id>` or `owner=none` for unassigned leads (validated by
    _validate_owner before this runs)."""

    def filter(self, qs, value):
        if value in (None, ""):
            return qs
        if value == "none":
            return qs.filter(owner__isnull=True)
        return qs.filter(owner_id=parse_id(value))


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_IDLE_DAYS})
class IdleDaysFilter(django_filters.NumberFilter):
    """A whole number of working days, 1 … MAX_IDLE_DAYS (else a 400)."""

    field_class = forms.IntegerField


@extend_schema_field({"type": "integer", "minimum": 0, "maximum": 23})
class HourFilter(django_filters.NumberFilter):
    """An hour of the day, 0–23 (else a 400)."""

    field_class = forms.IntegerField


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": 7})
class WeekdayFilter(django_filters.NumberFilter):
    """An ISO weekday, 1–7 with Monday = 1 (else a 400)."""

    field_class = forms.IntegerField


@extend_schema_field(OpenApiTypes.STR)
class StageCodeFilter(django_filters.ChoiceFilter):
    """A stage's code (or "none"), from the current stages."""


class LeadFilter(django_filters.FilterSet):
    stage = CodeFilter(
        label=_("Stage"), field_name="stage__code", to_field_name="code", queryset=Stage.objects.all()
    )
    status = django_filters.MultipleChoiceFilter(
        label=_("Status"), choices=StageKind.choices, method="filter_status"
    )
    qualification = django_filters.MultipleChoiceFilter(
        label=_("Qualification"), choices=Qualification.choices
    )
    owner = OwnerFilter(label=_("Owner"), help_text=_("A user id, or “none” for unassigned leads."))
    source = IdModelChoiceFilter(label=_("Source"), queryset=Source.objects.all())
    campaign = IdModelChoiceFilter(label=_("Campaign"), queryset=Campaign.objects.all())
    segment = IdModelChoiceFilter(label=_("Segment"), queryset=Segment.objects.all())
    # Chosen by code, filtered by the row: `product__code=<Product>` would compare
    # the code with the product's name and match nothing.
    product = CodeChoiceFilter(
        label=_("Product"), field_name="product", to_field_name="code", queryset=Product.objects.all()
    )
    created_after = BoundedDateFilter(
        label=_("Arrived on or after"), method="filter_created_after", help_text=_("A date, YYYY-MM-DD.")
    )
    created_before = BoundedDateFilter(
        label=_("Arrived on or before"),
        method="filter_created_before",
        help_text=_("A date, YYYY-MM-DD, inclusive."),
    )
    team = IdModelChoiceFilter(label=_("Team"), queryset=Team.objects.all())
    # Drill-down from reports (DESIGN.md, "Reports"): `step` with `mode` and the
    # period lists exactly the leads behind a report's count, through the same
    # LeadQuerySet methods the reports use (leads/steps.py). Applied together in
    # filter_queryset, as they only mean something side by side.
    step = django_filters.ChoiceFilter(
        label=_("Funnel step"),
        choices=[(step, STEP_LABELS[step]) for step in STEPS],
        method="filter_noop",
        help_text=_(
            "Leads counted in this step of the funnel report (duplicates excluded), "
            "with mode and period_from/period_to."
        ),
    )
    mode = django_filters.ChoiceFilter(
        label=_("Report mode"),
        choices=[(mode, MODE_LABELS[mode]) for mode in MODES],
        method="filter_noop",
        help_text=_(
            "cohort (default): arrived in the period and reached the step; events: the step happened in the period."
        ),
    )
    period_from = BoundedDateFilter(
        label=_("Period from"), method="filter_noop", help_text=_("A date, YYYY-MM-DD (report period).")
    )
    period_to = BoundedDateFilter(
        label=_("Period to"),
        method="filter_noop",
        help_text=_("A date, YYYY-MM-DD, inclusive (report period)."),
    )
    without = django_filters.MultipleChoiceFilter(
        label=_("Without"),
        choices=[
            ("campaign", _("Campaign")),
            ("segment", _("Segment")),
            ("product", _("Product")),
            ("team", _("Team")),
            ("owner", _("Owner")),
        ],
        method="filter_without",
        help_text=_("Leads with this field empty (a report's “none” row)."),
    )
    # Drill-down from the data-quality report (leads/quality.py): "now", whatever the arrival.
    problem = django_filters.ChoiceFilter(
        label=_("Data-quality problem"),
        choices=Problem.choices,
        method="filter_problem",
        help_text=_("Leads with this data-quality problem now (idle: with idle_days)."),
    )
    idle_days = IdleDaysFilter(
        label=_("No activity for, working days"),
        method="filter_noop",
        min_value=1,
        max_value=MAX_IDLE_DAYS,
        help_text=_("For problem=idle or any: working days without activity (default 3)."),
    )
    # Drill-down from the SLA and Rejections reports: the groupings of leads/report_keys.py.
    arrival_hour = HourFilter(
        label=_("Hour of arrival"),
        min_value=0,
        max_value=23,
        method="filter_arrival_hour",
        help_text=_("0–23, in the company's time zone."),
    )
    arrival_weekday = WeekdayFilter(
        label=_("Weekday of arrival"),
        min_value=1,
        max_value=7,
        method="filter_arrival_weekday",
        help_text=_("1–7, Monday = 1, in the company's time zone."),
    )
    rejection_reason = CodeChoiceFilter(
        label=_("Rejection reason"),
        field_name="rejection_reason",
        to_field_name="code",
        queryset=RejectionReason.objects.all(),
    )
    rejected_from = StageCodeFilter(
        label=_("Rejected from stage"),
        choices=lambda: (
            [(stage.code, stage.name) for stage in Stage.cached()] + [("none", _("No stage recorded"))]
        ),
        method="filter_rejected_from",
        help_text=_("The stage the lead left for lost (none: no such move recorded)."),
    )
    # Drill-down from the Rejections report's dispute counts (issue #15).
    dispute = django_filters.ChoiceFilter(
        label=_("Disputed rejection"),
        choices=[
            ("any", _("Any dispute")),
            ("open", _("Awaiting decision")),
            ("upheld", _("Rejection upheld")),
            ("overturned", _("Rejection overturned")),
        ],
        method="filter_dispute",
        help_text=_("Leads whose rejection marketing disputed (with dispute_reason: the reason disputed)."),
    )
    dispute_reason = CodeChoiceFilter(
        label=_("Disputed reason"),
        field_name="rejection_reason",
        to_field_name="code",
        queryset=RejectionReason.objects.all(),
        method="filter_dispute_reason",
    )
    sla_state = django_filters.ChoiceFilter(
        label=_("SLA"),
        choices=TimerState.choices,
        method="filter_sla_state",
        help_text=_("State of the lead's current first-contact timer."),
    )
    search = django_filters.CharFilter(
        label=_("Search"), method="filter_search", help_text=_("Name, company, phone or email.")
    )

    class Meta:
        model = Lead
        fields = ["stage", "status", "qualification", "owner", "source", "campaign", "segment"]

    def __init__(self, *args, owner_choices=None, **kwargs):
        super().__init__(*args, **kwargs)
        # Validate `owner` as "none" or a positive integer, with a clear message.
        self.filters["owner"].field.validators.append(_validate_owner)
        for name in ("created_after", "created_before"):
            self.filters[name].field.widget = forms.DateInput(attrs={"type": "date"})
        if owner_choices is not None:
            # Pages offer people by name; the API takes the id (or "none") as text.
            self.filters["owner"].field.widget = forms.Select(
                choices=[("", "—"), ("none", _("unassigned")), *owner_choices]
            )

    def filter_arrival_hour(self, qs, name, value):
        return qs if value in (None, "") else with_arrival_hour(qs, value)

    def filter_arrival_weekday(self, qs, name, value):
        return qs if value in (None, "") else with_arrival_weekday(qs, value)

    def filter_rejected_from(self, qs, name, value):
        return rejected_from(qs, value) if value else qs

    def filter_dispute(self, qs, name, value):
        if not value:
            return qs
        reason = self.form.cleaned_data.get("dispute_reason")
        return qs.disputed(value, reason.code if reason else None)

    def filter_dispute_reason(self, qs, name, value):
        # Alone it means any dispute of that reason; with `dispute`, filter_dispute applies both.
        if not value or self.form.cleaned_data.get("dispute"):
            return qs
        return qs.disputed("any", value.code)

    def filter_noop(self, qs, name, value):
        return qs

    def filter_problem(self, qs, name, value):
        if not value:
            return qs
        # The list behind a report's count reads the report's database (DESIGN.md,
        # "Drill-down"): the read replica when REPORTS_DATABASE_URL is set.
        qs = qs.using(settings.REPORTS_DB_ALIAS)
        return with_problem(qs, value, self.form.cleaned_data.get("idle_days") or DEFAULT_IDLE_DAYS)

    def filter_without(self, qs, name, value):
        for field in value:
            qs = qs.filter(**{f"{field}__isnull": True})
        return qs

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        data = self.form.cleaned_data
        period_from, period_to = data.get("period_from"), data.get("period_to")
        start = start_of_day(period_from) if period_from else None
        end = start_of_day(period_to + dt.timedelta(days=1)) if period_to else None
        if data.get("step"):
            return queryset.step(data["step"], data.get("mode") or "cohort", start, end)
        if start or end:
            return queryset.arrived(start, end)
        return queryset

    def filter_status(self, qs, name, value):
        return qs.filter(stage_id__in=Stage.ids_of(*value)) if value else qs

    def filter_created_after(self, qs, name, value):
        return qs.filter(created_at__gte=start_of_day(value))

    def filter_created_before(self, qs, name, value):
        return qs.filter(created_at__lt=start_of_day(value + dt.timedelta(days=1)))

    def filter_sla_state(self, qs, name, value):
        latest = SlaTimer.objects.filter(lead=OuterRef("pk"), kind=TimerKind.FIRST_CONTACT).order_by(
            "-started_at"
        )
        return qs.annotate(_sla_state=Subquery(latest.values("state")[:1])).filter(_sla_state=value)

    def filter_search(self, qs, name, value):
        value = value.strip()[:100]
        if not value:
            return qs
        condition = (
            Q(contact__name__icontains=value)
            | Q(contact__company__icontains=value)
            | Q(contact__email__icontains=value.lower())
        )
        digits = re.sub(r"\D", "", value)
        if len(digits) >= 4:
            # Phones are stored as +7XXXXXXXXXX; a Russian 8-prefixed number means +7.
            if len(digits) == 11 and digits.startswith("8"):
                digits = "7" + digits[1:]
            condition |= Q(contact__phone__contains=digits)
        return qs.filter(condition)


def _validate_owner(value):
    from django.core.exceptions import ValidationError

    if value in (None, "", "none"):
        return
    if parse_id(value) is None:
        raise ValidationError(_("Give a user id or “none”."), code="invalid")
