"""The KPI tiles of the dashboard and of GET /api/v1/reports/kpis/ (DESIGN.md, "KPIs").

Each tile is one figure for the period, the same figure for the same-length period
just before, the period's target from the monthly `KpiTarget`s and a status. The
figures are the other reports' definitions over the same leads (duplicates never
count); every query here aggregates in the database, so the number of queries is
the same whatever the data size.
"""

import datetime as dt
from calendar import monthrange
from dataclasses import dataclass, replace
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connections
from django.db.models import Aggregate, Count, ExpressionWrapper, F, FloatField, Q, Sum
from django.db.models.functions import Extract, TruncMonth
from django.utils.translation import gettext_lazy as _

from leads.choices import DealStatus
from leads.models import Deal, Spend
from leads.steps import first_at, happened_condition, reached_condition
from reports.base import Report, money, percent, register
from reports.models import KpiCode, KpiTarget
from reports.quality import data_quality_pct
from reports.routers import report_db
from reports.sla import BREACHED, MET, median, minutes_text, timers_of, with_breach
from sla.models import SlaTimer, TimerKind

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


def _start_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=company_zone())


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


def _first_contact_minutes(leads) -> list[Decimal]:
    return [
        _exact_minutes(first - created)
        for created, first in leads.filter(first_contact_at__isnull=False)
        .values_list("created_at", "first_contact_at")
        .order_by()
    ]


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


def first_contact_median(cohort):
    """Median clock minutes from arrival to first contact over the cohort's leads
    with a first contact (DESIGN "SLA", first_contact_median_min; the mean of the two
    middle values for an even count, as reports/sla.py's median). On PostgreSQL the
    database takes the median (percentile_cont) so the dashboard does not fetch a
    month of leads; elsewhere reports/sla.py's median over the fetched minutes."""
    if connections[report_db()].vendor == "postgresql":
        seconds = cohort.filter(first_contact_at__isnull=False).aggregate(m=_Median(_seconds_expression()))[
            "m"
        ]
        return None if seconds is None else Decimal(repr(seconds)) / 60
    return median(_first_contact_minutes(cohort))


def _median_aggregate() -> dict:
    """On PostgreSQL the first-contact median rides along in a cohort's aggregate
    query: one pass over the leads instead of two (percentile_cont skips the NULL of
    a lead not contacted yet, as first_contact_median() leaves it out)."""
    if connections[report_db()].vendor == "postgresql":
        return {"median_s": _Median(_seconds_expression())}
    return {}


def _median_minutes(seconds) -> Decimal | None:
    return None if seconds is None else Decimal(repr(seconds)) / 60


def _first_contact_timers(cohort):
    """The cohort's first-contact timers as reports/sla.py reads them (with has_breach)."""
    return timers_of(cohort, TimerKind.FIRST_CONTACT)


def sla_counts(cohort) -> dict:
    """Met and breached first-contact timers of the cohort's leads (met_pct =
    met / (met + breached) × 100)."""
    return _first_contact_timers(cohort).aggregate(
        met=Count("id", filter=MET), breached=Count("id", filter=BREACHED)
    )


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


def won_between(params, start, end) -> int:
    """Leads that first entered a won stage in [start, end) (events mode's `won`)."""
    return params.leads().filter(happened_condition("won", start, end)).count()


def spend_in(date_from: dt.date, date_to: dt.date) -> Decimal:
    """Company spend pro-rated to [date_from, date_to]: each monthly row with the
    share of its month's days inside the period (DESIGN "Funnel", spend)."""
    rows = (
        Spend.objects.filter(month__gte=date_from.replace(day=1), month__lte=date_to)
        .values("month")
        .annotate(amount=Sum("amount"))
        .order_by()
    )
    return sum(
        (row["amount"] * _share_of_month(row["month"], date_from, date_to) for row in rows), Decimal(0)
    )


def _share_of_month(month: dt.date, date_from: dt.date, date_to: dt.date) -> Decimal:
    days = monthrange(month.year, month.month)[1]
    last = month.replace(day=days)
    inside = (min(last, date_to) - max(month, date_from)).days + 1
    return Decimal(max(inside, 0)) / Decimal(days)


