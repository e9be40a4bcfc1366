"""The parameters every report takes (DESIGN.md, "Reports"), parsed once.

`parse_params` turns a query string into a `ReportParams` or raises DRF's
ValidationError (a 400 naming the field); reports read the visible, counted
leads through `ReportParams.leads()` / `cohort()` so that scoping by role and
the duplicate rule live in one place.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError

from revops.inputs import EARLIEST_DATE, LATEST_DATE, date_message, id_message, parse_id

if TYPE_CHECKING:  # pragma: no cover
    from reports.base import Report

MODES = ("cohort", "events")
# The lead filters a report takes, in the order they appear in links.
FILTERS = ("source", "campaign", "segment", "product", "team", "owner")
# Filters that cut the company's leads into a slice that spend cannot follow.
SLICE_FILTERS = ("team", "owner", "segment", "product")


def company_zone():
    return timezone.get_default_timezone()


def today() -> dt.date:
    return timezone.localdate(timezone.now(), company_zone())


def start_of(day: dt.date) -> dt.datetime:
    """Midnight at the start of `day` in the company's time zone."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min), company_zone())


@dataclass(frozen=True)
class ReportParams:
    user: object
    date_from: dt.date  # inclusive, company time zone
    date_to: dt.date  # inclusive
    mode: str  # "cohort" | "events"
    by: str
    filters: dict = field(default_factory=dict)  # only those given; product as its id
    # The product's code for links (the lead list filters products by code).
    product_code: str | None = None
    # A report's own parameters beside the common ones (Report.parse_extra), e.g.
    # the data-quality report's idle_days; they go into query() and so into links.
    extra: dict = field(default_factory=dict)

    @property
    def start(self) -> dt.datetime:
        return start_of(self.date_from)

    @property
    def end(self) -> dt.datetime:
        """Start of the day after date_to: the period is [start, end)."""
        return start_of(self.date_to + dt.timedelta(days=1))

    @property
    def days(self) -> int:
        return (self.date_to - self.date_from).days + 1

    def leads(self):
        """Visible leads, duplicates excluded, filters applied (any arrival date)."""
        from leads.models import Lead

        qs = Lead.objects.visible_to(self.user).counted()
        lookups = {
            "source": "source_id",
            "campaign": "campaign_id",
            "segment": "segment_id",
            "product": "product_id",
            "team": "team_id",
            "owner": "owner_id",
        }
        for name, value in self.filters.items():
            qs = qs.filter(**{lookups[name]: value})
        return qs

    def cohort(self):
        return self.leads().arrived(self.start, self.end)

    def lead_rows(self, rows, field: str = "lead", *, arrived: bool = False):
        """Rows of another table (deals, timers) whose lead is one of leads(), or with
        ``arrived`` one of cohort() — then through the row's own join to its lead,
        which a grouping by a lead field (``lead__created_at``…) shares.

        For a caller who sees every lead and sets no filter, leads() is every lead
        but the duplicates: checking that on the joined lead, or excluding the few
        duplicates (an index finds them), spares the database the pass over all leads
        that `lead__in=leads()` costs."""
        from leads.models import Lead
        from leads.steps import counted_condition

        user = self.user
        sees_all = not self.filters and user.is_authenticated and user.is_active and user.sees_all_leads
        if arrived:
            rows = rows.filter(
                **{f"{field}__created_at__gte": self.start, f"{field}__created_at__lt": self.end}
            )
            if sees_all:
                return rows.filter(counted_condition(f"{field}__"))
        elif sees_all:
            return rows.exclude(**{f"{field}__in": Lead.objects.duplicates().values("pk")})
        return rows.filter(**{f"{field}__in": self.leads().values("pk")})

    @property
    def sees_money(self) -> bool:
        from revops.roles import Role

        return getattr(self.user, "role", None) != Role.REP

    @property
    def sees_spend(self) -> bool:
        """Spend is company-wide: only against every lead and no slice filter."""
        return bool(getattr(self.user, "sees_all_leads", False)) and not any(
            name in self.filters for name in SLICE_FILTERS
        )

    def previous(self) -> ReportParams:
        """The same-length period just before this one."""
        date_to = self.date_from - dt.timedelta(days=1)
        return replace(self, date_from=date_to - dt.timedelta(days=self.days - 1), date_to=date_to)

    def query(self, **extra) -> dict:
        """The report's own parameters (for links back to the report), with `extra`
        overriding; a None value drops the key."""
        params = {
            "date_from": self.date_from.isoformat(),
            "date_to": self.date_to.isoformat(),
            "mode": self.mode,
            "by": self.by,
            **{name: str(value) for name, value in self.filters.items()},
            **{name: str(value) for name, value in self.extra.items()},
        }
        params.update(extra)
        return {k: v for k, v in params.items() if v is not None}

    def drilldown(self, **extra) -> str:
        """`/leads/?…` listing exactly the leads behind a count. The same query on
        GET /api/v1/leads/ returns the same leads (leads/filters.py: step, mode,
        period_from, period_to, without). `extra` adds or overrides parameters
        (e.g. step="sql", campaign=3, without="campaign"); None drops one."""
        params = {
            "mode": self.mode,
            "period_from": self.date_from.isoformat(),
            "period_to": self.date_to.isoformat(),
        }
        for name, value in self.filters.items():
            params[name] = self.product_code if name == "product" else str(value)
        for key, value in extra.items():
            params[key] = value
        items = []
        for key, value in params.items():
            if value is None:
                continue
            if isinstance(value, list | tuple):
                items.extend((key, str(v)) for v in value)
            else:
                items.append((key, str(value)))
        return "/leads/?" + urlencode(items)


