"""The database queue as its table grows: drain rate and claim latency with an empty
table, then with 1,000,000 queued jobs of another queue and 5,000,000 done rows, then
while done rows are pruned.

    .venv/bin/python benchmarks/growth.py --db sqlite
    .venv/bin/python benchmarks/growth.py --db sqlite --memory-n 1000000
    source .services/env && .venv/bin/python benchmarks/growth.py --db postgres

The rows are written by one ``INSERT ... SELECT`` over a generated series (no Python
loop), so filling takes about a minute. Each drain is ``benchmarks/dbqueue.py``'s
worker process (the real runtime, telemetry on, concurrency 16). The claim latency is
the time of one ``fetch(100)`` of 100 due jobs, measured in this process 30 times.
The database is a fresh temporary one, dropped after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
QUEUE = "bench"  # the queue benchmarks/dbqueue.py's worker drains

COLUMNS = (
    "queue, status, priority, payload, meta, attempts, reclaims, available_at, created_at, "
    "updated_at, finished_at, last_error"
)


def fill(queued: int, done: int) -> float:
    """Insert ``queued`` jobs of queue 'backlog' and ``done`` finished jobs of the
    benchmark queue (finished 30 days ago: all prunable); return the seconds it took."""
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        for queue, status, count in (("backlog", "queued", queued), (QUEUE, "done", done)):
            if connection.vendor == "postgresql":
                ago = "now() - interval '30 days'"
                finished = ago if status == "done" else "NULL"
                cursor.execute(
                    f"INSERT INTO django_onestep_job ({COLUMNS}) SELECT %s, %s, 0, '{{}}'::jsonb, "
                    f"'{{}}'::jsonb, 1, 0, {ago}, {ago}, {ago}, {finished}, '' FROM generate_series(1, %s)",
                    [queue, status, count],
                )
            else:  # SQLite stores datetimes as ISO text
                ago = "strftime('%Y-%m-%d %H:%M:%f', 'now', '-30 days')"
                finished = ago if status == "done" else "NULL"
                cursor.execute(
                    f"WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < %s) "
                    f"INSERT INTO django_onestep_job ({COLUMNS}) SELECT %s, %s, 0, '{{}}', '{{}}', 1, 0, "
                    f"{ago}, {ago}, {ago}, {finished}, '' FROM s",
                    [count, queue, status],
                )
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE django_onestep_job")
        else:
            cursor.execute("ANALYZE")
    return time.perf_counter() - started


def claim_latency_ms(samples: int = 30, *, pruning: bool = False) -> tuple[float, float]:
    """p50 / max of one ``fetch(100)`` with 100+ due jobs, acked after each; with
    ``pruning``, while the queue's own prune job (what its worker runs each minute: 20
    batches of 1,000) runs back to back on its write thread."""
    from django_onestep.dbqueue.queue import DatabaseQueue

    DatabaseQueue(QUEUE).send_many([{"i": i} for i in range(samples * 100)])

    async def measure() -> list[float]:
        queue = DatabaseQueue(QUEUE, prefetch=0, done_retention_s=1.0)
        timings: list[float] = []
        await queue.open()
        pruner = asyncio.create_task(prune_forever(queue)) if pruning else None
        try:
            for _ in range(samples):
                started = time.perf_counter()
                deliveries = await queue.fetch(100)
                timings.append((time.perf_counter() - started) * 1000)
                for delivery in deliveries:
                    await delivery.ack()
        finally:
            if pruner is not None:
                pruner.cancel()
            await queue.close()
        return timings

    async def prune_forever(queue: DatabaseQueue) -> None:
        while True:
            thread = queue.write_thread
            assert thread is not None
            await thread.run(queue.prune_sync)

    timings = sorted(asyncio.run(measure()))
    return statistics.median(timings), timings[-1]


def drain(db_url: str, n: int) -> dict[str, Any]:
    from django_onestep.dbqueue.queue import DatabaseQueue

    for start in range(0, n, 100_000):
        DatabaseQueue(QUEUE).send_many([{"i": i} for i in range(start, min(n, start + 100_000))])
    cmd = [sys.executable, str(ROOT / "benchmarks" / "dbqueue.py"), "--role", "drain", "--db-url", db_url,
           "--n", str(n), "--concurrency", "16", "--batch-size", "100", "--telemetry"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def prune_while(stop: threading.Event, deleted: list[int]) -> None:
    """Prune done rows (retention 0 s: every done row is due) in the worker's batches."""
    from django.db import connection

    from django_onestep.dbqueue import maintenance

    try:
        while not stop.is_set():
            count = maintenance.prune_done("default", QUEUE, 1.0, max_batches=20, batch_size=1000)
            deleted.append(count)
            if count == 0:
                time.sleep(0.05)
    finally:
        connection.close()


