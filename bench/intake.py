"""Intake throughput: POST /api/v1/intake/ under N concurrent clients, served by
gunicorn against a fresh PostgreSQL database, with distribution and the SLA
clock running as in production (a team on a 24/7 calendar with one rep).

Baseline, in the same run and through the same gunicorn: POST /bench/baseline/,
a plain Django view that parses the same JSON and does one INSERT
(bench/baseline_urls.py). Printed: requests/s, p50/p95/p99 latency, errors,
the database check (leads == 201 answers), the ratio intake/baseline and the
SQL statements one intake request runs. Targets (issue #13): ≥ 40 leads/s with
8 clients and p99 ≤ 300 ms.

    .venv/bin/python -m bench.intake [--concurrency 8] [--duration 20] [--workers 3]
"""

import argparse
import http.client
import itertools
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` importable, unshadow the apps
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench import common

INTAKE_PATH = "/api/v1/intake/"
BASELINE_PATH = "/bench/baseline/"
PHONE_BASE = 9_161_000_000  # +7 916 100-00-00 onwards: valid Russian mobiles, one per request


@dataclass
class Phase:
    name: str
    expected: int
    latencies: list = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    exceptions: Counter = field(default_factory=Counter)
    elapsed: float = 0.0

    @property
    def ok(self) -> int:
        return self.statuses[self.expected]

    @property
    def total(self) -> int:
        return sum(self.statuses.values()) + sum(self.exceptions.values())

    @property
    def errors(self) -> int:
        return self.total - self.ok

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0

    def line(self) -> str:
        lat = self.latencies
        bad = dict(self.statuses - Counter({self.expected: self.ok})) | dict(self.exceptions)
        return (
            f"{self.name:<9} {self.rate:8.1f} req/s   p50 {common.percentile(lat, 50) * 1000:7.1f} ms   "
            f"p95 {common.percentile(lat, 95) * 1000:7.1f} ms   p99 {common.percentile(lat, 99) * 1000:7.1f} ms"
            f"   {self.ok} × {self.expected} in {self.elapsed:.1f} s, errors {self.errors}"
            + (f" {bad}" if bad else "")
        )


def intake_body(n: int) -> bytes:
    return json.dumps(
        {
            "name": f"Нагрузочный Тест {n}",
            "phone": f"+7{PHONE_BASE + n}",
            "company": "ООО «Бенчмарк»",
            "product": "crm",
            "comment": "Нужна CRM на 20 менеджеров",
            "utm_source": "yandex",
            "utm_medium": "cpc",
            "utm_campaign": "bench",
            "landing_page": "https://example.ru/crm",
            "channel": "form",
            "consent": True,
            "consent_text": "v1",
        },
        ensure_ascii=False,
    ).encode()


def drive(
    port: int, path: str, headers: dict, phase: Phase, numbers, concurrency: int, duration: float, limit
):
    """`concurrency` threads, each on its own keep-alive connection (gunicorn's
    sync workers close it after every answer; http.client then reconnects),
    POSTing until `duration` seconds pass or `limit` requests were sent."""
    lock = threading.Lock()
    tickets = itertools.count()
    start = threading.Barrier(concurrency + 1)
    headers = {"Content-Type": "application/json", **headers}

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        latencies, statuses, exceptions = [], Counter(), Counter()
        start.wait()
        while time.monotonic() < deadline:
            if limit is not None and next(tickets) >= limit:
                break
            body = intake_body(next(numbers))
            began = time.perf_counter()
            try:
                conn.request("POST", path, body, headers)
                response = conn.getresponse()
                response.read()
            except Exception as exc:
                exceptions[exc.__class__.__name__] += 1
                conn.close()
                continue
            latencies.append(time.perf_counter() - began)
            statuses[response.status] += 1
        conn.close()
        with lock:
            phase.latencies += latencies
            phase.statuses.update(statuses)
            phase.exceptions.update(exceptions)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    began = time.monotonic()  # the threads read `deadline` only after the barrier
    deadline = began + duration
    start.wait()
    for t in threads:
        t.join()
    phase.elapsed = time.monotonic() - began
    return phase


def create_fixtures(reps: int = 1, daily_cap: int | None = None) -> str:
    """A source with an unlimited key, and a team on a 24/7 calendar with a head
    and one rep (so every lead is assigned and gets a running timer)."""
    import datetime as dt

    from django.db import connection

    from bench.baseline_urls import TABLE_SQL
    from leads.intake_keys import create_key
    from leads.models import Source
    from revops.models import Team, User
    from revops.roles import Role
    from sla.models import BusinessCalendar, WorkingHours

    calendar = BusinessCalendar.objects.create(
        code="bench-24x7", name="24/7", timezone="UTC", holiday_country=""
    )
    for weekday in range(7):
        WorkingHours.objects.create(calendar=calendar, weekday=weekday, opens=dt.time(0), closes=dt.time(0))
    team = Team.objects.create(code="bench", name="Bench team", calendar=calendar, daily_cap=daily_cap)
    head = User.objects.create_user("bench_head", "head@example.ru", "x", role=Role.SALES_HEAD, team=team)
    team.head = head
    team.save()
    for k in range(reps):
        name = "bench_rep" if k == 0 else f"bench_rep{k + 1}"
        User.objects.create_user(name, f"{name}@example.ru", "x", role=Role.REP, team=team)
    source = Source.objects.create(code="bench-site", name="Bench site")
    _key, raw = create_key(source, name="bench", rate_limit_per_minute=None)
    with connection.cursor() as cursor:
        cursor.execute(TABLE_SQL)
    return raw


def queries_per_intake(raw_key: str, n: int) -> int:
    """How many SQL statements one intake request runs (in-process, for the report)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    # One request first: the steady state has its reference tables cached.
    client.post(
        INTAKE_PATH, intake_body(n + 500_000), content_type="application/json", HTTP_X_INTAKE_KEY=raw_key
    )
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(
            INTAKE_PATH, intake_body(n), content_type="application/json", HTTP_X_INTAKE_KEY=raw_key
        )
    assert response.status_code == 201, response.content
    return len(ctx.captured_queries)


def verify(intake_ok: int, baseline_ok: int) -> list[str]:
    from django.db import connection

    from leads.models import Assignment, Contact, Lead
    from sla.models import SlaTimer

    problems = []
    leads = Lead.objects.count()
    checks = {
        "leads": leads,
        "contacts": Contact.objects.count(),
        "running first-contact timers": SlaTimer.objects.filter(
            state="running", kind="first_contact"
        ).count(),
        "assignments to the reps": Assignment.objects.filter(
            to_owner__username__startswith="bench_rep"
        ).count(),
        "leads without owner": Lead.objects.filter(owner__isnull=True).count(),
    }
    inherited = Assignment.objects.filter(sla_left_seconds__isnull=False).count()
    print(f"  (assignments with sla_left_seconds set: {inherited} of {checks['assignments to the reps']})")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM bench_baseline")
        baseline_rows = cursor.fetchone()[0]
    for name, value in checks.items():
        want = 0 if name == "leads without owner" else intake_ok
        flag = "ok" if value == want else "MISMATCH"
        print(f"  {name:<30} {value:>8}  (expected {want}) {flag}")
        if value != want:
            problems.append(name)
    flag = "ok" if baseline_rows == baseline_ok else "MISMATCH"
    print(f"  {'baseline rows':<30} {baseline_rows:>8}  (expected {baseline_ok}) {flag}")
    if baseline_rows != baseline_ok:
        problems.append("baseline rows")
    return problems


def start_gunicorn(env: dict, port: int, args, log: Path) -> subprocess.Popen:
    command = [
        str(common.BIN / "gunicorn"),
        "config.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(args.workers),
        "--worker-class",
        args.worker_class,
        "--backlog",
        "2048",
        "--timeout",
        "60",
        "--error-logfile",
        str(log),
        "--chdir",
        str(common.ROOT),
    ]
    if args.worker_class == "gthread":
        command += ["--threads", str(args.threads)]
    process = subprocess.Popen(
        command, cwd=common.ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip

    def ready():
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited; see {log}:\n{log.read_text()[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            return conn.getresponse().status == 200
        except OSError:
            return False

    common.wait_for(ready, 60, 0.2, "gunicorn")
    return process


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients (threads)")
    parser.add_argument("--duration", type=float, default=20, help="seconds per measured phase")
    parser.add_argument("--requests", type=int, default=None, help="stop a phase after this many requests")
    parser.add_argument(
        "--warmup", type=float, default=3, help="seconds of warm-up per endpoint (not measured)"
    )
    parser.add_argument("--rounds", type=int, default=1, help="baseline/intake pairs, alternating")
    parser.add_argument(
        "--scaling",
        type=lambda v: [int(x) for x in v.split(",") if x],
        default=[1],
        help="also run short phases at these client counts, e.g. 1,2,4 ('' for none)",
    )
    parser.add_argument("--scaling-duration", type=float, default=6, help="seconds per scaling phase")
    parser.add_argument("--reps", type=int, default=1, help="reps in the team (round-robin between them)")
    parser.add_argument(
        "--daily-cap",
        type=int,
        default=None,
        help="the team's daily cap per rep (capped picks run one at a time; make it large enough)",
    )
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--worker-class", default="sync", choices=["sync", "gthread"])
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    parser.add_argument(
        "--no-redis", action="store_true", help="no private redis: cache is per-process locmem"
    )
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database at the end")
    args = parser.parse_args(argv)

    common.print_machine()
    db = common.unique_db_name("revops_bench_intake")
    workdir = Path(tempfile.mkdtemp(prefix="revops-bench-intake-"))
    redis = gunicorn = None
    try:
        common.create_database(db)
        if not args.no_redis:
            redis = common.RedisServer(workdir).start()
        env = common.base_env(
            db,
            ALLOWED_HOSTS="127.0.0.1",
            REVOPS_DATA_DIR=workdir,
            REDIS_URL=redis.url if redis else None,
            # Every request comes from 127.0.0.1: lift the per-address limit (the
            # bench key itself is unlimited), so the numbers are the app's, not the limiter's.
            INTAKE_RATE_LIMIT_PER_IP=10**9,
        )
        print(f"database {db}: migrating …", flush=True)
        print(f"  migrated in {common.migrate(env):.1f} s")
        common.django_setup(env)
        raw_key = create_fixtures(args.reps, args.daily_cap)
        common.close_django_connections()

        port = common.free_port()
        server_env = {**env, "DJANGO_SETTINGS_MODULE": "bench.settings"}
        gunicorn = start_gunicorn(server_env, port, args, workdir / "gunicorn.log")
        desc = f"{args.workers} × {args.worker_class}" + (
            f" ({args.threads} threads)" if args.worker_class == "gthread" else ""
        )
        print(
            f"gunicorn {desc} on 127.0.0.1:{port}; cache/broker: {'private redis' if redis else 'locmem'}; "
            f"{args.concurrency} client threads in this process"
        )

        numbers = itertools.count()
        intake_headers = {"X-Intake-Key": raw_key}
        ok = {"intake": 0, "baseline": 0}
        measured = {"intake": [], "baseline": []}
        plan = [("baseline", BASELINE_PATH, {}, 201), ("intake", INTAKE_PATH, intake_headers, 201)]
        for name, path, headers, expected in plan:
            warm = drive(
                port, path, headers, Phase(name, expected), numbers, args.concurrency, args.warmup, None
            )
            ok[name] += warm.ok
            if warm.errors:
                print(f"  warm-up {name}: {warm.errors} errors {dict(warm.statuses)} {dict(warm.exceptions)}")
        scaling = []  # (concurrency, baseline phase, intake phase): does throughput grow with clients?
        for level in args.scaling:
            pair = []
            for name, path, headers, expected in plan:
                phase = drive(
                    port, path, headers, Phase(name, expected), numbers, level, args.scaling_duration, None
                )
                ok[name] += phase.ok
                pair.append(phase)
            scaling.append((level, *pair))
            print(
                f"  scaling, {level} client(s): baseline {pair[0].rate:6.1f}/s, intake {pair[1].rate:6.1f}/s",
                flush=True,
            )
        samplers = {"intake": [], "baseline": []}
        for _round in range(args.rounds):
            for name, path, headers, expected in plan:
                sampler = common.LockSampler(db)
                samplers[name].append(sampler)
                with sampler:
                    phase = drive(
                        port, path, headers, Phase(name, expected), numbers, args.concurrency, args.duration,
                        args.requests,
                    )  # fmt: skip
                ok[name] += phase.ok
                measured[name].append(phase)
                print("  " + phase.line(), flush=True)

        common.stop_process(gunicorn)
        gunicorn = None

        def merged(name):
            total = Phase(name, 201)
            for p in measured[name]:
                total.latencies += p.latencies
                total.statuses.update(p.statuses)
                total.exceptions.update(p.exceptions)
                total.elapsed += p.elapsed
            return total

        intake, baseline = merged("intake"), merged("baseline")
        print("\ndatabase check (warm-up included):")
        problems = verify(ok["intake"], ok["baseline"])
        queries = queries_per_intake(raw_key, next(numbers))
        ratio = intake.rate / baseline.rate if baseline.rate else 0.0
        p50_ratio = (
            common.percentile(baseline.latencies, 50) / common.percentile(intake.latencies, 50)
            if intake.latencies
            else 0.0
        )

        print("\n=== intake benchmark ===")
        print(f"server: gunicorn {desc}, DEBUG=0, PostgreSQL, {args.concurrency} concurrent clients")
        print(intake.line())
        print(baseline.line())
        print(
            f"intake / baseline throughput ratio: {ratio:.2f}   (latency p50 ratio baseline/intake {p50_ratio:.2f})"
        )
        print(f"SQL statements per intake request: {queries}")
        if scaling:
            print("throughput by number of clients (req/s):")
            rows = [(level, b.rate, i.rate) for level, b, i in scaling]
            rows.append((args.concurrency, baseline.rate, intake.rate))
            for level, b_rate, i_rate in sorted(rows):
                print(f"  {level:>3} client(s): baseline {b_rate:7.1f}   intake {i_rate:7.1f}")
        for name in ("intake", "baseline"):
            for sampler in samplers[name]:
                for line in sampler.report():
                    print(f"{name} PostgreSQL: {line}")
        print(f"during the run: {common.load()} (other work on the machine counts too)")
        # Issue #13: a 50-rep company's campaign peak is under 2 leads/s; the
        # target leaves a wide margin on this 2-core machine with the plain
        # ORM path. The ratio is reported, not targeted.
        p99 = common.percentile(intake.latencies, 99) * 1000 if intake.latencies else float("inf")
        print(f"target ≥ 40 leads/s: {common.verdict(intake.rate >= 40)} ({intake.rate:.0f}/s)")
        print(f"target p99 ≤ 300 ms: {common.verdict(p99 <= 300)} ({p99:.0f} ms)")
        print(f"target zero errors: {common.verdict(intake.errors == 0 and baseline.errors == 0)}")
        print(
            f"database rows == 201 answers: {common.verdict(not problems)}"
            + (f" {problems}" if problems else "")
        )
        return 0 if not problems else 1
    finally:
        common.stop_process(gunicorn)
        common.close_django_connections()
        if redis:
            redis.stop()
        if not args.keep_db:
            common.drop_database(db)
        else:
            print(f"kept database {db}")
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
