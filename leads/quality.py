"""Data-quality problems of leads, defined once (issue #12, "Data quality").

Both the data-quality report (reports/quality.py) and the lead list's
`problem` filter (drill-down from the report) build on `problem_condition`, so
a count in the report and the list behind it cannot drift apart.

All of it is "now": the state of the leads at this moment, whatever their
arrival date.

- `no_product`, `no_segment`, `no_company`: open leads without a product, a
  segment, or a company on their contact;
- `no_owner`: open leads waiting for an owner (the team queue);
- `idle`: open leads with no activity for N working days. Activity is a
  contact attempt, a stage change (not the arrival's own history row) or a
  note on the card; the arrival is not activity, so an untouched lead counts
  whatever its age. "N working days" are counted back on the company's default
  calendar: the cutoff is the start of the N-th working day before today, so
  the lead had no activity on N whole working days (and none today);
- `vague_other`: leads rejected as `other` whose comment is empty or one word
  ("other" demands an explanation, and one word rarely is one);
- `any`: open leads with at least one of the open-lead problems above.
"""

import datetime as dt

from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from leads.choices import RejectionCode, StageKind
from leads.models import ContactAttempt, LeadEvent, RejectionReason, Stage, StageChange

DEFAULT_IDLE_DAYS = 3
MAX_IDLE_DAYS = 250  # about a working year
# A calendar with no working day at all must not loop forever looking for one.
_MAX_LOOKBACK_DAYS = 3 * 366


class Problem(models.TextChoices):
    NO_PRODUCT = "no_product", _("No product")
    NO_SEGMENT = "no_segment", _("No segment")
    NO_COMPANY = "no_company", _("No company")
    IDLE = "idle", _("No activity")
    NO_OWNER = "no_owner", _("Waiting for an owner")
    VAGUE_OTHER = "vague_other", _("Rejected as “other” without an explanation")
    ANY = "any", _("Any problem of an open lead")


OPEN_PROBLEMS = (Problem.NO_PRODUCT, Problem.NO_SEGMENT, Problem.NO_COMPANY, Problem.IDLE, Problem.NO_OWNER)
NOTE_KINDS = (LeadEvent.Kind.NOTE, LeadEvent.Kind.FEEDBACK)  # both are notes written on the card


def idle_cutoff(days: int, now: dt.datetime | None = None) -> dt.datetime:
    """The start of the `days`-th working day before today on the company's default
    calendar (every day counts when there is none): a lead with no activity since
    then has been idle for `days` working days. Computed once per request."""
    from sla.calendars import schedule_or_24x7, team_calendar

    schedule = schedule_or_24x7(team_calendar(None))
    today = timezone.localtime(now or timezone.now(), schedule.tz).date()
    day, found = today, 0
    while found < days:
        day -= dt.timedelta(days=1)
        if (today - day).days > _MAX_LOOKBACK_DAYS:
            day = today - dt.timedelta(days=days)  # no working days at all: calendar days
            break
        if schedule.windows_on(day):
            found += 1
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min), schedule.tz)


def open_condition() -> Q:
    return Q(stage_id__in=Stage.ids_of(StageKind.OPEN))


def activity_since(cutoff: dt.datetime) -> Q:
    """Q over Lead: an attempt, a stage change or a note at or after `cutoff`."""
    return (
        Q(Exists(ContactAttempt.objects.filter(lead=OuterRef("pk"), made_at__gte=cutoff)))
        | Q(
            Exists(
                StageChange.objects.filter(
                    lead=OuterRef("pk"), from_stage__isnull=False, changed_at__gte=cutoff
                )
            )
        )
        | Q(
            Exists(LeadEvent.objects.filter(lead=OuterRef("pk"), kind__in=NOTE_KINDS, created_at__gte=cutoff))
        )
    )


def vague_other_condition() -> Q:
    other = RejectionReason.objects.filter(code=RejectionCode.OTHER).values("pk")
    return Q(
        stage_id__in=Stage.ids_of(StageKind.LOST),
        rejection_reason_id__in=other,
        # Empty, or a single word between optional spaces.
        rejection_comment__regex=r"^\s*\S*\s*$",
    )


def problem_condition(problem: str, cutoff: dt.datetime) -> Q:
    """Q over Lead selecting the leads with `problem` now (`cutoff` from idle_cutoff)."""
    if problem == Problem.VAGUE_OTHER:
        return vague_other_condition()
    if problem == Problem.ANY:
        return open_condition() & _any_open_problem(cutoff)
    return open_condition() & _open_problem(problem, cutoff)


def _open_problem(problem: str, cutoff: dt.datetime) -> Q:
    if problem == Problem.NO_PRODUCT:
        return Q(product__isnull=True)
    if problem == Problem.NO_SEGMENT:
        return Q(segment__isnull=True)
    if problem == Problem.NO_COMPANY:
        return Q(contact__company="")
    if problem == Problem.NO_OWNER:
        return Q(owner__isnull=True)
    if problem == Problem.IDLE:
        return ~activity_since(cutoff)
    raise ValueError(f"unknown problem {problem!r}")


def _any_open_problem(cutoff: dt.datetime) -> Q:
    condition = Q()
    for problem in OPEN_PROBLEMS:
        condition |= _open_problem(problem, cutoff)
    return condition


def with_problem(queryset, problem: str, idle_days: int = DEFAULT_IDLE_DAYS, now=None):
    """The leads of `queryset` that have `problem` now (the lead list's filter)."""
    return queryset.filter(problem_condition(problem, idle_cutoff(idle_days, now)))
