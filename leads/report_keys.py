"""Lead attributes that reports group by and the lead list filters on, defined
once (DESIGN.md, "Reports" → drill-down): the SLA report's hour and weekday of
arrival, and the Rejections report's reason and "the stage the lead left for
lost". reports/ groups by these expressions; the lead FilterSet filters with the
functions below, so a row's count and the list behind it cannot drift apart.
"""

from django.db.models import OuterRef, Subquery
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay
from django.utils import timezone

from leads.choices import StageKind


def arrival_hour(prefix: str = ""):
    """0–23: the hour of the lead's arrival in the company's time zone. ``prefix``
    reaches the lead from another model ("lead__")."""
    return ExtractHour(f"{prefix}created_at", tzinfo=timezone.get_default_timezone())


def arrival_weekday(prefix: str = ""):
    """1–7 (Monday = 1): the weekday of the lead's arrival in the company's time zone."""
    return ExtractIsoWeekDay(f"{prefix}created_at", tzinfo=timezone.get_default_timezone())


def left_for_lost():
    """The code of the stage the lead left when it was last moved to a lost stage
    (a lead reopened and rejected again counts from where it was rejected last)."""
    from leads.models import Stage, StageChange

    return Subquery(
        StageChange.objects.filter(lead=OuterRef("pk"), to_stage_id__in=Stage.ids_of(StageKind.LOST))
        .order_by("-changed_at", "-id")
        .values("from_stage__code")[:1]
    )


def with_arrival_hour(leads, hour: int):
    return leads.alias(arrival_hour=arrival_hour()).filter(arrival_hour=hour)


def with_arrival_weekday(leads, weekday: int):
    return leads.alias(arrival_weekday=arrival_weekday()).filter(arrival_weekday=weekday)


def rejected_from(leads, stage_code: str):
    """Leads that left ``stage_code`` for lost ("none": no such move recorded)."""
    leads = leads.alias(left_for_lost=left_for_lost())
    if stage_code == "none":
        return leads.filter(left_for_lost__isnull=True)
    return leads.filter(left_for_lost=stage_code)


def with_rejection_reason(leads, reason_code: str):
    return leads.filter(rejection_reason__code=reason_code)


# Issue #15: the Rejections report's dispute counts and the lead list behind them.
DISPUTE_STATES = ("any", "open", "upheld", "overturned")


def dispute_condition(state: str = "any", reason_code: str | None = None):
    """Q over Lead: the lead has a dispute of its rejection (in `state`, unless
    "any"; about a rejection for `reason_code`, if given — the reason at the
    time, kept on the dispute when an overturn clears it from the lead)."""
    from django.db.models import Exists, Q

    from leads.models import RejectionDispute

    rows = RejectionDispute.objects.filter(lead=OuterRef("pk"))
    if state != "any":
        rows = rows.filter(state=state)
    if reason_code is not None:
        rows = rows.filter(rejection_reason__code=reason_code)
    return Q(Exists(rows))
