"""The reports at 1,000,000 leads: the funnel by source for a year (cohort mode),
the SLA report by owner and the dashboard, each through the real code path
(Django's test Client, signed in as an executive, DEBUG=0) — server time median
and p95 over --requests requests and the query count — beside ONE hand-written
SQL statement computing the same numbers, timed in the same run on the same
connection; the script checks that both give the same numbers and prints the
ratio.

The data set is bench/sla.py's `build()` (1 M leads over two years, timers,
breaches, attempts) enriched here in SQL: campaigns of each source, segments and
products on the leads, a funnel that narrows (not every SQL gets a meeting), the
stage history through qualification, meeting, proposal and deal, the
qualification history (mql/sql), deals with amount, margin and closed_on
(repeat sales included) and monthly spend per source and per campaign.

    .venv/bin/python -m bench.reports [--leads 1000000] [--requests 10] [--keep-db | --reuse-db NAME]
"""

import argparse
import datetime as dt
import json
import re
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` importable, unshadow the apps
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench import common

FUNNEL_RATIO_TARGET = 1.5
DASHBOARD_TARGET = 0.500
CAMPAIGNS_PER_SOURCE = 3

# --- the data set -------------------------------------------------------------------------------

# One row per lead: how far it got. Closed leads of bench/sla.py end in deal (15 %),
# lost (50 %) or nurture (35 %); here a lost or nurture lead gets a furthest stage
# spread over the funnel (lost: 40 % at lead, 30 % qualification, 20 % meeting, 10 %
# proposal; nurture: 50 / 30 / 20 % up to meeting), and a qualification that goes
# with it. Times of each step are derived from created_at, never later than now.
FUNNEL_SQL = """
CREATE UNLOGGED TABLE bench_funnel AS
SELECT g.*,
  g.furthest IN ('qualification', 'meeting', 'proposal', 'deal') OR g.stage_code = 'qualification' AS r_qual,
  g.furthest IN ('meeting', 'proposal', 'deal') AS r_meet,
  g.furthest IN ('proposal', 'deal') AS r_prop,
  CASE WHEN g.furthest IN ('meeting', 'proposal', 'deal') THEN 'sql'
       WHEN g.furthest = 'qualification' OR g.stage_code = 'qualification'
            THEN CASE WHEN (g.id / 7) %% 3 = 0 THEN 'sql' ELSE 'mql' END
       WHEN g.stage_code <> 'lead' AND (g.id / 7) %% 5 = 0 THEN 'mql'
       ELSE 'none' END AS qual,
  least(g.created_at + interval '1 hour', %(now)s) AS t_qual,
  least(g.created_at + interval '2 days', %(now)s) AS t_meet,
  least(g.created_at + interval '7 days', %(now)s) AS t_prop,
  least(g.created_at + make_interval(days => 14 + (g.id %% 30)::int), %(now)s) AS t_deal,
  least(g.created_at + CASE g.furthest WHEN 'lead' THEN interval '1 day' WHEN 'qualification' THEN interval '3 days'
                                       WHEN 'meeting' THEN interval '5 days' ELSE interval '10 days' END,
        %(now)s) AS t_final
FROM (
  SELECT l.id, l.created_at, l.owner_id, l.product_id, s.code AS stage_code,
    CASE WHEN s.code = 'lost' THEN CASE WHEN (l.id / 20) %% 10 < 4 THEN 'lead'
                                        WHEN (l.id / 20) %% 10 < 7 THEN 'qualification'
                                        WHEN (l.id / 20) %% 10 < 9 THEN 'meeting' ELSE 'proposal' END
         WHEN s.code = 'nurture' THEN CASE WHEN (l.id / 20) %% 10 < 5 THEN 'lead'
                                           WHEN (l.id / 20) %% 10 < 8 THEN 'qualification' ELSE 'meeting' END
         ELSE s.code END AS furthest
  FROM leads_lead l JOIN leads_stage s ON s.id = l.stage_id
) AS g
"""

ENRICH_SQL = [
    (
        "leads",
        """
UPDATE leads_lead l SET
  campaign_id = CASE WHEN l.id %% 10 < 7
                     THEN (%(campaigns)s::bigint[])[1 + (l.id %% %(s)s) * %(cps)s + (l.id / %(s)s) %% %(cps)s] END,
  segment_id = CASE WHEN l.id %% 5 < 4 THEN (%(segments)s::bigint[])[1 + (l.id / 5) %% %(nseg)s] END,
  product_id = CASE WHEN l.id %% 6 < 5 THEN (%(products)s::bigint[])[1 + (l.id / 6) %% %(nprod)s] END,
  furthest_stage_id = fs.id,
  qualification = f.qual,
  qualified_at = CASE WHEN f.qual <> 'none' THEN f.t_qual END
FROM bench_funnel f JOIN leads_stage fs ON fs.code = f.furthest
WHERE l.id = f.id
""",
    ),
    # CASCADE: issue #15's tables (returns, enrollments, disputes) point at stage
    # changes; build() leaves them empty, so nothing else is lost.
    ("stage changes (old)", "TRUNCATE leads_stagechange CASCADE"),
    (
        "stage changes",
        """
INSERT INTO leads_stagechange (changed_at, note, changed_by_id, from_stage_id, lead_id, to_stage_id)
SELECT f.created_at, '', NULL, NULL, f.id, %(lead)s FROM bench_funnel f
UNION ALL
SELECT f.t_qual, '', f.owner_id, %(lead)s, f.id, %(qualification)s FROM bench_funnel f WHERE f.r_qual
UNION ALL
SELECT f.t_meet, '', f.owner_id, %(qualification)s, f.id, %(meeting)s FROM bench_funnel f WHERE f.r_meet
UNION ALL
SELECT f.t_prop, '', f.owner_id, %(meeting)s, f.id, %(proposal)s FROM bench_funnel f WHERE f.r_prop
UNION ALL
SELECT f.t_deal, '', f.owner_id, %(proposal)s, f.id, %(deal)s FROM bench_funnel f WHERE f.stage_code = 'deal'
UNION ALL
SELECT f.t_final, '', f.owner_id, fs.id, f.id, s.id
FROM bench_funnel f JOIN leads_stage s ON s.code = f.stage_code JOIN leads_stage fs ON fs.code = f.furthest
WHERE f.stage_code IN ('lost', 'nurture')
""",
    ),
    (
        "qualification history",
        # none → mql at t_qual; an SQL lead then mql → sql before its meeting, or
        # (every 4th) none → sql at once.
        """
INSERT INTO leads_leadevent (kind, actor_id, created_at, data, lead_id)
SELECT 'qualified', f.owner_id, f.t_qual,
       CASE WHEN f.qual = 'sql' AND f.id %% 4 = 0 THEN '{"from": "none", "to": "sql"}'
            ELSE '{"from": "none", "to": "mql"}' END::jsonb, f.id
FROM bench_funnel f WHERE f.qual <> 'none'
UNION ALL
SELECT 'qualified', f.owner_id, least(f.t_qual + interval '1 day', f.t_meet), '{"from": "mql", "to": "sql"}', f.id
FROM bench_funnel f WHERE f.qual = 'sql' AND f.id %% 4 <> 0
""",
    ),
    (
        "deals",
        # A won deal per won lead (closed on the day of the move to `deal`, company
        # zone); a repeat sale for every 10th of them later; open deals of open
        # leads at proposal and lost deals of leads lost at proposal.
        """
INSERT INTO leads_deal (amount, margin, currency, status, is_repeat_sale, created_at, closed_on, contact_id,
    lead_id, owner_id, product_id)
SELECT a.amount, round(a.amount * (0.20 + (f.id %% 5) * 0.05), 2), 'RUB', 'won', false, f.t_prop,
       (f.t_deal AT TIME ZONE %(zone)s)::date, f.id, f.id, f.owner_id, f.product_id
FROM bench_funnel f CROSS JOIN LATERAL (SELECT (60000 + (f.id * 7919) %% 940000)::numeric(14, 2) AS amount) a
WHERE f.stage_code = 'deal'
UNION ALL
SELECT a.amount, round(a.amount * 0.4, 2), 'RUB', 'won', true, least(f.t_deal + interval '60 days', %(now)s),
       (least(f.t_deal + interval '90 days', %(now)s) AT TIME ZONE %(zone)s)::date, f.id, f.id, f.owner_id,
       f.product_id
FROM bench_funnel f CROSS JOIN LATERAL (SELECT (20000 + (f.id * 104729) %% 300000)::numeric(14, 2) AS amount) a
WHERE f.stage_code = 'deal' AND (f.id / 20) %% 10 = 0
UNION ALL
SELECT 100000, 30000, 'RUB', CASE WHEN f.stage_code = 'proposal' THEN 'open' ELSE 'lost' END, false, f.t_prop,
       CASE WHEN f.stage_code = 'proposal' THEN NULL ELSE (f.t_final AT TIME ZONE %(zone)s)::date END,
       f.id, f.id, f.owner_id, f.product_id
FROM bench_funnel f WHERE f.stage_code = 'proposal' OR (f.stage_code = 'lost' AND f.furthest = 'proposal')
""",
    ),
    (
        "spend",
        # Every month from the first lead's to this one: each source's own spend and
        # each campaign's (the campaign's row carries its source).
        """
INSERT INTO leads_spend (source_id, campaign_id, month, amount, currency)
SELECT s.id, NULL, m::date, 150000 + ((s.id * 37 + k * 11) %% 100) * 1000, 'RUB'
FROM leads_source s
CROSS JOIN LATERAL generate_series(date_trunc('month', %(first)s::timestamp), %(today)s::timestamp,
                                   interval '1 month') WITH ORDINALITY AS mm(m, k)
WHERE s.id = ANY(%(sources)s)
UNION ALL
SELECT c.source_id, c.id, m::date, 80000 + ((c.id * 53 + k * 17) %% 100) * 700, 'RUB'
FROM leads_campaign c
CROSS JOIN LATERAL generate_series(date_trunc('month', %(first)s::timestamp), %(today)s::timestamp,
                                   interval '1 month') WITH ORDINALITY AS mm(m, k)
WHERE c.id = ANY(%(campaigns)s)
""",
    ),
]

ENRICHED = ["leads_lead", "leads_stagechange", "leads_leadevent", "leads_deal", "leads_spend"]


def enrich(log=print) -> float:
    """Campaigns, segments, products, a narrowing funnel with its history, deals and
    spend over the data set bench/sla.py's build() made (see the module doc)."""
    from django.conf import settings
    from django.db import connection, transaction
    from django.utils import timezone

    from bench.sla import _secondary_indexes, vacuum_analyze
    from leads.models import Campaign, Lead, Product, Segment, Source, Stage

    started = time.monotonic()
    now = timezone.now()
    sources = list(Source.objects.filter(code__startswith="bench-src-").order_by("id"))
    campaigns = []
    for source in sources:
        for k in range(CAMPAIGNS_PER_SOURCE):
            campaigns.append(
                Campaign.objects.create(
                    source=source,
                    code=f"c{k + 1}",
                    name=f"{source.name}: кампания {k + 1}",
                    utm_source=source.code,
                    utm_campaign=f"c{k + 1}",
                )
            )
    segments = [
        Segment.objects.create(
            code=f"bench-seg-{k + 1}", name_ru=f"Сегмент {k + 1}", name_en=f"Segment {k + 1}"
        )
        for k in range(4)
    ]
    products = [Product.objects.create(code=f"bench-prod-{k + 1}", name=f"Продукт {k + 1}") for k in range(3)]
    stages = dict(Stage.objects.values_list("code", "id"))
    first = Lead.objects.order_by("created_at").values_list("created_at", flat=True).first()
    zone = settings.TIME_ZONE
    params = {
        **stages,
        "now": now,
        "zone": zone,
        "first": timezone.localtime(first).replace(tzinfo=None),
        "today": timezone.localdate(now),
        "campaigns": [c.pk for c in campaigns],
        "cps": CAMPAIGNS_PER_SOURCE,
        "sources": [s.pk for s in sources],
        "s": len(sources),
        "segments": [s.pk for s in segments],
        "nseg": len(segments),
        "products": [p.pk for p in products],
        "nprod": len(products),
    }
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("SET maintenance_work_mem = '256MB'")
        cursor.execute("SET session_replication_role = replica")
        indexes = _secondary_indexes(cursor, ENRICHED)
        try:
            for name, _definition in indexes:
                cursor.execute(f'DROP INDEX "{name}"')
            t = time.monotonic()
            cursor.execute(FUNNEL_SQL, params)
            log(f"  funnel table: {time.monotonic() - t:.1f} s")
            for name, sql in ENRICH_SQL:
                t = time.monotonic()
                with transaction.atomic():
                    cursor.execute(sql, params)
                    rows = cursor.rowcount
                log(f"  {name:<22} {rows:>9,} rows in {time.monotonic() - t:5.1f} s")
            for table in ENRICHED:
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                )
            cursor.execute("DROP TABLE bench_funnel")
            t = time.monotonic()
            for _name, definition in indexes:
                cursor.execute(definition)
            indexes = []
            log(f"  indexes rebuilt in {time.monotonic() - t:.1f} s")
        finally:
            for _name, definition in indexes:
                cursor.execute(definition.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1))
            cursor.execute("SET session_replication_role = DEFAULT")
            cursor.execute("SET synchronous_commit = on")
    t = time.monotonic()
    vacuum_analyze()
    log(f"  VACUUM ANALYZE: {time.monotonic() - t:.1f} s")
    return time.monotonic() - started


# --- the hand-written statements ----------------------------------------------------------------

# The funnel by source in cohort mode, as DESIGN.md defines it: the cohort (arrived in
# [start, end) in the company's zone, duplicates excluded), "reached or later" steps
# from the furthest stage's position and the qualification, the cohort's won deals
# (first sales and repeat sales apart) and the spend of each source pro-rated by the
# days of each month inside [date_from, date_to].
FUNNEL_BASELINE = """
SELECT coalesce(c.source_id, sp.source_id),
  coalesce(c.leads, 0), coalesce(c.mql, 0), coalesce(c.sql, 0), coalesce(c.meeting, 0),
  coalesce(c.proposal, 0), coalesce(c.won, 0), coalesce(c.rejected, 0), coalesce(c.nurture, 0),
  coalesce(c.revenue, 0), coalesce(c.margin, 0), coalesce(c.repeat_revenue, 0), coalesce(c.repeat_margin, 0),
  coalesce(sp.spend, 0)
FROM (
  SELECT l.source_id,
    count(*) AS leads,
    count(*) FILTER (WHERE l.qualification IN ('mql', 'sql') OR l.furthest_stage_id = ANY(st.meeting)) AS mql,
    count(*) FILTER (WHERE l.qualification = 'sql' OR l.furthest_stage_id = ANY(st.meeting)) AS sql,
    count(*) FILTER (WHERE l.furthest_stage_id = ANY(st.meeting)) AS meeting,
    count(*) FILTER (WHERE l.furthest_stage_id = ANY(st.proposal)) AS proposal,
    count(*) FILTER (WHERE l.stage_id = ANY(st.won)) AS won,
    count(*) FILTER (WHERE l.stage_id = ANY(st.lost)) AS rejected,
    count(*) FILTER (WHERE l.stage_id = ANY(st.nurture)) AS nurture,
    sum(d.revenue) AS revenue, sum(d.margin) AS margin,
    sum(d.repeat_revenue) AS repeat_revenue, sum(d.repeat_margin) AS repeat_margin
  FROM leads_lead l
  CROSS JOIN (
    SELECT array_agg(id) FILTER (WHERE position >= (SELECT position FROM leads_stage WHERE code = 'meeting'))
             AS meeting,
           array_agg(id) FILTER (WHERE position >= (SELECT position FROM leads_stage WHERE code = 'proposal'))
             AS proposal,
           array_agg(id) FILTER (WHERE kind = 'won') AS won,
           array_agg(id) FILTER (WHERE kind = 'lost') AS lost,
           array_agg(id) FILTER (WHERE kind = 'nurture') AS nurture
    FROM leads_stage
  ) st
  LEFT JOIN (
    SELECT lead_id,
      sum(amount) FILTER (WHERE NOT is_repeat_sale) AS revenue,
      sum(margin) FILTER (WHERE NOT is_repeat_sale) AS margin,
      sum(amount) FILTER (WHERE is_repeat_sale) AS repeat_revenue,
      sum(margin) FILTER (WHERE is_repeat_sale) AS repeat_margin
    FROM leads_deal WHERE status = 'won' GROUP BY lead_id
  ) d ON d.lead_id = l.id
  WHERE l.created_at >= %(start)s AND l.created_at < %(end)s
    AND l.rejection_reason_id IS DISTINCT FROM (SELECT id FROM leads_rejectionreason WHERE code = 'duplicate')
  GROUP BY l.source_id
) c
FULL JOIN (
  SELECT sp.source_id,
    sum(sp.amount
        * ((least((sp.month + interval '1 month' - interval '1 day')::date, %(date_to)s)
            - greatest(sp.month, %(date_from)s) + 1)::numeric)
        / extract(day FROM sp.month + interval '1 month' - interval '1 day')::numeric) AS spend
  FROM leads_spend sp
  WHERE sp.month >= date_trunc('month', %(date_from)s::date)::date AND sp.month <= %(date_to)s
  GROUP BY sp.source_id
) sp ON sp.source_id = c.source_id
"""
FUNNEL_COLUMNS = (
    "leads",
    "mql",
    "sql",
    "meeting",
    "proposal",
    "won",
    "rejected",
    "nurture",
    "revenue",
    "margin",
    "repeat_revenue",
    "repeat_margin",
    "spend",
)

# The SLA report by owner over the cohort's timers: a breached timer goes with its
# (first) breach's owner, a met one with the rep of the attempt that met it (a
# reached attempt first, then the latest), any other with the lead's owner; the
# cohort's leads and their clock minutes to first contact go with the lead's owner
# (median = percentile_cont(0.5); p90 by nearest rank = percentile_disc(0.9)).
SLA_BASELINE = """
WITH cohort AS (
  SELECT l.id, l.owner_id, l.created_at, l.first_contact_at
  FROM leads_lead l
  WHERE l.created_at >= %(start)s AND l.created_at < %(end)s
    AND l.rejection_reason_id IS DISTINCT FROM (SELECT id FROM leads_rejectionreason WHERE code = 'duplicate')
), timers AS (
  SELECT t.kind, t.state, b.id IS NOT NULL AS breached, b.delay_owner,
    CASE WHEN b.id IS NOT NULL THEN b.owner_id
         WHEN t.state = 'met' THEN (SELECT a.made_by_id FROM leads_contactattempt a
                                    WHERE a.lead_id = t.lead_id AND a.made_at = t.met_at
                                    ORDER BY a.outcome <> 'reached', a.id DESC LIMIT 1)
         ELSE c.owner_id END AS owner_id
  FROM sla_slatimer t
  JOIN cohort c ON c.id = t.lead_id
  LEFT JOIN LATERAL (SELECT b.id, b.owner_id, b.delay_owner FROM sla_breach b
                     WHERE b.timer_id = t.id ORDER BY b.id LIMIT 1) b ON true
), by_timer AS (
  SELECT coalesce(owner_id, 0) AS owner_key,
    count(*) FILTER (WHERE kind = 'first_contact') AS timers,
    count(*) FILTER (WHERE kind = 'first_contact' AND state = 'met' AND NOT breached) AS met,
    count(*) FILTER (WHERE kind = 'first_contact' AND breached) AS breached,
    count(*) FILTER (WHERE kind = 'first_contact' AND state = 'running' AND NOT breached) AS running,
    count(*) FILTER (WHERE kind = 'first_contact' AND breached AND delay_owner = 'system') AS breaches_system,
    count(*) FILTER (WHERE kind = 'first_contact' AND breached AND delay_owner = 'rep') AS breaches_rep,
    count(*) FILTER (WHERE kind = 'callback' AND breached) AS callback_breaches
  FROM timers GROUP BY 1
), by_lead AS (
  SELECT coalesce(owner_id, 0) AS owner_key, count(*) AS leads,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM first_contact_at - created_at))
      FILTER (WHERE first_contact_at IS NOT NULL) AS median_s,
    percentile_disc(0.9) WITHIN GROUP (ORDER BY first_contact_at - created_at)
      FILTER (WHERE first_contact_at IS NOT NULL) AS p90
  FROM cohort GROUP BY 1
)
SELECT nullif(coalesce(l.owner_key, t.owner_key), 0), coalesce(l.leads, 0), coalesce(t.timers, 0), coalesce(t.met, 0),
  coalesce(t.breached, 0), coalesce(t.running, 0), coalesce(t.breaches_system, 0), coalesce(t.breaches_rep, 0),
  coalesce(t.callback_breaches, 0), l.median_s, extract(epoch FROM l.p90)
FROM by_lead l FULL JOIN by_timer t ON t.owner_key = l.owner_key
"""
SLA_COLUMNS = (
    "leads",
    "timers",
    "met",
    "breached",
    "running",
    "breaches_system",
    "breaches_rep",
    "callback_breaches",
)

# The dashboard's figures for consecutive periods in ONE statement: the page's
# tiles (the previous period and this one) and the trend (six calendar months) are
# both "the tiles' figures per period", the periods given by their boundaries
# (%(bounds)s: instants, company zone; %(days)s: the same as dates, for closed_on),
# each row bucketed with width_bucket(). Per period: the cohort's leads, sql, meeting,
# won, not_target, first-contact median (seconds), first-contact timers met (no
# breach) and breached; events: revenue and margin of won deals closed in the period
# (repeat sales included) and the leads whose first move to a won stage is in it;
# spend pro-rated to [%(spend_from)s[n], %(spend_to)s[n]] (the trend's last month:
# up to today, as the tile's). Duplicates count nowhere.
DASHBOARD_BASELINE = """
WITH dup AS (SELECT id FROM leads_rejectionreason WHERE code = 'duplicate'),
st AS (
  SELECT array_agg(id) FILTER (WHERE position >= (SELECT position FROM leads_stage WHERE code = 'meeting'))
           AS meeting,
         array_agg(id) FILTER (WHERE kind = 'won') AS won
  FROM leads_stage
), b AS (
  SELECT %(bounds)s::timestamptz[] AS t, %(days)s::date[] AS d,
         cardinality(%(bounds)s::timestamptz[]) AS k
), cohort AS (
  SELECT width_bucket(l.created_at, b.t) AS n, l.id, l.qualification, l.furthest_stage_id, l.stage_id,
         l.rejection_reason_id, l.created_at, l.first_contact_at
  FROM leads_lead l, b
  WHERE l.created_at >= b.t[1] AND l.created_at < b.t[b.k]
    AND l.rejection_reason_id IS DISTINCT FROM (SELECT id FROM dup)
), c AS (
  SELECT n, count(*) AS leads,
    count(*) FILTER (WHERE qualification = 'sql' OR furthest_stage_id = ANY(st.meeting)) AS sql,
    count(*) FILTER (WHERE furthest_stage_id = ANY(st.meeting)) AS meeting,
    count(*) FILTER (WHERE stage_id = ANY(st.won)) AS won,
    count(*) FILTER (WHERE rejection_reason_id IN (SELECT id FROM leads_rejectionreason
                                                   WHERE code IN ('not_target', 'spam'))) AS not_target,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM first_contact_at - created_at)) AS median_s
  FROM cohort, st GROUP BY n
), t AS (
  SELECT c.n,
    count(*) FILTER (WHERE t.state = 'met' AND NOT EXISTS (SELECT 1 FROM sla_breach x WHERE x.timer_id = t.id))
      AS met,
    count(*) FILTER (WHERE EXISTS (SELECT 1 FROM sla_breach x WHERE x.timer_id = t.id)) AS breached
  FROM sla_slatimer t JOIN cohort c ON c.id = t.lead_id
  WHERE t.kind = 'first_contact'
    -- the cohort's id range (leads are numbered as they arrive): read from
    -- slatimer_lead_idx instead of hashing every timer
    AND t.lead_id BETWEEN (SELECT min(id) FROM cohort) AND (SELECT max(id) FROM cohort)
  GROUP BY c.n
), dups AS (
  -- the few leads that count nowhere, from their partial index (no pass over the leads)
  SELECT id FROM leads_lead WHERE rejection_reason_id = (SELECT id FROM dup)
), deals AS (
  SELECT width_bucket(d.closed_on, b.d) AS n, sum(d.amount) AS revenue, sum(d.margin) AS margin
  FROM leads_deal d, b
  WHERE d.status = 'won' AND d.closed_on >= b.d[1] AND d.closed_on < b.d[b.k]
    AND d.lead_id NOT IN (SELECT id FROM dups)
  GROUP BY 1
), w AS (
  -- a lead's first move to won is in the window when its earliest one inside the
  -- window has none before the window
  SELECT width_bucket(f.first_won, b.t) AS n, count(*) AS won
  FROM (SELECT sc.lead_id, min(sc.changed_at) AS first_won
        FROM leads_stagechange sc, st, b
        WHERE sc.to_stage_id = ANY(st.won) AND sc.changed_at >= b.t[1] AND sc.changed_at < b.t[b.k]
        GROUP BY sc.lead_id) f, b
  WHERE f.lead_id NOT IN (SELECT id FROM dups)
    AND NOT EXISTS (SELECT 1 FROM leads_stagechange e, st
                    WHERE e.lead_id = f.lead_id AND e.to_stage_id = ANY(st.won) AND e.changed_at < b.t[1])
  GROUP BY 1
), spend AS (
  SELECT p.n, sum(sp.amount
        * ((least((sp.month + interval '1 month' - interval '1 day')::date, p.date_to)
            - greatest(sp.month, p.date_from) + 1)::numeric)
        / extract(day FROM sp.month + interval '1 month' - interval '1 day')::numeric) AS spend
  FROM unnest(%(spend_from)s::date[], %(spend_to)s::date[]) WITH ORDINALITY AS p(date_from, date_to, n)
  JOIN leads_spend sp ON sp.month >= date_trunc('month', p.date_from)::date AND sp.month <= p.date_to
  GROUP BY p.n
)
SELECT n.n, coalesce(c.leads, 0), coalesce(c.sql, 0), coalesce(c.meeting, 0), coalesce(c.won, 0),
  coalesce(c.not_target, 0), c.median_s, coalesce(t.met, 0), coalesce(t.breached, 0),
  coalesce(deals.revenue, 0), coalesce(deals.margin, 0), coalesce(w.won, 0), coalesce(spend.spend, 0)
FROM b CROSS JOIN LATERAL generate_series(1, b.k - 1) AS n(n)
LEFT JOIN c ON c.n = n.n LEFT JOIN t ON t.n = n.n LEFT JOIN deals ON deals.n = n.n
LEFT JOIN w ON w.n = n.n LEFT JOIN spend ON spend.n = n.n
ORDER BY n.n
"""


def _period(date_from: dt.date, date_to: dt.date) -> dict:
    from reports.params import start_of

    return {
        "date_from": date_from,
        "date_to": date_to,
        "start": start_of(date_from),
        "end": start_of(date_to + dt.timedelta(days=1)),
    }


def run_sql(sql: str, params: dict) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def explain(sql: str, params: dict) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, params)
        return "\n".join("    " + row[0] for row in cursor.fetchall())


# --- comparing ---------------------------------------------------------------------------------


def _money(value) -> str:
    from reports.base import money

    return money(Decimal(value))


def funnel_expected(rows) -> dict:
    expected = {}
    for source_id, *values in rows:
        figures = dict(zip(FUNNEL_COLUMNS, values, strict=True))
        for name in ("revenue", "margin", "repeat_revenue", "repeat_margin", "spend"):
            figures[name] = _money(figures[name])
        expected[source_id] = figures
    return expected


def funnel_actual(answer: dict) -> dict:
    return {row["key"]: {name: row[name] for name in FUNNEL_COLUMNS} for row in answer["rows"]}


def sla_expected(rows) -> dict:
    from reports.sla import minutes_text

    expected = {}
    for owner_id, *values in rows:
        counts, (median_s, p90_s) = values[: len(SLA_COLUMNS)], values[len(SLA_COLUMNS) :]
        figures = dict(zip(SLA_COLUMNS, counts, strict=True))
        figures["first_contact_median_min"] = (
            None if median_s is None else minutes_text(Decimal(repr(median_s)) / 60)
        )
        figures["first_contact_p90_min"] = None if p90_s is None else minutes_text(Decimal(p90_s) / 60)
        expected[owner_id] = figures
    return expected


def sla_actual(answer: dict) -> dict:
    fields = (*SLA_COLUMNS, "first_contact_median_min", "first_contact_p90_min")
    actual = {row["key"]: {name: row[name] for name in fields} for row in answer["rows"]}
    for row in answer["rows"]:
        # The data set's calendar is 24/7, so working minutes equal clock minutes.
        assert row["first_contact_median_work_min"] == row["first_contact_median_min"], row
        assert row["first_contact_p90_work_min"] == row["first_contact_p90_min"], row
    return actual


def dashboard_expected(row) -> dict:
    """One period's tiles (as the KPI API formats them) from a DASHBOARD_BASELINE row."""
    from reports.base import money, percent
    from reports.sla import minutes_text

    _n, leads, sql, meeting, won, not_target, median_s, met, breached, revenue, margin, won_events, spend = (
        row
    )
    return {
        "leads": leads,
        "lead_to_won": percent(won, leads),
        "target_share": percent(leads - not_target, leads),
        "lead_to_sql": percent(sql, leads),
        "sql_to_meeting": percent(meeting, sql),
        "meeting_to_won": percent(won, meeting),
        "revenue": money(revenue),
        "margin": money(margin),
        "won": won_events,
        "cpl": money(Decimal(spend) / leads) if leads else None,
        "first_contact_median_min": None if median_s is None else minutes_text(Decimal(repr(median_s)) / 60),
        "sla_met_pct": percent(met, met + breached),
    }


def page_expected(rows) -> dict:
    """The page's tiles: {code: (this period, the previous one)} from the two rows."""
    previous, current = (dashboard_expected(row) for row in rows)
    return {code: (current[code], previous[code]) for code in current}


def page_actual(answer: dict) -> dict:
    """The same from the KPI API for the page's dates (the page renders these tiles)."""
    return {
        tile["code"]: (tile["value"], tile["previous"])
        for tile in answer["tiles"]
        if tile["code"] != "data_quality_pct"
    }


def trend_expected(rows) -> dict:
    """{code: [month values as the chart gets them]} from the six monthly rows."""
    months = [dashboard_expected(row) for row in rows]
    return {code: [None if m[code] is None else float(m[code]) for m in months] for code in months[0]}


def trend_actual(response) -> dict:
    """The chart data the trend's fragment carries (its json_script element)."""
    html = response.content.decode()
    found = re.search(r'<script id="kpi-trend" type="application/json">(.*?)</script>', html, re.S)
    return json.loads(found.group(1))["series"]


def _periods(pairs: list[tuple[dt.date, dt.date]], spend_until: dt.date | None = None) -> dict:
    """DASHBOARD_BASELINE's parameters for consecutive periods [(date_from, date_to), …]
    (inclusive days, company zone); `spend_until` cuts the last period's spend."""
    from reports.params import start_of

    after = pairs[-1][1] + dt.timedelta(days=1)
    spend_to = [date_to for _date_from, date_to in pairs]
    if spend_until is not None:
        spend_to[-1] = min(spend_to[-1], spend_until)
    return {
        "bounds": [start_of(date_from) for date_from, _date_to in pairs] + [start_of(after)],
        "days": [date_from for date_from, _date_to in pairs] + [after],
        "spend_from": [date_from for date_from, _date_to in pairs],
        "spend_to": spend_to,
    }


def page_periods(date_from: dt.date, date_to: dt.date) -> dict:
    """The page's two periods: the same number of days just before, and this one."""
    days = (date_to - date_from).days + 1
    before = date_from - dt.timedelta(days=1)
    return _periods([(before - dt.timedelta(days=days - 1), before), (date_from, date_to)])


def trend_periods(until: dt.date) -> dict:
    """The trend's six calendar months up to `until`'s (the last one's spend up to `until`)."""
    from reports.kpis import TREND_MONTHS

    firsts = [until.replace(day=1)]
    while len(firsts) < TREND_MONTHS:
        firsts.insert(0, (firsts[0] - dt.timedelta(days=1)).replace(day=1))
    pairs = [
        (first, (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)) for first in firsts
    ]
    return _periods(pairs, spend_until=until)


def differences(expected: dict, actual: dict) -> list[str]:
    out = []
    for key in sorted(set(expected) | set(actual), key=str):
        e, a = expected.get(key), actual.get(key)
        if e != a:
            out.append(f"    {key}: SQL {e} ≠ report {a}")
    return out


# --- measuring ---------------------------------------------------------------------------------


def measure(client, url: str, requests: int, sql: str, sql_params: dict, warmup: int = 2) -> dict:
    """The page or API answer `requests` times (after a warm-up; one more under
    CaptureQueriesContext for the query count), each followed by the hand-written
    statement, so both see the same machine load."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(warmup):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code, response.content[:500])
        run_sql(sql, sql_params)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    queries = ctx.captured_queries
    times, sql_times = [], []
    for _ in range(requests):
        began = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - began)
        assert response.status_code == 200, (url, response.status_code)
        began = time.perf_counter()
        rows = run_sql(sql, sql_params)
        sql_times.append(time.perf_counter() - began)
    slowest = sorted(queries, key=lambda q: -float(q["time"]))[:3]
    return {
        "url": url,
        "times": times,
        "sql_times": sql_times,
        "queries": len(queries),
        "db_seconds": sum(float(q["time"]) for q in queries),
        "slowest": [(float(q["time"]), q["sql"]) for q in slowest],
        "response": response,
        "sql_rows": rows,
    }


def summary(name: str, result: dict, target: str) -> list[str]:
    med, p95 = common.median(result["times"]), common.percentile(result["times"], 95)
    sql_med, sql_p95 = common.median(result["sql_times"]), common.percentile(result["sql_times"], 95)
    return [
        f"{name}",
        f"    report   median {med * 1000:8.1f} ms   p95 {p95 * 1000:8.1f} ms   {result['queries']} queries "
        f"({result['db_seconds'] * 1000:.0f} ms in the database, captured run)",
        f"    SQL      median {sql_med * 1000:8.1f} ms   p95 {sql_p95 * 1000:8.1f} ms   (one statement, same run)",
        f"    ratio report / SQL: {med / sql_med:.2f}×   {target}",
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=10, help="timed requests per report")
    parser.add_argument(
        "--year", type=int, help="the funnel's year (default: last year, the last whole year of the data)"
    )
    parser.add_argument(
        "--explain", action="store_true", help="EXPLAIN ANALYZE each report's slowest queries"
    )
    parser.add_argument(
        "--only", choices=("funnel", "sla", "dashboard", "dashboard-month", "trend"), action="append"
    )
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--reuse-db", metavar="NAME", help="a database left by --keep-db (nothing is built)")
    args = parser.parse_args(argv)

    common.print_machine()
    workdir = Path(tempfile.mkdtemp(prefix="revops-bench-reports-"))
    db = None
    try:
        if args.reuse_db:
            common.django_setup(common.base_env(args.reuse_db, REVOPS_DATA_DIR=workdir))
        else:
            from bench.sla import build, prepare_database

            db, _env = prepare_database("revops_bench_reports", REVOPS_DATA_DIR=workdir)
            print(f"building {args.leads:,} leads …", flush=True)
            data = build(leads=args.leads, running=10_000, open_leads=12_000)
            print(f"  built in {data.seconds:.1f} s; enriching …", flush=True)
            print(f"  enriched in {enrich():.1f} s", flush=True)

        from django.test import Client

        from leads.models import Deal, Lead, LeadEvent, Spend, StageChange
        from reports.params import today
        from revops.models import User

        ceo = User.objects.get(username="bench_ceo")
        client = Client(HTTP_ACCEPT_LANGUAGE="en")
        client.force_login(ceo)
        now = today()
        year = args.year or now.year - 1
        print(
            f"data: {Lead.objects.count():,} leads, {StageChange.objects.count():,} stage changes, "
            f"{LeadEvent.objects.count():,} qualification events, {Deal.objects.count():,} deals, "
            f"{Spend.objects.count():,} spend rows",
            flush=True,
        )

        month_start = now.replace(day=1)
        last_month_end = month_start - dt.timedelta(days=1)
        last_month_start = last_month_end.replace(day=1)
        cases = {
            "funnel": (
                f"funnel by source, cohort, {year}",
                "/api/v1/reports/funnel/?"
                + f"date_from={year}-01-01&date_to={year}-12-31&by=source&mode=cohort",
                FUNNEL_BASELINE,
                _period(dt.date(year, 1, 1), dt.date(year, 12, 31)),
                funnel_expected,
                funnel_actual,
            ),
            "sla": (
                f"SLA by owner, {last_month_end:%Y-%m} (last whole month)",
                f"/api/v1/reports/sla/?date_from={last_month_end.replace(day=1)}&date_to={last_month_end}&by=owner",
                SLA_BASELINE,
                _period(last_month_end.replace(day=1), last_month_end),
                sla_expected,
                sla_actual,
            ),
            # The page a person opens (tiles: this month so far and the same days just
            # before, with targets) and, apart, its trend (six months, a second request).
            "dashboard": (
                f"dashboard page /dashboard/, this month so far ({month_start} – {now}) + previous period",
                "/dashboard/",
                DASHBOARD_BASELINE,
                page_periods(month_start, now),
                None,
                None,
            ),
            # The same page on a month's last day: a whole month and the one before.
            "dashboard-month": (
                f"dashboard page, a whole month ({last_month_start} – {last_month_end}) + previous period",
                "/dashboard/?period=last_month",
                DASHBOARD_BASELINE,
                page_periods(last_month_start, last_month_end),
                None,
                None,
            ),
            "trend": (
                f"dashboard trend /dashboard/trend/, six months up to {now}",
                f"/dashboard/trend/?period=custom&date_from={month_start}&date_to={now}",
                DASHBOARD_BASELINE,
                trend_periods(now),
                trend_expected,
                trend_actual,
            ),
        }
        wanted = args.only or list(cases)
        results, lines, mismatches = {}, [], []
        for code in wanted:
            title, url, sql, sql_params, expected_of, actual_of = cases[code]
            print(f"\n[{code}] {title}\n    GET {url}", flush=True)
            result = measure(client, url, args.requests, sql, sql_params)
            results[code] = result
            if code in ("dashboard", "dashboard-month"):
                # The page renders the KPI API's tiles for its dates: check those.
                days = sql_params["days"]
                query = f"date_from={sql_params['spend_from'][1]}&date_to={days[-1] - dt.timedelta(days=1)}"
                answer = client.get(f"/api/v1/reports/kpis/?{query}").json()
                expected, actual = page_expected(result["sql_rows"]), page_actual(answer)
            elif code == "trend":
                expected, actual = expected_of(result["sql_rows"]), actual_of(result["response"])
            else:
                answer = json.loads(result["response"].content)
                expected, actual = expected_of(result["sql_rows"]), actual_of(answer)
            diff = differences(expected, actual)
            if diff:
                mismatches.append(code)
                print(
                    f"    MISMATCH between the report and its SQL ({len(diff)} rows):\n"
                    + "\n".join(diff[:20])
                )
            else:
                print(f"    numbers equal: {len(expected)} rows checked against the SQL")
            if code == "funnel":
                target = f"target ≤ {FUNNEL_RATIO_TARGET}×: " + common.verdict(
                    common.median(result["times"]) <= FUNNEL_RATIO_TARGET * common.median(result["sql_times"])
                )
            elif code in ("dashboard", "dashboard-month"):
                target = f"target ≤ {DASHBOARD_TARGET * 1000:.0f} ms: " + common.verdict(
                    common.median(result["times"]) <= DASHBOARD_TARGET
                )
            elif code == "trend":
                target = "(no target of its own: the page does not wait for it)"
            else:
                target = "(no target)"
            lines += summary(title, result, target)
            lines.append(f"    during this case: {common.load()}")
            for line in lines[-5:]:
                print(line, flush=True)
            if args.explain:
                for seconds, query in result["slowest"]:
                    print(f"\n    slowest query ({seconds * 1000:.1f} ms): {query[:600]}")
                    if query.lstrip().upper().startswith("SELECT"):
                        with __import__("django").db.connection.cursor() as cursor:
                            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + query)
                            print("\n".join("      " + r[0] for r in cursor.fetchall()))

        print("\n=== report benchmark ===")
        print(f"median of {args.requests} requests, in-process test Client as an executive, DEBUG=0")
        for line in lines:
            print(line)
        print(f"during the run: {common.load()}")
        if mismatches:
            print(f"NUMBERS DIFFER from the hand-written SQL: {', '.join(mismatches)}")
            return 1
        return 0
    finally:
        common.release(db, args.keep_db, workdir)


if __name__ == "__main__":
    sys.exit(main())