def bench(args: argparse.Namespace, db_url: str) -> None:
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testproject.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if args.memory_n:
        small, large = drain(db_url, args.n), drain(db_url, args.memory_n)
        print(f"worker peak RSS: {small['rss_mb']:.0f} MB over {args.n:,} jobs, {large['rss_mb']:.0f} MB over "
              f"{args.memory_n:,} jobs ({large['throughput']:,.0f} tasks/s)")  # fmt: skip
        return
    print(f"# {args.db}: n={args.n}, then {args.queued:,} queued + {args.done:,} done rows")
    empty = drain(db_url, args.n)
    empty_claim = claim_latency_ms()
    print(f"empty table:      drain {empty['throughput']:8,.0f} tasks/s, {empty['cpu_us_per_task']:.0f} us CPU/task; "
          f"claim of 100 p50 {empty_claim[0]:.2f} ms (max {empty_claim[1]:.2f})")  # fmt: skip
    print(f"filled in {fill(args.queued, args.done):.0f} s")
    full = drain(db_url, args.n)
    full_claim = claim_latency_ms()
    ratio = full["throughput"] / empty["throughput"]
    print(f"{args.queued + args.done:,} rows: drain {full['throughput']:8,.0f} tasks/s ({ratio:.0%} of empty), "
          f"{full['cpu_us_per_task']:.0f} us CPU/task; claim of 100 p50 {full_claim[0]:.2f} ms "
          f"(max {full_claim[1]:.2f})")  # fmt: skip
    pruning_claim = claim_latency_ms(pruning=True)
    stop, deleted = threading.Event(), []
    pruner = threading.Thread(target=prune_while, args=(stop, deleted))
    pruner.start()
    try:
        pruning = drain(db_url, args.n)
    finally:
        stop.set()
        pruner.join()
    print(f"while pruning:    drain {pruning['throughput']:8,.0f} tasks/s with another thread deleting done "
          f"rows as fast as it can ({sum(deleted):,} deleted meanwhile)")  # fmt: skip
    print(f"                  claim of 100 p50 {pruning_claim[0]:.2f} ms (max {pruning_claim[1]:.2f}) while the "
          f"queue's own prune job runs back to back on its write thread")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--n", type=int, default=20000, help="jobs per drain")
    parser.add_argument("--queued", type=int, default=1_000_000)
    parser.add_argument("--done", type=int, default=5_000_000)
    parser.add_argument(
        "--memory-n",
        type=int,
        default=0,
        help="only compare the worker's peak RSS over --n and this many jobs",
    )
    args = parser.parse_args()
    if args.db == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            bench(args, f"sqlite:///{tmp}/bench.sqlite3")
        return
    base = os.environ.get("ONESTEP_TEST_PG_URL")
    if not base:
        raise SystemExit("--db postgres needs ONESTEP_TEST_PG_URL (source .services/env)")
    import psycopg

    parts, name = urlsplit(base), f"bench_growth_{os.getpid()}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
    try:
        bench(args, urlunsplit((parts.scheme, parts.netloc, "/" + name, "", "")))
    finally:
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
