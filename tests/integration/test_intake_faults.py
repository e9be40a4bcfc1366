"""The intake under a real web server that dies: gunicorn against the test
database, clients posting new leads with Idempotency-Keys, the whole server
SIGKILLed mid-load and started again. Every request a client was answered 201
for has its lead; a client that lost its answer and retries with the same key
gets the first answer back, never a second lead."""

import http.client
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bench.common import free_port
from leads.intake_keys import create_key
from leads.models import Assignment, Contact, IdempotencyRecord, Lead
from sla.models import SlaTimer, TimerState
from tests.factories import SourceFactory
from tests.integration.conftest import ROOT, wait_for

pytestmark = pytest.mark.integration

GUNICORN = Path(sys.executable).with_name("gunicorn")


class WebServer:
    """gunicorn with two sync workers, in its own process group (a kill takes
    the master and the workers at once, mid-request)."""

    def __init__(self, env: dict, workdir: Path):
        self.env, self.port = env, free_port()
        self.log = workdir / "gunicorn.log"
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [str(GUNICORN), "config.wsgi:application", "--bind", f"127.0.0.1:{self.port}", "--workers", "2",
             "--error-logfile", str(self.log)],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        wait_for(self.healthy, 30, message=f"gunicorn to answer (log: {self.log})")

    def healthy(self) -> bool:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            conn.request("GET", "/healthz")
            return conn.getresponse().status == 200
        except OSError:
            return False

    def kill(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self.process = None


@pytest.fixture
def web(worker_env, tmp_path):
    env = {
        **worker_env,
        "REVOPS_ENV": "development",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "INTAKE_RATE_LIMIT_PER_IP": str(10**9),  # every client is 127.0.0.1
        "LOG_LEVEL": "WARNING",
    }
    server = WebServer(env, tmp_path)
    server.start()
    yield server
    server.kill()


def test_killing_the_web_server_mid_load_loses_and_doubles_no_lead(around_the_clock_team, web):
    raw_key = create_key(SourceFactory(code="site"), rate_limit_per_minute=None)[1]
    total, clients = 120, 4
    numbers = itertools.count()
    answers: dict[int, tuple[int, dict, bool]] = {}  # request → (status, body, replayed)
    interrupted = []  # requests that lost a connection or got no answer at least once
    lock = threading.Lock()

    def send(n: int):
        body = json.dumps({"name": f"Клиент {n}", "phone": f"+7916{n:07d}", "consent": True}).encode()
        headers = {"Content-Type": "application/json", "X-Intake-Key": raw_key, "Idempotency-Key": f"req-{n}"}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # what a real integration does: retry the same key
            try:
                conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=10)
                conn.request("POST", "/api/v1/intake/", body, headers)
                response = conn.getresponse()
                payload = response.read()
                if response.status < 500:
                    replayed = response.getheader("Idempotent-Replayed") == "true"
                    return response.status, json.loads(payload), replayed
            except (OSError, http.client.HTTPException):
                pass
            with lock:
                interrupted.append(n)
            time.sleep(0.2)
        raise AssertionError(f"request {n} never got an answer")

    def client():
        while (n := next(numbers)) < total:
            answer = send(n)
            with lock:
                answers[n] = answer

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    wait_for(lambda: len(answers) >= total // 4, 30, interval=0.01, message="the first answers")
    web.kill()  # mid-load: requests in flight lose their connection, some after their COMMIT
    time.sleep(0.5)
    web.start()
    for thread in threads:
        thread.join(90)

    assert interrupted, "the kill must have hit requests in flight, or this test proves nothing"
    assert len(answers) == total and {status for status, _, _ in answers.values()} == {201}
    lead_ids = {body["id"] for _, body, _ in answers.values()}
    assert len(lead_ids) == total  # a retry after a lost answer got the first lead back
    assert set(Lead.objects.values_list("pk", flat=True)) == lead_ids  # nothing lost, nothing extra
    assert Contact.objects.count() == total and IdempotencyRecord.objects.count() == total
    # Each lead whole: its owner's assignment and its running first-contact clock.
    assert Assignment.objects.filter(lead_id__in=lead_ids).count() == total
    assert (
        SlaTimer.objects.filter(lead_id__in=lead_ids, kind="first_contact", state=TimerState.RUNNING).count()
        == total
    )
    assert not Lead.objects.filter(owner__isnull=True).exists()
