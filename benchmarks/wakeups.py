"""Idle wake-up latency of the DatabaseQueue: how soon an idle worker starts a job that
another process enqueued.

    source .services/env && .venv/bin/python benchmarks/wakeups.py --db postgres
    .venv/bin/python benchmarks/wakeups.py --db sqlite

A producer process sends one job at a time with a pause between them (``--gap-s``,
longer than the idle back-off, so the worker is idle and backed off each time); the
worker (this process, an open ``DatabaseQueue`` with its default polling) fetches it.
Latency is from just before the producer's ``send`` (its connection already open) to
the worker's ``fetch`` returning the job, both on this machine's clock. On PostgreSQL
the enqueue's NOTIFY wakes the worker; elsewhere it finds the job at its next idle
poll (up to ``max_idle_poll_s``: 50 ms, or ``--max-idle-poll-s``). Prints p50, p90 and max in milliseconds.

The database is a fresh temporary one (an SQLite file in /tmp, or a
``bench_onestep_<pid>`` database on the server of ``ONESTEP_TEST_PG_URL`` /
``ONESTEP_TEST_MYSQL_URL``), migrated, dropped after.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
QUEUE = "wakeups"


def setup_django(db_url: str) -> None:
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testproject.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def run_producer(args: argparse.Namespace) -> None:
    from django.db import connection

    from django_onestep.dbqueue.queue import DatabaseQueue

    connection.ensure_connection()
    queue = DatabaseQueue(QUEUE)
    for _ in range(args.n):
        time.sleep(args.gap_s)
        queue.send({"sent_at": time.time()})


async def measure(args: argparse.Namespace) -> list[float]:
    from django_onestep.dbqueue.queue import DatabaseQueue

    queue = DatabaseQueue(QUEUE, fetch_wait_s=5.0, max_idle_poll_s=args.max_idle_poll_s)
    await queue.open()
    latencies: list[float] = []
    try:
        while len(latencies) < args.n:
            for delivery in await queue.fetch(1):
                latencies.append(time.time() - delivery.payload["sent_at"])
                await delivery.ack()
    finally:
        await queue.close()
    return latencies


def bench(args: argparse.Namespace, db_url: str) -> None:
    setup_django(db_url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    producer = subprocess.Popen(
        [sys.executable, __file__, "--role", "producer", "--db-url", db_url, "--n", str(args.n),
         "--gap-s", str(args.gap_s)],
    )  # fmt: skip
    try:
        latencies_ms = sorted(x * 1000 for x in asyncio.run(measure(args)))
    finally:
        producer.wait(timeout=60)
    p50 = statistics.median(latencies_ms)
    p90 = latencies_ms[int(len(latencies_ms) * 0.9) - 1]
    print(f"{args.db}: idle wake-up over {len(latencies_ms)} jobs, {args.gap_s:g} s apart, idle poll "
          f"<= {args.max_idle_poll_s * 1000:g} ms ({1 / args.max_idle_poll_s:g} probes/s per idle queue): "
          f"p50 {p50:.1f} ms, p90 {p90:.1f} ms, max {latencies_ms[-1]:.1f} ms")  # fmt: skip


def server_database(args: argparse.Namespace) -> Any:
    """Create ``bench_onestep_<pid>`` on the test server; yield its URL; drop it."""
    var = "ONESTEP_TEST_PG_URL" if args.db == "postgres" else "ONESTEP_TEST_MYSQL_URL"
    base = os.environ.get(var)
    if not base:
        raise SystemExit(f"--db {args.db} needs {var} (source .services/env)")
    parts = urlsplit(base)
    name = f"bench_onestep_{os.getpid()}"
    if args.db == "postgres":
        import psycopg

        admin: Any = psycopg.connect(
            host=parts.hostname, port=parts.port, user=parts.username, dbname="postgres", autocommit=True
        )
    else:
        import MySQLdb

        admin = MySQLdb.connect(host=parts.hostname, port=parts.port or 3306, user=parts.username or "root",
                                passwd=parts.password or "")  # fmt: skip
    admin.cursor().execute(f"CREATE DATABASE {name}")
    try:
        yield urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))
    finally:
        if args.db == "postgres":
            admin.cursor().execute(f"DROP DATABASE {name} WITH (FORCE)")
        else:
            admin.cursor().execute(f"DROP DATABASE {name}")
        admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "mariadb", "postgres"], default="postgres")
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--gap-s", type=float, default=1.5)
    parser.add_argument(
        "--max-idle-poll-s", type=float, default=0.25, help="the idle poll's ceiling (DatabaseQueue option)"
    )
    parser.add_argument("--role", choices=["producer"], help=argparse.SUPPRESS)
    parser.add_argument("--db-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role:
        setup_django(args.db_url)
        run_producer(args)
        return
    if args.db == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            bench(args, f"sqlite:///{tmp}/bench.sqlite3")
        return
    for db_url in server_database(args):
        bench(args, db_url)


if __name__ == "__main__":
    main()