# Groupings whose lead-list filter has another name (leads/filters.py, leads/report_keys.py).
ROW_FILTERS = {"hour": "arrival_hour", "weekday": "arrival_weekday", "stage": "rejected_from"}


def row_selection(by: str, key) -> dict:
    """The lead-list parameters that select a report row's leads: the grouping's
    filter with the row's key, or the "none" row (`without`; "none" for a stage)."""
    if key is None:
        return {"rejected_from": "none"} if by == "stage" else {"without": by}
    return {ROW_FILTERS.get(by, by): key}


def _parse_date(query, name, errors):
    raw = query.get(name, "")
    if raw == "":
        return None
    try:
        day = dt.date.fromisoformat(raw.strip())
    except ValueError:
        errors[name] = [_("Give a date as YYYY-MM-DD.")]
        return None
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        errors[name] = [date_message()]
        return None
    return day


def parse_params(query, user, report: Report) -> ReportParams:
    """Parse the common parameters; raise ValidationError({field: [msg]}) on bad input."""
    from leads.models import Campaign, Product, Segment, Source
    from revops.models import Team, User

    errors: dict[str, list[str]] = {}
    date_from = _parse_date(query, "date_from", errors)
    date_to = _parse_date(query, "date_to", errors)
    now = today()
    if date_from is None and "date_from" not in errors:
        date_from = (date_to or now).replace(day=1)
    if date_to is None and "date_to" not in errors and date_from is not None:
        date_to = now if date_from <= now else date_from
    if not errors and date_from > date_to:
        errors["date_to"] = [_("The end of the period is before its start.")]

    mode = query.get("mode", "") or "cohort"
    if mode not in report.modes:
        errors["mode"] = [_("Choose one of: %(choices)s.") % {"choices": ", ".join(report.modes)}]
    by = query.get("by", "") or report.default_by
    if by not in report.by_choices:
        errors["by"] = [_("Choose one of: %(choices)s.") % {"choices": ", ".join(report.by_choices)}]

    models = {
        "source": Source,
        "campaign": Campaign,
        "segment": Segment,
        "product": Product,
        "team": Team,
        "owner": User,
    }
    filters: dict[str, int] = {}
    product_code = None
    for name in FILTERS:
        raw = query.get(name, "")
        if raw == "":
            continue
        value = parse_id(raw.strip())
        if value is None:
            errors[name] = [id_message()]
            continue
        row = models[name].objects.filter(pk=value).first()
        if row is None:
            errors[name] = [_("No such %(name)s.") % {"name": models[name]._meta.verbose_name}]
            continue
        if name == "product":
            product_code = row.code
        filters[name] = value

    extra: dict = {}
    if hasattr(report, "parse_extra"):
        try:
            extra = report.parse_extra(query)
        except ValidationError as exc:
            errors.update(exc.detail)
    if errors:
        raise ValidationError(errors)
    return ReportParams(
        user=user,
        date_from=date_from,
        date_to=date_to,
        mode=mode,
        by=by,
        filters=filters,
        product_code=product_code,
        extra=extra,
    )
