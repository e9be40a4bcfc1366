"""One FilterSet for leads, used by the API list and the HTML lists alike."""

import datetime as dt
import re

import django_filters
from django import forms
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from leads.choices import Qualification, StageKind
from leads.models import Campaign, Lead, Product, Segment, Source, Stage
from revops.inputs import BoundedDateFilter, IdModelChoiceFilter, parse_id
from sla.models import SlaTimer, TimerKind, TimerState


@extend_schema_field(OpenApiTypes.STR)
class CodeFilter(django_filters.ModelMultipleChoiceFilter):
    """Reference rows chosen by their stable code (stage=meeting&stage=proposal)."""


@extend_schema_field(OpenApiTypes.STR)
class CodeChoiceFilter(django_filters.ModelChoiceFilter):
    """A reference row chosen by its stable code."""


def _start_of_day(day: dt.date) -> dt.datetime:
    """Midnight of `day` in the company's time zone (dates in filters are local dates)."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min), timezone.get_default_timezone())


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
    product = CodeChoiceFilter(
        label=_("Product"), field_name="product__code", to_field_name="code", queryset=Product.objects.all()
    )
    created_after = BoundedDateFilter(
        label=_("Arrived on or after"), method="filter_created_after", help_text=_("A date, YYYY-MM-DD.")
    )
    created_before = BoundedDateFilter(
        label=_("Arrived on or before"),
        method="filter_created_before",
        help_text=_("A date, YYYY-MM-DD, inclusive."),
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

    def filter_status(self, qs, name, value):
        return qs.filter(stage_id__in=Stage.ids_of(*value)) if value else qs

    def filter_created_after(self, qs, name, value):
        return qs.filter(created_at__gte=_start_of_day(value))

    def filter_created_before(self, qs, name, value):
        return qs.filter(created_at__lt=_start_of_day(value + dt.timedelta(days=1)))

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
