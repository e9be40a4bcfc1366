"""One FilterSet for feedback, used by /feedback/ and GET /api/v1/feedback/ alike."""

import datetime as dt

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from leads.models import Campaign, Feedback, FeedbackState, FeedbackTopic, Segment, Source
from revops.inputs import BoundedDateFilter, IdModelChoiceFilter, start_of_day


class FeedbackFilter(django_filters.FilterSet):
    date_from = BoundedDateFilter(
        label=_("Written on or after"), method="filter_date_from", help_text=_("A date, YYYY-MM-DD.")
    )
    date_to = BoundedDateFilter(
        label=_("Written on or before"),
        method="filter_date_to",
        help_text=_("A date, YYYY-MM-DD, inclusive."),
    )
    # The lead's source, campaign and segment: what marketing steers by.
    source = IdModelChoiceFilter(label=_("Source"), field_name="lead__source", queryset=Source.objects.all())
    campaign = IdModelChoiceFilter(
        label=_("Campaign"), field_name="lead__campaign", queryset=Campaign.objects.all()
    )
    segment = IdModelChoiceFilter(
        label=_("Segment"), field_name="lead__segment", queryset=Segment.objects.all()
    )
    topic = django_filters.ChoiceFilter(label=_("Topic"), choices=FeedbackTopic.choices)
    state = django_filters.ChoiceFilter(label=_("State"), choices=FeedbackState.choices)

    class Meta:
        model = Feedback
        fields = ["source", "campaign", "segment", "topic", "state"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("date_from", "date_to"):
            self.filters[name].field.widget = forms.DateInput(attrs={"type": "date"})

    def filter_date_from(self, qs, name, value):
        return qs.filter(created_at__gte=start_of_day(value))

    def filter_date_to(self, qs, name, value):
        return qs.filter(created_at__lt=start_of_day(value + dt.timedelta(days=1)))
