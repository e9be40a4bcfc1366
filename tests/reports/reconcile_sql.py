"""The reports of DESIGN.md ("Reports") written out again as literal SQL, for
tests/reports/test_reconciliation.py. Nothing here imports reports/, leads.steps
or the lead FilterSet: each figure is read from the tables with its own query,
so a report that drifts from the contract disagrees with this file.

The SQL runs on PostgreSQL and SQLite alike. Two things have no portable SQL and
are done in Python over rows fetched by SQL: the company's time zone (the hour,
day, week and month buckets are rows of a temporary calendar table, computed
here with zoneinfo and joined to in SQL) and the arithmetic that needs exact
decimals (spend pro-rating, medians and nearest-rank percentiles, rounding).
The JSON field of the qualification history is read with each database's own
JSON operator.
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection

# --- formatting, as DESIGN says: half-up, once, from unrounded values ----------------------


def q2(value) -> str | None:
    if value is None:
        return None
    return str(Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def q1(value) -> str | None:
    if value is None:
        return None
    return str(Decimal(value).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def div(num, den) -> Decimal | None:
    if num is None or den is None or Decimal(den) == 0:
        return None
    return Decimal(num) / Decimal(den)


def pct(num, den) -> str | None:
    value = div(num, den)
    return None if value is None else q1(value * 100)


def money(value) -> Decimal:
    """A sum of money read from SQL: exact on PostgreSQL; SQLite sums decimals as
    floats, which are within far less than a cent of the exact sum here."""
    if value is None:
        return Decimal(0)
    if isinstance(value, float):
        return Decimal(repr(value)).quantize(Decimal("0.01"))
    return Decimal(value)


# --- running SQL ---------------------------------------------------------------------------


def zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=zone())


def param(value):
    """A parameter as the database stores it (aware datetimes: UTC, as Django writes them)."""
    if isinstance(value, dt.datetime):
        return connection.ops.adapt_datetimefield_value(value)
    if isinstance(value, dt.date):
        return connection.ops.adapt_datefield_value(value)
    return value


def rows(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, [param(p) for p in params])
        return cursor.fetchall() if cursor.description else []


def aware(value) -> dt.datetime:
    """A datetime column read by a raw cursor (SQLite: naive UTC, maybe text)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value


def json_text(column: str, key: str) -> str:
    if connection.vendor == "postgresql":
        return f"({column} ->> '{key}')"
    return f"json_extract({column}, '$.{key}')"


# --- the period and its calendar -------------------------------------------------------------


class Period:
    """[date_from, date_to] in the company's zone, with temporary tables of its hours
    and of every day of the months it touches (made once per period)."""

    def __init__(self, number: int, date_from: dt.date, date_to: dt.date):
        self.number, self.date_from, self.date_to = number, date_from, date_to
        self.start = local_midnight(date_from)
        self.end = local_midnight(date_to + dt.timedelta(days=1))

    @property
    def query(self) -> dict:
        return {"date_from": self.date_from.isoformat(), "date_to": self.date_to.isoformat()}

    def previous(self) -> Period:
        days = (self.date_to - self.date_from).days + 1
        date_to = self.date_from - dt.timedelta(days=1)
        return Period(self.number + 100, date_to - dt.timedelta(days=days - 1), date_to)


def create_calendar_tables():
    timestamp = "timestamp with time zone" if connection.vendor == "postgresql" else "datetime"
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE recon_hour (p integer, starts {timestamp}, ends {timestamp}, "
            "hour integer, weekday integer, month_key varchar(7), week_key varchar(10))"
        )
        cursor.execute(
            "CREATE TEMPORARY TABLE recon_day (p integer, day date, month_start date, "
            "month_key varchar(7), week_key varchar(10), inside integer)"
        )


