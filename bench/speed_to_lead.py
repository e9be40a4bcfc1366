"""Speed to lead where the rep sees it, and what keeping people up to date costs.

1. Latency: a rep signed in in Chromium with /queue/ open; leads posted to
   POST /api/v1/intake/ at a steady rate (one every --interval s). For each lead:
   the time from its 201 to its row in the rep's open queue, without a reload
   (median, p95, max). Target (issue #14): p95 ≤ 3 s.
2. Cost: --reps signed-in reps with their queue open and nothing happening, as
   HTTP clients doing what the page does: GET /leads/updates/ every 2 s with
   If-None-Match (answered 304). Measured: requests/s, latency, and the CPU of
   the gunicorn processes per signed-in rep. Baseline in the same run, same reps:
   what the pages did before (the bell every 15 s and the queue rows every 30 s).

Everything runs on one machine: a fresh PostgreSQL database, a private
redis-server, gunicorn (3 sync workers), Chromium and the client threads.

    .venv/bin/python -m bench.speed_to_lead [--leads 30] [--interval 2] [--reps 100] [--duration 30]
"""

import argparse
import contextlib
import http.client
import json
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` importable, unshadow the apps
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench import common
from bench.intake import create_fixtures, intake_body, start_gunicorn

UPDATES = "/leads/updates/"
POLL_EVERY = 2.0  # static/js/app.js VISIBLE_EVERY
OLD_PATTERN = [("/notifications/badge/", 15.0), ("/queue/?partial=1", 30.0)]  # before issue #14
QUEUE_OPEN_LEADS = 10  # open leads in each simulated rep's queue

# In the page: note when each lead's row first shows up in the queue (epoch ms).
WATCH_ROWS_JS = r"""
window.__seen = {};
setInterval(function () {
  document.querySelectorAll('#queue-rows a[href*="/leads/"]').forEach(function (link) {
    const match = link.getAttribute("href").match(/\/leads\/(\d+)\//);
    if (match && !(match[1] in window.__seen)) window.__seen[match[1]] = Date.now();
  });
}, 20);
"""


# --- set-up ------------------------------------------------------------------------------------


def make_reps(count: int) -> list[str]:
    """`count` more reps in the bench team, each with QUEUE_OPEN_LEADS open leads and a
    signed-in session; returns their session cookies."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from leads.models import Lead
    from revops.models import Team, User
    from revops.roles import Role
    from tests.factories import LeadFactory  # the test suite's factories: plain ORM rows, no clock

    team = Team.objects.get(code="bench")
    cookies = []
    for k in range(count):
        rep = User.objects.create_user(f"idle_rep{k + 1}", "", "x", role=Role.REP, team=team)
        LeadFactory.create_batch(QUEUE_OPEN_LEADS, owner=rep, team=team)
        session = SessionStore()
        session[SESSION_KEY] = str(rep.pk)
        session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]  # the model backend signs in
        session[HASH_SESSION_KEY] = rep.get_session_auth_hash()
        session.create()
        cookies.append(session.session_key)
    print(f"  {count} idle reps, {Lead.objects.count()} leads")
    return cookies


def gunicorn_cpu_seconds(master_pid: int) -> float:
    """User + system CPU of the gunicorn master and its workers so far."""
    tick = os.sysconf("SC_CLK_TCK")
    pids = [master_pid]
    with contextlib.suppress(OSError):  # the master has gone: its own figure only
        pids += [int(p) for p in Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()]
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / tick


# --- 1. latency in the browser -----------------------------------------------------------------


def post_lead(port: int, key: str, n: int) -> tuple[int, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(
        "POST",
        "/api/v1/intake/",
        body=intake_body(n),
        headers={"Content-Type": "application/json", "X-Intake-Key": key},
    )
    response = conn.getresponse()
    answered = time.time()
    body = response.read()
    conn.close()
    if response.status != 201:
        raise RuntimeError(f"intake answered {response.status}: {body[:200]!r}")
    return json.loads(body)["id"], answered


def browser_latency(port: int, key: str, leads: int, interval: float) -> dict:
    from playwright.sync_api import sync_playwright

    base = f"http://127.0.0.1:{port}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(locale="ru-RU")
        page.goto(f"{base}/login/")
        page.fill("#id_username", "bench_rep")
        page.fill("#id_password", "x")
        page.locator("main form button[type=submit]").click()
        page.wait_for_url(re.compile(r"/queue/"))
        page.evaluate(WATCH_ROWS_JS)
        page.evaluate("window.__sameDocument = true")
        page.wait_for_timeout(3000)  # the page's first poll has its version
        answered = {}
        started = time.monotonic()
        for n in range(leads):
            lead_id, at = post_lead(port, key, 10_000 + n)
            answered[str(lead_id)] = at
            pause = started + (n + 1) * interval - time.monotonic()
            if pause > 0:
                page.wait_for_timeout(pause * 1000)  # lets Playwright pump its events meanwhile
        page.wait_for_timeout(6000)
        seen = page.evaluate("window.__seen")
        same_document = page.evaluate("window.__sameDocument === true")
        browser.close()
    delays = [seen[i] / 1000 - at for i, at in answered.items() if i in seen]
    return {"posted": len(answered), "seen": len(delays), "delays": delays, "same_document": same_document}


# --- 2. cost of keeping idle reps up to date -----------------------------------------------------


def idle_clients(port: int, cookies: list[str], pattern: list[tuple[str, float]], duration: float) -> dict:
    """Each cookie is a rep whose page requests `pattern` (path, every seconds), staggered."""
    stop = time.monotonic() + duration
    lock = threading.Lock()
    statuses: dict[int, int] = {}
    latencies: list[float] = []

    def rep(index: int, cookie: str):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        etag = None
        start = time.monotonic()
        due = {path: start + index / len(cookies) * every for path, every in pattern}  # staggered
        while True:
            path, at = min(due.items(), key=lambda item: item[1])
            if at > stop:
                break
            time.sleep(max(0.0, at - time.monotonic()))
            headers = {"Cookie": f"sessionid={cookie}", "Accept-Language": "ru"}
            if path == UPDATES and etag:
                headers["If-None-Match"] = etag
            if path.startswith("/queue/"):
                headers["HX-Request"] = "true"
            t = time.monotonic()
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
                if path == UPDATES and response.getheader("ETag"):
                    etag = response.getheader("ETag")
            except OSError:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                status = 0
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                latencies.append(time.monotonic() - t)
            due[path] = at + dict(pattern)[path]
        conn.close()

    threads = [threading.Thread(target=rep, args=(i, c), daemon=True) for i, c in enumerate(cookies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"statuses": statuses, "latencies": latencies}


def measure_idle(gunicorn_pid: int, port: int, cookies, pattern, duration: float) -> dict:
    cpu_before = gunicorn_cpu_seconds(gunicorn_pid)
    result = idle_clients(port, cookies, pattern, duration)
    wall = duration  # every client's schedule spans the whole phase
    cpu = gunicorn_cpu_seconds(gunicorn_pid) - cpu_before
    requests = sum(result["statuses"].values())
    return {
        **result,
        "rate": requests / wall,
        "cpu_share": cpu / wall,  # cores busy in gunicorn
        "cpu_per_rep_ms_per_s": cpu / wall / len(cookies) * 1000,
    }


def idle_line(name: str, m: dict, reps: int) -> str:
    lat = m["latencies"]
    return (
        f"{name:<26} {m['rate']:7.1f} req/s  p50 {common.percentile(lat, 50) * 1000:6.1f} ms  "
        f"p95 {common.percentile(lat, 95) * 1000:6.1f} ms  gunicorn CPU {m['cpu_share'] * 100:5.1f} % of a core "
        f"= {m['cpu_per_rep_ms_per_s']:.2f} ms CPU/s per rep ({reps} reps)  statuses {m['statuses']}"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--leads", type=int, default=30, help="leads posted while the rep watches")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between leads")
    parser.add_argument("--reps", type=int, default=100, help="idle signed-in reps for the cost phase")
    parser.add_argument(
        "--duration", type=float, default=60, help="seconds per cost phase (at least the old 30-s cycle)"
    )
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args(argv)
    args.worker_class, args.threads = "sync", 1

    common.print_machine()
    db = common.unique_db_name("revops_bench_speed")
    workdir = Path(tempfile.mkdtemp(prefix="revops-bench-speed-"))
    redis = gunicorn = None
    try:
        common.create_database(db)
        redis = common.RedisServer(workdir).start()
        env = common.base_env(
            db,
            ALLOWED_HOSTS="127.0.0.1",
            REVOPS_DATA_DIR=workdir,
            REDIS_URL=redis.url,
            INTAKE_RATE_LIMIT_PER_IP=10**9,
        )
        print(f"database {db}: migrating …", flush=True)
        print(f"  migrated in {common.migrate(env):.1f} s")
        common.django_setup(env)
        key = create_fixtures(reps=1)
        from revops.models import User

        User.objects.filter(username="bench_rep").update(first_name="Олег")
        cookies = make_reps(args.reps)
        # Leads go to the watched rep only: the idle reps take no new leads.
        User.objects.filter(username__startswith="idle_rep").update(accepts_leads=False)
        common.close_django_connections()

        port = common.free_port()
        gunicorn = start_gunicorn(env, port, args, workdir / "gunicorn.log")
        print(
            f"gunicorn {args.workers} × sync on 127.0.0.1:{port}, private redis; Chromium {args.leads} leads"
        )

        latency = browser_latency(port, key, args.leads, args.interval)
        delays = latency["delays"]
        print("\n=== speed to lead (201 → row in the rep's open queue, no reload) ===")
        print(
            f"leads posted {latency['posted']}, seen {latency['seen']}, same document: {latency['same_document']}"
        )
        if delays:
            p95 = common.percentile(delays, 95)
            print(
                f"median {common.median(delays):.2f} s   p95 {p95:.2f} s   max {max(delays):.2f} s   "
                f"(target p95 ≤ 3 s: {common.verdict(p95 <= 3)})"
            )

        print(
            f"\n=== cost of keeping {args.reps} idle signed-in reps up to date ({args.duration:.0f} s each) ==="
        )
        new = measure_idle(gunicorn.pid, port, cookies, [(UPDATES, POLL_EVERY)], args.duration)
        old = measure_idle(gunicorn.pid, port, cookies, OLD_PATTERN, args.duration)
        print(idle_line("now: updates every 2 s", new, args.reps))
        print(idle_line("before: bell 15 s, queue 30 s", old, args.reps))
        if old["cpu_share"]:
            print(f"CPU now / before: {new['cpu_share'] / old['cpu_share']:.2f}")
        print(f"during the run: {common.load()} (other work on the machine counts too)")
    finally:
        common.stop_process(gunicorn)
        if redis:
            redis.stop()
        common.release(db, args.keep_db, workdir)


if __name__ == "__main__":
    main()
