"""`make run` for real, in a process group of its own like under a process
manager: SIGTERM or SIGINT to the whole group, or the death of one of its two
servers, stops everything once and within seconds. (Its old shell trap,
`kill 0`, signalled its own group: under a group-wide TERM it looped, the worker
printed "Warm shutdown" thousands of times, and make died of a segmentation fault.)

Linux only (the run's processes are found in /proc by their environment); the
three runs share one data folder, so only the first pays for the migrations.
"""

import contextlib
import http.client
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.common import free_port
from tests.conftest import skip_or_fail
from tests.integration.conftest import ROOT, wait_for

pytestmark = pytest.mark.integration

START_TIMEOUT = 180  # migrations and a small demo company on a fresh SQLite file, on a slow machine
STOP_TIMEOUT = 20  # the worker's warm shutdown included


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    if not shutil.which("make"):
        skip_or_fail("needs make")
    if not Path("/proc/self/environ").exists():
        skip_or_fail("needs Linux's /proc to find the run's processes")
    if sys.prefix == sys.base_prefix:
        skip_or_fail("needs the project's virtual environment (make run's $(VENV))")
    return tmp_path_factory.mktemp("make-run")


class MakeRun:
    """`make run` on a free port against its own data folder (embedded mode:
    SQLite and the folder broker), in a new session and so a group of its own."""

    def __init__(self, data_dir: Path):
        self.data_dir, self.port = data_dir, free_port()
        self.marker = f"REVOPS_DATA_DIR={data_dir}".encode()
        self.log = data_dir / f"make-run-{self.port}.log"
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG", "REVOPS_ENV", "REVOPS_REQUIRE_ALL"}
            # Under `make test` the outer make's flags (its jobserver's descriptors) do not apply.
            and k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}
        }
        env.update(REVOPS_DATA_DIR=str(data_dir), REVOPS_FAST_PASSWORD_HASHER="1", PYTHONUNBUFFERED="1")
        for schedule in data_dir.glob("celerybeat-schedule*"):  # an earlier run's: see wait_until_up
            schedule.unlink()
        venv = Path(sys.prefix)
        self.process = subprocess.Popen(
            # -o: never reinstall the environment in a test, whatever changed in pyproject.toml.
            ["make", "--no-print-directory", "-o", f"{venv}/.installed", "run",
             f"VENV={venv}", f"PORT={self.port}", "DEMO_LEADS=5"],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=open(self.log, "wb"),  # noqa: SIM115
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def get(self, path: str) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read().decode(errors="replace")
        finally:
            conn.close()

    def healthy(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"make run exited with {self.process.returncode}:\n{self.output()[-3000:]}")
        try:
            return self.get("/healthz")[0] == 200
        except OSError:
            return False

    def wait_until_up(self):
        wait_for(self.healthy, START_TIMEOUT, interval=0.5, message="make run's web server")
        # The worker is up once its embedded beat has opened its schedule file.
        wait_for(
            lambda: any(self.data_dir.glob("celerybeat-schedule*")),
            START_TIMEOUT,
            interval=0.5,
            message="make run's worker and beat",
        )

    def pids(self) -> dict[int, str]:
        """Every living process of this run (they all carry its data folder in their environment)."""
        found = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                environ = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
                cmdline = (
                    Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                )
                state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:  # gone meanwhile, or not ours to read
                continue
            if self.marker in environ and state != "Z":
                found[int(entry)] = cmdline.strip()
        return found

    def kill_leftovers(self):
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def assert_everything_stops(self, started: float):
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"make still runs {STOP_TIMEOUT}s later:\n{self.output()[-3000:]}") from None
        wait_for(lambda: not self.pids(), STOP_TIMEOUT, message="every process of the run to exit")
        elapsed = time.monotonic() - started
        output = self.output()
        assert output.count("Warm shutdown") <= 1, output[-3000:]  # the worker was told once
        assert "Segmentation fault" not in output and "core dumped" not in output
        with pytest.raises(OSError):
            self.get("/healthz")
        return elapsed, output


@pytest.fixture
def make_run(data_dir):
    run = MakeRun(data_dir)
    yield run
    if run.process.poll() is None:
        os.killpg(run.process.pid, signal.SIGKILL)
        run.process.wait(10)
    run.kill_leftovers()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_a_signal_to_the_process_group_stops_everything_once(make_run, signum):
    make_run.wait_until_up()
    # make run is the development setup: DEBUG on (Django's own 404 page), and only there.
    status, body = make_run.get("/no-such-page/")
    assert status == 404 and "Using the URLconf defined in" in body
    processes = make_run.pids()
    assert sum("celery" in cmd for cmd in processes.values()) >= 1, processes
    assert sum("runserver" in cmd for cmd in processes.values()) >= 1, processes

    started = time.monotonic()
    os.killpg(make_run.process.pid, signum)  # what a process manager (TERM) or Ctrl-C (INT) does
    elapsed, output = make_run.assert_everything_stops(started)

    assert output.count("Warm shutdown") == 1, output[-3000:]
    # make dies of the same signal, as it should when it was the one signalled.
    assert make_run.process.returncode == -signum, output[-3000:]
    assert elapsed < STOP_TIMEOUT


def test_when_the_worker_dies_the_web_server_stops_too(make_run):
    make_run.wait_until_up()
    worker = next(
        pid for pid, cmd in make_run.pids().items() if "celery" in cmd and os.getpgid(pid) == pid
    )  # the worker's main process leads its group (the beat is its child)
    started = time.monotonic()
    os.killpg(worker, signal.SIGKILL)  # a crash: no shutdown of its own
    _elapsed, output = make_run.assert_everything_stops(started)

    assert "run: the worker exited with -9; both are stopped." in output
    assert make_run.process.returncode == 2, output[-3000:]  # make: the recipe failed