def month_key(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def week_key(day: dt.date) -> str:
    return (day - dt.timedelta(days=day.weekday())).isoformat()


def fill_calendar(period: Period):
    hours = []
    day = period.date_from
    while day <= period.date_to:
        for hour in range(24):
            starts = dt.datetime.combine(day, dt.time(hour), tzinfo=zone())
            ends = starts + dt.timedelta(hours=1)
            hours.append(
                (
                    period.number,
                    param(starts),
                    param(ends),
                    hour,
                    day.isoweekday(),
                    month_key(day),
                    week_key(day),
                )
            )
        day += dt.timedelta(days=1)
    days = []
    day = period.date_from.replace(day=1)
    last = (period.date_to.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    while day <= last:
        inside = 1 if period.date_from <= day <= period.date_to else 0
        days.append(
            (period.number, param(day), param(day.replace(day=1)), month_key(day), week_key(day), inside)
        )
        day += dt.timedelta(days=1)
    with connection.cursor() as cursor:
        cursor.executemany("INSERT INTO recon_hour VALUES (%s, %s, %s, %s, %s, %s, %s)", hours)
        cursor.executemany("INSERT INTO recon_day VALUES (%s, %s, %s, %s, %s, %s)", days)


# --- who is looking ------------------------------------------------------------------------


class Viewer:
    """The caller's slice of the leads as SQL over `l` (leads_lead)."""

    def __init__(self, user):
        self.user = user
        role = user.role
        if role in ("executive", "marketer", "marketing_head", "admin") or user.is_superuser:
            self.where, self.params, self.everything = "1 = 1", [], True
        elif role == "sales_head":
            self.where, self.params, self.everything = "l.team_id = %s", [user.team_id], False
        elif role == "rep":
            self.where, self.params, self.everything = "l.owner_id = %s", [user.pk], False
        else:  # pragma: no cover - the test's viewers are the three above
            raise AssertionError(role)
        self.sees_money = role != "rep"


# Leads whose rejection reason is `duplicate` count nowhere.
COUNTED = (
    "(l.rejection_reason_id IS NULL OR l.rejection_reason_id NOT IN "
    "(SELECT r0.id FROM leads_rejectionreason r0 WHERE r0.code = 'duplicate'))"
)
IN_PERIOD = "l.created_at >= %s AND l.created_at < %s"
HOUR_JOIN = "JOIN recon_hour h ON h.p = %s AND {col} >= h.starts AND {col} < h.ends"
MEETING_POS = "(SELECT s0.position FROM leads_stage s0 WHERE s0.code = 'meeting')"
PROPOSAL_POS = "(SELECT s0.position FROM leads_stage s0 WHERE s0.code = 'proposal')"
LEAD_COLUMNS = {
    "source": "l.source_id",
    "campaign": "l.campaign_id",
    "segment": "l.segment_id",
    "product": "l.product_id",
    "team": "l.team_id",
    "owner": "l.owner_id",
}
BUCKETS = {"month": "h.month_key", "week": "h.week_key", "hour": "h.hour", "weekday": "h.weekday"}


def _key_and_join(by: str, period: Period, column="l.created_at"):
    """(key expression, join clause, join params) of a lead grouping."""
    if by in BUCKETS:
        return BUCKETS[by], HOUR_JOIN.format(col=column), [period.number]
    return LEAD_COLUMNS[by], "", []


# --- the funnel ----------------------------------------------------------------------------

COUNTS = (
    "leads",
    "mql",
    "sql",
    "meeting",
    "proposal",
    "won",
    "rejected",
    "nurture",
    "returned",
    "returned_sql",
    "returned_won",
)
MONEY = ("revenue", "margin", "repeat_revenue", "repeat_margin")

# Returns from nurture (issue #15). A return is a done NurtureReturn row. After a
# return = strictly after one of the lead's returns. A stage entry is not taken back
# by Undo (nor an undo), and does not come from a nurture stage (the return's own move).
AFTER_RETURN = (
    "EXISTS (SELECT 1 FROM leads_nurturereturn r WHERE r.lead_id = {row}.lead_id "
    "AND r.state = 'done' AND r.returned_at < {row}.{at})"
)
REAL_ENTRY = (
    "c.undoes_id IS NULL AND NOT EXISTS (SELECT 1 FROM leads_stagechange u WHERE u.undoes_id = c.id) "
    "AND (c.from_stage_id IS NULL OR c.from_stage_id NOT IN "
    "(SELECT s1.id FROM leads_stage s1 WHERE s1.kind = 'nurture'))"
)


def _return_rows(what: str) -> str:
    """FROM … WHERE … of the rows whose earliest per lead is `what`'s event, with
    `x_at` their time; correlated to the lead `l`."""
    if what == "returned":
        return (
            "SELECT r2.returned_at AS x_at FROM leads_nurturereturn r2 "
            "WHERE r2.lead_id = l.id AND r2.state = 'done'"
        )
    if what == "qualified_sql":
        return (
            f"SELECT e.created_at AS x_at FROM leads_leadevent e WHERE e.lead_id = l.id AND e.kind = 'qualified' "
            f"AND {json_text('e.data', 'to')} = 'sql' AND {AFTER_RETURN.format(row='e', at='created_at')}"
        )
    condition = f"ts.position >= {MEETING_POS}" if what == "entered_sql" else "ts.kind = 'won'"
    return (
        "SELECT c.changed_at AS x_at FROM leads_stagechange c JOIN leads_stage ts ON ts.id = c.to_stage_id "
        f"WHERE c.lead_id = l.id AND {condition} AND {REAL_ENTRY} AND {AFTER_RETURN.format(row='c', at='changed_at')}"
    )


def _first(what: str) -> str:
    return f"(SELECT MIN(x_at) FROM ({_return_rows(what)}) x)"


def _earlier(a: str, b: str) -> str:
    return f"(CASE WHEN {a} IS NULL THEN {b} WHEN {b} IS NULL THEN {a} WHEN {a} < {b} THEN {a} ELSE {b} END)"


COHORT_STEPS = f"""
    COUNT(*),
    SUM(CASE WHEN l.qualification IN ('mql', 'sql') OR fs.position >= {MEETING_POS} THEN 1 ELSE 0 END),
    SUM(CASE WHEN l.qualification = 'sql' OR fs.position >= {MEETING_POS} THEN 1 ELSE 0 END),
    SUM(CASE WHEN fs.position >= {MEETING_POS} THEN 1 ELSE 0 END),
    SUM(CASE WHEN fs.position >= {PROPOSAL_POS} THEN 1 ELSE 0 END),
    SUM(CASE WHEN cs.kind = 'won' THEN 1 ELSE 0 END),
    SUM(CASE WHEN cs.kind = 'lost' THEN 1 ELSE 0 END),
    SUM(CASE WHEN cs.kind = 'nurture' THEN 1 ELSE 0 END),
    SUM(CASE WHEN EXISTS ({_return_rows("returned")}) THEN 1 ELSE 0 END),
    SUM(CASE WHEN EXISTS ({_return_rows("qualified_sql")}) OR EXISTS ({_return_rows("entered_sql")})
        THEN 1 ELSE 0 END),
    SUM(CASE WHEN cs.kind = 'won' AND EXISTS ({_return_rows("entered_won")}) THEN 1 ELSE 0 END)
"""


def _first_event_columns() -> str:
    """Per lead: when each step first happened (NULL: never)."""
    to = json_text("e.data", "to")
    qualified = (
        "(SELECT MIN(e.created_at) FROM leads_leadevent e WHERE e.lead_id = l.id "
        "AND e.kind = 'qualified' AND {to} IN ({levels}))"
    )
    entered = (
        "(SELECT MIN(c.changed_at) FROM leads_stagechange c JOIN leads_stage ts ON ts.id = c.to_stage_id "
        "WHERE c.lead_id = l.id AND {cond} AND c.undoes_id IS NULL AND NOT EXISTS (SELECT 1 FROM leads_stagechange u WHERE u.undoes_id = c.id))"
    )
    return ", ".join(
        [
            "l.created_at AS t_leads",
            qualified.format(to=to, levels="'mql', 'sql'") + " AS t_mql",
            qualified.format(to=to, levels="'sql'") + " AS t_sql",
            entered.format(cond="ts.code = 'meeting'") + " AS t_meeting",
            entered.format(cond="ts.code = 'proposal'") + " AS t_proposal",
            entered.format(cond="ts.kind = 'won'") + " AS t_won",
            entered.format(cond="ts.kind = 'lost'") + " AS t_rejected",
            entered.format(cond="ts.kind = 'nurture'") + " AS t_nurture",
            _first("returned") + " AS t_returned",
            _earlier(_first("qualified_sql"), _first("entered_sql")) + " AS t_returned_sql",
            _first("entered_won") + " AS t_returned_won",
        ]
    )


def funnel_counts(by: str, mode: str, period: Period, viewer: Viewer) -> dict:
    counts: dict = defaultdict(lambda: dict.fromkeys(COUNTS, 0))
    if mode == "cohort":
        key, join, join_params = _key_and_join(by, period)
        sql = f"""
            SELECT {key}, {COHORT_STEPS}
            FROM leads_lead l
            JOIN leads_stage cs ON cs.id = l.stage_id
            JOIN leads_stage fs ON fs.id = l.furthest_stage_id
            {join}
            WHERE {COUNTED} AND {viewer.where} AND {IN_PERIOD}
            GROUP BY {key}
        """
        for k, *values in rows(sql, [*join_params, *viewer.params, period.start, period.end]):
            counts[k] = dict(zip(COUNTS, (int(v or 0) for v in values), strict=True))
        return counts
    firsts = f"""
        WITH firsts AS (
            SELECT l.id, {", ".join(f"{col} AS k_{name}" for name, col in LEAD_COLUMNS.items())},
                   {_first_event_columns()}
            FROM leads_lead l
            WHERE {COUNTED} AND {viewer.where}
        )
    """
    if by in BUCKETS:
        # Each lead's first events are computed once into a table, then bucketed: a
        # database may otherwise re-run the per-lead subqueries for every hour row.
        select = firsts.replace("WITH firsts AS (", "", 1).rstrip().removesuffix(")")
        rows(f"CREATE TEMPORARY TABLE recon_firsts AS {select}", viewer.params)
        try:
            for step in COUNTS:
                sql = f"""
                    SELECT {BUCKETS[by]}, COUNT(*) FROM recon_firsts f
                    {HOUR_JOIN.format(col=f"f.t_{step}")}
                    WHERE f.t_{step} >= %s AND f.t_{step} < %s
                    GROUP BY {BUCKETS[by]}
                """
                for k, n in rows(sql, [period.number, period.start, period.end]):
                    counts[k][step] = n
        finally:
            rows("DROP TABLE recon_firsts")
        return counts
    happened = [f"SUM(CASE WHEN f.t_{s} >= %s AND f.t_{s} < %s THEN 1 ELSE 0 END)" for s in COUNTS]
    anything = " OR ".join(f"(f.t_{s} >= %s AND f.t_{s} < %s)" for s in COUNTS)
    sql = f"""{firsts}
        SELECT f.k_{by}, {", ".join(happened)} FROM firsts f
        WHERE {anything}
        GROUP BY f.k_{by}
    """
    bounds = [period.start, period.end] * len(COUNTS)
    for k, *values in rows(sql, [*viewer.params, *bounds, *bounds]):
        counts[k] = dict(zip(COUNTS, (int(v or 0) for v in values), strict=True))
    return counts


def funnel_money(by: str, mode: str, period: Period, viewer: Viewer) -> dict:
    sums = """
        SUM(CASE WHEN d.is_repeat_sale THEN 0 ELSE d.amount END),
        SUM(CASE WHEN d.is_repeat_sale THEN 0 ELSE d.margin END),
        SUM(CASE WHEN d.is_repeat_sale THEN d.amount ELSE 0 END),
        SUM(CASE WHEN d.is_repeat_sale THEN d.margin ELSE 0 END)
    """
    if mode == "cohort":
        key, join, join_params = _key_and_join(by, period)
        where, params = IN_PERIOD, [period.start, period.end]
    else:
        if by in BUCKETS:
            key = f"dd.{BUCKETS[by][2:]}"
            join, join_params = "JOIN recon_day dd ON dd.p = %s AND dd.day = d.closed_on", [period.number]
        else:
            key, join, join_params = LEAD_COLUMNS[by], "", []
        where, params = "d.closed_on >= %s AND d.closed_on <= %s", [period.date_from, period.date_to]
    sql = f"""
        SELECT {key}, {sums}
        FROM leads_deal d JOIN leads_lead l ON l.id = d.lead_id
        {join}
        WHERE d.status = 'won' AND {COUNTED} AND {viewer.where} AND {where}
        GROUP BY {key}
    """
    return {
        k: dict(zip(MONEY, (money(v) for v in values), strict=True))
        for k, *values in rows(sql, [*join_params, *viewer.params, *params])
    }


def funnel_spend(by: str, period: Period) -> dict | None:
    """Unrounded pro-rated spend per row key (None: the grouping shows no spend)."""
    if by not in ("source", "campaign", "month", "week"):
        return None
    days_in_month = dict(
        rows("SELECT month_start, COUNT(*) FROM recon_day WHERE p = %s GROUP BY month_start", [period.number])
    )
    days_in_month = {_date(k): v for k, v in days_in_month.items()}
    spend: dict = defaultdict(Decimal)
    if by in ("source", "campaign"):
        # Per spend row: its amount and how many of its month's days lie in the period.
        sql = f"""
            SELECT s.{by}_id, s.month, s.amount,
                   (SELECT SUM(dd.inside) FROM recon_day dd WHERE dd.p = %s AND dd.month_start = s.month)
            FROM leads_spend s
            WHERE s.month >= %s AND s.month <= %s
        """
        for k, month, amount, inside in rows(
            sql, [period.number, period.date_from.replace(day=1), period.date_to]
        ):
            spend[k] += money(amount) * int(inside) / days_in_month[_date(month)]
        return spend
    bucket = "dd.month_key" if by == "month" else "dd.week_key"
    sql = f"""
        SELECT {bucket}, s.month, s.amount, SUM(dd.inside)
        FROM leads_spend s JOIN recon_day dd ON dd.p = %s AND dd.month_start = s.month
        WHERE s.month >= %s AND s.month <= %s
        GROUP BY {bucket}, s.id, s.month, s.amount
        HAVING SUM(dd.inside) > 0
    """
    for k, month, amount, inside in rows(
        sql, [period.number, period.date_from.replace(day=1), period.date_to]
    ):
        spend[k] += money(amount) * int(inside) / days_in_month[_date(month)]
    return spend


def _date(value) -> dt.date:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def funnel_figures(counts: dict, money_row: dict, spend, viewer: Viewer) -> dict:
    row = dict(counts)
    for name in MONEY:
        row[name] = q2(money_row[name]) if viewer.sees_money else None
    if spend is None:
        row.update(dict.fromkeys(("spend", "cpl", "cost_per_sql", "cpa", "romi")))
    else:
        row["spend"] = q2(spend)
        row["cpl"] = q2(div(spend, counts["leads"]))
        row["cost_per_sql"] = q2(div(spend, counts["sql"]))
        row["cpa"] = q2(div(spend, counts["won"]))
        row["romi"] = pct(money_row["margin"] - spend, spend)
    return row


def funnel(by: str, mode: str, period: Period, viewer: Viewer) -> dict:
    """{"rows": {key: figures}, "total": figures} as DESIGN defines them."""
    counts = funnel_counts(by, mode, period, viewer)
    money_rows = funnel_money(by, mode, period, viewer)
    spend = funnel_spend(by, period) if viewer.everything else None
    zero_counts, zero_money = dict.fromkeys(COUNTS, 0), dict.fromkeys(MONEY, Decimal(0))
    result = {}
    for k in set(counts) | set(money_rows) | set(spend or ()):
        result[k] = funnel_figures(
            counts.get(k, zero_counts),
            money_rows.get(k, zero_money),
            None if spend is None else spend.get(k, Decimal(0)),
            viewer,
        )
    total_counts = {step: sum(c[step] for c in counts.values()) for step in COUNTS}
    total_money = {name: sum((m[name] for m in money_rows.values()), Decimal(0)) for name in MONEY}
    total_spend = None if spend is None else sum(spend.values(), Decimal(0))
    total = funnel_figures(total_counts, total_money, total_spend, viewer)
    if spend is not None:
        # Money in the total is the sum of the rows as shown.
        total["spend"] = q2(sum((Decimal(r["spend"]) for r in result.values()), Decimal(0)))
    return {"rows": result, "total": total}


# --- SLA -----------------------------------------------------------------------------------

SLA_COUNTS = (
    "timers",
    "met",
    "breached",
    "running",
    "breaches_system",
    "breaches_rep",
    "callback_breaches",
)
HAS_BREACH = "EXISTS (SELECT 1 FROM sla_breach b WHERE b.timer_id = t.id)"
FIRST_BREACH = "(SELECT b.{col} FROM sla_breach b WHERE b.timer_id = t.id ORDER BY b.id LIMIT 1)"
MET_BY = (
    "(SELECT {col} FROM leads_contactattempt a LEFT JOIN revops_user u ON u.id = a.made_by_id "
    "WHERE a.lead_id = t.lead_id AND a.made_at = t.met_at "
    "ORDER BY CASE WHEN a.outcome = 'reached' THEN 0 ELSE 1 END, a.id DESC LIMIT 1)"
)


def _timer_key(by: str, period: Period):
    if by not in ("owner", "team"):
        return _key_and_join(by, period)
    breach_col = f"{by}_id"
    attempt_col = "a.made_by_id" if by == "owner" else "u.team_id"
    key = (
        f"CASE WHEN {HAS_BREACH} THEN {FIRST_BREACH.format(col=breach_col)} "
        f"WHEN t.state = 'met' THEN {MET_BY.format(col=attempt_col)} "
        f"ELSE l.{by}_id END"
    )
    return key, "", []


def sla(by: str, period: Period, viewer: Viewer, schedules) -> dict:
    result: dict = {}

    def row(k):
        return result.setdefault(k, {"leads": 0, **dict.fromkeys(SLA_COUNTS, 0), "_clock": [], "_work": []})

    key, join, join_params = _key_and_join(by, period)
    sql = f"""
        SELECT {key}, COUNT(*) FROM leads_lead l {join}
        WHERE {COUNTED} AND {viewer.where} AND {IN_PERIOD}
        GROUP BY {key}
    """
    for k, n in rows(sql, [*join_params, *viewer.params, period.start, period.end]):
        row(k)["leads"] = n

    tkey, tjoin, tjoin_params = _timer_key(by, period)
    first = "t.kind = 'first_contact'"
    delay = FIRST_BREACH.format(col="delay_owner")
    sql = f"""
        SELECT k, SUM(timers), SUM(met), SUM(breached), SUM(running), SUM(sys), SUM(rep), SUM(cb) FROM (
            SELECT {tkey} AS k,
                CASE WHEN {first} THEN 1 ELSE 0 END AS timers,
                CASE WHEN {first} AND t.state = 'met' AND NOT {HAS_BREACH} THEN 1 ELSE 0 END AS met,
                CASE WHEN {first} AND {HAS_BREACH} THEN 1 ELSE 0 END AS breached,
                CASE WHEN {first} AND t.state = 'running' AND NOT {HAS_BREACH} THEN 1 ELSE 0 END AS running,
                CASE WHEN {first} AND {delay} = 'system' THEN 1 ELSE 0 END AS sys,
                CASE WHEN {first} AND {delay} = 'rep' THEN 1 ELSE 0 END AS rep,
                CASE WHEN t.kind = 'callback' AND {HAS_BREACH} THEN 1 ELSE 0 END AS cb
            FROM sla_slatimer t JOIN leads_lead l ON l.id = t.lead_id
            {tjoin}
            WHERE {COUNTED} AND {viewer.where} AND {IN_PERIOD}
        ) x
        GROUP BY k
    """
    for k, *values in rows(sql, [*tjoin_params, *viewer.params, period.start, period.end]):
        target = row(k)
        for name, value in zip(SLA_COUNTS, values, strict=True):
            target[name] = int(value or 0)

    sql = f"""
        SELECT {key}, l.created_at, l.first_contact_at, tm.calendar_id
        FROM leads_lead l LEFT JOIN revops_team tm ON tm.id = l.team_id {join}
        WHERE {COUNTED} AND {viewer.where} AND {IN_PERIOD} AND l.first_contact_at IS NOT NULL
    """
    all_clock, all_work = [], []
    for k, created, contacted, calendar_id in rows(
        sql, [*join_params, *viewer.params, period.start, period.end]
    ):
        created, contacted = aware(created), aware(contacted)
        clock = exact_minutes(contacted - created)
        work = schedules(calendar_id, created, contacted)
        row(k)["_clock"].append(clock)
        row(k)["_work"].append(work)
        all_clock.append(clock)
        all_work.append(work)

    for item in result.values():
        item.update(_sla_ratios(item, item.pop("_clock"), item.pop("_work")))
    total = {name: sum(item[name] for item in result.values()) for name in ("leads", *SLA_COUNTS)}
    total.update(_sla_ratios(total, all_clock, all_work))
    return {"rows": result, "total": total}


def exact_minutes(delta: dt.timedelta) -> Decimal:
    return Decimal(delta // dt.timedelta(microseconds=1)) / Decimal(60_000_000)


def median(values):
    return statistics.median(values) if values else None


def nearest_rank(values, percent: int):
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-percent * len(ordered) // 100))
    return ordered[rank - 1]


def _sla_ratios(counts: dict, clock: list, work: list) -> dict:
    return {
        "met_pct": pct(counts["met"], counts["met"] + counts["breached"]),
        "first_contact_median_min": q1(median(clock)),
        "first_contact_p90_min": q1(nearest_rank(clock, 90)),
        "first_contact_median_work_min": q1(median(work)),
        "first_contact_p90_work_min": q1(nearest_rank(work, 90)),
    }


# --- rejections ----------------------------------------------------------------------------

LEFT_FOR_LOST = """(
    SELECT fs.code FROM leads_stagechange c
    JOIN leads_stage ts ON ts.id = c.to_stage_id
    LEFT JOIN leads_stage fs ON fs.id = c.from_stage_id
    WHERE c.lead_id = l.id AND ts.kind = 'lost'
    ORDER BY c.changed_at DESC, c.id DESC LIMIT 1
)"""


def rejections(by: str, period: Period, viewer: Viewer) -> dict:
    key = LEFT_FOR_LOST if by == "stage" else LEAD_COLUMNS[by]
    result: dict = {}

    def row(k):
        return result.setdefault(
            k,
            {
                "leads": 0,
                "rejected": 0,
                "reasons": {},
                **dict.fromkeys(DISPUTE_STATES, 0),
                "dispute_outcomes": {},
            },
        )

    base = f"""
        FROM leads_lead l JOIN leads_stage cs ON cs.id = l.stage_id
        LEFT JOIN leads_rejectionreason r ON r.id = l.rejection_reason_id
        WHERE {COUNTED} AND {viewer.where} AND {IN_PERIOD}
    """
    params = [*viewer.params, period.start, period.end]
    if by != "stage":
        for k, n in rows(f"SELECT {key} AS k, COUNT(*) {base} GROUP BY k", params):
            row(k)["leads"] = n
    sql = f"SELECT k, code, COUNT(*) FROM (SELECT {key} AS k, r.code AS code {base} AND cs.kind = 'lost') x GROUP BY k, code"
    for k, code, n in rows(sql, params):
        target = row(k)
        target["rejected"] += n
        target["reasons"][code] = n
        if by == "stage":
            target["leads"] += n
    # Disputes: the group's leads with a dispute (in a state); per reason disputed and state.
    for field, state in DISPUTE_STATES.items():
        condition = "" if state is None else "AND d.state = %s"
        sql = f"""SELECT {key} AS k, COUNT(*) {base} AND EXISTS (
            SELECT 1 FROM leads_rejectiondispute d WHERE d.lead_id = l.id {condition}) GROUP BY k"""
        for k, n in rows(sql, params + ([state] if state else [])):
            row(k)[field] = n
    sql = f"""SELECT k, code, state, COUNT(DISTINCT id) FROM (
        SELECT {key} AS k, dr.code AS code, d.state AS state, l.id AS id
        FROM leads_lead l JOIN leads_rejectiondispute d ON d.lead_id = l.id
        LEFT JOIN leads_rejectionreason dr ON dr.id = d.rejection_reason_id
        WHERE {COUNTED} AND {viewer.where} AND {IN_PERIOD}) x GROUP BY k, code, state"""
    field_of = {state: field for field, state in DISPUTE_STATES.items() if state}
    for k, code, state, n in rows(sql, params):
        outcomes = row(k)["dispute_outcomes"].setdefault(code, dict.fromkeys(field_of.values(), 0))
        outcomes[field_of[state]] = n
    for item in result.values():
        item.update(_shares(item))
    total = {
        "leads": sum(i["leads"] for i in result.values()),
        "rejected": sum(i["rejected"] for i in result.values()),
        **{field: sum(i[field] for i in result.values()) for field in DISPUTE_STATES},
    }
    outcomes_total: dict = {}
    for item in result.values():
        for code, counts in item["dispute_outcomes"].items():
            into = outcomes_total.setdefault(code, dict.fromkeys(counts, 0))
            for field, n in counts.items():
                into[field] += n
    total["dispute_outcomes"] = outcomes_total
    reasons: dict = defaultdict(int)
    for item in result.values():
        for code, n in item["reasons"].items():
            reasons[code] += n
    total["reasons"] = dict(reasons)
    total.update(_shares(total))
    return {"rows": result, "total": total}


DISPUTE_STATES = {"disputed": None, "disputes_open": "open", "upheld": "upheld", "overturned": "overturned"}


def _shares(counts: dict) -> dict:
    return {
        f"{code}_pct": pct(counts["reasons"].get(code, 0), counts["leads"]) for code in ("not_target", "spam")
    }


# --- KPI tiles -----------------------------------------------------------------------------


def kpis(period: Period, viewer: Viewer) -> dict:
    """The tiles DESIGN defines that SQL can state (data_quality_pct is "now" and left out)."""
    params = [*viewer.params, period.start, period.end]
    (leads, sql_n, meeting, won, bad), *_ = rows(
        f"""
        SELECT COUNT(*),
            SUM(CASE WHEN l.qualification = 'sql' OR fs.position >= {MEETING_POS} THEN 1 ELSE 0 END),
            SUM(CASE WHEN fs.position >= {MEETING_POS} THEN 1 ELSE 0 END),
            SUM(CASE WHEN cs.kind = 'won' THEN 1 ELSE 0 END),
            SUM(CASE WHEN cs.kind = 'lost' AND r.code IN ('not_target', 'spam') THEN 1 ELSE 0 END)
        FROM leads_lead l
        JOIN leads_stage cs ON cs.id = l.stage_id
        JOIN leads_stage fs ON fs.id = l.furthest_stage_id
        LEFT JOIN leads_rejectionreason r ON r.id = l.rejection_reason_id
        WHERE {COUNTED} AND {viewer.where} AND {IN_PERIOD}
        """,
        params,
    )
    sql_n, meeting, won, bad = (int(v or 0) for v in (sql_n, meeting, won, bad))
    (revenue, margin), *_ = rows(
        f"""
        SELECT SUM(d.amount), SUM(d.margin) FROM leads_deal d JOIN leads_lead l ON l.id = d.lead_id
        WHERE d.status = 'won' AND {COUNTED} AND {viewer.where} AND d.closed_on >= %s AND d.closed_on <= %s
        """,
        [*viewer.params, period.date_from, period.date_to],
    )
    (won_events,), *_ = rows(
        f"""
        SELECT COUNT(*) FROM leads_lead l
        WHERE {COUNTED} AND {viewer.where} AND (
            SELECT MIN(c.changed_at) FROM leads_stagechange c JOIN leads_stage ts ON ts.id = c.to_stage_id
            WHERE c.lead_id = l.id AND ts.kind = 'won' AND c.undoes_id IS NULL
        ) >= %s AND (
            SELECT MIN(c.changed_at) FROM leads_stagechange c JOIN leads_stage ts ON ts.id = c.to_stage_id
            WHERE c.lead_id = l.id AND ts.kind = 'won' AND c.undoes_id IS NULL
        ) < %s
        """,
        params,
    )
    clock = [
        exact_minutes(aware(contacted) - aware(created))
        for created, contacted in rows(
            f"""
            SELECT l.created_at, l.first_contact_at FROM leads_lead l
            WHERE {COUNTED} AND {viewer.where} AND {IN_PERIOD} AND l.first_contact_at IS NOT NULL
            """,
            params,
        )
    ]
    (met, breached), *_ = rows(
        f"""
        SELECT SUM(CASE WHEN t.state = 'met' AND NOT {HAS_BREACH} THEN 1 ELSE 0 END),
               SUM(CASE WHEN {HAS_BREACH} THEN 1 ELSE 0 END)
        FROM sla_slatimer t JOIN leads_lead l ON l.id = t.lead_id
        WHERE t.kind = 'first_contact' AND {COUNTED} AND {viewer.where} AND {IN_PERIOD}
        """,
        params,
    )
    met, breached = int(met or 0), int(breached or 0)
    values = {
        "leads": leads,
        "lead_to_won": pct(won, leads),
        "target_share": pct(leads - bad, leads),
        "lead_to_sql": pct(sql_n, leads),
        "sql_to_meeting": pct(meeting, sql_n),
        "meeting_to_won": pct(won, meeting),
        "revenue": q2(money(revenue)) if viewer.sees_money else None,
        "margin": q2(money(margin)) if viewer.sees_money else None,
        "won": won_events,
        "first_contact_median_min": q1(median(clock)),
        "sla_met_pct": pct(met, met + breached),
        "cpl": None,
    }
    if viewer.everything and leads:
        (spend_total,) = [sum(funnel_spend("month", period).values(), Decimal(0))]
        values["cpl"] = q2(spend_total / leads)
    return values


# --- stirring the demo data ----------------------------------------------------------------


def stir(period: Period, seed: int) -> dict:
    """Add, on top of `manage.py demo_data`, what its generator may not produce but
    the contract speaks of: the qualification history (events mode), stages
    entered twice, duplicates with deals and history, leads on the period's very
    edges, callback timers, a met timer with a breach, a second first-contact timer,
    unassigned leads, open deals and repeat sales. Returns what was done, for the
    test's sanity checks. Written with the ORM (never through reports/)."""
    from leads.models import ContactAttempt, Deal, Lead, LeadEvent, RejectionReason, Spend, Stage, StageChange
    from sla.models import Breach, SlaPolicy, SlaTimer

    rnd = random.Random(seed)
    stages = {s.code: s for s in Stage.objects.all()}
    duplicate = RejectionReason.objects.get(code="duplicate")
    leads = list(Lead.objects.order_by("id"))
    inside = [lead for lead in leads if period.start <= lead.created_at < period.end]
    done: dict = defaultdict(int)

    def event(lead, frm, to, at):
        LeadEvent.objects.create(lead=lead, kind="qualified", created_at=at, data={"from": frm, "to": to})
        done["qualified_events"] += 1

    # 1. Qualification history (kept if the generator already writes some).
    for lead in leads:
        at = lead.created_at + dt.timedelta(hours=rnd.randint(1, 24 * 25))
        if lead.qualification == "mql" and rnd.random() < 0.85:
            event(lead, "none", "mql", at)
        elif lead.qualification == "sql" and rnd.random() < 0.85:
            if rnd.random() < 0.3:
                event(lead, "none", "sql", at)
            else:
                event(lead, "none", "mql", at)
                event(lead, "mql", "sql", at + dt.timedelta(days=rnd.randint(0, 20), minutes=7))
            if rnd.random() < 0.15:  # down and up again: only the first counts
                later = at + dt.timedelta(days=30)
                event(lead, "sql", "mql", later)
                event(lead, "mql", "sql", later + dt.timedelta(days=3))
        elif lead.qualification == "none" and rnd.random() < 0.06:
            event(lead, "none", "mql", at)  # qualified once, then not any more
            event(lead, "mql", "none", at + dt.timedelta(days=2))

    # 2. Stages entered twice (back and forth): only the first entry is the event.
    entries = list(StageChange.objects.filter(to_stage__code__in=["meeting", "proposal"]).order_by("id"))
    for change in rnd.sample(entries, min(12, len(entries))):
        StageChange.objects.create(
            lead_id=change.lead_id,
            from_stage=change.from_stage,
            to_stage=change.to_stage,
            changed_at=change.changed_at + dt.timedelta(days=rnd.randint(1, 40)),
        )
        done["reentries"] += 1

    # 3. Duplicates count nowhere, even with deals, history and timers in the period.
    mid = period.start + (period.end - period.start) / 2
    fresh = [lead for lead in inside if lead.rejection_reason_id is None]
    for lead in rnd.sample(fresh, 4):
        lead.stage, lead.rejection_reason = stages["lost"], duplicate
        lead.save(update_fields=["stage", "rejection_reason"])
        done["made_duplicate"] += 1
    for lead in Lead.objects.filter(rejection_reason=duplicate)[:4]:
        Deal.objects.create(
            lead=lead,
            contact=lead.contact,
            amount=Decimal("777777.77"),
            margin=Decimal("111111.11"),
            status="won",
            closed_on=mid.date(),
        )
        event(lead, "none", "sql", mid)
        StageChange.objects.create(
            lead=lead, from_stage=stages["lead"], to_stage=stages["meeting"], changed_at=mid
        )
        StageChange.objects.create(
            lead=lead, from_stage=stages["meeting"], to_stage=stages["lost"], changed_at=mid
        )
        done["duplicate_with_deal"] += 1

    # 4. The period's edges: midnight in the company's zone belongs to the day it starts.
    tick = dt.timedelta(microseconds=1)
    edge_leads = rnd.sample([lead for lead in leads if lead.rejection_reason_id is None], 6)
    for lead, at in zip(
        edge_leads,
        [
            period.start,
            period.start - tick,
            period.end - tick,
            period.end,
            period.start + tick,
            period.end - dt.timedelta(minutes=1),
        ],
        strict=True,
    ):
        # The lead's own times move with its arrival (contact and closing come after it).
        shift = at - lead.created_at
        moved = {"created_at": at}
        for name in ("first_contact_at", "qualified_at", "stage_changed_at", "closed_at"):
            if getattr(lead, name) is not None:
                moved[name] = getattr(lead, name) + shift
        Lead.objects.filter(pk=lead.pk).update(**moved)
        done["edge_leads"] += 1
    won_changes = list(StageChange.objects.filter(to_stage__kind="won").order_by("id"))
    for change, at in zip(
        rnd.sample(won_changes, min(3, len(won_changes))),
        [period.start, period.end - tick, period.end],
        strict=False,
    ):
        StageChange.objects.filter(pk=change.pk).update(changed_at=at)
        done["edge_events"] += 1

    # 5. Timers: a met one with a breach, a second first-contact timer, callbacks.
    inside = list(Lead.objects.filter(created_at__gte=period.start, created_at__lt=period.end).order_by("id"))
    policy = SlaPolicy.objects.get(is_default=True)

    def timer(lead, kind, state, *, breach=None):
        t = SlaTimer.objects.create(
            lead=lead,
            kind=kind,
            policy=policy,
            state=state,
            started_at=lead.created_at,
            budget_seconds=900,
            due_at=lead.created_at + dt.timedelta(minutes=15),
            met_at=lead.created_at + dt.timedelta(minutes=10) if state == "met" else None,
            breached_at=lead.created_at + dt.timedelta(minutes=15) if state == "breached" else None,
        )
        if breach:
            Breach.objects.create(
                timer=t,
                kind=kind,
                lead=lead,
                owner=lead.owner if breach == "rep" else None,
                team=lead.team,
                source=lead.source,
                delay_owner=breach,
                due_at=t.due_at,
            )
        return t

    met = list(SlaTimer.objects.filter(lead__in=inside, kind="first_contact", state="met").order_by("id"))
    for t in rnd.sample(met, min(3, len(met))):
        Breach.objects.create(
            timer=t,
            kind=t.kind,
            lead=t.lead,
            owner=t.lead.owner,
            team=t.lead.team,
            source=t.lead.source,
            delay_owner="rep",
            due_at=t.due_at,
        )
        done["met_with_breach"] += 1
    for lead in rnd.sample(inside, 3):
        timer(lead, "first_contact", "breached", breach="system")
        done["second_timer"] += 1
    idle = [lead for lead in inside if not lead.timers.filter(kind="first_contact", state="running").exists()]
    for lead in rnd.sample(idle, 3):
        timer(lead, "first_contact", "running")
        done["running_timer"] += 1
    for lead in rnd.sample(inside, 10):
        state = rnd.choice(["breached", "met", "running"])
        timer(lead, "callback", state, breach="rep" if state == "breached" else None)
        done["callback_timers"] += 1
    # A met timer whose attempt was made by someone other than the lead's owner.
    for t in rnd.sample(met, min(4, len(met))):
        other = rnd.choice(["rep1", "rep2", "rep3", "rep4", "rep5"])
        ContactAttempt.objects.filter(lead_id=t.lead_id, made_at=t.met_at).update(made_by=_user(other))
        done["met_by_other"] += 1

    # 6. Unassigned leads in the period.
    for lead in rnd.sample(inside, 3):
        Lead.objects.filter(pk=lead.pk).update(owner=None, team=None)
        done["unassigned"] += 1

    # 7. Deals on the period's edges, an open deal and a repeat sale.
    won = list(Lead.objects.filter(stage__kind="won").order_by("id"))
    for lead, closed, status, repeat in [
        (rnd.choice(won), period.date_from, "won", False),
        (rnd.choice(won), period.date_to, "won", True),
        (rnd.choice(won), period.date_from - dt.timedelta(days=1), "won", False),
        (rnd.choice(won), period.date_to, "open", False),
        (rnd.choice(inside), period.date_from + dt.timedelta(days=9), "lost", False),
    ]:
        Deal.objects.create(
            lead=lead,
            contact=lead.contact,
            amount=Decimal(rnd.randint(10_000, 900_000)) + Decimal("0.35"),
            margin=Decimal(rnd.randint(1_000, 90_000)) + Decimal("0.15"),
            status=status,
            closed_on=closed,
            is_repeat_sale=repeat,
        )
        done["extra_deals"] += 1

    # 8. Source-level spend in a month of the period (unique per source and month).
    month = (period.date_from.replace(day=1) + dt.timedelta(days=40)).replace(day=1)
    for source_id in {lead.source_id for lead in inside[:20]}:
        _, created = Spend.objects.get_or_create(
            source_id=source_id, campaign=None, month=month, defaults={"amount": Decimal("12345.67")}
        )
        done["source_spend"] += created

    # 9. Closes taken back by Undo: the rejection or nurture and the undo are both in the
    # history and neither is an event (a lead of the period, still open).
    open_ids = {stage.pk for stage in stages.values() if stage.kind == "open"}
    open_ones = [lead for lead in inside if lead.closed_at is None and lead.stage_id in open_ids]
    for lead, to in zip(rnd.sample(open_ones, min(4, len(open_ones))), ["lost", "nurture"] * 2, strict=False):
        at = max(lead.created_at, period.start) + dt.timedelta(hours=rnd.randint(1, 48))
        close = StageChange.objects.create(
            lead=lead, from_stage=lead.stage, to_stage=stages[to], changed_at=at
        )
        StageChange.objects.create(
            lead=lead,
            from_stage=stages[to],
            to_stage=lead.stage,
            changed_at=at + dt.timedelta(seconds=5),
            undoes=close,
        )
        done["undone_closes"] += 1

    # 10. Disputed rejections (issue #15): open, upheld and overturned (the lead reopened
    # at the stage it left, its reason cleared and kept on the dispute), and a lead
    # disputed twice (overturned, rejected again, disputed again: it has two states).
    from leads.models import RejectionDispute

    marketer, head = _user("marketer"), _user("sales_head")
    lost = [
        lead
        for lead in Lead.objects.filter(
            created_at__gte=period.start, created_at__lt=period.end, stage__kind="lost"
        )
        .exclude(rejection_reason=duplicate)
        .order_by("id")
        if lead.stage_changes.filter(to_stage__kind="lost").exists()
    ]
    for n, lead in enumerate(rnd.sample(lost, min(9, len(lost)))):
        change = lead.stage_changes.filter(to_stage__kind="lost").order_by("-changed_at", "-id").first()
        at = change.changed_at + dt.timedelta(hours=2)
        state = ("open", "upheld", "overturned")[n % 3]
        decided = {} if state == "open" else {"decided_by": head, "decided_at": at + dt.timedelta(hours=3)}
        RejectionDispute.objects.create(
            lead=lead,
            lost_change=change,
            rejection_reason_id=lead.rejection_reason_id,
            comment="ours",
            opened_by=marketer,
            opened_at=at,
            decide_by=at + dt.timedelta(days=2),
            state=state,
            **decided,
        )
        done[f"disputes_{state}"] += 1
        if state != "overturned":
            continue
        back = change.from_stage or stages["lead"]
        reopened_at = at + dt.timedelta(hours=3)
        StageChange.objects.create(
            lead=lead, from_stage=stages["lost"], to_stage=back, changed_at=reopened_at
        )
        Lead.objects.filter(pk=lead.pk).update(
            stage=back, rejection_reason=None, rejection_comment="", closed_at=None
        )
        if done["disputed_twice"]:
            continue
        again = StageChange.objects.create(
            lead=lead, from_stage=back, to_stage=stages["lost"], changed_at=reopened_at + dt.timedelta(days=1)
        )
        reason = RejectionReason.objects.get(code="no_need")
        Lead.objects.filter(pk=lead.pk).update(stage=stages["lost"], rejection_reason=reason)
        RejectionDispute.objects.create(
            lead=lead,
            lost_change=again,
            rejection_reason=reason,
            comment="ours, again",
            opened_by=marketer,
            opened_at=again.changed_at + dt.timedelta(hours=1),
            decide_by=again.changed_at + dt.timedelta(days=2),
        )
        done["disputed_twice"] += 1
    # 10. Returns from nurture (issue #15): before a win, before an SQL qualification,
    # with nothing after; rows that are not returns (pending, cancelled); a return's own
    # move back to the meeting it left (no new SQL); a lead back twice, across the start.
    from leads.models import NurtureReturn

    def back(lead, at):
        NurtureReturn.objects.create(lead=lead, state="done", trigger="hand", returned_at=at, created_at=at)
        done["returns"] += 1

    won_entries = list(
        StageChange.objects.filter(
            to_stage__kind="won", lead__created_at__gte=period.start, lead__created_at__lt=period.end
        ).order_by("id")
    )
    for change in rnd.sample(won_entries, min(5, len(won_entries))):
        back(change.lead, change.changed_at - dt.timedelta(days=rnd.randint(1, 20)))
    sql_events = list(LeadEvent.objects.filter(kind="qualified", data__to="sql").order_by("id"))
    for row in rnd.sample(sql_events, min(8, len(sql_events))):
        back(row.lead, row.created_at - dt.timedelta(hours=1))
    for lead in rnd.sample(inside, 8):
        back(lead, lead.created_at + dt.timedelta(days=rnd.randint(1, 60)))
    waiting = set(NurtureReturn.objects.filter(state="pending").values_list("lead_id", flat=True))
    free = [lead for lead in inside if lead.pk not in waiting]
    for lead, state in zip(rnd.sample(free, 4), ["pending", "cancelled"] * 2, strict=True):
        NurtureReturn.objects.create(lead=lead, state=state, due_at=period.end, created_at=lead.created_at)
        done["not_returns"] += 1
    lead = rnd.choice(inside)
    at = lead.created_at + dt.timedelta(days=3)
    back(lead, at)
    StageChange.objects.create(
        lead=lead,
        from_stage=stages["nurture"],
        to_stage=stages["meeting"],
        changed_at=at + dt.timedelta(seconds=1),
    )
    lead = rnd.choice([lead for lead in leads if lead.created_at < period.start])
    back(lead, period.start - dt.timedelta(days=2))
    back(lead, period.start + dt.timedelta(days=10))
    return dict(done)


def _user(username):
    from revops.models import User

    return User.objects.get(username=username)
