"""Funnel and money (DESIGN.md, "Reports" → "Funnel"): leads → MQL → SQL →
meeting → proposal → won, rejected and nurture, returns from nurture, revenue and margin, spend and
its ratios, grouped by source, campaign, segment, product, team, owner, month
or week, in cohort or events mode.

Every count is one conditional aggregate over leads through the step
definitions in leads/steps.py (the same ones the lead list's drill-down uses);
deals are summed in their own query, and spend in its own query before it meets
leads, so nothing is multiplied by a join. The query count does not grow with
the data: cohort mode 1 for counts, events mode 1 (or one per step when grouped
by month/week, since each step has its own event date), 1 for money, 1 for
spend, 1 for labels.
"""

import calendar
import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncMonth, TruncWeek
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from leads import definitions
from leads.choices import DealStatus
from leads.models import Deal, Spend
from leads.steps import first_at, happened_condition, reached_condition
from reports.base import Report, money, none_label, percent, ratio, register
from reports.params import company_zone
from revops import display

STEPS = ("leads", "mql", "sql", "meeting", "proposal", "won")
# `nurture`: in nurture now (cohort) / first sent to nurture in the period
# (events). `returned`, `returned_sql`, `returned_won`: the leads that came back
# from nurture, of those the ones that then became SQL, and the ones then won —
# defined once in leads/steps.py (its docstring says exactly how, per mode), so
# each count's drill-down (/leads/?step=returned…) lists the same leads.
RETURNS = ("returned", "returned_sql", "returned_won")
COUNTS = (*STEPS, "rejected", "nurture", *RETURNS)
MONEY = ("revenue", "margin", "repeat_revenue", "repeat_margin")
SPEND_FIELDS = ("spend", "cpl", "cost_per_sql", "cpa", "romi")
LEAD_KEYS = {
    "source": "source_id",
    "campaign": "campaign_id",
    "segment": "segment_id",
    "product": "product_id",
    "team": "team_id",
    "owner": "owner_id",
}
DATE_GROUPINGS = ("month", "week")
SPEND_GROUPINGS = ("source", "campaign", "month", "week")


def _as_date(value) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value, company_zone())
        return value.date()
    return value


def _bucket(by: str, day: dt.date | None):
    """The row key of a date for by=month ("YYYY-MM") or week (ISO Monday)."""
    if day is None:
        return None
    if by == "month":
        return f"{day.year:04d}-{day.month:02d}"
    return (day - dt.timedelta(days=day.weekday())).isoformat()


def _date_label(by: str, key: str) -> str:
    """A month or week row's label in words: "Март 2026", "неделя с 16.03.2026"
    (the key stays "YYYY-MM" / the Monday's ISO date, DESIGN.md)."""
    if by == "month":
        return display.month(dt.date.fromisoformat(f"{key}-01"))
    return _("week of %(monday)s") % {"monday": display.day(dt.date.fromisoformat(key))}


def _trunc(by: str, expression, *, is_datetime=True):
    cls = TruncMonth if by == "month" else TruncWeek
    if is_datetime:
        return cls(expression, tzinfo=company_zone())
    return cls(expression)


def _month_end(month: dt.date) -> dt.date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def _bucket_bounds(by: str, key: str, params) -> tuple[dt.date, dt.date]:
    """The part of the report period inside a month/week row."""
    if by == "month":
        first = dt.date(int(key[:4]), int(key[5:7]), 1)
        last = _month_end(first)
    else:
        first = dt.date.fromisoformat(key)
        last = first + dt.timedelta(days=6)
    return max(first, params.date_from), min(last, params.date_to)


