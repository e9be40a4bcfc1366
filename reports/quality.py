"""Data quality (issue #12): what is missing or stalled in the leads now, per
owner or team; every count drills down to the lead list (`problem=…`).

"Now", not a cohort: the period parameters do not apply (the page says so); the
figures are the leads' state at this moment, over the leads the caller may see
(duplicates excluded, the lead filters applied). The problems are defined once
in leads/quality.py, shared with the lead list's `problem` filter.

One GROUP BY with conditional counts (the idle cutoff computed once, before it),
plus one query for the row names: the query count does not depend on the data.
"""

from django.db.models import Count, F
from django.utils import timezone
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ValidationError

from leads.quality import (
    DEFAULT_IDLE_DAYS,
    MAX_IDLE_DAYS,
    OPEN_PROBLEMS,
    Problem,
    idle_cutoff,
    open_condition,
    problem_condition,
)
from reports.base import Report, none_label, percent, register
from reports.params import row_selection
from reports.routers import report_db
from revops.inputs import parse_id

COUNTS = ("open_leads", *OPEN_PROBLEMS, "with_problems", "vague_other")


def parse_idle_days(query) -> int:
    """`idle_days` (1…MAX_IDLE_DAYS, default DEFAULT_IDLE_DAYS) or a 400 naming it."""
    raw = (query.get("idle_days") or "").strip()
    if raw == "":
        return DEFAULT_IDLE_DAYS
    value = parse_id(raw)
    if value is None or value > MAX_IDLE_DAYS:
        raise ValidationError(
            {
                "idle_days": [
                    _g("Give a whole number of working days from 1 to %(max)d.") % {"max": MAX_IDLE_DAYS}
                ]
            }
        )
    return value


def _idle_days(params) -> int:
    return (getattr(params, "extra", None) or {}).get("idle_days", DEFAULT_IDLE_DAYS)


def _counts(queryset, cutoff, group_by=None):
    """Conditional counts in one query: grouped by `group_by`, or one total row."""
    aggregates = {
        "open_leads": Count("pk", filter=open_condition()),
        **{
            problem.value: Count("pk", filter=problem_condition(problem, cutoff)) for problem in OPEN_PROBLEMS
        },
        "with_problems": Count("pk", filter=problem_condition(Problem.ANY, cutoff)),
        "vague_other": Count("pk", filter=problem_condition(Problem.VAGUE_OTHER, cutoff)),
    }
    # Only open leads and rejected ones can have a problem: the rest never needs reading.
    queryset = queryset.using(report_db()).filter(
        open_condition() | problem_condition(Problem.VAGUE_OTHER, cutoff)
    )
    if group_by is None:
        return queryset.aggregate(**aggregates)
    return list(queryset.values(key=F(f"{group_by}_id")).annotate(**aggregates).order_by())


def data_quality_pct(params, now=None) -> str | None:
    """Share of the open leads (visible to params.user, params' filters applied)
    without any data-quality problem now, in % with 1 decimal; None when there
    is no open lead. The dashboard's `data_quality_pct` tile."""
    cutoff = idle_cutoff(_idle_days(params), now)
    # Open leads only (the open stages' index): _counts() also reads every rejected
    # lead for vague_other, which the tile does not show — a scan of all leads.
    totals = (
        params.leads()
        .using(report_db())
        .filter(open_condition())
        .aggregate(
            open_leads=Count("pk"), with_problems=Count("pk", filter=problem_condition(Problem.ANY, cutoff))
        )
    )
    return percent(totals["open_leads"] - totals["with_problems"], totals["open_leads"])


def _names(by: str, keys) -> dict:
    from revops.models import Team, User

    ids = [key for key in keys if key is not None]
    if not ids:
        return {}
    if by == "owner":
        users = User.objects.using(report_db()).filter(pk__in=ids)
        return {user.pk: user.get_full_name() or user.username for user in users}
    return {team.pk: str(team) for team in Team.objects.using(report_db()).filter(pk__in=ids)}


@register
class QualityReport(Report):
    name = "quality"
    title = _("Data quality")
    by_choices = ("owner", "team")
    default_by = "owner"
    modes = ("cohort",)  # "now": the period does not apply (see the module doc)
    columns = [
        ("open_leads", _("Open leads")),
        ("no_product", _("No product")),
        ("no_segment", _("No segment")),
        ("no_company", _("No company")),
        ("idle", _("No activity")),
        ("no_owner", _("Waiting for an owner")),
        ("with_problems", _("Open leads with a problem")),
        ("quality_pct", _("Open leads without problems, %")),
        ("vague_other", _("Rejected as “other” without an explanation")),
    ]

    def parse_extra(self, query) -> dict:
        """This report's own parameters, beside the common ones (raises a 400)."""
        return {"idle_days": parse_idle_days(query)}

    def compute(self, params, now=None) -> dict:
        now = now or timezone.now()
        idle_days = _idle_days(params)
        cutoff = idle_cutoff(idle_days, now)
        grouped = _counts(params.leads(), cutoff, group_by=params.by)
        names = _names(params.by, [item["key"] for item in grouped])

        rows = []
        for item in grouped:
            key = item["key"]
            if key is None:
                label = _g("unassigned") if params.by == "owner" else none_label(params.by)
            else:
                label = names.get(key, str(key))
            row = {"key": key, "label": label, **{field: item[field] for field in COUNTS}}
            row["quality_pct"] = self._quality(row)
            row["links"] = self._links(params, row_selection(params.by, key), idle_days)
            rows.append(row)
        rows.sort(key=lambda row: (row["key"] is None, row["label"].casefold()))

        total = {field: sum(row[field] for row in rows) for field in COUNTS}
        total["quality_pct"] = self._quality(total)
        total["links"] = self._links(params, {}, idle_days)
        result = self.envelope(params, rows, total)
        result.update(
            as_of=timezone.localtime(now).isoformat(),
            idle_days=idle_days,
            idle_since=timezone.localtime(cutoff).isoformat(),
        )
        return result

    @staticmethod
    def _quality(counts: dict) -> str | None:
        return percent(counts["open_leads"] - counts["with_problems"], counts["open_leads"])

    @staticmethod
    def _links(params, selection: dict, idle_days: int) -> dict:
        # "Now": the list must not limit the leads to an arrival period.
        now_only = {"mode": None, "period_from": None, "period_to": None}

        def link(**extra):
            return params.drilldown(**now_only, **selection, **extra)

        links = {"open_leads": link(status="open")}
        for problem in (*OPEN_PROBLEMS, Problem.VAGUE_OTHER):
            extra = {"idle_days": idle_days} if problem == Problem.IDLE else {}
            links[problem.value] = link(problem=problem.value, **extra)
        links["with_problems"] = link(problem=Problem.ANY.value, idle_days=idle_days)
        return links
