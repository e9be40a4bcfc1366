"""Real processes for the fault tests: a private redis-server on a free port
(never the shared one) and a Celery worker with embedded beat, sharing the
test database. They need PostgreSQL (an in-memory SQLite test database cannot
be shared with another process) and a redis-server binary; without them the
tests skip with the reason — or fail under REVOPS_REQUIRE_ALL=1."""

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from bench.common import RedisServer  # the benchmarks' private redis-server, shared
from revops.roles import Role
from sla.models import BusinessCalendar, SlaPolicy, WorkingHours
from tests.conftest import skip_or_fail
from tests.factories import TeamFactory, UserFactory

ROOT = Path(__file__).resolve().parents[2]
CELERY = Path(sys.executable).with_name("celery")


def wait_for(predicate, timeout: float, interval: float = 0.2, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


class Worker:
    """`celery worker -B --pool=solo` in its own process group (so a kill takes
    the whole tree), logging to a file the test can read on failure."""

    def __init__(self, env: dict, workdir: Path, name: str = "w1"):
        self.env = env
        self.workdir = workdir
        self.name = name
        self.process = None
        self.log = workdir / f"{name}.log"

    def start(self):
        self.process = subprocess.Popen(
            [
                str(CELERY),
                "-A",
                "config",
                "worker",
                "-B",
                "--pool=solo",
                "--loglevel=INFO",
                "-s",
                str(self.workdir / f"{self.name}-beat-schedule"),
                "--without-gossip",
                "--without-mingle",
                "-n",
                f"{self.name}-{os.getpid()}@%h",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=open(self.log, "ab"),  # noqa: SIM115 - the child owns the handle
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self):
        """SIGKILL: no shutdown, no acknowledgements, no cleanup."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self.process = None

    def tail(self, lines: int = 40) -> str:
        return (
            "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:]) if self.log.exists() else ""
        )


def database_url() -> str:
    s = connection.settings_dict
    user = s.get("USER") or "postgres"
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


@pytest.fixture
def postgres_only(transactional_db):
    if connection.vendor != "postgresql":
        skip_or_fail("needs PostgreSQL: the worker process must share the test database")


@pytest.fixture
def redis_server(tmp_path):
    if not shutil.which("redis-server"):
        skip_or_fail("needs the redis-server binary")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def worker_env(postgres_only, redis_server, tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": redis_server.url,
        "REVOPS_DATA_DIR": str(tmp_path),
        "SLA_SWEEP_INTERVAL": "1",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "LOG_LEVEL": "INFO",
    }
    env.pop("REVOPS_REQUIRE_ALL", None)
    return env


@pytest.fixture
def worker(worker_env, tmp_path):
    w = Worker(worker_env, tmp_path)
    w.start()
    yield w
    w.kill()


@pytest.fixture
def second_worker(worker_env, tmp_path):
    """Another worker with its own embedded beat: two beats, as after a botched deploy."""
    w = Worker(worker_env, tmp_path, name="w2")
    yield w
    w.kill()


@pytest.fixture
def around_the_clock_team(postgres_only):
    """A team on a 24/7 calendar with a 2-second first-contact policy, so the
    tests pass at any hour."""
    calendar = BusinessCalendar.objects.create(code="24x7", name="24/7", timezone="UTC", holiday_country="")
    for weekday in range(7):
        WorkingHours.objects.create(calendar=calendar, weekday=weekday, opens=dt.time(0), closes=dt.time(0))
    team = TeamFactory(code="night", name="Night shift", calendar=calendar)
    head = UserFactory(username="night_head", role=Role.SALES_HEAD, team=team, email="head@example.ru")
    team.head = head
    team.save()
    UserFactory(username="night_rep", role=Role.REP, team=team, email="rep@example.ru")
    SlaPolicy.objects.filter(is_default=True).update(
        first_contact_seconds=2, reminder_percent=0, escalate_after_seconds=None
    )
    return team