@register
class FunnelReport(Report):
    name = "funnel"
    title = _("Funnel and money")
    by_choices = ("source", "campaign", "segment", "product", "team", "owner", "month", "week")
    default_by = "source"
    columns = [
        ("leads", _("Leads")),
        ("mql", _("MQL")),
        ("sql", _("SQL")),
        ("meeting", _("Meeting")),
        ("proposal", _("Proposal")),
        ("won", _("Won")),
        ("rejected", _("Rejected")),
        ("nurture", _("Nurture")),
        ("returned", _("Back from nurture")),
        ("returned_sql", _("Back, then SQL")),
        ("returned_won", _("Back, then won")),
        ("revenue", _("Revenue")),
        ("margin", _("Margin")),
        ("repeat_revenue", _("Repeat revenue")),
        ("repeat_margin", _("Repeat margin")),
        ("spend", _("Spend")),
        ("cpl", _("CPL")),
        ("cost_per_sql", _("Cost per SQL")),
        ("cpa", _("CPA")),
        ("romi", _("ROMI, %")),
    ]

    # --- counts -----------------------------------------------------------------------------

    def _counts(self, params) -> dict:
        by = params.by
        counts: dict = defaultdict(lambda: dict.fromkeys(COUNTS, 0))
        if params.mode == "cohort":
            key = F(LEAD_KEYS[by]) if by in LEAD_KEYS else _trunc(by, "created_at")
            aggregates = {
                step: Count("pk", filter=reached_condition(step)) for step in COUNTS if step != "leads"
            }
            rows = (
                params.cohort()
                .annotate(_key=key)
                .order_by()
                .values("_key")
                .annotate(leads=Count("pk"), **aggregates)
            )
            for row in rows:
                k = _bucket(by, _as_date(row["_key"])) if by in DATE_GROUPINGS else row["_key"]
                for step in COUNTS:
                    counts[k][step] += row[step]
            return counts
        start, end = params.start, params.end
        if by in DATE_GROUPINGS:
            # Each step is grouped by the date of its own event.
            for step in COUNTS:
                rows = (
                    params.leads()
                    .filter(happened_condition(step, start, end))
                    .annotate(_key=_trunc(by, first_at(step)))
                    .order_by()
                    .values("_key")
                    .annotate(n=Count("pk"))
                )
                for row in rows:
                    counts[_bucket(by, _as_date(row["_key"]))][step] += row["n"]
            return counts
        conditions = {step: happened_condition(step, start, end) for step in COUNTS}
        anything = Q()
        for condition in conditions.values():
            anything |= condition
        rows = (
            params.leads()
            .filter(anything)
            .order_by()
            .values(LEAD_KEYS[by])
            .annotate(
                **{f"n_{step}": Count("pk", filter=condition) for step, condition in conditions.items()}
            )
        )
        for row in rows:
            for step in COUNTS:
                counts[row[LEAD_KEYS[by]]][step] += row[f"n_{step}"]
        return counts

    # --- money ------------------------------------------------------------------------------

    def _money(self, params) -> dict:
        by = params.by
        deals = Deal.objects.filter(status=DealStatus.WON)
        # The cohort through the deal's own join to its lead (which the grouping key
        # reads too), not `lead__in=<cohort>`: one pass over the leads, not two.
        if params.mode == "cohort":
            deals = params.lead_rows(deals, arrived=True)
            key = F(f"lead__{LEAD_KEYS[by]}") if by in LEAD_KEYS else _trunc(by, "lead__created_at")
        else:
            deals = params.lead_rows(
                deals.filter(closed_on__gte=params.date_from, closed_on__lte=params.date_to)
            )
            key = (
                F(f"lead__{LEAD_KEYS[by]}") if by in LEAD_KEYS else _trunc(by, "closed_on", is_datetime=False)
            )
        first, repeat = Q(is_repeat_sale=False), Q(is_repeat_sale=True)
        rows = (
            deals.annotate(_key=key)
            .order_by()
            .values("_key")
            .annotate(
                m_revenue=Sum("amount", filter=first),
                m_margin=Sum("margin", filter=first),
                m_repeat_revenue=Sum("amount", filter=repeat),
                m_repeat_margin=Sum("margin", filter=repeat),
            )
        )
        result: dict = defaultdict(lambda: dict.fromkeys(MONEY, Decimal(0)))
        for row in rows:
            k = _bucket(by, _as_date(row["_key"])) if by in DATE_GROUPINGS else row["_key"]
            for name in MONEY:
                result[k][name] += row[f"m_{name}"] or Decimal(0)
        return result

    # --- spend ------------------------------------------------------------------------------

    def _spend(self, params) -> dict | None:
        """Unrounded pro-rated spend per row key, or None when spend is not shown
        for this grouping or caller (DESIGN: company spend over a slice would lie)."""
        by = params.by
        if not params.sees_spend or by not in SPEND_GROUPINGS:
            return None
        rows = Spend.objects.filter(month__gte=params.date_from.replace(day=1), month__lte=params.date_to)
        if "source" in params.filters:
            rows = rows.filter(source_id=params.filters["source"])
        if "campaign" in params.filters:
            rows = rows.filter(campaign_id=params.filters["campaign"])
        column = {"source": "source_id", "campaign": "campaign_id"}.get(by)
        fields = [column, "month"] if column else ["month"]
        spend: dict = defaultdict(Decimal)
        for row in rows.order_by().values(*fields).annotate(total=Sum("amount")):
            month = row["month"]
            month_end = _month_end(month)
            days_in_month = month_end.day
            first, last = max(month, params.date_from), min(month_end, params.date_to)
            if first > last:
                continue
            if by == "week":
                day = first
                while day <= last:
                    week_end = min(day + dt.timedelta(days=6 - day.weekday()), last)
                    days = (week_end - day).days + 1
                    spend[_bucket("week", day)] += row["total"] * days / days_in_month
                    day = week_end + dt.timedelta(days=1)
                continue
            share = row["total"] * ((last - first).days + 1) / days_in_month
            key = row[column] if column else _bucket("month", month)
            spend[key] += share
        return spend

    # --- labels -----------------------------------------------------------------------------

    def _labels(self, by: str, keys) -> tuple[dict, dict]:
        """Labels of the row keys (one query), and product codes for links."""
        from leads.models import Campaign, Product, Segment, Source
        from revops.models import Team, User

        ids = [k for k in keys if k is not None]
        codes: dict = {}
        if by in DATE_GROUPINGS:
            return {k: _date_label(by, k) for k in ids}, codes
        if not ids:
            return {}, codes
        if by == "owner":
            return {u.pk: u.get_full_name() or u.username for u in User.objects.filter(pk__in=ids)}, codes
        if by == "product":
            products = list(Product.objects.filter(pk__in=ids))
            return {p.pk: str(p) for p in products}, {p.pk: p.code for p in products}
        model = {"source": Source, "campaign": Campaign, "segment": Segment, "team": Team}[by]
        if by == "campaign":
            return {c.pk: c.name for c in Campaign.objects.filter(pk__in=ids)}, codes
        return {row.pk: str(row) for row in model.objects.filter(pk__in=ids)}, codes

    none_label = staticmethod(none_label)

    # --- the answer ---------------------------------------------------------------------------

    def _links(self, params, key, codes) -> dict:
        by = params.by
        if by in DATE_GROUPINGS:
            first, last = _bucket_bounds(by, key, params)
            extra = {"period_from": first.isoformat(), "period_to": last.isoformat()}
        elif key is None:
            extra = {"without": by}
        elif by == "product":
            extra = {"product": codes.get(key)}
        else:
            extra = {by: key}
        return {step: params.drilldown(step=step, **extra) for step in COUNTS}

    @staticmethod
    def _figures(counts, money_row, spend_value, params) -> dict:
        row = dict(counts)
        sees_money = params.sees_money
        for name in MONEY:
            row[name] = money(money_row[name]) if sees_money else None
        if spend_value is None:
            row.update(dict.fromkeys(SPEND_FIELDS))
        else:
            row["spend"] = money(spend_value)
            row["cpl"] = ratio(spend_value, counts["leads"])
            row["cost_per_sql"] = ratio(spend_value, counts["sql"])
            row["cpa"] = ratio(spend_value, counts["won"])
            row["romi"] = percent(money_row["margin"] - spend_value, spend_value)
        # Conversion between neighbouring steps and overall (pages; extra to the contract).
        row["conversion"] = {
            **{
                step: percent(counts[step], counts[previous])
                for previous, step in zip(STEPS, STEPS[1:], strict=False)
            },
            "overall": percent(counts["won"], counts["leads"]),
        }
        return row

    def compute(self, params) -> dict:
        counts = self._counts(params)
        money_rows = self._money(params)
        spend = self._spend(params)
        keys = set(counts) | set(money_rows) | set(spend or ())
        labels, codes = self._labels(params.by, keys)
        empty_counts = dict.fromkeys(COUNTS, 0)
        empty_money = dict.fromkeys(MONEY, Decimal(0))
        rows = []
        for key in keys:
            label = labels.get(key, str(key)) if key is not None else self.none_label(params.by)
            row = {"key": key, "label": label}
            row.update(
                self._figures(
                    counts.get(key, empty_counts),
                    money_rows.get(key, empty_money),
                    None if spend is None else spend.get(key, Decimal(0)),
                    params,
                )
            )
            row["links"] = self._links(params, key, codes)
            rows.append(row)
        if params.by in DATE_GROUPINGS:
            rows.sort(key=lambda r: (r["key"] is None, r["key"] or ""))
        else:
            rows.sort(key=lambda r: (r["key"] is None, str(r["label"]).lower(), r["key"] or 0))

        total_counts = {step: sum(counts[k][step] for k in counts) for step in COUNTS}
        total_money = {name: sum((money_rows[k][name] for k in money_rows), Decimal(0)) for name in MONEY}
        total_spend = None if spend is None else sum(spend.values(), Decimal(0))
        total = self._figures(total_counts, total_money, total_spend, params)
        if total_spend is not None:
            # Money in the total is the sum of the rows as shown (each rounded once).
            total["spend"] = money(sum((Decimal(r["spend"]) for r in rows), Decimal(0)))
        total["links"] = {step: params.drilldown(step=step) for step in COUNTS}
        answer = self.envelope(params, rows, total)
        # Which MQL/SQL checklist and ICP segments the period was measured with.
        answer["definitions"] = definitions.measured_with(params.start, params.end)
        return answer
