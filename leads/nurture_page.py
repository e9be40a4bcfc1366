"""The /nurture/ page (issue #15): marketing's view of the leads waiting in
nurture — why, since when, on which track and step, when each comes back — and
what came of the returns in a period.

Reads only; the page's one action (return by hand) is the card's own
(leads.card_views, `return`). Every figure is counted in the database with the
funnel's definitions (leads/steps.py), in a fixed number of queries whatever
the rows.
"""

import datetime as dt
from urllib.parse import urlencode

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Count, F, OuterRef, Prefetch, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from leads.choices import EnrollmentState, ReturnState, ReturnTrigger, StageKind
from leads.contacts import normalize_email, normalize_phone
from leads.models import (
    Lead,
    LeadEvent,
    NurtureReason,
    NurtureReturn,
    NurtureStep,
    NurtureTrack,
    Source,
    StageChange,
    TrackEnrollment,
)
from leads.steps import moved_on_after_return
from revops.inputs import BoundedDateField, IdModelChoiceFilter, parse_id, start_of_day
from revops.roles import COMPANY_WIDE_ROLES, Role

# Who reads the page: marketing runs nurture; heads of sales see their team's
# nurtured leads; executives and administrators read everything. A rep's own
# nurtured leads are on their lead list ("status: nurture"); the page is not theirs.
READING_ROLES = frozenset({*COMPANY_WIDE_ROLES, Role.SALES_HEAD})
PAGE_SIZE = 50


def can_read(user) -> bool:
    return user.is_authenticated and user.is_active and (user.is_superuser or user.role in READING_ROLES)


# --- the list ---------------------------------------------------------------------------------


def _week_end(now: dt.datetime) -> dt.datetime:
    """Next Monday's midnight in the company's zone: "this week" ends there."""
    today = timezone.localdate(now)
    return start_of_day(today + dt.timedelta(days=7 - today.weekday()))


def nurtured_leads(user):
    """The leads in nurture now that `user` may see, each with `nurtured_at` (the
    stage change into nurture that is not undone), `return_due` (its pending
    return, if dated), and `track_now` (a list of zero or one active enrollment,
    with `step_number` and `step_count`). Four queries whatever the rows."""
    sent = StageChange.objects.filter(
        lead=OuterRef("pk"), to_stage__kind=StageKind.NURTURE, undone_by__isnull=True
    ).order_by("-changed_at", "-id")
    pending = NurtureReturn.objects.filter(lead=OuterRef("pk"), state=ReturnState.PENDING)
    step_number = (
        NurtureStep.objects.filter(track=OuterRef("track"), position__lte=OuterRef("step__position"))
        .order_by()
        .values("track")
        .annotate(n=Count("pk"))
        .values("n")
    )
    step_count = (
        NurtureStep.objects.filter(track=OuterRef("track"))
        .order_by()
        .values("track")
        .annotate(n=Count("pk"))
        .values("n")
    )
    enrollments = (
        TrackEnrollment.objects.filter(state=EnrollmentState.ACTIVE)
        .select_related("track", "step")
        .annotate(step_number=Subquery(step_number[:1]), step_count=Subquery(step_count[:1]))
    )
    return (
        Lead.objects.visible_to(user)
        .in_nurture()
        .select_related("contact", "owner", "source", "nurture_cause")
        .annotate(
            nurtured_at=Subquery(sent.values("changed_at")[:1]),
            return_due=Subquery(pending.values("due_at")[:1]),
        )
        .prefetch_related(Prefetch("enrollments", queryset=enrollments, to_attr="track_now"))
        # Soonest back first, then longest waiting. Ordered by the lead's own columns
        # (the index `lead_nurture_order_idx`), not by the annotations above, which
        # say the same but made PostgreSQL compute both subqueries for every nurtured
        # lead before it could take one page: 4.1 s against 2 ms at 1,000,000 leads
        # (bench/pages.py, /nurture/).
        .order_by(
            F("nurture_until").asc(nulls_last=True),
            F("stage_changed_at").asc(nulls_last=True),
            "id",
        )
    )


