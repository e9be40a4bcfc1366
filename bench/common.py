"""Shared plumbing of the benchmarks: throw-away PostgreSQL databases, a private
redis-server, free ports, percentiles, and a description of the machine.

Nothing here imports Django at module level: each script points the settings at
its own database first (environment variables), then calls `django_setup()`.
"""

import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PG_HOST = os.environ.get("BENCH_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("BENCH_PG_PORT", "5432"))
PG_USER = os.environ.get("BENCH_PG_USER", "postgres")


def fix_sys_path():
    """`python bench/sla.py` puts bench/ first on sys.path, where bench/sla.py
    would shadow the `sla` app: put the project root there instead."""
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve().as_posix() != here]
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


# --- PostgreSQL -------------------------------------------------------------------------------


def database_url(name: str) -> str:
    return f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"


def _admin_connection():
    import psycopg2

    conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres")
    conn.autocommit = True
    return conn


def unique_db_name(prefix: str) -> str:
    return f"{prefix}_{os.getpid()}_{int(time.time())}"


def create_database(name: str) -> None:
    if not re.fullmatch(r"[a-z0-9_]+", name):
        raise ValueError(f"bad database name {name!r}")
    conn = _admin_connection()
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {name}")
    finally:
        conn.close()


def drop_database(name: str) -> None:
    if not re.fullmatch(r"[a-z0-9_]+", name):
        raise ValueError(f"bad database name {name!r}")
    conn = _admin_connection()
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        conn.close()


def release(db: str | None, keep: bool, workdir: Path | None = None) -> None:
    """End of a run: close this process's connections, drop the run's database
    (or say it was kept), remove its temporary folder."""
    close_django_connections()
    if db and not keep:
        drop_database(db)
    elif db:
        print(f"kept database {db}")
    if workdir is not None:
        shutil.rmtree(workdir, ignore_errors=True)


def postgres_version() -> str:
    conn = _admin_connection()
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW server_version")
            return cur.fetchone()[0]
    finally:
        conn.close()


def base_env(db_name: str, **extra) -> dict:
    """The environment of every process of a run (this one included): development
    mode, DEBUG off, the run's own database."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "REVOPS_ENV": "development",
        "DEBUG": "0",
        "SECRET_KEY": "bench-secret-key-not-for-production-0123456789-abcdefghijklmnop",
        "DATABASE_URL": database_url(db_name),
        "LOG_LEVEL": "WARNING",
        "REVOPS_FAST_PASSWORD_HASHER": "1",
    }
    env.pop("REDIS_URL", None)
    env.pop("REVOPS_REQUIRE_ALL", None)
    env.update({k: str(v) for k, v in extra.items() if v is not None})
    return env


def migrate(env: dict) -> float:
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    return time.monotonic() - started


def django_setup(env: dict) -> None:
    """Configure Django in this process with the run's environment."""
    for key in ("DJANGO_SETTINGS_MODULE", "REVOPS_ENV", "DEBUG", "SECRET_KEY", "DATABASE_URL", "LOG_LEVEL"):
        os.environ[key] = env[key]
    for key in (
        "REDIS_URL",
        "ALLOWED_HOSTS",
        "REVOPS_DATA_DIR",
        "REVOPS_FAST_PASSWORD_HASHER",
        "INTAKE_RATE_LIMIT_PER_IP",
    ):
        if key in env:
            os.environ[key] = env[key]
        else:
            os.environ.pop(key, None)
    fix_sys_path()
    import django

    django.setup()


def close_django_connections() -> None:
    try:
        from django.db import connections

        connections.close_all()
    except Exception:  # Django never set up
        pass


# --- processes ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.3):
            return True
    except OSError:
        return False


def stop_process(process: subprocess.Popen | None, timeout: float = 10) -> None:
    """Stop a child started with start_new_session=True: its whole group, TERM then KILL."""
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout)
    except ProcessLookupError:
        pass


class RedisServer:
    """A private redis-server on a free loopback port (never the shared one)."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        binary = shutil.which("redis-server")
        if not binary:
            raise RuntimeError("redis-server is not installed")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
            + ["--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for(self.responds, 10, what="redis-server")
        return self

    def responds(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self):
        stop_process(self.process)
        self.process = None


# --- numbers -----------------------------------------------------------------------------------


def percentile(values, p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


def median(values) -> float:
    return statistics.median(values) if values else float("nan")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


# --- the machine -------------------------------------------------------------------------------


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gib = f"{int(line.split()[1]) / 1024 / 1024:.0f}"
                break
    except OSError:
        pass
    try:
        pg = postgres_version()
    except Exception as exc:
        pg = f"unavailable ({exc.__class__.__name__})"
    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": mem_gib,
        "postgres": pg,
        "python": platform.python_version(),
    }


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def print_machine() -> None:
    m = machine()
    print(
        f"machine: {m['cpus']} CPUs ({m['cpu']}), {m['memory_gib']} GiB RAM, PostgreSQL {m['postgres']}, "
        f"Python {m['python']}; {m['date']}; {load()}"
    )


class LockSampler:
    """Samples pg_stat_activity of one database every `every` seconds on its own
    connection: how many backends are active, how many wait on a lock, and which
    statements they wait in. Shows whether a write path serialises on a lock."""

    def __init__(self, db_name: str, every: float = 0.02):
        import threading

        self.db_name = db_name
        self.every = every
        self.samples = 0
        self.active = 0
        self.waiting = 0
        self.samples_with_wait = 0
        self.waits: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        conn = _admin_connection()
        try:
            with conn.cursor() as cur:
                while not self._stop.wait(self.every):
                    cur.execute(
                        "SELECT state, wait_event_type, wait_event, left(regexp_replace(query, '\\s+', ' ', 'g'), 90) "
                        "FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                        [self.db_name],
                    )
                    rows = cur.fetchall()
                    self.samples += 1
                    active = [r for r in rows if r[0] == "active"]
                    locked = [r for r in active if r[1] == "Lock"]
                    self.active += len(active)
                    self.waiting += len(locked)
                    self.samples_with_wait += bool(locked)
                    for _state, _type, event, query in locked:
                        key = f"{event}: {query}"
                        self.waits[key] = self.waits.get(key, 0) + 1
        finally:
            conn.close()

    def report(self) -> list[str]:
        if not self.samples:
            return ["no samples"]
        lines = [
            f"backends active on average {self.active / self.samples:.2f}, waiting on a lock "
            f"{self.waiting / self.samples:.2f}; ≥1 lock wait in {100 * self.samples_with_wait / self.samples:.0f}% "
            f"of {self.samples} samples"
        ]
        for key, n in sorted(self.waits.items(), key=lambda kv: -kv[1])[:3]:
            lines.append(f"  waits in  {key}  ({n} backend-samples)")
        return lines
