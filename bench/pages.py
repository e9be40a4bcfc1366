"""Server time and query counts of the main pages with 1,000,000 leads in
PostgreSQL (built by bench/sla.py's `build()`): one rep owns ~300 open leads
(and ~25,000 closed ones). `fill_issue15()` then adds the rows of issue #15's
pages (reasons, returns and tracks of the ~346,000 leads in nurture, ~50,000
feedback rows, ~10,000 disputes), set-based. Pages are requested in-process with
Django's test Client (force_login, DEBUG=0); each figure is the median of
--requests requests after a warm-up. Baseline in the same run: GET /healthz (a
few small queries) and the login page (a template, no queries). Last, issue #15's
pages are requested with half and ~1/16 of the rows they list (deleted in a
transaction that is rolled back): their query counts should not move.

    .venv/bin/python -m bench.pages [--leads 1000000] [--requests 20] [--explain]
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` importable, unshadow the apps
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench import common
from bench.sla import build, prepare_database, vacuum_analyze

QUEUE_TARGET = 0.100


def measure(client, url: str, requests: int, warmup: int = 2, budget: float | None = None) -> dict:
    """`requests` timed GETs after `warmup` ones and one with the queries captured; with
    a `budget` (seconds), timing stops early once it is spent and 5 requests are in."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(warmup):
        response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} answered {response.status_code}")
    with CaptureQueriesContext(connection) as ctx:
        client.get(url)
    queries = ctx.captured_queries
    times = []
    for _ in range(requests):
        began = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - began)
        assert response.status_code == 200, (url, response.status_code)
        if budget is not None and len(times) >= 5 and sum(times) > budget:
            break
    slowest = max(queries, key=lambda q: float(q["time"]), default=None)
    return {
        "url": url,
        "times": times,
        "queries": len(queries),
        "db_seconds": sum(float(q["time"]) for q in queries),
        "slowest": (float(slowest["time"]), slowest["sql"]) if slowest else (0.0, ""),
        "bytes": len(response.content),
    }


PLAN_KEEP = (
    "Scan",
    "Join",
    "Loop",
    "Sort",
    "Aggregate",
    "SubPlan",
    "InitPlan",
    "Execution",
    "Planning Time",
    "JIT",
    "Timing:",
)


