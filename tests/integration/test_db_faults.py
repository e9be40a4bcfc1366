"""PostgreSQL restarted under load, for real: a cluster of the test's own (the
shared server is never stopped), gunicorn with three workers taking keyed intake
requests at a steady rate, and a Celery worker with its beat sweeping every
second on a 24/7 calendar. PostgreSQL stops for a few seconds and starts again.

While it is down every request answers 503 with Retry-After (JSON for the API,
a short page for the rest), never 500, and /healthz says 503; clients retry with
the same Idempotency-Key. After it is back the web and the worker carry on by
themselves: every request ends with one 201 and one lead, every timer breaches
once, and every breach is notified once per person and channel.

The cluster comes from the PostgreSQL server binaries (initdb, pg_ctl); as root
they run as the `postgres` user, as initdb refuses root. Without them the test
skips with the reason (or fails under REVOPS_REQUIRE_ALL=1).
"""

import http.client
import itertools
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg2
import pytest

from bench.common import free_port, stop_process
from leads.models import Contact, IdempotencyRecord, Lead
from sla.models import Breach, Notification, SlaTimer
from tests.conftest import skip_or_fail
from tests.integration.conftest import ROOT, Worker, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

GUNICORN = Path(sys.executable).with_name("gunicorn")
OUTAGE_SECONDS = 5
CLIENTS = 3
PACE = 0.3  # seconds between one client's new requests: ~10 new leads a second in all


def postgres_bindir() -> Path | None:
    """The newest installed server binaries (Debian keeps them off PATH)."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    for bindir in reversed(candidates):
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and Path(initdb).with_name("pg_ctl").exists() else None


class Cluster:
    """A throw-away PostgreSQL cluster on a free port, in a folder of its own."""

    def __init__(self, bindir: Path):
        self.bindir, self.port = bindir, free_port()
        # Not under pytest's tmp_path: its root-only folders are closed to the postgres user.
        self.root = Path(tempfile.mkdtemp(prefix="revops-pg-"))
        self.data, self.log = self.root / "data", self.root / "postgres.log"
        self.as_owner: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self.as_owner = ["runuser", "-u", "postgres", "--"]

    def _run(self, program: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.as_owner, str(self.bindir / program), *args],
            cwd=self.root, capture_output=True, text=True, check=check, timeout=60,
        )  # fmt: skip

    def init(self):
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")

    def start(self):
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root} "
            "-c fsync=off -c full_page_writes=off -c max_connections=50"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "30", "start"
        )

    def stop(self, mode: str = "fast"):
        """fast: what a restart does — sessions are terminated, open transactions roll back."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres"):
        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=database)
        conn.autocommit = True
        return conn

    def destroy(self):
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def cluster():
    bindir = postgres_bindir()
    if bindir is None:
        skip_or_fail("needs the PostgreSQL server binaries (initdb, pg_ctl) to run a cluster of its own")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            skip_or_fail("as root, needs a `postgres` user to run initdb as")
        if not shutil.which("runuser"):
            skip_or_fail("as root, needs runuser to run initdb as the postgres user")
    own = Cluster(bindir)
    try:
        own.init()
        own.start()
        yield own
    finally:
        own.destroy()


SETUP = """
import datetime as dt, json
from django.test import Client
from leads.intake_keys import create_key
from revops.roles import Role
from sla.models import BusinessCalendar, SlaPolicy, WorkingHours
from tests.factories import SourceFactory, TeamFactory, UserFactory

calendar = BusinessCalendar.objects.create(code="24x7", name="24/7", timezone="UTC", holiday_country="")
for weekday in range(7):
    WorkingHours.objects.create(calendar=calendar, weekday=weekday, opens=dt.time(0), closes=dt.time(0))
team = TeamFactory(code="night", name="Night shift", calendar=calendar)
head = UserFactory(username="night_head", role=Role.SALES_HEAD, team=team, email="head@example.ru")
team.head = head
team.save()
UserFactory(username="night_rep", role=Role.REP, team=team, email="rep@example.ru")
SlaPolicy.objects.filter(is_default=True).update(first_contact_seconds=2, reminder_percent=0, escalate_after_seconds=None)
key = create_key(SourceFactory(code="site"), rate_limit_per_minute=None)[1]
browser = Client()
browser.force_login(head)
print(json.dumps({"key": key, "session": browser.cookies["sessionid"].value}))
"""


