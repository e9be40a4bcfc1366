import datetime as dt

import django_filters
from django.utils.translation import gettext_lazy as _

from leads.filters import _start_of_day
from leads.models import Source
from revops.models import Team, User
from sla.models import Breach, DelayOwner, TimerKind


class BreachFilter(django_filters.FilterSet):
    team = django_filters.ModelChoiceFilter(label=_("Team"), queryset=Team.objects.all())
    owner = django_filters.ModelChoiceFilter(label=_("Owner"), queryset=User.objects.all())
    source = django_filters.ModelChoiceFilter(label=_("Source"), queryset=Source.objects.all())
    timer_kind = django_filters.ChoiceFilter(label=_("Timer"), field_name="kind", choices=TimerKind.choices)
    delay_owner = django_filters.ChoiceFilter(label=_("Whose delay"), choices=DelayOwner.choices)
    acknowledged = django_filters.BooleanFilter(
        label=_("Acknowledged"), field_name="acknowledged_at", lookup_expr="isnull", exclude=True
    )
    resolved = django_filters.BooleanFilter(
        label=_("Resolved"), field_name="resolved_at", lookup_expr="isnull", exclude=True
    )
    created_after = django_filters.DateFilter(label=_("Breached on or after"), method="filter_after")
    created_before = django_filters.DateFilter(label=_("Breached on or before"), method="filter_before")

    class Meta:
        model = Breach
        fields = ["team", "owner", "source", "timer_kind", "delay_owner", "acknowledged", "resolved"]

    def filter_after(self, qs, name, value):
        return qs.filter(created_at__gte=_start_of_day(value))

    def filter_before(self, qs, name, value):
        return qs.filter(created_at__lt=_start_of_day(value + dt.timedelta(days=1)))
