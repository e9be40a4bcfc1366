"""How long `manage.py demo_data --leads 100000` takes on PostgreSQL (target: under
a minute), as a user runs it: a fresh process on a freshly migrated database.

Each repeat is a separate `demo_data --reset` run (the first on an empty database);
printed: wall time per run, the process's CPU time, and the rows written.
Baseline in the same run: `manage.py check` — the cost of starting Django.

    .venv/bin/python -m bench.demo [--leads 100000] [--repeats 2]
"""

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` importable, unshadow the apps
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench import common

TARGET_SECONDS = 60.0


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


def count_rows(db_name: str) -> dict:
    import psycopg2

    tables = ["leads_lead", "leads_contact", "leads_stagechange", "leads_contactattempt", "sla_slatimer"]
    conn = psycopg2.connect(host=common.PG_HOST, port=common.PG_PORT, user=common.PG_USER, dbname=db_name)
    try:
        with conn.cursor() as cur:
            counts = {}
            for table in tables:
                cur.execute(f"SELECT count(*) FROM {table}")  # fixed table names
                counts[table] = cur.fetchone()[0]
            return counts
    finally:
        conn.close()


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--today", default="2026-11-20", help="fixed, so every run builds the same data")
    args = parser.parse_args(argv)

    common.print_machine()
    db_name = common.unique_db_name("revops_bench_demo")
    env = common.base_env(db_name)
    common.create_database(db_name)
    try:
        common.migrate(env)
        baseline, _ = timed(env, "check")
        print(f"baseline: manage.py check {baseline:.2f} s")
        walls = []
        for n in range(args.repeats):
            wall, cpu = timed(
                env, "demo_data", "--leads", str(args.leads), "--today", args.today, "--reset", "--seed", "1"
            )
            walls.append(wall)
            print(
                f"run {n + 1}: demo_data --leads {args.leads:,} {wall:6.2f} s wall, {cpu:6.2f} s CPU  ({common.load()})"
            )
        print("rows:", ", ".join(f"{t} {n:,}" for t, n in count_rows(db_name).items()))
        worst = max(walls)
        print(
            f"target {args.leads:,} leads < {TARGET_SECONDS:.0f} s: {common.verdict(worst < TARGET_SECONDS)} "
            f"(worst {worst:.1f} s, best {min(walls):.1f} s, ratio to baseline {worst / baseline:.0f}×)"
        )
    finally:
        common.drop_database(db_name)


if __name__ == "__main__":
    main()
