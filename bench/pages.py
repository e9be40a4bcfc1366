"""Server time and query counts of the main pages with 1,000,000 leads in
PostgreSQL (built by bench/sla.py's `build()`): one rep owns ~300 open leads
(and ~25,000 closed ones). Pages are requested in-process with Django's test
Client (force_login, DEBUG=0); each figure is the median of --requests requests
after a warm-up. Baseline in the same run: GET /healthz (4 small queries) and
the login page (a template, no queries).

    .venv/bin/python -m bench.pages [--leads 1000000] [--requests 20]
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` importable, unshadow the apps
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench import common
from bench.sla import build, prepare_database

QUEUE_TARGET = 0.100


def measure(client, url: str, requests: int, warmup: int = 2) -> dict:
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
    slowest = max(queries, key=lambda q: float(q["time"]), default=None)
    return {
        "url": url,
        "times": times,
        "queries": len(queries),
        "db_seconds": sum(float(q["time"]) for q in queries),
        "slowest": (float(slowest["time"]), slowest["sql"]) if slowest else (0.0, ""),
        "bytes": len(response.content),
    }


PLAN_KEEP = ("Scan", "Join", "Loop", "Sort", "Aggregate", "Execution", "Planning Time", "JIT", "Timing:")


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


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--open-per-rep", type=int, default=300)
    parser.add_argument("--reps", type=int, default=40)
    parser.add_argument("--requests", type=int, default=20, help="timed requests per page")
    parser.add_argument(
        "--explain", action="store_true", help="print EXPLAIN ANALYZE of each page's slowest query"
    )
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument(
        "--reuse-db",
        metavar="NAME",
        help="measure an existing database built by bench.sla --keep-db (or this script's --keep-db); "
        "nothing is built or dropped",
    )
    args = parser.parse_args(argv)

    common.print_machine()
    workdir = Path(tempfile.mkdtemp(prefix="revops-bench-pages-"))
    db = None
    try:
        if args.reuse_db:
            common.django_setup(common.base_env(args.reuse_db, REVOPS_DATA_DIR=workdir))
        else:
            db, _env = prepare_database("revops_bench_pages", REVOPS_DATA_DIR=workdir)
            open_leads = args.open_per_rep * args.reps
            print(f"building {args.leads:,} leads ({open_leads:,} open over {args.reps} reps) …", flush=True)
            data = build(
                leads=args.leads, running=open_leads * 5 // 6, open_leads=open_leads, reps=args.reps, teams=2
            )
            print(f"  built in {data.seconds:.1f} s", flush=True)

        from django.test import Client

        from leads.models import Lead
        from revops.models import User

        rep = User.objects.get(username="bench_rep1")
        head = User.objects.get(pk=rep.team.head_id)
        ceo = User.objects.get(username="bench_ceo")
        total_leads = Lead.objects.count()
        open_count = Lead.objects.filter(owner=rep, stage__kind="open").count()
        all_count = Lead.objects.filter(owner=rep).count()
        card = Lead.objects.filter(owner=rep, stage__kind="open").order_by("-created_at").first()
        print(f"rep {rep.username}: {open_count} open leads, {all_count:,} in all; team head {head.username}")

        clients = {}
        for user in (rep, head, ceo):
            clients[user.username] = Client()
            clients[user.username].force_login(user)
        anonymous = Client()
        pages = [
            ("baseline: /healthz", anonymous, "/healthz"),
            ("baseline: /login/", anonymous, "/login/"),
            ("/queue/ (rep)", clients[rep.username], "/queue/"),
            ("lead card (rep)", clients[rep.username], f"/leads/{card.pk}/"),
            ("/team/ (head)", clients[head.username], "/team/"),
            ("/leads/ (rep)", clients[rep.username], "/leads/"),
            ("/leads/ (head)", clients[head.username], "/leads/"),
            ("/leads/ (executive)", clients[ceo.username], "/leads/"),
            # Issue #15's pages (company-wide for the executive).
            ("/nurture/ (executive)", clients[ceo.username], "/nurture/"),
            ("/feedback/ (executive)", clients[ceo.username], "/feedback/"),
            ("/disputes/ (executive)", clients[ceo.username], "/disputes/"),
        ]
        results = []
        for name, client, url in pages:
            result = measure(client, url, args.requests)
            result["name"] = name
            results.append(result)
            print(
                f"  {name:<22} median {common.median(result['times']) * 1000:8.1f} ms  "
                f"({result['queries']} queries)",
                flush=True,
            )

        # What-if, not the app as configured: the same pages with PostgreSQL's JIT off for
        # this session (see README: the planner's misestimate makes JIT compile these queries).
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SET jit = off")
        try:
            for name, client, url in pages[2:]:
                result = measure(client, url, args.requests)
                result["name"] = f"{name}, jit=off"
                results.append(result)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET jit")

        whatif = what_if(rep, head, args.requests)

        base = common.median(results[0]["times"])
        print("\n=== page benchmark ===")
        print(
            f"data: {total_leads:,} leads; rep with {open_count} open / {all_count:,} total leads; "
            f"median of {args.requests} requests, in-process test Client, DEBUG=0"
        )
        print(
            f"{'page':<30} {'median':>10} {'p95':>10} {'queries':>8} {'db time':>10} {'slowest q':>10} "
            f"{'× healthz':>10}"
        )
        for r in results:
            med = common.median(r["times"])
            print(
                f"{r['name']:<30} {med * 1000:8.1f}ms {common.percentile(r['times'], 95) * 1000:8.1f}ms "
                f"{r['queries']:>8} {r['db_seconds'] * 1000:8.1f}ms {r['slowest'][0] * 1000:8.1f}ms "
                f"{med / base:9.1f}×"
            )
        print("the board's open-lead count alone, before and after finding 2 (median, ms):")
        for label, (as_is, fixed) in whatif.items():
            print(
                f"  {label:<44} join on stage kind (before) {as_is * 1000:8.1f}   "
                f"stage_id IN (open ids, now) {fixed * 1000:8.1f}"
            )
        queue = common.median(results[2]["times"])
        print(
            f"target /queue/ ≤ {QUEUE_TARGET * 1000:.0f} ms: {common.verdict(queue <= QUEUE_TARGET)} ({queue * 1000:.0f} ms)"
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