class NurtureFilter(django_filters.FilterSet):
    reason = django_filters.ModelChoiceFilter(
        label=_("Reason"),
        field_name="nurture_cause",
        to_field_name="code",
        queryset=NurtureReason.objects.all(),
    )
    track = IdModelChoiceFilter(label=_("Track"), queryset=NurtureTrack.objects.all(), method="filter_track")
    source = IdModelChoiceFilter(label=_("Source"), queryset=Source.objects.all())
    owner = django_filters.CharFilter(label=_("Owner"), method="filter_owner")
    this_week = django_filters.BooleanFilter(
        label=_("Returns this week"), widget=forms.CheckboxInput, method="filter_this_week"
    )

    class Meta:
        model = Lead
        fields = ["reason", "track", "source", "owner", "this_week"]

    def __init__(self, *args, owner_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["owner"].field.widget = forms.Select(
            choices=[("", "—"), ("none", _("unassigned")), *owner_choices]
        )
        self.filters["owner"].field.validators.append(_validate_owner)
        self.filters["reason"].field.label_from_instance = lambda reason: reason.name
        self.filters["this_week"].field.required = False

    def filter_track(self, qs, name, value):
        if value is None:
            return qs
        on_track = TrackEnrollment.objects.filter(state=EnrollmentState.ACTIVE, track=value)
        return qs.filter(pk__in=on_track.values("lead_id"))

    def filter_owner(self, qs, name, value):
        if not value:
            return qs
        if value == "none":
            return qs.filter(owner__isnull=True)
        return qs.filter(owner_id=parse_id(value))

    def filter_this_week(self, qs, name, value):
        if not value:
            return qs
        due = NurtureReturn.objects.filter(
            state=ReturnState.PENDING, due_at__lt=_week_end(timezone.now())
        ).values("lead_id")
        return qs.filter(pk__in=due)


def _validate_owner(value):
    if value in (None, "", "none"):
        return
    if parse_id(value) is None:
        raise forms.ValidationError(_("Choose a person from the list."), code="invalid")


def track_step_text(enrollment) -> str:
    """ "step 2 of 5: Send an email" (or "track finished")."""
    if enrollment.step_id is None:
        return str(_("all steps done"))
    return _("step %(n)s of %(m)s: %(kind)s") % {
        "n": enrollment.step_number or 1,
        "m": enrollment.step_count or 1,
        "kind": enrollment.step.get_kind_display(),
    }


def returns_in_words(due: dt.datetime | None, now: dt.datetime) -> str:
    """When a lead comes back, as people say it: "today", "tomorrow", "in 5 days",
    "overdue"; "no date" without a pending return."""
    if due is None:
        return gettext("no date")
    days = (timezone.localdate(due) - timezone.localdate(now)).days
    if due <= now:
        return gettext("due now")
    if days == 0:
        return gettext("today")
    if days == 1:
        return gettext("tomorrow")
    return ngettext("in %(n)s day", "in %(n)s days", days) % {"n": days}


# --- the summary ------------------------------------------------------------------------------


class PeriodForm(forms.Form):
    """The summary's period (inclusive dates in the company's zone; default: this
    month so far)."""

    date_from = BoundedDateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = BoundedDateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        today = timezone.localdate()
        data["date_from"] = data.get("date_from") or today.replace(day=1)
        data["date_to"] = data.get("date_to") or max(today, data["date_from"])
        if data["date_from"] > data["date_to"]:
            self.add_error("date_to", _("The end of the period cannot be before its start."))
        return data


def default_period() -> tuple[dt.date, dt.date]:
    today = timezone.localdate()
    return today.replace(day=1), today


def summary(user, date_from: dt.date, date_to: dt.date) -> dict:
    """What came of the returns in [date_from, date_to]:
    - `triggers`: returns (rows, not leads: a lead may come back twice) per trigger;
    - `by_reason`, `by_track`: the leads whose FIRST return from nurture falls in
      the period (the funnel's events-mode `returned`), and of them those that
      then became SQL and those then won, up to now (the funnel's
      `returned_sql` / `returned_won` conditions) — grouped by the reason of that
      return and the track the lead was on during that stay.
    Over the leads `user` sees, duplicates excluded. Four queries."""
    start, end = start_of_day(date_from), start_of_day(date_to + dt.timedelta(days=1))
    visible = Lead.objects.visible_to(user).counted()
    rows = NurtureReturn.objects.filter(
        state=ReturnState.DONE, returned_at__gte=start, returned_at__lt=end, lead__in=visible
    )
    counted = dict(rows.order_by().values("trigger").annotate(n=Count("pk")).values_list("trigger", "n"))
    triggers = [(label, counted.get(code, 0)) for code, label in ReturnTrigger.choices]

    first = NurtureReturn.objects.filter(lead=OuterRef("pk"), state=ReturnState.DONE).order_by(
        "returned_at", "id"
    )
    leads = visible.happened("returned", start, end).annotate(
        _cause=Subquery(first.values("cause")[:1]),
        _stay=Subquery(first.values("nurture_change")[:1]),
    )
    track = TrackEnrollment.objects.filter(lead=OuterRef("pk"), nurture_change=OuterRef("_stay")).order_by(
        "-started_at", "-id"
    )
    leads = leads.annotate(_track=Subquery(track.values("track")[:1]))
    figures = {
        "returned": Count("pk"),
        # These leads came back (happened above): only what came after is tested.
        "returned_sql": Count("pk", filter=moved_on_after_return("returned_sql")),
        "returned_won": Count("pk", filter=moved_on_after_return("returned_won")),
    }
    # One grouped query by (reason, track), folded per reason and per track here:
    # the two groupings read the same leads, and each pass over them costs
    # ~0.5 s for a year at 1,000,000 leads (bench/pages.py).
    groups = list(leads.order_by().values("_cause", "_track").annotate(**figures))
    reasons = {r.pk: r.name for r in NurtureReason.objects.all()}
    tracks = {t.pk: t.name for t in NurtureTrack.objects.all()}

    def rows_of(key, names, none_label):
        folded = {}
        for group in groups:
            row = folded.setdefault(group[key], dict.fromkeys(figures, 0))
            for name in figures:
                row[name] += group[name]
        result = [
            {"label": names.get(pk, none_label) if pk is not None else none_label, **row}
            for pk, row in folded.items()
        ]
        result.sort(key=lambda r: (-r["returned"], str(r["label"]).lower()))
        return result

    total = {name: sum(group[name] for group in groups) for name in figures}
    return {
        "date_from": date_from,
        "date_to": date_to,
        "triggers": triggers,
        "returns": sum(n for _label, n in triggers),
        "by_reason": rows_of("_cause", reasons, _("no reason listed")),
        "by_track": rows_of("_track", tracks, _("no track")),
        "total": total,
        # The total's drill-down: the funnel's events-mode `returned` over the same period.
        "period_link": urlencode(
            {
                "step": "returned",
                "mode": "events",
                "period_from": date_from.isoformat(),
                "period_to": date_to.isoformat(),
            }
        ),
        "any": bool(total["returned"] or any(n for _l, n in triggers)),
    }


# --- manual entry: the person typed in may be in nurture ---------------------------------------


def nurtured_lead_of(user, phone: str, email: str) -> Lead | None:
    """The latest lead in nurture that `user` may see of the contact with this
    phone or email (as typed; unreadable input finds nothing): the one a new
    request from them brings back (leads.intake). Leads `user` may not see are
    not looked at, so typing numbers tells nobody whose people are in nurture.
    One query."""
    condition = Q()
    for field, raw, normalize in (("phone", phone, normalize_phone), ("email", email, normalize_email)):
        try:
            value = normalize(raw or "")
        except ValidationError:
            continue
        if value:
            condition |= Q(**{f"contact__{field}": value})
    if not condition:
        return None
    return (
        Lead.objects.visible_to(user)
        .in_nurture()
        .filter(condition)
        .select_related("nurture_cause")
        .order_by("-created_at", "-id")
        .first()
    )


def brought_back(lead_id: int, request_id: int) -> bool:
    """Whether the request `request_id` brought lead `lead_id` back from nurture."""
    return LeadEvent.objects.filter(
        lead_id=lead_id, kind=LeadEvent.Kind.RETURNED, data__request=request_id
    ).exists()
