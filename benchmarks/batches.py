"""Batch handlers vs one-item handlers on the database queue, one worker process.

    .venv/bin/python benchmarks/batches.py --db sqlite --n 20000
    source .services/env && .venv/bin/python benchmarks/batches.py --db mariadb --n 20000

Two workloads, each drained by a fresh worker process running the real runtime:

* ``noop``: the handler does nothing, so the figure is the queue's own cost (claims and
  settlements). One-item: concurrency 300 (three claim batches in flight, as
  benchmarks/dbqueue.py runs). Batch: ``batch_size=100``, concurrency 3 (the same 300
  items in flight; ``--batch-concurrency`` changes it).
* ``write``: the handler stores one row per job in the project's database, as a real
  consumer would. One-item: a sync handler doing ``Model.objects.create`` per job,
  concurrency 8 (the thread pool). Batch: one ``bulk_create`` per batch of 100,
  concurrency 3.

Figures depend on the machine and on what else runs on it; the best of ``--repeat``
runs is kept.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dbqueue import ROOT, clear_jobs, cpu_s, last_json, setup_django

QUEUE = "bench-batches"
BATCH_SIZE = 100
MODES = {  # mode -> (concurrency, batch_size of the task)
    "one-item": (300, None),
    "batch": (3, BATCH_SIZE),
}
WRITE_CONCURRENCY = 8


def run_drain(args: argparse.Namespace) -> None:
    """Drain ``n`` jobs with one workload and mode; print throughput and CPU as JSON."""
    from django_onestep.core.runtime.app import OneStepApp
    from django_onestep.dbqueue.queue import DatabaseQueue
    from testproject.testapp.models import Run

    app = OneStepApp("bench-batches")
    queue = DatabaseQueue(QUEUE, batch_size=BATCH_SIZE, fetch_wait_s=0.2)
    concurrency, batch_size = MODES[args.mode]
    if batch_size is not None:
        concurrency = args.batch_concurrency
    done = {"count": 0, "at": 0.0}

    def count(n: int) -> None:
        done["count"] += n
        if done["count"] >= args.n:
            done["at"] = time.perf_counter()

    if batch_size is None and args.workload == "noop":

        @app.task(source=queue, concurrency=concurrency)
        async def noop(ctx: Any, payload: Any) -> None:
            count(1)

    elif batch_size is None:

        @app.task(source=queue, concurrency=WRITE_CONCURRENCY)
        def write(ctx: Any, payload: Any) -> None:
            Run.objects.create(task="bench", label=str(payload["i"]))
            count(1)

    elif args.workload == "noop":

        @app.task(source=queue, concurrency=concurrency, batch_size=batch_size, batch_within_s=0.05)
        async def noop_batch(ctx: Any, payloads: list[Any]) -> None:
            count(len(payloads))

    else:

        @app.task(source=queue, concurrency=concurrency, batch_size=batch_size, batch_within_s=0.05)
        def write_batch(ctx: Any, payloads: list[Any]) -> None:
            Run.objects.bulk_create([Run(task="bench", label=str(p["i"])) for p in payloads])
            count(len(payloads))

    cpu_before, started = cpu_s(), time.perf_counter()
    asyncio.run(app.serve(until_idle=True))
    elapsed = (done["at"] or time.perf_counter()) - started
    print(
        json.dumps(
            {
                "processed": done["count"],
                "throughput": done["count"] / elapsed,
                "cpu_us_per_task": (cpu_s() - cpu_before) / max(done["count"], 1) * 1e6,
                "rows": Run.objects.filter(task="bench").count(),
            }
        ),
        flush=True,
    )


def drain(db_url: str, args: argparse.Namespace, workload: str, mode: str) -> dict[str, Any]:
    import subprocess

    from django_onestep.dbqueue.queue import DatabaseQueue
    from testproject.testapp.models import Run

    clear_jobs()
    Run.objects.all().delete()
    DatabaseQueue(QUEUE).send_many([{"i": i} for i in range(args.n)])
    cmd = [sys.executable, __file__, "--role", "drain", "--db-url", db_url, "--n", str(args.n),
           "--workload", workload, "--mode", mode,
           "--batch-concurrency", str(args.batch_concurrency)]  # fmt: skip
    result = last_json(subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT))
    if result["processed"] != args.n or (workload == "write" and result["rows"] != args.n):
        raise SystemExit(f"{workload} {mode}: processed {result['processed']}, rows {result['rows']}")
    return result


def bench(args: argparse.Namespace, db_url: str) -> None:
    setup_django(db_url)
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    print(f"# batch handlers on the DatabaseQueue: {args.db} ({connection.vendor}), n={args.n}, "
          f"batch_size={BATCH_SIZE}, batch concurrency={args.batch_concurrency}, best of {args.repeat}")  # fmt: skip
    print(f"{'workload':<8} {'mode':<9} {'tasks/s':>10} {'CPU us/task':>12}  runs")
    for workload in args.workloads.split(","):
        # modes alternate run by run, so a load change on the machine hits both alike
        runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
        for _ in range(args.repeat):
            for mode in MODES:
                runs[mode].append(drain(db_url, args, workload, mode))
        best: dict[str, float] = {}
        for mode, results in runs.items():
            top = max(results, key=lambda r: r["throughput"])
            best[mode] = top["throughput"]
            shown = ", ".join(f"{r['throughput']:,.0f}" for r in results)
            print(
                f"{workload:<8} {mode:<9} {top['throughput']:>10,.0f} {top['cpu_us_per_task']:>12,.1f}  {shown}"
            )
        print(f"{workload:<8} batch / one-item: {best['batch'] / best['one-item']:.2f}x")
    from django.db import connections

    connections.close_all()  # the server database is dropped next


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "mariadb", "postgres"], default="sqlite")
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workloads", default="noop,write", help="comma-separated: noop, write")
    parser.add_argument("--batch-concurrency", type=int, default=3, help="batches in flight")
    parser.add_argument("--role", choices=["drain"], help=argparse.SUPPRESS)
    parser.add_argument("--db-url", help=argparse.SUPPRESS)
    parser.add_argument("--workload", choices=["noop", "write"], help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=list(MODES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role:
        setup_django(args.db_url)
        run_drain(args)
        return
    if args.db == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            bench(args, f"sqlite:///{tmp}/bench.sqlite3")
        return
    env = "ONESTEP_TEST_MYSQL_URL" if args.db == "mariadb" else "ONESTEP_TEST_PG_URL"
    base = os.environ.get(env)
    if not base:
        raise SystemExit(f"--db {args.db} needs {env} (source .services/env)")
    parts = urlsplit(base)
    name = f"bench_batches_{os.getpid()}"
    with _server_database(args.db, parts, name):
        bench(args, urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, "")))


def _execute_on_server(db: str, parts: Any, sql: str) -> None:
    if db == "mariadb":
        import MySQLdb

        conn = MySQLdb.connect(host=parts.hostname, port=parts.port or 3306, user=parts.username or "root",
                               passwd=parts.password or "")  # fmt: skip
    else:
        import psycopg

        conn = psycopg.connect(host=parts.hostname, port=parts.port or 5432,
                               user=parts.username or "postgres", dbname="postgres", autocommit=True)  # fmt: skip
    try:
        conn.cursor().execute(sql)
    finally:
        conn.close()


@contextlib.contextmanager
def _server_database(db: str, parts: Any, name: str) -> Iterator[None]:
    """A fresh database on the MariaDB or PostgreSQL server, dropped afterwards."""
    charset = " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci" if db == "mariadb" else ""
    _execute_on_server(db, parts, f"CREATE DATABASE {name}{charset}")
    try:
        yield
    finally:
        _execute_on_server(db, parts, f"DROP DATABASE {name}")


if __name__ == "__main__":
    main()
