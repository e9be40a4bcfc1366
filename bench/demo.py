"""How long the default demo company takes — `manage.py demo_data` with its 3,000
leads, each taken in by the product's intake and told through its rules (target:
under 60 s, as `make run` runs it on a fresh clone) — as a user runs it: a fresh
process on a freshly migrated database, SQLite (the embedded default of `make
run`) and PostgreSQL.

Each repeat is a separate run: the first on the empty database, the next ones
`--reset` (replacing the demo's leads). Printed: wall time per run, the process's
CPU time, the rows written. Baseline in the same run: `manage.py check` — the cost
of starting Django. (A million rows for the other benchmarks come from
bench/sla.py's `build()`, in SQL: the demo is not a bulk loader.)

    .venv/bin/python -m bench.demo [--leads 3000] [--repeats 2] [--db sqlite,postgres]
"""

import argparse
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` importable, unshadow the apps
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench import common

TARGET_SECONDS = 60.0
TABLES = [
    "leads_lead",
    "leads_contact",
    "leads_stagechange",
    "leads_contactattempt",
    "sla_slatimer",
    "sla_breach",
]


def timed(env: dict, *args: str) -> tuple[float, float]:
    """Wall and CPU (user + system of the child) seconds of one manage.py run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "manage.py", *args], cwd=common.ROOT, env=env, check=True, stdout=subprocess.DEVNULL
    )
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def count_rows(kind: str, target: str) -> dict:
    if kind == "sqlite":
        conn = sqlite3.connect(target)
        try:
            return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}  # fixed names
        finally:
            conn.close()
    import psycopg2

    conn = psycopg2.connect(host=common.PG_HOST, port=common.PG_PORT, user=common.PG_USER, dbname=target)
    try:
        with conn.cursor() as cur:
            counts = {}
            for table in TABLES:
                cur.execute(f"SELECT count(*) FROM {table}")  # fixed table names
                counts[table] = cur.fetchone()[0]
            return counts
    finally:
        conn.close()


def measure(kind: str, env: dict, target: str, args) -> float:
    common.migrate(env)
    baseline, _ = timed(env, "check")
    print(f"[{kind}] baseline: manage.py check {baseline:.2f} s")
    walls = []
    for n in range(args.repeats):
        extra = ("--reset",) if n else ()
        wall, cpu = timed(
            env, "demo_data", "--leads", str(args.leads), "--today", args.today, "--seed", "1", *extra
        )
        walls.append(wall)
        what = "reset" if n else "empty database"
        print(f"[{kind}] run {n + 1} ({what}): {wall:6.2f} s wall, {cpu:6.2f} s CPU  ({common.load()})")
    print(f"[{kind}] rows:", ", ".join(f"{t} {n:,}" for t, n in count_rows(kind, target).items()))
    worst = max(walls)
    print(
        f"[{kind}] target {args.leads:,} leads < {TARGET_SECONDS:.0f} s: {common.verdict(worst < TARGET_SECONDS)} "
        f"(worst {worst:.1f} s, best {min(walls):.1f} s, ratio to baseline {worst / baseline:.0f}×)"
    )
    return worst


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--leads", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--today", default="2026-11-20", help="fixed, so every run builds the same data")
    parser.add_argument("--db", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    args = parser.parse_args(argv)

    common.print_machine()
    kinds = [k.strip() for k in args.db.split(",") if k.strip()]
    if "sqlite" in kinds:
        with tempfile.TemporaryDirectory(prefix="revops_bench_demo_") as tmp:
            path = str(Path(tmp) / "demo.sqlite3")
            env = common.base_env("unused")
            env["DATABASE_URL"] = f"sqlite:///{path}"
            measure("sqlite", env, path, args)
    if "postgres" in kinds:
        db_name = common.unique_db_name("revops_bench_demo")
        common.create_database(db_name)
        try:
            measure("postgres", common.base_env(db_name), db_name, args)
        finally:
            common.drop_database(db_name)


if __name__ == "__main__":
    main()
