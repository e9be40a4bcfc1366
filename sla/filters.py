import datetime as dt

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from revops.inputs import BoundedDateFilter, IdFilter, start_of_day
from sla.models import Breach, DelayOwner, TimerKind


class StrictBooleanFilter(django_filters.ChoiceFilter):
    """true/false, and anything else is an error (django-filter's BooleanFilter
    silently ignores values it does not understand)."""

    def __init__(self, *args, isnull_field: str, **kwargs):
        kwargs.setdefault("choices", [("true", _("Yes")), ("false", _("No"))])
        kwargs["method"] = self.apply
        self.isnull_field = isnull_field
        super().__init__(*args, **kwargs)

    def apply(self, qs, name, value):
        if value in ("", None):
            return qs
        return qs.filter(**{f"{self.isnull_field}__isnull": value != "true"})


class BreachFilter(django_filters.FilterSet):
    # Plain ids (not model choices): a filter must not reveal which users exist.
    team = IdFilter(label=_("Team"), field_name="team_id")
    owner = IdFilter(label=_("Owner"), field_name="owner_id")
    source = IdFilter(label=_("Source"), field_name="source_id")
    timer_kind = django_filters.ChoiceFilter(label=_("Timer"), field_name="kind", choices=TimerKind.choices)
    delay_owner = django_filters.ChoiceFilter(label=_("Whose delay"), choices=DelayOwner.choices)
    acknowledged = StrictBooleanFilter(label=_("Acknowledged"), isnull_field="acknowledged_at")
    resolved = StrictBooleanFilter(label=_("Resolved"), isnull_field="resolved_at")
    created_after = BoundedDateFilter(label=_("Breached on or after"), method="filter_after")
    created_before = BoundedDateFilter(label=_("Breached on or before"), method="filter_before")

    class Meta:
        model = Breach
        fields = ["team", "owner", "source", "timer_kind", "delay_owner", "acknowledged", "resolved"]

    def __init__(self, *args, choices: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("created_after", "created_before"):
            self.filters[name].field.widget = forms.DateInput(attrs={"type": "date"})
        # Pages offer names; the API takes ids.
        for name, options in (choices or {}).items():
            self.filters[name].field.widget = forms.Select(choices=[("", "—"), *options])

    def filter_after(self, qs, name, value):
        return qs.filter(created_at__gte=start_of_day(value))

    def filter_before(self, qs, name, value):
        return qs.filter(created_at__lt=start_of_day(value + dt.timedelta(days=1)))