@pytest.fixture
def system(cluster, redis_server, tmp_path):
    """The database migrated, a 24/7 team, an intake key and a signed-in head;
    gunicorn (3 workers) and a Celery worker with beat, all on the own cluster."""
    conn = cluster.connect()  # not `with conn`: that would open a transaction, autocommit or not
    try:
        conn.cursor().execute("CREATE DATABASE revops")
    finally:
        conn.close()
    env = {
        **{k: v for k, v in os.environ.items() if k != "REVOPS_REQUIRE_ALL"},
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "REVOPS_ENV": "development",
        "DEBUG": "0",
        "DATABASE_URL": cluster.url("revops"),
        "REDIS_URL": redis_server.url,
        "REVOPS_DATA_DIR": str(tmp_path),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SLA_SWEEP_INTERVAL": "1",
        "INTAKE_RATE_LIMIT_PER_IP": str(10**9),  # every client is 127.0.0.1
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "REVOPS_FAST_PASSWORD_HASHER": "1",
        "LOG_LEVEL": "WARNING",
    }
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=120)
    setup = subprocess.run(
        [*manage, "shell", "-c", SETUP],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    )
    secrets = json.loads(setup.stdout.strip().splitlines()[-1])

    port = free_port()
    web_log = tmp_path / "gunicorn.log"
    web = subprocess.Popen(
        [str(GUNICORN), "config.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "3",
         "--error-logfile", str(web_log)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    worker = Worker({**env, "LOG_LEVEL": "INFO"}, tmp_path)
    worker.start()
    try:
        wait_for(
            lambda: get(port, "/healthz")[0] == 200, 60, interval=0.3, message=f"gunicorn (log: {web_log})"
        )
        yield {"port": port, "worker": worker, "web": web, "web_log": web_log, **secrets}
    finally:
        stop_process(web)
        worker.kill()


def get(port: int, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    except (OSError, http.client.HTTPException):
        return 0, {}, b""


def table(model) -> str:
    return model._meta.db_table


def test_a_postgresql_restart_under_load_loses_doubles_and_breaks_nothing(cluster, system):
    port, worker = system["port"], system["worker"]
    numbers = itertools.count()
    answers: dict[int, dict] = {}  # request → its 201 body
    attempts: list[tuple[int, int, dict, bytes]] = []  # (request, status, headers, body) of every try
    lock, stop = threading.Lock(), threading.Event()

    def send(n: int) -> dict:
        body = json.dumps({"name": f"Клиент {n}", "phone": f"+7916{n:07d}", "consent": True}).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Intake-Key": system["key"],
            "Idempotency-Key": f"req-{n}",
        }
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # a site backend: the same key until it has an answer
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("POST", "/api/v1/intake/", body, headers)
                response = conn.getresponse()
                status, payload = response.status, response.read()
                with lock:
                    attempts.append((n, status, {k.lower(): v for k, v in response.getheaders()}, payload))
                if status == 201:
                    return json.loads(payload)
                if status != 503:
                    raise AssertionError(f"request {n} answered {status}: {payload[:300]!r}")
            except (OSError, http.client.HTTPException) as exc:
                with lock:
                    attempts.append((n, 0, {}, repr(exc).encode()))
            time.sleep(0.2)  # sooner than Retry-After asks: more requests meet the outage
        raise AssertionError(f"request {n} never got an answer")

    failures = []

    def client():
        try:
            while not stop.is_set():
                started, n = time.monotonic(), next(numbers)
                answer = send(n)
                with lock:
                    answers[n] = answer
                time.sleep(max(0.0, PACE - (time.monotonic() - started)))
        except AssertionError as exc:
            failures.append(str(exc))

    threads = [threading.Thread(target=client, daemon=True) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    wait_for(lambda: len(answers) >= 15, 30, interval=0.05, message="the first answers")

    # --- PostgreSQL goes away -------------------------------------------------------------
    cluster.stop("fast")
    down_at = time.monotonic()
    health_down = get(port, "/healthz")
    session = {"Cookie": f"sessionid={system['session']}", "Accept-Language": "ru"}
    page_down = get(port, "/leads/", session)
    api_down = get(port, "/api/v1/leads/", session)
    time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_at)))
    cluster.start()
    up_at = time.time()

    wait_for(lambda: get(port, "/healthz")[0] == 200, 30, interval=0.2, message="/healthz to say 200 again")
    page_up = get(port, "/leads/", session)
    time.sleep(3)  # intake carries on after the restart
    stop.set()
    for thread in threads:
        thread.join(70)
    assert not failures, failures[:3]

    # While it was down: 503 with Retry-After everywhere, never 500.
    assert health_down[0] == 503 and json.loads(health_down[2])["status"] == "down"
    assert page_down[0] == 503 and page_down[1]["retry-after"].isdigit(), page_down
    assert page_down[1]["content-type"].startswith("text/html") and b'lang="ru"' in page_down[2]
    assert api_down[0] == 503 and "detail" in json.loads(api_down[2])
    assert page_up[0] == 200
    statuses = {status for _, status, _, _ in attempts}
    print(
        f"{len(answers)} requests, {len(attempts)} tries: "
        f"{sum(status == 503 for _, status, _, _ in attempts)} answered 503 while PostgreSQL was down"
    )
    assert statuses <= {201, 503}, f"unexpected answers: {statuses - {201, 503}} (0 = no answer at all)"
    unavailable = [(headers, body) for _, status, headers, body in attempts if status == 503]
    # Each client kept trying while it was down, or this test proves nothing.
    assert len(unavailable) >= CLIENTS, "the outage must have met intake requests"
    for headers, body in unavailable:
        assert headers["retry-after"].isdigit() and headers["content-type"] == "application/json"
        assert json.loads(body)["detail"]

    # Every request has exactly one lead; retries got the first answer back.
    total = len(answers)
    assert sorted(answers) == list(range(total))
    lead_ids = {body["id"] for body in answers.values()}
    assert len(lead_ids) == total
    db = cluster.connect("revops")
    with db.cursor() as cur:
        cur.execute(f"SELECT id FROM {table(Lead)}")
        assert {row[0] for row in cur.fetchall()} == lead_ids
        cur.execute(f"SELECT count(*) FROM {table(Contact)}")
        assert cur.fetchone()[0] == total
        cur.execute(f"SELECT count(*) FROM {table(IdempotencyRecord)}")
        assert cur.fetchone()[0] == total

    # The worker reconnected by itself: every lead's first-contact timer breaches, once.
    def breached() -> int:
        with db.cursor() as cur:
            cur.execute(f"SELECT count(DISTINCT timer_id) FROM {table(Breach)}")
            return cur.fetchone()[0]

    try:
        wait_for(lambda: breached() == total, 60, interval=0.5, message="every timer's breach")
    except AssertionError:
        pytest.fail(f"{breached()} of {total} timers breached; worker log:\n{worker.tail(60)}")
    assert worker.process.poll() is None, "the worker must have lived through the outage"
    time.sleep(2)  # a few more sweeps change nothing
    with db.cursor() as cur:
        cur.execute(f"SELECT count(*), count(DISTINCT (timer_id, kind)) FROM {table(Breach)}")
        assert cur.fetchone() == (total, total)
        cur.execute(f"SELECT count(*) FROM {table(SlaTimer)} WHERE state = 'breached'")
        assert cur.fetchone()[0] == total
        cur.execute(f"SELECT count(*) FROM {table(Breach)} WHERE created_at > to_timestamp(%s)", [up_at])
        assert cur.fetchone()[0] > 0  # swept after the restart
        cur.execute(
            f"SELECT recipient_id, channel, lead_id, count(*) FROM {table(Notification)} "
            "WHERE kind = 'sla_breach' GROUP BY 1, 2, 3"
        )
        per_person = cur.fetchall()
        # owner and head, in the app and by email: four per breach, each once
        assert len(per_person) == 4 * total and {row[3] for row in per_person} == {1}
    db.close()