def explain(sql: str) -> str:
    """The plan's skeleton: scans, joins, sorts and the time spent (with JIT, if it ran)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF) " + sql)
        lines = [row[0] for row in cursor.fetchall()]
    return "\n".join("      " + line for line in lines if any(word in line for word in PLAN_KEEP))


def what_if(rep, head, runs: int) -> dict:
    """Why open leads are filtered by the open stages' ids: the board's open-lead
    count written with `stage__kind = open` (as the app did before: a join the
    planner cannot estimate, so it reads all of the team's leads) and with
    `stage_id IN (…)` (as the app does now, served by lead_stage_owner_idx)."""
    from django.db.models import Count

    from leads.choices import StageKind
    from leads.models import Lead, Stage
    from revops.models import User

    open_ids = list(Stage.objects.filter(kind=StageKind.OPEN).values_list("id", flat=True))
    team_ids = list(User.objects.filter(team_id=head.team_id).values_list("id", flat=True))

    def med(fn):
        fn()
        return common.median(timed(fn, runs))

    return {
        "board: open leads per rep of the team": (
            med(
                lambda: dict(
                    Lead.objects.filter(owner_id__in=team_ids, stage__kind=StageKind.OPEN)
                    .values_list("owner_id")
                    .annotate(n=Count("id"))
                    .order_by()
                )
            ),
            med(
                lambda: dict(
                    Lead.objects.filter(owner_id__in=team_ids, stage_id__in=open_ids)
                    .values_list("owner_id")
                    .annotate(n=Count("id"))
                    .order_by()
                )
            ),
        ),
    }


def timed(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        out.append(time.perf_counter() - began)
    return out


# --- issue #15's rows ---------------------------------------------------------------------------
#
# build() makes leads, their history and timers only. fill_issue15() adds, set-based
# over those leads (INSERT … SELECT, as build() does; the few reference rows through
# the ORM), what /nurture/, /nurture/tracks/, /nurture/tasks/, /feedback/ and
# /disputes/ list. Every choice is a hash of the lead's id (hashint8extended), so the
# data set is the same every time. Foreign-key triggers stay on: every row is checked.

ISSUE15_MARKETER = "bench_marketer"
# Nurture reasons (seeded by the migrations, leads/vocabulary.py) in 20 weighted slots.
CAUSE_SLOTS = {"no_answer": 5, "not_now": 6, "no_budget": 4, "researching": 3, "other": 2}
TRACKS = [
    (
        "Не сейчас: напомнить о себе",
        ["not_now", "other"],
        [
            (
                "email",
                "Как дела с задачей?",
                "Здравствуйте, {{ name }}! Вернёмся к разговору?",
                None,
                "",
            ),
            ("wait", "", "", 14, ""),
            ("email", "Новое в продукте", "Мы выпустили обновление — посмотрите, что изменилось.", None, ""),
        ],
    ),
    (
        "Нет бюджета: кейсы и рассрочка",
        ["no_budget"],
        [
            (
                "email",
                "Кейс: окупаемость за 4 месяца",
                "Как клиенты окупают внедрение за один квартал.",
                None,
                "",
            ),
            ("wait", "", "", 30, ""),
            ("task", "", "", None, "Позвонить и предложить рассрочку"),
        ],
    ),
    (
        "Изучает рынок: полезные материалы",
        ["researching", "no_answer"],
        [
            (
                "email",
                "Сравнение решений на рынке",
                "Собрали таблицу сравнения — пригодится при выборе.",
                None,
                "",
            ),
            ("wait", "", "", 7, ""),
            (
                "email",
                "Вебинар для тех, кто выбирает",
                "Приглашаем на вебинар: ответим на вопросы.",
                None,
                "",
            ),
        ],
    ),
]
# Feedback topics in 20 weighted slots, with what a rep writes and marketing answers.
FEEDBACK_SLOTS = [
    ("objection", 6, "Клиент говорит, что дорого по сравнению с конкурентом", "Готовим сравнение цен"),
    ("not_understood", 3, "Не понял из рекламы, что интеграция платная", "Поправим текст объявления"),
    ("trust", 2, "Помог кейс из той же отрасли", "Добавим кейс на лендинг"),
    ("wrong_segment", 3, "Это частное лицо, а реклама для бизнеса", "Сузили таргетинг"),
    ("lead_quality", 4, "Телефон не отвечает, заявка похожа на бота", "Проверим источник"),
    ("content_request", 2, "Нужна презентация для финансового директора", "Сделаем к пятнице"),
]
DISPUTE_COMMENTS = [
    "Клиент целевой: компания из нашего сегмента, бюджет подтверждён",
    "Причина отказа не подтверждается звонком",
    "Клиент повторно оставил заявку — интерес есть",
]
# How much of each: shares of the leads (the brief's volumes at 1,000,000 leads).
FEEDBACK_PER_LEAD = 0.05  # ~50,000 rows
DISPUTES_PER_LEAD = 0.01  # ~10,000 rows
OPEN_DISPUTES_SHARE = 0.03  # ~300 of them open
CAME_BACK_SHARE = 82  # of 1024: won / lost leads older than 17 days that had a stay in nurture (~50,000)

NURTURE_SQL = [
    (
        "nurture leads",
        # Every lead in nurture now, with its stage change into nurture and its hashes.
        """
CREATE TEMP TABLE bench_nurture AS
SELECT l.id, l.owner_id, sc.id AS change_id, coalesce(sc.changed_at, l.stage_changed_at, l.created_at) AS nurtured_at,
       (%(causes)s::bigint[])[1 + (hashint8extended(l.id, 1) & 1048575) %% 20] AS cause_id,
       hashint8extended(l.id, 3) & 1023 AS h_track,
       hashint8extended(l.id, 4) & 1048575 AS h_misc,
       CASE WHEN (hashint8extended(l.id, 2) & 1023) < 512
            THEN %(today)s::date + 1 + ((hashint8extended(l.id, 5) & 1048575) %% 90)::int END AS return_on
FROM leads_lead l
LEFT JOIN (SELECT DISTINCT ON (s.lead_id) s.lead_id, s.id, s.changed_at FROM leads_stagechange s
           WHERE s.to_stage_id = %(nurture)s ORDER BY s.lead_id, s.changed_at DESC, s.id DESC) sc
       ON sc.lead_id = l.id
WHERE l.stage_id = %(nurture)s
""",
    ),
    (
        "nurture causes",
        # Every lead in nurture gets a listed reason; half of them a return date.
        """
UPDATE leads_lead l SET nurture_cause_id = n.cause_id, nurture_until = n.return_on
FROM bench_nurture n WHERE l.id = n.id
""",
    ),
    (
        "pending returns",
        # Due at the start of that day on the team's (24/7) calendar, over the next 90 days.
        """
INSERT INTO leads_nurturereturn (lead_id, nurture_change_id, cause_id, due_at, state, trigger, returned_at,
    returned_by_id, sweep_retry_at, created_at)
SELECT n.id, n.change_id, n.cause_id, n.return_on::timestamp AT TIME ZONE %(calendar_zone)s, 'pending', '',
       NULL, NULL, NULL, n.nurtured_at
FROM bench_nurture n WHERE n.return_on IS NOT NULL
""",
    ),
    (
        "active enrollments",
        # A third of the leads in nurture are on the track of their reason, at step 1–3,
        # the next one due within two weeks; the steps before it done.
        """
INSERT INTO leads_trackenrollment (lead_id, track_id, nurture_change_id, step_id, state, due_at, started_at,
    ended_at, done_steps, sweep_retry_at)
SELECT n.id, r.nurturetrack_id, n.change_id, st.id, 'active',
       %(now)s::timestamptz + make_interval(hours => 1 + (n.h_misc %% 336)::int),
       greatest(n.nurtured_at, %(tracks_since)s::timestamptz + make_interval(days => (n.h_misc %% 120)::int)),
       NULL,
       coalesce((SELECT jsonb_agg(d.id ORDER BY d.position) FROM leads_nurturestep d
                 WHERE d.track_id = st.track_id AND d.position < st.position), '[]'::jsonb),
       NULL
FROM bench_nurture n
JOIN {reasons_table} r ON r.nurturereason_id = n.cause_id AND r.nurturetrack_id = ANY(%(tracks)s)
JOIN leads_nurturestep st ON st.track_id = r.nurturetrack_id AND st.position = 1 + (n.h_misc / 7) %% 3
WHERE n.h_track < 341
""",
    ),
    (
        "finished enrollments",
        # A sixth went through the whole track (45 days) and are still in nurture.
        """
INSERT INTO leads_trackenrollment (lead_id, track_id, nurture_change_id, step_id, state, due_at, started_at,
    ended_at, done_steps, sweep_retry_at)
SELECT n.id, r.nurturetrack_id, n.change_id, NULL, 'finished', NULL, e.started_at,
       e.started_at + interval '45 days',
       (SELECT jsonb_agg(d.id ORDER BY d.position) FROM leads_nurturestep d WHERE d.track_id = r.nurturetrack_id),
       NULL
FROM bench_nurture n
JOIN {reasons_table} r ON r.nurturereason_id = n.cause_id AND r.nurturetrack_id = ANY(%(tracks)s)
CROSS JOIN LATERAL (SELECT greatest(n.nurtured_at, %(tracks_since)s::timestamptz
                                    + make_interval(days => (n.h_misc %% 30)::int)) AS started_at) e
WHERE n.h_track >= 341 AND n.h_track < 512 AND n.nurtured_at < %(now)s::timestamptz - interval '60 days'
""",
    ),
    (
        "marketing tasks",
        # The task a finished track's last step gave marketing: most done, ~6 % open.
        """
INSERT INTO leads_marketingtask (lead_id, enrollment_id, step_id, text, created_at, done_at, done_by_id)
SELECT e.lead_id, e.id, s.id, s.task_text, e.ended_at,
       CASE WHEN o.open THEN NULL ELSE e.ended_at + make_interval(hours => 2 + (e.id %% 96)::int) END,
       CASE WHEN o.open THEN NULL ELSE %(marketer)s::bigint END
FROM leads_trackenrollment e
JOIN leads_nurturestep s ON s.track_id = e.track_id AND s.kind = 'task'
CROSS JOIN LATERAL (SELECT (hashint8extended(e.id, 6) & 1023) < 60 AS open) o
WHERE e.state = 'finished' AND e.track_id = ANY(%(tracks)s)
""",
    ),
    (
        "came back",
        # Won or lost leads (older than 17 days, history `lead` → final) that had a stay
        # of 7–90 days in nurture first (shorter for the youngest, so every return and
        # final move is in the past): back by date (60 %), a new request (25 %) or by
        # hand (15 %); the final move follows a day after the return.
        """
CREATE TEMP TABLE bench_back AS
SELECT b.*, NULL::bigint AS sent_change_id,
       date_trunc('day', b.created_at
                         + make_interval(days => 7 + (b.h_misc %% greatest(1, least(83, b.age_days - 9)))::int))
         + CASE WHEN b.trigger = 'date' THEN interval '2 seconds'
                ELSE make_interval(secs => 32400 + (b.h_misc %% 28800)::int) END AS back_at
FROM (
  SELECT l.id, l.owner_id, l.created_at, f.id AS final_id, l.created_at + interval '30 minutes' AS sent_at,
         floor(extract(epoch FROM %(now)s::timestamptz - l.created_at) / 86400)::int AS age_days,
         (%(causes)s::bigint[])[1 + (hashint8extended(l.id, 22) & 1048575) %% 20] AS cause_id,
         CASE WHEN (hashint8extended(l.id, 23) & 1023) < 614 THEN 'date'
              WHEN (hashint8extended(l.id, 23) & 1023) < 870 THEN 'request' ELSE 'hand' END AS trigger,
         hashint8extended(l.id, 24) & 1023 AS h_track,
         hashint8extended(l.id, 25) & 1048575 AS h_misc
  FROM leads_lead l
  JOIN leads_stagechange f ON f.lead_id = l.id AND f.to_stage_id = l.stage_id AND f.from_stage_id = %(lead)s
  WHERE l.stage_id = ANY(%(back_stages)s) AND l.created_at < %(now)s::timestamptz - interval '17 days'
    AND (hashint8extended(l.id, 20) & 1023) < %(back_share)s
    AND (SELECT count(*) FROM leads_stagechange x WHERE x.lead_id = l.id) = 2
) b
""",
    ),
    (
        "  final moves",
        "UPDATE leads_stagechange f SET changed_at = b.back_at + interval '1 day' FROM bench_back b "
        "WHERE f.id = b.final_id",
    ),
    (
        "  their leads",
        """
UPDATE leads_lead l SET closed_at = b.back_at + interval '1 day', stage_changed_at = b.back_at + interval '1 day',
       returned_at = b.back_at
FROM bench_back b WHERE l.id = b.id
""",
    ),
    (
        "  into nurture",
        """
WITH a AS (
  INSERT INTO leads_stagechange (changed_at, note, changed_by_id, from_stage_id, lead_id, to_stage_id)
  SELECT sent_at, '', owner_id, %(lead)s, id, %(nurture)s FROM bench_back
  RETURNING id, lead_id
)
UPDATE bench_back b SET sent_change_id = a.id FROM a WHERE b.id = a.lead_id
""",
    ),
    (
        "  out of nurture",
        """
INSERT INTO leads_stagechange (changed_at, note, changed_by_id, from_stage_id, lead_id, to_stage_id)
SELECT back_at, '', CASE WHEN trigger = 'hand' THEN owner_id END, %(nurture)s, id, %(lead)s FROM bench_back
""",
    ),
    (
        "done returns",
        """
INSERT INTO leads_nurturereturn (lead_id, nurture_change_id, cause_id, due_at, state, trigger, returned_at,
    returned_by_id, sweep_retry_at, created_at)
SELECT id, sent_change_id, cause_id,
       CASE WHEN trigger = 'date' THEN date_trunc('day', back_at)
            WHEN h_misc %% 2 = 0 THEN date_trunc('day', back_at) + interval '20 days' END,
       'done', trigger, back_at, CASE WHEN trigger = 'hand' THEN owner_id END, NULL, sent_at
FROM bench_back
""",
    ),
    (
        "stopped enrollments",
        # A third of those were on their reason's track; the return stopped it.
        """
INSERT INTO leads_trackenrollment (lead_id, track_id, nurture_change_id, step_id, state, due_at, started_at,
    ended_at, done_steps, sweep_retry_at)
SELECT b.id, r.nurturetrack_id, b.sent_change_id, st.id, 'stopped', NULL, b.sent_at, b.back_at,
       coalesce((SELECT jsonb_agg(d.id ORDER BY d.position) FROM leads_nurturestep d
                 WHERE d.track_id = st.track_id AND d.position < st.position), '[]'::jsonb),
       NULL
FROM bench_back b
JOIN {reasons_table} r ON r.nurturereason_id = b.cause_id AND r.nurturetrack_id = ANY(%(tracks)s)
JOIN leads_nurturestep st ON st.track_id = r.nurturetrack_id AND st.position = 1 + (b.h_misc / 7) %% 3
WHERE b.h_track < 341
""",
    ),
]

FEEDBACK_SQL = [
    (
        "feedback",
        # ~5 % of all leads, written by the owner 5–55 minutes after arrival (before the
        # close); 35 % of those older than three days taken into work with a reply.
        """
INSERT INTO leads_feedback (lead_id, topic, text, author_id, created_at, state, taken_by_id, taken_at, reply,
    replied_at)
SELECT f.id, (%(topics)s::text[])[f.k], (%(texts)s::text[])[f.k], f.owner_id, f.at,
       CASE WHEN f.taken THEN 'taken' ELSE 'new' END,
       CASE WHEN f.taken THEN %(marketer)s::bigint END,
       CASE WHEN f.taken THEN f.at + make_interval(hours => 1 + (f.h %% 72)::int) END,
       CASE WHEN f.taken THEN (%(replies)s::text[])[f.k] ELSE '' END,
       CASE WHEN f.taken THEN f.at + make_interval(hours => 1 + (f.h %% 72)::int) END
FROM (
  SELECT l.id, l.owner_id, x.at, x.h, 1 + (x.h / 3) %% 20 AS k,
         x.at < %(now)s::timestamptz - interval '3 days' AND (hashint8extended(l.id, 32) & 1023) < 358 AS taken
  FROM leads_lead l
  CROSS JOIN LATERAL (
    SELECT least(l.created_at + make_interval(mins => 5 + ((hashint8extended(l.id, 31) & 1048575) %% 50)::int),
                 %(now)s::timestamptz) AS at,
           hashint8extended(l.id, 31) & 1048575 AS h
  ) x
  WHERE (hashint8extended(l.id, 30) & 1048575) < %(feedback_cut)s
) f
""",
    ),
]

DISPUTES_SQL = [
    (
        "disputed leads",
        # Every `every`-th lost lead (by id; duplicates are never disputed), with its
        # latest move into lost; the `open_n` most recently rejected are still open.
        """
CREATE TEMP TABLE bench_disputes AS
SELECT c.id, c.owner_id, c.rejection_reason_id, c.rejection_comment, lc.id AS change_id, lc.changed_at AS lost_at,
       coalesce(lc.from_stage_id, %(lead)s) AS back_to,
       coalesce(t.head_id, %(executive)s) AS head_id, coalesce(t.dispute_working_hours, 16) AS hours,
       row_number() OVER (ORDER BY lc.changed_at DESC, c.id DESC) AS recency,
       hashint8extended(c.id, 41) & 1048575 AS h
FROM (
  SELECT l.id, l.team_id, l.owner_id, l.rejection_reason_id, l.rejection_comment,
         row_number() OVER (ORDER BY l.id) AS rn
  FROM leads_lead l
  WHERE l.stage_id = ANY(%(lost_stages)s) AND l.rejection_reason_id IS DISTINCT FROM %(duplicate)s
) c
CROSS JOIN LATERAL (
  SELECT s.id, s.changed_at, s.from_stage_id FROM leads_stagechange s
  WHERE s.lead_id = c.id AND s.to_stage_id = ANY(%(lost_stages)s)
  ORDER BY s.changed_at DESC, s.id DESC LIMIT 1
) lc
LEFT JOIN revops_team t ON t.id = c.team_id
WHERE c.rn %% %(every)s = 0
""",
    ),
    (
        "disputes",
        # Open: opened over the last open_n × 20 minutes, reminded / escalated when their
        # times have passed. Decided (85 % upheld): opened 2–48 h after the rejection,
        # decided 1–24 h later by the head of the lead's team, so some after the deadline.
        """
INSERT INTO leads_rejectiondispute (lead_id, lost_change_id, rejection_reason_id, rejection_comment, comment,
    opened_by_id, opened_at, decide_by, remind_at, reminded_at, escalated_at, state, decided_by_id, decided_at,
    decision_comment)
SELECT d.id, d.change_id, d.rejection_reason_id, d.rejection_comment,
       (%(comments)s::text[])[1 + d.h %% %(nc)s], %(marketer)s, o.opened_at,
       o.opened_at + make_interval(hours => d.hours),
       o.opened_at + make_interval(secs => d.hours * 2700),
       CASE WHEN o.settled_at > o.opened_at + make_interval(secs => d.hours * 2700)
            THEN o.opened_at + make_interval(secs => d.hours * 2700) END,
       CASE WHEN o.settled_at > o.opened_at + make_interval(hours => d.hours)
            THEN o.opened_at + make_interval(hours => d.hours) END,
       o.state,
       CASE WHEN o.state <> 'open' THEN d.head_id END,
       CASE WHEN o.state <> 'open' THEN o.settled_at END,
       CASE o.state WHEN 'upheld' THEN 'Отказ обоснован: клиент подтвердил, что задачи нет'
                    WHEN 'overturned' THEN 'Берём в работу повторно' ELSE '' END
FROM bench_disputes d
CROSS JOIN LATERAL (
  SELECT CASE WHEN d.recency <= %(open_n)s THEN 'open' WHEN d.h %% 100 < 15 THEN 'overturned' ELSE 'upheld' END
           AS state,
         CASE WHEN d.recency <= %(open_n)s
              THEN greatest(d.lost_at + interval '10 minutes',
                            %(now)s::timestamptz - make_interval(mins => (d.recency * 20)::int))
              ELSE least(d.lost_at + make_interval(hours => 2 + (d.h %% 46)::int),
                         %(now)s::timestamptz - interval '2 minutes') END AS opened_at
) o0
CROSS JOIN LATERAL (
  SELECT o0.state, o0.opened_at,
         CASE WHEN o0.state = 'open' THEN %(now)s::timestamptz
              ELSE least(o0.opened_at + make_interval(hours => 1 + ((d.h / 101) %% 24)::int),
                         %(now)s::timestamptz - interval '1 minute') END AS settled_at
) o
""",
    ),
    (
        "  overturned",
        # The overturn reopened the lead (back to the stage it left, note dispute:<id>);
        # the owner rejected it again 1–5 days later, so it is lost today as before.
        """
INSERT INTO leads_stagechange (changed_at, note, changed_by_id, from_stage_id, lead_id, to_stage_id)
SELECT r.decided_at, 'dispute:' || r.id, r.decided_by_id, lc.to_stage_id, r.lead_id, b.back_to
FROM leads_rejectiondispute r JOIN leads_stagechange lc ON lc.id = r.lost_change_id
JOIN bench_disputes b ON b.id = r.lead_id
WHERE r.state = 'overturned'
UNION ALL
SELECT r.decided_at + least(make_interval(days => 1 + (r.id %% 5)::int), (%(now)s::timestamptz - r.decided_at) / 2),
       '', b.owner_id, b.back_to, r.lead_id, lc.to_stage_id
FROM leads_rejectiondispute r JOIN leads_stagechange lc ON lc.id = r.lost_change_id
JOIN bench_disputes b ON b.id = r.lead_id
WHERE r.state = 'overturned'
""",
    ),
    (
        "  their leads",
        """
UPDATE leads_lead l
SET closed_at = x.at, stage_changed_at = x.at
FROM (SELECT r.lead_id, r.decided_at + least(make_interval(days => 1 + (r.id %% 5)::int),
                                             (%(now)s::timestamptz - r.decided_at) / 2) AS at
      FROM leads_rejectiondispute r WHERE r.state = 'overturned') x
WHERE l.id = x.lead_id
""",
    ),
]

ISSUE15_TABLES = [
    "leads_lead",
    "leads_stagechange",
    "leads_nurturereturn",
    "leads_nurturetrack",
    "leads_nurturestep",
    "leads_trackenrollment",
    "leads_marketingtask",
    "leads_feedback",
    "leads_rejectiondispute",
]


def issue15_missing() -> dict:
    """Which of the three parts a database lacks (a --reuse-db may have them)."""
    from leads.models import Feedback, NurtureTrack, RejectionDispute

    return {
        "nurture": not NurtureTrack.objects.exists(),
        "feedback": not Feedback.objects.exists(),
        "disputes": not RejectionDispute.objects.exists(),
    }


def _issue15_reference(now):
    """The marketer (made if missing), the seeded nurture reasons' ids, and when the
    tracks were made (150 days ago)."""
    import datetime as dt

    from leads.models import NurtureReason
    from revops.models import User
    from revops.roles import Role

    marketer, _created = User.objects.get_or_create(
        username=ISSUE15_MARKETER,
        defaults={"email": "marketer@example.ru", "role": Role.MARKETER, "first_name": "Маркетолог"},
    )
    reasons = dict(NurtureReason.objects.values_list("code", "id"))
    missing = set(CAUSE_SLOTS) - set(reasons)
    if missing:
        raise RuntimeError(f"nurture reasons not seeded: {sorted(missing)}")
    return marketer, reasons, now - dt.timedelta(days=150)


def fill_issue15(parts: dict | None = None, log=print) -> dict:
    """Fill the rows of issue #15's pages over the leads build() made (see the SQL
    above for what and how much). `parts`: which of nurture / feedback / disputes
    (default: all); each part is one transaction."""
    from django.db import connection, transaction
    from django.utils import timezone

    from leads.choices import StageKind
    from leads.models import Lead, NurtureStep, NurtureTrack, RejectionReason, Stage
    from revops.models import Team, User
    from revops.roles import Role

    parts = parts or {"nurture": True, "feedback": True, "disputes": True}
    started = time.monotonic()
    now = timezone.now()
    marketer, reasons, tracks_since = _issue15_reference(now)
    stages = dict(Stage.objects.values_list("code", "id"))
    kinds = {}
    for pk, kind in Stage.objects.values_list("id", "kind"):
        kinds.setdefault(kind, []).append(pk)
    team = Team.objects.filter(calendar__isnull=False).select_related("calendar").order_by("id").first()
    executive = User.objects.filter(role=Role.EXECUTIVE).order_by("id").first()
    duplicate = RejectionReason.objects.filter(code="duplicate").values_list("id", flat=True).first()
    params = {
        "now": now,
        "today": timezone.localdate(now),
        "marketer": marketer.pk,
        "executive": executive.pk if executive else marketer.pk,
        "lead": stages["lead"],
        "nurture": stages["nurture"],
        "back_stages": kinds.get(StageKind.WON, []) + kinds.get(StageKind.LOST, []),
        "lost_stages": kinds.get(StageKind.LOST, []),
        "duplicate": duplicate,
        "calendar_zone": team.calendar.timezone if team else "UTC",
        "causes": [reasons[code] for code, n in CAUSE_SLOTS.items() for _ in range(n)],
        "tracks_since": tracks_since,
        "back_share": CAME_BACK_SHARE,
        "topics": [topic for topic, n, _t, _r in FEEDBACK_SLOTS for _ in range(n)],
        "texts": [text for _topic, n, text, _r in FEEDBACK_SLOTS for _ in range(n)],
        "replies": [reply for _topic, n, _t, reply in FEEDBACK_SLOTS for _ in range(n)],
        "comments": DISPUTE_COMMENTS,
        "nc": len(DISPUTE_COMMENTS),
    }
    total = Lead.objects.count()
    params["feedback_cut"] = round(FEEDBACK_PER_LEAD * 1048576)
    counts = {}

    def run(cursor, statements):
        for name, sql in statements:
            t = time.monotonic()
            cursor.execute(sql.format(reasons_table=NurtureTrack.reasons.through._meta.db_table), params)
            counts[name.strip()] = cursor.rowcount
            log(f"  {name:<22} {cursor.rowcount:>9,} rows in {time.monotonic() - t:5.1f} s")

    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        try:
            if parts.get("nurture"):
                with transaction.atomic():
                    track_ids = []
                    for name, codes, steps in TRACKS:
                        track = NurtureTrack.objects.create(
                            name=name, description="", created_by=marketer, created_at=tracks_since
                        )
                        track.reasons.set([reasons[code] for code in codes])
                        for position, (kind, subject, body, wait_days, task_text) in enumerate(steps, 1):
                            NurtureStep.objects.create(
                                track=track,
                                position=position,
                                kind=kind,
                                subject=subject,
                                body=body,
                                wait_days=wait_days,
                                task_text=task_text,
                            )
                        track_ids.append(track.pk)
                    params["tracks"] = track_ids
                    run(cursor, NURTURE_SQL)
                    cursor.execute("DROP TABLE bench_nurture, bench_back")
            if parts.get("feedback"):
                with transaction.atomic():
                    run(cursor, FEEDBACK_SQL)
            if parts.get("disputes"):
                cursor.execute(
                    "SELECT count(*) FROM leads_lead WHERE stage_id = ANY(%s) AND rejection_reason_id "
                    "IS DISTINCT FROM %s",
                    [params["lost_stages"], duplicate],
                )
                eligible = cursor.fetchone()[0]
                wanted = max(1, round(DISPUTES_PER_LEAD * total))
                params["every"] = max(1, eligible // wanted)
                params["open_n"] = max(1, round(OPEN_DISPUTES_SHARE * min(wanted, eligible)))
                with transaction.atomic():
                    run(cursor, DISPUTES_SQL)
                    cursor.execute("DROP TABLE bench_disputes")
        finally:
            cursor.execute("SET synchronous_commit = on")
        t = time.monotonic()
        for table in ISSUE15_TABLES:  # autocommit: VACUUM cannot run in a transaction
            cursor.execute(f"VACUUM ANALYZE {table}")
        log(f"  VACUUM ANALYZE of {len(ISSUE15_TABLES)} tables: {time.monotonic() - t:.1f} s")
    counts["seconds"] = time.monotonic() - started
    return counts


# What each of issue #15's pages lists, thinned inside a rolled-back transaction to see
# whether its query count follows the rows: half of them, then about 1 in 16 (a hash of
# the id, so every team, reason and state keeps some). Foreign keys are deferred (Django
# makes them DEFERRABLE INITIALLY DEFERRED) and the transaction never commits, so a
# lead can go without its history.
HALF = "(hashint8extended(id, 77) & 1) = 1"  # the few kept below are among the other half
ALL_BUT_FEW = "(hashint8extended(id, 77) & 15) <> 0"
THIN = {
    "nurture": (
        "leads in nurture",
        f"DELETE FROM leads_lead WHERE stage_id = %(nurture)s AND {HALF}",
        f"DELETE FROM leads_lead WHERE stage_id = %(nurture)s AND {ALL_BUT_FEW}",
    ),
    "tracks": (
        "enrollments, then also all tracks but one",
        f"DELETE FROM leads_trackenrollment WHERE {HALF}",
        "DELETE FROM leads_nurturetrack WHERE id <> (SELECT min(id) FROM leads_nurturetrack)",
    ),
    "tasks": (
        "open marketing tasks",
        f"DELETE FROM leads_marketingtask WHERE done_at IS NULL AND {HALF}",
        f"DELETE FROM leads_marketingtask WHERE done_at IS NULL AND {ALL_BUT_FEW}",
    ),
    "feedback": (
        "feedback rows",
        f"DELETE FROM leads_feedback WHERE {HALF}",
        f"DELETE FROM leads_feedback WHERE {ALL_BUT_FEW}",
    ),
    "disputes": (
        "disputes",
        f"DELETE FROM leads_rejectiondispute WHERE {HALF}",
        f"DELETE FROM leads_rejectiondispute WHERE {ALL_BUT_FEW}",
    ),
}


def count_queries(client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}")
    return len(ctx.captured_queries)


def thinned_counts(pages: list, thin_of: dict) -> list[tuple]:
    """(name, what was thinned, queries with all rows, with half, with ~1/16) per page."""
    from django.test.utils import override_settings

    from leads.models import Stage
    from revops import refcache

    params = {"nurture": Stage.objects.get(code="nurture").pk}
    listed = [(name, client, url) for name, client, url in pages if name in thin_of]
    rows = []
    # The per-process reference cache (stages, …) lives 5 s, less than one request of a
    # slow page: its refills would come and go between the counts. Here it lives an hour,
    # filled by a request of each page before the counts.
    with override_settings(REFERENCE_CACHE_SECONDS=3600):
        refcache.clear()
        for _name, client, url in listed:
            client.get(url)
        for key, (what, halve, few) in THIN.items():
            group = [(name, client, url) for name, client, url in listed if thin_of[name] == key]
            if group:
                rows.extend(_thinned(group, what, halve, few, params))
    return rows


def _thinned(group: list, what: str, halve: str, few: str, params: dict) -> list[tuple]:
    """The group's query counts with all rows, after `halve`, after `few`; rolled back."""
    from django.db import connection, transaction

    with transaction.atomic():
        counts = {name: [count_queries(client, url)] for name, client, url in group}
        for sql in (halve, few):
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
            for name, client, url in group:
                counts[name].append(count_queries(client, url))
        transaction.set_rollback(True)
    return [(name, what, *counts[name]) for name, _c, _u in group]


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--open-per-rep", type=int, default=300)
    parser.add_argument("--reps", type=int, default=40)
    parser.add_argument("--requests", type=int, default=20, help="timed requests per page")
    parser.add_argument(
        "--budget",
        type=float,
        default=30,
        help="seconds of timed requests per page after which a slow page stops early (at least 5)",
    )
    parser.add_argument(
        "--explain", action="store_true", help="print EXPLAIN ANALYZE of each page's slowest query"
    )
    parser.add_argument(
        "--only-issue15", action="store_true", help="measure issue #15's pages only (and the baselines)"
    )
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument(
        "--reuse-db",
        metavar="NAME",
        help="measure an existing database built by bench.sla --keep-db (or this script's --keep-db); "
        "nothing is dropped, and issue #15's rows are added only if missing",
    )
    args = parser.parse_args(argv)

    common.print_machine()
    workdir = Path(tempfile.mkdtemp(prefix="revops-bench-pages-"))
    db = None
    try:
        if args.reuse_db:
            common.django_setup(common.base_env(args.reuse_db, REVOPS_DATA_DIR=workdir))
            missing = issue15_missing()
            if any(missing.values()):
                print(
                    f"adding issue #15's rows ({', '.join(k for k, v in missing.items() if v)}) …", flush=True
                )
                filled = fill_issue15(missing)
                print(f"  added in {filled['seconds']:.1f} s", flush=True)
            # An earlier run's rolled-back thinning (below) leaves the visibility map
            # cleared on the pages it touched, so index-only counts read the heap
            # (/nurture/'s count 26 → 300 ms) until a VACUUM, which autovacuum does
            # in production: do it now, as build() does for a fresh database.
            started = time.monotonic()
            vacuum_analyze()
            print(f"  VACUUM ANALYZE: {time.monotonic() - started:.1f} s", flush=True)
        else:
            db, _env = prepare_database("revops_bench_pages", REVOPS_DATA_DIR=workdir)
            open_leads = args.open_per_rep * args.reps
            print(f"building {args.leads:,} leads ({open_leads:,} open over {args.reps} reps) …", flush=True)
            data = build(
                leads=args.leads, running=open_leads * 5 // 6, open_leads=open_leads, reps=args.reps, teams=2
            )
            print(f"  built in {data.seconds:.1f} s", flush=True)
            print("adding issue #15's rows (nurture, tracks, feedback, disputes) …", flush=True)
            filled = fill_issue15()
            print(f"  added in {filled['seconds']:.1f} s", flush=True)

        import datetime as dt

        from django.test import Client
        from django.utils import timezone

        from leads.models import (
            Feedback,
            Lead,
            MarketingTask,
            NurtureReturn,
            NurtureTrack,
            RejectionDispute,
            TrackEnrollment,
        )
        from revops.models import User

        rep = User.objects.get(username="bench_rep1")
        head = User.objects.get(pk=rep.team.head_id)
        ceo = User.objects.get(username="bench_ceo")
        marketer = _issue15_reference(timezone.now())[0]
        total_leads = Lead.objects.count()
        open_count = Lead.objects.filter(owner=rep, stage__kind="open").count()
        all_count = Lead.objects.filter(owner=rep).count()
        card = Lead.objects.filter(owner=rep, stage__kind="open").order_by("-created_at").first()
        print(f"rep {rep.username}: {open_count} open leads, {all_count:,} in all; team head {head.username}")
        volumes = {
            "in nurture": Lead.objects.filter(stage__kind="nurture").count(),
            "with a reason": Lead.objects.filter(stage__kind="nurture", nurture_cause__isnull=False).count(),
            "returns pending": NurtureReturn.objects.filter(state="pending").count(),
            "returns done": NurtureReturn.objects.filter(state="done").count(),
            "on a track": TrackEnrollment.objects.filter(state="active").count(),
            "enrollments": TrackEnrollment.objects.count(),
            "open tasks": MarketingTask.objects.filter(done_at__isnull=True).count(),
            "feedback": Feedback.objects.count(),
            "taken": Feedback.objects.filter(state="taken").count(),
            "disputes": RejectionDispute.objects.count(),
            "open disputes": RejectionDispute.objects.filter(state="open").count(),
        }
        print("issue #15's rows: " + ", ".join(f"{k} {v:,}" for k, v in volumes.items()))

        clients = {}
        for user in (rep, head, ceo, marketer):
            clients[user.username] = Client()
            clients[user.username].force_login(user)
        anonymous = Client()
        first_track = NurtureTrack.objects.order_by("id").first()
        year_ago = timezone.localdate() - dt.timedelta(days=365)
        core = [
            ("/queue/ (rep)", clients[rep.username], "/queue/"),
            ("lead card (rep)", clients[rep.username], f"/leads/{card.pk}/"),
            ("/team/ (head)", clients[head.username], "/team/"),
            ("/leads/ (rep)", clients[rep.username], "/leads/"),
            ("/leads/ (head)", clients[head.username], "/leads/"),
            ("/leads/ (executive)", clients[ceo.username], "/leads/"),
        ]
        mk, ex, hd = clients[marketer.username], clients[ceo.username], clients[head.username]
        # Issue #15's pages (company-wide for marketing and the executive), with the
        # table each lists (for the query-count check).
        issue15 = [
            ("/nurture/ (executive)", ex, "/nurture/", "nurture"),
            ("/nurture/ (marketer)", mk, "/nurture/", "nurture"),
            ("/nurture/ (head)", hd, "/nurture/", "nurture"),
            ("/nurture/?this_week (mkt)", mk, "/nurture/?this_week=on", "nurture"),
            ("/nurture/?track (mkt)", mk, f"/nurture/?track={first_track.pk}", "nurture"),
            ("/nurture/?reason (mkt)", mk, "/nurture/?reason=no_budget", "nurture"),
            (
                "/nurture/ a year's returns (mkt)",
                mk,
                f"/nurture/?date_from={year_ago.isoformat()}",
                "nurture",
            ),
            ("/nurture/tracks/ (marketer)", mk, "/nurture/tracks/", "tracks"),
            ("/nurture/tasks/ (marketer)", mk, "/nurture/tasks/", "tasks"),
            ("/feedback/ (marketer)", mk, "/feedback/", "feedback"),
            ("/feedback/ (executive)", ex, "/feedback/", "feedback"),
            ("/feedback/?state=new (mkt)", mk, "/feedback/?state=new", "feedback"),
            ("/disputes/ (head)", hd, "/disputes/", "disputes"),
            ("/disputes/ (executive)", ex, "/disputes/", "disputes"),
            ("/disputes/?state=open (head)", hd, "/disputes/?state=open", "disputes"),
        ]
        thin_of = {name: key for name, _c, _u, key in issue15}
        pages = [
            ("baseline: /healthz", anonymous, "/healthz"),
            ("baseline: /login/", anonymous, "/login/"),
            *([] if args.only_issue15 else core),
            *[(name, client, url) for name, client, url, _key in issue15],
        ]
        core_pages = [] if args.only_issue15 else pages[2 : 2 + len(core)]
        results = []
        for name, client, url in pages:
            result = measure(client, url, args.requests, budget=args.budget)
            result["name"] = name
            results.append(result)
            print(
                f"  {name:<32} median {common.median(result['times']) * 1000:8.1f} ms  "
                f"({result['queries']} queries)",
                flush=True,
            )

        # What-if, not the app as configured: the core pages with PostgreSQL's JIT off for
        # this session (see README: the planner's misestimate makes JIT compile these queries).
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SET jit = off")
        try:
            for name, client, url in core_pages:
                result = measure(client, url, args.requests)
                result["name"] = f"{name}, jit=off"
                results.append(result)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET jit")

        whatif = what_if(rep, head, args.requests) if core_pages else {}
        print("query counts with fewer rows (inside a rolled-back transaction) …", flush=True)
        thinned = thinned_counts(pages, thin_of)

        base = common.median(results[0]["times"])
        executive_leads = next((r for r in results if r["name"] == "/leads/ (executive)"), None)
        print("\n=== page benchmark ===")
        print(
            f"data: {total_leads:,} leads; rep with {open_count} open / {all_count:,} total leads; "
            f"median of {args.requests} requests, in-process test Client, DEBUG=0"
        )
        print("issue #15's rows: " + ", ".join(f"{k} {v:,}" for k, v in volumes.items()))
        print(
            f"{'page':<36} {'median':>10} {'p95':>10} {'queries':>8} {'db time':>10} {'slowest q':>10} "
            f"{'× healthz':>10} {'n':>3}"
        )
        for r in results:
            med = common.median(r["times"])
            print(
                f"{r['name']:<36} {med * 1000:8.1f}ms {common.percentile(r['times'], 95) * 1000:8.1f}ms "
                f"{r['queries']:>8} {r['db_seconds'] * 1000:8.1f}ms {r['slowest'][0] * 1000:8.1f}ms "
                f"{med / base:9.1f}× {len(r['times']):>3}"
            )
        if whatif:
            print("the board's open-lead count alone, before and after finding 2 (median, ms):")
            for label, (as_is, fixed) in whatif.items():
                print(
                    f"  {label:<44} join on stage kind (before) {as_is * 1000:8.1f}   "
                    f"stage_id IN (open ids, now) {fixed * 1000:8.1f}"
                )
        queue = next((r for r in results if r["name"] == "/queue/ (rep)"), None)
        if queue:
            queue_med = common.median(queue["times"])
            print(
                f"target /queue/ ≤ {QUEUE_TARGET * 1000:.0f} ms: {common.verdict(queue_med <= QUEUE_TARGET)} "
                f"({queue_med * 1000:.0f} ms)"
            )
        print("query counts of issue #15's pages with all rows / half of them / ~1 in 16 (rolled back):")
        for name, what, full, half, few in thinned:
            verdict = "constant" if full == half == few else "CHANGES"
            print(f"  {name:<36} {full:>4} / {half:>4} / {few:>4}  {verdict:<9} (thinned: {what})")
        if executive_leads:
            ref = common.median(executive_leads["times"])
            slow = [
                r["name"]
                for r in results[2 : len(pages)]
                if r["name"] in thin_of
                and (common.median(r["times"]) > 0.5 or common.median(r["times"]) > 2 * ref)
            ]
            print(
                "issue #15's pages over 500 ms or over 2× /leads/ (executive): " + (", ".join(slow) or "none")
            )
        print(f"during the run: {common.load()}")
        for r in results[2 : len(pages)]:
            seconds, sql = r["slowest"]
            where = sql.find(" FROM ")
            shown = ("SELECT … " + sql[where:]) if where > 0 else sql
            print(f"\nslowest query of {r['name']} ({seconds * 1000:.1f} ms):\n    {shown[:700]}")
            if args.explain and sql.lstrip().upper().startswith("SELECT"):
                print(explain(sql))
        return 0
    finally:
        common.release(db, args.keep_db, workdir)


if __name__ == "__main__":
    sys.exit(main())
