"""The KPI tiles of the dashboard and of GET /api/v1/reports/kpis/ (DESIGN.md, "KPIs").

Each tile is one figure for the period, the same figure for the same-length period
just before, the period's target from the monthly `KpiTarget`s and a status. The
figures are the other reports' definitions over the same leads (duplicates never
count); every query here aggregates in the database, so the number of queries is
the same whatever the data size.
"""

import datetime as dt
from bisect import bisect_right
from calendar import monthrange
from dataclasses import dataclass, replace
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connections
from django.db.models import (
    Aggregate,
    Case,
    Count,
    ExpressionWrapper,
    F,
    FloatField,
    IntegerField,
    Max,
    Min,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Extract
from django.db.models.lookups import LessThan
from django.utils.translation import gettext_lazy as _

from leads.choices import DealStatus
from leads.models import Deal, Spend
from leads.steps import first_event_rows, reached_condition
from reports.base import Report, money, percent, register
from reports.models import KpiCode, KpiTarget
from reports.params import start_of
from reports.quality import data_quality_pct
from reports.routers import report_db
from reports.sla import median, minutes_text, with_breach
from sla.models import SlaTimer, TimerKind, TimerState

# Rejection reasons that mean "marketing brought the wrong lead" (target_share).
NOT_TARGET_REASONS = ("not_target", "spam")
# How much worse than its target a tile may be and still be amber (DESIGN: 10 %).
AMBER_TOLERANCE = Decimal("0.10")
TREND_MONTHS = 6
# Counts and sums of money add up over days, so their monthly target is pro-rated;
# ratios (cpl is money per lead) do not.
PRO_RATED = frozenset({KpiCode.REVENUE, KpiCode.MARGIN, KpiCode.WON, KpiCode.LEADS})


@dataclass(frozen=True)
class Tile:
    code: str
    group: str  # "shared" | "marketing" | "sales": where the dashboard puts it
    mode: str  # "cohort" | "events" | "now"
    better: str  # "higher" | "lower"
    kind: str  # "count" | "money" | "ratio": how it is formatted
    report: str  # the report behind it, for the tile's link


TILES = (
    Tile(KpiCode.REVENUE, "shared", "events", "higher", "money", "funnel"),
    Tile(KpiCode.MARGIN, "shared", "events", "higher", "money", "funnel"),
    Tile(KpiCode.WON, "shared", "events", "higher", "count", "funnel"),
    Tile(KpiCode.LEAD_TO_WON, "shared", "cohort", "higher", "ratio", "funnel"),
    Tile(KpiCode.LEADS, "marketing", "cohort", "higher", "count", "funnel"),
    Tile(KpiCode.CPL, "marketing", "cohort", "lower", "money", "funnel"),
    Tile(KpiCode.TARGET_SHARE, "marketing", "cohort", "higher", "ratio", "rejections"),
    Tile(KpiCode.LEAD_TO_SQL, "marketing", "cohort", "higher", "ratio", "funnel"),
    Tile(KpiCode.FIRST_CONTACT_MEDIAN_MIN, "sales", "cohort", "lower", "ratio", "sla"),
    Tile(KpiCode.SLA_MET_PCT, "sales", "cohort", "higher", "ratio", "sla"),
    Tile(KpiCode.SQL_TO_MEETING, "sales", "cohort", "higher", "ratio", "funnel"),
    Tile(KpiCode.MEETING_TO_WON, "sales", "cohort", "higher", "ratio", "funnel"),
    Tile(KpiCode.DATA_QUALITY_PCT, "sales", "now", "higher", "ratio", "quality"),
)
TILE_BY_CODE = {tile.code: tile for tile in TILES}
# Tiles a month-by-month trend makes sense for (data quality is a snapshot of now).
TREND_CODES = tuple(tile.code for tile in TILES if tile.mode != "now")


def company_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


# --- the figures -------------------------------------------------------------------------


def _cohort_aggregates() -> dict:
    """Conditional aggregates of the funnel's cohort steps, from the step
    definitions shared with the lead list (leads/steps.py)."""
    return {
        "leads": Count("id"),
        "sql": Count("id", filter=reached_condition("sql")),
        "meeting": Count("id", filter=reached_condition("meeting")),
        "won": Count("id", filter=reached_condition("won")),
        "not_target": Count("id", filter=Q(rejection_reason__code__in=NOT_TARGET_REASONS)),
    }


def _exact_minutes(delta: dt.timedelta) -> Decimal:
    # Exact, as reports/sla.py counts them: a float would round the microseconds.
    return Decimal(delta // dt.timedelta(microseconds=1)) / Decimal(60_000_000)


class _Median(Aggregate):
    # PostgreSQL's continuous median; SQLite (tests, development) has none, and
    # there the minutes are fetched and the median taken in Python.
    function = "PERCENTILE_CONT"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def _seconds_expression():
    # Seconds, not minutes: a float holds whole (and half, for an even count's
    # median) seconds exactly; the division by 60 happens in Decimal (_minutes).
    return ExpressionWrapper(Extract(F("first_contact_at") - F("created_at"), "epoch"), FloatField())


def _median_aggregate() -> dict:
    """On PostgreSQL the first-contact median rides along in a cohort's aggregate
    query: one pass over the leads instead of two (percentile_cont skips the NULL of
    a lead not contacted yet, as the fetched minutes of SQLite leave it out)."""
    if connections[report_db()].vendor == "postgresql":
        return {"median_s": _Median(_seconds_expression())}
    return {}


def _median_minutes(seconds) -> Decimal | None:
    return None if seconds is None else Decimal(repr(seconds)) / 60


def arrived_timers(params):
    """First-contact timers (with has_breach) of params' cohort: the same timers as
    _first_contact_timers(params.cohort()), selected through the timer's own join to
    its lead, which also gives a grouping by arrival month its key (no second pass
    over the leads)."""
    timers = SlaTimer.objects.filter(kind=TimerKind.FIRST_CONTACT)
    return with_breach(params.lead_rows(timers, arrived=True))


def won_deals(params):
    """Won deals (repeat sales included) of the visible, counted leads."""
    return params.lead_rows(Deal.objects.filter(status=DealStatus.WON))


def _spend_by_month(date_from: dt.date, date_to: dt.date) -> dict[dt.date, Decimal]:
    """The company's spend of each month that [date_from, date_to] touches (one query)."""
    return dict(
        Spend.objects.filter(month__gte=date_from.replace(day=1), month__lte=date_to)
        .values("month")
        .annotate(amount=Sum("amount"))
        .order_by("month")
        .values_list("month", "amount")
    )


def _pro_rated(by_month: dict[dt.date, Decimal], date_from: dt.date, date_to: dt.date) -> Decimal:
    return sum(
        (
            amount * _share_of_month(month, date_from, date_to)
            for month, amount in by_month.items()
            if date_from.replace(day=1) <= month <= date_to
        ),
        Decimal(0),
    )


def _share_of_month(month: dt.date, date_from: dt.date, date_to: dt.date) -> Decimal:
    days = monthrange(month.year, month.month)[1]
    last = month.replace(day=days)
    inside = (min(last, date_to) - max(month, date_from)).days + 1
    return Decimal(max(inside, 0)) / Decimal(days)


def _bucket(field, bounds: list) -> Case:
    """Which of consecutive periods (0, 1, …) a row falls in by `field` (a name or
    an expression), `bounds` being the periods' starts and the end of the last; the
    rows are already limited to [bounds[0], bounds[-1]). For two periods one CASE
    branch: an expression (a subquery) is evaluated once per row."""
    expression = F(field) if isinstance(field, str) else field
    whens = [When(LessThan(expression, bound), then=Value(n)) for n, bound in enumerate(bounds[1:-1])]
    return Case(*whens, default=Value(len(bounds) - 2), output_field=IntegerField())


def period_figures(
    params, periods: list[tuple[dt.date, dt.date]], spend_until: dt.date | None = None
) -> list[dict]:
    """Every tile's value (but data quality) for each of the consecutive `periods`
    [(date_from, date_to), …] — the tiles' previous period and their own, or the
    trend's months — formatted as the API shows it. Each figure is one query grouped
    by period: the database passes once over the rows of all the periods (the SLA
    timers' join to their leads is the costliest read), not once per period.
    `spend_until` cuts the spend of a period that runs past it (the trend's running
    month is pro-rated to today, as its tile)."""
    days = [date_from for date_from, _date_to in periods] + [periods[-1][1] + dt.timedelta(days=1)]
    instants = [start_of(day) for day in days]
    window = replace(params, date_from=days[0], date_to=periods[-1][1])
    cohort = window.cohort()
    counts = {
        row["p"]: row
        for row in cohort.annotate(p=_bucket("created_at", instants))
        .values("p")
        .annotate(**_cohort_aggregates(), **_median_aggregate(), first_id=Min("id"), last_id=Max("id"))
        .order_by()
    }
    deals = {
        row["p"]: row
        for row in won_deals(params)
        .filter(closed_on__gte=days[0], closed_on__lt=days[-1])
        .annotate(p=_bucket("closed_on", days))
        .values("p")
        .annotate(revenue=Sum("amount"), margin=Sum("margin"))
        .order_by()
    }
    first_won, at = first_event_rows("won", instants[0], instants[-1])
    won = {
        row["p"]: row["n"]
        for row in params.lead_rows(first_won)
        .annotate(p=_bucket(at, instants))
        .values("p")
        .annotate(n=Count("lead", distinct=True))
        .order_by()
    }
    ids = [(row["first_id"], row["last_id"]) for row in counts.values()]
    timers: dict[int, dict] = {}
    for row in (
        arrived_timers(window)
        # Implied by the join (every lead of the cohort is inside its own id range),
        # and it lets the database read the timers of those ids from slatimer_lead_idx
        # instead of hashing the whole timer table: leads are numbered as they arrive.
        .filter(
            lead_id__gte=min((first for first, _last in ids), default=0),
            lead_id__lte=max((last for _first, last in ids), default=0),
        )
        .annotate(p=_bucket("lead__created_at", instants))
        # Grouped by the breach's existence, which the database then checks once per
        # timer (two FILTERs would check it twice).
        .values("p", "state", "has_breach")
        .annotate(n=Count("id"))
        .order_by()
    ):
        # reports/sla.py's MET (met without a breach) and BREACHED (has a breach).
        t = timers.setdefault(row["p"], {"met": 0, "breached": 0})
        if row["has_breach"]:
            t["breached"] += row["n"]
        elif row["state"] == TimerState.MET:
            t["met"] += row["n"]
    if _median_aggregate():
        medians = {p: _median_minutes(row["median_s"]) for p, row in counts.items()}
    else:
        medians = _period_medians(cohort, instants)
    spend = _spend_by_month(days[0], periods[-1][1]) if params.sees_spend else {}
    empty = {"leads": 0, "sql": 0, "meeting": 0, "won": 0, "not_target": 0}
    result = []
    for p, (date_from, date_to) in enumerate(periods):
        spend_to = date_to if spend_until is None else min(date_to, spend_until)
        c, d = counts.get(p, empty), deals.get(p, {})
        t = timers.get(p, {"met": 0, "breached": 0})
        result.append(
            {
                KpiCode.LEADS: c["leads"],
                KpiCode.LEAD_TO_WON: percent(c["won"], c["leads"]),
                KpiCode.TARGET_SHARE: percent(c["leads"] - c["not_target"], c["leads"]),
                KpiCode.LEAD_TO_SQL: percent(c["sql"], c["leads"]),
                KpiCode.SQL_TO_MEETING: percent(c["meeting"], c["sql"]),
                KpiCode.MEETING_TO_WON: percent(c["won"], c["meeting"]),
                KpiCode.REVENUE: money(d.get("revenue") or Decimal(0)) if params.sees_money else None,
                KpiCode.MARGIN: money(d.get("margin") or Decimal(0)) if params.sees_money else None,
                KpiCode.WON: won.get(p, 0),
                KpiCode.CPL: (
                    money(_pro_rated(spend, date_from, spend_to) / c["leads"])
                    if params.sees_spend and c["leads"]
                    else None
                ),
                KpiCode.FIRST_CONTACT_MEDIAN_MIN: _minutes(medians.get(p)),
                KpiCode.SLA_MET_PCT: percent(t["met"], t["met"] + t["breached"]),
            }
        )
    return result


def figures(params) -> dict:
    """Every tile's value for params' period, formatted as the API shows it."""
    return period_figures(params, [(params.date_from, params.date_to)])[0]


def _period_medians(cohort, instants) -> dict[int, Decimal]:
    """SQLite (no percentile_cont): each period's median from the fetched minutes."""
    minutes: dict[int, list[Decimal]] = {}
    for created, first in (
        cohort.filter(first_contact_at__isnull=False).values_list("created_at", "first_contact_at").order_by()
    ):
        minutes.setdefault(bisect_right(instants, created) - 1, []).append(_exact_minutes(first - created))
    return {p: median(values) for p, values in minutes.items()}


def _minutes(value) -> str | None:
    return minutes_text(value)


# --- targets and status ------------------------------------------------------------------


def months_of(date_from: dt.date, date_to: dt.date) -> list[dt.date]:
    month, months = date_from.replace(day=1), []
    while month <= date_to:
        months.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return months


def period_targets(date_from: dt.date, date_to: dt.date, rows=None) -> dict[str, Decimal | None]:
    """Each tile's target for [date_from, date_to] from the monthly targets.

    A count's or money target is the sum of each month's target times the share
    of that month's days inside the period; a ratio's is not pro-rated: it is the
    month's target, and over several months the average weighted by the days of
    each inside the period. A tile has a target only when every month the period
    touches has one (half a year against one month's target would lie)."""
    months = months_of(date_from, date_to)
    if rows is None:
        rows = KpiTarget.objects.filter(month__in=months).values_list("code", "month", "value")
    by_code: dict[str, dict[dt.date, Decimal]] = {}
    for code, month, value in rows:
        by_code.setdefault(code, {})[month] = value
    targets: dict[str, Decimal | None] = {}
    for tile in TILES:
        monthly = by_code.get(tile.code, {})
        if any(month not in monthly for month in months):
            targets[tile.code] = None
            continue
        shares = {month: _share_of_month(month, date_from, date_to) for month in months}
        if tile.code not in PRO_RATED:
            days = {m: _days_inside(m, date_from, date_to) for m in months}
            total = sum(days.values())
            targets[tile.code] = sum(monthly[m] * days[m] for m in months) / total
        else:
            targets[tile.code] = sum(monthly[m] * shares[m] for m in months)
    return targets


def _days_inside(month: dt.date, date_from: dt.date, date_to: dt.date) -> int:
    last = month.replace(day=monthrange(month.year, month.month)[1])
    return max((min(last, date_to) - max(month, date_from)).days + 1, 0)


def status(value, target, better: str) -> str:
    """green: at or better than the target; amber: worse by up to 10 % of it; red: worse."""
    if value is None or target is None:
        return "none"
    value, target = Decimal(value), Decimal(target)
    if better == "higher":
        if value >= target:
            return "green"
        return "amber" if value >= target * (1 - AMBER_TOLERANCE) else "red"
    if value <= target:
        return "green"
    return "amber" if value <= target * (1 + AMBER_TOLERANCE) else "red"


def _format_target(tile: Tile, target: Decimal | None, params) -> str | None:
    if target is None:
        return None
    if tile.kind == "money" and not params.sees_money:
        return None
    return money(target)


# --- the trend ---------------------------------------------------------------------------


def trend(params, until: dt.date) -> dict:
    """The last TREND_MONTHS calendar months up to `until`'s month, per tile:
    {"months": ["YYYY-MM", ...], "series": {code: [value|None, ...]}} (whole months,
    same definitions and queries as the tiles, grouped by month; the running month's
    spend pro-rated to `until`, as its tile's)."""
    months = months_of(until.replace(day=1) - dt.timedelta(days=31 * (TREND_MONTHS - 1)), until)
    months = months[-TREND_MONTHS:]
    periods = [
        (month, (month + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)) for month in months
    ]
    values = period_figures(params, periods, spend_until=until)
    return {
        "months": [f"{m:%Y-%m}" for m in months],
        "series": {code: [row[code] for row in values] for code in TREND_CODES},
    }


# --- the report --------------------------------------------------------------------------


def tiles(params) -> list[dict]:
    """The tiles for params' period, with the previous period and the targets."""
    before = params.previous()
    previous, current = period_figures(
        params, [(before.date_from, before.date_to), (params.date_from, params.date_to)]
    )
    current[KpiCode.DATA_QUALITY_PCT] = data_quality_pct(params)
    previous[KpiCode.DATA_QUALITY_PCT] = None  # a snapshot of now has no earlier value
    targets = period_targets(params.date_from, params.date_to)
    result = []
    for tile in TILES:
        target = _format_target(tile, targets[tile.code], params)
        value = current[tile.code]
        result.append(
            {
                "code": tile.code.value,
                "label": str(tile.code.label),
                "mode": tile.mode,
                "value": value,
                "target": target,
                "previous": previous[tile.code],
                "status": status(value, target, tile.better),
                "better": tile.better,
            }
        )
    return result


@register
class KpiReport(Report):
    name = "kpis"
    title = _("KPIs")
    by_choices = ("none",)
    default_by = "none"
    modes = ("cohort",)
    columns = [
        ("label", _("Indicator")),
        ("value", _("Value")),
        ("target", _("Target")),
        ("previous", _("Previous period")),
        ("status", _("Status")),
    ]

    def compute(self, params) -> dict:
        # Exactly DESIGN's shape; exports read `tiles` as their rows.
        return {
            "date_from": params.date_from.isoformat(),
            "date_to": params.date_to.isoformat(),
            "tiles": tiles(params),
        }