def figures(params) -> dict:
    """Every tile's value for params' period, formatted as the API shows it."""
    cohort = params.cohort()
    c = cohort.aggregate(**_cohort_aggregates(), **_median_aggregate())
    values = {
        KpiCode.LEADS: c["leads"],
        KpiCode.LEAD_TO_WON: percent(c["won"], c["leads"]),
        KpiCode.TARGET_SHARE: percent(c["leads"] - c["not_target"], c["leads"]),
        KpiCode.LEAD_TO_SQL: percent(c["sql"], c["leads"]),
        KpiCode.SQL_TO_MEETING: percent(c["meeting"], c["sql"]),
        KpiCode.MEETING_TO_WON: percent(c["won"], c["meeting"]),
    }
    in_period = {"closed_on__gte": params.date_from, "closed_on__lte": params.date_to}
    deals = won_deals(params).filter(**in_period).aggregate(revenue=Sum("amount"), margin=Sum("margin"))
    values[KpiCode.REVENUE] = money(deals["revenue"] or Decimal(0)) if params.sees_money else None
    values[KpiCode.MARGIN] = money(deals["margin"] or Decimal(0)) if params.sees_money else None
    values[KpiCode.WON] = won_between(params, params.start, params.end)
    if params.sees_spend and c["leads"]:
        values[KpiCode.CPL] = money(spend_in(params.date_from, params.date_to) / c["leads"])
    else:
        values[KpiCode.CPL] = None
    median = _median_minutes(c["median_s"]) if "median_s" in c else first_contact_median(cohort)
    values[KpiCode.FIRST_CONTACT_MEDIAN_MIN] = _minutes(median)
    sla = arrived_timers(params).aggregate(met=Count("id", filter=MET), breached=Count("id", filter=BREACHED))
    values[KpiCode.SLA_MET_PCT] = percent(sla["met"], sla["met"] + sla["breached"])
    return values


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
    same definitions as the tiles; a constant number of grouped queries)."""
    months = months_of(until.replace(day=1) - dt.timedelta(days=31 * (TREND_MONTHS - 1)), until)
    months = months[-TREND_MONTHS:]
    start, end = _start_of(months[0]), _start_of((months[-1] + dt.timedelta(days=32)).replace(day=1))
    zone = company_zone()
    leads = params.leads()
    window = leads.filter(created_at__gte=start, created_at__lt=end)
    per_month = {
        _as_date(row["m"]): row
        for row in window.annotate(m=TruncMonth("created_at", tzinfo=zone))
        .values("m")
        .annotate(**_cohort_aggregates(), **_median_aggregate())
        .order_by()
    }
    deals = {
        row["m"]: row
        for row in won_deals(params)
        .filter(closed_on__gte=months[0], closed_on__lt=end.date())
        .annotate(m=TruncMonth("closed_on"))
        .values("m")
        .annotate(revenue=Sum("amount"), margin=Sum("margin"))
        .order_by()
    }
    won = {
        _as_date(row["m"]): row["n"]
        for row in leads.filter(happened_condition("won", start, end))
        .annotate(m=TruncMonth(first_at("won"), tzinfo=zone))
        .values("m")
        .annotate(n=Count("id"))
        .order_by()
    }
    spend = {
        row["month"]: row["amount"]
        for row in Spend.objects.filter(month__in=months)
        .values("month")
        .annotate(amount=Sum("amount"))
        .order_by()
    }
    timers = {
        _as_date(row["m"]): row
        for row in arrived_timers(_whole_months(params, months[0], months[-1]))
        .annotate(m=TruncMonth("lead__created_at", tzinfo=zone))
        .values("m")
        .annotate(met=Count("id", filter=MET), breached=Count("id", filter=BREACHED))
        .order_by()
    }
    if _median_aggregate():
        medians = {m: _median_minutes(row["median_s"]) for m, row in per_month.items()}
    else:
        medians = _monthly_medians(window, zone)
    series: dict[str, list] = {code: [] for code in TREND_CODES}
    empty = {"leads": 0, "sql": 0, "meeting": 0, "won": 0, "not_target": 0}
    for month in months:
        c = per_month.get(month, empty)
        d = deals.get(month, {})
        t = timers.get(month, {"met": 0, "breached": 0})
        row = {
            KpiCode.REVENUE: money(d.get("revenue") or Decimal(0)) if params.sees_money else None,
            KpiCode.MARGIN: money(d.get("margin") or Decimal(0)) if params.sees_money else None,
            KpiCode.WON: won.get(month, 0),
            KpiCode.LEAD_TO_WON: percent(c["won"], c["leads"]),
            KpiCode.LEADS: c["leads"],
            KpiCode.CPL: (
                # The last month may be running: its spend pro-rated to `until`, as a tile's.
                money(spend.get(month, Decimal(0)) * _share_of_month(month, month, until) / c["leads"])
                if params.sees_spend and c["leads"]
                else None
            ),
            KpiCode.TARGET_SHARE: percent(c["leads"] - c["not_target"], c["leads"]),
            KpiCode.LEAD_TO_SQL: percent(c["sql"], c["leads"]),
            KpiCode.FIRST_CONTACT_MEDIAN_MIN: _minutes(medians.get(month)),
            KpiCode.SLA_MET_PCT: percent(t["met"], t["met"] + t["breached"]),
            KpiCode.SQL_TO_MEETING: percent(c["meeting"], c["sql"]),
            KpiCode.MEETING_TO_WON: percent(c["won"], c["meeting"]),
        }
        for code in TREND_CODES:
            series[code].append(row[code])
    return {"months": [f"{m:%Y-%m}" for m in months], "series": series}


def _whole_months(params, first: dt.date, last: dt.date):
    """params over the whole months first … last (the trend's window)."""
    return replace(
        params, date_from=first, date_to=(last + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    )


def _as_date(value) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def _monthly_medians(window, zone) -> dict[dt.date, Decimal]:
    answered = window.filter(first_contact_at__isnull=False)
    if connections[report_db()].vendor == "postgresql":
        return {
            row["m"].date(): Decimal(repr(row["median"])) / 60
            for row in answered.annotate(m=TruncMonth("created_at", tzinfo=zone))
            .values("m")
            .annotate(median=_Median(_seconds_expression()))
            .order_by()
        }
    minutes: dict[dt.date, list[Decimal]] = {}
    for created, first in answered.values_list("created_at", "first_contact_at").order_by():
        month = created.astimezone(zone).date().replace(day=1)
        minutes.setdefault(month, []).append(_exact_minutes(first - created))
    return {month: median(values) for month, values in minutes.items()}


# --- the report --------------------------------------------------------------------------


def tiles(params) -> list[dict]:
    """The tiles for params' period, with the previous period and the targets."""
    previous_params = params.previous()
    current, previous = figures(params), figures(previous_params)
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
